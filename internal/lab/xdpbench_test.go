package lab

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/testenv"
)

func TestMedian(t *testing.T) {
	pps := func(v ...float64) []XDPRound {
		var rs []XDPRound
		for _, x := range v {
			rs = append(rs, XDPRound{BrasPPS: x})
		}
		return rs
	}
	f := func(r XDPRound) float64 { return r.BrasPPS }
	for _, tc := range []struct {
		name string
		in   []XDPRound
		want float64
	}{
		{"none", nil, 0},
		{"one", pps(5), 5},
		{"odd", pps(9, 1, 5), 5},
		{"even", pps(4, 1, 9, 2), 3},
	} {
		if got := median(tc.in, f); got != tc.want {
			t.Errorf("%s: median %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestBenchForwardXDP runs a short forwarding benchmark with the NIC-like
// generator through the real processes (the daemons' default engine, and
// the XDP engine with IPv6): both paths deliver in both directions and at
// both sizes, and the JSON report has the four cells.
func TestBenchForwardXDP(t *testing.T) {
	t.Run("IPv4", func(t *testing.T) { testBenchForwardXDP(t, "", false) })
	t.Run("IPv6", func(t *testing.T) { testBenchForwardXDP(t, "xdp", true) })
}

func testBenchForwardXDP(t *testing.T, engine string, ipv6 bool) {
	if testing.Short() {
		t.Skip("whole-chain benchmark: not in -short")
	}
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	testenv.RequireCommand(t, "ethtool")
	bin := buildBras(t)
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := BenchForwardXDP(ctx, Options{Bras: bin, Out: out, Engine: engine}, XDPForwardOptions{Duration: 300 * time.Millisecond, Rounds: 1, IPv6: ipv6})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Engine  string `json:"engine"`
		Family  string `json:"family"`
		Results []struct {
			Direction string   `json:"direction"`
			Size      int      `json:"size"`
			BrasPPS   *float64 `json:"bras_pps"`
			KernelPPS *float64 `json:"kernel_pps"`
			Ratio     *float64 `json:"ratio"`
			Rounds    []any    `json:"rounds"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var cells []string
	for _, r := range got.Results {
		cells = append(cells, r.Direction+" "+itoa(r.Size))
		if r.BrasPPS == nil || *r.BrasPPS <= 0 || r.KernelPPS == nil || *r.KernelPPS <= 0 || r.Ratio == nil || *r.Ratio <= 0 {
			t.Errorf("%s %d: bras %v pkt/s, kernel %v pkt/s, ratio %v: a path delivered nothing", r.Direction, r.Size, r.BrasPPS, r.KernelPPS, r.Ratio)
		}
		if len(r.Rounds) != 1 {
			t.Errorf("%s %d: %d rounds, want 1", r.Direction, r.Size, len(r.Rounds))
		}
	}
	if diff := cmp.Diff([]string{"up 64", "up 1400", "down 64", "down 1400"}, cells); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	wantEngine, wantFamily := "default", "ipv4"
	if engine != "" {
		wantEngine = engine
	}
	if ipv6 {
		wantFamily = "ipv6"
	}
	if got.Engine != wantEngine || got.Family != wantFamily {
		t.Errorf("engine %q, family %q; want %q, %q", got.Engine, got.Family, wantEngine, wantFamily)
	}
	if engine == "xdp" {
		// Every probe frame (1000 per direction, size and path) went
		// through both daemons' XDP programs, none through user space.
		for name, f := range map[string]FastCounts{"LAC": res.ProbeFastPath.LAC, "LNS": res.ProbeFastPath.LNS} {
			if f["forwarded_up"] < 2000 || f["forwarded_down"] < 2000 {
				t.Errorf("the %s's fast path forwarded %d up and %d down of the 2000 probes each way: %v", name, f["forwarded_up"], f["forwarded_down"], f)
			}
		}
	}
	for _, r := range res.Results {
		if len(r.Rounds) > 0 && len(r.Rounds[0].CPU) != 2 {
			t.Errorf("%s %d: CPU of %v, want the LNS and the LAC", r.Direction, r.Size, r.Rounds[0].CPU)
		}
	}
	t.Logf("%s", b)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
