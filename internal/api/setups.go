package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// SetupBucket is the width of one bucket of the set-up history.
const SetupBucket = 10 * time.Second

// MaxSetupMinutes is how far back the set-up history reaches.
const MaxSetupMinutes = 60

const setupRing = MaxSetupMinutes * int(time.Minute/SetupBucket)

// SetupCounts are a daemon's cumulative session set-up counters: the
// sessions that came up and the attempts that failed (refused, rejected,
// RADIUS or pool errors).
type SetupCounts struct {
	Up, Failed uint64
}

// SetupBucketCounts are the set-ups of one bucket of SetupBucket.
type SetupBucketCounts struct {
	Start  time.Time `json:"start"`
	Up     uint64    `json:"up"`
	Failed uint64    `json:"failed"`
}

// Setups is the answer of GET /api/v1/setups: the buckets of the last
// minutes, oldest first; the last one is the bucket in progress. Up and
// Failed sum the buckets.
type Setups struct {
	BucketSeconds int                 `json:"bucket_seconds"`
	Minutes       int                 `json:"minutes"`
	Up            uint64              `json:"up"`
	Failed        uint64              `json:"failed"`
	Buckets       []SetupBucketCounts `json:"buckets"`
}

// SetupHistory keeps the set-ups of the last hour in buckets of
// SetupBucket, from the daemon's cumulative counters: it reads them once a
// second (Run) and on every query, so set-ups cost nothing extra on their
// path. Its methods are safe for concurrent use.
type SetupHistory struct {
	read func() SetupCounts
	now  func() time.Time

	mu     sync.Mutex
	start  time.Time   // of the bucket in progress
	base   SetupCounts // the counters when it began
	closed [setupRing]SetupBucketCounts
	n      int // closed buckets held
	next   int // where the next closed bucket goes
}

// NewSetupHistory starts a history of the counters read returns; now is
// the clock (time.Now when nil).
func NewSetupHistory(read func() SetupCounts, now func() time.Time) *SetupHistory {
	if now == nil {
		now = time.Now
	}
	h := &SetupHistory{read: read, now: now}
	h.start = now().Truncate(SetupBucket)
	h.base = read()
	return h
}

// Run closes the buckets as time passes, until ctx is done.
func (h *SetupHistory) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.mu.Lock()
			h.roll(h.now())
			h.mu.Unlock()
		}
	}
}

// roll closes the bucket in progress once now is past it; buckets that
// passed with nobody reading (the clock jumped) are closed empty.
func (h *SetupHistory) roll(now time.Time) {
	if now.Before(h.start.Add(SetupBucket)) {
		if now.Before(h.start) { // the clock went back: start again from now
			h.start = now.Truncate(SetupBucket)
		}
		return
	}
	c := h.read()
	h.push(SetupBucketCounts{Start: h.start, Up: c.Up - h.base.Up, Failed: c.Failed - h.base.Failed})
	h.base = c
	cur := now.Truncate(SetupBucket)
	skipped := int(cur.Sub(h.start)/SetupBucket) - 1
	for i := 1; i <= min(skipped, setupRing); i++ {
		h.push(SetupBucketCounts{Start: cur.Add(-time.Duration(min(skipped, setupRing)-i+1) * SetupBucket)})
	}
	h.start = cur
}

func (h *SetupHistory) push(b SetupBucketCounts) {
	h.closed[h.next] = b
	h.next = (h.next + 1) % setupRing
	h.n = min(h.n+1, setupRing)
}

// Last returns the buckets of the last minutes (at most MaxSetupMinutes),
// the one in progress included, oldest first; a history younger than
// that has fewer.
func (h *SetupHistory) Last(minutes int) Setups {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	h.roll(now)
	minutes = min(max(minutes, 1), MaxSetupMinutes)
	want := minutes * int(time.Minute/SetupBucket)
	k := min(h.n, want-1)
	out := Setups{BucketSeconds: int(SetupBucket / time.Second), Minutes: minutes, Buckets: make([]SetupBucketCounts, 0, k+1)}
	for i := k; i > 0; i-- {
		out.Buckets = append(out.Buckets, h.closed[(h.next-i+setupRing)%setupRing])
	}
	c := h.read()
	out.Buckets = append(out.Buckets, SetupBucketCounts{Start: h.start, Up: c.Up - h.base.Up, Failed: c.Failed - h.base.Failed})
	for _, b := range out.Buckets {
		out.Up += b.Up
		out.Failed += b.Failed
	}
	return out
}

func (s *Server) setups(w http.ResponseWriter, r *http.Request) {
	if err := onlyParams(r, "minutes"); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.cfg.Setups == nil {
		writeError(w, http.StatusNotFound, "this daemon keeps no set-up history")
		return
	}
	minutes := 10
	if v := r.URL.Query()["minutes"]; len(v) > 0 {
		n, err := strconv.Atoi(v[0])
		switch {
		case len(v) > 1:
			s.fail(w, r, BadRequest(errors.New("parameter \"minutes\" given more than once")))
			return
		case err != nil || n < 1 || n > MaxSetupMinutes:
			s.fail(w, r, BadRequest(fmt.Errorf("parameter \"minutes\": %q is not a whole number from 1 to %d", v[0], MaxSetupMinutes)))
			return
		}
		minutes = n
	}
	writeJSON(w, http.StatusOK, s.cfg.Setups.Last(minutes))
}
