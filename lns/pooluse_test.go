package lns

import (
	"context"
	"net/netip"
	"testing"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/pool6"
	"github.com/google/go-cmp/cmp"
)

// TestPoolUse: the in-memory pools count what sessions hold; the LNS's own
// address is neither free nor used.
func TestPoolUse(t *testing.T) {
	ctx := context.Background()
	cfg := minimalConfig(t, "n", 0, "100.64.0.0/29") // .1-.6, .1 the LNS's
	p, err := cfg.LocalPools()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]PoolUse{{Name: "p", Size: 5}}, p.Use()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	a, err := p.Allocate(ctx, "p", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Allocate(ctx, "p", "s2"); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(ctx, a, "s1"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]PoolUse{{Name: "p", Size: 5, Used: 1}}, p.Use()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}

	p6, err := NewLocalPrefixPool([]pool6.Def{
		{Name: "pd", Prefix: netip.MustParsePrefix("2001:db8:4000::/48"), Length: 56},
		{Name: "links", Prefix: netip.MustParsePrefix("2001:db8:1::/56"), Length: 64},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2", "s2"} { // s2 gets its prefix again
		if _, err := p6.AllocatePrefix(ctx, "pd", id); err != nil {
			t.Fatal(err)
		}
	}
	want := []PoolUse{{Name: "links", Length: 64, Size: 256}, {Name: "pd", Length: 56, Size: 256, Used: 2}}
	if diff := cmp.Diff(want, p6.Use()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// sharedFake is a pool in a database as the API sees it.
type sharedFake struct {
	AddressPool
	PrefixPool
	use []accounting.PoolUse
}

func (f sharedFake) PoolUse(context.Context) ([]accounting.PoolUse, error) { return f.use, nil }

// TestAPIPools: GET /api/v1/pools shows the in-memory pools, or the shared
// ones of the database with what every node holds.
func TestAPIPools(t *testing.T) {
	cfg := minimalConfig(t, "n", 0, "100.64.0.0/29")
	local, err := cfg.LocalPools()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Allocate(context.Background(), "p", "s1"); err != nil {
		t.Fatal(err)
	}
	local6, err := NewLocalPrefixPool([]pool6.Def{{Name: "pd", Prefix: netip.MustParsePrefix("2001:db8:4000::/48"), Length: 56}})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{pool: local, local: local, prefixes: local6, local6: local6}
	got, err := s.API().Pools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []api.Pool{{Name: "p", Family: "ipv4", Size: 5, Used: 1, Free: 4}, {Name: "pd", Family: "ipv6", Length: 56, Size: 256, Free: 256}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("in memory (-want +got)\n%s", diff)
	}

	db := sharedFake{use: []accounting.PoolUse{
		{Name: "wholesale", Family: "ipv4", Size: 254, Used: 10},
		{Name: "pd", Family: "ipv6", Length: 56, Size: 256, Used: 3},
	}}
	s = &Server{pool: db, local: local, prefixes: db, local6: local6}
	got, err = s.API().Pools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want = []api.Pool{{Name: "wholesale", Family: "ipv4", Shared: true, Size: 254, Used: 10, Free: 244}, {Name: "pd", Family: "ipv6", Length: 56, Shared: true, Size: 256, Used: 3, Free: 253}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shared (-want +got)\n%s", diff)
	}
}
