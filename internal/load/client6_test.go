package load

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/dhcp6"
	"github.com/bras-project/bras/internal/ra"
	"github.com/bras-project/bras/ppp"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/mdlayher/ndp"
)

var (
	c6Link  = netip.MustParsePrefix("2001:db8:1:7::/64")
	c6Deleg = netip.MustParsePrefix("2001:db8:4000:700::/56")
	c6Info  = ppp.IPv6Info{Local: ppp.InterfaceID{0, 0, 0, 0, 0, 0, 0, 7}, Peer: ppp.InterfaceID{0, 0, 0, 0, 0, 0, 0, 1}}
	c6MAC   = net.HardwareAddr{0x02, 0, 0, 0, 0, 7}
)

// lns6 plays the LNS's side of the link in process: its Router
// Advertisement (internal/ra) and its DHCPv6 server (internal/dhcp6), as
// lns/session6.go drives them.
type lns6 struct {
	t   testing.TB
	srv *dhcp6.Server
	b   dhcp6.Binding
	// Router Solicitations and DHCPv6 requests it saw.
	rs, dhcp int
}

func newLNS6(t testing.TB, rapid bool) *lns6 {
	s := dhcp6.NewServer("load-test")
	s.RapidCommit = rapid
	return &lns6{t: t, srv: s, b: dhcp6.Binding{Delegated: c6Deleg}}
}

func (l *lns6) local() netip.Addr { return c6Info.Peer.LinkLocal() }

func (l *lns6) advertisement() []byte {
	l.t.Helper()
	pkt, err := ra.Advertisement(l.local(), ra.AllNodes, ra.Config{Prefixes: []netip.Prefix{c6Link}, Other: true, MTU: 1492})
	if err != nil {
		l.t.Fatal(err)
	}
	return pkt
}

// serve answers the client's packets: RAs for its solicitations, DHCPv6
// answers for its requests.
func (l *lns6) serve(pkts [][]byte) [][]byte {
	l.t.Helper()
	var out [][]byte
	for _, p := range pkts {
		if k, err := ra.Classify(p); k == ra.Solicitation {
			l.rs++
			out = append(out, l.advertisement())
			continue
		} else if k == ra.Invalid {
			l.t.Fatalf("the LNS finds the client's packet invalid: %v\n%x", err, p)
		}
		if !dhcp6.IsRequest(p, l.local()) {
			l.t.Fatalf("the LNS would neither answer nor forward %x", p)
		}
		l.dhcp++
		reply, _, err := l.srv.ServePacket(p, l.local(), l.b)
		if reply == nil {
			l.t.Fatalf("DHCPv6 server: %v", err)
		}
		out = append(out, reply)
	}
	return out
}

// exchange runs the client against the LNS until nothing more is sent.
func exchange(t *testing.T, c *client6, l *lns6, first [][]byte, now time.Time) {
	t.Helper()
	pending := first
	for round := 0; len(pending) > 0; round++ {
		if round > 10 {
			t.Fatal("the exchange does not end")
		}
		var next [][]byte
		for _, p := range l.serve(pending) {
			if !isClient6(p) {
				t.Fatalf("an answer of the LNS is not for the client: %x", p)
			}
			next = append(next, c.input(p, now)...)
		}
		pending = next
	}
}

func TestClient6(t *testing.T) {
	for _, tt := range []struct {
		name      string
		rapid, na bool
		address   netip.Addr
		dhcp      int // DHCPv6 messages the client sends
	}{
		{name: "rapid commit", rapid: true, dhcp: 1},
		{name: "four messages", rapid: false, dhcp: 2},
		{name: "rapid commit with IA_NA", rapid: true, na: true, address: netip.MustParseAddr("2001:db8:1:7::77"), dhcp: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			l := newLNS6(t, tt.rapid)
			l.b.Address = tt.address
			c := newClient6(c6MAC, tt.na)
			first := c.start(c6Info, now)
			if len(first) != 2 {
				t.Fatalf("start sent %d packets, want a Router Solicitation and a Solicit", len(first))
			}
			exchange(t, c, l, first, now)
			if !c.ready() || c.ignored != 0 {
				t.Fatalf("not ready (%d ignored): %+v", c.ignored, c)
			}
			if want := netip.MustParseAddr("2001:db8:1:7::7"); c.slaac != want || c.prefix != c6Link {
				t.Errorf("SLAAC %v in %v, want %v in %v (prefix + interface identifier)", c.slaac, c.prefix, want, c6Link)
			}
			if c.delegated != c6Deleg || c.address != tt.address {
				t.Errorf("delegated %v address %v, want %v and %v", c.delegated, c.address, c6Deleg, tt.address)
			}
			if l.rs != 1 || l.dhcp != tt.dhcp {
				t.Errorf("the LNS saw %d solicitations and %d DHCPv6 messages, want 1 and %d", l.rs, l.dhcp, tt.dhcp)
			}
			if !c.next().IsZero() {
				t.Errorf("retransmission pending at %v once done", c.next())
			}
		})
	}
}

// TestClient6Retransmit: unanswered solicitations and Solicits are sent
// again, each interval doubling up to the cap; an RA stops the
// solicitations only.
func TestClient6Retransmit(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newClient6(c6MAC, false)
	first := c.start(c6Info, now)
	sol := first[1]
	var gaps []time.Duration
	last := now
	for i := 0; i < 5; i++ {
		at := c.next()
		gaps = append(gaps, at.Sub(last))
		last = at
		out := c.tick(at)
		if len(out) != 2 {
			t.Fatalf("tick %d sent %d packets, want both again", i, len(out))
		}
		if string(out[1]) != string(sol) {
			t.Errorf("retransmitted Solicit differs (RFC 8415 section 15: same transaction)")
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if gaps[i] != want[i] {
			t.Fatalf("retransmission gaps %v, want %v", gaps, want)
		}
	}
	l := newLNS6(t, true)
	c.input(l.advertisement(), last)
	out := c.tick(c.next())
	if len(out) != 1 || !dhcp6.IsRequest(out[0], netip.Addr{}) {
		t.Errorf("after the RA a tick sent %d packets, want the Solicit only", len(out))
	}
}

// TestClient6Ignores: what a client must not take is counted and leaves
// it where it was.
func TestClient6Ignores(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLNS6(t, true)
	good := l.advertisement()
	mod := func(b []byte, f func([]byte)) []byte { b = append([]byte(nil), b...); f(b); return b }

	other := newClient6(net.HardwareAddr{0x02, 0, 0, 0, 0, 8}, false)
	oFirst := other.start(ppp.IPv6Info{Local: ppp.InterfaceID{7: 8}, Peer: c6Info.Peer}, now)
	foreign := l.serve(oFirst[1:])[0] // another client's Reply, to its link-local

	otherXID := newClient6(c6MAC, false)
	otherXID.xid = dhcpv6.TransactionID{1, 2, 3}
	xFirst := otherXID.start(c6Info, now)
	lateReply := l.serve(xFirst[1:])[0]

	noPrefix, err := ra.Advertisement(l.local(), ra.AllNodes, ra.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		pkt     []byte
		ignored uint64
	}{
		{"RA with hop limit 64", mod(good, func(b []byte) { b[7] = 64 }), 1},
		{"RA with a bad checksum", mod(good, func(b []byte) { b[len(b)-1] ^= 1 }), 1},
		{"RA from a global address", mod(good, func(b []byte) { b[8] = 0x20 }), 1},
		{"RA from another link-local address", mod(good, func(b []byte) { b[23] ^= 0x10 }), 1},
		{"RA without a prefix", noPrefix, 1},
		{"truncated", good[:30], 1},
		{"payload length past the end", mod(good, func(b []byte) { b[5]++ }), 1},
		{"Reply for another client", foreign, 1},
		{"Reply of another transaction", lateReply, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient6(c6MAC, false)
			c.start(c6Info, now)
			if out := c.input(tt.pkt, now); len(out) != 0 {
				t.Errorf("answered with %d packets", len(out))
			}
			if c.ignored != tt.ignored || c.slaac.IsValid() || c.delegated.IsValid() {
				t.Errorf("ignored %d (want %d), SLAAC %v, delegated %v", c.ignored, tt.ignored, c.slaac, c.delegated)
			}
		})
	}
}

func TestPhaseStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{v6Wait.String(), "wait-ipv6cp"}, {v6Ready.String(), "ready"}, {v6Phase(9).String(), "v6Phase(9)"},
		{dhcpRequesting.String(), "requesting"}, {dhcpPhase(7).String(), "dhcpPhase(7)"},
	} {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

func TestIsClient6(t *testing.T) {
	l := newLNS6(t, true)
	c := newClient6(c6MAC, false)
	first := c.start(c6Info, time.Unix(1000, 0))
	reply := l.serve(first[1:])[0]
	probe, err := UDP{Src: netip.MustParseAddrPort("[2001:db8:ff::2]:9000"), Dst: netip.MustParseAddrPort("[2001:db8:1:7::7]:20000"), Payload: goldenProbe}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := first[0]
	for _, tt := range []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"RA", l.advertisement(), true},
		{"DHCPv6 Reply", reply, true},
		{"probe echo", probe, false},
		{"RS", rs, false},
		{"IPv4", goldenUDP, false},
		{"short", reply[:43], false},
	} {
		if got := isClient6(tt.pkt); got != tt.want {
			t.Errorf("%s: isClient6 = %v, want %v", tt.name, got, tt.want)
		}
	}
	// The solicitation the client sends is what ndp reads as one.
	m, err := ndp.ParseMessage(rs[40:])
	if _, ok := m.(*ndp.RouterSolicitation); err != nil || !ok {
		t.Errorf("RS body: %T, %v", m, err)
	}
}

// FuzzClient6Input: whatever the link delivers, the client neither
// panics nor becomes ready without a valid RA and a valid Reply.
func FuzzClient6Input(f *testing.F) {
	now := time.Unix(1000, 0)
	l := newLNS6(f, true)
	c := newClient6(c6MAC, false)
	first := c.start(c6Info, now)
	f.Add(l.advertisement())
	for _, p := range l.serve(first[1:]) {
		f.Add(p)
	}
	l.srv.RapidCommit = false
	for _, p := range l.serve(first[1:]) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newClient6(c6MAC, true)
		c.start(c6Info, now)
		for _, p := range c.input(b, now) {
			if _, err := ParseIPv6(p); err != nil {
				t.Fatalf("the client sent an undecodable packet %x: %v", p, err)
			}
		}
		if c.ready() {
			t.Fatalf("ready from one packet %x", b)
		}
	})
}
