package l2tp

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// FuzzChannel drives the reliable channel with an arbitrary schedule of
// arrivals (Ns, Nr, ZLB or not) and timer ticks, and checks the promises of
// section 5.8: every message is delivered exactly once and in Ns order,
// nothing is on the wire beyond the peer's window, nothing is queued
// beyond ours, and the channel never panics.
func FuzzChannel(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 2, 0, 1, 0}, uint8(4))
	f.Add([]byte{2, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0xff, 0xff, 0, 0}, uint8(1))
	f.Add([]byte{0x80, 0x00, 0, 0, 0x7f, 0xff, 0, 0, 0, 0}, uint8(8))
	f.Fuzz(func(t *testing.T, ops []byte, win uint8) {
		c := newChannel(channelConfig{RecvWindow: 4, PeerWindow: uint16(win%8) + 1, RTOInitial: time.Second, RTOCap: 8 * time.Second, MaxRetries: 5, AckDelay: 100 * time.Millisecond}, new(Stats))
		now := t0
		next := uint16(0) // Ns of the next message the upper layer must get
		for i := 0; i+4 <= len(ops); i += 4 {
			ns := binary.BigEndian.Uint16(ops[i:])
			nr := binary.BigEndian.Uint16(ops[i+2:])
			switch ops[i] & 0x03 {
			case 0, 1:
				// A message whose payload is its own Ns.
				p := []byte{byte(ns >> 8), byte(ns)}
				for _, d := range c.receive(ns, nr, p, now) {
					if got := binary.BigEndian.Uint16(d); got != next {
						t.Fatalf("delivered Ns %d, want %d", got, next)
					}
					next++
				}
			case 2:
				c.receive(ns, nr, nil, now)
				c.send([]byte{1}, now)
			case 3:
				now = now.Add(time.Duration(nr%4000) * time.Millisecond)
				c.tick(now)
			}
			if c.sent > int(c.cfg.PeerWindow) {
				t.Fatalf("%d on the wire beyond the peer's window %d", c.sent, c.cfg.PeerWindow)
			}
			if len(c.ooo) > int(c.cfg.RecvWindow) {
				t.Fatalf("%d messages queued beyond our window %d", len(c.ooo), c.cfg.RecvWindow)
			}
			c.takeOutput()
		}
	})
}

// FuzzTunnelInput feeds arbitrary datagrams to an established tunnel and
// to the endpoint's demultiplexer: bad input is dropped or answered, never
// a panic. With toNew the datagram goes to Tunnel ID 0, the new-tunnel
// path, where only an SCCRQ may ask Accept for a tunnel (section 4.4.3).
func FuzzTunnelInput(f *testing.F) {
	hello, _ := AppendControl(nil, Header{TunnelID: 1, Ns: 1, Nr: 2}, &Message{Type: MsgHELLO}, nil, nil)
	icrq, _ := AppendControl(nil, Header{TunnelID: 1, Ns: 1, Nr: 2}, &Message{Type: MsgICRQ, AVPs: []AVP{NewAVPUint16(AVPAssignedSessionID, 3), NewAVPUint32(AVPCallSerialNumber, 1)}}, nil, nil)
	cdn, _ := AppendControl(nil, Header{TunnelID: 1, SessionID: 4, Ns: 1, Nr: 2}, &Message{Type: MsgCDN, AVPs: []AVP{ResultCode{Result: 1}.AVP(), NewAVPUint16(AVPAssignedSessionID, 3)}}, nil, nil)
	stop, _ := AppendControl(nil, Header{TunnelID: 1, Ns: 1, Nr: 2}, &Message{Type: MsgStopCCN, AVPs: []AVP{ResultCode{Result: 1}.AVP(), NewAVPUint16(AVPAssignedTunnelID, 9)}}, nil, nil)
	data, _ := AppendHeader(nil, Header{TunnelID: 1, SessionID: 4}, 2)
	unknownM := AVP{Mandatory: true, Type: 200, Value: []byte{1}}
	helloM, _ := AppendControl(nil, Header{}, &Message{Type: MsgHELLO, AVPs: []AVP{NewAVPUint16(AVPAssignedTunnelID, 9), unknownM}}, nil, nil)
	icrqM, _ := AppendControl(nil, Header{}, &Message{Type: MsgICRQ, AVPs: []AVP{NewAVPUint16(AVPAssignedSessionID, 3), unknownM}}, nil, nil)
	scc, _ := AppendControl(nil, Header{}, sccrq(9), nil, nil)
	for _, s := range [][]byte{hello, icrq, cdn, stop, append(data, 0xff, 0x03), {0xc8, 0x02}, helloM, icrqM, scc} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, toNew bool) {
		tn, _, clk, _ := establishedOnClock(t, TunnelOptions{})
		ep := tn.ep
		ep.cfg.Data = func(*Tunnel, *Session, Header, []byte) {}
		var accepts int
		ep.cfg.Accept = func(netip.AddrPort, string) (TunnelOptions, error) { accepts++; return TunnelOptions{}, nil }
		ep.closing = true // a tunnel the fuzzer opens is released at once, no goroutine
		// Address the packet to our tunnel (or to Tunnel ID 0) when it is
		// long enough to carry a Tunnel ID at either offset.
		id := tn.LocalID()
		if toNew {
			id = 0
		}
		p := append([]byte(nil), b...)
		if len(p) >= 6 && p[0]&0x40 != 0 {
			binary.BigEndian.PutUint16(p[4:6], id)
		} else if len(p) >= 4 {
			binary.BigEndian.PutUint16(p[2:4], id)
		}
		tn.input(inPacket{b: p, from: lnsAddr})
		tn.flush()
		ep.input(p, lnsAddr) // control: queued on the inbox or the new-tunnel path; data: demultiplexed
		if accepts > 0 {
			// ParseMessage keeps the type when the rest does not decode
			// (hidden AVPs without the secret).
			var typ MsgType
			if h, pl, err := ParseHeader(p); err == nil && h.Control {
				m, _ := ParseMessage(pl, nil)
				typ = m.Type
			}
			if typ != MsgSCCRQ {
				t.Fatalf("Accept asked for a tunnel by a %v", typ)
			}
		}
		clk.now = clk.now.Add(time.Hour)
		tn.onTimer()
		tn.flush()
	})
}

// establishedV3OnClock returns a dialing L2TPv3 tunnel, authenticating
// with secret, brought to established on a fake clock, and the nonce of
// the scripted peer that answered its SCCRQ.
func establishedV3OnClock(t *testing.T, secret []byte) (*Tunnel, *captureConn, *fakeClock, []byte) {
	t.Helper()
	return establishedV3Over(t, secret, EncapUDP)
}

// establishedV3Over is establishedV3OnClock on an endpoint of encap.
func establishedV3Over(t *testing.T, secret []byte, encap Encap) (*Tunnel, *captureConn, *fakeClock, []byte) {
	t.Helper()
	conn := &captureConn{}
	clk := &fakeClock{now: t0}
	ep, err := NewEndpoint(conn, Config{HostName: "lac", Now: clk.Now, Encap: encap})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := ep.newTunnel(lnsAddr, TunnelOptions{Version: 3, Secret: secret, CookieLen: 8}, false)
	if err != nil {
		t.Fatal(err)
	}
	tn.begin()
	tn.flush()
	peerNonce := []byte("fuzz-peer-nonce-0123")
	sccrp := &Message{Type: MsgSCCRP, AVPs: []AVP{MessageDigest{}.AVP(), NewV3AVPString(AVPHostName, "lns"),
		NewV3AVPUint32(AVPRouterID, 1), NewV3AVPUint32(AVPAssignedConnID, 9), PWCapabilities{PWPPP}.AVP(), NewV3AVP(AVPNonce, peerNonce)}}
	b, err := AppendV3Control(nil, EncapUDP, V3ControlHeader{ConnID: tn.localID, Ns: 0, Nr: 1}, sccrp, AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := SignMessage(b, peerNonce, tn.v3s.nonce, NewAuthKey(secret)); err != nil {
		t.Fatal(err)
	}
	tn.input(inPacket{b: b, from: lnsAddr})
	tn.flush()
	if tn.State() != CtrlEstablished {
		t.Fatalf("v3 tunnel %v after a good SCCRP, want established", tn.State())
	}
	conn.out = nil
	return tn, conn, clk, peerNonce
}

// FuzzV3EndpointInput feeds arbitrary L2TPv3 datagrams, seeded with the
// golden messages of v3golden_test.go, to an established, authenticating
// v3 tunnel and to the endpoint's demultiplexer (control by Control
// Connection ID, the SCCRQ path for ID 0, data by Session ID): bad input
// is dropped, counted or answered, never a panic, and only an SCCRQ asks
// Accept for a tunnel. With sign set the datagram is signed as the peer
// would (when it has a Message Digest in place), so that mutations get
// past the digest check into the message handling.
func FuzzV3EndpointInput(f *testing.F) {
	for _, o := range v3GoldenOrder {
		b := v3GoldenBytes[o.name]
		f.Add(b, false, true)
		f.Add(b, true, true)
		f.Add(b, false, false)
	}
	data, _ := AppendV3Data(nil, V3DataFormat{CookieLen: 8, Sublayer: SublayerDefault}, V3DataHeader{SessionID: 7, Cookie: 1, HasSeq: true})
	f.Add(append(data, 0xff, 0x03, 0xc0, 0x21), false, false)
	f.Add([]byte{0x00, 0x03, 0, 0, 0, 0, 0, 0}, false, false)
	secret := []byte("fuzz")
	f.Fuzz(func(t *testing.T, b []byte, toNew, sign bool) {
		tn, _, clk, peerNonce := establishedV3OnClock(t, secret)
		ep := tn.ep
		ep.cfg.Data = func(*Tunnel, *Session, Header, []byte) {}
		var accepts int
		ep.cfg.Accept = func(netip.AddrPort, string) (TunnelOptions, error) {
			accepts++
			return TunnelOptions{Secret: secret, CookieLen: 4}, nil
		}
		ep.closing = true // a tunnel the fuzzer opens is released at once, no goroutine
		p := append([]byte(nil), b...)
		if v, control, err := HeaderVersion(p); err == nil && v == Version3 && control && len(p) >= 8 {
			id := tn.localID
			if toNew {
				id = 0
			}
			binary.BigEndian.PutUint32(p[4:8], id)
			if sign {
				SignMessage(p, peerNonce, tn.v3s.nonce, NewAuthKey(secret))
			}
		}
		tn.input(inPacket{b: p, from: lnsAddr})
		tn.flush()
		ep.input(p, lnsAddr)
		if accepts > 0 {
			_, pl, err := ParseV3ControlHeader(p)
			if err != nil || msgTypeOf(pl) != MsgSCCRQ {
				t.Fatalf("Accept asked for a tunnel by a %v", msgTypeOf(pl))
			}
		}
		clk.now = clk.now.Add(time.Hour)
		tn.onTimer()
		tn.flush()
	})
}

// FuzzV3IPEndpointInput is FuzzV3EndpointInput on an endpoint of L2TPv3
// over IP (RFC 3931 section 4.1.1): packets of IP protocol 115, control
// messages after a Session ID of zero, data by Session ID. Bad input is
// dropped and counted, never a panic; only an SCCRQ behind a zero Session
// ID asks Accept for a tunnel, and nothing of L2TPv2 does.
func FuzzV3IPEndpointInput(f *testing.F) {
	for _, o := range v3GoldenOrder {
		b := append([]byte{0, 0, 0, 0}, v3GoldenBytes[o.name]...)
		f.Add(b, false, true)
		f.Add(b, true, true)
	}
	data, _ := AppendV3Data(nil, V3DataFormat{Encap: EncapIP, CookieLen: 8, Sublayer: SublayerDefault}, V3DataHeader{SessionID: 7, Cookie: 1, HasSeq: true})
	f.Add(append(data, 0xff, 0x03, 0xc0, 0x21), false, false)
	v2, _ := AppendControl(nil, Header{Control: true}, &Message{Type: MsgSCCRQ}, nil, nil)
	f.Add(append([]byte{0, 0, 0, 0}, v2...), true, false)
	f.Add([]byte{0, 0, 0, 0, 0xc8}, false, false)
	secret := []byte("fuzz")
	f.Fuzz(func(t *testing.T, b []byte, toNew, sign bool) {
		tn, _, clk, peerNonce := establishedV3Over(t, secret, EncapIP)
		ep := tn.ep
		ep.cfg.Data = func(*Tunnel, *Session, Header, []byte) {}
		var accepts int
		ep.cfg.Accept = func(netip.AddrPort, string) (TunnelOptions, error) {
			accepts++
			return TunnelOptions{Version: 3, Secret: secret, CookieLen: 4}, nil
		}
		ep.closing = true // a tunnel the fuzzer opens is released at once, no goroutine
		p := append([]byte(nil), b...)
		if len(p) >= 12 && binary.BigEndian.Uint32(p) == 0 {
			if v, control, err := HeaderVersion(p[4:]); err == nil && v == Version3 && control {
				id := tn.localID
				if toNew {
					id = 0
				}
				binary.BigEndian.PutUint32(p[8:12], id)
				if sign {
					SignMessage(p[4:], peerNonce, tn.v3s.nonce, NewAuthKey(secret))
				}
			}
		}
		from := netip.AddrPortFrom(lnsAddr.Addr(), 0)
		if len(p) >= 4 && binary.BigEndian.Uint32(p) == 0 {
			tn.input(inPacket{b: append([]byte(nil), p[4:]...), from: from}) // as the endpoint hands it on
			tn.flush()
		}
		ep.input(p, from)
		if accepts > 0 {
			if binary.BigEndian.Uint32(p) != 0 {
				t.Fatal("Accept asked for a tunnel by a data message")
			}
			v, _, _ := HeaderVersion(p[4:])
			_, pl, err := ParseV3ControlHeader(p[4:])
			if v != Version3 || err != nil || msgTypeOf(pl) != MsgSCCRQ {
				t.Fatalf("Accept asked for a tunnel by a v%d %v", v, msgTypeOf(pl))
			}
		}
		clk.now = clk.now.Add(time.Hour)
		tn.onTimer()
		tn.flush()
	})
}
