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
	TunnelZero       atomic.Uint64 // control messages for Tunnel ID 0 that are not an SCCRQ (section 4.4.3, Assigned Tunnel ID)
	WrongVersion     atomic.Uint64 // messages of one L2TP version for a tunnel of the other (RFC 3931 section 4.7.2)
	DigestFailures   atomic.Uint64 // L2TPv3 control messages dropped: Message Digest missing or wrong (RFC 3931 section 5.4.1)
	CookieMismatch   atomic.Uint64 // L2TPv3 data messages dropped: cookie not the one we assigned (RFC 3931 section 4.1)
	// L2TPv3 control messages dropped because they came before the SCCRP
	// that gives the peer's nonce: nothing it signs can be checked before
	// (RFC 3931 section 5.4.1). A lost or overtaken SCCRP makes these.
	DigestUnverifiable atomic.Uint64

	// Tunnels and calls.
	AuthFailures      atomic.Uint64 // missing or wrong Challenge Response (StopCCN result 4)
	TunnelsRefused    atomic.Uint64 // incoming SCCRQs refused by the Accept callback
	TunnelLimit       atomic.Uint64 // incoming SCCRQs dropped: Config.MaxTunnels reached
	HalfOpenLimit     atomic.Uint64 // incoming SCCRQs dropped: Config.MaxHalfOpen tunnels being set up
	HalfOpenPeerLimit atomic.Uint64 // incoming SCCRQs dropped: Config.MaxHalfOpenPerPeer from that address
	TieBreakerDrops   atomic.Uint64 // incoming SCCRQs discarded by the tie breaker (section 4.4.3)
	StopCCNRx         atomic.Uint64
	StopCCNTx         atomic.Uint64
	TunnelsUp         atomic.Uint64
	TunnelsDown       atomic.Uint64
	SessionsUp        atomic.Uint64
	SessionsDown      atomic.Uint64
	SessionsRefused   atomic.Uint64 // incoming calls answered with CDN
	SessionsRejected  atomic.Uint64 // calls we placed that the peer refused

	// Data messages (T=0).
	DataRx             atomic.Uint64
	DataTx             atomic.Uint64
	DataUnknownSession atomic.Uint64 // data for a tunnel/session we do not have: dropped here
	DataTxErrors       atomic.Uint64
}

// Each calls fn with every counter's name (snake_case, stable: the daemons
// build their Prometheus metric names from it) and value.
func (s *Stats) Each(fn func(name string, v uint64)) {
	fn("control_rx", s.ControlRx.Load())
	fn("control_tx", s.ControlTx.Load())
	fn("zlb_rx", s.ZLBRx.Load())
	fn("zlb_tx", s.ZLBTx.Load())
	fn("retransmits", s.Retransmits.Load())
	fn("duplicates", s.Duplicates.Load())
	fn("out_of_order", s.OutOfOrder.Load())
	fn("outside_window", s.OutsideWindow.Load())
	fn("bad_ack", s.BadAck.Load())
	fn("retry_exhaust", s.RetryExhaust.Load())
	fn("hellos_tx", s.HellosTx.Load())
	fn("malformed", s.Malformed.Load())
	fn("unknown_tunnel", s.UnknownTunnel.Load())
	fn("inbox_full", s.InboxFull.Load())
	fn("unexpected_msg", s.UnexpectedMsg.Load())
	fn("unknown_mandatory", s.UnknownMandatory.Load())
	fn("tunnel_zero", s.TunnelZero.Load())
	fn("wrong_version", s.WrongVersion.Load())
	fn("digest_failures", s.DigestFailures.Load())
	fn("cookie_mismatch", s.CookieMismatch.Load())
	fn("digest_unverifiable", s.DigestUnverifiable.Load())
	fn("auth_failures", s.AuthFailures.Load())
	fn("tunnels_refused", s.TunnelsRefused.Load())
	fn("tunnel_limit", s.TunnelLimit.Load())
	fn("half_open_limit", s.HalfOpenLimit.Load())
	fn("half_open_peer_limit", s.HalfOpenPeerLimit.Load())
	fn("tie_breaker_drops", s.TieBreakerDrops.Load())
	fn("stop_ccn_rx", s.StopCCNRx.Load())
	fn("stop_ccn_tx", s.StopCCNTx.Load())
	fn("tunnels_up", s.TunnelsUp.Load())
	fn("tunnels_down", s.TunnelsDown.Load())
	fn("sessions_up", s.SessionsUp.Load())
	fn("sessions_down", s.SessionsDown.Load())
	fn("sessions_refused", s.SessionsRefused.Load())
	fn("sessions_rejected", s.SessionsRejected.Load())
	fn("data_rx", s.DataRx.Load())
	fn("data_tx", s.DataTx.Load())
	fn("data_unknown_session", s.DataUnknownSession.Load())
	fn("data_tx_errors", s.DataTxErrors.Load())
}
