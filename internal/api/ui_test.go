package api

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/aaa/aaatest"
)

// TestUIFiles checks that the status page is served without a token, with
// a policy that keeps it to its own origin, and that / leads to it.
func TestUIFiles(t *testing.T) {
	ts := startServer(t, nil)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(ts.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d Location %q, want 302 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, tt := range []struct {
		path, ctype, has string
	}{
		{"/ui/", "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"/ui/app.js", "text/javascript; charset=utf-8", "'Bearer ' + token"},
		{"/ui/style.css", "text/css; charset=utf-8", ".badge.down"},
	} {
		r := ts.request(t, http.MethodGet, tt.path, map[string]string{"Authorization": ""})
		if r.status != http.StatusOK || r.ctype != tt.ctype || !strings.Contains(r.body, tt.has) {
			t.Errorf("GET %s without a token: %d %q, body has %q: %v", tt.path, r.status, r.ctype, tt.has, strings.Contains(r.body, tt.has))
		}
		if got := r.header.Get("Content-Security-Policy"); got != uiPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q", tt.path, got)
		}
		if r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", tt.path, r.header)
		}
	}
	if r := ts.request(t, http.MethodGet, "/ui/nothing.js", map[string]string{"Authorization": ""}); r.status != http.StatusNotFound {
		t.Errorf("GET /ui/nothing.js: %d", r.status)
	}
	// The data is not served without the token, even to the page.
	if r := ts.request(t, http.MethodGet, "/api/v1/sessions", map[string]string{"Authorization": ""}); r.status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/sessions without a token: %d", r.status)
	}
}

// TestUIFetchesNothingOutside reads the embedded files: no script, style,
// font or image from another origin, no CSS import; the only absolute URL
// is the SVG namespace, which is a name and never fetched.
func TestUIFetchesNothingOutside(t *testing.T) {
	outside := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(`)
	n := 0
	err := fs.WalkDir(uiFiles, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := uiFiles.ReadFile(path)
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(b), `'http://www.w3.org/2000/svg'`, "")
		for _, m := range outside.FindAllString(text, -1) {
			t.Errorf("%s refers outside the daemon: %q", path, m)
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("walking the embedded page: %d files, %v", n, err)
	}
}

// TestRADIUSEndpoint checks GET /api/v1/radius: the token is required, a
// daemon without RADIUS answers 404, and the servers' health comes from a
// real client: the one that answers is up with its last round trip, the
// silent one is held down with the time it is tried again.
func TestRADIUSEndpoint(t *testing.T) {
	secret := []byte("s3cret")
	live := aaatest.New(t, secret, aaatest.Users(map[string]aaatest.User{"alice": {Password: "pw"}}))
	silent := aaatest.New(t, secret, aaatest.Users(nil))
	silent.SetMode(aaatest.Silent)
	c, err := aaa.NewClient(aaa.ClientConfig{
		Servers:     []aaa.Server{{Addr: silent.Addr, Secret: secret}, {Addr: live.Addr, Secret: secret}},
		AcctServers: []aaa.Server{{Addr: live.Addr, Secret: secret}},
		Timeout:     100 * time.Millisecond, Retries: 0, DeadTime: time.Minute, NASIdentifier: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Authenticate(context.Background(), aaa.AuthRequest{Username: "alice", PAPPassword: []byte("pw")}); err != nil || !r.Accept {
		t.Fatalf("authenticate: %+v, %v", r, err)
	}
	if r, err := c.Authenticate(context.Background(), aaa.AuthRequest{Username: "alice", PAPPassword: []byte("wrong")}); err != nil || r.Accept {
		t.Fatalf("authenticate with a wrong password: %+v, %v", r, err)
	}
	before := time.Now()

	ts := startServer(t, func(cfg *Config) { cfg.RADIUS = RADIUSOf(c) })
	if r := ts.request(t, http.MethodGet, "/api/v1/radius", map[string]string{"Authorization": ""}); r.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d", r.status)
	}
	if r := ts.request(t, http.MethodGet, "/api/v1/radius", map[string]string{"Authorization": "Bearer nope"}); r.status != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %d", r.status)
	}
	if r := ts.get(t, "/api/v1/radius?x=1"); r.status != http.StatusBadRequest || !strings.Contains(errorMessage(t, r), `unknown parameter "x"`) {
		t.Errorf("unknown parameter: %d %s", r.status, r.body)
	}
	r := ts.get(t, "/api/v1/radius")
	if r.status != http.StatusOK || r.ctype != "application/json" {
		t.Fatalf("GET /api/v1/radius: %d %q %s", r.status, r.ctype, r.body)
	}
	var got []RADIUSServer
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("servers: %s", r.body)
	}
	dead, auth, acct := got[0], got[1], got[2]
	if dead.Addr != silent.Addr || dead.Kind != "access" || dead.Up || dead.DeadUntil == nil || !dead.DeadUntil.After(before.Add(50*time.Second)) ||
		dead.LastAnswer != nil || dead.LastLatencyMS != 0 || dead.Timeouts != 1 {
		t.Errorf("the silent server: %s", r.body)
	}
	if auth.Addr != live.Addr || auth.Kind != "access" || !auth.Up || auth.DeadUntil != nil || auth.Accepts != 1 || auth.Rejects != 1 ||
		auth.LastAnswer == nil || auth.LastLatencyMS <= 0 || auth.LastLatencyMS > 1000 {
		t.Errorf("the live server: %s", r.body)
	}
	if acct.Kind != "accounting" || !acct.Up || acct.LastAnswer != nil || acct.Accepts != 0 {
		t.Errorf("the accounting server, never asked: %s", r.body)
	}
	for _, key := range []string{`"addr"`, `"kind"`, `"up"`, `"last_latency_ms"`, `"accepts"`, `"rejects"`, `"timeouts"`, `"dead_until"`, `"last_answer"`} {
		if !strings.Contains(r.body, key) {
			t.Errorf("answer has no %s: %s", key, r.body)
		}
	}

	none := startServer(t, nil)
	if r := none.get(t, "/api/v1/radius"); r.status != http.StatusNotFound || !strings.Contains(errorMessage(t, r), "no RADIUS") {
		t.Errorf("without RADIUS: %d %s", r.status, r.body)
	}
	if RADIUSOf(nil) != nil {
		t.Error("RADIUSOf(nil) is not nil")
	}
}

// counters are cumulative set-up counters a test moves.
type counters struct {
	mu sync.Mutex
	c  SetupCounts
}

func (c *counters) add(up, failed uint64) {
	c.mu.Lock()
	c.c.Up += up
	c.c.Failed += failed
	c.mu.Unlock()
}

func (c *counters) read() SetupCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestSetupHistory moves the counters and the clock as Run does: each
// set-up lands in its 10 s bucket, the bucket in progress is the last, a
// quiet gap gives empty buckets, the window is as long as asked and an
// hour at most, and the ring wraps without losing its order.
func TestSetupHistory(t *testing.T) {
	cnt := &counters{c: SetupCounts{Up: 1000, Failed: 7}} // before the history: not in it
	clk := &clock{now: t0}
	h := NewSetupHistory(cnt.read, clk.Now)
	step := func(d time.Duration) { // what Run does, once a second
		for end := clk.Now().Add(d); clk.Now().Before(end); {
			clk.advance(time.Second)
			h.mu.Lock()
			h.roll(clk.Now())
			h.mu.Unlock()
		}
	}
	b := func(sec int, up, failed uint64) SetupBucketCounts {
		return SetupBucketCounts{Start: t0.Add(time.Duration(sec) * time.Second), Up: up, Failed: failed}
	}

	cnt.add(3, 1)
	if diff := cmp.Diff(Setups{BucketSeconds: 10, Minutes: 10, Up: 3, Failed: 1, Buckets: []SetupBucketCounts{b(0, 3, 1)}}, h.Last(10)); diff != "" {
		t.Errorf("first bucket, in progress (-want +got)\n%s", diff)
	}
	step(10 * time.Second)
	cnt.add(5, 0)
	step(20 * time.Second) // 10-20 has the 5, 20-30 nothing
	cnt.add(0, 2)
	step(4 * time.Second)
	if diff := cmp.Diff(Setups{BucketSeconds: 10, Minutes: 10, Up: 8, Failed: 3,
		Buckets: []SetupBucketCounts{b(0, 3, 1), b(10, 5, 0), b(20, 0, 0), b(30, 0, 2)}}, h.Last(10)); diff != "" {
		t.Errorf("after 34 s (-want +got)\n%s", diff)
	}

	// 15 minutes with nobody reading (Run stopped): what happened meanwhile
	// lands in the bucket that was open, the gap is empty buckets.
	clk.advance(15 * time.Minute)
	cnt.add(1, 0)
	got := h.Last(10)
	if len(got.Buckets) != 60 || got.Up != 0 || got.Failed != 0 {
		t.Errorf("10-min window after the gap: %d buckets, %d up, %d failed, want 60, 0, 0", len(got.Buckets), got.Up, got.Failed)
	}
	if want := clk.Now().Truncate(SetupBucket); !got.Buckets[59].Start.Equal(want) {
		t.Errorf("the last bucket starts %v, want %v", got.Buckets[59].Start, want)
	}
	all := h.Last(60)
	if len(all.Buckets) != 94 || all.Up != 9 || all.Failed != 3 || !all.Buckets[3].Start.Equal(t0.Add(30*time.Second)) || all.Buckets[3].Up != 1 {
		t.Errorf("60-min window: %d buckets, %d up, %d failed, bucket 3 %+v; want 94, 9 up, 3 failed, 1 up at 30 s",
			len(all.Buckets), all.Up, all.Failed, all.Buckets[3])
	}
	if got := h.Last(1000); got.Minutes != 60 || len(got.Buckets) != 94 {
		t.Errorf("Last(1000): %d minutes, %d buckets; an hour at most", got.Minutes, len(got.Buckets))
	}

	// Two hours of one set-up every 10 s: the ring holds the last hour, in order.
	for range 720 {
		cnt.add(1, 0)
		step(SetupBucket)
	}
	all = h.Last(60)
	if len(all.Buckets) != 360 || all.Up != 359 {
		t.Errorf("after 2 h: %d buckets, %d up, want 360 and 359 (the bucket in progress is empty)", len(all.Buckets), all.Up)
	}
	for i := 1; i < len(all.Buckets); i++ {
		if d := all.Buckets[i].Start.Sub(all.Buckets[i-1].Start); d != SetupBucket {
			t.Fatalf("buckets %d and %d are %v apart", i-1, i, d)
		}
	}
}

// TestSetupsEndpoint checks GET /api/v1/setups: the token, the window
// parameter, the answer's shape, and 404 for a daemon without a history.
func TestSetupsEndpoint(t *testing.T) {
	cnt := &counters{}
	clk := &clock{now: t0.Add(5 * time.Second)}
	ts := startServer(t, func(cfg *Config) { cfg.Setups = NewSetupHistory(cnt.read, clk.Now) })
	cnt.add(4, 2)
	if r := ts.request(t, http.MethodGet, "/api/v1/setups", map[string]string{"Authorization": ""}); r.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d", r.status)
	}
	for _, q := range []string{"minutes=0", "minutes=61", "minutes=ten", "minutes=5&minutes=6", "hours=1"} {
		if r := ts.get(t, "/api/v1/setups?"+q); r.status != http.StatusBadRequest {
			t.Errorf("?%s: %d %s", q, r.status, r.body)
		} else if msg := errorMessage(t, r); !strings.Contains(msg, "minutes") && !strings.Contains(msg, "hours") {
			t.Errorf("?%s: %q does not name the parameter", q, msg)
		}
	}
	r := ts.get(t, "/api/v1/setups?minutes=5")
	want := `{
  "bucket_seconds": 10,
  "minutes": 5,
  "up": 4,
  "failed": 2,
  "buckets": [
    {
      "start": "2026-11-21T06:00:00Z",
      "up": 4,
      "failed": 2
    }
  ]
}
`
	if r.status != http.StatusOK || r.ctype != "application/json" {
		t.Errorf("GET /api/v1/setups: %d %q", r.status, r.ctype)
	}
	if diff := cmp.Diff(want, r.body); diff != "" {
		t.Errorf("GET /api/v1/setups?minutes=5 (-want +got)\n%s", diff)
	}
	if r := ts.get(t, "/api/v1/setups"); r.status != http.StatusOK || !strings.Contains(r.body, `"minutes": 10`) {
		t.Errorf("default window: %d %s", r.status, r.body)
	}
	none := startServer(t, nil)
	if r := none.get(t, "/api/v1/setups"); r.status != http.StatusNotFound {
		t.Errorf("without a history: %d %s", r.status, r.body)
	}
}
