// Package ra speaks IPv6 router discovery on a PPP link (RFC 4861 section
// 6, over IPv6 on PPP, RFC 5072 section 5): the LNS's Router
// Advertisements with the subscriber's /64 for SLAAC, the M and O flags
// for DHCPv6, the link MTU and the DNS servers (RFC 8106), its answers to
// Router Solicitations, and the checks that keep the subscriber from
// acting as a router. The ICMPv6 bodies are built and read with
// github.com/mdlayher/ndp; the IPv6 header and the checksum are ours, as
// the packets travel in PPP frames, not through a socket.
//
// A PPP link has no link-layer addresses: no Source Link-Layer Address
// option is sent, and neighbour discovery proper (NS/NA) never crosses it.
package ra

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
)

// IPv6 and ICMPv6 constants (RFC 8200 section 3, RFC 4443, RFC 4861
// section 4).
const (
	headerLen   = 40
	protoICMPv6 = 58
	// hopLimitND is the Hop Limit every ND message carries; a receiver
	// drops one with another (RFC 4861 sections 6.1.1 and 6.1.2).
	hopLimitND = 255

	typeRS       = 133
	typeRA       = 134
	typeRedirect = 137
)

// AllNodes is ff02::1, the destination of unsolicited advertisements.
var AllNodes = netip.MustParseAddr("ff02::1")

// Config is what the advertisements of one session say.
type Config struct {
	// Prefixes are advertised for SLAAC (Prefix Information with the A
	// and L flags, RFC 4861 section 4.6.2), usually one /64.
	Prefixes []netip.Prefix
	// ValidLifetime and PreferredLifetime of the prefixes (default 2
	// hours and 1 hour; they follow the session, which renews them).
	ValidLifetime, PreferredLifetime time.Duration
	// Managed and Other are the M and O flags (RFC 4861 section 4.2):
	// addresses from DHCPv6, other configuration from DHCPv6.
	Managed, Other bool
	// RouterLifetime (default 1800 s, RFC 4861 section 6.2.1's
	// AdvDefaultLifetime for the default MaxRtrAdvInterval); zero with
	// NotDefault makes the LNS no default router.
	RouterLifetime time.Duration
	NotDefault     bool
	// MTU is the link MTU option (RFC 4861 section 4.6.4); 0 sends none.
	MTU int
	// DNS servers (RDNSS, RFC 8106 section 5.1) and their lifetime
	// (default 3 times the maximum advertisement interval, section 5.1).
	DNS         []netip.Addr
	DNSLifetime time.Duration
	// HopLimit is the Cur Hop Limit for the subscriber's packets (default
	// 64).
	HopLimit uint8
}

func (c *Config) defaults() {
	if c.ValidLifetime == 0 {
		c.ValidLifetime = 2 * time.Hour
	}
	if c.PreferredLifetime == 0 {
		c.PreferredLifetime = time.Hour
	}
	if c.RouterLifetime == 0 && !c.NotDefault {
		c.RouterLifetime = 1800 * time.Second
	}
	if c.DNSLifetime == 0 {
		c.DNSLifetime = 3 * MaxInterval
	}
	if c.HopLimit == 0 {
		c.HopLimit = 64
	}
}

// Advertisement is the IPv6 packet of a Router Advertisement from src (the
// LNS's link-local address) to dst (AllNodes, or the soliciting
// subscriber), ICMPv6 checksum included: the payload of a PPP frame of
// protocol 0x0057.
func Advertisement(src, dst netip.Addr, c Config) ([]byte, error) {
	if !src.Is6() || !src.IsLinkLocalUnicast() {
		return nil, fmt.Errorf("ra: source %v: a router advertises from its link-local address (RFC 4861 section 4.2)", src)
	}
	c.defaults()
	m := &ndp.RouterAdvertisement{
		CurrentHopLimit:      c.HopLimit,
		ManagedConfiguration: c.Managed,
		OtherConfiguration:   c.Other,
		RouterLifetime:       c.RouterLifetime,
	}
	for _, p := range c.Prefixes {
		if !p.Addr().Is6() || p.Addr().Is4In6() {
			return nil, fmt.Errorf("ra: %v is not an IPv6 prefix", p)
		}
		m.Options = append(m.Options, &ndp.PrefixInformation{
			PrefixLength:                   uint8(p.Bits()),
			OnLink:                         true,
			AutonomousAddressConfiguration: p.Bits() == 64, // SLAAC forms /64 addresses (RFC 4862 section 5.5.3)
			ValidLifetime:                  c.ValidLifetime,
			PreferredLifetime:              c.PreferredLifetime,
			Prefix:                         p.Masked().Addr(),
		})
	}
	if c.MTU > 0 {
		m.Options = append(m.Options, ndp.NewMTU(uint32(c.MTU)))
	}
	if len(c.DNS) > 0 {
		m.Options = append(m.Options, &ndp.RecursiveDNSServer{Lifetime: c.DNSLifetime, Servers: c.DNS})
	}
	body, err := ndp.MarshalMessageChecksum(m, src, dst)
	if err != nil {
		return nil, fmt.Errorf("ra: %w", err)
	}
	return packet(src, dst, body), nil
}

// packet puts an IPv6 header with Hop Limit 255 in front of an ICMPv6
// message.
func packet(src, dst netip.Addr, icmp6 []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(icmp6))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(len(icmp6)))
	b[6], b[7] = protoICMPv6, hopLimitND
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, icmp6...)
}

// Errors of Classify, by what was wrong.
var (
	ErrMalformed = errors.New("ra: malformed IPv6 or ICMPv6 packet")
	ErrChecksum  = errors.New("ra: ICMPv6 checksum wrong")
	ErrHopLimit  = errors.New("ra: neighbour discovery message with a Hop Limit other than 255")
)

// Kind says what an IPv6 packet from the subscriber is, for the LNS.
type Kind uint8

const (
	// Data is anything else: forwarded if its source is the subscriber's.
	Data Kind = iota
	// Solicitation is a valid Router Solicitation: answer it.
	Solicitation
	// Forbidden is what a subscriber must not send a router: a Router
	// Advertisement or a Redirect (RFC 4861 sections 6.1.2 and 8.1 make
	// the LNS discard them; counted as spoofing).
	Forbidden
	// Invalid is an ND message that fails RFC 4861's validity checks
	// (Hop Limit, code, length, checksum): silently discarded.
	Invalid
)

// Classify sorts an IPv6 packet from the subscriber (the payload of a PPP
// frame of protocol 0x0057). Only the first header after IPv6 is looked
// at: an ND message never has extension headers in front on a PPP link
// worth answering. The error says why a packet is Invalid.
func Classify(pkt []byte) (Kind, error) {
	if len(pkt) < headerLen || pkt[0]>>4 != 6 {
		return Invalid, ErrMalformed
	}
	if pkt[6] != protoICMPv6 {
		return Data, nil
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:6]))
	if plen < 4 || headerLen+plen > len(pkt) {
		return Invalid, ErrMalformed
	}
	body := pkt[headerLen : headerLen+plen]
	switch body[0] {
	case typeRS:
	case typeRA, typeRedirect:
		return Forbidden, nil
	default:
		return Data, nil
	}
	// RFC 4861 section 6.1.1: Hop Limit 255, ICMP Code 0, ICMP length
	// (derived from the IP length) 8 or more, a valid checksum.
	if pkt[7] != hopLimitND {
		return Invalid, ErrHopLimit
	}
	if body[1] != 0 || len(body) < 8 {
		return Invalid, ErrMalformed
	}
	if !checksumOK(pkt[8:24], pkt[24:40], body) {
		return Invalid, ErrChecksum
	}
	if _, err := ndp.ParseMessage(body); err != nil {
		return Invalid, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return Solicitation, nil
}

// checksumOK verifies the ICMPv6 checksum over the pseudo-header (RFC 4443
// section 2.3, RFC 8200 section 8.1).
func checksumOK(src, dst, body []byte) bool {
	var s uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	s += uint32(len(body)>>16) + uint32(len(body)&0xffff) + protoICMPv6
	add(body)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s) == 0xffff
}
