package l2tptest

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

var (
	addrA = netip.MustParseAddrPort("127.0.0.1:1701")
	addrB = netip.MustParseAddrPort("127.0.0.2:1701")
)

func TestPipeDeliversInOrderWhenClean(t *testing.T) {
	a, b := NewPipe(addrA, addrB, Impairment{})
	defer a.Close()
	defer b.Close()
	to := net.UDPAddrFromAddrPort(addrB)
	for i := range 10 {
		if _, err := a.WriteTo([]byte{byte(i)}, to); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 16)
	for i := range 10 {
		n, from, err := b.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 || buf[0] != byte(i) {
			t.Fatalf("datagram %d: got %v", i, buf[:n])
		}
		if from.(*net.UDPAddr).AddrPort() != addrA {
			t.Fatalf("from = %v, want %v", from, addrA)
		}
	}
}

func TestPipeImpairs(t *testing.T) {
	a, b := NewPipe(addrA, addrB, Impairment{Loss: 0.3, Duplicate: 0.1, Reorder: 0.1, Seed: 7})
	defer a.Close()
	defer b.Close()
	to := net.UDPAddrFromAddrPort(addrB)
	const n = 2000
	for i := range n {
		a.WriteTo([]byte{byte(i >> 8), byte(i)}, to)
	}
	time.Sleep(20 * time.Millisecond) // let held datagrams go
	s := a.Stats()
	if d := s.Dropped.Load(); d < n/5 || d > n*2/5 {
		t.Errorf("dropped %d of %d, want about 30%%", d, n)
	}
	if s.Duplicated.Load() == 0 || s.Reordered.Load() == 0 {
		t.Errorf("duplicated %d, reordered %d: want both > 0", s.Duplicated.Load(), s.Reordered.Load())
	}
	got, outOfOrder := 0, 0
	last := -1
	buf := make([]byte, 4)
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	for {
		m, _, err := b.ReadFrom(buf)
		if err != nil {
			if !IsTimeout(err) {
				t.Fatal(err)
			}
			break
		}
		v := int(buf[0])<<8 | int(buf[1])
		if m == 2 && v < last {
			outOfOrder++
		}
		last = v
		got++
	}
	if uint64(got) != s.Delivered.Load() {
		t.Errorf("read %d, delivered counter %d", got, s.Delivered.Load())
	}
	if outOfOrder == 0 {
		t.Error("no datagram arrived out of order")
	}
}

func TestPipeCloseAndDeadline(t *testing.T) {
	a, b := NewPipe(addrA, addrB, Impairment{})
	b.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, _, err := b.ReadFrom(make([]byte, 1)); !IsTimeout(err) {
		t.Fatalf("ReadFrom after deadline: %v, want timeout", err)
	}
	b.SetReadDeadline(time.Time{})
	done := make(chan error)
	go func() {
		_, _, err := b.ReadFrom(make([]byte, 1))
		done <- err
	}()
	b.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrom after Close: %v, want net.ErrClosed", err)
	}
	a.SetSilent(true)
	a.WriteTo([]byte{1}, net.UDPAddrFromAddrPort(addrB))
	if a.Stats().Dropped.Load() != 1 {
		t.Error("a silent end still sent")
	}
	a.Close()
}
