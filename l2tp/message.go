package l2tp

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// msgRule is one row of RFC 2661 section 6: the AVPs a message MUST carry,
// those it MAY carry, and whether it concerns one session or the tunnel.
type msgRule struct {
	session  bool
	required []AVPType
	optional []AVPType
}

// msgRules is the table of RFC 2661 section 6 (sections 6.1 to 6.14), the
// one place that says which AVPs each control message has. Random Vector may
// appear in any message (section 4.4.1) and is not listed.
var msgRules = [...]msgRule{
	MsgSCCRQ: { // 6.1
		required: []AVPType{AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID},
		optional: []AVPType{AVPBearerCapabilities, AVPReceiveWindowSize, AVPChallenge, AVPTieBreaker, AVPFirmwareRevision, AVPVendorName},
	},
	MsgSCCRP: { // 6.2
		required: []AVPType{AVPProtocolVersion, AVPFramingCapabilities, AVPHostName, AVPAssignedTunnelID},
		optional: []AVPType{AVPBearerCapabilities, AVPFirmwareRevision, AVPVendorName, AVPReceiveWindowSize, AVPChallenge, AVPChallengeResponse},
	},
	MsgSCCCN: { // 6.3
		optional: []AVPType{AVPChallengeResponse},
	},
	MsgStopCCN: { // 6.4
		required: []AVPType{AVPAssignedTunnelID, AVPResultCode},
	},
	MsgHELLO: {}, // 6.5
	MsgICRQ: { // 6.6
		session:  true,
		required: []AVPType{AVPAssignedSessionID, AVPCallSerialNumber},
		optional: []AVPType{AVPBearerType, AVPPhysicalChannelID, AVPCallingNumber, AVPCalledNumber, AVPSubAddress},
	},
	MsgICRP: { // 6.7
		session:  true,
		required: []AVPType{AVPAssignedSessionID},
	},
	MsgICCN: { // 6.8
		session:  true,
		required: []AVPType{AVPTxConnectSpeed, AVPFramingType},
		optional: []AVPType{AVPInitialRecvLCPConfReq, AVPLastSentLCPConfReq, AVPLastRecvLCPConfReq,
			AVPProxyAuthenType, AVPProxyAuthenName, AVPProxyAuthenChallenge, AVPProxyAuthenID,
			AVPProxyAuthenResponse, AVPPrivateGroupID, AVPRxConnectSpeed, AVPSequencingRequired},
	},
	MsgOCRQ: { // 6.9
		session: true,
		required: []AVPType{AVPAssignedSessionID, AVPCallSerialNumber, AVPMinimumBPS, AVPMaximumBPS,
			AVPBearerType, AVPFramingType, AVPCalledNumber},
		optional: []AVPType{AVPSubAddress},
	},
	MsgOCRP: { // 6.10
		session:  true,
		required: []AVPType{AVPAssignedSessionID},
		optional: []AVPType{AVPPhysicalChannelID},
	},
	MsgOCCN: { // 6.11
		session:  true,
		required: []AVPType{AVPTxConnectSpeed, AVPFramingType},
		optional: []AVPType{AVPRxConnectSpeed, AVPSequencingRequired},
	},
	MsgCDN: { // 6.12
		session:  true,
		required: []AVPType{AVPResultCode, AVPAssignedSessionID},
		optional: []AVPType{AVPQ931Cause},
	},
	MsgWEN: { // 6.13
		session:  true,
		required: []AVPType{AVPCallErrors},
	},
	MsgSLI: { // 6.14
		session:  true,
		required: []AVPType{AVPACCM},
	},
}

// SessionScoped reports whether a message of type t concerns one session
// (ICRQ, ICRP, ICCN, OCRQ, OCRP, OCCN, CDN, WEN, SLI) rather than the whole
// tunnel. Errors in a session-scoped message are answered with a CDN, the
// others with a StopCCN (RFC 2661 section 4.1). Unknown types are tunnel
// scoped (section 4.4.1).
func (t MsgType) SessionScoped() bool {
	return t.Known() && msgRules[t].session
}

// RequiredAVPs returns the AVPs RFC 2661 section 6 says a message of type t
// MUST carry besides Message Type. The slice must not be modified.
func (t MsgType) RequiredAVPs() []AVPType {
	if !t.Known() {
		return nil
	}
	return msgRules[t].required
}

// Allows reports whether RFC 2661 section 6 lists AVP a (required or
// optional) for a message of type t; Random Vector is allowed everywhere.
func (t MsgType) Allows(a AVPType) bool {
	if !t.Known() {
		return false
	}
	if a == AVPRandomVector {
		return true
	}
	return msgRules[t].lists(a)
}

// lists reports whether the rule names a, required or optional.
func (r msgRule) lists(a AVPType) bool {
	return slices.Contains(r.required, a) || slices.Contains(r.optional, a)
}

// ParseMessage decodes the AVPs of a control message (the payload after
// its header), RFC 2661 sections 4.1 and 4.4.1. The first AVP must be a
// clear Message Type, consumed into m.Type. Hidden AVPs are revealed with
// secret and the most recent Random Vector (section 4.3). Vendor AVPs and
// unknown AVPs are kept in m.AVPs in wire order.
//
// A message type RFC 2661 does not define yields *UnknownMessageError. An
// unrecognised AVP with the M bit set yields *UnknownMandatoryAVPError
// after the whole message was decoded, so m is complete and the caller can
// tear down the right session or tunnel. Structural problems wrap ErrShort
// or ErrMalformed; hidden AVPs that cannot be revealed wrap ErrNoSecret or
// ErrNoRandomVector. ParseMessage does not check the section 6 table; call
// Validate for that.
func ParseMessage(b []byte, secret []byte) (Message, error) {
	m, vendor, w, n, err := parseMessageType(b, false)
	if err != nil {
		return m, err
	}
	if !m.Type.Known() {
		return m, &UnknownMessageError{Type: m.Type, Mandatory: w&avpFlagM != 0, VendorID: vendor}
	}
	return m.parseBody(b[n:], avpParser{secret: secret})
}

// parseMessageType reads the Message Type AVP every control message
// opens with (RFC 2661 section 4.4.1, RFC 3931 section 5.4.1): m with its
// type, the AVP's vendor, flags word and length. An L2TPv2 message must
// carry the IETF one; L2TPv3 allows vendor-specific message types
// (vendorTypes), which the caller refuses as unknown.
func parseMessageType(b []byte, vendorTypes bool) (m Message, vendor, w uint16, n int, err error) {
	if len(b) < avpHeaderLen+2 {
		return Message{}, 0, 0, 0, fmt.Errorf("%w: %d octets, no Message Type AVP", ErrShort, len(b))
	}
	w = binary.BigEndian.Uint16(b[0:2])
	n = int(w & avpLenMask)
	vendor, typ := binary.BigEndian.Uint16(b[2:4]), AVPType(binary.BigEndian.Uint16(b[4:6]))
	if typ != AVPMessageType || vendor != 0 && !vendorTypes {
		return Message{}, 0, 0, 0, fmt.Errorf("%w: first AVP is vendor %d type %d, not Message Type", ErrMalformed, vendor, uint16(typ))
	}
	if n != avpHeaderLen+2 || w&(avpFlagH|avpReserved) != 0 {
		return Message{}, 0, 0, 0, fmt.Errorf("%w: Message Type AVP header %#04x", ErrMalformed, w)
	}
	return Message{Type: MsgType(binary.BigEndian.Uint16(b[6:8]))}, vendor, w, n, nil
}

// parseBody parses the AVPs after the Message Type into m.AVPs.
func (m Message) parseBody(b []byte, p avpParser) (Message, error) {
	avps, unknown, err := parseAVPList(b, p, m.Type)
	m.AVPs = avps
	if err != nil {
		return m, fmt.Errorf("%s: %w", m.Type, err)
	}
	if unknown != nil {
		return m, unknown
	}
	return m, nil
}

// Append appends the Message Type AVP of m (M=1, section 4.4.1) and then
// m.AVPs, hiding those with Hidden set with secret (section 4.3). When no
// Random Vector precedes the first hidden AVP, one is made from rnd (nil:
// crypto/rand) and inserted before it. See AppendOptions for padding.
func (m Message) Append(b []byte, secret []byte, rnd io.Reader) ([]byte, error) {
	return m.AppendOpts(b, AppendOptions{Secret: secret, Rand: rnd})
}

// AppendOpts is Append with all the options of hiding.
func (m Message) AppendOpts(b []byte, o AppendOptions) ([]byte, error) {
	b = appendAVPHeader(b, AVP{Mandatory: true, Type: AVPMessageType}, 2)
	b = binary.BigEndian.AppendUint16(b, uint16(m.Type))
	b, err := AppendAVPs(b, m.AVPs, o)
	if err != nil {
		return b, fmt.Errorf("%s: %w", m.Type, err)
	}
	return b, nil
}

// Validate checks m against RFC 2661 section 6 and the value formats of
// section 4.4, and handles malformed AVPs as section 7.1 says: a recognised
// IETF AVP whose value has the wrong size or an out-of-range value is fatal
// when its M bit is set (*MalformedAVPError, which wraps ErrMalformed and
// names the AVP) and is removed from m.AVPs when it is not (use Check to log
// what was removed). Then every AVP the message type requires must be
// present (*MissingAVPError), and the proxy authentication AVPs section 4.4.5
// requires for the Proxy Authen Type. AVPs the message type does not list
// are accepted (see MsgType.Allows). All three errors have a Result method
// giving the Result Code for the CDN or StopCCN that must follow.
func (m *Message) Validate() error {
	_, err := m.Check()
	return err
}

// Check is Validate that also returns the malformed non-mandatory AVPs it
// removed from m.AVPs (section 7.1: ignored, "with the exception of logging
// a local error message").
func (m *Message) Check() (dropped []AVP, err error) {
	if !m.Type.Known() {
		return nil, &UnknownMessageError{Type: m.Type, Mandatory: true}
	}
	return m.check(AVPType.Known, checkValue, msgRules[m.Type].required)
}

// check is Check and CheckV3 after the message type: each recognised IETF
// AVP's value is checked by value (a malformed mandatory one is fatal, a
// malformed other one removed), then the required AVPs and those the
// Proxy Authen Type requires must be there.
func (m *Message) check(known func(AVPType) bool, value func(AVP) (ErrorCode, error), required []AVPType) (dropped []AVP, err error) {
	kept := m.AVPs
	for i, a := range m.AVPs {
		code, err := ErrorNone, error(nil)
		if a.VendorID == 0 && known(a.Type) {
			code, err = value(a)
		}
		if err == nil {
			if dropped != nil {
				kept = append(kept, a)
			}
			continue
		}
		if a.Mandatory {
			return dropped, &MalformedAVPError{Msg: m.Type, AVP: a.Type, Code: code, Err: err}
		}
		if dropped == nil {
			// First removal: copy, so a slice shared with the caller
			// is not rewritten.
			kept = append([]AVP(nil), m.AVPs[:i]...)
		}
		dropped = append(dropped, a)
	}
	m.AVPs = kept
	for _, t := range required {
		if _, ok := m.Find(t); !ok {
			return dropped, &MissingAVPError{Msg: m.Type, AVP: t}
		}
	}
	if a, ok := m.Find(AVPProxyAuthenType); ok {
		typ, _ := ParseProxyAuthenType(a.Value) // size checked above
		for _, t := range typ.RequiredAVPs() {
			if _, ok := m.Find(t); !ok {
				return dropped, &MissingAVPError{Msg: m.Type, AVP: t}
			}
		}
	}
	return dropped, nil
}

// checkValue checks the clear value of a recognised IETF AVP against
// section 4.4, and says which general error code of section 4.4.2 fits.
func checkValue(a AVP) (ErrorCode, error) {
	r := avpRules[a.Type]
	if n := len(a.Value); n < r.min || n > r.max {
		if r.min == r.max {
			return ErrorLength, fmt.Errorf("%w: %s AVP of %d octets, want %d", ErrMalformed, a.Type, n, r.min)
		}
		return ErrorLength, fmt.Errorf("%w: %s AVP of %d octets, want %d to %d", ErrMalformed, a.Type, n, r.min, r.max)
	}
	var err error
	code := ErrorValueOutOfRange
	switch a.Type {
	case AVPResultCode:
		_, err = ParseResultCode(a.Value)
		code = ErrorLength // only its size can be wrong
	case AVPAssignedTunnelID, AVPAssignedSessionID:
		if binary.BigEndian.Uint16(a.Value) == 0 {
			err = fmt.Errorf("%w: %s is 0", ErrMalformed, a.Type) // 4.4.3, 4.4.4: non-zero
		}
	case AVPProxyAuthenID:
		_, err = ParseProxyAuthenID(a.Value)
	}
	if err != nil && !errors.Is(err, ErrMalformed) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return code, err
}

// ParseControl decodes a whole control packet: the header (ParseHeader) and
// its message (ParseMessage). A ZLB acknowledgement, a control header with
// no AVPs (RFC 2661 section 5.8), returns m == nil. With an
// *UnknownMandatoryAVPError or *UnknownMessageError the header and the
// partly decoded message are returned too. A data message is ErrMalformed.
func ParseControl(b []byte, secret []byte) (h Header, m *Message, err error) {
	h, payload, err := ParseHeader(b)
	if err != nil {
		return Header{}, nil, err
	}
	if !h.Control {
		return Header{}, nil, fmt.Errorf("%w: data message where a control message was expected", ErrMalformed)
	}
	if len(payload) == 0 {
		return h, nil, nil
	}
	msg, err := ParseMessage(payload, secret)
	switch err.(type) {
	case nil, *UnknownMandatoryAVPError, *UnknownMessageError:
		// ParseMessage returns these unwrapped, with the message.
		return h, &msg, err
	}
	return h, nil, err
}

// AppendControl appends a whole control packet: the header h (made a
// control header: T, L and S set, Length computed) followed by m, or a ZLB
// acknowledgement when m is nil (RFC 2661 section 5.8). Hidden AVPs are
// hidden with secret and rnd as in Message.Append.
func AppendControl(b []byte, h Header, m *Message, secret []byte, rnd io.Reader) ([]byte, error) {
	return AppendControlOpts(b, h, m, AppendOptions{Secret: secret, Rand: rnd})
}

// AppendControlOpts is AppendControl with all the options of hiding.
func AppendControlOpts(b []byte, h Header, m *Message, o AppendOptions) ([]byte, error) {
	h.Control = true
	if h.HasOffset || h.Priority {
		return b, errControlOP
	}
	h.HasLength, h.HasSeq = true, true
	start := len(b)
	b = growBytes(b, ControlHeaderLen)
	if m != nil {
		var err error
		if b, err = m.AppendOpts(b, o); err != nil {
			return b[:start], err
		}
	}
	total := len(b) - start
	if total > 0xffff {
		return b[:start], errTooLong
	}
	putHeader(b[start:start+ControlHeaderLen], h, total)
	return b, nil
}

// ChallengeResponse computes the Challenge Response AVP value of RFC 2661
// section 4.4.3, CHAP style (RFC 1994): MD5 of the message type as the CHAP
// ID octet (2 for an SCCRP, 3 for an SCCCN), the shared secret and the
// peer's challenge.
func ChallengeResponse(t MsgType, secret, challenge []byte) [16]byte {
	h := md5.New()
	h.Write([]byte{byte(t)})
	h.Write(secret)
	h.Write(challenge)
	var sum [16]byte
	h.Sum(sum[:0])
	return sum
}
