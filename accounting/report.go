package accounting

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bras-project/bras/internal/table"
	"github.com/jackc/pgx/v5"
)

// ErrBadReport is wrapped by every error about a report's name or
// parameters (the HTTP API answers it with 400).
var ErrBadReport = errors.New("accounting: bad report request")

// Report names accepted by Reports.Run (and bras report, and the API):
//
//	usage     sessions, online seconds, octets in and out per subscriber and
//	          period (By day or month) in [From, To), optionally one User
//	sessions  sessions online in [From, To), or with Active the open ones
//	ip        who had address Addr (IPv4, or IPv6 in a session's address,
//	          /64 or delegated prefix) at time At (abuse handling)
//	top       top talkers (octets in + out) in [From, To), Limit rows
//	causes    Acct-Terminate-Cause breakdown of sessions stopped in [From, To)
//	lac       usage per LAC (wholesale) in [From, To)
//	realm     usage per realm (wholesale) in [From, To)
//
// Octets are split between periods by the accounting records: the increase
// since the previous record of a session is counted in the period of the
// record that reports it, so a session spanning midnight puts the traffic
// of its interims before midnight into the first day. Online time is split
// exactly at the period boundary. An open session counts up to its last
// record. Periods are in UTC.
var ReportNames = []string{"usage", "sessions", "ip", "top", "causes", "lac", "realm"}

// ReportParams are the parameters of a report; which ones a report reads
// is listed at ReportNames.
type ReportParams struct {
	From, To time.Time
	User     string
	By       string // "day" or "month" (usage)
	Addr     netip.Addr
	At       time.Time
	Active   bool
	Node     string
	Limit    int
}

// ParseTime accepts RFC 3339, "2006-01-02T15:04:05" (UTC) and
// "2006-01-02" (UTC midnight).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: bad time %q (want 2006-01-02 or RFC 3339)", ErrBadReport, s)
}

// ParseReportParams reads from, to, user, by, addr, at, active, node and
// limit from a query string (the HTTP API's).
func ParseReportParams(v url.Values) (ReportParams, error) {
	var p ReportParams
	var err error
	for _, f := range []struct {
		key string
		dst *time.Time
	}{{"from", &p.From}, {"to", &p.To}, {"at", &p.At}} {
		if s := v.Get(f.key); s != "" {
			if *f.dst, err = ParseTime(s); err != nil {
				return p, fmt.Errorf("%s: %w", f.key, err)
			}
		}
	}
	p.User, p.By, p.Node = v.Get("user"), v.Get("by"), v.Get("node")
	if s := v.Get("addr"); s != "" {
		if p.Addr, err = netip.ParseAddr(s); err != nil {
			return p, fmt.Errorf("%w: addr: %v", ErrBadReport, err)
		}
	}
	if s := v.Get("active"); s != "" {
		if p.Active, err = strconv.ParseBool(s); err != nil {
			return p, fmt.Errorf("%w: active: %v", ErrBadReport, err)
		}
	}
	if s := v.Get("limit"); s != "" {
		if p.Limit, err = strconv.Atoi(s); err != nil || p.Limit < 0 {
			return p, fmt.Errorf("%w: limit: want a positive number, got %q", ErrBadReport, s)
		}
	}
	return p, nil
}

// Reports runs the billing reports against the store's database.
type Reports struct {
	db  *DB
	now func() time.Time
}

// NewReports returns the reports of db.
func NewReports(db *DB) *Reports { return &Reports{db: db, now: time.Now} }

// Run runs report name (one of ReportNames) and returns its rows.
func (r *Reports) Run(ctx context.Context, name string, p ReportParams) (*table.Table, error) {
	now := r.now().UTC()
	if p.To.IsZero() {
		p.To = now
	}
	if p.From.IsZero() {
		p.From = time.Date(p.To.Year(), p.To.Month(), 1, 0, 0, 0, 0, time.UTC)
		if !p.From.Before(p.To) {
			p.From = p.From.AddDate(0, -1, 0)
		}
	}
	if !p.From.Before(p.To) {
		return nil, fmt.Errorf("%w: from %s is not before to %s", ErrBadReport, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
	}
	if p.Limit == 0 {
		p.Limit = 10
	}
	switch name {
	case "usage":
		by := p.By
		if by == "" {
			by = "day"
		}
		if by != "day" && by != "month" {
			return nil, fmt.Errorf("%w: by %q (want day or month)", ErrBadReport, p.By)
		}
		return r.usage(ctx, p, "c.username", "user", by)
	case "lac":
		return r.usage(ctx, p, "c.lac", "lac", "")
	case "realm":
		return r.usage(ctx, p, "c.realm", "realm", "")
	case "top":
		return r.top(ctx, p)
	case "sessions":
		return r.sessions(ctx, p)
	case "ip":
		if !p.Addr.IsValid() {
			return nil, fmt.Errorf("%w: ip needs addr", ErrBadReport)
		}
		if p.At.IsZero() {
			p.At = now
		}
		return r.query(ctx, []string{"addr", "session", "user", "calling_station", "nas_port_id", "circuit_id", "remote_id", "node", "lac", "start", "stop"},
			// An IPv6 address is found in the session's DHCPv6 address, its
			// delegated prefix or its /64; addr then names which.
			`SELECT CASE WHEN family($1::inet) = 4 THEN host(framed_ip)
		WHEN framed_ipv6_address = $1::inet THEN host(framed_ipv6_address)
		WHEN delegated_ipv6_prefix >>= $1::inet THEN delegated_ipv6_prefix::text
		ELSE framed_ipv6_prefix::text END,
	acct_session_id, username, calling_station_id, nas_port_id, circuit_id, remote_id, node, lac,
	`+tsText("start_time")+`, COALESCE(`+tsText("stop_time")+`, '')
FROM sessions WHERE (framed_ip = $1::inet OR framed_ipv6_address = $1::inet
		OR framed_ipv6_prefix >>= $1::inet OR delegated_ipv6_prefix >>= $1::inet)
	AND start_time <= $2 AND (stop_time IS NULL OR stop_time >= $2)
ORDER BY start_time`, p.Addr.String(), p.At)
	case "causes":
		return r.query(ctx, []string{"cause", "sessions", "percent"},
			`SELECT COALESCE(bras_terminate_cause(terminate_cause), 'none'), count(*)::text,
	to_char(100.0 * count(*) / sum(count(*)) OVER (), 'FM990.0')
FROM sessions WHERE stop_time >= $1 AND stop_time < $2 AND ($3::text = '' OR node = $3)
GROUP BY terminate_cause ORDER BY count(*) DESC, 1`, p.From, p.To, p.Node)
	}
	return nil, fmt.Errorf("%w: unknown report %q (want one of %s)", ErrBadReport, name, strings.Join(ReportNames, ", "))
}

func tsText(col string) string { return `to_char(` + col + `, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')` }

// query runs q in UTC and returns its columns as text.
func (r *Reports) query(ctx context.Context, cols []string, q string, args ...any) (*table.Table, error) {
	t := &table.Table{Columns: cols, Rows: [][]string{}}
	err := r.db.With(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL TIME ZONE 'UTC'`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				vals := make([]*string, len(cols))
				dst := make([]any, len(cols))
				for i := range vals {
					dst[i] = &vals[i]
				}
				if err := rows.Scan(dst...); err != nil {
					return err
				}
				row := make([]string, len(cols))
				for i, v := range vals {
					if v != nil {
						row[i] = *v
					}
				}
				t.Rows = append(t.Rows, row)
			}
			return rows.Err()
		})
	})
	if err != nil {
		return nil, fmt.Errorf("accounting: report: %w", err)
	}
	return t, nil
}

// usageSQL groups by key (a column of c, from a fixed list) and period.
const usageSQL = `WITH periods AS (
	%[2]s
), cand AS (
	SELECT s.*, COALESCE(s.stop_time, GREATEST(s.update_time, s.start_time)) AS sess_end
	FROM sessions s
	WHERE s.start_time < $2 AND COALESCE(s.stop_time, GREATEST(s.update_time, s.start_time)) >= $1
		AND ($3::text = '' OR s.username = $3)
), online AS (
	SELECT %[1]s AS key, per.pstart, count(*) AS sessions,
		sum(GREATEST(0, EXTRACT(EPOCH FROM LEAST(c.sess_end, per.cend) - GREATEST(c.start_time, per.cstart)))) AS secs
	FROM cand c JOIN periods per ON c.start_time < per.cend AND c.sess_end >= per.cstart
	GROUP BY 1, 2
), deltas AS (
	SELECT %[1]s AS key, r.event_time,
		GREATEST(0, r.in_octets - COALESCE(lag(r.in_octets) OVER w, 0)) AS din,
		GREATEST(0, r.out_octets - COALESCE(lag(r.out_octets) OVER w, 0)) AS dout,
		GREATEST(0, r.in6_octets - COALESCE(lag(r.in6_octets) OVER w, 0)) AS din6,
		GREATEST(0, r.out6_octets - COALESCE(lag(r.out6_octets) OVER w, 0)) AS dout6
	FROM acct_records r JOIN cand c USING (acct_session_id)
	WINDOW w AS (PARTITION BY r.acct_session_id ORDER BY r.seq)
), traffic AS (
	SELECT d.key, per.pstart, sum(d.din) AS din, sum(d.dout) AS dout, sum(d.din6) AS din6, sum(d.dout6) AS dout6
	FROM deltas d JOIN periods per ON d.event_time >= per.cstart AND d.event_time < per.cend
	GROUP BY 1, 2
)
SELECT COALESCE(o.key, t.key), to_char(COALESCE(o.pstart, t.pstart), $4::text),
	COALESCE(o.sessions, 0)::text, round(COALESCE(o.secs, 0))::bigint::text,
	COALESCE(t.din, 0)::text, COALESCE(t.dout, 0)::text,
	COALESCE(t.din6, 0)::text, COALESCE(t.dout6, 0)::text
FROM online o FULL JOIN traffic t ON o.key = t.key AND o.pstart = t.pstart
ORDER BY 1, 2`

const (
	periodsBy = `SELECT p AS pstart, GREATEST(p, $1::timestamptz) AS cstart, LEAST(p + ('1 ' || $5::text)::interval, $2::timestamptz) AS cend
	FROM generate_series(date_trunc($5::text, $1::timestamptz), $2::timestamptz - interval '1 microsecond', ('1 ' || $5::text)::interval) p`
	periodsAll = `SELECT $1::timestamptz AS pstart, $1::timestamptz AS cstart, $2::timestamptz AS cend WHERE $5::text = ''`
)

func (r *Reports) usage(ctx context.Context, p ReportParams, key, keyName, by string) (*table.Table, error) {
	periods, format := periodsAll, "YYYY-MM-DD"
	switch by {
	case "day":
		periods = periodsBy
	case "month":
		periods, format = periodsBy, "YYYY-MM"
	}
	// in6_octets and out6_octets are the IPv6 share of in_octets and
	// out_octets.
	t, err := r.query(ctx, []string{keyName, "period", "sessions", "online_seconds", "in_octets", "out_octets", "in6_octets", "out6_octets"},
		fmt.Sprintf(usageSQL, key, periods), p.From, p.To, p.User, format, by)
	if err != nil {
		return nil, err
	}
	if by == "" { // one period: the range itself, no column for it
		t.Columns = append(t.Columns[:1], t.Columns[2:]...)
		for i, row := range t.Rows {
			t.Rows[i] = append(row[:1], row[2:]...)
		}
	}
	return t, nil
}

func (r *Reports) top(ctx context.Context, p ReportParams) (*table.Table, error) {
	u, err := r.usage(ctx, p, "c.username", "user", "")
	if err != nil {
		return nil, err
	}
	type row struct {
		cells   []string
		in, out uint64
	}
	rows := make([]row, 0, len(u.Rows))
	for _, c := range u.Rows {
		in, _ := strconv.ParseUint(c[3], 10, 64)
		out, _ := strconv.ParseUint(c[4], 10, 64)
		rows = append(rows, row{c, in, out})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].in+rows[i].out > rows[j].in+rows[j].out })
	t := &table.Table{Columns: []string{"rank", "user", "total_octets", "in_octets", "out_octets", "sessions", "online_seconds"}, Rows: [][]string{}}
	for i, rw := range rows {
		if i >= p.Limit {
			break
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(i + 1), rw.cells[0], strconv.FormatUint(rw.in+rw.out, 10),
			rw.cells[3], rw.cells[4], rw.cells[1], rw.cells[2]})
	}
	return t, nil
}

func (r *Reports) sessions(ctx context.Context, p ReportParams) (*table.Table, error) {
	cols := []string{"session", "node", "user", "addr", "calling_station", "lac", "tunnel_id", "l2tp_session_id",
		"start", "stop", "cause", "online_seconds", "in_octets", "out_octets", "in6_octets", "out6_octets"}
	where := `start_time < $2 AND COALESCE(stop_time, GREATEST(update_time, start_time)) >= $1`
	if p.Active {
		where = `stop_time IS NULL AND $1::timestamptz IS NOT NULL AND $2::timestamptz IS NOT NULL`
	}
	return r.query(ctx, cols, `SELECT acct_session_id, node, username, COALESCE(host(framed_ip), ''), calling_station_id, lac,
	tunnel_id::text, l2tp_session_id::text, `+tsText("start_time")+`, COALESCE(`+tsText("stop_time")+`, ''),
	COALESCE(bras_terminate_cause(terminate_cause), ''),
	round(EXTRACT(EPOCH FROM COALESCE(stop_time, GREATEST(update_time, start_time)) - start_time))::bigint::text,
	in_octets::text, out_octets::text, in6_octets::text, out6_octets::text
FROM sessions WHERE `+where+` AND ($3::text = '' OR username = $3) AND ($4::text = '' OR node = $4)
ORDER BY start_time, acct_session_id`, p.From, p.To, p.User, p.Node)
}
