package aaa_test

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// The users of the real FreeRADIUS (Debian's freeradius 3.2.x).
var radiusUsers = []testenv.RadiusUser{
	{Name: "alice", Password: "alice-pw", Reply: []testenv.RadiusAttr{
		{Name: "Framed-IP-Address", Value: "100.64.0.7"},
		{Name: "Framed-IP-Netmask", Value: "255.255.255.255"},
		{Name: "Session-Timeout", Value: "7200"},
		{Name: "Idle-Timeout", Value: "900"},
		{Name: "Acct-Interim-Interval", Value: "300"},
		{Name: "Filter-Id", Value: "20480/5120"},
		{Name: "Class", Value: "plan-gold"},
		{Name: "Framed-Route", Value: "10.10.0.0/24 0.0.0.0 1"},
		{Name: "MS-Primary-DNS-Server", Value: "192.0.2.53"},
		{Name: "MS-Secondary-DNS-Server", Value: "192.0.2.54"},
	}},
	{Name: "carol", Password: "carol-pw", Reply: []testenv.RadiusAttr{
		// A dual-stack subscriber (RFC 3162, RFC 4818, RFC 6911).
		{Name: "Framed-Interface-Id", Value: "0200:0000:0000:0007"},
		{Name: "Framed-IPv6-Prefix", Value: "2001:db8:1:2::/64"},
		{Name: "Delegated-IPv6-Prefix", Value: "2001:db8:ff00::/56"},
		{Name: "Framed-IPv6-Address", Value: "2001:db8:1:2::7"},
		{Name: "DNS-Server-IPv6-Address", Value: "2001:db8::53"},
		{Name: "Framed-IPv6-Pool", Value: "v6-slaac"},
		{Name: "Delegated-IPv6-Prefix-Pool", Value: "v6-pd"},
		{Name: "Framed-IPv6-Route", Value: "2001:db8:7::/48 :: 1"},
	}},
	{Name: "bob@isp.example", Password: "bob-pw", Reply: []testenv.RadiusAttr{
		{Name: "Framed-Pool", Value: "pool-b"},
		// Two tunnels; tag 2 is preferred.
		{Name: "Tunnel-Type", Tag: 1, Value: "L2TP"},
		{Name: "Tunnel-Medium-Type", Tag: 1, Value: "IPv4"},
		{Name: "Tunnel-Server-Endpoint", Tag: 1, Value: "198.51.100.1"},
		{Name: "Tunnel-Password", Tag: 1, Value: "first-tunnel-secret"},
		{Name: "Tunnel-Preference", Tag: 1, Value: "20"},
		{Name: "Tunnel-Type", Tag: 2, Value: "L2TP"},
		{Name: "Tunnel-Medium-Type", Tag: 2, Value: "IPv4"},
		{Name: "Tunnel-Server-Endpoint", Tag: 2, Value: "198.51.100.2"},
		{Name: "Tunnel-Password", Tag: 2, Value: "a second tunnel secret longer than 16"},
		{Name: "Tunnel-Assignment-Id", Tag: 2, Value: "lns-b"},
		{Name: "Tunnel-Client-Auth-Id", Tag: 2, Value: "lac-west"},
		{Name: "Tunnel-Preference", Tag: 2, Value: "10"},
	}},
}

func realClient(t *testing.T, f *testenv.FreeRADIUS, policy aaa.MAPolicy) *aaa.Client {
	t.Helper()
	c, err := aaa.NewClient(aaa.ClientConfig{
		Servers:       []aaa.Server{{Addr: f.AuthAddr.String(), Secret: []byte(f.Secret), RequireMessageAuthenticator: policy}},
		AcctServers:   []aaa.Server{{Addr: f.AcctAddr.String(), Secret: []byte(f.Secret), RequireMessageAuthenticator: policy}},
		Timeout:       time.Second,
		Retries:       1,
		NASIdentifier: "bras-test",
		NASIPAddress:  netip.MustParseAddr("127.0.0.1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func chapResponse(id uint8, pw string, challenge []byte) []byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(pw))
	h.Write(challenge)
	return h.Sum(nil)
}

func TestFreeRADIUSAuthentication(t *testing.T) {
	// The server drops Access-Requests without a valid
	// Message-Authenticator, so every accept below also proves ours.
	f := testenv.StartFreeRADIUS(t, testenv.RadiusConfig{Users: radiusUsers, RequireMessageAuthenticator: true})
	c := realClient(t, f, aaa.MAAuto)
	ctx := context.Background()
	challenge := []byte("sixteen byte chl")

	alice := &aaa.AuthReply{
		Accept:          true,
		FramedIP:        netip.MustParseAddr("100.64.0.7"),
		FramedNetmask:   netip.MustParseAddr("255.255.255.255"),
		SessionTimeout:  2 * time.Hour,
		IdleTimeout:     15 * time.Minute,
		InterimInterval: 5 * time.Minute,
		FilterID:        "20480/5120",
		RateLimit:       aaa.RateLimit{DownKbps: 20480, UpKbps: 5120},
		Class:           [][]byte{[]byte("plan-gold")},
		FramedRoutes:    []string{"10.10.0.0/24 0.0.0.0 1"},
		DNS:             []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54")},
	}
	tests := []struct {
		name string
		req  aaa.AuthRequest
		want *aaa.AuthReply
	}{
		{"PAP accept", aaa.AuthRequest{Username: "alice", PAPPassword: []byte("alice-pw"), NASPort: 1, CallingStationID: "02:00:00:00:00:01"}, alice},
		{"PAP reject", aaa.AuthRequest{Username: "alice", PAPPassword: []byte("wrong")}, &aaa.AuthReply{}},
		{"dual stack", aaa.AuthRequest{Username: "carol", PAPPassword: []byte("carol-pw")}, &aaa.AuthReply{
			Accept: true,
			DNS:    []netip.Addr{netip.MustParseAddr("2001:db8::53")},
			IPv6: aaa.IPv6Grant{
				InterfaceID: [8]byte{2, 0, 0, 0, 0, 0, 0, 7}, HasInterfaceID: true,
				Prefixes:   []netip.Prefix{netip.MustParsePrefix("2001:db8:1:2::/64")},
				Delegated:  netip.MustParsePrefix("2001:db8:ff00::/56"),
				Address:    netip.MustParseAddr("2001:db8:1:2::7"),
				PrefixPool: "v6-slaac", DelegatedPool: "v6-pd",
				Routes: []string{"2001:db8:7::/48 :: 1"},
			},
		}},
		{"PAP unknown user", aaa.AuthRequest{Username: "mallory", PAPPassword: []byte("x")}, &aaa.AuthReply{}},
		{"CHAP accept", aaa.AuthRequest{Username: "alice", CHAPID: 9, CHAPChallenge: challenge, CHAPResponse: chapResponse(9, "alice-pw", challenge),
			Tunnel: &aaa.TunnelInfo{ClientEndpoint: "192.0.2.10", ServerEndpoint: "192.0.2.1", ClientAuthID: "lac1"}}, alice},
		{"CHAP reject", aaa.AuthRequest{Username: "alice", CHAPID: 9, CHAPChallenge: challenge, CHAPResponse: chapResponse(9, "guess", challenge)}, &aaa.AuthReply{}},
		{"tunnel choices for an LAC", aaa.AuthRequest{Username: "bob@isp.example", PAPPassword: []byte("bob-pw"), NASPortType: aaa.PortEthernet}, &aaa.AuthReply{
			Accept:     true,
			FramedPool: "pool-b",
			Tunnels: []aaa.TunnelChoice{
				{Tag: 2, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "198.51.100.2", Password: []byte("a second tunnel secret longer than 16"),
					AssignmentID: "lns-b", ClientAuthID: "lac-west", Preference: 10, HasPreference: true},
				{Tag: 1, Type: aaa.TunnelL2TP, Medium: aaa.MediumIPv4, ServerEndpoint: "198.51.100.1", Password: []byte("first-tunnel-secret"),
					Preference: 20, HasPreference: true},
			},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Authenticate(ctx, tc.req)
			if err != nil {
				t.Fatalf("%v\n%s", err, f.Log())
			}
			if !tc.want.Accept {
				got.ReplyMessage = "" // whatever the server says on reject
			}
			if d := cmp.Diff(tc.want, got, addrCmp); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	if st := c.Stats(); st.BadAuthenticator+st.Malformed+st.Timeouts != 0 {
		t.Errorf("stats %+v", st)
	}

	// FreeRADIUS 3.2.1 sends no Message-Authenticator by default: a
	// server configured "always" is unusable, and says so by timing out.
	strict := realClient(t, f, aaa.MAAlways)
	_, err := strict.Authenticate(ctx, aaa.AuthRequest{Username: "alice", PAPPassword: []byte("alice-pw")})
	if !errors.Is(err, aaa.ErrTimeout) {
		t.Errorf("policy always against a server without Message-Authenticator: err %v, want ErrTimeout", err)
	}
	if st := strict.Stats(); st.MissingMessageAuthenticator == 0 {
		t.Errorf("missing Message-Authenticator not counted: %+v", st)
	}
}

func TestFreeRADIUSAccounting(t *testing.T) {
	f := testenv.StartFreeRADIUS(t, testenv.RadiusConfig{Users: radiusUsers})
	c := realClient(t, f, aaa.MAAuto)
	ctx := context.Background()
	base := aaa.AcctRequest{
		SessionID: "0123456789abcdef", Username: "alice", FramedIP: netip.MustParseAddr("100.64.0.7"),
		NASPort: 42, CallingStationID: "02:00:00:00:00:01", Class: [][]byte{[]byte("plan-gold")},
		Tunnel: &aaa.TunnelInfo{ClientEndpoint: "192.0.2.10", ServerEndpoint: "192.0.2.1", Connection: "3735928559/42"},
	}
	start, interim, stop := base, base, base
	start.Status = aaa.AcctStart
	interim.Status, interim.InOctets, interim.OutOctets, interim.SessionTime = aaa.AcctInterimUpdate, 1000, 2000, 5*time.Minute
	stop.Status, stop.InOctets, stop.OutOctets = aaa.AcctStop, 3<<32+17, 9<<32+4242
	stop.InPackets, stop.OutPackets, stop.SessionTime, stop.Cause = 100, 200, time.Hour, aaa.IdleTimeout
	stop.EventTime = time.Now().Add(-4 * time.Second) // a record that waited in a spool
	for _, rec := range []aaa.AcctRequest{{Status: aaa.AcctOn}, start, interim, stop, {Status: aaa.AcctOff}} {
		if err := c.Account(ctx, rec); err != nil {
			t.Fatalf("%v: %v\n%s", rec.Status, err, f.Log())
		}
	}
	recs := f.AccountingRecords()
	if len(recs) != 5 {
		t.Fatalf("%d records in the detail file, want 5:\n%s", len(recs), strings.Join(f.DetailLines(), "\n"))
	}
	type row struct{ Status, Session, In, InGiga, Out, OutGiga, Time, Cause, Class, Tunnel, Connection string }
	var got []row
	for _, r := range recs {
		got = append(got, row{r.Get("Acct-Status-Type"), r.Get("Acct-Session-Id"), r.Get("Acct-Input-Octets"), r.Get("Acct-Input-Gigawords"),
			r.Get("Acct-Output-Octets"), r.Get("Acct-Output-Gigawords"), r.Get("Acct-Session-Time"), r.Get("Acct-Terminate-Cause"),
			r.Get("Class"), r.Get("Tunnel-Client-Endpoint"), r.Get("Acct-Tunnel-Connection")})
	}
	classHex := "0x706c616e2d676f6c64" // "plan-gold"
	want := []row{
		{Status: "Accounting-On"},
		{Status: "Start", Session: base.SessionID, Class: classHex, Tunnel: "192.0.2.10", Connection: "3735928559/42"},
		{"Interim-Update", base.SessionID, "1000", "0", "2000", "0", "300", "", classHex, "192.0.2.10", "3735928559/42"},
		{"Stop", base.SessionID, "17", "3", "4242", "9", "3600", "Idle-Timeout", classHex, "192.0.2.10", "3735928559/42"},
		{Status: "Accounting-Off"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("detail records (-want +got):\n%s", d)
	}
	if d, err := strconv.Atoi(recs[3].Get("Acct-Delay-Time")); err != nil || d < 4 || d > 10 {
		t.Errorf("Acct-Delay-Time of a Stop sent 4 s late: %q, want 4 to 10", recs[3].Get("Acct-Delay-Time"))
	}
	if got := recs[3].Get("NAS-Identifier"); got != "bras-test" {
		t.Errorf("NAS-Identifier %q", got)
	}
}

// TestRadclientAgainstCoAServer drives the CoA server with FreeRADIUS's
// radclient, as an operator (or other tests) would.
func TestRadclientAgainstCoAServer(t *testing.T) {
	radclient := testenv.RequireCommand(t, "radclient")
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeSessions{sessions: []aaa.SessionSelector{coaSession}}
	s := aaa.NewCoAServer(conn, []aaa.DynamicClient{{Addr: netip.MustParsePrefix("127.0.0.1/32"), Secret: []byte("coa-secret")}}, h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		conn.Close()
	})
	send := func(kind, secret, attrs string) string {
		cmd := exec.Command(radclient, "-x", "-r", "1", "-t", "2", conn.LocalAddr().String(), kind, secret)
		// Event-Timestamp (RFC 5176 section 6.3) as seconds since the epoch.
		cmd.Stdin = strings.NewReader(fmt.Sprintf("%s, Event-Timestamp = %d", attrs, time.Now().Unix()))
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	for _, tc := range []struct {
		name, kind, secret, attrs string
		want                      []string
	}{
		{"disconnect by Acct-Session-Id", "disconnect", "coa-secret", `Acct-Session-Id = "S1", Message-Authenticator = 0x00`,
			[]string{"Received Disconnect-ACK"}},
		{"disconnect by Framed-IP-Address", "disconnect", "coa-secret", `Framed-IP-Address = 100.64.0.7`,
			[]string{"Received Disconnect-ACK"}},
		{"unknown session", "disconnect", "coa-secret", `User-Name = "nobody"`,
			[]string{"Received Disconnect-NAK", "Error-Cause = Session-Context-Not-Found"}},
		{"CoA rate limit", "coa", "coa-secret", `User-Name = "alice", Filter-Id = "4096/1024", Message-Authenticator = 0x00`,
			[]string{"Received CoA-ACK"}},
		{"wrong secret is dropped", "disconnect", "not-the-secret", `User-Name = "alice"`,
			[]string{"No reply from server"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := send(tc.kind, tc.secret, tc.attrs)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("radclient output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	down, changes := h.seen()
	if len(down) != 2 || len(changes) != 1 || changes[0].RateLimit == nil || *changes[0].RateLimit != (aaa.RateLimit{DownKbps: 4096, UpKbps: 1024}) {
		t.Errorf("handler saw disconnects %v, changes %v", down, changes)
	}
	if st := s.Stats(); st.BadAuthenticator == 0 {
		t.Errorf("wrong secret not counted: %+v", st)
	}
}

// TestFreeRADIUSFailover puts a closed port (ICMP port unreachable) ahead
// of the real server for both authentication and accounting.
func TestFreeRADIUSFailover(t *testing.T) {
	f := testenv.StartFreeRADIUS(t, testenv.RadiusConfig{Users: radiusUsers})
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.LocalAddr().String()
	closed.Close()
	sec := []byte(f.Secret)
	c, err := aaa.NewClient(aaa.ClientConfig{
		Servers:       []aaa.Server{{Addr: deadAddr, Secret: sec}, {Addr: f.AuthAddr.String(), Secret: sec}},
		AcctServers:   []aaa.Server{{Addr: deadAddr, Secret: sec}, {Addr: f.AcctAddr.String(), Secret: sec}},
		Timeout:       300 * time.Millisecond,
		Retries:       1,
		NASIdentifier: "bras-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Authenticate(context.Background(), aaa.AuthRequest{Username: "alice", PAPPassword: []byte("alice-pw")})
	if err != nil || !r.Accept {
		t.Fatalf("auth after failover: %+v, %v", r, err)
	}
	if err := c.Account(context.Background(), aaa.AcctRequest{Status: aaa.AcctStart, SessionID: "F1", Username: "alice"}); err != nil {
		t.Fatalf("accounting after failover: %v", err)
	}
	if recs := f.AccountingRecords(); len(recs) != 1 || recs[0].Get("Acct-Session-Id") != "F1" {
		t.Errorf("detail records %+v", recs)
	}
	st := c.Stats()
	if st.Failovers != 2 || st.Timeouts != 2 {
		t.Errorf("stats %+v, want 2 failovers and 2 timeouts", st)
	}
	for _, s := range c.ServerStats() {
		switch {
		case s.Addr == deadAddr && (!s.Dead || !s.DeadUntil.After(time.Now()) || s.LastLatency != 0 || !s.LastAnswer.IsZero()):
			t.Errorf("%s %s: want held down, never answered: %+v", s.Kind, s.Addr, s)
		case s.Addr != deadAddr && (s.Dead || !s.DeadUntil.IsZero() || s.LastLatency <= 0 || s.LastLatency > time.Second ||
			time.Since(s.LastAnswer) > 10*time.Second):
			t.Errorf("%s %s: want up with its last round trip: %+v", s.Kind, s.Addr, s)
		}
	}
}
