package accounting

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/bras-project/bras/internal/pool6"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Errors of the IPv6 pools (with ErrPoolExhausted and ErrNotLeased).
var (
	ErrUnknownPool = errors.New("accounting: unknown IPv6 pool")
	ErrPoolChanged = errors.New("accounting: IPv6 pool defined otherwise in the database")
)

// AddPrefixPool defines an IPv6 pool shared by every node (see
// migrations/sql/0004_ipv6_pools.sql): d.Prefix cut into prefixes of
// d.Length, leased by their index in the pool. A pool the database has
// with the same definition is left alone; one it has otherwise is
// ErrPoolChanged (its leases were numbered by the old definition), and
// one overlapping another pool is refused.
func (s *Store) AddPrefixPool(ctx context.Context, d pool6.Def) error {
	if err := d.Check(); err != nil {
		return fmt.Errorf("accounting: %w", err)
	}
	var prefix string
	var length int
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, `INSERT INTO ipv6_pools (name, prefix, length, size) VALUES ($1, $2::cidr, $3, $4)
ON CONFLICT (name) DO NOTHING`, d.Name, d.Prefix.String(), d.Length, d.Size()); err != nil {
			return err
		}
		return c.QueryRow(ctx, `SELECT prefix::text, length FROM ipv6_pools WHERE name = $1`, d.Name).Scan(&prefix, &length)
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23P01" { // exclusion_violation: overlaps another pool
			return fmt.Errorf("accounting: IPv6 pool %s (%v) overlaps a pool the database has: %s", d.Name, d, pe.Detail)
		}
		return fmt.Errorf("accounting: add IPv6 pool %s: %w", d.Name, err)
	}
	if prefix != d.Prefix.String() || length != d.Length {
		return fmt.Errorf("%w: %s is %s cut into /%d there, %v here", ErrPoolChanged, d.Name, prefix, length, d)
	}
	return nil
}

// AllocatePrefix leases a prefix of pool to sessionID, or returns the one
// it holds of that pool already. A prefix never leased goes first (the
// pool's next_index moves under its row lock), then the least recently
// released one (claimed with FOR UPDATE SKIP LOCKED); a lease is a row
// keyed by its prefix with one session column, so no two sessions on any
// nodes ever hold the same prefix. Errors: ErrUnknownPool,
// ErrPoolExhausted.
func (s *Store) AllocatePrefix(ctx context.Context, pool, sessionID string) (netip.Prefix, error) {
	var p netip.Prefix
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		var err error
		for try := 0; try < 2; try++ {
			if p, err = s.allocatePrefix(ctx, c, pool, sessionID); !isUniqueViolation(err) {
				return err
			}
			// The same session allocating twice at once, on two
			// connections: the second finds the first's lease.
		}
		return err
	})
	switch {
	case errors.Is(err, ErrUnknownPool), errors.Is(err, ErrPoolExhausted):
		return netip.Prefix{}, err
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("accounting: allocate from IPv6 pool %s: %w", pool, err)
	}
	return p, nil
}

func (s *Store) allocatePrefix(ctx context.Context, c *pgx.Conn, pool, sessionID string) (netip.Prefix, error) {
	var p netip.Prefix
	err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		var d pool6.Def
		var txt string
		err := tx.QueryRow(ctx, `SELECT prefix::text, length FROM ipv6_pools WHERE name = $1`, pool).Scan(&txt, &d.Length)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w %q", ErrUnknownPool, pool)
		}
		if err != nil {
			return err
		}
		if d.Prefix, err = netip.ParsePrefix(txt); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT prefix::text FROM ipv6_leases WHERE pool = $1 AND session_id = $2`, pool, sessionID).Scan(&txt)
		if err == nil {
			p, err = netip.ParsePrefix(txt)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var idx int64
		err = tx.QueryRow(ctx, `UPDATE ipv6_pools SET next_index = next_index + 1
WHERE name = $1 AND next_index < size RETURNING next_index - 1`, pool).Scan(&idx)
		if err == nil {
			p = d.At(int(idx))
			_, err = tx.Exec(ctx, `INSERT INTO ipv6_leases (pool, idx, prefix, session_id, node, leased_at)
VALUES ($1, $2, $3::cidr, $4, $5, now())`, pool, idx, p.String(), sessionID, s.node)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// Every prefix has been leased once: the least recently released.
		err = tx.QueryRow(ctx, `WITH pick AS (
	SELECT idx FROM ipv6_leases WHERE pool = $1 AND session_id IS NULL
	ORDER BY released_at, idx LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE ipv6_leases l SET session_id = $2, node = $3, leased_at = now(), released_at = NULL
FROM pick WHERE l.pool = $1 AND l.idx = pick.idx
RETURNING l.prefix::text`, pool, sessionID, s.node).Scan(&txt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: IPv6 pool %s (%d prefixes of /%d)", ErrPoolExhausted, pool, d.Size(), d.Length)
		}
		if err != nil {
			return err
		}
		p, err = netip.ParsePrefix(txt)
		return err
	})
	return p, err
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// ReleasePrefix returns p to its pool. Releasing a prefix the session
// does not hold is ErrNotLeased (and changes nothing).
func (s *Store) ReleasePrefix(ctx context.Context, p netip.Prefix, sessionID string) error {
	var n int64
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `UPDATE ipv6_leases SET session_id = NULL, node = NULL, released_at = now()
WHERE prefix = $1::cidr AND session_id = $2`, p.Masked().String(), sessionID)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("accounting: release %s: %w", p, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s, %s", ErrNotLeased, p, sessionID)
	}
	return nil
}
