package ppp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors wrapped by every decoder of this package.
var (
	// ErrShort means the input ends before a field the RFC requires.
	ErrShort = errors.New("ppp: short buffer")
	// ErrMalformed means a length or value field contradicts the RFC.
	ErrMalformed = errors.New("ppp: malformed packet")
)

// Protocol is the PPP Protocol field of RFC 1661, section 2.
type Protocol uint16

// Protocol numbers used by the engine (RFC 1661 section 2, RFC 1332, RFC 5072,
// RFC 1334, RFC 1994).
const (
	ProtoIPv4   Protocol = 0x0021
	ProtoIPv6   Protocol = 0x0057
	ProtoIPCP   Protocol = 0x8021
	ProtoIPv6CP Protocol = 0x8057
	ProtoLCP    Protocol = 0xc021
	ProtoPAP    Protocol = 0xc023
	ProtoLQR    Protocol = 0xc025
	ProtoCHAP   Protocol = 0xc223
)

func (p Protocol) String() string {
	switch p {
	case ProtoIPv4:
		return "IPv4"
	case ProtoIPv6:
		return "IPv6"
	case ProtoIPCP:
		return "IPCP"
	case ProtoIPv6CP:
		return "IPv6CP"
	case ProtoLCP:
		return "LCP"
	case ProtoPAP:
		return "PAP"
	case ProtoLQR:
		return "LQR"
	case ProtoCHAP:
		return "CHAP"
	}
	return fmt.Sprintf("Protocol(0x%04x)", uint16(p))
}

// IsControl reports whether p is a link or network control protocol, the
// protocols a Session consumes (RFC 1661 section 2: values in the 8xxx-bfff and
// cxxx-fxxx ranges).
func (p Protocol) IsControl() bool { return p >= 0x8000 }

// StripAddressControl removes a leading HDLC Address and Control field (FF 03,
// RFC 1662 section 3.1) if present. The result aliases b.
func StripAddressControl(b []byte) []byte {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		return b[2:]
	}
	return b
}

// ParseProtocol splits a PPP frame into its Protocol field and information.
// A one-octet protocol field (Protocol-Field-Compression, RFC 1661 section
// 6.5) is recognised by its odd first octet. The information aliases b.
func ParseProtocol(b []byte) (Protocol, []byte, error) {
	if len(b) < 1 {
		return 0, nil, fmt.Errorf("ppp: protocol field: %w", ErrShort)
	}
	if b[0]&1 == 1 {
		return Protocol(b[0]), b[1:], nil
	}
	if len(b) < 2 {
		return 0, nil, fmt.Errorf("ppp: protocol field: %w", ErrShort)
	}
	p := Protocol(binary.BigEndian.Uint16(b))
	if p&1 == 0 {
		// RFC 1661 section 2: the least significant octet is odd.
		return 0, nil, fmt.Errorf("ppp: protocol 0x%04x with even low octet: %w", uint16(p), ErrMalformed)
	}
	return p, b[2:], nil
}

// AppendProtocol appends the two-octet Protocol field.
func AppendProtocol(b []byte, p Protocol) []byte {
	return binary.BigEndian.AppendUint16(b, uint16(p))
}
