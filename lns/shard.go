package lns

import (
	"context"
	"github.com/bras-project/bras/internal/udpio"
	"time"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/spill"
	"github.com/bras-project/bras/internal/timerq"
)

// A shard is one control goroutine. It owns the PPP state of its sessions
// (no lock per session, no goroutine per session) and a deadline queue of
// their timers; everything else reaches it as an event on its bounded inbox.
type shard struct {
	srv    *Server
	in     chan event
	later  []event // events raised while handling one, run before the next
	timers timerq.Queue[*session]

	// Teardowns that found the inbox full. A tunnel that goes down reports
	// every call on it at once from its own goroutine, which must not
	// block; each session is queued here at most once, so the queue is
	// bounded by the sessions of the shard, and a teardown is never lost.
	downs *spill.Queue[event]

	// out gathers the PPP control frames the sessions send during one
	// pass of the loop (LCP and IPCP of the set-ups, Echo-Requests falling
	// due together) for one sendmmsg at its end, instead of a system call
	// each; the kernel sends a run to one LAC as one UDP GSO message.
	out *udpio.Batch
}

// outbox sizes: frames a pass gathers before it sends early, and the
// room for each (an LCP frame of a 1500-octet MRU and the largest data
// header).
const (
	outboxFrames = 64
	outboxRoom   = DataHeadroom + 2 + 1500
)

// queueFrame adds a PPP control frame of f's session to the outbox, FF 03
// included (RFC 2661 section 5.3); a full outbox is sent at once.
func (sh *shard) queueFrame(f *Flow, frame []byte) error {
	if len(frame)+2+DataHeadroom > outboxRoom {
		return sh.srv.dp.SendFrame(f, frame)
	}
	if sh.out == nil {
		sh.out = udpio.NewBatch(outboxFrames, outboxRoom)
	}
	i := sh.out.Len
	hr := sh.out.Buf(i)[:DataHeadroom-4]
	start, err := f.appendHeader(hr, 2+len(frame))
	if err != nil {
		return err
	}
	b := append(hr[start:], dpHDLCAddress, dpHDLCControl)
	b = append(b, frame...)
	sh.out.Msgs[i].Buffers[0] = b
	sh.out.Msgs[i].Addr = f.peer
	sh.out.Len++
	if sh.out.Len == outboxFrames {
		sh.flushOut()
	}
	return nil
}

// flushOut sends what the outbox holds.
func (sh *shard) flushOut() {
	if sh.out == nil || sh.out.Len == 0 {
		return
	}
	n := sh.out.Len
	sent, err := sh.srv.dp.cfg.Conn.WriteBatch(sh.out)
	sh.out.Len = 0
	if err != nil {
		sh.srv.stats.ControlSendErrors.Add(uint64(n - sent))
		sh.srv.log.Debug("PPP control frames not sent", "frames", n-sent, "err", err)
	}
}

type eventKind uint8

const (
	evCallIn     eventKind = iota + 1 // ICRQ accepted: wait for the ICCN
	evCallUp                          // ICCN received: start PPP
	evControl                         // a PPP control frame from the LAC
	evAuthDone                        // RADIUS (or the users file) answered
	evCallDown                        // CDN received or the tunnel is gone
	evDisconnect                      // API, CoA Disconnect-Request or shutdown
	evChange                          // CoA-Request
	evAuthFail                        // the worker pool is saturated
)

func (k eventKind) String() string {
	switch k {
	case evCallIn:
		return "call-in"
	case evCallUp:
		return "call-up"
	case evControl:
		return "control"
	case evAuthDone:
		return "auth-done"
	case evCallDown:
		return "call-down"
	case evDisconnect:
		return "disconnect"
	case evChange:
		return "change"
	case evAuthFail:
		return "auth-fail"
	}
	return "event(?)"
}

type event struct {
	kind       eventKind
	s          *session
	frame      []byte                    // evControl: a copy of the frame
	auth       *authOutcome              // evAuthDone
	cause      accounting.TerminateCause // evDisconnect, evCallDown
	lostTunnel bool                      // evCallDown
	change     *change                   // evChange
	done       chan struct{}             // closed once handled, when set
}

func newShard(srv *Server, inbox int) *shard {
	return &shard{srv: srv, in: make(chan event, inbox), downs: spill.New[event]()}
}

// postDown queues a teardown without blocking and without dropping it: on
// the inbox when there is room (in order with the session's other
// events), else on the shard's teardown queue. A session is down once its
// teardown is handled, and ignores what it receives afterwards, so a
// teardown that overtakes earlier events loses nothing.
func (sh *shard) postDown(ev event) {
	if sh.post(ev) {
		return
	}
	sh.srv.stats.TeardownsQueued.Add(1)
	sh.downs.Push(ev)
}

// takeDowns handles the queued teardowns.
func (sh *shard) takeDowns() {
	for _, ev := range sh.downs.Take() {
		sh.handle(ev)
	}
}

// post queues ev without blocking; it reports false when the inbox is full
// (the caller counts the drop; PPP retransmits).
func (sh *shard) post(ev event) bool {
	select {
	case sh.in <- ev:
		return true
	default:
		return false
	}
}

// send queues ev, waiting for room: for the worker pool and the API, never
// for the socket readers.
func (sh *shard) send(ctx context.Context, ev event) bool {
	select {
	case sh.in <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func (sh *shard) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	defer sh.flushOut()
	for {
		wait := time.Hour
		if next, ok := sh.timers.Next(); ok {
			wait = max(next.Sub(sh.srv.now()), 0)
		}
		t.Reset(wait)
		select {
		case ev := <-sh.in:
			sh.handle(ev)
		drain:
			for i := 0; i < 64; i++ { // take a burst before looking at timers
				select {
				case ev := <-sh.in:
					sh.handle(ev)
				default:
					break drain
				}
			}
		case <-sh.downs.Ready():
			sh.takeDowns()
		case <-t.C:
		case <-ctx.Done():
			return
		}
		sh.expireDue(sh.srv.now())
		sh.flushOut()
	}
}

// expireDue runs the timers of the sessions whose deadline is not after
// now.
func (sh *shard) expireDue(now time.Time) {
	for {
		s, ok := sh.timers.PopDue(now)
		if !ok {
			return
		}
		s.onTimer(now)
		sh.runLater()
		sh.schedule(s)
	}
}

func (sh *shard) handle(ev event) {
	ev.s.onEvent(ev, sh.srv.now())
	sh.runLater()
	sh.schedule(ev.s)
	if ev.done != nil {
		close(ev.done)
	}
}

func (sh *shard) runLater() {
	for len(sh.later) > 0 {
		ev := sh.later[0]
		sh.later = sh.later[1:]
		ev.s.onEvent(ev, sh.srv.now())
		sh.schedule(ev.s)
	}
	sh.later = sh.later[:0]
}

// schedule queues s for its next deadline, or takes it out.
func (sh *shard) schedule(s *session) { sh.timers.Set(s, s.nextDeadline()) }
