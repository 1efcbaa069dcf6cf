package pppoe

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/ppp/ppptest"
	"golang.org/x/sync/errgroup"
)

// labAuth checks user<N>/pw<N> by PAP or CHAP-MD5 and assigns 100.64.0.0/16
// addresses.
type labAuth struct{}

func (labAuth) Authenticate(s *ppp.Session, req ppp.AuthRequest) {
	n, err := strconv.Atoi(req.Username[len("user"):])
	secret := []byte("pw" + req.Username[len("user"):])
	ok := err == nil
	switch req.Proto {
	case ppp.AuthPAP:
		ok = ok && bytes.Equal(req.Password, secret)
	case ppp.AuthCHAPMD5:
		h := md5.New()
		h.Write([]byte{req.ChapID})
		h.Write(secret)
		h.Write(req.Challenge)
		ok = ok && bytes.Equal(h.Sum(nil), req.Response)
	default:
		ok = false
	}
	ip := netip.AddrFrom4([4]byte{100, 64, byte(n >> 8), byte(n)})
	s.AuthResult(ppp.AuthResult{OK: ok, IP: ip, DNS1: netip.MustParseAddr("192.0.2.53")}, time.Now())
}

// acPPP terminates PPP on the AC's PPPoE sessions: PAP for even client
// MACs, CHAP-MD5 for odd ones; IPv4 frames are echoed once PPP is up.
type acPPP struct {
	d  *ppptest.Driver
	mu sync.Mutex
	up map[uint16]*Session // PPPoE session ID → session, once IPCP is up
	pp map[*Session]*ppp.Session
	// auth counts the sessions authenticated per protocol.
	auth map[ppp.AuthProto]int
}

func (a *acPPP) SessionUp(s *Session) {
	proto := ppp.AuthPAP
	if s.ClientMAC[5]%2 == 1 {
		proto = ppp.AuthCHAPMD5
	}
	ps := ppp.NewSession(s, ppp.Config{
		Role: ppp.Server, MRU: uint16(s.MaxPayload), RejectACCMPFCACFC: true,
		Auth: []ppp.AuthProto{proto}, Authenticator: labAuth{},
		LocalIP: netip.MustParseAddr("100.64.255.254"),
		Handler: acUp{a, s, proto},
	})
	s.Owner = ps
	a.d.Do(func(now time.Time) {
		a.d.Track(ps)
		ps.Open(now)
	})
}

type acUp struct {
	a     *acPPP
	s     *Session
	proto ppp.AuthProto
}

func (u acUp) Up(_ *ppp.Session, _ ppp.NetworkInfo) {
	u.a.mu.Lock()
	u.a.up[u.s.ID] = u.s
	u.a.auth[u.proto]++
	u.a.mu.Unlock()
}
func (u acUp) Down(*ppp.Session, ppp.Reason) {}

func (a *acPPP) SessionDown(s *Session, _ DownReason) {
	ps := s.Owner.(*ppp.Session)
	a.d.Do(func(time.Time) { a.d.Forget(ps) })
	a.mu.Lock()
	delete(a.up, s.ID)
	a.mu.Unlock()
}

func (a *acPPP) SessionData(s *Session, payload []byte) {
	ps := s.Owner.(*ppp.Session)
	if ppptest.IsControl(payload) {
		frame := append([]byte(nil), payload...)
		a.d.Do(func(now time.Time) { ps.Input(frame, now) })
		return
	}
	a.mu.Lock()
	up := a.up[s.ID] != nil
	a.mu.Unlock()
	if up && len(payload) > 2 && payload[0] == 0x00 && payload[1] == 0x21 {
		_ = s.Send(payload) // the data plane: echo the IPv4 packet
	}
}

// subscriber is one emulated subscriber: a PPPoE client session carrying
// a PPP client session.
type subscriber struct {
	cs   *ClientSession
	ps   *ppp.Session
	up   chan ppp.NetworkInfo
	data chan []byte
}

func (s *subscriber) Up(_ *ppp.Session, n ppp.NetworkInfo) { s.up <- n }
func (s *subscriber) Down(*ppp.Session, ppp.Reason)        {}

func TestNetnsPPPSessions(t *testing.T) {
	const n = 100
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	acd, subd := ppptest.NewDriver(ctx, 4096), ppptest.NewDriver(ctx, 4096)
	ac := &acPPP{d: acd, up: map[uint16]*Session{}, pp: map[*Session]*ppp.Session{}, auth: map[ppp.AuthProto]int{}}
	l := newLab(t, ServerConfig{}, ac)

	subs := make([]*subscriber, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(25)
	for i := range n {
		sub := &subscriber{up: make(chan ppp.NetworkInfo, 1), data: make(chan []byte, 4)}
		subs[i] = sub
		g.Go(func() error {
			cs, err := l.cli.Dial(gctx, subMAC(i), DialOptions{Timeout: 300 * time.Millisecond})
			if err != nil {
				return fmt.Errorf("subscriber %d: %w", i, err)
			}
			sub.cs = cs
			sub.ps = ppp.NewSession(cs, ppp.Config{
				Role: ppp.Client, MRU: uint16(cs.MaxPayload), RejectACCMPFCACFC: true,
				Username: fmt.Sprintf("user%d", i), Password: fmt.Sprintf("pw%d", i),
				Handler: sub,
			})
			subd.Do(func(now time.Time) {
				subd.Track(sub.ps)
				sub.ps.Open(now)
			})
			cs.SetReceive(func(p []byte) {
				frame := append([]byte(nil), p...)
				if ppptest.IsControl(frame) {
					subd.Do(func(now time.Time) { sub.ps.Input(frame, now) })
					return
				}
				select {
				case sub.data <- frame:
				default:
				}
			})
			select {
			case info := <-sub.up:
				want := netip.AddrFrom4([4]byte{100, 64, 0, byte(i)})
				if info.Local != want {
					return fmt.Errorf("subscriber %d: IPCP gave %v, want %v", i, info.Local, want)
				}
			case <-gctx.Done():
				return fmt.Errorf("subscriber %d: PPP not up: %w", i, gctx.Err())
			}
			// An IP packet from the assigned address, and its echo. The
			// AC's IPCP may open a moment after ours: resend until then.
			pkt := ipv4Frame(i)
			copy(pkt[14:18], []byte{100, 64, 0, byte(i)})
			deadline := time.After(5 * time.Second)
			for {
				if err := cs.Send(pkt); err != nil {
					return err
				}
				select {
				case got := <-sub.data:
					if !bytes.Equal(got, pkt) {
						return fmt.Errorf("subscriber %d: echo %x, want %x", i, got, pkt)
					}
					return nil
				case <-time.After(100 * time.Millisecond):
				case <-deadline:
					return fmt.Errorf("subscriber %d: no IP echo", i)
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	ac.mu.Lock()
	nup, pap, chap := len(ac.up), ac.auth[ppp.AuthPAP], ac.auth[ppp.AuthCHAPMD5]
	ac.mu.Unlock()
	if nup != n || pap != n/2 || chap != n/2 {
		t.Errorf("AC: %d sessions up, %d by PAP, %d by CHAP; want %d, %d, %d", nup, pap, chap, n, n/2, n/2)
	}

	// Tear down with PADT: even subscribers hang up, the AC ends odd ones.
	for i, sub := range subs {
		if i%2 == 0 {
			if err := sub.cs.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ac.mu.Lock()
		s := ac.up[sub.cs.ID]
		ac.mu.Unlock()
		l.srv.Close(s, "administrative disconnect")
	}
	for i, sub := range subs {
		select {
		case <-sub.cs.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("subscriber %d still up", i)
		}
		if i%2 == 1 && !errors.Is(sub.cs.Err(), ErrPADT) {
			t.Errorf("subscriber %d ended with %v, want ErrPADT", i, sub.cs.Err())
		}
	}
	waitFor(t, "the AC's sessions to end", func() bool { return l.srv.NumSessions() == 0 })
	if st := l.srv.Stats(); st.Malformed != 0 || st.PADTReceived != n/2 || st.PADTSent != n/2 {
		t.Errorf("AC stats: %+v", st)
	}
}
