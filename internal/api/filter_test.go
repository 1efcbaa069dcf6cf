package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/leakcheck"
)

func TestFilterMatch(t *testing.T) {
	s := Session{ID: "00000a", User: "bob@isp", State: "up", MAC: "02:00:00:AB:00:01", CircuitID: "olt1 eth 1/1/3:100",
		RemoteID: "cpe-42", LAC: "lac1", LACAddr: "192.0.2.10", Addr: netip.MustParseAddr("100.64.0.7"), TunnelID: 9,
		IPv6Prefix: ptr(netip.MustParsePrefix("2001:db8:1:7::/64")), DelegatedPrefix: ptr(netip.MustParsePrefix("2001:db8:4000:700::/56"))}
	tests := []struct {
		query string
		want  bool
	}{
		{"", true},
		{"id=00000a", true},
		{"id=00000b", false},
		{"user=bob@isp", true},
		{"user=bob", false}, // exact: the realm is part of the name
		{"user~=^bob", true},
		{"user~=^BOB", false},
		{"user~=(?i)^BOB", true},
		{"user~=^bob$", false},
		{"ip=100.64.0.7", true},
		{"ip=::ffff:100.64.0.7", true},
		{"ip=100.64.0.8", false},
		{"ip=100.64.0.0/29", true},
		{"ip=100.64.0.8/29", false},
		{"ip=2001:db8:1:7::42", true},       // inside the link's /64
		{"ip=2001:db8:4000:7ff::1", true},   // inside the delegated /56
		{"ip=2001:db8:4000:800::1", false},  // next to it
		{"ip=2001:db8:4000:710::/60", true}, // a prefix inside the delegated one
		{"ip=2001:db8::/32", true},          // a prefix that holds them
		{"ip=2001:db9::/32", false},
		{"mac=02:00:00:ab:00:01", true},
		{"mac=02-00-00-AB-00-01", true},
		{"mac=0200.00ab.0001", true},
		{"mac=02:00:00:ab:00:02", false},
		{"mac~=^02:00:00:ab", true}, // lower case, colons
		{"circuit_id=olt1 eth 1/1/3:100", true},
		{"circuit_id=olt1", false},
		{"circuit_id~=1/1/3", true},
		{"remote_id=cpe-42", true},
		{"remote_id~=^cpe-4$", false},
		{"lac=lac1", true},
		{"lac=192.0.2.10", true},
		{"lac=lac2", false},
		{"lac~=^192\\.0\\.2\\.", true},
		{"tunnel=9", true},
		{"tunnel=10", false},
		{"state=up", true},
		{"state~=^(up|closing)$", true},
		{"state=closing", false},
		{"user~=^bob&mac=02:00:00:ab:00:01&tunnel=9", true},
		{"user~=^bob&tunnel=8", false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(strings.ReplaceAll(tt.query, "+", "%2B"))
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseSessionFilter(q)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(s); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			// The encoding reads back as the same filter.
			g, err := ParseSessionFilter(f.Values())
			if err != nil {
				t.Fatalf("ParseSessionFilter(%q): %v", f.Values().Encode(), err)
			}
			if g.Values().Encode() != f.Values().Encode() || g.Match(s) != tt.want {
				t.Errorf("round trip %q -> %q", f.Values().Encode(), g.Values().Encode())
			}
		})
	}
	// A session without IPv6, MAC, access-line or LAC information matches
	// no filter on them.
	bare := Session{ID: "1", User: "x", State: "up"}
	for _, q := range []string{"ip=2001:db8::/32", "mac=02:00:00:00:00:01", "circuit_id=a", "lac=lac1"} {
		v, _ := url.ParseQuery(q)
		f, err := ParseSessionFilter(v)
		if err != nil {
			t.Fatal(err)
		}
		if f.Match(bare) {
			t.Errorf("%s matched a session without it", q)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		query string
		want  string
	}{
		{"user~=[a-", "parameter \"user~\": bad regular expression: error parsing regexp: missing closing ]: `[a-`"},
		{"mac~=*", "parameter \"mac~\": bad regular expression: error parsing regexp: missing argument to repetition operator: `*`"},
		{"state~=a{2000}", "parameter \"state~\": bad regular expression: error parsing regexp: invalid repeat count: `{2000}`"},
		{"ip=bob", `parameter "ip": "bob" is not an IP address or prefix`},
		{"ip=fe80::1%25eth0", `parameter "ip": "fe80::1%eth0" is not an IP address or prefix`},
		{"tunnel=x", `parameter "tunnel": "x" is not a tunnel ID from 1 to 65535`},
		{"color=red", `unknown parameter "color" (want ` + FilterSyntax + `)`},
		{"sort=-", `parameter "sort": "-" is not a column (` + strings.Join(ColumnNames(), ", ") + `)`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseSessionFilter(q)
			var bad *BadRequestError
			if !errors.As(err, &bad) {
				t.Fatalf("err = %v, want a *BadRequestError", err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	// A selector (terminate) takes no paging.
	for _, k := range []string{"limit", "offset", "sort", "format"} {
		if _, err := ParseSelector(url.Values{k: {"1"}}); err == nil {
			t.Errorf("ParseSelector took %s", k)
		}
	}
}

func TestSortAndColumns(t *testing.T) {
	now := t0.Add(26*time.Hour + 3*time.Minute + 4*time.Second)
	if got := Uptime(now.Add(-62*time.Second), now); got != "00:01:02" {
		t.Errorf("uptime %q, want 00:01:02", got)
	}
	ss := []Session{
		{ID: "b", User: "zed", Started: t0.Add(time.Hour), InOctets: 5, RateDownKbps: 100000, RateUpKbps: 512},
		{ID: "a", User: "amy", Started: t0, InOctets: 5},
		{ID: "c", User: "max", Started: t0.Add(2 * time.Hour), InOctets: 9},
	}
	ids := func() string {
		var s []string
		for _, x := range ss {
			s = append(s, x.ID)
		}
		return strings.Join(s, "")
	}
	for _, tt := range []struct{ key, want string }{
		{"", "abc"}, {"-id", "cba"}, {"user", "acb"}, {"-user", "bca"},
		{"uptime", "cba"}, {"-uptime", "abc"}, {"started", "abc"},
		{"in_octets", "abc"}, {"-in_octets", "cab"}, // ties by id
	} {
		if err := SortSessions(ss, tt.key); err != nil {
			t.Fatal(err)
		}
		if got := ids(); got != tt.want {
			t.Errorf("sort %q: %s, want %s", tt.key, got, tt.want)
		}
	}
	if err := SortSessions(ss, "nope"); err == nil {
		t.Error("sort by an unknown column succeeded")
	}
	_ = SortSessions(ss, "id")
	cols, err := ParseColumns("id, user,uptime,rate")
	if err != nil {
		t.Fatal(err)
	}
	got := ColumnsTable(ss, cols, now).Rows
	want := [][]string{{"a", "amy", "1d 02:03:04", ""}, {"b", "zed", "1d 01:03:04", "100M/512k"}, {"c", "max", "1d 00:03:04", ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if _, err := ParseColumns("id,colour"); err == nil || !strings.Contains(err.Error(), `unknown column "colour"`) {
		t.Errorf("unknown column: %v", err)
	}
}

// poolBackend is a fakeBackend with pools.
type poolBackend struct {
	*fakeBackend
	pools []Pool
}

func (b poolBackend) Pools(context.Context) ([]Pool, error) { return b.pools, nil }

func TestPoolsAndVersion(t *testing.T) {
	ts := startServer(t, nil)
	if r := ts.get(t, "/api/v1/pools"); r.status != http.StatusNotFound || errorMessage(t, r) != "this daemon has no address pools" {
		t.Errorf("pools of a backend without them: %d %s", r.status, r.body)
	}
	pools := []Pool{{Name: "default", Family: "ipv4", Size: 254, Used: 2, Free: 252}, {Name: "pd", Family: "ipv6", Length: 56, Shared: true, Size: 256, Used: 1, Free: 255}}
	ts = startServer(t, func(c *Config) { c.Backend = poolBackend{c.Backend.(*fakeBackend), pools} })
	r := ts.get(t, "/api/v1/pools")
	var got []Pool
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != http.StatusOK {
		t.Fatalf("pools: %d %s %v", r.status, r.body, err)
	}
	if diff := cmp.Diff(pools, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	r = ts.get(t, "/api/v1/pools?format=csv")
	if want := "name,family,length,shared,size,used,free\ndefault,ipv4,,false,254,2,252\npd,ipv6,/56,true,256,1,255\n"; r.body != want {
		t.Errorf("pools CSV %q, want %q", r.body, want)
	}
	r = ts.get(t, "/api/v1/version")
	var v Version
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || r.status != http.StatusOK {
		t.Fatalf("version: %d %s %v", r.status, r.body, err)
	}
	if v != BuildVersion() || v.Go == "" || v.Version == "" {
		t.Errorf("version %+v, want %+v", v, BuildVersion())
	}
}

func (ts *testServer) post(t *testing.T, path, body string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b.String(), header: resp.Header}
}

func TestTerminate(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   TerminateResult
		remain []string
	}{
		{"by user", `{"filter": {"user": "bob@isp"}}`, TerminateResult{Matched: 1, Terminated: 1, IDs: []string{"0000b2"}}, []string{"0000a1", "0000c3"}},
		{"by lac regexp", `{"filter": {"lac~": "^lac1$"}}`, TerminateResult{Matched: 2, Terminated: 2, IDs: []string{"0000a1", "0000c3"}}, []string{"0000b2"}},
		{"by mac", `{"filter": {"mac": "02:00:00:00:00:01"}}`, TerminateResult{Matched: 1, Terminated: 1, IDs: []string{"0000a1"}}, []string{"0000b2", "0000c3"}},
		{"no match", `{"filter": {"user": "nobody"}}`, TerminateResult{IDs: []string{}}, []string{"0000a1", "0000b2", "0000c3"}},
		{"dry run", `{"filter": {"tunnel": "1"}, "dry_run": true}`, TerminateResult{Matched: 2, IDs: []string{"0000a1", "0000c3"}, DryRun: true}, []string{"0000a1", "0000b2", "0000c3"}},
		{"all, dry run", `{"all": true, "dry_run": true}`, TerminateResult{Matched: 3, IDs: []string{"0000a1", "0000b2", "0000c3"}, DryRun: true}, []string{"0000a1", "0000b2", "0000c3"}},
		{"all, confirmed", `{"all": true, "confirm": true}`, TerminateResult{Matched: 3, Terminated: 3, IDs: []string{"0000a1", "0000b2", "0000c3"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leakcheck.Check(t) // the disconnect workers are joined
			ts := startServer(t, nil)
			r := ts.post(t, "/api/v1/sessions/terminate", tt.body)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got TerminateResult
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			var remain []string
			for _, s := range ts.backend.sessions {
				remain = append(remain, s.ID)
			}
			if diff := cmp.Diff(tt.remain, remain); diff != "" {
				t.Errorf("sessions left (-want +got)\n%s", diff)
			}
			for _, d := range ts.backend.disconnected {
				if !strings.HasSuffix(d, " "+CauseAdminReset) {
					t.Errorf("disconnect %q is not admin-reset", d)
				}
			}
		})
	}
}

func TestTerminateRefused(t *testing.T) {
	ts := startServer(t, nil)
	tests := []struct {
		name, body, want string
	}{
		{"all without confirm", `{"all": true}`, `terminating all sessions needs "confirm": true; nothing was terminated`},
		{"all with confirm false", `{"all": true, "confirm": false}`, `terminating all sessions needs "confirm": true; nothing was terminated`},
		{"no filter", `{}`, `no filter: name the sessions (filter id, user, ip, mac, circuit_id, remote_id, lac, tunnel, state) or give "all": true with "confirm": true`},
		{"confirm alone", `{"confirm": true}`, `no filter: name the sessions (filter id, user, ip, mac, circuit_id, remote_id, lac, tunnel, state) or give "all": true with "confirm": true`},
		{"all and a filter", `{"all": true, "confirm": true, "filter": {"user": "bob@isp"}}`, `"all" and a filter together: give one of them`},
		{"bad regexp", `{"filter": {"user~": "(bob"}}`, "parameter \"user~\": bad regular expression: error parsing regexp: missing closing ): `(bob`"},
		{"paging", `{"filter": {"user": "bob@isp", "limit": "1"}}`, `unknown parameter "limit" (want id, user, ip, mac, circuit_id, remote_id, lac, tunnel, state (name=value exact, name~=regexp))`},
		{"unknown field", `{"filter": {"user": "bob@isp"}, "force": true}`, `body: want {"filter": {...}} or {"all": true, "confirm": true}: json: unknown field "force"`},
		{"not JSON", `user=bob`, `body: want {"filter": {...}} or {"all": true, "confirm": true}: invalid character 'u' looking for beginning of value`},
		{"empty", ``, `body: want {"filter": {...}} or {"all": true, "confirm": true}: EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.post(t, "/api/v1/sessions/terminate", tt.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			if diff := cmp.Diff(tt.want, errorMessage(t, r)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	if len(ts.backend.disconnected) != 0 || len(ts.backend.sessions) != 3 {
		t.Errorf("a refused terminate disconnected %v", ts.backend.disconnected)
	}
	if r := ts.request(t, http.MethodGet, "/api/v1/sessions/terminate", nil); r.status != http.StatusNotFound {
		t.Errorf("GET of terminate: %d (a session named terminate is looked up)", r.status)
	}
}

func TestClientFiltersAndTerminate(t *testing.T) {
	ts := startServer(t, nil)
	c, err := NewClient(ts.url, []byte(testToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ss, total, err := c.SessionsPage(ctx, url.Values{"state": {"up"}, "sort": {"-id"}, "limit": {"1"}})
	if err != nil || total != 2 || len(ss) != 1 || ss[0].ID != "0000b2" {
		t.Fatalf("SessionsPage: %v total %d, %v", ss, total, err)
	}
	_, _, err = c.SessionsPage(ctx, url.Values{"user~": {"("}})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "bad regular expression") {
		t.Errorf("bad regexp: %v", err)
	}
	res, err := c.Terminate(ctx, TerminateRequest{All: true})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Errorf("terminate all unconfirmed: %+v %v", res, err)
	}
	res, err = c.Terminate(ctx, TerminateRequest{Filter: map[string]string{"user~": "^(alice|bob)@"}})
	if err != nil || res.Terminated != 2 {
		t.Errorf("terminate: %+v %v", res, err)
	}
	if _, err := c.Pools(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("pools of a backend without: %v", err)
	}
	if v, err := c.Version(ctx); err != nil || v.Go == "" {
		t.Errorf("version: %+v %v", v, err)
	}
	if _, err := c.Stats(ctx); err != nil {
		t.Errorf("stats: %v", err)
	}
}
