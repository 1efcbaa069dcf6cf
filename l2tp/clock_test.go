package l2tp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// captureConn is a net.PacketConn that records what is written and never
// delivers anything: the tests below drive a Tunnel's goroutine-owned
// methods directly, on a fake clock.
type captureConn struct {
	mu  sync.Mutex
	out [][]byte
	to  []net.Addr
}

func (c *captureConn) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, net.ErrClosed }
func (c *captureConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, append([]byte(nil), b...))
	c.to = append(c.to, a)
	c.mu.Unlock()
	return len(b), nil
}
func (c *captureConn) Close() error                     { return nil }
func (c *captureConn) LocalAddr() net.Addr              { return net.UDPAddrFromAddrPort(lacAddr) }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

// take returns the written control messages as (type or "ZLB", Ns, Nr).
func (c *captureConn) take(t *testing.T) []string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var r []string
	for _, b := range c.out {
		h, m, err := ParseControl(b, nil)
		if err != nil {
			t.Fatalf("wrote an undecodable message: %v", err)
		}
		name := "ZLB"
		if m != nil {
			name = m.Type.String()
		}
		r = append(r, name+" "+itoa(int(h.Ns))+"/"+itoa(int(h.Nr)))
	}
	c.out, c.to = nil, nil
	return r
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// establishedOnClock returns a dialing tunnel brought to established on a
// fake clock, with the SCCCN acknowledged.
func establishedOnClock(t *testing.T, opts TunnelOptions) (*Tunnel, *captureConn, *fakeClock, *recorder) {
	t.Helper()
	conn := &captureConn{}
	clk := &fakeClock{now: t0}
	rec := newRecorder("lac")
	ep, err := NewEndpoint(conn, Config{HostName: "lac", Handler: rec, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := ep.newTunnel(lnsAddr, opts, false)
	if err != nil {
		t.Fatal(err)
	}
	tn.begin()
	tn.flush()
	if got := conn.take(t); len(got) != 1 || got[0] != "SCCRQ 0/0" {
		t.Fatalf("open: wrote %v, want SCCRQ 0/0", got)
	}
	clk.now = clk.now.Add(100 * time.Millisecond)
	from := lnsAddr
	if opts.PeerHostName == "new-port" {
		// The LNS answers from another port (section 8.1).
		from = netip.AddrPortFrom(lnsAddr.Addr(), 50000)
	}
	peer := func(ns, nr uint16, m *Message) {
		b, _ := AppendControl(nil, Header{TunnelID: tn.LocalID(), Ns: ns, Nr: nr}, m, nil, nil)
		tn.input(inPacket{b: b, from: from})
		tn.flush()
	}
	sccrp := &Message{Type: MsgSCCRP, AVPs: []AVP{ProtocolVersion1.AVP(), FramingSync.AVP(AVPFramingCapabilities),
		NewAVPString(AVPHostName, opts.PeerHostName), NewAVPUint16(AVPAssignedTunnelID, 9)}}
	if opts.PeerHostName == "" {
		sccrp.AVPs[2] = NewAVPString(AVPHostName, "lns")
	}
	peer(0, 1, sccrp)
	if got := conn.take(t); len(got) != 1 || got[0] != "SCCCN 1/1" {
		t.Fatalf("after SCCRP: wrote %v, want SCCCN 1/1", got)
	}
	if tn.State() != CtrlEstablished || rec.tunnelsUp.Load() != 1 {
		t.Fatalf("state %v, up %d", tn.State(), rec.tunnelsUp.Load())
	}
	peer(1, 2, nil) // ZLB acknowledging the SCCCN
	return tn, conn, clk, rec
}

// runTimers advances the fake clock to each deadline up to until, firing
// the tunnel's timers as its goroutine would, and returns the offsets
// (from start) at which something was written.
func runTimers(t *testing.T, tn *Tunnel, conn *captureConn, clk *fakeClock, until time.Time) (at []time.Duration, wrote []string) {
	start := t0
	for i := 0; i < 100; i++ {
		dl := tn.nextDeadline()
		if dl.IsZero() || dl.After(until) || tn.finished {
			break
		}
		clk.now = dl
		tn.onTimer()
		tn.flush()
		for _, w := range conn.take(t) {
			at = append(at, dl.Sub(start))
			wrote = append(wrote, w)
		}
	}
	return at, wrote
}

func TestHelloAndSilentPeerOnFakeClock(t *testing.T) {
	tn, conn, clk, rec := establishedOnClock(t, TunnelOptions{}) // RFC defaults: 60 s hello, 1 s doubling to 8 s, 5 retries
	at, wrote := runTimers(t, tn, conn, clk, t0.Add(200*time.Second))
	// The peer acked the SCCCN at 100 ms: HELLO at 60.1 s, retransmitted
	// after 1, 2, 4, 8, 8 s, and the tunnel cleared 8 s after the last.
	wantAt := []time.Duration{60100, 61100, 63100, 67100, 75100, 83100}
	if len(at) != len(wantAt) {
		t.Fatalf("wrote %v at %v, want 6 HELLOs", wrote, at)
	}
	for i, w := range wantAt {
		if at[i] != w*time.Millisecond || wrote[i] != "HELLO 2/1" {
			t.Errorf("write %d: %s at %v, want HELLO 2/1 at %v", i, wrote[i], at[i], w*time.Millisecond)
		}
	}
	if rec.tunnelsDown.Load() != 1 || !tn.finished {
		t.Fatalf("tunnel down %d finished %v after the retries", rec.tunnelsDown.Load(), tn.finished)
	}
	if err := rec.downErr[tn]; !errors.Is(err, ErrPeerUnreachable) {
		t.Errorf("TunnelDown err %v, want ErrPeerUnreachable", err)
	}
	if clk.now != t0.Add(91100*time.Millisecond) {
		t.Errorf("cleared at %v, want 91.1 s", clk.now.Sub(t0))
	}
}

func TestHelloPostponedByTraffic(t *testing.T) {
	tn, conn, clk, _ := establishedOnClock(t, TunnelOptions{HelloInterval: 10 * time.Second})
	// Traffic from the peer every 5 s keeps the HELLO away.
	for i := 1; i <= 4; i++ {
		clk.now = t0.Add(time.Duration(i) * 5 * time.Second)
		tn.onTimer()
		b, _ := AppendControl(nil, Header{TunnelID: tn.LocalID(), Ns: 1, Nr: 2}, nil, nil, nil)
		tn.input(inPacket{b: b})
		tn.flush()
	}
	if got := conn.take(t); len(got) != 0 {
		t.Fatalf("wrote %v while the peer was talking", got)
	}
	_, wrote := runTimers(t, tn, conn, clk, t0.Add(30*time.Second+time.Millisecond))
	if len(wrote) != 1 || wrote[0] != "HELLO 2/1" {
		t.Fatalf("after 10 s of silence: %v, want one HELLO", wrote)
	}
	// The peer acks it: no retransmission, the next HELLO 10 s later.
	b, _ := AppendControl(nil, Header{TunnelID: tn.LocalID(), Ns: 1, Nr: 3}, nil, nil, nil)
	tn.input(inPacket{b: b})
	at, wrote := runTimers(t, tn, conn, clk, t0.Add(40*time.Second+time.Millisecond))
	if len(wrote) != 1 || wrote[0] != "HELLO 3/1" || at[0] != 40*time.Second {
		t.Fatalf("next HELLO: %v at %v, want HELLO 3/1 at 40 s", wrote, at)
	}
}

func TestStopCCNLingerOnFakeClock(t *testing.T) {
	tn, conn, clk, rec := establishedOnClock(t, TunnelOptions{HelloInterval: -1})
	stop := &Message{Type: MsgStopCCN, AVPs: []AVP{NewAVPUint16(AVPAssignedTunnelID, 9), ResultCode{Result: uint16(StopCCNGeneralRequest)}.AVP()}}
	b, _ := AppendControl(nil, Header{TunnelID: tn.LocalID(), Ns: 1, Nr: 2}, stop, nil, nil)
	clk.now = t0.Add(time.Second)
	tn.input(inPacket{b: b})
	tn.flush()
	if rec.tunnelsDown.Load() != 1 || tn.finished {
		t.Fatalf("after StopCCN: down %d finished %v, want down and lingering", rec.tunnelsDown.Load(), tn.finished)
	}
	// The ack is a ZLB after the delay; then the peer, not hearing it,
	// retransmits its StopCCN at 2 s: re-acknowledged at once.
	_, wrote := runTimers(t, tn, conn, clk, t0.Add(1500*time.Millisecond))
	if len(wrote) != 1 || wrote[0] != "ZLB 2/2" {
		t.Fatalf("ack of StopCCN: %v, want ZLB 2/2", wrote)
	}
	clk.now = t0.Add(2 * time.Second)
	tn.input(inPacket{b: b})
	tn.flush()
	if got := conn.take(t); len(got) != 1 || got[0] != "ZLB 2/2" {
		t.Fatalf("re-ack during linger: %v, want ZLB 2/2", got)
	}
	// Linger: a full retransmission cycle (1+2+4+8+8+8 = 31 s) after the
	// StopCCN, then the tunnel is released.
	runTimers(t, tn, conn, clk, t0.Add(time.Minute))
	if !tn.finished || clk.now != t0.Add(32*time.Second) {
		t.Fatalf("finished %v at %v, want released at 32 s", tn.finished, clk.now.Sub(t0))
	}
}

func TestLocalCloseRetransmitsStopCCN(t *testing.T) {
	tn, conn, clk, rec := establishedOnClock(t, TunnelOptions{HelloInterval: -1, RetransmitInitial: 100 * time.Millisecond, RetransmitCap: 400 * time.Millisecond, MaxRetries: 2})
	clk.now = t0.Add(time.Second)
	tn.ctrlEvent(CtrlClose, ResultCode{Result: uint16(StopCCNGeneralRequest)}, ErrTunnelClosed)
	tn.flush()
	if got := conn.take(t); len(got) != 1 || got[0] != "StopCCN 2/1" {
		t.Fatalf("close: %v, want StopCCN 2/1", got)
	}
	if rec.tunnelsDown.Load() != 1 {
		t.Fatal("TunnelDown not reported on local close")
	}
	// Unacknowledged, the StopCCN is retransmitted (100, 200 ms); when
	// the budget runs out the tunnel is released without waiting more.
	at, wrote := runTimers(t, tn, conn, clk, t0.Add(time.Minute))
	if len(wrote) != 2 || wrote[0] != "StopCCN 2/1" || at[0] != 1100*time.Millisecond || at[1] != 1300*time.Millisecond {
		t.Fatalf("retransmissions %v at %v, want StopCCN at 1.1 s and 1.3 s", wrote, at)
	}
	if !tn.finished {
		t.Fatal("tunnel not released")
	}
}

// TestReplyFromNewPort: an SCCRP from another source port moves the
// tunnel's destination there (section 8.1), for control and data.
func TestReplyFromNewPort(t *testing.T) {
	tn, conn, _, _ := establishedOnClock(t, TunnelOptions{PeerHostName: "new-port", HelloInterval: -1})
	want := netip.AddrPortFrom(lnsAddr.Addr(), 50000)
	if tn.Peer() != want {
		t.Fatalf("Peer() = %v, want %v", tn.Peer(), want)
	}
	tn.ctrlEvent(CtrlClose, ResultCode{Result: 1}, ErrTunnelClosed)
	tn.flush()
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if len(conn.to) != 1 || conn.to[0].(*net.UDPAddr).AddrPort() != want {
		t.Fatalf("StopCCN sent to %v, want %v", conn.to, want)
	}
}

// TestHalfOpenTimesOut: an LAC that acknowledges our SCCRP but never sends
// SCCCN does not hold the tunnel forever: after one retransmission cycle
// it gets StopCCN.
func TestHalfOpenTimesOut(t *testing.T) {
	conn := &captureConn{}
	clk := &fakeClock{now: t0}
	ep, _ := NewEndpoint(conn, Config{HostName: "lns", Now: clk.Now})
	tn, _ := ep.newTunnel(lacAddr, TunnelOptions{}, true)
	tn.begin()
	b, _ := AppendControl(nil, Header{}, sccrq(77), nil, nil)
	tn.input(inPacket{b: b, from: lacAddr})
	tn.flush()
	if got := conn.take(t); len(got) != 1 || got[0] != "SCCRP 0/1" {
		t.Fatalf("answer to SCCRQ: %v", got)
	}
	clk.now = t0.Add(time.Second / 2)
	zlb, _ := AppendControl(nil, Header{TunnelID: tn.LocalID(), Ns: 1, Nr: 1}, nil, nil, nil)
	tn.input(inPacket{b: zlb, from: lacAddr})
	at, wrote := runTimers(t, tn, conn, clk, t0.Add(40*time.Second))
	if len(wrote) == 0 || wrote[0] != "StopCCN 1/1" || at[0] != 31*time.Second {
		t.Fatalf("half-open tunnel: wrote %v at %v, want StopCCN at 31 s", wrote, at)
	}
	if tn.State() != CtrlIdle {
		t.Errorf("state %v", tn.State())
	}
}
