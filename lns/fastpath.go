package lns

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"

	"github.com/bras-project/bras/dataplane"
)

// The XDP fast path beside the user-space data plane (DESIGN.md section 4).
// A DataPlane with DataPlaneConfig.Fast mirrors every session it is given
// into the fast path's maps: Add puts the call in, SetAddr and AddRoutes
// bind the subscriber's address and Framed-Routes, SetIPv6 its IPv6
// prefixes (the link's /64, the delegated prefix), Flow.SetRates writes the
// policer, Remove takes it out. Packets the fast path forwards never reach
// user space; the rest (PPP control, sequenced sessions, fragments, TTL
// expiry, anything unusual) still arrive through the UDP socket and the
// TUN exactly as without it. A session's counters are the sum of both
// paths, so accounting stays exact whichever path carried a packet.

// fastFlow is a flow's entry in the fast path.
type fastFlow struct {
	p *dataplane.LNSPath
	h *dataplane.LNSHandle
	// seen are the fast path's packet counts at the last idle check.
	seenUp, seenDown atomic.Uint64
}

// fastState is the DataPlane's side of the fast path.
type fastState struct {
	full   atomic.Uint64 // sessions left to the slow path because the maps were full
	failed atomic.Uint64 // sessions the fast path refused for another reason

	mu    sync.Mutex
	local map[netip.Addr]netip.Addr // LAC address → our source address towards it
}

// addFast mirrors f into the fast path (a no-op without one). A session
// the fast path cannot take still works through the user-space engine.
func (d *DataPlane) addFast(f *Flow) {
	p := d.cfg.Fast
	if p == nil {
		return
	}
	local := d.cfg.Local
	if !local.Addr().IsValid() || local.Addr().IsUnspecified() {
		a, err := d.sourceFor(f.peerAddrPort.Addr())
		if err != nil {
			d.xdp.failed.Add(1)
			d.log.Warn("lns: fast path: no source address towards the LAC; session stays in user space", "peer", f.peerAddrPort.String(), "err", err)
			return
		}
		local = netip.AddrPortFrom(a, local.Port())
	}
	h, err := p.Add(dataplane.LNSSession{
		LocalTunnel: f.localTunnel, LocalSession: f.localSession,
		PeerTunnel: f.peerTunnel, PeerSession: f.peerSession,
		LAC: f.peerAddrPort, Local: local,
		MTU: d.cfg.MTU, MSS: d.cfg.MSS,
		Sequencing: f.seq,
	})
	if err != nil {
		if errors.Is(err, dataplane.ErrFull) {
			if d.xdp.full.Add(1) == 1 || d.logAllowed(d.clock()) {
				d.log.Warn("lns: fast path full: new sessions forward in user space", "tunnel_id", f.localTunnel, "session_id", f.localSession)
			}
		} else {
			d.xdp.failed.Add(1)
			d.log.Warn("lns: fast path refused the session; it stays in user space", "tunnel_id", f.localTunnel, "session_id", f.localSession, "err", err)
		}
		return
	}
	ff := &fastFlow{p: p, h: h}
	f.fast.Store(ff)
	f.applyFastRates()
	if v6 := f.IPv6Prefixes(); len(v6) > 0 {
		d.setFast6(f, v6)
	}
}

// setFast6 binds f's IPv6 prefixes (none: unbinds them) in the fast path,
// if f is there. A fast path that refuses them gives the whole session
// back to the user-space engine, which has them already.
func (d *DataPlane) setFast6(f *Flow, prefixes []netip.Prefix) {
	ff := f.fast.Load()
	if ff == nil {
		return
	}
	if err := ff.p.SetIPv6(ff.h, prefixes); err != nil {
		if errors.Is(err, dataplane.ErrFull) {
			d.xdp.full.Add(1)
		} else {
			d.xdp.failed.Add(1)
		}
		d.log.Warn("lns: fast path: binding the IPv6 prefixes; the session forwards in user space", "tunnel_id", f.localTunnel, "session_id", f.localSession, "err", err)
		d.removeFast(f)
	}
}

// sourceFor is the address the kernel sources packets to peer from, for a
// tunnel socket bound to the unspecified address.
func (d *DataPlane) sourceFor(peer netip.Addr) (netip.Addr, error) {
	d.xdp.mu.Lock()
	defer d.xdp.mu.Unlock()
	if a, ok := d.xdp.local[peer]; ok {
		return a, nil
	}
	routes, err := netlink.RouteGet(peer.AsSlice())
	if err != nil {
		return netip.Addr{}, err
	}
	for _, r := range routes {
		if a, ok := netip.AddrFromSlice(r.Src); ok && a.IsValid() {
			if d.xdp.local == nil {
				d.xdp.local = make(map[netip.Addr]netip.Addr)
			}
			d.xdp.local[peer] = a.Unmap()
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, errors.New("no route with a source address")
}

// removeFast takes f out of the fast path and keeps its final counters on f.
func (d *DataPlane) removeFast(f *Flow) {
	ff := f.fast.Swap(nil)
	if ff == nil {
		return
	}
	c, err := ff.p.Remove(ff.h)
	if err != nil {
		d.log.Warn("lns: fast path: final counters", "tunnel_id", f.localTunnel, "session_id", f.localSession, "err", err)
	}
	f.fastMu.Lock()
	f.fastDone = f.fastDone.Add(c)
	f.fastMu.Unlock()
}

// FastCounters is what the XDP fast path forwarded for f, entries removed
// since included (zero without a fast path); Counters includes it in its
// totals. Its IPv6 fields are the IPv6 share of the fast path's.
func (f *Flow) FastCounters() dataplane.Counters { return f.fastCounters() }

// fastCounters is what the fast path forwarded for f, removed entries
// included.
func (f *Flow) fastCounters() dataplane.Counters {
	f.fastMu.Lock()
	c := f.fastDone
	f.fastMu.Unlock()
	if ff := f.fast.Load(); ff != nil {
		if live, err := ff.p.Counters(ff.h); err == nil {
			c = c.Add(live)
		}
	}
	return c
}

// applyFastRates writes the flow's buckets into the fast path's policer.
func (f *Flow) applyFastRates() {
	ff := f.fast.Load()
	if ff == nil {
		return
	}
	up, down := f.Rates()
	_ = ff.p.SetRate(ff.h, dataplane.Rate{Kbps: up.Kbps, Burst: up.Burst}, dataplane.Rate{Kbps: down.Kbps, Burst: down.Burst})
}

// touchFast moves the flow's idle clocks to now when the fast path
// forwarded packets since the last look.
func (d *DataPlane) touchFast(f *Flow) {
	ff := f.fast.Load()
	if ff == nil {
		return
	}
	c, err := ff.p.Counters(ff.h)
	if err != nil {
		return
	}
	now := d.clock()
	if ff.seenUp.Swap(c.UpPackets) != c.UpPackets {
		f.lastIn.Store(now)
	}
	if ff.seenDown.Swap(c.DownPackets) != c.DownPackets {
		f.lastOut.Store(now)
	}
}

// FastStats are the fast path's counters as the LNS sees them.
type FastStats struct {
	Engine  string          // "xdp" or "userspace"
	Reasons dataplane.Stats // by reason, summed over the CPUs
	Full    uint64          // sessions left to the slow path: maps full
	Failed  uint64          // sessions left to the slow path: other errors
}

// FastStats reads the fast path's counters (Engine "userspace" without one).
func (d *DataPlane) FastStats() FastStats {
	s := FastStats{Engine: "userspace", Full: d.xdp.full.Load(), Failed: d.xdp.failed.Load()}
	if d.cfg.Fast != nil {
		s.Engine = "xdp"
		s.Reasons, _ = d.cfg.Fast.Stats()
	}
	return s
}

// openFastPath loads and attaches the fast path as [dataplane] asks, on
// the calling thread's network namespace: nil (and one log line saying
// why) when the user-space engine forwards alone. With engine = xdp a fast
// path that cannot load is an error.
func openFastPath(cfg *FileConfig, log *slog.Logger) (*dataplane.LNSPath, error) {
	plan, err := cfg.Dataplane.Check()
	if err != nil {
		return nil, fmt.Errorf("lns: dataplane: %w", err)
	}
	if plan.Engine == dataplane.EngineUserspace {
		log.Info("forwarding engine: userspace", "reason", "configured")
		return nil, nil
	}
	if len(plan.Interfaces) == 0 {
		log.Info("forwarding engine: userspace", "reason", "no [dataplane] interfaces configured")
		return nil, nil
	}
	max := plan.MaxSessions
	if max == 0 {
		max = cfg.LNS.MaxSessions
	}
	p, err := dataplane.NewLNSPath(dataplane.Config{
		Interfaces:     plan.Interfaces,
		Mode:           plan.Mode,
		MaxSessions:    max,
		L2TPPort:       cfg.LNS.Listen.Port(),
		SlowInterface:  cfg.TUN.Name,
		NoNextHopCache: plan.NoNextHopCache,
		Logger:         log,
	})
	if err != nil {
		if plan.Engine == dataplane.EngineXDP {
			return nil, fmt.Errorf("lns: engine = xdp: %w", err)
		}
		log.Warn("forwarding engine: userspace", "reason", err.Error())
		return nil, nil
	}
	log.Info("forwarding engine: xdp", "mode", plan.Mode.String(), "interfaces", strings.Join(plan.Interfaces, ","), "max_sessions", max)
	return p, nil
}
