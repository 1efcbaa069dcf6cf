package lns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/accounting"
)

// leases6 are the IPv6 prefixes a session took from the pools; a field
// RADIUS gave outright, or that no pool gave, is left invalid.
type leases6 struct {
	link      netip.Prefix // a /64 (or shorter) for the link
	delegated netip.Prefix // for DHCPv6 IA_PD
	address   netip.Prefix // a /128 for DHCPv6 IA_NA
	// claimed are the prefixes RADIUS gave that lie in a local pool,
	// held there for the session (LocalPrefixPool.ClaimPrefix).
	claimed []netip.Prefix
}

// all are the prefixes taken from the pools (not the claimed ones).
func (l *leases6) all() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []netip.Prefix{l.link, l.delegated, l.address} {
		if p.IsValid() {
			out = append(out, p)
		}
	}
	return out
}

// linkPrefix is the Framed-IPv6-Prefix advertised on the link (RFC 3162
// section 2.3): the first one of /64 or shorter.
func linkPrefix(g *aaa.IPv6Grant) netip.Prefix {
	for _, p := range g.Prefixes {
		if p.Bits() <= 64 {
			return p
		}
	}
	return netip.Prefix{}
}

// allocateIPv6 takes from the pools what the Access-Accept did not give
// outright: the link's /64 from the pool it names in Framed-IPv6-Pool
// (RFC 3162 section 2.6), the delegated prefix from
// Delegated-IPv6-Prefix-Pool (RFC 4818) and the DHCPv6 address from
// Stateful-IPv6-Address-Pool (RFC 6911 section 3.5), each else from the
// [ppp] default. An exhausted pool leaves the session without that
// prefix (it keeps its IPv4, and refuses IPV6CP when nothing IPv6 is
// left); an unknown pool or a failing one refuses the session, as for
// IPv4.
func (s *Server) allocateIPv6(ctx context.Context, o *authOutcome, ss *session, user string) error {
	var g aaa.IPv6Grant
	if o.reply != nil {
		g = o.reply.IPv6
	}
	c := &s.conf().PPP
	or := func(named, def string) string {
		if named != "" {
			return named
		}
		return def
	}
	if err := s.claimIPv6(o, &g, ss, user); err != nil {
		return err
	}
	var err error
	link := linkPrefix(&g)
	if !link.IsValid() {
		if o.v6.link, err = s.takePrefix(ctx, ss, user, "link", or(g.PrefixPool, c.DefaultIPv6Pool)); err != nil {
			return err
		}
		link = o.v6.link
	}
	delegated := g.Delegated
	if !delegated.IsValid() {
		if o.v6.delegated, err = s.takePrefix(ctx, ss, user, "delegated", or(g.DelegatedPool, c.DefaultDelegatedPool)); err != nil {
			return err
		}
		delegated = o.v6.delegated
	}
	// An address alone is no IPv6 service (ipv6Grant): none is taken
	// for a session that has no prefix.
	if !g.Address.IsValid() && (link.IsValid() || delegated.IsValid()) {
		o.v6.address, err = s.takePrefix(ctx, ss, user, "address", or(g.AddressPool, c.DefaultIPv6AddressPool))
	}
	return err
}

// claimIPv6 holds the prefixes RADIUS gave outright in the local pools
// they lie in, as IPv4 claims a Framed-IP-Address: a pool never hands
// them to another session, and one another session holds refuses this
// one.
func (s *Server) claimIPv6(o *authOutcome, g *aaa.IPv6Grant, ss *session, user string) error {
	if s.local6 == nil || s.prefixes != PrefixPool(s.local6) {
		return nil // shared pools: PostgreSQL has no claim (left to do)
	}
	given := []netip.Prefix{linkPrefix(g), g.Delegated}
	if g.Address.IsValid() {
		given = append(given, netip.PrefixFrom(g.Address, 128))
	}
	for _, p := range given {
		if !p.IsValid() {
			continue
		}
		ok, err := s.local6.ClaimPrefix(p, ss.id)
		if err != nil {
			s.stats.AuthErrors.Add(1)
			ss.log.Warn("an IPv6 prefix from RADIUS is held by another session", "user", user, "prefix", p, "err", err)
			return err
		}
		if ok {
			o.v6.claimed = append(o.v6.claimed, p)
		}
	}
	return nil
}

// fits says whether a prefix of a pool suits its use: a link's is a /64
// for SLAAC's 64-bit interface identifiers (RFC 4291 section 2.5.1, RFC
// 4862 section 5.5.3), an address a /128.
func fits(use string, p netip.Prefix) bool {
	switch use {
	case "link":
		return p.Bits() == 64
	case "address":
		return p.Bits() == 128
	}
	return p.Bits() <= 64
}

// takePrefix allocates a prefix for use ("link", "delegated",
// "address") from pool; none when pool is "" or exhausted.
func (s *Server) takePrefix(ctx context.Context, ss *session, user, use, pool string) (netip.Prefix, error) {
	if pool == "" {
		return netip.Prefix{}, nil
	}
	var p netip.Prefix
	err := fmt.Errorf("%w %q (no [pool6] is configured)", ErrUnknownPool, pool)
	if s.prefixes != nil {
		p, err = s.prefixes.AllocatePrefix(ctx, pool, ss.id)
	}
	switch {
	case isExhausted(err):
		s.stats.countExhausted(pool, "ipv6")
		ss.log.Warn("IPv6 pool exhausted: the session runs without its "+use+" prefix", "user", user, "pool", pool, "err", err)
		return netip.Prefix{}, nil
	case err != nil:
		s.stats.AuthErrors.Add(1)
		ss.log.Warn("no IPv6 "+use+" prefix for the subscriber", "user", user, "pool", pool, "err", err)
		return netip.Prefix{}, err
	case !fits(use, p):
		s.releasePrefix(ss, p)
		ss.log.Warn("IPv6 pool of the wrong length for its use: the session runs without its "+use+" prefix",
			"user", user, "pool", pool, "prefix", p)
		return netip.Prefix{}, nil
	}
	return p, nil
}

func isExhausted(err error) bool {
	return errors.Is(err, ErrPoolExhausted) || errors.Is(err, accounting.ErrPoolExhausted)
}

// releasePrefix gives a prefix back to its pool: at once in memory, on
// the releaser for a shared pool (a database round trip).
func (s *Server) releasePrefix(ss *session, p netip.Prefix) {
	if s.prefixes == PrefixPool(s.local6) {
		_ = s.local6.ReleasePrefix(context.Background(), p, ss.id)
		return
	}
	s.queueRelease(release{ss: ss, prefix: p})
}

// poolFamily is a series of bras_pool_exhausted_total.
type poolFamily struct{ pool, family string }

// exhaustedCounters makes the counters of the configured pools' names
// (the label is bounded: any other name counts as "other").
func exhaustedCounters(cfg *FileConfig) map[poolFamily]*atomic.Uint64 {
	m := map[poolFamily]*atomic.Uint64{
		{"other", "ipv4"}: new(atomic.Uint64),
		{"other", "ipv6"}: new(atomic.Uint64),
	}
	for _, p := range cfg.Pools {
		m[poolFamily{p.Name, "ipv4"}] = new(atomic.Uint64)
	}
	for _, p := range cfg.Pools6 {
		m[poolFamily{p.Name, "ipv6"}] = new(atomic.Uint64)
	}
	return m
}

func (st *Stats) countExhausted(pool, family string) {
	c, ok := st.exhausted[poolFamily{pool, family}]
	if !ok {
		c = st.exhausted[poolFamily{"other", family}]
	}
	if c != nil {
		c.Add(1)
	}
}

// Exhausted is how many allocations found the named pool of family
// ("ipv4", "ipv6") exhausted.
func (st *Stats) Exhausted(pool, family string) uint64 {
	if c := st.exhausted[poolFamily{pool, family}]; c != nil {
		return c.Load()
	}
	return 0
}
