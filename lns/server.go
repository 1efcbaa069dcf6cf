package lns

import (
	"context"
	"errors"
	"fmt"
	"github.com/bras-project/bras/internal/dhcp6"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// Stats are the LNS's own counters (the l2tp endpoint, the data plane, the
// RADIUS client and the accountant keep theirs).
type Stats struct {
	CallsAccepted     atomic.Uint64
	CallsRefused      atomic.Uint64
	SessionsUp        atomic.Uint64 // IPCP opened
	AuthRejected      atomic.Uint64
	AuthErrors        atomic.Uint64 // RADIUS unreachable, pool exhausted
	AuthBusy          atomic.Uint64 // worker pool saturated
	ProxyAccepted     atomic.Uint64
	ProxyRefused      atomic.Uint64
	ControlDropped    atomic.Uint64     // shard inbox full
	NoSession         atomic.Uint64     // data for a call without PPP yet
	ControlSendErrors atomic.Uint64     // PPP control frames the socket refused
	Teardowns         [20]atomic.Uint64 // by Acct-Terminate-Cause

	// TeardownsQueued counts teardowns that found a shard's inbox full and
	// waited on its teardown queue instead.
	TeardownsQueued atomic.Uint64

	// IPv6 on the sessions' links.
	RAsSent         atomic.Uint64 // Router Advertisements
	DHCPv6Bound     atomic.Uint64 // Replies that gave (or renewed) a binding
	DHCPv6Discarded atomic.Uint64 // DHCPv6 messages RFC 8415 section 16 says to ignore
	IPv6Ignored     atomic.Uint64 // link-local IPv6 for no service of ours, or before IPV6CP

	exhausted map[poolFamily]*atomic.Uint64 // allocations that found a pool exhausted; read-only map

	// states counts the sessions by state, moved as they change state
	// (session.setState), so a scrape reads it without a walk.
	states [numStates]atomic.Int64
}

func (st *Stats) countTeardown(c accounting.TerminateCause) {
	if int(c) < len(st.Teardowns) {
		st.Teardowns[c].Add(1)
	}
}

// callSetupTimeout bounds the wait for the ICCN after the ICRP (RFC 2661
// section 7.4.2 leaves it to the implementation).
const callSetupTimeout = 30 * time.Second

type authJob struct {
	s   *session
	req ppp.AuthRequest
}

// Deps are the parts of an LNS made outside it (so tests and bras lab can
// build them in namespaces): the UDP socket of the tunnels, the data plane
// on its TUN device, and the optional services.
type Deps struct {
	Conn *net.UDPConn
	// ConnIP, when set, is a raw socket of IP protocol 115: the LNS also
	// takes L2TPv3 over IP on it (RFC 3931 section 4.1.1).
	ConnIP *net.IPConn
	Logger *slog.Logger
	// DataPlane is built by NewServer from these when nil.
	TUN    []TUNQueue
	Routes RouteInstaller
	// Fast is the XDP fast path the data plane mirrors its sessions
	// into; nil: user space only.
	Fast *dataplane.LNSPath
	// Pool hands out addresses; nil: the [pool] sections in memory.
	Pool AddressPool
	// Prefixes hands out IPv6 prefixes; nil: the [pool6] sections in
	// memory.
	Prefixes PrefixPool
	// Auth checks credentials: the RADIUS client, or the lab users file
	// (aaa.SelectAuthenticator never allows both).
	Auth aaa.Authenticator
	// Acct records sessions; nil: no accounting.
	Acct *accounting.Accountant
	// AuthLog records authentication outcomes (radpostauth); optional.
	AuthLog func(ctx context.Context, user, result, reply string, at time.Time)
	// Now is the clock of the control plane (nil: time.Now), as in
	// l2tp.Config: the call set-up deadline, Session-Timeout, Idle-Timeout
	// and PPP's timers are derived from it, and the data plane and the
	// L2TP endpoint are given it, so that idle times agree.
	Now func() time.Time
}

// Server is the LNS: it accepts tunnels and calls from the configured LACs,
// runs PPP for each call on a few shard goroutines, authenticates through
// RADIUS (or the lab users file) on a bounded worker pool, assigns addresses
// and forwards the subscribers' traffic through the data plane.
type Server struct {
	// cfgp is the configuration now in force, an immutable snapshot: a
	// reload swaps it whole (Reload), and each reader takes it once per
	// decision (conf).
	cfgp     atomic.Pointer[FileConfig]
	reloadMu sync.Mutex // one reload at a time
	log      *slog.Logger
	deps     Deps
	ep       *l2tp.Endpoint
	epIP     *l2tp.Endpoint // on Deps.ConnIP; nil without
	dp       *DataPlane
	pool     AddressPool
	local    *LocalPool
	dhcp     *dhcp6.Server // DHCPv6 on every session's link
	acct     *accounting.Accountant
	stats    Stats

	// prefixes hands out IPv6 prefixes; nil when there is no IPv6 pool.
	prefixes PrefixPool
	local6   *LocalPrefixPool

	shards []*shard
	jobs   chan authJob

	relMu   sync.Mutex
	rels    []release     // shared-pool addresses to give back
	relWake chan struct{} // rels has work

	mu       sync.RWMutex
	sessions map[string]*session
	up       atomic.Int64

	// setup observes set-up durations by stage; nil until
	// RegisterMetrics.
	setup atomic.Pointer[[numStages]*metrics.Histogram]

	seq  atomic.Uint64
	now  func() time.Time
	boot time.Time
	ctx  context.Context
}

// NewServer builds an LNS from its configuration and parts.
func NewServer(cfg *FileConfig, d Deps) (*Server, error) {
	if d.Conn == nil {
		return nil, errors.New("lns: no UDP socket")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{
		log:      d.Logger,
		deps:     d,
		acct:     d.Acct,
		sessions: make(map[string]*session),
		jobs:     make(chan authJob, cfg.LNS.AuthWorkers*4),
		relWake:  make(chan struct{}, 1),
		now:      now,
		boot:     now(),
		dhcp:     dhcp6.NewServer(cfg.LNS.Node),
	}
	s.cfgp.Store(cfg)
	local, err := cfg.LocalPools()
	if err != nil {
		return nil, err
	}
	s.local = local
	s.pool = d.Pool
	if s.pool == nil {
		if local == nil {
			return nil, errors.New("lns: no address pool")
		}
		s.pool = local
	}
	if s.local6, err = cfg.LocalPrefixPools(); err != nil {
		return nil, err
	}
	switch {
	case d.Prefixes != nil:
		s.prefixes = d.Prefixes
	case s.local6 != nil:
		s.prefixes = s.local6
	}
	s.stats.exhausted = exhaustedCounters(cfg)
	if d.Auth == nil {
		return nil, errors.New("lns: no authenticator (RADIUS client or local users)")
	}
	n := cfg.LNS.Shards
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	for i := 0; i < n; i++ {
		s.shards = append(s.shards, newShard(s, 4096))
	}
	udp, err := udpio.NewConn(d.Conn)
	if err != nil {
		return nil, err
	}
	var out BatchWriter = udp
	if d.ConnIP != nil {
		out = newIPSplitWriter(udp, d.ConnIP)
	}
	plan, _ := cfg.Dataplane.Check() // checked with the configuration
	s.dp, err = NewDataPlane(DataPlaneConfig{
		TUN:         d.TUN,
		Conn:        out,
		Routes:      d.Routes,
		Control:     s.onControl,
		Logger:      d.Logger.With(logx.KeyComponent, logx.Dataplane),
		MaxSessions: cfg.LNS.MaxSessions,
		MTU:         cfg.TUN.MTU,
		Fast:        d.Fast,
		Now:         d.Now,
		Local:       d.Conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		MSS:         plan.ClampFor(cfg.PPP.MRU),
	})
	if err != nil {
		return nil, err
	}
	ec := l2tp.Config{
		HostName:   cfg.LNS.HostName,
		VendorName: "bras",
		Logger:     d.Logger.With(logx.KeyComponent, logx.L2TP),
		Accept:     s.accept,
		Handler:    (*l2tpEvents)(s),
		Data:       s.onData,
		Now:        d.Now,
		Stats:      new(l2tp.Stats), // one set for the UDP and IP endpoints

		MaxHalfOpen:        cfg.LNS.MaxHalfOpen,
		MaxHalfOpenPerPeer: cfg.LNS.MaxHalfOpenPerPeer,
	}
	if s.ep, err = l2tp.NewEndpoint(d.Conn, ec); err != nil {
		return nil, err
	}
	if d.ConnIP != nil {
		if s.epIP, err = l2tp.NewEndpoint(d.ConnIP, ec); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// conf is the configuration in force: a snapshot never changed in place.
func (s *Server) conf() *FileConfig { return s.cfgp.Load() }

// Endpoint is the L2TP endpoint (for its statistics and tunnels).
func (s *Server) Endpoint() *l2tp.Endpoint { return s.ep }

// DataPlane is the forwarding path (for its statistics).
func (s *Server) DataPlane() *DataPlane { return s.dp }

// Stats are the LNS's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// SessionsUp is the number of sessions with IPCP open.
func (s *Server) SessionsUp() int { return int(s.up.Load()) }

func (s *Server) countUp(d int64) { s.up.Add(d) }

// Run serves until ctx is done, then shuts down gracefully: every session
// gets its accounting Stop with cause Admin-Reboot and a CDN, every tunnel
// a StopCCN.
func (s *Server) Run(ctx context.Context) error {
	s.ctx = ctx
	shardCtx, stopShards := context.WithCancel(context.Background())
	defer stopShards()
	var wg sync.WaitGroup
	for _, sh := range s.shards {
		wg.Add(1)
		go func() { defer wg.Done(); sh.run(shardCtx) }()
	}
	workerCtx, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	for i := 0; i < s.conf().LNS.AuthWorkers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.authWorker(workerCtx) }()
	}
	relCtx, stopReleaser := context.WithCancel(context.Background())
	defer stopReleaser()
	relDone := make(chan struct{})
	go func() { defer close(relDone); s.releaser(relCtx) }()
	dpCtx, stopDP := context.WithCancel(context.Background())
	defer stopDP()
	dpErr := make(chan error, 1)
	go func() { dpErr <- s.dp.Run(dpCtx) }()
	epCtx, stopEP := context.WithCancel(context.Background())
	defer stopEP()
	eps := s.endpoints()
	epErr := make(chan error, len(eps))
	for _, ep := range eps {
		go func() { epErr <- ep.Run(epCtx) }()
	}
	epRunning := len(eps)

	listen := s.deps.Conn.LocalAddr().String()
	if s.deps.ConnIP != nil {
		listen += ", " + s.deps.ConnIP.LocalAddr().String() + " (L2TPv3 over IP)"
	}
	s.log.Info("LNS running", "listen", listen, "host_name", s.conf().LNS.HostName, "shards", len(s.shards))
	var err error
	select {
	case <-ctx.Done():
	case err = <-dpErr:
		err = fmt.Errorf("lns: data plane: %w", err)
	case err = <-epErr:
		epRunning--
		err = fmt.Errorf("lns: l2tp endpoint: %w", err)
	}

	// Graceful shutdown: Stop for every session, CDN, then StopCCN.
	s.log.Info("LNS shutting down", "sessions", len(s.snapshot()))
	for _, ss := range s.snapshot() {
		done := make(chan struct{})
		if ss.sh.send(shardCtx, event{kind: evDisconnect, s: ss, cause: causeShutdown, done: done}) {
			<-done
		}
	}
	// PPP may still be closing: cut what remains. The bound is on the
	// system clock: a shutdown must end whatever the control plane's clock.
	deadline := time.Now().Add(3 * time.Second)
	for len(s.snapshot()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, ss := range s.snapshot() {
		done := make(chan struct{})
		if ss.sh.send(shardCtx, event{kind: evCallDown, s: ss, cause: causeShutdown, done: done}) {
			<-done
		}
	}
	stopEP()
	for ; epRunning > 0; epRunning-- {
		<-epErr
	}
	stopWorkers()
	stopShards()
	stopDP()
	<-dpErr
	wg.Wait()
	stopReleaser() // after the shards: they queue the last releases
	<-relDone
	return err
}

// accept decides on an SCCRQ: only configured LACs, from their allowed
// prefixes, with tunnel authentication unless disabled for that LAC.
func (s *Server) accept(peer netip.AddrPort, hostName string) (l2tp.TunnelOptions, error) {
	c := s.conf()
	for i := range c.LACs {
		l := &c.LACs[i]
		if !strings.EqualFold(l.HostName, hostName) {
			continue
		}
		if len(l.AllowedFrom) > 0 {
			ok := false
			for _, p := range l.AllowedFrom {
				if p.Contains(peer.Addr().Unmap()) {
					ok = true
					break
				}
			}
			if !ok {
				s.log.Warn("tunnel refused: source not allowed for this LAC", "peer", peer.String(), "lac", l.Name)
				return l2tp.TunnelOptions{}, fmt.Errorf("lns: %s not allowed for LAC %q", peer.Addr(), l.Name)
			}
		}
		return l2tp.TunnelOptions{
			Secret:        l.Secret.Bytes(),
			HideAVPs:      l.HideAVPs,
			HelloInterval: l.HelloInterval,
			MaxSessions:   l.MaxSessions,
			RetransmitCap: c.LNS.RetransmitCap,
			MaxRetries:    c.LNS.MaxRetries,
			Versions:      l.Versions,
			CookieLen:     l.cookieLen(),
		}, nil
	}
	s.log.Warn("tunnel refused: unknown LAC", "peer", peer.String(), "host_name", hostName)
	return l2tp.TunnelOptions{}, fmt.Errorf("lns: unknown LAC host name %q", hostName)
}

func (s *Server) lacOf(t *l2tp.Tunnel) *LACSection {
	c := s.conf()
	for i := range c.LACs {
		if strings.EqualFold(c.LACs[i].HostName, t.PeerHostName()) {
			return &c.LACs[i]
		}
	}
	return nil
}

func (s *Server) newSessionID() string {
	return fmt.Sprintf("%s-%x-%06x", s.conf().LNS.Node, s.boot.Unix(), s.seq.Add(1))
}

func (s *Server) shardOf(id uint64) *shard { return s.shards[id%uint64(len(s.shards))] }

// l2tpEvents adapts the Server to l2tp.Handler. Its methods run on tunnel
// goroutines and must not block.
type l2tpEvents Server

func (e *l2tpEvents) TunnelUp(t *l2tp.Tunnel) {
	(*Server)(e).log.Info("tunnel up", "peer", t.Peer().String(), "host_name", t.PeerHostName(), "tunnel_id", t.LocalConnID(), "version", t.Version())
}

func (e *l2tpEvents) TunnelDown(t *l2tp.Tunnel, rc l2tp.ResultCode, err error) {
	(*Server)(e).log.Info("tunnel down", "peer", t.Peer().String(), "tunnel_id", t.LocalConnID(), "result", rc.Describe(l2tp.MsgStopCCN), "err", err)
}

// IncomingCall accepts an ICRQ when the node and the LAC have room.
func (e *l2tpEvents) IncomingCall(t *l2tp.Tunnel, c *l2tp.Session, icrq *l2tp.Message) error {
	s := (*Server)(e)
	lac := s.lacOf(t)
	if lac == nil {
		s.stats.CallsRefused.Add(1)
		return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin), Message: "unknown LAC"}}
	}
	s.mu.Lock()
	full := len(s.sessions) >= s.conf().LNS.MaxSessions
	var ss *session
	if !full {
		n := s.seq.Load()
		ss = &session{
			srv:     s,
			sh:      s.shardOf(n),
			id:      s.newSessionID(),
			call:    c,
			tunnel:  t,
			lac:     lac,
			created: s.now(),
			line:    lineOf(icrq),
		}
		s.sessions[ss.id] = ss
		s.stats.states[stateStarting].Add(1)
	}
	s.mu.Unlock()
	if full {
		s.stats.CallsRefused.Add(1)
		return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesTemporary), Message: "session limit reached"}}
	}
	ss.log = s.log.With(logx.KeyAcctSessionID, ss.id, logx.KeyTunnelID, t.LocalConnID(), logx.KeySessionID, c.LocalSessionID(),
		logx.KeyPeer, t.Peer().String(), logx.KeyLAC, lac.Name)
	ss.setupBy = ss.created.Add(callSetupTimeout)
	c.SetValue(ss)
	ss.publish()
	if !ss.sh.post(event{kind: evCallIn, s: ss}) {
		s.forget(ss)
		s.stats.states[stateStarting].Add(-1)
		s.stats.CallsRefused.Add(1)
		return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesTemporary), Message: "overloaded"}}
	}
	s.stats.CallsAccepted.Add(1)
	return nil
}

// SessionUp: the ICCN is in. The data-plane flow is made here so frames
// that follow find it; PPP starts on the shard.
func (e *l2tpEvents) SessionUp(c *l2tp.Session, _ *l2tp.Message) {
	s := (*Server)(e)
	ss, _ := c.Value().(*session)
	if ss == nil {
		return
	}
	fc := FlowConfig{
		LocalTunnelID:  c.Tunnel().LocalID(),
		LocalSessionID: c.LocalID(),
		PeerTunnelID:   c.Tunnel().PeerID(),
		PeerSessionID:  c.PeerID(),
		Peer:           c.Tunnel().Peer(),
		Sequencing:     c.Sequenced(),
		Owner:          ss,
	}
	var err error
	if c.Tunnel().Version() == 3 {
		// An L2TPv3 pseudowire: found by its l2tp session (onData), framed
		// as the LAC asked, forwarded in user space.
		fr, ok := c.V3Framing()
		if !ok {
			err = errors.New("lns: L2TPv3 session without its data framing")
		}
		fc.V3, fc.LocalTunnelID, fc.LocalSessionID = &fr, 0, 0
	}
	var f *Flow
	if err == nil {
		f, err = NewFlow(fc)
	}
	if err == nil {
		err = s.dp.Add(f)
	}
	if err != nil {
		ss.log.Error("cannot set up the data path", "err", err)
		c.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNGeneralError), Message: "data path"})
		return
	}
	ss.flow.Store(f)
	if !ss.sh.post(event{kind: evCallUp, s: ss}) {
		s.stats.ControlDropped.Add(1)
		c.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesTemporary), Message: "overloaded"})
	}
}

// SessionDown: CDN received or sent, or the tunnel is gone.
func (e *l2tpEvents) SessionDown(c *l2tp.Session, rc l2tp.ResultCode) {
	ss, _ := c.Value().(*session)
	if ss == nil {
		return
	}
	lost := c.Tunnel().State() != l2tp.CtrlEstablished
	(*Server)(e).callDown(ss, lost, callDownCause(rc, c.CDN(), lost))
}

// callDown hands the end of a call, with the cause its CDN or StopCCN
// gives (cause.go), to the session's shard, on the tunnel's goroutine: it
// neither blocks nor drops the teardown (shard.postDown).
func (s *Server) callDown(ss *session, lostTunnel bool, cause accounting.TerminateCause) {
	ss.sh.postDown(event{kind: evCallDown, s: ss, lostTunnel: lostTunnel, cause: cause})
}

func (e *l2tpEvents) SetLinkInfo(c *l2tp.Session, accm l2tp.ACCM) {}
func (e *l2tpEvents) WANError(c *l2tp.Session, errs l2tp.CallErrors) {
	if ss, _ := c.Value().(*session); ss != nil {
		ss.log.Info("WAN error notify from the LAC", "crc", errs.CRC, "framing", errs.Framing, "overruns", errs.HardwareOverruns)
	}
}

// onData is the l2tp endpoint's data callback, on its socket reader.
func (s *Server) onData(_ *l2tp.Tunnel, c *l2tp.Session, _ l2tp.Header, payload []byte) {
	ss, _ := c.Value().(*session)
	if ss == nil {
		s.stats.NoSession.Add(1)
		return
	}
	f := ss.flow.Load()
	if f == nil {
		s.early(ss, payload)
		return
	}
	s.dp.Decap(f, payload)
}

// early takes a frame of a call whose ICCN is still on its way through
// the tunnel's control path: the LAC sends the ICCN and the first LCP
// Configure-Request back to back (a voluntary client, RFC 2661 section 2,
// or a LAC in transparent mode), and the data message may overtake the
// ICCN here. A PPP control frame goes to the session's shard, which holds
// it until PPP starts (evCallUp follows on the same queue); anything else
// is dropped and counted.
func (s *Server) early(ss *session, payload []byte) {
	frame := ppp.StripAddressControl(payload)
	p, _, err := ppp.ParseProtocol(frame)
	if err != nil || !p.IsControl() {
		s.stats.NoSession.Add(1)
		return
	}
	cp := append([]byte(nil), frame...)
	if !ss.sh.post(event{kind: evControl, s: ss, frame: cp}) {
		s.stats.ControlDropped.Add(1)
	}
}

// onControl gets PPP control frames from the data plane (on the socket
// reader): a copy goes to the session's shard.
func (s *Server) onControl(f *Flow, _ ppp.Protocol, frame []byte) {
	ss, _ := f.Owner().(*session)
	if ss == nil {
		return
	}
	cp := append([]byte(nil), frame...)
	if !ss.sh.post(event{kind: evControl, s: ss, frame: cp}) {
		s.stats.ControlDropped.Add(1)
	}
}

func (s *Server) forget(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss.id)
	s.mu.Unlock()
}

func (s *Server) snapshot() []*session {
	s.mu.RLock()
	out := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	s.mu.RUnlock()
	return out
}

func (s *Server) lookup(id string) *session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[id]
}

// authWorker runs RADIUS requests and address allocations off the shards.
func (s *Server) authWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.jobs:
			o := s.authenticate(ctx, j)
			if !j.s.sh.send(ctx, event{kind: evAuthDone, s: j.s, auth: o}) {
				s.releaseOutcome(j.s, o)
			}
		}
	}
}

func (s *Server) authenticate(ctx context.Context, j authJob) *authOutcome {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ss, req := j.s, j.req
	v := ss.view.Load()
	ar := aaa.AuthRequest{
		Username:         req.Username,
		NASPort:          ss.call.LocalSessionID(),
		NASPortID:        ss.nasPortID(),
		AcctSessionID:    ss.id,
		CallingStationID: v.Calling,
		CalledStationID:  v.Called,
		Tunnel: &aaa.TunnelInfo{
			Type:           aaa.TunnelL2TP,
			Medium:         aaa.MediumIPv4,
			ClientEndpoint: ss.tunnel.Peer().Addr().String(),
			ServerEndpoint: endpointText(tunnelLocalIP(ss.tunnel)),
			ClientAuthID:   ss.tunnel.PeerHostName(),
			ServerAuthID:   s.conf().LNS.HostName,
		},
	}
	switch req.Proto {
	case ppp.AuthPAP:
		ar.PAPPassword = req.Password
	case ppp.AuthCHAPMD5:
		ar.CHAPID, ar.CHAPChallenge, ar.CHAPResponse = req.ChapID, req.Challenge, req.Response
	}
	o := &authOutcome{}
	reply, err := s.deps.Auth.Authenticate(ctx, ar)
	if err != nil {
		s.stats.AuthErrors.Add(1)
		ss.log.Warn(logx.MsgAuthFailed, logx.KeyUser, req.Username, logx.KeyReason, "no answer from the authentication service", "err", err)
		o.message, o.logged = "authentication service unavailable", true
		return o
	}
	o.reply = reply
	if !reply.Accept {
		o.message = reply.ReplyMessage
		if o.message == "" {
			o.message = "authentication failed"
		}
		s.logAuth(ctx, req.Username, "Access-Reject", o.message)
		return o
	}
	s.logAuth(ctx, req.Username, "Access-Accept", "")
	return s.assign(ctx, o, ss, req.Username)
}

// assign gives an accepted session its address, DNS servers and IPv6
// prefixes: what the Access-Accept in o.reply says, else from the pools.
// It returns the outcome that refuses the session when one is missing.
func (s *Server) assign(ctx context.Context, o *authOutcome, ss *session, user string) *authOutcome {
	reply := o.reply
	o.ok = true
	if o.addr = reply.FramedIP; o.addr.IsValid() {
		if s.local != nil {
			if err := s.local.Claim(o.addr, ss.id); err != nil {
				ss.log.Warn(logx.MsgAddressRefused, logx.KeyUser, user, logx.KeyIP, o.addr, logx.KeyReason, "Framed-IP-Address is held by another session", "err", err)
				return &authOutcome{message: "address in use", logged: true}
			}
			o.pool = "claim"
		}
	} else if err := s.allocate(ctx, o, reply.FramedPool, ss, user); err != nil {
		return &authOutcome{message: "no address available", logged: true}
	}
	for i, d := range reply.DNS {
		if i < 2 && d.Is4() {
			o.dns[i] = d
		}
	}
	if !o.dns[0].IsValid() {
		for i, d := range s.conf().PPP.DNS {
			o.dns[i] = d
		}
	}
	if err := s.allocateIPv6(ctx, o, ss, user); err != nil {
		s.releaseOutcome(ss, o)
		return &authOutcome{message: "no IPv6 prefix available", logged: true}
	}
	return o
}

func (s *Server) allocate(ctx context.Context, o *authOutcome, pool string, ss *session, user string) error {
	a, err := s.pool.Allocate(ctx, pool, ss.id)
	if err != nil {
		if isExhausted(err) {
			name := pool
			if name == "" {
				name = s.conf().PPP.DefaultPool
			}
			s.stats.countExhausted(name, "ipv4")
		}
		s.stats.AuthErrors.Add(1)
		ss.log.Warn(logx.MsgAddressRefused, logx.KeyUser, user, logx.KeyReason, "no address from the pool", "pool", pool, "err", err)
		return err
	}
	o.addr, o.pool = a, pool
	if o.pool == "" {
		o.pool = "default"
	}
	return nil
}

// releaseIPv6 gives back the IPv6 prefixes o took from the pools or
// claimed in them, and returns them.
func (s *Server) releaseIPv6(ss *session, o *authOutcome) []netip.Prefix {
	back := append(o.v6.all(), o.v6.claimed...)
	for _, p := range o.v6.all() {
		s.releasePrefix(ss, p)
	}
	for _, p := range o.v6.claimed {
		_ = s.local6.ReleasePrefix(context.Background(), p, ss.id)
	}
	o.v6 = leases6{}
	return back
}

// releaseOutcome gives back an address and IPv6 prefixes that were
// allocated or claimed for a session that will not use them (or no longer
// does).
func (s *Server) releaseOutcome(ss *session, o *authOutcome) {
	if o == nil || !o.ok {
		return
	}
	s.releaseIPv6(ss, o)
	if o.pool == "" || !o.addr.IsValid() {
		return
	}
	if o.pool == "claim" {
		_ = s.local.Release(context.Background(), o.addr, ss.id)
		return
	}
	addr := o.addr
	o.pool = ""
	if s.pool == AddressPool(s.local) { // in memory: no wait
		_ = s.local.Release(context.Background(), addr, ss.id)
		return
	}
	s.queueRelease(release{ss: ss, addr: addr})
}

// queueRelease hands a release to the releaser: a shared pool is a
// database round trip, off the shard. Each session queues its address and
// prefixes once, so the queue is bounded by the sessions.
func (s *Server) queueRelease(r release) {
	s.relMu.Lock()
	s.rels = append(s.rels, r)
	s.relMu.Unlock()
	select {
	case s.relWake <- struct{}{}:
	default:
	}
}

// release is an address, or an IPv6 prefix, to give back to the shared
// pool.
type release struct {
	ss     *session
	addr   netip.Addr
	prefix netip.Prefix
}

// releaser gives back the addresses the shards queued, one at a time, until
// ctx is done; then what remains, within releaseDrain.
func (s *Server) releaser(ctx context.Context) {
	for {
		select {
		case <-s.relWake:
			s.releaseQueued(context.Background(), 10*time.Second)
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.Background(), releaseDrain)
			defer cancel()
			s.releaseQueued(drain, releaseDrain)
			return
		}
	}
}

// releaseDrain bounds the releases still queued at shutdown.
const releaseDrain = 5 * time.Second

func (s *Server) releaseQueued(parent context.Context, each time.Duration) {
	s.relMu.Lock()
	rels := s.rels
	s.rels = nil
	s.relMu.Unlock()
	for _, r := range rels {
		ctx, cancel := context.WithTimeout(parent, each)
		if r.prefix.IsValid() {
			if err := s.prefixes.ReleasePrefix(ctx, r.prefix, r.ss.id); err != nil {
				r.ss.log.Warn("IPv6 prefix release failed", "prefix", r.prefix, "err", err)
			}
		} else if err := s.pool.Release(ctx, r.addr, r.ss.id); err != nil {
			r.ss.log.Warn("address release failed", "addr", r.addr, "err", err)
		}
		cancel()
	}
}

func (s *Server) logAuth(ctx context.Context, user, result, reply string) {
	if s.deps.AuthLog != nil {
		s.deps.AuthLog(ctx, user, result, reply, s.now())
	}
}

// endpointText is a as Tunnel-Server-Endpoint writes it (RFC 2868
// section 3.4); "" (no attribute) when unknown.
func endpointText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// tunnelLocalIP is our address on t's socket; invalid when the socket is
// bound to every address.
func tunnelLocalIP(t *l2tp.Tunnel) netip.Addr {
	if a := t.LocalAddr().Addr(); !a.IsUnspecified() {
		return a
	}
	return netip.Addr{}
}
