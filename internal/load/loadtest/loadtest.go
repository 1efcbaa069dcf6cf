// Package loadtest is an in-process access concentrator for the tests and
// benchmarks of the subscriber emulator: a PPPoE server (RFC 2516) whose
// sessions run PPP server sessions (LCP, PAP or CHAP-MD5, IPCP) with an
// in-process authenticator that assigns addresses from a counter, and that
// plays the upstream echo server by sending every IPv4/UDP packet back with
// addresses and ports swapped. It stands in for LAC + LNS + upstream.
package loadtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/internal/load"
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
	dropped  uint64
	echoed   uint64
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
		perSrc: map[netip.Addr]uint64{}, authUsed: map[ppp.AuthProto]int{}}
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
	if len(payload) < 2 || payload[0] != 0x00 || payload[1] != 0x21 {
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
	b, err := reply.Append(append(buf[:0], 0x00, 0x21))
	if err == nil {
		_ = s.Send(b)
	}
}

// acSession is the handler and authenticator of one AC session.
type acSession struct {
	a *AC
	s *pppoe.Session
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
	ps.AuthResult(ppp.AuthResult{OK: ok, IP: ip, DNS1: netip.MustParseAddr("192.0.2.53")}, time.Now())
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
