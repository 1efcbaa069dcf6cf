package ppp

import (
	"fmt"
)

// PAPCode is the Code field of a PAP packet, RFC 1334 section 2.2.
type PAPCode uint8

// PAP codes.
const (
	PAPRequest PAPCode = 1 // Authenticate-Request
	PAPAck     PAPCode = 2 // Authenticate-Ack
	PAPNak     PAPCode = 3 // Authenticate-Nak
)

func (c PAPCode) String() string {
	switch c {
	case PAPRequest:
		return "Authenticate-Request"
	case PAPAck:
		return "Authenticate-Ack"
	case PAPNak:
		return "Authenticate-Nak"
	}
	return fmt.Sprintf("PAPCode(%d)", uint8(c))
}

// PAPPacket is a PAP packet, RFC 1334 section 2.2. An Authenticate-Request
// carries PeerID and Password (section 2.2.1); an Ack or Nak carries Message
// (section 2.2.2).
type PAPPacket struct {
	Code     PAPCode
	ID       uint8
	PeerID   []byte
	Password []byte
	Message  []byte
}

// ParsePAP decodes a PAP packet (the information field of a 0xc023 frame).
// Byte slices alias b.
func ParsePAP(b []byte) (PAPPacket, error) {
	p, err := ParsePacket(b)
	if err != nil {
		return PAPPacket{}, fmt.Errorf("ppp: pap: %w", err)
	}
	out := PAPPacket{Code: PAPCode(p.Code), ID: p.ID}
	d := p.Data
	switch out.Code {
	case PAPRequest:
		if len(d) < 1 {
			return PAPPacket{}, fmt.Errorf("ppp: pap: peer-id length: %w", ErrShort)
		}
		n := int(d[0])
		if 1+n+1 > len(d) {
			return PAPPacket{}, fmt.Errorf("ppp: pap: peer-id of %d octets: %w", n, ErrShort)
		}
		out.PeerID = d[1 : 1+n]
		d = d[1+n:]
		n = int(d[0])
		if 1+n > len(d) {
			return PAPPacket{}, fmt.Errorf("ppp: pap: password of %d octets: %w", n, ErrShort)
		}
		out.Password = d[1 : 1+n]
	case PAPAck, PAPNak:
		// Some peers omit Msg-Length entirely; treat that as an empty message.
		if len(d) == 0 {
			return out, nil
		}
		n := int(d[0])
		if 1+n > len(d) {
			return PAPPacket{}, fmt.Errorf("ppp: pap: message of %d octets: %w", n, ErrShort)
		}
		out.Message = d[1 : 1+n]
	default:
		return PAPPacket{}, fmt.Errorf("ppp: pap: %v: %w", out.Code, ErrMalformed)
	}
	return out, nil
}

// Append appends the encoded PAP packet to b.
func (p PAPPacket) Append(b []byte) ([]byte, error) {
	var data []byte
	switch p.Code {
	case PAPRequest:
		if len(p.PeerID) > 255 || len(p.Password) > 255 {
			return b, fmt.Errorf("ppp: pap: peer-id or password longer than 255 octets: %w", ErrMalformed)
		}
		data = make([]byte, 0, 2+len(p.PeerID)+len(p.Password))
		data = append(data, byte(len(p.PeerID)))
		data = append(data, p.PeerID...)
		data = append(data, byte(len(p.Password)))
		data = append(data, p.Password...)
	case PAPAck, PAPNak:
		if len(p.Message) > 255 {
			return b, fmt.Errorf("ppp: pap: message longer than 255 octets: %w", ErrMalformed)
		}
		data = make([]byte, 0, 1+len(p.Message))
		data = append(data, byte(len(p.Message)))
		data = append(data, p.Message...)
	default:
		return b, fmt.Errorf("ppp: pap: %v: %w", p.Code, ErrMalformed)
	}
	return Packet{Code: Code(p.Code), ID: p.ID, Data: data}.Append(b)
}

// CHAPCode is the Code field of a CHAP packet, RFC 1994 section 4.
type CHAPCode uint8

// CHAP codes.
const (
	CHAPChallenge CHAPCode = 1
	CHAPResponse  CHAPCode = 2
	CHAPSuccess   CHAPCode = 3
	CHAPFailure   CHAPCode = 4
)

func (c CHAPCode) String() string {
	switch c {
	case CHAPChallenge:
		return "Challenge"
	case CHAPResponse:
		return "Response"
	case CHAPSuccess:
		return "Success"
	case CHAPFailure:
		return "Failure"
	}
	return fmt.Sprintf("CHAPCode(%d)", uint8(c))
}

// CHAPMD5 is the Algorithm octet of the Authentication-Protocol option for
// CHAP with MD5, RFC 1994 section 3.
const CHAPMD5 = 5

// CHAPPacket is a CHAP packet, RFC 1994 section 4. A Challenge or Response
// carries Value and Name (section 4.1); Success and Failure carry Message
// (section 4.2).
type CHAPPacket struct {
	Code    CHAPCode
	ID      uint8
	Value   []byte
	Name    []byte
	Message []byte
}

// ParseCHAP decodes a CHAP packet (the information field of a 0xc223 frame).
// Byte slices alias b.
func ParseCHAP(b []byte) (CHAPPacket, error) {
	p, err := ParsePacket(b)
	if err != nil {
		return CHAPPacket{}, fmt.Errorf("ppp: chap: %w", err)
	}
	out := CHAPPacket{Code: CHAPCode(p.Code), ID: p.ID}
	d := p.Data
	switch out.Code {
	case CHAPChallenge, CHAPResponse:
		if len(d) < 1 {
			return CHAPPacket{}, fmt.Errorf("ppp: chap: value-size: %w", ErrShort)
		}
		n := int(d[0])
		if n == 0 {
			// RFC 1994 section 4.1: the Value is one or more octets.
			return CHAPPacket{}, fmt.Errorf("ppp: chap: empty value: %w", ErrMalformed)
		}
		if 1+n > len(d) {
			return CHAPPacket{}, fmt.Errorf("ppp: chap: value of %d octets: %w", n, ErrShort)
		}
		out.Value = d[1 : 1+n]
		out.Name = d[1+n:]
	case CHAPSuccess, CHAPFailure:
		out.Message = d
	default:
		return CHAPPacket{}, fmt.Errorf("ppp: chap: %v: %w", out.Code, ErrMalformed)
	}
	return out, nil
}

// Append appends the encoded CHAP packet to b.
func (p CHAPPacket) Append(b []byte) ([]byte, error) {
	var data []byte
	switch p.Code {
	case CHAPChallenge, CHAPResponse:
		if len(p.Value) == 0 || len(p.Value) > 255 {
			return b, fmt.Errorf("ppp: chap: value of %d octets: %w", len(p.Value), ErrMalformed)
		}
		data = make([]byte, 0, 1+len(p.Value)+len(p.Name))
		data = append(data, byte(len(p.Value)))
		data = append(data, p.Value...)
		data = append(data, p.Name...)
	case CHAPSuccess, CHAPFailure:
		data = p.Message
	default:
		return b, fmt.Errorf("ppp: chap: %v: %w", p.Code, ErrMalformed)
	}
	return Packet{Code: Code(p.Code), ID: p.ID, Data: data}.Append(b)
}
