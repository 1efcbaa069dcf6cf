package dataplane

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Golden frames for xdp_lac (bpf/lac.c). The frames are written field by
// field from RFC 2516 section 4 (PPPoE session stage), RFC 2661 section 3.1
// (L2TPv2 data header), RFC 1661 section 2 and 6.6 / RFC 1662 section 3.2
// (PPP protocol field, PFC, address and control field), RFC 791 (IPv4),
// RFC 768 (UDP) and RFC 9293 section 3.2 (TCP MSS option); the checksums
// they carry are computed here with RFC 1071, independently of the program.
//
// The world (harness_test.go): dp-b is the access port (the subscriber's
// PPPoE arrives there, the AC's MAC is testMACB), dp-a faces the LNS
// 192.0.2.2 (neighbour MAC testMACA2) from the LAC's 192.0.2.1 (testMACA).

// The reasons of enum dp_reason (bpf/dataplane.h), as reason_stats indexes.
const (
	lacFwdUp = iota
	lacFwdDown
	lacPassOther
	lacPassControl
	lacPassPPP
	lacPassNoSession
	lacPassSequenced
	lacPassFragment
	lacPassOptions
	lacPassTTL
	lacPassMTU
	lacPassFIB
	lacPassMalformed
	lacDropSpoof
	lacDropPolicer
	lacDropPeer
	lacErrAdjust
	lacMSSClamped
	lacDropND
	lacPassLink
	lacNumReasons
)

// lacFSequencing is DP_F_SEQUENCING.
const lacFSequencing = 1

var (
	lacSubMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01} // the subscriber
	lacOwnAddr = [4]byte{192, 0, 2, 1}                    // the LAC (dp-a)
	lacLNSAddr = [4]byte{192, 0, 2, 2}                    // the LNS (dp-a's neighbour)
	lacSubAddr = [4]byte{10, 0, 0, 5}                     // the subscriber's IPv4 address
	lacFarAddr = [4]byte{203, 0, 113, 7}                  // a host on the Internet
)

// The sessions installed by lacFill: PPPoE session IDs on the access side
// (lac_subs), the LAC's own L2TP session IDs (lac_sessions, all in tunnel
// lacTunnel), and their counter slots.
const (
	lacTunnel    = 0x0102 // the LAC's Tunnel ID, as the LNS writes it
	lacLNSTunnel = 0x0a0b // the LNS's Tunnel ID, as the LAC writes it
	lacLNSSess   = 0x0c0d // the LNS's Session ID

	lacSidPlain = 0x1234 // untagged
	lacSidQ     = 0x1235 // one 802.1Q tag, VID 100
	lacSidQinQ  = 0x1236 // 802.1ad VID 200, then 802.1Q VID 300
	lacSidSeq   = 0x1237 // untagged, sequencing
	lacSidNoFIB = 0x1238 // untagged, LNS without a route

	lacLsPlain = 0x0001 // lac_sessions: untagged, PPPoE lacSidPlain
	lacLsQ     = 0x0002 // one tag
	lacLsQinQ  = 0x0003 // two tags
	lacLsSeq   = 0x0004 // sequencing

	lacMSS = 1452
	lacMRU = 1492
)

// lacFill installs the settings and the sessions the golden cases use.
func lacFill(tb testing.TB, w *testWorld, objs *lacObjects) {
	tb.Helper()
	if err := objs.Settings.Put(uint32(0), lacDpConfig{L2tpPort: be16(1701)}); err != nil {
		tb.Fatal(err)
	}
	subs := []struct {
		sid   uint16
		vlan  [2]uint16
		lns   [4]byte
		slot  uint32
		flags uint32
	}{
		{lacSidPlain, [2]uint16{}, lacLNSAddr, 1, 0},
		{lacSidQ, [2]uint16{100, 0}, lacLNSAddr, 2, 0},
		{lacSidQinQ, [2]uint16{200, 300}, lacLNSAddr, 3, 0},
		{lacSidSeq, [2]uint16{}, lacLNSAddr, 4, lacFSequencing},
		{lacSidNoFIB, [2]uint16{}, [4]byte{100, 64, 0, 1}, 5, 0},
	}
	for _, s := range subs {
		k := lacLacSubKey{Ifindex: uint32(w.ifB), PppoeSid: be16(s.sid), Vlan: [2]uint16{be16(s.vlan[0]), be16(s.vlan[1])}}
		copy(k.Mac[:], lacSubMAC)
		v := lacLacSub{
			LacAddr: addr4(netip.AddrFrom4(lacOwnAddr)), LnsAddr: addr4(netip.AddrFrom4(s.lns)),
			LacPort: be16(1701), LnsPort: be16(1701),
			PeerTunnel: be16(lacLNSTunnel), PeerSession: be16(lacLNSSess),
			Mss: lacMSS, Slot: s.slot, Flags: s.flags,
		}
		if err := objs.LacSubs.Put(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	sessions := []struct {
		id    uint16
		sid   uint16
		tpid  [2]uint16
		tci   [2]uint16
		slot  uint32
		flags uint32
	}{
		{lacLsPlain, lacSidPlain, [2]uint16{}, [2]uint16{}, 1, 0},
		{lacLsQ, lacSidQ, [2]uint16{0x8100}, [2]uint16{0x2064}, 2, 0},
		{lacLsQinQ, lacSidQinQ, [2]uint16{0x88a8, 0x8100}, [2]uint16{0x00c8, 0x012c}, 3, 0},
		{lacLsSeq, lacSidSeq, [2]uint16{}, [2]uint16{}, 4, lacFSequencing},
	}
	for _, s := range sessions {
		k := lacLacSessKey{TunnelId: be16(lacTunnel), SessionId: be16(s.id)}
		v := lacLacSess{
			LnsAddr: addr4(netip.AddrFrom4(lacLNSAddr)), Ifindex: uint32(w.ifB),
			PppoeSid: be16(s.sid), LnsPort: be16(1701),
			VlanTpid: [2]uint16{be16(s.tpid[0]), be16(s.tpid[1])},
			VlanTci:  [2]uint16{be16(s.tci[0]), be16(s.tci[1])},
			Mru:      lacMRU, Mss: lacMSS, Slot: s.slot, Flags: s.flags,
		}
		copy(v.SubMac[:], lacSubMAC)
		copy(v.AcMac[:], testMACB)
		if err := objs.LacSessions.Put(k, v); err != nil {
			tb.Fatal(err)
		}
	}
}

// lacLoad loads the LAC object and installs the golden sessions.
func lacLoad(tb testing.TB, w *testWorld) *lacObjects {
	tb.Helper()
	var objs lacObjects
	if err := loadLacObjects(&objs, nil); err != nil {
		tb.Fatalf("loading lac: %v", err)
	}
	tb.Cleanup(func() { objs.Close() })
	lacFill(tb, w, &objs)
	return &objs
}

// ---------------------------------------------------------- checksums --

// lacWithSums fills the header checksum of the IPv4 packet b (RFC 791
// section 3.1) and, for a TCP segment, the TCP checksum over the
// pseudo-header (RFC 9293 section 3.1).
func lacWithSums(b []byte) []byte {
	ihl := int(b[0]&0x0f) * 4
	binary.BigEndian.PutUint16(b[10:], 0)
	binary.BigEndian.PutUint16(b[10:], inetChecksum(b[:ihl]))
	if b[9] == 6 {
		seg := b[ihl:]
		binary.BigEndian.PutUint16(seg[16:], 0)
		ph := append([]byte(nil), b[12:20]...)                   // source, destination
		ph = append(ph, 0, 6, byte(len(seg)>>8), byte(len(seg))) // zero, protocol, TCP length
		binary.BigEndian.PutUint16(seg[16:], inetChecksum(append(ph, seg...)))
	}
	return b
}

func lacCat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// ------------------------------------------------------ inner packets --

// lacUDP is a 32-octet IPv4/UDP packet from src to dst.
func lacUDP(src, dst [4]byte) []byte {
	return lacWithSums(lacCat(
		[]byte{
			0x45,       // version 4, IHL 5
			0x00,       // TOS
			0x00, 0x20, // total length 32
			0x1c, 0x46, // identification
			0x40, 0x00, // DF, offset 0
			0x40,       // TTL 64
			0x11,       // protocol UDP
			0x00, 0x00, // header checksum (computed)
		},
		src[:], dst[:],
		[]byte{
			0x13, 0x88, // UDP source port 5000
			0x00, 0x35, // UDP destination port 53
			0x00, 0x0c, // UDP length 12
			0x00, 0x00, // UDP checksum none
			0xde, 0xad, 0xbe, 0xef, // payload
		},
	))
}

// lacSYN is an IPv4 TCP SYN carrying an MSS option of mss. ttl and
// frag (flags and fragment offset) fill the IPv4 header; opts adds an IPv4
// option (NOP NOP NOP EOL, IHL 6).
func lacSYN(src, dst [4]byte, ttl byte, frag uint16, opts bool, mss uint16) []byte {
	ihl, tot := byte(5), 44
	var ipopt []byte
	if opts {
		ihl, tot = 6, 48
		ipopt = []byte{0x01, 0x01, 0x01, 0x00} // NOP NOP NOP EOL
	}
	return lacWithSums(lacCat(
		[]byte{
			0x40 | ihl,                // version 4, IHL
			0x00,                      // TOS
			byte(tot >> 8), byte(tot), // total length
			0x00, 0x01, // identification
			byte(frag >> 8), byte(frag), // flags, fragment offset
			ttl,        // TTL
			0x06,       // protocol TCP
			0x00, 0x00, // header checksum (computed)
		},
		src[:], dst[:], ipopt,
		[]byte{
			0xc0, 0x00, // source port 49152
			0x00, 0x50, // destination port 80
			0x00, 0x00, 0x00, 0x01, // sequence number
			0x00, 0x00, 0x00, 0x00, // acknowledgment number
			0x60,       // data offset 6 (24 octets)
			0x02,       // SYN
			0xff, 0xff, // window
			0x00, 0x00, // checksum (computed)
			0x00, 0x00, // urgent pointer
			0x02, 0x04, byte(mss >> 8), byte(mss), // option MSS
		},
	))
}

// lacBig is an IPv4/UDP packet of tot octets (zero payload).
func lacBig(src, dst [4]byte, tot int) []byte {
	p := lacCat(
		[]byte{
			0x45, 0x00, // version 4, IHL 5, TOS
			byte(tot >> 8), byte(tot), // total length
			0x00, 0x02, 0x40, 0x00, // identification, DF
			0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum (computed)
		},
		src[:], dst[:],
		[]byte{
			0x13, 0x88, 0x00, 0x35, // ports 5000 → 53
			byte((tot - 20) >> 8), byte(tot - 20), // UDP length
			0x00, 0x00, // no checksum
		},
		make([]byte, tot-28),
	)
	return lacWithSums(p)
}

// ------------------------------------------- the access side (PPPoE) --

// lacEthUp is the Ethernet addresses of a frame from the subscriber.
var lacEthUp = lacCat(
	testMACB,  // destination: the AC (dp-b)
	lacSubMAC, // source: the subscriber
)

// Tags: TPID, TCI.
var (
	lacTagQ100  = []byte{0x81, 0x00, 0x20, 0x64} // 802.1Q, PCP 1, VID 100
	lacTagAD200 = []byte{0x88, 0xa8, 0x00, 0xc8} // 802.1ad, VID 200
	lacTagQ300  = []byte{0x81, 0x00, 0x01, 0x2c} // 802.1Q, VID 300
	lacEtPPPoE  = []byte{0x88, 0x64}             // ethertype: PPPoE session stage
	lacEtPPPoED = []byte{0x88, 0x63}             // ethertype: PPPoE discovery stage
	lacEtIPv4   = []byte{0x08, 0x00}             // ethertype: IPv4
	lacPPPIPv4  = []byte{0x00, 0x21}             // PPP protocol IPv4
	lacPPPIPv4C = []byte{0x21}                   // PPP protocol IPv4, compressed (PFC)
	lacPPPAC    = []byte{0xff, 0x03}             // PPP address and control field
	lacPPPLCP   = []byte{0xc0, 0x21}             // PPP protocol LCP
	lacEchoReq  = []byte{0x09, 0x01, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78}
)

// lacPPPoEHdr is a PPPoE session header (RFC 2516 section 4) of LENGTH n.
func lacPPPoEHdr(sid uint16, n int) []byte {
	return []byte{
		0x11,                      // VER 1, TYPE 1
		0x00,                      // CODE 0: session data
		byte(sid >> 8), byte(sid), // SESSION_ID
		byte(n >> 8), byte(n), // LENGTH
	}
}

// lacPPPoEFrame is a frame from the subscriber: Ethernet, tags, PPPoE
// session sid carrying the PPP protocol field proto and payload.
func lacPPPoEFrame(tags []byte, sid uint16, proto, payload []byte) []byte {
	return lacCat(lacEthUp, tags, lacEtPPPoE, lacPPPoEHdr(sid, len(proto)+len(payload)), proto, payload)
}

// lacL2TPOut is what the LAC sends the LNS for the inner packet: Ethernet to
// the FIB's next hop, IPv4, UDP, the L2TP data header without optional
// fields and the PPP header FF 03 00 21.
func lacL2TPOut(inner []byte) []byte { return lacL2TPOutProto(inner, lacPPPIPv4) }

// lacL2TPOutProto is lacL2TPOut with the PPP protocol field proto.
func lacL2TPOutProto(inner, proto []byte) []byte {
	n := len(inner)
	ip := lacCat(
		[]byte{
			0x45,                              // version 4, IHL 5
			0x00,                              // TOS
			byte((n + 38) >> 8), byte(n + 38), // total length
			0x00, 0x00, // identification
			0x40, 0x00, // DF
			0x40,       // TTL 64
			0x11,       // protocol UDP
			0x00, 0x00, // header checksum (computed)
		},
		lacOwnAddr[:], // source: the LAC
		lacLNSAddr[:], // destination: the LNS
	)
	binary.BigEndian.PutUint16(ip[10:], inetChecksum(ip))
	return lacCat(
		testMACA2, // destination: the LNS (the FIB's neighbour)
		testMACA,  // source: dp-a
		lacEtIPv4,
		ip,
		[]byte{
			0x06, 0xa5, // UDP source port 1701
			0x06, 0xa5, // UDP destination port 1701
			byte((n + 18) >> 8), byte(n + 18), // UDP length
			0x00, 0x00, // UDP checksum none
		},
		[]byte{
			0x00, 0x02, // T=0 L=0 S=0 O=0, version 2
			byte(lacLNSTunnel >> 8), byte(lacLNSTunnel & 0xff), // Tunnel ID: the LNS's
			byte(lacLNSSess >> 8), byte(lacLNSSess & 0xff), // Session ID: the LNS's
		},
		lacPPPAC, proto,
		inner,
	)
}

// --------------------------------------------- the LNS side (L2TP) --

// lacL2TPIn is an L2TP datagram from the LNS (src:sport) to the LAC's port
// 1701: Ethernet, IPv4, UDP, then payload (the L2TP header and the PPP
// frame).
func lacL2TPIn(src [4]byte, sport uint16, payload []byte) []byte {
	n := len(payload)
	ip := lacCat(
		[]byte{
			0x45, 0x00, // version 4, IHL 5, TOS
			byte((n + 28) >> 8), byte(n + 28), // total length
			0x00, 0x07, // identification
			0x00, 0x00, // no flags, offset 0
			0x40, 0x11, // TTL 64, UDP
			0x00, 0x00, // header checksum (computed)
		},
		src[:],        // source: the LNS
		lacOwnAddr[:], // destination: the LAC
	)
	binary.BigEndian.PutUint16(ip[10:], inetChecksum(ip))
	return lacCat(
		testMACA,  // destination: dp-a
		testMACA2, // source: the LNS
		lacEtIPv4,
		ip,
		[]byte{
			byte(sport >> 8), byte(sport), // UDP source port
			0x06, 0xa5, // UDP destination port 1701
			byte((n + 8) >> 8), byte(n + 8), // UDP length
			0x00, 0x00, // UDP checksum none
		},
		payload,
	)
}

// lacL2TPData is the L2TP data header without optional fields for one of the
// LAC's sessions.
func lacL2TPData(sess uint16) []byte {
	return []byte{
		0x00, 0x02, // T=0 L=0 S=0 O=0, version 2
		byte(lacTunnel >> 8), byte(lacTunnel & 0xff), // Tunnel ID: the LAC's
		byte(sess >> 8), byte(sess), // Session ID: the LAC's
	}
}

// lacPPPoEOut is what the LAC sends the subscriber for the inner packet.
func lacPPPoEOut(tags []byte, sid uint16, inner []byte) []byte {
	return lacPPPoEOutProto(tags, sid, inner, lacPPPIPv4)
}

// lacPPPoEOutProto is lacPPPoEOut with the PPP protocol field proto.
func lacPPPoEOutProto(tags []byte, sid uint16, inner, proto []byte) []byte {
	return lacCat(
		lacSubMAC, // destination: the subscriber
		testMACB,  // source: the AC
		tags, lacEtPPPoE,
		lacPPPoEHdr(sid, 2+len(inner)),
		proto, // always two octets over PPPoE
		inner,
	)
}

// ----------------------------------------------------------- the cases --

type lacCase struct {
	name     string
	up       bool // arrives on the access port (else from the LNS)
	in       []byte
	verdict  uint32
	out      []byte // nil: the frame unchanged
	reasons  []int  // reason_stats indexes that move by one
	slot     uint32 // session counters that move (0: none)
	counters lacDpCounters
}

func lacCases() []lacCase {
	up := lacUDP(lacSubAddr, lacFarAddr)
	down := lacUDP(lacFarAddr, lacSubAddr)
	syn1460 := lacSYN(lacSubAddr, lacFarAddr, 64, 0x4000, false, 1460)
	syn1452 := lacSYN(lacSubAddr, lacFarAddr, 64, 0x4000, false, 1452)
	dsyn1460 := lacSYN(lacFarAddr, lacSubAddr, 64, 0x4000, false, 1460)
	dsyn1452 := lacSYN(lacFarAddr, lacSubAddr, 64, 0x4000, false, 1452)
	frag := lacSYN(lacSubAddr, lacFarAddr, 1, 0x2000, false, 1460) // MF, TTL 1
	opts := lacSYN(lacSubAddr, lacFarAddr, 64, 0x4000, true, 1460)
	upCtr := func(p []byte) lacDpCounters { return lacDpCounters{UpPackets: 1, UpOctets: uint64(len(p))} }
	downCtr := func(p []byte) lacDpCounters { return lacDpCounters{DownPackets: 1, DownOctets: uint64(len(p))} }
	padded := lacCat(lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, up), make([]byte, 10))
	if len(padded) != 64 {
		panic(fmt.Sprintf("padded frame is %d octets", len(padded)))
	}
	badVer := append([]byte(nil), up...)
	badVer[0] = 0x65
	longIP := append([]byte(nil), up...)
	longIP[3] = 0x21 // total length 33 > the 32 octets carried

	return append([]lacCase{
		// Upstream: PPPoE → L2TP.
		{name: "up/untagged", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, up),
			verdict: xdpRedirect, out: lacL2TPOut(up), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(up)},
		{name: "up/802.1Q", up: true, in: lacPPPoEFrame(lacTagQ100, lacSidQ, lacPPPIPv4, up),
			verdict: xdpRedirect, out: lacL2TPOut(up), reasons: []int{lacFwdUp}, slot: 2, counters: upCtr(up)},
		{name: "up/QinQ", up: true, in: lacPPPoEFrame(lacCat(lacTagAD200, lacTagQ300), lacSidQinQ, lacPPPIPv4, up),
			verdict: xdpRedirect, out: lacL2TPOut(up), reasons: []int{lacFwdUp}, slot: 3, counters: upCtr(up)},
		{name: "up/PFC", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4C, up),
			verdict: xdpRedirect, out: lacL2TPOut(up), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(up)},
		{name: "up/Ethernet padding trimmed", up: true, in: padded,
			verdict: xdpRedirect, out: lacL2TPOut(up), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(up)},
		{name: "up/fragment unchanged, TTL 1 kept, no clamp", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, frag),
			verdict: xdpRedirect, out: lacL2TPOut(frag), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(frag)},
		{name: "up/IPv4 options unchanged, no clamp", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, opts),
			verdict: xdpRedirect, out: lacL2TPOut(opts), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(opts)},
		{name: "up/MSS clamped", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, syn1460),
			verdict: xdpRedirect, out: lacL2TPOut(syn1452), reasons: []int{lacFwdUp, lacMSSClamped}, slot: 1, counters: upCtr(syn1460)},
		{name: "up/MSS under the clamp", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, syn1452),
			verdict: xdpRedirect, out: lacL2TPOut(syn1452), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(syn1452)},
		{name: "up/tagged frame, untagged session", up: true, in: lacPPPoEFrame(lacTagQ100, lacSidPlain, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassNoSession}},
		{name: "up/untagged frame, tagged session", up: true, in: lacPPPoEFrame(nil, lacSidQ, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassNoSession}},
		{name: "up/inner tag of a QinQ session missing", up: true, in: lacPPPoEFrame(lacTagAD200, lacSidQinQ, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassNoSession}},
		{name: "up/three tags", up: true, in: lacPPPoEFrame(lacCat(lacTagAD200, lacTagQ300, lacTagQ100), lacSidQinQ, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassOther}},
		{name: "up/unknown session", up: true, in: lacPPPoEFrame(nil, 0x4321, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassNoSession}},
		{name: "up/discovery PADI", up: true, in: lacCat(lacEthUp, lacEtPPPoED,
			[]byte{
				0x11,       // VER 1, TYPE 1
				0x09,       // CODE: PADI
				0x00, 0x00, // SESSION_ID 0
				0x00, 0x04, // LENGTH
				0x01, 0x01, 0x00, 0x00, // tag Service-Name, empty
			}),
			verdict: xdpPass, reasons: []int{lacPassOther}},
		{name: "up/LCP", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPLCP, lacEchoReq),
			verdict: xdpPass, reasons: []int{lacPassPPP}},
		{name: "up/address and control field", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacCat(lacPPPAC, lacPPPIPv4), up),
			verdict: xdpPass, reasons: []int{lacPassPPP}},
		{name: "up/LENGTH past the frame", up: true, in: lacCat(lacEthUp, lacEtPPPoE, lacPPPoEHdr(lacSidPlain, 2+len(up)+1), lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/LENGTH 1", up: true, in: lacCat(lacEthUp, lacEtPPPoE, lacPPPoEHdr(lacSidPlain, 1), lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/VER 2", up: true, in: lacCat(lacEthUp, lacEtPPPoE, []byte{0x21, 0x00, 0x12, 0x34, 0x00, 0x22}, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/CODE PADT in a session frame", up: true, in: lacCat(lacEthUp, lacEtPPPoE, []byte{0x11, 0xa7, 0x12, 0x34, 0x00, 0x22}, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/inner version 6", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, badVer),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/inner total length past LENGTH", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, longIP),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/sequencing", up: true, in: lacPPPoEFrame(nil, lacSidSeq, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassSequenced}},
		{name: "up/over the link MTU", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, lacBig(lacSubAddr, lacFarAddr, 1500)),
			verdict: xdpPass, reasons: []int{lacPassMTU}},
		{name: "up/at the link MTU", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv4, lacBig(lacSubAddr, lacFarAddr, 1462)),
			verdict: xdpRedirect, out: lacL2TPOut(lacBig(lacSubAddr, lacFarAddr, 1462)), reasons: []int{lacFwdUp},
			slot: 1, counters: lacDpCounters{UpPackets: 1, UpOctets: 1462}},
		{name: "up/no route to the LNS", up: true, in: lacPPPoEFrame(nil, lacSidNoFIB, lacPPPIPv4, up),
			verdict: xdpPass, reasons: []int{lacPassFIB}},

		// Downstream: L2TP → PPPoE.
		{name: "down/untagged, FF 03", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpRedirect, out: lacPPPoEOut(nil, lacSidPlain, down), reasons: []int{lacFwdDown}, slot: 1, counters: downCtr(down)},
		{name: "down/802.1Q, no FF 03", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsQ), lacPPPIPv4, down)),
			verdict: xdpRedirect, out: lacPPPoEOut(lacTagQ100, lacSidQ, down), reasons: []int{lacFwdDown}, slot: 2, counters: downCtr(down)},
		{name: "down/QinQ, PFC", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsQinQ), lacPPPIPv4C, down)),
			verdict: xdpRedirect, out: lacPPPoEOut(lacCat(lacTagAD200, lacTagQ300), lacSidQinQ, down), reasons: []int{lacFwdDown}, slot: 3, counters: downCtr(down)},
		{name: "down/FF 03 and PFC", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4C, down)),
			verdict: xdpRedirect, out: lacPPPoEOut(nil, lacSidPlain, down), reasons: []int{lacFwdDown}, slot: 1, counters: downCtr(down)},
		{name: "down/L bit", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(
			[]byte{
				0x40, 0x02, // L=1, version 2
				0x00, 0x2c, // Length 44: 8 + 4 + 32
				0x01, 0x02, // Tunnel ID
				0x00, 0x01, // Session ID
			}, lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpRedirect, out: lacPPPoEOut(nil, lacSidPlain, down), reasons: []int{lacFwdDown}, slot: 1, counters: downCtr(down)},
		{name: "down/O bit with padding", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(
			[]byte{
				0x02, 0x02, // O=1, version 2
				0x01, 0x02, // Tunnel ID
				0x00, 0x01, // Session ID
				0x00, 0x03, // Offset Size 3
				0xaa, 0xbb, 0xcc, // Offset Pad
			}, lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpRedirect, out: lacPPPoEOut(nil, lacSidPlain, down), reasons: []int{lacFwdDown}, slot: 1, counters: downCtr(down)},
		{name: "down/L and O bits, Offset Size 0", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(
			[]byte{
				0x42, 0x02, // L=1 O=1, version 2
				0x00, 0x2e, // Length 46: 10 + 4 + 32
				0x01, 0x02, // Tunnel ID
				0x00, 0x01, // Session ID
				0x00, 0x00, // Offset Size 0
			}, lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpRedirect, out: lacPPPoEOut(nil, lacSidPlain, down), reasons: []int{lacFwdDown}, slot: 1, counters: downCtr(down)},
		{name: "down/Offset Size past the datagram", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(
			[]byte{
				0x02, 0x02, // O=1, version 2
				0x01, 0x02, // Tunnel ID
				0x00, 0x01, // Session ID
				0x00, 0xff, // Offset Size 255
			}, lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "down/trailing octets trimmed", in: lacCat(lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down)), []byte{0, 0, 0, 0}),
			verdict: xdpRedirect, out: lacPPPoEOut(nil, lacSidPlain, down), reasons: []int{lacFwdDown}, slot: 1, counters: downCtr(down)},
		{name: "down/MSS clamped", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, dsyn1460)),
			verdict: xdpRedirect, out: lacPPPoEOut(nil, lacSidPlain, dsyn1452), reasons: []int{lacFwdDown, lacMSSClamped}, slot: 1, counters: downCtr(dsyn1460)},
		{name: "down/at the MRU", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, lacBig(lacFarAddr, lacSubAddr, lacMRU))),
			verdict: xdpRedirect, out: lacPPPoEOut(nil, lacSidPlain, lacBig(lacFarAddr, lacSubAddr, lacMRU)), reasons: []int{lacFwdDown},
			slot: 1, counters: lacDpCounters{DownPackets: 1, DownOctets: lacMRU}},
		{name: "down/over the MRU", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, lacBig(lacFarAddr, lacSubAddr, lacMRU+1))),
			verdict: xdpPass, reasons: []int{lacPassMTU}},
		{name: "down/L bit, wrong Length", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(
			[]byte{
				0x40, 0x02, // L=1, version 2
				0x00, 0x2d, // Length 45: one too many
				0x01, 0x02, // Tunnel ID
				0x00, 0x01, // Session ID
			}, lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "down/T bit", in: lacL2TPIn(lacLNSAddr, 1701, []byte{
			0xc8, 0x02, // T=1 L=1 S=1, version 2
			0x00, 0x0c, // Length 12
			0x01, 0x02, // Tunnel ID
			0x00, 0x00, // Session ID 0
			0x00, 0x01, // Ns
			0x00, 0x01, // Nr (a ZLB acknowledgement)
		}),
			verdict: xdpPass, reasons: []int{lacPassControl}},
		{name: "down/S bit", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(
			[]byte{
				0x08, 0x02, // S=1, version 2
				0x01, 0x02, // Tunnel ID
				0x00, 0x01, // Session ID
				0x00, 0x05, // Ns
				0x00, 0x00, // Nr
			}, lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpPass, reasons: []int{lacPassSequenced}},
		{name: "down/version 3", in: lacL2TPIn(lacLNSAddr, 1701, lacCat([]byte{0x00, 0x03, 0x01, 0x02, 0x00, 0x01}, lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpPass, reasons: []int{lacPassOther}},
		{name: "down/sequencing session", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsSeq), lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpPass, reasons: []int{lacPassSequenced}},
		{name: "down/unknown session", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(0x0099), lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpPass, reasons: []int{lacPassNoSession}},
		{name: "down/wrong LNS address", in: lacL2TPIn([4]byte{192, 0, 2, 9}, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpDrop, reasons: []int{lacDropPeer}},
		{name: "down/wrong LNS port", in: lacL2TPIn(lacLNSAddr, 1702, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down)),
			verdict: xdpDrop, reasons: []int{lacDropPeer}},
		{name: "down/LCP", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPLCP, lacEchoReq)),
			verdict: xdpPass, reasons: []int{lacPassPPP}},
		{name: "down/inner total length past the datagram", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, longIP)),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "down/other UDP port", in: func() []byte {
			b := lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down))
			b[36], b[37] = 0x00, 0x35 // UDP destination port 53
			return b
		}(),
			verdict: xdpPass, reasons: []int{lacPassOther}},
		{name: "down/outer fragment", in: func() []byte {
			b := lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down))
			b[20] = 0x20 // MF
			return b
		}(),
			verdict: xdpPass, reasons: []int{lacPassFragment}},
		{name: "down/outer IPv4 options", in: func() []byte {
			b := lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down))
			b[14] = 0x46 // IHL 6
			return b
		}(),
			verdict: xdpPass, reasons: []int{lacPassOther}},
		{name: "down/UDP length past the datagram", in: func() []byte {
			b := lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down))
			b[39]++ // UDP length one more than IPv4 carries
			return b
		}(),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "down/tagged IPv4", in: lacCat(testMACA, testMACA2, lacTagQ100, lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv4, down))[12:]),
			verdict: xdpPass, reasons: []int{lacPassOther}},
		{name: "down/ARP", in: lacCat(testMACA, testMACA2, []byte{0x08, 0x06}, make([]byte, 28)),
			verdict: xdpPass, reasons: []int{lacPassOther}},
	}, lac6Cases()...)
}

// ------------------------------------------------------------- reading --

const lacSlots = 8

type lacSnapshot struct {
	reasons  [lacNumReasons]uint64
	counters [lacSlots]lacDpCounters
}

func (o *lacObjects) snapshot(tb testing.TB) lacSnapshot {
	tb.Helper()
	var s lacSnapshot
	for r := range lacNumReasons {
		var v []uint64
		if err := o.ReasonStats.Lookup(uint32(r), &v); err != nil {
			tb.Fatal(err)
		}
		for _, x := range v {
			s.reasons[r] += x
		}
	}
	for slot := range lacSlots {
		var v []lacDpCounters
		if err := o.SessionCounters.Lookup(uint32(slot), &v); err != nil {
			tb.Fatal(err)
		}
		for _, c := range v {
			s.counters[slot].UpPackets += c.UpPackets
			s.counters[slot].UpOctets += c.UpOctets
			s.counters[slot].DownPackets += c.DownPackets
			s.counters[slot].DownOctets += c.DownOctets
			s.counters[slot].Drops += c.Drops
			s.counters[slot].Up6Packets += c.Up6Packets
			s.counters[slot].Up6Octets += c.Up6Octets
			s.counters[slot].Down6Packets += c.Down6Packets
			s.counters[slot].Down6Octets += c.Down6Octets
		}
	}
	return s
}

func (s lacSnapshot) since(old lacSnapshot) lacSnapshot {
	var d lacSnapshot
	for i := range s.reasons {
		d.reasons[i] = s.reasons[i] - old.reasons[i]
	}
	for i := range s.counters {
		n, o := s.counters[i], old.counters[i]
		d.counters[i] = lacDpCounters{
			UpPackets: n.UpPackets - o.UpPackets, UpOctets: n.UpOctets - o.UpOctets,
			DownPackets: n.DownPackets - o.DownPackets, DownOctets: n.DownOctets - o.DownOctets,
			Drops:      n.Drops - o.Drops,
			Up6Packets: n.Up6Packets - o.Up6Packets, Up6Octets: n.Up6Octets - o.Up6Octets,
			Down6Packets: n.Down6Packets - o.Down6Packets, Down6Octets: n.Down6Octets - o.Down6Octets,
		}
	}
	return d
}

// ---------------------------------------------------------------- tests --

func TestLACGolden(t *testing.T) {
	w := newTestWorld(t)
	objs := lacLoad(t, w)
	for _, tc := range lacCases() {
		t.Run(tc.name, func(t *testing.T) {
			ifindex := w.ifA
			if tc.up {
				ifindex = w.ifB
			}
			before := objs.snapshot(t)
			verdict, out := w.run(t, objs.XdpLac, ifindex, tc.in)
			got := objs.snapshot(t).since(before)

			if verdict != tc.verdict {
				t.Errorf("verdict %d, want %d", verdict, tc.verdict)
			}
			want := tc.out
			if want == nil {
				want = tc.in
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
			var wantS lacSnapshot
			for _, r := range tc.reasons {
				wantS.reasons[r]++
			}
			if tc.slot != 0 {
				wantS.counters[tc.slot] = tc.counters
			}
			if diff := cmp.Diff(wantS.reasons, got.reasons); diff != "" {
				t.Errorf("reason_stats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantS.counters, got.counters); diff != "" {
				t.Errorf("session_counters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLACTruncated cuts every forwarded golden frame at every length: the
// program never forwards a cut frame and passes it unchanged. Frames
// shorter than an Ethernet header are refused by BPF_PROG_TEST_RUN itself
// and start the loop.
func TestLACTruncated(t *testing.T) {
	w := newTestWorld(t)
	objs := lacLoad(t, w)
	for _, tc := range lacCases() {
		if tc.verdict != xdpRedirect || tc.name == "up/Ethernet padding trimmed" || tc.name == "down/trailing octets trimmed" {
			continue // a cut there can still hold the whole inner packet
		}
		t.Run(tc.name, func(t *testing.T) {
			ifindex := w.ifA
			if tc.up {
				ifindex = w.ifB
			}
			for n := 14; n < len(tc.in); n++ {
				in := tc.in[:n]
				verdict, out := w.run(t, objs.XdpLac, ifindex, in)
				if verdict == xdpRedirect || verdict != xdpPass && verdict != xdpDrop {
					t.Fatalf("cut at %d: verdict %d", n, verdict)
				}
				if diff := cmp.Diff(in, out); diff != "" {
					t.Fatalf("cut at %d: frame changed (-in +out):\n%s", n, diff)
				}
			}
		})
	}
}

// FuzzXDPLAC runs arbitrary frames, seeded with the golden ones, through
// xdp_lac on the access port: the verdict is PASS, DROP or REDIRECT; a
// passed frame is unchanged; a forwarded frame parses as IPv4 with a valid
// header checksum (towards the LNS) or as a PPPoE session frame whose
// LENGTH ends the frame (towards the subscriber).
func FuzzXDPLAC(f *testing.F) {
	for _, tc := range lacCases() {
		f.Add(tc.in)
	}
	w := newTestWorld(f)
	objs := lacLoad(f, w)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 14 || len(in) > 2048 {
			return // BPF_PROG_TEST_RUN refuses them
		}
		verdict, out := w.run(t, objs.XdpLac, w.ifB, in)
		switch verdict {
		case xdpPass, xdpDrop:
			if diff := cmp.Diff(in, out); diff != "" && verdict == xdpPass {
				t.Fatalf("passed frame changed (-in +out):\n%s", diff)
			}
		case xdpRedirect:
			if err := lacCheckOut(out); err != nil {
				t.Fatalf("forwarded frame: %v\nin  %x\nout %x", err, in, out)
			}
		default:
			t.Fatalf("verdict %d", verdict)
		}
	})
}

// lacCheckOut parses a frame xdp_lac forwarded.
func lacCheckOut(b []byte) error {
	if len(b) < 14 {
		return fmt.Errorf("%d octets", len(b))
	}
	et, off := binary.BigEndian.Uint16(b[12:]), 14
	if et == 0x0800 {
		ip := b[14:]
		if len(ip) < 20 || ip[0] != 0x45 {
			return fmt.Errorf("IPv4 header % x", ip[:min(len(ip), 20)])
		}
		if inetChecksum(ip[:20]) != 0 {
			return fmt.Errorf("IPv4 header checksum")
		}
		if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
			return fmt.Errorf("IPv4 total length %d, %d octets", binary.BigEndian.Uint16(ip[2:]), len(ip))
		}
		if len(ip) < 38 || ip[9] != 17 || int(binary.BigEndian.Uint16(ip[24:])) != len(ip)-20 ||
			ip[28] != 0 || ip[29] != 2 || ip[34] != 0xff || ip[35] != 0x03 || ip[36] != 0 || ip[37] != 0x21 && ip[37] != 0x57 {
			return fmt.Errorf("UDP/L2TP/PPP % x", ip[20:min(len(ip), 38)])
		}
		return nil
	}
	for i := 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++ {
		if len(b) < off+4 {
			return fmt.Errorf("tag cut")
		}
		et, off = binary.BigEndian.Uint16(b[off+2:]), off+4
	}
	if et != 0x8864 || len(b) < off+8 || b[off] != 0x11 || b[off+1] != 0 {
		return fmt.Errorf("PPPoE header % x", b[off-2:min(len(b), off+6)])
	}
	if n := int(binary.BigEndian.Uint16(b[off+4:])); off+6+n != len(b) {
		return fmt.Errorf("PPPoE LENGTH %d, %d octets after the header", n, len(b)-off-6)
	}
	if b[off+6] != 0 || b[off+7] != 0x21 && b[off+7] != 0x57 {
		return fmt.Errorf("PPP protocol % x", b[off+6:off+8])
	}
	return nil
}

// TestLACSourcePorts: a LAC whose tunnels write from several local ports
// ([lac] source-ports, the settings' l2tp_ports) takes the data messages
// to each of those ports, and to no port past them; with one port, only
// 1701's.
func TestLACSourcePorts(t *testing.T) {
	w := newTestWorld(t)
	objs := lacLoad(t, w)
	var plain lacCase
	for _, tc := range lacCases() {
		if tc.name == "down/untagged, FF 03" {
			plain = tc
		}
	}
	if plain.in == nil {
		t.Fatal("no golden case down/untagged, FF 03")
	}
	to := func(port uint16) []byte {
		b := append([]byte(nil), plain.in...)
		binary.BigEndian.PutUint16(b[14+20+2:], port) // the UDP destination port
		return b
	}
	for _, tc := range []struct {
		ports   uint16
		port    uint16
		forward bool
	}{
		{0, 1701, true}, {0, 1702, false}, {1, 1702, false},
		{3, 1701, true}, {3, 1702, true}, {3, 1703, true}, {3, 1704, false}, {3, 1700, false},
	} {
		t.Run(fmt.Sprintf("%d ports/to %d", max(tc.ports, 1), tc.port), func(t *testing.T) {
			if err := objs.Settings.Put(uint32(0), lacDpConfig{L2tpPort: be16(1701), L2tpPorts: tc.ports}); err != nil {
				t.Fatal(err)
			}
			in := to(tc.port)
			before := objs.snapshot(t)
			verdict, out := w.run(t, objs.XdpLac, w.ifA, in)
			got := objs.snapshot(t).since(before)
			if tc.forward {
				if verdict != plain.verdict || !bytes.Equal(out, plain.out) {
					t.Errorf("verdict %d, frame % x; want %d and the plain case's frame", verdict, out, plain.verdict)
				}
				return
			}
			if verdict != xdpPass || !bytes.Equal(out, in) || got.reasons[lacPassOther] != 1 {
				t.Errorf("verdict %d, pass-other %d; want the frame passed unchanged, counted as other", verdict, got.reasons[lacPassOther])
			}
		})
	}
}
