package lns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/pool6"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// FileConfig is the LNS configuration file, decoded strictly by
// internal/config. deploy/lns.conf documents every key.
type FileConfig struct {
	LNS        LNSSection         `cfg:"lns"`
	TUN        TUNSection         `cfg:"tun"`
	PPP        PPPSection         `cfg:"ppp"`
	Pools      []PoolSection      `cfg:"pool"`
	Pools6     []Pool6Section     `cfg:"pool6"`
	LACs       []LACSection       `cfg:"lac"`
	RADIUS     RADIUSSection      `cfg:"radius"`
	LocalUsers UsersSection       `cfg:"local-users"`
	CoA        CoASection         `cfg:"coa"`
	Accounting AcctSection        `cfg:"accounting"`
	API        api.Settings       `cfg:"api"`
	Dataplane  dataplane.Settings `cfg:"dataplane"`
	Log        logx.Settings      `cfg:"log"`

	src *config.Source // where the keys are in the file; nil when built in code
}

// LNSSection is [lns].
type LNSSection struct {
	Node     string         `cfg:"node,required"` // prefix of every Acct-Session-Id; unique per LNS node
	HostName string         `cfg:"host-name"`     // Host Name AVP; default: node
	Listen   netip.AddrPort `cfg:"listen"`        // UDP address of the tunnels; default 0.0.0.0:1701
	// ListenIP also takes L2TPv3 straight over IP protocol 115 (RFC 3931
	// section 4.1.1) on this address; unset: over UDP only.
	ListenIP    netip.Addr `cfg:"listen-ip"`
	MaxSessions int        `cfg:"max-sessions"` // on this node; default 65535
	Shards      int        `cfg:"shards"`       // control goroutines; default GOMAXPROCS
	AuthWorkers int        `cfg:"auth-workers"` // concurrent RADIUS/pool requests; default 256
	// Buffers of the tunnels' UDP socket in bytes; default 4 MiB each.
	UDPReceiveBuffer int `cfg:"udp-receive-buffer"`
	UDPSendBuffer    int `cfg:"udp-send-buffer"`

	// L2TP control channel and tunnel set-up (RFC 2661 section 5.8).
	RetransmitCap      time.Duration `cfg:"retransmit-cap"`         // longest wait between retransmissions; default 8s, no less
	MaxRetries         int           `cfg:"max-retries"`            // retransmissions before a tunnel is cleared; default 5
	MaxHalfOpen        int           `cfg:"max-half-open"`          // tunnels being set up, in total; default 1024
	MaxHalfOpenPerPeer int           `cfg:"max-half-open-per-peer"` // tunnels being set up from one address; default 64
}

// Validate refuses a retransmission cap below 8 s (RFC 2661 section 5.8:
// the cap MUST be no less than 8 seconds); a value of zero or less is
// refused by FileConfig's check of numbers.
func (l *LNSSection) Validate() error {
	if l.RetransmitCap > 0 && l.RetransmitCap < 8*time.Second {
		return &config.KeyError{Key: "retransmit-cap", Err: fmt.Errorf("%v is below 8s, the least RFC 2661 section 5.8 allows", l.RetransmitCap)}
	}
	return nil
}

// TUNSection is [tun].
type TUNSection struct {
	Name    string       `cfg:"name"`    // default bras0
	MTU     int          `cfg:"mtu"`     // default 1500
	Address netip.Prefix `cfg:"address"` // the LNS's own address on the device, e.g. 100.64.0.1/32
	Queues  int          `cfg:"queues"`  // TUN queues (one downstream worker each); default 1
	Routes  string       `cfg:"routes"`  // "per-session" (a /32 per subscriber, default) or "per-pool"
	// Offload is "on" (default: IFF_VNET_HDR with TSO/USO when the kernel
	// accepts them, see internal/tun) or "off".
	Offload string `cfg:"offload"`
}

// PPPSection is [ppp].
type PPPSection struct {
	Auth         []string      `cfg:"auth"`            // order of preference: chap, pap; default chap, pap
	LocalIP      netip.Addr    `cfg:"local-ip"`        // our IPCP address; default the TUN address
	DNS          []netip.Addr  `cfg:"dns"`             // primary, secondary when RADIUS gives none
	MRU          int           `cfg:"mru"`             // default 1460 (1500 minus L2TP/UDP/IP)
	EchoInterval time.Duration `cfg:"echo-interval"`   // LCP keepalive; default 30s; 0s disables... see Validate
	EchoFailures int           `cfg:"echo-failures"`   // unanswered echoes that declare the peer dead; default 3
	Restart      time.Duration `cfg:"restart"`         // restart timer; default 3s
	DefaultPool  string        `cfg:"default-pool"`    // pool when RADIUS names none; default: the first [pool]
	SessionLimit time.Duration `cfg:"session-timeout"` // when RADIUS gives none; 0: none
	IdleLimit    time.Duration `cfg:"idle-timeout"`    // when RADIUS gives none; 0: none
	// The rate limit in kbit/s towards and from the subscriber when
	// RADIUS gives none; 0: no limit.
	DefaultRateDown uint64 `cfg:"default-rate-down"`
	DefaultRateUp   uint64 `cfg:"default-rate-up"`

	// IPv6 pools ([pool6]) when RADIUS gives neither a prefix nor a pool
	// name: the link's /64 (Framed-IPv6-Pool), the delegated prefix
	// (Delegated-IPv6-Prefix-Pool), the DHCPv6 address
	// (Stateful-IPv6-Address-Pool). Unset: none.
	DefaultIPv6Pool        string `cfg:"default-ipv6-pool"`
	DefaultDelegatedPool   string `cfg:"default-delegated-pool"`
	DefaultIPv6AddressPool string `cfg:"default-ipv6-address-pool"`
}

// PoolSection is [pool "name"].
type PoolSection struct {
	Name   string   `cfg:",name"`
	Ranges []string `cfg:"range,required"` // CIDR or first-last, repeatable
}

// Pool6Section is [pool6 "name"]: an IPv6 prefix cut into prefixes of
// one length: /64s for links, shorter ones to delegate, /128s for
// addresses.
type Pool6Section struct {
	Name   string       `cfg:",name"`
	Prefix netip.Prefix `cfg:"prefix,required"` // the covering prefix, e.g. 2001:db8:100::/40
	Length int          `cfg:"length,required"` // of each prefix handed out, e.g. 56
}

// LACSection is [lac "name"]: one LAC allowed to open tunnels.
type LACSection struct {
	Name          string         `cfg:",name"`
	HostName      string         `cfg:"host-name"`      // the Host Name AVP it sends; default the section name
	Secret        config.Secret  `cfg:"secret"`         // tunnel secret (RFC 2661 section 5.1.1)
	NoAuth        bool           `cfg:"no-tunnel-auth"` // allow this LAC without tunnel authentication
	HideAVPs      bool           `cfg:"hide-avps"`      // hide the proxy authentication AVPs (RFC 2661 section 4.3)
	AllowedFrom   []netip.Prefix `cfg:"allowed-from"`   // source prefixes; default any
	HelloInterval time.Duration  `cfg:"hello-interval"` // default 60s
	MaxSessions   int            `cfg:"max-sessions"`   // per tunnel; default 65535
	Proxy         string         `cfg:"proxy"`          // "accept" (default) or "renegotiate"
	// Versions are the L2TP versions taken from this LAC: 2 (RFC 2661)
	// and 3 (RFC 3931, PPP pseudowires); default both.
	Versions []int `cfg:"versions"`
	// Cookie is the size of the cookie each L2TPv3 session asks of the
	// LAC's data messages (RFC 3931 section 4.1): 0, 4 (default) or 8.
	Cookie string `cfg:"cookie"`
}

// cookieLen is the cookie size of l's L2TPv3 sessions (valid once check
// accepted it).
func (l *LACSection) cookieLen() int {
	n, _ := l2tp.ParseCookieSize(l.Cookie)
	return n
}

// RADIUSSection is [radius].
type RADIUSSection struct {
	NASIdentifier string         `cfg:"nas-identifier"` // default the node name
	NASIPAddress  netip.Addr     `cfg:"nas-ip-address"`
	Timeout       time.Duration  `cfg:"timeout"` // per transmission; default 3s
	Retries       int            `cfg:"retries"` // per server; default 2
	DeadTime      time.Duration  `cfg:"dead-time"`
	MaxInFlight   int            `cfg:"max-in-flight"`
	Servers       []RADIUSServer `cfg:"server"`
	AcctServers   []RADIUSServer `cfg:"accounting-server"`
}

// RADIUSServer is [radius.server "name"] or [radius.accounting-server "name"].
type RADIUSServer struct {
	Name                        string        `cfg:",name"`
	Address                     string        `cfg:"address,required"`
	Secret                      config.Secret `cfg:"secret,required"`
	RequireMessageAuthenticator string        `cfg:"require-message-authenticator"` // auto (default), always, never
}

// UsersSection is [local-users]: a users file for labs, used only when no
// RADIUS server is configured (never as a silent fallback).
type UsersSection struct {
	File string `cfg:"file"` // lines: username password [ip]
}

// CoASection is [coa]: the RFC 5176 dynamic authorization server.
type CoASection struct {
	Listen  netip.AddrPort `cfg:"listen"` // e.g. 0.0.0.0:3799; unset: no CoA server
	Clients []CoAClient    `cfg:"client"`
	// RFC 5176 section 6.3 replay protection: refuse requests without
	// Event-Timestamp (default true), and the window of both the
	// timestamp check and the duplicate cache (default 300s).
	RequireEventTimestamp bool          `cfg:"require-event-timestamp"`
	ReplayWindow          time.Duration `cfg:"replay-window"`
}

// CoAClient is [coa.client "name"].
type CoAClient struct {
	Name    string        `cfg:",name"`
	Address netip.Prefix  `cfg:"address,required"`
	Secret  config.Secret `cfg:"secret,required"`
}

// AcctSection is [accounting].
type AcctSection struct {
	Database        config.Secret `cfg:"database"`         // PostgreSQL DSN; unset: no database
	SpoolDir        string        `cfg:"spool-dir"`        // default /var/lib/bras/spool
	InterimInterval time.Duration `cfg:"interim-interval"` // when RADIUS gives none; default 5m
	CommitDelay     time.Duration `cfg:"commit-delay"`     // records gathered into one spool fsync; default 10ms
	RADIUS          bool          `cfg:"radius"`           // send RADIUS accounting to [radius.accounting-server]
	SharedPools     bool          `cfg:"shared-pools"`     // allocate addresses from the database (several LNS nodes)
}

// LoadConfig reads and checks the configuration file at path: every
// problem is reported, each with its file and line. `bras lns -check`,
// the start of the daemon and a reload all check a file with it.
func LoadConfig(path string) (*FileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// ParseConfig decodes and checks a configuration.
func ParseConfig(r io.Reader, name string) (*FileConfig, error) {
	c := FileConfig{CoA: CoASection{RequireEventTimestamp: true}} // defaults a key can turn off
	src, err := config.DecodeSource(r, name, &c)
	if err != nil {
		return nil, err
	}
	c.src = src
	errs := c.positive()
	c.defaults()
	if err := errors.Join(append(errs, c.check())...); err != nil {
		return nil, err
	}
	return &c, nil
}

// Source says where the keys of the file the configuration was read
// from are; nil for a configuration built in code.
func (c *FileConfig) Source() *config.Source { return c.src }

// numberKey is a number or a duration that must be above zero when the
// file sets it (leaving it out takes the default); zeroOK ones may be 0,
// which means what the reference configuration says.
type numberKey struct {
	path   string
	value  int64
	def    string
	zeroOK bool
}

func (k numberKey) check(src *config.Source, isDuration bool) error {
	if !src.IsSet(k.path) || k.value > 0 || k.value == 0 && k.zeroOK {
		return nil
	}
	v := fmt.Sprint(k.value)
	if isDuration {
		v = time.Duration(k.value).String()
	}
	if k.zeroOK {
		return src.Errorf(k.path, "%s is negative (leave the key out for the default, %s)", v, k.def)
	}
	return src.Errorf(k.path, "%s: want a value above 0 (leave the key out for the default, %s)", v, k.def)
}

// positive refuses numbers and durations the file sets to zero or less
// where that makes no sense, instead of taking the default for them.
func (c *FileConfig) positive() []error {
	n := func(path string, v int, def string) numberKey {
		return numberKey{path: path, value: int64(v), def: def}
	}
	d := func(path string, v time.Duration, def string) numberKey {
		return numberKey{path: path, value: int64(v), def: def}
	}
	zero := func(k numberKey) numberKey { k.zeroOK = true; return k }
	counts := []numberKey{
		n("lns.max-sessions", c.LNS.MaxSessions, "65535"),
		zero(n("lns.shards", c.LNS.Shards, "0, one per CPU")),
		n("lns.auth-workers", c.LNS.AuthWorkers, "256"),
		n("lns.udp-receive-buffer", c.LNS.UDPReceiveBuffer, "4194304"),
		n("lns.udp-send-buffer", c.LNS.UDPSendBuffer, "4194304"),
		n("lns.max-retries", c.LNS.MaxRetries, "5"),
		n("lns.max-half-open", c.LNS.MaxHalfOpen, "1024"),
		n("lns.max-half-open-per-peer", c.LNS.MaxHalfOpenPerPeer, "64"),
		n("tun.mtu", c.TUN.MTU, "1500"),
		n("tun.queues", c.TUN.Queues, "1"),
		n("ppp.mru", c.PPP.MRU, "1460"),
		n("ppp.echo-failures", c.PPP.EchoFailures, "3"),
		n("radius.retries", c.RADIUS.Retries, "2"),
		n("radius.max-in-flight", c.RADIUS.MaxInFlight, "256"),
	}
	durations := []numberKey{
		d("lns.retransmit-cap", c.LNS.RetransmitCap, "8s"),
		zero(d("ppp.echo-interval", c.PPP.EchoInterval, "30s; 0s disables it")),
		d("ppp.restart", c.PPP.Restart, "3s"),
		zero(d("ppp.session-timeout", c.PPP.SessionLimit, "0s, none")),
		zero(d("ppp.idle-timeout", c.PPP.IdleLimit, "0s, none")),
		d("radius.timeout", c.RADIUS.Timeout, "3s"),
		d("radius.dead-time", c.RADIUS.DeadTime, "30s"),
		d("coa.replay-window", c.CoA.ReplayWindow, "300s"),
		d("accounting.interim-interval", c.Accounting.InterimInterval, "5m"),
		d("accounting.commit-delay", c.Accounting.CommitDelay, "10ms"),
	}
	for i, l := range c.LACs {
		at := fmt.Sprintf("lac[%d].", i)
		counts = append(counts, zero(n(at+"max-sessions", l.MaxSessions, "0, the full ID space")))
		durations = append(durations, d(at+"hello-interval", l.HelloInterval, "60s"))
	}
	var errs []error
	for _, k := range counts {
		if err := k.check(c.src, false); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range durations {
		if err := k.check(c.src, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (c *FileConfig) defaults() {
	if c.LNS.HostName == "" {
		c.LNS.HostName = c.LNS.Node
	}
	if !c.LNS.Listen.IsValid() {
		c.LNS.Listen = netip.MustParseAddrPort("0.0.0.0:1701")
	}
	if c.LNS.MaxSessions <= 0 {
		c.LNS.MaxSessions = 65535
	}
	if c.LNS.AuthWorkers <= 0 {
		c.LNS.AuthWorkers = 256
	}
	if c.LNS.UDPReceiveBuffer <= 0 {
		c.LNS.UDPReceiveBuffer = udpio.DefaultBuffer
	}
	if c.LNS.UDPSendBuffer <= 0 {
		c.LNS.UDPSendBuffer = udpio.DefaultBuffer
	}
	if c.LNS.RetransmitCap <= 0 {
		c.LNS.RetransmitCap = 8 * time.Second
	}
	if c.LNS.MaxRetries <= 0 {
		c.LNS.MaxRetries = 5
	}
	if c.LNS.MaxHalfOpen <= 0 {
		c.LNS.MaxHalfOpen = 1024
	}
	if c.LNS.MaxHalfOpenPerPeer <= 0 {
		c.LNS.MaxHalfOpenPerPeer = 64
	}
	if c.TUN.Name == "" {
		c.TUN.Name = "bras0"
	}
	if c.TUN.MTU <= 0 {
		c.TUN.MTU = 1500
	}
	if c.TUN.Queues <= 0 {
		c.TUN.Queues = 1
	}
	if c.TUN.Routes == "" {
		c.TUN.Routes = "per-session"
	}
	if c.TUN.Offload == "" {
		c.TUN.Offload = "on"
	}
	if len(c.PPP.Auth) == 0 {
		c.PPP.Auth = []string{"chap", "pap"}
	}
	if !c.PPP.LocalIP.IsValid() && c.TUN.Address.IsValid() {
		c.PPP.LocalIP = c.TUN.Address.Addr()
	}
	if c.PPP.MRU <= 0 {
		c.PPP.MRU = 1460
	}
	if c.PPP.EchoFailures <= 0 {
		c.PPP.EchoFailures = 3
	}
	if c.PPP.DefaultPool == "" && len(c.Pools) > 0 {
		c.PPP.DefaultPool = c.Pools[0].Name
	}
	if c.CoA.ReplayWindow <= 0 {
		c.CoA.ReplayWindow = aaa.DefaultReplayWindow
	}
	if c.RADIUS.NASIdentifier == "" {
		c.RADIUS.NASIdentifier = c.LNS.Node
	}
	if c.Accounting.SpoolDir == "" {
		c.Accounting.SpoolDir = "/var/lib/bras/spool"
	}
	if c.Accounting.InterimInterval <= 0 {
		c.Accounting.InterimInterval = 5 * time.Minute
	}
	if c.Accounting.CommitDelay <= 0 {
		c.Accounting.CommitDelay = 10 * time.Millisecond
	}
	for i := range c.LACs {
		l := &c.LACs[i]
		if l.HostName == "" {
			l.HostName = l.Name
		}
		if l.Proxy == "" {
			l.Proxy = "accept"
		}
	}
}

// check validates what the decoder cannot: relations between keys and
// sections. Every error names the key and the line (the line of the key's
// section when the file does not set the key).
func (c *FileConfig) check() error {
	src := c.src
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, src.Errorf(path, format, a...))
	}
	if !c.TUN.Address.IsValid() {
		bad("tun.address", "required: the LNS's own address on the TUN device (e.g. 100.64.0.1/32)")
	}
	if c.TUN.Routes != "per-session" && c.TUN.Routes != "per-pool" {
		bad("tun.routes", "want per-session or per-pool, got %q", c.TUN.Routes)
	}
	if c.LNS.Listen.Port() == 0 {
		bad("lns.listen", "%v: want a port (1701 is L2TP's)", c.LNS.Listen)
	}
	if c.TUN.Offload != "on" && c.TUN.Offload != "off" {
		bad("tun.offload", "want on or off, got %q", c.TUN.Offload)
	}
	if err := udpio.CheckBuffer(c.LNS.UDPReceiveBuffer); err != nil && c.LNS.UDPReceiveBuffer > 0 {
		bad("lns.udp-receive-buffer", "%v", err)
	}
	if err := udpio.CheckBuffer(c.LNS.UDPSendBuffer); err != nil && c.LNS.UDPSendBuffer > 0 {
		bad("lns.udp-send-buffer", "%v", err)
	}
	if c.TUN.MTU < 576 || c.TUN.MTU > 9000 {
		bad("tun.mtu", "%d is out of range 576-9000", c.TUN.MTU)
	}
	if _, err := c.AuthProtos(); err != nil {
		bad("ppp.auth", "%v", err)
	}
	if c.PPP.MRU < 576 || c.PPP.MRU > 1500 {
		bad("ppp.mru", "%d is out of range 576-1500", c.PPP.MRU)
	}
	if len(c.PPP.DNS) > 2 {
		bad("ppp.dns", "at most two servers (primary, secondary)")
	}
	if len(c.Pools) == 0 && !c.Accounting.SharedPools {
		bad("pool", "at least one [pool \"name\"] is required")
	}
	errs = append(errs, c.checkPools()...)
	errs = append(errs, c.checkPools6()...)
	if len(c.LACs) == 0 {
		bad("lac", "at least one [lac \"name\"] is required: the LNS accepts tunnels only from configured LACs")
	}
	for i, l := range c.LACs {
		at := fmt.Sprintf("lac[%d].", i)
		if l.Secret.Empty() && !l.NoAuth {
			bad(at+"secret", "required (tunnel authentication is on by default; set no-tunnel-auth = true to allow this LAC without it)")
		}
		if l.HideAVPs && l.Secret.Empty() {
			bad(at+"hide-avps", "hidden AVPs need a secret")
		}
		if l.Proxy != "accept" && l.Proxy != "renegotiate" {
			bad(at+"proxy", "want accept or renegotiate, got %q", l.Proxy)
		}
		if l.MaxSessions > 65535 {
			bad(at+"max-sessions", "%d: a tunnel has 65535 session IDs", l.MaxSessions)
		}
		for j, v := range l.Versions {
			if v != 2 && v != 3 {
				errs = append(errs, src.ErrorAt(src.ItemLine(at+"versions", j), at+"versions", "%d: want 2 or 3 (L2TP versions)", v))
			}
		}
		if _, err := l2tp.ParseCookieSize(l.Cookie); err != nil {
			bad(at+"cookie", "%v", err)
		}
		for j, m := range c.LACs[:i] {
			if strings.EqualFold(m.HostName, l.HostName) {
				bad(at+"host-name", "%q is also the host name of [lac %q] (%s)", l.HostName, m.Name, src.Where(fmt.Sprintf("lac[%d]", j)))
			}
		}
	}
	if len(c.RADIUS.Servers) == 0 && c.LocalUsers.File == "" {
		bad("radius.server", "no RADIUS server and no [local-users] file: nobody could log in")
	}
	if len(c.RADIUS.Servers) > 0 && c.LocalUsers.File != "" {
		bad("local-users.file", "RADIUS servers are configured: a local users file is never used as a silent fallback; remove one of them")
	}
	for _, list := range []struct {
		path    string
		servers []RADIUSServer
		port    string
	}{{"radius.server", c.RADIUS.Servers, "1812"}, {"radius.accounting-server", c.RADIUS.AcctServers, "1813"}} {
		for i, s := range list.servers {
			at := fmt.Sprintf("%s[%d].", list.path, i)
			if err := checkHostPort(s.Address, list.port); err != nil {
				bad(at+"address", "%v", err)
			}
			if _, err := aaa.ParseMAPolicy(s.RequireMessageAuthenticator); err != nil {
				bad(at+"require-message-authenticator", "%v", err)
			}
		}
	}
	if c.Accounting.RADIUS && len(c.RADIUS.AcctServers) == 0 {
		bad("accounting.radius", "needs at least one [radius.accounting-server]")
	}
	if c.Accounting.SharedPools && c.Accounting.Database.Empty() {
		bad("accounting.shared-pools", "needs accounting.database")
	}
	if _, err := c.Dataplane.Check(); err != nil {
		bad("dataplane", "%v", err)
	}
	if c.CoA.Listen.IsValid() && c.CoA.Listen.Port() == 0 {
		bad("coa.listen", "%v: want a port (3799 is RFC 5176's)", c.CoA.Listen)
	}
	if c.CoA.Listen.IsValid() && len(c.CoA.Clients) == 0 {
		bad("coa.client", "a CoA listener needs at least one client")
	}
	return errors.Join(errs...)
}

// checkHostPort refuses a server address without a port or with a bad
// one; example is the port to show.
func checkHostPort(s, example string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: want host:port, such as 127.0.0.1:%s or [2001:db8::1]:%s", s, example, example)
	}
	if host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return nil
}

// extent4 is the first and last address a [pool] range covers (a CIDR
// prefix whole, its network and broadcast addresses too).
func extent4(r string) (first, last uint32, err error) {
	sp, err := parseSpan(r)
	if err != nil {
		return 0, 0, err
	}
	if pfx, perr := netip.ParsePrefix(strings.TrimSpace(r)); perr == nil {
		pfx = pfx.Masked()
		first = u32(pfx.Addr())
		return first, first + uint32(1<<(32-pfx.Bits())-1), nil
	}
	return sp.first, sp.first + uint32(sp.n-1), nil
}

// checkPools refuses bad ranges, pools of no address, ranges that overlap
// (in one pool or two: an address would be handed out twice) and a
// default pool that is not defined.
func (c *FileConfig) checkPools() []error {
	src := c.src
	type placed struct {
		pool        string
		text, where string
		first, last uint32
	}
	var errs []error
	var seen []placed
	for i, p := range c.Pools {
		path := fmt.Sprintf("pool[%d].range", i)
		for j, r := range p.Ranges {
			line := src.ItemLine(path, j)
			first, last, err := extent4(r)
			if err != nil {
				errs = append(errs, src.ErrorAt(line, path, "%v", err))
				continue
			}
			for _, q := range seen {
				if first <= q.last && q.first <= last {
					of := fmt.Sprintf("pool %q", q.pool)
					if q.pool == p.Name {
						of = "the same pool"
					}
					errs = append(errs, src.ErrorAt(line, path, "%s overlaps %s of %s (%s)", strings.TrimSpace(r), q.text, of, q.where))
				}
			}
			seen = append(seen, placed{pool: p.Name, text: strings.TrimSpace(r), where: src.WhereItem(path, j), first: first, last: last})
		}
	}
	if c.PPP.DefaultPool != "" && len(c.Pools) > 0 && !slices.ContainsFunc(c.Pools, func(p PoolSection) bool { return p.Name == c.PPP.DefaultPool }) {
		errs = append(errs, src.Errorf("ppp.default-pool", "no [pool %q]", c.PPP.DefaultPool))
	}
	if len(errs) == 0 {
		if _, err := c.LocalPools(); err != nil {
			errs = append(errs, src.Errorf("pool", "%v", err))
		}
	}
	return errs
}

// checkPools6 refuses bad [pool6] definitions, pools that overlap, and
// [ppp] defaults that name no pool or one of the wrong length.
func (c *FileConfig) checkPools6() []error {
	src := c.src
	var errs []error
	for i, p := range c.Pools6 {
		at := fmt.Sprintf("pool6[%d].", i)
		d := pool6.Def{Name: p.Name, Prefix: p.Prefix, Length: p.Length}
		if err := d.Check(); err != nil {
			key := "prefix"
			if p.Prefix.IsValid() && p.Prefix.Addr().Is6() && p.Prefix.Masked() == p.Prefix {
				key = "length"
			}
			errs = append(errs, src.Errorf(at+key, "%v", err))
			continue
		}
		for j, q := range c.Pools6[:i] {
			if q.Prefix.Overlaps(p.Prefix) {
				errs = append(errs, src.Errorf(at+"prefix", "%v overlaps %v of pool6 %q (%s)", p.Prefix, q.Prefix, q.Name, src.Where(fmt.Sprintf("pool6[%d].prefix", j))))
			}
		}
	}
	for _, d := range []struct {
		key, name string
		ok        func(length int) bool
		want      string
	}{
		{"default-ipv6-pool", c.PPP.DefaultIPv6Pool, func(n int) bool { return n == 64 }, "a link's /64 (RFC 4291 section 2.5.1)"},
		{"default-delegated-pool", c.PPP.DefaultDelegatedPool, func(n int) bool { return n <= 64 }, "a delegated prefix of /64 or shorter"},
		{"default-ipv6-address-pool", c.PPP.DefaultIPv6AddressPool, func(n int) bool { return n == 128 }, "addresses (length 128)"},
	} {
		if d.name == "" {
			continue
		}
		i := slices.IndexFunc(c.Pools6, func(p Pool6Section) bool { return p.Name == d.name })
		switch {
		case i < 0 && !c.Accounting.SharedPools:
			errs = append(errs, src.Errorf("ppp."+d.key, "no [pool6 %q]", d.name))
		case i >= 0 && !d.ok(c.Pools6[i].Length):
			errs = append(errs, src.Errorf("ppp."+d.key, "[pool6 %q] hands out /%ds; this key wants %s (%s)", d.name, c.Pools6[i].Length, d.want,
				src.Where(fmt.Sprintf("pool6[%d].length", i))))
		}
	}
	return errs
}

// AuthProtos maps ppp.auth to the PPP authentication protocols.
func (c *FileConfig) AuthProtos() ([]ppp.AuthProto, error) {
	var out []ppp.AuthProto
	for _, a := range c.PPP.Auth {
		switch strings.ToLower(a) {
		case "pap":
			out = append(out, ppp.AuthPAP)
		case "chap", "chap-md5":
			out = append(out, ppp.AuthCHAPMD5)
		default:
			return nil, fmt.Errorf("unknown authentication protocol %q (want chap or pap)", a)
		}
	}
	return out, nil
}

// Pool6Defs are the [pool6] sections.
func (c *FileConfig) Pool6Defs() []pool6.Def {
	var defs []pool6.Def
	for _, p := range c.Pools6 {
		defs = append(defs, pool6.Def{Name: p.Name, Prefix: p.Prefix, Length: p.Length})
	}
	return defs
}

// LocalPrefixPools builds the in-memory IPv6 pools of the [pool6]
// sections; nil when there are none.
func (c *FileConfig) LocalPrefixPools() (*LocalPrefixPool, error) {
	if len(c.Pools6) == 0 {
		return nil, nil
	}
	return NewLocalPrefixPool(c.Pool6Defs())
}

// LocalPools builds the in-memory pools of the [pool] sections. The LNS's
// own IPCP address is held from the start: it is never a subscriber's.
func (c *FileConfig) LocalPools() (*LocalPool, error) {
	defs := make(map[string][]string, len(c.Pools))
	for _, p := range c.Pools {
		defs[p.Name] = p.Ranges
	}
	if len(defs) == 0 {
		return nil, nil
	}
	p, err := NewLocalPool(defs, c.PPP.DefaultPool)
	if err != nil {
		return nil, err
	}
	if c.PPP.LocalIP.IsValid() {
		if err := p.Claim(c.PPP.LocalIP, lnsHolder); err != nil {
			return nil, err
		}
	}
	return p, nil
}
