package l2tp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// TestDialSpreadsAcrossSockets: an endpoint with two more UDP sockets
// (Config.MoreConns) spreads the tunnels it dials across its three local
// ports, so that each tunnel has a 5-tuple of its own; the LNS sees them
// from three source ports, every tunnel's calls carry data both ways, and
// the tunnels' IDs stay unique on the endpoint. An SCCRQ sent to one of
// the further sockets opens nothing and is counted.
func TestDialSpreadsAcrossSockets(t *testing.T) {
	checkGoroutines(t)
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	lc, more1, more2, nc := listen(), listen(), listen(), listen()
	opts := fastOpts("spread")
	var echoes atomic.Int32
	lacRec, lnsRec := newRecorder("lac"), newRecorder("lns")
	lac, err := NewEndpoint(lc, Config{HostName: "lac", Handler: lacRec, ShutdownTimeout: time.Second, MoreConns: []*net.UDPConn{more1, more2},
		Data: func(tn *Tunnel, s *Session, h Header, b []byte) {
			if string(b) == fmt.Sprint("frame-", s.Value()) {
				echoes.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	lns, _ := NewEndpoint(nc, Config{HostName: "lns", Handler: lnsRec, ShutdownTimeout: time.Second, Accept: acceptAll(opts),
		Data: func(tn *Tunnel, s *Session, h Header, b []byte) { tn.SendData(s, b) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, e := range []*Endpoint{lac, lns} {
		go func() { e.Run(ctx); done <- struct{}{} }()
	}
	defer func() { cancel(); <-done; <-done }()
	waitFor(t, 5*time.Second, "endpoints running", func() bool { return lac.running.Load() && lns.running.Load() })
	lnsAt := nc.LocalAddr().(*net.UDPAddr).AddrPort()

	byPort := map[uint16]int{}
	ids := map[uint32]bool{}
	var sessions []*Session
	for i := range 6 {
		v := opts
		if i%2 == 1 {
			v.Version, v.CookieLen = 3, 4
		}
		tn, err := lac.Dial(ctx, lnsAt, v)
		if err != nil {
			t.Fatal(err)
		}
		byPort[tn.LocalAddr().Port()]++
		ids[tn.LocalConnID()] = true
		s, err := tn.PlaceCall(CallRequest{Value: i})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	want := map[uint16]int{}
	for _, c := range []*net.UDPConn{lc, more1, more2} {
		want[c.LocalAddr().(*net.UDPAddr).AddrPort().Port()] = 2
	}
	if fmt.Sprint(byPort) != fmt.Sprint(want) || len(ids) != 6 {
		t.Errorf("tunnels by local port %v, want %v; %d distinct IDs of 6", byPort, want, len(ids))
	}
	waitFor(t, 5*time.Second, "6 sessions up", func() bool { return lacRec.sessionsUp.Load() == 6 && lnsRec.sessionsUp.Load() == 6 })
	peers := map[netip.AddrPort]int{}
	for _, nt := range lns.Tunnels() {
		peers[nt.Peer()]++
	}
	if len(peers) != 3 {
		t.Errorf("the LNS sees the tunnels from %v, want 3 source ports", peers)
	}
	waitFor(t, 5*time.Second, "an echo on every session", func() bool {
		for _, s := range sessions {
			s.Tunnel().SendData(s, []byte(fmt.Sprint("frame-", s.Value())))
		}
		return echoes.Load() >= 6
	})

	// An SCCRQ to a further socket: no tunnel, counted.
	before := lac.Stats().TunnelZero.Load()
	sccrq, _ := AppendControl(nil, Header{Control: true}, &Message{Type: MsgSCCRQ, AVPs: []AVP{
		NewAVPUint16(AVPProtocolVersion, 0x0100), NewAVPString(AVPHostName, "intruder"), NewAVPUint32(AVPFramingCapabilities, 3),
		NewAVPUint16(AVPAssignedTunnelID, 99)}}, nil, nil)
	if _, err := nc.WriteToUDP(sccrq, more1.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the SCCRQ counted", func() bool { return lac.Stats().TunnelZero.Load() == before+1 })
	if n := len(lac.Tunnels()); n != 6 {
		t.Errorf("%d tunnels on the LAC after an SCCRQ to a further socket, want 6", n)
	}
}
