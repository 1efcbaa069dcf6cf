package l2tp

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Session is one call on a tunnel (RFC 2661 sections 7.4 and 7.5). Its
// control state belongs to the tunnel goroutine; the accessors below are
// safe from any goroutine.
type Session struct {
	t       *Tunnel
	localID uint32 // 16 bits on an L2TPv2 tunnel, 32 on an L2TPv3 one
	peerID  atomic.Uint32
	role    CallRole
	st      atomic.Uint32
	value   atomic.Pointer[any]
	seq     atomic.Bool            // the peer asked for sequenced data (Sequencing Required)
	dataNs  atomic.Uint32          // Ns of our next sequenced data message
	down    atomic.Bool            // cleared: no more data
	v3d     atomic.Pointer[v3Data] // L2TPv3: data framing both ways (v3call.go)
	pwType  PWType                 // L2TPv3: the call's pseudowire type, set before SessionUp

	circuitDown     atomic.Bool // L2TPv3: our attachment circuit is inactive (v3circuit.go)
	peerCircuitDown atomic.Bool // L2TPv3: the peer's is, by its last Circuit Status

	// Owned by the tunnel goroutine.
	state     CallState
	req       CallRequest
	icrq      *Message
	iccn      *Message
	cdn       *Message            // the peer's CDN (disccause.go)
	discCause *PPPDisconnectCause // sent in our CDN (disccause.go)
	announced bool                // SessionUp was called
	csSent    bool                // our Circuit Status went out (ICRQ or ICRP)
	csActive  bool                // and said active
	gone      bool
}

// LocalID is our Session ID (what the peer puts in the header). On an
// L2TPv3 tunnel it is the low 16 bits of LocalSessionID.
func (s *Session) LocalID() uint16 { return uint16(s.localID) }

// PeerID is the peer's Session ID (its Assigned Session ID); 0 until known.
// On an L2TPv3 tunnel it is the low 16 bits of RemoteSessionID.
func (s *Session) PeerID() uint16 { return uint16(s.peerID.Load()) }

// LocalSessionID is our Session ID, 16 bits (L2TPv2) or 32 (L2TPv3, the
// Local Session ID AVP of RFC 3931 section 5.4.4).
func (s *Session) LocalSessionID() uint32 { return s.localID }

// RemoteSessionID is the peer's Session ID; 0 until known.
func (s *Session) RemoteSessionID() uint32 { return s.peerID.Load() }

// PWType is the pseudowire type of the session: PPP on an L2TPv2 tunnel,
// the Pseudowire Type AVP of the call on an L2TPv3 one.
func (s *Session) PWType() PWType {
	if !s.t.v3 {
		return PWPPP
	}
	return s.pwType
}

// Tunnel is the tunnel carrying the session.
func (s *Session) Tunnel() *Tunnel { return s.t }

// Role says which call machine of section 7 the session runs.
func (s *Session) Role() CallRole { return s.role }

// State is the call state (section 7.4/7.5).
func (s *Session) State() CallState { return CallState(s.st.Load()) }

// ICRQ is the ICRQ as received (LNS side) or sent (LAC side); nil before.
// Read it from Handler callbacks or after SessionUp; it is not modified
// afterwards.
func (s *Session) ICRQ() *Message { return s.icrq }

// ICCN is the ICCN as received (LNS: proxy LCP and authentication AVPs are
// there) or sent (LAC); nil before.
func (s *Session) ICCN() *Message { return s.iccn }

// ReleaseMessages lets the session's ICRQ and ICCN and the AVPs of its
// CallRequest go once the owner has taken what it needs from them (after
// SessionUp): they are a few hundred octets a session that a box with
// 100,000 sessions would otherwise hold for their whole life. ICRQ and
// ICCN return nil afterwards. Call it from the goroutine that owns the
// session's state, after SessionUp was called.
func (s *Session) ReleaseMessages() {
	s.icrq, s.iccn = nil, nil
	s.req.ICRQ, s.req.ICCN = nil, nil
}

// Value returns what SetValue stored (the LNS's PPP session, say).
func (s *Session) Value() any {
	if p := s.value.Load(); p != nil {
		return *p
	}
	return nil
}

// SetValue attaches v to the session, for the data callback to find
// without a map lookup.
func (s *Session) SetValue(v any) { s.value.Store(&v) }

// Sequenced reports whether data messages to the peer carry Ns/Nr because
// the peer sent Sequencing Required (section 4.4.6).
func (s *Session) Sequenced() bool { return s.seq.Load() }

func (s *Session) String() string {
	return fmt.Sprintf("session %d/%d on tunnel %d", s.localID, s.RemoteSessionID(), s.t.localID)
}

// Disconnect sends CDN with rc (section 6.12) and clears the session;
// SessionDown follows on the tunnel goroutine.
func (s *Session) Disconnect(rc ResultCode) {
	s.t.do(func() {
		if s.gone {
			return
		}
		s.t.callEvent(s, CallClose, nil, rc)
	})
}

// PlaceCall places an incoming call (the LAC of section 7.4.1): an ICRQ
// with req.ICRQ, then on ICRP an ICCN with req.ICCN. The call waits for the
// tunnel if it is still being opened. The outcome arrives as
// Handler.SessionUp or SessionDown.
func (t *Tunnel) PlaceCall(req CallRequest) (*Session, error) {
	s := &Session{t: t, role: LACIncoming, req: req, pwType: req.PWType}
	if s.pwType == 0 {
		s.pwType = PWPPP
	}
	s.circuitDown.Store(req.CircuitDown)
	if req.Value != nil {
		s.SetValue(req.Value)
	}
	if err := t.ep.addSession(t, s); err != nil {
		return nil, err
	}
	if !t.do(func() {
		t.calls[s.localID] = s
		if t.downSent {
			// The tunnel went down meanwhile: the call ends at once.
			t.dropCall(s, ResultCode{Result: uint16(CDNGeneralError), HasError: true, Error: uint16(ErrorNoControlConnection)})
			return
		}
		t.callEvent(s, CallOpen, nil, ResultCode{})
	}) {
		t.ep.removeSession(s)
		return nil, ErrTunnelClosed
	}
	return s, nil
}

// PlaceOutgoingCall asks the LAC to place an outgoing call (the LNS of
// section 7.5.2): OCRQ with req.OCRQ, then OCRP and OCCN from the LAC. The
// outcome arrives as Handler.SessionUp (with the OCCN) or SessionDown.
func (t *Tunnel) PlaceOutgoingCall(req OutgoingCallRequest) (*Session, error) {
	s := &Session{t: t, role: LNSOutgoing, req: CallRequest{ICRQ: req.OCRQ}, pwType: req.PWType}
	if s.pwType == 0 {
		s.pwType = PWPPP
	}
	if req.Value != nil {
		s.SetValue(req.Value)
	}
	if err := t.ep.addSession(t, s); err != nil {
		return nil, err
	}
	if !t.do(func() {
		t.calls[s.localID] = s
		if t.downSent {
			t.dropCall(s, ResultCode{Result: uint16(CDNGeneralError), HasError: true, Error: uint16(ErrorNoControlConnection)})
			return
		}
		t.callEvent(s, CallOpen, nil, ResultCode{})
	}) {
		t.ep.removeSession(s)
		return nil, ErrTunnelClosed
	}
	return s, nil
}

// Answer reports that the bearer of an outgoing call answered and framing
// was detected (section 7.5.1): the LAC sends OCCN with occn (Tx Connect
// Speed and Framing Type get defaults when missing) and SessionUp follows.
func (s *Session) Answer(occn []AVP) {
	s.t.do(func() {
		if s.gone || s.role != LACOutgoing {
			return
		}
		s.req.ICCN = occn
		s.t.callEvent(s, CallBearerAnswer, nil, ResultCode{})
	})
}

// addSession allocates a local Session ID on t and publishes s for data.
func (e *Endpoint) addSession(t *Tunnel, s *Session) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if int(t.nsess.Load()) >= t.opts.MaxSessions {
		return ErrTooManySessions
	}
	if t.v3 {
		return e.addSessionV3(t, s)
	}
	base := t.localID << 16
	// Random IDs (section 4.4.4 only asks for non-zero and unique), then a
	// scan from a random point when the space is nearly full.
	start := randUint16()
	for i := range 65536 + 64 {
		id := start + uint16(i-64)
		if i < 64 {
			id = randUint16()
		}
		if id == 0 {
			continue
		}
		if _, ok := e.sessions[base|uint32(id)]; ok {
			continue
		}
		s.localID = uint32(id)
		e.sessions[base|uint32(id)] = s
		t.nsess.Add(1)
		return nil
	}
	return ErrTooManySessions
}

func (e *Endpoint) removeSession(s *Session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, k := e.sessions, s.t.localID<<16|s.localID
	if s.t.v3 {
		m, k = e.v3sessions, s.localID
	}
	if m[k] == s {
		delete(m, k)
		s.t.nsess.Add(-1)
	}
}

// callMessage dispatches a session-scoped message of an established tunnel.
func (t *Tunnel) callMessage(sid uint32, m *Message) {
	if m.Type == MsgICRQ || m.Type == MsgOCRQ {
		if sid != 0 {
			if s := t.calls[sid]; s != nil {
				t.callEvent(s, recvEvent(m, true), m, ResultCode{})
				return
			}
		}
		t.newIncoming(m)
		return
	}
	s := t.calls[sid]
	if s == nil {
		// Idle rows of the section 7 tables: a message for no call.
		t.ep.stats.UnexpectedMsg.Add(1)
		role := LACIncoming
		switch {
		case t.accepted && isIC(m.Type):
			role = LNSIncoming
		case !t.accepted && !isIC(m.Type):
			role = LACOutgoing
		case t.accepted:
			role = LNSOutgoing
		}
		if _, acts := callTransition(role, CallIdle, recvEvent(m, true)); hasAction(acts, ActSendCDN) {
			if psid, ok := t.peerSessionID(m); ok {
				t.sendCDN(0, psid, ResultCode{Result: uint16(CDNGeneralError), HasError: true, Error: uint16(ErrorInvalidSessionID)})
			}
		}
		return
	}
	switch m.Type {
	case MsgWEN:
		// Section 6.13: at any time after the session is up.
		if a, ok := m.Find(AVPCallErrors); ok {
			if ce, err := ParseCircuitErrors(a.Value); err == nil && (t.v3 || len(a.Value) != 18) {
				t.ep.h.WANError(s, CallErrors(ce))
				return
			}
		}
		t.ep.stats.Malformed.Add(1)
	case MsgSLI:
		if a, ok := m.Find(AVPACCM); ok {
			if accm, err := ParseACCM(a.Value); err == nil {
				t.ep.h.SetLinkInfo(s, accm)
				return
			}
		} else if t.v3 {
			// RFC 3931 section 6.14, RFC 4719 section 2.3.2: a Circuit
			// Status update, no ACCM.
			if cs, ok := s.peerCircuitStatus(m); ok {
				if ch, ok := t.ep.h.(CircuitHandler); ok {
					ch.CircuitStatus(s, cs)
				}
			}
			return
		}
		t.ep.stats.Malformed.Add(1)
	case MsgCDN:
		s.cdn = m
		t.callEvent(s, CallRecvCDN, m, resultOf(m))
	default:
		ok := t.validate(m) == nil
		if ok && (m.Type == MsgICRP || m.Type == MsgOCRP) && s.RemoteSessionID() == 0 {
			psid, _ := t.peerSessionID(m)
			s.peerID.Store(psid)
		}
		if ok && t.v3 && (m.Type == MsgICRP || m.Type == MsgICCN || m.Type == MsgOCRP || m.Type == MsgOCCN) {
			if rc, good := t.peerFramingV3(s, m); !good {
				t.callEvent(s, recvEvent(m, false), m, rc)
				return
			}
			s.peerCircuitStatus(m)
		}
		t.callEvent(s, recvEvent(m, ok), m, ResultCode{})
	}
}

// unknownMandatoryInCall handles a session-scoped message with an
// unrecognised mandatory AVP (section 4.1): the session it belongs to is
// terminated with CDN, the tunnel and its other sessions stay up. A
// request that would open a session (ICRQ, OCRQ), or a reply for a session
// we no longer have, gets a CDN to the peer's Assigned Session ID.
func (t *Tunnel) unknownMandatoryInCall(sid uint32, m *Message, um *UnknownMandatoryAVPError) {
	if t.ctrl != CtrlEstablished {
		t.ep.stats.UnexpectedMsg.Add(1)
		return
	}
	if s := t.calls[sid]; sid != 0 && s != nil {
		t.ep.debugLimited("l2tp: clearing a session: unknown mandatory AVP", "tunnel_id", t.localID, "session_id", s.localID, "peer", t.peer, "err", um)
		t.closeCall(s, um.Result(), true)
		return
	}
	switch m.Type {
	case MsgICRQ, MsgOCRQ, MsgICRP, MsgOCRP:
	default:
		return // nothing to clear and nobody to answer
	}
	psid, ok := t.peerSessionID(m)
	if !ok || psid == 0 {
		return
	}
	t.ep.stats.SessionsRefused.Add(1)
	t.ep.debugLimited("l2tp: refusing a call: unknown mandatory AVP", "tunnel_id", t.localID, "peer", t.peer, "err", um)
	t.sendCDN(0, psid, um.Result())
}

func isIC(t MsgType) bool { return t == MsgICRQ || t == MsgICRP || t == MsgICCN }

func hasAction(acts []Action, a Action) bool {
	for _, x := range acts {
		if x == a {
			return true
		}
	}
	return false
}

// recvEvent maps a received call message to its event, acceptable or not.
func recvEvent(m *Message, ok bool) CallEvent {
	var good, bad CallEvent
	switch m.Type {
	case MsgICRQ:
		good, bad = CallRecvICRQ, CallRecvICRQBad
	case MsgICRP:
		good, bad = CallRecvICRP, CallRecvICRPBad
	case MsgICCN:
		good, bad = CallRecvICCN, CallRecvICCNBad
	case MsgOCRQ:
		good, bad = CallRecvOCRQ, CallRecvOCRQBad
	case MsgOCRP:
		good, bad = CallRecvOCRP, CallRecvOCRPBad
	case MsgOCCN:
		return CallRecvOCCN
	default:
		return CallRecvCDN
	}
	if ok {
		return good
	}
	return bad
}

// newIncoming handles an ICRQ (LNS, section 7.4.2) or OCRQ (LAC, section
// 7.5.1) that opens a call.
func (t *Tunnel) newIncoming(m *Message) {
	role := LNSIncoming
	if m.Type == MsgOCRQ {
		role = LACOutgoing
	}
	psid, _ := t.peerSessionID(m)
	s := &Session{t: t, role: role, icrq: m, pwType: PWPPP}
	s.peerID.Store(psid)
	if err := t.validate(m); err != nil || psid == 0 {
		t.ep.stats.SessionsRefused.Add(1)
		t.callEventOrphan(s, recvEvent(m, false), ResultCode{Result: uint16(CDNGeneralError), HasError: true, Error: uint16(ErrorValueOutOfRange), Message: fmt.Sprint(err)})
		return
	}
	if err := t.ep.addSession(t, s); err != nil {
		t.ep.stats.SessionsRefused.Add(1)
		t.callEventOrphan(s, recvEvent(m, false), ResultCode{Result: uint16(CDNNoFacilitiesTemporary), HasError: true, Error: uint16(ErrorInsufficientResources)})
		return
	}
	t.calls[s.localID] = s
	if t.v3 {
		if rc, ok := t.incomingV3(s, m); !ok {
			t.ep.stats.SessionsRefused.Add(1)
			t.callEvent(s, recvEvent(m, false), m, rc)
			return
		}
	}
	decide := func() error { return t.ep.h.IncomingCall(t, s, m) }
	good, bad := CallRecvICRQ, CallRecvICRQBad
	if role == LACOutgoing {
		good, bad = CallRecvOCRQ, CallRecvOCRQBad
		och, ok := t.ep.h.(OutgoingCallHandler)
		if !ok {
			// Nobody places outgoing calls here: refuse by policy.
			t.ep.stats.SessionsRefused.Add(1)
			t.callEvent(s, bad, m, ResultCode{Result: uint16(CDNNoFacilitiesPermanent), Message: "outgoing calls not supported"})
			return
		}
		decide = func() error { return och.OutgoingCall(t, s, m) }
	}
	if err := decide(); err != nil {
		rc := ResultCode{Result: uint16(CDNNoFacilitiesTemporary), HasError: true, Message: err.Error()}
		var ref *CallRefusedError
		if errors.As(err, &ref) {
			rc = ref.Result
		}
		t.ep.stats.SessionsRefused.Add(1)
		t.callEvent(s, bad, m, rc)
		return
	}
	t.callEvent(s, good, m, ResultCode{})
}

// callEventOrphan runs the idle row of a call that never got an ID.
func (t *Tunnel) callEventOrphan(s *Session, ev CallEvent, rc ResultCode) {
	if _, acts := callTransition(s.role, CallIdle, ev); hasAction(acts, ActSendCDN) && s.RemoteSessionID() != 0 {
		t.sendCDN(0, s.RemoteSessionID(), rc)
	}
}

// callEvent runs s's call machine and performs its actions. m is the
// received message, rc the Result Code of a CDN sent or received.
func (t *Tunnel) callEvent(s *Session, ev CallEvent, m *Message, rc ResultCode) {
	prev := s.state
	next, acts := callTransition(s.role, s.state, ev)
	s.state = next
	s.st.Store(uint32(next))
	for _, a := range acts {
		switch a {
		case ActOpenTunnel:
			if t.ctrl == CtrlEstablished {
				t.callEvent(s, CallTunnelOpen, nil, rc)
				return
			}
		case ActSendICRQ:
			if t.v3 {
				t.sendCallRequestV3(s, MsgICRQ)
				break
			}
			msg := &Message{Type: MsgICRQ}
			msg.Add(t.hide(NewAVPUint16(AVPAssignedSessionID, uint16(s.localID))))
			hasSerial := false
			for _, a := range s.req.ICRQ {
				hasSerial = hasSerial || a.Type == AVPCallSerialNumber && a.VendorID == 0
				msg.Add(t.hide(a))
			}
			if !hasSerial {
				t.callSerial++
				msg.Add(t.hide(NewAVPUint32(AVPCallSerialNumber, t.callSerial)))
			}
			s.icrq = msg
			t.sendMsg(msg, 0)
		case ActSendICRP:
			if t.v3 {
				t.sendCallReplyV3(s, MsgICRP)
				break
			}
			t.sendMsg(&Message{Type: MsgICRP, AVPs: []AVP{t.hide(NewAVPUint16(AVPAssignedSessionID, uint16(s.localID)))}}, s.RemoteSessionID())
		case ActSendICCN:
			if psid, ok := t.peerSessionID(m); ok {
				s.peerID.Store(psid)
			}
			t.sendConnected(s, MsgICCN)
		case ActSendOCRQ:
			if t.v3 {
				t.sendCallRequestV3(s, MsgOCRQ)
				break
			}
			msg := &Message{Type: MsgOCRQ}
			msg.Add(t.hide(NewAVPUint16(AVPAssignedSessionID, uint16(s.localID))))
			have := map[AVPType]bool{}
			for _, a := range s.req.ICRQ {
				if a.VendorID == 0 {
					have[a.Type] = true
				}
				msg.Add(t.hide(a))
			}
			// Section 6.9 requires these; defaults for what is missing.
			if !have[AVPCallSerialNumber] {
				t.callSerial++
				msg.Add(t.hide(NewAVPUint32(AVPCallSerialNumber, t.callSerial)))
			}
			if !have[AVPMinimumBPS] {
				msg.Add(t.hide(NewAVPUint32(AVPMinimumBPS, 0)))
			}
			if !have[AVPMaximumBPS] {
				msg.Add(t.hide(NewAVPUint32(AVPMaximumBPS, 0xffffffff)))
			}
			if !have[AVPBearerType] {
				msg.Add(t.hide(BearerDigital.AVP(AVPBearerType)))
			}
			if !have[AVPFramingType] {
				msg.Add(t.hide(FramingSync.AVP(AVPFramingType)))
			}
			if !have[AVPCalledNumber] {
				msg.Add(t.hide(NewAVPString(AVPCalledNumber, "")))
			}
			s.icrq = msg
			t.sendMsg(msg, 0)
		case ActSendOCRP:
			if t.v3 {
				t.sendCallReplyV3(s, MsgOCRP)
				break
			}
			t.sendMsg(&Message{Type: MsgOCRP, AVPs: []AVP{t.hide(NewAVPUint16(AVPAssignedSessionID, uint16(s.localID)))}}, s.RemoteSessionID())
		case ActOpenBearer:
			// The OutgoingCallHandler was asked before the OCRP; it
			// reports the bearer with Answer or Disconnect.
		case ActSendOCCN:
			t.sendConnected(s, MsgOCCN)
		case ActPrepareData:
			s.iccn = m
			if _, ok := m.Find(AVPSequencingRequired); ok {
				s.seq.Store(true)
			}
			t.sessionUp(s, m)
		case ActSendCDN:
			if rc == (ResultCode{}) {
				rc = ResultCode{Result: uint16(CDNGeneralError), HasError: true, Error: uint16(ErrorValueOutOfRange), Message: "unexpected " + ev.String() + " in " + prev.String()}
				t.ep.stats.UnexpectedMsg.Add(1)
			}
			t.sendCDN(s.localID, s.RemoteSessionID(), rc, s.cdnExtra()...)
		case ActCleanup:
			if rc == (ResultCode{}) && m != nil {
				rc = resultOf(m)
			}
			if ev != CallClose && ev != CallRecvCDN && prev != CallIdle && m != nil && (m.Type == MsgICRP || m.Type == MsgICCN || m.Type == MsgICRQ) {
				t.ep.stats.SessionsRejected.Add(1)
			}
			t.dropCall(s, rc)
		case ActUnexpected:
			t.ep.stats.UnexpectedMsg.Add(1)
			t.ep.debugLimited("l2tp: call message not allowed in this state", "tunnel_id", t.localID, "session_id", s.localID, "state", prev, "event", ev)
		}
	}
}

func (t *Tunnel) sessionUp(s *Session, m *Message) {
	s.announced = true
	t.ep.stats.SessionsUp.Add(1)
	t.ep.h.SessionUp(s, m)
}

// sendCDN sends a Call-Disconnect-Notify (section 6.12): Assigned Session ID
// is ours (0 when we never assigned one), the header carries the peer's.
func (t *Tunnel) sendCDN(local, peer uint32, rc ResultCode, extra ...AVP) {
	if t.v3 {
		t.sendCDNV3(local, peer, rc, extra)
		return
	}
	avps := append([]AVP{rc.AVP(), t.hide(NewAVPUint16(AVPAssignedSessionID, uint16(local)))}, extra...)
	t.sendMsg(&Message{Type: MsgCDN, AVPs: avps}, peer)
}

// closeCall disconnects s with rc from our side.
func (t *Tunnel) closeCall(s *Session, rc ResultCode, _ bool) {
	t.callEvent(s, CallClose, nil, rc)
}

// dropCall forgets s and reports SessionDown.
func (t *Tunnel) dropCall(s *Session, rc ResultCode) {
	if s.gone {
		return
	}
	s.gone = true
	s.down.Store(true)
	s.state = CallIdle
	s.st.Store(uint32(CallIdle))
	delete(t.calls, s.localID)
	t.ep.removeSession(s)
	if s.announced {
		t.ep.stats.SessionsDown.Add(1)
	}
	t.ep.h.SessionDown(s, rc)
}

// SendData sends one PPP frame on s as a data message (T=0, section 3.1)
// with the peer's Tunnel and Session IDs, and Ns when the session is
// sequenced. Safe from any goroutine; it allocates nothing per packet
// (buffers come from a pool) when the endpoint's conn is a *net.UDPConn.
func (t *Tunnel) SendData(s *Session, payload []byte) error {
	if s.t != t {
		return errors.New("l2tp: SendData: session of another tunnel")
	}
	if t.v3 {
		return t.sendDataV3(s, payload)
	}
	ps := s.PeerID()
	if ps == 0 || s.down.Load() {
		return ErrTunnelClosed
	}
	h := Header{TunnelID: t.PeerID(), SessionID: ps}
	if s.seq.Load() {
		h.HasSeq = true
		h.Ns = uint16(s.dataNs.Add(1) - 1)
	}
	bp := t.ep.bufPool.Get().(*[]byte)
	b, err := AppendHeader((*bp)[:0], h, len(payload))
	if err == nil {
		b = append(b, payload...)
		err = t.ep.write(t, b)
	}
	*bp = b[:0]
	t.ep.bufPool.Put(bp)
	if err != nil {
		t.ep.stats.DataTxErrors.Add(1)
		return err
	}
	t.ep.stats.DataTx.Add(1)
	return nil
}

// sendConnected sends the ICCN (section 6.8) or OCCN (section 6.11) of s
// with the caller's AVPs, adding the required Tx Connect Speed and Framing
// Type when missing, and reports the session up.
func (t *Tunnel) sendConnected(s *Session, typ MsgType) {
	if t.v3 {
		t.sendConnectedV3(s, typ)
		return
	}
	msg := &Message{Type: typ}
	var speed, framing bool
	for _, a := range s.req.ICCN {
		if a.VendorID == 0 {
			speed = speed || a.Type == AVPTxConnectSpeed
			framing = framing || a.Type == AVPFramingType
			if a.Type == AVPSequencingRequired {
				// Section 4.4.6: the LAC asks; both ends sequence data.
				s.seq.Store(true)
			}
		}
		msg.Add(t.hide(a))
	}
	if !speed {
		msg.Add(t.hide(NewAVPUint32(AVPTxConnectSpeed, 10_000_000)))
	}
	if !framing {
		msg.Add(t.hide(FramingSync.AVP(AVPFramingType)))
	}
	s.iccn = msg
	t.sendMsg(msg, s.RemoteSessionID())
	t.sessionUp(s, msg)
}
