package ppp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Golden cases built from the packet layouts of the RFCs; each names its source.

var packetGolden = []struct {
	name string
	b    []byte
	want Packet
}{
	{
		name: "RFC 1661 5.1 Configure-Request: MRU 1492, Magic-Number 0x01020304",
		b: []byte{
			0x01,       // Code: Configure-Request
			0x07,       // Identifier
			0x00, 0x0e, // Length: 14
			0x01, 0x04, 0x05, 0xd4, // MRU (6.1): 1492
			0x05, 0x06, 0x01, 0x02, 0x03, 0x04, // Magic-Number (6.4)
		},
		want: Packet{Code: ConfReq, ID: 7, Data: []byte{0x01, 0x04, 0x05, 0xd4, 0x05, 0x06, 0x01, 0x02, 0x03, 0x04}},
	},
	{
		name: "RFC 1661 5.5 Terminate-Ack with no data",
		b:    []byte{0x06, 0x2a, 0x00, 0x04},
		want: Packet{Code: TermAck, ID: 0x2a, Data: []byte{}},
	},
	{
		name: "RFC 1661 5.8 Echo-Request: Magic-Number and data",
		b: []byte{
			0x09, 0x01, 0x00, 0x0a, // Echo-Request, ID 1, Length 10
			0xde, 0xad, 0xbe, 0xef, // Magic-Number
			0x68, 0x69, // Data
		},
		want: Packet{Code: EchoReq, ID: 1, Data: []byte{0xde, 0xad, 0xbe, 0xef, 0x68, 0x69}},
	},
}

func TestPacketGolden(t *testing.T) {
	for _, tc := range packetGolden {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePacket(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			b, err := tc.want.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.b, b); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPacketPaddingIgnored(t *testing.T) {
	// RFC 1661 section 5: octets outside the range of Length are padding.
	got, err := ParsePacket([]byte{0x06, 0x01, 0x00, 0x04, 0x00, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 0 {
		t.Errorf("padding kept as data: %x", got.Data)
	}
}

func TestPacketBad(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"three octets", []byte{1, 1, 0}, ErrShort},
		{"length below header", []byte{1, 1, 0, 3}, ErrMalformed},
		{"length past end", []byte{1, 1, 0, 9, 0}, ErrShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePacket(tc.b); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

var optionsGolden = []struct {
	name string
	b    []byte
	want []Option
}{
	{
		name: "RFC 1661 6.2 Auth-Protocol PAP and 6.5 PFC",
		b: []byte{
			0x03, 0x04, 0xc0, 0x23, // Auth-Protocol: PAP
			0x07, 0x02, // PFC, no data
		},
		want: []Option{{Type: 3, Data: []byte{0xc0, 0x23}}, {Type: 7, Data: []byte{}}},
	},
	{
		name: "RFC 1994 3 Auth-Protocol CHAP with MD5; unknown option 99 kept raw",
		b: []byte{
			0x03, 0x05, 0xc2, 0x23, 0x05, // Auth-Protocol: CHAP, Algorithm 5
			0x63, 0x03, 0xaa, // unknown 99
		},
		want: []Option{{Type: 3, Data: []byte{0xc2, 0x23, 0x05}}, {Type: 99, Data: []byte{0xaa}}},
	},
	{
		name: "RFC 1332 3.3 IP-Address, RFC 1877 1.1/1.3 DNS",
		b: []byte{
			0x03, 0x06, 10, 0, 0, 1, // IP-Address 10.0.0.1
			0x81, 0x06, 192, 0, 2, 53, // Primary-DNS 192.0.2.53
			0x83, 0x06, 192, 0, 2, 54, // Secondary-DNS 192.0.2.54
		},
		want: []Option{{Type: 3, Data: []byte{10, 0, 0, 1}}, {Type: 129, Data: []byte{192, 0, 2, 53}}, {Type: 131, Data: []byte{192, 0, 2, 54}}},
	},
	{
		name: "RFC 5072 4.1 IPv6CP Interface-Identifier",
		b:    []byte{0x01, 0x0a, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55},
		want: []Option{{Type: 1, Data: []byte{0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}}},
	},
}

func TestOptionsGolden(t *testing.T) {
	for _, tc := range optionsGolden {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOptions(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			b, err := AppendOptions(nil, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.b, b); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptionsBadLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"length 0", []byte{1, 0, 5, 0xd4}, ErrMalformed},
		{"length 1", []byte{1, 1}, ErrMalformed},
		{"lone type octet", []byte{1, 4, 5, 0xd4, 7}, ErrShort},
		{"length past end", []byte{5, 6, 1, 2}, ErrShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseOptions(tc.b); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

var papGolden = []struct {
	name string
	b    []byte
	want PAPPacket
}{
	{
		name: "RFC 1334 2.2.1 Authenticate-Request",
		b: []byte{
			0x01, 0x03, 0x00, 0x0e, // Code 1, ID 3, Length 14
			0x04, 'u', 's', 'e', 'r', // Peer-ID Length, Peer-Id
			0x04, 'p', 'a', 's', 's', // Passwd-Length, Password
		},
		want: PAPPacket{Code: PAPRequest, ID: 3, PeerID: []byte("user"), Password: []byte("pass")},
	},
	{
		name: "RFC 1334 2.2.2 Authenticate-Ack with message",
		b:    []byte{0x02, 0x03, 0x00, 0x07, 0x02, 'o', 'k'},
		want: PAPPacket{Code: PAPAck, ID: 3, Message: []byte("ok")},
	},
	{
		name: "RFC 1334 2.2.2 Authenticate-Nak, empty message",
		b:    []byte{0x03, 0x09, 0x00, 0x05, 0x00},
		want: PAPPacket{Code: PAPNak, ID: 9, Message: []byte{}},
	},
}

func TestPAPGolden(t *testing.T) {
	for _, tc := range papGolden {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePAP(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			b, err := tc.want.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.b, b); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPAPBad(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"peer-id past end", []byte{0x01, 0x01, 0x00, 0x06, 0x09, 'a'}},
		{"no passwd-length", []byte{0x01, 0x01, 0x00, 0x06, 0x01, 'a'}},
		{"password past end", []byte{0x01, 0x01, 0x00, 0x08, 0x01, 'a', 0x05, 'b'}},
		{"message past end", []byte{0x02, 0x01, 0x00, 0x06, 0x05, 'a'}},
		{"unknown code", []byte{0x07, 0x01, 0x00, 0x04}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePAP(tc.b); err == nil {
				t.Error("parsed without error")
			}
		})
	}
}

var chapGolden = []struct {
	name string
	b    []byte
	want CHAPPacket
}{
	{
		name: "RFC 1994 4.1 Challenge: 16-octet value, name \"lns\"",
		b: append([]byte{
			0x01, 0x11, 0x00, 0x18, // Code 1, ID 0x11, Length 24
			0x10, // Value-Size 16
		}, append(bytes.Repeat([]byte{0xa5}, 16), 'l', 'n', 's')...),
		want: CHAPPacket{Code: CHAPChallenge, ID: 0x11, Value: bytes.Repeat([]byte{0xa5}, 16), Name: []byte("lns")},
	},
	{
		name: "RFC 1994 4.1 Response: 16-octet MD5 value, no name",
		b:    append([]byte{0x02, 0x11, 0x00, 0x15, 0x10}, bytes.Repeat([]byte{0x01}, 16)...),
		want: CHAPPacket{Code: CHAPResponse, ID: 0x11, Value: bytes.Repeat([]byte{0x01}, 16), Name: []byte{}},
	},
	{
		name: "RFC 1994 4.2 Success with message",
		b:    []byte{0x03, 0x11, 0x00, 0x06, 'o', 'k'},
		want: CHAPPacket{Code: CHAPSuccess, ID: 0x11, Message: []byte("ok")},
	},
	{
		name: "RFC 1994 4.2 Failure, no message",
		b:    []byte{0x04, 0x12, 0x00, 0x04},
		want: CHAPPacket{Code: CHAPFailure, ID: 0x12, Message: []byte{}},
	},
}

func TestCHAPGolden(t *testing.T) {
	for _, tc := range chapGolden {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCHAP(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			b, err := tc.want.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.b, b); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCHAPBad(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"no value-size", []byte{0x01, 0x01, 0x00, 0x04}},
		{"zero value-size", []byte{0x02, 0x01, 0x00, 0x05, 0x00}},
		{"value past end", []byte{0x02, 0x01, 0x00, 0x06, 0x10, 0x01}},
		{"unknown code", []byte{0x09, 0x01, 0x00, 0x04}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCHAP(tc.b); err == nil {
				t.Error("parsed without error")
			}
		})
	}
}

func TestProtocol(t *testing.T) {
	for _, tc := range []struct {
		name     string
		b        []byte
		want     Protocol
		wantRest []byte
		err      bool
	}{
		{"LCP", []byte{0xc0, 0x21, 1}, ProtoLCP, []byte{1}, false},
		{"PFC-compressed IPv4 (RFC 1661 6.5)", []byte{0x21, 0x45}, ProtoIPv4, []byte{0x45}, false},
		{"even low octet", []byte{0xc0, 0x20}, 0, nil, true},
		{"one even octet", []byte{0xc0}, 0, nil, true},
		{"empty", nil, 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, rest, err := ParseProtocol(tc.b)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if p != tc.want || !bytes.Equal(rest, tc.wantRest) {
				t.Errorf("got %v %x, want %v %x", p, rest, tc.want, tc.wantRest)
			}
		})
	}
	if got := StripAddressControl([]byte{0xff, 0x03, 0xc0, 0x21}); !bytes.Equal(got, []byte{0xc0, 0x21}) {
		t.Errorf("StripAddressControl = %x", got)
	}
	if got := StripAddressControl([]byte{0xc0, 0x21}); !bytes.Equal(got, []byte{0xc0, 0x21}) {
		t.Errorf("StripAddressControl without FF 03 = %x", got)
	}
	if ProtoCHAP.String() != "CHAP" || Protocol(0x1234).String() != "Protocol(0x1234)" {
		t.Error("Protocol.String")
	}
}

// Fuzz targets: parse, append, parse again must give the same value.

func FuzzParsePacket(f *testing.F) {
	for _, tc := range packetGolden {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			return
		}
		out, err := p.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParsePacket(out)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseOptions(f *testing.F) {
	for _, tc := range optionsGolden {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOptions(b)
		if err != nil {
			return
		}
		out, err := AppendOptions(nil, o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Errorf("append = %x, want the input %x", out, b)
		}
		o2, err := ParseOptions(out)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(o, o2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParsePAP(f *testing.F) {
	for _, tc := range papGolden {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePAP(b)
		if err != nil {
			return
		}
		out, err := p.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParsePAP(out)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, p2, cmpEmpty); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseCHAP(f *testing.F) {
	for _, tc := range chapGolden {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseCHAP(b)
		if err != nil {
			return
		}
		out, err := p.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParseCHAP(out)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, p2, cmpEmpty); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

// cmpEmpty treats a nil and an empty byte slice as equal: a PAP Ack without
// Msg-Length parses to a nil message and is re-encoded with Msg-Length 0.
var cmpEmpty = cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })

func FuzzParseProtocol(f *testing.F) {
	f.Add([]byte{0xc0, 0x21, 1, 2})
	f.Add([]byte{0x21, 0x45})
	f.Add([]byte{0x80, 0x57})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, rest, err := ParseProtocol(b)
		if err != nil {
			return
		}
		out := append(AppendProtocol(nil, p), rest...)
		p2, rest2, err := ParseProtocol(out)
		if err != nil {
			t.Fatal(err)
		}
		if p2 != p || !bytes.Equal(rest, rest2) {
			t.Errorf("round trip: %v %x, then %v %x", p, rest, p2, rest2)
		}
	})
}

// TestIPv6CPConfigureRequest is the IPv6CP codec kept for later: a
// Configure-Request carrying an Interface-Identifier, RFC 5072 section 4.1,
// through the shared packet and option codecs.
func TestIPv6CPConfigureRequest(t *testing.T) {
	b := []byte{
		0x01, 0x01, 0x00, 0x0e, // Configure-Request, ID 1, Length 14
		0x01, 0x0a, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55, // Interface-Identifier
	}
	p, err := ParsePacket(b)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := ParseOptions(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	want := []Option{{Type: uint8(IPv6CPInterfaceID), Data: []byte{0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}}}
	if diff := cmp.Diff(want, opts); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
	data, _ := AppendOptions(nil, want)
	out, _ := Packet{Code: ConfReq, ID: 1, Data: data}.Append(nil)
	if !bytes.Equal(out, b) {
		t.Errorf("append = %x, want %x", out, b)
	}
	if IPv6CPInterfaceID.String() != "Interface-Identifier" || ProtoIPv6CP.String() != "IPv6CP" {
		t.Error("String")
	}
}
