package l2tp

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// ResultCode is the value of the Result Code AVP, RFC 2661 section 4.4.2:
// a result, an optional error code and an optional UTF-8 error message. The
// meaning of Result depends on the message (StopCCNResult or CDNResult);
// Error is an ErrorCode. On the wire the error code is present when HasError
// is set or Message is not empty (the message can only follow an error code).
type ResultCode struct {
	Result   uint16
	Error    uint16
	HasError bool
	Message  string
}

// ParseResultCode decodes a Result Code value (section 4.4.2): 2 octets, 4,
// or more with a message.
func ParseResultCode(b []byte) (ResultCode, error) {
	switch {
	case len(b) < 2:
		return ResultCode{}, fmt.Errorf("%w: Result Code value of %d octets", ErrShort, len(b))
	case len(b) == 3:
		return ResultCode{}, fmt.Errorf("%w: Result Code value of 3 octets", ErrMalformed)
	}
	r := ResultCode{Result: binary.BigEndian.Uint16(b[0:2])}
	if len(b) >= 4 {
		r.HasError = true
		r.Error = binary.BigEndian.Uint16(b[2:4])
		r.Message = string(b[4:])
	}
	return r, nil
}

// Append appends the Result Code value of r.
func (r ResultCode) Append(b []byte) ([]byte, error) {
	if 4+len(r.Message) > maxAVPValue {
		return b, fmt.Errorf("%w: Result Code message of %d octets", ErrMalformed, len(r.Message))
	}
	b = binary.BigEndian.AppendUint16(b, r.Result)
	if r.HasError || r.Message != "" {
		b = binary.BigEndian.AppendUint16(b, r.Error)
		b = append(b, r.Message...)
	}
	return b, nil
}

// AVP returns r as a Result Code AVP (M=1, never hidden, section 4.4.2). A
// message too long for an AVP is cut to fit.
func (r ResultCode) AVP() AVP {
	if 4+len(r.Message) > maxAVPValue {
		r.Message = r.Message[:maxAVPValue-4]
	}
	v, _ := r.Append(nil)
	return NewAVPBytes(AVPResultCode, v)
}

// Describe renders r with the names its numbers have in a message of type
// t (StopCCN or CDN results, section 4.4.2).
func (r ResultCode) Describe(t MsgType) string {
	var s string
	if t == MsgStopCCN {
		s = StopCCNResult(r.Result).String()
	} else {
		s = CDNResult(r.Result).String()
	}
	if r.HasError || r.Message != "" {
		s += "/" + ErrorCode(r.Error).String()
	}
	if r.Message != "" {
		s += ": " + strconv.Quote(r.Message)
	}
	return s
}

// StopCCNResult is a Result Code value of a StopCCN, RFC 2661 section 4.4.2.
type StopCCNResult uint16

// StopCCN results of RFC 2661 section 4.4.2.
const (
	StopCCNGeneralRequest StopCCNResult = 1 // general request to clear control connection
	StopCCNGeneralError   StopCCNResult = 2 // general error, Error Code says which
	StopCCNChannelExists  StopCCNResult = 3 // control channel already exists
	StopCCNNotAuthorized  StopCCNResult = 4 // requester is not authorized
	StopCCNBadVersion     StopCCNResult = 5 // protocol version not supported; Error Code is the highest supported
	StopCCNShuttingDown   StopCCNResult = 6 // requester is being shut down
	StopCCNFSMError       StopCCNResult = 7 // finite state machine error
)

var stopCCNResultNames = [...]string{
	StopCCNGeneralRequest: "GeneralRequest",
	StopCCNGeneralError:   "GeneralError",
	StopCCNChannelExists:  "ChannelExists",
	StopCCNNotAuthorized:  "NotAuthorized",
	StopCCNBadVersion:     "BadVersion",
	StopCCNShuttingDown:   "ShuttingDown",
	StopCCNFSMError:       "FSMError",
}

func (r StopCCNResult) String() string {
	if int(r) < len(stopCCNResultNames) && stopCCNResultNames[r] != "" {
		return stopCCNResultNames[r]
	}
	return "StopCCNResult(" + strconv.Itoa(int(r)) + ")"
}

// CDNResult is a Result Code value of a CDN, RFC 2661 section 4.4.2.
type CDNResult uint16

// CDN results of RFC 2661 section 4.4.2.
const (
	CDNLostCarrier           CDNResult = 1  // call disconnected due to loss of carrier
	CDNGeneralError          CDNResult = 2  // Error Code says why
	CDNAdmin                 CDNResult = 3  // administrative reasons
	CDNNoFacilitiesTemporary CDNResult = 4  // lack of facilities, temporary
	CDNNoFacilitiesPermanent CDNResult = 5  // lack of facilities, permanent
	CDNInvalidDestination    CDNResult = 6  // invalid destination
	CDNNoCarrier             CDNResult = 7  // no carrier detected
	CDNBusy                  CDNResult = 8  // busy signal
	CDNNoDialTone            CDNResult = 9  // no dial tone
	CDNTimeout               CDNResult = 10 // not established within the time allotted by the LAC
	CDNNoFraming             CDNResult = 11 // connected but no appropriate framing detected
	// CDN results RFC 3931 section 5.4.2 adds for L2TPv3 sessions.
	CDNLostTieBreaker    CDNResult = 13 // session not established: lost the tie breaker
	CDNUnsupportedPWType CDNResult = 14 // session not established: unsupported pseudowire type
	CDNNoSublayer        CDNResult = 15 // sequencing required without a valid L2-Specific Sublayer
	CDNFSMError          CDNResult = 16 // finite state machine error or timeout
)

var cdnResultNames = [...]string{
	CDNLostCarrier:           "LostCarrier",
	CDNGeneralError:          "GeneralError",
	CDNAdmin:                 "Admin",
	CDNNoFacilitiesTemporary: "NoFacilitiesTemporary",
	CDNNoFacilitiesPermanent: "NoFacilitiesPermanent",
	CDNInvalidDestination:    "InvalidDestination",
	CDNNoCarrier:             "NoCarrier",
	CDNBusy:                  "Busy",
	CDNNoDialTone:            "NoDialTone",
	CDNTimeout:               "Timeout",
	CDNNoFraming:             "NoFraming",
	CDNLostTieBreaker:        "LostTieBreaker",
	CDNUnsupportedPWType:     "UnsupportedPWType",
	CDNNoSublayer:            "NoSublayer",
	CDNFSMError:              "FSMError",
}

func (r CDNResult) String() string {
	if int(r) < len(cdnResultNames) && cdnResultNames[r] != "" {
		return cdnResultNames[r]
	}
	return "CDNResult(" + strconv.Itoa(int(r)) + ")"
}

// ErrorCode is the General Error code of a Result Code AVP, RFC 2661
// section 4.4.2.
type ErrorCode uint16

// General error codes of RFC 2661 section 4.4.2.
const (
	ErrorNone                  ErrorCode = 0 // no general error
	ErrorNoControlConnection   ErrorCode = 1 // no control connection exists yet for this LAC-LNS pair
	ErrorLength                ErrorCode = 2 // length is wrong
	ErrorValueOutOfRange       ErrorCode = 3 // a field value was out of range or a reserved field non-zero
	ErrorInsufficientResources ErrorCode = 4 // insufficient resources to handle this operation now
	ErrorInvalidSessionID      ErrorCode = 5 // the Session ID is invalid in this context
	ErrorVendorSpecific        ErrorCode = 6 // generic vendor-specific error in the LAC
	ErrorTryAnother            ErrorCode = 7 // try another LNS
	ErrorUnknownMandatoryAVP   ErrorCode = 8 // unknown AVP with the M bit set (section 4.2)
	ErrorTryAnotherDirected    ErrorCode = 9 // RFC 3931 section 5.4.2: try one of the addresses in the message
)

var errorCodeNames = [...]string{
	ErrorNone:                  "None",
	ErrorNoControlConnection:   "NoControlConnection",
	ErrorLength:                "Length",
	ErrorValueOutOfRange:       "ValueOutOfRange",
	ErrorInsufficientResources: "InsufficientResources",
	ErrorInvalidSessionID:      "InvalidSessionID",
	ErrorVendorSpecific:        "VendorSpecific",
	ErrorTryAnother:            "TryAnother",
	ErrorUnknownMandatoryAVP:   "UnknownMandatoryAVP",
	ErrorTryAnotherDirected:    "TryAnotherDirected",
}

func (c ErrorCode) String() string {
	if int(c) < len(errorCodeNames) {
		return errorCodeNames[c]
	}
	return "ErrorCode(" + strconv.Itoa(int(c)) + ")"
}
