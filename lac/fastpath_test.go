package lac

import (
	"bytes"
	"io"
	"log/slog"
	"net"
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
	err := testenv.CheckFallback(ns, &logs, func(engine string) (io.Closer, error) {
		p, err := openFastPath(cfg(engine), log, local, 1)
		if p == nil {
			return nil, err // no typed nil in the interface
		}
		return p, err
	})
	if err != nil {
		t.Fatal(err)
	}
}
