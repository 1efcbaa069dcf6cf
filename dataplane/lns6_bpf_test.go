package dataplane

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
)

// Golden frames for the IPv6 paths of xdp_lns, built field by field from
// RFC 8200 (IPv6), RFC 5072 section 3 (PPP protocol 0x0057), RFC 4861
// (router and neighbour discovery), RFC 8415 (DHCPv6 ports) and RFC 9293
// (TCP), checksums computed here (RFC 1071, the pseudo-header of RFC 8200
// section 8.1).
//
// The session of lns_bpf_test.go has, in lns_routes6, the /64 of its link
// 2001:db8:1:2::/64, the delegated prefix 2001:db8:100::/56 and the single
// address 2001:db8:200::5/128. Another session (slot lnsOtherSlot, LAC
// session ID lnsOtherPeer) has 2001:db8:100:7::/64, inside the first one's
// delegated prefix, and 2001:db8:9:1::/64, routed through the slow-path
// device. Upstream hosts are in 2001:db8:ff::/48, behind dp-b.

const (
	lns6Link      = "2001:db8:1:2::1234"       // in the session's /64
	lns6Delegated = "2001:db8:100:3::1"        // in its delegated /56
	lns6Single    = "2001:db8:200::5"          // its /128
	lns6Inner     = "2001:db8:100:7::1"        // the other session's /64, inside the delegated prefix
	lns6Elsewhere = "2001:db8:9:1::1"          // the other session's /64 behind the "TUN"
	lns6Foreign   = "2001:db8:1:3::1"          // nobody's
	lns6Net       = "2001:db8:ff::7"           // a host upstream
	lns6LL        = "fe80::211:22ff:fe33:4455" // the subscriber's link-local address
	lns6LNSLL     = "fe80::1"                  // the LNS's link-local address
	lnsOtherPeer  = 0x0305                     // the other session's LAC session ID
)

// lns6Fill writes lns_routes6: the prefixes of the file comment; sub is the
// session's lns_sub.
func lns6Fill(tb testing.TB, objs *lnsObjects, sub lnsLnsSub) {
	tb.Helper()
	other := sub
	other.Slot = lnsOtherSlot
	other.PeerSession = be16(lnsOtherPeer)
	for _, r := range []struct {
		prefix string
		sub    lnsLnsSub
	}{
		{"2001:db8:1:2::/64", sub},
		{"2001:db8:100::/56", sub},
		{"2001:db8:200::5/128", sub},
		{"2001:db8:100:7::/64", other},
		{"2001:db8:9:1::/64", other},
	} {
		if err := objs.LnsRoutes6.Put(route6Key(netip.MustParsePrefix(r.prefix)), r.sub); err != nil {
			tb.Fatalf("lns_routes6: %v", err)
		}
	}
}

func lns6IP(s string) string {
	a := netip.MustParseAddr(s).As16()
	return hex.EncodeToString(a[:])
}

// lns6Sum returns the IPv6 packet pkt (no extension headers) with the
// checksum of its TCP, UDP or ICMPv6 payload computed over the
// pseudo-header (RFC 8200 section 8.1).
func lns6Sum(pkt []byte) []byte {
	pkt = append([]byte(nil), pkt...)
	at := map[byte]int{6: 16, 17: 6, 58: 2}[pkt[6]]
	if at == 0 {
		return pkt
	}
	body := pkt[40:]
	body[at], body[at+1] = 0, 0
	binary.BigEndian.PutUint16(body[at:], inetChecksum(lns6Pseudo(pkt)))
	return pkt
}

// lns6Pseudo is the pseudo-header and payload an upper-layer checksum
// covers.
func lns6Pseudo(pkt []byte) []byte {
	body := pkt[40:]
	n := len(body)
	return lnsCat(pkt[8:40], []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 0, pkt[6]}, body)
}

// lns6Hdr is a fixed IPv6 header for a payload of plen octets.
func lns6Hdr(src, dst string, next, hop, plen int) string {
	return "6" + "00" + "12345" + // version 6; traffic class 0; flow label 0x12345
		lnsU16(plen) + lnsU8(next) + lnsU8(hop) + // payload length; next header; hop limit
		lns6IP(src) + lns6IP(dst)
}

// lns6UDP is a 52-octet IPv6/UDP packet (port 12345 → 53, four octets).
func lns6UDP(src, dst string, hop int) []byte {
	return lns6Sum(lnsHex(lns6Hdr(src, dst, 17, hop, 12),
		"3039 0035 000c 0000", // UDP: ports, length 12, checksum (computed)
		"c0ffee00",            // payload
	))
}

// lns6ICMP is an ICMPv6 message (RFC 4443 section 2.1) of type typ, code
// 0, with four octets of body after the checksum and rest after them.
func lns6ICMP(src, dst string, typ, hop int, rest string) []byte {
	body := lnsHex(lnsU8(typ), "00 0000", "00000000", rest)
	return lns6Sum(lnsCat(lnsHex(lns6Hdr(src, dst, 58, hop, len(body))), body))
}

// lns6SYN is a TCP SYN with an MSS option; odd puts a NOP before it, so
// that the MSS value sits at an odd offset of the segment.
func lns6SYN(src, dst string, mss int, odd bool) []byte {
	opts := "0204" + lnsU16(mss) + "01010100" // MSS; NOP NOP NOP EOL
	if odd {
		opts = "01 0204" + lnsU16(mss) + "010100" // NOP; MSS; NOP NOP EOL
	}
	return lns6Sum(lnsHex(lns6Hdr(src, dst, 6, 64, 28),
		"c350 0050",         // TCP: port 50000 → 80
		"01020304 00000000", // sequence number; acknowledgment number
		"70 02 ffff",        // data offset 7 (28 octets); SYN; window
		"0000 0000",         // checksum (computed); urgent pointer
		opts,
	))
}

// lns6Big is an IPv6 packet of tot octets (next header 253, RFC 3692).
func lns6Big(src, dst string, tot int) []byte {
	return lnsCat(lnsHex(lns6Hdr(src, dst, 253, 64, tot-40)), make([]byte, tot-40))
}

// lns6Data is the plainest data message of the session with PPP FF 03
// 00 57 (RFC 5072 section 3) and pkt.
func lns6Data(pkt []byte) []byte {
	return lnsCat(lnsHex(
		"0002",                                    // flags: T=0 L=0 S=0 O=0; version 2
		lnsU16(lnsTunnelID), lnsU16(lnsSessionID), // the LNS's Tunnel ID, Session ID
		"ff03 0057", // PPP: address, control; protocol IPv6
	), pkt)
}

// lns6Routed is pkt with its hop limit one less (IPv6 has no header
// checksum; the upper-layer checksums do not cover the hop limit).
func lns6Routed(pkt []byte) []byte {
	pkt = append([]byte(nil), pkt...)
	pkt[7]--
	return pkt
}

// lns6UpOut is pkt forwarded upstream out of dp-b.
func lns6UpOut(pkt []byte) []byte {
	return lnsCat(lnsHex(
		lnsMAC(testMACB2), lnsMAC(testMACB), "86dd", // Ethernet: to 2001:db8:b::2, from dp-b, IPv6
	), lns6Routed(pkt))
}

// lns6FromNet is pkt arriving from upstream on dp-b.
func lns6FromNet(pkt []byte) []byte {
	return lnsCat(lnsHex(lnsMAC(testMACB), lnsMAC(testMACB2), "86dd"), pkt)
}

// lns6DownOut is pkt encapsulated towards the LAC in a data message of
// the LAC's session peerSess, PPP protocol 0x0057.
func lns6DownOut(pkt []byte, peerSess int) []byte {
	return lnsCat(lnsHex(
		lnsMAC(testMACA2), lnsMAC(testMACA), "0800", // Ethernet: to the LAC, from dp-a, IPv4
	), lnsIPv4Sum(lnsHex(
		"45 00", lnsU16(38+len(pkt)), // IPv4: version 4, IHL 5; TOS 0; total length
		"0000 4000",                  // identification 0; DF
		"40 11 0000",                 // TTL 64; UDP; header checksum (computed)
		lnsIP(lnsLNS), lnsIP(lnsLAC), // the LNS, the LAC
	)), lnsHex(
		lnsU16(lnsLNSPort), lnsU16(lnsLACPort), lnsU16(18+len(pkt)), "0000", // UDP: 1701 → 1702, length, no checksum
		"0002",                                  // L2TP: T=0 L=0 S=0 O=0; version 2
		lnsU16(lnsPeerTunnel), lnsU16(peerSess), // the LAC's Tunnel ID and Session ID
		"ff03 0057", // PPP: address, control; protocol IPv6
	), lns6Routed(pkt))
}

func lns6UpCases() []lnsCase {
	pkt := lns6UDP(lns6Link, lns6Net, 64)
	up := map[Reason]uint64{ReasonFwdUp: 1}
	ctrs := func(n int) lnsCounters {
		return lnsCounters{UpPackets: 1, UpOctets: uint64(n), Up6Packets: 1, Up6Octets: uint64(n)}
	}
	ids := lnsU16(lnsTunnelID) + lnsU16(lnsSessionID)
	fwd := func(name string, msg, pkt []byte) lnsCase {
		return lnsCase{name: name, in: lnsFromLAC(lnsLAC, lnsLACPort, msg), verdict: xdpRedirect,
			want: lns6UpOut(pkt), reasons: up, ctrs: ctrs(len(pkt))}
	}
	pass := func(name string, pkt []byte, r Reason) lnsCase {
		return lnsPass(name, lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(pkt)), r)
	}
	drop := func(name string, pkt []byte, r Reason) lnsCase {
		in := lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(pkt))
		return lnsCase{name: name, in: in, verdict: xdpDrop, want: in,
			reasons: map[Reason]uint64{r: 1}, ctrs: lnsCounters{Drops: 1}}
	}
	echo := lns6ICMP(lns6Link, lns6Net, 128, 64, "")               // Echo Request (RFC 4443 section 4.1)
	short := lnsHex(lns6Hdr(lns6Link, lns6Net, 58, 64, 2), "8000") // two octets of ICMPv6: no checksum field
	// A DHCPv6 Solicit (RFC 8415 section 16.2) from the client port 546
	// to All_DHCP_Relay_Agents_and_Servers, port 547.
	dhcp := lns6Sum(lnsHex(lns6Hdr(lns6LL, "ff02::1:2", 17, 1, 12),
		"0222 0223 000c 0000", // UDP: 546 → 547, length 12, checksum (computed)
		"01 abcdef",           // msg-type SOLICIT, transaction ID
	))
	// A Neighbor Solicitation for the LNS (RFC 4861 section 4.3): to its
	// solicited-node group, and to its link-local address.
	ns := func(dst string) []byte { return lns6ICMP(lns6LL, dst, 135, 255, lns6IP(lns6LNSLL)) }
	hbh := lns6Sum(lnsHex(lns6Hdr(lns6Link, lns6Net, 0, 64, 16),
		"11 00 0100 00000000", // hop-by-hop: next header UDP, length 0; PadN
		"3039 0035 0008 0000", // UDP, no payload
	))
	return []lnsCase{
		fwd("IPv6 from the /64", lns6Data(pkt), pkt),
		fwd("IPv6 from the delegated prefix", lns6Data(lns6UDP(lns6Delegated, lns6Net, 64)), lns6UDP(lns6Delegated, lns6Net, 64)),
		fwd("IPv6 from the /128", lns6Data(lns6UDP(lns6Single, lns6Net, 64)), lns6UDP(lns6Single, lns6Net, 64)),
		fwd("IPv6, ACFC and PFC", lnsCat(lnsHex("0002", ids, "57"), pkt), pkt),
		fwd("IPv6, L and O bits", lnsCat(lnsHex("4202", lnsU16(10+2+len(pkt)), ids, "0000", "0057"), pkt), pkt),
		fwd("ICMPv6 echo request", lns6Data(echo), echo),
		fwd("IPv6 hop limit 2", lns6Data(lns6UDP(lns6Link, lns6Net, 2)), lns6UDP(lns6Link, lns6Net, 2)),

		drop("IPv6 source outside the session's prefixes", lns6UDP(lns6Foreign, lns6Net, 64), ReasonDropSpoof),
		drop("IPv6 source in another session's prefix inside the delegated one", lns6UDP(lns6Inner, lns6Net, 64), ReasonDropSpoof),
		drop("IPv6 source in another session's /64", lns6UDP(lns6Elsewhere, lns6Net, 64), ReasonDropSpoof),
		drop("Router Advertisement from the subscriber", lns6ICMP(lns6LL, "ff02::1", 134, 255, ""), ReasonDropND),
		drop("Router Advertisement from a global address", lns6ICMP(lns6Link, lns6Net, 134, 255, ""), ReasonDropND),
		drop("Redirect from the subscriber", lns6ICMP(lns6LL, lns6LNSLL, 137, 255, lns6IP(lns6Net)+lns6IP(lns6Net)), ReasonDropND),
		{name: "IPv6 before the session has prefixes: spoofed", in: lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(pkt)),
			setup: func(tb testing.TB, o *lnsObjects) {
				for _, p := range []string{"2001:db8:1:2::/64", "2001:db8:100::/56", "2001:db8:200::5/128"} {
					if err := o.LnsRoutes6.Delete(route6Key(netip.MustParsePrefix(p))); err != nil {
						tb.Fatal(err)
					}
				}
			},
			verdict: xdpDrop, want: lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(pkt)),
			reasons: map[Reason]uint64{ReasonDropSpoof: 1}, ctrs: lnsCounters{Drops: 1}},

		pass("Router Solicitation", lns6ICMP(lns6LL, "ff02::2", 133, 255, ""), ReasonPassLink),
		pass("Router Solicitation, unspecified source", lns6ICMP("::", "ff02::2", 133, 255, ""), ReasonPassLink),
		pass("DHCPv6 Solicit", dhcp, ReasonPassLink),
		pass("Neighbor Solicitation to the solicited-node group", ns("ff02::1:ff00:1"), ReasonPassLink),
		pass("Neighbor Solicitation to the LNS's link-local address", ns(lns6LNSLL), ReasonPassLink),
		pass("link-local source, global destination", lns6UDP(lns6LL, lns6Net, 64), ReasonPassLink),
		pass("global source, interface-local multicast", lns6UDP(lns6Link, "ff01::1", 64), ReasonPassLink),
		pass("global source, site multicast", lns6UDP(lns6Link, "ff05::1:3", 64), ReasonPassOther),
		pass("hop-by-hop options", hbh, ReasonPassOptions),
		pass("IPv6 hop limit 1", lns6UDP(lns6Link, lns6Net, 1), ReasonPassTTL),
		pass("IPv6 hop limit 0", lns6UDP(lns6Link, lns6Net, 0), ReasonPassTTL),
		{name: "IPv6 over the session's MTU", in: lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(pkt)), verdict: xdpPass,
			setup: lnsSetSess(func(s *lnsLnsSess) { s.Mtu = 51 }), reasons: map[Reason]uint64{ReasonPassMTU: 1}},
		{name: "IPv6 over the link's MTU (FIB)", in: lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(lns6Big(lns6Link, lns6Net, 1501))), verdict: xdpPass,
			setup: lnsSetSess(func(s *lnsLnsSess) { s.Mtu = 9000 }), reasons: map[Reason]uint64{ReasonPassMTU: 1}},
		pass("IPv6 to another subscriber (slow path device)", lns6UDP(lns6Link, lns6Elsewhere, 64), ReasonPassFIB),
		pass("IPv6, no route", lns6UDP(lns6Link, "2001:db8:dead::1", 64), ReasonPassFIB),
		pass("IPv6 to the LNS itself", lns6UDP(lns6Link, "2001:db8:b::1", 64), ReasonPassFIB),
		pass("ICMPv6 shorter than its header", short, ReasonPassMalformed),
		pass("IPv6 payload length past the message", lnsCat(pkt[:5], []byte{pkt[5] + 1}, pkt[6:]), ReasonPassMalformed),
		pass("IPv6 version 4 under protocol 0x0057", lnsCat([]byte{0x40}, pkt[1:]), ReasonPassMalformed),
		pass("IPv6 header cut short", pkt[:39], ReasonPassMalformed),
		{name: "IPv6 session needs sequence numbers", in: lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(pkt)), verdict: xdpPass,
			setup: lnsSetSess(func(s *lnsLnsSess) { s.Flags = 1 }), reasons: map[Reason]uint64{ReasonPassSequenced: 1}},
		{name: "IPv6 SYN clamped to the IPv6 MSS", in: lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(lns6SYN(lns6Link, lns6Net, 1460, false))),
			verdict: xdpRedirect, want: lns6UpOut(lns6SYN(lns6Link, lns6Net, lnsMSS-20, false)),
			reasons: map[Reason]uint64{ReasonFwdUp: 1, ReasonMSSClamped: 1}, ctrs: ctrs(68)},
	}
}

func lns6DownCases() []lnsCase {
	pkt := lns6UDP(lns6Net, lns6Link, 64)
	down := map[Reason]uint64{ReasonFwdDown: 1}
	ctrs := func(n int) lnsCounters {
		return lnsCounters{DownPackets: 1, DownOctets: uint64(n), Down6Packets: 1, Down6Octets: uint64(n)}
	}
	fwd := func(name string, pkt []byte) lnsCase {
		return lnsCase{name: name, ifindex: lnsOnB, in: lns6FromNet(pkt), verdict: xdpRedirect,
			want: lns6DownOut(pkt, lnsPeerSess), reasons: down, ctrs: ctrs(len(pkt))}
	}
	pass := func(name string, pkt []byte, r Reason) lnsCase {
		c := lnsPass(name, lns6FromNet(pkt), r)
		c.ifindex = lnsOnB
		return c
	}
	inner := lns6UDP(lns6Net, lns6Inner, 64)
	// A 48-octet ICMPv6 echo request in a 64-octet frame.
	echo := lns6ICMP(lns6Net, lns6Link, 128, 64, "")
	return []lnsCase{
		fwd("IPv6 to the /64", pkt),
		fwd("IPv6 to the delegated prefix", lns6UDP(lns6Net, lns6Delegated, 64)),
		fwd("IPv6 to the /128", lns6UDP(lns6Net, lns6Single, 64)),
		{name: "IPv6 longest prefix wins: the other session's /64 inside the delegated /56", ifindex: lnsOnB,
			in: lns6FromNet(inner), verdict: xdpRedirect, want: lns6DownOut(inner, lnsOtherPeer), reasons: down,
			other: lnsCounters{DownPackets: 1, DownOctets: 52, Down6Packets: 1, Down6Octets: 52}},
		{name: "IPv6 Ethernet padding trimmed", ifindex: lnsOnB, in: lnsCat(lns6FromNet(echo), make([]byte, 64-14-len(echo))),
			verdict: xdpRedirect, want: lns6DownOut(echo, lnsPeerSess), reasons: down, ctrs: ctrs(len(echo))},
		{name: "IPv6 SYN clamped", ifindex: lnsOnB, in: lns6FromNet(lns6SYN(lns6Net, lns6Link, 1460, true)), verdict: xdpRedirect,
			want:    lns6DownOut(lns6SYN(lns6Net, lns6Link, lnsMSS-20, true), lnsPeerSess),
			reasons: map[Reason]uint64{ReasonFwdDown: 1, ReasonMSSClamped: 1}, ctrs: ctrs(68)},
		pass("IPv6 hop limit 1", lns6UDP(lns6Net, lns6Link, 1), ReasonPassTTL),
		pass("IPv6 to nobody's prefix", lns6UDP(lns6Net, lns6Foreign, 64), ReasonPassOther),
		pass("IPv6 to the LNS's link-local address", lns6ICMP(lns6Net, lns6LNSLL, 135, 255, lns6IP(lns6LNSLL)), ReasonPassOther),
		pass("IPv6 to the solicited-node group", lns6ICMP("2001:db8:b::2", "ff02::1:ff00:1", 135, 255, lns6IP("2001:db8:b::1")), ReasonPassOther),
		pass("IPv6 hop-by-hop options", lns6Sum(lnsHex(lns6Hdr(lns6Net, lns6Link, 0, 64, 16),
			"11 00 0100 00000000", "3039 0035 0008 0000")), ReasonPassOptions),
		pass("IPv6 payload length past the frame", lnsCat(pkt[:5], []byte{pkt[5] + 1}, pkt[6:]), ReasonPassMalformed),
		pass("IPv6 version 4 with ethertype 0x86dd", lnsCat([]byte{0x40}, pkt[1:]), ReasonPassMalformed),
		pass("IPv6 header cut short", pkt[:39], ReasonPassMalformed),
		{name: "IPv6 over the session's MTU", ifindex: lnsOnB, in: lns6FromNet(pkt), verdict: xdpPass,
			setup: lnsSetRoute6(func(s *lnsLnsSub) { s.Mtu = 51 }), reasons: map[Reason]uint64{ReasonPassMTU: 1}},
		{name: "IPv6 over the link's MTU with the 38 octets (FIB)", ifindex: lnsOnB, in: lns6FromNet(lns6Big(lns6Net, lns6Link, 1463)),
			verdict: xdpPass, setup: lnsSetRoute6(func(s *lnsLnsSub) { s.Mtu = 9000 }), reasons: map[Reason]uint64{ReasonPassMTU: 1}},
		{name: "IPv6 session needs sequence numbers", ifindex: lnsOnB, in: lns6FromNet(pkt), verdict: xdpPass,
			setup: lnsSetRoute6(func(s *lnsLnsSub) { s.Flags = 1 }), reasons: map[Reason]uint64{ReasonPassSequenced: 1}},
	}
}

// lnsSetRoute6 rewrites the lns_routes6 entry of the session's /64.
func lnsSetRoute6(f func(*lnsLnsSub)) func(testing.TB, *lnsObjects) {
	return func(tb testing.TB, o *lnsObjects) {
		k := route6Key(netip.MustParsePrefix("2001:db8:1:2::/64"))
		var s lnsLnsSub
		if err := o.LnsRoutes6.Lookup(k, &s); err != nil {
			tb.Fatal(err)
		}
		f(&s)
		if err := o.LnsRoutes6.Put(k, s); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestXDPLNSUp6: IPv6 in L2TP data messages from the LAC, one case per
// branch of the upstream IPv6 path.
func TestXDPLNSUp6(t *testing.T) { lnsRunCases(t, lns6UpCases()) }

// TestXDPLNSDown6: IPv6 packets to the subscribers' prefixes.
func TestXDPLNSDown6(t *testing.T) { lnsRunCases(t, lns6DownCases()) }

// TestXDPLNSMSSClamp6: a SYN over IPv6 is clamped to the session's clamp
// less 20 octets, with the MSS value at an even and an odd offset of the
// segment, both directions; the TCP checksum verifies afterwards.
func TestXDPLNSMSSClamp6(t *testing.T) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	const clamp = lnsMSS - 20
	for _, tc := range []struct {
		name     string
		down     bool
		odd      bool
		mss, out int
	}{
		{"up, even offset", false, false, 1460, clamp},
		{"up, odd offset", false, true, 1460, clamp},
		{"down, even offset", true, false, 1440, clamp},
		{"down, odd offset", true, true, 0xffff, clamp},
		{"up, below the clamp", false, true, clamp - 1, clamp - 1},
		{"down, at the clamp", true, false, clamp, clamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lnsFill(t, w, objs)
			var in, want []byte
			var ip int // offset of the forwarded IPv6 packet
			if tc.down {
				in = lns6FromNet(lns6SYN(lns6Net, lns6Link, tc.mss, tc.odd))
				want = lns6DownOut(lns6SYN(lns6Net, lns6Link, tc.out, tc.odd), lnsPeerSess)
				ip = 14 + 38
			} else {
				in = lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(lns6SYN(lns6Link, lns6Net, tc.mss, tc.odd)))
				want = lns6UpOut(lns6SYN(lns6Link, lns6Net, tc.out, tc.odd))
				ip = 14
			}
			ifindex := w.ifA
			if tc.down {
				ifindex = w.ifB
			}
			verdict, out := w.run(t, objs.XdpLns, ifindex, in)
			if verdict != xdpRedirect {
				t.Fatalf("verdict %d", verdict)
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
			if len(out) == ip+68 {
				at := ip + 40 + 22
				if tc.odd {
					at++
				}
				if got := binary.BigEndian.Uint16(out[at:]); got != uint16(tc.out) {
					t.Errorf("MSS %d, want %d", got, tc.out)
				}
				if s := inetChecksum(lns6Pseudo(out[ip:])); s != 0 {
					t.Errorf("TCP checksum does not verify (%#04x)", s)
				}
			}
			wantReasons := map[Reason]uint64{ReasonFwdUp: 1}
			if tc.down {
				wantReasons = map[Reason]uint64{ReasonFwdDown: 1}
			}
			if tc.mss != tc.out {
				wantReasons[ReasonMSSClamped] = 1
			}
			if diff := cmp.Diff(wantReasons, objs.reasons(t)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

// TestXDPLNSCountersByFamily: IPv4 and IPv6 packets of one session add
// up in the totals, and the IPv6 ones also in the IPv6 counters; the
// policer meters both families in one bucket per direction.
func TestXDPLNSCountersByFamily(t *testing.T) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	frames := []struct {
		ifindex int
		in      []byte
	}{
		{w.ifA, lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsUDP(lnsSub, lnsNet, 64)))},      // 32 up, IPv4
		{w.ifA, lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(lns6UDP(lns6Link, lns6Net, 64)))}, // 52 up, IPv6
		{w.ifA, lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(lns6UDP(lns6Link, lns6Net, 64)))},
		{w.ifB, lnsFromNet(lnsUDP(lnsNet, lnsSub, 64))},      // 32 down, IPv4
		{w.ifB, lnsFromNet(lnsUDP(lnsNet, lnsSub, 64))},      //
		{w.ifB, lns6FromNet(lns6UDP(lns6Net, lns6Link, 64))}, // 52 down, IPv6
	}
	for _, f := range frames {
		if v, _ := w.run(t, objs.XdpLns, f.ifindex, f.in); v != xdpRedirect {
			t.Fatalf("verdict %d", v)
		}
	}
	want := lnsCounters{UpPackets: 3, UpOctets: 32 + 2*52, DownPackets: 3, DownOctets: 2*32 + 52,
		Up6Packets: 2, Up6Octets: 2 * 52, Down6Packets: 1, Down6Octets: 52}
	if diff := cmp.Diff(want, objs.counters(t, lnsSlot)); diff != "" {
		t.Errorf("session counters (-want +got):\n%s", diff)
	}

	// One octet per millisecond, 60 ms of tolerance: a 52-octet IPv6
	// packet conforms, then a 32-octet IPv4 one does not (84 ms ahead).
	lnsFill(t, w, objs)
	var pol lnsDpPolicer
	pol.Up.PsPerOctet, pol.Up.ToleranceNs = 1e9, 60e6
	pol.Down = pol.Up
	if err := objs.SessionPolicers.Put(uint32(lnsSlot), pol); err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, f := range []struct {
		ifindex int
		in      []byte
	}{frames[1], frames[0], frames[5], frames[3]} {
		v, _ := w.run(t, objs.XdpLns, f.ifindex, f.in)
		got = append(got, v)
	}
	if diff := cmp.Diff([]uint32{xdpRedirect, xdpDrop, xdpRedirect, xdpDrop}, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}

// TestLNSPathSetIPv6: the Go API writes lns_routes6 and takes a session's
// prefixes out again, leaving another session's alone.
func TestLNSPathSetIPv6(t *testing.T) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	p := &LNSPath{objs: *objs}
	h := &LNSHandle{slot: lnsSlot, sub: lnsLnsSub{Slot: lnsSlot}}
	pfx := func(s ...string) []netip.Prefix {
		var ps []netip.Prefix
		for _, x := range s {
			ps = append(ps, netip.MustParsePrefix(x))
		}
		return ps
	}
	has := func(m *ebpf.Map, prefix string) (uint32, bool) {
		var v lnsLnsSub
		if err := m.Lookup(route6Key(netip.MustParsePrefix(prefix)), &v); err != nil {
			return 0, false
		}
		return v.Slot, true
	}
	if err := objs.LnsRoutes6.Put(route6Key(netip.MustParsePrefix("2001:db8:77::/48")), lnsLnsSub{Slot: lnsOtherSlot}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetIPv6(h, pfx("2001:db8:5:6::1/64", "2001:db8:77::/56")); err != nil {
		t.Fatal(err)
	}
	if _, ok := has(objs.LnsRoutes6, "2001:db8:5:6::/64"); !ok {
		t.Error("/64 not bound (masked)")
	}
	if err := p.SetIPv6(h, pfx("2001:db8:77::/56", "2001:db8:8::9/128")); err != nil {
		t.Fatal(err)
	}
	if s, ok := has(objs.LnsRoutes6, "2001:db8:5:6::/64"); ok && s == lnsSlot {
		t.Error("/64 still bound after SetIPv6 without it")
	}
	if err := p.SetIPv6(h, pfx("10.0.0.0/8")); err == nil {
		t.Error("SetIPv6 took an IPv4 prefix")
	}
	for _, q := range h.v6 {
		p.delRoute6(h, q)
	}
	// An LPM lookup answers for the longest prefix holding the key: the
	// /56 gone, the other session's /48 answers for it.
	for _, x := range []string{"2001:db8:77::/56", "2001:db8:8::9/128"} {
		if s, ok := has(objs.LnsRoutes6, x); ok && s == lnsSlot {
			t.Errorf("%s still bound after removal", x)
		}
	}
	if s, ok := has(objs.LnsRoutes6, "2001:db8:77::/48"); !ok || s != lnsOtherSlot {
		t.Errorf("the other session's /48: slot %d, %v", s, ok)
	}
}
