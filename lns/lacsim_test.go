package lns_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// simLAC plays an LAC for the LNS tests: the l2tp package places the calls
// and the ppp package plays each subscriber's PPP client, all driven by one
// goroutine (ppp sessions have no goroutine or lock of their own).
type simLAC struct {
	t   testing.TB
	ep  *l2tp.Endpoint
	tun *l2tp.Tunnel
	in  chan simInput
}

type simInput struct {
	sub   *simSub
	frame []byte        // nil: start PPP
	call  *l2tp.Session // with a nil frame: the call that came up
	close bool          // LCP Terminate-Request from the subscriber
	// cdn, with close: the LAC's CDN right after the Terminate-Request
	// (the subscriber's PADT did not wait for the Terminate-Ack).
	cdn *l2tp.ResultCode
}

// simSub is one emulated subscriber.
type simSub struct {
	lac *simLAC
	// call is the subscriber's L2TP session for the test's goroutine;
	// the driving goroutine has it from the session's up event (active),
	// since the call may come up before PlaceCall has returned.
	call     *l2tp.Session
	active   atomic.Pointer[l2tp.Session]
	ppp      *ppp.Session
	user     string
	password string
	proxy    []l2tp.AVP // ICCN proxy AVPs
	icrq     []l2tp.AVP // more ICRQ AVPs (access line vendor AVPs)
	manual   bool       // the LNS takes the proxy: PPP starts at IPCP, answered by hand
	auth     []ppp.AuthProto

	up   chan ppp.NetworkInfo
	down chan ppp.Reason
	cdn  chan l2tp.ResultCode
	ip   chan []byte // IPv4 packets from the LNS

	// manual IPCP for the proxy case
	ipcpAddr netip.Addr
	// deaf drops everything from the LNS: a subscriber that vanished.
	deaf atomic.Bool
	// raw, when set, gets every PPP frame from the LNS: the test itself
	// speaks PPP for the subscriber.
	raw chan []byte

	// ipv6 runs IPV6CP next to IPCP (a dual-stack subscriber): up6 gets
	// its outcome, ip6 the IPv6 packets from the LNS.
	ipv6 bool
	up6  chan ppp.IPv6Info
	ip6  chan []byte
}

func (s *simSub) Send(frame []byte) error {
	b := append([]byte{0xff, 0x03}, frame...)
	c := s.active.Load()
	if c == nil {
		return errors.New("the call is not up yet")
	}
	return s.lac.tun.SendData(c, b)
}

func (s *simSub) Up(_ *ppp.Session, n ppp.NetworkInfo)  { s.up <- n }
func (s *simSub) UpIPv6(_ *ppp.Session, n ppp.IPv6Info) { s.up6 <- n }
func (s *simSub) Down(_ *ppp.Session, r ppp.Reason)     { s.down <- r }

type simEvents struct {
	l2tp.NopHandler
	lac *simLAC
}

// The events find their subscriber by the call's Value, set before the
// ICRQ went out: a call may come up before PlaceCall has returned.
func (h simEvents) SessionUp(c *l2tp.Session, _ *l2tp.Message) {
	if sub, ok := c.Value().(*simSub); ok {
		h.lac.in <- simInput{sub: sub, call: c}
	}
}

func (h simEvents) SessionDown(c *l2tp.Session, rc l2tp.ResultCode) {
	if sub, ok := c.Value().(*simSub); ok {
		select {
		case sub.cdn <- rc:
		default:
		}
	}
}

// startSimLAC opens a tunnel from namespace ns to the LNS at lns with secret.
func startSimLAC(t testing.TB, ctx context.Context, ns *testenv.Netns, hostName string, lns netip.AddrPort, secret string) *simLAC {
	t.Helper()
	l := &simLAC{t: t, in: make(chan simInput, 1024)}
	var conn *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ep, err := l2tp.NewEndpoint(conn, l2tp.Config{
		HostName: hostName,
		Handler:  simEvents{lac: l},
		Data: func(_ *l2tp.Tunnel, c *l2tp.Session, _ l2tp.Header, payload []byte) {
			sub, ok := c.Value().(*simSub)
			if !ok {
				return
			}
			if sub.deaf.Load() {
				return
			}
			p := ppp.StripAddressControl(payload)
			proto, _, err := ppp.ParseProtocol(p)
			if err != nil {
				return
			}
			frame := append([]byte(nil), p...)
			if proto == ppp.ProtoIPv4 {
				select {
				case sub.ip <- frame[2:]:
				default:
				}
				return
			}
			if proto == ppp.ProtoIPv6 {
				select {
				case sub.ip6 <- frame[2:]:
				default:
				}
				return
			}
			l.in <- simInput{sub: sub, frame: frame}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	l.ep = ep
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { ep.Run(runCtx); close(done) }()
	go l.drive(runCtx)
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	defer dcancel()
	for {
		l.tun, err = ep.Dial(dctx, lns, l2tp.TunnelOptions{Secret: []byte(secret), HelloInterval: 5 * time.Second})
		if !errors.Is(err, l2tp.ErrNotRunning) || dctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("tunnel to the LNS: %v", err)
	}
	return l
}

// dialAuth places a call for a subscriber whose PPP client accepts only
// the given authentication protocol.
func (l *simLAC) dialAuth(user, password, calling string, auth ppp.AuthProto) *simSub {
	return l.place(&simSub{user: user, password: password, auth: []ppp.AuthProto{auth}}, calling)
}

// dial places a call with proxy AVPs in the ICCN; manual says the LNS is
// expected to take them, so the subscriber side starts at IPCP.
func (l *simLAC) dial(user, password, calling string, proxy []l2tp.AVP, manual bool) *simSub {
	return l.place(&simSub{user: user, password: password, proxy: proxy, manual: manual}, calling)
}

// place places a call for one subscriber; PPP starts when the call is up.
func (l *simLAC) place(sub *simSub, calling string) *simSub {
	proxy := sub.proxy
	sub.lac = l
	*sub = simSub{lac: l, user: sub.user, password: sub.password, proxy: proxy, manual: sub.manual, auth: sub.auth, raw: sub.raw, icrq: sub.icrq,
		ipv6: sub.ipv6, up: make(chan ppp.NetworkInfo, 4), down: make(chan ppp.Reason, 4),
		cdn: make(chan l2tp.ResultCode, 4), ip: make(chan []byte, 4096),
		up6: make(chan ppp.IPv6Info, 4), ip6: make(chan []byte, 4096)}
	icrq := []l2tp.AVP{
		l2tp.NewAVPString(l2tp.AVPCallingNumber, calling),
		l2tp.NewAVPString(l2tp.AVPCalledNumber, "internet"),
		l2tp.NewAVPUint32(l2tp.AVPBearerType, 0),
	}
	icrq = append(icrq, sub.icrq...)
	iccn := append([]l2tp.AVP{}, proxy...)
	call, err := l.tun.PlaceCall(l2tp.CallRequest{ICRQ: icrq, ICCN: iccn, Value: sub})
	if err != nil {
		l.t.Fatalf("PlaceCall: %v", err)
	}
	sub.call = call
	return sub
}

func (l *simLAC) drive(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var all []*simSub
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-l.in:
			now := time.Now()
			s := in.sub
			if in.close {
				if s.ppp != nil {
					s.ppp.Close("subscriber hangs up", now)
				}
				if in.cdn != nil {
					s.active.Load().Disconnect(*in.cdn)
				}
				continue
			}
			if in.frame == nil {
				if s.ppp != nil {
					continue
				}
				s.active.Store(in.call)
				if s.manual {
					s.startManualIPCP()
					continue
				}
				s.ppp = ppp.NewSession(s, ppp.Config{Role: ppp.Client, Username: s.user, Password: s.password, Auth: s.auth, MRU: 1460, IPv6: s.ipv6, Handler: s})
				all = append(all, s)
				s.ppp.Open(now)
				continue
			}
			if s.ppp == nil {
				s.manualInput(in.frame)
				continue
			}
			s.ppp.Input(in.frame, now)
		case now := <-tick.C:
			for _, s := range all {
				if d := s.ppp.NextDeadline(); !d.IsZero() && !now.Before(d) {
					s.ppp.Tick(now)
				}
			}
		}
	}
}

// The proxy case: LCP and authentication were done by the (simulated) LAC,
// so the subscriber side starts at IPCP (RFC 1332), answered by hand.
func (s *simSub) startManualIPCP() {
	if s.raw != nil {
		return
	}
	s.sendIPCP(ppp.ConfReq, 1, netip.IPv4Unspecified())
}

func (s *simSub) sendIPCP(code ppp.Code, id uint8, addr netip.Addr) {
	a := addr.As4()
	opts := []byte{3, 6, a[0], a[1], a[2], a[3]}
	p, _ := ppp.Packet{Code: code, ID: id, Data: opts}.Append(nil)
	frame := binary.BigEndian.AppendUint16(nil, uint16(ppp.ProtoIPCP))
	s.Send(append(frame, p...))
}

func (s *simSub) manualInput(frame []byte) {
	if s.raw != nil {
		s.raw <- frame
		return
	}
	proto, info, err := ppp.ParseProtocol(frame)
	if err != nil {
		return
	}
	p, err := ppp.ParsePacket(info)
	if err != nil {
		return
	}
	switch proto {
	case ppp.ProtoLCP:
		switch p.Code {
		case ppp.EchoReq:
			r, _ := ppp.Packet{Code: ppp.EchoReply, ID: p.ID, Data: append([]byte{0, 0, 0, 0}, p.Data[min(4, len(p.Data)):]...)}.Append(nil)
			s.Send(append([]byte{0xc0, 0x21}, r...))
		case ppp.TermReq:
			r, _ := ppp.Packet{Code: ppp.TermAck, ID: p.ID}.Append(nil)
			s.Send(append([]byte{0xc0, 0x21}, r...))
			s.down <- ppp.ReasonPeerTerminate
		}
	case ppp.ProtoIPCP:
		switch p.Code {
		case ppp.ConfReq: // the LNS's own address: accept it, and ask for ours
			r, _ := ppp.Packet{Code: ppp.ConfAck, ID: p.ID, Data: p.Data}.Append(nil)
			s.Send(append([]byte{0x80, 0x21}, r...))
			if !s.ipcpAddr.IsValid() {
				s.sendIPCP(ppp.ConfReq, 1, netip.IPv4Unspecified())
			}
		case ppp.ConfNak: // our address
			if len(p.Data) >= 6 && p.Data[0] == 3 {
				s.ipcpAddr = netip.AddrFrom4([4]byte(p.Data[2:6]))
				s.sendIPCP(ppp.ConfReq, p.ID+1, s.ipcpAddr)
			}
		case ppp.ConfAck:
			if s.ipcpAddr.IsValid() {
				s.up <- ppp.NetworkInfo{Local: s.ipcpAddr}
			}
		}
	}
}

// udp4 builds an IPv4/UDP packet (RFC 791, RFC 768; UDP checksum 0).
func udp4(src, dst netip.AddrPort, payload []byte) []byte {
	b := make([]byte, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8] = 64
	b[9] = 17
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(b[12:16], s4[:])
	copy(b[16:20], d4[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(b[20:], src.Port())
	binary.BigEndian.PutUint16(b[22:], dst.Port())
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

// sendIP sends an IPv4 packet as the subscriber.
func (s *simSub) sendIP(pkt []byte) error {
	return s.Send(append([]byte{0x00, 0x21}, pkt...))
}
