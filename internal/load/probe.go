package load

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Errors of the packet codecs.
var (
	ErrShort     = errors.New("load: short packet")
	ErrMalformed = errors.New("load: malformed packet")
)

// ProbeMagic starts every probe payload.
var ProbeMagic = [4]byte{'B', 'R', 'L', 'D'}

// ProbeLen is the size of a probe payload header; the rest is padding.
const ProbeLen = 24

// Probe is the UDP payload of a traffic packet:
//
//	0      4          8                  16                 24
//	+------+----------+------------------+------------------+----------
//	| BRLD | session  | sequence number  | sent (unix ns)   | padding
//	+------+----------+------------------+------------------+----------
//
// The echo server returns it unchanged, so the emulator matches the echo
// by (session, sequence number) and takes the round-trip time from it.
type Probe struct {
	Session uint32
	Seq     uint64
	Sent    int64
}

// Append appends the probe header to b.
func (p Probe) Append(b []byte) ([]byte, error) {
	b = append(b, ProbeMagic[:]...)
	b = binary.BigEndian.AppendUint32(b, p.Session)
	b = binary.BigEndian.AppendUint64(b, p.Seq)
	return binary.BigEndian.AppendUint64(b, uint64(p.Sent)), nil
}

// ParseProbe decodes the probe header at the start of b (padding may
// follow).
func ParseProbe(b []byte) (Probe, error) {
	if len(b) < ProbeLen {
		return Probe{}, fmt.Errorf("load: probe of %d octets: %w", len(b), ErrShort)
	}
	if [4]byte(b[0:4]) != ProbeMagic {
		return Probe{}, fmt.Errorf("load: probe magic %x: %w", b[0:4], ErrMalformed)
	}
	return Probe{
		Session: binary.BigEndian.Uint32(b[4:8]),
		Seq:     binary.BigEndian.Uint64(b[8:16]),
		Sent:    int64(binary.BigEndian.Uint64(b[16:24])),
	}, nil
}

const (
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	udpHeaderLen  = 8
	// minProbe is the smallest IPv4 packet that carries a probe.
	minProbe = ipv4HeaderLen + udpHeaderLen + ProbeLen
	// protoUDP is the IP protocol number of UDP (RFC 768), protoICMPv6
	// that of ICMPv6 (RFC 4443).
	protoUDP    = 17
	protoICMPv6 = 58
)

// UDP is the part of an IPv4/UDP or IPv6/UDP packet the emulator reads.
// Payload aliases the packet.
type UDP struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}

// ParseUDP decodes an IPv4 (RFC 791 section 3.1) or IPv6 (RFC 8200
// section 3) packet carrying UDP (RFC 768), by its version field.
// Fragments, IPv6 extension headers and other protocols are ErrMalformed;
// so is an IPv6 datagram with a zero or wrong checksum (RFC 8200 section
// 8.1 makes it mandatory). It allocates nothing: Payload aliases b.
func ParseUDP(b []byte) (UDP, error) {
	if len(b) > 0 && b[0]>>4 == 6 {
		return parseUDP6(b)
	}
	if len(b) < ipv4HeaderLen {
		return UDP{}, fmt.Errorf("load: IPv4 header of %d octets: %w", len(b), ErrShort)
	}
	if b[0]>>4 != 4 {
		return UDP{}, fmt.Errorf("load: IP version %d: %w", b[0]>>4, ErrMalformed)
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < ipv4HeaderLen || total < ihl+udpHeaderLen || total > len(b) {
		return UDP{}, fmt.Errorf("load: IPv4 header length %d, total %d of %d: %w", ihl, total, len(b), ErrMalformed)
	}
	if b[9] != protoUDP {
		return UDP{}, fmt.Errorf("load: IP protocol %d: %w", b[9], ErrMalformed)
	}
	if binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 { // MF or a fragment offset
		return UDP{}, fmt.Errorf("load: IPv4 fragment: %w", ErrMalformed)
	}
	u := b[ihl:total]
	ulen := int(binary.BigEndian.Uint16(u[4:6]))
	if ulen < udpHeaderLen || ulen > len(u) {
		return UDP{}, fmt.Errorf("load: UDP length %d of %d: %w", ulen, len(u), ErrMalformed)
	}
	return UDP{
		Src:     netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), binary.BigEndian.Uint16(u[0:2])),
		Dst:     netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), binary.BigEndian.Uint16(u[2:4])),
		Payload: u[udpHeaderLen:ulen],
	}, nil
}

func parseUDP6(b []byte) (UDP, error) {
	ip, err := ParseIPv6(b)
	if err != nil {
		return UDP{}, err
	}
	if ip.Next != protoUDP {
		return UDP{}, fmt.Errorf("load: IPv6 next header %d: %w", ip.Next, ErrMalformed)
	}
	u := ip.Payload
	if len(u) < udpHeaderLen {
		return UDP{}, fmt.Errorf("load: UDP header of %d octets: %w", len(u), ErrShort)
	}
	if ulen := int(binary.BigEndian.Uint16(u[4:6])); ulen != len(u) {
		return UDP{}, fmt.Errorf("load: UDP length %d in an IPv6 payload of %d: %w", ulen, len(u), ErrMalformed)
	}
	if binary.BigEndian.Uint16(u[6:8]) == 0 || ^fold(pseudo6(ip.Src, ip.Dst, protoUDP, len(u), sum(u, 0))) != 0 {
		return UDP{}, fmt.Errorf("load: IPv6 UDP checksum: %w", ErrMalformed)
	}
	return UDP{
		Src:     netip.AddrPortFrom(ip.Src, binary.BigEndian.Uint16(u[0:2])),
		Dst:     netip.AddrPortFrom(ip.Dst, binary.BigEndian.Uint16(u[2:4])),
		Payload: u[udpHeaderLen:],
	}, nil
}

// Append appends an IPv4 packet (no options, TTL 64, DF clear) or, when
// both addresses are IPv6, an IPv6 packet (hop limit 64, no extension
// headers) carrying the UDP datagram, with the checksums computed.
func (p UDP) Append(b []byte) ([]byte, error) {
	if p.Src.Addr().Is6() && p.Dst.Addr().Is6() {
		return p.append6(b)
	}
	if !p.Src.Addr().Is4() || !p.Dst.Addr().Is4() {
		return b, fmt.Errorf("load: UDP %v → %v: mixed or invalid addresses: %w", p.Src, p.Dst, ErrMalformed)
	}
	total := ipv4HeaderLen + udpHeaderLen + len(p.Payload)
	if total > 0xffff {
		return b, fmt.Errorf("load: UDP payload of %d octets: %w", len(p.Payload), ErrMalformed)
	}
	off := len(b)
	s, d := p.Src.Addr().As4(), p.Dst.Addr().As4()
	b = append(b, 0x45, 0, byte(total>>8), byte(total), 0, 0, 0, 0, 64, protoUDP, 0, 0)
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	binary.BigEndian.PutUint16(b[off+10:], ^fold(sum(b[off:off+ipv4HeaderLen], 0)))
	ulen := udpHeaderLen + len(p.Payload)
	u := len(b)
	b = binary.BigEndian.AppendUint16(b, p.Src.Port())
	b = binary.BigEndian.AppendUint16(b, p.Dst.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(ulen))
	b = append(b, 0, 0)
	b = append(b, p.Payload...)
	// Pseudo-header of RFC 768: addresses, zero, protocol, UDP length.
	c := sum(s[:], 0)
	c = sum(d[:], c)
	c += protoUDP + uint32(ulen)
	c = sum(b[u:], c)
	ck := ^fold(c)
	if ck == 0 {
		ck = 0xffff // 0 means "no checksum"
	}
	binary.BigEndian.PutUint16(b[u+6:], ck)
	return b, nil
}

func (p UDP) append6(b []byte) ([]byte, error) {
	ulen := udpHeaderLen + len(p.Payload)
	if ulen > 0xffff {
		return b, fmt.Errorf("load: UDP payload of %d octets: %w", len(p.Payload), ErrMalformed)
	}
	b = IPv6{Src: p.Src.Addr(), Dst: p.Dst.Addr(), Next: protoUDP, HopLimit: 64}.appendHeader(b, ulen)
	u := len(b)
	b = binary.BigEndian.AppendUint16(b, p.Src.Port())
	b = binary.BigEndian.AppendUint16(b, p.Dst.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(ulen))
	b = append(b, 0, 0)
	b = append(b, p.Payload...)
	ck := ^fold(pseudo6(p.Src.Addr(), p.Dst.Addr(), protoUDP, ulen, sum(b[u:], 0)))
	if ck == 0 {
		ck = 0xffff
	}
	binary.BigEndian.PutUint16(b[u+6:], ck)
	return b, nil
}

// IPv6 is an IPv6 packet without extension headers (RFC 8200 section 3),
// as router discovery sends it (RFC 4861). Payload aliases the packet it
// was parsed from.
type IPv6 struct {
	Src, Dst       netip.Addr
	Next, HopLimit uint8
	Payload        []byte
}

// ParseIPv6 decodes the fixed IPv6 header; octets after the payload
// length are ignored (link padding). It allocates nothing.
func ParseIPv6(b []byte) (IPv6, error) {
	if len(b) < ipv6HeaderLen {
		return IPv6{}, fmt.Errorf("load: IPv6 header of %d octets: %w", len(b), ErrShort)
	}
	if b[0]>>4 != 6 {
		return IPv6{}, fmt.Errorf("load: IP version %d: %w", b[0]>>4, ErrMalformed)
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if ipv6HeaderLen+plen > len(b) {
		return IPv6{}, fmt.Errorf("load: IPv6 payload length %d of %d: %w", plen, len(b)-ipv6HeaderLen, ErrMalformed)
	}
	return IPv6{
		Src: netip.AddrFrom16([16]byte(b[8:24])), Dst: netip.AddrFrom16([16]byte(b[24:40])),
		Next: b[6], HopLimit: b[7], Payload: b[ipv6HeaderLen : ipv6HeaderLen+plen],
	}, nil
}

// Append appends the packet: traffic class and flow label zero, the
// payload as it is (its checksum, if any, already in place).
func (p IPv6) Append(b []byte) ([]byte, error) {
	if !p.Src.Is6() || !p.Dst.Is6() {
		return b, fmt.Errorf("load: IPv6 %v → %v: not IPv6 addresses: %w", p.Src, p.Dst, ErrMalformed)
	}
	if len(p.Payload) > 0xffff {
		return b, fmt.Errorf("load: IPv6 payload of %d octets: %w", len(p.Payload), ErrMalformed)
	}
	return append(p.appendHeader(b, len(p.Payload)), p.Payload...), nil
}

func (p IPv6) appendHeader(b []byte, plen int) []byte {
	b = append(b, 0x60, 0, 0, 0, byte(plen>>8), byte(plen), p.Next, p.HopLimit)
	s, d := p.Src.As16(), p.Dst.As16()
	b = append(b, s[:]...)
	return append(b, d[:]...)
}

// pseudo6 adds the IPv6 pseudo-header (RFC 8200 section 8.1) to the sum
// c of an upper-layer packet of n octets.
func pseudo6(src, dst netip.Addr, next uint8, n int, c uint32) uint32 {
	s, d := src.As16(), dst.As16()
	c = sum(s[:], c)
	c = sum(d[:], c)
	return c + uint32(n>>16) + uint32(n&0xffff) + uint32(next)
}

// sum adds b to the one's-complement sum c (RFC 1071).
func sum(b []byte, c uint32) uint32 {
	for len(b) >= 2 {
		c += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		c += uint32(b[0]) << 8
	}
	return c
}

func fold(c uint32) uint16 {
	for c > 0xffff {
		c = c>>16 + c&0xffff
	}
	return uint16(c)
}
