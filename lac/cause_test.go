package lac

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
)

// cdnRecorder is an LNS's handler that keeps the CDN of every call that
// ended.
type cdnRecorder struct {
	l2tp.NopHandler
	mu   sync.Mutex
	cdns map[uint16]*l2tp.Message // by the LNS's Session ID
}

func (r *cdnRecorder) SessionDown(ls *l2tp.Session, _ l2tp.ResultCode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cdns[ls.LocalID()] = ls.CDN()
}

func (r *cdnRecorder) get(id uint16) (*l2tp.Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.cdns[id]
	return m, ok
}

// TestHangUpSaysTheSubscriberTerminated: a subscriber that sends an LCP
// Terminate-Request before its PADT gets a CDN with the PPP Disconnect
// Cause Code of a normal disconnection at the peer (RFC 3145 section 3.1),
// so the LNS accounts User-Request even when this CDN overtakes the
// relayed Terminate-Request; a subscriber that only sends a PADT gets a
// plain CDN 1 (lost carrier).
func TestHangUpSaysTheSubscriberTerminated(t *testing.T) {
	l, err := New(Config{Shards: 1, Workers: 1, QueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	acc := l.NewAccess(AccessConfig{})
	acc.bind(&padtCounter{})
	rec := &cdnRecorder{cdns: map[uint16]*l2tp.Message{}}
	tunnel, _ := openTunnelTo(t, l, rec)
	termReq := []byte{0xc0, 0x21, 0x05, 0x02, 0x00, 0x04} // LCP Terminate-Request, RFC 1661 section 5.5

	var sessions [2]*session
	for i := range sessions {
		s := &session{l: l, acc: acc, ps: &pppoe.Session{ID: uint16(i + 1)}, mode: ModeTransparent, sh: l.shards[0], state: stUp}
		s.ps.Owner = s
		if s.ls, err = tunnel.PlaceCall(l2tp.CallRequest{Value: s}); err != nil {
			t.Fatal(err)
		}
		s.sh.sessions[s] = struct{}{}
		l.active.Add(1)
		sessions[i] = s
	}
	within(t, 5*time.Second, "both calls up", func() bool {
		return sessions[0].ls.PeerID() != 0 && sessions[1].ls.PeerID() != 0
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	sessions[0].forwardUp(termReq)
	for _, s := range sessions {
		s.acc.SessionDown(s.ps, pppoe.DownPADT)
	}
	for i, s := range sessions {
		var cdn *l2tp.Message
		within(t, 5*time.Second, "the CDN at the LNS", func() bool {
			var ok bool
			cdn, ok = rec.get(s.ls.PeerID())
			return ok
		})
		if cdn == nil {
			t.Fatalf("session %d: the LNS has no CDN", i)
		}
		cause, ok := l2tp.FindPPPDisconnectCause(cdn)
		switch i {
		case 0:
			if !ok || cause.Code != l2tp.DiscNormal || cause.Direction != l2tp.DirectionPeer {
				t.Errorf("after a Terminate-Request: cause %+v (present %v), want a normal disconnection at the peer", cause, ok)
			}
		case 1:
			if ok {
				t.Errorf("after a PADT alone: cause %+v, want none", cause)
			}
		}
	}
}
