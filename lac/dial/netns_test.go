package dial_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/migrations"
)

// TestMain stops the PostgreSQL cluster the tests share once they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

// proc is a bras process the test runs in a namespace, its output in a
// file; it is stopped (SIGTERM, then SIGKILL) when the test ends.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProc(t *testing.T, ns *testenv.Netns, name string, env []string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.signal(syscall.SIGTERM, 20*time.Second)
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.output())
		}
	})
	return p
}

func (p *proc) output() string { b, _ := os.ReadFile(p.log); return string(b) }

// count is how many lines of the log contain s.
func (p *proc) count(s string) int { return strings.Count(p.output(), s) }

// signal sends sig and waits up to d for the process to end (then kills it).
func (p *proc) signal(sig syscall.Signal, d time.Duration) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return false
	}
}

// waitLog waits until the log contains s n times.
func (p *proc) waitLog(t *testing.T, s string, n int, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); p.count(s) < n; time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("the process ended (%v) before %d× %q:\n%s", p.err, n, s, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q within %v:\n%s", n, s, within, p.output())
		}
	}
}

// between is the time from the first log line with from to the first
// with to after it.
func between(t *testing.T, log, from, to string) time.Duration {
	t.Helper()
	stamp := func(s string) time.Time {
		i := strings.Index(log, s)
		if i < 0 {
			t.Fatalf("no %q in the log:\n%s", s, log)
		}
		line := log[strings.LastIndex(log[:i], "\n")+1:]
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "time=") {
			t.Fatalf("no time on %q", line)
		}
		ts, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(f[0], "time="))
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	return stamp(to).Sub(stamp(from))
}

func eventually(t *testing.T, what string, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		ok, info := cond()
		if ok {
			return
		}
		last = info
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last: %s)", what, within, last)
		}
	}
}

const lnsConf = `
[lns]
node = dial-e2e
listen = 10.30.0.2:1701
[tun]
name = brt0
address = 100.64.0.1/32
[ppp]
dns = 192.0.2.53
echo-interval = 1s
restart = 1s
[pool "default"]
range = 100.64.1.0/24
[lac "roadwarrior"]
host-name = roadwarrior
secret = sekrit
[radius]
timeout = 1s
[radius.server "fr"]
address = %[1]s
secret = %[2]s
[radius.accounting-server "fr"]
address = %[3]s
secret = %[2]s
[accounting]
database = %[4]s
spool-dir = %[5]s
interim-interval = 1h
[api]
listen = 127.0.0.1:18090
token = tok
`

// dialWorld is the voluntary tunnel's world of TestDialEndToEnd: the
// namespaces and links, a real FreeRADIUS that knows alice, a migrated
// PostgreSQL, and the LNS's configuration (lnsExtra added to its [lns]).
type dialWorld struct {
	bin           string
	client, lnsNS *testenv.Netns
	ctx           context.Context
	db            *pgx.Conn
	conf          string
	t             *testing.T
}

func newDialWorld(t *testing.T, lnsExtra string) *dialWorld {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "ping")
	w := &dialWorld{t: t, bin: filepath.Join(t.TempDir(), "bras")}
	if out, err := exec.Command("go", "build", "-o", w.bin, "../../cmd/bras").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	client, lnsNS, up := testenv.NewNetns(t, "dialc"), testenv.NewNetns(t, "diall"), testenv.NewNetns(t, "dialu")
	w.client, w.lnsNS = client, lnsNS
	testenv.Link(t, client, "eth0", netip.MustParsePrefix("10.30.0.1/24"), lnsNS, "eth0", netip.MustParsePrefix("10.30.0.2/24"))
	testenv.Link(t, lnsNS, "eth1", netip.MustParsePrefix("10.40.0.1/24"), up, "eth0", netip.MustParsePrefix("10.40.0.2/24"))
	up.MustRun(t, "ip", "route", "add", "100.64.0.0/16", "via", "10.40.0.1")
	lnsNS.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")

	radius := testenv.StartFreeRADIUS(t, testenv.RadiusConfig{NS: lnsNS, Users: []testenv.RadiusUser{
		{Name: "alice", Password: "pw-a", Reply: []testenv.RadiusAttr{{Name: "Framed-IP-Address", Value: "100.64.7.7"}}},
	}})
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	w.ctx = ctx
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	w.db = db
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	w.conf = filepath.Join(t.TempDir(), "lns.conf")
	text := strings.Replace(fmt.Sprintf(lnsConf, radius.AuthAddr, radius.Secret, radius.AcctAddr, dsn, t.TempDir()),
		"listen = 10.30.0.2:1701\n", "listen = 10.30.0.2:1701\n"+lnsExtra, 1)
	if err := os.WriteFile(w.conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// startLNS starts the LNS and waits until it runs.
func (w *dialWorld) startLNS() *proc {
	p := startProc(w.t, w.lnsNS, "lns", nil, w.bin, "lns", "-config", w.conf)
	p.waitLog(w.t, "LNS running", 1, 20*time.Second)
	return p
}

// TestDialEndToEnd runs the voluntary tunnel with the real daemons:
//
//	client (10.30.0.1) ── (10.30.0.2) lns (10.40.0.1) ── (10.40.0.2) up
//
// `bras dial` in namespace client dials `bras lns` in namespace lns, which
// authenticates it (CHAP) against a real FreeRADIUS and accounts in a real
// PostgreSQL. The TUN gets the address RADIUS gave, with the LNS's as
// peer, and the route to up; ping from client reaches up and comes back.
// A graceful LNS restart (StopCCN) and a killed LNS (found by LCP Echo)
// both end with bras dial reconnected and ping working again, the routes
// gone in between. SIGTERM on bras dial hangs up: the LNS writes the
// accounting Stop with cause User-Request (LCP Terminate-Request, then
// CDN).
func TestDialEndToEnd(t *testing.T) {
	w := newDialWorld(t, "")
	client, ctx, db, startLNS := w.client, w.ctx, w.db, w.startLNS
	bin := w.bin
	lns := startLNS()

	dial := startProc(t, client, "dial", []string{"DIAL_E2E_PASSWORD=pw-a"}, bin, "dial", "-lns", "10.30.0.2:1701",
		"-host-name", "roadwarrior", "-secret", "sekrit", "-user", "alice", "-password", "env:DIAL_E2E_PASSWORD", "-auth", "any",
		"-tun", "dial0", "-route", "10.40.0.0/24", "-echo-interval", "1s", "-echo-failures", "3",
		"-reconnect-min", "500ms", "-reconnect-max", "2s", "-log-level", "debug")

	// Up: the address RADIUS gave with the LNS's as peer, the route, ping.
	dial.waitLog(t, "dial: session up", 1, 30*time.Second)
	checkUp := func(round string) {
		t.Helper()
		addr := client.MustRun(t, "ip", "-4", "addr", "show", "dev", "dial0")
		if !strings.Contains(addr, "inet 100.64.7.7 peer 100.64.0.1/32") {
			t.Errorf("%s: dial0's address:\n%s", round, addr)
		}
		if r := client.MustRun(t, "ip", "-4", "route", "show", "dev", "dial0"); !strings.Contains(r, "10.40.0.0/24") {
			t.Errorf("%s: dial0's routes:\n%s", round, r)
		}
		if out, err := client.Command("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.40.0.2").CombinedOutput(); err != nil ||
			!bytes.Contains(out, []byte(" 0% packet loss")) {
			t.Fatalf("%s: ping through the tunnel: %v\n%s", round, err, out)
		}
	}
	checkUp("first session")
	// The LNS takes the first LCP Configure-Request even when it overtakes
	// the ICCN: no wait for bras dial's restart timer (3 s).
	if d := between(t, dial.output(), "dial: call up", "dial: session up"); d > 2*time.Second {
		t.Errorf("ICCN to IPCP up took %v: the first LCP frame was lost", d)
	}

	// The LNS shows the session: its accounting in PostgreSQL, with the
	// user, the address and the LAC it came from.
	openSessions := func() (int, string) {
		var n int
		var who string
		err := db.QueryRow(ctx, `SELECT count(*), coalesce(string_agg(username || ' ' || host(framed_ip) || ' ' || lac, ','), '')
			FROM sessions WHERE stop_time IS NULL`).Scan(&n, &who)
		if err != nil {
			return -1, err.Error()
		}
		return n, who
	}
	eventually(t, "the session in PostgreSQL", 10*time.Second, func() (bool, string) {
		n, who := openSessions()
		return n == 1 && who == "alice 100.64.7.7 roadwarrior", fmt.Sprintf("%d open: %s", n, who)
	})

	noRoute := func(why string) {
		t.Helper()
		eventually(t, "the route gone "+why, 10*time.Second, func() (bool, string) {
			r, _ := client.Command("ip", "-4", "route", "show", "dev", "dial0").CombinedOutput()
			return !bytes.Contains(r, []byte("10.40.0.0/24")), string(r)
		})
	}

	// 1. The LNS restarts gracefully: its StopCCN ends the tunnel; the
	// routes go; bras dial dials again once the LNS is back.
	if !lns.signal(syscall.SIGTERM, 20*time.Second) {
		t.Fatal("the LNS did not stop on SIGTERM")
	}
	noRoute("after the LNS's StopCCN")
	lns = startLNS()
	dial.waitLog(t, "dial: session up", 2, 30*time.Second)
	checkUp("after the LNS restart")

	// 2. The LNS dies (SIGKILL): nothing tells bras dial; its LCP
	// Echo-Requests go unanswered, it gives up and dials the new LNS.
	if !lns.signal(syscall.SIGKILL, 5*time.Second) {
		t.Fatal("the LNS did not die on SIGKILL")
	}
	dial.waitLog(t, "reason=\"ppp: echo-timeout\"", 1, 15*time.Second)
	noRoute("after the Echo failure")
	lns = startLNS()
	dial.waitLog(t, "dial: session up", 3, 30*time.Second)
	checkUp("after the LNS was killed")

	// Hang-up: SIGTERM makes bras dial send LCP Terminate-Request and a
	// CDN; the LNS writes the Stop as the user asked (User-Request, 1).
	var sid string
	if err := db.QueryRow(ctx, `SELECT acct_session_id FROM sessions WHERE stop_time IS NULL ORDER BY start_time DESC LIMIT 1`).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	if !dial.signal(syscall.SIGTERM, 15*time.Second) {
		t.Fatal("bras dial did not end on SIGTERM")
	}
	if dial.err != nil {
		t.Errorf("bras dial exited with %v", dial.err)
	}
	eventually(t, "the accounting Stop", 10*time.Second, func() (bool, string) {
		var cause *int
		var stopped bool
		if err := db.QueryRow(ctx, `SELECT stop_time IS NOT NULL, terminate_cause FROM sessions WHERE acct_session_id = $1`, sid).Scan(&stopped, &cause); err != nil {
			return false, err.Error()
		}
		return stopped && cause != nil && *cause == 1, fmt.Sprintf("stopped %v cause %v", stopped, cause)
	})
	for _, want := range []string{"dial: hanging up", "dial: stopped"} {
		if !strings.Contains(dial.output(), want) {
			t.Errorf("bras dial's log has no %q", want)
		}
	}
}

// TestDialL2TPv3: bras dial as its own LAC over L2TPv3 (RFC 3931: a PPP
// pseudowire on a control connection signed with HMAC-MD5, 4-octet
// cookies), over UDP and straight over IP protocol 115 (section 4.1.1;
// the LNS's listen-ip): the session comes up with RADIUS's address, ping
// crosses it, and the LNS accounts it in PostgreSQL as an L2TPv3 PPP
// pseudowire.
func TestDialL2TPv3(t *testing.T) {
	for _, encap := range []string{"udp", "ip"} {
		t.Run(encap, func(t *testing.T) {
			extra := ""
			if encap == "ip" {
				extra = "listen-ip = 10.30.0.2\n"
			}
			w := newDialWorld(t, extra)
			w.startLNS()
			dial := startProc(t, w.client, "dial", nil, w.bin, "dial", "-lns", "10.30.0.2:1701", "-version", "3", "-encap", encap,
				"-host-name", "roadwarrior", "-secret", "sekrit", "-user", "alice", "-password", "pw-a",
				"-tun", "dial0", "-route", "10.40.0.0/24", "-log-level", "debug")
			dial.waitLog(t, "dial: session up", 1, 30*time.Second)
			if want := "version=3 encap=" + encap; dial.count(want) != 1 {
				t.Errorf("bras dial's tunnel is not L2TPv3 over %s (no %q in its log)", encap, want)
			}
			if out, err := w.client.Command("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.40.0.2").CombinedOutput(); err != nil ||
				!bytes.Contains(out, []byte(" 0% packet loss")) {
				t.Fatalf("ping through the tunnel: %v\n%s", err, out)
			}
			eventually(t, "the session in PostgreSQL", 10*time.Second, func() (bool, string) {
				var n int
				var got string
				err := w.db.QueryRow(w.ctx, `SELECT count(*), coalesce(string_agg(username || ' ' || host(framed_ip) || ' v' || l2tp_version || ' ' || coalesce(pw_type, '-'), ','), '')
					FROM sessions WHERE stop_time IS NULL`).Scan(&n, &got)
				if err != nil {
					return false, err.Error()
				}
				return n == 1 && got == "alice 100.64.7.7 v3 ppp", fmt.Sprintf("%d open: %s", n, got)
			})
			if !dial.signal(syscall.SIGTERM, 15*time.Second) {
				t.Fatal("bras dial did not end on SIGTERM")
			}
		})
	}
}
