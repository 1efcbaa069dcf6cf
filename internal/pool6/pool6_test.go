package pool6

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCarve(t *testing.T) {
	for _, tt := range []struct {
		name string
		def  Def
		size int
		at   map[int]string
	}{
		{"a /40 cut into /56s (RFC 6177 section 3)", Def{"pd", netip.MustParsePrefix("2001:db8:100::/40"), 56}, 65536,
			map[int]string{0: "2001:db8:100::/56", 1: "2001:db8:100:100::/56", 255: "2001:db8:100:ff00::/56", 65535: "2001:db8:1ff:ff00::/56"}},
		{"a /48 cut into /64s", Def{"link", netip.MustParsePrefix("2001:db8:1::/48"), 64}, 65536,
			map[int]string{0: "2001:db8:1::/64", 1: "2001:db8:1:1::/64", 65535: "2001:db8:1:ffff::/64"}},
		{"across the 64-bit boundary: a /60 into /68s", Def{"x", netip.MustParsePrefix("2001:db8:0:10::/60"), 68}, 256,
			map[int]string{0: "2001:db8:0:10::/68", 1: "2001:db8:0:10:1000::/68", 16: "2001:db8:0:11::/68", 255: "2001:db8:0:1f:f000::/68"}},
		{"addresses leave the Subnet-Router anycast out (RFC 4291 section 2.6.1)", Def{"na", netip.MustParsePrefix("2001:db8:2::/112"), 128}, 65535,
			map[int]string{0: "2001:db8:2::1/128", 65534: "2001:db8:2::ffff/128"}},
		{"a /127 keeps both (RFC 6164)", Def{"p2p", netip.MustParsePrefix("2001:db8:3::/127"), 128}, 2,
			map[int]string{0: "2001:db8:3::/128", 1: "2001:db8:3::1/128"}},
		{"the pool is one prefix", Def{"one", netip.MustParsePrefix("2001:db8:4::/56"), 56}, 1,
			map[int]string{0: "2001:db8:4::/56"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.def.Check(); err != nil {
				t.Fatal(err)
			}
			if got := tt.def.Size(); got != tt.size {
				t.Errorf("Size = %d, want %d", got, tt.size)
			}
			for i, want := range tt.at {
				p := tt.def.At(i)
				if p.String() != want {
					t.Errorf("At(%d) = %v, want %s", i, p, want)
				}
				if j, ok := tt.def.Index(p); !ok || j != i {
					t.Errorf("Index(%v) = %d, %v; want %d", p, j, ok, i)
				}
			}
		})
	}
}

func TestIndexOutside(t *testing.T) {
	d := Def{"pd", netip.MustParsePrefix("2001:db8:100::/40"), 56}
	na := Def{"na", netip.MustParsePrefix("2001:db8:2::/112"), 128}
	for _, tt := range []struct {
		def Def
		p   string
	}{
		{d, "2001:db8:200::/56"},   // outside the covering prefix
		{d, "2001:db8:100::/64"},   // another length
		{d, "2001:db8:100:1::/56"}, // not masked
		{na, "2001:db8:2::/128"},   // the anycast address
		{na, "2001:db8:3::1/128"},  // outside
	} {
		if i, ok := tt.def.Index(netip.MustParsePrefix(tt.p)); ok {
			t.Errorf("%v: Index(%s) = %d, want not in the pool", tt.def, tt.p, i)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		def  Def
	}{
		{"no name", Def{"", netip.MustParsePrefix("2001:db8::/48"), 64}},
		{"IPv4", Def{"v4", netip.MustParsePrefix("100.64.0.0/16"), 24}},
		{"IPv4-mapped", Def{"m", netip.MustParsePrefix("::ffff:100.64.0.0/112"), 120}},
		{"host bits", Def{"h", netip.PrefixFrom(netip.MustParseAddr("2001:db8::1"), 48), 64}},
		{"length shorter than the prefix", Def{"s", netip.MustParsePrefix("2001:db8::/48"), 40}},
		{"length past 128", Def{"l", netip.MustParsePrefix("2001:db8::/48"), 129}},
		{"too many: a /32 into /64s", Def{"big", netip.MustParsePrefix("2001:db8::/32"), 64}},
		{"too many: a /64 of addresses", Def{"na", netip.MustParsePrefix("2001:db8::/64"), 128}},
		{"unset prefix", Def{"u", netip.Prefix{}, 64}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.def.Check(); !errors.Is(err, ErrBadPool) {
				t.Errorf("Check(%v) = %v, want ErrBadPool", tt.def, err)
			}
		})
	}
	if err := (Def{"max", netip.MustParsePrefix("2001:db8::/44"), 64}).Check(); err != nil {
		t.Errorf("a pool of exactly MaxSize prefixes refused: %v", err)
	}
}
