package ppp_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/bras-project/bras/ppp"
	"github.com/google/go-cmp/cmp"
)

// TestProtocolRejectReceived: the peer Protocol-Rejects IPCP (RFC 1661 5.7):
// IPCP finishes (RXJ-) and, with no network protocol left, LCP terminates.
// A Protocol-Reject of a protocol we do not run changes nothing.
func TestProtocolRejectReceived(t *testing.T) {
	x := serverUp(t)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ProtoRej, 1, 0x80, 0x57, 1, 1, 0, 4), x.now) // IPv6CP: RXJ+
	if x.s.State() != ppp.PhaseNetwork {
		t.Fatalf("Protocol-Reject of IPv6CP moved the session to %v", x.s.State())
	}
	x.s.Input(frame(ppp.ProtoLCP, ppp.ProtoRej, 2, 0x80, 0x21, 1, 1, 0, 4), x.now)
	got := reply(t, x.take(), ppp.ProtoLCP)
	if got.Code != ppp.TermReq || x.s.State() != ppp.PhaseTerminate {
		t.Errorf("after IPCP was rejected: sent %v, phase %v; want Terminate-Request, Terminate", got.Code, x.s.State())
	}
	x.s.Input(frame(ppp.ProtoLCP, ppp.TermAck, got.ID), x.now)
	if diff := cmp.Diff([]ppp.Reason{ppp.ReasonNegotiationFailed}, x.rec.downs); diff != "" {
		t.Errorf("downs (-want +got):\n%s", diff)
	}
}

// TestCodeRejectReceived: a Code-Reject of Echo-Request is permitted (RXJ+);
// one of Configure-Request is catastrophic (RXJ-, RFC 1661 section 5.6).
func TestCodeRejectReceived(t *testing.T) {
	x := serverUp(t)
	x.s.Input(frame(ppp.ProtoLCP, ppp.CodeRej, 3, byte(ppp.EchoReq), 1, 0, 8, 1, 2, 3, 4), x.now)
	if x.s.State() != ppp.PhaseNetwork || len(x.take()) != 0 {
		t.Fatalf("Code-Reject of Echo-Request: phase %v", x.s.State())
	}
	x.s.Input(frame(ppp.ProtoLCP, ppp.CodeRej, 4, byte(ppp.ConfReq), 1, 0, 4), x.now)
	got := reply(t, x.take(), ppp.ProtoLCP)
	if got.Code != ppp.TermReq || x.s.LCPState() != ppp.Stopping {
		t.Errorf("catastrophic Code-Reject: sent %v, LCP %v; want Terminate-Request, Stopping", got.Code, x.s.LCPState())
	}
}

// TestServerAuthTimeout: a peer that never sends an Authenticate-Request is
// dropped after a full Max-Configure cycle of restart periods.
func TestServerAuthTimeout(t *testing.T) {
	x := newSingle(ppp.Config{Auth: []ppp.AuthProto{ppp.AuthPAP}})
	x.s.Open(x.now)
	req := reply(t, x.take(), ppp.ProtoLCP)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), x.now)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 1, 5, 6, 9, 9, 9, 9), x.now)
	x.take()
	if x.s.State() != ppp.PhaseAuthenticate {
		t.Fatalf("phase %v", x.s.State())
	}
	x.now = x.s.NextDeadline()
	if d := x.now.Sub(t0); d != 30*time.Second {
		t.Errorf("authentication deadline after %v, want 10 × 3 s", d)
	}
	x.s.Tick(x.now)
	if got := reply(t, x.take(), ppp.ProtoLCP); got.Code != ppp.TermReq {
		t.Errorf("sent %v, want Terminate-Request", got.Code)
	}
	if x.s.Reason() != ppp.ReasonAuthFailed {
		t.Errorf("reason %v", x.s.Reason())
	}
}

// chapServer brings a single CHAP server session to the Authenticate phase
// and returns it with its first Challenge.
func chapServer(t *testing.T) (*single, ppp.CHAPPacket) {
	t.Helper()
	x := newSingle(ppp.Config{Auth: []ppp.AuthProto{ppp.AuthCHAPMD5}})
	x.s.Open(x.now)
	req := reply(t, x.take(), ppp.ProtoLCP)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), x.now)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 1, 5, 6, 9, 9, 9, 9), x.now)
	ch := challengesOf(t, x.take())
	if len(ch) != 1 {
		t.Fatalf("%d Challenges after LCP opened, want 1", len(ch))
	}
	return x, ch[0]
}

func challengesOf(t *testing.T, out [][]byte) []ppp.CHAPPacket {
	t.Helper()
	var ch []ppp.CHAPPacket
	for _, f := range out {
		if p, info, _ := ppp.ParseProtocol(f); p == ppp.ProtoCHAP {
			c, err := ppp.ParseCHAP(info)
			if err != nil {
				t.Fatal(err)
			}
			if c.Code == ppp.CHAPChallenge {
				ch = append(ch, c)
			}
		}
	}
	return ch
}

// TestCHAPChallengeRetries: the Challenge is sent each restart period,
// Max-Configure times in all, and each one sent, a retransmission
// included, has a new Identifier and a new Value (RFC 1994 section 4.1).
func TestCHAPChallengeRetries(t *testing.T) {
	x, first := chapServer(t)
	challenges := []ppp.CHAPPacket{first}
	for i := 0; i < 20 && x.s.State() == ppp.PhaseAuthenticate; i++ {
		x.now = x.s.NextDeadline()
		x.s.Tick(x.now)
		challenges = append(challenges, challengesOf(t, x.take())...)
	}
	if len(challenges) != 10 {
		t.Fatalf("%d challenges, want 10", len(challenges))
	}
	ids := map[uint8]bool{}
	values := map[string]bool{}
	for i, c := range challenges {
		if ids[c.ID] || values[string(c.Value)] {
			t.Errorf("challenge %d repeats an Identifier (%d) or a Value (%x)", i, c.ID, c.Value)
		}
		ids[c.ID], values[string(c.Value)] = true, true
		if string(c.Name) != "bras" || len(c.Value) != 16 {
			t.Errorf("challenge %d: name %q, %d-octet value", i, c.Name, len(c.Value))
		}
	}
	if x.s.Reason() != ppp.ReasonAuthFailed {
		t.Errorf("reason %v", x.s.Reason())
	}
}

// TestCHAPStaleResponse: once a Challenge was retransmitted, a Response to
// the earlier one is stale and silently discarded; the Response to the
// current one is checked against the current Value.
func TestCHAPStaleResponse(t *testing.T) {
	x, first := chapServer(t)
	x.now = x.s.NextDeadline()
	x.s.Tick(x.now)
	second := challengesOf(t, x.take())
	if len(second) != 1 {
		t.Fatalf("%d Challenges after the restart timer, want 1", len(second))
	}
	respond := func(ch ppp.CHAPPacket) {
		v := ppp.ChapMD5(ch.ID, []byte("builder"), ch.Value)
		b, _ := ppp.CHAPPacket{Code: ppp.CHAPResponse, ID: ch.ID, Value: v[:], Name: []byte("bob")}.Append(ppp.AppendProtocol(nil, ppp.ProtoCHAP))
		x.s.Input(b, x.now)
	}
	respond(first)
	if len(x.auth.reqs) != 0 || len(x.take()) != 0 || x.s.Stats().Stale != 1 {
		t.Fatalf("a Response to a superseded Challenge was used (stats %+v)", x.s.Stats())
	}
	respond(second[0])
	if len(x.auth.reqs) != 1 || x.auth.reqs[0].ChapID != second[0].ID || string(x.auth.reqs[0].Challenge) != string(second[0].Value) {
		t.Fatalf("authenticator saw %+v, want the Response to Challenge %d", x.auth.reqs, second[0].ID)
	}
	x.auth.flush(x.now)
	if x.s.State() != ppp.PhaseNetwork {
		t.Errorf("phase %v after the Response to the current Challenge", x.s.State())
	}
}

// TestClientIPCP: the client asks for 0.0.0.0 and DNS, takes what the server
// Naks, Acks the server's own address and Rejects anything else.
func TestClientIPCP(t *testing.T) {
	now := t0
	rec := &recorder{now: &now}
	link := &single{now: now}
	c := ppp.NewSession(link, ppp.Config{Role: ppp.Client, Username: "bob", Password: "builder", Handler: rec, Rand: newRand(1)})
	c.Open(now)
	req := reply(t, link.take(), ppp.ProtoLCP)
	c.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), now)
	c.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 1, 5, 6, 9, 9, 9, 9), now) // no auth asked
	out := link.take()
	if len(out) != 2 {
		t.Fatalf("sent %d frames, want LCP Ack and IPCP Configure-Request", len(out))
	}
	ipcpReq := reply(t, out[1:], ppp.ProtoIPCP)
	if diff := cmp.Diff([]byte{3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0}, ipcpReq.Data); diff != "" {
		t.Errorf("client IPCP request (-want +got):\n%s", diff)
	}
	c.Input(frame(ppp.ProtoIPCP, ppp.ConfNak, ipcpReq.ID, 3, 6, 100, 64, 0, 7, 129, 6, 192, 0, 2, 53, 131, 6, 192, 0, 2, 54), now)
	next := reply(t, link.take(), ppp.ProtoIPCP)
	if diff := cmp.Diff([]byte{3, 6, 100, 64, 0, 7, 129, 6, 192, 0, 2, 53, 131, 6, 192, 0, 2, 54}, next.Data); diff != "" {
		t.Errorf("request after the Nak (-want +got):\n%s", diff)
	}
	c.Input(frame(ppp.ProtoIPCP, ppp.ConfReq, 1, 3, 6, 100, 64, 0, 1, 2, 6, 0, 0x2d, 0x0f, 0), now)
	if got := reply(t, link.take(), ppp.ProtoIPCP); got.Code != ppp.ConfRej || !cmp.Equal(got.Data, []byte{2, 6, 0, 0x2d, 0x0f, 0}) {
		t.Errorf("reply to VJ compression: %v %x, want Configure-Reject of it", got.Code, got.Data)
	}
	c.Input(frame(ppp.ProtoIPCP, ppp.ConfReq, 2, 3, 6, 100, 64, 0, 1), now)
	c.Input(frame(ppp.ProtoIPCP, ppp.ConfAck, next.ID, next.Data...), now)
	want := []ppp.NetworkInfo{{Local: assignIP, Peer: lnsIP, DNS1: dns1, DNS2: dns2}}
	if diff := cmp.Diff(want, rec.ups, addrCmp); diff != "" {
		t.Errorf("Up (-want +got):\n%s", diff)
	}
}

// TestSessionMemory checks the design's ≤ 16 KiB per session on sessions
// that have negotiated and are up.
func TestSessionMemory(t *testing.T) {
	const n = 500
	pairs := make([]*pair, 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		p := newPair(t, uint64(i), ppp.Config{Auth: []ppp.AuthProto{ppp.AuthCHAPMD5}, MRU: 1492, RejectACCMPFCACFC: true},
			ppp.Config{MRU: 1492, Username: "alice", Password: "wonderland", RejectACCMPFCACFC: true})
		p.open()
		p.run(time.Minute, p.bothUp)
		p.sent = [2][][]byte{} // the test's own capture is not the session's
		p.auth.reqs = nil
		pairs = append(pairs, p)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// Each pair holds two sessions plus the test's pipe, recorders and
	// authenticator, so this over-counts.
	per := (after.HeapAlloc - before.HeapAlloc) / (2 * n)
	t.Logf("about %d bytes per up session (upper bound)", per)
	if per > 16<<10 {
		t.Errorf("%d bytes per session, want ≤ 16 KiB", per)
	}
	runtime.KeepAlive(pairs)
}

// BenchmarkEchoReply is the steady-state control cost of one session: an
// LCP Echo-Request in, an Echo-Reply out.
func BenchmarkEchoReply(b *testing.B) {
	link := &lastLink{}
	s := ppp.NewSession(link, ppp.Config{Role: ppp.Server, Rand: newRand(1)})
	s.Open(t0)
	req, _ := ppp.ParsePacket(link.last[2:])
	s.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), t0)
	s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 1, 5, 6, 9, 9, 9, 9), t0)
	if s.LCPState() != ppp.Opened {
		b.Fatalf("LCP %v", s.LCPState())
	}
	echo := frame(ppp.ProtoLCP, ppp.EchoReq, 1, 9, 9, 9, 9)
	link.n = 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Input(echo, t0)
	}
	if link.n != b.N {
		b.Fatalf("%d replies to %d requests", link.n, b.N)
	}
}

// lastLink keeps a copy of the last frame in a reused buffer.
type lastLink struct {
	last []byte
	n    int
}

func (l *lastLink) Send(f []byte) error { l.last = append(l.last[:0], f...); l.n++; return nil }

func TestProxyAuthenType(t *testing.T) {
	for _, a := range []ppp.AuthProto{ppp.AuthNone, ppp.AuthPAP, ppp.AuthCHAPMD5} {
		got, ok := ppp.AuthFromProxyAuthenType(a.ProxyAuthenType())
		if !ok || got != a {
			t.Errorf("%v -> %d -> %v %v", a, a.ProxyAuthenType(), got, ok)
		}
	}
	for _, v := range []uint16{0, 5, 6, 0xffff} {
		if _, ok := ppp.AuthFromProxyAuthenType(v); ok {
			t.Errorf("type %d accepted", v)
		}
	}
	if a, ok := ppp.AuthFromProxyAuthenType(1); !ok || a != ppp.AuthPAP {
		t.Errorf("textual exchange (1) = %v %v, want PAP", a, ok)
	}
}

// TestCHAPIdentifierAfterRenegotiation: LCP renegotiated in the Network
// phase authenticates again, and that Challenge's Identifier follows the
// last one sent instead of being drawn afresh, so it cannot repeat it
// (RFC 1994 sections 2.1 and 4.1).
func TestCHAPIdentifierAfterRenegotiation(t *testing.T) {
	x, first := chapServer(t)
	v := ppp.ChapMD5(first.ID, []byte("builder"), first.Value)
	b, _ := ppp.CHAPPacket{Code: ppp.CHAPResponse, ID: first.ID, Value: v[:], Name: []byte("bob")}.Append(ppp.AppendProtocol(nil, ppp.ProtoCHAP))
	x.s.Input(b, x.now)
	x.auth.flush(x.now)
	if x.s.State() != ppp.PhaseNetwork {
		t.Fatalf("phase %v, want Network", x.s.State())
	}
	x.take()
	// A Configure-Request in Opened renegotiates LCP (RFC 1661 section 4.1).
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 2, 5, 6, 9, 9, 9, 8), x.now)
	var req ppp.Packet
	for _, f := range x.take() {
		if p, info, _ := ppp.ParseProtocol(f); p == ppp.ProtoLCP {
			if pk, _ := ppp.ParsePacket(info); pk.Code == ppp.ConfReq {
				req = pk
			}
		}
	}
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), x.now)
	again := challengesOf(t, x.take())
	if len(again) != 1 {
		t.Fatalf("%d Challenges after LCP renegotiated, want 1", len(again))
	}
	if again[0].ID != first.ID+1 || string(again[0].Value) == string(first.Value) {
		t.Errorf("Challenge after renegotiation: id %d value %x; want id %d and a new value", again[0].ID, again[0].Value, first.ID+1)
	}
}
