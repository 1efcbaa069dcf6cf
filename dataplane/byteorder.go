package dataplane

import (
	"encoding/binary"
	"net/netip"
)

// be16 and be32 give the host-order value whose memory holds v in network
// order: how the maps' __be16/__be32 fields are written from Go
// (cilium/ebpf marshals map values in host order; the programs copy those
// fields into packets as they are).
func be16(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

func be32(v uint32) uint32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return binary.NativeEndian.Uint32(b[:])
}

// addr4 is an IPv4 address as a __be32 map field (0 for an invalid or
// IPv6 address).
func addr4(a netip.Addr) uint32 {
	a = a.Unmap()
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.NativeEndian.Uint32(b[:])
}
