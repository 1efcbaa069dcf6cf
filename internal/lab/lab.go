// Package lab runs bras's main job end to end on one machine: network
// namespaces sub ── lac ── lns ── upstream joined by veth pairs, an
// ephemeral PostgreSQL, a FreeRADIUS with generated subscribers, the LAC and
// the LNS as their own processes, subscribers brought up by bras load with
// traffic, then the live sessions (through the API) and a usage report (from
// PostgreSQL). Everything it made is removed at the end, also on failure or
// Ctrl-C.
package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/netlab"
	"github.com/bras-project/bras/internal/pglab"
	"github.com/bras-project/bras/internal/radiuslab"
	"github.com/jackc/pgx/v5"

	"github.com/bras-project/bras/migrations"
)

// Options say what the lab runs.
type Options struct {
	Bras        string        // the bras binary to run the daemons with (default: this executable)
	Subscribers int           // subscribers bras load brings up (default 100)
	Rate        float64       // set-ups per second (0: as fast as the in-flight cap allows)
	Mode        string        // LAC mode: proxy or transparent (default proxy)
	Hold        time.Duration // how long the sessions stay up with traffic (default 10s)
	TrafficPPS  float64       // probes per second per session (default 5)
	Keep        bool          // leave the logs directory in place
	// Capture records the access link (PPPoE), the tunnel link (L2TP) and
	// the RADIUS exchanges with tshark while the subscribers are up, and
	// counts the packets tshark finds malformed.
	Capture bool
	// Engine is the daemons' forwarding engine ([dataplane] engine: auto,
	// xdp or userspace); empty leaves their default.
	Engine string
	// IPv6 makes the subscribers dual-stack: RADIUS gives each a /64
	// (Framed-IPv6-Prefix) and a /56 (Delegated-IPv6-Prefix), upstream
	// gets an IPv6 echo server, and bras load runs IPv6 and sends IPv6
	// probes too. `bras lab` sets it unless -ipv4-only; the benchmarks
	// and the soak, which share Setup, keep IPv4 only.
	IPv6 bool
	Out  io.Writer // progress and results (default os.Stdout)
	// L2TPVersion is the version of the tunnel between the LAC and the
	// LNS: 2 (RFC 2661, also when 0) or 3 (RFC 3931: a PPP pseudowire
	// per subscriber, every control message signed with HMAC-MD5, 4-octet
	// cookies both ways).
	L2TPVersion int
	// L2TPEncap, with L2TPVersion 3, is "ip" to run the tunnel straight
	// over IP protocol 115 (RFC 3931 section 4.1.1: the LNS's listen-ip,
	// the LAC's encap = ip); "" or "udp": over UDP port 1701.
	L2TPEncap string
	// Hook, when set, runs at each Stage of Run with the lab's world, to
	// look at the daemons (Env.Metrics) or act on them; an error from it
	// ends the run with that error.
	Hook func(ctx context.Context, e *Env, at Stage) error
	// LNSConfig and LACConfig, when set, rewrite the daemons' generated
	// configuration before they start (a test's capacity limits, say).
	LNSConfig, LACConfig func(conf string) string
}

// Stage is a point of Run where Options.Hook runs.
type Stage uint8

const (
	// StageReady: the daemons run, no subscriber has dialled yet.
	StageReady Stage = iota + 1
	// StageUp: the subscribers are up (or the wait for them ended) and
	// their traffic flows.
	StageUp
	// StageDone: bras load has hung up every subscriber; the daemons
	// still run.
	StageDone
)

func (s Stage) String() string {
	switch s {
	case StageReady:
		return "ready"
	case StageUp:
		return "up"
	case StageDone:
		return "done"
	}
	return "Stage(" + strconv.Itoa(int(s)) + ")"
}

// hook runs Options.Hook at stage at.
func (e *Env) hook(ctx context.Context, at Stage) error {
	if e.Opts.Hook == nil {
		return nil
	}
	if err := e.Opts.Hook(ctx, e, at); err != nil {
		return fmt.Errorf("lab: at stage %v: %w", at, err)
	}
	return nil
}

// Metrics scrapes /metrics of the daemon of role ("lns" or "lac")
// through its API, in its namespace.
func (e *Env) Metrics(role string) (string, error) {
	api := map[string]string{"lns": lnsAPI, "lac": lacAPI}[role]
	if api == "" {
		return "", fmt.Errorf("lab: no daemon %q", role)
	}
	out, err := e.NS[role].Run("curl", "-sS", "-f", "-H", "Authorization: Bearer "+apiToken, api+"/metrics")
	if err != nil {
		return "", fmt.Errorf("lab: scraping the %s: %w", role, err)
	}
	return out, nil
}

// Result is what a lab run measured; tests assert on it.
type Result struct {
	Load         load.Report
	APISessions  int    // sessions the LNS API listed while they were up
	SessionsText string // the `bras sessions` output
	UsageText    string // the `bras report usage` output
	// Causes counts the closed sessions by Acct-Terminate-Cause (RFC 2866
	// section 5.10), as `bras report causes` (CausesText) shows them.
	Causes     map[string]int
	CausesText string
	// From PostgreSQL after the run: rows of the sessions table, sessions
	// closed, and the octets the accounting recorded in each direction.
	DBSessions, DBStopped int
	// DBCarriers counts the sessions by how they came: "v2", or "v3/"
	// and the pseudowire type; DBTunnels by the tunnel_id they name (the
	// LNS's Tunnel or Control Connection ID).
	DBCarriers                map[string]int
	DBTunnels                 map[int64]int
	DBInOctets, DBOutOctets   int64
	DBInPackets, DBOutPackets int64
	// The IPv6 share of the accounted traffic.
	DBIn6Octets, DBOut6Octets   int64
	DBIn6Packets, DBOut6Packets int64
	// DBPooled6 counts the sessions whose /64 and delegated prefix came
	// from the LNS's IPv6 pools.
	DBPooled6 int
	LogDir    string
	// With Options.Capture: packets captured on each link and those
	// tshark calls malformed (each one is a bug of ours).
	Captured, Malformed map[string]int
	// FastPath is the LNS's fast-path packets by reason after the
	// traffic (with Options.Engine xdp or auto).
	FastPath      FastCounts
	LACFastPath   FastCounts // the LAC's, likewise
	MalformedText string
	// With Options.Capture and IPv6: the ICMPv6 and DHCPv6 packets on the
	// access link, and those of them tshark calls malformed or whose
	// checksum it finds wrong.
	ICMPv6, DHCPv6, BadIPv6 int
	// With Options.Capture and L2TPVersion 3: the L2TPv3 control and data
	// messages on the tunnel link, and the control messages whose
	// Message Digest tshark finds wrong with the lab's secret.
	V3Control, V3Data, BadDigests int
}

const (
	lacSecret   = "lab-tunnel-secret"
	radSecret   = "lab-radius-secret"
	apiToken    = "lab-api-token"
	realm       = "lab"
	upstreamUDP = "10.255.2.2:9000"
	// The IPv6 side: the LNS and the echo server on 2001:db8:ff::/64;
	// an even subscriber i gets from RADIUS its /64 in 2001:db8:1::/48 and
	// its delegated /56 in 2001:db8:4000::/40 (linkPrefix6, delegated6),
	// an odd one gets them from the LNS's default IPv6 pools, in
	// 2001:db8:2::/48 and 2001:db8:8000::/40.
	upstreamUDP6  = "[2001:db8:ff::2]:9000"
	lnsUp6        = "2001:db8:ff::1"
	links6        = "2001:db8:1::/48"
	delegated6s   = "2001:db8:4000::/40"
	poolLinks6    = "2001:db8:2::/48"
	poolDelegated = "2001:db8:8000::/40"
	// maxSubscribers6 is how many subscribers those blocks number.
	maxSubscribers6 = 1 << 16
)

// linkPrefix6 is subscriber i's /64 (Framed-IPv6-Prefix, RFC 3162).
func linkPrefix6(i int) netip.Prefix {
	a := netip.MustParsePrefix(links6).Addr().As16()
	a[6], a[7] = byte(i>>8), byte(i)
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

// delegated6 is subscriber i's delegated /56 (Delegated-IPv6-Prefix, RFC
// 4818).
func delegated6(i int) netip.Prefix {
	a := netip.MustParsePrefix(delegated6s).Addr().As16()
	a[5], a[6] = byte(i>>8), byte(i)
	return netip.PrefixFrom(netip.AddrFrom16(a), 56)
}

// Env is the lab's running world: the namespaces, PostgreSQL, FreeRADIUS,
// the LNS, the LAC and the upstream echo server. Close removes it.
type Env struct {
	Opts     Options
	Dir      string                   // logs and generated configuration
	NS       map[string]*netlab.Netns // sub, lac, lns, upstream
	DSN      string                   // the accounting database
	LNS, LAC *Proc
	PG       *pglab.Cluster // the accounting database's server
	Radius   *Proc          // FreeRADIUS in namespace lns
	say      func(format string, a ...any)
	cleanups []func()
}

// Close stops everything Setup started and removes what it made.
func (e *Env) Close() {
	e.say("removing everything the lab made")
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	if e.Opts.Keep {
		e.say("logs kept in %s", e.Dir)
	} else {
		os.RemoveAll(e.Dir)
	}
}

// Setup builds the lab up to the point where subscribers can dial: network,
// PostgreSQL, FreeRADIUS, LNS, LAC and the upstream echo server. On error
// it has already removed what it made.
func Setup(ctx context.Context, o Options) (env *Env, err error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Subscribers <= 0 {
		o.Subscribers = 100
	}
	if o.Mode == "" {
		o.Mode = "proxy"
	}
	if o.Mode != "proxy" && o.Mode != "transparent" {
		return nil, fmt.Errorf("lab: mode %q: want proxy or transparent", o.Mode)
	}
	if o.IPv6 && o.Subscribers > maxSubscribers6 {
		return nil, fmt.Errorf("lab: %d dual-stack subscribers: the lab numbers %d IPv6 prefixes (run IPv4 only)", o.Subscribers, maxSubscribers6)
	}
	if o.Hold <= 0 {
		o.Hold = 10 * time.Second
	}
	if o.L2TPVersion != 0 && o.L2TPVersion != 2 && o.L2TPVersion != 3 {
		return nil, fmt.Errorf("lab: L2TP version %d: want 2 or 3", o.L2TPVersion)
	}
	switch {
	case o.L2TPEncap == "udp":
		o.L2TPEncap = ""
	case o.L2TPEncap == "ip" && o.L2TPVersion != 3:
		return nil, errors.New("lab: L2TP over IP is L2TPv3's only (RFC 3931 section 4.1.1)")
	case o.L2TPEncap != "" && o.L2TPEncap != "ip":
		return nil, fmt.Errorf("lab: L2TP encapsulation %q: want udp or ip", o.L2TPEncap)
	}
	if o.TrafficPPS <= 0 {
		o.TrafficPPS = 5
	}
	if o.Bras == "" {
		if o.Bras, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: needs root (network namespaces, raw sockets, TUN)")
	}
	dir, err := os.MkdirTemp("", "bras-lab-")
	if err != nil {
		return nil, err
	}
	e := &Env{Opts: o, Dir: dir, NS: map[string]*netlab.Netns{}}
	e.say = func(format string, a ...any) { fmt.Fprintf(o.Out, "lab: "+format+"\n", a...) }
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	err = e.setup(ctx)
	return e, err
}

func (e *Env) setup(ctx context.Context) error {
	o, dir, say, ns := e.Opts, e.Dir, e.say, e.NS
	os.Setenv("BRAS_API_TOKEN", apiToken) // for bras sessions
	// 1. The network.
	id := netlab.RandHex(3)
	for _, n := range []string{"sub", "lac", "lns", "upstream"} {
		x, err := netlab.Create("bras-lab-" + id + "-" + n)
		if err != nil {
			return err
		}
		ns[n] = x
		e.cleanups = append(e.cleanups, x.Delete)
	}
	say("namespaces %s, %s, %s, %s", ns["sub"].Name, ns["lac"].Name, ns["lns"].Name, ns["upstream"].Name)
	none := netip.Prefix{}
	for _, p := range accessPorts(o.Subscribers) {
		if err := netlab.Link(ns["sub"], p.sub, none, ns["lac"], p.lac, none); err != nil {
			return err
		}
	}
	if err := netlab.Link(ns["lac"], "eth1", netip.MustParsePrefix("10.255.1.1/24"), ns["lns"], "eth0", netip.MustParsePrefix("10.255.1.2/24")); err != nil {
		return err
	}
	if err := netlab.Link(ns["lns"], "eth1", netip.MustParsePrefix("10.255.2.1/24"), ns["upstream"], "eth0", netip.MustParsePrefix("10.255.2.2/24")); err != nil {
		return err
	}
	if _, err := ns["upstream"].Run("ip", "route", "add", subscriberPool(o.Subscribers).String(), "via", "10.255.2.1"); err != nil {
		return err
	}
	if _, err := ns["lns"].Run("sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		return err
	}
	say("links: sub %s lac 10.255.1.1 ── 10.255.1.2 lns 10.255.2.1 ── 10.255.2.2 upstream; subscribers' pool %v",
		portsText(o.Subscribers), subscriberPool(o.Subscribers))
	if o.IPv6 {
		for _, c := range []struct {
			n    string
			args []string
		}{
			{"lns", []string{"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"}},
			{"lns", []string{"ip", "-6", "addr", "add", lnsUp6 + "/64", "dev", "eth1", "nodad"}},
			{"upstream", []string{"ip", "-6", "addr", "add", netip.MustParseAddrPort(upstreamUDP6).Addr().String() + "/64", "dev", "eth0", "nodad"}},
			{"upstream", []string{"ip", "-6", "route", "add", links6, "via", lnsUp6}},
			{"upstream", []string{"ip", "-6", "route", "add", delegated6s, "via", lnsUp6}},
			{"upstream", []string{"ip", "-6", "route", "add", poolLinks6, "via", lnsUp6}},
			{"upstream", []string{"ip", "-6", "route", "add", poolDelegated, "via", lnsUp6}},
		} {
			if _, err := ns[c.n].Run(c.args[0], c.args[1:]...); err != nil {
				return err
			}
		}
		say("IPv6 links: lns %s ── %s upstream; subscribers' /64s in %s and %s, delegated /56s in %s and %s", lnsUp6,
			netip.MustParseAddrPort(upstreamUDP6).Addr(), links6, poolLinks6, delegated6s, poolDelegated)
	}
	if o.Engine == "xdp" || o.Engine == "auto" {
		// The LAC's fast path routes what it encapsulates with the
		// kernel's FIB lookup, which answers only where forwarding is on.
		if _, err := ns["lac"].Run("sysctl", "-qw", "net.ipv4.conf.all.forwarding=1"); err != nil {
			return err
		}
		// The fast path redirects frames into the veths towards the
		// subscriber and upstream; a veth delivers redirected frames
		// only when its receiving end has NAPI, which GRO gives it
		// (shared/notes/xdp.md). A NIC needs nothing of the kind.
		for _, n := range []string{"sub", "upstream"} {
			if _, err := ns[n].Run("ethtool", "-K", "eth0", "gro", "on"); err != nil {
				return fmt.Errorf("lab: the XDP engine needs GRO on the veths it redirects into: %w", err)
			}
		}
		// A veth hands the LNS upstream's packets with their transport
		// checksum left to offload (CHECKSUM_PARTIAL), which only an skb
		// carries: XDP forwards the frame as it is, and the subscriber
		// gets a UDP checksum that is wrong (IPv6 makes it mandatory,
		// RFC 8200 section 8.1). A host behind a NIC sends complete
		// checksums, as the upstream does with transmit offload off.
		if _, err := ns["upstream"].Run("ethtool", "-K", "eth0", "tx", "off"); err != nil {
			return fmt.Errorf("lab: the XDP engine needs checksums computed upstream: %w", err)
		}
	}

	// 2. PostgreSQL, migrated; reached over its unix socket from every namespace.
	say("starting an ephemeral PostgreSQL")
	pg, err := pglab.New(ctx)
	if err != nil {
		return err
	}
	e.cleanups = append(e.cleanups, func() { pg.Destroy() })
	e.PG = pg
	dsn, err := pg.CreateDatabase(ctx, "bras")
	e.DSN = dsn
	if err != nil {
		return err
	}
	if err := migrate(ctx, dsn); err != nil {
		return err
	}
	say("PostgreSQL on %s, schema migrated", pg.Dir)

	// 3. FreeRADIUS in namespace lns, with the subscribers.
	rc := radiuslab.Config{
		Dir:      filepath.Join(dir, "radius"),
		AuthAddr: netip.MustParseAddrPort("127.0.0.1:1812"),
		AcctAddr: netip.MustParseAddrPort("127.0.0.1:1813"),
		Secret:   radSecret,
	}
	for i := 0; i < o.Subscribers; i++ {
		reply := []radiuslab.Attr{{Name: "Acct-Interim-Interval", Value: "60"}, {Name: "Class", Value: fmt.Sprintf("plan-%d", i%3)}}
		if o.IPv6 && i%2 == 0 {
			reply = append(reply, radiuslab.Attr{Name: "Framed-IPv6-Prefix", Value: linkPrefix6(i).String()},
				radiuslab.Attr{Name: "Delegated-IPv6-Prefix", Value: delegated6(i).String()})
		}
		rc.Users = append(rc.Users, radiuslab.User{Name: fmt.Sprintf("user%d@%s", i, realm), Password: fmt.Sprintf("pw%d", i), Reply: reply})
	}
	if err := radiuslab.Write(rc); err != nil {
		return err
	}
	rad, err := start(ctx, dir, "freeradius", radiuslab.Command(ctx, rc, false, "ip", "netns", "exec", ns["lns"].Name))
	if err != nil {
		return err
	}
	e.cleanups = append(e.cleanups, rad.stop)
	e.Radius = rad
	if err := ns["lns"].Do(func() error {
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		for {
			if err := radiuslab.Probe(pctx, rc.AuthAddr, radSecret); err == nil {
				return nil
			} else if pctx.Err() != nil {
				return fmt.Errorf("lab: FreeRADIUS did not answer: %w (log %s)", err, rad.log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}); err != nil {
		return err
	}
	say("FreeRADIUS up in lns with %d subscribers user0@%s .. user%d@%s", o.Subscribers, realm, o.Subscribers-1, realm)
	if o.IPv6 {
		say("each dual-stack: the even ones from RADIUS (user0@%s has %v and %v delegated, and so on), the odd ones from the LNS's IPv6 pools",
			realm, linkPrefix6(0), delegated6(0))
	}

	// 4. The LNS and the LAC, each as its own bras process in its namespace.
	lnsConf := filepath.Join(dir, "lns.conf")
	ppp6 := ""
	if o.IPv6 {
		ppp6 = "default-ipv6-pool = link6\ndefault-delegated-pool = pd6\n"
	}
	conf := fmt.Sprintf(lnsConfig, dsn, filepath.Join(dir, "spool"), ppp6, subscriberPool(o.Subscribers), max(65535, o.Subscribers)) +
		dataplaneSection(o.Engine, o.Subscribers, "eth0", "eth1")
	if o.IPv6 {
		conf += fmt.Sprintf(lnsPools6, poolLinks6, poolDelegated)
	}
	if o.L2TPEncap == "ip" {
		conf = strings.Replace(conf, "listen = 10.255.1.2:1701\n", "listen = 10.255.1.2:1701\nlisten-ip = 10.255.1.2\n", 1)
	}
	if o.LNSConfig != nil {
		conf = o.LNSConfig(conf)
	}
	if err := os.WriteFile(lnsConf, []byte(conf), 0o600); err != nil {
		return err
	}
	if err := e.startLNS(ctx, "lns"); err != nil {
		return err
	}
	say("LNS running in lns (L2TP on 10.255.1.2:1701, API on 127.0.0.1:8080 there), logs %s", e.LNS.log)

	lacConf := filepath.Join(dir, "lac.conf")
	lacIfaces := []string{"eth1"}
	var access strings.Builder
	for _, p := range accessPorts(o.Subscribers) {
		fmt.Fprintf(&access, accessConfig, p.lac, o.Mode)
		lacIfaces = append(lacIfaces, p.lac)
	}
	lc := fmt.Sprintf(lacConfig, access.String())
	if o.L2TPVersion == 3 {
		lc = strings.Replace(lc, "default = true\n", "default = true\nversion = 3\n", 1)
	}
	if o.L2TPEncap == "ip" {
		lc = strings.Replace(lc, "version = 3\n", "version = 3\nencap = ip\n", 1)
	}
	lacText := lc + dataplaneSection(o.Engine, o.Subscribers, lacIfaces...)
	if o.LACConfig != nil {
		lacText = o.LACConfig(lacText)
	}
	if err := os.WriteFile(lacConf, []byte(lacText), 0o600); err != nil {
		return err
	}
	e.LAC, err = start(ctx, dir, "lac", exec.Command("ip", "netns", "exec", ns["lac"].Name, o.Bras, "lac", "-config", lacConf))
	if err != nil {
		return err
	}
	e.cleanups = append(e.cleanups, e.LAC.stop)
	time.Sleep(500 * time.Millisecond)
	if e.LAC.exited() {
		return fmt.Errorf("lab: the LAC exited at start; its log %s:\n%s", e.LAC.log, e.LAC.tail())
	}
	over := ""
	if o.L2TPEncap == "ip" {
		over = " over IP"
	}
	say("LAC running in lac (%s mode, PPPoE on %s, L2TPv%d%s to the LNS), logs %s", o.Mode, strings.Join(lacIfaces[1:], ", "), max(o.L2TPVersion, 2), over, e.LAC.log)

	echo, err := start(ctx, dir, "echo", exec.Command("ip", "netns", "exec", ns["upstream"].Name, o.Bras, "echo", "-listen", upstreamUDP))
	if err != nil {
		return err
	}
	e.cleanups = append(e.cleanups, echo.stop)
	say("UDP echo server on upstream %s", upstreamUDP)
	if o.IPv6 {
		echo6, err := start(ctx, dir, "echo6", exec.Command("ip", "netns", "exec", ns["upstream"].Name, o.Bras, "echo", "-listen", upstreamUDP6))
		if err != nil {
			return err
		}
		e.cleanups = append(e.cleanups, echo6.stop)
		say("UDP echo server on upstream %s", upstreamUDP6)
	}
	return nil
}

// startLNS starts the LNS of the lab's configuration (written by setup)
// in namespace lns, its output in name.log, and waits until it runs.
func (e *Env) startLNS(ctx context.Context, name string) error {
	conf := filepath.Join(e.Dir, "lns.conf")
	p, err := start(ctx, e.Dir, name, exec.Command("ip", "netns", "exec", e.NS["lns"].Name, e.Opts.Bras, "lns", "-config", conf))
	if err != nil {
		return err
	}
	e.LNS = p
	e.cleanups = append(e.cleanups, p.stop)
	return p.waitLog(ctx, "LNS running", 15*time.Second)
}

// Run runs the lab. It returns when everything it made is gone again.
func Run(ctx context.Context, o Options) (*Result, error) {
	e, err := Setup(ctx, o)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	o = e.Opts
	say, ns := e.say, e.NS
	res := &Result{LogDir: e.Dir}
	dir := e.Dir
	var captures []*capture
	if o.Capture {
		for _, c := range []struct{ name, ns, iface, filter string }{
			// On the subscribers' side: the LAC's XDP program takes
			// frames before a capture on its own end would see them.
			{"pppoe", "sub", "eth0", ""},
			{"l2tp", "lac", "eth1", "udp port 1701 or ip proto 115"},
			{"radius", "lns", "lo", "udp port 1812 or udp port 1813 or udp port 3799"},
		} {
			cp, err := startCapture(ctx, dir, c.name, ns[c.ns], c.iface, c.filter)
			if err != nil {
				return res, err
			}
			if c.name == "l2tp" {
				// With the secret tshark reveals hidden AVPs and checks
				// every L2TPv3 Message Digest (RFC 3931 section 5.4.1).
				cp.prefs = []string{"-o", "l2tp.shared_secret:" + lacSecret}
			}
			captures = append(captures, cp)
		}
		say("capturing the PPPoE, L2TP and RADIUS links with tshark")
	}

	if err := e.hook(ctx, StageReady); err != nil {
		return res, err
	}

	// 5. The subscribers.
	if o.IPv6 {
		say("bringing up %d dual-stack subscribers with bras load (PAP and CHAP mixed), traffic %.0f packets/s each per family, held %v", o.Subscribers, o.TrafficPPS, o.Hold)
	} else {
		say("bringing up %d subscribers with bras load (PAP and CHAP mixed), traffic %.0f packets/s each, held %v", o.Subscribers, o.TrafficPPS, o.Hold)
	}
	report := filepath.Join(dir, "load.json")
	args := []string{"netns", "exec", ns["sub"].Name, o.Bras, "load", "-iface", "eth0", "-n", fmt.Sprint(o.Subscribers),
		"-user", "user%d@" + realm, "-password", "pw%d", "-auth", "mixed", "-inflight", "200",
		"-traffic-target", upstreamUDP, "-traffic-pps", fmt.Sprint(o.TrafficPPS), "-hold", o.Hold.String(),
		"-setup-timeout", "60s", "-json", report}
	if o.Rate > 0 {
		args = append(args, "-rate", fmt.Sprint(o.Rate))
	}
	if o.IPv6 {
		args = append(args, "-ipv6", "-traffic-target6", upstreamUDP6)
	}
	loadCmd := exec.CommandContext(ctx, "ip", args...)
	loadCmd.Stdout = o.Out
	loadCmd.Stderr = o.Out
	if err := loadCmd.Start(); err != nil {
		return res, err
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- loadCmd.Wait() }()

	// 6. While they are up: the sessions, through the LNS's API.
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		out, err := ns["lns"].Run(o.Bras, "sessions", "-api", lnsAPI, "-state", "up", "-format", "csv")
		if err == nil {
			n := strings.Count(out, "\n") - 1
			res.APISessions = n
			if n >= o.Subscribers {
				break
			}
		}
		select {
		case err := <-loadDone:
			loadDone <- err
			deadline = time.Now()
		case <-time.After(500 * time.Millisecond):
		}
	}
	out, _ := ns["lns"].Command(o.Bras, "sessions", "-api", lnsAPI, "-limit", "10").CombinedOutput()
	res.SessionsText = string(out)
	say("%d sessions up on the LNS (API); the first ten:", res.APISessions)
	fmt.Fprint(o.Out, res.SessionsText)
	if err := e.hook(ctx, StageUp); err != nil {
		loadCmd.Process.Kill()
		<-loadDone
		return res, err
	}

	if err := <-loadDone; err != nil {
		say("bras load: %v", err)
	}
	if err := e.hook(ctx, StageDone); err != nil {
		return res, err
	}
	if o.Engine != "" && o.Engine != "userspace" {
		res.FastPath = scrapeFastPath(ns["lns"], lnsAPI)
		say("LNS fast path: %d packets forwarded up, %d down, %d handed to user space", res.FastPath["forwarded_up"],
			res.FastPath["forwarded_down"], res.FastPath.passed())
		res.LACFastPath = scrapeFastPath(ns["lac"], lacAPI)
		say("LAC fast path: %d packets forwarded up, %d down, %d handed to user space", res.LACFastPath["forwarded_up"],
			res.LACFastPath["forwarded_down"], res.LACFastPath.passed())
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return res, fmt.Errorf("lab: bras load wrote no report: %w", err)
	}
	if err := json.Unmarshal(b, &res.Load); err != nil {
		return res, fmt.Errorf("lab: load report: %w", err)
	}
	say("bras load: %d up, %d failed, set-up rate %.0f/s, PADI→IPCP p50 %.1f ms p99 %.1f ms", res.Load.Up, res.Load.Failed,
		res.Load.SetupRate, res.Load.Stages.Total.P50, res.Load.Stages.Total.P99)
	if tr := res.Load.Traffic; tr != nil {
		say("traffic: %d probes sent, %d echoed back, %d lost (%.2f %%)", tr.Sent, tr.Received, tr.Lost, tr.LossRatio*100)
	}
	if v := res.Load.IPv6; v != nil {
		var t6 load.FamilyTraffic
		if tr := res.Load.Traffic; tr != nil && tr.IPv6 != nil {
			t6 = *tr.IPv6
		}
		say("IPv6: %d of %d subscribers got a prefix and a delegated prefix; %d probes sent, %d echoed back, %d lost",
			v.Up, o.Subscribers, t6.Sent, t6.Received, t6.Lost)
		if v.Failed > 0 {
			say("IPv6: %d set-ups failed: %v", v.Failed, v.Failures)
		}
	}

	// 7. Stop the daemons so every accounting Stop is written, then report.
	e.LAC.stop()
	e.LNS.stop()
	say("LAC and LNS stopped; accounting flushed")
	if len(captures) > 0 {
		res.Captured, res.Malformed = map[string]int{}, map[string]int{}
		var bad strings.Builder
		for _, cp := range captures {
			total, malformed, text, err := cp.finish(ctx)
			if err != nil {
				return res, err
			}
			res.Captured[cp.name], res.Malformed[cp.name] = total, malformed
			bad.WriteString(text)
			say("tshark: %s link: %d packets, %d malformed", cp.name, total, malformed)
			if cp.name == "l2tp" && o.L2TPVersion == 3 {
				var badText string
				if res.V3Control, res.V3Data, res.BadDigests, badText, err = cp.l2tpv3(ctx); err != nil {
					return res, err
				}
				bad.WriteString(badText)
				say("tshark: l2tp link: %d L2TPv3 control and %d data messages, %d with an incorrect digest", res.V3Control, res.V3Data, res.BadDigests)
			}
			if cp.name == "pppoe" && o.IPv6 {
				var badText string
				if res.ICMPv6, res.DHCPv6, res.BadIPv6, badText, err = cp.ipv6(ctx); err != nil {
					return res, err
				}
				bad.WriteString(badText)
				say("tshark: pppoe link: %d ICMPv6 and %d DHCPv6 packets, %d malformed or with a wrong checksum", res.ICMPv6, res.DHCPv6, res.BadIPv6)
			}
		}
		res.MalformedText = bad.String()
	}
	if err := dbTotals(ctx, e.DSN, res); err != nil {
		return res, err
	}
	say("PostgreSQL: %d sessions recorded, %d closed; %d octets in, %d octets out (IPv6: %d in, %d out)",
		res.DBSessions, res.DBStopped, res.DBInOctets, res.DBOutOctets, res.DBIn6Octets, res.DBOut6Octets)
	usage, err := exec.CommandContext(ctx, o.Bras, "report", "usage", "-dsn", e.DSN,
		"-from", time.Now().UTC().Add(-24*time.Hour).Format("2006-01-02"), "-to", time.Now().UTC().Add(24*time.Hour).Format("2006-01-02")).CombinedOutput()
	res.UsageText = string(usage)
	say("usage report (bras report usage), per subscriber and day:")
	printHead(o.Out, res.UsageText, 12)
	if err != nil {
		return res, fmt.Errorf("lab: bras report usage: %v", err)
	}
	causes, err := exec.CommandContext(ctx, o.Bras, "report", "causes", "-dsn", e.DSN, "-format", "csv",
		"-from", time.Now().UTC().Add(-24*time.Hour).Format("2006-01-02"), "-to", time.Now().UTC().Add(24*time.Hour).Format("2006-01-02")).CombinedOutput()
	res.CausesText = string(causes)
	say("why the sessions ended (bras report causes):")
	printHead(o.Out, res.CausesText, 20)
	if err != nil {
		return res, fmt.Errorf("lab: bras report causes: %v", err)
	}
	if res.Causes, err = dbCauses(ctx, e.DSN); err != nil {
		return res, err
	}
	return res, nil
}

// dbCauses counts the closed sessions by terminate cause.
func dbCauses(ctx context.Context, dsn string) (map[string]int, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT COALESCE(bras_terminate_cause(terminate_cause), 'none'), count(*)
		FROM sessions WHERE stop_time IS NOT NULL GROUP BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var cause string
		var n int
		if err := rows.Scan(&cause, &n); err != nil {
			return nil, err
		}
		out[cause] = n
	}
	return out, rows.Err()
}

func printHead(w io.Writer, s string, n int) {
	sc := bufio.NewScanner(strings.NewReader(s))
	lines := 0
	for sc.Scan() {
		if lines == n {
			fmt.Fprintf(w, "... (%d more rows)\n", strings.Count(s, "\n")-n)
			return
		}
		fmt.Fprintln(w, sc.Text())
		lines++
	}
}

func migrate(ctx context.Context, dsn string) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = migrations.Up(ctx, c)
	return err
}

func dbTotals(ctx context.Context, dsn string, res *Result) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT l2tp_version, coalesce(pw_type, ''), tunnel_id, count(*) FROM sessions GROUP BY 1, 2, 3`)
	if err != nil {
		return err
	}
	res.DBCarriers, res.DBTunnels = map[string]int{}, map[int64]int{}
	for rows.Next() {
		var version, n int
		var pw string
		var tunnel int64
		if err := rows.Scan(&version, &pw, &tunnel, &n); err != nil {
			rows.Close()
			return err
		}
		k := fmt.Sprintf("v%d", version)
		if pw != "" {
			k += "/" + pw
		}
		res.DBCarriers[k] += n
		res.DBTunnels[tunnel] += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return c.QueryRow(ctx, `SELECT count(*), count(stop_time),
		coalesce(sum(in_octets),0), coalesce(sum(out_octets),0), coalesce(sum(in_packets),0), coalesce(sum(out_packets),0),
		coalesce(sum(in6_octets),0), coalesce(sum(out6_octets),0), coalesce(sum(in6_packets),0), coalesce(sum(out6_packets),0),
		count(*) FILTER (WHERE framed_ipv6_prefix <<= $1::cidr AND delegated_ipv6_prefix <<= $2::cidr)
		FROM sessions`, poolLinks6, poolDelegated).Scan(&res.DBSessions, &res.DBStopped, &res.DBInOctets, &res.DBOutOctets, &res.DBInPackets, &res.DBOutPackets,
		&res.DBIn6Octets, &res.DBOut6Octets, &res.DBIn6Packets, &res.DBOut6Packets, &res.DBPooled6)
}

// Proc is a daemon the lab started, its output in a log file.
type Proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(ctx context.Context, dir, name string, cmd *exec.Cmd) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: start %s: %w", name, err)
	}
	p := &Proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// Pid is the daemon's process ID (ip netns exec replaces itself with it).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// RSS is the daemon's resident memory in bytes, from /proc.
func (p *Proc) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("lab: no VmRSS")
}

// Log is the path of the daemon's log.
func (p *Proc) Log() string { return p.log }

// Stop ends the daemon gracefully (SIGTERM), killing it after 20 s.
func (p *Proc) Stop() { p.stop() }

func (p *Proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end (SIGTERM: graceful shutdown) and kills it
// after 20 s.
func (p *Proc) stop() {
	if p.exited() {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *Proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (p *Proc) waitLog(ctx context.Context, text string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(p.log); bytes.Contains(b, []byte(text)) {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("lab: %s exited at start:\n%s", p.name, p.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("lab: %s did not start in %v:\n%s", p.name, d, p.tail())
}

const lnsConfig = `# generated by bras lab
[lns]
node = lab-lns
listen = 10.255.1.2:1701
max-sessions = %[5]d
[tun]
name = bras0
address = 100.64.0.1/32
[ppp]
dns = 100.64.0.1
echo-interval = 10s
%[3]s[pool "default"]
range = %[4]s
[lac "lab-lac"]
secret = ` + lacSecret + `
[radius]
[radius.server "lab"]
address = 127.0.0.1:1812
secret = ` + radSecret + `
[radius.accounting-server "lab"]
address = 127.0.0.1:1813
secret = ` + radSecret + `
[coa]
listen = 127.0.0.1:3799
[coa.client "lab"]
address = 127.0.0.1/32
secret = ` + radSecret + `
[accounting]
database = %[1]s
spool-dir = %[2]s
radius = true
[api]
listen = 127.0.0.1:8080
token = ` + apiToken + `
`

// lnsPools6 are the default IPv6 pools of a dual-stack lab, for the
// subscribers RADIUS gives no IPv6 prefix.
const lnsPools6 = `[pool6 "link6"]
prefix = %s
length = 64
[pool6 "pd6"]
prefix = %s
length = 56
`

const lacConfig = `# generated by bras lab
[lac]
host-name = lab-lac
listen = 10.255.1.1:1701
%s[lns "lab-lns"]
address = 10.255.1.2:1701
secret = ` + lacSecret + `
realms = ` + realm + `
default = true
[api]
listen = 127.0.0.1:8081
token = ` + apiToken + `
`

// accessConfig is the LAC's [access] section of one access port: its
// interface and mode.
const accessConfig = `[access "%s"]
mode = %s
`

// portSessions is how many subscribers the lab puts on one access port: a
// PPPoE port numbers 65,534 sessions (RFC 2516 section 4: 0xffff is
// reserved, 0 is discovery), and a round figure leaves room for the
// sessions of a reconnect still closing while new ones open.
const portSessions = 64000

// accessPort is one veth pair between the subscribers and the LAC.
type accessPort struct{ sub, lac string }

// accessPorts are the access links for n subscribers: sub eth0 ── lac
// eth0 (what bras load and the captures use), then sub eth1 ── lac eth2,
// sub eth2 ── lac eth3 and so on (lac eth1 is the tunnel link), one per
// portSessions subscribers.
func accessPorts(n int) []accessPort {
	ports := []accessPort{{"eth0", "eth0"}}
	for i := 1; i*portSessions < n; i++ {
		ports = append(ports, accessPort{fmt.Sprintf("eth%d", i), fmt.Sprintf("eth%d", i+1)})
	}
	return ports
}

// subIfaces are the subscribers' interfaces of n subscribers' ports.
func subIfaces(n int) []string {
	var out []string
	for _, p := range accessPorts(n) {
		out = append(out, p.sub)
	}
	return out
}

func portsText(n int) string {
	var s []string
	for _, p := range accessPorts(n) {
		s = append(s, p.sub+" ── "+p.lac)
	}
	return strings.Join(s, ", ")
}

// subscriberPool is the LNS's address pool for n subscribers: the
// smallest block of 100.64.0.0/10 (RFC 6598) from a /16 up that numbers
// them and the LNS's own address.
func subscriberPool(n int) netip.Prefix {
	bits := 16
	for bits > 10 && 1<<(32-bits)-3 < n {
		bits--
	}
	return netip.PrefixFrom(netip.MustParseAddr("100.64.0.0"), bits)
}

// FastCounts are the LNS's bras_fastpath_packets_total by reason.
type FastCounts map[string]int64

func (f FastCounts) passed() int64 {
	var n int64
	for r, v := range f {
		if strings.HasPrefix(r, "pass_") {
			n += v
		}
	}
	return n
}

// The daemons' HTTP APIs in their namespaces.
const (
	lnsAPI = "http://127.0.0.1:8080"
	lacAPI = "http://127.0.0.1:8081"
)

// scrapeFastPath reads a daemon's fast-path counters from its /metrics at
// api (nil when they cannot be read).
func scrapeFastPath(n *netlab.Netns, api string) FastCounts {
	out, err := n.Run("curl", "-s", "-H", "Authorization: Bearer "+apiToken, api+"/metrics")
	if err != nil {
		return nil
	}
	f := FastCounts{}
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, `bras_fastpath_packets_total{reason="`)
		if !ok {
			continue
		}
		reason, val, ok := strings.Cut(rest, `"} `)
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); ok && err == nil {
			f[reason] = int64(v)
		}
	}
	return f
}

// dataplaneSection is the daemons' [dataplane] section for engine on the
// given interfaces, its maps sized for n sessions, or nothing when engine
// is empty.
func dataplaneSection(engine string, n int, ifaces ...string) string {
	if engine == "" {
		return ""
	}
	return "[dataplane]\nengine = " + engine + "\ninterfaces = " + strings.Join(ifaces, ", ") + "\nmax-sessions = " + strconv.Itoa(max(65536, n)) + "\n"
}

// capture is a tshark recording of one link of the lab.
type capture struct {
	name, file string
	cmd        *exec.Cmd
	done       chan struct{}
	prefs      []string // tshark -o options for reading it
}

func startCapture(ctx context.Context, dir, name string, ns *netlab.Netns, iface, filter string) (*capture, error) {
	file := filepath.Join(dir, name+".pcapng")
	args := []string{"-q", "-n", "-i", iface, "-w", file}
	if filter != "" {
		args = append(args, "-f", filter)
	}
	cmd := ns.Command("tshark", args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: tshark: %w", err)
	}
	c := &capture{name: name, file: file, cmd: cmd, done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "Capturing on") {
				once = true
				close(started)
			}
		}
		if !once {
			close(started)
		}
		cmd.Wait()
		close(c.done)
	}()
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		return nil, fmt.Errorf("lab: tshark on %s did not start", iface)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c, nil
}

// ipv6 counts the ICMPv6 and DHCPv6 packets of a finished capture, and
// those tshark calls malformed or whose ICMPv6 or UDP checksum it finds
// wrong (status 0, "bad"), with a line for each of those.
func (c *capture) ipv6(ctx context.Context) (icmp, dhcp, bad int, text string, err error) {
	count := func(filter string) (int, string, error) {
		out, err := exec.CommandContext(ctx, "tshark", "-n", "-o", "udp.check_checksum:TRUE", "-r", c.file, "-Y", filter).Output()
		if err != nil {
			return 0, "", fmt.Errorf("lab: tshark -r %s -Y %q: %w", c.file, filter, err)
		}
		return strings.Count(string(out), "\n"), string(out), nil
	}
	if icmp, _, err = count("icmpv6"); err != nil {
		return
	}
	if dhcp, _, err = count("dhcpv6"); err != nil {
		return
	}
	bad, text, err = count("(icmpv6 || dhcpv6) && (_ws.malformed || icmpv6.checksum.status == 0 || udp.checksum.status == 0)")
	return
}

// finish stops the capture and has tshark decode it: the packet count, the
// malformed ones and a line for each of those.
func (c *capture) finish(ctx context.Context) (total, malformed int, text string, err error) {
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
	out, err := exec.CommandContext(ctx, "tshark", append([]string{"-n", "-r", c.file, "-T", "fields", "-e", "frame.number"}, c.prefs...)...).Output()
	if err != nil {
		return 0, 0, "", fmt.Errorf("lab: tshark -r %s: %w", c.file, err)
	}
	total = strings.Count(string(out), "\n")
	bad, err := exec.CommandContext(ctx, "tshark", append([]string{"-n", "-r", c.file, "-Y", "_ws.malformed"}, c.prefs...)...).Output()
	if err != nil {
		return 0, 0, "", fmt.Errorf("lab: tshark -r %s: %w", c.file, err)
	}
	malformed = strings.Count(string(bad), "\n")
	return total, malformed, string(bad), nil
}

// l2tpv3 counts the L2TPv3 control and data messages of an L2TP capture
// (RFC 3931, over UDP or IP) and the control messages whose Message Digest tshark
// finds wrong (section 5.4.1), with the text of those.
func (c *capture) l2tpv3(ctx context.Context) (control, data, badDigest int, text string, err error) {
	count := func(filter string) (int, error) {
		out, err := exec.CommandContext(ctx, "tshark", append([]string{"-n", "-r", c.file, "-Y", filter, "-T", "fields", "-e", "frame.number"}, c.prefs...)...).Output()
		if err != nil {
			return 0, fmt.Errorf("lab: tshark -r %s -Y %q: %w", c.file, filter, err)
		}
		return strings.Count(string(out), "\n"), nil
	}
	if control, err = count("l2tp.version == 3 && l2tp.type == 1"); err != nil {
		return
	}
	// Over IP a data message has no version nor T bit: a Session ID that
	// is not zero tells it (RFC 3931 section 4.1.1.1).
	if data, err = count("(l2tp.version == 3 && l2tp.type == 0) || (ip.proto == 115 && l2tp.sid != 0)"); err != nil {
		return
	}
	out, err := exec.CommandContext(ctx, "tshark", append([]string{"-n", "-r", c.file, "-V", "-Y", "l2tp.version == 3 && l2tp.type == 1"}, c.prefs...)...).Output()
	if err != nil {
		return 0, 0, 0, "", fmt.Errorf("lab: tshark -r %s: %w", c.file, err)
	}
	for _, frame := range strings.Split("\n"+string(out), "\nFrame ")[1:] {
		if strings.Contains(frame, "[Incorrect Digest]") {
			badDigest++
			text += "Frame " + frame + "\n"
		}
	}
	return control, data, badDigest, text, nil
}
