package lac

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// FileConfig is the configuration file of `bras lac` (deploy/lac.conf
// documents every key).
type FileConfig struct {
	LAC    GeneralConfig `cfg:"lac"`
	RADIUS RADIUSConfig  `cfg:"radius"`
	API    APIConfig     `cfg:"api"`
	Access []AccessFile  `cfg:"access"`
	LNS    []LNSFile     `cfg:"lns"`
	// Dataplane is [dataplane]: the forwarding engine.
	Dataplane dataplane.Settings `cfg:"dataplane"`
	// Log is [log]: the format and levels of the log lines.
	Log logx.Settings `cfg:"log"`

	src *config.Source // where the keys are in the file; nil when built in code
}

// GeneralConfig is the [lac] section.
type GeneralConfig struct {
	HostName string         `cfg:"host-name,required"`
	Listen   netip.AddrPort `cfg:"listen"`
	// SourcePorts is how many local UDP ports the tunnels write from:
	// listen's port and the ones after it, each tunnel one (the fewest
	// tunnels first), so that a NIC's receive-side scaling spreads the
	// tunnels across the LNS's cores; default 1.
	SourcePorts       int            `cfg:"source-ports"`
	TunnelSelection   string         `cfg:"tunnel-selection"`
	HoldDown          time.Duration  `cfg:"hold-down"`
	DialTimeout       time.Duration  `cfg:"dial-timeout"`
	CallTimeout       time.Duration  `cfg:"call-timeout"`
	SessionsPerTunnel int            `cfg:"sessions-per-tunnel"`
	Tunnels           int            `cfg:"tunnels"`
	HelloInterval     time.Duration  `cfg:"hello-interval"`
	RetransmitInitial time.Duration  `cfg:"retransmit-initial"`
	RetransmitCap     time.Duration  `cfg:"retransmit-cap"`
	MaxRetries        int            `cfg:"max-retries"`
	Auth              []string       `cfg:"auth"`
	EchoInterval      time.Duration  `cfg:"echo-interval"`
	EchoFailures      int            `cfg:"echo-failures"`
	HeldFrames        int            `cfg:"held-frames"`
	ReadyWait         time.Duration  `cfg:"ready-wait"`
	Shards            int            `cfg:"shards"`
	Workers           int            `cfg:"workers"`
	ShutdownTimeout   time.Duration  `cfg:"shutdown-timeout"`
	MetricsListen     netip.AddrPort `cfg:"metrics-listen"`
	// Buffers of the tunnels' UDP socket in bytes; 0: 4 MiB.
	UDPReceiveBuffer int `cfg:"udp-receive-buffer"`
	UDPSendBuffer    int `cfg:"udp-send-buffer"`
}

// maxTunnels is the most tunnels the LAC keeps open to one LNS: far more
// than 65535 sessions each could fill, few enough that a typing error
// does not open thousands.
const maxTunnels = 256

// maxSourcePorts bounds [lac] source-ports: more than the receive queues
// of a NIC.
const maxSourcePorts = 64

// udpBuffers are the socket buffers to ask for.
func (g *GeneralConfig) udpBuffers() udpio.Buffers {
	b := udpio.Buffers{Receive: g.UDPReceiveBuffer, Send: g.UDPSendBuffer}
	if b.Receive == 0 {
		b.Receive = udpio.DefaultBuffer
	}
	if b.Send == 0 {
		b.Send = udpio.DefaultBuffer
	}
	return b
}

// Validate checks the [lac] section.
func (g *GeneralConfig) Validate() error {
	switch g.TunnelSelection {
	case "", "static", "radius":
	default:
		return fmt.Errorf("tunnel-selection %q: want static or radius", g.TunnelSelection)
	}
	for _, a := range g.Auth {
		if _, err := parseAuth(a); err != nil {
			return err
		}
	}
	if g.RetransmitCap != 0 && g.RetransmitCap < 8*time.Second {
		// RFC 2661 section 5.8: the cap MUST be no less than 8 seconds.
		return &config.KeyError{Key: "retransmit-cap", Err: fmt.Errorf("%v is below 8s, the least RFC 2661 section 5.8 allows", g.RetransmitCap)}
	}
	if g.MaxRetries < 0 {
		return &config.KeyError{Key: "max-retries", Err: fmt.Errorf("%d is negative", g.MaxRetries)}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"sessions-per-tunnel", g.SessionsPerTunnel}, {"max-retries", g.MaxRetries}, {"echo-failures", g.EchoFailures},
		{"held-frames", g.HeldFrames}, {"shards", g.Shards}, {"workers", g.Workers}} {
		if v.n < 0 {
			return fmt.Errorf("%s %d is negative", v.name, v.n)
		}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"udp-receive-buffer", g.UDPReceiveBuffer}, {"udp-send-buffer", g.UDPSendBuffer}} {
		if err := udpio.CheckBuffer(v.n); v.n != 0 && err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
	}
	if g.SessionsPerTunnel > 65535 {
		return &config.KeyError{Key: "sessions-per-tunnel", Err: fmt.Errorf("%d: a tunnel has 65535 session IDs", g.SessionsPerTunnel)}
	}
	if g.SourcePorts > maxSourcePorts {
		return &config.KeyError{Key: "source-ports", Err: fmt.Errorf("%d: want 1 to %d", g.SourcePorts, maxSourcePorts)}
	}
	if g.Tunnels > maxTunnels {
		return &config.KeyError{Key: "tunnels", Err: fmt.Errorf("%d: want 1 to %d", g.Tunnels, maxTunnels)}
	}
	return nil
}

func parseAuth(s string) (ppp.AuthProto, error) {
	switch s {
	case "chap", "chap-md5":
		return ppp.AuthCHAPMD5, nil
	case "pap":
		return ppp.AuthPAP, nil
	}
	return 0, fmt.Errorf("auth %q: want chap or pap", s)
}

// RADIUSConfig is the [radius] section: the servers asked for tunnels.
type RADIUSConfig struct {
	Timeout       time.Duration  `cfg:"timeout"`
	Retries       int            `cfg:"retries"`
	NASIdentifier string         `cfg:"nas-identifier"`
	NASIPAddress  netip.Addr     `cfg:"nas-ip-address"`
	Servers       []RADIUSServer `cfg:"server"`
}

// RADIUSServer is one [radius.server "name"] section.
type RADIUSServer struct {
	Name                        string         `cfg:",name"`
	Address                     netip.AddrPort `cfg:"address,required"`
	Secret                      config.Secret  `cfg:"secret,required"`
	RequireMessageAuthenticator string         `cfg:"require-message-authenticator"`
}

// Validate checks a RADIUS server.
func (r *RADIUSServer) Validate() error {
	if r.RequireMessageAuthenticator != "" {
		if _, err := aaa.ParseMAPolicy(r.RequireMessageAuthenticator); err != nil {
			return err
		}
	}
	return nil
}

// APIConfig is the optional [api] section: the HTTP API (sessions,
// disconnect, tunnels, /metrics), enabled by a token.
type APIConfig struct {
	Listen           string        `cfg:"listen"`
	AllowRemote      bool          `cfg:"allow-remote"`
	Token            config.Secret `cfg:"token"`
	MetricsNeedToken bool          `cfg:"metrics-need-token"`
}

// Enabled reports whether the section asks for the API.
func (a *APIConfig) Enabled() bool { return !a.Token.Empty() || a.Listen != "" }

func (a *APIConfig) settings() api.Settings {
	return api.Settings{Listen: a.Listen, AllowRemote: a.AllowRemote, Token: a.Token, MetricsNeedToken: a.MetricsNeedToken}
}

// Validate checks the section when the API is enabled.
func (a *APIConfig) Validate() error {
	if !a.Enabled() {
		return nil
	}
	s := a.settings()
	return s.Validate()
}

// AccessFile is one [access "interface"] section: a PPPoE access
// interface and the mode of its subscribers.
type AccessFile struct {
	Interface           string        `cfg:",name"`
	Mode                string        `cfg:"mode"`
	ProxyServices       []string      `cfg:"proxy-services"`
	TransparentServices []string      `cfg:"transparent-services"`
	VLANs               []string      `cfg:"vlans"`
	Untagged            bool          `cfg:"untagged"`
	UserVLANs           bool          `cfg:"user-vlans"`
	QinQ                []string      `cfg:"qinq"`
	MaxSessionsPerVLAN  int           `cfg:"max-sessions-per-vlan"`
	NASPortID           string        `cfg:"nas-port-id"`
	CircuitID           string        `cfg:"circuit-id"`
	PhysicalChannelID   string        `cfg:"physical-channel-id"`
	ACName              string        `cfg:"ac-name"`
	Services            []string      `cfg:"services"`
	MaxPayload          int           `cfg:"max-payload"`
	MaxSessions         int           `cfg:"max-sessions"`
	MaxSessionsPerMAC   int           `cfg:"max-sessions-per-mac"`
	PADIRate            float64       `cfg:"padi-rate"`
	CookieSecret        config.Secret `cfg:"cookie-secret"`
	// RxRing is the PACKET_MMAP receive ring of the session frames, in
	// frames (a multiple of 32), or "off" for recvmmsg(2); default
	// pppoe.DefaultRxRing (4 MiB of kernel memory a port).
	RxRing string `cfg:"rx-ring"`
	// ControlSocket "on" (default) reads PPP control frames on a socket
	// of their own, so that a flood of data does not crowd out LCP Echo;
	// "off" reads them with the data.
	ControlSocket string `cfg:"control-socket"`
}

// rxRing is the rx-ring key: the ring's size (0: the default), or off.
func (a *AccessFile) rxRing() (size int, off bool, err error) {
	switch a.RxRing {
	case "":
		return 0, false, nil
	case "off":
		return 0, true, nil
	}
	n, err := strconv.Atoi(a.RxRing)
	if err != nil || n < 32 || n%32 != 0 || n > 1<<20 {
		return 0, false, &config.KeyError{Key: "rx-ring", Err: fmt.Errorf("%q: want off or a multiple of 32 frames up to 1048576", a.RxRing)}
	}
	return n, false, nil
}

// Validate checks an access section.
func (a *AccessFile) Validate() error {
	if a.Mode != "" {
		if _, err := ParseMode(a.Mode); err != nil {
			return err
		}
	}
	for _, s := range a.ProxyServices {
		if slices.Contains(a.TransparentServices, s) {
			return fmt.Errorf("service %q is both proxy and transparent", s)
		}
	}
	// vlans and qinq are checked item by item in FileConfig.check.
	if a.MaxSessionsPerVLAN < 0 || a.MaxSessionsPerVLAN > 65534 {
		return &config.KeyError{Key: "max-sessions-per-vlan", Err: fmt.Errorf("%d: want 0 (no cap) to 65534", a.MaxSessionsPerVLAN)}
	}
	if _, err := a.access(); err != nil {
		return err
	}
	if a.MaxPayload != 0 && (a.MaxPayload < 1492 || a.MaxPayload > 9000) {
		return fmt.Errorf("max-payload %d: want 1492 to 9000 (RFC 4638)", a.MaxPayload)
	}
	if _, _, err := a.rxRing(); err != nil {
		return err
	}
	if a.ControlSocket != "" && a.ControlSocket != "on" && a.ControlSocket != "off" {
		return &config.KeyError{Key: "control-socket", Err: fmt.Errorf("%q: want on or off", a.ControlSocket)}
	}
	return nil
}

// ranges parses the vlans and qinq keys into the VLAN ranges the
// interface serves. Without user-vlans every VLAN is a sub-interface
// <interface>.<vid> the host has made, so only single VLAN IDs can be
// listed: a range is refused rather than opening thousands of
// sub-interfaces (the LAC makes none).
func (a *AccessFile) ranges() ([]pppoe.VLANRange, error) {
	keyErr := func(key string, err error) error {
		ke := &vlanKeyError{key: key, err: err}
		errors.As(err, &ke.item)
		return ke
	}
	single, err := ParseVLANs(a.VLANs)
	if err != nil {
		return nil, keyErr("vlans", err)
	}
	double, err := ParseQinQ(a.QinQ)
	if err != nil {
		return nil, keyErr("qinq", err)
	}
	if !a.UserVLANs {
		if len(double) > 0 {
			return nil, keyErr("qinq", errors.New("needs user-vlans = true"))
		}
		for i, r := range single {
			if r.Inner.First != r.Inner.Last {
				return nil, keyErr("vlans", itemError(i, fmt.Errorf("%s: a range needs user-vlans = true (without it each VLAN is a sub-interface %s.<vid> made by the host, listed one by one)", r, a.Interface)))
			}
		}
	}
	return append(single, double...), nil
}

// access is the LAC's AccessConfig of the section, without the modes.
func (a *AccessFile) access() (AccessConfig, error) {
	var ac AccessConfig
	var err error
	for _, t := range []struct {
		key string
		src string
		dst *PortTemplate
	}{{"nas-port-id", a.NASPortID, &ac.NASPortID}, {"circuit-id", a.CircuitID, &ac.CircuitID}} {
		if t.src == "" {
			continue
		}
		if *t.dst, err = ParsePortTemplate(t.src); err != nil {
			return ac, &config.KeyError{Key: t.key, Err: err}
		}
	}
	if a.PhysicalChannelID != "" {
		if ac.Channel, err = ParsePhysicalChannel(a.PhysicalChannelID); err != nil {
			return ac, &config.KeyError{Key: "physical-channel-id", Err: err}
		}
	}
	return ac, nil
}

// LNSFile is one [lns "name"] section: an LNS and what it serves.
type LNSFile struct {
	Name         string         `cfg:",name"`
	Address      netip.AddrPort `cfg:"address,required"`
	Secret       config.Secret  `cfg:"secret"`
	HideAVPs     bool           `cfg:"hide-avps"`
	HideNumbers  bool           `cfg:"hide-numbers"`
	Preference   uint32         `cfg:"preference"`
	Weight       uint32         `cfg:"weight"`
	AssignmentID string         `cfg:"assignment-id"`
	MaxSessions  int            `cfg:"max-sessions"`
	Tunnels      int            `cfg:"tunnels"`
	Realms       []string       `cfg:"realms"`
	Services     []string       `cfg:"services"`
	Interfaces   []string       `cfg:"interfaces"`
	Default      bool           `cfg:"default"`
	// Version is the L2TP version of the tunnels: 2 (RFC 2661, also
	// when 0) or 3 (RFC 3931: the calls are PPP pseudowires).
	Version int `cfg:"version"`
	// Digest signs the L2TPv3 control messages (RFC 3931 section 4.3):
	// md5 (the default with a secret), sha1 or none.
	Digest string `cfg:"digest"`
	// Cookie is the size of the cookie each L2TPv3 session asks of the
	// LNS's data messages (section 4.1): 0, 4 (the default) or 8.
	Cookie string `cfg:"cookie"`
	// Encap carries the L2TPv3 tunnels over udp (port 1701, the default)
	// or straight over ip (protocol 115, RFC 3931 section 4.1.1; the
	// address's port is not used).
	Encap string `cfg:"encap"`
}

// encap returns the encapsulation of an LNS section's tunnels (valid once
// Validate accepted it).
func (l *LNSFile) encap() l2tp.Encap {
	e, _ := l2tp.ParseEncap(l.Encap)
	return e
}

// v3 returns the L2TPv3 settings of an LNS section (valid once Validate
// accepted it).
func (l *LNSFile) v3() (version int, digest l2tp.DigestMode, cookie int) {
	version = max(l.Version, 2)
	digest, _ = l2tp.ParseDigestMode(l.Digest)
	cookie, _ = l2tp.ParseCookieSize(l.Cookie)
	return version, digest, cookie
}

// validateV3 checks the L2TPv3 keys of an LNS section.
func (l *LNSFile) validateV3() error {
	if l.Version != 0 && l.Version != 2 && l.Version != 3 {
		return &config.KeyError{Key: "version", Err: fmt.Errorf("%d: want 2 or 3", l.Version)}
	}
	if _, err := l2tp.ParseEncap(l.Encap); err != nil {
		return &config.KeyError{Key: "encap", Err: err}
	}
	if l.Version != 3 {
		if l.encap() == l2tp.EncapIP {
			return &config.KeyError{Key: "encap", Err: errors.New("ip is for L2TPv3 tunnels: needs version = 3 (RFC 3931 section 4.1.1)")}
		}
		if l.Digest != "" {
			return &config.KeyError{Key: "digest", Err: errors.New("is for L2TPv3 tunnels: needs version = 3")}
		}
		if l.Cookie != "" {
			return &config.KeyError{Key: "cookie", Err: errors.New("is for L2TPv3 tunnels: needs version = 3")}
		}
		return nil
	}
	if _, err := l2tp.ParseDigestMode(l.Digest); err != nil {
		return &config.KeyError{Key: "digest", Err: err}
	}
	if _, err := l2tp.ParseCookieSize(l.Cookie); err != nil {
		return &config.KeyError{Key: "cookie", Err: err}
	}
	return nil
}

// Validate checks an LNS section.
func (l *LNSFile) Validate() error {
	if l.HideAVPs && l.Secret.Empty() {
		return &config.KeyError{Key: "hide-avps", Err: errors.New("needs a secret (RFC 2661 section 4.3)")}
	}
	if l.HideNumbers && !l.HideAVPs {
		return &config.KeyError{Key: "hide-numbers", Err: errors.New("needs hide-avps = true")}
	}
	if l.MaxSessions < 0 || l.MaxSessions > 65535 {
		return &config.KeyError{Key: "max-sessions", Err: fmt.Errorf("%d: want 0 to 65535", l.MaxSessions)}
	}
	if l.Tunnels > maxTunnels {
		return &config.KeyError{Key: "tunnels", Err: fmt.Errorf("%d: want 0 (the [lac] tunnels) to %d", l.Tunnels, maxTunnels)}
	}
	if err := l.validateV3(); err != nil {
		return err
	}
	if len(l.Realms)+len(l.Services)+len(l.Interfaces) == 0 && !l.Default {
		return errors.New("serves nothing: give realms, services, interfaces or default = true")
	}
	return nil
}

// LoadConfig reads and validates a configuration file: every problem is
// reported, each with its file and line. `bras lac -check`, the start of
// the daemon and a reload all check a file with it.
func LoadConfig(path string) (*FileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lac: %w", err)
	}
	defer f.Close()
	var c FileConfig
	if c.src, err = config.DecodeSource(f, path, &c); err != nil {
		return nil, err
	}
	if err := errors.Join(append(c.positive(), c.check()...)...); err != nil {
		return nil, err
	}
	return &c, nil
}

// Source says where the keys of the file the configuration was read
// from are; nil for a configuration built in code.
func (c *FileConfig) Source() *config.Source { return c.src }

// Routes builds the static routes of the [lns] sections: each realm,
// service and interface is served by every LNS that lists it.
func (c *FileConfig) Routes() (*Routes, error) {
	type keyed struct{ realm, service, iface map[string][]LNS }
	k := keyed{map[string][]LNS{}, map[string][]LNS{}, map[string][]LNS{}}
	var order []Route
	var def []LNS
	for _, f := range c.LNS {
		l := LNS{Name: f.Name, Addr: f.Address, Secret: f.Secret.Bytes(), HideAVPs: f.HideAVPs, HideNumbers: f.HideNumbers,
			Preference: f.Preference, Weight: f.Weight, AssignmentID: f.AssignmentID, MaxSessions: f.MaxSessions, Tunnels: f.Tunnels}
		l.Version, l.Digest, l.CookieLen = f.v3()
		if l.Encap = f.encap(); l.Encap == l2tp.EncapIP {
			l.Addr = netip.AddrPortFrom(l.Addr.Addr(), 0) // no port over IP
		}
		for _, r := range f.Realms {
			k.realm[r] = append(k.realm[r], l)
		}
		for _, s := range f.Services {
			k.service[s] = append(k.service[s], l)
		}
		for _, i := range f.Interfaces {
			k.iface[i] = append(k.iface[i], l)
		}
		if f.Default {
			def = append(def, l)
		}
	}
	for r, ls := range k.realm {
		order = append(order, Route{Realms: []string{r}, LNS: ls})
	}
	for s, ls := range k.service {
		order = append(order, Route{Services: []string{s}, LNS: ls})
	}
	for i, ls := range k.iface {
		order = append(order, Route{Interfaces: []string{i}, LNS: ls})
	}
	if def != nil {
		order = append(order, Route{Default: true, LNS: def})
	}
	return NewRoutes(order)
}
