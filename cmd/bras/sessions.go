package main

import (
	"context"
	"io"
	"os"

	"github.com/bras-project/bras/internal/ctl"
)

func init() {
	register("show", "show sessions (columns, sort, filters), tunnels, pools, stats or version, through the HTTP API", func(ctx context.Context, args []string) error {
		return ctl.Show(ctx, args, ctl.OSEnv())
	})
	register("terminate", "terminate sessions by id, user, ip, mac, circuit/remote id, lac, tunnel or state; all once confirmed", func(ctx context.Context, args []string) error {
		return ctl.Terminate(ctx, args, ctl.OSEnv())
	})
	register("version", "print the version of bras (-daemon: the daemon's too)", func(ctx context.Context, args []string) error {
		return ctl.Version(ctx, args, ctl.OSEnv())
	})
	register("sessions", "list subscriber sessions (bras show sessions with every column)", func(ctx context.Context, args []string) error {
		return runSessions(ctx, args, os.Stdout, os.Stderr, os.LookupEnv)
	})
	register("reload", "make the daemon re-read its configuration file and apply what can change live (like SIGHUP), through the HTTP API", func(ctx context.Context, args []string) error {
		return ctl.Reload(ctx, args, ctl.OSEnv())
	})
	register("disconnect", "disconnect sessions by ID (Admin-Reset) through the HTTP API", func(ctx context.Context, args []string) error {
		return runDisconnect(ctx, args, os.Stdout, os.Stderr, os.LookupEnv)
	})
}

func cliEnv(stdout, stderr io.Writer, getenv func(string) (string, bool)) ctl.Env {
	return ctl.Env{Stdout: stdout, Stderr: stderr, Getenv: getenv}
}

func runSessions(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) error {
	return ctl.Sessions(ctx, args, cliEnv(stdout, stderr, getenv))
}

func runDisconnect(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) error {
	return ctl.Disconnect(ctx, args, cliEnv(stdout, stderr, getenv))
}
