package lab

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

func TestProgressResolved(t *testing.T) {
	for _, tc := range []struct {
		line string
		n    int
		ok   bool
	}{
		{"   3.0s started 1000 in-flight 0 up 1000 failed 0 dropped 0 tx 0 rx 0 rate 998/s", 1000, true},
		{"  84.0s started 10000 in-flight 0 up 9990 failed 4 dropped 6 tx 0 rx 0 rate 12/s", 10000, true},
		{"   0.5s started 12 in-flight 12 up 0 failed 0 dropped 0 tx 0 rx 0 rate 0/s", 0, true},
		{`time=2026-11-21T06:00:00Z level=WARN msg="load: tun" err="no such device"`, 0, false},
		{"up 5 failed 1", 0, false},
		// Dual stack: resolved once IPv6 is, or the set-up failed before it.
		{"   1.0s started 200 in-flight 30 up 198 failed 2 dropped 0 tx 0 rx 0 ipv6 up 150 failed 0 tx 0 rx 0", 152, true},
		{"   2.0s started 200 in-flight 0 up 198 failed 2 dropped 0 tx 0 rx 0 ipv6 up 197 failed 1 tx 0 rx 0", 200, true},
		{"   2.0s started 200 in-flight 0 up 200 failed 0 dropped 0 tx 0 rx 0 ipv6 up x failed 1", 0, false},
		{"up x failed 0 dropped 0", 0, false},
	} {
		n, ok := progressResolved(tc.line)
		if diff := cmp.Diff([2]any{tc.n, tc.ok}, [2]any{n, ok}); diff != "" {
			t.Errorf("progressResolved(%q) (-want +got):\n%s", tc.line, diff)
		}
	}
}

// TestReadStat reads this process's own /proc stat: the parent is the
// one the kernel reports and the CPU time grows as the test burns CPU.
func TestReadStat(t *testing.T) {
	before, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.ppid != os.Getppid() {
		t.Errorf("ppid %d, want %d", before.ppid, os.Getppid())
	}
	x := 0
	for end := time.Now().Add(150 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	after, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.utime+after.stime <= before.utime+before.stime {
		t.Errorf("CPU ticks did not grow after 150 ms of work (%d iterations): %+v then %+v", x, before, after)
	}
	if _, err := readStat(-1); err == nil {
		t.Error("readStat(-1) gave no error")
	}
}

func TestPerSession(t *testing.T) {
	b := &SessionsBench{Load: load.Report{Up: 4}, LNSRSSBefore: 1 << 20, LNSRSSUp: 1<<20 + 4*16384, LACRSSBefore: 100, LACRSSUp: 100}
	if got := b.LNSBytesPerSession(); got != 16384 {
		t.Errorf("LNS bytes per session %v, want 16384", got)
	}
	if got := b.LACBytesPerSession(); got != 0 {
		t.Errorf("LAC bytes per session %v, want 0", got)
	}
	if got := (&SessionsBench{}).LNSBytesPerSession(); got != 0 {
		t.Errorf("no sessions: %v bytes per session, want 0", got)
	}
	f := ForwardBench{Bras: Iperf{Delivered: 500, Seconds: 2}, Kernel: Iperf{Delivered: 1000, Seconds: 1}}
	if got := f.Ratio(); got != 0.25 {
		t.Errorf("ratio %v, want 0.25", got)
	}
	if got := (ForwardBench{Bras: Iperf{Delivered: 5, Seconds: 1}}).Ratio(); got != 0 {
		t.Errorf("ratio against nothing delivered by the kernel %v, want 0", got)
	}
}

// TestWithoutLNSKeepalive runs the wrapper around a stand-in for bras that
// prints its arguments and the configuration it was given: bras lns gets
// a copy with keepalive off and everything else intact; other commands
// pass through unchanged.
func TestWithoutLNSKeepalive(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-bras")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"args: $*\"\nif [ \"$1\" = lns ]; then cat \"$3\"; fi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "lns.conf")
	if err := os.WriteFile(conf, []byte("[ppp]\ndns = 100.64.0.1\necho-interval = 10s\n[api]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := WithoutLNSKeepalive(fake, dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(w, "lns", "-config", conf, "-v").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "args: lns -config " + conf + ".bench -v\n[ppp]\ndns = 100.64.0.1\necho-interval = 0s\n[api]\n"
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("bras lns through the wrapper (-want +got):\n%s", diff)
	}
	out, err = exec.Command(w, "load", "-n", "1", "-user", "a b").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if diff := cmp.Diff("args: load -n 1 -user a b\n", string(out)); diff != "" {
		t.Errorf("bras load through the wrapper (-want +got):\n%s", diff)
	}
}

// TestBenchWholeChain runs small versions of the whole-chain benchmarks of
// BENCHMARKS.md through the real processes, and checks what their figures
// rest on: every subscriber came up and the daemons' memory and CPU were
// read; packets went through the bras path and through the kernel path.
func TestBenchWholeChain(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-chain benchmark: not in -short")
	}
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	testenv.RequireCommand(t, "iperf3")
	bin := buildBras(t)
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	t.Run("sessions", func(t *testing.T) {
		const n = 300
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		b, err := BenchSessions(ctx, Options{Bras: bin, Subscribers: n, Out: out}, 200, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if b.Load.Up != n || b.Load.Failed != 0 {
			t.Fatalf("%d of %d up, %d failed %v", b.Load.Up, n, b.Load.Failed, b.Load.Failures)
		}
		if b.UpAt == 0 {
			t.Error("bras load never reported every set-up resolved")
		}
		if b.Load.SetupRate <= 0 || b.Load.Stages.Total.Count != n || b.Load.Stages.Total.P99 < b.Load.Stages.Total.P50 {
			t.Errorf("set-up figures: rate %v, total latency %+v", b.Load.SetupRate, b.Load.Stages.Total)
		}
		if b.LNSRSSBefore <= 0 || b.LNSRSSUp <= 0 || b.LACRSSBefore <= 0 || b.LACRSSUp <= 0 {
			t.Errorf("RSS not read: LNS %d → %d, LAC %d → %d", b.LNSRSSBefore, b.LNSRSSUp, b.LACRSSBefore, b.LACRSSUp)
		}
		cpu := map[string]float64{}
		for _, c := range b.CPU {
			cpu[c.Name] = c.Seconds
		}
		// Each part of the chain handled 300 set-ups: its CPU time is
		// above zero, or its process was not found.
		for _, name := range []string{"lns", "lac", "freeradius", "bras load"} {
			if cpu[name] <= 0 {
				t.Errorf("no CPU time for %s during the set-up: %v", name, b.CPU)
			}
		}
		if _, ok := cpu["postgres"]; !ok {
			t.Errorf("PostgreSQL's processes not found: %v", b.CPU)
		}
		t.Logf("%d sessions: %.0f/s, p50 %.1f ms, p99 %.1f ms; LNS %.0f B/session, LAC %.0f B/session; CPU %v",
			n, b.Load.SetupRate, b.Load.Stages.Total.P50, b.Load.Stages.Total.P99, b.LNSBytesPerSession(), b.LACBytesPerSession(), b.CPU)
	})
	t.Run("forward", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, err := BenchForward(ctx, Options{Bras: bin, Out: out}, ForwardOptions{Sizes: []int{64}, Duration: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 {
			t.Fatalf("%d results, want 1", len(res))
		}
		f := res[0]
		if f.Bras.Delivered <= 0 || f.Bras.Seconds <= 0 {
			t.Errorf("bras path delivered nothing: %+v", f.Bras)
		}
		if f.Kernel.Delivered <= 0 || f.Kernel.Seconds <= 0 {
			t.Errorf("kernel path delivered nothing: %+v", f.Kernel)
		}
		if len(f.CPU) != 3 {
			t.Errorf("CPU of the bras path's processes: %v, want lns, lac and bras load", f.CPU)
		}
		t.Logf("64-octet payload: bras %.0f pkt/s, kernel %.0f pkt/s, ratio %.2f", f.Bras.PPS(), f.Kernel.PPS(), f.Ratio())
	})
}

// TestTunnelSessions: the sessions per tunnel are read from the
// bras_l2tp_tunnel_sessions series of /metrics, by Tunnel ID.
func TestTunnelSessions(t *testing.T) {
	text := "# HELP bras_l2tp_tunnel_sessions Sessions on each L2TP tunnel.\n" +
		"bras_l2tp_tunnel_sessions{peer=\"lab-lns\",tunnel_id=\"40000\"} 31999\n" +
		"bras_l2tp_tunnel_sessions{peer=\"lab-lns\",tunnel_id=\"7\"} 32000\n" +
		"bras_l2tp_tunnels 2\n"
	if diff := cmp.Diff([]int{32000, 31999}, TunnelSessions(text)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if got := TunnelSessions("bras_l2tp_tunnels 0\n"); len(got) != 0 {
		t.Errorf("no tunnel: %v", got)
	}
}
