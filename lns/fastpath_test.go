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

// TestFastPathIPv6Binding: SetIPv6 mirrors a session's prefixes into the
// fast path and takes them out again; a fast path that refuses them (its
// IPv6 table full) gives that session back to the user-space engine, which
// still routes its prefixes, and the others keep theirs.
func TestFastPathIPv6Binding(t *testing.T) {
	ns := testenv.NewVethNetns(t, "f6", "f6-a", "f6-b")
	var p *dataplane.LNSPath
	if err := ns.Do(func() (err error) {
		// Two sessions: lns_routes6 holds two prefixes.
		p, err = dataplane.NewLNSPath(dataplane.Config{Interfaces: []string{"f6-a"}, MaxSessions: 2, SlowInterface: "f6-b"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	d, f, _, _ := newDPTestPlane(t, DataPlaneConfig{Fast: p, Local: netip.MustParseAddrPort("192.0.2.2:1701")}, FlowConfig{})
	if f.fast.Load() == nil {
		t.Fatal("the session is not in the fast path")
	}
	pfx := func(s ...string) []netip.Prefix {
		var ps []netip.Prefix
		for _, x := range s {
			ps = append(ps, netip.MustParsePrefix(x))
		}
		return ps
	}
	if err := d.SetIPv6(f, pfx("2001:db8:1:2::/64", "2001:db8:100::/56")); err != nil {
		t.Fatal(err)
	}
	if f.fast.Load() == nil {
		t.Fatal("binding two prefixes took the session out of the fast path")
	}

	g, err := NewFlow(FlowConfig{LocalTunnelID: 10, LocalSessionID: 21, PeerTunnelID: 7, PeerSessionID: 10, Peer: dpLACPeer})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add(g); err != nil {
		t.Fatal(err)
	}
	if g.fast.Load() == nil {
		t.Fatal("the second session is not in the fast path")
	}
	if err := d.SetIPv6(g, pfx("2001:db8:9:1::/64")); err != nil {
		t.Fatalf("SetIPv6 with the fast path's table full: %v (the user-space engine should take it)", err)
	}
	if g.fast.Load() != nil {
		t.Error("a session whose prefix the fast path refused is still in it")
	}
	if d.FastStats().Full != 1 {
		t.Errorf("FastStats().Full = %d, want 1", d.FastStats().Full)
	}
	if got := d.v6.Lookup(netip.MustParseAddr("2001:db8:9:1::1").AsSlice()); got != g {
		t.Error("the refused session's prefix is not routed in user space")
	}
	if f.fast.Load() == nil {
		t.Error("the first session left the fast path")
	}

	// Unbound, the prefixes free the table: another binding fits.
	if err := d.SetIPv6(f, nil); err != nil {
		t.Fatal(err)
	}
	h, err := NewFlow(FlowConfig{LocalTunnelID: 10, LocalSessionID: 22, PeerTunnelID: 7, PeerSessionID: 11, Peer: dpLACPeer})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add(h); err != nil {
		t.Fatal(err)
	}
	if err := d.SetIPv6(h, pfx("2001:db8:a::/48", "2001:db8:b::/48")); err != nil {
		t.Fatal(err)
	}
	if h.fast.Load() == nil {
		t.Error("after the first session unbound its prefixes, two more did not fit")
	}
	d.Remove(h)
	d.Remove(f)
}
