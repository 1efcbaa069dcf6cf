package main

import (
	"context"

	"github.com/bras-project/bras/internal/ctl"
)

func init() {
	register("log-level", "show or change the daemon's log levels while it runs (default and per component), through the HTTP API", func(ctx context.Context, args []string) error {
		return ctl.LogLevel(ctx, args, ctl.OSEnv())
	})
}
