package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/bras-project/bras/lac/dial"
)

func init() {
	register("dial", "voluntary tunnel: be your own LAC, dial an LNS, route over a TUN (needs CAP_NET_ADMIN)", func(ctx context.Context, args []string) error {
		return runDial(ctx, args, os.Stderr)
	})
}

const dialUsage = `usage: bras dial [-config file] [flags]

Opens an L2TPv2 tunnel to an LNS and places one call, as a LAC client
(RFC 2661 section 2: the host is its own LAC); the LNS runs LCP and
authenticates it with PAP or CHAP. Once IPCP is up, the TUN device gets the
address the LNS gave, the LNS's as its point-to-point peer, and the routes.
On tunnel or call loss, LCP termination or Echo failure the routes go and
it reconnects with a doubling, jittered back-off. SIGINT or SIGTERM hang up
cleanly (LCP Terminate-Request, CDN, StopCCN).

It needs root or CAP_NET_ADMIN, for the TUN device and its routes only.
Settings come from the [dial] section of -config (deploy/dial.conf documents
every key) and from the flags, which override the file. Secrets (-secret,
-password) may be written env:NAME or file:/path.

flags:
`

func runDial(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bras dial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, dialUsage); fs.PrintDefaults() }
	var (
		path, lns, local, secret, password, level string
		s                                         dial.Section
		routes                                    prefixList
		check                                     bool
	)
	fs.StringVar(&path, "config", "", "configuration `file` with a [dial] section")
	fs.BoolVar(&check, "check", false, "validate the configuration and exit")
	fs.StringVar(&lns, "lns", "", "the LNS's `address:port`")
	fs.StringVar(&local, "local", "", "our source `address:port` (default: any address, an ephemeral port)")
	fs.StringVar(&s.HostName, "host-name", "", "our Host Name, which the LNS knows us by (its [lac] host-name)")
	fs.StringVar(&secret, "secret", "", "tunnel `secret` (RFC 2661 section 5.1.1)")
	fs.StringVar(&s.User, "user", "", "PPP user name")
	fs.StringVar(&password, "password", "", "PPP password (PAP) or CHAP secret")
	fs.StringVar(&s.Auth, "auth", "", "authentication we accept: pap, chap or any (default any)")
	fs.StringVar(&s.TUN, "tun", "", "TUN device `name` (default "+dial.DefaultTUN+")")
	fs.Var(&routes, "route", "route this `prefix` through the TUN while the session is up (repeatable)")
	fs.IntVar(&s.MTU, "mtu", 0, fmt.Sprintf("the TUN's MTU and our PPP MRU (default %d)", dial.DefaultMTU))
	fs.DurationVar(&s.EchoInterval, "echo-interval", 0, fmt.Sprintf("LCP Echo-Request interval (default %v)", dial.DefaultEchoInterval))
	fs.IntVar(&s.EchoFailures, "echo-failures", 0, fmt.Sprintf("unanswered Echo-Requests that end the session (default %d)", dial.DefaultEchoFailures))
	fs.DurationVar(&s.ReconnectMin, "reconnect-min", 0, fmt.Sprintf("first wait before reconnecting (default %v)", dial.DefaultReconnectMin))
	fs.DurationVar(&s.ReconnectMax, "reconnect-max", 0, fmt.Sprintf("cap of the doubling waits (default %v)", dial.DefaultReconnectMax))
	fs.IntVar(&s.Version, "version", 0, "L2TP version of the tunnel: 2 (default) or 3 (RFC 3931, a PPP pseudowire)")
	fs.StringVar(&s.Encap, "encap", "", "L2TPv3 over udp (default) or ip (protocol 115, RFC 3931 section 4.1.1)")
	fs.StringVar(&level, "log-level", "", "log level: debug, info, warn or error; overrides [log] level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var fc dial.FileConfig
	if path != "" {
		var err error
		if fc, err = dial.LoadConfig(path); err != nil {
			return err
		}
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err != nil {
			return
		}
		d := &fc.Dial
		switch f.Name {
		case "lns":
			if d.LNS, err = netip.ParseAddrPort(lns); err != nil {
				err = fmt.Errorf("-lns: %w", err)
			}
		case "local":
			if d.Local, err = netip.ParseAddrPort(local); err != nil {
				err = fmt.Errorf("-local: %w", err)
			}
		case "secret":
			if d.Secret, err = dial.ParseSecret(secret); err != nil {
				err = fmt.Errorf("-secret: %w", err)
			}
		case "password":
			if d.Password, err = dial.ParseSecret(password); err != nil {
				err = fmt.Errorf("-password: %w", err)
			}
		case "host-name":
			d.HostName = s.HostName
		case "user":
			d.User = s.User
		case "auth":
			d.Auth = s.Auth
		case "tun":
			d.TUN = s.TUN
		case "route":
			d.Routes = routes
		case "mtu":
			d.MTU = s.MTU
		case "echo-interval":
			d.EchoInterval = s.EchoInterval
		case "echo-failures":
			d.EchoFailures = s.EchoFailures
		case "reconnect-min":
			d.ReconnectMin = s.ReconnectMin
		case "reconnect-max":
			d.ReconnectMax = s.ReconnectMax
		case "version":
			d.Version = s.Version
		case "encap":
			d.Encap = s.Encap
		}
	})
	if err != nil {
		return err
	}
	cfg, err := fc.Dial.Config()
	if err != nil {
		return err
	}
	if check {
		fmt.Fprintf(stderr, "configuration OK: LNS %v over L2TPv%d/%v as %q, user %q, device %s, %d routes\n", cfg.LNS, cfg.Version, cfg.Encap, cfg.HostName, cfg.User, cfg.TUN, len(cfg.Routes))
		return nil
	}
	logging, err := newLogging(fs, fc.Log, level)
	if err != nil {
		return err
	}
	defer logging.Close()
	cfg.Logger = logging.Logger()
	c, err := dial.New(cfg)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}
