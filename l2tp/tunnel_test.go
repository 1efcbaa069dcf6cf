package l2tp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp/l2tptest"
	"github.com/google/go-cmp/cmp"
)

// scripted is a hand-driven LAC: the test writes each control message with
// the Ns and Nr it chooses and reads what the LNS Endpoint answers, to
// check the wire behaviour the RFC prescribes.
type scripted struct {
	t    *testing.T
	conn *l2tptest.Conn
	to   net.Addr
	ns   uint16 // our next Ns
	nr   uint16 // next Ns expected from the LNS
	tid  uint16 // the LNS's tunnel ID
}

func (p *scripted) write(b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteTo(b, p.to); err != nil {
		p.t.Fatal(err)
	}
}

// send writes m (nil: ZLB) with explicit header fields.
func (p *scripted) sendRaw(tid, sid, ns, nr uint16, m *Message) {
	p.t.Helper()
	b, err := AppendControl(nil, Header{TunnelID: tid, SessionID: sid, Ns: ns, Nr: nr}, m, nil, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(b)
}

// send writes the next message in sequence.
func (p *scripted) send(sid uint16, m *Message) {
	p.t.Helper()
	p.sendRaw(p.tid, sid, p.ns, p.nr, m)
	if m != nil {
		p.ns++
	}
}

type rxMsg struct {
	h Header
	m *Message // nil: ZLB
}

// recv reads the next control message from the LNS.
func (p *scripted) recv() rxMsg {
	p.t.Helper()
	buf := make([]byte, 4096)
	p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := p.conn.ReadFrom(buf)
	if err != nil {
		p.t.Fatalf("no answer from the LNS: %v", err)
	}
	h, m, err := ParseControl(buf[:n], nil)
	if err != nil {
		p.t.Fatalf("LNS sent an undecodable message: %v", err)
	}
	if m != nil && h.Ns == p.nr {
		p.nr++
	}
	return rxMsg{h, m}
}

// recvMsg reads until a non-ZLB message arrives.
func (p *scripted) recvMsg() rxMsg {
	p.t.Helper()
	for {
		r := p.recv()
		if r.m != nil {
			return r
		}
	}
}

// quiet asserts nothing arrives for d (ZLBs aside when zlbOK).
func (p *scripted) quiet(d time.Duration) {
	p.t.Helper()
	buf := make([]byte, 4096)
	p.conn.SetReadDeadline(time.Now().Add(d))
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if _, m, _ := ParseControl(buf[:n], nil); m != nil {
			p.t.Fatalf("unexpected %v from the LNS", m.Type)
		}
	}
}

func sccrq(tid uint16) *Message {
	return &Message{Type: MsgSCCRQ, AVPs: []AVP{
		ProtocolVersion1.AVP(),
		FramingSync.AVP(AVPFramingCapabilities),
		NewAVPString(AVPHostName, "scripted-lac"),
		NewAVPUint16(AVPAssignedTunnelID, tid),
		NewAVPUint16(AVPReceiveWindowSize, 8),
	}}
}

func resultAVP(t *testing.T, m *Message) ResultCode {
	t.Helper()
	a, ok := m.Find(AVPResultCode)
	if !ok {
		t.Fatalf("%v without Result Code", m.Type)
	}
	rc, err := ParseResultCode(a.Value)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// newScripted runs an LNS Endpoint (no secret) and brings a scripted LAC's
// tunnel to established.
func newScripted(t *testing.T) (*scripted, *Endpoint, *recorder) {
	t.Helper()
	a, b := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	rec := newRecorder("lns")
	opts := TunnelOptions{HelloInterval: -1, RetransmitInitial: 200 * time.Millisecond, RetransmitCap: 400 * time.Millisecond, AckDelay: 20 * time.Millisecond}
	lns, err := NewEndpoint(b, Config{HostName: "lns1", Handler: rec, ShutdownTimeout: 100 * time.Millisecond,
		Accept: acceptAll(opts)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lns.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; a.Close(); b.Close() })
	waitFor(t, 5*time.Second, "running", lns.running.Load)

	p := &scripted{t: t, conn: a, to: net.UDPAddrFromAddrPort(lnsAddr)}
	p.send(0, sccrq(77))
	// Section 5.8: the peer retransmits its SCCRQ (same Ns); it must
	// reach the same tunnel and be re-acknowledged, not make a second one.
	p.sendRaw(0, 0, 0, 0, sccrq(77))
	r := p.recvMsg()
	if r.m.Type != MsgSCCRP || r.h.TunnelID != 77 || r.h.Ns != 0 || r.h.Nr != 1 {
		t.Fatalf("answer to SCCRQ: %v header %+v, want SCCRP to tunnel 77 with Ns 0 Nr 1", r.m.Type, r.h)
	}
	a2, _ := r.m.Find(AVPAssignedTunnelID)
	p.tid, _ = a2.Uint16()
	waitFor(t, 5*time.Second, "duplicate SCCRQ counted", func() bool { return lns.Stats().Duplicates.Load() == 1 })
	if n := len(lns.Tunnels()); n != 1 {
		t.Fatalf("%d tunnels after a retransmitted SCCRQ, want 1", n)
	}
	p.send(0, &Message{Type: MsgSCCCN})
	waitFor(t, 5*time.Second, "tunnel up", func() bool { return rec.tunnelsUp.Load() == 1 })
	// The duplicate SCCRQ was re-acknowledged at once (ZLB, Nr 1); the
	// SCCCN is acknowledged by a ZLB after the ack delay.
	if r := p.recv(); r.m != nil || r.h.Nr != 1 || r.h.Ns != 1 {
		t.Fatalf("re-ack of SCCRQ: %+v %v, want ZLB Ns 1 Nr 1", r.h, r.m)
	}
	if r := p.recv(); r.m != nil || r.h.Nr != 2 || r.h.Ns != 1 {
		t.Fatalf("ack of SCCCN: %+v %v, want ZLB Ns 1 Nr 2", r.h, r.m)
	}
	return p, lns, rec
}

func TestBadInputOnEstablishedTunnel(t *testing.T) {
	checkGoroutines(t)
	p, lns, rec := newScripted(t)
	st := lns.Stats()

	// Garbage and an unknown tunnel ID: dropped and counted, no answer.
	p.write([]byte{0xc8, 0x02, 0x00})
	p.sendRaw(p.tid+1, 0, 0, 0, &Message{Type: MsgHELLO})
	p.sendRaw(0, 0, 0, 0, &Message{Type: MsgHELLO}) // Tunnel ID 0 that is not an SCCRQ
	// Ns far ahead of the window (section 5.8): dropped, counted.
	p.sendRaw(p.tid, 0, p.ns+1000, p.nr, &Message{Type: MsgHELLO})
	p.quiet(100 * time.Millisecond)
	if st.Malformed.Load() != 1 || st.UnknownTunnel.Load() != 1 || st.TunnelZero.Load() != 1 || st.OutsideWindow.Load() != 1 {
		t.Fatalf("malformed %d unknown-tunnel %d tunnel-zero %d outside-window %d, want 1, 1, 1, 1",
			st.Malformed.Load(), st.UnknownTunnel.Load(), st.TunnelZero.Load(), st.OutsideWindow.Load())
	}

	// A duplicate is re-acknowledged at once with a ZLB (section 5.8).
	p.sendRaw(p.tid, 0, p.ns-1, p.nr, &Message{Type: MsgSCCCN})
	if r := p.recv(); r.m != nil || r.h.Nr != p.ns {
		t.Fatalf("answer to a duplicate: %+v %v, want a ZLB with Nr %d", r.h, r.m, p.ns)
	}

	// ICRP for a call that does not exist: section 7.4.2 idle row, CDN.
	p.send(4242, &Message{Type: MsgICRP, AVPs: []AVP{NewAVPUint16(AVPAssignedSessionID, 99)}})
	r := p.recvMsg()
	if r.m.Type != MsgCDN || r.h.SessionID != 99 {
		t.Fatalf("answer to a stray ICRP: %v to session %d, want CDN to session 99", r.m.Type, r.h.SessionID)
	}
	if rc := resultAVP(t, r.m); rc.Result != uint16(CDNGeneralError) || rc.Error != uint16(ErrorInvalidSessionID) {
		t.Errorf("CDN result %+v, want 2/5 (invalid session ID)", rc)
	}
	// An ICCN for no call: idle row, clean up without an answer.
	p.send(4243, &Message{Type: MsgICCN, AVPs: []AVP{NewAVPUint32(AVPTxConnectSpeed, 1), FramingSync.AVP(AVPFramingType)}})
	p.quiet(100 * time.Millisecond)
	if st.UnexpectedMsg.Load() != 2 {
		t.Errorf("UnexpectedMsg = %d, want 2", st.UnexpectedMsg.Load())
	}

	// SCCRP on an established tunnel: section 7.2.1 says StopCCN and
	// clean up; result 7 (FSM error).
	p.send(0, &Message{Type: MsgSCCRP, AVPs: sccrq(77).AVPs})
	r = p.recvMsg()
	if r.m.Type != MsgStopCCN {
		t.Fatalf("answer to SCCRP in established: %v, want StopCCN", r.m.Type)
	}
	if rc := resultAVP(t, r.m); rc.Result != uint16(StopCCNFSMError) {
		t.Errorf("StopCCN result %d, want 7", rc.Result)
	}
	waitFor(t, 5*time.Second, "tunnel down", func() bool { return rec.tunnelsDown.Load() == 1 })
	// We acknowledge the StopCCN; the LNS lingers and re-acks a
	// retransmission of ours, then releases the tunnel.
	p.send(0, nil)
	p.sendRaw(p.tid, 0, p.ns-1, p.nr, &Message{Type: MsgSCCRP, AVPs: sccrq(77).AVPs})
	if r := p.recv(); r.m != nil {
		t.Fatalf("lingering tunnel answered %v, want only a ZLB", r.m.Type)
	}
	waitFor(t, 10*time.Second, "tunnel released after linger", func() bool { return len(lns.Tunnels()) == 0 })
}

func TestCallMessagesOnTheWire(t *testing.T) {
	checkGoroutines(t)
	p, lns, rec := newScripted(t)
	// ICRQ: the LNS answers ICRP with its Assigned Session ID to our 5.
	p.send(0, &Message{Type: MsgICRQ, AVPs: []AVP{
		NewAVPUint16(AVPAssignedSessionID, 5), NewAVPUint32(AVPCallSerialNumber, 1),
		NewAVPString(AVPCallingNumber, "00:11:22:33:44:55"),
	}})
	r := p.recvMsg()
	if r.m.Type != MsgICRP || r.h.SessionID != 5 || r.h.TunnelID != 77 {
		t.Fatalf("answer to ICRQ: %v header %+v", r.m.Type, r.h)
	}
	a, _ := r.m.Find(AVPAssignedSessionID)
	lsid, _ := a.Uint16()
	p.send(lsid, &Message{Type: MsgICCN, AVPs: []AVP{
		NewAVPUint32(AVPTxConnectSpeed, 1e9), FramingSync.AVP(AVPFramingType), NewAVPBytes(AVPSequencingRequired, nil),
	}})
	waitFor(t, 5*time.Second, "session up", func() bool { return rec.sessionsUp.Load() == 1 })
	var s *Session
	rec.mu.Lock()
	for k := range rec.iccn {
		s = k
	}
	rec.mu.Unlock()
	if s.PeerID() != 5 || s.LocalID() != lsid || !s.Sequenced() || s.State() != CallEstablished || s.Value() != "00:11:22:33:44:55" {
		t.Fatalf("session %v: peer %d state %v sequenced %v value %v", s, s.PeerID(), s.State(), s.Sequenced(), s.Value())
	}
	// SLI and WEN go to the handler (section 6.13, 6.14).
	p.send(lsid, &Message{Type: MsgSLI, AVPs: []AVP{ACCM{Send: 0xffffffff}.AVP()}})
	p.send(lsid, &Message{Type: MsgWEN, AVPs: []AVP{CallErrors{CRC: 3}.AVP()}})
	waitFor(t, 5*time.Second, "SLI and WEN", func() bool { return rec.slis.Load() == 1 && rec.wens.Load() == 1 })

	// Data: sequenced because we sent Sequencing Required; both ways.
	got := make(chan []byte, 1)
	if err := s.Tunnel().SendData(s, []byte{0xff, 0x03, 0xc0, 0x21}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	p.conn.SetReadDeadline(time.Now().Add(time.Second))
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		h, pl, err := ParseHeader(buf[:n])
		if err != nil || h.Control {
			continue
		}
		want := Header{HasSeq: true, TunnelID: 77, SessionID: 5}
		if diff := cmp.Diff(want, h); diff != "" {
			t.Errorf("data header (-want +got):\n%s", diff)
		}
		got <- append([]byte(nil), pl...)
		break
	}
	if b := <-got; !cmp.Equal(b, []byte{0xff, 0x03, 0xc0, 0x21}) {
		t.Errorf("data payload %x", b)
	}
	// Data for an unknown session is counted and dropped by the endpoint.
	db, _ := AppendHeader(nil, Header{TunnelID: p.tid, SessionID: lsid + 1}, 2)
	p.write(append(db, 0xff, 0x03))
	waitFor(t, 5*time.Second, "unknown data counted", func() bool { return lns.Stats().DataUnknownSession.Load() == 1 })

	// An unknown mandatory AVP in a session message clears the session
	// with CDN result 2, error 8 (section 4.2).
	p.send(lsid, &Message{Type: MsgSLI, AVPs: []AVP{ACCM{}.AVP(), {Mandatory: true, Type: 200, Value: []byte{1}}}})
	r = p.recvMsg()
	if r.m.Type != MsgCDN || r.h.SessionID != 5 {
		t.Fatalf("answer to an unknown mandatory AVP: %v session %d, want CDN to 5", r.m.Type, r.h.SessionID)
	}
	if rc := resultAVP(t, r.m); rc.Result != uint16(CDNGeneralError) || rc.Error != uint16(ErrorUnknownMandatoryAVP) {
		t.Errorf("CDN result %+v, want 2/8", rc)
	}
	waitFor(t, 5*time.Second, "session down", func() bool { return rec.sessionsDown.Load() == 1 })
	if err := s.Tunnel().SendData(s, []byte{1}); !errors.Is(err, ErrTunnelClosed) {
		t.Errorf("SendData on a cleared session: %v, want ErrTunnelClosed", err)
	}
	if lns.Stats().UnknownMandatory.Load() != 1 {
		t.Errorf("UnknownMandatory = %d", lns.Stats().UnknownMandatory.Load())
	}
}

// TestHiddenSCCRQ: a peer that hides AVPs of its SCCRQ (section 4.3) is
// decoded with the secret Accept returns for its Host Name.
func TestHiddenSCCRQ(t *testing.T) {
	checkGoroutines(t)
	a, b := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	var hosts []string
	lns, err := NewEndpoint(b, Config{HostName: "lns1", ShutdownTimeout: 100 * time.Millisecond,
		Accept: func(_ netip.AddrPort, host string) (TunnelOptions, error) {
			hosts = append(hosts, host)
			return TunnelOptions{Secret: []byte("k"), HelloInterval: -1}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lns.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; a.Close(); b.Close() }()
	waitFor(t, 5*time.Second, "running", lns.running.Load)

	p := &scripted{t: t, conn: a, to: net.UDPAddrFromAddrPort(lnsAddr)}
	m := sccrq(77)
	m.AVPs[3].Hidden = true // Assigned Tunnel ID
	pkt, err := AppendControl(nil, Header{}, m, []byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseControl(pkt, nil); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("the SCCRQ is not hidden: %v", err)
	}
	p.write(pkt)
	r := p.recvMsg()
	if r.m.Type != MsgSCCRP || r.h.TunnelID != 77 {
		t.Fatalf("answer to a hidden SCCRQ: %v to tunnel %d, want SCCRP to 77", r.m.Type, r.h.TunnelID)
	}
	if len(hosts) != 1 || hosts[0] != "scripted-lac" {
		t.Errorf("Accept saw host names %q", hosts)
	}
}

// TestSCCRQUnknownMandatoryAVP: section 4.2, an unrecognised AVP with the
// M bit in an SCCRQ refuses the tunnel with StopCCN result 2, error 8.
func TestSCCRQUnknownMandatoryAVP(t *testing.T) {
	checkGoroutines(t)
	a, b := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	lns, _ := NewEndpoint(b, Config{HostName: "lns1", ShutdownTimeout: 100 * time.Millisecond, Accept: acceptAll(TunnelOptions{})})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lns.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; a.Close(); b.Close() }()
	waitFor(t, 5*time.Second, "running", lns.running.Load)
	p := &scripted{t: t, conn: a, to: net.UDPAddrFromAddrPort(lnsAddr)}
	m := sccrq(77)
	m.AVPs = append(m.AVPs, AVP{Mandatory: true, VendorID: 9, Type: 1, Value: []byte{1, 2}})
	p.send(0, m)
	r := p.recvMsg()
	if r.m.Type != MsgStopCCN || r.h.TunnelID != 77 {
		t.Fatalf("answer: %v to tunnel %d, want StopCCN to 77", r.m.Type, r.h.TunnelID)
	}
	if rc := resultAVP(t, r.m); rc.Result != uint16(StopCCNGeneralError) || rc.Error != uint16(ErrorUnknownMandatoryAVP) {
		t.Errorf("StopCCN result %+v, want 2/8", rc)
	}
	if lns.Stats().UnknownMandatory.Load() != 1 {
		t.Errorf("UnknownMandatory = %d", lns.Stats().UnknownMandatory.Load())
	}
}

// openCall brings up a call from the scripted LAC (ICRQ, ICRP, ICCN) with
// our Session ID psid and returns the LNS's.
func (p *scripted) openCall(rec *recorder, psid uint16) uint16 {
	p.t.Helper()
	up := rec.sessionsUp.Load()
	p.send(0, &Message{Type: MsgICRQ, AVPs: []AVP{NewAVPUint16(AVPAssignedSessionID, psid), NewAVPUint32(AVPCallSerialNumber, uint32(psid))}})
	r := p.recvMsg()
	if r.m.Type != MsgICRP || r.h.SessionID != psid {
		p.t.Fatalf("answer to ICRQ: %v to session %d, want ICRP to %d", r.m.Type, r.h.SessionID, psid)
	}
	a, _ := r.m.Find(AVPAssignedSessionID)
	lsid, _ := a.Uint16()
	p.send(lsid, &Message{Type: MsgICCN, AVPs: []AVP{NewAVPUint32(AVPTxConnectSpeed, 1e9), FramingSync.AVP(AVPFramingType)}})
	waitFor(p.t, 5*time.Second, "session up", func() bool { return rec.sessionsUp.Load() == up+1 })
	return lsid
}

// TestICRQUnknownMandatoryAVPClearsOnlyTheCall: section 4.1, an ICRQ
// concerns one session even though its header carries Session ID 0: an
// unrecognised mandatory AVP in it is refused with a CDN (2/8) to the
// peer's Assigned Session ID; the tunnel and its live session stay up.
func TestICRQUnknownMandatoryAVPClearsOnlyTheCall(t *testing.T) {
	checkGoroutines(t)
	p, lns, rec := newScripted(t)
	p.openCall(rec, 5)

	p.send(0, &Message{Type: MsgICRQ, AVPs: []AVP{
		NewAVPUint16(AVPAssignedSessionID, 6), NewAVPUint32(AVPCallSerialNumber, 2),
		{Mandatory: true, VendorID: 9, Type: 1, Value: []byte{1}},
	}})
	r := p.recvMsg()
	if r.m.Type != MsgCDN || r.h.SessionID != 6 {
		t.Fatalf("answer to an ICRQ with an unknown mandatory AVP: %v to session %d, want CDN to 6", r.m.Type, r.h.SessionID)
	}
	if rc := resultAVP(t, r.m); rc.Result != uint16(CDNGeneralError) || rc.Error != uint16(ErrorUnknownMandatoryAVP) {
		t.Errorf("CDN result %+v, want 2/8", rc)
	}
	p.send(0, nil) // acknowledge the CDN
	p.quiet(200 * time.Millisecond)
	st := lns.Stats()
	if st.StopCCNTx.Load() != 0 || rec.tunnelsDown.Load() != 0 || rec.sessionsDown.Load() != 0 {
		t.Fatalf("StopCCN sent %d, tunnels down %d, sessions down %d; want the tunnel and its session up",
			st.StopCCNTx.Load(), rec.tunnelsDown.Load(), rec.sessionsDown.Load())
	}
	if st.UnknownMandatory.Load() != 1 || st.SessionsRefused.Load() != 1 {
		t.Errorf("UnknownMandatory %d SessionsRefused %d, want 1 and 1", st.UnknownMandatory.Load(), st.SessionsRefused.Load())
	}
	tn := lns.Tunnels()[0]
	if tn.State() != CtrlEstablished || tn.Sessions() != 1 {
		t.Errorf("tunnel %v with %d sessions, want established with 1", tn.State(), tn.Sessions())
	}
	// The tunnel still takes calls.
	p.openCall(rec, 7)
}
