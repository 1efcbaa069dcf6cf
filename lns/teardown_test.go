package lns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/leakcheck"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/l2tp"
)

// stopSink is an accounting sink that counts the Stop records by cause.
type stopSink struct {
	stops [32]atomic.Int64
	all   atomic.Int64
}

func (s *stopSink) Write(_ context.Context, recs []accounting.Record) error {
	for _, r := range recs {
		if r.Kind == accounting.Stop {
			s.all.Add(1)
			s.stops[int(r.Cause)%len(s.stops)].Add(1)
		}
	}
	return nil
}

type acceptAll struct{}

func (acceptAll) Authenticate(context.Context, aaa.AuthRequest) (*aaa.AuthReply, error) {
	return &aaa.AuthReply{Accept: true}, nil
}

// teardownServer is an LNS on a loopback socket with a TUN that discards,
// accounting into a stopSink, and n sessions up and accounted on one
// tunnel, as after IPCP came up for each.
func teardownServer(t *testing.T, n int, pool AddressPool) (*Server, *accounting.Accountant, *stopSink, []*session) {
	t.Helper()
	cfg := minimalConfig(t, "td", 2, "100.64.0.0/16")
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	sink := &stopSink{}
	acct, err := accounting.NewAccountant(accounting.AccountantConfig{SpoolDir: t.TempDir(), Node: "td",
		Sinks: map[string]accounting.Sink{"test": sink}, Interim: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg, Deps{Conn: conn, TUN: []TUNQueue{&dpCountTUN{release: make(chan struct{})}},
		Auth: acceptAll{}, Acct: acct, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	tunnel := &l2tp.Tunnel{}
	sessions := make([]*session, n)
	for i := range sessions {
		ss := &session{srv: srv, sh: srv.shardOf(uint64(i)), id: fmt.Sprintf("td-%06d", i), call: &l2tp.Session{},
			tunnel: tunnel, lac: &cfg.LACs[0], log: srv.log, state: stateUp, accounted: true,
			addr: netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)})}
		if pool != nil {
			ss.authed = &authOutcome{ok: true, addr: ss.addr, pool: "p"}
		}
		ss.publish()
		srv.sessions[ss.id] = ss
		srv.countUp(1)
		acct.SessionStarted(accounting.SessionInfo{Record: accounting.Record{SessionID: ss.id, Addr: ss.addr}})
		sessions[i] = ss
	}
	return srv, acct, sink, sessions
}

// TestTunnelDownUnderLoad: a tunnel with 64,000 sessions goes down while
// the shards are not taking events (here: before they run; in production:
// busy). Every teardown the shard inboxes cannot hold waits in the shards'
// teardown queues, not in a goroutine; none is lost: every session gets
// its accounting Stop (Lost-Service: the tunnel is gone) and nothing is
// left running.
func TestTunnelDownUnderLoad(t *testing.T) {
	leakcheck.Check(t)
	n := 64000
	if testing.Short() {
		n = 10000
	}
	srv, acct, sink, sessions := teardownServer(t, n, nil)
	ctx, cancel := context.WithCancel(context.Background())
	acctDone := make(chan error, 1)
	go func() { acctDone <- acct.Run(ctx) }()
	defer func() { cancel(); <-acctDone }()
	waitFor(t, 20*time.Second, "every session's Start accounted", func() bool { return acct.Stats().Sessions == n })

	base := leakcheck.TakeSettled()
	for _, ss := range sessions { // the tunnel's goroutine, reporting every call
		srv.callDown(ss, true, accounting.CauseLostService)
	}
	if extra := base.Extra(); extra != 0 {
		t.Fatalf("%d goroutines started for %d teardowns; want 0", extra, n)
	}
	if q, want := srv.stats.TeardownsQueued.Load(), uint64(n-len(srv.shards)*cap(srv.shards[0].in)); q != want {
		t.Errorf("%d teardowns queued behind full inboxes, want %d", q, want)
	}

	srvCtx, stop := context.WithCancel(context.Background())
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(srvCtx) }()
	waitFor(t, 20*time.Second, "every session torn down", func() bool { return len(srv.snapshot()) == 0 })
	if err := acct.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-srvDone; err != nil {
		t.Fatal(err)
	}
	if got, lost := sink.all.Load(), sink.stops[accounting.CauseLostService].Load(); got != int64(n) || lost != int64(n) {
		t.Errorf("%d accounting Stops (%d Lost-Service), want %d", got, lost, n)
	}
	if got := srv.stats.Teardowns[accounting.CauseLostService].Load(); got != uint64(n) || srv.SessionsUp() != 0 {
		t.Errorf("%d teardowns counted, %d sessions up; want %d and 0", got, srv.SessionsUp(), n)
	}
	reg := metrics.New()
	srv.RegisterMetrics(reg)
	var scrape strings.Builder
	reg.Write(&scrape)
	for _, want := range []string{
		fmt.Sprintf("%s %d\n", metrics.TeardownsQueued, srv.stats.TeardownsQueued.Load()),
		fmt.Sprintf("%s 0\n", metrics.L2TPSocketDrops),
		fmt.Sprintf("%s{direction=\"receive\"} ", metrics.L2TPSocketBuffer),
	} {
		if !strings.Contains(scrape.String(), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

// slowPool is a shared address pool whose Release waits for open: a
// database that is slow to answer. It records how many Releases were in
// flight at once.
type slowPool struct {
	open              chan struct{}
	inFlight, maxSeen atomic.Int64
	released          atomic.Int64
}

func (p *slowPool) Allocate(context.Context, string, string) (netip.Addr, error) {
	return netip.Addr{}, fmt.Errorf("not used")
}

func (p *slowPool) Release(ctx context.Context, _ netip.Addr, _ string) error {
	n := p.inFlight.Add(1)
	for m := p.maxSeen.Load(); n > m && !p.maxSeen.CompareAndSwap(m, n); m = p.maxSeen.Load() {
	}
	defer p.inFlight.Add(-1)
	select {
	case <-p.open:
		p.released.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestSharedPoolReleaseQueued: the addresses of torn-down sessions go back
// to a shared pool (a database round trip each) from one releaser, not
// from a goroutine per teardown, and every one of them is released.
func TestSharedPoolReleaseQueued(t *testing.T) {
	leakcheck.Check(t)
	const n = 5000
	pool := &slowPool{open: make(chan struct{})}
	srv, acct, _, sessions := teardownServer(t, n, pool)
	ctx, cancel := context.WithCancel(context.Background())
	acctDone := make(chan error, 1)
	go func() { acctDone <- acct.Run(ctx) }()
	defer func() { cancel(); <-acctDone }()
	srvCtx, stop := context.WithCancel(context.Background())
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(srvCtx) }()
	for _, ss := range sessions {
		srv.callDown(ss, true, accounting.CauseLostService)
	}
	waitFor(t, 20*time.Second, "every session torn down", func() bool { return len(srv.snapshot()) == 0 })
	waitFor(t, 5*time.Second, "a release in flight", func() bool { return pool.inFlight.Load() > 0 })
	if m := pool.maxSeen.Load(); m != 1 {
		t.Errorf("%d address releases in flight at once; want 1 (the releaser)", m)
	}
	close(pool.open)
	waitFor(t, 20*time.Second, "every address released", func() bool { return pool.released.Load() == n })
	stop()
	if err := <-srvDone; err != nil {
		t.Fatal(err)
	}
}

// TestSetupMetricsCountEveryRefusal: a refused set-up shows in
// bras_session_setups_total whichever limit refused it: the LNS's own
// (the node's max-sessions), the L2TP endpoint's before the LNS sees the
// call (a tunnel's [lac] max-sessions), or the full queue of the
// authentication workers.
func TestSetupMetricsCountEveryRefusal(t *testing.T) {
	srv, _, _, _ := teardownServer(t, 0, nil)
	srv.stats.CallsRefused.Add(2)                 // by the LNS, so by its endpoint too
	srv.Endpoint().Stats().SessionsRefused.Add(5) // those 2 and 3 at a tunnel's cap
	srv.stats.AuthBusy.Add(4)
	reg := metrics.New()
	srv.RegisterMetrics(reg)
	var scrape strings.Builder
	reg.Write(&scrape)
	for _, want := range []string{
		metrics.SessionSetups + `{result="refused"} 5` + "\n",
		metrics.SessionSetups + `{result="auth_busy"} 4` + "\n",
	} {
		if !strings.Contains(scrape.String(), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if got := srv.SetupCounts().Failed; got != 9 {
		t.Errorf("SetupCounts().Failed = %d, want 9 (5 refused, 4 busy)", got)
	}
}
