package l2tp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// This file holds what an L2TPv3 control connection (RFC 3931) does
// differently from an L2TPv2 tunnel on the same engine: its header and
// 32-bit Control Connection IDs, the SCCRQ/SCCRP/SCCCN of sections 6.1-6.3,
// and the control message authentication of sections 4.3 and 5.4.1 (a
// Message Digest on every message, nonces instead of the Challenge, the
// explicit ACK instead of the ZLB). The reliable channel, the state
// machines and the call logic are those of L2TPv2.

// errBeforeSCCRP: a v3 control message came before the SCCRP whose nonce
// would check its digest (Tunnel.checkDigest).
var errBeforeSCCRP = errors.New("l2tp: signed control message before the SCCRP that gives the peer's nonce")

// DigestMode says how the control messages of an L2TPv3 tunnel are
// signed (TunnelOptions.Digest).
type DigestMode uint8

const (
	// DigestAuto: HMAC-MD5 with nonces when the tunnel has a Secret
	// (control message authentication, RFC 3931 section 4.3), no digest
	// without one.
	DigestAuto DigestMode = iota
	// DigestOff: no Message Digest; the peer must not authenticate
	// either. A digest the peer sends anyway is checked as an integrity
	// check.
	DigestOff
	// DigestMD5: HMAC-MD5 (section 5.4.1, Digest Type 0).
	DigestMD5
	// DigestSHA1: HMAC-SHA-1 (section 5.4.1, Digest Type 1).
	DigestSHA1
)

func (d DigestMode) String() string {
	switch d {
	case DigestAuto:
		return "auto"
	case DigestOff:
		return "none"
	case DigestMD5:
		return "md5"
	case DigestSHA1:
		return "sha1"
	}
	return "DigestMode(" + strconv.Itoa(int(d)) + ")"
}

// ParseCookieSize reads a cookie size as configuration files write it:
// the octets of the cookie a session asks of its peer's data messages, 0,
// 4 or 8 (RFC 3931 section 4.1); empty is 4.
func ParseCookieSize(s string) (int, error) {
	switch s {
	case "", "4":
		return 4, nil
	case "0":
		return 0, nil
	case "8":
		return 8, nil
	}
	return 0, fmt.Errorf("%q: want 0, 4 or 8 (octets, RFC 3931 section 4.1)", s)
}

// ParseDigestMode reads a digest setting as configuration files write it:
// md5, sha1 or none; empty is DigestAuto.
func ParseDigestMode(s string) (DigestMode, error) {
	switch s {
	case "":
		return DigestAuto, nil
	case "md5":
		return DigestMD5, nil
	case "sha1":
		return DigestSHA1, nil
	case "none":
		return DigestOff, nil
	}
	return 0, fmt.Errorf("%q: want md5, sha1 or none", s)
}

// v3State is the L2TPv3 part of a tunnel, owned by its goroutine.
type v3State struct {
	auth      bool       // control message authentication: nonces, and a digest required on every message
	sign      bool       // our messages carry a Message Digest (auth, or the integrity check)
	digest    DigestType // of our Message Digests
	key       AuthKey    // from the Secret (section 5.4.1)
	nonce     []byte     // ours, sent in our SCCRQ or SCCRP
	peerNonce []byte     // the peer's, from its SCCRQ or SCCRP

	peerRouterID uint32
	peerPW       PWCapabilities
}

// v3Auth says how a v3 tunnel with opts signs: whether it authenticates
// (a Secret and a digest), whether it signs at all, and with what.
func v3Auth(o TunnelOptions) (auth, sign bool, dt DigestType) {
	switch o.Digest {
	case DigestAuto:
		sign = len(o.Secret) > 0
	case DigestMD5:
		sign = true
	case DigestSHA1:
		sign, dt = true, DigestHMACSHA1
	}
	return sign && len(o.Secret) > 0, sign, dt
}

// check refuses options no tunnel can run with.
func (o TunnelOptions) check() error {
	switch {
	case o.Version != 0 && o.Version != 2 && o.Version != 3:
		return fmt.Errorf("Version %d: want 2 or 3", o.Version)
	case o.CookieLen != 0 && o.CookieLen != 4 && o.CookieLen != 8:
		return fmt.Errorf("CookieLen %d: want 0, 4 or 8 (RFC 3931 section 4.1)", o.CookieLen)
	case o.Digest > DigestSHA1:
		return fmt.Errorf("unknown Digest %v", o.Digest)
	}
	return nil
}

// initV3 sets up a new v3 tunnel's authentication.
func (t *Tunnel) initV3() {
	s := &t.v3s
	s.auth, s.sign, s.digest = v3Auth(t.opts)
	if s.sign {
		s.key = NewAuthKey(t.opts.Secret)
	}
	if s.auth {
		// Section 5.4.1: a cryptographically random value, at least 16
		// octets recommended.
		s.nonce = make([]byte, 16)
		rand.Read(s.nonce)
	}
}

// inputV3 handles one v3 control packet from the inbox: the digest is
// checked before anything in it is used (section 5.4.1), then it goes
// through the reliable channel as in L2TPv2; an ACK (section 6.15), like a
// ZLB, only acknowledges.
func (t *Tunnel) inputV3(p inPacket) {
	h, payload, err := ParseV3ControlHeader(p.b)
	if err != nil {
		t.ep.stats.Malformed.Add(1)
		return
	}
	if err := t.checkDigest(p.b, payload); err != nil {
		if errors.Is(err, errBeforeSCCRP) {
			t.ep.stats.DigestUnverifiable.Add(1)
		} else {
			t.ep.stats.DigestFailures.Add(1)
		}
		t.ep.debugLimited("l2tp: dropping a control message: "+err.Error(), "tunnel_id", t.localID, "peer", t.peer)
		return
	}
	pkt := p.b
	if len(payload) == 0 || msgTypeOf(payload) == MsgACK {
		pkt = nil
	}
	t.receive(p, h.Ns, h.Nr, pkt)
}

// checkDigest verifies the Message Digest of b, a v3 control packet whose
// AVPs are payload. With authentication every message must carry a good
// one; without, a digest that is there must be a good integrity check
// (section 4.3). The SCCRQ or SCCRP that opens the connection without the
// nonce of authentication, or with one when we do not authenticate, is let
// through only to be refused (StopCCN result 4, checkSCCV3).
//
// Until the SCCRP brings the peer's nonce, nothing else the peer signs can
// be checked: such a message (an ACK of a retransmitted SCCRQ that
// overtook a lost SCCRP) is dropped as errBeforeSCCRP, not as a wrong
// digest, and the SCCRP that follows acknowledges as well. The one
// exception is an unsigned StopCCN, the peer's refusal of our SCCRQ, which
// it cannot sign (checkSCCV3 on its side).
func (t *Tunnel) checkDigest(b, payload []byte) error {
	s := &t.v3s
	typ := msgTypeOf(payload)
	opening := (typ == MsgSCCRQ && t.accepted && t.ctrl == CtrlIdle) ||
		(typ == MsgSCCRP && !t.accepted && t.ctrl == CtrlWaitCtlReply)
	nonce, hasNonce := peekAVP(payload, AVPNonce)
	if opening && hasNonce != s.auth {
		return nil
	}
	if s.auth {
		remote := s.peerNonce
		if remote == nil && typ == MsgSCCRP {
			remote = nonce // verified with it before it is kept
		}
		if remote == nil && !t.accepted {
			if _, signed := peekAVP(payload, AVPMessageDigest); typ == MsgStopCCN && !signed {
				return nil
			}
			return errBeforeSCCRP
		}
		return VerifyMessage(b, s.nonce, remote, s.key)
	}
	err := VerifyMessage(b, nil, nil, NewAuthKey(nil))
	var de *DigestError
	if errors.As(err, &de) && de.Fault == DigestMissing {
		return nil
	}
	return err
}

// deliverV3 dispatches one in-order v3 control message b (a whole packet):
// its Remote Session ID AVP, our Local Session ID, says which session it
// concerns (section 5.4.4); the header has none.
func (t *Tunnel) deliverV3(b []byte) {
	_, pl, err := ParseV3ControlHeader(b)
	if err != nil {
		return // parsed once already
	}
	m, err := ParseV3Message(pl, t.opts.Secret)
	var sid uint32
	if a, ok := m.Find(AVPRemoteSessionID); ok {
		sid, _ = a.Uint32()
	}
	t.dispatch(sid, m, err, pl)
}

// checkSCCV3 judges the authentication of a v3 SCCRQ or SCCRP (sections
// 4.3 and 5.4.1: both sides authenticate or neither does) and keeps what
// the peer says of itself. A refusal goes out unsigned: the peer must be
// able to read it.
func (t *Tunnel) checkSCCV3(m *Message) (StopCCNResult, string, error) {
	s := &t.v3s
	n, hasNonce := m.Find(AVPNonce)
	switch {
	case hasNonce && !s.auth:
		s.sign = false
		return StopCCNNotAuthorized, "no secret for message authentication",
			fmt.Errorf("%w: the peer authenticates its messages, no secret configured", ErrNotAuthorized)
	case !hasNonce && s.auth:
		s.auth, s.sign = false, false
		return StopCCNNotAuthorized, "message authentication required",
			fmt.Errorf("%w: the peer does not authenticate its messages", ErrNotAuthorized)
	}
	if hasNonce && s.peerNonce == nil {
		s.peerNonce = append([]byte(nil), n.Value...)
	}
	if a, ok := m.Find(AVPRouterID); ok {
		s.peerRouterID, _ = a.Uint32()
	}
	if a, ok := m.Find(AVPPWCapabilities); ok {
		s.peerPW, _ = ParsePWCapabilities(a.Value)
	}
	return 0, "", nil
}

// sendSCCV3 sends an SCCRQ, SCCRP or SCCCN with the AVPs of RFC 3931
// sections 6.1-6.3.
func (t *Tunnel) sendSCCV3(typ MsgType) {
	m := &Message{Type: typ}
	if typ != MsgSCCCN {
		m.Add(NewV3AVPString(AVPHostName, t.ep.cfg.HostName))
		m.Add(NewV3AVPUint32(AVPRouterID, t.ep.routerID))
		m.Add(NewV3AVPUint32(AVPAssignedConnID, t.localID))
		m.Add(PWCapabilities(t.opts.PWTypes).AVP())
		m.Add(NewV3AVPUint16(AVPReceiveWindowSize, t.opts.RecvWindow))
		if t.ep.cfg.VendorName != "" {
			m.Add(NewV3AVPString(AVPVendorName, t.ep.cfg.VendorName))
		}
		if typ == MsgSCCRQ && t.tieBreaker != 0 {
			m.Add(NewV3AVPUint64(AVPControlConnectionTieBreaker, t.tieBreaker))
		}
		if t.v3s.nonce != nil {
			m.Add(NewV3AVP(AVPNonce, t.v3s.nonce))
		}
	}
	t.sendMsg(m, 0)
}

// sendMsgV3 encodes m for the peer and queues it on the reliable channel:
// the Message Digest placeholder goes right after the Message Type
// (section 5.4.1) and is filled at each transmission (outputV3).
func (t *Tunnel) sendMsgV3(m *Message) {
	mm := *m
	if t.v3s.sign {
		mm.AVPs = append([]AVP{MessageDigest{Type: t.v3s.digest}.AVP()}, m.AVPs...)
	}
	b, err := AppendV3Control(nil, EncapUDP, V3ControlHeader{ConnID: t.PeerConnID()}, &mm, AppendOptions{Secret: t.opts.Secret})
	if err != nil {
		t.ep.log.Error("l2tp: cannot encode control message", "tunnel_id", t.localID, "msg", m.Type, "err", err)
		return
	}
	t.ch.send(b, t.ep.now())
}

// outputV3 is the packet to write for o: a queued message with its Ns
// and Nr, or an acknowledgement, a ZLB or, when signing, an ACK (section
// 6.15: a ZLB cannot be authenticated). The digest covers Ns and Nr, so
// every transmission is signed again. nil: nothing to write.
func (t *Tunnel) outputV3(o transmit) []byte {
	s := &t.v3s
	b := o.Payload
	if b == nil {
		if s.auth && t.accepted && t.ctrl == CtrlWaitCtlConn {
			// The peer has not got our SCCRP, or it would not ask for
			// an acknowledgement: it cannot check an ACK signed with
			// our nonce, and the SCCRP acknowledges too.
			return nil
		}
		var m *Message
		if s.sign {
			m = &Message{Type: MsgACK, AVPs: []AVP{MessageDigest{Type: s.digest}.AVP()}}
		}
		var err error
		t.wbuf, err = AppendV3Control(t.wbuf[:0], EncapUDP, V3ControlHeader{ConnID: t.PeerConnID(), Ns: o.Ns, Nr: o.Nr}, m, AppendOptions{})
		if err != nil {
			return nil
		}
		b = t.wbuf
		t.ep.stats.ZLBTx.Add(1)
	} else {
		binary.BigEndian.PutUint16(b[8:10], o.Ns)
		binary.BigEndian.PutUint16(b[10:12], o.Nr)
	}
	if s.sign && msgTypeOf(b[V3ControlHeaderLen:]) != 0 {
		if err := SignMessage(b, s.nonce, s.peerNonce, s.key); err != nil {
			t.ep.log.Error("l2tp: cannot sign control message", "tunnel_id", t.localID, "err", err)
			return nil
		}
	}
	return b
}

// validate checks m against the message table of its version.
func (t *Tunnel) validate(m *Message) error {
	if t.v3 {
		return m.ValidateV3()
	}
	return m.Validate()
}

// assignedID is the peer's ID in an SCCRQ, SCCRP or StopCCN: its Assigned
// Tunnel ID (L2TPv2) or Assigned Control Connection ID (L2TPv3).
func assignedID(m *Message, v3 bool) (uint32, bool) {
	if v3 {
		a, ok := m.Find(AVPAssignedConnID)
		id, err := a.Uint32()
		return id, ok && err == nil
	}
	a, ok := m.Find(AVPAssignedTunnelID)
	id, err := a.Uint16()
	return uint32(id), ok && err == nil
}

// peerSessionID is the peer's Session ID in a call message: its Assigned
// Session ID (L2TPv2) or Local Session ID (L2TPv3).
func (t *Tunnel) peerSessionID(m *Message) (uint32, bool) {
	if t.v3 {
		a, ok := m.Find(AVPLocalSessionID)
		id, err := a.Uint32()
		return id, ok && err == nil
	}
	a, ok := m.Find(AVPAssignedSessionID)
	id, err := a.Uint16()
	return uint32(id), ok && err == nil
}

// msgTypeOf reads the Message Type of a control message's AVPs without
// decoding them; 0 when the first AVP is not a well-formed Message Type.
func msgTypeOf(p []byte) MsgType {
	if len(p) < avpHeaderLen+2 || int(binary.BigEndian.Uint16(p[0:2])&avpLenMask) != avpHeaderLen+2 ||
		binary.BigEndian.Uint16(p[2:4]) != 0 || AVPType(binary.BigEndian.Uint16(p[4:6])) != AVPMessageType {
		return 0
	}
	return MsgType(binary.BigEndian.Uint16(p[6:8]))
}

// peekAVP finds the clear IETF AVP typ in the AVPs of a control message
// without decoding the others; its value aliases b.
func peekAVP(b []byte, typ AVPType) ([]byte, bool) {
	for len(b) >= avpHeaderLen {
		n := int(binary.BigEndian.Uint16(b[0:2]) & avpLenMask)
		if n < avpHeaderLen || n > len(b) {
			return nil, false
		}
		if binary.BigEndian.Uint16(b[2:4]) == 0 && AVPType(binary.BigEndian.Uint16(b[4:6])) == typ && b[0]&0x40 == 0 {
			return b[avpHeaderLen:n], true
		}
		b = b[n:]
	}
	return nil, false
}
