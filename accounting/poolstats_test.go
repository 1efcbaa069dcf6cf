package accounting

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPoolUse: the shared pools' sizes and leases, counted over every
// node, follow allocations and releases.
func TestPoolUse(t *testing.T) {
	_, db := migrated(t)
	ctx := context.Background()
	a, b := NewStore(db, "lns1"), NewStore(db, "lns2")
	if _, err := a.AddPool(ctx, "wholesale", netip.MustParsePrefix("100.64.0.0/29")); err != nil { // 6 addresses
		t.Fatal(err)
	}
	if _, err := a.AddPool(ctx, "business", netip.MustParsePrefix("100.65.0.0/30")); err != nil { // 2
		t.Fatal(err)
	}
	if err := a.AddPrefixPool(ctx, def6("pd", "2001:db8:100::/48", 56)); err != nil { // 256, no lease rows yet
		t.Fatal(err)
	}
	use := func() []PoolUse {
		t.Helper()
		u, err := b.PoolUse(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	want := []PoolUse{
		{Name: "business", Family: "ipv4", Size: 2},
		{Name: "wholesale", Family: "ipv4", Size: 6},
		{Name: "pd", Family: "ipv6", Length: 56, Size: 256},
	}
	if diff := cmp.Diff(want, use()); diff != "" {
		t.Errorf("empty pools (-want +got)\n%s", diff)
	}
	addr, err := a.Allocate(ctx, "wholesale", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Allocate(ctx, "wholesale", "s2"); err != nil {
		t.Fatal(err)
	}
	p1, err := a.AllocatePrefix(ctx, "pd", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.AllocatePrefix(ctx, "pd", "s2"); err != nil {
		t.Fatal(err)
	}
	want[1].Used, want[2].Used = 2, 2
	if diff := cmp.Diff(want, use()); diff != "" {
		t.Errorf("two leases of each (-want +got)\n%s", diff)
	}
	if err := a.Release(ctx, addr, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := a.ReleasePrefix(ctx, p1, "s1"); err != nil {
		t.Fatal(err)
	}
	want[1].Used, want[2].Used = 1, 1
	if diff := cmp.Diff(want, use()); diff != "" {
		t.Errorf("after releases (-want +got)\n%s", diff)
	}
}
