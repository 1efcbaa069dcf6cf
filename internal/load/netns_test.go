package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/load/loadtest"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// lab is a subscriber namespace joined to an AC namespace that runs the
// in-process access concentrator.
type lab struct {
	sub, acns *testenv.Netns
	ac        *loadtest.AC
}

const labPassword = "s3cret"

var echoTarget = netip.MustParseAddrPort("198.51.100.7:9000")

func newLab(t testing.TB, cfg loadtest.Config) *lab {
	t.Helper()
	testenv.RequireRoot(t)
	l := &lab{acns: testenv.NewNetns(t, "lac"), sub: testenv.NewNetns(t, "lsub")}
	testenv.Link(t, l.acns, "ac0", netip.Prefix{}, l.sub, "sub0", netip.Prefix{})
	cfg.Interface, cfg.ACName = "ac0", "bras-loadtest"
	if cfg.Password == "" {
		cfg.Password = labPassword
	}
	if err := l.acns.Do(func() error {
		var err error
		l.ac, err = loadtest.New(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.ac.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("AC: %v", err)
		}
	})
	return l
}

// start runs load.Start in the subscriber namespace.
func (l *lab) start(t testing.TB, ctx context.Context, cfg load.Config) *load.Load {
	t.Helper()
	if cfg.Interface == "" {
		cfg.Interface = "sub0"
	}
	var ld *load.Load
	if err := l.sub.Do(func() error {
		var err error
		ld, err = load.Start(ctx, cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ld.Stop() })
	return ld
}

func waitSetup(t testing.TB, ld *load.Load, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := ld.WaitSetup(ctx); err != nil {
		t.Fatalf("set-ups not done after %v: %v", d, ld.Stats())
	}
}

func checkStages(t *testing.T, name string, l load.Latency, n int) {
	t.Helper()
	if l.Count != n {
		t.Errorf("stage %s: %d samples, want %d", name, l.Count, n)
	}
	if !(0 <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("stage %s: percentiles out of order: %+v", name, l)
	}
}

// TestNetnsSessionsAndTraffic brings up 200 subscribers, half PAP and half
// CHAP-MD5, at a set rate with an in-flight cap, runs probes both ways and
// checks the report a lab script would rely on.
func TestNetnsSessionsAndTraffic(t *testing.T) {
	const n = 200
	l := newLab(t, loadtest.Config{})
	ctx := context.Background()
	var maxInflight int
	var mu sync.Mutex
	var progress []load.Stats
	var rep *load.Report
	err := l.sub.Do(func() error {
		var err error
		rep, err = load.Run(ctx, load.Config{
			Interface: "sub0", Sessions: n, Rate: 1000, InFlight: 40,
			UserPattern: "user%d@lab", PasswordPattern: labPassword, Auth: load.AuthMixed,
			Traffic: load.Traffic{Target: echoTarget, Size: 64, PPS: 20, QueryUpstream: true},
		}, load.RunConfig{Hold: 1500 * time.Millisecond, Progress: func(st load.Stats) {
			mu.Lock()
			defer mu.Unlock()
			maxInflight = max(maxInflight, st.InFlight)
			progress = append(progress, st)
		}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Up != n || rep.Failed != 0 || rep.Dropped != 0 || rep.Started != n {
		t.Errorf("report: started %d up %d failed %d (%v) dropped %d; want %d up, none failed or dropped",
			rep.Started, rep.Up, rep.Failed, rep.Failures, rep.Dropped, n)
	}
	if maxInflight > 40 {
		t.Errorf("in flight reached %d, cap 40", maxInflight)
	}
	if len(progress) < 2 {
		t.Errorf("%d progress snapshots, want one per second and a last one", len(progress))
	}
	_, byProto := l.ac.Up()
	if byProto[ppp.AuthPAP] != n/2 || byProto[ppp.AuthCHAPMD5] != n/2 {
		t.Errorf("AC authenticated %v, want %d by PAP and %d by CHAP", byProto, n/2, n/2)
	}
	st := rep.Stages
	for name, lat := range map[string]load.Latency{"padi_pads": st.Discovery, "lcp": st.LCP, "auth": st.Auth, "ipcp": st.IPCP, "total": st.Total} {
		checkStages(t, name, lat, n)
	}
	if st.Total.Max < st.Discovery.Max || st.Total.P50 <= 0 {
		t.Errorf("total %+v does not cover discovery %+v", st.Total, st.Discovery)
	}
	if rep.SetupRate <= 0 || rep.SetupSeconds <= 0 {
		t.Errorf("set-up rate %v over %vs", rep.SetupRate, rep.SetupSeconds)
	}
	tr := rep.Traffic
	if tr == nil {
		t.Fatal("no traffic report")
	}
	// 200 sessions × 20 pps × ~1.5 s.
	if tr.Sent < n*20 || tr.Received != tr.Sent || tr.Lost != 0 || tr.Duplicated != 0 || tr.Reordered != 0 {
		t.Errorf("traffic: sent %d received %d lost %d dup %d reordered %d; want ≥ %d sent, all back in order",
			tr.Sent, tr.Received, tr.Lost, tr.Duplicated, tr.Reordered, n*20)
	}
	var perSecond uint64
	for _, v := range tr.DeliveredPerSecond {
		perSecond += v
	}
	if len(tr.DeliveredPerSecond) < 1 || tr.DeliveredPerSecond[0] == 0 || perSecond > tr.Received {
		t.Errorf("delivered per second %v for %d received", tr.DeliveredPerSecond, tr.Received)
	}
	if tr.RTT.Count != int(tr.Received) || tr.RTT.P50 <= 0 || tr.RTT.P99 < tr.RTT.P50 {
		t.Errorf("rtt %+v for %d echoes", tr.RTT, tr.Received)
	}
	if u := tr.Upstream; u == nil || u.Sessions != n || u.Sent != tr.Sent || u.ServerReceived != tr.Sent || u.UpstreamLost != 0 || u.DownstreamLost != 0 {
		t.Errorf("per-direction accounting %+v, want all %d sessions, %d sent and received upstream", u, n, tr.Sent)
	}
	// Every session was closed with a PADT: the AC has none left.
	deadline := time.Now().Add(5 * time.Second)
	for l.ac.Srv.NumSessions() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := l.ac.Srv.NumSessions(); got != 0 {
		t.Errorf("AC still has %d sessions after Stop", got)
	}
	if got := l.ac.Srv.Stats().PADTReceived; got != n {
		t.Errorf("AC received %d PADTs, want %d", got, n)
	}

	// The JSON report has the documented fields.
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, buf.String())
	}
	for _, k := range []string{"sessions", "started", "up", "failed", "dropped", "failures", "drops", "setup_seconds", "setup_rate", "stages", "traffic"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report has no %q: %s", k, buf.String())
		}
	}
	stages, _ := m["stages"].(map[string]any)
	for _, k := range []string{"padi_pads", "lcp", "auth", "ipcp", "total"} {
		s, _ := stages[k].(map[string]any)
		for _, f := range []string{"count", "p50_ms", "p90_ms", "p99_ms", "max_ms"} {
			if _, ok := s[f]; !ok {
				t.Errorf("stage %s has no %s", k, f)
			}
		}
	}
	traffic, _ := m["traffic"].(map[string]any)
	for _, k := range []string{"sent", "received", "lost", "loss_ratio", "reordered", "duplicated", "rtt", "upstream", "delivered_pps"} {
		if _, ok := traffic[k]; !ok {
			t.Errorf("traffic has no %s", k)
		}
	}
}

// TestNetnsWrongPassword: subscribers with a wrong password are counted as
// failed with the reason, the others come up.
func TestNetnsWrongPassword(t *testing.T) {
	l := newLab(t, loadtest.Config{})
	creds := []load.Credential{
		{"good0", labPassword}, {"bad1", "nope"}, {"good2", labPassword},
		{"bad3", "nope"}, {"good4", labPassword}, {"bad5", "nope"},
	}
	ld := l.start(t, context.Background(), load.Config{Sessions: len(creds), Credentials: creds, Auth: load.AuthMixed, InFlight: 6})
	waitSetup(t, ld, 30*time.Second)
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := ld.Report()
	if rep.Up != 3 || rep.Failed != 3 || rep.Failures["auth-failed"] != 3 {
		t.Errorf("up %d failed %d %v; want 3 up and 3 failed with auth-failed", rep.Up, rep.Failed, rep.Failures)
	}
	if rep.Stages.Total.Count != 3 {
		t.Errorf("stage samples %d, want the 3 sessions up", rep.Stages.Total.Count)
	}
}

// TestNetnsPADTFromAC: a session the AC ends with a PADT (RFC 2516 section
// 5.5) is counted as dropped; Stop sends a PADT for each of the others.
func TestNetnsPADTFromAC(t *testing.T) {
	l := newLab(t, loadtest.Config{})
	base := net.HardwareAddr{0x02, 0x10, 0, 0, 0, 0}
	ld := l.start(t, context.Background(), load.Config{Sessions: 5, UserPattern: "u%d", PasswordPattern: labPassword, Auth: load.AuthCHAP, MACBase: base})
	waitSetup(t, ld, 30*time.Second)
	if st := ld.Stats(); st.Up != 5 {
		t.Fatalf("stats %v, want 5 up", st)
	}
	for _, i := range []byte{1, 3} {
		if !l.ac.CloseMAC(pppoe.MAC{0x02, 0x10, 0, 0, 0, i}) {
			t.Fatalf("AC has no session for subscriber %d", i)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for ld.Stats().Dropped != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := ld.Stats(); st.Dropped != 2 || st.Up != 3 {
		t.Fatalf("after 2 PADTs: %v, want 2 dropped and 3 up", st)
	}
	infos := ld.Sessions()
	addrs := map[netip.Addr]bool{}
	for _, in := range infos {
		wantUp := in.MAC[5] != 1 && in.MAC[5] != 3
		if in.Up != wantUp || in.SessionID == 0 || !netip.MustParsePrefix("100.64.0.0/10").Contains(in.Address) ||
			in.Username != fmt.Sprintf("u%d", in.Index) || in.DNS1 != netip.MustParseAddr("192.0.2.53") {
			t.Errorf("session %+v (want up %v)", in, wantUp)
		}
		addrs[in.Address] = true
	}
	if len(infos) != 5 || len(addrs) != 5 {
		t.Errorf("%d sessions with %d distinct addresses, want 5", len(infos), len(addrs))
	}
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := ld.Report()
	if rep.Dropped != 2 || rep.Drops["padt"] != 2 || rep.Up != 5 {
		t.Errorf("report: up %d dropped %d %v; want 5 up, 2 dropped by padt", rep.Up, rep.Dropped, rep.Drops)
	}
	deadline = time.Now().Add(5 * time.Second)
	for l.ac.Srv.Stats().PADTReceived != 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := l.ac.Srv.Stats().PADTReceived; got != 3 {
		t.Errorf("AC received %d PADTs, want 3 (the sessions still up at Stop)", got)
	}
}

// TestNetnsDownstreamLoss: the AC drops every 10th echo on the way back;
// the report puts exactly that loss downstream and none upstream.
func TestNetnsDownstreamLoss(t *testing.T) {
	const n = 20
	l := newLab(t, loadtest.Config{DropEvery: 10})
	ld := l.start(t, context.Background(), load.Config{Sessions: n, UserPattern: "u%d", PasswordPattern: labPassword,
		Auth: load.AuthPAP, Traffic: load.Traffic{Target: echoTarget, Size: 1400, TotalPPS: 1000, QueryUpstream: true}})
	waitSetup(t, ld, 30*time.Second)
	time.Sleep(time.Second)
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := ld.Report()
	tr := rep.Traffic
	var total, dropped uint64
	_, dropped, _ = l.ac.Received(netip.Addr{})
	total = tr.Upstream.ServerReceived
	if rep.Up != n || tr.Sent == 0 || tr.Lost != dropped || tr.Sent-tr.Received != dropped {
		t.Errorf("up %d sent %d received %d lost %d; AC dropped %d", rep.Up, tr.Sent, tr.Received, tr.Lost, dropped)
	}
	u := tr.Upstream
	if u.Sessions != n || u.UpstreamLost != 0 || u.DownstreamLost != int64(dropped) || total != tr.Sent {
		t.Errorf("per direction %+v; want %d sessions, 0 lost upstream, %d downstream", u, n, dropped)
	}
	if dropped < tr.Sent/10-uint64(n) {
		t.Errorf("AC dropped %d of %d", dropped, tr.Sent)
	}
	// 1,000 packets/s in total for about a second (plus the set-up).
	if tr.Sent < 800 || tr.Sent > 1600 {
		t.Errorf("sent %d at 1000/s in total for about 1 s", tr.Sent)
	}
	t.Logf("%s", fmt.Sprint(tr.Sent, " sent, ", dropped, " dropped downstream"))
}

// TestNetnsRate: set-ups start no faster than the configured rate, and
// the in-flight cap holds.
func TestNetnsRate(t *testing.T) {
	const n, rate = 31, 100.0
	l := newLab(t, loadtest.Config{})
	ld := l.start(t, context.Background(), load.Config{Sessions: n, Rate: rate, InFlight: 2, UserPattern: "r%d", PasswordPattern: labPassword})
	maxIn := 0
	deadline := time.Now().Add(30 * time.Second)
	for !ld.Stats().SetupDone && time.Now().Before(deadline) {
		maxIn = max(maxIn, ld.Stats().InFlight)
		time.Sleep(time.Millisecond)
	}
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := ld.Report()
	if rep.Up != n {
		t.Fatalf("%d of %d up: %v", rep.Up, n, rep.Failures)
	}
	// 31 set-ups at 100/s: the last starts 300 ms after the first (less
	// a little scheduling jitter of the first dial), and not much later.
	if want := (n - 1) / rate; rep.SetupSeconds < 0.9*want || rep.SetupSeconds > 5*want {
		t.Errorf("set-up took %.3fs; at %v/s it should take about %.2fs", rep.SetupSeconds, rate, want)
	}
	if maxIn > 2 {
		t.Errorf("%d set-ups in flight, cap 2", maxIn)
	}
}

// TestNetnsFlood: flood mode sends batches as fast as it can once every
// set-up is done; whatever the loss, the books balance: every probe sent is
// received once or counted lost, and the echo server's count splits the
// loss per direction.
func TestNetnsFlood(t *testing.T) {
	const n = 4
	l := newLab(t, loadtest.Config{})
	ld := l.start(t, context.Background(), load.Config{Sessions: n, UserPattern: "f%d", PasswordPattern: labPassword,
		Traffic: load.Traffic{Target: echoTarget, Size: 64, Flood: true, QueryUpstream: true}})
	waitSetup(t, ld, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	tr := ld.Report().Traffic
	if tr.Sent < 1000 || tr.Received == 0 || tr.Received+tr.Lost != tr.Sent || tr.Duplicated != 0 {
		t.Errorf("flood: sent %d received %d lost %d duplicated %d", tr.Sent, tr.Received, tr.Lost, tr.Duplicated)
	}
	var server uint64
	for i := range n {
		got, _, _ := l.ac.Received(netip.AddrFrom4([4]byte{100, 64, 0, byte(1 + i)}))
		server += got
	}
	u := tr.Upstream
	if u == nil || u.Sessions != n || u.Sent != tr.Sent || u.ServerReceived != server ||
		u.UpstreamLost != int64(tr.Sent)-int64(server) || u.DownstreamLost != int64(server)-int64(tr.Received) {
		t.Errorf("per direction %+v; sent %d, AC received %d, echoes %d", u, tr.Sent, server, tr.Received)
	}
	if tr.SentPPS <= 0 || tr.DeliveredPPS <= 0 {
		t.Errorf("rates: sent %v/s delivered %v/s", tr.SentPPS, tr.DeliveredPPS)
	}
	t.Logf("flood: %d sent (%.0f/s), %d echoed back (%.0f/s), AC got %d", tr.Sent, tr.SentPPS, tr.Received, tr.DeliveredPPS, server)
}

// TestNetnsNoGoroutineLeak: after Stop, the emulator's goroutines (PPPoE
// readers, workers, launcher, dialers, traffic senders) are gone, also
// when the caller's context ends the run.
func TestNetnsNoGoroutineLeak(t *testing.T) {
	l := newLab(t, loadtest.Config{})
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	ld := l.start(t, ctx, load.Config{Sessions: 8, UserPattern: "g%d", PasswordPattern: labPassword,
		Traffic: load.Traffic{Target: echoTarget, PPS: 50}})
	waitSetup(t, ld, 30*time.Second)
	if during := runtime.NumGoroutine(); during <= before {
		t.Fatalf("%d goroutines while running, %d before: the count cannot tell", during, before)
	}
	cancel() // ends the run through the context, as Ctrl-C does
	deadline := time.Now().Add(5 * time.Second)
	for ld.Report() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	if rep := ld.Report(); rep == nil || rep.Up != 8 {
		t.Fatalf("report after cancel: %+v", rep)
	}
	var after int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines after Stop, %d before:\n%s", after, before, buf[:runtime.Stack(buf, true)])
}

// TestNetnsStopEarly: Stop during the set-up phase stops launching, ends
// the set-ups under way as "stopped", and still reports.
func TestNetnsStopEarly(t *testing.T) {
	const n = 50
	l := newLab(t, loadtest.Config{})
	ld := l.start(t, context.Background(), load.Config{Sessions: n, Rate: 10, UserPattern: "e%d", PasswordPattern: labPassword})
	time.Sleep(350 * time.Millisecond)
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ld.SetupDone():
	default:
		t.Fatal("SetupDone still open after Stop")
	}
	rep := ld.Report()
	if rep.Started < 2 || rep.Started > 6 || rep.Up+rep.Failed != rep.Started || rep.Failed != rep.Failures["stopped"] {
		t.Errorf("report after an early stop: started %d up %d failed %d %v", rep.Started, rep.Up, rep.Failed, rep.Failures)
	}
	if rep.Sessions != n {
		t.Errorf("sessions %d, want %d", rep.Sessions, n)
	}
}

// TestNetnsIPv6Refused: dual-stack subscribers of an access concentrator
// that grants no IPv6 (it Protocol-Rejects IPV6CP, RFC 1661 section 5.7)
// come up with IPv4 at once, their IPv6 set-ups counted as refused, not
// held until the IPv6 timeout.
func TestNetnsIPv6Refused(t *testing.T) {
	const n = 6
	l := newLab(t, loadtest.Config{})
	ld := l.start(t, context.Background(), load.Config{Sessions: n, UserPattern: "v%d", PasswordPattern: labPassword,
		IPv6: true, IPv6Timeout: time.Minute,
		Traffic: load.Traffic{Target: echoTarget, Target6: netip.MustParseAddrPort("[2001:db8:ff::2]:9000"), PPS: 20}})
	waitSetup(t, ld, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := ld.Report()
	if rep.Up != n || rep.Failed != 0 {
		t.Fatalf("up %d failed %d %v, want %d up", rep.Up, rep.Failed, rep.Failures, n)
	}
	if v := rep.IPv6; v == nil || v.Up != 0 || v.Failed != n || v.Failures["ipv6cp-refused"] != n {
		t.Errorf("IPv6 report %+v, want all %d refused", v, n)
	}
	if rep.SetupSeconds > 10 {
		t.Errorf("set-up took %.1fs: the refused IPv6 held it", rep.SetupSeconds)
	}
	tr := rep.Traffic
	if tr == nil || tr.IPv4 == nil || tr.IPv4.Sent == 0 || tr.IPv4.Lost != 0 || tr.IPv6 == nil || tr.IPv6.Sent != 0 {
		t.Errorf("traffic %+v: want IPv4 probes all back and no IPv6 ones", tr)
	}
	if tr != nil && tr.IPv4 != nil && tr.IPv4.SentOctets != tr.IPv4.Sent*64 {
		t.Errorf("IPv4 sent octets %d for %d probes of 64", tr.IPv4.SentOctets, tr.IPv4.Sent)
	}
}

var echoTarget6 = netip.MustParseAddrPort("[2001:db8:ff::2]:9000")

// TestNetnsDualStack brings up 200 dual-stack subscribers: IPV6CP next to
// IPCP, a Router Solicitation answered with the /64 (SLAAC from it and
// the interface identifier), DHCPv6 prefix delegation; then probes of both
// families both ways, counted per family with their octets. Half the
// run uses the four-message DHCPv6 exchange.
func TestNetnsDualStack(t *testing.T) {
	for _, rapid := range []bool{true, false} {
		t.Run(fmt.Sprintf("rapid-commit=%v", rapid), func(t *testing.T) {
			n := 200
			if !rapid {
				n = 20
			}
			l := newLab(t, loadtest.Config{IPv6: true, RapidCommit6: rapid})
			ld := l.start(t, context.Background(), load.Config{Sessions: n, UserPattern: "d%d", PasswordPattern: labPassword,
				Auth: load.AuthMixed, InFlight: 50, IPv6: true,
				Traffic: load.Traffic{Target: echoTarget, Target6: echoTarget6, Size: 100, PPS: 10}})
			waitSetup(t, ld, 30*time.Second)
			if st := ld.Stats(); st.IPv6Up != n {
				t.Errorf("at set-up done: %v, want %d with IPv6", st, n)
			}
			infos := ld.Sessions()
			time.Sleep(time.Second)
			if err := ld.Stop(); err != nil {
				t.Fatal(err)
			}
			rep := ld.Report()
			if rep.Up != n || rep.Failed != 0 || rep.Dropped != 0 {
				t.Fatalf("up %d failed %d %v dropped %d", rep.Up, rep.Failed, rep.Failures, rep.Dropped)
			}
			v := rep.IPv6
			if v == nil || v.Up != n || v.Failed != 0 || v.Ignored != 0 || v.Setup.Count != n {
				t.Errorf("IPv6 report %+v, want %d up", v, n)
			}
			// Every session has its own prefixes, its SLAAC address inside
			// its /64.
			delegated := map[netip.Prefix]bool{}
			for _, in := range infos {
				x := in.IPv6
				if x == nil {
					t.Errorf("session %d has no IPv6", in.Index)
					continue
				}
				if !x.Prefix.Contains(x.SLAAC) || x.SLAAC == x.Prefix.Addr() || x.Delegated.Bits() != 56 || !x.LinkLocal.IsLinkLocalUnicast() ||
					!x.Router.IsLinkLocalUnicast() || x.LinkLocal.As16()[15] == 0 && x.LinkLocal.As16()[14] == 0 {
					t.Errorf("session %d IPv6 %+v", in.Index, x)
				}
				// The SLAAC address ends in the interface identifier of
				// the link-local one (RFC 4862 section 5.3, RFC 5072
				// section 5).
				a, b := x.SLAAC.As16(), x.LinkLocal.As16()
				if [8]byte(a[8:]) != [8]byte(b[8:]) {
					t.Errorf("session %d: SLAAC %v and link-local %v differ in the interface identifier", in.Index, x.SLAAC, x.LinkLocal)
				}
				delegated[x.Delegated] = true
			}
			if len(delegated) != n {
				t.Errorf("%d distinct delegated prefixes for %d sessions", len(delegated), n)
			}
			tr := rep.Traffic
			if tr == nil || tr.IPv4 == nil || tr.IPv6 == nil {
				t.Fatalf("traffic %+v: want both families", tr)
			}
			for name, f := range map[string]*load.FamilyTraffic{"IPv4": tr.IPv4, "IPv6": tr.IPv6} {
				size := uint64(100)
				if name == "IPv6" {
					size = 120
				}
				if f.Sent < uint64(n)*5 || f.Received != f.Sent || f.Lost != 0 || f.Duplicated != 0 ||
					f.SentOctets != f.Sent*size || f.ReceivedOctets != f.Received*size || f.Size != int(size) {
					t.Errorf("%s traffic %+v: want ≥ %d probes of %d octets, all back", name, f, n*5, size)
				}
			}
			if tr.Sent != tr.IPv4.Sent || tr.Received != tr.IPv4.Received || tr.SentOctets != tr.IPv4.SentOctets {
				t.Errorf("the report's top-level figures %d/%d/%d are not IPv4's %+v", tr.Sent, tr.Received, tr.SentOctets, tr.IPv4)
			}
			// The AC echoed probes from both the SLAAC address and the
			// delegated prefix of each session.
			var fromSLAAC, fromDelegated uint64
			for _, in := range infos {
				if in.IPv6 == nil {
					continue
				}
				a, _, _ := l.ac.Received(in.IPv6.SLAAC)
				b, _, _ := l.ac.Received(in.IPv6.Delegated.Addr().Next())
				fromSLAAC += a
				fromDelegated += b
			}
			if fromSLAAC == 0 || fromDelegated == 0 || fromSLAAC+fromDelegated != tr.IPv6.Sent {
				t.Errorf("AC got %d IPv6 probes from SLAAC addresses and %d from delegated prefixes; %d sent", fromSLAAC, fromDelegated, tr.IPv6.Sent)
			}
			wantDHCP := uint64(1)
			if !rapid {
				wantDHCP = 2
			}
			if answered, _ := l.ac.IPv6Control(); answered != uint64(n)*(1+wantDHCP) {
				t.Errorf("AC answered %d IPv6 control packets, want %d (an RS and %d DHCPv6 per session)", answered, uint64(n)*(1+wantDHCP), wantDHCP)
			}
		})
	}
}

// TestNetnsIPv6Retransmit: the AC drops each session's first Router
// Solicitation and first DHCPv6 Solicit; the clients send them again and
// still come up with IPv6, a retransmission interval later.
func TestNetnsIPv6Retransmit(t *testing.T) {
	const n = 10
	l := newLab(t, loadtest.Config{IPv6: true, RapidCommit6: true, DropFirst6: true})
	ld := l.start(t, context.Background(), load.Config{Sessions: n, UserPattern: "r%d", PasswordPattern: labPassword, IPv6: true})
	waitSetup(t, ld, 30*time.Second)
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	v := ld.Report().IPv6
	if v == nil || v.Up != n || v.Setup.Count != n || v.Setup.P50 < 900 {
		t.Errorf("IPv6 report %+v: want %d up about a second after IPV6CP", v, n)
	}
	if answered, dropped := l.ac.IPv6Control(); dropped != 2*n || answered != 2*n {
		t.Errorf("AC answered %d and dropped %d IPv6 control packets, want %d each", answered, dropped, 2*n)
	}
}
