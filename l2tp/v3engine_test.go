package l2tp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// udpEndpoints runs an LAC and an LNS Endpoint on real UDP sockets on
// loopback. The LNS accepts every tunnel with lnsOpts and echoes data; the
// LAC's data goes to lacData.
func udpEndpoints(t *testing.T, lnsOpts TunnelOptions, lacData func(*Tunnel, *Session, Header, []byte)) (lac, lns *Endpoint, lacRec, lnsRec *recorder, lnsAt netip.AddrPort) {
	t.Helper()
	lc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	lacRec, lnsRec = newRecorder("lac"), newRecorder("lns")
	lac, _ = NewEndpoint(lc, Config{HostName: "lac", Handler: lacRec, Data: lacData, ShutdownTimeout: time.Second})
	lns, _ = NewEndpoint(nc, Config{HostName: "lns", Handler: lnsRec, ShutdownTimeout: time.Second, Accept: acceptAll(lnsOpts),
		Data: func(tn *Tunnel, s *Session, h Header, b []byte) { tn.SendData(s, b) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, e := range []*Endpoint{lac, lns} {
		go func() { e.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		lc.Close()
		nc.Close()
	})
	waitFor(t, 5*time.Second, "endpoints running", func() bool { return lac.running.Load() && lns.running.Load() })
	return lac, lns, lacRec, lnsRec, nc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// lnsSession is the one session the LNS recorder saw come up.
func lnsSessionOf(t *testing.T, rec *recorder, tn *Tunnel) *Session {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for s := range rec.iccn {
		if tn == nil || s.Tunnel() == tn {
			return s
		}
	}
	t.Fatal("no LNS session")
	return nil
}

// TestV3CallOverUDP: an L2TPv3 control connection and a PPP pseudowire
// session come up between two endpoints over UDP on loopback, signed with
// HMAC-MD5 or HMAC-SHA-1 (or not at all), with cookies of 0, 4 and 8
// octets; PPP frames cross both ways as over L2TPv2, and data with a wrong
// cookie is dropped and counted.
func TestV3CallOverUDP(t *testing.T) {
	for _, digest := range []DigestMode{DigestAuto, DigestSHA1, DigestOff} {
		for _, cookie := range []int{0, 4, 8} {
			t.Run(fmt.Sprintf("%v/cookie%d", digest, cookie), func(t *testing.T) {
				checkGoroutines(t)
				opts := fastOpts("v3-secret")
				if digest == DigestOff {
					opts.Secret = nil
				}
				opts.Version, opts.Digest, opts.CookieLen = 3, digest, cookie
				var echoes atomic.Int32
				frame := []byte{0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x11, 0x22, 0x33, 0x44} // LCP Echo-Request
				lac, lns, lacRec, lnsRec, lnsAt := udpEndpoints(t, opts, func(tn *Tunnel, s *Session, h Header, b []byte) {
					if string(b) == string(frame) && s.Value() == "sub" {
						echoes.Add(1)
					}
				})
				tn, err := lac.Dial(context.Background(), lnsAt, opts)
				if err != nil {
					t.Fatal(err)
				}
				s, err := tn.PlaceCall(CallRequest{ICRQ: []AVP{NewAVPString(AVPCallingNumber, "00:11:22:33:44:55")}, Value: "sub"})
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, 5*time.Second, "session up on both ends", func() bool { return lacRec.sessionsUp.Load() == 1 && lnsRec.sessionsUp.Load() == 1 })
				ls := lnsSessionOf(t, lnsRec, nil)
				nt := ls.Tunnel()
				if tn.Version() != 3 || nt.Version() != 3 || s.PWType() != PWPPP || ls.PWType() != PWPPP {
					t.Errorf("versions %d %d, pseudowires %v %v; want 3 and PPP", tn.Version(), nt.Version(), s.PWType(), ls.PWType())
				}
				if tn.PeerConnID() != nt.LocalConnID() || nt.PeerConnID() != tn.LocalConnID() ||
					s.RemoteSessionID() != ls.LocalSessionID() || ls.RemoteSessionID() != s.LocalSessionID() {
					t.Errorf("IDs: LAC %d/%d session %d/%d, LNS %d/%d session %d/%d", tn.LocalConnID(), tn.PeerConnID(),
						s.LocalSessionID(), s.RemoteSessionID(), nt.LocalConnID(), nt.PeerConnID(), ls.LocalSessionID(), ls.RemoteSessionID())
				}
				if a, ok := ls.ICRQ().Find(AVPCallingNumber); !ok || string(a.Value) != "00:11:22:33:44:55" {
					t.Errorf("LNS ICRQ Calling Number %q (found %v)", a.Value, ok)
				}
				// Each side sends the cookie the other assigned.
				if ld, nd := s.v3d.Load(), ls.v3d.Load(); ld.tx.CookieLen != cookie || nd.tx.CookieLen != cookie ||
					ld.txCookie != nd.rxCookie || nd.txCookie != ld.rxCookie {
					t.Errorf("cookies: LAC rx %d/%#x tx %d/%#x, LNS rx %d/%#x tx %d/%#x, want %d octets crossed",
						ld.rx.CookieLen, ld.rxCookie, ld.tx.CookieLen, ld.txCookie, nd.rx.CookieLen, nd.rxCookie, nd.tx.CookieLen, nd.txCookie, cookie)
				}
				for range 10 {
					if err := tn.SendData(s, frame); err != nil {
						t.Fatal(err)
					}
				}
				waitFor(t, 5*time.Second, "10 echoes", func() bool { return echoes.Load() == 10 })
				if cookie > 0 {
					// The LAC sends with a cookie the LNS did not assign: dropped, counted.
					d := *s.v3d.Load()
					d.txCookie ^= 1
					s.v3d.Store(&d)
					tn.SendData(s, frame)
					waitFor(t, 5*time.Second, "cookie mismatch counted", func() bool { return lns.Stats().CookieMismatch.Load() == 1 })
					if lns.Stats().DataRx.Load() != 11 || echoes.Load() != 10 {
						t.Errorf("LNS DataRx %d, echoes %d: the frame with a wrong cookie got through", lns.Stats().DataRx.Load(), echoes.Load())
					}
				}
				for _, e := range []*Endpoint{lac, lns} {
					if st := e.Stats(); st.DigestFailures.Load() != 0 || st.AuthFailures.Load() != 0 || st.Malformed.Load() != 0 {
						t.Errorf("digest failures %d, auth failures %d, malformed %d", st.DigestFailures.Load(), st.AuthFailures.Load(), st.Malformed.Load())
					}
				}
				s.Disconnect(ResultCode{Result: uint16(CDNAdmin)})
				waitFor(t, 5*time.Second, "CDN delivered", func() bool { return lnsRec.sessionsDown.Load() == 1 })
				lnsRec.mu.Lock()
				rc := lnsRec.sessRC[ls]
				lnsRec.mu.Unlock()
				if rc.Result != uint16(CDNAdmin) {
					t.Errorf("LNS saw CDN %+v, want result 3", rc)
				}
				tn.Close(ResultCode{Result: uint16(StopCCNGeneralRequest)})
				waitFor(t, 5*time.Second, "tunnel down at the LNS", func() bool { return lnsRec.tunnelsDown.Load() == 1 })
			})
		}
	}
}

// TestV2AndV3OnOneEndpoint: one LNS endpoint carries an L2TPv2 tunnel and
// an L2TPv3 control connection from the same LAC endpoint at once, the
// version chosen by the header, each with its calls and data.
func TestV2AndV3OnOneEndpoint(t *testing.T) {
	checkGoroutines(t)
	opts := fastOpts("both")
	var echoes [4]atomic.Int32
	lac, lns, lacRec, lnsRec, lnsAt := udpEndpoints(t, opts, func(tn *Tunnel, s *Session, h Header, b []byte) {
		i := s.Value().(int)
		if string(b) == fmt.Sprint("frame", i) {
			echoes[i].Add(1)
		}
	})
	v3 := opts
	v3.Version, v3.CookieLen = 3, 8
	t2, err := lac.Dial(context.Background(), lnsAt, opts)
	if err != nil {
		t.Fatal(err)
	}
	t3, err := lac.Dial(context.Background(), lnsAt, v3)
	if err != nil {
		t.Fatal(err)
	}
	if t2.Version() != 2 || t3.Version() != 3 {
		t.Fatalf("versions %d and %d", t2.Version(), t3.Version())
	}
	var sessions []*Session
	for i := range 4 {
		tn := t2
		if i%2 == 1 {
			tn = t3
		}
		s, err := tn.PlaceCall(CallRequest{Value: i})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	waitFor(t, 5*time.Second, "4 sessions up", func() bool { return lacRec.sessionsUp.Load() == 4 && lnsRec.sessionsUp.Load() == 4 })
	for i, s := range sessions {
		for range 5 {
			s.Tunnel().SendData(s, []byte(fmt.Sprint("frame", i)))
		}
	}
	waitFor(t, 5*time.Second, "5 echoes on each session", func() bool {
		for i := range echoes {
			if echoes[i].Load() != 5 {
				return false
			}
		}
		return true
	})
	versions := map[int]int{}
	for _, nt := range lns.Tunnels() {
		versions[nt.Version()] += nt.Sessions()
	}
	if versions[2] != 2 || versions[3] != 2 {
		t.Errorf("LNS tunnels by version, with their sessions: %v, want 2 sessions on each", versions)
	}
	if st := lns.Stats(); st.WrongVersion.Load() != 0 || st.DigestFailures.Load() != 0 || st.AuthFailures.Load() != 0 {
		t.Errorf("wrong version %d, digest failures %d, auth failures %d", st.WrongVersion.Load(), st.DigestFailures.Load(), st.AuthFailures.Load())
	}
	t3.Close(ResultCode{Result: uint16(StopCCNGeneralRequest)})
	waitFor(t, 5*time.Second, "the v3 tunnel down", func() bool { return lnsRec.tunnelsDown.Load() == 1 && lnsRec.sessionsDown.Load() == 2 })
	// The v2 tunnel does not notice.
	before := echoes[0].Load()
	sessions[0].Tunnel().SendData(sessions[0], []byte("frame0"))
	waitFor(t, 5*time.Second, "v2 still carries data", func() bool { return echoes[0].Load() == before+1 })
	if t2.State() != CtrlEstablished {
		t.Errorf("v2 tunnel %v after the v3 one closed", t2.State())
	}
}

// TestV3DialOptions: options no tunnel can run with are refused by Dial.
func TestV3DialOptions(t *testing.T) {
	lac, _, _, _, lnsAt := udpEndpoints(t, TunnelOptions{}, nil)
	for _, o := range []TunnelOptions{{Version: 4}, {Version: 3, CookieLen: 2}, {Version: 3, Digest: 9}} {
		if _, err := lac.Dial(context.Background(), lnsAt, o); err == nil || errors.Is(err, ErrPeerUnreachable) {
			t.Errorf("Dial with %+v: %v, want an options error", o, err)
		}
	}
}
