package lns

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/testenv"
)

// TestAutoFallsBackWithoutBPF: where the kernel refuses BPF to the daemon
// (no CAP_BPF, as under a container runtime that forbids it), engine = auto
// forwards with the user-space engine and says why in one log line, while
// engine = xdp refuses to start. With its capabilities the same
// configuration loads the fast path, so the fallback is the refusal's doing.
func TestAutoFallsBackWithoutBPF(t *testing.T) {
	ns := testenv.NewVethNetns(t, "fb", "fb-a", "fb-b")
	cfg := func(engine string) *FileConfig {
		c := &FileConfig{Dataplane: dataplane.Settings{Engine: engine, Interfaces: []string{"fb-a"}}}
		c.LNS.Listen = netip.MustParseAddrPort("0.0.0.0:1701")
		c.LNS.MaxSessions = 16
		c.TUN.Name = "fb-b" // the slow path's device: any existing one will do here
		return c
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	err := ns.Do(func() error {
		return testenv.WithoutBPF(func() error {
			p, err := openFastPath(cfg("auto"), log)
			if p != nil {
				p.Close()
				return errors.New("engine = auto: the fast path loaded without CAP_BPF")
			}
			if err != nil {
				return err
			}
			p, err = openFastPath(cfg("xdp"), log)
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
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "forwarding engine: userspace") || !strings.Contains(got, "operation not permitted") {
		t.Errorf("the fallback's log line does not say why:\n%s", got)
	}
	if out := ns.MustRun(t, "ip", "link", "show", "fb-a"); strings.Contains(out, "xdp") {
		t.Errorf("fb-a has a program after the refusals:\n%s", out)
	}

	err = ns.Do(func() error {
		p, err := openFastPath(cfg("auto"), log)
		if err != nil {
			return err
		}
		if p == nil {
			return errors.New("engine = auto with CAP_BPF: no fast path:\n" + logs.String())
		}
		return p.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
