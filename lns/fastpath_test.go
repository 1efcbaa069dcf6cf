package lns

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
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
	err := testenv.CheckFallback(ns, &logs, func(engine string) (io.Closer, error) {
		p, err := openFastPath(cfg(engine), log)
		if p == nil {
			return nil, err // no typed nil in the interface
		}
		return p, err
	})
	if err != nil {
		t.Fatal(err)
	}
}
