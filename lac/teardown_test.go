package lac

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/leakcheck"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
)

// padtCounter stands in for the pppoe.Server: it counts the PADTs sent.
type padtCounter struct{ n atomic.Int64 }

func (c *padtCounter) Close(*pppoe.Session, string) { c.n.Add(1) }

// TestEndsUnderLoad: every session of a LAC ends at once while its shards
// are not taking events (here: before they run; in production: busy). The
// ends the shard queues cannot hold wait on the shards' queues of ends: none
// is dropped, no goroutine is started, every subscriber gets its PADT.
func TestEndsUnderLoad(t *testing.T) {
	n := 64000
	if testing.Short() {
		n = 10000
	}
	for _, tc := range []struct {
		name string
		call bool // the call is up: the LNS closes the tunnel
	}{
		{"tunnel down", true},
		{"subscribers leave", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			l, err := New(Config{Shards: 2, Workers: 1, QueueSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			padts := &padtCounter{}
			acc := l.NewAccess(AccessConfig{})
			acc.bind(padts)
			var tunnel, lnsSide *l2tp.Tunnel
			if tc.call {
				tunnel, lnsSide = openTunnel(t, l)
			}
			sessions := make([]*session, n)
			for i := range sessions {
				s := &session{l: l, acc: acc, ps: &pppoe.Session{ID: uint16(i)}, mode: ModeTransparent,
					sh: l.shards[i%len(l.shards)], state: stCalling}
				s.ps.Owner = s
				if tc.call {
					if s.ls, err = tunnel.PlaceCall(l2tp.CallRequest{Value: s}); err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
					s.state = stUp
				}
				s.sh.sessions[s] = struct{}{}
				l.active.Add(1)
				sessions[i] = s
			}

			base := leakcheck.TakeSettled()
			if tc.call {
				// The LNS closes the tunnel: the LAC's tunnel goroutine
				// reports the end of every call.
				lnsSide.Close(l2tp.ResultCode{Result: uint16(l2tp.StopCCNShuttingDown)})
			} else {
				for _, s := range sessions {
					s.acc.SessionDown(s.ps, pppoe.DownPADT)
				}
			}
			within(t, 20*time.Second, "every end reported", func() bool {
				q := l.stats.EndsQueued.Load() + l.stats.EventsDropped.Load()
				for _, sh := range l.shards {
					q += uint64(len(sh.in))
				}
				return q == uint64(n)
			})
			if extra := base.Extra(); extra != 0 {
				t.Fatalf("%d goroutines started for %d ends; want 0", extra, n)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- l.Run(ctx) }()
			within(t, 20*time.Second, "every session to end", func() bool { return l.ActiveSessions() == 0 })
			cancel()
			<-done
			st := &l.stats
			if got := padts.n.Load(); got != int64(n) {
				t.Errorf("%d PADTs sent, want %d", got, n)
			}
			if st.EventsDropped.Load() != 0 || st.EndsQueued.Load() != uint64(n-len(l.shards)*cap(l.shards[0].in)) {
				t.Errorf("%d events dropped, %d ends queued; want 0 and %d", st.EventsDropped.Load(), st.EndsQueued.Load(),
					n-len(l.shards)*cap(l.shards[0].in))
			}
			if tc.call && st.CDNFromLNS.Load() != uint64(n) || !tc.call && st.PADTFromSub.Load() != uint64(n) {
				t.Errorf("%d CDNs and %d PADTs from subscribers handled, want %d", st.CDNFromLNS.Load(), st.PADTFromSub.Load(), n)
			}
		})
	}
}

// callsOnly is the LAC's endpoint handler while the test brings the calls
// up itself: it passes on only their ends.
type callsOnly struct {
	l2tp.NopHandler
	h l2tp.Handler
}

func (c callsOnly) SessionDown(ls *l2tp.Session, rc l2tp.ResultCode) { c.h.SessionDown(ls, rc) }

// openTunnel opens a tunnel from an endpoint of l to an LNS endpoint over
// loopback UDP that takes every call; it returns both ends.
func openTunnel(t *testing.T, l *LAC) (lac, lns *l2tp.Tunnel) {
	return openTunnelTo(t, l, l2tp.NopHandler{})
}

// openTunnelTo is openTunnel with lnsHandler on the LNS's endpoint.
func openTunnelTo(t *testing.T, l *LAC, lnsHandler l2tp.Handler) (lac, lns *l2tp.Tunnel) {
	t.Helper()
	var conns [2]*net.UDPConn
	for i := range conns {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	lacEP, err := l2tp.NewEndpoint(conns[0], l2tp.Config{HostName: "lac", Handler: callsOnly{h: l.L2TPHandler()}, InboxSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	lnsEP, err := l2tp.NewEndpoint(conns[1], l2tp.Config{HostName: "lns", Handler: lnsHandler, InboxSize: 4096,
		Accept: func(netip.AddrPort, string) (l2tp.TunnelOptions, error) { return l2tp.TunnelOptions{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, ep := range []*l2tp.Endpoint{lacEP, lnsEP} {
		wg.Go(func() { ep.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	var tn *l2tp.Tunnel
	within(t, 5*time.Second, "the endpoints to run", func() bool {
		tn, err = lacEP.Dial(ctx, conns[1].LocalAddr().(*net.UDPAddr).AddrPort(), l2tp.TunnelOptions{})
		return !errors.Is(err, l2tp.ErrNotRunning)
	})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "the LNS's end of the tunnel", func() bool { return len(lnsEP.Tunnels()) == 1 })
	return tn, lnsEP.Tunnels()[0]
}
