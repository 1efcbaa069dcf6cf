package aaa

import (
	"time"

	"github.com/bras-project/bras/internal/metrics"
)

// Metric names of this package besides those of internal/metrics.
const (
	// MetricDroppedResponses counts RADIUS responses dropped by the client
	// ("reason": "bad-authenticator", "bad-message-authenticator",
	// "missing-message-authenticator", "malformed", "unexpected").
	MetricDroppedResponses = "bras_radius_dropped_responses_total"
	// MetricServerUp is 1 for a server that is not held down ("server",
	// "type").
	MetricServerUp = "bras_radius_server_up"
	// MetricCoADropped counts CoA/Disconnect requests silently dropped
	// ("reason": "unknown-client", "bad-authenticator",
	// "bad-message-authenticator", "malformed", "replay", "unexpected").
	MetricCoADropped = "bras_coa_dropped_total"
	// MetricCoAReplayRefused counts CoA/Disconnect requests refused by
	// the replay protection of RFC 5176 section 6.3 ("reason": "replay",
	// "stale", "no-event-timestamp", "cache-full").
	MetricCoAReplayRefused = "bras_coa_replay_refused_total"
)

// RegisterMetrics exposes the client's counters in reg: requests by
// server, type and result, round-trip latency by type, requests no server
// answered, dropped responses by reason and the servers' state.
func (c *Client) RegisterMetrics(reg *metrics.Registry) {
	lat := reg.NewHistogram(metrics.RadiusLatency, "RADIUS round-trip time by request type.", nil, "type")
	f := func(kind string, d time.Duration) { lat.With(kind).ObserveDuration(d) }
	c.latency.Store(&f)
	reg.CounterVecFunc(metrics.RadiusRequests, "RADIUS requests by server, type and result.", []string{"server", "type", "result"},
		func(emit func(float64, ...string)) {
			for _, s := range c.ServerStats() {
				emit(float64(s.Accepts), s.Addr, s.Kind, "accept")
				if s.Kind == "access" {
					emit(float64(s.Rejects), s.Addr, s.Kind, "reject")
				}
				emit(float64(s.Timeouts), s.Addr, s.Kind, "timeout")
			}
		})
	reg.CounterVecFunc(metrics.RadiusTimeouts, "RADIUS requests no server answered.", []string{"type"},
		func(emit func(float64, ...string)) {
			st := c.Stats()
			emit(float64(st.AuthFailed), "access")
			emit(float64(st.AcctFailed), "accounting")
		})
	reg.CounterVecFunc(MetricDroppedResponses, "RADIUS responses dropped by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			st := c.Stats()
			emit(float64(st.BadAuthenticator), "bad-authenticator")
			emit(float64(st.BadMessageAuthenticator), "bad-message-authenticator")
			emit(float64(st.MissingMessageAuthenticator), "missing-message-authenticator")
			emit(float64(st.Malformed), "malformed")
			emit(float64(st.Unexpected), "unexpected")
		})
	reg.GaugeVecFunc(MetricServerUp, "1 when the RADIUS server is not held down.", []string{"server", "type"},
		func(emit func(float64, ...string)) {
			for _, s := range c.ServerStats() {
				up := 1.0
				if s.Dead {
					up = 0
				}
				emit(up, s.Addr, s.Kind)
			}
		})
}

// RegisterMetrics exposes the CoA server's counters in reg.
func (s *CoAServer) RegisterMetrics(reg *metrics.Registry) {
	reg.CounterVecFunc(metrics.CoARequests, "CoA and Disconnect requests answered, by type and result.", []string{"type", "result"},
		func(emit func(float64, ...string)) {
			st := s.Stats()
			emit(float64(st.DisconnectACKs), "disconnect", "ack")
			emit(float64(st.DisconnectNAKs), "disconnect", "nak")
			emit(float64(st.CoAACKs), "coa", "ack")
			emit(float64(st.CoANAKs), "coa", "nak")
		})
	reg.CounterVecFunc(MetricCoADropped, "CoA and Disconnect requests silently dropped, by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			st := s.Stats()
			emit(float64(st.UnknownClient), "unknown-client")
			emit(float64(st.BadAuthenticator), "bad-authenticator")
			emit(float64(st.BadMessageAuthenticator), "bad-message-authenticator")
			emit(float64(st.Malformed), "malformed")
			emit(float64(st.Replayed+st.Stale), "replay")
			emit(float64(st.Unexpected), "unexpected")
		})
	reg.CounterVecFunc(MetricCoAReplayRefused, "CoA and Disconnect requests refused by the replay protection, by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			st := s.Stats()
			emit(float64(st.Replayed), "replay")
			emit(float64(st.Stale), "stale")
			emit(float64(st.NoTimestamp), "no-event-timestamp")
			emit(float64(st.CacheFull), "cache-full")
		})
}
