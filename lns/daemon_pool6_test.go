package lns

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/migrations"
	"github.com/jackc/pgx/v5"
)

// TestSharedPrefixPools: with [accounting] shared-pools, two LNS nodes
// define their [pool6] sections in PostgreSQL and hand out prefixes of
// the one pool without ever giving the same twice; a node configured with
// another definition of the pool is refused at start-up.
func TestSharedPrefixPools(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = migrations.Up(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open := func(node, pd string) (*daemon, Deps, error) {
		conf := "[lns]\nnode = " + node + "\n[tun]\naddress = 100.64.0.1/32\n[pool \"p\"]\nrange = 100.64.0.0/24\n" +
			"[pool6 \"pd\"]\nprefix = " + pd + "\nlength = 56\n[ppp]\ndefault-delegated-pool = pd\n" +
			"[lac \"a\"]\nsecret = x\n[local-users]\nfile = /dev/null\n[api]\ntoken = t\n[accounting]\ndatabase = " + dsn + "\nshared-pools = true\n"
		cfg, err := ParseConfig(strings.NewReader(conf), "test.conf")
		if err != nil {
			t.Fatal(err)
		}
		d := &daemon{cfg: cfg, log: slog.New(slog.DiscardHandler)}
		var deps Deps
		err = d.openDatabase(ctx, &deps)
		t.Cleanup(func() {
			if d.db != nil {
				d.db.Close()
			}
		})
		return d, deps, err
	}
	_, a, err := open("n1", "2001:db8:100::/52")
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := open("n2", "2001:db8:100::/52")
	if err != nil {
		t.Fatal(err)
	}
	if a.Prefixes == nil || b.Prefixes == nil {
		t.Fatal("shared pools: no PostgreSQL prefix pool in the LNS's parts")
	}
	seen := map[netip.Prefix]bool{}
	for i := range 16 {
		p, err := []PrefixPool{a.Prefixes, b.Prefixes}[i%2].AllocatePrefix(ctx, "pd", "s"+string(rune('a'+i)))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[p] {
			t.Errorf("%v handed out twice", p)
		}
		seen[p] = true
	}
	if _, err := a.Prefixes.AllocatePrefix(ctx, "pd", "late"); !isExhausted(err) {
		t.Errorf("17th /56 of a /52: %v, want an exhausted pool", err)
	}
	if _, _, err := open("n3", "2001:db8:100::/51"); !errors.Is(err, accounting.ErrPoolChanged) {
		t.Errorf("a node with another definition of pd: %v, want ErrPoolChanged", err)
	}
}
