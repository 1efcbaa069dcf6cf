package lac

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/task"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// DaemonOptions are the run-time options of RunDaemon.
type DaemonOptions struct {
	Logger *slog.Logger
	// ConfigPath is the file the configuration was read from, re-read by
	// a reload (SIGHUP, bras reload, POST /api/v1/reload); empty: the
	// daemon refuses to reload.
	ConfigPath string
	// ReloadSignal delivers the signals (SIGHUP) that reload.
	ReloadSignal <-chan os.Signal
	// ApplyLog, when set, applies the logging of a reloaded configuration
	// (levels, format); its error refuses the reload before anything
	// else changes.
	ApplyLog func(*FileConfig) error
	// Logging is the daemon's logging (internal/logx): its logger, unless
	// Logger is set, and the levels PUT /api/v1/log-level changes.
	Logging *logx.Logging
}

// daemon is the LAC's parts as RunDaemon builds them; a part the
// configuration does not name stays nil.
type daemon struct {
	c   *FileConfig
	log *slog.Logger

	root    *slog.Logger  // log without its component (lac)
	logging *logx.Logging // nil when the caller gave only a Logger

	conn      *net.UDPConn
	moreConns []*net.UDPConn // [lac] source-ports: on the ports after conn's
	connIP    *net.IPConn    // L2TPv3 over IP, when an [lns] has encap = ip
	fast      *dataplane.LACPath
	lac       *LAC
	radius    *aaa.Client
	ep        *l2tp.Endpoint
	epIP      *l2tp.Endpoint
	metricsLn net.Listener
	apiLn     net.Listener
	api       *api.Server
	reg       *metrics.Registry
	servers   []*pppoe.Server
	ran       bool // the PPPoE servers were run (and so closed their sockets)
	rl        reloader
	reloadMu  sync.Mutex // one reload at a time

	access []*Access // the handler of each [access] interface
}

// RunDaemon runs the LAC of cfg until ctx is done, then shuts down
// gracefully: CDN and PADT for every session, StopCCN for every tunnel.
// The parts run as named tasks (see run); whatever fails, every goroutine
// is joined and every socket closed before it returns.
func RunDaemon(ctx context.Context, c *FileConfig, o DaemonOptions) error {
	d := &daemon{c: c, root: o.Logger, logging: o.Logging, rl: reloader{path: o.ConfigPath, applyLog: o.ApplyLog, signals: o.ReloadSignal, cur: c}}
	if d.root == nil && o.Logging != nil {
		d.root = o.Logging.Logger()
	}
	if d.root == nil {
		d.root = slog.New(slog.DiscardHandler)
	}
	d.log = d.logFor(logx.LAC)
	defer d.close()
	if err := d.build(); err != nil {
		return err
	}
	return d.run(ctx)
}

// logFor is the logger of a component of the daemon.
func (d *daemon) logFor(component string) *slog.Logger {
	return d.root.With(logx.KeyComponent, component)
}

// build makes every part; none starts a goroutine.
func (d *daemon) build() error {
	cfg, err := d.config()
	if err != nil {
		return err
	}
	if err := d.listenL2TP(); err != nil {
		return err
	}
	cfg.DataConn = d.conn
	cfg.MoreDataConns, cfg.IPDataConn = d.moreConns, d.connIP
	if d.fast, err = openFastPath(d.c, d.logFor(logx.Dataplane), d.conn.LocalAddr(), 1+len(d.moreConns)); err != nil {
		return err
	}
	// The subscriber's IP MTU is its PPPoE payload, 1492 by default; the
	// relay clamps like the fast path.
	plan, _ := d.c.Dataplane.Check()
	cfg.MSS = plan.ClampFor(1492)
	if d.fast != nil {
		cfg.Fast, cfg.FastLocal = d.fast, d.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	if d.lac, err = New(cfg); err != nil {
		return err
	}
	g := d.c.LAC
	ec := l2tp.Config{HostName: g.HostName, VendorName: "bras", Logger: d.logFor(logx.L2TP), Handler: d.lac.L2TPHandler(),
		DataSinks: d.lac.BatchedData, ShutdownTimeout: 2 * time.Second, Stats: new(l2tp.Stats), MoreConns: d.moreConns}
	if d.ep, err = l2tp.NewEndpoint(d.conn, ec); err != nil {
		return err
	}
	d.lac.Attach(d.ep)
	if d.connIP != nil {
		ec.MoreConns = nil
		if d.epIP, err = l2tp.NewEndpoint(d.connIP, ec); err != nil {
			return err
		}
		d.lac.AttachIP(d.epIP)
	}
	if err := d.listenHTTP(); err != nil {
		return err
	}
	return d.accessServers()
}

// config is the LAC's Config from the file, with the RADIUS client when
// tunnels are selected by RADIUS.
func (d *daemon) config() (Config, error) {
	routes, err := d.c.Routes()
	if err != nil {
		return Config{}, err
	}
	g := d.c.LAC
	cfg := Config{
		Logger: d.log, Routes: routes, HoldDown: g.HoldDown, DialTimeout: g.DialTimeout, CallTimeout: g.CallTimeout,
		SessionsPerTunnel: g.SessionsPerTunnel, Tunnels: g.Tunnels, HeldFrames: g.HeldFrames, ReadyWait: g.ReadyWait, Shards: g.Shards, Workers: g.Workers,
		Tunnel: l2tp.TunnelOptions{HelloInterval: g.HelloInterval, RetransmitInitial: g.RetransmitInitial, RetransmitCap: g.RetransmitCap, MaxRetries: g.MaxRetries},
		Echo:   ppp.EchoConfig{Interval: g.EchoInterval, MaxFailures: g.EchoFailures},
	}
	for _, a := range g.Auth {
		p, _ := parseAuth(a)
		cfg.Auth = append(cfg.Auth, p)
	}
	if g.TunnelSelection != "radius" {
		return cfg, nil
	}
	rc := aaa.ClientConfig{Timeout: d.c.RADIUS.Timeout, Retries: d.c.RADIUS.Retries, NASIdentifier: d.c.RADIUS.NASIdentifier,
		NASIPAddress: d.c.RADIUS.NASIPAddress, Logger: d.logFor(logx.RADIUS)}
	if rc.NASIdentifier == "" {
		rc.NASIdentifier = g.HostName
	}
	for _, s := range d.c.RADIUS.Servers {
		ma, _ := aaa.ParseMAPolicy(s.RequireMessageAuthenticator)
		if s.RequireMessageAuthenticator == "" {
			ma = aaa.MAAuto
		}
		rc.Servers = append(rc.Servers, aaa.Server{Addr: s.Address.String(), Secret: s.Secret.Bytes(), RequireMessageAuthenticator: ma})
	}
	if d.radius, err = aaa.NewClient(rc); err != nil {
		return Config{}, err
	}
	cfg.RADIUS = d.radius
	return cfg, nil
}

// listenL2TP opens the tunnels' UDP socket with the configured buffers, and
// the raw socket of L2TPv3 over IP when an [lns] asks for it.
func (d *daemon) listenL2TP() error {
	g := d.c.LAC
	listen := g.Listen
	if !listen.IsValid() {
		listen = netip.MustParseAddrPort("0.0.0.0:1701")
	}
	var err error
	if d.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(listen)); err != nil {
		return fmt.Errorf("lac: %w", err)
	}
	got, err := udpio.SetBuffers(d.conn, g.udpBuffers())
	if err != nil {
		return fmt.Errorf("lac: %w", err)
	}
	udpio.LogBuffers(d.log, "l2tp", g.udpBuffers(), got)
	base := d.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := 1; i < g.SourcePorts; i++ {
		if int(base.Port())+i > 65535 {
			return fmt.Errorf("lac: source-ports %d: past port 65535 from %d", g.SourcePorts, base.Port())
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(listen.Addr(), base.Port()+uint16(i))))
		if err != nil {
			return fmt.Errorf("lac: source-ports: %w", err)
		}
		d.moreConns = append(d.moreConns, c)
		if _, err := udpio.SetBuffers(c, g.udpBuffers()); err != nil {
			return fmt.Errorf("lac: %w", err)
		}
	}
	if len(d.moreConns) > 0 {
		d.log.Info("lac: tunnels spread across source ports", "first", base.Port(), "ports", 1+len(d.moreConns))
	}
	for _, l := range d.c.LNS {
		if l.encap() != l2tp.EncapIP {
			continue
		}
		// RFC 3931 section 4.1.1: one raw socket of protocol 115 on
		// the tunnels' local address carries every LNS's tunnels.
		ip := listen.Addr()
		if d.connIP, err = l2tp.ListenIP(ip); err != nil {
			return fmt.Errorf("lac: L2TPv3 over IP (encap = ip): %w", err)
		}
		if _, err := udpio.SetBuffers(d.connIP, g.udpBuffers()); err != nil {
			return fmt.Errorf("lac: %w", err)
		}
		d.log.Info("lac: L2TPv3 over IP protocol 115", "listen", ip.String())
		break
	}
	return nil
}

// listenHTTP opens the listeners of /metrics and of the API, before any
// part runs, so that an address in use stops the start-up cleanly.
func (d *daemon) listenHTTP() error {
	g := d.c.LAC
	if !g.MetricsListen.IsValid() && !d.c.API.Enabled() {
		return nil
	}
	d.reg = metrics.New()
	d.reg.RegisterRuntime()
	api.RegisterBuildInfo(d.reg)
	d.lac.RegisterMetrics(d.reg)
	if d.radius != nil {
		d.radius.RegisterMetrics(d.reg)
	}
	d.rl.counts = d.reg.NewCounter(metrics.ConfigReloads, "Configuration reloads by result: ok (applied) or refused (the configuration in force stayed).", "result")
	d.rl.counts.With("ok")
	d.rl.counts.With("refused")
	var err error
	if g.MetricsListen.IsValid() {
		if d.metricsLn, err = net.Listen("tcp", g.MetricsListen.String()); err != nil {
			return fmt.Errorf("lac: metrics-listen: %w", err)
		}
	}
	if !d.c.API.Enabled() {
		return nil
	}
	st := d.c.API.settings()
	ac := st.Config()
	ac.Backend, ac.Metrics, ac.Logger = d.lac.API(), d.reg, d.logFor(logx.API)
	if d.logging != nil {
		ac.LogLevels = d.logging
	}
	ac.RADIUS = api.RADIUSOf(d.radius)
	ac.Setups = api.NewSetupHistory(d.lac.SetupCounts, nil)
	ac.Reload = d.reload
	if d.api, err = api.New(ac); err != nil {
		return fmt.Errorf("lac: api: %w", err)
	}
	if d.apiLn, err = net.Listen("tcp", ac.Listen); err != nil {
		return fmt.Errorf("lac: api: %w", err)
	}
	return nil
}

// accessServers opens a PPPoE access concentrator on each [access]
// interface.
func (d *daemon) accessServers() error {
	g := d.c.LAC
	for _, a := range d.c.Access {
		ac, _ := a.access() // checked by Validate
		ac.ServiceModes = map[string]Mode{}
		ac.Mode, _ = ParseMode(a.Mode)
		for _, s := range a.ProxyServices {
			ac.ServiceModes[s] = ModeProxy
		}
		for _, s := range a.TransparentServices {
			ac.ServiceModes[s] = ModeTransparent
		}
		acc := d.lac.NewAccess(ac)
		ranges, _ := a.ranges() // checked by Validate
		sc := pppoe.ServerConfig{Interface: a.Interface, VLANRanges: ranges, ServeUntagged: a.Untagged || len(ranges) == 0,
			UserVLANs: a.UserVLANs, MaxSessionsPerVLAN: a.MaxSessionsPerVLAN, ACName: a.ACName, Services: a.Services, MaxPayload: a.MaxPayload,
			MaxSessions: a.MaxSessions, MaxSessionsPerMAC: a.MaxSessionsPerMAC, PADIRate: a.PADIRate,
			CookieSecret: a.CookieSecret.Bytes(), Logger: d.logFor(logx.PPPoE)}
		sc.RxRing, sc.NoRxRing, _ = a.rxRing() // checked by Validate
		sc.NoControlSocket = a.ControlSocket == "off"
		if len(a.Services) > 0 {
			sc.ServicePolicy = pppoe.ServiceList
		}
		if sc.ACName == "" {
			sc.ACName = g.HostName
		}
		srv, err := pppoe.NewServer(sc, acc)
		if err != nil {
			return fmt.Errorf("lac: access %s: %w", a.Interface, err)
		}
		acc.Bind(srv)
		d.servers = append(d.servers, srv)
		d.access = append(d.access, acc)
	}
	if d.reg != nil {
		ifaces := make([]string, len(d.c.Access))
		for i, a := range d.c.Access {
			ifaces[i] = a.Interface
		}
		registerPPPoE(d.reg, ifaces, d.servers)
	}
	return nil
}

// close closes the parts that were made, whichever step failed.
func (d *daemon) close() {
	if !d.ran && len(d.servers) > 0 {
		// A pppoe.Server closes its sockets when its Run ends: a
		// cancelled context ends it at once.
		done, cancel := context.WithCancel(context.Background())
		cancel()
		for _, srv := range d.servers {
			srv.Run(done)
		}
	}
	for _, ln := range []net.Listener{d.apiLn, d.metricsLn} {
		if ln != nil {
			ln.Close()
		}
	}
	if d.fast != nil {
		d.fast.Close()
	}
	if d.conn != nil {
		d.conn.Close()
	}
	for _, c := range d.moreConns {
		c.Close()
	}
	if d.connIP != nil {
		d.connIP.Close()
	}
}

// run starts the parts as named tasks (corerad's Serve is the model): the
// L2TP endpoint, the sessions' shards and workers, a PPPoE server per
// access interface, /metrics and the API. When ctx is done or a task
// fails or ends, the LAC shuts down gracefully while the others still
// run; run returns once every task has ended, with the first error, which
// names its task.
func (d *daemon) run(ctx context.Context) error {
	tasks := task.New(context.Background())
	tasks.Go("lac: l2tp endpoint", d.ep.Run)
	if d.epIP != nil {
		tasks.Go("lac: l2tp endpoint over ip", d.epIP.Run)
	}
	tasks.Go("lac: sessions", d.lac.Run)
	for i, srv := range d.servers {
		tasks.Go("lac: pppoe "+d.c.Access[i].Interface, srv.Run)
	}
	d.ran = true
	if len(d.access) > 0 {
		tasks.Go("lac: carrier", d.watchCarrier)
	}
	if d.metricsLn != nil {
		tasks.Go("lac: metrics", d.serveMetrics)
	}
	if d.api != nil {
		tasks.Go("lac: api", func(ctx context.Context) error { return d.api.Serve(ctx, d.apiLn) })
	}
	if d.rl.signals != nil {
		tasks.Go("lac: reload", d.serveReloads)
	}
	g := d.c.LAC
	d.log.Info("lac: running", "host_name", g.HostName, "listen", d.conn.LocalAddr().String(), "access", len(d.servers), "lns", len(d.c.LNS))
	select {
	case <-ctx.Done():
	case <-tasks.Context().Done():
	}
	timeout := g.ShutdownTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	d.lac.Shutdown(sctx)
	cancel()
	tasks.Stop()
	err := tasks.Wait()
	d.log.Info("lac: stopped")
	return err
}

// serveMetrics serves /metrics until ctx is done.
func (d *daemon) serveMetrics(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", d.reg.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	defer context.AfterFunc(ctx, func() { hs.Close() })()
	if err := hs.Serve(d.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
