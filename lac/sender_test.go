package lac

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp"
)

func TestSenderBatches(t *testing.T) {
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	s := newSender(src, 1024)
	if s == nil {
		t.Fatal("no sender on an IPv4 UDP socket")
	}
	h := l2tp.Header{TunnelID: 0x1234, SessionID: 0x5678}
	addr := dst.LocalAddr().(*net.UDPAddr)
	const n = 200
	for i := range n {
		if err := s.send(h, addr, AddAddressControl(nil, []byte{0x00, 0x21, byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	stopped := false
	stop := func() {
		if !stopped {
			cancel()
			<-done
			stopped = true
		}
	}
	defer stop()
	buf := make([]byte, 2048)
	dst.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range n {
		m, _, err := dst.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		got, payload, err := l2tp.ParseHeader(buf[:m])
		if err != nil || got.Control || got.TunnelID != 0x1234 || got.SessionID != 0x5678 {
			t.Fatalf("datagram %d: header %+v, %v", i, got, err)
		}
		if want := []byte{0xff, 0x03, 0x00, 0x21, byte(i)}; !bytes.Equal(payload, want) {
			t.Fatalf("datagram %d: payload %x, want %x (in order)", i, payload, want)
		}
	}
	// The sender counts a batch after sendmmsg returns, which may be after
	// the last datagram arrived here: stop it before reading its counters.
	stop()
	if s.sent.Load() != n || s.errors.Load() != 0 {
		t.Errorf("sent %d errors %d", s.sent.Load(), s.errors.Load())
	}
}

func TestSenderQueueFullDrops(t *testing.T) {
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := newSender(src, 2)
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	for range 3 {
		s.send(l2tp.Header{}, addr, []byte{0x00, 0x21})
	}
	if s.dropped.Load() != 1 {
		t.Errorf("dropped %d, want 1 (the data path never blocks)", s.dropped.Load())
	}
	if newSender(nil, 1) != nil {
		t.Error("a sender without a UDP socket")
	}
}

func TestSenderAllocs(t *testing.T) {
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := newSender(src, 16)
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	frame := append([]byte{0xff, 0x03, 0x00, 0x21}, make([]byte, 1400)...)
	h := l2tp.Header{TunnelID: 1, SessionID: 2}
	if n := testing.AllocsPerRun(1000, func() {
		s.send(h, addr, frame)
		p := <-s.q // what the sender goroutine does with it
		p.buf = p.buf[:0]
		s.pool.Put(p)
	}); n != 0 {
		t.Errorf("%v allocations per queued data message", n)
	}
}
