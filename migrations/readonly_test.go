package migrations

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// migratedConn returns a connection to a fresh database with every
// migration applied.
func migratedConn(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	if _, err := Up(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCompatibilityViewsReadOnly: writes through radacct and radpostauth
// are refused with SQLSTATE 42501 (the stale-session cleanup of billing
// tools must not close sessions bras has up); the reads FreeRADIUS's and
// daloRADIUS's PostgreSQL queries make keep working.
func TestCompatibilityViewsReadOnly(t *testing.T) {
	c := migratedConn(t)
	ctx := context.Background()
	if _, err := c.Exec(ctx, `
INSERT INTO sessions (acct_session_id, node, username, calling_station_id, circuit_id, framed_ip, start_time)
VALUES ('s-open', 'n1', 'alice', '02:00:00:00:00:01', 'dslam1 atm 1/1/1:8.35', '100.64.0.1', now() - interval '1 hour');
INSERT INTO auth_log (username, result, auth_time) VALUES ('alice', 'Access-Accept', now());`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		// The usual stale-session cleanup.
		`UPDATE radacct SET acctstoptime = now(), acctterminatecause = 'Admin-Reset' WHERE acctstoptime IS NULL AND acctstarttime < now()`,
		`UPDATE radacct SET acctstoptime = now() WHERE acctsessionid = 's-open'`,
		`INSERT INTO radacct (acctsessionid, username, acctstarttime) VALUES ('forged', 'mallory', now())`,
		`DELETE FROM radacct WHERE username = 'alice'`,
		`UPDATE radpostauth SET reply = 'Access-Reject'`,
		`INSERT INTO radpostauth (username, reply, authdate) VALUES ('mallory', 'Access-Accept', now())`,
		`DELETE FROM radpostauth`,
	} {
		_, err := c.Exec(ctx, q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("%s: err %v, want SQLSTATE 42501 (insufficient_privilege)", q, err)
		}
	}
	var stop *string
	if err := c.QueryRow(ctx, `SELECT stop_time::text FROM sessions WHERE acct_session_id = 's-open'`).Scan(&stop); err != nil || stop != nil {
		t.Errorf("the open session has stop time %v (%v), want still open", stop, err)
	}
	// Reads as FreeRADIUS (raddb/mods-config/sql/main/postgresql/queries.conf)
	// and daloRADIUS make them.
	for _, q := range []string{
		`SELECT COUNT(*) FROM radacct WHERE UserName = 'alice' AND AcctStopTime IS NULL`,
		`SELECT RadAcctId, AcctSessionId, UserName, NASIPAddress, NASPortId, FramedIPAddress, CallingStationId, FramedProtocol
			FROM radacct WHERE UserName = 'alice' AND AcctStopTime IS NULL`,
		`SELECT username, framedipaddress, callingstationid, acctstarttime, acctsessiontime, nasipaddress, calledstationid,
			acctsessionid, acctinputoctets, acctoutputoctets FROM radacct WHERE acctstoptime IS NULL ORDER BY acctstarttime DESC LIMIT 10`,
		`SELECT radacctid, username, framedipaddress, acctstarttime, acctstoptime, acctsessiontime, acctinputoctets,
			acctoutputoctets, acctterminatecause FROM radacct WHERE username = 'alice' ORDER BY radacctid`,
		`SELECT SUM(acctsessiontime), SUM(acctinputoctets), SUM(acctoutputoctets) FROM radacct WHERE username = 'alice'`,
		`SELECT id, username, pass, reply, authdate FROM radpostauth WHERE username = 'alice' ORDER BY id DESC LIMIT 5`,
	} {
		rows, err := c.Query(ctx, q)
		if err == nil {
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			err = rows.Err()
			if err == nil && n != 1 {
				t.Errorf("%s: %d rows, want 1", q, n)
			}
		}
		if err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// TestOperatorLookupsUseIndexes: on a table with enough rows for the
// planner to care, the lookups by Calling-Station-Id, access line
// (Agent-Circuit-Id, Agent-Remote-Id: RFC 4679) and framed address are
// index scans, through radacct as through sessions.
func TestOperatorLookupsUseIndexes(t *testing.T) {
	c := migratedConn(t)
	ctx := context.Background()
	if _, err := c.Exec(ctx, `
INSERT INTO sessions (acct_session_id, node, username, calling_station_id, circuit_id, remote_id, framed_ip, start_time, stop_time)
SELECT 's' || i, 'n1', 'user' || (i % 5000),
	'02:00:' || lpad(to_hex(i / 65536), 2, '0') || ':' || lpad(to_hex(i / 256 % 256), 2, '0') || ':' || lpad(to_hex(i % 256), 2, '0') || ':01',
	'olt1 eth 1/' || (i % 8000), 'cpe' || (i % 8000),
	'100.64.0.0'::inet + (i % 60000), now() - i * interval '1 minute', now() - i * interval '1 minute' + interval '30 seconds'
FROM generate_series(1, 50000) i;
ANALYZE sessions;`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ query, index string }{
		{`SELECT * FROM radacct WHERE callingstationid = '02:00:00:01:02:01' ORDER BY acctstarttime`, "sessions_calling_start_idx"},
		{`SELECT * FROM radacct WHERE framedipaddress = '100.64.1.2' AND acctstarttime > now() - interval '1 day'`, "sessions_ip_idx"},
		{`SELECT acct_session_id FROM sessions WHERE circuit_id = 'olt1 eth 1/42' ORDER BY start_time DESC`, "sessions_circuit_start_idx"},
		{`SELECT acct_session_id FROM sessions WHERE remote_id = 'cpe42'`, "sessions_remote_start_idx"},
		{`SELECT * FROM radacct WHERE acctsessionid = 's42'`, "sessions_acct_session_id_key"},
	} {
		rows, err := c.Query(ctx, "EXPLAIN "+tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, "Index Scan") || !strings.Contains(p, tc.index) {
			t.Errorf("%s: plan does not scan %s:\n%s", tc.query, tc.index, p)
		}
	}
}
