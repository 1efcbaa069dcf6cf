package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bras-project/bras/internal/testenv"
)

// units are the systemd units this package ships, by daemon.
var units = map[string]string{"lns": "systemd/bras-lns.service", "lac": "systemd/bras-lac.service"}

// maxExposure is the highest `systemd-analyze security` exposure a unit
// may have (issue 12: 4.0 or less; the units are at about 2).
const maxExposure = 4.0

// binDir holds the bras binary the tests build; searchable by every user,
// since the daemons also run as nobody from it.
var binDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "bras-deploy-")
	if err == nil {
		err = os.Chmod(d, 0o755)
	}
	if err != nil {
		panic(err)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// brasBinary builds ./cmd/bras once for the package's tests.
func brasBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "bras")
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", bin, "../cmd/bras")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ../cmd/bras: %v\n%s", buildErr, buildOut)
	}
	return bin
}

// installedUnit writes a copy of the unit whose /usr/local/bin/bras is
// bin (systemd-analyze verify checks that ExecStart's binary exists) into
// a temporary directory and returns its path.
func installedUnit(t *testing.T, unit, bin string) string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "/usr/local/bin/bras ") {
		t.Fatalf("%s does not run /usr/local/bin/bras", unit)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(unit))
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/bras ", bin+" ")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUnitsVerify: systemd-analyze verify finds nothing to say about
// either unit (unknown keys, bad values, a missing binary). Lines about
// other units of the host (--recursive-errors=no keeps them from the
// exit status) are not ours.
func TestUnitsVerify(t *testing.T) {
	sa := testenv.RequireCommand(t, "systemd-analyze")
	bin := brasBinary(t)
	for daemon, unit := range units {
		t.Run(daemon, func(t *testing.T) {
			p := installedUnit(t, unit, bin)
			out, err := exec.Command(sa, "verify", "--recursive-errors=no", "--man=no", p).CombinedOutput()
			var ours []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, filepath.Base(unit)) {
					ours = append(ours, l)
				}
			}
			if err != nil || len(ours) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
			}
		})
	}
}

var exposureLine = regexp.MustCompile(`Overall exposure level for [^:]+: ([0-9]+(?:\.[0-9]+)?)`)

// TestUnitsSecurity: systemd-analyze security rates each unit's exposure
// at maxExposure or below (root without a sandbox is 9.7).
func TestUnitsSecurity(t *testing.T) {
	sa := testenv.RequireCommand(t, "systemd-analyze")
	bin := brasBinary(t)
	for daemon, unit := range units {
		t.Run(daemon, func(t *testing.T) {
			p := installedUnit(t, unit, bin)
			out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", p).CombinedOutput()
			m := exposureLine.FindSubmatch(out)
			if m == nil {
				t.Fatalf("systemd-analyze security %s: %v; no exposure line in:\n%s", unit, err, out)
			}
			v, perr := strconv.ParseFloat(string(m[1]), 64)
			if perr != nil {
				t.Fatal(perr)
			}
			t.Logf("%s: exposure %.1f", unit, v)
			if v > maxExposure {
				t.Errorf("%s: exposure %.1f, want ≤ %.1f:\n%s", unit, v, maxExposure, out)
			}
		})
	}
}

// TestSysusers: the sysusers file creates the system user the units run
// as, with the state directory as its home.
func TestSysusers(t *testing.T) {
	su := testenv.RequireCommand(t, "systemd-sysusers")
	testenv.RequireRoot(t)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := filepath.Abs("systemd/bras.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(su, "--root="+root, conf).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^bras:x:[0-9]+:[0-9]+:[^:]*:/var/lib/bras:/usr/sbin/nologin$`).Match(b) {
		t.Errorf("passwd:\n%s", b)
	}
	for daemon, unit := range units {
		if got := unitValues(t, unit, "User"); len(got) != 1 || got[0] != "bras" {
			t.Errorf("%s: User=%v, want bras", daemon, got)
		}
	}
}

// unitValues returns the values of key in the [Service] section of unit,
// in order (an empty assignment resets the list, as systemd does).
func unitValues(t *testing.T, unit, key string) []string {
	t.Helper()
	f, err := os.Open(unit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vals []string
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			section = l
		case section == "[Service]":
			k, v, ok := strings.Cut(l, "=")
			if !ok || strings.TrimSpace(k) != key {
				continue
			}
			if v = strings.TrimSpace(v); v == "" {
				vals = nil
			} else {
				vals = append(vals, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vals
}

// unitCaps returns the capabilities of key (AmbientCapabilities,
// CapabilityBoundingSet) as setpriv names them: "net_admin", ...
func unitCaps(t *testing.T, unit, key string) []string {
	t.Helper()
	var caps []string
	for _, v := range unitValues(t, unit, key) {
		for _, c := range strings.Fields(v) {
			if !strings.HasPrefix(c, "CAP_") {
				t.Fatalf("%s: %s=%s: want a list of CAP_ names", unit, key, v)
			}
			caps = append(caps, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
		}
	}
	return caps
}
