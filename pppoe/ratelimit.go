package pppoe

import (
	"hash/maphash"
	"sync"
	"time"
)

// rateLimiter is a per-MAC token bucket held in a fixed-size,
// set-associative table: a flood of PADIs from random source MACs evicts
// the least recently seen entries of a set instead of growing the table,
// so its memory is bounded whatever the peers send and nothing is
// allocated per PADI.
type rateLimiter struct {
	mu     sync.Mutex
	seed   maphash.Seed
	sets   [][rateWays]rateEntry
	rate   float64 // tokens per second
	burst  float64
	enable bool
}

const rateWays = 4

type rateEntry struct {
	mac    MAC
	used   bool
	tokens float64
	last   int64 // unix nanoseconds of the last refill
}

// newRateLimiter allows burst PADIs at once and perSecond after that, for
// each of up to about entries source MACs. perSecond <= 0 disables it.
func newRateLimiter(entries int, perSecond float64, burst int) *rateLimiter {
	if entries < rateWays {
		entries = rateWays
	}
	if burst < 1 {
		burst = 1
	}
	return &rateLimiter{
		seed:   maphash.MakeSeed(),
		sets:   make([][rateWays]rateEntry, (entries+rateWays-1)/rateWays),
		rate:   perSecond,
		burst:  float64(burst),
		enable: perSecond > 0,
	}
}

// size returns the number of entries the table can hold.
func (r *rateLimiter) size() int { return len(r.sets) * rateWays }

// allow takes one token from mac's bucket.
func (r *rateLimiter) allow(mac MAC, now time.Time) bool {
	if !r.enable {
		return true
	}
	t := now.UnixNano()
	set := &r.sets[maphash.Bytes(r.seed, mac[:])%uint64(len(r.sets))]
	r.mu.Lock()
	defer r.mu.Unlock()
	victim := 0
	for i := range set {
		e := &set[i]
		if e.used && e.mac == mac {
			e.tokens += float64(t-e.last) / 1e9 * r.rate
			if e.tokens > r.burst {
				e.tokens = r.burst
			}
			e.last = t
			if e.tokens < 1 {
				return false
			}
			e.tokens--
			return true
		}
		if !e.used || (set[victim].used && e.last < set[victim].last) {
			victim = i
		}
	}
	set[victim] = rateEntry{mac: mac, used: true, tokens: r.burst - 1, last: t}
	return true
}
