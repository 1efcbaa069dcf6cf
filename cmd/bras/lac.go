package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bras-project/bras/lac"
)

func init() {
	register("lac", "run the L2TP Access Concentrator (PPPoE subscribers into L2TP tunnels)", runLAC)
}

func runLAC(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bras lac", flag.ContinueOnError)
	path := fs.String("config", "/etc/bras/lac.conf", "configuration `file`")
	check := fs.Bool("check", false, "validate the configuration and exit")
	level := fs.String("log-level", "", "log level: debug, info, warn or error; overrides [log] level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := lac.LoadConfig(*path)
	if err != nil {
		return err
	}
	if *check {
		fmt.Printf("%s: configuration OK (%d access interfaces, %d LNS, %d RADIUS servers)\n",
			*path, len(cfg.Access), len(cfg.LNS), len(cfg.RADIUS.Servers))
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
	return lac.RunDaemon(ctx, cfg, lac.DaemonOptions{Logging: logging, ConfigPath: *path, ReloadSignal: hup,
		ApplyLog: func(c *lac.FileConfig) error { return logging.Apply(c.Log) }})
}
