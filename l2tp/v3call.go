package l2tp

import (
	"crypto/rand"
	"encoding/binary"
	"slices"
)

// This file holds the calls of an L2TPv3 control connection, RFC 3931
// sections 5.4.4 and 6.6-6.12: 32-bit Local and Remote Session IDs in the
// messages instead of a Session ID in the header, the Pseudowire Type, the
// cookies each side assigns, the L2-Specific Sublayer and Data Sequencing,
// and the v3 data header (section 4.1.2.1) on the wire. The call state
// machines are those of L2TPv2.

// v3Data is how an L2TPv3 session's data messages are framed, both ways.
// rx (what we receive: the cookie we assigned, the sublayer we asked for)
// is fixed once our ICRQ or ICRP is sent; tx (what we send) once the
// peer's ICRQ or ICRP arrived. It is replaced whole, never modified: the
// socket reader reads it while the tunnel goroutine sets it.
type v3Data struct {
	rx, tx   V3DataFormat
	rxCookie uint64
	txCookie uint64
	rxSeq    bool // we ask the peer to sequence its data (Data Sequencing "all")
}

// addSessionV3 allocates a v3 Session ID, unique on the endpoint (section
// 4.1: a data message is found by its Session ID alone), and the cookie
// the session asks of the peer. e.mu is held.
func (e *Endpoint) addSessionV3(t *Tunnel, s *Session) error {
	for range 64 {
		id := randUint32()
		if id == 0 || e.v3sessions[id] != nil {
			continue
		}
		s.localID = id
		d := &v3Data{rx: V3DataFormat{Encap: e.encap, CookieLen: t.opts.CookieLen}, tx: V3DataFormat{Encap: e.encap}}
		if d.rx.CookieLen > 0 {
			var b [8]byte
			rand.Read(b[:])
			d.rxCookie = binary.BigEndian.Uint64(b[:])
			if d.rx.CookieLen == 4 {
				d.rxCookie &= 0xffffffff
			}
		}
		s.v3d.Store(d)
		e.v3sessions[id] = s
		t.nsess.Add(1)
		return nil
	}
	return ErrTooManySessions
}

// dataV3 handles an L2TPv3 data message, over UDP (section 4.1.2.1) or
// over IP (section 4.1.1.1, the endpoint's encapsulation); b aliases the
// read buffer. The session is found by Session ID alone, then
// the cookie must be the one it assigned (section 4.1): a mismatch is
// dropped silently and counted.
func (e *Endpoint) dataV3(b []byte, sink *dataSink) {
	e.stats.DataRx.Add(1)
	off := v3UDPDataPrefix
	if e.encap == EncapIP {
		off = 0
	}
	if len(b) < off+4 {
		e.stats.Malformed.Add(1)
		return
	}
	sid := binary.BigEndian.Uint32(b[off:])
	if sid == 0 {
		e.stats.Malformed.Add(1) // section 4.1.2.1: reserved, never a session
		return
	}
	e.mu.RLock()
	s := e.v3sessions[sid]
	e.mu.RUnlock()
	if s == nil || sink.data == nil {
		e.stats.DataUnknownSession.Add(1)
		return
	}
	d := s.v3d.Load()
	h, frame, err := ParseV3Data(b, d.rx)
	if err != nil {
		e.stats.Malformed.Add(1)
		return
	}
	if h.Cookie != d.rxCookie {
		e.stats.CookieMismatch.Add(1)
		return
	}
	sink.data(s.t, s, Header{SessionID: uint16(sid), HasSeq: h.HasSeq, Ns: uint16(h.Seq)}, frame)
}

// sendDataV3 sends one frame on s with the v3 data header the peer asked
// for: its cookie, and the Default L2-Specific Sublayer with the sequence
// number when it wants sequenced data.
func (t *Tunnel) sendDataV3(s *Session, payload []byte) error {
	ps := s.peerID.Load()
	if ps == 0 || s.down.Load() {
		return ErrTunnelClosed
	}
	d := s.v3d.Load()
	h := V3DataHeader{SessionID: ps, Cookie: d.txCookie}
	if d.tx.Sublayer == SublayerDefault && s.seq.Load() {
		h.HasSeq = true
		h.Seq = (s.dataNs.Add(1) - 1) & SeqMask
	}
	bp := t.ep.bufPool.Get().(*[]byte)
	b, err := AppendV3Data((*bp)[:0], d.tx, h)
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

// wantsSeq reports whether AVPs a caller gives for its ICCN ask for
// sequenced data (the L2TPv2 Sequencing Required AVP).
func wantsSeq(avps []AVP) bool {
	for _, a := range avps {
		if a.VendorID == 0 && a.Type == AVPSequencingRequired {
			return true
		}
	}
	return false
}

// framingAVPs are the AVPs by which a call message asks for its data
// framing: the cookie we assigned, the sublayer and sequencing we want.
func framingAVPs(d *v3Data) []AVP {
	avps := []AVP{d.rx.Sublayer.AVP()}
	if d.rx.CookieLen > 0 {
		avps = append(avps, Cookie{Len: d.rx.CookieLen, Value: d.rxCookie}.AVP())
	}
	if d.rxSeq {
		avps = append(avps, SequenceAll.AVP())
	}
	return avps
}

// sendCallRequestV3 sends the ICRQ of section 6.6 for s (the LAC) or the
// OCRQ of section 6.9 (the LCCE asking the LAC to place a call): the same
// AVPs. A caller that asks for sequenced data gets the Default L2-Specific
// Sublayer with sequencing of all packets, both ways.
func (t *Tunnel) sendCallRequestV3(s *Session, typ MsgType) {
	d := *s.v3d.Load()
	if wantsSeq(s.req.ICCN) {
		d.rx.Sublayer, d.rxSeq = SublayerDefault, true
	}
	s.v3d.Store(&d)
	msg := &Message{Type: typ}
	msg.Add(NewV3AVPUint32(AVPLocalSessionID, s.localID))
	msg.Add(NewV3AVPUint32(AVPRemoteSessionID, 0))
	msg.Add(s.pwType.AVP())
	msg.Add(s.newCircuitStatus())
	have := map[AVPType]bool{}
	for _, a := range s.req.ICRQ {
		if a.VendorID == 0 {
			have[a.Type] = true
		}
	}
	if !have[AVPSerialNumber] {
		t.callSerial++
		msg.Add(NewV3AVPUint32(AVPSerialNumber, t.callSerial))
	}
	if !have[AVPRemoteEndID] {
		msg.Add(NewV3AVPString(AVPRemoteEndID, ""))
	}
	for _, a := range framingAVPs(&d) {
		msg.Add(a)
	}
	for _, a := range s.req.ICRQ {
		msg.Add(t.hide(a))
	}
	s.icrq = msg
	t.sendMsg(msg, 0)
}

// incomingV3 judges the pseudowire of an ICRQ (the LNS, section 6.6) or
// an OCRQ (the LAC, section 6.9) and sets the session's framing: a type we
// do not offer is refused with CDN result 14; sequencing without a
// sublayer that can carry it with result 15. We ask for the sublayer and
// sequencing the peer asked for.
func (t *Tunnel) incomingV3(s *Session, m *Message) (ResultCode, bool) {
	a, _ := m.Find(AVPPWType)
	pw, _ := ParsePWType(a.Value) // ValidateV3 checked it is there
	s.pwType = pw
	s.peerCircuitStatus(m)
	if !slices.Contains(t.opts.PWTypes, pw) {
		t.ep.debugLimited("l2tp: refusing a call: unsupported pseudowire type", "tunnel_id", t.localID, "pw_type", pw)
		return ResultCode{Result: uint16(CDNUnsupportedPWType), HasError: true, Message: "pseudowire type " + pw.String() + " not supported"}, false
	}
	if rc, ok := t.peerFramingV3(s, m); !ok {
		return rc, false
	}
	d := *s.v3d.Load()
	d.rx.Sublayer, d.rxSeq = d.tx.Sublayer, s.seq.Load()
	s.v3d.Store(&d)
	return ResultCode{}, true
}

// peerFramingV3 applies what a peer's call message (ICRQ, ICRP, ICCN or
// their outgoing counterparts) asks of our data (section 5.4.4): its
// Assigned Cookie, L2-Specific Sublayer and Data Sequencing. An AVP that
// is absent leaves what was agreed.
func (t *Tunnel) peerFramingV3(s *Session, m *Message) (ResultCode, bool) {
	d := *s.v3d.Load()
	if a, ok := m.Find(AVPAssignedCookie); ok {
		c, err := ParseCookie(a.Value)
		if err != nil {
			return ResultCode{Result: uint16(CDNGeneralError), HasError: true, Error: uint16(ErrorLength), Message: err.Error()}, false
		}
		d.tx.CookieLen, d.txCookie = c.Len, c.Value
	}
	if a, ok := m.Find(AVPL2SpecificSublayer); ok {
		st, err := ParseSublayerType(a.Value)
		if err != nil || st > SublayerDefault {
			return ResultCode{Result: uint16(CDNGeneralError), HasError: true, Error: uint16(ErrorValueOutOfRange), Message: "L2-Specific Sublayer " + st.String() + " not supported"}, false
		}
		d.tx.Sublayer = st
	}
	seq := s.seq.Load()
	if a, ok := m.Find(AVPDataSequencing); ok {
		ds, err := ParseDataSequencing(a.Value)
		if err != nil || ds > SequenceAll {
			return ResultCode{Result: uint16(CDNGeneralError), HasError: true, Error: uint16(ErrorValueOutOfRange), Message: "Data Sequencing " + ds.String()}, false
		}
		seq = ds != SequenceNone
	}
	if seq && d.tx.Sublayer != SublayerDefault {
		return ResultCode{Result: uint16(CDNNoSublayer), HasError: true, Message: "sequencing required without the Default L2-Specific Sublayer"}, false
	}
	s.seq.Store(seq)
	s.v3d.Store(&d)
	return ResultCode{}, true
}

// sendCallReplyV3 sends the ICRP of section 6.7 for s (the LNS) or the
// OCRP of section 6.10 (the LAC placing the call): the same AVPs.
func (t *Tunnel) sendCallReplyV3(s *Session, typ MsgType) {
	msg := &Message{Type: typ}
	msg.Add(NewV3AVPUint32(AVPLocalSessionID, s.localID))
	msg.Add(NewV3AVPUint32(AVPRemoteSessionID, s.RemoteSessionID()))
	msg.Add(s.newCircuitStatus())
	for _, a := range framingAVPs(s.v3d.Load()) {
		msg.Add(a)
	}
	t.sendMsg(msg, 0)
}

// sendConnectedV3 sends the ICCN of section 6.8 for s (the LAC), or the
// OCCN of section 6.11 (the LAC whose outgoing call was answered), with the
// caller's AVPs (proxy LCP and authentication of a PPP pseudowire are RFC
// 2661 AVPs, recognised in v3 too) and reports the session up. Sequencing
// Required was asked for in the ICRQ already.
func (t *Tunnel) sendConnectedV3(s *Session, typ MsgType) {
	msg := &Message{Type: typ}
	msg.Add(NewV3AVPUint32(AVPLocalSessionID, s.localID))
	msg.Add(NewV3AVPUint32(AVPRemoteSessionID, s.RemoteSessionID()))
	for _, a := range s.req.ICCN {
		if a.VendorID == 0 && a.Type == AVPSequencingRequired {
			continue
		}
		msg.Add(t.hide(a))
	}
	if active := !s.circuitDown.Load(); active != s.csActive {
		// RFC 4719 section 2.2 c: a change since the ICRQ, for an
		// existing circuit.
		s.csActive = active
		msg.Add(CircuitStatus{Active: active}.AVP())
	}
	s.iccn = msg
	t.sendMsg(msg, 0)
	t.sessionUp(s, msg)
}

// sendCDNV3 sends the CDN of section 6.12: our Local Session ID (0 when
// we never assigned one) and the peer's as Remote Session ID.
func (t *Tunnel) sendCDNV3(local, peer uint32, rc ResultCode, extra []AVP) {
	avps := append([]AVP{rc.AVP(), NewV3AVPUint32(AVPLocalSessionID, local), NewV3AVPUint32(AVPRemoteSessionID, peer)}, extra...)
	t.sendMsg(&Message{Type: MsgCDN, AVPs: avps}, 0)
}
