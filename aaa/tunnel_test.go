package aaa_test

import (
	"bytes"
	"testing"

	"github.com/bras-project/bras/aaa"
	"github.com/google/go-cmp/cmp"
	"layeh.com/radius"
)

var reqAuth = [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// Two tunnels as in RFC 2868 section 4's example (tags 1 and 2), the
// second preferred, in the order a server sends them.
func TestParseTunnelsGolden(t *testing.T) {
	pw, err := radius.NewTunnelPassword([]byte("tunnel-secret"), []byte{0x80, 0x01}, secret, reqAuth[:])
	if err != nil {
		t.Fatal(err)
	}
	attrs := radius.Attributes{
		{Type: 64, Attribute: radius.Attribute{1, 0, 0, 3}},                // Tunnel-Type:1 = L2TP
		{Type: 65, Attribute: radius.Attribute{1, 0, 0, 1}},                // Tunnel-Medium-Type:1 = IPv4
		{Type: 67, Attribute: append(radius.Attribute{1}, "192.0.2.1"...)}, // Tunnel-Server-Endpoint:1
		{Type: 83, Attribute: radius.Attribute{1, 0, 0, 20}},               // Tunnel-Preference:1 = 20
		{Type: 64, Attribute: radius.Attribute{2, 0, 0, 3}},                // Tunnel-Type:2 = L2TP
		{Type: 65, Attribute: radius.Attribute{2, 0, 0, 1}},                // Tunnel-Medium-Type:2 = IPv4
		{Type: 67, Attribute: append(radius.Attribute{2}, "192.0.2.2"...)}, // Tunnel-Server-Endpoint:2
		{Type: 69, Attribute: append(radius.Attribute{2}, pw...)},          // Tunnel-Password:2
		{Type: 82, Attribute: append(radius.Attribute{2}, "lns-b"...)},     // Tunnel-Assignment-Id:2
		{Type: 90, Attribute: append(radius.Attribute{2}, "lac1"...)},      // Tunnel-Client-Auth-Id:2
		{Type: 83, Attribute: radius.Attribute{2, 0, 0, 10}},               // Tunnel-Preference:2 = 10
		{Type: 1, Attribute: radius.Attribute("user@realm")},               // not a tunnel attribute
	}
	got, err := aaa.ParseTunnels(attrs, secret, reqAuth)
	if err != nil {
		t.Fatal(err)
	}
	want := []aaa.TunnelChoice{
		{Tag: 2, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "192.0.2.2", Password: []byte("tunnel-secret"),
			AssignmentID: "lns-b", ClientAuthID: "lac1", Preference: 10, HasPreference: true},
		{Tag: 1, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "192.0.2.1", Preference: 20, HasPreference: true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestParseTunnelsErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs radius.Attributes
	}{
		{"short Tunnel-Type", radius.Attributes{{Type: 64, Attribute: radius.Attribute{1, 3}}}},
		{"tag above 0x1f", radius.Attributes{{Type: 64, Attribute: radius.Attribute{0x20, 0, 0, 3}}}},
		{"short Tunnel-Password", radius.Attributes{{Type: 64, Attribute: radius.Attribute{1, 0, 0, 3}}, {Type: 69, Attribute: radius.Attribute{1, 0x80, 1, 2}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := aaa.ParseTunnels(tc.attrs, secret, reqAuth); err == nil {
				t.Error("accepted")
			}
		})
	}
	if got, err := aaa.ParseTunnels(radius.Attributes{{Type: 67, Attribute: radius.Attribute("x")}}, secret, reqAuth); err != nil || got != nil {
		t.Errorf("no Tunnel-Type: got %v, %v; want no choice", got, err)
	}
}

func TestTunnelChoicesRoundTrip(t *testing.T) {
	in := []aaa.TunnelChoice{
		{Tag: 1, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "10.0.0.1", Password: []byte("p1"), Preference: 1, HasPreference: true},
		{Tag: 3, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "10.0.0.3", Password: bytes.Repeat([]byte("x"), 40), AssignmentID: "a3"},
	}
	attrs, err := aaa.AppendTunnelChoices(nil, in, secret, reqAuth)
	if err != nil {
		t.Fatal(err)
	}
	got, err := aaa.ParseTunnels(attrs, secret, reqAuth)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func FuzzParseTunnels(f *testing.F) {
	golden, _ := aaa.AppendTunnelChoices(nil, []aaa.TunnelChoice{
		{Tag: 1, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "10.0.0.1", Password: []byte("p1"), Preference: 1, HasPreference: true},
		{Tag: 0, Type: aaa.TunnelL2TP, ClientAuthID: "lac"},
	}, secret, reqAuth)
	p := &radius.Packet{Code: radius.CodeAccessAccept, Attributes: golden}
	b, _ := p.MarshalBinary()
	f.Add(b[20:])
	f.Add([]byte{64, 6, 1, 0, 0, 3, 67, 4, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		attrs, err := radius.ParseAttributes(b)
		if err != nil {
			return
		}
		c1, err := aaa.ParseTunnels(attrs, secret, reqAuth)
		if err != nil || c1 == nil {
			return
		}
		for i := range c1 {
			// Values a server could not have sent: Tunnel-Type carries 24
			// bits; a string whose first octet reads as a tag cannot
			// be told apart after a tag-0 encoding.
			c1[i].Type &= 0xffffff
		}
		a2, err := aaa.AppendTunnelChoices(nil, c1, secret, reqAuth)
		if err != nil {
			return // e.g. a value grown past 253 bytes by its tag
		}
		c2, err := aaa.ParseTunnels(a2, secret, reqAuth)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if d := cmp.Diff(c1, c2); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

func TestParseRateLimit(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    aaa.RateLimit
		wantErr bool
	}{
		{in: "10240/2048", want: aaa.RateLimit{DownKbps: 10240, UpKbps: 2048}},
		{in: "5000", want: aaa.RateLimit{DownKbps: 5000, UpKbps: 5000}},
		{in: " 100M/20M ", want: aaa.RateLimit{DownKbps: 100000, UpKbps: 20000}},
		{in: "1G/512k", want: aaa.RateLimit{DownKbps: 1000000, UpKbps: 512}},
		{in: "0/0", want: aaa.RateLimit{}},
		{in: "", wantErr: true},
		{in: "fast", wantErr: true},
		{in: "10/", wantErr: true},
		{in: "-1/5", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
		{in: "18446744073709551G", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := aaa.ParseRateLimit(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"10240/2048", "5000", "100M/20M", "1G/512k", "0/0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r1, err := aaa.ParseRateLimit(s)
		if err != nil {
			return
		}
		r2, err := aaa.ParseRateLimit(r1.String())
		if err != nil {
			t.Fatalf("re-parse %q: %v", r1.String(), err)
		}
		if r1 != r2 {
			t.Fatalf("round trip %v -> %q -> %v", r1, r1.String(), r2)
		}
	})
}
