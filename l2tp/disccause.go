package l2tp

import (
	"encoding/binary"
	"fmt"
)

// AVPPPPDisconnectCause is the PPP Disconnect Cause Code AVP of RFC 3145
// section 2: in a CDN only, never mandatory.
const AVPPPPDisconnectCause AVPType = 46

// vendor3Com is the Vendor ID of the draft form of the AVP (3Com, type 46),
// which RFC 3145 section 4 says a receiver MAY accept as the same.
const vendor3Com = 43

// DisconnectDirection is the Direction field of RFC 3145 section 2.
type DisconnectDirection uint8

// Directions of RFC 3145 section 2: where the Disconnect Code applies,
// seen from the sender of the CDN.
const (
	DirectionGlobal DisconnectDirection = 0 // global error
	DirectionPeer   DisconnectDirection = 1 // at the sender's PPP peer
	DirectionLocal  DisconnectDirection = 2 // at the sender
)

func (d DisconnectDirection) String() string {
	switch d {
	case DirectionGlobal:
		return "global"
	case DirectionPeer:
		return "peer"
	case DirectionLocal:
		return "local"
	}
	return fmt.Sprintf("DisconnectDirection(%d)", uint8(d))
}

// PPPDisconnectCode is the Disconnect Code of RFC 3145 section 3.
type PPPDisconnectCode uint16

// Disconnect Codes of RFC 3145 section 3.
const (
	DiscNoInformation       PPPDisconnectCode = 0  // 3.1
	DiscAdministrative      PPPDisconnectCode = 1  // 3.1
	DiscNoProxyLCP          PPPDisconnectCode = 2  // 3.1: LNS wants proxy LCP, the LAC sent none
	DiscNormal              PPPDisconnectCode = 3  // 3.1: LCP Terminate-Request sent
	DiscEncryptionRefused   PPPDisconnectCode = 4  // 3.1
	DiscLCPTimeout          PPPDisconnectCode = 5  // 3.2: FSM timeout (TO-)
	DiscNoLCP               PPPDisconnectCode = 6  // 3.2: no recognizable LCP packets
	DiscLoopback            PPPDisconnectCode = 7  // 3.2: Magic-Number error
	DiscEchoTimeout         PPPDisconnectCode = 8  // 3.2: Echo-Request timeout
	DiscMPEndpoint          PPPDisconnectCode = 9  // 3.2
	DiscMPMRRU              PPPDisconnectCode = 10 // 3.2
	DiscMPShortSeq          PPPDisconnectCode = 11 // 3.2
	DiscCallbackRefused     PPPDisconnectCode = 12 // 3.2
	DiscAuthTimeout         PPPDisconnectCode = 13 // 3.3
	DiscMPAuthName          PPPDisconnectCode = 14 // 3.3
	DiscAuthUnacceptable    PPPDisconnectCode = 15 // 3.3
	DiscAuthFailed          PPPDisconnectCode = 16 // 3.3
	DiscNCPTimeout          PPPDisconnectCode = 17 // 3.4
	DiscNoNCP               PPPDisconnectCode = 18 // 3.4
	DiscNCPAddresses        PPPDisconnectCode = 19 // 3.4: no acceptable addresses
	DiscNCPAddressForbidden PPPDisconnectCode = 20 // 3.4: user not permitted any address
)

// PPPDisconnectCause is the value of the PPP Disconnect Cause Code AVP,
// RFC 3145 section 2: why PPP ended, the PPP protocol concerned (0 for a
// global error), the direction and an optional UTF-8 message.
type PPPDisconnectCause struct {
	Code      PPPDisconnectCode
	Protocol  uint16 // the PPP Control Protocol number, e.g. 0xc021 for LCP
	Direction DisconnectDirection
	Message   string
}

// ParsePPPDisconnectCause decodes the value of the AVP: at least 5 octets
// (the AVP's length "MUST be at least 11", six of them its header).
func ParsePPPDisconnectCause(b []byte) (PPPDisconnectCause, error) {
	if len(b) < 5 {
		return PPPDisconnectCause{}, fmt.Errorf("%w: PPP Disconnect Cause Code value of %d octets, want at least 5", ErrShort, len(b))
	}
	return PPPDisconnectCause{
		Code:      PPPDisconnectCode(binary.BigEndian.Uint16(b[0:2])),
		Protocol:  binary.BigEndian.Uint16(b[2:4]),
		Direction: DisconnectDirection(b[4]),
		Message:   string(b[5:]),
	}, nil
}

// Append appends the value of the AVP.
func (d PPPDisconnectCause) Append(b []byte) ([]byte, error) {
	if 5+len(d.Message) > maxAVPValue {
		return b, fmt.Errorf("%w: PPP Disconnect Cause message of %d octets", ErrMalformed, len(d.Message))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(d.Code))
	b = binary.BigEndian.AppendUint16(b, d.Protocol)
	b = append(b, byte(d.Direction))
	return append(b, d.Message...), nil
}

// AVP returns d as a PPP Disconnect Cause Code AVP, M bit clear (RFC 3145
// section 2: it MUST NOT be mandatory); a too long message is cut.
func (d PPPDisconnectCause) AVP() AVP {
	if 5+len(d.Message) > maxAVPValue {
		d.Message = d.Message[:maxAVPValue-5]
	}
	v, _ := d.Append(nil)
	return AVP{Type: AVPPPPDisconnectCause, Value: v}
}

// FindPPPDisconnectCause returns the PPP Disconnect Cause Code of m (a
// CDN), in its IETF form or the draft 3Com one; ok is false when m has none
// or only a malformed one.
func FindPPPDisconnectCause(m *Message) (d PPPDisconnectCause, ok bool) {
	if m == nil {
		return d, false
	}
	for _, a := range m.AVPs {
		if a.Type != AVPPPPDisconnectCause || (a.VendorID != 0 && a.VendorID != vendor3Com) || a.Hidden {
			continue
		}
		if d, err := ParsePPPDisconnectCause(a.Value); err == nil {
			return d, true
		}
	}
	return d, false
}

// CDN is the Call-Disconnect-Notify received from the peer, nil when the
// call ended otherwise. Read it from Handler.SessionDown (or after it):
// it is not modified afterwards.
func (s *Session) CDN() *Message { return s.cdn }

// DisconnectWithCause is Disconnect with a PPP Disconnect Cause Code AVP
// in the CDN, to tell the peer why PPP ended (RFC 3145 section 4).
func (s *Session) DisconnectWithCause(rc ResultCode, d PPPDisconnectCause) {
	s.t.do(func() {
		if s.gone {
			return
		}
		s.discCause = &d
		s.t.callEvent(s, CallClose, nil, rc)
	})
}

// cdnExtra is what our CDN for s carries besides its Result Code and
// Assigned Session ID.
func (s *Session) cdnExtra() []AVP {
	if s.discCause == nil {
		return nil
	}
	return []AVP{s.discCause.AVP()}
}
