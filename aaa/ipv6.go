package aaa

import (
	"fmt"
	"net/netip"
)

// IPv6Grant is what an Access-Accept grants a dual-stack subscriber
// (RFC 3162 section 2, RFC 4818, RFC 6911 section 3). Unset fields leave
// the choice to the NAS's configuration and pools.
type IPv6Grant struct {
	// InterfaceID is Framed-Interface-Id: the subscriber's IPV6CP
	// identifier (RFC 3162 section 2.2); HasInterfaceID says it was sent.
	InterfaceID    [8]byte
	HasInterfaceID bool
	// Prefixes are the Framed-IPv6-Prefix values (RFC 3162 section 2.3):
	// the /64 (usually) advertised for SLAAC on the link.
	Prefixes []netip.Prefix
	// Delegated is Delegated-IPv6-Prefix (RFC 4818): the prefix handed
	// to the subscriber's router by DHCPv6 prefix delegation.
	Delegated netip.Prefix
	// Address is Framed-IPv6-Address (RFC 6911 section 3.1): the address
	// DHCPv6 IA_NA gives.
	Address netip.Addr
	// Pools: Framed-IPv6-Pool (RFC 3162 section 2.6),
	// Delegated-IPv6-Prefix-Pool and Stateful-IPv6-Address-Pool (RFC 6911
	// sections 3.4 and 3.5).
	PrefixPool, DelegatedPool, AddressPool string
	// Routes are Framed-IPv6-Route values as sent (RFC 3162 section 2.5).
	Routes []string
}

// IsZero reports whether the reply granted nothing IPv6.
func (g *IPv6Grant) IsZero() bool {
	return !g.HasInterfaceID && len(g.Prefixes) == 0 && !g.Delegated.IsValid() && !g.Address.IsValid() &&
		g.PrefixPool == "" && g.DelegatedPool == "" && g.AddressPool == "" && len(g.Routes) == 0
}

// parseIPv6Prefix decodes the value of Framed-IPv6-Prefix (RFC 3162
// section 2.3) or Delegated-IPv6-Prefix (RFC 4818 section 3): Reserved,
// Prefix-Length (0 to 128), then the prefix in up to 16 octets, enough for
// Prefix-Length. Bits past the length "must be zero"; they are cleared
// rather than refused.
func parseIPv6Prefix(v []byte) (netip.Prefix, error) {
	if len(v) < 2 || len(v) > 18 {
		return netip.Prefix{}, fmt.Errorf("aaa: %w: IPv6 prefix attribute of %d bytes", ErrMalformed, len(v))
	}
	bits := int(v[1])
	if bits > 128 || len(v)-2 < (bits+7)/8 {
		return netip.Prefix{}, fmt.Errorf("aaa: %w: IPv6 prefix of length %d in %d octets", ErrMalformed, bits, len(v)-2)
	}
	var a [16]byte
	copy(a[:], v[2:])
	return netip.PrefixFrom(netip.AddrFrom16(a), bits).Masked(), nil
}

// appendIPv6Prefix encodes p as parseIPv6Prefix reads it, with no more
// octets than the length needs (RFC 4818 section 3: SHOULD NOT).
func appendIPv6Prefix(b []byte, p netip.Prefix) ([]byte, error) {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
		return nil, fmt.Errorf("aaa: %v is not an IPv6 prefix", p)
	}
	a := p.Masked().Addr().As16()
	b = append(b, 0, byte(p.Bits()))
	return append(b, a[:(p.Bits()+7)/8]...), nil
}

// parseIPv6 reads the IPv6 attributes of an Access-Accept into g; ok
// false means the attribute is not one of them.
func (g *IPv6Grant) parse(t uint8, v []byte) (ok bool, err error) {
	bad := func(what string) error {
		return fmt.Errorf("aaa: %w: %s of %d bytes", ErrMalformed, what, len(v))
	}
	switch t {
	case uint8(attrFramedInterfaceID):
		if len(v) != 8 {
			return true, bad("Framed-Interface-Id")
		}
		g.InterfaceID, g.HasInterfaceID = [8]byte(v), true
	case uint8(attrFramedIPv6Prefix):
		p, err := parseIPv6Prefix(v)
		if err != nil {
			return true, err
		}
		g.Prefixes = append(g.Prefixes, p)
	case uint8(attrDelegatedIPv6Prefix):
		p, err := parseIPv6Prefix(v)
		if err != nil {
			return true, err
		}
		g.Delegated = p
	case uint8(attrFramedIPv6Address):
		if len(v) != 16 {
			return true, bad("Framed-IPv6-Address")
		}
		g.Address = netip.AddrFrom16([16]byte(v))
	case uint8(attrFramedIPv6Pool):
		g.PrefixPool = string(v)
	case uint8(attrDelegatedIPv6PrefixPool):
		g.DelegatedPool = string(v)
	case uint8(attrStatefulIPv6AddressPool):
		g.AddressPool = string(v)
	case uint8(attrFramedIPv6Route):
		g.Routes = append(g.Routes, string(v))
	default:
		return false, nil
	}
	return true, nil
}

// append encodes g as a RADIUS server sends it.
func (g *IPv6Grant) append(add func(t uint8, v []byte), str func(t uint8, s string) error) error {
	if g.HasInterfaceID {
		add(uint8(attrFramedInterfaceID), g.InterfaceID[:])
	}
	for _, p := range g.Prefixes {
		b, err := appendIPv6Prefix(nil, p)
		if err != nil {
			return err
		}
		add(uint8(attrFramedIPv6Prefix), b)
	}
	if g.Delegated.IsValid() {
		b, err := appendIPv6Prefix(nil, g.Delegated)
		if err != nil {
			return err
		}
		add(uint8(attrDelegatedIPv6Prefix), b)
	}
	if g.Address.IsValid() {
		if !g.Address.Is6() || g.Address.Is4In6() {
			return fmt.Errorf("aaa: Framed-IPv6-Address %v is not IPv6", g.Address)
		}
		a := g.Address.As16()
		add(uint8(attrFramedIPv6Address), a[:])
	}
	for _, s := range []struct {
		t uint8
		v string
	}{{uint8(attrFramedIPv6Pool), g.PrefixPool}, {uint8(attrDelegatedIPv6PrefixPool), g.DelegatedPool}, {uint8(attrStatefulIPv6AddressPool), g.AddressPool}} {
		if s.v != "" {
			if err := str(s.t, s.v); err != nil {
				return err
			}
		}
	}
	for _, r := range g.Routes {
		if err := str(uint8(attrFramedIPv6Route), r); err != nil {
			return err
		}
	}
	return nil
}
