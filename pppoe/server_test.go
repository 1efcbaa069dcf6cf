package pppoe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fakeConn records the frames a port writes.
type fakeConn struct {
	mu     sync.Mutex
	frames [][]byte
}

func (f *fakeConn) ReadFrom([]byte) (int, net.Addr, error) { select {} }
func (f *fakeConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	f.mu.Lock()
	f.frames = append(f.frames, append([]byte(nil), b...))
	f.mu.Unlock()
	return len(b), nil
}
func (f *fakeConn) SetReadDeadline(time.Time) error { return nil }
func (f *fakeConn) Close() error                    { return nil }

func (f *fakeConn) last(t *testing.T) (Ethernet, Packet) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.frames) == 0 {
		t.Fatal("nothing was sent")
	}
	eth, rest, err := ParseEthernet(f.frames[len(f.frames)-1])
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(rest)
	if err != nil {
		t.Fatal(err)
	}
	return eth, p
}

type event struct {
	up   bool
	id   uint16
	why  DownReason
	data []byte
}

type recHandler struct {
	mu     sync.Mutex
	events []event
	up     []*Session
}

func (h *recHandler) SessionUp(s *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, event{up: true, id: s.ID})
	h.up = append(h.up, s)
}
func (h *recHandler) SessionDown(s *Session, why DownReason) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, event{id: s.ID, why: why})
}
func (h *recHandler) SessionData(s *Session, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, event{id: s.ID, data: append([]byte(nil), payload...)})
}

type testAC struct {
	srv        *Server
	p          *port
	disc, sess *fakeConn
	h          *recHandler
	now        time.Time
}

func newTestAC(t testing.TB, cfg ServerConfig) *testAC {
	t.Helper()
	if cfg.ACName == "" {
		cfg.ACName = "bras-test"
	}
	if cfg.CookieSecret == nil {
		cfg.CookieSecret = []byte("secret")
	}
	a := &testAC{h: &recHandler{}, disc: &fakeConn{}, sess: &fakeConn{}, now: time.Unix(1_700_000_000, 0)}
	cfg.Now = func() time.Time { return a.now }
	srv, err := newServer(cfg, a.h)
	if err != nil {
		t.Fatal(err)
	}
	a.srv = srv
	a.p = srv.newPort("eth0", 0, acMAC, 1500)
	a.p.disc, a.p.sess = a.disc, a.sess
	srv.ports = append(srv.ports, a.p)
	return a
}

// exchange feeds one discovery frame and sends the reply like the reader
// loop does; it returns the reply (nil when none).
func (a *testAC) exchange(frame []byte) []byte {
	reply, dst := a.p.handleDiscovery(frame, a.now)
	if reply != nil {
		_ = a.p.sendDiscovery(reply, dst)
		reply = append([]byte(nil), reply...)
	}
	a.p.finishUp()
	return reply
}

func frame(t testing.TB, dst, src MAC, p Packet) []byte {
	t.Helper()
	eth := Ethernet{Dst: dst, Src: src, EtherType: EtherTypeDiscovery}
	b, _ := eth.Append(nil)
	b, err := p.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseFrame(t testing.TB, b []byte) (Ethernet, Packet) {
	t.Helper()
	eth, rest, err := ParseEthernet(b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(rest)
	if err != nil {
		t.Fatal(err)
	}
	return eth, p
}

func padi(svc string, extra ...Tag) Packet {
	return Packet{Code: CodePADI, Tags: append([]Tag{{Type: TagServiceName, Value: []byte(svc)}}, extra...)}
}

// dial runs PADI/PADO/PADR/PADS for host and returns the PADS.
func (a *testAC) dial(t testing.TB, host MAC, svc string, extra ...Tag) Packet {
	t.Helper()
	reply := a.exchange(frame(t, Broadcast, host, padi(svc, extra...)))
	if reply == nil {
		t.Fatal("no PADO")
	}
	_, pado := parseFrame(t, reply)
	cookie, _ := pado.Tag(TagACCookie)
	padr := Packet{Code: CodePADR, Tags: append([]Tag{{Type: TagServiceName, Value: []byte(svc)}, {Type: TagACCookie, Value: cookie}}, extra...)}
	reply = a.exchange(frame(t, acMAC, host, padr))
	if reply == nil {
		t.Fatal("no PADS")
	}
	_, pads := parseFrame(t, reply)
	return pads
}

func TestPADOAnswersPADI(t *testing.T) {
	a := newTestAC(t, ServerConfig{ACName: "bras-1"})
	hu := Tag{Type: TagHostUniq, Value: []byte{1, 2, 3, 4}}
	relay := Tag{Type: TagRelaySessionID, Value: []byte("relay-123456")}
	reply := a.exchange(frame(t, Broadcast, hostMAC, padi("isp", hu, relay)))
	if reply == nil {
		t.Fatal("PADI not answered")
	}
	eth, pado := parseFrame(t, reply)
	if eth.Dst != hostMAC || eth.Src != acMAC {
		t.Errorf("PADO from %v to %v, want %v to %v", eth.Src, eth.Dst, acMAC, hostMAC)
	}
	cookie, ok := pado.Tag(TagACCookie)
	if !ok || len(cookie) != 16 {
		t.Fatalf("PADO cookie = %x, %v", cookie, ok)
	}
	want := Packet{Code: CodePADO, Tags: []Tag{
		{Type: TagACName, Value: []byte("bras-1")},
		{Type: TagServiceName, Value: []byte("isp")},
		{Type: TagACCookie, Value: cookie},
		hu, relay,
	}}
	if diff := cmp.Diff(want, pado); diff != "" {
		t.Errorf("PADO (-want +got):\n%s", diff)
	}
	// No state before a valid PADR, section 9.
	if n := a.srv.NumSessions(); n != 0 || len(a.p.perMAC) != 0 {
		t.Errorf("after a PADI: %d sessions, %d per-MAC entries, want none", n, len(a.p.perMAC))
	}
}

func TestServicePolicy(t *testing.T) {
	for _, tt := range []struct {
		name     string
		policy   ServicePolicy
		services []string
		ask      string
		answer   bool
		offered  []string
	}{
		{"any: named", ServiceAny, nil, "whatever", true, []string{"whatever"}},
		{"any: blank", ServiceAny, nil, "", true, []string{""}},
		{"list: listed", ServiceList, []string{"a", "b"}, "b", true, []string{"b", "a"}},
		{"list: blank offers all", ServiceList, []string{"a", "b"}, "", true, []string{"", "a", "b"}},
		{"list: unknown not answered", ServiceList, []string{"a"}, "c", false, nil},
		{"blank: blank", ServiceBlank, nil, "", true, []string{""}},
		{"blank: named not answered", ServiceBlank, nil, "a", false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAC(t, ServerConfig{ServicePolicy: tt.policy, Services: tt.services})
			reply := a.exchange(frame(t, Broadcast, hostMAC, padi(tt.ask)))
			if (reply != nil) != tt.answer {
				t.Fatalf("answered = %v, want %v", reply != nil, tt.answer)
			}
			if reply == nil {
				if a.srv.Stats().ServiceRejected != 1 {
					t.Errorf("ServiceRejected = %d, want 1", a.srv.Stats().ServiceRejected)
				}
				return
			}
			_, pado := parseFrame(t, reply)
			var got []string
			for _, tg := range pado.Tags {
				if tg.Type == TagServiceName {
					got = append(got, string(tg.Value))
				}
			}
			if diff := cmp.Diff(tt.offered, got); diff != "" {
				t.Errorf("offered services (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPADRCreatesSession(t *testing.T) {
	a := newTestAC(t, ServerConfig{})
	a.p.mtu = 1508
	line := goldenAccessLine.b
	pads := a.dial(t, hostMAC, "isp",
		Tag{Type: TagHostUniq, Value: []byte("hu")},
		Tag{Type: TagVendorSpecific, Value: line},
		Tag{Type: TagPPPMaxPayload, Value: []byte{0x05, 0xdc}})
	if pads.Code != CodePADS || pads.SessionID == 0 || pads.SessionID == 0xffff {
		t.Fatalf("PADS %v session %#x", pads.Code, pads.SessionID)
	}
	if v, _ := pads.Tag(TagHostUniq); string(v) != "hu" {
		t.Errorf("PADS Host-Uniq = %q", v)
	}
	if mp, ok := pads.MaxPayload(); !ok || mp != 1500 {
		t.Errorf("PADS PPP-Max-Payload = %d %v, want 1500 (RFC 4638)", mp, ok)
	}
	if len(a.h.up) != 1 {
		t.Fatalf("%d SessionUp calls", len(a.h.up))
	}
	s := a.h.up[0]
	if s.ID != pads.SessionID || s.ClientMAC != hostMAC || s.ServiceName != "isp" || string(s.HostUniq) != "hu" ||
		s.MaxPayload != 1500 || s.AccessLine == nil || s.AccessLine.CircuitID != "dslam1 1/12" {
		t.Errorf("session = %+v", s)
	}

	// A lost PADS: the repeated PADR gets the same session.
	before := a.srv.NumSessions()
	pads2 := a.dial(t, hostMAC, "isp", Tag{Type: TagHostUniq, Value: []byte("hu")})
	if pads2.SessionID != pads.SessionID || a.srv.NumSessions() != before {
		t.Errorf("repeated PADR: session %#x (was %#x), %d sessions", pads2.SessionID, pads.SessionID, a.srv.NumSessions())
	}

	// Session stage both ways.
	ppp := []byte{0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 1, 2, 3, 4}
	in := appendSessionFrame(nil, acMAC, hostMAC, 0, s.ID, ppp)
	a.p.handleSession(append(in, make([]byte, 30)...)) // with Ethernet padding
	if ev := a.h.events[len(a.h.events)-1]; !bytes.Equal(ev.data, ppp) {
		t.Errorf("SessionData got %x, want %x", ev.data, ppp)
	}
	if err := s.Send(ppp); err != nil {
		t.Fatal(err)
	}
	if got, want := a.sess.frames[0], appendSessionFrame(nil, hostMAC, acMAC, 0, s.ID, ppp); !bytes.Equal(got, want) {
		t.Errorf("Send wrote %x, want %x", got, want)
	}
	if err := s.Send(make([]byte, 1502)); err != nil {
		t.Errorf("Send of a full 1500-octet PPP payload (with its protocol): %v", err)
	}
	if err := s.Send(make([]byte, 1503)); err == nil {
		t.Error("Send of 1501 octets of PPP payload on a 1500 session succeeded")
	}

	// A frame for another session ID of that MAC is counted, not delivered.
	n := len(a.h.events)
	a.p.handleSession(appendSessionFrame(nil, acMAC, hostMAC, 0, s.ID+1, ppp))
	if len(a.h.events) != n || a.srv.Stats().SessionUnknown != 1 {
		t.Errorf("unknown session frame: events %d→%d, SessionUnknown %d", n, len(a.h.events), a.srv.Stats().SessionUnknown)
	}

	// PADT from the client ends it.
	a.exchange(frame(t, acMAC, hostMAC, Packet{Code: CodePADT, SessionID: s.ID}))
	if ev := a.h.events[len(a.h.events)-1]; ev.up || ev.id != s.ID || ev.why != DownPADT {
		t.Errorf("last event %+v, want SessionDown(padt)", ev)
	}
	if a.srv.NumSessions() != 0 || len(a.p.perMAC) != 0 {
		t.Errorf("after PADT: %d sessions, %d per-MAC entries", a.srv.NumSessions(), len(a.p.perMAC))
	}
	if err := s.Send(ppp); err == nil {
		t.Error("Send after PADT succeeded (RFC 2516 section 5.5 forbids it)")
	}
}

func TestCloseSendsPADT(t *testing.T) {
	a := newTestAC(t, ServerConfig{})
	pads := a.dial(t, hostMAC, "", Tag{Type: TagRelaySessionID, Value: []byte("r")})
	s := a.h.up[0]
	a.srv.Close(s, "idle timeout")
	eth, padt := a.disc.last(t)
	want := Packet{Code: CodePADT, SessionID: pads.SessionID, Tags: []Tag{
		{Type: TagGenericError, Value: []byte("idle timeout")},
		{Type: TagRelaySessionID, Value: []byte("r")},
	}}
	if diff := cmp.Diff(want, padt); diff != "" || eth.Dst != hostMAC {
		t.Errorf("PADT to %v (-want +got):\n%s", eth.Dst, diff)
	}
	if ev := a.h.events[len(a.h.events)-1]; ev.why != DownLocal {
		t.Errorf("last event %+v, want SessionDown(closed)", ev)
	}
	a.srv.Close(s, "again") // no second PADT
	if st := a.srv.Stats(); st.PADTSent != 1 {
		t.Errorf("PADTSent = %d, want 1", st.PADTSent)
	}
}

func TestPADRRejected(t *testing.T) {
	good := func(a *testAC, host MAC) []byte {
		_, pado := parseFrame(t, a.exchange(frame(t, Broadcast, host, padi("a"))))
		c, _ := pado.Tag(TagACCookie)
		return c
	}
	for _, tt := range []struct {
		name    string
		cfg     ServerConfig
		cookie  func(a *testAC) []byte
		svc     string
		wantTag TagType
		counter func(Stats) uint64
	}{
		{"missing cookie", ServerConfig{}, func(*testAC) []byte { return nil }, "a", TagGenericError,
			func(s Stats) uint64 { return s.CookieRejected }},
		{"wrong cookie", ServerConfig{}, func(*testAC) []byte { return bytes.Repeat([]byte{7}, 16) }, "a", TagGenericError,
			func(s Stats) uint64 { return s.CookieRejected }},
		{"other MAC's cookie", ServerConfig{}, func(a *testAC) []byte { return good(a, MAC{2, 0, 0, 0, 0, 9}) }, "a", TagGenericError,
			func(s Stats) uint64 { return s.CookieRejected }},
		{"stale cookie", ServerConfig{CookieLifetime: time.Second}, func(a *testAC) []byte {
			c := good(a, hostMAC)
			a.now = a.now.Add(3 * time.Second)
			return c
		}, "a", TagGenericError, func(s Stats) uint64 { return s.CookieRejected }},
		{"unknown service", ServerConfig{ServicePolicy: ServiceList, Services: []string{"a"}},
			func(a *testAC) []byte { return good(a, hostMAC) }, "b", TagServiceNameError,
			func(s Stats) uint64 { return s.ServiceRejected }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAC(t, tt.cfg)
			tags := []Tag{{Type: TagServiceName, Value: []byte(tt.svc)}, {Type: TagHostUniq, Value: []byte{9}}}
			if c := tt.cookie(a); c != nil {
				tags = append(tags, Tag{Type: TagACCookie, Value: c})
			}
			reply := a.exchange(frame(t, acMAC, hostMAC, Packet{Code: CodePADR, Tags: tags}))
			if reply == nil {
				t.Fatal("PADR not answered")
			}
			_, pads := parseFrame(t, reply)
			if _, ok := pads.Tag(tt.wantTag); !ok || pads.Code != CodePADS || pads.SessionID != 0 {
				t.Errorf("reply %v session %d tags %v, want PADS session 0 with %v", pads.Code, pads.SessionID, pads.Tags, tt.wantTag)
			}
			if hu, _ := pads.Tag(TagHostUniq); !bytes.Equal(hu, []byte{9}) {
				t.Errorf("error PADS Host-Uniq = %x, want 09", hu)
			}
			if tt.counter(a.srv.Stats()) != 1 {
				t.Errorf("counter not incremented: %+v", a.srv.Stats())
			}
			if a.srv.NumSessions() != 0 || len(a.h.events) != 0 {
				t.Errorf("rejected PADR left %d sessions, %d events", a.srv.NumSessions(), len(a.h.events))
			}
		})
	}
}

func TestSessionLimits(t *testing.T) {
	a := newTestAC(t, ServerConfig{MaxSessions: 3, MaxSessionsPerMAC: 2})
	host2 := MAC{0x02, 0, 0, 0, 0, 2}
	ids := map[uint16]bool{}
	for i, tc := range []struct {
		host MAC
		ok   bool
	}{{hostMAC, true}, {hostMAC, true}, {hostMAC, false}, {host2, true}, {host2, false}} {
		pads := a.dial(t, tc.host, "", Tag{Type: TagHostUniq, Value: []byte{byte(i)}})
		_, sysErr := pads.Tag(TagACSystemError)
		if tc.ok != (pads.SessionID != 0) || tc.ok == sysErr {
			t.Errorf("dial %d from %v: session %d, AC-System-Error %v, want ok=%v", i, tc.host, pads.SessionID, sysErr, tc.ok)
		}
		if tc.ok {
			if ids[pads.SessionID] {
				t.Errorf("session ID %d given twice", pads.SessionID)
			}
			ids[pads.SessionID] = true
		}
	}
	if got := a.srv.Stats().LimitRejected; got != 2 {
		t.Errorf("LimitRejected = %d, want 2", got)
	}
}

func TestPADIRateLimit(t *testing.T) {
	a := newTestAC(t, ServerConfig{PADIRate: 1, PADIBurst: 3})
	answered := 0
	for range 10 {
		if a.exchange(frame(t, Broadcast, hostMAC, padi(""))) != nil {
			answered++
		}
	}
	if answered != 3 || a.srv.Stats().PADIRateLimited != 7 {
		t.Errorf("answered %d of 10 (want the burst of 3), rate-limited %d", answered, a.srv.Stats().PADIRateLimited)
	}
	a.now = a.now.Add(2 * time.Second)
	if a.exchange(frame(t, Broadcast, hostMAC, padi(""))) == nil {
		t.Error("PADI after the refill not answered")
	}
	// Another MAC is not held back by this one.
	if a.exchange(frame(t, Broadcast, MAC{2, 0, 0, 0, 0, 7}, padi(""))) == nil {
		t.Error("other MAC's PADI not answered")
	}
}

func TestPADIFloodKeepsNoState(t *testing.T) {
	a := newTestAC(t, ServerConfig{RateTableSize: 1024})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		var m MAC
		for j := range m {
			m[j] = byte(rng.Uint32())
		}
		m[0] = m[0]&^1 | 2 // unicast, locally administered
		a.exchange(frame(t, Broadcast, m, padi("")))
		if i == 5000 {
			// A subscriber still comes up during the flood.
			if pads := a.dial(t, hostMAC, ""); pads.SessionID == 0 {
				t.Error("session refused during the flood")
			}
		}
	}
	if got := a.srv.Stats().PADIReceived; got != 10001 {
		t.Errorf("PADIReceived = %d", got)
	}
	if a.srv.NumSessions() != 1 || len(a.p.perMAC) != 1 || a.srv.RateTableSize() != 1024 {
		t.Errorf("after the flood: %d sessions, %d per-MAC entries, rate table %d", a.srv.NumSessions(), len(a.p.perMAC), a.srv.RateTableSize())
	}
}

func TestDiscoveryBadInput(t *testing.T) {
	eth := func(dst, src MAC, et EtherType) []byte { return appendEth(nil, dst, src, 0, et) }
	for _, tt := range []struct {
		name  string
		frame []byte
	}{
		{"short frame", []byte{1, 2, 3}},
		{"header only", eth(Broadcast, hostMAC, EtherTypeDiscovery)},
		{"LENGTH past the frame", cat(eth(Broadcast, hostMAC, EtherTypeDiscovery), []byte{0x11, 0x09, 0, 0, 0x05, 0xdc, 1, 1, 0, 0})},
		{"tag overruns payload", cat(eth(Broadcast, hostMAC, EtherTypeDiscovery), []byte{0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 9})},
		{"unknown code", cat(eth(Broadcast, hostMAC, EtherTypeDiscovery), []byte{0x11, 0x33, 0, 0, 0, 4, 1, 1, 0, 0})},
		{"PADI without Service-Name", frame(t, Broadcast, hostMAC, Packet{Code: CodePADI})},
		{"PADI with two Service-Names", frame(t, Broadcast, hostMAC, Packet{Code: CodePADI, Tags: []Tag{{Type: TagServiceName}, {Type: TagServiceName}}})},
		{"PADI with a session ID", frame(t, Broadcast, hostMAC, Packet{Code: CodePADI, SessionID: 5, Tags: []Tag{{Type: TagServiceName}}})},
		{"PADI from a multicast source", frame(t, Broadcast, MAC{1, 0, 0x5e, 0, 0, 1}, padi(""))},
		{"PADR to broadcast", frame(t, Broadcast, hostMAC, Packet{Code: CodePADR, Tags: []Tag{{Type: TagServiceName}}})},
		{"PADR with two Service-Names", frame(t, acMAC, hostMAC, Packet{Code: CodePADR, Tags: []Tag{{Type: TagServiceName}, {Type: TagServiceName}}})},
		{"PADO to the AC", frame(t, acMAC, hostMAC, Packet{Code: CodePADO})},
		{"PADT for no session", frame(t, acMAC, hostMAC, Packet{Code: CodePADT, SessionID: 9})},
		{"tagged frame on an untagged port", cat(appendEth(nil, Broadcast, hostMAC, 1, EtherTypeDiscovery), []byte{0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 0})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAC(t, ServerConfig{})
			if reply := a.exchange(tt.frame); reply != nil {
				t.Errorf("answered %x", reply)
			}
			st := a.srv.Stats()
			if st.Malformed+st.Ignored+st.SessionUnknown != 1 {
				t.Errorf("not counted: %+v", st)
			}
		})
	}
}

func TestSessionBadInput(t *testing.T) {
	a := newTestAC(t, ServerConfig{})
	a.dial(t, hostMAC, "")
	id := a.h.up[0].ID
	for _, f := range [][]byte{
		{1, 2},
		appendEth(nil, acMAC, hostMAC, 0, EtherTypeSession),
		cat(appendEth(nil, acMAC, hostMAC, 0, EtherTypeSession), []byte{0x11, 0x00, byte(id >> 8), byte(id), 0x05, 0xdc, 0xc0, 0x21}),
		cat(appendEth(nil, acMAC, hostMAC, 0, EtherTypeSession), []byte{0x11, 0x07, byte(id >> 8), byte(id), 0, 0}),
		appendSessionFrame(nil, MAC{2, 9, 9, 9, 9, 9}, hostMAC, 0, id, []byte{0, 0x21}),
	} {
		a.p.handleSession(f)
	}
	st := a.srv.Stats()
	if st.SessionFramesIn != 0 || st.Malformed+st.Ignored != 5 {
		t.Errorf("bad session frames: %+v", st)
	}
}

func TestPADIHandlingAllocs(t *testing.T) {
	a := newTestAC(t, ServerConfig{PADIRate: -1})
	f := frame(t, Broadcast, hostMAC, padi("isp", Tag{Type: TagHostUniq, Value: []byte{1, 2, 3, 4}}))
	a.p.handleDiscovery(f, a.now) // warm p.in.Tags and p.out
	n := testing.AllocsPerRun(1000, func() {
		if reply, _ := a.p.handleDiscovery(f, a.now); reply == nil {
			t.Fatal("no PADO")
		}
	})
	if n != 0 {
		t.Errorf("PADI → PADO allocates %v times, want 0", n)
	}
}

// BenchmarkPADI measures PADIs answered per second in process: the handler
// parsing the PADI and producing the PADO bytes (cookie HMAC included).
func BenchmarkPADI(b *testing.B) {
	a := newTestAC(b, ServerConfig{RateTableSize: 4096})
	frames := make([][]byte, 1024)
	for i := range frames {
		m := MAC{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
		frames[i] = frame(b, Broadcast, m, padi("isp", Tag{Type: TagHostUniq, Value: []byte{1, 2, 3, 4}}))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.now = a.now.Add(time.Millisecond)
		if reply, _ := a.p.handleDiscovery(frames[i%len(frames)], a.now); reply == nil {
			b.Fatal("no PADO")
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "PADI/s")
}

var _ = cmpopts.EquateEmpty

// discardConn swallows writes.
type discardConn struct{}

func (discardConn) ReadFrom([]byte) (int, net.Addr, error)    { select {} }
func (discardConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (discardConn) SetReadDeadline(time.Time) error           { return nil }
func (discardConn) Close() error                              { return nil }

type nopHandler struct{ n int }

func (*nopHandler) SessionUp(*Session)                 {}
func (*nopHandler) SessionDown(*Session, DownReason)   {}
func (h *nopHandler) SessionData(_ *Session, p []byte) { h.n += len(p) }

// TestSessionReceiveAllocs checks the AC's receive path: a session frame
// looked up and handed to its owner without allocation (the send path on a
// real socket is TestNetnsSendAllocs).
func TestSessionReceiveAllocs(t *testing.T) {
	a := newTestAC(t, ServerConfig{})
	a.dial(t, hostMAC, "")
	s := a.h.up[0]
	h := &nopHandler{}
	a.srv.h = h
	in := appendSessionFrame(nil, acMAC, hostMAC, 0, s.ID, ipv4Payload())
	n := testing.AllocsPerRun(1000, func() { a.p.handleSession(in) })
	if n != 0 || h.n == 0 {
		t.Errorf("session receive allocates %v times (delivered %d octets), want 0", n, h.n)
	}
}

func ipv4Payload() []byte { return append([]byte{0x00, 0x21}, make([]byte, 1398)...) }

func BenchmarkSessionReceive(b *testing.B) {
	a := newTestAC(b, ServerConfig{})
	a.dial(b, hostMAC, "")
	s := a.h.up[0]
	a.srv.h = &nopHandler{}
	in := appendSessionFrame(nil, acMAC, hostMAC, 0, s.ID, ipv4Payload())
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		a.p.handleSession(in)
	}
}

func TestUserVLANDiscovery(t *testing.T) {
	a := newTestAC(t, ServerConfig{})
	a.p.untagged, a.p.vlans = false, setOf(t, 100)
	tagged := func(vid vlanKey, p Packet) []byte {
		b, _ := p.Append(appendEth(nil, Broadcast, hostMAC, vid, EtherTypeDiscovery))
		return b
	}
	reply := a.exchange(tagged(100, padi("")))
	if reply == nil {
		t.Fatal("PADI on VLAN 100 not answered")
	}
	eth, pado := parseFrame(t, reply)
	if eth.NumVLANs != 1 || eth.VLANs[0] != (VLAN{TPID: EtherTypeVLAN, TCI: 100}) || pado.Code != CodePADO {
		t.Errorf("reply %+v %v, want a PADO tagged 802.1Q 100", eth, pado.Code)
	}
	// The tag as the kernel reports it (PACKET_AUXDATA) works the same.
	if r, _ := a.p.handleDiscoveryTagged(frame(t, Broadcast, hostMAC, padi("")), 100, a.now); r == nil {
		t.Error("PADI with VLAN 100 from auxdata not answered")
	}
	for _, f := range [][]byte{tagged(101, padi("")), frame(t, Broadcast, hostMAC, padi(""))} {
		if a.exchange(f) != nil {
			t.Errorf("answered a frame of a VLAN not served: %x", f)
		}
	}
	if got := a.srv.Stats().Ignored; got != 2 {
		t.Errorf("Ignored = %d, want 2", got)
	}
}

// FuzzHandleDiscovery feeds arbitrary frames to the AC: it must never
// panic, and whatever it answers must itself parse.
func FuzzHandleDiscovery(f *testing.F) {
	for _, g := range goldenDiscovery {
		f.Add(g.frame)
	}
	f.Add(frame(f, Broadcast, hostMAC, padi("isp", Tag{Type: TagHostUniq, Value: []byte{1}}, Tag{Type: TagPPPMaxPayload, Value: []byte{5, 0xdc}})))
	f.Add(frame(f, acMAC, hostMAC, Packet{Code: CodePADR, Tags: []Tag{{Type: TagServiceName}, {Type: TagVendorSpecific, Value: goldenAccessLine.b}}}))
	a := newTestAC(f, ServerConfig{PADIRate: -1})
	a.p.vlans = setOf(f, 100)
	f.Fuzz(func(t *testing.T, b []byte) {
		reply, _ := a.p.handleDiscovery(b, a.now)
		a.p.finishUp()
		a.p.handleSession(b)
		if reply == nil {
			return
		}
		eth, rest, err := ParseEthernet(reply)
		if err != nil {
			t.Fatalf("reply %x: %v", reply, err)
		}
		if _, err := Parse(rest); err != nil || eth.EtherType != EtherTypeDiscovery {
			t.Fatalf("reply %x: %v", reply, err)
		}
	})
}

// FuzzClientInput feeds arbitrary frames to the client's readers.
func FuzzClientInput(f *testing.F) {
	for _, g := range goldenDiscovery {
		f.Add(g.frame, uint16(0))
	}
	f.Add(appendSessionFrame(nil, hostMAC, acMAC, 0, 1, []byte{0xc0, 0x21, 1, 1, 0, 4}), uint16(0))
	c := newClient(ClientConfig{})
	c.pending[hostMAC] = &dialState{ac: acMAC, ch: make(chan offer, 1)}
	f.Fuzz(func(t *testing.T, b []byte, vid uint16) {
		c.handleDiscovery(b, vid&0x0fff)
		c.handleSession(b, vid&0x0fff)
		select {
		case <-c.pending[hostMAC].ch:
		default:
		}
	})
}

func TestClientBadInput(t *testing.T) {
	c := newClient(ClientConfig{})
	d := &dialState{hostUniq: []byte{1}, ac: acMAC, ch: make(chan offer, 4)}
	c.pending[hostMAC] = d
	pads := func(hu []byte, src MAC) []byte {
		return frame(t, hostMAC, src, Packet{Code: CodePADS, SessionID: 5, Tags: []Tag{{Type: TagServiceName}, {Type: TagHostUniq, Value: hu}}})
	}
	for _, tt := range []struct {
		name  string
		frame []byte
	}{
		{"short", []byte{1, 2, 3}},
		{"LENGTH past the frame", cat(appendEth(nil, hostMAC, acMAC, 0, EtherTypeDiscovery), []byte{0x11, 0x65, 0, 5, 0x05, 0xdc})},
		{"PADS with another Host-Uniq", pads([]byte{2}, acMAC)},
		{"PADS from another AC", pads([]byte{1}, MAC{2, 7, 7, 7, 7, 7})},
		{"PADT for no session", frame(t, hostMAC, acMAC, Packet{Code: CodePADT, SessionID: 5})},
		{"PADI", frame(t, Broadcast, acMAC, padi(""))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c.handleDiscovery(tt.frame, 0)
			select {
			case o := <-d.ch:
				t.Errorf("delivered %+v", o)
			default:
			}
			if c.NumSessions() != 0 {
				t.Errorf("%d sessions", c.NumSessions())
			}
		})
	}
	// The right PADS makes the session, and frames that overtook it are
	// handed over by SetReceive.
	c.handleSession(appendSessionFrame(nil, hostMAC, acMAC, 0, 5, []byte{0xc0, 0x21, 1}), 0)
	c.handleDiscovery(pads([]byte{1}, acMAC), 0)
	o := <-d.ch
	if o.sess == nil || o.sess.ID != 5 || c.NumSessions() != 1 {
		t.Fatalf("PADS gave %+v", o)
	}
	var got [][]byte
	o.sess.SetReceive(func(p []byte) { got = append(got, append([]byte(nil), p...)) })
	c.handleSession(appendSessionFrame(nil, hostMAC, acMAC, 0, 5, []byte{0x00, 0x21, 2}), 0)
	c.handleSession(appendSessionFrame(nil, hostMAC, MAC{2, 7, 7, 7, 7, 7}, 0, 5, []byte{0x00, 0x21, 3}), 0) // wrong AC
	if diff := cmp.Diff([][]byte{{0xc0, 0x21, 1}, {0x00, 0x21, 2}}, got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	// A PADT from the AC ends it, and OnEnd hears of it once.
	var ends []error
	o.sess.OnEnd(func(err error) { ends = append(ends, err) })
	if len(ends) != 0 {
		t.Fatalf("OnEnd called for a live session: %v", ends)
	}
	c.handleDiscovery(frame(t, hostMAC, acMAC, Packet{Code: CodePADT, SessionID: 5}), 0)
	if !errors.Is(o.sess.Err(), ErrPADT) || c.NumSessions() != 0 {
		t.Errorf("after PADT: %v, %d sessions", o.sess.Err(), c.NumSessions())
	}
	o.sess.Close()
	if len(ends) != 1 || !errors.Is(ends[0], ErrPADT) {
		t.Errorf("OnEnd got %v, want one ErrPADT", ends)
	}
	// Installed after the end, it is called at once.
	var late error
	o.sess.OnEnd(func(err error) { late = err })
	if !errors.Is(late, ErrPADT) {
		t.Errorf("OnEnd installed after the PADT got %v, want ErrPADT", late)
	}
}

func TestQinQDiscovery(t *testing.T) {
	a := newTestAC(t, ServerConfig{})
	a.p.untagged, a.p.vlans = false, setOf(t, 10<<16|20, 30)
	padiOn := func(vk vlanKey) []byte {
		b, _ := padi("").Append(appendEth(nil, Broadcast, hostMAC, vk, EtherTypeDiscovery))
		return b
	}
	for _, tt := range []struct {
		name   string
		frame  []byte
		aux    uint16
		answer bool
	}{
		{"both tags inline", padiOn(10<<16 | 20), 0, true},
		{"outer tag from the kernel, inner inline", padiOn(20), 10, true},
		{"other inner VLAN", padiOn(10<<16 | 21), 0, false},
		{"single-tagged 30", padiOn(30), 0, true},
		{"the C-tag alone", padiOn(20), 0, false},
		{"three tags", cat(appendEth(nil, Broadcast, hostMAC, 10<<16|20, EtherTypeVLAN), []byte{0, 5, 0x88, 0x63, 0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 0}), 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reply, _ := a.p.handleDiscoveryTagged(tt.frame, tt.aux, a.now)
			if (reply != nil) != tt.answer {
				t.Fatalf("answered = %v, want %v", reply != nil, tt.answer)
			}
			if reply == nil {
				return
			}
			// The PADO carries the same tags back, outer S-tag first.
			want, _, _ := frameVLAN(tt.frame, tt.aux)
			got, off, ok := frameVLAN(reply, 0)
			if !ok || got != want || EtherType(binary.BigEndian.Uint16(reply[off:])) != EtherTypeDiscovery {
				t.Errorf("PADO tagged %#x, want %#x", got, want)
			}
			if want.outer() != 0 && (reply[12] != 0x88 || reply[13] != 0xa8) {
				t.Errorf("outer TPID %x, want 88a8", reply[12:14])
			}
		})
	}
}

// TestSessionIDSpace fills the 65534 session IDs of an interface (0 and
// 0xffff are never used, RFC 2516 section 4), refuses one more with
// AC-System-Error, and reuses a freed ID.
func TestSessionIDSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: 65534 sessions")
	}
	a := newTestAC(t, ServerConfig{PADIRate: -1})
	h := &nopHandler{}
	a.srv.h = h
	mac := func(i int) MAC { return MAC{0x02, 0x10, 0, byte(i >> 16), byte(i >> 8), byte(i)} }
	padr := func(m MAC) Packet {
		reply, _ := a.p.handleDiscovery(frame(t, Broadcast, m, padi("")), a.now)
		_, pado := parseFrame(t, reply)
		cookie, _ := pado.Tag(TagACCookie)
		reply, _ = a.p.handleDiscovery(frame(t, acMAC, m, Packet{Code: CodePADR, Tags: []Tag{{Type: TagServiceName}, {Type: TagACCookie, Value: cookie}}}), a.now)
		a.p.finishUp()
		_, pads := parseFrame(t, reply)
		return pads
	}
	seen := make([]bool, 65536)
	for i := range 65534 {
		id := padr(mac(i)).SessionID
		if id == 0 || id == 0xffff || seen[id] {
			t.Fatalf("session %d got ID %#x", i, id)
		}
		seen[id] = true
	}
	pads := padr(mac(70000))
	if _, ok := pads.Tag(TagACSystemError); !ok || pads.SessionID != 0 {
		t.Fatalf("session 65535: %v %v, want AC-System-Error", pads.SessionID, pads.Tags)
	}
	a.p.mu.RLock()
	victim := a.p.sessions[sessKey{0, mac(1234), 1235}]
	a.p.mu.RUnlock()
	if victim == nil {
		t.Fatal("no session 1235 for the 1235th MAC")
	}
	a.srv.Close(victim, "")
	if id := padr(mac(70001)).SessionID; id != 1235 {
		t.Errorf("after freeing 1235 the next session got %#x", id)
	}
}

// batchRecHandler records SessionDataBatch calls.
type batchRecHandler struct {
	recHandler
	batches [][]event
}

func (h *batchRecHandler) SessionDataBatch(frames []InFrame) {
	var b []event
	for _, f := range frames {
		b = append(b, event{id: f.Session.ID, data: append([]byte(nil), f.Payload...)})
	}
	h.batches = append(h.batches, b)
}

// scriptConn returns its frames one per ReadFrom, then cancels the reader.
type scriptConn struct {
	discardConn
	frames [][]byte
	cancel func()
}

func (c *scriptConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if len(c.frames) == 0 {
		c.cancel()
		return 0, nil, net.ErrClosed
	}
	n := copy(b, c.frames[0])
	c.frames = c.frames[1:]
	return n, nil, nil
}

// TestSessionDataBatchHandler: with a BatchHandler the session reader
// hands over its frames with SessionDataBatch (one call per read), not
// SessionData; dropped frames are not in the batch.
func TestSessionDataBatchHandler(t *testing.T) {
	a := newTestAC(t, ServerConfig{})
	bh := &batchRecHandler{}
	a.srv.h = bh
	pads := a.dial(t, hostMAC, "isp")
	ppp1, ppp2 := []byte{0x00, 0x21, 1}, []byte{0x00, 0x21, 2}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.p.sess = &scriptConn{cancel: cancel, frames: [][]byte{
		appendSessionFrame(nil, acMAC, hostMAC, 0, pads.SessionID, ppp1),
		appendSessionFrame(nil, acMAC, hostMAC, 0, pads.SessionID+1, ppp1), // unknown session
		appendSessionFrame(nil, acMAC, hostMAC, 0, pads.SessionID, ppp2),
	}}
	if err := a.p.readSessions(ctx); err != nil {
		t.Fatal(err)
	}
	want := [][]event{{{id: pads.SessionID, data: ppp1}}, {{id: pads.SessionID, data: ppp2}}}
	if diff := cmp.Diff(want, bh.batches, cmp.AllowUnexported(event{})); diff != "" {
		t.Errorf("batches (-want +got)\n%s", diff)
	}
	for _, ev := range bh.events {
		if ev.data != nil {
			t.Errorf("SessionData called with %x", ev.data)
		}
	}
}
