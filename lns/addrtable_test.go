package lns

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

func dpTestFlow(t testing.TB, peerSession uint16) *Flow {
	t.Helper()
	f, err := NewFlow(FlowConfig{
		PeerTunnelID: 1, PeerSessionID: peerSession,
		Peer: netip.MustParseAddrPort("192.0.2.1:1701"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAddrTableBasics(t *testing.T) {
	tab := NewAddrTable(16)
	f1, f2 := dpTestFlow(t, 1), dpTestFlow(t, 2)
	a := netip.MustParseAddr("100.64.0.10")

	if got := tab.Lookup(a); got != nil {
		t.Fatalf("Lookup in an empty table = %p, want nil", got)
	}
	if err := tab.Insert(a, f1); err != nil {
		t.Fatal(err)
	}
	if err := tab.Insert(a, f1); err != nil {
		t.Errorf("re-inserting the same binding = %v, want nil", err)
	}
	if err := tab.Insert(a, f2); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("binding a bound address to another flow = %v, want ErrAddrInUse", err)
	}
	if got := tab.Lookup(a); got != f1 {
		t.Errorf("Lookup = %p, want f1 %p", got, f1)
	}
	if got := tab.Lookup4(0x6440000a); got != f1 {
		t.Errorf("Lookup4(0x6440000a) = %p, want f1 %p", got, f1)
	}
	if got := tab.Lookup(netip.MustParseAddr("::ffff:100.64.0.10")); got != f1 {
		t.Errorf("Lookup of the IPv4-mapped form = %p, want f1", got)
	}
	if tab.Delete(a, f2) {
		t.Error("Delete with the wrong flow removed the binding (a late removal of an old session must not unbind the new one)")
	}
	if !tab.Delete(a, f1) || tab.Lookup(a) != nil || tab.Len() != 0 {
		t.Errorf("after Delete: Lookup = %p, Len = %d; want nil, 0", tab.Lookup(a), tab.Len())
	}
	if err := tab.Insert(a, f2); err != nil {
		t.Errorf("binding a freed address = %v, want nil", err)
	}

	for _, bad := range []netip.Addr{{}, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("2001:db8::1")} {
		if err := tab.Insert(bad, f1); !errors.Is(err, ErrBadKey) {
			t.Errorf("Insert(%v) = %v, want ErrBadKey", bad, err)
		}
	}
}

func TestSessionTableBasics(t *testing.T) {
	tab := NewSessionTable(16)
	f := dpTestFlow(t, 1)
	if err := tab.Insert(0, 5, f); !errors.Is(err, ErrBadKey) {
		t.Errorf("Insert(tunnel 0) = %v, want ErrBadKey", err)
	}
	if err := tab.Insert(7, 0, f); !errors.Is(err, ErrBadKey) {
		t.Errorf("Insert(session 0) = %v, want ErrBadKey", err)
	}
	if err := tab.Insert(7, 9, f); err != nil {
		t.Fatal(err)
	}
	if tab.Lookup(7, 9) != f || tab.Lookup(9, 7) != nil || tab.Lookup(7, 10) != nil {
		t.Error("Lookup confuses (tunnel, session) keys")
	}
	if !tab.Delete(7, 9, f) || tab.Lookup(7, 9) != nil {
		t.Error("Delete did not unbind (7, 9)")
	}
}

// TestAddrTableChurn runs a long random sequence of binds and unbinds, far
// beyond the initial size, and checks every step against a map: growth,
// Tombstone reuse and rehashing lose nothing and resurrect nothing.
func TestAddrTableChurn(t *testing.T) {
	tab := NewAddrTable(64)
	model := map[uint32]*Flow{}
	flows := []*Flow{dpTestFlow(t, 1), dpTestFlow(t, 2), dpTestFlow(t, 3)}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() uint32 { return 0x64400000 + rng.Uint32N(20000) + 1 } // 100.64.0.0/17-ish
	addr := func(k uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})
	}
	for i := 0; i < 200000; i++ {
		k := key()
		f := flows[rng.IntN(len(flows))]
		if rng.IntN(3) != 0 {
			err := tab.Insert(addr(k), f)
			switch old, ok := model[k]; {
			case !ok:
				if err != nil {
					t.Fatalf("step %d: Insert(%v) = %v", i, addr(k), err)
				}
				model[k] = f
			case old == f:
				if err != nil {
					t.Fatalf("step %d: re-Insert(%v) = %v", i, addr(k), err)
				}
			default:
				if !errors.Is(err, ErrAddrInUse) {
					t.Fatalf("step %d: Insert(%v) over another flow = %v", i, addr(k), err)
				}
			}
		} else {
			got := tab.Delete(addr(k), f)
			want := model[k] == f
			if got != want {
				t.Fatalf("step %d: Delete(%v) = %v, want %v", i, addr(k), got, want)
			}
			if want {
				delete(model, k)
			}
		}
		if i%1000 == 0 {
			for k, f := range model {
				if tab.Lookup4(k) != f {
					t.Fatalf("step %d: Lookup4(%#x) lost its flow", i, k)
				}
			}
		}
	}
	if tab.Len() != len(model) {
		t.Errorf("Len = %d, want %d", tab.Len(), len(model))
	}
	for k := uint32(0x64400001); k < 0x64400000+20001; k++ {
		if got, want := tab.Lookup4(k), model[k]; got != want {
			t.Fatalf("final Lookup4(%v) = %p, want %p", addr(k), got, want)
		}
	}
}

// TestAddrTableConcurrentReaders looks up addresses that stay bound while
// writers bind and unbind thousands of others (forcing rehashes): a reader
// never misses a bound address, and (under -race) no data race exists
// between lock-free readers and writers.
func TestAddrTableConcurrentReaders(t *testing.T) {
	tab := NewAddrTable(16)
	stable := make([]*Flow, 64)
	for i := range stable {
		stable[i] = dpTestFlow(t, uint16(i+1))
		if err := tab.Insert(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), stable[i]); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var misses atomic.Int64
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				for i, f := range stable {
					if tab.Lookup4(0x0a000000|uint32(i+1)) != f {
						misses.Add(1)
					}
				}
			}
		}()
	}
	churn := dpTestFlow(t, 999)
	for round := 0; round < 20; round++ {
		for i := 0; i < 2000; i++ {
			if err := tab.Insert(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), churn); err != nil && !errors.Is(err, ErrBadKey) {
				t.Fatal(err)
			}
		}
		for i := 0; i < 2000; i++ {
			tab.Delete(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), churn)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := misses.Load(); n != 0 {
		t.Errorf("readers missed a bound address %d times during churn", n)
	}
	if tab.Len() != len(stable) {
		t.Errorf("Len = %d after churn, want %d", tab.Len(), len(stable))
	}
}

func TestAddrTableLookupAllocs(t *testing.T) {
	tab := NewAddrTable(1024)
	f := dpTestFlow(t, 1)
	tab.Insert(netip.MustParseAddr("100.64.0.1"), f)
	if avg := testing.AllocsPerRun(1000, func() {
		if tab.Lookup4(0x64400001) != f || tab.Lookup4(0x64400002) != nil {
			t.Fatal("wrong lookup")
		}
	}); avg != 0 {
		t.Errorf("Lookup4 allocates %.1f times, want 0", avg)
	}
}
