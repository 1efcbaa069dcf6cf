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
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/netlab"
	"github.com/bras-project/bras/internal/radiuslab"
	"github.com/bras-project/bras/internal/testenv"
)

// TestLACTwoLNSAndRADIUSTunnels runs the LAC against two real LNS processes
// with a real FreeRADIUS choosing tunnels (RFC 2868):
//
//	sub ── lac ─┬─ lnsa (pool 100.64.0.0/16, preference 10 for realm lab)
//	            └─ lnsb (pool 100.65.0.0/16, preference 20; RADIUS's choice for realm viaradius)
//
// Subscribers of realm lab land on lnsa; those of realm viaradius on lnsb
// because FreeRADIUS's Tunnel-* attributes say so; PADT from a subscriber
// ends its session on the LNS (CDN), a disconnect on the LNS ends the
// subscriber (CDN -> PADT); with lnsa stopped, new lab subscribers move to
// lnsb.
func TestLACTwoLNSAndRADIUSTunnels(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	bin := buildBras(t)
	dir := t.TempDir()
	os.Setenv("BRAS_API_TOKEN", apiToken)
	ns := map[string]*netlab.Netns{}
	for _, n := range []string{"sub", "lac", "lnsa", "lnsb"} {
		x, err := netlab.Create("bras-fo-" + netlab.RandHex(3) + "-" + n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(x.Delete)
		ns[n] = x
	}
	link := func(a string, ia string, pa string, b string, ib string, pb string) {
		t.Helper()
		var x, y netip.Prefix
		if pa != "" {
			x, y = netip.MustParsePrefix(pa), netip.MustParsePrefix(pb)
		}
		if err := netlab.Link(ns[a], ia, x, ns[b], ib, y); err != nil {
			t.Fatal(err)
		}
	}
	link("sub", "eth0", "", "lac", "eth0", "")
	link("lac", "eth1", "10.255.1.1/24", "lnsa", "eth0", "10.255.1.2/24")
	link("lac", "eth2", "10.255.3.1/24", "lnsb", "eth0", "10.255.3.2/24")

	// FreeRADIUS for the LAC, in its namespace: lab users are accepted with
	// no tunnel (the static routes apply), viaradius users get lnsb.
	rc := radiuslab.Config{
		Dir:      filepath.Join(dir, "radius"),
		AuthAddr: netip.MustParseAddrPort("127.0.0.1:1812"),
		AcctAddr: netip.MustParseAddrPort("127.0.0.1:1813"),
		Secret:   radSecret,
	}
	var users strings.Builder
	for i := 0; i < 20; i++ {
		rc.Users = append(rc.Users, radiuslab.User{Name: fmt.Sprintf("user%d@lab", i), Password: fmt.Sprintf("pw%d", i)})
		rc.Users = append(rc.Users, radiuslab.User{Name: fmt.Sprintf("user%d@viaradius", i), Password: fmt.Sprintf("pw%d", i), Reply: []radiuslab.Attr{
			{Name: "Tunnel-Type", Tag: 1, Value: "L2TP"},
			{Name: "Tunnel-Medium-Type", Tag: 1, Value: "IPv4"},
			{Name: "Tunnel-Server-Endpoint", Tag: 1, Value: "10.255.3.2"},
			{Name: "Tunnel-Password", Tag: 1, Value: "secret-b"},
			{Name: "Tunnel-Preference", Tag: 1, Value: "1"},
		}})
		fmt.Fprintf(&users, "user%d@lab pw%d\nuser%d@viaradius pw%d\n", i, i, i, i)
	}
	if err := radiuslab.Write(rc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rad, err := start(ctx, dir, "freeradius", radiuslab.Command(ctx, rc, false, "ip", "netns", "exec", ns["lac"].Name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rad.stop)
	if err := ns["lac"].Do(func() error {
		for i := 0; ; i++ {
			if err := radiuslab.Probe(ctx, rc.AuthAddr, radSecret); err == nil || i > 100 {
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}); err != nil {
		t.Fatal(err)
	}

	// Two LNS with the lab users file (no RADIUS of their own).
	usersFile := filepath.Join(dir, "users")
	if err := os.WriteFile(usersFile, []byte(users.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	lnsConf := func(name, listen, pool, secret string) string {
		return fmt.Sprintf(`[lns]
node = %s
listen = %s:1701
[tun]
address = %s.0.1/32
[pool "default"]
range = %s.0.0/16
[lac "lab-lac"]
secret = %s
[local-users]
file = %s
[api]
listen = 127.0.0.1:8080
token = %s
`, name, listen, pool, pool, secret, usersFile, apiToken)
	}
	lnsProc := map[string]*Proc{}
	for _, l := range []struct{ ns, listen, pool, secret string }{
		{"lnsa", "10.255.1.2", "100.64", "secret-a"}, {"lnsb", "10.255.3.2", "100.65", "secret-b"},
	} {
		conf := filepath.Join(dir, l.ns+".conf")
		if err := os.WriteFile(conf, []byte(lnsConf(l.ns, l.listen, l.pool, l.secret)), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := start(ctx, dir, l.ns, exec.Command("ip", "netns", "exec", ns[l.ns].Name, bin, "lns", "-config", conf))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.stop)
		if err := p.waitLog(ctx, "LNS running", 15*time.Second); err != nil {
			t.Fatal(err)
		}
		lnsProc[l.ns] = p
	}
	lacConf := filepath.Join(dir, "lac.conf")
	if err := os.WriteFile(lacConf, []byte(`[lac]
host-name = lab-lac
tunnel-selection = radius
dial-timeout = 3s
retransmit-initial = 500ms
max-retries = 2
hold-down = 60s
[radius]
[radius.server "lab"]
address = 127.0.0.1:1812
secret = `+radSecret+`
[access "eth0"]
mode = proxy
[lns "a"]
address = 10.255.1.2:1701
secret = secret-a
preference = 10
realms = lab
[lns "b"]
address = 10.255.3.2:1701
secret = secret-b
preference = 20
realms = lab
`), 0o600); err != nil {
		t.Fatal(err)
	}
	lac, err := start(ctx, dir, "lac", exec.Command("ip", "netns", "exec", ns["lac"].Name, bin, "lac", "-config", lacConf))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lac.stop)
	time.Sleep(500 * time.Millisecond)
	if lac.exited() {
		t.Fatalf("the LAC exited at start:\n%s", lac.tail())
	}

	// runLoad brings n subscribers of realm up through the LAC and holds
	// them for hold; it returns the report.
	runLoad := func(t *testing.T, realm string, first, n int, hold time.Duration, during func()) load.Report {
		t.Helper()
		report := filepath.Join(dir, fmt.Sprintf("load-%s-%d.json", realm, first))
		cmd := ns["sub"].Command(bin, "load", "-iface", "eth0", "-n", fmt.Sprint(n), "-first", fmt.Sprint(first),
			"-mac-base", fmt.Sprintf("02:00:00:00:%02x:00", first), "-user", "user%d@"+realm, "-password", "pw%d",
			"-auth", "pap", "-hold", hold.String(), "-setup-timeout", "60s", "-json", report, "-max-failed", "100", "-q")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if during != nil {
			during()
		}
		if err := cmd.Wait(); err != nil {
			t.Logf("bras load: %v", err)
		}
		var r load.Report
		b, err := os.ReadFile(report)
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			t.Fatalf("bras load report: %v", err)
		}
		return r
	}
	sessionsOn := func(lnsNS string) []string {
		out, _ := ns[lnsNS].Command(bin, "sessions", "-api", "http://127.0.0.1:8080", "-format", "csv").CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) <= 1 {
			return nil
		}
		return lines[1:]
	}
	waitSessions := func(t *testing.T, lnsNS string, want int) []string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := sessionsOn(lnsNS)
			if len(s) == want || time.Now().After(deadline) {
				if len(s) != want {
					t.Fatalf("%s has %d sessions, want %d: %v", lnsNS, len(s), want, s)
				}
				return s
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("static route by realm and preference, PADT gives CDN", func(t *testing.T) {
		r := runLoad(t, "lab", 0, 5, 3*time.Second, func() {
			waitSessions(t, "lnsa", 5)
		})
		if r.Up != 5 {
			t.Fatalf("%d of 5 lab subscribers up: %v", r.Up, r.Failures)
		}
		// bras load hung up with PADT: the LAC's CDNs end every session on lnsa.
		waitSessions(t, "lnsa", 0)
		if s := sessionsOn("lnsb"); len(s) != 0 {
			t.Fatalf("lnsb (preference 20) got sessions while lnsa was up: %v", s)
		}
	})

	t.Run("tunnel chosen by RADIUS Tunnel-* attributes", func(t *testing.T) {
		r := runLoad(t, "viaradius", 0, 3, 3*time.Second, func() {
			// A session is listed from its call on, before IPCP gives it
			// its address: wait for the addresses too.
			deadline := time.Now().Add(20 * time.Second)
			for {
				lines := waitSessions(t, "lnsb", 3)
				var bad []string
				for _, line := range lines {
					if !strings.Contains(line, ",100.65.") {
						bad = append(bad, line)
					}
				}
				if len(bad) == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("lnsb sessions without an lnsb address: %v", bad)
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
		if r.Up != 3 {
			t.Fatalf("%d of 3 viaradius subscribers up: %v", r.Up, r.Failures)
		}
		waitSessions(t, "lnsb", 0)
	})

	t.Run("disconnect on the LNS gives PADT", func(t *testing.T) {
		r := runLoad(t, "lab", 10, 1, 8*time.Second, func() {
			s := waitSessions(t, "lnsa", 1)
			id := strings.Split(s[0], ",")[0]
			if out, err := ns["lnsa"].Command(bin, "disconnect", "-api", "http://127.0.0.1:8080", id).CombinedOutput(); err != nil {
				t.Fatalf("bras disconnect: %v: %s", err, out)
			}
		})
		if r.Up != 1 || r.Dropped != 1 {
			t.Fatalf("up %d dropped %d (%v); want the subscriber up, then dropped by the LNS", r.Up, r.Dropped, r.Drops)
		}
	})

	t.Run("LNS down: new sessions move to the other", func(t *testing.T) {
		lnsProc["lnsa"].Stop()
		r := runLoad(t, "lab", 15, 3, 3*time.Second, func() {
			waitSessions(t, "lnsb", 3)
		})
		if r.Up != 3 {
			t.Fatalf("%d of 3 subscribers up after lnsa stopped: %v", r.Up, r.Failures)
		}
	})
	if t.Failed() {
		t.Logf("LAC log:\n%s", lac.tail())
	}
}
