package dhcp6

import (
	"encoding/binary"
	"net/netip"
)

// DHCPv6 ports and the servers' multicast group (RFC 8415 section 7).
const (
	ClientPort = 546
	ServerPort = 547
)

// AllServers is ff02::1:2, All_DHCP_Relay_Agents_and_Servers.
var AllServers = netip.MustParseAddr("ff02::1:2")

const (
	ipv6HeaderLen = 40
	udpHeaderLen  = 8
	protoUDP      = 17
)

// IsRequest reports whether the IPv6 packet pkt (from the subscriber, the
// payload of a PPP frame of protocol 0x0057) is UDP to the DHCPv6 server
// port at the servers' group or at local, the LNS's link-local address.
func IsRequest(pkt []byte, local netip.Addr) bool {
	if len(pkt) < ipv6HeaderLen+udpHeaderLen || pkt[0]>>4 != 6 || pkt[6] != protoUDP {
		return false
	}
	dst := netip.AddrFrom16([16]byte(pkt[24:40]))
	return (dst == AllServers || dst == local) && binary.BigEndian.Uint16(pkt[42:44]) == ServerPort
}

// ServePacket answers the DHCPv6 request in the IPv6 packet pkt (IsRequest
// holds) with a packet from local (the LNS's link-local address, port 547)
// back to the client's address and port, UDP checksum included (RFC 8200
// section 8.1 makes it mandatory). A nil reply is silence; a bad UDP
// length or checksum is ErrMalformed.
func (s *Server) ServePacket(pkt []byte, local netip.Addr, b Binding) ([]byte, Outcome, error) {
	plen := int(binary.BigEndian.Uint16(pkt[4:6]))
	if ipv6HeaderLen+plen > len(pkt) || plen < udpHeaderLen {
		return nil, Discarded, ErrMalformed
	}
	udp := pkt[ipv6HeaderLen : ipv6HeaderLen+plen]
	if ulen := int(binary.BigEndian.Uint16(udp[4:6])); ulen != plen {
		return nil, Discarded, ErrMalformed
	}
	src := netip.AddrFrom16([16]byte(pkt[8:24]))
	dst := netip.AddrFrom16([16]byte(pkt[24:40]))
	if udpChecksum(src, dst, udp) != 0 {
		return nil, Discarded, ErrMalformed
	}
	reply, o, err := s.Handle(udp[udpHeaderLen:], b)
	if reply == nil {
		return nil, o, err
	}
	return udpPacket(local, src, ServerPort, binary.BigEndian.Uint16(udp[0:2]), reply), o, nil
}

// udpPacket is an IPv6 packet (hop limit 255: the message never leaves
// the link) carrying payload in UDP from src:sport to dst:dport.
func udpPacket(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	n := udpHeaderLen + len(payload)
	b := make([]byte, ipv6HeaderLen+n)
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(n))
	b[6], b[7] = protoUDP, 255
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	u := b[ipv6HeaderLen:]
	binary.BigEndian.PutUint16(u[0:2], sport)
	binary.BigEndian.PutUint16(u[2:4], dport)
	binary.BigEndian.PutUint16(u[4:6], uint16(n))
	copy(u[udpHeaderLen:], payload)
	sum := udpChecksum(src, dst, u)
	if sum == 0 {
		sum = 0xffff // RFC 768: a computed 0 is sent as all ones
	}
	binary.BigEndian.PutUint16(u[6:8], sum)
	return b
}

// udpChecksum is the Internet checksum of the UDP datagram u over the
// IPv6 pseudo-header: 0 when u carries a right one, the value to put in
// when its checksum field is 0.
func udpChecksum(src, dst netip.Addr, u []byte) uint16 {
	var s uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
	}
	a, d := src.As16(), dst.As16()
	add(a[:])
	add(d[:])
	s += uint32(len(u)>>16) + uint32(len(u)&0xffff) + protoUDP
	add(u)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
