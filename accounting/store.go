package accounting

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/bras-project/bras/l2tp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Errors of the address pools.
var (
	ErrPoolExhausted = errors.New("accounting: address pool exhausted")
	ErrNotLeased     = errors.New("accounting: address not leased to this session")
)

// Sink takes accounting records, in order. Write must be idempotent: the
// spool hands the same records again after a failure or a crash.
type Sink interface {
	Write(ctx context.Context, recs []Record) error
}

// Pool hands out subscriber addresses. The Postgres-backed Store and the
// LNS's local pool both implement it.
type Pool interface {
	Allocate(ctx context.Context, pool string, sessionID string) (netip.Addr, error)
	Release(ctx context.Context, addr netip.Addr, sessionID string) error
}

// Store is the PostgreSQL side: the accounting Sink, the shared address
// pools, orphan clean-up and the authentication log of one node.
type Store struct {
	db   *DB
	node string
}

// NewStore returns the store of node (the name in sessions.node).
func NewStore(db *DB, node string) *Store { return &Store{db: db, node: node} }

var (
	_ Sink = (*Store)(nil)
	_ Pool = (*Store)(nil)
)

const insertRecords = `INSERT INTO acct_records (acct_session_id, seq, kind, node, event_time,
	in_octets, out_octets, in_packets, out_packets, terminate_cause,
	in6_octets, out6_octets, in6_packets, out6_packets)
SELECT a, b, c, d, e, f, g, h, i, NULLIF(j, 0), k, l, m, n
FROM unnest($1::text[], $2::bigint[], $3::smallint[], $4::text[], $5::timestamptz[],
	$6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::integer[],
	$11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])
	WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, i, j, k, l, m, n, ord)
ORDER BY ord
ON CONFLICT (acct_session_id, seq) DO NOTHING`

const upsertSessions = `INSERT INTO sessions (acct_session_id, node, nas_ip_address, username, realm,
	calling_station_id, nas_port_id, circuit_id, remote_id, lac,
	tunnel_id, peer_tunnel_id, l2tp_session_id, peer_session_id, framed_ip,
	start_time, update_time, stop_time, terminate_cause,
	in_octets, out_octets, in_packets, out_packets,
	rate_down_kbps, rate_up_kbps, interim_interval, class, last_seq,
	framed_ipv6_prefix, delegated_ipv6_prefix, framed_ipv6_address,
	in6_octets, out6_octets, in6_packets, out6_packets, framed_interface_id,
	l2tp_version, pw_type)
SELECT a1, a2, NULLIF(a3, '')::inet, a4, a5, a6, a7, a8, a9, a10,
	a11, a12, a13, a14, NULLIF(a15, '')::inet,
	a16, a17, a18, NULLIF(a19, 0),
	a20, a21, a22, a23, a24, a25, NULLIF(a26, 0), string_to_array(NULLIF(a27, ''), ','), a28,
	NULLIF(a29, '')::cidr, NULLIF(a30, '')::cidr, NULLIF(a31, '')::inet,
	a32, a33, a34, a35, NULLIF(a36, ''),
	a37, NULLIF(a38, '')
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
	$6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
	$11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[],
	$16::timestamptz[], $17::timestamptz[], $18::timestamptz[], $19::integer[],
	$20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[],
	$24::integer[], $25::integer[], $26::integer[], $27::text[], $28::bigint[],
	$29::text[], $30::text[], $31::text[],
	$32::bigint[], $33::bigint[], $34::bigint[], $35::bigint[], $36::text[],
	$37::smallint[], $38::text[])
	AS u(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19,
	a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, a33, a34, a35, a36, a37, a38)
ON CONFLICT (acct_session_id) DO UPDATE SET
	update_time = GREATEST(sessions.update_time, EXCLUDED.update_time),
	stop_time = CASE WHEN sessions.orphan_closed AND EXCLUDED.stop_time IS NOT NULL THEN EXCLUDED.stop_time
		ELSE COALESCE(sessions.stop_time, EXCLUDED.stop_time) END,
	terminate_cause = CASE WHEN sessions.orphan_closed AND EXCLUDED.stop_time IS NOT NULL THEN EXCLUDED.terminate_cause
		ELSE COALESCE(sessions.terminate_cause, EXCLUDED.terminate_cause) END,
	orphan_closed = sessions.orphan_closed AND EXCLUDED.stop_time IS NULL,
	in_octets = GREATEST(sessions.in_octets, EXCLUDED.in_octets),
	out_octets = GREATEST(sessions.out_octets, EXCLUDED.out_octets),
	in_packets = GREATEST(sessions.in_packets, EXCLUDED.in_packets),
	out_packets = GREATEST(sessions.out_packets, EXCLUDED.out_packets),
	in6_octets = GREATEST(sessions.in6_octets, EXCLUDED.in6_octets),
	out6_octets = GREATEST(sessions.out6_octets, EXCLUDED.out6_octets),
	in6_packets = GREATEST(sessions.in6_packets, EXCLUDED.in6_packets),
	out6_packets = GREATEST(sessions.out6_packets, EXCLUDED.out6_packets),
	framed_ip = COALESCE(EXCLUDED.framed_ip, sessions.framed_ip),
	framed_ipv6_prefix = COALESCE(EXCLUDED.framed_ipv6_prefix, sessions.framed_ipv6_prefix),
	delegated_ipv6_prefix = COALESCE(EXCLUDED.delegated_ipv6_prefix, sessions.delegated_ipv6_prefix),
	framed_ipv6_address = COALESCE(EXCLUDED.framed_ipv6_address, sessions.framed_ipv6_address),
	framed_interface_id = COALESCE(EXCLUDED.framed_interface_id, sessions.framed_interface_id),
	rate_down_kbps = CASE WHEN EXCLUDED.last_seq >= sessions.last_seq THEN EXCLUDED.rate_down_kbps ELSE sessions.rate_down_kbps END,
	rate_up_kbps = CASE WHEN EXCLUDED.last_seq >= sessions.last_seq THEN EXCLUDED.rate_up_kbps ELSE sessions.rate_up_kbps END,
	interim_interval = COALESCE(EXCLUDED.interim_interval, sessions.interim_interval),
	last_seq = GREATEST(sessions.last_seq, EXCLUDED.last_seq)`

// updateSessions moves the counters and times of sessions already in the
// table: the narrow path for Interim-Update and Stop, which carry nothing
// else that changes.
const updateSessions = `UPDATE sessions s SET
	update_time = GREATEST(s.update_time, u.t),
	stop_time = CASE WHEN s.orphan_closed AND u.st IS NOT NULL THEN u.st ELSE COALESCE(s.stop_time, u.st) END,
	terminate_cause = CASE WHEN s.orphan_closed AND u.st IS NOT NULL THEN NULLIF(u.c, 0)
		ELSE COALESCE(s.terminate_cause, NULLIF(u.c, 0)) END,
	orphan_closed = s.orphan_closed AND u.st IS NULL,
	in_octets = GREATEST(s.in_octets, u.io),
	out_octets = GREATEST(s.out_octets, u.oo),
	in_packets = GREATEST(s.in_packets, u.ip),
	out_packets = GREATEST(s.out_packets, u.op),
	in6_octets = GREATEST(s.in6_octets, u.io6),
	out6_octets = GREATEST(s.out6_octets, u.oo6),
	in6_packets = GREATEST(s.in6_packets, u.ip6),
	out6_packets = GREATEST(s.out6_packets, u.op6),
	framed_ip = COALESCE(NULLIF(u.a, '')::inet, s.framed_ip),
	framed_ipv6_prefix = COALESCE(NULLIF(u.p6, '')::cidr, s.framed_ipv6_prefix),
	delegated_ipv6_prefix = COALESCE(NULLIF(u.d6, '')::cidr, s.delegated_ipv6_prefix),
	framed_ipv6_address = COALESCE(NULLIF(u.a6, '')::inet, s.framed_ipv6_address),
	framed_interface_id = COALESCE(NULLIF(u.iid, ''), s.framed_interface_id),
	rate_down_kbps = CASE WHEN u.seq >= s.last_seq THEN u.rd ELSE s.rate_down_kbps END,
	rate_up_kbps = CASE WHEN u.seq >= s.last_seq THEN u.ru ELSE s.rate_up_kbps END,
	last_seq = GREATEST(s.last_seq, u.seq)
FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::integer[], $5::bigint[], $6::bigint[],
	$7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::integer[], $12::integer[],
	$13::text[], $14::text[], $15::text[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::text[])
	AS u(id, t, st, c, io, oo, ip, op, seq, a, rd, ru, p6, d6, a6, io6, oo6, ip6, op6, iid)
WHERE s.acct_session_id = u.id`

// Write stores records in one transaction: every record into
// acct_records (a replayed one is ignored by its key), and the sessions
// moved forward so that counters and times never go back: sessions that
// start in this batch are upserted whole, the others get the narrow
// update (falling back to the upsert if a row is missing). It is the
// Postgres Sink.
func (s *Store) Write(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	starts := map[string]bool{}
	for i := range recs {
		if recs[i].Kind == Start {
			starts[recs[i].SessionID] = true
		}
	}
	var full, narrow []Record
	for _, m := range mergeSessions(recs) {
		if starts[m.SessionID] {
			full = append(full, m)
		} else {
			narrow = append(narrow, m)
		}
	}
	rargs := recordArgs(recs)
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue(insertRecords, rargs...)
			if len(full) > 0 {
				b.Queue(upsertSessions, sessionArgs(full)...)
			}
			if len(narrow) > 0 {
				b.Queue(updateSessions, updateArgs(narrow)...)
			}
			br := tx.SendBatch(ctx, b)
			var updated int64
			for i := 0; i < b.Len(); i++ {
				tag, err := br.Exec()
				if err != nil {
					br.Close()
					return err
				}
				updated = tag.RowsAffected()
			}
			if err := br.Close(); err != nil {
				return err
			}
			if len(narrow) > 0 && updated < int64(len(narrow)) {
				// Some session has no row (its Start went elsewhere):
				// the full upsert creates it.
				_, err := tx.Exec(ctx, upsertSessions, sessionArgs(narrow)...)
				return err
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("accounting: postgres: write %d records: %w", len(recs), err)
	}
	return nil
}

func updateArgs(ss []Record) []any {
	n := len(ss)
	id, addr := make([]string, n), make([]string, n)
	t, stop := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	cause, rd, ru := make([]int32, n), make([]int32, n), make([]int32, n)
	io, oo, ip, op, seq := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	p6, d6, a6 := make([]string, n), make([]string, n), make([]string, n)
	io6, oo6, ip6, op6 := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	iid := make([]string, n)
	for i := range ss {
		r := &ss[i]
		id[i], addr[i], t[i] = r.SessionID, addrText(r.Addr), ts(r.Time)
		iid[i] = interfaceIDText(r.InterfaceID)
		io6[i], oo6[i], ip6[i], op6[i] = int64(r.In6Octets), int64(r.Out6Octets), int64(r.In6Packets), int64(r.Out6Packets)
		p6[i], d6[i], a6[i] = prefixText(r.IPv6Prefix), prefixText(r.DelegatedPrefix), addrText(r.IPv6Address)
		if r.Kind == Stop {
			stop[i], cause[i] = ts(r.Time), int32(r.Cause)
		}
		io[i], oo[i], ip[i], op[i], seq[i] = int64(r.InOctets), int64(r.OutOctets), int64(r.InPackets), int64(r.OutPackets), int64(r.Seq)
		rd[i], ru[i] = int32(r.RateDownKbps), int32(r.RateUpKbps)
	}
	return []any{id, t, stop, cause, io, oo, ip, op, seq, addr, rd, ru, p6, d6, a6, io6, oo6, ip6, op6, iid}
}

// interfaceIDText writes an interface identifier as FreeRADIUS prints a
// Framed-Interface-Id (RFC 3162 section 2.1): four groups of hex digits;
// "" for none.
func interfaceIDText(id uint64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("%x:%x:%x:%x", id>>48, id>>32&0xffff, id>>16&0xffff, id&0xffff)
}

func prefixText(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.Masked().String()
}

func ts(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()} }

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func recordArgs(recs []Record) []any {
	n := len(recs)
	var (
		id, node       = make([]string, n), make([]string, n)
		seq            = make([]int64, n)
		kind           = make([]int16, n)
		at             = make([]pgtype.Timestamptz, n)
		io, oo, ip, op = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		cause          = make([]int32, n)
		io6, oo6       = make([]int64, n), make([]int64, n)
		ip6, op6       = make([]int64, n), make([]int64, n)
	)
	for i := range recs {
		r := &recs[i]
		id[i], node[i], seq[i], kind[i], at[i] = r.SessionID, r.Node, int64(r.Seq), int16(r.Kind), ts(r.Time)
		io[i], oo[i], ip[i], op[i] = int64(r.InOctets), int64(r.OutOctets), int64(r.InPackets), int64(r.OutPackets)
		io6[i], oo6[i], ip6[i], op6[i] = int64(r.In6Octets), int64(r.Out6Octets), int64(r.In6Packets), int64(r.Out6Packets)
		if r.Kind == Stop {
			cause[i] = int32(r.Cause)
		}
	}
	return []any{id, seq, kind, node, at, io, oo, ip, op, cause, io6, oo6, ip6, op6}
}

// mergeSessions folds the records of a batch into one row per session
// (a statement may not upsert the same row twice), keeping the batch's
// first-seen order.
func mergeSessions(recs []Record) []Record {
	idx := make(map[string]int, len(recs))
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		i, ok := idx[r.SessionID]
		if !ok {
			idx[r.SessionID] = len(out)
			r.Class = append([][]byte(nil), r.Class...)
			if r.Kind != Stop {
				r.Cause = 0
			}
			out = append(out, r)
			continue
		}
		m := &out[i]
		prev := *m
		if r.Seq >= prev.Seq {
			*m = r
			m.Class = append([][]byte(nil), r.Class...)
		} else {
			m.Seq = prev.Seq
		}
		if !prev.Started.IsZero() && (m.Started.IsZero() || prev.Started.Before(m.Started)) {
			m.Started = prev.Started
		}
		// IPv6 may come up after the Start; a record without it keeps
		// what an earlier one said.
		if !m.IPv6Prefix.IsValid() {
			m.IPv6Prefix = prev.IPv6Prefix
		}
		if !m.DelegatedPrefix.IsValid() {
			m.DelegatedPrefix = prev.DelegatedPrefix
		}
		if !m.IPv6Address.IsValid() {
			m.IPv6Address = prev.IPv6Address
		}
		if m.InterfaceID == 0 {
			m.InterfaceID = prev.InterfaceID
		}
		if prev.Time.After(m.Time) {
			m.Time = prev.Time
		}
		m.InOctets = max(prev.InOctets, r.InOctets)
		m.OutOctets = max(prev.OutOctets, r.OutOctets)
		m.InPackets = max(prev.InPackets, r.InPackets)
		m.OutPackets = max(prev.OutPackets, r.OutPackets)
		m.In6Octets = max(prev.In6Octets, r.In6Octets)
		m.Out6Octets = max(prev.Out6Octets, r.Out6Octets)
		m.In6Packets = max(prev.In6Packets, r.In6Packets)
		m.Out6Packets = max(prev.Out6Packets, r.Out6Packets)
		switch {
		case prev.Kind == Stop:
			m.Kind, m.Cause = Stop, prev.Cause
		case r.Kind == Stop:
			m.Kind, m.Cause = Stop, r.Cause
		default:
			m.Cause = 0
		}
	}
	return out
}

func sessionArgs(ss []Record) []any {
	n := len(ss)
	txt := make([][]string, 11) // 0 id,1 node,2 nasip,3 user,4 realm,5 calling,6 portid,7 circuit,8 remote,9 lac,10 addr
	for i := range txt {
		txt[i] = make([]string, n)
	}
	ids := make([][]int64, 4)
	for i := range ids {
		ids[i] = make([]int64, n)
	}
	version, pw := make([]int16, n), make([]string, n)
	start, upd, stop := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	cause, down, up, interim := make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	io, oo, ip, op, seq := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	class := make([]string, n)
	p6, d6, a6 := make([]string, n), make([]string, n), make([]string, n)
	io6, oo6, ip6, op6 := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	iid := make([]string, n)
	for i := range ss {
		r := &ss[i]
		io6[i], oo6[i], ip6[i], op6[i] = int64(r.In6Octets), int64(r.Out6Octets), int64(r.In6Packets), int64(r.Out6Packets)
		iid[i] = interfaceIDText(r.InterfaceID)
		p6[i], d6[i], a6[i] = prefixText(r.IPv6Prefix), prefixText(r.DelegatedPrefix), addrText(r.IPv6Address)
		txt[0][i], txt[1][i], txt[2][i], txt[3][i], txt[4][i] = r.SessionID, r.Node, addrText(r.NASIP), r.Username, r.Realm
		txt[5][i], txt[6][i], txt[7][i], txt[8][i], txt[9][i] = r.CallingStationID, r.NASPortID, r.CircuitID, r.RemoteID, r.LAC
		txt[10][i] = addrText(r.Addr)
		ids[0][i], ids[1][i], ids[2][i], ids[3][i] = int64(r.TunnelID), int64(r.PeerTunnelID), int64(r.L2TPSessionID), int64(r.PeerSessionID)
		version[i] = max(int16(r.L2TPVersion), 2) // 0: a record of an earlier bras, L2TPv2's
		if r.PWType != 0 {
			pw[i] = strings.ToLower(l2tp.PWType(r.PWType).String())
		}
		st := r.Started
		if st.IsZero() {
			st = r.Time
		}
		start[i], upd[i] = ts(st), ts(r.Time)
		if r.Kind == Stop {
			stop[i], cause[i] = ts(r.Time), int32(r.Cause)
		}
		io[i], oo[i], ip[i], op[i] = int64(r.InOctets), int64(r.OutOctets), int64(r.InPackets), int64(r.OutPackets)
		down[i], up[i], interim[i], seq[i] = int32(r.RateDownKbps), int32(r.RateUpKbps), int32(r.InterimSeconds), int64(r.Seq)
		if len(r.Class) > 0 {
			h := make([]string, len(r.Class))
			for j, c := range r.Class {
				h[j] = hex.EncodeToString(c)
			}
			class[i] = strings.Join(h, ",")
		}
	}
	return []any{txt[0], txt[1], txt[2], txt[3], txt[4], txt[5], txt[6], txt[7], txt[8], txt[9],
		ids[0], ids[1], ids[2], ids[3], txt[10],
		start, upd, stop, cause, io, oo, ip, op, down, up, interim, class, seq, p6, d6, a6, io6, oo6, ip6, op6, iid, version, pw}
}

// OrphanSeq is the Seq of the Stop record CloseOrphans writes: out of the
// range a session reaches, so it never takes the key of a real record that
// is still on its way from a spool.
const OrphanSeq = 1<<32 - 1

// CloseOrphans closes the sessions this node left open when it stopped
// without sending Stop (a crash, a power cut): each gets a Stop record
// (Seq OrphanSeq) with Acct-Terminate-Cause NAS-Reboot (RFC 2866 section
// 5.10), its last known counters and the time it was last known alive (its
// last update). Only sessions started before bootedAt are touched, so
// sessions of the new run are safe; their pool leases are freed too. Run
// it once the spool of the last run has been replayed
// (Accountant.WaitReplayed): a session whose Start was still in the spool
// has no row to close yet. Its IPv6 prefix leases are freed with the
// addresses. Should a real Stop of a closed session arrive
// later anyway, it replaces the NAS-Reboot stop time and cause. It returns
// how many sessions it closed.
func (s *Store) CloseOrphans(ctx context.Context, node string, bootedAt time.Time) (int, error) {
	var n int
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `WITH closed AS (
	UPDATE sessions SET stop_time = COALESCE(update_time, start_time), terminate_cause = 11, orphan_closed = true
	WHERE node = $1 AND stop_time IS NULL AND start_time < $2
	RETURNING acct_session_id, node, stop_time, in_octets, out_octets, in_packets, out_packets,
		in6_octets, out6_octets, in6_packets, out6_packets)
INSERT INTO acct_records (acct_session_id, seq, kind, node, event_time, in_octets, out_octets, in_packets, out_packets, terminate_cause,
	in6_octets, out6_octets, in6_packets, out6_packets)
SELECT acct_session_id, $3, 2, node, stop_time, in_octets, out_octets, in_packets, out_packets, 11,
	in6_octets, out6_octets, in6_packets, out6_packets FROM closed
ON CONFLICT (acct_session_id, seq) DO NOTHING
RETURNING acct_session_id`, node, bootedAt, int64(OrphanSeq))
			if err != nil {
				return err
			}
			for rows.Next() {
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE pool_addresses SET session_id = NULL, node = NULL, released_at = now()
WHERE node = $1 AND leased_at < $2`, node, bootedAt); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE ipv6_leases SET session_id = NULL, node = NULL, released_at = now()
WHERE node = $1 AND session_id IS NOT NULL AND leased_at < $2`, node, bootedAt)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("accounting: close orphaned sessions of %s: %w", node, err)
	}
	return n, nil
}

// AuthOutcome is one authentication result, like a row of FreeRADIUS's
// radpostauth.
type AuthOutcome struct {
	Username         string
	Result           string // "Access-Accept", "Access-Reject", ...
	Reply            string // Reply-Message or a reason
	CallingStationID string
	CalledStationID  string
	Class            []byte
	At               time.Time
}

// RecordAuth logs an authentication outcome (result is "Access-Accept",
// "Access-Reject", ...; reply the Reply-Message or a reason); the
// radpostauth view shows it as FreeRADIUS would.
func (s *Store) RecordAuth(ctx context.Context, username, result, reply string, at time.Time) error {
	return s.RecordAuthOutcome(ctx, AuthOutcome{Username: username, Result: result, Reply: reply, At: at})
}

// RecordAuthOutcome is RecordAuth with every field.
func (s *Store) RecordAuthOutcome(ctx context.Context, o AuthOutcome) error {
	return s.RecordAuthOutcomes(ctx, []AuthOutcome{o})
}

// AddPool adds the host addresses of prefix (without the network and
// broadcast addresses of an IPv4 prefix shorter than /31) to pool.
// Addresses already present are left alone.
func (s *Store) AddPool(ctx context.Context, pool string, prefix netip.Prefix) (int, error) {
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() || prefix.Bits() < 8 {
		return 0, fmt.Errorf("accounting: pool %s: want an IPv4 prefix of /8 or longer, got %s", pool, prefix)
	}
	size := int64(1) << (32 - prefix.Bits())
	first, last := int64(0), size-1
	if prefix.Bits() < 31 {
		first, last = 1, size-2
	}
	var n int64
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `INSERT INTO pool_addresses (pool, addr)
SELECT $1, $2::inet + g FROM generate_series($3::bigint, $4::bigint) g ON CONFLICT (addr) DO NOTHING`,
			pool, prefix.Addr().String(), first, last)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("accounting: add pool %s %s: %w", pool, prefix, err)
	}
	return int(n), nil
}

// Allocate leases a free address of pool to sessionID, or returns the one
// it already holds. Rows are claimed with FOR UPDATE SKIP LOCKED, and an
// address is a primary key with one session column, so no two sessions on
// any nodes ever hold the same address. The least recently released
// address goes first, which keeps abuse reports unambiguous.
func (s *Store) Allocate(ctx context.Context, pool string, sessionID string) (netip.Addr, error) {
	var txt string
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `WITH held AS (
	SELECT addr FROM pool_addresses WHERE pool = $1 AND session_id = $2
), pick AS (
	SELECT addr FROM pool_addresses
	WHERE pool = $1 AND session_id IS NULL AND NOT EXISTS (SELECT 1 FROM held)
	ORDER BY released_at NULLS FIRST, addr
	LIMIT 1 FOR UPDATE SKIP LOCKED
), taken AS (
	UPDATE pool_addresses p SET session_id = $2, node = $3, leased_at = now()
	FROM pick WHERE p.addr = pick.addr AND p.session_id IS NULL
	RETURNING p.addr
)
SELECT host(addr) FROM taken UNION ALL SELECT host(addr) FROM held`, pool, sessionID, s.node).Scan(&txt)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return netip.Addr{}, fmt.Errorf("%w: %s", ErrPoolExhausted, pool)
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("accounting: allocate from %s: %w", pool, err)
	}
	a, err := netip.ParseAddr(txt)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("accounting: allocate from %s: %w", pool, err)
	}
	return a, nil
}

// Release returns addr to its pool. Releasing an address the session does
// not hold is ErrNotLeased (and changes nothing).
func (s *Store) Release(ctx context.Context, addr netip.Addr, sessionID string) error {
	var n int64
	err := s.db.With(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `UPDATE pool_addresses SET session_id = NULL, node = NULL, released_at = now()
WHERE addr = $1::inet AND session_id = $2`, addr.String(), sessionID)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("accounting: release %s: %w", addr, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s, %s", ErrNotLeased, addr, sessionID)
	}
	return nil
}
