package timerq

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

type item struct {
	t Timer
	n int
}

func (i *item) Timer() *Timer { return &i.t }

func TestQueueOrderMoveRemove(t *testing.T) {
	var q Queue[*item]
	base := time.Unix(1000, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	all := make([]*item, 200)
	want := map[*item]time.Time{}
	for i := range all {
		all[i] = &item{n: i}
		at := base.Add(time.Duration(rng.IntN(10000)) * time.Millisecond)
		q.Set(all[i], at)
		want[all[i]] = at
	}
	// Move some, remove some.
	for i := 0; i < 200; i += 3 {
		at := base.Add(time.Duration(rng.IntN(10000)) * time.Millisecond)
		q.Set(all[i], at)
		want[all[i]] = at
	}
	for i := 1; i < 200; i += 7 {
		q.Set(all[i], time.Time{})
		delete(want, all[i])
		if all[i].t.Queued() {
			t.Fatalf("item %d still queued after removal", i)
		}
	}
	if q.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", q.Len(), len(want))
	}
	var sorted []time.Time
	for _, at := range want {
		sorted = append(sorted, at)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })
	if next, ok := q.Next(); !ok || !next.Equal(sorted[0]) {
		t.Fatalf("Next = %v, %v; want %v", next, ok, sorted[0])
	}
	if _, ok := q.PopDue(sorted[0].Add(-time.Nanosecond)); ok {
		t.Fatal("PopDue returned an item before its deadline")
	}
	for k, at := range sorted {
		x, ok := q.PopDue(base.Add(time.Hour))
		if !ok || !want[x].Equal(at) {
			t.Fatalf("pop %d: %v at %v, want deadline %v", k, ok, want[x], at)
		}
		if x.t.Queued() || !x.t.When().IsZero() {
			t.Fatal("a popped item still looks queued")
		}
	}
	if _, ok := q.PopDue(base.Add(time.Hour)); ok || q.Len() != 0 {
		t.Fatal("queue not empty after popping everything")
	}
}
