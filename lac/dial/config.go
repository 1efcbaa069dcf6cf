package dial

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/internal/logx"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// FileConfig is the configuration file of `bras dial` (deploy/dial.conf
// documents every key).
type FileConfig struct {
	Dial Section `cfg:"dial"`
	// Log is [log]: the format and levels of the log lines.
	Log logx.Settings `cfg:"log"`
}

// Section is the [dial] section.
type Section struct {
	LNS      netip.AddrPort `cfg:"lns"`
	Local    netip.AddrPort `cfg:"local"`
	HostName string         `cfg:"host-name"`
	Secret   config.Secret  `cfg:"secret"`
	User     string         `cfg:"user"`
	Password config.Secret  `cfg:"password"`
	Auth     string         `cfg:"auth"`
	TUN      string         `cfg:"tun"`
	Routes   []netip.Prefix `cfg:"routes"`
	MTU      int            `cfg:"mtu"`

	EchoInterval  time.Duration `cfg:"echo-interval"`
	EchoFailures  int           `cfg:"echo-failures"`
	HelloInterval time.Duration `cfg:"hello-interval"`
	DialTimeout   time.Duration `cfg:"dial-timeout"`
	SetupTimeout  time.Duration `cfg:"setup-timeout"`
	ReconnectMin  time.Duration `cfg:"reconnect-min"`
	ReconnectMax  time.Duration `cfg:"reconnect-max"`

	// Version is the tunnel's L2TP version: 2 (RFC 2661, also when 0) or
	// 3 (RFC 3931: the call is a PPP pseudowire). Digest, Cookie and
	// Encap are L2TPv3's: the control message authentication (md5, the
	// default with a secret, sha1 or none), the cookie size the call asks
	// of the LNS's data (0, 4 the default, or 8 octets) and udp (the
	// default) or ip (straight over IP protocol 115, section 4.1.1).
	Version int    `cfg:"version"`
	Digest  string `cfg:"digest"`
	Cookie  string `cfg:"cookie"`
	Encap   string `cfg:"encap"`
}

// Defaults of the [dial] keys.
const (
	DefaultTUN           = "bras-dial0"
	DefaultMTU           = 1400
	DefaultEchoInterval  = 10 * time.Second
	DefaultEchoFailures  = 3
	DefaultHelloInterval = 60 * time.Second
	DefaultDialTimeout   = 15 * time.Second
	DefaultSetupTimeout  = 30 * time.Second
	DefaultReconnectMin  = time.Second
	DefaultReconnectMax  = 60 * time.Second
)

// ParseConfig decodes a configuration file strictly: an unknown key or a
// bad value is an error naming its line. The file need not be complete:
// Section.Config checks what is required once command-line flags are
// applied.
func ParseConfig(r io.Reader, filename string) (FileConfig, error) {
	var c FileConfig
	err := config.Decode(r, filename, &c)
	return c, err
}

// LoadConfig reads and decodes the file at path.
func LoadConfig(path string) (FileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileConfig{}, err
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// ParseAuth reads an auth value: pap, chap (CHAP-MD5) or any (both, CHAP
// preferred; the LNS chooses).
func ParseAuth(s string) ([]ppp.AuthProto, error) {
	switch s {
	case "", "any":
		return []ppp.AuthProto{ppp.AuthCHAPMD5, ppp.AuthPAP}, nil
	case "pap":
		return []ppp.AuthProto{ppp.AuthPAP}, nil
	case "chap", "chap-md5":
		return []ppp.AuthProto{ppp.AuthCHAPMD5}, nil
	}
	return nil, fmt.Errorf("auth %q: want pap, chap or any", s)
}

// Validate checks the values of the keys that are set (config.Decode
// calls it); Config checks that the required ones are.
func (s *Section) Validate() error {
	var errs []error
	if _, err := ParseAuth(s.Auth); err != nil {
		errs = append(errs, &config.KeyError{Key: "auth", Err: err})
	}
	if s.MTU != 0 && (s.MTU < 576 || s.MTU > 65535) {
		errs = append(errs, &config.KeyError{Key: "mtu", Err: fmt.Errorf("%d: want 576 to 65535", s.MTU)})
	}
	if len(s.TUN) >= 16 {
		errs = append(errs, &config.KeyError{Key: "tun", Err: fmt.Errorf("%q: an interface name has at most 15 characters", s.TUN)})
	}
	if s.EchoFailures < 0 {
		errs = append(errs, &config.KeyError{Key: "echo-failures", Err: fmt.Errorf("%d is negative", s.EchoFailures)})
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"echo-interval", s.EchoInterval}, {"dial-timeout", s.DialTimeout}, {"setup-timeout", s.SetupTimeout},
		{"reconnect-min", s.ReconnectMin}, {"reconnect-max", s.ReconnectMax}} {
		if d.v < 0 {
			errs = append(errs, &config.KeyError{Key: d.key, Err: fmt.Errorf("%v is negative", d.v)})
		}
	}
	if s.ReconnectMin > 0 && s.ReconnectMax > 0 && s.ReconnectMax < s.ReconnectMin {
		errs = append(errs, &config.KeyError{Key: "reconnect-max", Err: fmt.Errorf("%v is below reconnect-min %v", s.ReconnectMax, s.ReconnectMin)})
	}
	errs = append(errs, s.validateV3()...)
	for _, r := range s.Routes {
		if !r.Addr().Is4() {
			errs = append(errs, &config.KeyError{Key: "routes", Err: fmt.Errorf("%v: only IPv4 runs over the call (IPCP)", r)})
		}
	}
	return errors.Join(errs...)
}

// validateV3 checks the L2TPv3 keys.
func (s *Section) validateV3() []error {
	if s.Version != 0 && s.Version != 2 && s.Version != 3 {
		return []error{&config.KeyError{Key: "version", Err: fmt.Errorf("%d: want 2 or 3", s.Version)}}
	}
	var errs []error
	for _, k := range []struct{ key, v string }{{"digest", s.Digest}, {"cookie", s.Cookie}, {"encap", s.Encap}} {
		if k.v != "" && s.Version != 3 {
			errs = append(errs, &config.KeyError{Key: k.key, Err: errors.New("is for L2TPv3 tunnels: needs version = 3")})
		}
	}
	if _, err := l2tp.ParseDigestMode(s.Digest); err != nil {
		errs = append(errs, &config.KeyError{Key: "digest", Err: err})
	}
	if _, err := l2tp.ParseCookieSize(s.Cookie); err != nil {
		errs = append(errs, &config.KeyError{Key: "cookie", Err: err})
	}
	if _, err := l2tp.ParseEncap(s.Encap); err != nil {
		errs = append(errs, &config.KeyError{Key: "encap", Err: err})
	}
	return errs
}

// Config is the validated client configuration, with defaults applied.
func (s Section) Config() (Config, error) {
	if err := s.Validate(); err != nil {
		return Config{}, err
	}
	var missing []string
	if !s.LNS.IsValid() {
		missing = append(missing, "lns")
	}
	if s.HostName == "" {
		missing = append(missing, "host-name")
	}
	if s.User == "" {
		missing = append(missing, "user")
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("dial: missing %s (set in [dial] or by flag)", strings.Join(missing, ", "))
	}
	auth, _ := ParseAuth(s.Auth)
	c := Config{
		LNS: s.LNS, Local: s.Local, HostName: s.HostName, Secret: s.Secret.Bytes(),
		User: s.User, Password: string(s.Password), Auth: auth,
		TUN: s.TUN, Routes: s.Routes, MTU: s.MTU,
		Echo:          ppp.EchoConfig{Interval: s.EchoInterval, MaxFailures: s.EchoFailures},
		HelloInterval: s.HelloInterval, DialTimeout: s.DialTimeout, SetupTimeout: s.SetupTimeout,
		ReconnectMin: s.ReconnectMin, ReconnectMax: s.ReconnectMax,
		Version: max(s.Version, 2),
	}
	c.Digest, _ = l2tp.ParseDigestMode(s.Digest)
	c.CookieLen, _ = l2tp.ParseCookieSize(s.Cookie)
	if c.Encap, _ = l2tp.ParseEncap(s.Encap); c.Encap == l2tp.EncapIP {
		c.LNS = netip.AddrPortFrom(c.LNS.Addr(), 0) // no port over IP
	}
	return c.withDefaults(), nil
}

// ParseSecret resolves a secret given on the command line as the file
// does: "env:NAME" from the environment, "file:/path" from a file (one
// trailing newline removed), anything else as it is.
func ParseSecret(s string) (config.Secret, error) {
	switch {
	case strings.HasPrefix(s, "env:"):
		v := os.Getenv(s[len("env:"):])
		if v == "" {
			return nil, fmt.Errorf("environment variable %s is not set", s[len("env:"):])
		}
		return config.Secret(v), nil
	case strings.HasPrefix(s, "file:"):
		b, err := os.ReadFile(s[len("file:"):])
		if err != nil {
			return nil, err
		}
		b = []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
		if len(b) == 0 {
			return nil, fmt.Errorf("secret file %s is empty", s[len("file:"):])
		}
		return config.Secret(b), nil
	}
	return config.Secret(s), nil
}
