package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReload: POST /api/v1/reload answers 200 with the changes, 400 with
// every reason of a refusal (and the client returns them as a
// *ReloadRefused), 401 without the token, 404 on a daemon that cannot
// reload.
func TestReload(t *testing.T) {
	var answer ReloadResult
	var refusal error
	calls := 0
	ts := startServer(t, func(c *Config) {
		c.Reload = func(context.Context) (ReloadResult, error) { calls++; return answer, refusal }
	})
	c, err := NewClient(ts.url, []byte(testToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	answer = ReloadResult{Changes: []string{"lns.conf:12: ppp.session-timeout: 0s -> 2h"}}
	res, err := c.Reload(ctx)
	if err != nil || !cmp.Equal(answer, res) {
		t.Errorf("applied reload: %+v %v, want %+v", res, err, answer)
	}

	answer = ReloadResult{}
	refusal = &ReloadRefused{Reasons: []string{
		`lns.conf:7: [pool "q"] range: 100.64.0.0/16 overlaps 100.64.0.0/24 of pool "p" (lns.conf:6)`,
		"lns.conf:3: tun.name: bras0 -> bras1 (needs a restart)",
	}}
	r := ts.request(t, http.MethodPost, "/api/v1/reload", map[string]string{"Authorization": "Bearer " + testToken})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `lns.conf:7: [pool \"q\"] range`) || !strings.Contains(r.body, "tun.name") {
		t.Errorf("refused reload: %d %s", r.status, r.body)
	}
	_, err = c.Reload(ctx)
	var rr *ReloadRefused
	if !errors.As(err, &rr) || !cmp.Equal(refusal.(*ReloadRefused).Reasons, rr.Reasons) {
		t.Errorf("client of a refused reload: %v, want the reasons %v", err, refusal)
	}

	before := calls
	if r := ts.request(t, http.MethodPost, "/api/v1/reload", map[string]string{"Authorization": ""}); r.status != http.StatusUnauthorized || calls != before {
		t.Errorf("reload without a token: %d (reloaded: %v)", r.status, calls != before)
	}
	if r := ts.request(t, http.MethodGet, "/api/v1/reload", map[string]string{"Authorization": "Bearer " + testToken}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v1/reload: %d, want 405", r.status)
	}

	none := startServer(t, nil)
	if r := none.request(t, http.MethodPost, "/api/v1/reload", map[string]string{"Authorization": "Bearer " + testToken}); r.status != http.StatusNotFound {
		t.Errorf("reload on a daemon without it: %d, want 404", r.status)
	}
}
