package l2tp

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// This file holds the structured AVP values of RFC 2661 section 4.4. Each
// has Parse<Name>(b []byte) (T, error) for the clear value of its AVP, an
// Append(b []byte) ([]byte, error) method, and AVP() returning the AVP with
// the M bit the RFC requires. Plain integer, string and octet-string AVPs
// use NewAVPUint16/NewAVPUint32/NewAVPString/NewAVPBytes and AVP.Uint16 etc.

func checkExactSize(what string, b []byte, n int) error {
	if len(b) < n {
		return fmt.Errorf("%w: %s value of %d octets, want %d", ErrShort, what, len(b), n)
	}
	if len(b) > n {
		return fmt.Errorf("%w: %s value of %d octets, want %d", ErrMalformed, what, len(b), n)
	}
	return nil
}

// ProtocolVersion is the Protocol Version AVP value, RFC 2661 section
// 4.4.3: version 1, revision 0 for RFC 2661.
type ProtocolVersion struct{ Version, Revision uint8 }

// ProtocolVersion1 is the version RFC 2661 speaks (section 4.4.3).
var ProtocolVersion1 = ProtocolVersion{Version: 1, Revision: 0}

// ParseProtocolVersion decodes a 2-octet Protocol Version value.
func ParseProtocolVersion(b []byte) (ProtocolVersion, error) {
	if err := checkExactSize("Protocol Version", b, 2); err != nil {
		return ProtocolVersion{}, err
	}
	return ProtocolVersion{Version: b[0], Revision: b[1]}, nil
}

// Append appends the Protocol Version value.
func (v ProtocolVersion) Append(b []byte) ([]byte, error) {
	return append(b, v.Version, v.Revision), nil
}

// AVP returns v as a Protocol Version AVP.
func (v ProtocolVersion) AVP() AVP {
	return NewAVPBytes(AVPProtocolVersion, []byte{v.Version, v.Revision})
}

func (v ProtocolVersion) String() string {
	return strconv.Itoa(int(v.Version)) + "." + strconv.Itoa(int(v.Revision))
}

// Framing is the 32-bit mask of the Framing Capabilities and Framing Type
// AVPs, RFC 2661 sections 4.4.3 and 4.4.4.
type Framing uint32

// Framing bits of RFC 2661 sections 4.4.3 and 4.4.4.
const (
	FramingSync  Framing = 1 << 0 // S: synchronous
	FramingAsync Framing = 1 << 1 // A: asynchronous
)

// ParseFraming decodes a 4-octet framing mask.
func ParseFraming(b []byte) (Framing, error) {
	if err := checkExactSize("framing", b, 4); err != nil {
		return 0, err
	}
	return Framing(binary.BigEndian.Uint32(b)), nil
}

// Append appends the framing mask.
func (f Framing) Append(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint32(b, uint32(f)), nil
}

// AVP returns f as an AVP of type t (Framing Capabilities or Framing Type).
func (f Framing) AVP(t AVPType) AVP { return NewAVPUint32(t, uint32(f)) }

func (f Framing) String() string {
	return bitString(uint32(f), []string{"Sync", "Async"}, "Framing")
}

// Bearer is the 32-bit mask of the Bearer Capabilities and Bearer Type
// AVPs, RFC 2661 sections 4.4.3 and 4.4.4.
type Bearer uint32

// Bearer bits of RFC 2661 sections 4.4.3 and 4.4.4.
const (
	BearerDigital Bearer = 1 << 0 // D: digital
	BearerAnalog  Bearer = 1 << 1 // A: analog
)

// ParseBearer decodes a 4-octet bearer mask.
func ParseBearer(b []byte) (Bearer, error) {
	if err := checkExactSize("bearer", b, 4); err != nil {
		return 0, err
	}
	return Bearer(binary.BigEndian.Uint32(b)), nil
}

// Append appends the bearer mask.
func (m Bearer) Append(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint32(b, uint32(m)), nil
}

// AVP returns m as an AVP of type t (Bearer Capabilities or Bearer Type).
func (m Bearer) AVP(t AVPType) AVP { return NewAVPUint32(t, uint32(m)) }

func (m Bearer) String() string {
	return bitString(uint32(m), []string{"Digital", "Analog"}, "Bearer")
}

// bitString names the set bits of v ("Sync|Async"), the unnamed rest in hex.
func bitString(v uint32, names []string, typ string) string {
	if v == 0 {
		return "0"
	}
	var parts []string
	for i, n := range names {
		if v&(1<<i) != 0 {
			parts = append(parts, n)
			v &^= 1 << i
		}
	}
	if v != 0 {
		parts = append(parts, typ+"(0x"+strconv.FormatUint(uint64(v), 16)+")")
	}
	return strings.Join(parts, "|")
}

// Q931Cause is the Q.931 Cause Code AVP value, RFC 2661 section 4.4.4: the
// Q.931 cause code and message code in their ITU encodings, and an optional
// ASCII advisory message.
type Q931Cause struct {
	Cause    uint16
	Msg      uint8
	Advisory string
}

// ParseQ931Cause decodes a Q.931 Cause Code value (3 octets or more).
func ParseQ931Cause(b []byte) (Q931Cause, error) {
	if len(b) < 3 {
		return Q931Cause{}, fmt.Errorf("%w: Q.931 Cause Code value of %d octets, want at least 3", ErrShort, len(b))
	}
	return Q931Cause{Cause: binary.BigEndian.Uint16(b[0:2]), Msg: b[2], Advisory: string(b[3:])}, nil
}

// Append appends the Q.931 Cause Code value.
func (q Q931Cause) Append(b []byte) ([]byte, error) {
	if 3+len(q.Advisory) > maxAVPValue {
		return b, fmt.Errorf("%w: Q.931 advisory message of %d octets", ErrMalformed, len(q.Advisory))
	}
	b = binary.BigEndian.AppendUint16(b, q.Cause)
	b = append(b, q.Msg)
	return append(b, q.Advisory...), nil
}

// AVP returns q as a Q.931 Cause Code AVP; a too long advisory is cut.
func (q Q931Cause) AVP() AVP {
	if 3+len(q.Advisory) > maxAVPValue {
		q.Advisory = q.Advisory[:maxAVPValue-3]
	}
	v, _ := q.Append(nil)
	return NewAVPBytes(AVPQ931Cause, v)
}

// ProxyAuthenType is the Proxy Authen Type AVP value, RFC 2661 section 4.4.5.
type ProxyAuthenType uint16

// Proxy authentication types of RFC 2661 section 4.4.5 (0 is reserved).
const (
	ProxyAuthenTextual  ProxyAuthenType = 1 // textual username/password exchange
	ProxyAuthenCHAP     ProxyAuthenType = 2 // PPP CHAP
	ProxyAuthenPAP      ProxyAuthenType = 3 // PPP PAP
	ProxyAuthenNone     ProxyAuthenType = 4 // no authentication
	ProxyAuthenMSCHAPv1 ProxyAuthenType = 5 // Microsoft CHAP version 1
)

var proxyAuthenNames = [...]string{
	ProxyAuthenTextual:  "Textual",
	ProxyAuthenCHAP:     "CHAP",
	ProxyAuthenPAP:      "PAP",
	ProxyAuthenNone:     "None",
	ProxyAuthenMSCHAPv1: "MSCHAPv1",
}

func (t ProxyAuthenType) String() string {
	if int(t) < len(proxyAuthenNames) && proxyAuthenNames[t] != "" {
		return proxyAuthenNames[t]
	}
	return "ProxyAuthenType(" + strconv.Itoa(int(t)) + ")"
}

// RequiredAVPs returns the proxy AVPs section 4.4.5 requires in an ICCN
// carrying Proxy Authen Type t: Name for 1, 2, 3, 5; Challenge for 2, 5;
// ID for 2, 3, 5; Response for 1, 2, 3, 5.
func (t ProxyAuthenType) RequiredAVPs() []AVPType {
	switch t {
	case ProxyAuthenTextual:
		return []AVPType{AVPProxyAuthenName, AVPProxyAuthenResponse}
	case ProxyAuthenCHAP, ProxyAuthenMSCHAPv1:
		return []AVPType{AVPProxyAuthenName, AVPProxyAuthenChallenge, AVPProxyAuthenID, AVPProxyAuthenResponse}
	case ProxyAuthenPAP:
		return []AVPType{AVPProxyAuthenName, AVPProxyAuthenID, AVPProxyAuthenResponse}
	}
	return nil
}

// ParseProxyAuthenType decodes a 2-octet Proxy Authen Type value.
func ParseProxyAuthenType(b []byte) (ProxyAuthenType, error) {
	if err := checkExactSize("Proxy Authen Type", b, 2); err != nil {
		return 0, err
	}
	return ProxyAuthenType(binary.BigEndian.Uint16(b)), nil
}

// Append appends the Proxy Authen Type value.
func (t ProxyAuthenType) Append(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint16(b, uint16(t)), nil
}

// AVP returns t as a Proxy Authen Type AVP.
func (t ProxyAuthenType) AVP() AVP { return NewAVPUint16(AVPProxyAuthenType, uint16(t)) }

// ParseProxyAuthenID decodes the Proxy Authen ID value of RFC 2661 section
// 4.4.5: a reserved octet that MUST be 0, then the PPP authentication ID.
func ParseProxyAuthenID(b []byte) (uint8, error) {
	if err := checkExactSize("Proxy Authen ID", b, 2); err != nil {
		return 0, err
	}
	if b[0] != 0 {
		return 0, fmt.Errorf("%w: Proxy Authen ID reserved octet is %#02x", ErrMalformed, b[0])
	}
	return b[1], nil
}

// NewAVPProxyAuthenID returns a Proxy Authen ID AVP for PPP identifier id.
func NewAVPProxyAuthenID(id uint8) AVP {
	return NewAVPBytes(AVPProxyAuthenID, []byte{0, id})
}

// CallErrors is the Call Errors AVP value of a WEN, RFC 2661 section
// 4.4.6: cumulative counters since the call was established, after a
// 2-octet reserved field.
type CallErrors struct {
	CRC, Framing, HardwareOverruns, BufferOverruns, Timeout, Alignment uint32
}

// ParseCallErrors decodes a 26-octet Call Errors value. A non-zero reserved
// field is accepted (section 3.1 spirit: reserved is ignored on receipt).
func ParseCallErrors(b []byte) (CallErrors, error) {
	if err := checkExactSize("Call Errors", b, 26); err != nil {
		return CallErrors{}, err
	}
	be := binary.BigEndian
	return CallErrors{
		CRC:              be.Uint32(b[2:6]),
		Framing:          be.Uint32(b[6:10]),
		HardwareOverruns: be.Uint32(b[10:14]),
		BufferOverruns:   be.Uint32(b[14:18]),
		Timeout:          be.Uint32(b[18:22]),
		Alignment:        be.Uint32(b[22:26]),
	}, nil
}

// Append appends the Call Errors value, reserved field 0.
func (c CallErrors) Append(b []byte) ([]byte, error) {
	be := binary.BigEndian
	b = be.AppendUint16(b, 0)
	for _, v := range [...]uint32{c.CRC, c.Framing, c.HardwareOverruns, c.BufferOverruns, c.Timeout, c.Alignment} {
		b = be.AppendUint32(b, v)
	}
	return b, nil
}

// AVP returns c as a Call Errors AVP.
func (c CallErrors) AVP() AVP {
	v, _ := c.Append(nil)
	return NewAVPBytes(AVPCallErrors, v)
}

// ACCM is the ACCM AVP value of an SLI, RFC 2661 section 4.4.6: the
// asynchronous control character maps the LNS negotiated, after a 2-octet
// reserved field.
type ACCM struct {
	Send, Recv uint32
}

// ParseACCM decodes a 10-octet ACCM value.
func ParseACCM(b []byte) (ACCM, error) {
	if err := checkExactSize("ACCM", b, 10); err != nil {
		return ACCM{}, err
	}
	return ACCM{Send: binary.BigEndian.Uint32(b[2:6]), Recv: binary.BigEndian.Uint32(b[6:10])}, nil
}

// Append appends the ACCM value, reserved field 0.
func (a ACCM) Append(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, a.Send)
	return binary.BigEndian.AppendUint32(b, a.Recv), nil
}

// AVP returns a as an ACCM AVP.
func (a ACCM) AVP() AVP {
	v, _ := a.Append(nil)
	return NewAVPBytes(AVPACCM, v)
}
