package lns

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/bras-project/bras/internal/ra"
	"github.com/bras-project/bras/ppp"
	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/ndp"
)

var (
	dp6Link     = netip.MustParsePrefix("2001:db8:1:2::/64")
	dp6Deleg    = netip.MustParsePrefix("2001:db8:ff00::/56")
	dp6Host     = netip.MustParseAddr("2001:db8:dead::80")
	dp6SubLL    = netip.MustParseAddr("fe80::211:22ff:fe33:4455")
	dp6LNSLL    = netip.MustParseAddr("fe80::1")
	dp6InLink   = netip.MustParseAddr("2001:db8:1:2::7")
	dp6InDeleg  = netip.MustParseAddr("2001:db8:ff00:12::1")
	dp6Elsewere = netip.MustParseAddr("2001:db8:9::1")
)

// dpIPv6UDP is an IPv6/UDP packet (RFC 8200, RFC 768) of total length size
// (at least 48).
func dpIPv6UDP(src, dst netip.Addr, size int) []byte {
	b := make([]byte, size)
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(size-40))
	b[6], b[7] = 17, 64
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	binary.BigEndian.PutUint16(b[40:42], 40000)
	binary.BigEndian.PutUint16(b[42:44], 7)
	binary.BigEndian.PutUint16(b[44:46], uint16(size-40))
	for i := 48; i < size; i++ {
		b[i] = byte(i)
	}
	return b
}

// dp6Frame is the L2TP data message of the test session (LNS IDs 10, 20)
// carrying ip in PPP protocol 0x0057 with FF 03.
func dp6Frame(ip []byte) []byte {
	return dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x57}, ip)
}

// controlRecorder records what Decap hands the control plane.
type controlRecorder struct {
	mu     sync.Mutex
	protos []ppp.Protocol
}

func (c *controlRecorder) fn(_ *Flow, proto ppp.Protocol, _ []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.protos = append(c.protos, proto)
}

// TestDecapIPv6: upstream IPv6 from the session's /64 or delegated prefix
// goes to the TUN unchanged; any other source is spoofing; Router
// Solicitations and DHCPv6 go to the control plane; an RA or a Redirect
// from the subscriber is dropped and counted (RFC 4861 sections 6.1.2 and
// 8.1); link-local traffic for elsewhere is never forwarded.
func TestDecapIPv6(t *testing.T) {
	ctl := &controlRecorder{}
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{Control: ctl.fn}, FlowConfig{})
	if err := d.SetIPv6(f, []netip.Prefix{dp6Link, dp6Deleg}); err != nil {
		t.Fatal(err)
	}
	rsBody, _ := ndp.MarshalMessageChecksum(&ndp.RouterSolicitation{}, dp6SubLL, netip.MustParseAddr("ff02::2"))
	rs := dp6ND(dp6SubLL, netip.MustParseAddr("ff02::2"), rsBody)
	raPkt, err := ra.Advertisement(dp6SubLL, ra.AllNodes, ra.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dhcp := dpIPv6UDP(dp6SubLL, netip.MustParseAddr("ff02::1:2"), 60)
	binary.BigEndian.PutUint16(dhcp[40:42], 546)
	binary.BigEndian.PutUint16(dhcp[42:44], 547)
	for _, tc := range []struct {
		name string
		ip   []byte
		want DropReason
		tun  bool
	}{
		{"from the /64", dpIPv6UDP(dp6InLink, dp6Host, 100), DropNone, true},
		{"from the delegated prefix", dpIPv6UDP(dp6InDeleg, dp6Host, 1280), DropNone, true},
		{"from another prefix", dpIPv6UDP(dp6Elsewere, dp6Host, 100), DropSpoof, false},
		{"link-local to the Internet", dpIPv6UDP(dp6SubLL, dp6Host, 100), DropSpoof, false},
		{"a Router Solicitation", rs, DropNone, false},
		{"DHCPv6 to the servers' group", dhcp, DropNone, false},
		{"a Router Advertisement", raPkt, DropNDFromSubscriber, false},
		{"a truncated header", dpIPv6UDP(dp6InLink, dp6Host, 100)[:30], DropMalformed, false},
		{"a payload length past the frame", dpIPv6UDP(dp6InLink, dp6Host, 100)[:80], DropMalformed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := d.HandleDatagram(dp6Frame(tc.ip)); r != tc.want {
				t.Fatalf("HandleDatagram = %v, want %v", r, tc.want)
			}
			got := dpTake(d)
			if tc.tun && !cmp.Equal(got, tc.ip) {
				t.Errorf("TUN got %x, want the packet unchanged", got)
			}
			if !tc.tun && got != nil {
				t.Errorf("TUN got %x, want nothing", got)
			}
		})
	}
	if diff := cmp.Diff([]ppp.Protocol{ppp.ProtoIPv6, ppp.ProtoIPv6}, ctl.protos); diff != "" {
		t.Errorf("to the control plane (-want +got):\n%s", diff)
	}
	if c := f.Counters(); c.InPackets != 2 || c.InOctets != 1380 || c.In6Packets != 2 || c.In6Octets != 1380 {
		t.Errorf("counters %+v, want 2 packets of 1380 octets, all of them IPv6", c)
	}
}

// dp6ND is an IPv6 packet with hop limit 255 carrying an ICMPv6 body.
func dp6ND(src, dst netip.Addr, body []byte) []byte {
	b := make([]byte, 40, 40+len(body))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(len(body)))
	b[6], b[7] = 58, 255
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, body...)
}

// TestEncapIPv6: downstream IPv6 into the session's prefixes becomes an
// L2TP data message with PPP protocol 0x0057 (RFC 5072 section 5), the
// longest prefix winning over a shorter one of another session.
func TestEncapIPv6(t *testing.T) {
	d, f, tn, conn := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{})
	if err := d.SetIPv6(f, []netip.Prefix{dp6Link, dp6Deleg}); err != nil {
		t.Fatal(err)
	}
	// Another session holds the /48 around the delegated /56.
	g, err := NewFlow(FlowConfig{LocalTunnelID: 11, LocalSessionID: 21, PeerTunnelID: 8, PeerSessionID: 3, Peer: dpLACPeer})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add(g); err != nil {
		t.Fatal(err)
	}
	if err := d.SetIPv6(g, []netip.Prefix{netip.MustParsePrefix("2001:db8:ff00::/48")}); err != nil {
		t.Fatal(err)
	}
	dpRun(t, d)
	in := dpIPv6UDP(dp6Host, dp6InDeleg, 100)
	tn.in <- in
	msg := conn.waitSent(t, 1)[0].Data
	want := dpCat([]byte{0x00, 0x02, 0x00, 0x07, 0x00, 0x09, 0xff, 0x03, 0x00, 0x57}, in)
	if diff := cmp.Diff(want, msg); diff != "" {
		t.Errorf("data message (-want +got):\n%s", diff)
	}
	tn.in <- dpIPv6UDP(dp6Host, netip.MustParseAddr("2001:db8:ff00:ff00::1"), 100)
	msg = conn.waitSent(t, 1)[1].Data
	if tun, sess := binary.BigEndian.Uint16(msg[2:4]), binary.BigEndian.Uint16(msg[4:6]); tun != 8 || sess != 3 {
		t.Errorf("outside the /56, inside the /48: sent to %d/%d, want the other session 8/3", tun, sess)
	}
	if c := f.Counters(); c.OutPackets != 1 || c.OutOctets != 100 || c.Out6Packets != 1 || c.Out6Octets != 100 {
		t.Errorf("counters %+v, want 1 packet of 100 octets, IPv6", c)
	}
}

// TestSetIPv6Routes: the session's prefixes get their routes through the
// TUN and lose them, with the table entries, on Remove; a prefix another
// session holds is refused.
func TestSetIPv6Routes(t *testing.T) {
	r := &dpFakeRouter{}
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{Routes: r}, FlowConfig{})
	r.ops = nil
	if err := d.SetIPv6(f, []netip.Prefix{dp6Link, dp6Deleg}); err != nil {
		t.Fatal(err)
	}
	g, _ := NewFlow(FlowConfig{PeerTunnelID: 8, PeerSessionID: 3, Peer: dpLACPeer})
	if err := d.SetIPv6(g, []netip.Prefix{dp6Deleg}); err == nil {
		t.Error("a second session got the same delegated prefix")
	}
	d.Remove(f)
	if d.v6.Lookup(dp6InLink.AsSlice()) != nil || d.v6.Lookup(dp6InDeleg.AsSlice()) != nil {
		t.Error("the prefixes still lead to the removed session")
	}
	want := []string{"add 2001:db8:1:2::/64", "add 2001:db8:ff00::/56", "del 100.64.0.10/32", "del 2001:db8:1:2::/64", "del 2001:db8:ff00::/56"}
	if diff := cmp.Diff(want, r.ops); diff != "" {
		t.Errorf("route operations (-want +got):\n%s", diff)
	}
}

// TestPrefixTable6: longest prefix first across lengths, ::/0 last, and a
// length's bit cleared when its last prefix goes.
func TestPrefixTable6(t *testing.T) {
	tb := NewPrefixTable6(16)
	flows := map[string]*Flow{}
	for _, p := range []string{"2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64", "::/0"} {
		f := &Flow{}
		flows[p] = f
		if err := tb.Insert(netip.MustParsePrefix(p), f); err != nil {
			t.Fatal(err)
		}
	}
	for addr, want := range map[string]string{
		"2001:db8:1:2::1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1": "2001:db8:1::/48",
		"2001:db8:9::1":   "2001:db8::/32",
		"2001:dead::1":    "::/0",
	} {
		if got := tb.Lookup(netip.MustParseAddr(addr).AsSlice()); got != flows[want] {
			t.Errorf("%s: not %s's flow", addr, want)
		}
	}
	if !tb.Delete(netip.MustParsePrefix("2001:db8:1:2::/64"), flows["2001:db8:1:2::/64"]) {
		t.Fatal("Delete failed")
	}
	if tb.inUse.Load()&1 != 0 {
		t.Error("the /64 bit stays set with no /64 left")
	}
	if got := tb.Lookup(netip.MustParseAddr("2001:db8:1:2::1").AsSlice()); got != flows["2001:db8:1::/48"] {
		t.Error("after removing the /64, its addresses do not fall back to the /48")
	}
	if err := tb.Insert(netip.MustParsePrefix("2001:db8:1:2::/80"), &Flow{}); err == nil {
		t.Error("a /80 was accepted")
	}
	// A single address (a DHCPv6 IA_NA address) wins over every prefix
	// holding it, belongs to one flow, and leaves when deleted.
	host, other := &Flow{}, &Flow{}
	a := netip.MustParsePrefix("2001:db8:1:3::77/128")
	if err := tb.Insert(a, host); err != nil {
		t.Fatal(err)
	}
	if err := tb.Insert(a, other); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("the same /128 for another flow: %v, want ErrAddrInUse", err)
	}
	if got := tb.Lookup(a.Addr().AsSlice()); got != host {
		t.Error("the /128 does not win over the /48 holding it")
	}
	if got := tb.Lookup(netip.MustParseAddr("2001:db8:1:3::78").AsSlice()); got != flows["2001:db8:1::/48"] {
		t.Error("the address next to the /128 is not the /48's")
	}
	if tb.Delete(a, other) || !tb.Delete(a, host) {
		t.Fatal("Delete of the /128: by another flow succeeded, or by its own failed")
	}
	if got := tb.Lookup(a.Addr().AsSlice()); got != flows["2001:db8:1::/48"] {
		t.Error("the deleted /128 still routes")
	}
}

// TestIPv6HostAddress: a session's DHCPv6 address outside its /64 (bound
// as a /128) is routed to it downstream and accepted as its source
// upstream; its neighbour in the same /64 is neither.
func TestIPv6HostAddress(t *testing.T) {
	d, f, tn, conn := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{})
	addr := netip.MustParseAddr("2001:db8:aa::5")
	if err := d.SetIPv6(f, []netip.Prefix{dp6Link, netip.PrefixFrom(addr, 128)}); err != nil {
		t.Fatal(err)
	}
	if r := d.HandleDatagram(dp6Frame(dpIPv6UDP(addr, dp6Host, 100))); r != DropNone {
		t.Errorf("upstream from the session's address: %v, want forwarded", r)
	}
	dpTake(d)
	if r := d.HandleDatagram(dp6Frame(dpIPv6UDP(netip.MustParseAddr("2001:db8:aa::6"), dp6Host, 100))); r != DropSpoof {
		t.Errorf("upstream from the address next to it: %v, want %v", r, DropSpoof)
	}
	dpRun(t, d)
	tn.in <- dpIPv6UDP(dp6Host, addr, 100)
	msg := conn.waitSent(t, 1)[0].Data
	if tun, sess := binary.BigEndian.Uint16(msg[2:4]), binary.BigEndian.Uint16(msg[4:6]); tun != 7 || sess != 9 {
		t.Errorf("downstream to the session's address sent to %d/%d, want 7/9", tun, sess)
	}
}

func BenchmarkPrefixTable6Lookup(b *testing.B) {
	tb := NewPrefixTable6(65536)
	for i := range 10000 {
		var a [16]byte
		a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
		binary.BigEndian.PutUint32(a[4:8], uint32(i))
		tb.Insert(netip.PrefixFrom(netip.AddrFrom16(a), 64), &Flow{})
		a[4] = 0xff
		tb.Insert(netip.PrefixFrom(netip.AddrFrom16(a), 56), &Flow{})
	}
	dst := netip.MustParseAddr("2001:db8:ff00:1200::1").AsSlice()
	b.ReportAllocs()
	for b.Loop() {
		tb.Lookup(dst)
	}
}

// dpTCP6SYN is an IPv6 TCP SYN (flags) with an MSS option, checksum right.
func dpTCP6SYN(src, dst netip.Addr, flags byte, mss uint16) []byte {
	p := make([]byte, 64)
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:6], 24)
	p[6], p[7] = 6, 64
	s, d := src.As16(), dst.As16()
	copy(p[8:24], s[:])
	copy(p[24:40], d[:])
	tcp := p[40:]
	binary.BigEndian.PutUint16(tcp[0:2], 50000)
	binary.BigEndian.PutUint16(tcp[2:4], 443)
	tcp[12], tcp[13] = 6<<4, flags
	tcp[20], tcp[21] = 2, 4
	binary.BigEndian.PutUint16(tcp[22:24], mss)
	binary.BigEndian.PutUint16(tcp[16:18], dpChecksum(dpTCP6Pseudo(p)))
	return p
}

func dpTCP6Pseudo(p []byte) []byte {
	seg := p[40:]
	return dpCat(p[8:40], []byte{0, 0, byte(len(seg) >> 8), byte(len(seg)), 0, 0, 0, 6}, seg)
}

// TestMSSClampIPv6: the IPv6 clamp is the IPv4 one less 20 octets, both
// ways, with the TCP checksum kept right.
func TestMSSClampIPv6(t *testing.T) {
	d, f, tn, conn := newDPTestPlane(t, DataPlaneConfig{MSS: 1452}, FlowConfig{})
	if err := d.SetIPv6(f, []netip.Prefix{dp6Link}); err != nil {
		t.Fatal(err)
	}
	if r := d.HandleDatagram(dp6Frame(dpTCP6SYN(dp6InLink, dp6Host, 0x02, 1440))); r != DropNone {
		t.Fatalf("HandleDatagram = %v", r)
	}
	up := dpTake(d)
	if got := binary.BigEndian.Uint16(up[62:64]); got != 1432 {
		t.Errorf("upstream SYN MSS %d, want 1432", got)
	}
	if dpChecksum(dpTCP6Pseudo(up)) != 0 {
		t.Error("upstream SYN: TCP checksum wrong")
	}
	dpRun(t, d)
	tn.in <- dpTCP6SYN(dp6Host, dp6InLink, 0x12, 1440)
	msg := conn.waitSent(t, 1)[0].Data
	down := msg[len(msg)-64:]
	if got := binary.BigEndian.Uint16(down[62:64]); got != 1432 {
		t.Errorf("downstream SYN-ACK MSS %d, want 1432", got)
	}
	if dpChecksum(dpTCP6Pseudo(down)) != 0 {
		t.Error("downstream SYN-ACK: TCP checksum wrong")
	}
}
