package lns

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/leakcheck"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// clockHarness drives one shard of an LNS directly, on a fake clock, as
// its goroutine would (the shard goroutine does not run): the control
// plane's timeouts fire when the clock is advanced, with no sleep.
type clockHarness struct {
	t   *testing.T
	srv *Server
	sh  *shard
	now time.Time
}

// t0 is far from the system clock, so that a deadline taken from time.Now
// instead of the control plane's clock never falls due in these tests.
var t0 = time.Unix(1000, 0)

func newClockHarness(t *testing.T) *clockHarness {
	t.Helper()
	leakcheck.Check(t)
	cfg := minimalConfig(t, "clk", 1, "100.64.0.0/24")
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h := &clockHarness{t: t, now: t0}
	h.srv, err = NewServer(cfg, Deps{Conn: conn, TUN: []TUNQueue{&dpCountTUN{release: make(chan struct{})}},
		Auth: acceptAll{}, Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	h.sh = h.srv.shards[0]
	return h
}

// session adds a session in state st, as IncomingCall and the PPP
// negotiation leave it (no PPP session: these tests are about the LNS's
// own timers).
func (h *clockHarness) session(st sessState) *session {
	srv := h.srv
	n := len(srv.sessions)
	ss := &session{srv: srv, sh: h.sh, id: fmt.Sprintf("clk-%d", n), call: &l2tp.Session{}, tunnel: &l2tp.Tunnel{},
		lac: &srv.conf().LACs[0], log: srv.log, state: st, created: h.now,
		addr: netip.AddrFrom4([4]byte{100, 64, 0, byte(10 + n)})}
	ss.setupBy = ss.created.Add(callSetupTimeout)
	ss.publish()
	srv.sessions[ss.id] = ss
	h.handle(event{kind: evCallIn, s: ss})
	return ss
}

func (h *clockHarness) handle(ev event) { h.sh.handle(ev) }

// advance moves the clock and runs the timers that are due.
func (h *clockHarness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.sh.expireDue(h.now)
}

func (h *clockHarness) teardowns(c accounting.TerminateCause) uint64 {
	return h.srv.stats.Teardowns[c].Load()
}

// TestSessionTimeoutOnFakeClock: a Session-Timeout from the Access-Accept
// (RFC 2865 section 5.27) ends the session with Acct-Terminate-Cause
// Session-Timeout (RFC 2866 section 5.10) when the control plane's clock
// reaches it, counted from IPCP up.
func TestSessionTimeoutOnFakeClock(t *testing.T) {
	h := newClockHarness(t)
	ss := h.session(stateLCP)
	ss.sessionTimeout = 90 * time.Second // as applyAuth sets it from the reply
	h.advance(5 * time.Second)
	ss.Up(nil, ppp.NetworkInfo{Peer: ss.addr}) // IPCP opened
	h.sh.schedule(ss)
	if ss.state != stateUp || h.srv.SessionsUp() != 1 {
		t.Fatalf("state %v, %d up; want up, 1", ss.state, h.srv.SessionsUp())
	}

	h.advance(90*time.Second - time.Nanosecond)
	if ss.state != stateUp {
		t.Fatalf("the session is %v 1 ns before its Session-Timeout", ss.state)
	}
	h.advance(time.Nanosecond)
	if ss.state != stateDown || h.teardowns(accounting.CauseSessionTimeout) != 1 {
		t.Fatalf("at Session-Timeout: state %v, %d Session-Timeout teardowns; want down, 1", ss.state, h.teardowns(accounting.CauseSessionTimeout))
	}
	if h.srv.SessionsUp() != 0 || h.srv.lookup(ss.id) != nil {
		t.Errorf("%d sessions up, session still known: %v", h.srv.SessionsUp(), h.srv.lookup(ss.id) != nil)
	}
}

// TestCoASessionTimeoutOnFakeClock: a CoA-Request that sets
// Session-Timeout (RFC 5176 section 3.1) counts it from when the session
// came up, on the control plane's clock.
func TestCoASessionTimeoutOnFakeClock(t *testing.T) {
	h := newClockHarness(t)
	ss := h.session(stateLCP)
	ss.Up(nil, ppp.NetworkInfo{Peer: ss.addr})
	h.sh.schedule(ss)
	h.advance(30 * time.Second)
	timeout := 60 * time.Second
	h.handle(event{kind: evChange, s: ss, change: &change{sessionTimeout: &timeout}})

	h.advance(29 * time.Second)
	if ss.state != stateUp {
		t.Fatalf("the session is %v 1 s before its Session-Timeout", ss.state)
	}
	h.advance(time.Second)
	if ss.state != stateDown || h.teardowns(accounting.CauseSessionTimeout) != 1 {
		t.Fatalf("60 s after up: state %v, %d Session-Timeout teardowns; want down, 1", ss.state, h.teardowns(accounting.CauseSessionTimeout))
	}
}

// TestCallSetupTimeoutOnFakeClock: a call whose ICCN does not come within
// the call set-up timeout is torn down (RFC 2661 section 7.4.2 leaves the
// wait to the implementation), with cause NAS-Error.
func TestCallSetupTimeoutOnFakeClock(t *testing.T) {
	h := newClockHarness(t)
	ss := h.session(stateStarting)
	h.advance(callSetupTimeout - time.Second)
	if ss.state != stateStarting {
		t.Fatalf("the call is %v before its set-up timeout", ss.state)
	}
	h.advance(time.Second)
	if ss.state != stateDown || h.teardowns(accounting.CauseNASError) != 1 {
		t.Fatalf("at the set-up timeout: state %v, %d NAS-Error teardowns; want down, 1", ss.state, h.teardowns(accounting.CauseNASError))
	}
}

// TestIdleTimeoutOnFakeClock: an Idle-Timeout (RFC 2865 section 5.28)
// ends a session that forwards nothing for that long, with cause
// Idle-Timeout; the data plane measures idleness on the control plane's
// clock, so both agree.
func TestIdleTimeoutOnFakeClock(t *testing.T) {
	h := newClockHarness(t)
	ss := h.session(stateLCP)
	f, err := NewFlow(FlowConfig{LocalTunnelID: 1, LocalSessionID: 1, PeerTunnelID: 2, PeerSessionID: 2,
		Peer: netip.MustParseAddrPort("192.0.2.1:1701"), Owner: ss})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.srv.dp.Add(f); err != nil {
		t.Fatal(err)
	}
	ss.flow.Store(f)
	ss.idleTimeout = time.Minute
	ss.Up(nil, ppp.NetworkInfo{Peer: ss.addr})
	h.sh.schedule(ss)

	var downAt time.Duration
	for d := time.Second; d <= 2*time.Minute && downAt == 0; d += time.Second {
		h.advance(time.Second)
		if ss.state == stateDown {
			downAt = d
		}
	}
	// Idleness is checked every quarter of the timeout (idleCheck).
	if downAt < time.Minute || downAt > time.Minute+idleCheck(time.Minute) {
		t.Fatalf("an idle session went down after %v; want between 1m and %v", downAt, time.Minute+idleCheck(time.Minute))
	}
	if h.teardowns(accounting.CauseIdleTimeout) != 1 {
		t.Errorf("%d Idle-Timeout teardowns, want 1", h.teardowns(accounting.CauseIdleTimeout))
	}
}
