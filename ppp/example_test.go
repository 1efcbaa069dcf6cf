package ppp_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/ppp/ppptest"
)

// staticAuth accepts one user and answers at once; an LNS would start a
// RADIUS request here and call AuthResult from its shard when it returns.
type staticAuth struct{ now *time.Time }

func (a staticAuth) Authenticate(s *ppp.Session, req ppp.AuthRequest) {
	ok := req.Username == "alice" && string(req.Password) == "wonderland"
	s.AuthResult(ppp.AuthResult{OK: ok, IP: netip.MustParseAddr("100.64.0.9"),
		DNS1: netip.MustParseAddr("192.0.2.53")}, *a.now)
}

type printUp struct{ who string }

func (h printUp) Up(s *ppp.Session, n ppp.NetworkInfo) {
	fmt.Printf("%s up: local %v peer %v dns %v\n", h.who, n.Local, n.Peer, n.DNS1)
}
func (h printUp) Down(s *ppp.Session, r ppp.Reason) { fmt.Printf("%s down: %v\n", h.who, r) }

// Example shows how an owner drives two sessions: frames in through Input
// (control protocols only), timers through NextDeadline and Tick, results
// through the Handler. No goroutine belongs to a session.
func Example() {
	pipe := ppptest.NewPipe(1)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	server := ppp.NewSession(pipe.End(0), ppp.Config{
		Role: ppp.Server, MRU: 1492, RejectACCMPFCACFC: true,
		Auth:          []ppp.AuthProto{ppp.AuthPAP},
		Authenticator: staticAuth{&now},
		LocalIP:       netip.MustParseAddr("100.64.0.1"),
		Handler:       printUp{"server"},
	})
	client := ppp.NewSession(pipe.End(1), ppp.Config{
		Role: ppp.Client, MRU: 1492, RejectACCMPFCACFC: true,
		Username: "alice", Password: "wonderland",
		Handler: printUp{"client"},
	})
	server.Open(now)
	client.Open(now)
	for i := 0; i < 100; i++ {
		now = now.Add(10 * time.Millisecond)
		pipe.Deliver(now, func(to int, frame []byte) {
			if p, _, err := ppp.ParseProtocol(frame); err != nil || !p.IsControl() {
				return // the data plane's business
			}
			[]*ppp.Session{server, client}[to].Input(frame, now)
		})
		for _, s := range []*ppp.Session{server, client} {
			if d := s.NextDeadline(); !d.IsZero() && !now.Before(d) {
				s.Tick(now)
			}
		}
	}
	client.Close("hang up", now)
	for i := 0; i < 100; i++ {
		now = now.Add(100 * time.Millisecond)
		pipe.Deliver(now, func(to int, frame []byte) { []*ppp.Session{server, client}[to].Input(frame, now) })
		for _, s := range []*ppp.Session{server, client} {
			if d := s.NextDeadline(); !d.IsZero() && !now.Before(d) {
				s.Tick(now)
			}
		}
	}
	// Unordered output:
	// server up: local 100.64.0.1 peer 100.64.0.9 dns 192.0.2.53
	// client up: local 100.64.0.9 peer 100.64.0.1 dns 192.0.2.53
	// client down: local-close
	// server down: peer-terminate
}
