package l2tp

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// This file holds the AVPs of L2TPv3, RFC 3931 section 5.4: their numbers
// (section 10.1), what each may carry and whether it may be hidden, and the
// structured values as typed Parse/Append pairs like those of avpvalue.go.
// L2TPv3 reuses several RFC 2661 AVPs (Message Type, Result Code, Tie
// Breaker, Host Name, Vendor Name, Receive Window Size, Serial Number,
// Physical Channel ID, Circuit Errors, Random Vector); the PPP-specific RFC
// 2661 AVPs stay recognised in v3 messages, for PPP pseudowires.

// The AVPs RFC 3931 adds, section 10.1 (67 is not assigned there).
const (
	AVPExtendedVendorID   AVPType = 58 // 5.1: vendor AVP with a 32-bit Vendor ID
	AVPMessageDigest      AVPType = 59 // 5.4.1
	AVPRouterID           AVPType = 60 // 5.4.3
	AVPAssignedConnID     AVPType = 61 // 5.4.3: Assigned Control Connection ID
	AVPPWCapabilities     AVPType = 62 // 5.4.3: Pseudowire Capabilities List
	AVPLocalSessionID     AVPType = 63 // 5.4.4
	AVPRemoteSessionID    AVPType = 64 // 5.4.4
	AVPAssignedCookie     AVPType = 65 // 5.4.4
	AVPRemoteEndID        AVPType = 66 // 5.4.4
	AVPPWType             AVPType = 68 // 5.4.4: Pseudowire Type
	AVPL2SpecificSublayer AVPType = 69 // 5.4.4
	AVPDataSequencing     AVPType = 70 // 5.4.4
	AVPCircuitStatus      AVPType = 71 // 5.4.5
	AVPPreferredLanguage  AVPType = 72 // 5.4.3
	AVPNonce              AVPType = 73 // 5.4.1: Control Message Authentication Nonce
	AVPTxConnectSpeedV3   AVPType = 74 // 5.4.4: Tx Connect Speed, 64 bits
	AVPRxConnectSpeedV3   AVPType = 75 // 5.4.4: Rx Connect Speed, 64 bits
)

// The fail-over AVPs of RFC 4951 (numbers as IANA and Wireshark list them).
// They are named for logs only: bras does not implement fail-over, so they
// are unrecognised AVPs (section 5.2) and their M bit decides.
const (
	AVPFailoverCapability   AVPType = 76
	AVPTunnelRecovery       AVPType = 77
	AVPSuggestedControlSeq  AVPType = 78
	AVPFailoverSessionState AVPType = 79

	maxV3AVPType = AVPFailoverSessionState
)

// The names RFC 3931 gives RFC 2661 AVPs it reuses.
const (
	AVPSerialNumber                = AVPCallSerialNumber // 15, section 5.4.4: the Call Serial Number
	AVPCircuitErrors               = AVPCallErrors       // 34, section 5.4.5: the Call Errors
	AVPSessionTieBreaker           = AVPTieBreaker       // 5, section 5.4.4: in ICRQ and OCRQ
	AVPControlConnectionTieBreaker = AVPTieBreaker       // 5, section 5.4.3: in SCCRQ
)

// v3AVPNames are the names of the AVPs RFC 3931 and RFC 4951 add.
var v3AVPNames = [...]string{
	AVPExtendedVendorID:     "ExtendedVendorID",
	AVPMessageDigest:        "MessageDigest",
	AVPRouterID:             "RouterID",
	AVPAssignedConnID:       "AssignedControlConnectionID",
	AVPPWCapabilities:       "PseudowireCapabilitiesList",
	AVPLocalSessionID:       "LocalSessionID",
	AVPRemoteSessionID:      "RemoteSessionID",
	AVPAssignedCookie:       "AssignedCookie",
	AVPRemoteEndID:          "RemoteEndID",
	AVPPWType:               "PseudowireType",
	AVPL2SpecificSublayer:   "L2SpecificSublayer",
	AVPDataSequencing:       "DataSequencing",
	AVPCircuitStatus:        "CircuitStatus",
	AVPPreferredLanguage:    "PreferredLanguage",
	AVPNonce:                "ControlMessageAuthenticationNonce",
	AVPTxConnectSpeedV3:     "TxConnectSpeedV3",
	AVPRxConnectSpeedV3:     "RxConnectSpeedV3",
	AVPFailoverCapability:   "FailoverCapability",
	AVPTunnelRecovery:       "TunnelRecovery",
	AVPSuggestedControlSeq:  "SuggestedControlSequence",
	AVPFailoverSessionState: "FailoverSessionState",
}

// v3AVPRule is what RFC 3931 section 5.4 says about one IETF AVP in an
// L2TPv3 message: whether it is recognised, the M bit it SHOULD carry
// ("but MAY vary", section 5.2), whether it may be hidden, and the size of
// its clear value.
type v3AVPRule struct {
	known     bool
	mandatory bool
	hideable  bool
	min, max  int
}

// v3AVPRules is the table of section 5.4 for AVP types 0 to 79, built from
// the RFC 2661 table (avpRules) for the PPP-specific AVPs v3 messages may
// still carry, with the AVPs section 5.4 defines or redefines on top.
var v3AVPRules = func() (r [maxV3AVPType + 1]v3AVPRule) {
	for t, a := range avpRules {
		if AVPType(t).Known() {
			r[t] = v3AVPRule{true, a.mandatory, a.hideable, a.min, a.max}
		}
	}
	for t, a := range map[AVPType]v3AVPRule{
		AVPMessageType:        {true, true, false, 2, 2},               // 5.4.1
		AVPRandomVector:       {true, true, false, 0, avpUnlimited},    // 5.4.1
		AVPMessageDigest:      {true, true, false, 17, 21},             // 5.4.1: type + 16 or 20
		AVPNonce:              {true, true, false, 0, avpUnlimited},    // 5.4.1
		AVPResultCode:         {true, true, false, 2, avpUnlimited},    // 5.4.2
		AVPTieBreaker:         {true, true, false, 8, 8},               // 5.4.3, 5.4.4
		AVPHostName:           {true, true, false, 1, avpUnlimited},    // 5.4.3
		AVPRouterID:           {true, true, false, 4, 4},               // 5.4.3
		AVPVendorName:         {true, false, true, 0, avpUnlimited},    // 5.4.3
		AVPAssignedConnID:     {true, true, true, 4, 4},                // 5.4.3
		AVPReceiveWindowSize:  {true, true, false, 2, 2},               // 5.4.3
		AVPPWCapabilities:     {true, true, true, 2, avpUnlimited - 1}, // 5.4.3: 2 octets a type
		AVPPreferredLanguage:  {true, false, true, 0, avpUnlimited},    // 5.4.3
		AVPLocalSessionID:     {true, true, true, 4, 4},                // 5.4.4
		AVPRemoteSessionID:    {true, true, true, 4, 4},                // 5.4.4
		AVPAssignedCookie:     {true, true, true, 0, 8},                // 5.4.4: 0, 4 or 8
		AVPSerialNumber:       {true, false, true, 4, 4},               // 5.4.4
		AVPRemoteEndID:        {true, true, true, 0, avpUnlimited},     // 5.4.4
		AVPPWType:             {true, true, true, 2, 2},                // 5.4.4
		AVPL2SpecificSublayer: {true, true, true, 2, 2},                // 5.4.4
		AVPDataSequencing:     {true, true, true, 2, 2},                // 5.4.4
		AVPTxConnectSpeedV3:   {true, false, true, 8, 8},               // 5.4.4
		AVPRxConnectSpeedV3:   {true, false, true, 8, 8},               // 5.4.4
		AVPPhysicalChannelID:  {true, false, true, 4, 4},               // 5.4.4
		AVPCircuitStatus:      {true, true, true, 2, 2},                // 5.4.5
		AVPCircuitErrors:      {true, false, true, 18, 26},             // 5.4.5: see ParseCircuitErrors
	} {
		r[t] = a
	}
	return r
}()

// KnownV3 reports whether t is an IETF AVP recognised in an L2TPv3
// message: one RFC 3931 section 5.4 defines, or an RFC 2661 AVP (carried by
// PPP pseudowires). Extended Vendor ID and the RFC 4951 AVPs are not.
func (t AVPType) KnownV3() bool {
	return int(t) < len(v3AVPRules) && v3AVPRules[t].known
}

// MandatoryV3 reports the M bit RFC 3931 section 5.4 says an IETF AVP of
// type t SHOULD carry in an L2TPv3 message (false for types it does not
// define).
func (t AVPType) MandatoryV3() bool {
	return t.KnownV3() && v3AVPRules[t].mandatory
}

// HideableV3 reports whether RFC 3931 section 5.4 allows an IETF AVP of
// type t to be hidden in an L2TPv3 message.
func (t AVPType) HideableV3() bool {
	return t.KnownV3() && v3AVPRules[t].hideable
}

// NewV3AVP returns an IETF AVP of type t carrying a copy of v, with the M
// bit RFC 3931 section 5.4 recommends for t.
func NewV3AVP(t AVPType, v []byte) AVP {
	a := NewAVPBytes(t, v)
	a.Mandatory = t.MandatoryV3()
	return a
}

// NewV3AVPUint16 is NewV3AVP for a 2-octet value.
func NewV3AVPUint16(t AVPType, v uint16) AVP {
	return NewV3AVP(t, binary.BigEndian.AppendUint16(nil, v))
}

// NewV3AVPUint32 is NewV3AVP for a 4-octet value (Router ID, Assigned
// Control Connection ID, Local and Remote Session ID, Serial Number).
func NewV3AVPUint32(t AVPType, v uint32) AVP {
	return NewV3AVP(t, binary.BigEndian.AppendUint32(nil, v))
}

// NewV3AVPUint64 is NewV3AVP for an 8-octet value (Tie Breakers, Tx and Rx
// Connect Speed).
func NewV3AVPUint64(t AVPType, v uint64) AVP {
	return NewV3AVP(t, binary.BigEndian.AppendUint64(nil, v))
}

// NewV3AVPString is NewV3AVP for a string (Host Name, Vendor Name,
// Preferred Language, Remote End ID).
func NewV3AVPString(t AVPType, v string) AVP {
	return NewV3AVP(t, []byte(v))
}

// DigestType is the Digest Type octet of the Message Digest AVP, RFC 3931
// section 5.4.1.
type DigestType uint8

const (
	DigestHMACMD5  DigestType = 0 // HMAC-MD5, 16 octets; MUST be supported
	DigestHMACSHA1 DigestType = 1 // HMAC-SHA-1, 20 octets; SHOULD be supported
)

// Size is the length of a digest of type t, 0 for a type section 5.4.1
// does not define.
func (t DigestType) Size() int {
	switch t {
	case DigestHMACMD5:
		return 16
	case DigestHMACSHA1:
		return 20
	}
	return 0
}

func (t DigestType) String() string {
	switch t {
	case DigestHMACMD5:
		return "HMAC-MD5"
	case DigestHMACSHA1:
		return "HMAC-SHA-1"
	}
	return "DigestType(" + strconv.Itoa(int(t)) + ")"
}

// MessageDigest is the Message Digest AVP value of RFC 3931 section 5.4.1:
// the digest type and the digest (16 octets for HMAC-MD5, 20 for
// HMAC-SHA-1). The AVP is 23 or 27 octets long; the RFC's text says "Digest
// Type 1 (HMAC-MD5)" and "Digest Type 2 (HMAC-SHA-1)" there, but its
// type values are 0 and 1.
type MessageDigest struct {
	Type   DigestType
	Digest []byte
}

// ParseMessageDigest decodes a Message Digest value; a digest of the wrong
// length for its type, or an unknown type, is ErrMalformed.
func ParseMessageDigest(b []byte) (MessageDigest, error) {
	if len(b) < 1 {
		return MessageDigest{}, fmt.Errorf("%w: empty Message Digest value", ErrShort)
	}
	t := DigestType(b[0])
	if t.Size() == 0 {
		return MessageDigest{}, fmt.Errorf("%w: Message Digest of unknown type %d", ErrMalformed, b[0])
	}
	if err := checkExactSize("Message Digest "+t.String(), b, 1+t.Size()); err != nil {
		return MessageDigest{}, err
	}
	return MessageDigest{Type: t, Digest: append([]byte(nil), b[1:]...)}, nil
}

// Append appends the Message Digest value; a nil Digest is written as
// zeros, the placeholder SignMessage fills in.
func (d MessageDigest) Append(b []byte) ([]byte, error) {
	n := d.Type.Size()
	if n == 0 {
		return b, fmt.Errorf("%w: Message Digest of unknown type %d", ErrMalformed, d.Type)
	}
	if d.Digest != nil && len(d.Digest) != n {
		return b, fmt.Errorf("%w: %s digest of %d octets, want %d", ErrMalformed, d.Type, len(d.Digest), n)
	}
	b = append(b, byte(d.Type))
	if d.Digest == nil {
		return append(b, make([]byte, n)...), nil
	}
	return append(b, d.Digest...), nil
}

// AVP returns d as a Message Digest AVP (M=1, never hidden, section 5.4.1).
// With a nil Digest it is the zeroed placeholder that goes right after the
// Message Type AVP of a message to be signed.
func (d MessageDigest) AVP() AVP {
	v, err := d.Append(nil)
	if err != nil {
		v = []byte{byte(d.Type)}
	}
	return NewV3AVP(AVPMessageDigest, v)
}

// PWType is a Pseudowire Type, RFC 3931 sections 5.4.3, 5.4.4 and 10.6: the
// L2 payload of a session (Pseudowire Type AVP) or one of those an LCCE
// supports (Pseudowire Capabilities List AVP).
type PWType uint16

// Pseudowire types of the IANA L2TPv3 registry (RFC 3931 section 10.6).
const (
	PWEthernetVLAN PWType = 0x0004 // RFC 4719 section 6: Ethernet VLAN
	PWEthernet     PWType = 0x0005 // RFC 4719 section 6: Ethernet (port)
	PWPPP          PWType = 0x0007 // IANA registry: PPP
)

func (t PWType) String() string {
	switch t {
	case PWEthernetVLAN:
		return "EthernetVLAN"
	case PWEthernet:
		return "Ethernet"
	case PWPPP:
		return "PPP"
	}
	return "PWType(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// ParsePWType decodes a 2-octet Pseudowire Type value.
func ParsePWType(b []byte) (PWType, error) {
	if err := checkExactSize("Pseudowire Type", b, 2); err != nil {
		return 0, err
	}
	return PWType(binary.BigEndian.Uint16(b)), nil
}

// Append appends the Pseudowire Type value.
func (t PWType) Append(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint16(b, uint16(t)), nil
}

// AVP returns t as a Pseudowire Type AVP.
func (t PWType) AVP() AVP { return NewV3AVPUint16(AVPPWType, uint16(t)) }

// PWCapabilities is the Pseudowire Capabilities List AVP value of RFC 3931
// section 5.4.3: the pseudowire types the sender supports, in its order.
type PWCapabilities []PWType

// ParsePWCapabilities decodes a list of one or more 2-octet pseudowire
// types.
func ParsePWCapabilities(b []byte) (PWCapabilities, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: Pseudowire Capabilities List of %d octets", ErrShort, len(b))
	}
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("%w: Pseudowire Capabilities List of %d octets, not a list of 2-octet types", ErrMalformed, len(b))
	}
	l := make(PWCapabilities, len(b)/2)
	for i := range l {
		l[i] = PWType(binary.BigEndian.Uint16(b[2*i:]))
	}
	return l, nil
}

// Append appends the list; an empty one is ErrMalformed (section 5.4.3: at
// least one type).
func (l PWCapabilities) Append(b []byte) ([]byte, error) {
	if len(l) == 0 || 2*len(l) > maxAVPValue {
		return b, fmt.Errorf("%w: Pseudowire Capabilities List of %d types", ErrMalformed, len(l))
	}
	for _, t := range l {
		b = binary.BigEndian.AppendUint16(b, uint16(t))
	}
	return b, nil
}

// Has reports whether t is in the list: section 5.4.4, a session's
// Pseudowire Type must be one the peer advertised.
func (l PWCapabilities) Has(t PWType) bool {
	for _, x := range l {
		if x == t {
			return true
		}
	}
	return false
}

// AVP returns l as a Pseudowire Capabilities List AVP; a list too long for
// an AVP is cut.
func (l PWCapabilities) AVP() AVP {
	l = l[:min(len(l), maxAVPValue/2)]
	var v []byte
	for _, t := range l {
		v = binary.BigEndian.AppendUint16(v, uint16(t))
	}
	return NewV3AVP(AVPPWCapabilities, v)
}

// Cookie is the Assigned Cookie AVP value of RFC 3931 section 5.4.4: the
// 0, 4 or 8 random octets the sender wants in front of every data message
// it receives on the session (section 4.1), as a big-endian number so that
// it compares with V3DataHeader.Cookie. Len is the V3DataFormat.CookieLen of
// the session's data messages towards the sender.
type Cookie struct {
	Len   int
	Value uint64
}

// ParseCookie decodes an Assigned Cookie value of 0, 4 or 8 octets.
func ParseCookie(b []byte) (Cookie, error) {
	switch len(b) {
	case 0:
		return Cookie{}, nil
	case 4:
		return Cookie{Len: 4, Value: uint64(binary.BigEndian.Uint32(b))}, nil
	case 8:
		return Cookie{Len: 8, Value: binary.BigEndian.Uint64(b)}, nil
	}
	return Cookie{}, fmt.Errorf("%w: Assigned Cookie of %d octets, want 0, 4 or 8", ErrMalformed, len(b))
}

// Append appends the cookie: Len octets of Value.
func (c Cookie) Append(b []byte) ([]byte, error) {
	switch {
	case c.Len == 0 && c.Value == 0:
		return b, nil
	case c.Len == 4 && c.Value <= 0xffffffff:
		return binary.BigEndian.AppendUint32(b, uint32(c.Value)), nil
	case c.Len == 8:
		return binary.BigEndian.AppendUint64(b, c.Value), nil
	}
	return b, fmt.Errorf("%w: cookie %#x of %d octets", ErrMalformed, c.Value, c.Len)
}

// AVP returns c as an Assigned Cookie AVP; an invalid cookie gives an
// empty one (no cookie).
func (c Cookie) AVP() AVP {
	v, err := c.Append(nil)
	if err != nil {
		v = nil
	}
	return NewV3AVP(AVPAssignedCookie, v)
}

// ParseSublayerType decodes a 2-octet L2-Specific Sublayer value (RFC 3931
// section 5.4.4). Types other than None and Default are kept: other
// documents register them (section 10.9).
func ParseSublayerType(b []byte) (SublayerType, error) {
	if err := checkExactSize("L2-Specific Sublayer", b, 2); err != nil {
		return 0, err
	}
	return SublayerType(binary.BigEndian.Uint16(b)), nil
}

// Append appends the L2-Specific Sublayer value.
func (t SublayerType) Append(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint16(b, uint16(t)), nil
}

// AVP returns t as an L2-Specific Sublayer AVP.
func (t SublayerType) AVP() AVP { return NewV3AVPUint16(AVPL2SpecificSublayer, uint16(t)) }

// DataSequencing is the Data Sequencing Level of RFC 3931 section 5.4.4
// (registry of section 10.10): which data messages the sender wants to
// receive with sequence numbers.
type DataSequencing uint16

const (
	SequenceNone  DataSequencing = 0 // no incoming data packets require sequencing
	SequenceNonIP DataSequencing = 1 // only non-IP data packets require sequencing
	SequenceAll   DataSequencing = 2 // all incoming data packets require sequencing
)

func (s DataSequencing) String() string {
	switch s {
	case SequenceNone:
		return "None"
	case SequenceNonIP:
		return "NonIP"
	case SequenceAll:
		return "All"
	}
	return "DataSequencing(" + strconv.Itoa(int(s)) + ")"
}

// ParseDataSequencing decodes a 2-octet Data Sequencing value.
func ParseDataSequencing(b []byte) (DataSequencing, error) {
	if err := checkExactSize("Data Sequencing", b, 2); err != nil {
		return 0, err
	}
	return DataSequencing(binary.BigEndian.Uint16(b)), nil
}

// Append appends the Data Sequencing value.
func (s DataSequencing) Append(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint16(b, uint16(s)), nil
}

// AVP returns s as a Data Sequencing AVP.
func (s DataSequencing) AVP() AVP { return NewV3AVPUint16(AVPDataSequencing, uint16(s)) }

// CircuitStatus is the Circuit Status AVP value of RFC 3931 section 5.4.5
// (bits of section 10.7): whether the attachment circuit is up, and whether
// the indication is for a new circuit.
type CircuitStatus struct {
	Active bool // A: up, active, ready
	New    bool // N: a new circuit rather than an existing one
}

// Bits of the Circuit Status value, section 5.4.5.
const (
	circuitActive = 0x0001
	circuitNew    = 0x0002
)

// ParseCircuitStatus decodes a 2-octet Circuit Status value; reserved bits
// are ignored on receipt (section 5.4.5).
func ParseCircuitStatus(b []byte) (CircuitStatus, error) {
	if err := checkExactSize("Circuit Status", b, 2); err != nil {
		return CircuitStatus{}, err
	}
	w := binary.BigEndian.Uint16(b)
	return CircuitStatus{Active: w&circuitActive != 0, New: w&circuitNew != 0}, nil
}

// Append appends the Circuit Status value, reserved bits 0.
func (c CircuitStatus) Append(b []byte) ([]byte, error) {
	var w uint16
	if c.Active {
		w |= circuitActive
	}
	if c.New {
		w |= circuitNew
	}
	return binary.BigEndian.AppendUint16(b, w), nil
}

// AVP returns c as a Circuit Status AVP.
func (c CircuitStatus) AVP() AVP {
	v, _ := c.Append(nil)
	return NewV3AVP(AVPCircuitStatus, v)
}

func (c CircuitStatus) String() string {
	s := "Inactive"
	if c.Active {
		s = "Active"
	}
	if c.New {
		s += "|New"
	}
	return s
}

// CircuitErrors is the Circuit Errors AVP value of a v3 WEN, RFC 3931
// section 5.4.5, attribute 34 as in RFC 2661. Section 5.4.5 gives it a
// Length of 32, which is RFC 2661's 26-octet value with the CRC and Framing
// Errors counters, while its figure leaves those two out (18 octets).
// Append writes the 32-octet form the Length asks for (and Wireshark
// decodes); ParseCircuitErrors accepts both.
type CircuitErrors CallErrors

// ParseCircuitErrors decodes a Circuit Errors value of 26 octets (the RFC
// 2661 layout) or 18 (the figure of RFC 3931 section 5.4.5: reserved,
// hardware overruns, buffer overruns, timeouts, alignment errors).
func ParseCircuitErrors(b []byte) (CircuitErrors, error) {
	if len(b) == 18 {
		be := binary.BigEndian
		return CircuitErrors{
			HardwareOverruns: be.Uint32(b[2:6]),
			BufferOverruns:   be.Uint32(b[6:10]),
			Timeout:          be.Uint32(b[10:14]),
			Alignment:        be.Uint32(b[14:18]),
		}, nil
	}
	c, err := ParseCallErrors(b)
	if err != nil {
		return CircuitErrors{}, fmt.Errorf("%w (or 18)", err)
	}
	return CircuitErrors(c), nil
}

// Append appends the 26-octet Circuit Errors value, reserved field 0.
func (c CircuitErrors) Append(b []byte) ([]byte, error) { return CallErrors(c).Append(b) }

// AVP returns c as a Circuit Errors AVP with the M bit of RFC 3931 (0).
func (c CircuitErrors) AVP() AVP {
	v, _ := c.Append(nil)
	return NewV3AVP(AVPCircuitErrors, v)
}
