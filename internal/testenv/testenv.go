// Package testenv builds the real parts the privileged tests run on: network
// namespaces joined by veth pairs. Only tests import it.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// InCI reports whether the tests run under CI, where a skip is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireRoot skips the test when it does not run as root, and fails it
// instead under CI=true, where every privileged test must run.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("this test needs root (network namespaces, raw sockets) and CI=true forbids skipping it")
	}
	t.Skip("skipped: this test needs root (network namespaces, raw sockets); run it as root")
}

// RequireCommand skips (or under CI fails) when a program the test drives is
// not installed. deploy/test.sh installs them.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/lib/postgresql/15/bin"} {
		if _, err := os.Stat(dir + "/" + name); err == nil {
			return dir + "/" + name
		}
	}
	if InCI() {
		t.Fatalf("%s is not installed and CI=true forbids skipping (deploy/test.sh installs it)", name)
	}
	t.Skipf("skipped: %s is not installed (bash deploy/test.sh installs it)", name)
	return ""
}

// Netns is a network namespace made for one test and deleted after it.
type Netns struct {
	Name string
}

// NewNetns creates a namespace with a unique name that starts with prefix
// (keep prefix short: interface names are limited to 15 bytes) and deletes
// it when the test ends, whatever the outcome. Loopback is brought up.
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	RequireRoot(t)
	name := "bras-" + prefix + "-" + randHex(4)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ns := &Netns{Name: name}
	t.Cleanup(func() {
		// Kill what still runs in it, then delete it.
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", name).Run()
	})
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Command returns a command that runs in the namespace.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// MustRun runs a command in the namespace and fails the test on error.
func (n *Netns) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s %s: %v: %s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Do runs fn on an OS thread switched into the namespace. Sockets and TUN
// devices opened inside fn stay in the namespace after it returns;
// goroutines started inside fn do not inherit it.
func (n *Netns) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return fmt.Errorf("testenv: current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		return fmt.Errorf("testenv: netns %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return fmt.Errorf("testenv: enter %s: %w", n.Name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is left in the wrong namespace: do not give it back to
		// the scheduler (an unlocked exit of a locked thread kills it).
		runtime.Goexit()
	}
	return ferr
}

// Link joins two namespaces with a veth pair named ifA (in a) and ifB (in b),
// brings both ends up and assigns the given prefixes (an invalid prefix
// leaves that end without an address).
func Link(t testing.TB, a *Netns, ifA string, addrA netip.Prefix, b *Netns, ifB string, addrB netip.Prefix) {
	t.Helper()
	tmpA, tmpB := "bv"+randHex(4), "bv"+randHex(4)
	if out, err := exec.Command("ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB).CombinedOutput(); err != nil {
		t.Fatalf("ip link add veth: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", tmpA).Run() })
	for _, end := range []struct {
		tmp, name string
		ns        *Netns
		addr      netip.Prefix
	}{{tmpA, ifA, a, addrA}, {tmpB, ifB, b, addrB}} {
		if out, err := exec.Command("ip", "link", "set", end.tmp, "netns", end.ns.Name).CombinedOutput(); err != nil {
			t.Fatalf("ip link set %s netns %s: %v: %s", end.tmp, end.ns.Name, err, out)
		}
		end.ns.MustRun(t, "ip", "link", "set", end.tmp, "name", end.name)
		if end.addr.IsValid() {
			end.ns.MustRun(t, "ip", "addr", "add", end.addr.String(), "dev", end.name)
		}
		end.ns.MustRun(t, "ip", "link", "set", end.name, "up")
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n+n/2]
}
