package dataplane

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLNSPathSessions drives the Go API: a session's map entries appear
// with Add and SetAddr exactly as the programs read them (network order
// where the header says so), Remove takes them out and gives the slot
// back, and a full fast path says ErrFull.
func TestLNSPathSessions(t *testing.T) {
	w := newTestWorld(t)
	var p *LNSPath
	err := w.ns.Do(func() (err error) {
		p, err = NewLNSPath(Config{Interfaces: []string{"dp-a", "dp-b"}, MaxSessions: 2})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := LNSSession{LocalTunnel: 0x0102, LocalSession: 0x0304, PeerTunnel: 7, PeerSession: 9,
		LAC: netip.MustParseAddrPort("192.0.2.2:1701"), Local: netip.MustParseAddrPort("192.0.2.1:1701"), MTU: 1500, MSS: 1420}
	h, err := p.Add(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAddr(h, netip.MustParseAddr("10.1.2.3")); err != nil {
		t.Fatal(err)
	}
	if err := p.SetRate(h, Rate{Kbps: 8000, Burst: 10000}, Rate{}); err != nil {
		t.Fatal(err)
	}
	var sess lnsLnsSess
	if err := p.objs.LnsSessions.Lookup(lnsLnsSessKey{TunnelId: be16(0x0102), SessionId: be16(0x0304)}, &sess); err != nil {
		t.Fatalf("session not in lns_sessions: %v", err)
	}
	want := lnsLnsSess{LacAddr: be32(0xc0000202), SubAddr: be32(0x0a010203), LacPort: be16(1701), Mtu: 1500, Mss: 1420, Slot: h.slot}
	if d := cmp.Diff(want, sess); d != "" {
		t.Errorf("lns_sessions value (-want +got):\n%s", d)
	}
	var sub lnsLnsSub
	if err := p.objs.LnsSubs.Lookup(be32(0x0a010203), &sub); err != nil {
		t.Fatalf("address not in lns_subs: %v", err)
	}
	wantSub := lnsLnsSub{LacAddr: be32(0xc0000202), LnsAddr: be32(0xc0000201), LacPort: be16(1701), LnsPort: be16(1701),
		PeerTunnel: be16(7), PeerSession: be16(9), Mtu: 1500, Mss: 1420, Slot: h.slot}
	if d := cmp.Diff(wantSub, sub); d != "" {
		t.Errorf("lns_subs value (-want +got):\n%s", d)
	}
	var pol policerValue
	if err := p.policers.Lookup(h.slot, &pol); err != nil {
		t.Fatal(err)
	}
	// 8000 kbit/s: one octet every 1,000,000 ps; 10,000 octets of burst.
	if want := (policerValue{Up: bucketValue{PsPerOctet: 1e6, ToleranceNs: 1e7}}); pol != want {
		t.Errorf("policer %+v, want %+v", pol, want)
	}

	h2, err := p.Add(LNSSession{LocalTunnel: 1, LocalSession: 2, PeerTunnel: 3, PeerSession: 4, LAC: s.LAC, Local: s.Local})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(LNSSession{LocalTunnel: 1, LocalSession: 3, PeerTunnel: 3, PeerSession: 5, LAC: s.LAC, Local: s.Local}); !errors.Is(err, ErrFull) {
		t.Errorf("third session of two slots: err %v, want ErrFull", err)
	}
	if _, err := p.Remove(h); err != nil {
		t.Fatal(err)
	}
	if err := p.objs.LnsSessions.Lookup(lnsLnsSessKey{TunnelId: be16(0x0102), SessionId: be16(0x0304)}, &sess); err == nil {
		t.Error("removed session still in lns_sessions")
	}
	if err := p.objs.LnsSubs.Lookup(be32(0x0a010203), &sub); err == nil {
		t.Error("removed session's address still in lns_subs")
	}
	h3, err := p.Add(LNSSession{LocalTunnel: 1, LocalSession: 3, PeerTunnel: 3, PeerSession: 5, LAC: s.LAC, Local: s.Local})
	if err != nil {
		t.Fatalf("slot not given back: %v", err)
	}
	if h3.slot != h.slot {
		t.Errorf("reused slot %d, want %d", h3.slot, h.slot)
	}
	if c, err := p.Counters(h3); err != nil || c != (Counters{}) {
		t.Errorf("reused slot's counters %+v (err %v), want zero", c, err)
	}
	p.Remove(h2)
	p.Remove(h3)
}

// TestNativeModeRefused: asking for native XDP on an interface whose
// driver has none (loopback) is the documented error, nothing stays
// attached, and generic mode attaches there.
func TestNativeModeRefused(t *testing.T) {
	w := newTestWorld(t)
	err := w.ns.Do(func() error {
		p, err := NewLNSPath(Config{Interfaces: []string{"dp-a", "lo"}, Mode: ModeNative})
		if err == nil {
			p.Close()
			return errors.New("native XDP on lo attached")
		}
		if !strings.Contains(err.Error(), "attach XDP (native) to lo") {
			return errors.New("unexpected error: " + err.Error())
		}
		g, err := NewLNSPath(Config{Interfaces: []string{"lo"}, Mode: ModeGeneric})
		if err != nil {
			return err
		}
		return g.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := w.ns.MustRun(t, "ip", "link", "show", "dp-a"); strings.Contains(out, "xdp") {
		t.Errorf("dp-a kept a program after the failed attach:\n%s", out)
	}
	if _, err := ParseEngine("fast"); err == nil {
		t.Error("engine fast accepted")
	}
}

// TestDetachedWhenKilled: the programs attach through bpf_link, so a
// daemon killed with SIGKILL leaves nothing attached.
func TestDetachedWhenKilled(t *testing.T) {
	if os.Getenv("BRAS_DP_CHILD") != "" {
		return // the child's side runs in TestMain
	}
	w := newTestWorld(t)
	cmd := w.ns.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BRAS_DP_CHILD=dp-a")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "attached") {
		t.Fatalf("child: %q %v", line, err)
	}
	if s := w.ns.MustRun(t, "ip", "link", "show", "dp-a"); !strings.Contains(s, "xdp") {
		t.Fatalf("no program on dp-a while the child runs:\n%s", s)
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := w.ns.MustRun(t, "ip", "link", "show", "dp-a")
		if !strings.Contains(s, "xdp") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("program still attached after kill -9:\n%s", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMain runs the child of TestDetachedWhenKilled: attach, say so, wait
// to be killed.
func TestMain(m *testing.M) {
	if ifc := os.Getenv("BRAS_DP_CHILD"); ifc != "" {
		p, err := NewLACPath(Config{Interfaces: []string{ifc}})
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("attached\n")
		time.Sleep(time.Minute)
		p.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkLNSPathAddRemove is the control plane's cost of putting a
// session into the fast path (Add, SetAddr) and taking it out (Remove).
func BenchmarkLNSPathAddRemove(b *testing.B) {
	w := newTestWorld(b)
	var p *LNSPath
	if err := w.ns.Do(func() (err error) {
		p, err = NewLNSPath(Config{Interfaces: []string{"dp-a"}, MaxSessions: 1 << 17})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	lac, local := netip.MustParseAddrPort("192.0.2.2:1701"), netip.MustParseAddrPort("192.0.2.1:1701")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h, err := p.Add(LNSSession{LocalTunnel: 1, LocalSession: uint16(i), PeerTunnel: 2, PeerSession: 3, LAC: lac, Local: local, MTU: 1500})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.SetAddr(h, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Remove(h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLNSPathCounters is one session's counter read (an interim
// update, an API listing).
func BenchmarkLNSPathCounters(b *testing.B) {
	w := newTestWorld(b)
	var p *LNSPath
	if err := w.ns.Do(func() (err error) {
		p, err = NewLNSPath(Config{Interfaces: []string{"dp-a"}})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	h, err := p.Add(LNSSession{LocalTunnel: 1, LocalSession: 1, PeerTunnel: 2, PeerSession: 3,
		LAC: netip.MustParseAddrPort("192.0.2.2:1701"), Local: netip.MustParseAddrPort("192.0.2.1:1701"), MTU: 1500})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Counters(h); err != nil {
			b.Fatal(err)
		}
	}
}

// TestForwardingOffRefused: with IPv4 forwarding off on an interface the
// kernel's FIB lookup refuses every packet arriving there, so the fast
// path would hand all of them to user space; it refuses to attach and
// says which sysctl to set.
func TestForwardingOffRefused(t *testing.T) {
	w := newTestWorld(t)
	w.ns.MustRun(t, "sysctl", "-qw", "net.ipv4.conf.dp-b.forwarding=0")
	err := w.ns.Do(func() error {
		for _, open := range []func() (io.Closer, error){
			func() (io.Closer, error) { return NewLNSPath(Config{Interfaces: []string{"dp-a", "dp-b"}}) },
			func() (io.Closer, error) { return NewLACPath(Config{Interfaces: []string{"dp-b"}}) },
		} {
			p, err := open()
			if err == nil {
				p.Close()
				return errors.New("attached to dp-b with forwarding off")
			}
			if !errors.Is(err, ErrForwardingOff) || !strings.Contains(err.Error(), "net.ipv4.conf.dp-b.forwarding=1") {
				return errors.New("unexpected error: " + err.Error())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := w.ns.MustRun(t, "ip", "link", "show", "dp-a"); strings.Contains(out, "xdp") {
		t.Errorf("dp-a kept a program after the refusal:\n%s", out)
	}
}
