package ra

import (
	"math/rand/v2"
	"time"
)

// Router advertisement timing (RFC 4861 sections 6.2.1 and 10).
const (
	// MaxInterval and MinInterval bound the gap between unsolicited
	// advertisements (MaxRtrAdvInterval default 600 s, MinRtrAdvInterval
	// 0.33 of it).
	MaxInterval = 600 * time.Second
	MinInterval = 198 * time.Second
	// The first advertisements after the link comes up come faster:
	// MAX_INITIAL_RTR_ADVERTISEMENTS at most MAX_INITIAL_RTR_ADVERT_INTERVAL
	// apart.
	initialCount    = 3
	initialInterval = 16 * time.Second
	// A solicited advertisement waits a random time up to MAX_RA_DELAY_TIME
	// and comes at most every MIN_DELAY_BETWEEN_RAS.
	maxRADelay  = 500 * time.Millisecond
	minDelayRAs = 3 * time.Second
)

// Schedule says when a session's next Router Advertisement is due. It
// holds no timer: its owner asks Next and calls Sent, so a session's
// advertisements run on the owner's clock and goroutine.
type Schedule struct {
	next    time.Time
	last    time.Time
	initial int
	rnd     func() float64 // in [0, 1)
}

// Start schedules the first advertisement at now, as the link's IPv6 came
// up (RFC 4861 section 6.2.4). rnd is the random source of the jitter
// (nil: math/rand/v2).
func (s *Schedule) Start(now time.Time, rnd func() float64) {
	if rnd == nil {
		rnd = rand.Float64
	}
	*s = Schedule{next: now, initial: initialCount, rnd: rnd}
}

// Next is when the next advertisement is due; zero before Start.
func (s *Schedule) Next() time.Time { return s.next }

// Due reports whether an advertisement is due at now.
func (s *Schedule) Due(now time.Time) bool { return !s.next.IsZero() && !now.Before(s.next) }

// Solicited moves the next advertisement up for a Router Solicitation at
// now (RFC 4861 section 6.2.6): within MAX_RA_DELAY_TIME, and not sooner
// than MIN_DELAY_BETWEEN_RAS after the last one.
func (s *Schedule) Solicited(now time.Time) {
	if s.next.IsZero() {
		return
	}
	at := now.Add(time.Duration(s.rnd() * float64(maxRADelay)))
	if min := s.last.Add(minDelayRAs); !s.last.IsZero() && at.Before(min) {
		at = min
	}
	if at.Before(s.next) {
		s.next = at
	}
}

// Sent records an advertisement sent at now and schedules the next
// unsolicited one: a random time between MinInterval and MaxInterval
// (section 6.2.4), no more than initialInterval for the first few.
func (s *Schedule) Sent(now time.Time) {
	s.last = now
	d := MinInterval + time.Duration(s.rnd()*float64(MaxInterval-MinInterval))
	if s.initial > 0 {
		s.initial--
		if d > initialInterval {
			d = initialInterval
		}
	}
	s.next = now.Add(d)
}

// Stop ends the schedule (the session's IPv6 went down).
func (s *Schedule) Stop() { s.next = time.Time{} }
