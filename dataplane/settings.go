package dataplane

import (
	"errors"
	"fmt"
	"strconv"
)

// Engine says which forwarding engine a daemon runs.
type Engine uint8

const (
	// EngineAuto uses the XDP fast path when it loads and attaches, and
	// the user-space engine alone otherwise (saying why in one log line).
	EngineAuto Engine = iota
	// EngineXDP requires the fast path: a daemon that cannot load it
	// refuses to start.
	EngineXDP
	// EngineUserspace forwards everything in user space.
	EngineUserspace
)

func (e Engine) String() string {
	switch e {
	case EngineAuto:
		return "auto"
	case EngineXDP:
		return "xdp"
	case EngineUserspace:
		return "userspace"
	}
	return "Engine(" + strconv.Itoa(int(e)) + ")"
}

// ParseEngine parses the [dataplane] engine key.
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "", "auto":
		return EngineAuto, nil
	case "xdp":
		return EngineXDP, nil
	case "userspace":
		return EngineUserspace, nil
	}
	return 0, fmt.Errorf("engine %q: want auto, xdp or userspace", s)
}

// Mode is how the XDP programs attach.
type Mode uint8

const (
	// ModeNative runs the programs in the driver, before the kernel
	// builds an skb (the fast one; needs driver support).
	ModeNative Mode = iota
	// ModeGeneric runs them on the skb: any interface, about the speed
	// of kernel forwarding.
	ModeGeneric
)

func (m Mode) String() string {
	if m == ModeGeneric {
		return "generic"
	}
	return "native"
}

// ParseMode parses the [dataplane] xdp-mode key.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "native":
		return ModeNative, nil
	case "generic":
		return ModeGeneric, nil
	}
	return 0, fmt.Errorf("xdp-mode %q: want native or generic", s)
}

// Settings is the [dataplane] section both daemons read (decoded by
// internal/config; deploy/lns.conf and deploy/lac.conf document the keys).
type Settings struct {
	Engine     string   `cfg:"engine"`     // auto (default), xdp or userspace
	XDPMode    string   `cfg:"xdp-mode"`   // native (default) or generic
	Interfaces []string `cfg:"interfaces"` // where the fast path attaches; required unless userspace
	// MaxSessions sizes the fast path's maps (default: the daemon's
	// session limit). Sessions beyond it stay on the user-space path.
	MaxSessions int `cfg:"max-sessions"`
	// TCPMSS is the MSS that TCP SYN and SYN-ACK segments are clamped to
	// in both directions and on both paths: "auto" (default: the
	// session's MTU minus 40), "off", or a number of octets.
	TCPMSS string `cfg:"tcp-mss"`
	// NextHopCache is the LNS's IPv6 next-hop cache: "on" (default) or
	// "off" (bpf/lns.c, fib6_cache).
	NextHopCache string `cfg:"ipv6-next-hop-cache"`
}

// Plan is Settings checked.
type Plan struct {
	Engine      Engine
	Mode        Mode
	Interfaces  []string
	MaxSessions int
	// MSS: MSSAuto, MSSOff or a fixed clamp.
	MSS int
	// NoNextHopCache: ipv6-next-hop-cache = off.
	NoNextHopCache bool
}

// MSS clamp settings of Plan.MSS besides a fixed value.
const (
	MSSOff  = 0
	MSSAuto = -1
)

// Check validates s; errors name the key.
func (s Settings) Check() (Plan, error) {
	var p Plan
	var err error
	if p.Engine, err = ParseEngine(s.Engine); err != nil {
		return p, err
	}
	if p.Mode, err = ParseMode(s.XDPMode); err != nil {
		return p, err
	}
	p.Interfaces = s.Interfaces
	if p.Engine != EngineUserspace && len(p.Interfaces) == 0 && s.Engine != "" {
		return p, errors.New("interfaces: the fast path needs the interfaces to attach to")
	}
	if s.MaxSessions < 0 {
		return p, fmt.Errorf("max-sessions %d: must be positive", s.MaxSessions)
	}
	p.MaxSessions = s.MaxSessions
	switch s.NextHopCache {
	case "", "on":
	case "off":
		p.NoNextHopCache = true
	default:
		return p, fmt.Errorf("ipv6-next-hop-cache %q: want on or off", s.NextHopCache)
	}
	switch s.TCPMSS {
	case "", "auto":
		p.MSS = MSSAuto
	case "off":
		p.MSS = MSSOff
	default:
		n, err := strconv.Atoi(s.TCPMSS)
		if err != nil || n < 536 || n > 65495 {
			return p, fmt.Errorf("tcp-mss %q: want auto, off or 536-65495", s.TCPMSS)
		}
		p.MSS = n
	}
	return p, nil
}

// ClampFor is the MSS to clamp to for a session carrying IP packets of at
// most mtu octets (0: no clamping). RFC 879: the MSS is the MTU less the
// 20-octet IPv4 and 20-octet TCP headers.
func (p Plan) ClampFor(mtu int) uint16 {
	switch {
	case p.MSS == MSSOff:
		return 0
	case p.MSS == MSSAuto:
		if mtu <= 40 {
			return 0
		}
		return uint16(min(mtu-40, 65535))
	}
	return uint16(p.MSS)
}
