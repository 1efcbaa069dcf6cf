package lns

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync/atomic"

	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/table"
	"github.com/bras-project/bras/internal/udpio"
)

// SetupCounts are the set-ups so far for the API's history: sessions whose
// IPCP opened, and calls refused or ended by a reject, a RADIUS or pool
// error or a saturated worker pool.
func (s *Server) SetupCounts() api.SetupCounts {
	st := &s.stats
	return api.SetupCounts{Up: st.SessionsUp.Load(),
		Failed: st.CallsRefused.Load() + st.AuthRejected.Load() + st.AuthErrors.Load() + st.AuthBusy.Load()}
}

// RegisterMetrics exposes the LNS, L2TP and data-plane counters.
func (s *Server) RegisterMetrics(r *metrics.Registry) {
	r.GaugeVecFunc(metrics.Sessions, "Subscriber sessions on this LNS by state.", []string{"state"}, func(emit func(float64, ...string)) {
		counts := map[string]int{}
		for _, ss := range s.snapshot() {
			if v := ss.view.Load(); v != nil {
				counts[v.State]++
			}
		}
		for _, st := range []sessState{stateStarting, stateLCP, stateUp, stateClosing} {
			emit(float64(counts[st.String()]), st.String())
		}
	})
	r.CounterVecFunc(metrics.SessionSetups, "Session set-ups by result.", []string{"result"}, func(emit func(float64, ...string)) {
		emit(float64(s.stats.SessionsUp.Load()), "up")
		emit(float64(s.stats.AuthRejected.Load()), "auth_rejected")
		emit(float64(s.stats.AuthErrors.Load()), "auth_error")
		emit(float64(s.stats.CallsRefused.Load()), "refused")
	})
	r.CounterVecFunc(metrics.SessionTeardowns, "Session teardowns by Acct-Terminate-Cause.", []string{"cause"}, func(emit func(float64, ...string)) {
		for c := range s.stats.Teardowns {
			if n := s.stats.Teardowns[c].Load(); n > 0 {
				emit(float64(n), accounting.TerminateCause(c).String())
			}
		}
	})
	r.CounterFunc(metrics.TeardownsQueued, "Session teardowns that waited on a shard's teardown queue (inbox full).", nil, metrics.Load(&s.stats.TeardownsQueued))
	r.CounterFunc(metrics.RAsSent, "Router Advertisements sent to subscribers (RFC 4861).", nil, metrics.Load(&s.stats.RAsSent))
	r.CounterFunc(metrics.DHCPv6Bound, "DHCPv6 Replies that gave or renewed a subscriber's prefix or address (RFC 8415).", nil, metrics.Load(&s.stats.DHCPv6Bound))
	r.CounterFunc(metrics.DHCPv6Discarded, "DHCPv6 messages from subscribers discarded as RFC 8415 section 16 says.", nil, metrics.Load(&s.stats.DHCPv6Discarded))
	r.CounterFunc(metrics.IPv6Ignored, "Link-scope IPv6 from subscribers for no service of the LNS, or before IPV6CP opened.", nil, metrics.Load(&s.stats.IPv6Ignored))
	r.CounterVecFunc(metrics.PoolExhausted, "Allocations that found an address or prefix pool exhausted, by pool and family.", []string{"pool", "family"}, func(emit func(float64, ...string)) {
		for k, c := range s.stats.exhausted {
			emit(float64(c.Load()), k.pool, k.family)
		}
	})
	st := s.ep.Stats()
	r.GaugeFunc(metrics.L2TPTunnels, "L2TP tunnels.", nil, func() float64 { return float64(len(s.ep.Tunnels())) })
	r.CounterVecFunc(metrics.L2TPControlMessages, "L2TP control messages by direction.", []string{"direction"}, func(emit func(float64, ...string)) {
		emit(float64(st.ControlRx.Load()), "rx")
		emit(float64(st.ControlTx.Load()), "tx")
	})
	r.CounterFunc(metrics.L2TPRetransmits, "L2TP control messages retransmitted.", nil, metrics.Load(&st.Retransmits))
	r.CounterFunc(metrics.L2TPMalformed, "L2TP datagrams that did not parse.", nil, metrics.Load(&st.Malformed))
	r.CounterFuncs(metrics.L2TPDropped, "L2TP control messages and SCCRQs dropped, by reason.", "reason", map[string]*atomic.Uint64{
		"unknown-tunnel":       &st.UnknownTunnel,
		"tunnel-zero":          &st.TunnelZero,
		"inbox-full":           &st.InboxFull,
		"tunnel-limit":         &st.TunnelLimit,
		"half-open-limit":      &st.HalfOpenLimit,
		"half-open-peer-limit": &st.HalfOpenPeerLimit,
		"tie-breaker":          &st.TieBreakerDrops,
	})
	r.CounterFunc(metrics.L2TPAuthFailures, "L2TP tunnel authentication failures (StopCCN result 4).", nil, metrics.Load(&st.AuthFailures))
	udpio.RegisterMetrics(r, s.deps.Conn)
	r.CounterVecFunc(metrics.DataplanePackets, "Packets forwarded by the data plane by direction.", []string{"direction"}, func(emit func(float64, ...string)) {
		d := s.dp.Stats()
		emit(float64(d.TUNWritten), "up")
		emit(float64(d.Encapsulated), "down")
	})
	r.CounterVecFunc(metrics.DataplaneDrops, "Packets dropped by the data plane by reason.", []string{"reason"}, func(emit func(float64, ...string)) {
		d := s.dp.Stats()
		for i, n := range d.Drops {
			if DropReason(i) != DropNone {
				emit(float64(n), DropReason(i).String())
			}
		}
	})
	r.CounterFunc(metrics.MSSClamped, "TCP SYNs whose MSS option the user-space engine lowered ([dataplane] tcp-mss).", nil, func() float64 { return float64(s.dp.Stats().MSSClamped) })
	r.CounterVecFunc(metrics.FastPathPackets, "Packets the XDP fast path forwarded, handed to user space or dropped, by reason.", []string{"reason"}, func(emit func(float64, ...string)) {
		f := s.dp.FastStats()
		if f.Engine != "xdp" {
			return
		}
		for i, n := range f.Reasons {
			emit(float64(n), dataplane.Reason(i).String())
		}
	})
	r.CounterVecFunc(metrics.FastPathRefused, "Sessions the XDP fast path could not take (they forward in user space).", []string{"reason"}, func(emit func(float64, ...string)) {
		f := s.dp.FastStats()
		emit(float64(f.Full), "full")
		emit(float64(f.Failed), "error")
	})
}

// ReportsOf serves accounting's billing reports through the HTTP API.
func ReportsOf(r *accounting.Reports) api.Reports {
	return api.ReportsFunc(func(ctx context.Context, name string, q url.Values) (*table.Table, error) {
		p, err := accounting.ParseReportParams(q)
		if err != nil {
			return nil, api.BadRequest(err)
		}
		if !slices.Contains(accounting.ReportNames, name) {
			return nil, api.ErrNotFound
		}
		t, err := r.Run(ctx, name, p)
		if errors.Is(err, accounting.ErrBadReport) {
			return nil, api.BadRequest(err)
		}
		return t, err
	})
}
