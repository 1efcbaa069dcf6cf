package udpio_test

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/race"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestRuns(t *testing.T) {
	rep := func(n, l int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = l
		}
		return s
	}
	for _, tc := range []struct {
		name string
		lens []int
		want []int
	}{
		{"one", []int{100}, []int{1}},
		{"equal", rep(10, 100), []int{10}},
		{"odd last ends the run", append(rep(5, 100), 40, 100, 100), []int{6, 2}},
		{"longer starts a new run", []int{100, 100, 200, 200}, []int{2, 2}},
		{"64 segments at most", rep(130, 64), []int{64, 64, 2}},
		{"65507 octets at most", rep(50, 1400), []int{46, 4}},
		{"empty datagram alone", []int{0, 0, 10}, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, udpio.Runs(nil, tc.lens)); diff != "" {
				t.Errorf("Runs (-want +got):\n%s", diff)
			}
		})
	}
}

// gsoBatch fills a batch with n datagrams of size octets each (the last
// one last octets long) to dst, each starting with its index.
func gsoBatch(n, size, last int, dst net.Addr) *udpio.Batch {
	w := udpio.NewBatch(n, 0)
	for i := range n {
		l := size
		if i == n-1 {
			l = last
		}
		b := bytes.Repeat([]byte{byte(i)}, l)
		copy(b, fmt.Sprintf("%03d", i))
		w.Msgs[i].Buffers[0] = b
		w.Msgs[i].Addr = dst
	}
	w.Len = n
	return w
}

// readAll reads n datagrams from c and checks them against what
// gsoBatch sent.
func readAll(t *testing.T, c *net.UDPConn, n, size, last int) {
	t.Helper()
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for i := range n {
		m, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		l := size
		if i == n-1 {
			l = last
		}
		want := bytes.Repeat([]byte{byte(i)}, l)
		copy(want, fmt.Sprintf("%03d", i))
		if !bytes.Equal(buf[:m], want) {
			t.Fatalf("datagram %d: %d octets %q..., want %d octets %q...", i, m, buf[:min(m, 8)], l, want[:min(l, 8)])
		}
	}
}

// TestWriteBatchGSO: runs of equal datagrams (the last shorter) to one
// address go out with UDP_SEGMENT and arrive as the same datagrams, in
// order, at a receiver without UDP_GRO.
func TestWriteBatchGSO(t *testing.T) {
	a, b := listen(t), listen(t)
	b.SetReadBuffer(4 << 20)
	ca, _ := udpio.NewConn(a)
	for _, tc := range []struct{ n, size, last int }{{64, 100, 100}, {50, 1400, 333}, {3, 10, 1}} {
		w := gsoBatch(tc.n, tc.size, tc.last, b.LocalAddr())
		if sent, err := ca.WriteBatch(w); err != nil || sent != tc.n {
			t.Fatalf("WriteBatch(%d×%d) = %d, %v", tc.n, tc.size, sent, err)
		}
		readAll(t, b, tc.n, tc.size, tc.last)
	}
	if !ca.GSO() || ca.GSOFallbacks() != 0 {
		t.Errorf("GSO %v, fallbacks %d: want on, 0 (loopback takes GSO)", ca.GSO(), ca.GSOFallbacks())
	}
}

// TestWriteBatchGSOFallback: a socket that sends without UDP checksums
// (SO_NO_CHECK) cannot use GSO, and the kernel refuses the GSO message
// (EINVAL): its datagrams go again one by one and all arrive.
func TestWriteBatchGSOFallback(t *testing.T) {
	a, b := listen(t), listen(t)
	rc, _ := a.SyscallConn()
	var serr error
	rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) })
	if serr != nil {
		t.Skipf("SO_NO_CHECK: %v", serr)
	}
	ca, _ := udpio.NewConn(a)
	w := gsoBatch(20, 200, 50, b.LocalAddr())
	if sent, err := ca.WriteBatch(w); err != nil || sent != 20 {
		t.Fatalf("WriteBatch = %d, %v; want 20, nil", sent, err)
	}
	readAll(t, b, 20, 200, 50)
	if ca.GSOFallbacks() != 1 {
		t.Errorf("fallbacks %d, want 1", ca.GSOFallbacks())
	}
	ca.DisableGSO()
	w = gsoBatch(20, 200, 50, b.LocalAddr())
	if sent, err := ca.WriteBatch(w); err != nil || sent != 20 {
		t.Fatalf("WriteBatch without GSO = %d, %v; want 20, nil", sent, err)
	}
	readAll(t, b, 20, 200, 50)
	if ca.GSOFallbacks() != 1 {
		t.Errorf("fallbacks %d after DisableGSO, want still 1", ca.GSOFallbacks())
	}
}

// TestWriteBatchMixed: datagrams to two addresses interleaved, and one
// refused (too long for UDP), are sent as runs per address; the refused
// one is skipped and reported, the rest arrive.
func TestWriteBatchMixed(t *testing.T) {
	a, b, c := listen(t), listen(t), listen(t)
	ca, _ := udpio.NewConn(a)
	w := udpio.NewBatch(8, 0)
	big := make([]byte, 70000)
	dsts := []net.Addr{b.LocalAddr(), b.LocalAddr(), c.LocalAddr(), c.LocalAddr(), b.LocalAddr(), b.LocalAddr(), b.LocalAddr()}
	for i, d := range dsts {
		w.Msgs[i].Buffers[0] = []byte{byte(i), 1, 2, 3}
		w.Msgs[i].Addr = d
	}
	w.Msgs[5].Buffers[0] = big // ends the run of 4; refused alone
	w.Len = len(dsts)
	sent, err := ca.WriteBatch(w)
	if sent != 6 || err == nil {
		t.Fatalf("WriteBatch = %d, %v; want 6 and an error for the 70,000-octet datagram", sent, err)
	}
	buf := make([]byte, 100)
	for _, x := range []struct {
		c    *net.UDPConn
		want []byte
	}{{b, []byte{0, 1}}, {c, []byte{2, 3}}, {b, []byte{4, 6}}} {
		for _, i := range x.want {
			x.c.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, _, err := x.c.ReadFromUDP(buf)
			if err != nil || n != 4 || buf[0] != i {
				t.Fatalf("want datagram %d: got %x, %v", i, buf[:n], err)
			}
		}
	}
}

func TestWriteBatchGSOAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	a, b := listen(t), listen(t)
	ca, _ := udpio.NewConn(a)
	w := gsoBatch(32, 100, 100, b.LocalAddr())
	if avg := testing.AllocsPerRun(50, func() {
		if _, err := ca.WriteBatch(w); err != nil {
			t.Fatal(err)
		}
	}); avg != 0 {
		t.Errorf("WriteBatch with GSO allocates %.1f times per batch, want 0", avg)
	}
}
