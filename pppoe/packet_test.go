package pppoe

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	hostMAC = MAC{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	acMAC   = MAC{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
)

// goldenDiscovery are whole Ethernet frames; each names its source.
var goldenDiscovery = []struct {
	name  string
	eth   Ethernet
	pkt   Packet
	frame []byte
}{
	{
		name: "RFC 2516 appendix B: PADI",
		eth:  Ethernet{Dst: Broadcast, Src: hostMAC, EtherType: EtherTypeDiscovery},
		pkt:  Packet{Code: CodePADI, Tags: []Tag{{Type: TagServiceName, Value: []byte{}}}},
		frame: cat(
			[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // broadcast destination
			hostMAC[:],                     // Host_mac_addr
			[]byte{0x88, 0x63},             // ETHER_TYPE discovery
			[]byte{0x11, 0x09},             // v=1 t=1, CODE PADI
			[]byte{0x00, 0x00},             // SESSION_ID
			[]byte{0x00, 0x04},             // LENGTH
			[]byte{0x01, 0x01, 0x00, 0x00}, // Service-Name, empty (any service)
		),
	},
	{
		name: "RFC 2516 appendix B: PADO",
		eth:  Ethernet{Dst: hostMAC, Src: acMAC, EtherType: EtherTypeDiscovery},
		pkt: Packet{Code: CodePADO, Tags: []Tag{
			{Type: TagServiceName, Value: []byte{}},
			{Type: TagACName, Value: []byte("Go RedBack - eshsheshoot")},
		}},
		frame: cat(
			hostMAC[:],                     // Host_mac_addr
			acMAC[:],                       // Access_Concentrator_mac_addr
			[]byte{0x88, 0x63},             // ETHER_TYPE discovery
			[]byte{0x11, 0x07},             // v=1 t=1, CODE PADO
			[]byte{0x00, 0x00},             // SESSION_ID
			[]byte{0x00, 0x20},             // LENGTH 32
			[]byte{0x01, 0x01, 0x00, 0x00}, // Service-Name, empty
			[]byte{0x01, 0x02, 0x00, 0x18}, // AC-Name, 24 octets
			[]byte{0x47, 0x6f, 0x20, 0x52, 0x65, 0x64, 0x42, 0x61, 0x63, 0x6b, 0x20, 0x2d,
				0x20, 0x65, 0x73, 0x68, 0x73, 0x68, 0x65, 0x73, 0x68, 0x6f, 0x6f, 0x74},
		),
	},
	{
		name: "RFC 2516 section 5.3 layout: PADR with Host-Uniq, AC-Cookie, PPP-Max-Payload (RFC 4638 section 4)",
		eth:  Ethernet{Dst: acMAC, Src: hostMAC, EtherType: EtherTypeDiscovery},
		pkt: Packet{Code: CodePADR, Tags: []Tag{
			{Type: TagServiceName, Value: []byte("isp")},
			{Type: TagHostUniq, Value: []byte{0xde, 0xad, 0xbe, 0xef}},
			{Type: TagACCookie, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			{Type: TagPPPMaxPayload, Value: []byte{0x05, 0xdc}},
		}},
		frame: cat(
			acMAC[:], hostMAC[:], []byte{0x88, 0x63},
			[]byte{0x11, 0x19, 0x00, 0x00, 0x00, 0x21},    // PADR, session 0, LENGTH 33
			[]byte{0x01, 0x01, 0x00, 0x03}, []byte("isp"), // Service-Name
			[]byte{0x01, 0x03, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef}, // Host-Uniq
			[]byte{0x01, 0x04, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}, // AC-Cookie
			[]byte{0x01, 0x20, 0x00, 0x02, 0x05, 0xdc},             // PPP-Max-Payload 1500
		),
	},
	{
		name: "RFC 2516 section 5.4 layout: PADS with session 0x1234 and Relay-Session-Id",
		eth:  Ethernet{Dst: hostMAC, Src: acMAC, EtherType: EtherTypeDiscovery},
		pkt: Packet{Code: CodePADS, SessionID: 0x1234, Tags: []Tag{
			{Type: TagServiceName, Value: []byte("isp")},
			{Type: TagRelaySessionID, Value: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		}},
		frame: cat(
			hostMAC[:], acMAC[:], []byte{0x88, 0x63},
			[]byte{0x11, 0x65, 0x12, 0x34, 0x00, 0x17}, // PADS, session 0x1234, LENGTH 23
			[]byte{0x01, 0x01, 0x00, 0x03}, []byte("isp"),
			[]byte{0x01, 0x10, 0x00, 0x0c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		),
	},
	{
		name: "RFC 2516 section 5.4: PADS refusing the service (Service-Name-Error, SESSION_ID 0)",
		eth:  Ethernet{Dst: hostMAC, Src: acMAC, EtherType: EtherTypeDiscovery},
		pkt: Packet{Code: CodePADS, Tags: []Tag{
			{Type: TagServiceName, Value: []byte("x")},
			{Type: TagServiceNameError, Value: []byte{}},
		}},
		frame: cat(
			hostMAC[:], acMAC[:], []byte{0x88, 0x63},
			[]byte{0x11, 0x65, 0x00, 0x00, 0x00, 0x09},
			[]byte{0x01, 0x01, 0x00, 0x01, 'x'},
			[]byte{0x02, 0x01, 0x00, 0x00},
		),
	},
	{
		name: "RFC 2516 section 5.5 layout: PADT with Generic-Error, 802.1Q VLAN 100",
		eth: Ethernet{Dst: acMAC, Src: hostMAC, VLANs: [2]VLAN{{TPID: EtherTypeVLAN, TCI: 100}},
			NumVLANs: 1, EtherType: EtherTypeDiscovery},
		pkt: Packet{Code: CodePADT, SessionID: 7, Tags: []Tag{
			{Type: TagGenericError, Value: []byte("bye")},
		}},
		frame: cat(
			acMAC[:], hostMAC[:],
			[]byte{0x81, 0x00, 0x00, 0x64}, // 802.1Q, VID 100
			[]byte{0x88, 0x63},
			[]byte{0x11, 0xa7, 0x00, 0x07, 0x00, 0x07},
			[]byte{0x02, 0x03, 0x00, 0x03}, []byte("bye"),
		),
	},
	{
		name: "RFC 2516 appendix A: AC-System-Error, unknown tag kept raw, End-Of-List; QinQ 802.1ad 10 / 802.1Q 20",
		eth: Ethernet{Dst: hostMAC, Src: acMAC, VLANs: [2]VLAN{{TPID: EtherTypeQinQ, TCI: 10}, {TPID: EtherTypeVLAN, TCI: 0x2014}},
			NumVLANs: 2, EtherType: EtherTypeDiscovery},
		pkt: Packet{Code: CodePADS, Tags: []Tag{
			{Type: TagACSystemError, Value: []byte("full")},
			{Type: 0x0999, Value: []byte{9}},
			{Type: TagEndOfList, Value: []byte{}},
		}},
		frame: cat(
			hostMAC[:], acMAC[:],
			[]byte{0x88, 0xa8, 0x00, 0x0a}, // S-tag VID 10
			[]byte{0x81, 0x00, 0x20, 0x14}, // C-tag PCP 1, VID 20
			[]byte{0x88, 0x63},
			[]byte{0x11, 0x65, 0x00, 0x00, 0x00, 0x11},
			[]byte{0x02, 0x02, 0x00, 0x04}, []byte("full"),
			[]byte{0x09, 0x99, 0x00, 0x01, 9},
			[]byte{0x00, 0x00, 0x00, 0x00},
		),
	},
}

func TestDiscoveryGolden(t *testing.T) {
	for _, tt := range goldenDiscovery {
		t.Run(tt.name, func(t *testing.T) {
			// Append → bytes.
			b, err := tt.eth.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err = tt.pkt.Append(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.frame, b); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
			// Parse → struct, with Ethernet padding after LENGTH ignored.
			padded := append(append([]byte(nil), tt.frame...), make([]byte, 20)...)
			eth, rest, err := ParseEthernet(padded)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.eth, eth); diff != "" {
				t.Errorf("ParseEthernet (-want +got):\n%s", diff)
			}
			p, err := Parse(rest)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.pkt, p, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionGolden(t *testing.T) {
	// RFC 2516 appendix B, the session packet layout: PPP LCP (0xc021)
	// payload in a session frame with SESSION_ID 0x1234.
	payload := []byte{0xc0, 0x21, 0x01, 0x01, 0x00, 0x04}
	want := cat(
		[]byte{0x11, 0x00}, // v=1 t=1, CODE 0
		[]byte{0x12, 0x34}, // SESSION_ID
		[]byte{0x00, 0x06}, // LENGTH
		payload,            // PPP frame from its Protocol field
	)
	got, err := AppendSession(nil, 0x1234, payload)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppendSession (-want +got):\n%s", diff)
	}
	sid, pl, err := ParseSession(append(want, 0, 0, 0)) // padding dropped
	if err != nil {
		t.Fatal(err)
	}
	if sid != 0x1234 || !bytes.Equal(pl, payload) {
		t.Errorf("ParseSession = %#x %x, want 0x1234 %x", sid, pl, payload)
	}
}

func TestParseBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short header", []byte{0x11, 0x09, 0, 0, 0}, ErrShort},
		{"bad version", []byte{0x21, 0x09, 0, 0, 0, 0}, ErrMalformed},
		{"bad type", []byte{0x12, 0x09, 0, 0, 0, 0}, ErrMalformed},
		{"LENGTH past the frame", []byte{0x11, 0x09, 0, 0, 0, 5, 1, 1, 0, 0}, ErrShort},
		{"unknown code", []byte{0x11, 0x42, 0, 0, 0, 0}, ErrMalformed},
		{"session code on discovery", []byte{0x11, 0x00, 0, 1, 0, 0}, ErrMalformed},
		{"truncated tag header", []byte{0x11, 0x09, 0, 0, 0, 3, 1, 1, 0}, ErrShort},
		{"tag overruns payload", []byte{0x11, 0x09, 0, 0, 0, 6, 1, 1, 0, 3, 'a', 'b'}, ErrMalformed},
		{"tag overruns LENGTH not the frame", []byte{0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 2, 'a', 'b'}, ErrMalformed},
		{"End-Of-List with length", []byte{0x11, 0x09, 0, 0, 0, 5, 0, 0, 0, 1, 0}, ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.b)
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%x) error = %v, want %v", tt.b, err, tt.want)
			}
		})
	}
}

func TestParseDuplicateAndZeroLengthTags(t *testing.T) {
	// Duplicate and empty tags are legal TLVs; the AC judges them (a PADI
	// MUST carry exactly one Service-Name, section 5.1), the codec keeps them.
	b := []byte{0x11, 0x09, 0, 0, 0, 12,
		0x01, 0x01, 0, 0, // Service-Name ""
		0x01, 0x01, 0, 0, // Service-Name "" again
		0x01, 0x03, 0, 0, // Host-Uniq, empty
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Count(TagServiceName); n != 2 {
		t.Errorf("Count(Service-Name) = %d, want 2", n)
	}
	if v, ok := p.Tag(TagHostUniq); !ok || len(v) != 0 {
		t.Errorf("Tag(Host-Uniq) = %x %v, want empty, true", v, ok)
	}
}

func TestParseSessionBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", []byte{0x11, 0, 0}, ErrShort},
		{"discovery code", []byte{0x11, 0x09, 0, 1, 0, 0}, ErrMalformed},
		{"bad version", []byte{0x01, 0x00, 0, 1, 0, 0}, ErrMalformed},
		{"LENGTH past the frame", []byte{0x11, 0x00, 0, 1, 0, 9, 0xc0, 0x21}, ErrShort},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ParseSession(tt.b); !errors.Is(err, tt.want) {
				t.Errorf("ParseSession(%x) error = %v, want %v", tt.b, err, tt.want)
			}
		})
	}
}

func TestParseEthernetBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", make([]byte, 13), ErrShort},
		{"truncated VLAN tag", cat(make([]byte, 12), []byte{0x81, 0x00, 0x00}), ErrShort},
		{"VLAN tag without ethertype", cat(make([]byte, 12), []byte{0x81, 0x00, 0x00, 0x01}), ErrShort},
		{"three VLAN tags", cat(make([]byte, 12), []byte{0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x88, 0x63}), ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ParseEthernet(tt.b); !errors.Is(err, tt.want) {
				t.Errorf("ParseEthernet(%x) error = %v, want %v", tt.b, err, tt.want)
			}
		})
	}
}

// goldenAccessLine is a Broadband Forum Vendor-Specific value laid out as
// TR-101 section 3.9.3 / RFC 4679 section 3 define the sub-options.
var goldenAccessLine = struct {
	b []byte
	a AccessLine
}{
	b: cat(
		[]byte{0x00, 0x00, 0x0d, 0xe9},            // vendor id 3561
		[]byte{0x01, 0x0b}, []byte("dslam1 1/12"), // Agent-Circuit-Id
		[]byte{0x02, 0x06}, []byte("cust42"), // Agent-Remote-Id
		[]byte{0x81, 0x04, 0x00, 0x00, 0x03, 0xe8}, // Actual-Data-Rate-Upstream 1000
		[]byte{0x82, 0x04, 0x00, 0x00, 0x3a, 0x98}, // Actual-Data-Rate-Downstream 15000
		[]byte{0x8e, 0x04, 0x00, 0x00, 0x00, 0x08}, // Actual-Interleaving-Delay-Downstream 8
		[]byte{0x90, 0x03, 0x02, 0x01, 0x01},       // Access-Loop-Encapsulation
		[]byte{0xfe, 0x00},                         // IWF-Session
		[]byte{0x99, 0x01, 0x07},                   // unknown sub-option, kept raw
	),
	a: AccessLine{
		CircuitID: "dslam1 1/12", RemoteID: "cust42",
		ActualRateUp: 1000, ActualRateDown: 15000, ActualInterleavingDelayDown: 8,
		Encapsulation: [3]byte{2, 1, 1}, HasEncapsulation: true, IWFSession: true,
		Unknown: []RawSubOption{{Type: 0x99, Value: []byte{7}}},
	},
}

func TestAccessLineGolden(t *testing.T) {
	got, err := ParseAccessLine(goldenAccessLine.b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenAccessLine.a, got); diff != "" {
		t.Errorf("ParseAccessLine (-want +got):\n%s", diff)
	}
	b, err := goldenAccessLine.a.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenAccessLine.b, b); diff != "" {
		t.Errorf("Append (-want +got):\n%s", diff)
	}
	// Found in a PADR next to another vendor's tag.
	p := Packet{Code: CodePADR, Tags: []Tag{
		{Type: TagVendorSpecific, Value: []byte{0, 0, 0, 9, 1, 2}},
		{Type: TagVendorSpecific, Value: goldenAccessLine.b},
	}}
	a, ok, err := p.AccessLine()
	if err != nil || !ok || a.CircuitID != "dslam1 1/12" {
		t.Errorf("Packet.AccessLine = %+v %v %v", a, ok, err)
	}
}

func TestAccessLineBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		{"no vendor id", []byte{0, 0, 0x0d}, ErrShort},
		{"other vendor", []byte{0, 0, 0, 9}, ErrMalformed},
		{"truncated sub-option", []byte{0, 0, 0x0d, 0xe9, 0x01}, ErrShort},
		{"sub-option overruns", []byte{0, 0, 0x0d, 0xe9, 0x01, 0x05, 'a'}, ErrMalformed},
		{"rate of 3 octets", []byte{0, 0, 0x0d, 0xe9, 0x81, 0x03, 1, 2, 3}, ErrMalformed},
		{"encapsulation of 2 octets", []byte{0, 0, 0x0d, 0xe9, 0x90, 0x02, 1, 2}, ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseAccessLine(tt.b); !errors.Is(err, tt.want) {
				t.Errorf("ParseAccessLine(%x) error = %v, want %v", tt.b, err, tt.want)
			}
		})
	}
}

func TestSessionCodecAllocs(t *testing.T) {
	payload := make([]byte, 1400)
	buf := make([]byte, 0, 2048)
	frame, _ := AppendSession(nil, 42, payload)
	n := testing.AllocsPerRun(1000, func() {
		b, err := AppendSession(buf[:0], 42, payload)
		if err != nil || len(b) != len(frame) {
			t.Fatal("AppendSession failed")
		}
		sid, pl, err := ParseSession(frame)
		if err != nil || sid != 42 || len(pl) != len(payload) {
			t.Fatal("ParseSession failed")
		}
	})
	if n != 0 {
		t.Errorf("session encap+decap allocates %v times per frame, want 0", n)
	}
}

func BenchmarkSessionEncap(b *testing.B) {
	payload := make([]byte, 1400)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := AppendSession(buf[:0], 42, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionDecap(b *testing.B) {
	frame, _ := AppendSession(nil, 42, make([]byte, 1400))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, _, err := ParseSession(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range goldenDiscovery {
		f.Add(g.frame[g.eth.Len():])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		out, err := p.Append(nil)
		if err != nil {
			t.Fatalf("Append of a parsed packet: %v", err)
		}
		p2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-Parse(%x): %v", out, err)
		}
		if diff := cmp.Diff(p, p2, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseSession(f *testing.F) {
	f.Add([]byte{0x11, 0x00, 0x12, 0x34, 0x00, 0x06, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04})
	f.Add([]byte{0x11, 0x00, 0x00, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		sid, pl, err := ParseSession(b)
		if err != nil {
			return
		}
		out, err := AppendSession(nil, sid, pl)
		if err != nil {
			t.Fatal(err)
		}
		sid2, pl2, err := ParseSession(out)
		if err != nil || sid2 != sid || !bytes.Equal(pl, pl2) {
			t.Errorf("round trip: %#x %x, then %#x %x %v", sid, pl, sid2, pl2, err)
		}
	})
}

func FuzzParseEthernet(f *testing.F) {
	for _, g := range goldenDiscovery {
		f.Add(g.frame)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, rest, err := ParseEthernet(b)
		if err != nil {
			return
		}
		out, err := h.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rest...)
		h2, rest2, err := ParseEthernet(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(h, h2); diff != "" || !bytes.Equal(rest, rest2) {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseAccessLine(f *testing.F) {
	f.Add(goldenAccessLine.b)
	f.Add([]byte{0, 0, 0x0d, 0xe9})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAccessLine(b)
		if err != nil {
			return
		}
		out, err := a.Append(nil)
		if err != nil {
			return // e.g. a repeated Circuit-ID concatenated past 255: not encodable
		}
		a2, err := ParseAccessLine(out)
		if err != nil {
			t.Fatalf("re-parse(%x): %v", out, err)
		}
		if diff := cmp.Diff(a, a2, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
