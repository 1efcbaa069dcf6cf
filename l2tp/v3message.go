package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// This file holds the L2TPv3 control messages of RFC 3931: the message
// types of section 3.1, the AVPs each must and may carry (section 6), and
// the codec of whole control messages over UDP and IP. The Message type and
// the AVP framing are those of L2TPv2; what differs is the header, the set
// of recognised AVPs, the hiding key and the table.

// MsgACK is the Explicit Acknowledgement of RFC 3931 section 6.15, the one
// message type L2TPv3 adds (section 3.1): it only acknowledges, and
// replaces the ZLB when messages are authenticated.
const MsgACK MsgType = 20

// KnownV3 reports whether t is a message type of RFC 3931 section 3.1:
// those of RFC 2661 and ACK.
func (t MsgType) KnownV3() bool {
	return t.Known() || t == MsgACK
}

// v3MsgRules is the table of RFC 3931 section 6 (sections 6.1 to 6.15), the
// one place that says which AVPs each L2TPv3 control message has. Random
// Vector and Message Digest may appear in every message and are not listed;
// the Message Type is not either. Session scope is that of RFC 2661
// (MsgType.SessionScoped): section 5.2 answers errors in ICRQ, ICRP, ICCN,
// OCRQ, OCRP, OCCN, CDN, WEN and SLI with a CDN, the rest with a StopCCN.
var v3MsgRules = [...]msgRule{
	MsgSCCRQ: { // 6.1
		required: []AVPType{AVPHostName, AVPRouterID, AVPAssignedConnID, AVPPWCapabilities},
		optional: []AVPType{AVPNonce, AVPControlConnectionTieBreaker, AVPVendorName, AVPReceiveWindowSize, AVPPreferredLanguage},
	},
	MsgSCCRP: { // 6.2
		required: []AVPType{AVPHostName, AVPRouterID, AVPAssignedConnID, AVPPWCapabilities},
		optional: []AVPType{AVPNonce, AVPVendorName, AVPReceiveWindowSize, AVPPreferredLanguage},
	},
	MsgSCCCN: {}, // 6.3
	MsgStopCCN: { // 6.4; Assigned Control Connection ID once an SCCRQ or SCCRP was sent
		required: []AVPType{AVPResultCode},
		optional: []AVPType{AVPAssignedConnID},
	},
	MsgHELLO: {}, // 6.5
	MsgICRQ: { // 6.6
		session: true,
		required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPSerialNumber, AVPPWType,
			AVPRemoteEndID, AVPCircuitStatus},
		optional: []AVPType{AVPAssignedCookie, AVPSessionTieBreaker, AVPL2SpecificSublayer,
			AVPDataSequencing, AVPTxConnectSpeedV3, AVPRxConnectSpeedV3, AVPPhysicalChannelID},
	},
	MsgICRP: { // 6.7
		session:  true,
		required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPCircuitStatus},
		optional: []AVPType{AVPAssignedCookie, AVPL2SpecificSublayer, AVPDataSequencing,
			AVPTxConnectSpeedV3, AVPRxConnectSpeedV3, AVPPhysicalChannelID},
	},
	MsgICCN: { // 6.8
		session:  true,
		required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID},
		optional: []AVPType{AVPL2SpecificSublayer, AVPDataSequencing, AVPTxConnectSpeedV3,
			AVPRxConnectSpeedV3, AVPCircuitStatus},
	},
	MsgOCRQ: { // 6.9
		session: true,
		required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPSerialNumber, AVPPWType,
			AVPRemoteEndID, AVPCircuitStatus},
		optional: []AVPType{AVPAssignedCookie, AVPTxConnectSpeedV3, AVPRxConnectSpeedV3,
			AVPSessionTieBreaker, AVPL2SpecificSublayer, AVPDataSequencing},
	},
	MsgOCRP: { // 6.10
		session:  true,
		required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPCircuitStatus},
		optional: []AVPType{AVPAssignedCookie, AVPL2SpecificSublayer, AVPTxConnectSpeedV3,
			AVPRxConnectSpeedV3, AVPDataSequencing, AVPPhysicalChannelID},
	},
	MsgOCCN: { // 6.11
		session:  true,
		required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID},
		optional: []AVPType{AVPL2SpecificSublayer, AVPTxConnectSpeedV3, AVPRxConnectSpeedV3,
			AVPDataSequencing, AVPCircuitStatus},
	},
	MsgCDN: { // 6.12
		session:  true,
		required: []AVPType{AVPResultCode, AVPLocalSessionID, AVPRemoteSessionID},
	},
	MsgWEN: { // 6.13
		session:  true,
		required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPCircuitErrors},
	},
	MsgSLI: { // 6.14
		session:  true,
		required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID},
		optional: []AVPType{AVPCircuitStatus},
	},
	MsgACK: {}, // 6.15
}

// RequiredAVPsV3 returns the AVPs RFC 3931 section 6 says an L2TPv3 message
// of type t MUST carry besides Message Type. The slice must not be modified.
func (t MsgType) RequiredAVPsV3() []AVPType {
	if !t.KnownV3() {
		return nil
	}
	return v3MsgRules[t].required
}

// AllowsV3 reports whether RFC 3931 section 6 lists AVP a (required or
// optional) for an L2TPv3 message of type t; Random Vector and Message
// Digest are allowed everywhere.
func (t MsgType) AllowsV3(a AVPType) bool {
	if !t.KnownV3() {
		return false
	}
	if a == AVPRandomVector || a == AVPMessageDigest {
		return true
	}
	return v3MsgRules[t].lists(a)
}

// ParseV3Message decodes the AVPs of an L2TPv3 control message (the payload
// after its header), RFC 3931 sections 5.1 and 5.4.1. The first AVP must be
// a clear Message Type, consumed into m.Type. Hidden AVPs are revealed with
// the shared key derived from secret and the most recent Random Vector
// (section 5.3). Vendor and unknown AVPs are kept in m.AVPs in wire order;
// so is the Message Digest AVP (check it with VerifyMessage first).
//
// A message type section 3.1 does not define, or a vendor-specific one,
// yields *UnknownMessageError. An unrecognised AVP with the M bit set yields
// *UnknownMandatoryAVPError once the whole message is decoded (section 5.2:
// the session or control connection is shut down with result 2, error 8).
// Structural problems wrap ErrShort or ErrMalformed; hidden AVPs that cannot
// be revealed wrap ErrNoSecret or ErrNoRandomVector. Call ValidateV3 for
// the table of section 6.
func ParseV3Message(b []byte, secret []byte) (Message, error) {
	m, vendor, w, n, err := parseMessageType(b, true)
	if err != nil {
		return m, err
	}
	if vendor != 0 || !m.Type.KnownV3() {
		return m, &UnknownMessageError{Type: m.Type, Mandatory: w&avpFlagM != 0, VendorID: vendor}
	}
	return m.parseBody(b[n:], avpParser{secret: secret, v3: true})
}

// AppendV3 appends the Message Type AVP of m (M=1, section 5.4.1) and then
// m.AVPs, hiding those with Hidden set with the shared key derived from
// o.Secret (section 5.3). When no Random Vector precedes the first hidden
// AVP, one is made from o.Rand and inserted before it; put the Message
// Digest placeholder first in m.AVPs so that it stays in second place.
func (m Message) AppendV3(b []byte, o AppendOptions) ([]byte, error) {
	b = appendAVPHeader(b, AVP{Mandatory: true, Type: AVPMessageType}, 2)
	b = binary.BigEndian.AppendUint16(b, uint16(m.Type))
	b, err := appendAVPs(b, m.AVPs, o, true)
	if err != nil {
		return b, fmt.Errorf("%s: %w", m.Type, err)
	}
	return b, nil
}

// ControlOffset is where the L2TPv3 control header starts in a packet of
// encapsulation e: after the 32-bit zero Session ID over IP (section
// 4.1.1.2), at once over UDP. Message digests (SignMessage, VerifyMessage)
// cover the packet from there.
func (e Encap) ControlOffset() int {
	if e == EncapIP {
		return v3IPSessionIDLen
	}
	return 0
}

// ParseV3Control decodes a whole L2TPv3 control packet of encapsulation e:
// the header (ParseV3ControlHeader, after the zero Session ID over IP) and
// its message (ParseV3Message). A ZLB, a header with no AVPs, returns m ==
// nil. With an *UnknownMandatoryAVPError or *UnknownMessageError the header
// and the partly decoded message are returned too.
func ParseV3Control(b []byte, e Encap, secret []byte) (h V3ControlHeader, m *Message, err error) {
	var payload []byte
	if e == EncapIP {
		h, payload, err = ParseV3ControlHeaderIP(b)
	} else {
		h, payload, err = ParseV3ControlHeader(b)
	}
	if err != nil {
		return V3ControlHeader{}, nil, err
	}
	if len(payload) == 0 {
		return h, nil, nil
	}
	msg, err := ParseV3Message(payload, secret)
	switch err.(type) {
	case nil, *UnknownMandatoryAVPError, *UnknownMessageError:
		return h, &msg, err
	}
	return h, nil, err
}

// AppendV3Control appends a whole L2TPv3 control packet of encapsulation e:
// the header h (Length computed) and m, or a ZLB when m is nil (section
// 6.15). Over IP the zero Session ID goes first. Hidden AVPs are hidden as
// in AppendV3; sign the result with SignMessage(b[start+e.ControlOffset():],
// ...) when m carries a Message Digest.
func AppendV3Control(b []byte, e Encap, h V3ControlHeader, m *Message, o AppendOptions) ([]byte, error) {
	start := len(b)
	if e == EncapIP {
		b = binary.BigEndian.AppendUint32(b, 0)
	}
	hdr := len(b)
	b = growBytes(b, V3ControlHeaderLen)
	if m != nil {
		var err error
		if b, err = m.AppendV3(b, o); err != nil {
			return b[:start], err
		}
	}
	total := len(b) - hdr
	if total > 0xffff {
		return b[:start], errTooLong
	}
	h.Length = uint16(total)
	putV3Control(b[hdr:hdr+V3ControlHeaderLen], h)
	return b, nil
}

// ValidateV3 checks m against the table of RFC 3931 section 6 and the value
// formats of section 5.4, and handles malformed AVPs as section 7.1 says: a
// recognised IETF AVP with a wrong size or an out-of-range value is fatal
// when its M bit is set (*MalformedAVPError) and is removed from m.AVPs
// when it is not (CheckV3 returns what was removed). Then every AVP the
// message type requires must be present (*MissingAVPError). The errors'
// Result methods give the Result Code for the CDN or StopCCN that follows.
func (m *Message) ValidateV3() error {
	_, err := m.CheckV3()
	return err
}

// CheckV3 is ValidateV3 that also returns the malformed non-mandatory AVPs
// it removed from m.AVPs ("accepted as though the AVP were not present",
// section 7.1).
func (m *Message) CheckV3() (dropped []AVP, err error) {
	if !m.Type.KnownV3() {
		return nil, &UnknownMessageError{Type: m.Type, Mandatory: true}
	}
	// A PPP pseudowire's proxy authentication is checked as in RFC 2661.
	return m.check(AVPType.KnownV3, checkValueV3, v3MsgRules[m.Type].required)
}

// checkValueV3 checks the clear value of a recognised IETF AVP of an
// L2TPv3 message against section 5.4, and says which general error code of
// section 5.4.2 fits.
func checkValueV3(a AVP) (ErrorCode, error) {
	r := v3AVPRules[a.Type]
	if n := len(a.Value); n < r.min || n > r.max {
		if r.min == r.max {
			return ErrorLength, fmt.Errorf("%w: %s AVP of %d octets, want %d", ErrMalformed, a.Type, n, r.min)
		}
		return ErrorLength, fmt.Errorf("%w: %s AVP of %d octets, want %d to %d", ErrMalformed, a.Type, n, r.min, r.max)
	}
	var err error
	code := ErrorLength
	switch a.Type {
	case AVPResultCode:
		_, err = ParseResultCode(a.Value)
	case AVPMessageDigest:
		if DigestType(a.Value[0]).Size() == 0 {
			code = ErrorValueOutOfRange // size checked above
		}
		_, err = ParseMessageDigest(a.Value)
	case AVPPWCapabilities:
		_, err = ParsePWCapabilities(a.Value)
	case AVPAssignedCookie:
		_, err = ParseCookie(a.Value)
	case AVPCircuitErrors:
		_, err = ParseCircuitErrors(a.Value)
	case AVPAssignedConnID, AVPLocalSessionID:
		code = ErrorValueOutOfRange
		if binary.BigEndian.Uint32(a.Value) == 0 {
			err = fmt.Errorf("%w: %s is 0", ErrMalformed, a.Type) // 5.4.3, 5.4.4: non-zero
		}
	case AVPAssignedTunnelID, AVPAssignedSessionID, AVPProxyAuthenID:
		return checkValue(a) // RFC 2661 AVPs of a PPP pseudowire
	}
	if err != nil && !errors.Is(err, ErrMalformed) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return code, err
}

// ParseV3AVPs decodes a list of AVPs of an L2TPv3 message (RFC 3931
// section 5.1), revealing hidden ones with the shared key derived from
// secret (section 5.3). Like ParseAVPs it does not judge M bits, and the
// values are copies.
func ParseV3AVPs(b []byte, secret []byte) ([]AVP, error) {
	avps, _, err := parseAVPList(b, avpParser{secret: secret, v3: true}, 0)
	return avps, err
}

// AppendV3AVPs appends avps in order as AppendAVPs does, with the hiding
// rules and the derived key of RFC 3931 section 5.3.
func AppendV3AVPs(b []byte, avps []AVP, o AppendOptions) ([]byte, error) {
	return appendAVPs(b, avps, o, true)
}
