package accounting

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/migrations"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	code := m.Run()
	stopBenchCluster()
	testenv.StopPostgres()
	os.Exit(code)
}

// migrated returns a fresh database with the schema applied.
func migrated(t testing.TB) (string, *DB) {
	t.Helper()
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := migrations.Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return dsn, db
}

func queryInt(t testing.TB, db *DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	err := db.With(context.Background(), func(c *pgx.Conn) error { return c.QueryRow(context.Background(), q, args...).Scan(&n) })
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
