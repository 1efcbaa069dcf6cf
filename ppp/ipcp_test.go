package ppp_test

import (
	"testing"
	"time"

	"github.com/bras-project/bras/ppp"
	"github.com/google/go-cmp/cmp"
)

// TestIPCPNeverOpensWithoutTheAssignedAddress: a server with an address to
// assign never reaches IPCP Opened without it. A scripted peer refuses the
// assignment each restart period (asking for its own address, asking for
// none, or asking for none once Max-Failure has turned the Nak into a
// Reject); after Max-Failure Naks (RFC 1661 section 4.6) the negotiation
// fails and LCP terminates, instead of acking a request with no address.
func TestIPCPNeverOpensWithoutTheAssignedAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		// req is the peer's n-th IPCP Configure-Request.
		req func(n int) []byte
	}{
		{"insists on its own address", func(int) []byte { return []byte{3, 6, 10, 1, 1, 1} }},
		{"omits IP-Address", func(int) []byte { return []byte{129, 6, 0, 0, 0, 0} }},
		{"drops IP-Address once it is rejected", func(n int) []byte {
			if n < 6 {
				return []byte{3, 6, 10, 1, 1, 1}
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := serverUp(t)
			var naks, termReqs int
			for n := 0; n < 30 && x.s.State() != ppp.PhaseDead; n++ {
				x.s.Input(frame(ppp.ProtoIPCP, ppp.ConfReq, uint8(n), tc.req(n)...), x.now)
				for _, f := range x.take() {
					proto, info, _ := ppp.ParseProtocol(f)
					p, err := ppp.ParsePacket(info)
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case proto == ppp.ProtoIPCP && p.Code == ppp.ConfReq:
						// The server's own address: the peer accepts it.
						x.s.Input(frame(ppp.ProtoIPCP, ppp.ConfAck, p.ID, p.Data...), x.now)
					case proto == ppp.ProtoIPCP && p.Code == ppp.ConfNak:
						naks++
					case proto == ppp.ProtoIPCP && p.Code == ppp.ConfAck:
						t.Fatalf("request %d %x acked; the assignment is 100.64.0.7", n, tc.req(n))
					case proto == ppp.ProtoLCP && p.Code == ppp.TermReq:
						termReqs++
						x.s.Input(frame(ppp.ProtoLCP, ppp.TermAck, p.ID), x.now)
					}
				}
				x.take()
				// The peer's restart timer, on the session's fake clock.
				x.now = x.now.Add(3 * time.Second)
				x.s.Tick(x.now)
			}
			if len(x.rec.ups) != 0 || x.s.IPCPState() == ppp.Opened {
				t.Fatalf("IPCP opened without the assigned address: %+v", x.rec.ups)
			}
			if diff := cmp.Diff([]ppp.Reason{ppp.ReasonNegotiationFailed}, x.rec.downs); diff != "" {
				t.Errorf("downs (-want +got):\n%s", diff)
			}
			if naks != 5 || termReqs != 1 {
				t.Errorf("%d Configure-Naks and %d Terminate-Requests, want Max-Failure 5 and 1", naks, termReqs)
			}
			if got := x.s.Stats().NotConverging; got != 1 {
				t.Errorf("NotConverging = %d, want 1", got)
			}
		})
	}
}
