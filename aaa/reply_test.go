package aaa_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/google/go-cmp/cmp"
	"layeh.com/radius"
)

func parseReply(t testing.TB, code radius.Code, attrs radius.Attributes) (*aaa.AuthReply, error) {
	t.Helper()
	return aaa.ParseAuthReply(&radius.Packet{Code: code, Secret: secret, Attributes: attrs}, reqAuth)
}

func TestParseAuthReplyVendorRate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs radius.Attributes
		want  aaa.RateLimit
	}{
		{"Mikrotik-Rate-Limit rx/tx", radius.Attributes{{Type: 26, Attribute: vsa(14988, 8, []byte("2M/10M 4M/20M"))}}, aaa.RateLimit{DownKbps: 10000, UpKbps: 2000}},
		{"Filter-Id wins", radius.Attributes{{Type: 11, Attribute: radius.Attribute("300/100")}, {Type: 26, Attribute: vsa(14988, 8, []byte("2M/10M"))}}, aaa.RateLimit{DownKbps: 300, UpKbps: 100}},
		{"Filter-Id that is no rate", radius.Attributes{{Type: 11, Attribute: radius.Attribute("acl-web")}, {Type: 26, Attribute: vsa(14988, 8, []byte("512k"))}}, aaa.RateLimit{DownKbps: 512, UpKbps: 512}},
		{"neither", radius.Attributes{{Type: 11, Attribute: radius.Attribute("acl-web")}}, aaa.RateLimit{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseReply(t, radius.CodeAccessAccept, tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, r.RateLimit); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseAuthReplyErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs radius.Attributes
	}{
		{"short Framed-IP-Address", radius.Attributes{{Type: 8, Attribute: radius.Attribute{1, 2, 3}}}},
		{"long Session-Timeout", radius.Attributes{{Type: 27, Attribute: radius.Attribute{0, 0, 0, 0, 1}}}},
		{"short MS-Primary-DNS-Server", radius.Attributes{{Type: 26, Attribute: vsa(311, 28, []byte{1})}}},
		{"bad tunnel", radius.Attributes{{Type: 64, Attribute: radius.Attribute{1}}}},
		{"short Framed-Interface-Id", radius.Attributes{{Type: 96, Attribute: radius.Attribute{1, 2, 3, 4, 5, 6, 7}}}},
		{"Framed-IPv6-Prefix longer than 128 bits", radius.Attributes{{Type: 97, Attribute: radius.Attribute{0, 129, 0x20, 0x01}}}},
		{"Framed-IPv6-Prefix of /64 in 4 octets", radius.Attributes{{Type: 97, Attribute: radius.Attribute{0, 64, 0x20, 0x01, 0x0d, 0xb8}}}},
		{"Delegated-IPv6-Prefix of one octet", radius.Attributes{{Type: 123, Attribute: radius.Attribute{0}}}},
		{"short Framed-IPv6-Address", radius.Attributes{{Type: 168, Attribute: make(radius.Attribute, 15)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseReply(t, radius.CodeAccessAccept, tc.attrs); err == nil {
				t.Error("accepted")
			}
		})
	}
	// A reject is not read beyond its Reply-Message.
	r, err := parseReply(t, radius.CodeAccessReject, radius.Attributes{{Type: 8, Attribute: radius.Attribute{1}}, {Type: 18, Attribute: radius.Attribute("no")}})
	if err != nil || r.Accept || r.ReplyMessage != "no" {
		t.Errorf("reject: %+v, %v", r, err)
	}
}

func TestAuthReplyRoundTrip(t *testing.T) {
	in := &aaa.AuthReply{
		Accept: true, ReplyMessage: "welcome",
		FramedIP: netip.MustParseAddr("100.64.1.1"), FramedNetmask: netip.MustParseAddr("255.255.255.255"), FramedPool: "p",
		DNS:            []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("192.0.2.2")},
		SessionTimeout: time.Hour, IdleTimeout: time.Minute, InterimInterval: 10 * time.Minute,
		Class: [][]byte{{1, 2}}, FramedRoutes: []string{"10.0.0.0/8"}, FilterID: "acl-1",
		RateLimit: aaa.RateLimit{DownKbps: 8000, UpKbps: 1000},
		Tunnels:   []aaa.TunnelChoice{{Tag: 1, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "192.0.2.9", Password: []byte("pw")}},
		IPv6: aaa.IPv6Grant{
			InterfaceID: [8]byte{2, 0, 0, 0, 0, 0, 0, 7}, HasInterfaceID: true,
			Prefixes:   []netip.Prefix{netip.MustParsePrefix("2001:db8:1:2::/64")},
			Delegated:  netip.MustParsePrefix("2001:db8:ff00::/56"),
			Address:    netip.MustParseAddr("2001:db8:1:2::7"),
			PrefixPool: "v6-slaac", DelegatedPool: "v6-pd", AddressPool: "v6-na",
			Routes: []string{"2001:db8:7::/48 :: 1"},
		},
	}
	attrs, err := in.AppendAttributes(nil, secret, reqAuth)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseReply(t, radius.CodeAccessAccept, attrs)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, got, addrCmp); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestIPv6PrefixWire: Framed-IPv6-Prefix and Delegated-IPv6-Prefix in the
// layout of RFC 3162 section 2.3 and RFC 4818 section 3 (Reserved,
// Prefix-Length, no more prefix octets than the length needs), and bits
// past the length cleared on reading.
func TestIPv6PrefixWire(t *testing.T) {
	r := &aaa.AuthReply{Accept: true, IPv6: aaa.IPv6Grant{
		Prefixes:  []netip.Prefix{netip.MustParsePrefix("2001:db8:0:1::/64")},
		Delegated: netip.MustParsePrefix("2001:db8:ab00::/40"),
	}}
	attrs, err := r.AppendAttributes(nil, secret, reqAuth)
	if err != nil {
		t.Fatal(err)
	}
	want := radius.Attributes{
		{Type: 97, Attribute: radius.Attribute{0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1}},
		{Type: 123, Attribute: radius.Attribute{0, 40, 0x20, 0x01, 0x0d, 0xb8, 0xab}},
	}
	if d := cmp.Diff(want, attrs); d != "" {
		t.Errorf("attributes (-want +got):\n%s", d)
	}
	got, err := parseReply(t, radius.CodeAccessAccept, radius.Attributes{
		{Type: 97, Attribute: radius.Attribute{0, 60, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x1f, 0xff}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := got.IPv6.Prefixes; len(p) != 1 || p[0] != netip.MustParsePrefix("2001:db8:0:10::/60") {
		t.Errorf("prefix with bits past its length: %v, want 2001:db8:0:10::/60", p)
	}
}

func FuzzParseAuthReply(f *testing.F) {
	golden := &aaa.AuthReply{
		Accept: true, ReplyMessage: "hi", FramedIP: netip.MustParseAddr("100.64.1.1"), FramedPool: "p",
		DNS: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, SessionTimeout: time.Hour, Class: [][]byte{{1}},
		FramedRoutes: []string{"10.0.0.0/8"}, FilterID: "5/6", RateLimit: aaa.RateLimit{DownKbps: 5, UpKbps: 6},
		Tunnels: []aaa.TunnelChoice{{Tag: 1, Type: aaa.TunnelL2TP, Password: []byte("pw"), Preference: 2, HasPreference: true}},
	}
	attrs, err := golden.AppendAttributes(nil, secret, reqAuth)
	if err != nil {
		f.Fatal(err)
	}
	b, _ := (&radius.Packet{Code: radius.CodeAccessAccept, Attributes: attrs}).MarshalBinary()
	f.Add(b[20:])
	f.Add(append([]byte{26, 12}, vsa(14988, 8, []byte("1M/2M"))...))
	f.Add([]byte{97, 12, 0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 123, 9, 0, 56, 0x20, 0x01, 0x0d, 0xb8, 0xff, 96, 10, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		attrs, err := radius.ParseAttributes(b)
		if err != nil {
			return
		}
		r1, err := parseReply(t, radius.CodeAccessAccept, attrs)
		if err != nil {
			return
		}
		a2, err := r1.AppendAttributes(nil, secret, reqAuth)
		if err != nil {
			return // a reply this encoder cannot write (three IPv4 DNS servers, say)
		}
		r2, err := parseReply(t, radius.CodeAccessAccept, a2)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if d := cmp.Diff(r1, r2, addrCmp); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

func netipMust(s string) netip.Addr         { return netip.MustParseAddr(s) }
func netipPrefixMust(s string) netip.Prefix { return netip.MustParsePrefix(s) }
