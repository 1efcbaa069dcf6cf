// Package dhcp6 is the LNS's DHCPv6 server on one subscriber's PPP link
// (RFC 8415): it gives the subscriber's router its delegated prefix
// (IA_PD, RFC 8415 section 6.3) and, when the session has one, an address
// (IA_NA), plus the DNS servers (RFC 3646), in the Solicit/Advertise/
// Request/Reply exchange or the two-message one with Rapid Commit, and
// answers Renew, Rebind, Release, Decline, Confirm and
// Information-Request. What a session may have comes from RADIUS or the
// pools (Binding); the server holds no state of its own beyond it, so a
// restarted LNS answers a Renew for the same binding the same way.
//
// The wire format is github.com/insomniacslk/dhcp's dhcpv6 package; the
// IPv6 and UDP headers around it are ours, as the messages travel in PPP
// frames.
package dhcp6

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// Binding is what one session may be given.
type Binding struct {
	// Delegated is the prefix for IA_PD (RADIUS Delegated-IPv6-Prefix,
	// RFC 4818, or the prefix-delegation pool); invalid: none.
	Delegated netip.Prefix
	// Address is the address for IA_NA (RADIUS Framed-IPv6-Address, RFC
	// 6911, or a pool); invalid: none.
	Address netip.Addr
	// DNS servers (option 23, RFC 3646).
	DNS []netip.Addr
	// Lifetimes of what is given (default 2 h valid, 1 h preferred). The
	// session renews them; T1 and T2 are half and four fifths of the
	// preferred lifetime (RFC 8415 section 21.4's recommendation).
	ValidLifetime, PreferredLifetime time.Duration
}

func (b *Binding) lifetimes() (valid, preferred, t1, t2 time.Duration) {
	valid, preferred = b.ValidLifetime, b.PreferredLifetime
	if valid == 0 {
		valid = 2 * time.Hour
	}
	if preferred == 0 || preferred > valid {
		preferred = min(time.Hour, valid)
	}
	return valid, preferred, preferred / 2, preferred * 4 / 5
}

// Server answers one link's DHCPv6 messages.
type Server struct {
	duid dhcpv6.DUID
	// RapidCommit allows the two-message exchange (RFC 8415 section
	// 18.3.1) when the client asks for it.
	RapidCommit bool
}

// NewServer returns a server whose DUID is a DUID-UUID (RFC 6355) derived
// from node, the LNS's node name: the same across restarts, as RFC 8415
// section 11 asks, and different per node.
func NewServer(node string) *Server {
	sum := sha256.Sum256([]byte("bras dhcpv6 server " + node))
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50 // a name-based UUID (RFC 9562 section 5.5)
	u[8] = u[8]&0x3f | 0x80
	return &Server{duid: &dhcpv6.DUIDUUID{UUID: u}, RapidCommit: true}
}

// DUID is the server's identifier.
func (s *Server) DUID() dhcpv6.DUID { return s.duid }

// Outcome says what a message did, for the session's log and counters.
type Outcome uint8

const (
	Answered  Outcome = iota
	Bound             // a Reply gave the binding (Request, Renew, Rebind, Solicit with Rapid Commit)
	Released          // the client released it (RFC 8415 section 18.3.7)
	Declined          // the client found the address in use (section 18.3.8)
	Discarded         // silently dropped, as the RFC says; the error says why
)

// Errors of discarded messages.
var (
	ErrMalformed    = errors.New("dhcp6: malformed message")
	ErrNotForUs     = errors.New("dhcp6: message for another server")
	ErrNoClientID   = errors.New("dhcp6: message without a Client Identifier")
	ErrUnexpected   = errors.New("dhcp6: message type a server does not answer")
	ErrMissingField = errors.New("dhcp6: message without the options its type requires")
)

// Handle answers the DHCPv6 message req (a UDP payload to port 547) with
// the binding b. A nil reply with Discarded means silence, per RFC 8415
// section 16's validation rules.
func (s *Server) Handle(req []byte, b Binding) (reply []byte, o Outcome, err error) {
	d, err := dhcpv6.FromBytes(req)
	if err != nil {
		return nil, Discarded, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m, ok := d.(*dhcpv6.Message)
	if !ok {
		// A relay message from a subscriber: nobody relays on its link.
		return nil, Discarded, ErrUnexpected
	}
	cid := m.Options.ClientID()
	sid := m.Options.ServerID()
	forUs := sid != nil && sid.Equal(s.duid)
	switch m.MessageType {
	case dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeConfirm, dhcpv6.MessageTypeRebind:
		// Sections 16.2, 16.5, 16.7: a Client Identifier, no Server
		// Identifier.
		if cid == nil {
			return nil, Discarded, ErrNoClientID
		}
		if sid != nil {
			return nil, Discarded, ErrNotForUs
		}
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeDecline:
		// Sections 16.4, 16.6, 16.8, 16.9: both, the Server Identifier ours.
		if cid == nil {
			return nil, Discarded, ErrNoClientID
		}
		if !forUs {
			return nil, Discarded, ErrNotForUs
		}
	case dhcpv6.MessageTypeInformationRequest:
		// Section 16.12: a Server Identifier, if any, ours.
		if sid != nil && !forUs {
			return nil, Discarded, ErrNotForUs
		}
	default:
		return nil, Discarded, ErrUnexpected
	}

	var out *dhcpv6.Message
	o = Answered
	switch m.MessageType {
	case dhcpv6.MessageTypeSolicit:
		if s.RapidCommit && m.GetOneOption(dhcpv6.OptionRapidCommit) != nil {
			out, err = dhcpv6.NewReplyFromMessage(m)
			o = Bound
		} else {
			out, err = dhcpv6.NewAdvertiseFromSolicit(m)
		}
		if err == nil {
			s.grant(out, m, &b, false)
		}
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind:
		out, err = dhcpv6.NewReplyFromMessage(m)
		if err == nil {
			s.grant(out, m, &b, true)
			o = Bound
		}
	case dhcpv6.MessageTypeConfirm:
		out, err = s.confirm(m, &b)
	case dhcpv6.MessageTypeRelease:
		out, err = dhcpv6.NewReplyFromMessage(m)
		if err == nil {
			out.AddOption(&dhcpv6.OptStatusCode{StatusCode: iana.StatusSuccess})
		}
		o = Released
	case dhcpv6.MessageTypeDecline:
		// The Reply is the one of a Release (section 18.3.8).
		out = bareReply(m)
		out.AddOption(&dhcpv6.OptStatusCode{StatusCode: iana.StatusSuccess})
		o = Declined
	case dhcpv6.MessageTypeInformationRequest:
		out, err = dhcpv6.NewReplyFromMessage(m)
		if err == nil && cid == nil {
			out.Options.Del(dhcpv6.OptionClientID)
		}
	}
	if err != nil {
		return nil, Discarded, fmt.Errorf("%w: %v", ErrMissingField, err)
	}
	out.AddOption(dhcpv6.OptServerID(s.duid))
	if len(b.DNS) > 0 {
		var ips []net.IP
		for _, a := range b.DNS {
			ips = append(ips, a.AsSlice())
		}
		out.AddOption(dhcpv6.OptDNS(ips...))
	}
	return out.ToBytes(), o, nil
}

// bareReply is a Reply to m with its transaction and Client Identifier.
func bareReply(m *dhcpv6.Message) *dhcpv6.Message {
	r := &dhcpv6.Message{MessageType: dhcpv6.MessageTypeReply, TransactionID: m.TransactionID}
	if c := m.GetOneOption(dhcpv6.OptionClientID); c != nil {
		r.AddOption(c)
	}
	return r
}

// grant answers every IA_NA and IA_PD of m with the binding, keeping the
// client's IAIDs (RFC 8415 sections 18.3.1, 18.3.2, 18.3.4): what the
// session has, or a Status Code saying there is none. In a Reply
// (commit), addresses and prefixes the client still holds that are not
// the binding's are returned with lifetimes 0 so it stops using them
// (section 18.3.4).
func (s *Server) grant(out, m *dhcpv6.Message, b *Binding, commit bool) {
	valid, preferred, t1, t2 := b.lifetimes()
	for _, ia := range m.Options.IANA() {
		r := &dhcpv6.OptIANA{IaId: ia.IaId, T1: t1, T2: t2}
		if b.Address.IsValid() {
			r.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: b.Address.AsSlice(), PreferredLifetime: preferred, ValidLifetime: valid})
		} else {
			r.T1, r.T2 = 0, 0
			r.Options.Add(&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail, StatusMessage: "no address for this subscriber"})
		}
		if commit {
			for _, a := range ia.Options.Addresses() {
				if ip, ok := netip.AddrFromSlice(a.IPv6Addr); ok && ip.Unmap() != b.Address {
					r.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: a.IPv6Addr})
				}
			}
		}
		out.AddOption(r)
	}
	for _, ia := range m.Options.IAPD() {
		r := &dhcpv6.OptIAPD{IaId: ia.IaId, T1: t1, T2: t2}
		if b.Delegated.IsValid() {
			p := b.Delegated.Masked()
			r.Options.Add(&dhcpv6.OptIAPrefix{PreferredLifetime: preferred, ValidLifetime: valid,
				Prefix: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 128)}})
		} else {
			r.T1, r.T2 = 0, 0
			r.Options.Add(&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoPrefixAvail, StatusMessage: "no prefix for this subscriber"})
		}
		if commit {
			for _, p := range ia.Options.Prefixes() {
				if p.Prefix == nil {
					continue
				}
				if q, ok := ipNetPrefix(p.Prefix); ok && q != b.Delegated.Masked() {
					r.Options.Add(&dhcpv6.OptIAPrefix{Prefix: p.Prefix})
				}
			}
		}
		out.AddOption(r)
	}
}

// confirm answers a Confirm (section 18.3.3): Success when every address
// the client names is the session's, NotOnLink otherwise; a Confirm with
// no address is discarded.
func (s *Server) confirm(m *dhcpv6.Message, b *Binding) (*dhcpv6.Message, error) {
	var addrs []netip.Addr
	for _, ia := range m.Options.IANA() {
		for _, a := range ia.Options.Addresses() {
			if ip, ok := netip.AddrFromSlice(a.IPv6Addr); ok {
				addrs = append(addrs, ip.Unmap())
			}
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("Confirm without addresses")
	}
	out, err := dhcpv6.NewReplyFromMessage(m)
	if err != nil {
		return nil, err
	}
	code := iana.StatusSuccess
	for _, a := range addrs {
		if a != b.Address {
			code = iana.StatusNotOnLink
		}
	}
	out.AddOption(&dhcpv6.OptStatusCode{StatusCode: code})
	return out, nil
}

func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits != 128 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.Unmap(), ones).Masked(), true
}
