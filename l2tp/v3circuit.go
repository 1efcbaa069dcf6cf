package l2tp

// This file holds the circuit status of an L2TPv3 session (RFC 3931
// section 5.4.5, RFC 4719 sections 2.2 and 2.3): whether the attachment
// circuit behind each end is active. Ours goes out in the ICRQ or ICRP
// (N bit set: a new circuit), a change before the session is up in the
// ICCN, and every change after in an SLI (N bit clear). The peer's is
// read from the same messages.

// CircuitHandler is implemented by a Handler that wants to hear of the
// peer's circuit status changes on an established L2TPv3 session (an SLI
// with a Circuit Status AVP, RFC 4719 section 2.3.2). It is called on the
// tunnel goroutine and must not block. Session.PeerCircuitActive has the
// latest status at any time.
type CircuitHandler interface {
	CircuitStatus(s *Session, cs CircuitStatus)
}

// SetCircuitStatus reports the status of the session's attachment circuit
// to the peer: before the ICRQ or ICRP is sent it is what they carry, a
// change once they are out goes in the ICCN (LAC, while the ICRP is
// awaited) or in an SLI (RFC 4719 section 2.3.2). Only L2TPv3 sessions
// carry circuit status; safe from any goroutine.
func (s *Session) SetCircuitStatus(active bool) {
	s.circuitDown.Store(!active)
	if !s.t.v3 {
		return
	}
	s.t.do(func() { s.t.sendCircuitStatus(s) })
}

// CircuitActive is the status of our attachment circuit as last set.
func (s *Session) CircuitActive() bool { return !s.circuitDown.Load() }

// PeerCircuitActive is the status of the peer's attachment circuit, from
// its ICRQ or ICRP and the ICCN and SLIs since (RFC 3931 section 5.4.5):
// a session whose peer's circuit is down should not forward. True on an
// L2TPv2 session, and until the peer has said otherwise.
func (s *Session) PeerCircuitActive() bool { return !s.peerCircuitDown.Load() }

// sendCircuitStatus sends an SLI with our circuit status when it changed
// since the peer last heard it, if the peer's Session ID is known; when it
// is not yet (the LAC awaits the ICRP), the ICCN will carry it.
func (t *Tunnel) sendCircuitStatus(s *Session) {
	active := !s.circuitDown.Load()
	if s.gone || !s.csSent || s.csActive == active || s.RemoteSessionID() == 0 {
		return
	}
	if s.role == LACIncoming && s.state != CallEstablished {
		return // sendConnectedV3 puts it in the ICCN
	}
	s.csActive = active
	msg := &Message{Type: MsgSLI}
	msg.Add(NewV3AVPUint32(AVPLocalSessionID, s.localID))
	msg.Add(NewV3AVPUint32(AVPRemoteSessionID, s.RemoteSessionID()))
	msg.Add(CircuitStatus{Active: active}.AVP())
	t.sendMsg(msg, 0)
}

// newCircuitStatus is the Circuit Status AVP of our ICRQ or ICRP: the
// status now, for a new circuit.
func (s *Session) newCircuitStatus() AVP {
	s.csSent, s.csActive = true, !s.circuitDown.Load()
	return CircuitStatus{Active: s.csActive, New: true}.AVP()
}

// peerCircuitStatus keeps the Circuit Status of a message from the peer;
// it reports whether m had a well-formed one.
func (s *Session) peerCircuitStatus(m *Message) (CircuitStatus, bool) {
	a, ok := m.Find(AVPCircuitStatus)
	if !ok {
		return CircuitStatus{}, false
	}
	cs, err := ParseCircuitStatus(a.Value)
	if err != nil {
		return CircuitStatus{}, false
	}
	s.peerCircuitDown.Store(!cs.Active)
	return cs, true
}
