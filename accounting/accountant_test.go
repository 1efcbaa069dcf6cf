package accounting

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
)

// memSink keeps what it is given; it fails while failing is set.
type memSink struct {
	mu      sync.Mutex
	recs    []Record
	failing atomic.Bool
	writes  atomic.Int64
}

func (m *memSink) Write(ctx context.Context, recs []Record) error {
	m.writes.Add(1)
	if m.failing.Load() {
		return errors.New("sink down")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, recs...)
	return nil
}

func (m *memSink) snapshot() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.recs...)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runAccountant runs an accountant until the returned stop is called (or
// the test ends); stop returns Run's error.
func runAccountant(t *testing.T, cfg AccountantConfig) (*Accountant, func() error) {
	t.Helper()
	a, err := NewAccountant(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = a.Run(ctx); close(done) }()
	stop := func() error {
		cancel()
		<-done
		return runErr
	}
	t.Cleanup(func() { stop() })
	return a, stop
}

// TestAccountantLifecycle: Start, interims on the session's own interval
// carrying the counters read at that moment, Stop with the final counters
// and cause, sequence numbers 0, 1, 2, ... in order.
func TestAccountantLifecycle(t *testing.T) {
	sink := &memSink{}
	a, _ := runAccountant(t, AccountantConfig{SpoolDir: t.TempDir(), Sinks: map[string]Sink{"mem": sink}, Node: "lns1", Interim: time.Hour})
	var octets atomic.Uint64
	info := SessionInfo{Record: Record{SessionID: "lns1-1", Username: "alice"}, Interim: 100 * time.Millisecond,
		Counters: func() Counters { n := octets.Add(1000); return Counters{InOctets: n, OutOctets: 2 * n} }}
	start := time.Now()
	a.SessionStarted(info)
	waitFor(t, 5*time.Second, "3 interims", func() bool { return len(sink.snapshot()) >= 4 })
	a.SessionStopped("lns1-1", Counters{InOctets: 99999, OutOctets: 88888}, uint32(CauseUserRequest))
	a.SessionStopped("lns1-1", Counters{}, uint32(CauseUserRequest)) // a second Stop is ignored
	waitFor(t, 5*time.Second, "the Stop", func() bool {
		r := sink.snapshot()
		return r[len(r)-1].Kind == Stop
	})
	recs := sink.snapshot()
	if recs[0].Kind != Start || recs[0].Node != "lns1" || recs[0].Username != "alice" {
		t.Errorf("first record %+v, want alice's Start on lns1", recs[0])
	}
	var last uint64
	for i, r := range recs {
		if r.Seq != uint32(i) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if r.Kind == Interim {
			if r.InOctets <= last || r.OutOctets != 2*r.InOctets {
				t.Errorf("interim %d counters %d/%d", i, r.InOctets, r.OutOctets)
			}
			last = r.InOctets
		}
	}
	// The first interim is due within the last Jitter (25%) of the interval.
	if first := recs[1].Time.Sub(start); first < 70*time.Millisecond || first > 300*time.Millisecond {
		t.Errorf("first interim after %v, want about 75-100ms", first)
	}
	stop := recs[len(recs)-1]
	if stop.InOctets != 99999 || stop.OutOctets != 88888 || stop.Cause != CauseUserRequest {
		t.Errorf("Stop = %+v", stop)
	}
	if st := a.Stats(); st.Unknown != 1 || st.Sessions != 0 {
		t.Errorf("Stats = %+v, want 1 unknown Stop and no session", st)
	}
}

// TestAccountantSinkDown: while the sink fails nothing is lost; when it
// returns, the records arrive once each, in order.
func TestAccountantSinkDown(t *testing.T) {
	sink := &memSink{}
	sink.failing.Store(true)
	a, _ := runAccountant(t, AccountantConfig{SpoolDir: t.TempDir(), Sinks: map[string]Sink{"mem": sink}, Interim: -1,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, BatchSize: 64})
	for i := 0; i < 500; i++ {
		id := fmt.Sprintf("s%d", i)
		a.SessionStarted(SessionInfo{Record: Record{SessionID: id}})
		a.SessionStopped(id, Counters{InOctets: uint64(i)}, uint32(CauseLostCarrier))
	}
	// Spooling is a group commit, so the last records can reach the spool
	// after the sink has already failed a few times: wait for both.
	waitFor(t, 5*time.Second, "sink errors and the whole spool", func() bool {
		st := a.Stats()
		return st.SinkErrors >= 3 && st.Spooled >= 1000
	})
	if st := a.Stats(); st.Spooled != 1000 || st.Delivered != 0 {
		t.Fatalf("while down: %+v; want 1000 spooled, 0 delivered", st)
	}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := a.WaitDelivered(short); err == nil {
		t.Error("WaitDelivered returned nil while the sink is down")
	}
	sink.failing.Store(false)
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := a.WaitDelivered(wctx); err != nil {
		t.Fatal(err)
	}
	recs := sink.snapshot()
	if len(recs) != 1000 {
		t.Fatalf("%d records delivered, want 1000", len(recs))
	}
	for i, r := range recs {
		want := fmt.Sprintf("s%d", i/2)
		if r.SessionID != want || r.Seq != uint32(i%2) {
			t.Fatalf("record %d is %s/%d, want %s/%d", i, r.SessionID, r.Seq, want, i%2)
		}
	}
	if st := a.Stats(); st.SpoolPending != 0 {
		t.Errorf("SpoolPending = %d after delivery", st.SpoolPending)
	}
}

// TestInterimSpread: 64k sessions started in the same instant have their
// first interims spread over the jitter window, not in one burst.
func TestInterimSpread(t *testing.T) {
	a, err := NewAccountant(AccountantConfig{SpoolDir: t.TempDir(), Sinks: map[string]Sink{"mem": &memSink{}}, Jitter: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a.cfg.Now = func() time.Time { return now }
	every := 600 * time.Second
	for i := 0; i < 65536; i++ {
		a.SessionStarted(SessionInfo{Record: Record{SessionID: fmt.Sprint(i)}, Interim: every})
	}
	a.takeEvents()
	buckets := map[int64]int{}
	for _, s := range a.sessions {
		d := s.timer.When().Sub(now)
		if d < every/2 || d > every {
			t.Fatalf("first interim after %v, want within [%v, %v]", d, every/2, every)
		}
		buckets[int64(d/time.Second)]++
	}
	// 300 one-second buckets: about 218 each; none should be crowded.
	for sec, n := range buckets {
		if n > 400 {
			t.Errorf("%d interims due in second %d", n, sec)
		}
	}
	if len(buckets) < 290 {
		t.Errorf("interims fall in %d distinct seconds, want ~300", len(buckets))
	}
	// Firing advances each by exactly one interval from its due time.
	now = now.Add(every)
	a.fireDue(now)
	if got := len(a.pending["mem"]); got != 65536*2 {
		t.Errorf("%d records pending, want 65536 Starts + 65536 Interims", got)
	}
	for _, s := range a.sessions {
		if d := s.timer.When().Sub(now); d <= 0 || d > every {
			t.Fatalf("next interim in %v", d)
		}
	}
}

// TestAccountantDiskFull: with the spool's disk full the accountant says
// so (SpoolErr, Stats) and keeps the records; once there is room they are
// spooled and delivered, none lost.
func TestAccountantDiskFull(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	// mode=0700: a fresh tmpfs is 1777, and the accountant refuses a
	// spool directory others can write.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	sink := &memSink{}
	a, err := NewAccountant(AccountantConfig{SpoolDir: dir, Sinks: map[string]Sink{"mem": sink}, Interim: -1})
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	var fill []byte
	for size := 32 << 10; size > 0; size /= 2 { // take all the room there is
		if os.WriteFile(filler, make([]byte, len(fill)+size), 0o600) == nil {
			fill = make([]byte, len(fill)+size)
		}
	}
	os.WriteFile(filler, fill, 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	for i := 0; i < 100; i++ {
		a.SessionStarted(SessionInfo{Record: Record{SessionID: fmt.Sprint(i), Username: "someone-with-a-long-name"}})
	}
	waitFor(t, 5*time.Second, "the disk-full error", func() bool { return a.Stats().SpoolFull > 0 })
	if err := a.SpoolErr(); !errors.Is(err, ErrSpoolFull) {
		t.Errorf("SpoolErr = %v, want ErrSpoolFull", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery after room is made", func() bool { return a.Stats().Delivered == 100 })
	if a.SpoolErr() != nil {
		t.Errorf("SpoolErr = %v after recovery", a.SpoolErr())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(sink.snapshot()); got != 100 {
		t.Errorf("%d records delivered, want 100", got)
	}
}

// TestAccountantNoGoroutineLeak: Run's goroutines are gone when it returns.
func TestAccountantNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	a, err := NewAccountant(AccountantConfig{SpoolDir: t.TempDir(), Sinks: map[string]Sink{"a": &memSink{}, "b": &memSink{}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if err := a.WaitReplayed(ctx); err != nil {
		t.Errorf("WaitReplayed on empty spools: %v", err)
	}
	a.SessionStarted(SessionInfo{Record: Record{SessionID: "x"}})
	waitFor(t, 5*time.Second, "delivery to both sinks", func() bool { return a.Stats().Delivered == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestWaitReplayed: records left in the spool by the last run are
// delivered by the next one before WaitReplayed returns.
func TestWaitReplayed(t *testing.T) {
	dir := t.TempDir()
	down := &memSink{}
	down.failing.Store(true)
	a, stop := runAccountant(t, AccountantConfig{SpoolDir: dir, Sinks: map[string]Sink{"pg": down}, Interim: -1})
	for i := 0; i < 50; i++ {
		a.SessionStarted(SessionInfo{Record: Record{SessionID: fmt.Sprint(i)}})
	}
	waitFor(t, 5*time.Second, "the records in the spool", func() bool { return a.Stats().Spooled == 50 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	up := &memSink{}
	b, _ := runAccountant(t, AccountantConfig{SpoolDir: dir, Sinks: map[string]Sink{"pg": up}, Interim: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.WaitReplayed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(up.snapshot()); got != 50 {
		t.Errorf("%d records replayed before WaitReplayed returned, want 50", got)
	}
}

// TestReuseAfterBurst: after a burst (a tunnel's worth of Stops) the
// pending buffer is let go rather than kept at the burst's size, and a
// small one is kept with its records cleared, so the memory of ended
// sessions goes back.
func TestReuseAfterBurst(t *testing.T) {
	big := make([]Record, 5000)
	for i := range big {
		big[i] = Record{SessionID: "s", Username: "u"}
	}
	if got := reuse(big); cap(got) != 0 {
		t.Errorf("after a burst of 5000 the buffer keeps room for %d", cap(got))
	}
	small := []Record{{SessionID: "s"}, {SessionID: "t"}}
	got := reuse(small)
	if len(got) != 0 || cap(got) != 2 || small[0].SessionID != "" || small[1].SessionID != "" {
		t.Errorf("a small buffer: len %d cap %d, records %q %q; want emptied, kept, cleared", len(got), cap(got), small[0].SessionID, small[1].SessionID)
	}
}

// TestGroupCommit: the Starts of sessions coming up close together (a
// DSLAM's subscribers coming back) share spool writes, one write and fsync
// per sink per CommitDelay, instead of one each; without the delay every
// wake-up writes at once. Either way every record reaches the sink.
func TestGroupCommit(t *testing.T) {
	const n = 50
	burst := func(delay time.Duration) (writes uint64) {
		sink := &memSink{}
		a, stop := runAccountant(t, AccountantConfig{SpoolDir: t.TempDir(), Sinks: map[string]Sink{"mem": sink},
			Node: "lns1", Interim: time.Hour, CommitDelay: delay})
		for i := range n {
			a.SessionStarted(SessionInfo{Record: Record{SessionID: fmt.Sprintf("lns1-%d", i), Username: "alice"},
				Counters: func() Counters { return Counters{} }})
			time.Sleep(2 * time.Millisecond)
		}
		waitFor(t, 5*time.Second, "every Start in the sink", func() bool { return len(sink.snapshot()) == n })
		st := a.Stats()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if st.Spooled != n {
			t.Errorf("delay %v: %d records spooled, want %d", delay, st.Spooled, n)
		}
		return st.SpoolWrites
	}
	// 50 Starts 2 ms apart arrive within about 100 ms (more on a loaded
	// machine): with a 1 s delay they are one write, or two if the first
	// Start woke the loop on its own.
	if w := burst(time.Second); w > 2 {
		t.Errorf("CommitDelay 1s: %d spool writes for %d Starts, want 1 or 2", w, n)
	}
	if w := burst(-1); w < n/2 {
		t.Errorf("no CommitDelay: %d spool writes for %d Starts 2 ms apart, want about one each", w, n)
	}
}
