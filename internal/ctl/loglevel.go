package ctl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bras-project/bras/internal/api"
)

// LogLevel is bras log-level: show the daemon's log levels, or change
// them while it runs. Each item is a default level ("debug") or a
// component's own ("l2tp=debug"); the component items given replace every
// component level, -clear removes them all, and what is not given stays.
func LogLevel(ctx context.Context, args []string, env Env) error {
	const usage = "bras log-level [-json]: show the daemon's log levels\n" +
		"       bras log-level [LEVEL] [COMPONENT=LEVEL,...] [-clear]: change them (levels debug, info, warn, error;\n" +
		"       components api, accounting, dataplane, l2tp, lac, lns, ppp, pppoe, radius)"
	fs := newFlags("bras log-level", usage, env)
	var af apiFlags
	af.register(fs, env.Getenv)
	asJSON := fs.Bool("json", false, "print JSON")
	clearComps := fs.Bool("clear", false, "remove every component's own level (they follow the default level)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ch api.LogLevelChange
	var comps []string
	for _, a := range fs.Args() {
		for _, it := range strings.Split(a, ",") {
			it = strings.TrimSpace(it)
			switch {
			case it == "":
			case strings.HasPrefix(it, "-"):
				return fmt.Errorf("%q: flags go before the levels", it)
			case strings.Contains(it, "="):
				comps = append(comps, it)
			case ch.Level != nil:
				return fmt.Errorf("two default levels given: %q and %q", *ch.Level, it)
			default:
				ch.Level = &it
			}
		}
	}
	if *clearComps && len(comps) > 0 {
		return errors.New("-clear and component levels together: give one of them")
	}
	if len(comps) > 0 || *clearComps {
		s := strings.Join(comps, ",")
		ch.Levels = &s
	}
	c, err := af.client(env)
	if err != nil {
		return err
	}
	var l api.LogLevel
	if ch.Level == nil && ch.Levels == nil {
		l, err = c.LogLevel(ctx)
	} else {
		l, err = c.SetLogLevel(ctx, ch)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.Stdout, l)
	}
	levels := l.Levels
	if levels == "" {
		levels = "(none: every component at the default level)"
	}
	_, err = fmt.Fprintf(env.Stdout, "level: %s\nlevels: %s\n", l.Level, levels)
	return err
}
