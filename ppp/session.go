package ppp

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"
)

// Link moves PPP frames for a Session: a PPPoE session, an L2TP session. A
// frame starts with the two-octet Protocol field (no HDLC Address and Control;
// the link adds FF 03 where it needs them). The Session does not keep the
// slice after Send returns.
type Link interface {
	Send(frame []byte) error
}

// Role says which end of the link a Session plays.
type Role uint8

// Roles.
const (
	// Server is the LNS / access-concentrator end: it asks the peer to
	// authenticate and assigns its address.
	Server Role = iota
	// Client is the subscriber end (the emulator, or a LAC negotiating in
	// its place): it authenticates and takes the address it is given.
	Client
)

func (r Role) String() string {
	if r == Client {
		return "client"
	}
	return "server"
}

// Phase is a phase of the link, RFC 1661 section 3.2.
type Phase uint8

// Phases.
const (
	PhaseDead Phase = iota
	PhaseEstablish
	PhaseAuthenticate
	PhaseNetwork
	PhaseTerminate
)

func (p Phase) String() string {
	switch p {
	case PhaseDead:
		return "Dead"
	case PhaseEstablish:
		return "Establish"
	case PhaseAuthenticate:
		return "Authenticate"
	case PhaseNetwork:
		return "Network"
	case PhaseTerminate:
		return "Terminate"
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// Reason says why a session ended.
type Reason uint8

// Reasons.
const (
	ReasonNone              Reason = iota
	ReasonPeerTerminate            // the peer sent LCP Terminate-Request
	ReasonEchoTimeout              // no Echo-Reply: dead peer
	ReasonAuthFailed               // wrong credentials, or the peer will not authenticate
	ReasonNegotiationFailed        // Max-Configure, Max-Failure, or a catastrophic Code-/Protocol-Reject
	ReasonLocalClose               // Close was called
	ReasonLoopback                 // the link is looped back (RFC 1661 section 6.4)
	ReasonLowerDown                // the link went away (PADT, CDN): LowerDown was called
)

func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonPeerTerminate:
		return "peer-terminate"
	case ReasonEchoTimeout:
		return "echo-timeout"
	case ReasonAuthFailed:
		return "auth-failed"
	case ReasonNegotiationFailed:
		return "negotiation-failed"
	case ReasonLocalClose:
		return "local-close"
	case ReasonLoopback:
		return "loopback"
	case ReasonLowerDown:
		return "lower-down"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// EchoConfig drives LCP Echo keepalive (RFC 1661 section 5.8).
type EchoConfig struct {
	// Interval between Echo-Requests; zero disables keepalive.
	Interval time.Duration
	// MaxFailures unanswered Echo-Requests declare the peer dead (default 3).
	MaxFailures int
}

// NetworkInfo is the outcome of IPCP (RFC 1332, RFC 1877).
type NetworkInfo struct {
	Local, Peer netip.Addr
	DNS1, DNS2  netip.Addr
}

// Handler receives a Session's events, on the goroutine that drives it.
type Handler interface {
	// Up is called when IPCP opens.
	Up(s *Session, n NetworkInfo)
	// Down is called once, when the session has ended (LCP finished, Phase
	// Dead): the owner then tears the link down (PADT, CDN).
	Down(s *Session, r Reason)
}

// Authenticator checks credentials for a Server session. It is asynchronous
// so that a RADIUS round trip never blocks the goroutine that owns the
// session: Authenticate starts the check and must not block; the result comes
// back through Session.AuthResult, called on the owning goroutine.
//
// A LAC in proxy mode runs a Server session with an Authenticator that only
// records the request and never answers: the session then stays in the
// Authenticate phase with LCP open, and Session.ProxyInfo returns the LCP
// Configure-Requests and credentials to forward (RFC 2661 section 4.4.5).
type Authenticator interface {
	Authenticate(s *Session, req AuthRequest)
}

// AuthRequest is a subscriber's credentials. Byte slices are the Session's
// own copies and stay valid.
type AuthRequest struct {
	Proto    AuthProto
	Username string
	Password []byte // PAP
	// CHAP (RFC 1994 section 4.1): the expected Response is
	// MD5(ChapID ‖ secret ‖ Challenge).
	ChapID    uint8
	Challenge []byte
	Response  []byte
}

// AuthResult is the Authenticator's answer.
type AuthResult struct {
	OK      bool
	Message string
	// IP, DNS1 and DNS2 are what the server then assigns in IPCP.
	IP         netip.Addr
	DNS1, DNS2 netip.Addr
	// NoIPv4 refuses IPCP (LCP Protocol-Reject, RFC 1661 section 5.7): an
	// IPv6-only subscriber.
	NoIPv4 bool
	// IPv6 runs IPV6CP (RFC 5072) next to IPCP; without it the server
	// Protocol-Rejects IPV6CP. InterfaceID, when non-zero, is the
	// identifier the peer must use (RADIUS Framed-Interface-Id, RFC 3162
	// section 2.2).
	IPv6        bool
	InterfaceID InterfaceID
}

// Config configures a Session. Zero values take the RFC defaults.
type Config struct {
	Role Role
	// MRU is our MRU: 1492 on PPPoE, 1500 (the default) with PPP-Max-Payload.
	MRU uint16
	// Auth lists the protocols in order of preference. Server: what it asks
	// for (the peer may Nak to another in the list); an empty list asks
	// for no authentication. Client: what it accepts (empty: PAP and
	// CHAP-MD5).
	Auth          []AuthProto
	Authenticator Authenticator // server
	// Name is sent in CHAP Challenges (server); default "bras".
	Name               string
	Username, Password string // client
	// LocalIP is the server's own IPCP address; on a client a static address
	// to request instead of 0.0.0.0.
	LocalIP netip.Addr
	// IPv6 makes a client run IPV6CP next to IPCP (a server runs it when
	// AuthResult.IPv6 says so). InterfaceID is our identifier (RFC 5072
	// section 4.1); zero draws a random one per negotiation.
	IPv6        bool
	InterfaceID InterfaceID
	Echo        EchoConfig
	// Restart is the restart timer (default 3 s); MaxConfigure (10),
	// MaxFailure (5) and MaxTerminate (2) are the counters of RFC 1661
	// section 4.6.
	Restart                                time.Duration
	MaxConfigure, MaxFailure, MaxTerminate int
	// RejectACCMPFCACFC refuses ACCM, PFC and ACFC, as over PPPoE (RFC 2516
	// section 7) and on an L2TP session (ACCM travels in SLI, RFC 2661
	// section 6.14). FCS-Alternatives is refused always.
	RejectACCMPFCACFC bool
	// NoProxyLCP: the session is not handed on (an LNS), so the raw LCP
	// Configure-Requests that ProxyInfo gives an LAC (RFC 2661 section
	// 4.4.5) are not kept.
	NoProxyLCP bool
	Rand       io.Reader // magic numbers, challenges; default crypto/rand
	Logger     *slog.Logger
	Handler    Handler
}

// Stats counts what a Session dropped or refused. Bad network input never
// panics; it is counted here.
type Stats struct {
	Malformed     uint64 // undecodable frames or packets
	BadOptions    uint64 // malformed option lists, bogus Configure-Reject
	UnknownCode   uint64 // answered with Code-Reject
	UnknownProto  uint64 // answered with Protocol-Reject
	Stale         uint64 // replies with the wrong Identifier or contents
	Illegal       uint64 // events illegal in the automaton's state
	BadAuth       uint64 // malformed or out-of-phase PAP/CHAP packets
	Discarded     uint64 // packets of a protocol not running in this phase
	DataIgnored   uint64 // IPv4/IPv6 frames handed to Input
	SendErrors    uint64
	EchoSent      uint64
	LoopSuspected uint64
	NotConverging uint64 // negotiations ended at Max-Failure (RFC 1661 section 4.6)
}

// authState is the progress of the Authenticate phase.
type authState uint8

const (
	authIdle    authState = iota
	authWaiting           // server: waiting for a request; client: for an answer or challenge
	authPending           // server: the Authenticator is checking
	authDone              // success
)

// Session is one PPP session (LCP, PAP or CHAP, IPCP) on one Link, in the
// server or the client role. It is a state machine driven by its owner, with
// no goroutine and no lock of its own: all methods must be called from the
// one goroutine that owns the session, with the current time.
//
// Data path: the owner classifies frames by the two-octet Protocol field
// itself and hands only control protocols (LCP, PAP, CHAP, IPCP, IPv6CP and
// unknown protocols, all values 0x8000 and above: Protocol.IsControl) to
// Input; IPv4 and IPv6 frames go straight to its data plane once Up was
// reported.
type Session struct {
	link Link
	cfg  Config
	log  *slog.Logger
	now  time.Time

	phase   Phase
	reason  Reason
	down    bool // Handler.Down was called
	pending Reason

	lcp     cp
	lcpOpts lcpOptions
	ipcp    cp
	ipOpts  ipcpOptions
	v6      *ipv6Part // IPV6CP, made when the network phase first runs it

	// Authentication.
	auth         authState
	authProto    AuthProto
	authID       uint8
	chapIDSet    bool // server: authID holds the last CHAP Identifier used
	authTries    int
	authDeadline time.Time
	authReq      AuthRequest
	authOK       bool   // server: the last verdict, resent for duplicate requests
	authMsg      string // server: its message
	challenge    []byte
	lastResp     []byte // client: encoded PAP request or CHAP response, retransmitted
	result       AuthResult

	// Keepalive.
	echoDeadline    time.Time
	echoOutstanding int
	echoID          uint8

	// Raw LCP options for proxy LCP (RFC 2661 section 4.4.5); nil with
	// NoProxyLCP.
	raw *rawLCP

	// The packet being handled, for sca/scn/sta/scj, and its reply: one
	// automaton handles a packet at a time (the others it starts only send
	// requests), so they share these; cp.input lets them go afterwards.
	rx      Packet
	rxRaw   []byte
	reply   Packet
	scratch []byte // Configure-Request options being built

	stats Stats
	out   []byte
}

// NewSession makes a Session on link. Nothing is sent before Open or
// StartProxied.
func NewSession(link Link, cfg Config) *Session {
	if cfg.MRU == 0 {
		cfg.MRU = 1500
	}
	if cfg.Role == Client && len(cfg.Auth) == 0 {
		cfg.Auth = []AuthProto{AuthCHAPMD5, AuthPAP}
	}
	if cfg.Name == "" {
		cfg.Name = "bras"
	}
	if cfg.Restart <= 0 {
		cfg.Restart = 3 * time.Second
	}
	if cfg.MaxConfigure <= 0 {
		cfg.MaxConfigure = 10
	}
	if cfg.MaxFailure <= 0 {
		cfg.MaxFailure = 5
	}
	if cfg.MaxTerminate <= 0 {
		cfg.MaxTerminate = 2
	}
	if cfg.Echo.Interval > 0 && cfg.Echo.MaxFailures <= 0 {
		cfg.Echo.MaxFailures = 3
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Session{link: link, cfg: cfg, log: cfg.Logger}
	if !cfg.NoProxyLCP {
		s.raw = &rawLCP{}
	}
	s.lcp = cp{s: s, proto: ProtoLCP, h: &s.lcpOpts, maxCode: DiscardReq,
		fsm: FSM{MaxConfigure: cfg.MaxConfigure, MaxTerminate: cfg.MaxTerminate}}
	s.lcpOpts.s = s
	s.ipcp = cp{s: s, proto: ProtoIPCP, h: &s.ipOpts, maxCode: CodeRej,
		fsm: FSM{MaxConfigure: cfg.MaxConfigure, MaxTerminate: cfg.MaxTerminate}}
	s.ipOpts.s = s
	return s
}

// rawLCP is what an LAC hands on in proxy LCP: the subscriber's first and
// last Configure-Request and our last, as sent (RFC 2661 section 4.4.5).
type rawLCP struct {
	initialRecvConfReq []byte
	lastRecvConfReq    []byte
	lastSentConfReq    []byte
}

// ipv6Part is IPV6CP's automaton and options. A session without IPv6
// service (most, on an IPv4-only network) never makes one, and so holds
// a third less.
type ipv6Part struct {
	cp   cp
	opts ipv6cpOptions
}

// ipv6Part returns IPV6CP, making it on first use.
func (s *Session) ipv6Part() *ipv6Part {
	if s.v6 == nil {
		v := &ipv6Part{}
		v.cp = cp{s: s, proto: ProtoIPv6CP, h: &v.opts, maxCode: CodeRej,
			fsm: FSM{MaxConfigure: s.cfg.MaxConfigure, MaxTerminate: s.cfg.MaxTerminate}}
		v.opts.s = s
		s.v6 = v
	}
	return s.v6
}

// isIPv6CP says whether c is IPV6CP's automaton.
func (s *Session) isIPv6CP(c *cp) bool { return s.v6 != nil && c == &s.v6.cp }

// ncps returns the network control protocols the session has.
func (s *Session) ncps() []*cp {
	if s.v6 == nil {
		return []*cp{&s.ipcp}
	}
	return []*cp{&s.ipcp, &s.v6.cp}
}

// Open starts LCP: the administrative Open and the lower layer Up (RFC 1661
// section 4.3).
// A Session is opened once; after Handler.Down it is finished and a new one
// is made for the next call.
func (s *Session) Open(now time.Time) {
	if s.phase != PhaseDead || s.down {
		return
	}
	s.now = now
	s.phase = PhaseEstablish
	s.lcpOpts.reset()
	s.lcp.event(Open)
	s.lcp.event(Up)
	s.settle()
}

// Close terminates the session with LCP Terminate-Request (RFC 1661 section
// 5.5); Handler.Down follows when the peer acks or the restart timer runs out.
func (s *Session) Close(reason string, now time.Time) {
	s.now = now
	s.log.Debug("ppp: close", "reason", reason)
	s.setReason(ReasonLocalClose)
	s.closeLCP()
	s.settle()
}

// LowerDown ends the session because the link itself is gone (a PADT, a CDN,
// a StopCCN): the lower-layer Down event of RFC 1661 section 4.3, with nothing
// sent. Handler.Down follows at once with ReasonLowerDown.
func (s *Session) LowerDown(now time.Time) {
	s.now = now
	if s.phase == PhaseDead {
		return
	}
	s.setReason(ReasonLowerDown)
	s.lcp.event(Down)
	s.lcp.event(Close)
	s.lcp.deadline = time.Time{}
	s.finish()
}

// Input handles one received PPP frame, starting with the Protocol field (an
// FF 03 prefix is stripped). It never panics on bad input; drops are counted
// in Stats.
func (s *Session) Input(frame []byte, now time.Time) {
	s.now = now
	proto, info, err := ParseProtocol(StripAddressControl(frame))
	if err != nil {
		s.stats.Malformed++
		return
	}
	if s.phase == PhaseDead {
		s.stats.Discarded++
		return
	}
	switch proto {
	case ProtoLCP:
		s.lcp.input(info)
	case ProtoPAP:
		s.papInput(info)
	case ProtoCHAP:
		s.chapInput(info)
	case ProtoIPCP:
		// RFC 1661 section 3.5: NCP packets before the Network phase are
		// silently discarded.
		if s.phase != PhaseNetwork {
			s.stats.Discarded++
			break
		}
		if !s.ipv4() {
			s.rejectProtocol(proto, info)
			break
		}
		s.ipcp.input(info)
	case ProtoIPv6CP:
		if s.phase != PhaseNetwork {
			s.stats.Discarded++
			break
		}
		if !s.ipv6() {
			// RFC 5072 section 3 over RFC 1661 section 5.7: a session
			// without IPv6 service refuses the protocol.
			s.rejectProtocol(proto, info)
			break
		}
		s.ipv6Part().cp.input(info)
	case ProtoIPv4, ProtoIPv6:
		s.stats.DataIgnored++
	default:
		s.rejectProtocol(proto, info)
	}
	s.settle()
}

// Tick runs the timers that are due at now: restart timers, the
// authentication timer and keepalive.
func (s *Session) Tick(now time.Time) {
	s.now = now
	s.lcp.timeout()
	s.ipcp.timeout()
	if s.v6 != nil {
		s.v6.cp.timeout()
	}
	if !s.authDeadline.IsZero() && !now.Before(s.authDeadline) {
		s.authDeadline = time.Time{}
		s.authTimeout()
	}
	if !s.echoDeadline.IsZero() && !now.Before(s.echoDeadline) {
		s.echoDeadline = time.Time{}
		s.echoTimeout()
	}
	s.settle()
}

// NextDeadline is when Tick must next be called; zero when no timer runs.
func (s *Session) NextDeadline() time.Time {
	var d time.Time
	var v6 time.Time
	if s.v6 != nil {
		v6 = s.v6.cp.deadline
	}
	for _, t := range [...]time.Time{s.lcp.deadline, s.ipcp.deadline, v6, s.authDeadline, s.echoDeadline} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// State returns the session's phase (RFC 1661 section 3.2).
func (s *Session) State() Phase { return s.phase }

// LCPState and IPCPState return the automata's states.
func (s *Session) LCPState() State  { return s.lcp.fsm.State }
func (s *Session) IPCPState() State { return s.ipcp.fsm.State }

// IPv6CPState returns IPV6CP's automaton state.
func (s *Session) IPv6CPState() State {
	if s.v6 == nil {
		return Initial
	}
	return s.v6.cp.fsm.State
}

// IPv6Network returns the IPV6CP outcome; valid after IPv6Handler.UpIPv6.
func (s *Session) IPv6Network() IPv6Info {
	if s.v6 == nil {
		return IPv6Info{}
	}
	return IPv6Info{Local: s.v6.opts.local, Peer: s.v6.opts.peer}
}

// ipv4 and ipv6 say which network protocols the session runs: IPCP unless
// the server's AuthResult refused it, IPV6CP when configured (client) or
// granted (server).
func (s *Session) ipv4() bool { return s.cfg.Role == Client || !s.result.NoIPv4 }
func (s *Session) ipv6() bool {
	if s.cfg.Role == Client {
		return s.cfg.IPv6
	}
	return s.result.IPv6
}

// Reason says why the session ended, or is ending.
func (s *Session) Reason() Reason { return s.reason }

// Stats returns the session's drop counters.
func (s *Session) Stats() Stats { return s.stats }

// Network returns the IPCP outcome; valid after Handler.Up.
func (s *Session) Network() NetworkInfo {
	n := NetworkInfo{Local: s.ipOpts.local, Peer: s.ipOpts.peer}
	if s.cfg.Role == Server {
		n.DNS1, n.DNS2 = s.result.DNS1, s.result.DNS2
		if !s.ipOpts.sendLocal {
			n.Local = netip.Addr{}
		}
	} else {
		n.DNS1, n.DNS2 = s.ipOpts.dns1, s.ipOpts.dns2
	}
	return n
}

// PeerAddr is the peer's IPv4 address acked in IPCP.
func (s *Session) PeerAddr() netip.Addr { return s.ipOpts.peer }

// LocalMagic and PeerMagic are the negotiated Magic-Numbers (0: none).
func (s *Session) LocalMagic() uint32 { return s.lcpOpts.magic }
func (s *Session) PeerMagic() uint32  { return s.lcpOpts.peerMagic }

// PeerMRU is the MRU the peer announced (1500 when it sent none): the
// largest frame information field to send it.
func (s *Session) PeerMRU() uint16 { return s.peerMRU() }

// PeerACFC and PeerPFC report whether we acked Address-and-Control-Field
// and Protocol-Field Compression (never when RejectACCMPFCACFC is set).
func (s *Session) PeerACFC() bool { return s.lcpOpts.peerACFC }
func (s *Session) PeerPFC() bool  { return s.lcpOpts.peerPFC }

// Username is the authenticated (server) or configured (client) user name.
func (s *Session) Username() string {
	if s.cfg.Role == Client {
		return s.cfg.Username
	}
	return s.authReq.Username
}

// Result is the Authenticator's accepted result (server role), with the
// RADIUS-assigned address and DNS servers.
func (s *Session) Result() AuthResult { return s.result }

func (s *Session) peerMRU() uint16 {
	if s.lcpOpts.peerMRU == 0 {
		return 1500
	}
	return s.lcpOpts.peerMRU
}

func (s *Session) setReason(r Reason) {
	if s.reason == ReasonNone {
		s.reason = r
	}
}

// settle runs deferred work after an input: a detected loopback ends the
// session.
func (s *Session) settle() {
	if s.pending != ReasonNone {
		r := s.pending
		s.pending = ReasonNone
		s.terminate(r)
	}
}

func (s *Session) closeLCP() {
	if s.phase == PhaseDead {
		return
	}
	s.lcp.event(Close)
	switch s.lcp.fsm.State {
	case Initial, Starting, Closed, Stopped:
		s.finish()
	default:
		s.phase = PhaseTerminate
	}
}

// terminate ends the session at once: one Terminate-Request for the peer's
// benefit, then the lower layer is considered down (dead peer, loopback).
func (s *Session) terminate(r Reason) {
	if s.phase == PhaseDead {
		return
	}
	s.setReason(r)
	s.log.Debug("ppp: session terminated", "reason", r.String())
	if s.lcp.fsm.State == Opened {
		s.lcp.nextID++
		s.sendPacket(ProtoLCP, Packet{Code: TermReq, ID: s.lcp.nextID})
	}
	s.lcp.event(Down)
	s.lcp.event(Close)
	s.lcp.deadline = time.Time{}
	s.finish()
}

// fail closes the session when negotiation cannot succeed.
func (s *Session) fail(r Reason) {
	s.setReason(r)
	s.closeLCP()
}

func (s *Session) finish() {
	s.phase = PhaseDead
	s.authDeadline, s.echoDeadline = time.Time{}, time.Time{}
	for _, c := range s.ncps() {
		c.deadline = time.Time{}
		if c.fsm.State != Initial {
			c.fsm = FSM{MaxConfigure: s.cfg.MaxConfigure, MaxTerminate: s.cfg.MaxTerminate}
		}
	}
	if s.down {
		return
	}
	s.down = true
	if s.reason == ReasonNone {
		s.reason = ReasonNegotiationFailed
	}
	// The session's owner writes the line of the event at info level,
	// with its IDs; here and in layerUp PPP's own view is a debug line.
	s.log.Debug("ppp: session down", "reason", s.reason.String(), "user", s.Username())
	if s.cfg.Handler != nil {
		s.cfg.Handler.Down(s, s.reason)
	}
}

func (s *Session) loopSuspected() {
	s.stats.LoopSuspected++
	s.lcpOpts.loops++
	if s.lcpOpts.loops >= s.cfg.MaxFailure {
		s.pending = ReasonLoopback
	}
}

// layerUp is This-Layer-Up (RFC 1661 section 4.4).
func (s *Session) layerUp(c *cp) {
	if c == &s.ipcp {
		n := s.Network()
		s.log.Debug("ppp: network up", "peer_ip", n.Peer, "user", s.Username())
		if s.cfg.Handler != nil {
			s.cfg.Handler.Up(s, n)
		}
		return
	}
	if s.isIPv6CP(c) {
		n := s.IPv6Network()
		s.log.Debug("ppp: IPv6 up", "peer_ip", n.Peer.LinkLocal(), "user", s.Username())
		if h, ok := s.cfg.Handler.(IPv6Handler); ok {
			h.UpIPv6(s, n)
		}
		return
	}
	s.lcpOpts.loops = 0
	if s.cfg.Echo.Interval > 0 {
		s.echoOutstanding = 0
		s.echoDeadline = s.now.Add(s.cfg.Echo.Interval)
	}
	s.phase = PhaseAuthenticate
	s.startAuth()
}

// layerDown is This-Layer-Down.
func (s *Session) layerDown(c *cp) {
	if c == &s.ipcp || s.isIPv6CP(c) {
		return
	}
	s.echoDeadline = time.Time{}
	s.authDeadline = time.Time{}
	s.auth = authIdle
	if s.phase != PhaseDead {
		s.phase = PhaseTerminate
		if s.lcp.fsm.State == ReqSent || s.lcp.fsm.State == AckSent {
			s.phase = PhaseEstablish // renegotiation (RFC 1661 section 4.1, Opened column)
		}
	}
	// The phase is left first, so that an NCP finishing here does not
	// close LCP.
	for _, c := range s.ncps() {
		c.event(Down)
		c.event(Close)
		c.deadline = time.Time{}
	}
}

// layerFinished is This-Layer-Finished.
func (s *Session) layerFinished(c *cp) {
	if s.isIPv6CP(c) && s.phase == PhaseNetwork && s.cfg.Role == Server && s.result.IPv6 {
		s.result.IPv6 = false
		s.log.Info("ppp: IPv6 finished; the session runs without it", "user", s.Username())
		if h, ok := s.cfg.Handler.(IPv6DownHandler); ok {
			h.DownIPv6(s)
		}
	}
	if c == &s.ipcp || s.isIPv6CP(c) {
		// No network protocol left: close the link (RFC 1661 section 3.7).
		// The other may still be negotiating or open: IPv4 and IPv6 are
		// independent.
		if s.phase == PhaseNetwork && !s.ipcp.running() && (s.v6 == nil || !s.v6.cp.running()) {
			s.setReason(ReasonNegotiationFailed)
			s.closeLCP()
		}
		return
	}
	if s.lcp.fsm.State == Stopped || s.lcp.fsm.State == Closed || s.lcp.fsm.State == Initial || s.lcp.fsm.State == Starting {
		s.finish()
	}
}

// startNetwork enters the Network phase and opens IPCP.
func (s *Session) startNetwork() {
	s.phase = PhaseNetwork
	s.authDeadline = time.Time{}
	s.ipOpts.reset()
	if s.cfg.Role == Server {
		s.ipOpts.assign, s.ipOpts.assignDNS1, s.ipOpts.assignDNS2 = s.result.IP, s.result.DNS1, s.result.DNS2
	}
	if s.ipv6() {
		v := s.ipv6Part()
		v.opts.reset()
		if s.cfg.Role == Server {
			v.opts.assign = s.result.InterfaceID
		}
		v.cp.event(Open)
		v.cp.event(Up)
	}
	if s.ipv4() {
		s.ipcp.event(Open)
		s.ipcp.event(Up)
	}
	if !s.ipv4() && !s.ipv6() {
		s.log.Info("ppp: no network protocol to run", "user", s.Username())
		s.fail(ReasonNegotiationFailed)
	}
}

func (s *Session) rejectProtocol(proto Protocol, info []byte) {
	// RFC 1661 section 5.7: only in the LCP Opened state.
	if s.lcp.fsm.State != Opened {
		s.stats.Discarded++
		return
	}
	s.stats.UnknownProto++
	s.lcp.nextID++
	n := len(info)
	if max := int(s.peerMRU()) - packetHeaderLen - 2; n > max {
		n = max
	}
	data := make([]byte, 0, 2+n)
	data = AppendProtocol(data, proto)
	data = append(data, info[:n]...)
	s.sendPacket(ProtoLCP, Packet{Code: ProtoRej, ID: s.lcp.nextID, Data: data})
}

// protocolRejected handles a received Protocol-Reject (RFC 1661 section 5.7).
func (s *Session) protocolRejected(p Packet) {
	if s.lcp.fsm.State != Opened {
		return
	}
	if len(p.Data) < 2 {
		s.stats.Malformed++
		return
	}
	switch Protocol(u16(p.Data)) {
	case ProtoIPCP, ProtoIPv4:
		// RXJ- for IPCP: it finishes, and with it the session unless
		// IPV6CP runs.
		s.ipcp.event(RXJMinus)
	case ProtoIPv6CP, ProtoIPv6:
		if s.v6 != nil {
			s.v6.cp.event(RXJMinus)
		}
	case ProtoLCP, ProtoPAP, ProtoCHAP:
		s.setReason(ReasonNegotiationFailed)
		s.lcp.event(RXJMinus)
	default:
		s.lcp.event(RXJPlus)
	}
}

func (s *Session) echoTimeout() {
	if s.lcp.fsm.State != Opened {
		return
	}
	if s.echoOutstanding >= s.cfg.Echo.MaxFailures {
		s.pending = ReasonEchoTimeout
		return
	}
	s.echoOutstanding++
	s.echoID++
	s.stats.EchoSent++
	s.sendPacket(ProtoLCP, Packet{Code: EchoReq, ID: s.echoID, Data: appendU32(make([]byte, 0, 4), s.lcpOpts.magic)})
	s.echoDeadline = s.now.Add(s.cfg.Echo.Interval)
}

func (s *Session) sendPacket(proto Protocol, p Packet) {
	b := AppendProtocol(s.out[:0], proto)
	b, err := p.Append(b)
	if err != nil {
		s.log.Error("ppp: encoding", "proto", proto, "code", p.Code, "err", err)
		return
	}
	s.out = b
	if err := s.link.Send(b); err != nil {
		s.stats.SendErrors++
	}
}

// newMagic draws a non-zero Magic-Number (RFC 1661 section 6.4).
func (s *Session) newMagic() uint32 {
	var b [4]byte
	for i := 0; i < 8; i++ {
		if _, err := io.ReadFull(s.cfg.Rand, b[:]); err == nil {
			if v := u32(b[:]); v != 0 {
				return v
			}
		}
	}
	return uint32(s.now.UnixNano()) | 1
}

func (s *Session) clientAccepts(a AuthProto) bool {
	for _, x := range s.cfg.Auth {
		if x == a {
			return true
		}
	}
	return false
}

func (s *Session) clientPreferred() AuthProto {
	for _, x := range s.cfg.Auth {
		if x != AuthNone {
			return x
		}
	}
	return AuthNone
}
