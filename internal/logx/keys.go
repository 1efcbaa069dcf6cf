package logx

// KeyComponent is the attribute that names the part of the daemon a line
// comes from; each package's logger carries it (logger.With(KeyComponent,
// L2TP)), and the per-component levels select on it.
const KeyComponent = "component"

// The components, as the levels key and the API name them.
const (
	L2TP       = "l2tp"
	PPP        = "ppp"
	PPPoE      = "pppoe"
	LAC        = "lac"
	LNS        = "lns"
	RADIUS     = "radius" // the RADIUS client and the CoA server (package aaa)
	Accounting = "accounting"
	Dataplane  = "dataplane"
	API        = "api"
)

// Components are the names a component level may be set for.
var Components = []string{API, Accounting, Dataplane, L2TP, LAC, LNS, PPP, PPPoE, RADIUS}

// Keys of the session event lines. Every line about one subscriber session
// carries the same set, those known at that point: on the LNS
// acct_session_id, tunnel_id and session_id (the local L2TP IDs), peer
// (the LAC's address), lac (its name), user and ip; on the LAC the same
// with mac and the PPPoE session.
const (
	KeyAcctSessionID = "acct_session_id"
	KeyUser          = "user"
	KeyTunnelID      = "tunnel_id"
	KeySessionID     = "session_id"
	KeyPeer          = "peer"
	KeyLAC           = "lac"
	KeyLNS           = "lns"
	KeyIP            = "ip"
	KeyMAC           = "mac"
	KeyCause         = "cause"
	KeyReason        = "reason"
)

// Messages of the session event lines: one line each, whichever part of
// the daemon saw the event.
const (
	MsgSessionUp      = "session up"
	MsgSessionDown    = "session down"
	MsgAuthFailed     = "authentication failed"
	MsgAddressRefused = "address refused"
)
