package tun_test

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/internal/tun"
)

// udp4 builds an IPv4/UDP packet (RFC 791, RFC 768) with a valid header
// checksum and a zero UDP checksum, which IPv4 allows.
func udp4(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 28+len(payload))
	b[0] = 0x45 // version 4, IHL 5
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	b[8] = 64 // TTL
	b[9] = 17 // UDP
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[10:12], ^uint16(sum))
	binary.BigEndian.PutUint16(b[20:22], sport)
	binary.BigEndian.PutUint16(b[22:24], dport)
	binary.BigEndian.PutUint16(b[24:26], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

// openIn opens a TUN device inside ns, gives it 10.99.0.1/32, brings it up
// with MTU 1400 and routes 10.99.1.0/24 into it.
func openIn(t *testing.T, ns *testenv.Netns, queues int) (*tun.Device, *tun.Link) {
	t.Helper()
	var dev *tun.Device
	var link *tun.Link
	err := ns.Do(func() error {
		var err error
		if dev, err = tun.Open("bt%d", queues); err != nil {
			return err
		}
		if link, err = tun.NewLink(nil, dev.Name()); err != nil {
			return err
		}
		if err := link.Up(1400); err != nil {
			return err
		}
		if err := link.AddAddr(netip.MustParsePrefix("10.99.0.1/32")); err != nil {
			return err
		}
		return link.AddRoute(netip.MustParsePrefix("10.99.1.0/24"))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev, link
}

// TestDeviceBothWays checks what the LNS relies on: a packet the kernel
// routes to a subscriber address comes out of ReadBatch, several per call,
// with headroom left before it; a packet given to WriteBatch is delivered by
// the kernel to a local socket.
func TestDeviceBothWays(t *testing.T) {
	ns := testenv.NewNetns(t, "tun")
	dev, _ := openIn(t, ns, 1)
	out := ns.MustRun(t, "ip", "-o", "link", "show", dev.Name())
	for _, want := range []string{"mtu 1400", "UP"} {
		if !contains(out, want) {
			t.Errorf("ip link show %s = %q, want %q in it", dev.Name(), out, want)
		}
	}

	var conn *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 5000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Kernel → TUN: three datagrams to a routed subscriber address.
	sub := &net.UDPAddr{IP: net.IPv4(10, 99, 1, 7), Port: 6000}
	for i := 0; i < 3; i++ {
		if _, err := conn.WriteToUDP([]byte{'p', byte('0' + i)}, sub); err != nil {
			t.Fatal(err)
		}
	}
	q := dev.Queues()[0]
	const headroom = 16
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, headroom+1500)
	}
	sizes := make([]int, len(bufs))
	got := 0
	deadline := time.Now().Add(3 * time.Second)
	if err := q.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	for calls := 1; got < 3; calls++ {
		n, err := q.ReadBatch(bufs[got:], sizes[got:], headroom)
		if err != nil {
			t.Fatalf("ReadBatch after %d packets: %v", got, err)
		}
		// The three datagrams were queued on the device before the
		// first read: one wake-up must return them all.
		if calls == 1 && n < 3 {
			t.Errorf("first ReadBatch returned %d packets, want the 3 already queued", n)
		}
		// Keep the IPv4 packets; the kernel also sends IPv6 router
		// solicitations into a fresh device.
		end := got + n
		for i := got; i < end; i++ {
			if bufs[i][headroom]>>4 == 4 {
				bufs[got], bufs[i] = bufs[i], bufs[got]
				sizes[got] = sizes[i]
				got++
			}
		}
	}
	for i := 0; i < 3; i++ {
		p := bufs[i][headroom : headroom+sizes[i]]
		if len(p) != 30 || p[0]>>4 != 4 || !net.IP(p[16:20]).Equal(sub.IP) || p[28] != 'p' || p[29] != byte('0'+i) {
			t.Errorf("packet %d = % x, want IPv4/UDP to %v carrying p%d", i, p, sub.IP, i)
		}
	}

	// TUN → kernel: a datagram from the subscriber to the local socket,
	// given with headroom in front of it.
	pkt := udp4(netip.MustParseAddr("10.99.1.7"), netip.MustParseAddr("10.99.0.1"), 6000, 5000, []byte("reply"))
	wb := append(make([]byte, headroom), pkt...)
	if n, err := q.WriteBatch([][]byte{wb}, headroom); err != nil || n != 1 {
		t.Fatalf("WriteBatch = %d, %v; want 1, nil", n, err)
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	rb := make([]byte, 100)
	n, from, err := conn.ReadFromUDP(rb)
	if err != nil {
		t.Fatal(err)
	}
	if string(rb[:n]) != "reply" || !from.IP.Equal(sub.IP) || from.Port != 6000 {
		t.Errorf("socket got %q from %v, want \"reply\" from %v", rb[:n], from, sub)
	}

	// A packet the kernel refuses does not stop the one behind it.
	bad := append(make([]byte, headroom), 0x00, 0x01, 0x02)
	if n, err := q.WriteBatch([][]byte{bad, wb}, headroom); n != 1 || err == nil {
		t.Errorf("WriteBatch(bad, good) = %d, %v; want 1 and an error", n, err)
	}
	if n, _, err := conn.ReadFromUDP(rb); err != nil || string(rb[:n]) != "reply" {
		t.Errorf("after a refused packet the next one was not delivered: %q, %v", rb[:n], err)
	}
}

// TestReadReleasedByDeadline checks that a worker blocked on an idle device
// stops when its deadline moves into the past (context cancellation) and when
// the queue is closed.
func TestReadReleasedByDeadline(t *testing.T) {
	ns := testenv.NewNetns(t, "tun")
	dev, _ := openIn(t, ns, 2)
	if len(dev.Queues()) != 2 {
		t.Fatalf("%d queues, want 2", len(dev.Queues()))
	}
	bufs := [][]byte{make([]byte, 1500)}
	sizes := []int{0}
	done := make(chan error, 1)
	q := dev.Queues()[1]
	go func() {
		// Skip what the kernel sends on its own (IPv6 solicitations).
		for {
			if _, err := q.ReadBatch(bufs, sizes, 0); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	q.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("ReadBatch after deadline = %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ReadBatch still blocked 3 s after its deadline passed")
	}

	q.SetReadDeadline(time.Time{})
	go func() {
		// Skip what the kernel sends on its own (IPv6 solicitations).
		for {
			if _, err := q.ReadBatch(bufs, sizes, 0); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	q.Close()
	select {
	case err := <-done:
		if !errors.Is(err, tun.ErrClosed) {
			t.Errorf("ReadBatch after Close = %v, want tun.ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ReadBatch still blocked 3 s after Close")
	}
}

// TestRoutes checks that per-subscriber routes come and go through netlink.
func TestRoutes(t *testing.T) {
	ns := testenv.NewNetns(t, "tun")
	dev, link := openIn(t, ns, 1)
	sub := netip.MustParsePrefix("192.0.2.10/32")
	err := ns.Do(func() error {
		if err := link.AddRoute(sub); err != nil {
			return err
		}
		return link.AddRoute(sub) // idempotent
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := ns.MustRun(t, "ip", "-4", "route", "show", "192.0.2.10/32"); !contains(out, "dev "+dev.Name()) {
		t.Errorf("route after AddRoute: %q, want it through %s", out, dev.Name())
	}
	err = ns.Do(func() error {
		if err := link.DelRoute(sub); err != nil {
			return err
		}
		return link.DelRoute(sub) // already gone
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := ns.MustRun(t, "ip", "-4", "route", "show", "192.0.2.10/32"); out != "" {
		t.Errorf("route after DelRoute: %q, want none", out)
	}
}

func TestOpenInvalid(t *testing.T) {
	if _, err := tun.Open("x", 0); !errors.Is(err, tun.ErrInvalid) {
		t.Errorf("Open with 0 queues = %v, want ErrInvalid", err)
	}
	if _, err := tun.Open("a-name-far-too-long-for-linux", 1); !errors.Is(err, tun.ErrInvalid) {
		t.Errorf("Open with a 29-byte name = %v, want ErrInvalid", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
