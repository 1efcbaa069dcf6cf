package lns

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
)

// TestIPSplitWriter: a batch of downstream data messages bound partly to
// LACs over UDP and partly to one over IP protocol 115 (RFC 3931 section
// 4.1.1) leaves each from its own socket, every message once and in order
// per socket, and the batch is given back as it came (its Len and its
// messages in order, which the data plane's counting relies on). A flow
// of an L2TPv3 session over IP is bound to a *net.IPAddr.
func TestIPSplitWriter(t *testing.T) {
	testenv.RequireRoot(t)
	lo := netip.MustParseAddr("127.0.115.9")
	udpRx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: lo.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	defer udpRx.Close()
	ipRx, err := net.ListenIP("ip4:115", &net.IPAddr{IP: lo.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	defer ipRx.Close()
	udpTx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udpTx.Close()
	ipTx, err := net.ListenIP("ip4:115", &net.IPAddr{IP: net.IPv4(127, 0, 115, 8)})
	if err != nil {
		t.Fatal(err)
	}
	defer ipTx.Close()
	uc, err := udpio.NewConn(udpTx)
	if err != nil {
		t.Fatal(err)
	}
	w := newIPSplitWriter(uc, ipTx)

	overIPFlow, err := NewFlow(FlowConfig{Peer: netip.AddrPortFrom(lo, 0), V3: &l2tp.DataFraming{
		Format: l2tp.V3DataFormat{Encap: l2tp.EncapIP}, Header: l2tp.V3DataHeader{SessionID: 7}}})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := overIPFlow.peer.(*net.IPAddr); !ok || !a.IP.Equal(lo.AsSlice()) {
		t.Fatalf("flow over IP bound to %#v, want *net.IPAddr %v", overIPFlow.peer, lo)
	}
	overUDP := udpRx.LocalAddr()

	// u0 i1 u2 u3 i4 i5 u6: interleaved, as encap workers fill a batch.
	kinds := "uiuuiiu"
	b := udpio.NewBatch(16, 0)
	for i, k := range kinds {
		b.Msgs[i].Buffers[0] = fmt.Appendf(nil, "%c%d", k, i)
		if k == 'i' {
			b.Msgs[i].Addr = overIPFlow.peer
		} else {
			b.Msgs[i].Addr = overUDP
		}
	}
	b.Len = len(kinds)
	before := slices.Clone(b.Msgs[:b.Len])
	sent, err := w.WriteBatch(b)
	if err != nil || sent != len(kinds) {
		t.Fatalf("WriteBatch: %d sent, %v; want %d", sent, err, len(kinds))
	}
	if b.Len != len(kinds) {
		t.Errorf("batch Len %d after, want %d", b.Len, len(kinds))
	}
	for i := range kinds {
		if string(b.Msgs[i].Buffers[0]) != string(before[i].Buffers[0]) || b.Msgs[i].Addr != before[i].Addr {
			t.Errorf("message %d is %q to %v after, was %q to %v", i, b.Msgs[i].Buffers[0], b.Msgs[i].Addr, before[i].Buffers[0], before[i].Addr)
		}
	}
	read := func(c interface {
		ReadFrom([]byte) (int, net.Addr, error)
		SetReadDeadline(time.Time) error
	}, n int) []string {
		var got []string
		buf := make([]byte, 2048)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for range n {
			m, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("read: %v (got %q)", err, got)
			}
			got = append(got, string(buf[:m]))
		}
		return got
	}
	if got, want := read(udpRx, 4), []string{"u0", "u2", "u3", "u6"}; !slices.Equal(got, want) {
		t.Errorf("over UDP: %q, want %q", got, want)
	}
	if got, want := read(ipRx, 3), []string{"i1", "i4", "i5"}; !slices.Equal(got, want) {
		t.Errorf("over IP: %q, want %q", got, want)
	}

	// A batch all over UDP goes to the UDP writer as it is.
	b.Len = 1
	b.Msgs[0].Addr = overUDP
	if sent, err := w.WriteBatch(b); sent != 1 || err != nil {
		t.Fatalf("UDP only: %d sent, %v", sent, err)
	}
	if got := read(udpRx, 1); got[0] != "u0" {
		t.Errorf("UDP only: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { w.WriteBatch(b) }); n != 0 {
		t.Errorf("a batch over UDP only allocates %.1f times", n)
	}
}
