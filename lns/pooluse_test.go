package lns

import (
	"context"
	"net/netip"
	"testing"

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
