package lns

import (
	"fmt"
	"sync/atomic"
)

// Rate is a per-session rate limit as RADIUS and CoA give it: a rate in
// kbit/s (1000 bit/s) and a burst in octets. A zero Kbps means no limit. The
// octets counted are those of the IP packet (the PPP, L2TP and UDP headers
// around it are not charged to the subscriber).
type Rate struct {
	Kbps  uint64 // sustained rate, kbit/s
	Burst uint32 // bucket depth, octets; 0 picks DefaultBurst
}

// MinBurst is the smallest bucket depth: a smaller burst is raised to it so
// that a full-size packet can always pass an idle bucket.
const MinBurst = 1600

// DefaultBurst returns the bucket depth used when Burst is 0: 100 ms at the
// rate, and never less than two full-size packets.
func (r Rate) DefaultBurst() uint32 {
	b := r.Kbps * 1000 / 8 / 10
	if b < 3000 {
		return 3000
	}
	if b > 1<<31 {
		return 1 << 31
	}
	return uint32(b)
}

func (r Rate) String() string {
	if r.Kbps == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d kbit/s burst %d", r.Kbps, r.Burst)
}

// TokenBucket is a token bucket of rate r and depth burst, implemented as the
// equivalent Generic Cell Rate Algorithm (ITU-T I.371, the "virtual
// scheduling" form; RFC 2697 describes the same meter as tokens): the whole
// state is one int64, the theoretical arrival time (TAT) of the next octet,
// in nanoseconds of the data plane's monotonic clock. A packet of n octets
// conforms when, after charging it, TAT is no more than burst octets' worth
// of time ahead of now; charging moves TAT forward by n octets' time.
//
// Why this design: the downstream bucket of a session is charged by whichever
// TUN worker read the packet, so several goroutines may charge one bucket at
// the same time. With a single word of state, Allow is one atomic load and
// one compare-and-swap (retried only when another worker charged the bucket
// in between): lock-free, no mutex per session, nothing allocated. A bucket is
// never reconfigured in place; a CoA swaps in a new TokenBucket through the
// session's atomic pointer (see Flow.SetRates), which starts full.
type TokenBucket struct {
	tat       atomic.Int64 // theoretical arrival time, ns
	psPerByte int64        // transmission time of one octet, picoseconds
	tolerance int64        // burst octets' worth of time, ns
	rate      Rate
}

// NewTokenBucket returns a full bucket for r, or nil (no limit) when r.Kbps is 0.
func NewTokenBucket(r Rate) *TokenBucket {
	if r.Kbps == 0 {
		return nil
	}
	if r.Burst == 0 {
		r.Burst = r.DefaultBurst()
	}
	if r.Burst < MinBurst {
		r.Burst = MinBurst
	}
	// One octet is 8 bits; at Kbps*1000 bit/s it lasts 8e9/Kbps ps.
	ps := int64(8e9 / r.Kbps)
	if ps == 0 {
		ps = 1 // beyond 8 Tbit/s: effectively unlimited
	}
	return &TokenBucket{
		psPerByte: ps,
		tolerance: int64(r.Burst) * ps / 1000,
		rate:      r,
	}
}

// Rate is the rate the bucket was made with (Burst filled in).
func (b *TokenBucket) Rate() Rate { return b.rate }

// Allow charges n octets at time now (nanoseconds on the data plane's
// monotonic clock) and reports whether the packet conforms. A packet that
// does not conform is not charged. A nil bucket allows everything.
func (b *TokenBucket) Allow(now int64, n int) bool {
	if b == nil {
		return true
	}
	cost := int64(n) * b.psPerByte / 1000
	for {
		old := b.tat.Load()
		t := old
		if t < now {
			t = now // the bucket has been full since old
		}
		next := t + cost
		if next-now > b.tolerance {
			return false
		}
		if b.tat.CompareAndSwap(old, next) {
			return true
		}
	}
}
