package ppptest

import (
	"context"
	"time"

	"github.com/bras-project/bras/ppp"
)

// Driver owns ppp.Sessions on one goroutine, as the LAC and LNS shards do:
// work arrives on a bounded channel and the sessions' timers are checked
// every few milliseconds. For tests that run many sessions over real links.
type Driver struct {
	in       chan func(now time.Time)
	sessions map[*ppp.Session]bool
}

// NewDriver starts a driver with a queue of queue functions; it stops when
// ctx is done.
func NewDriver(ctx context.Context, queue int) *Driver {
	d := &Driver{in: make(chan func(time.Time), queue), sessions: map[*ppp.Session]bool{}}
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case fn := <-d.in:
				fn(time.Now())
			case now := <-tick.C:
				for s := range d.sessions {
					if dl := s.NextDeadline(); !dl.IsZero() && !now.Before(dl) {
						s.Tick(now)
					}
				}
			}
		}
	}()
	return d
}

// Do runs fn on the driver goroutine; a full queue drops it as a data plane
// would (the PPP restart timer recovers a dropped control frame).
func (d *Driver) Do(fn func(now time.Time)) {
	select {
	case d.in <- fn:
	default:
	}
}

// Track has the driver run s's timers; call it from a Do function.
func (d *Driver) Track(s *ppp.Session) { d.sessions[s] = true }

// Forget stops running s's timers; call it from a Do function.
func (d *Driver) Forget(s *ppp.Session) { delete(d.sessions, s) }

// IsControl reports whether a PPP frame (starting with its Protocol field)
// is for the control plane rather than the data plane.
func IsControl(frame []byte) bool {
	p, _, err := ppp.ParseProtocol(frame)
	return err == nil && p.IsControl()
}
