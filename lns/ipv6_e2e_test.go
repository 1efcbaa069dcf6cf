package lns_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/mdlayher/ndp"
)

var (
	echo6Addr = netip.MustParseAddrPort("[2001:db8:20::2]:7777")
	dualLink  = netip.MustParsePrefix("2001:db8:1001:1::/64")
	dualDeleg = netip.MustParsePrefix("2001:db8:1002:100::/56")
)

// ipv6Packet is an IPv6 packet (RFC 8200) from src to dst with hop limit
// hl carrying a payload of protocol next; a UDP or ICMPv6 checksum field
// at csum (-1: none) is filled in over the pseudo-header.
func ipv6Packet(src, dst netip.Addr, next, hl uint8, payload []byte, csum int) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(len(payload)))
	b[6], b[7] = next, hl
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	b = append(b, payload...)
	if csum >= 0 {
		p := b[40:]
		p[csum], p[csum+1] = 0, 0
		var sum uint32
		add := func(x []byte) {
			for i := 0; i+1 < len(x); i += 2 {
				sum += uint32(binary.BigEndian.Uint16(x[i:]))
			}
			if len(x)%2 == 1 {
				sum += uint32(x[len(x)-1]) << 8
			}
		}
		add(b[8:40])
		sum += uint32(len(p)) + uint32(next)
		add(p)
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		binary.BigEndian.PutUint16(p[csum:], ^uint16(sum))
	}
	return b
}

// udp6 is an IPv6/UDP packet with its (mandatory) checksum.
func udp6(src, dst netip.AddrPort, payload []byte) []byte {
	u := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:2], src.Port())
	binary.BigEndian.PutUint16(u[2:4], dst.Port())
	binary.BigEndian.PutUint16(u[4:6], uint16(8+len(payload)))
	return ipv6Packet(src.Addr(), dst.Addr(), 17, 64, append(u, payload...), 6)
}

func (s *simSub) sendIP6(pkt []byte) error { return s.Send(append([]byte{0x00, 0x57}, pkt...)) }

// waitIP6 returns the next IPv6 packet from the LNS for which keep holds.
func waitIP6(t *testing.T, s *simSub, what string, keep func([]byte) bool) []byte {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p := <-s.ip6:
			if keep(p) {
				return p
			}
		case <-deadline:
			t.Fatalf("%s: no %s in 10 s", s.user, what)
			return nil
		}
	}
}

// TestLNSDualStack: a subscriber whose Access-Accept from FreeRADIUS
// carries Framed-IPv6-Prefix, Delegated-IPv6-Prefix and
// DNS-Server-IPv6-Address comes up with IPv4 and IPv6 in one session:
// IPV6CP opens (RFC 5072), a Router Solicitation gets a Router
// Advertisement with the /64 and the DNS server (RFC 4861, RFC 8106), a
// DHCPv6 Solicit with Rapid Commit gets the delegated prefix (RFC 8415),
// traffic from the /64 and from the delegated prefix reaches the upstream
// host and its answers come back, a spoofed source does not pass, and the
// accounting (FreeRADIUS's detail file and PostgreSQL's radacct) records
// the prefixes the subscriber got, and a Disconnect-Request naming the
// delegated prefix ends the session.
func TestLNSDualStack(t *testing.T) {
	users := []testenv.RadiusUser{{Name: "dual", Password: "dual-pw", Reply: []testenv.RadiusAttr{
		{Name: "Framed-IPv6-Prefix", Value: dualLink.String()},
		{Name: "Delegated-IPv6-Prefix", Value: dualDeleg.String()},
		{Name: "DNS-Server-IPv6-Address", Value: "2001:db8::53"},
	}}}
	l := startLabDB(t, users)
	for _, c := range [][]string{
		{"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"},
		{"ip", "-6", "addr", "add", "2001:db8:20::1/64", "dev", "eth1", "nodad"},
	} {
		l.lns.MustRun(t, c[0], c[1:]...)
	}
	l.up.MustRun(t, "ip", "-6", "addr", "add", "2001:db8:20::2/64", "dev", "eth0", "nodad")
	l.up.MustRun(t, "ip", "-6", "route", "add", "2001:db8:1000::/36", "via", "2001:db8:20::1")
	var echo *net.UDPConn
	if err := l.up.Do(func() (err error) {
		echo, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(echo6Addr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")
	sub := lac.place(&simSub{user: "dual", password: "dual-pw", ipv6: true}, "02:00:00:00:00:61")
	waitUp(t, sub)
	var info struct{ local, peer netip.Addr }
	select {
	case n := <-sub.up6:
		info.local, info.peer = n.Local.LinkLocal(), n.Peer.LinkLocal()
	case <-time.After(20 * time.Second):
		t.Fatal("no IPV6CP in 20 s")
	}

	// Router discovery.
	rs, err := ndp.MarshalMessageChecksum(&ndp.RouterSolicitation{}, info.local, netip.MustParseAddr("ff02::2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.sendIP6(ipv6Packet(info.local, netip.MustParseAddr("ff02::2"), 58, 255, rs, -1)); err != nil {
		t.Fatal(err)
	}
	raPkt := waitIP6(t, sub, "Router Advertisement", func(p []byte) bool { return len(p) > 40 && p[6] == 58 && p[40] == 134 })
	if src := netip.AddrFrom16([16]byte(raPkt[8:24])); src != info.peer || raPkt[7] != 255 {
		t.Errorf("RA from %v hop limit %d, want from the LNS's link-local %v with 255", src, raPkt[7], info.peer)
	}
	m, err := ndp.ParseMessage(raPkt[40:])
	if err != nil {
		t.Fatal(err)
	}
	var gotPrefix, gotDNS bool
	for _, o := range m.(*ndp.RouterAdvertisement).Options {
		switch o := o.(type) {
		case *ndp.PrefixInformation:
			gotPrefix = netip.PrefixFrom(o.Prefix, int(o.PrefixLength)) == dualLink && o.AutonomousAddressConfiguration
		case *ndp.RecursiveDNSServer:
			gotDNS = len(o.Servers) == 1 && o.Servers[0] == netip.MustParseAddr("2001:db8::53")
		}
	}
	if !gotPrefix || !gotDNS {
		t.Errorf("RA options %v: want the /64 for SLAAC and the DNS server", m.(*ndp.RouterAdvertisement).Options)
	}

	// Prefix delegation.
	sol, err := dhcpv6.NewMessage(dhcpv6.WithClientID(&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0x61}}),
		dhcpv6.WithIAPD([4]byte{0, 0, 0, 1}), dhcpv6.WithRapidCommit)
	if err != nil {
		t.Fatal(err)
	}
	sol.MessageType = dhcpv6.MessageTypeSolicit
	if err := sub.sendIP6(udp6(netip.AddrPortFrom(info.local, 546), netip.MustParseAddrPort("[ff02::1:2]:547"), sol.ToBytes())); err != nil {
		t.Fatal(err)
	}
	rep := waitIP6(t, sub, "DHCPv6 Reply", func(p []byte) bool { return len(p) > 48 && p[6] == 17 && binary.BigEndian.Uint16(p[42:44]) == 546 })
	reply, err := dhcpv6.MessageFromBytes(rep[48:])
	if err != nil {
		t.Fatal(err)
	}
	if pd := reply.Options.OneIAPD(); reply.MessageType != dhcpv6.MessageTypeReply || pd == nil || len(pd.Options.Prefixes()) != 1 ||
		pd.Options.Prefixes()[0].Prefix.String() != dualDeleg.String() {
		t.Fatalf("DHCPv6 answer %v: want a Reply delegating %v", reply, dualDeleg)
	}

	// Traffic both ways from the /64 and from the delegated prefix.
	for i, from := range []netip.Addr{netip.MustParseAddr("2001:db8:1001:1::5"), netip.MustParseAddr("2001:db8:1002:1ab::1")} {
		msg := []byte{'v', '6', byte('0' + i)}
		var got []byte
		for try := 0; try < 5 && got == nil; try++ {
			if err := sub.sendIP6(udp6(netip.AddrPortFrom(from, 40000), echo6Addr, msg)); err != nil {
				t.Fatal(err)
			}
			select {
			case p := <-sub.ip6:
				if len(p) >= 48 && netip.AddrFrom16([16]byte(p[24:40])) == from && string(p[48:]) == string(msg) {
					got = p
				}
			case <-time.After(time.Second):
			}
		}
		if got == nil {
			t.Errorf("no echo from upstream for a packet from %v", from)
		}
	}
	spoofed := netip.MustParseAddr("2001:db8:1003::1")
	sub.sendIP6(udp6(netip.AddrPortFrom(spoofed, 40000), echo6Addr, []byte("spoof")))
	select {
	case p := <-sub.ip6:
		if len(p) >= 40 && netip.AddrFrom16([16]byte(p[24:40])) == spoofed {
			t.Error("a packet from outside the session's prefixes got through and back")
		}
	case <-time.After(500 * time.Millisecond):
	}

	// Accounting: the Start in FreeRADIUS's detail file carries both
	// prefixes (RFC 3162 section 2.3, RFC 4818), and radacct fills
	// FreeRADIUS's columns for them.
	var start string
	deadline := time.Now().Add(10 * time.Second)
	for start == "" && time.Now().Before(deadline) {
		for _, r := range l.radius.AccountingRecords() {
			if r.Get("User-Name") == "dual" && r.Get("Acct-Status-Type") == "Start" {
				start = r.Get("Framed-IPv6-Prefix") + " " + r.Get("Delegated-IPv6-Prefix")
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if want := dualLink.String() + " " + dualDeleg.String(); start != want {
		t.Errorf("the Start's IPv6 prefixes in FreeRADIUS's detail file: %q, want %q", start, want)
	}
	var row string
	for row == "" && time.Now().Before(deadline) {
		row = l.query(t, `SELECT framedipv6prefix::text || ' ' || delegatedipv6prefix::text FROM radacct WHERE username = 'dual'`)
		time.Sleep(100 * time.Millisecond)
	}
	if want := dualLink.String() + " " + dualDeleg.String(); row != want {
		t.Errorf("radacct framedipv6prefix, delegatedipv6prefix: %q, want %q", row, want)
	}

	// The API shows both prefixes.
	if body := l.httpGet(t, "/api/v1/sessions", "tok"); !strings.Contains(body, `"ipv6_prefix":"`+dualLink.String()+`"`) ||
		!strings.Contains(body, `"delegated_prefix":"`+dualDeleg.String()+`"`) {
		t.Errorf("the API's sessions do not show the IPv6 prefixes:\n%s", body)
	}

	// A Disconnect-Request naming the delegated prefix (RFC 5176 section 3)
	// ends the session.
	out := l.lns.MustRun(t, "sh", "-c", "printf 'Delegated-IPv6-Prefix = "+dualDeleg.String()+"\\nEvent-Timestamp = %s\\n' \"$(date +%s)\" | radclient -x 127.0.0.1:3799 disconnect coasecret")
	if !strings.Contains(out, "Disconnect-ACK") {
		t.Fatalf("radclient Disconnect by Delegated-IPv6-Prefix: %s", out)
	}
	select {
	case <-sub.down:
	case <-sub.cdn:
	case <-time.After(10 * time.Second):
		t.Fatal("the session named by its delegated prefix is still up 10 s after the Disconnect-ACK")
	}
}
