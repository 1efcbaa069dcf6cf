package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bras-project/bras/internal/logx"
)

// TestLogLevel: GET shows the levels in force, PUT changes what it is
// given (and the daemon's logging then writes by the new levels), a bad
// level or body is a 400 with the reason that changes nothing, the token
// is required, and a daemon without logging set up has no such endpoint.
func TestLogLevel(t *testing.T) {
	var out bytes.Buffer
	lg, err := logx.New(logx.Settings{Level: "info", Levels: []string{"ppp=warn"}}, logx.Options{Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	ts := startServer(t, func(c *Config) { c.LogLevels = lg })
	c, err := NewClient(ts.url, []byte(testToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := c.LogLevel(ctx); err != nil || got != (LogLevel{Level: "info", Levels: "ppp=warn"}) {
		t.Errorf("GET: %+v, %v", got, err)
	}
	s := func(v string) *string { return &v }
	got, err := c.SetLogLevel(ctx, LogLevelChange{Levels: s("l2tp=debug, radius=error")})
	if err != nil || got != (LogLevel{Level: "info", Levels: "l2tp=debug,radius=error"}) {
		t.Errorf("PUT levels: %+v, %v", got, err)
	}
	l2tp := lg.Logger().With(logx.KeyComponent, logx.L2TP)
	l2tp.Debug("written at debug")
	lg.Logger().With(logx.KeyComponent, logx.LNS).Debug("not written")
	if !strings.Contains(out.String(), "written at debug") || strings.Contains(out.String(), "not written") {
		t.Errorf("lines after PUT:\n%s", out.String())
	}
	if got, err = c.SetLogLevel(ctx, LogLevelChange{Level: s("warn")}); err != nil || got != (LogLevel{Level: "warn", Levels: "l2tp=debug,radius=error"}) {
		t.Errorf("PUT level: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		body, want string
	}{
		{`{"level":"loud"}`, `level: bad level "loud": want debug, info, warn or error`},
		{`{"levels":"l2tp=debug,bgp=info"}`, `levels: "bgp=info": unknown component "bgp"`},
		{`{}`, `body: give "level", "levels" or both`},
		{`{"level":"info","colour":"red"}`, `unknown field "colour"`},
		{`level=info`, `body: want {"level": "info"`},
	} {
		r := ts.put(t, "/api/v1/log-level", tc.body)
		if r.status != http.StatusBadRequest || !strings.Contains(errorMessage(t, r), tc.want) {
			t.Errorf("PUT %s: %d %s; want 400 saying %q", tc.body, r.status, r.body, tc.want)
		}
	}
	if got, _ := c.LogLevel(ctx); got != (LogLevel{Level: "warn", Levels: "l2tp=debug,radius=error"}) {
		t.Errorf("after bad requests: %+v", got)
	}
	if r := ts.request(t, "GET", "/api/v1/log-level", map[string]string{"Authorization": ""}); r.status != http.StatusUnauthorized {
		t.Errorf("GET without a token: %d", r.status)
	}
	bad, _ := NewClient(ts.url, []byte("wrong"), nil)
	if _, err := bad.SetLogLevel(ctx, LogLevelChange{Level: s("debug")}); err == nil {
		t.Error("PUT with a wrong token: no error")
	}
	if got, _ := c.LogLevel(ctx); got.Level != "warn" {
		t.Errorf("a PUT with a wrong token changed the level: %+v", got)
	}

	plain := startServer(t, nil)
	pc, _ := NewClient(plain.url, []byte(testToken), nil)
	if _, err := pc.LogLevel(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("GET on a server without LogLevels: %v, want 404", err)
	}
}

func (ts *testServer) put(t *testing.T, path, body string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b), header: resp.Header}
}
