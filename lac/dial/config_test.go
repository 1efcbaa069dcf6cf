package dial

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/ppp"
)

// TestReferenceConfig parses deploy/dial.conf, which documents every key
// with its default: each key is known and gives the client what it says.
func TestReferenceConfig(t *testing.T) {
	t.Setenv("BRAS_DIAL_SECRET", "tunnel-secret")
	t.Setenv("BRAS_DIAL_PASSWORD", "pw")
	fc, err := LoadConfig("../../deploy/dial.conf")
	if err != nil {
		t.Fatal(err)
	}
	got, err := fc.Dial.Config()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		LNS: netip.MustParseAddrPort("192.0.2.1:1701"), Local: netip.MustParseAddrPort("0.0.0.0:0"),
		HostName: "roadwarrior", Secret: []byte("tunnel-secret"), User: "alice@example.net", Password: "pw",
		Auth: []ppp.AuthProto{ppp.AuthCHAPMD5, ppp.AuthPAP}, TUN: DefaultTUN,
		Routes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("198.51.100.0/24")},
		MTU:    DefaultMTU, Echo: ppp.EchoConfig{Interval: DefaultEchoInterval, MaxFailures: DefaultEchoFailures},
		HelloInterval: DefaultHelloInterval, DialTimeout: DefaultDialTimeout, SetupTimeout: DefaultSetupTimeout,
		ReconnectMin: DefaultReconnectMin, ReconnectMax: DefaultReconnectMax,
		Version: 2, CookieLen: 4,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("deploy/dial.conf (-want +got)\n%s", diff)
	}
	// The defaults the file writes out are the defaults of an empty section.
	min, err := Section{LNS: want.LNS, HostName: "h", User: "u"}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if min.MTU != want.MTU || min.Echo != want.Echo || min.ReconnectMin != want.ReconnectMin || min.ReconnectMax != want.ReconnectMax ||
		min.HelloInterval != want.HelloInterval || min.TUN != want.TUN || !cmp.Equal(min.Auth, want.Auth) ||
		min.Version != want.Version || min.CookieLen != want.CookieLen || min.Digest != want.Digest || min.Encap != want.Encap {
		t.Errorf("the defaults of an empty section %+v differ from the reference file's %+v", min, want)
	}
}

// TestConfigErrors: bad values are refused with their line and key, and
// the required keys are named when missing.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       string // in the error
	}{
		{"unknown key", "[dial]\nlns = 192.0.2.1:1701\nusr = alice\n", "x.conf:3: dial.usr: unknown key"},
		{"bad auth", "[dial]\nauth = mschap\n", `x.conf:2: dial.auth: auth "mschap": want pap, chap or any`},
		{"bad mtu", "[dial]\nmtu = 100\n", "x.conf:2: dial.mtu: 100: want 576 to 65535"},
		{"bad address", "[dial]\nlns = 192.0.2.1\n", "x.conf:2: dial.lns: bad value"},
		{"max below min", "[dial]\nreconnect-min = 10s\nreconnect-max = 5s\n", "x.conf:3: dial.reconnect-max: 5s is below reconnect-min 10s"},
		{"IPv6 route", "[dial]\nroutes = 2001:db8::/32\n", "x.conf:2: dial.routes: 2001:db8::/32: only IPv4 runs over the call (IPCP)"},
		{"L2TP version 4", "[dial]\nversion = 4\n", "x.conf:2: dial.version: 4: want 2 or 3"},
		{"cookie on L2TPv2", "[dial]\ncookie = 8\n", "x.conf:2: dial.cookie: is for L2TPv3 tunnels: needs version = 3"},
		{"L2TPv2 over IP", "[dial]\nversion = 2\nencap = ip\n", "x.conf:3: dial.encap: is for L2TPv3 tunnels: needs version = 3"},
		{"bad digest", "[dial]\nversion = 3\ndigest = sha256\n", `x.conf:3: dial.digest: "sha256": want md5, sha1 or none`},
		{"bad cookie", "[dial]\nversion = 3\ncookie = 2\n", `x.conf:3: dial.cookie: "2": want 0, 4 or 8 (octets, RFC 3931 section 4.1)`},
		{"bad encap", "[dial]\nversion = 3\nencap = gre\n", `x.conf:3: dial.encap: "gre": want udp or ip`},
		{"long tun", "[dial]\ntun = a-very-long-device-name\n", `x.conf:2: dial.tun: "a-very-long-device-name": an interface name has at most 15 characters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.file), "x.conf")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
			var ce *config.Error
			if err != nil && !errors.As(err, &ce) {
				t.Errorf("error %v is not a *config.Error", err)
			}
		})
	}
	fc, err := ParseConfig(strings.NewReader("[dial]\nmtu = 1300\n"), "x.conf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Dial.Config(); err == nil || !strings.Contains(err.Error(), "missing lns, host-name, user") {
		t.Errorf("Config of an incomplete section: %v", err)
	}
}

func TestParseSecret(t *testing.T) {
	t.Setenv("DIAL_TEST_SECRET", "from-env")
	f := t.TempDir() + "/s"
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"plain": "plain", "env:DIAL_TEST_SECRET": "from-env", "file:" + f: "from-file"} {
		got, err := ParseSecret(in)
		if err != nil || string(got) != want {
			t.Errorf("ParseSecret(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"env:DIAL_TEST_UNSET", "file:/nonexistent/secret"} {
		if _, err := ParseSecret(in); err == nil {
			t.Errorf("ParseSecret(%q): no error", in)
		}
	}
}

// TestBackoff: the waits double from Min to Max, Reset starts them again,
// and the jitter takes up to its fraction off a wait, never more.
func TestBackoff(t *testing.T) {
	s := time.Second
	b := Backoff{Min: s, Max: 60 * s}
	var got []time.Duration
	for range 9 {
		got = append(got, b.Next())
	}
	want := []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 60 * s, 60 * s, 60 * s}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waits (-want +got)\n%s", diff)
	}
	b.Reset()
	if d := b.Next(); d != s {
		t.Errorf("after Reset: %v, want %v", d, s)
	}

	r := 0.0
	j := Backoff{Min: 4 * s, Max: 60 * s, Jitter: 0.25, Rand: func() float64 { return r }}
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{{0, 4 * s}, {0.5, 7 * s}, {0.999, 12004 * time.Millisecond}} {
		r = tc.r
		if d := j.Next(); d != tc.want {
			t.Errorf("jitter %v: %v, want %v", tc.r, d, tc.want)
		}
	}
	// Random jitter stays within [0.75, 1] of the wait.
	rb := Backoff{Min: s, Max: s, Jitter: 0.25}
	for range 1000 {
		if d := rb.Next(); d < 3*s/4 || d > s {
			t.Fatalf("jittered wait %v outside [750ms, 1s]", d)
		}
	}
}
