package accounting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bras-project/bras/internal/timerq"
)

// SessionInfo is what the LNS knows of a session when IPCP comes up.
// The identity fields of Record are copied into every record of the
// session; its Kind, Seq, Time, counters and Cause are ignored.
type SessionInfo struct {
	Record
	// Interim is the Acct-Interim-Interval from RADIUS (RFC 2869 section
	// 5.16); 0 means the accountant's default.
	Interim time.Duration
	// Counters reads the session's counters at interim time. It is called
	// from the accountant's goroutine and must not block (atomic loads).
	Counters func() Counters
}

// AccountantConfig configures NewAccountant.
type AccountantConfig struct {
	SpoolDir string          // required: one spool per sink below it
	Sinks    map[string]Sink // required: the name is the sink's spool directory
	Node     string
	Logger   *slog.Logger
	// Interim is the default interim interval (5 minutes if zero);
	// negative disables interims unless a session sets its own.
	Interim time.Duration
	// Jitter spreads each session's first interim over the last Jitter
	// fraction of the interval (0.25 if zero) so sessions started together
	// (after a reboot) do not report together.
	Jitter     float64
	BatchSize  int           // records per sink write, 1000 if zero
	QueueLimit int           // events held in memory before dropping, 1<<20 if zero
	RetryMin   time.Duration // first retry delay after a sink error, 500ms if zero
	RetryMax   time.Duration // cap of the doubling retry delay, 10s if zero
	SegmentMax int64         // spool segment size, 8 MiB if zero
	// CommitDelay is how long the records of sessions starting and
	// stopping close together are gathered into one spool write and one
	// fsync per sink (group commit): 10 ms if zero, none if negative.
	// Nothing on the session path waits for it.
	CommitDelay time.Duration
	Now         func() time.Time
}

// Stats are the accountant's counters.
type Stats struct {
	Sessions     int    // sessions being accounted
	Records      uint64 // records made (Start, Interim, Stop)
	Spooled      uint64 // records made durable in the spools (summed over sinks)
	Delivered    uint64 // records taken by sinks (all sinks summed)
	SinkErrors   uint64 // failed sink writes (retried)
	SpoolErrors  uint64 // failed spool appends (retried; records kept in memory)
	SpoolFull    uint64 // of those, disk full
	Dropped      uint64 // events refused because the in-memory queue was full
	Unknown      uint64 // Stop/SetInterim for a session not being accounted
	SpoolWrites  uint64 // spool appends, one write and one fsync each (summed over sinks)
	SpoolPending int64  // bytes not yet taken by the slowest sink
}

// Accountant turns session events into accounting records: Start when
// IPCP is up, Interim-Update on each session's interval from a single
// timer heap (no timer or goroutine per session), Stop with the final
// counters. Records are appended to a durable spool per sink before
// anything else happens to them, then delivered in order, in batches, with
// retries; nothing on the session path waits for a database.
type Accountant struct {
	cfg    AccountantConfig
	log    *slog.Logger
	spools map[string]*Spool
	names  []string

	mu     sync.Mutex
	events []event
	wake   chan struct{}

	// the spool backlog of the last run, per sink, and whether each sink
	// has caught up with it
	replayTarget map[string]Cursor
	replayLeft   int
	replayed     chan struct{}

	// owned by the run loop
	sessions map[string]*acctSession
	due      timerq.Queue[*acctSession]
	pending  map[string][]Record // per sink, not yet in its spool

	enqueued, handled                        atomic.Uint64
	records, spooled, delivered, sinkErrors  atomic.Uint64
	spoolErrors, spoolFull, dropped, unknown atomic.Uint64
	spoolWrites                              atomic.Uint64
	active                                   atomic.Int64
	lastSpoolErr                             atomic.Pointer[error]
	bySink                                   map[string]*sinkCounts // fixed after NewAccountant
}

// sinkCounts are one sink's records by kind (index Kind-1): made durable
// in its spool, and taken by the sink.
type sinkCounts struct {
	spooled, delivered [3]atomic.Uint64
}

// RecordCount is how many records of one kind a sink's spool took and
// the sink itself took.
type RecordCount struct {
	Sink               string
	Kind               Kind
	Spooled, Delivered uint64
}

// RecordCounts returns the records by sink and kind (Start, Interim,
// Stop), sorted by sink.
func (a *Accountant) RecordCounts() []RecordCount {
	out := make([]RecordCount, 0, 3*len(a.names))
	for _, name := range a.names {
		c := a.bySink[name]
		for _, k := range []Kind{Start, Interim, Stop} {
			out = append(out, RecordCount{Sink: name, Kind: k, Spooled: c.spooled[k-1].Load(), Delivered: c.delivered[k-1].Load()})
		}
	}
	return out
}

// countKinds adds recs to c by kind.
func countKinds(c *[3]atomic.Uint64, recs []Record) {
	var n [3]uint64
	for i := range recs {
		if k := recs[i].Kind; k >= Start && k <= Interim {
			n[k-1]++
		}
	}
	for i, v := range n {
		if v > 0 {
			c[i].Add(v)
		}
	}
}

type eventKind uint8

const (
	evStarted eventKind = iota + 1
	evStopped
	evInterim
	evIPv6
)

type event struct {
	kind  eventKind
	at    time.Time
	info  SessionInfo
	id    string
	final Counters
	cause uint32
	every time.Duration
	ipv6  IPv6Info
}

// IPv6Info is what a dual-stack session got of IPv6 (the record's fields
// of that name).
type IPv6Info struct {
	Prefix, Delegated netip.Prefix
	Address           netip.Addr
	InterfaceID       uint64 // the subscriber's (Framed-Interface-Id, RFC 3162 section 2.1)
}

type acctSession struct {
	rec      Record
	seq      uint32
	every    time.Duration
	timer    timerq.Timer // next interim, in the accountant's queue
	counters func() Counters
}

// NewAccountant opens the spools.
func NewAccountant(cfg AccountantConfig) (*Accountant, error) {
	if cfg.SpoolDir == "" {
		return nil, errors.New("accounting: accountant needs a spool directory")
	}
	if len(cfg.Sinks) == 0 {
		return nil, errors.New("accounting: accountant needs at least one sink")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interim == 0 {
		cfg.Interim = 5 * time.Minute
	}
	if cfg.Jitter <= 0 || cfg.Jitter > 1 {
		cfg.Jitter = 0.25
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = 1 << 20
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 500 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 10 * time.Second
	}
	if cfg.CommitDelay == 0 {
		cfg.CommitDelay = 10 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Accountant{cfg: cfg, log: cfg.Logger, spools: map[string]*Spool{}, wake: make(chan struct{}, 1),
		sessions: map[string]*acctSession{}, pending: map[string][]Record{}, bySink: map[string]*sinkCounts{}}
	if len(cfg.Sinks) > 0 {
		// The sinks' spools are inside: whoever could write here could
		// swap them.
		if err := privateDir(cfg.SpoolDir); err != nil {
			return nil, err
		}
	}
	for name := range cfg.Sinks {
		if name == "" || filepath.Base(name) != name {
			return nil, fmt.Errorf("accounting: bad sink name %q", name)
		}
		sp, err := OpenSpool(filepath.Join(cfg.SpoolDir, name), cfg.SegmentMax)
		if err != nil {
			for _, s := range a.spools {
				s.Close()
			}
			return nil, err
		}
		a.spools[name] = sp
		a.names = append(a.names, name)
		a.bySink[name] = &sinkCounts{}
	}
	sort.Strings(a.names)
	a.replayTarget = map[string]Cursor{}
	a.replayed = make(chan struct{})
	for _, name := range a.names {
		a.replayTarget[name] = a.spools[name].End()
	}
	a.replayLeft = len(a.names)
	return a, nil
}

// caughtUp notes that sink name has delivered up to cur.
func (a *Accountant) caughtUp(name string, cur Cursor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.replayTarget[name]
	if !ok || cur.Before(t) {
		return
	}
	delete(a.replayTarget, name)
	a.replayLeft--
	if a.replayLeft == 0 {
		close(a.replayed)
	}
}

// WaitReplayed waits until every sink has taken the records the spool
// held when the accountant was made (those of the last run), or ctx ends.
// The daemon calls it before Store.CloseOrphans, with a deadline; if the
// database is down it runs CloseOrphans later.
func (a *Accountant) WaitReplayed(ctx context.Context) error {
	select {
	case <-a.replayed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("accounting: spool of the last run not yet replayed: %w", ctx.Err())
	}
}

func (a *Accountant) enqueue(ev event) {
	a.mu.Lock()
	if len(a.events) >= a.cfg.QueueLimit {
		a.mu.Unlock()
		a.dropped.Add(1)
		a.log.Error("accounting queue full, event dropped", "session_id", ev.id, "limit", a.cfg.QueueLimit)
		return
	}
	a.events = append(a.events, ev)
	a.enqueued.Add(1)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// SessionStarted emits the Start record (RFC 2866 Acct-Status-Type Start)
// and schedules the session's interims. It never blocks.
func (a *Accountant) SessionStarted(s SessionInfo) {
	s.Class = append([][]byte(nil), s.Class...)
	a.enqueue(event{kind: evStarted, at: a.cfg.Now(), info: s, id: s.SessionID})
}

// SessionStopped emits the Stop record with the final counters and the
// Acct-Terminate-Cause (RFC 2866 section 5.10) and forgets the session.
func (a *Accountant) SessionStopped(id string, final Counters, cause uint32) {
	a.enqueue(event{kind: evStopped, at: a.cfg.Now(), id: id, final: final, cause: cause})
}

// SessionIPv6 records what the session got of IPv6 once its IPV6CP is up
// (it may open after the Start): the interims and the Stop carry it.
func (a *Accountant) SessionIPv6(id string, v IPv6Info) {
	a.enqueue(event{kind: evIPv6, at: a.cfg.Now(), id: id, ipv6: v})
}

// SetInterim changes a session's interim interval (a CoA, RFC 5176); the
// next interim is due one new interval from now. 0 or less stops interims.
func (a *Accountant) SetInterim(id string, every time.Duration) {
	a.enqueue(event{kind: evInterim, at: a.cfg.Now(), id: id, every: every})
}

// Stats returns the counters.
func (a *Accountant) Stats() Stats {
	st := Stats{Sessions: int(a.active.Load()), Records: a.records.Load(), Spooled: a.spooled.Load(),
		Delivered: a.delivered.Load(), SinkErrors: a.sinkErrors.Load(), SpoolErrors: a.spoolErrors.Load(),
		SpoolFull: a.spoolFull.Load(), Dropped: a.dropped.Load(), Unknown: a.unknown.Load(),
		SpoolWrites: a.spoolWrites.Load()}
	for _, sp := range a.spools {
		st.SpoolPending = max(st.SpoolPending, sp.Pending())
	}
	return st
}

// SpoolErr is the last spool append error, nil once an append succeeded
// again: a disk-full spool is reported here (and in Stats and the log)
// while the records wait in memory.
func (a *Accountant) SpoolErr() error {
	if p := a.lastSpoolErr.Load(); p != nil {
		return *p
	}
	return nil
}

// WaitDelivered waits until every event given so far has become records
// that every sink has taken, or ctx ends. For a graceful shutdown: stop
// every session, wait (with a deadline) for delivery, then cancel Run;
// whatever is left stays in the spool for the next start.
func (a *Accountant) WaitDelivered(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if a.enqueued.Load() == a.handled.Load() && a.records.Load()*uint64(len(a.names)) == a.spooled.Load() {
			pending := int64(0)
			for _, sp := range a.spools {
				pending += sp.Pending()
			}
			if pending == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("accounting: records not yet delivered: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Run makes and spools records and feeds the sinks until ctx ends. On the
// way out it spools every event already received, so a Stop sent before
// cancelling is on disk (and delivered on the next start if not before).
func (a *Accountant) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, name := range a.names {
		g.Go(func() error { return a.deliver(gctx, name, a.cfg.Sinks[name], a.spools[name]) })
	}
	g.Go(func() error { return a.loop(gctx) })
	err := g.Wait()
	for _, sp := range a.spools {
		sp.Close()
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

func (a *Accountant) loop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	gather := time.NewTimer(time.Hour)
	defer gather.Stop()
	for {
		a.takeEvents()
		a.fireDue(a.cfg.Now())
		ok := a.flush()
		if ctx.Err() != nil {
			if !ok {
				n := 0
				for _, recs := range a.pending {
					n = max(n, len(recs))
				}
				a.log.Error("accounting: stopping with records the spool could not take", "records", n, "err", a.SpoolErr())
				return fmt.Errorf("accounting: %d records not spooled at shutdown: %w", n, a.SpoolErr())
			}
			return nil
		}
		wait := time.Hour
		if !ok {
			wait = time.Second // the spool failed: retry
		}
		if next, ok := a.due.Next(); ok {
			wait = min(wait, max(next.Sub(a.cfg.Now()), 0))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			// One more pass takes and spools what is queued.
		case <-a.wake:
			a.gather(ctx, gather)
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// gather lets the events of other sessions join the one that woke the
// loop for CommitDelay, so that a burst of set-ups (a DSLAM coming back)
// costs one spool write and fsync per sink every CommitDelay instead of
// one per session.
func (a *Accountant) gather(ctx context.Context, t *time.Timer) {
	if a.cfg.CommitDelay < 0 {
		return
	}
	t.Reset(a.cfg.CommitDelay)
	select {
	case <-ctx.Done():
		t.Stop()
	case <-t.C:
	}
}

func (a *Accountant) takeEvents() {
	a.mu.Lock()
	evs := a.events
	a.events = nil
	a.mu.Unlock()
	for i := range evs {
		a.handle(&evs[i])
		a.handled.Add(1)
	}
}

func (a *Accountant) handle(ev *event) {
	switch ev.kind {
	case evStarted:
		if _, dup := a.sessions[ev.id]; dup {
			a.unknown.Add(1)
			a.log.Warn("accounting: session started twice, ignored", "session_id", ev.id)
			return
		}
		s := &acctSession{rec: ev.info.Record, counters: ev.info.Counters}
		s.rec.Node = a.cfg.Node
		if ev.info.Node != "" {
			s.rec.Node = ev.info.Node
		}
		if s.rec.Started.IsZero() {
			s.rec.Started = ev.at
		}
		s.every = ev.info.Interim
		if s.every == 0 {
			s.every = a.cfg.Interim
		}
		a.sessions[ev.id] = s
		a.active.Store(int64(len(a.sessions)))
		a.emit(s, Start, ev.at, Counters{}, 0)
		if s.every > 0 {
			// First interim somewhere in the last Jitter part of the interval.
			j := time.Duration(rand.Float64() * a.cfg.Jitter * float64(s.every))
			next := s.rec.Started.Add(s.every - j)
			if next.Before(ev.at) {
				next = ev.at
			}
			a.due.Set(s, next)
		}
	case evStopped:
		s, ok := a.sessions[ev.id]
		if !ok {
			a.unknown.Add(1)
			a.log.Warn("accounting: Stop for a session not being accounted, ignored", "session_id", ev.id)
			return
		}
		a.due.Set(s, time.Time{})
		delete(a.sessions, ev.id)
		a.active.Store(int64(len(a.sessions)))
		a.emit(s, Stop, ev.at, ev.final, TerminateCause(ev.cause))
	case evIPv6:
		s, ok := a.sessions[ev.id]
		if !ok {
			a.unknown.Add(1)
			return
		}
		s.rec.IPv6Prefix, s.rec.DelegatedPrefix, s.rec.IPv6Address = ev.ipv6.Prefix, ev.ipv6.Delegated, ev.ipv6.Address
		s.rec.InterfaceID = ev.ipv6.InterfaceID
	case evInterim:
		s, ok := a.sessions[ev.id]
		if !ok {
			a.unknown.Add(1)
			return
		}
		s.every = ev.every
		var next time.Time
		if s.every > 0 {
			next = ev.at.Add(s.every)
		}
		a.due.Set(s, next)
	}
}

func (a *Accountant) fireDue(now time.Time) {
	for {
		due, ok := a.due.Next()
		if !ok || due.After(now) {
			return
		}
		s, _ := a.due.PopDue(now)
		var c Counters
		if s.counters != nil {
			c = s.counters()
		}
		a.emit(s, Interim, now, c, 0)
		next := due.Add(s.every)
		if next.Before(now) {
			next = now.Add(s.every) // fell behind: do not fire a burst
		}
		a.due.Set(s, next)
	}
}

func (a *Accountant) emit(s *acctSession, k Kind, at time.Time, c Counters, cause TerminateCause) {
	r := s.rec
	r.Kind, r.Seq, r.Time = k, s.seq, at
	s.seq++
	r.InOctets, r.OutOctets, r.InPackets, r.OutPackets = c.InOctets, c.OutOctets, c.InPackets, c.OutPackets
	r.In6Octets, r.Out6Octets, r.In6Packets, r.Out6Packets = c.In6Octets, c.Out6Octets, c.In6Packets, c.Out6Packets
	r.Cause = cause
	if s.every > 0 {
		r.InterimSeconds = uint32(s.every / time.Second)
	} else {
		r.InterimSeconds = 0
	}
	for _, name := range a.names {
		a.pending[name] = append(a.pending[name], r)
	}
	a.records.Add(1)
}

// flush appends the pending records to each spool (one write and one
// fsync per spool: group commit). A spool that fails keeps nothing of the
// batch; its records stay in memory, in order, and are tried again.
func (a *Accountant) flush() bool {
	ok := true
	for _, name := range a.names {
		recs := a.pending[name]
		if len(recs) == 0 {
			continue
		}
		a.spoolWrites.Add(1)
		if err := a.spools[name].Append(recs); err != nil {
			ok = false
			a.spoolErrors.Add(1)
			if errors.Is(err, ErrSpoolFull) {
				a.spoolFull.Add(1)
			}
			a.lastSpoolErr.Store(&err)
			a.log.Error("accounting: spool append failed, records kept in memory and retried", "sink", name, "records", len(recs), "err", err)
			continue
		}
		a.spooled.Add(uint64(len(recs)))
		countKinds(&a.bySink[name].spooled, recs)
		a.pending[name] = reuse(recs)
	}
	if ok {
		a.lastSpoolErr.Store(nil)
	}
	return ok
}

// keepRecords is the most records a buffer keeps for reuse after a
// burst: a tunnel that goes down ends thousands of sessions at once, and
// an array of their Stops kept forever holds memory the daemon would not
// get back otherwise.
const keepRecords = 1024

// reuse empties recs for the next batch: the records it held are cleared
// (so their strings can be collected), and the array of a burst larger
// than keepRecords is let go.
func reuse(recs []Record) []Record {
	if cap(recs) > keepRecords {
		return nil
	}
	clear(recs)
	return recs[:0]
}

func (a *Accountant) deliver(ctx context.Context, name string, sink Sink, sp *Spool) error {
	backoff := a.cfg.RetryMin
	failing := false
	for {
		recs, cur, err := sp.Read(a.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			a.caughtUp(name, cur)
			select {
			case <-ctx.Done():
				return nil
			case <-sp.Notify():
			case <-time.After(time.Second):
			}
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = sink.Write(wctx, recs)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.sinkErrors.Add(1)
			if !failing {
				a.log.Error("accounting: sink write failed, records stay in the spool", "sink", name, "records", len(recs), "err", err)
				failing = true
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, a.cfg.RetryMax)
			continue
		}
		if failing {
			a.log.Info("accounting: sink back, replaying the spool", "sink", name)
			failing = false
		}
		backoff = a.cfg.RetryMin
		a.delivered.Add(uint64(len(recs)))
		countKinds(&a.bySink[name].delivered, recs)
		if err := sp.Commit(cur); err != nil {
			a.log.Warn("accounting: spool commit", "sink", name, "err", err)
		}
		a.caughtUp(name, cur)
	}
}

// Timer places the session in the accountant's interim queue.
func (s *acctSession) Timer() *timerq.Timer { return &s.timer }
