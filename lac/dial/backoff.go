package dial

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces reconnection attempts: the wait doubles after every
// failed attempt from Min up to Max, and each wait is jittered down by up to
// Jitter of itself (full waits from many clients that lost one LNS together
// do not arrive together again). Reset after a session came up.
type Backoff struct {
	Min, Max time.Duration
	// Jitter is the fraction of a wait that may be taken off it, 0 to 1.
	Jitter float64
	// Rand returns a number in [0, 1); nil: math/rand/v2.
	Rand func() float64

	next time.Duration
}

// Next is the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.next < b.Min {
		b.next = b.Min
	}
	d := b.next
	if b.next < b.Max {
		b.next = min(2*b.next, b.Max)
	}
	if b.Jitter > 0 {
		r := rand.Float64
		if b.Rand != nil {
			r = b.Rand
		}
		d -= time.Duration(float64(d) * min(b.Jitter, 1) * r())
	}
	return d
}

// Reset starts the waits again from Min.
func (b *Backoff) Reset() { b.next = 0 }
