package l2tp

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp/l2tptest"
	"github.com/google/go-cmp/cmp"
)

// pppDisconnectGolden are PPP Disconnect Cause Code AVPs laid out as RFC
// 3145 section 2, figure 1 draws them.
var pppDisconnectGolden = []struct {
	name string
	wire []byte
	want PPPDisconnectCause
}{
	{
		name: "normal disconnection, Terminate-Request sent by the peer (section 3.1, code 3)",
		wire: []byte{
			0x00, 0x0b, // M=0 H=0, length 11
			0x00, 0x00, // Vendor ID 0 (IETF)
			0x00, 0x2e, // Attribute Type 46
			0x00, 0x03, // Disconnect Code 3
			0x00, 0x00, // Control Protocol Number 0 (global)
			0x01, // Direction 1: at peer
		},
		want: PPPDisconnectCause{Code: DiscNormal, Direction: DirectionPeer},
	},
	{
		name: "echo timeout with a message (section 3.2, code 8)",
		wire: []byte{
			0x00, 0x11, // M=0 H=0, length 17
			0x00, 0x00, // Vendor ID 0
			0x00, 0x2e, // Attribute Type 46
			0x00, 0x08, // Disconnect Code 8
			0xc0, 0x21, // LCP
			0x00,                         // Direction 0
			'e', 'c', 'h', 'o', '!', '!', // Message
		},
		want: PPPDisconnectCause{Code: DiscEchoTimeout, Protocol: 0xc021, Message: "echo!!"},
	},
}

func TestPPPDisconnectCauseGolden(t *testing.T) {
	for _, tc := range pppDisconnectGolden {
		t.Run(tc.name, func(t *testing.T) {
			avps, err := ParseAVPs(tc.wire, nil)
			if err != nil || len(avps) != 1 {
				t.Fatalf("ParseAVPs: %v, %v", avps, err)
			}
			got, ok := FindPPPDisconnectCause(&Message{Type: MsgCDN, AVPs: avps})
			if !ok {
				t.Fatal("not found")
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("parse (-want +got):\n%s", d)
			}
			b, err := AppendAVPs(nil, []AVP{tc.want.AVP()}, AppendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, tc.wire) {
				t.Errorf("append:\n got % x\nwant % x", b, tc.wire)
			}
		})
	}
}

func TestFindPPPDisconnectCause(t *testing.T) {
	draft := AVP{VendorID: vendor3Com, Type: AVPPPPDisconnectCause, Value: []byte{0, 16, 0xc0, 0x23, 1}}
	for _, tc := range []struct {
		name   string
		avps   []AVP
		want   PPPDisconnectCause
		wantOK bool
	}{
		{"none", nil, PPPDisconnectCause{}, false},
		{"draft 3Com form accepted (RFC 3145 section 4)", []AVP{draft}, PPPDisconnectCause{Code: DiscAuthFailed, Protocol: 0xc023, Direction: DirectionPeer}, true},
		{"other vendor ignored", []AVP{{VendorID: 9, Type: AVPPPPDisconnectCause, Value: []byte{0, 3, 0, 0, 1}}}, PPPDisconnectCause{}, false},
		{"too short ignored", []AVP{{Type: AVPPPPDisconnectCause, Value: []byte{0, 3, 0, 0}}}, PPPDisconnectCause{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := FindPPPDisconnectCause(&Message{Type: MsgCDN, AVPs: tc.avps})
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func FuzzParsePPPDisconnectCause(f *testing.F) {
	for _, tc := range pppDisconnectGolden {
		f.Add(tc.wire[6:])
	}
	f.Add([]byte{0, 3, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParsePPPDisconnectCause(b)
		if err != nil {
			return
		}
		out, err := d.Append(nil)
		if err != nil {
			if len(b) <= maxAVPValue {
				t.Fatalf("append of a parsed value: %v", err)
			}
			return
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip: % x, want % x", out, b)
		}
		d2, err := ParsePPPDisconnectCause(out)
		if err != nil || d2 != d {
			t.Fatalf("re-parse: %+v, %v; want %+v", d2, err, d)
		}
	})
}

// TestDisconnectWithCause: a CDN sent with a PPP Disconnect Cause Code
// reaches the peer, whose Session.CDN holds it (RFC 3145 section 4).
func TestDisconnectWithCause(t *testing.T) {
	checkGoroutines(t)
	want := PPPDisconnectCause{Code: DiscNormal, Direction: DirectionPeer, Message: "subscriber hung up"}
	p := newPair(t, l2tptest.Impairment{}, acceptAll(fastOpts("")), false)
	p.lnsRec.onUp = func(s *Session) { s.DisconnectWithCause(ResultCode{Result: uint16(CDNLostCarrier)}, want) }
	tn, err := p.lac.Dial(context.Background(), lnsAddr, fastOpts(""))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tn.PlaceCall(CallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the call disconnected by the LNS", func() bool { return p.lacRec.sessionsDown.Load() == 1 })
	p.lacRec.mu.Lock()
	rc := p.lacRec.sessRC[s]
	p.lacRec.mu.Unlock()
	if rc.Result != uint16(CDNLostCarrier) {
		t.Errorf("CDN result %+v", rc)
	}
	got, ok := FindPPPDisconnectCause(s.CDN()) // set before SessionDown, which waitFor saw

	if !ok || got != want {
		t.Errorf("CDN cause %+v (found %v), want %+v", got, ok, want)
	}
}
