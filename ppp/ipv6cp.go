package ppp

import (
	"io"
	"net/netip"
)

// InterfaceID is an IPv6 interface identifier of 64 bits (RFC 5072
// section 4.1), the low half of the link-local address each end of the
// link forms from it (section 5).
type InterfaceID [8]byte

// IsZero reports whether id is all zeros: "no identifier" in a
// Configure-Request.
func (id InterfaceID) IsZero() bool { return id == InterfaceID{} }

// LinkLocal is the link-local address fe80::/64 + id (RFC 5072 section 5).
func (id InterfaceID) LinkLocal() netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:], id[:])
	return netip.AddrFrom16(a)
}

// IPv6Info is the outcome of IPV6CP: both ends' interface identifiers.
type IPv6Info struct {
	Local, Peer InterfaceID
}

// IPv6Handler is a Handler that also runs IPv6: UpIPv6 is called when
// IPV6CP opens (RFC 5072), independently of Up for IPCP. A Handler without
// it never sees IPV6CP's outcome.
type IPv6Handler interface {
	UpIPv6(s *Session, n IPv6Info)
}

// IPv6DownHandler is implemented by a server's Handler that is told when
// IPV6CP finishes while the link stays up: the peer Protocol-Rejected it,
// never answered it (Max-Configure, RFC 1661 section 4.6) or closed it.
// The session's IPv6 service ends there: further IPV6CP is
// Protocol-Rejected (RFC 1661 section 5.7), so what was set aside for it
// (prefixes, an address) can be given back. IPv4 carries on.
type IPv6DownHandler interface {
	DownIPv6(s *Session)
}

// ipv6cpOptions is the IPV6CP option handler (RFC 5072 section 4) for both
// roles: each end offers its own interface identifier and accepts the
// peer's when it is non-zero and differs from its own; the server can
// insist on the peer's from RADIUS (Framed-Interface-Id, RFC 3162 section
// 2.2).
type ipv6cpOptions struct {
	s *Session

	local     InterfaceID // our tentative identifier
	sendLocal bool
	peer      InterfaceID // the peer's acked identifier
	// assign is the identifier the peer must use (server, from RADIUS);
	// zero: any unique one.
	assign InterfaceID
	// lastNak is the identifier our last Configure-Nak suggested;
	// nakedMissing records that we already Nak'd a request without the
	// option (section 4.1: at most once).
	lastNak      InterfaceID
	nakedMissing bool
}

func idOption(id InterfaceID) Option {
	return Option{Type: uint8(IPv6CPInterfaceID), Data: append([]byte(nil), id[:]...)}
}

func (p *ipv6cpOptions) reset() {
	p.peer, p.lastNak, p.nakedMissing = InterfaceID{}, InterfaceID{}, false
	p.local = p.s.cfg.InterfaceID
	if p.local.IsZero() {
		p.local = p.fresh(InterfaceID{})
	}
	p.sendLocal = true
}

// fresh draws a random non-zero identifier other than not, with the "u"
// bit zero as section 4.1 requires of one not derived from an IEEE
// identifier.
func (p *ipv6cpOptions) fresh(not InterfaceID) InterfaceID {
	var id InterfaceID
	for range 8 {
		if _, err := io.ReadFull(p.s.cfg.Rand, id[:]); err != nil {
			break
		}
		id[0] &^= 0x02
		if !id.IsZero() && id != not && id != p.local {
			return id
		}
	}
	// No randomness: a value derived from the Magic-Number, still unique
	// on the link when the peer's differs from ours.
	m := p.s.lcpOpts.magic | 1
	id = InterfaceID{0, 0, 0, 0, byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
	if id == not || id == p.local {
		id[3] = 1
	}
	return id
}

func (p *ipv6cpOptions) request() []Option {
	if !p.sendLocal {
		return nil
	}
	return []Option{idOption(p.local)}
}

// suggestion is the identifier a Configure-Nak offers the peer: RADIUS's,
// else a fresh one unlike ours.
func (p *ipv6cpOptions) suggestion() InterfaceID {
	if !p.assign.IsZero() && p.assign != p.local {
		return p.assign
	}
	return p.fresh(p.lastNak)
}

func (p *ipv6cpOptions) check(opts []Option) (Code, []Option) {
	var rej, nak []Option
	var peer InterfaceID
	saw := false
	for _, o := range opts {
		if IPv6CPOption(o.Type) != IPv6CPInterfaceID || len(o.Data) != 8 || saw {
			// Unknown options, a bad length, or a second identifier
			// ("exactly one instance", section 4.1).
			rej = append(rej, o)
			continue
		}
		saw = true
		v := InterfaceID(o.Data)
		switch {
		case v.IsZero() && p.local.IsZero():
			// Both zero: no unique identifier can be negotiated.
			rej = append(rej, o)
		case !p.assign.IsZero() && v != p.assign && p.assign != p.local:
			p.lastNak = p.assign
			nak = append(nak, idOption(p.assign))
		case v.IsZero(), v == p.local:
			p.lastNak = p.suggestion()
			nak = append(nak, idOption(p.lastNak))
		default:
			peer = v
		}
	}
	if len(rej) > 0 {
		return ConfRej, rej
	}
	if !saw && !p.nakedMissing {
		// Section 4.1: the option SHOULD be appended to a Configure-Nak,
		// once; a peer that leaves it out again does not implement it.
		p.nakedMissing = true
		p.lastNak = p.suggestion()
		nak = append(nak, idOption(p.lastNak))
	}
	if len(nak) > 0 {
		return ConfNak, nak
	}
	p.peer = peer
	return ConfAck, nil
}

func (p *ipv6cpOptions) acked(opts []Option) {}

// essential: IPV6CP can open without the peer's identifier (section 4.1:
// a peer that never sends it does not implement it).
func (p *ipv6cpOptions) essential(nak []Option) bool { return false }

// naked takes the peer's suggestion for our identifier unless it is the
// one we just suggested to the peer, in which case a new one is drawn
// (section 4.1).
func (p *ipv6cpOptions) naked(opts []Option) bool {
	for _, o := range opts {
		if IPv6CPOption(o.Type) != IPv6CPInterfaceID || len(o.Data) != 8 {
			continue
		}
		v := InterfaceID(o.Data)
		if v.IsZero() || v == p.lastNak {
			p.local = p.fresh(p.lastNak)
		} else {
			p.local = v
		}
		p.sendLocal = true
	}
	return true
}

func (p *ipv6cpOptions) rejected(opts []Option) bool {
	for _, o := range opts {
		if IPv6CPOption(o.Type) == IPv6CPInterfaceID {
			// Section 4.1: no identifier in the next request.
			p.sendLocal = false
		}
	}
	return true
}
