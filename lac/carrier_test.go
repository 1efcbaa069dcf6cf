package lac

import (
	"context"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
	"github.com/google/go-cmp/cmp"
)

// TestCarrierLostClearsThePort: an access interface that loses its
// carrier clears its own sessions, each with a CDN of Result Code 1 (loss
// of carrier, RFC 2661 section 4.4.2) whose message names the interface,
// and the PPPoE session released; the sessions of the other interface
// stay. One loss is counted, and each session cleared.
func TestCarrierLostClearsThePort(t *testing.T) {
	l, err := New(Config{Shards: 2, Workers: 1, QueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	var accs [2]*Access
	var padts [2]padtCounter
	for i := range accs {
		accs[i] = l.NewAccess(AccessConfig{})
		accs[i].bind(&padts[i])
	}
	rec := &cdnRecorder{cdns: map[uint16]*l2tp.Message{}}
	tunnel, _ := openTunnelTo(t, l, rec)

	// Three sessions on port 0 (two with their call up, one still
	// selecting a tunnel), two on port 1.
	var sessions []*session
	for i, port := range []int{0, 0, 0, 1, 1} {
		a := accs[port]
		s := &session{l: l, acc: a, ps: &pppoe.Session{ID: uint16(i + 1)}, mode: ModeTransparent, sh: l.shards[i%2], state: stUp}
		s.ps.Owner = s
		if i == 2 {
			s.state = stSelecting
		} else if s.ls, err = tunnel.PlaceCall(l2tp.CallRequest{Value: s}); err != nil {
			t.Fatal(err)
		}
		s.sh.sessions[s] = struct{}{}
		l.active.Add(1)
		a.sessions.Add(1)
		sessions = append(sessions, s)
	}
	within(t, 5*time.Second, "the calls up", func() bool {
		for _, s := range sessions {
			if s.ls != nil && s.ls.PeerID() == 0 {
				return false
			}
		}
		return true
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	accs[0].CarrierLost("eth0")
	within(t, 5*time.Second, "port 0's sessions cleared", func() bool { return accs[0].sessions.Load() == 0 })
	for i, s := range sessions[:2] {
		var cdn *l2tp.Message
		within(t, 5*time.Second, "the CDN at the LNS", func() bool {
			var ok bool
			cdn, ok = rec.get(s.ls.PeerID())
			return ok
		})
		a, ok := cdn.Find(l2tp.AVPResultCode)
		if !ok {
			t.Fatalf("session %d: CDN without a Result Code", i)
		}
		rc, err := l2tp.ParseResultCode(a.Value)
		if err != nil {
			t.Fatal(err)
		}
		want := l2tp.ResultCode{Result: uint16(l2tp.CDNLostCarrier), HasError: true, Message: "access interface eth0 lost carrier"}
		if diff := cmp.Diff(want, rc); diff != "" {
			t.Errorf("session %d: CDN Result Code (-want +got):\n%s", i, diff)
		}
	}
	if got := padts[0].n.Load(); got != 3 {
		t.Errorf("port 0: %d PPPoE sessions released, want 3", got)
	}
	if got, want := [4]uint64{l.stats.CarrierLosses.Load(), l.stats.CarrierCleared.Load(), uint64(accs[1].sessions.Load()), uint64(padts[1].n.Load())},
		[4]uint64{1, 3, 2, 0}; got != want {
		t.Errorf("losses, sessions cleared, port 1's sessions, port 1's PADTs = %v, want %v", got, want)
	}
	for _, s := range sessions[3:] {
		if _, ok := rec.get(s.ls.PeerID()); ok {
			t.Errorf("a session of port 1 got a CDN")
		}
	}
	if got := l.ActiveSessions(); got != 2 {
		t.Errorf("%d sessions held, want port 1's 2", got)
	}
}
