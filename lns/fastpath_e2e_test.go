package lns_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/ppp"
)

// TestLNSFastPathEndToEnd runs the LNS with [dataplane] engine = xdp on
// both of its interfaces and checks what an operator relies on when the
// kernel forwards instead of the daemon: the subscriber's traffic goes
// through the XDP program both ways (its counters say so), a CoA that
// halves the rate halves what the subscriber receives, the accounting
// counts what the fast path carried, and once the session is torn down
// its address no longer forwards.
func TestLNSFastPathEndToEnd(t *testing.T) {
	users := []testenv.RadiusUser{
		{Name: "erin", Password: "ratelimit", Reply: []testenv.RadiusAttr{{Name: "Filter-Id", Value: "4000/4000"}}},
		{Name: "bob", Password: "builder"},
	}
	l := startLabWith(t, users, "[dataplane]\nengine = xdp\ninterfaces = eth0, eth1\n")
	// XDP_REDIRECT into a veth reaches the far end only when it has
	// NAPI, which GRO gives it (shared/notes/xdp.md); a NIC needs nothing.
	l.lac.MustRun(t, "ethtool", "-K", "eth0", "gro", "on")
	l.up.MustRun(t, "ethtool", "-K", "eth0", "gro", "on")
	lac := startSimLAC(t, context.Background(), l.lac, "lac1", lnsAddr, "sekrit")

	t.Run("echo through the fast path", func(t *testing.T) {
		s := lac.dialAuth("bob", "builder", "02:00:00:00:00:02", ppp.AuthCHAPMD5)
		n := waitUp(t, s)
		// The first echo finds no neighbour entry for the upstream host:
		// the fast path hands it to the kernel, which resolves it.
		ping(t, s, n.Local, 0)
		before := l.fastPath(t)
		const pings = 20
		for i := range pings {
			ping(t, s, n.Local, 1+i)
		}
		after := l.fastPath(t)
		if up, down := after["forwarded_up"]-before["forwarded_up"], after["forwarded_down"]-before["forwarded_down"]; up < pings || down < pings {
			t.Errorf("the fast path forwarded %d up and %d down for %d echoes (%v)", up, down, pings, after)
		}
		// The session's counters are what both paths carried.
		out := l.httpGet(t, "/api/v1/sessions?user=bob", "tok")
		if !strings.Contains(out, `"user":"bob"`) {
			t.Fatalf("GET /api/v1/sessions?user=bob: %s", out)
		}
		if in := jsonInt(out, "in_packets"); in < pings {
			t.Errorf("bob's in_packets %d after %d echoes: %s", in, pings, out)
		}

		// Torn down: the fast path forgets the address, so upstream
		// traffic to it no longer reaches the LAC.
		out = l.lns.MustRun(t, "sh", "-c", "printf 'User-Name = bob\\nEvent-Timestamp = %s\\n' \"$(date +%s)\" | radclient -x 127.0.0.1:3799 disconnect coasecret")
		if !strings.Contains(out, "Disconnect-ACK") {
			t.Fatalf("radclient disconnect: %s", out)
		}
		waitCDN(t, s, 10*time.Second)
		dst := netip.AddrPortFrom(n.Local, 9)
		fwd := l.fastPath(t)["forwarded_down"]
		l.flood.Store(&dst)
		time.Sleep(500 * time.Millisecond)
		l.flood.Store(nil)
		if got := l.fastPath(t)["forwarded_down"] - fwd; got != 0 {
			t.Errorf("the fast path forwarded %d packets to %v after its session was torn down", got, n.Local)
		}
		select {
		case pkt := <-s.ip:
			t.Errorf("a packet reached the torn-down session: % x", pkt[:20])
		default:
		}
	})

	t.Run("CoA halves the rate", func(t *testing.T) {
		s := lac.dialAuth("erin", "ratelimit", "02:00:00:00:00:07", ppp.AuthPAP)
		n := waitUp(t, s)
		dst := netip.AddrPortFrom(n.Local, 9)
		l.flood.Store(&dst)
		defer l.flood.Store(nil)
		dropped := l.fastPath(t)["drop_policer"]
		full := measure(s, 2*time.Second)
		out := l.lns.MustRun(t, "sh", "-c", "printf 'User-Name = erin\\nFilter-Id = \"2000/2000\"\\nEvent-Timestamp = %s\\n' \"$(date +%s)\" | radclient -x 127.0.0.1:3799 coa coasecret")
		if !strings.Contains(out, "CoA-ACK") {
			t.Fatalf("radclient CoA: %s", out)
		}
		half := measure(s, 2*time.Second)
		t.Logf("erin downstream through the fast path: %.0f kbit/s at 4000/4000, %.0f kbit/s after CoA to 2000/2000", full, half)
		if full < 3200 || full > 4800 {
			t.Errorf("rate before CoA %.0f kbit/s, want 4000 ± 20 %%", full)
		}
		if half < 1600 || half > 2400 {
			t.Errorf("rate after CoA %.0f kbit/s, want 2000 ± 20 %%", half)
		}
		if l.fastPath(t)["drop_policer"] == dropped {
			t.Error("the fast path's policer dropped nothing: the rate was enforced elsewhere")
		}
	})
}

// fastPath reads bras_fastpath_packets_total by reason from /metrics.
func (l *lab) fastPath(t *testing.T) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, line := range strings.Split(l.httpGet(t, "/metrics", ""), "\n") {
		rest, ok := strings.CutPrefix(line, `bras_fastpath_packets_total{reason="`)
		if !ok {
			continue
		}
		reason, val, ok := strings.Cut(rest, `"} `)
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); ok && err == nil {
			m[reason] = int64(v)
		}
	}
	if len(m) == 0 {
		t.Fatal("/metrics has no bras_fastpath_packets_total: the fast path is not running")
	}
	return m
}

// jsonInt is the first integer value of key in a JSON text (-1 if none).
func jsonInt(s, key string) int64 {
	_, rest, ok := strings.Cut(s, fmt.Sprintf("%q:", key))
	if !ok {
		return -1
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	v, err := strconv.ParseInt(rest[:end], 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// TestLNSFastPathIPv6 runs a dual-stack subscriber with [dataplane] engine
// = xdp and requires its IPv6 to take the fast path: echoes from the /64
// and from the delegated prefix are forwarded by the XDP program both ways
// (its counters say so) and come back; a spoofed source and a Router
// Advertisement from the subscriber are dropped there; a Router
// Solicitation goes through to the control plane, which answers it.
func TestLNSFastPathIPv6(t *testing.T) {
	users := []testenv.RadiusUser{{Name: "dual", Password: "dual-pw", Reply: []testenv.RadiusAttr{
		{Name: "Framed-IPv6-Prefix", Value: dualLink.String()},
		{Name: "Delegated-IPv6-Prefix", Value: dualDeleg.String()},
	}}}
	l := startLabWith(t, users, "[dataplane]\nengine = xdp\ninterfaces = eth0, eth1\n")
	l.lac.MustRun(t, "ethtool", "-K", "eth0", "gro", "on")
	l.up.MustRun(t, "ethtool", "-K", "eth0", "gro", "on")
	l.upstream6(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lac := startSimLAC(t, ctx, l.lac, "lac1", lnsAddr, "sekrit")
	sub := lac.place(&simSub{user: "dual", password: "dual-pw", ipv6: true}, "02:00:00:00:00:62")
	waitUp(t, sub)
	var local netip.Addr
	select {
	case n := <-sub.up6:
		local = n.Local.LinkLocal()
	case <-time.After(20 * time.Second):
		t.Fatal("no IPV6CP in 20 s")
	}

	// echo sends msg from src to the upstream echo server until it comes
	// back (the first finds no neighbour entry upstream: the fast path
	// hands it to the kernel) and reports whether it did.
	echoed := func(from netip.Addr, msg string) bool {
		for try := 0; try < 5; try++ {
			if err := sub.sendIP6(udp6(netip.AddrPortFrom(from, 40000), echo6Addr, []byte(msg))); err != nil {
				t.Fatal(err)
			}
			deadline := time.After(time.Second)
			for {
				select {
				case p := <-sub.ip6:
					if len(p) >= 48 && netip.AddrFrom16([16]byte(p[24:40])) == from && string(p[48:]) == msg {
						return true
					}
					continue
				case <-deadline:
				}
				break
			}
		}
		return false
	}
	for _, from := range []netip.Addr{netip.MustParseAddr("2001:db8:1001:1::5"), netip.MustParseAddr("2001:db8:1002:1ab::1")} {
		if !echoed(from, "warm-up") {
			t.Fatalf("no echo from upstream for a packet from %v", from)
		}
		before := l.fastPath(t)
		const echoes = 10
		for i := range echoes {
			if !echoed(from, fmt.Sprintf("v6 %d", i)) {
				t.Fatalf("echo %d from %v did not come back", i, from)
			}
		}
		after := l.fastPath(t)
		if up, down := after["forwarded_up"]-before["forwarded_up"], after["forwarded_down"]-before["forwarded_down"]; up < echoes || down < echoes {
			t.Errorf("from %v: the fast path forwarded %d up and %d down for %d IPv6 echoes (%v)", from, up, down, echoes, after)
		}
	}

	before := l.fastPath(t)
	sub.sendIP6(udp6(netip.MustParseAddrPort("[2001:db8:1003::1]:40000"), echo6Addr, []byte("spoof")))
	ra := ipv6Packet(local, netip.MustParseAddr("ff02::1"), 58, 255, []byte{134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0}, 2)
	sub.sendIP6(ra)
	rs, err := ndp.MarshalMessageChecksum(&ndp.RouterSolicitation{}, local, netip.MustParseAddr("ff02::2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.sendIP6(ipv6Packet(local, netip.MustParseAddr("ff02::2"), 58, 255, rs, -1)); err != nil {
		t.Fatal(err)
	}
	waitIP6(t, sub, "Router Advertisement", func(p []byte) bool { return len(p) > 40 && p[6] == 58 && p[40] == 134 })
	after := l.fastPath(t)
	for reason, want := range map[string]int64{"drop_spoof": 1, "drop_nd_from_subscriber": 1, "pass_link_scope": 1} {
		if got := after[reason] - before[reason]; got < want {
			t.Errorf("fast path %s moved by %d, want %d (%v)", reason, got, want, after)
		}
	}
}
