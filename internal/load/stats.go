package load

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Latency summarises a set of durations, in milliseconds for the JSON
// report.
type Latency struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted: the smallest value with at least p % of the values at or below
// it. It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summarize computes the Latency of ds (which it sorts in place).
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		Count: len(ds),
		Mean:  ms(sum / time.Duration(len(ds))),
		P50:   ms(Percentile(ds, 50)),
		P90:   ms(Percentile(ds, 90)),
		P99:   ms(Percentile(ds, 99)),
		Max:   ms(ds[len(ds)-1]),
	}
}

// seqWindow is how far back (in sequence numbers) a late packet is still
// told apart from a duplicate.
const seqWindow = 1024

// SeqTracker counts the probes of one flow by sequence number: unique
// packets received, those that came after a higher number (reordered) and
// those seen before (duplicated), like the anti-replay window of RFC 4303
// section 3.4.3. A packet older than the window is counted as received and
// reordered (it cannot be checked for duplication). The zero value is
// ready; it is not safe for concurrent use.
type SeqTracker struct {
	next                            uint64 // highest sequence number seen + 1
	bits                            [seqWindow / 64]uint64
	Received, Reordered, Duplicated uint64
}

func (t *SeqTracker) bit(seq uint64) (word int, mask uint64) {
	i := seq % seqWindow
	return int(i / 64), 1 << (i % 64)
}

// Add records seq and says how it was classified.
func (t *SeqTracker) Add(seq uint64) (fresh, reordered bool) {
	switch {
	case seq >= t.next:
		if seq-t.next >= seqWindow {
			t.bits = [seqWindow / 64]uint64{}
		} else {
			for s := t.next; s < seq; s++ {
				w, m := t.bit(s)
				t.bits[w] &^= m
			}
		}
		w, m := t.bit(seq)
		t.bits[w] |= m
		t.next = seq + 1
		t.Received++
		return true, false
	case t.next-seq > seqWindow:
		t.Received++
		t.Reordered++
		return true, true
	}
	w, m := t.bit(seq)
	if t.bits[w]&m != 0 {
		t.Duplicated++
		return false, false
	}
	t.bits[w] |= m
	t.Received++
	t.Reordered++
	return true, true
}

// histogram counts durations in log-spaced buckets (2 % wide, 1 µs to
// about 100 s) with atomic counters: the data path records round-trip
// times into it without a lock or an allocation.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	max     atomic.Int64
}

const (
	histBase    = 1.02
	histBuckets = 940
)

var histLogBase = math.Log(histBase)

func histIndex(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return min(int(math.Log(us)/histLogBase)+1, histBuckets-1)
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.buckets[histIndex(d)].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// upper is the upper bound of bucket i.
func histUpper(i int) time.Duration {
	if i == 0 {
		return time.Microsecond
	}
	return time.Duration(math.Pow(histBase, float64(i)) * float64(time.Microsecond))
}

// summary gives the histogram's percentiles, each the upper bound of the
// bucket the nearest rank falls in (at most 2 % high), capped at the max.
func (h *histogram) summary() Latency {
	var counts [histBuckets]uint64
	var n uint64
	var sum float64
	for i := range counts {
		counts[i] = h.buckets[i].Load()
		n += counts[i]
		sum += float64(counts[i]) * float64(histUpper(i))
	}
	if n == 0 {
		return Latency{}
	}
	maxD := time.Duration(h.max.Load())
	pct := func(p float64) float64 {
		rank := uint64(math.Ceil(p / 100 * float64(n)))
		rank = max(rank, 1)
		var c uint64
		for i := range counts {
			if c += counts[i]; c >= rank {
				return ms(min(histUpper(i), maxD))
			}
		}
		return ms(maxD)
	}
	return Latency{Count: int(n), Mean: ms(time.Duration(sum / float64(n))), P50: pct(50), P90: pct(90), P99: pct(99), Max: ms(maxD)}
}
