package lac

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// numberKey is a number or a duration of the file that must be above
// zero when set (leaving it out takes the default); a zeroOK one may be
// 0, which means what the reference configuration says.
type numberKey struct {
	path     string
	value    float64
	duration bool
	def      string
	zeroOK   bool
}

// positive refuses the numbers and durations the file sets to zero or
// less where that makes no sense, instead of taking the default for them.
func (c *FileConfig) positive() []error {
	n := func(path string, v int, def string) numberKey {
		return numberKey{path: path, value: float64(v), def: def}
	}
	d := func(path string, v time.Duration, def string) numberKey {
		return numberKey{path: path, value: float64(v), duration: true, def: def}
	}
	zero := func(k numberKey) numberKey { k.zeroOK = true; return k }
	g := c.LAC
	keys := []numberKey{
		d("lac.hold-down", g.HoldDown, "60s"),
		d("lac.dial-timeout", g.DialTimeout, "10s"),
		d("lac.call-timeout", g.CallTimeout, "30s"),
		zero(n("lac.sessions-per-tunnel", g.SessionsPerTunnel, "0, 32000")),
		n("lac.tunnels", g.Tunnels, "1"),
		n("lac.source-ports", g.SourcePorts, "1"),
		d("lac.hello-interval", g.HelloInterval, "60s"),
		d("lac.retransmit-initial", g.RetransmitInitial, "1s"),
		d("lac.retransmit-cap", g.RetransmitCap, "8s"),
		n("lac.max-retries", g.MaxRetries, "5"),
		zero(d("lac.echo-interval", g.EchoInterval, "0s, none")),
		n("lac.echo-failures", g.EchoFailures, "3"),
		n("lac.held-frames", g.HeldFrames, "16"),
		d("lac.ready-wait", g.ReadyWait, "1s"),
		zero(n("lac.shards", g.Shards, "0, one per CPU")),
		zero(n("lac.workers", g.Workers, "0, 32")),
		d("lac.shutdown-timeout", g.ShutdownTimeout, "5s"),
		zero(n("lac.udp-receive-buffer", g.UDPReceiveBuffer, "0, 4 MiB")),
		zero(n("lac.udp-send-buffer", g.UDPSendBuffer, "0, 4 MiB")),
		d("radius.timeout", c.RADIUS.Timeout, "3s"),
		n("radius.retries", c.RADIUS.Retries, "2"),
	}
	for i, a := range c.Access {
		at := fmt.Sprintf("access[%d].", i)
		keys = append(keys,
			zero(n(at+"max-payload", a.MaxPayload, "0, 1500")),
			n(at+"max-sessions", a.MaxSessions, "65534"),
			n(at+"max-sessions-per-mac", a.MaxSessionsPerMAC, "1"),
			numberKey{path: at + "padi-rate", value: a.PADIRate, def: "10"})
	}
	for i, l := range c.LNS {
		keys = append(keys, zero(n(fmt.Sprintf("lns[%d].max-sessions", i), l.MaxSessions, "0, sessions-per-tunnel")),
			zero(n(fmt.Sprintf("lns[%d].tunnels", i), l.Tunnels, "0, the [lac] tunnels")))
	}
	var errs []error
	for _, k := range keys {
		if !c.src.IsSet(k.path) || k.value > 0 || k.value == 0 && k.zeroOK {
			continue
		}
		v := fmt.Sprint(k.value)
		if k.duration {
			v = time.Duration(k.value).String()
		}
		if k.zeroOK {
			errs = append(errs, c.src.Errorf(k.path, "%s is negative (leave the key out for the default, %s)", v, k.def))
		} else {
			errs = append(errs, c.src.Errorf(k.path, "%s: want a value above 0 (leave the key out for the default, %s)", v, k.def))
		}
	}
	return errs
}

// check validates what the decoder cannot: relations between sections.
// Every error names the key and the line.
func (c *FileConfig) check() []error {
	src := c.src
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, src.Errorf(path, format, a...))
	}
	if len(c.Access) == 0 {
		bad("access", "no [access \"interface\"] section: the LAC serves no subscriber")
	}
	if len(c.LNS) == 0 && c.LAC.TunnelSelection != "radius" {
		bad("lns", "no [lns \"name\"] section and tunnel-selection is not radius")
	}
	if c.LAC.TunnelSelection == "radius" && len(c.RADIUS.Servers) == 0 {
		bad("lac.tunnel-selection", "radius needs a [radius.server \"name\"] section")
	}
	if c.LAC.MetricsListen.IsValid() && c.LAC.MetricsListen.Port() == 0 {
		bad("lac.metrics-listen", "%v: want a port", c.LAC.MetricsListen)
	}
	for i, s := range c.RADIUS.Servers {
		if s.Address.Port() == 0 {
			bad(fmt.Sprintf("radius.server[%d].address", i), "%v: want a port (1812 is RADIUS authentication's)", s.Address)
		}
	}
	for i, l := range c.LNS {
		at := fmt.Sprintf("lns[%d].", i)
		if l.Address.Port() == 0 {
			bad(at+"address", "%v: want a port (1701 is L2TP's)", l.Address)
		}
		for j, name := range l.Interfaces {
			if !c.serves(name) {
				errs = append(errs, src.ErrorAt(src.ItemLine(at+"interfaces", j), at+"interfaces",
					"%q is no [access] interface nor a port of one (%s)", name, strings.Join(c.accessNames(), ", ")))
			}
		}
	}
	errs = append(errs, c.checkVLANs()...)
	if _, err := c.Dataplane.Check(); err != nil {
		bad("dataplane", "%v", err)
	}
	if len(errs) == 0 {
		if _, err := c.Routes(); err != nil {
			errs = append(errs, errors.New(src.File+": "+err.Error()))
		}
	}
	return errs
}

// serves reports whether an [lns] interfaces entry names an access
// interface or a port of one ("eth1", "eth1.100", "eth1.10.100").
func (c *FileConfig) serves(port string) bool {
	for _, a := range c.Access {
		if port == a.Interface || strings.HasPrefix(port, a.Interface+".") {
			return true
		}
	}
	return false
}

func (c *FileConfig) accessNames() []string {
	var n []string
	for _, a := range c.Access {
		n = append(n, a.Interface)
	}
	if n == nil {
		return []string{"none"}
	}
	return n
}
