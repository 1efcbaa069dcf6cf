package l2tp

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Tunnel is one control connection (RFC 2661 section 7.2) and its calls.
// Its goroutine owns the reliable channel, the control state machine and
// the control state of every session; other goroutines reach it through
// its bounded inbox (packets) and command queue.
type Tunnel struct {
	ep        *Endpoint
	sock      *socket // the endpoint socket it writes from
	opts      TunnelOptions
	localID   uint32 // Tunnel ID (v2, 16 bits) or Control Connection ID (v3)
	peerID    atomic.Uint32
	v3        bool                    // an L2TPv3 control connection (RFC 3931), v3tunnel.go
	peer      netip.AddrPort          // the address dialed, or the SCCRQ's source
	dst       atomic.Pointer[peerDst] // where we send: the peer's source address and port
	lastFrom  netip.AddrPort          // source of the packet being processed
	accepted  bool
	byPeerKey peerKey
	halfOpen  bool        // under ep.mu: counted in the endpoint's half-open tunnels
	refuse    *ResultCode // accepting side: refuse the SCCRQ with this
	state     atomic.Uint32
	nsess     atomic.Int32

	tieBreaker uint64 // sent in our SCCRQ; 0: none

	infoMu   sync.Mutex
	peerHost string

	inbox chan inPacket
	// Commands from other goroutines (PlaceCall, Disconnect, Close): a
	// queue that never blocks, so a Handler may call them too.
	cmdMu     sync.Mutex
	cmdQ      []func()
	cmdClosed bool
	cmdWake   chan struct{}
	done      chan struct{}
	upCh      chan error

	// Owned by the tunnel goroutine.
	ch            *channel
	ctrl          CtrlState
	challenge     []byte // the Challenge we sent
	peerChallenge []byte // the Challenge the peer sent, answered in SCCRP/SCCCN
	upReported    bool
	calls         map[uint32]*Session // by local Session ID
	v3s           v3State
	lastRx        time.Time
	helloAt       time.Time
	lingerUntil   time.Time // zero: not lingering
	finished      bool
	stopping      bool
	stopBy        time.Time
	setupBy       time.Time // zero once established
	downSent      bool
	callSerial    uint32
	wbuf          []byte
}

// LocalAddr is the address and port of the socket the tunnel writes from
// (Config.MoreConns); the port is 0 over IP.
func (t *Tunnel) LocalAddr() netip.AddrPort { return t.sock.local }

type peerDst struct {
	ap   netip.AddrPort
	addr net.Addr // *net.UDPAddr, or *net.IPAddr over IP (the port is 0)
}

func (t *Tunnel) setDst(ap netip.AddrPort) {
	d := &peerDst{ap: ap}
	if t.ep.encap == EncapIP {
		d.addr = &net.IPAddr{IP: ap.Addr().AsSlice(), Zone: ap.Addr().Zone()}
	} else {
		d.addr = net.UDPAddrFromAddrPort(ap)
	}
	t.dst.Store(d)
}

type inPacket struct {
	b       []byte
	from    netip.AddrPort
	lostTie bool // the endpoint decided our SCCRQ lost the tie breaker
}

// LocalID is our Tunnel ID (what the peer puts in the header). On an
// L2TPv3 tunnel it is the low 16 bits of LocalConnID.
func (t *Tunnel) LocalID() uint16 { return uint16(t.localID) }

// PeerID is the peer's Tunnel ID (its Assigned Tunnel ID); 0 until known.
// On an L2TPv3 tunnel it is the low 16 bits of PeerConnID.
func (t *Tunnel) PeerID() uint16 { return uint16(t.peerID.Load()) }

// LocalConnID is our Tunnel ID (L2TPv2) or Control Connection ID
// (L2TPv3, 32 bits, RFC 3931 section 5.4.3).
func (t *Tunnel) LocalConnID() uint32 { return t.localID }

// PeerConnID is the peer's Tunnel ID or Control Connection ID; 0 until
// known.
func (t *Tunnel) PeerConnID() uint32 { return t.peerID.Load() }

// Encap is how the tunnel's messages travel: over UDP, or, for L2TPv3,
// straight over IP (RFC 3931 section 4.1.1).
func (t *Tunnel) Encap() Encap { return t.ep.encap }

// Version is the L2TP version of the tunnel: 2 (RFC 2661) or 3 (RFC 3931).
func (t *Tunnel) Version() int {
	if t.v3 {
		return 3
	}
	return 2
}

// Peer is the peer's UDP address and port, where we send: the address
// dialed until the peer's SCCRP comes from another (section 8.1: the
// recipient of an SCCRQ may answer from a new address or port), or the
// source of the SCCRQ we accepted.
func (t *Tunnel) Peer() netip.AddrPort { return t.dst.Load().ap }

// PeerHostName is the Host Name AVP the peer sent.
func (t *Tunnel) PeerHostName() string {
	t.infoMu.Lock()
	defer t.infoMu.Unlock()
	return t.peerHost
}

// State is the control connection state (section 7.2.1).
func (t *Tunnel) State() CtrlState { return CtrlState(t.state.Load()) }

// Sessions is the number of sessions on the tunnel, in any state.
func (t *Tunnel) Sessions() int { return int(t.nsess.Load()) }

// Done is closed when the tunnel's goroutine has ended (after linger).
func (t *Tunnel) Done() <-chan struct{} { return t.done }

func (t *Tunnel) String() string {
	return fmt.Sprintf("tunnel %d/%d %v", t.localID, t.PeerConnID(), t.peer)
}

// post queues a received packet; a full inbox drops it (the peer
// retransmits).
func (t *Tunnel) post(p inPacket) {
	select {
	case t.inbox <- p:
	default:
		t.ep.stats.InboxFull.Add(1)
	}
}

// do queues f to run on the tunnel goroutine; false when the tunnel has
// ended. It never blocks.
func (t *Tunnel) do(f func()) bool {
	t.cmdMu.Lock()
	if t.cmdClosed {
		t.cmdMu.Unlock()
		return false
	}
	t.cmdQ = append(t.cmdQ, f)
	t.cmdMu.Unlock()
	select {
	case t.cmdWake <- struct{}{}:
	default:
	}
	return true
}

// runCommands runs the queued commands; with last set, it also refuses
// new ones (the goroutine is ending).
func (t *Tunnel) runCommands(last bool) {
	for {
		t.cmdMu.Lock()
		q := t.cmdQ
		t.cmdQ = nil
		if last && len(q) == 0 {
			t.cmdClosed = true
		}
		t.cmdMu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, f := range q {
			f()
		}
		if !last {
			return
		}
	}
}

// Close sends StopCCN with rc (section 7.6) and clears the tunnel and its
// sessions. It does not wait; Done is closed after the linger.
func (t *Tunnel) Close(rc ResultCode) {
	t.do(func() { t.ctrlEvent(CtrlClose, rc, fmt.Errorf("%w: closed locally", ErrTunnelClosed)) })
}

// start runs the tunnel's goroutine, unless the endpoint is shutting down
// (then the tunnel is unregistered and false returned): Run's wait for the
// tunnel goroutines must never race with a new one being added.
func (t *Tunnel) start() bool {
	e := t.ep
	e.startMu.Lock()
	defer e.startMu.Unlock()
	if e.closing {
		e.remove(t)
		close(t.done)
		return false
	}
	e.wg.Add(1)
	go t.run()
	return true
}

func (t *Tunnel) run() {
	defer t.ep.wg.Done()
	defer close(t.done)
	defer t.ep.remove(t)
	// Commands queued as the tunnel ends still run: a PlaceCall gets its
	// SessionDown, a Disconnect finds its session gone.
	defer t.runCommands(true)
	t.begin()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stopping := t.ep.stopping
	for {
		t.flush()
		if t.finished {
			return
		}
		if dl := t.nextDeadline(); !dl.IsZero() {
			timer.Reset(max(dl.Sub(t.ep.now()), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case p := <-t.inbox:
			t.input(p)
		case <-t.cmdWake:
			t.runCommands(false)
		case <-timer.C:
			t.onTimer()
		case <-stopping:
			stopping = nil
			t.stopping = true
			t.stopBy = t.ep.now().Add(t.ep.cfg.ShutdownTimeout)
			if t.ctrl == CtrlIdle && t.lingerUntil.IsZero() {
				t.finish(ResultCode{Result: uint16(StopCCNShuttingDown)}, fmt.Errorf("%w: shutting down", ErrTunnelClosed))
			} else if t.lingerUntil.IsZero() {
				t.ctrlEvent(CtrlClose, ResultCode{Result: uint16(StopCCNShuttingDown)}, fmt.Errorf("%w: shutting down", ErrTunnelClosed))
			} else if t.ch.outstanding() == 0 {
				t.finished = true // already cleared and acknowledged
			}
		}
	}
}

// begin starts the tunnel on its goroutine: the dialing side sends its
// SCCRQ (section 7.2.1, local open request).
func (t *Tunnel) begin() {
	now := t.ep.now()
	t.lastRx = now
	// A peer that acknowledges but never completes the three-way
	// handshake would hold the tunnel forever: give it one
	// retransmission cycle.
	t.setupBy = now.Add(t.ch.cycle())
	if !t.accepted {
		t.ctrlEvent(CtrlOpen, ResultCode{}, nil)
	}
}

func (t *Tunnel) nextDeadline() time.Time {
	dl := t.ch.nextDeadline()
	for _, d := range []time.Time{t.helloAt, t.lingerUntil, t.stopBy, t.setupBy} {
		if !d.IsZero() && (dl.IsZero() || d.Before(dl)) {
			dl = d
		}
	}
	return dl
}

func (t *Tunnel) onTimer() {
	now := t.ep.now()
	if err := t.ch.tick(now); err != nil {
		if t.downSent {
			// Our StopCCN went unacknowledged: nothing left to wait for.
			t.finished = true
			return
		}
		t.ep.stats.RetryExhaust.Add(1)
		t.ep.log.Warn("l2tp: peer stopped acknowledging", "tunnel_id", t.localID, "peer", t.peer)
		t.finish(ResultCode{Result: uint16(StopCCNGeneralError), HasError: true}, fmt.Errorf("%w (%d retransmissions)", ErrPeerUnreachable, t.opts.MaxRetries))
		return
	}
	if !t.lingerUntil.IsZero() && !now.Before(t.lingerUntil) {
		t.finished = true
		return
	}
	if t.stopping && !t.stopBy.IsZero() && (!now.Before(t.stopBy) || (t.ch.outstanding() == 0 && !t.lingerUntil.IsZero())) {
		t.finished = true
		return
	}
	if !t.setupBy.IsZero() && !now.Before(t.setupBy) {
		t.setupBy = time.Time{}
		if t.ctrl != CtrlEstablished && !t.downSent {
			t.ctrlEvent(CtrlClose, ResultCode{Result: uint16(StopCCNGeneralError), HasError: true, Message: "control connection set-up timed out"},
				fmt.Errorf("%w: set-up not completed in %v", ErrPeerUnreachable, t.ch.cycle()))
			return
		}
	}
	if !t.helloAt.IsZero() && !now.Before(t.helloAt) {
		// Section 6.5: keepalive after the idle interval; an unanswered
		// HELLO exhausts the retransmissions and clears the tunnel.
		if t.ch.outstanding() == 0 {
			t.ep.stats.HellosTx.Add(1)
			t.sendMsg(&Message{Type: MsgHELLO}, 0)
		}
		t.helloAt = now.Add(t.opts.HelloInterval)
	}
}

// input handles one control packet from the inbox.
func (t *Tunnel) input(p inPacket) {
	if p.lostTie {
		t.ctrlEvent(CtrlRecvSCCRQLoseTie, ResultCode{}, ErrTieBreakerLost)
		return
	}
	if t.v3 {
		t.inputV3(p)
		return
	}
	h, payload, err := ParseHeader(p.b)
	if err != nil || !h.Control {
		t.ep.stats.Malformed.Add(1)
		return
	}
	// The channel keeps whole packets: a message queued ahead of a gap
	// keeps its own header (Session ID).
	pkt := p.b
	if len(payload) == 0 {
		pkt = nil
	}
	t.receive(p, h.Ns, h.Nr, pkt)
}

// receive passes one control packet (nil: a ZLB or ACK) through the
// reliable channel and delivers what is now in order.
func (t *Tunnel) receive(p inPacket, ns, nr uint16, pkt []byte) {
	now := t.ep.now()
	t.lastRx = now
	t.lastFrom = p.from
	if t.ctrl == CtrlEstablished && t.opts.HelloInterval > 0 {
		t.helloAt = now.Add(t.opts.HelloInterval)
	}
	for _, b := range t.ch.receive(ns, nr, pkt, now) {
		if t.finished {
			return
		}
		if t.v3 {
			t.deliverV3(b)
			continue
		}
		hh, pl, err := ParseHeader(b)
		if err != nil {
			continue // parsed once already
		}
		t.deliver(hh.SessionID, pl)
	}
	if t.stopping && !t.lingerUntil.IsZero() && t.ch.outstanding() == 0 {
		t.finished = true // our shutdown StopCCN is acknowledged
	}
}

// deliver dispatches one in-order control message.
func (t *Tunnel) deliver(sid uint16, b []byte) {
	m, err := ParseMessage(b, t.opts.Secret)
	t.dispatch(uint32(sid), m, err, b)
}

// dispatch acts on one in-order control message m of either version, as
// decoded from b (err is the decoding's); sid is our Session ID it is for
// (0: none).
func (t *Tunnel) dispatch(sid uint32, m Message, err error, b []byte) {
	if err != nil {
		var um *UnknownMandatoryAVPError
		if errors.As(err, &um) {
			// Section 4.1: an unknown mandatory AVP clears the session
			// the message belongs to, or the tunnel. The message type
			// says which: an ICRQ or OCRQ carries Session ID 0 in its
			// header and still concerns one session only.
			t.ep.stats.UnknownMandatory.Add(1)
			if m.Type.SessionScoped() {
				t.unknownMandatoryInCall(sid, &m, um)
				return
			}
			ev, ok := badSCC(m.Type)
			if !ok {
				ev = CtrlClose
			}
			if pid, found := assignedID(&m, t.v3); found && t.PeerConnID() == 0 {
				t.peerID.Store(pid) // so the StopCCN reaches the peer
			}
			t.ctrlEvent(ev, um.Result(), fmt.Errorf("%w: %v", ErrProtocol, err))
			return
		}
		t.ep.stats.Malformed.Add(1)
		t.ep.debugLimited("l2tp: undecodable control message", "tunnel_id", t.localID, "peer", t.peer, "err", err)
		if ev, ok := badSCC(m.Type); ok && t.lingerUntil.IsZero() {
			// An SCCRQ, SCCRP or SCCCN we cannot decode is "not
			// acceptable" (section 7.2.1). With hidden AVPs that do not
			// reveal, the secrets differ: result 4 (section 5.1.1).
			rc := ResultCode{Result: uint16(StopCCNGeneralError), HasError: true, Error: uint16(ErrorValueOutOfRange), Message: err.Error()}
			cause := fmt.Errorf("%w: %v", ErrProtocol, err)
			if len(t.opts.Secret) > 0 && hasHidden(b) {
				t.ep.stats.AuthFailures.Add(1)
				t.ep.log.Warn("l2tp: tunnel authentication failed: hidden AVPs do not reveal with our secret", "tunnel_id", t.localID, "peer", t.peer)
				rc = ResultCode{Result: uint16(StopCCNNotAuthorized), HasError: true, Message: "hidden AVPs do not reveal"}
				cause = fmt.Errorf("%w: %v", ErrNotAuthorized, err)
			}
			t.ctrlEvent(ev, rc, cause)
		}
		return
	}
	if !t.lingerUntil.IsZero() {
		return // cleared: only re-acknowledge (done by the channel)
	}
	switch m.Type {
	case MsgSCCRQ, MsgSCCRP, MsgSCCCN:
		t.ctrlMessage(&m)
	case MsgStopCCN:
		t.ep.stats.StopCCNRx.Add(1)
		rc := resultOf(&m)
		t.ep.log.Info("l2tp: peer closed the tunnel", "tunnel_id", t.localID, "peer", t.peer, "result", rc.Describe(MsgStopCCN))
		t.ctrlEvent(CtrlRecvStopCCN, rc, fmt.Errorf("%w: %s", ErrStopCCN, rc.Describe(MsgStopCCN)))
	case MsgHELLO:
		// Acknowledged by the channel; nothing else to do (section 6.5).
	default:
		if t.ctrl != CtrlEstablished {
			t.ep.stats.UnexpectedMsg.Add(1)
			return
		}
		t.callMessage(sid, &m)
	}
}

func resultOf(m *Message) ResultCode {
	if a, ok := m.Find(AVPResultCode); ok {
		if rc, err := ParseResultCode(a.Value); err == nil {
			return rc
		}
	}
	return ResultCode{}
}

// ctrlMessage judges an SCCRQ, SCCRP or SCCCN acceptable or not and feeds
// the control state machine.
func (t *Tunnel) ctrlMessage(m *Message) {
	bad := func(result StopCCNResult, msg string, err error) (CtrlEvent, ResultCode, error) {
		rc := ResultCode{Result: uint16(result), HasError: true, Message: msg}
		ev := map[MsgType]CtrlEvent{MsgSCCRQ: CtrlRecvSCCRQBad, MsgSCCRP: CtrlRecvSCCRPBad, MsgSCCCN: CtrlRecvSCCCNBad}[m.Type]
		return ev, rc, err
	}
	if m.Type != MsgSCCCN {
		if pid, ok := assignedID(m, t.v3); ok && t.ctrl != CtrlEstablished {
			t.peerID.Store(pid)
		}
	}
	ev, rc, err := func() (CtrlEvent, ResultCode, error) {
		if t.refuse != nil && m.Type == MsgSCCRQ {
			ev, _, err := bad(StopCCNResult(t.refuse.Result), t.refuse.Message, fmt.Errorf("%w: refused by Accept", ErrNotAuthorized))
			t.v3s.sign = false // a v3 refusal goes out unsigned, as checkSCCV3's
			return ev, *t.refuse, err
		}
		if err := t.validate(m); err != nil {
			return bad(StopCCNGeneralError, err.Error(), fmt.Errorf("%w: %v", ErrProtocol, err))
		}
		if m.Type == MsgSCCCN {
			if err := t.checkResponse(m, MsgSCCCN); err != nil {
				return bad(StopCCNNotAuthorized, "challenge response", err)
			}
			return CtrlRecvSCCCN, ResultCode{}, nil
		}
		// SCCRQ, SCCRP: version, IDs, window, authentication.
		if a, ok := m.Find(AVPProtocolVersion); ok {
			if v, err := ParseProtocolVersion(a.Value); err != nil || v.Version != 1 {
				// Section 4.4.3: Error Code carries the highest version we
				// support, 1.0.
				ev, rc, err := bad(StopCCNBadVersion, "", fmt.Errorf("%w: protocol version %v", ErrProtocol, v))
				rc.Error = 0x0100
				return ev, rc, err
			}
		}
		if a, ok := m.Find(AVPHostName); ok {
			t.infoMu.Lock()
			t.peerHost = string(a.Value)
			t.infoMu.Unlock()
		}
		if a, ok := m.Find(AVPReceiveWindowSize); ok {
			if w, err := a.Uint16(); err == nil {
				t.ch.setPeerWindow(w)
			}
		}
		if m.Type == MsgSCCRP {
			if t.opts.PeerHostName != "" && t.opts.PeerHostName != t.PeerHostName() {
				return bad(StopCCNNotAuthorized, "unexpected host name", fmt.Errorf("%w: peer host name %q", ErrNotAuthorized, t.PeerHostName()))
			}
			if err := t.checkResponse(m, MsgSCCRP); err != nil {
				return bad(StopCCNNotAuthorized, "challenge response", err)
			}
		}
		if t.v3 {
			if result, msg, err := t.checkSCCV3(m); err != nil {
				return bad(result, msg, err)
			}
		} else if _, ok := m.Find(AVPChallenge); ok && len(t.opts.Secret) == 0 {
			return bad(StopCCNNotAuthorized, "no secret for the challenge", fmt.Errorf("%w: peer challenged, no secret configured", ErrNotAuthorized))
		}
		if _, ok := m.Find(AVPChallenge); !ok && t.opts.RequireAuth && !t.v3 {
			return bad(StopCCNNotAuthorized, "challenge required", fmt.Errorf("%w: peer did not challenge", ErrNotAuthorized))
		}
		if m.Type == MsgSCCRQ {
			return CtrlRecvSCCRQ, ResultCode{}, nil
		}
		return CtrlRecvSCCRP, ResultCode{}, nil
	}()
	if ev == CtrlRecvSCCRP && t.lastFrom.IsValid() && t.lastFrom != t.Peer() {
		t.ep.log.Info("l2tp: peer answered from a new address", "tunnel_id", t.localID, "peer", t.peer, "from", t.lastFrom)
		t.setDst(t.lastFrom)
	}
	if rc.Result == uint16(StopCCNNotAuthorized) && t.refuse == nil {
		t.ep.stats.AuthFailures.Add(1)
		t.ep.log.Warn("l2tp: tunnel authentication failed", "tunnel_id", t.localID, "peer", t.peer, "host", t.PeerHostName(), "err", err)
	}
	t.peerChallenge = nil
	if a, ok := m.Find(AVPChallenge); ok {
		t.peerChallenge = append([]byte(nil), a.Value...)
	}
	t.ctrlEvent(ev, rc, err)
}

// checkResponse verifies the Challenge Response of an SCCRP or SCCCN
// against the Challenge we sent (section 5.1.1).
func (t *Tunnel) checkResponse(m *Message, typ MsgType) error {
	if t.challenge == nil {
		return nil
	}
	a, ok := m.Find(AVPChallengeResponse)
	if !ok {
		return fmt.Errorf("%w: %v without Challenge Response", ErrNotAuthorized, typ)
	}
	want := ChallengeResponse(typ, t.opts.Secret, t.challenge)
	// Constant time: the comparison must not tell a forger how many
	// octets of its guess were right.
	if subtle.ConstantTimeCompare(a.Value, want[:]) != 1 {
		return fmt.Errorf("%w: wrong Challenge Response in %v", ErrNotAuthorized, typ)
	}
	return nil
}

// ctrlEvent runs the control connection state machine and performs its
// actions. rc and err describe why the tunnel would go down.
func (t *Tunnel) ctrlEvent(ev CtrlEvent, rc ResultCode, err error) {
	next, acts := ctrlTransition(t.ctrl, ev)
	prev := t.ctrl
	t.ctrl = next
	t.state.Store(uint32(next))
	for _, a := range acts {
		switch a {
		case ActSendSCCRQ:
			t.sendSCC(MsgSCCRQ)
		case ActSendSCCRP:
			t.sendSCC(MsgSCCRP)
		case ActSendSCCCN:
			t.sendSCC(MsgSCCCN)
		case ActSendStopCCN:
			if rc.Result == 0 {
				// A message the section 7.2.1 table does not allow here.
				rc = ResultCode{Result: uint16(StopCCNFSMError), HasError: true, Message: ev.String() + " in " + prev.String()}
				if err == nil {
					err = fmt.Errorf("%w: %v in state %v", ErrProtocol, ev, prev)
				}
			}
			t.ep.stats.StopCCNTx.Add(1)
			// Never hidden: a peer with the wrong secret must still
			// read why it is refused.
			m := &Message{Type: MsgStopCCN, AVPs: []AVP{
				NewAVPUint16(AVPAssignedTunnelID, uint16(t.localID)),
				rc.AVP(),
			}}
			if t.v3 {
				m.AVPs[0] = NewV3AVPUint32(AVPAssignedConnID, t.localID)
			}
			t.sendMsg(m, 0)
		case ActTunnelOpen:
			if prev != CtrlEstablished {
				t.up()
			}
		case ActCleanup:
			t.finish(rc, err)
		case ActRequeueSCCRQ:
			// The endpoint accepts the peer's SCCRQ as a new tunnel.
		case ActUnexpected:
			t.ep.stats.UnexpectedMsg.Add(1)
			t.ep.debugLimited("l2tp: control message not allowed in this state", "tunnel_id", t.localID, "state", prev, "event", ev)
		}
	}
}

func (t *Tunnel) up() {
	t.upReported = true
	t.ep.established(t)
	t.setupBy = time.Time{}
	t.ep.stats.TunnelsUp.Add(1)
	if t.opts.HelloInterval > 0 {
		t.helloAt = t.ep.now().Add(t.opts.HelloInterval)
	}
	t.ep.log.Info("l2tp: tunnel up", "tunnel_id", t.localID, "peer_tunnel_id", t.PeerConnID(), "peer", t.peer, "host", t.PeerHostName(), "version", t.Version())
	select {
	case t.upCh <- nil:
	default:
	}
	t.ep.h.TunnelUp(t)
	// Section 7.4.1 wait-tunnel: calls placed before the tunnel was up.
	for _, s := range t.calls {
		if s.state == CallWaitTunnel {
			t.callEvent(s, CallTunnelOpen, nil, ResultCode{})
		}
	}
}

// finish clears the tunnel: every session down, TunnelDown, and a linger
// of a full retransmission cycle (section 5.8) to re-acknowledge the peer,
// unless the peer is gone.
func (t *Tunnel) finish(rc ResultCode, err error) {
	if t.downSent {
		return
	}
	t.downSent = true
	t.ctrl = CtrlIdle
	t.state.Store(uint32(CtrlIdle))
	t.helloAt = time.Time{}
	srr := rc
	if errors.Is(err, ErrPeerUnreachable) {
		srr = ResultCode{Result: uint16(CDNGeneralError), HasError: true}
	}
	for _, s := range t.calls {
		t.dropCall(s, srr)
	}
	if err == nil {
		err = ErrTunnelClosed
	}
	select {
	case t.upCh <- fmt.Errorf("l2tp: tunnel to %v: %w", t.peer, &TunnelError{Result: rc, Err: err}):
	default:
	}
	if t.upReported {
		t.ep.stats.TunnelsDown.Add(1)
		t.ep.h.TunnelDown(t, rc, err)
	}
	if errors.Is(err, ErrPeerUnreachable) || errors.Is(err, ErrTieBreakerLost) {
		t.finished = true
		return
	}
	t.lingerUntil = t.ep.now().Add(t.ch.cycle())
}

// sendSCC sends an SCCRQ, SCCRP or SCCCN with the AVPs of sections 6.1-6.3.
func (t *Tunnel) sendSCC(typ MsgType) {
	if t.v3 {
		t.sendSCCV3(typ)
		return
	}
	m := &Message{Type: typ}
	if typ != MsgSCCCN {
		m.Add(ProtocolVersion1.AVP())
		m.Add(FramingSync.AVP(AVPFramingCapabilities))
		m.Add(NewAVPString(AVPHostName, t.ep.cfg.HostName))
		m.Add(NewAVPUint16(AVPAssignedTunnelID, uint16(t.localID)))
		m.Add(NewAVPUint16(AVPReceiveWindowSize, t.opts.RecvWindow))
		if t.ep.cfg.FirmwareRevision != 0 {
			m.Add(NewAVPUint16(AVPFirmwareRevision, t.ep.cfg.FirmwareRevision))
		}
		if t.ep.cfg.VendorName != "" {
			m.Add(NewAVPString(AVPVendorName, t.ep.cfg.VendorName))
		}
		if typ == MsgSCCRQ && t.tieBreaker != 0 {
			m.Add(NewAVPUint64(AVPTieBreaker, t.tieBreaker))
		}
		if len(t.opts.Secret) > 0 {
			t.challenge = make([]byte, 16)
			rand.Read(t.challenge)
			m.Add(NewAVPBytes(AVPChallenge, t.challenge))
		}
	}
	if typ != MsgSCCRQ && t.peerChallenge != nil {
		r := ChallengeResponse(typ, t.opts.Secret, t.peerChallenge)
		m.Add(NewAVPBytes(AVPChallengeResponse, r[:]))
	}
	// Nothing hidden (see TunnelOptions.HideAVPs): the peer may need the
	// whole message to find its secret.
	t.sendMsg(m, 0)
}

// hide marks a call message's AVP a as hidden (section 4.3) when the
// tunnel hides AVPs and a is one that carries the subscriber's
// credentials, or, with HideNumbers, the subscriber's numbers.
func (t *Tunnel) hide(a AVP) AVP {
	if !t.opts.HideAVPs || len(t.opts.Secret) == 0 || a.VendorID != 0 {
		return a
	}
	switch a.Type {
	case AVPProxyAuthenName, AVPProxyAuthenChallenge, AVPProxyAuthenID, AVPProxyAuthenResponse:
		a.Hidden = true
	case AVPCallingNumber, AVPCalledNumber:
		a.Hidden = t.opts.HideNumbers
	}
	return a
}

// sendMsg encodes m for the peer and queues it on the reliable channel.
// The header's Ns and Nr are filled at each transmission.
func (t *Tunnel) sendMsg(m *Message, peerSID uint32) {
	if t.v3 {
		t.sendMsgV3(m)
		return
	}
	h := Header{Control: true, TunnelID: t.PeerID(), SessionID: uint16(peerSID)}
	b, err := AppendControl(nil, h, m, t.opts.Secret, nil)
	if err != nil {
		t.ep.log.Error("l2tp: cannot encode control message", "tunnel_id", t.localID, "msg", m.Type, "err", err)
		return
	}
	t.ch.send(b, t.ep.now())
}

// flush writes what the channel has to send, setting Ns and Nr (section
// 3.1: octets 8-11 of the control header).
func (t *Tunnel) flush() {
	for _, o := range t.ch.takeOutput() {
		b := o.Payload
		if t.v3 {
			if b = t.outputV3(o); b == nil {
				continue
			}
		} else if b == nil {
			var err error
			t.wbuf, err = AppendControl(t.wbuf[:0], Header{Control: true, TunnelID: t.PeerID(), Ns: o.Ns, Nr: o.Nr}, nil, nil, nil)
			if err != nil {
				continue
			}
			b = t.wbuf
			t.ep.stats.ZLBTx.Add(1)
		} else {
			binary.BigEndian.PutUint16(b[8:10], o.Ns)
			binary.BigEndian.PutUint16(b[10:12], o.Nr)
		}
		t.ep.stats.ControlTx.Add(1)
		if err := t.ep.writeControl(t, b); err != nil {
			t.ep.debugLimited("l2tp: control write failed", "tunnel_id", t.localID, "peer", t.peer, "err", err)
		}
	}
}

// badSCC is the "not acceptable" event of a control connection message.
func badSCC(t MsgType) (CtrlEvent, bool) {
	switch t {
	case MsgSCCRQ:
		return CtrlRecvSCCRQBad, true
	case MsgSCCRP:
		return CtrlRecvSCCRPBad, true
	case MsgSCCCN:
		return CtrlRecvSCCCNBad, true
	}
	return 0, false
}

// hasHidden reports whether any AVP of an encoded message has the H bit.
func hasHidden(b []byte) bool {
	for len(b) >= 6 {
		n := int(binary.BigEndian.Uint16(b[0:2]) & 0x03ff)
		if n < 6 || n > len(b) {
			return false
		}
		if b[0]&0x40 != 0 {
			return true
		}
		b = b[n:]
	}
	return false
}
