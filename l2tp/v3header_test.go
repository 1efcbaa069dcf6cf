package l2tp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// v3ControlHeaderCases are golden L2TPv3 control headers built from the
// layouts of RFC 3931 Figure 3.2.1 and Figure 4.1.1.2, one field per line.
var v3ControlHeaderCases = []struct {
	name    string
	encap   Encap
	b       []byte
	h       V3ControlHeader
	payload []byte
}{
	{
		name:  "ZLB over UDP, section 3.2.1",
		encap: EncapUDP,
		b: []byte{
			0xc8, 0x03, // T=1 L=1 S=1, Ver=3
			0x00, 0x0c, // Length 12
			0x01, 0x02, 0x03, 0x04, // Control Connection ID
			0x00, 0x05, // Ns
			0x00, 0x07, // Nr
		},
		h: V3ControlHeader{Length: 12, ConnID: 0x01020304, Ns: 5, Nr: 7},
	},
	{
		name:  "over UDP with AVPs and trailing octets, section 3.2.1",
		encap: EncapUDP,
		b: []byte{
			0xc8, 0x03, // T=1 L=1 S=1, Ver=3
			0x00, 0x0e, // Length 14
			0xff, 0xff, 0xff, 0xff, // Control Connection ID
			0xff, 0xff, // Ns
			0x00, 0x00, // Nr
			0xaa, 0xbb, // AVPs
			0x00, 0x00, // past Length: ignored
		},
		h:       V3ControlHeader{Length: 14, ConnID: 0xffffffff, Ns: 0xffff},
		payload: []byte{0xaa, 0xbb},
	},
	{
		name:  "over IP, section 4.1.1.2",
		encap: EncapIP,
		b: []byte{
			0x00, 0x00, 0x00, 0x00, // Session ID 0: control
			0xc8, 0x03, // T=1 L=1 S=1, Ver=3
			0x00, 0x0e, // Length 14: not counting the zero Session ID
			0x00, 0x00, 0x00, 0x00, // Control Connection ID (SCCRQ)
			0x00, 0x00, // Ns
			0x00, 0x00, // Nr
			0x80, 0x08, // AVPs
		},
		h:       V3ControlHeader{Length: 14},
		payload: []byte{0x80, 0x08},
	},
}

func parseV3ControlHeaderEncap(b []byte, e Encap) (V3ControlHeader, []byte, error) {
	if e == EncapIP {
		return ParseV3ControlHeaderIP(b)
	}
	return ParseV3ControlHeader(b)
}

func TestV3ControlHeaderGolden(t *testing.T) {
	for _, tc := range v3ControlHeaderCases {
		t.Run(tc.name, func(t *testing.T) {
			h, payload, err := parseV3ControlHeaderEncap(tc.b, tc.encap)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if diff := cmp.Diff(tc.h, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.payload, payload, cmpEmpty); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			b, err := AppendV3ControlHeader([]byte{0xee}, tc.encap, tc.h, len(tc.payload))
			if err != nil {
				t.Fatalf("AppendV3ControlHeader: %v", err)
			}
			b = append(b, tc.payload...)
			want := append([]byte{0xee}, tc.b[:tc.encap.ControlOffset()+int(tc.h.Length)]...)
			if diff := cmp.Diff(want, b); diff != "" {
				t.Errorf("AppendV3ControlHeader (-want +got):\n%s", diff)
			}
		})
	}
}

func TestV3ControlHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		encap Encap
		b     []byte
		want  error
	}{
		{"empty", EncapUDP, nil, ErrShort},
		{"11 octets", EncapUDP, []byte{0xc8, 0x03, 0, 12, 0, 0, 0, 1, 0, 0, 0}, ErrShort},
		{"Ver 2", EncapUDP, []byte{0xc8, 0x02, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0}, ErrMalformed},
		{"data bit", EncapUDP, []byte{0x48, 0x03, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0}, ErrMalformed},
		{"no L", EncapUDP, []byte{0x88, 0x03, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0}, ErrMalformed},
		{"no S", EncapUDP, []byte{0xc0, 0x03, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0}, ErrMalformed},
		{"Length under header", EncapUDP, []byte{0xc8, 0x03, 0, 11, 0, 0, 0, 1, 0, 0, 0, 0}, ErrMalformed},
		{"Length past end", EncapUDP, []byte{0xc8, 0x03, 0, 13, 0, 0, 0, 1, 0, 0, 0, 0}, ErrShort},
		{"IP short", EncapIP, []byte{0, 0, 0}, ErrShort},
		{"IP data message", EncapIP, []byte{0, 0, 0, 1, 0xc8, 0x03, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0}, ErrMalformed},
	} {
		if _, _, err := parseV3ControlHeaderEncap(tc.b, tc.encap); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Reserved bits are ignored on receipt (section 3.2.1).
	b := []byte{0xff, 0xf3, 0, 12, 0, 0, 0, 9, 0, 1, 0, 2}
	if h, _, err := ParseV3ControlHeader(b); err != nil || h.ConnID != 9 {
		t.Errorf("reserved bits set: %+v, %v", h, err)
	}
	if _, err := AppendV3ControlHeader(nil, EncapUDP, V3ControlHeader{}, 0xffff); !errors.Is(err, ErrMalformed) {
		t.Errorf("AppendV3ControlHeader of 65547 octets: %v", err)
	}
}

// TestHeaderVersion: on UDP port 1701, the Ver field tells L2TPv2 from
// L2TPv3 before anything else is read (RFC 3931 sections 4.1.2.1, 4.7.2).
func TestHeaderVersion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       []byte
		ver     uint8
		control bool
	}{
		{"v2 control", goldenBytes["HELLO"], 2, true},
		{"v2 data", []byte{0x40, 0x02, 0, 8}, 2, false},
		{"v3 control", v3GoldenBytes["HELLO"], 3, true},
		{"v3 data over UDP", []byte{0x00, 0x03, 0, 0, 0, 0, 0, 1}, 3, false},
		{"L2F", []byte{0x00, 0x01}, 1, false},
	} {
		ver, control, err := HeaderVersion(tc.b)
		if err != nil || ver != tc.ver || control != tc.control {
			t.Errorf("%s: HeaderVersion = %d, %v, %v; want %d, %v", tc.name, ver, control, err, tc.ver, tc.control)
		}
	}
	if _, _, err := HeaderVersion([]byte{0xc8}); !errors.Is(err, ErrShort) {
		t.Errorf("HeaderVersion of 1 octet: %v", err)
	}
	// A v2 parser refuses v3, and the other way round.
	if _, _, err := ParseHeader(v3GoldenBytes["HELLO"]); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseHeader(v3) = %v", err)
	}
	if _, _, err := ParseV3ControlHeader(goldenBytes["HELLO"]); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseV3ControlHeader(v2) = %v", err)
	}
	for _, tc := range []struct {
		b    []byte
		want bool
	}{
		{[]byte{0, 0, 0, 0, 0xc8, 0x03}, true},
		{[]byte{0, 0, 0, 1}, false},
		{[]byte{0x80, 0, 0, 0}, false},
	} {
		if got, err := V3IPControl(tc.b); err != nil || got != tc.want {
			t.Errorf("V3IPControl(% x) = %v, %v", tc.b, got, err)
		}
	}
}

// v3DataCases are golden data headers of RFC 3931 Figures 4.1.1.1 (IP),
// 4.1.2.1 (UDP) and 4.6 (Default L2-Specific Sublayer), for every cookie
// size.
var v3DataCases = []struct {
	name  string
	f     V3DataFormat
	b     []byte
	h     V3DataHeader
	frame []byte
}{
	{
		name: "IP, no cookie, no sublayer",
		f:    V3DataFormat{Encap: EncapIP},
		b: []byte{
			0x00, 0x01, 0x00, 0x01, // Session ID
			0xff, 0x03, 0xc0, 0x21, // frame
		},
		h:     V3DataHeader{SessionID: 0x00010001},
		frame: []byte{0xff, 0x03, 0xc0, 0x21},
	},
	{
		name: "IP, 4-octet cookie, section 4.1.1.1",
		f:    V3DataFormat{Encap: EncapIP, CookieLen: 4},
		b: []byte{
			0x12, 0x34, 0x56, 0x78, // Session ID
			0xde, 0xad, 0xbe, 0xef, // Cookie
			0x45, 0x00, // frame
		},
		h:     V3DataHeader{SessionID: 0x12345678, Cookie: 0xdeadbeef},
		frame: []byte{0x45, 0x00},
	},
	{
		name: "IP, 8-octet cookie, sublayer with S, section 4.6",
		f:    V3DataFormat{Encap: EncapIP, CookieLen: 8, Sublayer: SublayerDefault},
		b: []byte{
			0x00, 0x02, 0x00, 0x02, // Session ID
			0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // Cookie
			0x40, 0xab, 0xcd, 0xef, // x S x x x x x x, Sequence Number
			0x08, 0x00, // frame
		},
		h:     V3DataHeader{SessionID: 0x00020002, Cookie: 0x0102030405060708, HasSeq: true, Seq: 0xabcdef},
		frame: []byte{0x08, 0x00},
	},
	{
		name: "UDP, no cookie, section 4.1.2.1",
		f:    V3DataFormat{Encap: EncapUDP},
		b: []byte{
			0x00, 0x03, // T=0, Ver=3
			0x00, 0x00, // Reserved
			0x00, 0x00, 0x00, 0x2a, // Session ID
			0xff, 0x03, // frame
		},
		h:     V3DataHeader{SessionID: 42},
		frame: []byte{0xff, 0x03},
	},
	{
		name: "UDP, 4-octet cookie, sublayer without S",
		f:    V3DataFormat{Encap: EncapUDP, CookieLen: 4, Sublayer: SublayerDefault},
		b: []byte{
			0x00, 0x03, // T=0, Ver=3
			0x00, 0x00, // Reserved
			0x00, 0x01, 0x00, 0x01, // Session ID
			0xca, 0xfe, 0xf0, 0x0d, // Cookie
			0x00, 0x00, 0x00, 0x00, // S=0: Sequence Number undefined
		},
		h: V3DataHeader{SessionID: 0x00010001, Cookie: 0xcafef00d},
	},
	{
		name: "UDP, 8-octet cookie, sequence 0, section 4.6",
		f:    V3DataFormat{Encap: EncapUDP, CookieLen: 8, Sublayer: SublayerDefault},
		b: []byte{
			0x00, 0x03, // T=0, Ver=3
			0x00, 0x00, // Reserved
			0xff, 0xff, 0xff, 0xff, // Session ID
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Cookie
			0x40, 0x00, 0x00, 0x00, // S=1, Sequence Number 0 (a valid one)
			0x01, // frame
		},
		h:     V3DataHeader{SessionID: 0xffffffff, Cookie: 0xffffffffffffffff, HasSeq: true},
		frame: []byte{0x01},
	},
}

func TestV3DataGolden(t *testing.T) {
	for _, tc := range v3DataCases {
		t.Run(tc.name, func(t *testing.T) {
			h, frame, err := ParseV3Data(tc.b, tc.f)
			if err != nil {
				t.Fatalf("ParseV3Data: %v", err)
			}
			if diff := cmp.Diff(tc.h, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.frame, frame, cmpEmpty); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
			if got := tc.f.Len(); got != len(tc.b)-len(tc.frame) {
				t.Errorf("Len() = %d, want %d", got, len(tc.b)-len(tc.frame))
			}
			b, err := AppendV3Data([]byte{0xee}, tc.f, tc.h)
			if err != nil {
				t.Fatalf("AppendV3Data: %v", err)
			}
			b = append(b, tc.frame...)
			if diff := cmp.Diff(append([]byte{0xee}, tc.b...), b); diff != "" {
				t.Errorf("AppendV3Data (-want +got):\n%s", diff)
			}
		})
	}
}

func TestV3DataErrors(t *testing.T) {
	udp := V3DataFormat{Encap: EncapUDP, CookieLen: 4}
	ip := V3DataFormat{Encap: EncapIP, CookieLen: 8, Sublayer: SublayerDefault}
	for _, tc := range []struct {
		name string
		f    V3DataFormat
		b    []byte
		want error
	}{
		{"IP Session ID 0 is control, section 4.1.1.2", V3DataFormat{Encap: EncapIP}, []byte{0, 0, 0, 0, 0xc8, 0x03}, ErrMalformed},
		{"UDP Session ID 0", udp, []byte{0, 3, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, ErrMalformed},
		{"UDP control bit", udp, []byte{0x80, 3, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, ErrMalformed},
		{"UDP Ver 2", udp, []byte{0x00, 2, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, ErrMalformed},
		{"UDP cut in the cookie", udp, []byte{0, 3, 0, 0, 0, 0, 0, 1, 1, 2, 3}, ErrShort},
		{"IP cut in the sublayer", ip, make([]byte, 15), ErrShort},
		{"cookie of 2", V3DataFormat{CookieLen: 2}, make([]byte, 32), ErrMalformed},
		{"unknown sublayer", V3DataFormat{Sublayer: 2}, make([]byte, 32), ErrMalformed},
	} {
		if _, _, err := ParseV3Data(tc.b, tc.f); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Reserved bits and the Reserved field are ignored (section 4.1.2.1).
	if h, _, err := ParseV3Data([]byte{0x37, 0xf3, 0xff, 0xff, 0, 0, 0, 7, 1, 2, 3, 4}, udp); err != nil || h.SessionID != 7 || h.Cookie != 0x01020304 {
		t.Errorf("reserved bits set: %+v, %v", h, err)
	}
	for _, tc := range []struct {
		name string
		f    V3DataFormat
		h    V3DataHeader
	}{
		{"Session ID 0", udp, V3DataHeader{}},
		{"sequence past 24 bits", ip, V3DataHeader{SessionID: 1, HasSeq: true, Seq: 1 << 24}},
		{"cookie past 4 octets", udp, V3DataHeader{SessionID: 1, Cookie: 1 << 32}},
		{"cookie of 5", V3DataFormat{CookieLen: 5}, V3DataHeader{SessionID: 1}},
	} {
		if _, err := AppendV3Data(nil, tc.f, tc.h); !errors.Is(err, ErrMalformed) {
			t.Errorf("AppendV3Data %s: %v, want ErrMalformed", tc.name, err)
		}
	}
}

// TestSeqAfter follows RFC 3931 section 4.6: a number lying in the last
// one received and the 2^23-1 before it is not after it.
func TestSeqAfter(t *testing.T) {
	for _, tc := range []struct {
		a, b uint32
		want bool
	}{
		{1, 0, true},
		{0, 0, false},
		{0, SeqMask, true},                  // wraps
		{SeqMask, 0, false},                 // one before
		{1<<23 + 5, 5, true},                // 2^23 ahead
		{5 - (1<<23 - 1) + 1<<24, 5, false}, // 2^23-1 behind
	} {
		if got := SeqAfter(tc.a, tc.b); got != tc.want {
			t.Errorf("SeqAfter(%#x, %#x) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestV3DataAllocs(t *testing.T) {
	f := V3DataFormat{Encap: EncapUDP, CookieLen: 8, Sublayer: SublayerDefault}
	h := V3DataHeader{SessionID: 0x01020304, Cookie: 0x1122334455667788, HasSeq: true, Seq: 9}
	pkt, err := AppendV3Data(make([]byte, 0, 1500), f, h)
	if err != nil {
		t.Fatal(err)
	}
	pkt = pkt[:cap(pkt)]
	buf := make([]byte, 0, 64)
	var sink int
	if n := testing.AllocsPerRun(1000, func() {
		h, p, err := ParseV3Data(pkt, f)
		if err != nil {
			panic(err)
		}
		sink += len(p) + int(h.SessionID)
	}); n != 0 {
		t.Errorf("ParseV3Data allocates %v times per run, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		b, err := AppendV3Data(buf[:0], f, h)
		if err != nil {
			panic(err)
		}
		sink += len(b)
	}); n != 0 {
		t.Errorf("AppendV3Data allocates %v times per run, want 0", n)
	}
	ctl := v3GoldenBytes["HELLO"]
	if n := testing.AllocsPerRun(1000, func() {
		h, p, err := ParseV3ControlHeader(ctl)
		if err != nil {
			panic(err)
		}
		sink += len(p) + int(h.ConnID)
	}); n != 0 {
		t.Errorf("ParseV3ControlHeader allocates %v times per run, want 0", n)
	}
	bad := []byte{0, 3, 0, 0, 0, 0, 0, 0}
	if n := testing.AllocsPerRun(1000, func() {
		if _, _, err := ParseV3Data(bad, V3DataFormat{}); err == nil {
			panic("no error")
		}
	}); n != 0 {
		t.Errorf("ParseV3Data of a bad packet allocates %v times per run, want 0", n)
	}
	_ = sink
}

func BenchmarkParseV3Data(b *testing.B) {
	f := V3DataFormat{Encap: EncapUDP, CookieLen: 8, Sublayer: SublayerDefault}
	pkt, _ := AppendV3Data(nil, f, V3DataHeader{SessionID: 7, Cookie: 1, HasSeq: true})
	pkt = append(pkt, make([]byte, 1400)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, err := ParseV3Data(pkt, f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendV3Data(b *testing.B) {
	f := V3DataFormat{Encap: EncapIP, CookieLen: 8, Sublayer: SublayerDefault}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendV3Data(buf[:0], f, V3DataHeader{SessionID: 7, Cookie: 1, HasSeq: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseV3ControlHeader(f *testing.F) {
	for _, tc := range v3ControlHeaderCases {
		f.Add(tc.b, tc.encap == EncapIP)
	}
	for _, o := range v3GoldenOrder {
		f.Add(v3GoldenBytes[o.name], false)
	}
	f.Fuzz(func(t *testing.T, b []byte, overIP bool) {
		e := EncapUDP
		if overIP {
			e = EncapIP
		}
		h, payload, err := parseV3ControlHeaderEncap(b, e)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps neither ErrShort nor ErrMalformed: %v", err)
			}
			return
		}
		if int(h.Length) != V3ControlHeaderLen+len(payload) {
			t.Fatalf("Length %d, payload %d", h.Length, len(payload))
		}
		out, err := AppendV3ControlHeader(nil, e, h, len(payload))
		if err != nil {
			t.Fatalf("AppendV3ControlHeader(%+v): %v", h, err)
		}
		out = append(out, payload...)
		h2, payload2, err := parseV3ControlHeaderEncap(out, e)
		if err != nil {
			t.Fatalf("re-parse of % x: %v", out, err)
		}
		if h != h2 || string(payload) != string(payload2) {
			t.Fatalf("round trip: %+v % x, then %+v % x", h, payload, h2, payload2)
		}
	})
}

// FuzzParseV3Data covers both encapsulations, every cookie size and both
// sublayers: the format comes from the fuzzer's first octet.
func FuzzParseV3Data(f *testing.F) {
	for _, tc := range v3DataCases {
		f.Add(v3FormatOctet(tc.f), tc.b)
	}
	f.Fuzz(func(t *testing.T, fo byte, b []byte) {
		format := V3DataFormat{Encap: Encap(fo & 1), CookieLen: []int{0, 4, 8, 0}[fo>>1&3], Sublayer: SublayerType(fo >> 3 & 1)}
		h, frame, err := ParseV3Data(b, format)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps neither ErrShort nor ErrMalformed: %v", err)
			}
			return
		}
		if h.SessionID == 0 || h.Seq > SeqMask || len(frame) != len(b)-format.Len() {
			t.Fatalf("parsed %+v, frame %d of %d", h, len(frame), len(b))
		}
		if !h.HasSeq {
			h.Seq = 0 // undefined without S, and written as 0
		}
		out, err := AppendV3Data(nil, format, h)
		if err != nil {
			t.Fatalf("AppendV3Data(%+v, %+v): %v", format, h, err)
		}
		out = append(out, frame...)
		h2, frame2, err := ParseV3Data(out, format)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if h != h2 || string(frame) != string(frame2) {
			t.Fatalf("round trip: %+v, then %+v", h, h2)
		}
	})
}

func v3FormatOctet(f V3DataFormat) byte {
	o := byte(f.Encap) | byte(f.Sublayer)<<3
	switch f.CookieLen {
	case 4:
		o |= 1 << 1
	case 8:
		o |= 2 << 1
	}
	return o
}
