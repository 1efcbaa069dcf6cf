package lac

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// gatedDialer opens fake tunnels; a dial waits on gate when one is set,
// then fails if the LNS is dead, and the most dials in flight at once is
// kept.
type gatedDialer struct {
	mu       sync.Mutex
	gate     chan struct{} // nil: dials return at once
	dead     bool
	dials    int
	inFlight int
	most     int
	opened   []*fakeTunnel
}

func (d *gatedDialer) dial(ctx context.Context, l LNS) (Tunnel, error) {
	d.mu.Lock()
	d.dials++
	d.inFlight++
	d.most = max(d.most, d.inFlight)
	gate := d.gate
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inFlight--
		d.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return nil, errors.New("no answer")
	}
	t := &fakeTunnel{lns: l.Name, done: make(chan struct{})}
	d.opened = append(d.opened, t)
	return t, nil
}

func (d *gatedDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials
}

// perTunnel is the sessions on each tunnel of p, in the order the
// tunnels were opened by d.
func perTunnel(p *Pool, d *gatedDialer) []int {
	m := p.Tunnels()
	d.mu.Lock()
	defer d.mu.Unlock()
	var r []int
	for _, t := range d.opened {
		if n, ok := m[t]; ok {
			r = append(r, n)
		}
	}
	return r
}

// clock is a settable time for the Selector (and the pool's tunnel ages).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestPool(d *gatedDialer, sessionCap, tunnels int) (*Pool, *clock) {
	c := &clock{now: time.Unix(1000, 0)}
	sel := NewSelector(time.Minute)
	sel.Now = c.Now
	p := NewPool(sel, d.dial, sessionCap)
	p.SetDefaults(sessionCap, tunnels)
	return p, c
}

// TestPoolSpreadsAcrossTunnels: with 4 tunnels to an LNS, 400 calls end
// up 100 on each, whether the count comes from the LNS or from the
// pool's default; a freed place makes its tunnel the next one used.
func TestPoolSpreadsAcrossTunnels(t *testing.T) {
	for _, tc := range []struct {
		name             string
		lnsTunnels, pool int
	}{{"LNS tunnels", 4, 1}, {"default tunnels", 0, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			d := &gatedDialer{}
			p, _ := newTestPool(d, 0, tc.pool)
			defer p.Stop()
			a := lns("a1", 1, 1)
			a.Tunnels = tc.lnsTunnels
			var leases []*Lease
			for range 400 {
				l, err := p.Acquire(context.Background(), []LNS{a})
				if err != nil {
					t.Fatal(err)
				}
				leases = append(leases, l)
				p.dialWG.Wait() // the background dial, if one started
			}
			if d.count() != 4 {
				t.Errorf("%d dials, want 4", d.count())
			}
			if diff := cmp.Diff([]int{100, 100, 100, 100}, perTunnel(p, d)); diff != "" {
				t.Errorf("sessions per tunnel (-want +got)\n%s", diff)
			}
			// Two places freed on the third tunnel: the next two calls go there.
			third := d.opened[2]
			freed := 0
			for _, l := range leases {
				if l.Tunnel() == third && freed < 2 {
					l.Release()
					freed++
				}
			}
			for range 2 {
				l, err := p.Acquire(context.Background(), []LNS{a})
				if err != nil {
					t.Fatal(err)
				}
				if l.Tunnel() != third {
					t.Errorf("call on tunnel %p, want the least loaded %p", l.Tunnel(), third)
				}
			}
		})
	}
}

// acquireGated leases a place while each dial waits for a token on
// gate: it sends one, for the call's own dial.
func acquireGated(t *testing.T, p *Pool, gate chan struct{}, a LNS) *Lease {
	t.Helper()
	done := make(chan *Lease, 1)
	go func() {
		l, err := p.Acquire(context.Background(), []LNS{a})
		if err != nil {
			t.Error(err)
		}
		done <- l
	}()
	gate <- struct{}{}
	return <-done
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestPoolBackgroundDial: below the tunnel count, calls keep using the
// open tunnel without waiting while one more tunnel is dialled in the
// background, one dial at a time, until the count is reached.
func TestPoolBackgroundDial(t *testing.T) {
	gate := make(chan struct{})
	d := &gatedDialer{gate: gate}
	p, _ := newTestPool(d, 0, 3)
	defer p.Stop()
	a := lns("a1", 1, 1)
	first := acquireGated(t, p, gate, a) // the first call waits for the first tunnel
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for range 20 {
		l, err := p.Acquire(ctx, []LNS{a})
		if err != nil {
			t.Fatalf("a call waited for the background dial: %v", err)
		}
		if l.Tunnel() != first.Tunnel() {
			t.Fatal("a call not on the only open tunnel")
		}
	}
	eventually(t, "the second dial", func() bool { return d.count() == 2 })
	gate <- struct{}{} // the second tunnel comes up; the third's dial starts
	eventually(t, "the second tunnel", func() bool { return len(p.Tunnels()) == 2 })
	l, err := p.Acquire(ctx, []LNS{a})
	if err != nil || l.Tunnel() == first.Tunnel() {
		t.Errorf("the call after the second tunnel came up is not on it (%v)", err)
	}
	gate <- struct{}{} // the third
	p.dialWG.Wait()
	if diff := cmp.Diff([]int{21, 1, 0}, perTunnel(p, d)); diff != "" {
		t.Errorf("sessions per tunnel (-want +got)\n%s", diff)
	}
	if d.most != 1 || d.count() != 3 {
		t.Errorf("%d dials, %d at once to one LNS; want 3 (the count), 1", d.count(), d.most)
	}
}

// TestPoolCapOpensAnother: when every tunnel to the LNS is at its session
// cap, the call dials one more and waits for it.
func TestPoolCapOpensAnother(t *testing.T) {
	d := &gatedDialer{}
	p, _ := newTestPool(d, 3, 2)
	defer p.Stop()
	a := lns("a1", 1, 1)
	for range 6 {
		if _, err := p.Acquire(context.Background(), []LNS{a}); err != nil {
			t.Fatal(err)
		}
		p.dialWG.Wait()
	}
	if diff := cmp.Diff([]int{3, 3}, perTunnel(p, d)); diff != "" {
		t.Fatalf("sessions per tunnel (-want +got)\n%s", diff)
	}
	l, err := p.Acquire(context.Background(), []LNS{a})
	if err != nil {
		t.Fatal(err)
	}
	if d.count() != 3 || l.Tunnel() != d.opened[2] {
		t.Errorf("%d dials, the seventh call on %p; want 3 and the new tunnel", d.count(), l.Tunnel())
	}
	// An LNS's own max-sessions overrides the pool's cap.
	b := lns("b2", 1, 1)
	b.MaxSessions, b.Tunnels = 1, 1
	for range 2 {
		if _, err := p.Acquire(context.Background(), []LNS{b}); err != nil {
			t.Fatal(err)
		}
	}
	if d.count() != 5 {
		t.Errorf("%d dials, want 5 (two tunnels of one session to b2)", d.count())
	}
}

// TestPoolTunnelDownIsolated: a tunnel that goes down takes only its own
// sessions; the others keep theirs and get the new calls, and a
// replacement brings the count back. A tunnel lost just after set-up is
// replaced only when a call asks.
func TestPoolTunnelDownIsolated(t *testing.T) {
	d := &gatedDialer{}
	p, clk := newTestPool(d, 0, 3)
	defer p.Stop()
	a := lns("a1", 1, 1)
	var leases []*Lease
	for range 30 {
		l, err := p.Acquire(context.Background(), []LNS{a})
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
		p.dialWG.Wait()
	}
	clk.add(time.Minute)
	lost := d.opened[1]
	close(lost.done)
	p.Forget(lost) // as TunnelDown does
	p.dialWG.Wait()
	var onLost, down int
	for _, l := range leases {
		select {
		case <-l.Tunnel().Done():
			down++
		default:
		}
		if l.Tunnel() == lost {
			onLost++
			l.Release() // the LAC ends those sessions
		}
	}
	if onLost != 10 || down != 10 {
		t.Errorf("%d sessions on the lost tunnel and %d down, want 10 and 10", onLost, down)
	}
	if d.count() != 4 {
		t.Errorf("%d dials, want 4 (a replacement)", d.count())
	}
	// Tunnels in order of opening: the two that stayed keep their 10, the
	// replacement is empty.
	if diff := cmp.Diff([]int{10, 10, 0}, perTunnel(p, d)); diff != "" {
		t.Errorf("sessions per tunnel after the loss (-want +got)\n%s", diff)
	}
	for range 10 {
		l, err := p.Acquire(context.Background(), []LNS{a})
		if err != nil {
			t.Fatal(err)
		}
		if l.Tunnel() != d.opened[3] {
			t.Errorf("a new call went to %p, want the replacement", l.Tunnel())
		}
	}

	// A tunnel that goes down within replaceAfter of its set-up: no dial
	// then, one with the next call.
	young := d.opened[3]
	close(young.done)
	p.Forget(young)
	p.dialWG.Wait()
	if d.count() != 4 {
		t.Errorf("%d dials after a tunnel lost just after its set-up, want still 4", d.count())
	}
	if _, err := p.Acquire(context.Background(), []LNS{a}); err != nil {
		t.Fatal(err)
	}
	p.dialWG.Wait()
	if d.count() != 5 || len(p.Tunnels()) != 3 {
		t.Errorf("%d dials and %d tunnels after the next call, want 5 and 3", d.count(), len(p.Tunnels()))
	}
}

// TestPoolHeldDownNotRedialled: a background dial that fails holds the LNS
// down: its open tunnel keeps taking calls and it gets no SCCRQ until the
// hold-down ends, neither for the tunnel count nor to replace a lost
// tunnel.
func TestPoolHeldDownNotRedialled(t *testing.T) {
	gate := make(chan struct{})
	d := &gatedDialer{gate: gate}
	p, clk := newTestPool(d, 0, 3)
	defer p.Stop()
	a := lns("a1", 1, 1)
	first := acquireGated(t, p, gate, a)
	eventually(t, "the second dial", func() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.inFlight == 1 })
	d.mu.Lock()
	d.dead, d.gate = true, nil
	d.mu.Unlock()
	gate <- struct{}{} // the second tunnel's dial fails
	p.dialWG.Wait()
	if !p.sel.Down(a) {
		t.Fatal("a failed background dial did not hold the LNS down")
	}
	for range 50 {
		if _, err := p.Acquire(context.Background(), []LNS{a}); err != nil {
			t.Fatalf("call on the open tunnel of a held-down LNS: %v", err)
		}
		p.dialWG.Wait()
	}
	if d.count() != 2 {
		t.Errorf("%d dials to a held-down LNS, want none after the failed one", d.count()-2)
	}
	// A tunnel lost while held down is not replaced either.
	clk.add(time.Second)
	close(first.Tunnel().(*fakeTunnel).done)
	p.Forget(first.Tunnel())
	p.dialWG.Wait()
	if d.count() != 2 || len(p.Tunnels()) != 0 {
		t.Errorf("%d dials to replace a tunnel of a held-down LNS (want none), %d tunnels", d.count()-2, len(p.Tunnels()))
	}
	if _, err := p.Acquire(context.Background(), []LNS{a}); !errors.Is(err, ErrHeldDown) {
		t.Errorf("a call with no tunnel to the held-down LNS: %v, want ErrHeldDown", err)
	}
	// After the hold-down the count is made up again.
	d.mu.Lock()
	d.dead = false
	d.mu.Unlock()
	clk.add(time.Minute)
	if _, err := p.Acquire(context.Background(), []LNS{a}); err != nil {
		t.Fatal(err)
	}
	p.dialWG.Wait()
	if got := len(p.Tunnels()); got != 3 || d.count() != 5 {
		t.Errorf("%d tunnels and %d dials after the hold-down, want 3 and 5", got, d.count())
	}
}

// TestPoolConcurrentSpread: many calls at once (run under -race) open the
// tunnel count with one dial at a time and share them.
func TestPoolConcurrentSpread(t *testing.T) {
	d := &gatedDialer{}
	p, _ := newTestPool(d, 0, 4)
	a := lns("a1", 1, 1)
	var wg sync.WaitGroup
	leases := make(chan *Lease, 400)
	for range 400 {
		wg.Go(func() {
			l, err := p.Acquire(context.Background(), []LNS{a})
			if err != nil {
				t.Error(err)
				return
			}
			leases <- l
		})
	}
	wg.Wait()
	p.Stop()
	close(leases)
	total := 0
	for range leases {
		total++
	}
	sum := 0
	for _, n := range p.Tunnels() {
		sum += n
	}
	if total != 400 || sum != 400 {
		t.Errorf("%d leases, %d counted on tunnels, want 400", total, sum)
	}
	if d.count() != 4 || len(p.Tunnels()) != 4 || d.most != 1 {
		t.Errorf("%d dials, %d tunnels, %d dials at once; want 4, 4, 1", d.count(), len(p.Tunnels()), d.most)
	}
}

// TestPoolStop: after Stop a lost tunnel is not replaced and the tunnel
// count is not made up (the LAC is shutting down); a dial under way is
// cancelled and does not hold the LNS down.
func TestPoolStop(t *testing.T) {
	d := &gatedDialer{}
	p, clk := newTestPool(d, 0, 2)
	a := lns("a1", 1, 1)
	gate := make(chan struct{})
	defer close(gate)
	d.gate = gate
	done := make(chan error, 1)
	go func() {
		_, err := p.Acquire(context.Background(), []LNS{a})
		done <- err
	}()
	gate <- struct{}{} // the first dial returns; the second's is under way
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.Stop() // cancels the second dial and waits for it
	if len(p.Tunnels()) != 1 || p.sel.Down(a) {
		t.Errorf("%d tunnels, held down %v after Stop; want 1, false", len(p.Tunnels()), p.sel.Down(a))
	}
	clk.add(time.Minute)
	t1 := d.opened[0]
	close(t1.done)
	p.Forget(t1)
	if d.count() != 2 {
		t.Errorf("%d dials after Stop, want 2", d.count())
	}
}
