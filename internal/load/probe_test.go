package load

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goldenProbe is a probe header, field by field (the format of Probe's doc).
var goldenProbe = []byte{
	'B', 'R', 'L', 'D', // magic
	0x00, 0x00, 0x01, 0x02, // session 258
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // sequence number 42
	0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // sent, unix ns
}

// goldenUDP is an IPv4/UDP packet 100.64.0.9:20009 → 198.51.100.7:9000
// carrying "hi"; its two checksums are filled in by init with a plain
// reference implementation of RFC 1071, independent of the codec's.
var goldenUDP = []byte{
	0x45, 0x00, 0x00, 0x1e, // version 4, IHL 5, TOS 0, total length 30
	0x00, 0x00, 0x00, 0x00, // identification 0, flags 0, fragment offset 0
	0x40, 0x11, 0x00, 0x00, // TTL 64, protocol UDP, header checksum (patched below)
	100, 64, 0, 9, // source
	198, 51, 100, 7, // destination
	0x4e, 0x29, 0x23, 0x28, // ports 20009 → 9000
	0x00, 0x0a, 0x00, 0x00, // UDP length 10, checksum (patched below)
	'h', 'i', // payload
}

func init() {
	// Header checksum (RFC 791 3.1) and UDP checksum (RFC 768) by the
	// straightforward reference computation, independent of sum/fold.
	ref := func(words ...[]byte) uint16 {
		var c uint64
		for _, b := range words {
			for i := 0; i < len(b); i += 2 {
				v := uint64(b[i]) << 8
				if i+1 < len(b) {
					v |= uint64(b[i+1])
				}
				c += v
			}
		}
		for c>>16 != 0 {
			c = c&0xffff + c>>16
		}
		return ^uint16(c)
	}
	h := ref(goldenUDP[:20])
	goldenUDP[10], goldenUDP[11] = byte(h>>8), byte(h)
	pseudo := []byte{100, 64, 0, 9, 198, 51, 100, 7, 0, 17, 0, 10}
	u := ref(pseudo, goldenUDP[20:])
	goldenUDP[26], goldenUDP[27] = byte(u>>8), byte(u)
}

func TestProbeGolden(t *testing.T) {
	want := Probe{Session: 258, Seq: 42, Sent: 0x1800000000000001}
	got, err := ParseProbe(goldenProbe)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseProbe (-want +got):\n%s", diff)
	}
	b, _ := want.Append(nil)
	if !bytes.Equal(b, goldenProbe) {
		t.Errorf("Append = %x, want %x", b, goldenProbe)
	}
	// Padding after the header is allowed.
	if _, err := ParseProbe(append(append([]byte(nil), goldenProbe...), 0, 0, 0)); err != nil {
		t.Errorf("padded probe: %v", err)
	}
}

func TestProbeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"one short", goldenProbe[:ProbeLen-1], ErrShort},
		{"bad magic", append([]byte("XRLD"), goldenProbe[4:]...), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseProbe(tt.in); !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "load: ") {
				t.Errorf("ParseProbe = %v, want %v with the package prefix", err, tt.want)
			}
		})
	}
}

func TestUDPGolden(t *testing.T) {
	want := UDP{Src: netip.MustParseAddrPort("100.64.0.9:20009"), Dst: netip.MustParseAddrPort("198.51.100.7:9000"), Payload: []byte("hi")}
	got, err := ParseUDP(goldenUDP)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("ParseUDP (-want +got):\n%s", diff)
	}
	b, err := want.Append([]byte{0x00, 0x21})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[2:], goldenUDP) {
		t.Errorf("Append =\n%x, want\n%x", b[2:], goldenUDP)
	}
}

func TestUDPErrors(t *testing.T) {
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), goldenUDP...)) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short header", goldenUDP[:19], ErrShort},
		{"version 5", mod(func(b []byte) []byte { b[0] = 0x55; return b }), ErrMalformed},
		{"IPv4 header read as IPv6", mod(func(b []byte) []byte { b[0] = 0x65; return b }), ErrShort},
		{"IHL 4", mod(func(b []byte) []byte { b[0] = 0x44; return b }), ErrMalformed},
		{"IHL past the end", mod(func(b []byte) []byte { b[0] = 0x4f; return b }), ErrMalformed},
		{"total beyond the buffer", goldenUDP[:29], ErrMalformed},
		{"TCP", mod(func(b []byte) []byte { b[9] = 6; return b }), ErrMalformed},
		{"fragment", mod(func(b []byte) []byte { b[6] = 0x20; return b }), ErrMalformed},
		{"UDP length 7", mod(func(b []byte) []byte { b[25] = 7; return b }), ErrMalformed},
		{"UDP length beyond IP", mod(func(b []byte) []byte { b[25] = 11; return b }), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseUDP(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("ParseUDP = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := (UDP{Src: netip.MustParseAddrPort("[::1]:1"), Dst: netip.MustParseAddrPort("1.2.3.4:5")}).Append(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("mixed-family Append = %v, want ErrMalformed", err)
	}
}

// goldenUDP6 is an IPv6/UDP packet [2001:db8:1:7::7]:20007 →
// [2001:db8:ff::2]:9000 carrying "hi"; init fills in its checksum with the
// reference computation.
var goldenUDP6 = []byte{
	0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
	0x00, 0x0a, 0x11, 0x40, // payload length 10, next header UDP, hop limit 64
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 7, // source
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0xff, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 2, // destination
	0x4e, 0x27, 0x23, 0x28, // ports 20007 → 9000
	0x00, 0x0a, 0x00, 0x00, // UDP length 10, checksum (patched below)
	'h', 'i', // payload
}

func init() {
	// RFC 8200 section 8.1's pseudo-header: source, destination, upper-layer
	// length (32 bits), zeros and next header (32 bits).
	var c uint64
	add := func(b []byte) {
		for i := 0; i < len(b); i += 2 {
			v := uint64(b[i]) << 8
			if i+1 < len(b) {
				v |= uint64(b[i+1])
			}
			c += v
		}
	}
	add(goldenUDP6[8:40])
	add([]byte{0, 0, 0, 10, 0, 0, 0, 17})
	add(goldenUDP6[40:])
	for c>>16 != 0 {
		c = c&0xffff + c>>16
	}
	goldenUDP6[46], goldenUDP6[47] = byte(^uint16(c)>>8), byte(^uint16(c))
}

func TestUDP6Golden(t *testing.T) {
	want := UDP{Src: netip.MustParseAddrPort("[2001:db8:1:7::7]:20007"), Dst: netip.MustParseAddrPort("[2001:db8:ff::2]:9000"), Payload: []byte("hi")}
	got, err := ParseUDP(goldenUDP6)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("ParseUDP (-want +got):\n%s", diff)
	}
	b, err := want.Append([]byte{0x00, 0x57})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[2:], goldenUDP6) {
		t.Errorf("Append =\n%x, want\n%x", b[2:], goldenUDP6)
	}
	ip, err := ParseIPv6(goldenUDP6)
	if err != nil {
		t.Fatal(err)
	}
	if ip.Next != 17 || ip.HopLimit != 64 || ip.Src != want.Src.Addr() || ip.Dst != want.Dst.Addr() || !bytes.Equal(ip.Payload, goldenUDP6[40:]) {
		t.Errorf("ParseIPv6 = %+v", ip)
	}
	if out, err := ip.Append(nil); err != nil || !bytes.Equal(out, goldenUDP6) {
		t.Errorf("IPv6.Append = %x, %v; want the golden packet", out, err)
	}
}

func TestUDP6Errors(t *testing.T) {
	mod := func(f func(b []byte)) []byte { b := append([]byte(nil), goldenUDP6...); f(b); return b }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"short header", goldenUDP6[:39], ErrShort},
		{"payload length past the end", mod(func(b []byte) { b[5] = 11 }), ErrMalformed},
		{"payload shorter than UDP", mod(func(b []byte) { b[5] = 7 }), ErrShort},
		{"TCP", mod(func(b []byte) { b[6] = 6 }), ErrMalformed},
		{"extension header", mod(func(b []byte) { b[6] = 0 }), ErrMalformed},
		{"UDP length differs", mod(func(b []byte) { b[45] = 9 }), ErrMalformed},
		{"zero checksum", mod(func(b []byte) { b[46], b[47] = 0, 0 }), ErrMalformed},
		{"bad checksum", mod(func(b []byte) { b[48] ^= 1 }), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseUDP(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("ParseUDP = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := ParseIPv6(goldenUDP); !errors.Is(err, ErrShort) {
		t.Errorf("ParseIPv6 of a short IPv4 packet = %v", err)
	}
	if _, err := (IPv6{Src: netip.MustParseAddr("1.2.3.4"), Dst: netip.MustParseAddr("::1")}).Append(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("IPv6.Append from IPv4 = %v", err)
	}
}

func TestParseUDP6Allocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseUDP(goldenUDP6) }); n != 0 {
		t.Errorf("ParseUDP of IPv6 allocates %v times", n)
	}
}

func FuzzParseIPv6(f *testing.F) {
	f.Add(goldenUDP6)
	f.Add(goldenUDP6[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := ParseIPv6(b)
		if err != nil {
			return
		}
		out, err := ip.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		ip2, err := ParseIPv6(out)
		if err != nil {
			t.Fatalf("reparse of %x: %v", out, err)
		}
		if ip2.Src != ip.Src || ip2.Dst != ip.Dst || ip2.Next != ip.Next || ip2.HopLimit != ip.HopLimit || !bytes.Equal(ip2.Payload, ip.Payload) {
			t.Fatalf("round trip %+v → %+v", ip, ip2)
		}
	})
}

func TestParseUDPAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseUDP(goldenUDP) }); n != 0 {
		t.Errorf("ParseUDP allocates %v times", n)
	}
}

func FuzzParseProbe(f *testing.F) {
	f.Add(goldenProbe)
	f.Add(goldenProbe[:10])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProbe(b)
		if err != nil {
			return
		}
		out, err := p.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b[:ProbeLen]) {
			t.Fatalf("round trip %x → %x", b[:ProbeLen], out)
		}
		p2, err := ParseProbe(out)
		if err != nil || p2 != p {
			t.Fatalf("reparse %+v, %v; want %+v", p2, err, p)
		}
	})
}

func FuzzParseUDP(f *testing.F) {
	f.Add(goldenUDP)
	f.Add(goldenUDP[:24])
	f.Add(goldenUDP6)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUDP(b)
		if err != nil {
			return
		}
		out, err := u.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		u2, err := ParseUDP(out)
		if err != nil {
			t.Fatalf("reparse of %x: %v", out, err)
		}
		if u2.Src != u.Src || u2.Dst != u.Dst || !bytes.Equal(u2.Payload, u.Payload) {
			t.Fatalf("round trip %+v → %+v", u, u2)
		}
	})
}
