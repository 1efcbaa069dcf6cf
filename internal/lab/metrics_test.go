package lab

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
)

// The files an operator loads into Prometheus and Grafana.
const (
	rulesFile     = "../../deploy/prometheus/bras-rules.yml"
	dashboardFile = "../../deploy/grafana/bras.json"
	namesFile     = "../metrics/names.go"
)

// moveWhen says under which forwarding engine a lab run must move a
// metric.
type moveWhen uint8

const (
	never     moveWhen = iota // present, but the run need not move it
	always                    // whatever the engine
	userspace                 // only when the user-space engine forwards the traffic
	xdp                       // only when the XDP fast path forwards it
)

func (m moveWhen) under(engine string) bool {
	return m == always || m == userspace && engine == "userspace" || m == xdp && engine == "xdp"
}

// declared says, for every name of internal/metrics/names.go, which
// daemon of the lab exports it ("lns", "lac" or "both"; "pw" for bras
// pw, which the lab does not run) and whether the
// run must move it, with the reason. A name declared there and missing
// here fails TestLabMetrics: a new metric is either exported and listed,
// or it is not declared.
var declared = map[string]struct {
	role    string
	move    moveWhen
	why     string
	xdpOnly bool // exported only while the XDP fast path runs
}{
	"BuildInfo":              {"both", never, "constant 1 with the build as labels", false},
	"Sessions":               {"lns", always, "the subscribers come up, then go", false},
	"SessionSetups":          {"lns", always, "every subscriber's set-up counts as up", false},
	"SessionSetupDuration":   {"lns", always, "each set-up is timed to auth, IPCP and IPV6CP", false},
	"SessionTeardowns":       {"lns", always, "bras load hangs up every subscriber (lost_carrier)", false},
	"TeardownsQueued":        {"both", never, "only when a shard's inbox is full", false},
	"RadiusRequests":         {"lns", always, "Access-Requests and accounting to FreeRADIUS", false},
	"RadiusLatency":          {"lns", always, "every answered request is timed per server", false},
	"RadiusTimeouts":         {"lns", never, "FreeRADIUS answers everything", false},
	"RadiusDroppedResponses": {"lns", never, "FreeRADIUS's responses are all valid", false},
	"RadiusServerUp":         {"lns", never, "1 throughout: the server never goes down", false},
	"CoARequests":            {"lns", always, "the test sends a CoA-Request and a Disconnect-Request", false},
	"CoALatency":             {"lns", always, "both answers are timed", false},
	"CoADropped":             {"lns", never, "the test's requests come from the configured client", false},
	"CoAReplayRefused":       {"lns", never, "the requests carry a current Event-Timestamp", false},
	"SpoolBytes":             {"lns", never, "the sinks keep up: the spool empties between scrapes", false},
	"AccountingRecords":      {"lns", always, "Starts and Stops go through the spools to PostgreSQL and RADIUS", false},
	"AuthLogOutcomes":        {"lns", always, "every subscriber's Access-Accept goes to auth_log", false},
	"DataplanePackets":       {"both", userspace, "the user-space engine forwards the probes (under XDP the LNS forwards none of them in user space)", false},
	"DataplaneBytes":         {"both", userspace, "as DataplanePackets", false},
	"DataplaneDrops":         {"lns", never, "no packet is dropped", false},
	"FastPathPackets":        {"both", xdp, "the fast path forwards the probes", true},
	"FastPathRefused":        {"both", never, "the fast path's maps have room", false},
	"MSSClamped":             {"both", never, "the probes are UDP", false},
	"PoolSize":               {"lns", never, "the configured sizes", false},
	"PoolUsed":               {"lns", always, "every subscriber holds an address and (odd ones) pooled prefixes", false},
	"PoolExhausted":          {"lns", never, "the pools have room", false},
	"ConfigReloads":          {"both", never, "the lab does not reload", false},
	"L2TPTunnels":            {"both", always, "the LAC opens a tunnel to the LNS", false},
	"L2TPTunnelSessions":     {"both", always, "the tunnel carries the sessions", false},
	"L2TPControlMessages":    {"lns", always, "SCCRQ, ICRQ, ... on the tunnel", false},
	"L2TPRetransmits":        {"lns", never, "no loss on the veth", false},
	"L2TPMalformed":          {"lns", always, "the test sends a datagram that is no L2TP", false},
	"L2TPDropped":            {"lns", never, "no limit is reached", false},
	"L2TPAuthFailures":       {"lns", never, "the secrets agree", false},
	"L2TPSocketDrops":        {"both", never, "the socket's buffer keeps up", false},
	"L2TPSocketBuffer":       {"both", never, "constant: the buffers the kernel granted", false},
	"PPPoEDiscovery":         {"lac", always, "PADI, PADO, PADR, PADS and PADT of every subscriber", false},
	"PPPoEDiscoveryRefused":  {"lac", never, "the subscribers stay within every limit (TestStorm drives them beyond)", false},
	"PPPoEMalformed":         {"lac", always, "the test sends a PADI with a session ID", false},
	"LACSessions":            {"lac", always, "the subscribers come up, then go", false},
	"LACCalls":               {"lac", always, "every call comes up", false},
	"LACTeardowns":           {"lac", always, "every subscriber sends a PADT", false},
	"LACDrops":               {"lac", never, "nothing is dropped", false},
	"LACCarrierLosses":       {"lac", never, "no access link goes down here (bench reconnect's test moves it)", false},
	"RAsSent":                {"lns", always, "dual-stack subscribers get Router Advertisements", false},
	"DHCPv6Bound":            {"lns", always, "and their delegated prefixes by DHCPv6", false},
	"DHCPv6Discarded":        {"lns", never, "bras load's DHCPv6 is well formed", false},
	"IPv6Ignored":            {"lns", never, "bras load sends no stray link-scope IPv6", false},
	"APIRequests":            {"both", always, "the lab and this test use the APIs", false},
	"PWCircuitUp":            {"pw", never, "bras pw's: TestPseudowiresEndToEnd (internal/ethpw) checks them", false},
	"PWCircuitActive":        {"pw", never, "as PWCircuitUp", false},
	"PWFrames":               {"pw", never, "as PWCircuitUp", false},
	"PWOctets":               {"pw", never, "as PWCircuitUp", false},
	"PWDropped":              {"pw", never, "as PWCircuitUp", false},
	"GoGoroutines":           {"both", never, "the Go runtime's own", false},
	"GoHeapBytes":            {"both", never, "the Go runtime's own", false},
}

// declaredNames reads the metric names of internal/metrics/names.go: its
// string constants, by identifier.
func declaredNames(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), namesFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: %s is not a string literal", namesFile, n.Name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[n.Name] = v
			}
		}
	}
	if len(out) < 40 {
		t.Fatalf("%s: only %d names parsed", namesFile, len(out))
	}
	return out
}

// TestDeclaredTable needs no lab: the table above and names.go list the
// same names.
func TestDeclaredTable(t *testing.T) {
	names := declaredNames(t)
	for id := range names {
		if _, ok := declared[id]; !ok {
			t.Errorf("metrics.%s (%s) is declared in names.go but not in this test's table: say which daemon exports it and whether the lab must move it", id, names[id])
		}
	}
	for id := range declared {
		if _, ok := names[id]; !ok {
			t.Errorf("the table lists %s, which names.go does not declare", id)
		}
	}
}

// scrape is one /metrics of a daemon, parsed.
type scrape map[string]*dto.MetricFamily

func parseScrape(text string) (scrape, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	return scrape(mfs), err
}

// values are a family's series by their labels; a histogram's value is
// its count.
func (s scrape) values(name string) map[string]float64 {
	out := map[string]float64{}
	mf := s[name]
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		k := strings.Join(ls, ",")
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			out[k] = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			out[k] = m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			out[k] = float64(m.GetHistogram().GetSampleCount())
		default:
			out[k] = m.GetUntyped().GetValue()
		}
	}
	return out
}

// moved reports whether a series of name has a value in a later scrape
// other than it had in the first (a series absent there counts as 0).
func moved(name string, scrapes []scrape) bool {
	base := scrapes[0].values(name)
	for _, s := range scrapes[1:] {
		for k, v := range s.values(name) {
			if v != base[k] {
				return true
			}
		}
	}
	return false
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// metricRef matches the metric names in PromQL and in the dashboard's
// JSON: identifiers that start with bras_.
var metricRef = regexp.MustCompile(`\bbras_[a-zA-Z0-9_]*[a-zA-Z0-9]`)

// referenced returns the bras_ metric names file uses.
func referenced(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range metricRef.FindAllString(string(b), -1) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) < 5 {
		t.Fatalf("%s names only %d metrics: %v", file, len(out), out)
	}
	sort.Strings(out)
	return out
}

// exported reports whether name is a family some scrape has, or the
// _bucket, _sum or _count series of a histogram one has.
func exported(name string, scrapes []scrape) bool {
	for _, s := range scrapes {
		if s[name] != nil {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && s[base] != nil && s[base].GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
	}
	return false
}

// malformedPADI is a PADI with a non-zero SESSION_ID, which RFC 2516
// section 5.1 forbids: the LAC drops it as malformed.
var malformedPADI = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
	0x02, 0x00, 0x00, 0x00, 0xba, 0xd1, // source: a locally administered unicast MAC
	0x88, 0x63, // ethertype: PPPoE discovery
	0x11, 0x09, // version 1, type 1, code PADI
	0x12, 0x34, // SESSION_ID: must be 0
	0x00, 0x04, // length
	0x01, 0x01, 0x00, 0x00, // Service-Name, empty
}

// sendRaw writes frame on the interface iface of the calling thread's
// namespace through an AF_PACKET socket.
func sendRaw(iface string, frame []byte) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// Through netlink, on this thread: /sys shows the namespace it was
	// mounted in.
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return err
	}
	return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6})
}

// TestLabMetrics runs the lab (real LAC and LNS processes, real
// FreeRADIUS and PostgreSQL, dual-stack subscribers with traffic) under
// each forwarding engine and scrapes both daemons before the subscribers
// dial, while they are up (after a CoA-Request, a Disconnect-Request, a
// datagram that is no L2TP and a malformed PADI) and once they have hung
// up. Every metric names.go declares is exported by its daemon, with the
// type its suffix says, and those the run must move have moved; and every
// metric the alert rules and the Grafana dashboard use is exported.
func TestLabMetrics(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "freeradius")
	testenv.RequireCommand(t, "radclient")
	testenv.RequireCommand(t, "initdb")
	names := declaredNames(t)
	bin := buildBras(t)
	var all []scrape // every scrape of both daemons under both engines
	for _, engine := range []string{"userspace", "xdp"} {
		t.Run(engine, func(t *testing.T) {
			const n = 20
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			var out io.Writer = io.Discard
			if testing.Verbose() {
				out = os.Stdout
			}
			scrapes := map[string][]scrape{}
			take := func(e *Env) error {
				for _, role := range []string{"lns", "lac"} {
					text, err := e.Metrics(role)
					if err != nil {
						return err
					}
					s, err := parseScrape(text)
					if err != nil {
						return fmt.Errorf("the %s's /metrics does not parse: %w", role, err)
					}
					scrapes[role] = append(scrapes[role], s)
				}
				return nil
			}
			hook := func(ctx context.Context, e *Env, at Stage) error {
				switch at {
				case StageUp:
					if err := provoke(e); err != nil {
						return err
					}
				case StageDone:
					// The teardowns run on after bras load ends.
					if err := waitGauge(ctx, e, "lns", "bras_sessions", `state="up"`, 0); err != nil {
						return err
					}
					if err := waitGauge(ctx, e, "lac", "bras_lac_sessions", "", 0); err != nil {
						return err
					}
				}
				return take(e)
			}
			res, err := Run(ctx, Options{Bras: bin, Subscribers: n, Mode: "proxy", Engine: engine, Hold: 6 * time.Second,
				TrafficPPS: 5, Out: out, IPv6: true, Hook: hook})
			if err != nil {
				t.Fatal(err)
			}
			if res.Load.Up != n {
				t.Fatalf("%d of %d subscribers up: %v", res.Load.Up, n, res.Load.Failures)
			}
			for _, role := range []string{"lns", "lac"} {
				if len(scrapes[role]) != 3 {
					t.Fatalf("%d scrapes of the %s, want 3 (ready, up, done)", len(scrapes[role]), role)
				}
				all = append(all, scrapes[role]...)
			}
			// The gauges kept on change agree with the run: every
			// subscriber up while they are, none left after.
			lnsUp, lacUp := scrapes["lns"][1], scrapes["lac"][1]
			lnsDone, lacDone := scrapes["lns"][2], scrapes["lac"][2]
			for _, c := range []struct {
				what string
				got  float64
				want float64
			}{
				{`LNS bras_sessions{state="up"} while up`, lnsUp.values("bras_sessions")["state=up"], n},
				{"LNS bras_sessions (all states) after", sum(lnsDone.values("bras_sessions")), 0},
				{"LNS bras_l2tp_tunnel_sessions while up", sum(lnsUp.values("bras_l2tp_tunnel_sessions")), n},
				{"LAC bras_l2tp_tunnel_sessions while up", sum(lacUp.values("bras_l2tp_tunnel_sessions")), n},
				{"LAC bras_lac_sessions while up", sum(lacUp.values("bras_lac_sessions")), n},
				{`LNS bras_pool_used{pool="default"} while up`, lnsUp.values("bras_pool_used")["family=ipv4,pool=default"], n},
				{`LNS bras_pool_used{pool="default"} after`, lnsDone.values("bras_pool_used")["family=ipv4,pool=default"], 0},
				{`LNS bras_session_setup_duration_seconds{stage="ipcp"} count`, lnsDone.values("bras_session_setup_duration_seconds")["stage=ipcp"], n},
				{`LNS bras_session_setup_duration_seconds{stage="ipv6cp"} count`, lnsDone.values("bras_session_setup_duration_seconds")["stage=ipv6cp"], n},
				{`LNS bras_session_teardowns_total{cause="lost_carrier"}`, lnsDone.values("bras_session_teardowns_total")["cause=lost_carrier"], n},
				{`LAC bras_pppoe_discovery_packets_total{code="pads"}`, lacDone.values("bras_pppoe_discovery_packets_total")["code=pads,direction=tx,interface=eth0"], n},
				{`LAC bras_pppoe_malformed_total`, lacDone.values("bras_pppoe_malformed_total")["interface=eth0"], 1},
				{`LNS bras_coa_requests_total{type="coa",result="ack"}`, lnsDone.values("bras_coa_requests_total")["result=ack,type=coa"], 1},
			} {
				if c.got != c.want {
					t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
				}
			}
			ids := make([]string, 0, len(names))
			for id := range names {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				d, ok := declared[id]
				if !ok {
					continue // TestDeclaredTable says so
				}
				name := names[id]
				for _, role := range []string{"lns", "lac"} {
					if d.role != role && d.role != "both" {
						continue
					}
					ss := scrapes[role]
					if d.xdpOnly && engine != "xdp" {
						continue
					}
					mf := ss[len(ss)-1][name]
					if mf == nil {
						mf = ss[1][name]
					}
					if mf == nil {
						t.Errorf("%s: the %s does not export %s (metrics.%s)", engine, role, name, id)
						continue
					}
					switch typ := mf.GetType(); {
					case typ == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total"),
						typ != dto.MetricType_COUNTER && strings.HasSuffix(name, "_total"),
						typ == dto.MetricType_HISTOGRAM && !strings.HasSuffix(name, "_seconds"):
						t.Errorf("%s is a %v: its name's suffix says otherwise", name, typ)
					}
					if d.move.under(engine) && !moved(name, ss) {
						t.Errorf("%s: the %s's %s did not move (%s): ready %v, up %v, done %v", engine, role, name, d.why,
							ss[0].values(name), ss[1].values(name), ss[2].values(name))
					}
				}
			}
		})
	}
	if t.Failed() || len(all) == 0 {
		return
	}
	// What the operator's Prometheus evaluates and Grafana draws names
	// only what the daemons export.
	for _, file := range []string{rulesFile, dashboardFile} {
		for _, name := range referenced(t, file) {
			if !exported(name, all) {
				t.Errorf("%s uses %s, which neither daemon exports", file, name)
			}
		}
	}
}

// provoke makes the LNS and LAC count what a quiet lab would not: a
// CoA-Request that changes a session's Session-Timeout (ACK), a
// Disconnect-Request for no session (NAK), a UDP datagram to the LNS's
// L2TP port that is no L2TP, and a malformed PADI on the access link.
func provoke(e *Env) error {
	for _, c := range []struct{ kind, attrs, want string }{
		{"coa", `User-Name = "user0@lab"\nSession-Timeout = 3600`, "CoA-ACK"},
		{"disconnect", `User-Name = "nobody@lab"`, "Disconnect-NAK"},
	} {
		script := fmt.Sprintf(`printf '%s\nEvent-Timestamp = %%s\n' "$(date +%%s)" | radclient -x 127.0.0.1:3799 %s %s`, c.attrs, c.kind, radSecret)
		out, err := e.NS["lns"].Run("sh", "-c", script)
		if !strings.Contains(out, c.want) {
			return fmt.Errorf("radclient %s: no %s (%v):\n%s", c.kind, c.want, err, out)
		}
	}
	// Version 15 in the second octet: no L2TP header parses (RFC 2661
	// section 3.1).
	if err := e.NS["lac"].Do(func() error {
		c, err := net.Dial("udp4", "10.255.1.2:1701")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte{0x00, 0x0f, 0x00, 0x00})
		return err
	}); err != nil {
		return err
	}
	return e.NS["sub"].Do(func() error { return sendRaw("eth0", malformedPADI) })
}

// waitGauge waits until the series of name with labels (a substring of
// its text form, "" for none) reads want on the daemon of role.
func waitGauge(ctx context.Context, e *Env, role, name, labels string, want float64) error {
	series := name
	if labels != "" {
		series += "{" + labels + "}"
	}
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		text, err := e.Metrics(role)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(line, series+" "); ok {
				last = v
				if f, err := strconv.ParseFloat(v, 64); err == nil && f == want {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s of the %s is %q, want %v", series, role, last, want)
}
