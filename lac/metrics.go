package lac

import (
	"strconv"
	"syscall"

	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
)

// RegisterMetrics exposes the LAC's counters in reg, read at scrape time.
func (l *LAC) RegisterMetrics(reg *metrics.Registry) {
	st := &l.stats
	reg.GaugeFunc(metrics.LACSessions, "Subscribers held by the LAC.", nil, func() float64 { return float64(l.active.Load()) })
	reg.GaugeVecFunc(metrics.L2TPTunnels, "L2TP tunnels of the LAC's pool, by L2TP version.", []string{"version"}, func(emit func(float64, ...string)) {
		var n [2]int // L2TPv2, L2TPv3
		for t := range l.pool.Tunnels() {
			if lt, ok := t.(*l2tp.Tunnel); ok && lt.Version() == 3 {
				n[1]++
			} else {
				n[0]++
			}
		}
		emit(float64(n[0]), "2")
		emit(float64(n[1]), "3")
	})
	reg.GaugeVecFunc(metrics.L2TPTunnelSessions, "Sessions on each L2TP tunnel, by LNS (its name in the configuration), local Tunnel ID, L2TP version and encapsulation.", []string{"peer", "tunnel_id", "version", "encap"},
		func(emit func(float64, ...string)) {
			for _, pt := range l.pool.List() {
				t, ok := pt.Tunnel.(*l2tp.Tunnel)
				if !ok {
					continue
				}
				peer := pt.LNS.Name
				if peer == "" {
					peer = pt.LNS.Addr.String()
				}
				emit(float64(pt.Sessions), peer, strconv.FormatUint(uint64(t.LocalConnID()), 10), strconv.Itoa(t.Version()), t.Encap().String())
			}
		})
	reg.CounterVecFunc(metrics.DataplanePackets, "PPP frames the user-space relay forwarded, by direction (the fast path's are in "+metrics.FastPathPackets+").", []string{"direction"},
		func(emit func(float64, ...string)) {
			emit(float64(st.UpFrames.Load()), "up")
			emit(float64(st.DownFrames.Load()), "down")
		})
	reg.CounterVecFunc(metrics.DataplaneBytes, "Octets of the PPP frames the user-space relay forwarded, by direction.", []string{"direction"},
		func(emit func(float64, ...string)) {
			emit(float64(st.UpOctets.Load()), "up")
			emit(float64(st.DownOctets.Load()), "down")
		})
	reg.CounterVecFunc(metrics.LACCalls, "Incoming calls placed by the LAC, by outcome.", []string{"result"},
		func(emit func(float64, ...string)) {
			emit(float64(st.CallsUp.Load()), "up")
			emit(float64(st.Refused.Load()), "refused")
			emit(float64(st.CallTimeouts.Load()), "timeout")
		})
	reg.CounterVecFunc(metrics.LACTeardowns, "Calls ended, by cause.", []string{"cause"},
		func(emit func(float64, ...string)) {
			emit(float64(st.PADTFromSub.Load()), "subscriber_padt")
			emit(float64(st.CDNFromLNS.Load()), "lns_cdn")
			emit(float64(st.ProxyNegotiation.Load()), "proxy_ppp")
			emit(float64(st.CarrierCleared.Load()), "carrier_lost")
		})
	reg.CounterFunc(metrics.LACCarrierLosses, "Access interfaces that lost their carrier (each clears its sessions).", nil, metrics.Load(&st.CarrierLosses))
	reg.CounterVecFunc(metrics.LACDrops, "Events and frames the LAC dropped, by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			emit(float64(st.EventsDropped.Load()), "event_queue_full")
			emit(float64(st.JobsDropped.Load()), "job_queue_full")
			emit(float64(st.HeldDropped.Load()), "held_overflow")
			emit(float64(st.DataNoSession.Load()), "no_session")
			errs := l.downErrors.Load()
			if l.snd != nil {
				errs += l.snd.errors.Load()
			}
			emit(float64(errs), "send_error")
		})
	// The fast path's reasons tell an operator why frames reach the relay
	// (PPP control, an unknown session, over the MRU) instead of the kernel.
	reg.CounterVecFunc(metrics.FastPathPackets, "Packets the XDP fast path forwarded, handed to user space or dropped, by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			if l.conf().Fast == nil {
				return
			}
			r, err := l.conf().Fast.Stats()
			if err != nil {
				return
			}
			for i, n := range r {
				emit(float64(n), dataplane.Reason(i).String())
			}
		})
	if c, ok := l.conf().DataConn.(syscall.Conn); ok {
		udpio.RegisterMetrics(reg, c)
	}
	reg.CounterFunc(metrics.TeardownsQueued, "PADTs, CDNs and shutdowns that waited on a shard's queue of ends (shard queue full).", nil, metrics.Load(&st.EndsQueued))
	reg.CounterFunc(metrics.MSSClamped, "TCP SYNs whose MSS option the relay lowered ([dataplane] tcp-mss).", nil, metrics.Load(&st.MSSClamped))
	reg.CounterVecFunc(metrics.FastPathRefused, "Sessions the XDP fast path could not take (they are relayed in user space).", []string{"reason"},
		func(emit func(float64, ...string)) {
			emit(float64(st.FastFull.Load()), "full")
			emit(float64(st.FastFailed.Load()), "error")
		})
}

// registerPPPoE exposes the discovery packets (RFC 2516 section 5) and
// the malformed frames of each access interface's PPPoE server; ifaces[i]
// names servers[i].
func registerPPPoE(reg *metrics.Registry, ifaces []string, servers []*pppoe.Server) {
	reg.CounterVecFunc(metrics.PPPoEDiscovery, "PPPoE discovery packets by access interface, code and direction.", []string{"interface", "code", "direction"},
		func(emit func(float64, ...string)) {
			for i, srv := range servers {
				st, ifc := srv.Stats(), ifaces[i]
				emit(float64(st.PADIReceived), ifc, "padi", "rx")
				emit(float64(st.PADOSent), ifc, "pado", "tx")
				emit(float64(st.PADRReceived), ifc, "padr", "rx")
				emit(float64(st.PADSSent), ifc, "pads", "tx")
				emit(float64(st.PADTReceived), ifc, "padt", "rx")
				emit(float64(st.PADTSent), ifc, "padt", "tx")
			}
		})
	// What the servers turned away: a storm beyond the limits shows here,
	// by limit, next to the packets it sent.
	reg.CounterVecFunc(metrics.PPPoEDiscoveryRefused, "PPPoE discovery packets refused, by access interface and reason.", []string{"interface", "reason"},
		func(emit func(float64, ...string)) {
			for i, srv := range servers {
				st, ifc := srv.Stats(), ifaces[i]
				emit(float64(st.PADIRateLimited), ifc, "padi_rate_limit")
				emit(float64(st.DelayDropped), ifc, "pado_delay_full")
				emit(float64(st.CookieRejected), ifc, "cookie")
				emit(float64(st.ServiceRejected), ifc, "service")
				emit(float64(st.LimitRejected-st.VLANLimitRejected), ifc, "session_limit")
				emit(float64(st.VLANLimitRejected), ifc, "vlan_session_limit")
			}
		})
	reg.CounterVecFunc(metrics.PPPoEMalformed, "PPPoE frames dropped because they did not parse, by access interface.", []string{"interface"},
		func(emit func(float64, ...string)) {
			for i, srv := range servers {
				emit(float64(srv.Stats().Malformed), ifaces[i])
			}
		})
}
