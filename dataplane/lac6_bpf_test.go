package dataplane

import "testing"

// Golden frames for IPv6 through xdp_lac (RFC 5072 section 3: PPP
// protocol 0x0057), both directions: the relay forwards IPv6 as it does
// IPv4, counts it apart too, and clamps a TCP SYN's MSS to the IPv4 clamp
// less IPv6's 20 extra header octets. Packets are built with the IPv6
// helpers of lns6_bpf_test.go.

var (
	lacPPPIPv6  = []byte{0x00, 0x57} // PPP protocol IPv6
	lacPPPIPv6C = []byte{0x57}       // PPP protocol IPv6, compressed (PFC)
)

const (
	lac6Sub = "2001:db8:1:2::1234" // the subscriber
	lac6Far = "2001:db8:ff::7"     // a host on the Internet
)

func lac6Cases() []lacCase {
	up := lns6UDP(lac6Sub, lac6Far, 64)
	down := lns6UDP(lac6Far, lac6Sub, 64)
	upCtr := func(p []byte) lacDpCounters {
		n := uint64(len(p))
		return lacDpCounters{UpPackets: 1, UpOctets: n, Up6Packets: 1, Up6Octets: n}
	}
	downCtr := func(p []byte) lacDpCounters {
		n := uint64(len(p))
		return lacDpCounters{DownPackets: 1, DownOctets: n, Down6Packets: 1, Down6Octets: n}
	}
	const clamp = lacMSS - 20
	syn := lns6SYN(lac6Sub, lac6Far, 1460, false)
	synC := lns6SYN(lac6Sub, lac6Far, clamp, false)
	dsyn := lns6SYN(lac6Far, lac6Sub, 1460, true) // MSS at an odd offset
	dsynC := lns6SYN(lac6Far, lac6Sub, clamp, true)
	hop1 := lns6UDP(lac6Sub, lac6Far, 1)
	ra := lns6ICMP("fe80::1", "ff02::1", 134, 255, "")
	big := lns6Big(lac6Far, lac6Sub, lacMRU)
	long := append([]byte(nil), up...)
	long[5]++ // payload length one more than carried
	v4 := append([]byte(nil), up...)
	v4[0] = 0x40
	dl := func(proto, pkt []byte) []byte {
		return lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, proto, pkt))
	}
	return []lacCase{
		{name: "up/IPv6", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, up),
			verdict: xdpRedirect, out: lacL2TPOutProto(up, lacPPPIPv6), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(up)},
		{name: "up/IPv6, QinQ, PFC", up: true, in: lacPPPoEFrame(lacCat(lacTagAD200, lacTagQ300), lacSidQinQ, lacPPPIPv6C, up),
			verdict: xdpRedirect, out: lacL2TPOutProto(up, lacPPPIPv6), reasons: []int{lacFwdUp}, slot: 3, counters: upCtr(up)},
		{name: "up/IPv6 hop limit 1 kept (the LNS routes)", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, hop1),
			verdict: xdpRedirect, out: lacL2TPOutProto(hop1, lacPPPIPv6), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(hop1)},
		{name: "up/IPv6 router advertisement relayed (the LNS drops it)", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, ra),
			verdict: xdpRedirect, out: lacL2TPOutProto(ra, lacPPPIPv6), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(ra)},
		{name: "up/IPv6 MSS clamped", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, syn),
			verdict: xdpRedirect, out: lacL2TPOutProto(synC, lacPPPIPv6), reasons: []int{lacFwdUp, lacMSSClamped}, slot: 1, counters: upCtr(syn)},
		{name: "up/IPv6 MSS at the clamp", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, synC),
			verdict: xdpRedirect, out: lacL2TPOutProto(synC, lacPPPIPv6), reasons: []int{lacFwdUp}, slot: 1, counters: upCtr(synC)},
		{name: "up/IPv6 payload length past LENGTH", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, long),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/IPv6 with version 4", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, v4),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/IPv6 header cut", up: true, in: lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, up[:39]),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "up/IPv6, sequencing", up: true, in: lacPPPoEFrame(nil, lacSidSeq, lacPPPIPv6, up),
			verdict: xdpPass, reasons: []int{lacPassSequenced}},
		{name: "up/IPV6CP", up: true, in: lacPPPoEFrame(nil, lacSidPlain, []byte{0x80, 0x57}, []byte{0x01, 0x01, 0x00, 0x04}),
			verdict: xdpPass, reasons: []int{lacPassPPP}},

		{name: "down/IPv6", in: dl(lacPPPIPv6, down),
			verdict: xdpRedirect, out: lacPPPoEOutProto(nil, lacSidPlain, down, lacPPPIPv6), reasons: []int{lacFwdDown}, slot: 1, counters: downCtr(down)},
		{name: "down/IPv6, PFC, 802.1Q", in: lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsQ), lacPPPIPv6C, down)),
			verdict: xdpRedirect, out: lacPPPoEOutProto(lacTagQ100, lacSidQ, down, lacPPPIPv6), reasons: []int{lacFwdDown}, slot: 2, counters: downCtr(down)},
		{name: "down/IPv6 MSS clamped, odd offset", in: dl(lacPPPIPv6, dsyn),
			verdict: xdpRedirect, out: lacPPPoEOutProto(nil, lacSidPlain, dsynC, lacPPPIPv6), reasons: []int{lacFwdDown, lacMSSClamped}, slot: 1, counters: downCtr(dsyn)},
		{name: "down/IPv6 at the MRU", in: dl(lacPPPIPv6, big),
			verdict: xdpRedirect, out: lacPPPoEOutProto(nil, lacSidPlain, big, lacPPPIPv6), reasons: []int{lacFwdDown}, slot: 1, counters: downCtr(big)},
		{name: "down/IPv6 over the MRU", in: dl(lacPPPIPv6, lns6Big(lac6Far, lac6Sub, lacMRU+1)),
			verdict: xdpPass, reasons: []int{lacPassMTU}},
		{name: "down/IPv6 payload length past the datagram", in: dl(lacPPPIPv6, long),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
		{name: "down/IPv6 header cut", in: dl(lacPPPIPv6, down[:39]),
			verdict: xdpPass, reasons: []int{lacPassMalformed}},
	}
}

// TestLACMSSClamp6 checks what the golden frames alone cannot: a SYN
// clamped by xdp_lac, either way and with the MSS at an even or odd
// offset, leaves with the clamp in its MSS option and a TCP checksum that
// verifies over the IPv6 pseudo-header (RFC 8200 section 8.1), computed
// here from the frame itself rather than by the helper that built the
// expected frames.
func TestLACMSSClamp6(t *testing.T) {
	w := newTestWorld(t)
	objs := lacLoad(t, w)
	const clamp = lacMSS - 20
	for _, tc := range []struct {
		name    string
		up      bool
		syn     []byte
		ifindex int
		in      func(pkt []byte) []byte
	}{
		{"up, even offset", true, lns6SYN(lac6Sub, lac6Far, 1460, false), w.ifB,
			func(p []byte) []byte { return lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, p) }},
		{"up, odd offset", true, lns6SYN(lac6Sub, lac6Far, 1460, true), w.ifB,
			func(p []byte) []byte { return lacPPPoEFrame(nil, lacSidPlain, lacPPPIPv6, p) }},
		{"down, odd offset", false, lns6SYN(lac6Far, lac6Sub, 1460, true), w.ifA,
			func(p []byte) []byte {
				return lacL2TPIn(lacLNSAddr, 1701, lacCat(lacL2TPData(lacLsPlain), lacPPPAC, lacPPPIPv6, p))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verdict, out := w.run(t, objs.XdpLac, tc.ifindex, tc.in(tc.syn))
			if verdict != xdpRedirect || len(out) < len(tc.syn) {
				t.Fatalf("verdict %d, %d octets out; want the SYN forwarded", verdict, len(out))
			}
			pkt := out[len(out)-len(tc.syn):] // the inner packet ends the frame
			if sum := inetChecksum(lns6Pseudo(pkt)); sum != 0 {
				t.Errorf("TCP checksum does not verify (residue %#04x):\n%x", sum, pkt)
			}
			if got := tcpMSS(pkt[40:]); got != clamp {
				t.Errorf("MSS %d, want the clamp %d", got, clamp)
			}
		})
	}
}

// tcpMSS is the value of the MSS option (kind 2, RFC 9293 section 3.2) of
// the TCP segment seg, or -1.
func tcpMSS(seg []byte) int {
	if len(seg) < 20 {
		return -1
	}
	opts := seg[20:min(len(seg), int(seg[12]>>4)*4)]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			return -1
		case 1:
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return -1
		}
		if opts[i] == 2 && opts[i+1] == 4 && i+4 <= len(opts) {
			return int(opts[i+2])<<8 | int(opts[i+3])
		}
		i += int(opts[i+1])
	}
	return -1
}
