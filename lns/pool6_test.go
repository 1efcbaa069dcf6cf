package lns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/pool6"
	"github.com/google/go-cmp/cmp"
)

func def6(name, prefix string, length int) pool6.Def {
	return pool6.Def{Name: name, Prefix: netip.MustParsePrefix(prefix), Length: length}
}

// TestLocalPrefixPoolCarves: a /52 cut into /56s hands out its 16
// prefixes in order, each once, then runs dry; the same session asking
// again gets the prefix it holds.
func TestLocalPrefixPoolCarves(t *testing.T) {
	p, err := NewLocalPrefixPool([]pool6.Def{def6("pd", "2001:db8:100::/52", 56), def6("link", "2001:db8:1::/48", 64)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var got []string
	for i := range 16 {
		pfx, err := p.AllocatePrefix(ctx, "pd", fmt.Sprintf("s%d", i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, pfx.String())
	}
	want := []string{"2001:db8:100::/56"}
	for i := 1; i < 16; i++ {
		want = append(want, fmt.Sprintf("2001:db8:100:%x00::/56", i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prefixes (-want +got)\n%s", diff)
	}
	if _, err := p.AllocatePrefix(ctx, "pd", "s16"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("17th /56 of a /52: err = %v, want ErrPoolExhausted", err)
	}
	if again, err := p.AllocatePrefix(ctx, "pd", "s3"); err != nil || again.String() != want[3] {
		t.Errorf("s3 asking again = %v, %v; want its %s", again, err, want[3])
	}
	if n := p.InUse("pd"); n != 16 {
		t.Errorf("InUse = %d, want 16", n)
	}
	// The other pool is untouched by the first one's exhaustion.
	if l, err := p.AllocatePrefix(ctx, "link", "s0"); err != nil || l.String() != "2001:db8:1::/64" {
		t.Errorf("link /64 = %v, %v", l, err)
	}
	if _, err := p.AllocatePrefix(ctx, "gold", "s0"); !errors.Is(err, ErrUnknownPool) {
		t.Errorf("unknown pool: err = %v, want ErrUnknownPool", err)
	}
}

// TestLocalPrefixPoolRelease: only the session holding a prefix frees
// it; the freed prefix is handed out again once the pool has gone round.
func TestLocalPrefixPoolRelease(t *testing.T) {
	p, err := NewLocalPrefixPool([]pool6.Def{def6("pd", "2001:db8:100::/54", 56)}) // 4 prefixes
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	held := map[string]netip.Prefix{}
	for _, s := range []string{"a", "b", "c", "d"} {
		if held[s], err = p.AllocatePrefix(ctx, "pd", s); err != nil {
			t.Fatal(err)
		}
	}
	// A stranger, or the wrong session, frees nothing.
	_ = p.ReleasePrefix(ctx, held["b"], "a")
	_ = p.ReleasePrefix(ctx, held["b"], "nobody")
	_ = p.ReleasePrefix(ctx, netip.MustParsePrefix("2001:db8:100:100::/64"), "b") // not one of the pool's /56s
	if n := p.InUse("pd"); n != 4 {
		t.Fatalf("InUse after releases by others = %d, want 4", n)
	}
	if _, err := p.AllocatePrefix(ctx, "pd", "e"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("allocation with every prefix held: %v, want ErrPoolExhausted", err)
	}
	if err := p.ReleasePrefix(ctx, held["b"], "b"); err != nil {
		t.Fatal(err)
	}
	got, err := p.AllocatePrefix(ctx, "pd", "e")
	if err != nil || got != held["b"] {
		t.Fatalf("after b's release: %v, %v; want b's %v", got, err, held["b"])
	}
	// b's old release does not free what e holds now.
	_ = p.ReleasePrefix(ctx, held["b"], "b")
	if n := p.InUse("pd"); n != 4 {
		t.Errorf("InUse after a stale release = %d, want 4", n)
	}
	// Round the pool: a prefix freed behind the cursor is found again.
	for _, s := range []string{"a", "c"} {
		_ = p.ReleasePrefix(ctx, held[s], s)
	}
	for _, s := range []string{"f", "g"} {
		if _, err := p.AllocatePrefix(ctx, "pd", s); err != nil {
			t.Errorf("allocation %s after two releases: %v", s, err)
		}
	}
}

// TestLocalPrefixPoolLarge: a pool of 2^20 /64s (a /44) hands out
// distinct prefixes, and the last free one is found past the end of
// the cursor's word.
func TestLocalPrefixPoolLarge(t *testing.T) {
	p, err := NewLocalPrefixPool([]pool6.Def{def6("big", "2001:db8::/44", 64)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := p.pools["big"]
	// Fill every bit but one near the start, with the cursor at the end.
	for i := range c.used {
		c.used[i] = ^uint64(0)
	}
	c.used[1] &^= 1 << 5
	for i := 0; i < c.size; i++ {
		if i != 69 {
			c.holder[i] = "x"
		}
	}
	c.next = c.size - 1
	got, err := p.AllocatePrefix(ctx, "big", "last")
	if err != nil || got.String() != "2001:db8:0:45::/64" {
		t.Errorf("the one free /64 = %v, %v; want 2001:db8:0:45::/64 (index 69)", got, err)
	}
}

func TestLocalPrefixPoolRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		defs []pool6.Def
		want string
	}{
		{"too many prefixes", []pool6.Def{def6("big", "2001:db8::/32", 64)}, "more than the 1048576"},
		{"IPv4", []pool6.Def{def6("v4", "100.64.0.0/16", 24)}, "not an IPv6 prefix"},
		{"length shorter than the prefix", []pool6.Def{def6("s", "2001:db8::/48", 40)}, "outside /48-/128"},
		{"overlap", []pool6.Def{def6("a", "2001:db8::/48", 64), def6("b", "2001:db8:0:100::/56", 64)}, "overlap"},
		{"same name", []pool6.Def{def6("a", "2001:db8::/48", 64), def6("a", "2001:db8:1::/48", 64)}, "twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewLocalPrefixPool(tt.defs); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}
