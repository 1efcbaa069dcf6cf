package migrations

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

func TestAllOrdered(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || all[0].Version != 1 {
		t.Fatalf("migrations = %v, want a first version 1", all)
	}
	if Latest() != all[len(all)-1].Version {
		t.Errorf("Latest() = %d", Latest())
	}
}

// TestUpFromEmpty applies everything to an empty database from two
// runners at once (the advisory lock serialises them), then again (a
// no-op), and checks the status.
func TestUpFromEmpty(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	applied := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close(ctx)
			done, err := Up(ctx, c)
			if err != nil {
				t.Error(err)
			}
			applied[i] = len(done)
		}()
	}
	wg.Wait()
	if applied[0]+applied[1] != Latest() {
		t.Errorf("applied %v migrations, want %d in total", applied, Latest())
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if done, err := Up(ctx, c); err != nil || len(done) != 0 {
		t.Errorf("second Up = %v, %v; want nothing to do", done, err)
	}
	st, err := List(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied || s.AppliedAt.IsZero() {
			t.Errorf("migration %d not applied: %+v", s.Version, s)
		}
	}
	if v, err := Current(ctx, c); err != nil || v != Latest() {
		t.Errorf("Current = %d, %v; want %d", v, err, Latest())
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM radacct`).Scan(&n); err != nil {
		t.Errorf("radacct view: %v", err)
	}
}

func TestCurrentEmpty(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if v, err := Current(ctx, c); err != nil || v != 0 {
		t.Errorf("Current on an empty database = %d, %v; want 0", v, err)
	}
}
