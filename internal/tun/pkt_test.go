package tun_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// The packet builders and checksum checks of the tests: written apart from
// the package's checksum code (a plain loop over 16-bit words, RFC 1071
// section 4.1), so that the tests check it instead of repeating it.

// csum16 is the ones' complement sum of b's 16-bit words plus init.
func csum16(init uint32, b []byte) uint16 {
	s := init
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
		s = s&0xffff + s>>16
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// pseudo16 is the pseudo-header sum (RFC 9293 section 3.1, RFC 8200
// section 8.1) of the IP packet ip for an L4 length n.
func pseudo16(ip []byte, proto uint8, n int) uint32 {
	var addrs []byte
	if ip[0]>>4 == 6 {
		addrs = ip[8:40]
	} else {
		addrs = ip[12:20]
	}
	return uint32(csum16(uint32(proto)+uint32(n)&0xffff+uint32(n)>>16, addrs))
}

// flow is the addresses, ports and IP fields of the packets a test builds.
type flow struct {
	src, dst     netip.Addr
	sport, dport uint16
	ttl, tos     uint8
	df           bool
}

var (
	flow4 = flow{src: netip.MustParseAddr("10.99.1.7"), dst: netip.MustParseAddr("192.0.2.80"), sport: 40000, dport: 80, ttl: 64, df: true}
	flow6 = flow{src: netip.MustParseAddr("2001:db8:1::7"), dst: netip.MustParseAddr("2001:db8:2::80"), sport: 40000, dport: 443, ttl: 64}
)

// ip builds the IP header of an l4-octet payload of protocol proto, IPv4
// (identification id, header checksum set) or IPv6 by the flow's addresses.
func (f flow) ip(proto uint8, id uint16, l4 int) []byte {
	if f.src.Is6() {
		b := make([]byte, 40, 40+l4)
		b[0] = 0x60 | f.tos>>4
		b[1] = f.tos << 4
		binary.BigEndian.PutUint16(b[4:6], uint16(l4))
		b[6], b[7] = proto, f.ttl
		s, d := f.src.As16(), f.dst.As16()
		copy(b[8:24], s[:])
		copy(b[24:40], d[:])
		return b
	}
	b := make([]byte, 20, 20+l4)
	b[0], b[1] = 0x45, f.tos
	binary.BigEndian.PutUint16(b[2:4], uint16(20+l4))
	binary.BigEndian.PutUint16(b[4:6], id)
	if f.df {
		b[6] = 0x40
	}
	b[8], b[9] = f.ttl, proto
	s, d := f.src.As4(), f.dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], ^csum16(0, b))
	return b
}

// tcp is a TCP segment (RFC 9293 section 3.1) with a valid checksum.
type tcp struct {
	seq, ack uint32
	flags    uint8
	win      uint16
	opts     []byte // a multiple of 4 octets
	id       uint16 // IPv4 Identification
	payload  []byte
}

func (f flow) tcp(s tcp) []byte {
	hl := 20 + len(s.opts)
	b := f.ip(6, s.id, hl+len(s.payload))
	ip := len(b)
	b = b[:ip+hl]
	t := b[ip:]
	binary.BigEndian.PutUint16(t[0:2], f.sport)
	binary.BigEndian.PutUint16(t[2:4], f.dport)
	binary.BigEndian.PutUint32(t[4:8], s.seq)
	binary.BigEndian.PutUint32(t[8:12], s.ack)
	t[12] = uint8(hl/4) << 4
	t[13] = s.flags
	binary.BigEndian.PutUint16(t[14:16], s.win)
	copy(t[20:], s.opts)
	b = append(b, s.payload...)
	binary.BigEndian.PutUint16(b[ip+16:], ^csum16(pseudo16(b, 6, len(b)-ip), b[ip:]))
	return b
}

// udp is a UDP datagram (RFC 768) with a valid checksum.
func (f flow) udp(id uint16, payload []byte) []byte {
	b := f.ip(17, id, 8+len(payload))
	ip := len(b)
	b = b[:ip+8]
	binary.BigEndian.PutUint16(b[ip:], f.sport)
	binary.BigEndian.PutUint16(b[ip+2:], f.dport)
	binary.BigEndian.PutUint16(b[ip+4:], uint16(8+len(payload)))
	b = append(b, payload...)
	c := ^csum16(pseudo16(b, 17, len(b)-ip), b[ip:])
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[ip+6:], c)
	return b
}

// checksumsOK tells whether p's IPv4 header checksum and its TCP or UDP
// checksum verify, and its length fields agree with its length.
func checksumsOK(p []byte) bool {
	if len(p) < 20 {
		return false
	}
	var ip int
	var proto uint8
	switch p[0] >> 4 {
	case 4:
		ip = int(p[0]&0xf) * 4
		if ip < 20 || len(p) < ip || csum16(0, p[:ip]) != 0xffff || int(binary.BigEndian.Uint16(p[2:4])) != len(p) {
			return false
		}
		proto = p[9]
	case 6:
		if len(p) < 40 || int(binary.BigEndian.Uint16(p[4:6])) != len(p)-40 {
			return false
		}
		ip, proto = 40, p[6]
	default:
		return false
	}
	if proto == 17 && (len(p) < ip+8 || int(binary.BigEndian.Uint16(p[ip+4:])) != len(p)-ip) {
		return false
	}
	return csum16(pseudo16(p, proto, len(p)-ip), p[ip:]) == 0xffff
}

// payloadOf is the TCP or UDP payload of an IP packet without options or
// extension headers.
func payloadOf(p []byte) []byte {
	ip, proto := 20, p[9]
	if p[0]>>4 == 6 {
		ip, proto = 40, p[6]
	}
	if proto == 17 {
		return p[ip+8:]
	}
	return p[ip+int(p[ip+12]>>4)*4:]
}

// pattern is n octets of a position-dependent pattern starting at from.
func pattern(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((from + i) * 7 / 3)
	}
	return b
}

// TestChecksumOracle: the tests' own checksum code, which the package's is
// checked against, gives the sums of published examples and tells good
// packets from damaged ones.
func TestChecksumOracle(t *testing.T) {
	// RFC 1071 section 3: the example bytes sum to ddf2.
	if got := csum16(0, []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); got != 0xddf2 {
		t.Errorf("RFC 1071 example: sum %#04x, want 0xddf2", got)
	}
	// A well-known IPv4 header whose checksum is b861.
	hdr := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if got := ^csum16(0, hdr); got != 0xb861 {
		t.Errorf("IPv4 header checksum %#04x, want 0xb861", got)
	}
	for _, f := range []flow{flow4, flow6} {
		for name, p := range map[string][]byte{
			"tcp":          f.tcp(tcp{seq: 1, ack: 2, flags: 0x10, win: 512, payload: pattern(0, 101)}),
			"udp":          f.udp(7, pattern(3, 64)),
			"udp, no data": f.udp(8, nil),
		} {
			if !checksumsOK(p) {
				t.Errorf("%v %s: a packet the builders made does not verify", f.src, name)
			}
			bad := append([]byte(nil), p...)
			bad[len(bad)-1] ^= 0x40
			if checksumsOK(bad) {
				t.Errorf("%v %s: a damaged payload verifies", f.src, name)
			}
			if checksumsOK(p[:len(p)-1]) {
				t.Errorf("%v %s: a packet shorter than its length fields verifies", f.src, name)
			}
		}
	}
}
