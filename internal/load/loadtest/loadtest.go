// Package loadtest is an in-process access concentrator for the tests and
// benchmarks of the subscriber emulator: a PPPoE server (RFC 2516) whose
// sessions run PPP server sessions (LCP, PAP or CHAP-MD5, IPCP) with an
// in-process authenticator that assigns addresses from a counter, and that
// plays the upstream echo server by sending every IPv4/UDP packet back with
// addresses and ports swapped. With Config.IPv6 it also grants IPv6 as the
// LNS does: IPV6CP (RFC 5072), a Router Advertisement with the session's
// /64 for each Router Solicitation (internal/ra), DHCPv6 prefix
// delegation (internal/dhcp6), and IPv6/UDP echoed like IPv4. It stands in
// for LAC + LNS + upstream.
package loadtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/internal/dhcp6"
	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/ra"
	"github.com/bras-project/bras/internal/udpecho"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// Config configures an AC.
type Config struct {
	Interface string
	ACName    string
	// Password is every user's password (the CHAP secret).
	Password string
	// Auth is what the AC asks for, in order (default CHAP-MD5, then PAP:
	// a PAP-only client Naks to PAP).
	Auth []ppp.AuthProto
	// DropEvery, when > 0, drops every DropEvery-th echo per source address
	// on the way back (downstream), after counting it as received.
	DropEvery uint64
	// Pool is the first address assigned (default 100.64.0.1).
	Pool netip.Addr
	// IPv6 grants every session IPv6: the n-th session authenticated
	// (from 0) gets 2001:db8:1:n::/64 for SLAAC and 2001:db8:4000:n00::/56
	// delegated (Prefixes6). RapidCommit6 lets DHCPv6 answer a Solicit
	// with Rapid Commit at once; without it the four messages run.
	IPv6, RapidCommit6 bool
	// DropFirst6 drops each session's first Router Solicitation and first
	// DHCPv6 message, so the client must retransmit both.
	DropFirst6 bool
}

// Prefixes6 are the /64 and the delegated /56 of the n-th session
// authenticated (Config.IPv6).
func Prefixes6(n uint32) (link, delegated netip.Prefix) {
	l := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, byte(n >> 8), byte(n)}
	d := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x40, byte(n >> 8), byte(n)}
	return netip.PrefixFrom(netip.AddrFrom16(l), 64), netip.PrefixFrom(netip.AddrFrom16(d), 56)
}

// AC is the in-process access concentrator.
type AC struct {
	cfg Config
	Srv *pppoe.Server

	in   chan func(now time.Time)
	next atomic.Uint32

	mu       sync.Mutex
	sessions map[pppoe.MAC]*pppoe.Session
	up       map[*pppoe.Session]bool
	perSrc   map[netip.Addr]uint64 // probes received per source address
	authUsed map[ppp.AuthProto]int
	handlers map[*pppoe.Session]*acSession
	dropped  uint64
	echoed   uint64
	dhcp     *dhcp6.Server
	// IPv6 control packets answered (RAs, DHCPv6) and dropped
	// (DropFirst6).
	answered6, dropped6 uint64
}

// New opens the AC on cfg.Interface (in the calling thread's namespace).
func New(cfg Config) (*AC, error) {
	if len(cfg.Auth) == 0 {
		cfg.Auth = []ppp.AuthProto{ppp.AuthCHAPMD5, ppp.AuthPAP}
	}
	if !cfg.Pool.IsValid() {
		cfg.Pool = netip.MustParseAddr("100.64.0.1")
	}
	a := &AC{cfg: cfg, in: make(chan func(time.Time), 65536),
		sessions: map[pppoe.MAC]*pppoe.Session{}, up: map[*pppoe.Session]bool{},
		perSrc: map[netip.Addr]uint64{}, authUsed: map[ppp.AuthProto]int{}, handlers: map[*pppoe.Session]*acSession{},
		dhcp: dhcp6.NewServer("loadtest")}
	a.dhcp.RapidCommit = cfg.RapidCommit6
	srv, err := pppoe.NewServer(pppoe.ServerConfig{Interface: cfg.Interface, ACName: cfg.ACName, PADIRate: -1, RateTableSize: 1 << 16}, a)
	if err != nil {
		return nil, err
	}
	a.Srv = srv
	return a, nil
}

// Run serves until ctx is done: the PPPoE server and the one goroutine
// that drives every PPP session.
func (a *AC) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- a.Srv.Run(ctx) }()
	sessions := map[*ppp.Session]bool{}
	tick := time.NewTicker(50 * time.Millisecond) // PPP timers are seconds long
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return <-done
		case fn := <-a.in:
			now := time.Now()
			fn(now)
			for n := 0; n < 512; n++ {
				select {
				case fn = <-a.in:
					fn(now)
					continue
				default:
				}
				break
			}
		case now := <-tick.C:
			a.mu.Lock()
			for _, s := range a.sessions {
				ps, _ := s.Owner.(*ppp.Session)
				sessions[ps] = true
			}
			a.mu.Unlock()
			for ps := range sessions {
				if ps == nil {
					continue
				}
				if d := ps.NextDeadline(); !d.IsZero() && !now.Before(d) {
					ps.Tick(now)
				}
			}
			clear(sessions)
		}
	}
}

func (a *AC) do(fn func(time.Time)) {
	select {
	case a.in <- fn:
	default: // dropped: the PPP restart timer recovers it
	}
}

// Up returns the sessions up and the authentications done per protocol.
func (a *AC) Up() (n int, byProto map[ppp.AuthProto]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[ppp.AuthProto]int{}
	for k, v := range a.authUsed {
		m[k] = v
	}
	return len(a.up), m
}

// Received returns the probes received from src, and in total the echoes
// dropped on purpose and sent.
func (a *AC) Received(src netip.Addr) (n, dropped, echoed uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.perSrc[src], a.dropped, a.echoed
}

// IPv6Control returns the IPv6 control packets answered (RAs and DHCPv6)
// and those dropped by DropFirst6.
func (a *AC) IPv6Control() (answered, dropped uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answered6, a.dropped6
}

// CloseMAC ends the session of a client MAC with a PADT; false when it
// has none.
func (a *AC) CloseMAC(mac pppoe.MAC) bool {
	a.mu.Lock()
	s := a.sessions[mac]
	a.mu.Unlock()
	if s == nil {
		return false
	}
	a.Srv.Close(s, "administrative disconnect")
	return true
}

// SessionUp implements pppoe.Handler.
func (a *AC) SessionUp(s *pppoe.Session) {
	h := &acSession{a: a, s: s}
	ps := ppp.NewSession(s, ppp.Config{
		Role: ppp.Server, MRU: uint16(min(s.MaxPayload, 1492)), RejectACCMPFCACFC: true,
		Auth: a.cfg.Auth, Authenticator: h,
		LocalIP: netip.MustParseAddr("100.127.255.254"),
		Handler: h,
	})
	s.Owner = ps
	a.mu.Lock()
	a.sessions[s.ClientMAC] = s
	a.handlers[s] = h
	a.mu.Unlock()
	a.do(func(now time.Time) { ps.Open(now) })
}

// SessionDown implements pppoe.Handler.
func (a *AC) SessionDown(s *pppoe.Session, _ pppoe.DownReason) {
	a.mu.Lock()
	if a.sessions[s.ClientMAC] == s {
		delete(a.sessions, s.ClientMAC)
	}
	delete(a.up, s)
	delete(a.handlers, s)
	a.mu.Unlock()
	if ps, ok := s.Owner.(*ppp.Session); ok {
		a.do(func(now time.Time) { ps.LowerDown(now) })
	}
}

// SessionData implements pppoe.Handler: control frames to the PPP
// session, IPv4 echoed.
func (a *AC) SessionData(s *pppoe.Session, payload []byte) {
	ps, _ := s.Owner.(*ppp.Session)
	if p, _, err := ppp.ParseProtocol(payload); err == nil && p.IsControl() {
		frame := append([]byte(nil), payload...)
		a.do(func(now time.Time) { ps.Input(frame, now) })
		return
	}
	if len(payload) < 2 || payload[0] != 0x00 || payload[1] != 0x21 && payload[1] != 0x57 {
		return
	}
	if payload[1] == 0x57 && a.control6(s, payload[2:]) {
		return
	}
	u, err := load.ParseUDP(payload[2:])
	if err != nil {
		return
	}
	reply := load.UDP{Src: u.Dst, Dst: u.Src, Payload: u.Payload}
	a.mu.Lock()
	if !a.up[s] {
		a.mu.Unlock()
		return
	}
	if q, err := udpecho.ParseQuery(u.Payload); err == nil {
		r := udpecho.Reply{Addr: q.Addr, Packets: a.perSrc[q.Addr]}
		reply.Payload, _ = r.Append(nil)
		a.mu.Unlock()
	} else {
		a.perSrc[u.Src.Addr()]++
		drop := a.cfg.DropEvery > 0 && a.perSrc[u.Src.Addr()]%a.cfg.DropEvery == 0
		if drop {
			a.dropped++
		} else {
			a.echoed++
		}
		a.mu.Unlock()
		if drop {
			return
		}
	}
	var buf [1600]byte
	b, err := reply.Append(append(buf[:0], 0x00, payload[1]))
	if err == nil {
		_ = s.Send(b)
	}
}

// control6 answers a Router Solicitation or a DHCPv6 request on s as the
// LNS does (lns/session6.go); false when pkt is neither (then it is
// echoed if it is UDP).
func (a *AC) control6(s *pppoe.Session, pkt []byte) bool {
	a.mu.Lock()
	h := a.handlers[s]
	a.mu.Unlock()
	if h == nil || !h.v6.Load() {
		return false
	}
	local := h.local6
	k, _ := ra.Classify(pkt)
	isRS := k == ra.Solicitation
	if !isRS && !dhcp6.IsRequest(pkt, local) {
		return k != ra.Data // other ND from the subscriber: dropped
	}
	a.mu.Lock()
	drop := false
	if a.cfg.DropFirst6 {
		if isRS && !h.droppedRS {
			h.droppedRS, drop = true, true
		} else if !isRS && !h.droppedDHCP {
			h.droppedDHCP, drop = true, true
		}
	}
	if drop {
		a.dropped6++
	} else {
		a.answered6++
	}
	a.mu.Unlock()
	if drop {
		return true
	}
	var reply []byte
	if isRS {
		reply, _ = ra.Advertisement(local, ra.AllNodes, ra.Config{Prefixes: []netip.Prefix{h.link}, Other: true, MTU: 1492})
	} else {
		reply, _, _ = a.dhcp.ServePacket(pkt, local, dhcp6.Binding{Delegated: h.delegated})
	}
	if reply != nil {
		_ = s.Send(append([]byte{0x00, 0x57}, reply...))
	}
	return true
}

// acSession is the handler and authenticator of one AC session.
type acSession struct {
	a *AC
	s *pppoe.Session
	// IPv6: the prefixes (set by Authenticate), then once IPV6CP is up
	// (v6) the AC's link-local address; guarded by AC.mu where noted.
	link, delegated netip.Prefix
	local6          netip.Addr
	v6              atomic.Bool
	// What DropFirst6 dropped already (AC.mu).
	droppedRS, droppedDHCP bool
}

// UpIPv6 implements ppp.IPv6Handler.
func (h *acSession) UpIPv6(_ *ppp.Session, n ppp.IPv6Info) {
	h.local6 = n.Local.LinkLocal()
	h.v6.Store(true)
}

// Authenticate checks the password (PAP, RFC 1334) or the CHAP-MD5
// response (RFC 1994 section 4.1) and assigns the next address.
func (h *acSession) Authenticate(ps *ppp.Session, req ppp.AuthRequest) {
	secret := []byte(h.a.cfg.Password)
	var ok bool
	switch req.Proto {
	case ppp.AuthPAP:
		ok = bytes.Equal(req.Password, secret)
	case ppp.AuthCHAPMD5:
		m := md5.New()
		m.Write([]byte{req.ChapID})
		m.Write(secret)
		m.Write(req.Challenge)
		ok = bytes.Equal(m.Sum(nil), req.Response)
	}
	n := h.a.next.Add(1) - 1
	base := h.a.cfg.Pool.As4()
	v := (uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])) + n
	ip := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	if ok {
		h.a.mu.Lock()
		h.a.authUsed[req.Proto]++
		h.a.mu.Unlock()
	}
	if h.a.cfg.IPv6 {
		h.link, h.delegated = Prefixes6(n)
	}
	ps.AuthResult(ppp.AuthResult{OK: ok, IP: ip, DNS1: netip.MustParseAddr("192.0.2.53"), IPv6: h.a.cfg.IPv6}, time.Now())
}

func (h *acSession) Up(*ppp.Session, ppp.NetworkInfo) {
	h.a.mu.Lock()
	h.a.up[h.s] = true
	h.a.mu.Unlock()
}

func (h *acSession) Down(*ppp.Session, ppp.Reason) {
	h.a.mu.Lock()
	delete(h.a.up, h.s)
	h.a.mu.Unlock()
	h.a.Srv.Close(h.s, "ppp down")
}
