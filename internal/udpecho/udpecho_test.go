package udpecho

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var goldenQuery = []byte{
	'B', 'R', 'Q', '1', // magic
	100, 64, 0, 9, // address asked about
}

var goldenReply = []byte{
	'B', 'R', 'R', '1', // magic
	100, 64, 0, 9, // address
	0, 0, 0, 0, 0, 0, 0x01, 0x00, // packets 256
	0, 0, 0, 0, 0, 0x01, 0x00, 0x00, // octets 65536
}

func TestGolden(t *testing.T) {
	a := netip.MustParseAddr("100.64.0.9")
	q, err := ParseQuery(goldenQuery)
	if err != nil || q.Addr != a {
		t.Fatalf("ParseQuery = %v, %v", q, err)
	}
	if b, _ := q.Append(nil); !bytes.Equal(b, goldenQuery) {
		t.Errorf("Query.Append = %x", b)
	}
	r, err := ParseReply(goldenReply)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Reply{Addr: a, Packets: 256, Octets: 65536}, r, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("ParseReply (-want +got):\n%s", diff)
	}
	if b, _ := r.Append(nil); !bytes.Equal(b, goldenReply) {
		t.Errorf("Reply.Append = %x", b)
	}
}

func TestParseErrors(t *testing.T) {
	for _, b := range [][]byte{nil, goldenQuery[:7], append([]byte("BRQ2"), goldenQuery[4:]...), append(append([]byte(nil), goldenQuery...), 0)} {
		if _, err := ParseQuery(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseQuery(%x) = %v, want ErrMalformed", b, err)
		}
	}
	if _, err := ParseReply(goldenReply[:23]); !errors.Is(err, ErrShort) {
		t.Errorf("short reply: %v", err)
	}
	if _, err := ParseReply(append([]byte("XRR1"), goldenReply[4:]...)); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad magic: %v", err)
	}
	if _, err := (Query{Addr: netip.MustParseAddr("::1")}).Append(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("IPv6 query: %v", err)
	}
}

// TestServer echoes datagrams on loopback, counts them per source and
// answers a stats query; the sink mode counts without echoing.
func TestServer(t *testing.T) {
	for _, sink := range []bool{false, true} {
		s, err := Listen(Config{Addr: "127.0.0.1:0", Sink: sink})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()

		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		const n = 50
		got := 0
		buf := make([]byte, 2048)
		for i := 0; i < n; i++ {
			msg := []byte{byte(i), 1, 2, 3}
			if _, err := c.WriteToUDPAddrPort(msg, s.Addr()); err != nil {
				t.Fatal(err)
			}
			if sink {
				continue
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("echo %d: %v", i, err)
			}
			if !bytes.Equal(buf[:m], msg) {
				t.Fatalf("echo %x, want %x", buf[:m], msg)
			}
			got++
		}
		lo := netip.MustParseAddr("127.0.0.1")
		r, err := Ask(c, s.Addr(), lo, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r.Packets != n || r.Octets != 4*n {
			t.Errorf("sink=%v: stats reply %+v, want %d packets of 4 octets", sink, r, n)
		}
		if p, _ := s.Received(lo); p != n {
			t.Errorf("Received = %d", p)
		}
		st := s.Stats()
		wantEchoed := uint64(n)
		if sink {
			wantEchoed = 0
		}
		if st.Packets != n || st.Queries < 1 || st.Echoed != wantEchoed || got != int(wantEchoed) {
			t.Errorf("sink=%v: stats %+v, %d echoes read", sink, st, got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		c.Close()
	}
}

func FuzzParseQuery(f *testing.F) {
	f.Add(goldenQuery)
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuery(b)
		if err != nil {
			return
		}
		out, err := q.Append(nil)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("round trip %x → %x, %v", b, out, err)
		}
	})
}

func FuzzParseReply(f *testing.F) {
	f.Add(goldenReply)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			return
		}
		out, err := r.Append(nil)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("round trip %x → %x, %v", b, out, err)
		}
		r2, err := ParseReply(out)
		if err != nil || r2 != r {
			t.Fatalf("reparse %+v, %v", r2, err)
		}
	})
}

// TestServerIPv6: an IPv6 listen address serves IPv6 and counts per
// source.
func TestServerIPv6(t *testing.T) {
	s, err := Listen(Config{Addr: "[::1]:0"})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !s.Addr().Addr().Is6() {
		t.Fatalf("listening on %v", s.Addr())
	}
	msg := []byte("v6 probe")
	if _, err := c.WriteToUDPAddrPort(msg, s.Addr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("echo %q, %v; want %q", buf[:n], err, msg)
	}
	if p, o := s.Received(netip.MustParseAddr("::1")); p != 1 || o != uint64(len(msg)) {
		t.Errorf("Received(::1) = %d packets %d octets", p, o)
	}
}
