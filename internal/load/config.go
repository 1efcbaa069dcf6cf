package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bras-project/bras/ppp"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("load: bad configuration")

// AuthMode says which authentication protocol the subscribers accept.
type AuthMode uint8

// Authentication modes.
const (
	AuthPAP   AuthMode = iota // PAP only (RFC 1334)
	AuthCHAP                  // CHAP-MD5 only (RFC 1994)
	AuthMixed                 // even subscribers PAP, odd ones CHAP-MD5
	AuthAny                   // accept what the AC asks for
)

func (m AuthMode) String() string {
	switch m {
	case AuthPAP:
		return "pap"
	case AuthCHAP:
		return "chap"
	case AuthMixed:
		return "mixed"
	case AuthAny:
		return "any"
	}
	return "AuthMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseAuthMode parses the names String returns.
func ParseAuthMode(s string) (AuthMode, error) {
	for m := AuthPAP; m <= AuthAny; m++ {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: auth %q (want pap, chap, mixed or any)", ErrConfig, s)
}

// protos is what subscriber i accepts in LCP's Authentication-Protocol.
func (m AuthMode) protos(i int) []ppp.AuthProto {
	switch m {
	case AuthPAP:
		return []ppp.AuthProto{ppp.AuthPAP}
	case AuthCHAP:
		return []ppp.AuthProto{ppp.AuthCHAPMD5}
	case AuthMixed:
		if i%2 == 0 {
			return []ppp.AuthProto{ppp.AuthPAP}
		}
		return []ppp.AuthProto{ppp.AuthCHAPMD5}
	}
	return nil // PAP and CHAP-MD5
}

// Credential is one subscriber's user name and password (the CHAP secret).
type Credential struct {
	Username, Password string
}

// ReadCredentials reads one "username password" pair per line; blank lines
// and lines starting with # are skipped.
func ReadCredentials(r io.Reader) ([]Credential, error) {
	var out []Credential
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: credentials line %d: want \"username password\"", ErrConfig, line)
		}
		out = append(out, Credential{Username: f[0], Password: f[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load: credentials: %w", err)
	}
	return out, nil
}

// expand replaces every %d in pattern by i.
func expand(pattern string, i int) string {
	if !strings.Contains(pattern, "%d") {
		return pattern
	}
	return strings.ReplaceAll(pattern, "%d", strconv.Itoa(i))
}

// Traffic configures the UDP probes sent over every session once IPCP is
// up, to Target (a udpecho server upstream, which sends them back).
type Traffic struct {
	// Target is the echo server; the zero value sends no IPv4 traffic.
	Target netip.AddrPort
	// Target6 is the echo server's IPv6 address (Config.IPv6): every
	// session whose IPv6 set-up is done sends its IPv6 probes there, from
	// its SLAAC address and from its delegated prefix in turn, at the
	// same rate as its IPv4 probes. The zero value sends no IPv6 traffic.
	Target6 netip.AddrPort
	// Size is the IPv4 packet length in octets (default 64, at least 52,
	// at most 1492); the IPv6 probes carry the same payload in 20 octets
	// more.
	Size int
	// PPS is the packets per second each session sends (default 1).
	// TotalPPS, when > 0, is instead the rate of all sessions together,
	// spread round robin over the sessions up.
	PPS, TotalPPS float64
	// Flood sends as fast as possible over all sessions once every set-up
	// is done, for the forwarding benchmark; PPS is then ignored. It
	// sends IPv4 only.
	Flood bool
	// FloodWorkers is the number of flood senders (default GOMAXPROCS).
	FloodWorkers int
	// QueryUpstream asks the echo server, over every session at the end,
	// how many probes it received, to split loss per direction (IPv4).
	QueryUpstream bool
	// Grace is how long replies are awaited after the last probe (default
	// 500 ms).
	Grace time.Duration
}

// enabled reports whether probes are sent at all.
func (t *Traffic) enabled() bool { return t.Target.IsValid() || t.Target6.IsValid() }

// Config configures a load run.
type Config struct {
	// Interface is the Ethernet interface the subscribers sit on.
	// Interfaces, when set, are several (Interface is then ignored):
	// subscriber i sits on Interfaces[i % len], as the lines of one
	// DSLAM behind several ports of the access concentrator. Traffic and
	// TUN need a single interface.
	Interface  string
	Interfaces []string
	// Sessions is the number of subscribers.
	Sessions int
	// Rate is the set-ups started per second (0: as fast as InFlight
	// allows); InFlight caps the set-ups under way (default 100).
	Rate     float64
	InFlight int
	// UserPattern and PasswordPattern make subscriber i's credentials, every
	// %d replaced by FirstIndex+i ("user%d@realm"). Credentials, when set,
	// are used instead, subscriber i taking Credentials[i % len].
	UserPattern, PasswordPattern string
	FirstIndex                   int
	Credentials                  []Credential
	Auth                         AuthMode
	// MACBase is the first subscriber's MAC; subscriber i gets MACBase + i
	// (default 02:00:00:00:00:00).
	MACBase net.HardwareAddr
	// ServiceName and ACName select the access concentrator (RFC 2516
	// section 5.3).
	ServiceName, ACName string
	// DiscoveryTimeout is the first wait for a PADO or PADS (default 1 s,
	// doubling on retries); SetupTimeout bounds one set-up from PADI to
	// IPCP up (default 30 s).
	DiscoveryTimeout, SetupTimeout time.Duration
	// Echo is the LCP keepalive of every session (off by default).
	Echo ppp.EchoConfig
	// Restart is the PPP restart timer (RFC 1661 section 4.6; 3 s by
	// default): how long a lost control packet stalls a set-up.
	Restart time.Duration
	// Workers is the number of goroutines driving PPP sessions (default
	// GOMAXPROCS).
	Workers int
	Traffic Traffic
	// TUN, when set, creates a TUN device of that name bound to the first
	// subscriber's session once IPCP is up (address from IPCP, TUNRoutes
	// routed through it), so ordinary tools run over a real session.
	TUN       string
	TUNRoutes []netip.Prefix
	// IPv6 makes every subscriber dual-stack: IPV6CP next to IPCP (RFC
	// 5072), then a Router Solicitation for the /64 it forms its SLAAC
	// address in (RFC 4861, RFC 4862) and DHCPv6 prefix delegation (RFC
	// 8415, IA_PD; with DHCPv6Address an IA_NA too). A set-up is done
	// when IPCP is up and the IPv6 set-up has got both prefixes or given
	// up: IPV6CP must open within IPv6Timeout of IPCP, and the prefixes
	// come within IPv6Timeout of IPV6CP (default 10 s).
	IPv6          bool
	DHCPv6Address bool
	IPv6Timeout   time.Duration
	// Redial makes every subscriber whose session ends (PADT, LCP
	// Terminate, echo timeout, carrier loss on its interface) dial again
	// after RedialDelay (default 1 s, spread over its second half), the
	// delay doubling after each attempt that fails up to RedialMax
	// (default 32 s), until its session is up again (redial.go). IPv4
	// only.
	Redial                 bool
	RedialDelay, RedialMax time.Duration
	Logger                 *slog.Logger
}

func (c *Config) validate() error {
	if len(c.Interfaces) == 0 && c.Interface != "" {
		c.Interfaces = []string{c.Interface}
	}
	if len(c.Interfaces) == 0 {
		return fmt.Errorf("%w: no interface", ErrConfig)
	}
	for i, n := range c.Interfaces {
		if n == "" || slices.Contains(c.Interfaces[:i], n) {
			return fmt.Errorf("%w: interface %q empty or named twice", ErrConfig, n)
		}
	}
	if len(c.Interfaces) > 256 {
		return fmt.Errorf("%w: %d interfaces (at most 256)", ErrConfig, len(c.Interfaces))
	}
	c.Interface = c.Interfaces[0]
	if len(c.Interfaces) > 1 && (c.Traffic.enabled() || c.TUN != "") {
		return fmt.Errorf("%w: traffic and TUN need one interface, not %d", ErrConfig, len(c.Interfaces))
	}
	if c.Sessions <= 0 {
		return fmt.Errorf("%w: sessions %d", ErrConfig, c.Sessions)
	}
	if c.Sessions > 1<<24 {
		return fmt.Errorf("%w: sessions %d exceeds the MAC space", ErrConfig, c.Sessions)
	}
	if c.Rate < 0 {
		return fmt.Errorf("%w: rate %v", ErrConfig, c.Rate)
	}
	if c.InFlight <= 0 {
		c.InFlight = 100
	}
	if len(c.Credentials) == 0 && c.UserPattern == "" {
		return fmt.Errorf("%w: neither a user pattern nor credentials", ErrConfig)
	}
	if c.Auth > AuthAny {
		return fmt.Errorf("%w: auth %v", ErrConfig, c.Auth)
	}
	if c.MACBase == nil {
		c.MACBase = net.HardwareAddr{0x02, 0, 0, 0, 0, 0}
	}
	if len(c.MACBase) != 6 || c.MACBase[0]&1 != 0 {
		return fmt.Errorf("%w: MAC base %v is not a unicast Ethernet address", ErrConfig, c.MACBase)
	}
	if c.DiscoveryTimeout <= 0 {
		c.DiscoveryTimeout = time.Second
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = 30 * time.Second
	}
	if c.IPv6Timeout <= 0 {
		c.IPv6Timeout = 10 * time.Second
	}
	if c.Redial && c.IPv6 {
		return fmt.Errorf("%w: redial is IPv4 only", ErrConfig)
	}
	if c.RedialDelay <= 0 {
		c.RedialDelay = time.Second
	}
	if c.RedialMax < c.RedialDelay {
		c.RedialMax = max(32*time.Second, c.RedialDelay)
	}
	t := &c.Traffic
	if t.Target6.IsValid() {
		if a := t.Target6.Addr(); !a.Is6() || a.Is4In6() {
			return fmt.Errorf("%w: IPv6 traffic target %v is not IPv6", ErrConfig, t.Target6)
		}
		if !c.IPv6 {
			return fmt.Errorf("%w: IPv6 traffic target %v without IPv6", ErrConfig, t.Target6)
		}
	}
	if t.Target.IsValid() && !t.Target.Addr().Is4() {
		return fmt.Errorf("%w: traffic target %v is not IPv4", ErrConfig, t.Target)
	}
	if t.enabled() {
		if t.Size == 0 {
			t.Size = 64
		}
		if t.Size < minProbe || t.Size > 1492 {
			return fmt.Errorf("%w: traffic size %d (want %d to 1492)", ErrConfig, t.Size, minProbe)
		}
		if t.PPS <= 0 {
			t.PPS = 1
		}
		if t.Grace <= 0 {
			t.Grace = 500 * time.Millisecond
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// credential returns subscriber i's credentials.
func (c *Config) credential(i int) Credential {
	if len(c.Credentials) > 0 {
		return c.Credentials[i%len(c.Credentials)]
	}
	n := c.FirstIndex + i
	return Credential{Username: expand(c.UserPattern, n), Password: expand(c.PasswordPattern, n)}
}

// mac returns subscriber i's MAC: MACBase + i over the low three octets.
func (c *Config) mac(i int) net.HardwareAddr {
	m := append(net.HardwareAddr(nil), c.MACBase...)
	v := (uint32(m[3])<<16 | uint32(m[4])<<8 | uint32(m[5])) + uint32(i)
	m[3], m[4], m[5] = byte(v>>16), byte(v>>8), byte(v)
	return m
}
