package lns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/task"
	"github.com/bras-project/bras/internal/tun"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
)

// DaemonOptions adjust how RunDaemon builds the LNS.
type DaemonOptions struct {
	Logger *slog.Logger
	// Logging is the daemon's logging (internal/logx): its logger, unless
	// Logger is set, and the levels PUT /api/v1/log-level changes.
	Logging *logx.Logging
	// Enter, when set, runs the creation of sockets and of the TUN device
	// (for example inside a network namespace, for tests and the lab).
	Enter func(fn func() error) error
	// Ready is called with the running Server once it serves.
	Ready func(*Server)
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
}

// daemon is the LNS's parts as RunDaemon builds them; a part the
// configuration does not name stays nil.
type daemon struct {
	cfg *FileConfig
	log *slog.Logger

	root    *slog.Logger  // log without its component (lns)
	logging *logx.Logging // nil when the caller gave only a Logger

	// Opened by open, in the namespace of DaemonOptions.Enter.
	conn    *net.UDPConn
	connIP  *net.IPConn // [lns] listen-ip: L2TPv3 over IP
	coaConn *net.UDPConn
	apiLn   net.Listener
	dev     *tun.Device
	nl      *netlink.Handle
	link    *tun.Link
	fast    *dataplane.LNSPath

	radius  *aaa.Client
	db      *accounting.DB
	store   *accounting.Store
	authLog *accounting.AuthLog
	reports *accounting.Reports
	acct    *accounting.Accountant
	srv     *Server
	coa     *aaa.CoAServer
	api     *api.Server
	rl      reloader
}

// RunDaemon builds every part the configuration names (UDP socket, TUN
// device, RADIUS client, CoA server, accounting with its spool and
// PostgreSQL, the HTTP API) and runs the LNS until ctx is done, then shuts
// down gracefully: Stop for every session, CDN and StopCCN, Accounting-Off,
// the spool flushed. The parts run as named tasks (see run); whatever
// fails, every goroutine is joined and every part closed before it returns.
func RunDaemon(ctx context.Context, cfg *FileConfig, o DaemonOptions) error {
	d := &daemon{cfg: cfg, root: o.Logger, logging: o.Logging, rl: reloader{path: o.ConfigPath, applyLog: o.ApplyLog, signals: o.ReloadSignal}}
	if d.root == nil && o.Logging != nil {
		d.root = o.Logging.Logger()
	}
	if d.root == nil {
		d.root = slog.New(slog.DiscardHandler)
	}
	d.log = d.logFor(logx.LNS)
	enter := o.Enter
	if enter == nil {
		enter = func(fn func() error) error { return fn() }
	}
	defer d.close()
	if err := enter(d.open); err != nil {
		return err
	}
	if err := d.build(ctx); err != nil {
		return err
	}
	return d.run(ctx, o.Ready)
}

// logFor is the logger of a component of the daemon.
func (d *daemon) logFor(component string) *slog.Logger {
	return d.root.With(logx.KeyComponent, component)
}

// open makes the sockets and the TUN device, in the caller's namespace.
func (d *daemon) open() error {
	cfg := d.cfg
	var err error
	if d.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.LNS.Listen)); err != nil {
		return fmt.Errorf("lns: listen %s: %w", cfg.LNS.Listen, err)
	}
	want := udpio.Buffers{Receive: cfg.LNS.UDPReceiveBuffer, Send: cfg.LNS.UDPSendBuffer}
	got, err := udpio.SetBuffers(d.conn, want)
	if err != nil {
		return fmt.Errorf("lns: listen %s: %w", cfg.LNS.Listen, err)
	}
	udpio.LogBuffers(d.log, "l2tp", want, got)
	if ip := cfg.LNS.ListenIP; ip.IsValid() {
		if d.connIP, err = l2tp.ListenIP(ip); err != nil {
			return fmt.Errorf("lns: listen-ip %s (L2TPv3 over IP protocol 115): %w", ip, err)
		}
		if _, err := udpio.SetBuffers(d.connIP, want); err != nil {
			return fmt.Errorf("lns: listen-ip %s: %w", ip, err)
		}
	}
	if cfg.CoA.Listen.IsValid() {
		if d.coaConn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.CoA.Listen)); err != nil {
			return fmt.Errorf("lns: coa listen %s: %w", cfg.CoA.Listen, err)
		}
	}
	if !cfg.API.Token.Empty() {
		listen := cfg.API.Listen
		if listen == "" {
			listen = api.DefaultListen
		}
		if d.apiLn, err = net.Listen("tcp", listen); err != nil {
			return fmt.Errorf("lns: api listen %s: %w", listen, err)
		}
	}
	if d.dev, err = tun.OpenWith(cfg.TUN.Name, cfg.TUN.Queues, tun.Options{Offload: cfg.TUN.Offload == "on"}); err != nil {
		return err
	}
	if o := d.dev.Offload(); cfg.TUN.Offload == "on" {
		d.log.Info("lns: TUN offloads", "tso", o.TSO, "uso", o.USO)
	}
	if d.nl, err = netlink.NewHandle(); err != nil {
		return fmt.Errorf("lns: netlink: %w", err)
	}
	if d.link, err = tun.NewLink(d.nl, d.dev.Name()); err != nil {
		return err
	}
	if err := d.link.Up(cfg.TUN.MTU); err != nil {
		return err
	}
	if err := d.link.AddAddr(cfg.TUN.Address); err != nil {
		return err
	}
	d.fast, err = openFastPath(cfg, d.logFor(logx.Dataplane))
	return err
}

// close closes the parts that were made, whichever step failed.
func (d *daemon) close() {
	if d.fast != nil {
		d.fast.Close()
	}
	if d.nl != nil {
		d.nl.Close()
	}
	if d.dev != nil {
		d.dev.Close()
	}
	if d.apiLn != nil {
		d.apiLn.Close()
	}
	if d.coaConn != nil {
		d.coaConn.Close()
	}
	if d.conn != nil {
		d.conn.Close()
	}
	if d.connIP != nil {
		d.connIP.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
}

// build makes the parts that start no goroutine: the routes to the pools,
// authentication, the accounting database and accountant, the Server, the
// CoA server and the API.
func (d *daemon) build(ctx context.Context) error {
	deps := Deps{Conn: d.conn, ConnIP: d.connIP, Logger: d.log, TUN: TUNQueues(d.dev), Fast: d.fast}
	if d.cfg.TUN.Routes == "per-session" {
		deps.Routes = d.link
	} else if err := d.poolRoutes(); err != nil {
		return err
	}
	var err error
	if deps.Auth, err = d.authenticator(); err != nil {
		return err
	}
	if err := d.openDatabase(ctx, &deps); err != nil {
		return err
	}
	if deps.Acct, err = d.accountant(); err != nil {
		return err
	}
	d.acct = deps.Acct
	if d.srv, err = NewServer(d.cfg, deps); err != nil {
		return err
	}
	reg := d.metrics()
	d.coa = d.coaServer(reg)
	d.api, err = d.apiServer(reg)
	return err
}

// poolRoutes routes every pool into the TUN device, when the routes are
// not made per session: the CIDR ranges of [pool], the prefixes of
// [pool6].
func (d *daemon) poolRoutes() error {
	for _, p := range d.cfg.Pools6 {
		if err := d.link.AddRoute(p.Prefix); err != nil {
			return err
		}
	}
	for _, p := range d.cfg.Pools {
		for _, r := range p.Ranges {
			if pfx, err := netip.ParsePrefix(r); err == nil {
				if err := d.link.AddRoute(pfx.Masked()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// authenticator is the RADIUS client or the local users file.
func (d *daemon) authenticator() (aaa.Authenticator, error) {
	cfg := d.cfg
	if len(cfg.RADIUS.Servers) > 0 {
		cc := aaa.ClientConfig{
			Timeout:       cfg.RADIUS.Timeout,
			Retries:       cfg.RADIUS.Retries,
			DeadTime:      cfg.RADIUS.DeadTime,
			MaxInFlight:   cfg.RADIUS.MaxInFlight,
			NASIdentifier: cfg.RADIUS.NASIdentifier,
			NASIPAddress:  cfg.RADIUS.NASIPAddress,
			Logger:        d.logFor(logx.RADIUS),
		}
		for _, s := range cfg.RADIUS.Servers {
			p, _ := aaa.ParseMAPolicy(s.RequireMessageAuthenticator)
			cc.Servers = append(cc.Servers, aaa.Server{Addr: s.Address, Secret: s.Secret.Bytes(), RequireMessageAuthenticator: p})
		}
		for _, s := range cfg.RADIUS.AcctServers {
			p, _ := aaa.ParseMAPolicy(s.RequireMessageAuthenticator)
			cc.AcctServers = append(cc.AcctServers, aaa.Server{Addr: s.Address, Secret: s.Secret.Bytes(), RequireMessageAuthenticator: p})
		}
		var err error
		if d.radius, err = aaa.NewClient(cc); err != nil {
			return nil, err
		}
	}
	var users *aaa.LocalUsers
	if cfg.LocalUsers.File != "" {
		f, err := os.Open(cfg.LocalUsers.File)
		if err != nil {
			return nil, fmt.Errorf("lns: local users: %w", err)
		}
		users, err = aaa.ParseLocalUsers(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("lns: %s: %w", cfg.LocalUsers.File, err)
		}
	}
	return aaa.SelectAuthenticator(d.radius, users)
}

// openDatabase opens the accounting database and checks its schema; it
// records authentications and, with shared pools, hands out addresses and
// IPv6 prefixes.
func (d *daemon) openDatabase(ctx context.Context, deps *Deps) error {
	cfg := d.cfg
	if cfg.Accounting.Database.Empty() {
		return nil
	}
	var err error
	if d.db, err = accounting.OpenLazy(string(cfg.Accounting.Database.Bytes()), 8); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = accounting.CheckSchema(cctx, d.db)
	cancel()
	if err != nil {
		return fmt.Errorf("lns: accounting database: %w", err)
	}
	d.store = accounting.NewStore(d.db, cfg.LNS.Node)
	d.reports = accounting.NewReports(d.db)
	// The authentication path queues its outcome; the auth log writes
	// them to PostgreSQL in batches.
	d.authLog = accounting.NewAuthLog(d.store, 0, d.log)
	deps.AuthLog = func(_ context.Context, user, result, reply string, at time.Time) {
		d.authLog.Add(accounting.AuthOutcome{Username: user, Result: result, Reply: reply, At: at})
	}
	if !cfg.Accounting.SharedPools {
		return nil
	}
	for _, p := range cfg.Pools {
		for _, r := range p.Ranges {
			pfx, err := netip.ParsePrefix(r)
			if err != nil {
				return fmt.Errorf("lns: pool %q: shared pools take CIDR ranges, got %q", p.Name, r)
			}
			if _, err := d.store.AddPool(ctx, p.Name, pfx.Masked()); err != nil {
				return err
			}
		}
	}
	for _, def := range cfg.Pool6Defs() {
		if err := d.store.AddPrefixPool(ctx, def); err != nil {
			return fmt.Errorf("lns: [pool6 %q]: %w", def.Name, err)
		}
	}
	deps.Pool = d.store
	deps.Prefixes = d.store
	return nil
}

// accountant delivers the sessions' records to PostgreSQL and RADIUS
// through the spool; nil when neither is configured.
func (d *daemon) accountant() (*accounting.Accountant, error) {
	sinks := map[string]accounting.Sink{}
	if d.store != nil {
		sinks["postgres"] = d.store
	}
	if d.radiusAccounting() {
		sinks["radius"] = &accounting.RADIUSSink{Client: d.radius}
	}
	if len(sinks) == 0 {
		return nil, nil
	}
	return accounting.NewAccountant(accounting.AccountantConfig{
		SpoolDir: d.cfg.Accounting.SpoolDir,
		Sinks:    sinks,
		Node:     d.cfg.LNS.Node,
		Logger:   d.logFor(logx.Accounting),
		Interim:  d.cfg.Accounting.InterimInterval,
		// A burst of set-ups shares spool fsyncs (group commit).
		CommitDelay: d.cfg.Accounting.CommitDelay,
	})
}

func (d *daemon) radiusAccounting() bool { return d.cfg.Accounting.RADIUS && d.radius != nil }

// coaServer answers Disconnect- and CoA-Requests (RFC 5176); nil without
// [coa] listen.
func (d *daemon) coaServer(reg *metrics.Registry) *aaa.CoAServer {
	if d.coaConn == nil {
		return nil
	}
	var clients []aaa.DynamicClient
	for _, c := range d.cfg.CoA.Clients {
		clients = append(clients, aaa.DynamicClient{Addr: c.Address, Secret: c.Secret.Bytes()})
	}
	coa := aaa.NewCoAServer(d.coaConn, clients, d.srv.CoAHandler(), d.logFor(logx.RADIUS))
	coa.RequireEventTimestamp, coa.ReplayWindow = d.cfg.CoA.RequireEventTimestamp, d.cfg.CoA.ReplayWindow
	coa.RegisterMetrics(reg)
	return coa
}

func (d *daemon) metrics() *metrics.Registry {
	reg := metrics.New()
	d.srv.RegisterMetrics(reg)
	if d.radius != nil {
		d.radius.RegisterMetrics(reg)
	}
	if a := d.acct; a != nil {
		reg.GaugeFunc(metrics.SpoolBytes, "Accounting bytes spooled and not yet delivered to the slowest sink.", nil,
			func() float64 { return float64(a.Stats().SpoolPending) })
		a.RegisterMetrics(reg)
	}
	if l := d.authLog; l != nil {
		reg.CounterVecFunc(metrics.AuthLogOutcomes, "Authentication outcomes for PostgreSQL's auth_log: written, or dropped while the database was away longer than the queue holds.",
			[]string{"result"}, func(emit func(float64, ...string)) {
				st := l.Stats()
				emit(float64(st.Written), "written")
				emit(float64(st.Dropped), "dropped")
			})
	}
	api.RegisterBuildInfo(reg)
	reg.RegisterRuntime()
	d.rl.counts = reg.NewCounter(metrics.ConfigReloads, "Configuration reloads by result: ok (applied) or refused (the configuration in force stayed).", "result")
	d.rl.counts.With("ok")
	d.rl.counts.With("refused")
	return reg
}

// apiServer is the HTTP API with the metrics; nil without an API token.
func (d *daemon) apiServer(reg *metrics.Registry) (*api.Server, error) {
	if d.apiLn == nil {
		return nil, nil
	}
	ac := d.cfg.API.Config()
	ac.Backend = d.srv.API()
	ac.Metrics = reg
	ac.Logger = d.logFor(logx.API)
	if d.logging != nil {
		ac.LogLevels = d.logging
	}
	ac.Reload = d.reload
	if d.reports != nil {
		ac.Reports = ReportsOf(d.reports)
	}
	ac.RADIUS = api.RADIUSOf(d.radius)
	ac.Setups = api.NewSetupHistory(d.srv.SetupCounts, nil)
	return api.New(ac)
}

// run starts the parts as named tasks (corerad's Serve is the model): the
// accountant first, on a context of its own, since it must outlive the
// LNS to take the Stops of its shutdown; then, once the spool of the last
// run is replayed and Accounting-On answered, the LNS (which accepts
// tunnels), the CoA server and the API. The first task to fail or end
// stops the others; run returns once every one has ended, with the first
// error, which names its task.
func (d *daemon) run(ctx context.Context, ready func(*Server)) error {
	acctCtx, stopAcct := context.WithCancel(context.Background())
	defer stopAcct()
	back := task.New(acctCtx)
	if d.acct != nil {
		back.Go("lns: accounting", d.acct.Run)
	}
	if d.authLog != nil {
		back.Go("lns: auth log", d.authLog.Run)
	}
	// A failed accountant stops the LNS too: it would lose the records.
	front := task.New(ctx)
	defer context.AfterFunc(back.Context(), front.Stop)()

	d.closeOrphans(front.Context())
	d.accountingOn(front.Context())
	front.Go("lns: l2tp server", d.srv.Run)
	if d.coa != nil {
		front.Go("lns: coa server", d.coa.Run)
	}
	if d.api != nil {
		front.Go("lns: api", func(ctx context.Context) error { return d.api.Serve(ctx, d.apiLn) })
	}
	if d.rl.signals != nil {
		front.Go("lns: reload", d.serveReloads)
	}
	if ready != nil {
		ready(d.srv)
	}
	err := front.Wait()

	d.drainAccounting()
	stopAcct()
	if berr := back.Wait(); err == nil {
		err = berr
	}
	return err
}

// closeOrphans closes the sessions this node left open when it stopped
// without their Stop, with cause NAS-Reboot and their last counters, once
// the spool of the last run has been replayed (a Start still in the spool
// has no row to close yet).
func (d *daemon) closeOrphans(ctx context.Context) {
	if d.acct == nil || d.store == nil {
		return
	}
	booted := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err := d.acct.WaitReplayed(wctx)
	cancel()
	if err != nil {
		d.log.Warn("the spool of the last run is not replayed yet (database down?): sessions it left open are not closed now", "err", err)
	} else if n, err := d.store.CloseOrphans(ctx, d.cfg.LNS.Node, booted); err != nil {
		d.log.Warn("closing the sessions left open by the last run failed", "err", err)
	} else if n > 0 {
		d.log.Info("closed sessions left open by the last run", "sessions", n, "cause", "NAS-Reboot")
	}
}

// accountingOn sends Accounting-On (RFC 2866 section 5.1) and waits for
// its answer before the LNS accepts tunnels, so that the RADIUS server
// closes the sessions of the last run before it sees a new Start. An
// unanswered Accounting-On is logged: the LNS serves without it.
func (d *daemon) accountingOn(ctx context.Context) {
	if !d.radiusAccounting() {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.radius.Account(cctx, aaa.AcctRequest{Status: aaa.AcctOn}); err != nil {
		d.log.Warn("Accounting-On not acknowledged", "err", err)
	}
}

// drainAccounting ends accounting after the LNS has stopped: every Stop
// delivered, or left in the spool for the next start when a sink stays
// down, then Accounting-Off (RFC 2866 section 5.1).
func (d *daemon) drainAccounting() {
	if d.acct != nil {
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := d.acct.WaitDelivered(wctx); err != nil {
			d.log.Warn("accounting not fully delivered at shutdown; the rest stays in the spool", "err", err)
		}
		cancel()
	}
	if d.radiusAccounting() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := d.radius.Account(cctx, aaa.AcctRequest{Status: aaa.AcctOff}); err != nil {
			d.log.Warn("Accounting-Off not acknowledged", "err", err)
		}
		cancel()
	}
}
