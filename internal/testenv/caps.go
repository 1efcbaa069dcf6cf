package testenv

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
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

// CheckFallback checks, in ns, how a daemon's fast path falls back where
// the kernel refuses BPF (a thread without CAP_BPF): engine = auto opens
// no fast path and logs why, engine = xdp fails with EPERM, and with the
// capabilities engine = auto opens it. open opens the daemon's fast path
// for an engine, returning nil for the user-space engine; logs is where
// it logs. It returns what did not hold.
func CheckFallback(ns *Netns, logs fmt.Stringer, open func(engine string) (io.Closer, error)) error {
	err := ns.Do(func() error {
		return WithoutBPF(func() error {
			p, err := open("auto")
			if p != nil {
				p.Close()
				return errors.New("engine = auto: the fast path loaded without CAP_BPF")
			}
			if err != nil {
				return err
			}
			p, err = open("xdp")
			if p != nil {
				p.Close()
			}
			if !errors.Is(err, syscall.EPERM) {
				return fmt.Errorf("engine = xdp without CAP_BPF: %v, want an EPERM error", err)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if got := logs.String(); !strings.Contains(got, "forwarding engine: userspace") || !strings.Contains(got, "operation not permitted") {
		return fmt.Errorf("the fallback's log line does not say why:\n%s", got)
	}
	return ns.Do(func() error {
		p, err := open("auto")
		if err != nil {
			return err
		}
		if p == nil {
			return errors.New("engine = auto with CAP_BPF: no fast path:\n" + logs.String())
		}
		return p.Close()
	})
}
