package dial

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/leakcheck"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

var (
	lnsLocal   = netip.MustParseAddr("100.64.0.1")
	clientAddr = netip.MustParseAddr("100.64.9.9")
	testRoutes = []netip.Prefix{netip.MustParsePrefix("10.20.0.0/24"), netip.MustParsePrefix("198.51.100.0/24")}
)

// fakeLNS is an LNS for the client's unit tests: the l2tp package accepts
// the tunnel and the call, the ppp package terminates PPP as the server
// with an in-memory user table, all PPP driven by one goroutine. What it
// sees is reported on events as short strings.
type fakeLNS struct {
	t      *testing.T
	ep     *l2tp.Endpoint
	addr   netip.AddrPort
	auth   []ppp.AuthProto
	users  map[string]string
	work   chan func()
	events chan string

	mu    sync.Mutex
	calls map[*l2tp.Session]*lnsCall
	// deaf drops every data message from the client: an LNS whose data
	// path died with its control connection still answering.
	deaf atomic.Bool
	// proxied counts ICCNs that carried proxy LCP or authentication AVPs.
	proxied atomic.Int32
}

type lnsCall struct {
	l  *fakeLNS
	t  *l2tp.Tunnel
	s  *l2tp.Session
	ps *ppp.Session
	// Owned by the LNS's PPP goroutine: PPP is open; the frames that
	// came before (the ICCN and the first LCP frame may cross).
	open  bool
	early [][]byte
}

func (c *lnsCall) Send(frame []byte) error {
	return c.t.SendData(c.s, append([]byte{0xff, 0x03}, frame...))
}

func (c *lnsCall) Up(_ *ppp.Session, n ppp.NetworkInfo) { c.l.events <- "up " + n.Peer.String() }
func (c *lnsCall) Down(_ *ppp.Session, r ppp.Reason) {
	c.l.events <- "ppp-down " + r.String()
	c.s.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin)})
}

func (c *lnsCall) Authenticate(s *ppp.Session, req ppp.AuthRequest) {
	secret, known := c.l.users[req.Username]
	ok := false
	switch req.Proto {
	case ppp.AuthPAP:
		ok = known && subtle.ConstantTimeCompare([]byte(secret), req.Password) == 1
	case ppp.AuthCHAPMD5:
		want := ppp.ChapMD5(req.ChapID, []byte(secret), req.Challenge)
		ok = known && subtle.ConstantTimeCompare(want[:], req.Response) == 1
	}
	c.l.events <- fmt.Sprintf("auth %s %s %v", req.Proto, req.Username, ok)
	res := ppp.AuthResult{OK: ok, Message: "denied"}
	if ok {
		res = ppp.AuthResult{OK: true, IP: clientAddr, DNS1: netip.MustParseAddr("192.0.2.53")}
	}
	// The verdict comes later, as from RADIUS.
	go func() { c.l.work <- func() { s.AuthResult(res, time.Now()) } }()
}

type lnsEvents struct {
	l2tp.NopHandler
	l *fakeLNS
}

// IncomingCall registers the call at its ICRQ: frames may arrive before
// the ICCN is handled.
func (h lnsEvents) IncomingCall(t *l2tp.Tunnel, s *l2tp.Session, _ *l2tp.Message) error {
	l := h.l
	c := &lnsCall{l: l, t: t, s: s}
	c.ps = ppp.NewSession(c, ppp.Config{Role: ppp.Server, MRU: 1400, Auth: l.auth, Authenticator: c, LocalIP: lnsLocal,
		RejectACCMPFCACFC: true, Restart: 200 * time.Millisecond, Handler: c})
	l.mu.Lock()
	l.calls[s] = c
	l.mu.Unlock()
	return nil
}

func (h lnsEvents) SessionUp(s *l2tp.Session, iccn *l2tp.Message) {
	l := h.l
	for _, t := range []l2tp.AVPType{l2tp.AVPProxyAuthenType, l2tp.AVPInitialRecvLCPConfReq, l2tp.AVPLastSentLCPConfReq} {
		if _, ok := iccn.Find(t); ok {
			l.proxied.Add(1)
		}
	}
	l.mu.Lock()
	c := l.calls[s]
	l.mu.Unlock()
	l.work <- func() {
		now := time.Now()
		c.open = true
		c.ps.Open(now)
		for _, f := range c.early {
			c.ps.Input(f, now)
		}
		c.early = nil
	}
	l.events <- "call-up"
}

func (h lnsEvents) SessionDown(s *l2tp.Session, rc l2tp.ResultCode) {
	l := h.l
	l.mu.Lock()
	c := l.calls[s]
	delete(l.calls, s)
	l.mu.Unlock()
	if c != nil {
		l.work <- func() { c.ps.LowerDown(time.Now()) }
	}
	l.events <- "cdn " + rc.Describe(l2tp.MsgCDN)
}

func (h lnsEvents) TunnelDown(_ *l2tp.Tunnel, rc l2tp.ResultCode, err error) {
	h.l.events <- "stopccn " + rc.Describe(l2tp.MsgStopCCN)
}

func (l *fakeLNS) data(_ *l2tp.Tunnel, s *l2tp.Session, _ l2tp.Header, payload []byte) {
	if l.deaf.Load() {
		return
	}
	f := append([]byte(nil), ppp.StripAddressControl(payload)...)
	if len(f) >= 2 && f[0] == 0x00 && f[1] == 0x21 {
		l.events <- "ip " + string(f[2:])
		return
	}
	l.mu.Lock()
	c := l.calls[s]
	l.mu.Unlock()
	if c != nil {
		l.work <- func() {
			if !c.open {
				c.early = append(c.early, f)
				return
			}
			c.ps.Input(f, time.Now())
		}
	}
}

// startLNS runs a fake LNS on the loopback that knows the client
// "roadwarrior" with secret.
func startLNS(t *testing.T, secret string, auth []ppp.AuthProto) *fakeLNS {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := &fakeLNS{t: t, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), auth: auth, users: map[string]string{"alice": "pw-a"},
		work: make(chan func(), 256), events: make(chan string, 1024), calls: map[*l2tp.Session]*lnsCall{}}
	l.ep, err = l2tp.NewEndpoint(conn, l2tp.Config{HostName: "fake-lns", Handler: lnsEvents{l: l}, Data: l.data, NoGRO: true,
		ShutdownTimeout: time.Second,
		Accept: func(_ netip.AddrPort, host string) (l2tp.TunnelOptions, error) {
			if host != "roadwarrior" {
				return l2tp.TunnelOptions{}, fmt.Errorf("unknown LAC %q", host)
			}
			return l2tp.TunnelOptions{Secret: []byte(secret)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.ep.Run(ctx) }()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case f := <-l.work:
				f()
			case now := <-tick.C:
				l.mu.Lock()
				for _, c := range l.calls {
					if c.open {
						c.ps.Tick(now)
					}
				}
				l.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait(); conn.Close() })
	return l
}

// expect waits for the event that starts with prefix, passing over others.
func (l *fakeLNS) expect(t *testing.T, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	var seen []string
	for {
		select {
		case e := <-l.events:
			if strings.HasPrefix(e, prefix) {
				return e
			}
			seen = append(seen, e)
		case <-deadline:
			t.Fatalf("LNS: no %q within %v; saw %q", prefix, within, seen)
		}
	}
}

// sendIP sends an IPv4 packet to the client on every call up.
func (l *fakeLNS) sendIP(pkt []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls {
		c.Send(append([]byte{0x00, 0x21}, pkt...))
	}
}

func (l *fakeLNS) disconnectAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.calls {
		s.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin), HasError: true, Message: "operator"})
	}
}

// fakeDevice is a Device in memory: what the client configures is
// reported on conf, packets on in are what the kernel routes into the
// device, packets the client writes arrive on out.
type fakeDevice struct {
	conf   chan string
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFakeDevice() *fakeDevice {
	return &fakeDevice{conf: make(chan string, 64), in: make(chan []byte, 64), out: make(chan []byte, 64), closed: make(chan struct{})}
}

func (d *fakeDevice) Configure(n ppp.NetworkInfo, mtu int, routes []netip.Prefix) error {
	d.conf <- fmt.Sprintf("up %v peer %v mtu %d routes %v", n.Local, n.Peer, mtu, routes)
	return nil
}

func (d *fakeDevice) Deconfigure() error { d.conf <- "down"; return nil }

func (d *fakeDevice) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case p := <-d.in:
		sizes[0] = copy(bufs[0][offset:], p)
		return 1, nil
	case <-d.closed:
		return 0, ErrDeviceClosed
	}
}

func (d *fakeDevice) WriteBatch(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		d.out <- append([]byte(nil), b[offset:]...)
	}
	return len(bufs), nil
}

func (d *fakeDevice) Close() error { d.once.Do(func() { close(d.closed) }); return nil }

func (d *fakeDevice) expect(t *testing.T, want string, within time.Duration) {
	t.Helper()
	select {
	case got := <-d.conf:
		if got != want {
			t.Fatalf("device: got %q, want %q", got, want)
		}
	case <-time.After(within):
		t.Fatalf("device: no %q within %v", want, within)
	}
}

func (d *fakeDevice) quiet(t *testing.T, d0 time.Duration) {
	t.Helper()
	select {
	case got := <-d.conf:
		t.Fatalf("device: %q, want nothing", got)
	case <-time.After(d0):
	}
}

// startClient runs a Client against l with cfg's gaps filled in.
func startClient(t *testing.T, l *fakeLNS, dev *fakeDevice, cfg Config) (*Client, func() error) {
	t.Helper()
	cfg.LNS = l.addr
	cfg.Local = netip.MustParseAddrPort("127.0.0.1:0")
	if cfg.HostName == "" {
		cfg.HostName = "roadwarrior"
	}
	if cfg.User == "" {
		cfg.User, cfg.Password = "alice", "pw-a"
	}
	cfg.Routes = testRoutes
	cfg.Device = dev
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.ReconnectMin, cfg.ReconnectMax = 50*time.Millisecond, 400*time.Millisecond
	cfg.Rand = func() float64 { return 0 }
	if cfg.Echo.Interval == 0 {
		cfg.Echo = ppp.EchoConfig{Interval: time.Second, MaxFailures: 3}
	}
	cfg.DialTimeout = 3 * time.Second
	if cfg.SetupTimeout == 0 {
		cfg.SetupTimeout = 5 * time.Second
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10 s of the cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return c, stop
}

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) { w.t.Log(strings.TrimSpace(string(p))); return len(p), nil }

// TestClientSession is the client's life against an LNS: the tunnel
// (with tunnel authentication) and a call without proxy AVPs, CHAP as the
// LNS asks, the device configured with the IPCP address, the LNS's as
// peer and the routes; packets both ways; a CDN from the LNS removes the
// routes and the client dials again; the hang-up is an LCP
// Terminate-Request, then a CDN, then a StopCCN.
func TestClientSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lns    []ppp.AuthProto
		client string
	}{
		{"chap", []ppp.AuthProto{ppp.AuthCHAPMD5}, "any"},
		{"pap", []ppp.AuthProto{ppp.AuthPAP}, "pap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			l := startLNS(t, "sekrit", tc.lns)
			dev := newFakeDevice()
			auth, _ := ParseAuth(tc.client)
			c, stop := startClient(t, l, dev, Config{Secret: []byte("sekrit"), Auth: auth})
			want := fmt.Sprintf("up %v peer %v mtu %d routes %v", clientAddr, lnsLocal, DefaultMTU, testRoutes)
			dev.expect(t, want, 5*time.Second)
			if got := l.expect(t, "auth", time.Second); got != "auth "+tc.lns[0].String()+" alice true" {
				t.Errorf("LNS authentication: %q", got)
			}
			if n := l.proxied.Load(); n != 0 {
				t.Errorf("%d proxy AVPs in the ICCN, want none (the LNS negotiates LCP itself)", n)
			}
			if s := c.State(); s != StateUp {
				t.Errorf("state %v, want up", s)
			}

			// Device → LNS and LNS → device.
			up := []byte("\x45 a packet from the host")
			dev.in <- up
			if got := l.expect(t, "ip ", 2*time.Second); got != "ip "+string(up) {
				t.Errorf("LNS got %q, want %q", got, up)
			}
			down := []byte("\x45 a packet for the host")
			l.sendIP(down)
			select {
			case got := <-dev.out:
				if !bytes.Equal(got, down) {
					t.Errorf("device got %q, want %q", got, down)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("no packet written to the device")
			}

			// The LNS clears the call: the routes go, the client dials again.
			l.disconnectAll()
			dev.expect(t, "down", 2*time.Second)
			dev.expect(t, want, 5*time.Second)
			if n := c.Stats().Attempts.Load(); n != 2 {
				t.Errorf("%d attempts, want 2", n)
			}
			if n := c.Stats().Ups.Load(); n != 2 {
				t.Errorf("%d sessions up, want 2", n)
			}

			// The LNS's own IPCP of the second session may come up just
			// after the client's: wait for it (after the second call's
			// ICCN, past the first session's events) before the hang-up.
			l.expect(t, "call-up", 5*time.Second)
			l.expect(t, "up ", 5*time.Second)

			// Hang up: LCP Terminate-Request (the LNS's PPP ends as
			// peer-terminate), the CDN, the StopCCN.
			for len(l.events) > 0 {
				<-l.events
			}
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			var got []string
			for deadline := time.After(5 * time.Second); len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "stopccn"); {
				select {
				case e := <-l.events:
					got = append(got, e)
				case <-deadline:
					t.Fatalf("no StopCCN within 5 s; the LNS saw %q", got)
				}
			}
			// The LNS's PPP ends as the peer asked (RFC 1661 section
			// 5.5), whether its restart timer or the CDN finishes it.
			var pppEnd string
			var rest []string
			for _, e := range got {
				if strings.HasPrefix(e, "ppp-down") {
					pppEnd = e
				} else {
					rest = append(rest, e)
				}
			}
			if pppEnd == "" {
				pppEnd = l.expect(t, "ppp-down", time.Second)
			}
			if pppEnd != "ppp-down peer-terminate" {
				t.Errorf("the LNS's PPP ended with %q, want peer-terminate", pppEnd)
			}
			if diff := cmp.Diff([]string{"cdn Admin", "stopccn ShuttingDown"}, shorten(rest)); diff != "" {
				t.Errorf("hang-up as the LNS saw it (-want +got)\n%s", diff)
			}
			dev.expect(t, "down", time.Second)
			if s := c.State(); s != StateIdle {
				t.Errorf("state after Run %v, want idle", s)
			}
		})
	}
}

// shorten keeps the first two words of each event: the result name, not
// its number or message.
func shorten(ev []string) []string {
	var out []string
	for _, e := range ev {
		f := strings.Fields(e)
		if len(f) > 2 {
			f = f[:2]
		}
		out = append(out, strings.Join(f, " "))
	}
	return out
}

// TestClientEchoFailure: an LNS that stops answering LCP Echo-Requests
// (its data path died) is given up after echo-failures intervals: the
// routes go and the client dials a fresh tunnel.
func TestClientEchoFailure(t *testing.T) {
	leakcheck.Check(t)
	l := startLNS(t, "sekrit", []ppp.AuthProto{ppp.AuthCHAPMD5})
	dev := newFakeDevice()
	c, _ := startClient(t, l, dev, Config{Secret: []byte("sekrit"), Echo: ppp.EchoConfig{Interval: 100 * time.Millisecond, MaxFailures: 3}})
	want := fmt.Sprintf("up %v peer %v mtu %d routes %v", clientAddr, lnsLocal, DefaultMTU, testRoutes)
	dev.expect(t, want, 5*time.Second)
	l.deaf.Store(true)
	start := time.Now()
	dev.expect(t, "down", 2*time.Second)
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("given up after %v, before three Echo-Requests of 100 ms went unanswered", d)
	}
	// The client hung up the call (lost carrier) and the tunnel.
	if got := l.expect(t, "cdn", 2*time.Second); !strings.HasPrefix(got, "cdn LostCarrier") {
		t.Errorf("LNS: %q, want the client's CDN with result 1", got)
	}
	l.expect(t, "stopccn", 3*time.Second)
	l.deaf.Store(false)
	dev.expect(t, want, 5*time.Second)
	if n := c.Stats().Attempts.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

// TestClientRefused: a wrong tunnel secret or a wrong password never
// brings the device up, and the client keeps trying, waiting longer each
// time.
func TestClientRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"tunnel secret", Config{Secret: []byte("wrong")}},
		{"password", Config{Secret: []byte("sekrit"), User: "alice", Password: "wrong"}},
		{"host name", Config{Secret: []byte("sekrit"), HostName: "stranger"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			l := startLNS(t, "sekrit", []ppp.AuthProto{ppp.AuthPAP})
			dev := newFakeDevice()
			c, stop := startClient(t, l, dev, tc.cfg)
			// 50, 100, 200 ms of back-off, plus the attempts.
			deadline := time.Now().Add(5 * time.Second)
			for c.Stats().Attempts.Load() < 3 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := c.Stats().Attempts.Load(); n < 3 {
				t.Fatalf("%d attempts in 5 s, want at least 3", n)
			}
			stop()
			dev.quiet(t, 0)
			if n := c.Stats().Ups.Load(); n != 0 {
				t.Errorf("%d sessions up, want none", n)
			}
		})
	}
}

// TestClientSetupTimeout: an LNS that accepts the call but never
// negotiates PPP is given up after setup-timeout, with a CDN.
func TestClientSetupTimeout(t *testing.T) {
	leakcheck.Check(t)
	l := startLNS(t, "sekrit", []ppp.AuthProto{ppp.AuthPAP})
	l.deaf.Store(true)
	dev := newFakeDevice()
	start := time.Now()
	startClient(t, l, dev, Config{Secret: []byte("sekrit"), SetupTimeout: 300 * time.Millisecond})
	if got := l.expect(t, "cdn", 8*time.Second); !strings.HasPrefix(got, "cdn Admin") {
		t.Errorf("LNS: %q, want the client's CDN", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("CDN after %v, want about the set-up timeout of 300 ms", d)
	}
	dev.quiet(t, 0)
}
