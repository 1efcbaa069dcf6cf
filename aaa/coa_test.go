package aaa_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/google/go-cmp/cmp"
	"layeh.com/radius"
)

// fakeSessions is a CoAHandler over a fixed set of sessions.
type fakeSessions struct {
	mu       sync.Mutex
	sessions []aaa.SessionSelector // the sessions that exist
	down     []aaa.SessionSelector
	changes  []aaa.Change
	calls    int
}

func (f *fakeSessions) find(sel aaa.SessionSelector) int {
	for i, s := range f.sessions {
		if (sel.AcctSessionID == "" || sel.AcctSessionID == s.AcctSessionID) &&
			(sel.Username == "" || sel.Username == s.Username) &&
			(!sel.FramedIP.IsValid() || sel.FramedIP == s.FramedIP) {
			return i
		}
	}
	return -1
}

// seen returns copies of what the handler did, under its lock.
func (f *fakeSessions) seen() (down []aaa.SessionSelector, changes []aaa.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(down, f.down...), append(changes, f.changes...)
}

func (f *fakeSessions) Disconnect(_ context.Context, sel aaa.SessionSelector) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	i := f.find(sel)
	if i < 0 {
		return aaa.ErrSessionNotFound
	}
	f.down = append(f.down, f.sessions[i])
	return nil
}

func (f *fakeSessions) Change(_ context.Context, sel aaa.SessionSelector, ch aaa.Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.find(sel) < 0 {
		return aaa.ErrSessionNotFound
	}
	f.changes = append(f.changes, ch)
	return nil
}

var (
	coaNow     = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	coaPeer    = netip.MustParseAddrPort("127.0.0.1:40000")
	coaSession = aaa.SessionSelector{AcctSessionID: "S1", Username: "alice", FramedIP: netip.MustParseAddr("100.64.0.7")}
)

func newCoA(t *testing.T) (*aaa.CoAServer, *fakeSessions) {
	t.Helper()
	h := &fakeSessions{sessions: []aaa.SessionSelector{coaSession}}
	s := aaa.NewCoAServer(nil, []aaa.DynamicClient{{Addr: netip.MustParsePrefix("127.0.0.0/8"), Secret: secret}}, h, nil)
	s.Now = func() time.Time { return coaNow }
	s.NASIdentifier = "lns1"
	s.NASIPAddress = netip.MustParseAddr("192.0.2.1")
	return s, h
}

func dynReq(t *testing.T, r aaa.DynamicRequest, extra ...*radius.AVP) []byte {
	t.Helper()
	r2 := r
	b, err := aaa.EncodeDynamicRequest(r2, 7, secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(extra) == 0 {
		return b
	}
	// Re-encode with extra attributes (and a correct authenticator).
	p, err := radius.Parse(b, secret)
	if err != nil {
		t.Fatal(err)
	}
	p.Attributes.Del(80)
	p.Attributes = append(p.Attributes, extra...)
	out, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type coaResult struct {
	Code  radius.Code
	Cause uint32
}

func decodeResp(t *testing.T, req, resp []byte) coaResult {
	t.Helper()
	if resp == nil {
		return coaResult{}
	}
	if !radius.IsAuthenticResponse(resp, req, secret) {
		t.Fatal("reply with a wrong Response Authenticator")
	}
	p, err := radius.Parse(resp, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Identifier != req[1] {
		t.Errorf("reply Identifier %d, request %d", p.Identifier, req[1])
	}
	cause, _ := radius.Integer(p.Get(101))
	return coaResult{Code: p.Code, Cause: cause}
}

func ptr[T any](v T) *T { return &v }

func TestCoAServer(t *testing.T) {
	tests := []struct {
		name        string
		req         aaa.DynamicRequest
		extra       []*radius.AVP
		want        coaResult
		wantDown    []aaa.SessionSelector
		wantChanges []aaa.Change
	}{
		{
			name:     "disconnect by Acct-Session-Id",
			req:      aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, EventTime: coaNow},
			want:     coaResult{Code: radius.CodeDisconnectACK},
			wantDown: []aaa.SessionSelector{coaSession},
		},
		{
			name:     "disconnect by User-Name",
			req:      aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{Username: "alice"}},
			want:     coaResult{Code: radius.CodeDisconnectACK},
			wantDown: []aaa.SessionSelector{coaSession},
		},
		{
			name:     "disconnect by Framed-IP-Address",
			req:      aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{FramedIP: coaSession.FramedIP}, NASIdentifier: "lns1"},
			want:     coaResult{Code: radius.CodeDisconnectACK},
			wantDown: []aaa.SessionSelector{coaSession},
		},
		{
			name: "unknown session NAKed with 503",
			req:  aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "nope"}},
			want: coaResult{Code: radius.CodeDisconnectNAK, Cause: 503},
		},
		{
			name:        "CoA rate limit from Filter-Id",
			req:         aaa.DynamicRequest{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, Change: aaa.Change{RateLimit: &aaa.RateLimit{DownKbps: 2048, UpKbps: 512}}},
			want:        coaResult{Code: radius.CodeCoAACK},
			wantChanges: []aaa.Change{{RateLimit: &aaa.RateLimit{DownKbps: 2048, UpKbps: 512}}},
		},
		{
			name:        "CoA rate limit from Mikrotik-Rate-Limit",
			req:         aaa.DynamicRequest{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}},
			extra:       []*radius.AVP{{Type: 26, Attribute: vsa(14988, 8, []byte("1M/4M"))}},
			want:        coaResult{Code: radius.CodeCoAACK},
			wantChanges: []aaa.Change{{RateLimit: &aaa.RateLimit{DownKbps: 4000, UpKbps: 1000}}},
		},
		{
			name:  "unknown vendor attribute NAKed with 401",
			req:   aaa.DynamicRequest{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, Change: aaa.Change{SessionTimeout: ptr(time.Minute)}},
			extra: []*radius.AVP{{Type: 26, Attribute: vsa(9, 1, []byte("x"))}},
			want:  coaResult{Code: radius.CodeCoANAK, Cause: 401},
		},
		{
			name:        "CoA Session-Timeout",
			req:         aaa.DynamicRequest{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{Username: "alice"}, Change: aaa.Change{SessionTimeout: ptr(10 * time.Minute)}},
			want:        coaResult{Code: radius.CodeCoAACK},
			wantChanges: []aaa.Change{{SessionTimeout: ptr(10 * time.Minute)}},
		},
		{
			name: "CoA on unknown session NAKed with 503",
			req:  aaa.DynamicRequest{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{Username: "bob"}, Change: aaa.Change{SessionTimeout: ptr(time.Minute)}},
			want: coaResult{Code: radius.CodeCoANAK, Cause: 503},
		},
		{
			name:  "unsupported attribute NAKed with 401",
			req:   aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}},
			extra: []*radius.AVP{{Type: 22, Attribute: radius.Attribute("10.0.0.0/8")}},
			want:  coaResult{Code: radius.CodeDisconnectNAK, Cause: 401},
		},
		{
			name:  "change attribute in a Disconnect-Request NAKed with 401",
			req:   aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}},
			extra: []*radius.AVP{{Type: 11, Attribute: radius.Attribute("1/1")}},
			want:  coaResult{Code: radius.CodeDisconnectNAK, Cause: 401},
		},
		{
			name: "no session identification NAKed with 402",
			req:  aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, NASIdentifier: "lns1"},
			want: coaResult{Code: radius.CodeDisconnectNAK, Cause: 402},
		},
		{
			name: "CoA without a change NAKed with 402",
			req:  aaa.DynamicRequest{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}},
			want: coaResult{Code: radius.CodeCoANAK, Cause: 402},
		},
		{
			name: "other NAS-Identifier NAKed with 403",
			req:  aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, NASIdentifier: "lns2"},
			want: coaResult{Code: radius.CodeDisconnectNAK, Cause: 403},
		},
		{
			name: "other NAS-IP-Address NAKed with 403",
			req:  aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, NASIPAddress: netip.MustParseAddr("192.0.2.99")},
			want: coaResult{Code: radius.CodeDisconnectNAK, Cause: 403},
		},
		{
			name:     "own NAS-IP-Address accepted",
			req:      aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, NASIPAddress: netip.MustParseAddr("192.0.2.1")},
			want:     coaResult{Code: radius.CodeDisconnectACK},
			wantDown: []aaa.SessionSelector{coaSession},
		},
		{
			name: "Authorize-Only NAKed with 405",
			req:  aaa.DynamicRequest{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, ServiceType: aaa.ServiceAuthorizeOnly},
			want: coaResult{Code: radius.CodeCoANAK, Cause: 405},
		},
		{
			name: "stale Event-Timestamp silently dropped",
			req:  aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, EventTime: coaNow.Add(-301 * time.Second)},
		},
		{
			name: "future Event-Timestamp silently dropped",
			req:  aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, EventTime: coaNow.Add(301 * time.Second)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, h := newCoA(t)
			if tc.req.EventTime.IsZero() {
				tc.req.EventTime = coaNow // required by default (RFC 5176 section 6.3)
			}
			b := dynReq(t, tc.req, tc.extra...)
			got := decodeResp(t, b, s.Handle(context.Background(), b, coaPeer))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("reply (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantDown, h.down, addrCmp); d != "" {
				t.Errorf("disconnected (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantChanges, h.changes); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
			st := s.Stats()
			if tc.want.Code == 0 && st.Stale != 1 {
				t.Errorf("dropped without counting: %+v", st)
			}
		})
	}
}

func TestCoAServerDrops(t *testing.T) {
	good := aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}}
	t.Run("wrong Request Authenticator", func(t *testing.T) {
		s, h := newCoA(t)
		b := dynReq(t, good)
		b[5] ^= 1
		if resp := s.Handle(context.Background(), b, coaPeer); resp != nil {
			t.Error("answered")
		}
		if st := s.Stats(); st.BadAuthenticator != 1 || h.calls != 0 {
			t.Errorf("stats %+v, handler calls %d", st, h.calls)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		s, _ := newCoA(t)
		b, _ := aaa.EncodeDynamicRequest(good, 1, []byte("other"))
		if resp := s.Handle(context.Background(), b, coaPeer); resp != nil {
			t.Error("answered")
		}
		if st := s.Stats(); st.BadAuthenticator != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		s, h := newCoA(t)
		b := dynReq(t, good)
		if resp := s.Handle(context.Background(), b, netip.MustParseAddrPort("192.0.2.99:3799")); resp != nil {
			t.Error("answered")
		}
		if st := s.Stats(); st.UnknownClient != 1 || h.calls != 0 {
			t.Errorf("stats %+v, handler calls %d", st, h.calls)
		}
	})
	t.Run("wrong Message-Authenticator", func(t *testing.T) {
		s, _ := newCoA(t)
		// Message-Authenticator of zeros, Request Authenticator right.
		b := dynReq(t, good, &radius.AVP{Type: 80, Attribute: make(radius.Attribute, 16)})
		if resp := s.Handle(context.Background(), b, coaPeer); resp != nil {
			t.Error("answered")
		}
		if st := s.Stats(); st.BadMessageAuthenticator != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("access request on the CoA port", func(t *testing.T) {
		s, _ := newCoA(t)
		p := radius.New(radius.CodeAccessRequest, secret)
		b, _ := p.Encode()
		if resp := s.Handle(context.Background(), b, coaPeer); resp != nil {
			t.Error("answered")
		}
		if st := s.Stats(); st.Unexpected != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	for _, b := range [][]byte{nil, {40}, {40, 1, 0, 19, 0}, {40, 1, 0xff, 0xff}} {
		s, _ := newCoA(t)
		if resp := s.Handle(context.Background(), b, coaPeer); resp != nil {
			t.Errorf("%x answered", b)
		}
		if st := s.Stats(); st.Malformed != 1 {
			t.Errorf("%x: stats %+v", b, st)
		}
	}
}

func TestCoAServerMessageAuthenticatorAndDuplicates(t *testing.T) {
	s, h := newCoA(t)
	req := aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, EventTime: coaNow}
	b := dynReq(t, req, &radius.AVP{Type: 33, Attribute: radius.Attribute("proxy-1")})
	// dynReq with extras drops the Message-Authenticator; use the plain
	// encoder for the MA case.
	withMA := dynReq(t, req)
	resp := s.Handle(context.Background(), withMA, coaPeer)
	if got := decodeResp(t, withMA, resp); got.Code != radius.CodeDisconnectACK {
		t.Fatalf("reply %v", got)
	}
	// The reply carries a Message-Authenticator over the Request
	// Authenticator (RFC 3579 section 3.2).
	c := append([]byte(nil), resp...)
	copy(c[4:20], withMA[4:20])
	var ma []byte
	for i := 20; i+2 <= len(c); i += int(c[i+1]) {
		if c[i] == 80 {
			ma = append([]byte(nil), c[i+2:i+18]...)
			clear(c[i+2 : i+18])
		}
	}
	m := hmac.New(md5.New, secret)
	m.Write(c)
	if ma == nil || !hmac.Equal(m.Sum(nil), ma) {
		t.Error("reply without a valid Message-Authenticator")
	}
	// A retransmission gets the same answer without acting twice.
	again := s.Handle(context.Background(), withMA, coaPeer)
	if string(again) != string(resp) || h.calls != 1 || s.Stats().Duplicates != 1 {
		t.Errorf("duplicate: same reply %v, handler calls %d, stats %+v", string(again) == string(resp), h.calls, s.Stats())
	}
	// Proxy-State is echoed.
	resp = s.Handle(context.Background(), b, coaPeer)
	p, err := radius.Parse(resp, secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Get(33)); got != "proxy-1" {
		t.Errorf("Proxy-State %q, want echoed", got)
	}
}

func TestCoAServerRun(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := &fakeSessions{sessions: []aaa.SessionSelector{coaSession}}
	s := aaa.NewCoAServer(conn, []aaa.DynamicClient{{Addr: netip.MustParsePrefix("127.0.0.1/32"), Secret: secret}}, h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	c, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := dynReq(t, aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{Username: "alice"}, EventTime: time.Now()})
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeResp(t, req, buf[:n]); got.Code != radius.CodeDisconnectACK {
		t.Errorf("reply %v", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestDynamicRequestIPv6Selector: a Disconnect- or CoA-Request can name a
// session by Framed-IPv6-Prefix or Delegated-IPv6-Prefix (RFC 5176
// section 3), in the layout of RFC 3162 section 2.3.
func TestDynamicRequestIPv6Selector(t *testing.T) {
	r, err := aaa.ParseDynamicRequest(radius.CodeDisconnectRequest, radius.Attributes{
		{Type: 123, Attribute: radius.Attribute{0, 56, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0x00, 0x00}},
		{Type: 97, Attribute: radius.Attribute{0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Selector.DelegatedPrefix != netip.MustParsePrefix("2001:db8:ff00::/56") || r.Selector.IPv6Prefix != netip.MustParsePrefix("2001:db8:1:2::/64") || r.Selector.IsZero() {
		t.Errorf("selector %+v", r.Selector)
	}
	if _, err := aaa.ParseDynamicRequest(radius.CodeDisconnectRequest, radius.Attributes{{Type: 123, Attribute: radius.Attribute{0, 64, 0x20}}}); err == nil {
		t.Error("a Delegated-IPv6-Prefix shorter than its length was accepted")
	}
}

func FuzzParseDynamicRequest(f *testing.F) {
	for _, r := range []aaa.DynamicRequest{
		{Code: radius.CodeDisconnectRequest, Selector: coaSession, NASIdentifier: "lns1", NASIPAddress: netip.MustParseAddr("192.0.2.1"), EventTime: coaNow},
		{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{Username: "u"}, Change: aaa.Change{RateLimit: &aaa.RateLimit{DownKbps: 1, UpKbps: 2}, SessionTimeout: ptr(time.Hour), IdleTimeout: ptr(time.Minute)}, State: []byte{1}},
		{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{IPv6Prefix: netip.MustParsePrefix("2001:db8:1:2::/64"), DelegatedPrefix: netip.MustParsePrefix("2001:db8:ff00::/56")}, EventTime: coaNow},
	} {
		b, err := aaa.EncodeDynamicRequest(r, 1, secret)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The whole server path must not panic on anything.
		s, _ := newCoA(t)
		_ = s.Handle(context.Background(), b, coaPeer)

		if len(b) < 20 {
			return
		}
		attrs, err := radius.ParseAttributes(b[20:])
		if err != nil {
			return
		}
		code := radius.CodeDisconnectRequest
		if b[0]&1 == 1 {
			code = radius.CodeCoARequest
		}
		r1, err := aaa.ParseDynamicRequest(code, attrs)
		if err != nil {
			return
		}
		r1.Unsupported = nil // not re-encoded
		r2, err := aaa.ParseDynamicRequest(code, r1.AppendAttributes(nil))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if r1.Change.RateLimit != nil && r2.Change.RateLimit == nil {
			t.Fatal("rate limit lost")
		}
		if d := cmp.Diff(r1, r2, addrCmp); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

// TestCoAServerReplay checks the replay protection of RFC 5176 section
// 6.3: a request is remembered by client address, Identifier and Request
// Authenticator for the Event-Timestamp window, whatever its source port.
func TestCoAServerReplay(t *testing.T) {
	disconnect := aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, EventTime: coaNow}
	otherPort := netip.AddrPortFrom(coaPeer.Addr(), coaPeer.Port()+1)
	type step struct {
		after time.Duration // clock advance before sending
		from  netip.AddrPort
		want  coaResult
	}
	tests := []struct {
		name      string
		steps     []step
		wantCalls int
		wantStats aaa.CoAStats
	}{
		{
			name:      "replay from another port dropped",
			steps:     []step{{0, coaPeer, coaResult{Code: radius.CodeDisconnectACK}}, {time.Second, otherPort, coaResult{}}},
			wantCalls: 1,
			wantStats: aaa.CoAStats{Replayed: 1},
		},
		{
			name:      "replay 60 s later from another port dropped",
			steps:     []step{{0, coaPeer, coaResult{Code: radius.CodeDisconnectACK}}, {60 * time.Second, otherPort, coaResult{}}},
			wantCalls: 1,
			wantStats: aaa.CoAStats{Replayed: 1},
		},
		{
			name:      "replay 60 s later from the same port answered from the cache, not acted on",
			steps:     []step{{0, coaPeer, coaResult{Code: radius.CodeDisconnectACK}}, {60 * time.Second, coaPeer, coaResult{Code: radius.CodeDisconnectACK}}},
			wantCalls: 1,
			wantStats: aaa.CoAStats{Duplicates: 1},
		},
		{
			name:      "replay after the window dropped by its Event-Timestamp",
			steps:     []step{{0, coaPeer, coaResult{Code: radius.CodeDisconnectACK}}, {301 * time.Second, otherPort, coaResult{}}},
			wantCalls: 1,
			wantStats: aaa.CoAStats{Stale: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, h := newCoA(t)
			now := coaNow
			s.Now = func() time.Time { return now }
			b := dynReq(t, disconnect)
			for i, st := range tc.steps {
				now = now.Add(st.after)
				if got := decodeResp(t, b, s.Handle(context.Background(), b, st.from)); got != st.want {
					t.Errorf("request %d from %v: reply %+v, want %+v", i, st.from, got, st.want)
				}
			}
			if h.calls != tc.wantCalls {
				t.Errorf("handler called %d times, want %d", h.calls, tc.wantCalls)
			}
			st := s.Stats()
			got := aaa.CoAStats{Replayed: st.Replayed, Stale: st.Stale, Duplicates: st.Duplicates, NoTimestamp: st.NoTimestamp}
			if d := cmp.Diff(tc.wantStats, got); d != "" {
				t.Errorf("stats (-want +got):\n%s", d)
			}
		})
	}

	t.Run("without Event-Timestamp NAKed with 402", func(t *testing.T) {
		s, h := newCoA(t)
		req := disconnect
		req.EventTime = time.Time{}
		b := dynReq(t, req)
		got := decodeResp(t, b, s.Handle(context.Background(), b, coaPeer))
		if want := (coaResult{Code: radius.CodeDisconnectNAK, Cause: 402}); got != want {
			t.Errorf("reply %+v, want %+v", got, want)
		}
		if h.calls != 0 || s.Stats().NoTimestamp != 1 {
			t.Errorf("handler calls %d, stats %+v", h.calls, s.Stats())
		}
	})
	t.Run("without Event-Timestamp accepted when not required", func(t *testing.T) {
		s, h := newCoA(t)
		s.RequireEventTimestamp = false
		req := disconnect
		req.EventTime = time.Time{}
		b := dynReq(t, req)
		got := decodeResp(t, b, s.Handle(context.Background(), b, coaPeer))
		if want := (coaResult{Code: radius.CodeDisconnectACK}); got != want || h.calls != 1 {
			t.Errorf("reply %+v, want %+v; handler calls %d", got, want, h.calls)
		}
		// Still refused when replayed from another port within the window.
		if resp := s.Handle(context.Background(), b, otherPort); resp != nil || h.calls != 1 {
			t.Errorf("replay answered %v, handler calls %d", resp != nil, h.calls)
		}
	})
	t.Run("full cache NAKed with 506", func(t *testing.T) {
		s, h := newCoA(t)
		for i := range aaa.DefaultMaxSeen {
			req := disconnect
			req.Selector.AcctSessionID = fmt.Sprintf("X%d", i) // a distinct Request Authenticator each
			b := dynReq(t, req)
			if got := decodeResp(t, b, s.Handle(context.Background(), b, coaPeer)); got.Code != radius.CodeDisconnectNAK || got.Cause != 503 {
				t.Fatalf("request %d: reply %+v, want a NAK 503", i, got)
			}
		}
		b := dynReq(t, disconnect)
		got := decodeResp(t, b, s.Handle(context.Background(), b, coaPeer))
		if want := (coaResult{Code: radius.CodeDisconnectNAK, Cause: 506}); got != want {
			t.Errorf("reply %+v, want %+v", got, want)
		}
		if st := s.Stats(); st.CacheFull != 1 || len(h.down) != 0 {
			t.Errorf("stats %+v, disconnected %v", st, h.down)
		}
	})
}
