package lns

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/bras-project/bras/l2tp"
)

// TestEncapV3: the downstream path of an L2TPv3 PPP pseudowire writes the
// data header the LAC asked for (RFC 3931 section 4.1.2.1: its Session ID,
// the cookie it assigned, the Default L2-Specific Sublayer with a Sequence
// Number when sequenced, section 4.6), and SendFrame the same for control
// frames, sharing the sequence; the l2tp codec reads back exactly the
// packet. Allocation-free like the L2TPv2 path.
func TestEncapV3(t *testing.T) {
	for _, tc := range []struct {
		cookie   int
		sublayer l2tp.SublayerType
		seq      bool
	}{
		{0, l2tp.SublayerNone, false}, {4, l2tp.SublayerNone, false}, {8, l2tp.SublayerNone, false},
		{4, l2tp.SublayerDefault, false}, {8, l2tp.SublayerDefault, true},
	} {
		t.Run(fmt.Sprintf("cookie%d/sublayer%v/seq%v", tc.cookie, tc.sublayer, tc.seq), func(t *testing.T) {
			tn, conn := newDPFakeTUN(), newDPFakeConn()
			d, err := NewDataPlane(DataPlaneConfig{TUN: []TUNQueue{tn}, Conn: conn})
			if err != nil {
				t.Fatal(err)
			}
			fr := &l2tp.DataFraming{
				Format: l2tp.V3DataFormat{CookieLen: tc.cookie, Sublayer: tc.sublayer},
				Header: l2tp.V3DataHeader{SessionID: 0xdeadbeef, Cookie: 0x0102030405060708 & (1<<(8*tc.cookie) - 1)},
			}
			f, err := NewFlow(FlowConfig{Peer: dpLACPeer, V3: fr, Sequencing: tc.seq})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Add(f); err != nil {
				t.Fatal(err)
			}
			if err := d.SetAddr(f, dpSubAddr); err != nil {
				t.Fatal(err)
			}
			ip := dpIPv4UDP(netip.MustParseAddr("198.51.100.9"), dpSubAddr, 100)
			buf := make([]byte, DataHeadroom+1500)
			check := func(msg []byte, wantSeq uint32, payload []byte) {
				t.Helper()
				h, frame, err := l2tp.ParseV3Data(msg, fr.Format)
				if err != nil {
					t.Fatalf("the l2tp codec rejects % x: %v", msg, err)
				}
				want := l2tp.V3DataHeader{SessionID: 0xdeadbeef, Cookie: fr.Header.Cookie}
				if tc.seq {
					want.HasSeq, want.Seq = true, wantSeq
				}
				if h != want {
					t.Errorf("header %+v, want %+v", h, want)
				}
				if !bytes.Equal(frame, payload) {
					t.Errorf("frame % x, want % x", frame, payload)
				}
			}
			for i := range 3 {
				copy(buf[DataHeadroom:], ip)
				_, msg, r := d.encap(buf, len(ip), d.clock())
				if r != DropNone {
					t.Fatalf("encap: %v", r)
				}
				check(msg, uint32(i), dpCat([]byte{0xff, 0x03, 0x00, 0x21}, ip))
			}
			lcp := []byte{0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 1, 2, 3, 4}
			if err := d.SendFrame(f, lcp); err != nil {
				t.Fatal(err)
			}
			sent := conn.waitSent(t, 1)
			check(sent[0].Data, 3, dpCat([]byte{0xff, 0x03}, lcp))
			if n := testing.AllocsPerRun(100, func() {
				copy(buf[DataHeadroom:], ip)
				d.encap(buf, len(ip), d.clock())
			}); n != 0 {
				t.Errorf("encap allocates %v times a packet", n)
			}
		})
	}
}

// TestNewFlowV3: an L2TPv3 flow needs the LAC's Session ID and is never
// keyed by 16-bit IDs (its 32-bit ones would collide there).
func TestNewFlowV3(t *testing.T) {
	fr := &l2tp.DataFraming{Header: l2tp.V3DataHeader{SessionID: 5}}
	if _, err := NewFlow(FlowConfig{Peer: dpLACPeer, V3: &l2tp.DataFraming{}}); err == nil {
		t.Error("a v3 flow without the peer's Session ID: accepted")
	}
	if _, err := NewFlow(FlowConfig{Peer: dpLACPeer, V3: fr, LocalTunnelID: 1, LocalSessionID: 2}); err == nil {
		t.Error("a v3 flow with 16-bit local IDs: accepted")
	}
	if _, err := NewFlow(FlowConfig{Peer: dpLACPeer, V3: fr}); err != nil {
		t.Errorf("a v3 flow: %v", err)
	}
}
