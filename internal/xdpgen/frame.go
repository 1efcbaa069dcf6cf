package xdpgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Frame describes a benchmark frame: Ethernet + IPv4 + UDP to SinkPort,
// bare or inside a PPPoE session.
type Frame struct {
	Dst, Src net.HardwareAddr
	// PPPoE puts the IPv4 packet in a PPPoE session frame (RFC 2516
	// section 5: ethertype 0x8864, ver 1, type 1, code 0) with the session
	// ID Session and PPP protocol 0x0021 (RFC 1332), uncompressed.
	PPPoE   bool
	Session uint16
	SrcIP   netip.Addr
	DstIP   netip.Addr
	// Size is the IPv4 packet's total length in octets (28 and more: the
	// IPv4 and UDP headers, then zero payload).
	Size int
}

// Errors of Frame.Append.
var ErrFrame = errors.New("xdpgen: bad frame")

const (
	ethLen   = 14
	pppoeLen = 6 + 2 // PPPoE session header + PPP protocol
	ipLen    = 20
	udpLen   = 8
)

// Append appends the frame to b: IPv4 with TTL 64, DF, its header
// checksum, UDP from SourcePortBase to SinkPort with checksum 0 (none,
// which IPv4 allows, RFC 768).
func (f Frame) Append(b []byte) ([]byte, error) {
	if len(f.Dst) != 6 || len(f.Src) != 6 {
		return b, fmt.Errorf("%w: MAC addresses %v, %v", ErrFrame, f.Dst, f.Src)
	}
	if !f.SrcIP.Is4() || !f.DstIP.Is4() {
		return b, fmt.Errorf("%w: IPv4 addresses %v, %v", ErrFrame, f.SrcIP, f.DstIP)
	}
	if f.Size < ipLen+udpLen || f.Size > 0xffff-pppoeLen {
		return b, fmt.Errorf("%w: IPv4 total length %d", ErrFrame, f.Size)
	}
	b = append(b, f.Dst...)
	b = append(b, f.Src...)
	if f.PPPoE {
		b = binary.BigEndian.AppendUint16(b, 0x8864)
		b = append(b, 0x11, 0x00) // ver 1, type 1; code 0: session data
		b = binary.BigEndian.AppendUint16(b, f.Session)
		b = binary.BigEndian.AppendUint16(b, uint16(2+f.Size)) // PPP protocol + IPv4
		b = binary.BigEndian.AppendUint16(b, 0x0021)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
	}
	ip := len(b)
	b = append(b, 0x45, 0) // version 4, IHL 5; DSCP/ECN 0
	b = binary.BigEndian.AppendUint16(b, uint16(f.Size))
	b = append(b, 0, 0, 0x40, 0) // ID 0; DF, fragment offset 0
	b = append(b, 64, 17, 0, 0)  // TTL 64, protocol UDP, checksum (below)
	b = append(b, f.SrcIP.AsSlice()...)
	b = append(b, f.DstIP.AsSlice()...)
	binary.BigEndian.PutUint16(b[ip+10:], ipChecksum(b[ip:ip+ipLen]))
	b = binary.BigEndian.AppendUint16(b, SourcePortBase)
	b = binary.BigEndian.AppendUint16(b, SinkPort)
	b = binary.BigEndian.AppendUint16(b, uint16(f.Size-ipLen))
	b = append(b, 0, 0) // no checksum
	b = append(b, make([]byte, f.Size-ipLen-udpLen)...)
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
