package l2tp

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// acceptEndpoint is an accepting Endpoint on a captureConn (real clock,
// Run not started): SCCRQs fed to input start tunnel goroutines, which
// the cleanup ends with a shut-down Run.
func acceptEndpoint(t *testing.T, cfg Config) (*Endpoint, *captureConn, *atomic.Int32) {
	t.Helper()
	conn := &captureConn{}
	accepts := new(atomic.Int32)
	cfg.HostName = "lns"
	cfg.ShutdownTimeout = 50 * time.Millisecond
	cfg.Accept = func(netip.AddrPort, string) (TunnelOptions, error) {
		accepts.Add(1)
		return TunnelOptions{HelloInterval: -1}, nil
	}
	e, err := NewEndpoint(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := e.Run(ctx); err != nil {
			t.Error(err)
		}
	})
	return e, conn, accepts
}

func wire(t *testing.T, h Header, m *Message) []byte {
	t.Helper()
	b, err := AppendControl(nil, h, m, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTunnelZeroOnlySCCRQ: section 4.4.3, a peer uses Tunnel ID 0 only
// until it has our Assigned Tunnel ID, that is in its SCCRQ. Any other
// message there, even one with an unknown mandatory AVP (which would
// clear a tunnel), is dropped and counted: no tunnel, no answer.
func TestTunnelZeroOnlySCCRQ(t *testing.T) {
	checkGoroutines(t)
	e, conn, accepts := acceptEndpoint(t, Config{})
	unknownM := AVP{Mandatory: true, Type: 200, Value: []byte{1}}
	msgs := []*Message{
		{Type: MsgHELLO, AVPs: []AVP{unknownM}},
		{Type: MsgHELLO, AVPs: []AVP{NewAVPUint16(AVPAssignedTunnelID, 78), unknownM}},
		{Type: MsgHELLO},
		{Type: MsgSCCRP, AVPs: append(sccrq(77).AVPs, unknownM)},
		{Type: MsgSCCCN, AVPs: []AVP{unknownM}},
		{Type: MsgICRQ, AVPs: []AVP{NewAVPUint16(AVPAssignedSessionID, 3), NewAVPUint32(AVPCallSerialNumber, 1), unknownM}},
		{Type: MsgCDN, AVPs: []AVP{ResultCode{Result: 1}.AVP(), NewAVPUint16(AVPAssignedSessionID, 3), unknownM}},
		{Type: MsgStopCCN, AVPs: []AVP{NewAVPUint16(AVPAssignedTunnelID, 77), ResultCode{Result: 1}.AVP(), unknownM}},
		{Type: MsgStopCCN, AVPs: []AVP{NewAVPUint16(AVPAssignedTunnelID, 77), ResultCode{Result: 1}.AVP()}},
	}
	for _, m := range msgs {
		e.input(wire(t, Header{}, m), lacAddr)
	}
	if n := len(e.Tunnels()); n != 0 {
		t.Fatalf("%d tunnels after messages to Tunnel ID 0 that are not SCCRQs, want 0", n)
	}
	if got := e.Stats().TunnelZero.Load(); got != uint64(len(msgs)) {
		t.Errorf("TunnelZero = %d, want %d", got, len(msgs))
	}
	if accepts.Load() != 0 || e.Stats().TunnelsRefused.Load() != 0 {
		t.Errorf("Accept called %d times, %d refused: a non-SCCRQ reached the new-tunnel path", accepts.Load(), e.Stats().TunnelsRefused.Load())
	}
	if got := conn.take(t); len(got) != 0 {
		t.Errorf("answered %v", got)
	}
}

// TestStopCCNToTunnelZero: a StopCCN sent before the peer read our
// Assigned Tunnel ID carries Tunnel ID 0 and names the peer's own
// (section 4.4.3): it reaches that tunnel.
func TestStopCCNToTunnelZero(t *testing.T) {
	checkGoroutines(t)
	e, _, _ := acceptEndpoint(t, Config{})
	e.input(wire(t, Header{}, sccrq(77)), lacAddr)
	waitFor(t, 5*time.Second, "SCCRP sent", func() bool { return e.Tunnels()[0].State() == CtrlWaitCtlConn })
	stop := &Message{Type: MsgStopCCN, AVPs: []AVP{NewAVPUint16(AVPAssignedTunnelID, 77), ResultCode{Result: uint16(StopCCNNotAuthorized)}.AVP()}}
	e.input(wire(t, Header{Ns: 1, Nr: 1}, stop), lacAddr)
	waitFor(t, 5*time.Second, "StopCCN delivered", func() bool { return e.Stats().StopCCNRx.Load() == 1 })
	if e.Stats().TunnelZero.Load() != 0 {
		t.Errorf("TunnelZero = %d, want 0", e.Stats().TunnelZero.Load())
	}
}

// sccrpTo returns our Assigned Tunnel ID from the SCCRP written to the
// peer's tunnel peerTID.
func sccrpTo(t *testing.T, conn *captureConn, peerTID uint16) uint16 {
	t.Helper()
	var id uint16
	waitFor(t, 5*time.Second, "SCCRP", func() bool {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		for _, b := range conn.out {
			h, m, err := ParseControl(b, nil)
			if err != nil || m == nil || m.Type != MsgSCCRP || h.TunnelID != peerTID {
				continue
			}
			a, _ := m.Find(AVPAssignedTunnelID)
			id, _ = a.Uint16()
			return true
		}
		return false
	})
	return id
}

// TestHalfOpenCaps: a flood of SCCRQs from one address leaves at most
// MaxHalfOpenPerPeer tunnels being set up; another address still gets
// its tunnel until MaxHalfOpen; a completed set-up frees its place.
func TestHalfOpenCaps(t *testing.T) {
	checkGoroutines(t)
	e, conn, _ := acceptEndpoint(t, Config{MaxHalfOpen: 6, MaxHalfOpenPerPeer: 4})
	flooder := netip.MustParseAddrPort("198.51.100.9:1701")
	other := netip.MustParseAddrPort("198.51.100.10:1701")
	third := netip.MustParseAddrPort("198.51.100.11:1701")
	for i := range 50 {
		e.input(wire(t, Header{}, sccrq(uint16(100+i))), flooder)
	}
	st := e.Stats()
	if n := len(e.Tunnels()); n != 4 || st.HalfOpenPeerLimit.Load() != 46 {
		t.Fatalf("after a flood from one address: %d tunnels, %d dropped; want 4 and 46", n, st.HalfOpenPeerLimit.Load())
	}
	e.input(wire(t, Header{}, sccrq(200)), other)
	e.input(wire(t, Header{}, sccrq(201)), other)
	if n := len(e.Tunnels()); n != 6 {
		t.Fatalf("a second address got %d tunnels, want 2", n-4)
	}
	e.input(wire(t, Header{}, sccrq(300)), third)
	if n := len(e.Tunnels()); n != 6 || st.HalfOpenLimit.Load() != 1 {
		t.Fatalf("beyond MaxHalfOpen: %d tunnels, %d dropped; want 6 and 1", n, st.HalfOpenLimit.Load())
	}
	// The second address completes its set-up (SCCCN): its place frees,
	// and the tunnel no longer counts as half-open.
	id := sccrpTo(t, conn, 200)
	e.input(wire(t, Header{TunnelID: id, Ns: 1, Nr: 1}, &Message{Type: MsgSCCCN}), other)
	waitFor(t, 5*time.Second, "tunnel up", func() bool { return st.TunnelsUp.Load() == 1 })
	e.input(wire(t, Header{}, sccrq(301)), third)
	if n := len(e.Tunnels()); n != 7 || st.HalfOpenLimit.Load() != 1 {
		t.Fatalf("after one set-up completed: %d tunnels, %d dropped; want 7 and 1", n, st.HalfOpenLimit.Load())
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.halfOpenTotal != 6 || e.halfOpen[flooder.Addr()] != 4 || e.halfOpen[other.Addr()] != 1 {
		t.Errorf("half-open: %d in total, %d from the flooder, %d from the other; want 6, 4, 1", e.halfOpenTotal, e.halfOpen[flooder.Addr()], e.halfOpen[other.Addr()])
	}
}

// TestHalfOpenReleased: a half-open tunnel that goes away (refused, timed
// out) gives its place back.
func TestHalfOpenReleased(t *testing.T) {
	e, _ := NewEndpoint(&captureConn{}, Config{HostName: "lns"})
	tn, _ := e.newTunnel(lacAddr, TunnelOptions{}, true)
	e.mu.Lock()
	tn.byPeerKey, tn.halfOpen = peerKey{addr: lacAddr, id: 5}, true
	e.byPeer[tn.byPeerKey] = tn
	e.halfOpen[lacAddr.Addr()]++
	e.halfOpenTotal++
	e.mu.Unlock()
	e.remove(tn)
	if e.halfOpenTotal != 0 || len(e.halfOpen) != 0 {
		t.Fatalf("after remove: %d half-open, by peer %v", e.halfOpenTotal, e.halfOpen)
	}
	if e.cfg.MaxHalfOpen != 1024 || e.cfg.MaxHalfOpenPerPeer != 64 {
		t.Errorf("defaults %d and %d, want 1024 and 64", e.cfg.MaxHalfOpen, e.cfg.MaxHalfOpenPerPeer)
	}
}

// TestTieBreakerCases: an SCCRQ arrives from a peer our own SCCRQ is
// outstanding to (section 4.4.3). The lower Tie Breaker wins and the
// loser silently discards its tunnel; equal values discard both; when
// only one side sent a Tie Breaker, the side that included it wins; with
// none, both tunnels open.
func TestTieBreakerCases(t *testing.T) {
	checkGoroutines(t)
	tests := []struct {
		name         string
		ours, theirs uint64 // 0: no Tie Breaker AVP
		wantAccepted bool   // the peer's SCCRQ opens a tunnel
		wantOursLost bool   // our outstanding tunnel is discarded
	}{
		{"ours lower", 5, 9, false, false},
		{"theirs lower", 9, 5, true, true},
		{"equal", 7, 7, false, true},
		{"only ours", 7, 0, false, false},
		{"only theirs", 0, 7, true, true},
		{"neither", 0, 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := acceptEndpoint(t, Config{})
			ours, err := e.newTunnel(lacAddr, TunnelOptions{HelloInterval: -1}, false)
			if err != nil {
				t.Fatal(err)
			}
			ours.tieBreaker = tt.ours
			ours.begin() // our SCCRQ is outstanding: wait-ctl-reply
			m := sccrq(77)
			if tt.theirs != 0 {
				m.Add(NewAVPUint64(AVPTieBreaker, tt.theirs))
			}
			e.input(wire(t, Header{}, m), lacAddr)
			accepted := len(e.Tunnels()) == 2
			lost := false
			select {
			case p := <-ours.inbox:
				lost = p.lostTie
			default:
			}
			if accepted != tt.wantAccepted || lost != tt.wantOursLost {
				t.Errorf("peer's tunnel accepted %v, ours discarded %v; want %v and %v", accepted, lost, tt.wantAccepted, tt.wantOursLost)
			}
			if drops := e.Stats().TieBreakerDrops.Load(); (drops == 1) == tt.wantAccepted {
				t.Errorf("TieBreakerDrops = %d", drops)
			}
		})
	}
}
