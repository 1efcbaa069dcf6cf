package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// TestSeveralTunnels runs the real LAC and LNS with a real FreeRADIUS and
// PostgreSQL, the LAC set (by a reload) to keep 3 tunnels of at most 20
// sessions to the LNS, and 50 subscribers from bras load:
//   - the LAC opens 3 tunnels and spreads the subscribers over them;
//   - the LNS accepts the 3 from one LAC host name and address, and lists
//     each with its own sessions (API), as its metrics do;
//   - PostgreSQL's accounting rows name the 3 tunnels, as many rows each;
//   - the LNS clears one tunnel (DELETE /api/v1/tunnels/{id}, a StopCCN):
//     its sessions go down and are closed in PostgreSQL, the sessions of
//     the other two stay up, and the LAC dials a replacement.
func TestSeveralTunnels(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	bin := buildBras(t)
	const n, tunnels, perTunnel = 50, 3, 20
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	e, err := Setup(ctx, Options{Bras: bin, Subscribers: n, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	// The tunnel keys are live: set them by a reload before anyone dials.
	lacConf := filepath.Join(e.Dir, "lac.conf")
	lac, err := os.ReadFile(lacConf)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, lacConf, strings.Replace(string(lac), "[lac]\n", fmt.Sprintf("[lac]\ntunnels = %d\nsessions-per-tunnel = %d\n", tunnels, perTunnel), 1))
	if msg, err := e.NS["lac"].Command(bin, "reload", "-api", lacAPI).CombinedOutput(); err != nil ||
		!strings.Contains(string(msg), "lac.tunnels: 0 -> 3") || !strings.Contains(string(msg), "lac.sessions-per-tunnel: 0 -> 20") {
		t.Fatalf("bras reload of the LAC: %v\n%s", err, msg)
	}

	report := filepath.Join(e.Dir, "load.json")
	loadCmd := exec.CommandContext(ctx, "ip", "netns", "exec", e.NS["sub"].Name, bin, "load", "-iface", "eth0", "-n", fmt.Sprint(n),
		"-user", "user%d@"+realm, "-password", "pw%d", "-auth", "mixed", "-hold", "90s", "-setup-timeout", "60s", "-q", "-json", report)
	loadCmd.Stdout, loadCmd.Stderr = out, out
	if err := loadCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		loadCmd.Process.Kill()
		loadCmd.Wait()
	}()

	upSessions := func() []api.Session {
		js, err := e.NS["lns"].Run(bin, "sessions", "-api", lnsAPI, "-state", "up", "-format", "json")
		var ss []api.Session
		if err != nil || json.Unmarshal([]byte(js), &ss) != nil {
			return nil
		}
		return ss
	}
	lnsTunnels := func() []api.Tunnel {
		js, err := e.NS["lns"].Run("curl", "-sS", "-f", "-H", "Authorization: Bearer "+apiToken, lnsAPI+"/api/v1/tunnels")
		var ts []api.Tunnel
		if err != nil || json.Unmarshal([]byte(js), &ts) != nil {
			return nil
		}
		return ts
	}
	lacTunnels := func() []int {
		m, err := e.Metrics("lac")
		if err != nil {
			return nil
		}
		return TunnelSessions(m)
	}
	wait := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !cond(); time.Sleep(300 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; the LAC's tunnel log lines:\n%s\nLNS log:\n%s", what, tunnelLines(e.LAC.log), e.LNS.tail())
			}
		}
	}
	wait(fmt.Sprintf("%d sessions up on the LNS", n), 90*time.Second, func() bool { return len(upSessions()) == n })
	start := time.Now()

	// The LAC: 3 tunnels, none above its cap, every subscriber on one.
	var lacCounts []int
	wait("the LAC's tunnels to count every session", 10*time.Second, func() bool {
		lacCounts = lacTunnels()
		sum := 0
		for _, c := range lacCounts {
			sum += c
		}
		return sum == n
	})
	if len(lacCounts) != tunnels || slices.Max(lacCounts) > perTunnel {
		t.Errorf("LAC tunnels %v: want %d of at most %d sessions", lacCounts, tunnels, perTunnel)
	}

	// The LNS: 3 tunnels from one host name and address, each with its
	// sessions, as many as the LAC counts on its side.
	ts := lnsTunnels()
	var lnsCounts []int
	for _, tn := range ts {
		if tn.HostName != "lab-lac" || !strings.HasPrefix(tn.Peer, "10.255.1.1:") || tn.State != "established" {
			t.Errorf("LNS tunnel %+v: want one from lab-lac at 10.255.1.1, established", tn)
		}
		lnsCounts = append(lnsCounts, tn.Sessions)
	}
	if len(ts) != tunnels || ts[0].Peer != ts[len(ts)-1].Peer {
		t.Errorf("LNS tunnels %+v: want %d from one peer address", ts, tunnels)
	}
	slices.Sort(lnsCounts)
	slices.Sort(lacCounts)
	if !slices.Equal(lnsCounts, lacCounts) {
		t.Errorf("sessions per tunnel: LNS %v, LAC %v", lnsCounts, lacCounts)
	}
	m, err := e.Metrics("lns")
	if err != nil {
		t.Fatal(err)
	}
	if got := TunnelSessions(m); len(got) != tunnels {
		t.Errorf("LNS bras_l2tp_tunnel_sessions %v, want %d tunnels", got, tunnels)
	}
	byTunnel := map[uint16][]string{} // session IDs by LNS Tunnel ID
	for _, s := range upSessions() {
		byTunnel[s.TunnelID] = append(byTunnel[s.TunnelID], s.ID)
	}
	for _, tn := range ts {
		if len(byTunnel[tn.LocalID]) != tn.Sessions {
			t.Errorf("tunnel %d: %d sessions listed, %d counted", tn.LocalID, len(byTunnel[tn.LocalID]), tn.Sessions)
		}
	}

	// PostgreSQL: the accounting rows name the 3 tunnels.
	db, err := pgx.Connect(ctx, e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	rows := func(open bool) map[uint16]int {
		q := `SELECT tunnel_id, count(*) FROM sessions WHERE (stop_time IS NULL) = $1 GROUP BY tunnel_id`
		r, err := db.Query(ctx, q, open)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		m := map[uint16]int{}
		for r.Next() {
			var id, c int
			if err := r.Scan(&id, &c); err != nil {
				t.Fatal(err)
			}
			m[uint16(id)] = c
		}
		return m
	}
	want := map[uint16]int{}
	for id, ss := range byTunnel {
		want[id] = len(ss)
	}
	wait("the accounting Starts in PostgreSQL", 20*time.Second, func() bool { return maps.Equal(rows(true), want) })
	// Each record names its tunnel and session as the Access-Request did
	// (NAS-Port-Id "tunnel/session"), for RADIUS and radacct alike.
	var named, open int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE nasportid = tunnel_id || '/' || l2tp_session_id), count(*)
		FROM radacct JOIN sessions ON sessions.acct_session_id = radacct.acctsessionid WHERE acctstoptime IS NULL`).Scan(&named, &open); err != nil {
		t.Fatal(err)
	} else if named != n || open != n {
		t.Errorf("radacct: %d of %d open sessions with NAS-Port-Id tunnel/session, want all %d", named, open, n)
	}

	// The LNS clears one tunnel: only its sessions end. (The tunnels are
	// over a second old by now, so the LAC replaces a lost one at once
	// rather than at the next call: lac.replaceAfter.)
	time.Sleep(time.Until(start.Add(2 * time.Second)))
	cleared := ts[1]
	if _, err := e.NS["lns"].Run("curl", "-sS", "-f", "-X", "DELETE", "-H", "Authorization: Bearer "+apiToken,
		fmt.Sprintf("%s/api/v1/tunnels/%d", lnsAPI, cleared.LocalID)); err != nil {
		t.Fatal(err)
	}
	left := n - cleared.Sessions
	wait(fmt.Sprintf("%d sessions left up", left), 20*time.Second, func() bool { return len(upSessions()) == left })
	for _, s := range upSessions() {
		if s.TunnelID == cleared.LocalID {
			t.Errorf("session %s still up on the cleared tunnel %d", s.ID, cleared.LocalID)
		} else if !slices.Contains(byTunnel[s.TunnelID], s.ID) {
			t.Errorf("session %s on tunnel %d is not one of those up before", s.ID, s.TunnelID)
		}
	}
	wait("the cleared tunnel's sessions closed in PostgreSQL", 20*time.Second, func() bool {
		return maps.Equal(rows(false), map[uint16]int{cleared.LocalID: cleared.Sessions})
	})
	delete(want, cleared.LocalID)
	if got := rows(true); !maps.Equal(got, want) {
		t.Errorf("open accounting rows by tunnel %v, want %v (the other tunnels untouched)", got, want)
	}
	// The LAC replaces the lost tunnel: 3 again, the two that stayed with
	// their sessions, the new one empty.
	wait("the LAC's replacement tunnel", 20*time.Second, func() bool { return len(lacTunnels()) == tunnels })
	got := lacTunnels()
	slices.Sort(got)
	var wantLAC []int
	for _, tn := range ts {
		if tn.LocalID != cleared.LocalID {
			wantLAC = append(wantLAC, tn.Sessions)
		}
	}
	wantLAC = append(wantLAC, 0)
	slices.Sort(wantLAC)
	if !slices.Equal(got, wantLAC) {
		t.Errorf("LAC tunnels after the loss %v, want %v", got, wantLAC)
	}
	// The LNS: 3 established again; the cleared one, while it lingers
	// (RFC 2661 section 5.7), is idle and carries nothing.
	established := 0
	for _, tn := range lnsTunnels() {
		switch {
		case tn.LocalID == cleared.LocalID && (tn.State == "established" || tn.Sessions != 0):
			t.Errorf("the cleared tunnel is still listed as %s with %d sessions", tn.State, tn.Sessions)
		case tn.State == "established":
			established++
		}
	}
	if established != tunnels {
		t.Errorf("%d tunnels established on the LNS after the loss, want %d", established, tunnels)
	}
}

// tunnelLines are the lines of a log file about tunnels (not sessions).
func tunnelLines(path string) string {
	b, _ := os.ReadFile(path)
	var r []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "tunnel") && !strings.Contains(l, "session down") && !strings.Contains(l, "session up") {
			r = append(r, l)
		}
	}
	return strings.Join(r, "\n")
}

// TestTunnelsOnSourcePorts: the LAC keeps 3 tunnels to the LNS from 3
// source ports ([lac] source-ports), so that each tunnel is a 5-tuple of
// its own for a NIC's receive-side scaling: the LNS sees the 3 from
// 10.255.1.1 ports 1701, 1702 and 1703, and with the XDP engine on both
// daemons the subscribers' traffic crosses every tunnel through the fast
// paths, both ways, without loss.
func TestTunnelsOnSourcePorts(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	bin := buildBras(t)
	const n, tunnels = 30, 3
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	var ts []api.Tunnel
	hook := func(ctx context.Context, e *Env, at Stage) error {
		if at != StageUp {
			return nil
		}
		js, err := e.NS["lns"].Run("curl", "-sS", "-f", "-H", "Authorization: Bearer "+apiToken, lnsAPI+"/api/v1/tunnels")
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(js), &ts)
	}
	res, err := Run(ctx, Options{Bras: bin, Subscribers: n, Mode: "proxy", Engine: "xdp", Hold: 4 * time.Second, TrafficPPS: 5, Out: out, Hook: hook,
		LACConfig: func(c string) string {
			// At most 10 sessions each: the subscribers come faster than
			// the background dials, and would all go to the first.
			return strings.Replace(c, "[lac]\n", fmt.Sprintf("[lac]\ntunnels = %d\nsessions-per-tunnel = %d\nsource-ports = %d\n", tunnels, n/tunnels, tunnels), 1)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Load.Up != n || res.Load.Failed != 0 {
		t.Fatalf("%d of %d subscribers up, %d failed: %v", res.Load.Up, n, res.Load.Failed, res.Load.Failures)
	}
	var peers []string
	for _, tn := range ts {
		if tn.Sessions == 0 {
			t.Errorf("LNS tunnel %+v carries no session", tn)
		}
		peers = append(peers, tn.Peer)
	}
	slices.Sort(peers)
	if want := []string{"10.255.1.1:1701", "10.255.1.1:1702", "10.255.1.1:1703"}; !slices.Equal(peers, want) {
		t.Errorf("the LNS's tunnels come from %v, want %v", peers, want)
	}
	tr := res.Load.Traffic
	if tr == nil || tr.Sent == 0 || tr.Lost != 0 || tr.Received != tr.Sent {
		t.Fatalf("traffic %+v; want probes sent and every one echoed back", tr)
	}
	for name, fp := range map[string]map[string]int64{"LNS": res.FastPath, "LAC": res.LACFastPath} {
		if up, down := fp["forwarded_up"], fp["forwarded_down"]; up < int64(tr.Sent)*9/10 || down < int64(tr.Received)*9/10 {
			t.Errorf("%s fast path forwarded %d up and %d down of %d probes and %d echoes (%v)", name, up, down, tr.Sent, tr.Received, fp)
		}
	}
}
