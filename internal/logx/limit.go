package logx

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Clock is the time the limiter's intervals run on.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop
	// cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// maxLimitKeys bounds the limiter's memory: past it, lines of messages
// it does not track yet are written unlimited. The messages are the
// code's own, so the bound is not reached in practice.
const maxLimitKeys = 4096

type limitKey struct{ comp, msg string }

// window is one key's current interval.
type window struct {
	start   time.Time
	passed  int // lines written in this interval
	dropped int // lines held back in this interval
	level   slog.Level
	stop    func() bool // the timer that reports dropped at the end
}

// limiter folds a burst of identical warnings and errors (same message,
// same component): per interval, the first burst lines are written and
// the rest only counted; at the end of the interval one line says how
// many were held back:
//
//	level=WARN msg="no address for the subscriber (repeated 1234 times in 10s)" component=lns repeated=1234
//
// The interval starts with a key's first line; once it ends without lines
// held back, the next line starts a new one.
type limiter struct {
	out   slog.Handler // where the summaries go: the root handler
	burst int
	every time.Duration
	clock Clock

	mu     sync.Mutex
	keys   map[limitKey]*window
	closed bool
}

func newLimiter(out slog.Handler, burst int, every time.Duration, clock Clock) *limiter {
	return &limiter{out: out, burst: burst, every: every, clock: clock, keys: make(map[limitKey]*window)}
}

// allow says whether a line of comp with msg at level is written now.
func (l *limiter) allow(comp, msg string, level slog.Level) bool {
	k := limitKey{comp, msg}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return true
	}
	w := l.keys[k]
	if w != nil && w.dropped == 0 && now.Sub(w.start) >= l.every {
		w.start, w.passed = now, 0
	}
	if w == nil {
		if len(l.keys) >= maxLimitKeys && !l.sweep(now) {
			return true
		}
		w = &window{start: now}
		l.keys[k] = w
	}
	if w.passed < l.burst {
		w.passed++
		return true
	}
	if w.dropped == 0 {
		w.level = level
		w.stop = l.clock.AfterFunc(w.start.Add(l.every).Sub(now), func() { l.report(k, w) })
	}
	w.dropped++
	w.level = max(w.level, level)
	return false
}

// sweep forgets the keys whose interval ended with nothing held back;
// false when none could go.
func (l *limiter) sweep(now time.Time) bool {
	n := len(l.keys)
	for k, w := range l.keys {
		if w.dropped == 0 && now.Sub(w.start) >= l.every {
			delete(l.keys, k)
		}
	}
	return len(l.keys) < n
}

// report ends w's interval: one line with the count held back. The key is
// forgotten, so the next line of it starts a new interval.
func (l *limiter) report(k limitKey, w *window) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys[k] != w || w.dropped == 0 {
		return
	}
	delete(l.keys, k)
	l.write(k, w, l.clock.Now(), l.every)
}

// write writes the summary of w, held back over the last in; under mu, so that it comes before the
// lines of the key's next interval.
func (l *limiter) write(k limitKey, w *window, now time.Time, in time.Duration) {
	r := slog.NewRecord(now, w.level, fmt.Sprintf("%s (repeated %d times in %s)", k.msg, w.dropped, in), 0)
	if k.comp != "" {
		r.AddAttrs(slog.String(KeyComponent, k.comp))
	}
	r.AddAttrs(slog.Int("repeated", w.dropped))
	_ = l.out.Handle(context.Background(), r)
}

// close writes the counts still held and stops the timers.
func (l *limiter) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	now := l.clock.Now()
	for k, w := range l.keys {
		if w.dropped > 0 {
			w.stop()
			l.write(k, w, now, now.Sub(w.start).Round(time.Millisecond))
		}
	}
	clear(l.keys)
}
