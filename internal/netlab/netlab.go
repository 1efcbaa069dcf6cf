// Package netlab builds the lab's network: named network namespaces joined by
// veth pairs, and runs code or commands inside them. bras lab and the
// privileged tests (through internal/testenv) share it.
package netlab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// Netns is a named network namespace.
type Netns struct {
	Name string
}

// Create makes the namespace name and brings its loopback up.
func Create(name string) (*Netns, error) {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("netlab: ip netns add %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	n := &Netns{Name: name}
	if _, err := n.Run("ip", "link", "set", "lo", "up"); err != nil {
		n.Delete()
		return nil, err
	}
	return n, nil
}

// Delete kills what still runs in the namespace and removes it.
func (n *Netns) Delete() {
	if out, err := exec.Command("ip", "netns", "pids", n.Name).Output(); err == nil {
		for _, pid := range strings.Fields(string(out)) {
			_ = exec.Command("kill", "-9", pid).Run()
		}
	}
	_ = exec.Command("ip", "netns", "del", n.Name).Run()
}

// Command returns a command that runs in the namespace.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command in the namespace and returns its combined output.
func (n *Netns) Run(name string, args ...string) (string, error) {
	out, err := n.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netlab: in %s: %s %s: %v: %s", n.Name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Do runs fn on an OS thread switched into the namespace. Sockets and TUN
// devices opened inside fn stay in the namespace after it returns;
// goroutines started inside fn do not inherit it.
func (n *Netns) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return fmt.Errorf("netlab: current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		return fmt.Errorf("netlab: netns %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return fmt.Errorf("netlab: enter %s: %w", n.Name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is left in the wrong namespace: never give it back to
		// the scheduler (a locked goroutine that exits takes its thread along).
		runtime.Goexit()
	}
	return ferr
}

// Link joins a and b with a veth pair named ifA (in a) and ifB (in b), brings
// both ends up and assigns the prefixes (an invalid prefix leaves that end
// without an address). Deleting either namespace removes the pair.
func Link(a *Netns, ifA string, addrA netip.Prefix, b *Netns, ifB string, addrB netip.Prefix) error {
	tmpA, tmpB := "bv"+RandHex(3), "bv"+RandHex(3)
	if out, err := exec.Command("ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB).CombinedOutput(); err != nil {
		return fmt.Errorf("netlab: ip link add veth: %v: %s", err, strings.TrimSpace(string(out)))
	}
	for _, end := range []struct {
		tmp, name string
		ns        *Netns
		addr      netip.Prefix
	}{{tmpA, ifA, a, addrA}, {tmpB, ifB, b, addrB}} {
		if out, err := exec.Command("ip", "link", "set", end.tmp, "netns", end.ns.Name).CombinedOutput(); err != nil {
			_ = exec.Command("ip", "link", "del", tmpA).Run()
			return fmt.Errorf("netlab: ip link set %s netns %s: %v: %s", end.tmp, end.ns.Name, err, strings.TrimSpace(string(out)))
		}
		if _, err := end.ns.Run("ip", "link", "set", end.tmp, "name", end.name); err != nil {
			return err
		}
		if end.addr.IsValid() {
			if _, err := end.ns.Run("ip", "addr", "add", end.addr.String(), "dev", end.name); err != nil {
				return err
			}
		}
		if _, err := end.ns.Run("ip", "link", "set", end.name, "up"); err != nil {
			return err
		}
	}
	return nil
}

// RandHex returns 2n random hex digits, for unique namespace and link names.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
