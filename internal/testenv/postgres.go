package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/pglab"
	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the variable that points the tests at an existing
// server instead of an ephemeral cluster. The role needs CREATEDB.
const PostgresEnv = "BRAS_TEST_DATABASE_URL"

var pg struct {
	once    sync.Once
	mu      sync.Mutex
	cluster *pglab.Cluster
	err     error
}

// Postgres returns the DSN of a fresh, empty database for the caller. The
// databases live in one cluster per test binary: the server named by
// BRAS_TEST_DATABASE_URL, or else an ephemeral cluster started on first
// use from the Debian packages (as the postgres user, since PostgreSQL
// refuses root). Packages that use it call StopPostgres from TestMain;
// should a binary forget, the server still dies with it (SIGQUIT on
// parent death), only its temporary directory is left.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "bras_test_" + randDB()
	if base := os.Getenv(PostgresEnv); base != "" {
		dsn, err := createOn(ctx, base, name)
		if err != nil {
			t.Fatalf("testenv: %s: %v", PostgresEnv, err)
		}
		return dsn
	}
	c := sharedCluster(t)
	dsn, err := c.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

func sharedCluster(t testing.TB) *pglab.Cluster {
	t.Helper()
	if _, err := pglab.FindBin(); err != nil {
		if InCI() {
			t.Fatalf("%v and CI=true forbids skipping", err)
		}
		t.Skipf("skipped: %v (or set %s)", err, PostgresEnv)
	}
	pg.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pglab.New(ctx)
		pg.mu.Lock()
		pg.cluster, pg.err = c, err
		pg.mu.Unlock()
	})
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.err != nil {
		t.Fatalf("testenv: start PostgreSQL: %v", pg.err)
	}
	if pg.cluster == nil {
		t.Fatal("testenv: PostgreSQL already stopped (StopPostgres ran)")
	}
	return pg.cluster
}

// NewPostgresCluster starts a cluster of the test's own (for tests that
// stop and start the server) and destroys it when the test ends.
func NewPostgresCluster(t testing.TB) *pglab.Cluster {
	t.Helper()
	return NewPostgresClusterWithOptions(t, pglab.Options{})
}

// NewPostgresClusterWithOptions is NewPostgresCluster with options (a
// durable cluster for benchmarks).
func NewPostgresClusterWithOptions(t testing.TB, o pglab.Options) *pglab.Cluster {
	t.Helper()
	if _, err := pglab.FindBin(); err != nil {
		if InCI() {
			t.Fatalf("%v and CI=true forbids skipping", err)
		}
		t.Skipf("skipped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pglab.NewWithOptions(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("testenv: destroy PostgreSQL cluster: %v", err)
		}
	})
	return c
}

// StopPostgres stops the shared cluster and removes its files. Call it
// from TestMain after m.Run.
func StopPostgres() {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.cluster != nil {
		_ = pg.cluster.Destroy()
		pg.cluster = nil
	}
}

func createOn(ctx context.Context, base, name string) (string, error) {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return "", err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return withDatabase(base, name)
}

// withDatabase points a URL or keyword/value DSN at another database.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return dsn + " dbname=" + name, nil
}

func randDB() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
