// Package timerq is the deadline queue the control goroutines keep instead
// of a timer per session: a binary heap of items ordered by their next
// deadline, each item remembering its place so it can be moved or removed
// in O(log n).
package timerq

import (
	"container/heap"
	"time"
)

// Timer is an item's place in a Queue: a field of the item (the zero value
// is "not queued") that its Timer method returns.
type Timer struct {
	at  time.Time
	idx int // position in the heap + 1; 0 when not queued
}

// When is the deadline the item is queued for (zero when it is not).
func (t *Timer) When() time.Time { return t.at }

// Queued reports whether the item is in a queue.
func (t *Timer) Queued() bool { return t.idx > 0 }

// Scheduled is an item of a Queue.
type Scheduled interface{ Timer() *Timer }

// Queue orders items by deadline. It is not safe for concurrent use: each
// control goroutine owns its own.
type Queue[T Scheduled] struct{ h items[T] }

// Set queues x for at, moves it there if it is queued already, or removes
// it when at is zero.
func (q *Queue[T]) Set(x T, at time.Time) {
	t := x.Timer()
	switch {
	case at.IsZero() && t.idx > 0:
		heap.Remove(&q.h, t.idx-1)
	case at.IsZero():
	case t.idx > 0:
		t.at = at
		heap.Fix(&q.h, t.idx-1)
	default:
		t.at = at
		heap.Push(&q.h, x)
	}
}

// Next is the earliest deadline; ok is false when the queue is empty.
func (q *Queue[T]) Next() (at time.Time, ok bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].Timer().at, true
}

// PopDue removes and returns the earliest item whose deadline is not after
// now; ok is false when none is due.
func (q *Queue[T]) PopDue(now time.Time) (x T, ok bool) {
	if len(q.h) == 0 || q.h[0].Timer().at.After(now) {
		return x, false
	}
	return heap.Pop(&q.h).(T), true
}

// Len is the number of queued items.
func (q *Queue[T]) Len() int { return len(q.h) }

type items[T Scheduled] []T

func (h items[T]) Len() int           { return len(h) }
func (h items[T]) Less(i, j int) bool { return h[i].Timer().at.Before(h[j].Timer().at) }
func (h items[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].Timer().idx = i + 1
	h[j].Timer().idx = j + 1
}
func (h *items[T]) Push(x any) {
	v := x.(T)
	*h = append(*h, v)
	v.Timer().idx = len(*h)
}
func (h *items[T]) Pop() any {
	old := *h
	v := old[len(old)-1]
	var zero T
	old[len(old)-1] = zero
	*h = old[:len(old)-1]
	t := v.Timer()
	t.idx = 0
	t.at = time.Time{}
	return v
}
