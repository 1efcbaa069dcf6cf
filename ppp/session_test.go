package ppp_test

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/ppp/ppptest"
	"github.com/google/go-cmp/cmp"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// users is the in-process credential store of the test Authenticator.
var users = map[string]string{"alice": "wonderland", "bob": "builder"}

var (
	assignIP = netip.MustParseAddr("100.64.0.7")
	dns1     = netip.MustParseAddr("192.0.2.53")
	dns2     = netip.MustParseAddr("192.0.2.54")
	lnsIP    = netip.MustParseAddr("100.64.0.1")
	staticIP = netip.MustParseAddr("198.51.100.9")
)

// authenticator answers like RADIUS would: later, through AuthResult, after a
// round trip the test loop delivers.
type authenticator struct {
	queue []authJob
	reqs  []ppp.AuthRequest
	// grant, when set, adds to an accepted result (IPv6 service, say).
	grant func(*ppp.AuthResult)
}

type authJob struct {
	s   *ppp.Session
	res ppp.AuthResult
}

func (a *authenticator) Authenticate(s *ppp.Session, req ppp.AuthRequest) {
	a.reqs = append(a.reqs, req)
	secret, known := users[req.Username]
	ok := false
	switch req.Proto {
	case ppp.AuthPAP:
		ok = known && subtle.ConstantTimeCompare([]byte(secret), req.Password) == 1
	case ppp.AuthCHAPMD5:
		want := ppp.ChapMD5(req.ChapID, []byte(secret), req.Challenge)
		ok = known && subtle.ConstantTimeCompare(want[:], req.Response) == 1
	}
	res := ppp.AuthResult{OK: ok, Message: "denied"}
	if ok {
		res = ppp.AuthResult{OK: true, Message: "welcome", IP: assignIP, DNS1: dns1, DNS2: dns2}
		if a.grant != nil {
			a.grant(&res)
		}
	}
	a.queue = append(a.queue, authJob{s, res})
}

func (a *authenticator) flush(now time.Time) {
	q := a.queue
	a.queue = nil
	for _, j := range q {
		j.s.AuthResult(j.res, now)
	}
}

// recorder is a Handler that remembers what it was told.
type recorder struct {
	ups    []ppp.NetworkInfo
	downs  []ppp.Reason
	upAt   time.Time
	downAt time.Time
	now    *time.Time
}

func (r *recorder) Up(s *ppp.Session, n ppp.NetworkInfo) { r.ups = append(r.ups, n); r.upAt = *r.now }
func (r *recorder) Down(s *ppp.Session, why ppp.Reason) {
	r.downs = append(r.downs, why)
	r.downAt = *r.now
}

// rng is a deterministic io.Reader for magic numbers and challenges.
type rng struct{ r *rand.Rand }

func newRand(seed uint64) *rng { return &rng{rand.New(rand.NewPCG(seed, 1))} }
func (r *rng) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(r.r.Uint32())
	}
	return len(b), nil
}

// pair is a server and a client session over a ppptest.Pipe.
type pair struct {
	t        testing.TB
	now      time.Time
	pipe     *ppptest.Pipe
	server   *ppp.Session
	client   *ppp.Session
	sRec     *recorder
	cRec     *recorder
	auth     *authenticator
	sent     [2][][]byte // frames sent by server (0) and client (1)
	authWait time.Duration
	lastAuth time.Time
}

func newPair(t testing.TB, seed uint64, scfg, ccfg ppp.Config) *pair {
	p := &pair{t: t, now: t0, pipe: ppptest.NewPipe(seed), auth: &authenticator{}, authWait: 20 * time.Millisecond}
	p.sRec = &recorder{now: &p.now}
	p.cRec = &recorder{now: &p.now}
	scfg.Role = ppp.Server
	scfg.Authenticator = p.auth
	scfg.Handler = p.sRec
	scfg.LocalIP = lnsIP
	scfg.Rand = newRand(seed)
	ccfg.Role = ppp.Client
	ccfg.Handler = p.cRec
	ccfg.Rand = newRand(seed + 1000)
	se, ce := p.pipe.End(0), p.pipe.End(1)
	se.Tap = func(f []byte) { p.sent[0] = append(p.sent[0], append([]byte(nil), f...)) }
	ce.Tap = func(f []byte) { p.sent[1] = append(p.sent[1], append([]byte(nil), f...)) }
	p.server = ppp.NewSession(se, scfg)
	p.client = ppp.NewSession(ce, ccfg)
	return p
}

func (p *pair) open() {
	p.server.Open(p.now)
	p.client.Open(p.now)
}

// run steps the fake clock by 5 ms until until() holds or d has elapsed.
func (p *pair) run(d time.Duration, until func() bool) {
	end := p.now.Add(d)
	for p.now.Before(end) {
		if until != nil && until() {
			return
		}
		p.now = p.now.Add(5 * time.Millisecond)
		p.pipe.Deliver(p.now, func(to int, f []byte) {
			if to == 0 {
				p.server.Input(f, p.now)
			} else {
				p.client.Input(f, p.now)
			}
		})
		if len(p.auth.queue) > 0 && p.now.Sub(p.lastAuth) >= p.authWait {
			p.auth.flush(p.now)
			p.lastAuth = p.now
		}
		for _, s := range []*ppp.Session{p.server, p.client} {
			if d := s.NextDeadline(); !d.IsZero() && !p.now.Before(d) {
				s.Tick(p.now)
			}
		}
	}
}

// trace renders every frame both ends sent, for failure messages.
func (p *pair) trace() string {
	var b strings.Builder
	for i, fs := range p.sent {
		for _, f := range fs {
			pr, info, _ := ppp.ParseProtocol(f)
			pk, _ := ppp.ParsePacket(info)
			fmt.Fprintf(&b, "%s %v %d id=%d %x\n", [2]string{"S>", "C>"}[i], pr, pk.Code, pk.ID, pk.Data)
		}
	}
	fmt.Fprintf(&b, "server down %v (stats %+v), client down %v (stats %+v)", p.sRec.downs, p.server.Stats(), p.cRec.downs, p.client.Stats())
	return b.String()
}

func (p *pair) bothUp() bool { return len(p.sRec.ups) > 0 && len(p.cRec.ups) > 0 }

// framesOf returns the decoded packets of proto sent by end i.
func framesOf(frames [][]byte, proto ppp.Protocol) [][]byte {
	var out [][]byte
	for _, f := range frames {
		if p, info, err := ppp.ParseProtocol(f); err == nil && p == proto {
			out = append(out, info)
		}
	}
	return out
}

func TestSessionComesUp(t *testing.T) {
	type conditions struct {
		name               string
		loss, dup          float64
		minDelay, maxDelay time.Duration
	}
	links := []conditions{
		{"perfect", 0, 0, time.Millisecond, time.Millisecond},
		{"20% loss, 10% duplicates, reordering", 0.2, 0.1, time.Millisecond, 40 * time.Millisecond},
	}
	auths := []struct {
		name       string
		server     []ppp.AuthProto
		client     []ppp.AuthProto
		wantProto  ppp.AuthProto
		pppoeFlags bool
	}{
		{"PAP", []ppp.AuthProto{ppp.AuthPAP}, nil, ppp.AuthPAP, true},
		{"CHAP-MD5", []ppp.AuthProto{ppp.AuthCHAPMD5}, nil, ppp.AuthCHAPMD5, true},
		{"server prefers CHAP, client only PAP: Nak'd to PAP", []ppp.AuthProto{ppp.AuthCHAPMD5, ppp.AuthPAP}, []ppp.AuthProto{ppp.AuthPAP}, ppp.AuthPAP, false},
		{"no authentication", nil, nil, ppp.AuthNone, false},
	}
	for _, l := range links {
		for _, a := range auths {
			for seed := uint64(1); seed <= 5; seed++ {
				t.Run(fmt.Sprintf("%s/%s/seed%d", l.name, a.name, seed), func(t *testing.T) {
					ccfg := ppp.Config{Auth: a.client, MRU: 1492, Username: "alice", Password: "wonderland", RejectACCMPFCACFC: a.pppoeFlags}
					if a.wantProto == ppp.AuthNone {
						// Nobody authenticated, nothing to assign: the
						// client brings a static address.
						ccfg.LocalIP = staticIP
					}
					p := newPair(t, seed, ppp.Config{Auth: a.server, MRU: 1492, RejectACCMPFCACFC: a.pppoeFlags}, ccfg)
					p.pipe.Loss, p.pipe.Dup, p.pipe.MinDelay, p.pipe.MaxDelay = l.loss, l.dup, l.minDelay, l.maxDelay
					p.open()
					p.run(5*time.Minute, p.bothUp)
					if !p.bothUp() {
						t.Fatalf("not up after 5 min: server %v/%v/%v, client %v/%v/%v\n%s",
							p.server.State(), p.server.LCPState(), p.server.IPCPState(), p.client.State(), p.client.LCPState(), p.client.IPCPState(), p.trace())
					}
					want := ppp.NetworkInfo{Local: assignIP, Peer: lnsIP, DNS1: dns1, DNS2: dns2}
					if a.wantProto == ppp.AuthNone {
						if p.server.PeerAddr() != staticIP || p.cRec.ups[0].Local != staticIP || len(p.auth.reqs) != 0 {
							t.Errorf("no-auth session: server peer %v, client local %v, %d auth requests", p.server.PeerAddr(), p.cRec.ups[0].Local, len(p.auth.reqs))
						}
						return
					}
					if diff := cmp.Diff(want, p.cRec.ups[0], addrCmp); diff != "" {
						t.Errorf("client network (-want +got):\n%s", diff)
					}
					wantS := ppp.NetworkInfo{Local: lnsIP, Peer: assignIP, DNS1: dns1, DNS2: dns2}
					if diff := cmp.Diff(wantS, p.sRec.ups[0], addrCmp); diff != "" {
						t.Errorf("server network (-want +got):\n%s", diff)
					}
					if got := p.server.PeerAddr(); got != assignIP {
						t.Errorf("server PeerAddr = %v", got)
					}
					if p.server.Username() != "alice" {
						t.Errorf("server Username = %q", p.server.Username())
					}
					if len(p.auth.reqs) == 0 || p.auth.reqs[0].Proto != a.wantProto {
						t.Errorf("authenticator saw %+v, want protocol %v", p.auth.reqs, a.wantProto)
					}
					if p.server.PeerMRU() != 1492 || p.client.PeerMRU() != 1492 {
						t.Errorf("peer MRU server %d client %d, want 1492", p.server.PeerMRU(), p.client.PeerMRU())
					}
					if p.server.PeerMagic() != p.client.LocalMagic() || p.client.PeerMagic() != p.server.LocalMagic() || p.server.LocalMagic() == p.client.LocalMagic() {
						t.Errorf("magic numbers: server %x/%x client %x/%x", p.server.LocalMagic(), p.server.PeerMagic(), p.client.LocalMagic(), p.client.PeerMagic())
					}
					if len(p.sRec.downs)+len(p.cRec.downs) != 0 {
						t.Errorf("went down: %v %v", p.sRec.downs, p.cRec.downs)
					}
				})
			}
		}
	}
}

func TestSessionWrongPassword(t *testing.T) {
	for _, tc := range []struct {
		name    string
		auth    ppp.AuthProto
		proto   ppp.Protocol
		refusal func([]byte) bool
	}{
		{"PAP Nak", ppp.AuthPAP, ppp.ProtoPAP, func(b []byte) bool {
			p, err := ppp.ParsePAP(b)
			return err == nil && p.Code == ppp.PAPNak
		}},
		{"CHAP Failure", ppp.AuthCHAPMD5, ppp.ProtoCHAP, func(b []byte) bool {
			p, err := ppp.ParseCHAP(b)
			return err == nil && p.Code == ppp.CHAPFailure
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, 7, ppp.Config{Auth: []ppp.AuthProto{tc.auth}},
				ppp.Config{Username: "alice", Password: "wrong"})
			p.open()
			p.run(time.Minute, func() bool { return p.server.State() == ppp.PhaseDead && p.client.State() == ppp.PhaseDead })
			refused := false
			for _, b := range framesOf(p.sent[0], tc.proto) {
				refused = refused || tc.refusal(b)
			}
			if !refused {
				t.Errorf("server sent no %s", tc.name)
			}
			termReq := false
			for _, b := range framesOf(p.sent[0], ppp.ProtoLCP) {
				if pk, err := ppp.ParsePacket(b); err == nil && pk.Code == ppp.TermReq {
					termReq = true
				}
			}
			if !termReq {
				t.Error("server sent no LCP Terminate-Request")
			}
			if diff := cmp.Diff([]ppp.Reason{ppp.ReasonAuthFailed}, p.sRec.downs); diff != "" {
				t.Errorf("server downs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]ppp.Reason{ppp.ReasonAuthFailed}, p.cRec.downs); diff != "" {
				t.Errorf("client downs (-want +got):\n%s", diff)
			}
			if len(p.sRec.ups)+len(p.cRec.ups) != 0 {
				t.Error("network came up with a wrong password")
			}
		})
	}
}

func upPair(t testing.TB, scfg, ccfg ppp.Config) *pair {
	t.Helper()
	if scfg.Auth == nil {
		scfg.Auth = []ppp.AuthProto{ppp.AuthPAP}
	}
	ccfg.Username, ccfg.Password = "alice", "wonderland"
	p := newPair(t, 3, scfg, ccfg)
	p.open()
	p.run(time.Minute, p.bothUp)
	if !p.bothUp() {
		t.Fatal("pair did not come up")
	}
	return p
}

func TestSessionEchoDeadPeer(t *testing.T) {
	p := upPair(t, ppp.Config{Echo: ppp.EchoConfig{Interval: 10 * time.Second, MaxFailures: 3}}, ppp.Config{})
	// A live peer answers: a long quiet period does not end the session.
	p.run(2*time.Minute, nil)
	if len(p.sRec.downs) != 0 {
		t.Fatalf("down with a live peer: %v", p.sRec.downs)
	}
	if p.server.Stats().EchoSent < 10 {
		t.Errorf("only %d Echo-Requests in 2 min at 10 s", p.server.Stats().EchoSent)
	}
	p.pipe.Cut = true
	cut := p.now
	p.run(2*time.Minute, func() bool { return len(p.sRec.downs) > 0 })
	if diff := cmp.Diff([]ppp.Reason{ppp.ReasonEchoTimeout}, p.sRec.downs); diff != "" {
		t.Fatalf("server downs (-want +got):\n%s", diff)
	}
	// 3 unanswered requests at 10 s, declared dead at the 4th interval.
	if d := p.sRec.downAt.Sub(cut); d < 30*time.Second || d > 41*time.Second {
		t.Errorf("dead peer detected after %v, want 30-40 s", d)
	}
	if p.server.State() != ppp.PhaseDead || !p.server.NextDeadline().IsZero() {
		t.Errorf("after echo timeout: phase %v, next deadline %v", p.server.State(), p.server.NextDeadline())
	}
}

func TestSessionTerminate(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		closer               func(p *pair) *ppp.Session
		wantServer, wantClnt ppp.Reason
	}{
		{"client hangs up", func(p *pair) *ppp.Session { return p.client }, ppp.ReasonPeerTerminate, ppp.ReasonLocalClose},
		{"server disconnects", func(p *pair) *ppp.Session { return p.server }, ppp.ReasonLocalClose, ppp.ReasonPeerTerminate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := upPair(t, ppp.Config{}, ppp.Config{})
			closer := tc.closer(p)
			closer.Close("operator", p.now)
			start := p.now
			p.run(time.Minute, func() bool { return len(p.sRec.downs) > 0 && len(p.cRec.downs) > 0 })
			if diff := cmp.Diff([]ppp.Reason{tc.wantServer}, p.sRec.downs); diff != "" {
				t.Errorf("server downs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]ppp.Reason{tc.wantClnt}, p.cRec.downs); diff != "" {
				t.Errorf("client downs (-want +got):\n%s", diff)
			}
			// The closer got its Terminate-Ack and finished at once; the
			// other end waits one restart period (RFC 1661 section 5.5, zrc).
			rec := p.sRec
			if closer == p.client {
				rec = p.cRec
			}
			if d := rec.downAt.Sub(start); d > time.Second {
				t.Errorf("closer took %v to finish", d)
			}
			if p.server.State() != ppp.PhaseDead || p.client.State() != ppp.PhaseDead {
				t.Errorf("phases %v %v", p.server.State(), p.client.State())
			}
		})
	}
}

func TestSessionLowerDown(t *testing.T) {
	p := upPair(t, ppp.Config{}, ppp.Config{})
	sent := len(p.sent[0])
	p.server.LowerDown(p.now)
	if diff := cmp.Diff([]ppp.Reason{ppp.ReasonLowerDown}, p.sRec.downs); diff != "" {
		t.Errorf("downs (-want +got):\n%s", diff)
	}
	if len(p.sent[0]) != sent || p.server.State() != ppp.PhaseDead || !p.server.NextDeadline().IsZero() {
		t.Errorf("after LowerDown: %d frames sent, phase %v, deadline %v", len(p.sent[0])-sent, p.server.State(), p.server.NextDeadline())
	}
	p.server.Input([]byte{0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0}, p.now)
	if len(p.sent[0]) != sent {
		t.Error("a dead session answered")
	}
}

// loopLink sends every frame back into its own session, as a looped-back
// line does.
type loopLink struct {
	s     *ppp.Session
	now   *time.Time
	queue [][]byte
}

func (l *loopLink) Send(f []byte) error {
	l.queue = append(l.queue, append([]byte(nil), f...))
	return nil
}

func TestSessionLoopback(t *testing.T) {
	now := t0
	rec := &recorder{now: &now}
	l := &loopLink{now: &now}
	l.s = ppp.NewSession(l, ppp.Config{Role: ppp.Server, Auth: []ppp.AuthProto{ppp.AuthPAP}, Handler: rec, Rand: newRand(9)})
	l.s.Open(now)
	for i := 0; i < 10000 && len(rec.downs) == 0; i++ {
		now = now.Add(10 * time.Millisecond)
		q := l.queue
		l.queue = nil
		for _, f := range q {
			l.s.Input(f, now)
		}
		if d := l.s.NextDeadline(); !d.IsZero() && !now.Before(d) {
			l.s.Tick(now)
		}
	}
	if diff := cmp.Diff([]ppp.Reason{ppp.ReasonLoopback}, rec.downs); diff != "" {
		t.Fatalf("downs (-want +got):\n%s", diff)
	}
	if len(rec.ups) != 0 {
		t.Error("a looped-back link came up")
	}
}

// TestSessionSameMagic: two honest peers that draw the same Magic-Number
// Nak each other to new numbers and come up (RFC 1661 section 6.4).
func TestSessionSameMagic(t *testing.T) {
	p := newPair(t, 4, ppp.Config{Auth: []ppp.AuthProto{ppp.AuthPAP}}, ppp.Config{Username: "alice", Password: "wonderland"})
	// Same random source: same first magic.
	p.server = ppp.NewSession(p.pipe.End(0), ppp.Config{Role: ppp.Server, Auth: []ppp.AuthProto{ppp.AuthPAP}, Authenticator: p.auth, Handler: p.sRec, LocalIP: lnsIP, Rand: newRand(42)})
	p.client = ppp.NewSession(p.pipe.End(1), ppp.Config{Role: ppp.Client, Username: "alice", Password: "wonderland", Handler: p.cRec, Rand: newRand(43)})
	first := [2]uint32{}
	p.open()
	first[0], first[1] = p.server.LocalMagic(), p.client.LocalMagic()
	_ = first
	p.run(time.Minute, p.bothUp)
	if !p.bothUp() {
		t.Fatal("did not come up")
	}
	if p.server.LocalMagic() == p.client.LocalMagic() {
		t.Errorf("both ends kept magic %x", p.server.LocalMagic())
	}
}

// single drives one server session by hand and records what it sends.
type single struct {
	s    *ppp.Session
	out  [][]byte
	now  time.Time
	auth *authenticator
	rec  *recorder
}

func (x *single) Send(f []byte) error { x.out = append(x.out, append([]byte(nil), f...)); return nil }

func (x *single) take() [][]byte { o := x.out; x.out = nil; return o }

func newSingle(cfg ppp.Config) *single {
	x := &single{now: t0, auth: &authenticator{}}
	x.rec = &recorder{now: &x.now}
	cfg.Role = ppp.Server
	cfg.Authenticator = x.auth
	cfg.Handler = x.rec
	cfg.Rand = newRand(5)
	if cfg.LocalIP == (netip.Addr{}) {
		cfg.LocalIP = lnsIP
	}
	x.s = ppp.NewSession(x, cfg)
	return x
}

func frame(proto ppp.Protocol, code ppp.Code, id uint8, data ...byte) []byte {
	b := ppp.AppendProtocol(nil, proto)
	b, _ = ppp.Packet{Code: code, ID: id, Data: data}.Append(b)
	return b
}

// reply decodes the only frame sent, which must be of proto.
func reply(t *testing.T, out [][]byte, proto ppp.Protocol) ppp.Packet {
	t.Helper()
	if len(out) != 1 {
		t.Fatalf("sent %d frames, want 1: %x", len(out), out)
	}
	p, info, err := ppp.ParseProtocol(out[0])
	if err != nil || p != proto {
		t.Fatalf("sent %v %v, want %v", p, err, proto)
	}
	pk, err := ppp.ParsePacket(info)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// TestLCPOptions feeds single Configure-Requests to a server in Req-Sent and
// checks the reply of RFC 1661 sections 5.1-5.4 and 6.
func TestLCPOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      ppp.Config
		opts     []byte
		wantCode ppp.Code // 0: silently discarded
		wantData []byte
	}{
		{"MRU and magic acked", ppp.Config{}, []byte{1, 4, 0x05, 0xd4, 5, 6, 1, 2, 3, 4}, ppp.ConfAck, []byte{1, 4, 0x05, 0xd4, 5, 6, 1, 2, 3, 4}},
		{"MRU of bad length rejected", ppp.Config{}, []byte{1, 3, 0x05, 5, 6, 1, 2, 3, 4}, ppp.ConfRej, []byte{1, 3, 0x05}},
		{"tiny MRU Nak'd with ours", ppp.Config{MRU: 1492}, []byte{1, 4, 0, 10}, ppp.ConfNak, []byte{1, 4, 0x05, 0xd4}},
		{"MRU above the PPPoE link's Nak'd (RFC 2516 section 7)", ppp.Config{MRU: 1492}, []byte{1, 4, 0x05, 0xdc}, ppp.ConfNak, []byte{1, 4, 0x05, 0xd4}},
		{"smaller MRU acked", ppp.Config{MRU: 1492}, []byte{1, 4, 0x05, 0x00}, ppp.ConfAck, []byte{1, 4, 0x05, 0x00}},
		{"magic zero Nak'd", ppp.Config{}, []byte{5, 6, 0, 0, 0, 0}, ppp.ConfNak, nil},
		{"magic of bad length rejected", ppp.Config{}, []byte{5, 5, 0, 0, 1}, ppp.ConfRej, []byte{5, 5, 0, 0, 1}},
		{"peer asking the server to authenticate: rejected", ppp.Config{}, []byte{3, 4, 0xc0, 0x23}, ppp.ConfRej, []byte{3, 4, 0xc0, 0x23}},
		{"ACCM, PFC, ACFC rejected over PPPoE", ppp.Config{RejectACCMPFCACFC: true}, []byte{2, 6, 0, 0, 0, 0, 7, 2, 8, 2, 5, 6, 1, 2, 3, 4}, ppp.ConfRej, []byte{2, 6, 0, 0, 0, 0, 7, 2, 8, 2}},
		{"ACCM, PFC, ACFC acked elsewhere", ppp.Config{}, []byte{2, 6, 0, 0, 0, 0, 7, 2, 8, 2}, ppp.ConfAck, []byte{2, 6, 0, 0, 0, 0, 7, 2, 8, 2}},
		{"unknown and unsupported options rejected", ppp.Config{}, []byte{4, 4, 0xc0, 0x25, 13, 3, 6, 99, 2, 5, 6, 1, 2, 3, 4}, ppp.ConfRej, []byte{4, 4, 0xc0, 0x25, 13, 3, 6, 99, 2}},
		{"rejects win over naks", ppp.Config{}, []byte{1, 4, 0, 10, 99, 2}, ppp.ConfRej, []byte{99, 2}},
		{"option length 1: packet discarded", ppp.Config{}, []byte{1, 1, 5, 6, 1, 2, 3, 4}, 0, nil},
		{"option past the end: packet discarded", ppp.Config{}, []byte{5, 9, 1, 2, 3, 4}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newSingle(tc.cfg)
			x.s.Open(x.now)
			x.take()
			before := x.s.Stats()
			x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 0x42, tc.opts...), x.now)
			if tc.wantCode == 0 {
				if len(x.out) != 0 {
					t.Fatalf("answered a malformed request: %x", x.out)
				}
				if x.s.Stats().BadOptions != before.BadOptions+1 {
					t.Error("malformed request not counted")
				}
				return
			}
			got := reply(t, x.take(), ppp.ProtoLCP)
			if got.Code != tc.wantCode || got.ID != 0x42 {
				t.Fatalf("reply %v id %d, want %v id 0x42", got.Code, got.ID, tc.wantCode)
			}
			if tc.wantData != nil {
				if diff := cmp.Diff(tc.wantData, got.Data); diff != "" {
					t.Errorf("reply options (-want +got):\n%s", diff)
				}
			}
			if tc.name == "magic zero Nak'd" {
				opts, err := ppp.ParseOptions(got.Data)
				if err != nil || len(opts) != 1 || opts[0].Type != 5 || bytes.Equal(opts[0].Data, []byte{0, 0, 0, 0}) {
					t.Errorf("Nak of magic 0 = %x, want a non-zero Magic-Number", got.Data)
				}
			}
		})
	}
}

// TestLCPMaxFailure: after Max-Failure Configure-Naks the option is rejected
// (RFC 1661 section 4.6).
func TestLCPMaxFailure(t *testing.T) {
	x := newSingle(ppp.Config{MaxFailure: 3})
	x.s.Open(x.now)
	x.take()
	var codes []ppp.Code
	for i := 0; i < 5; i++ {
		x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, uint8(i), 1, 4, 0, 10), x.now)
		codes = append(codes, reply(t, x.take(), ppp.ProtoLCP).Code)
	}
	want := []ppp.Code{ppp.ConfNak, ppp.ConfNak, ppp.ConfNak, ppp.ConfRej, ppp.ConfRej}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
}

// TestLCPConfigureRequestRetransmission: Max-Configure requests, then the
// session gives up (RFC 1661 section 4.6).
func TestLCPConfigureRequestRetransmission(t *testing.T) {
	x := newSingle(ppp.Config{})
	x.s.Open(x.now)
	for i := 0; i < 100 && x.s.State() != ppp.PhaseDead; i++ {
		x.now = x.s.NextDeadline()
		if x.now.IsZero() {
			break
		}
		x.s.Tick(x.now)
	}
	n := 0
	for _, f := range x.take() {
		if reply(t, [][]byte{f}, ppp.ProtoLCP).Code == ppp.ConfReq {
			n++
		}
	}
	if n != 10 {
		t.Errorf("sent %d Configure-Requests, want Max-Configure 10", n)
	}
	if d := x.now.Sub(t0); d != 30*time.Second {
		t.Errorf("gave up after %v, want 10 × 3 s", d)
	}
	if diff := cmp.Diff([]ppp.Reason{ppp.ReasonNegotiationFailed}, x.rec.downs); diff != "" {
		t.Errorf("downs (-want +got):\n%s", diff)
	}
}

// serverUp brings a single server session to the Network phase with PAP,
// playing the client by hand, and returns it with nothing pending.
func serverUp(t *testing.T) *single {
	t.Helper()
	x := newSingle(ppp.Config{Auth: []ppp.AuthProto{ppp.AuthPAP}})
	x.s.Open(x.now)
	req := reply(t, x.take(), ppp.ProtoLCP)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), x.now)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 1, 5, 6, 9, 9, 9, 9), x.now)
	x.take()
	pap, _ := ppp.PAPPacket{Code: ppp.PAPRequest, ID: 1, PeerID: []byte("bob"), Password: []byte("builder")}.Append(ppp.AppendProtocol(nil, ppp.ProtoPAP))
	x.s.Input(pap, x.now)
	x.auth.flush(x.now)
	if x.s.State() != ppp.PhaseNetwork {
		t.Fatalf("phase %v, want Network", x.s.State())
	}
	x.take()
	return x
}

func TestIPCPServer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []byte
		wantCode ppp.Code
		wantData []byte
	}{
		{"0.0.0.0 and DNS 0 Nak'd with the assignment (RFC 1332 3.3, RFC 1877)",
			[]byte{3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0}, ppp.ConfNak,
			[]byte{3, 6, 100, 64, 0, 7, 129, 6, 192, 0, 2, 53, 131, 6, 192, 0, 2, 54}},
		{"the assigned values acked", []byte{3, 6, 100, 64, 0, 7, 129, 6, 192, 0, 2, 53}, ppp.ConfAck,
			[]byte{3, 6, 100, 64, 0, 7, 129, 6, 192, 0, 2, 53}},
		{"another address Nak'd", []byte{3, 6, 10, 1, 1, 1}, ppp.ConfNak, []byte{3, 6, 100, 64, 0, 7}},
		{"no address: Nak'd with one", []byte{129, 6, 192, 0, 2, 53}, ppp.ConfNak, []byte{3, 6, 100, 64, 0, 7}},
		{"compression, NBNS and unknown rejected", []byte{2, 6, 0, 0x2d, 0x0f, 0x01, 3, 6, 0, 0, 0, 0, 130, 6, 0, 0, 0, 0, 200, 2},
			ppp.ConfRej, []byte{2, 6, 0, 0x2d, 0x0f, 0x01, 130, 6, 0, 0, 0, 0, 200, 2}},
		{"address of bad length rejected", []byte{3, 5, 0, 0, 0}, ppp.ConfRej, []byte{3, 5, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := serverUp(t)
			x.s.Input(frame(ppp.ProtoIPCP, ppp.ConfReq, 9, tc.opts...), x.now)
			got := reply(t, x.take(), ppp.ProtoIPCP)
			if got.Code != tc.wantCode || got.ID != 9 {
				t.Fatalf("reply %v id %d, want %v", got.Code, got.ID, tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantData, got.Data); diff != "" {
				t.Errorf("reply options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProtocolReject(t *testing.T) {
	x := serverUp(t)
	for _, proto := range []ppp.Protocol{ppp.ProtoIPv6CP, 0x80fd /* CCP */, 0x4021} {
		in := append(ppp.AppendProtocol(nil, proto), 1, 2, 3, 4)
		x.s.Input(in, x.now)
		got := reply(t, x.take(), ppp.ProtoLCP)
		if got.Code != ppp.ProtoRej {
			t.Fatalf("%v: reply %v, want Protocol-Reject", proto, got.Code)
		}
		// RFC 1661 section 5.7: Rejected-Protocol, then the information.
		if diff := cmp.Diff(in, got.Data); diff != "" {
			t.Errorf("%v: rejected data (-want +got):\n%s", proto, diff)
		}
	}
	if n := x.s.Stats().UnknownProto; n != 3 {
		t.Errorf("UnknownProto = %d, want 3", n)
	}
	// A data frame is the owner's business: not rejected, not consumed.
	x.s.Input([]byte{0x00, 0x21, 0x45, 0}, x.now)
	if len(x.take()) != 0 || x.s.Stats().DataIgnored != 1 {
		t.Error("IPv4 frame was answered or not counted")
	}
}

func TestCodeReject(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proto ppp.Protocol
		code  ppp.Code
	}{
		{"LCP code 12", ppp.ProtoLCP, 12},
		{"LCP code 0", ppp.ProtoLCP, 0},
		{"IPCP Echo-Request is unknown to IPCP", ppp.ProtoIPCP, ppp.EchoReq},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := serverUp(t)
			in := frame(tc.proto, tc.code, 0x33, 0xaa, 0xbb)
			x.s.Input(in, x.now)
			got := reply(t, x.take(), tc.proto)
			if got.Code != ppp.CodeRej {
				t.Fatalf("reply %v, want Code-Reject", got.Code)
			}
			// RFC 1661 section 5.6: the rejected packet, header included.
			if diff := cmp.Diff(in[2:], got.Data); diff != "" {
				t.Errorf("rejected packet (-want +got):\n%s", diff)
			}
			if x.s.Stats().UnknownCode != 1 || x.s.State() != ppp.PhaseNetwork {
				t.Errorf("UnknownCode %d, phase %v", x.s.Stats().UnknownCode, x.s.State())
			}
		})
	}
}

func TestEchoReply(t *testing.T) {
	x := serverUp(t)
	x.s.Input(frame(ppp.ProtoLCP, ppp.EchoReq, 7, 9, 9, 9, 9, 'h', 'i'), x.now)
	got := reply(t, x.take(), ppp.ProtoLCP)
	m := x.s.LocalMagic()
	want := ppp.Packet{Code: ppp.EchoReply, ID: 7, Data: []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m), 'h', 'i'}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Echo-Reply (-want +got):\n%s", diff)
	}
}

// An Echo-Reply or a Discard-Request is never answered (RFC 1661 section
// 5.8): two keepalive ends would otherwise bounce replies forever.
func TestEchoReplyAndDiscardNotAnswered(t *testing.T) {
	x := serverUp(t)
	x.s.Input(frame(ppp.ProtoLCP, ppp.EchoReply, 7, 9, 9, 9, 9), x.now)
	x.s.Input(frame(ppp.ProtoLCP, ppp.DiscardReq, 8, 9, 9, 9, 9), x.now)
	if out := x.take(); len(out) != 0 {
		t.Fatalf("%d frames sent in answer to an Echo-Reply and a Discard-Request, want none", len(out))
	}
}

func TestCHAPBadResponse(t *testing.T) {
	x := newSingle(ppp.Config{Auth: []ppp.AuthProto{ppp.AuthCHAPMD5}})
	x.s.Open(x.now)
	req := reply(t, x.take(), ppp.ProtoLCP)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), x.now)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 1, 5, 6, 9, 9, 9, 9), x.now)
	var ch ppp.CHAPPacket
	for _, f := range x.take() {
		if p, info, _ := ppp.ParseProtocol(f); p == ppp.ProtoCHAP {
			ch, _ = ppp.ParseCHAP(info)
		}
	}
	if ch.Code != ppp.CHAPChallenge || len(ch.Value) < 16 {
		t.Fatalf("challenge %+v, want one of at least 16 octets", ch)
	}
	for _, size := range []int{1, 15, 17, 64} {
		b, _ := ppp.CHAPPacket{Code: ppp.CHAPResponse, ID: ch.ID, Value: make([]byte, size), Name: []byte("bob")}.Append(ppp.AppendProtocol(nil, ppp.ProtoCHAP))
		x.s.Input(b, x.now)
	}
	x.s.Input([]byte{0xc2, 0x23, 2, ch.ID, 0, 5, 0}, x.now) // Value-Size 0
	if len(x.auth.reqs) != 0 || len(x.take()) != 0 {
		t.Error("a malformed response reached the authenticator or was answered")
	}
	if n := x.s.Stats().BadAuth; n != 5 {
		t.Errorf("BadAuth = %d, want 5", n)
	}
	// The right response still works.
	resp := ppp.ChapMD5(ch.ID, []byte("builder"), ch.Value)
	b, _ := ppp.CHAPPacket{Code: ppp.CHAPResponse, ID: ch.ID, Value: resp[:], Name: []byte("bob")}.Append(ppp.AppendProtocol(nil, ppp.ProtoCHAP))
	x.s.Input(b, x.now)
	x.auth.flush(x.now)
	if x.s.State() != ppp.PhaseNetwork {
		t.Errorf("phase %v after a good response", x.s.State())
	}
}

func TestStartProxied(t *testing.T) {
	x := newSingle(ppp.Config{Auth: []ppp.AuthProto{ppp.AuthPAP}, MRU: 1492})
	p := ppp.Proxy{
		InitialRecvConfReq: []byte{1, 4, 0x05, 0xd4, 5, 6, 0x11, 0x22, 0x33, 0x44},
		LastSentConfReq:    []byte{1, 4, 0x05, 0xd4, 3, 4, 0xc0, 0x23, 5, 6, 0xaa, 0xbb, 0xcc, 0xdd},
		LastRecvConfReq:    []byte{1, 4, 0x05, 0xd4, 5, 6, 0x11, 0x22, 0x33, 0x44},
		AuthProto:          ppp.AuthPAP, AuthName: "bob", AuthID: 5, AuthResponse: []byte("builder"),
	}
	bad := p
	bad.LastRecvConfReq = []byte{5, 6, 0xaa, 0xbb, 0xcc, 0xdd} // the subscriber's magic equals ours: looped
	if err := x.s.StartProxied(bad, x.now); err == nil {
		t.Fatal("accepted a proxy LCP with equal magic numbers")
	}
	if err := x.s.StartProxied(p, x.now); err != nil {
		t.Fatal(err)
	}
	if len(x.auth.reqs) != 1 || x.auth.reqs[0].Username != "bob" || string(x.auth.reqs[0].Password) != "builder" {
		t.Fatalf("authenticator saw %+v", x.auth.reqs)
	}
	x.auth.flush(x.now)
	out := x.take()
	if len(out) != 2 {
		t.Fatalf("sent %d frames, want PAP Ack and IPCP Configure-Request", len(out))
	}
	_, info, _ := ppp.ParseProtocol(out[0])
	if ack, err := ppp.ParsePAP(info); err != nil || ack.Code != ppp.PAPAck || ack.ID != 5 {
		t.Errorf("first frame %x, want PAP Ack id 5", out[0])
	}
	if p, _, _ := ppp.ParseProtocol(out[1]); p != ppp.ProtoIPCP {
		t.Errorf("second frame %v, want IPCP", p)
	}
	if x.s.PeerMagic() != 0x11223344 || x.s.LocalMagic() != 0xaabbccdd || x.s.PeerMRU() != 1492 {
		t.Errorf("magic %x/%x MRU %d", x.s.LocalMagic(), x.s.PeerMagic(), x.s.PeerMRU())
	}
	if diff := cmp.Diff(p.InitialRecvConfReq, x.s.ProxyInfo().InitialRecvConfReq); diff != "" {
		t.Errorf("ProxyInfo (-want +got):\n%s", diff)
	}
}

// TestProxyInfoCapture is the LAC side: a server session whose Authenticator
// only records gives the LNS everything RFC 2661 section 4.4.5 forwards.
func TestProxyInfoCapture(t *testing.T) {
	p := newPair(t, 11, ppp.Config{Auth: []ppp.AuthProto{ppp.AuthCHAPMD5}}, ppp.Config{Username: "alice", Password: "wonderland"})
	p.authWait = time.Hour // never answered: the LAC hands off instead
	p.open()
	p.run(time.Minute, func() bool { return len(p.auth.reqs) > 0 })
	if len(p.auth.reqs) == 0 {
		t.Fatal("no credentials captured")
	}
	pi := p.server.ProxyInfo()
	if pi.AuthProto != ppp.AuthCHAPMD5 || pi.AuthName != "alice" || len(pi.AuthChallenge) < 16 {
		t.Fatalf("ProxyInfo %+v", pi)
	}
	want := ppp.ChapMD5(pi.AuthID, []byte("wonderland"), pi.AuthChallenge)
	if !bytes.Equal(want[:], pi.AuthResponse) {
		t.Error("captured CHAP response does not verify")
	}
	// The LNS side accepts what the LAC captured.
	lns := newSingle(ppp.Config{Auth: []ppp.AuthProto{ppp.AuthCHAPMD5}})
	if err := lns.s.StartProxied(pi, lns.now); err != nil {
		t.Fatal(err)
	}
	lns.auth.flush(lns.now)
	if lns.s.State() != ppp.PhaseNetwork || lns.s.Username() != "alice" {
		t.Errorf("LNS phase %v user %q", lns.s.State(), lns.s.Username())
	}
}

// FuzzSessionInput throws arbitrary frames (split at 0x7e) at an established
// server and an established client session: never a panic, every frame sent
// decodes, and the session stays within its phases.
func FuzzSessionInput(f *testing.F) {
	f.Add([]byte{0xc0, 0x21, 1, 1, 0, 8, 1, 4, 0, 10})
	f.Add([]byte{0xc0, 0x21, 8, 1, 0, 6, 0x80, 0x21})
	f.Add([]byte{0xc0, 0x21, 7, 1, 0, 8, 1, 1, 0, 4})
	f.Add([]byte{0x80, 0x21, 1, 1, 0, 10, 3, 6, 0, 0, 0, 0, 0x7e, 0x80, 0x21, 2, 1, 0, 4})
	f.Add([]byte{0xc2, 0x23, 2, 1, 0, 5, 0})
	f.Add([]byte{0xc2, 0x23, 1, 1, 0, 9, 4, 1, 2, 3, 4})
	f.Add([]byte{0xc0, 0x23, 1, 1, 0, 6, 9, 1})
	f.Add([]byte{0xc0, 0x23, 2, 1, 0, 5, 0})
	f.Add([]byte{0xff, 0x03, 0xc0, 0x21, 5, 1, 0, 4, 0x7e, 0xc0, 0x21, 6, 1, 0, 4})
	// IPV6CP (RFC 5072): a zero identifier, two of them, a Nak, a Reject.
	f.Add([]byte{0xc0, 0x23, 1, 1, 0, 12, 3, 'b', 'o', 'b', 7, 'b', 'u', 'i', 'l', 'd', 'e', 'r', 0x7e,
		0x80, 0x57, 1, 1, 0, 14, 1, 10, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x80, 0x57, 1, 2, 0, 24, 1, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 10, 1, 2, 3, 4, 5, 6, 7, 8, 0x7e,
		0x80, 0x57, 3, 1, 0, 14, 1, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0x7e, 0x80, 0x57, 4, 1, 0, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		frames := bytes.Split(b, []byte{0x7e})
		for _, role := range []ppp.Role{ppp.Server, ppp.Client} {
			x := newSingle(ppp.Config{Auth: []ppp.AuthProto{ppp.AuthPAP}})
			x.auth.grant = func(r *ppp.AuthResult) { r.IPv6 = true }
			if role == ppp.Client {
				x.s = ppp.NewSession(x, ppp.Config{Role: ppp.Client, Username: "u", Password: "p", IPv6: true, Rand: newRand(2), Handler: x.rec})
			}
			x.s.Open(x.now)
			req := reply(t, x.take(), ppp.ProtoLCP)
			x.s.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), x.now)
			peerReq := []byte{5, 6, 9, 9, 9, 9}
			if role == ppp.Client {
				peerReq = []byte{3, 4, 0xc0, 0x23, 5, 6, 9, 9, 9, 9} // the server asks for PAP
			}
			x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 1, peerReq...), x.now)
			if x.s.LCPState() != ppp.Opened {
				t.Fatalf("%v: LCP %v before fuzzing", role, x.s.LCPState())
			}
			for i := 0; i < 2; i++ {
				for _, fr := range frames {
					x.s.Input(fr, x.now)
				}
				x.auth.flush(x.now)
				x.now = x.now.Add(time.Second)
				x.s.Tick(x.now)
			}
			for _, o := range x.take() {
				if _, _, err := ppp.ParseProtocol(o); err != nil {
					t.Fatalf("sent an undecodable frame %x", o)
				}
			}
			if ph := x.s.State(); ph > ppp.PhaseTerminate {
				t.Fatalf("phase %v", ph)
			}
		}
	})
}

func BenchmarkNegotiation(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := newPair(b, uint64(i), ppp.Config{Auth: []ppp.AuthProto{ppp.AuthCHAPMD5}, MRU: 1492, RejectACCMPFCACFC: true},
			ppp.Config{MRU: 1492, Username: "alice", Password: "wonderland", RejectACCMPFCACFC: true})
		p.authWait = 0
		p.open()
		p.run(time.Minute, p.bothUp)
		if !p.bothUp() {
			b.Fatal("not up")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "negotiations/s")
}

// TestSessionLossyConvergence measures how often a client/server pair comes
// up over a link losing 20% and duplicating 10% of frames, with RFC 1661's
// default timers and counters. Losing ten Configure-Requests or their
// answers in a row is allowed by the RFC to fail, so the bar is a rate, not
// every seed.
func TestSessionLossyConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical run skipped in -short mode")
	}
	const seeds = 250
	for _, auth := range []ppp.AuthProto{ppp.AuthPAP, ppp.AuthCHAPMD5} {
		up := 0
		var worst time.Duration
		for seed := uint64(100); seed < 100+seeds; seed++ {
			p := newPair(t, seed, ppp.Config{Auth: []ppp.AuthProto{auth}, MRU: 1492, RejectACCMPFCACFC: true},
				ppp.Config{MRU: 1492, Username: "bob", Password: "builder", RejectACCMPFCACFC: true})
			p.pipe.Loss, p.pipe.Dup, p.pipe.MaxDelay = 0.2, 0.1, 40*time.Millisecond
			p.open()
			p.run(5*time.Minute, p.bothUp)
			if p.bothUp() {
				up++
				if d := p.now.Sub(t0); d > worst {
					worst = d
				}
			}
		}
		t.Logf("%v: %d/%d sessions up at 20%% loss, slowest %v", auth, up, seeds, worst)
		if up < seeds*99/100 {
			t.Errorf("%v: only %d/%d sessions came up", auth, up, seeds)
		}
	}
}

// The session life cycle, as the package documentation shows it (verified
// by its output).

// staticAuth accepts one user and answers at once; an LNS would start a
// RADIUS request here and call AuthResult from its shard when it returns.
type staticAuth struct{ now *time.Time }

func (a staticAuth) Authenticate(s *ppp.Session, req ppp.AuthRequest) {
	ok := req.Username == "alice" && string(req.Password) == "wonderland"
	s.AuthResult(ppp.AuthResult{OK: ok, IP: netip.MustParseAddr("100.64.0.9"),
		DNS1: netip.MustParseAddr("192.0.2.53")}, *a.now)
}

type printUp struct{ who string }

func (h printUp) Up(s *ppp.Session, n ppp.NetworkInfo) {
	fmt.Printf("%s up: local %v peer %v dns %v\n", h.who, n.Local, n.Peer, n.DNS1)
}
func (h printUp) Down(s *ppp.Session, r ppp.Reason) { fmt.Printf("%s down: %v\n", h.who, r) }

// Example shows how an owner drives two sessions: frames in through Input
// (control protocols only), timers through NextDeadline and Tick, results
// through the Handler. No goroutine belongs to a session.
func Example() {
	pipe := ppptest.NewPipe(1)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	server := ppp.NewSession(pipe.End(0), ppp.Config{
		Role: ppp.Server, MRU: 1492, RejectACCMPFCACFC: true,
		Auth:          []ppp.AuthProto{ppp.AuthPAP},
		Authenticator: staticAuth{&now},
		LocalIP:       netip.MustParseAddr("100.64.0.1"),
		Handler:       printUp{"server"},
	})
	client := ppp.NewSession(pipe.End(1), ppp.Config{
		Role: ppp.Client, MRU: 1492, RejectACCMPFCACFC: true,
		Username: "alice", Password: "wonderland",
		Handler: printUp{"client"},
	})
	server.Open(now)
	client.Open(now)
	for i := 0; i < 100; i++ {
		now = now.Add(10 * time.Millisecond)
		pipe.Deliver(now, func(to int, frame []byte) {
			if p, _, err := ppp.ParseProtocol(frame); err != nil || !p.IsControl() {
				return // the data plane's business
			}
			[]*ppp.Session{server, client}[to].Input(frame, now)
		})
		for _, s := range []*ppp.Session{server, client} {
			if d := s.NextDeadline(); !d.IsZero() && !now.Before(d) {
				s.Tick(now)
			}
		}
	}
	client.Close("hang up", now)
	for i := 0; i < 100; i++ {
		now = now.Add(100 * time.Millisecond)
		pipe.Deliver(now, func(to int, frame []byte) { []*ppp.Session{server, client}[to].Input(frame, now) })
		for _, s := range []*ppp.Session{server, client} {
			if d := s.NextDeadline(); !d.IsZero() && !now.Before(d) {
				s.Tick(now)
			}
		}
	}
	// Unordered output:
	// server up: local 100.64.0.1 peer 100.64.0.9 dns 192.0.2.53
	// client up: local 100.64.0.9 peer 100.64.0.1 dns 192.0.2.53
	// client down: local-close
	// server down: peer-terminate
}
