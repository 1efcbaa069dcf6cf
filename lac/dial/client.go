package dial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// Config configures a Client. Section.Config builds one from the file and
// the flags, with the defaults applied.
type Config struct {
	LNS      netip.AddrPort // the LNS's L2TP address (port 1701 usually)
	Local    netip.AddrPort // our source address and port; zero: any address, an ephemeral port
	HostName string         // our Host Name AVP: the LNS looks its [lac] entry up by it
	Secret   []byte         // tunnel authentication (RFC 2661 section 5.1.1); nil: none

	// Version is the tunnel's L2TP version, 2 or 3 (RFC 3931: the call
	// is a PPP pseudowire, with Digest and CookieLen as in
	// l2tp.TunnelOptions); Encap EncapIP runs it straight over IP
	// protocol 115 (section 4.1.1; LNS's port is then 0).
	Version   int
	Digest    l2tp.DigestMode
	CookieLen int
	Encap     l2tp.Encap

	User, Password string
	Auth           []ppp.AuthProto // what we accept, the LNS chooses; empty: CHAP-MD5 and PAP

	TUN    string         // the TUN device's name
	Routes []netip.Prefix // routed into the device while the session is up
	MTU    int            // the device's MTU and our PPP MRU

	Echo          ppp.EchoConfig // LCP keepalive (RFC 1661 section 5.8)
	HelloInterval time.Duration  // L2TP HELLO (RFC 2661 section 6.5)
	DialTimeout   time.Duration  // bound of the tunnel set-up
	SetupTimeout  time.Duration  // bound of the call and PPP, tunnel up to IPCP up
	ReconnectMin  time.Duration  // the first wait before reconnecting
	ReconnectMax  time.Duration  // the cap of the doubling waits

	Logger *slog.Logger // nil: discard

	// Device is the TUN device; nil opens TUN in the calling thread's
	// network namespace (needs CAP_NET_ADMIN).
	Device Device
	// Rand jitters the reconnection waits (Backoff.Rand); nil: random.
	Rand func() float64
}

func (c Config) withDefaults() Config {
	if c.TUN == "" {
		c.TUN = DefaultTUN
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.Echo.Interval == 0 {
		c.Echo.Interval = DefaultEchoInterval
	}
	if c.Echo.MaxFailures == 0 {
		c.Echo.MaxFailures = DefaultEchoFailures
	}
	if c.HelloInterval == 0 {
		c.HelloInterval = DefaultHelloInterval
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.SetupTimeout == 0 {
		c.SetupTimeout = DefaultSetupTimeout
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = max(DefaultReconnectMax, c.ReconnectMin)
	}
	return c
}

// State is where a Client is.
type State uint32

// States of a Client.
const (
	StateIdle    State = iota // not running
	StateTunnel               // opening the control connection (SCCRQ, SCCRP, SCCCN)
	StateCall                 // placing the call (ICRQ, ICRP, ICCN)
	StatePPP                  // LCP, authentication, IPCP
	StateUp                   // IPCP up, the device carries traffic
	StateBackoff              // waiting to reconnect
	StateClosing              // hanging up: LCP Terminate, CDN, StopCCN
)

func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateTunnel:
		return "tunnel"
	case StateCall:
		return "call"
	case StatePPP:
		return "ppp"
	case StateUp:
		return "up"
	case StateBackoff:
		return "backoff"
	case StateClosing:
		return "closing"
	}
	return fmt.Sprintf("State(%d)", uint32(s))
}

// Stats counts what a Client did.
type Stats struct {
	Attempts  atomic.Uint64 // connections begun
	Ups       atomic.Uint64 // sessions that reached IPCP up
	TxPackets atomic.Uint64 // IP packets from the device sent on the call
	RxPackets atomic.Uint64 // IP packets from the call written to the device
	// TxDropped: packets read from the device with no session up, or that
	// the call refused; RxDropped: frames from the call that were neither
	// IPv4 nor PPP control, too long, or refused by the device;
	// InboxDropped: control frames dropped because the loop was behind.
	TxDropped, RxDropped, InboxDropped atomic.Uint64
}

// Client is a voluntary-tunnel client: RFC 2661 section 2's LAC client,
// which is its own LAC. Run dials the LNS and keeps the session up.
type Client struct {
	cfg   Config
	log   *slog.Logger
	stats Stats
	state atomic.Uint32
	// call is the call the device's packets go out on, nil while no
	// session is up: written by the session loop, read by the device
	// reader.
	call atomic.Pointer[callLink]
}

// New makes a Client; nothing runs before Run.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if !cfg.LNS.IsValid() || cfg.HostName == "" || cfg.User == "" {
		return nil, errors.New("dial: the LNS address, the host name and the user are required")
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		return nil, fmt.Errorf("dial: reconnect-max %v is below reconnect-min %v", cfg.ReconnectMax, cfg.ReconnectMin)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, log: log}, nil
}

// Stats returns the Client's counters.
func (c *Client) Stats() *Stats { return &c.stats }

// State is where the Client is now.
func (c *Client) State() State { return State(c.state.Load()) }

func (c *Client) setState(s State) { c.state.Store(uint32(s)) }

// Run keeps a session to the LNS up until ctx is done: it opens the
// tunnel, places the call and runs PPP; when the tunnel or the call is
// lost, LCP is terminated or the LNS stops answering Echo-Requests, the
// device's routes go and it reconnects after a back-off that doubles from
// ReconnectMin to ReconnectMax (jittered), reset once a session came up.
// When ctx is done it hangs up cleanly (LCP Terminate-Request, CDN,
// StopCCN) and returns nil. It returns an error only when the device
// cannot be opened.
func (c *Client) Run(ctx context.Context) error {
	dev := c.cfg.Device
	if dev == nil {
		var err error
		if dev, err = OpenTUN(c.cfg.TUN, c.cfg.LNS.Addr()); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.readDevice(dev) }()
	defer func() {
		dev.Close()
		wg.Wait()
		c.setState(StateIdle)
	}()
	bo := Backoff{Min: c.cfg.ReconnectMin, Max: c.cfg.ReconnectMax, Jitter: 0.25, Rand: c.cfg.Rand}
	for attempt := 1; ; attempt++ {
		c.stats.Attempts.Add(1)
		c.log.Info("dial: connecting", "lns", c.cfg.LNS.String(), "attempt", attempt)
		wasUp, err := c.connect(ctx, dev)
		if ctx.Err() != nil {
			c.log.Info("dial: stopped", "lns", c.cfg.LNS.String())
			return nil
		}
		if wasUp {
			bo.Reset()
		}
		wait := bo.Next()
		c.setState(StateBackoff)
		c.log.Warn("dial: connection ended; reconnecting", "lns", c.cfg.LNS.String(), "reason", err.Error(),
			"attempt", attempt, "wait", wait.Round(time.Millisecond).String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			c.log.Info("dial: stopped", "lns", c.cfg.LNS.String())
			return nil
		case <-t.C:
		}
	}
}

// callLink is a call up: the PPP link over it, and where the device's
// packets go.
type callLink struct {
	t   *l2tp.Tunnel
	s   *l2tp.Session
	buf []byte // Send's frame, owned by the session loop
}

// Send is ppp.Link.Send: the frame with the HDLC Address and Control
// fields an L2TP session carries (RFC 2661 section 5.2).
func (l *callLink) Send(frame []byte) error {
	l.buf = append(append(l.buf[:0], 0xff, 0x03), frame...)
	return l.t.SendData(l.s, l.buf)
}

// evKind is what happened to the connection.
type evKind uint8

const (
	evCallUp     evKind = iota + 1 // ICRP in, ICCN out
	evCallDown                     // CDN sent or received, or the tunnel went
	evTunnelDown                   // StopCCN, or the LNS stopped acknowledging
)

type event struct {
	kind evKind
	rc   l2tp.ResultCode
	err  error
}

// handler receives the endpoint's events on the tunnel goroutine and hands
// them to the session loop. A connection has one tunnel and one call, so
// at most three lifecycle events: the channel never fills.
type handler struct {
	l2tp.NopHandler
	life chan event
}

func (h *handler) SessionUp(*l2tp.Session, *l2tp.Message) { h.life <- event{kind: evCallUp} }
func (h *handler) SessionDown(_ *l2tp.Session, rc l2tp.ResultCode) {
	h.life <- event{kind: evCallDown, rc: rc}
}
func (h *handler) TunnelDown(_ *l2tp.Tunnel, rc l2tp.ResultCode, err error) {
	h.life <- event{kind: evTunnelDown, rc: rc, err: err}
}

// IncomingCall refuses calls from the LNS: we place ours, we take none.
func (h *handler) IncomingCall(*l2tp.Tunnel, *l2tp.Session, *l2tp.Message) error {
	return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesPermanent)}}
}

// listen opens the tunnel's socket on local: UDP, or a raw socket of IP
// protocol 115 for L2TPv3 over IP (local's port is not used).
func (c *Client) listen(local netip.AddrPort) (net.PacketConn, error) {
	if c.cfg.Encap != l2tp.EncapIP {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(local))
	}
	return l2tp.ListenIP(local.Addr())
}

// connect runs one connection: the tunnel, the call and PPP, until one of
// them ends or ctx is done. wasUp says whether IPCP came up.
func (c *Client) connect(ctx context.Context, dev Device) (wasUp bool, err error) {
	local := c.cfg.Local
	if !local.IsValid() {
		local = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if c.cfg.LNS.Addr().Is6() {
			local = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
	}
	conn, err := c.listen(local)
	if err != nil {
		return false, fmt.Errorf("l2tp socket: %w", err)
	}
	defer conn.Close()
	h := &handler{life: make(chan event, 8)}
	rx := newReceiver(c, dev)
	ep, err := l2tp.NewEndpoint(conn, l2tp.Config{
		HostName: c.cfg.HostName, VendorName: "bras", Logger: c.log.With(logx.KeyComponent, logx.L2TP),
		Handler: h, Data: rx.data, DataBatchEnd: rx.flush, NoGRO: true, ShutdownTimeout: 2 * time.Second,
	})
	if err != nil {
		return false, err
	}
	epCtx, stopEP := context.WithCancel(context.WithoutCancel(ctx))
	epDone := make(chan error, 1)
	go func() { epDone <- ep.Run(epCtx) }()
	// Whatever is left of the tunnel gets its StopCCN (result 6) now.
	defer func() { stopEP(); <-epDone }()

	c.setState(StateTunnel)
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	t, err := ep.Dial(dctx, c.cfg.LNS, l2tp.TunnelOptions{Secret: c.cfg.Secret, HelloInterval: c.cfg.HelloInterval,
		Version: c.cfg.Version, Digest: c.cfg.Digest, CookieLen: c.cfg.CookieLen})
	cancel()
	if err != nil {
		return false, fmt.Errorf("tunnel: %w", err)
	}
	c.log.Info("dial: tunnel up", "peer", t.Peer().String(), "tunnel_id", t.LocalConnID(), "peer_host_name", t.PeerHostName(),
		"version", t.Version(), "encap", t.Encap().String())
	c.setState(StateCall)
	// An ICRQ and an ICCN without proxy LCP or authentication AVPs: the
	// LNS negotiates LCP and authenticates us itself (RFC 2661 section 2).
	s, err := t.PlaceCall(l2tp.CallRequest{})
	if err != nil {
		return false, fmt.Errorf("call: %w", err)
	}
	lp := &loop{c: c, dev: dev, t: t, s: s, life: h.life, frames: rx.frames, link: &callLink{t: t, s: s}}
	return lp.run(ctx)
}

// loop drives one connection's PPP session on one goroutine (ppp.Session
// has no goroutine or lock of its own).
type loop struct {
	c      *Client
	dev    Device
	t      *l2tp.Tunnel
	s      *l2tp.Session
	life   chan event
	frames chan []byte
	link   *callLink

	ps       *ppp.Session
	early    [][]byte // control frames before the call was reported up
	up       bool     // IPCP came up
	bound    bool     // the device is configured
	pppDown  bool
	reason   ppp.Reason
	callGone bool
	failure  error // why the connection ends, set once
}

func (lp *loop) fail(err error) {
	if lp.failure == nil {
		lp.failure = err
	}
}

func (lp *loop) run(ctx context.Context) (bool, error) {
	c := lp.c
	defer lp.unbind()
	setup := time.NewTimer(c.cfg.SetupTimeout)
	defer setup.Stop()
	tick := time.NewTimer(time.Hour)
	defer tick.Stop()
	for lp.failure == nil {
		wait := time.Hour
		if lp.ps != nil {
			if d := lp.ps.NextDeadline(); !d.IsZero() {
				wait = max(time.Until(d), 0)
			}
		}
		tick.Reset(wait)
		select {
		case ev := <-lp.life:
			lp.lifecycle(ev)
		case f := <-lp.frames:
			lp.input(f)
		case now := <-tick.C:
			if lp.ps != nil {
				lp.ps.Tick(now)
			}
		case <-setup.C:
			if !lp.up {
				lp.fail(fmt.Errorf("no session within %v (%s)", c.cfg.SetupTimeout, lp.stage()))
			}
		case <-ctx.Done():
			lp.hangUp()
			return lp.up, ctx.Err()
		}
		if lp.pppDown {
			lp.fail(fmt.Errorf("ppp: %s", lp.reason))
		}
	}
	if !lp.callGone {
		// PPP ended or never came up on a call that is still there.
		rc := l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin)}
		if lp.pppDown && lp.reason == ppp.ReasonEchoTimeout {
			rc = l2tp.ResultCode{Result: uint16(l2tp.CDNLostCarrier)}
		}
		lp.disconnect(rc)
	}
	return lp.up, lp.failure
}

// stage names how far the connection got, for a set-up timeout.
func (lp *loop) stage() string {
	switch {
	case lp.ps == nil:
		return "waiting for ICRP"
	case lp.ps.State() == ppp.PhaseEstablish:
		return "LCP"
	case lp.ps.State() == ppp.PhaseAuthenticate:
		return "authentication"
	}
	return "IPCP"
}

func (lp *loop) lifecycle(ev event) {
	c := lp.c
	switch ev.kind {
	case evCallUp:
		c.log.Info("dial: call up", "tunnel_id", lp.t.LocalID(), "session_id", lp.s.LocalID(), "peer_session_id", lp.s.PeerID())
		c.setState(StatePPP)
		lp.ps = ppp.NewSession(lp.link, ppp.Config{
			Role: ppp.Client, MRU: uint16(c.cfg.MTU), RejectACCMPFCACFC: true,
			Username: c.cfg.User, Password: c.cfg.Password, Auth: c.cfg.Auth,
			Echo: c.cfg.Echo, Logger: c.log.With(logx.KeyComponent, logx.PPP), Handler: lp,
		})
		now := time.Now()
		lp.ps.Open(now)
		for _, f := range lp.early {
			lp.ps.Input(f, now)
		}
		lp.early = nil
	case evCallDown:
		lp.callGone = true
		lp.lowerDown()
		lp.fail(fmt.Errorf("call cleared (CDN %s)", ev.rc.Describe(l2tp.MsgCDN)))
	case evTunnelDown:
		lp.callGone = true
		lp.lowerDown()
		if ev.err != nil && !errors.Is(ev.err, l2tp.ErrStopCCN) {
			lp.fail(fmt.Errorf("tunnel lost: %w", ev.err))
		} else {
			lp.fail(fmt.Errorf("tunnel closed by the LNS (StopCCN %s)", ev.rc.Describe(l2tp.MsgStopCCN)))
		}
	}
}

func (lp *loop) lowerDown() {
	if lp.ps != nil && !lp.pppDown {
		lp.ps.LowerDown(time.Now())
	}
}

func (lp *loop) input(f []byte) {
	if lp.ps == nil {
		if len(lp.early) < 8 {
			lp.early = append(lp.early, f)
		}
		return
	}
	lp.ps.Input(f, time.Now())
}

// Up is ppp.Handler.Up: IPCP opened (RFC 1332); the device gets the
// address and the routes, and starts carrying packets.
func (lp *loop) Up(_ *ppp.Session, n ppp.NetworkInfo) {
	c := lp.c
	if lp.bound {
		// IPCP renegotiated (RFC 1661 section 4.1): the address may change.
		lp.unbind()
	}
	if err := lp.dev.Configure(n, c.cfg.MTU, c.cfg.Routes); err != nil {
		c.log.Error("dial: device", "err", err)
		lp.fail(fmt.Errorf("device: %w", err))
		lp.ps.Close("device", time.Now())
		return
	}
	lp.bound = true
	if !lp.up {
		c.stats.Ups.Add(1)
	}
	lp.up = true
	c.call.Store(lp.link)
	c.setState(StateUp)
	c.log.Info("dial: session up", "tunnel_id", lp.t.LocalID(), "session_id", lp.s.LocalID(), "user", c.cfg.User,
		"address", n.Local.String(), "peer", n.Peer.String(), "dns1", n.DNS1.String(), "routes", fmt.Sprint(c.cfg.Routes))
}

// Down is ppp.Handler.Down: the PPP session ended.
func (lp *loop) Down(_ *ppp.Session, r ppp.Reason) {
	lp.pppDown, lp.reason = true, r
	lp.unbind()
}

// unbind stops the device's traffic and removes its routes and address.
func (lp *loop) unbind() {
	c := lp.c
	c.call.Store(nil)
	if !lp.bound {
		return
	}
	lp.bound = false
	if err := lp.dev.Deconfigure(); err != nil {
		c.log.Warn("dial: device", "err", err)
	}
	c.log.Info("dial: routes removed", "tun", c.cfg.TUN)
}

// disconnect sends the CDN and waits (briefly) until it is out.
func (lp *loop) disconnect(rc l2tp.ResultCode) {
	lp.s.Disconnect(rc)
	lp.callGone = true
	lp.await(evCallDown, time.Second)
}

// await handles lifecycle events until one of kind arrives or d passes.
func (lp *loop) await(kind evKind, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case ev := <-lp.life:
			if ev.kind == kind || ev.kind == evTunnelDown {
				return true
			}
		case <-t.C:
			return false
		}
	}
}

// hangUp ends the session as a user does: LCP Terminate-Request (RFC 1661
// section 5.5), then the CDN (result 3, administrative); the StopCCN
// (result 6, shutting down) follows when the endpoint stops.
func (lp *loop) hangUp() {
	c := lp.c
	c.setState(StateClosing)
	c.log.Info("dial: hanging up", "tunnel_id", lp.t.LocalID(), "session_id", lp.s.LocalID())
	if lp.ps != nil && !lp.pppDown && !lp.callGone {
		lp.ps.Close("hang-up", time.Now())
		deadline := time.NewTimer(2 * time.Second)
		defer deadline.Stop()
		tick := time.NewTimer(time.Hour)
		defer tick.Stop()
	wait:
		for !lp.pppDown && !lp.callGone {
			if d := lp.ps.NextDeadline(); !d.IsZero() {
				tick.Reset(max(time.Until(d), 0))
			}
			select {
			case f := <-lp.frames:
				lp.ps.Input(f, time.Now())
			case now := <-tick.C:
				lp.ps.Tick(now)
			case ev := <-lp.life:
				if ev.kind == evCallDown || ev.kind == evTunnelDown {
					lp.callGone = true
				}
			case <-deadline.C:
				break wait
			}
		}
	}
	lp.unbind()
	if !lp.callGone {
		lp.disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin)})
	}
}
