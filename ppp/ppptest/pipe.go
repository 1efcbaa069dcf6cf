// Package ppptest holds test helpers for PPP: a lossy, duplicating,
// reordering frame pipe driven by a fake clock.
package ppptest

import (
	"math/rand/v2"
	"sort"
	"time"
)

// Pipe joins two ends (0 and 1) that exchange frames. Frames are queued with
// a delivery time and handed over by Deliver; nothing runs in the background
// and nothing sleeps, so a test steps time itself.
type Pipe struct {
	// Loss and Dup are probabilities in [0, 1] per frame.
	Loss, Dup float64
	// MinDelay and MaxDelay bound the transit time; frames whose delays
	// differ overtake each other (reordering).
	MinDelay, MaxDelay time.Duration
	// Cut drops every frame while true (a dead peer).
	Cut bool

	rng   *rand.Rand
	now   time.Time
	seq   uint64
	queue []item
	// Sent counts frames offered per end, Delivered frames handed over.
	Sent, Delivered [2]int
}

type item struct {
	to    int
	at    time.Time
	seq   uint64
	frame []byte
}

// NewPipe makes a perfect pipe with a deterministic random source.
func NewPipe(seed uint64) *Pipe {
	return &Pipe{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), MinDelay: time.Millisecond, MaxDelay: time.Millisecond}
}

// End returns the sending side of end i (0 or 1): its frames go to the other end.
func (p *Pipe) End(i int) *End { return &End{p: p, from: i} }

// SetNow sets the pipe's clock, the send time of frames that follow.
func (p *Pipe) SetNow(now time.Time) { p.now = now }

// End is one side of a Pipe; it implements ppp.Link.
type End struct {
	p    *Pipe
	from int
	// Tap, when set, sees every frame this end sends, before loss.
	Tap func(frame []byte)
}

// Send queues a copy of frame for the other end.
func (e *End) Send(frame []byte) error {
	p := e.p
	p.Sent[e.from]++
	if e.Tap != nil {
		e.Tap(frame)
	}
	if p.Cut || p.rng.Float64() < p.Loss {
		return nil
	}
	n := 1
	if p.rng.Float64() < p.Dup {
		n = 2
	}
	for i := 0; i < n; i++ {
		d := p.MinDelay
		if p.MaxDelay > p.MinDelay {
			d += time.Duration(p.rng.Int64N(int64(p.MaxDelay - p.MinDelay)))
		}
		p.seq++
		p.queue = append(p.queue, item{to: 1 - e.from, at: p.now.Add(d), seq: p.seq, frame: append([]byte(nil), frame...)})
	}
	return nil
}

// Deliver hands every frame due at now to fn, in delivery-time order. Frames
// sent by fn are delivered by a later call.
func (p *Pipe) Deliver(now time.Time, fn func(to int, frame []byte)) {
	p.now = now
	sort.Slice(p.queue, func(i, j int) bool {
		if !p.queue[i].at.Equal(p.queue[j].at) {
			return p.queue[i].at.Before(p.queue[j].at)
		}
		return p.queue[i].seq < p.queue[j].seq
	})
	var due []item
	i := 0
	for ; i < len(p.queue) && !p.queue[i].at.After(now); i++ {
		due = append(due, p.queue[i])
	}
	p.queue = append(p.queue[:0], p.queue[i:]...)
	for _, it := range due {
		p.Delivered[it.to]++
		fn(it.to, it.frame)
	}
}

// Pending is the number of frames in transit.
func (p *Pipe) Pending() int { return len(p.queue) }
