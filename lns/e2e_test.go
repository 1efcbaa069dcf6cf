package lns_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/lns"
	"github.com/bras-project/bras/migrations"
	"github.com/bras-project/bras/ppp"
	"github.com/jackc/pgx/v5"
)

// lab is the LNS end-to-end topology of the tests:
//
//	lac (10.10.0.1) ── (10.10.0.2) lns (10.20.0.1) ── (10.20.0.2) upstream
//
// with a real FreeRADIUS on the host's loopback and the LNS in-process,
// its sockets and TUN device in namespace lns.
type lab struct {
	lac, lns, up *testenv.Netns
	radius       *testenv.FreeRADIUS
	srv          *lns.Server
	stop         func() // shuts the LNS down (once)
	echoAddr     netip.AddrPort
	flood        atomic.Pointer[netip.AddrPort] // where the upstream flooder sends
	db           string                         // PostgreSQL DSN when the lab has one (startLabDB)
}

var (
	lnsAddr  = netip.MustParseAddrPort("10.10.0.2:1701")
	echoAddr = netip.MustParseAddrPort("10.20.0.2:7777")
)

func startLab(t *testing.T, users []testenv.RadiusUser) *lab { return startLabWith(t, users, "") }

// TestMain stops the PostgreSQL cluster the tests share (startLabDB) once
// they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

// startLabDB starts the lab with accounting in a fresh, migrated
// PostgreSQL database too.
func startLabDB(t *testing.T, users []testenv.RadiusUser) *lab { return startLabDBWith(t, users, "") }

// startLabDBWith is startLabDB with extra appended to the LNS's
// configuration.
func startLabDBWith(t *testing.T, users []testenv.RadiusUser, extra string) *lab {
	testenv.RequireRoot(t)
	dsn := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = migrations.Up(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := startLabWith(t, users, "[accounting]\ndatabase = "+dsn+"\n"+extra)
	l.db = dsn
	return l
}

// startLabWith starts the lab with extra appended to the LNS's
// configuration.
func startLabWith(t *testing.T, users []testenv.RadiusUser, extra string) *lab {
	return startLabLogs(t, users, extra, nil)
}

// startLabLogs is startLabWith with the daemon's own logging, as bras lns
// sets it up from the configuration's [log] section, writing to logs too;
// with logs nil the LNS logs in text at info.
func startLabLogs(t *testing.T, users []testenv.RadiusUser, extra string, logs io.Writer) *lab {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	l := &lab{
		lac: testenv.NewNetns(t, "lac"),
		lns: testenv.NewNetns(t, "lns"),
		up:  testenv.NewNetns(t, "up"),
	}
	testenv.Link(t, l.lac, "eth0", netip.MustParsePrefix("10.10.0.1/24"), l.lns, "eth0", netip.MustParsePrefix("10.10.0.2/24"))
	testenv.Link(t, l.lns, "eth1", netip.MustParsePrefix("10.20.0.1/24"), l.up, "eth0", netip.MustParsePrefix("10.20.0.2/24"))
	l.up.MustRun(t, "ip", "route", "add", "100.64.0.0/16", "via", "10.20.0.1")
	l.up.MustRun(t, "ip", "route", "add", "198.51.100.0/24", "via", "10.20.0.1") // Framed-Routes
	l.lns.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	// FreeRADIUS on the host's loopback: the RADIUS client opens its
	// sockets from whatever thread runs it, outside namespace lns.
	l.radius = testenv.StartFreeRADIUS(t, testenv.RadiusConfig{Users: users})

	spool := t.TempDir()
	conf := fmt.Sprintf(`
[lns]
node = e2e
listen = %s
[tun]
name = brt0
address = 100.64.0.1/32
[ppp]
dns = 192.0.2.53, 192.0.2.54
echo-interval = 2s
restart = 1s
[pool "default"]
range = 100.64.1.0/24
[pool "business"]
range = 100.64.2.10-100.64.2.20
[lac "lac1"]
secret = sekrit
proxy = accept
[lac "lac2"]
secret = sekrit2
proxy = renegotiate
[radius]
timeout = 1s
[radius.server "fr"]
address = %s
secret = %s
[radius.accounting-server "fr"]
address = %s
secret = %s
[coa]
listen = 127.0.0.1:3799
[coa.client "radclient"]
address = 127.0.0.1/32
secret = coasecret
[accounting]
spool-dir = %s
interim-interval = 1h
radius = true
[api]
listen = 127.0.0.1:18080
token = tok
`, lnsAddr, l.radius.AuthAddr, l.radius.Secret, l.radius.AcctAddr, l.radius.Secret, spool) + extra
	cfg, err := lns.ParseConfig(strings.NewReader(conf), "e2e.conf")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *lns.Server, 1)
	done := make(chan error, 1)
	opts := lns.DaemonOptions{Enter: l.lns.Do, Ready: func(s *lns.Server) { ready <- s }}
	if logs == nil {
		opts.Logger = slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelInfo}))
	} else {
		logging, err := logx.New(cfg.Log, logx.Options{Output: io.MultiWriter(logs, newTestWriter(t))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(logging.Close) // after the LNS has stopped (cleanups run last first)
		opts.Logging = logging
	}
	go func() {
		done <- lns.RunDaemon(ctx, cfg, opts)
	}()
	select {
	case l.srv = <-ready:
	case err := <-done:
		t.Fatalf("LNS did not start: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("LNS did not start in 15 s")
	}
	var once sync.Once
	l.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("LNS shutdown: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("LNS did not shut down in 20 s")
			}
		})
	}
	t.Cleanup(l.stop)
	l.startUpstream(t, ctx)
	return l
}

// testWriter takes the daemon's log: in the test's output with -v or
// BRAS_TEST_LOG, else kept (the last testLogLines lines) and printed only
// if the test fails.
type testWriter struct{ l *testLog }

type testLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

const testLogLines = 300

func newTestWriter(t *testing.T) testWriter {
	l := &testLog{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if t.Failed() && len(l.lines) > 0 {
			t.Logf("the daemon's last %d log lines:\n%s", len(l.lines), strings.Join(l.lines, "\n"))
		}
		l.lines = nil
	})
	return testWriter{l}
}

func (w testWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	if testing.Verbose() || os.Getenv("BRAS_TEST_LOG") != "" {
		w.l.t.Log(line)
		return len(p), nil
	}
	w.l.mu.Lock()
	if w.l.lines = append(w.l.lines, line); len(w.l.lines) > testLogLines {
		w.l.lines = w.l.lines[1:]
	}
	w.l.mu.Unlock()
	return len(p), nil
}

// startUpstream runs a UDP echo server on upstream and a flooder that sends
// 1000-octet datagrams to whatever address l.flood names.
func (l *lab) startUpstream(t *testing.T, ctx context.Context) {
	var echo, flood *net.UDPConn
	if err := l.up.Do(func() error {
		var err error
		if echo, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(echoAddr)); err != nil {
			return err
		}
		flood, err = net.ListenUDP("udp4", &net.UDPAddr{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close(); flood.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	go func() {
		payload := make([]byte, 972) // 1000-octet IP packets
		for ctx.Err() == nil {
			dst := l.flood.Load()
			if dst == nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			flood.WriteToUDPAddrPort(payload, *dst)
			time.Sleep(200 * time.Microsecond) // ~5k packets/s, 40 Mbit/s offered
		}
	}()
}

func waitUp(t *testing.T, s *simSub) ppp.NetworkInfo {
	t.Helper()
	select {
	case n := <-s.up:
		return n
	case r := <-s.down:
		t.Fatalf("%s: PPP went down instead of up: %v", s.user, r)
	case rc := <-s.cdn:
		t.Fatalf("%s: CDN instead of up: %v", s.user, rc.Describe(l2tp.MsgCDN))
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no IPCP in 20 s", s.user)
	}
	return ppp.NetworkInfo{}
}

func waitCDN(t *testing.T, s *simSub, within time.Duration) l2tp.ResultCode {
	t.Helper()
	select {
	case rc := <-s.cdn:
		return rc
	case <-time.After(within):
		t.Fatalf("%s: no CDN within %v", s.user, within)
	}
	return l2tp.ResultCode{}
}

// ping sends one UDP datagram to the upstream echo server as the
// subscriber and waits for the echo to come back through the LNS.
func ping(t *testing.T, s *simSub, from netip.Addr, seq int) {
	t.Helper()
	msg := []byte(fmt.Sprintf("%s-%d", s.user, seq))
	src := netip.AddrPortFrom(from, 40000)
	for try := 0; try < 5; try++ {
		if err := s.sendIP(udp4(src, echoAddr, msg)); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(time.Second)
		for {
			select {
			case pkt := <-s.ip:
				if len(pkt) >= 28 && netip.AddrFrom4([4]byte(pkt[16:20])) == from && string(pkt[28:]) == string(msg) {
					return
				}
				continue
			case <-deadline:
			}
			break
		}
	}
	t.Fatalf("%s: no echo from upstream for %q", s.user, msg)
}

func TestLNSEndToEnd(t *testing.T) {
	users := []testenv.RadiusUser{
		{Name: "alice", Password: "wonderland", Reply: []testenv.RadiusAttr{{Name: "Framed-IP-Address", Value: "100.64.0.50"}, {Name: "Class", Value: "gold"},
			{Name: "Framed-Route", Value: "198.51.100.0/29 0.0.0.0 1"}}},
		{Name: "bob", Password: "builder"},
		{Name: "carol", Password: "proxied"},
		{Name: "dave", Password: "timeout", Reply: []testenv.RadiusAttr{{Name: "Session-Timeout", Value: "2"}}},
		{Name: "erin", Password: "ratelimit", Reply: []testenv.RadiusAttr{{Name: "Filter-Id", Value: "4000/4000"}}},
		{Name: "frank", Password: "renegotiate"},
		{Name: "nina", Password: "pool", Reply: []testenv.RadiusAttr{{Name: "Framed-Pool", Value: "business"},
			{Name: "MS-Primary-DNS-Server", Value: "198.51.100.53"}, {Name: "MS-Secondary-DNS-Server", Value: "198.51.100.54"}}},
	}
	l := startLab(t, users)
	ctx := context.Background()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")

	t.Run("PAP with Framed-IP-Address", func(t *testing.T) {
		s := lac.dialAuth("alice", "wonderland", "02:00:00:00:00:01", ppp.AuthPAP)
		n := waitUp(t, s)
		if n.Local != netip.MustParseAddr("100.64.0.50") {
			t.Fatalf("alice got %v, want RADIUS's Framed-IP-Address 100.64.0.50", n.Local)
		}
		if n.DNS1 != netip.MustParseAddr("192.0.2.53") {
			t.Errorf("alice's DNS = %v, want the configured 192.0.2.53", n.DNS1)
		}
		for i := 0; i < 3; i++ {
			ping(t, s, n.Local, i)
		}
		// Framed-Route 198.51.100.0/29: the network behind alice is routed to her.
		dst := netip.MustParseAddrPort("198.51.100.3:9")
		l.flood.Store(&dst)
		defer l.flood.Store(nil)
		deadline := time.After(5 * time.Second)
		for {
			select {
			case pkt := <-s.ip:
				if len(pkt) >= 20 && netip.AddrFrom4([4]byte(pkt[16:20])) == dst.Addr() {
					return
				}
				continue
			case <-deadline:
				t.Fatal("nothing for the Framed-Route 198.51.100.0/29 reached alice")
			}
		}
	})

	var bob *simSub
	var bobAddr netip.Addr
	t.Run("CHAP with a pool address", func(t *testing.T) {
		bob = lac.dialAuth("bob", "builder", "02:00:00:00:00:02", ppp.AuthCHAPMD5)
		n := waitUp(t, bob)
		if !netip.MustParsePrefix("100.64.1.0/24").Contains(n.Local) {
			t.Fatalf("bob got %v, want an address of the default pool 100.64.1.0/24", n.Local)
		}
		bobAddr = n.Local
		ping(t, bob, n.Local, 0)
	})

	t.Run("Framed-Pool and DNS from RADIUS", func(t *testing.T) {
		s := lac.dialAuth("nina", "pool", "02:00:00:00:00:08", ppp.AuthCHAPMD5)
		n := waitUp(t, s)
		if a := n.Local.As4(); a[2] != 2 || a[3] < 10 || a[3] > 20 {
			t.Fatalf("nina got %v, want an address of pool business (100.64.2.10-20)", n.Local)
		}
		if n.DNS1 != netip.MustParseAddr("198.51.100.53") || n.DNS2 != netip.MustParseAddr("198.51.100.54") {
			t.Fatalf("nina's DNS = %v, %v; want RADIUS's MS-Primary/Secondary-DNS-Server", n.DNS1, n.DNS2)
		}
		ping(t, s, n.Local, 0)
	})

	t.Run("wrong password", func(t *testing.T) {
		s := lac.dialAuth("bob", "not-the-password", "02:00:00:00:00:03", ppp.AuthCHAPMD5)
		select {
		case r := <-s.down:
			if r != ppp.ReasonAuthFailed {
				t.Fatalf("PPP ended with %v, want %v", r, ppp.ReasonAuthFailed)
			}
		case <-s.up:
			t.Fatal("a wrong password came up")
		case <-time.After(20 * time.Second):
			t.Fatal("no CHAP Failure in 20 s")
		}
		waitCDN(t, s, 10*time.Second)
	})

	t.Run("proxy LCP and PAP accepted", func(t *testing.T) {
		before := l.srv.Stats().ProxyAccepted.Load()
		s := lac.dial("carol", "proxied", "02:00:00:00:00:04", proxyPAP("carol", "proxied"), true)
		n := waitUp(t, s)
		if !netip.MustParsePrefix("100.64.1.0/24").Contains(n.Local) {
			t.Fatalf("carol got %v", n.Local)
		}
		if got := l.srv.Stats().ProxyAccepted.Load(); got != before+1 {
			t.Fatalf("ProxyAccepted = %d, want %d: the LNS renegotiated", got, before+1)
		}
		ping(t, s, n.Local, 0)
	})

	t.Run("proxy LCP renegotiated by policy", func(t *testing.T) {
		lac2 := startSimLAC(t, ctx, l.lac, "lac2", lnsAddr, "sekrit2")
		before := l.srv.Stats().ProxyAccepted.Load()
		s := lac2.dial("frank", "renegotiate", "02:00:00:00:00:05", proxyPAP("frank", "renegotiate"), false)
		n := waitUp(t, s)
		if got := l.srv.Stats().ProxyAccepted.Load(); got != before {
			t.Fatalf("ProxyAccepted moved to %d though lac2's policy is renegotiate", got)
		}
		ping(t, s, n.Local, 0)
	})

	t.Run("Session-Timeout", func(t *testing.T) {
		s := lac.dialAuth("dave", "timeout", "02:00:00:00:00:06", ppp.AuthPAP)
		waitUp(t, s)
		start := time.Now()
		waitCDN(t, s, 10*time.Second)
		if el := time.Since(start); el < 1500*time.Millisecond || el > 7*time.Second {
			t.Fatalf("session ended after %v, want about 2 s (Session-Timeout 2)", el)
		}
	})

	t.Run("CoA halves the rate", func(t *testing.T) {
		s := lac.dialAuth("erin", "ratelimit", "02:00:00:00:00:07", ppp.AuthPAP)
		n := waitUp(t, s)
		dst := netip.AddrPortFrom(n.Local, 9)
		l.flood.Store(&dst)
		defer l.flood.Store(nil)
		full := measure(s, 2*time.Second)
		out := l.lns.MustRun(t, "sh", "-c", "printf 'User-Name = erin\\nFilter-Id = \"2000/2000\"\\nEvent-Timestamp = %s\\n' \"$(date +%s)\" | radclient -x 127.0.0.1:3799 coa coasecret")
		if !strings.Contains(out, "CoA-ACK") {
			t.Fatalf("radclient CoA: %s", out)
		}
		half := measure(s, 2*time.Second)
		t.Logf("erin downstream: %.0f kbit/s at 4000/4000, %.0f kbit/s after CoA to 2000/2000", full, half)
		if full < 3200 || full > 4800 {
			t.Errorf("rate before CoA %.0f kbit/s, want 4000 ± 20 %%", full)
		}
		if half < 1600 || half > 2400 {
			t.Errorf("rate after CoA %.0f kbit/s, want 2000 ± 20 %%", half)
		}
	})

	t.Run("HTTP API and Prometheus metrics", func(t *testing.T) {
		sessions := l.httpGet(t, "/api/v1/sessions?user=alice", "tok")
		if !strings.Contains(sessions, `"user":"alice"`) || !strings.Contains(sessions, `"addr":"100.64.0.50"`) {
			t.Fatalf("GET /api/v1/sessions?user=alice: %s", sessions)
		}
		if got := l.httpGet(t, "/api/v1/sessions", ""); !strings.Contains(got, "401") {
			t.Fatalf("no token: %s", got)
		}
		m := l.httpGet(t, "/metrics", "")
		for _, series := range []string{
			`bras_sessions{state="up"}`, `bras_session_setups_total{result="up"}`,
			`bras_session_setups_total{result="auth_rejected"}`, `bras_session_teardowns_total{cause=`,
			`bras_radius_latency_seconds_bucket`, `bras_radius_timeouts_total`, `bras_spool_bytes`,
			`bras_dataplane_packets_total{direction="up"}`, `bras_dataplane_drops_total{reason=`,
			`bras_l2tp_tunnels`, `bras_l2tp_dropped_total{reason="half_open_limit"}`, `bras_l2tp_dropped_total{reason="tunnel_zero"}`,
		} {
			if !strings.Contains(m, series) {
				t.Errorf("/metrics lacks %s", series)
			}
		}
	})

	t.Run("Disconnect-Request from radclient", func(t *testing.T) {
		out := l.lns.MustRun(t, "sh", "-c", "printf 'User-Name = bob\\nEvent-Timestamp = %s\\n' \"$(date +%s)\" | radclient -x 127.0.0.1:3799 disconnect coasecret")
		if !strings.Contains(out, "Disconnect-ACK") {
			t.Fatalf("radclient disconnect: %s", out)
		}
		waitCDN(t, bob, 10*time.Second)
		out = l.lns.MustRun(t, "sh", "-c", "printf 'User-Name = nobody\\nEvent-Timestamp = %s\\n' \"$(date +%s)\" | radclient -x 127.0.0.1:3799 disconnect coasecret || true")
		if !strings.Contains(out, "Disconnect-NAK") || !strings.Contains(out, "Session-Context-Not-Found") {
			t.Fatalf("disconnect of an unknown user: %s", out)
		}
		// Without Event-Timestamp: refused (RFC 5176 section 6.3).
		out = l.lns.MustRun(t, "sh", "-c", "printf 'User-Name = nobody\\n' | radclient -x 127.0.0.1:3799 disconnect coasecret || true")
		if !strings.Contains(out, "Disconnect-NAK") || !strings.Contains(out, "Missing-Attribute") {
			t.Fatalf("disconnect without Event-Timestamp: %s", out)
		}
		// RADIUS accounting: bob's Stop with Admin-Reset reached FreeRADIUS.
		deadline := time.Now().Add(10 * time.Second)
		for {
			recs, _ := l.radius.ReadAccounting()
			for _, r := range recs {
				if r.Get("User-Name") == "bob" && r.Get("Acct-Status-Type") == "Stop" {
					if c := r.Get("Acct-Terminate-Cause"); c != "Admin-Reset" {
						t.Fatalf("bob's Stop has cause %q, want Admin-Reset", c)
					}
					if r.Get("Framed-IP-Address") != bobAddr.String() {
						t.Errorf("bob's Stop has Framed-IP-Address %q, want %v", r.Get("Framed-IP-Address"), bobAddr)
					}
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no Stop for bob in FreeRADIUS's detail file; records: %v", recs)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// measure drains s's IPv4 packets for d and returns the rate in kbit/s.
func measure(s *simSub, d time.Duration) float64 {
	// Let the bucket settle and drop what queued before.
	settle := time.After(500 * time.Millisecond)
	for done := false; !done; {
		select {
		case <-s.ip:
		case <-settle:
			done = true
		}
	}
	var octets int
	end := time.After(d)
	for {
		select {
		case p := <-s.ip:
			octets += len(p)
		case <-end:
			return float64(octets*8) / d.Seconds() / 1000
		}
	}
}

// proxyPAP builds the proxy LCP and proxy authentication AVPs of RFC 2661
// section 4.4.5 an LAC sends in its ICCN after negotiating LCP and taking
// the subscriber's PAP credentials.
func proxyPAP(user, password string) []l2tp.AVP {
	sent := []byte{1, 4, 0x05, 0xb4, 3, 4, 0xc0, 0x23, 5, 6, 0x11, 0x22, 0x33, 0x44} // MRU 1460, PAP, magic
	recv := []byte{1, 4, 0x05, 0xb4, 5, 6, 0x55, 0x66, 0x77, 0x88}                   // MRU 1460, magic
	return []l2tp.AVP{
		l2tp.NewAVPBytes(l2tp.AVPInitialRecvLCPConfReq, recv),
		l2tp.NewAVPBytes(l2tp.AVPLastSentLCPConfReq, sent),
		l2tp.NewAVPBytes(l2tp.AVPLastRecvLCPConfReq, recv),
		l2tp.NewAVPUint16(l2tp.AVPProxyAuthenType, 3),
		l2tp.NewAVPString(l2tp.AVPProxyAuthenName, user),
		l2tp.NewAVPProxyAuthenID(1),
		l2tp.NewAVPBytes(l2tp.AVPProxyAuthenResponse, []byte(password)),
	}
}

// waitStop waits for the accounting Stop of user in FreeRADIUS's detail
// file and checks its Acct-Terminate-Cause, then (when the lab has a
// database) the session's terminate cause in PostgreSQL, as radacct shows it.
func (l *lab) waitStop(t *testing.T, user, cause string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for found := false; !found; {
		recs, _ := l.radius.ReadAccounting()
		for _, r := range recs {
			if r.Get("User-Name") == user && r.Get("Acct-Status-Type") == "Stop" {
				if c := r.Get("Acct-Terminate-Cause"); c != cause {
					t.Fatalf("%s's Stop has cause %q, want %q", user, c, cause)
				}
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Stop for %s in FreeRADIUS's detail file", user)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if l.db == "" {
		return
	}
	for {
		got := l.query(t, `SELECT acctterminatecause FROM radacct WHERE username = $1 AND acctstoptime IS NOT NULL`, user)
		if got == cause {
			return
		}
		if got != "" || time.Now().After(deadline) {
			t.Fatalf("%s's session in PostgreSQL has cause %q, want %q", user, got, cause)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// query returns the first column of the first row of q as text, "" for no row.
func (l *lab) query(t *testing.T, q string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, l.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, q, args...).Scan(&v); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// TestLNSTeardownCauses ends sessions every way the LNS knows and checks
// the Acct-Terminate-Cause (RFC 2866 section 5.10) of each accounting Stop.
func TestLNSTeardownCauses(t *testing.T) {
	users := []testenv.RadiusUser{
		{Name: "gina", Password: "pw"}, {Name: "hank", Password: "pw"},
		{Name: "ivan", Password: "pw", Reply: []testenv.RadiusAttr{{Name: "Idle-Timeout", Value: "2"}}},
		{Name: "judy", Password: "pw"}, {Name: "kim", Password: "pw"}, {Name: "liam", Password: "pw"},
		{Name: "mona", Password: "pw"}, {Name: "nick", Password: "pw"}, {Name: "olga", Password: "pw"},
		{Name: "pete", Password: "pw", Reply: []testenv.RadiusAttr{{Name: "Session-Timeout", Value: "2"}}},
		{Name: "rita", Password: "pw"}, {Name: "sam", Password: "pw"}, {Name: "tess", Password: "pw"},
		{Name: "vera", Password: "pw"}, {Name: "walt", Password: "pw"},
	}
	l := startLabDB(t, users)
	ctx := context.Background()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")

	t.Run("unknown LAC, wrong or missing secret refused", func(t *testing.T) {
		for _, c := range []struct{ host, secret string }{{"intruder", "sekrit"}, {"lac1", "wrong"}, {"lac1", ""}} {
			var conn *net.UDPConn
			if err := l.lac.Do(func() (err error) { conn, err = net.ListenUDP("udp4", &net.UDPAddr{}); return }); err != nil {
				t.Fatal(err)
			}
			ep, err := l2tp.NewEndpoint(conn, l2tp.Config{HostName: c.host})
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			go ep.Run(rctx)
			var derr error
			for i := 0; i < 100; i++ {
				dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
				_, derr = ep.Dial(dctx, lnsAddr, l2tp.TunnelOptions{Secret: []byte(c.secret)})
				dcancel()
				if !errors.Is(derr, l2tp.ErrNotRunning) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			conn.Close()
			if derr == nil {
				t.Fatalf("tunnel from host %q with secret %q was accepted", c.host, c.secret)
			}
		}
		// The unknown host is refused by the LNS's Accept; a wrong or
		// missing secret by whichever side checks a Challenge Response
		// first (RFC 2661 section 5.1.1, StopCCN result 4).
		if st := l.srv.Endpoint().Stats(); st.TunnelsRefused.Load() < 1 {
			t.Fatalf("the LNS counted %d refused tunnels, want at least 1", st.TunnelsRefused.Load())
		}
		established := 0
		for _, tn := range l.srv.Endpoint().Tunnels() { // refused ones linger, cleared (RFC 2661 section 5.7)
			if tn.State() == l2tp.CtrlEstablished {
				established++
			}
		}
		if established != 1 {
			t.Fatalf("the LNS has %d established tunnels, want only the good one", established)
		}
	})

	t.Run("User-Request", func(t *testing.T) {
		s := lac.dialAuth("gina", "pw", "02:00:00:00:01:01", ppp.AuthPAP)
		waitUp(t, s)
		lac.in <- simInput{sub: s, close: true}
		waitCDN(t, s, 10*time.Second)
		l.waitStop(t, "gina", "User-Request")
	})
	t.Run("CDN from the LAC is Lost-Carrier", func(t *testing.T) {
		s := lac.dialAuth("hank", "pw", "02:00:00:00:01:02", ppp.AuthPAP)
		waitUp(t, s)
		s.call.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNLostCarrier)})
		l.waitStop(t, "hank", "Lost-Carrier")
	})
	t.Run("Terminate-Request then the LAC's CDN at once is User-Request", func(t *testing.T) {
		// The subscriber hangs up and its PADT follows before the LNS
		// has finished PPP: the LAC's CDN (lost carrier) comes first.
		s := lac.dialAuth("mona", "pw", "02:00:00:00:01:07", ppp.AuthPAP)
		waitUp(t, s)
		lac.in <- simInput{sub: s, close: true, cdn: &l2tp.ResultCode{Result: uint16(l2tp.CDNLostCarrier)}}
		l.waitStop(t, "mona", "User-Request")
	})
	t.Run("CDN for administrative reasons is Admin-Reset", func(t *testing.T) {
		s := lac.dialAuth("nick", "pw", "02:00:00:00:01:08", ppp.AuthPAP)
		waitUp(t, s)
		s.call.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin), HasError: true, Message: "LAC shutting down"})
		l.waitStop(t, "nick", "Admin-Reset")
	})
	t.Run("CDN with an RFC 3145 normal disconnection by the subscriber is User-Request", func(t *testing.T) {
		// The LAC's own PPP saw the Terminate-Request: the Disconnect
		// Cause Code says more than the Result Code.
		s := lac.dialAuth("vera", "pw", "02:00:00:00:01:0f", ppp.AuthPAP)
		waitUp(t, s)
		s.call.DisconnectWithCause(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin)},
			l2tp.PPPDisconnectCause{Code: l2tp.DiscNormal, Direction: l2tp.DirectionPeer})
		l.waitStop(t, "vera", "User-Request")
	})
	t.Run("CDN with a general error is NAS-Error", func(t *testing.T) {
		s := lac.dialAuth("olga", "pw", "02:00:00:00:01:09", ppp.AuthPAP)
		waitUp(t, s)
		s.call.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNGeneralError), HasError: true, Error: uint16(l2tp.ErrorVendorSpecific)})
		l.waitStop(t, "olga", "NAS-Error")
	})
	t.Run("Session-Timeout", func(t *testing.T) {
		s := lac.dialAuth("pete", "pw", "02:00:00:00:01:0a", ppp.AuthPAP)
		waitUp(t, s)
		waitCDN(t, s, 10*time.Second)
		l.waitStop(t, "pete", "Session-Timeout")
	})
	t.Run("API disconnect is Admin-Reset", func(t *testing.T) {
		s := lac.dialAuth("rita", "pw", "02:00:00:00:01:0b", ppp.AuthPAP)
		waitUp(t, s)
		list, err := l.srv.API().Sessions(context.Background(), api.SessionFilter{User: "rita"})
		if err != nil || len(list) != 1 {
			t.Fatalf("rita's sessions: %v, %v", list, err)
		}
		if out := l.httpDo(t, "DELETE", "/api/v1/sessions/"+list[0].ID, "tok"); !strings.Contains(out, " 200 ") && !strings.Contains(out, " 204 ") {
			t.Fatalf("DELETE: %s", out)
		}
		waitCDN(t, s, 10*time.Second)
		l.waitStop(t, "rita", "Admin-Reset")
	})
	t.Run("RADIUS Disconnect-Request is Admin-Reset", func(t *testing.T) {
		s := lac.dialAuth("walt", "pw", "02:00:00:00:01:10", ppp.AuthPAP)
		waitUp(t, s)
		out := l.lns.MustRun(t, "sh", "-c", "printf 'User-Name = walt\\nEvent-Timestamp = %s\\n' \"$(date +%s)\" | radclient -x 127.0.0.1:3799 disconnect coasecret")
		if !strings.Contains(out, "Disconnect-ACK") {
			t.Fatalf("radclient disconnect: %s", out)
		}
		waitCDN(t, s, 10*time.Second)
		l.waitStop(t, "walt", "Admin-Reset")
	})
	t.Run("StopCCN requester shutting down is Admin-Reboot", func(t *testing.T) {
		lac4 := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")
		s := lac4.dialAuth("sam", "pw", "02:00:00:00:01:0c", ppp.AuthPAP)
		waitUp(t, s)
		lac4.tun.Close(l2tp.ResultCode{Result: uint16(l2tp.StopCCNShuttingDown)})
		l.waitStop(t, "sam", "Admin-Reboot")
	})
	t.Run("access line IDs recorded", func(t *testing.T) {
		s := lac.place(&simSub{user: "tess", password: "pw", auth: []ppp.AuthProto{ppp.AuthPAP}, icrq: []l2tp.AVP{
			{VendorID: 3561, Type: 1, Value: []byte("olt7 eth 1/1/3:100")}, // Agent-Circuit-Id (RFC 4679)
			{VendorID: 3561, Type: 2, Value: []byte("cpe-0042")},           // Agent-Remote-Id
		}}, "02:00:00:00:01:0d")
		waitUp(t, s)
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := l.query(t, `SELECT circuit_id || '|' || remote_id FROM sessions WHERE username = 'tess'`)
			if got == "olt7 eth 1/1/3:100|cpe-0042" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("tess's access line in PostgreSQL: %q", got)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	t.Run("Idle-Timeout", func(t *testing.T) {
		s := lac.dialAuth("ivan", "pw", "02:00:00:00:01:03", ppp.AuthPAP)
		waitUp(t, s)
		waitCDN(t, s, 10*time.Second)
		l.waitStop(t, "ivan", "Idle-Timeout")
	})
	t.Run("echo failure is Lost-Carrier", func(t *testing.T) {
		s := lac.dialAuth("judy", "pw", "02:00:00:00:01:04", ppp.AuthPAP)
		waitUp(t, s)
		s.deaf.Store(true) // the subscriber vanishes without a word
		waitCDN(t, s, 20*time.Second)
		l.waitStop(t, "judy", "Lost-Carrier")
	})
	t.Run("StopCCN is Lost-Service", func(t *testing.T) {
		lac3 := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")
		s := lac3.dialAuth("kim", "pw", "02:00:00:00:01:05", ppp.AuthPAP)
		waitUp(t, s)
		lac3.tun.Close(l2tp.ResultCode{Result: uint16(l2tp.StopCCNGeneralRequest)})
		l.waitStop(t, "kim", "Lost-Service")
	})
	t.Run("shutdown is Admin-Reboot", func(t *testing.T) {
		s := lac.dialAuth("liam", "pw", "02:00:00:00:01:06", ppp.AuthPAP)
		waitUp(t, s)
		l.stop()
		l.waitStop(t, "liam", "Admin-Reboot")
	})
}

// httpGet fetches path from the LNS's API inside namespace lns (the
// connection is dialled from a thread in that namespace); it returns the
// status line and the body.
func (l *lab) httpGet(t *testing.T, path, token string) string {
	t.Helper()
	return l.httpDo(t, "GET", path, token)
}

// httpDo is httpGet with another method.
func (l *lab) httpDo(t *testing.T, method, path, token string) string {
	t.Helper()
	var conn net.Conn
	if err := l.lns.Do(func() (err error) {
		conn, err = net.Dial("tcp", "127.0.0.1:18080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
