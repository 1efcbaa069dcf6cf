package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// LNSPath is the LNS's XDP fast path (bpf/lns.c): L2TPv2 data messages of
// its sessions are decapsulated and routed, and packets to their addresses
// encapsulated towards the LAC, on the attached interfaces. What it does not
// handle reaches the kernel and the user-space engine unchanged.
//
// The control plane adds a session when its call is up, binds the address
// after IPCP, sets rates from RADIUS and CoA, reads counters for
// accounting and removes it at teardown. Methods are safe for concurrent use.
type LNSPath struct {
	core
	objs  lnsObjects
	watch *fibWatch // keeps the IPv6 next-hop cache current (nil: cache off)

	mu sync.Mutex // orders map writes of one session against another
}

// LNSSession describes one session to the fast path.
type LNSSession struct {
	// LocalTunnel and LocalSession are the LNS's IDs, which the LAC
	// writes into its data messages.
	LocalTunnel, LocalSession uint16
	// PeerTunnel and PeerSession are the LAC's, written into ours.
	PeerTunnel, PeerSession uint16
	// LAC is the LAC's UDP address; Local ours (the source of the
	// encapsulated packets).
	LAC, Local netip.AddrPort
	// MTU is the largest IP packet the session carries; MSS the TCP MSS
	// clamp (0: none).
	MTU int
	MSS uint16
	// Sequencing: the LAC asked for sequence numbers; the session is left
	// to the user-space engine.
	Sequencing bool
}

// LNSHandle is a session in the fast path.
type LNSHandle struct {
	slot   uint32
	key    lnsLnsSessKey
	sess   lnsLnsSess
	sub    lnsLnsSub
	addr   netip.Addr
	routes []netip.Prefix
	v6     []netip.Prefix // in lns_routes6
}

// NewLNSPath loads the LNS program and attaches it to cfg.Interfaces.
func NewLNSPath(cfg Config) (*LNSPath, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	p := &LNSPath{}
	spec, err := loadLns()
	if err := p.open(spec, err, cfg, &p.objs, func() {
		o := &p.objs
		p.core.prog, p.counters, p.policers, p.reasons, p.settings = o.XdpLns, o.SessionCounters, o.SessionPolicers, o.ReasonStats, o.Settings
	}, "lns_sessions", "lns_subs", "lns_routes", "lns_routes6"); err != nil {
		return nil, err
	}
	if !cfg.NoNextHopCache {
		log := cfg.Logger
		p.watch, err = watchFIB(p.bumpFIB, func(err error) {
			log.Warn("dataplane: route watch: cached IPv6 next hops now follow route changes within a second", "err", err)
		}, nextHopMaxAge)
		if err != nil {
			p.Close()
			return nil, err
		}
	}
	for _, name := range cfg.Interfaces {
		if !forwarding6(name) {
			cfg.Logger.Info("dataplane: IPv6 forwarding is off: the fast path hands IPv6 from the interface to user space",
				"interface", name, "fix", "sysctl -w net.ipv6.conf."+strings.ReplaceAll(name, ".", "/")+".forwarding=1")
		}
	}
	return p, nil
}

// forwarding6 reports net.ipv6.conf.<name>.forwarding in the calling
// thread's network namespace: off, bpf_fib_lookup refuses to route IPv6
// arriving there (no IPv6 at all counts as off).
func forwarding6(name string) bool {
	b, err := os.ReadFile(filepath.Join("/proc/sys/net/ipv6/conf", name, "forwarding"))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// Close detaches the program and frees the maps.
func (p *LNSPath) Close() error {
	if p.watch != nil {
		p.watch.close()
	}
	p.detach()
	return p.objs.Close()
}

// Add puts a session into the fast path; its upstream packets are all
// spoofed (dropped) until SetAddr (IPv4) and SetIPv6. ErrFull: no slot
// left.
func (p *LNSPath) Add(s LNSSession) (*LNSHandle, error) {
	if !s.LAC.Addr().Unmap().Is4() || !s.Local.Addr().Unmap().Is4() {
		return nil, fmt.Errorf("dataplane: LNS session needs IPv4 tunnel addresses (%v, %v)", s.LAC, s.Local)
	}
	slot, err := p.slot()
	if err != nil {
		return nil, err
	}
	var flags uint32
	if s.Sequencing {
		flags |= dpFSequencing
	}
	mtu := uint16(min(max(s.MTU, 0), 65535))
	h := &LNSHandle{
		slot: slot,
		key:  lnsLnsSessKey{TunnelId: be16(s.LocalTunnel), SessionId: be16(s.LocalSession)},
		sess: lnsLnsSess{LacAddr: addr4(s.LAC.Addr()), LacPort: be16(s.LAC.Port()), Mtu: mtu, Mss: s.MSS, Slot: slot, Flags: flags},
		sub: lnsLnsSub{LacAddr: addr4(s.LAC.Addr()), LnsAddr: addr4(s.Local.Addr()), LacPort: be16(s.LAC.Port()),
			LnsPort: be16(s.Local.Port()), PeerTunnel: be16(s.PeerTunnel), PeerSession: be16(s.PeerSession),
			Mtu: mtu, Mss: s.MSS, Slot: slot, Flags: flags},
	}
	if err := p.setRate(slot, Rate{}, Rate{}); err != nil {
		p.release(slot)
		return nil, err
	}
	if err := p.objs.LnsSessions.Update(h.key, h.sess, ebpf.UpdateAny); err != nil {
		p.release(slot)
		if errors.Is(err, ebpf.ErrKeyExist) || isNoSpace(err) {
			return nil, ErrFull
		}
		return nil, fmt.Errorf("dataplane: add LNS session: %w", err)
	}
	return h, nil
}

// SetAddr binds the subscriber's address: upstream packets from it pass
// the source check, downstream packets to it are encapsulated.
func (p *LNSPath) SetAddr(h *LNSHandle, a netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	a = a.Unmap()
	if !a.Is4() {
		return fmt.Errorf("dataplane: subscriber address %v is not IPv4", a)
	}
	if h.addr.IsValid() && h.addr != a {
		_ = p.objs.LnsSubs.Delete(addr4(h.addr))
	}
	if err := p.objs.LnsSubs.Update(addr4(a), h.sub, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("dataplane: bind %v: %w", a, err)
	}
	h.addr = a
	h.sess.SubAddr = addr4(a)
	if err := p.objs.LnsSessions.Update(h.key, h.sess, ebpf.UpdateExist); err != nil {
		return fmt.Errorf("dataplane: bind %v: %w", a, err)
	}
	return nil
}

// AddRoutes routes the Framed-Route prefixes (RFC 2865 section 5.22) to
// the session and lets their sources through its anti-spoofing check.
func (p *LNSPath) AddRoutes(h *LNSHandle, routes []netip.Prefix) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range routes {
		r = r.Masked()
		if !r.Addr().Is4() {
			continue
		}
		k := lnsLnsRouteKey{Prefixlen: uint32(r.Bits()), Addr: addr4(r.Addr())}
		if err := p.objs.LnsRoutes.Update(k, h.sub, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("dataplane: route %v: %w", r, err)
		}
		h.routes = append(h.routes, r)
	}
	return nil
}

// route6Key is p's lns_routes6 key.
func route6Key(p netip.Prefix) lnsLnsRoute6Key {
	return lnsLnsRoute6Key{Prefixlen: uint32(p.Bits()), Addr: p.Addr().As16()}
}

// SetIPv6 binds the session's IPv6 prefixes, replacing those it had: the
// /64 of its link, its delegated prefix (RFC 4818), single addresses.
// Downstream packets go to the session whose prefix holding the
// destination is the longest; upstream packets must come from a source
// whose longest prefix is the session's. A session without prefixes has
// all its upstream IPv6 dropped as spoofed, except what goes to the
// control plane (Router Solicitations, link-scope traffic). On error the
// session keeps what could be bound and the caller should remove it.
func (p *LNSPath) SetIPv6(h *LNSHandle, prefixes []netip.Prefix) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := make([]netip.Prefix, 0, len(prefixes))
	for _, q := range prefixes {
		q = q.Masked()
		if !q.IsValid() || !q.Addr().Is6() || q.Addr().Is4In6() {
			return fmt.Errorf("dataplane: %v is not an IPv6 prefix", q)
		}
		want = append(want, q)
	}
	for _, q := range h.v6 {
		if !slices.Contains(want, q) {
			p.delRoute6(h, q)
		}
	}
	h.v6 = h.v6[:0]
	for _, q := range want {
		if err := p.objs.LnsRoutes6.Update(route6Key(q), h.sub, ebpf.UpdateAny); err != nil {
			if isNoSpace(err) || errors.Is(err, unix.ENOSPC) { // an LPM trie says ENOSPC
				err = ErrFull
			}
			return fmt.Errorf("dataplane: IPv6 prefix %v: %w", q, err)
		}
		h.v6 = append(h.v6, q)
	}
	return nil
}

// delRoute6 deletes q from lns_routes6 if it is still h's: another
// session may have it now.
func (p *LNSPath) delRoute6(h *LNSHandle, q netip.Prefix) {
	var cur lnsLnsSub
	if p.objs.LnsRoutes6.Lookup(route6Key(q), &cur) == nil && cur.Slot == h.slot {
		_ = p.objs.LnsRoutes6.Delete(route6Key(q))
	}
}

// SetRate replaces the session's rate limits (RADIUS, CoA); the buckets
// start full.
func (p *LNSPath) SetRate(h *LNSHandle, up, down Rate) error { return p.setRate(h.slot, up, down) }

// Counters reads the session's fast-path counters.
func (p *LNSPath) Counters(h *LNSHandle) (Counters, error) { return p.read(h.slot) }

// Remove takes the session out of the maps and returns its final counters.
// Packets in flight on other CPUs may still be counted in the slot until
// it is cleared, a few microseconds later; they are lost to accounting.
func (p *LNSPath) Remove(h *LNSHandle) (Counters, error) {
	p.mu.Lock()
	_ = p.objs.LnsSessions.Delete(h.key)
	if h.addr.IsValid() {
		// Only if still ours: another session may have the address now.
		var cur lnsLnsSub
		if p.objs.LnsSubs.Lookup(addr4(h.addr), &cur) == nil && cur.Slot == h.slot {
			_ = p.objs.LnsSubs.Delete(addr4(h.addr))
		}
	}
	for _, r := range h.routes {
		_ = p.objs.LnsRoutes.Delete(lnsLnsRouteKey{Prefixlen: uint32(r.Bits()), Addr: addr4(r.Addr())})
	}
	for _, q := range h.v6 {
		p.delRoute6(h, q)
	}
	h.v6 = nil
	p.mu.Unlock()
	c, err := p.read(h.slot)
	p.release(h.slot)
	return c, err
}

// Stats sums the reason counters.
func (p *LNSPath) Stats() (Stats, error) { return p.stats() }
