package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/netlab"
	"github.com/jackc/pgx/v5"
)

// The fault soak: subscribers churn through the lab (connect, traffic,
// disconnect, again) while the parts an ISP loses in real life go away
// one after the other: the accounting database, the RADIUS server, the
// LNS process (kill -9) and the L2TP link. Afterwards the accounting in
// PostgreSQL is held against what the subscribers saw, and the daemons
// against the state they started in.

// SoakOptions say what Soak runs. Options.Subscribers is the number of
// subscribers of all lanes together.
type SoakOptions struct {
	Options
	// Duration is how long the subscribers churn (default 10 min); the
	// faults take the first part of it, the rest shows the recovery.
	Duration time.Duration
	// Lanes split the subscribers into groups that churn in turn, so that
	// some are up while others connect or hang up (default 2).
	Lanes int
	// WaveHold is how long a wave of a lane stays up once all its set-ups
	// are done (default 10 s).
	WaveHold time.Duration
	// How long each fault lasts: PostgreSQL stopped (default 60 s),
	// FreeRADIUS stopped with SIGSTOP so it neither answers nor refuses
	// (30 s), the LNS dead after its kill -9 before it is started again
	// (2 s), the L2TP link down (20 s).
	PGDown, RadiusSilent, LNSDown, LinkDown time.Duration
	// Settle bounds the wait, once the last wave hung up, for the daemons
	// and the database to close every session (default 60 s).
	Settle time.Duration
	// Rest is a pause after that, before the end state is measured: the Go
	// runtime of an idle daemon collects every 2 minutes and only then
	// gives the heap the churn freed back to the kernel (0: none).
	Rest time.Duration
}

// SoakFault is one fault as it happened.
type SoakFault struct {
	Name     string
	At, Took time.Duration // from the start of the churn
	Err      string        // the fault could not be made or undone
}

// SoakResult is what a soak measured; CheckSoak says what is wrong with it.
type SoakResult struct {
	Subscribers, Lanes int
	Duration           time.Duration
	Faults             []SoakFault
	Waves              int
	// SeenUp counts the sessions bras load saw reach IPCP up; Failures and
	// Drops the set-ups that did not come up and the sessions that went
	// down unasked, by bras load's reason.
	SeenUp          int
	Failures, Drops map[string]int
	// Unclean counts the failures that were not a clean refusal (a hang
	// ended by bras load's set-up timeout, a negotiation that gave up);
	// UncleanReasons names them.
	Unclean        int
	UncleanReasons map[string]int
	// LastWavesUp and LastWavesSize: the last wave of every lane, started
	// after the last fault was undone, came up this completely.
	LastWavesUp, LastWavesSize int

	// Accounting, PostgreSQL against bras load: Records is the rows of
	// the sessions table; Matched the sessions seen up with exactly one
	// row; Lost those with none; Doubled the extra rows of the sessions
	// with more than one; Stopless the matched rows without a stop time;
	// Unseen the rows of set-ups bras load did not see up (it gave up
	// while the LNS completed them): accounted, and closed or not (Open).
	Records, Matched, Lost, Doubled, Stopless, Unseen int
	// OrphanStops counts sessions the restarted LNS closed with
	// NAS-Reboot (its kill -9 left them open); ReplacedStops those whose
	// real Stop arrived from the spool after that as well.
	OrphanStops, ReplacedStops int
	Causes                     map[string]int // Acct-Terminate-Cause of the rows
	// Open sessions at the end, once the last subscriber hung up: in the
	// database (stop time NULL), on the LNS's and the LAC's API; -1 when
	// they could not be read.
	OpenDB, OpenLNS, OpenLAC int
	Settled                  time.Duration // how long the closing took

	// The daemons before the first subscriber and at the end: goroutines
	// (go_goroutines of /metrics) and RSS; PeakRSS while churning. The
	// LNS's end figures are of the LNS started again after the kill -9.
	LNSGoroutines, LACGoroutines [2]int
	LNSRSS, LACRSS               [2]int64
	LNSPeakRSS, LACPeakRSS       int64
	// LNSHeap and LACHeap are go_memstats_heap_inuse_bytes at the same
	// two moments: what the Go heap holds, free or not yet collected
	// objects' spans included, as opposed to what the kernel has mapped.
	LNSHeap, LACHeap [2]int
	Examples         []string // a few of the sessions lost or doubled, for the log
}

// Tolerances of the end state against the baseline: the LAC and the LNS
// may keep their idle tunnel (one goroutine each for its transport and
// timers) and the Go runtime keeps some heap it grew; a leak per session
// over thousands of set-ups exceeds both.
const (
	soakGoroutineSlack = 20
	soakRSSSlack       = 64 << 20
)

// CheckSoak lists what the soak found wrong: lost or doubled accounting,
// sessions left half-open, goroutines or memory not back to their
// baseline, subscribers refused other than cleanly, a fault that could not
// be made.
func CheckSoak(r *SoakResult) []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	for _, f := range r.Faults {
		if f.Err != "" {
			add("fault %s: %s", f.Name, f.Err)
		}
	}
	if r.SeenUp == 0 {
		add("no session came up")
	}
	if r.LastWavesUp < r.LastWavesSize {
		add("after the faults the last waves brought up %d of %d subscribers", r.LastWavesUp, r.LastWavesSize)
	}
	if r.OrphanStops == 0 {
		add("the LNS's kill -9 hit no session up: the recovery of its sessions was not exercised")
	}
	if r.Lost > 0 {
		add("%d sessions seen up have no accounting record", r.Lost)
	}
	if r.Doubled > 0 {
		add("%d accounting records double sessions seen up", r.Doubled)
	}
	if r.Stopless > 0 {
		add("%d sessions seen up have no Stop in PostgreSQL", r.Stopless)
	}
	if r.OpenDB != 0 || r.OpenLNS != 0 || r.OpenLAC != 0 {
		add("half-open at the end (-1: could not be read): %d sessions open in PostgreSQL, %d on the LNS, %d on the LAC", r.OpenDB, r.OpenLNS, r.OpenLAC)
	}
	if r.Unclean > 0 {
		add("%d subscribers were refused without a clean refusal: %v", r.Unclean, r.UncleanReasons)
	}
	for _, d := range []struct {
		name string
		g    [2]int
		rss  [2]int64
	}{{"LNS", r.LNSGoroutines, r.LNSRSS}, {"LAC", r.LACGoroutines, r.LACRSS}} {
		if d.g[0] <= 0 || d.g[1] <= 0 {
			add("%s goroutines unknown (%d before, %d after)", d.name, d.g[0], d.g[1])
		} else if d.g[1] > d.g[0]+soakGoroutineSlack {
			add("%s goroutines %d at the end, %d before (tolerance %d)", d.name, d.g[1], d.g[0], soakGoroutineSlack)
		}
		if d.rss[1] > d.rss[0]+soakRSSSlack {
			add("%s RSS %.1f MiB at the end, %.1f MiB before (tolerance %d MiB)", d.name, mib(d.rss[1]), mib(d.rss[0]), soakRSSSlack>>20)
		}
	}
	return p
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// cleanRefusal says whether a set-up that failed for bras load's reason
// was refused the protocols' way: a PADT or a PADS error (RFC 2516
// section 5), an LCP Terminate (RFC 1661 section 5.5), a PAP or CHAP
// failure (RFC 1334, RFC 1994), the link taken away (CDN → PADT). A
// timeout or a negotiation that ran out of Configure-Requests is a hang,
// and so is "stopped": a set-up still under way when the soak gave up
// waiting for its wave.
func cleanRefusal(reason string) bool {
	switch reason {
	case "padt", "refused", "auth-failed", "peer-terminate", "lower-down":
		return true
	}
	return false
}

// soakWave is one wave of one lane: its subscribers brought up, held with
// traffic and hung up by one bras load run.
type soakWave struct {
	lane, first, n int
	start, end     time.Time
	canceled       bool // the soak ended while the wave was setting up
	sessions       []load.SessionInfo
	report         *load.Report
}

// Soak sets the lab up and runs the fault soak. Its error says the soak
// could not run; CheckSoak says what it found.
func Soak(ctx context.Context, o SoakOptions) (*SoakResult, error) {
	if o.Subscribers <= 0 {
		o.Subscribers = 10000
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Minute
	}
	if o.Lanes <= 0 {
		o.Lanes = 2
	}
	o.Lanes = min(o.Lanes, o.Subscribers)
	if o.WaveHold <= 0 {
		o.WaveHold = 10 * time.Second
	}
	defaultDur(&o.PGDown, 60*time.Second)
	defaultDur(&o.RadiusSilent, 30*time.Second)
	defaultDur(&o.LNSDown, 2*time.Second)
	defaultDur(&o.LinkDown, 20*time.Second)
	defaultDur(&o.Settle, 60*time.Second)
	if o.TrafficPPS <= 0 {
		o.TrafficPPS = 1
	}
	env, err := Setup(ctx, o.Options)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	s := &soak{env: env, o: o, res: &SoakResult{Subscribers: o.Subscribers, Lanes: o.Lanes, Duration: o.Duration,
		Failures: map[string]int{}, Drops: map[string]int{}, UncleanReasons: map[string]int{}, Causes: map[string]int{}}}
	s.lns.Store(env.LNS)
	return s.res, s.run(ctx)
}

func defaultDur(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

type soak struct {
	env *Env
	o   SoakOptions
	res *SoakResult
	lns atomic.Pointer[Proc] // the LNS running now (it is started again)

	mu    sync.Mutex
	waves []soakWave
}

func (s *soak) say(format string, a ...any) { s.env.say("soak: "+format, a...) }

func (s *soak) run(ctx context.Context) error {
	e, r := s.env, s.res
	time.Sleep(time.Second) // let the daemons finish starting (pools, first GC)
	r.LNSGoroutines[0] = scrapeMetric(e.NS["lns"], lnsAPI, "go_goroutines")
	r.LACGoroutines[0] = scrapeMetric(e.NS["lac"], lacAPI, "go_goroutines")
	r.LNSRSS[0], _ = e.LNS.RSS()
	r.LACRSS[0], _ = e.LAC.RSS()
	r.LNSHeap[0] = scrapeMetric(e.NS["lns"], lnsAPI, "go_memstats_heap_inuse_bytes")
	r.LACHeap[0] = scrapeMetric(e.NS["lac"], lacAPI, "go_memstats_heap_inuse_bytes")
	s.say("baseline: LNS %d goroutines %.1f MiB, LAC %d goroutines %.1f MiB", r.LNSGoroutines[0], mib(r.LNSRSS[0]), r.LACGoroutines[0], mib(r.LACRSS[0]))

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	stopSampling := s.sampleRSS(cctx)
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		s.faults(cctx, start)
	}()
	var lanes sync.WaitGroup
	per := s.o.Subscribers / s.o.Lanes
	for k := 0; k < s.o.Lanes; k++ {
		n := per
		if k == s.o.Lanes-1 {
			n = s.o.Subscribers - per*k
		}
		lanes.Add(1)
		go func() {
			defer lanes.Done()
			s.lane(cctx, k, k*per, n, start, faultsDone)
		}()
	}
	lanes.Wait()
	<-faultsDone
	stopSampling()
	if err := ctx.Err(); err != nil {
		return err
	}
	s.tally()
	s.say("churn over after %v: %d waves, %d sessions seen up, failures %v, drops %v", time.Since(start).Round(time.Second), r.Waves, r.SeenUp, r.Failures, r.Drops)

	s.settle(ctx)
	if s.o.Rest > 0 {
		s.say("resting %v before measuring the daemons", s.o.Rest)
		if !sleepCtx(ctx, s.o.Rest) {
			return ctx.Err()
		}
	}
	r.LNSHeap[1] = scrapeMetric(e.NS["lns"], lnsAPI, "go_memstats_heap_inuse_bytes")
	r.LACHeap[1] = scrapeMetric(e.NS["lac"], lacAPI, "go_memstats_heap_inuse_bytes")
	r.LNSGoroutines[1] = scrapeMetric(e.NS["lns"], lnsAPI, "go_goroutines")
	r.LACGoroutines[1] = scrapeMetric(e.NS["lac"], lacAPI, "go_goroutines")
	r.LNSRSS[1], _ = s.lns.Load().RSS()
	r.LACRSS[1], _ = e.LAC.RSS()
	s.say("end: LNS %d goroutines RSS %.1f MiB (peak %.1f) heap %.1f MiB (%.1f before), LAC %d goroutines RSS %.1f MiB (peak %.1f) heap %.1f MiB (%.1f before)",
		r.LNSGoroutines[1], mib(r.LNSRSS[1]), mib(r.LNSPeakRSS), mib(int64(r.LNSHeap[1])), mib(int64(r.LNSHeap[0])),
		r.LACGoroutines[1], mib(r.LACRSS[1]), mib(r.LACPeakRSS), mib(int64(r.LACHeap[1])), mib(int64(r.LACHeap[0])))
	// The daemons stop before the records are read, so that nothing is
	// on its way; what was open before this is already counted.
	e.LAC.stop()
	s.lns.Load().stop()
	return s.reconcile(ctx)
}

// lane churns subscribers first .. first+n-1 in waves until the soak's
// duration is over and one wave has run after the last fault.
func (s *soak) lane(ctx context.Context, k, first, n int, start time.Time, faultsDone <-chan struct{}) {
	// Stagger the lanes so that one connects while another is up.
	if !sleepCtx(ctx, time.Duration(k)*s.o.WaveHold/time.Duration(s.o.Lanes)) {
		return
	}
	recovered := false // a wave started after the last fault
	for ctx.Err() == nil {
		if recovered && time.Since(start) >= s.o.Duration {
			return
		}
		afterFaults := false
		select {
		case <-faultsDone:
			afterFaults = true
		default:
		}
		w, err := s.wave(ctx, k, first, n)
		if err != nil {
			s.say("lane %d: %v", k, err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		s.say("lane %d: wave of %d at %v: %d up, failed %v, dropped %v", k, n, w.start.Sub(start).Round(time.Second),
			len(w.sessions), w.report.Failures, w.report.Drops)
		s.mu.Lock()
		s.waves = append(s.waves, w)
		s.mu.Unlock()
		recovered = recovered || afterFaults
	}
}

// wave brings the lane's subscribers up with bras load's engine in
// namespace sub, holds them up with traffic for WaveHold once every
// set-up is done and hangs them up with PADTs.
func (s *soak) wave(ctx context.Context, lane, first, n int) (soakWave, error) {
	w := soakWave{lane: lane, first: first, n: n}
	cfg := load.Config{
		Interface: "eth0", Sessions: n, InFlight: 200, Rate: s.o.Rate,
		UserPattern: "user%d@" + realm, PasswordPattern: "pw%d", FirstIndex: first, Auth: load.AuthMixed,
		MACBase: soakMAC(first), SetupTimeout: 60 * time.Second,
		Traffic: load.Traffic{Target: netip.MustParseAddrPort(upstreamUDP), PPS: s.o.TrafficPPS},
	}
	var l *load.Load
	w.start = time.Now()
	// The engine's sockets are opened in namespace sub and stay there.
	err := s.env.NS["sub"].Do(func() error {
		var err error
		l, err = load.Start(ctx, cfg)
		return err
	})
	if err != nil {
		return w, err
	}
	setup := time.NewTimer(cfg.SetupTimeout + 10*time.Second)
	select {
	case <-l.SetupDone():
		setup.Stop()
		sleepCtx(ctx, s.o.WaveHold)
	case <-setup.C:
	case <-ctx.Done():
		w.canceled = true
	}
	l.Stop()
	w.end = time.Now()
	w.sessions, w.report = l.Sessions(), l.Report()
	return w, nil
}

// soakMAC is the MAC of subscriber i: 02:50:00 and i in the low octets.
func soakMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x50, 0, byte(i >> 16), byte(i >> 8), byte(i)}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sampleRSS records the daemons' peak RSS every second until the
// returned function is called.
func (s *soak) sampleRSS(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if v, err := s.lns.Load().RSS(); err == nil {
				s.res.LNSPeakRSS = max(s.res.LNSPeakRSS, v)
			}
			if v, err := s.env.LAC.RSS(); err == nil {
				s.res.LACPeakRSS = max(s.res.LACPeakRSS, v)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// faults makes the faults one after the other, each undone before the
// next, starting a tenth into the churn with a pause between them.
func (s *soak) faults(ctx context.Context, start time.Time) {
	gap := max(10*time.Second, s.o.Duration/20)
	if !sleepCtx(ctx, s.o.Duration/10) {
		return
	}
	for _, f := range []struct {
		name string
		do   func(context.Context) error
	}{
		{fmt.Sprintf("PostgreSQL stopped for %v", s.o.PGDown), s.pgDown},
		{fmt.Sprintf("FreeRADIUS silent (SIGSTOP) for %v", s.o.RadiusSilent), s.radiusSilent},
		{fmt.Sprintf("LNS killed (SIGKILL), started again after %v", s.o.LNSDown), s.killLNS},
		{fmt.Sprintf("L2TP link down for %v", s.o.LinkDown), s.linkDown},
	} {
		at := time.Now()
		s.say("fault: %s", f.name)
		err := f.do(ctx)
		sf := SoakFault{Name: f.name, At: at.Sub(start), Took: time.Since(at)}
		if err != nil {
			sf.Err = err.Error()
			s.say("fault %s: %v", f.name, err)
		}
		s.res.Faults = append(s.res.Faults, sf)
		if ctx.Err() != nil || !sleepCtx(ctx, gap) {
			return
		}
	}
}

func (s *soak) pgDown(ctx context.Context) error {
	if err := s.env.PG.Stop(); err != nil {
		return err
	}
	sleepCtx(ctx, s.o.PGDown)
	return s.env.PG.Start(context.WithoutCancel(ctx))
}

func (s *soak) radiusSilent(ctx context.Context) error {
	pg := -s.env.Radius.Pid()
	if err := syscall.Kill(pg, syscall.SIGSTOP); err != nil {
		return err
	}
	sleepCtx(ctx, s.o.RadiusSilent)
	return syscall.Kill(pg, syscall.SIGCONT)
}

func (s *soak) killLNS(ctx context.Context) error {
	old := s.lns.Load()
	if err := syscall.Kill(old.Pid(), syscall.SIGKILL); err != nil {
		return err
	}
	<-old.done
	sleepCtx(ctx, s.o.LNSDown)
	if err := s.env.startLNS(context.WithoutCancel(ctx), "lns-restarted"); err != nil {
		return err
	}
	s.lns.Store(s.env.LNS)
	return nil
}

// linkDown takes the LAC's end of the L2TP link down (the LNS's end loses
// its carrier with it): every L2TP message in either direction is lost.
func (s *soak) linkDown(ctx context.Context) error {
	lac := s.env.NS["lac"]
	if _, err := lac.Run("ip", "link", "set", "eth1", "down"); err != nil {
		return err
	}
	sleepCtx(ctx, s.o.LinkDown)
	_, err := lac.Run("ip", "link", "set", "eth1", "up")
	return err
}

// tally adds up bras load's view of every wave.
func (s *soak) tally() {
	r := s.res
	r.Waves = len(s.waves)
	last := map[int]soakWave{}
	for _, w := range s.waves {
		r.SeenUp += len(w.sessions)
		for k, v := range w.report.Failures {
			if k == "stopped" && w.canceled {
				continue // the soak's own end, not a refusal
			}
			r.Failures[k] += v
			if !cleanRefusal(k) {
				r.Unclean += v
				r.UncleanReasons[k] += v
			}
		}
		for k, v := range w.report.Drops {
			r.Drops[k] += v
		}
		if lw, ok := last[w.lane]; !ok || w.start.After(lw.start) {
			last[w.lane] = w
		}
	}
	for _, w := range last {
		r.LastWavesUp += len(w.sessions)
		r.LastWavesSize += w.n
	}
}

// settle waits until the LNS, the LAC and the database have no session
// open, at most Settle, and records what is left.
func (s *soak) settle(ctx context.Context) {
	e, r := s.env, s.res
	t0 := time.Now()
	for {
		r.OpenLNS = countSessions(e.NS["lns"], e.Opts.Bras, lnsAPI)
		r.OpenLAC = countSessions(e.NS["lac"], e.Opts.Bras, lacAPI)
		r.OpenDB = openInDB(ctx, e.DSN)
		if r.OpenLNS == 0 && r.OpenLAC == 0 && r.OpenDB == 0 || time.Since(t0) > s.o.Settle || !sleepCtx(ctx, time.Second) {
			break
		}
	}
	r.Settled = time.Since(t0)
	s.say("after %v: %d sessions open on the LNS, %d on the LAC, %d in PostgreSQL", r.Settled.Round(time.Second), r.OpenLNS, r.OpenLAC, r.OpenDB)
}

// countSessions is the number of sessions a daemon's API lists (-1 when
// it cannot be read).
func countSessions(n *netlab.Netns, bras, api string) int {
	out, err := n.Run(bras, "sessions", "-api", api, "-format", "csv")
	if err != nil {
		return -1
	}
	return max(strings.Count(strings.TrimSpace(out), "\n"), 0) // the first line is the header
}

func openInDB(ctx context.Context, dsn string) int {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return -1
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE stop_time IS NULL`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// scrapeMetric reads one unlabelled metric from a daemon's /metrics (0
// when it cannot be read).
func scrapeMetric(n *netlab.Netns, api, name string) int {
	out, err := n.Run("curl", "-s", "-H", "Authorization: Bearer "+apiToken, api+"/metrics")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(f)
			}
		}
	}
	return 0
}

// dbSession is one row of the sessions table.
type dbSession struct {
	id, user, addr, cause string
	start                 time.Time
	stopped, orphan       bool
	stops                 int // Stop records in acct_records
}

// reconcile holds the sessions table against the waves.
func (s *soak) reconcile(ctx context.Context) error {
	c, err := pgx.Connect(ctx, s.env.DSN)
	if err != nil {
		return fmt.Errorf("lab: soak: %w", err)
	}
	defer c.Close(ctx)
	// The LNS records User-Name without its realm, the realm apart.
	rows, err := c.Query(ctx, `SELECT s.acct_session_id, s.username || CASE WHEN s.realm <> '' THEN '@' || s.realm ELSE '' END, coalesce(host(s.framed_ip), ''), s.start_time,
		s.stop_time IS NOT NULL, coalesce(bras_terminate_cause(s.terminate_cause), ''),
		EXISTS (SELECT 1 FROM acct_records a WHERE a.acct_session_id = s.acct_session_id AND a.seq = $1),
		(SELECT count(*) FROM acct_records a WHERE a.acct_session_id = s.acct_session_id AND a.kind = 2)
		FROM sessions s`, int64(orphanSeq))
	if err != nil {
		return fmt.Errorf("lab: soak: %w", err)
	}
	var db []dbSession
	for rows.Next() {
		var d dbSession
		if err := rows.Scan(&d.id, &d.user, &d.addr, &d.start, &d.stopped, &d.cause, &d.orphan, &d.stops); err != nil {
			rows.Close()
			return fmt.Errorf("lab: soak: %w", err)
		}
		db = append(db, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("lab: soak: %w", err)
	}
	matchSoak(s.res, s.waves, db)
	r := s.res
	s.say("PostgreSQL: %d sessions recorded; of %d seen up %d matched, %d lost, %d doubled, %d without Stop; %d recorded that bras load did not see up; %d closed by the restarted LNS (NAS-Reboot), %d of them with their real Stop later; causes %v",
		r.Records, r.SeenUp, r.Matched, r.Lost, r.Doubled, r.Stopless, r.Unseen, r.OrphanStops, r.ReplacedStops, r.Causes)
	return nil
}

// orphanSeq is accounting.OrphanSeq, the Seq of the Stop the LNS writes
// for a session its previous run left open.
const orphanSeq = 1<<32 - 1

// soakSlack widens a wave's interval when its sessions are looked up by
// start time: the LNS stamps the Start a little before bras load sees
// IPCP up.
const soakSlack = 2 * time.Second

// matchSoak pairs every session bras load saw up (user, address, within
// its wave) with the rows of the sessions table: one is right, none is a
// lost record, more are doubled. Rows no session claimed are set-ups bras
// load did not see up.
func matchSoak(r *SoakResult, waves []soakWave, db []dbSession) {
	r.Records = len(db)
	type key struct{ user, addr string }
	byKey := map[key][]int{}
	for i, d := range db {
		byKey[key{d.user, d.addr}] = append(byKey[key{d.user, d.addr}], i)
		if d.cause != "" {
			r.Causes[d.cause]++
		}
		if d.orphan {
			r.OrphanStops++
			if d.stops > 1 {
				r.ReplacedStops++
			}
		}
	}
	claimed := make([]bool, len(db))
	example := func(format string, a ...any) {
		if len(r.Examples) < 10 {
			r.Examples = append(r.Examples, fmt.Sprintf(format, a...))
		}
	}
	for _, w := range waves {
		from, to := w.start.Add(-soakSlack), w.end.Add(soakSlack)
		for _, si := range w.sessions {
			var hits []int
			for _, i := range byKey[key{si.Username, si.Address.String()}] {
				if !db[i].start.Before(from) && !db[i].start.After(to) && !claimed[i] {
					hits = append(hits, i)
				}
			}
			switch len(hits) {
			case 0:
				r.Lost++
				example("lost: %s %v up in the wave of lane %d from %s to %s; rows of that user: %s", si.Username, si.Address, w.lane,
					w.start.Format(time.TimeOnly), w.end.Format(time.TimeOnly), rowsOf(db, si.Username))
				continue
			case 1:
				r.Matched++
			default:
				r.Matched++
				r.Doubled += len(hits) - 1
				example("doubled: %s %v has %d rows", si.Username, si.Address, len(hits))
			}
			for _, i := range hits {
				claimed[i] = true
			}
			if !db[hits[0]].stopped {
				r.Stopless++
				example("no Stop: %s %v (%s)", si.Username, si.Address, db[hits[0]].id)
			}
		}
	}
	for i := range db {
		if !claimed[i] {
			r.Unseen++
		}
	}
}

// SoakCauses lists the Acct-Terminate-Causes of a soak, most frequent first.
func SoakCauses(r *SoakResult) string {
	var names []string
	for k := range r.Causes {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return r.Causes[names[i]] > r.Causes[names[j]] })
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", n, r.Causes[n])
	}
	return b.String()
}

// rowsOf describes the rows of user, for the examples of what went wrong.
func rowsOf(db []dbSession, user string) string {
	var b strings.Builder
	for _, d := range db {
		if d.user == user {
			fmt.Fprintf(&b, "[%s %q from %s stopped %v] ", d.id, d.addr, d.start.Format(time.TimeOnly), d.stopped)
		}
	}
	return b.String()
}
