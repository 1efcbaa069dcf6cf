package lns

import (
	"context"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/bras-project/bras/internal/pool6"
)

// PrefixPool hands out IPv6 prefixes: /64s for a subscriber's link
// (Framed-IPv6-Pool, RFC 3162 section 2.6), prefixes to delegate
// (Delegated-IPv6-Prefix-Pool, RFC 4818) and /128s for DHCPv6 IA_NA
// (Stateful-IPv6-Address-Pool, RFC 6911 section 3.5). LocalPrefixPool
// keeps them in memory; the PostgreSQL-backed Store of the accounting
// package shares them between several LNS nodes.
type PrefixPool interface {
	// AllocatePrefix returns a free prefix of the named pool, marked used
	// by sessionID; a session that holds one of the pool already gets
	// that one again.
	AllocatePrefix(ctx context.Context, pool, sessionID string) (netip.Prefix, error)
	// ReleasePrefix frees p if sessionID still holds it.
	ReleasePrefix(ctx context.Context, p netip.Prefix, sessionID string) error
}

// LocalPrefixPool is a set of named in-memory IPv6 pools. No prefix is
// handed out twice while it is held.
type LocalPrefixPool struct {
	mu    sync.Mutex
	pools map[string]*carved
}

// carved is one pool: its prefixes by index, a bit set to one when held.
type carved struct {
	def    pool6.Def
	size   int
	used   []uint64
	holder map[int]string // index -> session
	held   map[string]int // session -> index
	next   int            // index where the next search starts
}

// NewLocalPrefixPool builds the pools; a definition pool6.Def.Check
// refuses, two pools of one name or two that overlap are errors.
func NewLocalPrefixPool(defs []pool6.Def) (*LocalPrefixPool, error) {
	p := &LocalPrefixPool{pools: make(map[string]*carved, len(defs))}
	for i, d := range defs {
		if err := d.Check(); err != nil {
			return nil, fmt.Errorf("lns: %w", err)
		}
		if _, dup := p.pools[d.Name]; dup {
			return nil, fmt.Errorf("lns: IPv6 pool %q defined twice", d.Name)
		}
		for _, e := range defs[:i] {
			if e.Prefix.Overlaps(d.Prefix) {
				return nil, fmt.Errorf("lns: IPv6 pools %q (%v) and %q (%v) overlap", e.Name, e.Prefix, d.Name, d.Prefix)
			}
		}
		n := d.Size()
		p.pools[d.Name] = &carved{def: d, size: n, used: make([]uint64, (n+63)/64),
			holder: make(map[int]string), held: make(map[string]int)}
	}
	return p, nil
}

// AllocatePrefix implements PrefixPool.
func (p *LocalPrefixPool) AllocatePrefix(_ context.Context, pool, sessionID string) (netip.Prefix, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.pools[pool]
	if !ok {
		return netip.Prefix{}, fmt.Errorf("%w %q", ErrUnknownPool, pool)
	}
	if i, ok := c.held[sessionID]; ok {
		return c.def.At(i), nil
	}
	i, ok := c.free()
	if !ok {
		return netip.Prefix{}, fmt.Errorf("%w: %q (%d prefixes of /%d)", ErrPoolExhausted, pool, c.size, c.def.Length)
	}
	c.used[i/64] |= 1 << (i % 64)
	c.holder[i], c.held[sessionID] = sessionID, i
	c.next = (i + 1) % c.size
	return c.def.At(i), nil
}

// free finds the first free index at or after next, wrapping around, a
// word of the bit set at a time: the word of next is looked at twice,
// first from next on, last whole.
func (c *carved) free() (int, bool) {
	if len(c.holder) >= c.size {
		return 0, false
	}
	for k := 0; k <= len(c.used); k++ {
		w := (c.next/64 + k) % len(c.used)
		word := c.used[w]
		if k == 0 {
			word |= 1<<(c.next%64) - 1
		}
		if word == ^uint64(0) {
			continue
		}
		if i := w*64 + bits.TrailingZeros64(^word); i < c.size {
			return i, true
		}
	}
	return 0, false
}

// ReleasePrefix implements PrefixPool: a prefix another session holds, or
// none, is left alone.
func (p *LocalPrefixPool) ReleasePrefix(_ context.Context, pfx netip.Prefix, sessionID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.pools {
		i, ok := c.def.Index(pfx)
		if !ok {
			continue
		}
		if h, ok := c.holder[i]; ok && h == sessionID {
			delete(c.holder, i)
			if c.held[sessionID] == i {
				delete(c.held, sessionID)
			}
			c.used[i/64] &^= 1 << (i % 64)
		}
	}
	return nil
}

// ClaimPrefix marks pfx (given by RADIUS as Framed-IPv6-Prefix,
// Delegated-IPv6-Prefix or Framed-IPv6-Address) as used by sessionID when
// it is one of a pool's prefixes, so the pool never hands it to another
// session; ok reports whether it was. Claiming a prefix another session
// holds is an error. (A prefix of another length that overlaps a pool's
// is not claimed.)
func (p *LocalPrefixPool) ClaimPrefix(pfx netip.Prefix, sessionID string) (ok bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, c := range p.pools {
		i, in := c.def.Index(pfx)
		if !in {
			continue
		}
		if h, busy := c.holder[i]; busy && h != sessionID {
			return false, fmt.Errorf("lns: prefix %v of IPv6 pool %q is held by session %s", pfx, name, h)
		}
		c.used[i/64] |= 1 << (i % 64)
		c.holder[i] = sessionID
		return true, nil
	}
	return false, nil
}

// InUse returns how many prefixes of the named pool are held.
func (p *LocalPrefixPool) InUse(pool string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.pools[pool]; ok {
		return len(c.holder)
	}
	return 0
}

// Length is the length the named pool hands out; ok is false for a pool
// it does not have.
func (p *LocalPrefixPool) Length(pool string) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.pools[pool]; ok {
		return c.def.Length, true
	}
	return 0, false
}

// Use returns how much of each pool is held, sorted by name.
func (p *LocalPrefixPool) Use() []PoolUse {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PoolUse, 0, len(p.pools))
	for name, c := range p.pools {
		out = append(out, PoolUse{Name: name, Length: c.def.Length, Size: c.size, Used: len(c.holder)})
	}
	slices.SortFunc(out, func(a, b PoolUse) int { return strings.Compare(a.Name, b.Name) })
	return out
}
