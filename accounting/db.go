package accounting

import (
	"context"
	"errors"
	"fmt"

	"github.com/bras-project/bras/migrations"
	"github.com/jackc/pgx/v5"
)

// ErrSchemaOld is returned by CheckSchema when the database lacks
// migrations this binary needs.
var ErrSchemaOld = errors.New("accounting: database schema is too old")

// DB is a small pool of pgx connections (the module graph has no
// pgxpool): at most Max connections, broken ones are dropped and redialled
// on the next use, so a restarted server is picked up again.
type DB struct {
	cfg  *pgx.ConnConfig
	sem  chan struct{}
	idle chan *pgx.Conn
}

// Open parses dsn and checks that the server answers.
func Open(ctx context.Context, dsn string, max int) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("accounting: bad DSN: %w", err)
	}
	if max <= 0 {
		max = 4
	}
	db := &DB{cfg: cfg, sem: make(chan struct{}, max), idle: make(chan *pgx.Conn, max)}
	if err := db.With(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) }); err != nil {
		return nil, fmt.Errorf("accounting: connect to %s:%d database %s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	return db, nil
}

// OpenLazy is Open without the first connection, for a daemon that must
// start (and spool) while the database is down.
func OpenLazy(dsn string, max int) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("accounting: bad DSN: %w", err)
	}
	if max <= 0 {
		max = 4
	}
	return &DB{cfg: cfg, sem: make(chan struct{}, max), idle: make(chan *pgx.Conn, max)}, nil
}

// With runs fn on a connection of the pool.
func (db *DB) With(ctx context.Context, fn func(*pgx.Conn) error) error {
	select {
	case db.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.sem }()
	var c *pgx.Conn
	select {
	case c = <-db.idle:
	default:
	}
	if c == nil || c.IsClosed() {
		var err error
		c, err = pgx.ConnectConfig(ctx, db.cfg)
		if err != nil {
			return err
		}
	}
	err := fn(c)
	if c.IsClosed() || c.PgConn().IsBusy() || ctx.Err() != nil {
		_ = c.Close(context.Background())
		return err
	}
	select {
	case db.idle <- c:
	default:
		_ = c.Close(context.Background())
	}
	return err
}

// Close closes the idle connections.
func (db *DB) Close() {
	for {
		select {
		case c := <-db.idle:
			_ = c.Close(context.Background())
		default:
			return
		}
	}
}

// CheckSchema fails with ErrSchemaOld, naming the command that fixes it,
// when the database is behind the migrations embedded in this binary.
// The daemons call it at start-up.
func CheckSchema(ctx context.Context, db *DB) error {
	return db.With(ctx, func(c *pgx.Conn) error {
		cur, err := migrations.Current(ctx, c)
		if err != nil {
			return fmt.Errorf("accounting: %w", err)
		}
		if want := migrations.Latest(); cur < want {
			return fmt.Errorf("%w: it is at version %d, this bras needs %d; run `bras migrate up -dsn ...` (or with BRAS_DATABASE_URL set)", ErrSchemaOld, cur, want)
		}
		return nil
	})
}
