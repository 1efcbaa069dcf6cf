package pppoe

import (
	"encoding/binary"
	"fmt"
	"net"
)

// MAC is an Ethernet address held by value, so that it can key a map and
// be copied without allocation.
type MAC [6]byte

// Broadcast is the Ethernet broadcast address a PADI is sent to, RFC 2516
// section 5.1.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// MACFrom converts a 6-octet hardware address; other lengths give the zero MAC
// and false.
func MACFrom(hw net.HardwareAddr) (MAC, bool) {
	var m MAC
	if len(hw) != 6 {
		return m, false
	}
	copy(m[:], hw)
	return m, true
}

// HardwareAddr returns m as a freshly allocated net.HardwareAddr.
func (m MAC) HardwareAddr() net.HardwareAddr { return append(net.HardwareAddr(nil), m[:]...) }

func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// VLAN is one IEEE 802.1Q (TPID 0x8100) or 802.1ad (TPID 0x88a8) tag.
type VLAN struct {
	TPID EtherType
	TCI  uint16 // PCP (3 bits), DEI (1 bit), VID (12 bits)
}

// ID returns the 12-bit VLAN identifier.
func (v VLAN) ID() uint16 { return v.TCI & 0x0fff }

// Ethernet is the Ethernet II header of a PPPoE frame (RFC 2516 section 4)
// with up to two VLAN tags (QinQ), outer tag first.
type Ethernet struct {
	Dst, Src  MAC
	VLANs     [2]VLAN
	NumVLANs  int
	EtherType EtherType
}

// EthernetHeaderLen is the length of an untagged Ethernet II header.
const EthernetHeaderLen = 14

// ParseEthernet decodes the Ethernet header at the start of b and returns
// the rest of the frame (aliasing b). At most two VLAN tags are accepted.
func ParseEthernet(b []byte) (Ethernet, []byte, error) {
	var h Ethernet
	if len(b) < EthernetHeaderLen {
		return h, nil, fmt.Errorf("pppoe: ethernet header of %d octets: %w", len(b), ErrShort)
	}
	copy(h.Dst[:], b[0:6])
	copy(h.Src[:], b[6:12])
	off := 12
	for {
		if len(b)-off < 2 {
			return h, nil, fmt.Errorf("pppoe: ethernet type at offset %d: %w", off, ErrShort)
		}
		et := EtherType(binary.BigEndian.Uint16(b[off:]))
		if et != EtherTypeVLAN && et != EtherTypeQinQ {
			h.EtherType = et
			return h, b[off+2:], nil
		}
		if h.NumVLANs == len(h.VLANs) {
			return h, nil, fmt.Errorf("pppoe: more than %d VLAN tags: %w", len(h.VLANs), ErrMalformed)
		}
		if len(b)-off < 4 {
			return h, nil, fmt.Errorf("pppoe: VLAN tag at offset %d: %w", off, ErrShort)
		}
		h.VLANs[h.NumVLANs] = VLAN{TPID: et, TCI: binary.BigEndian.Uint16(b[off+2:])}
		h.NumVLANs++
		off += 4
	}
}

// Append encodes the header after b.
func (h *Ethernet) Append(b []byte) ([]byte, error) {
	if h.NumVLANs < 0 || h.NumVLANs > len(h.VLANs) {
		return b, fmt.Errorf("pppoe: %d VLAN tags: %w", h.NumVLANs, ErrMalformed)
	}
	b = append(b, h.Dst[:]...)
	b = append(b, h.Src[:]...)
	for _, v := range h.VLANs[:h.NumVLANs] {
		b = binary.BigEndian.AppendUint16(b, uint16(v.TPID))
		b = binary.BigEndian.AppendUint16(b, v.TCI)
	}
	return binary.BigEndian.AppendUint16(b, uint16(h.EtherType)), nil
}

// Len returns the encoded length of the header.
func (h *Ethernet) Len() int { return EthernetHeaderLen + 4*h.NumVLANs }
