package pppoe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/race"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/packet"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// echoHandler answers every PPP IPv4 frame (protocol 0x0021) with the same
// frame, and records the sessions' life.
type echoHandler struct {
	mu    sync.Mutex
	up    map[uint16]*Session
	down  map[uint16]DownReason
	frame func(s *Session, payload []byte)
}

func newEchoHandler() *echoHandler {
	return &echoHandler{up: map[uint16]*Session{}, down: map[uint16]DownReason{}}
}

func (h *echoHandler) SessionUp(s *Session) {
	h.mu.Lock()
	h.up[s.ID] = s
	h.mu.Unlock()
}

// session waits for SessionUp of id (it follows the PADS).
func (h *echoHandler) session(t testing.TB, id uint16) *Session {
	t.Helper()
	var s *Session
	waitFor(t, fmt.Sprintf("SessionUp of %d", id), func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		s = h.up[id]
		return s != nil
	})
	return s
}

func (h *echoHandler) SessionDown(s *Session, why DownReason) {
	h.mu.Lock()
	h.down[s.ID] = why
	h.mu.Unlock()
}

func (h *echoHandler) SessionData(s *Session, payload []byte) {
	if h.frame != nil {
		h.frame(s, payload)
		return
	}
	if len(payload) > 2 && payload[0] == 0x00 && payload[1] == 0x21 {
		_ = s.Send(payload)
	}
}

type lab struct {
	ac, sub *testenv.Netns
	srv     *Server
	cli     *Client
	// stop stops the server (once) and reports Run's error.
	stop func()
}

// newLab joins an AC namespace and a subscriber namespace with a veth pair
// and starts a Server on ac0 and a Client on sub0; both stop at cleanup.
func newLab(t testing.TB, cfg ServerConfig, h Handler) *lab {
	t.Helper()
	return newLabWith(t, cfg, h, nil)
}

// newLabWith is newLab that runs host (when not nil) once the namespaces
// are linked and before the Server opens its sockets: host configuration
// such as VLAN sub-interfaces.
func newLabWith(t testing.TB, cfg ServerConfig, h Handler, host func(l *lab)) *lab {
	t.Helper()
	testenv.RequireRoot(t)
	l := &lab{ac: testenv.NewNetns(t, "ac"), sub: testenv.NewNetns(t, "sub")}
	testenv.Link(t, l.ac, "ac0", netip.Prefix{}, l.sub, "sub0", netip.Prefix{})
	if host != nil {
		host(l)
	}
	if cfg.Interface == "" {
		cfg.Interface = "ac0"
	}
	if cfg.ACName == "" {
		cfg.ACName = "bras-lab"
	}
	err := l.ac.Do(func() error {
		var err error
		l.srv, err = NewServer(cfg, h)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	l.cli = l.newClient(t, "sub0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.srv.Run(ctx) }()
	var once sync.Once
	l.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Server.Run: %v", err)
			}
		})
	}
	t.Cleanup(l.stop)
	return l
}

func (l *lab) newClient(t testing.TB, ifname string) *Client {
	t.Helper()
	var cli *Client
	if err := l.sub.Do(func() error {
		var err error
		cli, err = NewClient(ClientConfig{Interface: ifname})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cli.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Client.Run: %v", err)
		}
	})
	return cli
}

func subMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x53, 0x55, 0x42, byte(i >> 8), byte(i)}
}

// ipv4Frame is a PPP frame (protocol 0x0021) carrying a small IPv4/UDP
// packet tagged with n.
func ipv4Frame(n int) []byte {
	b := []byte{0x00, 0x21, // PPP protocol IPv4
		0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, // IPv4 header, UDP
		100, 64, byte(n >> 8), byte(n), 192, 0, 2, 1, // src, dst
		0x30, 0x39, 0x30, 0x39, 0, 12, 0, 0, // UDP header
	}
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func TestNetnsSessions(t *testing.T) {
	const n = 100
	h := newEchoHandler()
	l := newLab(t, ServerConfig{ServicePolicy: ServiceList, Services: []string{"internet"}}, h)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sessions := make([]*ClientSession, n)
	echoes := make([]chan []byte, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(25)
	for i := range n {
		echoes[i] = make(chan []byte, 4)
		g.Go(func() error {
			cs, err := l.cli.Dial(gctx, subMAC(i), DialOptions{ServiceName: "internet", ACName: "bras-lab",
				Timeout: 200 * time.Millisecond, Receive: func(p []byte) {
					select {
					case echoes[i] <- append([]byte(nil), p...):
					default:
					}
				}})
			if err != nil {
				return fmt.Errorf("dial %d: %w", i, err)
			}
			sessions[i] = cs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := l.srv.NumSessions(); got != n {
		t.Fatalf("AC has %d sessions, want %d", got, n)
	}
	ids := map[uint16]bool{}
	for i, cs := range sessions {
		if cs.ServiceName != "internet" || cs.ACName != "bras-lab" || cs.MaxPayload != 1492 || ids[cs.ID] {
			t.Errorf("session %d: %+v", i, cs)
		}
		ids[cs.ID] = true
		s := h.session(t, cs.ID)
		if s == nil || !bytes.Equal(s.ClientMAC[:], subMAC(i)) || s.Interface != "ac0" {
			t.Errorf("session %d: AC side %+v", i, s)
		}
	}

	// IP packets over each session, both ways.
	for i, cs := range sessions {
		want := ipv4Frame(i)
		if err := cs.Send(want); err != nil {
			t.Fatalf("session %d: Send: %v", i, err)
		}
		select {
		case got := <-echoes[i]:
			if !bytes.Equal(got, want) {
				t.Errorf("session %d: echo %x, want %x", i, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("session %d: no echo", i)
		}
	}
	waitFor(t, "AC counters", func() bool { return l.srv.Stats().SessionFramesOut == n })
	if st := l.srv.Stats(); st.SessionFramesIn != n || st.Malformed != 0 || st.SessionUnknown != 0 {
		t.Errorf("AC stats after the exchange: %+v", st)
	}

	// Tear down: even sessions by the client's PADT, odd ones by the AC's.
	for i, cs := range sessions {
		if i%2 == 0 {
			if err := cs.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		s := h.session(t, cs.ID)
		l.srv.Close(s, "administrative")
	}
	for i, cs := range sessions {
		select {
		case <-cs.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("session %d not down", i)
		}
		if i%2 == 1 && !errors.Is(cs.Err(), ErrPADT) {
			t.Errorf("session %d ended with %v, want ErrPADT", i, cs.Err())
		}
	}
	waitFor(t, "AC sessions gone", func() bool { return l.srv.NumSessions() == 0 })
	h.mu.Lock()
	for i, cs := range sessions {
		want := DownPADT
		if i%2 == 1 {
			want = DownLocal
		}
		if got := h.down[cs.ID]; got != want {
			t.Errorf("session %d: AC saw %v, want %v", i, got, want)
		}
	}
	h.mu.Unlock()
	if got := l.cli.NumSessions(); got != 0 {
		t.Errorf("client still has %d sessions", got)
	}
	// After a PADT no frame may be sent on the session, section 5.5.
	if err := sessions[0].Send(ipv4Frame(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after PADT = %v, want ErrClosed", err)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNetnsPADIFlood(t *testing.T) {
	h := newEchoHandler()
	l := newLab(t, ServerConfig{RateTableSize: 1024}, h)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const flood = 10000
	floodDone := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(7, 7))
		for i := range flood {
			if i%500 == 499 {
				// Bursts of 500 frames: a flood, but not one that overflows the
				// socket buffer of a reader slowed by -race on a shared box.
				time.Sleep(time.Millisecond)
			}
			var m MAC
			binary.BigEndian.PutUint32(m[2:], rng.Uint32())
			m[0], m[1] = 0x0a, byte(rng.Uint32())
			if err := l.cli.sendDiscovery(Broadcast, m, 0, padi("")); err != nil {
				floodDone <- err
				return
			}
		}
		floodDone <- nil
	}()
	// Subscribers dial while the flood runs.
	var g errgroup.Group
	for i := range 10 {
		g.Go(func() error {
			cs, err := l.cli.Dial(ctx, subMAC(1000+i), DialOptions{Timeout: 200 * time.Millisecond, PADIAttempts: 10})
			if err != nil {
				return err
			}
			if err := cs.Send(ipv4Frame(i)); err != nil {
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("dial during the flood: %v", err)
	}
	if err := <-floodDone; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.srv.Stats().PADIReceived < flood && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := l.srv.Stats().PADIReceived; got < flood {
		t.Errorf("the AC read %d PADIs of %d", got, flood+10)
	}
	st := l.srv.Stats()
	t.Logf("flood: %+v", st)
	// No per-MAC state beyond the limiter's bounded table: the sessions
	// table and the per-MAC session counts only hold the 10 subscribers.
	p := l.srv.ports[0]
	p.mu.RLock()
	nsess, nmac := len(p.sessions), len(p.perMAC)
	p.mu.RUnlock()
	if nsess != 10 || nmac != 10 || l.srv.RateTableSize() != 1024 {
		t.Errorf("after the flood: %d sessions, %d per-MAC entries, rate table %d", nsess, nmac, l.srv.RateTableSize())
	}
}

func TestNetnsVLAN(t *testing.T) {
	testenv.RequireRoot(t)
	probe := testenv.NewNetns(t, "vl")
	testenv.Link(t, probe, "p0", netip.Prefix{}, probe, "p1", netip.Prefix{})
	if out, err := probe.Command("ip", "link", "add", "link", "p0", "name", "p0.5", "type", "vlan", "id", "5").CombinedOutput(); err != nil {
		t.Skipf("skipped: this kernel cannot create 802.1Q sub-interfaces (no 8021q support): %v: %s", err, out)
	}
	h := newEchoHandler()
	// The sub-interfaces are the host's: the server only opens them.
	l := newLabWith(t, ServerConfig{Interface: "ac0", VLANs: []uint16{100, 200}}, h, func(l *lab) {
		for _, vid := range []string{"100", "200"} {
			l.ac.MustRun(t, "ip", "link", "add", "link", "ac0", "name", "ac0."+vid, "type", "vlan", "id", vid)
			l.ac.MustRun(t, "ip", "link", "set", "ac0."+vid, "up")
		}
	})
	l.sub.MustRun(t, "ip", "link", "add", "link", "sub0", "name", "sub0.200", "type", "vlan", "id", "200")
	l.sub.MustRun(t, "ip", "link", "set", "sub0.200", "up")
	cli := l.newClient(t, "sub0.200")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan []byte, 1)
	cs, err := cli.Dial(ctx, subMAC(1), DialOptions{Timeout: 200 * time.Millisecond,
		Receive: func(p []byte) { got <- append([]byte(nil), p...) }})
	if err != nil {
		t.Fatal(err)
	}
	s := h.session(t, cs.ID)
	if s == nil || s.VLAN != 200 || s.Interface != "ac0.200" {
		t.Fatalf("AC session %+v, want VLAN 200 on ac0.200", s)
	}
	if err := cs.Send(ipv4Frame(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, ipv4Frame(1)) {
			t.Errorf("echo %x", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo over VLAN 200")
	}
	out := l.ac.MustRun(t, "ip", "-d", "link", "show", "ac0.100")
	if !bytes.Contains([]byte(out), []byte("vlan protocol 802.1Q id 100")) {
		t.Errorf("ac0.100: %s", out)
	}
}

func TestNetnsPADODelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	l := newLab(t, ServerConfig{PADODelay: delay}, newEchoHandler())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	cs, err := l.cli.Dial(ctx, subMAC(1), DialOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("discovery took %v with a PADO delay of %v", took, delay)
	}
	if st := l.srv.Stats(); st.PADOSent != 1 || st.PADSSent != 1 {
		t.Errorf("stats %+v", st)
	}
	_ = cs.Close()
}

// TestNetnsStopsCleanly checks that stopping the server ends its sessions
// with a PADT (the client sees ErrPADT) and leaves no goroutine behind.
func TestNetnsStopsCleanly(t *testing.T) {
	testenv.RequireRoot(t)
	before := runtime.NumGoroutine()
	var cs *ClientSession
	t.Run("lab", func(t *testing.T) {
		l := newLab(t, ServerConfig{}, newEchoHandler())
		var err error
		cs, err = l.cli.Dial(context.Background(), subMAC(1), DialOptions{Timeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		l.stop()
		select {
		case <-cs.Done():
		case <-time.After(5 * time.Second):
		}
		if !errors.Is(cs.Err(), ErrPADT) {
			t.Errorf("client session after the AC stopped: %v, want ErrPADT", cs.Err())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left (was %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestNetnsUserVLANs serves 802.1Q VLANs 100 and 200 on one interface with
// the tags handled in user space: a subscriber on VLAN 200 comes up and
// exchanges frames, one on VLAN 300 (not served) and an untagged one get
// no answer.
func TestNetnsUserVLANs(t *testing.T) {
	h := newEchoHandler()
	l := newLab(t, ServerConfig{VLANs: []uint16{100, 200}, UserVLANs: true}, h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan []byte, 1)
	cs, err := l.cli.Dial(ctx, subMAC(1), DialOptions{VLAN: 200, Timeout: 200 * time.Millisecond,
		Receive: func(p []byte) { got <- append([]byte(nil), p...) }})
	if err != nil {
		t.Fatal(err)
	}
	s := h.session(t, cs.ID)
	if s == nil || s.VLAN != 200 || cs.VLAN != 200 {
		t.Fatalf("AC session %+v, client VLAN %d; want VLAN 200", s, cs.VLAN)
	}
	if err := cs.Send(ipv4Frame(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, ipv4Frame(1)) {
			t.Errorf("echo %x", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo over VLAN 200")
	}
	for _, vid := range []uint16{300, 0} {
		_, err := l.cli.Dial(ctx, subMAC(2), DialOptions{VLAN: vid, Timeout: 100 * time.Millisecond, PADIAttempts: 2})
		if !errors.Is(err, ErrNoOffer) {
			t.Errorf("dial on VLAN %d: %v, want ErrNoOffer", vid, err)
		}
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the PADT on VLAN 200", func() bool { return l.srv.NumSessions() == 0 })
}

// TestNetnsSendAllocs checks that sending a session frame on a real raw
// socket allocates nothing, on the AC and on the client.
func TestNetnsSendAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("skipped: allocation counts are meaningless under the race detector")
	}
	h := newEchoHandler()
	h.frame = func(*Session, []byte) {}
	l := newLab(t, ServerConfig{}, h)
	cs, err := l.cli.Dial(context.Background(), subMAC(1), DialOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cs.SetReceive(func([]byte) {})
	s := h.session(t, cs.ID)
	payload := ipv4Frame(1)
	for name, send := range map[string]func([]byte) error{"AC": s.Send, "client": cs.Send} {
		if n := testing.AllocsPerRun(1000, func() {
			if err := send(payload); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s Send allocates %v times per frame, want 0", name, n)
		}
	}
}

// TestNetnsDialRetries checks the client's retries (RFC 2516 section 8):
// unanswered PADIs are resent with doubling waits, and a PADS with an
// error tag is reported.
func TestNetnsDialRetries(t *testing.T) {
	l := newLab(t, ServerConfig{ServicePolicy: ServiceBlank, MaxSessionsPerMAC: 1}, newEchoHandler())
	ctx := context.Background()
	start := time.Now()
	_, err := l.cli.Dial(ctx, subMAC(1), DialOptions{ServiceName: "gold", Timeout: 50 * time.Millisecond, PADIAttempts: 3})
	took := time.Since(start)
	if !errors.Is(err, ErrNoOffer) {
		t.Fatalf("dial for a service not offered: %v, want ErrNoOffer", err)
	}
	// Waits of 50, 100 and 200 ms.
	if took < 350*time.Millisecond || took > 3*time.Second {
		t.Errorf("3 PADIs took %v, want about 350ms of doubling waits", took)
	}
	waitFor(t, "3 PADIs", func() bool { return l.srv.Stats().ServiceRejected == 3 })
	if st := l.srv.Stats(); st.PADIReceived != 3 || st.PADOSent != 0 {
		t.Errorf("AC stats %+v, want 3 PADIs and no PADO", st)
	}

	if _, err := l.cli.Dial(ctx, subMAC(2), DialOptions{Timeout: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// The second session of one MAC is refused with AC-System-Error.
	_, err = l.cli.Dial(ctx, subMAC(2), DialOptions{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrRefused) {
		t.Errorf("second session of a MAC: %v, want ErrRefused", err)
	}
}

func TestAcceptablePADO(t *testing.T) {
	pado := Packet{Code: CodePADO, Tags: []Tag{
		{Type: TagACName, Value: []byte("bras-1")},
		{Type: TagServiceName, Value: []byte("")},
		{Type: TagServiceName, Value: []byte("gold")},
	}}
	for _, tt := range []struct {
		name string
		o    DialOptions
		want bool
	}{
		{"any AC, any service", DialOptions{}, true},
		{"by AC-Name", DialOptions{ACName: "bras-1"}, true},
		{"other AC-Name", DialOptions{ACName: "bras-2"}, false},
		{"offered service", DialOptions{ServiceName: "gold"}, true},
		{"service not offered", DialOptions{ServiceName: "silver"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := acceptable(&pado, &tt.o); got != tt.want {
				t.Errorf("acceptable = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNetnsMaxPayload agrees a PPP-Max-Payload of 1500 (RFC 4638) on links
// with an MTU of 1508 and carries a full 1500-octet PPP payload; a second
// subscriber keeps 1492 and its access-line tag (TR-101) reaches the AC's
// Session.
func TestNetnsMaxPayload(t *testing.T) {
	h := newEchoHandler()
	l := newLab(t, ServerConfig{}, h)
	l.ac.MustRun(t, "ip", "link", "set", "ac0", "mtu", "1508")
	l.sub.MustRun(t, "ip", "link", "set", "sub0", "mtu", "1508")
	// The AC reads the MTU when it opens its sockets: a second server.
	var srv *Server
	if err := l.ac.Do(func() error {
		var err error
		l.stop()
		srv, err = NewServer(ServerConfig{Interface: "ac0", ACName: "bras-lab"}, h)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	got := make(chan []byte, 1)
	cs, err := l.cli.Dial(ctx, subMAC(1), DialOptions{MaxPayload: 1500, Timeout: 200 * time.Millisecond,
		Receive: func(p []byte) { got <- append([]byte(nil), p...) }})
	if err != nil {
		t.Fatal(err)
	}
	if s := h.session(t, cs.ID); cs.MaxPayload != 1500 || s.MaxPayload != 1500 || s.AccessLine != nil {
		t.Fatalf("max payload: client %d, AC %d; want 1500", cs.MaxPayload, s.MaxPayload)
	}
	big := append([]byte{0x00, 0x21}, bytes.Repeat([]byte{0xab}, 1500)...)
	if err := cs.Send(big); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, big) {
			t.Errorf("echo of %d octets, want %d", len(b), len(big))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo of the 1500-octet payload")
	}
	// Without the tag the session keeps 1492. This subscriber's PADR
	// carries access-line information as a DSLAM would insert it.
	line := &AccessLine{CircuitID: "dslam7 atm 1/1/04:0.35", RemoteID: "cust-0042", ActualRateDown: 16000, ActualRateUp: 1024}
	cs2, err := l.cli.Dial(ctx, subMAC(2), DialOptions{Timeout: 200 * time.Millisecond, AccessLine: line})
	if err != nil {
		t.Fatal(err)
	}
	if cs2.MaxPayload != 1492 {
		t.Errorf("max payload without PPP-Max-Payload: %d, want 1492", cs2.MaxPayload)
	}
	if s := h.session(t, cs2.ID); s.AccessLine == nil || !cmp.Equal(*s.AccessLine, *line, cmpopts.EquateEmpty()) {
		t.Errorf("AC access line %+v, want %+v", s.AccessLine, line)
	}
}

// TestNetnsThousandsOfSessions runs 2000 sessions from distinct MACs on the
// client's one socket.
func TestNetnsThousandsOfSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: 2000 sessions")
	}
	const n = 2000
	h := newEchoHandler()
	l := newLab(t, ServerConfig{PADIRate: -1}, h)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	echoed := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	start := time.Now()
	for i := range n {
		g.Go(func() error {
			cs, err := l.cli.Dial(gctx, subMAC(i), DialOptions{Timeout: 500 * time.Millisecond,
				Receive: func([]byte) { mu.Lock(); echoed++; mu.Unlock() }})
			if err != nil {
				return err
			}
			return cs.Send(ipv4Frame(i))
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sessions up in %v", n, time.Since(start))
	if l.cli.NumSessions() != n || l.srv.NumSessions() != n {
		t.Errorf("sessions: client %d, AC %d; want %d", l.cli.NumSessions(), l.srv.NumSessions(), n)
	}
	waitFor(t, "every echo", func() bool { mu.Lock(); defer mu.Unlock(); return echoed == n })
}

// TestNetnsSendBatch sends 300 frames over 10 sessions with SendBatch
// (sendmmsg) and checks that each arrives, in order per session, and that
// a warm batch allocates nothing.
func TestNetnsSendBatch(t *testing.T) {
	h := newEchoHandler()
	l := newLab(t, ServerConfig{}, h)
	const nsess, per = 10, 30
	var mu sync.Mutex
	got := make([][]int, nsess)
	var frames []OutFrame
	for i := range nsess {
		cs, err := l.cli.Dial(context.Background(), subMAC(i), DialOptions{Timeout: 200 * time.Millisecond,
			Receive: func(p []byte) {
				mu.Lock()
				got[i] = append(got[i], int(binary.BigEndian.Uint32(p[len(p)-4:])))
				mu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		s := h.session(t, cs.ID)
		for k := range per {
			frames = append(frames, OutFrame{Session: s, Payload: ipv4Frame(k)})
		}
	}
	// Interleave the sessions as a forwarding batch would.
	mixed := make([]OutFrame, 0, len(frames))
	for k := range per {
		for i := range nsess {
			mixed = append(mixed, frames[i*per+k])
		}
	}
	n, err := l.srv.SendBatch(mixed)
	if err != nil || n != len(mixed) {
		t.Fatalf("SendBatch = %d, %v; want %d", n, err, len(mixed))
	}
	waitFor(t, "every frame", func() bool {
		mu.Lock()
		defer mu.Unlock()
		total := 0
		for _, g := range got {
			total += len(g)
		}
		return total == len(mixed)
	})
	want := make([]int, per)
	for k := range want {
		want[k] = k
	}
	mu.Lock()
	for i := range got {
		if !slicesEqual(got[i], want) {
			t.Errorf("session %d received %v", i, got[i])
		}
	}
	mu.Unlock()
	if !race.Enabled {
		if a := testing.AllocsPerRun(100, func() {
			if _, err := l.srv.SendBatch(mixed[:64]); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("SendBatch of 64 frames allocates %v times", a)
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// benchSession brings up one session for the send benchmarks.
func benchSession(b *testing.B) (*lab, *Session) {
	h := newEchoHandler()
	h.frame = func(*Session, []byte) {}
	l := newLab(b, ServerConfig{}, h)
	cs, err := l.cli.Dial(context.Background(), subMAC(1), DialOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	cs.SetReceive(func([]byte) {})
	return l, h.session(b, cs.ID)
}

// BenchmarkNetnsSend is the AC's per-frame send path (write(2)) of
// 1400-octet PPP frames on a real veth.
func BenchmarkNetnsSend(b *testing.B) {
	_, s := benchSession(b)
	payload := append([]byte{0x00, 0x21}, make([]byte, 1398)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := s.Send(payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkNetnsSendBatch is the same with SendBatch, 64 frames per
// sendmmsg(2).
func BenchmarkNetnsSendBatch(b *testing.B) {
	l, s := benchSession(b)
	payload := append([]byte{0x00, 0x21}, make([]byte, 1398)...)
	batch := make([]OutFrame, 64)
	for i := range batch {
		batch[i] = OutFrame{Session: s, Payload: payload}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	n := 0
	for b.Loop() {
		if n%len(batch) == 0 {
			if _, err := l.srv.SendBatch(batch); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// TestNetnsQinQ serves the double-tagged VLAN 10/20 (802.1ad outside
// 802.1Q) in user space.
func TestNetnsQinQ(t *testing.T) {
	h := newEchoHandler()
	l := newLab(t, ServerConfig{UserVLANs: true, QinQ: []VLANPair{{Outer: 10, Inner: 20}}}, h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan []byte, 1)
	cs, err := l.cli.Dial(ctx, subMAC(1), DialOptions{OuterVLAN: 10, VLAN: 20, Timeout: 200 * time.Millisecond,
		Receive: func(p []byte) { got <- append([]byte(nil), p...) }})
	if err != nil {
		t.Fatal(err)
	}
	s := h.session(t, cs.ID)
	if s.OuterVLAN != 10 || s.VLAN != 20 || cs.OuterVLAN != 10 || cs.VLAN != 20 {
		t.Fatalf("AC session VLANs %d/%d, client %d/%d; want 10/20", s.OuterVLAN, s.VLAN, cs.OuterVLAN, cs.VLAN)
	}
	if err := cs.Send(ipv4Frame(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, ipv4Frame(1)) {
			t.Errorf("echo %x", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo over QinQ 10/20")
	}
	if _, err := l.cli.Dial(ctx, subMAC(2), DialOptions{OuterVLAN: 11, VLAN: 20, Timeout: 100 * time.Millisecond, PADIAttempts: 2}); !errors.Is(err, ErrNoOffer) {
		t.Errorf("dial on QinQ 11/20: %v, want ErrNoOffer", err)
	}
	_ = cs.Close()
	waitFor(t, "the PADT over QinQ", func() bool { return l.srv.NumSessions() == 0 })
}

// BenchmarkNetnsDial measures PPPoE discovery (PADI, PADO, PADR, PADS)
// through a veth pair, 64 dials in flight.
func BenchmarkNetnsDial(b *testing.B) {
	h := newEchoHandler()
	l := newLab(b, ServerConfig{PADIRate: -1}, h)
	ctx := context.Background()
	var g errgroup.Group
	g.SetLimit(64)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		mac := subMAC(i % 60000)
		g.Go(func() error {
			cs, err := l.cli.Dial(ctx, mac, DialOptions{Timeout: time.Second})
			if err != nil {
				return err
			}
			return cs.Close()
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sessions/s")
}

// TestNetnsRxRing: session frames come through the PACKET_MMAP receive
// ring (or recvmmsg with NoRxRing), every slot handed back: more frames
// than the ring has slots all arrive, in order of the session.
func TestNetnsRxRing(t *testing.T) {
	for _, tc := range []struct {
		noRing bool
		slots  int
	}{{false, 0}, {false, 256}, {true, 0}} {
		t.Run(fmt.Sprintf("NoRxRing=%v,RxRing=%d", tc.noRing, tc.slots), func(t *testing.T) {
			h := newEchoHandler()
			l := newLab(t, ServerConfig{NoRxRing: tc.noRing, RxRing: tc.slots}, h)
			want := tc.slots
			if want == 0 {
				want = DefaultRxRing
			}
			r := l.srv.ports[0].ring
			if (r != nil) == tc.noRing || r != nil && r.frames != want {
				t.Fatalf("ring %+v with NoRxRing %v, RxRing %d", r, tc.noRing, tc.slots)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var echoed atomic.Int64
			cs, err := l.cli.Dial(ctx, subMAC(1), DialOptions{Timeout: 200 * time.Millisecond, Receive: func([]byte) { echoed.Add(1) }})
			if err != nil {
				t.Fatal(err)
			}
			h.session(t, cs.ID)
			const n = DefaultRxRing + 500
			for i := range n {
				if err := cs.Send(ipv4Frame(i)); err != nil {
					t.Fatal(err)
				}
				if i%64 == 63 {
					time.Sleep(time.Millisecond) // no overflow: every frame is to arrive
				}
			}
			waitFor(t, "every frame at the AC", func() bool { return l.srv.Stats().SessionFramesIn == n })
			waitFor(t, "every echo at the client", func() bool { return echoed.Load() == n })
		})
	}
}

// floodHandler is slow with data (a batch takes 20 ms) and counts the
// LCP frames that reach it.
type floodHandler struct {
	*echoHandler
	lcp, data atomic.Int64
}

func (h *floodHandler) SessionData(_ *Session, p []byte) {
	if len(p) >= 2 && p[0] == 0xc0 && p[1] == 0x21 {
		h.lcp.Add(1)
	}
}

func (h *floodHandler) SessionDataBatch(frames []InFrame) {
	time.Sleep(20 * time.Millisecond)
	for _, f := range frames {
		h.SessionData(f.Session, f.Payload)
	}
	h.data.Add(int64(len(frames)))
}

// TestNetnsControlPriority: under a flood of data that the handler cannot
// keep up with (the data socket's ring overflows and the kernel drops
// data), the subscriber's LCP Echo-Requests in the middle of it all
// arrive, on the control socket.
func TestNetnsControlPriority(t *testing.T) {
	h := &floodHandler{echoHandler: newEchoHandler()}
	l := newLab(t, ServerConfig{}, h)
	if l.srv.ports[0].ctrl == nil {
		t.Fatal("no control socket")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := l.cli.Dial(ctx, subMAC(1), DialOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.session(t, cs.ID)
	const echoes = 10
	sent := 0
	for i := range 20000 {
		if err := cs.Send(ipv4Frame(i)); err != nil {
			t.Fatal(err)
		}
		if i%2000 == 1999 {
			echo := []byte{0xc0, 0x21, 0x09, byte(i / 2000), 0x00, 0x08, 0, 0, 0, 0} // Echo-Request, RFC 1661 section 5.8
			if err := cs.Send(echo); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	waitFor(t, "every LCP Echo-Request", func() bool { return h.lcp.Load() == echoes })
	if d := h.data.Load(); d >= 20000 {
		t.Logf("no data was dropped (%d delivered): the flood did not overflow the ring", d)
	}
	if sent != echoes {
		t.Fatalf("sent %d echoes", sent)
	}
}

// TestNetnsPADSBeforeSessionFrames: replies to a burst of discovery
// frames leave in batches, and the sessions their PADSes open are
// announced to the handler only after them. A handler that speaks first on
// a new session (the LAC's LCP Configure-Request) must never reach the
// subscriber before its PADS (RFC 2516 section 5.4: the host learns the
// SESSION_ID from it). A sniffer on the subscriber's link sees every
// PADS, each before its session's first frame.
func TestNetnsPADSBeforeSessionFrames(t *testing.T) {
	const n = 128
	h := newEchoHandler()
	lcp := []byte{0xc0, 0x21, 0x01, 0x01, 0x00, 0x04} // an empty Configure-Request
	first := &firstSpeaker{echoHandler: h, frame: lcp}
	l := newLab(t, ServerConfig{PADIRate: -1}, first)

	var sn *packet.Conn
	if err := l.sub.Do(func() error {
		ifi, err := net.InterfaceByName("sub0")
		if err != nil {
			return err
		}
		if sn, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil); err != nil {
			return err
		}
		rc, err := sn.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) { // a burst must not overflow it
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
		}); err != nil {
			return err
		}
		return serr
	}); err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	type seen struct{ pads, data int } // positions on the link, 0: not seen
	var mu sync.Mutex
	order := map[uint16]*seen{}
	go func() {
		buf := make([]byte, 2048)
		for pos := 1; ; pos++ {
			m, _, err := sn.ReadFrom(buf)
			if err != nil {
				return
			}
			f := buf[:m]
			if len(f) < 20 || f[6] == 0x02 && f[7] == 0x53 { // short, or sent by a subscriber
				continue
			}
			et, code, id := binary.BigEndian.Uint16(f[12:]), f[15], binary.BigEndian.Uint16(f[16:])
			mu.Lock()
			s := order[id]
			if s == nil {
				s = &seen{}
				order[id] = s
			}
			switch {
			case et == uint16(EtherTypeDiscovery) && Code(code) == CodePADS && s.pads == 0:
				s.pads = pos
			case et == uint16(EtherTypeSession) && s.data == 0:
				s.data = pos
			}
			mu.Unlock()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	ids := make([]uint16, n)
	for i := range n {
		g.Go(func() error {
			cs, err := l.cli.Dial(gctx, subMAC(i), DialOptions{Timeout: time.Second})
			if err != nil {
				return err
			}
			ids[i] = cs.ID
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	all := func() bool {
		for _, id := range ids {
			if s := order[id]; s == nil || s.data == 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		if all() || time.Now().After(deadline) {
			break
		}
		mu.Unlock()
	}
	defer mu.Unlock()
	if !all() {
		pads, data := 0, 0
		for _, s := range order {
			pads, data = pads+min(s.pads, 1), data+min(s.data, 1)
		}
		t.Fatalf("the link showed %d PADSes and %d first session frames for %d sessions", pads, data, len(ids))
	}
	for _, id := range ids {
		if s := order[id]; s.pads == 0 || s.pads > s.data {
			t.Errorf("session %d: PADS at %d, its first session frame at %d on the link; want the PADS first", id, s.pads, s.data)
		}
	}
	if st := l.srv.Stats(); st.PADSSent != n || st.SendErrors != 0 {
		t.Errorf("PADS sent %d, send errors %d; want %d and 0", st.PADSSent, st.SendErrors, n)
	}
}

// firstSpeaker is an echoHandler that sends frame on every new session as
// soon as it is told of it.
type firstSpeaker struct {
	*echoHandler
	frame []byte
}

func (h *firstSpeaker) SessionUp(s *Session) {
	h.echoHandler.SessionUp(s)
	_ = s.Send(h.frame)
}
