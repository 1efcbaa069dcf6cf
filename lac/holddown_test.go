package lac

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/leakcheck"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
)

func TestDialFailure(t *testing.T) {
	te := func(rc l2tp.StopCCNResult, err error) error {
		return fmt.Errorf("l2tp: tunnel to 192.0.2.1:1701: %w", &l2tp.TunnelError{Result: l2tp.ResultCode{Result: uint16(rc)}, Err: err})
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"StopCCN not authorized", te(l2tp.StopCCNNotAuthorized, fmt.Errorf("%w: not authorized", l2tp.ErrStopCCN)),
			"refused by the LNS (tunnel authentication)"},
		{"wrong Challenge Response", te(l2tp.StopCCNNotAuthorized, fmt.Errorf("%w: wrong Challenge Response in SCCRP", l2tp.ErrNotAuthorized)),
			"refused by the LNS (tunnel authentication)"},
		{"StopCCN shutting down", te(l2tp.StopCCNShuttingDown, fmt.Errorf("%w: shutting down", l2tp.ErrStopCCN)), "refused by the LNS"},
		{"retransmissions exhausted", te(l2tp.StopCCNGeneralError, fmt.Errorf("%w (5 retransmissions)", l2tp.ErrPeerUnreachable)),
			"the LNS did not answer"},
		{"dial timeout", fmt.Errorf("l2tp: dial 192.0.2.1:1701: %w", context.DeadlineExceeded), "the LNS did not answer"},
		{"other", te(l2tp.StopCCNFSMError, fmt.Errorf("%w: no Assigned Tunnel ID", l2tp.ErrProtocol)), "tunnel set-up to the LNS failed"},
	} {
		if got := dialFailure(tc.err); got != tc.want {
			t.Errorf("%s: dialFailure(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}

// padtLog stands in for the pppoe.Server: it records the PADTs sent.
type padtLog struct {
	mu   sync.Mutex
	msgs []string
}

func (p *padtLog) Close(_ *pppoe.Session, msg string) {
	p.mu.Lock()
	p.msgs = append(p.msgs, msg)
	p.mu.Unlock()
}

func (p *padtLog) sent() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHoldDownHolds: the only LNS of the route refuses the tunnel (StopCCN
// result 4). The LAC logs a refusal, not silence, and holds the LNS down:
// ten subscribers during the hold-down send no SCCRQ and each gets a PADT
// with the reason; once the hold-down is over, the next subscriber sends
// one SCCRQ.
func TestHoldDownHolds(t *testing.T) {
	leakcheck.Check(t)
	var clock atomic.Int64
	clock.Store(time.Unix(1000, 0).UnixNano())
	sel := NewSelector(time.Minute)
	sel.Now = func() time.Time { return time.Unix(0, clock.Load()) }

	var conns [3]*net.UDPConn // LAC, LNS, a sink for the probe below
	for i := range conns {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	var sccrqs atomic.Int64
	lnsEP, err := l2tp.NewEndpoint(conns[1], l2tp.Config{HostName: "lns", Handler: l2tp.NopHandler{},
		Accept: func(netip.AddrPort, string) (l2tp.TunnelOptions, error) {
			sccrqs.Add(1)
			return l2tp.TunnelOptions{}, errors.New("unknown LAC")
		}})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := NewRoutes([]Route{{Default: true, LNS: []LNS{{Name: "only", Addr: conns[1].LocalAddr().(*net.UDPAddr).AddrPort()}}}})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	l, err := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Routes: routes, Selector: sel, Shards: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	lacEP, err := l2tp.NewEndpoint(conns[0], l2tp.Config{HostName: "lac", Handler: l.L2TPHandler(), Data: l.Data})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(lacEP)
	padts := &padtLog{}
	acc := l.NewAccess(AccessConfig{})
	acc.bind(padts)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{lnsEP.Run, lacEP.Run, l.Run} {
		wg.Go(func() { run(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()
	probe, stopProbe := context.WithCancel(ctx)
	stopProbe() // a dial that gives up at once: it only tells whether the endpoint runs
	within(t, 5*time.Second, "the LAC's endpoint to run", func() bool {
		_, err := lacEP.Dial(probe, conns[2].LocalAddr().(*net.UDPAddr).AddrPort(), l2tp.TunnelOptions{})
		return !errors.Is(err, l2tp.ErrNotRunning)
	})

	subscribers := 0
	subscribe := func() {
		acc.SessionUp(&pppoe.Session{ID: uint16(subscribers + 1), MaxPayload: 1492})
		subscribers++
		within(t, 5*time.Second, "the subscriber's PADT", func() bool { return len(padts.sent()) == subscribers })
	}

	subscribe()
	if n := sccrqs.Load(); n != 1 {
		t.Fatalf("%d SCCRQs for the first subscriber, want 1", n)
	}
	if !strings.Contains(logs.String(), "refused by the LNS (tunnel authentication)") || strings.Contains(logs.String(), "did not answer") {
		t.Errorf("the log does not say the LNS refused the tunnel:\n%s", logs.String())
	}
	for range 10 {
		clock.Add(int64(200 * time.Millisecond))
		subscribe()
	}
	if n := sccrqs.Load(); n != 1 {
		t.Errorf("%d SCCRQs during the hold-down, want none after the first", n-1)
	}
	for i, msg := range padts.sent()[1:] {
		if msg != "no LNS available" {
			t.Errorf("subscriber %d during the hold-down got PADT %q, want \"no LNS available\"", i+2, msg)
		}
	}
	if got := l.Stats().Refused.Load(); got != 11 {
		t.Errorf("%d subscribers refused, want 11", got)
	}

	clock.Add(int64(time.Minute))
	subscribe()
	if n := sccrqs.Load(); n != 2 {
		t.Errorf("%d SCCRQs after the hold-down, want 1 more", n-1)
	}
}
