package lac

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/l2tp"
	"github.com/google/go-cmp/cmp"
)

func lns(name string, pref, weight uint32) LNS {
	return LNS{Name: name, Addr: netip.MustParseAddrPort("192.0.2." + name[len(name)-1:] + ":1701"), Preference: pref, Weight: weight}
}

func names(ls []LNS) []string {
	var r []string
	for _, l := range ls {
		r = append(r, l.Name)
	}
	return r
}

func TestRoutesLookup(t *testing.T) {
	a, b, c, d := []LNS{lns("a1", 0, 0)}, []LNS{lns("b2", 0, 0)}, []LNS{lns("c3", 0, 0)}, []LNS{lns("d4", 0, 0)}
	e, f, g := []LNS{lns("e5", 0, 0)}, []LNS{lns("f6", 0, 0)}, []LNS{lns("g7", 0, 0)}
	r, err := NewRoutes([]Route{
		{Realms: []string{"Example.COM"}, LNS: a},
		{Services: []string{"internet"}, LNS: b},
		{Interfaces: []string{"eth1"}, LNS: c},
		{Interfaces: []string{"eth1.100"}, LNS: d},
		{Interfaces: []string{"eth1.10.100"}, LNS: f},
		{Interfaces: []string{"eth1.20"}, LNS: g},
		{Default: true, LNS: e},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		realm   string
		port    Port
		service string
		want    []LNS
	}{
		{"realm case-insensitive", "example.com", Port{Interface: "eth9"}, "internet", a},
		{"realm wins over interface", "EXAMPLE.com", Port{"eth1", 0, 100}, "", a},
		{"vlan", "", Port{"eth1", 0, 100}, "internet", d},
		{"QinQ pair", "", Port{"eth1", 10, 100}, "internet", f},
		{"QinQ S-tag", "", Port{"eth1", 20, 5}, "internet", g},
		{"QinQ falls to interface", "", Port{"eth1", 30, 100}, "internet", c},
		{"interface", "", Port{"eth1", 0, 7}, "internet", c},
		{"unknown realm falls to service", "other.net", Port{Interface: "eth9"}, "internet", b},
		{"default", "", Port{Interface: "eth9"}, "video", e},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := r.Lookup(tc.realm, tc.port, tc.service)
			if diff := cmp.Diff(names(tc.want), names(got)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	noDefault, _ := NewRoutes([]Route{{Realms: []string{"x"}, LNS: a}})
	if got := noDefault.Lookup("y", Port{Interface: "eth0"}, ""); got != nil {
		t.Errorf("a realm with no route got %v", names(got))
	}
	if _, err := NewRoutes([]Route{{Realms: []string{"x"}}, {Realms: []string{"X"}}}); err == nil {
		t.Error("a realm routed twice was accepted")
	}
}

func TestRealm(t *testing.T) {
	for user, want := range map[string]string{"bob@isp.net": "isp.net", "bob": "", "a@b@c.org": "c.org", "@x": "x"} {
		if got := Realm(user); got != want {
			t.Errorf("Realm(%q) = %q, want %q", user, got, want)
		}
	}
}

func TestSelectorPreferenceOrder(t *testing.T) {
	s := NewSelector(time.Minute)
	cands := []LNS{lns("c3", 30, 1), lns("a1", 10, 1), lns("b2", 20, 1)}
	for range 50 {
		if diff := cmp.Diff([]string{"a1", "b2", "c3"}, names(s.Order(cands))); diff != "" {
			t.Fatalf("(-want +got)\n%s", diff)
		}
	}
	if diff := cmp.Diff([]string{"c3", "a1", "b2"}, names(cands)); diff != "" {
		t.Errorf("Order modified its argument (-want +got)\n%s", diff)
	}
}

func TestSelectorWeights(t *testing.T) {
	s := NewSelector(time.Minute)
	r := rand.New(rand.NewPCG(1, 2))
	s.Rand = r.Uint64N
	cands := []LNS{lns("a1", 5, 1), lns("b2", 5, 3), lns("c3", 9, 100)}
	const n = 20000
	first := map[string]int{}
	for range n {
		o := s.Order(cands)
		first[o[0].Name]++
		if o[2].Name != "c3" {
			t.Fatalf("a worse preference came before the last place: %v", names(o))
		}
	}
	// Weights 1:3 → 25 % and 75 % of first picks, within ±15 %.
	for name, want := range map[string]float64{"a1": 0.25 * n, "b2": 0.75 * n} {
		got := float64(first[name])
		if got < want*0.85 || got > want*1.15 {
			t.Errorf("%s first %v times, want %v ± 15 %%", name, got, want)
		}
	}
}

func TestSelectorHoldDown(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewSelector(30 * time.Second)
	s.Now = func() time.Time { return now }
	cands := []LNS{lns("a1", 1, 1), lns("b2", 2, 1)}
	s.MarkDead(cands[0])
	if diff := cmp.Diff([]string{"b2", "a1"}, names(s.Order(cands))); diff != "" {
		t.Errorf("held down: (-want +got)\n%s", diff)
	}
	now = now.Add(29 * time.Second)
	if !s.Down(cands[0]) {
		t.Error("hold-down ended early")
	}
	now = now.Add(time.Second)
	if diff := cmp.Diff([]string{"a1", "b2"}, names(s.Order(cands))); diff != "" {
		t.Errorf("after the hold-down: (-want +got)\n%s", diff)
	}
}

type fakeTunnel struct {
	lns  string
	done chan struct{}
}

func (f *fakeTunnel) Done() <-chan struct{} { return f.done }

type fakeDialer struct {
	mu    sync.Mutex
	dead  map[string]bool
	dials []string
	// err is what a dead LNS's dial returns (default: no answer).
	err error
}

func (d *fakeDialer) dial(_ context.Context, l LNS) (Tunnel, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials = append(d.dials, l.Name)
	if d.dead[l.Name] {
		if d.err != nil {
			return nil, d.err
		}
		return nil, errors.New("no answer")
	}
	return &fakeTunnel{lns: l.Name, done: make(chan struct{})}, nil
}

func TestPoolReuseAndCap(t *testing.T) {
	d := &fakeDialer{}
	a := lns("a1", 1, 1)
	a.MaxSessions = 2
	p := NewPool(NewSelector(time.Minute), d.dial, 0)
	ctx := context.Background()
	var leases []*Lease
	for range 5 {
		l, err := p.Acquire(ctx, []LNS{a})
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	// 5 sessions, 2 per tunnel: 3 tunnels to the same LNS.
	if diff := cmp.Diff([]string{"a1", "a1", "a1"}, d.dials); diff != "" {
		t.Errorf("dials (-want +got)\n%s", diff)
	}
	if leases[0].Tunnel() != leases[1].Tunnel() || leases[1].Tunnel() == leases[2].Tunnel() {
		t.Error("sessions not packed onto tunnels up to the cap")
	}
	leases[0].Release()
	leases[0].Release() // twice: still one place freed
	l, err := p.Acquire(ctx, []LNS{a})
	if err != nil {
		t.Fatal(err)
	}
	if l.Tunnel() != leases[1].Tunnel() || len(d.dials) != 3 {
		t.Errorf("a freed place was not reused (dials %v)", d.dials)
	}
	counts := map[int]int{}
	for _, n := range p.Tunnels() {
		counts[n]++
	}
	if diff := cmp.Diff(map[int]int{2: 2, 1: 1}, counts); diff != "" {
		t.Errorf("sessions per tunnel (-want +got)\n%s", diff)
	}
	// A tunnel that went down is not reused.
	ft := leases[4].Tunnel().(*fakeTunnel)
	close(ft.done)
	l2, err := p.Acquire(ctx, []LNS{a})
	if err != nil {
		t.Fatal(err)
	}
	if l2.Tunnel() == ft {
		t.Error("a closed tunnel got a new session")
	}
}

func TestPoolCapSpillsToNextLNS(t *testing.T) {
	// With one tunnel allowed per LNS address by the cap, the next LNS of
	// the route is used once the dial of a second fails.
	d := &fakeDialer{dead: map[string]bool{}}
	a, b := lns("a1", 1, 1), lns("b2", 2, 1)
	a.MaxSessions = 1
	p := NewPool(NewSelector(time.Minute), d.dial, 0)
	ctx := context.Background()
	l1, err := p.Acquire(ctx, []LNS{a, b})
	if err != nil || l1.LNS().Name != "a1" {
		t.Fatalf("first lease %v, %v", l1, err)
	}
	d.dead["a1"] = true // the LNS refuses a second tunnel
	l2, err := p.Acquire(ctx, []LNS{a, b})
	if err != nil || l2.LNS().Name != "b2" {
		t.Fatalf("second lease on %v, %v; want b2", l2.LNS().Name, err)
	}
}

func TestPoolFailoverAndHoldDown(t *testing.T) {
	now := time.Unix(0, 0)
	sel := NewSelector(time.Minute)
	sel.Now = func() time.Time { return now }
	d := &fakeDialer{dead: map[string]bool{"a1": true}}
	p := NewPool(sel, d.dial, 0)
	cands := []LNS{lns("a1", 1, 1), lns("b2", 2, 1)}
	l, err := p.Acquire(context.Background(), cands)
	if err != nil || l.LNS().Name != "b2" {
		t.Fatalf("lease %v, %v; want b2", l, err)
	}
	if diff := cmp.Diff([]string{"a1", "b2"}, d.dials); diff != "" {
		t.Errorf("dials (-want +got)\n%s", diff)
	}
	// a1 is held down: the next session goes straight to b2's tunnel.
	d.dials = nil
	if _, err := p.Acquire(context.Background(), cands); err != nil {
		t.Fatal(err)
	}
	if len(d.dials) != 0 {
		t.Errorf("dials %v while a1 is held down and b2 has room", d.dials)
	}
	// After the hold-down, a1 (preferred) is tried again.
	now = now.Add(time.Minute)
	d.dead["a1"] = false
	l, err = p.Acquire(context.Background(), cands)
	if err != nil || l.LNS().Name != "a1" {
		t.Fatalf("lease after the hold-down on %v, %v; want a1", l.LNS().Name, err)
	}
	// Every LNS dead: ErrNoTunnel.
	d.dead = map[string]bool{"a1": true, "b2": true}
	p2 := NewPool(NewSelector(time.Minute), d.dial, 0)
	if _, err := p2.Acquire(context.Background(), cands); !errors.Is(err, ErrNoTunnel) {
		t.Errorf("all dead: %v, want ErrNoTunnel", err)
	}
	if _, err := p2.Acquire(context.Background(), nil); !errors.Is(err, ErrNoRoute) {
		t.Errorf("no candidates: %v, want ErrNoRoute", err)
	}
}

func TestPoolConcurrentDialOnce(t *testing.T) {
	d := &fakeDialer{}
	p := NewPool(NewSelector(time.Minute), d.dial, 100)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := p.Acquire(context.Background(), []LNS{lns("a1", 1, 1)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(d.dials) != 1 {
		t.Errorf("%d dials for 50 concurrent sessions under the cap, want 1", len(d.dials))
	}
}

func TestTunnelsFromRADIUS(t *testing.T) {
	got := TunnelsFromRADIUS([]aaa.TunnelChoice{
		{Tag: 1, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "192.0.2.1", Password: []byte("s1"), Preference: 5, HasPreference: true, AssignmentID: "a"},
		{Tag: 2, Type: 1 /* PPTP */, ServerEndpoint: "192.0.2.2"},
		{Tag: 3, ServerEndpoint: "192.0.2.3:1702", ClientAuthID: "lac-x"},
		{Tag: 4, Type: aaa.TunnelL2TP, ServerEndpoint: "lns.example.net"}, // a name: not resolved here
		{Tag: 5, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv6, ServerEndpoint: "2001:db8::1"},
	})
	type row struct {
		Addr   string
		Secret string
		Pref   uint32
		Assign string
		AuthID string
	}
	var rows []row
	for _, l := range got {
		rows = append(rows, row{l.Addr.String(), string(l.Secret), l.Preference, l.AssignmentID, l.ClientAuthID})
	}
	want := []row{
		{"192.0.2.1:1701", "s1", 5, "a", ""},
		{"192.0.2.3:1702", "", 1 << 24, "", "lac-x"},
		{"[2001:db8::1]:1701", "", 1 << 24, "", ""},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestPoolStoppedEndpointHoldsNothingDown: a dial refused because the
// LAC's own endpoint has stopped says nothing of the LNS, which is not held
// down for it.
func TestPoolStoppedEndpointHoldsNothingDown(t *testing.T) {
	sel := NewSelector(time.Minute)
	d := &fakeDialer{dead: map[string]bool{"a1": true}, err: l2tp.ErrNotRunning}
	p := NewPool(sel, d.dial, 0)
	cands := []LNS{lns("a1", 1, 1)}
	if _, err := p.Acquire(context.Background(), cands); !errors.Is(err, l2tp.ErrNotRunning) {
		t.Fatalf("Acquire: %v, want ErrNotRunning", err)
	}
	if sel.Down(cands[0]) {
		t.Error("the LNS is held down for the LAC's own stopped endpoint")
	}
}
