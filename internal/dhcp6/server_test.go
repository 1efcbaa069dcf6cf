package dhcp6

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

var (
	clientDUID = &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 9}}
	binding    = Binding{
		Delegated: netip.MustParsePrefix("2001:db8:ff00::/56"),
		Address:   netip.MustParseAddr("2001:db8:1:2::7"),
		DNS:       []netip.Addr{netip.MustParseAddr("2001:db8::53")},
	}
	iaid = [4]byte{0, 0, 0, 1}
)

// msg builds a client message of type t with a Client Identifier, an
// IA_NA and an IA_PD, then mods.
func msg(t *testing.T, typ dhcpv6.MessageType, mods ...dhcpv6.Modifier) []byte {
	t.Helper()
	m, err := dhcpv6.NewMessage(append([]dhcpv6.Modifier{dhcpv6.WithClientID(clientDUID)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.MessageType = typ
	return m.ToBytes()
}

func withIAs(m dhcpv6.DHCPv6) {
	m.AddOption(&dhcpv6.OptIANA{IaId: iaid})
	m.AddOption(&dhcpv6.OptIAPD{IaId: iaid})
}

func parse(t *testing.T, b []byte) *dhcpv6.Message {
	t.Helper()
	m, err := dhcpv6.MessageFromBytes(b)
	if err != nil {
		t.Fatalf("the reply does not parse: %v", err)
	}
	return m
}

// checkBinding checks the reply gives b's address and prefix in the
// client's IAs, with the default lifetimes and T1/T2.
func checkBinding(t *testing.T, r *dhcpv6.Message) {
	t.Helper()
	na, pd := r.Options.OneIANA(), r.Options.OneIAPD()
	if na == nil || pd == nil || na.IaId != iaid || pd.IaId != iaid {
		t.Fatalf("IAs %v %v", na, pd)
	}
	if a := na.Options.OneAddress(); a == nil || !a.IPv6Addr.Equal(net.ParseIP("2001:db8:1:2::7")) || a.ValidLifetime != 2*time.Hour || a.PreferredLifetime != time.Hour {
		t.Errorf("IA_NA address %v", a)
	}
	if p := pd.Options.Prefixes(); len(p) == 0 || p[0].Prefix.String() != "2001:db8:ff00::/56" || p[0].ValidLifetime != 2*time.Hour {
		t.Errorf("IA_PD prefixes %v", p)
	}
	if pd.T1 != 30*time.Minute || pd.T2 != 48*time.Minute {
		t.Errorf("IA_PD T1 %v T2 %v, want 30m and 48m", pd.T1, pd.T2)
	}
	if dns := r.Options.DNS(); len(dns) != 1 || !dns[0].Equal(net.ParseIP("2001:db8::53")) {
		t.Errorf("DNS %v", dns)
	}
}

// TestFourMessageExchange: Solicit, Advertise, Request, Reply (RFC 8415
// section 18), the Advertise and the Reply carrying the session's
// address and delegated prefix in the client's IAs.
func TestFourMessageExchange(t *testing.T) {
	s := NewServer("lns1")
	b, o, err := s.Handle(msg(t, dhcpv6.MessageTypeSolicit, withIAs), binding)
	if err != nil || o != Answered {
		t.Fatalf("Solicit: %v %v", o, err)
	}
	adv := parse(t, b)
	if adv.MessageType != dhcpv6.MessageTypeAdvertise || adv.Options.ServerID() == nil || !adv.Options.ClientID().Equal(clientDUID) {
		t.Fatalf("Advertise %v", adv)
	}
	checkBinding(t, adv)
	req := msg(t, dhcpv6.MessageTypeRequest, withIAs, dhcpv6.WithServerID(adv.Options.ServerID()))
	b, o, err = s.Handle(req, binding)
	if err != nil || o != Bound {
		t.Fatalf("Request: %v %v", o, err)
	}
	rep := parse(t, b)
	if rep.MessageType != dhcpv6.MessageTypeReply {
		t.Fatalf("reply type %v", rep.MessageType)
	}
	checkBinding(t, rep)
	// Another server's Request is not ours to answer (section 16.4).
	other := msg(t, dhcpv6.MessageTypeRequest, withIAs, dhcpv6.WithServerID(NewServer("lns2").DUID()))
	if b, o, err := s.Handle(other, binding); b != nil || o != Discarded || !errors.Is(err, ErrNotForUs) {
		t.Errorf("another server's Request: %v %v %v", b != nil, o, err)
	}
}

// TestRapidCommit: a Solicit with Rapid Commit gets a Reply with Rapid
// Commit at once (section 18.3.1).
func TestRapidCommit(t *testing.T) {
	b, o, err := NewServer("lns1").Handle(msg(t, dhcpv6.MessageTypeSolicit, withIAs, dhcpv6.WithRapidCommit), binding)
	if err != nil || o != Bound {
		t.Fatalf("%v %v", o, err)
	}
	r := parse(t, b)
	if r.MessageType != dhcpv6.MessageTypeReply || r.GetOneOption(dhcpv6.OptionRapidCommit) == nil {
		t.Fatalf("reply %v", r)
	}
	checkBinding(t, r)
}

// TestIAPDGolden: the IA_PD option of a Reply in the layout of RFC 8415
// sections 21.21 and 21.22.
func TestIAPDGolden(t *testing.T) {
	b, _, err := NewServer("lns1").Handle(msg(t, dhcpv6.MessageTypeSolicit, withIAs, dhcpv6.WithRapidCommit), binding)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0, 25, 0, 41, // OPTION_IA_PD, length 12 + 29
		0, 0, 0, 1, // IAID
		0, 0, 0x07, 0x08, 0, 0, 0x0b, 0x40, // T1 1800, T2 2880
		0, 26, 0, 25, // OPTION_IAPREFIX, length 25
		0, 0, 0x0e, 0x10, 0, 0, 0x1c, 0x20, // preferred 3600, valid 7200
		56, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	}
	if !bytes.Contains(b, want) {
		t.Errorf("the Reply %x does not hold the IA_PD %x", b, want)
	}
}

// TestRenewRebindRelease: a Renew or Rebind extends the binding and
// zeroes a prefix the client holds that is no longer its own (section
// 18.3.4); Release and Decline get Success (sections 18.3.7, 18.3.8).
func TestRenewRebindRelease(t *testing.T) {
	s := NewServer("lns1")
	stale := func(m dhcpv6.DHCPv6) {
		m.AddOption(&dhcpv6.OptIANA{IaId: iaid})
		pd := &dhcpv6.OptIAPD{IaId: iaid}
		_, old, _ := net.ParseCIDR("2001:db8:aa00::/56")
		pd.Options.Add(&dhcpv6.OptIAPrefix{Prefix: old, ValidLifetime: time.Hour})
		m.AddOption(pd)
	}
	sid := dhcpv6.WithServerID(s.DUID())
	b, o, err := s.Handle(msg(t, dhcpv6.MessageTypeRenew, stale, sid), binding)
	if err != nil || o != Bound {
		t.Fatalf("Renew: %v %v", o, err)
	}
	r := parse(t, b)
	checkBinding(t, r)
	pd := r.Options.OneIAPD().Options.Prefixes()
	if len(pd) != 2 || pd[1].Prefix.String() != "2001:db8:aa00::/56" || pd[1].ValidLifetime != 0 || pd[1].PreferredLifetime != 0 {
		t.Errorf("the stale prefix is not returned with lifetimes 0: %v", pd)
	}
	if _, o, err := s.Handle(msg(t, dhcpv6.MessageTypeRebind, withIAs), binding); err != nil || o != Bound {
		t.Errorf("Rebind: %v %v", o, err)
	}
	if _, o, err := s.Handle(msg(t, dhcpv6.MessageTypeRebind, withIAs, sid), binding); o != Discarded || !errors.Is(err, ErrNotForUs) {
		t.Errorf("Rebind with a Server Identifier: %v %v", o, err)
	}
	for typ, want := range map[dhcpv6.MessageType]Outcome{dhcpv6.MessageTypeRelease: Released, dhcpv6.MessageTypeDecline: Declined} {
		b, o, err := s.Handle(msg(t, typ, withIAs, sid), binding)
		if err != nil || o != want {
			t.Fatalf("%v: %v %v", typ, o, err)
		}
		if st := parse(t, b).Options.Status(); st == nil || st.StatusCode != iana.StatusSuccess {
			t.Errorf("%v: status %v", typ, st)
		}
	}
}

// TestNothingToGive: a session without an address or a delegated prefix
// gets the IAs back with NoAddrsAvail and NoPrefixAvail (RFC 8415 section
// 18.3.1), not silence.
func TestNothingToGive(t *testing.T) {
	b, _, err := NewServer("lns1").Handle(msg(t, dhcpv6.MessageTypeSolicit, withIAs), Binding{})
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, b)
	if st := r.Options.OneIANA().Options.Status(); st == nil || st.StatusCode != iana.StatusNoAddrsAvail {
		t.Errorf("IA_NA status %v", st)
	}
	if st := r.Options.OneIAPD().Options.Status(); st == nil || st.StatusCode != iana.StatusNoPrefixAvail {
		t.Errorf("IA_PD status %v", st)
	}
}

// TestConfirmAndInformationRequest: Confirm says whether the client's
// addresses are on the link (section 18.3.3); Information-Request gets
// the DNS servers and no IA (section 18.3.6).
func TestConfirmAndInformationRequest(t *testing.T) {
	s := NewServer("lns1")
	with := func(a string) dhcpv6.Modifier {
		return func(m dhcpv6.DHCPv6) {
			ia := &dhcpv6.OptIANA{IaId: iaid}
			ia.Options.Add(&dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(a)})
			m.AddOption(ia)
		}
	}
	for addr, want := range map[string]iana.StatusCode{"2001:db8:1:2::7": iana.StatusSuccess, "2001:db8:9::1": iana.StatusNotOnLink} {
		b, _, err := s.Handle(msg(t, dhcpv6.MessageTypeConfirm, with(addr)), binding)
		if err != nil {
			t.Fatal(err)
		}
		if st := parse(t, b).Options.Status(); st == nil || st.StatusCode != want {
			t.Errorf("Confirm %s: %v, want %v", addr, st, want)
		}
	}
	if _, o, _ := s.Handle(msg(t, dhcpv6.MessageTypeConfirm), binding); o != Discarded {
		t.Errorf("Confirm without addresses: %v, want Discarded", o)
	}
	b, _, err := s.Handle(msg(t, dhcpv6.MessageTypeInformationRequest), binding)
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, b)
	if len(r.Options.DNS()) != 1 || r.Options.OneIANA() != nil || r.Options.OneIAPD() != nil {
		t.Errorf("Information-Request reply %v", r)
	}
}

// TestDiscarded: what a server must not answer (RFC 8415 section 16).
func TestDiscarded(t *testing.T) {
	s := NewServer("lns1")
	noCID, _ := dhcpv6.NewMessage()
	noCID.MessageType = dhcpv6.MessageTypeSolicit
	relay := &dhcpv6.RelayMessage{MessageType: dhcpv6.MessageTypeRelayForward, LinkAddr: net.IPv6zero, PeerAddr: net.IPv6zero}
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"a Solicit without a Client Identifier", noCID.ToBytes(), ErrNoClientID},
		{"a Solicit with a Server Identifier", msg(t, dhcpv6.MessageTypeSolicit, dhcpv6.WithServerID(s.DUID())), ErrNotForUs},
		{"a Renew without a Server Identifier", msg(t, dhcpv6.MessageTypeRenew), ErrNotForUs},
		{"an Advertise from the subscriber", msg(t, dhcpv6.MessageTypeAdvertise), ErrUnexpected},
		{"a Reconfigure from the subscriber", msg(t, dhcpv6.MessageTypeReconfigure), ErrUnexpected},
		{"a Relay-Forward", relay.ToBytes(), ErrUnexpected},
		{"a truncated message", []byte{1, 2}, ErrMalformed},
		{"an option running past the end", []byte{1, 0, 0, 1, 0, 1, 0, 50, 0, 3}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, o, err := s.Handle(tc.b, binding)
			if b != nil || o != Discarded || !errors.Is(err, tc.err) {
				t.Errorf("Handle = %v, %v, %v; want silence with %v", b != nil, o, err, tc.err)
			}
		})
	}
}

// TestServerDUIDStable: the DUID is the same for a node across restarts
// and differs between nodes (RFC 8415 section 11).
func TestServerDUIDStable(t *testing.T) {
	a, b, c := NewServer("lns1").DUID(), NewServer("lns1").DUID(), NewServer("lns2").DUID()
	if !a.Equal(b) || a.Equal(c) {
		t.Errorf("DUIDs %v %v %v", a, b, c)
	}
}

func FuzzHandle(f *testing.F) {
	s := NewServer("lns1")
	for _, typ := range []dhcpv6.MessageType{dhcpv6.MessageTypeSolicit, dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeConfirm} {
		m, _ := dhcpv6.NewMessage(dhcpv6.WithClientID(clientDUID), dhcpv6.WithServerID(s.DUID()), withIAs)
		m.MessageType = typ
		f.Add(m.ToBytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		reply, o, err := s.Handle(b, binding)
		if (reply == nil) != (o == Discarded) || (err != nil) != (o == Discarded) {
			t.Fatalf("reply %v, outcome %v, err %v", reply != nil, o, err)
		}
		if reply != nil {
			if _, err := dhcpv6.MessageFromBytes(reply); err != nil {
				t.Fatalf("a reply that does not parse: %v", err)
			}
		}
	})
}

// TestServePacket: a Solicit in IPv6/UDP from the subscriber's link-local
// address to ff02::1:2 port 547 gets its answer from the LNS's link-local
// address, port 547, to the client's address and port, with a right UDP
// checksum; a datagram with a wrong checksum gets nothing.
func TestServePacket(t *testing.T) {
	s := NewServer("lns1")
	lnsLL, subLL := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::211:22ff:fe33:4455")
	req := udpPacket(subLL, AllServers, ClientPort, ServerPort, msg(t, dhcpv6.MessageTypeSolicit, withIAs, dhcpv6.WithRapidCommit))
	if !IsRequest(req, lnsLL) {
		t.Fatal("IsRequest = false for a Solicit to ff02::1:2")
	}
	rep, o, err := s.ServePacket(req, lnsLL, binding)
	if err != nil || o != Bound || rep == nil {
		t.Fatalf("ServePacket: %v %v", o, err)
	}
	if got := netip.AddrFrom16([16]byte(rep[8:24])); got != lnsLL {
		t.Errorf("reply from %v", got)
	}
	if got := netip.AddrFrom16([16]byte(rep[24:40])); got != subLL {
		t.Errorf("reply to %v", got)
	}
	u := rep[40:]
	if sp, dp := int(u[0])<<8|int(u[1]), int(u[2])<<8|int(u[3]); sp != ServerPort || dp != ClientPort {
		t.Errorf("ports %d → %d", sp, dp)
	}
	if udpChecksum(lnsLL, subLL, u) != 0 {
		t.Error("reply UDP checksum wrong")
	}
	checkBinding(t, parse(t, u[8:]))

	req[len(req)-1] ^= 0xff
	if rep, o, err := s.ServePacket(req, lnsLL, binding); rep != nil || o != Discarded || !errors.Is(err, ErrMalformed) {
		t.Errorf("bad checksum: %v %v %v", rep != nil, o, err)
	}
	udp := udpPacket(subLL, AllServers, ClientPort, 53, []byte{1})
	if IsRequest(udp, lnsLL) {
		t.Error("IsRequest = true for UDP to port 53")
	}
}
