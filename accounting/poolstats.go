package accounting

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PoolUse is how much of a shared pool is leased, by every node.
type PoolUse struct {
	Name   string
	Family string // "ipv4" (pool_addresses) or "ipv6" (ipv6_pools)
	Length int    // IPv6: the length of the prefixes the pool hands out
	Size   int    // addresses or prefixes it holds
	Used   int    // of those, leased to a session
}

// PoolUse returns the shared pools, the IPv4 ones then the IPv6 ones,
// each sorted by name, with how many addresses or prefixes are leased.
// An IPv6 pool's size is its definition's: its lease rows are made only
// when first handed out.
func (s *Store) PoolUse(ctx context.Context) ([]PoolUse, error) {
	var out []PoolUse
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		out = out[:0]
		rows, err := c.Query(ctx, `SELECT pool, count(*), count(session_id) FROM pool_addresses GROUP BY pool ORDER BY pool`)
		if err != nil {
			return err
		}
		for rows.Next() {
			u := PoolUse{Family: "ipv4"}
			if err := rows.Scan(&u.Name, &u.Size, &u.Used); err != nil {
				return err
			}
			out = append(out, u)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = c.Query(ctx, `SELECT p.name, p.length, p.size,
	(SELECT count(*) FROM ipv6_leases l WHERE l.pool = p.name AND l.session_id IS NOT NULL)
FROM ipv6_pools p ORDER BY p.name`)
		if err != nil {
			return err
		}
		for rows.Next() {
			u := PoolUse{Family: "ipv6"}
			if err := rows.Scan(&u.Name, &u.Length, &u.Size, &u.Used); err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("accounting: pool use: %w", err)
	}
	return out, nil
}
