package accounting

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/pool6"
)

func def6(name, prefix string, length int) pool6.Def {
	return pool6.Def{Name: name, Prefix: netip.MustParsePrefix(prefix), Length: length}
}

// TestPrefixPoolTwoNodes: two LNS nodes, each with its own connections,
// allocate /56s of one /48 at the same time, first from prefixes never
// leased and then, after every one is released, from released ones; no
// prefix is ever held by two sessions, and the pool runs dry cleanly.
func TestPrefixPoolTwoNodes(t *testing.T) {
	_, dbA := migrated(t)
	ctx := context.Background()
	dbB, err := Open(ctx, dbA.cfg.ConnString(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	a, b := NewStore(dbA, "lns1"), NewStore(dbB, "lns2")
	d := def6("pd", "2001:db8:100::/48", 56) // 256 prefixes
	for _, st := range []*Store{a, b} {      // every node defines the pools it is configured with
		if err := st.AddPrefixPool(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	round := func(name string) map[netip.Prefix]string {
		var mu sync.Mutex
		got := map[netip.Prefix]string{}
		exhausted := 0
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			st := []*Store{a, b}[w%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					id := fmt.Sprintf("%s-w%d-%d", name, w, i)
					p, err := st.AllocatePrefix(ctx, "pd", id)
					mu.Lock()
					switch {
					case errors.Is(err, ErrPoolExhausted):
						exhausted++
					case err != nil:
						t.Errorf("AllocatePrefix(%s): %v", id, err)
					default:
						if prev, dup := got[p]; dup {
							t.Errorf("%s: %v given to %s and %s", name, p, prev, id)
						}
						if _, ok := d.Index(p); !ok {
							t.Errorf("%s: %v is not a /56 of the pool", name, p)
						}
						got[p] = id
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(got) != 256 || exhausted != 320-256 {
			t.Errorf("%s: allocated %d, exhausted %d; want 256 and 64", name, len(got), exhausted)
		}
		return got
	}
	first := round("fresh")
	if n := queryInt(t, dbA, `SELECT count(*) FROM ipv6_leases`); n != 256 {
		t.Errorf("%d lease rows, want one per prefix (256)", n)
	}
	for p, id := range first {
		st := a
		if len(id)%2 == 0 {
			st = b
		}
		if err := st.ReleasePrefix(ctx, p, id); err != nil {
			t.Fatal(err)
		}
	}
	round("reused")
	if n := queryInt(t, dbA, `SELECT count(*) FROM ipv6_leases`); n != 256 {
		t.Errorf("%d lease rows after reuse, want still 256", n)
	}
}

// TestPrefixPoolLeases: idempotence per session, release by its holder
// only, the least recently released prefix first, unknown pools, and
// definitions the database refuses.
func TestPrefixPoolLeases(t *testing.T) {
	_, db := migrated(t)
	ctx := context.Background()
	s := NewStore(db, "lns1")
	if err := s.AddPrefixPool(ctx, def6("link", "2001:db8:1::/62", 64)); err != nil { // 4 /64s
		t.Fatal(err)
	}
	if err := s.AddPrefixPool(ctx, def6("na", "2001:db8:2::/126", 128)); err != nil { // 3 addresses
		t.Fatal(err)
	}
	held := map[string]netip.Prefix{}
	for i, id := range []string{"a", "b", "c", "d"} {
		p, err := s.AllocatePrefix(ctx, "link", id)
		if want := netip.MustParsePrefix(fmt.Sprintf("2001:db8:1:%d::/64", i)); err != nil || p != want {
			t.Fatalf("AllocatePrefix(%s) = %v, %v; want %s", id, p, err, want)
		}
		held[id] = p
	}
	if again, err := s.AllocatePrefix(ctx, "link", "c"); err != nil || again != held["c"] {
		t.Errorf("c asking again = %v, %v; want %v", again, err, held["c"])
	}
	if _, err := s.AllocatePrefix(ctx, "link", "e"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("fifth /64 of a /62: %v, want ErrPoolExhausted", err)
	}
	if err := s.ReleasePrefix(ctx, held["b"], "a"); !errors.Is(err, ErrNotLeased) {
		t.Errorf("release by another session = %v, want ErrNotLeased", err)
	}
	if _, err := s.AllocatePrefix(ctx, "link", "e"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("a release by the wrong session freed a prefix: %v", err)
	}
	for _, id := range []string{"d", "b"} { // d first: it goes out first again
		if err := s.ReleasePrefix(ctx, held[id], id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p, err := s.AllocatePrefix(ctx, "link", "e"); err != nil || p != held["d"] {
		t.Errorf("after releases of d then b: %v, %v; want d's %v (least recently released)", p, err, held["d"])
	}
	if err := s.ReleasePrefix(ctx, held["d"], "d"); !errors.Is(err, ErrNotLeased) {
		t.Errorf("d's second release = %v, want ErrNotLeased (e holds it now)", err)
	}
	// Addresses: index 0 is ::1, the Subnet-Router anycast ::0 is left out.
	for i, id := range []string{"a", "b", "c"} {
		p, err := s.AllocatePrefix(ctx, "na", id)
		if want := fmt.Sprintf("2001:db8:2::%d/128", i+1); err != nil || p.String() != want {
			t.Errorf("address for %s = %v, %v; want %s", id, p, err, want)
		}
	}
	if _, err := s.AllocatePrefix(ctx, "gold", "a"); !errors.Is(err, ErrUnknownPool) {
		t.Errorf("unknown pool: %v, want ErrUnknownPool", err)
	}
	// Definitions.
	if err := s.AddPrefixPool(ctx, def6("link", "2001:db8:1::/62", 64)); err != nil {
		t.Errorf("the same definition again: %v", err)
	}
	if err := s.AddPrefixPool(ctx, def6("link", "2001:db8:1::/60", 64)); !errors.Is(err, ErrPoolChanged) {
		t.Errorf("a changed definition: %v, want ErrPoolChanged", err)
	}
	if err := s.AddPrefixPool(ctx, def6("other", "2001:db8::/32", 48)); err == nil {
		t.Error("a pool overlapping two others was added")
	}
	if err := s.AddPrefixPool(ctx, def6("huge", "2001:db9::/32", 64)); !errors.Is(err, pool6.ErrBadPool) {
		t.Errorf("a pool of 2^32 prefixes: %v, want pool6.ErrBadPool", err)
	}
}

// TestCloseOrphansFreesPrefixes: the IPv6 leases a node held when it
// stopped are freed by its next start, with its addresses; other nodes'
// and the new run's stay.
func TestCloseOrphansFreesPrefixes(t *testing.T) {
	_, db := migrated(t)
	ctx := context.Background()
	s1, s2 := NewStore(db, "lns1"), NewStore(db, "lns2")
	if err := s1.AddPrefixPool(ctx, def6("pd", "2001:db8:100::/54", 56)); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.AllocatePrefix(ctx, "pd", "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.AllocatePrefix(ctx, "pd", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	boot := time.Now()
	time.Sleep(10 * time.Millisecond)
	if _, err := s1.AllocatePrefix(ctx, "pd", "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.CloseOrphans(ctx, "lns1", boot); err != nil {
		t.Fatal(err)
	}
	got := query(t, db, `SELECT session_id FROM ipv6_leases WHERE session_id IS NOT NULL ORDER BY 1`)
	if len(got) != 2 || got[0][0] != "elsewhere" || got[1][0] != "new" {
		t.Errorf("leases held after CloseOrphans: %v, want elsewhere's and new's", got)
	}
	// The freed prefix goes out again.
	for _, id := range []string{"x", "y"} {
		if _, err := s1.AllocatePrefix(ctx, "pd", id); err != nil {
			t.Errorf("AllocatePrefix(%s) after CloseOrphans: %v", id, err)
		}
	}
}
