package lns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReferenceConfig(t *testing.T) {
	for k, v := range map[string]string{
		"BRAS_LAC1_SECRET": "s1", "BRAS_RADIUS_SECRET": "s2", "BRAS_DATABASE_URL": "postgres://x", "BRAS_API_TOKEN": "t",
	} {
		t.Setenv(k, v)
	}
	c, err := LoadConfig("../deploy/lns.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.LNS.Node != "lns1" || len(c.LACs) != 1 || c.LACs[0].Proxy != "accept" || string(c.LACs[0].Secret.Bytes()) != "s1" {
		t.Fatalf("reference config decoded wrong: %+v", c.LNS)
	}
	if len(c.Pools) != 2 || c.PPP.DefaultPool != "default" || len(c.RADIUS.Servers) != 1 || !c.CoA.Listen.IsValid() {
		t.Fatalf("reference config decoded wrong: pools %v radius %v", c.Pools, c.RADIUS.Servers)
	}
	if c.LNS.UDPReceiveBuffer != 4<<20 || c.LNS.UDPSendBuffer != 4<<20 {
		t.Errorf("reference config socket buffers %d, %d; want 4 MiB", c.LNS.UDPReceiveBuffer, c.LNS.UDPSendBuffer)
	}
	if l := c.LNS; l.RetransmitCap != 8*time.Second || l.MaxRetries != 5 || l.MaxHalfOpen != 1024 || l.MaxHalfOpenPerPeer != 64 {
		t.Errorf("reference config: retransmit-cap %v max-retries %d max-half-open %d per peer %d", l.RetransmitCap, l.MaxRetries, l.MaxHalfOpen, l.MaxHalfOpenPerPeer)
	}
	if c.Log.Format != "text" || c.Log.Level != "info" || c.Log.Levels != nil {
		t.Errorf("reference config [log] %+v; want text, info, no component levels", c.Log)
	}
}

// TestTunnelKeys: the retransmission cap may not be set below the 8 s of
// RFC 2661 section 5.8, and the error names the line; the retry count
// and the half-open caps are configurable, with the RFC's defaults.
func TestTunnelKeys(t *testing.T) {
	const base = "[tun]\naddress = 100.64.0.1/32\n[pool \"p\"]\nrange = 100.64.0.0/24\n[lac \"a\"]\nsecret = x\n[local-users]\nfile = /dev/null\n[api]\ntoken = t\n"
	c, err := ParseConfig(strings.NewReader("[lns]\nnode = n1\n"+base), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	if l := c.LNS; l.RetransmitCap != 8*time.Second || l.MaxRetries != 5 || l.MaxHalfOpen != 1024 || l.MaxHalfOpenPerPeer != 64 || l.ListenIP.IsValid() {
		t.Errorf("defaults: retransmit-cap %v max-retries %d max-half-open %d per peer %d listen-ip %v",
			l.RetransmitCap, l.MaxRetries, l.MaxHalfOpen, l.MaxHalfOpenPerPeer, l.ListenIP)
	}
	c, err = ParseConfig(strings.NewReader("[lns]\nnode = n1\nretransmit-cap = 16s\nmax-retries = 8\nmax-half-open = 10\nmax-half-open-per-peer = 2\nlisten-ip = 192.0.2.1\n"+base), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	if l := c.LNS; l.RetransmitCap != 16*time.Second || l.MaxRetries != 8 || l.MaxHalfOpen != 10 || l.MaxHalfOpenPerPeer != 2 ||
		l.ListenIP != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("set: retransmit-cap %v max-retries %d max-half-open %d per peer %d listen-ip %v",
			l.RetransmitCap, l.MaxRetries, l.MaxHalfOpen, l.MaxHalfOpenPerPeer, l.ListenIP)
	}
	for _, tt := range []struct{ name, keys, want string }{
		{"cap below 8s", "retransmit-cap = 7s\n", "test.conf:3: lns.retransmit-cap: 7s is below 8s"},
		{"negative retries", "max-retries = -1\n", "test.conf:3: lns.max-retries: -1: want a value above 0 (leave the key out for the default, 5)"},
		{"negative half-open", "max-half-open-per-peer = -2\n", "test.conf:3: lns.max-half-open-per-peer: -2: want a value above 0 (leave the key out for the default, 64)"},
		{"zero cap", "retransmit-cap = 0s\n", "test.conf:3: lns.retransmit-cap: 0s: want a value above 0 (leave the key out for the default, 8s)"},
		{"listen-ip with a port", "listen-ip = 192.0.2.1:1701\n", "test.conf:3: lns.listen-ip"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader("[lns]\nnode = n1\n"+tt.keys+base), "test.conf")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestConfigErrorsNameThePlace(t *testing.T) {
	base := `
[lns]
node = n1
[tun]
address = 100.64.0.1/32
[pool "p"]
range = 100.64.0.0/24
[lac "a"]
secret = x
[local-users]
file = /dev/null
[api]
token = t
`
	tests := []struct {
		name, extra, want string
	}{
		{"unknown key", "[lns]\nbogus = 1\n", "bogus"},
		{"no secret", "[lac \"b\"]\nhost-name = b\n", `[lac "b"] secret`},
		{"bad proxy", "[lac \"c\"]\nsecret = y\nproxy = maybe\n", "proxy"},
		{"radius and users", "[radius.server \"r\"]\naddress = 127.0.0.1:1812\nsecret = s\n", "silent fallback"},
		{"bad auth", "[ppp]\nauth = mschap\n", "ppp.auth"},
		{"bad pool", "[pool \"q\"]\nrange = 10.0.0.9-10.0.0.1\n", "pool"},
		{"tiny socket buffer", "[lns]\nudp-receive-buffer = 1024\n", "lns.udp-receive-buffer: 1024 bytes is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(base+tt.extra), "test.conf")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
	if _, err := ParseConfig(strings.NewReader(base), "test.conf"); err != nil {
		t.Fatalf("base config: %v", err)
	}
}

// TestCoAReplayConfig: the replay protection of RFC 5176 section 6.3 is on
// unless turned off.
func TestCoAReplayConfig(t *testing.T) {
	base := "[lns]\nnode = n1\n[tun]\naddress = 100.64.0.1/32\n[pool \"p\"]\nrange = 100.64.0.0/24\n[lac \"a\"]\nsecret = x\n[local-users]\nfile = /dev/null\n[api]\ntoken = t\n"
	for _, tc := range []struct {
		name, extra string
		require     bool
		window      time.Duration
	}{
		{"defaults", "", true, 300 * time.Second},
		{"set", "[coa]\nrequire-event-timestamp = false\nreplay-window = 60s\n", false, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(base+tc.extra), "test.conf")
			if err != nil {
				t.Fatal(err)
			}
			if c.CoA.RequireEventTimestamp != tc.require || c.CoA.ReplayWindow != tc.window {
				t.Errorf("require-event-timestamp %v, replay-window %v; want %v, %v", c.CoA.RequireEventTimestamp, c.CoA.ReplayWindow, tc.require, tc.window)
			}
		})
	}
}

// TestPool6Config: [pool6] sections and the [ppp] defaults that name
// them; bad definitions and defaults are errors naming the place.
func TestPool6Config(t *testing.T) {
	const base = "[lns]\nnode = n1\n[tun]\naddress = 100.64.0.1/32\n[pool \"p\"]\nrange = 100.64.0.0/24\n[lac \"a\"]\nsecret = x\n[local-users]\nfile = /dev/null\n[api]\ntoken = t\n"
	const pools = "[pool6 \"link\"]\nprefix = 2001:db8:1::/48\nlength = 64\n[pool6 \"pd\"]\nprefix = 2001:db8:100::/40\nlength = 56\n[pool6 \"na\"]\nprefix = 2001:db8:2::/108\nlength = 128\n"
	c, err := ParseConfig(strings.NewReader(base+pools+"[ppp]\ndefault-ipv6-pool = link\ndefault-delegated-pool = pd\ndefault-ipv6-address-pool = na\n"), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.PPP.DefaultIPv6Pool != "link" || c.PPP.DefaultDelegatedPool != "pd" || c.PPP.DefaultIPv6AddressPool != "na" || len(c.Pools6) != 3 {
		t.Fatalf("decoded %+v, %+v", c.PPP, c.Pools6)
	}
	p, err := c.LocalPrefixPools()
	if err != nil {
		t.Fatal(err)
	}
	for pool, want := range map[string]int{"link": 64, "pd": 56, "na": 128} {
		if n, ok := p.Length(pool); !ok || n != want {
			t.Errorf("pool %s hands out /%d (%v), want /%d", pool, n, ok, want)
		}
	}
	// Without defaults, no IPv6 pool is used unless RADIUS names one.
	c, err = ParseConfig(strings.NewReader(base+pools), "test.conf")
	if err != nil || c.PPP.DefaultIPv6Pool != "" || c.PPP.DefaultDelegatedPool != "" {
		t.Errorf("no defaults: %+v, %v", c.PPP, err)
	}
	for _, tt := range []struct{ name, extra, want string }{
		{"too big", "[pool6 \"big\"]\nprefix = 2001:db8::/32\nlength = 64\n", "bad pool \"big\": 2001:db8::/32 cut into /64 is 2^32 prefixes, more than the 1048576"},
		{"IPv4 prefix", "[pool6 \"v4\"]\nprefix = 10.0.0.0/8\nlength = 24\n", "not an IPv6 prefix"},
		{"length shorter than the prefix", "[pool6 \"s\"]\nprefix = 2001:db8::/48\nlength = 40\n", "length 40 is outside /48-/128"},
		{"no length", "[pool6 \"n\"]\nprefix = 2001:db8::/48\n", "length"},
		{"overlap", "[pool6 \"o\"]\nprefix = 2001:db8:1:100::/56\nlength = 64\n", "overlap"},
		{"unknown default", "[ppp]\ndefault-delegated-pool = gold\n", `ppp.default-delegated-pool: no [pool6 "gold"]`},
		{"a link pool of /56s", "[ppp]\ndefault-ipv6-pool = na\n", `ppp.default-ipv6-pool: [pool6 "na"] hands out /128s`},
		{"an address pool of /64s", "[ppp]\ndefault-ipv6-address-pool = link\n", `ppp.default-ipv6-address-pool: [pool6 "link"] hands out /64s`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(base+pools+tt.extra), "test.conf")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
	// With shared pools, a default may name a pool only the database has.
	if _, err := ParseConfig(strings.NewReader(base+"[ppp]\ndefault-ipv6-pool = elsewhere\n[accounting]\ndatabase = postgres://x\nshared-pools = true\n"), "test.conf"); err != nil {
		t.Errorf("shared pools, a default the database defines: %v", err)
	}
}

// TestReferenceConfigIPv6Pools: deploy/lns.conf shows the IPv6 pools next
// to the IPv4 ones, with the defaults naming them.
func TestReferenceConfigIPv6Pools(t *testing.T) {
	for k, v := range map[string]string{
		"BRAS_LAC1_SECRET": "s1", "BRAS_RADIUS_SECRET": "s2", "BRAS_DATABASE_URL": "postgres://x", "BRAS_API_TOKEN": "t",
	} {
		t.Setenv(k, v)
	}
	c, err := LoadConfig("../deploy/lns.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Pools6) < 2 || c.PPP.DefaultIPv6Pool == "" || c.PPP.DefaultDelegatedPool == "" {
		t.Fatalf("reference config: [pool6] %+v, defaults %q %q", c.Pools6, c.PPP.DefaultIPv6Pool, c.PPP.DefaultDelegatedPool)
	}
	if _, err := c.LocalPrefixPools(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckNamesFileAndLine: what -check, the daemon's start and a
// reload refuse, each error with its file, line and key, every one of
// them reported (not only the first).
func TestCheckNamesFileAndLine(t *testing.T) {
	// Lines 1-10; each case's text starts on line 11.
	const base = "[lns]\nnode = n1\n[tun]\naddress = 100.64.0.1/32\n[pool \"p\"]\nrange = 100.64.0.0/24\n[lac \"a\"]\nsecret = x\n[api]\ntoken = t\n"
	const users = "[local-users]\nfile = /dev/null\n"
	for _, tt := range []struct {
		name, extra string
		radius      bool // the case brings its RADIUS servers: no users file
		want        []string
	}{
		{"pools overlap", "[pool \"q\"]\nrange = 100.64.0.128/25\n", false,
			[]string{`test.conf:12: [pool "q"] range: 100.64.0.128/25 overlaps 100.64.0.0/24 of pool "p" (test.conf:6)`}},
		{"ranges of one pool overlap", "[pool \"q\"]\nrange = 10.0.0.0/24\nrange = 10.0.0.10-10.0.0.20\n", false,
			[]string{`test.conf:13: [pool "q"] range: 10.0.0.10-10.0.0.20 overlaps 10.0.0.0/24 of the same pool (test.conf:12)`}},
		{"a range over the network address", "[pool \"q\"]\nrange = 100.64.0.0-100.64.0.0\n", false,
			[]string{`test.conf:12: [pool "q"] range: 100.64.0.0-100.64.0.0 overlaps 100.64.0.0/24 of pool "p" (test.conf:6)`}},
		{"bad range", "[pool \"q\"]\nrange = 10.0.0.9-10.0.0.1\n", false,
			[]string{`test.conf:12: [pool "q"] range: bad IPv4 range "10.0.0.9-10.0.0.1"`}},
		{"unknown default pool", "[ppp]\ndefault-pool = gold\n", false,
			[]string{`test.conf:12: ppp.default-pool: no [pool "gold"]`}},
		{"unknown IPv6 default pool", "[ppp]\ndefault-ipv6-pool = link\n", false,
			[]string{`test.conf:12: ppp.default-ipv6-pool: no [pool6 "link"]`}},
		{"IPv6 pools overlap", "[pool6 \"a\"]\nprefix = 2001:db8::/40\nlength = 56\n[pool6 \"b\"]\nprefix = 2001:db8:10::/48\nlength = 64\n", false,
			[]string{`test.conf:15: [pool6 "b"] prefix: 2001:db8:10::/48 overlaps 2001:db8::/40 of pool6 "a" (test.conf:12)`}},
		{"IPv6 default pool of the wrong length", "[pool6 \"pd\"]\nprefix = 2001:db8::/40\nlength = 56\n[ppp]\ndefault-ipv6-pool = pd\n", false,
			[]string{`test.conf:15: ppp.default-ipv6-pool: [pool6 "pd"] hands out /56s; this key wants a link's /64 (RFC 4291 section 2.5.1) (test.conf:13)`}},
		{"RADIUS server without a port", "[radius.server \"r\"]\naddress = 127.0.0.1\nsecret = s\n", true,
			[]string{`test.conf:12: [radius.server "r"] address: "127.0.0.1": want host:port, such as 127.0.0.1:1812 or [2001:db8::1]:1812`}},
		{"RADIUS server on port 0", "[radius.server \"r\"]\naddress = radius.example:0\nsecret = s\n", true,
			[]string{`test.conf:12: [radius.server "r"] address: "radius.example:0": port "0" is not a number from 1 to 65535`}},
		{"accounting server with a bad port", "[radius.server \"r\"]\naddress = 127.0.0.1:1812\nsecret = s\n[radius.accounting-server \"r\"]\naddress = 127.0.0.1:acct\nsecret = s\n", true,
			[]string{`test.conf:15: [radius.accounting-server "r"] address: "127.0.0.1:acct": port "acct" is not a number from 1 to 65535`}},
		{"zero MTU", "[tun]\nmtu = 0\n", false,
			[]string{`test.conf:12: tun.mtu: 0: want a value above 0 (leave the key out for the default, 1500)`}},
		{"zero MRU", "[ppp]\nmru = 0\n", false,
			[]string{`test.conf:12: ppp.mru: 0: want a value above 0 (leave the key out for the default, 1460)`}},
		{"negative echo failures", "[ppp]\necho-failures = -1\n", false,
			[]string{`test.conf:12: ppp.echo-failures: -1: want a value above 0 (leave the key out for the default, 3)`}},
		{"negative session timeout", "[ppp]\nsession-timeout = -5s\n", false,
			[]string{`test.conf:12: ppp.session-timeout: -5s is negative (leave the key out for the default, 0s, none)`}},
		{"zero RADIUS timeout", "[radius]\ntimeout = 0s\n", false,
			[]string{`test.conf:12: radius.timeout: 0s: want a value above 0 (leave the key out for the default, 3s)`}},
		{"zero auth workers", "[lns]\nauth-workers = 0\n", false,
			[]string{`test.conf:12: lns.auth-workers: 0: want a value above 0 (leave the key out for the default, 256)`}},
		{"zero interim interval", "[accounting]\ninterim-interval = 0s\n", false,
			[]string{`test.conf:12: accounting.interim-interval: 0s: want a value above 0 (leave the key out for the default, 5m)`}},
		{"zero hello interval", "[lac \"b\"]\nsecret = y\nhello-interval = 0s\n", false,
			[]string{`test.conf:13: [lac "b"] hello-interval: 0s: want a value above 0 (leave the key out for the default, 60s)`}},
		{"LAC without a secret", "[lac \"b\"]\nhost-name = b\n", false,
			[]string{`test.conf:11: [lac "b"] secret: required (tunnel authentication is on by default; set no-tunnel-auth = true to allow this LAC without it)`}},
		{"an L2TP version that is none", "[lac \"b\"]\nsecret = y\nversions = 2, 4\n", false,
			[]string{`test.conf:13: [lac "b"] versions: 4: want 2 or 3 (L2TP versions)`}},
		{"an L2TPv3 cookie of 5 octets", "[lac \"b\"]\nsecret = y\ncookie = 5\n", false,
			[]string{`test.conf:13: [lac "b"] cookie: "5": want 0, 4 or 8 (octets, RFC 3931 section 4.1)`}},
		{"two LACs of one host name", "[lac \"b\"]\nhost-name = A\nsecret = y\n", false,
			[]string{`test.conf:12: [lac "b"] host-name: "A" is also the host name of [lac "a"] (test.conf:7)`}},
		{"CoA on port 0", "[coa]\nlisten = 127.0.0.1:0\n[coa.client \"r\"]\naddress = 127.0.0.1/32\nsecret = s\n", false,
			[]string{`test.conf:12: coa.listen: 127.0.0.1:0: want a port (3799 is RFC 5176's)`}},
		{"every error at once", "[pool \"q\"]\nrange = 100.64.0.0/16\n[tun]\nmtu = 0\n[radius.server \"r\"]\naddress = 127.0.0.1\nsecret = s\n", true,
			[]string{
				`test.conf:14: tun.mtu: 0: want a value above 0 (leave the key out for the default, 1500)`,
				`test.conf:12: [pool "q"] range: 100.64.0.0/16 overlaps 100.64.0.0/24 of pool "p" (test.conf:6)`,
				`test.conf:16: [radius.server "r"] address: "127.0.0.1": want host:port, such as 127.0.0.1:1812 or [2001:db8::1]:1812`,
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := base + tt.extra
			if !tt.radius {
				text += users
			}
			_, err := ParseConfig(strings.NewReader(text), "test.conf")
			if err == nil {
				t.Fatal("accepted")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseConfig(strings.NewReader(base+users), "test.conf"); err != nil {
		t.Fatalf("base config: %v", err)
	}
}

// TestLACVersionsAndCookie: a [lac] takes both L2TP versions and asks
// 4-octet cookies of its L2TPv3 sessions unless told otherwise (RFC 3931
// section 4.1: 0, 4 or 8).
func TestLACVersionsAndCookie(t *testing.T) {
	const base = "[lns]\nnode = n1\n[tun]\naddress = 100.64.0.1/32\n[pool \"p\"]\nrange = 100.64.0.0/24\n[api]\ntoken = t\n[local-users]\nfile = /dev/null\n"
	for _, tt := range []struct {
		lac      string
		versions []int
		cookie   int
	}{
		{"[lac \"a\"]\nsecret = x\n", nil, 4},
		{"[lac \"a\"]\nsecret = x\nversions = 3\ncookie = 8\n", []int{3}, 8},
		{"[lac \"a\"]\nsecret = x\nversions = 2, 3\ncookie = 0\n", []int{2, 3}, 0},
	} {
		c, err := ParseConfig(strings.NewReader(base+tt.lac), "test.conf")
		if err != nil {
			t.Fatalf("%q: %v", tt.lac, err)
		}
		l := &c.LACs[0]
		if !slices.Equal(l.Versions, tt.versions) || l.cookieLen() != tt.cookie {
			t.Errorf("%q: versions %v cookie %d, want %v and %d", tt.lac, l.Versions, l.cookieLen(), tt.versions, tt.cookie)
		}
	}
}
