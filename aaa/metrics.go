package aaa

import (
	"time"

	"github.com/bras-project/bras/internal/metrics"
)

// RegisterMetrics exposes the client's counters in reg: requests by
// server, type and result, round-trip latency by server and type,
// requests no server answered, dropped responses by reason and the
// servers' state.
func (c *Client) RegisterMetrics(reg *metrics.Registry) {
	lat := reg.NewHistogram(metrics.RadiusLatency, "RADIUS round-trip time of answered requests, by server and request type.", nil, "server", "type")
	f := func(server, kind string, d time.Duration) { lat.With(server, kind).ObserveDuration(d) }
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
	reg.CounterVecFunc(metrics.RadiusDroppedResponses, "RADIUS responses dropped by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			st := c.Stats()
			emit(float64(st.BadAuthenticator), "bad_authenticator")
			emit(float64(st.BadMessageAuthenticator), "bad_message_authenticator")
			emit(float64(st.MissingMessageAuthenticator), "missing_message_authenticator")
			emit(float64(st.Malformed), "malformed")
			emit(float64(st.Unexpected), "unexpected")
		})
	reg.GaugeVecFunc(metrics.RadiusServerUp, "1 when the RADIUS server is not held down.", []string{"server", "type"},
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

// RegisterMetrics exposes the CoA server's counters in reg, and the time
// it takes to answer a request, by configured client and type.
func (s *CoAServer) RegisterMetrics(reg *metrics.Registry) {
	lat := reg.NewHistogram(metrics.CoALatency, "Time from a CoA or Disconnect request's arrival to its answer, by client and type.", nil, "client", "type")
	f := func(client, kind string, d time.Duration) { lat.With(client, kind).ObserveDuration(d) }
	s.latency.Store(&f)
	reg.CounterVecFunc(metrics.CoARequests, "CoA and Disconnect requests answered, by type and result.", []string{"type", "result"},
		func(emit func(float64, ...string)) {
			st := s.Stats()
			emit(float64(st.DisconnectACKs), "disconnect", "ack")
			emit(float64(st.DisconnectNAKs), "disconnect", "nak")
			emit(float64(st.CoAACKs), "coa", "ack")
			emit(float64(st.CoANAKs), "coa", "nak")
		})
	reg.CounterVecFunc(metrics.CoADropped, "CoA and Disconnect requests silently dropped, by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			st := s.Stats()
			emit(float64(st.UnknownClient), "unknown_client")
			emit(float64(st.BadAuthenticator), "bad_authenticator")
			emit(float64(st.BadMessageAuthenticator), "bad_message_authenticator")
			emit(float64(st.Malformed), "malformed")
			emit(float64(st.Replayed+st.Stale), "replay")
			emit(float64(st.Unexpected), "unexpected")
		})
	reg.CounterVecFunc(metrics.CoAReplayRefused, "CoA and Disconnect requests refused by the replay protection, by reason.", []string{"reason"},
		func(emit func(float64, ...string)) {
			st := s.Stats()
			emit(float64(st.Replayed), "replay")
			emit(float64(st.Stale), "stale")
			emit(float64(st.NoTimestamp), "no_event_timestamp")
			emit(float64(st.CacheFull), "cache_full")
		})
}
