package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/bras-project/bras/internal/table"
)

// ErrNotFound is returned by a Backend or Reports for an unknown session,
// tunnel or report; the API answers 404.
var ErrNotFound = errors.New("api: not found")

// CauseAdminReset is the disconnect cause of DELETE /api/v1/sessions/{id},
// Acct-Terminate-Cause Admin-Reset (RFC 2866, section 5.10).
const CauseAdminReset = "admin-reset"

// Backend is what the daemon (LNS or LAC) gives the API.
type Backend interface {
	// Sessions lists the sessions that match f (f.Limit > 0 caps the count).
	Sessions(ctx context.Context, f SessionFilter) ([]Session, error)
	// Session returns one session by its Acct-Session-Id, or ErrNotFound.
	Session(ctx context.Context, id string) (Session, error)
	// Disconnect ends a session with the given cause (CauseAdminReset),
	// or returns ErrNotFound.
	Disconnect(ctx context.Context, id string, cause string) error
	// Tunnels lists the L2TP tunnels.
	Tunnels(ctx context.Context) ([]Tunnel, error)
}

// Reports runs the named billing reports (accounting.Reports satisfies it
// through a small adapter). An unknown name is ErrNotFound (404); bad
// parameters are wrapped with BadRequest (400).
type Reports interface {
	Report(ctx context.Context, name string, q url.Values) (*table.Table, error)
}

// ReportsFunc adapts a function, such as a closure over accounting's
// report runner that maps its errors to ErrNotFound and BadRequest, to
// Reports.
type ReportsFunc func(ctx context.Context, name string, q url.Values) (*table.Table, error)

// Report implements Reports.
func (f ReportsFunc) Report(ctx context.Context, name string, q url.Values) (*table.Table, error) {
	return f(ctx, name, q)
}

// BadRequestError marks an error caused by the request itself: the API
// answers 400 with its message.
type BadRequestError struct{ Err error }

func (e *BadRequestError) Error() string { return e.Err.Error() }
func (e *BadRequestError) Unwrap() error { return e.Err }

// BadRequest wraps err so that the API answers 400 with its message.
func BadRequest(err error) error { return &BadRequestError{Err: err} }

// Session is one subscriber session as the API shows it. Durations are
// rendered in JSON as whole seconds.
type Session struct {
	ID               string        `json:"id"` // Acct-Session-Id
	User             string        `json:"user"`
	Realm            string        `json:"realm,omitempty"`
	State            string        `json:"state"`
	MAC              string        `json:"mac,omitempty"`
	CallingStationID string        `json:"calling_station_id,omitempty"`
	CircuitID        string        `json:"circuit_id,omitempty"` // Agent-Circuit-Id (RFC 4679 section 3)
	RemoteID         string        `json:"remote_id,omitempty"`  // Agent-Remote-Id
	LAC              string        `json:"lac,omitempty"`        // the LAC's host name, on the LNS
	LACAddr          string        `json:"lac_addr,omitempty"`   // the LAC's address, on the LNS
	Addr             netip.Addr    `json:"addr"`
	IPv6Prefix       *netip.Prefix `json:"ipv6_prefix,omitempty"`      // the /64 on the link (RFC 3162 Framed-IPv6-Prefix)
	DelegatedPrefix  *netip.Prefix `json:"delegated_prefix,omitempty"` // RFC 4818
	TunnelID         uint16        `json:"tunnel_id"`
	SessionID        uint16        `json:"session_id"`
	PeerTunnelID     uint16        `json:"peer_tunnel_id"`
	PeerSessionID    uint16        `json:"peer_session_id"`
	Started          time.Time     `json:"started"`
	InOctets         uint64        `json:"in_octets"`
	OutOctets        uint64        `json:"out_octets"`
	InPackets        uint64        `json:"in_packets"`
	OutPackets       uint64        `json:"out_packets"`
	// The IPv6 share of the counters above (the LNS counts it; the
	// LAC does not).
	In6Octets      uint64        `json:"in6_octets,omitempty"`
	Out6Octets     uint64        `json:"out6_octets,omitempty"`
	RateDownKbps   uint32        `json:"rate_down_kbps,omitempty"`
	RateUpKbps     uint32        `json:"rate_up_kbps,omitempty"`
	SessionTimeout time.Duration `json:"session_timeout"`
	IdleTimeout    time.Duration `json:"idle_timeout"`
	// L2TPVersion is the version of the session's tunnel (2, or 3 for
	// an RFC 3931 pseudowire) and PWType its pseudowire type ("ppp").
	L2TPVersion int    `json:"l2tp_version,omitempty"`
	PWType      string `json:"pw_type,omitempty"`
	// The 32-bit Control Connection and Session IDs of an L2TPv3
	// session (RFC 3931 section 5.4); the IDs above hold their low 16
	// bits.
	ConnID          uint32 `json:"conn_id,omitempty"`
	PeerConnID      uint32 `json:"peer_conn_id,omitempty"`
	LocalSessionID  uint32 `json:"local_session_id,omitempty"`
	RemoteSessionID uint32 `json:"remote_session_id,omitempty"`
}

// MarshalJSON renders the timeouts as seconds.
func (s Session) MarshalJSON() ([]byte, error) {
	type plain Session
	return json.Marshal(struct {
		plain
		SessionTimeout int64 `json:"session_timeout"`
		IdleTimeout    int64 `json:"idle_timeout"`
	}{plain(s), int64(s.SessionTimeout / time.Second), int64(s.IdleTimeout / time.Second)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Session) UnmarshalJSON(b []byte) error {
	type plain Session
	v := struct {
		*plain
		SessionTimeout int64 `json:"session_timeout"`
		IdleTimeout    int64 `json:"idle_timeout"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.SessionTimeout = time.Duration(v.SessionTimeout) * time.Second
	s.IdleTimeout = time.Duration(v.IdleTimeout) * time.Second
	return nil
}

// Pool is an address or prefix pool and how much of it is held.
type Pool struct {
	Name   string `json:"name"`
	Family string `json:"family"`           // "ipv4" or "ipv6"
	Length int    `json:"length,omitempty"` // IPv6: the length of the prefixes it hands out
	Shared bool   `json:"shared"`           // in PostgreSQL, shared by the LNS nodes: used counts every node's leases
	Size   int    `json:"size"`             // addresses or prefixes it can hand out
	Used   int    `json:"used"`
	Free   int    `json:"free"`
}

// PoolLister is what a Backend that has address pools (the LNS)
// implements besides; GET /api/v1/pools answers 404 for one that does
// not.
type PoolLister interface {
	Pools(ctx context.Context) ([]Pool, error)
}

// TunnelCloser is what a Backend that can clear a tunnel (the LNS)
// implements besides: DELETE /api/v1/tunnels/{id} closes the tunnel of
// that local Tunnel ID with a StopCCN, ending its sessions only; 404 for
// a daemon that does not.
type TunnelCloser interface {
	CloseTunnel(ctx context.Context, localID uint16) error
}

// TerminateRequest is the body of POST /api/v1/sessions/terminate: the
// sessions to end (Acct-Terminate-Cause Admin-Reset), named by a filter
// with the parameters of GET /api/v1/sessions ("user", "mac~", ...; no
// paging), or every session with All and Confirm. DryRun lists what
// would end and ends nothing.
type TerminateRequest struct {
	Filter  map[string]string `json:"filter,omitempty"`
	All     bool              `json:"all,omitempty"`
	Confirm bool              `json:"confirm,omitempty"`
	DryRun  bool              `json:"dry_run,omitempty"`
}

// TerminateResult is the answer of a terminate.
type TerminateResult struct {
	Matched    int      `json:"matched"`    // sessions the filter selected
	Terminated int      `json:"terminated"` // of those, the ones ended now (0 with dry_run)
	IDs        []string `json:"ids"`        // the ended sessions (with dry_run: the matched ones)
	DryRun     bool     `json:"dry_run,omitempty"`
	Errors     []string `json:"errors,omitempty"` // sessions that could not be ended, and why
}

// Tunnel is one L2TP control connection (RFC 2661, section 7.2).
type Tunnel struct {
	LocalID     uint16    `json:"local_id"`
	PeerID      uint16    `json:"peer_id"`
	Peer        string    `json:"peer"` // address:port
	HostName    string    `json:"host_name"`
	State       string    `json:"state"`
	Sessions    int       `json:"sessions"`
	Established time.Time `json:"established"`
	// Version is the L2TP version: 2 (RFC 2661) or 3 (RFC 3931); an
	// L2TPv3 control connection has 32-bit IDs, of which LocalID and
	// PeerID hold the low 16 bits.
	Version     int    `json:"version"`
	LocalConnID uint32 `json:"local_conn_id,omitempty"`
	PeerConnID  uint32 `json:"peer_conn_id,omitempty"`
	// Encap is udp, or ip for L2TPv3 straight over IP protocol 115 (RFC
	// 3931 section 4.1.1).
	Encap string `json:"encap"`
}

// SessionsTable renders sessions as a table, the same for the CLI and for
// the API's CSV.
func SessionsTable(ss []Session) *table.Table {
	t := &table.Table{Columns: []string{"id", "user", "state", "addr", "lac", "mac", "tunnel_id", "session_id", "started", "in_octets", "out_octets", "in_packets", "out_packets", "rate_down_kbps", "rate_up_kbps"}}
	for _, s := range ss {
		addr := ""
		if s.Addr.IsValid() {
			addr = s.Addr.String()
		}
		started := ""
		if !s.Started.IsZero() {
			started = s.Started.UTC().Format(time.RFC3339)
		}
		u := strconv.FormatUint
		t.Rows = append(t.Rows, []string{s.ID, s.User, s.State, addr, s.LAC, s.MAC,
			u(uint64(s.TunnelID), 10), u(uint64(s.SessionID), 10), started,
			u(s.InOctets, 10), u(s.OutOctets, 10), u(s.InPackets, 10), u(s.OutPackets, 10),
			u(uint64(s.RateDownKbps), 10), u(uint64(s.RateUpKbps), 10)})
	}
	return t
}

// TunnelsTable renders tunnels as a table.
func TunnelsTable(ts []Tunnel) *table.Table {
	t := &table.Table{Columns: []string{"local_id", "peer_id", "peer", "host_name", "state", "sessions", "established", "version", "encap"}}
	for _, tu := range ts {
		est := ""
		if !tu.Established.IsZero() {
			est = tu.Established.UTC().Format(time.RFC3339)
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(int(tu.LocalID)), strconv.Itoa(int(tu.PeerID)), tu.Peer, tu.HostName, tu.State, strconv.Itoa(tu.Sessions), est, strconv.Itoa(tu.Version), tu.Encap})
	}
	return t
}

// PoolsTable renders pools as a table.
func PoolsTable(ps []Pool) *table.Table {
	t := &table.Table{Columns: []string{"name", "family", "length", "shared", "size", "used", "free"}}
	for _, p := range ps {
		length := ""
		if p.Length > 0 {
			length = "/" + strconv.Itoa(p.Length)
		}
		t.Rows = append(t.Rows, []string{p.Name, p.Family, length, strconv.FormatBool(p.Shared),
			strconv.Itoa(p.Size), strconv.Itoa(p.Used), strconv.Itoa(p.Free)})
	}
	return t
}
