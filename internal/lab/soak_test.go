package lab

import (
	"context"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/testenv"
)

// TestSoak is `bras bench soak` scaled down: subscribers churning through
// the lab while PostgreSQL stops, FreeRADIUS goes silent, the LNS is
// killed with SIGKILL and started again and the L2TP link goes down. No
// accounting record may be lost or doubled, no session left half-open,
// the daemons' goroutines and memory return to their baseline, and every
// subscriber turned away is turned away the protocols' way.
func TestSoak(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	testenv.RequireCommand(t, "curl")
	bin := buildBras(t)
	o := SoakOptions{
		Options:  Options{Bras: bin, Subscribers: 600, Mode: "proxy", TrafficPPS: 1, Out: io.Discard},
		Duration: 2 * time.Minute, Lanes: 2, WaveHold: 5 * time.Second,
		PGDown: 10 * time.Second, RadiusSilent: 10 * time.Second, LNSDown: 2 * time.Second, LinkDown: 10 * time.Second,
		Settle: 60 * time.Second,
	}
	if testing.Short() {
		o.Subscribers, o.Duration = 200, time.Minute
		o.PGDown, o.RadiusSilent, o.LinkDown = 5*time.Second, 5*time.Second, 5*time.Second
	}
	if testing.Verbose() {
		o.Out = os.Stdout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Duration+4*time.Minute)
	defer cancel()
	r, err := Soak(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d waves, %d sessions seen up, %d records, failures %v, drops %v, causes %s", r.Waves, r.SeenUp, r.Records, r.Failures, r.Drops, SoakCauses(r))
	t.Logf("goroutines LNS %v LAC %v; RSS LNS %v (peak %d) LAC %v (peak %d)", r.LNSGoroutines, r.LACGoroutines, r.LNSRSS, r.LNSPeakRSS, r.LACRSS, r.LACPeakRSS)
	if len(r.Faults) != 4 {
		t.Errorf("%d faults made, want 4: %+v", len(r.Faults), r.Faults)
	}
	for _, p := range CheckSoak(r) {
		t.Error(p)
	}
	for _, x := range r.Examples {
		t.Log(x)
	}
}

// TestMatchSoak holds the accounting rows against the sessions bras load
// saw: a session with one row is matched, none is lost, two are doubled,
// a row without stop time is reported, and rows of set-ups bras load did
// not see up are counted apart.
func TestMatchSoak(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	up := func(user, addr string) load.SessionInfo {
		return load.SessionInfo{Username: user, Address: netip.MustParseAddr(addr)}
	}
	row := func(user, addr string, at time.Duration, stopped bool) dbSession {
		return dbSession{id: user + "/" + at.String(), user: user, addr: addr, start: t0.Add(at), stopped: stopped, cause: "User-Request"}
	}
	waves := []soakWave{
		{start: t0, end: t0.Add(10 * time.Second), sessions: []load.SessionInfo{up("a", "100.64.0.1"), up("b", "100.64.0.2"), up("c", "100.64.0.3"), up("d", "100.64.0.4")}},
		{start: t0.Add(20 * time.Second), end: t0.Add(30 * time.Second), sessions: []load.SessionInfo{up("a", "100.64.0.1")}},
	}
	db := []dbSession{
		row("a", "100.64.0.1", time.Second, true),    // a, first wave
		row("a", "100.64.0.1", 21*time.Second, true), // a, second wave
		row("b", "100.64.0.2", 2*time.Second, true),  // b once ...
		row("b", "100.64.0.2", 3*time.Second, true),  // ... and again: doubled
		row("d", "100.64.0.4", 4*time.Second, false), // d without Stop
		row("e", "100.64.0.5", 5*time.Second, true),  // e: bras load never saw it up
		row("c", "100.64.0.3", 50*time.Second, true), // c, but not in its wave: c is lost
		row("a", "100.64.0.9", 22*time.Second, true), // a with another address: not a's session
	}
	r := &SoakResult{Causes: map[string]int{}}
	matchSoak(r, waves, db)
	got := []int{r.Records, r.Matched, r.Lost, r.Doubled, r.Stopless, r.Unseen}
	want := []int{8, 4, 1, 1, 1, 3}
	for i, name := range []string{"records", "matched", "lost", "doubled", "stopless", "unseen"} {
		if got[i] != want[i] {
			t.Errorf("%s = %d, want %d", name, got[i], want[i])
		}
	}
	if r.Causes["User-Request"] != 8 {
		t.Errorf("causes %v, want User-Request 8", r.Causes)
	}
}

// TestCheckSoak: a clean soak passes; each kind of damage is named.
func TestCheckSoak(t *testing.T) {
	clean := func() *SoakResult {
		return &SoakResult{SeenUp: 10, Matched: 10, Records: 10, OrphanStops: 2, LastWavesUp: 4, LastWavesSize: 4, LNSGoroutines: [2]int{30, 35}, LACGoroutines: [2]int{20, 22},
			LNSRSS: [2]int64{20 << 20, 40 << 20}, LACRSS: [2]int64{15 << 20, 20 << 20}}
	}
	if p := CheckSoak(clean()); len(p) != 0 {
		t.Fatalf("clean soak: %v", p)
	}
	for _, c := range []struct {
		name   string
		break_ func(*SoakResult)
		want   string
	}{
		{"lost", func(r *SoakResult) { r.Lost = 1 }, "no accounting record"},
		{"doubled", func(r *SoakResult) { r.Doubled = 1 }, "double"},
		{"no stop", func(r *SoakResult) { r.Stopless = 1 }, "no Stop"},
		{"half-open", func(r *SoakResult) { r.OpenLAC = 1 }, "half-open"},
		{"open count unknown", func(r *SoakResult) { r.OpenLNS, r.OpenDB = -1, 1 }, "half-open"},
		{"unclean", func(r *SoakResult) { r.Unclean = 1; r.UncleanReasons = map[string]int{"timeout": 1} }, "clean refusal"},
		{"goroutines", func(r *SoakResult) { r.LNSGoroutines[1] = 30 + soakGoroutineSlack + 1 }, "LNS goroutines"},
		{"rss", func(r *SoakResult) { r.LACRSS[1] = r.LACRSS[0] + soakRSSSlack + 1 }, "LAC RSS"},
		{"fault", func(r *SoakResult) { r.Faults = []SoakFault{{Name: "x", Err: "no"}} }, "fault x"},
		{"nothing up", func(r *SoakResult) { r.SeenUp = 0 }, "no session came up"},
		{"not recovered", func(r *SoakResult) { r.LastWavesUp = 3 }, "last waves brought up 3 of 4"},
		{"kill hit nothing", func(r *SoakResult) { r.OrphanStops = 0 }, "kill -9 hit no session"},
	} {
		r := clean()
		c.break_(r)
		p := CheckSoak(r)
		if len(p) != 1 || !strings.Contains(p[0], c.want) {
			t.Errorf("%s: %v, want one problem naming %q", c.name, p, c.want)
		}
	}
}

func TestCleanRefusal(t *testing.T) {
	for reason, want := range map[string]bool{
		"padt": true, "refused": true, "auth-failed": true, "peer-terminate": true, "lower-down": true,
		"stopped": false, "timeout": false, "negotiation-failed": false, "no-offer": false, "discovery-error": false, "echo-timeout": false,
	} {
		if got := cleanRefusal(reason); got != want {
			t.Errorf("cleanRefusal(%q) = %v, want %v", reason, got, want)
		}
	}
}

// TestTallySoak: set-ups cut off because their wave waited past bras
// load's set-up timeout are hangs; those cut off because the soak ended are
// not counted at all; the last wave of each lane is the latest one.
func TestTallySoak(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := func(failures map[string]int) *load.Report { return &load.Report{Failures: failures} }
	s := &soak{res: &SoakResult{Failures: map[string]int{}, Drops: map[string]int{}, UncleanReasons: map[string]int{}}, waves: []soakWave{
		{lane: 0, n: 3, start: t0, report: rep(map[string]int{"stopped": 2, "auth-failed": 1})},
		{lane: 0, n: 3, start: t0.Add(time.Minute), canceled: true, report: rep(map[string]int{"stopped": 3})},
		{lane: 1, n: 3, start: t0.Add(time.Second), report: rep(map[string]int{"timeout": 1}),
			sessions: []load.SessionInfo{{Username: "a"}, {Username: "b"}}},
	}}
	s.tally()
	r := s.res
	if r.Unclean != 3 || r.UncleanReasons["stopped"] != 2 || r.UncleanReasons["timeout"] != 1 {
		t.Errorf("unclean %d %v, want 3: stopped 2, timeout 1", r.Unclean, r.UncleanReasons)
	}
	if r.Failures["auth-failed"] != 1 || r.Failures["stopped"] != 2 {
		t.Errorf("failures %v, want auth-failed 1, stopped 2", r.Failures)
	}
	if r.LastWavesUp != 2 || r.LastWavesSize != 6 || r.SeenUp != 2 || r.Waves != 3 {
		t.Errorf("last waves %d of %d, seen up %d, waves %d; want 2 of 6, 2, 3", r.LastWavesUp, r.LastWavesSize, r.SeenUp, r.Waves)
	}
}
