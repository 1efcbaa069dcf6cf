package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/testenv"
	"golang.org/x/sys/unix"
)

// nobody is the unprivileged user the daemons run as in the tests (the
// units' user bras need not exist on a CI machine).
const nobody = 65534

const (
	tunnelSecret = "deploy-tunnel-secret"
	radiusSecret = "deploy-radius-secret"
	apiToken     = "deploy-api-token"
	echoAddr     = "10.255.2.2:9000"
)

// asUnit returns the arguments that run argv as the unit does: as an
// unprivileged user, with the unit's ambient capabilities and bounding
// set and nothing else, no supplementary groups, no_new_privs.
func asUnit(t *testing.T, unit string, argv ...string) []string {
	t.Helper()
	ambient := unitCaps(t, unit, "AmbientCapabilities")
	bounding := unitCaps(t, unit, "CapabilityBoundingSet")
	if len(ambient) == 0 || !slices.Equal(slices.Sorted(slices.Values(ambient)), slices.Sorted(slices.Values(bounding))) {
		t.Fatalf("%s: AmbientCapabilities %v and CapabilityBoundingSet %v: want the same, non-empty", unit, ambient, bounding)
	}
	set := "-all"
	for _, c := range ambient {
		set += ",+" + c
	}
	return append([]string{testenv.RequireCommand(t, "setpriv"),
		fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups", "--no-new-privs",
		"--inh-caps=" + set, "--ambient-caps=" + set, "--bounding-set=" + set, "--"}, argv...)
}

// capNumbers are the capabilities the units may name (linux/capability.h).
var capNumbers = map[string]uint{"net_admin": 12, "net_raw": 13, "perfmon": 38, "bpf": 39}

// capMask is the capability set of caps as /proc/PID/status shows it.
func capMask(t *testing.T, caps []string) uint64 {
	t.Helper()
	var m uint64
	for _, c := range caps {
		n, ok := capNumbers[c]
		if !ok {
			t.Fatalf("capability %s: add its number to capNumbers", c)
		}
		m |= 1 << n
	}
	return m
}

// daemon is a bras daemon started in a namespace.
type daemon struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs argv in ns and stops it (SIGTERM, then SIGKILL) when the test
// ends; its output goes to the test log when the test fails.
func start(t *testing.T, ns *testenv.Netns, name string, argv ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, cmd: ns.Command(argv[0], argv[1:]...), out: &syncBuffer{}, done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, d.out.String())
		}
	})
	return d
}

// stop sends SIGTERM (ip netns exec and setpriv exec the daemon: it is
// the process itself) and waits for the exit.
func (d *daemon) stop(t *testing.T) error {
	select {
	case <-d.done:
		return d.err
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop on SIGTERM in 30s", d.name)
		d.cmd.Process.Kill()
		<-d.done
	}
	return d.err
}

// waitLog waits until the daemon logged want; it fails the test when the
// daemon exits first or after timeout.
func (d *daemon) waitLog(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for !strings.Contains(d.out.String(), want) {
		select {
		case <-d.done:
			t.Fatalf("%s exited (%v) before logging %q:\n%s", d.name, d.err, want, d.out.String())
		case <-deadline:
			t.Fatalf("%s did not log %q in %v:\n%s", d.name, want, timeout, d.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// withTUN wraps argv so that it sees a /dev/net/tun everyone may open
// (mode 0666), as udev makes it on every systemd host
// (50-udev-default.rules); machines without udev (this VM, containers)
// leave the kernel's 0600 root node, which only root opens. The node is
// bind-mounted over /dev/net/tun in the mount namespace of ip netns exec,
// so the host's stays as it is.
func withTUN(t *testing.T, dir string, argv []string) []string {
	t.Helper()
	node := filepath.Join(dir, "tun")
	if _, err := os.Stat(node); err != nil {
		if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(10, 200))); err != nil {
			t.Fatalf("mknod %s: %v", node, err)
		}
		if err := os.Chmod(node, 0o666); err != nil { // mknod's mode is masked by the umask
			t.Fatal(err)
		}
	}
	return append([]string{"sh", "-c", `mount --bind "$0" /dev/net/tun && exec "$@"`, node}, argv...)
}

// ownedDir makes a directory owned by the daemons' user, mode 0700, as
// StateDirectory= does; files written into it by writeConf are that
// user's too.
func ownedDir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	return d
}

// writeConf writes a configuration file the daemons' user can read and
// nobody else.
func writeConf(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
}

// TestDaemonsRunAsUnits starts bras lns and bras lac as the units run
// them, as an unprivileged user with nothing but the units' capabilities,
// in namespaces sub ── lac ── lns ── upstream, with the user-space engine
// and with the XDP fast path: the TUN device, routes, raw PPPoE sockets,
// L2TP on port 1701 and the XDP attach all work, a subscriber comes up
// (RADIUS authentication) with its traffic through both daemons, the
// /healthz of both answer, and the LNS's accounting goes through its
// spool to RADIUS. A spool directory the user does not own is refused.
func TestDaemonsRunAsUnits(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "curl")
	bin := brasBinary(t)
	for _, engine := range []string{"userspace", "xdp"} {
		t.Run(engine, func(t *testing.T) {
			testDaemonsRunAsUnits(t, bin, engine)
		})
	}
}

func testDaemonsRunAsUnits(t *testing.T, bin, engine string) {
	sub := testenv.NewNetns(t, "unit-sub")
	lac := testenv.NewNetns(t, "unit-lac")
	lns := testenv.NewNetns(t, "unit-lns")
	up := testenv.NewNetns(t, "unit-up")
	none := netip.Prefix{}
	testenv.Link(t, sub, "eth0", none, lac, "eth0", none)
	testenv.Link(t, lac, "eth1", netip.MustParsePrefix("10.255.1.1/24"), lns, "eth0", netip.MustParsePrefix("10.255.1.2/24"))
	testenv.Link(t, lns, "eth1", netip.MustParsePrefix("10.255.2.1/24"), up, "eth0", netip.MustParsePrefix("10.255.2.2/24"))
	up.MustRun(t, "ip", "route", "add", "100.64.0.0/16", "via", "10.255.2.1")
	for _, ns := range []*testenv.Netns{lac, lns} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv4.conf.all.forwarding=1")
	}
	dataplane := ""
	if engine == "xdp" {
		// The fast path redirects into the veths towards the subscriber
		// and upstream, which deliver redirected frames only with GRO
		// on (shared/notes/xdp.md).
		sub.MustRun(t, "ethtool", "-K", "eth0", "gro", "on")
		up.MustRun(t, "ethtool", "-K", "eth0", "gro", "on")
		dataplane = "[dataplane]\nengine = xdp\ninterfaces = eth0, eth1\n"
	}
	rad := testenv.StartFreeRADIUS(t, testenv.RadiusConfig{NS: lns, Secret: radiusSecret,
		Users: []testenv.RadiusUser{{Name: "user0@lab", Password: "pw0"}}})

	dir, err := os.MkdirTemp("", "bras-units-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := ownedDir(t, dir, "etc")
	state := ownedDir(t, dir, "state") // StateDirectory=bras
	lnsConf := filepath.Join(conf, "lns.conf")
	lnsText := func(spool string) string {
		return fmt.Sprintf(`[lns]
node = unit-lns
listen = 10.255.1.2:1701
[tun]
name = bras0
address = 100.64.0.1/32
[pool "default"]
range = 100.64.0.0/24
[lac "unit-lac"]
secret = %s
[radius.server "lab"]
address = %s
secret = %s
[radius.accounting-server "lab"]
address = %s
secret = %s
[accounting]
spool-dir = %s
radius = true
[api]
listen = 127.0.0.1:8080
token = %s
`, tunnelSecret, rad.AuthAddr, radiusSecret, rad.AcctAddr, radiusSecret, spool, apiToken) + dataplane
	}
	lacConf := filepath.Join(conf, "lac.conf")
	writeConf(t, lacConf, fmt.Sprintf(`[lac]
host-name = unit-lac
listen = 10.255.1.1:1701
[access "eth0"]
mode = proxy
[lns "unit-lns"]
address = 10.255.1.2:1701
secret = %s
realms = lab
default = true
[api]
listen = 127.0.0.1:8081
token = %s
`, tunnelSecret, apiToken)+dataplane)

	// A spool directory root owns: the LNS refuses to start, and says why.
	rootOwned := filepath.Join(dir, "root-spool")
	if err := os.Mkdir(rootOwned, 0o755); err != nil {
		t.Fatal(err)
	}
	writeConf(t, lnsConf, lnsText(rootOwned))
	lnsArgv := withTUN(t, dir, asUnit(t, units["lns"], bin, "lns", "-config", lnsConf))
	refused := start(t, lns, "lns with a root-owned spool", lnsArgv...)
	select {
	case <-refused.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the LNS with a spool directory root owns did not exit in 20s:\n%s", refused.out.String())
	}
	if want := fmt.Sprintf("%s (mode 0755) is owned by uid 0, and the daemon runs as uid %d", rootOwned, nobody); refused.err == nil || !strings.Contains(refused.out.String(), want) {
		t.Errorf("the LNS with a spool directory root owns: %v, want it to refuse with %q:\n%s", refused.err, want, refused.out.String())
	}

	spool := filepath.Join(state, "spool")
	writeConf(t, lnsConf, lnsText(spool))
	// ExecStartPre= runs as the unit's user too.
	check := asUnit(t, units["lns"], bin, "lns", "-check", "-config", lnsConf)
	if out, err := lns.Command(check[0], check[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("bras lns -check: %v\n%s", err, out)
	}
	lnsd := start(t, lns, "lns", lnsArgv...)
	lnsd.waitLog(t, "LNS running", 20*time.Second)
	lacd := start(t, lac, "lac", asUnit(t, units["lac"], bin, "lac", "-config", lacConf)...)
	lacd.waitLog(t, "lac: running", 20*time.Second)
	for _, d := range []*daemon{lnsd, lacd} {
		if want := "forwarding engine: " + engine; !strings.Contains(d.out.String(), want) {
			t.Errorf("%s did not log %q:\n%s", d.name, want, d.out.String())
		}
	}
	// The processes are nobody's, with the units' capabilities only.
	for _, c := range []struct {
		d    *daemon
		unit string
	}{{lnsd, units["lns"]}, {lacd, units["lac"]}} {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.d.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(status), fmt.Sprintf("\nUid:\t%d\t%d\t%d\t%d\n", nobody, nobody, nobody, nobody)) {
			t.Errorf("%s does not run as uid %d:\n%s", c.d.name, nobody, status)
		}
		if want := fmt.Sprintf("\nCapEff:\t%016x\n", capMask(t, unitCaps(t, c.unit, "AmbientCapabilities"))); !strings.Contains(string(status), want) {
			t.Errorf("%s: want%s in:\n%s", c.d.name, want, status)
		}
	}
	if engine == "xdp" {
		for _, c := range []struct {
			ns   *testenv.Netns
			name string
		}{{lns, "lns"}, {lac, "lac"}} {
			for _, ifc := range []string{"eth0", "eth1"} {
				if out := c.ns.MustRun(t, "ip", "link", "show", ifc); !strings.Contains(out, "xdp") {
					t.Errorf("%s %s: no XDP program attached:\n%s", c.name, ifc, out)
				}
			}
		}
	}
	for _, c := range []struct {
		ns  *testenv.Netns
		api string
	}{{lns, "http://127.0.0.1:8080"}, {lac, "http://127.0.0.1:8081"}} {
		if out, err := c.ns.Run("curl", "-sf", "--max-time", "5", c.api+"/healthz"); err != nil || !strings.Contains(out, `"ok"`) {
			t.Errorf("%s/healthz: %v %s", c.api, err, out)
		}
	}

	// A subscriber with traffic through both daemons.
	start(t, up, "echo", bin, "echo", "-listen", echoAddr)
	report := filepath.Join(dir, "load.json")
	loadOut, err := sub.Command(bin, "load", "-iface", "eth0", "-n", "1", "-user", "user0@lab", "-password", "pw0",
		"-traffic-target", echoAddr, "-traffic-pps", "20", "-hold", "2s", "-setup-timeout", "20s", "-json", report, "-q").CombinedOutput()
	if err != nil {
		t.Errorf("bras load: %v\n%s", err, loadOut)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep load.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Up != 1 || rep.Traffic == nil || rep.Traffic.Sent == 0 || rep.Traffic.Lost != 0 {
		t.Errorf("bras load report: %s", b)
	}

	// Stopping writes the Stop; the accounting went through the spool,
	// which the daemon's user owns.
	if err := lacd.stop(t); err != nil {
		t.Errorf("lac: %v", err)
	}
	if err := lnsd.stop(t); err != nil {
		t.Errorf("lns: %v", err)
	}
	stops := func() (n int) {
		recs, _ := rad.ReadAccounting()
		for _, r := range recs {
			// FreeRADIUS's suffix module strips the realm.
			if r.Get("Acct-Status-Type") == "Stop" && strings.TrimSuffix(r.Get("User-Name"), "@lab") == "user0" {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); stops() == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := stops(); n != 1 {
		t.Errorf("%d accounting Stops for user0@lab at RADIUS, want 1:\n%s", n, strings.Join(rad.DetailLines(), "\n"))
	}
	segs, _ := filepath.Glob(filepath.Join(spool, "*", "*.seg"))
	if len(segs) == 0 {
		t.Errorf("no spool segments under %s", spool)
	}
	for _, p := range append(segs, spool) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody {
			t.Errorf("%s is owned by uid %d, want %d", p, st.Uid, nobody)
		}
	}
}
