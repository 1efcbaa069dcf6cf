package lns_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/api"
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
	l.upstream6(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")
	sub := lac.place(&simSub{user: "dual", password: "dual-pw", ipv6: true}, "02:00:00:00:00:61")
	waitUp(t, sub)
	local := waitUp6(t, sub)

	// Router discovery.
	ra := routerAdvertisement(t, sub, local)
	var gotPrefix, gotDNS bool
	for _, o := range ra.Options {
		switch o := o.(type) {
		case *ndp.PrefixInformation:
			gotPrefix = netip.PrefixFrom(o.Prefix, int(o.PrefixLength)) == dualLink && o.AutonomousAddressConfiguration
		case *ndp.RecursiveDNSServer:
			gotDNS = len(o.Servers) == 1 && o.Servers[0] == netip.MustParseAddr("2001:db8::53")
		}
	}
	if !gotPrefix || !gotDNS {
		t.Errorf("RA options %v: want the /64 for SLAAC and the DNS server", ra.Options)
	}

	// Prefix delegation.
	if pd := delegatedPrefix(t, sub, local, 0x61); pd != dualDeleg {
		t.Fatalf("DHCPv6 delegated %v, want %v", pd, dualDeleg)
	}

	// Traffic both ways from the /64 and from the delegated prefix.
	for i, from := range []netip.Addr{netip.MustParseAddr("2001:db8:1001:1::5"), netip.MustParseAddr("2001:db8:1002:1ab::1")} {
		if !echoed6(t, sub, from, byte(i)) {
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
	// ... and the interface identifier IPV6CP settled: the low 64 bits
	// of the subscriber's link-local address (RFC 5072 section 5).
	ll := local.local.As16()
	wantIID := fmt.Sprintf("%x:%x:%x:%x", uint16(ll[8])<<8|uint16(ll[9]), uint16(ll[10])<<8|uint16(ll[11]),
		uint16(ll[12])<<8|uint16(ll[13]), uint16(ll[14])<<8|uint16(ll[15]))
	if iid := l.query(t, `SELECT COALESCE(framedinterfaceid, '') FROM radacct WHERE username = 'dual'`); iid != wantIID {
		t.Errorf("radacct framedinterfaceid %q, want %q (of %v)", iid, wantIID, local.local)
	}

	// The API shows both prefixes.
	if body := l.httpGet(t, "/api/v1/sessions", "tok"); !strings.Contains(body, `"ipv6_prefix":"`+dualLink.String()+`"`) ||
		!strings.Contains(body, `"delegated_prefix":"`+dualDeleg.String()+`"`) {
		t.Errorf("the API's sessions do not show the IPv6 prefixes:\n%s", body)
	}
	// ... and the IPv6 share of its traffic: the echoes above, at least.
	var sessions []struct {
		User       string `json:"user"`
		In6Octets  uint64 `json:"in6_octets"`
		Out6Octets uint64 `json:"out6_octets"`
		InOctets   uint64 `json:"in_octets"`
	}
	_, body, _ := strings.Cut(l.httpGet(t, "/api/v1/sessions", "tok"), "\r\n\r\n")
	if err := json.Unmarshal([]byte(body), &sessions); err != nil {
		t.Fatalf("%v:\n%s", err, body)
	}
	for _, s := range sessions {
		if s.User == "dual" && (s.In6Octets == 0 || s.Out6Octets == 0 || s.In6Octets > s.InOctets) {
			t.Errorf("the API's IPv6 counters of dual: %+v; want the echoes counted, within the totals", s)
		}
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

// upstream6 numbers the LNS's upstream link with IPv6, routes the
// subscribers' 2001:db8:1000::/36 to the LNS and runs a UDP echo server
// on echo6Addr.
func (l *lab) upstream6(t *testing.T) {
	t.Helper()
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
}

// link6 is the two ends of a session's IPv6 link: the subscriber's
// link-local address and the LNS's.
type link6 struct{ local, peer netip.Addr }

// waitUp6 waits for the subscriber's IPV6CP to open.
func waitUp6(t *testing.T, s *simSub) link6 {
	t.Helper()
	select {
	case n := <-s.up6:
		return link6{n.Local.LinkLocal(), n.Peer.LinkLocal()}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no IPV6CP in 20 s", s.user)
	}
	return link6{}
}

// routerAdvertisement sends a Router Solicitation and returns the Router
// Advertisement that answers it (RFC 4861 section 6.2.6), checked to come
// from the LNS's link-local address with hop limit 255.
func routerAdvertisement(t *testing.T, s *simSub, l link6) *ndp.RouterAdvertisement {
	t.Helper()
	rs, err := ndp.MarshalMessageChecksum(&ndp.RouterSolicitation{}, l.local, netip.MustParseAddr("ff02::2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.sendIP6(ipv6Packet(l.local, netip.MustParseAddr("ff02::2"), 58, 255, rs, -1)); err != nil {
		t.Fatal(err)
	}
	p := waitIP6(t, s, "Router Advertisement", func(p []byte) bool { return len(p) > 40 && p[6] == 58 && p[40] == 134 })
	if src := netip.AddrFrom16([16]byte(p[8:24])); src != l.peer || p[7] != 255 {
		t.Errorf("RA from %v hop limit %d, want from the LNS's link-local %v with 255", src, p[7], l.peer)
	}
	m, err := ndp.ParseMessage(p[40:])
	if err != nil {
		t.Fatal(err)
	}
	return m.(*ndp.RouterAdvertisement)
}

// advertisedPrefix is the prefix an RA offers for SLAAC.
func advertisedPrefix(ra *ndp.RouterAdvertisement) netip.Prefix {
	for _, o := range ra.Options {
		if o, ok := o.(*ndp.PrefixInformation); ok && o.AutonomousAddressConfiguration {
			return netip.PrefixFrom(o.Prefix, int(o.PrefixLength))
		}
	}
	return netip.Prefix{}
}

// delegatedPrefix asks for a prefix with a DHCPv6 Solicit with Rapid
// Commit and IA_PD (RFC 8415 sections 18.2.1 and 21.21) and returns the
// one the Reply delegates.
func delegatedPrefix(t *testing.T, s *simSub, l link6, mac byte) netip.Prefix {
	t.Helper()
	sol, err := dhcpv6.NewMessage(dhcpv6.WithClientID(&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, mac}}),
		dhcpv6.WithIAPD([4]byte{0, 0, 0, 1}), dhcpv6.WithRapidCommit)
	if err != nil {
		t.Fatal(err)
	}
	sol.MessageType = dhcpv6.MessageTypeSolicit
	if err := s.sendIP6(udp6(netip.AddrPortFrom(l.local, 546), netip.MustParseAddrPort("[ff02::1:2]:547"), sol.ToBytes())); err != nil {
		t.Fatal(err)
	}
	rep := waitIP6(t, s, "DHCPv6 Reply", func(p []byte) bool { return len(p) > 48 && p[6] == 17 && binary.BigEndian.Uint16(p[42:44]) == 546 })
	reply, err := dhcpv6.MessageFromBytes(rep[48:])
	if err != nil {
		t.Fatal(err)
	}
	pd := reply.Options.OneIAPD()
	if reply.MessageType != dhcpv6.MessageTypeReply || pd == nil || len(pd.Options.Prefixes()) != 1 {
		t.Fatalf("%s: DHCPv6 answer %v: want a Reply delegating one prefix", s.user, reply)
	}
	p, ok := netip.AddrFromSlice(pd.Options.Prefixes()[0].Prefix.IP)
	if !ok {
		t.Fatalf("%s: delegated prefix %v", s.user, pd.Options.Prefixes()[0].Prefix)
	}
	bits, _ := pd.Options.Prefixes()[0].Prefix.Mask.Size()
	return netip.PrefixFrom(p, bits)
}

// echoed6 sends a datagram from from to the upstream echo server, up to
// five times, and reports whether its echo came back.
func echoed6(t *testing.T, s *simSub, from netip.Addr, tag byte) bool {
	t.Helper()
	msg := []byte{'v', '6', '0' + tag}
	for try := 0; try < 5; try++ {
		if err := s.sendIP6(udp6(netip.AddrPortFrom(from, 40000), echo6Addr, msg)); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(time.Second)
		for waiting := true; waiting; {
			select {
			case p := <-s.ip6:
				if len(p) >= 48 && netip.AddrFrom16([16]byte(p[24:40])) == from && string(p[48:]) == string(msg) {
					return true
				}
			case <-deadline:
				waiting = false
			}
		}
	}
	return false
}

// pools6Conf are the IPv6 pools of TestLNSIPv6Pools, inside the
// 2001:db8:1000::/36 that upstream routes to the LNS: the defaults hand
// out /64s of a /56 and /56s of a /48; link-one and pd-one hold one
// prefix each.
const pools6Conf = `
[pool6 "link"]
prefix = 2001:db8:1100::/56
length = 64
[pool6 "pd"]
prefix = 2001:db8:1200::/48
length = 56
[pool6 "link-one"]
prefix = 2001:db8:1400::/64
length = 64
[pool6 "pd-one"]
prefix = 2001:db8:1300::/56
length = 56
[ppp]
default-ipv6-pool = link
default-delegated-pool = pd
`

// TestLNSIPv6Pools: dual-stack subscribers whose Access-Accept (from
// FreeRADIUS) names IPv6 pools (Framed-IPv6-Pool, RFC 3162 section 2.6;
// Delegated-IPv6-Prefix-Pool, RFC 6911 section 3.4), or names none and
// gets the LNS's defaults, learn their /64 from the Router Advertisement
// and their delegated prefix from DHCPv6, send traffic from both, and
// have them in accounting. A subscriber whose pools are exhausted comes
// up with IPv4 only (IPV6CP refused), counted in
// bras_pool_exhausted_total; once the holder hangs up, its prefixes go to
// the next subscriber.
func TestLNSIPv6Pools(t *testing.T) {
	named := []testenv.RadiusAttr{{Name: "Framed-IPv6-Pool", Value: "link-one"}, {Name: "Delegated-IPv6-Prefix-Pool", Value: "pd-one"}}
	users := []testenv.RadiusUser{
		{Name: "named6", Password: "pw", Reply: named},
		{Name: "default6", Password: "pw"},
		{Name: "late6", Password: "pw", Reply: named},
		{Name: "next6", Password: "pw", Reply: named},
		{Name: "v4only", Password: "pw", Reply: named},
		{Name: "after6", Password: "pw", Reply: named},
	}
	l := startLabDBWith(t, users, pools6Conf)
	l.upstream6(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")

	// up brings a subscriber up dual-stack and checks the prefixes it
	// learns and the traffic from them.
	up := func(user string, mac byte, link, deleg netip.Prefix) *simSub {
		t.Helper()
		s := lac.place(&simSub{user: user, password: "pw", ipv6: true}, fmt.Sprintf("02:00:00:00:00:%02x", mac))
		waitUp(t, s)
		l6 := waitUp6(t, s)
		if got := advertisedPrefix(routerAdvertisement(t, s, l6)); got != link {
			t.Errorf("%s: the RA advertises %v, want %v", user, got, link)
		}
		if got := delegatedPrefix(t, s, l6, mac); got != deleg {
			t.Errorf("%s: DHCPv6 delegates %v, want %v", user, got, deleg)
		}
		for i, from := range []netip.Addr{link.Addr().Next(), deleg.Addr().Next()} {
			if !echoed6(t, s, from, byte(i)) {
				t.Errorf("%s: no echo from upstream for a packet from %v", user, from)
			}
		}
		return s
	}
	namedSub := up("named6", 0x71, netip.MustParsePrefix("2001:db8:1400::/64"), netip.MustParsePrefix("2001:db8:1300::/56"))
	up("default6", 0x72, netip.MustParsePrefix("2001:db8:1100::/64"), netip.MustParsePrefix("2001:db8:1200::/56"))

	// Both named pools are held: IPv4 only.
	late := lac.place(&simSub{user: "late6", password: "pw", ipv6: true}, "02:00:00:00:00:73")
	n := waitUp(t, late)
	ping(t, late, n.Local, 0)
	select {
	case <-late.up6:
		t.Error("late6's IPV6CP opened with its pools exhausted")
	case <-time.After(3 * time.Second):
	}
	metrics := l.httpGet(t, "/metrics", "")
	for _, want := range []string{`bras_pool_exhausted_total{family="ipv6",pool="link-one"} 1`, `bras_pool_exhausted_total{family="ipv6",pool="pd-one"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Accounting has the pooled prefixes.
	deadline := time.Now().Add(10 * time.Second)
	var row string
	for row == "" && time.Now().Before(deadline) {
		row = l.query(t, `SELECT framedipv6prefix::text || ' ' || delegatedipv6prefix::text FROM radacct WHERE username = 'named6'`)
		time.Sleep(100 * time.Millisecond)
	}
	if want := "2001:db8:1400::/64 2001:db8:1300::/56"; row != want {
		t.Errorf("radacct of named6: %q, want %q", row, want)
	}

	// named6 hangs up: its prefixes go to the next subscriber.
	lac.in <- simInput{sub: namedSub, close: true}
	waitCDN(t, namedSub, 10*time.Second)
	l.waitStop(t, "named6", "User-Request")
	next := up("next6", 0x74, netip.MustParsePrefix("2001:db8:1400::/64"), netip.MustParsePrefix("2001:db8:1300::/56"))

	// A subscriber without IPv6 takes the pools' only prefixes at
	// authentication, then Protocol-Rejects IPV6CP: the LNS gives them
	// back while the session stays up on IPv4, and the next dual-stack
	// subscriber gets them.
	lac.in <- simInput{sub: next, close: true}
	waitCDN(t, next, 10*time.Second)
	l.waitStop(t, "next6", "User-Request")
	v4 := lac.place(&simSub{user: "v4only", password: "pw"}, "02:00:00:00:00:75")
	n4 := waitUp(t, v4)
	ping(t, v4, n4.Local, 0)
	used := func() map[string]int {
		var pools []api.Pool
		resp := l.httpGet(t, "/api/v1/pools", "tok")
		_, body, _ := strings.Cut(resp, "\r\n\r\n")
		if err := json.Unmarshal([]byte(body), &pools); err != nil {
			t.Fatalf("GET /api/v1/pools: %v\n%s", err, resp)
		}
		m := map[string]int{}
		for _, p := range pools {
			m[p.Name] = p.Used
		}
		return m
	}
	deadline = time.Now().Add(10 * time.Second)
	for u := used(); u["link-one"]+u["pd-one"] != 0; u = used() {
		if time.Now().After(deadline) {
			t.Fatalf("pools in use with v4only up on IPv4 alone: %v, want link-one and pd-one free", u)
		}
		time.Sleep(100 * time.Millisecond)
	}
	up("after6", 0x76, netip.MustParsePrefix("2001:db8:1400::/64"), netip.MustParsePrefix("2001:db8:1300::/56"))
	ping(t, v4, n4.Local, 1)
}
