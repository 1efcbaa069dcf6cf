package lac

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/testenv"
)

// TestAutoFallsBackWithoutBPF: where the kernel refuses BPF to the LAC (no
// CAP_BPF), engine = auto relays in user space and logs why, engine = xdp
// refuses to start, and with its capabilities the same configuration loads
// the fast path.
func TestAutoFallsBackWithoutBPF(t *testing.T) {
	ns := testenv.NewVethNetns(t, "fb", "fb-a", "fb-b")
	cfg := func(engine string) *FileConfig {
		return &FileConfig{Dataplane: dataplane.Settings{Engine: engine, Interfaces: []string{"fb-a"}}}
	}
	local := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1701}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	err := ns.Do(func() error {
		return testenv.WithoutBPF(func() error {
			p, err := openFastPath(cfg("auto"), log, local)
			if p != nil {
				p.Close()
				return errors.New("engine = auto: the fast path loaded without CAP_BPF")
			}
			if err != nil {
				return err
			}
			p, err = openFastPath(cfg("xdp"), log, local)
			if p != nil {
				p.Close()
			}
			if !errors.Is(err, syscall.EPERM) {
				return errors.New("engine = xdp without CAP_BPF: want an EPERM error")
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

	err = ns.Do(func() error {
		p, err := openFastPath(cfg("auto"), log, local)
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
