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
	if c.LAC.RetransmitCap != 8*time.Second || c.LAC.MaxRetries != 5 {
		t.Errorf("retransmit-cap %v max-retries %d, want 8s and 5", c.LAC.RetransmitCap, c.LAC.MaxRetries)
	}
	if got := c.Access[0]; got.Interface != "eth1" || got.Mode != "proxy" || !cmp.Equal(got.VLANs, []string{"100-2000", "3000", "3001 max=4"}) {
		t.Errorf("access %+v", got)
	}
	if !c.API.Enabled() || c.API.Listen != "127.0.0.1:8081" {
		t.Errorf("api %+v", c.API)
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
		Preference: 10, Weight: 3, AssignmentID: "retail", MaxSessions: 16000}
	if diff := cmp.Diff(want, l, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("LNS (-want +got)\n%s", diff)
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
		{"numbers hidden without hide-avps", base + lns + "secret = s\nhide-numbers = true\n", "lns[0].hide-numbers: needs hide-avps", nil},
		// RFC 2661 section 5.8: the cap MUST be no less than 8 seconds.
		{"retransmit cap below 8s", "[lac]\nhost-name = l\nretransmit-cap = 4s\n[access \"eth1\"]\n" + lns, "lac.conf:3: lac.retransmit-cap: 4s is below 8s", nil},
		{"negative retries", "[lac]\nhost-name = l\nmax-retries = -1\n[access \"eth1\"]\n" + lns, "lac.conf:3: lac.max-retries: -1 is negative", nil},
		{"radius without server", "[lac]\nhost-name = l\ntunnel-selection = radius\n[access \"eth1\"]\n", "radius.server", nil},
		{"bad vlan", base + "vlans = 4095\n" + lns, "lac.conf:4: access[0].vlans: \"4095\": VLAN 4095: want 1 to 4094", nil},
		{"bad auth", "[lac]\nhost-name = l\nauth = eap\n[access \"eth1\"]\n" + lns, "eap", nil},
		{"api without token", base + lns + "[api]\nlisten = 127.0.0.1:8081\n", "token", nil},
		{"bad qinq", base + "user-vlans = true\nqinq = 10-100\n" + lns, "outer:inner", nil},
		{"qinq without user-vlans", base + "qinq = 10:100\n" + lns, "user-vlans", nil},
		{"service both ways", base + "proxy-services = x\ntransparent-services = x\n" + lns, "both", nil},
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
