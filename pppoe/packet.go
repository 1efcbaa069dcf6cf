package pppoe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors wrapped by every decoding error of this package.
var (
	// ErrShort means the buffer ends before a field the format requires.
	ErrShort = errors.New("pppoe: short buffer")
	// ErrMalformed means a field holds a value the RFC forbids.
	ErrMalformed = errors.New("pppoe: malformed packet")
	// ErrTooLong means an encoded value does not fit its length field.
	ErrTooLong = errors.New("pppoe: value too long")
)

// EtherType values of RFC 2516 section 3 (and the 802.1Q/802.1ad tag
// protocol identifiers the framing helpers understand).
type EtherType uint16

// Ethernet types used on a PPPoE access network.
const (
	EtherTypeDiscovery EtherType = 0x8863 // RFC 2516 section 3, Discovery stage
	EtherTypeSession   EtherType = 0x8864 // RFC 2516 section 3, PPP Session stage
	EtherTypeVLAN      EtherType = 0x8100 // IEEE 802.1Q customer tag
	EtherTypeQinQ      EtherType = 0x88a8 // IEEE 802.1ad service tag
)

func (e EtherType) String() string {
	switch e {
	case EtherTypeDiscovery:
		return "PPPoE-Discovery"
	case EtherTypeSession:
		return "PPPoE-Session"
	case EtherTypeVLAN:
		return "802.1Q"
	case EtherTypeQinQ:
		return "802.1ad"
	}
	return fmt.Sprintf("EtherType(%#04x)", uint16(e))
}

// Code is the CODE field of the PPPoE header, RFC 2516 sections 5 and 6.
type Code uint8

// PPPoE codes, RFC 2516 sections 5.1-5.5 and 6.
const (
	CodeSession Code = 0x00 // PPP session stage, section 6
	CodePADO    Code = 0x07 // Active Discovery Offer, section 5.2
	CodePADI    Code = 0x09 // Active Discovery Initiation, section 5.1
	CodePADR    Code = 0x19 // Active Discovery Request, section 5.3
	CodePADS    Code = 0x65 // Active Discovery Session-confirmation, section 5.4
	CodePADT    Code = 0xa7 // Active Discovery Terminate, section 5.5
)

func (c Code) String() string {
	switch c {
	case CodeSession:
		return "Session"
	case CodePADO:
		return "PADO"
	case CodePADI:
		return "PADI"
	case CodePADR:
		return "PADR"
	case CodePADS:
		return "PADS"
	case CodePADT:
		return "PADT"
	}
	return fmt.Sprintf("Code(%#02x)", uint8(c))
}

// known reports whether c is a discovery code of RFC 2516 section 5.
func (c Code) discovery() bool {
	switch c {
	case CodePADO, CodePADI, CodePADR, CodePADS, CodePADT:
		return true
	}
	return false
}

// TagType is the TAG_TYPE of a discovery TAG, RFC 2516 appendix A.
type TagType uint16

// Tag types of RFC 2516 appendix A and RFC 4638 section 4.
const (
	TagEndOfList        TagType = 0x0000
	TagServiceName      TagType = 0x0101
	TagACName           TagType = 0x0102
	TagHostUniq         TagType = 0x0103
	TagACCookie         TagType = 0x0104
	TagVendorSpecific   TagType = 0x0105
	TagRelaySessionID   TagType = 0x0110
	TagPPPMaxPayload    TagType = 0x0120 // RFC 4638 section 4
	TagServiceNameError TagType = 0x0201
	TagACSystemError    TagType = 0x0202
	TagGenericError     TagType = 0x0203
)

func (t TagType) String() string {
	switch t {
	case TagEndOfList:
		return "End-Of-List"
	case TagServiceName:
		return "Service-Name"
	case TagACName:
		return "AC-Name"
	case TagHostUniq:
		return "Host-Uniq"
	case TagACCookie:
		return "AC-Cookie"
	case TagVendorSpecific:
		return "Vendor-Specific"
	case TagRelaySessionID:
		return "Relay-Session-Id"
	case TagPPPMaxPayload:
		return "PPP-Max-Payload"
	case TagServiceNameError:
		return "Service-Name-Error"
	case TagACSystemError:
		return "AC-System-Error"
	case TagGenericError:
		return "Generic-Error"
	}
	return fmt.Sprintf("TagType(%#04x)", uint16(t))
}

// Tag is one TLV of a discovery packet, RFC 2516 section 5. Tags of
// unknown type are kept as they are so that a round trip gives back the
// same bytes.
type Tag struct {
	Type  TagType
	Value []byte
}

// HeaderLen is the length of the PPPoE header, RFC 2516 section 4.
const HeaderLen = 6

// Packet is a PPPoE discovery packet (RFC 2516 section 5): the PPPoE
// header without the Ethernet framing, and its tags in wire order.
type Packet struct {
	Code      Code
	SessionID uint16
	Tags      []Tag
}

// Parse decodes a discovery packet that starts at the PPPoE header. Bytes
// after LENGTH (Ethernet padding) are ignored. Tag values alias b: copy
// what is kept after b is reused.
func Parse(b []byte) (Packet, error) {
	var p Packet
	err := p.Decode(b)
	return p, err
}

// Decode is Parse into an existing Packet, reusing p.Tags' storage so that
// the discovery path allocates nothing once warm. Tag values alias b.
func (p *Packet) Decode(b []byte) error {
	p.Tags = p.Tags[:0]
	payload, code, sid, err := parseHeader(b)
	if err != nil {
		return err
	}
	if !code.discovery() {
		return fmt.Errorf("pppoe: discovery code %v: %w", code, ErrMalformed)
	}
	p.Code, p.SessionID = code, sid
	for off := 0; off < len(payload); {
		// Every tag is TYPE(2) LENGTH(2) VALUE, section 5.
		if len(payload)-off < 4 {
			return fmt.Errorf("pppoe: tag header at offset %d: %w", off, ErrShort)
		}
		typ := TagType(binary.BigEndian.Uint16(payload[off:]))
		n := int(binary.BigEndian.Uint16(payload[off+2:]))
		off += 4
		if n > len(payload)-off {
			return fmt.Errorf("pppoe: tag %v length %d overruns payload: %w", typ, n, ErrMalformed)
		}
		if typ == TagEndOfList {
			// Appendix A: its length MUST be zero and nothing follows.
			if n != 0 {
				return fmt.Errorf("pppoe: End-Of-List with length %d: %w", n, ErrMalformed)
			}
			p.Tags = append(p.Tags, Tag{Type: TagEndOfList, Value: payload[off:off:off]})
			break
		}
		p.Tags = append(p.Tags, Tag{Type: typ, Value: payload[off : off+n : off+n]})
		off += n
	}
	return nil
}

// parseHeader checks the 6-octet PPPoE header of RFC 2516 section 4 and
// returns the payload bounded by LENGTH.
func parseHeader(b []byte) (payload []byte, code Code, sid uint16, err error) {
	if len(b) < HeaderLen {
		return nil, 0, 0, fmt.Errorf("pppoe: header of %d octets: %w", len(b), ErrShort)
	}
	// VER and TYPE MUST both be 1, section 4.
	if b[0] != 0x11 {
		return nil, 0, 0, fmt.Errorf("pppoe: version/type %#02x: %w", b[0], ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n > len(b)-HeaderLen {
		return nil, 0, 0, fmt.Errorf("pppoe: LENGTH %d past the %d octets received: %w", n, len(b)-HeaderLen, ErrShort)
	}
	return b[HeaderLen : HeaderLen+n], Code(b[1]), binary.BigEndian.Uint16(b[2:4]), nil
}

// Append encodes p after b, RFC 2516 section 5.
func (p Packet) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, 0x11, byte(p.Code), byte(p.SessionID>>8), byte(p.SessionID), 0, 0)
	for _, t := range p.Tags {
		if len(t.Value) > 0xffff {
			return b[:start], fmt.Errorf("pppoe: tag %v of %d octets: %w", t.Type, len(t.Value), ErrTooLong)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(t.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	n := len(b) - start - HeaderLen
	if n > 0xffff {
		return b[:start], fmt.Errorf("pppoe: payload of %d octets: %w", n, ErrTooLong)
	}
	binary.BigEndian.PutUint16(b[start+4:], uint16(n))
	return b, nil
}

// Tag returns the value of the first tag of type t.
func (p *Packet) Tag(t TagType) ([]byte, bool) {
	for i := range p.Tags {
		if p.Tags[i].Type == t {
			return p.Tags[i].Value, true
		}
	}
	return nil, false
}

// Count returns how many tags of type t the packet carries.
func (p *Packet) Count(t TagType) int {
	n := 0
	for i := range p.Tags {
		if p.Tags[i].Type == t {
			n++
		}
	}
	return n
}

// MaxPayload returns the value of the PPP-Max-Payload tag of RFC 4638
// section 4 (two octets, the largest PPP payload the sender can take).
func (p *Packet) MaxPayload() (int, bool) {
	v, ok := p.Tag(TagPPPMaxPayload)
	if !ok || len(v) != 2 {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(v)), true
}

// ParseSession decodes a session-stage frame (RFC 2516 section 6) that
// starts at the PPPoE header, in place: payload aliases b and nothing is
// allocated. Bytes after LENGTH (Ethernet padding) are dropped.
func ParseSession(b []byte) (sessionID uint16, payload []byte, err error) {
	payload, code, sid, err := parseHeader(b)
	if err != nil {
		return 0, nil, err
	}
	// The CODE MUST be 0x00 in the session stage, section 6.
	if code != CodeSession {
		return 0, nil, fmt.Errorf("pppoe: session frame with code %v: %w", code, ErrMalformed)
	}
	return sid, payload, nil
}

// AppendSession appends a session-stage PPPoE header and payload (a PPP
// frame that starts with its Protocol field), RFC 2516 section 6.
func AppendSession(b []byte, sessionID uint16, payload []byte) ([]byte, error) {
	if len(payload) > 0xffff-HeaderLen {
		return b, fmt.Errorf("pppoe: session payload of %d octets: %w", len(payload), ErrTooLong)
	}
	b = append(b, 0x11, byte(CodeSession), byte(sessionID>>8), byte(sessionID), byte(len(payload)>>8), byte(len(payload)))
	return append(b, payload...), nil
}
