package lns

import (
	"strings"
	"testing"
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
		{"no secret", "[lac \"b\"]\nhost-name = b\n", `lac[1] "b".secret`},
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
