package lac

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/api"
	"github.com/google/go-cmp/cmp"
)

// reloadDaemon is a LAC daemon of the file at path as RunDaemon builds
// the parts a reload touches: the configuration in force and the LAC.
func reloadDaemon(t *testing.T, path string) *daemon {
	t.Helper()
	cur, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{c: cur, log: slog.New(slog.DiscardHandler), rl: reloader{path: path, cur: cur}}
	cfg, err := d.config()
	if err != nil {
		t.Fatal(err)
	}
	if d.lac, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReload: a reload applies the LNS list (weights, preferences,
// secrets, realms) and the call timers for what comes next, and names
// each change with its line; a change that needs a restart, or a file
// with an error, refuses the whole reload with the key and line, and the
// configuration in force stays.
func TestReload(t *testing.T) {
	// Lines: [lns "a"] on 4, its secret on 6, its weight on 7.
	const conf = "[lac]\nhost-name = l\n[access \"eth1\"]\n[lns \"a\"]\naddress = 192.0.2.1:1701\nsecret = old\nweight = 1\nrealms = example.com\n"
	path := filepath.Join(t.TempDir(), "lac.conf")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(conf)
	d := reloadDaemon(t, path)
	lookup := func(realm string) []LNS {
		return d.lac.conf().Routes.Lookup(realm, Port{Interface: "eth1"}, "")
	}

	// A new secret and weight for lns a, a second LNS for the realm, a
	// longer call timeout.
	write(strings.Replace(conf, "secret = old\nweight = 1\n", "secret = new\nweight = 5\n", 1) +
		"[lns \"b\"]\naddress = 192.0.2.2:1701\nsecret = b\nrealms = example.com, example.net\n[lac]\ncall-timeout = 45s\n")
	res, err := d.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		path + ":14: lac.call-timeout: 0s -> 45s",
		path + ":6: [lns \"a\"] secret changed",
		path + ":7: [lns \"a\"] weight: 1 -> 5",
		path + ":9: [lns \"b\"] added",
	}
	if diff := cmp.Diff(want, res.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	got := lookup("example.com")
	if len(got) != 2 || got[0].Name != "a" || string(got[0].Secret) != "new" || got[0].Weight != 5 || got[1].Name != "b" {
		t.Errorf("example.com after the reload: %+v, want a (secret new, weight 5) and b", got)
	}
	if got := names(lookup("example.net")); !cmp.Equal(got, []string{"b"}) {
		t.Errorf("example.net after the reload: %v, want b", got)
	}
	if got := d.lac.conf().CallTimeout; got != 45*time.Second {
		t.Errorf("call timeout in force: %v, want 45s", got)
	}

	// A new listen address needs a restart: the whole reload is refused,
	// the weight change with it.
	applied, _ := os.ReadFile(path)
	write(strings.Replace(strings.Replace(string(applied), "host-name = l\n", "host-name = l\nlisten = 192.0.2.9:1701\n", 1), "weight = 5", "weight = 9", 1))
	_, err = d.reload(context.Background())
	var refused *api.ReloadRefused
	if !errors.As(err, &refused) {
		t.Fatalf("reload of a new listen address: %v, want a refusal", err)
	}
	if want := []string{path + ":3: lac.listen: \"\" -> 192.0.2.9:1701 (needs a restart)"}; !cmp.Equal(want, refused.Reasons) {
		t.Errorf("refusal %q, want %q", refused.Reasons, want)
	}
	if got := lookup("example.com"); got[0].Weight != 5 {
		t.Errorf("weight after a refused reload: %d, want 5 still", got[0].Weight)
	}

	// A file with an error: refused with its line, nothing changes.
	write(string(applied) + "[lac]\nhold-down = 0s\n")
	_, err = d.reload(context.Background())
	if !errors.As(err, &refused) || len(refused.Reasons) != 1 ||
		refused.Reasons[0] != path+":16: lac.hold-down: 0s: want a value above 0 (leave the key out for the default, 60s)" {
		t.Errorf("reload of a bad file: %v", err)
	}
	if got := d.lac.conf().CallTimeout; got != 45*time.Second {
		t.Errorf("call timeout after a refused reload: %v, want 45s still", got)
	}
}

// TestReloadTunnelKeys: the [lac] and [lns] tunnels and session caps are
// live: a reload gives the calls that come next the new values.
func TestReloadTunnelKeys(t *testing.T) {
	const conf = "[lac]\nhost-name = l\n[access \"eth1\"]\n[lns \"a\"]\naddress = 192.0.2.1:1701\nrealms = example.com\n"
	path := filepath.Join(t.TempDir(), "lac.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := reloadDaemon(t, path)
	a := d.lac.conf().Routes.Lookup("example.com", Port{}, "")[0]
	p := d.lac.Pool()
	if got := p.SessionCap(a); got != DefaultSessionsPerTunnel {
		t.Errorf("session cap before the reload %d, want %d", got, DefaultSessionsPerTunnel)
	}
	next := conf + "tunnels = 4\n[lac]\nsessions-per-tunnel = 100\ntunnels = 2\n"
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := d.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		path + ":9: lac.sessions-per-tunnel: 0 -> 100",
		path + ":10: lac.tunnels: 0 -> 2",
		path + ":7: [lns \"a\"] tunnels: 0 -> 4",
	}
	if diff := cmp.Diff(want, res.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	a = d.lac.conf().Routes.Lookup("example.com", Port{}, "")[0]
	p.mu.Lock()
	cap, lnsTunnels, def := p.capOf(a), p.tunnelsOf(a), p.tunnelsOf(LNS{})
	p.mu.Unlock()
	if cap != 100 || lnsTunnels != 4 || def != 2 {
		t.Errorf("after the reload: cap %d, tunnels of a %d, default tunnels %d; want 100, 4, 2", cap, lnsTunnels, def)
	}
}
