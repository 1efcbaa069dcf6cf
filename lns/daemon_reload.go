package lns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/metrics"
)

// reloader re-reads the daemon's configuration file on SIGHUP, bras
// reload and POST /api/v1/reload.
type reloader struct {
	path     string
	applyLog func(*FileConfig) error
	signals  <-chan os.Signal
	counts   *metrics.CounterVec
	mu       sync.Mutex // one reload at a time: SIGHUP and the API may ask together
}

// radiusConfig is the RADIUS client's configuration in cfg.
func radiusConfig(cfg *FileConfig) aaa.ClientConfig {
	cc := aaa.ClientConfig{
		Timeout:       cfg.RADIUS.Timeout,
		Retries:       cfg.RADIUS.Retries,
		DeadTime:      cfg.RADIUS.DeadTime,
		MaxInFlight:   cfg.RADIUS.MaxInFlight,
		NASIdentifier: cfg.RADIUS.NASIdentifier,
		NASIPAddress:  cfg.RADIUS.NASIPAddress,
	}
	for _, s := range cfg.RADIUS.Servers {
		p, _ := aaa.ParseMAPolicy(s.RequireMessageAuthenticator)
		cc.Servers = append(cc.Servers, aaa.Server{Addr: s.Address, Secret: s.Secret.Bytes(), RequireMessageAuthenticator: p})
	}
	for _, s := range cfg.RADIUS.AcctServers {
		p, _ := aaa.ParseMAPolicy(s.RequireMessageAuthenticator)
		cc.AcctServers = append(cc.AcctServers, aaa.Server{Addr: s.Address, Secret: s.Secret.Bytes(), RequireMessageAuthenticator: p})
	}
	return cc
}

func coaClients(cfg *FileConfig) []aaa.DynamicClient {
	var clients []aaa.DynamicClient
	for _, c := range cfg.CoA.Clients {
		clients = append(clients, aaa.DynamicClient{Addr: c.Address, Secret: c.Secret.Bytes()})
	}
	return clients
}

// reload re-reads the configuration file, checks it as -check does and
// applies it, or changes nothing and says why (an *api.ReloadRefused).
// It logs one line and counts the outcome.
func (d *daemon) reload(context.Context) (api.ReloadResult, error) {
	d.rl.mu.Lock()
	defer d.rl.mu.Unlock()
	changes, err := d.applyReload()
	res := api.ReloadResult{Changes: changes}
	result := "ok"
	if err != nil {
		result = "refused"
		d.log.Warn("configuration reload refused; the configuration in force is unchanged", "file", d.rl.path, "err", strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		d.log.Info("configuration reloaded", "file", d.rl.path, "changes", len(changes), "changed", strings.Join(changes, "; "))
	}
	if d.rl.counts != nil {
		d.rl.counts.With(result).Inc()
	}
	return res, err
}

func (d *daemon) applyReload() ([]string, error) {
	if d.rl.path == "" {
		return nil, &api.ReloadRefused{Reasons: []string{"the LNS was started without a configuration file to re-read"}}
	}
	next, err := LoadConfig(d.rl.path)
	if err != nil {
		return nil, api.Refuse(err)
	}
	cur := d.srv.conf()
	src := next.Source()
	var errs []error
	switch {
	case d.radius == nil && len(next.RADIUS.Servers) > 0:
		errs = append(errs, src.Errorf("radius.server", "the LNS started with a local users file: restart to authenticate with RADIUS"))
	case d.radius != nil && len(next.RADIUS.Servers) == 0:
		errs = append(errs, src.Errorf("radius.server", "the LNS started with RADIUS: restart to authenticate with a local users file"))
	}
	if d.coa == nil && len(next.CoA.Clients) > 0 && !slices.Equal(coaNames(cur), coaNames(next)) {
		errs = append(errs, src.Errorf("coa.client", "the LNS started without a CoA listener: restart to add one"))
	}
	cc := radiusConfig(next)
	if d.radius != nil {
		// What Reconfigure would refuse, before anything changes.
		probe := cc
		if probe.NASIdentifier == "" && !probe.NASIPAddress.IsValid() {
			probe.NASIdentifier = "probe"
		}
		if _, err := aaa.NewClient(probe); err != nil {
			errs = append(errs, src.Errorf("radius", "%v", err))
		}
	}
	if len(errs) > 0 {
		return nil, api.Refuse(errs...)
	}
	added, err := d.addPoolRoutes(cur, next)
	if err != nil {
		return nil, api.Refuse(err)
	}
	changes, err := d.srv.Reload(next, func() error {
		if d.rl.applyLog != nil {
			if err := d.rl.applyLog(next); err != nil {
				return src.Errorf("log", "%v", err)
			}
		}
		if d.radius != nil {
			if err := d.radius.Reconfigure(cc); err != nil { // checked above
				return src.Errorf("radius", "%v", err)
			}
		}
		if d.coa != nil {
			d.coa.SetClients(coaClients(next))
		}
		return nil
	})
	if err != nil {
		for _, p := range added {
			_ = d.link.DelRoute(p)
		}
		return nil, err
	}
	for _, p := range poolPrefixes(cur) {
		if !slices.Contains(poolPrefixes(next), p) {
			if err := d.link.DelRoute(p); err != nil {
				d.log.Warn("route of a pool no longer configured not removed", "prefix", p, "err", err)
			}
		}
	}
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.String()
	}
	return out, nil
}

func coaNames(c *FileConfig) []string {
	var n []string
	for _, cl := range c.CoA.Clients {
		n = append(n, cl.Name)
	}
	return n
}

// poolPrefixes are the routes the pools need when they are routed whole
// into the TUN device (routes = per-pool): their CIDR ranges and the
// [pool6] prefixes.
func poolPrefixes(c *FileConfig) []netip.Prefix {
	if c.TUN.Routes == "per-session" {
		return nil
	}
	var out []netip.Prefix
	for _, p := range c.Pools6 {
		out = append(out, p.Prefix)
	}
	for _, p := range c.Pools {
		for _, r := range p.Ranges {
			if pfx, err := netip.ParsePrefix(r); err == nil {
				out = append(out, pfx.Masked())
			}
		}
	}
	return out
}

// addPoolRoutes routes the pools next adds (routes = per-pool) before the
// pools are swapped, so that the first address handed out from them is
// reachable; it returns the routes it added, to take back if the reload
// is refused.
func (d *daemon) addPoolRoutes(cur, next *FileConfig) ([]netip.Prefix, error) {
	have := poolPrefixes(cur)
	var added []netip.Prefix
	for _, p := range poolPrefixes(next) {
		if slices.Contains(have, p) {
			continue
		}
		if d.link == nil {
			return nil, errors.New("lns: no TUN link to route a new pool to")
		}
		if err := d.link.AddRoute(p); err != nil {
			for _, q := range added {
				_ = d.link.DelRoute(q)
			}
			return nil, fmt.Errorf("lns: route of pool prefix %v: %w", p, err)
		}
		added = append(added, p)
	}
	return added, nil
}

// serveReloads reloads on each signal until ctx is done.
func (d *daemon) serveReloads(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.rl.signals:
			d.reload(ctx)
		}
	}
}
