package aaa_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/aaa/aaatest"
	"github.com/bras-project/bras/internal/metrics"
	"layeh.com/radius"
)

func sample(reg *metrics.Registry, name string, labels map[string]string) (float64, bool) {
next:
	for _, s := range reg.Samples() {
		if s.Name != name {
			continue
		}
		for k, v := range labels {
			if s.Labels[k] != v {
				continue next
			}
		}
		return s.Value, true
	}
	return 0, false
}

func TestClientMetrics(t *testing.T) {
	dead := aaatest.New(t, secret, accept)
	dead.SetMode(aaatest.Silent)
	live := aaatest.New(t, secret, func(req *radius.Packet) *radius.Packet {
		if string(req.Get(1)) == "bad" {
			return req.Response(radius.CodeAccessReject)
		}
		return accept(req)
	})
	c := newClient(t, dead, live)
	reg := metrics.New()
	c.RegisterMetrics(reg)
	for _, u := range []string{"good", "bad", "good"} {
		if _, err := c.Authenticate(context.Background(), aaa.AuthRequest{Username: u, PAPPassword: []byte("p")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.RadiusRequests, map[string]string{"server": live.Addr, "type": "access", "result": "accept"}, 2},
		{metrics.RadiusRequests, map[string]string{"server": live.Addr, "type": "access", "result": "reject"}, 1},
		{metrics.RadiusRequests, map[string]string{"server": dead.Addr, "type": "access", "result": "timeout"}, 1},
		{metrics.RadiusServerUp, map[string]string{"server": dead.Addr, "type": "access"}, 0},
		{metrics.RadiusServerUp, map[string]string{"server": live.Addr, "type": "access"}, 1},
		{metrics.RadiusTimeouts, map[string]string{"type": "access"}, 0},
		{metrics.RadiusLatency + "_count", map[string]string{"server": live.Addr, "type": "access"}, 3},
	} {
		got, ok := sample(reg, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
}

func TestCoAMetrics(t *testing.T) {
	s, _ := newCoA(t)
	reg := metrics.New()
	s.RegisterMetrics(reg)
	ok := dynReq(t, aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{AcctSessionID: "S1"}, EventTime: coaNow})
	nak := dynReq(t, aaa.DynamicRequest{Code: radius.CodeCoARequest, Selector: aaa.SessionSelector{AcctSessionID: "S9"}, Change: aaa.Change{RateLimit: &aaa.RateLimit{DownKbps: 1}}, EventTime: coaNow})
	noTS := dynReq(t, aaa.DynamicRequest{Code: radius.CodeDisconnectRequest, Selector: aaa.SessionSelector{Username: "alice"}})
	s.Handle(context.Background(), ok, coaPeer)
	s.Handle(context.Background(), nak, coaPeer)
	s.Handle(context.Background(), ok, netip.MustParseAddrPort("192.0.2.7:1"))
	s.Handle(context.Background(), ok, netip.AddrPortFrom(coaPeer.Addr(), 1)) // a replay from another port
	s.Handle(context.Background(), noTS, coaPeer)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{metrics.CoARequests, map[string]string{"type": "disconnect", "result": "ack"}, 1},
		{metrics.CoARequests, map[string]string{"type": "coa", "result": "nak"}, 1},
		{metrics.CoADropped, map[string]string{"reason": "unknown_client"}, 1},
		{metrics.CoADropped, map[string]string{"reason": "replay"}, 1},
		{metrics.CoAReplayRefused, map[string]string{"reason": "replay"}, 1},
		{metrics.CoAReplayRefused, map[string]string{"reason": "no_event_timestamp"}, 1},
		{metrics.CoAReplayRefused, map[string]string{"reason": "stale"}, 0},
		{metrics.CoAReplayRefused, map[string]string{"reason": "cache_full"}, 0},
		// Answered requests are timed: the ACK, the NAK and the NAK for
		// the missing Event-Timestamp; the replay is answered from the
		// cache without a second timing.
		{metrics.CoALatency + "_count", map[string]string{"client": "127.0.0.0/8", "type": "disconnect"}, 2},
		{metrics.CoALatency + "_count", map[string]string{"client": "127.0.0.0/8", "type": "coa"}, 1},
	} {
		got, found := sample(reg, tc.name, tc.labels)
		if !found || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, found, tc.want)
		}
	}
}
