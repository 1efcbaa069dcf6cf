package l2tp

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Errors of the control engine. TunnelDown and Dial report them wrapped.
var (
	// ErrPeerUnreachable: the peer stopped acknowledging control
	// messages within the retransmission budget (section 5.8), for
	// example a HELLO after the idle interval.
	ErrPeerUnreachable = errors.New("l2tp: peer stopped acknowledging control messages")
	// ErrStopCCN: the peer sent a Stop-Control-Connection-Notification.
	ErrStopCCN = errors.New("l2tp: peer closed the control connection")
	// ErrNotAuthorized: tunnel authentication failed (section 5.1.1) or
	// the Accept callback refused the peer.
	ErrNotAuthorized = errors.New("l2tp: tunnel not authorized")
	// ErrTunnelClosed: the tunnel was closed locally, or is down.
	ErrTunnelClosed = errors.New("l2tp: tunnel closed")
	// ErrTieBreakerLost: our SCCRQ crossed the peer's and lost the tie
	// breaker (section 4.4.3); the peer's tunnel is accepted instead,
	// unless both values were equal (then both tunnels are discarded).
	ErrTieBreakerLost = errors.New("l2tp: lost the tie breaker to the peer's SCCRQ")
	// ErrProtocol: the peer broke section 7 or sent a message we cannot
	// accept (bad version, missing AVPs).
	ErrProtocol = errors.New("l2tp: protocol error")
	// ErrTooManySessions: the tunnel's session limit or ID space is full.
	ErrTooManySessions = errors.New("l2tp: no free session")
	// ErrNotRunning: Dial once Run is returning or has returned.
	ErrNotRunning = errors.New("l2tp: endpoint is not running")
)

// TunnelError is how a tunnel failed: the StopCCN Result Code sent or
// received (zero when the peer vanished) and the cause, one of the errors
// above. Dial returns it wrapped; errors.Is sees through it to Err.
type TunnelError struct {
	Result ResultCode
	Err    error
}

func (e *TunnelError) Error() string {
	if e.Result.Result == 0 {
		return e.Err.Error()
	}
	return e.Err.Error() + " (StopCCN " + e.Result.Describe(MsgStopCCN) + ")"
}

func (e *TunnelError) Unwrap() error { return e.Err }

// Config configures an Endpoint: one UDP socket serving many tunnels, or
// one raw socket of IP protocol 115 serving L2TPv3 control connections.
type Config struct {
	HostName         string // Host Name AVP we send (section 4.4.3); required
	VendorName       string // Vendor Name AVP, optional
	FirmwareRevision uint16 // Firmware Revision AVP, sent when non-zero
	// RouterID is the Router ID AVP of L2TPv3 (RFC 3931 section 5.4.3);
	// 0: the socket's local IPv4 address when it has one, else a hash of
	// HostName.
	RouterID uint32
	// Encap is EncapIP when the socket carries IP protocol 115 payloads
	// (L2TPv3 over IP, RFC 3931 section 4.1.1); it is set by itself for
	// a *net.IPConn. Such an endpoint runs L2TPv3 only.
	Encap Encap
	// Stats, when set, are the counters the endpoint adds to: a daemon's
	// UDP and IP endpoints share one set. nil: the endpoint's own.
	Stats *Stats
	// MoreConns are further UDP sockets of the endpoint, on other local
	// ports of the same address: the tunnels Dial opens are spread across
	// them and the endpoint's own socket, the fewest tunnels first, so
	// that each has its own 5-tuple (a NIC's receive-side scaling, and an
	// XDP program on its queues, then spread the tunnels across cores).
	// They carry dialled tunnels only: an SCCRQ arriving on one is
	// dropped and counted (TunnelZero).
	MoreConns []*net.UDPConn
	// DataSinks, when set, is called once for each socket's reader
	// goroutine and gives that reader its own Data and DataBatchEnd (the
	// two fields are then unused): a caller that stages frames between
	// the calls needs one staging per reader.
	DataSinks func() (data func(t *Tunnel, s *Session, h Header, payload []byte), end func())

	Logger *slog.Logger // nil: discard

	// Accept decides on an incoming SCCRQ (the accepting side, usually
	// the LNS) from the peer's address and Host Name, and returns the
	// options of the tunnel (its secret above all). An error refuses the
	// tunnel with StopCCN result 4 (not authorized), logged and counted.
	// A nil Accept refuses every incoming tunnel.
	Accept func(peer netip.AddrPort, hostName string) (TunnelOptions, error)

	// Handler receives tunnel and session events, from the tunnel
	// goroutines: it must not block (hand off to a channel). nil: none.
	Handler Handler

	// Data receives data messages (T=0) on the socket reader goroutine.
	// payload aliases the read buffer and is valid only during the call.
	// Data for an unknown tunnel or session is counted
	// (Stats.DataUnknownSession) and dropped by the Endpoint; Data is
	// never called with a nil Session.
	Data func(t *Tunnel, s *Session, h Header, payload []byte)

	// DataBatchEnd, when set, is called on the socket reader goroutine
	// after the datagrams of each read (up to 64 from one recvmmsg, or
	// one): a Data that stages its output can send it here, one system
	// call per batch.
	DataBatchEnd func()

	// NoGRO keeps UDP_GRO off on the socket: every read is one datagram
	// as it came. By default a run of datagrams from one peer may arrive
	// coalesced and is cut back into them; the reader then has 64 buffers
	// of 64 KiB (4 MiB, touched only as far as reads fill them) instead of
	// 64 of 4 KiB.
	NoGRO bool

	// Now is the clock (nil: time.Now); timers are derived from it.
	Now func() time.Time

	// InboxSize bounds each tunnel's queue of received control messages
	// (default 256); when full, messages are dropped and counted, the
	// peer retransmits.
	InboxSize int

	// MaxTunnels bounds the tunnels of the endpoint (default 4096);
	// SCCRQs beyond it are dropped and counted (Stats.TunnelLimit), so a
	// flood of SCCRQs costs a bounded number of goroutines.
	MaxTunnels int

	// MaxHalfOpen bounds the accepted tunnels whose set-up is not
	// complete (SCCRQ received, SCCCN not yet, or refused and lingering),
	// in total (default 1024) and from one peer address
	// (MaxHalfOpenPerPeer, default 64). SCCRQs beyond either are dropped
	// and counted (Stats.HalfOpenLimit, Stats.HalfOpenPeerLimit): a flood
	// of SCCRQs cannot hold a tunnel per SCCRQ for a retransmission
	// cycle, and one source cannot take every slot.
	MaxHalfOpen        int
	MaxHalfOpenPerPeer int

	// ShutdownTimeout bounds how long Run waits, after its context is
	// done, for the StopCCNs of every tunnel to be acknowledged
	// (default 2 s).
	ShutdownTimeout time.Duration
}

// TunnelOptions are the per-tunnel settings, for Dial and from Accept.
type TunnelOptions struct {
	// Secret is the shared secret of tunnel authentication (section
	// 5.1.1) and of hidden AVPs (section 4.3). When set, the tunnel sends
	// a Challenge and refuses a peer whose Challenge Response is missing
	// or wrong (StopCCN result 4).
	Secret []byte
	// RequireAuth also refuses a peer that does not challenge us
	// (mutual authentication). It needs Secret.
	RequireAuth bool
	// HideAVPs hides the AVPs that carry the subscriber's credentials,
	// Proxy Authen Name, Challenge, ID and Response (section 4.4.5), with
	// the hiding of section 4.3, in the call messages. Needs Secret. The
	// AVPs of SCCRQ, SCCRP and SCCCN are never hidden: a peer may look
	// its secret up only once it has parsed them (xl2tpd does, from the
	// SCCRP), and they carry nothing secret (the Challenge Response is a
	// hash already). Proxy Authen Type says nothing secret either.
	HideAVPs bool
	// HideNumbers also hides Calling Number and Called Number (section
	// 4.4.5: the subscriber's line and MAC address) in ICRQ and OCRQ.
	// Needs HideAVPs.
	HideNumbers bool
	// TieBreaker sends a Tie Breaker AVP in the SCCRQ (section 4.4.3):
	// set it when only one tunnel to the peer is wanted. While the
	// tunnel is being set up or is up, an SCCRQ from the same peer
	// address with a higher Tie Breaker, or with none, is discarded.
	TieBreaker bool

	HelloInterval     time.Duration // idle time before a HELLO (section 6.5); 0: 60 s; <0: never
	RecvWindow        uint16        // Receive Window Size we announce; 0: 4
	MaxRetries        int           // retransmissions before the tunnel is cleared; 0: 5
	RetransmitInitial time.Duration // first retransmission timeout; 0: 1 s
	RetransmitCap     time.Duration // cap of the backoff; 0: 8 s (section 5.8: no less; the daemons' configuration refuses less)
	AckDelay          time.Duration // how long a ZLB waits for a reply to ride on; 0: RetransmitInitial/10
	MaxSessions       int           // sessions on the tunnel; 0: 65535
	PeerHostName      string        // the Host Name the peer must send, when set

	// Version is the L2TP version of a tunnel Dial opens: 2 (RFC 2661,
	// also when 0) or 3 (RFC 3931). On the accepting side the header of
	// the peer's SCCRQ decides and Version is ignored.
	Version int
	// Digest signs every L2TPv3 control message with a Message Digest
	// AVP (RFC 3931 sections 4.3 and 5.4.1). DigestAuto: HMAC-MD5 with
	// nonces when Secret is set, nothing otherwise. A peer that does not
	// sign in return is refused with StopCCN result 4; a message whose
	// digest is missing or wrong is dropped and counted
	// (Stats.DigestFailures). Without a Secret, DigestMD5 and DigestSHA1
	// sign with an empty key and no nonces: the integrity check of
	// section 4.3. Secret, not the Challenge of L2TPv2, authenticates a
	// v3 tunnel, and RequireAuth means nothing there.
	Digest DigestMode
	// CookieLen is the size of the Assigned Cookie (RFC 3931 section
	// 4.1, 5.4.4) each L2TPv3 session of the tunnel asks of the peer's
	// data messages: 0 (none), 4 or 8 octets, a random value per
	// session. Data with a wrong cookie is dropped and counted
	// (Stats.CookieMismatch).
	CookieLen int
	// PWTypes are the pseudowire types an L2TPv3 tunnel advertises in its
	// Pseudowire Capabilities List (section 5.4.3) and accepts in ICRQs:
	// others are refused with CDN result 14. nil: PPP only.
	PWTypes []PWType
	// Versions, on the accepting side, are the L2TP versions taken from
	// this peer (2, 3); an SCCRQ of another is refused with StopCCN
	// result 5, whose Error Code names the highest version taken (RFC
	// 2661 section 4.4.2). nil: both.
	Versions []int
}

func (o TunnelOptions) withDefaults() TunnelOptions {
	if o.HelloInterval == 0 {
		o.HelloInterval = 60 * time.Second
	}
	if o.RecvWindow == 0 {
		o.RecvWindow = 4
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	if o.RetransmitInitial <= 0 {
		o.RetransmitInitial = time.Second
	}
	if o.RetransmitCap <= 0 {
		o.RetransmitCap = 8 * time.Second
	}
	if o.RetransmitCap < o.RetransmitInitial {
		o.RetransmitCap = o.RetransmitInitial
	}
	if o.AckDelay <= 0 {
		o.AckDelay = o.RetransmitInitial / 10
	}
	if o.MaxSessions <= 0 || o.MaxSessions > 65535 {
		o.MaxSessions = 65535
	}
	if o.Version == 0 {
		o.Version = 2
	}
	if len(o.PWTypes) == 0 {
		o.PWTypes = []PWType{PWPPP}
	}
	return o
}

// Handler receives the events of an Endpoint. Methods are called on the
// goroutine of the tunnel concerned and must not block.
type Handler interface {
	// TunnelUp: the control connection is established.
	TunnelUp(t *Tunnel)
	// TunnelDown: a tunnel announced by TunnelUp is cleared: StopCCN
	// sent or received (rc is its Result Code), retransmission exhausted
	// or HELLO unanswered (err wraps ErrPeerUnreachable). Every session
	// of the tunnel got SessionDown before. Tunnels that never came up
	// (a failed Dial, a refused or unauthenticated peer) are reported by
	// Dial's error, the log and Stats, not here.
	TunnelDown(t *Tunnel, rc ResultCode, err error)
	// IncomingCall asks whether to accept an ICRQ (LNS side, section
	// 7.4.2): nil answers ICRP; an error answers CDN, with the Result
	// Code of a *CallRefusedError or result 4 (no facilities) otherwise.
	IncomingCall(t *Tunnel, s *Session, icrq *Message) error
	// SessionUp: LNS, the ICCN arrived; LAC, the ICRP arrived and the
	// ICCN went out (iccn is the message sent).
	SessionUp(s *Session, iccn *Message)
	// SessionDown: CDN received or sent, or the tunnel went down (then
	// rc is the tunnel's StopCCN Result Code, or result 2 with error 0
	// when the peer vanished). Called for every session that was
	// announced by SessionUp or was still being set up.
	SessionDown(s *Session, rc ResultCode)
	// SetLinkInfo delivers an SLI (section 6.14).
	SetLinkInfo(s *Session, accm ACCM)
	// WANError delivers a WEN (section 6.13).
	WANError(s *Session, errs CallErrors)
}

// NopHandler implements Handler by doing nothing and accepting every call;
// embed it to implement only some methods.
type NopHandler struct{}

func (NopHandler) TunnelUp(*Tunnel)                               {}
func (NopHandler) TunnelDown(*Tunnel, ResultCode, error)          {}
func (NopHandler) IncomingCall(*Tunnel, *Session, *Message) error { return nil }
func (NopHandler) SessionUp(*Session, *Message)                   {}
func (NopHandler) SessionDown(*Session, ResultCode)               {}
func (NopHandler) SetLinkInfo(*Session, ACCM)                     {}
func (NopHandler) WANError(*Session, CallErrors)                  {}

// CallRefusedError is what Handler.IncomingCall returns to refuse a call
// with a given CDN Result Code (section 4.4.2).
type CallRefusedError struct {
	Result ResultCode
}

func (e *CallRefusedError) Error() string {
	return "l2tp: call refused: " + e.Result.Describe(MsgCDN)
}

// CallRequest is an incoming call the LAC places on a tunnel (section 7.4.1).
type CallRequest struct {
	// ICRQ holds the AVPs of the ICRQ besides Message Type and Assigned
	// Session ID: Call Serial Number (added when missing), Bearer Type,
	// Calling and Called Number, Physical Channel ID, ...
	ICRQ []AVP
	// ICCN holds the AVPs of the ICCN sent once the ICRP arrives: Tx
	// Connect Speed and Framing Type (defaults added when missing: 10
	// Mbit/s, synchronous), proxy LCP and proxy authentication AVPs
	// (26-33), Sequencing Required, ...
	ICCN []AVP
	// Value is attached to the Session (Session.Value) before any event.
	Value any
	// PWType is the pseudowire type of a call on an L2TPv3 tunnel
	// (RFC 3931 section 5.4.4); 0: PPP. An L2TPv2 call is PPP.
	PWType PWType
	// CircuitDown says the attachment circuit of an L2TPv3 call is
	// inactive when it is placed: the ICRQ's Circuit Status says so (RFC
	// 4719 section 2.2 c). Later changes: Session.SetCircuitStatus.
	CircuitDown bool
}

// OutgoingCallRequest is an outgoing call the LNS asks the LAC to place
// (section 7.5.2).
type OutgoingCallRequest struct {
	// OCRQ holds the AVPs of the OCRQ besides Message Type and Assigned
	// Session ID. Called Number should be set; Call Serial Number, Minimum
	// and Maximum BPS, Bearer Type and Framing Type get defaults when
	// missing (section 6.9 requires them).
	OCRQ []AVP
	// PWType is the pseudowire of an outgoing call on an L2TPv3 tunnel
	// (RFC 3931 section 6.9); 0: PPP. On L2TPv3 the OCRQ carries the
	// Serial Number, Remote End ID, Circuit Status and the data framing
	// of section 6.9 instead of the L2TPv2 defaults above.
	PWType PWType
	// Value is attached to the Session before any event.
	Value any
}

// OutgoingCallHandler is implemented by a Handler that can place outgoing
// calls on the LAC (section 7.5.1). Without it, every OCRQ is refused with
// CDN result 5 (no facilities, permanent).
type OutgoingCallHandler interface {
	// OutgoingCall decides on an OCRQ: nil answers OCRP, and the bearer
	// is then being placed: report its outcome from another goroutine
	// with Session.Answer (OCCN) or Session.Disconnect (CDN). An error
	// answers CDN as for IncomingCall.
	OutgoingCall(t *Tunnel, s *Session, ocrq *Message) error
}
