package leakcheck

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// Baseline is the goroutines running at one point of a test.
type Baseline struct {
	n      int
	stacks []byte
}

// Take records the goroutines running now.
func Take() Baseline {
	n, stacks := goroutines()
	return Baseline{n: n, stacks: stacks}
}

// TakeSettled is Take once the number of goroutines has held still for
// 100 ms (at most 2 s): a lab started just before has its background
// goroutines still spawning theirs, which would otherwise count as a leak
// of what the test does next.
func TakeSettled() Baseline {
	n, since := runtime.NumGoroutine(), time.Now()
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && time.Since(since) < 100*time.Millisecond; time.Sleep(5 * time.Millisecond) {
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		}
	}
	return Take()
}

// Extra is how many more goroutines run now than at b.
func (b Baseline) Extra() int { return runtime.NumGoroutine() - b.n }

// Back waits up to d for the goroutines to fall back to b's count, and
// fails t with the stacks of then and now when they do not.
func (b Baseline) Back(t testing.TB, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if runtime.NumGoroutine() <= b.n {
			return
		}
	}
	n, stacks := goroutines()
	t.Logf("goroutines at the baseline:\n%s", b.stacks)
	t.Logf("goroutines now:\n%s", stacks)
	t.Errorf("%d goroutines, %d at the baseline: leaked", n, b.n)
}

// Check takes a baseline now and, when the test ends without failing,
// checks that its goroutines are gone (wireguard-go's goroutineLeakCheck).
// Call it first in the test, so that it runs after the test's other
// cleanups.
func Check(t testing.TB) {
	b := Take()
	t.Cleanup(func() {
		if !t.Failed() {
			b.Back(t, 10*time.Second)
		}
	})
}

func goroutines() (int, []byte) {
	p := pprof.Lookup("goroutine")
	var buf bytes.Buffer
	p.WriteTo(&buf, 1)
	return p.Count(), buf.Bytes()
}
