package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEncode(t *testing.T) {
	in := root{
		NodeName: "lns-1 # east",
		LNS: lns{
			Listen: netip.MustParseAddrPort("0.0.0.0:1701"),
			Radius: radius{
				Timeout: 1500 * time.Millisecond,
				Servers: []server{{Name: `pri"mary`, Address: netip.MustParseAddrPort("[2001:db8::1]:1812"), Secret: Secret("hunter2"), Weight: 3}},
			},
		},
		LAC:   []lac{{Name: "lac1", HostName: " padded ", AllowedFrom: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}}},
		Kinds: kinds{B: true, I8: -128, U64: 18446744073709551615, F: 0.1, SS: []string{"a", "tab\there"}, AS: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}, U16S: []uint16{1, 2}, A: netip.MustParseAddr("fe80::1%eth0")},
	}
	var b strings.Builder
	if err := Encode(&b, &in); err != nil {
		t.Fatal(err)
	}
	want := `node-name = "lns-1 # east"

[lns]
listen = 0.0.0.0:1701

[lns.radius]
timeout = 1.5s

[lns.radius.server "pri\"mary"]
address = [2001:db8::1]:1812
secret = ***
weight = 3

[lac "lac1"]
host-name = " padded "
allowed-from = 10.0.0.0/8, 2001:db8::/32

[kinds]
b = true
i8 = -128
u64 = 18446744073709551615
f = 0.1
a = fe80::1%eth0
ss = a
ss = "tab\there"
as = 192.0.2.53, 2001:db8::53
u16s = 1, 2
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if strings.Contains(b.String(), "hunter2") {
		t.Error("Encode wrote a secret")
	}
	// What Encode writes decodes to the same struct, secrets aside.
	var out root
	if err := Decode(strings.NewReader(b.String()), "encoded", &out); err != nil {
		t.Fatal(err)
	}
	in.LNS.Radius.Servers[0].Secret = Secret("***")
	if diff := cmp.Diff(in, out, opts); diff != "" {
		t.Errorf("round trip (-want +got)\n%s", diff)
	}
}

func TestEncodeRefuses(t *testing.T) {
	if err := Encode(&strings.Builder{}, root{Kinds: kinds{SS: []string{"a,b"}}}); err == nil {
		t.Error("a list item with a comma was encoded")
	}
	if err := Encode(&strings.Builder{}, root{LAC: []lac{{HostName: "x"}}}); err == nil {
		t.Error("a named section without a name was encoded")
	}
	if err := Encode(&strings.Builder{}, 3); err == nil {
		t.Error("a non-struct was encoded")
	}
}
