package lac

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
)

// TestNetnsDaemonVLANRanges runs `bras lac` (the binary, in the lac
// namespace) on an access port written as operators write it:
// a range of single tags and QinQ ranges, two sessions per VLAN,
// NAS-Port-Id and Agent-Circuit-Id templates, with a real FreeRADIUS
// choosing the tunnel (proxy mode) and the lab's LNS behind it:
//
//   - subscribers on QinQ tags inside the ranges (10:100, 25:4094) and on
//     a single tag inside the range (150) come up through the LAC to the
//     LNS and exchange IPv4 with it;
//   - FreeRADIUS accepts each only with the NAS-Port-Id the template
//     gives for its tags (its users file checks it), and refuses one whose
//     entry wants another port;
//   - the LNS sees the circuit (Calling Number and the Agent-Circuit-Id
//     AVP) and the Physical Channel ID S-VLAN<<12 | C-VLAN;
//   - tags outside the ranges get no PADO;
//   - the third subscriber on 10:100 is refused at PADR with a
//     Generic-Error while 10:101 still takes one, and gets in once a
//     session on 10:100 has ended.
func TestNetnsDaemonVLANRanges(t *testing.T) {
	l := newLabWithoutLAC(t)
	type sub struct {
		i            int
		outer, inner uint16
		port         string // NAS-Port-Id the template gives
		circuit      string // Agent-Circuit-Id the template gives
	}
	subs := map[string]sub{
		"qinq":       {1, 10, 100, "a0:10:100", "a0.10.100"},
		"same vlan":  {2, 10, 100, "a0:10:100", "a0.10.100"},
		"over cap":   {3, 10, 100, "a0:10:100", "a0.10.100"},
		"other vlan": {4, 10, 101, "a0:10:101", "a0.10.101"},
		"range edge": {5, 25, 4094, "a0:25:4094", "a0.25.4094"},
		"single":     {6, 0, 150, "a0:150", "a0.150"},
	}
	var users []testenv.RadiusUser
	for _, s := range subs {
		users = append(users, testenv.RadiusUser{Name: fmt.Sprintf("user%d@example.com", s.i), Password: fmt.Sprintf("pw%d", s.i),
			Check: []testenv.RadiusAttr{{Name: "NAS-Port-Id", Value: s.port}}})
	}
	// user7's entry wants another port than the one it dials from.
	users = append(users, testenv.RadiusUser{Name: "user7@example.com", Password: "pw7",
		Check: []testenv.RadiusAttr{{Name: "NAS-Port-Id", Value: "a0:10:999"}}})
	rad := testenv.StartFreeRADIUS(t, testenv.RadiusConfig{NS: l.lacNS, Users: users, Secret: "radius-secret"})

	conf := fmt.Sprintf(`
[lac]
host-name = lac-vlan
listen = 10.9.0.1:1701
tunnel-selection = radius
dial-timeout = 2s
shutdown-timeout = 3s

[radius]
timeout = 2s
[radius.server "lab"]
address = %s
secret = radius-secret

[access "a0"]
mode = proxy
ac-name = bras-lac
user-vlans = true
vlans = 100-199
qinq = 10:1-4094, 20-29:any
max-sessions-per-vlan = 2
nas-port-id = {interface}[:{svlan}]:{cvlan}
circuit-id = {interface}[.{svlan}][.{cvlan}]

[lns "lab"]
address = 10.9.0.2:1701
secret = tunnel-secret
default = true
`, rad.AuthAddr)
	path := filepath.Join(t.TempDir(), "lac.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	lac := l.lacNS.Command(buildBras(t), "lac", "-config", path)
	lac.Stdout, lac.Stderr = logs, logs
	lac.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := lac.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- lac.Wait() }()
	t.Cleanup(func() {
		_ = lac.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("bras lac: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = lac.Process.Kill()
			<-exited
			t.Error("bras lac did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("bras lac log:\n%s", logs.String())
		}
	})

	dial := func(s sub) (*subscriber, error) {
		return l.dialTagged(s.i, "", "example.com", false, s.outer, s.inner)
	}
	var first *subscriber
	var err error
	within(t, 10*time.Second, "bras lac to answer PPPoE", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("bras lac exited: %v", err)
		default:
		}
		first, err = dial(subs["qinq"])
		return err == nil
	})
	up := map[string]*subscriber{"qinq": first}
	for _, name := range []string{"same vlan", "other vlan", "range edge", "single"} {
		s, err := dial(subs[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		up[name] = s
	}
	for name, s := range up {
		if err := s.waitUp(l.ctx); err != nil {
			t.Fatalf("%s (%d:%d): %v", name, subs[name].outer, subs[name].inner, err)
		}
		s.echo(t)
	}

	// What the LNS was told of each port.
	for name := range up {
		want := subs[name]
		c := l.lns.call(want.circuit)
		if c == nil {
			t.Errorf("%s: the LNS has no call with Calling Number %q", name, want.circuit)
			continue
		}
		icrq := c.ls.ICRQ()
		line, ok, err := ParseAccessLineAVPs(icrq)
		if !ok || err != nil || line.CircuitID != want.circuit {
			t.Errorf("%s: access line %+v (%v, %v), want Agent-Circuit-Id %q", name, line, ok, err, want.circuit)
		}
		phys, _ := icrq.Find(l2tp.AVPPhysicalChannelID)
		if v, err := phys.Uint32(); err != nil || v != uint32(want.outer)<<12|uint32(want.inner) {
			t.Errorf("%s: Physical Channel ID %d (%v), want %d<<12|%d", name, v, err, want.outer, want.inner)
		}
	}

	// Tags outside the ranges get no PADO.
	for _, tags := range [][2]uint16{{30, 100}, {0, 200}, {0, 99}, {19, 5}} {
		_, err := l.cli.Dial(l.ctx, subMAC(40+int(tags[1])%8), pppoe.DialOptions{OuterVLAN: tags[0], VLAN: tags[1], Timeout: 150 * time.Millisecond, PADIAttempts: 2})
		if !errors.Is(err, pppoe.ErrNoOffer) {
			t.Errorf("dial on %d:%d (outside the ranges): %v, want no PADO", tags[0], tags[1], err)
		}
	}

	// The third session on 10:100 is refused at PADR; 10:101 took one above.
	_, err = dial(subs["over cap"])
	if !errors.Is(err, pppoe.ErrRefused) || !strings.Contains(err.Error(), "Generic-Error") || !strings.Contains(err.Error(), "session limit of the VLAN") {
		t.Fatalf("third subscriber on 10:100: %v, want a PADS with Generic-Error", err)
	}
	within(t, 3*time.Second, "the refusal in the log", func() bool {
		return strings.Contains(logs.String(), "the VLAN's session limit is reached") && strings.Contains(logs.String(), "vlan=10:100")
	})

	// FreeRADIUS refuses a user whose entry wants another NAS-Port-Id.
	s7, err := dial(sub{i: 7, outer: 10, inner: 102})
	if err != nil {
		t.Fatal(err)
	}
	s7.waitPADT(t, "a user at another port than its RADIUS entry's")
	if c := l.lns.call("a0.10.102"); c != nil {
		t.Error("the subscriber FreeRADIUS rejected reached the LNS")
	}

	// A session on 10:100 ends: its place on the VLAN is free again.
	if err := first.cs.Close(); err != nil {
		t.Fatal(err)
	}
	var s3 *subscriber
	within(t, 5*time.Second, "a place on 10:100 after a PADT", func() bool {
		s3, err = dial(subs["over cap"])
		return err == nil
	})
	if err := s3.waitUp(l.ctx); err != nil {
		t.Fatal(err)
	}
	s3.echo(t)
}

// buildBras builds the bras binary (the test runs the daemon as operators
// do).
func buildBras(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bras")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/bras").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
