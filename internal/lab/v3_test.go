package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/testenv"
)

// TestLabL2TPv3 is the product's main job over L2TPv3 (RFC 3931): 200
// PPPoE subscribers through the real LAC, whose [lns] entry says
// version = 3, to the real LNS over one L2TPv3 control connection signed
// with HMAC-MD5, a PPP pseudowire per subscriber with 4-octet cookies both
// ways, with a real FreeRADIUS and a real PostgreSQL. Every subscriber
// comes up and its traffic comes back without loss; both daemons' APIs
// name the tunnel version 3 and each session a PPP pseudowire with 32-bit
// IDs; the metrics count the tunnel and its sessions under version 3;
// PostgreSQL has a Start and a Stop for each of the 200; tshark decodes
// the tunnel link as L2TPv3, control and data, with no malformed packet
// and every digest correct under the lab's secret.
func TestLabL2TPv3(t *testing.T) { labL2TPv3(t, "udp", 200) }

// TestLabL2TPv3OverIP is TestLabL2TPv3 with the tunnel straight over IP
// protocol 115 (RFC 3931 section 4.1.1): the LNS listens on a raw socket
// ([lns] listen-ip) next to UDP, the LAC's [lns] says encap = ip; both
// APIs name the tunnel's encapsulation, and tshark decodes the control
// messages after their Session ID of zero and the data messages by theirs.
func TestLabL2TPv3OverIP(t *testing.T) { labL2TPv3(t, "ip", 100) }

func labL2TPv3(t *testing.T, encap string, n int) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "initdb")
	testenv.RequireCommand(t, "tshark")
	bin := buildBras(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	var tunnels, lacTunnels []api.Tunnel
	var sessions, lacSessions []api.Session
	var lnsMetrics string
	hook := func(ctx context.Context, e *Env, at Stage) error {
		if at != StageUp {
			return nil
		}
		get := func(role, base, path string, v any) error {
			body, err := e.NS[role].Run("curl", "-sS", "-f", "-H", "Authorization: Bearer "+apiToken, base+path)
			if err != nil {
				return err
			}
			return json.Unmarshal([]byte(body), v)
		}
		for _, g := range []struct {
			role, base, path string
			v                any
		}{
			{"lns", lnsAPI, "/api/v1/tunnels", &tunnels},
			{"lns", lnsAPI, "/api/v1/sessions?state=up", &sessions},
			{"lac", lacAPI, "/api/v1/tunnels", &lacTunnels},
			{"lac", lacAPI, "/api/v1/sessions", &lacSessions},
		} {
			if err := get(g.role, g.base, g.path, g.v); err != nil {
				return fmt.Errorf("%s %s: %w", g.role, g.path, err)
			}
		}
		var err error
		lnsMetrics, err = e.Metrics("lns")
		return err
	}
	res, err := Run(ctx, Options{Bras: bin, Subscribers: n, Mode: "proxy", Engine: "userspace", L2TPVersion: 3, L2TPEncap: encap,
		Hold: 4 * time.Second, TrafficPPS: 5, Out: out, Capture: true, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	if res.Load.Up != n || res.Load.Failed != 0 {
		t.Fatalf("%d of %d subscribers up, %d failed: %v", res.Load.Up, n, res.Load.Failed, res.Load.Failures)
	}
	if res.APISessions != n {
		t.Errorf("the LNS API listed %d sessions up, want %d", res.APISessions, n)
	}
	tr := res.Load.Traffic
	if tr == nil || tr.Sent == 0 || tr.Lost != 0 || tr.Received != tr.Sent {
		t.Errorf("traffic %+v; want probes sent and every one echoed back", tr)
	}

	// The APIs: one tunnel, version 3, with 32-bit IDs that match end to
	// end; every session a PPP pseudowire on it.
	if len(tunnels) != 1 || len(lacTunnels) != 1 {
		t.Fatalf("tunnels: LNS %+v, LAC %+v; want one each", tunnels, lacTunnels)
	}
	nt, lt := tunnels[0], lacTunnels[0]
	if nt.Version != 3 || lt.Version != 3 || nt.Sessions != n || nt.Encap != encap || lt.Encap != encap {
		t.Errorf("LNS tunnel %+v, LAC tunnel %+v; want version 3 over %s with %d sessions", nt, lt, encap, n)
	}
	if nt.LocalConnID == 0 || nt.LocalConnID != lt.PeerConnID || nt.PeerConnID != lt.LocalConnID || uint16(nt.LocalConnID) != nt.LocalID {
		t.Errorf("Control Connection IDs: LNS %d/%d (16 bits %d), LAC %d/%d; want them crossed", nt.LocalConnID, nt.PeerConnID, nt.LocalID, lt.LocalConnID, lt.PeerConnID)
	}
	if len(sessions) != n || len(lacSessions) != n {
		t.Fatalf("sessions: LNS %d, LAC %d; want %d", len(sessions), len(lacSessions), n)
	}
	lacByRemote := map[uint32]api.Session{}
	for _, s := range lacSessions {
		lacByRemote[s.RemoteSessionID] = s
	}
	for _, s := range sessions {
		l, ok := lacByRemote[s.LocalSessionID]
		if s.L2TPVersion != 3 || s.PWType != "ppp" || s.ConnID != nt.LocalConnID || !ok ||
			l.L2TPVersion != 3 || l.PWType != "ppp" || l.LocalSessionID != s.RemoteSessionID {
			t.Fatalf("LNS session %+v, LAC session %+v (found %v); want L2TPv3 PPP pseudowires with crossed Session IDs", s, l, ok)
		}
	}
	for _, want := range []string{`bras_l2tp_tunnels{version="3"} 1`, `bras_l2tp_tunnels{version="2"} 0`} {
		if !strings.Contains(lnsMetrics, want) {
			t.Errorf("LNS /metrics lacks %s", want)
		}
	}
	// The tunnel's series, its labels in name order.
	series := func(prefix, suffix string) bool {
		for _, line := range strings.Split(lnsMetrics, "\n") {
			if strings.HasPrefix(line, prefix) && strings.HasSuffix(line, suffix) {
				return true
			}
		}
		return false
	}
	if prefix, suffix := `bras_l2tp_tunnel_sessions{encap="`+encap+`",`, fmt.Sprintf(`tunnel_id="%d",version="3"} %d`, nt.LocalConnID, n); !series(prefix, suffix) {
		t.Errorf("LNS /metrics has no %s...%s", prefix, suffix)
	}

	// Accounting as with L2TPv2.
	if res.DBSessions != n || res.DBStopped != n {
		t.Errorf("PostgreSQL has %d sessions, %d closed; want %d and %d", res.DBSessions, res.DBStopped, n, n)
	}
	// Each row names L2TPv3, the PPP pseudowire and the tunnel's 32-bit
	// Control Connection ID whole.
	if want := map[string]int{"v3/ppp": n}; !maps.Equal(res.DBCarriers, want) {
		t.Errorf("PostgreSQL sessions by L2TP version and pseudowire %v, want %v", res.DBCarriers, want)
	}
	if want := map[int64]int{int64(nt.LocalConnID): n}; !maps.Equal(res.DBTunnels, want) {
		t.Errorf("PostgreSQL sessions by tunnel_id %v, want %v (the LNS's Control Connection ID)", res.DBTunnels, want)
	}
	if want := map[string]int{"Lost-Carrier": n}; !maps.Equal(res.Causes, want) {
		t.Errorf("terminate causes %v, want %v", res.Causes, want)
	}
	if sent := int64(tr.Sent); res.DBInPackets < sent || res.DBInPackets > sent+2*int64(n) {
		t.Errorf("accounted in_packets %d, bras load sent %d probes", res.DBInPackets, sent)
	}
	if rcvd := int64(tr.Received); res.DBOutPackets < rcvd || res.DBOutPackets > rcvd+2*int64(n) {
		t.Errorf("accounted out_packets %d, bras load got %d echoes", res.DBOutPackets, rcvd)
	}

	// tshark: the tunnel link is L2TPv3, control (SCCRQ to StopCCN, an
	// ICRQ, ICRP, ICCN and CDN per session at least) and data, none of it
	// malformed, every digest right.
	for link, total := range res.Captured {
		if total == 0 {
			t.Errorf("tshark captured nothing on the %s link", link)
		}
	}
	if m := res.Malformed["pppoe"] + res.Malformed["l2tp"] + res.Malformed["radius"]; m != 0 {
		t.Errorf("tshark found %d malformed packets:\n%s", m, res.MalformedText)
	}
	// The daemons send runs of data messages as UDP GSO super-packets,
	// which a capture on the veth sees as one frame: the data messages
	// are not counted one to one, but each session's PPP negotiation
	// and traffic gives a few frames of its own.
	if res.V3Control < 4*n || res.V3Data < 2*n || res.BadDigests != 0 {
		t.Errorf("tshark on the tunnel link: %d L2TPv3 control messages, %d data, %d incorrect digests; want ≥ %d, ≥ %d, 0:\n%s",
			res.V3Control, res.V3Data, res.BadDigests, 4*n, 2*n, res.MalformedText)
	}
}
