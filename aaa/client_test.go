package aaa_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/aaa/aaatest"
	"github.com/google/go-cmp/cmp"
	"layeh.com/radius"
)

var secret = []byte("testing123")

// testTimeout is the per-transmission timeout of the unit tests: long
// enough that a loaded CI machine answers within it.
const testTimeout = 250 * time.Millisecond

// addrCmp compares netip.Addr, whose fields are unexported.
var addrCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func u32(v uint32) radius.Attribute { return radius.NewInteger(v) }

func vsa(vendor uint32, typ uint8, val []byte) radius.Attribute {
	b := make([]byte, 6, 6+len(val))
	binary.BigEndian.PutUint32(b, vendor)
	b[4], b[5] = typ, byte(2+len(val))
	return append(b, val...)
}

func newClient(t *testing.T, servers ...*aaatest.Server) *aaa.Client {
	t.Helper()
	return newClientCfg(t, aaa.ClientConfig{}, servers...)
}

func newClientCfg(t *testing.T, cfg aaa.ClientConfig, servers ...*aaatest.Server) *aaa.Client {
	t.Helper()
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, aaa.Server{Addr: s.Addr, Secret: s.Secret})
		cfg.AcctServers = append(cfg.AcctServers, aaa.Server{Addr: s.Addr, Secret: s.Secret})
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = 1
	}
	if cfg.NASIdentifier == "" {
		cfg.NASIdentifier = "lns1"
	}
	cfg.NASIPAddress = netip.MustParseAddr("192.0.2.1")
	c, err := aaa.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func accept(req *radius.Packet) *radius.Packet {
	return req.Response(radius.CodeAccessAccept)
}

// validMA checks the Message-Authenticator of a raw request (RFC 3579
// section 3.2); zeroAuth for Accounting/CoA/Disconnect requests.
func validMA(t *testing.T, b []byte, zeroAuth bool) {
	t.Helper()
	c := append([]byte(nil), b...)
	if zeroAuth {
		clear(c[4:20])
	}
	var got []byte
	for i := 20; i+2 <= len(c); i += int(c[i+1]) {
		if c[i] == 80 && c[i+1] == 18 {
			got = append([]byte(nil), c[i+2:i+18]...)
			clear(c[i+2 : i+18])
		}
		if c[i+1] < 2 {
			break
		}
	}
	if got == nil {
		t.Fatal("request without Message-Authenticator")
	}
	m := hmac.New(md5.New, secret)
	m.Write(c)
	if !hmac.Equal(m.Sum(nil), got) {
		t.Fatal("request with a wrong Message-Authenticator")
	}
}

func TestPAPAcceptReplyAttributes(t *testing.T) {
	gotPW := make(chan []byte, 1)
	srv := aaatest.New(t, secret, func(req *radius.Packet) *radius.Packet {
		pw, _ := radius.UserPassword(req.Get(2), secret, req.Authenticator[:])
		select {
		case gotPW <- pw:
		default: // a retransmission
		}
		r := accept(req)
		r.Add(8, radius.Attribute{100, 64, 0, 7})            // Framed-IP-Address
		r.Add(9, radius.Attribute{255, 255, 255, 255})       // Framed-IP-Netmask
		r.Add(88, radius.Attribute("pool-a"))                // Framed-Pool
		r.Add(27, u32(3600))                                 // Session-Timeout
		r.Add(28, u32(600))                                  // Idle-Timeout
		r.Add(85, u32(300))                                  // Acct-Interim-Interval
		r.Add(25, radius.Attribute("class-1"))               // Class
		r.Add(25, radius.Attribute{0, 1, 2})                 // Class, binary
		r.Add(22, radius.Attribute("10.1.0.0/24 0.0.0.0 1")) // Framed-Route
		r.Add(11, radius.Attribute("10240/2048"))            // Filter-Id, accel-ppp rate
		r.Add(26, vsa(311, 28, []byte{8, 8, 8, 8}))          // MS-Primary-DNS-Server
		r.Add(26, vsa(311, 29, []byte{1, 1, 1, 1}))          // MS-Secondary-DNS-Server
		r.Add(26, vsa(9999, 1, []byte("x")))                 // unknown vendor: ignored
		r.Add(241, radius.Attribute{1, 2, 3})                // unknown attribute: ignored
		return r
	})
	c := newClient(t, srv)
	reply, err := c.Authenticate(context.Background(), aaa.AuthRequest{
		Username: "alice", PAPPassword: []byte("a long password of more than 16 bytes"),
		NASPort: 7, CallingStationID: "02:00:00:00:00:01", AcctSessionID: "S1",
		Tunnel: &aaa.TunnelInfo{ClientEndpoint: "192.0.2.10", ServerEndpoint: "192.0.2.1", ClientAuthID: "lac1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &aaa.AuthReply{
		Accept:          true,
		FramedIP:        netip.MustParseAddr("100.64.0.7"),
		FramedNetmask:   netip.MustParseAddr("255.255.255.255"),
		FramedPool:      "pool-a",
		DNS:             []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("1.1.1.1")},
		SessionTimeout:  time.Hour,
		IdleTimeout:     10 * time.Minute,
		InterimInterval: 5 * time.Minute,
		Class:           [][]byte{[]byte("class-1"), {0, 1, 2}},
		FramedRoutes:    []string{"10.1.0.0/24 0.0.0.0 1"},
		RateLimit:       aaa.RateLimit{DownKbps: 10240, UpKbps: 2048},
		FilterID:        "10240/2048",
	}
	if d := cmp.Diff(want, reply, addrCmp); d != "" {
		t.Errorf("reply (-want +got):\n%s", d)
	}
	if pw := <-gotPW; string(pw) != "a long password of more than 16 bytes" {
		t.Errorf("server decrypted User-Password %q", pw)
	}
	// What the server saw: the RFC 2865 attributes a BRAS sends.
	req := srv.Requests()[0]
	checks := []struct {
		name string
		typ  radius.Type
		want radius.Attribute
	}{
		{"User-Name", 1, radius.Attribute("alice")},
		{"NAS-IP-Address", 4, radius.Attribute{192, 0, 2, 1}},
		{"NAS-Port", 5, u32(7)},
		{"Service-Type Framed-User", 6, u32(2)},
		{"Framed-Protocol PPP", 7, u32(1)},
		{"Calling-Station-Id", 31, radius.Attribute("02:00:00:00:00:01")},
		{"NAS-Identifier", 32, radius.Attribute("lns1")},
		{"Acct-Session-Id", 44, radius.Attribute("S1")},
		{"NAS-Port-Type Virtual", 61, u32(5)},
		{"Tunnel-Type L2TP", 64, radius.Attribute{0, 0, 0, 3}},
		{"Tunnel-Medium-Type IPv4", 65, radius.Attribute{0, 0, 0, 1}},
		{"Tunnel-Client-Endpoint", 66, radius.Attribute("192.0.2.10")},
		{"Tunnel-Server-Endpoint", 67, radius.Attribute("192.0.2.1")},
		{"Tunnel-Client-Auth-ID", 90, radius.Attribute("lac1")},
	}
	for _, ck := range checks {
		if got := req.Get(ck.typ); !bytes.Equal(got, ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, got, ck.want)
		}
	}
	validMA(t, srv.Raw()[0], false)
}

func TestCHAP(t *testing.T) {
	srv := aaatest.New(t, secret, func(req *radius.Packet) *radius.Packet {
		cp, ch := req.Get(3), req.Get(60)
		if len(cp) != 17 {
			return req.Response(radius.CodeAccessReject)
		}
		h := md5.New() // RFC 1994 section 4.1: MD5(Identifier || secret || challenge)
		h.Write(cp[:1])
		h.Write([]byte("chap-pass"))
		h.Write(ch)
		if !bytes.Equal(h.Sum(nil), cp[1:]) {
			r := req.Response(radius.CodeAccessReject)
			r.Add(18, radius.Attribute("bad password"))
			return r
		}
		return accept(req)
	})
	c := newClient(t, srv)
	challenge := []byte("0123456789abcdef0123")
	resp := func(pw string) []byte {
		h := md5.New()
		h.Write([]byte{42})
		h.Write([]byte(pw))
		h.Write(challenge)
		return h.Sum(nil)
	}
	for _, tc := range []struct {
		name, pw string
		want     aaa.AuthReply
	}{
		{"right", "chap-pass", aaa.AuthReply{Accept: true}},
		{"wrong", "guess", aaa.AuthReply{ReplyMessage: "bad password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Authenticate(context.Background(), aaa.AuthRequest{
				Username: "bob", CHAPID: 42, CHAPChallenge: challenge, CHAPResponse: resp(tc.pw),
			})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(&tc.want, got, addrCmp); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestMessageAuthenticatorPolicy(t *testing.T) {
	pap := aaa.AuthRequest{Username: "u", PAPPassword: []byte("p")}
	tests := []struct {
		name   string
		policy aaa.MAPolicy
		modes  []aaatest.Mode // answers, one request each
		wantOK []bool
	}{
		{"auto/absent is accepted (FreeRADIUS 3.2.1 default)", aaa.MAAuto, []aaatest.Mode{aaatest.Normal, aaatest.Normal}, []bool{true, true}},
		{"auto/required once seen", aaa.MAAuto, []aaatest.Mode{aaatest.WithMA, aaatest.Normal, aaatest.WithMA}, []bool{true, false, true}},
		{"auto/wrong is dropped", aaa.MAAuto, []aaatest.Mode{aaatest.WrongMA}, []bool{false}},
		{"never/absent accepted", aaa.MANever, []aaatest.Mode{aaatest.WithMA, aaatest.Normal}, []bool{true, true}},
		{"never/wrong still dropped", aaa.MANever, []aaatest.Mode{aaatest.WrongMA}, []bool{false}},
		{"always/absent dropped", aaa.MAAlways, []aaatest.Mode{aaatest.Normal}, []bool{false}},
		{"always/present accepted", aaa.MAAlways, []aaatest.Mode{aaatest.WithMA}, []bool{true}},
		{"wrong response authenticator dropped", aaa.MANever, []aaatest.Mode{aaatest.WrongAuth}, []bool{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := aaatest.New(t, secret, accept)
			c, err := aaa.NewClient(aaa.ClientConfig{
				Servers:       []aaa.Server{{Addr: srv.Addr, Secret: secret, RequireMessageAuthenticator: tc.policy}},
				Timeout:       testTimeout,
				Retries:       1,
				NASIdentifier: "lns1",
			})
			if err != nil {
				t.Fatal(err)
			}
			var drops uint64
			for i, m := range tc.modes {
				srv.SetMode(m)
				_, err := c.Authenticate(context.Background(), pap)
				if ok := err == nil; ok != tc.wantOK[i] {
					t.Fatalf("request %d with mode %d: err %v, want ok=%v", i, m, err, tc.wantOK[i])
				}
				if err != nil {
					if !errors.Is(err, aaa.ErrTimeout) {
						t.Fatalf("request %d: err %v, want ErrTimeout", i, err)
					}
					drops++ // each transmission answered and dropped; the last answer may come late
				}
			}
			st := c.Stats()
			if got := st.BadAuthenticator + st.BadMessageAuthenticator + st.MissingMessageAuthenticator; got < drops || got > 2*drops {
				t.Errorf("dropped-response counters %d, want %d to %d (%+v)", got, drops, 2*drops, st)
			}
		})
	}
}

func TestFailoverAndHoldDown(t *testing.T) {
	dead := aaatest.New(t, secret, accept)
	dead.SetMode(aaatest.Silent)
	live := aaatest.New(t, secret, accept)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	c := newClientCfg(t, aaa.ClientConfig{
		DeadTime: 30 * time.Second,
		Now:      func() time.Time { return time.Unix(0, now.Load()) },
	}, dead, live)
	pap := aaa.AuthRequest{Username: "u", PAPPassword: []byte("p")}

	if _, err := c.Authenticate(context.Background(), pap); err != nil {
		t.Fatal(err)
	}
	if got := len(dead.Requests()); got != 2 {
		t.Errorf("first server got %d transmissions, want 1+Retries = 2", got)
	}
	if got := len(live.Requests()); got != 1 {
		t.Errorf("second server got %d requests, want 1", got)
	}
	// Held down: the next request goes straight to the live server.
	if _, err := c.Authenticate(context.Background(), pap); err != nil {
		t.Fatal(err)
	}
	if got := len(dead.Requests()); got != 2 {
		t.Errorf("held-down server got %d transmissions, want still 2", got)
	}
	// After the hold-down it is tried again first.
	now.Add(int64(31 * time.Second))
	dead.SetMode(aaatest.Normal)
	if _, err := c.Authenticate(context.Background(), pap); err != nil {
		t.Fatal(err)
	}
	if got := len(dead.Requests()); got != 3 {
		t.Errorf("after hold-down first server got %d transmissions, want 3", got)
	}
	if got := len(live.Requests()); got != 2 {
		t.Errorf("second server got %d requests, want 2", got)
	}
	st := c.Stats()
	if st.Failovers != 1 || st.Timeouts != 1 || st.DeadSkips != 1 || st.Accepts != 3 {
		t.Errorf("stats %+v, want 1 failover, 1 timeout, 1 dead skip, 3 accepts", st)
	}
}

func TestAllServersDown(t *testing.T) {
	a := aaatest.New(t, secret, accept)
	a.SetMode(aaatest.Silent)
	b := aaatest.New(t, secret, accept)
	b.SetMode(aaatest.Silent)
	c := newClient(t, a, b)
	start := time.Now()
	_, err := c.Authenticate(context.Background(), aaa.AuthRequest{Username: "u", PAPPassword: []byte("p")})
	if !errors.Is(err, aaa.ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el < 4*testTimeout {
		t.Errorf("gave up after %v, want 2 servers x 2 tries x %v", el, testTimeout)
	}
	// Both held down: still tried rather than refusing every subscriber.
	_, err = c.Authenticate(context.Background(), aaa.AuthRequest{Username: "u", PAPPassword: []byte("p")})
	if !errors.Is(err, aaa.ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	if got := len(a.Requests()) + len(b.Requests()); got != 8 {
		t.Errorf("servers got %d transmissions, want 8", got)
	}
}

func TestContextCancel(t *testing.T) {
	a := aaatest.New(t, secret, accept)
	a.SetMode(aaatest.Silent)
	c := newClientCfg(t, aaa.ClientConfig{Timeout: 10 * time.Second}, a)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Authenticate(ctx, aaa.AuthRequest{Username: "u", PAPPassword: []byte("p")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("cancel did not release the blocked read")
	}
}

func TestMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	srv := aaatest.New(t, secret, func(req *radius.Packet) *radius.Packet {
		<-release
		return accept(req)
	})
	c := newClientCfg(t, aaa.ClientConfig{MaxInFlight: 1, Timeout: 5 * time.Second}, srv)
	done := make(chan error)
	go func() {
		_, err := c.Authenticate(context.Background(), aaa.AuthRequest{Username: "u", PAPPassword: []byte("p")})
		done <- err
	}()
	for len(srv.Requests()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Authenticate(ctx, aaa.AuthRequest{Username: "u2", PAPPassword: []byte("p")})
	if !errors.Is(err, aaa.ErrBusy) {
		t.Errorf("second request: err %v, want ErrBusy", err)
	}
	if got := len(srv.Requests()); got != 1 {
		t.Errorf("server saw %d requests while the bound was 1", got)
	}
	once.Do(func() { close(release) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestAccounting(t *testing.T) {
	var n atomic.Int32
	srv := aaatest.New(t, secret, func(req *radius.Packet) *radius.Packet {
		if n.Add(1) == 1 {
			return nil // lose the first answer: the client must retransmit
		}
		return req.Response(radius.CodeAccountingResponse)
	})
	clock := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	var mu sync.Mutex
	c := newClientCfg(t, aaa.ClientConfig{Timeout: testTimeout, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second) // every reading moves one second on
		return clock
	}}, srv)
	err := c.Account(context.Background(), aaa.AcctRequest{
		Status: aaa.AcctStop, SessionID: "S1", Username: "alice",
		FramedIP: netip.MustParseAddr("100.64.0.7"), NASPort: 7,
		InOctets: 5<<32 + 1000, OutOctets: 7<<32 + 2000, InPackets: 10, OutPackets: 20,
		SessionTime: 90 * time.Second, Cause: aaa.IdleTimeout,
		Class: [][]byte{[]byte("class-1")}, EventTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		InterfaceID: 0x021122fffe334455,
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs, raw := srv.Requests(), srv.Raw()
	if len(reqs) != 2 {
		t.Fatalf("server got %d requests, want 2", len(reqs))
	}
	if reqs[0].Identifier == reqs[1].Identifier {
		t.Error("retransmission with a new Acct-Delay-Time kept its Identifier")
	}
	d0, _ := radius.Integer(reqs[0].Get(41))
	d1, _ := radius.Integer(reqs[1].Get(41))
	if d0 < 10 || d1 <= d0 {
		t.Errorf("Acct-Delay-Time %d then %d: want >= 10 and growing", d0, d1)
	}
	for i, b := range raw {
		if !radius.IsAuthenticRequest(b, secret) {
			t.Errorf("request %d: wrong Request Authenticator (RFC 2866 section 3)", i)
		}
		validMA(t, b, true)
	}
	r := reqs[1]
	checks := []struct {
		name string
		typ  radius.Type
		want radius.Attribute
	}{
		{"Acct-Status-Type Stop", 40, u32(2)},
		{"Acct-Session-Id", 44, radius.Attribute("S1")},
		{"Acct-Input-Octets", 42, u32(1000)},
		{"Acct-Input-Gigawords", 52, u32(5)},
		{"Acct-Output-Octets", 43, u32(2000)},
		{"Acct-Output-Gigawords", 53, u32(7)},
		{"Acct-Input-Packets", 47, u32(10)},
		{"Acct-Output-Packets", 48, u32(20)},
		{"Acct-Session-Time", 46, u32(90)},
		{"Acct-Terminate-Cause", 49, u32(4)},
		{"Class", 25, radius.Attribute("class-1")},
		{"Framed-IP-Address", 8, radius.Attribute{100, 64, 0, 7}},
		{"Framed-Interface-Id (RFC 3162 section 2.1)", 96, radius.Attribute{0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}},
		{"Event-Timestamp", 55, u32(uint32(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()))},
	}
	for _, ck := range checks {
		if got := r.Get(ck.typ); !bytes.Equal(got, ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, got, ck.want)
		}
	}
	if st := c.Stats(); st.AcctResponses != 1 || st.Retransmits != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestAccountingOnOff(t *testing.T) {
	srv := aaatest.New(t, secret, func(req *radius.Packet) *radius.Packet {
		return req.Response(radius.CodeAccountingResponse)
	})
	c := newClient(t, srv)
	for _, st := range []aaa.AcctStatus{aaa.AcctOn, aaa.AcctOff} {
		if err := c.Account(context.Background(), aaa.AcctRequest{Status: st}); err != nil {
			t.Fatalf("%v: %v", st, err)
		}
	}
	for i, want := range []uint32{7, 8} {
		r := srv.Requests()[i]
		if got, _ := radius.Integer(r.Get(40)); got != want {
			t.Errorf("request %d Acct-Status-Type %d, want %d", i, got, want)
		}
		if r.Get(32) == nil {
			t.Errorf("request %d without NAS-Identifier", i)
		}
	}
}

func TestNewClientRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  aaa.ClientConfig
	}{
		{"no NAS identity", aaa.ClientConfig{Servers: []aaa.Server{{Addr: "127.0.0.1:1812", Secret: secret}}}},
		{"no port", aaa.ClientConfig{NASIdentifier: "x", Servers: []aaa.Server{{Addr: "127.0.0.1", Secret: secret}}}},
		{"no secret", aaa.ClientConfig{NASIdentifier: "x", Servers: []aaa.Server{{Addr: "127.0.0.1:1812"}}}},
		{"IPv6 NAS-IP-Address", aaa.ClientConfig{NASIPAddress: netip.MustParseAddr("::1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := aaa.NewClient(tc.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestAccountingFailover(t *testing.T) {
	down := aaatest.New(t, secret, nil)
	down.SetMode(aaatest.Silent)
	up := aaatest.New(t, secret, func(req *radius.Packet) *radius.Packet {
		return req.Response(radius.CodeAccountingResponse)
	})
	c := newClient(t, down, up)
	if err := c.Account(context.Background(), aaa.AcctRequest{Status: aaa.AcctStart, SessionID: "S2"}); err != nil {
		t.Fatal(err)
	}
	if len(down.Requests()) != 2 || len(up.Requests()) != 1 {
		t.Errorf("transmissions: %d to the dead server, %d to the live one; want 2 and 1", len(down.Requests()), len(up.Requests()))
	}
	if got, _ := radius.Integer(up.Requests()[0].Get(41)); got > 1 {
		t.Errorf("Acct-Delay-Time %d after a 200 ms failover", got)
	}
}

func TestAAATestUsers(t *testing.T) {
	reply := aaa.AuthReply{FramedIP: netip.MustParseAddr("100.64.3.3"), SessionTimeout: time.Minute, RateLimit: aaa.RateLimit{DownKbps: 1000, UpKbps: 100}, FilterID: "1000/100"}
	srv := aaatest.New(t, secret, aaatest.Users(map[string]aaatest.User{"carol": {Password: "cpw", Reply: reply}}))
	c := newClient(t, srv)
	chal := []byte("0123456789abcdef")
	h := md5.New()
	h.Write([]byte{5})
	h.Write([]byte("cpw"))
	h.Write(chal)
	for _, tc := range []struct {
		name string
		req  aaa.AuthRequest
		want bool
	}{
		{"PAP", aaa.AuthRequest{Username: "carol", PAPPassword: []byte("cpw")}, true},
		{"PAP wrong", aaa.AuthRequest{Username: "carol", PAPPassword: []byte("x")}, false},
		{"CHAP", aaa.AuthRequest{Username: "carol", CHAPID: 5, CHAPChallenge: chal, CHAPResponse: h.Sum(nil)}, true},
		{"unknown", aaa.AuthRequest{Username: "dave", PAPPassword: []byte("cpw")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Authenticate(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			want := &aaa.AuthReply{}
			if tc.want {
				want = &reply
				want.Accept = true
			}
			if d := cmp.Diff(want, got, addrCmp); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	if err := c.Account(context.Background(), aaa.AcctRequest{Status: aaa.AcctStart, SessionID: "x"}); err != nil {
		t.Error(err)
	}
}

// countHandler counts log records at warning level and above.
type countHandler struct{ warns atomic.Int32 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.warns.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func TestBadResponsesLoggedOnce(t *testing.T) {
	srv := aaatest.New(t, secret, accept)
	srv.SetMode(aaatest.WrongAuth)
	h := &countHandler{}
	c := newClientCfg(t, aaa.ClientConfig{Logger: slog.New(h)}, srv)
	for range 3 {
		if _, err := c.Authenticate(context.Background(), aaa.AuthRequest{Username: "u", PAPPassword: []byte("p")}); err == nil {
			t.Fatal("accepted a response with a wrong authenticator")
		}
	}
	// One warning for the wrong authenticator, one for the hold-down.
	if got := h.warns.Load(); got != 2 {
		t.Errorf("%d warnings for 3 requests answered with a wrong authenticator, want 2", got)
	}
	if st := c.Stats(); st.BadAuthenticator < 3 {
		t.Errorf("stats %+v", st)
	}
}
