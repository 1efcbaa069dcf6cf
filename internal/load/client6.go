package load

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/bras-project/bras/ppp"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/mdlayher/ndp"
)

// IPv6 addresses and ports of the link (RFC 4291 section 2.7.1, RFC 8415
// section 7).
var (
	allRouters    = netip.MustParseAddr("ff02::2")
	allDHCPServer = netip.MustParseAddr("ff02::1:2")
)

const (
	dhcpClientPort = 546
	dhcpServerPort = 547
	// hopLimitND is the Hop Limit of every neighbour-discovery message
	// (RFC 4861 sections 6.1.2 and 6.3.4: an RA with another is invalid).
	hopLimitND = 255
	icmpRA     = 134

	// The first retransmission of a Router Solicitation (RFC 4861 section
	// 6.3.7 waits RTR_SOLICITATION_INTERVAL, 4 s; an emulated CPE is
	// impatient) and of a DHCPv6 Solicit or Request (SOL_TIMEOUT and
	// REQ_TIMEOUT, 1 s, RFC 8415 section 7.6); both double up to
	// maxRetransmit6.
	rsInterval     = time.Second
	dhcpInterval   = time.Second
	maxRetransmit6 = 4 * time.Second
)

// v6Phase is where a subscriber's IPv6 set-up is.
type v6Phase uint8

const (
	v6Off     v6Phase = iota // IPv6 not configured
	v6Wait                   // waiting for IPV6CP (RFC 5072) to open
	v6Running                // router discovery and DHCPv6 under way
	v6Ready                  // a SLAAC prefix and a delegated prefix
	v6Failed                 // gave up (IPv6Timeout), or the session ended first
)

func (p v6Phase) String() string {
	switch p {
	case v6Off:
		return "off"
	case v6Wait:
		return "wait-ipv6cp"
	case v6Running:
		return "running"
	case v6Ready:
		return "ready"
	case v6Failed:
		return "failed"
	}
	return "v6Phase(" + strconv.Itoa(int(p)) + ")"
}

// dhcpPhase is where the DHCPv6 exchange is (RFC 8415 section 18).
type dhcpPhase uint8

const (
	dhcpSoliciting dhcpPhase = iota // Solicit (with Rapid Commit) sent
	dhcpRequesting                  // an Advertise came; Request sent
	dhcpBound                       // a Reply gave the delegated prefix
)

func (p dhcpPhase) String() string {
	switch p {
	case dhcpSoliciting:
		return "soliciting"
	case dhcpRequesting:
		return "requesting"
	case dhcpBound:
		return "bound"
	}
	return "dhcpPhase(" + strconv.Itoa(int(p)) + ")"
}

// client6 is one subscriber's IPv6 set-up on its PPP link once IPV6CP is
// open: a host's router discovery (RFC 4861 section 6.3.7) with SLAAC of
// its address from the advertised /64 and its interface identifier (RFC
// 4862 section 5.5.3; RFC 5072 section 5), and a requesting router's DHCPv6
// prefix delegation (RFC 8415: Solicit with Rapid Commit, or the four
// messages when the server answers with an Advertise; IA_PD and optionally
// IA_NA). It does no I/O and reads no clock: its methods return the IPv6
// packets to send, and the caller calls tick at next.
type client6 struct {
	mac  net.HardwareAddr // DUID-LL (RFC 8415 section 11.4)
	iaid [4]byte
	na   bool // ask for an address too (IA_NA)
	xid  dhcpv6.TransactionID

	local, router netip.Addr // link-local addresses (RFC 5072 section 5)
	iid           ppp.InterfaceID

	// Router discovery.
	rsNext  time.Time
	rsEvery time.Duration
	// Prefix is the on-link /64 of the first RA with an autonomous
	// Prefix Information option; SLAAC is Prefix + iid.
	prefix netip.Prefix
	slaac  netip.Addr

	// DHCPv6.
	dhcp      dhcpPhase
	dhcpNext  time.Time
	dhcpEvery time.Duration
	request   []byte // the Solicit or Request being retransmitted
	delegated netip.Prefix
	address   netip.Addr // from IA_NA, when asked for and given

	// Counters of what the link sent that the client could not use.
	ignored uint64
}

// newClient6 prepares the client of the subscriber with MAC mac (its
// DUID-LL and, from its low four octets, its IAIDs).
func newClient6(mac net.HardwareAddr, na bool) *client6 {
	c := &client6{mac: append(net.HardwareAddr(nil), mac...), na: na}
	copy(c.iaid[:], mac[len(mac)-4:])
	// The transaction ID is three octets (RFC 8415 section 8); from the
	// MAC, so runs are reproducible.
	c.xid = dhcpv6.TransactionID{mac[3], mac[4], mac[5] ^ 0x5a}
	return c
}

// start begins once IPV6CP is open with local and peer the two interface
// identifiers: a Router Solicitation and a DHCPv6 Solicit.
func (c *client6) start(n ppp.IPv6Info, now time.Time) [][]byte {
	c.iid, c.local, c.router = n.Local, n.Local.LinkLocal(), n.Peer.LinkLocal()
	c.rsEvery, c.dhcpEvery = rsInterval, dhcpInterval
	c.dhcp = dhcpSoliciting
	c.request = c.solicit()
	var out [][]byte
	out = append(out, c.rs())
	c.rsNext = now.Add(c.rsEvery)
	out = append(out, c.dhcpPacket())
	c.dhcpNext = now.Add(c.dhcpEvery)
	return out
}

// ready reports whether the client has both its SLAAC prefix and its
// delegated prefix.
func (c *client6) ready() bool { return c.slaac.IsValid() && c.delegated.IsValid() }

// next is when tick must run (zero: nothing pending).
func (c *client6) next() time.Time {
	var d time.Time
	for _, t := range []time.Time{c.rsNext, c.dhcpNext} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// tick retransmits what is due.
func (c *client6) tick(now time.Time) [][]byte {
	var out [][]byte
	if !c.rsNext.IsZero() && !now.Before(c.rsNext) {
		out = append(out, c.rs())
		c.rsEvery = min(2*c.rsEvery, maxRetransmit6)
		c.rsNext = now.Add(c.rsEvery)
	}
	if !c.dhcpNext.IsZero() && !now.Before(c.dhcpNext) {
		out = append(out, c.dhcpPacket())
		c.dhcpEvery = min(2*c.dhcpEvery, maxRetransmit6)
		c.dhcpNext = now.Add(c.dhcpEvery)
	}
	return out
}

// input handles an IPv6 packet from the LNS that isClient6 picked: a
// Router Advertisement or a DHCPv6 message to the client port.
func (c *client6) input(pkt []byte, now time.Time) [][]byte {
	ip, err := ParseIPv6(pkt)
	if err != nil {
		c.ignored++
		return nil
	}
	switch ip.Next {
	case protoICMPv6:
		if err := c.advertisement(ip); err != nil {
			c.ignored++
		}
		return nil
	case protoUDP:
		out, err := c.dhcpInput(pkt)
		if err != nil {
			c.ignored++
		}
		return out
	}
	c.ignored++
	return nil
}

// advertisement takes the first autonomous /64 of a valid Router
// Advertisement (RFC 4861 section 6.1.2: Hop Limit 255, a link-local
// source, a right checksum; here the source must be the peer's link-local
// address that IPV6CP made, RFC 5072 section 5) for SLAAC (RFC 4862
// section 5.5.3).
func (c *client6) advertisement(ip IPv6) error {
	if ip.HopLimit != hopLimitND || !ip.Src.IsLinkLocalUnicast() || ip.Src != c.router || len(ip.Payload) < 4 || ip.Payload[0] != icmpRA {
		return fmt.Errorf("load: not a valid Router Advertisement: %w", ErrMalformed)
	}
	if ^fold(pseudo6(ip.Src, ip.Dst, protoICMPv6, len(ip.Payload), sum(ip.Payload, 0))) != 0 {
		return fmt.Errorf("load: Router Advertisement checksum: %w", ErrMalformed)
	}
	m, err := ndp.ParseMessage(ip.Payload)
	if err != nil {
		return fmt.Errorf("load: Router Advertisement: %v: %w", err, ErrMalformed)
	}
	ra, ok := m.(*ndp.RouterAdvertisement)
	if !ok {
		return fmt.Errorf("load: ICMPv6 %T: %w", m, ErrMalformed)
	}
	if c.slaac.IsValid() {
		return nil // renewed lifetimes: nothing to do for an emulator
	}
	for _, o := range ra.Options {
		pi, ok := o.(*ndp.PrefixInformation)
		if !ok || !pi.AutonomousAddressConfiguration || pi.PrefixLength != 64 || pi.ValidLifetime == 0 ||
			!pi.Prefix.Is6() || pi.Prefix.IsLinkLocalUnicast() {
			continue
		}
		p := netip.PrefixFrom(pi.Prefix, 64).Masked()
		a := p.Addr().As16()
		copy(a[8:], c.iid[:])
		c.prefix, c.slaac = p, netip.AddrFrom16(a)
		c.rsNext = time.Time{}
		return nil
	}
	return fmt.Errorf("load: Router Advertisement without an autonomous /64: %w", ErrMalformed)
}

// dhcpInput handles a DHCPv6 Advertise (answered with a Request) or Reply
// (the binding) for our transaction.
func (c *client6) dhcpInput(pkt []byte) ([][]byte, error) {
	u, err := ParseUDP(pkt)
	if err != nil {
		return nil, err
	}
	if u.Dst.Port() != dhcpClientPort || u.Src.Port() != dhcpServerPort || u.Dst.Addr() != c.local {
		return nil, fmt.Errorf("load: UDP %v → %v is not DHCPv6 for us: %w", u.Src, u.Dst, ErrMalformed)
	}
	m, err := dhcpv6.MessageFromBytes(u.Payload)
	if err != nil {
		return nil, fmt.Errorf("load: DHCPv6: %v: %w", err, ErrMalformed)
	}
	if m.TransactionID != c.xid || c.dhcp == dhcpBound {
		return nil, nil // a late or foreign answer
	}
	if cid := m.Options.ClientID(); cid == nil || !cid.Equal(c.duid()) {
		return nil, fmt.Errorf("load: DHCPv6 %v for another client: %w", m.MessageType, ErrMalformed)
	}
	sid := m.Options.ServerID()
	if sid == nil {
		return nil, fmt.Errorf("load: DHCPv6 %v without a Server Identifier: %w", m.MessageType, ErrMalformed)
	}
	switch {
	case m.MessageType == dhcpv6.MessageTypeAdvertise && c.dhcp == dhcpSoliciting:
		// Section 18.2.1: take the (only) server's offer; Request it.
		pd := c.grantedPrefix(m)
		if !pd.IsValid() {
			return nil, fmt.Errorf("load: DHCPv6 Advertise delegates no prefix: %w", ErrMalformed)
		}
		c.dhcp = dhcpRequesting
		c.request = c.requestMsg(sid, pd)
		c.dhcpEvery = dhcpInterval
		return [][]byte{c.dhcpPacket()}, nil
	case m.MessageType == dhcpv6.MessageTypeReply:
		// A Reply to a Solicit counts only with Rapid Commit (section
		// 18.2.10).
		if c.dhcp == dhcpSoliciting && m.GetOneOption(dhcpv6.OptionRapidCommit) == nil {
			return nil, fmt.Errorf("load: DHCPv6 Reply to a Solicit without Rapid Commit: %w", ErrMalformed)
		}
		pd := c.grantedPrefix(m)
		if !pd.IsValid() {
			return nil, fmt.Errorf("load: DHCPv6 Reply delegates no prefix: %w", ErrMalformed)
		}
		c.delegated = pd
		if na := m.Options.OneIANA(); na != nil {
			for _, a := range na.Options.Addresses() {
				if ip, ok := netip.AddrFromSlice(a.IPv6Addr); ok && a.ValidLifetime > 0 {
					c.address = ip.Unmap()
					break
				}
			}
		}
		c.dhcp = dhcpBound
		c.dhcpNext = time.Time{}
		return nil, nil
	}
	return nil, nil
}

// grantedPrefix is the first prefix of m's IA_PD for our IAID with a
// non-zero valid lifetime.
func (c *client6) grantedPrefix(m *dhcpv6.Message) netip.Prefix {
	for _, pd := range m.Options.IAPD() {
		if pd.IaId != c.iaid {
			continue
		}
		for _, p := range pd.Options.Prefixes() {
			if p.Prefix == nil || p.ValidLifetime == 0 {
				continue
			}
			ip, ok := netip.AddrFromSlice(p.Prefix.IP)
			ones, bits := p.Prefix.Mask.Size()
			if !ok || bits != 128 {
				continue
			}
			return netip.PrefixFrom(ip.Unmap(), ones).Masked()
		}
	}
	return netip.Prefix{}
}

func (c *client6) duid() dhcpv6.DUID {
	return &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: c.mac}
}

// solicit is the Solicit of RFC 8415 section 18.2.1 with Rapid Commit
// (section 21.14) and an IA_PD (and an IA_NA when asked).
func (c *client6) solicit() []byte {
	m := &dhcpv6.Message{MessageType: dhcpv6.MessageTypeSolicit, TransactionID: c.xid}
	m.AddOption(dhcpv6.OptClientID(c.duid()))
	m.AddOption(dhcpv6.OptElapsedTime(0))
	m.AddOption(dhcpv6.OptRequestedOption(dhcpv6.OptionDNSRecursiveNameServer))
	m.AddOption(&dhcpv6.OptIAPD{IaId: c.iaid})
	if c.na {
		m.AddOption(&dhcpv6.OptIANA{IaId: c.iaid})
	}
	m.AddOption(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionRapidCommit})
	return m.ToBytes()
}

// requestMsg is the Request of section 18.2.2 for the prefix the server
// advertised.
func (c *client6) requestMsg(server dhcpv6.DUID, pd netip.Prefix) []byte {
	m := &dhcpv6.Message{MessageType: dhcpv6.MessageTypeRequest, TransactionID: c.xid}
	m.AddOption(dhcpv6.OptClientID(c.duid()))
	m.AddOption(dhcpv6.OptServerID(server))
	m.AddOption(dhcpv6.OptElapsedTime(0))
	m.AddOption(dhcpv6.OptRequestedOption(dhcpv6.OptionDNSRecursiveNameServer))
	ia := &dhcpv6.OptIAPD{IaId: c.iaid}
	ia.Options.Add(&dhcpv6.OptIAPrefix{Prefix: &net.IPNet{IP: pd.Addr().AsSlice(), Mask: net.CIDRMask(pd.Bits(), 128)}})
	m.AddOption(ia)
	if c.na {
		m.AddOption(&dhcpv6.OptIANA{IaId: c.iaid})
	}
	return m.ToBytes()
}

// dhcpPacket is the current DHCPv6 message in IPv6/UDP from our
// link-local address to All_DHCP_Relay_Agents_and_Servers.
func (c *client6) dhcpPacket() []byte {
	u := UDP{Src: netip.AddrPortFrom(c.local, dhcpClientPort), Dst: netip.AddrPortFrom(allDHCPServer, dhcpServerPort), Payload: c.request}
	b, _ := u.Append(nil) // IPv6 addresses and a small payload: cannot fail
	// Link-scope: hop limit 255 like the server's answers; any works.
	b[7] = hopLimitND
	return b
}

// rs is a Router Solicitation (RFC 4861 section 4.1) from our link-local
// address to all routers; a PPP link has no link-layer address to send.
func (c *client6) rs() []byte {
	body, err := ndp.MarshalMessageChecksum(&ndp.RouterSolicitation{}, c.local, allRouters)
	if err != nil {
		return nil
	}
	b, _ := IPv6{Src: c.local, Dst: allRouters, Next: protoICMPv6, HopLimit: hopLimitND, Payload: body}.Append(nil)
	return b
}

// isClient6 reports whether an IPv6 packet from the LNS is for the
// client's control path (a Router Advertisement, or UDP to the DHCPv6
// client port) rather than the traffic accounting.
func isClient6(pkt []byte) bool {
	if len(pkt) < ipv6HeaderLen+4 || pkt[0]>>4 != 6 {
		return false
	}
	switch pkt[6] {
	case protoICMPv6:
		return pkt[ipv6HeaderLen] == icmpRA
	case protoUDP:
		return binary.BigEndian.Uint16(pkt[ipv6HeaderLen+2:]) == dhcpClientPort
	}
	return false
}
