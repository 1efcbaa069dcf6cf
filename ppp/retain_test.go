package ppp

import (
	"testing"
	"time"
)

type nullLink struct{ sent int }

func (l *nullLink) Send([]byte) error { l.sent++; return nil }

type nullHandler struct{}

func (nullHandler) Up(*Session, NetworkInfo) {}
func (nullHandler) Down(*Session, Reason)    {}

// TestSessionKeepsNoFrame: once a packet is handled the session holds
// neither it nor its reply (a box of 100,000 sessions would hold a frame
// or two each); an LNS's session (NoProxyLCP) keeps none of the raw LCP
// requests an LAC hands on in proxy LCP, an LAC's does.
func TestSessionKeepsNoFrame(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	// The subscriber's Configure-Request: MRU 1492, Magic-Number.
	confReq := []byte{0xc0, 0x21, byte(ConfReq), 7, 0, 14, 1, 4, 0x05, 0xd4, 5, 6, 0x12, 0x34, 0x56, 0x78}
	for _, noProxy := range []bool{false, true} {
		l := &nullLink{}
		s := NewSession(l, Config{Role: Server, Handler: nullHandler{}, NoProxyLCP: noProxy})
		s.Open(now)
		frame := append([]byte(nil), confReq...)
		s.Input(frame, now)
		if l.sent < 2 {
			t.Fatalf("NoProxyLCP %v: %d frames sent, want our Configure-Request and the Ack", noProxy, l.sent)
		}
		if s.rxRaw != nil || s.rx.Data != nil || s.reply.Data != nil {
			t.Errorf("NoProxyLCP %v: the session still holds the packet (%d octets) or its reply (%d)", noProxy, len(s.rxRaw), len(s.reply.Data))
		}
		if !s.lcp.acked || len(s.lcp.ackedOpts) != 10 {
			t.Errorf("NoProxyLCP %v: the acked options (%d octets) are not kept for a repeated request", noProxy, len(s.lcp.ackedOpts))
		}
		kept := s.raw != nil && (s.raw.lastRecvConfReq != nil || s.raw.initialRecvConfReq != nil || s.raw.lastSentConfReq != nil)
		if kept == noProxy {
			t.Errorf("NoProxyLCP %v: raw LCP requests kept = %v", noProxy, kept)
		}
	}
}
