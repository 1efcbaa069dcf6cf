package lac

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/aaa/aaatest"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/ppp/ppptest"
	"github.com/bras-project/bras/pppoe"
	"golang.org/x/sync/errgroup"
)

// labAuth accepts user<N>@<realm> with password pw<N> by PAP or CHAP-MD5
// and assigns 100.64.x.y.
type labAuth struct{ calls *countMap }

func (a labAuth) Authenticate(s *ppp.Session, req ppp.AuthRequest) {
	name, _, _ := strings.Cut(req.Username, "@")
	n, err := strconv.Atoi(strings.TrimPrefix(name, "user"))
	secret := []byte("pw" + strconv.Itoa(n))
	ok := err == nil
	switch req.Proto {
	case ppp.AuthPAP:
		ok = ok && bytes.Equal(req.Password, secret)
	case ppp.AuthCHAPMD5:
		r := ppp.ChapMD5(req.ChapID, secret, req.Challenge)
		ok = ok && bytes.Equal(r[:], req.Response)
	default:
		ok = false
	}
	a.calls.add(req.Username)
	s.AuthResult(ppp.AuthResult{OK: ok, IP: netip.AddrFrom4([4]byte{100, 64, byte(n >> 8), byte(n)})}, time.Now())
}

type countMap struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *countMap) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
}

func (c *countMap) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// fakeLNS is an LNS made of the l2tp endpoint and ppp server sessions:
// proxy LCP when the ICCN carries it, full LCP otherwise; IPv4 frames are
// echoed back.
type fakeLNS struct {
	l2tp.NopHandler
	ep   *l2tp.Endpoint
	d    *ppptest.Driver
	auth *countMap

	mu      sync.Mutex
	tunnels []*l2tp.Tunnel
	calls   map[string]*lnsCall // by Calling Number
	down    map[string]l2tp.ResultCode
	icrqs   int
	stopRC  []l2tp.ResultCode // TunnelDown results

	ipv4In atomic.Int64 // IPv4 frames received
	noEcho atomic.Bool  // do not echo them
}

type lnsCall struct {
	lns      *fakeLNS
	ls       *l2tp.Session
	pp       *ppp.Session
	proxied  bool
	confReqs int // LCP Configure-Requests the LNS sent
	service  string
}

func (c *lnsCall) Send(frame []byte) error {
	if p, info, err := ppp.ParseProtocol(frame); err == nil && p == ppp.ProtoLCP && len(info) > 0 && info[0] == 1 {
		c.lns.mu.Lock()
		c.confReqs++
		c.lns.mu.Unlock()
	}
	return c.ls.Tunnel().SendData(c.ls, AddAddressControl(nil, frame))
}

func (f *fakeLNS) TunnelUp(t *l2tp.Tunnel) {
	f.mu.Lock()
	f.tunnels = append(f.tunnels, t)
	f.mu.Unlock()
}

func (f *fakeLNS) TunnelDown(_ *l2tp.Tunnel, rc l2tp.ResultCode, _ error) {
	f.mu.Lock()
	f.stopRC = append(f.stopRC, rc)
	f.mu.Unlock()
}

func (f *fakeLNS) IncomingCall(_ *l2tp.Tunnel, _ *l2tp.Session, icrq *l2tp.Message) error {
	f.mu.Lock()
	f.icrqs++
	f.mu.Unlock()
	if called, _ := icrq.Find(l2tp.AVPCalledNumber); strings.HasPrefix(string(called.Value), "refuse") {
		return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesPermanent)}}
	}
	return nil
}

func (f *fakeLNS) SessionUp(ls *l2tp.Session, iccn *l2tp.Message) {
	icrq := ls.ICRQ()
	calling, _ := icrq.Find(l2tp.AVPCallingNumber)
	called, _ := icrq.Find(l2tp.AVPCalledNumber)
	c := &lnsCall{lns: f, ls: ls, service: string(called.Value)}
	c.pp = ppp.NewSession(c, ppp.Config{Role: ppp.Server, MRU: 1492, Auth: []ppp.AuthProto{ppp.AuthCHAPMD5},
		Authenticator: labAuth{f.auth}, LocalIP: netip.MustParseAddr("100.64.255.254"), Handler: nopHandler{}})
	ls.SetValue(c)
	f.mu.Lock()
	f.calls[string(calling.Value)] = c
	f.mu.Unlock()
	f.d.Do(func(now time.Time) {
		f.d.Track(c.pp)
		if px, ok, err := ProxyFromICCN(iccn); ok && err == nil {
			if err := c.pp.StartProxied(px, now); err == nil {
				f.mu.Lock()
				c.proxied = true
				f.mu.Unlock()
				return
			}
		}
		c.pp.Open(now)
	})
}

func (f *fakeLNS) SessionDown(ls *l2tp.Session, rc l2tp.ResultCode) {
	c, ok := ls.Value().(*lnsCall)
	if !ok {
		return
	}
	calling, _ := ls.ICRQ().Find(l2tp.AVPCallingNumber)
	f.mu.Lock()
	f.down[string(calling.Value)] = rc
	f.mu.Unlock()
	f.d.Do(func(now time.Time) { c.pp.LowerDown(now); f.d.Forget(c.pp) })
}

func (f *fakeLNS) data(_ *l2tp.Tunnel, ls *l2tp.Session, _ l2tp.Header, payload []byte) {
	c, ok := ls.Value().(*lnsCall)
	if !ok {
		return
	}
	frame := ppp.StripAddressControl(payload)
	if ppptest.IsControl(frame) {
		fr := append([]byte(nil), frame...)
		f.d.Do(func(now time.Time) { c.pp.Input(fr, now) })
		return
	}
	if len(frame) > 2 && frame[0] == 0x00 && frame[1] == 0x21 {
		f.ipv4In.Add(1)
		if !f.noEcho.Load() {
			_ = ls.Tunnel().SendData(ls, payload) // echo, FF 03 kept
		}
	}
}

func (f *fakeLNS) call(mac string) *lnsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[mac]
}

func (f *fakeLNS) downOf(mac string) (l2tp.ResultCode, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rc, ok := f.down[mac]
	return rc, ok
}

func subMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x53, 0x55, 0x42, byte(i >> 8), byte(i)}
}

// ipv4Frame is a PPP frame with a small IPv4 packet carrying n.
func ipv4Frame(src netip.Addr, n int) []byte {
	b := []byte{0x00, 0x21, 0x45, 0, 0, 24, 0, 0, 0, 0, 64, 253, 0, 0}
	s := src.As4()
	b = append(b, s[:]...)
	b = append(b, 192, 0, 2, 1)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lab is sub ── lac ── lns in three namespaces: subscribers played by
// pppoe.Client and ppp client sessions, the LAC under test, and an LNS
// made of the l2tp endpoint and ppp server sessions.
type lab struct {
	t     testing.TB
	ctx   context.Context
	lac   *LAC
	lns   *fakeLNS
	cli   *pppoe.Client
	subd  *ppptest.Driver
	srv   *pppoe.Server
	lnsNS *testenv.Netns
	lacNS *testenv.Netns
	bg    *sync.WaitGroup
	// log is the daemons' logger, printed when the test fails.
	log *slog.Logger
	// pppoeCfg is the access concentrator's configuration (Interface and
	// ACName are set by startLAC).
	pppoeCfg pppoe.ServerConfig
	// sendData makes the LAC send upstream data with l2tp's SendData
	// instead of its batch sender.
	sendData bool
	// Stop stops the LAC's goroutines, endpoints and servers.
	stop func()
}

var labSecret = []byte("tunnel-secret")

// The LNS answers on 10.9.0.2; nobody answers on 10.9.0.3.
var (
	deadLNS = LNS{Name: "dead", Addr: netip.MustParseAddrPort("10.9.0.3:1701"), Secret: labSecret, Preference: 1}
	liveLNS = LNS{Name: "live", Addr: netip.MustParseAddrPort("10.9.0.2:1701"), Secret: labSecret, Preference: 2}
)

func newLab(t testing.TB, cfg Config, acc AccessConfig) *lab {
	t.Helper()
	l := newLabWithoutLAC(t)
	l.startLAC(cfg, acc)
	return l
}

// startLAC runs a LAC on a0 (PPPoE) and 10.9.0.1 (L2TP) in the lac namespace.
func (l *lab) startLAC(cfg Config, acc AccessConfig) {
	t, ctx, bg, lacNS := l.t, l.ctx, l.bg, l.lacNS
	t.Helper()
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 1500 * time.Millisecond
	}
	if cfg.Tunnel.RetransmitInitial == 0 {
		cfg.Tunnel = l2tp.TunnelOptions{RetransmitInitial: 200 * time.Millisecond, MaxRetries: 3}
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 20 * time.Second
	}
	var conn *net.UDPConn
	if err := lacNS.Do(func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.9.0.1:1701")))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !l.sendData {
		cfg.DataConn = conn // batched upstream, as RunDaemon does
	}
	if cfg.Logger == nil {
		cfg.Logger = l.log.With("daemon", "lac")
	}
	var err error
	l.lac, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	access := l.lac.NewAccess(acc)
	if err := lacNS.Do(func() error {
		data, dataEnd := l.lac.BatchedData() // batched downstream, as RunDaemon does
		ep, err := l2tp.NewEndpoint(conn, l2tp.Config{HostName: "lac", Handler: l.lac.L2TPHandler(), Data: data, DataBatchEnd: dataEnd, Logger: cfg.Logger})
		if err != nil {
			return err
		}
		l.lac.Attach(ep)
		bg.Go(func() { ep.Run(ctx) })
		pc := l.pppoeCfg
		pc.Interface, pc.ACName = "a0", "bras-lac"
		if pc.Logger == nil {
			pc.Logger = cfg.Logger.With("layer", "pppoe")
		}
		l.srv, err = pppoe.NewServer(pc, access)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	access.Bind(l.srv)
	bg.Go(func() { l.lac.Run(ctx) })
	bg.Go(func() { l.srv.Run(ctx) })

}

func newLabWithoutLAC(t testing.TB) *lab {
	t.Helper()
	testenv.RequireRoot(t)
	sub, lacNS, lnsNS := testenv.NewNetns(t, "sub"), testenv.NewNetns(t, "lac"), testenv.NewNetns(t, "lns")
	testenv.Link(t, sub, "s0", netip.Prefix{}, lacNS, "a0", netip.Prefix{})
	testenv.Link(t, lacNS, "n0", netip.MustParsePrefix("10.9.0.1/24"), lnsNS, "n1", netip.MustParsePrefix("10.9.0.2/24"))
	lnsNS.MustRun(t, "ip", "addr", "add", "10.9.0.3/24", "dev", "n1")

	log := testenv.FailureLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	bg := &sync.WaitGroup{}
	l := &lab{t: t, ctx: ctx, lnsNS: lnsNS, lacNS: lacNS, bg: bg, log: log}
	var once sync.Once
	l.stop = func() { once.Do(func() { cancel(); bg.Wait() }) }
	t.Cleanup(l.stop)

	l.lns = &fakeLNS{d: ppptest.NewDriver(ctx, 8192), auth: &countMap{}, calls: map[string]*lnsCall{}, down: map[string]l2tp.ResultCode{}}
	if err := lnsNS.Do(func() error {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(liveLNS.Addr))
		if err != nil {
			return err
		}
		l.lns.ep, err = l2tp.NewEndpoint(conn, l2tp.Config{HostName: "lns", Handler: l.lns, Data: l.lns.data, Logger: log.With("daemon", "lns"),
			Accept: func(netip.AddrPort, string) (l2tp.TunnelOptions, error) {
				return l2tp.TunnelOptions{Secret: labSecret}, nil
			}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	bg.Go(func() { l.lns.ep.Run(ctx) })

	if err := sub.Do(func() error {
		var err error
		l.cli, err = pppoe.NewClient(pppoe.ClientConfig{Interface: "s0", Logger: log.With("daemon", "subscribers")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	bg.Go(func() { l.cli.Run(ctx) })
	l.subd = ppptest.NewDriver(ctx, 8192)
	return l
}

// subscriber is a PPPoE client session carrying a PPP client session.
type subscriber struct {
	i    int
	mac  net.HardwareAddr
	cs   *pppoe.ClientSession
	ps   *ppp.Session
	up   chan ppp.NetworkInfo
	down chan ppp.Reason
	data chan []byte
	// authMsg receives the message of a PAP Nak or CHAP Failure.
	authMsg chan string
	// vanish makes the subscriber deaf once it has answered a CHAP
	// Challenge: it vanishes without PADT.
	vanish bool
	deaf   atomic.Bool
}

func (s *subscriber) Up(_ *ppp.Session, n ppp.NetworkInfo) {
	select {
	case s.up <- n:
	default:
	}
}

func (s *subscriber) Down(_ *ppp.Session, r ppp.Reason) {
	select {
	case s.down <- r:
	default:
	}
}

// watchAuth catches a PAP Nak (RFC 1334 section 2.2.2) or CHAP Failure
// (RFC 1994 section 4.2) and passes on its message.
func (s *subscriber) watchAuth(frame []byte) {
	p, info, err := ppp.ParseProtocol(frame)
	if err != nil || len(info) < 4 {
		return
	}
	var msg string
	switch {
	case p == ppp.ProtoPAP && info[0] == 3 && len(info) >= 5:
		msg = string(info[5:min(len(info), 5+int(info[4]))])
	case p == ppp.ProtoCHAP && info[0] == 4:
		msg = string(info[4:])
	default:
		return
	}
	select {
	case s.authMsg <- msg:
	default:
	}
}

// dial brings up subscriber i (MAC subMAC(i)) on service as user@realm
// with password pw<i>; it does not wait for PPP.
func (l *lab) dial(i int, service, realm string) (*subscriber, error) {
	return l.dialWith(i, service, realm, false, 0)
}

func (l *lab) dialVanishing(i int, service, realm string, vanish bool) (*subscriber, error) {
	return l.dialWith(i, service, realm, vanish, 0)
}

// dialWith is dial for a subscriber that vanishes after the CHAP
// Challenge (vanish) or sits on an 802.1Q VLAN (vlan).
func (l *lab) dialWith(i int, service, realm string, vanish bool, vlan uint16) (*subscriber, error) {
	return l.dialTagged(i, service, realm, vanish, 0, vlan)
}

// dialTagged is dialWith for a subscriber on QinQ outer:vlan (outer 0:
// single-tagged or untagged).
func (l *lab) dialTagged(i int, service, realm string, vanish bool, outer, vlan uint16) (*subscriber, error) {
	s := &subscriber{i: i, mac: subMAC(i), up: make(chan ppp.NetworkInfo, 1), down: make(chan ppp.Reason, 1),
		data: make(chan []byte, 4), authMsg: make(chan string, 1), vanish: vanish}
	cs, err := l.cli.Dial(l.ctx, s.mac, pppoe.DialOptions{ServiceName: service, Timeout: 300 * time.Millisecond, OuterVLAN: outer, VLAN: vlan})
	if err != nil {
		return nil, fmt.Errorf("subscriber %d: %w", i, err)
	}
	s.cs = cs
	s.ps = ppp.NewSession(cs, ppp.Config{Role: ppp.Client, MRU: 1492, RejectACCMPFCACFC: true,
		Username: fmt.Sprintf("user%d@%s", i, realm), Password: fmt.Sprintf("pw%d", i), Handler: s})
	l.subd.Do(func(now time.Time) { l.subd.Track(s.ps); s.ps.Open(now) })
	cs.SetReceive(func(p []byte) {
		frame := append([]byte(nil), p...)
		if s.deaf.Load() {
			return
		}
		if proto, _, _ := ppp.ParseProtocol(frame); s.vanish && proto == ppp.ProtoCHAP {
			s.deaf.Store(true)
		}
		if ppptest.IsControl(frame) {
			s.watchAuth(frame)
			l.subd.Do(func(now time.Time) { s.ps.Input(frame, now) })
			return
		}
		select {
		case s.data <- frame:
		default:
		}
	})
	return s, nil
}

// waitUp waits for IPCP and checks the address the LNS assigned.
func (s *subscriber) waitUp(ctx context.Context) error {
	select {
	case n := <-s.up:
		if want := netip.AddrFrom4([4]byte{100, 64, byte(s.i >> 8), byte(s.i)}); n.Local != want {
			return fmt.Errorf("subscriber %d got %v, want %v", s.i, n.Local, want)
		}
		return nil
	case r := <-s.down:
		return fmt.Errorf("subscriber %d: PPP ended before IPCP was up: %v", s.i, r)
	case <-ctx.Done():
		return fmt.Errorf("subscriber %d: IPCP not up: %w", s.i, ctx.Err())
	}
}

// echo sends an IPv4 frame and waits for the LNS's echo.
func (s *subscriber) echo(t testing.TB) {
	t.Helper()
	f := ipv4Frame(netip.AddrFrom4([4]byte{100, 64, byte(s.i >> 8), byte(s.i)}), s.i)
	if err := s.cs.Send(f); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-s.data:
		if !bytes.Equal(got, f) {
			t.Errorf("subscriber %d: echo %x, want %x", s.i, got, f)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("subscriber %d: no IPv4 echo through LAC and LNS", s.i)
	}
}

func (s *subscriber) waitPADT(t testing.TB, what string) {
	t.Helper()
	select {
	case <-s.cs.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: subscriber %d got no PADT", what, s.i)
	}
}

// TestNetnsLAC runs sub ── lac ── lns: 20 proxy-mode and 20
// transparent-mode subscribers through the LAC to an LNS reached after a
// dead one, IPv4 both ways, then PADT → CDN, CDN → PADT, StopCCN → PADT.
func TestNetnsLAC(t *testing.T) {
	const perMode = 20
	routes, err := NewRoutes([]Route{
		{Realms: []string{"example.com"}, LNS: []LNS{deadLNS, liveLNS}},
		{Services: []string{"internet"}, LNS: []LNS{deadLNS, liveLNS}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l := newLab(t, Config{Routes: routes, HoldDown: time.Minute, Echo: ppp.EchoConfig{Interval: 5 * time.Second}},
		AccessConfig{Mode: ModeTransparent, ServiceModes: map[string]Mode{"proxy": ModeProxy}})
	flns, lac := l.lns, l.lac

	stopCapture := capture(t, l.lacNS, "a0", "n0")

	subs := make([]*subscriber, 2*perMode)
	g, gctx := errgroup.WithContext(l.ctx)
	g.SetLimit(10)
	for i := range subs {
		service := "internet"
		if i < perMode {
			service = "proxy"
		}
		g.Go(func() error {
			s, err := l.dial(i, service, "example.com")
			if err != nil {
				return err
			}
			subs[i] = s
			return s.waitUp(gctx)
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	// Every call went to the live LNS after the dead one failed, on one tunnel.
	if !lac.sel.Down(deadLNS) {
		t.Error("the LNS that did not answer is not held down")
	}
	flns.mu.Lock()
	if len(flns.tunnels) != 1 || flns.icrqs != len(subs) {
		t.Errorf("LNS saw %d tunnels and %d ICRQs, want 1 and %d", len(flns.tunnels), flns.icrqs, len(subs))
	}
	flns.mu.Unlock()

	// Proxy subscribers were authenticated by the LNS from the ICCN's
	// proxy AVPs without LCP renegotiation; transparent ones negotiated
	// LCP and CHAP with the LNS itself.
	for i, s := range subs {
		c := flns.call(s.mac.String())
		if c == nil {
			t.Fatalf("subscriber %d: no call at the LNS by Calling Number %s", i, s.mac)
		}
		flns.mu.Lock()
		proxied, confReqs, service := c.proxied, c.confReqs, c.service
		flns.mu.Unlock()
		user := fmt.Sprintf("user%d@example.com", i)
		switch {
		case i < perMode && (!proxied || confReqs != 0 || service != "proxy"):
			t.Errorf("proxy subscriber %d: proxied %v, LNS Configure-Requests %d, Called Number %q", i, proxied, confReqs, service)
		case i >= perMode && (proxied || confReqs == 0 || service != "internet"):
			t.Errorf("transparent subscriber %d: proxied %v, LNS Configure-Requests %d, Called Number %q", i, proxied, confReqs, service)
		}
		if flns.auth.get(user) != 1 {
			t.Errorf("subscriber %d authenticated %d times at the LNS, want 1", i, flns.auth.get(user))
		}
	}

	// IPv4 both ways over every session.
	for _, s := range subs {
		s.echo(t)
	}
	if lac.snd == nil || lac.snd.sent.Load() < uint64(len(subs)) {
		t.Error("upstream data did not go through the batch sender")
	}

	// Wireshark's dissectors find nothing malformed in the PPPoE, PPP and
	// L2TP traffic, and see the proxy AVPs and Calling Number.
	if stopCapture != nil {
		checkDecode(t, stopCapture(),
			"Incoming_Call_Connected", "Proxy Authen Name: user0@example.com", "Calling Number: "+subs[0].mac.String(),
			"PPPoE Session", "Active Discovery Session-confirmation")
	}

	// The API lists every session with its tunnel and counters; its
	// Disconnect sends CDN (administrative) and PADT.
	b := lac.API()
	list, err := b.Sessions(l.ctx, api.SessionFilter{State: "up"})
	if err != nil {
		t.Fatal(err)
	}
	byMAC := map[string]api.Session{}
	for _, a := range list {
		byMAC[a.MAC] = a
	}
	for i, s := range subs {
		a, ok := byMAC[s.mac.String()]
		switch {
		case !ok:
			t.Errorf("subscriber %d missing from the API", i)
		case a.TunnelID == 0 || a.SessionID == 0 || a.PeerSessionID == 0 || a.InPackets == 0 || a.OutPackets == 0:
			t.Errorf("subscriber %d in the API: %+v", i, a)
		case i < perMode && a.User != fmt.Sprintf("user%d@example.com", i):
			t.Errorf("proxy subscriber %d: API user %q", i, a.User)
		}
	}
	tl, err := b.Tunnels(l.ctx)
	if err != nil || len(tl) != 1 || tl[0].Sessions != len(subs) || tl[0].HostName != "lns" {
		t.Errorf("API tunnels %+v, %v", tl, err)
	}
	if err := b.Disconnect(l.ctx, byMAC[subs[1].mac.String()].ID, api.CauseAdminReset); err != nil {
		t.Fatal(err)
	}
	subs[1].waitPADT(t, "API disconnect")
	within(t, 5*time.Second, "the administrative CDN at the LNS", func() bool {
		rc, ok := flns.downOf(subs[1].mac.String())
		return ok && rc.Result == uint16(l2tp.CDNAdmin)
	})
	if err := b.Disconnect(l.ctx, "nonexistent", api.CauseAdminReset); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Disconnect of an unknown session: %v", err)
	}

	// PADT from a subscriber → CDN to the LNS.
	subs[0].cs.Close()
	within(t, 5*time.Second, "the CDN of subscriber 0 at the LNS", func() bool {
		_, ok := flns.downOf(subs[0].mac.String())
		return ok
	})
	// CDN from the LNS → PADT to the subscriber.
	flns.call(subs[perMode].mac.String()).ls.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin)})
	subs[perMode].waitPADT(t, "CDN from the LNS")
	within(t, 5*time.Second, "the LAC to forget three sessions", func() bool { return lac.ActiveSessions() == len(subs)-3 })

	// StopCCN from the LNS → PADT to every remaining subscriber.
	flns.mu.Lock()
	tun := flns.tunnels[0]
	flns.mu.Unlock()
	tun.Close(l2tp.ResultCode{Result: uint16(l2tp.StopCCNGeneralRequest)})
	for _, s := range subs {
		s.waitPADT(t, "StopCCN")
	}
	within(t, 5*time.Second, "the LAC to hold no session", func() bool { return lac.ActiveSessions() == 0 })
	st := lac.Stats()
	if st.PADTFromSub.Load() != 1 || st.CDNFromLNS.Load() != uint64(len(subs)-2) || st.CallsUp.Load() != uint64(len(subs)) {
		t.Errorf("stats: PADT from subscribers %d, CDN from LNS %d, calls up %d", st.PADTFromSub.Load(), st.CDNFromLNS.Load(), st.CallsUp.Load())
	}
	if n := len(lac.Pool().Tunnels()); n != 0 {
		t.Errorf("%d tunnels left in the pool after StopCCN", n)
	}
}

// radiusFunc is an in-process RADIUS for tunnel selection.
type radiusFunc func(ctx context.Context, req aaa.AuthRequest) (*aaa.AuthReply, error)

func (f radiusFunc) Authenticate(ctx context.Context, req aaa.AuthRequest) (*aaa.AuthReply, error) {
	return f(ctx, req)
}

// TestNetnsLACRefusals checks the clean refusals of the issue: a realm
// with no route, a RADIUS reject, a RADIUS accept without a usable tunnel,
// an LNS that refuses the call; and RADIUS tunnels that are used, on their
// own tunnel because of their Tunnel-Assignment-Id.
func TestNetnsLACRefusals(t *testing.T) {
	routes, err := NewRoutes([]Route{
		{Realms: []string{"example.com"}, LNS: []LNS{liveLNS}},
		{Services: []string{"internet", "refuse"}, LNS: []LNS{liveLNS}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var radiusReqs countMap
	rad := radiusFunc(func(_ context.Context, req aaa.AuthRequest) (*aaa.AuthReply, error) {
		radiusReqs.add(Realm(req.Username))
		if req.CallingStationID == "" || (req.PAPPassword == nil && len(req.CHAPResponse) != 16) {
			return nil, fmt.Errorf("incomplete Access-Request %+v", req)
		}
		switch Realm(req.Username) {
		case "reject.net":
			return &aaa.AuthReply{ReplyMessage: "account locked"}, nil
		case "pptp.net":
			return &aaa.AuthReply{Accept: true, Tunnels: []aaa.TunnelChoice{{Tag: 1, Type: 1, ServerEndpoint: "10.9.0.2"}}}, nil
		case "radius.net":
			return &aaa.AuthReply{Accept: true, Tunnels: []aaa.TunnelChoice{
				{Tag: 1, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "10.9.0.2", Password: labSecret,
					Preference: 1, HasPreference: true, AssignmentID: "wholesale-7"},
			}}, nil
		}
		return &aaa.AuthReply{Accept: true}, nil // no tunnel: the static routes decide
	})
	l := newLab(t, Config{Routes: routes, RADIUS: rad},
		AccessConfig{Mode: ModeTransparent, ServiceModes: map[string]Mode{"proxy": ModeProxy, "refuse-proxy": ModeProxy}})

	stopCapture := capture(t, l.lacNS, "a0", "n0")
	tests := []struct {
		name, service, realm string
		wantMsg              string // in the PAP Nak / CHAP Failure (proxy mode)
	}{
		{"realm with no route", "proxy", "nowhere.org", "no route"},
		{"RADIUS reject", "proxy", "reject.net", "account locked"},
		{"RADIUS without a usable tunnel", "proxy", "pptp.net", "no route"},
		{"LNS refuses the call (proxy)", "refuse-proxy", "example.com", "LNS refused the call"},
		{"LNS refuses the call (transparent)", "refuse", "example.com", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := l.dial(100+i, tc.service, tc.realm)
			if err != nil {
				t.Fatal(err)
			}
			s.waitPADT(t, tc.name)
			if tc.wantMsg != "" {
				select {
				case msg := <-s.authMsg:
					if !strings.Contains(msg, tc.wantMsg) {
						t.Errorf("refusal message %q, want %q", msg, tc.wantMsg)
					}
				default:
					t.Error("no PAP Nak or CHAP Failure before the PADT")
				}
			}
		})
	}
	if stopCapture != nil {
		checkDecode(t, stopCapture(), "Active Discovery Terminate", "Call_Disconnect_Notification")
	}
	if radiusReqs.get("reject.net") != 1 || radiusReqs.get("nowhere.org") != 1 {
		t.Errorf("RADIUS requests %v", radiusReqs.m)
	}
	within(t, 5*time.Second, "the LAC to hold no session", func() bool { return l.lac.ActiveSessions() == 0 })
	if got := l.lac.Stats().Refused.Load(); got != uint64(len(tests)) {
		t.Errorf("%d refusals counted, want %d", got, len(tests))
	}

	// RADIUS tunnels are used, on their own tunnel (Tunnel-Assignment-Id),
	// next to the static one for the same LNS.
	s1, err := l.dial(1, "proxy", "radius.net")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := l.dial(2, "internet", "example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*subscriber{s1, s2} {
		if err := s.waitUp(l.ctx); err != nil {
			t.Fatal(err)
		}
		s.echo(t)
	}
	l.lns.mu.Lock()
	tunnels := len(l.lns.tunnels)
	l.lns.mu.Unlock()
	if tunnels != 2 {
		t.Errorf("LNS saw %d tunnels, want 2 (one per assignment)", tunnels)
	}
}

// TestNetnsLACShutdown: proxy mode with hidden AVPs; Shutdown sends CDN
// to the LNS and PADT to the subscriber for every session, then StopCCN.
func TestNetnsLACShutdown(t *testing.T) {
	hidden := liveLNS
	hidden.HideAVPs = true // the proxy AVPs travel hidden (RFC 2661 section 4.3)
	routes, _ := NewRoutes([]Route{{Default: true, LNS: []LNS{hidden}}})
	l := newLab(t, Config{Routes: routes}, AccessConfig{Mode: ModeProxy})
	stopCapture := capture(t, l.lacNS, "n0")
	var subs []*subscriber
	for i := range 5 {
		s, err := l.dial(i, "", "example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.waitUp(l.ctx); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	for _, s := range subs {
		c := l.lns.call(s.mac.String())
		l.lns.mu.Lock()
		proxied := c != nil && c.proxied
		l.lns.mu.Unlock()
		if !proxied {
			t.Errorf("subscriber %d: the LNS did not get usable hidden proxy AVPs", s.i)
		}
	}
	if stopCapture != nil {
		text := stopCapture()
		checkDecode(t, text, "Hidden: True", "Random Vector")
		if strings.Contains(text, "Proxy Authen Name: user") {
			t.Error("a proxy user name went in clear although the LNS asks for hidden AVPs")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.lac.Shutdown(ctx)
	for _, s := range subs {
		s.waitPADT(t, "Shutdown")
		within(t, 5*time.Second, "the CDN at the LNS", func() bool {
			rc, ok := l.lns.downOf(s.mac.String())
			return ok && rc.Result == uint16(l2tp.CDNAdmin)
		})
	}
	within(t, 5*time.Second, "StopCCN (shutting down) at the LNS", func() bool {
		l.lns.mu.Lock()
		defer l.lns.mu.Unlock()
		return len(l.lns.stopRC) == 1 && l.lns.stopRC[0].Result == uint16(l2tp.StopCCNShuttingDown)
	})
}

// TestNetnsLACLostTunnel: an LNS that vanishes (its link goes down) loses
// the tunnel to HELLO retransmission; every subscriber on it gets a PADT.
func TestNetnsLACLostTunnel(t *testing.T) {
	routes, _ := NewRoutes([]Route{{Default: true, LNS: []LNS{liveLNS}}})
	l := newLabWithoutLAC(t)
	l.sendData = true // this lab's upstream goes through l2tp's SendData
	// The tunnel gives up fast so that its loss is seen at once; a short
	// hold-down keeps a set-up that gives up as fast (a loaded machine,
	// -race) from holding the only LNS down for the default minute.
	l.startLAC(Config{Routes: routes, HoldDown: 500 * time.Millisecond, Tunnel: l2tp.TunnelOptions{
		HelloInterval: 300 * time.Millisecond, RetransmitInitial: 200 * time.Millisecond, MaxRetries: 2}},
		AccessConfig{Mode: ModeTransparent})
	var subs []*subscriber
	for i := range 3 {
		s, err := l.dial(i, "internet", "example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.waitUp(l.ctx); err != nil {
			t.Fatal(err)
		}
		s.echo(t)
		subs = append(subs, s)
	}
	if l.lac.snd != nil {
		t.Error("the batch sender is on without DataConn")
	}
	l.lnsNS.MustRun(t, "ip", "link", "set", "n1", "down")
	for _, s := range subs {
		select {
		case <-s.cs.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("lost tunnel: subscriber %d got no PADT", s.i)
		}
	}
	within(t, 5*time.Second, "the LAC to hold no session and no tunnel", func() bool {
		return l.lac.ActiveSessions() == 0 && len(l.lac.Pool().Tunnels()) == 0
	})
}

// TestNetnsLACVanishingSubscriber: in proxy mode a subscriber that
// vanishes without PADT while its call is being placed is found by the
// LAC's LCP echo and cleared with a PADT; the late tunnel result is
// released.
func TestNetnsLACVanishingSubscriber(t *testing.T) {
	routes, _ := NewRoutes([]Route{{Realms: []string{"slow.net"}, LNS: []LNS{deadLNS}}})
	l := newLab(t, Config{Routes: routes, DialTimeout: 3 * time.Second, Echo: ppp.EchoConfig{Interval: 200 * time.Millisecond, MaxFailures: 3}},
		AccessConfig{Mode: ModeProxy})
	s, err := l.dialVanishing(1, "", "slow.net", true)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.cs.Done():
	case <-time.After(2500 * time.Millisecond):
		t.Fatal("the vanished subscriber was not cleared by LCP echo before the dial gave up")
	}
	if !s.deaf.Load() {
		t.Error("the subscriber never got a CHAP Challenge")
	}
	if got := l.lac.Stats().ProxyNegotiation.Load(); got != 1 {
		t.Errorf("%d proxy negotiations ended, want 1", got)
	}
	within(t, 5*time.Second, "the LAC to hold no session", func() bool { return l.lac.ActiveSessions() == 0 })
}

// TestNetnsDaemon runs RunDaemon from a configuration file like `bras
// lac` does: a subscriber comes up through it, /metrics answers, and
// cancelling the context ends the session with PADT and CDN.
func TestNetnsDaemon(t *testing.T) {
	l := newLabWithoutLAC(t)
	conf := `
[lac]
host-name = lac-daemon
listen = 10.9.0.1:1701
dial-timeout = 2s
metrics-listen = 10.9.0.1:9102
shutdown-timeout = 3s

[api]
listen = 10.9.0.1:8081
allow-remote = true
token = lab-token

[access "a0"]
mode = proxy
ac-name = bras-lac

[lns "lab"]
address = 10.9.0.2:1701
secret = tunnel-secret
realms = example.com
`
	path := filepath.Join(t.TempDir(), "lac.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(l.ctx)
	done := make(chan error, 1)
	go func() { done <- l.lacNS.Do(func() error { return RunDaemon(ctx, cfg, DaemonOptions{}) }) }()

	var s *subscriber
	within(t, 5*time.Second, "the daemon to answer PPPoE", func() bool {
		select {
		case err := <-done:
			t.Fatalf("RunDaemon: %v", err)
		default:
		}
		s, err = l.dial(3, "", "example.com")
		return err == nil
	})
	if err := s.waitUp(l.ctx); err != nil {
		t.Fatal(err)
	}
	s.echo(t)

	get := func(addr, path string) []byte {
		var body []byte
		if err := l.lacNS.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.WriteString(c, "GET "+path+" HTTP/1.0\r\nAuthorization: Bearer lab-token\r\n\r\n"); err != nil {
				return err
			}
			body, err = io.ReadAll(c)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return body
	}
	body := get("10.9.0.1:9102", "/metrics")
	for _, want := range []string{metrics.LACSessions + " 1", metrics.LACCalls + `{result="up"} 1`, metrics.L2TPTunnels + `{version="2"} 1`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if body := get("10.9.0.1:8081", "/api/v1/sessions"); !bytes.Contains(body, []byte(s.mac.String())) || !bytes.Contains(body, []byte("user3@example.com")) {
		t.Errorf("/api/v1/sessions does not list the subscriber:\n%s", body)
	}

	cancel()
	s.waitPADT(t, "daemon shutdown")
	within(t, 5*time.Second, "the CDN at the LNS", func() bool {
		rc, ok := l.lns.downOf(s.mac.String())
		return ok && rc.Result == uint16(l2tp.CDNAdmin)
	})
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunDaemon: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunDaemon did not return after its context was cancelled")
	}
}

// BenchmarkNetnsSessionSetup measures PADI to IPCP up through the LAC and
// the in-process LNS, 50 subscribers dialling at once, in both modes.
func BenchmarkNetnsSessionSetup(b *testing.B) {
	for _, mode := range []Mode{ModeTransparent, ModeProxy} {
		b.Run(mode.String(), func(b *testing.B) {
			routes, _ := NewRoutes([]Route{{Default: true, LNS: []LNS{liveLNS}}})
			l := newLab(b, Config{Routes: routes}, AccessConfig{Mode: mode})
			if b.N > 60000 {
				b.Skip("more sessions than MACs")
			}
			b.ResetTimer()
			start := time.Now()
			g, gctx := errgroup.WithContext(l.ctx)
			g.SetLimit(50)
			for i := range b.N {
				g.Go(func() error {
					s, err := l.dial(i, "", "example.com")
					if err != nil {
						return err
					}
					return s.waitUp(gctx)
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sessions/s")
		})
	}
}

// capture records the traffic of ifaces in ns with dumpcap; the returned
// function stops it and returns tshark's full decode. nil when Wireshark's
// tools are not installed (outside CI).
func capture(t testing.TB, ns *testenv.Netns, ifaces ...string) func() string {
	t.Helper()
	dumpcap, err1 := exec.LookPath("dumpcap")
	tshark, err2 := exec.LookPath("tshark")
	if err1 != nil || err2 != nil {
		if testenv.InCI() {
			t.Fatal("dumpcap and tshark are required under CI=true (deploy/test.sh installs them)")
		}
		t.Log("dumpcap/tshark not installed: traffic not checked against Wireshark's dissectors")
		return nil
	}
	file := filepath.Join(t.TempDir(), "lac.pcapng")
	args := []string{"-q", "-w", file}
	for _, i := range ifaces {
		args = append(args, "-i", i)
	}
	cmd := ns.Command(dumpcap, args...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var seen []byte
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 4096)
		closed := false
		for {
			n, err := stderr.Read(buf)
			seen = append(seen, buf[:n]...)
			if !closed && bytes.Contains(seen, []byte("Capturing on")) {
				close(ready)
				closed = true
			}
			if err != nil {
				if !closed {
					close(ready)
				}
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Log("dumpcap did not report it was capturing")
	}
	// dumpcap reports before every interface is open.
	time.Sleep(time.Second)
	return func() string {
		// dumpcap hands frames over by ring blocks that a timeout retires:
		// give the last block time before the interrupt.
		time.Sleep(time.Second)
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		<-readerDone
		if bytes.Contains(seen, []byte("dropped")) && !bytes.Contains(seen, []byte("/0 (")) {
			t.Logf("dumpcap dropped frames: %s", seen)
		}
		out, err := exec.Command(tshark, "-n", "-r", file, "-V").CombinedOutput()
		if err != nil {
			t.Fatalf("tshark: %v\n%.2000s", err, out)
		}
		return string(out)
	}
}

// checkDecode requires that Wireshark's dissectors find nothing malformed
// in the capture, and every want in it.
func checkDecode(t testing.TB, text string, want ...string) {
	t.Helper()
	for _, bad := range []string{"Malformed", "Expert Info (Error"} {
		if i := strings.Index(text, bad); i >= 0 {
			start := max(0, strings.LastIndex(text[:i], "\nFrame "))
			t.Errorf("tshark reports %q:\n%.3000s", bad, text[start:])
		}
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("tshark never shows %q", w)
		}
	}
}

// TestNetnsLACVLANRoutes: subscribers on 802.1Q VLANs of the access
// interface are routed by "interface.vlan"; a VLAN without a route is
// refused.
func TestNetnsLACVLANRoutes(t *testing.T) {
	routes, _ := NewRoutes([]Route{{Interfaces: []string{"a0.100"}, LNS: []LNS{liveLNS}}})
	l := newLabWithoutLAC(t)
	l.pppoeCfg = pppoe.ServerConfig{UserVLANs: true, VLANs: []uint16{100, 200}}
	l.startLAC(Config{Routes: routes}, AccessConfig{Mode: ModeTransparent})
	s, err := l.dialWith(1, "", "", false, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.waitUp(l.ctx); err != nil {
		t.Fatal(err)
	}
	s.echo(t)
	s2, err := l.dialWith(2, "", "", false, 200)
	if err != nil {
		t.Fatal(err)
	}
	s2.waitPADT(t, "a VLAN without a route")
	if l.lac.Stats().Refused.Load() != 1 {
		t.Errorf("%d refusals, want 1", l.lac.Stats().Refused.Load())
	}
}

// TestNetnsLACRADIUSClient: tunnel selection through the real RADIUS
// client (aaa.Client) against an in-process RADIUS server: the tagged
// Tunnel-* attributes of the Access-Accept (Tunnel-Password encrypted,
// RFC 2868 section 3.5) bring the subscriber to the LNS; a wrong CHAP
// response is rejected with the Reply-Message.
func TestNetnsLACRADIUSClient(t *testing.T) {
	radiusSecret := []byte("radius-secret")
	srv := aaatest.New(t, radiusSecret, aaatest.Users(map[string]aaatest.User{
		"user5@radius.net": {Password: "pw5", Reply: aaa.AuthReply{Tunnels: []aaa.TunnelChoice{
			{Tag: 1, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "10.9.0.3", Password: labSecret,
				Preference: 1, HasPreference: true},
			{Tag: 2, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "10.9.0.2", Password: labSecret,
				Preference: 2, HasPreference: true, AssignmentID: "wholesale-7"},
		}}},
		"user6@radius.net": {Password: "not-pw6"},
	}))
	cli, err := aaa.NewClient(aaa.ClientConfig{Servers: []aaa.Server{{Addr: srv.Addr, Secret: radiusSecret}},
		Timeout: time.Second, NASIdentifier: "lac"})
	if err != nil {
		t.Fatal(err)
	}
	l := newLab(t, Config{RADIUS: cli, DialTimeout: time.Second}, AccessConfig{Mode: ModeProxy})
	s, err := l.dial(5, "", "radius.net")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.waitUp(l.ctx); err != nil {
		t.Fatal(err)
	}
	s.echo(t)
	if !l.lac.sel.Down(LNS{Addr: netip.MustParseAddrPort("10.9.0.3:1701")}) {
		t.Error("the RADIUS tunnel that did not answer is not held down")
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || string(reqs[0].Get(1)) != "user5@radius.net" || reqs[0].Get(3) == nil {
		t.Errorf("RADIUS saw %d requests; want one CHAP Access-Request for user5", len(reqs))
	}

	s6, err := l.dial(6, "", "radius.net")
	if err != nil {
		t.Fatal(err)
	}
	s6.waitPADT(t, "RADIUS reject")
	select {
	case msg := <-s6.authMsg:
		if msg != "authentication rejected" {
			t.Errorf("refusal message %q", msg)
		}
	default:
		t.Error("no CHAP Failure before the PADT")
	}
}

// BenchmarkNetnsForward sends IPv4 frames from a subscriber through the
// LAC to the LNS, which echoes them back through the LAC: the figure is
// the frames delivered back per second (both directions cross the LAC).
func BenchmarkNetnsForward(b *testing.B) {
	for _, tc := range []struct {
		name     string
		size     int
		sendData bool
	}{{"64/batch", 64, false}, {"64/senddata", 64, true}, {"1400/batch", 1400, false}, {"1400/senddata", 1400, true}} {
		size := tc.size
		b.Run(tc.name, func(b *testing.B) {
			routes, _ := NewRoutes([]Route{{Default: true, LNS: []LNS{liveLNS}}})
			l := newLabWithoutLAC(b)
			l.sendData = tc.sendData
			l.startLAC(Config{Routes: routes}, AccessConfig{Mode: ModeTransparent})
			s, err := l.dial(1, "", "example.com")
			if err != nil {
				b.Fatal(err)
			}
			if err := s.waitUp(l.ctx); err != nil {
				b.Fatal(err)
			}
			var got atomic.Int64
			s.cs.SetReceive(func(p []byte) {
				if len(p) > 2 && p[0] == 0x00 && p[1] == 0x21 {
					got.Add(1)
				}
			})
			f := ipv4Frame(netip.AddrFrom4([4]byte{100, 64, 0, 1}), 1)
			f = append(f, make([]byte, max(0, size-len(f)))...)
			b.ReportAllocs()
			b.SetBytes(int64(len(f)))
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if err := s.cs.Send(f); err != nil {
					b.Fatal(err)
				}
				// Keep at most 256 frames in flight: measure forwarding, not
				// socket buffer overflow.
				for int64(i)-got.Load() > 256 && time.Since(start) < 30*time.Second {
					runtime.Gosched()
				}
			}
			deadline := time.Now().Add(2 * time.Second)
			for got.Load() < int64(b.N) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			el := time.Since(start)
			b.ReportMetric(float64(got.Load())/el.Seconds(), "echoes/s")
			b.ReportMetric(100*float64(int64(b.N)-got.Load())/float64(b.N), "%lost")
		})
	}
}

// BenchmarkNetnsUpstream floods IPv4 frames from a subscriber through the
// LAC to the LNS (no echo): frames delivered to the LNS per second, with
// the batch sender and with one SendData per frame.
func BenchmarkNetnsUpstream(b *testing.B) {
	for _, tc := range []struct {
		name     string
		sendData bool
	}{{"batch", false}, {"senddata", true}} {
		b.Run(tc.name, func(b *testing.B) {
			routes, _ := NewRoutes([]Route{{Default: true, LNS: []LNS{liveLNS}}})
			l := newLabWithoutLAC(b)
			l.sendData = tc.sendData
			l.startLAC(Config{Routes: routes}, AccessConfig{Mode: ModeTransparent})
			s, err := l.dial(1, "", "example.com")
			if err != nil {
				b.Fatal(err)
			}
			if err := s.waitUp(l.ctx); err != nil {
				b.Fatal(err)
			}
			l.lns.noEcho.Store(true)
			base := l.lns.ipv4In.Load()
			f := ipv4Frame(netip.AddrFrom4([4]byte{100, 64, 0, 1}), 1)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if err := s.cs.Send(f); err != nil {
					b.Fatal(err)
				}
				for int64(i)-(l.lns.ipv4In.Load()-base) > 512 && time.Since(start) < 30*time.Second {
					runtime.Gosched()
				}
			}
			deadline := time.Now().Add(2 * time.Second)
			for l.lns.ipv4In.Load()-base < int64(b.N) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			got := l.lns.ipv4In.Load() - base
			b.ReportMetric(float64(got)/time.Since(start).Seconds(), "frames/s")
			b.ReportMetric(100*float64(int64(b.N)-got)/float64(b.N), "%lost")
		})
	}
}
