package l2tp

// This file pins the core wire types that the codec (header.go, avp*.go,
// hidden.go, message.go) and the control engine (channel, state machines,
// transport) share.

// MsgType is the value of the Message Type AVP, RFC 2661 section 3.2.
type MsgType uint16

// Control message types of RFC 2661 section 3.2.
const (
	MsgSCCRQ   MsgType = 1  // Start-Control-Connection-Request, section 6.1
	MsgSCCRP   MsgType = 2  // Start-Control-Connection-Reply, section 6.2
	MsgSCCCN   MsgType = 3  // Start-Control-Connection-Connected, section 6.3
	MsgStopCCN MsgType = 4  // Stop-Control-Connection-Notification, section 6.4
	MsgHELLO   MsgType = 6  // Hello, section 6.5
	MsgOCRQ    MsgType = 7  // Outgoing-Call-Request, section 6.9
	MsgOCRP    MsgType = 8  // Outgoing-Call-Reply, section 6.10
	MsgOCCN    MsgType = 9  // Outgoing-Call-Connected, section 6.11
	MsgICRQ    MsgType = 10 // Incoming-Call-Request, section 6.6
	MsgICRP    MsgType = 11 // Incoming-Call-Reply, section 6.7
	MsgICCN    MsgType = 12 // Incoming-Call-Connected, section 6.8
	MsgCDN     MsgType = 14 // Call-Disconnect-Notify, section 6.12
	MsgWEN     MsgType = 15 // WAN-Error-Notify, section 6.13
	MsgSLI     MsgType = 16 // Set-Link-Info, section 6.14
)

// AVPType is the Attribute Type of an AVP, RFC 2661 section 4.1.
type AVPType uint16

// The AVPs of RFC 2661 section 4.4 (types 0-39; 20 is unassigned).
const (
	AVPMessageType           AVPType = 0
	AVPResultCode            AVPType = 1
	AVPProtocolVersion       AVPType = 2
	AVPFramingCapabilities   AVPType = 3
	AVPBearerCapabilities    AVPType = 4
	AVPTieBreaker            AVPType = 5
	AVPFirmwareRevision      AVPType = 6
	AVPHostName              AVPType = 7
	AVPVendorName            AVPType = 8
	AVPAssignedTunnelID      AVPType = 9
	AVPReceiveWindowSize     AVPType = 10
	AVPChallenge             AVPType = 11
	AVPQ931Cause             AVPType = 12
	AVPChallengeResponse     AVPType = 13
	AVPAssignedSessionID     AVPType = 14
	AVPCallSerialNumber      AVPType = 15
	AVPMinimumBPS            AVPType = 16
	AVPMaximumBPS            AVPType = 17
	AVPBearerType            AVPType = 18
	AVPFramingType           AVPType = 19
	AVPCalledNumber          AVPType = 21
	AVPCallingNumber         AVPType = 22
	AVPSubAddress            AVPType = 23
	AVPTxConnectSpeed        AVPType = 24
	AVPPhysicalChannelID     AVPType = 25
	AVPInitialRecvLCPConfReq AVPType = 26
	AVPLastSentLCPConfReq    AVPType = 27
	AVPLastRecvLCPConfReq    AVPType = 28
	AVPProxyAuthenType       AVPType = 29
	AVPProxyAuthenName       AVPType = 30
	AVPProxyAuthenChallenge  AVPType = 31
	AVPProxyAuthenID         AVPType = 32
	AVPProxyAuthenResponse   AVPType = 33
	AVPCallErrors            AVPType = 34
	AVPACCM                  AVPType = 35
	AVPRandomVector          AVPType = 36
	AVPPrivateGroupID        AVPType = 37
	AVPRxConnectSpeed        AVPType = 38
	AVPSequencingRequired    AVPType = 39
)

// AVP is one Attribute-Value Pair, RFC 2661 section 4.1. Value is always the
// clear value: Parse removes the hiding of section 4.3 and Append applies it
// when Hidden is set. A parsed AVP owns its Value (control plane: copied).
type AVP struct {
	Mandatory bool    // M bit
	Hidden    bool    // H bit
	VendorID  uint16  // 0 for the IETF AVPs of section 4.4
	Type      AVPType // Attribute Type
	Value     []byte  // clear value
}

// Message is a control message: its type (from the Message Type AVP, which
// Parse consumes and Append writes first) and the AVPs that follow it, in
// wire order, unknown and vendor AVPs included. A ZLB acknowledgement is a
// control header with no message at all (section 5.8).
type Message struct {
	Type MsgType
	AVPs []AVP
}

// Header is the L2TP header of RFC 2661 section 3.1. Control messages have
// T, L and S set; data messages may carry length, sequence numbers and an
// offset. Length is the total length of the message when HasLength is set.
type Header struct {
	Control    bool // T: control message
	HasLength  bool // L: Length field present
	HasSeq     bool // S: Ns and Nr present
	HasOffset  bool // O: Offset Size present
	Priority   bool // P: data message to be preferred in queues
	Length     uint16
	TunnelID   uint16
	SessionID  uint16
	Ns, Nr     uint16
	OffsetSize uint16
}
