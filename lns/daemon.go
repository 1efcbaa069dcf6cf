package lns

import (
	"context"
	"errors"
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
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/tun"
	"github.com/bras-project/bras/internal/udpio"
)

// DaemonOptions adjust how RunDaemon builds the LNS.
type DaemonOptions struct {
	Logger *slog.Logger
	// Enter, when set, runs the creation of sockets and of the TUN device
	// (for example inside a network namespace, for tests and the lab).
	Enter func(fn func() error) error
	// Ready is called with the running Server once it serves.
	Ready func(*Server)
}

// RunDaemon builds every part the configuration names (UDP socket, TUN
// device, RADIUS client, CoA server, accounting with its spool and
// PostgreSQL, the HTTP API) and runs the LNS until ctx is done, then shuts
// down gracefully: Stop for every session, CDN and StopCCN, Accounting-Off,
// the spool flushed.
func RunDaemon(ctx context.Context, cfg *FileConfig, o DaemonOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	enter := o.Enter
	if enter == nil {
		enter = func(fn func() error) error { return fn() }
	}
	var (
		conn    *net.UDPConn
		coaConn net.PacketConn
		apiLn   net.Listener
		dev     *tun.Device
		link    *tun.Link
		fast    *dataplane.LNSPath
	)
	err := enter(func() error {
		var err error
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.LNS.Listen))
		if err != nil {
			return fmt.Errorf("lns: listen %s: %w", cfg.LNS.Listen, err)
		}
		want := udpio.Buffers{Receive: cfg.LNS.UDPReceiveBuffer, Send: cfg.LNS.UDPSendBuffer}
		got, err := udpio.SetBuffers(conn, want)
		if err != nil {
			return fmt.Errorf("lns: listen %s: %w", cfg.LNS.Listen, err)
		}
		udpio.LogBuffers(log, "l2tp", want, got)
		if cfg.CoA.Listen.IsValid() {
			if coaConn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.CoA.Listen)); err != nil {
				return fmt.Errorf("lns: coa listen %s: %w", cfg.CoA.Listen, err)
			}
		}
		if !cfg.API.Token.Empty() {
			listen := cfg.API.Listen
			if listen == "" {
				listen = api.DefaultListen
			}
			if apiLn, err = net.Listen("tcp", listen); err != nil {
				return fmt.Errorf("lns: api listen %s: %w", listen, err)
			}
		}
		if dev, err = tun.Open(cfg.TUN.Name, cfg.TUN.Queues); err != nil {
			return err
		}
		h, err := netlink.NewHandle()
		if err != nil {
			return fmt.Errorf("lns: netlink: %w", err)
		}
		if link, err = tun.NewLink(h, dev.Name()); err != nil {
			return err
		}
		if err := link.Up(cfg.TUN.MTU); err != nil {
			return err
		}
		if err := link.AddAddr(cfg.TUN.Address); err != nil {
			return err
		}
		fast, err = openFastPath(cfg, log)
		return err
	})
	closeAll := func() {
		for _, c := range []interface{ Close() error }{conn, dev} {
			if c != nil && !isNilCloser(c) {
				c.Close()
			}
		}
		if coaConn != nil {
			coaConn.Close()
		}
		if apiLn != nil {
			apiLn.Close()
		}
		if fast != nil {
			fast.Close()
		}
	}
	if err != nil {
		closeAll()
		return err
	}
	defer closeAll()

	deps := Deps{Conn: conn, Logger: log, TUN: TUNQueues(dev), Fast: fast}
	if cfg.TUN.Routes == "per-session" {
		deps.Routes = link
	} else {
		for _, p := range cfg.Pools {
			for _, r := range p.Ranges {
				if pfx, err := netip.ParsePrefix(r); err == nil {
					if err := link.AddRoute(pfx.Masked()); err != nil {
						return err
					}
				}
			}
		}
	}

	var radius *aaa.Client
	if len(cfg.RADIUS.Servers) > 0 {
		cc := aaa.ClientConfig{
			Timeout:       cfg.RADIUS.Timeout,
			Retries:       cfg.RADIUS.Retries,
			DeadTime:      cfg.RADIUS.DeadTime,
			MaxInFlight:   cfg.RADIUS.MaxInFlight,
			NASIdentifier: cfg.RADIUS.NASIdentifier,
			NASIPAddress:  cfg.RADIUS.NASIPAddress,
			Logger:        log,
		}
		for _, s := range cfg.RADIUS.Servers {
			p, _ := aaa.ParseMAPolicy(s.RequireMessageAuthenticator)
			cc.Servers = append(cc.Servers, aaa.Server{Addr: s.Address, Secret: s.Secret.Bytes(), RequireMessageAuthenticator: p})
		}
		for _, s := range cfg.RADIUS.AcctServers {
			p, _ := aaa.ParseMAPolicy(s.RequireMessageAuthenticator)
			cc.AcctServers = append(cc.AcctServers, aaa.Server{Addr: s.Address, Secret: s.Secret.Bytes(), RequireMessageAuthenticator: p})
		}
		if radius, err = aaa.NewClient(cc); err != nil {
			return err
		}
	}
	var users *aaa.LocalUsers
	if cfg.LocalUsers.File != "" {
		f, err := os.Open(cfg.LocalUsers.File)
		if err != nil {
			return fmt.Errorf("lns: local users: %w", err)
		}
		users, err = aaa.ParseLocalUsers(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("lns: %s: %w", cfg.LocalUsers.File, err)
		}
	}
	if deps.Auth, err = aaa.SelectAuthenticator(radius, users); err != nil {
		return err
	}

	var (
		db      *accounting.DB
		store   *accounting.Store
		reports *accounting.Reports
	)
	if !cfg.Accounting.Database.Empty() {
		if db, err = accounting.OpenLazy(string(cfg.Accounting.Database.Bytes()), 8); err != nil {
			return err
		}
		defer db.Close()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := accounting.CheckSchema(cctx, db)
		cancel()
		if err != nil {
			return err
		}
		store = accounting.NewStore(db, cfg.LNS.Node)
		reports = accounting.NewReports(db)
		deps.AuthLog = func(ctx context.Context, user, result, reply string, at time.Time) {
			if err := store.RecordAuth(ctx, user, result, reply, at); err != nil {
				log.Debug("auth log write failed", "err", err)
			}
		}
		if cfg.Accounting.SharedPools {
			for _, p := range cfg.Pools {
				for _, r := range p.Ranges {
					pfx, err := netip.ParsePrefix(r)
					if err != nil {
						return fmt.Errorf("lns: pool %q: shared pools take CIDR ranges, got %q", p.Name, r)
					}
					if _, err := store.AddPool(ctx, p.Name, pfx.Masked()); err != nil {
						return err
					}
				}
			}
			deps.Pool = store
		}
	}

	sinks := map[string]accounting.Sink{}
	if store != nil {
		sinks["postgres"] = store
	}
	if cfg.Accounting.RADIUS && radius != nil {
		sinks["radius"] = &accounting.RADIUSSink{Client: radius}
	}
	var acct *accounting.Accountant
	acctCtx, stopAcct := context.WithCancel(context.Background())
	defer stopAcct()
	acctDone := make(chan error, 1)
	if len(sinks) > 0 {
		acct, err = accounting.NewAccountant(accounting.AccountantConfig{
			SpoolDir: cfg.Accounting.SpoolDir,
			Sinks:    sinks,
			Node:     cfg.LNS.Node,
			Logger:   log,
			Interim:  cfg.Accounting.InterimInterval,
		})
		if err != nil {
			return err
		}
		deps.Acct = acct
		go func() { acctDone <- acct.Run(acctCtx) }()
		if store != nil {
			// Sessions this node left open when it stopped without a
			// Stop: closed with cause NAS-Reboot and their last counters,
			// once the spool of the last run has been replayed (a Start
			// still in the spool has no row to close yet).
			booted := time.Now()
			wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := acct.WaitReplayed(wctx)
			cancel()
			if err != nil {
				log.Warn("the spool of the last run is not replayed yet (database down?): sessions it left open are not closed now", "err", err)
			} else if n, err := store.CloseOrphans(ctx, cfg.LNS.Node, booted); err != nil {
				log.Warn("closing the sessions left open by the last run failed", "err", err)
			} else if n > 0 {
				log.Info("closed sessions left open by the last run", "sessions", n, "cause", "NAS-Reboot")
			}
		}
	} else {
		acctDone <- nil
	}
	if cfg.Accounting.RADIUS && radius != nil {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := radius.Account(cctx, aaa.AcctRequest{Status: aaa.AcctOn}); err != nil {
				log.Warn("Accounting-On not acknowledged", "err", err)
			}
		}()
	}

	srv, err := NewServer(cfg, deps)
	if err != nil {
		return err
	}
	reg := metrics.New()
	srv.RegisterMetrics(reg)
	if radius != nil {
		radius.RegisterMetrics(reg)
	}
	if acct != nil {
		reg.GaugeFunc(metrics.SpoolDepth, "Accounting bytes spooled and not yet delivered to the slowest sink.", nil,
			func() float64 { return float64(acct.Stats().SpoolPending) })
	}
	reg.RegisterRuntime()

	errc := make(chan error, 4)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	services := 1
	go func() { errc <- srv.Run(runCtx) }()
	if coaConn != nil {
		var clients []aaa.DynamicClient
		for _, c := range cfg.CoA.Clients {
			clients = append(clients, aaa.DynamicClient{Addr: c.Address, Secret: c.Secret.Bytes()})
		}
		coa := aaa.NewCoAServer(coaConn, clients, srv.CoAHandler(), log)
		coa.RequireEventTimestamp, coa.ReplayWindow = cfg.CoA.RequireEventTimestamp, cfg.CoA.ReplayWindow
		coa.RegisterMetrics(reg)
		services++
		go func() { errc <- coa.Run(runCtx) }()
	}
	if apiLn != nil {
		ac := cfg.API.Config()
		ac.Backend = srv.API()
		ac.Metrics = reg
		ac.Logger = log
		if reports != nil {
			ac.Reports = ReportsOf(reports)
		}
		a, err := api.New(ac)
		if err != nil {
			return err
		}
		services++
		go func() { errc <- a.Serve(runCtx, apiLn) }()
	}
	if o.Ready != nil {
		o.Ready(srv)
	}
	var first error
	for i := 0; i < services; i++ {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) && first == nil {
			first = err
			stop()
		}
		if i == 0 {
			stop()
		}
	}
	if acct != nil {
		// Graceful shutdown: every Stop delivered, or left in the spool
		// for the next start when a sink stays down.
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := acct.WaitDelivered(wctx); err != nil {
			log.Warn("accounting not fully delivered at shutdown; the rest stays in the spool", "err", err)
		}
		cancel()
	}
	// Accounting-Off after the Stops (RFC 2866 section 5.1).
	if cfg.Accounting.RADIUS && radius != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := radius.Account(cctx, aaa.AcctRequest{Status: aaa.AcctOff}); err != nil {
			log.Warn("Accounting-Off not acknowledged", "err", err)
		}
		cancel()
	}
	stopAcct()
	if err := <-acctDone; err != nil && !errors.Is(err, context.Canceled) && first == nil {
		first = err
	}
	return first
}

func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *net.UDPConn:
		return v == nil
	case *tun.Device:
		return v == nil
	}
	return false
}
