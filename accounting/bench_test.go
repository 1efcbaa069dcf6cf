package accounting

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/pglab"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// benchPG is a durable cluster (fsync on, as in production) shared by the
// benchmarks of this binary and destroyed by TestMain.
var benchPG struct {
	once sync.Once
	c    *pglab.Cluster
	err  error
	n    int
}

func benchDB(b *testing.B) *DB {
	b.Helper()
	benchPG.once.Do(func() {
		if _, err := pglab.FindBin(); err != nil {
			benchPG.err = err
			return
		}
		benchPG.c, benchPG.err = pglab.NewWithOptions(context.Background(), pglab.Options{Durable: true})
	})
	if benchPG.err != nil {
		if testenv.InCI() {
			b.Fatal(benchPG.err)
		}
		b.Skip(benchPG.err)
	}
	benchPG.n++
	ctx := context.Background()
	dsn, err := benchPG.c.CreateDatabase(ctx, fmt.Sprintf("bench%d", benchPG.n))
	if err != nil {
		b.Fatal(err)
	}
	migrateDSN(b, dsn)
	db, err := Open(ctx, dsn, 4)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	return db
}

// serverCPU is the CPU time (user+system) used so far by the server
// processes serving db's database, read from /proc: a figure that does
// not depend on how busy the rest of the machine is.
func serverCPU(b *testing.B, db *DB) time.Duration {
	b.Helper()
	var pids []int32
	err := db.With(context.Background(), func(c *pgx.Conn) error {
		rows, err := c.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p int32
			if err := rows.Scan(&p); err != nil {
				return err
			}
			pids = append(pids, p)
		}
		return rows.Err()
	})
	if err != nil {
		b.Fatal(err)
	}
	var ticks int64
	for _, p := range pids {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// Fields after the command name (which ends with ')'): utime and
		// stime are the 12th and 13th.
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

func stopBenchCluster() {
	if benchPG.c != nil {
		benchPG.c.Destroy()
	}
}

// BenchmarkStoreWrite measures accounting records written per second into
// a durable PostgreSQL by the batched Postgres sink: batches of 1000
// Interim-Update records of 1000 different sessions (of 64,000 started,
// a full LNS; each row is updated once every 64 batches),
// each batch one transaction (one multi-row insert, one multi-row upsert).
func BenchmarkStoreWrite(b *testing.B) {
	db := benchDB(b)
	s := NewStore(db, "lns1")
	ctx := context.Background()
	const sessions, batch = 64000, 1000
	base := make([]Record, sessions)
	for i := range base {
		base[i] = sess(fmt.Sprintf("lns1-%d", i), fmt.Sprintf("user%d", i%2000), 0, Start, t0, 0, 0)
	}
	for i := 0; i < sessions; i += batch {
		if err := s.Write(ctx, base[i:i+batch]); err != nil {
			b.Fatal(err)
		}
	}
	recs := make([]Record, batch)
	b.ReportAllocs()
	cpu0 := serverCPU(b, db)
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n++ {
		for j := range recs {
			k := (n*batch + j) % sessions
			r := base[k]
			r.Kind, r.Seq = Interim, uint32(1+(n*batch+j)/sessions)
			r.Time = t0.Add(time.Duration(r.Seq) * time.Minute)
			r.InOctets, r.OutOctets = uint64(r.Seq)*1000, uint64(r.Seq)*5000
			recs[j] = r
		}
		if err := s.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "records/s")
	if cpu := serverCPU(b, db) - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N*batch)/cpu.Seconds(), "records/server-cpu-s")
	}
}

// BenchmarkAccountantToPostgres measures the whole path: events in,
// records made, group-committed to the fsync'd spool, delivered to a
// durable PostgreSQL in batches; the clock stops when the last is there.
func BenchmarkAccountantToPostgres(b *testing.B) {
	db := benchDB(b)
	a, err := NewAccountant(AccountantConfig{SpoolDir: b.TempDir(), Sinks: map[string]Sink{"postgres": NewStore(db, "lns1")}, Node: "lns1", Interim: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	const perIter = 1000 // 500 sessions: Start and Stop
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n++ {
		for i := 0; i < perIter/2; i++ {
			id := fmt.Sprintf("b%d-%d", n, i)
			a.SessionStarted(SessionInfo{Record: Record{SessionID: id, Username: "u"}})
			a.SessionStopped(id, Counters{InOctets: 1}, uint32(CauseUserRequest))
		}
	}
	for a.Stats().Delivered < uint64(b.N*perIter) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N*perIter)/time.Since(start).Seconds(), "records/s")
}
