package lns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/bras-project/bras/internal/api"
	"github.com/google/go-cmp/cmp"
)

// reloadConf is an LNS configuration: pools, then extra keys, then the
// rest. Its line numbers: [pool "p"] on line 5, its range on line 6.
func reloadConf(pools, extra string) string {
	return "[lns]\nnode = g\n[tun]\naddress = 100.64.0.1/32\n" + pools + extra +
		"[lac \"a\"]\nsecret = x\n[local-users]\nfile = /dev/null\n[api]\ntoken = t\n"
}

func reloadServer(t *testing.T, conf string) *Server {
	t.Helper()
	cfg, err := ParseConfig(strings.NewReader(conf), "lns.conf")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	srv, err := NewServer(cfg, Deps{Conn: conn, TUN: []TUNQueue{&dpCountTUN{release: make(chan struct{})}}, Auth: replies{}})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func reloadTo(t *testing.T, srv *Server, conf string) ([]string, error) {
	t.Helper()
	next, err := ParseConfig(strings.NewReader(conf), "lns.conf")
	if err != nil {
		t.Fatalf("the new configuration does not pass -check: %v", err)
	}
	changes, err := srv.Reload(next, nil)
	var out []string
	for _, c := range changes {
		out = append(out, c.String())
	}
	return out, err
}

func reasons(t *testing.T, err error) []string {
	t.Helper()
	var r *api.ReloadRefused
	if !errors.As(err, &r) {
		t.Fatalf("reload: %v, want a refusal", err)
	}
	return r.Reasons
}

// allocN takes n addresses of pool (""; the default) for sessions s0, s1...
func allocN(t *testing.T, srv *Server, pool string, n int) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for i := range n {
		a, err := srv.local.Allocate(context.Background(), pool, "s"+string(rune('a'+i)))
		if err != nil {
			t.Fatalf("allocation %d from %q: %v", i, pool, err)
		}
		out = append(out, a)
	}
	return out
}

// TestReloadPools: a pool grows and a pool is added while addresses are
// held (they stay held, the new addresses are handed out); shrinking or
// removing a pool whose addresses are in use is refused with the pool,
// the file and the line, and nothing changes.
func TestReloadPools(t *testing.T) {
	const p29 = "[pool \"p\"]\nrange = 100.64.0.0/29\n"
	srv := reloadServer(t, reloadConf(p29, ""))
	held := allocN(t, srv, "", 5) // the whole pool: .1 is the LNS's
	if _, err := srv.local.Allocate(context.Background(), "", "full"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("a sixth address: %v, want exhausted", err)
	}

	// Grow p to a /28 and add gold, with a new default rate for new sessions.
	grown := reloadConf("[pool \"p\"]\nrange = 100.64.0.0/28\n[pool \"gold\"]\nrange = 100.65.0.0/30\n", "[ppp]\ndefault-rate-down = 2000\n")
	changes, err := reloadTo(t, srv, grown)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`lns.conf:10: ppp.default-rate-down: 0 -> 2000`,
		`lns.conf:6: [pool "p"] range: 100.64.0.0/29 -> 100.64.0.0/28`,
		`lns.conf:7: [pool "gold"] added`,
	}
	if d := cmp.Diff(want, changes); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	if got := srv.conf().PPP.DefaultRateDown; got != 2000 {
		t.Errorf("default-rate-down in force: %d, want 2000", got)
	}
	if got := srv.local.InUse("p"); got != 6 { // 5 sessions and the LNS
		t.Errorf("p in use after growing: %d, want 6 (the held addresses carried over)", got)
	}
	grew, err := srv.local.Allocate(context.Background(), "", "new")
	if err != nil || !netip.MustParsePrefix("100.64.0.0/28").Contains(grew) || grew.Compare(netip.MustParseAddr("100.64.0.7")) < 0 {
		t.Errorf("an address of the grown pool: %v %v, want one of 100.64.0.7-100.64.0.14", grew, err)
	}
	for _, h := range held {
		if err := srv.local.Claim(h, "other"); err == nil {
			t.Errorf("%v: held before the reload, free after it", h)
		}
	}
	if a, err := srv.local.Allocate(context.Background(), "gold", "g1"); err != nil || a != netip.MustParseAddr("100.65.0.1") {
		t.Errorf("from the new pool gold: %v %v, want 100.65.0.1", a, err)
	}

	// Shrink p back to a /29 while the grown address is held; remove
	// gold while .1 is held: both refused, each naming its pool and line.
	_, err = reloadTo(t, srv, reloadConf(p29, "[ppp]\ndefault-rate-down = 5000\n"))
	want = []string{
		`lns.conf:7: [pool "gold"]: removed but 1 of its addresses are in use (100.65.0.1 first): disconnect them or keep the pool`,
		`lns.conf:6: [pool "p"] range: shrinks but 1 of its addresses are in use outside the new ranges (` + grew.String() + ` first): disconnect them or keep the ranges`,
	}
	if d := cmp.Diff(want, reasons(t, err)); d != "" {
		t.Errorf("refusal (-want +got):\n%s", d)
	}
	// Nothing changed: the rate, the pools, what they hand out.
	if got := srv.conf().PPP.DefaultRateDown; got != 2000 {
		t.Errorf("default-rate-down after a refused reload: %d, want 2000 still", got)
	}
	if a, err := srv.local.Allocate(context.Background(), "gold", "g2"); err != nil || a != netip.MustParseAddr("100.65.0.2") {
		t.Errorf("gold after a refused reload: %v %v, want 100.65.0.2", a, err)
	}

	// Once the addresses outside are given back, the pool shrinks.
	_ = srv.local.Release(context.Background(), grew, "new")
	_ = srv.local.Release(context.Background(), netip.MustParseAddr("100.65.0.1"), "g1")
	_ = srv.local.Release(context.Background(), netip.MustParseAddr("100.65.0.2"), "g2")
	if _, err := reloadTo(t, srv, reloadConf(p29, "")); err != nil {
		t.Fatalf("shrinking once nothing is held outside: %v", err)
	}
	if got := srv.local.InUse("p"); got != 6 {
		t.Errorf("p in use after shrinking: %d, want 6", got)
	}
}

// TestReloadRefusesRestartKeys: a key that cannot change live refuses the
// whole reload with its key and line, the live keys of the same file
// included.
func TestReloadRefusesRestartKeys(t *testing.T) {
	const p = "[pool \"p\"]\nrange = 100.64.0.0/24\n"
	srv := reloadServer(t, reloadConf(p, ""))
	_, err := reloadTo(t, srv, reloadConf(p, "[ppp]\nsession-timeout = 1h\n[tun]\nname = bras9\nmtu = 1400\n"))
	want := []string{
		`lns.conf:10: tun.name: bras0 -> bras9 (needs a restart)`,
		`lns.conf:11: tun.mtu: 1500 -> 1400 (needs a restart)`,
	}
	if d := cmp.Diff(want, reasons(t, err)); d != "" {
		t.Errorf("refusal (-want +got):\n%s", d)
	}
	if srv.conf().PPP.SessionLimit != 0 {
		t.Errorf("session-timeout applied by a refused reload")
	}
	// The same live change alone applies.
	if _, err := reloadTo(t, srv, reloadConf(p, "[ppp]\nsession-timeout = 1h\n")); err != nil {
		t.Fatal(err)
	}
	if srv.conf().PPP.SessionLimit.String() != "1h0m0s" {
		t.Errorf("session-timeout in force: %v, want 1h", srv.conf().PPP.SessionLimit)
	}
}

// TestReloadIPv6Pools: an IPv6 pool grows with its prefixes held carried
// over (their index changes with the pool's prefix); shrinking it away
// from a held prefix is refused.
func TestReloadIPv6Pools(t *testing.T) {
	const p = "[pool \"p\"]\nrange = 100.64.0.0/24\n"
	pd := func(prefix string) string { return "[pool6 \"pd\"]\nprefix = " + prefix + "\nlength = 56\n" }
	srv := reloadServer(t, reloadConf(p+pd("2001:db8:0:100::/56"), ""))
	held, err := srv.local6.AllocatePrefix(context.Background(), "pd", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.local6.AllocatePrefix(context.Background(), "pd", "s2"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("a second /56 of a /56: %v, want exhausted", err)
	}
	if _, err := reloadTo(t, srv, reloadConf(p+pd("2001:db8::/48"), "")); err != nil {
		t.Fatal(err)
	}
	if got, err := srv.local6.AllocatePrefix(context.Background(), "pd", "s1"); err != nil || got != held {
		t.Errorf("s1 again after growing: %v %v, want its %v", got, err, held)
	}
	other, err := srv.local6.AllocatePrefix(context.Background(), "pd", "s2")
	if err != nil || other == held {
		t.Errorf("s2 after growing: %v %v, want a /56 other than %v", other, err, held)
	}
	_ = srv.local6.ReleasePrefix(context.Background(), other, "s2")
	_, err = reloadTo(t, srv, reloadConf(p+pd("2001:db8:0:200::/56"), ""))
	want := []string{`lns.conf:8: [pool6 "pd"] prefix: 1 of its prefixes in use are not in the new pool (2001:db8:0:100::/56 first): disconnect them or keep the pool`}
	if d := cmp.Diff(want, reasons(t, err)); d != "" {
		t.Errorf("refusal (-want +got):\n%s", d)
	}
}

// TestReloadWhileAllocating: reloads that grow and shrink a pool while
// workers allocate and release (run with -race): no address is ever held
// twice and every reload either applies whole or is refused.
func TestReloadWhileAllocating(t *testing.T) {
	small := reloadConf("[pool \"p\"]\nrange = 100.64.0.0/26\n", "")
	big := reloadConf("[pool \"p\"]\nrange = 100.64.0.0/25\n", "[ppp]\nsession-timeout = 1h\n")
	srv := reloadServer(t, small)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	holders := map[netip.Addr]string{}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "w" + string(rune('0'+w))
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, err := srv.local.Allocate(context.Background(), "", id)
				if err != nil {
					continue
				}
				mu.Lock()
				if h, dup := holders[a]; dup {
					t.Errorf("%v handed to %s while %s holds it", a, id, h)
				}
				holders[a] = id
				mu.Unlock()
				_ = srv.conf().PPP.SessionLimit // a reader of the configuration in force
				mu.Lock()
				delete(holders, a)
				mu.Unlock()
				_ = srv.local.Release(context.Background(), a, id)
			}
		}()
	}
	for i := range 200 {
		conf := big
		if i%2 == 1 {
			conf = small
		}
		_, err := reloadTo(t, srv, conf)
		var r *api.ReloadRefused
		if err != nil && !errors.As(err, &r) {
			t.Fatalf("reload %d: %v", i, err)
		}
		// A refused shrink leaves the big pool and its session-timeout.
		if c := srv.conf(); (c.Pools[0].Ranges[0] == "100.64.0.0/25") != (c.PPP.SessionLimit != 0) {
			t.Fatalf("reload %d half applied: pool %v with session-timeout %v", i, c.Pools[0].Ranges, c.PPP.SessionLimit)
		}
	}
	close(stop)
	wg.Wait()
}
