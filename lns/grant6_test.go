package lns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/l2tp"
	"github.com/google/go-cmp/cmp"
)

// replies is an authenticator that accepts every user with the reply
// given for its name.
type replies map[string]aaa.AuthReply

func (r replies) Authenticate(_ context.Context, req aaa.AuthRequest) (*aaa.AuthReply, error) {
	rep := r[req.Username]
	rep.Accept = true
	return &rep, nil
}

// grantServer is an LNS with an IPv4 pool "p" of 100.64.0.0/29 (its
// 100.64.0.1 is the LNS's: 5 addresses left) and the IPv6 pools of
// pools6, not running: assign is called directly.
func grantServer(t *testing.T, pools6, ppp6 string, auth aaa.Authenticator) *Server {
	t.Helper()
	conf := "[lns]\nnode = g\n[tun]\naddress = 100.64.0.1/32\n[pool \"p\"]\nrange = 100.64.0.0/29\n" + pools6 +
		"[ppp]\n" + ppp6 + "[lac \"a\"]\nsecret = x\n[local-users]\nfile = /dev/null\n[api]\ntoken = t\n"
	cfg, err := ParseConfig(strings.NewReader(conf), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	srv, err := NewServer(cfg, Deps{Conn: conn, TUN: []TUNQueue{&dpCountTUN{release: make(chan struct{})}}, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func (s *Server) testSession(id string) *session {
	return &session{srv: s, sh: s.shards[0], id: id, call: &l2tp.Session{}, tunnel: &l2tp.Tunnel{}, lac: &s.conf().LACs[0], log: s.log}
}

type got6 struct {
	OK                 bool
	Message            string
	Link, Delegated    string
	Address            string
	NoIPv6             bool
	InUse4             int // with the LNS's own address
	InLink, InPD, InNA int
}

// TestIPv6Selection: RADIUS's explicit prefixes win over the pools, the
// pools it names over the [ppp] defaults; an exhausted IPv6 pool leaves
// the session without that prefix but with its IPv4 (and without any
// IPv6, IPV6CP is refused); an unknown pool refuses the session as an
// unknown IPv4 pool does, and gives back what it had taken.
func TestIPv6Selection(t *testing.T) {
	const pools = `[pool6 "link"]
prefix = 2001:db8:1::/62
length = 64
[pool6 "link2"]
prefix = 2001:db8:2::/64
length = 64
[pool6 "pd"]
prefix = 2001:db8:100::/55
length = 56
[pool6 "pd-one"]
prefix = 2001:db8:200::/56
length = 56
[pool6 "na"]
prefix = 2001:db8:3::/126
length = 128
`
	const defaults = "default-ipv6-pool = link\ndefault-delegated-pool = pd\n"
	users := replies{
		"explicit": {IPv6: aaa.IPv6Grant{Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:9::/64")},
			Delegated: netip.MustParsePrefix("2001:db8:900::/56"), PrefixPool: "link2", DelegatedPool: "pd-one"}},
		"named":    {IPv6: aaa.IPv6Grant{PrefixPool: "link2", DelegatedPool: "pd-one", AddressPool: "na"}},
		"defaults": {},
		"mixed":    {IPv6: aaa.IPv6Grant{Delegated: netip.MustParsePrefix("2001:db8:900::/56")}},
		"unknown":  {IPv6: aaa.IPv6Grant{DelegatedPool: "gold"}},
		"pd-len":   {IPv6: aaa.IPv6Grant{PrefixPool: "pd"}}, // a pool of /56s for the link: not used
		"claim":    {IPv6: aaa.IPv6Grant{Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")}}},
	}
	for _, tt := range []struct {
		name     string
		defaults string
		users    []string // authenticated in order; the last one is checked
		want     got6
	}{
		{"explicit prefixes win", defaults, []string{"explicit"},
			got6{OK: true, Link: "2001:db8:9::/64", Delegated: "2001:db8:900::/56", InUse4: 2}},
		{"the pools RADIUS names", defaults, []string{"named"},
			got6{OK: true, Link: "2001:db8:2::/64", Delegated: "2001:db8:200::/56", Address: "2001:db8:3::1", InUse4: 2, InLink: 0, InPD: 0, InNA: 1}},
		{"the defaults", defaults, []string{"defaults"},
			got6{OK: true, Link: "2001:db8:1::/64", Delegated: "2001:db8:100::/56", InUse4: 2, InLink: 1, InPD: 1}},
		{"no defaults, no IPv6", "", []string{"defaults"},
			got6{OK: true, NoIPv6: true, InUse4: 2}},
		{"an explicit delegated prefix, the link from the default", defaults, []string{"mixed"},
			got6{OK: true, Link: "2001:db8:1::/64", Delegated: "2001:db8:900::/56", InUse4: 2, InLink: 1}},
		{"the named pools exhausted: IPv4 only", defaults, []string{"named", "named"},
			got6{OK: true, NoIPv6: true, InUse4: 3, InNA: 1}},
		{"unknown pool: refused, nothing kept", defaults, []string{"unknown"},
			got6{Message: "no IPv6 prefix available", InUse4: 1}},
		{"a prefix RADIUS gives from a pool is held there", defaults, []string{"claim", "defaults"},
			got6{OK: true, Link: "2001:db8:1:1::/64", Delegated: "2001:db8:100:100::/56", InUse4: 3, InLink: 2, InPD: 2}},
		{"a prefix RADIUS gives that another session holds: refused", defaults, []string{"claim", "claim"},
			got6{Message: "no IPv6 prefix available", InUse4: 2, InLink: 1, InPD: 1}},
		{"a pool of the wrong length for the link", "", []string{"pd-len"},
			got6{OK: true, NoIPv6: true, InUse4: 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := grantServer(t, pools, tt.defaults, users)
			var o *authOutcome
			var ss *session
			for i, u := range tt.users {
				ss = srv.testSession(u + string(rune('0'+i)))
				rep, _ := users.Authenticate(context.Background(), aaa.AuthRequest{Username: u})
				o = srv.assign(context.Background(), &authOutcome{reply: rep}, ss, u)
			}
			g := got6{OK: o.ok, Message: o.message, InUse4: srv.local.InUse("p"),
				InLink: srv.local6.InUse("link"), InPD: srv.local6.InUse("pd"), InNA: srv.local6.InUse("na")}
			if v := ipv6Grant(o); o.ok && v != nil {
				if v.link.IsValid() {
					g.Link = v.link.String()
				}
				if v.delegated.IsValid() {
					g.Delegated = v.delegated.String()
				}
				if v.address.IsValid() {
					g.Address = v.address.String()
				}
			} else if o.ok {
				g.NoIPv6 = true
			}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			// The session's end gives every lease back.
			srv.releaseOutcome(ss, o)
			if n := srv.local.InUse("p"); n != 1 && len(tt.users) == 1 {
				t.Errorf("IPv4 pool: %d addresses held after the release, want only the LNS's", n)
			}
			for _, p := range []string{"link", "link2", "pd", "pd-one", "na"} {
				if n := srv.local6.InUse(p); n > 0 && len(tt.users) == 1 {
					t.Errorf("pool %s: %d prefixes still held after the release", p, n)
				}
			}
		})
	}
}

// TestIPv6ExhaustedCounted: an exhausted IPv6 pool is counted by its
// name and family; the IPv4 pool's exhaustion by its own.
func TestIPv6ExhaustedCounted(t *testing.T) {
	srv := grantServer(t, "[pool6 \"pd-one\"]\nprefix = 2001:db8:200::/56\nlength = 56\n", "default-delegated-pool = pd-one\n", replies{})
	ctx := context.Background()
	var outs []*authOutcome
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		outs = append(outs, srv.assign(ctx, &authOutcome{reply: &aaa.AuthReply{Accept: true}}, srv.testSession(id), id))
	}
	if !outs[0].ok || !outs[0].v6.delegated.IsValid() {
		t.Fatalf("first session: %+v, want the pool's one /56", outs[0])
	}
	if !outs[1].ok || outs[1].v6.delegated.IsValid() {
		t.Errorf("second session: %+v, want IPv4 without a delegated prefix", outs[1])
	}
	if outs[4].ok != true || outs[5].ok || outs[6].ok {
		t.Errorf("sessions e, f, g accepted: %v %v %v; want only e (the /29 has 5 addresses besides the LNS's)", outs[4].ok, outs[5].ok, outs[6].ok)
	}
	st := srv.Stats()
	if n := st.Exhausted("pd-one", "ipv6"); n != 4 {
		t.Errorf("pd-one exhausted %d times, want 4 (sessions b to e)", n)
	}
	if n := st.Exhausted("p", "ipv4"); n != 2 {
		t.Errorf("IPv4 pool p exhausted %d times, want 2 (sessions f and g)", n)
	}
}

// TestIPv6Bound: a session's DHCPv6 address is bound on its own (/128)
// only when neither its /64 nor its delegated prefix holds it.
func TestIPv6Bound(t *testing.T) {
	link, deleg := netip.MustParsePrefix("2001:db8:1:2::/64"), netip.MustParsePrefix("2001:db8:ff00::/56")
	for _, tc := range []struct {
		name string
		v    ipv6State
		want []netip.Prefix
	}{
		{"prefixes only", ipv6State{link: link, delegated: deleg}, []netip.Prefix{link, deleg}},
		{"an address in the /64", ipv6State{link: link, delegated: deleg, address: netip.MustParseAddr("2001:db8:1:2::9")}, []netip.Prefix{link, deleg}},
		{"an address of its own", ipv6State{link: link, address: netip.MustParseAddr("2001:db8:aa::5")},
			[]netip.Prefix{link, netip.MustParsePrefix("2001:db8:aa::5/128")}},
		{"delegation and an address", ipv6State{delegated: deleg, address: netip.MustParseAddr("2001:db8:aa::5")},
			[]netip.Prefix{deleg, netip.MustParsePrefix("2001:db8:aa::5/128")}},
	} {
		if diff := cmp.Diff(tc.want, tc.v.bound(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("%s (-want +got)\n%s", tc.name, diff)
		}
	}
}
