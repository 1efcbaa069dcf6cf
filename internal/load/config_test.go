package load

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/bras-project/bras/ppp"
	"github.com/google/go-cmp/cmp"
)

func TestReadCredentials(t *testing.T) {
	in := "# user password\nalice@isp wonderland\n\n  bob@isp   builder  \n"
	got, err := ReadCredentials(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Credential{{"alice@isp", "wonderland"}, {"bob@isp", "builder"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	_, err = ReadCredentials(strings.NewReader("ok pw\nlonely\n"))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v, want ErrConfig naming line 2", err)
	}
}

func TestCredentialsAndMACs(t *testing.T) {
	c := Config{Interface: "x", Sessions: 3, UserPattern: "user%d@realm", PasswordPattern: "pw%d", FirstIndex: 10,
		MACBase: net.HardwareAddr{0x02, 0, 0, 0, 0xff, 0xfe}}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Credential{"user12@realm", "pw12"}, c.credential(2)); diff != "" {
		t.Errorf("credential (-want +got):\n%s", diff)
	}
	// MACBase + i carries across octets.
	if got := c.mac(3).String(); got != "02:00:00:01:00:01" {
		t.Errorf("mac(3) = %s", got)
	}
	c.Credentials = []Credential{{"a", "1"}, {"b", "2"}}
	if got := c.credential(3); got.Username != "b" {
		t.Errorf("credential(3) from a list of 2 = %v", got)
	}
}

func TestAuthMode(t *testing.T) {
	for m := AuthPAP; m <= AuthAny; m++ {
		got, err := ParseAuthMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseAuthMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseAuthMode("mschap"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseAuthMode(mschap) = %v", err)
	}
	if diff := cmp.Diff([]ppp.AuthProto{ppp.AuthCHAPMD5}, AuthMixed.protos(1)); diff != "" {
		t.Errorf("mixed, odd (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]ppp.AuthProto{ppp.AuthPAP}, AuthMixed.protos(4)); diff != "" {
		t.Errorf("mixed, even (-want +got):\n%s", diff)
	}
}

var echoAddr = mustAddrPort("192.0.2.1:9")

func TestConfigErrors(t *testing.T) {
	ok := func() Config { return Config{Interface: "eth0", Sessions: 1, UserPattern: "u%d"} }
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no interface", func(c *Config) { c.Interface = "" }},
		{"no sessions", func(c *Config) { c.Sessions = 0 }},
		{"negative rate", func(c *Config) { c.Rate = -1 }},
		{"no credentials", func(c *Config) { c.UserPattern = "" }},
		{"multicast MAC base", func(c *Config) { c.MACBase = net.HardwareAddr{1, 0, 0, 0, 0, 0} }},
		{"probe too small", func(c *Config) { c.Traffic.Target = echoAddr; c.Traffic.Size = 40 }},
		{"probe too big", func(c *Config) { c.Traffic.Target = echoAddr; c.Traffic.Size = 1500 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mod(&c)
			if err := c.validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("validate = %v, want ErrConfig", err)
			}
		})
	}
	c := ok()
	if err := c.validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func mustAddrPort(s string) (a netip.AddrPort) { return netip.MustParseAddrPort(s) }
