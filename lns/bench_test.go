package lns

// Benchmarks of the LNS forwarding path (DESIGN.md sections 4 and 8). Run:
//
//	go test -run '^$' -bench 'Decap|Encap' -benchtime 2s ./lns/
//
// The in-memory ones replace the TUN and the UDP socket with fakes that cost
// nothing, so they measure the data plane itself; the Netns ones use a real
// TUN device and a real UDP socket in a network namespace (root only).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/internal/tun"
	"github.com/bras-project/bras/internal/udpio"
)

var dpBenchSizes = []int{64, 1400}

// dpCountTUN is a TUN that accepts every write and counts it; its reads block
// until the deadline is moved.
type dpCountTUN struct {
	written atomic.Uint64
	release chan struct{}
}

func (c *dpCountTUN) ReadBatch([][]byte, []int, int) (int, error) {
	<-c.release
	return 0, errors.New("closed")
}

func (c *dpCountTUN) WriteBatch(bufs [][]byte, _ int) (int, error) {
	c.written.Add(uint64(len(bufs)))
	return len(bufs), nil
}

func (c *dpCountTUN) SetReadDeadline(time.Time) error {
	select {
	case <-c.release:
	default:
		close(c.release)
	}
	return nil
}

func dpReportPPS(b *testing.B, packets uint64, d time.Duration) {
	b.ReportMetric(float64(packets)/d.Seconds(), "pkts/s")
}

// BenchmarkDecap is the upstream path in memory: L2TP data message →
// HandleDatagram (header parse, session lookup, PPP and IPv4 checks,
// anti-spoofing, rate limit, copy into a pooled buffer, queue) → the TUN
// writer goroutine's batched write. One op is one packet; pkts/s counts
// packets the (fake) TUN accepted.
func BenchmarkDecap(b *testing.B) {
	for _, size := range dpBenchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			tn := &dpCountTUN{release: make(chan struct{})}
			d, err := NewDataPlane(DataPlaneConfig{TUN: []TUNQueue{tn}, Conn: &dpDiscardConn{}})
			if err != nil {
				b.Fatal(err)
			}
			f, _ := NewFlow(FlowConfig{LocalTunnelID: 10, LocalSessionID: 20, PeerTunnelID: 7, PeerSessionID: 9,
				Peer: dpLACPeer, Up: Rate{Kbps: 1e9}}) // charged, never limiting
			d.Add(f)
			d.SetAddr(f, dpSubAddr)
			msg := dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, size))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for d.HandleDatagram(msg) == DropQueueFull {
					runtime.Gosched() // the writer is behind: let it run
				}
			}
			for tn.written.Load() < uint64(b.N) {
				runtime.Gosched()
			}
			el := time.Since(start)
			b.StopTimer()
			dpReportPPS(b, tn.written.Load(), el)
			cancel()
			<-done
			drops := d.Stats().Drops
			b.ReportMetric(float64(drops[DropQueueFull])/float64(b.N), "retries/op")
			drops[DropQueueFull] = 0
			if drops != ([NumDropReasons]uint64{}) {
				b.Fatalf("unexpected drops: %v", drops)
			}
		})
	}
}

// dpReplayTUN is a TUN whose every read returns a full batch of the same
// packets, which were written once into the buffers' payload area (encap
// only writes the headroom, so they stay intact), until limit packets.
type dpReplayTUN struct {
	pkt   []byte
	limit int
	done  int
	ready bool
}

func (r *dpReplayTUN) ReadBatch(bufs [][]byte, sizes []int, off int) (int, error) {
	if r.done >= r.limit {
		return 0, errors.New("replay done")
	}
	if !r.ready {
		for i := range bufs {
			copy(bufs[i][off:], r.pkt)
		}
		r.ready = true
	}
	n := min(len(bufs), r.limit-r.done)
	for i := 0; i < n; i++ {
		sizes[i] = len(r.pkt)
	}
	r.done += n
	return n, nil
}

func (r *dpReplayTUN) WriteBatch(bufs [][]byte, _ int) (int, error) { return len(bufs), nil }
func (r *dpReplayTUN) SetReadDeadline(time.Time) error              { return nil }

// BenchmarkEncap is the downstream path in memory: a batch read from the
// TUN → per packet IPv4 check, lock-free address lookup, rate limit, L2TP
// and PPP headers written in the headroom → one batched send. One op is one
// packet.
func BenchmarkEncap(b *testing.B) {
	for _, size := range dpBenchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			conn := &dpDiscardConn{}
			d, err := NewDataPlane(DataPlaneConfig{TUN: []TUNQueue{&dpCountTUN{release: make(chan struct{})}}, Conn: conn})
			if err != nil {
				b.Fatal(err)
			}
			// A full table, so the lookup is not of a lonely entry.
			for i := 0; i < 60000; i++ {
				f, _ := NewFlow(FlowConfig{PeerTunnelID: 7, PeerSessionID: uint16(i + 1), Peer: dpLACPeer, Down: Rate{Kbps: 1e9}}) // 1 Tbit/s: charged, never limiting
				if err := d.SetAddr(f, netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})); err != nil && !errors.Is(err, ErrBadKey) {
					b.Fatal(err)
				}
			}
			w := newEncapWorker(d)
			r := &dpReplayTUN{pkt: dpIPv4UDP(dpHostAddr, netip.MustParseAddr("100.64.0.10"), size), limit: b.N}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			err = w.run(context.Background(), r)
			el := time.Since(start)
			b.StopTimer()
			if err == nil || conn.n != b.N {
				b.Fatalf("run = %v; sent %d of %d; drops %v", err, conn.n, b.N, d.Stats().Drops)
			}
			dpReportPPS(b, uint64(conn.n), el)
		})
	}
}

// dpBenchNetns is one namespace with a real TUN device (forwarding on, a
// blackhole for the upstream host) and sockets opened inside it.
type dpBenchNetns struct {
	ns   *testenv.Netns
	dev  *tun.Device
	link *tun.Link
}

func newDPBenchNetns(b *testing.B, queues int) *dpBenchNetns {
	testenv.RequireRoot(b)
	e := &dpBenchNetns{ns: testenv.NewNetns(b, "bench")}
	e.ns.MustRun(b, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	e.ns.MustRun(b, "ip", "route", "add", "blackhole", "198.51.100.0/24")
	if err := e.ns.Do(func() error {
		var err error
		if e.dev, err = tun.Open("brb%d", queues); err != nil {
			return err
		}
		if e.link, err = tun.NewLink(nil, e.dev.Name()); err != nil {
			return err
		}
		if err := e.link.Up(1500); err != nil {
			return err
		}
		if err := e.link.AddRoute(netip.MustParsePrefix("100.64.0.10/32")); err != nil {
			return err
		}
		return e.link.AddAddr(netip.MustParsePrefix("10.255.0.1/32"))
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.dev.Close() })
	return e
}

func (e *dpBenchNetns) queues() []TUNQueue { return TUNQueues(e.dev) }

type dpNetnsCase struct {
	name         string
	size, queues int
}

// dpNetnsCases are the packet sizes times one or two TUN queues (workers).
func dpNetnsCases() []dpNetnsCase {
	var cs []dpNetnsCase
	for _, size := range dpBenchSizes {
		for _, q := range []int{1, 2} {
			cs = append(cs, dpNetnsCase{fmt.Sprintf("%dB/queues=%d", size, q), size, q})
		}
	}
	return cs
}

func (e *dpBenchNetns) listen(b *testing.B, addr string) *net.UDPConn {
	var c *net.UDPConn
	if err := e.ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkDecapNetns is the upstream path onto a real TUN device: one op is
// one data message given to HandleDatagram; pkts/s counts packets the
// kernel accepted from the TUN (it routes them to a blackhole).
func BenchmarkDecapNetns(b *testing.B) {
	for _, bc := range dpNetnsCases() {
		b.Run(bc.name, func(b *testing.B) {
			size := bc.size
			e := newDPBenchNetns(b, bc.queues)
			d, err := NewDataPlane(DataPlaneConfig{TUN: e.queues(), Conn: &dpDiscardConn{}})
			if err != nil {
				b.Fatal(err)
			}
			f, _ := NewFlow(FlowConfig{LocalTunnelID: 10, LocalSessionID: 20, PeerTunnelID: 7, PeerSessionID: 9,
				Peer: dpLACPeer, Up: Rate{Kbps: 1e9}})
			d.Add(f)
			d.SetAddr(f, dpSubAddr)
			msg := dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, size))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for d.HandleDatagram(msg) == DropQueueFull {
					runtime.Gosched()
				}
			}
			for {
				s := d.Stats()
				if s.TUNWritten+s.Drops[DropTUNWrite] >= uint64(b.N) {
					break
				}
				runtime.Gosched()
			}
			el := time.Since(start)
			b.StopTimer()
			s := d.Stats()
			dpReportPPS(b, s.TUNWritten, el)
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if s.TUNWritten != uint64(b.N) {
				b.Fatalf("TUN accepted %d of %d packets (drops %v)", s.TUNWritten, b.N, s.Drops)
			}
		})
	}
}

// BenchmarkEncapNetns is the downstream path from a real TUN device to a
// real UDP socket: a sender in the namespace pushes b.N packets (batched
// sendmmsg) to the subscriber address, the kernel routes them into the TUN,
// the data plane reads them in batches, encapsulates them and sends them to
// a LAC socket on loopback. pkts/s counts packets sent to the LAC; the
// kernel drops what the TUN queue cannot hold, and "delivered" is the share
// of the offered packets that made it.
func BenchmarkEncapNetns(b *testing.B) {
	for _, bc := range dpNetnsCases() {
		b.Run(bc.name, func(b *testing.B) {
			size := bc.size
			e := newDPBenchNetns(b, bc.queues)
			lac := e.listen(b, "127.0.0.1:0")
			own := e.listen(b, "127.0.0.1:0")
			sender := e.listen(b, "10.255.0.1:0")
			uc, _ := udpio.NewConn(own)
			d, err := NewDataPlane(DataPlaneConfig{TUN: e.queues(), Conn: uc})
			if err != nil {
				b.Fatal(err)
			}
			f, _ := NewFlow(FlowConfig{PeerTunnelID: 7, PeerSessionID: 9,
				Peer: lac.LocalAddr().(*net.UDPAddr).AddrPort(), Down: Rate{Kbps: 1e9}})
			d.Add(f)
			if err := d.SetAddr(f, dpSubAddr); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()

			sc, _ := udpio.NewConn(sender)
			batch := udpio.NewBatch(64, 0)
			payload := make([]byte, size-28)
			to := &net.UDPAddr{IP: dpSubAddr.AsSlice(), Port: 9}
			for i := range batch.Msgs {
				batch.Msgs[i].Buffers[0] = payload
				batch.Msgs[i].Addr = to
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := dpBlast(b, sc, batch)
			// Wait until the data plane has drained what the TUN holds.
			last, lastChange := dpSettle(func() uint64 { return d.Stats().Encapsulated })
			el := lastChange.Sub(start)
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			dpReportPPS(b, last, el)
			b.ReportMetric(100*float64(last)/float64(b.N), "delivered%")
		})
	}
}

// BenchmarkAddrTableLookup is the downstream lookup in a table of 64000
// sessions, from every core at once (RunParallel): no lock, no allocation.
func BenchmarkAddrTableLookup(b *testing.B) {
	tab := NewAddrTable(65536)
	f := dpTestFlow(b, 1)
	for i := 1; i <= 64000; i++ {
		if err := tab.Insert(netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)}), f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		k := uint32(0x64400001)
		for pb.Next() {
			if tab.Lookup4(k) == nil {
				b.Error("miss")
				return
			}
			if k++; k > 0x64400000+64000 {
				k = 0x64400001
			}
		}
	})
}

// BenchmarkUpstreamUDPNetns is the whole upstream path on real sockets: a
// LAC socket sends b.N L2TP data messages (sendmmsg, 64 a call) to the LNS
// socket on loopback; a reader like the l2tp endpoint's takes them with
// recvmmsg and calls HandleDatagram; the TUN writers write the packets to a
// real TUN device (the kernel routes them to a blackhole). pkts/s counts
// packets the TUN accepted; "delivered" is their share of those sent (the
// rest overflowed the LNS socket).
func BenchmarkUpstreamUDPNetns(b *testing.B) {
	for _, bc := range dpNetnsCases() {
		b.Run(bc.name, func(b *testing.B) {
			e := newDPBenchNetns(b, bc.queues)
			lnsConn := e.listen(b, "127.0.0.1:1701")
			lacConn := e.listen(b, "127.0.0.1:0")
			lnsConn.SetReadBuffer(4 << 20)
			d, err := NewDataPlane(DataPlaneConfig{TUN: e.queues(), Conn: &dpDiscardConn{}})
			if err != nil {
				b.Fatal(err)
			}
			f, _ := NewFlow(FlowConfig{LocalTunnelID: 10, LocalSessionID: 20, PeerTunnelID: 7, PeerSessionID: 9,
				Peer: lacConn.LocalAddr().(*net.UDPAddr).AddrPort(), Up: Rate{Kbps: 1e9}})
			d.Add(f)
			d.SetAddr(f, dpSubAddr)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			uc, _ := udpio.NewConn(lnsConn)
			readerDone := make(chan struct{})
			go func() {
				defer close(readerDone)
				rb := udpio.NewBatch(64, 2048)
				for {
					n, err := uc.ReadBatch(rb)
					if err != nil {
						return
					}
					for i := 0; i < n; i++ {
						d.HandleDatagram(rb.Data(i))
					}
				}
			}()

			msg := dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, bc.size))
			sc, _ := udpio.NewConn(lacConn)
			batch := udpio.NewBatch(64, 0)
			for i := range batch.Msgs {
				batch.Msgs[i].Buffers[0] = msg
				batch.Msgs[i].Addr = lnsConn.LocalAddr()
			}
			b.ReportAllocs()
			b.SetBytes(int64(bc.size))
			b.ResetTimer()
			start := dpBlast(b, sc, batch)
			last, lastChange := dpSettle(func() uint64 { return d.Stats().TUNWritten })
			el := lastChange.Sub(start)
			b.StopTimer()
			lnsConn.Close()
			<-readerDone
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			dpReportPPS(b, last, el)
			b.ReportMetric(100*float64(last)/float64(b.N), "delivered%")
		})
	}
}

// dpBlast sends b.N datagrams from batch (its buffers set by the caller)
// with sendmmsg and returns when it started.
func dpBlast(b *testing.B, sc *udpio.Conn, batch *udpio.Batch) time.Time {
	start := time.Now()
	for sent := 0; sent < b.N; {
		batch.Len = min(len(batch.Msgs), b.N-sent)
		n, err := sc.WriteBatch(batch)
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	return start
}

// dpSettle waits until counter has not moved for 50 ms and returns its
// value and when it last moved.
func dpSettle(counter func() uint64) (uint64, time.Time) {
	last, lastChange := counter(), time.Now()
	for time.Since(lastChange) < 50*time.Millisecond {
		time.Sleep(time.Millisecond)
		if n := counter(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	return last, lastChange
}
