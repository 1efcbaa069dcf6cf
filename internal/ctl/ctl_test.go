package ctl

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/api/apitest"
	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/metrics"
)

const token = "ctl-test-token"

var t0 = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

func sessions() []api.Session {
	return []api.Session{
		{ID: "a1", User: "alice@isp", State: "up", MAC: "02:00:00:00:00:01", CircuitID: "olt1 1/1/1", LAC: "lac1", LACAddr: "192.0.2.1",
			Addr: netip.MustParseAddr("100.64.0.1"), TunnelID: 1, Started: t0, InOctets: 50, RateDownKbps: 100000, RateUpKbps: 20000},
		{ID: "b2", User: "bob@isp", State: "up", MAC: "02:00:00:00:00:02", RemoteID: "cpe-2", LAC: "lac2", LACAddr: "192.0.2.2",
			Addr: netip.MustParseAddr("100.64.0.2"), TunnelID: 2, Started: t0.Add(time.Hour), InOctets: 70},
		{ID: "c3", User: "bobby@other", State: "negotiating", MAC: "02:00:00:00:00:03", LAC: "lac1", TunnelID: 1, Started: t0.Add(2 * time.Hour)},
	}
}

// world is the real API server over an in-memory backend, and an Env
// pointed at it.
type world struct {
	b   *apitest.Backend
	env Env
	out *bytes.Buffer
	err *bytes.Buffer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	b := apitest.NewBackend(sessions(), []api.Tunnel{{LocalID: 1, PeerID: 7, Peer: "192.0.2.1:1701", HostName: "lac1", State: "established", Sessions: 2, Established: t0}})
	reg := metrics.New()
	reg.CounterFunc("bras_test_total", "A test counter.", nil, func() float64 { return 42 })
	s, err := api.New(api.Config{Token: config.Secret(token), Backend: b, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	w := &world{b: b, out: &bytes.Buffer{}, err: &bytes.Buffer{}}
	vars := map[string]string{"BRAS_API": hs.URL, "BRAS_API_TOKEN": token}
	w.env = Env{Stdout: w.out, Stderr: w.err, Stdin: strings.NewReader(""),
		Getenv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Now:    func() time.Time { return t0.Add(3*time.Hour + 5*time.Second) }}
	return w
}

func (w *world) reset() { w.out.Reset(); w.err.Reset() }

func TestShowSessions(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"default columns", nil, "" +
			"id  user         state        ip          mac                lac   tunnel  uptime    rate\n" +
			"a1  alice@isp    up           100.64.0.1  02:00:00:00:00:01  lac1  1       03:00:05  100M/20M\n" +
			"b2  bob@isp      up           100.64.0.2  02:00:00:00:00:02  lac2  2       02:00:05  \n" +
			"c3  bobby@other  negotiating              02:00:00:00:00:03  lac1  1       01:00:05  \n"},
		{"chosen columns", []string{"-o", "user,ip,circuit_id,remote_id"}, "" +
			"user         ip          circuit_id  remote_id\n" +
			"alice@isp    100.64.0.1  olt1 1/1/1  \n" +
			"bob@isp      100.64.0.2              cpe-2\n" +
			"bobby@other                          \n"},
		{"by mac", []string{"-o", "id", "-mac", "02-00-00-00-00-02"}, "id\nb2\n"},
		{"by user regexp with ~", []string{"-o", "id", "-user", "~^bob"}, "id\nb2\nc3\n"},
		{"by user regexp with -regex", []string{"-o", "id", "-regex", "-user", "^bob@"}, "id\nb2\n"},
		{"exact user", []string{"-o", "id", "-user", "bob"}, "id\n"},
		{"by lac and state", []string{"-o", "id", "-lac", "lac1", "-state", "up"}, "id\na1\n"},
		{"by lac address", []string{"-o", "id", "-lac", "192.0.2.2"}, "id\nb2\n"},
		{"by tunnel", []string{"-o", "id", "-tunnel", "1"}, "id\na1\nc3\n"},
		{"by ip prefix", []string{"-o", "id", "-ip", "100.64.0.0/24"}, "id\na1\nb2\n"},
		{"by circuit id regexp", []string{"-o", "id", "-circuit-id", "~1/1/1$"}, "id\na1\n"},
		{"sorted", []string{"-o", "id,in_octets", "-sort", "-in_octets"}, "id  in_octets\nb2  70\na1  50\nc3  0\n"},
		{"sorted by uptime", []string{"-o", "id", "-sort", "uptime"}, "id\nc3\nb2\na1\n"},
		{"csv", []string{"-o", "id,user", "-format", "csv", "-state", "up"}, "id,user\na1,alice@isp\nb2,bob@isp\n"},
		{"paged", []string{"-o", "id", "-limit", "1", "-offset", "1"}, "id\nb2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.reset()
			if err := Show(context.Background(), append([]string{"sessions"}, tt.args...), w.env); err != nil {
				t.Fatalf("%v (stderr %s)", err, w.err)
			}
			if diff := cmp.Diff(tt.want, w.out.String()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	w.reset()
	if err := Show(context.Background(), []string{"sessions", "-limit", "2"}, w.env); err != nil || w.err.String() != "2 of 3 sessions (from 0; -offset and -limit page)\n" {
		t.Errorf("a partial page: %v, stderr %q", err, w.err)
	}
	w.reset()
	if err := Show(context.Background(), []string{"sessions", "-json", "-user", "alice@isp"}, w.env); err != nil || !strings.Contains(w.out.String(), `"circuit_id": "olt1 1/1/1"`) {
		t.Errorf("-json: %v %s", err, w.out)
	}
}

func TestShowErrors(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sessions", "-user", "~(bob"}, "api: 400 Bad Request: parameter \"user~\": bad regular expression: error parsing regexp: missing closing ): `(bob`"},
		{[]string{"sessions", "-regex", "-mac", "[0-"}, "api: 400 Bad Request: parameter \"mac~\": bad regular expression: error parsing regexp: missing closing ]: `[0-`"},
		{[]string{"sessions", "-mac", "nope"}, `api: 400 Bad Request: parameter "mac": "nope" is not a MAC address (02:00:00:00:00:01)`},
		{[]string{"sessions", "-tunnel", "~1"}, `api: 400 Bad Request: parameter "tunnel": "~1" is not a tunnel ID from 1 to 65535`},
		{[]string{"sessions", "-sort", "colour"}, `api: 400 Bad Request: parameter "sort": "colour" is not a column`},
		{[]string{"sessions", "-o", "colour"}, `-o: unknown column "colour"`},
		{[]string{"sessions", "alice"}, `unexpected argument "alice"`},
		{[]string{"pools"}, "api: 404 Not Found: apitest: no pools"},
		{[]string{"routes"}, `unknown thing to show "routes"`},
		{[]string{"stats", "-match", "("}, "-match: error parsing regexp"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			w.reset()
			err := Show(context.Background(), tt.args, w.env)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v, want prefix %q", err, tt.want)
			}
			if w.out.Len() != 0 {
				t.Errorf("printed %q on failure", w.out)
			}
		})
	}
}

func TestShowOthers(t *testing.T) {
	w := newWorld(t)
	w.b.SetPools([]api.Pool{{Name: "default", Family: "ipv4", Size: 254, Used: 2, Free: 252}, {Name: "pd", Family: "ipv6", Length: 56, Size: 256, Used: 1, Free: 255}})
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"tunnels"}, "tunnel  peer_tunnel  peer            host_name  state        sessions  uptime\n1       7            192.0.2.1:1701  lac1       established  2         03:00:05\n"},
		{[]string{"pools"}, "name     family  length  shared  size  used  free\ndefault  ipv4            false   254   2     252\npd       ipv6    /56     false   256   1     255\n"},
		{[]string{"stats", "-match", "^bras_test"}, "metric           labels  value\nbras_test_total          42\n"},
		{[]string{"version"}, api.BuildVersion().String() + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			w.reset()
			if err := Show(context.Background(), tt.args, w.env); err != nil {
				t.Fatalf("%v (stderr %s)", err, w.err)
			}
			if diff := cmp.Diff(tt.want, w.out.String()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	w.reset()
	if err := Version(context.Background(), []string{"-daemon"}, w.env); err != nil || w.out.String() != api.BuildVersion().String()+"\ndaemon: "+api.BuildVersion().String()+"\n" {
		t.Errorf("version -daemon: %v %q", err, w.out)
	}
}

func ids(b *apitest.Backend) []string {
	var out []string
	ss, _ := b.Sessions(context.Background(), api.SessionFilter{})
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func TestTerminate(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		terminal bool
		stdin    string
		wantErr  error  // errors.Is
		errText  string // or a prefix of the error
		out      string
		remain   []string
	}{
		{name: "by user", args: []string{"-user", "bob@isp"}, out: "terminated 1 session (admin-reset)\n  b2\n", remain: []string{"a1", "c3"}},
		{name: "by id", args: []string{"-id", "a1"}, out: "terminated 1 session (admin-reset)\n  a1\n", remain: []string{"b2", "c3"}},
		{name: "by user regexp", args: []string{"-user", "~^bob"}, out: "terminated 2 sessions (admin-reset)\n  b2\n  c3\n", remain: []string{"a1"}},
		{name: "by mac", args: []string{"-mac", "02:00:00:00:00:03"}, out: "terminated 1 session (admin-reset)\n  c3\n", remain: []string{"a1", "b2"}},
		{name: "by ip", args: []string{"-ip", "100.64.0.1"}, out: "terminated 1 session (admin-reset)\n  a1\n", remain: []string{"b2", "c3"}},
		{name: "by lac", args: []string{"-lac", "lac1"}, out: "terminated 2 sessions (admin-reset)\n  a1\n  c3\n", remain: []string{"b2"}},
		{name: "by tunnel", args: []string{"-tunnel", "2"}, out: "terminated 1 session (admin-reset)\n  b2\n", remain: []string{"a1", "c3"}},
		{name: "dry run", args: []string{"-lac", "lac1", "-dry-run"}, out: "would terminate 2 sessions (dry run; nothing was terminated)\n  a1\n  c3\n", remain: []string{"a1", "b2", "c3"}},
		{name: "no match", args: []string{"-user", "nobody"}, errText: "no session matches: nothing was terminated", remain: []string{"a1", "b2", "c3"}},
		{name: "bad regexp", args: []string{"-user", "~(x"}, errText: "api: 400 Bad Request: parameter \"user~\": bad regular expression", remain: []string{"a1", "b2", "c3"}},
		{name: "no filter", args: nil, errText: "no filter", remain: []string{"a1", "b2", "c3"}},
		{name: "all and a filter", args: []string{"all", "-user", "x"}, errText: "all and a filter together", remain: []string{"a1", "b2", "c3"}},
		{name: "all, not a terminal", args: []string{"all"}, wantErr: ErrNotConfirmed, remain: []string{"a1", "b2", "c3"}},
		{name: "all, answered no", args: []string{"all"}, terminal: true, stdin: "n\n", wantErr: ErrNotConfirmed, remain: []string{"a1", "b2", "c3"}},
		{name: "all, no answer", args: []string{"all"}, terminal: true, stdin: "", wantErr: ErrNotConfirmed, remain: []string{"a1", "b2", "c3"}},
		{name: "all, dry run", args: []string{"all", "-dry-run"}, out: "would terminate 3 sessions (dry run; nothing was terminated)\n  a1\n  b2\n  c3\n", remain: []string{"a1", "b2", "c3"}},
		{name: "all, answered yes", args: []string{"all"}, terminal: true, stdin: "y\n", out: "terminated 3 sessions (admin-reset)\n  a1\n  b2\n  c3\n"},
		{name: "all -yes", args: []string{"all", "-yes"}, out: "terminated 3 sessions (admin-reset)\n  a1\n  b2\n  c3\n"},
		{name: "-yes all", args: []string{"-yes", "all"}, out: "terminated 3 sessions (admin-reset)\n  a1\n  b2\n  c3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.env.Terminal, w.env.Stdin = tt.terminal, strings.NewReader(tt.stdin)
			err := Terminate(context.Background(), tt.args, w.env)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.errText != "":
				if err == nil || !strings.HasPrefix(err.Error(), tt.errText) {
					t.Errorf("err = %v, want prefix %q", err, tt.errText)
				}
			case err != nil:
				t.Fatalf("%v (stderr %s)", err, w.err)
			}
			if diff := cmp.Diff(tt.out, w.out.String()); diff != "" {
				t.Errorf("stdout (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tt.remain, ids(w.b)); diff != "" {
				t.Errorf("sessions left (-want +got)\n%s", diff)
			}
		})
	}
	w := newWorld(t)
	err := Terminate(context.Background(), []string{"all"}, w.env)
	if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(w.err.String(), "all 3 sessions") || !strings.Contains(w.err.String(), "nothing was terminated (give -yes)") {
		t.Errorf("the refusal says why: %v, stderr %q", err, w.err)
	}
	w.reset()
	w.env.Terminal, w.env.Stdin = true, strings.NewReader("no\n")
	_ = Terminate(context.Background(), []string{"all"}, w.env)
	if w.err.String() != "terminate all 3 sessions (Admin-Reset)? [y/N] " {
		t.Errorf("the question %q", w.err)
	}
}
