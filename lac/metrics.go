package lac

import (
	"syscall"

	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/udpio"
)

// Metric names of the LAC. Labels are bounded sets.
const (
	// MetricSessions is a gauge of the subscribers the LAC holds.
	MetricSessions = "bras_lac_sessions"
	// MetricTunnels is a gauge of the L2TP tunnels in the pool.
	MetricTunnels = "bras_lac_tunnels"
	// MetricCalls counts call outcomes ("result": "up", "refused",
	// "timeout").
	MetricCalls = "bras_lac_calls_total"
	// MetricTeardowns counts ended calls ("cause": "subscriber-padt",
	// "lns-cdn", "proxy-ppp").
	MetricTeardowns = "bras_lac_teardowns_total"
	// MetricDrops counts what the LAC dropped ("reason": "event-queue-full",
	// "job-queue-full", "held-overflow", "no-session").
	MetricDrops = "bras_lac_drops_total"
)

// RegisterMetrics exposes the LAC's counters in reg, read at scrape time.
func (l *LAC) RegisterMetrics(reg *metrics.Registry) {
	st := &l.stats
	reg.GaugeFunc(MetricSessions, "Subscribers held by the LAC.", nil, func() float64 { return float64(l.active.Load()) })
	reg.GaugeFunc(MetricTunnels, "L2TP tunnels of the LAC's pool.", nil, func() float64 { return float64(len(l.pool.Tunnels())) })
	reg.CounterVecFunc(MetricCalls, "Incoming calls placed by the LAC, by outcome.", []string{"result"},
		func(emit func(float64, ...string)) {
			emit(float64(st.CallsUp.Load()), "up")
			emit(float64(st.Refused.Load()), "refused")
			emit(float64(st.CallTimeouts.Load()), "timeout")
		})
	reg.CounterVecFunc(MetricTeardowns, "Calls ended, by cause.", []string{"cause"},
		func(emit func(float64, ...string)) {
			emit(float64(st.PADTFromSub.Load()), "subscriber-padt")
			emit(float64(st.CDNFromLNS.Load()), "lns-cdn")
			emit(float64(st.ProxyNegotiation.Load()), "proxy-ppp")
		})
	reg.CounterVecFunc(MetricDrops, "Events and frames the LAC dropped, by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			emit(float64(st.EventsDropped.Load()), "event-queue-full")
			emit(float64(st.JobsDropped.Load()), "job-queue-full")
			emit(float64(st.HeldDropped.Load()), "held-overflow")
			emit(float64(st.DataNoSession.Load()), "no-session")
			errs := l.down.errors.Load()
			if l.snd != nil {
				errs += l.snd.errors.Load()
			}
			emit(float64(errs), "send-error")
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
