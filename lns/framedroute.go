package lns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Framed-Route (RFC 2865 section 5.22): networks routed to a subscriber
// behind its own address. They are few (a handful per business
// subscriber), so they live outside the exact address table: downstream, a
// short list is scanned when the exact lookup misses; upstream, their
// sources pass the anti-spoofing check of their session.

// span4 is an IPv4 prefix as a range of host-order addresses.
type span4 struct{ first, last uint32 }

type routedSpan struct {
	span4
	f *Flow
}

func spanOf(p netip.Prefix) span4 {
	p = p.Masked()
	first := u32(p.Addr())
	return span4{first: first, last: first | (1<<(32-p.Bits()) - 1)}
}

// ParseFramedRoute reads a Framed-Route value: "prefix [gateway [metric]]"
// (the gateway is the subscriber; 0.0.0.0 or absent means its address).
// Only IPv4 prefixes are carried.
func ParseFramedRoute(v string) (netip.Prefix, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.Prefix{}, errors.New("lns: empty Framed-Route")
	}
	p, err := netip.ParsePrefix(f[0])
	if err != nil {
		// The old "a.b.c.d/n" form is the same; a bare address is a /32.
		a, aerr := netip.ParseAddr(f[0])
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("lns: Framed-Route %q: %w", v, err)
		}
		p = netip.PrefixFrom(a, 32)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("lns: Framed-Route %q: only IPv4 is carried", v)
	}
	return p.Masked(), nil
}

// AddRoutes routes prefixes to f: a kernel route through the TUN device
// (with DataPlaneConfig.Routes) and a downstream binding; f's upstream
// packets may come from them. A prefix already routed to another session
// is refused.
func (d *DataPlane) AddRoutes(f *Flow, prefixes []netip.Prefix) error {
	if len(prefixes) == 0 {
		return nil
	}
	d.routedMu.Lock()
	defer d.routedMu.Unlock()
	var cur []routedSpan
	if p := d.routed.Load(); p != nil {
		cur = *p
	}
	next := append([]routedSpan(nil), cur...)
	mine := []span4{}
	if p := f.routes.Load(); p != nil {
		mine = append(mine, *p...)
	}
	var added []netip.Prefix
	for _, pfx := range prefixes {
		sp := spanOf(pfx)
		for _, r := range next {
			if sp.first <= r.last && r.first <= sp.last && r.f != f {
				d.unroute(added)
				return fmt.Errorf("lns: Framed-Route %v overlaps a route of another session", pfx)
			}
		}
		if d.cfg.Routes != nil {
			if err := d.cfg.Routes.AddRoute(pfx.Masked()); err != nil {
				d.unroute(added)
				return err
			}
		}
		added = append(added, pfx.Masked())
		next = append(next, routedSpan{span4: sp, f: f})
		mine = append(mine, sp)
	}
	f.routes.Store(&mine)
	d.routed.Store(&next)
	if ff := f.fast.Load(); ff != nil {
		if err := ff.p.AddRoutes(ff.h, added); err != nil {
			d.log.Warn("lns: fast path: Framed-Route; traffic to it forwards in user space", "routes", added, "err", err)
		}
	}
	return nil
}

func (d *DataPlane) unroute(prefixes []netip.Prefix) {
	if d.cfg.Routes == nil {
		return
	}
	for _, p := range prefixes {
		if err := d.cfg.Routes.DelRoute(p); err != nil {
			d.log.Warn("lns: data plane: removing a Framed-Route", "prefix", p, "err", err)
		}
	}
}

// dropRoutes removes f's Framed-Routes (from Remove).
func (d *DataPlane) dropRoutes(f *Flow) {
	mine := f.routes.Swap(nil)
	if mine == nil {
		return
	}
	d.routedMu.Lock()
	defer d.routedMu.Unlock()
	var keep []routedSpan
	var gone []netip.Prefix
	if p := d.routed.Load(); p != nil {
		for _, r := range *p {
			if r.f == f {
				gone = append(gone, netip.PrefixFrom(addr4(r.first), 32-bitsOf(r.span4)))
				continue
			}
			keep = append(keep, r)
		}
	}
	d.routed.Store(&keep)
	d.unroute(gone)
}

func bitsOf(s span4) int {
	n := 0
	for v := s.last - s.first; v != 0; v >>= 1 {
		n++
	}
	return n
}

// routedLookup finds the session a Framed-Route sends dst to. It runs only
// when the exact address lookup missed.
func (d *DataPlane) routedLookup(dst uint32) *Flow {
	p := d.routed.Load()
	if p == nil {
		return nil
	}
	for i := range *p {
		if r := &(*p)[i]; dst >= r.first && dst <= r.last {
			return r.f
		}
	}
	return nil
}

// routedFrom reports whether src lies in one of f's Framed-Routes.
func (f *Flow) routedFrom(src uint32) bool {
	p := f.routes.Load()
	if p == nil {
		return false
	}
	for _, r := range *p {
		if src >= r.first && src <= r.last {
			return true
		}
	}
	return false
}
