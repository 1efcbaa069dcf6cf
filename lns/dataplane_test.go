package lns

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/udpio"
)

// ---- fakes -----------------------------------------------------------------

// fakeTUN plays a TUN queue: ReadBatch returns the packets pushed with
// inject, WriteBatch records what the data plane writes.
type fakeTUN struct {
	in      chan []byte
	release chan struct{}
	mu      sync.Mutex
	written [][]byte
	wrote   chan struct{}
	once    sync.Once
}

func newFakeTUN() *fakeTUN {
	return &fakeTUN{in: make(chan []byte, 1024), release: make(chan struct{}), wrote: make(chan struct{}, 1024)}
}

func (f *fakeTUN) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
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

func (f *fakeTUN) WriteBatch(bufs [][]byte, offset int) (int, error) {
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

func (f *fakeTUN) SetReadDeadline(t time.Time) error {
	if !t.IsZero() && t.Before(time.Now()) {
		f.once.Do(func() { close(f.release) })
	}
	return nil
}

// waitWritten waits for n packets written to the TUN and returns them all.
func (f *fakeTUN) waitWritten(t *testing.T, n int) [][]byte {
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

// fakeConn records the datagrams the data plane sends.
type fakeConn struct {
	mu   sync.Mutex
	sent []sentMsg
	sig  chan struct{}
}

type sentMsg struct {
	To   string
	Data []byte
}

func newFakeConn() *fakeConn { return &fakeConn{sig: make(chan struct{}, 1024)} }

func (c *fakeConn) WriteBatch(b *udpio.Batch) (int, error) {
	c.mu.Lock()
	for _, m := range b.Msgs[:b.Len] {
		c.sent = append(c.sent, sentMsg{To: m.Addr.String(), Data: bytes.Clone(m.Buffers[0])})
	}
	c.mu.Unlock()
	for range b.Len {
		c.sig <- struct{}{}
	}
	return b.Len, nil
}

func (c *fakeConn) waitSent(t *testing.T, n int) []sentMsg {
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

// fakeClock is an injected clock moved by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ---- packets ---------------------------------------------------------------

var (
	subAddr  = netip.MustParseAddr("100.64.0.10")
	hostAddr = netip.MustParseAddr("198.51.100.7")
	lacPeer  = netip.MustParseAddrPort("192.0.2.1:1701")
)

// ipv4UDP builds an IPv4/UDP packet (RFC 791, RFC 768) of total length size
// (at least 28) with a valid header checksum and UDP checksum 0.
func ipv4UDP(src, dst netip.Addr, size int) []byte {
	b := make([]byte, size)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(size))
	b[8], b[9] = 64, 17
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], ipChecksum(b[:20]))
	binary.BigEndian.PutUint16(b[20:22], 40000)
	binary.BigEndian.PutUint16(b[22:24], 7)
	binary.BigEndian.PutUint16(b[24:26], uint16(size-20))
	for i := 28; i < size; i++ {
		b[i] = byte(i)
	}
	return b
}

func ipChecksum(b []byte) uint16 {
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

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// newTestPlane makes a data plane on fakes with one session: LNS IDs (10,
// 20), LAC IDs (7, 9), subscriber address subAddr.
func newTestPlane(t testing.TB, cfg Config, fc FlowConfig) (*DataPlane, *Flow, *fakeTUN, *fakeConn) {
	t.Helper()
	tn, conn := newFakeTUN(), newFakeConn()
	cfg.TUN, cfg.Conn = []TUN{tn}, conn
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fc.LocalTunnelID, fc.LocalSessionID = 10, 20
	fc.PeerTunnelID, fc.PeerSessionID = 7, 9
	fc.Peer = lacPeer
	f, err := NewFlow(fc)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add(f); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAddr(f, subAddr); err != nil {
		t.Fatal(err)
	}
	return d, f, tn, conn
}

// run starts d and stops it (checking that Run returns) at the end of t.
func run(t *testing.T, d *DataPlane) {
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

// ---- golden ----------------------------------------------------------------

// TestDecapGolden feeds whole L2TP data messages, laid out as in RFC 2661
// section 3.1 and as a LAC sends them (xl2tpd and Cisco send FF 03 and no
// Length on data messages), and checks the exact IPv4 packet written to the
// TUN.
func TestDecapGolden(t *testing.T) {
	ip := ipv4UDP(subAddr, hostAddr, 40)
	tests := []struct {
		name string
		msg  []byte
	}{
		{"no L, no S", cat(
			[]byte{0x00, 0x02}, // T=0 L=0 S=0 O=0 P=0, Ver=2
			[]byte{0x00, 0x0a}, // Tunnel ID 10 (the LNS's)
			[]byte{0x00, 0x14}, // Session ID 20 (the LNS's)
			[]byte{0xff, 0x03}, // PPP address, control (RFC 1662 3.1)
			[]byte{0x00, 0x21}, // PPP protocol: IPv4
			ip)},
		{"L and S set", cat(
			[]byte{0x48, 0x02}, // L=1 S=1, Ver=2
			[]byte{0x00, 0x38}, // Length 56 = 12 + 4 + 40
			[]byte{0x00, 0x0a}, // Tunnel ID 10
			[]byte{0x00, 0x14}, // Session ID 20
			[]byte{0x00, 0x05}, // Ns 5
			[]byte{0x00, 0x00}, // Nr 0
			[]byte{0xff, 0x03, 0x00, 0x21},
			ip)},
		{"offset padding, ACFC and PFC", cat(
			[]byte{0x02, 0x02}, // O=1, Ver=2
			[]byte{0x00, 0x0a}, // Tunnel ID 10
			[]byte{0x00, 0x14}, // Session ID 20
			[]byte{0x00, 0x02}, // Offset Size 2
			[]byte{0x00, 0x00}, // Offset Pad
			[]byte{0x21},       // PPP protocol IPv4, compressed (RFC 1661 6.5)
			ip)},
		{"link padding after the IPv4 packet", cat(
			[]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21},
			ip,
			[]byte{0, 0, 0, 0}, // trailing octets beyond Total Length
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, f, tn, _ := newTestPlane(t, Config{}, FlowConfig{})
			run(t, d)
			if r := d.HandleDatagram(tt.msg); r != DropNone {
				t.Fatalf("HandleDatagram = %v, want forwarded", r)
			}
			got := tn.waitWritten(t, 1)
			if diff := cmp.Diff([][]byte{ip}, got); diff != "" {
				t.Errorf("TUN got (-want +got):\n%s", diff)
			}
			want := Counters{InOctets: 40, InPackets: 1}
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
	ip := ipv4UDP(hostAddr, subAddr, 60)
	tests := []struct {
		name string
		seq  bool
		want [][]byte
	}{
		{"no sequencing", false, [][]byte{
			cat([]byte{0x00, 0x02}, // T=0 L=0 S=0, Ver=2
				[]byte{0x00, 0x07}, // Tunnel ID 7 (the LAC's)
				[]byte{0x00, 0x09}, // Session ID 9 (the LAC's)
				[]byte{0xff, 0x03, 0x00, 0x21},
				ip),
			cat([]byte{0x00, 0x02, 0x00, 0x07, 0x00, 0x09, 0xff, 0x03, 0x00, 0x21}, ip),
		}},
		{"sequencing required (RFC 2661 5.4)", true, [][]byte{
			cat([]byte{0x08, 0x02}, // S=1, Ver=2
				[]byte{0x00, 0x07}, // Tunnel ID 7
				[]byte{0x00, 0x09}, // Session ID 9
				[]byte{0x00, 0x00}, // Ns 0
				[]byte{0x00, 0x00}, // Nr 0 (reserved in data messages)
				[]byte{0xff, 0x03, 0x00, 0x21},
				ip),
			cat([]byte{0x08, 0x02, 0x00, 0x07, 0x00, 0x09},
				[]byte{0x00, 0x01}, // Ns 1: counted per session
				[]byte{0x00, 0x00, 0xff, 0x03, 0x00, 0x21},
				ip),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, f, tn, conn := newTestPlane(t, Config{}, FlowConfig{Sequencing: tt.seq})
			run(t, d)
			tn.in <- ip
			tn.in <- ip
			sent := conn.waitSent(t, 2)
			want := []sentMsg{{lacPeer.String(), tt.want[0]}, {lacPeer.String(), tt.want[1]}}
			if diff := cmp.Diff(want, sent); diff != "" {
				t.Errorf("sent (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Counters{OutOctets: 120, OutPackets: 2}, f.Counters()); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
			if got := d.Stats().Encapsulated; got != 2 {
				t.Errorf("Stats.Encapsulated = %d, want 2", got)
			}
		})
	}
}

// ---- decisions -------------------------------------------------------------

// TestDecapDecisions checks what happens to each kind of PPP frame of a
// session: IPv4 from the subscriber's address is forwarded, a spoofed or
// broken one is dropped with its reason, control protocols go to the hook.
func TestDecapDecisions(t *testing.T) {
	good := ipv4UDP(subAddr, hostAddr, 28)
	spoof := ipv4UDP(netip.MustParseAddr("100.64.0.11"), hostAddr, 28)
	badLen := ipv4UDP(subAddr, hostAddr, 28)
	binary.BigEndian.PutUint16(badLen[2:4], 29)                               // Total Length past the end
	lcp := []byte{0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef} // LCP Echo-Request
	tests := []struct {
		name      string
		frame     []byte
		want      DropReason
		wantProto uint16 // for the control hook
	}{
		{"IPv4 from the subscriber", cat([]byte{0xff, 0x03, 0x00, 0x21}, good), DropNone, 0},
		{"IPv4 from another address", cat([]byte{0xff, 0x03, 0x00, 0x21}, spoof), DropSpoof, 0},
		{"Total Length past the end", cat([]byte{0xff, 0x03, 0x00, 0x21}, badLen), DropMalformed, 0},
		{"IPv4 header cut short", cat([]byte{0xff, 0x03, 0x00, 0x21}, good[:19]), DropMalformed, 0},
		{"not version 4", cat([]byte{0xff, 0x03, 0x00, 0x21, 0x65}, good[1:]), DropMalformed, 0},
		{"empty frame", nil, DropMalformed, 0},
		{"only address and control", []byte{0xff, 0x03}, DropMalformed, 0},
		{"one octet of a two-octet protocol", []byte{0xff, 0x03, 0xc0}, DropMalformed, 0},
		{"LCP to the control plane", cat([]byte{0xff, 0x03}, lcp), DropNone, 0xc021},
		{"IPCP without address and control", []byte{0x80, 0x21, 0x01, 0x01, 0x00, 0x04}, DropNone, 0x8021},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotProto uint16
			var gotFrame []byte
			cfg := Config{Control: func(f *Flow, proto uint16, frame []byte) {
				gotProto, gotFrame = proto, bytes.Clone(frame)
			}}
			d, f, _, _ := newTestPlane(t, cfg, FlowConfig{})
			if got := d.Decap(f, tt.frame); got != tt.want {
				t.Errorf("Decap = %v, want %v", got, tt.want)
			}
			if gotProto != tt.wantProto {
				t.Errorf("control hook got protocol %#04x, want %#04x", gotProto, tt.wantProto)
			}
			if tt.wantProto != 0 {
				wantFrame := bytes.TrimPrefix(tt.frame, []byte{0xff, 0x03})
				if !bytes.Equal(gotFrame, wantFrame) {
					t.Errorf("control hook got % x, want % x", gotFrame, wantFrame)
				}
			}
			if tt.want != DropNone {
				if n := d.Stats().Drops[tt.want]; n != 1 {
					t.Errorf("Stats.Drops[%v] = %d, want 1", tt.want, n)
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
	d, err := New(Config{TUN: []TUN{newFakeTUN()}, Conn: newFakeConn()})
	if err != nil {
		t.Fatal(err)
	}
	f := testFlow(t, 1)
	if err := d.Add(f); err != nil {
		t.Fatal(err)
	}
	if r := d.Decap(f, cat([]byte{0xff, 0x03, 0x00, 0x21}, ipv4UDP(subAddr, hostAddr, 28))); r != DropSpoof {
		t.Errorf("IPv4 before an address is bound: %v, want %v", r, DropSpoof)
	}
	if r := d.Decap(f, []byte{0xc0, 0x21, 0x01, 0x01, 0x00, 0x04}); r != DropProtocol {
		t.Errorf("LCP without a Control hook: %v, want %v", r, DropProtocol)
	}
}

// TestEncapDecisions checks the downstream drops: no session for the
// destination, IPv6, a broken header; each counted by reason.
func TestEncapDecisions(t *testing.T) {
	d, _, tn, conn := newTestPlane(t, Config{}, FlowConfig{})
	run(t, d)
	noSession := ipv4UDP(hostAddr, netip.MustParseAddr("100.64.0.99"), 28)
	ipv6 := make([]byte, 48)
	ipv6[0] = 0x60
	broken := ipv4UDP(hostAddr, subAddr, 28)[:24]
	good := ipv4UDP(hostAddr, subAddr, 28)
	for _, p := range [][]byte{noSession, ipv6, broken, good} {
		tn.in <- p
	}
	conn.waitSent(t, 1) // the good one, after the others
	want := Stats{Encapsulated: 1}
	want.Drops[DropNoSession] = 1
	want.Drops[DropProtocol] = 1
	want.Drops[DropMalformed] = 1
	if diff := cmp.Diff(want, d.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestRemoveStopsForwarding: once a session is removed, its address and IDs
// lead nowhere and its packets count as no-session drops.
func TestRemoveStopsForwarding(t *testing.T) {
	d, f, _, _ := newTestPlane(t, Config{}, FlowConfig{})
	d.Remove(f)
	if d.Lookup(subAddr) != nil {
		t.Error("address still bound after Remove")
	}
	msg := cat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21}, ipv4UDP(subAddr, hostAddr, 28))
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
	r := &fakeRouter{}
	d, f, _, _ := newTestPlane(t, Config{Routes: r}, FlowConfig{})
	other := netip.MustParseAddr("100.64.0.20")
	if err := d.SetAddr(f, other); err != nil {
		t.Fatal(err)
	}
	f2 := testFlow(t, 2)
	if err := d.SetAddr(f2, other); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("binding an address in use: %v, want ErrAddrInUse", err)
	}
	d.Remove(f)
	want := []string{"add 100.64.0.10/32", "del 100.64.0.10/32", "add 100.64.0.20/32", "del 100.64.0.20/32"}
	if diff := cmp.Diff(want, r.ops); diff != "" {
		t.Errorf("route operations (-want +got):\n%s", diff)
	}
	if d.Lookup(subAddr) != nil || d.Lookup(other) != nil || f.Addr().IsValid() {
		t.Error("addresses still bound after Remove")
	}
}

type fakeRouter struct{ ops []string }

func (r *fakeRouter) AddRoute(p netip.Prefix) error {
	r.ops = append(r.ops, "add "+p.String())
	return nil
}
func (r *fakeRouter) DelRoute(p netip.Prefix) error {
	r.ops = append(r.ops, "del "+p.String())
	return nil
}

// TestRateLimitBothWays runs both token buckets on the injected clock: a
// burst passes, the rest is dropped and counted, time refills the bucket,
// and a CoA (SetRates) takes effect on the next packet.
func TestRateLimitBothWays(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	rate := Rate{Kbps: 80, Burst: 2000} // 10 octets/ms
	d, f, _, _ := newTestPlane(t, Config{Now: clk.Now}, FlowConfig{Up: rate, Down: rate})
	up := cat([]byte{0xff, 0x03, 0x00, 0x21}, ipv4UDP(subAddr, hostAddr, 1000))
	down := ipv4UDP(hostAddr, subAddr, 1000)
	w := newEncapWorker(d)
	encapOnce := func() DropReason {
		copy(w.bufs[0][Headroom:], down)
		_, _, r := d.encap(w.bufs[0], len(down), d.clock())
		return r
	}
	drain := func() { // play the TUN writer
		for len(d.queue) > 0 {
			d.free <- <-d.queue
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
	if c.InPackets != 13 || c.OutPackets != 13 || c.Drops != 4 {
		t.Errorf("counters %+v, want 13 in, 13 out, 4 drops", c)
	}
	if n := d.Stats().Drops[DropRateLimit]; n != 4 {
		t.Errorf("Stats.Drops[rate_limit] = %d, want 4", n)
	}
}

// TestQueueFull: when the TUN writer falls behind, Decap drops instead of
// blocking the L2TP reader, and counts it.
func TestQueueFull(t *testing.T) {
	d, f, _, _ := newTestPlane(t, Config{QueueLen: 4, Batch: 2}, FlowConfig{})
	pkt := cat([]byte{0xff, 0x03, 0x00, 0x21}, ipv4UDP(subAddr, hostAddr, 28))
	for i := 0; i < 6; i++ { // QueueLen + Batch buffers
		if r := d.Decap(f, pkt); r != DropNone {
			t.Fatalf("packet %d: %v", i, r)
		}
	}
	if r := d.Decap(f, pkt); r != DropQueueFull {
		t.Errorf("packet beyond the queue: %v, want %v", r, DropQueueFull)
	}
	if n := d.Stats().Drops[DropQueueFull]; n != 1 {
		t.Errorf("Stats.Drops[queue_full] = %d, want 1", n)
	}
}

// TestIdle follows Idle-Timeout: the idle time grows with the clock and is
// reset by a forwarded packet in either direction; IdleIn only by upstream.
func TestIdle(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	d, f, _, _ := newTestPlane(t, Config{Now: clk.Now}, FlowConfig{})
	clk.Add(30 * time.Second)
	if got := d.Idle(f); got != 30*time.Second {
		t.Errorf("Idle after 30 s = %v", got)
	}
	d.Decap(f, cat([]byte{0xff, 0x03, 0x00, 0x21}, ipv4UDP(subAddr, hostAddr, 28)))
	clk.Add(5 * time.Second)
	w := newEncapWorker(d)
	down := ipv4UDP(hostAddr, subAddr, 28)
	copy(w.bufs[0][Headroom:], down)
	d.encap(w.bufs[0], len(down), d.clock())
	clk.Add(2 * time.Second)
	if got := d.Idle(f); got != 2*time.Second {
		t.Errorf("Idle 2 s after a downstream packet = %v", got)
	}
	if got := d.IdleIn(f); got != 7*time.Second {
		t.Errorf("IdleIn 7 s after an upstream packet = %v", got)
	}
	// A dropped packet is not activity.
	d.Decap(f, cat([]byte{0xff, 0x03, 0x00, 0x21}, ipv4UDP(hostAddr, hostAddr, 28)))
	if got := d.IdleIn(f); got != 7*time.Second {
		t.Errorf("IdleIn after a spoofed packet = %v, want still 7s", got)
	}
}

// ---- no allocation ---------------------------------------------------------

func TestDecapEncapAllocs(t *testing.T) {
	d, f, _, _ := newTestPlane(t, Config{}, FlowConfig{Up: Rate{Kbps: 1e9}, Down: Rate{Kbps: 1e9}, Sequencing: true})
	up := cat([]byte{0xff, 0x03, 0x00, 0x21}, ipv4UDP(subAddr, hostAddr, 64))
	msg := cat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14}, up)
	if avg := testing.AllocsPerRun(1000, func() {
		if r := d.HandleDatagram(msg); r != DropNone {
			t.Fatal(r)
		}
		d.free <- <-d.queue
	}); avg != 0 {
		t.Errorf("decap allocates %.1f times per packet, want 0", avg)
	}
	if avg := testing.AllocsPerRun(1000, func() {
		if r := d.Decap(f, up); r != DropNone {
			t.Fatal(r)
		}
		d.free <- <-d.queue
	}); avg != 0 {
		t.Errorf("Decap allocates %.1f times per packet, want 0", avg)
	}

	dc := &discardConn{}
	d.cfg.Conn = dc
	w := newEncapWorker(d)
	down := ipv4UDP(hostAddr, subAddr, 64)
	for i := range w.bufs {
		copy(w.bufs[i][Headroom:], down)
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

// discardConn counts datagrams and keeps nothing.
type discardConn struct{ n int }

func (c *discardConn) WriteBatch(b *udpio.Batch) (int, error) { c.n += b.Len; return b.Len, nil }
