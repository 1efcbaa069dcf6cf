package lns

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/internal/tun"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// ---- fakes -----------------------------------------------------------------

// dpFakeTUN plays a TUN queue: ReadBatch returns the packets pushed with
// inject, WriteBatch records what the data plane writes.
type dpFakeTUN struct {
	in      chan []byte
	release chan struct{}
	mu      sync.Mutex
	written [][]byte
	wrote   chan struct{}
	once    sync.Once
}

func newDPFakeTUN() *dpFakeTUN {
	return &dpFakeTUN{in: make(chan []byte, 1024), release: make(chan struct{}), wrote: make(chan struct{}, 1024)}
}

func (f *dpFakeTUN) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case p := <-f.in:
		sizes[0] = copy(bufs[0][offset:], p)
	case <-f.release:
		return 0, os.ErrDeadlineExceeded
	}
	n := 1
	for n < len(bufs) {
		select {
		case p := <-f.in:
			sizes[n] = copy(bufs[n][offset:], p)
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

func (f *dpFakeTUN) WriteBatch(bufs [][]byte, offset int) (int, error) {
	f.mu.Lock()
	for _, b := range bufs {
		f.written = append(f.written, bytes.Clone(b[offset:]))
	}
	f.mu.Unlock()
	for range bufs {
		f.wrote <- struct{}{}
	}
	return len(bufs), nil
}

func (f *dpFakeTUN) SetReadDeadline(t time.Time) error {
	if !t.IsZero() && t.Before(time.Now()) {
		f.once.Do(func() { close(f.release) })
	}
	return nil
}

// waitWritten waits for n packets written to the TUN and returns them all.
func (f *dpFakeTUN) waitWritten(t *testing.T, n int) [][]byte {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-f.wrote:
		case <-time.After(3 * time.Second):
			t.Fatalf("%d of %d packets written to the TUN after 3 s", i, n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written
}

// dpFakeConn records the datagrams the data plane sends.
type dpFakeConn struct {
	mu   sync.Mutex
	sent []dpSentMsg
	sig  chan struct{}
}

type dpSentMsg struct {
	To   string
	Data []byte
}

func newDPFakeConn() *dpFakeConn { return &dpFakeConn{sig: make(chan struct{}, 1024)} }

func (c *dpFakeConn) WriteBatch(b *udpio.Batch) (int, error) {
	c.mu.Lock()
	for _, m := range b.Msgs[:b.Len] {
		c.sent = append(c.sent, dpSentMsg{To: m.Addr.String(), Data: bytes.Clone(m.Buffers[0])})
	}
	c.mu.Unlock()
	for range b.Len {
		c.sig <- struct{}{}
	}
	return b.Len, nil
}

func (c *dpFakeConn) waitSent(t *testing.T, n int) []dpSentMsg {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-c.sig:
		case <-time.After(3 * time.Second):
			t.Fatalf("%d of %d datagrams sent after 3 s", i, n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// dpClock is an injected clock moved by hand.
type dpClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *dpClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *dpClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ---- packets ---------------------------------------------------------------

var (
	dpSubAddr  = netip.MustParseAddr("100.64.0.10")
	dpHostAddr = netip.MustParseAddr("198.51.100.7")
	dpLACPeer  = netip.MustParseAddrPort("192.0.2.1:1701")
)

// dpIPv4UDP builds an IPv4/UDP packet (RFC 791, RFC 768) of total length size
// (at least 28) with a valid header checksum and UDP checksum 0.
func dpIPv4UDP(src, dst netip.Addr, size int) []byte {
	b := make([]byte, size)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(size))
	b[8], b[9] = 64, 17
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], dpChecksum(b[:20]))
	binary.BigEndian.PutUint16(b[20:22], 40000)
	binary.BigEndian.PutUint16(b[22:24], 7)
	binary.BigEndian.PutUint16(b[24:26], uint16(size-20))
	for i := 28; i < size; i++ {
		b[i] = byte(i)
	}
	return b
}

func dpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

func dpCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// newDPTestPlane makes a data plane on fakes with one session: LNS IDs (10,
// 20), LAC IDs (7, 9), subscriber address dpSubAddr.
func newDPTestPlane(t testing.TB, cfg DataPlaneConfig, fc FlowConfig) (*DataPlane, *Flow, *dpFakeTUN, *dpFakeConn) {
	t.Helper()
	tn, conn := newDPFakeTUN(), newDPFakeConn()
	cfg.TUN, cfg.Conn = []TUNQueue{tn}, conn
	d, err := NewDataPlane(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fc.LocalTunnelID, fc.LocalSessionID = 10, 20
	fc.PeerTunnelID, fc.PeerSessionID = 7, 9
	fc.Peer = dpLACPeer
	f, err := NewFlow(fc)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add(f); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAddr(f, dpSubAddr); err != nil {
		t.Fatal(err)
	}
	return d, f, tn, conn
}

// run starts d and stops it (checking that Run returns) at the end of t.
func dpRun(t *testing.T, d *DataPlane) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		case <-time.After(3 * time.Second):
			t.Error("Run did not return 3 s after its context was cancelled")
		}
	})
}

// dpTake plays a TUN writer for one packet: it takes the next upstream
// packet from the queue and releases its slot. The returned slice aliases
// the slot (valid until the next Decap); nil when nothing is queued.
func dpTake(d *DataPlane) []byte {
	var pos [1]uint64
	if d.up.take(pos[:]) == 0 {
		return nil
	}
	p := d.up.data(pos[0])
	d.up.release(pos[0])
	return p
}

// ---- golden ----------------------------------------------------------------

// TestDecapGolden feeds whole L2TP data messages, laid out as in RFC 2661
// section 3.1 and as a LAC sends them (xl2tpd and Cisco send FF 03 and no
// Length on data messages), and checks the exact IPv4 packet written to the
// TUN.
func TestDecapGolden(t *testing.T) {
	ip := dpIPv4UDP(dpSubAddr, dpHostAddr, 40)
	tests := []struct {
		name string
		msg  []byte
	}{
		{"no L, no S", dpCat(
			[]byte{0x00, 0x02}, // T=0 L=0 S=0 O=0 P=0, Ver=2
			[]byte{0x00, 0x0a}, // Tunnel ID 10 (the LNS's)
			[]byte{0x00, 0x14}, // Session ID 20 (the LNS's)
			[]byte{0xff, 0x03}, // PPP address, control (RFC 1662 3.1)
			[]byte{0x00, 0x21}, // PPP protocol: IPv4
			ip)},
		{"L and S set", dpCat(
			[]byte{0x48, 0x02}, // L=1 S=1, Ver=2
			[]byte{0x00, 0x38}, // Length 56 = 12 + 4 + 40
			[]byte{0x00, 0x0a}, // Tunnel ID 10
			[]byte{0x00, 0x14}, // Session ID 20
			[]byte{0x00, 0x05}, // Ns 5
			[]byte{0x00, 0x00}, // Nr 0
			[]byte{0xff, 0x03, 0x00, 0x21},
			ip)},
		{"offset padding, ACFC and PFC", dpCat(
			[]byte{0x02, 0x02}, // O=1, Ver=2
			[]byte{0x00, 0x0a}, // Tunnel ID 10
			[]byte{0x00, 0x14}, // Session ID 20
			[]byte{0x00, 0x02}, // Offset Size 2
			[]byte{0x00, 0x00}, // Offset Pad
			[]byte{0x21},       // PPP protocol IPv4, compressed (RFC 1661 6.5)
			ip)},
		{"link padding after the IPv4 packet", dpCat(
			[]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21},
			ip,
			[]byte{0, 0, 0, 0}, // trailing octets beyond Total Length
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, f, tn, _ := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{})
			dpRun(t, d)
			if r := d.HandleDatagram(tt.msg); r != DropNone {
				t.Fatalf("HandleDatagram = %v, want forwarded", r)
			}
			got := tn.waitWritten(t, 1)
			if diff := cmp.Diff([][]byte{ip}, got); diff != "" {
				t.Errorf("TUN got (-want +got):\n%s", diff)
			}
			want := FlowCounters{InOctets: 40, InPackets: 1}
			if diff := cmp.Diff(want, f.Counters()); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEncapGolden reads a packet for the subscriber from the TUN and checks
// the exact data message sent to the LAC: its tunnel and session IDs, Ns
// when the LAC asked for sequencing, FF 03 00 21, the packet.
func TestEncapGolden(t *testing.T) {
	ip := dpIPv4UDP(dpHostAddr, dpSubAddr, 60)
	tests := []struct {
		name string
		seq  bool
		want [][]byte
	}{
		{"no sequencing", false, [][]byte{
			dpCat([]byte{0x00, 0x02}, // T=0 L=0 S=0, Ver=2
				[]byte{0x00, 0x07}, // Tunnel ID 7 (the LAC's)
				[]byte{0x00, 0x09}, // Session ID 9 (the LAC's)
				[]byte{0xff, 0x03, 0x00, 0x21},
				ip),
			dpCat([]byte{0x00, 0x02, 0x00, 0x07, 0x00, 0x09, 0xff, 0x03, 0x00, 0x21}, ip),
		}},
		{"sequencing required (RFC 2661 5.4)", true, [][]byte{
			dpCat([]byte{0x08, 0x02}, // S=1, Ver=2
				[]byte{0x00, 0x07}, // Tunnel ID 7
				[]byte{0x00, 0x09}, // Session ID 9
				[]byte{0x00, 0x00}, // Ns 0
				[]byte{0x00, 0x00}, // Nr 0 (reserved in data messages)
				[]byte{0xff, 0x03, 0x00, 0x21},
				ip),
			dpCat([]byte{0x08, 0x02, 0x00, 0x07, 0x00, 0x09},
				[]byte{0x00, 0x01}, // Ns 1: counted per session
				[]byte{0x00, 0x00, 0xff, 0x03, 0x00, 0x21},
				ip),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, f, tn, conn := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{Sequencing: tt.seq})
			dpRun(t, d)
			tn.in <- ip
			tn.in <- ip
			sent := conn.waitSent(t, 2)
			want := []dpSentMsg{{dpLACPeer.String(), tt.want[0]}, {dpLACPeer.String(), tt.want[1]}}
			if diff := cmp.Diff(want, sent); diff != "" {
				t.Errorf("sent (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(FlowCounters{OutOctets: 120, OutPackets: 2}, f.Counters()); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
			// The worker counts a batch after the socket took it.
			dpWaitFor(t, "DataPlaneStats.Encapsulated == 2", func() bool { return d.Stats().Encapsulated == 2 })
		})
	}
}

// ---- decisions -------------------------------------------------------------

// TestDecapDecisions checks what happens to each kind of PPP frame of a
// session: IPv4 from the subscriber's address is forwarded, a spoofed or
// broken one is dropped with its reason, control protocols go to the hook.
func TestDecapDecisions(t *testing.T) {
	good := dpIPv4UDP(dpSubAddr, dpHostAddr, 28)
	spoof := dpIPv4UDP(netip.MustParseAddr("100.64.0.11"), dpHostAddr, 28)
	badLen := dpIPv4UDP(dpSubAddr, dpHostAddr, 28)
	binary.BigEndian.PutUint16(badLen[2:4], 29)                               // Total Length past the end
	lcp := []byte{0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef} // LCP Echo-Request
	tests := []struct {
		name      string
		frame     []byte
		want      DropReason
		wantProto ppp.Protocol // for the control hook
	}{
		{"IPv4 from the subscriber", dpCat([]byte{0xff, 0x03, 0x00, 0x21}, good), DropNone, 0},
		{"IPv4 from another address", dpCat([]byte{0xff, 0x03, 0x00, 0x21}, spoof), DropSpoof, 0},
		{"Total Length past the end", dpCat([]byte{0xff, 0x03, 0x00, 0x21}, badLen), DropMalformed, 0},
		{"IPv4 header cut short", dpCat([]byte{0xff, 0x03, 0x00, 0x21}, good[:19]), DropMalformed, 0},
		{"not version 4", dpCat([]byte{0xff, 0x03, 0x00, 0x21, 0x65}, good[1:]), DropMalformed, 0},
		{"empty frame", nil, DropMalformed, 0},
		{"only address and control", []byte{0xff, 0x03}, DropMalformed, 0},
		{"one octet of a two-octet protocol", []byte{0xff, 0x03, 0xc0}, DropMalformed, 0},
		{"LCP to the control plane", dpCat([]byte{0xff, 0x03}, lcp), DropNone, 0xc021},
		{"IPCP without address and control", []byte{0x80, 0x21, 0x01, 0x01, 0x00, 0x04}, DropNone, 0x8021},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotProto ppp.Protocol
			var gotFrame []byte
			cfg := DataPlaneConfig{Control: func(f *Flow, proto ppp.Protocol, frame []byte) {
				gotProto, gotFrame = proto, bytes.Clone(frame)
			}}
			d, f, _, _ := newDPTestPlane(t, cfg, FlowConfig{})
			if got := d.Decap(f, tt.frame); got != tt.want {
				t.Errorf("Decap = %v, want %v", got, tt.want)
			}
			if gotProto != tt.wantProto {
				t.Errorf("control hook got protocol %v, want %v", gotProto, tt.wantProto)
			}
			if tt.wantProto != 0 {
				wantFrame := bytes.TrimPrefix(tt.frame, []byte{0xff, 0x03})
				if !bytes.Equal(gotFrame, wantFrame) {
					t.Errorf("control hook got % x, want % x", gotFrame, wantFrame)
				}
			}
			if tt.want != DropNone {
				if n := d.Stats().Drops[tt.want]; n != 1 {
					t.Errorf("DataPlaneStats.Drops[%v] = %d, want 1", tt.want, n)
				}
				if n := f.Counters().Drops; n != 1 {
					t.Errorf("flow drops = %d, want 1", n)
				}
			}
		})
	}
}

// TestDecapBeforeIPCP drops IPv4 of a session that has no address yet, and
// without a Control hook drops control frames as DropProtocol.
func TestDecapBeforeIPCP(t *testing.T) {
	d, err := NewDataPlane(DataPlaneConfig{TUN: []TUNQueue{newDPFakeTUN()}, Conn: newDPFakeConn()})
	if err != nil {
		t.Fatal(err)
	}
	f := dpTestFlow(t, 1)
	if err := d.Add(f); err != nil {
		t.Fatal(err)
	}
	if r := d.Decap(f, dpCat([]byte{0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, 28))); r != DropSpoof {
		t.Errorf("IPv4 before an address is bound: %v, want %v", r, DropSpoof)
	}
	if r := d.Decap(f, []byte{0xc0, 0x21, 0x01, 0x01, 0x00, 0x04}); r != DropProtocol {
		t.Errorf("LCP without a Control hook: %v, want %v", r, DropProtocol)
	}
	if r := d.Decap(nil, []byte{0xc0, 0x21, 0x01, 0x01, 0x00, 0x04}); r != DropNoSession {
		t.Errorf("frame for a session without a flow: %v, want %v", r, DropNoSession)
	}
}

// TestEncapDecisions checks the downstream drops: no session for the
// destination, IPv6, a broken header; each counted by reason.
func TestEncapDecisions(t *testing.T) {
	d, _, tn, conn := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{})
	dpRun(t, d)
	noSession := dpIPv4UDP(dpHostAddr, netip.MustParseAddr("100.64.0.99"), 28)
	ipv6 := make([]byte, 48) // to 2001:db8::, no session's
	ipv6[0], ipv6[24], ipv6[25], ipv6[26], ipv6[27] = 0x60, 0x20, 0x01, 0x0d, 0xb8
	other := make([]byte, 48) // IP version 5
	other[0] = 0x50
	mld := make([]byte, 48) // the kernel's own MLD report on the TUN, to ff02::16
	mld[0], mld[24], mld[25], mld[39] = 0x60, 0xff, 0x02, 0x16
	broken := dpIPv4UDP(dpHostAddr, dpSubAddr, 28)[:24]
	good := dpIPv4UDP(dpHostAddr, dpSubAddr, 28)
	for _, p := range [][]byte{noSession, ipv6, other, mld, broken, good} {
		tn.in <- p
	}
	conn.waitSent(t, 1) // the good one, after the others
	// The worker counts a batch after the socket took it.
	dpWaitFor(t, "the batch to be counted", func() bool { return d.Stats().Encapsulated == 1 })
	want := DataPlaneStats{Encapsulated: 1, EncapsulatedBytes: 28} // the IP packet's octets
	want.Drops[DropNoSession] = 2
	want.Drops[DropProtocol] = 2
	want.Drops[DropMalformed] = 1
	if diff := cmp.Diff(want, d.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestRemoveStopsForwarding: once a session is removed, its address and IDs
// lead nowhere and its packets count as no-session drops.
func TestRemoveStopsForwarding(t *testing.T) {
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{})
	d.Remove(f)
	if d.Lookup(dpSubAddr) != nil {
		t.Error("address still bound after Remove")
	}
	msg := dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, 28))
	if r := d.HandleDatagram(msg); r != DropNoSession {
		t.Errorf("data message of a removed session: %v, want %v", r, DropNoSession)
	}
	if r := d.HandleDatagram([]byte{0xc8, 0x02, 0x00, 0x0c, 0, 0x0a, 0, 0, 0, 0, 0, 0}); r != DropControl {
		t.Errorf("control message (ZLB): %v, want %v", r, DropControl)
	}
	if r := d.HandleDatagram([]byte{0x00, 0x03, 0x00}); r != DropMalformed {
		t.Errorf("truncated header: %v, want %v", r, DropMalformed)
	}
}

// TestSetAddrRoutes checks the per-subscriber route and the rebinding of an
// address.
func TestSetAddrRoutes(t *testing.T) {
	r := &dpFakeRouter{}
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{Routes: r}, FlowConfig{})
	other := netip.MustParseAddr("100.64.0.20")
	if err := d.SetAddr(f, other); err != nil {
		t.Fatal(err)
	}
	f2 := dpTestFlow(t, 2)
	if err := d.SetAddr(f2, other); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("binding an address in use: %v, want ErrAddrInUse", err)
	}
	d.Remove(f)
	want := []string{"add 100.64.0.10/32", "del 100.64.0.10/32", "add 100.64.0.20/32", "del 100.64.0.20/32"}
	if diff := cmp.Diff(want, r.ops); diff != "" {
		t.Errorf("route operations (-want +got):\n%s", diff)
	}
	if d.Lookup(dpSubAddr) != nil || d.Lookup(other) != nil || f.Addr().IsValid() {
		t.Error("addresses still bound after Remove")
	}
}

type dpFakeRouter struct{ ops []string }

func (r *dpFakeRouter) AddRoute(p netip.Prefix) error {
	r.ops = append(r.ops, "add "+p.String())
	return nil
}
func (r *dpFakeRouter) DelRoute(p netip.Prefix) error {
	r.ops = append(r.ops, "del "+p.String())
	return nil
}

// TestRateLimitBothWays runs both token buckets on the injected clock: a
// burst passes, the rest is dropped and counted, time refills the bucket,
// and a CoA (SetRates) takes effect on the next packet.
func TestRateLimitBothWays(t *testing.T) {
	clk := &dpClock{t: time.Unix(1000, 0)}
	rate := Rate{Kbps: 80, Burst: 2000} // 10 octets/ms
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{Now: clk.Now}, FlowConfig{Up: rate, Down: rate})
	up := dpCat([]byte{0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, 1000))
	down := dpIPv4UDP(dpHostAddr, dpSubAddr, 1000)
	w := newEncapWorker(d)
	encapOnce := func() DropReason {
		copy(w.bufs[0][DataHeadroom:], down)
		_, _, r := d.encap(w.bufs[0], len(down), d.clock())
		return r
	}
	drain := func() { // play the TUN writer
		for dpTake(d) != nil {
		}
	}

	for i, want := range []DropReason{DropNone, DropNone, DropRateLimit} {
		if got := d.Decap(f, up); got != want {
			t.Errorf("upstream packet %d at t=0: %v, want %v", i, got, want)
		}
		if got := encapOnce(); got != want {
			t.Errorf("downstream packet %d at t=0: %v, want %v", i, got, want)
		}
	}
	drain()
	clk.Add(99 * time.Millisecond) // 990 octets: not enough
	if d.Decap(f, up) != DropRateLimit || encapOnce() != DropRateLimit {
		t.Error("a 1000-octet packet passed after 990 octets of refill")
	}
	clk.Add(time.Millisecond)
	if d.Decap(f, up) != DropNone || encapOnce() != DropNone {
		t.Error("a 1000-octet packet was dropped after 1000 octets of refill")
	}
	drain()
	// CoA: lift the limit.
	f.SetRates(Rate{}, Rate{})
	for i := 0; i < 10; i++ {
		if d.Decap(f, up) != DropNone || encapOnce() != DropNone {
			t.Fatal("a packet was dropped after the limit was lifted")
		}
		drain()
	}
	if u, dn := f.Rates(); u != (Rate{}) || dn != (Rate{}) {
		t.Errorf("Rates after lifting = %v, %v; want unlimited", u, dn)
	}
	c := f.Counters()
	if c.InPackets != 13 || c.OutPackets != 13 || c.Drops != 4 || c.In6Packets != 0 || c.Out6Packets != 0 {
		t.Errorf("counters %+v, want 13 in, 13 out, 4 drops, none of it IPv6", c)
	}
	if n := d.Stats().Drops[DropRateLimit]; n != 4 {
		t.Errorf("DataPlaneStats.Drops[rate_limit] = %d, want 4", n)
	}
}

// TestQueueFull: when the TUN writer falls behind, Decap drops instead of
// blocking the L2TP reader, and counts it.
func TestQueueFull(t *testing.T) {
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{QueueLen: 4, Batch: 2}, FlowConfig{})
	pkt := dpCat([]byte{0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, 28))
	for i := 0; i < 4; i++ {
		if r := d.Decap(f, pkt); r != DropNone {
			t.Fatalf("packet %d: %v", i, r)
		}
	}
	if r := d.Decap(f, pkt); r != DropQueueFull {
		t.Errorf("packet beyond the queue: %v, want %v", r, DropQueueFull)
	}
	// A packet taken by a writer but not yet written still holds its slot.
	var pos [1]uint64
	if d.up.take(pos[:]) != 1 {
		t.Fatal("take found nothing")
	}
	if r := d.Decap(f, pkt); r != DropQueueFull {
		t.Errorf("packet while the writer holds the slot: %v, want %v", r, DropQueueFull)
	}
	d.up.release(pos[0])
	if r := d.Decap(f, pkt); r != DropNone {
		t.Errorf("packet after the writer released a slot: %v, want forwarded", r)
	}
	if n := d.Stats().Drops[DropQueueFull]; n != 2 {
		t.Errorf("DataPlaneStats.Drops[queue_full] = %d, want 2", n)
	}
}

// TestUpRingFIFO runs the upstream ring over many laps: packets come out in
// order, intact, and the ring is exactly its size.
func TestUpRingFIFO(t *testing.T) {
	r := newUpRing(5, 16, 1) // rounded up to 8 slots
	var pos [3]uint64
	next, want := 0, 0
	for lap := 0; lap < 100; lap++ {
		for r.put([]byte{byte(next), byte(next >> 8)}) {
			next++
		}
		if queued := next - want; queued != 8 {
			t.Fatalf("lap %d: ring took %d packets, want 8", lap, queued)
		}
		for want < next {
			n := r.take(pos[:])
			for _, p := range pos[:n] {
				if got := r.data(p); len(got) != 2 || int(got[0])|int(got[1])<<8 != want {
					t.Fatalf("lap %d: got % x, want packet %d", lap, got, want)
				}
				want++
				r.release(p)
			}
		}
	}
}

// TestUpRingConcurrent drives the ring from four producers and two
// consumers (run it with -race): every packet a producer managed to put is
// taken exactly once.
func TestUpRingConcurrent(t *testing.T) {
	r := newUpRing(64, 8, 2)
	const producers, each = 4, 20000
	var seen [producers][each]atomic.Int32
	var put, took atomic.Int64
	done := make(chan struct{})
	var cw sync.WaitGroup
	for c := 0; c < 2; c++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			var pos [16]uint64
			for {
				n := r.take(pos[:])
				for _, p := range pos[:n] {
					b := r.data(p)
					seen[b[0]][int(b[1])|int(b[2])<<8|int(b[3])<<16].Add(1)
					r.release(p)
					took.Add(1)
				}
				if n == 0 && !r.wait(done) {
					return
				}
			}
		}()
	}
	var pw sync.WaitGroup
	for p := 0; p < producers; p++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for i := 0; i < each; i++ {
				for !r.put([]byte{byte(p), byte(i), byte(i >> 8), byte(i >> 16)}) {
					runtime.Gosched() // full: let the consumers run
				}
				put.Add(1)
			}
		}()
	}
	pw.Wait()
	for took.Load() < put.Load() {
		time.Sleep(time.Millisecond)
	}
	close(done)
	cw.Wait()
	for p := range seen {
		for i := range seen[p] {
			if n := seen[p][i].Load(); n != 1 {
				t.Fatalf("packet %d of producer %d taken %d times, want once", i, p, n)
			}
		}
	}
}

// TestIdle follows Idle-Timeout: the idle time grows with the clock and is
// reset by a forwarded packet in either direction; IdleIn only by upstream.
func TestIdle(t *testing.T) {
	clk := &dpClock{t: time.Unix(1000, 0)}
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{Now: clk.Now}, FlowConfig{})
	clk.Add(30 * time.Second)
	if got := d.Idle(f); got != 30*time.Second {
		t.Errorf("Idle after 30 s = %v", got)
	}
	d.Decap(f, dpCat([]byte{0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, 28)))
	clk.Add(5 * time.Second)
	w := newEncapWorker(d)
	down := dpIPv4UDP(dpHostAddr, dpSubAddr, 28)
	copy(w.bufs[0][DataHeadroom:], down)
	d.encap(w.bufs[0], len(down), d.clock())
	clk.Add(2 * time.Second)
	if got := d.Idle(f); got != 2*time.Second {
		t.Errorf("Idle 2 s after a downstream packet = %v", got)
	}
	if got := d.IdleIn(f); got != 7*time.Second {
		t.Errorf("IdleIn 7 s after an upstream packet = %v", got)
	}
	// A dropped packet is not activity.
	d.Decap(f, dpCat([]byte{0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpHostAddr, dpHostAddr, 28)))
	if got := d.IdleIn(f); got != 7*time.Second {
		t.Errorf("IdleIn after a spoofed packet = %v, want still 7s", got)
	}
}

// ---- no allocation ---------------------------------------------------------

func TestDecapEncapAllocs(t *testing.T) {
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{Up: Rate{Kbps: 1e9}, Down: Rate{Kbps: 1e9}, Sequencing: true})
	up := dpCat([]byte{0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, 64))
	msg := dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14}, up)
	if avg := testing.AllocsPerRun(1000, func() {
		if r := d.HandleDatagram(msg); r != DropNone {
			t.Fatal(r)
		}
		if dpTake(d) == nil {
			t.Fatal("nothing queued")
		}
	}); avg != 0 {
		t.Errorf("decap allocates %.1f times per packet, want 0", avg)
	}
	if avg := testing.AllocsPerRun(1000, func() {
		if r := d.Decap(f, up); r != DropNone {
			t.Fatal(r)
		}
		if dpTake(d) == nil {
			t.Fatal("nothing queued")
		}
	}); avg != 0 {
		t.Errorf("Decap allocates %.1f times per packet, want 0", avg)
	}

	dc := &dpDiscardConn{}
	d.cfg.Conn = dc
	w := newEncapWorker(d)
	down := dpIPv4UDP(dpHostAddr, dpSubAddr, 64)
	for i := range w.bufs {
		copy(w.bufs[i][DataHeadroom:], down)
		w.sizes[i] = len(down)
	}
	if avg := testing.AllocsPerRun(100, func() { w.forward(len(w.bufs)) }); avg != 0 {
		t.Errorf("encap of a batch of %d allocates %.1f times, want 0", len(w.bufs), avg)
	}
	if dc.n != 101*len(w.bufs) {
		t.Errorf("%d datagrams sent, want %d", dc.n, 101*len(w.bufs))
	}
	drops := d.Stats().Drops
	for r, n := range drops {
		if n != 0 {
			t.Errorf("%d drops for %v during the allocation test", n, DropReason(r))
		}
	}
}

// dpDiscardConn counts datagrams and keeps nothing.
type dpDiscardConn struct{ n int }

func (c *dpDiscardConn) WriteBatch(b *udpio.Batch) (int, error) { c.n += b.Len; return b.Len, nil }

// ---- in network namespaces -------------------------------------------------

// dpNetnsLab is the LAC ── LNS ── upstream path of DESIGN.md section 7 with
// the test playing the LAC by hand: namespaces lac (10.1.0.1) and lns
// (10.1.0.2, UDP 1701) joined by a veth, lns (10.2.0.1) and upstream
// (10.2.0.2) by another. In lns the data plane runs on a real two-queue TUN
// device and a real UDP socket; upstream routes the subscriber pool
// 100.64.0.0/24 to lns, and lns routes the pool into the TUN.
type dpNetnsLab struct {
	lac, lns, up *testenv.Netns
	d            *DataPlane
	f            *Flow
	lacConn      *net.UDPConn // the LAC's socket, 10.1.0.1:1701
	lnsAddr      *net.UDPAddr
	// handled counts the data messages the LNS's socket delivered to
	// HandleDatagram (what it lost for want of buffer space is not in it).
	handled atomic.Uint64
}

func newDPNetnsLab(t *testing.T) *dpNetnsLab { return newDPNetnsLabWith(t, false) }

// newDPNetnsLabWith is newDPNetnsLab with the TUN's offloads on or off
// ([tun] offload).
func newDPNetnsLabWith(t *testing.T, offload bool) *dpNetnsLab {
	testenv.RequireRoot(t)
	l := &dpNetnsLab{
		lac: testenv.NewNetns(t, "lac"),
		lns: testenv.NewNetns(t, "lns"),
		up:  testenv.NewNetns(t, "up"),
	}
	testenv.Link(t, l.lac, "to-lns", netip.MustParsePrefix("10.1.0.1/24"), l.lns, "to-lac", netip.MustParsePrefix("10.1.0.2/24"))
	testenv.Link(t, l.lns, "to-up", netip.MustParsePrefix("10.2.0.1/24"), l.up, "to-lns", netip.MustParsePrefix("10.2.0.2/24"))
	l.up.MustRun(t, "ip", "route", "add", "100.64.0.0/24", "via", "10.2.0.1")
	l.lns.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")

	// The TUN device, the pool route and the L2TP socket, in lns.
	var dev *tun.Device
	var lnsConn *net.UDPConn
	l.lnsAddr = &net.UDPAddr{IP: net.IPv4(10, 1, 0, 2), Port: 1701}
	if err := l.lns.Do(func() error {
		var err error
		if dev, err = tun.OpenWith("brs%d", 2, tun.Options{Offload: offload}); err != nil {
			return err
		}
		lnsConn, err = net.ListenUDP("udp4", l.lnsAddr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	t.Cleanup(func() { lnsConn.Close() })
	// A netlink handle bound to lns works from any thread: the data plane
	// installs subscriber routes through it from the test goroutine.
	nsh, err := netns.GetFromName(l.lns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	link, err := tun.NewLink(h, dev.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		link.Up(1500),
		link.AddAddr(netip.MustParsePrefix("10.255.0.1/32")),
		link.AddRoute(netip.MustParsePrefix("100.64.0.0/24")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	uc, err := udpio.NewConn(lnsConn)
	if err != nil {
		t.Fatal(err)
	}
	l.d, err = NewDataPlane(DataPlaneConfig{TUN: TUNQueues(dev), Conn: uc, Routes: link})
	if err != nil {
		t.Fatal(err)
	}
	l.f, err = NewFlow(FlowConfig{
		LocalTunnelID: 10, LocalSessionID: 20,
		PeerTunnelID: 7, PeerSessionID: 9,
		Peer: netip.MustParseAddrPort("10.1.0.1:1701"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.d.Add(l.f); err != nil {
		t.Fatal(err)
	}
	if err := l.d.SetAddr(l.f, dpSubAddr); err != nil {
		t.Fatal(err)
	}
	if out := l.lns.MustRun(t, "ip", "-4", "route", "show", "100.64.0.10"); !bytes.Contains([]byte(out), []byte("dev "+dev.Name())) {
		t.Fatalf("no subscriber route through %s after SetAddr: %q", dev.Name(), out)
	}
	dpRun(t, l.d)

	// The L2TP reader the l2tp endpoint will be: batches from the socket,
	// each data message to HandleDatagram.
	go func() {
		b := udpio.NewBatch(32, 2048)
		for {
			n, err := uc.ReadBatch(b)
			if err != nil {
				return
			}
			for i := 0; i < n; i++ {
				l.handled.Add(1)
				l.d.HandleDatagram(b.Data(i))
			}
		}
	}()

	if err := l.lac.Do(func() error {
		var err error
		l.lacConn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 1, 0, 1), Port: 1701})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.lacConn.Close() })
	return l
}

// lacSend sends ip to the LNS as the LAC does: an L2TP data message for the
// LNS's tunnel 10 session 20 carrying FF 03 00 21 and the packet.
func (l *dpNetnsLab) lacSend(t *testing.T, ip []byte) {
	t.Helper()
	msg, err := l2tp.AppendHeader(nil, l2tp.Header{TunnelID: 10, SessionID: 20}, 4+len(ip))
	if err != nil {
		t.Error(err)
		return
	}
	msg = append(append(msg, 0xff, 0x03, 0x00, 0x21), ip...)
	if _, err := l.lacConn.WriteToUDP(msg, l.lnsAddr); err != nil {
		t.Error(err)
	}
}

// lacRecv reads one data message at the LAC, checks that it is addressed to
// the LAC's tunnel 7 session 9 and carries IPv4 in PPP, and returns the
// IPv4 packet.
func (l *dpNetnsLab) lacRecv(t *testing.T, deadline time.Duration) ([]byte, error) {
	t.Helper()
	b := make([]byte, 2048)
	l.lacConn.SetReadDeadline(time.Now().Add(deadline))
	n, from, err := l.lacConn.ReadFromUDP(b)
	if err != nil {
		return nil, err
	}
	if from.String() != l.lnsAddr.String() {
		t.Errorf("data message from %v, want from the LNS %v", from, l.lnsAddr)
	}
	// Called from helper goroutines too: report with Errorf, not Fatalf.
	h, payload, err := l2tp.ParseHeader(b[:n])
	if err != nil {
		t.Errorf("the LNS sent a malformed L2TP message: %v: % x", err, b[:n])
		return nil, err
	}
	if h.Control || h.TunnelID != 7 || h.SessionID != 9 {
		t.Errorf("data message header %+v, want a data message for tunnel 7 session 9", h)
		return nil, errors.New("wrong header")
	}
	if len(payload) < 4 || !bytes.Equal(payload[:4], []byte{0xff, 0x03, 0x00, 0x21}) {
		t.Errorf("PPP frame % x, want FF 03 00 21 + IPv4", payload)
		return nil, errors.New("wrong PPP header")
	}
	return payload[4:], nil
}

// dpEchoUDP runs a UDP echo server on addr in ns until the test ends.
func dpEchoUDP(t *testing.T, ns *testenv.Netns, addr *net.UDPAddr) {
	var c *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(b)
			if err != nil {
				return
			}
			c.WriteToUDP(b[:n], from)
		}
	}()
}

// TestForwardingNetns is the LNS forwarding path end to end on real devices:
// a subscriber packet decapsulated from an L2TP data message reaches a host
// upstream through the TUN and kernel routing, the reply comes back
// encapsulated for the LAC's tunnel and session, ping from upstream works
// through the session, and spoofed or session-less packets are dropped and
// counted.
func TestForwardingNetns(t *testing.T) {
	l := newDPNetnsLab(t)
	dpEchoUDP(t, l.up, &net.UDPAddr{IP: net.IPv4(10, 2, 0, 2), Port: 7})

	// Subscriber → upstream echo → subscriber.
	req := dpIPv4UDP(dpSubAddr, netip.MustParseAddr("10.2.0.2"), 28+5)
	copy(req[28:], "hello")
	l.lacSend(t, req)
	ip, err := l.lacRecv(t, 3*time.Second)
	if err != nil {
		t.Fatalf("no echo reply at the LAC: %v (stats %+v)", err, l.d.Stats())
	}
	if n, ok := dpIPv4Len(ip); !ok || n != 33 || !bytes.Equal(ip[12:16], []byte{10, 2, 0, 2}) ||
		!bytes.Equal(ip[16:20], dpSubAddr.AsSlice()) || string(ip[28:33]) != "hello" {
		t.Errorf("reply packet % x, want IPv4/UDP 10.2.0.2 → 100.64.0.10 carrying \"hello\"", ip)
	}
	c := l.f.Counters()
	if c.InPackets != 1 || c.InOctets != 33 || c.OutPackets != 1 || c.OutOctets != 33 {
		t.Errorf("session counters %+v, want 1 packet of 33 octets each way", c)
	}

	// ping from upstream: the LAC answers the echo requests it receives.
	ping := testenv.RequireCommand(t, "ping")
	stop := make(chan struct{})
	answered := make(chan int, 1)
	go func() {
		n := 0
		defer func() { answered <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ip, err := l.lacRecv(t, 200*time.Millisecond)
			if err != nil {
				continue
			}
			if len(ip) >= 28 && ip[9] == 1 && ip[20] == 8 { // ICMP Echo (RFC 792)
				l.lacSend(t, dpICMPEchoReply(ip))
				n++
			}
		}
	}()
	out, err := l.up.Command(ping, "-c", "3", "-i", "0.2", "-W", "2", "100.64.0.10").CombinedOutput()
	close(stop)
	if n := <-answered; err != nil || n < 3 {
		t.Errorf("ping through the session: %v (%d requests reached the LAC)\n%s", err, n, out)
	}

	// Spoofed source from the subscriber: dropped and counted.
	l.lacSend(t, dpIPv4UDP(netip.MustParseAddr("100.64.0.11"), netip.MustParseAddr("10.2.0.2"), 28))
	// Upstream traffic to a pool address without a session: into the TUN
	// by the pool route, then dropped and counted.
	var upConn *net.UDPConn
	if err := l.up.Do(func() error {
		var err error
		upConn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 2, 0, 2)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer upConn.Close()
	if _, err := upConn.WriteToUDP([]byte("nobody"), &net.UDPAddr{IP: net.IPv4(100, 64, 0, 99), Port: 9}); err != nil {
		t.Fatal(err)
	}
	dpWaitFor(t, "spoof and no-session drops", func() bool {
		s := l.d.Stats()
		return s.Drops[DropSpoof] == 1 && s.Drops[DropNoSession] == 1
	})
	if _, err := l.lacRecv(t, 100*time.Millisecond); err == nil {
		t.Error("the LAC received a packet for an address without a session")
	}

	// Session down: the route goes away with it.
	l.d.Remove(l.f)
	if out := l.lns.MustRun(t, "ip", "-4", "route", "show", "100.64.0.10/32"); out != "" {
		t.Errorf("subscriber route still there after Remove: %q", out)
	}
}

// TestRateLimitNetns measures the downstream and upstream rate limits of a
// session over about a second of real traffic offered at four times the
// limit: the rate the session forwarded (its counters, over the sender's
// wall-clock time) is the configured one within 10 %, and the receiving end
// really got those packets (at least 80 % of them: on a loaded machine the
// receiving socket may overflow, which is not the policer's doing).
func TestRateLimitNetns(t *testing.T) {
	l := newDPNetnsLab(t)
	const kbps = 2000 // 250,000 octets/s
	// A burst of 100 ms of traffic absorbs scheduling stalls of a loaded
	// machine; it is subtracted from what was forwarded.
	rate := Rate{Kbps: kbps, Burst: 25000}
	l.f.SetRates(rate, rate)
	const pkt = 1028 // IPv4 octets per packet
	const period = 2 * time.Millisecond
	const perTick = 2 // 1028 octets/ms = 8.2 Mbit/s offered
	const dur = 1200 * time.Millisecond

	t.Run("down", func(t *testing.T) {
		var upConn *net.UDPConn
		if err := l.up.Do(func() error {
			var err error
			upConn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 2, 0, 2)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer upConn.Close()
		before := l.f.Counters().OutOctets
		var got int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				ip, err := l.lacRecv(t, 500*time.Millisecond)
				if err != nil {
					return
				}
				got += int64(len(ip))
			}
		}()
		elapsed := dpPace(dur, period, func() {
			for i := 0; i < perTick; i++ {
				upConn.WriteToUDP(make([]byte, pkt-28), &net.UDPAddr{IP: dpSubAddr.AsSlice(), Port: 40001})
			}
		})
		<-done
		dpCheckRate(t, int64(l.f.Counters().OutOctets-before), got, int64(rate.Burst), elapsed, kbps)
	})

	t.Run("up", func(t *testing.T) {
		var sink *net.UDPConn
		if err := l.up.Do(func() error {
			var err error
			sink, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 2, 0, 2), Port: 9})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		before := l.f.Counters().InOctets
		var got int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			b := make([]byte, 2048)
			for {
				sink.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				n, _, err := sink.ReadFromUDP(b)
				if err != nil {
					return
				}
				got += int64(n + 28)
			}
		}()
		p := dpIPv4UDP(dpSubAddr, netip.MustParseAddr("10.2.0.2"), pkt)
		binary.BigEndian.PutUint16(p[22:24], 9)
		elapsed := dpPace(dur, period, func() {
			for i := 0; i < perTick; i++ {
				l.lacSend(t, p)
			}
		})
		<-done
		dpCheckRate(t, int64(l.f.Counters().InOctets-before), got, int64(rate.Burst), elapsed, kbps)
	})
}

// pace calls send every period for dur and returns the time it took.
func dpPace(dur, period time.Duration, send func()) time.Duration {
	start := time.Now()
	tk := time.NewTicker(period)
	defer tk.Stop()
	for time.Since(start) < dur {
		send()
		<-tk.C
	}
	return time.Since(start)
}

func dpCheckRate(t *testing.T, passed, received, burst int64, elapsed time.Duration, kbps int64) {
	t.Helper()
	got := float64(passed-burst) * 8 / 1000 / elapsed.Seconds()
	t.Logf("session forwarded %d octets in %v: %.0f kbit/s after the %d-octet burst (limit %d kbit/s); %d octets received",
		passed, elapsed, got, burst, kbps, received)
	if got < 0.9*float64(kbps) || got > 1.1*float64(kbps) {
		t.Errorf("forwarded %.0f kbit/s, want %d kbit/s ± 10 %%", got, kbps)
	}
	if received < passed*8/10 || received > passed {
		t.Errorf("receiver got %d octets of the %d forwarded", received, passed)
	}
}

// dpICMPEchoReply answers an ICMP Echo (RFC 792) carried in IPv4 the way the
// subscriber's stack would: addresses swapped, type 0, checksums redone.
func dpICMPEchoReply(req []byte) []byte {
	n, _ := dpIPv4Len(req)
	r := bytes.Clone(req[:n])
	copy(r[12:16], req[16:20])
	copy(r[16:20], req[12:16])
	r[8] = 64
	r[10], r[11] = 0, 0
	ihl := int(r[0]&0x0f) * 4
	binary.BigEndian.PutUint16(r[10:12], dpChecksum(r[:ihl]))
	r[ihl] = 0 // Echo Reply
	r[ihl+2], r[ihl+3] = 0, 0
	binary.BigEndian.PutUint16(r[ihl+2:ihl+4], dpChecksum(r[ihl:]))
	return r
}

func dpWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- fuzzing ---------------------------------------------------------------

// dpFuzzPlane is a small data plane (no workers running) with the session of
// newDPTestPlane, for one fuzz input.
func dpFuzzPlane(t *testing.T, control func(*Flow, ppp.Protocol, []byte)) (*DataPlane, *Flow) {
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{QueueLen: 2, Batch: 1, MaxSessions: 8, Control: control}, FlowConfig{})
	return d, f
}

// dpRoundTrip encapsulates ip (a packet the TUN could give) towards the flow
// bound to its destination, parses the data message back with the l2tp
// codec, checks its IDs and PPP header, decapsulates it on a flow bound to
// its source, and checks that exactly ip comes out for the TUN.
func dpRoundTrip(t *testing.T, d *DataPlane, ip []byte) {
	t.Helper()
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	if dst.IsUnspecified() || src.IsUnspecified() {
		return // no session can own 0.0.0.0
	}
	to := d.Lookup(dst)
	if to == nil {
		var err error
		if to, err = NewFlow(FlowConfig{PeerTunnelID: 70, PeerSessionID: 90, Peer: dpLACPeer}); err != nil {
			t.Fatal(err)
		}
		if err := d.SetAddr(to, dst); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, DataHeadroom+d.cfg.MTU)
	copy(buf[DataHeadroom:], ip)
	_, msg, r := d.encap(buf, len(ip), d.clock())
	if r != DropNone {
		t.Fatalf("encap of % x: %v", ip, r)
	}
	h, payload, err := l2tp.ParseHeader(msg)
	if err != nil {
		t.Fatalf("encap wrote a message the l2tp codec rejects: %v: % x", err, msg)
	}
	if pt, ps := to.PeerIDs(); h.Control || h.TunnelID != pt || h.SessionID != ps {
		t.Fatalf("encap header %+v, want data for tunnel %d session %d", h, pt, ps)
	}
	if want := dpCat([]byte{0xff, 0x03, 0x00, 0x21}, ip); !bytes.Equal(payload, want) {
		t.Fatalf("encap payload % x, want % x", payload, want)
	}
	from := d.Lookup(src)
	if from == nil {
		if from, err = NewFlow(FlowConfig{PeerTunnelID: 71, PeerSessionID: 91, Peer: dpLACPeer}); err != nil {
			t.Fatal(err)
		}
		if err := d.SetAddr(from, src); err != nil {
			t.Fatal(err)
		}
	}
	if r := d.Decap(from, payload); r != DropNone {
		t.Fatalf("decap of an encapsulated packet: %v", r)
	}
	if got := dpTake(d); !bytes.Equal(got, ip) {
		t.Fatalf("round trip gave % x, want % x", got, ip)
	}
}

// FuzzDecap feeds arbitrary datagrams to the upstream path. Whatever it
// accepts as IPv4 must be a whole IPv4 packet from the session's address,
// and must survive encap → l2tp.ParseHeader → decap unchanged; frames handed
// to the control plane must be what followed the HDLC framing.
func FuzzDecap(f *testing.F) {
	ip := dpIPv4UDP(dpSubAddr, dpHostAddr, 40)
	f.Add(dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21}, ip))
	f.Add(dpCat([]byte{0x48, 0x02, 0x00, 0x38, 0x00, 0x0a, 0x00, 0x14, 0x00, 0x05, 0x00, 0x00, 0xff, 0x03, 0x00, 0x21}, ip))
	f.Add(dpCat([]byte{0x02, 0x02, 0x00, 0x0a, 0x00, 0x14, 0x00, 0x02, 0x00, 0x00, 0x21}, ip))
	f.Add([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef})
	f.Add([]byte{0xc8, 0x02, 0x00, 0x0c, 0, 0x0a, 0, 0, 0, 0, 0, 0})
	// Regression (found by this target): a Length shorter than the
	// datagram cuts the frame handed to the control plane.
	f.Add([]byte("A2\x000\x00\n\x00\x140000000000000000000000000000000000000000000000001"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var ctrlProto ppp.Protocol
		var ctrlFrame []byte
		d, _ := dpFuzzPlane(t, func(_ *Flow, proto ppp.Protocol, frame []byte) { ctrlProto, ctrlFrame = proto, frame })
		r := d.HandleDatagram(msg)
		if r != DropNone {
			if n := d.Stats().Drops[r]; n != 1 {
				t.Fatalf("drop %v counted %d times", r, n)
			}
			return
		}
		if ctrlFrame != nil {
			_, payload, _ := l2tp.ParseHeader(msg)
			if want := bytes.TrimPrefix(payload, []byte{0xff, 0x03}); !bytes.Equal(ctrlFrame, want) {
				t.Fatalf("control frame % x, want the PPP frame after the framing % x", ctrlFrame, want)
			}
			if ctrlProto == ppp.ProtoIPv4 {
				t.Fatal("IPv4 handed to the control plane")
			}
			return
		}
		ip := bytes.Clone(dpTake(d))
		if n, ok := dpIPv4Len(ip); !ok || n != len(ip) || !bytes.Equal(ip[12:16], dpSubAddr.AsSlice()) {
			t.Fatalf("forwarded % x: not a whole IPv4 packet from the subscriber", ip)
		}
		dpRoundTrip(t, d, ip)
	})
}

// FuzzEncap feeds arbitrary packets to the downstream path as if read from
// the TUN. Whatever it sends must parse as an L2TP data message for the
// session's peer IDs, carry FF 03 00 21 and the IPv4 packet cut at its Total
// Length, and decapsulate back to the same packet.
func FuzzEncap(f *testing.F) {
	f.Add(dpIPv4UDP(dpHostAddr, dpSubAddr, 60))
	f.Add(append(dpIPv4UDP(dpHostAddr, dpSubAddr, 28), 0, 0, 0))
	f.Add(dpIPv4UDP(dpHostAddr, netip.MustParseAddr("100.64.0.99"), 28))
	f.Add([]byte{0x60, 0, 0, 0})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		d, _ := dpFuzzPlane(t, nil)
		if len(pkt) > d.cfg.MTU {
			pkt = pkt[:d.cfg.MTU]
		}
		buf := make([]byte, DataHeadroom+d.cfg.MTU)
		copy(buf[DataHeadroom:], pkt)
		fl, msg, r := d.encap(buf, len(pkt), d.clock())
		if r != DropNone {
			if n := d.Stats().Drops[r]; n != 1 {
				t.Fatalf("drop %v counted %d times", r, n)
			}
			return
		}
		if fl == nil || fl != d.Lookup(netip.AddrFrom4([4]byte(pkt[16:20]))) {
			t.Fatal("encap chose a flow that does not own the destination")
		}
		n, _ := dpIPv4Len(pkt)
		h, payload, err := l2tp.ParseHeader(msg)
		if err != nil || h.Control || h.TunnelID != 7 || h.SessionID != 9 {
			t.Fatalf("encap wrote %+v, %v; want data for tunnel 7 session 9", h, err)
		}
		if want := dpCat([]byte{0xff, 0x03, 0x00, 0x21}, pkt[:n]); !bytes.Equal(payload, want) {
			t.Fatalf("payload % x, want % x", payload, want)
		}
		dpRoundTrip(t, d, bytes.Clone(pkt[:n]))
	})
}

// TestRunLeavesNoGoroutine checks that Run's writers and workers all stop
// when its context is cancelled, including workers blocked reading an idle
// TUN.
func TestRunLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	tn1, tn2 := newDPFakeTUN(), newDPFakeTUN()
	d, err := NewDataPlane(DataPlaneConfig{TUN: []TUNQueue{tn1, tn2}, Conn: newDPFakeConn()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	dpWaitFor(t, "a writer and a worker per queue to start", func() bool { return runtime.NumGoroutine() >= before+5 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Run returned, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDecapConcurrent runs Decap for one session from four goroutines (an
// l2tp endpoint may read with several) against the running TUN writer:
// every packet is either written to the TUN or dropped as queue-full, and
// the session's counters add up exactly.
func TestDecapConcurrent(t *testing.T) {
	d, f, tn, _ := newDPTestPlane(t, DataPlaneConfig{QueueLen: 64, Batch: 8}, FlowConfig{})
	tn.wrote = make(chan struct{}, 1<<16)
	dpRun(t, d)
	pkt := dpCat([]byte{0xff, 0x03, 0x00, 0x21}, dpIPv4UDP(dpSubAddr, dpHostAddr, 100))
	const perG, gs = 2000, 4
	var wg sync.WaitGroup
	var forwarded atomic.Uint64
	for g := 0; g < gs; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				switch r := d.Decap(f, pkt); r {
				case DropNone:
					forwarded.Add(1)
				case DropQueueFull:
				default:
					t.Errorf("Decap = %v", r)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := forwarded.Load()
	tn.waitWritten(t, int(n))
	// The writer counts a batch after the TUN took it.
	dpWaitFor(t, "the TUN writes to be counted", func() bool { return d.Stats().TUNWritten == n })
	s := d.Stats()
	if s.TUNWritten != n || s.Drops[DropQueueFull] != gs*perG-n {
		t.Errorf("TUN got %d, queue-full drops %d; want %d and %d", s.TUNWritten, s.Drops[DropQueueFull], n, gs*perG-n)
	}
	c := f.Counters()
	if c.InPackets != n || c.InOctets != 100*n || c.Drops != gs*perG-n {
		t.Errorf("counters %+v, want %d packets, %d octets, %d drops", c, n, 100*n, gs*perG-n)
	}
}
