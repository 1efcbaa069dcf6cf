package lns

import (
	"bytes"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
)

// countingConn counts the system calls a shard would make.
type countingConn struct {
	dpFakeConn
	calls int
}

func (c *countingConn) WriteBatch(b *udpio.Batch) (int, error) {
	c.calls++
	return c.dpFakeConn.WriteBatch(b)
}

// TestOutbox: the PPP control frames sessions send in one pass of their
// shard (Echo-Requests of 100 sessions falling due together) go out in
// batches of outboxFrames, not a write each, each an L2TP data message to
// its own LAC with its session's IDs and FF 03 before the frame (RFC 2661
// sections 3.1, 5.3); nothing is held once the pass has flushed.
func TestOutbox(t *testing.T) {
	conn := &countingConn{dpFakeConn: dpFakeConn{sig: make(chan struct{}, 1024)}}
	d, err := NewDataPlane(DataPlaneConfig{TUN: []TUNQueue{newDPFakeTUN()}, Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	sh := &shard{srv: &Server{dp: d, log: slog.New(slog.DiscardHandler)}}
	lacs := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:1701"), netip.MustParseAddrPort("192.0.2.2:1701")}
	const n = 100
	echo := []byte{0xc0, 0x21, 9, 1, 0, 8, 0x12, 0x34, 0x56, 0x78} // LCP Echo-Request
	for i := range n {
		f, err := NewFlow(FlowConfig{LocalTunnelID: 1, LocalSessionID: uint16(i + 1), PeerTunnelID: uint16(7 + i%2),
			PeerSessionID: uint16(1000 + i), Peer: lacs[i%2]})
		if err != nil {
			t.Fatal(err)
		}
		if err := sh.queueFrame(f, echo); err != nil {
			t.Fatal(err)
		}
	}
	if conn.calls != 1 {
		t.Errorf("%d writes before the pass ended, want 1 (the first %d frames)", conn.calls, outboxFrames)
	}
	sh.flushOut()
	sh.flushOut() // nothing left: no write
	if conn.calls != 2 || len(conn.sent) != n {
		t.Fatalf("%d writes, %d datagrams; want 2 writes of all %d", conn.calls, len(conn.sent), n)
	}
	for i, m := range conn.sent {
		h, payload, err := l2tp.ParseHeader(m.Data)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if m.To != lacs[i%2].String() || h.TunnelID != uint16(7+i%2) || h.SessionID != uint16(1000+i) {
			t.Errorf("datagram %d to %s tunnel %d session %d, want %s %d %d", i, m.To, h.TunnelID, h.SessionID, lacs[i%2], 7+i%2, 1000+i)
		}
		if want := append([]byte{0xff, 0x03}, echo...); !bytes.Equal(payload, want) {
			t.Errorf("datagram %d carries % x, want % x", i, payload, want)
		}
	}
}
