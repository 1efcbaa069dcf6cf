package ppp

import (
	"bytes"
	"encoding/binary"
	"time"
)

// optHandler is what a control protocol (LCP, IPCP) plugs into the automaton:
// the options of its own Configure-Request and the judgement of the peer's
// (RFC 1661 section 4.4: scr, sca, scn).
type optHandler interface {
	// request returns the options of the next Configure-Request.
	request() []Option
	// check judges a peer Configure-Request (RFC 1661 section 5.1) and
	// returns ConfAck, or ConfNak/ConfRej with the options of the reply.
	check(opts []Option) (Code, []Option)
	// acked records the peer's Configure-Ack of our request (section 5.2).
	acked(opts []Option)
	// naked and rejected adjust our next request (sections 5.3, 5.4). They
	// return false when negotiation cannot succeed.
	naked(opts []Option) bool
	rejected(opts []Option) bool
	// essential reports whether a Configure-Nak we are about to send
	// carries an option this end cannot open the protocol without; at
	// Max-Failure such a Nak ends the negotiation instead of becoming a
	// Configure-Reject.
	essential(nak []Option) bool
}

// cp runs one control protocol: the automaton, its restart timer and the
// packets of RFC 1661 section 5 (shared by LCP and the NCPs).
type cp struct {
	s     *Session
	proto Protocol
	fsm   FSM
	h     optHandler
	// maxCode is the highest code the protocol knows (11 for LCP, 7 for NCPs).
	maxCode Code

	nextID  uint8
	reqID   uint8  // Identifier of our last Configure-Request
	reqOpts []byte // its options as sent
	sentReq bool   // reqID and reqOpts are valid
	// retransmit is set while handling TO+: scr then repeats the request.
	retransmit bool
	answered   bool // a valid reply to reqID was received (RFC 1661 5.1)
	naks       int  // Configure-Naks sent since the last Configure-Ack (Max-Failure)

	// The peer's last acked Configure-Request, to recognise a repeat.
	acked     bool
	ackedID   uint8
	ackedOpts []byte
	deadline  time.Time
}

// running reports whether the protocol is negotiating or open: not in one
// of the states where it is down for good (RFC 1661 section 4.2).
func (c *cp) running() bool {
	switch c.fsm.State {
	case Initial, Starting, Closed, Stopped:
		return false
	}
	return true
}

func (c *cp) event(ev Event) {
	c.retransmit = ev == TOPlus
	acts, ok := c.fsm.Handle(ev)
	if !ok {
		c.s.stats.Illegal++
		return
	}
	s := c.s
	for _, a := range acts {
		switch a {
		case TLU:
			s.layerUp(c)
		case TLD:
			s.layerDown(c)
		case TLS:
		case TLF:
			s.layerFinished(c)
		case ZRC:
			c.deadline = s.now.Add(s.cfg.Restart)
		case SCR:
			c.sendConfReq()
		case SCA, SCN:
			s.sendPacket(c.proto, c.s.reply)
		case STR:
			c.nextID++
			s.sendPacket(c.proto, Packet{Code: TermReq, ID: c.nextID})
			c.deadline = s.now.Add(s.cfg.Restart)
		case STA:
			s.sendPacket(c.proto, Packet{Code: TermAck, ID: c.s.rx.ID})
		case SCJ:
			// RFC 1661 section 5.6: the rejected packet, truncated to the MRU.
			c.nextID++
			data := c.s.rxRaw
			if max := int(s.peerMRU()) - packetHeaderLen; len(data) > max {
				data = data[:max]
			}
			s.sendPacket(c.proto, Packet{Code: CodeRej, ID: c.nextID, Data: data})
		case SER:
			// RFC 1661 section 5.8: our Magic-Number, then the peer's data.
			d := make([]byte, 0, len(c.s.rx.Data))
			d = appendU32(d, s.lcpOpts.magic)
			if len(c.s.rx.Data) > 4 {
				d = append(d, c.s.rx.Data[4:]...)
			}
			s.sendPacket(c.proto, Packet{Code: EchoReply, ID: c.s.rx.ID, Data: d})
		}
	}
	if !c.fsm.TimerRunning() {
		c.deadline = time.Time{}
	}
}

func (c *cp) sendConfReq() {
	s := c.s
	b, err := AppendOptions(c.s.scratch[:0], c.h.request())
	if err != nil {
		s.log.Error("ppp: building Configure-Request", "proto", c.proto, "err", err)
	}
	c.s.scratch = b
	// RFC 1661 section 5.1: a retransmission keeps its Identifier; a new
	// request (changed options, or one after a valid reply) gets a new one.
	// Keeping it lets a peer that already acked recognise the repeat.
	if !c.retransmit || !c.sentReq || c.answered || !bytes.Equal(b, c.reqOpts) {
		c.nextID++
		c.reqID = c.nextID
	}
	c.sentReq = true
	c.answered = false
	c.reqOpts = append(c.reqOpts[:0], b...)
	b = c.reqOpts
	if c.proto == ProtoLCP && s.raw != nil {
		s.raw.lastSentConfReq = append(s.raw.lastSentConfReq[:0], b...)
	}
	s.sendPacket(c.proto, Packet{Code: ConfReq, ID: c.reqID, Data: b})
	c.deadline = s.now.Add(s.cfg.Restart)
}

// timeout fires the restart timer when due.
func (c *cp) timeout() {
	if c.deadline.IsZero() || c.s.now.Before(c.deadline) {
		return
	}
	c.deadline = time.Time{}
	c.event(c.fsm.Timeout())
}

// input handles one packet of this protocol (RFC 1661 section 5). The
// packet and the reply are let go afterwards: a session holds no frame
// between packets.
func (c *cp) input(b []byte) {
	c.handle(b)
	c.s.rx, c.s.rxRaw, c.s.reply = Packet{}, nil, Packet{}
}

func (c *cp) handle(b []byte) {
	s := c.s
	p, err := ParsePacket(b)
	if err != nil {
		s.stats.Malformed++
		return
	}
	c.s.rx = p
	c.s.rxRaw = b[:packetHeaderLen+len(p.Data)]
	if p.Code == 0 || p.Code > c.maxCode {
		s.stats.UnknownCode++
		c.event(RUC)
		return
	}
	switch p.Code {
	case ConfReq:
		opts, err := ParseOptions(p.Data)
		if err != nil {
			// A malformed option list cannot be answered option by option:
			// the packet is silently discarded (RFC 1661 section 5).
			s.stats.BadOptions++
			return
		}
		if r := s.raw; c.proto == ProtoLCP && r != nil {
			if r.initialRecvConfReq == nil {
				r.initialRecvConfReq = append([]byte{}, p.Data...)
			}
			r.lastRecvConfReq = append(r.lastRecvConfReq[:0], p.Data...)
		}
		if c.fsm.State == Opened && c.acked && p.ID == c.ackedID && bytes.Equal(p.Data, c.ackedOpts) {
			// RFC 1661 section 5.1: the peer must change the Identifier
			// after a valid reply, so this is the same request again (our
			// Ack was lost, or the link duplicated it): Ack it again
			// rather than renegotiate.
			s.stats.Stale++
			s.sendPacket(c.proto, Packet{Code: ConfAck, ID: p.ID, Data: p.Data})
			return
		}
		code, reply := c.h.check(opts)
		if code == ConfNak && c.naks >= s.cfg.MaxFailure {
			// RFC 1661 section 4.6, Max-Failure: the configuration is not
			// converging. Naks become Rejects, except for an option we
			// cannot do without: refusing it would open the protocol
			// without it, so the negotiation has failed.
			if c.h.essential(reply) {
				s.stats.NotConverging++
				s.log.Info("ppp: configuration not converging", "proto", c.proto, "naks", c.naks)
				s.fail(ReasonNegotiationFailed)
				return
			}
			code, reply = ConfRej, naksToRejects(opts, reply)
			if len(reply) == 0 {
				code = ConfAck // only hints were Nak'd: nothing left to refuse
			}
		}
		if code == ConfAck {
			c.naks = 0
			c.s.reply = Packet{Code: ConfAck, ID: p.ID, Data: append([]byte{}, p.Data...)}
			c.acked, c.ackedID, c.ackedOpts = true, p.ID, c.s.reply.Data
			c.event(RCRPlus)
			return
		}
		if code == ConfNak {
			c.naks++
		}
		data, _ := AppendOptions(nil, reply)
		c.s.reply = Packet{Code: code, ID: p.ID, Data: data}
		c.event(RCRMinus)
	case ConfAck:
		// RFC 1661 section 5.2: the Identifier and the options must match
		// the last Configure-Request exactly; anything else is discarded.
		if p.ID != c.reqID || c.answered || !bytes.Equal(p.Data, c.reqOpts) {
			s.stats.Stale++
			return
		}
		opts, _ := ParseOptions(p.Data)
		c.answered = true
		c.h.acked(opts)
		c.event(RCA)
	case ConfNak, ConfRej:
		if p.ID != c.reqID || c.answered {
			s.stats.Stale++
			return
		}
		opts, err := ParseOptions(p.Data)
		if err != nil {
			s.stats.BadOptions++
			return
		}
		var ok bool
		if p.Code == ConfNak {
			ok = c.h.naked(opts)
		} else {
			// RFC 1661 section 5.4: rejected options must be a subset of
			// ours, unmodified.
			sent, _ := ParseOptions(c.reqOpts)
			for _, o := range opts {
				if !containsOption(sent, o) {
					s.stats.BadOptions++
					return
				}
			}
			ok = c.h.rejected(opts)
		}
		c.answered = true
		if !ok {
			s.fail(ReasonNegotiationFailed)
			return
		}
		c.event(RCN)
	case TermReq:
		if c.proto == ProtoLCP && c.fsm.State == Opened {
			s.setReason(ReasonPeerTerminate)
		}
		c.event(RTR)
	case TermAck:
		c.event(RTA)
	case CodeRej:
		// RFC 1661 section 5.6: rejecting a code we cannot do without is
		// catastrophic (RXJ-); Echo and Discard may be rejected (RXJ+).
		rej, err := ParsePacket(p.Data)
		if err != nil && len(p.Data) > 0 {
			rej.Code = Code(p.Data[0])
		}
		if rej.Code >= ConfReq && rej.Code <= CodeRej || (c.proto == ProtoLCP && rej.Code == ProtoRej) {
			s.setReason(ReasonNegotiationFailed)
			c.event(RXJMinus)
		} else {
			c.event(RXJPlus)
		}
	case ProtoRej:
		s.protocolRejected(p)
	case EchoReq:
		if c.fsm.State != Opened {
			return // RFC 1661 section 5.8: discarded outside Opened
		}
		if len(p.Data) >= 4 && s.lcpOpts.magic != 0 && u32(p.Data) == s.lcpOpts.magic {
			s.loopSuspected()
		}
		c.event(RXR)
	case EchoReply:
		if c.fsm.State != Opened {
			return
		}
		if len(p.Data) >= 4 && s.lcpOpts.magic != 0 && u32(p.Data) == s.lcpOpts.magic {
			s.loopSuspected()
			return
		}
		// RFC 1661 section 5.8: an Echo-Reply answers our request and
		// is never answered itself (the automaton's ser action is for
		// Echo-Requests only, section 4.4); likewise Discard-Request.
		s.echoOutstanding = 0
	case DiscardReq:
	}
}

// naksToRejects turns a Configure-Nak into the Configure-Reject that replaces
// it once Max-Failure is reached: the requested options that were Nak'd.
func naksToRejects(req, nak []Option) []Option {
	var rej []Option
	for _, o := range req {
		for _, n := range nak {
			if n.Type == o.Type {
				rej = append(rej, o)
				break
			}
		}
	}
	return rej
}

func containsOption(list []Option, o Option) bool {
	for _, l := range list {
		if l.Type == o.Type && bytes.Equal(l.Data, o.Data) {
			return true
		}
	}
	return false
}

// Fixed-size option values; callers check the length first.
func u16(b []byte) uint16                 { return binary.BigEndian.Uint16(b) }
func u32(b []byte) uint32                 { return binary.BigEndian.Uint32(b) }
func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
