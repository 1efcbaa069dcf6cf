package l2tp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// headerCases are golden headers assembled from the layout of RFC 2661
// section 3.1 (Figure 3.1), one field per line.
var headerCases = []struct {
	name    string
	b       []byte
	h       Header
	payload []byte
}{
	{
		name: "control ZLB, section 3.1 and 5.8",
		b: []byte{
			0xc8, 0x02, // T=1 L=1 S=1, Ver=2
			0x00, 0x0c, // Length 12
			0x12, 0x34, // Tunnel ID
			0x00, 0x00, // Session ID
			0x00, 0x05, // Ns
			0x00, 0x07, // Nr
		},
		h: Header{Control: true, HasLength: true, HasSeq: true, Length: 12, TunnelID: 0x1234, Ns: 5, Nr: 7},
	},
	{
		name: "control with payload and trailing link padding, section 3.1",
		b: []byte{
			0xc8, 0x02, // T=1 L=1 S=1, Ver=2
			0x00, 0x0e, // Length 14
			0x00, 0x01, // Tunnel ID
			0x00, 0x02, // Session ID
			0xff, 0xff, // Ns
			0x00, 0x00, // Nr
			0xaa, 0xbb, // payload
			0x00, 0x00, // past Length: ignored
		},
		h:       Header{Control: true, HasLength: true, HasSeq: true, Length: 14, TunnelID: 1, SessionID: 2, Ns: 0xffff},
		payload: []byte{0xaa, 0xbb},
	},
	{
		name: "minimal data message, section 3.1",
		b: []byte{
			0x00, 0x02, // T=0, no L S O P, Ver=2
			0xbe, 0xef, // Tunnel ID
			0xca, 0xfe, // Session ID
			0xff, 0x03, 0xc0, 0x21, // PPP frame
		},
		h:       Header{TunnelID: 0xbeef, SessionID: 0xcafe},
		payload: []byte{0xff, 0x03, 0xc0, 0x21},
	},
	{
		name: "data message with L, S, O and P, section 3.1 and 5.4",
		b: []byte{
			0x4b, 0x02, // T=0 L=1 S=1 O=1 P=1, Ver=2
			0x00, 0x14, // Length 20
			0x00, 0x09, // Tunnel ID
			0x00, 0x0a, // Session ID
			0x01, 0x00, // Ns
			0x00, 0x00, // Nr (reserved in data messages)
			0x00, 0x03, // Offset Size 3
			0x00, 0x00, 0x00, // offset pad
			0xff, 0x03, 0x21, // PPP frame
		},
		h:       Header{HasLength: true, HasSeq: true, HasOffset: true, Priority: true, Length: 20, TunnelID: 9, SessionID: 10, Ns: 0x100, OffsetSize: 3},
		payload: []byte{0xff, 0x03, 0x21},
	},
}

func TestHeaderGolden(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			h, payload, err := ParseHeader(tc.b)
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if diff := cmp.Diff(tc.h, h); diff != "" {
				t.Errorf("ParseHeader header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.payload, payload, cmpEmpty); diff != "" {
				t.Errorf("ParseHeader payload (-want +got):\n%s", diff)
			}
			if got := h.Len(); got != len(tc.b)-len(tc.payload)-trailingOctets(tc.b, tc.h) {
				t.Errorf("Len() = %d", got)
			}
			b, err := AppendHeader(nil, tc.h, len(tc.payload))
			if err != nil {
				t.Fatalf("AppendHeader: %v", err)
			}
			b = append(b, tc.payload...)
			want := tc.b[:len(tc.b)-trailingOctets(tc.b, tc.h)]
			if diff := cmp.Diff(want, b); diff != "" {
				t.Errorf("AppendHeader (-want +got):\n%s", diff)
			}
		})
	}
}

// trailing is the number of octets of b past the header's Length.
func trailingOctets(b []byte, h Header) int {
	if h.HasLength {
		return len(b) - int(h.Length)
	}
	return 0
}

var cmpEmpty = cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"5 octets", []byte{0x00, 0x02, 0, 1, 0}, ErrShort},
		{"version 1 (L2F), section 3.1", []byte{0x00, 0x01, 0, 1, 0, 1}, ErrMalformed},
		{"version 3 (L2TPv3)", []byte{0xc8, 0x03, 0, 12, 0, 1, 0, 1, 0, 0, 0, 0}, ErrMalformed},
		{"control without L", []byte{0x88, 0x02, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}, ErrMalformed},
		{"control without S", []byte{0xc0, 0x02, 0, 8, 0, 1, 0, 1}, ErrMalformed},
		{"control with O", []byte{0xca, 0x02, 0, 14, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}, ErrMalformed},
		{"control cut in Nr", []byte{0xc8, 0x02, 0, 12, 0, 1, 0, 1, 0, 0, 0}, ErrShort},
		{"Length under header", []byte{0xc8, 0x02, 0, 11, 0, 1, 0, 1, 0, 0, 0, 0}, ErrMalformed},
		{"Length past datagram", []byte{0xc8, 0x02, 0, 13, 0, 1, 0, 1, 0, 0, 0, 0}, ErrShort},
		{"data offset pad past end", []byte{0x02, 0x02, 0, 1, 0, 1, 0, 4, 0, 0}, ErrShort},
		{"data Length shorter than offset pad", []byte{0x42, 0x02, 0, 11, 0, 1, 0, 1, 0, 2, 0, 0}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseHeader(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseHeader(% x) = %v, want %v", tc.b, err, tc.want)
			}
		})
	}
}

func TestParseHeaderIgnoresReservedBits(t *testing.T) {
	// Section 3.1: reserved bits are ignored on receipt; P means nothing on
	// a control message.
	b := []byte{0xfd, 0xf2, 0, 12, 0, 1, 0, 2, 0, 3, 0, 4}
	h, _, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{Control: true, HasLength: true, HasSeq: true, Length: 12, TunnelID: 1, SessionID: 2, Ns: 3, Nr: 4}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAppendHeader(t *testing.T) {
	t.Run("control forces L and S and computes Length", func(t *testing.T) {
		b, err := AppendHeader([]byte{0xee}, Header{Control: true, TunnelID: 7, Ns: 1, Nr: 2, Length: 999}, 20)
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{0xee, 0xc8, 0x02, 0, 32, 0, 7, 0, 0, 0, 1, 0, 2}
		if diff := cmp.Diff(want, b); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	for _, h := range []Header{{Control: true, HasOffset: true}, {Control: true, Priority: true}} {
		if _, err := AppendHeader(nil, h, 0); !errors.Is(err, ErrMalformed) {
			t.Errorf("AppendHeader(%+v) = %v, want ErrMalformed", h, err)
		}
	}
	if _, err := AppendHeader(nil, Header{HasLength: true}, 0xffff); !errors.Is(err, ErrMalformed) {
		t.Errorf("AppendHeader of 65541 octets = %v, want ErrMalformed", err)
	}
	if _, err := AppendHeader(nil, Header{}, -1); !errors.Is(err, ErrMalformed) {
		t.Errorf("AppendHeader of negative payload = %v, want ErrMalformed", err)
	}
}

// dataHeader is the header the data plane sends when sequencing is on.
var dataHeader = Header{HasLength: true, HasSeq: true, TunnelID: 0x1234, SessionID: 0x5678, Ns: 42}

func TestDataHeaderAllocs(t *testing.T) {
	pkt, err := AppendHeader(make([]byte, 0, 1500), dataHeader, 64)
	if err != nil {
		t.Fatal(err)
	}
	pkt = pkt[:cap(pkt)][:dataHeader.Len()+64]
	buf := make([]byte, 0, 64)
	var sink int
	if n := testing.AllocsPerRun(1000, func() {
		h, p, err := ParseHeader(pkt)
		if err != nil {
			panic(err)
		}
		sink += len(p) + int(h.SessionID)
	}); n != 0 {
		t.Errorf("ParseHeader allocates %v times per run, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		b, err := AppendHeader(buf[:0], dataHeader, 64)
		if err != nil {
			panic(err)
		}
		sink += len(b)
	}); n != 0 {
		t.Errorf("AppendHeader allocates %v times per run, want 0", n)
	}
	// Bad input costs nothing either: errors are preallocated.
	bad := []byte{0xc8, 0x02, 0, 99, 0, 1, 0, 1, 0, 0, 0, 0}
	if n := testing.AllocsPerRun(1000, func() {
		if _, _, err := ParseHeader(bad); err == nil {
			panic("no error")
		}
	}); n != 0 {
		t.Errorf("ParseHeader of a bad packet allocates %v times per run, want 0", n)
	}
	_ = sink
}

func BenchmarkParseDataHeader(b *testing.B) {
	pkt, _ := AppendHeader(nil, dataHeader, 1400)
	pkt = append(pkt, make([]byte, 1400)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, err := ParseHeader(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDataHeader(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendHeader(buf[:0], dataHeader, 1400); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, tc := range headerCases {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := ParseHeader(b)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps neither ErrShort nor ErrMalformed: %v", err)
			}
			return
		}
		if h.HasLength && int(h.Length) != h.Len()+len(payload) {
			t.Fatalf("Length %d, header %d + payload %d", h.Length, h.Len(), len(payload))
		}
		out, err := AppendHeader(nil, h, len(payload))
		if err != nil {
			t.Fatalf("AppendHeader(%+v): %v", h, err)
		}
		out = append(out, payload...)
		h2, payload2, err := ParseHeader(out)
		if err != nil {
			t.Fatalf("re-parse of % x: %v", out, err)
		}
		if diff := cmp.Diff(h, h2); diff != "" {
			t.Fatalf("header round trip (-first +second):\n%s", diff)
		}
		if string(payload) != string(payload2) {
			t.Fatalf("payload round trip: % x != % x", payload, payload2)
		}
	})
}
