package spill

import (
	"sync"
	"testing"
)

// TestQueueKeepsEverything: pushes from many goroutines at once are all
// taken, each exactly once, and a Push after a Take signals again.
func TestQueueKeepsEverything(t *testing.T) {
	q := New[int]()
	const producers, each = 8, 1000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				q.Push(p*each + i)
			}
		}()
	}
	seen := make(map[int]bool)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-q.Ready():
		case <-done:
			finished = true
		}
		for _, v := range q.Take() {
			if seen[v] {
				t.Fatalf("%d taken twice", v)
			}
			seen[v] = true
		}
	}
	for _, v := range q.Take() {
		seen[v] = true
	}
	if len(seen) != producers*each {
		t.Fatalf("took %d of %d", len(seen), producers*each)
	}
	q.Push(1)
	select {
	case <-q.Ready():
	default:
		t.Fatal("no signal after a Push on an empty queue")
	}
	if got := q.Take(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("Take = %v, want [1]", got)
	}
}
