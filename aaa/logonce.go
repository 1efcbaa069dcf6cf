package aaa

import (
	"log/slog"
	"sync"
)

// maxLogOnceKeys bounds the memory of onceLogger: a flood from many
// addresses must not grow it without end. Past the bound, events log
// at debug level only.
const maxLogOnceKeys = 4096

// onceLogger logs an event at warning level the first time its key is
// seen and at debug level afterwards, so a misbehaving peer is reported
// once and cannot flood the log (counters tell how often it happened).
type onceLogger struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

func (o *onceLogger) log(l *slog.Logger, key, msg string, args ...any) {
	o.mu.Lock()
	_, seen := o.seen[key]
	if !seen && len(o.seen) < maxLogOnceKeys {
		if o.seen == nil {
			o.seen = make(map[string]struct{})
		}
		o.seen[key] = struct{}{}
	} else {
		seen = true
	}
	o.mu.Unlock()
	if seen {
		l.Debug(msg, args...)
		return
	}
	l.Warn(msg, args...)
}
