package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/netlab"
)

// The whole-chain benchmarks of DESIGN section 8, on the lab's world: the
// set-up rate and the memory per session of real LAC and LNS processes with
// FreeRADIUS and PostgreSQL, and the forwarding rate through PPPoE → L2TP →
// TUN next to the kernel routing the same packets over the same shape of
// namespaces.

// ProcCPU is the CPU time one process (or group of processes) used during
// a measured interval, from /proc/<pid>/stat utime+stime.
type ProcCPU struct {
	Name    string
	Seconds float64
}

// SessionsBench is what BenchSessions measured.
type SessionsBench struct {
	Subscribers int
	Load        load.Report // bras load's report (set-up rate, latencies, failures)
	// RSS of the daemons before the first PADI and once every subscriber
	// was up (while they were held up), in bytes.
	LNSRSSBefore, LNSRSSUp int64
	LACRSSBefore, LACRSSUp int64
	// UpAt is when bras load first reported every set-up resolved (up,
	// failed, or up and dropped again; its progress line, one-second
	// resolution), from the start of bras load; zero when that never
	// happened.
	UpAt time.Duration
	// CPU is the CPU time each part used from the start of bras load to
	// UpAt (or to the end of the set-up when not all came up), largest first.
	CPU     []ProcCPU
	LoadAvg string // /proc/loadavg when the run started
	// LACTunnels is the sessions on each tunnel the LAC had open once
	// every subscriber was up (its bras_l2tp_tunnel_sessions), by Tunnel ID.
	LACTunnels []int
}

// TunnelSessions reads the sessions on each L2TP tunnel from a daemon's
// /metrics text (bras_l2tp_tunnel_sessions), ordered by local Tunnel ID.
func TunnelSessions(metricsText string) []int {
	byID := map[int]int{}
	for _, line := range strings.Split(metricsText, "\n") {
		if !strings.HasPrefix(line, metrics.L2TPTunnelSessions+"{") {
			continue
		}
		_, labels, _ := strings.Cut(line, `tunnel_id="`)
		id, _, _ := strings.Cut(labels, `"`)
		fields := strings.Fields(line)
		n, err1 := strconv.Atoi(id)
		v, err2 := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err1 == nil && err2 == nil {
			byID[n] = int(v)
		}
	}
	ids := slices.Sorted(maps.Keys(byID))
	r := make([]int, len(ids))
	for i, id := range ids {
		r[i] = byID[id]
	}
	return r
}

// LNSBytesPerSession is the LNS's RSS growth divided by the sessions up.
func (b *SessionsBench) LNSBytesPerSession() float64 {
	return perSession(b.LNSRSSUp-b.LNSRSSBefore, b.Load.Up)
}

// LACBytesPerSession is the LAC's RSS growth divided by the sessions up.
func (b *SessionsBench) LACBytesPerSession() float64 {
	return perSession(b.LACRSSUp-b.LACRSSBefore, b.Load.Up)
}

func perSession(growth int64, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(growth) / float64(n)
}

// BenchSessions sets the lab up for o.Subscribers subscribers and brings
// them all up with bras load (PAP and CHAP mixed, no traffic, in-flight cap
// inflight, unlimited rate), holding them up for hold after the last set-up.
// It measures the set-up rate and latencies (bras load's report), the RSS
// of the LNS and the LAC before and with every session up, and the CPU time
// of each process of the chain during the set-up.
func BenchSessions(ctx context.Context, o Options, inflight int, hold time.Duration) (*SessionsBench, error) {
	if hold < 2*time.Second {
		hold = 2 * time.Second // long enough for a progress line with everyone up
	}
	if inflight <= 0 {
		inflight = 200
	}
	env, err := Setup(ctx, o)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	o = env.Opts
	res := &SessionsBench{Subscribers: o.Subscribers, LoadAvg: loadAvg()}
	procs, err := env.chainProcs()
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // let the daemons finish starting (pools, first GC)
	if res.LNSRSSBefore, err = env.LNS.RSS(); err != nil {
		return nil, err
	}
	if res.LACRSSBefore, err = env.LAC.RSS(); err != nil {
		return nil, err
	}

	report := filepath.Join(env.Dir, "load.json")
	cmd := env.NS["sub"].Command(o.Bras, "load", "-iface", strings.Join(subIfaces(o.Subscribers), ","), "-n", fmt.Sprint(o.Subscribers),
		"-user", "user%d@"+realm, "-password", "pw%d", "-auth", "mixed", "-inflight", fmt.Sprint(inflight),
		"-hold", hold.String(), "-setup-timeout", "60s", "-json", report, "-max-failed", fmt.Sprint(o.Subscribers))
	if o.Rate > 0 {
		cmd.Args = append(cmd.Args, "-rate", fmt.Sprint(o.Rate))
	}
	if o.IPv6 {
		// A dual-stack set-up is done once IPV6CP, the Router
		// Advertisement and DHCPv6 prefix delegation are, too.
		cmd.Args = append(cmd.Args, "-ipv6")
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cpu0 := sampleCPU(procs)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	procs["bras load"] = []int{cmd.Process.Pid}
	env.say("bras load: %d subscribers, in-flight cap %d, held %v once up", o.Subscribers, inflight, hold)
	var cpu1 map[string]float64
	var tail []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if tail = append(tail, line); len(tail) > 20 {
			tail = tail[1:]
		}
		if n, ok := progressResolved(line); ok && n >= o.Subscribers && res.UpAt == 0 {
			res.UpAt = time.Since(start)
			cpu1 = sampleCPU(procs)
			if res.LNSRSSUp, err = env.LNS.RSS(); err != nil {
				return nil, err
			}
			if res.LACRSSUp, err = env.LAC.RSS(); err != nil {
				return nil, err
			}
			env.say("all %d set-ups resolved after %.1f s (progress line); LNS RSS %d MiB, LAC RSS %d MiB",
				o.Subscribers, res.UpAt.Seconds(), res.LNSRSSUp>>20, res.LACRSSUp>>20)
			if m, err := env.Metrics("lac"); err == nil {
				res.LACTunnels = TunnelSessions(m)
			}
		}
	}
	werr := cmd.Wait()
	if cpu1 == nil {
		cpu1 = sampleCPU(procs)
		if st := cmd.ProcessState; st != nil {
			cpu1["bras load"] = (st.UserTime() + st.SystemTime()).Seconds()
		}
		res.LNSRSSUp, _ = env.LNS.RSS()
		res.LACRSSUp, _ = env.LAC.RSS()
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return nil, fmt.Errorf("lab: bras load wrote no report (%v): %w\n%s", werr, err, strings.Join(tail, "\n"))
	}
	if err := json.Unmarshal(b, &res.Load); err != nil {
		return nil, fmt.Errorf("lab: load report: %w", err)
	}
	for name, s := range cpu1 {
		res.CPU = append(res.CPU, ProcCPU{Name: name, Seconds: s - cpu0[name]})
	}
	sort.Slice(res.CPU, func(i, j int) bool { return res.CPU[i].Seconds > res.CPU[j].Seconds })
	return res, nil
}

// progressResolved reads how many set-ups are resolved from a bras load
// progress line ("   3.0s started 1000 in-flight 0 up 990 failed 4
// dropped 6 ..."): the sessions up now plus those that failed or came up
// and dropped again. With dual-stack subscribers the line goes on with
// "ipv6 up N failed M": a set-up is resolved once its IPv6 is too (or it
// failed before IPv6 began).
func progressResolved(line string) (int, bool) {
	f := strings.Fields(line)
	n, found := 0, 0
	failed := 0
	i := 0
	for ; i+1 < len(f) && f[i] != "ipv6"; i++ {
		switch f[i] {
		case "up", "failed", "dropped":
			v, err := strconv.Atoi(f[i+1])
			if err != nil {
				return 0, false
			}
			if f[i] == "failed" {
				failed = v
			}
			n += v
			found++
		}
	}
	if found != 3 {
		return 0, false
	}
	if i+4 < len(f) && f[i+1] == "up" && f[i+3] == "failed" {
		up6, err1 := strconv.Atoi(f[i+2])
		failed6, err2 := strconv.Atoi(f[i+4])
		if err1 != nil || err2 != nil {
			return 0, false
		}
		n = min(n, up6+failed6+failed)
	}
	return n, true
}

// chainProcs names the process groups of the chain whose CPU the set-up
// benchmark reports: the LNS, the LAC, FreeRADIUS (every other process in
// namespace lns) and PostgreSQL (the postmaster of the lab's cluster and
// its children). bras load itself is in namespace sub.
func (e *Env) chainProcs() (map[string][]int, error) {
	procs := map[string][]int{"lns": {e.LNS.Pid()}, "lac": {e.LAC.Pid()}}
	out, err := exec.Command("ip", "netns", "pids", e.NS["lns"].Name).Output()
	if err != nil {
		return nil, fmt.Errorf("lab: ip netns pids: %w", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != e.LNS.Pid() {
			procs["freeradius"] = append(procs["freeradius"], pid)
		}
	}
	if u, err := url.Parse(e.DSN); err == nil {
		if host := u.Query().Get("host"); host != "" {
			procs["postgres"] = pgProcs(host)
		}
	}
	return procs, nil
}

// pgProcs finds the postmaster whose command line names dir and its
// children (the backends the LNS connected).
func pgProcs(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	master := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(cl), dir) && strings.Contains(string(cl), "postgres") && master == 0 {
			master = pid
		}
		if st, err := readStat(pid); err == nil {
			parent[pid] = st.ppid
		}
	}
	if master == 0 {
		return nil
	}
	pids := []int{master}
	for pid, pp := range parent {
		if pp == master {
			pids = append(pids, pid)
		}
	}
	return pids
}

type procStat struct {
	ppid         int
	utime, stime uint64 // clock ticks
}

// readStat parses /proc/<pid>/stat (proc(5)): the fields after the
// parenthesised command name, ppid 4th, utime 14th, stime 15th.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, errors.New("lab: malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return procStat{}, errors.New("lab: short /proc stat")
	}
	// f[0] is field 3 (state).
	var st procStat
	st.ppid, _ = strconv.Atoi(f[1])
	st.utime, _ = strconv.ParseUint(f[11], 10, 64)
	st.stime, _ = strconv.ParseUint(f[12], 10, 64)
	return st, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// sampleCPU sums utime+stime per group, in seconds; processes gone are
// counted as zero.
func sampleCPU(procs map[string][]int) map[string]float64 {
	m := map[string]float64{}
	for name, pids := range procs {
		for _, pid := range pids {
			if st, err := readStat(pid); err == nil {
				m[name] += float64(st.utime+st.stime) / clockTicks
			}
		}
	}
	return m
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// WithoutLNSKeepalive writes, in dir, a wrapper around the bras binary
// that starts `bras lns` with LCP keepalive off (echo-interval = 0s in a
// copy of its configuration) and runs every other command unchanged; it
// returns the wrapper's path, to be used as Options.Bras. The wrapper
// execs bras, so the daemon keeps the PID the lab measures.
//
// Why: ppp.Session answers an LCP Echo-Reply with an Echo-Reply (the
// Echo-Reply case of cp.input feeds RXR to the automaton, whose Opened
// action is ser), and so does bras load's own ppp.Session: every
// Echo-Request the LNS sends starts an Echo-Reply ping-pong that never
// ends. RFC 1661 section 5.8 asks for an Echo-Reply only to an
// Echo-Request. With the lab's 10 s keepalive the loops pile up and the
// benchmarks measure them; this wrapper measures the chain without them.
func WithoutLNSKeepalive(bras, dir string) (string, error) {
	script := `#!/bin/sh
# generated by bras bench: bras lns without LCP keepalive
if [ "$1" = lns ] && [ "$2" = -config ]; then
	conf="$3"
	shift 3
	sed 's/^echo-interval *=.*/echo-interval = 0s/' "$conf" > "$conf.bench" || exit 1
	exec '` + bras + `' lns -config "$conf.bench" "$@"
fi
exec '` + bras + `' "$@"
`
	if strings.ContainsRune(bras, '\'') {
		return "", fmt.Errorf("lab: bras path %q has a quote", bras)
	}
	p := filepath.Join(dir, "bras-no-keepalive")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", err
	}
	return p, nil
}

// Iperf is one iperf3 UDP run as the receiver counted it.
type Iperf struct {
	Sent      int64   // datagrams the sender sent (the receiver's view of the sequence)
	Delivered int64   // datagrams that arrived
	Seconds   float64 // the receiver's measured interval
}

// PPS is the delivered packets per second.
func (r Iperf) PPS() float64 {
	if r.Seconds == 0 {
		return 0
	}
	return float64(r.Delivered) / r.Seconds
}

// ForwardBench is one packet size and direction through both paths.
type ForwardBench struct {
	Size    int  // UDP payload octets (iperf3 -l); the IPv4 packet is Size+28
	Reverse bool // downstream: the upstream host sends (iperf3 -R)
	Bras    Iperf
	Kernel  Iperf
	// CPU is the CPU time the LNS, the LAC and bras load (the subscriber
	// side's TUN ↔ PPPoE bridge) used during the bras path's run.
	CPU []ProcCPU
}

// Ratio is the bras path's delivered packets/s over the kernel path's.
func (f ForwardBench) Ratio() float64 {
	if f.Kernel.PPS() == 0 {
		return 0
	}
	return f.Bras.PPS() / f.Kernel.PPS()
}

// ForwardOptions say what BenchForward runs.
type ForwardOptions struct {
	Sizes    []int         // iperf3 -l, UDP payload octets (default 64 and 1400)
	Duration time.Duration // per iperf3 run (default 5 s)
	Reverse  bool          // also downstream (iperf3 -R)
}

// Addresses of the kernel-only path: the same four namespaces and three
// veth pairs as the lab, plain IP routing in kernel lac and kernel lns.
const (
	kernSub      = "10.254.0.2/24"
	kernLACSub   = "10.254.0.1/24"
	kernLACLNS   = "10.254.1.1/24"
	kernLNSLAC   = "10.254.1.2/24"
	kernLNSUp    = "10.254.2.1/24"
	kernUp       = "10.254.2.2/24"
	iperfPort    = "5201"
	brasTUN      = "brsub0"
	upstreamHost = "10.255.2.2"
)

// BenchForward measures the forwarding rate of one subscriber session
// through the whole chain (iperf3 in namespace sub over a TUN device bound
// to a bras load session → LAC → L2TP → LNS → TUN → upstream, where an
// iperf3 server runs) and, in the same run and alternating with it, the
// kernel routing the same iperf3 traffic over four other namespaces of the
// same shape without bras. DESIGN section 8: the figure is the ratio of
// delivered packets per second.
func BenchForward(ctx context.Context, o Options, fo ForwardOptions) ([]ForwardBench, error) {
	if len(fo.Sizes) == 0 {
		fo.Sizes = []int{64, 1400}
	}
	if fo.Duration <= 0 {
		fo.Duration = 5 * time.Second
	}
	if _, err := exec.LookPath("iperf3"); err != nil {
		return nil, fmt.Errorf("lab: forwarding benchmark needs iperf3: %w", err)
	}
	o.Subscribers = 1
	env, err := Setup(ctx, o)
	if err != nil {
		return nil, err
	}
	defer env.Close()

	kern, err := kernelPath()
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, n := range kern {
			n.Delete()
		}
	}()
	env.say("kernel path: namespaces %s ── %s ── %s ── %s, plain IP routing", kern[0].Name, kern[1].Name, kern[2].Name, kern[3].Name)

	// One subscriber bound to a TUN device in sub, routing upstream through it.
	loadCmd := env.NS["sub"].Command(env.Opts.Bras, "load", "-iface", "eth0", "-n", "1", "-user", "user%d@"+realm,
		"-password", "pw%d", "-tun", brasTUN, "-tun-route", "10.255.2.0/24", "-hold", "-1s", "-q", "-json", filepath.Join(env.Dir, "load.json"))
	lf, err := os.Create(filepath.Join(env.Dir, "load.log"))
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	loadCmd.Stdout, loadCmd.Stderr = lf, lf
	loadCmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := loadCmd.Start(); err != nil {
		return nil, err
	}
	loadDone := make(chan struct{})
	go func() { loadCmd.Wait(); close(loadDone) }()
	defer func() {
		loadCmd.Process.Signal(os.Interrupt)
		select {
		case <-loadDone:
		case <-time.After(10 * time.Second):
			loadCmd.Process.Kill()
			<-loadDone
		}
	}()
	if err := waitRoute(ctx, env.NS["sub"], upstreamHost, brasTUN, 30*time.Second, loadDone); err != nil {
		b, _ := os.ReadFile(lf.Name())
		return nil, fmt.Errorf("%w\nbras load:\n%s", err, b)
	}
	env.say("subscriber session up, %s routes 10.255.2.0/24 in sub", brasTUN)
	procs := map[string][]int{"lns": {env.LNS.Pid()}, "lac": {env.LAC.Pid()}, "bras load": {loadCmd.Process.Pid}}

	for _, s := range []struct {
		ns   *netlab.Netns
		addr string
	}{{env.NS["upstream"], upstreamHost}, {kern[3], strings.TrimSuffix(kernUp, "/24")}} {
		srv := s.ns.Command("iperf3", "-s", "-B", s.addr, "-p", iperfPort)
		srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := srv.Start(); err != nil {
			return nil, err
		}
		defer func() { srv.Process.Kill(); srv.Wait() }()
	}
	time.Sleep(300 * time.Millisecond) // the servers bind

	var out []ForwardBench
	dirs := []bool{false}
	if fo.Reverse {
		dirs = append(dirs, true)
	}
	for _, rev := range dirs {
		for _, size := range fo.Sizes {
			fb := ForwardBench{Size: size, Reverse: rev}
			cpu0 := sampleCPU(procs)
			if fb.Bras, err = runIperf(ctx, env.NS["sub"], upstreamHost, size, fo.Duration, rev); err != nil {
				return out, fmt.Errorf("lab: bras path: %w", err)
			}
			for name, s := range sampleCPU(procs) {
				fb.CPU = append(fb.CPU, ProcCPU{Name: name, Seconds: s - cpu0[name]})
			}
			sort.Slice(fb.CPU, func(i, j int) bool { return fb.CPU[i].Seconds > fb.CPU[j].Seconds })
			if fb.Kernel, err = runIperf(ctx, kern[0], strings.TrimSuffix(kernUp, "/24"), size, fo.Duration, rev); err != nil {
				return out, fmt.Errorf("lab: kernel path: %w", err)
			}
			dir := "upstream"
			if rev {
				dir = "downstream"
			}
			env.say("%s %d-octet payload: bras %.0f pkt/s, kernel %.0f pkt/s, ratio %.2f", dir, size, fb.Bras.PPS(), fb.Kernel.PPS(), fb.Ratio())
			out = append(out, fb)
		}
	}
	return out, nil
}

// kernelPath makes namespaces ksub ── klac ── klns ── kup with addresses
// and routes, forwarding on in klac and klns: the kernel's own forwarding
// over the same number of veth hops as sub → lac → lns → upstream.
func kernelPath() (ns []*netlab.Netns, err error) {
	id := netlab.RandHex(3)
	defer func() {
		if err != nil {
			for _, n := range ns {
				n.Delete()
			}
			ns = nil
		}
	}()
	for _, n := range []string{"sub", "lac", "lns", "up"} {
		x, err := netlab.Create("bras-kern-" + id + "-" + n)
		if err != nil {
			return ns, err
		}
		ns = append(ns, x)
	}
	p := netip.MustParsePrefix
	if err := netlab.Link(ns[0], "eth0", p(kernSub), ns[1], "eth0", p(kernLACSub)); err != nil {
		return ns, err
	}
	if err := netlab.Link(ns[1], "eth1", p(kernLACLNS), ns[2], "eth0", p(kernLNSLAC)); err != nil {
		return ns, err
	}
	if err := netlab.Link(ns[2], "eth1", p(kernLNSUp), ns[3], "eth0", p(kernUp)); err != nil {
		return ns, err
	}
	for _, c := range []struct {
		n    *netlab.Netns
		args []string
	}{
		{ns[0], []string{"ip", "route", "add", "default", "via", "10.254.0.1"}},
		{ns[1], []string{"sysctl", "-qw", "net.ipv4.ip_forward=1"}},
		{ns[1], []string{"ip", "route", "add", "10.254.2.0/24", "via", "10.254.1.2"}},
		{ns[2], []string{"sysctl", "-qw", "net.ipv4.ip_forward=1"}},
		{ns[2], []string{"ip", "route", "add", "10.254.0.0/24", "via", "10.254.1.1"}},
		{ns[3], []string{"ip", "route", "add", "default", "via", "10.254.2.1"}},
	} {
		if _, err := c.n.Run(c.args[0], c.args[1:]...); err != nil {
			return ns, err
		}
	}
	return ns, nil
}

// waitRoute waits until the route to dst in n goes through dev.
func waitRoute(ctx context.Context, n *netlab.Netns, dst, dev string, d time.Duration, died <-chan struct{}) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if out, err := n.Run("ip", "route", "get", dst); err == nil && strings.Contains(out, "dev "+dev) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-died:
			return errors.New("lab: bras load exited before its session was up")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("lab: no route to %s through %s after %v", dst, dev, d)
}

// runIperf runs one iperf3 UDP client in n at full speed (-b 0) and
// returns the receiver's counts from its JSON report.
func runIperf(ctx context.Context, n *netlab.Netns, server string, size int, d time.Duration, reverse bool) (Iperf, error) {
	ctx, cancel := context.WithTimeout(ctx, d+20*time.Second)
	defer cancel()
	args := []string{"netns", "exec", n.Name, "iperf3", "-c", server, "-p", iperfPort, "-u", "-b", "0",
		"-l", fmt.Sprint(size), "-t", strconv.FormatFloat(d.Seconds(), 'f', -1, 64), "-J"}
	if reverse {
		args = append(args, "-R")
	}
	out, err := exec.CommandContext(ctx, "ip", args...).Output()
	var rep struct {
		End struct {
			SumReceived struct {
				Seconds float64 `json:"seconds"`
				Bytes   int64   `json:"bytes"`
				Packets int64   `json:"packets"`
				Lost    int64   `json:"lost_packets"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		return Iperf{}, fmt.Errorf("iperf3: %v: %v: %s", err, jerr, truncate(out))
	}
	if rep.Error != "" {
		return Iperf{}, fmt.Errorf("iperf3: %s", rep.Error)
	}
	if err != nil {
		return Iperf{}, fmt.Errorf("iperf3: %w", err)
	}
	r := rep.End.SumReceived
	return Iperf{Sent: r.Packets, Delivered: r.Packets - r.Lost, Seconds: r.Seconds}, nil
}

func truncate(b []byte) []byte {
	if len(b) > 2000 {
		return b[:2000]
	}
	return b
}

// Machine describes where a benchmark ran, for BENCHMARKS.md.
func Machine() string {
	cpu := "?"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	var u syscall.Utsname
	kernel := "?"
	if syscall.Uname(&u) == nil {
		kernel = utsString(u.Release[:])
	}
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s", runtime.NumCPU(), cpu, kernel, runtime.Version())
}

func utsString[T int8 | uint8](b []T) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// LoadAvg is /proc/loadavg's 1, 5 and 15 minute averages.
func LoadAvg() string { return loadAvg() }
