package pppoe_test

import (
	"context"
	"log"
	"net"
	"time"

	"github.com/bras-project/bras/pppoe"
)

// forwarder is what a LAC puts behind the access concentrator: each PPPoE
// session is bound to an L2TP session in SessionUp, frames are forwarded
// from SessionData, and the L2TP side sends back with Session.Send.
type forwarder struct{}

func (forwarder) SessionUp(s *pppoe.Session) {
	log.Printf("up: session %d from %v on %s, circuit %v", s.ID, s.ClientMAC, s.Interface, s.AccessLine)
	s.Owner = "the L2TP session bound to it"
}

func (forwarder) SessionDown(s *pppoe.Session, why pppoe.DownReason) {
	log.Printf("down: session %d: %v", s.ID, why)
}

func (forwarder) SessionData(s *pppoe.Session, payload []byte) {
	// payload is a PPP frame from its Protocol field; it aliases the read
	// buffer, so forward (or copy) it before returning.
	_ = payload
}

// An access concentrator on eth1 serving VLANs 100 and 200 in user space.
func ExampleServer() {
	srv, err := pppoe.NewServer(pppoe.ServerConfig{
		Interface:     "eth1",
		VLANs:         []uint16{100, 200},
		UserVLANs:     true,
		ACName:        "bras-1",
		ServicePolicy: pppoe.ServiceAny,
		CookieSecret:  []byte("from the configuration"),
		PADIRate:      5,
	}, forwarder{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Run(ctx); err != nil { // PADT to every session on return
		log.Fatal(err)
	}
}

// A subscriber emulator: many sessions with their own source MACs on one
// interface.
func ExampleClient() {
	cli, err := pppoe.NewClient(pppoe.ClientConfig{Interface: "veth0"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cli.Run(ctx)

	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	cs, err := cli.Dial(ctx, mac, pppoe.DialOptions{ServiceName: "", Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	// A ppp.Session uses cs as its Link and gets frames from SetReceive.
	cs.SetReceive(func(frame []byte) {})
	_ = cs.Send([]byte{0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 0}) // LCP Echo-Request
	_ = cs.Close()                                                      // PADT
}
