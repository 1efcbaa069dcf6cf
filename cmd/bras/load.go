package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/udpecho"
)

func init() {
	register("load", "emulate PPPoE subscribers: set-up rate, latency per stage, traffic loss", func(ctx context.Context, args []string) error {
		return runLoad(ctx, args, os.Stdout, os.Stderr)
	})
	register("echo", "UDP echo server (or sink) for the upstream end of bras load traffic", func(ctx context.Context, args []string) error {
		return runEcho(ctx, args, os.Stderr)
	})
}

// prefixList is a repeatable CIDR flag.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	var s []string
	for _, x := range *p {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (p *prefixList) Set(v string) error {
	x, err := netip.ParsePrefix(v)
	if err != nil {
		return err
	}
	*p = append(*p, x)
	return nil
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bras load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg                                      load.Config
		credFile, authName, macBase, target, out string
		target6                                  string
		echoServer                               string
		hold, duration, echoInterval             time.Duration
		maxFailed                                int
		maxLoss                                  float64
		quiet, verbose                           bool
		routes                                   prefixList
	)
	fs.StringVar(&cfg.Interface, "iface", "", "Ethernet interface the subscribers sit on (required); several, comma separated: subscriber i on the (i mod count)th")
	fs.IntVar(&cfg.Sessions, "n", 1, "number of subscribers")
	fs.Float64Var(&cfg.Rate, "rate", 0, "set-ups started per second (0: as fast as -inflight allows)")
	fs.IntVar(&cfg.InFlight, "inflight", 100, "cap on set-ups under way")
	fs.StringVar(&cfg.UserPattern, "user", "user%d", "user name pattern, %d is the subscriber number")
	fs.StringVar(&cfg.PasswordPattern, "password", "", "password (CHAP secret) pattern, %d is the subscriber number")
	fs.IntVar(&cfg.FirstIndex, "first", 0, "number of the first subscriber in the patterns")
	fs.StringVar(&credFile, "credentials", "", "file of \"username password\" lines, used instead of -user/-password")
	fs.StringVar(&authName, "auth", "any", "authentication the subscribers accept: pap, chap, mixed (even PAP, odd CHAP) or any")
	fs.StringVar(&macBase, "mac-base", "02:00:00:00:00:00", "first subscriber MAC; subscriber i uses base + i")
	fs.StringVar(&cfg.ServiceName, "service", "", "PPPoE Service-Name to ask for")
	fs.StringVar(&cfg.ACName, "ac-name", "", "accept offers only from this AC-Name")
	fs.DurationVar(&cfg.DiscoveryTimeout, "discovery-timeout", time.Second, "first wait for a PADO/PADS (doubles on retries)")
	fs.DurationVar(&cfg.SetupTimeout, "setup-timeout", 30*time.Second, "limit for one set-up, PADI to IPCP up")
	fs.DurationVar(&echoInterval, "lcp-echo", 0, "LCP Echo-Request interval (0: off)")
	fs.DurationVar(&cfg.Restart, "restart", 3*time.Second, "PPP restart timer (RFC 1661 section 4.6)")
	fs.IntVar(&cfg.Workers, "workers", 0, "goroutines driving PPP (default: one per CPU)")
	fs.BoolVar(&cfg.Redial, "redial", false, "a subscriber whose session ends (PADT, LCP Terminate, echo timeout, carrier loss) dials again until it is up (IPv4 only)")
	fs.DurationVar(&cfg.RedialDelay, "redial-delay", time.Second, "with -redial: wait before dialling again (spread over its second half), doubling after each failed attempt")
	fs.DurationVar(&cfg.RedialMax, "redial-max", 32*time.Second, "with -redial: the longest wait between attempts")
	fs.DurationVar(&hold, "hold", 0, "keep the sessions up (traffic running) this long after every set-up is done; negative: until interrupted")
	fs.DurationVar(&duration, "duration", 0, "upper bound of the whole run (0: none)")
	fs.StringVar(&target, "traffic-target", "", "UDP echo server IP:PORT upstream (bras echo); enables traffic")
	fs.StringVar(&target6, "traffic-target6", "", "UDP echo server [IPv6]:PORT upstream for the IPv6 probes (needs -ipv6)")
	fs.BoolVar(&cfg.IPv6, "ipv6", false, "dual stack: IPV6CP, Router Solicitation (SLAAC) and DHCPv6 prefix delegation next to IPCP")
	fs.BoolVar(&cfg.DHCPv6Address, "dhcpv6-address", false, "with -ipv6: ask DHCPv6 for an address too (IA_NA)")
	fs.DurationVar(&cfg.IPv6Timeout, "ipv6-timeout", 10*time.Second, "with -ipv6: limit for IPV6CP after IPCP, and for the prefixes after IPV6CP")
	fs.IntVar(&cfg.Traffic.Size, "traffic-size", 64, "IPv4 packet size of the probes, octets (IPv6 probes are 20 more)")
	fs.Float64Var(&cfg.Traffic.PPS, "traffic-pps", 10, "probes per second per session")
	fs.Float64Var(&cfg.Traffic.TotalPPS, "traffic-total-pps", 0, "probes per second of all sessions together (instead of -traffic-pps)")
	fs.BoolVar(&cfg.Traffic.Flood, "flood", false, "send as fast as possible once every set-up is done (forwarding benchmark)")
	fs.BoolVar(&cfg.Traffic.QueryUpstream, "query-upstream", true, "ask the echo server what it received, to split loss per direction")
	fs.StringVar(&cfg.TUN, "tun", "", "bind the first session to a TUN device of this name (ping, iperf3 over it)")
	fs.Var(&routes, "tun-route", "route this prefix through the -tun device (repeatable)")
	fs.StringVar(&out, "json", "-", "write the JSON report to this file (- for stdout)")
	fs.IntVar(&maxFailed, "max-failed", 0, "exit non-zero when more sessions than this failed or dropped")
	fs.Float64Var(&maxLoss, "max-loss", 0, "exit non-zero when the probe loss ratio exceeds this")
	fs.BoolVar(&quiet, "q", false, "no progress line")
	fs.BoolVar(&verbose, "v", false, "debug log on stderr")
	fs.StringVar(&echoServer, "echo-server", "", "run only a UDP echo server on ADDR (as bras echo -listen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if echoServer != "" {
		return serveEcho(ctx, udpecho.Config{Addr: echoServer}, stderr)
	}
	if strings.Contains(cfg.Interface, ",") {
		cfg.Interfaces = strings.Split(cfg.Interface, ",")
	}
	var err error
	if cfg.Auth, err = load.ParseAuthMode(authName); err != nil {
		return err
	}
	if cfg.MACBase, err = net.ParseMAC(macBase); err != nil {
		return fmt.Errorf("-mac-base: %w", err)
	}
	if credFile != "" {
		f, err := os.Open(credFile)
		if err != nil {
			return fmt.Errorf("-credentials: %w", err)
		}
		cfg.Credentials, err = load.ReadCredentials(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if target != "" {
		if cfg.Traffic.Target, err = netip.ParseAddrPort(target); err != nil {
			return fmt.Errorf("-traffic-target: %w", err)
		}
	}
	if target6 != "" {
		if cfg.Traffic.Target6, err = netip.ParseAddrPort(target6); err != nil {
			return fmt.Errorf("-traffic-target6: %w", err)
		}
	}
	cfg.Echo.Interval = echoInterval
	cfg.TUNRoutes = routes
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	rc := load.RunConfig{Hold: hold}
	if !quiet {
		var last load.Stats
		rc.Progress = func(st load.Stats) {
			rate := float64(st.EverUp-last.EverUp) / max((st.Elapsed-last.Elapsed).Seconds(), 1e-9)
			fmt.Fprintf(stderr, "%s rate %.0f/s\n", st, rate)
			last = st
		}
	}
	rep, err := load.Run(ctx, cfg, rc)
	if err != nil && rep == nil {
		return err
	}
	w := stdout
	if out != "-" {
		f, ferr := os.Create(out)
		if ferr != nil {
			return fmt.Errorf("-json: %w", ferr)
		}
		defer f.Close()
		w = f
	}
	if werr := rep.WriteJSON(w); werr != nil {
		return fmt.Errorf("report: %w", werr)
	}
	if err != nil {
		return err
	}
	// Sessions never started (the run was cut short) count as failed.
	if bad := rep.Failed + rep.Dropped + rep.Sessions - rep.Started; bad > maxFailed {
		return fmt.Errorf("%d of %d sessions failed %v, %d dropped %v, %d never started (limit %d)",
			rep.Failed, rep.Sessions, rep.Failures, rep.Dropped, rep.Drops, rep.Sessions-rep.Started, maxFailed)
	}
	if tr := rep.Traffic; tr != nil && tr.LossRatio > maxLoss {
		return fmt.Errorf("probe loss %.4f (%d of %d) exceeds -max-loss %v", tr.LossRatio, tr.Lost, tr.Sent, maxLoss)
	}
	if v := rep.IPv6; v != nil && v.Failed > maxFailed {
		return fmt.Errorf("%d IPv6 set-ups failed %v (limit %d)", v.Failed, v.Failures, maxFailed)
	}
	if tr := rep.Traffic; tr != nil && tr.IPv6 != nil && tr.IPv6.LossRatio > maxLoss {
		return fmt.Errorf("IPv6 probe loss %.4f (%d of %d) exceeds -max-loss %v", tr.IPv6.LossRatio, tr.IPv6.Lost, tr.IPv6.Sent, maxLoss)
	}
	return nil
}

func runEcho(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bras echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg udpecho.Config
	fs.StringVar(&cfg.Addr, "listen", "0.0.0.0:9000", "UDP address to serve")
	fs.BoolVar(&cfg.Sink, "sink", false, "count datagrams without echoing them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return serveEcho(ctx, cfg, stderr)
}

func serveEcho(ctx context.Context, cfg udpecho.Config, stderr io.Writer) error {
	s, err := udpecho.Listen(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bras echo: serving %v\n", s.Addr())
	err = s.Run(ctx)
	st := s.Stats()
	fmt.Fprintf(stderr, "bras echo: received %d packets (%d octets), echoed %d, %d stats queries, %d send errors\n",
		st.Packets, st.Octets, st.Echoed, st.Queries, st.SendErrors)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
