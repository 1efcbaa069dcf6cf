package xdpgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Frame describes a benchmark frame: Ethernet + IPv4 or IPv6 + UDP to
// SinkPort, bare or inside a PPPoE session.
type Frame struct {
	Dst, Src net.HardwareAddr
	// PPPoE puts the IP packet in a PPPoE session frame (RFC 2516 section
	// 5: ethertype 0x8864, ver 1, type 1, code 0) with the session ID
	// Session and PPP protocol 0x0021 (RFC 1332) or 0x0057 (RFC 5072),
	// uncompressed.
	PPPoE   bool
	Session uint16
	// SrcIP and DstIP are both IPv4 or both IPv6 addresses: the packet's
	// family.
	SrcIP netip.Addr
	DstIP netip.Addr
	// Size is the IP packet's length in octets (28 and more for IPv4, 48
	// and more for IPv6: the IP and UDP headers, then zero payload).
	Size int
}

// Errors of Frame.Append.
var ErrFrame = errors.New("xdpgen: bad frame")

const (
	ethLen   = 14
	pppoeLen = 6 + 2 // PPPoE session header + PPP protocol
	ipLen    = 20
	ip6Len   = 40
	udpLen   = 8
)

// Append appends the frame to b. IPv4 has TTL 64, DF, its header checksum
// and UDP checksum 0 (none, which IPv4 allows, RFC 768); IPv6 (RFC 8200)
// has hop limit 64 and the UDP checksum it requires (section 8.1). UDP
// goes from SourcePortBase to SinkPort.
func (f Frame) Append(b []byte) ([]byte, error) {
	if len(f.Dst) != 6 || len(f.Src) != 6 {
		return b, fmt.Errorf("%w: MAC addresses %v, %v", ErrFrame, f.Dst, f.Src)
	}
	v6 := f.SrcIP.Is6() && !f.SrcIP.Is4In6()
	hl := ipLen
	switch {
	case f.SrcIP.Is4() && f.DstIP.Is4():
	case v6 && f.DstIP.Is6() && !f.DstIP.Is4In6():
		hl = ip6Len
	default:
		return b, fmt.Errorf("%w: IP addresses %v, %v", ErrFrame, f.SrcIP, f.DstIP)
	}
	if f.Size < hl+udpLen || f.Size > 0xffff-pppoeLen {
		return b, fmt.Errorf("%w: IP packet length %d", ErrFrame, f.Size)
	}
	b = append(b, f.Dst...)
	b = append(b, f.Src...)
	ppp, et := uint16(0x0021), uint16(0x0800)
	if v6 {
		ppp, et = 0x0057, 0x86dd
	}
	if f.PPPoE {
		b = binary.BigEndian.AppendUint16(b, 0x8864)
		b = append(b, 0x11, 0x00) // ver 1, type 1; code 0: session data
		b = binary.BigEndian.AppendUint16(b, f.Session)
		b = binary.BigEndian.AppendUint16(b, uint16(2+f.Size)) // PPP protocol + IP
		b = binary.BigEndian.AppendUint16(b, ppp)
	} else {
		b = binary.BigEndian.AppendUint16(b, et)
	}
	ip := len(b)
	if v6 {
		b = append(b, 0x60, 0, 0, 0) // version 6, traffic class 0, flow label 0
		b = binary.BigEndian.AppendUint16(b, uint16(f.Size-ip6Len))
		b = append(b, 17, 64) // next header UDP, hop limit 64
	} else {
		b = append(b, 0x45, 0) // version 4, IHL 5; DSCP/ECN 0
		b = binary.BigEndian.AppendUint16(b, uint16(f.Size))
		b = append(b, 0, 0, 0x40, 0) // ID 0; DF, fragment offset 0
		b = append(b, 64, 17, 0, 0)  // TTL 64, protocol UDP, checksum (below)
	}
	b = append(b, f.SrcIP.AsSlice()...)
	b = append(b, f.DstIP.AsSlice()...)
	if !v6 {
		binary.BigEndian.PutUint16(b[ip+10:], ipChecksum(b[ip:ip+ipLen]))
	}
	u := len(b)
	b = binary.BigEndian.AppendUint16(b, SourcePortBase)
	b = binary.BigEndian.AppendUint16(b, SinkPort)
	b = binary.BigEndian.AppendUint16(b, uint16(f.Size-hl))
	b = append(b, 0, 0) // checksum: none for IPv4, below for IPv6
	b = append(b, make([]byte, f.Size-hl-udpLen)...)
	if v6 {
		// The pseudo-header (RFC 8200 section 8.1): addresses, the UDP
		// length, next header 17; then the datagram.
		n := f.Size - hl
		ph := append([]byte(nil), b[ip+8:ip+ip6Len]...)
		ph = append(ph, byte(n>>24), byte(n>>16), byte(n>>8), byte(n), 0, 0, 0, 17)
		sum := ipChecksum(append(ph, b[u:]...))
		if sum == 0 {
			sum = 0xffff // 0 is "no checksum", which IPv6 forbids
		}
		binary.BigEndian.PutUint16(b[u+6:], sum)
	}
	return b, nil
}

// ipChecksum is the Internet checksum of h (RFC 1071).
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	if len(h)%2 == 1 {
		sum += uint32(h[len(h)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
