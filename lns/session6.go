package lns

// A session's IPv6 service (RFC 5072, RFC 4861, RFC 8415): RADIUS grants
// the /64 advertised on the link (Framed-IPv6-Prefix, RFC 3162 section
// 2.3), the prefix delegated to the subscriber's router
// (Delegated-IPv6-Prefix, RFC 4818), an address (Framed-IPv6-Address, RFC
// 6911) and the DNS servers. PPP then runs IPV6CP next to IPCP; once it is
// open, the data plane routes the prefixes to the session, the session
// sends Router Advertisements on its schedule and answers Router
// Solicitations, and the DHCPv6 server answers on the link.

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/dhcp6"
	"github.com/bras-project/bras/internal/ra"
	"github.com/bras-project/bras/ppp"
)

// ipv6State is what a session has of IPv6.
type ipv6State struct {
	link      netip.Prefix // advertised for SLAAC
	delegated netip.Prefix // by DHCPv6 IA_PD
	address   netip.Addr   // by DHCPv6 IA_NA
	dns       []netip.Addr
	iid       ppp.InterfaceID // the subscriber's, from RADIUS (zero: negotiated)
	hasIID    bool

	up    bool
	local netip.Addr // the LNS's link-local address on the session
	peer  netip.Addr // the subscriber's
	ra    ra.Schedule
}

// ipv6Grant is the IPv6 service of an accepted session: what the
// Access-Accept gives outright, else what the pools gave (allocateIPv6);
// nil when it has neither a link prefix nor a delegated one (the session
// then Protocol-Rejects IPV6CP, RFC 1661 section 5.7).
func ipv6Grant(o *authOutcome) *ipv6State {
	var g aaa.IPv6Grant
	var dns []netip.Addr
	if r := o.reply; r != nil {
		g, dns = r.IPv6, r.DNS
	}
	v := &ipv6State{link: linkPrefix(&g), delegated: g.Delegated, address: g.Address, iid: g.InterfaceID, hasIID: g.HasInterfaceID}
	if !v.link.IsValid() {
		v.link = o.v6.link
	}
	if !v.delegated.IsValid() {
		v.delegated = o.v6.delegated
	}
	if !v.address.IsValid() && o.v6.address.IsValid() {
		v.address = o.v6.address.Addr()
	}
	if !v.link.IsValid() && !v.delegated.IsValid() {
		return nil
	}
	for _, a := range dns {
		if a.Is6() && !a.Is4In6() {
			v.dns = append(v.dns, a)
		}
	}
	return v
}

// interfaceID is the subscriber's interface identifier as IPV6CP settled
// it: the low 64 bits of its link-local address (RFC 5072 section 5).
func (v *ipv6State) interfaceID() uint64 {
	if !v.peer.IsValid() {
		return 0
	}
	a := v.peer.As16()
	return binary.BigEndian.Uint64(a[8:])
}

// bound is what the data plane routes to the session and accepts as its
// sources: the link's /64, the delegated prefix, and a DHCPv6 address
// (IA_NA) that lies in neither, as a /128.
func (v *ipv6State) bound() []netip.Prefix {
	var prefixes []netip.Prefix
	for _, p := range []netip.Prefix{v.link, v.delegated} {
		if p.IsValid() {
			prefixes = append(prefixes, p)
		}
	}
	if a := v.address; a.IsValid() && !v.link.Contains(a) && !v.delegated.Contains(a) {
		prefixes = append(prefixes, netip.PrefixFrom(a, 128))
	}
	return prefixes
}

// UpIPv6 implements ppp.IPv6Handler: IPV6CP is open.
func (s *session) UpIPv6(_ *ppp.Session, n ppp.IPv6Info) {
	v := s.v6
	if v == nil || s.state >= stateClosing {
		return
	}
	now := s.srv.now()
	v.local, v.peer = n.Local.LinkLocal(), n.Peer.LinkLocal()
	prefixes := v.bound()
	if f := s.flow.Load(); f != nil {
		if err := s.srv.dp.SetIPv6(f, prefixes); err != nil {
			s.log.Warn("IPv6 prefixes not bound; the session runs IPv4 only", "prefixes", prefixes, "err", err)
			return
		}
	}
	v.up = true
	s.srv.observeSetup(stageIPv6CP, now.Sub(s.created))
	if v.link.IsValid() {
		v.ra.Start(now, nil)
	}
	if a := s.srv.acct; a != nil && s.accounted {
		// IPCP opened first: the Start went out without IPv6.
		a.SessionIPv6(s.id, accounting.IPv6Info{Prefix: v.link, Delegated: v.delegated, Address: v.address, InterfaceID: v.interfaceID()})
	}
	s.log.Info("IPv6 up", "user", s.user, "prefix", v.link, "delegated", v.delegated, "peer", v.peer)
	s.publish()
}

// DownIPv6 implements ppp.IPv6DownHandler: the subscriber rejected
// IPV6CP, never answered it or closed it, and the session carries on
// with IPv4 alone. The prefixes and the address it took from the pools go
// back to them, and the data plane stops routing its IPv6.
func (s *session) DownIPv6(_ *ppp.Session) {
	v := s.v6
	if v == nil {
		return
	}
	s.v6 = nil
	if f := s.flow.Load(); f != nil && v.up {
		if err := s.srv.dp.SetIPv6(f, nil); err != nil {
			s.log.Warn("IPv6 prefixes not unbound", "err", err)
		}
	}
	var back []netip.Prefix
	if s.authed != nil {
		back = s.srv.releaseIPv6(s, s.authed)
	}
	s.log.Info("IPv6 ended; the session runs IPv4 only", "user", s.user, "released", back)
	s.publish()
}

// ipv6Input handles an IPv6 packet the data plane gave the control plane:
// a Router Solicitation or a DHCPv6 request.
func (s *session) ipv6Input(ip []byte, now time.Time) {
	v := s.v6
	if v == nil || !v.up {
		s.srv.stats.IPv6Ignored.Add(1)
		return
	}
	if k, _ := ra.Classify(ip); k == ra.Solicitation {
		v.ra.Solicited(now)
		return
	}
	if !dhcp6.IsRequest(ip, v.local) {
		s.srv.stats.IPv6Ignored.Add(1)
		return
	}
	valid, preferred := s.ipv6Lifetimes()
	reply, o, err := s.srv.dhcp.ServePacket(ip, v.local, dhcp6.Binding{
		Delegated: v.delegated, Address: v.address, DNS: v.dns,
		ValidLifetime: valid, PreferredLifetime: preferred,
	})
	if reply == nil {
		s.srv.stats.DHCPv6Discarded.Add(1)
		s.log.Debug("DHCPv6 message discarded", "err", err)
		return
	}
	switch o {
	case dhcp6.Bound:
		s.srv.stats.DHCPv6Bound.Add(1)
	case dhcp6.Declined:
		s.log.Warn("the subscriber declined its DHCPv6 address (in use on its link)", "user", s.user, "addr", v.address)
	}
	s.sendIPv6(reply)
}

// ipv6Lifetimes are the lifetimes of the prefixes and addresses given:
// they follow the session's own limit, so a subscriber never keeps a
// prefix past its Session-Timeout (RFC 4861 section 6.2.1 lets the
// router choose them).
func (s *session) ipv6Lifetimes() (valid, preferred time.Duration) {
	valid, preferred = 2*time.Hour, time.Hour
	if !s.stopAt.IsZero() {
		if left := s.stopAt.Sub(s.srv.now()); left < valid {
			valid = max(left, time.Second)
			preferred = min(preferred, valid)
		}
	}
	return valid, preferred
}

// sendRA sends the session's Router Advertisement if one is due.
func (s *session) sendRA(now time.Time) {
	v := s.v6
	if v == nil || !v.up || !v.ra.Due(now) {
		return
	}
	valid, preferred := s.ipv6Lifetimes()
	pkt, err := ra.Advertisement(v.local, ra.AllNodes, ra.Config{
		Prefixes:          []netip.Prefix{v.link},
		ValidLifetime:     valid,
		PreferredLifetime: preferred,
		// M: an address comes from DHCPv6; O: other information (DNS,
		// and the router's IA_PD client) does (RFC 4861 section 4.2).
		Managed: v.address.IsValid(),
		Other:   v.delegated.IsValid() || len(v.dns) > 0,
		MTU:     s.srv.conf().PPP.MRU,
		DNS:     v.dns,
	})
	if err != nil {
		s.log.Error("cannot build a Router Advertisement", "err", err)
		v.ra.Stop()
		return
	}
	s.sendIPv6(pkt)
	s.srv.stats.RAsSent.Add(1)
	v.ra.Sent(now)
}

// sendIPv6 sends an IPv6 packet to the subscriber (PPP protocol 0x0057,
// RFC 5072 section 5) on the session's control path.
func (s *session) sendIPv6(pkt []byte) {
	frame := make([]byte, 0, 2+len(pkt))
	frame = ppp.AppendProtocol(frame, ppp.ProtoIPv6)
	if err := s.Send(append(frame, pkt...)); err != nil {
		s.log.Debug("IPv6 control packet not sent", "err", err)
	}
}
