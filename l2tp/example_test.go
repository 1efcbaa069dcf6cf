package l2tp_test

import (
	"context"
	"log"
	"net"
	"net/netip"

	"github.com/bras-project/bras/l2tp"
)

// lnsEvents hands events to the LNS's own goroutines (here, it just logs).
type lnsEvents struct{ l2tp.NopHandler }

func (lnsEvents) IncomingCall(t *l2tp.Tunnel, s *l2tp.Session, icrq *l2tp.Message) error {
	if t.Sessions() > 1000 {
		return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesTemporary)}}
	}
	s.SetValue("per-session state of the LNS")
	return nil
}

func (lnsEvents) SessionUp(s *l2tp.Session, iccn *l2tp.Message) {
	if a, ok := iccn.Find(l2tp.AVPProxyAuthenName); ok {
		log.Printf("session %d: proxy authentication as %q", s.LocalID(), a.Value)
	}
}

// An LNS: one UDP socket, tunnels accepted per peer with their secret,
// data handed to the forwarding path on the reader goroutine.
func ExampleNewEndpoint_lns() {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{Port: 1701})
	if err != nil {
		log.Fatal(err)
	}
	ep, err := l2tp.NewEndpoint(conn, l2tp.Config{
		HostName: "lns1",
		Handler:  lnsEvents{},
		Accept: func(peer netip.AddrPort, host string) (l2tp.TunnelOptions, error) {
			return l2tp.TunnelOptions{Secret: []byte("shared secret")}, nil
		},
		Data: func(t *l2tp.Tunnel, s *l2tp.Session, h l2tp.Header, ppp []byte) {
			_ = s.Value() // the session's state, without a lookup
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(ep.Run(context.Background()))
}

// An LAC: dial a tunnel, place a call with proxy LCP and authentication
// AVPs; the outcome comes to the Handler.
func ExampleTunnel_PlaceCall() {
	conn, _ := net.ListenUDP("udp", &net.UDPAddr{Port: 1701})
	ep, _ := l2tp.NewEndpoint(conn, l2tp.Config{HostName: "lac1"})
	ctx := context.Background()
	go ep.Run(ctx)
	t, err := ep.Dial(ctx, netip.MustParseAddrPort("192.0.2.2:1701"), l2tp.TunnelOptions{Secret: []byte("shared secret")})
	if err != nil {
		log.Fatal(err) // errors.As(err, *l2tp.TunnelError) gives the StopCCN result
	}
	_, err = t.PlaceCall(l2tp.CallRequest{
		ICRQ: []l2tp.AVP{l2tp.NewAVPString(l2tp.AVPCallingNumber, "00:11:22:33:44:55")},
		ICCN: []l2tp.AVP{
			l2tp.ProxyAuthenPAP.AVP(),
			l2tp.NewAVPString(l2tp.AVPProxyAuthenName, "user@realm"),
			l2tp.NewAVPProxyAuthenID(1),
			l2tp.NewAVPBytes(l2tp.AVPProxyAuthenResponse, []byte("password")),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
}
