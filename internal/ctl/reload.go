package ctl

import (
	"context"
	"errors"
	"fmt"

	"github.com/bras-project/bras/internal/api"
)

// Reload is bras reload: the daemon re-reads its configuration file and
// applies what can change live (POST /api/v1/reload). It prints what
// changed; a refused reload prints every reason, with its file and line,
// and is an error: the daemon's configuration is then unchanged.
func Reload(ctx context.Context, args []string, env Env) error {
	fs := newFlags("bras reload", "bras reload [-api URL] [-token-file FILE]: re-read the daemon's configuration file", env)
	var af apiFlags
	af.register(fs, env.Getenv)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, err := af.client(env)
	if err != nil {
		return err
	}
	res, err := c.Reload(ctx)
	var refused *api.ReloadRefused
	if errors.As(err, &refused) {
		for _, r := range refused.Reasons {
			fmt.Fprintln(env.Stderr, r)
		}
		return errors.New("reload refused: the configuration in force is unchanged")
	}
	if err != nil {
		return err
	}
	if len(res.Changes) == 0 {
		fmt.Fprintln(env.Stdout, "reloaded: nothing changed")
		return nil
	}
	fmt.Fprintf(env.Stdout, "reloaded: %d %s\n", len(res.Changes), plural(len(res.Changes), "change"))
	for _, ch := range res.Changes {
		fmt.Fprintln(env.Stdout, "  "+ch)
	}
	return nil
}
