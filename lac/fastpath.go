package lac

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/bras-project/bras/dataplane"
)

// The XDP fast path beside the LAC's user-space relay (DESIGN.md section
// 4). Once a call is up and its held frames are flushed, the session goes
// into the fast path's maps: its PPPoE frames carrying IPv4 become L2TP
// data messages in the kernel, and the LNS's back, never reaching this
// process. PPP control, sequenced sessions and anything unusual still
// arrive on the raw and UDP sockets and are relayed as without it. The
// session's counters are the sum of both paths.

// fastSession is a session's entry in the fast path.
type fastSession struct {
	h *dataplane.LACHandle

	mu   sync.Mutex
	done dataplane.Counters // counters of the entry once removed
}

// addFast puts s into the fast path (shard goroutine, after flush). A
// session the fast path cannot take stays on the relay.
func (s *session) addFast() {
	l := s.l
	p := l.conf().Fast
	if p == nil || s.ls == nil || s.fast.Load() != nil {
		return
	}
	if s.ls.Tunnel().Version() == 3 {
		return // the XDP programs know the L2TPv2 data header only: relayed in user space
	}
	local, tags := s.ps.Wire()
	t := s.ls.Tunnel()
	ds := dataplane.LACSession{
		Interface: s.ps.Interface, SubscriberMAC: net.HardwareAddr(s.ps.ClientMAC[:]), LocalMAC: net.HardwareAddr(local[:]),
		PPPoESession: s.ps.ID, MRU: s.ps.MaxPayload,
		LocalTunnel: t.LocalID(), LocalSession: s.ls.LocalID(), PeerTunnel: t.PeerID(), PeerSession: s.ls.PeerID(),
		Local: netip.AddrPortFrom(l.conf().FastLocal.Addr(), t.LocalAddr().Port()), LNS: t.Peer(), MSS: l.conf().MSS, Sequencing: s.ls.Sequenced(),
	}
	for _, v := range tags {
		ds.VLANs = append(ds.VLANs, dataplane.VLAN{TPID: uint16(v.TPID), ID: v.TCI & 0x0fff})
	}
	h, err := p.Add(ds)
	if err != nil {
		if errors.Is(err, dataplane.ErrFull) {
			l.stats.FastFull.Add(1)
		} else {
			l.stats.FastFailed.Add(1)
		}
		l.log.Warn("lac: fast path refused the session; it is relayed in user space", append(s.logAttrs(), "err", err)...)
		return
	}
	s.fast.Store(&fastSession{h: h})
}

// removeFast takes s out of the fast path, keeping its final counters.
func (s *session) removeFast() {
	fs := s.fast.Load()
	if fs == nil || s.l.conf().Fast == nil {
		return
	}
	c, err := s.l.conf().Fast.Remove(fs.h)
	if err != nil {
		s.l.log.Warn("lac: fast path: final counters", append(s.logAttrs(), "err", err)...)
	}
	fs.mu.Lock()
	fs.done = fs.done.Add(c)
	fs.h = nil
	fs.mu.Unlock()
}

// fastCounters is what the fast path carried for s.
func (s *session) fastCounters() dataplane.Counters {
	fs := s.fast.Load()
	if fs == nil {
		return dataplane.Counters{}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	c := fs.done
	if fs.h != nil {
		if live, err := s.l.conf().Fast.Counters(fs.h); err == nil {
			c = c.Add(live)
		}
	}
	return c
}

// openFastPath loads and attaches the fast path as [dataplane] asks: nil
// (and one log line saying why) when the relay forwards alone; with
// engine = xdp a fast path that cannot load is an error.
func openFastPath(c *FileConfig, log *slog.Logger, local net.Addr, ports int) (*dataplane.LACPath, error) {
	plan, err := c.Dataplane.Check()
	if err != nil {
		return nil, fmt.Errorf("lac: dataplane: %w", err)
	}
	if plan.Engine == dataplane.EngineUserspace {
		log.Info("forwarding engine: userspace", "reason", "configured")
		return nil, nil
	}
	if len(plan.Interfaces) == 0 {
		log.Info("forwarding engine: userspace", "reason", "no [dataplane] interfaces configured")
		return nil, nil
	}
	ua, _ := local.(*net.UDPAddr)
	if ua == nil || ua.IP.IsUnspecified() || ua.IP.To4() == nil {
		err = fmt.Errorf("the fast path needs [lac] listen on an IPv4 address, not %v", local)
	} else {
		var p *dataplane.LACPath
		p, err = dataplane.NewLACPath(dataplane.Config{Interfaces: plan.Interfaces, Mode: plan.Mode,
			MaxSessions: plan.MaxSessions, L2TPPort: uint16(ua.Port), L2TPPorts: uint16(ports), Logger: log})
		if err == nil {
			log.Info("forwarding engine: xdp", "mode", plan.Mode.String(), "interfaces", strings.Join(plan.Interfaces, ","))
			return p, nil
		}
	}
	if plan.Engine == dataplane.EngineXDP {
		return nil, fmt.Errorf("lac: engine = xdp: %w", err)
	}
	log.Warn("forwarding engine: userspace", "reason", err.Error())
	return nil, nil
}
