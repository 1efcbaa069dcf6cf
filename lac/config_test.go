package lac

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/l2tp"
	"github.com/google/go-cmp/cmp"
)

func setSecrets(t *testing.T) {
	for _, k := range []string{"BRAS_RADIUS_SECRET", "BRAS_COOKIE_SECRET", "BRAS_LNS_A_SECRET", "BRAS_LNS_B_SECRET", "BRAS_WHOLESALE_SECRET", "BRAS_API_TOKEN"} {
		t.Setenv(k, strings.ToLower(k))
	}
}

// TestReferenceConfig loads deploy/lac.conf, which documents every key.
func TestReferenceConfig(t *testing.T) {
	setSecrets(t)
	c, err := LoadConfig("../deploy/lac.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.LAC.HostName != "lac-1" || c.LAC.HoldDown != time.Minute || len(c.Access) != 1 || len(c.LNS) != 3 {
		t.Errorf("decoded %+v", c.LAC)
	}
	if c.LAC.UDPReceiveBuffer != 4<<20 || c.LAC.UDPSendBuffer != 4<<20 {
		t.Errorf("socket buffers %d, %d; want 4 MiB", c.LAC.UDPReceiveBuffer, c.LAC.UDPSendBuffer)
	}
	if c.LAC.SessionsPerTunnel != 32000 || c.LAC.Tunnels != 1 {
		t.Errorf("sessions-per-tunnel %d tunnels %d, want 32000 and 1", c.LAC.SessionsPerTunnel, c.LAC.Tunnels)
	}
	if c.LAC.RetransmitCap != 8*time.Second || c.LAC.MaxRetries != 5 {
		t.Errorf("retransmit-cap %v max-retries %d, want 8s and 5", c.LAC.RetransmitCap, c.LAC.MaxRetries)
	}
	if got := c.Access[0]; got.Interface != "eth1" || got.Mode != "proxy" || !cmp.Equal(got.VLANs, []string{"100-2000", "3000", "3001 max=4"}) {
		t.Errorf("access %+v", got)
	}
	if !c.API.Enabled() || c.API.Listen != "127.0.0.1:8081" {
		t.Errorf("api %+v", c.API)
	}
	if c.Log.Format != "text" || c.Log.Level != "info" || c.Log.Levels != nil {
		t.Errorf("[log] %+v; want text, info, no component levels", c.Log)
	}
	if string(c.LNS[0].Secret) != "bras_lns_a_secret" {
		t.Error("secret not read from the environment")
	}
	r, err := c.Routes()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, realm, iface string
		vlan               uint16
		service            string
		want               []string
	}{
		{"realm served by two", "example.com", "eth1", 0, "", []string{"lns-a", "lns-b"}},
		{"realm served by one", "example.net", "eth1", 0, "", []string{"lns-a"}},
		{"vlan", "", "eth1", 100, "", []string{"lns-a"}},
		{"service", "", "eth1", 0, "wholesale", []string{"wholesale"}},
		{"default", "other.org", "eth1", 0, "x", []string{"lns-a", "lns-b"}},
	}
	for _, tc := range tests {
		got := names(r.Lookup(tc.realm, Port{Interface: tc.iface, VLAN: tc.vlan}, tc.service))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, diff)
		}
	}
	l := r.Lookup("example.net", Port{}, "")[0]
	want := LNS{Name: "lns-a", Addr: netip.MustParseAddrPort("198.51.100.1:1701"), Secret: []byte("bras_lns_a_secret"),
		Preference: 10, Weight: 3, AssignmentID: "retail", MaxSessions: 16000, Tunnels: 2, Version: 2, CookieLen: 4}
	if diff := cmp.Diff(want, l, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("LNS (-want +got)\n%s", diff)
	}
	w := r.Lookup("", Port{}, "wholesale")[0]
	if w.Version != 3 || w.Digest != l2tp.DigestMD5 || w.CookieLen != 4 {
		t.Errorf("wholesale: version %d digest %v cookie %d; want 3, md5, 4", w.Version, w.Digest, w.CookieLen)
	}
}

// TestLNSVersionDefaults: an [lns] section without the L2TPv3 keys makes
// L2TPv2 tunnels; with version = 3 the digest is md5 with a secret (auto)
// and the cookie 4 octets, over UDP, unless set.
func TestLNSVersionDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, keys string
		version    int
		digest     l2tp.DigestMode
		cookie     int
		encap      l2tp.Encap
		addr       string
	}{
		{"default", "", 2, l2tp.DigestAuto, 4, l2tp.EncapUDP, "192.0.2.1:1701"},
		{"v3 defaults", "version = 3\n", 3, l2tp.DigestAuto, 4, l2tp.EncapUDP, "192.0.2.1:1701"},
		{"v3 sha1 no cookie", "version = 3\ndigest = sha1\ncookie = 0\n", 3, l2tp.DigestSHA1, 0, l2tp.EncapUDP, "192.0.2.1:1701"},
		{"v3 no digest 8-octet cookie", "version = 3\ndigest = none\ncookie = 8\n", 3, l2tp.DigestOff, 8, l2tp.EncapUDP, "192.0.2.1:1701"},
		{"v3 over UDP", "version = 3\nencap = udp\n", 3, l2tp.DigestAuto, 4, l2tp.EncapUDP, "192.0.2.1:1701"},
		{"v3 over IP: no port", "version = 3\nencap = ip\n", 3, l2tp.DigestAuto, 4, l2tp.EncapIP, "192.0.2.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "lac.conf")
			file := "[lac]\nhost-name = l\n[access \"eth1\"]\n[lns \"a\"]\naddress = 192.0.2.1:1701\nsecret = s\ndefault = true\n" + tc.keys
			if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Routes()
			if err != nil {
				t.Fatal(err)
			}
			l := r.Lookup("", Port{}, "")[0]
			if l.Version != tc.version || l.Digest != tc.digest || l.CookieLen != tc.cookie || l.Encap != tc.encap || l.Addr.String() != tc.addr {
				t.Errorf("version %d digest %v cookie %d over %v to %v; want %d %v %d over %v to %s",
					l.Version, l.Digest, l.CookieLen, l.Encap, l.Addr, tc.version, tc.digest, tc.cookie, tc.encap, tc.addr)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	const base = "[lac]\nhost-name = l\n[access \"eth1\"]\n"
	const lns = "[lns \"a\"]\naddress = 192.0.2.1:1701\ndefault = true\n"
	tests := []struct {
		name, file string
		want       string
		sentinel   error
	}{
		{"unknown key", base + "colour = red\n" + lns, "colour", config.ErrUnknownKey},
		{"bad mode", base + "mode = bridged\n" + lns, "bridged", nil},
		{"missing host name", "[lac]\n[access \"eth1\"]\n" + lns, "host-name", config.ErrRequired},
		{"no access", "[lac]\nhost-name = l\n" + lns, "no [access", nil},
		{"no lns", base, "no [lns", nil},
		{"lns serving nothing", base + "[lns \"a\"]\naddress = 192.0.2.1:1701\n", "serves nothing", nil},
		{"hidden without secret", base + lns + "hide-avps = true\n", "hide-avps", nil},
		{"numbers hidden without hide-avps", base + lns + "secret = s\nhide-numbers = true\n", `[lns "a"] hide-numbers: needs hide-avps`, nil},
		// RFC 2661 section 5.8: the cap MUST be no less than 8 seconds.
		{"retransmit cap below 8s", "[lac]\nhost-name = l\nretransmit-cap = 4s\n[access \"eth1\"]\n" + lns, "lac.conf:3: lac.retransmit-cap: 4s is below 8s", nil},
		{"negative retries", "[lac]\nhost-name = l\nmax-retries = -1\n[access \"eth1\"]\n" + lns, "lac.conf:3: lac.max-retries: -1 is negative", nil},
		{"radius without server", "[lac]\nhost-name = l\ntunnel-selection = radius\n[access \"eth1\"]\n", "radius.server", nil},
		{"bad vlan", base + "vlans = 4095\n" + lns, "lac.conf:4: [access \"eth1\"] vlans: \"4095\": VLAN 4095: want 1 to 4094", nil},
		{"bad auth", "[lac]\nhost-name = l\nauth = eap\n[access \"eth1\"]\n" + lns, "eap", nil},
		{"api without token", base + lns + "[api]\nlisten = 127.0.0.1:8081\n", "token", nil},
		{"bad qinq", base + "user-vlans = true\nqinq = 10-100\n" + lns, "outer:inner", nil},
		{"qinq without user-vlans", base + "qinq = 10:100\n" + lns, "user-vlans", nil},
		{"service both ways", base + "proxy-services = x\ntransparent-services = x\n" + lns, "both", nil},
		{"rx ring not a multiple of 32", base + "rx-ring = 100\n" + lns, `lac.conf:4: [access "eth1"] rx-ring: "100"`, nil},
		{"bad control socket", base + "control-socket = maybe\n" + lns, `lac.conf:4: [access "eth1"] control-socket: "maybe"`, nil},
		{"tiny socket buffer", "[lac]\nhost-name = l\nudp-send-buffer = 100\n[access \"eth1\"]\n" + lns, "udp-send-buffer: 100 bytes", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "lac.conf")
			if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q does not wrap %v", err, tc.sentinel)
			}
		})
	}
}

// TestCheckNamesFileAndLine: what -check, the daemon's start and a
// reload refuse, each error with its file, line and key, all of them
// reported (not only the first).
func TestCheckNamesFileAndLine(t *testing.T) {
	// Lines 1-6; each case's text starts on line 7.
	const base = "[lac]\nhost-name = l\n[access \"eth1\"]\n[lns \"a\"]\naddress = 192.0.2.1:1701\ndefault = true\n"
	for _, tc := range []struct {
		name, extra string
		want        []string
	}{
		{"zero hold-down", "[lac]\nhold-down = 0s\n",
			[]string{`lac.conf:8: lac.hold-down: 0s: want a value above 0 (leave the key out for the default, 60s)`}},
		{"zero dial timeout", "[lac]\ndial-timeout = 0s\n",
			[]string{`lac.conf:8: lac.dial-timeout: 0s: want a value above 0 (leave the key out for the default, 10s)`}},
		{"zero max-retries", "[lac]\nmax-retries = 0\n",
			[]string{`lac.conf:8: lac.max-retries: 0: want a value above 0 (leave the key out for the default, 5)`}},
		{"negative echo interval", "[lac]\necho-interval = -1s\n",
			[]string{`lac.conf:8: lac.echo-interval: -1s is negative (leave the key out for the default, 0s, none)`}},
		{"zero RADIUS retries", "[radius]\nretries = 0\n",
			[]string{`lac.conf:8: radius.retries: 0: want a value above 0 (leave the key out for the default, 2)`}},
		{"zero sessions per MAC", "[access \"eth2\"]\nmax-sessions-per-mac = 0\n",
			[]string{`lac.conf:8: [access "eth2"] max-sessions-per-mac: 0: want a value above 0 (leave the key out for the default, 1)`}},
		{"sessions-per-tunnel above the Session IDs", "[lac]\nsessions-per-tunnel = 65536\n",
			[]string{`lac.conf:8: lac.sessions-per-tunnel: 65536: a tunnel has 65535 session IDs`}},
		{"zero tunnels", "[lac]\ntunnels = 0\n",
			[]string{`lac.conf:8: lac.tunnels: 0: want a value above 0 (leave the key out for the default, 1)`}},
		{"zero source ports", "[lac]\nsource-ports = 0\n",
			[]string{`lac.conf:8: lac.source-ports: 0: want a value above 0 (leave the key out for the default, 1)`}},
		{"too many source ports", "[lac]\nsource-ports = 100\n",
			[]string{`lac.conf:8: lac.source-ports: 100: want 1 to 64`}},
		{"too many tunnels", "[lac]\ntunnels = 1000\n",
			[]string{`lac.conf:8: lac.tunnels: 1000: want 1 to 256`}},
		{"negative LNS tunnels", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\ntunnels = -1\n",
			[]string{`lac.conf:10: [lns "b"] tunnels: -1 is negative (leave the key out for the default, 0, the [lac] tunnels)`}},
		{"too many LNS tunnels", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\ntunnels = 300\n",
			[]string{`lac.conf:10: [lns "b"] tunnels: 300: want 0 (the [lac] tunnels) to 256`}},
		{"negative LNS max-sessions", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\nmax-sessions = -1\n",
			[]string{`lac.conf:10: [lns "b"] max-sessions: -1: want 0 to 65535`}},
		{"LNS on port 0", "[lns \"b\"]\naddress = 192.0.2.2:0\nrealms = x\n",
			[]string{`lac.conf:8: [lns "b"] address: 192.0.2.2:0: want a port (1701 is L2TP's)`}},
		{"L2TP version 4", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\nversion = 4\n",
			[]string{`lac.conf:10: [lns "b"] version: 4: want 2 or 3`}},
		{"digest on an L2TPv2 tunnel", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\ndigest = sha1\n",
			[]string{`lac.conf:10: [lns "b"] digest: is for L2TPv3 tunnels: needs version = 3`}},
		{"cookie on an L2TPv2 tunnel", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\nversion = 2\ncookie = 8\n",
			[]string{`lac.conf:11: [lns "b"] cookie: is for L2TPv3 tunnels: needs version = 3`}},
		{"unknown digest", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\nversion = 3\ndigest = sha256\n",
			[]string{`lac.conf:11: [lns "b"] digest: "sha256": want md5, sha1 or none`}},
		{"cookie of 2 octets", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\nversion = 3\ncookie = 2\n",
			[]string{`lac.conf:11: [lns "b"] cookie: "2": want 0, 4 or 8 (octets, RFC 3931 section 4.1)`}},
		{"L2TPv2 over IP", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\nencap = ip\n",
			[]string{`lac.conf:10: [lns "b"] encap: ip is for L2TPv3 tunnels: needs version = 3 (RFC 3931 section 4.1.1)`}},
		{"unknown encapsulation", "[lns \"b\"]\naddress = 192.0.2.2:1701\nrealms = x\nversion = 3\nencap = gre\n",
			[]string{`lac.conf:11: [lns "b"] encap: "gre": want udp or ip`}},
		{"RADIUS server on port 0", "[radius.server \"r\"]\naddress = 127.0.0.1:0\nsecret = s\n",
			[]string{`lac.conf:8: [radius.server "r"] address: 127.0.0.1:0: want a port (1812 is RADIUS authentication's)`}},
		{"route for an interface not served", "[lns \"b\"]\naddress = 192.0.2.2:1701\ninterfaces = eth1.100\ninterfaces = eth2.100\n",
			[]string{`lac.conf:10: [lns "b"] interfaces: "eth2.100" is no [access] interface nor a port of one (eth1)`}},
		{"radius selection without server", "[lac]\ntunnel-selection = radius\n",
			[]string{`lac.conf:8: lac.tunnel-selection: radius needs a [radius.server "name"] section`}},
		{"every error at once", "[lac]\nhold-down = 0s\n[lns \"b\"]\naddress = 192.0.2.2:0\ninterfaces = eth9\n",
			[]string{
				`lac.conf:8: lac.hold-down: 0s: want a value above 0 (leave the key out for the default, 60s)`,
				`lac.conf:10: [lns "b"] address: 192.0.2.2:0: want a port (1701 is L2TP's)`,
				`lac.conf:11: [lns "b"] interfaces: "eth9" is no [access] interface nor a port of one (eth1)`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "lac.conf")
			if err := os.WriteFile(p, []byte(base+tc.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(p)
			if err == nil {
				t.Fatal("accepted")
			}
			got := strings.Split(err.Error(), "\n")
			for i := range got {
				got[i] = strings.TrimPrefix(got[i], filepath.Dir(p)+"/")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRxRingKeys: [access] rx-ring and control-socket as the PPPoE server
// takes them.
func TestRxRingKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		size int
		off  bool
	}{{"", 0, false}, {"off", 0, true}, {"4096", 4096, false}} {
		a := AccessFile{RxRing: tc.in}
		size, off, err := a.rxRing()
		if err != nil || size != tc.size || off != tc.off {
			t.Errorf("rx-ring %q: %d, %v, %v; want %d, %v", tc.in, size, off, err, tc.size, tc.off)
		}
	}
}
