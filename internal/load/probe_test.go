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
		{"IPv6", mod(func(b []byte) []byte { b[0] = 0x65; return b }), ErrMalformed},
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
		t.Errorf("IPv6 Append = %v, want ErrMalformed", err)
	}
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
