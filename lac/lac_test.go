package lac

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/pppoe"
	"github.com/google/go-cmp/cmp"
)

// shardHarness drives one shard's handle and expire directly, on a fake
// clock, as its goroutine would.
type shardHarness struct {
	l    *LAC
	sh   *shard
	now  time.Time
	sent [][]byte // frames sent into the tunnel
	upFn *func([]byte) error
}

func newShardHarness(t *testing.T) *shardHarness {
	h := &shardHarness{now: time.Unix(1000, 0)}
	l, err := New(Config{Shards: 1, ReadyWait: time.Second, CallTimeout: 10 * time.Second, Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	h.l, h.sh = l, l.shards[0]
	fn := func(b []byte) error {
		h.sent = append(h.sent, append([]byte(nil), b...))
		return nil
	}
	h.upFn = &fn
	return h
}

// start makes a transparent-mode session as Access.SessionUp does.
func (h *shardHarness) start() *session {
	ps := &pppoe.Session{ID: 7, MaxPayload: 1492}
	s := &session{l: h.l, acc: h.l.NewAccess(AccessConfig{}), ps: ps, mode: ModeTransparent, sh: h.sh,
		downFn: func([]byte) error { return nil }}
	ps.Owner = s
	h.l.active.Add(1)
	h.handle(event{kind: evStart, s: s})
	return s
}

func (h *shardHarness) handle(ev event) {
	h.sh.handle(ev)
	h.drain()
}

// drain runs the queued events.
func (h *shardHarness) drain() {
	for {
		select {
		case ev := <-h.sh.in:
			h.sh.handle(ev)
		default:
			return
		}
	}
}

// frame delivers a subscriber frame as the PPPoE reader does.
func (h *shardHarness) frame(s *session, f []byte) {
	s.acc.SessionData(s.ps, f)
	h.drain()
}

// advance moves the clock and runs the timers that are due.
func (h *shardHarness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.sh.expireDue(h.now)
}

func lcpFrame(id byte) []byte { return []byte{0xc0, 0x21, 0x01, id, 0x00, 0x04} }

func l2tpFrames(ids ...byte) [][]byte {
	var r [][]byte
	for _, id := range ids {
		r = append(r, AddAddressControl(nil, lcpFrame(id)))
	}
	return r
}

func TestHeldFramesFlushedInOrderWhenTheLNSSpeaks(t *testing.T) {
	h := newShardHarness(t)
	s := h.start()
	if got := len(h.l.jobs); got != 1 {
		t.Fatalf("%d tunnel selection jobs queued, want 1", got)
	}
	for i := range 3 {
		h.frame(s, lcpFrame(byte(i)))
	}
	h.handle(event{kind: evCallUp, s: s, upFn: h.upFn})
	if len(h.sent) != 0 {
		t.Fatalf("%d frames sent before the LNS processed the ICCN", len(h.sent))
	}
	h.frame(s, lcpFrame(3)) // after ICCN, still behind the held ones
	h.handle(event{kind: evLNSReady, s: s})
	h.frame(s, lcpFrame(4)) // the direct path
	if diff := cmp.Diff(l2tpFrames(0, 1, 2, 3, 4), h.sent); diff != "" {
		t.Errorf("frames into the tunnel (-want +got)\n%s", diff)
	}
	if !s.up.Load() || s.pending.Load() != 0 {
		t.Errorf("up %v pending %d", s.up.Load(), s.pending.Load())
	}
}

func TestHeldFramesFlushedAfterReadyWait(t *testing.T) {
	h := newShardHarness(t)
	s := h.start()
	h.frame(s, lcpFrame(1))
	h.handle(event{kind: evCallUp, s: s, upFn: h.upFn})
	h.advance(999 * time.Millisecond)
	if len(h.sent) != 0 {
		t.Fatal("held frames sent before ReadyWait")
	}
	h.advance(time.Millisecond) // a passive LNS never speaks first
	if diff := cmp.Diff(l2tpFrames(1), h.sent); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if h.l.stats.CallTimeouts.Load() != 0 || h.l.ActiveSessions() != 1 {
		t.Error("ReadyWait was taken for a call timeout")
	}
}

func TestHeldFramesBounded(t *testing.T) {
	h := newShardHarness(t)
	s := h.start()
	for i := range 20 {
		h.frame(s, lcpFrame(byte(i)))
	}
	if h.l.stats.HeldDropped.Load() != 4 || len(s.held) != 16 {
		t.Errorf("held %d, dropped %d; want 16 and 4", len(s.held), h.l.stats.HeldDropped.Load())
	}
}

func TestCallTimeout(t *testing.T) {
	h := newShardHarness(t)
	s := h.start()
	h.advance(9 * time.Second)
	if s.state == stDone {
		t.Fatal("timed out early")
	}
	h.advance(time.Second)
	if s.state != stDone || h.l.stats.CallTimeouts.Load() != 1 || h.l.stats.Refused.Load() != 1 || h.l.ActiveSessions() != 0 {
		t.Errorf("after the call timeout: state %v, timeouts %d, refused %d, active %d",
			s.state, h.l.stats.CallTimeouts.Load(), h.l.stats.Refused.Load(), h.l.ActiveSessions())
	}
	// The worker's late answer is released, not used.
	lease := &Lease{p: h.l.pool, e: &tunnelEntry{n: 1}}
	h.handle(event{kind: evPlaced, s: s, lease: lease})
	if lease.e.n != 0 {
		t.Error("a late lease was not released")
	}
}

func TestPADTBeforeTheCall(t *testing.T) {
	h := newShardHarness(t)
	s := h.start()
	h.frame(s, lcpFrame(1))
	h.handle(event{kind: evPPPoEDown, s: s, why: pppoe.DownPADT})
	if s.state != stDone || h.l.ActiveSessions() != 0 || s.held != nil || h.l.stats.PADTFromSub.Load() != 1 {
		t.Errorf("after PADT: state %v, active %d, held %d", s.state, h.l.ActiveSessions(), len(s.held))
	}
	// A call that comes up afterwards does not revive it.
	h.handle(event{kind: evCallUp, s: s, upFn: h.upFn})
	if s.state != stDone || len(h.sent) != 0 {
		t.Error("a call up after PADT revived the session")
	}
}

// runGoroutines counts the goroutines running a shard's loop and a worker,
// by their stacks: other tests' goroutines ending meanwhile do not count.
func runGoroutines() (shards, workers int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	st := string(buf)
	return strings.Count(st, "lac.(*shard).run("), strings.Count(st, "lac.(*LAC).worker(")
}

func TestRunStopsItsGoroutines(t *testing.T) {
	l, err := New(Config{Shards: 3, Workers: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	within(t, 10*time.Second, "the shards and workers to start", func() bool {
		sh, w := runGoroutines()
		return sh == 3 && w == 5
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Run returned: every goroutine it started is gone.
	if sh, w := runGoroutines(); sh != 0 || w != 0 {
		t.Errorf("after Run returned: %d shard loops and %d workers still running", sh, w)
	}
}
