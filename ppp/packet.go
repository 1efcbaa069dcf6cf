package ppp

import (
	"encoding/binary"
	"fmt"
)

// Code is the Code field of an LCP-style packet (RFC 1661 section 5; IPCP and
// IPv6CP use codes 1 to 7, RFC 1332 section 2 and RFC 5072 section 3).
type Code uint8

// LCP codes, RFC 1661 section 5.
const (
	ConfReq    Code = 1
	ConfAck    Code = 2
	ConfNak    Code = 3
	ConfRej    Code = 4
	TermReq    Code = 5
	TermAck    Code = 6
	CodeRej    Code = 7
	ProtoRej   Code = 8
	EchoReq    Code = 9
	EchoReply  Code = 10
	DiscardReq Code = 11
)

func (c Code) String() string {
	switch c {
	case ConfReq:
		return "Configure-Request"
	case ConfAck:
		return "Configure-Ack"
	case ConfNak:
		return "Configure-Nak"
	case ConfRej:
		return "Configure-Reject"
	case TermReq:
		return "Terminate-Request"
	case TermAck:
		return "Terminate-Ack"
	case CodeRej:
		return "Code-Reject"
	case ProtoRej:
		return "Protocol-Reject"
	case EchoReq:
		return "Echo-Request"
	case EchoReply:
		return "Echo-Reply"
	case DiscardReq:
		return "Discard-Request"
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Packet is the packet format shared by LCP and the NCPs, RFC 1661 section 5:
// Code (1), Identifier (1), Length (2), Data.
type Packet struct {
	Code Code
	ID   uint8
	Data []byte
}

// packetHeaderLen is the Code, Identifier and Length fields.
const packetHeaderLen = 4

// ParsePacket decodes one LCP-style packet. Octets after Length are padding and
// ignored (RFC 1661 section 5). Data aliases b.
func ParsePacket(b []byte) (Packet, error) {
	if len(b) < packetHeaderLen {
		return Packet{}, fmt.Errorf("ppp: packet header: %w", ErrShort)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < packetHeaderLen {
		return Packet{}, fmt.Errorf("ppp: packet length %d: %w", n, ErrMalformed)
	}
	if n > len(b) {
		return Packet{}, fmt.Errorf("ppp: packet length %d exceeds %d octets: %w", n, len(b), ErrShort)
	}
	return Packet{Code: Code(b[0]), ID: b[1], Data: b[packetHeaderLen:n]}, nil
}

// Append appends the encoded packet to b.
func (p Packet) Append(b []byte) ([]byte, error) {
	n := packetHeaderLen + len(p.Data)
	if n > 0xffff {
		return b, fmt.Errorf("ppp: packet of %d octets: %w", n, ErrMalformed)
	}
	b = append(b, byte(p.Code), p.ID)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	return append(b, p.Data...), nil
}

// Option is one Configuration Option, RFC 1661 section 6: Type (1), Length
// (1), Data. Options of any protocol, known or not, are kept raw.
type Option struct {
	Type uint8
	Data []byte
}

// ParseOptions decodes a Configuration Option list (the Data of a
// Configure-Request, -Ack, -Nak or -Reject). An option whose Length is below 2
// or runs past the end makes the whole list malformed: the RFC then has the
// packet silently discarded. Data slices alias b.
func ParseOptions(b []byte) ([]Option, error) {
	var opts []Option
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("ppp: option header: %w", ErrShort)
		}
		n := int(b[1])
		if n < 2 {
			return nil, fmt.Errorf("ppp: option %d length %d: %w", b[0], n, ErrMalformed)
		}
		if n > len(b) {
			return nil, fmt.Errorf("ppp: option %d length %d exceeds %d octets: %w", b[0], n, len(b), ErrShort)
		}
		opts = append(opts, Option{Type: b[0], Data: b[2:n]})
		b = b[n:]
	}
	return opts, nil
}

// Append appends the encoded option to b.
func (o Option) Append(b []byte) ([]byte, error) {
	if len(o.Data) > 253 {
		return b, fmt.Errorf("ppp: option %d data of %d octets: %w", o.Type, len(o.Data), ErrMalformed)
	}
	b = append(b, o.Type, byte(2+len(o.Data)))
	return append(b, o.Data...), nil
}

// AppendOptions appends an encoded option list to b.
func AppendOptions(b []byte, opts []Option) ([]byte, error) {
	var err error
	for _, o := range opts {
		if b, err = o.Append(b); err != nil {
			return b, err
		}
	}
	return b, nil
}

// LCPOption is the Type of an LCP Configuration Option, RFC 1661 section 6
// and the IANA PPP LCP option registry.
type LCPOption uint8

// LCP option types.
const (
	LCPMRU          LCPOption = 1  // RFC 1661 section 6.1
	LCPACCM         LCPOption = 2  // RFC 1662 section 7.1
	LCPAuthProtocol LCPOption = 3  // RFC 1661 section 6.2
	LCPQuality      LCPOption = 4  // RFC 1661 section 6.3
	LCPMagicNumber  LCPOption = 5  // RFC 1661 section 6.4
	LCPPFC          LCPOption = 7  // RFC 1661 section 6.5
	LCPACFC         LCPOption = 8  // RFC 1661 section 6.6
	LCPCallback     LCPOption = 13 // RFC 1570
	LCPMRRU         LCPOption = 17 // RFC 1990
)

func (t LCPOption) String() string {
	switch t {
	case LCPMRU:
		return "MRU"
	case LCPACCM:
		return "ACCM"
	case LCPAuthProtocol:
		return "Auth-Protocol"
	case LCPQuality:
		return "Quality-Protocol"
	case LCPMagicNumber:
		return "Magic-Number"
	case LCPPFC:
		return "PFC"
	case LCPACFC:
		return "ACFC"
	case LCPCallback:
		return "Callback"
	case LCPMRRU:
		return "MRRU"
	}
	return fmt.Sprintf("LCPOption(%d)", uint8(t))
}

// IPCPOption is the Type of an IPCP Configuration Option, RFC 1332 section 3
// and RFC 1877 section 1.
type IPCPOption uint8

// IPCP option types.
const (
	IPCPAddresses     IPCPOption = 1   // RFC 1332 section 3.1 (deprecated)
	IPCPCompression   IPCPOption = 2   // RFC 1332 section 3.2
	IPCPAddress       IPCPOption = 3   // RFC 1332 section 3.3
	IPCPPrimaryDNS    IPCPOption = 129 // RFC 1877 section 1.1
	IPCPPrimaryNBNS   IPCPOption = 130 // RFC 1877 section 1.2
	IPCPSecondaryDNS  IPCPOption = 131 // RFC 1877 section 1.3
	IPCPSecondaryNBNS IPCPOption = 132 // RFC 1877 section 1.4
)

func (t IPCPOption) String() string {
	switch t {
	case IPCPAddresses:
		return "IP-Addresses"
	case IPCPCompression:
		return "IP-Compression-Protocol"
	case IPCPAddress:
		return "IP-Address"
	case IPCPPrimaryDNS:
		return "Primary-DNS"
	case IPCPPrimaryNBNS:
		return "Primary-NBNS"
	case IPCPSecondaryDNS:
		return "Secondary-DNS"
	case IPCPSecondaryNBNS:
		return "Secondary-NBNS"
	}
	return fmt.Sprintf("IPCPOption(%d)", uint8(t))
}

// IPv6CPOption is the Type of an IPv6CP Configuration Option, RFC 5072
// section 4.
type IPv6CPOption uint8

// IPv6CP option types.
const (
	IPv6CPInterfaceID IPv6CPOption = 1 // RFC 5072 section 4.1
)

func (t IPv6CPOption) String() string {
	if t == IPv6CPInterfaceID {
		return "Interface-Identifier"
	}
	return fmt.Sprintf("IPv6CPOption(%d)", uint8(t))
}
