package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/pppoe"
	"golang.org/x/sys/unix"
)

// stormSize is how many subscribers each storm of TestStorm dials, a
// quarter of them within the capacity: 40 in CI, BRAS_STORM_N for a
// bigger run by hand (at most the LAC's 65,534 session IDs).
func stormSize(t *testing.T) int {
	if v := os.Getenv("BRAS_STORM_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8 || n > 65534 {
			t.Fatalf("BRAS_STORM_N=%q: want a number of subscribers from 8 to 65534", v)
		}
		return n
	}
	return 40
}

// Bounds on what a storm may leave behind in a daemon once its sessions
// are gone: an idle tunnel's goroutines, the heap the runtime keeps.
const (
	stormGoroutineSlack = 20
	stormRSSSlack       = 32 << 20
)

// TestStorm drives subscriber storms beyond each capacity limit of the
// real LAC and LNS (with a real FreeRADIUS and PostgreSQL, subscribers
// from bras load) and checks, per storm, what an operator relies on:
//   - exactly the capacity comes up; the others are refused with the
//     protocol's own message carrying the reason (seen on the access link
//     by tshark) and bras load counts them by that reason;
//   - the daemons count each refusal by its limit (/metrics);
//   - nothing is half-open: while the capacity is up, the LAC's and the
//     LNS's session lists, PostgreSQL's open rows and the LNS's pool use
//     are exactly the sessions up, and all of it is back to zero once
//     they hang up;
//   - the daemons' goroutines and RSS come back to within a bound of
//     before.
//
// The storms: beyond the LAC's [access] max-sessions (a PADS with
// AC-System-Error, RFC 2516 section 5.4), beyond the LNS's node
// max-sessions (a CDN, RFC 2661 section 4.4.2 result 4, that the LAC
// turns into a PAP Nak or CHAP Failure, LCP Terminate-Request and a PADT
// with the message, RFC 1661 section 5.5, RFC 2516 section 5.5), beyond
// the LNS's per-tunnel [lac] max-sessions (likewise, the CDN's error
// "insufficient resources"), beyond the address pool (the LNS's PAP Nak or CHAP Failure "no address
// available"), and a PADI flood faster than padi-rate while subscribers
// are up with traffic (dropped and counted, no probe lost).
func TestStorm(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	testenv.RequireCommand(t, "tshark")
	bin := buildBras(t)
	n := stormSize(t)
	capacity := n / 4

	t.Run("lac-max-sessions", func(t *testing.T) {
		st := runStorm(t, bin, n, capacity, Options{LACConfig: func(c string) string {
			return strings.Replace(c, "mode = proxy\n", fmt.Sprintf("mode = proxy\nmax-sessions = %d\n", capacity), 1)
		}})
		st.checkCommon(t)
		// bras load: the PADS error refused them (RFC 2516 section 5.4).
		if want := map[string]int{"refused": n - capacity}; !maps.Equal(st.load.Failures, want) {
			t.Errorf("bras load failures %v, want %v", st.load.Failures, want)
		}
		// On the wire: a PADS with SESSION_ID 0 and AC-System-Error
		// "session limit reached" for each one beyond the cap.
		errs := st.fields(t, "pppoe.code == 0x65 && pppoed.tags.ac_system_error", "pppoed.tags.ac_system_error")
		if len(errs) != n-capacity || !allAre(errs, "session limit reached") {
			t.Errorf("PADS with AC-System-Error: %d %q, want %d saying %q", len(errs), head(errs), n-capacity, "session limit reached")
		}
		if ok := st.fields(t, "pppoe.code == 0x65 && pppoe.session_id != 0", "pppoe.session_id"); len(ok) != capacity {
			t.Errorf("%d PADS with a session, want %d", len(ok), capacity)
		}
		st.wantDelta(t, "lac", "bras_pppoe_discovery_refused_total", "interface=eth0,reason=session_limit", float64(n-capacity))
		st.wantDelta(t, "lac", "bras_pppoe_discovery_packets_total", "code=pads,direction=tx,interface=eth0", float64(n))
		// Refused before any call: the LNS saw only the capacity.
		st.wantDelta(t, "lns", "bras_session_setups_total", "result=up", float64(capacity))
		st.wantDelta(t, "lns", "bras_session_setups_total", "result=refused", 0)
	})

	t.Run("lns-max-sessions", func(t *testing.T) {
		st := runStorm(t, bin, n, capacity, Options{LNSConfig: func(c string) string {
			// The lab sizes [lns] max-sessions for its subscribers: the
			// storm's cap replaces it.
			return regexp.MustCompile(`(?m)^max-sessions = \d+$`).ReplaceAllString(c, fmt.Sprintf("max-sessions = %d", capacity))
		}})
		st.checkCommon(t)
		const why = `LNS refused the call: NoFacilitiesTemporary/None: "session limit reached"`
		st.checkProxyRefusal(t, n-capacity, why)
		st.wantDelta(t, "lns", "bras_session_setups_total", "result=refused", float64(n-capacity))
		st.wantDelta(t, "lns", "bras_session_setups_total", "result=up", float64(capacity))
		st.wantDelta(t, "lac", "bras_lac_calls_total", "result=refused", float64(n-capacity))
		st.wantDelta(t, "lac", "bras_lac_calls_total", "result=up", float64(capacity))
	})

	t.Run("lns-tunnel-cap", func(t *testing.T) {
		st := runStorm(t, bin, n, capacity, Options{LNSConfig: func(c string) string {
			return strings.Replace(c, "[lac \"lab-lac\"]\n", fmt.Sprintf("[lac \"lab-lac\"]\nmax-sessions = %d\n", capacity), 1)
		}})
		st.checkCommon(t)
		st.checkProxyRefusal(t, n-capacity, `LNS refused the call: NoFacilitiesTemporary/InsufficientResources`)
		st.wantDelta(t, "lns", "bras_session_setups_total", "result=refused", float64(n-capacity))
		st.wantDelta(t, "lns", "bras_session_setups_total", "result=up", float64(capacity))
		st.wantDelta(t, "lac", "bras_lac_calls_total", "result=refused", float64(n-capacity))
	})

	t.Run("pool-exhausted", func(t *testing.T) {
		last := fmt.Sprintf("100.64.0.%d", 10+capacity-1)
		if capacity > 240 {
			last = fmt.Sprintf("100.64.%d.%d", (10+capacity-1)/256, (10+capacity-1)%256)
		}
		st := runStorm(t, bin, n, capacity, Options{LNSConfig: func(c string) string {
			return strings.Replace(c, "range = 100.64.0.0/16\n", "range = 100.64.0.10-"+last+"\n", 1)
		}})
		st.checkCommon(t)
		st.checkProxyRefusal(t, n-capacity, "no address available")
		st.wantDelta(t, "lns", "bras_pool_exhausted_total", "family=ipv4,pool=default", float64(n-capacity))
		st.wantDelta(t, "lns", "bras_session_setups_total", "result=auth_error", float64(n-capacity))
		st.wantDelta(t, "lns", "bras_session_setups_total", "result=up", float64(capacity))
		st.wantDelta(t, "lac", "bras_lac_calls_total", "result=up", float64(n))
	})

	t.Run("padi-flood", func(t *testing.T) {
		testPADIFlood(t, bin, capacity)
	})
}

// storm is what one storm of TestStorm measured.
type storm struct {
	e              *Env
	n, capacity    int
	load           load.Report
	capture        *capture
	before, after  map[string]scrape // by role
	goroutines     [2]map[string]int // before and after, by role
	rss            [2]map[string]int64
	during, settle stormCounts
	loadLog        string
	timedOut       []string // users whose set-up bras load gave up on
}

// timedOutUser reads the user of bras load's "set-up timed out" line.
var timedOutUser = regexp.MustCompile(`set-up timed out.* user=(\S+)`)

// logDaemons logs, for a failed storm, what the daemons said of the
// subscribers whose set-up timed out, and their warnings and errors.
func (st *storm) logDaemons(t *testing.T) {
	t.Logf("set-ups bras load gave up on: %q", st.timedOut)
	for _, name := range []string{"lac.log", "lns.log", "freeradius.log"} {
		b, err := os.ReadFile(filepath.Join(st.e.Dir, name))
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			keep := strings.Contains(l, "level=WARN") && !strings.Contains(l, "address refused") || strings.Contains(l, "level=ERROR")
			for _, u := range st.timedOut {
				keep = keep || strings.Contains(l, u)
			}
			if keep && len(lines) < 200 {
				lines = append(lines, l)
			}
		}
		t.Logf("%s, the lines about them and every warning:\n%s", name, strings.Join(lines, "\n"))
	}
}

// stormCounts are the sessions each part of the chain holds.
type stormCounts struct {
	LAC, LNS, LNSUp, DB, PoolUsed int
}

func (c stormCounts) String() string {
	return fmt.Sprintf("LAC %d, LNS %d (%d up), PostgreSQL %d open, pool %d used", c.LAC, c.LNS, c.LNSUp, c.DB, c.PoolUsed)
}

// runStorm sets up a lab with o (n subscribers in RADIUS), records the
// access link, dials n subscribers with traffic and holds them, and
// takes the counts while they are up and once they have hung up.
func runStorm(t *testing.T, bin string, n, capacity int, o Options) *storm {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	o.Bras, o.Subscribers, o.Out = bin, n, out
	e, err := Setup(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	st := &storm{e: e, n: n, capacity: capacity}
	t.Cleanup(func() { // before e.Close removes the logs
		if t.Failed() {
			st.logDaemons(t)
		}
	})
	st.capture, err = startCapture(ctx, e.Dir, "pppoe", e.NS["sub"], "eth0", "pppoed or pppoes")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the daemons finish starting
	st.goroutines[0], st.rss[0], st.before = st.use(t)

	report := filepath.Join(e.Dir, "load.json")
	cmd := e.NS["sub"].Command(bin, "load", "-iface", "eth0", "-n", fmt.Sprint(n),
		"-user", "user%d@"+realm, "-password", "pw%d", "-auth", "mixed", "-inflight", "200",
		"-traffic-target", upstreamUDP, "-traffic-pps", "2", "-hold", "5s", "-setup-timeout", "30s", "-json", report)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var tail []string
	sc := bufio.NewScanner(stderr)
	resolved := false
	for sc.Scan() {
		line := sc.Text()
		if tail = append(tail, line); len(tail) > 20 {
			tail = tail[1:]
		}
		if m := timedOutUser.FindStringSubmatch(line); m != nil {
			st.timedOut = append(st.timedOut, m[1])
		}
		if r, ok := progressResolved(line); ok && r >= n && !resolved {
			resolved = true
			// Every set-up is resolved and the capacity is held for 5 s:
			// the refused ones must be gone from every part by then.
			want := stormCounts{capacity, capacity, capacity, capacity, capacity}
			st.during = st.waitCounts(ctx, want, 4*time.Second)
		}
	}
	werr := cmd.Wait()
	st.loadLog = strings.Join(tail, "\n")
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("bras load wrote no report (%v): %v\n%s", werr, err, st.loadLog)
	}
	if err := json.Unmarshal(b, &st.load); err != nil {
		t.Fatal(err)
	}
	if !resolved {
		t.Errorf("bras load never had all %d set-ups resolved:\n%s", n, st.loadLog)
	}
	st.settle = st.waitCounts(ctx, stormCounts{}, 20*time.Second)
	st.goroutines[1], st.rss[1], st.after = st.use(t)
	if _, _, _, err := st.capture.finish(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// use reads each daemon's goroutines, RSS and metrics.
func (st *storm) use(t *testing.T) (map[string]int, map[string]int64, map[string]scrape) {
	t.Helper()
	g, rss, m := map[string]int{}, map[string]int64{}, map[string]scrape{}
	for role, p := range map[string]*Proc{"lns": st.e.LNS, "lac": st.e.LAC} {
		text, err := st.e.Metrics(role)
		if err != nil {
			t.Fatal(err)
		}
		if m[role], err = parseScrape(text); err != nil {
			t.Fatalf("the %s's /metrics: %v", role, err)
		}
		g[role] = int(sum(m[role].values("go_goroutines")))
		if rss[role], err = p.RSS(); err != nil {
			t.Fatal(err)
		}
	}
	return g, rss, m
}

// counts are the sessions of every part of the chain now.
func (st *storm) counts(ctx context.Context) stormCounts {
	e := st.e
	c := stormCounts{
		LAC: countSessions(e.NS["lac"], e.Opts.Bras, lacAPI),
		LNS: countSessions(e.NS["lns"], e.Opts.Bras, lnsAPI),
		DB:  openInDB(ctx, e.DSN),
	}
	if out, err := e.NS["lns"].Run(e.Opts.Bras, "sessions", "-api", lnsAPI, "-state", "up", "-format", "csv"); err == nil {
		c.LNSUp = max(strings.Count(strings.TrimSpace(out), "\n"), 0)
	} else {
		c.LNSUp = -1
	}
	c.PoolUsed = -1
	if text, err := e.Metrics("lns"); err == nil {
		if s, err := parseScrape(text); err == nil {
			c.PoolUsed = int(s.values("bras_pool_used")["family=ipv4,pool=default"])
		}
	}
	return c
}

// waitCounts waits up to d for the counts to be want, and returns the
// last ones.
func (st *storm) waitCounts(ctx context.Context, want stormCounts, d time.Duration) stormCounts {
	var c stormCounts
	for deadline := time.Now().Add(d); ; {
		if c = st.counts(ctx); c == want || time.Now().After(deadline) || !sleepCtx(ctx, 300*time.Millisecond) {
			return c
		}
	}
}

// checkCommon checks what every storm must hold: the capacity up and no
// more, nothing half-open while they are up nor after, nothing dropped,
// and the daemons back to their goroutines and memory.
func (st *storm) checkCommon(t *testing.T) {
	t.Helper()
	r, n, c := st.load, st.n, st.capacity
	if r.Up != c || r.Failed != n-c || r.Dropped != 0 {
		t.Errorf("bras load: %d up, %d failed, %d dropped (failures %v, drops %v); want %d, %d, 0\n%s",
			r.Up, r.Failed, r.Dropped, r.Failures, r.Drops, c, n-c, st.loadLog)
	}
	if tr := r.Traffic; tr == nil || tr.Sent == 0 || tr.Lost != 0 {
		t.Errorf("traffic of the sessions up: %+v, want every probe back", tr)
	}
	if want := (stormCounts{c, c, c, c, c}); st.during != want {
		t.Errorf("while the capacity was up: %v; want %v", st.during, want)
	}
	if st.settle != (stormCounts{}) {
		t.Errorf("after the storm: %v; want nothing left", st.settle)
	}
	for _, role := range []string{"lns", "lac"} {
		if g0, g1 := st.goroutines[0][role], st.goroutines[1][role]; g0 == 0 || g1 > g0+stormGoroutineSlack {
			t.Errorf("the %s's goroutines: %d before the storm, %d after (tolerance %d)", role, g0, g1, stormGoroutineSlack)
		}
		if r0, r1 := st.rss[0][role], st.rss[1][role]; r1 > r0+stormRSSSlack {
			t.Errorf("the %s's RSS: %.1f MiB before the storm, %.1f MiB after (tolerance %d MiB)", role, mib(r0), mib(r1), stormRSSSlack>>20)
		}
	}
}

// checkProxyRefusal checks that refused subscribers were turned away in
// PPP by the LAC's proxy (RFC 1661 section 5.5, RFC 1334 section 2.2.2,
// RFC 1994 section 4.4): bras load counts them as authentication
// failures, and each got a PAP Nak or a CHAP Failure carrying msg, an
// LCP Terminate-Request and a PADT (RFC 2516 section 5.5).
func (st *storm) checkProxyRefusal(t *testing.T, refused int, msg string) {
	t.Helper()
	if want := map[string]int{"auth-failed": refused}; !maps.Equal(st.load.Failures, want) {
		t.Errorf("bras load failures %v, want %v", st.load.Failures, want)
	}
	pap := st.fields(t, "pap.code == 3", "pap.message")
	chap := st.fields(t, "chap.code == 4", "chap.message")
	if len(pap)+len(chap) != refused || !allAre(pap, msg) || !allAre(chap, msg) {
		t.Errorf("%d PAP Naks %q and %d CHAP Failures %q; want %d in all, each saying %q", len(pap), head(pap), len(chap), head(chap), refused, msg)
	}
	// A Terminate-Request from the AC's side (its MAC is the source).
	mac := st.lacMAC(t)
	if term := st.fields(t, "lcp && ppp.code == 5 && eth.src == "+mac, "ppp.code"); len(term) < refused {
		t.Errorf("%d LCP Terminate-Requests from the LAC, want at least %d", len(term), refused)
	}
	// Every refused subscriber's PPPoE session ended with a PADT (RFC
	// 2516 section 5.5) from one side or the other, and every PADT of the
	// LAC says why in a Generic-Error.
	padt := map[string]bool{}
	for _, l := range st.fields(t, "pppoe.code == 0xa7", "eth.src", "eth.dst") {
		for _, m := range strings.Split(l, "\t") {
			padt[m] = true
		}
	}
	for _, l := range st.fields(t, "pap.code == 3 || chap.code == 4", "eth.dst") {
		if !padt[l] {
			t.Errorf("subscriber %s was refused and got no PADT, nor sent one", l)
		}
	}
	if lac := st.fields(t, "pppoe.code == 0xa7 && eth.src == "+mac, "pppoed.tags.generic_error"); slices.Contains(lac, "") {
		t.Errorf("a PADT of the LAC without a Generic-Error: %q", lac)
	}
}

// lacMAC is the LAC's MAC on the access link.
func (st *storm) lacMAC(t *testing.T) string {
	t.Helper()
	var mac string
	if err := st.e.NS["lac"].Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			mac = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// fields is one line per packet of the access link's capture that filter
// selects, with the values of its fields separated by tabs (an empty line
// for a packet without any of them).
func (st *storm) fields(t *testing.T, filter string, fields ...string) []string {
	t.Helper()
	args := []string{"-n", "-r", st.capture.file, "-Y", filter, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark -Y %q: %v", filter, err)
	}
	if len(out) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// wantDelta checks that the series of name with labels (sorted
// name=value pairs, as scrape.values keys them) moved by want during the
// storm on the daemon of role.
func (st *storm) wantDelta(t *testing.T, role, name, labels string, want float64) {
	t.Helper()
	got := st.after[role].values(name)[labels] - st.before[role].values(name)[labels]
	if _, ok := st.after[role].values(name)[labels]; !ok {
		t.Errorf("the %s exports no %s{%s}", role, name, labels)
		return
	}
	if got != want {
		t.Errorf("the %s's %s{%s} moved by %v during the storm, want %v", role, name, labels, got, want)
	}
}

// testPADIFlood brings up n subscribers with traffic, floods the LAC with
// PADIs from a few MACs far faster than padi-rate, and checks that the
// flood is dropped and counted (never more PADOs than the rate allows),
// the sessions up lose no probe, and the LAC's goroutines and memory stay
// bounded.
func testPADIFlood(t *testing.T, bin string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	e, err := Setup(ctx, Options{Bras: bin, Subscribers: n, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st := &storm{e: e, n: n, capacity: n}
	time.Sleep(time.Second)
	st.goroutines[0], st.rss[0], _ = st.use(t)

	report := filepath.Join(e.Dir, "load.json")
	cmd := e.NS["sub"].Command(bin, "load", "-iface", "eth0", "-n", fmt.Sprint(n),
		"-user", "user%d@"+realm, "-password", "pw%d", "-auth", "mixed",
		"-traffic-target", upstreamUDP, "-traffic-pps", "20", "-hold", "8s", "-setup-timeout", "30s", "-q", "-json", report)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if c := st.waitCounts(ctx, stormCounts{n, n, n, n, n}, 60*time.Second); c != (stormCounts{n, n, n, n, n}) {
		t.Fatalf("before the flood: %v, want all %d up", c, n)
	}
	_, _, st.before = st.use(t)

	// The flood: macs sources, each at perMAC PADIs a second, for d.
	const macs, perMAC, d = 32, 300, 3 * time.Second
	sent, err := floodPADI(e, macs, perMAC, d)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	_, _, st.after = st.use(t)
	if err := cmd.Wait(); err != nil {
		t.Errorf("bras load: %v", err)
	}
	b, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(b, &st.load) != nil {
		t.Fatalf("bras load report: %v", err)
	}
	r := st.load
	if r.Up != n || r.Failed != 0 || r.Dropped != 0 {
		t.Errorf("bras load: %d up, %d failed, %d dropped (%v %v); want %d, 0, 0", r.Up, r.Failed, r.Dropped, r.Failures, r.Drops, n)
	}
	if tr := r.Traffic; tr == nil || tr.Sent == 0 || tr.Lost != 0 {
		t.Errorf("traffic through the flood: %+v, want every probe back", tr)
	}

	delta := func(name, labels string) float64 {
		return st.after["lac"].values(name)[labels] - st.before["lac"].values(name)[labels]
	}
	rx := delta("bras_pppoe_discovery_packets_total", "code=padi,direction=rx,interface=eth0")
	pado := delta("bras_pppoe_discovery_packets_total", "code=pado,direction=tx,interface=eth0")
	limited := delta("bras_pppoe_discovery_refused_total", "interface=eth0,reason=padi_rate_limit")
	// Each MAC gets its burst (5) and padi-rate (10) a second; a little
	// more for the time the flood took beyond d.
	allowed := float64(macs * (5 + 10*(int(d/time.Second)+1)))
	t.Logf("PADI flood: %d sent, %v received, %v answered, %v dropped by the rate limit", sent, rx, pado, limited)
	if rx < float64(sent)/2 {
		t.Errorf("the LAC received %v of %d PADIs", rx, sent)
	}
	if pado > allowed || pado+limited != rx {
		t.Errorf("of %v PADIs received, %v answered and %v rate-limited; want at most %v answered and the rest rate-limited", rx, pado, limited, allowed)
	}
	st.settle = st.waitCounts(ctx, stormCounts{}, 20*time.Second)
	st.goroutines[1], st.rss[1], _ = st.use(t)
	if st.settle != (stormCounts{}) {
		t.Errorf("after the flood: %v; want nothing left", st.settle)
	}
	for _, role := range []string{"lns", "lac"} {
		if g0, g1 := st.goroutines[0][role], st.goroutines[1][role]; g0 == 0 || g1 > g0+stormGoroutineSlack {
			t.Errorf("the %s's goroutines: %d before, %d after (tolerance %d)", role, g0, g1, stormGoroutineSlack)
		}
		if r0, r1 := st.rss[0][role], st.rss[1][role]; r1 > r0+stormRSSSlack {
			t.Errorf("the %s's RSS: %.1f MiB before, %.1f MiB after (tolerance %d MiB)", role, mib(r0), mib(r1), stormRSSSlack>>20)
		}
	}
}

// floodPADI sends PADIs (RFC 2516 section 5.1) on the subscribers' link
// from macs source MACs (02:00:00:ff:00:00 on), each perMAC a second, for
// d, and returns how many it sent.
func floodPADI(e *Env, macs, perMAC int, d time.Duration) (int, error) {
	var fd, ifindex int
	if err := e.NS["sub"].Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		ifindex = ifi.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	frames := make([][]byte, macs)
	for i := range frames {
		eth := pppoe.Ethernet{Dst: pppoe.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Src: pppoe.MAC{0x02, 0, 0, 0xff, byte(i >> 8), byte(i)},
			EtherType: pppoe.EtherTypeDiscovery}
		b, err := eth.Append(nil)
		if err != nil {
			return 0, err
		}
		if frames[i], err = (pppoe.Packet{Code: pppoe.CodePADI, Tags: []pppoe.Tag{{Type: pppoe.TagServiceName}}}).Append(b); err != nil {
			return 0, err
		}
	}
	to := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	sent := 0
	const tick = 10 * time.Millisecond
	perTick := max(perMAC*int(tick)/int(time.Second), 1)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(tick) {
		for range perTick {
			for _, f := range frames {
				if err := unix.Sendto(fd, f, 0, to); err != nil {
					return sent, fmt.Errorf("PADI flood: %w", err)
				}
				sent++
			}
		}
	}
	return sent, nil
}

// allAre reports whether every value is want.
func allAre(vals []string, want string) bool {
	for _, v := range vals {
		if v != want {
			return false
		}
	}
	return true
}

// head is the first few values, for a message.
func head(vals []string) []string { return vals[:min(len(vals), 3)] }
