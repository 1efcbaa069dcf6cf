package lns

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

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
		Failed: s.callsRefused() + st.AuthRejected.Load() + st.AuthErrors.Load() + st.AuthBusy.Load()}
}

// callsRefused counts the calls answered with a CDN: those the LNS's
// limits refused (the node's max-sessions, a full shard, an unknown LAC)
// and those the L2TP endpoint refused before they reached it (a tunnel at
// its [lac] max-sessions, an ICRQ it could not accept). The endpoint
// counts both, the LNS only its own.
func (s *Server) callsRefused() uint64 {
	if s.ep == nil {
		return s.stats.CallsRefused.Load()
	}
	return max(s.ep.Stats().SessionsRefused.Load(), s.stats.CallsRefused.Load())
}

// setupStage is a stage of a session's set-up that
// bras_session_setup_duration_seconds times from the ICRQ.
type setupStage uint8

const (
	stageAuth   setupStage = iota // RADIUS (or the users file) accepted the subscriber
	stageIPCP                     // IPCP opened: the session is up
	stageIPv6CP                   // IPV6CP opened
	numStages
)

var stageNames = [numStages]string{"auth", "ipcp", "ipv6cp"}

// observeSetup records that a session reached stage d after its ICRQ.
func (s *Server) observeSetup(stage setupStage, d time.Duration) {
	if h := s.setup.Load(); h != nil {
		h[stage].ObserveDuration(d)
	}
}

// setupBuckets span a set-up from a few milliseconds (a local users file)
// to the 30 s the LNS waits for one.
var setupBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// RegisterMetrics exposes the LNS, L2TP and data-plane counters.
func (s *Server) RegisterMetrics(r *metrics.Registry) {
	r.GaugeVecFunc(metrics.Sessions, "Subscriber sessions on this LNS by state.", []string{"state"}, func(emit func(float64, ...string)) {
		for _, st := range []sessState{stateStarting, stateLCP, stateUp, stateClosing} {
			emit(float64(s.stats.states[st].Load()), st.String())
		}
	})
	hist := r.NewHistogram(metrics.SessionSetupDuration, "Time from a call's ICRQ to each stage of its set-up.", setupBuckets, "stage")
	var stages [numStages]*metrics.Histogram
	for i, n := range stageNames {
		stages[i] = hist.With(n)
	}
	s.setup.Store(&stages)
	r.CounterVecFunc(metrics.SessionSetups, "Session set-ups by result.", []string{"result"}, func(emit func(float64, ...string)) {
		emit(float64(s.stats.SessionsUp.Load()), "up")
		emit(float64(s.stats.AuthRejected.Load()), "auth_rejected")
		emit(float64(s.stats.AuthErrors.Load()), "auth_error")
		emit(float64(s.callsRefused()), "refused")
		emit(float64(s.stats.AuthBusy.Load()), "auth_busy")
	})
	r.CounterVecFunc(metrics.SessionTeardowns, "Session teardowns by Acct-Terminate-Cause.", []string{"cause"}, func(emit func(float64, ...string)) {
		for c := range s.stats.Teardowns {
			if n := s.stats.Teardowns[c].Load(); n > 0 {
				emit(float64(n), metrics.LabelValue(accounting.TerminateCause(c).String()))
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
	s.registerPools(r)
	st := s.ep.Stats()
	r.GaugeVecFunc(metrics.L2TPTunnels, "L2TP tunnels, by L2TP version.", []string{"version"}, func(emit func(float64, ...string)) {
		var n [2]int // L2TPv2, L2TPv3
		for _, t := range s.tunnels() {
			n[t.Version()/3]++
		}
		emit(float64(n[0]), "2")
		emit(float64(n[1]), "3")
	})
	r.GaugeVecFunc(metrics.L2TPTunnelSessions, "Sessions on each L2TP tunnel, by LAC (its host name in the configuration), local Tunnel ID, L2TP version and encapsulation.", []string{"peer", "tunnel_id", "version", "encap"}, func(emit func(float64, ...string)) {
		for _, t := range s.tunnels() {
			if l := s.lacOf(t); l != nil {
				emit(float64(t.Sessions()), l.HostName, strconv.FormatUint(uint64(t.LocalConnID()), 10), strconv.Itoa(t.Version()), t.Encap().String())
			}
		}
	})
	r.CounterVecFunc(metrics.L2TPControlMessages, "L2TP control messages by direction.", []string{"direction"}, func(emit func(float64, ...string)) {
		emit(float64(st.ControlRx.Load()), "rx")
		emit(float64(st.ControlTx.Load()), "tx")
	})
	r.CounterFunc(metrics.L2TPRetransmits, "L2TP control messages retransmitted.", nil, metrics.Load(&st.Retransmits))
	r.CounterFunc(metrics.L2TPMalformed, "L2TP datagrams that did not parse.", nil, metrics.Load(&st.Malformed))
	r.CounterFuncs(metrics.L2TPDropped, "L2TP control messages and SCCRQs dropped, by reason.", "reason", map[string]*atomic.Uint64{
		"unknown_tunnel":       &st.UnknownTunnel,
		"tunnel_zero":          &st.TunnelZero,
		"inbox_full":           &st.InboxFull,
		"tunnel_limit":         &st.TunnelLimit,
		"half_open_limit":      &st.HalfOpenLimit,
		"half_open_peer_limit": &st.HalfOpenPeerLimit,
		"tie_breaker":          &st.TieBreakerDrops,
		"wrong_version":        &st.WrongVersion,
		"digest_failures":      &st.DigestFailures,
		"cookie_mismatch":      &st.CookieMismatch,
		"digest_unverifiable":  &st.DigestUnverifiable,
	})
	r.CounterFunc(metrics.L2TPAuthFailures, "L2TP tunnel authentication failures (StopCCN result 4).", nil, metrics.Load(&st.AuthFailures))
	udpio.RegisterMetrics(r, s.deps.Conn)
	r.CounterVecFunc(metrics.DataplanePackets, "IP packets the user-space engine forwarded, by direction (the fast path's are in "+metrics.FastPathPackets+").", []string{"direction"}, func(emit func(float64, ...string)) {
		d := s.dp.Stats()
		emit(float64(d.TUNWritten), "up")
		emit(float64(d.Encapsulated), "down")
	})
	r.CounterVecFunc(metrics.DataplaneBytes, "Octets of the IP packets the user-space engine forwarded, by direction.", []string{"direction"}, func(emit func(float64, ...string)) {
		d := s.dp.Stats()
		emit(float64(d.TUNBytes), "up")
		emit(float64(d.EncapsulatedBytes), "down")
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

// registerPools exposes the size and use of every address and prefix
// pool, as `bras show pools` lists them (the shared pools from
// PostgreSQL, with a deadline: a slow database leaves them out of that
// scrape).
func (s *Server) registerPools(r *metrics.Registry) {
	pools := func(emit func(float64, ...string), v func(api.Pool) int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ps, err := s.API().Pools(ctx)
		if err != nil {
			return
		}
		for _, p := range ps {
			emit(float64(v(p)), p.Name, p.Family)
		}
	}
	r.GaugeVecFunc(metrics.PoolSize, "Addresses (IPv4) or prefixes (IPv6) each pool can hand out.", []string{"pool", "family"}, func(emit func(float64, ...string)) {
		pools(emit, func(p api.Pool) int { return p.Size })
	})
	r.GaugeVecFunc(metrics.PoolUsed, "Addresses or prefixes of each pool held by sessions.", []string{"pool", "family"}, func(emit func(float64, ...string)) {
		pools(emit, func(p api.Pool) int { return p.Used })
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
