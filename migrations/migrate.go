package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed sql/*.sql
var files embed.FS

// lockKey is the pg_advisory_lock key that serialises concurrent runners
// (two nodes running bras migrate up at once): "bras" in ASCII.
const lockKey = 0x62726173

// ErrBadName is returned for an embedded file that is not NNNN_name.sql.
var ErrBadName = errors.New("migrations: bad file name")

// Migration is one embedded SQL file, applied in one transaction.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Status is a migration and whether (and when) the database has it.
type Status struct {
	Migration
	Applied   bool
	AppliedAt time.Time
}

// All returns the embedded migrations in version order.
func All() ([]Migration, error) {
	ents, err := fs.ReadDir(files, "sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Migration
	for _, e := range ents {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: %s", ErrBadName, name)
		}
		b, err := files.ReadFile("sql/" + name)
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("%w: version %d twice", ErrBadName, out[i].Version)
		}
	}
	return out, nil
}

// Latest is the schema version this binary needs.
func Latest() int {
	all, err := All()
	if err != nil || len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Version
}

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Current returns the highest applied version, 0 for an empty database.
func Current(ctx context.Context, conn *pgx.Conn) (int, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("migrations: read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("migrations: read schema version: %w", err)
	}
	return v, nil
}

// List reports every embedded migration and whether it is applied.
func List(ctx context.Context, conn *pgx.Conn) ([]Status, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	applied := map[int]time.Time{}
	cur, err := Current(ctx, conn)
	if err != nil {
		return nil, err
	}
	if cur > 0 {
		rows, err := conn.Query(ctx, `SELECT version, applied_at FROM schema_migrations`)
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		for rows.Next() {
			var v int
			var at time.Time
			if err := rows.Scan(&v, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("migrations: %w", err)
			}
			applied[v] = at
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
	}
	out := make([]Status, 0, len(all))
	for _, m := range all {
		at, ok := applied[m.Version]
		out = append(out, Status{Migration: m, Applied: ok, AppliedAt: at})
	}
	return out, nil
}

// Up applies every migration the database lacks, each in its own
// transaction, under an advisory lock so concurrent runners wait for each
// other. It returns the migrations it applied.
func Up(ctx context.Context, conn *pgx.Conn) ([]Migration, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return nil, fmt.Errorf("migrations: take lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey)
	}()
	if _, err := conn.Exec(ctx, createTable); err != nil {
		return nil, fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	cur, err := Current(ctx, conn)
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range all {
		if m.Version <= cur {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("migrations: apply %04d_%s: %w", m.Version, m.Name, err)
		}
		done = append(done, m)
	}
	return done, nil
}
