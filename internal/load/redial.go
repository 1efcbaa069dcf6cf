package load

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bras-project/bras/internal/linkwatch"
	"github.com/bras-project/bras/internal/timerq"
	"github.com/bras-project/bras/ppp"
)

// With Config.Redial a subscriber behaves as a CPE does: when its session
// ends (a PADT, an LCP Terminate, an echo timeout, the carrier of its
// interface lost) it starts discovery again after a delay, and again with
// the delay doubled each time the attempt fails (RFC 2516 section 5.1
// asks the host to resend its PADI and double the wait), until its
// session is up again. A subscriber whose line has no carrier waits for
// it to come back before it dials.

// firstSetup keeps the stage latencies of a subscriber's first set-up
// once it redials (the report's Stages are of the first set-ups).
type firstSetup struct {
	disc, lcp, auth, ipcp, total time.Duration
}

// waiting is a subscriber's place in the redial queue.
type waiting struct {
	s *sub
	t timerq.Timer
}

func (w *waiting) Timer() *timerq.Timer { return &w.t }

// redialer holds the subscribers waiting to dial again and starts their
// discoveries when due, under the in-flight cap of the first set-ups.
type redialer struct {
	l    *Load
	wake chan struct{}

	mu     sync.Mutex
	q      timerq.Queue[*waiting]
	down   []bool       // per interface: no carrier
	parked [][]*waiting // per interface: due while it had no carrier
	// What the report says: drops redialled by reason, attempts begun
	// and failed by reason, the last carrier return and the last
	// session up again.
	drops    map[string]int
	attempts int
	failures map[string]int
	linkDown time.Time // the first carrier loss
	linkUp   time.Time // the last carrier return
	lastUp   time.Time
}

func newRedialer(l *Load) *redialer {
	n := len(l.cfg.Interfaces)
	return &redialer{l: l, wake: make(chan struct{}, 1), down: make([]bool, n), parked: make([][]*waiting, n),
		drops: map[string]int{}, failures: map[string]int{}}
}

// redialDelay is a subscriber's wait before its next attempt: its
// back-off, spread over its second half so that subscribers who dropped
// together do not all dial in the same millisecond.
func redialDelay(backoff time.Duration) time.Duration {
	return backoff/2 + rand.N(backoff/2+1)
}

// dropped queues s, whose session just ended for reason, for a new set-up.
// It runs on s's shard after Down.
func (r *redialer) dropped(s *sub, reason string, now time.Time) {
	if s.first == nil {
		s.first = &firstSetup{s.tPADS.Sub(s.t0), s.tLCP.Sub(s.tPADS), s.tAuth.Sub(s.tLCP), s.tUp.Sub(s.tAuth), s.tUp.Sub(s.t0)}
	}
	s.backoff = r.l.cfg.RedialDelay
	r.mu.Lock()
	r.drops[reason]++
	r.mu.Unlock()
	r.queue(s, now.Add(redialDelay(s.backoff)))
}

// failed queues s again after an attempt that failed for reason, with
// its back-off doubled.
func (r *redialer) failed(s *sub, reason string, now time.Time) {
	s.backoff = min(2*s.backoff, r.l.cfg.RedialMax)
	r.mu.Lock()
	r.failures[reason]++
	r.mu.Unlock()
	r.queue(s, now.Add(redialDelay(s.backoff)))
}

func (r *redialer) queue(s *sub, at time.Time) {
	s.state = stateRedial
	s.l.redialing.Add(1)
	r.mu.Lock()
	r.q.Set(&s.wait, at)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// carrier records a carrier change of interface port: a loss parks the
// subscribers due on it, a return queues them again, spread over the
// first redial delay.
func (r *redialer) carrier(port int, up bool, at time.Time) {
	r.mu.Lock()
	r.down[port] = !up
	if !up && r.linkDown.IsZero() {
		r.linkDown = at
	}
	if up {
		r.linkUp = at
		for _, w := range r.parked[port] {
			r.q.Set(w, at.Add(redialDelay(r.l.cfg.RedialDelay)))
			w.s.backoff = r.l.cfg.RedialDelay
		}
		r.parked[port] = nil
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// upAgain records that s came up again.
func (r *redialer) upAgain(now time.Time) {
	r.mu.Lock()
	if now.After(r.lastUp) {
		r.lastUp = now
	}
	r.mu.Unlock()
}

// run starts the due discoveries until the dials stop.
func (r *redialer) run() {
	l := r.l
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		r.mu.Lock()
		now := time.Now()
		var due *waiting
		for due == nil {
			w, ok := r.q.PopDue(now)
			if !ok {
				break
			}
			if r.down[w.s.port] {
				r.parked[w.s.port] = append(r.parked[w.s.port], w)
				continue
			}
			due = w
		}
		wait := time.Hour
		if next, ok := r.q.Next(); ok {
			wait = max(next.Sub(now), 0)
		}
		r.mu.Unlock()
		if due != nil {
			select {
			case <-l.dialCtx.Done():
				return
			case l.slots <- struct{}{}:
			}
			s := due.s
			r.mu.Lock()
			r.attempts++
			r.mu.Unlock()
			s.attempt++
			s.reset()
			l.redialing.Add(-1)
			l.inflight.Add(1)
			l.dialers.Add(1)
			go l.dial(s)
			continue
		}
		t.Reset(wait)
		select {
		case <-l.dialCtx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
	}
}

// reset clears what the last session of s left, before it dials again.
func (s *sub) reset() {
	s.cs, s.ps = nil, nil
	s.tPADS, s.tLCP, s.tAuth, s.tUp = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	s.reason, s.padt, s.carrier, s.released = "", false, false, false
	s.state = stateDialing
}

// watchCarrier follows the carrier of the subscribers' interfaces: a loss
// takes down the sessions on it (their PPP layer goes down, as a CPE's
// does when its line drops), a return lets them dial again.
func (l *Load) watchCarrier(w *linkwatch.Watcher) {
	port := map[string]int{}
	for i, n := range l.cfg.Interfaces {
		port[n] = i
	}
	err := w.Run(l.ctx, func(t linkwatch.Transition) {
		p := port[t.Name]
		if !t.Up {
			l.carrierLosses.Add(1)
		}
		l.log.Info("load: interface carrier", "interface", t.Name, "up", t.Up)
		if l.redial != nil {
			l.redial.carrier(p, t.Up, t.At)
		}
		if t.Up {
			return
		}
		for _, sh := range l.shards {
			select {
			case sh.in <- event{kind: evCarrier, port: p}:
			case <-l.ctx.Done():
				return
			}
		}
	}, func(err error) { l.log.Warn("load: watching the carrier", "err", err) })
	if err != nil {
		l.log.Warn("load: not watching the carrier", "err", err)
	}
}

// carrierLost ends the shard's sessions on interface port.
func (sh *shard) carrierLost(port int, now time.Time) {
	for s := range sh.subs {
		if s.port == uint8(port) && (s.state == statePPP || s.state == stateUp) {
			s.carrier = true
			s.ps.LowerDown(now)
		}
	}
}

// downReason is why a session of s ended, from ppp.Handler.Down's reason.
func (s *sub) downReason(r ppp.Reason) string {
	switch {
	case s.carrier && r == ppp.ReasonLowerDown:
		return "carrier"
	case s.padt && r == ppp.ReasonLowerDown:
		return "padt"
	}
	return r.String()
}
