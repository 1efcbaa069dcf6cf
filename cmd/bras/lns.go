package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bras-project/bras/lns"
)

func init() {
	register("lns", "run the L2TP Network Server (PPP termination, RADIUS, TUN data plane)", runLNS)
}

func runLNS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bras lns", flag.ContinueOnError)
	path := fs.String("config", "/etc/bras/lns.conf", "configuration `file`")
	check := fs.Bool("check", false, "validate the configuration and exit")
	level := fs.String("log-level", "", "log level: debug, info, warn or error; overrides [log] level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := lns.LoadConfig(*path)
	if err != nil {
		return err
	}
	if *check {
		fmt.Printf("%s: configuration OK (%d LACs, %d pools, %d IPv6 pools, %d RADIUS servers)\n", *path, len(cfg.LACs), len(cfg.Pools), len(cfg.Pools6), len(cfg.RADIUS.Servers))
		return nil
	}
	daemonGC()
	logging, err := newLogging(fs, cfg.Log, *level)
	if err != nil {
		return err
	}
	defer logging.Close()
	// SIGHUP reloads (systemctl reload, kill -HUP).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return lns.RunDaemon(ctx, cfg, lns.DaemonOptions{Logging: logging, ConfigPath: *path, ReloadSignal: hup,
		ApplyLog: func(c *lns.FileConfig) error { return logging.Apply(c.Log) }})
}
