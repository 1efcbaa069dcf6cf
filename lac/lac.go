package lac

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/spill"
	"github.com/bras-project/bras/internal/timerq"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// Mode says how a subscriber is handed to the LNS.
type Mode uint8

const (
	// ModeTransparent places the call right after the PADS; the LNS runs
	// LCP and authentication, the subscriber's PAP/CHAP frames travel in
	// the tunnel.
	ModeTransparent Mode = iota + 1
	// ModeProxy negotiates LCP and takes the credentials (PAP or CHAP) at
	// the LAC, picks the tunnel by realm, and forwards the proxy LCP and
	// proxy authentication AVPs in the ICCN (RFC 2661 section 4.4.5).
	ModeProxy
)

func (m Mode) String() string {
	switch m {
	case ModeTransparent:
		return "transparent"
	case ModeProxy:
		return "proxy"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "proxy" or "transparent".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "proxy":
		return ModeProxy, nil
	case "transparent":
		return ModeTransparent, nil
	}
	return 0, fmt.Errorf("lac: mode %q: want proxy or transparent", s)
}

// Authenticator is the RADIUS client the LAC asks for tunnels
// (*aaa.Client implements it).
type Authenticator interface {
	Authenticate(ctx context.Context, req aaa.AuthRequest) (*aaa.AuthReply, error)
}

// Config configures a LAC.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time

	// Routes is the static tunnel table; Selector orders and holds down
	// LNS (nil: NewSelector(HoldDown)).
	Routes   *Routes
	Selector *Selector
	HoldDown time.Duration
	// RADIUS, when set, is asked for tunnels in proxy mode (RFC 2868
	// Tunnel-* attributes of the Access-Accept); the static routes are
	// used when it grants none.
	RADIUS      Authenticator
	NASPortType aaa.NASPortType

	// Tunnel holds the options of every tunnel (timers, retries); Secret,
	// HideAVPs and MaxSessions come from the LNS.
	Tunnel l2tp.TunnelOptions
	// SessionsPerTunnel caps the sessions of a tunnel whose LNS sets no
	// MaxSessions (0: DefaultSessionsPerTunnel, 32000).
	SessionsPerTunnel int
	// Tunnels is how many tunnels are kept open to an LNS that sets no
	// Tunnels, new calls spread across them (0: 1).
	Tunnels int

	DialTimeout time.Duration // opening a tunnel to one LNS; 0: 10 s
	CallTimeout time.Duration // PADS (or credentials) to ICCN; 0: 30 s

	// Proxy mode: the authentication protocols asked of the subscriber
	// (default CHAP-MD5 then PAP), and the LCP keepalive that finds a
	// subscriber who vanished while its call is being placed.
	Auth []ppp.AuthProto
	Echo ppp.EchoConfig

	Shards     int // control goroutines; 0: GOMAXPROCS
	Workers    int // tunnel-selection workers (dial, RADIUS); 0: 32
	QueueSize  int // events per shard and jobs queued; 0: 8192
	HeldFrames int // transparent mode: frames held until ICCN; 0: 16
	// ReadyWait is how long frames held during call set-up wait, after
	// the ICCN, for the LNS's first frame: an LNS handles the ICCN on its
	// control path and may drop data that overtakes it. 0: 1 s.
	ReadyWait time.Duration

	// DataConn is the UDP socket of the l2tp.Endpoint. When it is an IPv4
	// UDP socket, upstream data messages are sent from it in batches
	// (sendmmsg) by one goroutine instead of one SendData system call per
	// frame; sequenced sessions still use SendData. nil: SendData.
	DataConn net.PacketConn
	// MoreDataConns are the endpoint's further sockets
	// (l2tp.Config.MoreConns): a tunnel's data leaves from its own.
	MoreDataConns []*net.UDPConn
	// IPDataConn is the raw socket of L2TPv3 over IP, when an LNS takes
	// its tunnels that way: their data leaves from it in batches too.
	IPDataConn *net.IPConn

	// Fast, when set, is the XDP fast path sessions go into once their
	// call is up (fastpath.go); FastLocal is the tunnels' local UDP
	// address and MSS the TCP MSS clamp (0: none).
	Fast      *dataplane.LACPath
	FastLocal netip.AddrPort
	MSS       uint16
}

// Stats are the LAC's counters.
type Stats struct {
	SessionsStarted  atomic.Uint64 // PPPoE sessions taken
	CallsUp          atomic.Uint64 // ICCN sent
	Refused          atomic.Uint64 // subscribers refused (no route, no tunnel, RADIUS reject)
	CallsDown        atomic.Uint64 // calls that ended after being up
	PADTFromSub      atomic.Uint64 // subscriber PADT → CDN
	CDNFromLNS       atomic.Uint64 // CDN or lost tunnel → PADT
	CallTimeouts     atomic.Uint64
	EventsDropped    atomic.Uint64 // shard queues full
	EndsQueued       atomic.Uint64 // PADT, CDN, shutdown behind a full shard queue
	JobsDropped      atomic.Uint64 // worker queue full
	HeldDropped      atomic.Uint64 // frames beyond HeldFrames before ICCN
	DataNoSession    atomic.Uint64 // L2TP data for a session that is not ours
	ProxyNegotiation atomic.Uint64 // proxy-mode PPP ended before the call (echo, LCP failure)
	MSSClamped       atomic.Uint64 // TCP SYNs relayed with their MSS lowered ([dataplane] tcp-mss)
	CarrierLosses    atomic.Uint64 // access interfaces that lost their carrier (carrier.go)
	CarrierCleared   atomic.Uint64 // sessions those losses cleared
	FastFull         atomic.Uint64 // sessions relayed in user space: the fast path was full
	FastFailed       atomic.Uint64 // sessions relayed in user space: the fast path refused them
	// PPP frames the user-space relay forwarded and their octets (the
	// PPP frame from its Protocol field), up into the tunnels and down to
	// the subscribers.
	UpFrames, UpOctets     atomic.Uint64
	DownFrames, DownOctets atomic.Uint64
}

// LAC binds PPPoE sessions to L2TP incoming calls (RFC 2661 section
// 7.4.1). Control work runs on a few shard goroutines that own their
// sessions and a deadline queue; tunnel selection (dials, RADIUS) runs on a
// bounded worker pool; the data path runs on the PPPoE and L2TP reader
// goroutines without locks or allocation.
type LAC struct {
	// cfgp is the configuration in force, an immutable snapshot that
	// Reconfigure swaps whole.
	cfgp       atomic.Pointer[Config]
	log        *slog.Logger
	pppLog     *slog.Logger // of the proxy-mode PPP negotiations
	now        func() time.Time
	sel        *Selector
	pool       *Pool
	ep         atomic.Pointer[l2tp.Endpoint]
	epIP       atomic.Pointer[l2tp.Endpoint] // L2TPv3 over IP, when an LNS asks for it
	shards     []*shard
	jobs       chan *session
	stats      Stats
	nextSh     atomic.Uint32
	active     atomic.Int64
	snd        *sender       // batched upstream data; nil: SendData
	downErrors atomic.Uint64 // frames the batched downstream path could not send (BatchedData)
	byID       sync.Map      // Acct-Session-Id → *session, for the API
	closing    atomic.Bool
	seq        atomic.Uint64
}

// New returns a LAC. Attach an l2tp.Endpoint (made with L2TPHandler and
// Data) and PPPoE servers (made with NewAccess) before Run.
func New(cfg Config) (*LAC, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if len(cfg.Auth) == 0 {
		cfg.Auth = []ppp.AuthProto{ppp.AuthCHAPMD5, ppp.AuthPAP}
	}
	if cfg.Shards <= 0 {
		cfg.Shards = runtime.GOMAXPROCS(0)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.HeldFrames <= 0 {
		cfg.HeldFrames = 16
	}
	if cfg.ReadyWait <= 0 {
		cfg.ReadyWait = time.Second
	}
	if cfg.NASPortType == 0 {
		cfg.NASPortType = aaa.PortEthernet
	}
	l := &LAC{log: cfg.Logger, pppLog: cfg.Logger.With(logx.KeyComponent, logx.PPP), now: cfg.Now, sel: cfg.Selector}
	l.cfgp.Store(&cfg)
	if l.sel == nil {
		l.sel = NewSelector(cfg.HoldDown)
	}
	l.pool = NewPool(l.sel, l.dial, cfg.SessionsPerTunnel)
	l.pool.SetDefaults(cfg.SessionsPerTunnel, cfg.Tunnels)
	l.snd = newSender(cfg.DataConn, cfg.MoreDataConns, cfg.IPDataConn)
	l.jobs = make(chan *session, cfg.QueueSize)
	for range cfg.Shards {
		l.shards = append(l.shards, &shard{l: l, in: make(chan event, cfg.QueueSize), sessions: map[*session]struct{}{},
			downs: spill.New[event]()})
	}
	return l, nil
}

// conf is the configuration in force: a snapshot never changed in place.
func (l *LAC) conf() *Config { return l.cfgp.Load() }

// Attach sets the L2TP endpoint the LAC dials tunnels on.
func (l *LAC) Attach(ep *l2tp.Endpoint) { l.ep.Store(ep) }

// AttachIP attaches the endpoint of L2TPv3 over IP protocol 115, which
// the LNS entries with Encap EncapIP dial from.
func (l *LAC) AttachIP(ep *l2tp.Endpoint) { l.epIP.Store(ep) }

// Stats returns the LAC's counters.
func (l *LAC) Stats() *Stats { return &l.stats }

// Pool returns the tunnel pool (tunnels and their session counts).
func (l *LAC) Pool() *Pool { return l.pool }

// ActiveSessions is the number of subscribers the LAC holds now.
func (l *LAC) ActiveSessions() int { return int(l.active.Load()) }

func (l *LAC) dial(ctx context.Context, n LNS) (Tunnel, error) {
	ep := l.ep.Load()
	if ep == nil {
		return nil, l2tp.ErrNotRunning
	}
	if n.Encap == l2tp.EncapIP {
		if ep = l.epIP.Load(); ep == nil {
			return nil, errors.New("lac: no socket of IP protocol 115: an [lns] with encap = ip was added by a reload; restart the LAC to open it")
		}
	}
	o := l.conf().Tunnel
	o.Secret = n.Secret
	o.HideAVPs = n.HideAVPs && len(n.Secret) > 0
	o.HideNumbers = o.HideAVPs && n.HideNumbers
	o.MaxSessions = l.pool.SessionCap(n)
	o.Version, o.Digest, o.CookieLen = n.Version, n.Digest, n.CookieLen
	ctx, cancel := context.WithTimeout(ctx, l.conf().DialTimeout)
	defer cancel()
	t, err := ep.Dial(ctx, n.Addr, o)
	if errors.Is(err, l2tp.ErrNotRunning) {
		return nil, err // the LAC is stopping
	}
	if err != nil {
		l.log.Warn("lac: "+dialFailure(err)+"; held down", "lns", n.String(), "peer", n.Addr.String(),
			"hold_down", l.sel.HoldDown.String(), "err", err)
		return nil, err
	}
	l.log.Info("lac: tunnel up", "lns", n.String(), "peer", n.Addr.String(), "tunnel_id", t.LocalConnID(), "version", t.Version(), "max_sessions", o.MaxSessions)
	return t, nil
}

// dialFailure says why a tunnel set-up failed, for the operator: an LNS
// that refused the tunnel (a StopCCN, RFC 2661 section 6.4; or a
// Challenge Response that did not match the shared secret, section 5.1.1)
// needs its configuration checked, one that did not answer (retransmissions
// exhausted, section 5.8) needs the path to it checked.
func dialFailure(err error) string {
	var te *l2tp.TunnelError
	switch {
	case errors.Is(err, l2tp.ErrNotAuthorized),
		errors.Is(err, l2tp.ErrStopCCN) && errors.As(err, &te) && te.Result.Result == uint16(l2tp.StopCCNNotAuthorized):
		return "refused by the LNS (tunnel authentication)"
	case errors.Is(err, l2tp.ErrStopCCN):
		return "refused by the LNS"
	case errors.Is(err, l2tp.ErrPeerUnreachable), errors.Is(err, context.DeadlineExceeded):
		return "the LNS did not answer"
	}
	return "tunnel set-up to the LNS failed"
}

// Run runs the shards and the workers until ctx is done. Call Shutdown
// first for a graceful stop (CDN and PADT for every session).
func (l *LAC) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, sh := range l.shards {
		wg.Go(func() { sh.run(ctx) })
	}
	for range l.conf().Workers {
		wg.Go(func() { l.worker(ctx) })
	}
	<-ctx.Done()
	l.pool.Stop()
	wg.Wait()
	return nil
}

// Shutdown disconnects every session (CDN to the LNS, PADT to the
// subscriber), waits until they are gone or ctx is done, then closes every
// tunnel with StopCCN (result 6, shutting down).
func (l *LAC) Shutdown(ctx context.Context) {
	l.closing.Store(true) // new subscribers get a PADT
	for _, sh := range l.shards {
		sh.postDown(event{kind: evShutdown})
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for l.active.Load() > 0 {
		select {
		case <-ctx.Done():
			l.log.Warn("lac: sessions still open at shutdown", "sessions", l.active.Load())
			break wait
		case <-tick.C:
		}
	}
	l.pool.Stop() // no replacement for the tunnels closed below
	for t := range l.pool.Tunnels() {
		if lt, ok := t.(*l2tp.Tunnel); ok {
			lt.Close(l2tp.ResultCode{Result: uint16(l2tp.StopCCNShuttingDown)})
		}
	}
}

// AccessConfig says which mode an access interface's subscribers get.
type AccessConfig struct {
	Mode Mode // default mode; 0: transparent
	// ServiceModes overrides Mode per PPPoE service name.
	ServiceModes map[string]Mode
	// NASPortID is the NAS-Port-Id of the LAC's Access-Requests (proxy
	// mode with RADIUS tunnel selection); zero: DefaultNASPortID.
	NASPortID PortTemplate
	// CircuitID, when set, makes an Agent-Circuit-Id for a subscriber
	// whose PADR carries none (no intermediate agent on the access
	// line): it reaches the LNS in the access-line AVP and as Calling
	// Number, as an agent's would (TR-101 "circuit ID generation").
	CircuitID PortTemplate
	// Channel is what the ICRQ's Physical Channel ID carries (default
	// the tags, ChannelVLAN).
	Channel PhysicalChannel
}

// Access is the pppoe.Handler of one access interface (one
// pppoe.Server).
type Access struct {
	l        *LAC
	cfg      AccessConfig
	srv      atomic.Pointer[padtSender]
	sessions atomic.Int64 // subscribers of this interface the LAC holds
}

// padtSender ends a PPPoE session with a PADT carrying msg as
// Generic-Error (RFC 2516 section 5.5): a *pppoe.Server.
type padtSender interface {
	Close(ps *pppoe.Session, msg string)
}

// close sends the subscriber a PADT (none when it sent one itself).
func (a *Access) close(ps *pppoe.Session, msg string) {
	if srv := a.srv.Load(); srv != nil {
		(*srv).Close(ps, msg)
	}
}

// NewAccess returns the handler to give pppoe.NewServer; Bind the server
// to it afterwards.
func (l *LAC) NewAccess(cfg AccessConfig) *Access {
	if cfg.Mode == 0 {
		cfg.Mode = ModeTransparent
	}
	if cfg.NASPortID.IsZero() {
		cfg.NASPortID, _ = ParsePortTemplate(DefaultNASPortID)
	}
	return &Access{l: l, cfg: cfg}
}

// Bind sets the server whose sessions this Access handles (for PADT).
func (a *Access) Bind(srv *pppoe.Server) {
	if srv == nil {
		a.srv.Store(nil)
		return
	}
	a.bind(srv)
}

func (a *Access) bind(srv padtSender) { a.srv.Store(&srv) }

// accessLine is the access-line information sent to the LNS for ps: the
// intermediate agent's, with an Agent-Circuit-Id from the CircuitID
// template when it has none.
func (a *Access) accessLine(ps *pppoe.Session) *pppoe.AccessLine {
	if a.cfg.CircuitID.IsZero() || ps.AccessLine != nil && ps.AccessLine.CircuitID != "" {
		return ps.AccessLine
	}
	var line pppoe.AccessLine
	if ps.AccessLine != nil {
		line = *ps.AccessLine
	}
	line.CircuitID = a.cfg.CircuitID.Format(portInfo(ps))
	return &line
}

func (a *Access) mode(service string) Mode {
	if m, ok := a.cfg.ServiceModes[service]; ok {
		return m
	}
	return a.cfg.Mode
}

// SessionUp takes a new PPPoE subscriber (after the PADS).
func (a *Access) SessionUp(ps *pppoe.Session) {
	l := a.l
	if l.closing.Load() {
		a.close(ps, "LAC shutting down")
		return
	}
	sh := l.shards[int(l.nextSh.Add(1))%len(l.shards)]
	now := l.now()
	s := &session{l: l, acc: a, ps: ps, line: a.accessLine(ps), mode: a.mode(ps.ServiceName), sh: sh, downFn: ps.Send, started: now,
		id: fmt.Sprintf("%08x%08x", uint32(now.Unix()), uint32(l.seq.Add(1)))}
	ps.Owner = s
	l.byID.Store(s.id, s)
	l.stats.SessionsStarted.Add(1)
	l.active.Add(1)
	a.sessions.Add(1)
	if !sh.post(event{kind: evStart, s: s}) {
		s.state = stDone // never owned by the shard: its PADT event is ignored
		l.active.Add(-1)
		a.sessions.Add(-1)
		l.byID.Delete(s.id)
		a.close(ps, "LAC overloaded")
	}
}

// SessionDown hands a PADT (or a local close) to the session's shard.
func (a *Access) SessionDown(ps *pppoe.Session, why pppoe.DownReason) {
	if s, ok := ps.Owner.(*session); ok {
		s.sh.postDown(event{kind: evPPPoEDown, s: s, why: why})
	}
}

// SessionData forwards a subscriber's frame: straight into the tunnel once
// the call is up, otherwise to the shard (proxy negotiation, or held until
// ICCN in transparent mode, in order).
func (a *Access) SessionData(ps *pppoe.Session, payload []byte) {
	s, ok := ps.Owner.(*session)
	if !ok {
		return
	}
	if s.up.Load() && s.pending.Load() == 0 {
		s.forwardUp(payload)
		return
	}
	frame := append([]byte(nil), payload...)
	s.pending.Add(1)
	if !s.sh.post(event{kind: evFrame, s: s, frame: frame}) {
		s.pending.Add(-1)
		s.Dropped.Add(1)
	}
}

// L2TPHandler returns the l2tp.Handler to put in the endpoint's Config.
func (l *LAC) L2TPHandler() l2tp.Handler { return l2tpSide{l: l} }

type l2tpSide struct {
	l2tp.NopHandler
	l *LAC
}

func (h l2tpSide) IncomingCall(*l2tp.Tunnel, *l2tp.Session, *l2tp.Message) error {
	// An LAC takes no calls (section 7.4.2 is the LNS's machine).
	return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesPermanent)}}
}

func (h l2tpSide) SessionUp(ls *l2tp.Session, _ *l2tp.Message) {
	ls.ReleaseMessages() // the ICRQ and ICCN are sent; nothing reads them again
	if s, ok := ls.Value().(*session); ok {
		d := h.l.snd.dest(ls)
		fn := h.l.snd.dataFunc(d)
		if fn == nil {
			t := ls.Tunnel()
			fn = func(b []byte) error { return t.SendData(ls, b) }
		}
		s.sh.postCtrl(event{kind: evCallUp, s: s, ls: ls, upFn: &fn, upDst: d})
	}
}

func (h l2tpSide) SessionDown(ls *l2tp.Session, rc l2tp.ResultCode) {
	if s, ok := ls.Value().(*session); ok {
		s.sh.postDown(event{kind: evCallDown, s: s, ls: ls, rc: rc})
	}
}

func (h l2tpSide) TunnelDown(t *l2tp.Tunnel, rc l2tp.ResultCode, err error) {
	h.l.pool.Forget(t)
	h.l.log.Info("lac: tunnel down", "tunnel_id", t.LocalConnID(), "peer", t.Peer().String(),
		"result", rc.Describe(l2tp.MsgStopCCN), "err", err)
}

// Data is the l2tp.Config.Data callback: L2TP data → PPPoE, FF 03
// stripped. It allocates nothing.
func (l *LAC) Data(_ *l2tp.Tunnel, ls *l2tp.Session, _ l2tp.Header, payload []byte) {
	s, ok := ls.Value().(*session)
	if !ok {
		l.stats.DataNoSession.Add(1)
		return
	}
	s.forwardDown(payload)
	s.noteLNS()
}

// noteLNS records that a data frame came from the LNS: it has processed
// the ICCN, and held frames may follow.
func (s *session) noteLNS() {
	if !s.lnsSpoke.Load() && s.lnsSpoke.CompareAndSwap(false, true) {
		s.sh.postCtrl(event{kind: evLNSReady, s: s})
	}
}

// state is a session's progress.
type state uint8

func (s state) String() string {
	switch s {
	case stNegotiating:
		return "negotiating"
	case stSelecting:
		return "selecting"
	case stCalling:
		return "calling"
	case stUp:
		return "up"
	case stDone:
		return "done"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

const (
	stNegotiating state = iota // proxy: LCP and authentication with the subscriber
	stSelecting                // a worker picks a tunnel and places the call
	stCalling                  // ICRQ sent, waiting for ICRP/ICCN
	stUp                       // ICCN sent: forwarding
	stDone
)

// session is one subscriber. Fields marked shard are owned by the shard
// goroutine; the rest are atomics of the data path.
type session struct {
	timer   timerq.Timer // in its shard's deadline queue
	l       *LAC
	acc     *Access
	ps      *pppoe.Session
	line    *pppoe.AccessLine // what the LNS is told of the access line; fixed
	mode    Mode
	sh      *shard
	id      string // Acct-Session-Id style identifier for the API
	started time.Time

	// Data path.
	up       atomic.Bool
	pending  atomic.Int32 // frames handed to the shard not yet processed
	upFn     atomic.Pointer[func([]byte) error]
	upDst    atomic.Pointer[upDest] // the batch path's destination; nil: upFn only
	downFn   func([]byte) error
	lnsSpoke atomic.Bool // a data frame came from the LNS
	peerTerm atomic.Bool // the subscriber sent an LCP Terminate-Request
	fast     atomic.Pointer[fastSession]
	// Counters (64-bit, PPP frames without FF 03).
	UpPackets, UpBytes, DownPackets, DownBytes, Dropped atomic.Uint64

	// Shard.
	state     state
	pp        *ppp.Session    // proxy negotiation
	auth      ppp.AuthRequest // proxy: the credentials, fixed once queued
	proxy     *ppp.Proxy      // proxy: the values for the ICCN, fixed once queued
	refusing  bool
	refuseMsg string
	held      [][]byte
	ls        *l2tp.Session
	lease     *Lease
	deadline  time.Time // call timeout
	user      string
}

// logAttrs are the attributes of the session's event lines (internal/logx
// keys), those known: the session's IDs, the subscriber's MAC, PPPoE
// session and access interface, the user, and the L2TP tunnel and session
// with the LNS once the call is placed.
func (s *session) logAttrs() []any {
	a := []any{logx.KeyAcctSessionID, s.id, logx.KeyMAC, s.ps.ClientMAC.String(), "pppoe_session_id", s.ps.ID,
		"interface", s.ps.Interface, "mode", s.mode.String()}
	if s.user != "" {
		a = append(a, logx.KeyUser, s.user)
	}
	if s.ls != nil {
		a = append(a, logx.KeyTunnelID, s.ls.Tunnel().LocalConnID(), logx.KeySessionID, s.ls.LocalSessionID(), logx.KeyPeer, s.ls.Tunnel().Peer().String())
	}
	if s.lease != nil {
		a = append(a, logx.KeyLNS, s.lease.LNS().String())
	}
	return a
}

// nextDeadline is the earliest timer of s.
func (s *session) nextDeadline() time.Time {
	d := s.deadline
	if s.pp != nil {
		if p := s.pp.NextDeadline(); !p.IsZero() && (d.IsZero() || p.Before(d)) {
			d = p
		}
	}
	return d
}

// Authenticate is the proxy-mode ppp.Authenticator: it records the
// credentials and starts tunnel selection; the verdict comes from the LNS.
func (s *session) Authenticate(_ *ppp.Session, req ppp.AuthRequest) {
	if s.state != stNegotiating {
		return
	}
	s.auth = req
	s.user = req.Username
	p := s.pp.ProxyInfo()
	s.proxy = &p
	s.state = stSelecting
	s.l.submit(s)
}

// Up and Down are the proxy-mode ppp.Handler.
func (s *session) Up(*ppp.Session, ppp.NetworkInfo) {}
func (s *session) Down(_ *ppp.Session, r ppp.Reason) {
	if s.state == stDone {
		return
	}
	if s.refusing {
		s.finish(s.refuseMsg)
		return
	}
	s.l.stats.ProxyNegotiation.Add(1)
	s.end("subscriber's PPP ended before the call: "+r.String(), "PPP "+r.String())
}

// submit queues s for tunnel selection.
func (l *LAC) submit(s *session) {
	select {
	case l.jobs <- s:
	default:
		l.stats.JobsDropped.Add(1)
		s.sh.postCtrl(event{kind: evPlaced, s: s, err: errors.New("lac: tunnel selection queue full")})
	}
}

type evKind uint8

const (
	evStart evKind = iota
	evFrame
	evPPPoEDown
	evPlaced
	evCallUp
	evCallDown
	evShutdown
	evSnapshot
	evAdminClose
	evLNSReady
	evCarrierLost // the access interface acc lost its carrier
)

type event struct {
	kind  evKind
	s     *session
	frame []byte
	why   pppoe.DownReason
	ls    *l2tp.Session
	lease *Lease
	rc    l2tp.ResultCode
	upFn  *func([]byte) error
	upDst *upDest
	err   error
	reply chan []api.Session
	acc   *Access
}

// shard owns a set of sessions: their state, PPP machines and timers.
type shard struct {
	l        *LAC
	in       chan event
	sessions map[*session]struct{}
	timers   timerq.Queue[*session]

	// Ends of sessions that found the inbox full: a PADT, a CDN (a tunnel
	// that goes down reports every call on it at once), the shutdown. No
	// timer recovers an established session from a lost one, and the
	// reader or tunnel goroutine that reports it must not block. A session
	// ends once on each side, so the queue is bounded by the sessions.
	downs *spill.Queue[event]
}

func (sh *shard) post(ev event) bool {
	select {
	case sh.in <- ev:
		return true
	default:
		sh.l.stats.EventsDropped.Add(1)
		return false
	}
}

// postCtrl posts a control event; the call timeout recovers from a drop.
func (sh *shard) postCtrl(ev event) { sh.post(ev) }

// postDown queues the end of a session without blocking and without
// dropping it: on the inbox when there is room (in order with the
// session's other events), else on the shard's queue of ends. A session
// that has ended ignores what it receives afterwards, so an end that
// overtakes earlier events loses nothing.
func (sh *shard) postDown(ev event) {
	select {
	case sh.in <- ev:
		return
	default:
	}
	sh.l.stats.EndsQueued.Add(1)
	sh.downs.Push(ev)
}

// takeDowns handles the queued ends of sessions.
func (sh *shard) takeDowns() {
	for _, ev := range sh.downs.Take() {
		sh.handle(ev)
	}
}

func (sh *shard) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sh.in:
			sh.handle(ev)
		case <-sh.downs.Ready():
			sh.takeDowns()
		case <-timer.C:
		}
		now := sh.l.now()
		sh.expireDue(now)
		d := time.Hour
		if next, ok := sh.timers.Next(); ok {
			d = max(next.Sub(now), 0)
		}
		timer.Reset(d)
	}
}

// expireDue runs the timers that are due at now.
func (sh *shard) expireDue(now time.Time) {
	for {
		s, ok := sh.timers.PopDue(now)
		if !ok {
			return
		}
		sh.expire(s, now)
		sh.schedule(s)
	}
}

// schedule queues s for its next deadline, or takes it out.
func (sh *shard) schedule(s *session) {
	var d time.Time
	if s.state != stDone {
		d = s.nextDeadline()
	}
	sh.timers.Set(s, d)
}

// Timer places the session in its shard's deadline queue.
func (s *session) Timer() *timerq.Timer { return &s.timer }

func (sh *shard) expire(s *session, now time.Time) {
	if s.state == stDone {
		return
	}
	if !s.deadline.IsZero() && !now.Before(s.deadline) {
		s.deadline = time.Time{}
		if s.state == stUp {
			s.flush() // the LNS stayed silent (passive LCP): send what we hold
			return
		}
		if s.refusing {
			s.finish(s.refuseMsg)
			return
		}
		sh.l.stats.CallTimeouts.Add(1)
		if s.ls != nil {
			s.ls.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNTimeout)})
		}
		s.refuse("call to the LNS timed out")
		return
	}
	if s.pp != nil {
		s.pp.Tick(now)
	}
	sh.schedule(s)
}

func (sh *shard) handle(ev event) {
	s := ev.s
	l := sh.l
	now := l.now()
	switch ev.kind {
	case evCarrierLost:
		sh.carrierLost(ev.acc, ev.rc)
		return
	case evShutdown:
		for s := range sh.sessions {
			if s.ls != nil {
				s.ls.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin), HasError: true, Message: "LAC shutting down"})
			}
			s.finish("LAC shutting down")
		}
		return
	case evSnapshot:
		list := make([]api.Session, 0, len(sh.sessions))
		for s := range sh.sessions {
			list = append(list, s.info())
		}
		ev.reply <- list // buffered for every shard
		return
	case evAdminClose:
		if s.state == stDone {
			return
		}
		if s.ls != nil {
			s.ls.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin), HasError: true, Message: "administrative reset"})
		}
		s.end("reset by the operator", "administrative reset")
		return
	case evStart:
		sh.sessions[s] = struct{}{}
		s.deadline = now.Add(l.conf().CallTimeout)
		if s.mode == ModeProxy {
			s.pp = ppp.NewSession(s.ps, ppp.Config{
				Role: ppp.Server, MRU: uint16(min(s.ps.MaxPayload, 65535)), RejectACCMPFCACFC: true,
				Auth: l.conf().Auth, Authenticator: s, Handler: s, Echo: l.conf().Echo,
				Name: "bras-lac", Logger: l.pppLog,
			})
			s.pp.Open(now)
		} else {
			s.state = stSelecting
			l.submit(s)
		}
	case evFrame:
		s.pending.Add(-1)
		switch {
		case s.state == stDone:
		case s.state == stUp && s.up.Load():
			s.forwardUp(ev.frame)
		case s.pp != nil && s.state != stUp:
			s.pp.Input(ev.frame, now)
		case len(s.held) < l.conf().HeldFrames:
			s.held = append(s.held, ev.frame)
		default:
			l.stats.HeldDropped.Add(1)
			s.Dropped.Add(1)
		}
	case evPPPoEDown:
		if s.state == stDone {
			return
		}
		if ev.why == pppoe.DownPADT {
			l.stats.PADTFromSub.Add(1)
		}
		if s.pp != nil {
			s.pp.LowerDown(now)
		}
		if s.ls != nil {
			s.hangUp()
		}
		s.end("subscriber left: "+ev.why.String(), "")
	case evPlaced:
		if s.state == stDone {
			if ev.ls != nil {
				ev.ls.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNLostCarrier)})
			}
			ev.lease.Release()
			return
		}
		if ev.err != nil {
			if rej := (*rejectError)(nil); errors.As(ev.err, &rej) {
				l.log.Info(logx.MsgAuthFailed, append(s.logAttrs(), logx.KeyReason, rej.msg)...)
			} else {
				l.log.Warn("lac: no tunnel for the subscriber", append(s.logAttrs(), "err", ev.err)...)
			}
			s.refuse(refusal(ev.err))
			return
		}
		s.ls, s.lease = ev.ls, ev.lease
		if s.state == stSelecting {
			s.state = stCalling
		}
	case evCallUp:
		if s.state == stDone {
			return
		}
		s.ls = ev.ls
		s.state = stUp
		s.pp = nil // the LNS takes over PPP
		// The call is placed for good: the credentials and proxy LCP it
		// was placed with are not needed again (a box of 100,000
		// sessions would hold them for their whole life).
		s.auth, s.proxy = ppp.AuthRequest{}, nil
		s.upFn.Store(ev.upFn)
		s.upDst.Store(ev.upDst)
		l.stats.CallsUp.Add(1)
		l.log.Info(logx.MsgSessionUp, s.logAttrs()...)
		if s.lnsSpoke.Load() {
			s.flush()
		} else {
			// Held frames wait until the LNS has processed the ICCN (its
			// first frame), or ReadyWait.
			s.deadline = now.Add(l.conf().ReadyWait)
		}
	case evLNSReady:
		if s.state == stUp && !s.up.Load() {
			s.flush()
		}
	case evCallDown:
		if s.state == stDone || (s.ls != nil && s.ls != ev.ls) {
			return
		}
		if s.state == stUp {
			l.stats.CallsDown.Add(1)
			l.stats.CDNFromLNS.Add(1)
			msg := "LNS cleared the call"
			if ev.rc.Message != "" {
				msg += ": " + ev.rc.Message
			}
			s.end("LNS cleared the call: "+ev.rc.Describe(l2tp.MsgCDN), msg)
			s.ls = nil
			return
		}
		s.ls = nil
		s.refuse("LNS refused the call: " + ev.rc.Describe(l2tp.MsgCDN))
		return
	}
	sh.schedule(s)
}

// flush sends the frames held during call set-up, in order, and opens
// the direct path.
func (s *session) flush() {
	s.deadline = time.Time{}
	for _, f := range s.held {
		s.forwardUp(f)
	}
	s.held = nil
	s.up.Store(true)
	s.addFast()
}

// refusal is the message a refused subscriber gets.
func refusal(err error) string {
	var rej *rejectError
	switch {
	case errors.As(err, &rej):
		return rej.msg
	case errors.Is(err, ErrNoRoute):
		return "no route for the subscriber's realm or service"
	case errors.Is(err, ErrNoTunnel):
		return "no LNS available"
	}
	return "no tunnel available"
}

// refuse turns a subscriber away cleanly: in proxy mode with PAP Nak or
// CHAP Failure carrying msg, then LCP Terminate and PADT; in transparent
// mode with a PADT carrying msg as Generic-Error.
func (s *session) refuse(msg string) {
	s.l.stats.Refused.Add(1)
	if s.pp == nil || s.state == stDone {
		s.finish(msg)
		return
	}
	now := s.l.now()
	s.refusing, s.refuseMsg = true, msg
	s.deadline = now.Add(refuseGrace)
	pp := s.pp
	pp.AuthResult(ppp.AuthResult{OK: false, Message: msg}, now)
	if s.state != stDone && pp.State() != ppp.PhaseTerminate && pp.State() != ppp.PhaseDead {
		pp.Close(msg, now)
	}
}

// refuseGrace bounds the LCP Terminate exchange of a refusal.
const refuseGrace = 5 * time.Second

// finish ends the session: PADT (with msg as Generic-Error), lease back;
// msg is the cause its line gives.
func (s *session) finish(msg string) { s.end(msg, msg) }

// end is finish with the cause of the session's line apart from the PADT's
// message (none when the subscriber sent the PADT).
func (s *session) end(cause, msg string) {
	if s.state == stDone {
		return
	}
	s.l.log.Info(logx.MsgSessionDown, append(s.logAttrs(), logx.KeyCause, cause)...)
	s.release(msg)
}

// release is end without the log line.
func (s *session) release(msg string) {
	s.state = stDone
	s.up.Store(false)
	s.upFn.Store(nil)
	s.upDst.Store(nil)
	s.removeFast()
	s.held = nil
	s.pp = nil
	s.lease.Release()
	delete(s.sh.sessions, s)
	s.l.active.Add(-1)
	s.acc.sessions.Add(-1)
	s.l.byID.Delete(s.id)
	s.acc.close(s.ps, msg) // no-op when the subscriber sent the PADT
}

// worker selects tunnels and places calls, off the shards.
func (l *LAC) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-l.jobs:
			ls, lease, err := l.place(ctx, s)
			if !s.sh.post(event{kind: evPlaced, s: s, ls: ls, lease: lease, err: err}) {
				if ls != nil {
					ls.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesTemporary)})
				}
				lease.Release()
			}
		}
	}
}

// rejectError is a RADIUS Access-Reject; msg is its Reply-Message.
type rejectError struct{ msg string }

func (e *rejectError) Error() string { return "lac: RADIUS rejected the subscriber: " + e.msg }

// place picks the tunnel for s and places the call. It reads s.auth and
// s.ps, which do not change once the job is queued.
func (l *LAC) place(ctx context.Context, s *session) (*l2tp.Session, *Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, l.conf().CallTimeout)
	defer cancel()
	ps := s.ps
	realm := ""
	if s.mode == ModeProxy {
		realm = Realm(s.auth.Username)
	}
	var cands []LNS
	if s.mode == ModeProxy && l.conf().RADIUS != nil {
		var err error
		cands, err = l.radiusTunnels(ctx, s)
		if err != nil {
			return nil, nil, err
		}
	}
	if len(cands) == 0 {
		cands = l.conf().Routes.Lookup(realm, Port{Interface: ps.Interface, OuterVLAN: ps.OuterVLAN, VLAN: ps.VLAN}, ps.ServiceName)
	}
	if len(cands) == 0 {
		return nil, nil, fmt.Errorf("%w (realm %q, service %q, interface %s)", ErrNoRoute, realm, ps.ServiceName, ps.Interface)
	}
	lease, err := l.pool.Acquire(ctx, cands)
	if err != nil {
		return nil, nil, err
	}
	t, ok := lease.Tunnel().(*l2tp.Tunnel)
	if !ok {
		lease.Release()
		return nil, nil, errors.New("lac: pool returned a foreign tunnel")
	}
	icrq, err := ICRQAVPs(CallInfo{MAC: ps.ClientMAC, Service: ps.ServiceName, PhysicalChannel: s.acc.cfg.Channel.Value(portInfo(ps)),
		AccessLine: s.line})
	if err != nil {
		lease.Release()
		return nil, nil, err
	}
	ls, err := t.PlaceCall(l2tp.CallRequest{ICRQ: icrq, ICCN: ICCNAVPs(s.line, s.proxy), Value: s})
	if err != nil {
		lease.Release()
		return nil, nil, fmt.Errorf("%w: %w", ErrNoTunnel, err)
	}
	return ls, lease, nil
}

// radiusTunnels asks RADIUS for the subscriber's tunnels (RFC 2868); a
// reject is a *rejectError, an accept without usable tunnel gives none (the
// static routes then decide).
func (l *LAC) radiusTunnels(ctx context.Context, s *session) ([]LNS, error) {
	req := aaa.AuthRequest{
		Username:         s.auth.Username,
		NASPortType:      l.conf().NASPortType,
		NASPort:          uint32(s.ps.ID),
		NASPortID:        s.acc.cfg.NASPortID.Format(portInfo(s.ps)),
		CallingStationID: s.ps.ClientMAC.String(),
		CalledStationID:  s.ps.ServiceName,
	}
	switch s.auth.Proto {
	case ppp.AuthPAP:
		req.PAPPassword = append([]byte{}, s.auth.Password...)
	case ppp.AuthCHAPMD5:
		req.CHAPID, req.CHAPChallenge, req.CHAPResponse = s.auth.ChapID, s.auth.Challenge, s.auth.Response
	}
	reply, err := l.conf().RADIUS.Authenticate(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%w: RADIUS: %w", ErrNoTunnel, err)
	}
	if !reply.Accept {
		msg := reply.ReplyMessage
		if msg == "" {
			msg = "authentication rejected"
		}
		return nil, &rejectError{msg: msg}
	}
	return TunnelsFromRADIUS(reply.Tunnels), nil
}

// TunnelsFromRADIUS converts the RFC 2868 tunnel choices of an
// Access-Accept into LNS: L2TP over IPv4 or IPv6 (or unset type/medium)
// with a parseable Tunnel-Server-Endpoint (an address, or address:port;
// port 1701 by default). Others are skipped.
func TunnelsFromRADIUS(choices []aaa.TunnelChoice) []LNS {
	var r []LNS
	for _, c := range choices {
		if c.Type != 0 && c.Type != aaa.TunnelL2TP {
			continue
		}
		if c.Medium != 0 && c.Medium != aaa.MediumIPv4 && c.Medium != aaa.MediumIPv6 {
			continue
		}
		ap, err := netip.ParseAddrPort(c.ServerEndpoint)
		if err != nil {
			a, err := netip.ParseAddr(c.ServerEndpoint)
			if err != nil {
				continue
			}
			ap = netip.AddrPortFrom(a, 1701)
		}
		pref := c.Preference
		if !c.HasPreference {
			pref = 1 << 24 // after every explicit preference (24-bit values)
		}
		r = append(r, LNS{
			Name:         fmt.Sprintf("radius-tag%d-%s", c.Tag, ap),
			Addr:         ap,
			Secret:       c.Password,
			Preference:   pref,
			Weight:       1,
			AssignmentID: c.AssignmentID,
			ClientAuthID: c.ClientAuthID,
		})
	}
	return r
}
