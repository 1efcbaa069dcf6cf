package ra

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/ndp"
)

var (
	lnsLL = netip.MustParseAddr("fe80::1")
	subLL = netip.MustParseAddr("fe80::211:22ff:fe33:4455")
	p64   = netip.MustParsePrefix("2001:db8:1:2::/64")
	dns6  = netip.MustParseAddr("2001:db8::53")
)

// TestAdvertisementGolden: the RA of a dual-stack session, byte for byte
// in the layout of RFC 4861 sections 4.2, 4.6.2 and 4.6.4 and RFC 8106
// section 5.1, inside an IPv6 header with Hop Limit 255, checksum right.
func TestAdvertisementGolden(t *testing.T) {
	pkt, err := Advertisement(lnsLL, AllNodes, Config{Prefixes: []netip.Prefix{p64}, Other: true, MTU: 1492, DNS: []netip.Addr{dns6}})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		// IPv6: version 6, payload 80, next header 58, hop limit 255, fe80::1 → ff02::1.
		0x60, 0, 0, 0, 0, 80, 58, 255,
		0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		// RA: type 134, code 0, checksum, hop limit 64, M=0 O=1, router lifetime 1800, reachable 0, retrans 0.
		134, 0, 0, 0, 64, 0x40, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,
		// Prefix Information: type 3, len 4, /64, L=1 A=1, valid 7200, preferred 3600, reserved, prefix.
		3, 4, 64, 0xc0, 0, 0, 0x1c, 0x20, 0, 0, 0x0e, 0x10, 0, 0, 0, 0,
		0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0,
		// MTU: type 5, len 1, reserved, 1492.
		5, 1, 0, 0, 0, 0, 0x05, 0xd4,
		// RDNSS: type 25, len 3, reserved, lifetime 1800, the server.
		25, 3, 0, 0, 0, 0, 0x07, 0x08,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
	}
	if len(pkt) != len(want) {
		t.Fatalf("%d octets, want %d: %x", len(pkt), len(want), pkt)
	}
	sum := binary.BigEndian.Uint16(pkt[42:44])
	got := append([]byte(nil), pkt...)
	got[42], got[43] = 0, 0
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got, checksum zeroed):\n%s", d)
	}
	if !checksumOK(pkt[8:24], pkt[24:40], pkt[40:]) || sum == 0 {
		t.Errorf("checksum %#04x does not verify", sum)
	}
	// What a subscriber's stack reads back.
	m, err := ndp.ParseMessage(pkt[40:])
	if err != nil {
		t.Fatal(err)
	}
	ra := m.(*ndp.RouterAdvertisement)
	if !ra.OtherConfiguration || ra.ManagedConfiguration || ra.RouterLifetime != 1800*time.Second || len(ra.Options) != 3 {
		t.Errorf("parsed back: %+v", ra)
	}
}

// rs is a Router Solicitation from src to ff02::2 with hop limit hl.
func rs(t *testing.T, src netip.Addr, hl uint8) []byte {
	t.Helper()
	dst := netip.MustParseAddr("ff02::2")
	body, err := ndp.MarshalMessageChecksum(&ndp.RouterSolicitation{}, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	p := packet(src, dst, body)
	p[7] = hl
	return p
}

// TestClassify: what the LNS does with each IPv6 packet a subscriber
// sends (RFC 4861 sections 6.1.1, 6.1.2 and 8.1).
func TestClassify(t *testing.T) {
	ra, err := Advertisement(subLL, AllNodes, Config{})
	if err != nil {
		t.Fatal(err)
	}
	redirect := packet(subLL, lnsLL, append([]byte{137, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 32)...))
	badSum := rs(t, subLL, 255)
	badSum[42] ^= 0xff
	udp := packet(subLL, netip.MustParseAddr("2001:db8::1"), []byte{0, 53, 0, 53, 0, 8, 0, 0})
	udp[6] = 17
	echo := packet(subLL, lnsLL, []byte{128, 0, 0, 0, 0, 1, 0, 1})
	for _, tc := range []struct {
		name string
		pkt  []byte
		want Kind
		err  error
	}{
		{"a Router Solicitation", rs(t, subLL, 255), Solicitation, nil},
		{"an RS from the unspecified address", rs(t, netip.IPv6Unspecified(), 255), Solicitation, nil},
		{"an RS with Hop Limit 64", rs(t, subLL, 64), Invalid, ErrHopLimit},
		{"an RS with a bad checksum", badSum, Invalid, ErrChecksum},
		{"an RS cut short", rs(t, subLL, 255)[:44], Invalid, ErrMalformed},
		{"an RA from the subscriber", ra, Forbidden, nil},
		{"a Redirect from the subscriber", redirect, Forbidden, nil},
		{"UDP", udp, Data, nil},
		{"an echo request", echo, Data, nil},
		{"IPv4", []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}, Invalid, ErrMalformed},
		{"a truncated header", make([]byte, 20), Invalid, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Classify(tc.pkt)
			if k != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("Classify = %v, %v; want %v, %v", k, err, tc.want, tc.err)
			}
		})
	}
}

// TestAdvertisementRefusesABadSource: an RA comes from the router's
// link-local address (RFC 4861 section 4.2).
func TestAdvertisementRefusesABadSource(t *testing.T) {
	if _, err := Advertisement(netip.MustParseAddr("2001:db8::1"), AllNodes, Config{}); err == nil {
		t.Error("an RA from a global address was built")
	}
	if _, err := Advertisement(lnsLL, AllNodes, Config{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}); err == nil {
		t.Error("an RA with an IPv4 prefix was built")
	}
}

// TestSchedule: three fast advertisements after the link comes up, then
// one every 198-600 s; a solicitation brings the next one within 0.5 s
// but not within 3 s of the last (RFC 4861 sections 6.2.4 and 6.2.6).
func TestSchedule(t *testing.T) {
	now := time.Unix(1000, 0)
	var s Schedule
	half := func() float64 { return 0.5 }
	s.Start(now, half)
	if !s.Due(now) {
		t.Fatal("the first advertisement is not due at once")
	}
	var gaps []time.Duration
	for range 5 {
		s.Sent(now)
		gaps = append(gaps, s.Next().Sub(now))
		now = s.Next()
	}
	want := []time.Duration{16 * time.Second, 16 * time.Second, 16 * time.Second, 399 * time.Second, 399 * time.Second}
	if d := cmp.Diff(want, gaps); d != "" {
		t.Errorf("gaps (-want +got):\n%s", d)
	}
	s.Sent(now)
	s.Solicited(now.Add(time.Second))
	if got := s.Next().Sub(now); got != 3*time.Second {
		t.Errorf("solicited 1 s after an RA: next in %v, want 3s", got)
	}
	s.Sent(now)
	s.Solicited(now.Add(time.Minute))
	if got := s.Next().Sub(now); got != time.Minute+250*time.Millisecond {
		t.Errorf("solicited a minute after an RA: next in %v, want 1m0.25s", got)
	}
	s.Stop()
	if s.Due(now.Add(time.Hour)) {
		t.Error("due after Stop")
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(rsFor(f, subLL))
	pkt, _ := Advertisement(lnsLL, AllNodes, Config{Prefixes: []netip.Prefix{p64}, MTU: 1492, DNS: []netip.Addr{dns6}})
	f.Add(pkt)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Classify(b)
		if (k == Invalid) != (err != nil) {
			t.Fatalf("kind %v with error %v", k, err)
		}
	})
}

func rsFor(f *testing.F, src netip.Addr) []byte {
	dst := netip.MustParseAddr("ff02::2")
	body, err := ndp.MarshalMessageChecksum(&ndp.RouterSolicitation{}, src, dst)
	if err != nil {
		f.Fatal(err)
	}
	return packet(src, dst, body)
}
