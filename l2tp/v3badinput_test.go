package l2tp

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp/l2tptest"
)

// v3Scripted is a hand-driven L2TPv3 LCCE: the test writes each control
// message with the Ns and Nr it chooses, signed (or not) with HMAC-MD5
// and the nonces as RFC 3931 section 5.4.1 says, and reads and verifies
// what the Endpoint under test answers.
type v3Scripted struct {
	t         *testing.T
	conn      *l2tptest.Conn
	to        net.Addr
	ns, nr    uint16
	cid       uint32 // the Endpoint's Control Connection ID
	key       AuthKey
	sign      bool
	nonce     []byte // ours
	peerNonce []byte // the Endpoint's, from its SCCRP
}

// packet encodes m (nil: ZLB) for Control Connection ID cid, signed when
// the peer signs; corrupt flips a bit of the digest.
func (p *v3Scripted) packet(cid uint32, ns, nr uint16, m *Message, corrupt bool) []byte {
	p.t.Helper()
	var mm *Message
	if m != nil {
		c := *m
		if p.sign {
			c.AVPs = append([]AVP{MessageDigest{Type: DigestHMACMD5}.AVP()}, m.AVPs...)
		}
		mm = &c
	}
	b, err := AppendV3Control(nil, EncapUDP, V3ControlHeader{ConnID: cid, Ns: ns, Nr: nr}, mm, AppendOptions{})
	if err != nil {
		p.t.Fatal(err)
	}
	if p.sign && m != nil {
		if err := SignMessage(b, p.nonce, p.peerNonce, p.key); err != nil {
			p.t.Fatal(err)
		}
		if corrupt {
			b[V3ControlHeaderLen+8+avpHeaderLen+1] ^= 1 // first octet of the digest
		}
	}
	return b
}

func (p *v3Scripted) write(b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteTo(b, p.to); err != nil {
		p.t.Fatal(err)
	}
}

// send writes the next message in sequence.
func (p *v3Scripted) send(m *Message) {
	p.t.Helper()
	p.write(p.packet(p.cid, p.ns, p.nr, m, false))
	if m != nil {
		p.ns++
	}
}

type v3Rx struct {
	h V3ControlHeader
	m *Message // nil: ZLB; Type MsgACK: an ACK
}

// recv reads the next control message and checks its digest.
func (p *v3Scripted) recv() v3Rx {
	p.t.Helper()
	buf := make([]byte, 4096)
	for {
		p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			p.t.Fatalf("no answer: %v", err)
		}
		b := buf[:n]
		if v, control, _ := HeaderVersion(b); v != Version3 || !control {
			continue // data
		}
		h, m, err := ParseV3Control(b, EncapUDP, nil)
		if err != nil {
			p.t.Fatalf("undecodable control message: %v", err)
		}
		if m != nil && m.Type == MsgSCCRP && p.peerNonce == nil {
			if a, ok := m.Find(AVPNonce); ok {
				p.peerNonce = append([]byte(nil), a.Value...)
			}
		}
		if p.sign {
			if err := VerifyMessage(b, p.nonce, p.peerNonce, p.key); err != nil {
				p.t.Fatalf("%v from the endpoint: %v", m, err)
			}
		}
		if m != nil && m.Type != MsgACK && h.Ns == p.nr {
			p.nr++
		}
		return v3Rx{h, m}
	}
}

// recvMsg reads until a message other than an ACK or ZLB arrives.
func (p *v3Scripted) recvMsg() v3Rx {
	p.t.Helper()
	for {
		if r := p.recv(); r.m != nil && r.m.Type != MsgACK {
			return r
		}
	}
}

// quiet asserts nothing but acknowledgements arrives for d, and returns
// the last Nr they carried (0 if none came).
func (p *v3Scripted) quiet(d time.Duration) (lastNr uint16, acks int) {
	p.t.Helper()
	buf := make([]byte, 4096)
	p.conn.SetReadDeadline(time.Now().Add(d))
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return lastNr, acks
		}
		h, m, _ := ParseV3Control(buf[:n], EncapUDP, nil)
		if m != nil && m.Type != MsgACK {
			p.t.Fatalf("unexpected %v", m.Type)
		}
		lastNr, acks = h.Nr, acks+1
	}
}

func v3SCCRQ(cid uint32, nonce []byte) *Message {
	m := &Message{Type: MsgSCCRQ, AVPs: []AVP{
		NewV3AVPString(AVPHostName, "scripted-lcce"),
		NewV3AVPUint32(AVPRouterID, 0x0a000001),
		NewV3AVPUint32(AVPAssignedConnID, cid),
		PWCapabilities{PWPPP}.AVP(),
		NewV3AVPUint16(AVPReceiveWindowSize, 8),
	}}
	if nonce != nil {
		m.Add(NewV3AVP(AVPNonce, nonce))
	}
	return m
}

// v3LNS runs an accepting Endpoint with opts (Version 3 is the header's)
// on a pipe and returns a scripted peer facing it.
func v3LNS(t *testing.T, opts TunnelOptions, sign bool) (*v3Scripted, *Endpoint, *recorder) {
	t.Helper()
	a, b := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	t.Cleanup(func() { a.Close(); b.Close() }) // after the endpoint stopped
	rec := newRecorder("lns")
	lns := startEndpoint(t, b, Config{HostName: "lns1", Handler: rec, ShutdownTimeout: 100 * time.Millisecond, Accept: acceptAll(opts),
		Data: func(*Tunnel, *Session, Header, []byte) {}})
	p := &v3Scripted{t: t, conn: a, to: net.UDPAddrFromAddrPort(lnsAddr), sign: sign}
	if sign {
		p.key = NewAuthKey(opts.Secret)
		p.nonce = []byte("scripted-nonce-0123456789")
	}
	return p, lns, rec
}

// startEndpoint runs an Endpoint on conn with cfg until the test ends.
func startEndpoint(t *testing.T, conn net.PacketConn, cfg Config) *Endpoint {
	t.Helper()
	e, err := NewEndpoint(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 5*time.Second, "running", e.running.Load)
	return e
}

func v3Opts(secret string) TunnelOptions {
	return TunnelOptions{Secret: []byte(secret), HelloInterval: -1, RetransmitInitial: 200 * time.Millisecond,
		RetransmitCap: 400 * time.Millisecond, AckDelay: 20 * time.Millisecond, CookieLen: 4}
}

// establish opens the scripted peer's control connection 77.
func (p *v3Scripted) establish(rec *recorder) {
	p.t.Helper()
	p.send(v3SCCRQ(77, p.nonce))
	r := p.recvMsg()
	if r.m.Type != MsgSCCRP || r.h.ConnID != 77 {
		p.t.Fatalf("answer to SCCRQ: %v to connection %d, want SCCRP to 77", r.m.Type, r.h.ConnID)
	}
	p.cid, _ = assignedID(r.m, true)
	p.send(&Message{Type: MsgSCCCN})
	waitFor(p.t, 5*time.Second, "tunnel up", func() bool { return rec.tunnelsUp.Load() == 1 })
}

// TestV3BadDigest: RFC 3931 section 5.4.1, a message whose digest does not
// match is dropped before anything in it is used: not acknowledged,
// counted, the connection lives on. An SCCRQ with a bad digest makes no
// tunnel and gets no answer; one without the nonce of authentication, to an
// endpoint that authenticates, is refused with StopCCN result 4.
func TestV3BadDigest(t *testing.T) {
	checkGoroutines(t)
	p, lns, rec := v3LNS(t, v3Opts("k3"), true)
	st := lns.Stats()

	// A forged SCCRQ: no tunnel, no answer.
	p.write(p.packet(0, 0, 0, v3SCCRQ(76, p.nonce), true))
	if _, acks := p.quiet(100 * time.Millisecond); acks != 0 {
		t.Fatalf("%d answers to an SCCRQ with a bad digest, want none", acks)
	}
	if st.DigestFailures.Load() != 1 || st.AuthFailures.Load() != 1 || len(lns.Tunnels()) != 0 {
		t.Fatalf("DigestFailures %d AuthFailures %d tunnels %d, want 1, 1, 0", st.DigestFailures.Load(), st.AuthFailures.Load(), len(lns.Tunnels()))
	}

	p.establish(rec)
	// A HELLO with a bad digest is dropped unacknowledged; the next
	// message with that Ns, well signed, is delivered and acknowledged.
	p.write(p.packet(p.cid, p.ns, p.nr, &Message{Type: MsgHELLO}, true))
	if nr, _ := p.quiet(150 * time.Millisecond); nr > p.ns { // the SCCCN's ACK may come, with Nr p.ns
		t.Fatalf("the HELLO with a bad digest was acknowledged (Nr %d)", nr)
	}
	if st.DigestFailures.Load() != 2 {
		t.Fatalf("DigestFailures %d, want 2", st.DigestFailures.Load())
	}
	// A ZLB cannot be authenticated (section 6.15): dropped too.
	p.write(p.packet(p.cid, p.ns, p.nr, nil, false))
	waitFor(t, 5*time.Second, "ZLB dropped", func() bool { return st.DigestFailures.Load() == 3 })
	p.send(&Message{Type: MsgHELLO})
	if r := p.recv(); r.m == nil || r.m.Type != MsgACK || r.h.Nr != p.ns {
		t.Fatalf("answer to a good HELLO: %+v, want an ACK with Nr %d", r, p.ns)
	}
	if rec.tunnelsDown.Load() != 0 || lns.Tunnels()[0].State() != CtrlEstablished {
		t.Fatal("the tunnel did not survive a bad digest")
	}

	// Without the nonce, to an endpoint that authenticates: StopCCN 4,
	// unsigned so that the peer can read it.
	q, lns2, _ := v3LNS(t, v3Opts("k3"), false)
	q.send(v3SCCRQ(78, nil))
	r := q.recvMsg()
	if r.m.Type != MsgStopCCN || r.h.ConnID != 78 {
		t.Fatalf("answer to an unauthenticated SCCRQ: %v to %d, want StopCCN to 78", r.m.Type, r.h.ConnID)
	}
	if rc := resultAVP(t, r.m); rc.Result != uint16(StopCCNNotAuthorized) {
		t.Errorf("StopCCN result %+v, want 4", rc)
	}
	if _, signed := r.m.Find(AVPMessageDigest); signed || lns2.Stats().AuthFailures.Load() != 1 {
		t.Errorf("StopCCN signed %v, AuthFailures %d; want unsigned and 1", signed, lns2.Stats().AuthFailures.Load())
	}
	// And an authenticating peer meets an endpoint without a secret.
	u, lns3, _ := v3LNS(t, v3Opts(""), true)
	u.key = NewAuthKey([]byte("k3"))
	u.send(v3SCCRQ(79, u.nonce))
	u.sign = false // the refusal is not signed
	if r := u.recvMsg(); r.m.Type != MsgStopCCN || resultAVP(t, r.m).Result != uint16(StopCCNNotAuthorized) {
		t.Fatalf("answer to an authenticating SCCRQ without a secret: %v %+v, want StopCCN 4", r.m.Type, r.m)
	}
	if lns3.Stats().AuthFailures.Load() != 1 {
		t.Errorf("AuthFailures %d, want 1", lns3.Stats().AuthFailures.Load())
	}
}

// icrqV3 is an ICRQ for a PPP pseudowire from session psid.
func icrqV3(psid uint32, pw PWType, extra ...AVP) *Message {
	return &Message{Type: MsgICRQ, AVPs: append([]AVP{
		NewV3AVPUint32(AVPLocalSessionID, psid), NewV3AVPUint32(AVPRemoteSessionID, 0),
		NewV3AVPUint32(AVPSerialNumber, psid), pw.AVP(), NewV3AVPString(AVPRemoteEndID, ""),
		CircuitStatus{Active: true, New: true}.AVP(),
	}, extra...)}
}

// TestV3BadCalls: the calls of an L2TPv3 connection refused the RFC's way
// (sections 5.4.2, 5.4.4), each with its counter and its answer on the
// wire, the connection and its good session untouched: an unknown
// pseudowire type (CDN 14), sequencing without a sublayer (CDN 15), a
// Session ID of 0 (only acknowledged: there is no session to answer), data
// with a wrong cookie or Session ID 0 (dropped silently), and an L2TPv2
// message for the connection (dropped).
func TestV3BadCalls(t *testing.T) {
	checkGoroutines(t)
	p, lns, rec := v3LNS(t, v3Opts("k3"), true)
	st := lns.Stats()
	p.establish(rec)

	// A good PPP call, cookie 4 octets each way.
	p.send(icrqV3(5, PWPPP, Cookie{Len: 4, Value: 0xdeadbeef}.AVP()))
	r := p.recvMsg()
	if r.m.Type != MsgICRP {
		t.Fatalf("answer to ICRQ: %v", r.m.Type)
	}
	lsid, _ := (func() (uint32, bool) { a, ok := r.m.Find(AVPLocalSessionID); v, _ := a.Uint32(); return v, ok })()
	ca, _ := r.m.Find(AVPAssignedCookie)
	cookie, err := ParseCookie(ca.Value)
	if err != nil || cookie.Len != 4 {
		t.Fatalf("ICRP cookie %+v %v, want 4 octets", cookie, err)
	}
	p.send(&Message{Type: MsgICCN, AVPs: []AVP{NewV3AVPUint32(AVPLocalSessionID, 5), NewV3AVPUint32(AVPRemoteSessionID, lsid)}})
	waitFor(t, 5*time.Second, "session up", func() bool { return rec.sessionsUp.Load() == 1 })

	// Unknown pseudowire type: CDN result 14 to our session.
	p.send(icrqV3(6, PWType(0x0099)))
	r = p.recvMsg()
	if rid, _ := r.m.Find(AVPRemoteSessionID); r.m.Type != MsgCDN || string(rid.Value) != "\x00\x00\x00\x06" {
		t.Fatalf("answer to an unknown pseudowire type: %v %+v, want CDN to session 6", r.m.Type, r.m)
	}
	if rc := resultAVP(t, r.m); rc.Result != uint16(CDNUnsupportedPWType) {
		t.Errorf("CDN result %+v, want 14", rc)
	}
	// Sequencing without a sublayer: CDN result 15.
	p.send(icrqV3(7, PWPPP, SublayerNone.AVP(), SequenceAll.AVP()))
	r = p.recvMsg()
	if r.m.Type != MsgCDN || resultAVP(t, r.m).Result != uint16(CDNNoSublayer) {
		t.Fatalf("answer to sequencing without a sublayer: %v %+v, want CDN 15", r.m.Type, r.m)
	}
	if st.SessionsRefused.Load() != 2 {
		t.Errorf("SessionsRefused %d, want 2", st.SessionsRefused.Load())
	}
	// Local Session ID 0: refused, counted, only acknowledged.
	p.send(icrqV3(0, PWPPP))
	if nr, acks := p.quiet(150 * time.Millisecond); acks == 0 || nr != p.ns {
		t.Fatalf("after an ICRQ with Session ID 0: %d acks, last Nr %d, want an ACK with Nr %d", acks, nr, p.ns)
	}
	if st.SessionsRefused.Load() != 3 || lns.Tunnels()[0].Sessions() != 1 {
		t.Errorf("SessionsRefused %d, sessions %d; want 3 and 1", st.SessionsRefused.Load(), lns.Tunnels()[0].Sessions())
	}

	// Data: the right cookie is delivered, a wrong one dropped and
	// counted, Session ID 0 is malformed.
	data := func(sid uint32, c uint64) []byte {
		b, err := AppendV3Data(nil, V3DataFormat{CookieLen: 4}, V3DataHeader{SessionID: sid, Cookie: c})
		if err != nil && sid != 0 {
			t.Fatal(err)
		}
		if sid == 0 {
			b = []byte{0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		}
		return append(b, 0xff, 0x03, 0xc0, 0x21)
	}
	p.write(data(lsid, cookie.Value))
	p.write(data(lsid, cookie.Value^0x80))
	p.write(data(0, 0))
	waitFor(t, 5*time.Second, "data counted", func() bool { return st.DataRx.Load() == 3 })
	if st.CookieMismatch.Load() != 1 || st.Malformed.Load() != 1 || st.DataUnknownSession.Load() != 0 {
		t.Errorf("CookieMismatch %d Malformed %d DataUnknownSession %d, want 1, 1, 0", st.CookieMismatch.Load(), st.Malformed.Load(), st.DataUnknownSession.Load())
	}

	// An L2TPv2 message addressed to the connection's ID: dropped, counted.
	v2, _ := AppendControl(nil, Header{TunnelID: uint16(p.cid), Ns: p.ns, Nr: p.nr}, &Message{Type: MsgHELLO}, nil, nil)
	if p.cid > 0xffff {
		// Its 32-bit ID has no L2TPv2 form: a v2 tunnel of that low
		// half is unknown; make the v3 ID reachable to test the check.
		lns.mu.Lock()
		tn := lns.tunnels[p.cid]
		lns.tunnels[p.cid&0xffff] = tn
		lns.mu.Unlock()
		defer func() { lns.mu.Lock(); delete(lns.tunnels, p.cid&0xffff); lns.mu.Unlock() }()
	}
	p.write(v2)
	waitFor(t, 5*time.Second, "v2 message counted", func() bool { return st.WrongVersion.Load() == 1 })
	p.quiet(100 * time.Millisecond)
	// Down: only the two calls refused by CDN; the good one stays.
	if rec.tunnelsDown.Load() != 0 || rec.sessionsDown.Load() != 2 || lns.Tunnels()[0].Sessions() != 1 || st.DigestFailures.Load() != 0 {
		t.Errorf("tunnels down %d, sessions down %d (of 2 refused), left %d, digest failures %d: bad input hurt the connection",
			rec.tunnelsDown.Load(), rec.sessionsDown.Load(), lns.Tunnels()[0].Sessions(), st.DigestFailures.Load())
	}
}

// TestV3NoACKBeforeSCCRP: an authenticating endpoint that gets the SCCRQ
// again before the peer acknowledged its SCCRP sends no ACK for it: the
// peer does not have the nonce that signs an ACK yet (RFC 3931 section
// 5.4.1), and the SCCRP, retransmitted, acknowledges the SCCRQ too.
func TestV3NoACKBeforeSCCRP(t *testing.T) {
	checkGoroutines(t)
	p, _, rec := v3LNS(t, v3Opts("k3"), true)
	sccrq := p.packet(0, 0, 0, v3SCCRQ(77, p.nonce), false)
	p.write(sccrq)
	p.ns++
	if r := p.recvMsg(); r.m.Type != MsgSCCRP {
		t.Fatalf("answer to SCCRQ: %v, want SCCRP", r.m.Type)
	}
	p.write(sccrq) // as if the SCCRP were lost and the SCCRQ retransmitted
	if _, acks := p.quiet(100 * time.Millisecond); acks != 0 {
		t.Fatalf("%d ACKs for a duplicate SCCRQ before the SCCRP was acknowledged, want none", acks)
	}
	r := p.recvMsg() // RetransmitInitial is 200 ms
	if r.m.Type != MsgSCCRP || r.h.Nr != 1 {
		t.Fatalf("after the duplicate SCCRQ: %v with Nr %d, want the SCCRP again with Nr 1", r.m.Type, r.h.Nr)
	}
	p.cid, _ = assignedID(r.m, true)
	p.send(&Message{Type: MsgSCCCN})
	waitFor(t, 5*time.Second, "tunnel up", func() bool { return rec.tunnelsUp.Load() == 1 })
	p.send(&Message{Type: MsgHELLO})
	if r := p.recv(); r.m == nil || r.m.Type != MsgACK || r.h.Nr != p.ns {
		t.Fatalf("answer to a HELLO once up: %+v, want an ACK with Nr %d", r, p.ns)
	}
}

// v3Dialer runs a dialling Endpoint on a pipe and returns a scripted LNS
// facing it, with the SCCRQ of a Dial started with opts and the channel
// Dial's result comes on.
func v3Dialer(t *testing.T, opts TunnelOptions) (*v3Scripted, *Endpoint, *Message, <-chan error) {
	t.Helper()
	a, b := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	t.Cleanup(func() { a.Close(); b.Close() })
	lac := startEndpoint(t, a, Config{HostName: "lac1", Handler: newRecorder("lac"), ShutdownTimeout: 100 * time.Millisecond,
		Data: func(*Tunnel, *Session, Header, []byte) {}})
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	var dialing sync.WaitGroup
	t.Cleanup(func() { cancel(); dialing.Wait() }) // before the endpoint stops
	opts.Version = 3
	dialing.Go(func() {
		_, err := lac.Dial(ctx, lnsAddr, opts)
		dialed <- err
	})
	p := &v3Scripted{t: t, conn: b, to: net.UDPAddrFromAddrPort(lacAddr), sign: true,
		key: NewAuthKey(opts.Secret), nonce: []byte("scripted-lns-nonce-0123")}
	buf := make([]byte, 4096)
	p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := p.conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no SCCRQ: %v", err)
	}
	_, m, err := ParseV3Control(buf[:n], EncapUDP, nil)
	if err != nil || m == nil || m.Type != MsgSCCRQ {
		t.Fatalf("first message %v (%v), want an SCCRQ", m, err)
	}
	if err := VerifyMessage(buf[:n], nil, nil, p.key); err != nil {
		t.Fatalf("SCCRQ digest: %v", err)
	}
	nonce, ok := m.Find(AVPNonce)
	if !ok {
		t.Fatal("SCCRQ without the nonce of authentication")
	}
	p.peerNonce = append([]byte(nil), nonce.Value...)
	p.cid, _ = assignedID(m, true)
	p.nr = 1
	return p, lac, m, dialed
}

// TestV3DialerBeforeSCCRP: while a dialling endpoint waits for the SCCRP,
// a signed message from the peer cannot be checked (the SCCRP brings the
// nonce): it is dropped and counted as unverifiable, not as a wrong
// digest, and the connection comes up with the SCCRP (section 5.4.1).
// The peer's StopCCN refusing the SCCRQ comes unsigned and ends the Dial
// at once with its result code.
func TestV3DialerBeforeSCCRP(t *testing.T) {
	checkGoroutines(t)
	p, lac, _, dialed := v3Dialer(t, v3Opts("k3"))
	p.write(p.packet(p.cid, 0, 1, &Message{Type: MsgACK}, false)) // overtook the SCCRP
	st := lac.Stats()
	waitFor(t, 5*time.Second, "the early ACK dropped", func() bool { return st.DigestUnverifiable.Load() == 1 })
	p.send(&Message{Type: MsgSCCRP, AVPs: []AVP{
		NewV3AVPString(AVPHostName, "scripted-lns"), NewV3AVPUint32(AVPRouterID, 0x0a000002),
		NewV3AVPUint32(AVPAssignedConnID, 91), PWCapabilities{PWPPP}.AVP(), NewV3AVP(AVPNonce, p.nonce),
	}})
	if r := p.recvMsg(); r.m.Type != MsgSCCCN {
		t.Fatalf("answer to the SCCRP: %v, want SCCCN", r.m.Type)
	}
	if err := <-dialed; err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if st.DigestFailures.Load() != 0 || st.AuthFailures.Load() != 0 {
		t.Errorf("DigestFailures %d AuthFailures %d, want 0 and 0", st.DigestFailures.Load(), st.AuthFailures.Load())
	}

	q, lac2, _, dialed2 := v3Dialer(t, v3Opts("k3"))
	q.sign = false
	start := time.Now()
	q.send(&Message{Type: MsgStopCCN, AVPs: []AVP{
		NewV3AVPUint32(AVPAssignedConnID, 92),
		ResultCode{Result: uint16(StopCCNNotAuthorized), Message: "unknown LCCE"}.AVP(),
	}})
	var te *TunnelError
	if err := <-dialed2; !errors.Is(err, ErrStopCCN) || !errors.As(err, &te) || te.Result.Result != uint16(StopCCNNotAuthorized) {
		t.Fatalf("Dial refused by an unsigned StopCCN: %v, want StopCCN result 4", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the refusal took %v to end the Dial, want it at once", d)
	}
	if n := lac2.Stats().DigestFailures.Load() + lac2.Stats().DigestUnverifiable.Load(); n != 0 {
		t.Errorf("%d digest drops for the peer's refusal, want 0", n)
	}
}
