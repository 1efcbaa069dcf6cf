package l2tp

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
)

// TestV3CallOverIP: an L2TPv3 control connection and a PPP pseudowire
// come up over IP protocol 115 (RFC 3931 section 4.1.1) between two raw
// sockets on loopback, every control message signed and 8-octet cookies
// on: control messages go after a Session ID of zero, data messages start
// with the peer's Session ID, frames cross both ways, and the bad input of
// the encapsulation (an L2TPv2 header, an unknown Session ID, a wrong
// cookie) is dropped and counted. tshark decodes what was sent as L2TPv3
// over IP, none of it malformed, every digest good.
func TestV3CallOverIP(t *testing.T) {
	testenv.RequireRoot(t)
	tshark := testenv.RequireCommand(t, "tshark")
	checkGoroutines(t)
	lacIP, lnsIP := netip.MustParseAddr("127.0.115.1"), netip.MustParseAddr("127.0.115.2")
	listen := func(a netip.Addr) *net.IPConn {
		c, err := net.ListenIP("ip4:115", &net.IPAddr{IP: a.AsSlice()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	lc, nc := listen(lacIP), listen(lnsIP)
	var mu sync.Mutex
	var frames []v3Frame
	opts := fastOpts("over-ip")
	opts.Version, opts.CookieLen, opts.HelloInterval = 3, 8, -1
	frame := []byte{0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x11, 0x22, 0x33, 0x44} // LCP Echo-Request
	var echoes atomic.Int32
	lacRec, lnsRec := newRecorder("lac"), newRecorder("lns")
	// The LAC's side records both ways; the LNS reads its raw socket
	// itself, in batches (readIPBatchLoop).
	lac, err := NewEndpoint(&recordingConn{lc, "A", &mu, &frames, "B"}, Config{HostName: "lac", Handler: lacRec, Encap: EncapIP, ShutdownTimeout: time.Second,
		Data: func(tn *Tunnel, s *Session, h Header, b []byte) {
			if string(b) == string(frame) {
				echoes.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	lns, err := NewEndpoint(nc, Config{HostName: "lns", Handler: lnsRec, Encap: EncapIP, ShutdownTimeout: time.Second,
		Accept: acceptAll(opts), Data: func(tn *Tunnel, s *Session, h Header, p []byte) { tn.SendData(s, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if lac.routerID != binary.BigEndian.Uint32(lacIP.AsSlice()) {
		t.Errorf("Router ID %#x, want the socket's address %v", lac.routerID, lacIP)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { lac.Run(ctx) })
	wg.Go(func() { lns.Run(ctx) })
	waitFor(t, 5*time.Second, "running", func() bool { return lac.running.Load() && lns.running.Load() })

	lnsAt := netip.AddrPortFrom(lnsIP, 0)
	v2 := opts
	v2.Version = 2
	if _, err := lac.Dial(ctx, lnsAt, v2); err == nil {
		t.Error("Dial of an L2TPv2 tunnel over IP succeeded")
	}
	tn, err := lac.Dial(ctx, lnsAt, opts)
	if err != nil {
		t.Fatal(err)
	}
	if tn.Peer() != lnsAt {
		t.Errorf("tunnel peer %v, want %v", tn.Peer(), lnsAt)
	}
	s, err := tn.PlaceCall(CallRequest{ICCN: []AVP{NewAVPBytes(AVPSequencingRequired, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "session up", func() bool { return lnsRec.sessionsUp.Load() == 1 && lacRec.sessionsUp.Load() == 1 })
	ls := lnsSessionOf(t, lnsRec, nil)
	if f, ok := ls.V3Framing(); !ok || f.Format.Encap != EncapIP || f.Format.CookieLen != 8 {
		t.Errorf("LNS framing %+v (%v), want over IP with an 8-octet cookie", f, ok)
	}
	for range 10 {
		if err := tn.SendData(s, frame); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "10 echoes", func() bool { return echoes.Load() == 10 })

	// Bad input on the LNS's socket, from the LAC's.
	to := &net.IPAddr{IP: lnsIP.AsSlice()}
	v2Hello, _ := AppendControl(nil, Header{Control: true, TunnelID: uint16(ls.Tunnel().LocalConnID())}, &Message{Type: MsgHELLO}, nil, nil)
	sid := make([]byte, 4)
	binary.BigEndian.PutUint32(sid, ls.LocalSessionID()+1)
	for _, b := range [][]byte{
		append([]byte{0, 0, 0, 0}, v2Hello...), // an L2TPv2 header over IP
		append(sid, make([]byte, 16)...),       // no such session
		{0, 0},                                 // shorter than a Session ID
	} {
		lc.WriteTo(b, to)
	}
	d := *s.v3d.Load()
	d.txCookie ^= 1
	s.v3d.Store(&d)
	tn.SendData(s, frame) // a cookie the LNS did not assign
	st := lns.Stats()
	waitFor(t, 5*time.Second, "bad input counted", func() bool {
		return st.WrongVersion.Load() == 1 && st.DataUnknownSession.Load() == 1 && st.Malformed.Load() == 1 && st.CookieMismatch.Load() == 1
	})
	if echoes.Load() != 10 || st.DigestFailures.Load() != 0 || st.AuthFailures.Load() != 0 {
		t.Errorf("echoes %d, digest failures %d, auth failures %d", echoes.Load(), st.DigestFailures.Load(), st.AuthFailures.Load())
	}
	d.txCookie ^= 1
	s.v3d.Store(&d)

	captured := hangUp(t, s, lnsRec, &mu, &frames)
	tsharkV3(t, tshark, captured, EncapIP, "over-ip",
		"Start_Control_Request", "Incoming_Call_Connected", "Call_Disconnect_Notification", "Stop_Control_Notification", "Echo Request")
}
