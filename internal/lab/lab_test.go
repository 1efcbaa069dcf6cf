package lab

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
)

// buildBras builds the bras binary the lab runs its daemons with.
func buildBras(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bras")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/bras")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestLabEndToEnd is the product's main job, through real processes: 200
// dual-stack PPPoE subscribers through the LAC (proxy mode, then
// transparent mode) and the LNS, with a real FreeRADIUS and a real
// PostgreSQL. Every subscriber gets an address, a /64 from a Router
// Advertisement and a delegated prefix from DHCPv6, the traffic of both
// families to upstream comes back without loss, tshark finds every
// ICMPv6 and DHCPv6 packet on the access link well formed, and the
// accounting in PostgreSQL matches the packets and octets bras load
// counted.
func TestLabEndToEnd(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	testenv.RequireCommand(t, "tshark")
	bin := buildBras(t)
	for _, c := range []struct{ mode, engine string }{{"proxy", ""}, {"transparent", ""}, {"proxy", "xdp"}, {"transparent", "xdp"}} {
		mode := c.mode
		name := mode
		if c.engine != "" {
			name += "-" + c.engine
		}
		t.Run(name, func(t *testing.T) {
			const n = 200
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var out io.Writer = io.Discard
			if testing.Verbose() {
				out = os.Stdout
			}
			res, err := Run(ctx, Options{Bras: bin, Subscribers: n, Mode: mode, Engine: c.engine, Hold: 4 * time.Second, TrafficPPS: 5, Out: out, Capture: true, IPv6: true})
			if err != nil {
				t.Fatal(err)
			}
			// DESIGN section 7: a capture with a malformed L2TP, PPPoE, PPP
			// or RADIUS packet is a bug.
			for link, total := range res.Captured {
				if total == 0 {
					t.Errorf("tshark captured nothing on the %s link", link)
				}
			}
			if m := res.Malformed["pppoe"] + res.Malformed["l2tp"] + res.Malformed["radius"]; m != 0 {
				t.Errorf("tshark found %d malformed packets:\n%s", m, res.MalformedText)
			}
			if res.Load.Up != n || res.Load.Failed != 0 {
				t.Fatalf("%d of %d subscribers up, %d failed: %v", res.Load.Up, n, res.Load.Failed, res.Load.Failures)
			}
			if v := res.Load.IPv6; v == nil || v.Up != n || v.Failed != 0 {
				t.Errorf("IPv6 set-ups %+v, want all %d with both prefixes", v, n)
			}
			// A Router Solicitation and an Advertisement, a Solicit and a
			// Reply per subscriber at least (RAs also come unsolicited).
			if res.ICMPv6 < 2*n || res.DHCPv6 < 2*n || res.BadIPv6 != 0 {
				t.Errorf("tshark on the access link: %d ICMPv6, %d DHCPv6, %d malformed or bad checksum; want ≥ %d, ≥ %d, 0:\n%s",
					res.ICMPv6, res.DHCPv6, res.BadIPv6, 2*n, 2*n, res.MalformedText)
			}
			if res.APISessions != n {
				t.Errorf("the LNS API listed %d sessions up, want %d", res.APISessions, n)
			}
			tr := res.Load.Traffic
			if tr == nil || tr.Sent == 0 {
				t.Fatal("no traffic was sent")
			}
			if tr.Lost != 0 || tr.Received != tr.Sent {
				up := "unknown"
				if tr.Upstream != nil {
					up = fmt.Sprintf("%d of %d reached the echo server", tr.Upstream.ServerReceived, tr.Upstream.Sent)
				}
				t.Errorf("traffic: %d sent, %d echoed back, %d lost (%s; PPPoE client %+v, inbox drops %d); want no loss",
					tr.Sent, tr.Received, tr.Lost, up, res.Load.PPPoE, res.Load.InboxDrops)
			}
			if res.DBSessions != n || res.DBStopped != n {
				t.Errorf("PostgreSQL has %d sessions, %d closed; want %d and %d", res.DBSessions, res.DBStopped, n, n)
			}
			if want := map[string]int{"v2": n}; !maps.Equal(res.DBCarriers, want) {
				t.Errorf("PostgreSQL sessions by L2TP version %v, want %v", res.DBCarriers, want)
			}
			// bras load hangs up with a PADT and no LCP Terminate-Request
			// (RFC 2516 section 5.5): the LAC's CDN says loss of carrier
			// (RFC 2661 section 4.4.2, result 1), and so does every Stop.
			if want := map[string]int{"Lost-Carrier": n}; !maps.Equal(res.Causes, want) {
				t.Errorf("terminate causes %v, want %v; bras report causes:\n%s", res.Causes, want, res.CausesText)
			}
			if !strings.Contains(res.CausesText, fmt.Sprintf("Lost-Carrier,%d,100.0", n)) {
				t.Errorf("bras report causes:\n%s", res.CausesText)
			}
			t6 := tr.IPv6
			if t6 == nil || t6.Sent == 0 || t6.Lost != 0 || t6.Received != t6.Sent || t6.Duplicated != 0 {
				t.Fatalf("IPv6 traffic %+v; want probes sent and all echoed back", t6)
			}
			// Every probe of both families went up through the LNS (in)
			// and its echo came down (out): the accounted packets and
			// octets match what bras load counted. On top come the echo
			// server's stats queries, one or a few per session (IPv4/UDP
			// of 36 octets up, 52 down). The IPv6 share is exactly the
			// IPv6 probes and echoes.
			sent, received := int64(tr.Sent+t6.Sent), int64(tr.Received+t6.Received)
			if res.DBInPackets < sent || res.DBInPackets > sent+2*n {
				t.Errorf("accounted in_packets %d, bras load sent %d probes (%d IPv4, %d IPv6)", res.DBInPackets, sent, tr.Sent, t6.Sent)
			}
			if res.DBOutPackets < received || res.DBOutPackets > received+2*n {
				t.Errorf("accounted out_packets %d, bras load got %d echoes (%d IPv4, %d IPv6)", res.DBOutPackets, received, tr.Received, t6.Received)
			}
			inOctets, outOctets := int64(tr.SentOctets+t6.SentOctets), int64(tr.ReceivedOctets+t6.ReceivedOctets)
			queries := res.DBInPackets - sent
			if res.DBInOctets != inOctets+36*queries {
				t.Errorf("accounted in_octets %d; bras load sent %d octets of probes (%d IPv4, %d IPv6) and %d stats queries of 36",
					res.DBInOctets, inOctets, tr.SentOctets, t6.SentOctets, queries)
			}
			if replies := res.DBOutPackets - received; res.DBOutOctets != outOctets+52*replies {
				t.Errorf("accounted out_octets %d; bras load got %d octets of echoes (%d IPv4, %d IPv6) and %d stats replies of 52",
					res.DBOutOctets, outOctets, tr.ReceivedOctets, t6.ReceivedOctets, replies)
			}
			if want := n / 2; res.DBPooled6 != want {
				t.Errorf("%d sessions with their IPv6 prefixes from the LNS's pools, want %d (the odd subscribers)", res.DBPooled6, want)
			}
			if res.DBIn6Packets != int64(t6.Sent) || res.DBIn6Octets != int64(t6.SentOctets) {
				t.Errorf("accounted IPv6 in: %d packets, %d octets; bras load sent %d IPv6 probes of %d octets",
					res.DBIn6Packets, res.DBIn6Octets, t6.Sent, t6.SentOctets)
			}
			if res.DBOut6Packets != int64(t6.Received) || res.DBOut6Octets != int64(t6.ReceivedOctets) {
				t.Errorf("accounted IPv6 out: %d packets, %d octets; bras load got %d IPv6 echoes of %d octets",
					res.DBOut6Packets, res.DBOut6Octets, t6.Received, t6.ReceivedOctets)
			}
			if c.engine == "xdp" {
				// The subscribers' probes and echoes went through the
				// XDP programs, not the user-space engine: the fast
				// path forwarded (nearly) all of them both ways.
				up, down := res.FastPath["forwarded_up"], res.FastPath["forwarded_down"]
				if up < int64(tr.Sent)*9/10 || down < int64(tr.Received)*9/10 {
					t.Errorf("LNS fast path forwarded %d up and %d down of %d probes and %d echoes (%v)", up, down, tr.Sent, tr.Received, res.FastPath)
				}
				up, down = res.LACFastPath["forwarded_up"], res.LACFastPath["forwarded_down"]
				if up < int64(tr.Sent)*9/10 || down < int64(tr.Received)*9/10 {
					t.Errorf("LAC fast path forwarded %d up and %d down of %d probes and %d echoes (%v)", up, down, tr.Sent, tr.Received, res.LACFastPath)
				}
			}
			if res.DBInOctets < int64(tr.Sent)*int64(tr.Size) {
				t.Errorf("accounted in_octets %d < %d probes of %d octets", res.DBInOctets, tr.Sent, tr.Size)
			}
		})
	}
}
