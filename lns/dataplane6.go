package lns

// IPv6 in the user-space engine (RFC 5072 section 5: IPv6 over PPP,
// protocol 0x0057). A session's prefixes are what SLAAC and prefix
// delegation gave it: the /64 advertised on the link (RADIUS
// Framed-IPv6-Prefix, RFC 3162 section 2.3) and the delegated prefix
// (Delegated-IPv6-Prefix, RFC 4818). Upstream, a packet's source must lie
// in one of them; downstream, the longest prefix holding the destination
// picks the session (PrefixTable6). Router discovery and DHCPv6 on the
// link are the control plane's (internal/ra, internal/dhcp6): the data
// plane hands Router Solicitations and DHCPv6 requests to Control, drops
// Router Advertisements and Redirects from the subscriber (RFC 4861
// sections 6.1.2 and 8.1: a host is not a router), and never forwards a
// link-local packet.

import (
	"encoding/binary"
	"net/netip"

	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/dhcp6"
	"github.com/bras-project/bras/internal/ra"
	"github.com/bras-project/bras/ppp"
)

const ipv6HeaderLen = 40

// SetIPv6 binds f's IPv6 prefixes (64 bits or shorter, or single
// addresses), replacing any it
// had: downstream packets into them go to f, and f's upstream IPv6
// packets must come from them. With DataPlaneConfig.Routes each prefix
// gets its route through the TUN. With the fast path the prefixes are
// bound there too (setFast6).
func (d *DataPlane) SetIPv6(f *Flow, prefixes []netip.Prefix) error {
	d.unbind6(f)
	var bound []netip.Prefix
	fail := func(err error) error {
		for _, p := range bound {
			d.v6.Delete(p, f)
			if d.cfg.Routes != nil {
				d.cfg.Routes.DelRoute(p)
			}
		}
		d.setFast6(f, nil)
		return err
	}
	for _, p := range prefixes {
		p = p.Masked()
		if err := d.v6.Insert(p, f); err != nil {
			return fail(err)
		}
		if d.cfg.Routes != nil {
			if err := d.cfg.Routes.AddRoute(p); err != nil {
				d.v6.Delete(p, f)
				return fail(err)
			}
		}
		bound = append(bound, p)
	}
	f.v6.Store(&bound)
	d.setFast6(f, bound)
	return nil
}

// IPv6Prefixes returns the prefixes SetIPv6 bound to f.
func (f *Flow) IPv6Prefixes() []netip.Prefix {
	if p := f.v6.Load(); p != nil {
		return *p
	}
	return nil
}

func (d *DataPlane) unbind6(f *Flow) {
	p := f.v6.Swap(nil)
	if p == nil {
		return
	}
	for _, q := range *p {
		if d.v6.Delete(q, f) && d.cfg.Routes != nil {
			if err := d.cfg.Routes.DelRoute(q); err != nil {
				d.log.Warn("lns: data plane: removing subscriber IPv6 route", "prefix", q, "err", err)
			}
		}
	}
}

// from6 reports whether src (16 octets) lies in one of f's prefixes.
func (f *Flow) from6(src []byte) bool {
	p := f.v6.Load()
	if p == nil {
		return false
	}
	a := netip.AddrFrom16([16]byte(src))
	for _, q := range *p {
		if q.Contains(a) {
			return true
		}
	}
	return false
}

// dpIPv6Len validates the fixed IPv6 header (RFC 8200 section 3) at the
// start of b and returns the packet's length.
func dpIPv6Len(b []byte) (int, bool) {
	if len(b) < ipv6HeaderLen || b[0]>>4 != 6 {
		return 0, false
	}
	n := ipv6HeaderLen + int(binary.BigEndian.Uint16(b[4:6]))
	if n > len(b) {
		return 0, false
	}
	return n, true
}

// decap6 is Decap for an IPv6 packet (p starts at the PPP protocol field,
// ip after it).
func (d *DataPlane) decap6(f *Flow, p, ip []byte) DropReason {
	n, ok := dpIPv6Len(ip)
	if !ok {
		return d.drop(f, DropMalformed)
	}
	ip = ip[:n]
	switch k, _ := ra.Classify(ip); k {
	case ra.Forbidden:
		return d.drop(f, DropNDFromSubscriber)
	case ra.Invalid:
		return d.drop(f, DropMalformed)
	case ra.Solicitation:
		return d.control(f, ppp.ProtoIPv6, p)
	}
	src := netip.AddrFrom16([16]byte(ip[8:24]))
	if src.IsLinkLocalUnicast() || dpDstLinkScope(ip) {
		// Link-scope traffic is the link's business: DHCPv6 to the
		// servers' group or to us, anything else is never forwarded.
		if dhcp6.IsRequest(ip, netip.Addr{}) || src.IsLinkLocalUnicast() && dpDstLinkScope(ip) {
			return d.control(f, ppp.ProtoIPv6, p)
		}
		return d.drop(f, DropSpoof)
	}
	if !f.from6(ip[8:24]) {
		return d.drop(f, DropSpoof)
	}
	return d.queueUp(f, ip, true)
}

// clampMSS6 clamps a TCP SYN over IPv6 to the IPv4 clamp less the 20
// octets IPv6's header adds (RFC 9293 section 3.7.1).
func (d *DataPlane) clampMSS6(ip []byte) bool {
	return d.cfg.MSS > 20 && dataplane.ClampMSS6(ip, d.cfg.MSS-20)
}

// dpDstLinkScope reports whether an IPv6 packet is for the link only: a
// link-local unicast or a link-local (ff02::/16) or interface-local
// multicast destination.
func dpDstLinkScope(ip []byte) bool {
	dst := netip.AddrFrom16([16]byte(ip[24:40]))
	return dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() || dst.IsInterfaceLocalMulticast()
}

// control hands a frame to the control plane.
func (d *DataPlane) control(f *Flow, proto ppp.Protocol, p []byte) DropReason {
	if d.cfg.Control == nil {
		return d.drop(f, DropProtocol)
	}
	d.ctrlOK.Add(1)
	d.cfg.Control(f, proto, p)
	return DropNone
}

// encap6 is the IPv6 half of encap: the flow of the longest prefix holding
// the destination.
func (d *DataPlane) encap6(ip []byte) (*Flow, int, DropReason) {
	n, ok := dpIPv6Len(ip)
	if !ok {
		return nil, 0, d.drop(nil, DropMalformed)
	}
	if dpDstLinkScope(ip) {
		// The kernel's own neighbour discovery and MLD on the TUN device:
		// link-scope, for no subscriber.
		return nil, 0, d.drop(nil, DropProtocol)
	}
	f := d.v6.Lookup(ip[24:40])
	if f == nil {
		return nil, 0, d.drop(nil, DropNoSession)
	}
	if d.clampMSS6(ip[:n]) {
		d.mssOK.Add(1)
	}
	return f, n, DropNone
}
