package l2tp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Endpoint is one UDP socket serving many tunnels (RFC 2661 section 8.1),
// or one socket of IP protocol 115 serving L2TPv3 (RFC 3931 section 4.1.1).
// A reader goroutine (Run) demultiplexes: control messages by Tunnel ID
// onto the owning tunnel's bounded inbox (a new SCCRQ, Tunnel ID 0, by the
// peer's address and Assigned Tunnel ID, so a retransmitted SCCRQ finds the
// tunnel it made), data messages straight to Config.Data. Each tunnel has
// one goroutine owning its control channel and its sessions' control
// state; there is no goroutine per session.
type Endpoint struct {
	conn  net.PacketConn
	encap Encap     // EncapIP on a raw socket of IP protocol 115, else EncapUDP
	socks []*socket // conn, then Config.MoreConns
	cfg   Config
	log   *slog.Logger
	h     Handler
	now   func() time.Time
	stats *Stats // Config.Stats, or the endpoint's own

	mu            sync.RWMutex
	tunnels       map[uint32]*Tunnel  // by local Tunnel ID (v2, below 65536) or Control Connection ID (v3)
	byPeer        map[peerKey]*Tunnel // accepted tunnels by (peer, peer's Tunnel ID, version)
	halfOpen      map[netip.Addr]int  // accepted tunnels not yet established, by peer address
	halfOpenTotal int
	sessions      map[uint32]*Session // v2, by local tunnel<<16 | local session, for data
	v3sessions    map[uint32]*Session // v3, by local Session ID alone (RFC 3931 section 4.1)
	routerID      uint32              // Router ID AVP of v3 tunnels

	running   atomic.Bool
	lastDebug atomic.Int64 // unix nanoseconds of the last rate-limited debug line
	peerLog   peerLog
	started   chan struct{} // closed when Run starts
	stopping  chan struct{} // closed when Run's context is done
	startMu   sync.Mutex    // orders tunnel starts (wg.Add) before Run's wg.Wait
	closing   bool          // under startMu: Run is shutting down, no new tunnel
	wg        sync.WaitGroup
	bufPool   sync.Pool
}

// dataSink is where one reader goroutine delivers data messages
// (Config.Data and DataBatchEnd, or a pair of Config.DataSinks).
type dataSink struct {
	data func(*Tunnel, *Session, Header, []byte)
	end  func()
}

func (e *Endpoint) newSink() *dataSink {
	if e.cfg.DataSinks != nil {
		d, end := e.cfg.DataSinks()
		return &dataSink{d, end}
	}
	return &dataSink{e.cfg.Data, e.cfg.DataBatchEnd}
}

// socket is one of the endpoint's sockets and the tunnels it carries.
type socket struct {
	conn    net.PacketConn
	udp     *net.UDPConn // conn, when it is one
	local   netip.AddrPort
	first   bool         // the endpoint's own socket (conn), which takes SCCRQs
	tunnels atomic.Int32 // tunnels that write from it
}

func newSocket(conn net.PacketConn, first bool) *socket {
	s := &socket{conn: conn, first: first}
	s.udp, _ = conn.(*net.UDPConn)
	if ap, ok := addrPort(conn.LocalAddr()); ok {
		s.local = ap
	}
	return s
}

type peerKey struct {
	addr netip.AddrPort
	id   uint32 // the peer's Tunnel ID (v2) or Control Connection ID (v3)
	v3   bool
}

// NewEndpoint returns an Endpoint on conn; call Run to serve it.
func NewEndpoint(conn net.PacketConn, cfg Config) (*Endpoint, error) {
	if conn == nil {
		return nil, errors.New("l2tp: NewEndpoint: nil conn")
	}
	if cfg.HostName == "" {
		return nil, errors.New("l2tp: NewEndpoint: Config.HostName is required (section 6.1)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InboxSize <= 0 {
		cfg.InboxSize = 256
	}
	if cfg.MaxTunnels <= 0 {
		cfg.MaxTunnels = 4096
	}
	if cfg.MaxHalfOpen <= 0 {
		cfg.MaxHalfOpen = 1024
	}
	if cfg.MaxHalfOpenPerPeer <= 0 {
		cfg.MaxHalfOpenPerPeer = 64
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 2 * time.Second
	}
	h := cfg.Handler
	if h == nil {
		h = NopHandler{}
	}
	e := &Endpoint{
		conn:       conn,
		cfg:        cfg,
		log:        cfg.Logger,
		h:          h,
		now:        cfg.Now,
		tunnels:    make(map[uint32]*Tunnel),
		byPeer:     make(map[peerKey]*Tunnel),
		halfOpen:   make(map[netip.Addr]int),
		sessions:   make(map[uint32]*Session),
		v3sessions: make(map[uint32]*Session),
		started:    make(chan struct{}),
		stopping:   make(chan struct{}),
	}
	if e.stats = cfg.Stats; e.stats == nil {
		e.stats = new(Stats)
	}
	if _, ok := conn.(*net.IPConn); ok || cfg.Encap == EncapIP {
		e.encap = EncapIP
	}
	e.socks = []*socket{newSocket(conn, true)}
	for _, c := range cfg.MoreConns {
		if e.encap == EncapIP || e.socks[0].udp == nil {
			return nil, errors.New("l2tp: NewEndpoint: Config.MoreConns needs a UDP endpoint")
		}
		e.socks = append(e.socks, newSocket(c, false))
	}
	e.routerID = routerID(cfg, e.socks[0].local.Addr())
	e.bufPool.New = func() any { b := make([]byte, 0, 2048); return &b }
	return e, nil
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() *Stats { return e.stats }

// Tunnels returns the tunnels that exist now, in no particular order.
func (e *Endpoint) Tunnels() []*Tunnel {
	e.mu.RLock()
	defer e.mu.RUnlock()
	r := make([]*Tunnel, 0, len(e.tunnels))
	for _, t := range e.tunnels {
		r = append(r, t)
	}
	return r
}

// Run reads the socket until ctx is done, then sends StopCCN (result 6,
// shutting down) on every tunnel, waits up to Config.ShutdownTimeout for
// them to be acknowledged, and returns. It returns nil after a shutdown
// and the read error if the socket fails.
func (e *Endpoint) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("l2tp: Run called twice")
	}
	e.startMu.Lock()
	e.closing = false
	e.startMu.Unlock()
	close(e.started)
	readErr := make(chan error, 1)
	go func() { readErr <- e.readLoop() }()
	var more sync.WaitGroup
	moreErr := make(chan error, len(e.socks))
	for _, s := range e.socks[1:] {
		more.Go(func() {
			if err := e.readBatchLoop(s); err != nil {
				moreErr <- err
			}
		})
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-readErr:
		readErr = nil
	case err = <-moreErr:
	}
	close(e.stopping) // every tunnel sends StopCCN and finishes
	e.startMu.Lock()
	e.closing = true
	e.startMu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.cfg.ShutdownTimeout):
		e.log.Warn("l2tp: tunnels still lingering at shutdown", "tunnels", len(e.Tunnels()))
	}
	if readErr != nil {
		e.conn.SetReadDeadline(time.Unix(1, 0)) // release the blocked read
		<-readErr
	}
	for _, s := range e.socks[1:] {
		s.conn.SetReadDeadline(time.Unix(1, 0))
	}
	more.Wait()
	<-done // tunnel goroutines end on e.stopping once the reader is gone
	e.running.Store(false)
	return err
}

// readLoop is the socket reader: it decodes the header in place, hands
// data messages to Config.Data, and copies control messages onto the owning
// tunnel's inbox.
func (e *Endpoint) readLoop() error {
	if e.socks[0].udp != nil {
		return e.readBatchLoop(e.socks[0])
	}
	if c, ok := e.conn.(*net.IPConn); ok {
		return e.readIPBatchLoop(c)
	}
	buf := make([]byte, 65536)
	sink := e.newSink()
	for {
		n, addr, err := e.conn.ReadFrom(buf)
		if err != nil {
			if again, end := e.readFailed(err); !again {
				return end
			}
			continue
		}
		from, ok := addrPort(addr)
		if !ok {
			continue
		}
		e.inputTo(buf[:n], from, sink)
		if sink.end != nil {
			sink.end()
		}
	}
}

// readFailed says what a read error means: again (a deadline while not
// stopping), the end of the reader (nil: shutting down or closed), or
// the error that ends it.
func (e *Endpoint) readFailed(err error) (again bool, end error) {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		select {
		case <-e.stopping:
			return false, nil
		default:
		}
		return true, nil
	}
	if errors.Is(err, net.ErrClosed) {
		return false, nil
	}
	return false, fmt.Errorf("l2tp: read: %w", err)
}

// readIPBatchLoop reads a raw socket of IP protocol 115 (L2TPv3 over IP,
// RFC 3931 section 4.1.1) with recvmmsg, up to 64 packets per system
// call. Over IPv4 the kernel gives a raw socket each packet with its IP
// header, skipped here by its IHL (RFC 791 section 3.1); over IPv6 it
// gives the payload.
func (e *Endpoint) readIPBatchLoop(c *net.IPConn) error {
	const batchSize, bufSize = 64, 65536
	var rb batchReader
	v4 := true
	if la, ok := c.LocalAddr().(*net.IPAddr); ok && la.IP != nil && la.IP.To4() == nil {
		v4 = false
		rb = ipv6.NewPacketConn(c)
	} else {
		rb = ipv4.NewPacketConn(c)
	}
	mem := make([]byte, batchSize*bufSize)
	msgs := make([]ipv4.Message, batchSize)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{mem[i*bufSize : (i+1)*bufSize : (i+1)*bufSize]}
	}
	sink := e.newSink()
	return e.readBatches(rb, msgs, sink, func(m *ipv4.Message) {
		b := m.Buffers[0][:m.N]
		from, ok := addrPort(m.Addr)
		if v4 && ok {
			ihl := 0
			if len(b) > 0 && b[0]>>4 == 4 {
				ihl = int(b[0]&0x0f) * 4
			}
			ok = ihl >= 20 && ihl <= len(b)
			b = b[min(ihl, len(b)):]
		}
		if !ok || m.Flags&unix.MSG_TRUNC != 0 {
			e.stats.Malformed.Add(1)
			return
		}
		e.inputTo(b, from, sink)
	})
}

// readBatchLoop reads a UDP socket with recvmmsg (golang.org/x/net),
// up to batchSize datagrams per system call. Where the kernel allows it
// the socket has UDP_GRO on: a read may then be a run of datagrams from
// one peer (a LAC's or LNS's UDP GSO messages, a NIC's GRO), cut back into
// its datagrams here. Config.DataBatchEnd, when set, is called after the
// datagrams of each read.
func (e *Endpoint) readBatchLoop(s *socket) error {
	const batchSize, bufSize = 64, 4096
	var rb batchReader
	if la, ok := s.udp.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil && la.IP != nil && !la.IP.IsUnspecified() {
		rb = ipv6.NewPacketConn(s.udp)
	} else {
		rb = ipv4.NewPacketConn(s.udp)
	}
	size := bufSize
	gro := !e.cfg.NoGRO && enableGRO(s.udp)
	if gro {
		size = groBufLen
	}
	mem := make([]byte, batchSize*size)
	oob := make([]byte, batchSize*groOOBLen)
	msgs := make([]ipv4.Message, batchSize)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{mem[i*size : (i+1)*size : (i+1)*size]}
		if gro {
			msgs[i].OOB = oob[i*groOOBLen : (i+1)*groOOBLen : (i+1)*groOOBLen]
		}
	}
	var from netip.AddrPort
	sink := e.newSink()
	deliver := func(b []byte) { e.inputTo(b, from, sink) }
	if !s.first {
		deliver = func(b []byte) {
			if opensTunnel(b) {
				e.stats.TunnelZero.Add(1) // dialled tunnels only here
				return
			}
			e.inputTo(b, from, sink)
		}
	}
	return e.readBatches(rb, msgs, sink, func(m *ipv4.Message) {
		var ok bool
		if from, ok = addrPort(m.Addr); !ok || m.N > size || m.Flags&unix.MSG_TRUNC != 0 {
			e.stats.Malformed.Add(1)
			return
		}
		seg := 0
		if gro {
			seg = groSize(m.OOB[:m.NN])
		}
		splitGRO(m.Buffers[0][:m.N], seg, deliver)
	})
}

// batchReader is an ipv4 or ipv6 PacketConn.
type batchReader interface {
	ReadBatch([]ipv4.Message, int) (int, error)
}

// readBatches reads rb into msgs until the endpoint stops or the socket
// fails, calling each for every message of a read and sink's end after
// the messages of each read.
func (e *Endpoint) readBatches(rb batchReader, msgs []ipv4.Message, sink *dataSink, each func(*ipv4.Message)) error {
	for {
		n, err := rb.ReadBatch(msgs, 0)
		if err != nil {
			if again, end := e.readFailed(err); !again {
				return end
			}
			continue
		}
		for i := range msgs[:n] {
			each(&msgs[i])
		}
		if sink.end != nil {
			sink.end()
		}
	}
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	case *net.IPAddr: // L2TPv3 over IP: no port (RFC 3931 section 4.1.1)
		ip, ok := netip.AddrFromSlice(a.IP)
		return netip.AddrPortFrom(ip.Unmap().WithZone(a.Zone), 0), ok
	}
	return netip.AddrPort{}, false
}

// input is inputTo with Config.Data: one datagram handed in from outside a
// reader (the tests' way in).
func (e *Endpoint) input(b []byte, from netip.AddrPort) {
	e.inputTo(b, from, &dataSink{e.cfg.Data, e.cfg.DataBatchEnd})
}

// inputTo handles one datagram, delivering data messages to sink; b
// aliases the read buffer. Over IP it is inputIP's; over UDP the Ver field
// tells L2TPv2 from L2TPv3 (RFC 3931 section 4.7.2), which v3endpoint.go
// handles.
func (e *Endpoint) inputTo(b []byte, from netip.AddrPort, sink *dataSink) {
	if e.encap == EncapIP {
		e.inputIP(b, from, sink)
		return
	}
	if v, _, err := HeaderVersion(b); err == nil && v == Version3 {
		e.inputV3(b, from, sink)
		return
	}
	h, payload, err := ParseHeader(b)
	if err != nil {
		e.stats.Malformed.Add(1)
		return
	}
	if !h.Control {
		e.stats.DataRx.Add(1)
		e.mu.RLock()
		s := e.sessions[uint32(h.TunnelID)<<16|uint32(h.SessionID)]
		e.mu.RUnlock()
		if s == nil || sink.data == nil {
			e.stats.DataUnknownSession.Add(1)
			return
		}
		sink.data(s.t, s, h, payload)
		return
	}
	e.stats.ControlRx.Add(1)
	if h.TunnelID == 0 {
		e.newTunnelInput(b, h, payload, from)
		return
	}
	e.mu.RLock()
	t := e.tunnels[uint32(h.TunnelID)]
	e.mu.RUnlock()
	if t == nil {
		e.stats.UnknownTunnel.Add(1)
		return
	}
	if t.v3 {
		e.stats.WrongVersion.Add(1)
		e.debugLimited("l2tp: dropping an L2TPv2 message for an L2TPv3 control connection", "tunnel_id", t.localID, "peer", from)
		return
	}
	t.post(inPacket{b: append([]byte(nil), b...), from: from})
}

// zeroMessage is a message for Tunnel (Control Connection) ID 0 that
// zeroInput let through: an SCCRQ, parsed with the secret Accept gave
// when the peer hid AVPs, and what Accept said.
type zeroMessage struct {
	m         Message
	opts      TunnelOptions
	asked     bool // Accept was called
	acceptErr error
}

// zeroInput takes a control message for ID 0, L2TPv2's (RFC 2661 section
// 3.1) or L2TPv3's (RFC 3931 section 3.2.1): a StopCCN sent before the
// peer knew our ID is handled, anything else but an SCCRQ dropped and
// counted, and an SCCRQ parsed (with the secret from Accept, by the Host
// Name, which is never hidden, when the peer hid AVPs: section 4.3 of
// both). ok is false when the message was dealt with.
func (e *Endpoint) zeroInput(b, payload []byte, from netip.AddrPort, v3 bool) (zeroMessage, bool) {
	var z zeroMessage
	if len(payload) == 0 {
		e.stats.UnknownTunnel.Add(1) // a ZLB for no tunnel
		return z, false
	}
	parse, known, what := ParseMessage, MsgType.Known, "l2tp: dropping a control message for Tunnel ID 0 that is not an SCCRQ"
	if v3 {
		parse, known, what = ParseV3Message, MsgType.KnownV3, "l2tp: dropping an L2TPv3 control message for Control Connection ID 0 that is not an SCCRQ"
	}
	m, err := parse(payload, nil)
	switch {
	case m.Type == MsgStopCCN:
		e.stopCCNForZero(b, &m, err, from, v3)
		return z, false
	case m.Type != MsgSCCRQ:
		if err != nil && !known(m.Type) {
			e.stats.Malformed.Add(1)
			return z, false
		}
		e.stats.TunnelZero.Add(1)
		e.logPeer(slog.LevelDebug, from.Addr(), what, "msg", m.Type)
		return z, false
	}
	if errors.Is(err, ErrNoSecret) && e.cfg.Accept != nil {
		if host, ok := peekHostName(payload); ok {
			z.asked = true
			z.opts, z.acceptErr = e.cfg.Accept(from, host)
			if z.acceptErr == nil && len(z.opts.Secret) > 0 {
				m, err = parse(payload, z.opts.Secret)
			}
		}
	}
	var um *UnknownMandatoryAVPError
	if err != nil && !errors.As(err, &um) {
		e.stats.Malformed.Add(1)
		return z, false
	}
	z.m = m
	return z, true
}

// newTunnelInput handles a control message for Tunnel ID 0. Only an
// SCCRQ may carry it: the peer addresses everything else to the Tunnel ID
// of our Assigned Tunnel ID AVP (section 4.4.3), except a StopCCN sent
// before it could read that AVP, which names the peer's own.
func (e *Endpoint) newTunnelInput(b []byte, h Header, payload []byte, from netip.AddrPort) {
	zero, ok := e.zeroInput(b, payload, from, false)
	if !ok {
		return
	}
	a, ok := zero.m.Find(AVPAssignedTunnelID)
	peerTID, verr := a.Uint16()
	if !ok || verr != nil || peerTID == 0 {
		e.stats.Malformed.Add(1)
		return
	}
	key := peerKey{addr: from, id: uint32(peerTID)}
	opts, host, refuse, err, ok := e.decideSCCRQ(b, from, key, &zero, 2)
	if !ok {
		return
	}
	e.acceptTunnel(b, from, key, opts, refuse, host, err)
}

// decideSCCRQ goes on with an SCCRQ from peer (key) that zeroInput let
// through: a retransmission goes to the tunnel it made, an endpoint
// stopping or a peer over its rate makes none, a tie breaker may settle
// it (RFC 2661 section 4.4.3); else the options Accept gives for the
// peer's host name, and the StopCCN that refuses it, if any, and why
// (version: the SCCRQ header's, 2 or 3). ok is false when nothing more
// is to be done.
func (e *Endpoint) decideSCCRQ(b []byte, from netip.AddrPort, key peerKey, z *zeroMessage, version int) (opts TunnelOptions, host string, refuse *ResultCode, err error, ok bool) {
	e.mu.RLock()
	t := e.byPeer[key]
	e.mu.RUnlock()
	if t != nil {
		// A retransmitted SCCRQ: the tunnel it made re-acknowledges it.
		t.post(inPacket{b: append([]byte(nil), b...), from: from})
		return opts, "", nil, nil, false
	}
	select {
	case <-e.stopping:
		return opts, "", nil, nil, false
	default:
	}
	if !e.admit(from) || e.tieBreak(&z.m, from, version == 3) {
		return opts, "", nil, nil, false
	}
	if a, found := z.m.Find(AVPHostName); found {
		host = string(a.Value)
	}
	opts, acceptErr := z.opts, z.acceptErr
	if !z.asked && e.cfg.Accept != nil {
		opts, acceptErr = e.cfg.Accept(from, host)
	}
	refuse, err = e.decide(opts, acceptErr, host)
	if refuse == nil {
		refuse, err = versionRefusal(opts, version)
	}
	opts.Version = version // the SCCRQ's header decides, whatever Accept said
	return opts, host, refuse, err, true
}

// decide turns what Accept said of an SCCRQ from host into the StopCCN
// that refuses it, if any, and why.
func (e *Endpoint) decide(opts TunnelOptions, err error, host string) (*ResultCode, error) {
	switch {
	case e.cfg.Accept == nil:
		return &ResultCode{Result: uint16(StopCCNNotAuthorized), HasError: true, Message: "not accepting tunnels"}, nil
	case err != nil:
		return &ResultCode{Result: uint16(StopCCNNotAuthorized), HasError: true, Message: "not authorized"}, err
	case opts.PeerHostName != "" && opts.PeerHostName != host:
		return &ResultCode{Result: uint16(StopCCNNotAuthorized), HasError: true, Message: "unexpected host name"},
			fmt.Errorf("host name %q, want %q", host, opts.PeerHostName)
	}
	return nil, nil
}

// acceptTunnel opens the tunnel of an accepted SCCRQ b from peer (key),
// refusing it with refuse (for err) when set, and queues b on it.
func (e *Endpoint) acceptTunnel(b []byte, from netip.AddrPort, key peerKey, opts TunnelOptions, refuse *ResultCode, host string, err error) {
	if refuse != nil {
		e.stats.TunnelsRefused.Add(1)
		e.logPeer(slog.LevelWarn, from.Addr(), "l2tp: refusing tunnel", "host", host, "err", err)
	}
	t, err := e.newTunnel(from, opts, true)
	if err != nil {
		e.logPeer(slog.LevelWarn, from.Addr(), "l2tp: cannot accept tunnel", "err", err)
		return
	}
	t.refuse = refuse
	e.mu.Lock()
	if other := e.byPeer[key]; other != nil {
		e.mu.Unlock() // cannot happen: only the reader adds to byPeer
		return
	}
	e.byPeer[key] = t
	t.byPeerKey = key
	t.halfOpen = true
	e.halfOpen[from.Addr()]++
	e.halfOpenTotal++
	e.mu.Unlock()
	t.post(inPacket{b: append([]byte(nil), b...), from: from})
	t.start() // false at shutdown: the SCCRQ is dropped, the peer retries elsewhere
}

// stopCCNForZero delivers a StopCCN for Tunnel ID 0 to the tunnel its
// Assigned Tunnel ID names (section 4.4.3: the peer may not have read
// ours), and drops it when there is none.
func (e *Endpoint) stopCCNForZero(b []byte, m *Message, err error, from netip.AddrPort, v3 bool) {
	var t *Tunnel
	if id, ok := assignedID(m, v3); ok && err == nil {
		e.mu.RLock()
		t = e.byPeer[peerKey{addr: from, id: id, v3: v3}]
		e.mu.RUnlock()
	}
	if t == nil {
		e.stats.TunnelZero.Add(1)
		e.logPeer(slog.LevelDebug, from.Addr(), "l2tp: dropping a StopCCN for Tunnel ID 0 of no tunnel")
		return
	}
	t.post(inPacket{b: append([]byte(nil), b...), from: from})
}

// admit reports whether an SCCRQ from peer may open a tunnel: below
// Config.MaxTunnels, and below the caps on tunnels being set up, in total
// and from peer's address. It counts and logs a refusal.
func (e *Endpoint) admit(peer netip.AddrPort) bool {
	e.mu.RLock()
	full := len(e.tunnels) >= e.cfg.MaxTunnels
	total := e.halfOpenTotal >= e.cfg.MaxHalfOpen
	fromPeer := e.halfOpen[peer.Addr()] >= e.cfg.MaxHalfOpenPerPeer
	e.mu.RUnlock()
	switch {
	case full:
		e.stats.TunnelLimit.Add(1)
		e.logPeer(slog.LevelWarn, peer.Addr(), "l2tp: dropping an SCCRQ: tunnel limit reached", "max_tunnels", e.cfg.MaxTunnels)
	case fromPeer:
		e.stats.HalfOpenPeerLimit.Add(1)
		e.logPeer(slog.LevelWarn, peer.Addr(), "l2tp: dropping an SCCRQ: too many tunnels being set up from this address", "max_half_open_per_peer", e.cfg.MaxHalfOpenPerPeer)
	case total:
		e.stats.HalfOpenLimit.Add(1)
		e.logPeer(slog.LevelWarn, peer.Addr(), "l2tp: dropping an SCCRQ: too many tunnels being set up", "max_half_open", e.cfg.MaxHalfOpen)
	default:
		return true
	}
	return false
}

// established takes t out of the half-open count: its set-up completed.
func (e *Endpoint) established(t *Tunnel) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leaveHalfOpen(t)
}

// leaveHalfOpen is established with e.mu held.
func (e *Endpoint) leaveHalfOpen(t *Tunnel) {
	if !t.halfOpen {
		return
	}
	t.halfOpen = false
	a := t.byPeerKey.addr.Addr()
	if e.halfOpen[a]--; e.halfOpen[a] <= 0 {
		delete(e.halfOpen, a)
	}
	e.halfOpenTotal--
}

// tieBreak applies the Tie Breaker of section 4.4.3 to an SCCRQ from a
// peer we are dialing too, and reports whether the SCCRQ is discarded.
// The lower value wins and the loser silently discards its tunnel; equal
// values discard both; when only one side sent a Tie Breaker, the
// initiator that included it wins; when neither did, both tunnels open.
func (e *Endpoint) tieBreak(m *Message, from netip.AddrPort, v3 bool) bool {
	var theirs uint64
	tb, has := m.Find(AVPTieBreaker)
	if has && len(tb.Value) == 8 {
		theirs = binary.BigEndian.Uint64(tb.Value)
	} else {
		has = false // a malformed Tie Breaker (M=0) is ignored, section 7.1
	}
	discard := false
	for _, d := range e.Tunnels() {
		st := CtrlState(d.state.Load())
		if d.accepted || d.v3 != v3 || d.peer.Addr() != from.Addr() || st == CtrlIdle {
			continue
		}
		ours := d.tieBreaker
		// Only an SCCRQ still unanswered loses; a winner stays one once
		// its tunnel is up, so a late copy of the loser's SCCRQ does not
		// open a second tunnel.
		pending := st == CtrlWaitCtlReply
		switch {
		case ours == 0 && !has:
			continue
		case has && ours == theirs:
			discard = true
			if pending {
				d.post(inPacket{lostTie: true})
			}
		case ours != 0 && (!has || ours < theirs):
			discard = true
		default: // the peer's value is lower, or only the peer sent one
			if pending {
				d.post(inPacket{lostTie: true})
			}
		}
	}
	if discard {
		e.stats.TieBreakerDrops.Add(1)
		e.logPeer(slog.LevelInfo, from.Addr(), "l2tp: discarding the peer's SCCRQ: it lost the tie breaker or tied")
	}
	return discard
}

// newTunnel allocates a local Tunnel ID and registers the tunnel.
func (e *Endpoint) newTunnel(peer netip.AddrPort, opts TunnelOptions, accepted bool) (*Tunnel, error) {
	opts = opts.withDefaults()
	t := &Tunnel{
		ep:       e,
		opts:     opts,
		peer:     peer,
		accepted: accepted,
		inbox:    make(chan inPacket, e.cfg.InboxSize),
		cmdWake:  make(chan struct{}, 1),
		done:     make(chan struct{}),
		upCh:     make(chan error, 1),
		calls:    make(map[uint32]*Session),
		v3:       opts.Version == 3,
		sock:     e.socks[0],
	}
	if !accepted {
		t.sock = e.pickSocket()
	}
	t.setDst(peer)
	t.ch = newChannel(channelConfig{
		RecvWindow: opts.RecvWindow,
		PeerWindow: 4,
		RTOInitial: opts.RetransmitInitial,
		RTOCap:     opts.RetransmitCap,
		MaxRetries: opts.MaxRetries,
		AckDelay:   opts.AckDelay,
	}, e.stats)
	if opts.TieBreaker && !accepted {
		for t.tieBreaker == 0 {
			var b [8]byte
			rand.Read(b[:])
			t.tieBreaker = binary.BigEndian.Uint64(b[:])
		}
	}
	if t.v3 {
		t.initV3()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for range 64 {
		id := uint32(randUint16())
		if t.v3 {
			id = randUint32()
		}
		if id == 0 || e.tunnels[id] != nil {
			continue
		}
		t.localID = id
		e.tunnels[id] = t
		t.sock.tunnels.Add(1)
		return t, nil
	}
	return nil, errors.New("l2tp: no free tunnel ID")
}

// remove forgets t and its sessions; called by t's goroutine as it ends.
func (e *Endpoint) remove(t *Tunnel) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tunnels[t.localID] == t {
		delete(e.tunnels, t.localID)
		t.sock.tunnels.Add(-1)
	}
	if t.byPeerKey != (peerKey{}) && e.byPeer[t.byPeerKey] == t {
		delete(e.byPeer, t.byPeerKey)
	}
	e.leaveHalfOpen(t)
	for id := range t.calls {
		if t.v3 {
			delete(e.v3sessions, id)
		} else {
			delete(e.sessions, t.localID<<16|id)
		}
	}
}

// Dial opens a control connection to peer (section 7.2.1, the initiator)
// and returns once it is established, refused (the error wraps
// ErrNotAuthorized, ErrStopCCN or ErrProtocol), unreachable
// (ErrPeerUnreachable) or ctx is done (the half-open tunnel is closed).
// A Dial before Run waits for Run within ctx: a daemon starts its endpoint
// and its subscriber-facing servers together, and the first subscriber may
// ask for a tunnel before Run has begun. After Run it is ErrNotRunning.
func (e *Endpoint) Dial(ctx context.Context, peer netip.AddrPort, opts TunnelOptions) (*Tunnel, error) {
	select {
	case <-e.stopping:
		return nil, ErrNotRunning
	default:
	}
	select {
	case <-e.started:
	case <-e.stopping:
		return nil, ErrNotRunning
	case <-ctx.Done():
		return nil, fmt.Errorf("l2tp: dial %v: endpoint not started: %w", peer, ctx.Err())
	}
	if (opts.RequireAuth || opts.HideAVPs) && len(opts.Secret) == 0 {
		return nil, errors.New("l2tp: Dial: RequireAuth and HideAVPs need a Secret")
	}
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("l2tp: Dial: %w", err)
	}
	if e.encap == EncapIP && opts.Version != 3 {
		return nil, errors.New("l2tp: Dial: only L2TPv3 runs over IP (RFC 3931 section 4.1.1)")
	}
	t, err := e.newTunnel(netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()), opts, false)
	if err != nil {
		return nil, err
	}
	if !t.start() {
		return nil, ErrNotRunning
	}
	select {
	case err := <-t.upCh:
		if err != nil {
			return nil, err
		}
		return t, nil
	case <-ctx.Done():
		t.Close(ResultCode{Result: uint16(StopCCNGeneralRequest)})
		return nil, fmt.Errorf("l2tp: dial %v: %w", peer, ctx.Err())
	}
}

// write sends one datagram to the tunnel's peer, from its socket.
func (e *Endpoint) write(t *Tunnel, b []byte) error {
	var err error
	d := t.dst.Load()
	if s := t.sock; s.udp != nil {
		_, err = s.udp.WriteToUDPAddrPort(b, d.ap)
	} else {
		_, err = s.conn.WriteTo(b, d.addr)
	}
	return err
}

// opensTunnel reports whether b is a control message for Tunnel (or
// Control Connection) ID 0 over UDP: an SCCRQ, or a StopCCN for one.
func opensTunnel(b []byte) bool {
	if v, _, err := HeaderVersion(b); err == nil && v == Version3 {
		h, _, err := ParseV3ControlHeader(b)
		return err == nil && h.ConnID == 0
	}
	h, _, err := ParseHeader(b)
	return err == nil && h.Control && h.TunnelID == 0
}

// pickSocket is the socket a tunnel Dial opens writes from: the one with
// the fewest tunnels.
func (e *Endpoint) pickSocket() *socket {
	best := e.socks[0]
	for _, s := range e.socks[1:] {
		if s.tunnels.Load() < best.tunnels.Load() {
			best = s
		}
	}
	return best
}

// writeControl sends one control message, which the tunnel builds in its
// UDP form (RFC 3931 section 3.2.1). Over IP it goes after a Session ID of
// zero (section 4.1.1.2); the Message Digest, computed from the header on,
// is the same in both (section 5.4.1).
func (e *Endpoint) writeControl(t *Tunnel, b []byte) error {
	if e.encap != EncapIP {
		return e.write(t, b)
	}
	bp := e.bufPool.Get().(*[]byte)
	w := append(append((*bp)[:0], 0, 0, 0, 0), b...)
	err := e.write(t, w)
	*bp = w[:0]
	e.bufPool.Put(bp)
	return err
}

func randUint16() uint16 {
	var b [2]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

func randUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// peekHostName finds the Host Name AVP (section 4.4.3, never hidden) in the
// AVPs of a control message without decoding the others.
func peekHostName(b []byte) (string, bool) {
	for len(b) >= 6 {
		n := int(binary.BigEndian.Uint16(b[0:2]) & 0x03ff)
		if n < 6 || n > len(b) {
			return "", false
		}
		vendor := binary.BigEndian.Uint16(b[2:4])
		typ := AVPType(binary.BigEndian.Uint16(b[4:6]))
		if vendor == 0 && typ == AVPHostName && b[0]&0x40 == 0 {
			return string(b[6:n]), true
		}
		b = b[n:]
	}
	return "", false
}

// debugLimited logs a debug line about bad input at most once a second:
// what a peer sends must not flood the log (the counters count it all).
func (e *Endpoint) debugLimited(msg string, args ...any) {
	now := e.now().UnixNano()
	last := e.lastDebug.Load()
	if now-last < int64(time.Second) || !e.lastDebug.CompareAndSwap(last, now) {
		return
	}
	e.log.Debug(msg, args...)
}

// peerLog rate-limits the log lines about what peers send: one line per
// peer address per peerLogInterval, and at most peerLogBurst lines in any
// interval over all peers (spoofed sources do not flood the log either).
// The counters count everything.
type peerLog struct {
	mu     sync.Mutex
	last   map[netip.Addr]int64
	window int64 // start of the current interval, unix nanoseconds
	lines  int   // lines written in it
}

const (
	peerLogInterval = 10 * time.Second
	peerLogBurst    = 20
)

// logPeer logs msg about peer, rate-limited by peerLog.
func (e *Endpoint) logPeer(level slog.Level, peer netip.Addr, msg string, args ...any) {
	if !e.log.Enabled(context.Background(), level) {
		return
	}
	now := e.now().UnixNano()
	l := &e.peerLog
	l.mu.Lock()
	if now-l.window >= int64(peerLogInterval) {
		l.window, l.lines = now, 0
		clear(l.last)
	}
	last, seen := l.last[peer]
	if (seen && now-last < int64(peerLogInterval)) || l.lines >= peerLogBurst {
		l.mu.Unlock()
		return
	}
	if l.last == nil {
		l.last = make(map[netip.Addr]int64)
	}
	l.last[peer] = now
	l.lines++
	l.mu.Unlock()
	e.log.Log(context.Background(), level, msg, append(args, "peer", peer)...)
}
