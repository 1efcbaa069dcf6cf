package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by the errors of a virtio_net_hdr or of a packet
// that does not agree with its header.
var ErrMalformed = errors.New("tun: malformed packet")

// ErrTooBig is returned by (*Splitter).Next for a segment longer than the
// buffer it was to be written to.
var ErrTooBig = errors.New("tun: segment longer than the buffer")

// VnetHdrLen is the size of the virtio_net_hdr in front of every packet of a
// device opened with offloads (struct virtio_net_hdr of the virtio
// specification 1.2, section 5.1.6, without num_buffers; set with
// TUNSETVNETHDRSZ).
const VnetHdrLen = 10

// VnetFlags are the flags of a virtio_net_hdr (section 5.1.6).
type VnetFlags uint8

// The flags.
const (
	// VnetNeedsCsum: the checksum at CsumStart+CsumOffset holds the
	// pseudo-header sum only; the sum from CsumStart to the end of the
	// packet is still to be added.
	VnetNeedsCsum VnetFlags = 1
	// VnetDataValid: the receiver validated the checksum.
	VnetDataValid  VnetFlags = 2
	vnetFlagsKnown           = VnetNeedsCsum | VnetDataValid
)

func (f VnetFlags) String() string {
	switch f {
	case 0:
		return "none"
	case VnetNeedsCsum:
		return "needs_csum"
	case VnetDataValid:
		return "data_valid"
	case VnetNeedsCsum | VnetDataValid:
		return "needs_csum|data_valid"
	}
	return fmt.Sprintf("VnetFlags(%#x)", uint8(f))
}

// GSOType is the gso_type of a virtio_net_hdr: how a super-packet is to be
// cut into segments.
type GSOType uint8

// The GSO types (VIRTIO_NET_HDR_GSO_*).
const (
	GSONone  GSOType = 0 // a single packet
	GSOTCPv4 GSOType = 1 // TCP segmentation over IPv4
	GSOUDP   GSOType = 3 // UDP fragmentation offload (obsolete, never produced here)
	GSOTCPv6 GSOType = 4 // TCP segmentation over IPv6
	GSOUDPL4 GSOType = 5 // UDP segmentation (USO), IPv4 or IPv6
	// GSOECN is or-ed into the type when the segments carry ECN (CWR on
	// the first one, RFC 3168 section 6.1.2).
	GSOECN GSOType = 0x80
)

func (t GSOType) String() string {
	var s string
	switch t &^ GSOECN {
	case GSONone:
		s = "none"
	case GSOTCPv4:
		s = "tcpv4"
	case GSOUDP:
		s = "udp"
	case GSOTCPv6:
		s = "tcpv6"
	case GSOUDPL4:
		s = "udp_l4"
	default:
		return fmt.Sprintf("GSOType(%#x)", uint8(t))
	}
	if t&GSOECN != 0 {
		s += "|ecn"
	}
	return s
}

// VnetHdr is a struct virtio_net_hdr. The TUN device writes and reads it in
// the host's byte order (a legacy virtio header: no TUNSETVNETLE/BE).
type VnetHdr struct {
	Flags      VnetFlags
	GSOType    GSOType
	HdrLen     uint16 // length of the headers copied in front of every segment (a hint)
	GSOSize    uint16 // payload octets of every segment but the last
	CsumStart  uint16 // where the checksummed data starts (the L4 header)
	CsumOffset uint16 // where the checksum is, from CsumStart
}

// ParseVnetHdr decodes the header at the start of b. It refuses unknown
// flags and GSO types, and a GSO packet without a checksum to complete.
func ParseVnetHdr(b []byte) (VnetHdr, error) {
	if len(b) < VnetHdrLen {
		return VnetHdr{}, fmt.Errorf("%w: %d-octet virtio_net_hdr", ErrMalformed, len(b))
	}
	e := binary.NativeEndian
	h := VnetHdr{
		Flags:      VnetFlags(b[0]),
		GSOType:    GSOType(b[1]),
		HdrLen:     e.Uint16(b[2:4]),
		GSOSize:    e.Uint16(b[4:6]),
		CsumStart:  e.Uint16(b[6:8]),
		CsumOffset: e.Uint16(b[8:10]),
	}
	if err := h.check(); err != nil {
		return VnetHdr{}, err
	}
	return h, nil
}

func (h VnetHdr) check() error {
	if h.Flags&^vnetFlagsKnown != 0 {
		return fmt.Errorf("%w: virtio_net_hdr flags %v", ErrMalformed, h.Flags)
	}
	switch h.GSOType &^ GSOECN {
	case GSONone:
		if h.GSOType&GSOECN != 0 {
			return fmt.Errorf("%w: virtio_net_hdr gso_type %v", ErrMalformed, h.GSOType)
		}
	case GSOTCPv4, GSOTCPv6, GSOUDPL4:
		if h.Flags&VnetNeedsCsum == 0 || h.GSOSize == 0 {
			return fmt.Errorf("%w: virtio_net_hdr %v without a checksum or a segment size", ErrMalformed, h.GSOType)
		}
	default:
		return fmt.Errorf("%w: virtio_net_hdr gso_type %v", ErrMalformed, h.GSOType)
	}
	return nil
}

// Append encodes h after b.
func (h VnetHdr) Append(b []byte) ([]byte, error) {
	if err := h.check(); err != nil {
		return b, err
	}
	b = append(b, uint8(h.Flags), uint8(h.GSOType))
	e := binary.NativeEndian
	b = e.AppendUint16(b, h.HdrLen)
	b = e.AppendUint16(b, h.GSOSize)
	b = e.AppendUint16(b, h.CsumStart)
	return e.AppendUint16(b, h.CsumOffset), nil
}

// put writes h into b[:VnetHdrLen] without checking it (the write path makes
// only valid headers).
func (h VnetHdr) put(b []byte) {
	b[0], b[1] = uint8(h.Flags), uint8(h.GSOType)
	e := binary.NativeEndian
	e.PutUint16(b[2:4], h.HdrLen)
	e.PutUint16(b[4:6], h.GSOSize)
	e.PutUint16(b[6:8], h.CsumStart)
	e.PutUint16(b[8:10], h.CsumOffset)
}
