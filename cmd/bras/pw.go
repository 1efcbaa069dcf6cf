package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/ethpw"
	"github.com/bras-project/bras/internal/metrics"
)

func init() {
	register("pw", "Ethernet pseudowires over L2TPv3 (RFC 4719): tie local ports and VLANs to a remote LCCE", func(ctx context.Context, args []string) error {
		return runPW(ctx, args, os.Stderr)
	})
}

const pwUsage = `usage: bras pw -config file [flags]

Runs an LCCE (RFC 3931) for Ethernet pseudowires (RFC 4719): each
[circuit] of the file, a whole Ethernet port (pseudowire type 0x0005) or
one 802.1Q VLAN of it (0x0004), is tied to an L2TPv3 session with the
remote LCCE of its [peer], paired by its Remote End ID. Frames cross both
ways as they were on the wire (a VLAN pseudowire's tag gets the local VLAN
ID on the way out); the link state of each interface goes to the peer as
circuit status, and a circuit whose far end is down stops forwarding.
A [peer] with dial = true is dialled, and redialled with back-off when the
control connection drops; the others are waited for.

It needs root or CAP_NET_RAW and CAP_NET_ADMIN (raw sockets, promiscuous
mode). deploy/pw.conf documents every key.

flags:
`

func runPW(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bras pw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, pwUsage); fs.PrintDefaults() }
	var path, level string
	var check bool
	fs.StringVar(&path, "config", "", "configuration `file`")
	fs.BoolVar(&check, "check", false, "validate the configuration and exit")
	fs.StringVar(&level, "log-level", "", "log level: debug, info, warn or error; overrides [log] level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if path == "" {
		return fmt.Errorf("-config is required")
	}
	fc, cfg, err := ethpw.LoadConfig(path)
	if err != nil {
		return err
	}
	if check {
		fmt.Fprintf(stderr, "configuration OK: %s on %v, %d peers, %d circuits\n", cfg.HostName, cfg.Listen, len(cfg.Peers), len(cfg.Circuits))
		return nil
	}
	logging, err := newLogging(fs, fc.Log, level)
	if err != nil {
		return err
	}
	defer logging.Close()
	var ln net.Listener
	if cfg.MetricsListen.IsValid() {
		if ln, err = net.Listen("tcp", cfg.MetricsListen.String()); err != nil {
			return fmt.Errorf("pw: metrics-listen: %w", err)
		}
		defer ln.Close()
	}
	l, err := ethpw.New(cfg, logging.Logger())
	if err != nil {
		return err
	}
	if ln != nil {
		reg := metrics.New()
		reg.RegisterRuntime()
		api.RegisterBuildInfo(reg)
		l.RegisterMetrics(reg)
		mux := http.NewServeMux()
		mux.Handle("/metrics", reg.Handler())
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(ln)
		defer hs.Close()
	}
	return l.Run(ctx)
}
