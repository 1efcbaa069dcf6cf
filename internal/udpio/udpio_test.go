package udpio_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/race"
	"github.com/bras-project/bras/internal/udpio"
)

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRoundTrip sends a batch written from headroom of the caller's own
// buffers and reads it back in batches: every datagram arrives intact, in
// order, with its sender, and a batch read gets more than one per call.
func TestRoundTrip(t *testing.T) {
	a, b := listen(t), listen(t)
	ca, err := udpio.NewConn(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := udpio.NewConn(b)

	const n = 64
	w := udpio.NewBatch(n, 0)
	store := make([][]byte, n)
	for i := range store {
		store[i] = []byte(fmt.Sprintf("hdr!datagram %02d", i))
		w.Msgs[i].Buffers[0] = store[i][4:] // skip the headroom
		w.Msgs[i].Addr = b.LocalAddr()
	}
	w.Len = n
	if sent, err := ca.WriteBatch(w); err != nil || sent != n {
		t.Fatalf("WriteBatch = %d, %v; want %d, nil", sent, err, n)
	}

	r := udpio.NewBatch(32, 2048)
	b.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, calls := 0, 0
	for got < n {
		k, err := cb.ReadBatch(r)
		if err != nil {
			t.Fatalf("ReadBatch after %d: %v", got, err)
		}
		calls++
		for i := 0; i < k; i++ {
			want := fmt.Sprintf("datagram %02d", got+i)
			if string(r.Data(i)) != want {
				t.Errorf("datagram %d = %q, want %q", got+i, r.Data(i), want)
			}
			if r.Msgs[i].Addr.String() != a.LocalAddr().String() {
				t.Errorf("datagram %d from %v, want %v", got+i, r.Msgs[i].Addr, a.LocalAddr())
			}
		}
		got += k
	}
	if calls >= n {
		t.Errorf("%d datagrams took %d reads: not batched", n, calls)
	}
}

func TestWriteBatchAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items)")
	}
	a, b := listen(t), listen(t)
	ca, _ := udpio.NewConn(a)
	w := udpio.NewBatch(8, 0)
	buf := make([]byte, 64)
	for i := range w.Msgs {
		w.Msgs[i].Buffers[0] = buf
		w.Msgs[i].Addr = b.LocalAddr()
	}
	w.Len = 8
	ca.WriteBatch(w) // warm the x/net pools
	if avg := testing.AllocsPerRun(50, func() {
		if _, err := ca.WriteBatch(w); err != nil {
			t.Fatal(err)
		}
	}); avg != 0 {
		t.Errorf("WriteBatch allocates %.1f times per batch, want 0", avg)
	}
}

func TestInvalid(t *testing.T) {
	if _, err := udpio.NewConn(nil); !errors.Is(err, udpio.ErrInvalid) {
		t.Errorf("NewConn(nil) = %v, want ErrInvalid", err)
	}
	c, _ := udpio.NewConn(listen(t))
	if _, err := c.ReadBatch(udpio.NewBatch(4, 0)); !errors.Is(err, udpio.ErrInvalid) {
		t.Errorf("ReadBatch into a batch without buffers = %v, want ErrInvalid", err)
	}
	w := udpio.NewBatch(4, 0)
	w.Len = 5
	if _, err := c.WriteBatch(w); !errors.Is(err, udpio.ErrInvalid) {
		t.Errorf("WriteBatch with Len > messages = %v, want ErrInvalid", err)
	}
}

// TestReadBatchAllocs: reading a batch allocates nothing, the sender
// addresses included.
func TestReadBatchAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	a, b := listen(t), listen(t)
	cb, _ := udpio.NewConn(b)
	r := udpio.NewBatch(8, 2048)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg := []byte("x")
	if avg := testing.AllocsPerRun(100, func() {
		if _, err := a.WriteToUDPAddrPort(msg, b.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
		if n, err := cb.ReadBatch(r); err != nil || n != 1 {
			t.Fatalf("ReadBatch = %d, %v", n, err)
		}
	}); avg != 0 {
		t.Errorf("ReadBatch allocates %.1f times per call, want 0", avg)
	}
}

// TestReadBatchIPv6AndTruncation reads from an IPv6 socket: the sender is
// decoded from sockaddr_in6, and a datagram longer than its buffer is cut
// and flagged MSG_TRUNC.
func TestReadBatchIPv6AndTruncation(t *testing.T) {
	b, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer b.Close()
	a, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cb, _ := udpio.NewConn(b)
	r := udpio.NewBatch(4, 8)
	if _, err := a.WriteTo([]byte("0123456789"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	b.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := cb.ReadBatch(r)
	if err != nil || n != 1 {
		t.Fatalf("ReadBatch = %d, %v", n, err)
	}
	if got := r.Msgs[0].Addr.String(); got != a.LocalAddr().String() {
		t.Errorf("sender %s, want %s", got, a.LocalAddr())
	}
	if string(r.Data(0)) != "01234567" || r.Msgs[0].Flags&syscall.MSG_TRUNC == 0 {
		t.Errorf("datagram %q flags %#x, want \"01234567\" with MSG_TRUNC", r.Data(0), r.Msgs[0].Flags)
	}
}

// TestReadBatchDeadline: a read blocked on an idle socket is released by
// its deadline, as the data-plane workers stop on cancellation.
func TestReadBatchDeadline(t *testing.T) {
	b := listen(t)
	cb, _ := udpio.NewConn(b)
	r := udpio.NewBatch(4, 2048)
	done := make(chan error, 1)
	go func() {
		_, err := cb.ReadBatch(r)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	b.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("ReadBatch after the deadline = %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ReadBatch still blocked 3 s after its deadline")
	}
}
