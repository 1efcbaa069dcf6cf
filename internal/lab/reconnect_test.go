package lab

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// TestBenchReconnect is the mass reconnect at a small scale through the
// real processes: 200 subscribers up, their access link down for 2 s.
// The LAC sees its port lose its carrier, counts it once and clears all
// 200 sessions; the subscribers dial again once the link is back and all
// are up again; PostgreSQL has 400 sessions, the first 200 closed with
// Lost-Carrier and the second 200 open; PostgreSQL and RADIUS accounting
// took every Start and Stop the LNS spooled, and no RADIUS request timed
// out.
func TestBenchReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-chain benchmark: not in -short")
	}
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	bin := buildBras(t)
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	b, err := BenchReconnect(ctx, ReconnectOptions{Options: Options{Bras: bin, Subscribers: n, Out: out}, Down: 2 * time.Second, Wait: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if p := CheckReconnect(b); len(p) > 0 {
		t.Errorf("reconnect: %s", strings.Join(p, "\n"))
	}
	rc := b.Load.Reconnect
	if rc == nil {
		t.Fatal("bras load made no reconnect report")
	}
	if rc.Setup.Count != n || rc.Seconds <= 0 || rc.Rate <= 0 || rc.LinkUpAt <= rc.LinkDownAt {
		t.Errorf("reconnect figures: %+v", rc)
	}
	// bras load saw the link go down once and the first set-ups are
	// still its report's.
	if b.Load.CarrierLosses != 1 || b.Load.Up != n || b.Load.Stages.Total.Count != n {
		t.Errorf("bras load: %d carrier losses, %d first set-ups up, %d latencies", b.Load.CarrierLosses, b.Load.Up, b.Load.Stages.Total.Count)
	}
	if b.LNSAuthRequests < n {
		t.Errorf("%d RADIUS access requests over the reconnect, want at least %d", b.LNSAuthRequests, n)
	}
	t.Logf("%d back up %.2f s after the link's return, %.0f/s, p50 %.1f ms p99 %.1f ms; attempts %d failures %v; CPU %v",
		rc.Reconnected, rc.Seconds, rc.Rate, rc.Setup.P50, rc.Setup.P99, rc.Attempts, rc.Failures, b.CPU)
}

func TestParseProgress(t *testing.T) {
	for _, tc := range []struct {
		line string
		want map[string]int
	}{
		{"   3.0s started 200 in-flight 0 up 200 failed 0 dropped 0 tx 0 rx 0 rate 12/s",
			map[string]int{"started": 200, "in-flight": 0, "up": 200, "failed": 0, "dropped": 0, "tx": 0, "rx": 0}},
		{"  12.0s started 200 in-flight 3 up 150 failed 0 dropped 200 tx 0 rx 0 reconnected 150 redial 47 carrier-losses 1 rate 90/s",
			map[string]int{"started": 200, "in-flight": 3, "up": 150, "failed": 0, "dropped": 200, "tx": 0, "rx": 0,
				"reconnected": 150, "redial": 47, "carrier-losses": 1}},
		{`time=2026-11-21T06:00:00Z level=WARN msg="load: tun"`, nil},
		{"   3.0s started x in-flight 0 up 200 failed 0 dropped 0", nil},
		{"   3.0s started 1 up 1", nil},
	} {
		got, _ := parseProgress(tc.line)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseProgress(%q) (-want +got):\n%s", tc.line, diff)
		}
	}
}

func TestMetricSum(t *testing.T) {
	text := `# HELP bras_radius_requests_total RADIUS requests.
bras_radius_requests_total{server="127.0.0.1:1812",type="access",result="accept"} 190
bras_radius_requests_total{server="127.0.0.1:1812",type="access",result="reject"} 10
bras_radius_requests_total{server="127.0.0.1:1813",type="accounting",result="accept"} 400
bras_radius_requests_total_extra 7
bras_spool_bytes 0
bras_lac_carrier_losses_total 2
bras_accounting_records_total{type="start",sink="radius",result="spooled"} 400
bras_accounting_records_total{type="start",sink="radius",result="delivered"} 398
bras_accounting_records_total{type="stop",sink="postgres",result="spooled"} 200
bras_accounting_records_total{type="stop",sink="postgres",result="delivered"} 200
bras_accounting_records_total{type="interim",sink="radius",result="spooled"} 90
bras_accounting_records_total{type="interim",sink="radius",result="delivered"} 10
`
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bras_radius_requests_total", []string{`type="access"`}, 200},
		{"bras_radius_requests_total", nil, 600},
		{"bras_radius_requests_total", []string{`type="access"`, `result="reject"`}, 10},
		{"bras_lac_carrier_losses_total", nil, 2},
		{"bras_spool_bytes", nil, 0},
		{"bras_missing", nil, 0},
	} {
		if got := metricSum(text, tc.name, tc.labels...); got != tc.want {
			t.Errorf("metricSum(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// Two Starts on their way to RADIUS; the Interim-Updates do not count.
	if got := acctUndelivered(text); got != 2 {
		t.Errorf("acctUndelivered = %d, want 2", got)
	}
}

// TestCheckReconnect: a clean run has nothing to say; each fault is named.
func TestCheckReconnect(t *testing.T) {
	good := func() *ReconnectBench {
		return &ReconnectBench{Subscribers: 10, BackUp: time.Second, UpBefore: 10, UpAfter: 10, LACCarrierLosses: 1, LACCarrierCleared: 10,
			DBSessions: 20, DBOpen: 10, DBCauses: map[string]int{"Lost-Carrier": 10},
			Load: load.Report{Reconnect: &load.ReconnectReport{Reconnected: 10, Drops: map[string]int{"carrier": 10}}}}
	}
	if p := CheckReconnect(good()); len(p) > 0 {
		t.Errorf("a clean run: %v", p)
	}
	for _, tc := range []struct {
		name    string
		breakIt func(*ReconnectBench)
		want    string
	}{
		{"one not up", func(b *ReconnectBench) { b.UpBefore = 9 }, "9 of 10 subscribers up before"},
		{"one not back", func(b *ReconnectBench) { b.UpAfter = 9 }, "9 of 10 subscribers up again"},
		{"a stop lost", func(b *ReconnectBench) { b.DBCauses["Lost-Carrier"] = 9; b.DBOpen = 11 }, "PostgreSQL"},
		{"wrong cause", func(b *ReconnectBench) { b.DBCauses = map[string]int{"Lost-Carrier": 9, "NAS-Error": 1} }, "PostgreSQL"},
		{"spool", func(b *ReconnectBench) { b.AcctUndelivered = 3; b.SpoolBytes = 100 }, "not delivered"},
		{"RADIUS timeouts", func(b *ReconnectBench) { b.LNSAcctTimeouts = 1 }, "RADIUS timeouts"},
		{"LAC did not clear", func(b *ReconnectBench) { b.LACCarrierCleared = 0 }, "LAC"},
		{"drops by echo", func(b *ReconnectBench) { b.Load.Reconnect.Drops = map[string]int{"echo-timeout": 10} }, "bras load"},
	} {
		b := good()
		tc.breakIt(b)
		p := CheckReconnect(b)
		if len(p) != 1 || !strings.Contains(p[0], tc.want) {
			t.Errorf("%s: %q, want one problem about %q", tc.name, p, tc.want)
		}
	}
}
