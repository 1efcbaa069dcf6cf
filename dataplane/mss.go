package dataplane

import (
	"encoding/binary"
	"math/bits"
)

// The TCP MSS clamp of the user-space engine, the same rule as
// dp_mss_clamp in bpf/dataplane.h: a subscriber behind PPPoE has an MTU
// below Ethernet's, and where ICMP Fragmentation Needed is filtered on
// the way (RFC 2923 section 2.1) its TCP connections stall unless the
// MSS both ends announce in SYN and SYN-ACK (RFC 9293 section 3.7.1)
// fits the session.

const (
	tcpOptEOL = 0
	tcpOptNOP = 1
	tcpOptMSS = 2
)

// ClampMSS lowers the MSS option of a TCP SYN (or SYN-ACK) in the IPv4
// packet ip to mss when it announces more, fixing the TCP checksum
// incrementally (RFC 1624 equation 3), and reports whether it changed
// the packet. Anything it cannot parse, a fragment past the first, or
// mss 0 leaves the packet alone: the clamp helps the peers, it never
// drops.
func ClampMSS(ip []byte, mss uint16) bool {
	if mss == 0 || len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 6 {
		return false
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 { // fragment offset
		return false
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl+20 {
		return false
	}
	return clampTCP(ip[ihl:], mss)
}

// ClampMSS6 is ClampMSS for an IPv6 packet (RFC 8200) whose TCP header
// follows the fixed header directly; mss is the IPv6 clamp (the link MTU
// minus 60: a 40-octet IPv6 header, RFC 9293 section 3.7.1). A packet with
// extension headers in front of TCP is left alone.
func ClampMSS6(ip []byte, mss uint16) bool {
	if mss == 0 || len(ip) < 60 || ip[0]>>4 != 6 || ip[6] != 6 {
		return false
	}
	return clampTCP(ip[40:], mss)
}

// clampTCP lowers the MSS option of the TCP SYN segment th.
func clampTCP(th []byte, mss uint16) bool {
	if len(th) < 20 || th[13]&0x02 == 0 { // SYN
		return false
	}
	doff := int(th[12]>>4) * 4
	if doff <= 20 || len(th) < doff {
		return false
	}
	for off := 20; off < doff; {
		opt := th[off:doff]
		switch opt[0] {
		case tcpOptEOL:
			return false
		case tcpOptNOP:
			off++
			continue
		}
		if len(opt) < 2 || opt[1] < 2 || int(opt[1]) > len(opt) {
			return false
		}
		if opt[0] == tcpOptMSS && opt[1] == 4 {
			old := binary.BigEndian.Uint16(opt[2:4])
			if old <= mss {
				return false
			}
			binary.BigEndian.PutUint16(opt[2:4], mss)
			// The checksum sums 16-bit words from the start of the
			// segment: a value at an odd offset (after one NOP, say)
			// straddles two of them and counts byte-swapped.
			o, n := old, mss
			if off%2 == 1 {
				o, n = bits.ReverseBytes16(o), bits.ReverseBytes16(n)
			}
			binary.BigEndian.PutUint16(th[16:18], csumReplace2(binary.BigEndian.Uint16(th[16:18]), o, n))
			return true
		}
		off += int(opt[1])
	}
	return false
}

// ClampMSSPPP is ClampMSS for the IPv4 packet in a PPP frame, with or
// without the HDLC Address and Control octets (RFC 1662 section 3.1) and
// with the protocol field compressed or not (RFC 1661 section 6.5); and
// ClampMSS6 with mss less 20 for an IPv6 packet (protocol 0x0057, RFC 5072
// section 3), as the XDP programs clamp IPv6.
func ClampMSSPPP(frame []byte, mss uint16) bool {
	if mss == 0 {
		return false
	}
	if len(frame) >= 2 && frame[0] == 0xff && frame[1] == 0x03 {
		frame = frame[2:]
	}
	var proto byte
	switch {
	case len(frame) >= 1 && frame[0]&1 == 1:
		proto, frame = frame[0], frame[1:]
	case len(frame) >= 2 && frame[0] == 0x00:
		proto, frame = frame[1], frame[2:]
	}
	switch proto {
	case 0x21:
		return ClampMSS(frame, mss)
	case 0x57:
		return mss > 20 && ClampMSS6(frame, mss-20)
	}
	return false
}

// csumReplace2 is the Internet checksum sum after one 16-bit word of the
// data changed from old to new: HC' = ~(~HC + ~m + m') (RFC 1624).
func csumReplace2(sum, old, new uint16) uint16 {
	s := uint32(^sum) + uint32(^old) + uint32(new)
	s = (s & 0xffff) + s>>16
	s = (s & 0xffff) + s>>16
	return ^uint16(s)
}
