package lac

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/logx"
)

// lockedBuffer is the log output of the LAC's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// find returns the JSON lines with message msg and user.
func (l *lockedBuffer) find(t *testing.T, msg, user string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	out := l.b.String()
	l.mu.Unlock()
	var got []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("log line is not JSON (%v): %s", err, ln)
		}
		if m["msg"] == msg && m[logx.KeyUser] == user {
			got = append(got, m)
		}
	}
	return got
}

// TestNetnsLACSessionLines: the LAC writes one JSON line per session
// event through the daemons' logging, each with the session's IDs: the
// subscriber's MAC and PPPoE session, the Acct-Session-Id, the user, and
// the L2TP tunnel and session with the LNS once the call is placed; a
// RADIUS reject is an authentication failure, and every session that ends
// has one session down line with its cause.
func TestNetnsLACSessionLines(t *testing.T) {
	routes, err := NewRoutes([]Route{{Realms: []string{"example.com"}, LNS: []LNS{liveLNS}}})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	lg, err := logx.New(logx.Settings{Format: "json"}, logx.Options{Output: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	rad := radiusFunc(func(_ context.Context, req aaa.AuthRequest) (*aaa.AuthReply, error) {
		if Realm(req.Username) == "reject.net" {
			return &aaa.AuthReply{ReplyMessage: "account locked"}, nil
		}
		return &aaa.AuthReply{Accept: true}, nil
	})
	l := newLab(t, Config{Routes: routes, RADIUS: rad, Logger: lg.Logger().With(logx.KeyComponent, logx.LAC)},
		AccessConfig{Mode: ModeProxy})

	s, err := l.dial(7, "", "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.waitUp(l.ctx); err != nil {
		t.Fatal(err)
	}
	const user = "user7@example.com"
	var up map[string]any
	within(t, 5*time.Second, "the session up line", func() bool {
		ups := logs.find(t, logx.MsgSessionUp, user)
		if len(ups) == 1 {
			up = ups[0]
		}
		return up != nil
	})
	sessions := l.lac.API()
	list, err := sessions.Sessions(l.ctx, api.SessionFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("API sessions %v, %v", list, err)
	}
	want := map[string]any{
		logx.KeyComponent: logx.LAC, logx.KeyAcctSessionID: list[0].ID, logx.KeyMAC: s.mac.String(), "mode": "proxy",
		logx.KeyTunnelID: float64(list[0].TunnelID), logx.KeySessionID: float64(list[0].SessionID),
		logx.KeyPeer: "10.9.0.2:1701", logx.KeyLNS: "live", "interface": "a0",
	}
	for k, v := range want {
		if up[k] != v {
			t.Errorf("session up %s = %v, want %v (line %v)", k, up[k], v, up)
		}
	}
	if id, ok := up["pppoe_session_id"].(float64); !ok || id < 1 {
		t.Errorf("session up: pppoe_session_id %v", up["pppoe_session_id"])
	}

	s.cs.Close() // PADT from the subscriber
	var down []map[string]any
	within(t, 5*time.Second, "the session down line", func() bool {
		down = logs.find(t, logx.MsgSessionDown, user)
		return len(down) > 0
	})
	if len(down) != 1 || !strings.HasPrefix(fmt.Sprint(down[0][logx.KeyCause]), "subscriber left") {
		t.Fatalf("session down lines %v; want one, cause subscriber left", down)
	}
	for _, k := range []string{logx.KeyAcctSessionID, logx.KeyMAC, logx.KeyTunnelID, logx.KeySessionID, logx.KeyLNS} {
		if down[0][k] != up[k] {
			t.Errorf("session down %s = %v, up %v", k, down[0][k], up[k])
		}
	}

	r, err := l.dial(8, "", "reject.net")
	if err != nil {
		t.Fatal(err)
	}
	r.waitPADT(t, "RADIUS reject")
	const rejected = "user8@reject.net"
	within(t, 5*time.Second, "the reject's lines", func() bool { return len(logs.find(t, logx.MsgSessionDown, rejected)) == 1 })
	fail := logs.find(t, logx.MsgAuthFailed, rejected)
	if len(fail) != 1 || fail[0][logx.KeyReason] != "account locked" || fail[0][logx.KeyMAC] != r.mac.String() {
		t.Errorf("authentication failed lines %v; want one with the Reply-Message and the MAC", fail)
	}
	if len(logs.find(t, logx.MsgSessionUp, rejected)) != 0 {
		t.Error("a rejected subscriber has a session up line")
	}
}
