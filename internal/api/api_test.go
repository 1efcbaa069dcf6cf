package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/table"
)

const testToken = "0123456789abcdef-test-token"

var t0 = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

// fakeBackend is an in-memory session table.
type fakeBackend struct {
	mu           sync.Mutex
	sessions     []Session
	tunnels      []Tunnel
	lastFilter   SessionFilter
	disconnected []string // "id cause"
	err          error    // returned by every call when set
}

func (b *fakeBackend) Sessions(_ context.Context, f SessionFilter) ([]Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastFilter = f
	if b.err != nil {
		return nil, b.err
	}
	var out []Session
	for _, s := range b.sessions {
		if f.Match(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (b *fakeBackend) Session(_ context.Context, id string) (Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return Session{}, b.err
	}
	for _, s := range b.sessions {
		if s.ID == id {
			return s, nil
		}
	}
	return Session{}, fmt.Errorf("lns: session %s: %w", id, ErrNotFound)
}

func (b *fakeBackend) Disconnect(_ context.Context, id, cause string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	for i, s := range b.sessions {
		if s.ID == id {
			b.sessions = slices.Delete(b.sessions, i, i+1)
			b.disconnected = append(b.disconnected, id+" "+cause)
			return nil
		}
	}
	return ErrNotFound
}

func (b *fakeBackend) Tunnels(context.Context) ([]Tunnel, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tunnels, b.err
}

type fakeReports struct{}

func (fakeReports) Report(_ context.Context, name string, q url.Values) (*table.Table, error) {
	if name != "usage-daily" {
		return nil, fmt.Errorf("accounting: report %q: %w", name, ErrNotFound)
	}
	day := q.Get("day")
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil, BadRequest(fmt.Errorf("parameter \"day\": %q is not a date (YYYY-MM-DD)", day))
	}
	return &table.Table{Columns: []string{"day", "user", "octets"}, Rows: [][]string{{day, "alice@isp", "1000"}, {day, "bob, jr@isp", "20"}}}, nil
}

func ptr[T any](v T) *T { return &v }

func newBackend() *fakeBackend {
	return &fakeBackend{
		sessions: []Session{
			{ID: "0000a1", User: "alice@isp", Realm: "isp", State: "up", MAC: "02:00:00:00:00:01", CircuitID: "olt1 1/1/1", RemoteID: "cpe-1", LAC: "lac1", LACAddr: "192.0.2.10", Addr: netip.MustParseAddr("100.64.0.1"),
				IPv6Prefix: ptr(netip.MustParsePrefix("2001:db8:1::/64")), DelegatedPrefix: ptr(netip.MustParsePrefix("2001:db8:4000::/56")), TunnelID: 1, SessionID: 11, PeerTunnelID: 5, PeerSessionID: 55, Started: t0, InOctets: 1000, OutOctets: 2000, InPackets: 10, OutPackets: 20, RateDownKbps: 100000, RateUpKbps: 20000, SessionTimeout: time.Hour, IdleTimeout: 5 * time.Minute},
			{ID: "0000b2", User: "bob@isp", State: "up", MAC: "02:00:00:00:00:0b", RemoteID: "cpe-2", LAC: "lac2", LACAddr: "192.0.2.20", Addr: netip.MustParseAddr("100.64.0.2"), TunnelID: 2, SessionID: 12, Started: t0},
			{ID: "0000c3", User: "carol@other", State: "auth", LAC: "lac1", TunnelID: 1, SessionID: 13, Started: t0},
		},
		tunnels: []Tunnel{{LocalID: 1, PeerID: 5, Peer: "192.0.2.10:1701", HostName: "lac1", State: "established", Sessions: 2, Established: t0, Version: 3, Encap: "ip"}},
	}
}

type testServer struct {
	url     string
	backend *fakeBackend
	reg     *metrics.Registry
	health  error
}

func startServer(t *testing.T, mod func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{backend: newBackend(), reg: metrics.New()}
	cfg := Config{
		Token:   config.Secret(testToken),
		Backend: ts.backend,
		Reports: fakeReports{},
		Metrics: ts.reg,
		Health:  func() error { return ts.health },
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	ts.url = hs.URL
	return ts
}

type result struct {
	status int
	ctype  string
	body   string
	header http.Header
}

func (ts *testServer) request(t *testing.T, method, path string, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b), header: resp.Header}
}

func (ts *testServer) get(t *testing.T, path string) result {
	return ts.request(t, http.MethodGet, path, nil)
}

// errorMessage decodes a JSON error answer, failing the test if the answer
// is not one.
func errorMessage(t *testing.T, r result) string {
	t.Helper()
	if r.ctype != "application/json" {
		t.Errorf("error answer Content-Type %q, want application/json", r.ctype)
	}
	var eb struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &eb); err != nil || eb.Error == "" {
		t.Fatalf("error answer is not {\"error\": ...}: %q", r.body)
	}
	return eb.Error
}

func sessionIDs(t *testing.T, r result) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var ss []Session
	if err := json.Unmarshal([]byte(r.body), &ss); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
	ids := []string{}
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestListSessionsFilters(t *testing.T) {
	ts := startServer(t, nil)
	tests := []struct {
		name       string
		query      string
		wantFilter string // the filter given to the backend, as Values encodes it
		wantIDs    []string
		wantTotal  string
	}{
		{"all", "", "", []string{"0000a1", "0000b2", "0000c3"}, "3"},
		{"by user", "?user=bob%40isp", "user=bob%40isp", []string{"0000b2"}, "1"},
		{"by addr", "?addr=100.64.0.1", "ip=100.64.0.1", []string{"0000a1"}, "1"},
		{"by ip", "?ip=100.64.0.2", "ip=100.64.0.2", []string{"0000b2"}, "1"},
		{"by IPv4 prefix", "?ip=100.64.0.0/30", "ip=100.64.0.0%2F30", []string{"0000a1", "0000b2"}, "2"},
		{"by IPv6 address in the delegated prefix", "?ip=2001:db8:4000:ff::1", "ip=2001%3Adb8%3A4000%3Aff%3A%3A1", []string{"0000a1"}, "1"},
		{"by IPv6 prefix inside the link prefix", "?ip=2001:db8:1:0:8000::/65", "ip=2001%3Adb8%3A1%3A0%3A8000%3A%3A%2F65", []string{"0000a1"}, "1"},
		{"by mac, any spelling", "?mac=02-00-00-00-00-0B", "mac=02%3A00%3A00%3A00%3A00%3A0b", []string{"0000b2"}, "1"},
		{"by circuit id", "?circuit_id=olt1+1%2F1%2F1", "circuit_id=olt1+1%2F1%2F1", []string{"0000a1"}, "1"},
		{"by remote id", "?remote_id=cpe-2", "remote_id=cpe-2", []string{"0000b2"}, "1"},
		{"by lac", "?lac=lac1", "lac=lac1", []string{"0000a1", "0000c3"}, "2"},
		{"by lac address", "?lac=192.0.2.20", "lac=192.0.2.20", []string{"0000b2"}, "1"},
		{"by tunnel", "?tunnel=1", "tunnel=1", []string{"0000a1", "0000c3"}, "2"},
		{"by state", "?state=auth", "state=auth", []string{"0000c3"}, "1"},
		{"by user regexp", "?user~=%5Eb", "user~=%5Eb", []string{"0000b2"}, "1"},
		{"by mac regexp", "?mac~=01%24", "mac~=01%24", []string{"0000a1"}, "1"},
		{"by lac regexp", "?lac~=%5C.20%24", "lac~=%5C.20%24", []string{"0000b2"}, "1"},
		{"limit", "?limit=2", "", []string{"0000a1", "0000b2"}, "3"},
		{"offset", "?offset=1&limit=1", "", []string{"0000b2"}, "3"},
		{"offset past the end", "?offset=5", "", []string{}, "3"},
		{"sort descending", "?sort=-id", "", []string{"0000c3", "0000b2", "0000a1"}, "3"},
		{"sort by octets", "?sort=-in_octets&limit=1", "", []string{"0000a1"}, "3"},
		{"sort by user", "?sort=user&state=up", "state=up", []string{"0000a1", "0000b2"}, "2"},
		{"combined", "?lac=lac1&state=up", "lac=lac1&state=up", []string{"0000a1"}, "1"},
		{"no match is an empty list", "?user=nobody", "user=nobody", []string{}, "0"},
		{"format json accepted", "?format=json&user=bob%40isp", "user=bob%40isp", []string{"0000b2"}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.get(t, "/api/v1/sessions"+tt.query)
			got := sessionIDs(t, r)
			if diff := cmp.Diff(tt.wantIDs, got); diff != "" {
				t.Errorf("ids (-want +got)\n%s", diff)
			}
			if h := r.header.Get(TotalHeader); h != tt.wantTotal {
				t.Errorf("%s %q, want %q", TotalHeader, h, tt.wantTotal)
			}
			ts.backend.mu.Lock()
			f := ts.backend.lastFilter
			ts.backend.mu.Unlock()
			if diff := cmp.Diff(tt.wantFilter, f.Values().Encode()); diff != "" {
				t.Errorf("filter given to the backend (-want +got)\n%s", diff)
			}
		})
	}
}

func TestMalformedFilter(t *testing.T) {
	ts := startServer(t, nil)
	tests := []struct {
		query string
		want  string
	}{
		{"?usr=alice", `unknown parameter "usr" (want ` + FilterSyntax + `)`},
		{"?addr=100.64.0", `parameter "addr": "100.64.0" is not an IP address or prefix`},
		{"?ip=100.64.0.0/33", `parameter "ip": "100.64.0.0/33" is not an IP address or prefix`},
		{"?mac=02:00:00", `parameter "mac": "02:00:00" is not a MAC address (02:00:00:00:00:01)`},
		{"?tunnel=0", `parameter "tunnel": "0" is not a tunnel ID from 1 to 65535`},
		{"?tunnel=70000", `parameter "tunnel": "70000" is not a tunnel ID from 1 to 65535`},
		{"?user~=%28bob", "parameter \"user~\": bad regular expression: error parsing regexp: missing closing ): `(bob`"},
		{"?ip~=100", `parameter "ip~": ip takes a value, not a regular expression`},
		{"?tunnel~=1", `parameter "tunnel~": tunnel takes a value, not a regular expression`},
		{"?user=", `parameter "user": empty (leave the parameter out to match any user)`},
		{"?sort=color", `parameter "sort": "color" is not a column (` + strings.Join(ColumnNames(), ", ") + `)`},
		{"?limit=-1", `parameter "limit": "-1" is not an integer from 1 to 1048576`},
		{"?limit=ten", `parameter "limit": "ten" is not an integer from 1 to 1048576`},
		{"?offset=-1", `parameter "offset": "-1" is not an integer from 0 to 1048576`},
		{"?user=a&user=b", `parameter "user" given 2 times`},
		{"?format=xml", `parameter "format": "xml" is not json or csv`},
		{"?user=" + strings.Repeat("x", 300), `parameter "user": longer than 253 bytes`},
		{"?addr=x&foo=1", "parameter \"addr\": \"x\" is not an IP address or prefix\nunknown parameter \"foo\" (want " + FilterSyntax + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := ts.get(t, "/api/v1/sessions"+tt.query)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			if diff := cmp.Diff(tt.want, errorMessage(t, r)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	// Other endpoints are strict too.
	if r := ts.get(t, "/api/v1/tunnels?all=1"); r.status != http.StatusBadRequest || !strings.Contains(errorMessage(t, r), `"all"`) {
		t.Errorf("tunnels with an unknown parameter: %d %s", r.status, r.body)
	}
	if r := ts.request(t, http.MethodDelete, "/api/v1/sessions/0000a1?cause=x", nil); r.status != http.StatusBadRequest {
		t.Errorf("disconnect with an unknown parameter: %d %s", r.status, r.body)
	}
	if len(ts.backend.disconnected) != 0 {
		t.Errorf("a refused request disconnected %v", ts.backend.disconnected)
	}
}

func TestGetSession(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.get(t, "/api/v1/sessions/0000a1")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// The JSON field names are the contract with scripts: snake_case,
	// timeouts in seconds.
	want := `{
  "id": "0000a1",
  "user": "alice@isp",
  "realm": "isp",
  "state": "up",
  "mac": "02:00:00:00:00:01",
  "circuit_id": "olt1 1/1/1",
  "remote_id": "cpe-1",
  "lac": "lac1",
  "lac_addr": "192.0.2.10",
  "addr": "100.64.0.1",
  "ipv6_prefix": "2001:db8:1::/64",
  "delegated_prefix": "2001:db8:4000::/56",
  "tunnel_id": 1,
  "session_id": 11,
  "peer_tunnel_id": 5,
  "peer_session_id": 55,
  "started": "2026-11-21T06:00:00Z",
  "in_octets": 1000,
  "out_octets": 2000,
  "in_packets": 10,
  "out_packets": 20,
  "rate_down_kbps": 100000,
  "rate_up_kbps": 20000,
  "session_timeout": 3600,
  "idle_timeout": 300
}
`
	if diff := cmp.Diff(want, r.body); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	var s Session
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ts.backend.sessions[0], s, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("JSON round trip (-want +got)\n%s", diff)
	}

	r = ts.get(t, "/api/v1/sessions/ffffff")
	if r.status != http.StatusNotFound {
		t.Fatalf("unknown session: status %d, want 404", r.status)
	}
	if got := errorMessage(t, r); got != `session "ffffff" not found` {
		t.Errorf("unknown session message %q", got)
	}
}

func TestDisconnect(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.request(t, http.MethodDelete, "/api/v1/sessions/0000b2", nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("status %d, want 204: %s", r.status, r.body)
	}
	if diff := cmp.Diff([]string{"0000b2 admin-reset"}, ts.backend.disconnected); diff != "" {
		t.Errorf("disconnects (-want +got)\n%s", diff)
	}
	if r := ts.get(t, "/api/v1/sessions/0000b2"); r.status != http.StatusNotFound {
		t.Errorf("disconnected session still shown: %d", r.status)
	}
	r = ts.request(t, http.MethodDelete, "/api/v1/sessions/0000b2", nil)
	if r.status != http.StatusNotFound || errorMessage(t, r) != `session "0000b2" not found` {
		t.Errorf("second disconnect: %d %s", r.status, r.body)
	}
}

func TestAuth(t *testing.T) {
	ts := startServer(t, nil)
	paths := []struct{ method, path string }{
		{"GET", "/api/v1/sessions"}, {"GET", "/api/v1/sessions/0000a1"}, {"DELETE", "/api/v1/sessions/0000a1"},
		{"GET", "/api/v1/tunnels"}, {"GET", "/api/v1/stats"}, {"GET", "/api/v1/reports/usage-daily?day=2026-11-20"},
		{"GET", "/api/v1/nonexistent"}, {"GET", "/api/v1/debug/pprof/heap"}, {"GET", "/api/v1/debug/pprof/"},
	}
	headers := []struct {
		name, value string
	}{
		{"no header", ""},
		{"wrong token", "Bearer wrong"},
		{"token prefix", "Bearer " + testToken[:len(testToken)-1]},
		{"token longer", "Bearer " + testToken + "x"},
		{"basic scheme", "Basic " + testToken},
		{"bare token", testToken},
	}
	for _, p := range paths {
		for _, h := range headers {
			t.Run(p.method+" "+p.path+" "+h.name, func(t *testing.T) {
				r := ts.request(t, p.method, p.path, map[string]string{"Authorization": h.value})
				if r.status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401: %s", r.status, r.body)
				}
				errorMessage(t, r)
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	if len(ts.backend.disconnected) != 0 {
		t.Errorf("an unauthenticated DELETE disconnected %v", ts.backend.disconnected)
	}
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	if r := ts.request(t, "GET", "/api/v1/tunnels", map[string]string{"Authorization": "bearer " + testToken}); r.status != http.StatusOK {
		t.Errorf("lower-case scheme: %d", r.status)
	}
	// /metrics and /healthz need no token by default.
	for _, p := range []string{"/metrics", "/healthz"} {
		if r := ts.request(t, "GET", p, map[string]string{"Authorization": ""}); r.status != http.StatusOK {
			t.Errorf("%s without a token: %d", p, r.status)
		}
	}
	// ... and /metrics can be made to.
	ts2 := startServer(t, func(c *Config) { c.MetricsNeedToken = true })
	if r := ts2.request(t, "GET", "/metrics", map[string]string{"Authorization": ""}); r.status != http.StatusUnauthorized {
		t.Errorf("/metrics with MetricsNeedToken and no token: %d", r.status)
	}
	if r := ts2.get(t, "/metrics"); r.status != http.StatusOK {
		t.Errorf("/metrics with MetricsNeedToken and the token: %d", r.status)
	}
}

func TestCSV(t *testing.T) {
	ts := startServer(t, nil)
	wantSessions := "id,user,state,addr,lac,mac,tunnel_id,session_id,started,in_octets,out_octets,in_packets,out_packets,rate_down_kbps,rate_up_kbps\n" +
		"0000a1,alice@isp,up,100.64.0.1,lac1,02:00:00:00:00:01,1,11,2026-11-21T06:00:00Z,1000,2000,10,20,100000,20000\n" +
		"0000c3,carol@other,auth,,lac1,,1,13,2026-11-21T06:00:00Z,0,0,0,0,0,0\n"
	tests := []struct {
		name, path, accept, want string
	}{
		{"sessions by Accept", "/api/v1/sessions?lac=lac1", "text/csv", wantSessions},
		{"sessions by Accept list", "/api/v1/sessions?lac=lac1", "text/html;q=0.9, text/csv", wantSessions},
		{"sessions by format", "/api/v1/sessions?lac=lac1&format=csv", "", wantSessions},
		{"tunnels", "/api/v1/tunnels", "text/csv", "local_id,peer_id,peer,host_name,state,sessions,established,version,encap\n1,5,192.0.2.10:1701,lac1,established,2,2026-11-21T06:00:00Z,3,ip\n"},
		{"report", "/api/v1/reports/usage-daily?day=2026-11-20", "text/csv", "day,user,octets\n2026-11-20,alice@isp,1000\n2026-11-20,\"bob, jr@isp\",20\n"},
		{"report by format", "/api/v1/reports/usage-daily?day=2026-11-20&format=csv", "", "day,user,octets\n2026-11-20,alice@isp,1000\n2026-11-20,\"bob, jr@isp\",20\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.request(t, "GET", tt.path, map[string]string{"Accept": tt.accept})
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if r.ctype != "text/csv; charset=utf-8" {
				t.Errorf("Content-Type %q", r.ctype)
			}
			if diff := cmp.Diff(tt.want, r.body); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestReports(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.get(t, "/api/v1/reports/usage-daily?day=2026-11-20")
	if r.status != http.StatusOK || r.ctype != "application/json" {
		t.Fatalf("status %d %q: %s", r.status, r.ctype, r.body)
	}
	var rows []map[string]string
	if err := json.Unmarshal([]byte(r.body), &rows); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]map[string]string{{"day": "2026-11-20", "user": "alice@isp", "octets": "1000"}, {"day": "2026-11-20", "user": "bob, jr@isp", "octets": "20"}}, rows); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	r = ts.get(t, "/api/v1/reports/nope")
	if r.status != http.StatusNotFound || errorMessage(t, r) != `report "nope" not found` {
		t.Errorf("unknown report: %d %s", r.status, r.body)
	}
	r = ts.get(t, "/api/v1/reports/usage-daily?day=yesterday")
	if r.status != http.StatusBadRequest || errorMessage(t, r) != `parameter "day": "yesterday" is not a date (YYYY-MM-DD)` {
		t.Errorf("bad report parameter: %d %s", r.status, r.body)
	}
	// A function serves as Reports; the query reaches it without "format".
	var gotQuery url.Values
	ts3 := startServer(t, func(c *Config) {
		c.Reports = ReportsFunc(func(_ context.Context, name string, q url.Values) (*table.Table, error) {
			gotQuery = q
			return &table.Table{Columns: []string{"report"}, Rows: [][]string{{name}}}, nil
		})
	})
	if r := ts3.get(t, "/api/v1/reports/peaks?month=2026-11&format=csv"); r.status != http.StatusOK || r.body != "report\npeaks\n" {
		t.Errorf("ReportsFunc: %d %q", r.status, r.body)
	}
	if diff := cmp.Diff(url.Values{"month": {"2026-11"}}, gotQuery); diff != "" {
		t.Errorf("report query (-want +got)\n%s", diff)
	}
	ts2 := startServer(t, func(c *Config) { c.Reports = nil })
	if r := ts2.get(t, "/api/v1/reports/usage-daily"); r.status != http.StatusNotFound {
		t.Errorf("reports without Reports: %d", r.status)
	}
}

func TestBackendErrors(t *testing.T) {
	ts := startServer(t, nil)
	ts.backend.err = errors.New("lns: shard 3 did not answer")
	r := ts.get(t, "/api/v1/sessions")
	if r.status != http.StatusInternalServerError || errorMessage(t, r) != "lns: shard 3 did not answer" {
		t.Errorf("backend failure: %d %s", r.status, r.body)
	}
	ts.backend.err = BadRequest(errors.New("state \"bogus\" is not a session state"))
	r = ts.get(t, "/api/v1/sessions?state=bogus")
	if r.status != http.StatusBadRequest || errorMessage(t, r) != `state "bogus" is not a session state` {
		t.Errorf("backend bad request: %d %s", r.status, r.body)
	}
	r = ts.request(t, http.MethodPost, "/api/v1/sessions", nil)
	if r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", r.status)
	}
	errorMessage(t, r)
}

func TestMetricsAndStats(t *testing.T) {
	ts := startServer(t, nil)
	ts.reg.GaugeVecFunc(metrics.Sessions, "Sessions by state.", []string{"state"}, func(emit func(float64, ...string)) {
		emit(2, "up")
		emit(1, "auth")
	})
	ts.reg.CounterFunc(metrics.DataplaneDrops, "Dropped packets.", metrics.Labels{"reason": "no-session"}, func() float64 { return 9 })
	ts.get(t, "/api/v1/sessions")
	ts.get(t, "/api/v1/sessions/nope")
	r := ts.get(t, "/metrics")
	if r.status != http.StatusOK || r.ctype != metrics.ContentType {
		t.Fatalf("/metrics: %d %q", r.status, r.ctype)
	}
	for _, s := range []string{
		`bras_sessions{state="up"} 2`,
		`bras_sessions{state="auth"} 1`,
		`bras_dataplane_drops_total{reason="no-session"} 9`,
		`bras_api_requests_total{code="2xx"} 1`,
		`bras_api_requests_total{code="4xx"} 1`,
	} {
		if !strings.Contains(r.body, s+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", s, r.body)
		}
	}
	r = ts.get(t, "/api/v1/stats")
	var samples []metrics.Sample
	if err := json.Unmarshal([]byte(r.body), &samples); err != nil {
		t.Fatalf("stats %q: %v", r.body, err)
	}
	found := false
	for _, s := range samples {
		found = found || (s.Name == metrics.DataplaneDrops && s.Labels["reason"] == "no-session" && s.Value == 9)
	}
	if !found {
		t.Errorf("stats lack the drop counter: %s", r.body)
	}
}

func TestHealthz(t *testing.T) {
	ts := startServer(t, nil)
	if r := ts.get(t, "/healthz"); r.status != http.StatusOK || r.body != "{\n  \"status\": \"ok\"\n}\n" {
		t.Errorf("healthy: %d %q", r.status, r.body)
	}
	ts.health = errors.New("postgres: connection refused; spooling")
	r := ts.get(t, "/healthz")
	if r.status != http.StatusServiceUnavailable || errorMessage(t, r) != "postgres: connection refused; spooling" {
		t.Errorf("unhealthy: %d %s", r.status, r.body)
	}
}

func TestNewRefuses(t *testing.T) {
	b := newBackend()
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"default listen", Config{Token: config.Secret("t"), Backend: b}, false},
		{"loopback v4", Config{Listen: "127.0.0.1:9000", Token: config.Secret("t"), Backend: b}, false},
		{"loopback v6", Config{Listen: "[::1]:9000", Token: config.Secret("t"), Backend: b}, false},
		{"localhost", Config{Listen: "localhost:9000", Token: config.Secret("t"), Backend: b}, false},
		{"any v4", Config{Listen: "0.0.0.0:8080", Token: config.Secret("t"), Backend: b}, true},
		{"any v6", Config{Listen: "[::]:8080", Token: config.Secret("t"), Backend: b}, true},
		{"empty host", Config{Listen: ":8080", Token: config.Secret("t"), Backend: b}, true},
		{"public address", Config{Listen: "192.0.2.1:8080", Token: config.Secret("t"), Backend: b}, true},
		{"host name", Config{Listen: "bras.example:8080", Token: config.Secret("t"), Backend: b}, true},
		{"remote allowed", Config{Listen: "0.0.0.0:8080", AllowRemote: true, Token: config.Secret("t"), Backend: b}, false},
		{"no port", Config{Listen: "127.0.0.1", Token: config.Secret("t"), Backend: b}, true},
		{"no token", Config{Backend: b}, true},
		{"no backend", Config{Token: config.Secret("t")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("New: err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestSettings(t *testing.T) {
	t.Setenv("BRAS_API_TOKEN", "from-env")
	var c struct {
		API Settings `cfg:"api"`
	}
	if err := config.Decode(strings.NewReader("[api]\nlisten = 127.0.0.1:9090\ntoken = env:BRAS_API_TOKEN\n"), "bras.conf", &c); err != nil {
		t.Fatal(err)
	}
	if c.API.Listen != "127.0.0.1:9090" || string(c.API.Token) != "from-env" {
		t.Errorf("decoded %+v", c.API)
	}
	cfg := c.API.Config()
	cfg.Backend = newBackend()
	if _, err := New(cfg); err != nil {
		t.Errorf("New from decoded settings: %v", err)
	}
	err := config.Decode(strings.NewReader("[api]\nlisten = 0.0.0.0:9090\ntoken = x\n"), "bras.conf", &c)
	if err == nil || !strings.Contains(err.Error(), "bras.conf:1: api: listen address \"0.0.0.0:9090\" is not loopback") {
		t.Errorf("non-loopback in the config file: %v", err)
	}
	var c2 struct {
		API Settings `cfg:"api"`
	}
	err = config.Decode(strings.NewReader("[api]\n"), "bras.conf", &c2)
	if err == nil || !strings.Contains(err.Error(), "token is required") {
		t.Errorf("missing token: %v", err)
	}
}

func TestServeShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New(Config{Token: config.Secret(testToken), Backend: newBackend()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	c, err := NewClient("http://"+ln.Addr().String(), []byte(testToken), &http.Client{Transport: &http.Transport{DisableKeepAlives: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tunnels(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still open after shutdown")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines: %d before, %d after shutdown", before, n)
	}
}

// TestPprof: with the token, the Go runtime's profiles are served for go
// tool pprof (a gzipped heap profile, the index naming the profiles);
// TestAuth checks they are refused without it.
func TestPprof(t *testing.T) {
	ts := startServer(t, nil)
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	r := ts.request(t, "GET", "/api/v1/debug/pprof/heap", auth)
	if r.status != http.StatusOK || !strings.HasPrefix(r.body, "\x1f\x8b") {
		t.Errorf("heap profile: status %d, body starts %q; want 200 and a gzipped profile", r.status, r.body[:min(len(r.body), 8)])
	}
	r = ts.request(t, "GET", "/api/v1/debug/pprof/", auth)
	if r.status != http.StatusOK || !strings.Contains(r.body, "heap") || !strings.Contains(r.body, "goroutine") {
		t.Errorf("index: status %d, body %.200q; want the profiles listed", r.status, r.body)
	}
	r = ts.request(t, "GET", "/api/v1/debug/pprof/goroutine?debug=1", auth)
	if r.status != http.StatusOK || !strings.Contains(r.body, "goroutine profile:") {
		t.Errorf("goroutine profile: status %d, body %.200q", r.status, r.body)
	}
}
