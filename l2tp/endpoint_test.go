package l2tp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp/l2tptest"
)

var (
	lacAddr = netip.MustParseAddrPort("192.0.2.1:1701")
	lnsAddr = netip.MustParseAddrPort("192.0.2.2:1701")
)

// checkGoroutines fails t when, at cleanup, more goroutines run than
// before the test (polling a while: exiting goroutines need a moment).
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// recorder is a Handler that counts and remembers events.
type recorder struct {
	name string
	mu   sync.Mutex

	tunnelsUp, tunnelsDown   atomic.Int32
	sessionsUp, sessionsDown atomic.Int32
	downRC                   map[*Tunnel]ResultCode
	downErr                  map[*Tunnel]error
	sessRC                   map[*Session]ResultCode
	iccn                     map[*Session]*Message
	refuse                   func(icrq *Message) error
	onUp                     func(s *Session)
	slis                     atomic.Int32
	wens                     atomic.Int32
	changed                  chan struct{}
}

func newRecorder(name string) *recorder {
	return &recorder{
		name: name, downRC: map[*Tunnel]ResultCode{}, downErr: map[*Tunnel]error{},
		sessRC: map[*Session]ResultCode{}, iccn: map[*Session]*Message{},
		changed: make(chan struct{}, 1),
	}
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) TunnelUp(t *Tunnel) { r.tunnelsUp.Add(1); r.poke() }
func (r *recorder) TunnelDown(t *Tunnel, rc ResultCode, err error) {
	r.mu.Lock()
	r.downRC[t], r.downErr[t] = rc, err
	r.mu.Unlock()
	r.tunnelsDown.Add(1)
	r.poke()
}
func (r *recorder) IncomingCall(t *Tunnel, s *Session, icrq *Message) error {
	if r.refuse != nil {
		if err := r.refuse(icrq); err != nil {
			return err
		}
	}
	if a, ok := icrq.Find(AVPCallingNumber); ok {
		s.SetValue(string(a.Value))
	}
	return nil
}
func (r *recorder) SessionUp(s *Session, iccn *Message) {
	r.mu.Lock()
	r.iccn[s] = iccn
	r.mu.Unlock()
	r.sessionsUp.Add(1)
	r.poke()
	if r.onUp != nil {
		r.onUp(s)
	}
}
func (r *recorder) SessionDown(s *Session, rc ResultCode) {
	r.mu.Lock()
	r.sessRC[s] = rc
	r.mu.Unlock()
	r.sessionsDown.Add(1)
	r.poke()
}
func (r *recorder) SetLinkInfo(*Session, ACCM)    { r.slis.Add(1) }
func (r *recorder) WANError(*Session, CallErrors) { r.wens.Add(1) }

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type testPair struct {
	lac, lns         *Endpoint
	lacRec, lnsRec   *recorder
	lacConn, lnsConn *l2tptest.Conn
	cancel           context.CancelFunc
	lnsCancel        context.CancelFunc
	lnsDone          chan struct{}
	runDone          chan struct{}
	lacData, lnsData func(t *Tunnel, s *Session, h Header, p []byte)
}

func fastOpts(secret string) TunnelOptions {
	return TunnelOptions{
		Secret:            []byte(secret),
		HelloInterval:     300 * time.Millisecond,
		RetransmitInitial: 50 * time.Millisecond,
		RetransmitCap:     200 * time.Millisecond,
		MaxRetries:        20,
		AckDelay:          5 * time.Millisecond,
	}
}

// newPair runs an LAC and an LNS endpoint joined by an impaired pipe. The
// LNS accepts every peer with lnsOpts (nil accept: refuse all).
func newPair(t *testing.T, imp l2tptest.Impairment, accept func(netip.AddrPort, string) (TunnelOptions, error), data bool) *testPair {
	t.Helper()
	return newPair2(t, imp, accept, nil, data)
}

// newPair2 is newPair with an Accept on the LAC too.
func newPair2(t *testing.T, imp l2tptest.Impairment, accept, lacAccept func(netip.AddrPort, string) (TunnelOptions, error), data bool) *testPair {
	t.Helper()
	p := &testPair{lacRec: newRecorder("lac"), lnsRec: newRecorder("lns"), runDone: make(chan struct{})}
	p.lacConn, p.lnsConn = l2tptest.NewPipe(lacAddr, lnsAddr, imp)
	var err error
	lacCfg := Config{HostName: "lac1", Handler: p.lacRec, ShutdownTimeout: time.Second, Accept: lacAccept}
	lnsCfg := Config{HostName: "lns1", Handler: p.lnsRec, Accept: accept, ShutdownTimeout: time.Second}
	if os.Getenv("L2TP_DEBUG") != "" {
		lacCfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("side", "lac")
		lnsCfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("side", "lns")
	}
	if data {
		lacCfg.Data = func(t *Tunnel, s *Session, h Header, b []byte) { p.lacData(t, s, h, b) }
		lnsCfg.Data = func(t *Tunnel, s *Session, h Header, b []byte) { p.lnsData(t, s, h, b) }
	}
	if p.lac, err = NewEndpoint(p.lacConn, lacCfg); err != nil {
		t.Fatal(err)
	}
	if p.lns, err = NewEndpoint(p.lnsConn, lnsCfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lnsCtx, lnsCancel := context.WithCancel(ctx)
	p.cancel, p.lnsCancel = cancel, lnsCancel
	p.lnsDone = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := p.lac.Run(ctx); err != nil {
			t.Errorf("LAC Run: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		defer close(p.lnsDone)
		if err := p.lns.Run(lnsCtx); err != nil {
			t.Errorf("LNS Run: %v", err)
		}
	}()
	go func() { wg.Wait(); close(p.runDone) }()
	waitFor(t, 5*time.Second, "endpoints running", func() bool { return p.lac.running.Load() && p.lns.running.Load() })
	t.Cleanup(p.stop)
	return p
}

// stopLNS cancels the LNS's Run and waits for it to return.
func (p *testPair) stopLNS(t *testing.T) {
	p.lnsCancel()
	select {
	case <-p.lnsDone:
	case <-time.After(5 * time.Second):
		t.Fatal("LNS Run did not return after cancel")
	}
}

func (p *testPair) stop() {
	p.cancel()
	<-p.runDone
	p.lacConn.Close()
	p.lnsConn.Close()
}

func acceptAll(opts TunnelOptions) func(netip.AddrPort, string) (TunnelOptions, error) {
	return func(netip.AddrPort, string) (TunnelOptions, error) { return opts, nil }
}

// TestLossyPipeSessions is the acceptance test of the control engine: over
// a pipe that drops 30 %, duplicates and reorders, 200 sessions on 4
// tunnels come up, carry data both ways, and tear down cleanly.
func TestLossyPipeSessions(t *testing.T) {
	opts := fastOpts("s3cret")
	opts.HideAVPs = true // hidden AVPs (section 4.3) under loss too
	lossyPipeSessions(t, opts)
}

// TestLossyPipeSessionsV3 is TestLossyPipeSessions on L2TPv3 control
// connections (RFC 3931) with every message signed (HMAC-MD5 and nonces)
// and 8-octet cookies: every control message is delivered in order, and
// every retransmission, whose Ns and Nr differ, is signed again (a digest
// that no longer matched would be dropped, counted and stall the test).
func TestLossyPipeSessionsV3(t *testing.T) {
	opts := fastOpts("s3cret")
	opts.HideAVPs = true
	opts.Version, opts.CookieLen = 3, 8
	lossyPipeSessions(t, opts)
}

func lossyPipeSessions(t *testing.T, opts TunnelOptions) {
	checkGoroutines(t)
	imp := l2tptest.Impairment{Loss: 0.3, Duplicate: 0.1, Reorder: 0.1, Seed: 42}
	p := newPair(t, imp, acceptAll(opts), true)

	var lacEcho sync.Map // *Session -> true once an echo came back
	p.lnsData = func(tn *Tunnel, s *Session, h Header, b []byte) {
		// The LNS finds its per-session state without a lookup and echoes.
		if v, _ := s.Value().(string); v != string(b) {
			t.Errorf("LNS session %v: value %q, payload %q", s, v, b)
		}
		tn.SendData(s, b)
	}
	p.lacData = func(tn *Tunnel, s *Session, h Header, b []byte) {
		if v, _ := s.Value().(string); v == string(b) {
			lacEcho.Store(s, true)
		} else {
			t.Errorf("LAC session %v: echo %q, want %q", s, b, v)
		}
	}

	const tunnels, perTunnel = 4, 50
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var tuns []*Tunnel
	for i := range tunnels {
		tn, err := p.lac.Dial(ctx, lnsAddr, opts)
		if err != nil {
			t.Fatalf("tunnel %d: %v", i, err)
		}
		tuns = append(tuns, tn)
	}
	var sessions []*Session
	for i, tn := range tuns {
		for j := range perTunnel {
			num := fmt.Sprintf("sub-%d-%d", i, j)
			s, err := tn.PlaceCall(CallRequest{
				ICRQ: []AVP{NewAVPString(AVPCallingNumber, num), NewAVPUint32(AVPBearerType, 0)},
				ICCN: []AVP{
					NewAVPBytes(AVPLastSentLCPConfReq, []byte{1, 4, 5, 0xd4}),
					ProxyAuthenPAP.AVP(), NewAVPString(AVPProxyAuthenName, "user"+num), NewAVPProxyAuthenID(7),
					NewAVPBytes(AVPProxyAuthenResponse, []byte("pw")),
				},
				Value: num,
			})
			if err != nil {
				t.Fatalf("PlaceCall: %v", err)
			}
			sessions = append(sessions, s)
		}
	}
	const total = tunnels * perTunnel
	waitFor(t, 20*time.Second, "200 sessions up on both ends", func() bool {
		return p.lacRec.sessionsUp.Load() == total && p.lnsRec.sessionsUp.Load() == total
	})
	// The LNS sees the proxy authentication AVPs in the ICCN.
	p.lnsRec.mu.Lock()
	for s, iccn := range p.lnsRec.iccn {
		a, ok := iccn.Find(AVPProxyAuthenName)
		if !ok || string(a.Value) != "user"+s.Value().(string) || s.ICRQ() == nil {
			t.Errorf("LNS session %v: ICCN proxy name %q (found %v)", s, a.Value, ok)
		}
	}
	p.lnsRec.mu.Unlock()

	// Data both ways: keep sending on sessions whose echo has not come
	// back (data messages are not retransmitted; the pipe loses 30 %).
	waitFor(t, 10*time.Second, "an echo on every session", func() bool {
		missing := 0
		for _, s := range sessions {
			if _, ok := lacEcho.Load(s); !ok {
				missing++
				s.Tunnel().SendData(s, []byte(s.Value().(string)))
			}
		}
		return missing == 0
	})

	// Tear down: half the calls by CDN from the LAC, the rest with the
	// tunnels' StopCCN.
	for i, s := range sessions {
		if i%2 == 0 {
			s.Disconnect(ResultCode{Result: uint16(CDNAdmin)})
		}
	}
	waitFor(t, 20*time.Second, "100 CDNs delivered", func() bool { return p.lnsRec.sessionsDown.Load() == total/2 })
	for _, tn := range tuns {
		tn.Close(ResultCode{Result: uint16(StopCCNGeneralRequest)})
	}
	waitFor(t, 20*time.Second, "every session and tunnel down on both ends", func() bool {
		return p.lacRec.sessionsDown.Load() == total && p.lnsRec.sessionsDown.Load() == total &&
			p.lacRec.tunnelsDown.Load() == tunnels && p.lnsRec.tunnelsDown.Load() == tunnels
	})
	p.lnsRec.mu.Lock()
	for tn, err := range p.lnsRec.downErr {
		if !errors.Is(err, ErrStopCCN) || p.lnsRec.downRC[tn].Result != uint16(StopCCNGeneralRequest) {
			t.Errorf("LNS %v down: %v %+v, want the LAC's StopCCN result 1", tn, err, p.lnsRec.downRC[tn])
		}
	}
	cdn := 0
	for _, rc := range p.lnsRec.sessRC {
		if rc.Result == uint16(CDNAdmin) {
			cdn++
		}
	}
	p.lnsRec.mu.Unlock()
	if cdn != total/2 {
		t.Errorf("LNS saw %d CDNs with result 3, want %d", cdn, total/2)
	}
	// Both ends linger to re-acknowledge, then forget the tunnels.
	waitFor(t, 10*time.Second, "tunnels released after linger", func() bool {
		return len(p.lac.Tunnels()) == 0 && len(p.lns.Tunnels()) == 0
	})
	ls := p.lacConn.Stats()
	st := p.lac.Stats()
	t.Logf("pipe LAC->LNS: sent %d dropped %d duplicated %d reordered %d; LAC retransmits %d duplicates %d out-of-order %d",
		ls.Sent.Load(), ls.Dropped.Load(), ls.Duplicated.Load(), ls.Reordered.Load(), st.Retransmits.Load(), st.Duplicates.Load(), st.OutOfOrder.Load())
	if st.Retransmits.Load() == 0 || p.lns.Stats().Duplicates.Load() == 0 {
		t.Error("the impaired pipe caused no retransmission or duplicate: the test proves nothing")
	}
	for _, e := range []*Endpoint{p.lac, p.lns} {
		if st := e.Stats(); st.AuthFailures.Load() != 0 || st.DigestFailures.Load() != 0 || st.Malformed.Load() != 0 || st.CookieMismatch.Load() != 0 {
			t.Errorf("AuthFailures %d DigestFailures %d Malformed %d CookieMismatch %d, want 0",
				st.AuthFailures.Load(), st.DigestFailures.Load(), st.Malformed.Load(), st.CookieMismatch.Load())
		}
	}
	for _, s := range sessions {
		if v := s.Tunnel().Version(); v != opts.Version && opts.Version != 0 {
			t.Fatalf("%v: version %d, want %d", s, v, opts.Version)
		}
	}
}

func TestWrongSecretRefused(t *testing.T) {
	checkGoroutines(t)
	p := newPair(t, l2tptest.Impairment{}, acceptAll(fastOpts("lns-secret")), false)
	_, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts("lac-secret"))
	if !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("Dial with a wrong secret: %v, want ErrNotAuthorized", err)
	}
	// The LAC found the LNS's Challenge Response wrong and sent StopCCN 4.
	if got := p.lac.Stats().AuthFailures.Load(); got != 1 {
		t.Errorf("LAC AuthFailures = %d, want 1", got)
	}
	var te *TunnelError
	if !errors.As(err, &te) || te.Result.Result != uint16(StopCCNNotAuthorized) {
		t.Errorf("Dial error %v, want a TunnelError with StopCCN result 4", err)
	}
	// The LNS received that StopCCN; no tunnel was announced on either end.
	waitFor(t, 5*time.Second, "LNS got the StopCCN", func() bool { return p.lns.Stats().StopCCNRx.Load() == 1 })
	if p.lnsRec.tunnelsUp.Load() != 0 || p.lacRec.tunnelsUp.Load() != 0 || p.lnsRec.tunnelsDown.Load() != 0 {
		t.Error("a tunnel came up (or down) with a wrong secret")
	}
}

func TestMissingSecretRefused(t *testing.T) {
	checkGoroutines(t)
	// The LNS challenges; an LAC without a secret cannot answer.
	p := newPair(t, l2tptest.Impairment{}, acceptAll(fastOpts("lns-secret")), false)
	_, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts(""))
	if !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("Dial without secret: %v, want ErrNotAuthorized", err)
	}
	// And an LNS requiring mutual authentication refuses an LAC that
	// does not challenge.
	o := fastOpts("s")
	o.RequireAuth = true
	p2 := newPair(t, l2tptest.Impairment{}, acceptAll(o), false)
	_, err = p2.lac.Dial(context.Background(), lnsAddr, TunnelOptions{RetransmitInitial: 50 * time.Millisecond})
	var te *TunnelError
	if !errors.Is(err, ErrStopCCN) || !errors.As(err, &te) || te.Result.Result != uint16(StopCCNNotAuthorized) {
		t.Fatalf("Dial without challenge to a RequireAuth LNS: %v, want StopCCN result 4", err)
	}
	if got := p2.lns.Stats().AuthFailures.Load(); got != 1 {
		t.Errorf("LNS AuthFailures = %d, want 1", got)
	}
}

func TestAcceptRefuses(t *testing.T) {
	checkGoroutines(t)
	var asked atomic.Int32
	p := newPair(t, l2tptest.Impairment{}, func(peer netip.AddrPort, host string) (TunnelOptions, error) {
		asked.Add(1)
		if peer != lacAddr || host != "lac1" {
			t.Errorf("Accept(%v, %q)", peer, host)
		}
		return TunnelOptions{}, errors.New("unknown LAC")
	}, false)
	_, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts(""))
	if !errors.Is(err, ErrStopCCN) {
		t.Fatalf("Dial to a refusing LNS: %v, want ErrStopCCN", err)
	}
	var te *TunnelError
	if !errors.As(err, &te) || te.Result.Result != uint16(StopCCNNotAuthorized) {
		t.Errorf("Dial error %v, want a TunnelError with StopCCN result 4", err)
	}
	if asked.Load() != 1 || p.lns.Stats().TunnelsRefused.Load() != 1 {
		t.Errorf("Accept called %d times, refused %d, want 1 and 1", asked.Load(), p.lns.Stats().TunnelsRefused.Load())
	}
}

func TestSilentPeerDetected(t *testing.T) {
	checkGoroutines(t)
	opts := TunnelOptions{
		HelloInterval:     100 * time.Millisecond,
		RetransmitInitial: 50 * time.Millisecond,
		RetransmitCap:     100 * time.Millisecond,
		MaxRetries:        3,
		AckDelay:          2 * time.Millisecond,
	}
	p := newPair(t, l2tptest.Impairment{}, acceptAll(opts), false)
	tn, err := p.lac.Dial(context.Background(), lnsAddr, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tn.PlaceCall(CallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "session up", func() bool { return p.lnsRec.sessionsUp.Load() == 1 && p.lacRec.sessionsUp.Load() == 1 })
	// Idle but alive: HELLOs keep the tunnel up past several intervals.
	time.Sleep(600 * time.Millisecond)
	if p.lacRec.tunnelsDown.Load() != 0 || p.lac.Stats().HellosTx.Load() == 0 {
		t.Fatalf("idle tunnel: down %d, hellos %d", p.lacRec.tunnelsDown.Load(), p.lac.Stats().HellosTx.Load())
	}
	p.lnsConn.SetSilent(true)
	p.lacConn.SetSilent(true) // the LNS hears nothing either
	start := time.Now()
	// Budget: hello interval + 50+100+100+100 ms of retransmission.
	waitFor(t, 5*time.Second, "silent peer detected", func() bool { return p.lacRec.tunnelsDown.Load() == 1 })
	if d := time.Since(start); d > 1500*time.Millisecond { // generous: the fake-clock test pins the exact schedule
		t.Errorf("silent peer detected after %v, budget about 450 ms", d)
	}
	p.lacRec.mu.Lock()
	err = p.lacRec.downErr[tn]
	rc, sdown := p.lacRec.sessRC[s]
	p.lacRec.mu.Unlock()
	if !errors.Is(err, ErrPeerUnreachable) {
		t.Errorf("TunnelDown err = %v, want ErrPeerUnreachable", err)
	}
	if !sdown || rc.Result != uint16(CDNGeneralError) {
		t.Errorf("session down %v with %+v, want result 2", sdown, rc)
	}
	if p.lac.Stats().RetryExhaust.Load() != 1 {
		t.Errorf("RetryExhaust = %d", p.lac.Stats().RetryExhaust.Load())
	}
	waitFor(t, 5*time.Second, "LNS side also gives up", func() bool { return p.lnsRec.tunnelsDown.Load() == 1 })
}

func TestIncomingCallRefused(t *testing.T) {
	checkGoroutines(t)
	p := newPair(t, l2tptest.Impairment{}, acceptAll(fastOpts("")), false)
	p.lnsRec.refuse = func(*Message) error {
		return &CallRefusedError{Result: ResultCode{Result: uint16(CDNBusy)}}
	}
	tn, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts(""))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tn.PlaceCall(CallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "LAC call refused", func() bool { return p.lacRec.sessionsDown.Load() == 1 })
	p.lacRec.mu.Lock()
	rc := p.lacRec.sessRC[s]
	p.lacRec.mu.Unlock()
	if rc.Result != uint16(CDNBusy) || p.lacRec.sessionsUp.Load() != 0 {
		t.Errorf("refused call: result %d, up %d; want result 8 and never up", rc.Result, p.lacRec.sessionsUp.Load())
	}
	if tn.Sessions() != 0 || p.lns.Stats().SessionsRefused.Load() != 1 {
		t.Errorf("sessions left %d, refused %d", tn.Sessions(), p.lns.Stats().SessionsRefused.Load())
	}
}

// TestTieBreaker: both ends dial each other at once with a Tie Breaker
// AVP (section 4.4.3); the lower value wins, one tunnel results.
func TestTieBreaker(t *testing.T) {
	checkGoroutines(t)
	opts := fastOpts("tb")
	opts.TieBreaker = true
	p := newPair2(t, l2tptest.Impairment{}, acceptAll(opts), acceptAll(opts), false)
	// Hold both directions until both SCCRQs are pending, so that their
	// retransmissions cross.
	p.lacConn.SetSilent(true)
	p.lnsConn.SetSilent(true)
	type res struct {
		tn  *Tunnel
		err error
	}
	ra, rb := make(chan res, 1), make(chan res, 1)
	go func() { tn, err := p.lac.Dial(context.Background(), lnsAddr, opts); ra <- res{tn, err} }()
	go func() { tn, err := p.lns.Dial(context.Background(), lacAddr, opts); rb <- res{tn, err} }()
	waitFor(t, 5*time.Second, "both SCCRQs pending", func() bool {
		return len(p.lac.Tunnels()) == 1 && len(p.lns.Tunnels()) == 1
	})
	p.lacConn.SetSilent(false)
	p.lnsConn.SetSilent(false)
	a, b := <-ra, <-rb
	won, lost := 0, 0
	for _, r := range []res{a, b} {
		switch {
		case r.err == nil:
			won++
		case errors.Is(r.err, ErrTieBreakerLost):
			lost++
		default:
			t.Errorf("Dial: %v", r.err)
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("crossing SCCRQs: won %d lost %d, want 1 and 1", won, lost)
	}
	// The winner's tunnel is accepted by the loser: one tunnel, up at
	// both ends.
	waitFor(t, 3*time.Second, "one tunnel up on each side", func() bool {
		return p.lacRec.tunnelsUp.Load() == 1 && p.lnsRec.tunnelsUp.Load() == 1 &&
			len(p.lac.Tunnels()) == 1 && len(p.lns.Tunnels()) == 1
	})
}

// TestShutdownSendsStopCCN: cancelling Run's context clears every tunnel
// with StopCCN result 6 and the peer sees its sessions go down.
func TestShutdownSendsStopCCN(t *testing.T) {
	checkGoroutines(t)
	p := newPair(t, l2tptest.Impairment{}, acceptAll(fastOpts("")), false)
	tn, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.PlaceCall(CallRequest{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "session up", func() bool { return p.lnsRec.sessionsUp.Load() == 1 })
	p.stopLNS(t)
	waitFor(t, 5*time.Second, "LAC sees the StopCCN", func() bool { return p.lacRec.tunnelsDown.Load() == 1 })
	p.lacRec.mu.Lock()
	rc := p.lacRec.downRC[tn]
	down := len(p.lacRec.sessRC)
	p.lacRec.mu.Unlock()
	if rc.Result != uint16(StopCCNShuttingDown) || down != 1 {
		t.Errorf("LAC: StopCCN result %d, sessions down %d; want 6 and 1", rc.Result, down)
	}
	if _, err := p.lns.Dial(context.Background(), lacAddr, fastOpts("")); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial after Run returned: %v, want ErrNotRunning", err)
	}
}

// TestTunnelLimit: SCCRQs beyond Config.MaxTunnels are dropped and
// counted; no state is kept for them.
func TestTunnelLimit(t *testing.T) {
	checkGoroutines(t)
	a, b := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	defer a.Close()
	defer b.Close()
	lns, err := NewEndpoint(b, Config{HostName: "lns", MaxTunnels: 2, ShutdownTimeout: 50 * time.Millisecond,
		Accept: acceptAll(TunnelOptions{RetransmitInitial: 10 * time.Millisecond, RetransmitCap: 10 * time.Millisecond, MaxRetries: 1})})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		pkt, _ := AppendControl(nil, Header{}, sccrq(uint16(100+i)), nil, nil)
		lns.input(pkt, lacAddr)
	}
	if n := len(lns.Tunnels()); n != 2 || lns.Stats().TunnelLimit.Load() != 3 {
		t.Fatalf("%d tunnels, %d dropped; want 2 and 3", n, lns.Stats().TunnelLimit.Load())
	}
	// Run's shutdown releases the two half-open tunnels.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := lns.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(lns.Tunnels()); n != 0 {
		t.Fatalf("%d tunnels after shutdown", n)
	}
}

// TestPlaceCallOnClosedTunnel: a call placed as the tunnel goes down ends
// with SessionDown (or an error), never silence.
func TestPlaceCallOnClosedTunnel(t *testing.T) {
	checkGoroutines(t)
	p := newPair(t, l2tptest.Impairment{}, acceptAll(fastOpts("")), false)
	tn, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts(""))
	if err != nil {
		t.Fatal(err)
	}
	tn.Close(ResultCode{Result: uint16(StopCCNGeneralRequest)})
	s, err := tn.PlaceCall(CallRequest{})
	if err != nil {
		if !errors.Is(err, ErrTunnelClosed) {
			t.Fatalf("PlaceCall on a closed tunnel: %v", err)
		}
		return
	}
	waitFor(t, 5*time.Second, "SessionDown", func() bool { return p.lacRec.sessionsDown.Load() == 1 })
	p.lacRec.mu.Lock()
	rc := p.lacRec.sessRC[s]
	p.lacRec.mu.Unlock()
	if rc.Error != uint16(ErrorNoControlConnection) || tn.Sessions() != 0 {
		t.Errorf("call on a closed tunnel: %+v, %d sessions left", rc, tn.Sessions())
	}
}

// TestHandlerMayCallBack: a Handler callback may call the API of the
// tunnel it runs on (here Disconnect from SessionUp) without deadlock.
func TestHandlerMayCallBack(t *testing.T) {
	checkGoroutines(t)
	p := newPair(t, l2tptest.Impairment{}, acceptAll(fastOpts("")), false)
	p.lnsRec.onUp = func(s *Session) { s.Disconnect(ResultCode{Result: uint16(CDNAdmin)}) }
	tn, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts(""))
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := tn.PlaceCall(CallRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "every call disconnected by the LNS", func() bool {
		return p.lacRec.sessionsDown.Load() == 100 && p.lnsRec.sessionsDown.Load() == 100
	})
	if tn.Sessions() != 0 {
		t.Errorf("%d sessions left", tn.Sessions())
	}
}

// TestWrongSecretWithHiddenAVPs: with hidden AVPs on both ends and
// different secrets, the SCCRP (never hidden) still decodes: its
// Challenge Response is wrong, refused as result 4.
func TestWrongSecretWithHiddenAVPs(t *testing.T) {
	checkGoroutines(t)
	lo := fastOpts("lns-secret")
	lo.HideAVPs = true
	p := newPair(t, l2tptest.Impairment{}, acceptAll(lo), false)
	o := fastOpts("lac-secret")
	o.HideAVPs = true
	_, err := p.lac.Dial(context.Background(), lnsAddr, o)
	var te *TunnelError
	if !errors.As(err, &te) || !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("Dial: %v, want ErrNotAuthorized", err)
	}
	if te.Result.Result != uint16(StopCCNNotAuthorized) || p.lac.Stats().AuthFailures.Load() != 1 {
		t.Errorf("Dial: result %d, LAC AuthFailures %d; want 4 and 1", te.Result.Result, p.lac.Stats().AuthFailures.Load())
	}
	// The LAC read the LNS's Assigned Tunnel ID: its StopCCN reaches the
	// LNS's tunnel.
	waitFor(t, 5*time.Second, "the LNS gets the StopCCN", func() bool { return p.lns.Stats().StopCCNRx.Load() == 1 })
}

// TestDialBeforeRun: a Dial that comes before Run (a daemon starts its
// endpoint and its PPPoE servers together, and a subscriber may come first)
// waits for Run and opens the tunnel; a Dial before a Run that never comes
// ends with its context.
func TestDialBeforeRun(t *testing.T) {
	lacConn, lnsConn := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	lac, err := NewEndpoint(lacConn, Config{HostName: "lac1", ShutdownTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lns, err := NewEndpoint(lnsConn, Config{HostName: "lns1", ShutdownTimeout: time.Second,
		Accept: func(netip.AddrPort, string) (TunnelOptions, error) { return fastOpts(""), nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { lns.Run(ctx) })

	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := lac.Dial(short, lnsAddr, fastOpts("")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial with no Run ever: %v, want the context's deadline", err)
	}

	dialed := make(chan error, 1)
	go func() {
		_, err := lac.Dial(ctx, lnsAddr, fastOpts(""))
		dialed <- err
	}()
	time.Sleep(20 * time.Millisecond) // the Dial is waiting for Run
	wg.Go(func() { lac.Run(ctx) })
	select {
	case err := <-dialed:
		if err != nil {
			t.Fatalf("Dial before Run: %v, want the tunnel once Run starts", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Dial before Run did not return after Run started")
	}
}
