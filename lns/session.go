package lns

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/timerq"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// sessState is where a subscriber session stands on the LNS.
type sessState uint8

const (
	stateStarting sessState = iota // ICRQ accepted, waiting for ICCN
	stateLCP                       // PPP negotiating (LCP, authentication, IPCP)
	stateUp                        // IPCP opened: forwarding, accounted
	stateClosing                   // LCP Terminate sent, waiting for it to finish
	stateDown                      // torn down; nothing more happens
)

// numStates is the number of session states.
const numStates = int(stateDown) + 1

// setState moves the session to st and the per-state gauge with it.
func (s *session) setState(st sessState) {
	if st == s.state {
		return
	}
	s.srv.stats.states[s.state].Add(-1)
	if st != stateDown {
		s.srv.stats.states[st].Add(1)
	}
	s.state = st
}

func (s sessState) String() string {
	switch s {
	case stateStarting:
		return "starting"
	case stateLCP:
		return "negotiating"
	case stateUp:
		return "up"
	case stateClosing:
		return "closing"
	case stateDown:
		return "down"
	}
	return "state(?)"
}

// authOutcome is what the worker pool found for an authentication request.
type authOutcome struct {
	ok      bool
	message string
	addr    netip.Addr
	pool    string // the pool addr came from ("" when RADIUS gave it outright)
	dns     [2]netip.Addr
	reply   *aaa.AuthReply // nil for the local users file
	logged  bool           // a refusal whose line the worker wrote (it knew the error)
	v6      leases6        // IPv6 prefixes from the pools
}

// change is a CoA-Request's change to a live session (RFC 5176 section 3).
type change struct {
	rate           *aaa.RateLimit
	sessionTimeout *time.Duration
	idleTimeout    *time.Duration
}

// session is one subscriber on the LNS: an L2TP call carrying one PPP
// session. Every field below the atomics is owned by the shard goroutine.
type session struct {
	srv    *Server
	sh     *shard
	id     string // Acct-Session-Id
	call   *l2tp.Session
	tunnel *l2tp.Tunnel
	lac    *LACSection
	log    *slog.Logger

	flow atomic.Pointer[Flow]
	view atomic.Pointer[View]

	state sessState
	ppp   *ppp.Session
	early [][]byte // control frames that arrived before PPP started
	// What the ICRQ said of the subscriber's line, taken when the call
	// came in; the call's messages are let go once PPP has started.
	line     lineInfo
	created  time.Time
	started  time.Time // IPCP up
	user     string
	addr     netip.Addr
	addrPool string // pool addr must be released to ("" for a RADIUS address)
	authed   *authOutcome
	interim  time.Duration
	class    [][]byte
	rate     aaa.RateLimit

	sessionTimeout, idleTimeout time.Duration
	stopAt                      time.Time                 // Session-Timeout
	idleAt                      time.Time                 // next Idle-Timeout check
	cause                       accounting.TerminateCause // why it is closing
	accounted                   bool                      // Start was written

	setupBy time.Time    // the ICCN must arrive by then
	timer   timerq.Timer // in the shard's queue

	v6 *ipv6State // nil: no IPv6 service
}

// Timer places the session in its shard's deadline queue.
func (s *session) Timer() *timerq.Timer { return &s.timer }

// View is what the API shows of a session; the shard replaces it whenever
// the session changes, readers load it atomically.
type View struct {
	ID                          string
	State                       string
	User                        string
	Addr                        netip.Addr
	LAC                         string
	Calling                     string
	Called                      string
	CircuitID, RemoteID         string // the access line's, from the ICRQ (RFC 4679 section 3)
	TunnelID                    uint16
	SessionID                   uint16
	PeerTunnelID                uint16
	PeerSessionID               uint16
	Created                     time.Time
	Started                     time.Time
	Rate                        aaa.RateLimit
	SessionTimeout, IdleTimeout time.Duration
	// IPv6Prefix and Delegated are the session's IPv6 prefixes once its
	// IPV6CP is up.
	IPv6Prefix, Delegated netip.Prefix
}

func (s *session) publish() {
	v := &View{
		ID:             s.id,
		State:          s.state.String(),
		User:           s.user,
		Addr:           s.addr,
		LAC:            s.lac.Name,
		TunnelID:       s.tunnel.LocalID(),
		SessionID:      s.call.LocalID(),
		PeerTunnelID:   s.tunnel.PeerID(),
		PeerSessionID:  s.call.PeerID(),
		Created:        s.created,
		Started:        s.started,
		Rate:           s.rate,
		SessionTimeout: s.sessionTimeout,
		IdleTimeout:    s.idleTimeout,
	}
	if s.v6 != nil && s.v6.up {
		v.IPv6Prefix, v.Delegated = s.v6.link, s.v6.delegated
	}
	v.Calling, v.Called, v.CircuitID, v.RemoteID = s.line.calling, s.line.called, s.line.circuit, s.line.remote
	s.view.Store(v)
}

// Send implements ppp.Link: PPP frames go to the LAC with the HDLC address
// and control octets (RFC 2661 section 5.3).
func (s *session) Send(frame []byte) error {
	if f := s.flow.Load(); f != nil {
		if s.call.Sequenced() {
			// At once: one Ns sequence with the data path, in order.
			return s.srv.dp.SendFrame(f, frame)
		}
		return s.sh.queueFrame(f, frame) // sent at the end of the shard's pass
	}
	b := make([]byte, 0, len(frame)+2)
	b = append(b, 0xff, 0x03)
	b = append(b, frame...)
	return s.tunnel.SendData(s.call, b)
}

// Authenticate implements ppp.Authenticator: the request goes to the worker
// pool; the answer comes back to the shard as evAuthDone.
func (s *session) Authenticate(_ *ppp.Session, req ppp.AuthRequest) {
	s.user = req.Username
	s.publish()
	select {
	case s.srv.jobs <- authJob{s: s, req: req}:
	default:
		s.srv.stats.AuthBusy.Add(1)
		s.sh.later = append(s.sh.later, event{kind: evAuthFail, s: s})
	}
}

// Up implements ppp.Handler: IPCP is open.
func (s *session) Up(_ *ppp.Session, n ppp.NetworkInfo) {
	if s.state >= stateClosing {
		return
	}
	now := s.srv.now()
	if n.Peer != s.addr {
		// The client may only have the address we offered (RFC 1332
		// section 3.3: we Nak'd anything else).
		s.log.Warn("IPCP opened with an address we did not assign", "want", s.addr, "got", n.Peer)
		s.close(causeLocalError, "address mismatch", now)
		return
	}
	s.setState(stateUp)
	s.started = now
	if s.sessionTimeout > 0 {
		s.stopAt = now.Add(s.sessionTimeout)
	}
	if s.idleTimeout > 0 {
		s.idleAt = now.Add(idleCheck(s.idleTimeout))
	}
	s.srv.stats.SessionsUp.Add(1)
	s.srv.observeSetup(stageIPCP, now.Sub(s.created))
	s.srv.countUp(+1)
	s.publish()
	s.log.Info(logx.MsgSessionUp, append(s.who(), "rate", s.rate.String())...)
	if a := s.srv.acct; a != nil {
		a.SessionStarted(accounting.SessionInfo{
			Record:   s.record(now),
			Interim:  s.interim,
			Counters: s.counters,
		})
		s.accounted = true
	}
}

// Down implements ppp.Handler: PPP has ended; the call goes with it.
func (s *session) Down(_ *ppp.Session, r ppp.Reason) {
	cause := s.cause
	if cause == 0 {
		cause = pppCause(r)
	}
	s.teardown(cause, true, r.String(), s.srv.now())
}

func (s *session) counters() accounting.Counters {
	f := s.flow.Load()
	if f == nil {
		return accounting.Counters{}
	}
	c := f.Counters()
	return accounting.Counters{InOctets: c.InOctets, OutOctets: c.OutOctets, InPackets: c.InPackets, OutPackets: c.OutPackets,
		In6Octets: c.In6Octets, Out6Octets: c.Out6Octets, In6Packets: c.In6Packets, Out6Packets: c.Out6Packets}
}

// nasPortID is the session's NAS-Port-Id (RFC 2869 section 5.17): its
// tunnel (L2TPv3: control connection) and session ID on this LNS,
// "tunnel/session", 32-bit on L2TPv3, the same in the
// Access-Request and in every accounting record, so RADIUS and
// PostgreSQL can count each tunnel's sessions.
func (s *session) nasPortID() string {
	return strconv.FormatUint(uint64(s.tunnel.LocalConnID()), 10) + "/" + strconv.FormatUint(uint64(s.call.LocalSessionID()), 10)
}

func (s *session) record(now time.Time) accounting.Record {
	user, realm := splitRealm(s.user)
	v := s.view.Load()
	r := accounting.Record{
		Kind:             accounting.Start,
		SessionID:        s.id,
		Node:             s.srv.conf().LNS.Node,
		Username:         user,
		Realm:            realm,
		CallingStationID: v.Calling,
		NASPortID:        s.nasPortID(),
		LAC:              s.tunnel.PeerHostName(),
		TunnelID:         s.tunnel.LocalConnID(),
		PeerTunnelID:     s.tunnel.PeerConnID(),
		L2TPSessionID:    s.call.LocalSessionID(),
		PeerSessionID:    s.call.RemoteSessionID(),
		L2TPVersion:      uint8(s.tunnel.Version()),
		LACAddr:          s.tunnel.Peer().Addr(),
		LNSAddr:          tunnelLocalIP(s.tunnel),
		Addr:             s.addr,
		Time:             now,
		Started:          now,
		RateDownKbps:     uint32(s.rate.DownKbps),
		RateUpKbps:       uint32(s.rate.UpKbps),
		Class:            s.class,
	}
	if s.user != "" && realm == "" {
		r.Username = s.user
	}
	r.CircuitID, r.RemoteID = s.line.circuit, s.line.remote
	if r.L2TPVersion == 3 {
		r.PWType = uint16(s.call.PWType())
	}
	if v := s.v6; v != nil && v.up {
		r.IPv6Prefix, r.DelegatedPrefix, r.IPv6Address = v.link, v.delegated, v.address
		r.InterfaceID = v.interfaceID()
	}
	return r
}

// vendorBBF is the Broadband Forum's Vendor ID: the LAC passes the PPPoE
// access line's Agent-Circuit-Id and Agent-Remote-Id (RFC 4679 section 3)
// in the ICRQ as its vendor AVPs 1 and 2 (RFC 5515).
const vendorBBF = 3561

// lineInfo is what an ICRQ says of the subscriber's line: the Calling and
// Called Numbers (RFC 2661 sections 4.4.5, the LAC's MAC and port) and the
// access line IDs.
type lineInfo struct {
	calling, called string
	circuit, remote string
}

// lineOf reads the line of icrq (nil: none known).
func lineOf(icrq *l2tp.Message) lineInfo {
	var l lineInfo
	if icrq == nil {
		return l
	}
	if a, ok := icrq.Find(l2tp.AVPCallingNumber); ok {
		l.calling = string(a.Value)
	}
	if a, ok := icrq.Find(l2tp.AVPCalledNumber); ok {
		l.called = string(a.Value)
	}
	l.circuit, l.remote = accessLine(icrq)
	return l
}

// accessLine returns the access line IDs an ICRQ carries, if any.
func accessLine(icrq *l2tp.Message) (circuit, remote string) {
	if icrq == nil {
		return "", ""
	}
	for _, a := range icrq.AVPs {
		switch {
		case a.VendorID != vendorBBF || a.Hidden:
		case a.Type == 1:
			circuit = string(a.Value)
		case a.Type == 2:
			remote = string(a.Value)
		}
	}
	return circuit, remote
}

// splitRealm splits "user@realm"; the username keeps the realm off.
func splitRealm(u string) (user, realm string) {
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		return u[:i], u[i+1:]
	}
	return u, ""
}

func idleCheck(idle time.Duration) time.Duration {
	d := idle / 4
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	if d < time.Second {
		d = time.Second
	}
	return d
}

func (s *session) nextDeadline() time.Time {
	if s.state == stateDown {
		return time.Time{}
	}
	var d time.Time
	pick := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if s.ppp != nil {
		pick(s.ppp.NextDeadline())
	}
	if s.state == stateStarting {
		pick(s.setupBy)
	}
	pick(s.stopAt)
	pick(s.idleAt)
	if s.v6 != nil && s.v6.up {
		pick(s.v6.ra.Next())
	}
	return d
}

func (s *session) onTimer(now time.Time) {
	if s.state == stateDown {
		return
	}
	if s.state == stateStarting && !now.Before(s.setupBy) {
		s.teardown(causeLocalError, true, "no ICCN from the LAC", now)
		return
	}
	if !s.stopAt.IsZero() && !now.Before(s.stopAt) {
		s.stopAt = time.Time{}
		s.close(causeSessionTimeout, "session timeout", now)
		return
	}
	if !s.idleAt.IsZero() && !now.Before(s.idleAt) {
		s.idleAt = time.Time{}
		if f := s.flow.Load(); f != nil && s.state == stateUp {
			if s.srv.dp.Idle(f) >= s.idleTimeout {
				s.close(causeIdleTimeout, "idle timeout", now)
				return
			}
			s.idleAt = now.Add(idleCheck(s.idleTimeout))
		}
	}
	s.sendRA(now)
	if s.ppp != nil {
		s.ppp.Tick(now)
	}
}

func (s *session) onEvent(ev event, now time.Time) {
	if s.state == stateDown {
		if ev.kind == evAuthDone {
			s.srv.releaseOutcome(s, ev.auth)
		}
		return
	}
	switch ev.kind {
	case evCallIn: // only schedules the set-up deadline
	case evCallUp:
		s.startPPP(now)
	case evControl:
		if s.ppp == nil {
			if len(s.early) < 8 {
				s.early = append(s.early, ev.frame)
			}
			return
		}
		if proto, ip, err := ppp.ParseProtocol(ev.frame); err == nil && proto == ppp.ProtoIPv6 {
			s.ipv6Input(ip, now)
			return
		}
		s.ppp.Input(ev.frame, now)
	case evAuthDone:
		s.applyAuth(ev.auth, now)
	case evAuthFail:
		if s.ppp != nil {
			s.ppp.AuthResult(ppp.AuthResult{OK: false, Message: "authentication service busy"}, now)
		}
	case evCallDown:
		s.callDown(ev, now)
	case evDisconnect:
		s.close(ev.cause, "disconnected: "+ev.cause.String(), now)
	case evChange:
		s.applyChange(ev.change, now)
	}
}

// startPPP runs PPP on the call once the ICCN is in: with the LAC's proxy
// LCP and authentication when the LAC's policy accepts them (RFC 2661
// section 4.4.5), else a fresh negotiation.
func (s *session) startPPP(now time.Time) {
	if s.ppp != nil {
		return
	}
	c := s.srv.conf()
	protos, _ := c.AuthProtos()
	s.ppp = ppp.NewSession(s, ppp.Config{
		Role:          ppp.Server,
		MRU:           uint16(c.PPP.MRU),
		Auth:          protos,
		Authenticator: s,
		Name:          c.LNS.HostName,
		LocalIP:       c.PPP.LocalIP,
		Echo:          ppp.EchoConfig{Interval: c.PPP.EchoInterval, MaxFailures: c.PPP.EchoFailures},
		Restart:       c.PPP.Restart,
		// ACCM, ACFC and FCS-Alternatives mean nothing on an L2TP session
		// whose subscriber is on PPPoE (RFC 2516 section 7; ACCM travels
		// in SLI, RFC 2661 section 6.14): refused in every LAC mode, as
		// the LAC refuses them when it negotiates for a proxied session.
		RejectACCMPFCACFC: true,
		NoProxyLCP:        true, // the LNS hands the session to no one
		Logger:            s.log.With(logx.KeyComponent, logx.PPP),
		Handler:           s,
	})
	s.setState(stateLCP)
	s.publish()
	started := false
	if s.lac.Proxy == "accept" {
		if p, ok := proxyFromICCN(s.call.ICCN()); ok {
			if err := s.ppp.StartProxied(p, now); err != nil {
				s.srv.stats.ProxyRefused.Add(1)
				s.log.Info("proxy LCP refused, renegotiating", "err", err)
			} else {
				s.srv.stats.ProxyAccepted.Add(1)
				started = true
			}
		}
	}
	if !started {
		s.ppp.Open(now)
	}
	// PPP has what it needs of the ICCN, the session of the ICRQ.
	s.call.ReleaseMessages()
	for _, f := range s.early {
		s.ppp.Input(f, now)
	}
	s.early = nil
}

// proxyFromICCN reads the proxy LCP and proxy authentication AVPs (RFC 2661
// section 4.4.5). ok is false when the LAC sent none.
func proxyFromICCN(m *l2tp.Message) (ppp.Proxy, bool) {
	if m == nil {
		return ppp.Proxy{}, false
	}
	sent, ok1 := m.Find(l2tp.AVPLastSentLCPConfReq)
	recv, ok2 := m.Find(l2tp.AVPLastRecvLCPConfReq)
	if !ok1 || !ok2 {
		return ppp.Proxy{}, false
	}
	p := ppp.Proxy{LastSentConfReq: sent.Value, LastRecvConfReq: recv.Value}
	if a, ok := m.Find(l2tp.AVPInitialRecvLCPConfReq); ok {
		p.InitialRecvConfReq = a.Value
	}
	if a, ok := m.Find(l2tp.AVPProxyAuthenType); ok {
		v, err := a.Uint16()
		if err != nil {
			return ppp.Proxy{}, false
		}
		proto, known := ppp.AuthFromProxyAuthenType(v)
		if !known {
			return ppp.Proxy{}, false
		}
		p.AuthProto = proto
	}
	if a, ok := m.Find(l2tp.AVPProxyAuthenName); ok {
		p.AuthName = string(a.Value)
	}
	if a, ok := m.Find(l2tp.AVPProxyAuthenChallenge); ok {
		p.AuthChallenge = a.Value
	}
	if a, ok := m.Find(l2tp.AVPProxyAuthenID); ok {
		if id, err := l2tp.ParseProxyAuthenID(a.Value); err == nil {
			p.AuthID = id
		}
	}
	if a, ok := m.Find(l2tp.AVPProxyAuthenResponse); ok {
		p.AuthResponse = a.Value
	}
	return p, true
}

// applyAuth hands the verdict to PPP; an accepted subscriber gets its
// address, DNS, timeouts and rate limit.
func (s *session) applyAuth(o *authOutcome, now time.Time) {
	if s.ppp == nil || s.state != stateLCP {
		s.srv.releaseOutcome(s, o)
		return
	}
	if !o.ok {
		s.srv.stats.AuthRejected.Add(1)
		if !o.logged {
			s.log.Info(logx.MsgAuthFailed, logx.KeyUser, s.user, logx.KeyReason, o.message)
		}
		s.cause = causeAuthRejected
		s.ppp.AuthResult(ppp.AuthResult{OK: false, Message: o.message}, now)
		return
	}
	s.authed = o
	s.srv.observeSetup(stageAuth, now.Sub(s.created))
	s.addr, s.addrPool = o.addr, o.pool
	c := s.srv.conf()
	s.sessionTimeout, s.idleTimeout, s.interim = c.PPP.SessionLimit, c.PPP.IdleLimit, c.Accounting.InterimInterval
	if r := o.reply; r != nil {
		if r.SessionTimeout > 0 {
			s.sessionTimeout = r.SessionTimeout
		}
		if r.IdleTimeout > 0 {
			s.idleTimeout = r.IdleTimeout
		}
		if r.InterimInterval > 0 {
			s.interim = r.InterimInterval
		}
		s.class = r.Class
		s.rate = r.RateLimit
	}
	if s.rate.IsZero() {
		s.rate = aaa.RateLimit{DownKbps: c.PPP.DefaultRateDown, UpKbps: c.PPP.DefaultRateUp}
	}
	if f := s.flow.Load(); f != nil {
		f.SetRates(Rate{Kbps: s.rate.UpKbps}, Rate{Kbps: s.rate.DownKbps})
		// Bind the address (table and route) before IPCP offers it, so
		// the first packet after IPCP opens on the subscriber's side
		// already finds its way both ways.
		if err := s.srv.dp.SetAddr(f, s.addr); err != nil {
			s.log.Error(logx.MsgAddressRefused, append(s.who(), logx.KeyReason, "cannot bind the address in the data plane", "err", err)...)
			s.cause = causeLocalError
			s.ppp.AuthResult(ppp.AuthResult{OK: false, Message: "address in use"}, now)
			return
		}
		if o.reply != nil && len(o.reply.FramedRoutes) > 0 {
			var routes []netip.Prefix
			for _, r := range o.reply.FramedRoutes {
				p, err := ParseFramedRoute(r)
				if err != nil {
					s.log.Warn("Framed-Route ignored", "route", r, "err", err)
					continue
				}
				routes = append(routes, p)
			}
			if err := s.srv.dp.AddRoutes(f, routes); err != nil {
				s.log.Warn("Framed-Route not installed", "routes", routes, "err", err)
			}
		}
	}
	s.publish()
	res := ppp.AuthResult{OK: true, Message: "welcome", IP: o.addr, DNS1: o.dns[0], DNS2: o.dns[1]}
	if s.v6 = ipv6Grant(o); s.v6 != nil {
		res.IPv6 = true
		if s.v6.hasIID {
			res.InterfaceID = s.v6.iid
		}
	}
	s.ppp.AuthResult(res, now)
	// What the session keeps of the Access-Accept is taken; the teardown
	// needs only the address and prefixes to give back.
	o.reply = nil
}

func (s *session) applyChange(ch *change, now time.Time) {
	if ch.rate != nil {
		s.rate = *ch.rate
		if f := s.flow.Load(); f != nil {
			f.SetRates(Rate{Kbps: s.rate.UpKbps}, Rate{Kbps: s.rate.DownKbps})
		}
	}
	if ch.sessionTimeout != nil {
		s.sessionTimeout = *ch.sessionTimeout
		s.stopAt = time.Time{}
		if s.sessionTimeout > 0 {
			base := s.started
			if base.IsZero() {
				base = now
			}
			s.stopAt = base.Add(s.sessionTimeout)
		}
	}
	if ch.idleTimeout != nil {
		s.idleTimeout = *ch.idleTimeout
		s.idleAt = time.Time{}
		if s.idleTimeout > 0 && s.state == stateUp {
			s.idleAt = now.Add(idleCheck(s.idleTimeout))
		}
	}
	s.log.Info("session changed by CoA", "rate", s.rate.String(), "session_timeout", s.sessionTimeout, "idle_timeout", s.idleTimeout)
	s.publish()
}

// callDown: the LAC disconnected the call (ev.cause is what its CDN says,
// cause.go) or the tunnel is gone.
func (s *session) callDown(ev event, now time.Time) {
	switch {
	case s.cause != 0: // we were closing it already: our reason stands
		s.teardown(s.cause, false, "call disconnected by the LAC", now)
	case s.peerTerminated():
		// The subscriber's LCP Terminate-Request came first (after
		// its Terminate-Ack PPP waits a restart period in Stopping
		// before it reports Down, RFC 1661 section 4.4, zrc), or in
		// the same burst as the CDN: the endpoint's one socket
		// reader posts the frame to this shard before the tunnel
		// goroutine posts the CDN. The LAC's CDN (lost carrier on the
		// PADT that followed) is the consequence (RFC 2866 section
		// 5.10: User-Request).
		s.teardown(accounting.CauseUserRequest, false, "call disconnected by the LAC after the subscriber's Terminate-Request", now)
	case ev.lostTunnel:
		s.teardown(ev.cause, false, "tunnel to the LAC gone", now)
	default:
		s.teardown(ev.cause, false, "call disconnected by the LAC", now)
	}
}

// peerTerminated reports whether the subscriber sent LCP Terminate-Request
// (RFC 1661 section 5.5) while LCP was open.
func (s *session) peerTerminated() bool {
	return s.ppp != nil && s.ppp.Reason() == ppp.ReasonPeerTerminate
}

// close ends the session from our side: LCP Terminate-Request, then (when
// PPP has finished) CDN and the accounting Stop with cause.
func (s *session) close(cause accounting.TerminateCause, why string, now time.Time) {
	if s.state >= stateClosing {
		return
	}
	s.cause = cause
	if s.ppp == nil {
		s.teardown(cause, true, why, now)
		return
	}
	s.setState(stateClosing)
	s.publish()
	s.ppp.Close(why, now)
}

// teardown releases everything the session holds, once: the data-plane
// flow and route, the address, the call (CDN unless the LAC already sent
// one) and the accounting Stop.
func (s *session) teardown(cause accounting.TerminateCause, sendCDN bool, why string, now time.Time) {
	if s.state == stateDown {
		return
	}
	wasUp := s.state == stateUp || s.accounted
	s.setState(stateDown)
	if s.ppp != nil && s.ppp.State() != ppp.PhaseDead {
		s.ppp.LowerDown(now) // its Down comes back here and finds stateDown
	}
	var final accounting.Counters
	if f := s.flow.Load(); f != nil {
		s.srv.dp.Remove(f) // first: the fast path's final counters join the flow's
		final = s.counters()
	}
	if sendCDN && s.call.State() != l2tp.CallIdle {
		s.call.Disconnect(cdnResult(cause, why))
	}
	s.srv.releaseOutcome(s, s.authed)
	s.authed = nil
	if s.accounted {
		s.srv.acct.SessionStopped(s.id, final, uint32(cause))
	}
	if wasUp {
		s.srv.countUp(-1)
	}
	s.srv.stats.countTeardown(cause)
	s.srv.forget(s)
	s.publish()
	s.log.Info(logx.MsgSessionDown, append(s.who(), logx.KeyCause, cause.String(), "why", why,
		"in_octets", final.InOctets, "out_octets", final.OutOctets)...)
}

// who is the user and the IPv4 address of the session's event lines,
// those known; the session's logger carries its IDs.
func (s *session) who() []any {
	var a []any
	if s.user != "" {
		a = append(a, logx.KeyUser, s.user)
	}
	if s.addr.IsValid() {
		a = append(a, logx.KeyIP, s.addr)
	}
	return a
}

func (s *session) String() string { return fmt.Sprintf("session %s", s.id) }
