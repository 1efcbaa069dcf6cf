package testenv

import (
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Capabilities a root process uses to load BPF programs and maps
// (bpf_capable(): CAP_BPF or CAP_SYS_ADMIN; CAP_PERFMON for pointer
// arithmetic in the verifier).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// WithoutBPF runs fn on a locked OS thread whose effective capability set
// lacks CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN, as a daemon run without them
// (or under a container runtime that forbids BPF) would: every bpf(2)
// program or map load on that thread fails with EPERM. Capabilities are a
// property of the thread, so the rest of the test process keeps them; fn
// must do its work on its own goroutine. The thread gets its capabilities
// back afterwards.
func WithoutBPF(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var saved [2]unix.CapUserData
	if err := unix.Capget(&hdr, &saved[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	dropped := saved
	for _, c := range []uint{capSysAdmin, capPerfmon, capBPF} {
		dropped[c/32].Effective &^= 1 << (c % 32)
	}
	if err := unix.Capset(&hdr, &dropped[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	ferr := fn()
	if err := unix.Capset(&hdr, &saved[0]); err != nil {
		// The thread cannot be trusted with the scheduler's other
		// goroutines: a locked goroutine that exits takes it along.
		runtime.Goexit()
	}
	return ferr
}

// NewVethNetns is NewNetns with a veth pair a–b inside, both ends up and
// IPv4 forwarding on a: where a fast path can attach (XDP on a veth,
// dataplane refuses an interface that does not forward).
func NewVethNetns(t testing.TB, prefix, a, b string) *Netns {
	t.Helper()
	ns := NewNetns(t, prefix)
	for _, c := range [][]string{
		{"ip", "link", "add", a, "type", "veth", "peer", "name", b},
		{"ip", "link", "set", a, "up"}, {"ip", "link", "set", b, "up"},
		{"sysctl", "-qw", "net.ipv4.conf.all.forwarding=1"},
		{"sysctl", "-qw", "net.ipv4.conf." + a + ".forwarding=1"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	return ns
}
