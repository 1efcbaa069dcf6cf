package lac

import (
	"context"
	"os"
	"strings"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// A reload re-reads the configuration file, checks it as -check does,
// and applies what can change while sessions run: the LNS list (realms,
// services, interfaces, weights, preferences, secrets, tunnel counts and
// session caps) and the RADIUS servers for the subscribers that come
// next, the tunnels' timers for new tunnels, the [lac] tunnel count and
// session cap for the calls that come next, the call timers and PPP values for new calls. Tunnels and
// calls up stay as they are. Any other change refuses the whole reload.

// liveKeys are the keys a reload applies (paths of config.Change; a
// trailing "[" for every named section of a kind).
var liveKeys = []string{
	"lns[",
	"radius.server[", "radius.timeout", "radius.retries",
	"lac.dial-timeout", "lac.call-timeout", "lac.sessions-per-tunnel", "lac.tunnels",
	"lac.hello-interval", "lac.retransmit-initial", "lac.retransmit-cap", "lac.max-retries",
	"lac.auth", "lac.echo-interval", "lac.echo-failures", "lac.held-frames", "lac.ready-wait",
	"log.level", "log.levels", // logx.Logging.Apply (the format needs a restart)
}

func isLive(path string) bool {
	for _, k := range liveKeys {
		if path == k || strings.HasSuffix(k, "[") && strings.HasPrefix(path, k) {
			return true
		}
	}
	return false
}

// Reconfigure makes the live part of next (Routes, Tunnel,
// SessionsPerTunnel, Tunnels, DialTimeout, CallTimeout, Auth, Echo,
// HeldFrames, ReadyWait) the
// configuration of the tunnels, calls and subscribers that come next;
// the rest of next is ignored. Safe while the LAC runs.
func (l *LAC) Reconfigure(next Config) {
	c := *l.conf()
	c.Routes, c.Tunnel = next.Routes, next.Tunnel
	if next.DialTimeout > 0 {
		c.DialTimeout = next.DialTimeout
	}
	if next.CallTimeout > 0 {
		c.CallTimeout = next.CallTimeout
	}
	if len(next.Auth) > 0 {
		c.Auth = next.Auth
	}
	c.Echo = next.Echo
	if next.HeldFrames > 0 {
		c.HeldFrames = next.HeldFrames
	}
	if next.ReadyWait > 0 {
		c.ReadyWait = next.ReadyWait
	}
	c.SessionsPerTunnel, c.Tunnels = next.SessionsPerTunnel, next.Tunnels
	l.pool.SetDefaults(c.SessionsPerTunnel, c.Tunnels)
	l.cfgp.Store(&c)
}

// reloader re-reads the daemon's configuration file on SIGHUP, bras
// reload and POST /api/v1/reload.
type reloader struct {
	path     string
	applyLog func(*FileConfig) error
	signals  <-chan os.Signal
	counts   *metrics.CounterVec
	cur      *FileConfig // the file in force; under the daemon's reloadMu
}

// liveConfig is the live part of the LAC's Config from the file.
func liveConfig(c *FileConfig) (Config, error) {
	routes, err := c.Routes()
	if err != nil {
		return Config{}, err
	}
	g := c.LAC
	cfg := Config{
		Routes: routes, DialTimeout: g.DialTimeout, CallTimeout: g.CallTimeout, HeldFrames: g.HeldFrames, ReadyWait: g.ReadyWait,
		SessionsPerTunnel: g.SessionsPerTunnel, Tunnels: g.Tunnels,
		Tunnel: l2tp.TunnelOptions{HelloInterval: g.HelloInterval, RetransmitInitial: g.RetransmitInitial, RetransmitCap: g.RetransmitCap, MaxRetries: g.MaxRetries},
		Echo:   ppp.EchoConfig{Interval: g.EchoInterval, MaxFailures: g.EchoFailures},
	}
	for _, a := range g.Auth {
		p, _ := parseAuth(a)
		cfg.Auth = append(cfg.Auth, p)
	}
	return cfg, nil
}

// radiusConfig is the RADIUS client's configuration in c.
func radiusConfig(c *FileConfig) aaa.ClientConfig {
	rc := aaa.ClientConfig{Timeout: c.RADIUS.Timeout, Retries: c.RADIUS.Retries, NASIdentifier: c.RADIUS.NASIdentifier,
		NASIPAddress: c.RADIUS.NASIPAddress}
	if rc.NASIdentifier == "" {
		rc.NASIdentifier = c.LAC.HostName
	}
	for _, s := range c.RADIUS.Servers {
		ma, _ := aaa.ParseMAPolicy(s.RequireMessageAuthenticator)
		if s.RequireMessageAuthenticator == "" {
			ma = aaa.MAAuto
		}
		rc.Servers = append(rc.Servers, aaa.Server{Addr: s.Address.String(), Secret: s.Secret.Bytes(), RequireMessageAuthenticator: ma})
	}
	return rc
}

// reload re-reads the configuration file, checks it as -check does and
// applies it, or changes nothing and says why (an *api.ReloadRefused).
// It logs one line and counts the outcome.
func (d *daemon) reload(context.Context) (api.ReloadResult, error) {
	changes, err := d.applyReload()
	result := "ok"
	if err != nil {
		result = "refused"
		d.log.Warn("lac: configuration reload refused; the configuration in force is unchanged", "file", d.rl.path, "err", strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		d.log.Info("lac: configuration reloaded", "file", d.rl.path, "changes", len(changes), "changed", strings.Join(changes, "; "))
	}
	if d.rl.counts != nil {
		d.rl.counts.With(result).Inc()
	}
	return api.ReloadResult{Changes: changes}, err
}

func (d *daemon) applyReload() ([]string, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if d.rl.path == "" {
		return nil, &api.ReloadRefused{Reasons: []string{"the LAC was started without a configuration file to re-read"}}
	}
	next, err := LoadConfig(d.rl.path)
	if err != nil {
		return nil, api.Refuse(err)
	}
	cur := d.rl.cur
	changes := config.Diff(cur, next, cur.Source(), next.Source())
	var bad []string
	for _, c := range changes {
		if !isLive(c.Path) {
			bad = append(bad, c.String()+" (needs a restart)")
		}
	}
	if len(bad) > 0 {
		return nil, &api.ReloadRefused{Reasons: bad}
	}
	live, err := liveConfig(next)
	if err != nil {
		return nil, api.Refuse(err)
	}
	rc := radiusConfig(next)
	if d.radius != nil {
		if _, err := aaa.NewClient(rc); err != nil { // what Reconfigure would refuse
			return nil, api.Refuse(next.Source().Errorf("radius", "%v", err))
		}
	}
	if d.rl.applyLog != nil {
		if err := d.rl.applyLog(next); err != nil {
			return nil, api.Refuse(next.Source().Errorf("log", "%v", err))
		}
	}
	if d.radius != nil {
		if err := d.radius.Reconfigure(rc); err != nil { // checked above
			return nil, api.Refuse(next.Source().Errorf("radius", "%v", err))
		}
	}
	d.lac.Reconfigure(live)
	d.rl.cur = next
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.String()
	}
	return out, nil
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
