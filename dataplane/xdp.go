package dataplane

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// dpFSequencing is DP_F_SEQUENCING of bpf/dataplane.h.
const dpFSequencing = 1 << 0

// isNoSpace reports a hash map that is full (the kernel's E2BIG).
func isNoSpace(err error) bool { return errors.Is(err, unix.E2BIG) }

// Reason is why a packet left the fast path or was dropped there, or that
// it was forwarded: enum dp_reason of bpf/dataplane.h, the index of the
// programs' per-CPU reason counters.
type Reason uint32

// The reasons, in the order of enum dp_reason.
const (
	ReasonFwdUp Reason = iota
	ReasonFwdDown
	ReasonPassOther
	ReasonPassControl
	ReasonPassPPP
	ReasonPassNoSession
	ReasonPassSequenced
	ReasonPassFragment
	ReasonPassOptions
	ReasonPassTTL
	ReasonPassMTU
	ReasonPassFIB
	ReasonPassMalformed
	ReasonDropSpoof
	ReasonDropPolicer
	ReasonDropPeer
	ReasonErrAdjust
	ReasonMSSClamped
	ReasonDropND
	ReasonPassLink
	NumReasons
)

var reasonNames = [NumReasons]string{
	"forwarded_up", "forwarded_down", "pass_other", "pass_l2tp_control", "pass_ppp_control",
	"pass_no_session", "pass_sequenced", "pass_fragment", "pass_ip_options", "pass_ttl",
	"pass_mtu", "pass_fib", "pass_malformed", "drop_spoof", "drop_policer", "drop_peer",
	"drop_adjust", "mss_clamped", "drop_nd_from_subscriber", "pass_link_scope",
}

// String is the reason's metric label.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint32(r))
}

// Stats are the fast path's counters by reason, summed over the CPUs.
type Stats [NumReasons]uint64

// Counters are one session's traffic through the fast path. Up is from the
// subscriber (RADIUS Acct-Input-*), Down towards it; octets are those of
// the IP packets. The totals count IPv4 and IPv6; the IPv6 fields are the
// IPv6 share of them (IPv4's is the difference), for accounting that
// reports the families apart.
type Counters struct {
	UpPackets, UpOctets     uint64
	DownPackets, DownOctets uint64
	Drops                   uint64 // spoofed, over the rate, or router messages from the subscriber

	Up6Packets, Up6Octets     uint64
	Down6Packets, Down6Octets uint64
}

// Add returns c + o.
func (c Counters) Add(o Counters) Counters {
	return Counters{
		UpPackets: c.UpPackets + o.UpPackets, UpOctets: c.UpOctets + o.UpOctets,
		DownPackets: c.DownPackets + o.DownPackets, DownOctets: c.DownOctets + o.DownOctets,
		Drops:      c.Drops + o.Drops,
		Up6Packets: c.Up6Packets + o.Up6Packets, Up6Octets: c.Up6Octets + o.Up6Octets,
		Down6Packets: c.Down6Packets + o.Down6Packets, Down6Octets: c.Down6Octets + o.Down6Octets,
	}
}

// Rate is a session's rate limit in one direction, with the same meaning as
// the user-space policer's: Kbps 0 is no limit; Burst is the bucket depth in
// octets and must be set by the caller when Kbps is not 0.
type Rate struct {
	Kbps  uint64
	Burst uint32
}

// ErrForwardingOff is returned when IPv4 forwarding is off on an
// interface the fast path would attach to: bpf_fib_lookup answers
// BPF_FIB_LKUP_RET_FWD_DISABLED for every packet arriving there, so each
// would be handed to user space.
var ErrForwardingOff = errors.New("dataplane: IPv4 forwarding is off")

// forwarding checks net.ipv4.conf.<name>.forwarding in the calling
// thread's network namespace.
func forwarding(name string) error {
	b, err := os.ReadFile(filepath.Join("/proc/sys/net/ipv4/conf", name, "forwarding"))
	if err != nil {
		return fmt.Errorf("dataplane: interface %s: %w", name, err)
	}
	if strings.TrimSpace(string(b)) != "1" {
		return fmt.Errorf("%w on %s: the kernel's FIB lookup refuses to route its packets (sysctl -w net.ipv4.conf.%s.forwarding=1)",
			ErrForwardingOff, name, strings.ReplaceAll(name, ".", "/"))
	}
	return nil
}

// ErrFull is returned by Add when every slot of the fast path's maps is in
// use: the session stays on the user-space path.
var ErrFull = errors.New("dataplane: fast path full")

// Mirrors of struct dp_counters, dp_bucket, dp_policer and dp_config (the
// same layout as the bpf2go types of both objects; layout_test.go checks).
type (
	counterValue struct {
		UpPackets, UpOctets, DownPackets, DownOctets, Drops uint64
		Up6Packets, Up6Octets, Down6Packets, Down6Octets    uint64
	}
	bucketValue struct {
		Tat, PsPerOctet, ToleranceNs uint64
	}
	policerValue struct {
		Up, Down bucketValue
	}
	configValue struct {
		L2TPPort    uint16 // network order
		L2TPPorts   uint16
		SlowIfindex uint32
		FIBGen      uint32
		FIB6Admit   uint32
	}
)

// Config is what both fast paths are loaded with.
type Config struct {
	// Interfaces the program attaches to (every interface of the role's
	// traffic: towards the subscribers or LACs, and towards the LNS or
	// upstream).
	Interfaces []string
	Mode       Mode
	// MaxSessions sizes the session maps and counter slots (default 65536).
	MaxSessions int
	// L2TPPort is the local UDP port of the tunnels (default 1701);
	// L2TPPorts, on the LAC, how many ports from it its tunnels use (the
	// l2tp endpoint's further sockets, [lac] source-ports; 0 is 1).
	L2TPPort  uint16
	L2TPPorts uint16
	// SlowInterface, on the LNS, is the TUN device: a packet the FIB
	// routes through it is left to the slow path.
	SlowInterface string
	// NoNextHopCache turns the LNS's IPv6 next-hop cache off: every
	// upstream IPv6 packet then pays the kernel's FIB lookup.
	NoNextHopCache bool
	Logger         *slog.Logger
}

// core is what the LNS and LAC fast paths share: the program and its
// links, the counter, policer, reason and settings maps, and the slots.
type core struct {
	prog     *ebpf.Program
	counters *ebpf.Map
	policers *ebpf.Map
	reasons  *ebpf.Map
	settings *ebpf.Map
	set      configValue // what settings holds; written under setMu
	setMu    sync.Mutex
	links    []link.Link
	ncpu     int
	log      *slog.Logger

	mu   sync.Mutex
	free []uint32 // slots given back
	next uint32   // slots below it have been handed out
	max  uint32
}

// fill applies the defaults of c.
func (c *Config) fill() error {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 65536
	}
	if c.L2TPPort == 0 {
		c.L2TPPort = 1701
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.Interfaces) == 0 {
		return errors.New("dataplane: no interface to attach the fast path to")
	}
	return nil
}

// size sets every session-indexed map of spec to n entries.
func size(spec *ebpf.CollectionSpec, n int, names ...string) {
	for _, name := range names {
		if m := spec.Maps[name]; m != nil {
			m.MaxEntries = uint32(n)
		}
	}
}

// open loads spec (as its loader returned it, with specErr) into objs,
// after sizing the session-indexed maps to cfg.MaxSessions; bind points
// the core at the loaded program and shared maps; then it attaches. On
// error nothing stays loaded or attached.
func (c *core) open(spec *ebpf.CollectionSpec, specErr error, cfg Config, objs io.Closer, bind func(), maps ...string) error {
	if specErr != nil {
		return fmt.Errorf("dataplane: %w", specErr)
	}
	for _, name := range cfg.Interfaces {
		if err := forwarding(name); err != nil {
			return err
		}
	}
	size(spec, cfg.MaxSessions, append(maps, "session_counters", "session_policers")...)
	if err := spec.LoadAndAssign(objs, nil); err != nil {
		return fmt.Errorf("dataplane: load the program: %w", err)
	}
	bind()
	if err := c.start(cfg); err != nil {
		objs.Close()
		return err
	}
	return nil
}

// start writes the settings and attaches the program to every interface.
// On error everything attached is detached again.
func (c *core) start(cfg Config) error {
	c.max = uint32(cfg.MaxSessions)
	c.log = cfg.Logger
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("dataplane: %w", err)
	}
	c.ncpu = n
	set := configValue{L2TPPort: be16(cfg.L2TPPort), L2TPPorts: cfg.L2TPPorts}
	if cfg.SlowInterface != "" {
		ifc, err := net.InterfaceByName(cfg.SlowInterface)
		if err != nil {
			return fmt.Errorf("dataplane: slow-path interface: %w", err)
		}
		set.SlowIfindex = uint32(ifc.Index)
	}
	if !cfg.NoNextHopCache {
		set.FIB6Admit = nextHopAdmit
	}
	c.set = set
	if err := c.settings.Put(uint32(0), set); err != nil {
		return fmt.Errorf("dataplane: settings: %w", err)
	}
	flags := link.XDPDriverMode
	if cfg.Mode == ModeGeneric {
		flags = link.XDPGenericMode
	}
	for _, name := range cfg.Interfaces {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			c.detach()
			return fmt.Errorf("dataplane: interface %s: %w", name, err)
		}
		// A bpf_link: the program is detached when the last file
		// descriptor closes, so also when the process dies.
		l, err := link.AttachXDP(link.XDPOptions{Program: c.prog, Interface: ifc.Index, Flags: flags})
		if err != nil {
			c.detach()
			return fmt.Errorf("dataplane: attach XDP (%s) to %s: %w", cfg.Mode, name, err)
		}
		c.links = append(c.links, l)
	}
	return nil
}

// bumpFIB moves the FIB generation on: every cached next hop is stale.
func (c *core) bumpFIB() error {
	c.setMu.Lock()
	defer c.setMu.Unlock()
	c.set.FIBGen++
	if err := c.settings.Put(uint32(0), c.set); err != nil {
		return fmt.Errorf("dataplane: settings: %w", err)
	}
	return nil
}

func (c *core) detach() {
	for _, l := range c.links {
		l.Close()
	}
	c.links = nil
}

// slot hands out a free counter and policer slot.
func (c *core) slot() (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.free); n > 0 {
		s := c.free[n-1]
		c.free = c.free[:n-1]
		return s, nil
	}
	if c.next >= c.max {
		return 0, ErrFull
	}
	c.next++
	return c.next - 1, nil
}

// release zeroes slot's counters and policer and gives it back.
func (c *core) release(slot uint32) {
	zero := make([]counterValue, c.ncpu)
	if err := c.counters.Put(slot, zero); err != nil {
		c.log.Warn("dataplane: clearing a counter slot", "slot", slot, "err", err)
	}
	if err := c.policers.Put(slot, policerValue{}); err != nil {
		c.log.Warn("dataplane: clearing a policer slot", "slot", slot, "err", err)
	}
	c.mu.Lock()
	c.free = append(c.free, slot)
	c.mu.Unlock()
}

// read sums slot's per-CPU counters.
func (c *core) read(slot uint32) (Counters, error) {
	vals := make([]counterValue, c.ncpu)
	if err := c.counters.Lookup(slot, &vals); err != nil {
		return Counters{}, fmt.Errorf("dataplane: counters of slot %d: %w", slot, err)
	}
	var s Counters
	for _, v := range vals {
		s = s.Add(Counters(v))
	}
	return s, nil
}

// bucket is the GCRA state for r (struct dp_bucket), full.
func bucket(r Rate) bucketValue {
	if r.Kbps == 0 {
		return bucketValue{}
	}
	ps := uint64(8e9) / r.Kbps // one octet at Kbps*1000 bit/s, picoseconds
	if ps == 0 {
		ps = 1
	}
	return bucketValue{PsPerOctet: ps, ToleranceNs: uint64(r.Burst) * ps / 1000}
}

// setRate writes slot's policer; the buckets start full.
func (c *core) setRate(slot uint32, up, down Rate) error {
	if err := c.policers.Put(slot, policerValue{Up: bucket(up), Down: bucket(down)}); err != nil {
		return fmt.Errorf("dataplane: policer of slot %d: %w", slot, err)
	}
	return nil
}

// stats sums the reason counters over the CPUs.
func (c *core) stats() (Stats, error) {
	var s Stats
	vals := make([]uint64, c.ncpu)
	for r := range NumReasons {
		if err := c.reasons.Lookup(uint32(r), &vals); err != nil {
			return s, fmt.Errorf("dataplane: reason counters: %w", err)
		}
		for _, v := range vals {
			s[r] += v
		}
	}
	return s, nil
}
