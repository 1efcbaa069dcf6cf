package l2tp

// The call (session) state machines of RFC 2661 sections 7.4.1 (LAC incoming),
// 7.4.2 (LNS incoming), 7.5.1 (LAC outgoing) and 7.5.2 (LNS outgoing),
// transcribed cell by cell. Pure, like the control connection machine.

// CallRole says which of the four machines of section 7.4/7.5 a session runs.
type CallRole uint8

// The four call machines of section 7.
const (
	LACIncoming CallRole = iota // 7.4.1
	LNSIncoming                 // 7.4.2
	LACOutgoing                 // 7.5.1
	LNSOutgoing                 // 7.5.2
)

func (r CallRole) String() string {
	switch r {
	case LACIncoming:
		return "lac-incoming"
	case LNSIncoming:
		return "lns-incoming"
	case LACOutgoing:
		return "lac-outgoing"
	case LNSOutgoing:
		return "lns-outgoing"
	}
	return "CallRole(" + itoa(int(r)) + ")"
}

// CallState is a state of a call machine of section 7.4/7.5.
type CallState uint8

// Call states; each machine uses a subset.
const (
	CallIdle         CallState = iota
	CallWaitTunnel             // 7.4.1, 7.5.2
	CallWaitReply              // 7.4.1, 7.5.2
	CallWaitConnect            // 7.4.2, 7.5.2
	CallWaitCSAnswer           // 7.5.1
	CallEstablished
)

func (s CallState) String() string {
	switch s {
	case CallIdle:
		return "idle"
	case CallWaitTunnel:
		return "wait-tunnel"
	case CallWaitReply:
		return "wait-reply"
	case CallWaitConnect:
		return "wait-connect"
	case CallWaitCSAnswer:
		return "wait-cs-answer"
	case CallEstablished:
		return "established"
	}
	return "CallState(" + itoa(int(s)) + ")"
}

// CallEvent is an event of a call machine. "Bad" is the RFC's "not acceptable".
type CallEvent uint8

// Events of sections 7.4 and 7.5.
const (
	CallOpen          CallEvent = iota // bearer ring / local open request
	CallTunnelOpen                     // tunnel-open from the control connection
	CallClose                          // local close request or bearer line drop
	CallBearerAnswer                   // 7.5.1: bearer answer, framing detected
	CallBearerFailure                  // 7.5.1
	CallRecvICRQ
	CallRecvICRQBad
	CallRecvICRP
	CallRecvICRPBad
	CallRecvICCN
	CallRecvICCNBad
	CallRecvOCRQ
	CallRecvOCRQBad
	CallRecvOCRP
	CallRecvOCRPBad
	CallRecvOCCN
	CallRecvCDN
	numCallEvents
)

var callEventNames = [...]string{
	CallOpen: "open", CallTunnelOpen: "tunnel-open", CallClose: "close",
	CallBearerAnswer: "bearer-answer", CallBearerFailure: "bearer-failure",
	CallRecvICRQ: "recv-ICRQ", CallRecvICRQBad: "recv-ICRQ-bad",
	CallRecvICRP: "recv-ICRP", CallRecvICRPBad: "recv-ICRP-bad",
	CallRecvICCN: "recv-ICCN", CallRecvICCNBad: "recv-ICCN-bad",
	CallRecvOCRQ: "recv-OCRQ", CallRecvOCRQBad: "recv-OCRQ-bad",
	CallRecvOCRP: "recv-OCRP", CallRecvOCRPBad: "recv-OCRP-bad",
	CallRecvOCCN: "recv-OCCN", CallRecvCDN: "recv-CDN",
}

func (e CallEvent) String() string {
	if int(e) < len(callEventNames) {
		return callEventNames[e]
	}
	return "CallEvent(" + itoa(int(e)) + ")"
}

type callKey struct {
	s CallState
	e CallEvent
}

type callCell struct {
	next CallState
	acts []Action
}

var (
	cdnClean = []Action{ActSendCDN, ActCleanup}
	clean    = []Action{ActCleanup}
)

// callTables holds one table per role; rows naming several events or states
// are spelled out, one entry per (state, event).
var callTables = [...]map[callKey]callCell{
	// Section 7.4.1, LAC incoming call.
	LACIncoming: {
		{CallIdle, CallOpen}:        {CallWaitTunnel, []Action{ActOpenTunnel}},
		{CallIdle, CallRecvICCN}:    {CallIdle, clean},
		{CallIdle, CallRecvICCNBad}: {CallIdle, clean},
		{CallIdle, CallRecvICRP}:    {CallIdle, clean},
		{CallIdle, CallRecvICRPBad}: {CallIdle, clean},
		{CallIdle, CallRecvCDN}:     {CallIdle, clean},

		{CallWaitTunnel, CallClose}:      {CallIdle, clean},
		{CallWaitTunnel, CallTunnelOpen}: {CallWaitReply, []Action{ActSendICRQ}},

		{CallWaitReply, CallRecvICRP}:    {CallEstablished, []Action{ActSendICCN}},
		{CallWaitReply, CallRecvICRPBad}: {CallIdle, cdnClean},
		{CallWaitReply, CallRecvICRQ}:    {CallIdle, cdnClean},
		{CallWaitReply, CallRecvICRQBad}: {CallIdle, cdnClean},
		{CallWaitReply, CallRecvCDN}:     {CallIdle, clean},
		{CallWaitReply, CallRecvICCN}:    {CallIdle, clean},
		{CallWaitReply, CallRecvICCNBad}: {CallIdle, clean},
		{CallWaitReply, CallClose}:       {CallIdle, cdnClean},

		{CallEstablished, CallRecvCDN}:     {CallIdle, clean},
		{CallEstablished, CallRecvICRQ}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvICRQBad}: {CallIdle, cdnClean},
		{CallEstablished, CallRecvICRP}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvICRPBad}: {CallIdle, cdnClean},
		{CallEstablished, CallRecvICCN}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvICCNBad}: {CallIdle, cdnClean},
		{CallEstablished, CallClose}:       {CallIdle, cdnClean},
	},
	// Section 7.4.2, LNS incoming call.
	LNSIncoming: {
		{CallIdle, CallRecvICRQ}:    {CallWaitConnect, []Action{ActSendICRP}},
		{CallIdle, CallRecvICRQBad}: {CallIdle, cdnClean},
		{CallIdle, CallRecvICRP}:    {CallIdle, cdnClean},
		{CallIdle, CallRecvICRPBad}: {CallIdle, cdnClean},
		{CallIdle, CallRecvICCN}:    {CallIdle, clean},
		{CallIdle, CallRecvICCNBad}: {CallIdle, clean},

		{CallWaitConnect, CallRecvICCN}:    {CallEstablished, []Action{ActPrepareData}},
		{CallWaitConnect, CallRecvICCNBad}: {CallIdle, cdnClean},
		{CallWaitConnect, CallRecvICRQ}:    {CallIdle, cdnClean},
		{CallWaitConnect, CallRecvICRQBad}: {CallIdle, cdnClean},
		{CallWaitConnect, CallRecvICRP}:    {CallIdle, cdnClean},
		{CallWaitConnect, CallRecvICRPBad}: {CallIdle, cdnClean},

		{CallIdle, CallRecvCDN}:        {CallIdle, clean},
		{CallWaitConnect, CallRecvCDN}: {CallIdle, clean},
		{CallEstablished, CallRecvCDN}: {CallIdle, clean},

		{CallWaitConnect, CallClose}: {CallIdle, cdnClean},
		{CallEstablished, CallClose}: {CallIdle, cdnClean},

		{CallEstablished, CallRecvICRQ}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvICRQBad}: {CallIdle, cdnClean},
		{CallEstablished, CallRecvICRP}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvICRPBad}: {CallIdle, cdnClean},
		{CallEstablished, CallRecvICCN}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvICCNBad}: {CallIdle, cdnClean},
	},
	// Section 7.5.1, LAC outgoing call.
	LACOutgoing: {
		{CallIdle, CallRecvOCRQ}:    {CallWaitCSAnswer, []Action{ActSendOCRP, ActOpenBearer}},
		{CallIdle, CallRecvOCRQBad}: {CallIdle, cdnClean},
		{CallIdle, CallRecvOCRP}:    {CallIdle, cdnClean},
		{CallIdle, CallRecvOCRPBad}: {CallIdle, cdnClean},
		{CallIdle, CallRecvOCCN}:    {CallIdle, clean},
		{CallIdle, CallRecvCDN}:     {CallIdle, clean},

		{CallWaitCSAnswer, CallBearerAnswer}:  {CallEstablished, []Action{ActSendOCCN}},
		{CallWaitCSAnswer, CallBearerFailure}: {CallIdle, cdnClean},
		{CallWaitCSAnswer, CallRecvOCRQ}:      {CallIdle, cdnClean},
		{CallWaitCSAnswer, CallRecvOCRQBad}:   {CallIdle, cdnClean},
		{CallWaitCSAnswer, CallRecvOCRP}:      {CallIdle, cdnClean},
		{CallWaitCSAnswer, CallRecvOCRPBad}:   {CallIdle, cdnClean},
		{CallWaitCSAnswer, CallRecvOCCN}:      {CallIdle, cdnClean},

		{CallEstablished, CallRecvOCRQ}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvOCRQBad}: {CallIdle, cdnClean},
		{CallEstablished, CallRecvOCRP}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvOCRPBad}: {CallIdle, cdnClean},
		{CallEstablished, CallRecvOCCN}:    {CallIdle, cdnClean},

		{CallWaitCSAnswer, CallRecvCDN}: {CallIdle, clean},
		{CallEstablished, CallRecvCDN}:  {CallIdle, clean},

		{CallEstablished, CallClose}: {CallIdle, cdnClean},
		// Beyond the table: a local close while the bearer is being placed
		// is the "bearer failure" row.
		{CallWaitCSAnswer, CallClose}: {CallIdle, cdnClean},
	},
	// Section 7.5.2, LNS outgoing call.
	LNSOutgoing: {
		{CallIdle, CallOpen}:        {CallWaitTunnel, []Action{ActOpenTunnel}},
		{CallIdle, CallRecvOCCN}:    {CallIdle, clean},
		{CallIdle, CallRecvOCRP}:    {CallIdle, clean},
		{CallIdle, CallRecvOCRPBad}: {CallIdle, clean},
		{CallIdle, CallRecvCDN}:     {CallIdle, clean},

		{CallWaitTunnel, CallTunnelOpen}: {CallWaitReply, []Action{ActSendOCRQ}},

		{CallWaitReply, CallRecvOCRP}:    {CallWaitConnect, nil},
		{CallWaitReply, CallRecvOCRPBad}: {CallIdle, cdnClean},
		{CallWaitReply, CallRecvOCCN}:    {CallIdle, cdnClean},
		{CallWaitReply, CallRecvOCRQ}:    {CallIdle, cdnClean},
		{CallWaitReply, CallRecvOCRQBad}: {CallIdle, cdnClean},

		{CallWaitConnect, CallRecvOCCN}:    {CallEstablished, []Action{ActPrepareData}},
		{CallWaitConnect, CallRecvOCRQ}:    {CallIdle, cdnClean},
		{CallWaitConnect, CallRecvOCRQBad}: {CallIdle, cdnClean},
		{CallWaitConnect, CallRecvOCRP}:    {CallIdle, cdnClean},
		{CallWaitConnect, CallRecvOCRPBad}: {CallIdle, cdnClean},

		{CallWaitReply, CallRecvCDN}:   {CallIdle, clean},
		{CallWaitConnect, CallRecvCDN}: {CallIdle, clean},
		{CallEstablished, CallRecvCDN}: {CallIdle, clean},

		{CallEstablished, CallRecvOCRQ}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvOCRQBad}: {CallIdle, cdnClean},
		{CallEstablished, CallRecvOCRP}:    {CallIdle, cdnClean},
		{CallEstablished, CallRecvOCRPBad}: {CallIdle, cdnClean},
		{CallEstablished, CallRecvOCCN}:    {CallIdle, cdnClean},

		{CallWaitReply, CallClose}:   {CallIdle, cdnClean},
		{CallWaitConnect, CallClose}: {CallIdle, cdnClean},
		{CallEstablished, CallClose}: {CallIdle, cdnClean},
		{CallWaitTunnel, CallClose}:  {CallIdle, clean},
	},
}

// callTransition returns the next state and actions of machine r for event
// e in state s. An event the machine's table does not list leaves the
// state alone and returns ActUnexpected.
func callTransition(r CallRole, s CallState, e CallEvent) (CallState, []Action) {
	if int(r) >= len(callTables) {
		return s, []Action{ActUnexpected}
	}
	c, ok := callTables[r][callKey{s, e}]
	if !ok {
		return s, []Action{ActUnexpected}
	}
	return c.next, c.acts
}
