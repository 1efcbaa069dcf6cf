package ctl

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/api/apitest"
	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/logx"
)

// TestLogLevel runs bras log-level against the real API server over the
// daemon's logging: it shows the levels, sets the default and component
// levels (which the logging then applies), clears them, and reports a bad
// level with the server's reason.
func TestLogLevel(t *testing.T) {
	lg, err := logx.New(logx.Settings{}, logx.Options{Output: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	s, err := api.New(api.Config{Token: config.Secret(token), Backend: apitest.NewBackend(nil, nil), LogLevels: lg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	var out, errb bytes.Buffer
	vars := map[string]string{"BRAS_API": hs.URL, "BRAS_API_TOKEN": token}
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	run := func(args ...string) (string, error) {
		out.Reset()
		err := LogLevel(context.Background(), args, env)
		return out.String(), err
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "level: info\nlevels: (none: every component at the default level)\n"},
		{[]string{"l2tp=debug,radius=warn"}, "level: info\nlevels: l2tp=debug,radius=warn\n"},
		{[]string{"warn"}, "level: warn\nlevels: l2tp=debug,radius=warn\n"},
		{[]string{"error", "pppoe=debug"}, "level: error\nlevels: pppoe=debug\n"},
		{[]string{"-json"}, "{\n  \"level\": \"error\",\n  \"levels\": \"pppoe=debug\"\n}\n"},
		{[]string{"-clear", "info"}, "level: info\nlevels: (none: every component at the default level)\n"},
	} {
		got, err := run(tc.args...)
		if err != nil || got != tc.want {
			t.Errorf("bras log-level %s: %q, %v; want %q", strings.Join(tc.args, " "), got, err, tc.want)
		}
	}
	if !lg.Enabled(logx.L2TP, 0) || lg.Enabled(logx.L2TP, -4) {
		t.Error("the logging does not follow the levels bras log-level set")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"loud"}, `400 Bad Request: level: bad level "loud"`},
		{[]string{"-clear", "ppp=debug"}, "-clear and component levels together"},
		{[]string{"ppp=debug", "-clear"}, `"-clear": flags go before the levels`},
		{[]string{"info", "debug"}, `two default levels given: "info" and "debug"`},
	} {
		if _, err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bras log-level %s: %v; want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
