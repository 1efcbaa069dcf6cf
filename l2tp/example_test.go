package l2tp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp"
)

// lnsEvents hands the LNS's events to its own goroutines; here a channel.
type lnsEvents struct {
	l2tp.NopHandler
	up chan string
}

func (e lnsEvents) IncomingCall(t *l2tp.Tunnel, s *l2tp.Session, icrq *l2tp.Message) error {
	if t.Sessions() > 1000 {
		return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesTemporary)}}
	}
	s.SetValue("per-session state of the LNS")
	return nil
}

func (e lnsEvents) SessionUp(s *l2tp.Session, iccn *l2tp.Message) {
	if a, ok := iccn.Find(l2tp.AVPProxyAuthenName); ok {
		e.up <- string(a.Value)
	}
}

// loopbackCall runs an LNS and a LAC on loopback: the LAC dials an
// authenticated tunnel and places a call with proxy authentication AVPs
// (RFC 2661 section 4.4.5); it returns the user name the LNS read from the
// ICCN.
func loopbackCall() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	secret := []byte("shared secret")
	lnsConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return "", err
	}
	defer lnsConn.Close()
	ev := lnsEvents{up: make(chan string, 1)}
	lns, err := l2tp.NewEndpoint(lnsConn, l2tp.Config{
		HostName: "lns1",
		Handler:  ev,
		Accept: func(peer netip.AddrPort, host string) (l2tp.TunnelOptions, error) {
			return l2tp.TunnelOptions{Secret: secret}, nil // per-peer lookup
		},
		Data: func(t *l2tp.Tunnel, s *l2tp.Session, h l2tp.Header, ppp []byte) {
			_ = s.Value() // the session's state, without a lookup
		},
	})
	if err != nil {
		return "", err
	}
	lacConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return "", err
	}
	defer lacConn.Close()
	lac, err := l2tp.NewEndpoint(lacConn, l2tp.Config{HostName: "lac1"})
	if err != nil {
		return "", err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	for _, ep := range []*l2tp.Endpoint{lns, lac} {
		go func() { ep.Run(runCtx); done <- struct{}{} }()
	}
	defer func() { stop(); <-done; <-done }()

	var t *l2tp.Tunnel
	for {
		t, err = lac.Dial(ctx, lnsConn.LocalAddr().(*net.UDPAddr).AddrPort(), l2tp.TunnelOptions{Secret: secret})
		if !errors.Is(err, l2tp.ErrNotRunning) || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		return "", err // errors.As(err, *l2tp.TunnelError) gives the StopCCN result
	}
	if _, err := t.PlaceCall(l2tp.CallRequest{
		ICRQ: []l2tp.AVP{l2tp.NewAVPString(l2tp.AVPCallingNumber, "00:11:22:33:44:55")},
		ICCN: []l2tp.AVP{
			l2tp.ProxyAuthenPAP.AVP(),
			l2tp.NewAVPString(l2tp.AVPProxyAuthenName, "user@realm"),
			l2tp.NewAVPProxyAuthenID(1),
			l2tp.NewAVPBytes(l2tp.AVPProxyAuthenResponse, []byte("password")),
		},
	}); err != nil {
		return "", err
	}
	select {
	case user := <-ev.up:
		return user, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// An LNS and a LAC on one machine: tunnel with authentication, an incoming
// call carrying proxy authentication, read by the LNS when the ICCN comes.
func Example() {
	user, err := loopbackCall()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("LNS: call up, proxy authentication as", user)
	// Output: LNS: call up, proxy authentication as user@realm
}

func TestLoopbackCall(t *testing.T) {
	user, err := loopbackCall()
	if err != nil {
		t.Fatal(err)
	}
	if user != "user@realm" {
		t.Fatalf("the LNS read Proxy Authen Name %q, want user@realm", user)
	}
}
