package dataplane

import (
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// BenchmarkXDPLNS is xdp_lns's own cost per packet on the golden frames:
// upstream a data message of the session to a host behind dp-b,
// downstream a packet from there to the subscriber, both families. The
// kernel runs the program (BPF_PROG_TEST_RUN) and times it itself
// (BPF_STATS_RUN_TIME, the counters bras bench forward reads from the
// attached programs), so ns/packet is the program alone, without the
// system call, and a change to one path can be measured without the lab.
// "cached" runs with the IPv6 next-hop cache on (every run a hit), as the
// daemon loads it; the others with it off.
func BenchmarkXDPLNS(b *testing.B) {
	w := newTestWorld(b)
	objs := lnsLoad(b, w)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Skipf("BPF run-time statistics: %v", err)
	}
	defer stats.Close()
	for _, bc := range []struct {
		name    string
		ifindex int
		frame   []byte
		admit   uint32
	}{
		{"up/ipv4", w.ifA, lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsUDP(lnsSub, lnsNet, 64))), 0},
		{"up/ipv6", w.ifA, lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(lns6UDP(lns6Link, lns6Net, 64))), 0},
		{"up/ipv6/cached", w.ifA, lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(lns6UDP(lns6Link, lns6Net, 64))), 1},
		{"down/ipv4", w.ifB, lnsFromNet(lnsUDP(lnsNet, lnsSub, 64)), 0},
		{"down/ipv6", w.ifB, lns6FromNet(lns6UDP(lns6Net, lns6Link, 64)), 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := lnsDpConfig{L2tpPort: be16(1701), SlowIfindex: uint32(w.ifA), Fib6Admit: bc.admit}
			if err := objs.Settings.Put(uint32(0), cfg); err != nil {
				b.Fatal(err)
			}
			if verdict, _ := w.run(b, objs.XdpLns, bc.ifindex, bc.frame); verdict != xdpRedirect {
				b.Fatalf("verdict %d, want %d (redirect)", verdict, xdpRedirect)
			}
			before, err := objs.XdpLns.Stats()
			if err != nil {
				b.Fatal(err)
			}
			err = w.ns.Do(func() error {
				out := make([]byte, len(bc.frame)+256)
				opts := &ebpf.RunOptions{
					Data:    bc.frame,
					DataOut: out,
					Context: xdpMD{DataEnd: uint32(len(bc.frame)), IngressIfindex: uint32(bc.ifindex)},
				}
				for b.Loop() {
					if _, err := objs.XdpLns.Run(opts); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			after, err := objs.XdpLns.Stats()
			if err != nil {
				b.Fatal(err)
			}
			if n := after.RunCount - before.RunCount; n > 0 {
				b.ReportMetric(float64((after.Runtime-before.Runtime).Nanoseconds())/float64(n), "ns/packet")
			}
		})
	}
}
