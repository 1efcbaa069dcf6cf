package l2tp

import "strconv"

// msgNames are the abbreviations RFC 2661 section 3.2 uses for each message.
var msgNames = [...]string{
	MsgSCCRQ:   "SCCRQ",
	MsgSCCRP:   "SCCRP",
	MsgSCCCN:   "SCCCN",
	MsgStopCCN: "StopCCN",
	MsgHELLO:   "HELLO",
	MsgOCRQ:    "OCRQ",
	MsgOCRP:    "OCRP",
	MsgOCCN:    "OCCN",
	MsgICRQ:    "ICRQ",
	MsgICRP:    "ICRP",
	MsgICCN:    "ICCN",
	MsgCDN:     "CDN",
	MsgWEN:     "WEN",
	MsgSLI:     "SLI",
}

// String returns the RFC 2661 section 3.2 abbreviation ("SCCRQ", "ICCN"),
// "ACK" for the Explicit Acknowledgement of RFC 3931 section 3.1, or
// "MsgType(N)" for a value neither RFC defines.
func (t MsgType) String() string {
	if int(t) < len(msgNames) && msgNames[t] != "" {
		return msgNames[t]
	}
	if t == MsgACK {
		return "ACK" // RFC 3931 section 3.1
	}
	return "MsgType(" + strconv.Itoa(int(t)) + ")"
}

// Known reports whether t is one of the message types of RFC 2661 section 3.2.
func (t MsgType) Known() bool {
	return int(t) < len(msgNames) && msgNames[t] != ""
}

// avpNames are the AVP names of RFC 2661 section 4.4, without spaces.
var avpNames = [...]string{
	AVPMessageType:           "MessageType",
	AVPResultCode:            "ResultCode",
	AVPProtocolVersion:       "ProtocolVersion",
	AVPFramingCapabilities:   "FramingCapabilities",
	AVPBearerCapabilities:    "BearerCapabilities",
	AVPTieBreaker:            "TieBreaker",
	AVPFirmwareRevision:      "FirmwareRevision",
	AVPHostName:              "HostName",
	AVPVendorName:            "VendorName",
	AVPAssignedTunnelID:      "AssignedTunnelID",
	AVPReceiveWindowSize:     "ReceiveWindowSize",
	AVPChallenge:             "Challenge",
	AVPQ931Cause:             "Q931Cause",
	AVPChallengeResponse:     "ChallengeResponse",
	AVPAssignedSessionID:     "AssignedSessionID",
	AVPCallSerialNumber:      "CallSerialNumber",
	AVPMinimumBPS:            "MinimumBPS",
	AVPMaximumBPS:            "MaximumBPS",
	AVPBearerType:            "BearerType",
	AVPFramingType:           "FramingType",
	AVPCalledNumber:          "CalledNumber",
	AVPCallingNumber:         "CallingNumber",
	AVPSubAddress:            "SubAddress",
	AVPTxConnectSpeed:        "TxConnectSpeed",
	AVPPhysicalChannelID:     "PhysicalChannelID",
	AVPInitialRecvLCPConfReq: "InitialRecvLCPConfReq",
	AVPLastSentLCPConfReq:    "LastSentLCPConfReq",
	AVPLastRecvLCPConfReq:    "LastRecvLCPConfReq",
	AVPProxyAuthenType:       "ProxyAuthenType",
	AVPProxyAuthenName:       "ProxyAuthenName",
	AVPProxyAuthenChallenge:  "ProxyAuthenChallenge",
	AVPProxyAuthenID:         "ProxyAuthenID",
	AVPProxyAuthenResponse:   "ProxyAuthenResponse",
	AVPCallErrors:            "CallErrors",
	AVPACCM:                  "ACCM",
	AVPRandomVector:          "RandomVector",
	AVPPrivateGroupID:        "PrivateGroupID",
	AVPRxConnectSpeed:        "RxConnectSpeed",
	AVPSequencingRequired:    "SequencingRequired",
}

// String returns the name of an IETF AVP of RFC 2661 section 4.4
// ("AssignedTunnelID") or RFC 3931 section 5.4 ("LocalSessionID"), or
// "AVPType(N)" for any other value.
func (t AVPType) String() string {
	if int(t) < len(avpNames) && avpNames[t] != "" {
		return avpNames[t]
	}
	if int(t) < len(v3AVPNames) && v3AVPNames[t] != "" {
		return v3AVPNames[t] // RFC 3931 section 5.4, RFC 4951
	}
	return "AVPType(" + strconv.Itoa(int(t)) + ")"
}

// Known reports whether t is an IETF AVP defined by RFC 2661 section 4.4
// (types 0-39 except the unassigned 20).
func (t AVPType) Known() bool {
	return int(t) < len(avpNames) && avpNames[t] != ""
}
