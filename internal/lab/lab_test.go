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
// PPPoE subscribers through the LAC (proxy mode, then transparent mode) and
// the LNS, with a real FreeRADIUS and a real PostgreSQL. Every subscriber
// gets an address, the traffic to upstream comes back without loss, and the
// accounting in PostgreSQL matches the traffic that was sent.
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
			res, err := Run(ctx, Options{Bras: bin, Subscribers: n, Mode: mode, Engine: c.engine, Hold: 4 * time.Second, TrafficPPS: 5, Out: out, Capture: true})
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
			// bras load hangs up with a PADT and no LCP Terminate-Request
			// (RFC 2516 section 5.5): the LAC's CDN says loss of carrier
			// (RFC 2661 section 4.4.2, result 1), and so does every Stop.
			if want := map[string]int{"Lost-Carrier": n}; !maps.Equal(res.Causes, want) {
				t.Errorf("terminate causes %v, want %v; bras report causes:\n%s", res.Causes, want, res.CausesText)
			}
			if !strings.Contains(res.CausesText, fmt.Sprintf("Lost-Carrier,%d,100.0", n)) {
				t.Errorf("bras report causes:\n%s", res.CausesText)
			}
			// Every probe went up through the LNS (in) and its echo came
			// down (out): the accounted packets match what bras load counted.
			if res.DBInPackets < int64(tr.Sent) || res.DBInPackets > int64(tr.Sent)+2*n {
				t.Errorf("accounted in_packets %d, bras load sent %d probes", res.DBInPackets, tr.Sent)
			}
			if res.DBOutPackets < int64(tr.Received) || res.DBOutPackets > int64(tr.Received)+2*n {
				t.Errorf("accounted out_packets %d, bras load got %d echoes", res.DBOutPackets, tr.Received)
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
