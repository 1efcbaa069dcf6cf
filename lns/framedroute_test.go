package lns

import (
	"net/netip"
	"testing"

	"github.com/bras-project/bras/l2tp"
)

type recordRoutes struct{ added, deleted []netip.Prefix }

func (r *recordRoutes) AddRoute(p netip.Prefix) error { r.added = append(r.added, p); return nil }
func (r *recordRoutes) DelRoute(p netip.Prefix) error { r.deleted = append(r.deleted, p); return nil }

func TestParseFramedRoute(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.0/24 0.0.0.0 1":   "192.0.2.0/24",
		"192.0.2.77/28 100.64.0.9": "192.0.2.64/28",
		"198.51.100.7":             "198.51.100.7/32",
	} {
		got, err := ParseFramedRoute(in)
		if err != nil || got != netip.MustParsePrefix(want) {
			t.Errorf("ParseFramedRoute(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "nonsense 1 2", "2001:db8::/48"} {
		if _, err := ParseFramedRoute(bad); err == nil {
			t.Errorf("ParseFramedRoute(%q) succeeded", bad)
		}
	}
}

// A Framed-Route sends a network to the session downstream, and lets the
// session send from it upstream; other sources stay spoofed.
func TestFramedRoute(t *testing.T) {
	routes := &recordRoutes{}
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{Routes: routes}, FlowConfig{})
	behind := netip.MustParsePrefix("192.0.2.0/29")
	if err := d.AddRoutes(f, []netip.Prefix{behind}); err != nil {
		t.Fatal(err)
	}
	if got := d.routedLookup(u32(netip.MustParseAddr("192.0.2.5"))); got != f {
		t.Fatalf("192.0.2.5 routes to %p, want the session %p", got, f)
	}
	if got := d.routedLookup(u32(netip.MustParseAddr("192.0.2.8"))); got != nil {
		t.Fatal("192.0.2.8, outside the /29, found a session")
	}
	if !f.routedFrom(u32(netip.MustParseAddr("192.0.2.1"))) || f.routedFrom(u32(netip.MustParseAddr("192.0.2.9"))) {
		t.Fatal("upstream source check does not follow the Framed-Route")
	}
	// Downstream: a packet to the routed network is encapsulated to the session.
	pkt := dpIPv4UDP(netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("192.0.2.6"), 64)
	buf := make([]byte, DataHeadroom+len(pkt))
	copy(buf[DataHeadroom:], pkt)
	if got, _, reason := d.encap(buf, len(pkt), d.clock()); got != f || reason != DropNone {
		t.Fatalf("encap to 192.0.2.6: flow %p, %v; want the session", got, reason)
	}
	// Another session may not take an overlapping network.
	g, err := NewFlow(FlowConfig{PeerTunnelID: 1, PeerSessionID: 2, Peer: dpLACPeer})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddRoutes(g, []netip.Prefix{netip.MustParsePrefix("192.0.2.4/30")}); err == nil {
		t.Fatal("an overlapping Framed-Route of another session was accepted")
	}
	d.Remove(f)
	if d.routedLookup(u32(netip.MustParseAddr("192.0.2.5"))) != nil {
		t.Fatal("the route outlived its session")
	}
	if len(routes.added) < 2 || len(routes.deleted) < 2 || routes.deleted[len(routes.deleted)-1] != behind {
		t.Fatalf("kernel routes added %v, deleted %v; want %v added and removed", routes.added, routes.deleted, behind)
	}
}

// A sequenced session's control frames and forwarded packets share one Ns
// sequence (RFC 2661 section 5.4).
func TestSendFrameSharesNs(t *testing.T) {
	d, f, _, conn := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{Sequencing: true})
	for i := 0; i < 3; i++ {
		if err := d.SendFrame(f, []byte{0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
	}
	pkt := dpIPv4UDP(netip.MustParseAddr("203.0.113.1"), dpSubAddr, 64)
	buf := make([]byte, DataHeadroom+len(pkt))
	copy(buf[DataHeadroom:], pkt)
	_, msg, reason := d.encap(buf, len(pkt), d.clock())
	if reason != DropNone {
		t.Fatal(reason)
	}
	h, _, err := l2tp.ParseHeader(msg)
	if err != nil || !h.HasSeq || h.Ns != 3 {
		t.Fatalf("forwarded packet after 3 control frames: Ns %d (seq %v, err %v), want 3", h.Ns, h.HasSeq, err)
	}
	sent := conn.waitSent(t, 3)
	if len(sent) != 3 {
		t.Fatalf("%d control frames on the wire, want 3", len(sent))
	}
	for i, m := range sent {
		h, payload, err := l2tp.ParseHeader(m.Data)
		if err != nil || h.Ns != uint16(i) || h.TunnelID != 7 || h.SessionID != 9 || payload[0] != 0xff || payload[1] != 0x03 {
			t.Fatalf("control frame %d: %+v %x %v", i, h, payload, err)
		}
	}
}
