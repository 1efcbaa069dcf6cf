package accounting

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// goldenRecord is a Stop record and its version-1 encoding, field by
// field (the layout is the one documented at fixedLen): what a spool left
// by a bras before the IPv6 fields holds.
var goldenRecord = struct {
	rec   Record
	bytes []byte
}{
	rec: Record{Kind: Stop, Seq: 5, SessionID: "n1-1", Node: "n1", Username: "al", TunnelID: 1, PeerTunnelID: 2,
		L2TPSessionID: 3, PeerSessionID: 4, Time: time.Unix(0, 2).UTC(), Started: time.Unix(0, 1).UTC(),
		InOctets: 10, OutOctets: 20, InPackets: 1, OutPackets: 2, Cause: CauseLostCarrier,
		RateDownKbps: 7, RateUpKbps: 8, InterimSeconds: 9, Addr: netip.AddrFrom4([4]byte{10, 0, 0, 1}),
		Class: [][]byte{{0xab}}},
	bytes: []byte{
		1,          // version
		2,          // kind Stop
		0, 0, 0, 5, // seq
		0, 1, 0, 2, 0, 3, 0, 4, // tunnel, peer tunnel, session, peer session
		0, 0, 0, 0, 0, 0, 0, 2, // time ns
		0, 0, 0, 0, 0, 0, 0, 1, // started ns
		0, 0, 0, 0, 0, 0, 0, 10, // in octets
		0, 0, 0, 0, 0, 0, 0, 20, // out octets
		0, 0, 0, 0, 0, 0, 0, 1, // in packets
		0, 0, 0, 0, 0, 0, 0, 2, // out packets
		0, 0, 0, 2, // cause Lost-Carrier
		0, 0, 0, 7, // rate down
		0, 0, 0, 8, // rate up
		0, 0, 0, 9, // interim
		4, 10, 0, 0, 1, // Addr
		0,                        // NASIP absent
		0, 4, 'n', '1', '-', '1', // SessionID
		0, 2, 'n', '1', // Node
		0, 2, 'a', 'l', // Username
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // Realm .. LAC empty
		0, 1, 0, 1, 0xab, // Class: one value of one byte
	},
}

// goldenRecord2 is goldenRecord with IPv6 in version 2: the record's
// IPv6 fields after Class.
var goldenRecord2 = func() (g struct {
	rec   Record
	bytes []byte
}) {
	g.rec = goldenRecord.rec
	g.rec.IPv6Prefix = netip.MustParsePrefix("2001:db8:1:2::/64")
	g.rec.DelegatedPrefix = netip.MustParsePrefix("2001:db8:ff00::/56")
	g.rec.IPv6Address = netip.MustParseAddr("2001:db8:1:2::7")
	g.bytes = append([]byte{2}, goldenRecord.bytes[1:]...)
	g.bytes = append(g.bytes, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)    // IPv6Prefix
	g.bytes = append(g.bytes, 56, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // DelegatedPrefix
	g.bytes = append(g.bytes, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7)    // IPv6Address
	return g
}()

// goldenRecord3 is goldenRecord2 with the IPv6 share of the counters and
// the interface identifier in version 3, the encoding Append writes: five
// u64 after IPv6Address.
var goldenRecord3 = func() (g struct {
	rec   Record
	bytes []byte
}) {
	g.rec = goldenRecord2.rec
	g.rec.In6Octets, g.rec.Out6Octets, g.rec.In6Packets, g.rec.Out6Packets = 6, 12, 1, 1
	g.rec.InterfaceID = 0x021122fffe334455
	g.bytes = append([]byte{3}, goldenRecord2.bytes[1:]...)
	g.bytes = append(g.bytes,
		0, 0, 0, 0, 0, 0, 0, 6, // IPv6 in octets
		0, 0, 0, 0, 0, 0, 0, 12, // IPv6 out octets
		0, 0, 0, 0, 0, 0, 0, 1, // IPv6 in packets
		0, 0, 0, 0, 0, 0, 0, 1, // IPv6 out packets
		0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55) // interface identifier
	return g
}()

// goldenRecord4 is goldenRecord3 of a session over L2TPv3 in version 4,
// the encoding Append writes: the fixed part holds the low 16 bits of
// the 32-bit IDs, which follow whole after the L2TP version and the
// pseudowire type, then the tunnel's endpoints.
var goldenRecord4 = func() (g struct {
	rec   Record
	bytes []byte
}) {
	g.rec = goldenRecord3.rec
	g.rec.TunnelID, g.rec.PeerTunnelID, g.rec.L2TPSessionID, g.rec.PeerSessionID = 0x10001, 0x20002, 0xa0003, 0xfff0004
	g.rec.L2TPVersion, g.rec.PWType = 3, 7
	g.rec.LACAddr = netip.MustParseAddr("192.0.2.7")
	g.bytes = append([]byte{4}, goldenRecord3.bytes[1:]...)
	g.bytes = append(g.bytes,
		3,    // L2TP version
		0, 7, // pseudowire type PPP
		0, 1, 0, 1, 0, 2, 0, 2, 0, 0x0a, 0, 3, 0x0f, 0xff, 0, 4, // the IDs whole
		4, 192, 0, 2, 7, // LACAddr
		0) // LNSAddr unknown
	return g
}()

var recordCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func TestRecordCodec(t *testing.T) {
	b, err := goldenRecord4.rec.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenRecord4.bytes, b); diff != "" {
		t.Errorf("Append (-want +got)\n%s", diff)
	}
	got4, err := ParseRecord(goldenRecord4.bytes)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenRecord4.rec, got4, recordCmp); diff != "" {
		t.Errorf("ParseRecord version 4 (-want +got)\n%s", diff)
	}
	// A record spooled by the bras before L2TPv3's IDs (version 3).
	got3, err := ParseRecord(goldenRecord3.bytes)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenRecord3.rec, got3, recordCmp); diff != "" {
		t.Errorf("ParseRecord version 3 (-want +got)\n%s", diff)
	}
	// A record spooled by the bras before the IPv6 counters (version 2).
	got2, err := ParseRecord(goldenRecord2.bytes)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenRecord2.rec, got2, recordCmp); diff != "" {
		t.Errorf("ParseRecord version 2 (-want +got)\n%s", diff)
	}
	// A record an earlier bras spooled (version 1) still reads.
	got, err := ParseRecord(goldenRecord.bytes)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenRecord.rec, got, recordCmp); diff != "" {
		t.Errorf("ParseRecord version 1 (-want +got)\n%s", diff)
	}
	bad := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"fixed part cut", goldenRecord.bytes[:fixedLen-1], ErrShort},
		{"string cut", goldenRecord.bytes[:fixedLen+8], ErrShort},
		{"class cut", goldenRecord.bytes[:len(goldenRecord.bytes)-1], ErrShort},
		{"trailing", append(append([]byte{}, goldenRecord.bytes...), 0), ErrMalformed},
		{"IPv6 cut", goldenRecord2.bytes[:len(goldenRecord2.bytes)-1], ErrShort},
		{"IPv6 counters cut", goldenRecord3.bytes[:len(goldenRecord3.bytes)-1], ErrShort},
		{"L2TP IDs cut", goldenRecord4.bytes[:len(goldenRecord4.bytes)-1], ErrShort},
		{"L2TP version 4", func() []byte {
			b := append([]byte{}, goldenRecord4.bytes...)
			b[len(goldenRecord3.bytes)] = 4 // the L2TP version, after version 3's layout
			return b
		}(), ErrMalformed},
		{"an ID whole that is not its low 16 bits", func() []byte {
			b := append([]byte{}, goldenRecord4.bytes...)
			b[len(b)-7] ^= 1 // the low octet of the last ID, before the two addresses
			return b
		}(), ErrMalformed},
		{"version 2 with IPv6 counters", append([]byte{2}, goldenRecord3.bytes[1:]...), ErrMalformed},
		{"IPv6 prefix of 129 bits", append(append(append([]byte{2}, goldenRecord.bytes[1:]...), 129), make([]byte, 18)...), ErrMalformed},
		{"version", append([]byte{9}, goldenRecord.bytes[1:]...), ErrMalformed},
		{"kind", append([]byte{1, 9}, goldenRecord.bytes[2:]...), ErrMalformed},
	}
	for _, tt := range bad {
		if _, err := ParseRecord(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestCauseString(t *testing.T) {
	for c, want := range map[TerminateCause]string{CauseUserRequest: "User-Request", CauseNASReboot: "NAS-Reboot", CauseHostRequest: "Host-Request", 99: "99"} {
		if got := c.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint32(c), got, want)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add(goldenRecord.bytes)
	f.Add(goldenRecord2.bytes)
	f.Add(goldenRecord3.bytes)
	f.Add(goldenRecord4.bytes)
	r := sess("s", "u", 1, Interim, t0, 1, 2)
	b, _ := r.Append(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		out, err := r.Append(nil)
		if err != nil {
			t.Fatalf("Append of a parsed record: %v", err)
		}
		r2, err := ParseRecord(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(r, r2, recordCmp); diff != "" {
			t.Fatalf("round trip (-first +second)\n%s", diff)
		}
	})
}
