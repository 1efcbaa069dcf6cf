package lns_test

import (
	"context"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/google/go-cmp/cmp"
)

// TestLNSRejectsAsyncLCPOptions: a subscriber's Configure-Request with ACCM,
// ACFC and FCS-Alternatives, negotiated with the LNS itself (a call without
// proxy LCP, and one whose LAC's policy is renegotiate), gets a
// Configure-Reject of exactly those options (RFC 1661 section 5.4): they
// mean nothing for a PPPoE subscriber (RFC 2516 section 7), and on L2TP
// ACCM travels in SLI (RFC 2661 section 6.14).
func TestLNSRejectsAsyncLCPOptions(t *testing.T) {
	l := startLab(t, []testenv.RadiusUser{{Name: "ivan", Password: "async"}})
	ctx := context.Background()
	const (
		accm   = "\x02\x06\x00\x00\x00\x00" // RFC 1662 section 7.1
		acfc   = "\x08\x02"                 // RFC 1661 section 6.6
		fcsAlt = "\x09\x03\x02"             // RFC 1570 section 2.1: 32-bit FCS
		magic  = "\x05\x06\x12\x34\x56\x78" // RFC 1661 section 6.4, acceptable
	)
	for _, tc := range []struct {
		name, host, secret string
		proxy              []l2tp.AVP
	}{
		{"no proxy LCP", "lac1", "sekrit", nil},
		{"LAC policy renegotiate", "lac2", "sekrit2", proxyPAP("ivan", "async")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lac := startSimLAC(t, ctx, l.lac, tc.host, lnsAddr, tc.secret)
			sub := lac.place(&simSub{user: "ivan", proxy: tc.proxy, manual: true, raw: make(chan []byte, 64)}, "02:00:00:00:0a:01")
			if first := nextLCP(t, sub); first.Code != ppp.ConfReq {
				t.Fatalf("LNS started with %v, want its Configure-Request", first.Code)
			}
			sendLCP(sub, ppp.ConfReq, 0x31, []byte(accm+acfc+fcsAlt+magic))
			for {
				got := nextLCP(t, sub)
				if got.Code == ppp.ConfReq {
					continue // the LNS's own, retransmitted
				}
				if got.Code != ppp.ConfRej || got.ID != 0x31 {
					t.Fatalf("LNS answered with %v id %#x %x, want Configure-Reject id 0x31", got.Code, got.ID, got.Data)
				}
				if diff := cmp.Diff([]byte(accm+acfc+fcsAlt), got.Data); diff != "" {
					t.Errorf("Configure-Reject options (-want +got):\n%s", diff)
				}
				return
			}
		})
	}
}

// sendLCP sends one LCP packet from the subscriber.
func sendLCP(s *simSub, code ppp.Code, id uint8, data []byte) {
	b, _ := ppp.Packet{Code: code, ID: id, Data: data}.Append(ppp.AppendProtocol(nil, ppp.ProtoLCP))
	s.Send(b)
}

// nextLCP waits for the next LCP packet from the LNS.
func nextLCP(t *testing.T, s *simSub) ppp.Packet {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-s.raw:
			proto, info, err := ppp.ParseProtocol(f)
			if err != nil || proto != ppp.ProtoLCP {
				continue
			}
			p, err := ppp.ParsePacket(info)
			if err != nil {
				t.Fatalf("LNS sent a malformed LCP packet %x: %v", info, err)
			}
			return p
		case rc := <-s.cdn:
			t.Fatalf("CDN instead of LCP: %v", rc.Describe(l2tp.MsgCDN))
		case <-deadline:
			t.Fatal("no LCP packet from the LNS in 10 s")
		}
	}
}
