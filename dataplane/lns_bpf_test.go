package dataplane

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
)

// Golden frames for xdp_lns (bpf/lns.c), built field by field from RFC 791
// (IPv4), RFC 768 (UDP), RFC 2661 section 3.1 (the L2TPv2 data header),
// RFC 1661/1662 (PPP) and RFC 9293 (TCP), with every checksum computed here
// (RFC 1071) rather than taken from the program.
//
// The session: the LAC 192.0.2.2 (port 1702) reaches the LNS 192.0.2.1
// (port 1701) on dp-a; the LNS's IDs are tunnel 7, session 9, the LAC's
// tunnel 0x0102, session 0x0304; the subscriber is 10.1.2.3 with the
// Framed-Route 10.8.0.0/24. Upstream packets go to 203.0.113.7 (out of dp-b).

const (
	lnsTunnelID, lnsSessionID  = 0x0007, 0x0009 // the LNS's: lns_sessions key
	lnsPeerTunnel, lnsPeerSess = 0x0102, 0x0304 // the LAC's: written downstream
	lnsLACPort, lnsLNSPort     = 1702, 1701
	lnsSlot                    = 5
	lnsOtherSlot               = 6 // another session's Framed-Route
	lnsMTU, lnsMSS             = 1460, 1420
)

const (
	lnsLAC     = "192.0.2.2"
	lnsLNS     = "192.0.2.1"
	lnsSub     = "10.1.2.3"
	lnsRouted  = "10.8.0.5"    // in the session's Framed-Route 10.8.0.0/24
	lnsForeign = "10.9.0.1"    // in 10.9.0.0/24, another session's Framed-Route
	lnsNet     = "203.0.113.7" // a host upstream
)

// lnsHex decodes hex strings, spaces ignored, into one slice (a bad literal
// is a bug in the test).
func lnsHex(parts ...string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(parts, ""), " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func lnsCat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func lnsMAC(m net.HardwareAddr) string { return hex.EncodeToString(m) }
func lnsIP(s string) string {
	a := netip.MustParseAddr(s).As4()
	return hex.EncodeToString(a[:])
}
func lnsU16(v int) string { return fmt.Sprintf("%04x", v) }
func lnsU8(v int) string  { return fmt.Sprintf("%02x", v) }

// lnsIPv4Sum returns pkt with its IPv4 header checksum computed.
func lnsIPv4Sum(pkt []byte) []byte {
	pkt = append([]byte(nil), pkt...)
	ihl := int(pkt[0]&0x0f) * 4
	pkt[10], pkt[11] = 0, 0
	binary.BigEndian.PutUint16(pkt[10:], inetChecksum(pkt[:ihl]))
	return pkt
}

// lnsTCPSum returns the IPv4 packet pkt (20-octet header, TCP) with its
// TCP checksum computed over the pseudo-header (RFC 9293 section 3.1).
func lnsTCPSum(pkt []byte) []byte {
	pkt = append([]byte(nil), pkt...)
	seg := pkt[20:]
	seg[16], seg[17] = 0, 0
	binary.BigEndian.PutUint16(seg[16:], inetChecksum(lnsTCPPseudo(pkt)))
	return pkt
}

// lnsTCPPseudo is the pseudo-header and segment the TCP checksum covers.
func lnsTCPPseudo(pkt []byte) []byte {
	seg := pkt[20:]
	return lnsCat(pkt[12:20], []byte{0, 6, byte(len(seg) >> 8), byte(len(seg))}, seg)
}

// lnsRoutedPkt is pkt as a router forwards it: TTL one less, header checksum
// computed again from scratch.
func lnsRoutedPkt(pkt []byte) []byte {
	pkt = append([]byte(nil), pkt...)
	pkt[8]--
	return lnsIPv4Sum(pkt)
}

// lnsWrongSum returns pkt with its IPv4 header checksum off by one.
func lnsWrongSum(pkt []byte) []byte {
	pkt = append([]byte(nil), pkt...)
	pkt[11]++
	return pkt
}

// lnsUDP is a 32-octet IPv4/UDP packet from src to dst.
func lnsUDP(src, dst string, ttl int) []byte {
	return lnsIPv4Sum(lnsHex(
		"45 00", lnsU16(32), // version 4, IHL 5; TOS 0; total length
		"abcd 0000",           // identification; flags and fragment offset
		lnsU8(ttl), "11 0000", // TTL; protocol UDP; header checksum (computed)
		lnsIP(src), lnsIP(dst), // source, destination
		"3039 0035 000c 0000", // UDP: port 12345 → 53, length 12, no checksum
		"c0ffee00",            // payload
	))
}

// lnsSYN is a TCP SYN from src to dst with an MSS option.
func lnsSYN(src, dst string, mss int) []byte {
	return lnsTCPSum(lnsIPv4Sum(lnsHex(
		"45 00", lnsU16(44), // version 4, IHL 5; TOS 0; total length 20+24
		"1234 4000",            // identification; DF
		"40 06 0000",           // TTL 64; protocol TCP; header checksum (computed)
		lnsIP(src), lnsIP(dst), // source, destination
		"c350 0050",         // TCP: port 50000 → 80
		"01020304 00000000", // sequence number; acknowledgment number
		"60 02 ffff",        // data offset 6 (24 octets); flags SYN; window
		"0000 0000",         // checksum (computed); urgent pointer
		"0204", lnsU16(mss), // option MSS, length 4
	)))
}

// lnsBig is an IPv4 packet of tot octets (protocol 253, RFC 3692).
func lnsBig(src, dst string, tot int) []byte {
	return lnsIPv4Sum(lnsCat(lnsHex(
		"45 00", lnsU16(tot), // version 4, IHL 5; TOS 0; total length
		"0001 0000",            // identification; flags and fragment offset
		"40 fd 0000",           // TTL 64; protocol 253 (experimental); checksum
		lnsIP(src), lnsIP(dst), // source, destination
	), make([]byte, tot-20)))
}

// lnsPatch returns pkt with b written at off and its IPv4 checksum fixed.
func lnsPatch(pkt []byte, off int, b ...byte) []byte {
	pkt = append([]byte(nil), pkt...)
	copy(pkt[off:], b)
	return lnsIPv4Sum(pkt)
}

// lnsFromLAC is an L2TP message msg as it arrives from src:sport on dp-a.
func lnsFromLAC(src string, sport int, msg []byte) []byte {
	return lnsCat(lnsHex(
		lnsMAC(testMACA), lnsMAC(testMACA2), "0800", // Ethernet: to dp-a, from the LAC, IPv4
	), lnsIPv4Sum(lnsHex(
		"45 00", lnsU16(20+8+len(msg)), // IPv4: version 4, IHL 5; TOS; total length
		"1111 4000",               // identification; DF
		"40 11 0000",              // TTL 64; UDP; header checksum (computed)
		lnsIP(src), lnsIP(lnsLNS), // the LAC, the LNS
	)), lnsHex(
		lnsU16(sport), lnsU16(lnsLNSPort), lnsU16(8+len(msg)), "0000", // UDP: source, destination 1701, length, no checksum
	), msg)
}

// lnsData is the L2TP data message of the session with the plainest
// header (T=0 L=0 S=0 O=0, version 2), PPP FF 03 00 21 and pkt.
func lnsData(pkt []byte) []byte {
	return lnsCat(lnsHex(
		"0002",                                    // flags: T=0 L=0 S=0 O=0; version 2
		lnsU16(lnsTunnelID), lnsU16(lnsSessionID), // Tunnel ID, Session ID (the LNS's)
		"ff03 0021", // PPP: address, control; protocol IPv4
	), pkt)
}

// lnsUpOut is pkt forwarded upstream out of dp-b.
func lnsUpOut(pkt []byte) []byte {
	return lnsCat(lnsHex(
		lnsMAC(testMACB2), lnsMAC(testMACB), "0800", // Ethernet: to 198.51.100.2, from dp-b, IPv4
	), lnsRoutedPkt(pkt))
}

// lnsFromNet is pkt arriving from upstream on dp-b.
func lnsFromNet(pkt []byte) []byte {
	return lnsCat(lnsHex(
		lnsMAC(testMACB), lnsMAC(testMACB2), "0800", // Ethernet: to dp-b, from 198.51.100.2, IPv4
	), pkt)
}

// lnsDownOut is pkt encapsulated towards the LAC: the 38 octets of
// RFC 2661 section 3.1 over IPv4/UDP, out of dp-a.
func lnsDownOut(pkt []byte) []byte {
	return lnsCat(lnsHex(
		lnsMAC(testMACA2), lnsMAC(testMACA), "0800", // Ethernet: to the LAC, from dp-a, IPv4
	), lnsIPv4Sum(lnsHex(
		"45 00", lnsU16(38+len(pkt)), // IPv4: version 4, IHL 5; TOS 0; total length
		"0000 4000",                  // identification 0; DF
		"40 11 0000",                 // TTL 64; UDP; header checksum (computed)
		lnsIP(lnsLNS), lnsIP(lnsLAC), // the LNS, the LAC
	)), lnsHex(
		lnsU16(lnsLNSPort), lnsU16(lnsLACPort), lnsU16(18+len(pkt)), "0000", // UDP: 1701 → 1702, length, no checksum
		"0002",                                     // L2TP: T=0 L=0 S=0 O=0; version 2
		lnsU16(lnsPeerTunnel), lnsU16(lnsPeerSess), // the LAC's Tunnel ID and Session ID
		"ff03 0021", // PPP: address, control; protocol IPv4
	), lnsRoutedPkt(pkt))
}

// lnsCounters is one session's dp_counters summed over the CPUs.
type lnsCounters struct {
	UpPackets, UpOctets, DownPackets, DownOctets, Drops uint64
	Up6Packets, Up6Octets, Down6Packets, Down6Octets    uint64
}

// lnsLoad loads xdp_lns and writes the session of the package comment.
func lnsLoad(tb testing.TB, w *testWorld) *lnsObjects {
	tb.Helper()
	objs := &lnsObjects{}
	if err := loadLnsObjects(objs, nil); err != nil {
		tb.Fatalf("load: %v", err)
	}
	tb.Cleanup(func() { objs.Close() })
	lnsFill(tb, w, objs)
	return objs
}

// lnsFill writes (or writes again) settings, lns_sessions, lns_subs and
// lns_routes as the package comment describes them, and zeroes the
// counters and policers the tests look at: every case starts from the same
// maps without loading the object again.
func lnsFill(tb testing.TB, w *testWorld, objs *lnsObjects) {
	tb.Helper()
	put := func(m *ebpf.Map, k, v any) {
		tb.Helper()
		if err := m.Put(k, v); err != nil {
			tb.Fatalf("%v: %v", m, err)
		}
	}
	cfg := lnsDpConfig{L2tpPort: be16(1701), SlowIfindex: uint32(w.ifA)} // dp-a stands for the TUN too: 10.9.9.9 is "another subscriber"
	put(objs.Settings, uint32(0), cfg)
	put(objs.LnsSessions, lnsLnsSessKey{TunnelId: be16(lnsTunnelID), SessionId: be16(lnsSessionID)}, lnsLnsSess{
		LacAddr: addr4(netip.MustParseAddr(lnsLAC)),
		SubAddr: addr4(netip.MustParseAddr(lnsSub)),
		LacPort: be16(lnsLACPort),
		Mtu:     lnsMTU, Mss: lnsMSS, Slot: lnsSlot,
	})
	sub := lnsLnsSub{
		LacAddr: addr4(netip.MustParseAddr(lnsLAC)), LnsAddr: addr4(netip.MustParseAddr(lnsLNS)),
		LacPort: be16(lnsLACPort), LnsPort: be16(lnsLNSPort),
		PeerTunnel: be16(lnsPeerTunnel), PeerSession: be16(lnsPeerSess),
		Mtu: lnsMTU, Mss: lnsMSS, Slot: lnsSlot,
	}
	put(objs.LnsSubs, addr4(netip.MustParseAddr(lnsSub)), sub)
	put(objs.LnsRoutes, lnsLnsRouteKey{Prefixlen: 24, Addr: addr4(netip.MustParseAddr("10.8.0.0"))}, sub)
	other := sub
	other.Slot = lnsOtherSlot
	put(objs.LnsRoutes, lnsLnsRouteKey{Prefixlen: 24, Addr: addr4(netip.MustParseAddr("10.9.0.0"))}, other)

	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		tb.Fatal(err)
	}
	lns6Fill(tb, objs, sub)

	for _, slot := range []uint32{lnsSlot, lnsOtherSlot} {
		put(objs.SessionCounters, slot, make([]lnsDpCounters, ncpu))
		put(objs.SessionPolicers, slot, lnsDpPolicer{})
	}
	for r := range NumReasons {
		put(objs.ReasonStats, uint32(r), make([]uint64, ncpu))
	}
}

// reasons returns the reason counters that are not zero, summed over the CPUs.
func (o *lnsObjects) reasons(tb testing.TB) map[Reason]uint64 {
	tb.Helper()
	got := map[Reason]uint64{}
	for r := range NumReasons {
		var v []uint64
		if err := o.ReasonStats.Lookup(uint32(r), &v); err != nil {
			tb.Fatalf("reason_stats: %v", err)
		}
		for _, n := range v {
			got[r] += n
		}
	}
	for r, n := range got {
		if n == 0 {
			delete(got, r)
		}
	}
	return got
}

// counters returns the session counters of slot, summed over the CPUs.
func (o *lnsObjects) counters(tb testing.TB, slot uint32) lnsCounters {
	tb.Helper()
	var v []lnsDpCounters
	if err := o.SessionCounters.Lookup(slot, &v); err != nil {
		tb.Fatalf("session_counters: %v", err)
	}
	var c lnsCounters
	for _, x := range v {
		c.UpPackets += x.UpPackets
		c.UpOctets += x.UpOctets
		c.DownPackets += x.DownPackets
		c.DownOctets += x.DownOctets
		c.Drops += x.Drops
		c.Up6Packets += x.Up6Packets
		c.Up6Octets += x.Up6Octets
		c.Down6Packets += x.Down6Packets
		c.Down6Octets += x.Down6Octets
	}
	return c
}

// lnsSetSess rewrites the session's lns_sessions entry.
func lnsSetSess(f func(*lnsLnsSess)) func(testing.TB, *lnsObjects) {
	return func(tb testing.TB, o *lnsObjects) {
		k := lnsLnsSessKey{TunnelId: be16(lnsTunnelID), SessionId: be16(lnsSessionID)}
		var s lnsLnsSess
		if err := o.LnsSessions.Lookup(k, &s); err != nil {
			tb.Fatal(err)
		}
		f(&s)
		if err := o.LnsSessions.Put(k, s); err != nil {
			tb.Fatal(err)
		}
	}
}

// lnsSetSub rewrites the subscriber's lns_subs entry.
func lnsSetSub(f func(*lnsLnsSub)) func(testing.TB, *lnsObjects) {
	return func(tb testing.TB, o *lnsObjects) {
		k := addr4(netip.MustParseAddr(lnsSub))
		var s lnsLnsSub
		if err := o.LnsSubs.Lookup(k, &s); err != nil {
			tb.Fatal(err)
		}
		f(&s)
		if err := o.LnsSubs.Put(k, s); err != nil {
			tb.Fatal(err)
		}
	}
}

type lnsCase struct {
	name    string
	setup   func(testing.TB, *lnsObjects) // map changes before the run
	ifindex func(*testWorld) int          // arrival interface: dp-a when nil
	in      []byte
	verdict uint32
	want    []byte // the frame out; nil: in, unchanged
	reasons map[Reason]uint64
	ctrs    lnsCounters // slot lnsSlot
	other   lnsCounters // slot lnsOtherSlot
	check   func(*testing.T, []byte)
}

func lnsOnB(w *testWorld) int { return w.ifB }

// lnsPass is a case the program passes unchanged for reason r.
func lnsPass(name string, in []byte, r Reason) lnsCase {
	return lnsCase{name: name, in: in, verdict: xdpPass, reasons: map[Reason]uint64{r: 1}}
}

func lnsUpCases() []lnsCase {
	pkt := lnsUDP(lnsSub, lnsNet, 64)
	up := map[Reason]uint64{ReasonFwdUp: 1}
	upCtrs := lnsCounters{UpPackets: 1, UpOctets: 32}
	ids := lnsU16(lnsTunnelID) + lnsU16(lnsSessionID)
	fwd := func(name string, msg, out []byte) lnsCase {
		return lnsCase{name: name, in: lnsFromLAC(lnsLAC, lnsLACPort, msg), verdict: xdpRedirect,
			want: out, reasons: up, ctrs: upCtrs}
	}
	pass := func(name string, msg []byte, r Reason) lnsCase {
		return lnsPass(name, lnsFromLAC(lnsLAC, lnsLACPort, msg), r)
	}
	// A 28-octet packet (no UDP payload) in a data message followed by
	// 6 octets of PPP padding; the frame then has 10 octets of Ethernet
	// padding after the UDP datagram.
	short := lnsPatch(lnsUDP(lnsSub, lnsNet, 64)[:28], 2, 0, 28)
	short = lnsPatch(short, 24, 0, 8)
	padded := lnsFromLAC(lnsLAC, lnsLACPort, lnsCat(lnsData(short), make([]byte, 6)))
	padded = lnsCat(padded, make([]byte, 10))

	return []lnsCase{
		fwd("FF 03, two-octet protocol", lnsData(pkt), lnsUpOut(pkt)),
		fwd("no FF 03 (ACFC)", lnsCat(lnsHex("0002", ids, "0021"), pkt), lnsUpOut(pkt)),
		fwd("one-octet protocol (PFC)", lnsCat(lnsHex("0002", ids, "ff03 21"), pkt), lnsUpOut(pkt)),
		fwd("ACFC and PFC", lnsCat(lnsHex("0002", ids, "21"), pkt), lnsUpOut(pkt)),
		fwd("L bit, Length right", lnsCat(lnsHex(
			"4002", lnsU16(8+4+32), ids, // flags: L; Length (header, PPP, IP); IDs
			"ff03 0021"), pkt), lnsUpOut(pkt)),
		fwd("O bit, 3 octets of offset padding", lnsCat(lnsHex(
			"0202", ids, "0003 aabbcc", // flags: O; IDs; Offset Size 3, padding
			"ff03 0021"), pkt), lnsUpOut(pkt)),
		fwd("L and O bits, no padding", lnsCat(lnsHex(
			"4202", lnsU16(10+2+32), ids, "0000", // flags: L, O; Length; IDs; Offset Size 0
			"0021"), pkt), lnsUpOut(pkt)),
		fwd("Framed-Route source", lnsData(lnsUDP(lnsRouted, lnsNet, 64)), lnsUpOut(lnsUDP(lnsRouted, lnsNet, 64))),
		{name: "padding after the IP packet and the datagram trimmed", in: padded, verdict: xdpRedirect,
			want: lnsUpOut(short), reasons: up, ctrs: lnsCounters{UpPackets: 1, UpOctets: 28}},

		pass("L bit, Length wrong", lnsCat(lnsHex("4002", lnsU16(8+4+32+1), ids, "ff03 0021"), pkt), ReasonPassMalformed),
		pass("O bit, padding past the message", lnsCat(lnsHex("0202", ids, "00c8"), pkt), ReasonPassMalformed),
		pass("O bit, padding over 255", lnsCat(lnsHex("0202", ids, "0100"), make([]byte, 256), lnsHex("0021"), pkt), ReasonPassMalformed),
		pass("control message (T bit)", lnsHex(
			"c802 0014", lnsU16(lnsTunnelID), "0000", // flags T, L, S; version 2; Length; Tunnel ID; Session ID 0
			"0001 0002",           // Ns, Nr
			"8008 0000 0000 0006", // AVP Message Type: Hello
		), ReasonPassControl),
		pass("S bit", lnsCat(lnsHex("0802", ids, "0001 0002", "ff03 0021"), pkt), ReasonPassSequenced),
		pass("L2TPv3 version", lnsCat(lnsHex("0003", ids, "ff03 0021"), pkt), ReasonPassOther),
		pass("unknown session", lnsCat(lnsHex("0002", lnsU16(lnsTunnelID), lnsU16(lnsSessionID+1), "ff03 0021"), pkt), ReasonPassNoSession),
		{name: "session needs sequence numbers", in: lnsFromLAC(lnsLAC, lnsLACPort, lnsData(pkt)), verdict: xdpPass,
			setup: lnsSetSess(func(s *lnsLnsSess) { s.Flags = 1 }), reasons: map[Reason]uint64{ReasonPassSequenced: 1}},
		{name: "from another address", in: lnsFromLAC("192.0.2.3", lnsLACPort, lnsData(pkt)), verdict: xdpDrop,
			want: lnsFromLAC("192.0.2.3", lnsLACPort, lnsData(pkt)), reasons: map[Reason]uint64{ReasonDropPeer: 1}},
		{name: "from another port", in: lnsFromLAC(lnsLAC, 1701, lnsData(pkt)), verdict: xdpDrop,
			want: lnsFromLAC(lnsLAC, 1701, lnsData(pkt)), reasons: map[Reason]uint64{ReasonDropPeer: 1}},
		pass("LCP", lnsHex("0002", ids,
			"ff03 c021",           // PPP: address, control; LCP
			"09 01 0008 01020304", // Echo-Request, identifier 1, length 8, magic
		), ReasonPassPPP),
		pass("IPCP, compressed", lnsHex("0002", ids, "8021 01 01 0004"), ReasonPassPPP),
		pass("PPP address not FF 03", lnsCat(lnsHex("0002", ids, "ff05 0021"), pkt), ReasonPassPPP),
		{name: "spoofed source", in: lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsUDP("10.1.2.4", lnsNet, 64))),
			verdict: xdpDrop, want: lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsUDP("10.1.2.4", lnsNet, 64))),
			reasons: map[Reason]uint64{ReasonDropSpoof: 1}, ctrs: lnsCounters{Drops: 1}},
		{name: "another session's Framed-Route as source", in: lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsUDP(lnsForeign, lnsNet, 64))),
			verdict: xdpDrop, want: lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsUDP(lnsForeign, lnsNet, 64))),
			reasons: map[Reason]uint64{ReasonDropSpoof: 1}, ctrs: lnsCounters{Drops: 1}},
		{name: "no address yet: all spoofed", in: lnsFromLAC(lnsLAC, lnsLACPort, lnsData(pkt)), verdict: xdpDrop,
			setup: lnsSetSess(func(s *lnsLnsSess) { s.SubAddr = 0 }),
			want:  lnsFromLAC(lnsLAC, lnsLACPort, lnsData(pkt)), reasons: map[Reason]uint64{ReasonDropSpoof: 1}, ctrs: lnsCounters{Drops: 1}},
		pass("inner fragment (MF)", lnsData(lnsPatch(pkt, 6, 0x20, 0x00)), ReasonPassFragment),
		pass("inner fragment (offset)", lnsData(lnsPatch(pkt, 6, 0x00, 0x10)), ReasonPassFragment),
		pass("outer fragment (MF)", nil, 0), // filled below
		pass("inner IP options", lnsData(lnsIPv4Sum(lnsHex(
			"46 00 0020", "abcd 0000", "40 11 0000", lnsIP(lnsSub), lnsIP(lnsNet), // IHL 6
			"01010100",            // options: NOP NOP NOP EOL
			"3039 0035 0008 0000", // UDP, no payload
		))), ReasonPassOptions),
		pass("inner header checksum wrong", lnsData(lnsWrongSum(pkt)), ReasonPassMalformed),
		pass("inner IHL 4", lnsData(lnsPatch(pkt, 0, 0x44)), ReasonPassMalformed),
		pass("inner IPv6", lnsData(lnsPatch(pkt, 0, 0x65)), ReasonPassMalformed),
		pass("inner total length past the message", lnsData(lnsPatch(pkt, 2, 0, 33)), ReasonPassMalformed),
		pass("inner total length under 20", lnsData(lnsPatch(pkt, 2, 0, 19)), ReasonPassMalformed),
		pass("TTL 1", lnsData(lnsUDP(lnsSub, lnsNet, 1)), ReasonPassTTL),
		pass("TTL 0", lnsData(lnsUDP(lnsSub, lnsNet, 0)), ReasonPassTTL),
		{name: "over the session's MTU", in: lnsFromLAC(lnsLAC, lnsLACPort, lnsData(pkt)), verdict: xdpPass,
			setup: lnsSetSess(func(s *lnsLnsSess) { s.Mtu = 31 }), reasons: map[Reason]uint64{ReasonPassMTU: 1}},
		{name: "over the link's MTU (FIB)", in: lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsBig(lnsSub, lnsNet, 1501))), verdict: xdpPass,
			setup: lnsSetSess(func(s *lnsLnsSess) { s.Mtu = 9000 }), reasons: map[Reason]uint64{ReasonPassMTU: 1}},
		pass("to another subscriber (slow path device)", lnsData(lnsUDP(lnsSub, "10.9.9.9", 64)), ReasonPassFIB),
		pass("no route", lnsData(lnsUDP(lnsSub, "198.18.0.1", 64)), ReasonPassFIB),
		pass("outer UDP length past the IP packet", nil, 0), // filled below
		pass("outer total length past the frame", nil, 0),   // filled below
		pass("UDP to another port", nil, 0),                 // filled below
		lnsPass("ARP", lnsHex(
			"ffffffffffff", lnsMAC(testMACA2), "0806", // Ethernet: broadcast, from the LAC, ARP
			"0001 0800 06 04 0001", lnsMAC(testMACA2), lnsIP(lnsLAC), "000000000000", lnsIP(lnsLNS), // who-has 192.0.2.1
		), ReasonPassOther),
	}
}

// lnsUpAll is lnsUpCases with the cases that need a frame edited after
// it is built.
func lnsUpAll() []lnsCase {
	cs := lnsUpCases()
	base := lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsUDP(lnsSub, lnsNet, 64)))
	for i := range cs {
		c := &cs[i]
		switch c.name {
		case "outer fragment (MF)":
			c.in = lnsCat(base[:14], lnsPatch(base[14:], 6, 0x20, 0x00))
			c.reasons = map[Reason]uint64{ReasonPassFragment: 1}
		case "outer UDP length past the IP packet":
			c.in = append([]byte(nil), base...)
			binary.BigEndian.PutUint16(c.in[14+20+4:], uint16(len(base)-14-20+1))
			c.reasons = map[Reason]uint64{ReasonPassMalformed: 1}
		case "outer total length past the frame":
			c.in = lnsCat(base[:14], lnsPatch(base[14:], 2, byte((len(base)-13)>>8), byte(len(base)-13)))
			c.reasons = map[Reason]uint64{ReasonPassMalformed: 1}
		case "UDP to another port":
			c.in = append([]byte(nil), base...)
			binary.BigEndian.PutUint16(c.in[14+20+2:], 1702)
			c.reasons = map[Reason]uint64{ReasonPassOther: 1}
		}
	}
	return cs
}

func lnsDownCases() []lnsCase {
	pkt := lnsUDP(lnsNet, lnsSub, 64)
	down := map[Reason]uint64{ReasonFwdDown: 1}
	fwd := func(name string, pkt []byte) lnsCase {
		return lnsCase{name: name, ifindex: lnsOnB, in: lnsFromNet(pkt), verdict: xdpRedirect,
			want: lnsDownOut(pkt), reasons: down, ctrs: lnsCounters{DownPackets: 1, DownOctets: uint64(len(pkt))}}
	}
	pass := func(name string, pkt []byte, r Reason) lnsCase {
		c := lnsPass(name, lnsFromNet(pkt), r)
		c.ifindex = lnsOnB
		return c
	}
	// A 28-octet ICMP echo request in a 64-octet frame (Ethernet padding).
	icmp := lnsIPv4Sum(lnsHex(
		"45 00 001c", "0042 0000", "40 01 0000", lnsIP(lnsNet), lnsIP(lnsSub), // IPv4, total length 28, ICMP
		"08 00 f7fd 0001 0001", // ICMP echo request (RFC 792), checksum, identifier 1, sequence 1
	))
	return []lnsCase{
		fwd("encap", pkt),
		fwd("to a Framed-Route", lnsUDP(lnsNet, lnsRouted, 64)),
		{name: "Ethernet padding trimmed", ifindex: lnsOnB, in: lnsCat(lnsFromNet(icmp), make([]byte, 64-14-28)),
			verdict: xdpRedirect, want: lnsDownOut(icmp), reasons: down, ctrs: lnsCounters{DownPackets: 1, DownOctets: 28}},
		{name: "SYN clamped", ifindex: lnsOnB, in: lnsFromNet(lnsSYN(lnsNet, lnsSub, 1460)), verdict: xdpRedirect,
			want:    lnsDownOut(lnsSYN(lnsNet, lnsSub, 1420)),
			reasons: map[Reason]uint64{ReasonFwdDown: 1, ReasonMSSClamped: 1}, ctrs: lnsCounters{DownPackets: 1, DownOctets: 44}},
		pass("TTL 1", lnsUDP(lnsNet, lnsSub, 1), ReasonPassTTL),
		pass("unknown address", lnsUDP(lnsNet, "10.7.7.7", 64), ReasonPassOther),
		pass("to the LNS itself", lnsUDP(lnsNet, lnsLNS, 64), ReasonPassOther),
		pass("fragment", lnsPatch(pkt, 6, 0x20, 0x00), ReasonPassFragment),
		pass("IP options", lnsIPv4Sum(lnsHex(
			"46 00 0020", "abcd 0000", "40 11 0000", lnsIP(lnsNet), lnsIP(lnsSub), // IHL 6
			"01010100",            // options: NOP NOP NOP EOL
			"3039 0035 0008 0000", // UDP, no payload
		)), ReasonPassOptions),
		pass("IHL 4", lnsPatch(pkt, 0, 0x44), ReasonPassMalformed),
		pass("header checksum wrong", lnsWrongSum(pkt), ReasonPassMalformed),
		pass("total length past the frame", lnsPatch(pkt, 2, 0, 33), ReasonPassMalformed),
		pass("total length under 20", lnsPatch(pkt, 2, 0, 19), ReasonPassMalformed),
		{name: "over the session's MTU", ifindex: lnsOnB, in: lnsFromNet(pkt), verdict: xdpPass,
			setup: lnsSetSub(func(s *lnsLnsSub) { s.Mtu = 31 }), reasons: map[Reason]uint64{ReasonPassMTU: 1}},
		{name: "over the link's MTU with the 38 octets (FIB)", ifindex: lnsOnB, in: lnsFromNet(lnsBig(lnsNet, lnsSub, 1463)), verdict: xdpPass,
			setup: lnsSetSub(func(s *lnsLnsSub) { s.Mtu = 9000 }), reasons: map[Reason]uint64{ReasonPassMTU: 1}},
		{name: "session needs sequence numbers", ifindex: lnsOnB, in: lnsFromNet(pkt), verdict: xdpPass,
			setup: lnsSetSub(func(s *lnsLnsSub) { s.Flags = 1 }), reasons: map[Reason]uint64{ReasonPassSequenced: 1}},
		{name: "LAC unreachable", ifindex: lnsOnB, in: lnsFromNet(pkt), verdict: xdpPass,
			setup:   lnsSetSub(func(s *lnsLnsSub) { s.LacAddr = addr4(netip.MustParseAddr("198.18.0.1")) }),
			reasons: map[Reason]uint64{ReasonPassFIB: 1}},
	}
}

func lnsRunCases(t *testing.T, cases []lnsCase) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lnsFill(t, w, objs)
			if tc.setup != nil {
				tc.setup(t, objs)
			}
			ifindex := w.ifA
			if tc.ifindex != nil {
				ifindex = tc.ifindex(w)
			}
			verdict, out := w.run(t, objs.XdpLns, ifindex, tc.in)
			if verdict != tc.verdict {
				t.Errorf("verdict %d, want %d", verdict, tc.verdict)
			}
			want := tc.want
			if want == nil {
				want = tc.in
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("frame (-want +got):\n%s\nwant %x\ngot  %x", diff, want, out)
			}
			if diff := cmp.Diff(tc.reasons, objs.reasons(t)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.ctrs, objs.counters(t, lnsSlot)); diff != "" {
				t.Errorf("session counters (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.other, objs.counters(t, lnsOtherSlot)); diff != "" {
				t.Errorf("the other session's counters (-want +got):\n%s", diff)
			}
			if verdict == xdpRedirect {
				if err := lnsCheckOut(out); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestXDPLNSUp: L2TP data messages from the LAC, one case per branch of
// the upstream path.
func TestXDPLNSUp(t *testing.T) { lnsRunCases(t, lnsUpAll()) }

// TestXDPLNSDown: packets to the subscriber, one case per branch of the
// downstream path.
func TestXDPLNSDown(t *testing.T) { lnsRunCases(t, lnsDownCases()) }

// TestXDPLNSMSSClamp: a SYN's MSS above the session's clamp is lowered and
// the TCP checksum stays right; one below it is left alone.
func TestXDPLNSMSSClamp(t *testing.T) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	for _, tc := range []struct {
		name     string
		mss, out int
		reasons  map[Reason]uint64
	}{
		{"1460 clamped to 1420", 1460, 1420, map[Reason]uint64{ReasonFwdUp: 1, ReasonMSSClamped: 1}},
		{"1400 left alone", 1400, 1400, map[Reason]uint64{ReasonFwdUp: 1}},
		{"1420 left alone", 1420, 1420, map[Reason]uint64{ReasonFwdUp: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lnsFill(t, w, objs)
			in := lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsSYN(lnsSub, lnsNet, tc.mss)))
			verdict, out := w.run(t, objs.XdpLns, w.ifA, in)
			if verdict != xdpRedirect {
				t.Fatalf("verdict %d", verdict)
			}
			want := lnsUpOut(lnsSYN(lnsSub, lnsNet, tc.out))
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
			if len(out) == 14+44 {
				if got := binary.BigEndian.Uint16(out[14+20+22:]); got != uint16(tc.out) {
					t.Errorf("MSS %d, want %d", got, tc.out)
				}
				if s := inetChecksum(lnsTCPPseudo(out[14:])); s != 0 {
					t.Errorf("TCP checksum does not verify (%#04x)", s)
				}
			}
			if diff := cmp.Diff(tc.reasons, objs.reasons(t)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

// TestXDPLNSPolicer: with a rate of one octet per millisecond and a
// tolerance of 80 ms, the first two 32-octet packets of a burst conform
// (32 ms and 64 ms ahead) and the rest are dropped, in each direction.
func TestXDPLNSPolicer(t *testing.T) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	var pol lnsDpPolicer
	pol.Up.PsPerOctet, pol.Up.ToleranceNs = 1e9, 80e6
	pol.Down = pol.Up
	if err := objs.SessionPolicers.Put(uint32(lnsSlot), pol); err != nil {
		t.Fatal(err)
	}
	upIn := lnsFromLAC(lnsLAC, lnsLACPort, lnsData(lnsUDP(lnsSub, lnsNet, 64)))
	downIn := lnsFromNet(lnsUDP(lnsNet, lnsSub, 64))
	var got, want []uint32
	for i := range 6 {
		v, _ := w.run(t, objs.XdpLns, w.ifA, upIn)
		got = append(got, v)
		v, _ = w.run(t, objs.XdpLns, w.ifB, downIn)
		got = append(got, v)
		if i < 2 {
			want = append(want, xdpRedirect, xdpRedirect)
		} else {
			want = append(want, xdpDrop, xdpDrop)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verdicts, up and down alternating (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[Reason]uint64{ReasonFwdUp: 2, ReasonFwdDown: 2, ReasonDropPolicer: 8}, objs.reasons(t)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	wantCtrs := lnsCounters{UpPackets: 2, UpOctets: 64, DownPackets: 2, DownOctets: 64, Drops: 8}
	if diff := cmp.Diff(wantCtrs, objs.counters(t, lnsSlot)); diff != "" {
		t.Errorf("session counters (-want +got):\n%s", diff)
	}
}

// TestXDPLNSTruncated cuts every golden frame at every length: nothing
// truncated is forwarded, and a passed frame is unchanged.
func TestXDPLNSTruncated(t *testing.T) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	for _, tc := range slices.Concat(lnsUpAll(), lnsDownCases(), lns6UpCases(), lns6DownCases()) {
		ifindex := w.ifA
		if tc.ifindex != nil {
			ifindex = tc.ifindex(w)
		}
		end := len(tc.in)
		if end >= 18 && tc.in[12] == 0x08 && tc.in[13] == 0x00 {
			end = min(end, 14+int(binary.BigEndian.Uint16(tc.in[16:]))) // cuts in Ethernet padding leave a whole packet
		}
		if end >= 20 && tc.in[12] == 0x86 && tc.in[13] == 0xdd {
			end = min(end, 14+40+int(binary.BigEndian.Uint16(tc.in[18:])))
		}
		for n := 14; n < end; n++ { // BPF_PROG_TEST_RUN refuses less than an Ethernet header
			in := tc.in[:n]
			verdict, out := w.run(t, objs.XdpLns, ifindex, in)
			switch verdict {
			case xdpPass:
				if diff := cmp.Diff(in, out); diff != "" {
					t.Errorf("%s cut at %d: passed frame changed (-in +out):\n%s", tc.name, n, diff)
				}
			case xdpDrop:
			default:
				t.Errorf("%s cut at %d: verdict %d", tc.name, n, verdict)
			}
		}
	}
}

// lnsCheckOut parses a frame xdp_lns forwarded: Ethernet, then an IPv4
// header with a valid checksum whose total length ends the frame, or an
// IPv6 header whose payload length ends it.
func lnsCheckOut(b []byte) error {
	if len(b) < 14+20 {
		return fmt.Errorf("forwarded frame of %d octets", len(b))
	}
	if et := binary.BigEndian.Uint16(b[12:]); et == 0x86dd {
		ip := b[14:]
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return fmt.Errorf("forwarded IPv6 frame of %d octets, version %d", len(b), ip[0]>>4)
		}
		if n := 40 + int(binary.BigEndian.Uint16(ip[4:])); n != len(ip) {
			return fmt.Errorf("forwarded IPv6 packet of %d octets in %d", n, len(ip))
		}
		return nil
	} else if et != 0x0800 {
		return fmt.Errorf("forwarded frame with ethertype %#04x", et)
	}
	ip := b[14:]
	if ip[0] != 0x45 {
		return fmt.Errorf("forwarded IPv4 header starts %#02x", ip[0])
	}
	if s := inetChecksum(ip[:20]); s != 0 {
		return fmt.Errorf("forwarded IPv4 header checksum does not verify (%#04x)", s)
	}
	if tot := int(binary.BigEndian.Uint16(ip[2:])); tot != len(ip) {
		return fmt.Errorf("forwarded IPv4 total length %d in %d octets", tot, len(ip))
	}
	return nil
}

// FuzzXDPLNS runs arbitrary frames, seeded with the golden ones, through
// xdp_lns on dp-a and dp-b: the verdict is PASS, DROP or REDIRECT; a passed
// frame is unchanged; a forwarded frame parses as Ethernet and IPv4 with a
// valid header checksum.
func FuzzXDPLNS(f *testing.F) {
	for _, tc := range slices.Concat(lnsUpAll(), lnsDownCases(), lns6UpCases(), lns6DownCases()) {
		f.Add(tc.in, tc.ifindex != nil)
	}
	w := newTestWorld(f)
	objs := lnsLoad(f, w)
	f.Fuzz(func(t *testing.T, in []byte, onB bool) {
		if len(in) < 14 || len(in) > 3000 {
			return // BPF_PROG_TEST_RUN refuses them
		}
		ifindex := w.ifA
		if onB {
			ifindex = w.ifB
		}
		verdict, out := w.run(t, objs.XdpLns, ifindex, in)
		switch verdict {
		case xdpPass:
			if diff := cmp.Diff(in, out); diff != "" {
				t.Fatalf("passed frame changed (-in +out):\n%s", diff)
			}
		case xdpDrop:
		case xdpRedirect:
			if err := lnsCheckOut(out); err != nil {
				t.Fatalf("%v\nin  %x\nout %x", err, in, out)
			}
		default:
			t.Fatalf("verdict %d", verdict)
		}
	})
}
