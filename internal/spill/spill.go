// Package spill holds what a shard's inbox had no room for: the ends of
// sessions, which must never be dropped (an accounting Stop, a PADT) and
// must never cost a goroutine each. A producer never blocks; the shard's
// loop waits on Ready next to its inbox and takes everything at once.
// The queue is bounded by what goes on it: a session ends once.
package spill

import "sync"

// Queue is an unbounded, mutex-guarded queue of T with a wake-up channel.
// The zero value is not ready: use New.
type Queue[T any] struct {
	mu    sync.Mutex
	items []T
	ready chan struct{}
}

// New returns an empty queue.
func New[T any]() *Queue[T] { return &Queue[T]{ready: make(chan struct{}, 1)} }

// Push appends v and wakes the consumer. It never blocks.
func (q *Queue[T]) Push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Ready is signalled after a Push; one signal may stand for many items.
func (q *Queue[T]) Ready() <-chan struct{} { return q.ready }

// Take returns everything queued, oldest first, and empties the queue.
func (q *Queue[T]) Take() []T {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	return items
}
