package lns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// logBuffer collects the daemon's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines parses every line written so far, failing the test on one that
// is not a JSON object.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	out := l.b.String()
	l.mu.Unlock()
	var got []map[string]any
	for _, ln := range strings.Split(out, "\n") {
		if ln == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("log line is not JSON (%v): %s", err, ln)
		}
		got = append(got, m)
	}
	return got
}

// wait returns the first line that match accepts, waiting up to 10 s.
func (l *logBuffer) wait(t *testing.T, what string, match func(m map[string]any) bool) map[string]any {
	t.Helper()
	return l.waitFor(t, 10*time.Second, what, match)
}

// waitFor is wait, up to d.
func (l *logBuffer) waitFor(t *testing.T, d time.Duration, what string, match func(m map[string]any) bool) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		for _, m := range l.lines(t) {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %s within %s", what, d)
		}
	}
}

// event matches the session event line msg of user.
func event(msg, user string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["msg"] == msg && m["user"] == user }
}

// TestLogsJSON runs the LNS daemon with [log] format = json against a real
// FreeRADIUS and checks what an operator's log pipeline relies on: every
// line is a JSON object; a session's up and down lines, an authentication
// failure and a refused address each come as one line carrying the
// session's IDs (the Acct-Session-Id the API knows, the L2TP tunnel and
// session, the LAC, the user and the address); and PUT /api/v1/log-level
// changes what is written while the daemon runs (ppp=debug brings the PPP
// component's debug lines and no others), with a 400 and the reason for a
// bad level.
func TestLogsJSON(t *testing.T) {
	users := []testenv.RadiusUser{
		{Name: "alice", Password: "pw-a"},
		{Name: "bob", Password: "pw-b"},
		{Name: "carol", Password: "pw-c", Reply: []testenv.RadiusAttr{{Name: "Framed-Pool", Value: "nosuch"}}},
		{Name: "dave", Password: "pw-d"},
		{Name: "erin", Password: "pw-e"},
	}
	var logs logBuffer
	l := startLabLogs(t, users, "[log]\nformat = json\nlevel = info\n", &logs)
	ctx := context.Background()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")
	client := apiClient(t, l)

	// The IDs every event line of a session carries, from its up line.
	ids := func(t *testing.T, m map[string]any) {
		t.Helper()
		if m[logx.KeyComponent] != logx.LNS || m[logx.KeyLAC] != "lac1" || !strings.HasPrefix(fmt.Sprint(m[logx.KeyPeer]), "10.10.0.1:") {
			t.Errorf("line %v: want component lns, lac lac1, peer 10.10.0.1", m)
		}
		if id, _ := m[logx.KeyAcctSessionID].(string); !strings.HasPrefix(id, "e2e") {
			t.Errorf("line %v: acct_session_id %v", m, m[logx.KeyAcctSessionID])
		}
		for _, k := range []string{logx.KeyTunnelID, logx.KeySessionID} {
			if n, ok := m[k].(float64); !ok || n < 1 || n > 65535 {
				t.Errorf("line %v: %s %v, want an L2TP ID", m, k, m[k])
			}
		}
	}

	var aliceUp map[string]any
	t.Run("session up and down", func(t *testing.T) {
		alice := lac.dialAuth("alice", "pw-a", "02:00:00:00:0d:01", ppp.AuthPAP)
		info := waitUp(t, alice)
		aliceUp = logs.wait(t, "session up of alice", event(logx.MsgSessionUp, "alice"))
		ids(t, aliceUp)
		if aliceUp["level"] != "INFO" || aliceUp[logx.KeyIP] != info.Local.String() {
			t.Errorf("session up %v: want INFO with ip %s", aliceUp, info.Local)
		}
		if aliceUp[logx.KeyTunnelID] != float64(alice.call.Tunnel().PeerID()) || aliceUp[logx.KeySessionID] != float64(alice.call.PeerID()) {
			t.Errorf("session up %v: tunnel %d session %d, as the LAC sees the LNS's IDs", aliceUp, alice.call.Tunnel().PeerID(), alice.call.PeerID())
		}
		ss, err := client.Sessions(ctx, api.SessionFilter{})
		if err != nil || len(ss) != 1 || ss[0].ID != aliceUp[logx.KeyAcctSessionID] {
			t.Errorf("the API's sessions %+v (%v); want the one of acct_session_id %v", ss, err, aliceUp[logx.KeyAcctSessionID])
		}

		lac.in <- simInput{sub: alice, close: true} // the subscriber hangs up
		waitCDN(t, alice, 10*time.Second)
		down := logs.wait(t, "session down of alice", event(logx.MsgSessionDown, "alice"))
		ids(t, down)
		for _, k := range []string{logx.KeyAcctSessionID, logx.KeyTunnelID, logx.KeySessionID, logx.KeyPeer, logx.KeyIP} {
			if down[k] != aliceUp[k] {
				t.Errorf("session down %s = %v, session up %v", k, down[k], aliceUp[k])
			}
		}
		if down[logx.KeyCause] != "User-Request" {
			t.Errorf("session down %v: cause %v, want User-Request", down, down[logx.KeyCause])
		}
	})

	t.Run("authentication failed", func(t *testing.T) {
		lac.dialAuth("bob", "wrong", "02:00:00:00:0d:02", ppp.AuthPAP)
		m := logs.wait(t, "authentication failed of bob", event(logx.MsgAuthFailed, "bob"))
		ids(t, m)
		if m[logx.KeyReason] == "" || m["level"] != "INFO" {
			t.Errorf("authentication failed %v: want INFO with a reason", m)
		}
		down := logs.wait(t, "session down of bob", event(logx.MsgSessionDown, "bob"))
		if down[logx.KeyAcctSessionID] != m[logx.KeyAcctSessionID] || down[logx.KeyIP] != nil {
			t.Errorf("bob's session down %v: want the acct_session_id of its failure and no ip", down)
		}
	})

	t.Run("address refused", func(t *testing.T) {
		lac.dialAuth("carol", "pw-c", "02:00:00:00:0d:03", ppp.AuthPAP)
		m := logs.wait(t, "address refused of carol", event(logx.MsgAddressRefused, "carol"))
		ids(t, m)
		if m["level"] != "WARN" || m["pool"] != "nosuch" || !strings.Contains(fmt.Sprint(m["err"]), "nosuch") {
			t.Errorf("address refused %v: want WARN naming pool nosuch", m)
		}
		logs.wait(t, "session down of carol", event(logx.MsgSessionDown, "carol"))
		for _, m := range logs.lines(t) {
			if m["user"] == "carol" && m["msg"] == logx.MsgAuthFailed {
				t.Errorf("the refused address is logged as an authentication failure too: %v", m)
			}
		}
	})

	// terminate ends user's session through the API, by the
	// acct_session_id of its up line.
	terminate := func(t *testing.T, user string, sub *simSub) map[string]any {
		t.Helper()
		up := logs.wait(t, "session up of "+user, event(logx.MsgSessionUp, user))
		if err := client.Disconnect(ctx, up[logx.KeyAcctSessionID].(string)); err != nil {
			t.Fatalf("DELETE the session of the up line %v: %v", up, err)
		}
		waitCDN(t, sub, 10*time.Second)
		down := logs.wait(t, "session down of "+user, event(logx.MsgSessionDown, user))
		if down[logx.KeyCause] != "Admin-Reset" || down[logx.KeyAcctSessionID] != up[logx.KeyAcctSessionID] {
			t.Errorf("session down %v after DELETE of %v: want cause Admin-Reset", down, up[logx.KeyAcctSessionID])
		}
		return up
	}
	debugLines := func() []map[string]any {
		var d []map[string]any
		for _, m := range logs.lines(t) {
			if m["level"] == "DEBUG" {
				d = append(d, m)
			}
		}
		return d
	}

	t.Run("log level changed at run time", func(t *testing.T) {
		dave := lac.dialAuth("dave", "pw-d", "02:00:00:00:0d:04", ppp.AuthPAP)
		waitUp(t, dave)
		terminate(t, "dave", dave)
		if d := debugLines(); len(d) != 0 {
			t.Fatalf("debug lines at level info: %v", d)
		}

		s := func(v string) *string { return &v }
		got, err := client.SetLogLevel(ctx, api.LogLevelChange{Levels: s("ppp=debug")})
		if err != nil || got != (api.LogLevel{Level: "info", Levels: "ppp=debug"}) {
			t.Fatalf("PUT /api/v1/log-level ppp=debug: %+v, %v", got, err)
		}
		erin := lac.dialAuth("erin", "pw-e", "02:00:00:00:0d:05", ppp.AuthPAP)
		waitUp(t, erin)
		up := terminate(t, "erin", erin)
		closed := logs.wait(t, "PPP's debug line of erin's close", func(m map[string]any) bool {
			return m["level"] == "DEBUG" && m[logx.KeyAcctSessionID] == up[logx.KeyAcctSessionID]
		})
		if closed[logx.KeyComponent] != logx.PPP || closed[logx.KeyLAC] != "lac1" {
			t.Errorf("PPP's debug line %v: want component ppp with the session's IDs", closed)
		}
		for _, m := range debugLines() {
			if m[logx.KeyComponent] != logx.PPP {
				t.Errorf("a debug line of another component than ppp: %v", m)
			}
		}

		_, err = client.SetLogLevel(ctx, api.LogLevelChange{Level: s("chatty")})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, `bad level "chatty"`) {
			t.Errorf("PUT a bad level: %v; want 400 naming it", err)
		}
		if got, err := client.LogLevel(ctx); err != nil || got != (api.LogLevel{Level: "info", Levels: "ppp=debug"}) {
			t.Errorf("GET after a bad PUT: %+v, %v", got, err)
		}
		if out := l.httpGet(t, "/api/v1/log-level", ""); !strings.Contains(out, " 401 ") {
			t.Errorf("GET /api/v1/log-level without the token: %s", out)
		}
	})

	t.Run("a burst of identical warnings folded into a count", func(t *testing.T) {
		// Tunnels from a host the LNS does not know: one warning each,
		// the first logx.DefaultBurst written, the rest counted and
		// reported at the end of the interval.
		const attempts = logx.DefaultBurst + 6
		for i := range attempts {
			var conn *net.UDPConn
			if err := l.lac.Do(func() (err error) { conn, err = net.ListenUDP("udp4", &net.UDPAddr{}); return }); err != nil {
				t.Fatal(err)
			}
			ep, err := l2tp.NewEndpoint(conn, l2tp.Config{HostName: fmt.Sprintf("intruder%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); ep.Run(rctx) }()
			for range 100 {
				dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
				_, err = ep.Dial(dctx, lnsAddr, l2tp.TunnelOptions{})
				dcancel()
				if !errors.Is(err, l2tp.ErrNotRunning) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			conn.Close()
			if err == nil {
				t.Fatalf("a tunnel from intruder%d was accepted", i)
			}
		}
		const msg = "tunnel refused: unknown LAC"
		report := logs.waitFor(t, 2*logx.DefaultInterval, "the count of the refusals held back", func(m map[string]any) bool {
			return strings.HasPrefix(fmt.Sprint(m["msg"]), msg+" (repeated ")
		})
		written := 0
		for _, m := range logs.lines(t) {
			if m["msg"] == msg {
				written++
			}
		}
		if written != logx.DefaultBurst || report["repeated"] != float64(attempts-written) || report[logx.KeyComponent] != logx.LNS ||
			report["msg"] != fmt.Sprintf("%s (repeated %d times in %s)", msg, attempts-written, logx.DefaultInterval) {
			t.Errorf("%d refusals: %d lines written and the report %v; want %d and a count of the rest", attempts, written, report, logx.DefaultBurst)
		}
	})

	// Whatever was written, every line is a JSON object.
	if n := len(logs.lines(t)); n < 10 {
		t.Errorf("only %d log lines", n)
	}
}

// apiClient is an API client of the lab's LNS, dialling from namespace lns.
func apiClient(t *testing.T, l *lab) *api.Client {
	t.Helper()
	c, err := api.NewClient("http://127.0.0.1:18080", []byte("tok"), newCLI(t, l).env.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
