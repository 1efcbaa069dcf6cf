package accounting

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/migrations"
	"github.com/jackc/pgx/v5"
)

func migrateDSN(t testing.TB, dsn string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := migrations.Up(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// checkExactlyOnce verifies that every session has records 0..n exactly
// once, that they arrived in sequence order, and that it is stopped with
// its final counters.
func checkExactlyOnce(t *testing.T, db *DB, sessions int, records int64, finalIn func(i int) uint64) {
	t.Helper()
	if n := queryInt(t, db, `SELECT count(*) FROM acct_records`); n != records {
		t.Errorf("acct_records has %d rows, want %d", n, records)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM (SELECT acct_session_id FROM acct_records
		GROUP BY 1 HAVING count(*) <> max(seq) + 1 OR min(seq) <> 0) x`); n != 0 {
		t.Errorf("%d sessions with a gap in their records", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY acct_session_id ORDER BY id) AS prev
		FROM acct_records) x WHERE prev IS NOT NULL AND seq <> prev + 1`); n != 0 {
		t.Errorf("%d records arrived out of order", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sessions WHERE stop_time IS NOT NULL`); n != int64(sessions) {
		t.Errorf("%d stopped sessions, want %d", n, sessions)
	}
	rows := query(t, db, `SELECT acct_session_id, in_octets::text FROM sessions`)
	bad := 0
	for _, r := range rows {
		var i int
		fmt.Sscanf(r[0], "s%d", &i)
		if r[1] != fmt.Sprint(finalIn(i)) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d sessions with wrong final counters", bad)
	}
}

// TestPostgresOutage60s is the product's promise: 10,000 sessions are
// accounted while PostgreSQL is down for 60 seconds; afterwards every
// record is there exactly once, in order.
func TestPostgresOutage60s(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: runs for about 80 seconds")
	}
	cluster := testenv.NewPostgresCluster(t)
	ctx := context.Background()
	dsn, err := cluster.CreateDatabase(ctx, "outage")
	if err != nil {
		t.Fatal(err)
	}
	migrateDSN(t, dsn)
	db, err := Open(ctx, dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, stop := runAccountant(t, AccountantConfig{SpoolDir: t.TempDir(), Sinks: map[string]Sink{"postgres": NewStore(db, "lns1")},
		Node: "lns1", RetryMin: 200 * time.Millisecond, RetryMax: 2 * time.Second, SegmentMax: 1 << 20})
	const n = 10000
	var tick atomic.Uint64
	counters := func() Counters { v := tick.Add(1); return Counters{InOctets: v, OutOctets: v} }
	for i := 0; i < n; i++ {
		a.SessionStarted(SessionInfo{Record: Record{SessionID: fmt.Sprintf("s%d", i), Username: fmt.Sprintf("u%d", i%100)},
			Interim: 10 * time.Second, Counters: counters})
	}
	waitFor(t, 30*time.Second, "the Starts in Postgres", func() bool { return a.Stats().Delivered >= n })
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Log("PostgreSQL stopped")
	time.Sleep(60 * time.Second)
	down := a.Stats()
	if down.SinkErrors == 0 || down.SpoolPending == 0 || down.Records < 5*n {
		t.Fatalf("after 60s of outage: %+v; want sink errors, a spool backlog and the interims of 10000 sessions", down)
	}
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL started again; %d records made, %d delivered, %d bytes spooled", down.Records, down.Delivered, down.SpoolPending)
	for i := 0; i < n; i++ {
		a.SessionStopped(fmt.Sprintf("s%d", i), Counters{InOctets: uint64(1e9 + i), OutOctets: 7}, uint32(CauseUserRequest))
	}
	waitFor(t, 60*time.Second, "the replay", func() bool {
		st := a.Stats()
		return st.Sessions == 0 && st.Delivered == st.Records && st.SpoolPending == 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	t.Logf("final: %+v", st)
	checkExactlyOnce(t, db, n, int64(st.Records), func(i int) uint64 { return uint64(1e9 + i) })
}

const (
	childEnv   = "BRAS_ACCT_CHILD"
	childDSN   = "BRAS_ACCT_CHILD_DSN"
	childSpool = "BRAS_ACCT_CHILD_SPOOL"
	childN     = 3000
)

// slowSink makes each batch take a while so the kill lands mid-stream,
// most often after a batch is committed in Postgres but before the spool
// cursor moved past it: the replay then offers that batch again.
type slowSink struct{ Sink }

func (s slowSink) Write(ctx context.Context, recs []Record) error {
	time.Sleep(5 * time.Millisecond)
	err := s.Sink.Write(ctx, recs)
	time.Sleep(10 * time.Millisecond)
	return err
}

// runChild is the writer killed by TestKillWriter: it accounts childN
// sessions (Start and Stop), says SPOOLED once all are on disk, and
// delivers them slowly until killed.
func runChild() int {
	ctx := context.Background()
	db, err := Open(ctx, os.Getenv(childDSN), 2)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, err := NewAccountant(AccountantConfig{SpoolDir: os.Getenv(childSpool), Node: "lns1", Interim: -1, BatchSize: 50,
		Sinks: map[string]Sink{"postgres": slowSink{NewStore(db, "lns1")}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go a.Run(ctx)
	for i := 0; i < childN; i++ {
		id := fmt.Sprintf("s%d", i)
		a.SessionStarted(SessionInfo{Record: Record{SessionID: id, Username: "u"}})
		a.SessionStopped(id, Counters{InOctets: uint64(i)}, uint32(CauseUserRequest))
	}
	for a.Stats().Spooled < 2*childN {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("SPOOLED")
	select {}
}

// TestKillWriter kills the writing process with SIGKILL in the middle of
// delivering, restarts a writer on the same spool, and checks that every
// record is in Postgres exactly once.
func TestKillWriter(t *testing.T) {
	_, db := migrated(t)
	dsn := db.cfg.ConnString()
	spool := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDSN+"="+dsn, childSpool+"="+spool)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "SPOOLED" {
		t.Fatalf("child said %q, %v", line, err)
	}
	waitFor(t, 30*time.Second, "part of the records in Postgres", func() bool {
		return queryInt(t, db, `SELECT count(*) FROM acct_records`) >= 2*childN/4
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	before := queryInt(t, db, `SELECT count(*) FROM acct_records`)
	if before >= 2*childN {
		t.Fatalf("the child delivered everything (%d) before the kill; the test proves nothing", before)
	}
	segs, _ := filepath.Glob(filepath.Join(spool, "postgres", "*.seg"))
	t.Logf("killed with %d of %d records written, %d spool segments", before, 2*childN, len(segs))
	a, stop := runAccountant(t, AccountantConfig{SpoolDir: spool, Node: "lns1", Sinks: map[string]Sink{"postgres": NewStore(db, "lns1")}})
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.WaitReplayed(wctx); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.SpoolPending != 0 {
		t.Errorf("WaitReplayed returned with %d bytes still spooled", st.SpoolPending)
	}
	// Nothing of the last run is left open: CloseOrphans (run after the
	// replay, as the daemon does) closes nothing.
	if n, err := NewStore(db, "lns1").CloseOrphans(context.Background(), "lns1", time.Now()); err != nil || n != 0 {
		t.Errorf("CloseOrphans after the replay = %d, %v; want 0", n, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, db, childN, 2*childN, func(i int) uint64 { return uint64(i) })
}
