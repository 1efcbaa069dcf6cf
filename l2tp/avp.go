package l2tp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
)

// Bits and sizes of the AVP header, RFC 2661 section 4.1.
const (
	avpFlagM       = 0x8000
	avpFlagH       = 0x4000
	avpReserved    = 0x3c00
	avpLenMask     = 0x03ff
	avpHeaderLen   = 6
	maxAVPLen      = avpLenMask               // 1023
	maxAVPValue    = maxAVPLen - avpHeaderLen // 1017
	avpUnlimited   = maxAVPValue              // no size limit but the AVP's own
	randomVectorSz = 16                       // RV length used when Append makes one
)

// avpRule is what RFC 2661 section 4.4 says about one IETF AVP: its M bit,
// whether it may be hidden, and the size of its clear value.
type avpRule struct {
	mandatory bool
	hideable  bool
	min, max  int
}

// avpRules is the per-AVP table of section 4.4, indexed by AVPType.
var avpRules = [...]avpRule{
	AVPMessageType:           {true, false, 2, 2},            // 4.4.1
	AVPResultCode:            {true, false, 2, avpUnlimited}, // 4.4.2
	AVPProtocolVersion:       {true, false, 2, 2},            // 4.4.3
	AVPFramingCapabilities:   {true, true, 4, 4},             // 4.4.3
	AVPBearerCapabilities:    {true, true, 4, 4},             // 4.4.3
	AVPTieBreaker:            {false, false, 8, 8},           // 4.4.3
	AVPFirmwareRevision:      {false, true, 2, 2},            // 4.4.3
	AVPHostName:              {true, false, 1, avpUnlimited}, // 4.4.3
	AVPVendorName:            {false, true, 0, avpUnlimited}, // 4.4.3
	AVPAssignedTunnelID:      {true, true, 2, 2},             // 4.4.3
	AVPReceiveWindowSize:     {true, false, 2, 2},            // 4.4.3
	AVPChallenge:             {true, true, 1, avpUnlimited},  // 4.4.3
	AVPQ931Cause:             {true, false, 3, avpUnlimited}, // 4.4.4
	AVPChallengeResponse:     {true, true, 16, 16},           // 4.4.3
	AVPAssignedSessionID:     {true, true, 2, 2},             // 4.4.4
	AVPCallSerialNumber:      {true, true, 4, 4},             // 4.4.4
	AVPMinimumBPS:            {true, true, 4, 4},             // 4.4.4
	AVPMaximumBPS:            {true, true, 4, 4},             // 4.4.4
	AVPBearerType:            {true, true, 4, 4},             // 4.4.4
	AVPFramingType:           {true, true, 4, 4},             // 4.4.4
	AVPCalledNumber:          {true, true, 0, avpUnlimited},  // 4.4.4
	AVPCallingNumber:         {true, true, 0, avpUnlimited},  // 4.4.4
	AVPSubAddress:            {true, true, 0, avpUnlimited},  // 4.4.4
	AVPTxConnectSpeed:        {true, true, 4, 4},             // 4.4.4
	AVPPhysicalChannelID:     {false, true, 4, 4},            // 4.4.4
	AVPInitialRecvLCPConfReq: {false, true, 0, avpUnlimited}, // 4.4.5
	AVPLastSentLCPConfReq:    {false, true, 0, avpUnlimited}, // 4.4.5
	AVPLastRecvLCPConfReq:    {false, true, 0, avpUnlimited}, // 4.4.5
	AVPProxyAuthenType:       {false, true, 2, 2},            // 4.4.5
	AVPProxyAuthenName:       {false, true, 0, avpUnlimited}, // 4.4.5
	AVPProxyAuthenChallenge:  {false, true, 1, avpUnlimited}, // 4.4.5
	AVPProxyAuthenID:         {false, true, 2, 2},            // 4.4.5
	AVPProxyAuthenResponse:   {false, true, 0, avpUnlimited}, // 4.4.5
	AVPCallErrors:            {true, true, 26, 26},           // 4.4.6
	AVPACCM:                  {true, true, 10, 10},           // 4.4.6
	AVPRandomVector:          {true, false, 0, avpUnlimited}, // 4.4.1
	AVPPrivateGroupID:        {false, true, 0, avpUnlimited}, // 4.4.4
	AVPRxConnectSpeed:        {false, true, 4, 4},            // 4.4.4
	AVPSequencingRequired:    {true, false, 0, 0},            // 4.4.4
}

// Mandatory reports the M bit RFC 2661 section 4.4 requires for an IETF AVP
// of type t (false for types it does not define).
func (t AVPType) Mandatory() bool {
	return t.Known() && avpRules[t].mandatory
}

// Hideable reports whether section 4.4 allows an IETF AVP of type t to be
// hidden (false for types it does not define).
func (t AVPType) Hideable() bool {
	return t.Known() && avpRules[t].hideable
}

// NewAVPUint16 returns an IETF AVP of type t carrying a 2-octet value, with
// the M bit section 4.4 requires for t.
func NewAVPUint16(t AVPType, v uint16) AVP {
	return AVP{Mandatory: t.Mandatory(), Type: t, Value: binary.BigEndian.AppendUint16(nil, v)}
}

// NewAVPUint32 returns an IETF AVP of type t carrying a 4-octet value, with
// the M bit section 4.4 requires for t.
func NewAVPUint32(t AVPType, v uint32) AVP {
	return AVP{Mandatory: t.Mandatory(), Type: t, Value: binary.BigEndian.AppendUint32(nil, v)}
}

// NewAVPUint64 returns an IETF AVP of type t carrying an 8-octet value (the
// Tie Breaker of section 4.4.3), with the M bit section 4.4 requires for t.
func NewAVPUint64(t AVPType, v uint64) AVP {
	return AVP{Mandatory: t.Mandatory(), Type: t, Value: binary.BigEndian.AppendUint64(nil, v)}
}

// NewAVPBytes returns an IETF AVP of type t carrying a copy of v, with the
// M bit section 4.4 requires for t. An empty v gives an AVP with no value
// (Sequencing Required, section 4.4.4).
func NewAVPBytes(t AVPType, v []byte) AVP {
	var c []byte
	if len(v) > 0 {
		c = append(c, v...)
	}
	return AVP{Mandatory: t.Mandatory(), Type: t, Value: c}
}

// NewAVPString returns an IETF AVP of type t carrying the octets of v, with
// the M bit section 4.4 requires for t.
func NewAVPString(t AVPType, v string) AVP {
	return NewAVPBytes(t, []byte(v))
}

// Uint16 returns the value of a 2-octet AVP; ErrMalformed on another size.
func (a AVP) Uint16() (uint16, error) {
	if len(a.Value) != 2 {
		return 0, a.sizeError(2)
	}
	return binary.BigEndian.Uint16(a.Value), nil
}

// Uint32 returns the value of a 4-octet AVP; ErrMalformed on another size.
func (a AVP) Uint32() (uint32, error) {
	if len(a.Value) != 4 {
		return 0, a.sizeError(4)
	}
	return binary.BigEndian.Uint32(a.Value), nil
}

// Uint64 returns the value of an 8-octet AVP; ErrMalformed on another size.
func (a AVP) Uint64() (uint64, error) {
	if len(a.Value) != 8 {
		return 0, a.sizeError(8)
	}
	return binary.BigEndian.Uint64(a.Value), nil
}

func (a AVP) sizeError(want int) error {
	return fmt.Errorf("%w: %s AVP of %d octets, want %d", ErrMalformed, a.name(), len(a.Value), want)
}

// name is the AVP type for messages, with its vendor when not IETF.
func (a AVP) name() string {
	if a.VendorID != 0 {
		return fmt.Sprintf("vendor %d type %d", a.VendorID, uint16(a.Type))
	}
	return a.Type.String()
}

// Find returns the first IETF (Vendor ID 0) AVP of type t in m. A vendor
// AVP that reuses t's number is not it (section 4.1).
func (m *Message) Find(t AVPType) (AVP, bool) {
	for _, a := range m.AVPs {
		if a.VendorID == 0 && a.Type == t {
			return a, true
		}
	}
	return AVP{}, false
}

// Add appends a to the AVPs of m.
func (m *Message) Add(a AVP) {
	m.AVPs = append(m.AVPs, a)
}

// avpParser walks the AVP list of a control message (RFC 2661 section 4.1)
// and reveals hidden AVPs (section 4.3).
type avpParser struct {
	secret []byte
	rv     []byte // value of the most recent Random Vector AVP
	haveRV bool
	// v3 parses an L2TPv3 message (RFC 3931): the AVPs of section 5.4 are
	// recognised too, and hidden values are revealed with the shared key
	// derived from secret (section 5.3) instead of the secret itself.
	v3  bool
	key []byte // the derived hiding key, once needed
}

// known reports whether t is an IETF AVP the parser recognises.
func (p *avpParser) known(t AVPType) bool {
	if p.v3 {
		return t.KnownV3()
	}
	return t.Known()
}

// hideable reports whether an IETF AVP of type t may be hidden.
func (p *avpParser) hideable(t AVPType) bool {
	if p.v3 {
		return t.HideableV3()
	}
	return t.Hideable()
}

// hidingKey is what the MD5 chain of hidden AVPs is keyed with: the secret
// itself in L2TPv2 (RFC 2661 section 4.3), the shared key derived from it
// in L2TPv3 (RFC 3931 section 5.3).
func (p *avpParser) hidingKey() []byte {
	if !p.v3 {
		return p.secret
	}
	if p.key == nil {
		k := HidingKey(p.secret)
		p.key = k[:]
	}
	return p.key
}

// next decodes the AVP at the start of b (values alias b) and returns the
// rest. recognized is false for what section 4.1 calls an unrecognized AVP:
// a vendor AVP, an IETF type section 4.4 does not define, or any AVP with a
// reserved header bit set. drop is set for an unrecognized AVP that cannot
// be kept: one with a reserved bit, or a hidden one that cannot be revealed
// (no secret, no Random Vector, a bad Original Length). Section 4.1 says to
// process the message as if such an AVP were absent (when its M bit is
// clear; the caller judges the M bit).
func (p *avpParser) next(b []byte) (a AVP, rest []byte, recognized, drop bool, err error) {
	if len(b) < avpHeaderLen {
		return AVP{}, nil, false, false, fmt.Errorf("%w: %d octets left, AVP header is 6", ErrShort, len(b))
	}
	w := binary.BigEndian.Uint16(b[0:2])
	n := int(w & avpLenMask)
	if n < avpHeaderLen {
		return AVP{}, nil, false, false, fmt.Errorf("%w: AVP length %d under 6", ErrMalformed, n)
	}
	if n > len(b) {
		return AVP{}, nil, false, false, fmt.Errorf("%w: AVP length %d past the %d octets left", ErrShort, n, len(b))
	}
	a = AVP{
		Mandatory: w&avpFlagM != 0,
		Hidden:    w&avpFlagH != 0,
		VendorID:  binary.BigEndian.Uint16(b[2:4]),
		Type:      AVPType(binary.BigEndian.Uint16(b[4:6])),
	}
	if n > avpHeaderLen {
		a.Value = b[avpHeaderLen:n:n]
	}
	rest = b[n:]
	if w&avpReserved != 0 {
		return a, rest, false, true, nil
	}
	recognized = a.VendorID == 0 && p.known(a.Type)
	if a.Hidden {
		if recognized && !p.hideable(a.Type) {
			// Section 4.4: Random Vector, Result Code, Host Name and the
			// others marked "MUST NOT be hidden".
			return AVP{}, nil, false, false, fmt.Errorf("%w: %s AVP must not be hidden", ErrMalformed, a.Type)
		}
		switch {
		case len(p.secret) == 0:
			err = fmt.Errorf("%w: %s AVP", ErrNoSecret, a.name())
		case !p.haveRV:
			err = fmt.Errorf("%w: %s AVP", ErrNoRandomVector, a.name())
		default:
			a.Value, err = reveal(a.Type, a.Value, p.hidingKey(), p.rv)
		}
		if err != nil {
			if !recognized {
				return a, rest, false, true, nil
			}
			return AVP{}, nil, false, false, err
		}
	}
	if recognized && a.Type == AVPRandomVector {
		p.rv, p.haveRV = a.Value, true
	}
	return a, rest, recognized, false, nil
}

// ParseAVPs decodes a list of AVPs (RFC 2661 section 4.1), revealing hidden
// ones with secret and the Random Vector AVP most closely preceding them
// (section 4.3). It does not judge M bits; ParseMessage does. Unrecognized
// AVPs (section 4.1) with a reserved header bit set, or hidden and
// impossible to reveal, are left out; other vendor and unknown AVPs are kept.
// The values are copies: nothing aliases b.
func ParseAVPs(b []byte, secret []byte) ([]AVP, error) {
	avps, _, err := parseAVPs(b, secret, 0)
	return avps, err
}

// parseAVPs is ParseAVPs that also reports the first unrecognized AVP with
// the M bit set, for a message of type msg.
func parseAVPs(b []byte, secret []byte, msg MsgType) ([]AVP, *UnknownMandatoryAVPError, error) {
	return parseAVPList(b, avpParser{secret: secret}, msg)
}

// parseAVPList is parseAVPs with the parser (version, secret) given.
func parseAVPList(b []byte, p avpParser, msg MsgType) ([]AVP, *UnknownMandatoryAVPError, error) {
	if len(b) == 0 {
		return nil, nil, nil
	}
	b = append([]byte(nil), b...) // control plane: copy what we keep
	var unknown *UnknownMandatoryAVPError
	avps := make([]AVP, 0, countAVPs(b))
	for len(b) > 0 {
		a, rest, recognized, drop, err := p.next(b)
		if err != nil {
			return avps, unknown, err
		}
		b = rest
		if a.Mandatory && !recognized && unknown == nil {
			unknown = &UnknownMandatoryAVPError{Msg: msg, VendorID: a.VendorID, Type: a.Type}
		}
		if drop {
			continue // section 4.1: as if not present (after the M check)
		}
		avps = append(avps, a)
	}
	if len(avps) == 0 {
		avps = nil // all ignored: the same as none at all
	}
	return avps, unknown, nil
}

// countAVPs returns how many AVP headers the length fields chain through, to
// size the slice once.
func countAVPs(b []byte) int {
	n := 0
	for len(b) >= avpHeaderLen {
		l := int(binary.BigEndian.Uint16(b[0:2]) & avpLenMask)
		if l < avpHeaderLen || l > len(b) {
			break
		}
		b = b[l:]
		n++
	}
	return n
}

// AppendOptions control how hidden AVPs are written (RFC 2661 section 4.3).
type AppendOptions struct {
	// Secret is the tunnel's shared secret; required when an AVP is hidden.
	Secret []byte
	// Rand supplies Random Vectors and padding; nil means crypto/rand.
	Rand io.Reader
	// MaxPadding, when positive, adds 0 to MaxPadding random octets of
	// padding (at most 255) to each hidden AVP to mask the length of its
	// value.
	MaxPadding int
}

// AppendAVPs appends avps in order (RFC 2661 section 4.1). An AVP with
// Hidden set is hidden with o.Secret and the Random Vector AVP most closely
// preceding it in avps; when none precedes the first hidden AVP, a fresh
// 16-octet Random Vector AVP is inserted just before it (section 4.3).
func AppendAVPs(b []byte, avps []AVP, o AppendOptions) ([]byte, error) {
	return appendAVPs(b, avps, o, false)
}

// appendAVPs is AppendAVPs for L2TPv2 or, with v3, for L2TPv3: the AVPs of
// RFC 3931 section 5.4 follow its hiding rules, and hidden values are
// hidden with the shared key derived from o.Secret (section 5.3).
func appendAVPs(b []byte, avps []AVP, o AppendOptions, v3 bool) ([]byte, error) {
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var rv, key []byte
	haveRV := false
	for _, a := range avps {
		isRV := a.VendorID == 0 && a.Type == AVPRandomVector
		if isRV {
			if a.Hidden {
				return b, fmt.Errorf("%w: a Random Vector AVP cannot be hidden", ErrMalformed)
			}
			rv, haveRV = a.Value, true
		}
		if !a.Hidden {
			if len(a.Value) > maxAVPValue {
				return b, fmt.Errorf("%w: %s AVP value of %d octets exceeds %d", ErrMalformed, a.name(), len(a.Value), maxAVPValue)
			}
			b = appendAVPHeader(b, a, len(a.Value))
			b = append(b, a.Value...)
			continue
		}
		p := avpParser{secret: o.Secret, v3: v3}
		if a.VendorID == 0 && p.known(a.Type) && !p.hideable(a.Type) {
			return b, fmt.Errorf("%w: %s AVP must not be hidden", ErrMalformed, a.Type)
		}
		if len(o.Secret) == 0 {
			return b, fmt.Errorf("%w: %s AVP", ErrNoSecret, a.name())
		}
		if key == nil {
			key = p.hidingKey()
		}
		if !haveRV {
			rv = make([]byte, randomVectorSz)
			if _, err := io.ReadFull(rnd, rv); err != nil {
				return b, fmt.Errorf("l2tp: random vector: %w", err)
			}
			haveRV = true
			b = appendAVPHeader(b, AVP{Mandatory: true, Type: AVPRandomVector}, len(rv))
			b = append(b, rv...)
		}
		pad, err := hidePadding(rnd, o.MaxPadding, maxAVPValue-2-len(a.Value))
		if err != nil {
			return b, err
		}
		n := 2 + len(a.Value) + len(pad)
		if n > maxAVPValue {
			return b, fmt.Errorf("%w: hidden %s AVP value of %d octets exceeds %d", ErrMalformed, a.name(), n, maxAVPValue)
		}
		b = appendAVPHeader(b, a, n)
		b = hide(b, a.Type, a.Value, pad, key, rv)
	}
	return b, nil
}

// hidePadding returns 0..maxPad random octets (at most room) for a hidden AVP.
func hidePadding(rnd io.Reader, maxPad, room int) ([]byte, error) {
	if maxPad <= 0 || room <= 0 {
		return nil, nil
	}
	var nb [1]byte
	if _, err := io.ReadFull(rnd, nb[:]); err != nil {
		return nil, fmt.Errorf("l2tp: hidden AVP padding: %w", err)
	}
	n := min(int(nb[0])%(min(maxPad, 255)+1), room)
	if n == 0 {
		return nil, nil
	}
	pad := make([]byte, n)
	if _, err := io.ReadFull(rnd, pad); err != nil {
		return nil, fmt.Errorf("l2tp: hidden AVP padding: %w", err)
	}
	return pad, nil
}

// appendAVPHeader appends the 6-octet header of a with a value of n octets.
func appendAVPHeader(b []byte, a AVP, n int) []byte {
	w := uint16(avpHeaderLen+n) & avpLenMask
	if a.Mandatory {
		w |= avpFlagM
	}
	if a.Hidden {
		w |= avpFlagH
	}
	b = binary.BigEndian.AppendUint16(b, w)
	b = binary.BigEndian.AppendUint16(b, a.VendorID)
	return binary.BigEndian.AppendUint16(b, uint16(a.Type))
}
