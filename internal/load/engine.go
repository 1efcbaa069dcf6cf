package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/internal/linkwatch"
	"github.com/bras-project/bras/internal/timerq"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// subState is where a subscriber is in its life.
type subState uint8

const (
	stateIdle    subState = iota // not started
	stateDialing                 // PPPoE discovery under way
	statePPP                     // LCP, authentication, IPCP under way
	stateUp                      // IPCP opened
	stateFailed                  // never came up
	stateDropped                 // came up, then went down without being asked
	stateClosed                  // closed by Stop
	stateRedial                  // its session ended; waiting to dial again (Config.Redial)
)

func (s subState) String() string {
	switch s {
	case stateIdle:
		return "idle"
	case stateDialing:
		return "dialing"
	case statePPP:
		return "ppp"
	case stateUp:
		return "up"
	case stateFailed:
		return "failed"
	case stateDropped:
		return "dropped"
	case stateClosed:
		return "closed"
	case stateRedial:
		return "redial"
	}
	return fmt.Sprintf("subState(%d)", uint8(s))
}

// sub is one emulated subscriber. Its PPP fields belong to its shard's
// goroutine; rx belongs to the PPPoE client's reader goroutine; the
// traffic fields to the one sender that owns the subscriber.
type sub struct {
	l     *Load
	idx   int
	port  uint8 // the index of its interface in Config.Interfaces
	mac   net.HardwareAddr
	cred  Credential
	auth  []ppp.AuthProto
	shard *shard

	cs    *pppoe.ClientSession
	ps    *ppp.Session
	state subState
	// Stage timestamps: PADI sent, PADS received, LCP opened,
	// authentication done (Network phase), IPCP up.
	t0, tPADS, tLCP, tAuth, tUp time.Time
	reason                      string       // why it failed or dropped
	padt                        bool         // the AC sent a PADT
	released                    bool         // its in-flight slot is given back
	timer                       timerq.Timer // in its shard's deadline queue

	// Published for the traffic senders and the receive path.
	up    atomic.Bool
	local netip.Addr  // valid once up is true
	info  SessionInfo // set before up is first stored

	txSeq uint64     // owned by the sender of this subscriber
	rx    SeqTracker // owned by the receive path
	// upstream is what the echo server said it received (-1: unknown).
	upstream atomic.Int64
	bound    atomic.Bool // carries the TUN device

	// IPv6 (Config.IPv6), owned by the shard: the set-up's phase, its
	// client, when IPV6CP opened and when the prefixes came, the
	// deadline of the phase and why it failed.
	v6         v6Phase
	c6         *client6
	tV6, tV6Up time.Time
	v6Deadline time.Time
	v6Reason   string
	resolved   bool // counted in Load.resolved

	// Config.Redial, owned by the shard or by the redialer while it
	// waits: the set-ups begun after the first, the first's latencies,
	// the carrier of its interface lost, the current back-off and its
	// place in the redial queue.
	attempt int
	first   *firstSetup
	carrier bool
	backoff time.Duration
	wait    waiting

	// Published for the senders and the receive path once IPv6 is ready.
	addr6  atomic.Pointer[IPv6Info]
	txSeq6 uint64     // owned by the sender of this subscriber
	rx6    SeqTracker // owned by the receive path
}

// Stats is a snapshot of a run.
type Stats struct {
	Elapsed   time.Duration
	Started   int // set-ups begun
	InFlight  int
	Up        int // sessions up now
	EverUp    int // sessions that reached IPCP up
	Failed    int
	Dropped   int
	SetupDone bool
	// IPv6Up counts the sessions that got their SLAAC prefix and their
	// delegated prefix; IPv6Failed those that gave up (Config.IPv6).
	IPv6Up, IPv6Failed int
	// Traffic counters, IPv4 probes.
	Sent, Received, Reordered, Duplicated uint64
	// IPv6 probes.
	Sent6, Received6, Reordered6, Duplicated6 uint64
	// Dropped control frames: a shard's inbox was full.
	InboxDrops uint64
	// Config.Redial: sessions up again after a drop, subscribers
	// waiting to dial again; carrier losses of the interfaces.
	Reconnected, Redialing int
	CarrierLosses          uint64
}

// Load is a running emulation. Start makes one; Stop ends it.
type Load struct {
	cfg     Config
	log     *slog.Logger
	clients []*pppoe.Client // one per interface
	subs    []*sub
	shards  []*shard
	slots   chan struct{}

	ctx        context.Context
	cancel     context.CancelFunc
	dialCtx    context.Context // canceled first by Stop
	dialCancel context.CancelFunc
	start      time.Time
	dialers    sync.WaitGroup
	tasks      sync.WaitGroup // client, shards, launcher, progress
	launched   chan struct{}  // closed when the launcher has returned
	clientDone chan error     // each client's Run's end

	started, inflight, upNow, everUp, failed, dropped atomic.Int64
	resolved                                          atomic.Int64 // set-ups finished either way
	timeouts                                          atomic.Int64 // set-ups that timed out (the first timeoutLines are logged)
	setupDone                                         chan struct{}
	setupEnd                                          atomic.Int64 // unix ns of the last resolution
	sent, received, reordered, duplicated, inboxDrops atomic.Uint64
	foreign                                           atomic.Uint64 // IPv4 frames that were not our probes
	rtt                                               histogram
	// IPv6: sessions ready and failed, probe counters, foreign packets,
	// round trips; octets of the probes (IP packets) per family.
	v6Up, v6Failed                                       atomic.Int64
	sent6, received6, reordered6, duplicated6            atomic.Uint64
	foreign6, ignored6                                   atomic.Uint64
	rtt6                                                 histogram
	sentOctets, receivedOctets, sentOctets6, recvOctets6 atomic.Uint64

	upMu   sync.Mutex
	upList []*sub // in the order they came up; never shrinks

	traffic   trafficState
	tun       *tunBinding
	raw       *rawSender // the traffic senders' batched socket
	rawErrors atomic.Uint64

	// Config.Redial: the redialer and its goroutine; sessions up again,
	// subscribers waiting to dial again. Carrier losses seen.
	redial        *redialer
	redialDone    chan struct{}
	reconnects    atomic.Int64
	redialing     atomic.Int64
	carrierLosses atomic.Uint64

	unhook   atomic.Pointer[func() bool] // undoes the AfterFunc on Start's context
	stopOnce sync.Once
	stopped  chan struct{} // closed when Stop is done
	stopErr  error
	report   atomic.Pointer[Report]
}

// Start opens a PPPoE client on each of cfg.Interfaces (in the network
// namespace of the calling thread) and begins bringing up cfg.Sessions subscribers
// at cfg.Rate with at most cfg.InFlight set-ups under way. Sessions stay
// up, with their traffic, until Stop.
func Start(ctx context.Context, cfg Config) (*Load, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Load{cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.InFlight),
		setupDone: make(chan struct{}), clientDone: make(chan error, len(cfg.Interfaces)), stopped: make(chan struct{}), launched: make(chan struct{})}
	closeClient := func() {
		// Run with a done context only closes the sockets.
		dead, cancel := context.WithCancel(context.Background())
		cancel()
		for _, c := range l.clients {
			_ = c.Run(dead)
		}
	}
	for _, name := range cfg.Interfaces {
		client, err := pppoe.NewClient(pppoe.ClientConfig{Interface: name, Logger: cfg.Logger})
		if err != nil {
			closeClient()
			return nil, fmt.Errorf("load: %w", err)
		}
		l.clients = append(l.clients, client)
	}
	var err error
	if cfg.TUN != "" {
		if l.tun, err = openTUN(cfg.TUN); err != nil {
			closeClient()
			return nil, err
		}
	}
	if cfg.Traffic.enabled() {
		if l.raw, err = openRawSender(cfg.Interface); err != nil {
			closeClient()
			if l.tun != nil {
				l.tun.close()
			}
			return nil, err
		}
	}
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.dialCtx, l.dialCancel = context.WithCancel(l.ctx)
	l.subs = make([]*sub, cfg.Sessions)
	for i := range l.subs {
		l.subs[i] = &sub{l: l, idx: i, port: uint8(i % len(l.clients)), mac: cfg.mac(i), cred: cfg.credential(i), auth: cfg.Auth.protos(i)}
		l.subs[i].upstream.Store(-1)
		l.subs[i].wait.s = l.subs[i]
		if cfg.IPv6 {
			l.subs[i].v6 = v6Wait
		}
	}
	nw := cfg.Workers
	if nw <= 0 {
		nw = runtime.GOMAXPROCS(0)
	}
	for i := range nw {
		l.shards = append(l.shards, &shard{l: l, id: i, in: make(chan event, 8192), subs: make(map[*sub]struct{})})
	}
	if cfg.Redial {
		l.redial = newRedialer(l)
	}
	l.start = time.Now()
	for _, c := range l.clients {
		go func() { l.clientDone <- c.Run(l.ctx) }()
	}
	for _, sh := range l.shards {
		l.tasks.Add(1)
		go func() { defer l.tasks.Done(); sh.run() }()
	}
	l.tasks.Add(1)
	go func() { defer l.tasks.Done(); defer close(l.launched); l.launch() }()
	l.redialDone = make(chan struct{})
	if l.redial != nil {
		go func() { defer close(l.redialDone); l.redial.run() }()
	} else {
		close(l.redialDone)
	}
	if watch, err := linkwatch.New(cfg.Interfaces); err != nil {
		l.log.Warn("load: not watching the carrier", "err", err)
	} else {
		l.tasks.Add(1)
		go func() { defer l.tasks.Done(); l.watchCarrier(watch) }()
	}
	if l.tun != nil {
		l.tasks.Add(1)
		go func() { defer l.tasks.Done(); l.tun.run(l.ctx, l) }()
	}
	l.startTraffic()
	// Stop the whole run when the caller's context ends.
	unhook := context.AfterFunc(ctx, func() { _ = l.Stop() })
	l.unhook.Store(&unhook)
	return l, nil
}

// launch starts the set-ups at the configured rate, each waiting for an
// in-flight slot.
func (l *Load) launch() {
	var interval time.Duration
	if l.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / l.cfg.Rate)
	}
	next := time.Now()
	for i, s := range l.subs {
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-l.dialCtx.Done():
					t.Stop()
					l.abandon(i)
					return
				case <-t.C:
				}
			}
			// Held back by the in-flight cap: do not burst to catch up.
			if next = next.Add(interval); next.Before(time.Now().Add(-interval)) {
				next = time.Now()
			}
		}
		select {
		case <-l.dialCtx.Done():
			l.abandon(i)
			return
		case l.slots <- struct{}{}:
		}
		l.started.Add(1)
		l.inflight.Add(1)
		l.dialers.Add(1)
		go l.dial(s)
	}
}

// abandon counts the subscribers from i on, never started, as resolved
// so that WaitSetup returns.
func (l *Load) abandon(i int) {
	if n := len(l.subs) - i; n > 0 && l.resolved.Add(int64(n)) == int64(len(l.subs)) {
		close(l.setupDone)
	}
}

// resolve records that one set-up ended (up or failed).
func (l *Load) resolve() {
	l.setupEnd.Store(time.Now().UnixNano())
	if l.resolved.Add(1) == int64(len(l.subs)) {
		close(l.setupDone)
	}
}

// dial runs PPPoE discovery for s (RFC 2516 section 5) and hands the
// session to s's shard. One goroutine per set-up in flight, never more
// than InFlight.
func (l *Load) dial(s *sub) {
	defer l.dialers.Done()
	s.shard = l.shards[s.idx%len(l.shards)]
	t0 := time.Now()
	cs, err := l.clients[s.port].Dial(l.dialCtx, s.mac, pppoe.DialOptions{
		ServiceName: l.cfg.ServiceName, ACName: l.cfg.ACName,
		Timeout: l.cfg.DiscoveryTimeout,
	})
	ev := event{kind: evDialed, s: s, t0: t0, t1: time.Now(), cs: cs, err: err}
	select {
	case s.shard.in <- ev:
	case <-l.ctx.Done():
		if cs != nil {
			_ = cs.Close()
		}
		l.release(s)
		l.fail(s, "stopped")
	}
}

// release gives back s's in-flight slot, once.
func (l *Load) release(s *sub) {
	if s.released {
		return
	}
	s.released = true
	l.inflight.Add(-1)
	<-l.slots
}

func (l *Load) fail(s *sub, reason string) {
	if s.attempt > 0 {
		// A redial that failed: again later, unless the run is ending.
		s.reason = reason
		if l.dialCtx.Err() != nil {
			s.state = stateRedial
			return
		}
		l.redial.failed(s, reason, time.Now())
		return
	}
	s.state = stateFailed
	s.reason = reason
	l.failed.Add(1)
	l.resolve()
	l.log.Debug("load: set-up failed", "mac", macText(s.mac), "user", s.cred.Username, "reason", reason)
}

// SessionInfo describes a session that came up.
type SessionInfo struct {
	Index     int // subscriber number, from 0
	MAC       net.HardwareAddr
	Username  string
	SessionID uint16 // PPPoE session ID
	// Address is the subscriber's IPCP address, Peer the AC's (RFC 1332);
	// DNS1 and DNS2 the servers of RFC 1877.
	Address, Peer, DNS1, DNS2 netip.Addr
	// IPv6 is what the IPv6 set-up got (Config.IPv6); nil until it is
	// ready.
	IPv6 *IPv6Info
	Up   bool // still up
}

// IPv6Info is a session's IPv6: the link-local addresses of both ends
// (RFC 5072 section 5), the /64 a Router Advertisement gave and the
// address formed in it (RFC 4862), the prefix DHCPv6 delegated (RFC 8415)
// and the address it gave when asked (IA_NA).
type IPv6Info struct {
	LinkLocal, Router netip.Addr
	Prefix            netip.Prefix
	SLAAC             netip.Addr
	Delegated         netip.Prefix
	Address           netip.Addr
}

// delegatedHost is the address the probes from the delegated prefix use:
// the prefix's first address after the subnet-router anycast one (RFC
// 4291 section 2.6.1).
func (i *IPv6Info) delegatedHost() netip.Addr { return i.Delegated.Addr().Next() }

// Sessions lists the sessions that came up, in the order they did.
func (l *Load) Sessions() []SessionInfo {
	l.upMu.Lock()
	ups := l.upList[:len(l.upList):len(l.upList)]
	l.upMu.Unlock()
	out := make([]SessionInfo, len(ups))
	for i, s := range ups {
		out[i] = s.info
		out[i].Up = s.up.Load()
		if a := s.addr6.Load(); a != nil {
			c := *a
			out[i].IPv6 = &c
		}
	}
	return out
}

// WaitSetup waits until every set-up has come up or failed.
func (l *Load) WaitSetup(ctx context.Context) error {
	select {
	case <-l.setupDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetupDone is closed when every set-up has come up or failed.
func (l *Load) SetupDone() <-chan struct{} { return l.setupDone }

// Stats returns a snapshot of the counters.
func (l *Load) Stats() Stats {
	st := Stats{
		Elapsed:     time.Since(l.start),
		Started:     int(l.started.Load()),
		InFlight:    int(l.inflight.Load()),
		Up:          int(l.upNow.Load()),
		EverUp:      int(l.everUp.Load()),
		Failed:      int(l.failed.Load()),
		Dropped:     int(l.dropped.Load()),
		Sent:        l.sent.Load(),
		Received:    l.received.Load(),
		Reordered:   l.reordered.Load(),
		Duplicated:  l.duplicated.Load(),
		InboxDrops:  l.inboxDrops.Load(),
		IPv6Up:      int(l.v6Up.Load()),
		Reconnected: int(l.reconnects.Load()), Redialing: int(l.redialing.Load()), CarrierLosses: l.carrierLosses.Load(),
		IPv6Failed: int(l.v6Failed.Load()),
		Sent6:      l.sent6.Load(), Received6: l.received6.Load(),
		Reordered6: l.reordered6.Load(), Duplicated6: l.duplicated6.Load(),
	}
	select {
	case <-l.setupDone:
		st.SetupDone = true
	default:
	}
	return st
}

// String is the one-line progress report.
func (st Stats) String() string {
	s := fmt.Sprintf("%6.1fs started %d in-flight %d up %d failed %d dropped %d tx %d rx %d",
		st.Elapsed.Seconds(), st.Started, st.InFlight, st.Up, st.Failed, st.Dropped, st.Sent, st.Received)
	if st.Reconnected+st.Redialing > 0 || st.CarrierLosses > 0 {
		s += fmt.Sprintf(" reconnected %d redial %d carrier-losses %d", st.Reconnected, st.Redialing, st.CarrierLosses)
	}
	if st.IPv6Up+st.IPv6Failed > 0 || st.Sent6 > 0 {
		s += fmt.Sprintf(" ipv6 up %d failed %d tx %d rx %d", st.IPv6Up, st.IPv6Failed, st.Sent6, st.Received6)
	}
	return s
}

// Stop ends the run: the traffic stops (replies are awaited for the grace
// period and the echo server is asked for its counts when configured),
// every session is closed with a PADT (RFC 2516 section 5.5), and the
// report is made. It may be called more than once and from several
// goroutines; every call returns once the run has stopped.
func (l *Load) Stop() error {
	l.stopOnce.Do(func() {
		defer close(l.stopped)
		if u := l.unhook.Load(); u != nil {
			(*u)()
		}
		// No new set-ups; the discoveries under way fail as "stopped".
		l.dialCancel()
		l.stopTraffic()
		for _, sh := range l.shards {
			done := make(chan struct{})
			sh.in <- event{kind: evStop, done: done}
			<-done
		}
		// The discoveries still under way end now; their outcome goes to
		// the shards, which are still there to count it as "stopped".
		<-l.launched
		<-l.redialDone
		l.dialers.Wait()
		l.cancel()
		l.tasks.Wait()
		var errs []error
		for range l.clients {
			errs = append(errs, <-l.clientDone)
		}
		l.stopErr = errors.Join(errs...)
		if l.tun != nil {
			l.tun.close()
		}
		if l.raw != nil {
			l.raw.close()
		}
		l.report.Store(l.makeReport())
	})
	<-l.stopped
	return l.stopErr
}

// ---- shards ----

type evKind uint8

const (
	evDialed  evKind = iota + 1 // discovery ended
	evFrame                     // a PPP control frame
	evIPv6                      // an IPv6 packet for the client6
	evStop                      // close every session, then close done
	evCarrier                   // the carrier of interface port was lost
)

type event struct {
	kind   evKind
	s      *sub
	frame  []byte
	t0, t1 time.Time
	cs     *pppoe.ClientSession
	err    error
	done   chan struct{}
	port   int
}

// shard drives the PPP sessions of its subscribers on one goroutine, with
// a deadline queue (internal/timerq) keyed on each session's next deadline.
type shard struct {
	l      *Load
	id     int
	in     chan event
	subs   map[*sub]struct{}
	timers timerq.Queue[*sub]
	// stopped: Stop closed every session; late dials are closed at once.
	stopped bool
	// ended: sessions whose PPPoE session ended, from their OnEnd, for
	// the next scanPADT.
	endMu sync.Mutex
	ended []*sub
}

func (sh *shard) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	scan := time.NewTicker(100 * time.Millisecond)
	defer scan.Stop()
	for {
		wait := time.Hour
		if next, ok := sh.timers.Next(); ok {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case ev := <-sh.in:
			now := time.Now()
			sh.handle(ev, now)
			// Drain what is queued before looking at timers again.
		drain:
			for n := 0; n < 256; n++ {
				select {
				case ev = <-sh.in:
					sh.handle(ev, now)
				default:
					break drain
				}
			}
		case now := <-timer.C:
			sh.expire(now)
		case now := <-scan.C:
			sh.scanPADT(now)
		case <-sh.l.ctx.Done():
			if !sh.stopped {
				sh.stopAll(time.Now())
			}
			return
		}
	}
}

func (sh *shard) handle(ev event, now time.Time) {
	switch ev.kind {
	case evDialed:
		sh.dialed(ev, now)
	case evFrame:
		s := ev.s
		if s.ps == nil || s.state != statePPP && s.state != stateUp {
			return
		}
		s.ps.Input(ev.frame, now)
		sh.progress(s, now)
	case evIPv6:
		s := ev.s
		// Once ready, the client still reads the periodic RAs (they
		// only renew what it has).
		if s.c6 == nil || s.v6 != v6Running && s.v6 != v6Ready || s.state != statePPP && s.state != stateUp {
			sh.l.ignored6.Add(1)
			return
		}
		s.send6(s.c6.input(ev.frame, now))
		s.check6(now)
		sh.schedule(s)
	case evCarrier:
		sh.carrierLost(ev.port, now)
	case evStop:
		sh.stopped = true
		sh.stopAll(now)
		close(ev.done)
	}
}

// dialed starts PPP on a session whose discovery succeeded.
func (sh *shard) dialed(ev event, now time.Time) {
	s, l := ev.s, sh.l
	s.t0, s.tPADS = ev.t0, ev.t1
	if ev.err != nil || sh.stopped {
		l.release(s)
		if ev.cs != nil {
			_ = ev.cs.Close()
		}
		l.fail(s, discoveryReason(ev.err))
		return
	}
	s.cs = ev.cs
	s.state = statePPP
	mru := uint16(min(s.cs.MaxPayload, 1492))
	s.ps = ppp.NewSession(s.cs, ppp.Config{
		Role: ppp.Client, MRU: mru, RejectACCMPFCACFC: true,
		Username: s.cred.Username, Password: s.cred.Password,
		Auth: s.auth, Echo: l.cfg.Echo, Restart: l.cfg.Restart, Handler: s,
		IPv6: l.cfg.IPv6,
	})
	sh.subs[s] = struct{}{}
	s.ps.Open(now)
	s.cs.SetReceive(s.receive)
	s.cs.OnEnd(func(error) { sh.sessionEnded(s) })
	sh.progress(s, now)
}

func discoveryReason(err error) string {
	switch {
	case err == nil:
		return "stopped"
	case errors.Is(err, pppoe.ErrNoOffer):
		return "no-offer"
	case errors.Is(err, pppoe.ErrRefused):
		return "refused"
	case errors.Is(err, context.Canceled):
		return "stopped"
	}
	return "discovery-error"
}

// progress notes the stages s reached and reschedules its timer.
func (sh *shard) progress(s *sub, now time.Time) {
	if s.state == statePPP {
		if s.tLCP.IsZero() && s.ps.LCPState() == ppp.Opened {
			s.tLCP = now
		}
		if s.tAuth.IsZero() && s.ps.State() == ppp.PhaseNetwork {
			if s.tLCP.IsZero() {
				s.tLCP = now
			}
			s.tAuth = now
		}
	}
	if s.v6 == v6Wait && s.ps.State() == ppp.PhaseNetwork {
		// IPV6CP finished without opening: the peer Protocol-Rejected it
		// (RFC 1661 section 5.7; an LNS that grants no IPv6) or it gave
		// up negotiating (Max-Configure, Max-Failure).
		if st := s.ps.IPv6CPState(); st == ppp.Stopped || st == ppp.Closed {
			s.fail6("ipv6cp-refused")
		}
	}
	sh.schedule(s)
}

// schedule queues s at its next deadline: the PPP timers, and
// the set-up timeout while it is not up.
func (sh *shard) schedule(s *sub) {
	var d time.Time
	if s.ps != nil && (s.state == statePPP || s.state == stateUp) {
		d = s.ps.NextDeadline()
		if s.state == statePPP {
			if to := s.t0.Add(sh.l.cfg.SetupTimeout); d.IsZero() || to.Before(d) {
				d = to
			}
		}
		if s.v6 == v6Wait || s.v6 == v6Running {
			var retransmit time.Time
			if s.c6 != nil {
				retransmit = s.c6.next()
			}
			for _, t := range []time.Time{s.v6Deadline, retransmit} {
				if !t.IsZero() && (d.IsZero() || t.Before(d)) {
					d = t
				}
			}
		}
	}
	sh.timers.Set(s, d)
}

// timeoutLines is how many set-up timeouts a run logs, each with the PPP
// phase it stopped in; the report counts them all.
const timeoutLines = 20

// expire runs the timers that are due.
func (sh *shard) expire(now time.Time) {
	for {
		s, ok := sh.timers.PopDue(now)
		if !ok {
			return
		}
		if s.state == statePPP && !now.Before(s.t0.Add(sh.l.cfg.SetupTimeout)) {
			s.reason = "timeout"
			if sh.l.timeouts.Add(1) <= timeoutLines {
				sh.l.log.Warn("load: set-up timed out", "mac", macText(s.mac), "user", s.cred.Username,
					"phase", s.ps.State(), "lcp", s.ps.LCPState(), "after", sh.l.cfg.SetupTimeout)
			}
			sh.end(s, now)
			continue
		}
		s.ps.Tick(now)
		if s.v6 == v6Wait || s.v6 == v6Running {
			s.tick6(now)
		}
		sh.progress(s, now)
		if s.timer.Queued() && !s.timer.When().After(now) {
			// Tick left the deadline in the past: do not spin.
			sh.timers.Set(s, now.Add(time.Millisecond))
		}
	}
}

// sessionEnded is a PPPoE session's OnEnd: s goes to the next scanPADT
// (the PADT comes on the client's reader, which must not block).
func (sh *shard) sessionEnded(s *sub) {
	sh.endMu.Lock()
	sh.ended = append(sh.ended, s)
	sh.endMu.Unlock()
}

// scanPADT ends the sessions the AC terminated with a PADT (RFC 2516
// section 5.5): their PPP layer goes down at once.
func (sh *shard) scanPADT(now time.Time) {
	sh.endMu.Lock()
	ended := sh.ended
	sh.ended = nil
	sh.endMu.Unlock()
	for _, s := range ended {
		if _, ok := sh.subs[s]; ok && s.cs.Err() != nil && (s.state == statePPP || s.state == stateUp) {
			s.padt = errors.Is(s.cs.Err(), pppoe.ErrPADT)
			s.ps.LowerDown(now)
		}
	}
}

// end tears s down from the shard: PADT, and PPP LowerDown (Down follows).
func (sh *shard) end(s *sub, now time.Time) {
	_ = s.cs.Close()
	if s.state == statePPP || s.state == stateUp {
		s.ps.LowerDown(now)
	}
	sh.forget(s)
}

func (sh *shard) forget(s *sub) {
	sh.timers.Set(s, time.Time{})
	delete(sh.subs, s)
}

// stopAll closes every session of the shard with a PADT.
func (sh *shard) stopAll(now time.Time) {
	for s := range sh.subs {
		if s.state == statePPP {
			s.reason = "stopped"
		}
		if s.state == stateUp {
			s.state = stateClosed
			s.up.Store(false)
			sh.l.upNow.Add(-1)
		}
		s.fail6("stopped")
		sh.end(s, now)
	}
}

// Up is ppp.Handler.Up: IPCP opened (RFC 1332).
func (s *sub) Up(ps *ppp.Session, n ppp.NetworkInfo) {
	l := s.l
	now := time.Now()
	if s.up.Load() {
		// IPCP opened again (the peer renegotiated, RFC 1661 section
		// 4.1): the same session, counted once.
		s.local = n.Local
		s.info.Address, s.info.Peer, s.info.DNS1, s.info.DNS2 = n.Local, n.Peer, n.DNS1, n.DNS2
		return
	}
	if s.tLCP.IsZero() {
		s.tLCP = now
	}
	if s.tAuth.IsZero() {
		s.tAuth = now
	}
	s.tUp = now
	s.state = stateUp
	s.local = n.Local
	s.info = SessionInfo{Index: s.idx, MAC: s.mac, Username: s.cred.Username, SessionID: s.cs.ID,
		Address: n.Local, Peer: n.Peer, DNS1: n.DNS1, DNS2: n.DNS2}
	s.up.Store(true)
	l.release(s)
	l.upNow.Add(1)
	if s.attempt > 0 {
		// Up again after a drop (Config.Redial): listed already.
		l.reconnects.Add(1)
		l.redial.upAgain(now)
		l.log.Debug("load: session up again", "mac", macText(s.mac), "user", s.cred.Username, "session_id", s.cs.ID, "address", n.Local)
		return
	}
	l.everUp.Add(1)
	l.upMu.Lock()
	l.upList = append(l.upList, s)
	l.upMu.Unlock()
	if l.tun != nil && s.idx == 0 {
		// Configure the device before the set-up counts as done.
		s.bound.Store(true)
		l.tun.bind(s, n)
	}
	if s.v6 == v6Wait && s.v6Deadline.IsZero() {
		// IPV6CP may still open; give it IPv6Timeout from here.
		s.v6Deadline = now.Add(l.cfg.IPv6Timeout)
	}
	s.tryResolve()
	l.log.Debug("load: session up", "mac", macText(s.mac), "user", s.cred.Username, "session_id", s.cs.ID, "address", n.Local)
}

// Down is ppp.Handler.Down: the PPP session ended.
func (s *sub) Down(ps *ppp.Session, r ppp.Reason) {
	l := s.l
	reason := s.downReason(r)
	redial, failed := false, false
	switch s.state {
	case statePPP:
		if s.reason != "" {
			reason = s.reason
		}
		failed = true
	case stateUp:
		s.state = stateDropped
		s.reason = reason
		s.up.Store(false)
		l.upNow.Add(-1)
		l.dropped.Add(1)
		l.log.Info("load: session dropped", "mac", macText(s.mac), "user", s.cred.Username, "reason", reason)
		s.fail6("down")
		redial = l.redial != nil && l.dialCtx.Err() == nil
	}
	if s.cs != nil {
		_ = s.cs.Close()
	}
	if s.shard != nil {
		s.shard.forget(s)
	}
	// Last: a subscriber that redials is the redialer's from here.
	if failed {
		l.release(s)
		l.fail(s, reason)
	}
	if redial {
		l.redial.dropped(s, reason, time.Now())
	}
}

// receive gets the session's PPP frames on the PPPoE client's reader
// goroutine: control frames go to the shard (copied; dropped and counted
// when its inbox is full), IPv4 to the traffic accounting.
func (s *sub) receive(frame []byte) {
	if len(frame) >= 2 && frame[0] == 0x00 && frame[1] == 0x21 {
		s.l.receiveIPv4(s, frame[2:])
		return
	}
	if len(frame) >= 2 && frame[0] == 0x00 && frame[1] == 0x57 {
		if !isClient6(frame[2:]) {
			s.l.receiveIPv6(s, frame[2:])
			return
		}
		ev := event{kind: evIPv6, s: s, frame: append([]byte(nil), frame[2:]...)}
		select {
		case s.shard.in <- ev:
		default:
			s.l.inboxDrops.Add(1)
		}
		return
	}
	if p, _, err := ppp.ParseProtocol(frame); err != nil || !p.IsControl() {
		return
	}
	ev := event{kind: evFrame, s: s, frame: append([]byte(nil), frame...)}
	select {
	case s.shard.in <- ev:
	default:
		s.l.inboxDrops.Add(1)
	}
}

// Timer places the subscriber in its shard's deadline queue.
func (s *sub) Timer() *timerq.Timer { return &s.timer }

// ---- IPv6 ----

// UpIPv6 is ppp.IPv6Handler.UpIPv6: IPV6CP opened (RFC 5072); router
// discovery and DHCPv6 begin. A renegotiation keeps what the session has.
func (s *sub) UpIPv6(ps *ppp.Session, n ppp.IPv6Info) {
	if s.v6 != v6Wait {
		return
	}
	now := time.Now()
	s.v6 = v6Running
	s.tV6 = now
	s.v6Deadline = now.Add(s.l.cfg.IPv6Timeout)
	s.c6 = newClient6(s.mac, s.l.cfg.DHCPv6Address)
	s.send6(s.c6.start(n, now))
}

// send6 sends IPv6 packets on the session (PPP protocol 0x0057, RFC 5072
// section 5).
func (s *sub) send6(pkts [][]byte) {
	for _, p := range pkts {
		if p == nil {
			continue
		}
		_ = s.cs.Send(append([]byte{0x00, 0x57}, p...))
	}
}

// tick6 runs the IPv6 set-up's timers: its retransmissions, and the
// deadline of its phase.
func (s *sub) tick6(now time.Time) {
	if !s.v6Deadline.IsZero() && !now.Before(s.v6Deadline) {
		switch {
		case s.v6 == v6Wait:
			s.fail6("no-ipv6cp")
		case !s.c6.slaac.IsValid():
			s.fail6("no-ra")
		default:
			s.fail6("no-dhcpv6")
		}
		return
	}
	if s.c6 != nil {
		s.send6(s.c6.tick(now))
	}
}

// check6 publishes the IPv6 set-up once the client has both prefixes.
func (s *sub) check6(now time.Time) {
	if s.v6 != v6Running || !s.c6.ready() {
		return
	}
	c := s.c6
	s.v6, s.tV6Up, s.v6Deadline = v6Ready, now, time.Time{}
	s.addr6.Store(&IPv6Info{LinkLocal: c.local, Router: c.router, Prefix: c.prefix, SLAAC: c.slaac,
		Delegated: c.delegated, Address: c.address})
	s.l.v6Up.Add(1)
	s.l.log.Debug("load: IPv6 up", "mac", macText(s.mac), "user", s.cred.Username, "prefix", c.prefix, "delegated", c.delegated)
	s.tryResolve()
}

// fail6 ends an IPv6 set-up that is still under way.
func (s *sub) fail6(reason string) {
	if s.v6 != v6Wait && s.v6 != v6Running {
		return
	}
	s.v6, s.v6Reason, s.v6Deadline = v6Failed, reason, time.Time{}
	s.l.v6Failed.Add(1)
	s.l.log.Debug("load: IPv6 set-up failed", "mac", macText(s.mac), "user", s.cred.Username, "reason", reason)
	s.tryResolve()
}

// tryResolve counts s's set-up as done, once: IPCP came up (the session
// may have ended since) and the IPv6 set-up, if any, has ended either way.
func (s *sub) tryResolve() {
	if s.resolved || s.tUp.IsZero() || s.v6 == v6Wait || s.v6 == v6Running {
		return
	}
	s.resolved = true
	s.l.resolve()
}

// macText logs a subscriber's MAC address as text (slog writes a bare
// net.HardwareAddr as a byte string), formatted only when the line is.
type macText net.HardwareAddr

func (m macText) LogValue() slog.Value { return slog.StringValue(net.HardwareAddr(m).String()) }
