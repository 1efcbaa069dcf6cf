package accounting

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

var t0 = time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC)

func sess(id, user string, seq uint32, kind Kind, at time.Time, in, out uint64) Record {
	return Record{Kind: kind, Seq: seq, SessionID: id, Node: "lns1", Username: user, Realm: "isp.example",
		CallingStationID: "02:00:00:00:00:01", NASPortID: "eth0.100", LAC: "lac1", TunnelID: 1, L2TPSessionID: 2,
		Addr: netip.MustParseAddr("100.64.0.7"), NASIP: netip.MustParseAddr("192.0.2.1"), Time: at, Started: t0,
		InOctets: in, OutOctets: out, InPackets: in / 100, OutPackets: out / 100, InterimSeconds: 300,
		RateDownKbps: 100000, RateUpKbps: 20000, Class: [][]byte{{0xca, 0xfe}}}
}

// TestRadacctView runs FreeRADIUS's own queries over the view.
func TestRadacctView(t *testing.T) {
	_, db := migrated(t)
	s := NewStore(db, "lns1")
	ctx := context.Background()
	stop := sess("s1", "alice", 2, Stop, t0.Add(2*time.Hour), 3000, 9000)
	stop.Cause = CauseUserRequest
	recs := []Record{
		sess("s1", "alice", 0, Start, t0, 0, 0),
		sess("s1", "alice", 1, Interim, t0.Add(time.Hour), 1000, 4000),
		stop,
		sess("s2", "alice", 0, Start, t0.Add(48*time.Hour), 0, 0),
		sess("s2", "alice", 1, Interim, t0.Add(49*time.Hour), 500, 700),
		sess("s3", "bob", 0, Start, t0, 0, 0),
	}
	recs[3].Started, recs[4].Started = t0.Add(48*time.Hour), t0.Add(48*time.Hour)
	// Two batches, the second replaying part of the first: nothing doubles.
	if err := s.Write(ctx, recs[:4]); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, recs[1:]); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM acct_records`); n != 6 {
		t.Errorf("acct_records = %d, want 6", n)
	}
	// The per-user monthly sums of process-radacct.sql's report, straight on radacct.
	rows := query(t, db, `SELECT username, to_char(date_trunc('month', acctstarttime AT TIME ZONE 'UTC'), 'YYYY-MM'),
		SUM(acctinputoctets)::text, SUM(acctoutputoctets)::text, SUM(acctsessiontime)::text
		FROM radacct GROUP BY 1, 2 ORDER BY 1, 2`)
	want := [][]string{
		{"alice", "2026-03", "3000", "9000", "7200"},
		{"alice", "2026-04", "500", "700", "3600"},
		{"bob", "2026-03", "0", "0", "0"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("monthly sums (-want +got)\n%s", diff)
	}
	// simul_count_query of queries.conf (without nasreload).
	if n := queryInt(t, db, `SELECT COUNT(RadAcctId) FROM radacct a WHERE UserName='alice' AND AcctStopTime IS NULL`); n != 1 {
		t.Errorf("simultaneous sessions of alice = %d, want 1", n)
	}
	got := query(t, db, `SELECT acctsessionid, acctuniqueid, nasipaddress::text, nasportid, framedipaddress::text,
		callingstationid, acctterminatecause, framedprotocol, servicetype, class, acctinterval::text, connectinfo_start
		FROM radacct WHERE acctsessionid = 's1'`)
	wantRow := [][]string{{"s1", "s1", "192.0.2.1/32", "eth0.100", "100.64.0.7/32", "02:00:00:00:00:01",
		"User-Request", "PPP", "Framed-User", "0xcafe", "300", "100000/20000"}}
	if diff := cmp.Diff(wantRow, got); diff != "" {
		t.Errorf("radacct row (-want +got)\n%s", diff)
	}
}

// query returns the rows of q as text.
func query(t testing.TB, db *DB, q string, args ...any) [][]string {
	t.Helper()
	var out [][]string
	err := db.With(context.Background(), func(c *pgx.Conn) error {
		rows, err := c.Query(context.Background(), q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			r := make([]string, len(vals))
			for i, v := range vals {
				if v == nil {
					r[i] = ""
					continue
				}
				r[i] = fmt.Sprint(v)
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func TestCloseOrphans(t *testing.T) {
	_, db := migrated(t)
	s := NewStore(db, "lns1")
	ctx := context.Background()
	if _, err := s.AddPool(ctx, "p", netip.MustParsePrefix("10.0.0.0/30")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allocate(ctx, "p", "o1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	boot := time.Now()
	old := []Record{sess("o1", "alice", 0, Start, t0, 0, 0), sess("o1", "alice", 1, Interim, t0.Add(time.Hour), 10, 20)}
	other := sess("x1", "bob", 0, Start, t0, 0, 0)
	other.Node = "lns2"
	fresh := sess("n1", "carol", 0, Start, boot.Add(time.Minute), 0, 0)
	fresh.Started = boot.Add(time.Minute)
	if err := s.Write(ctx, append(old, other, fresh)); err != nil {
		t.Fatal(err)
	}
	n, err := s.CloseOrphans(ctx, "lns1", boot)
	if err != nil || n != 1 {
		t.Fatalf("CloseOrphans = %d, %v; want 1", n, err)
	}
	got := query(t, db, `SELECT acct_session_id, COALESCE(terminate_cause, 0)::text, COALESCE(stop_time::text, ''), in_octets::text FROM sessions ORDER BY 1`)
	want := [][]string{
		{"n1", "0", "", "0"},
		{"o1", "11", t0.Add(time.Hour).Format("2006-01-02 15:04:05+00"), "10"},
		{"x1", "0", "", "0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions (-want +got)\n%s", diff)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM acct_records WHERE acct_session_id = 'o1' AND kind = 2 AND seq = 4294967295 AND in_octets = 10`); n != 1 {
		t.Errorf("Stop records of o1 = %d, want 1", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM pool_addresses WHERE session_id IS NOT NULL`); n != 0 {
		t.Errorf("%d leases still held after CloseOrphans", n)
	}
	// Idempotent: a second run closes nothing.
	if n, err := s.CloseOrphans(ctx, "lns1", boot); err != nil || n != 0 {
		t.Errorf("second CloseOrphans = %d, %v; want 0", n, err)
	}
	// The real Interim and Stop turn up late from a spool: nothing of them
	// is lost, and the real Stop replaces the NAS-Reboot.
	late := sess("o1", "alice", 3, Stop, t0.Add(3*time.Hour), 30, 40)
	late.Cause = CauseIdleTimeout
	if err := s.Write(ctx, []Record{sess("o1", "alice", 2, Interim, t0.Add(2*time.Hour), 20, 30), late}); err != nil {
		t.Fatal(err)
	}
	got = query(t, db, `SELECT terminate_cause::text, stop_time::text, in_octets::text, orphan_closed::text FROM sessions WHERE acct_session_id = 'o1'`)
	want = [][]string{{"4", t0.Add(3 * time.Hour).Format("2006-01-02 15:04:05+00"), "30", "false"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("o1 after the late Stop (-want +got)\n%s", diff)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM acct_records WHERE acct_session_id = 'o1'`); n != 5 {
		t.Errorf("o1 has %d records, want 5 (Start, 2 Interims, the NAS-Reboot Stop, the real Stop)", n)
	}
}

// TestPoolTwoNodes: two LNS nodes allocate from one shared pool at the same
// time; no address is handed out twice and the pool runs dry cleanly.
func TestPoolTwoNodes(t *testing.T) {
	_, db1 := migrated(t)
	ctx := context.Background()
	db2 := db1 // separate connections: each store has its own pool below
	_ = db2
	a := NewStore(db1, "lns1")
	n, err := a.AddPool(ctx, "wholesale", netip.MustParsePrefix("100.64.0.0/24"))
	if err != nil || n != 254 {
		t.Fatalf("AddPool = %d, %v; want 254", n, err)
	}
	dbB, err := Open(ctx, db1.cfg.ConnString(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	b := NewStore(dbB, "lns2")
	var mu sync.Mutex
	got := map[netip.Addr]string{}
	exhausted := 0
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		st := a
		if w%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func(w int, st *Store) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				addr, err := st.Allocate(ctx, "wholesale", id)
				mu.Lock()
				switch {
				case errors.Is(err, ErrPoolExhausted):
					exhausted++
				case err != nil:
					t.Errorf("Allocate(%s): %v", id, err)
				default:
					if prev, dup := got[addr]; dup {
						t.Errorf("%s given to %s and %s", addr, prev, id)
					}
					got[addr] = id
				}
				mu.Unlock()
			}
		}(w, st)
	}
	wg.Wait()
	if len(got) != 254 || exhausted != 320-254 {
		t.Errorf("allocated %d, exhausted %d; want 254 and 66", len(got), exhausted)
	}
	// Allocate is idempotent per session, Release frees for the next one.
	var addr netip.Addr
	var holder string
	for a, id := range got {
		addr, holder = a, id
		break
	}
	if again, err := b.Allocate(ctx, "wholesale", holder); err != nil || again != addr {
		t.Errorf("re-Allocate(%s) = %v, %v; want %v", holder, again, err, addr)
	}
	if err := a.Release(ctx, addr, "someone-else"); !errors.Is(err, ErrNotLeased) {
		t.Errorf("Release by a stranger = %v, want ErrNotLeased", err)
	}
	if err := a.Release(ctx, addr, holder); err != nil {
		t.Fatal(err)
	}
	if next, err := b.Allocate(ctx, "wholesale", "newcomer"); err != nil || next != addr {
		t.Errorf("Allocate after Release = %v, %v; want %v", next, err, addr)
	}
}

func TestRecordAuth(t *testing.T) {
	_, db := migrated(t)
	s := NewStore(db, "lns1")
	if err := s.RecordAuth(context.Background(), "alice", "Access-Reject", "bad password", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAuthOutcome(context.Background(), AuthOutcome{Username: "bob", Result: "Access-Accept",
		CallingStationID: "02:00:00:00:00:02", CalledStationID: "lac1", Class: []byte{0xca, 0xfe}, At: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	got := query(t, db, `SELECT username, reply, callingstationid, calledstationid, class, authdate::text FROM radpostauth ORDER BY id`)
	want := [][]string{
		{"alice", "Access-Reject", "", "", "", "2026-03-31 23:00:00+00"},
		{"bob", "Access-Accept", "02:00:00:00:00:02", "lac1", "0xcafe", "2026-03-31 23:00:01+00"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("radpostauth (-want +got)\n%s", diff)
	}
}

// TestWriteWithoutStart: an Interim-Update or Stop whose session has no
// row yet (its Start was written by another path) still creates the
// session with its counters, through the fallback upsert.
func TestWriteWithoutStart(t *testing.T) {
	_, db := migrated(t)
	s := NewStore(db, "lns1")
	ctx := context.Background()
	known := sess("k1", "kim", 0, Start, t0, 0, 0)
	if err := s.Write(ctx, []Record{known}); err != nil {
		t.Fatal(err)
	}
	stop := sess("z1", "zoe", 2, Stop, t0.Add(time.Hour), 70, 80)
	stop.Cause = CauseAdminReset
	if err := s.Write(ctx, []Record{sess("k1", "kim", 1, Interim, t0.Add(time.Minute), 5, 6), sess("z1", "zoe", 1, Interim, t0.Add(time.Minute), 50, 60), stop}); err != nil {
		t.Fatal(err)
	}
	got := query(t, db, `SELECT acct_session_id, username, in_octets::text, out_octets::text, COALESCE(terminate_cause, 0)::text, last_seq::text,
		to_char(start_time AT TIME ZONE 'UTC', 'HH24:MI') FROM sessions ORDER BY 1`)
	want := [][]string{{"k1", "kim", "5", "6", "0", "1", "23:00"}, {"z1", "zoe", "70", "80", "6", "2", "23:00"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions (-want +got)\n%s", diff)
	}
}

func TestCheckSchema(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	db, err := Open(ctx, dsn, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := CheckSchema(ctx, db); !errors.Is(err, ErrSchemaOld) {
		t.Errorf("CheckSchema on an empty database = %v, want ErrSchemaOld", err)
	}
	_, mdb := migrated(t)
	if err := CheckSchema(ctx, mdb); err != nil {
		t.Errorf("CheckSchema after migrations: %v", err)
	}
	if _, err := Open(ctx, "postgres://postgres@127.0.0.1:1/x?connect_timeout=2", 1); err == nil {
		t.Error("Open of a dead server succeeded")
	}
	if _, err := Open(ctx, "postgres://%zz", 1); err == nil {
		t.Error("Open of a malformed DSN succeeded")
	}
}

// TestIPv6Counters: the IPv6 share of a dual-stack session's counters
// reaches the sessions row and every record through each path of Write
// (the Start's upsert, the narrow update of Interims and Stop, records of
// one session merged in a batch), never goes back when an older record
// turns up late, and is kept in the Stop CloseOrphans writes.
func TestIPv6Counters(t *testing.T) {
	_, db := migrated(t)
	s := NewStore(db, "lns1")
	ctx := context.Background()
	dual := func(r Record, in6, out6 uint64) Record {
		r.In6Octets, r.Out6Octets, r.In6Packets, r.Out6Packets = in6, out6, in6/10, out6/10
		return r
	}
	// IPv6 comes up after the Start: the Interim brings the interface
	// identifier, and the later records that lack it do not erase it.
	interim := dual(sess("d1", "dora", 1, Interim, t0.Add(time.Minute), 100, 200), 40, 80)
	interim.InterfaceID = 0x021122fffe334455
	if err := s.Write(ctx, []Record{dual(sess("d1", "dora", 0, Start, t0, 0, 0), 0, 0), interim}); err != nil {
		t.Fatal(err)
	}
	row := `SELECT in_octets::text, out_octets::text, in6_octets::text, out6_octets::text, in6_packets::text, out6_packets::text
		FROM sessions WHERE acct_session_id = 'd1'`
	if diff := cmp.Diff([][]string{{"100", "200", "40", "80", "4", "8"}}, query(t, db, row)); diff != "" {
		t.Errorf("after Start and Interim in one batch (-want +got)\n%s", diff)
	}
	if err := s.Write(ctx, []Record{dual(sess("d1", "dora", 2, Interim, t0.Add(2*time.Minute), 300, 600), 150, 300)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"300", "600", "150", "300", "15", "30"}}, query(t, db, row)); diff != "" {
		t.Errorf("after the narrow update (-want +got)\n%s", diff)
	}
	// A replayed older record does not take the counters back.
	if err := s.Write(ctx, []Record{dual(sess("d1", "dora", 1, Interim, t0.Add(time.Minute), 100, 200), 40, 80)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"300", "600", "150", "300", "15", "30"}}, query(t, db, row)); diff != "" {
		t.Errorf("after a late older record (-want +got)\n%s", diff)
	}
	if got := query(t, db, `SELECT framedinterfaceid FROM radacct WHERE acctsessionid = 'd1'`); !cmp.Equal(got, [][]string{{"211:22ff:fe33:4455"}}) {
		t.Errorf("radacct framedinterfaceid %v, want 211:22ff:fe33:4455", got)
	}
	recs := query(t, db, `SELECT seq::text, in6_octets::text, out6_octets::text FROM acct_records WHERE acct_session_id = 'd1' ORDER BY seq`)
	if diff := cmp.Diff([][]string{{"0", "0", "0"}, {"1", "40", "80"}, {"2", "150", "300"}}, recs); diff != "" {
		t.Errorf("acct_records (-want +got)\n%s", diff)
	}
	if n, err := s.CloseOrphans(ctx, "lns1", time.Now()); err != nil || n != 1 {
		t.Fatalf("CloseOrphans = %d, %v; want 1", n, err)
	}
	stop := query(t, db, `SELECT in6_octets::text, out6_octets::text, in6_packets::text, out6_packets::text FROM acct_records
		WHERE acct_session_id = 'd1' AND seq = 4294967295`)
	if diff := cmp.Diff([][]string{{"150", "300", "15", "30"}}, stop); diff != "" {
		t.Errorf("the orphan's Stop (-want +got)\n%s", diff)
	}
}

// TestL2TPv3Sessions: a session over L2TPv3 (RFC 3931) keeps its 32-bit
// Control Connection and Session IDs whole in the sessions table, above
// what a signed 32-bit column holds, with its L2TP version and pseudowire
// type; an L2TPv2 session says version 2 and no pseudowire type, also
// from a record an earlier bras spooled (L2TPVersion 0).
func TestL2TPv3Sessions(t *testing.T) {
	_, db := migrated(t)
	s := NewStore(db, "lns1")
	ctx := context.Background()
	v3 := sess("v3", "vera", 0, Start, t0, 0, 0)
	v3.TunnelID, v3.PeerTunnelID, v3.L2TPSessionID, v3.PeerSessionID = 0xfedcba98, 0x80000001, 0xffffffff, 7
	v3.L2TPVersion, v3.PWType = 3, 7
	v2 := sess("v2", "val", 0, Start, t0, 0, 0)
	v2.L2TPVersion = 2
	old := sess("v0", "otto", 0, Start, t0, 0, 0)
	if err := s.Write(ctx, []Record{v3, v2, old}); err != nil {
		t.Fatal(err)
	}
	got := query(t, db, `SELECT acct_session_id, tunnel_id::text, peer_tunnel_id::text, l2tp_session_id::text, peer_session_id::text,
		l2tp_version::text, COALESCE(pw_type, '-') FROM sessions ORDER BY 1`)
	want := [][]string{
		{"v0", "1", "0", "2", "0", "2", "-"},
		{"v2", "1", "0", "2", "0", "2", "-"},
		{"v3", "4275878552", "2147483649", "4294967295", "7", "3", "ppp"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions (-want +got)\n%s", diff)
	}
}

// TestAuthLog: outcomes added faster than one round trip each reach
// auth_log in batches, every one of them, in order; those added as the
// daemon stops are still written; beyond the queue's limit they are
// dropped and counted, never blocking the authentication path.
func TestAuthLog(t *testing.T) {
	_, db := migrated(t)
	s := NewStore(db, "lns1")
	l := NewAuthLog(s, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	const n = 2500
	for i := range n {
		l.Add(AuthOutcome{Username: fmt.Sprintf("user%d", i), Result: "Access-Accept", At: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.Stats().Written < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Added just before the stop: written by Run's last pass.
	l.Add(AuthOutcome{Username: "last", Result: "Access-Reject", Reply: "bad password", At: t0.Add(time.Hour)})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Written != n+1 || st.Dropped != 0 || st.Queued != 0 {
		t.Errorf("Stats = %+v, want %d written, none dropped or queued", st, n+1)
	}
	got := query(t, db, `SELECT count(*)::text, min(username), max(authdate)::text FROM radpostauth`)
	if want := [][]string{{fmt.Sprint(n + 1), "last", "2026-04-01 00:00:00+00"}}; !cmp.Equal(want, got) {
		t.Errorf("radpostauth count, first name, last time = %v, want %v", got, want)
	}
	order := query(t, db, `SELECT username FROM radpostauth ORDER BY id LIMIT 3`)
	if want := [][]string{{"user0"}, {"user1"}, {"user2"}}; !cmp.Equal(want, order) {
		t.Errorf("first rows %v, want %v (in the order added)", order, want)
	}

	full := NewAuthLog(s, 10, nil) // not running: nothing drains it
	for i := range 15 {
		full.Add(AuthOutcome{Username: fmt.Sprint(i), Result: "Access-Accept", At: t0})
	}
	if st := full.Stats(); st.Queued != 10 || st.Dropped != 5 {
		t.Errorf("full queue: Stats = %+v, want 10 queued and 5 dropped", st)
	}
}
