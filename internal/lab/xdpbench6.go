package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/bras-project/bras/internal/netlab"
	"github.com/bras-project/bras/internal/radiuslab"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// The IPv6 cells of the forwarding benchmark (XDPForwardOptions.IPv6): the
// same paths as IPv4, the subscriber's packets IPv6 (RFC 5072 over PPPoE)
// from and to its /64, the kernel path routing IPv6 over the same
// namespaces. bras load speaks no IPV6CP, so the bench holds the one
// subscriber itself (pppoe.Client and a ppp.Session with IPv6), and
// FreeRADIUS is started again with the user granted a /64 and a
// delegated prefix (RFC 3162 section 2.3, RFC 4818).

// Addresses of the IPv6 cells.
var (
	bench6Link      = netip.MustParsePrefix("2001:db8:f0:1::/64")          // the subscriber's Framed-IPv6-Prefix
	bench6Delegated = netip.MustParsePrefix("2001:db8:f1::/56")            // its Delegated-IPv6-Prefix
	bench6Sub       = netip.MustParseAddr("2001:db8:f0:1::2")              // the generator's source upstream
	bench6LNSUp     = netip.MustParsePrefix("2001:db8:f2::1/64")           // lns eth1
	bench6Up        = netip.MustParsePrefix("2001:db8:f2::2/64")           // upstream eth0
	bench6MAC       = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x66, 0x01} // the subscriber
	// The kernel path: ksub ── klac ── klns ── kup.
	kern6 = [...]string{
		"2001:db8:254:0::2/64", "2001:db8:254:0::1/64", // ksub eth0, klac eth0
		"2001:db8:254:1::1/64", "2001:db8:254:1::2/64", // klac eth1, klns eth0
		"2001:db8:254:2::1/64", "2001:db8:254:2::2/64", // klns eth1, kup eth0
	}
)

// provisionIPv6 starts FreeRADIUS again with the lab's one user granted
// bench6Link and bench6Delegated.
func (e *Env) provisionIPv6(ctx context.Context) error {
	rc := radiuslab.Config{
		Dir:      filepath.Join(e.Dir, "radius"),
		AuthAddr: netip.MustParseAddrPort("127.0.0.1:1812"),
		AcctAddr: netip.MustParseAddrPort("127.0.0.1:1813"),
		Secret:   radSecret,
		Users: []radiuslab.User{{
			Name: "user0@" + realm, Password: "pw0",
			Reply: []radiuslab.Attr{
				{Name: "Acct-Interim-Interval", Value: "60"},
				{Name: "Framed-IPv6-Prefix", Value: bench6Link.String()},
				{Name: "Delegated-IPv6-Prefix", Value: bench6Delegated.String()},
			},
		}},
	}
	if err := radiuslab.Write(rc); err != nil {
		return err
	}
	e.Radius.Stop()
	rad, err := start(ctx, e.Dir, "freeradius-ipv6", radiuslab.Command(ctx, rc, false, "ip", "netns", "exec", e.NS["lns"].Name))
	if err != nil {
		return err
	}
	e.cleanups = append(e.cleanups, rad.stop)
	e.Radius = rad
	return e.NS["lns"].Do(func() error {
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		for {
			if err := radiuslab.Probe(pctx, rc.AuthAddr, radSecret); err == nil {
				return nil
			} else if pctx.Err() != nil {
				return fmt.Errorf("lab: FreeRADIUS did not answer after its restart: %w (log %s)", err, rad.log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// sub6 is the bench's own dual-stack subscriber: a PPPoE client session
// and its PPP session, driven by one goroutine.
type sub6 struct {
	cs    *pppoe.ClientSession
	frame chan []byte
	up    chan ppp.NetworkInfo
	up6   chan ppp.IPv6Info
	down  chan ppp.Reason
}

func (s *sub6) Up(_ *ppp.Session, n ppp.NetworkInfo)  { trySend(s.up, n) }
func (s *sub6) UpIPv6(_ *ppp.Session, n ppp.IPv6Info) { trySend(s.up6, n) }
func (s *sub6) Down(_ *ppp.Session, r ppp.Reason)     { trySend(s.down, r) }

func trySend[T any](c chan T, v T) {
	select {
	case c <- v:
	default:
	}
}

// run drives the PPP session until ctx is done, then closes it (LCP
// Terminate-Request, then PADT).
func (s *sub6) run(ctx context.Context, ps *ppp.Session) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	ps.Open(time.Now())
	for {
		select {
		case <-ctx.Done():
			ps.Close("bench done", time.Now())
			time.Sleep(100 * time.Millisecond) // the Terminate-Request leaves
			s.cs.Close()
			return
		case f := <-s.frame:
			ps.Input(f, time.Now())
		case now := <-tick.C:
			if d := ps.NextDeadline(); !d.IsZero() && !now.Before(d) {
				ps.Tick(now)
			}
		}
	}
}

// holdSubscriber6 brings the one subscriber up with IPv4 and IPv6 from
// namespace sub and holds it until stop. Its address for the generator is
// bench6Sub, in the /64 the LNS routes to it.
func (e *Env) holdSubscriber6(ctx context.Context) (*subscriber, func(), error) {
	if err := e.provisionIPv6(ctx); err != nil {
		return nil, nil, err
	}
	var cli *pppoe.Client
	if err := e.NS["sub"].Do(func() (err error) {
		cli, err = pppoe.NewClient(pppoe.ClientConfig{Interface: "eth0"})
		return err
	}); err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	cliDone := make(chan struct{})
	go func() { defer close(cliDone); cli.Run(cctx) }()
	var subDone chan struct{}
	stop := func() {
		cancel()
		if subDone != nil {
			<-subDone
		}
		<-cliDone
	}
	fail := func(err error) (*subscriber, func(), error) {
		stop()
		return nil, nil, err
	}
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	defer dcancel()
	cs, err := cli.Dial(dctx, bench6MAC, pppoe.DialOptions{})
	if err != nil {
		return fail(fmt.Errorf("lab: IPv6 subscriber: PPPoE discovery: %w", err))
	}
	s := &sub6{cs: cs, frame: make(chan []byte, 64), up: make(chan ppp.NetworkInfo, 1),
		up6: make(chan ppp.IPv6Info, 1), down: make(chan ppp.Reason, 1)}
	cs.SetReceive(func(f []byte) {
		// Control frames only: the generator's packets end at the sink.
		if p, _, err := ppp.ParseProtocol(f); err == nil && p.IsControl() {
			trySend(s.frame, append([]byte(nil), f...))
		}
	})
	ps := ppp.NewSession(cs, ppp.Config{
		Role: ppp.Client, MRU: uint16(min(cs.MaxPayload, 1492)), RejectACCMPFCACFC: true,
		Username: "user0@" + realm, Password: "pw0", IPv6: true, Handler: s,
	})
	subDone = make(chan struct{})
	go func() { defer close(subDone); s.run(cctx, ps) }()
	var got4, got6 bool
	for !got4 || !got6 {
		select {
		case <-s.up:
			got4 = true
		case <-s.up6:
			got6 = true
		case r := <-s.down:
			return fail(fmt.Errorf("lab: IPv6 subscriber: PPP ended (%v)%s", r, e.diagnose()))
		case <-dctx.Done():
			return fail(fmt.Errorf("lab: IPv6 subscriber: IPCP %v, IPV6CP %v after 30 s%s", got4, got6, e.diagnose()))
		}
	}
	return &subscriber{mac: append(net.HardwareAddr(nil), bench6MAC...), acMAC: append(net.HardwareAddr(nil), cs.ACMAC[:]...),
		session: cs.ID, addr: bench6Sub}, stop, nil
}

// setupIPv6 gives the bras path's upstream link and the kernel path IPv6:
// addresses, forwarding, routes. Neighbours are static (xdpPaths).
func (e *Env) setupIPv6(kern []*netlab.Netns) error {
	type cmd struct {
		n    *netlab.Netns
		args []string
	}
	cmds := []cmd{
		{e.NS["lns"], []string{"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"}},
		{e.NS["lns"], []string{"ip", "-6", "addr", "add", bench6LNSUp.String(), "dev", "eth1", "nodad"}},
		{e.NS["upstream"], []string{"ip", "-6", "addr", "add", bench6Up.String(), "dev", "eth0", "nodad"}},
		{kern[1], []string{"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"}},
		{kern[2], []string{"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"}},
	}
	for i, dev := range []struct {
		n   *netlab.Netns
		dev string
	}{{kern[0], "eth0"}, {kern[1], "eth0"}, {kern[1], "eth1"}, {kern[2], "eth0"}, {kern[2], "eth1"}, {kern[3], "eth0"}} {
		cmds = append(cmds, cmd{dev.n, []string{"ip", "-6", "addr", "add", kern6[i], "dev", dev.dev, "nodad"}})
	}
	cmds = append(cmds,
		cmd{kern[0], []string{"ip", "-6", "route", "add", "default", "via", "2001:db8:254:0::1"}},
		cmd{kern[1], []string{"ip", "-6", "route", "add", "2001:db8:254:2::/64", "via", "2001:db8:254:1::2"}},
		cmd{kern[2], []string{"ip", "-6", "route", "add", "2001:db8:254:0::/64", "via", "2001:db8:254:1::1"}},
		cmd{kern[3], []string{"ip", "-6", "route", "add", "default", "via", "2001:db8:254:2::1"}},
	)
	for _, c := range cmds {
		if out, err := c.n.Run(c.args[0], c.args[1:]...); err != nil {
			return fmt.Errorf("lab: IPv6 set-up in %s: %v: %w: %s", c.n.Name, c.args, err, out)
		}
	}
	return nil
}
