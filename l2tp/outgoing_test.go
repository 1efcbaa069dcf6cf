package l2tp

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp/l2tptest"
)

// dialer is a recorder that also places outgoing calls (LAC, 7.5.1).
type dialer struct {
	*recorder
	answer bool
}

func (d *dialer) OutgoingCall(t *Tunnel, s *Session, ocrq *Message) error {
	if a, ok := ocrq.Find(AVPCalledNumber); ok {
		s.SetValue(string(a.Value))
	}
	// The bearer answers (or fails) later, from another goroutine.
	go func() {
		time.Sleep(10 * time.Millisecond)
		if d.answer {
			s.Answer([]AVP{NewAVPUint32(AVPTxConnectSpeed, 64000)})
		} else {
			s.Disconnect(ResultCode{Result: uint16(CDNNoCarrier)})
		}
	}()
	return nil
}

// TestOutgoingCall: the LNS asks the LAC to place a call (RFC 2661
// section 7.5.2; on L2TPv3 RFC 3931 sections 6.9-6.11, signed, with
// cookies both ways), over a lossy pipe; answered, it comes up on both
// ends and carries data both ways; without carrier it ends with the LAC's
// CDN.
func TestOutgoingCall(t *testing.T) {
	for _, version := range []int{2, 3} {
		for _, answer := range []bool{true, false} {
			name := fmt.Sprintf("v%d/answered", version)
			if !answer {
				name = fmt.Sprintf("v%d/no carrier", version)
			}
			t.Run(name, func(t *testing.T) { outgoingCall(t, version, answer) })
		}
	}
}

func outgoingCall(t *testing.T, version int, answer bool) {
	checkGoroutines(t)
	opts := fastOpts("x")
	if version == 3 {
		opts.Version, opts.CookieLen = 3, 8
	}
	p := newPair(t, l2tptest.Impairment{Loss: 0.2, Seed: 3}, acceptAll(opts), true)
	var lacGot, lnsGot atomic.Int32
	p.lacData = func(tn *Tunnel, s *Session, h Header, b []byte) {
		if string(b) == "down" {
			lacGot.Add(1)
		}
	}
	p.lnsData = func(tn *Tunnel, s *Session, h Header, b []byte) {
		if string(b) == "up" {
			lnsGot.Add(1)
		}
	}
	d := &dialer{recorder: p.lacRec, answer: answer}
	p.lac.h = d // before any tunnel exists: no goroutine reads it yet
	if _, err := p.lac.Dial(context.Background(), lnsAddr, opts); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "LNS tunnel up", func() bool { return p.lnsRec.tunnelsUp.Load() == 1 })
	lt := p.lns.Tunnels()[0]
	s, err := lt.PlaceOutgoingCall(OutgoingCallRequest{OCRQ: []AVP{NewAVPString(AVPCalledNumber, "5551234")}})
	if err != nil {
		t.Fatal(err)
	}
	if !answer {
		waitFor(t, 3*time.Second, "call failed on both ends", func() bool {
			return p.lnsRec.sessionsDown.Load() == 1 && p.lacRec.sessionsDown.Load() == 1
		})
		p.lnsRec.mu.Lock()
		rc := p.lnsRec.sessRC[s]
		p.lnsRec.mu.Unlock()
		if rc.Result != uint16(CDNNoCarrier) || p.lnsRec.sessionsUp.Load() != 0 {
			t.Errorf("LNS: CDN result %d, up %d; want 7 and never up", rc.Result, p.lnsRec.sessionsUp.Load())
		}
		return
	}
	waitFor(t, 3*time.Second, "outgoing call up on both ends", func() bool {
		return p.lnsRec.sessionsUp.Load() == 1 && p.lacRec.sessionsUp.Load() == 1
	})
	p.lnsRec.mu.Lock()
	occn := p.lnsRec.iccn[s]
	p.lnsRec.mu.Unlock()
	if a, ok := occn.Find(AVPTxConnectSpeed); !ok || s.State() != CallEstablished || s.PeerID() == 0 {
		t.Fatalf("LNS session: OCCN speed %v (found %v), state %v, peer %d", a.Value, ok, s.State(), s.PeerID())
	}
	ls := lnsSessionOf(t, p.lacRec, nil) // the LAC's end of the call
	if version == 3 {
		if s.PWType() != PWPPP || ls.PWType() != PWPPP || s.RemoteSessionID() != ls.LocalSessionID() || ls.RemoteSessionID() != s.LocalSessionID() {
			t.Errorf("pseudowires %v %v, Session IDs LNS %d/%d LAC %d/%d", s.PWType(), ls.PWType(),
				s.LocalSessionID(), s.RemoteSessionID(), ls.LocalSessionID(), ls.RemoteSessionID())
		}
		if nd, ld := s.v3d.Load(), ls.v3d.Load(); nd.tx.CookieLen != 8 || ld.tx.CookieLen != 8 || nd.txCookie != ld.rxCookie || ld.txCookie != nd.rxCookie {
			t.Errorf("cookies: LNS rx %#x tx %#x, LAC rx %#x tx %#x; want 8 octets crossed", nd.rxCookie, nd.txCookie, ld.rxCookie, ld.txCookie)
		}
	}
	// Data is not retransmitted: send until one crosses each way.
	waitFor(t, 5*time.Second, "data both ways", func() bool {
		s.Tunnel().SendData(s, []byte("down"))
		ls.Tunnel().SendData(ls, []byte("up"))
		return lacGot.Load() > 0 && lnsGot.Load() > 0
	})
	s.Disconnect(ResultCode{Result: uint16(CDNAdmin)})
	waitFor(t, 3*time.Second, "LAC sees the CDN", func() bool { return p.lacRec.sessionsDown.Load() == 1 })
}

func TestOutgoingCallRefusedWithoutHandler(t *testing.T) {
	checkGoroutines(t)
	p := newPair(t, l2tptest.Impairment{}, acceptAll(fastOpts("")), false)
	if _, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts("")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "LNS tunnel up", func() bool { return p.lnsRec.tunnelsUp.Load() == 1 })
	s, err := p.lns.Tunnels()[0].PlaceOutgoingCall(OutgoingCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "refused", func() bool { return p.lnsRec.sessionsDown.Load() == 1 })
	p.lnsRec.mu.Lock()
	rc := p.lnsRec.sessRC[s]
	p.lnsRec.mu.Unlock()
	if rc.Result != uint16(CDNNoFacilitiesPermanent) {
		t.Errorf("CDN result %d, want 5", rc.Result)
	}
}
