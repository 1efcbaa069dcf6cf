package load_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/load/loadtest"
)

// BenchmarkSetup brings up 1,000 and 10,000 subscribers (half PAP, half
// CHAP) against the in-process AC per iteration, as fast as an in-flight cap
// of 200 allows, and reports set-ups per second and the p50/p99 of PADI →
// IPCP up. Run it with -benchtime=1x (or Nx): one iteration is one batch.
func BenchmarkSetup(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchSetup(b, n) })
	}
}

func benchSetup(b *testing.B, n int) {
	l := newLab(b, loadtest.Config{})
	var rate, p50, p99 float64
	for i := 0; i < b.N; i++ {
		cfg := load.Config{Interface: "sub0", Sessions: n, InFlight: 200, UserPattern: "bench%d", PasswordPattern: labPassword,
			Auth: load.AuthMixed, MACBase: net.HardwareAddr{0x02, 0x20, byte(i), 0, 0, 0}}
		var ld *load.Load
		if err := l.sub.Do(func() error {
			var err error
			ld, err = load.Start(context.Background(), cfg)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := ld.WaitSetup(ctx)
		cancel()
		if err != nil {
			b.Fatalf("set-ups not done: %v", ld.Stats())
		}
		b.StopTimer()
		if err := ld.Stop(); err != nil {
			b.Fatal(err)
		}
		rep := ld.Report()
		if rep.Up != n {
			b.Fatalf("%d of %d up, failures %v", rep.Up, n, rep.Failures)
		}
		b.Logf("%d sessions: %.0f/s over %.3fs; total %+v; discovery max %.1f ms; inbox drops %d; client %+v; AC %+v",
			n, rep.SetupRate, rep.SetupSeconds, rep.Stages.Total, rep.Stages.Discovery.Max, rep.InboxDrops, rep.PPPoE, l.ac.Srv.Stats())
		rate += rep.SetupRate
		p50 += rep.Stages.Total.P50
		p99 += rep.Stages.Total.P99
		// Let the AC see every PADT before the next round.
		for deadline := time.Now().Add(10 * time.Second); l.ac.Srv.NumSessions() != 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		b.StartTimer()
	}
	b.ReportMetric(rate/float64(b.N), "sessions/s")
	b.ReportMetric(p50/float64(b.N), "p50-ms")
	b.ReportMetric(p99/float64(b.N), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFlood sends probes as fast as possible over 16 sessions for 2 s
// per iteration through the in-process AC's echo, and reports the packets
// per second sent and delivered back (64- and 1400-octet IPv4 packets).
func BenchmarkFlood(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			l := newLab(b, loadtest.Config{})
			var sent, delivered float64
			for i := 0; i < b.N; i++ {
				cfg := load.Config{Interface: "sub0", Sessions: 16, UserPattern: "flood%d", PasswordPattern: labPassword,
					MACBase: net.HardwareAddr{0x02, 0x30, byte(i), 0, 0, 0},
					Traffic: load.Traffic{Target: echoTarget, Size: size, Flood: true}}
				var ld *load.Load
				if err := l.sub.Do(func() error {
					var err error
					ld, err = load.Start(context.Background(), cfg)
					return err
				}); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := ld.WaitSetup(ctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				time.Sleep(2 * time.Second)
				if err := ld.Stop(); err != nil {
					b.Fatal(err)
				}
				tr := ld.Report().Traffic
				sent += tr.SentPPS
				delivered += tr.DeliveredPPS
			}
			b.ReportMetric(sent/float64(b.N), "sent-pps")
			b.ReportMetric(delivered/float64(b.N), "delivered-pps")
			b.ReportMetric(0, "ns/op")
		})
	}
}
