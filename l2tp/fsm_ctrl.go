package l2tp

// The control connection state machine of RFC 2661 section 7.2.1, transcribed
// cell by cell. It is pure: the tunnel feeds it events (already judged
// acceptable or not: version, authentication, tie breaker) and performs the
// actions it returns.

// CtrlState is a state of the control connection, section 7.2.1.
type CtrlState uint8

// Control connection states of section 7.2.1.
const (
	CtrlIdle CtrlState = iota
	CtrlWaitCtlReply
	CtrlWaitCtlConn
	CtrlEstablished
)

func (s CtrlState) String() string {
	switch s {
	case CtrlIdle:
		return "idle"
	case CtrlWaitCtlReply:
		return "wait-ctl-reply"
	case CtrlWaitCtlConn:
		return "wait-ctl-conn"
	case CtrlEstablished:
		return "established"
	}
	return "CtrlState(" + itoa(int(s)) + ")"
}

// CtrlEvent is an event of the control connection state machine.
type CtrlEvent uint8

// Events of section 7.2.1. "Bad" is the RFC's "not acceptable".
const (
	CtrlOpen             CtrlEvent = iota // local open request
	CtrlClose                             // administrative tunnel close
	CtrlRecvSCCRQ                         // SCCRQ, acceptable
	CtrlRecvSCCRQBad                      // SCCRQ, not acceptable
	CtrlRecvSCCRQLoseTie                  // SCCRQ from the peer we are dialing, and we lose the tie breaker (section 5.8)
	CtrlRecvSCCRP                         // SCCRP, acceptable
	CtrlRecvSCCRPBad                      // SCCRP, not acceptable (version, authentication)
	CtrlRecvSCCCN                         // SCCCN, acceptable
	CtrlRecvSCCCNBad                      // SCCCN, not acceptable (challenge response)
	CtrlRecvStopCCN
	numCtrlEvents
)

func (e CtrlEvent) String() string {
	switch e {
	case CtrlOpen:
		return "open"
	case CtrlClose:
		return "close"
	case CtrlRecvSCCRQ:
		return "recv-SCCRQ"
	case CtrlRecvSCCRQBad:
		return "recv-SCCRQ-bad"
	case CtrlRecvSCCRQLoseTie:
		return "recv-SCCRQ-lose-tie"
	case CtrlRecvSCCRP:
		return "recv-SCCRP"
	case CtrlRecvSCCRPBad:
		return "recv-SCCRP-bad"
	case CtrlRecvSCCCN:
		return "recv-SCCCN"
	case CtrlRecvSCCCNBad:
		return "recv-SCCCN-bad"
	case CtrlRecvStopCCN:
		return "recv-StopCCN"
	}
	return "CtrlEvent(" + itoa(int(e)) + ")"
}

// Action is something a state machine of section 7 asks its caller to do.
type Action uint8

// Actions of the section 7 tables.
const (
	ActSendSCCRQ Action = iota + 1
	ActSendSCCRP
	ActSendSCCCN
	ActSendStopCCN
	ActTunnelOpen   // send tunnel-open event to waiting sessions
	ActRequeueSCCRQ // re-queue the peer's SCCRQ for the idle state (lost tie breaker)
	ActCleanup      // clean up the tunnel or session
	ActOpenTunnel   // initiate local tunnel open (call waits for it)
	ActSendICRQ     // LAC incoming call
	ActSendICRP     // LNS incoming call
	ActSendICCN     // LAC incoming call
	ActSendOCRQ     // LNS outgoing call
	ActSendOCRP     // LAC outgoing call
	ActSendOCCN     // LAC outgoing call
	ActSendCDN      // either side
	ActOpenBearer   // LAC outgoing call: place the call
	ActPrepareData  // the session carries data from now on
	ActUnexpected   // not in the RFC's table: count and drop
)

func (a Action) String() string {
	switch a {
	case ActSendSCCRQ:
		return "send-SCCRQ"
	case ActSendSCCRP:
		return "send-SCCRP"
	case ActSendSCCCN:
		return "send-SCCCN"
	case ActSendStopCCN:
		return "send-StopCCN"
	case ActTunnelOpen:
		return "tunnel-open"
	case ActRequeueSCCRQ:
		return "requeue-SCCRQ"
	case ActCleanup:
		return "cleanup"
	case ActOpenTunnel:
		return "open-tunnel"
	case ActSendICRQ:
		return "send-ICRQ"
	case ActSendICRP:
		return "send-ICRP"
	case ActSendICCN:
		return "send-ICCN"
	case ActSendOCRQ:
		return "send-OCRQ"
	case ActSendOCRP:
		return "send-OCRP"
	case ActSendOCCN:
		return "send-OCCN"
	case ActSendCDN:
		return "send-CDN"
	case ActOpenBearer:
		return "open-bearer"
	case ActPrepareData:
		return "prepare-data"
	case ActUnexpected:
		return "unexpected"
	}
	return "Action(" + itoa(int(a)) + ")"
}

type ctrlCell struct {
	next CtrlState
	acts []Action
}

type ctrlKey struct {
	s CtrlState
	e CtrlEvent
}

// ctrlTable is section 7.2.1, one entry per row (rows naming several
// events or states are spelled out). Rows marked "beyond the table" are not
// in the RFC and say what this implementation does.
var ctrlTable = map[ctrlKey]ctrlCell{
	{CtrlIdle, CtrlOpen}:         {CtrlWaitCtlReply, []Action{ActSendSCCRQ}},
	{CtrlIdle, CtrlRecvSCCRQ}:    {CtrlWaitCtlConn, []Action{ActSendSCCRP}},
	{CtrlIdle, CtrlRecvSCCRQBad}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlIdle, CtrlRecvSCCRP}:    {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlIdle, CtrlRecvSCCRPBad}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlIdle, CtrlRecvSCCCN}:    {CtrlIdle, []Action{ActCleanup}},
	{CtrlIdle, CtrlRecvSCCCNBad}: {CtrlIdle, []Action{ActCleanup}},

	{CtrlWaitCtlReply, CtrlRecvSCCRP}:        {CtrlEstablished, []Action{ActSendSCCCN, ActTunnelOpen}},
	{CtrlWaitCtlReply, CtrlRecvSCCRPBad}:     {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlWaitCtlReply, CtrlRecvSCCRQLoseTie}: {CtrlIdle, []Action{ActCleanup, ActRequeueSCCRQ}},
	{CtrlWaitCtlReply, CtrlRecvSCCCN}:        {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlWaitCtlReply, CtrlRecvSCCCNBad}:     {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},

	{CtrlWaitCtlConn, CtrlRecvSCCCN}:    {CtrlEstablished, []Action{ActTunnelOpen}},
	{CtrlWaitCtlConn, CtrlRecvSCCCNBad}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlWaitCtlConn, CtrlRecvSCCRP}:    {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlWaitCtlConn, CtrlRecvSCCRPBad}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlWaitCtlConn, CtrlRecvSCCRQ}:    {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlWaitCtlConn, CtrlRecvSCCRQBad}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},

	{CtrlEstablished, CtrlOpen}:         {CtrlEstablished, []Action{ActTunnelOpen}},
	{CtrlEstablished, CtrlClose}:        {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlEstablished, CtrlRecvSCCRQ}:    {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlEstablished, CtrlRecvSCCRQBad}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlEstablished, CtrlRecvSCCRP}:    {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlEstablished, CtrlRecvSCCRPBad}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlEstablished, CtrlRecvSCCCN}:    {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlEstablished, CtrlRecvSCCCNBad}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},

	{CtrlIdle, CtrlRecvStopCCN}:         {CtrlIdle, []Action{ActCleanup}},
	{CtrlWaitCtlReply, CtrlRecvStopCCN}: {CtrlIdle, []Action{ActCleanup}},
	{CtrlWaitCtlConn, CtrlRecvStopCCN}:  {CtrlIdle, []Action{ActCleanup}},
	{CtrlEstablished, CtrlRecvStopCCN}:  {CtrlIdle, []Action{ActCleanup}},

	// Beyond the table: a close before the tunnel is up still owes the peer
	// a StopCCN (section 7.6); a second open while one is under way waits
	// for the tunnel-open of the first.
	{CtrlWaitCtlReply, CtrlClose}: {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlWaitCtlConn, CtrlClose}:  {CtrlIdle, []Action{ActSendStopCCN, ActCleanup}},
	{CtrlIdle, CtrlClose}:         {CtrlIdle, []Action{ActCleanup}},
	{CtrlWaitCtlReply, CtrlOpen}:  {CtrlWaitCtlReply, nil},
	{CtrlWaitCtlConn, CtrlOpen}:   {CtrlWaitCtlConn, nil},
}

// ctrlTransition returns the next state and the actions for event e in
// state s. An event the table does not list leaves the state alone and
// returns ActUnexpected.
func ctrlTransition(s CtrlState, e CtrlEvent) (CtrlState, []Action) {
	c, ok := ctrlTable[ctrlKey{s, e}]
	if !ok {
		return s, []Action{ActUnexpected}
	}
	return c.next, c.acts
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
