package lns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestLocalPoolNeverHandsOutTwice(t *testing.T) {
	ctx := context.Background()
	p, err := NewLocalPool(map[string][]string{
		"default": {"10.0.0.0/29"},                        // .1-.6 usable
		"gold":    {"10.1.0.10-10.1.0.11", "10.2.0.0/31"}, // 2 + 2
	}, "default")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	for i := 0; i < 6; i++ {
		a, err := p.Allocate(ctx, "", fmt.Sprint("s", i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[a] {
			t.Fatalf("address %s handed out twice", a)
		}
		if a == netip.MustParseAddr("10.0.0.0") || a == netip.MustParseAddr("10.0.0.7") {
			t.Fatalf("network or broadcast address %s handed out", a)
		}
		seen[a] = true
	}
	if _, err := p.Allocate(ctx, "", "s6"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("7th allocation from a /29: err = %v, want ErrPoolExhausted", err)
	}
	// Release one; only that one comes back.
	if err := p.Release(ctx, netip.MustParseAddr("10.0.0.3"), "s2"); err != nil {
		t.Fatal(err)
	}
	a, err := p.Allocate(ctx, "", "s7")
	if err != nil || a != netip.MustParseAddr("10.0.0.3") {
		t.Fatalf("after release got %v, %v; want 10.0.0.3", a, err)
	}
	// A release by a session that does not hold the address changes nothing.
	_ = p.Release(ctx, netip.MustParseAddr("10.0.0.3"), "s2")
	if got := p.InUse("default"); got != 6 {
		t.Fatalf("InUse = %d after a stale release, want 6", got)
	}
	want := map[netip.Addr]bool{}
	for _, s := range []string{"10.1.0.10", "10.1.0.11", "10.2.0.0", "10.2.0.1"} {
		want[netip.MustParseAddr(s)] = true
	}
	for i := 0; i < 4; i++ {
		a, err := p.Allocate(ctx, "gold", fmt.Sprint("g", i))
		if err != nil || !want[a] {
			t.Fatalf("gold allocation %d = %v, %v", i, a, err)
		}
		delete(want, a)
	}
	if _, err := p.Allocate(ctx, "silver", "x"); !errors.Is(err, ErrUnknownPool) {
		t.Fatalf("unknown pool: err = %v", err)
	}
}

func TestLocalPoolClaim(t *testing.T) {
	ctx := context.Background()
	p, err := NewLocalPool(map[string][]string{"d": {"10.0.0.1-10.0.0.2"}}, "d")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Claim(netip.MustParseAddr("10.0.0.1"), "radius"); err != nil {
		t.Fatal(err)
	}
	a, err := p.Allocate(ctx, "", "other")
	if err != nil || a != netip.MustParseAddr("10.0.0.2") {
		t.Fatalf("Allocate after Claim = %v, %v; want 10.0.0.2", a, err)
	}
	if err := p.Claim(netip.MustParseAddr("10.0.0.2"), "third"); err == nil {
		t.Fatal("claiming a held address succeeded")
	}
	if err := p.Claim(netip.MustParseAddr("192.0.2.1"), "outside"); err != nil {
		t.Fatalf("claiming an address outside the pools: %v", err)
	}
}

func TestNewLocalPoolErrors(t *testing.T) {
	for _, defs := range []map[string][]string{
		{"d": {"not-an-address"}},
		{"d": {"10.0.0.9-10.0.0.1"}},
		{"d": {"2001:db8::/64"}},
		{"d": {}},
	} {
		if _, err := NewLocalPool(defs, "d"); err == nil {
			t.Errorf("NewLocalPool(%v) succeeded", defs)
		}
	}
	if _, err := NewLocalPool(map[string][]string{"a": {"10.0.0.0/30"}}, "b"); err == nil {
		t.Error("undefined default pool accepted")
	}
}

func TestPoolsNeverHandOutTheLNSAddress(t *testing.T) {
	cfg := minimalConfig(t, "n", 0, "100.64.0.0/30")
	pool, err := cfg.LocalPools()
	if err != nil {
		t.Fatal(err)
	}
	a, err := pool.Allocate(context.Background(), "", "s1")
	if err != nil || a != netip.MustParseAddr("100.64.0.2") {
		t.Fatalf("the only free address of 100.64.0.0/30 besides the LNS's 100.64.0.1 is .2, got %v, %v", a, err)
	}
	if _, err := pool.Allocate(context.Background(), "", "s2"); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("second allocation: %v, want ErrPoolExhausted", err)
	}
}

// minimalConfig is the smallest LNS configuration the package's tests run
// on: node, shards (0: the default) and the range of pool "p".
func minimalConfig(t *testing.T, node string, shards int, poolRange string) *FileConfig {
	t.Helper()
	conf := "[lns]\nnode = " + node + "\n"
	if shards > 0 {
		conf += "shards = " + strconv.Itoa(shards) + "\n"
	}
	conf += "[tun]\naddress = 100.64.0.1/32\n[pool \"p\"]\nrange = " + poolRange +
		"\n[lac \"a\"]\nsecret = x\n[local-users]\nfile = /dev/null\n[api]\ntoken = t\n"
	cfg, err := ParseConfig(strings.NewReader(conf), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
