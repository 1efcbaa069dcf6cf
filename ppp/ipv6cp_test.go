package ppp_test

import (
	"testing"
	"time"

	"github.com/bras-project/bras/ppp"
	"github.com/google/go-cmp/cmp"
)

// ipv6Recorder is a recorder that also runs IPv6.
type ipv6Recorder struct {
	*recorder
	ups6   []ppp.IPv6Info
	downs6 int
}

func (r *ipv6Recorder) UpIPv6(s *ppp.Session, n ppp.IPv6Info) { r.ups6 = append(r.ups6, n) }
func (r *ipv6Recorder) DownIPv6(s *ppp.Session)               { r.downs6++ }

// dualPair is newPair with IPv6 on both ends: the server's Authenticator
// grants what grant sets.
func dualPair(t *testing.T, seed uint64, grant func(*ppp.AuthResult), client ppp.Config) (*pair, *ipv6Recorder, *ipv6Recorder) {
	p := newPair(t, seed, ppp.Config{Auth: []ppp.AuthProto{ppp.AuthCHAPMD5}, MRU: 1492, RejectACCMPFCACFC: true}, client)
	p.auth.grant = grant
	s6, c6 := &ipv6Recorder{recorder: p.sRec}, &ipv6Recorder{recorder: p.cRec}
	// MaxFailure 10: at 20 % loss, one seed in a few hundred loses five
	// IPCP Configure-Naks in a row, and the server's Max-Failure (RFC 1661
	// section 4.6) then rightly ends a negotiation this test is not about.
	scfg, ccfg := ppp.Config{Role: ppp.Server, Auth: []ppp.AuthProto{ppp.AuthCHAPMD5}, MRU: 1492, RejectACCMPFCACFC: true,
		Authenticator: p.auth, Handler: s6, LocalIP: lnsIP, Rand: newRand(seed), MaxFailure: 10}, client
	ccfg.Role, ccfg.Handler, ccfg.Rand = ppp.Client, c6, newRand(seed+1000)
	se, ce := p.pipe.End(0), p.pipe.End(1)
	se.Tap = func(f []byte) { p.sent[0] = append(p.sent[0], append([]byte(nil), f...)) }
	ce.Tap = func(f []byte) { p.sent[1] = append(p.sent[1], append([]byte(nil), f...)) }
	p.server = ppp.NewSession(se, scfg)
	p.client = ppp.NewSession(ce, ccfg)
	return p, s6, c6
}

var radiusIID = ppp.InterfaceID{0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}

// TestIPV6CPComesUp: IPV6CP opens next to IPCP over a lossy, reordering
// link (RFC 5072), each end ends with the other's identifier, both
// non-zero and different; with RADIUS's Framed-Interface-Id the
// subscriber ends with that one.
func TestIPV6CPComesUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grant func(*ppp.AuthResult)
		want  ppp.InterfaceID // the client's, when RADIUS names it
	}{
		{"identifiers of their own", func(r *ppp.AuthResult) { r.IPv6 = true }, ppp.InterfaceID{}},
		{"Framed-Interface-Id from RADIUS", func(r *ppp.AuthResult) { r.IPv6, r.InterfaceID = true, radiusIID }, radiusIID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				p, s6, c6 := dualPair(t, seed, tc.grant, ppp.Config{Username: "alice", Password: "wonderland", IPv6: true})
				p.pipe.Loss, p.pipe.Dup, p.pipe.MaxDelay = 0.2, 0.1, 40*time.Millisecond
				p.open()
				p.run(2*time.Minute, func() bool { return len(s6.ups6) > 0 && len(c6.ups6) > 0 && p.bothUp() })
				if len(s6.ups6) != 1 || len(c6.ups6) != 1 || !p.bothUp() {
					t.Fatalf("seed %d: IPv6 up %d/%d, IPv4 up %v\n%s", seed, len(s6.ups6), len(c6.ups6), p.bothUp(), p.trace())
				}
				srv, cli := s6.ups6[0], c6.ups6[0]
				if srv.Peer != cli.Local || cli.Peer != srv.Local {
					t.Fatalf("seed %d: the ends disagree: server %+v, client %+v", seed, srv, cli)
				}
				if srv.Local.IsZero() || cli.Local.IsZero() || srv.Local == cli.Local {
					t.Fatalf("seed %d: identifiers %x and %x, want non-zero and different", seed, srv.Local, cli.Local)
				}
				if !tc.want.IsZero() && cli.Local != tc.want {
					t.Fatalf("seed %d: the subscriber's identifier %x, want RADIUS's %x", seed, cli.Local, tc.want)
				}
			}
		})
	}
}

// TestNCPsIndependent: an IPv6-only subscriber (IPCP refused) and an
// IPv4-only one (IPV6CP refused) each keep the session with the other
// protocol up (RFC 1661 section 3.7: the link closes when no network
// protocol is left).
func TestNCPsIndependent(t *testing.T) {
	t.Run("IPv6 only", func(t *testing.T) {
		p, s6, c6 := dualPair(t, 3, func(r *ppp.AuthResult) { r.IPv6, r.NoIPv4 = true, true },
			ppp.Config{Username: "alice", Password: "wonderland", IPv6: true})
		p.open()
		p.run(30*time.Second, func() bool { return len(c6.ups6) > 0 && p.client.IPCPState() == ppp.Stopped })
		if len(s6.ups6) != 1 || len(c6.ups6) != 1 {
			t.Fatalf("IPv6 up %d/%d\n%s", len(s6.ups6), len(c6.ups6), p.trace())
		}
		if len(p.sRec.ups) != 0 || len(p.cRec.ups) != 0 || p.client.IPCPState() != ppp.Stopped {
			t.Fatalf("IPCP: ups %d/%d, client state %v; want refused\n%s", len(p.sRec.ups), len(p.cRec.ups), p.client.IPCPState(), p.trace())
		}
		p.run(10*time.Second, nil)
		if len(p.sRec.downs)+len(p.cRec.downs) != 0 || p.server.State() != ppp.PhaseNetwork {
			t.Fatalf("the session ended with IPv6 up: %v %v\n%s", p.sRec.downs, p.cRec.downs, p.trace())
		}
	})
	t.Run("IPv4 only", func(t *testing.T) {
		p, s6, c6 := dualPair(t, 4, nil, ppp.Config{Username: "alice", Password: "wonderland", IPv6: true})
		p.open()
		p.run(30*time.Second, func() bool { return p.bothUp() && p.client.IPv6CPState() == ppp.Stopped })
		if !p.bothUp() || len(s6.ups6)+len(c6.ups6) != 0 || p.client.IPv6CPState() != ppp.Stopped {
			t.Fatalf("IPv4 up %v, IPv6 up %d/%d, client IPV6CP %v\n%s", p.bothUp(), len(s6.ups6), len(c6.ups6), p.client.IPv6CPState(), p.trace())
		}
		rejects := 0
		for _, f := range framesOf(p.sent[0], ppp.ProtoLCP) {
			if pk, err := ppp.ParsePacket(f); err == nil && pk.Code == ppp.ProtoRej && len(pk.Data) >= 2 && pk.Data[0] == 0x80 && pk.Data[1] == 0x57 {
				rejects++
			}
		}
		if rejects == 0 {
			t.Errorf("the server without IPv6 service sent no Protocol-Reject of IPV6CP\n%s", p.trace())
		}
		p.run(10*time.Second, nil)
		if len(p.sRec.downs)+len(p.cRec.downs) != 0 {
			t.Fatalf("the session ended with IPv4 up: %v %v", p.sRec.downs, p.cRec.downs)
		}
	})
}

// TestIPv6RejectedBySubscriber: a subscriber without IPv6 Protocol-Rejects
// the IPV6CP of a server that granted IPv6: the server's handler is told
// once (DownIPv6, so the LNS gives the prefixes back), IPv4 stays up, and
// the session lives on.
func TestIPv6RejectedBySubscriber(t *testing.T) {
	p, s6, _ := dualPair(t, 5, func(r *ppp.AuthResult) { r.IPv6 = true }, ppp.Config{Username: "alice", Password: "wonderland"})
	p.open()
	p.run(30*time.Second, func() bool { return p.bothUp() && s6.downs6 > 0 })
	if !p.bothUp() || s6.downs6 != 1 || len(s6.ups6) != 0 {
		t.Fatalf("IPv4 up %v, server IPv6 downs %d ups %d; want up, 1, 0\n%s", p.bothUp(), s6.downs6, len(s6.ups6), p.trace())
	}
	if st := p.server.IPv6CPState(); st != ppp.Stopped && st != ppp.Closed {
		t.Errorf("server IPV6CP %v, want finished", st)
	}
	p.run(10*time.Second, nil)
	if len(p.sRec.downs)+len(p.cRec.downs) != 0 || s6.downs6 != 1 {
		t.Fatalf("after: downs %v %v, IPv6 downs %d", p.sRec.downs, p.cRec.downs, s6.downs6)
	}
}

// TestIPV6CPServer feeds single IPV6CP Configure-Requests to a server in
// the Network phase and checks each answer against RFC 5072 section 4.1.
func TestIPV6CPServer(t *testing.T) {
	id := func(b ...byte) []byte { return append([]byte{1, 10}, b...) }
	zero := id(0, 0, 0, 0, 0, 0, 0, 0)
	peer := id(0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80)
	for _, tc := range []struct {
		name  string
		grant func(*ppp.AuthResult)
		opts  []byte
		want  ppp.Code
		check func(t *testing.T, data, ours []byte)
	}{
		{"a unique identifier is acked", nil, peer, ppp.ConfAck, func(t *testing.T, d, _ []byte) {
			if !cmp.Equal(d, peer) {
				t.Errorf("acked %x", d)
			}
		}},
		{"zero is Nak'd with a non-zero local-scope suggestion", nil, zero, ppp.ConfNak, func(t *testing.T, d, ours []byte) {
			if len(d) != 10 || d[0] != 1 || d[1] != 10 || cmp.Equal(d, zero) || cmp.Equal(d[2:], ours) || d[2]&0x02 != 0 {
				t.Errorf("suggestion %x (ours %x): want non-zero, not ours, u bit 0", d, ours)
			}
		}},
		{"our own is Nak'd", nil, nil, ppp.ConfNak, func(t *testing.T, d, ours []byte) {
			if len(d) != 10 || cmp.Equal(d[2:], ours) {
				t.Errorf("suggestion %x, ours %x", d, ours)
			}
		}},
		{"RADIUS's identifier is required", func(r *ppp.AuthResult) { r.InterfaceID = radiusIID }, peer, ppp.ConfNak, func(t *testing.T, d, _ []byte) {
			if !cmp.Equal(d, id(radiusIID[:]...)) {
				t.Errorf("Nak %x, want RADIUS's %x", d, radiusIID)
			}
		}},
		{"two identifiers: the second rejected", nil, append(append([]byte{}, peer...), peer...), ppp.ConfRej, func(t *testing.T, d, _ []byte) {
			if !cmp.Equal(d, peer) {
				t.Errorf("rejected %x", d)
			}
		}},
		{"a bad length and an unknown option rejected", nil, []byte{1, 6, 1, 2, 3, 4, 2, 4, 0, 0}, ppp.ConfRej, func(t *testing.T, d, _ []byte) {
			if !cmp.Equal(d, []byte{1, 6, 1, 2, 3, 4, 2, 4, 0, 0}) {
				t.Errorf("rejected %x", d)
			}
		}},
		{"no identifier: Nak'd with one, once", nil, []byte{}, ppp.ConfNak, func(t *testing.T, d, _ []byte) {
			if len(d) != 10 || d[0] != 1 {
				t.Errorf("Nak %x", d)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newSingle(ppp.Config{Auth: []ppp.AuthProto{ppp.AuthPAP}})
			x.auth.grant = func(r *ppp.AuthResult) {
				r.IPv6 = true
				if tc.grant != nil {
					tc.grant(r)
				}
			}
			ours := ipv6Up(t, x)
			opts := tc.opts
			if opts == nil {
				opts = id(ours...)
			}
			x.s.Input(frame(ppp.ProtoIPv6CP, ppp.ConfReq, 9, opts...), x.now)
			got := reply(t, x.take(), ppp.ProtoIPv6CP)
			if got.Code != tc.want || got.ID != 9 {
				t.Fatalf("reply %v id %d, want %v", got.Code, got.ID, tc.want)
			}
			tc.check(t, got.Data, ours)
			if len(opts) == 0 {
				// Section 4.1: a peer that leaves the option out again
				// does not implement it: acked, not Nak'd again.
				x.s.Input(frame(ppp.ProtoIPv6CP, ppp.ConfReq, 10), x.now)
				if again := reply(t, x.take(), ppp.ProtoIPv6CP); again.Code != ppp.ConfAck {
					t.Errorf("second request without the option: %v, want Configure-Ack", again.Code)
				}
			}
		})
	}
}

// ipv6Up brings a server with IPv6 service to the Network phase and
// returns the interface identifier of its IPV6CP Configure-Request.
func ipv6Up(t *testing.T, x *single) []byte {
	t.Helper()
	x.s.Open(x.now)
	req := reply(t, x.take(), ppp.ProtoLCP)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfAck, req.ID, req.Data...), x.now)
	x.s.Input(frame(ppp.ProtoLCP, ppp.ConfReq, 1, 5, 6, 9, 9, 9, 9), x.now)
	x.take()
	pap, _ := ppp.PAPPacket{Code: ppp.PAPRequest, ID: 1, PeerID: []byte("bob"), Password: []byte("builder")}.Append(ppp.AppendProtocol(nil, ppp.ProtoPAP))
	x.s.Input(pap, x.now)
	x.auth.flush(x.now)
	var ours []byte
	for _, f := range x.take() {
		if proto, info, _ := ppp.ParseProtocol(f); proto == ppp.ProtoIPv6CP {
			pk, _ := ppp.ParsePacket(info)
			// Golden layout, RFC 5072 section 4.1: type 1, length 10.
			if pk.Code != ppp.ConfReq || len(pk.Data) != 10 || pk.Data[0] != 1 || pk.Data[1] != 10 {
				t.Fatalf("IPV6CP Configure-Request %v %x", pk.Code, pk.Data)
			}
			ours = pk.Data[2:]
		}
	}
	if ours == nil {
		t.Fatal("no IPV6CP Configure-Request in the Network phase")
	}
	if ours[0]&0x02 != 0 || cmp.Equal(ours, make([]byte, 8)) {
		t.Errorf("our identifier %x: want non-zero with the u bit 0", ours)
	}
	return ours
}
