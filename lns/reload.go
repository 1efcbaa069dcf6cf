package lns

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/config"
)

// A reload re-reads the configuration file, checks it as -check does,
// and applies what can change while sessions run. What it changes is for
// new tunnels and new sessions; a session up keeps what it was given
// (its address, its timeouts, its rate). A change that cannot apply live
// refuses the whole reload, and the configuration in force stays whole.

// liveKeys are the keys and sections a reload applies (as paths of
// config.Change, a trailing "." for a whole section). Any other
// difference needs a restart: sockets, the TUN device, the data plane,
// the worker and shard counts, the node name, the database.
var liveKeys = []string{
	"pool[", "pool6[", // reshaped in place (reshapePools)
	"lac[",                                        // read for each new tunnel and call
	"radius.server[", "radius.accounting-server[", // aaa.Client.Reconfigure
	"radius.timeout", "radius.retries", "radius.dead-time",
	"coa.client[", // aaa.CoAServer.SetClients
	"ppp.auth", "ppp.dns", "ppp.echo-interval", "ppp.echo-failures", "ppp.restart",
	"ppp.default-pool", "ppp.session-timeout", "ppp.idle-timeout",
	"ppp.default-rate-down", "ppp.default-rate-up",
	"ppp.default-ipv6-pool", "ppp.default-delegated-pool", "ppp.default-ipv6-address-pool",
	"lns.retransmit-cap", "lns.max-retries", // read for each new tunnel
}

func isLive(path string) bool {
	for _, k := range liveKeys {
		if path == k || strings.HasPrefix(path, k) && (strings.HasSuffix(k, "[") || strings.HasSuffix(k, ".")) {
			return true
		}
	}
	return false
}

// planReload is what a reload from the configuration in force to next
// changes: the changes, each "file:line: key: old -> new", or the reasons
// it is refused (changes that cannot apply live).
func planReload(cur, next *FileConfig) ([]config.Change, error) {
	changes := config.Diff(cur, next, cur.Source(), next.Source())
	var bad []string
	for _, c := range changes {
		if !isLive(c.Path) {
			bad = append(bad, c.String()+" (needs a restart)")
		}
	}
	if len(bad) > 0 {
		return nil, &api.ReloadRefused{Reasons: bad}
	}
	return changes, nil
}

// Reload makes next the configuration in force, next as LoadConfig
// returns it (checked). The pools are reshaped first, under their locks,
// so that no address is handed out from a range that goes away: growing
// a pool or adding one applies at once, removing or shrinking one is
// refused while a session holds an address it would lose. apply, when
// set, runs once everything is checked and before the swap (the daemon
// reconfigures the RADIUS client and the CoA server there); its error
// refuses the reload too. Reload returns what changed.
func (s *Server) Reload(next *FileConfig, apply func() error) ([]config.Change, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.conf()
	changes, err := planReload(cur, next)
	if err != nil {
		return nil, err
	}
	pools4 := slices.ContainsFunc(changes, func(c config.Change) bool {
		return strings.HasPrefix(c.Path, "pool[") || c.Path == "ppp.default-pool"
	})
	pools6 := slices.ContainsFunc(changes, func(c config.Change) bool { return strings.HasPrefix(c.Path, "pool6[") })
	var errs []error
	if (pools4 || pools6) && next.Accounting.SharedPools {
		errs = append(errs, next.Source().Errorf("accounting.shared-pools", "the pools are in the database (shared-pools = true): restart to change them"))
	}
	if pools4 && s.local == nil {
		errs = append(errs, next.Source().Errorf("pool", "the LNS started without an address pool: restart to add one"))
	}
	if pools6 && s.local6 == nil {
		errs = append(errs, next.Source().Errorf("pool6", "the LNS started without an IPv6 pool: restart to add one"))
	}
	if len(errs) > 0 {
		return nil, api.Refuse(errs...)
	}
	// Lock order: the IPv4 pools, then the IPv6 pools.
	var commit []func()
	if pools4 {
		s.local.mu.Lock()
		defer s.local.mu.Unlock()
		c, err := s.local.reshape(cur, next)
		if err != nil {
			errs = append(errs, err)
		}
		commit = append(commit, c)
	}
	if pools6 {
		s.local6.mu.Lock()
		defer s.local6.mu.Unlock()
		c, err := s.local6.reshape(cur, next)
		if err != nil {
			errs = append(errs, err)
		}
		commit = append(commit, c)
	}
	if len(errs) > 0 {
		return nil, api.Refuse(errs...)
	}
	if apply != nil {
		if err := apply(); err != nil {
			return nil, api.Refuse(err)
		}
	}
	for _, c := range commit {
		c()
	}
	s.cfgp.Store(next)
	return changes, nil
}

// reshape prepares the pools of next with the addresses held now carried
// over, p.mu held; the result is installed by calling commit. An address
// a session holds that the new pools leave out refuses the reload, naming
// the pool and the line of its ranges. The LNS's own address (local-ip)
// follows the pool that still has it.
func (p *LocalPool) reshape(cur, next *FileConfig) (commit func(), err error) {
	src := next.Source()
	pools := make(map[string]*ranges, len(next.Pools))
	for _, pc := range next.Pools {
		r := &ranges{used: make(map[netip.Addr]string)}
		for _, t := range pc.Ranges {
			sp, err := parseSpan(t)
			if err != nil { // checked by LoadConfig
				return nil, fmt.Errorf("lns: pool %q: %w", pc.Name, err)
			}
			r.spans = append(r.spans, sp)
			r.size += sp.n
		}
		pools[pc.Name] = r
	}
	var errs []error
	names := make([]string, 0, len(p.pools))
	for name := range p.pools {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		old := p.pools[name]
		r := pools[name]
		var lost []netip.Addr
		for a, holder := range old.used {
			switch {
			case r != nil && r.contains(a):
				r.used[a] = holder
			case holder == lnsHolder:
			default:
				lost = append(lost, a)
			}
		}
		if len(lost) == 0 {
			if r != nil {
				r.next = old.next % r.size
			}
			continue
		}
		slices.SortFunc(lost, netip.Addr.Compare)
		if i := slices.IndexFunc(next.Pools, func(pc PoolSection) bool { return pc.Name == name }); i >= 0 {
			errs = append(errs, src.Errorf(fmt.Sprintf("pool[%d].range", i), "shrinks but %d of its addresses are in use outside the new ranges (%v first): disconnect them or keep the ranges",
				len(lost), lost[0]))
			continue
		}
		i := slices.IndexFunc(cur.Pools, func(pc PoolSection) bool { return pc.Name == name })
		errs = append(errs, cur.Source().Errorf(fmt.Sprintf("pool[%d]", i), "removed but %d of its addresses are in use (%v first): disconnect them or keep the pool",
			len(lost), lost[0]))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if ip := next.PPP.LocalIP; ip.IsValid() {
		for _, r := range pools {
			if r.contains(ip) {
				r.used[ip] = lnsHolder
			}
		}
	}
	def := next.PPP.DefaultPool
	return func() { p.pools, p.def = pools, def }, nil
}

// reshape prepares the IPv6 pools of next with the prefixes held now
// carried over, p.mu held (see LocalPool.reshape).
func (p *LocalPrefixPool) reshape(cur, next *FileConfig) (commit func(), err error) {
	src := next.Source()
	pools := make(map[string]*carved, len(next.Pools6))
	for _, d := range next.Pool6Defs() {
		if err := d.Check(); err != nil { // checked by LoadConfig
			return nil, fmt.Errorf("lns: %w", err)
		}
		n := d.Size()
		pools[d.Name] = &carved{def: d, size: n, used: make([]uint64, (n+63)/64),
			holder: make(map[int]string), held: make(map[string]int)}
	}
	var errs []error
	names := make([]string, 0, len(p.pools))
	for name := range p.pools {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		old, c := p.pools[name], pools[name]
		var lost []netip.Prefix
		for i, holder := range old.holder {
			pfx := old.def.At(i)
			j, ok := 0, false
			if c != nil {
				j, ok = c.def.Index(pfx)
			}
			if !ok {
				lost = append(lost, pfx)
				continue
			}
			c.used[j/64] |= 1 << (j % 64)
			c.holder[j] = holder
			if k, held := old.held[holder]; held && k == i {
				c.held[holder] = j
			}
		}
		if len(lost) == 0 {
			if c != nil {
				c.next = old.next % c.size
			}
			continue
		}
		slices.SortFunc(lost, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		if i := slices.IndexFunc(next.Pools6, func(pc Pool6Section) bool { return pc.Name == name }); i >= 0 {
			errs = append(errs, src.Errorf(fmt.Sprintf("pool6[%d].prefix", i), "%d of its prefixes in use are not in the new pool (%v first): disconnect them or keep the pool",
				len(lost), lost[0]))
			continue
		}
		i := slices.IndexFunc(cur.Pools6, func(pc Pool6Section) bool { return pc.Name == name })
		errs = append(errs, cur.Source().Errorf(fmt.Sprintf("pool6[%d]", i), "removed but %d of its prefixes are in use (%v first): disconnect them or keep the pool",
			len(lost), lost[0]))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return func() { p.pools = pools }, nil
}
