package l2tp

import "sync/atomic"

// Stats counts what an Endpoint did. The daemons export the fields as
// Prometheus counters; every field only grows.
type Stats struct {
	// Control channel, RFC 2661 section 5.8.
	ControlRx     atomic.Uint64 // control messages received (ZLB included)
	ControlTx     atomic.Uint64 // control messages sent (ZLB and retransmissions included)
	ZLBRx         atomic.Uint64 // ZLB acknowledgements received
	ZLBTx         atomic.Uint64 // ZLB acknowledgements sent
	Retransmits   atomic.Uint64 // control messages sent again after a timeout
	Duplicates    atomic.Uint64 // control messages received again (re-acknowledged)
	OutOfOrder    atomic.Uint64 // control messages queued ahead of a gap
	OutsideWindow atomic.Uint64 // control messages dropped: Ns outside the receive window
	BadAck        atomic.Uint64 // Nr acknowledging a message never sent (ignored)
	RetryExhaust  atomic.Uint64 // tunnels cleared because the peer stopped acknowledging
	HellosTx      atomic.Uint64 // HELLO messages sent after the idle interval

	// Input the endpoint refused.
	Malformed        atomic.Uint64 // datagrams that do not parse
	UnknownTunnel    atomic.Uint64 // control messages for a tunnel ID we do not have
	InboxFull        atomic.Uint64 // control messages dropped because a tunnel's inbox was full
	UnexpectedMsg    atomic.Uint64 // messages not allowed in the state they arrived in (section 7)
	UnknownMandatory atomic.Uint64 // messages with an unknown mandatory AVP

	// Tunnels and calls.
	AuthFailures     atomic.Uint64 // missing or wrong Challenge Response (StopCCN result 4)
	TunnelsRefused   atomic.Uint64 // incoming SCCRQs refused by the Accept callback
	TunnelLimit      atomic.Uint64 // incoming SCCRQs dropped: Config.MaxTunnels reached
	StopCCNRx        atomic.Uint64
	StopCCNTx        atomic.Uint64
	TunnelsUp        atomic.Uint64
	TunnelsDown      atomic.Uint64
	SessionsUp       atomic.Uint64
	SessionsDown     atomic.Uint64
	SessionsRefused  atomic.Uint64 // incoming calls answered with CDN
	SessionsRejected atomic.Uint64 // calls we placed that the peer refused

	// Data messages (T=0).
	DataRx             atomic.Uint64
	DataTx             atomic.Uint64
	DataUnknownSession atomic.Uint64 // data for a tunnel/session we do not have: dropped here
	DataTxErrors       atomic.Uint64
}
