package accounting

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuthLog writes authentication outcomes to auth_log off the
// authentication path: Add queues one and returns, Run writes what is
// queued in batches (one COPY each). A set-up burst costs a database
// round trip per batch instead of one per subscriber. auth_log is the
// operator's record of who tried to log in, not billing: while the
// database is away the queue holds up to its limit, and outcomes beyond it
// are dropped and counted.
type AuthLog struct {
	store *Store
	log   *slog.Logger
	limit int

	mu    sync.Mutex
	queue []AuthOutcome
	wake  chan struct{}

	written, dropped, failed atomic.Uint64
}

// AuthLogStats are the auth log's counters.
type AuthLogStats struct {
	Written uint64 // outcomes in auth_log
	Dropped uint64 // outcomes refused because the queue was full
	Failed  uint64 // batch writes that failed (retried)
	Queued  int    // outcomes waiting
}

// authLogBatch is the most outcomes one COPY carries.
const authLogBatch = 1000

// NewAuthLog returns an auth log writing through s; limit is the most
// outcomes held while the database is slow or away (65,536 if zero).
func NewAuthLog(s *Store, limit int, log *slog.Logger) *AuthLog {
	if limit <= 0 {
		limit = 1 << 16
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AuthLog{store: s, log: log, limit: limit, wake: make(chan struct{}, 1)}
}

// Add queues o; it never blocks.
func (l *AuthLog) Add(o AuthOutcome) {
	l.mu.Lock()
	if len(l.queue) >= l.limit {
		l.mu.Unlock()
		if l.dropped.Add(1)%1000 == 1 {
			l.log.Warn("auth log: queue full, outcome dropped", "user", o.Username, "limit", l.limit, "dropped", l.dropped.Load())
		}
		return
	}
	l.queue = append(l.queue, o)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (l *AuthLog) Stats() AuthLogStats {
	l.mu.Lock()
	q := len(l.queue)
	l.mu.Unlock()
	return AuthLogStats{Written: l.written.Load(), Dropped: l.dropped.Load(), Failed: l.failed.Load(), Queued: q}
}

// Run writes queued outcomes until ctx is done, then writes what is left
// (for up to 5 s) and returns.
func (l *AuthLog) Run(ctx context.Context) error {
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	gather := time.NewTimer(time.Hour)
	defer gather.Stop()
	for {
		ok := l.writeAll(ctx)
		if ctx.Err() != nil {
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l.writeAll(fctx)
			return nil
		}
		var again <-chan time.Time
		if !ok {
			retry.Reset(time.Second)
			again = retry.C
		}
		select {
		case <-ctx.Done():
		case <-l.wake:
			// Let the outcomes of a burst of set-ups gather into one COPY.
			gather.Reset(authLogGather)
			select {
			case <-ctx.Done():
			case <-gather.C:
			}
		case <-again:
		}
	}
}

// authLogGather is how long the outcome that wakes the writer waits for
// others to join its COPY.
const authLogGather = 20 * time.Millisecond

// writeAll writes the queue in batches; false if a write failed (the
// outcomes stay queued, in order).
func (l *AuthLog) writeAll(ctx context.Context) bool {
	for {
		l.mu.Lock()
		n := min(len(l.queue), authLogBatch)
		batch := l.queue[:n:n]
		l.mu.Unlock()
		if n == 0 {
			return true
		}
		if err := l.store.RecordAuthOutcomes(ctx, batch); err != nil {
			if l.failed.Add(1)%100 == 1 {
				l.log.Warn("auth log: write failed, retried", "outcomes", n, "err", err)
			}
			return false
		}
		l.written.Add(uint64(n))
		l.mu.Lock()
		l.queue = append(l.queue[:0], l.queue[n:]...)
		l.mu.Unlock()
	}
}

// RecordAuthOutcomes writes outcomes to auth_log with one COPY.
func (s *Store) RecordAuthOutcomes(ctx context.Context, outs []AuthOutcome) error {
	rows := make([][]any, len(outs))
	for i, o := range outs {
		class := ""
		if len(o.Class) > 0 {
			class = "0x" + hex.EncodeToString(o.Class)
		}
		rows[i] = []any{o.Username, o.Result, o.Reply, s.node, o.CallingStationID, o.CalledStationID, class, o.At}
	}
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		_, err := c.CopyFrom(ctx, pgx.Identifier{"auth_log"},
			[]string{"username", "result", "reply", "node", "calling_station_id", "called_station_id", "class", "auth_time"},
			pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return fmt.Errorf("accounting: record %d auth outcomes: %w", len(outs), err)
	}
	return nil
}
