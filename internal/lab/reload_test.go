package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/testenv"
)

// reloadSessions is how many subscribers stay up with traffic through
// the reloads of TestReloadUnderLoad: 1,000 as issue 12 asks when
// BRAS_RELOAD_SESSIONS=1000 is set; CI runs 200 to keep the suite within
// its time budget.
func reloadSessions(t *testing.T) int {
	if v := os.Getenv("BRAS_RELOAD_SESSIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("BRAS_RELOAD_SESSIONS=%q: want a number of sessions", v)
		}
		return n
	}
	return 200
}

// TestReloadUnderLoad reloads the real LNS (SIGHUP) and the real LAC
// (bras reload, through its API) while subscribers are up with traffic,
// with a real FreeRADIUS and PostgreSQL:
//   - no session drops and no probe is lost;
//   - subscribers that come up after the reload get the new values: an
//     address of the pool added by the reload (now the default), the new
//     default rate and session-timeout;
//   - a file with an error, and a file changing a key that needs a
//     restart, change nothing: bras reload says why with file:line, the
//     old pools still serve, bras_config_reloads_total counts them.
func TestReloadUnderLoad(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	bin := buildBras(t)
	n := reloadSessions(t)
	const late = 4 // subscribers that come up after the reload
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	e, err := Setup(ctx, Options{Bras: bin, Subscribers: n + late, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lnsConf, lacConf := filepath.Join(e.Dir, "lns.conf"), filepath.Join(e.Dir, "lac.conf")
	orig, err := os.ReadFile(lnsConf)
	if err != nil {
		t.Fatal(err)
	}

	// n subscribers with traffic, held through the reloads.
	report := filepath.Join(e.Dir, "load.json")
	loadCmd := exec.CommandContext(ctx, "ip", "netns", "exec", e.NS["sub"].Name, bin, "load", "-iface", "eth0", "-n", fmt.Sprint(n),
		"-user", "user%d@"+realm, "-password", "pw%d", "-auth", "mixed", "-inflight", "200",
		"-traffic-target", upstreamUDP, "-traffic-pps", "2", "-hold", "40s", "-setup-timeout", "60s", "-q", "-json", report)
	loadCmd.Stdout, loadCmd.Stderr = out, out
	if err := loadCmd.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- loadCmd.Wait() }()
	defer func() {
		if loadCmd.ProcessState == nil {
			loadCmd.Process.Kill()
			<-loadDone
		}
	}()
	up := 0
	for deadline := time.Now().Add(2 * time.Minute); up < n && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if s, err := e.NS["lns"].Run(bin, "sessions", "-api", lnsAPI, "-state", "up", "-format", "csv"); err == nil {
			up = strings.Count(s, "\n") - 1
		}
	}
	if up < n {
		t.Fatalf("%d of %d sessions up before the reload", up, n)
	}
	reload := func(nsName, url string) (string, error) {
		out, err := e.NS[nsName].Command(bin, "reload", "-api", url).CombinedOutput()
		return string(out), err
	}

	// 1. A file with an error (two pools overlap): refused with its line,
	// nothing changes.
	bad := strings.Replace(string(orig), "[pool \"default\"]\nrange = 100.64.0.0/16\n",
		"[pool \"default\"]\nrange = 100.64.0.0/16\n[pool \"gold\"]\nrange = 100.64.128.0/17\n", 1)
	line := strings.Count(bad[:strings.Index(bad, "range = 100.64.128.0/17")], "\n") + 1
	writeFile(t, lnsConf, bad)
	msg, err := reload("lns", lnsAPI)
	wantBad := fmt.Sprintf(`%s:%d: [pool "gold"] range: 100.64.128.0/17 overlaps 100.64.0.0/16 of pool "default"`, lnsConf, line)
	if err == nil || !strings.Contains(msg, wantBad) {
		t.Errorf("bras reload of a file with overlapping pools: %v\n%s\nwant the refusal %q", err, msg, wantBad)
	}
	// 2. A key that needs a restart: refused with its key and line.
	writeFile(t, lnsConf, strings.Replace(string(orig), "name = bras0\n", "name = bras7\n", 1))
	msg, err = reload("lns", lnsAPI)
	wantKey := fmt.Sprintf("%s:%d: tun.name: bras0 -> bras7 (needs a restart)", lnsConf, lineOf(string(orig), "name = bras0"))
	if err == nil || !strings.Contains(msg, wantKey) {
		t.Errorf("bras reload of a tun.name change: %v\n%s\nwant the refusal %q", err, msg, wantKey)
	}

	// 3. The good file, by SIGHUP: the default pool shrinks to the half
	// its sessions are in, a pool gold takes the other half and is the
	// default now, new sessions get a rate and a session-timeout.
	good := strings.Replace(string(orig), "[pool \"default\"]\nrange = 100.64.0.0/16\n",
		"[pool \"default\"]\nrange = 100.64.0.0/17\n[pool \"gold\"]\nrange = 100.64.128.0/17\n", 1)
	good = strings.Replace(good, "[ppp]\n", "[ppp]\ndefault-pool = gold\ndefault-rate-down = 90000\ndefault-rate-up = 80000\nsession-timeout = 2h\n", 1)
	writeFile(t, lnsConf, good)
	if err := syscall.Kill(e.LNS.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := e.LNS.waitLog(ctx, "configuration reloaded", 10*time.Second); err != nil {
		t.Fatalf("the LNS did not log a reload after SIGHUP: %v\n%s", err, e.LNS.tail())
	}
	// The LAC: a longer call timeout and hello interval, by bras reload.
	lac, err := os.ReadFile(lacConf)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, lacConf, strings.Replace(string(lac), "[lac]\n", "[lac]\ncall-timeout = 45s\nhello-interval = 30s\n", 1))
	msg, err = reload("lac", lacAPI)
	if err != nil || !strings.Contains(msg, "reloaded: 2 changes") || !strings.Contains(msg, "lac.call-timeout: 0s -> 45s") {
		t.Errorf("bras reload of the LAC: %v\n%s", err, msg)
	}

	// 4. Subscribers that come after: the new pool, rate and timeout.
	late6 := exec.CommandContext(ctx, "ip", "netns", "exec", e.NS["sub"].Name, bin, "load", "-iface", "eth0", "-n", fmt.Sprint(late),
		"-first", fmt.Sprint(n), "-mac-base", "02:00:00:01:00:00", "-user", "user%d@"+realm, "-password", "pw%d", "-auth", "mixed",
		"-traffic-target", upstreamUDP, "-traffic-pps", "2", "-hold", "4s", "-setup-timeout", "30s", "-q", "-json", filepath.Join(e.Dir, "late.json"))
	lateDone := make(chan error, 1)
	lateOut, _ := os.Create(filepath.Join(e.Dir, "late.log"))
	defer lateOut.Close()
	late6.Stdout, late6.Stderr = lateOut, lateOut
	if err := late6.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { lateDone <- late6.Wait() }()
	gold := netip.MustParsePrefix("100.64.128.0/17")
	for i := n; i < n+late; i++ {
		user := fmt.Sprintf("user%d@%s", i, realm)
		var s api.Session
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			js, err := e.NS["lns"].Run(bin, "sessions", "-api", lnsAPI, "-user", user, "-state", "up", "-format", "json")
			var ss []api.Session
			if err == nil && json.Unmarshal([]byte(js), &ss) == nil && len(ss) == 1 {
				s = ss[0]
				break
			}
		}
		if !gold.Contains(s.Addr) || s.RateDownKbps != 90000 || s.RateUpKbps != 80000 || s.SessionTimeout != 2*time.Hour {
			t.Errorf("%s after the reload: address %v, rate %d/%d kbit/s, session-timeout %v; want one of %v, 90000/80000, 2h",
				user, s.Addr, s.RateDownKbps, s.RateUpKbps, s.SessionTimeout, gold)
		}
	}
	// A session of before the reload keeps what it had.
	js, err := e.NS["lns"].Run(bin, "sessions", "-api", lnsAPI, "-user", "user0@"+realm, "-format", "json")
	var first []api.Session
	if err != nil || json.Unmarshal([]byte(js), &first) != nil || len(first) != 1 ||
		!netip.MustParsePrefix("100.64.0.0/17").Contains(first[0].Addr) || first[0].SessionTimeout != 0 {
		t.Errorf("user0 (up before the reload): %v %s", err, js)
	}
	if err := <-lateDone; err != nil {
		t.Errorf("bras load of the late subscribers: %v", err)
	}
	var lr load.Report
	if b, err := os.ReadFile(filepath.Join(e.Dir, "late.json")); err != nil || json.Unmarshal(b, &lr) != nil || lr.Up != late ||
		lr.Traffic == nil || lr.Traffic.Lost != 0 {
		t.Errorf("late subscribers: %d of %d up, traffic %+v", lr.Up, late, lr.Traffic)
	}

	// 5. The subscribers of before: none dropped, no probe lost.
	if err := <-loadDone; err != nil {
		t.Errorf("bras load: %v", err)
	}
	var r load.Report
	b, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(b, &r) != nil {
		t.Fatalf("load report: %v", err)
	}
	if r.Up != n || r.Failed != 0 || r.Dropped != 0 {
		t.Errorf("%d of %d up, %d failed, %d dropped (%v)", r.Up, n, r.Failed, r.Dropped, r.Drops)
	}
	if r.Traffic == nil || r.Traffic.Sent == 0 || r.Traffic.Lost != 0 {
		t.Errorf("traffic through the reloads: %+v, want every probe back", r.Traffic)
	}
	// The metric: one reload applied, two refused.
	metrics, err := e.NS["lns"].Run("curl", "-s", lnsAPI+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`bras_config_reloads_total{result="ok"} 1`, `bras_config_reloads_total{result="refused"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("LNS /metrics has no %s", want)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// lineOf is the line of the first line of text that starts with prefix.
func lineOf(text, prefix string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	return 0
}
