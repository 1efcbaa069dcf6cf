package dataplane

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// nextHopKey is fib6_cache's key for an upstream packet from src to dst
// arriving on ifindex.
func nextHopKey(src, dst string, ifindex int) lnsFib6Key {
	var k lnsFib6Key
	d, s := netip.MustParseAddr(dst).As16(), netip.MustParseAddr(src).As16()
	copy(k.Dst[:], d[:])
	copy(k.Src64[:], s[:8])
	k.Ifindex = uint32(ifindex)
	return k
}

// setNextHopCache writes the settings of lnsFill with the cache's
// generation gen and admission admit.
func setNextHopCache(t *testing.T, w *testWorld, objs *lnsObjects, gen, admit uint32) {
	t.Helper()
	cfg := lnsDpConfig{L2tpPort: be16(1701), SlowIfindex: uint32(w.ifA), FibGen: gen, Fib6Admit: admit}
	if err := objs.Settings.Put(uint32(0), cfg); err != nil {
		t.Fatal(err)
	}
}

// TestXDPLNSNextHopCache6: upstream IPv6 next hops come from fib6_cache
// while their generation holds, and from the FIB again once it moves on:
// a neighbour's new MAC address is used only after the generation moves
// (which the daemon does on every change, TestLNSPathNextHopFollowsRoutes),
// the route's MTU is kept with the hop and still sends a packet over it
// to the slow path, and with the cache off nothing is cached.
func TestXDPLNSNextHopCache6(t *testing.T) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	pkt := lns6UDP(lns6Link, lns6Net, 64)
	in := lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(pkt))
	key := nextHopKey(lns6Link, lns6Net, w.ifA)
	newMAC := net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xb9}
	outTo := func(mac net.HardwareAddr) []byte {
		out := lns6UpOut(pkt)
		copy(out, mac)
		return out
	}
	send := func(step string, frame []byte, verdict uint32, want []byte) {
		t.Helper()
		got, out := w.run(t, objs.XdpLns, w.ifA, frame)
		if got != verdict {
			t.Fatalf("%s: verdict %d, want %d", step, got, verdict)
		}
		if want != nil {
			if diff := cmp.Diff(want, out); diff != "" {
				t.Fatalf("%s: frame (-want +got):\n%s", step, diff)
			}
		}
	}
	cached := func(step string) lnsFib6Hop {
		t.Helper()
		var hop lnsFib6Hop
		if err := objs.Fib6Cache.Lookup(key, &hop); err != nil {
			t.Fatalf("%s: fib6_cache: %v", step, err)
		}
		return hop
	}

	// Off: forwarded by the FIB, nothing cached.
	setNextHopCache(t, w, objs, 1, 0)
	send("cache off", in, xdpRedirect, lns6UpOut(pkt))
	var hop lnsFib6Hop
	if err := objs.Fib6Cache.Lookup(key, &hop); err == nil {
		t.Fatalf("cache off: fib6_cache holds %+v", hop)
	}

	// On, every miss admitted: the first packet fills the entry.
	setNextHopCache(t, w, objs, 1, 1)
	send("first packet", in, xdpRedirect, lns6UpOut(pkt))
	want := lnsFib6Hop{Gen: 1, Ifindex: uint32(w.ifB), Mtu: 1500}
	copy(want.Dmac[:], testMACB2)
	copy(want.Smac[:], testMACB)
	if diff := cmp.Diff(want, cached("first packet")); diff != "" {
		t.Fatalf("cached hop (-want +got):\n%s", diff)
	}

	// The neighbour moves: the cached hop holds until the generation does.
	w.ns.MustRun(t, "ip", "-6", "neigh", "replace", "2001:db8:b::2", "lladdr", newMAC.String(), "dev", "dp-b", "nud", "permanent")
	send("same generation", in, xdpRedirect, lns6UpOut(pkt))
	setNextHopCache(t, w, objs, 2, 1)
	send("next generation", in, xdpRedirect, outTo(newMAC))
	if hop := cached("next generation"); hop.Gen != 2 || net.HardwareAddr(hop.Dmac[:]).String() != newMAC.String() {
		t.Fatalf("renewed hop %+v, want generation 2 to %v", hop, newMAC)
	}

	// The route's MTU comes with the hop: a packet over it goes to the
	// slow path (which sends Packet Too Big) without a FIB lookup.
	w.ns.MustRun(t, "ip", "-6", "route", "replace", "2001:db8:ff::/48", "via", "2001:db8:b::2", "mtu", "lock", "1280")
	setNextHopCache(t, w, objs, 3, 1)
	send("small packet", in, xdpRedirect, outTo(newMAC))
	if hop := cached("small packet"); hop.Mtu != 1280 {
		t.Fatalf("cached MTU %d, want the route's 1280", hop.Mtu)
	}
	lnsFill(t, w, objs)
	setNextHopCache(t, w, objs, 3, 1)
	big := lnsFromLAC(lnsLAC, lnsLACPort, lns6Data(lns6Big(lns6Link, lns6Net, 1300)))
	send("packet over the route MTU", big, xdpPass, big)
	if diff := cmp.Diff(map[Reason]uint64{ReasonPassMTU: 1}, objs.reasons(t)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}

// TestFIBWatch: the route watch moves the generation when the kernel's
// routes or neighbours change, not only on its tick.
func TestFIBWatch(t *testing.T) {
	w := newTestWorld(t)
	var bumps atomic.Int64
	var fw *fibWatch
	err := w.ns.Do(func() (err error) {
		fw, err = watchFIB(func() error { bumps.Add(1); return nil }, func(err error) { t.Error(err) }, time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.close()
	for _, change := range [][]string{
		{"ip", "-6", "route", "add", "2001:db8:77::/48", "via", "2001:db8:b::2"},
		{"ip", "-6", "neigh", "replace", "2001:db8:b::2", "lladdr", "02:d0:00:00:00:b9", "dev", "dp-b", "nud", "permanent"},
		{"ip", "route", "del", "203.0.113.0/24"},
	} {
		before := bumps.Load()
		w.ns.MustRun(t, change[0], change[1:]...)
		deadline := time.Now().Add(10 * time.Second)
		for bumps.Load() == before {
			if time.Now().After(deadline) {
				t.Fatalf("%v: the generation did not move", change)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestLNSPathNextHopCache: the fast path loads with the cache on and the
// route watch moving the generation in its settings (keeping the rest of
// them), and with ipv6-next-hop-cache = off loads with the cache off.
func TestLNSPathNextHopCache(t *testing.T) {
	w := newTestWorld(t)
	settings := func(p *LNSPath) lnsDpConfig {
		t.Helper()
		var c lnsDpConfig
		if err := p.objs.Settings.Lookup(uint32(0), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	var on, off *LNSPath
	err := w.ns.Do(func() (err error) {
		if on, err = NewLNSPath(Config{Interfaces: []string{"dp-a", "dp-b"}, SlowInterface: "dp-a"}); err != nil {
			return err
		}
		off, err = NewLNSPath(Config{Interfaces: []string{"dp-a-p"}, NoNextHopCache: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer on.Close()
	defer off.Close()
	if c := settings(off); c.Fib6Admit != 0 || off.watch != nil {
		t.Errorf("cache off: admission %d, watch %v", c.Fib6Admit, off.watch)
	}
	before := settings(on)
	if before.Fib6Admit != nextHopAdmit {
		t.Errorf("admission %d, want %d", before.Fib6Admit, nextHopAdmit)
	}
	w.ns.MustRun(t, "ip", "-6", "route", "add", "2001:db8:78::/48", "via", "2001:db8:b::2")
	deadline := time.Now().Add(10 * time.Second)
	for settings(on).FibGen == before.FibGen {
		if time.Now().After(deadline) {
			t.Fatal("the route change did not move the generation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	after := settings(on)
	after.FibGen = before.FibGen
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("settings besides the generation (-before +after):\n%s", diff)
	}
}

// TestSettingsNextHopCache: [dataplane] ipv6-next-hop-cache.
func TestSettingsNextHopCache(t *testing.T) {
	for _, tc := range []struct {
		in      string
		off, ok bool
	}{{"", false, true}, {"on", false, true}, {"off", true, true}, {"yes", false, false}} {
		p, err := Settings{Engine: "userspace", NextHopCache: tc.in}.Check()
		if (err == nil) != tc.ok || (err == nil && p.NoNextHopCache != tc.off) {
			t.Errorf("%q: off %v, err %v; want off %v, ok %v", tc.in, p.NoNextHopCache, err, tc.off, tc.ok)
		}
	}
}
