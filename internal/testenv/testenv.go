// Package testenv builds the real parts the privileged tests run on: network
// namespaces joined by veth pairs (on internal/netlab), and checks for root
// and for the programs the tests drive. Only tests import it.
package testenv

import (
	"net/netip"
	"os"
	"os/exec"
	"testing"

	"github.com/bras-project/bras/internal/netlab"
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

// RequireCommand returns the path of a program the test drives. It skips
// (or under CI fails) when the program is not installed; deploy/test.sh
// installs them.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
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
	*netlab.Netns
}

// NewNetns creates a namespace with a unique name that starts with prefix and
// deletes it when the test ends, whatever the outcome. Loopback is up.
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	RequireRoot(t)
	ns, err := netlab.Create("bras-" + prefix + "-" + netlab.RandHex(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Delete)
	return &Netns{ns}
}

// MustRun runs a command in the namespace and fails the test on error.
func (n *Netns) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Link joins two namespaces with a veth pair named ifA (in a) and ifB (in b),
// brings both ends up and assigns the given prefixes (an invalid prefix
// leaves that end without an address).
func Link(t testing.TB, a *Netns, ifA string, addrA netip.Prefix, b *Netns, ifB string, addrB netip.Prefix) {
	t.Helper()
	if err := netlab.Link(a.Netns, ifA, addrA, b.Netns, ifB, addrB); err != nil {
		t.Fatal(err)
	}
}
