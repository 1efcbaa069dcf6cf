package ethpw

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/l2tp"
)

// FileConfig is the configuration file of `bras pw` (deploy/pw.conf
// documents every key).
type FileConfig struct {
	PW       Section          `cfg:"pw"`
	Peers    []PeerSection    `cfg:"peer"`
	Circuits []CircuitSection `cfg:"circuit"`
	Log      logx.Settings    `cfg:"log"`
}

// Section is the [pw] section: this LCCE.
type Section struct {
	Listen        netip.AddrPort `cfg:"listen"`
	RouterID      netip.Addr     `cfg:"router-id"`
	HostName      string         `cfg:"host-name,required"`
	HelloInterval time.Duration  `cfg:"hello-interval"`
	Sequencing    bool           `cfg:"sequencing"`
	ReconnectMin  time.Duration  `cfg:"reconnect-min"`
	ReconnectMax  time.Duration  `cfg:"reconnect-max"`
	StatsInterval time.Duration  `cfg:"stats-interval"`
	MetricsListen netip.AddrPort `cfg:"metrics-listen"`
}

// PeerSection is a [peer "name"] section: a remote LCCE.
type PeerSection struct {
	Name         string         `cfg:",name"`
	Address      netip.AddrPort `cfg:"address,required"`
	HostName     string         `cfg:"host-name"`
	Secret       config.Secret  `cfg:"secret"`
	Digest       string         `cfg:"digest"`
	CookieLength int            `cfg:"cookie-length"`
	Dial         bool           `cfg:"dial"`
}

// CircuitSection is a [circuit "name"] section: an attachment circuit and
// the pseudowire it is tied to.
type CircuitSection struct {
	Name        string `cfg:",name"`
	Interface   string `cfg:"interface,required"`
	VLAN        int    `cfg:"vlan"`
	RemoteEndID string `cfg:"remote-end-id,required"`
	Peer        string `cfg:"peer,required"`
}

// Defaults of the keys.
const (
	DefaultListenPort    = 1701
	DefaultHelloInterval = 60 * time.Second
	DefaultReconnectMin  = time.Second
	DefaultReconnectMax  = 60 * time.Second
	DefaultStatsInterval = 5 * time.Minute
	DefaultCookieLength  = 8
)

// Validate checks the [pw] keys (config.Decode calls it).
func (s *Section) Validate() error {
	var errs []error
	if s.RouterID.IsValid() && (!s.RouterID.Is4() || s.RouterID.IsUnspecified()) {
		errs = append(errs, &config.KeyError{Key: "router-id", Err: fmt.Errorf("%v: want a non-zero IPv4 address (RFC 3931 section 5.4.3: 32 bits)", s.RouterID)})
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"hello-interval", s.HelloInterval}, {"reconnect-min", s.ReconnectMin}, {"reconnect-max", s.ReconnectMax}, {"stats-interval", s.StatsInterval}} {
		if d.v < 0 {
			errs = append(errs, &config.KeyError{Key: d.key, Err: fmt.Errorf("%v is negative", d.v)})
		}
	}
	if s.ReconnectMin > 0 && s.ReconnectMax > 0 && s.ReconnectMax < s.ReconnectMin {
		errs = append(errs, &config.KeyError{Key: "reconnect-max", Err: fmt.Errorf("%v is below reconnect-min %v", s.ReconnectMax, s.ReconnectMin)})
	}
	return errors.Join(errs...)
}

// Validate checks a [peer] section's keys.
func (p *PeerSection) Validate() error {
	var errs []error
	if _, err := l2tp.ParseDigestMode(p.Digest); err != nil {
		errs = append(errs, &config.KeyError{Key: "digest", Err: err})
	} else if (p.Digest == "md5" || p.Digest == "sha1") && p.Secret.Empty() {
		errs = append(errs, &config.KeyError{Key: "digest", Err: fmt.Errorf("%s needs a secret", p.Digest)})
	}
	if p.CookieLength != 0 && p.CookieLength != 4 && p.CookieLength != 8 {
		errs = append(errs, &config.KeyError{Key: "cookie-length", Err: fmt.Errorf("%d: want 0, 4 or 8 (RFC 3931 section 4.1)", p.CookieLength)})
	}
	if p.Address.IsValid() && p.Address.Port() == 0 {
		errs = append(errs, &config.KeyError{Key: "address", Err: fmt.Errorf("%v: no port", p.Address)})
	}
	return errors.Join(errs...)
}

// Validate checks a [circuit] section's keys.
func (c *CircuitSection) Validate() error {
	var errs []error
	if c.VLAN < 0 || c.VLAN > 4094 {
		errs = append(errs, &config.KeyError{Key: "vlan", Err: fmt.Errorf("%d: want 1 to 4094 (0 or none: the whole port)", c.VLAN)})
	}
	if len(c.Interface) >= 16 {
		errs = append(errs, &config.KeyError{Key: "interface", Err: fmt.Errorf("%q: an interface name has at most 15 characters", c.Interface)})
	}
	if c.RemoteEndID == "" {
		errs = append(errs, &config.KeyError{Key: "remote-end-id", Err: errors.New("is empty")})
	}
	return errors.Join(errs...)
}

// Config is the validated configuration of an LCCE, defaults applied.
type Config struct {
	Listen        netip.AddrPort
	RouterID      uint32 // 0: the listen address, else a hash of HostName
	HostName      string
	HelloInterval time.Duration
	Sequencing    bool // ask for the Default L2-Specific Sublayer with sequence numbers
	ReconnectMin  time.Duration
	ReconnectMax  time.Duration
	StatsInterval time.Duration  // 0: no periodic counter lines
	MetricsListen netip.AddrPort // Prometheus /metrics; zero: none
	Peers         []Peer
	Circuits      []Circuit
}

// Peer is a remote LCCE.
type Peer struct {
	Name      string
	Address   netip.AddrPort
	HostName  string // the Host Name it must send; "" any
	Secret    []byte
	Digest    l2tp.DigestMode
	CookieLen int
	Dial      bool // we open the control connection and place the calls
}

// Circuit is an attachment circuit tied to a pseudowire.
type Circuit struct {
	Name        string
	Interface   string
	VLAN        uint16 // 0: port mode (PW type 0x0005), else VLAN mode (0x0004)
	RemoteEndID []byte // the Remote End ID AVP value (RFC 4719 section 2.2 b)
	Peer        string
}

// PWType is the pseudowire type of the circuit's mode (RFC 4719 section 7).
func (c Circuit) PWType() l2tp.PWType {
	if c.VLAN != 0 {
		return l2tp.PWEthernetVLAN
	}
	return l2tp.PWEthernet
}

// RemoteEndID encodes a remote-end-id value: a decimal number up to
// 4294967295 is the four-octet identifier RFC 4719 section 2.2 b asks
// every implementation to support (what other vendors call the VC ID), in
// network order; anything else is sent as its octets.
func RemoteEndID(s string) []byte {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return []byte(s)
}

// ParseConfig decodes a configuration file strictly and checks it whole:
// an unknown key, a bad value, a circuit naming no peer or tied twice is
// an error naming its line.
func ParseConfig(r io.Reader, filename string) (FileConfig, Config, error) {
	var fc FileConfig
	src, err := config.DecodeSource(r, filename, &fc)
	if err != nil {
		return fc, Config{}, err
	}
	c, err := fc.check(src)
	return fc, c, err
}

// LoadConfig reads and checks the file at path.
func LoadConfig(path string) (FileConfig, Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileConfig{}, Config{}, err
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// check relates the sections and builds the Config.
func (fc *FileConfig) check(src *config.Source) (Config, error) {
	s := fc.PW
	c := Config{
		Listen: s.Listen, HostName: s.HostName, HelloInterval: s.HelloInterval, Sequencing: s.Sequencing,
		ReconnectMin: s.ReconnectMin, ReconnectMax: s.ReconnectMax, StatsInterval: s.StatsInterval,
		MetricsListen: s.MetricsListen,
	}
	if !c.Listen.IsValid() {
		c.Listen = netip.AddrPortFrom(netip.IPv4Unspecified(), DefaultListenPort)
	}
	if s.RouterID.IsValid() {
		b := s.RouterID.As4()
		c.RouterID = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	if c.HelloInterval == 0 {
		c.HelloInterval = DefaultHelloInterval
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = max(DefaultReconnectMax, c.ReconnectMin)
	}
	if !src.IsSet("pw.stats-interval") {
		c.StatsInterval = DefaultStatsInterval
	}
	var errs []error
	peers := map[string]int{}
	addrs := map[netip.Addr]int{}
	for i, p := range fc.Peers {
		at := fmt.Sprintf("peer[%d]", i)
		peers[p.Name] = i
		if j, dup := addrs[p.Address.Addr()]; dup {
			errs = append(errs, src.Errorf(at+".address", "%v is also the address of [peer %q] (%s)", p.Address.Addr(), fc.Peers[j].Name, src.Where(fmt.Sprintf("peer[%d].address", j))))
		}
		addrs[p.Address.Addr()] = i
		d, _ := l2tp.ParseDigestMode(p.Digest)
		cl := DefaultCookieLength
		if src.IsSet(at + ".cookie-length") {
			cl = p.CookieLength
		}
		c.Peers = append(c.Peers, Peer{Name: p.Name, Address: p.Address, HostName: p.HostName, Secret: p.Secret.Bytes(), Digest: d, CookieLen: cl, Dial: p.Dial})
	}
	type endKey struct{ peer, id string }
	ends := map[endKey]int{}
	type acKey struct {
		ifname string
		vlan   int
	}
	acs := map[acKey]int{}
	port := map[string]int{}   // interface -> circuit in port mode
	tagged := map[string]int{} // interface -> a circuit in VLAN mode
	for i, cs := range fc.Circuits {
		at := fmt.Sprintf("circuit[%d]", i)
		if _, ok := peers[cs.Peer]; !ok {
			errs = append(errs, src.Errorf(at+".peer", "no [peer %q]", cs.Peer))
		}
		id := RemoteEndID(cs.RemoteEndID)
		k := endKey{cs.Peer, string(id)}
		if j, dup := ends[k]; dup {
			errs = append(errs, src.Errorf(at+".remote-end-id", "%q with peer %q is also [circuit %q]'s (%s)", cs.RemoteEndID, cs.Peer, fc.Circuits[j].Name, src.Where(fmt.Sprintf("circuit[%d].remote-end-id", j))))
		}
		ends[k] = i
		a := acKey{cs.Interface, cs.VLAN}
		if j, dup := acs[a]; dup {
			errs = append(errs, src.Errorf(at+".interface", "%s is also [circuit %q] (%s)", acName(cs), fc.Circuits[j].Name, src.Where(fmt.Sprintf("circuit[%d]", j))))
		} else if j, ok := port[cs.Interface]; ok && cs.VLAN != 0 {
			errs = append(errs, src.Errorf(at+".vlan", "%s carries every frame of the port for [circuit %q] (%s): no VLAN of it can be another circuit", cs.Interface, fc.Circuits[j].Name, src.Where(fmt.Sprintf("circuit[%d]", j))))
		} else if j, ok := tagged[cs.Interface]; ok && cs.VLAN == 0 {
			errs = append(errs, src.Errorf(at+".interface", "%s has VLAN circuits ([circuit %q], %s): it cannot also be a port circuit", cs.Interface, fc.Circuits[j].Name, src.Where(fmt.Sprintf("circuit[%d]", j))))
		}
		acs[a] = i
		if cs.VLAN == 0 {
			port[cs.Interface] = i
		} else {
			tagged[cs.Interface] = i
		}
		c.Circuits = append(c.Circuits, Circuit{Name: cs.Name, Interface: cs.Interface, VLAN: uint16(cs.VLAN), RemoteEndID: id, Peer: cs.Peer})
	}
	if len(fc.Circuits) == 0 {
		errs = append(errs, src.Errorf("circuit", "no [circuit]: nothing to carry"))
	}
	return c, errors.Join(errs...)
}

func acName(c CircuitSection) string {
	if c.VLAN == 0 {
		return c.Interface
	}
	return c.Interface + " VLAN " + strconv.Itoa(c.VLAN)
}
