package lab

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bras-project/bras/internal/netlab"
	"github.com/bras-project/bras/internal/xdpgen"
)

// The forwarding benchmark of DESIGN section 8 with a NIC-like generator:
// pre-built frames injected with BPF_PROG_TEST_RUN in live-frames mode on
// the sending veth (xdpgen), counted by an XDP sink at the far end, once
// through bras (PPPoE frames into the LAC upstream, IPv4 frames into the
// LNS's upstream interface downstream) and once through the kernel
// routing the inner packets over the same number of namespaces, the two
// alternating in one run. With XDPForwardOptions.IPv6 the packets are
// IPv6 on both paths (xdpbench6.go).

// XDPForwardOptions say what BenchForwardXDP runs.
type XDPForwardOptions struct {
	Sizes    []int         // IP packet lengths (default 64 and 1400)
	Duration time.Duration // per run (default 5 s)
	Rounds   int           // bras and kernel runs per direction and size (default 3)
	// IPv6 sends IPv6 packets (from and to the subscriber's /64) instead
	// of IPv4, through bras and through the kernel.
	IPv6 bool
}

// XDPRound is one bras run and the kernel run after it.
type XDPRound struct {
	BrasPPS   float64 `json:"bras_pps"`   // delivered
	KernelPPS float64 `json:"kernel_pps"` // delivered
	// Offered packets/s: the frames the generator sent out of its veth
	// in the measured window.
	BrasOffered   float64 `json:"bras_offered_pps"`
	KernelOffered float64 `json:"kernel_offered_pps"`
	// CPU is the CPU seconds the LNS and the LAC used during the bras
	// run's measured window.
	CPU []ProcCPU `json:"cpu"`
}

// XDPForward is one direction and packet size: the medians of its rounds.
type XDPForward struct {
	Direction string     `json:"direction"` // up (sub → upstream) or down
	Size      int        `json:"size"`      // IP packet length, octets
	BrasPPS   float64    `json:"bras_pps"`
	KernelPPS float64    `json:"kernel_pps"`
	Ratio     float64    `json:"ratio"` // BrasPPS / KernelPPS
	Rounds    []XDPRound `json:"rounds"`
	// Stages is the CPU time per packet of each XDP program (the daemons'
	// programs, the generator and the sink) in one more bras run after the
	// rounds, with the kernel's BPF statistics on: they cost two clock
	// reads per program run, so the measured rounds run without them.
	Stages []StageCost `json:"stages,omitempty"`
}

// XDPForwardBench is what BenchForwardXDP measured.
type XDPForwardBench struct {
	Engine  string       `json:"engine"` // the daemons' [dataplane] engine ("default": none written)
	Family  string       `json:"family"` // ipv4 or ipv6
	Seconds float64      `json:"seconds"`
	Results []XDPForward `json:"results"`
	// ProbeFastPath is what the daemons' fast paths counted by reason
	// after the probes (none with engine userspace): whether the probes
	// went through XDP or to user space.
	ProbeFastPath struct {
		LAC FastCounts `json:"lac,omitempty"`
		LNS FastCounts `json:"lns,omitempty"`
	} `json:"probe_fast_path"`
}

// subscriber is what the generator needs of the bras load session: the
// PPPoE session (RFC 2516 section 5) and the address IPCP gave.
type subscriber struct {
	mac, acMAC net.HardwareAddr
	session    uint16
	addr       netip.Addr
}

// xdpPath is one of the two paths: where its generators and sinks sit and
// the frames they send, per direction.
type xdpPath struct {
	name      string
	gen, sink [2]*netlab.Netns // by direction: 0 up, 1 down
	genIf     [2]int           // ifindex of eth0 in gen[d]
	sinks     [2]*xdpgen.Sink
	frame     func(dir, size int) ([]byte, error)
}

var directions = [2]string{"up", "down"}

// BenchForwardXDP measures the forwarding rate of one subscriber session
// through sub → LAC → LNS → upstream and back with the NIC-like generator,
// next to the kernel routing the same packets over four other namespaces,
// alternating bras and kernel runs of fo.Duration, fo.Rounds of each per
// direction and size. The daemons run with o.Engine.
func BenchForwardXDP(ctx context.Context, o Options, fo XDPForwardOptions) (res *XDPForwardBench, err error) {
	if len(fo.Sizes) == 0 {
		fo.Sizes = []int{64, 1400}
	}
	if fo.Duration <= 0 {
		fo.Duration = 5 * time.Second
	}
	if fo.Rounds <= 0 {
		fo.Rounds = 3
	}
	for _, s := range fo.Sizes {
		if !fo.IPv6 && (s < 28 || s > 1472) {
			return nil, fmt.Errorf("lab: IPv4 packet size %d: want 28..1472", s)
		}
		if fo.IPv6 && (s < 48 || s > 1452) {
			return nil, fmt.Errorf("lab: IPv6 packet size %d: want 48..1452", s)
		}
	}
	start := time.Now()
	o.Subscribers = 1
	env, err := Setup(ctx, o)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	res = &XDPForwardBench{Engine: o.Engine, Family: "ipv4"}
	if res.Engine == "" {
		res.Engine = "default"
	}
	if fo.IPv6 {
		res.Family = "ipv6"
	}
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

	hold := env.holdSubscriber
	if fo.IPv6 {
		if err := env.setupIPv6(kern); err != nil {
			return nil, err
		}
		hold = env.holdSubscriber6
	}
	sub, stop, err := hold(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	env.say("subscriber session up: MAC %v, PPPoE session %#04x with AC %v, address %v", sub.mac, sub.session, sub.acMAC, sub.addr)

	brasPath, kernPath, err := env.xdpPaths(sub, kern, fo.IPv6)
	if err != nil {
		return nil, err
	}
	for _, p := range []*xdpPath{brasPath, kernPath} {
		for d := range directions {
			err := p.sink[d].Do(func() (err error) {
				p.sinks[d], err = xdpgen.AttachSink("eth0")
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("lab: %s path, %s: %w", p.name, directions[d], err)
			}
			defer p.sinks[d].Close()
		}
	}
	gen, err := xdpgen.NewGenerator()
	if err != nil {
		return nil, err
	}
	defer gen.Close()

	// Every path delivers before anything is measured.
	for _, p := range []*xdpPath{brasPath, kernPath} {
		for d := range directions {
			for _, size := range fo.Sizes {
				n, err := p.probe(gen, d, size)
				if err != nil {
					return nil, err
				}
				if n == 0 {
					return nil, fmt.Errorf("lab: %s path, %s, %d octets: 0 of 1000 probe frames arrived at the sink%s", p.name, directions[d], size, env.diagnose())
				}
				env.say("%s path %s %d octets: %d of 1000 probe frames arrived", p.name, directions[d], size, n)
			}
		}
	}

	if o.Engine != "userspace" {
		// What the fast paths did with the probes: frames handed to user
		// space say why (an unknown session, PPP, over the MTU).
		res.ProbeFastPath.LAC = scrapeFastPath(env.NS["lac"], lacAPI)
		res.ProbeFastPath.LNS = scrapeFastPath(env.NS["lns"], lnsAPI)
		env.say("LAC fast path after the probes: %v", res.ProbeFastPath.LAC)
		env.say("LNS fast path after the probes: %v", res.ProbeFastPath.LNS)
	}
	procs := map[string][]int{"lns": {env.LNS.Pid()}, "lac": {env.LAC.Pid()}}
	for d := range directions {
		for _, size := range fo.Sizes {
			r := XDPForward{Direction: directions[d], Size: size}
			for i := 0; i < fo.Rounds; i++ {
				b, err := brasPath.measure(ctx, gen, d, size, fo.Duration, procs)
				if err != nil {
					return res, fmt.Errorf("%w%s", err, env.diagnose())
				}
				k, err := kernPath.measure(ctx, gen, d, size, fo.Duration, nil)
				if err != nil {
					return res, err
				}
				rd := XDPRound{BrasPPS: b.delivered, BrasOffered: b.offered, CPU: b.cpu, KernelPPS: k.delivered, KernelOffered: k.offered}
				env.say("%s %d octets round %d: bras %.0f pkt/s (offered %.0f), kernel %.0f pkt/s (offered %.0f)",
					directions[d], size, i+1, rd.BrasPPS, rd.BrasOffered, rd.KernelPPS, rd.KernelOffered)
				r.Rounds = append(r.Rounds, rd)
			}
			r.BrasPPS = median(r.Rounds, func(x XDPRound) float64 { return x.BrasPPS })
			r.KernelPPS = median(r.Rounds, func(x XDPRound) float64 { return x.KernelPPS })
			if r.KernelPPS > 0 {
				r.Ratio = r.BrasPPS / r.KernelPPS
			}
			if o.Engine != "userspace" {
				st, err := brasPath.stageCosts(ctx, gen, d, size)
				if err != nil {
					env.say("no CPU per packet of the XDP programs: %v", err)
				}
				r.Stages = st
			}
			res.Results = append(res.Results, r)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func median(rs []XDPRound, f func(XDPRound) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// warmup is how long a run sends before its measured window opens: the
// generator's first call is under way and the path's queues are full.
const warmup = 300 * time.Millisecond

// run is one measured run of a path.
type run struct {
	delivered, offered float64 // packets/s
	cpu                []ProcCPU
	stages             []StageCost
}

// measure sends frames with the generator for warmup + d and returns the
// packets/s the sink counted in the window of d after the warm-up, the
// packets/s offered, and the CPU time of procs in the window; a run that
// delivers nothing is an error.
func (p *xdpPath) measure(ctx context.Context, gen *xdpgen.Generator, dir, size int, d time.Duration, procs map[string][]int) (run, error) {
	frame, err := p.frame(dir, size)
	if err != nil {
		return run{}, err
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		off xdpgen.Offered
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.err = p.gen[dir].Do(func() (err error) {
			r.off, err = gen.Generate(gctx, frame, p.genIf[dir])
			return err
		})
		done <- r
	}()
	fail := func(err error) (run, error) {
		return run{}, fmt.Errorf("lab: %s path, %s, %d octets: %w", p.name, directions[dir], size, err)
	}
	wait := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case r := <-done:
			if r.err == nil {
				r.err = ctx.Err()
			}
			return fmt.Errorf("the generator stopped early: %v", r.err)
		}
	}
	if err := wait(warmup); err != nil {
		return fail(err)
	}
	tx0, err := txPackets(p.gen[dir], "eth0")
	if err != nil {
		return fail(err)
	}
	c0, err := p.sinks[dir].Count()
	if err != nil {
		return fail(err)
	}
	cpu0, st0, t0 := sampleCPU(procs), xdpProgStats(), time.Now()
	if err := wait(d); err != nil {
		return fail(err)
	}
	c1, err := p.sinks[dir].Count()
	if err != nil {
		return fail(err)
	}
	cpu1, st1, t1 := sampleCPU(procs), xdpProgStats(), time.Now()
	tx1, err := txPackets(p.gen[dir], "eth0")
	if err != nil {
		return fail(err)
	}
	cancel()
	r := <-done
	if r.err != nil {
		return fail(r.err)
	}
	n := c1.Packets - c0.Packets
	if n == 0 {
		return fail(fmt.Errorf("the sink counted 0 frames in %v while the generator offered %.0f/s", d, r.off.PPS()))
	}
	secs := t1.Sub(t0).Seconds()
	out := run{delivered: float64(n) / secs, offered: float64(tx1-tx0) / secs, stages: stageCosts(st0, st1)}
	for name, s := range cpu1 {
		out.cpu = append(out.cpu, ProcCPU{Name: name, Seconds: s - cpu0[name]})
	}
	sort.Slice(out.cpu, func(i, j int) bool { return out.cpu[i].Name > out.cpu[j].Name }) // lns, lac
	return out, nil
}

// stageCosts runs the bras path once more for a second with the kernel's
// BPF statistics on and returns the CPU time per packet of each XDP
// program.
func (p *xdpPath) stageCosts(ctx context.Context, gen *xdpgen.Generator, dir, size int) ([]StageCost, error) {
	stop, err := enableBPFStats()
	if err != nil {
		return nil, err
	}
	defer stop()
	r, err := p.measure(ctx, gen, dir, size, time.Second, nil)
	return r.stages, err
}

// txPackets is the transmit packet counter of dev in n; on a veth it
// counts the frames the generator sent out of it.
func txPackets(n *netlab.Netns, dev string) (uint64, error) {
	out, err := n.Run("ip", "-s", "-j", "link", "show", "dev", dev)
	if err != nil {
		return 0, err
	}
	var links []struct {
		Stats struct {
			TX struct {
				Packets uint64 `json:"packets"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		return 0, fmt.Errorf("lab: ip -s -j link show dev %s in %s: %v: %s", dev, n.Name, err, out)
	}
	return links[0].Stats.TX.Packets, nil
}

// probe sends 1000 frames in one burst and returns how many the sink
// counted.
func (p *xdpPath) probe(gen *xdpgen.Generator, dir, size int) (uint64, error) {
	frame, err := p.frame(dir, size)
	if err != nil {
		return 0, err
	}
	before, err := p.sinks[dir].Count()
	if err != nil {
		return 0, err
	}
	if err := p.gen[dir].Do(func() error { return gen.Run(frame, p.genIf[dir], 1000) }); err != nil {
		return 0, fmt.Errorf("lab: %s path, %s: %w", p.name, directions[dir], err)
	}
	time.Sleep(100 * time.Millisecond)
	after, err := p.sinks[dir].Count()
	if err != nil {
		return 0, err
	}
	return after.Packets - before.Packets, nil
}

// diagnose is what the neighbour tables and the logs of the daemons and
// bras load say, for an error about the bras path delivering nothing (a
// session lost under the flood shows there: LCP keepalive, PADT).
func (e *Env) diagnose() string {
	var b strings.Builder
	for _, n := range []string{"lac", "lns"} {
		out, _ := e.NS[n].Run("ip", "neigh")
		fmt.Fprintf(&b, "\n%s: ip neigh:\n%s", n, out)
	}
	load, _ := os.ReadFile(filepath.Join(e.Dir, "load.log"))
	if len(load) > 2000 {
		load = load[len(load)-2000:]
	}
	fmt.Fprintf(&b, "\nLNS log:\n%s\nLAC log:\n%s\nbras load:\n%s", e.LNS.tail(), e.LAC.tail(), load)
	return b.String()
}

// holdSubscriber brings one subscriber up with bras load (bound to a TUN
// device so its address is known, held until stop) and learns its PPPoE
// session from the PADS the AC sent it (RFC 2516 section 5.4).
func (e *Env) holdSubscriber(ctx context.Context) (*subscriber, func(), error) {
	pads := make(chan subscriber, 1)
	var fd int
	err := e.NS["sub"].Do(func() (err error) {
		fd, err = openPADSCapture("eth0")
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	stopCap, capDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(capDone)
		defer unix.Close(fd)
		readPADS(fd, pads, stopCap)
	}()
	defer func() { close(stopCap); <-capDone }()

	loadCmd := e.NS["sub"].Command(e.Opts.Bras, "load", "-iface", "eth0", "-n", "1", "-user", "user%d@"+realm,
		"-password", "pw%d", "-tun", brasTUN, "-tun-route", "10.255.2.0/24", "-hold", "-1s", "-q", "-json", filepath.Join(e.Dir, "load.json"))
	lf, err := os.Create(filepath.Join(e.Dir, "load.log"))
	if err != nil {
		return nil, nil, err
	}
	loadCmd.Stdout, loadCmd.Stderr = lf, lf
	loadCmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := loadCmd.Start(); err != nil {
		lf.Close()
		return nil, nil, err
	}
	loadDone := make(chan struct{})
	go func() { loadCmd.Wait(); lf.Close(); close(loadDone) }()
	stop := func() {
		loadCmd.Process.Signal(os.Interrupt)
		select {
		case <-loadDone:
		case <-time.After(10 * time.Second):
			loadCmd.Process.Kill()
			<-loadDone
		}
	}
	fail := func(err error) (*subscriber, func(), error) {
		stop()
		b, _ := os.ReadFile(lf.Name())
		return nil, nil, fmt.Errorf("%w\nbras load:\n%s", err, b)
	}
	if err := waitRoute(ctx, e.NS["sub"], upstreamHost, brasTUN, 30*time.Second, loadDone); err != nil {
		return fail(err)
	}
	var s subscriber
	select {
	case s = <-pads:
	case <-time.After(5 * time.Second):
		return fail(errors.New("lab: the session is up but no PADS was seen on sub eth0"))
	}
	out, err := e.NS["sub"].Run("ip", "-4", "-o", "addr", "show", "dev", brasTUN)
	if err != nil {
		return fail(err)
	}
	for _, f := range strings.Fields(out) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr().Is4() {
			s.addr = p.Addr()
		}
	}
	if !s.addr.IsValid() {
		return fail(fmt.Errorf("lab: no IPv4 address on %s: %s", brasTUN, out))
	}
	return &s, stop, nil
}

// openPADSCapture opens a packet socket for PPPoE discovery frames
// (ethertype 0x8863) on ifname of the calling thread's namespace.
func openPADSCapture(ifname string) (int, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return -1, err
	}
	proto := int(htons(unix.ETH_P_PPP_DISC))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("lab: packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("lab: bind packet socket to %s: %w", ifname, err)
	}
	tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// readPADS reads discovery frames from fd (with a receive timeout) until
// a PADS with a session ID (RFC 2516 section 5.4: code 0x65) arrives, and
// sends the session it names on out, or until stop is closed.
func readPADS(fd int, out chan<- subscriber, stop <-chan struct{}) {
	buf := make([]byte, 2048)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		f := buf[:n]
		// Ethernet: dst, src, type; PPPoE: ver/type 0x11, code, session ID.
		if len(f) < 20 || binary.BigEndian.Uint16(f[12:]) != unix.ETH_P_PPP_DISC || f[14] != 0x11 || f[15] != 0x65 {
			continue
		}
		if id := binary.BigEndian.Uint16(f[16:]); id != 0 && id != 0xffff {
			out <- subscriber{
				mac:     append(net.HardwareAddr(nil), f[0:6]...),
				acMAC:   append(net.HardwareAddr(nil), f[6:12]...),
				session: id,
			}
			return
		}
	}
}

// xdpPaths prepares both paths: GRO on the veths the generators send into
// (a veth receives redirected frames only with NAPI, which GRO or an XDP
// program gives it), static neighbours on every hop, and the frames, IPv6
// ones with v6.
func (e *Env) xdpPaths(sub *subscriber, kern []*netlab.Netns, v6 bool) (brasPath, kernPath *xdpPath, err error) {
	ns := e.NS
	type ifKey struct {
		ns  *netlab.Netns
		dev string
	}
	macs := map[ifKey]net.HardwareAddr{}
	idx := map[ifKey]int{}
	for _, k := range []ifKey{
		{ns["sub"], "eth0"}, {ns["lac"], "eth0"}, {ns["lac"], "eth1"}, {ns["lns"], "eth0"}, {ns["lns"], "eth1"}, {ns["upstream"], "eth0"},
		{kern[0], "eth0"}, {kern[1], "eth0"}, {kern[1], "eth1"}, {kern[2], "eth0"}, {kern[2], "eth1"}, {kern[3], "eth0"},
	} {
		if err := k.ns.Do(func() error {
			ifc, err := net.InterfaceByName(k.dev)
			if err != nil {
				return err
			}
			macs[k], idx[k] = ifc.HardwareAddr, ifc.Index
			return nil
		}); err != nil {
			return nil, nil, fmt.Errorf("lab: %s %s: %w", k.ns.Name, k.dev, err)
		}
	}
	if !strings.EqualFold(sub.acMAC.String(), macs[ifKey{ns["lac"], "eth0"}].String()) {
		return nil, nil, fmt.Errorf("lab: the PADS came from %v, not from lac eth0 (%v)", sub.acMAC, macs[ifKey{ns["lac"], "eth0"}])
	}
	for _, g := range []ifKey{{ns["lac"], "eth0"}, {ns["lns"], "eth1"}, {kern[1], "eth0"}, {kern[2], "eth1"}} {
		if _, err := g.ns.Run("ethtool", "-K", g.dev, "gro", "on"); err != nil {
			return nil, nil, fmt.Errorf("lab: the generators' frames reach a veth only with NAPI (GRO): %w", err)
		}
	}
	type neighbour struct {
		ns       *netlab.Netns
		dev, ip  string
		neighbor ifKey
	}
	neighbours := []neighbour{
		{ns["lac"], "eth1", "10.255.1.2", ifKey{ns["lns"], "eth0"}},
		{ns["lns"], "eth0", "10.255.1.1", ifKey{ns["lac"], "eth1"}},
		{ns["lns"], "eth1", upstreamHost, ifKey{ns["upstream"], "eth0"}},
		{kern[1], "eth0", "10.254.0.2", ifKey{kern[0], "eth0"}},
		{kern[1], "eth1", "10.254.1.2", ifKey{kern[2], "eth0"}},
		{kern[2], "eth0", "10.254.1.1", ifKey{kern[1], "eth1"}},
		{kern[2], "eth1", "10.254.2.2", ifKey{kern[3], "eth0"}},
	}
	up := netip.MustParseAddr(upstreamHost)
	ksub, kup := netip.MustParsePrefix(kernSub).Addr(), netip.MustParsePrefix(kernUp).Addr()
	if v6 {
		k6 := func(i int) string { return netip.MustParsePrefix(kern6[i]).Addr().String() }
		neighbours = append(neighbours,
			neighbour{ns["lns"], "eth1", bench6Up.Addr().String(), ifKey{ns["upstream"], "eth0"}},
			neighbour{kern[1], "eth0", k6(0), ifKey{kern[0], "eth0"}},
			neighbour{kern[1], "eth1", k6(3), ifKey{kern[2], "eth0"}},
			neighbour{kern[2], "eth0", k6(2), ifKey{kern[1], "eth1"}},
			neighbour{kern[2], "eth1", k6(5), ifKey{kern[3], "eth0"}},
		)
		up = bench6Up.Addr()
		ksub, kup = netip.MustParsePrefix(kern6[0]).Addr(), netip.MustParsePrefix(kern6[5]).Addr()
	}
	for _, nb := range neighbours {
		if _, err := nb.ns.Run("ip", "neigh", "replace", nb.ip, "lladdr", macs[nb.neighbor].String(), "dev", nb.dev, "nud", "permanent"); err != nil {
			return nil, nil, err
		}
		if out, err := nb.ns.Run("ip", "neigh", "show", nb.ip, "dev", nb.dev); err != nil || !strings.Contains(out, "PERMANENT") {
			return nil, nil, fmt.Errorf("lab: neighbour %s on %s %s: %q %v", nb.ip, nb.ns.Name, nb.dev, out, err)
		}
	}
	brasPath = &xdpPath{
		name:  "bras",
		gen:   [2]*netlab.Netns{ns["sub"], ns["upstream"]},
		sink:  [2]*netlab.Netns{ns["upstream"], ns["sub"]},
		genIf: [2]int{idx[ifKey{ns["sub"], "eth0"}], idx[ifKey{ns["upstream"], "eth0"}]},
		frame: func(dir, size int) ([]byte, error) {
			if dir == 0 {
				return xdpgen.Frame{Dst: sub.acMAC, Src: sub.mac, PPPoE: true, Session: sub.session, SrcIP: sub.addr, DstIP: up, Size: size}.Append(nil)
			}
			return xdpgen.Frame{Dst: macs[ifKey{ns["lns"], "eth1"}], Src: macs[ifKey{ns["upstream"], "eth0"}], SrcIP: up, DstIP: sub.addr, Size: size}.Append(nil)
		},
	}
	kernPath = &xdpPath{
		name:  "kernel",
		gen:   [2]*netlab.Netns{kern[0], kern[3]},
		sink:  [2]*netlab.Netns{kern[3], kern[0]},
		genIf: [2]int{idx[ifKey{kern[0], "eth0"}], idx[ifKey{kern[3], "eth0"}]},
		frame: func(dir, size int) ([]byte, error) {
			if dir == 0 {
				return xdpgen.Frame{Dst: macs[ifKey{kern[1], "eth0"}], Src: macs[ifKey{kern[0], "eth0"}], SrcIP: ksub, DstIP: kup, Size: size}.Append(nil)
			}
			return xdpgen.Frame{Dst: macs[ifKey{kern[2], "eth1"}], Src: macs[ifKey{kern[3], "eth0"}], SrcIP: kup, DstIP: ksub, Size: size}.Append(nil)
		},
	}
	return brasPath, kernPath, nil
}
