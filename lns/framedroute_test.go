package lns

import (
	"net/netip"
	"testing"
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
