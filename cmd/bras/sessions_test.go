package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/api/apitest"
	"github.com/bras-project/bras/internal/config"
)

const sessionsCmdToken = "cli-test-token"

// sessionsCmdServer starts the real API server over an in-memory backend
// and returns a getenv that points the CLI at it.
func sessionsCmdServer(t *testing.T) (*apitest.Backend, func(string) (string, bool)) {
	t.Helper()
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	b := apitest.NewBackend([]api.Session{
		{ID: "a1", User: "alice@isp", State: "up", LAC: "lac1", Addr: netip.MustParseAddr("100.64.0.1"), TunnelID: 1, SessionID: 11, Started: t0, InOctets: 5},
		{ID: "b2", User: "bob@isp", State: "up", LAC: "lac2", Addr: netip.MustParseAddr("100.64.0.2"), TunnelID: 2, SessionID: 12, Started: t0},
	}, nil)
	s, err := api.New(api.Config{Token: config.Secret(sessionsCmdToken), Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	env := map[string]string{"BRAS_API": hs.URL, "BRAS_API_TOKEN": sessionsCmdToken}
	return b, func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestSessionsCommand(t *testing.T) {
	_, getenv := sessionsCmdServer(t)
	header := "id,user,state,addr,lac,mac,tunnel_id,session_id,started,in_octets,out_octets,in_packets,out_packets,rate_down_kbps,rate_up_kbps\n"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"csv all", []string{"-format", "csv"}, header +
			"a1,alice@isp,up,100.64.0.1,lac1,,1,11,2026-11-21T06:00:00Z,5,0,0,0,0,0\n" +
			"b2,bob@isp,up,100.64.0.2,lac2,,2,12,2026-11-21T06:00:00Z,0,0,0,0,0,0\n"},
		{"by lac", []string{"-format", "csv", "-lac", "lac2"}, header + "b2,bob@isp,up,100.64.0.2,lac2,,2,12,2026-11-21T06:00:00Z,0,0,0,0,0,0\n"},
		{"by addr", []string{"-format=csv", "-addr", "100.64.0.1"}, header + "a1,alice@isp,up,100.64.0.1,lac1,,1,11,2026-11-21T06:00:00Z,5,0,0,0,0,0\n"},
		{"by user and state", []string{"-format=csv", "-user", "bob@isp", "-state", "up"}, header + "b2,bob@isp,up,100.64.0.2,lac2,,2,12,2026-11-21T06:00:00Z,0,0,0,0,0,0\n"},
		{"none", []string{"-format=csv", "-state", "auth"}, header},
		{"table", []string{"-user", "alice@isp"}, "id  user       state  addr        lac   mac  tunnel_id  session_id  started               in_octets  out_octets  in_packets  out_packets  rate_down_kbps  rate_up_kbps\n" +
			"a1  alice@isp  up     100.64.0.1  lac1       1          11          2026-11-21T06:00:00Z  5          0           0           0            0               0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := runSessions(context.Background(), tt.args, &out, &errOut, getenv); err != nil {
				t.Fatalf("runSessions: %v (stderr %s)", err, errOut.String())
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	var out bytes.Buffer
	if err := runSessions(context.Background(), []string{"-format", "json", "-lac", "nowhere"}, &out, &out, getenv); err != nil || out.String() != "[]\n" {
		t.Errorf("json, no match: %q %v", out.String(), err)
	}
}

func TestSessionsCommandErrors(t *testing.T) {
	_, getenv := sessionsCmdServer(t)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrong, []byte("nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noToken := func(k string) (string, bool) {
		if k == "BRAS_API_TOKEN" {
			return "", false
		}
		return getenv(k)
	}
	tests := []struct {
		name   string
		args   []string
		getenv func(string) (string, bool)
		want   string
	}{
		{"bad addr", []string{"-addr", "100.64.0"}, getenv, `api: 400 Bad Request: parameter "ip": "100.64.0" is not an IP address or prefix`},
		{"bad regexp", []string{"-user", "~(alice"}, getenv, "api: 400 Bad Request: parameter \"user~\": bad regular expression"},
		{"bad format", []string{"-format", "xml"}, getenv, `-format: table: unknown format "xml" (want table, csv or json)`},
		{"bad limit", []string{"-limit", "-3"}, getenv, `api: 400 Bad Request: parameter "limit": "-3" is not an integer from 1 to 1048576`},
		{"bad column", []string{"-o", "id,colour"}, getenv, `-o: unknown column "colour"`},
		{"positional", []string{"alice"}, getenv, `unexpected argument "alice"`},
		{"unknown flag", []string{"-usr", "x"}, getenv, "flag provided but not defined: -usr"},
		{"no token", nil, noToken, "no API token: give -token-file FILE or set BRAS_API_TOKEN"},
		{"wrong token", []string{"-token-file", wrong}, getenv, "api: 401 Unauthorized: invalid bearer token"},
		{"missing token file", []string{"-token-file", filepath.Join(dir, "none")}, getenv, "-token-file: open"},
		{"server down", []string{"-api", "http://127.0.0.1:1"}, getenv, "api: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runSessions(context.Background(), tt.args, &out, &errOut, tt.getenv)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v, want prefix %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on failure", out.String())
			}
		})
	}
}

func TestDisconnectCommand(t *testing.T) {
	b, getenv := sessionsCmdServer(t)
	var out, errOut bytes.Buffer
	if err := runDisconnect(context.Background(), []string{"a1"}, &out, &errOut, getenv); err != nil {
		t.Fatal(err)
	}
	if out.String() != "disconnected a1 (admin-reset)\n" {
		t.Errorf("stdout %q", out.String())
	}
	if diff := cmp.Diff([]string{"a1 admin-reset"}, b.Disconnected()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	out.Reset()
	err := runDisconnect(context.Background(), []string{"zz", "b2"}, &out, &errOut, getenv)
	if err == nil || err.Error() != `zz: api: 404 Not Found: session "zz" not found` {
		t.Errorf("unknown session: %v", err)
	}
	if out.String() != "disconnected b2 (admin-reset)\n" {
		t.Errorf("the known session of the list was not disconnected: %q", out.String())
	}
	if err := runDisconnect(context.Background(), nil, &out, &errOut, getenv); err == nil {
		t.Error("disconnect without an ID succeeded")
	}
}
