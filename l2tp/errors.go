package l2tp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors of the codec. Every error returned by a Parse or Append
// function of this package wraps one of these (or is one of the typed errors
// below), so callers can count drops by kind with errors.Is.
var (
	// ErrShort: the input ends before a field that must be there.
	ErrShort = errors.New("l2tp: short packet")
	// ErrMalformed: a field has a value or size the RFC does not allow.
	ErrMalformed = errors.New("l2tp: malformed packet")
	// ErrNoSecret: a hidden AVP (RFC 2661 section 4.3) arrived or must be
	// sent, but no tunnel secret is configured.
	ErrNoSecret = errors.New("l2tp: hidden AVP without a shared secret")
	// ErrNoRandomVector: a hidden AVP is not preceded by a Random Vector AVP
	// (RFC 2661 section 4.3).
	ErrNoRandomVector = errors.New("l2tp: hidden AVP without a preceding Random Vector")
)

// UnknownMandatoryAVPError reports an AVP with the M bit set that this
// implementation does not recognise (RFC 2661 section 4.1): an unknown IETF
// attribute, any vendor attribute, or an AVP with a reserved bit set. The
// session (for a session-scoped message, see MsgType.SessionScoped) or the
// whole tunnel must be torn down with the result code given by Result.
type UnknownMandatoryAVPError struct {
	Msg      MsgType
	VendorID uint16
	Type     AVPType
}

func (e *UnknownMandatoryAVPError) Error() string {
	return fmt.Sprintf("l2tp: %s: unknown mandatory AVP %s", e.Msg, e.avpName())
}

func (e *UnknownMandatoryAVPError) avpName() string {
	if e.VendorID != 0 {
		return fmt.Sprintf("vendor %d type %d", e.VendorID, uint16(e.Type))
	}
	return fmt.Sprintf("type %d", uint16(e.Type))
}

// Result is the Result Code to send in the CDN (session-scoped message) or
// StopCCN (tunnel-scoped message) that tears down what the AVP belonged to:
// result 2 (general error) with error code 8 (unknown mandatory AVP), and the
// offending attribute in text as RFC 2661 section 4.4.2 recommends.
func (e *UnknownMandatoryAVPError) Result() ResultCode {
	return ResultCode{
		Result:   uint16(StopCCNGeneralError), // == CDNGeneralError == 2
		Error:    uint16(ErrorUnknownMandatoryAVP),
		HasError: true,
		Message:  "unknown mandatory AVP " + e.avpName(),
	}
}

// UnknownMessageError reports a control message whose Message Type value is
// not defined by RFC 2661 section 3.2. When Mandatory (the M bit of the
// Message Type AVP) is set the tunnel must be cleared (section 4.4.1);
// otherwise the message may be ignored (it still has to be acknowledged).
//
// VendorID is set for a vendor-specific message type, one whose Message
// Type AVP carries a Vendor ID (RFC 3931 section 5.4.1); bras knows none.
type UnknownMessageError struct {
	Type      MsgType
	Mandatory bool
	VendorID  uint16
}

func (e *UnknownMessageError) Error() string {
	s := "l2tp: unknown message type " + strconv.Itoa(int(e.Type))
	if e.VendorID != 0 {
		s = "l2tp: unknown message type " + strconv.Itoa(int(e.Type)) + " of vendor " + strconv.Itoa(int(e.VendorID))
	}
	if e.Mandatory {
		s = strings.Replace(s, "unknown ", "unknown mandatory ", 1)
	}
	return s
}

// Result is the Result Code of the StopCCN that clears the tunnel after an
// unknown mandatory message type: general error, error code 3 (a field
// value out of range), RFC 2661 sections 4.4.1 and 4.4.2.
func (e *UnknownMessageError) Result() ResultCode {
	return ResultCode{
		Result:   uint16(StopCCNGeneralError),
		Error:    uint16(ErrorValueOutOfRange),
		HasError: true,
		Message:  fmt.Sprintf("unknown message type %d", uint16(e.Type)),
	}
}

// MissingAVPError reports a control message that lacks an AVP RFC 2661
// section 6 requires in it. The message must not be acted upon; the
// receiver tears down the session (CDN) or tunnel (StopCCN) it belongs to,
// with the Result Code given by Result.
type MissingAVPError struct {
	Msg MsgType
	AVP AVPType
}

func (e *MissingAVPError) Error() string {
	return fmt.Sprintf("l2tp: %s: missing required AVP %s", e.Msg, e.AVP)
}

// Result is the Result Code for tearing down after a message that lacks a
// required AVP: general error, error code 3 (a field value was out of range
// or reserved), RFC 2661 section 4.4.2. The error message names the AVP.
func (e *MissingAVPError) Result() ResultCode {
	return ResultCode{
		Result:   uint16(StopCCNGeneralError),
		Error:    uint16(ErrorValueOutOfRange),
		HasError: true,
		Message:  "missing " + e.AVP.String() + " AVP",
	}
}

// MalformedAVPError reports a recognised AVP with the M bit set whose value
// breaks RFC 2661 section 4.4 (wrong size, a zero ID, a non-zero reserved
// octet). Section 7.1: the session or tunnel the message belongs to is
// terminated with the Result Code given by Result. It wraps ErrMalformed.
type MalformedAVPError struct {
	Msg  MsgType
	AVP  AVPType
	Code ErrorCode // ErrorLength or ErrorValueOutOfRange
	Err  error
}

func (e *MalformedAVPError) Error() string {
	return fmt.Sprintf("l2tp: %s: %v", e.Msg, e.Err)
}

func (e *MalformedAVPError) Unwrap() error { return e.Err }

// Result is the Result Code for tearing down after a malformed mandatory
// AVP: general error, error code 2 (length is wrong) or 3 (value out of
// range), section 4.4.2, with the AVP named in the message.
func (e *MalformedAVPError) Result() ResultCode {
	return ResultCode{
		Result:   uint16(StopCCNGeneralError),
		Error:    uint16(e.Code),
		HasError: true,
		Message:  "malformed " + e.AVP.String() + " AVP",
	}
}
