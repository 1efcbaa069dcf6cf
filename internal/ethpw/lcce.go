package ethpw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/bras-project/bras/internal/task"
	"github.com/bras-project/bras/l2tp"
)

// LCCE is an L2TP Control Connection Endpoint for Ethernet pseudowires: an
// L2TPv3 endpoint over UDP, the raw sockets of its attachment interfaces
// and their link state. New opens every socket (in the network namespace
// of the calling thread); Run carries the traffic until its context ends.
type LCCE struct {
	cfg      Config
	log      *slog.Logger
	conn     *net.UDPConn
	ep       *l2tp.Endpoint
	ports    []*port
	circuits []*circuit
	peers    []*peer
	byAddr   map[[16]byte]*peer
	byEnd    map[endKey]*circuit

	links     chan netlink.LinkUpdate
	linksDone chan struct{} // closed: the link subscription ends
	closed    atomic.Bool
}

type endKey struct {
	peer string
	id   string // the Remote End ID's octets
}

// port is an attachment interface: its raw socket and the circuits on it.
type port struct {
	name    string
	index   int
	conn    *packet.Conn
	rd      *batchReader
	wr      *frameWriter
	all     *circuit            // port mode
	vlans   map[uint16]*circuit // VLAN mode; fixed once New returns
	up      atomic.Bool         // operationally up (IFF_RUNNING)
	foreign atomic.Uint64       // frames of no circuit: untagged or another VLAN
}

// peer is a remote LCCE.
type peer struct {
	cfg      Peer
	circuits []*circuit
	replace  chan *circuit     // the dialer re-places these calls
	down     chan *l2tp.Tunnel // tunnels to it that went down (TunnelDown)
}

// New builds the LCCE of cfg and opens its sockets: the UDP socket of
// cfg.Listen, a raw socket per attachment interface, and a link-state
// subscription. Call it in the namespace of the interfaces.
func New(cfg Config, log *slog.Logger) (*LCCE, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &LCCE{cfg: cfg, log: log, byAddr: map[[16]byte]*peer{}, byEnd: map[endKey]*circuit{}}
	peers := map[string]*peer{}
	for _, p := range cfg.Peers {
		pp := &peer{cfg: p}
		peers[p.Name] = pp
		l.peers = append(l.peers, pp)
		l.byAddr[p.Address.Addr().Unmap().As16()] = pp
	}
	ok := false
	defer func() {
		if !ok {
			l.close()
		}
	}()
	ports := map[string]*port{}
	for _, cc := range cfg.Circuits {
		pp := peers[cc.Peer]
		if pp == nil {
			return nil, fmt.Errorf("ethpw: circuit %q: no peer %q", cc.Name, cc.Peer)
		}
		pt := ports[cc.Interface]
		if pt == nil {
			conn, ifi, err := openPort(cc.Interface)
			if err != nil {
				return nil, err
			}
			pt = &port{name: cc.Interface, index: ifi.Index, conn: conn, vlans: map[uint16]*circuit{}}
			ports[cc.Interface] = pt
			l.ports = append(l.ports, pt)
			if pt.rd, err = newBatchReader(conn); err != nil {
				return nil, err
			}
			if pt.wr, err = newFrameWriter(conn); err != nil {
				return nil, err
			}
		}
		c := &circuit{cfg: cc, port: pt, peer: pp}
		if cc.VLAN == 0 {
			pt.all = c
		} else {
			pt.vlans[cc.VLAN] = c
		}
		pp.circuits = append(pp.circuits, c)
		l.circuits = append(l.circuits, c)
		l.byEnd[endKey{cc.Peer, string(cc.RemoteEndID)}] = c
	}
	for _, pp := range l.peers {
		pp.replace = make(chan *circuit, len(pp.circuits))
		pp.down = make(chan *l2tp.Tunnel, 4)
	}
	// Link state: subscribe first, then read the state, so that no change
	// falls between the two.
	l.links, l.linksDone = make(chan netlink.LinkUpdate, 64), make(chan struct{})
	if err := netlink.LinkSubscribeWithOptions(l.links, l.linksDone, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case <-l.linksDone:
				// closed: the subscription ends
			default:
				l.log.Warn("pw: link state subscription", "err", err)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("ethpw: link state: %w", err)
	}
	for _, pt := range l.ports {
		link, err := netlink.LinkByIndex(pt.index)
		if err != nil {
			return nil, fmt.Errorf("ethpw: %s: %w", pt.name, err)
		}
		pt.up.Store(linkUp(link.Attrs()))
	}
	var err error
	if l.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.Listen)); err != nil {
		return nil, fmt.Errorf("ethpw: listen %v: %w", cfg.Listen, err)
	}
	l.ep, err = l2tp.NewEndpoint(l.conn, l2tp.Config{
		HostName: cfg.HostName, RouterID: cfg.RouterID, VendorName: "bras", Logger: log,
		Accept: l.accept, Handler: (*handler)(l), Data: l.fromPW, ShutdownTimeout: 2 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

// linkUp reports an interface that is up and running (RFC 2863 oper up):
// a veth whose peer is down, a cable pulled, is not.
func linkUp(a *netlink.LinkAttrs) bool {
	return a.RawFlags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_RUNNING != 0
}

// close releases what New opened.
func (l *LCCE) close() {
	if l.linksDone != nil && !l.closed.Swap(true) {
		close(l.linksDone)
	}
	for _, pt := range l.ports {
		pt.conn.Close()
	}
	if l.conn != nil {
		l.conn.Close()
	}
}

// Addr is the local address of the L2TP socket.
func (l *LCCE) Addr() net.Addr { return l.conn.LocalAddr() }

// Stats is a snapshot of every circuit, in configuration order.
func (l *LCCE) Stats() []CircuitStats {
	s := make([]CircuitStats, len(l.circuits))
	for i, c := range l.circuits {
		s[i] = c.stats()
	}
	return s
}

// ForeignFrames is the frames of each attachment interface that belong to
// no circuit (untagged, or of a VLAN no circuit carries).
func (l *LCCE) ForeignFrames() map[string]uint64 {
	m := map[string]uint64{}
	for _, pt := range l.ports {
		m[pt.name] = pt.foreign.Load()
	}
	return m
}

// Run carries the pseudowires until ctx is done, then clears them (CDN,
// StopCCN) and closes the sockets.
func (l *LCCE) Run(ctx context.Context) error {
	defer l.close()
	g := task.New(ctx)
	g.Go("l2tp", l.ep.Run)
	for _, pt := range l.ports {
		g.Go("port "+pt.name, func(ctx context.Context) error { return l.readPort(ctx, pt) })
	}
	g.Go("link state", l.watchLinks)
	for _, p := range l.peers {
		if p.cfg.Dial && len(p.circuits) > 0 {
			g.Go("peer "+p.cfg.Name, func(ctx context.Context) error { return l.dial(ctx, p) })
		}
	}
	if l.cfg.StatsInterval > 0 {
		g.Go("stats", l.logStats)
	}
	err := g.Wait()
	for _, s := range l.Stats() {
		l.log.Info("pw: circuit counters", "stats", s)
	}
	return err
}

func (l *LCCE) logStats(ctx context.Context) error {
	tk := time.NewTicker(l.cfg.StatsInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
			for _, s := range l.Stats() {
				l.log.Info("pw: circuit counters", "stats", s)
			}
		}
	}
}

// tunnelOptions are the options of the control connection with p.
func (l *LCCE) tunnelOptions(p *peer) l2tp.TunnelOptions {
	return l2tp.TunnelOptions{
		Version: 3, Secret: p.cfg.Secret, Digest: p.cfg.Digest, CookieLen: p.cfg.CookieLen,
		PWTypes:       []l2tp.PWType{l2tp.PWEthernet, l2tp.PWEthernetVLAN},
		HelloInterval: l.cfg.HelloInterval, PeerHostName: p.cfg.HostName, TieBreaker: true,
	}
}

// accept admits a control connection from a configured peer only.
func (l *LCCE) accept(from netip.AddrPort, host string) (l2tp.TunnelOptions, error) {
	p := l.byAddr[from.Addr().Unmap().As16()]
	if p == nil {
		return l2tp.TunnelOptions{}, fmt.Errorf("no [peer] with address %v", from.Addr())
	}
	if p.cfg.HostName != "" && host != p.cfg.HostName {
		return l2tp.TunnelOptions{}, fmt.Errorf("peer %q sent Host Name %q, want %q", p.cfg.Name, host, p.cfg.HostName)
	}
	return l.tunnelOptions(p), nil
}

// dial keeps the control connection to p open and its circuits' calls
// placed, reconnecting with a doubling, jittered back-off.
func (l *LCCE) dial(ctx context.Context, p *peer) error {
	wait := time.Duration(0)
	for {
		if wait > 0 {
			l.log.Info("pw: reconnecting", "peer", p.cfg.Name, "in", wait.Round(time.Millisecond))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		wait = l.backoff(wait)
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		t, err := l.ep.Dial(dctx, p.cfg.Address, l.tunnelOptions(p))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			l.log.Warn("pw: cannot open the control connection", "peer", p.cfg.Name, "address", p.cfg.Address, "err", err)
			continue
		}
		l.log.Info("pw: control connection up", "peer", p.cfg.Name, "tunnel_id", t.LocalConnID())
		wait = 0
		for _, c := range p.circuits {
			l.place(t, c)
		}
		if !l.serve(ctx, p, t) {
			return nil
		}
		wait = l.backoff(0)
	}
}

// serve re-places the calls of t that end while it is up; false when
// ctx is done.
func (l *LCCE) serve(ctx context.Context, p *peer, t *l2tp.Tunnel) bool {
	for {
		select {
		case <-ctx.Done():
			t.Close(l2tp.ResultCode{Result: uint16(l2tp.StopCCNGeneralRequest)})
			return false
		case dt := <-p.down:
			if dt != t {
				continue // an earlier one
			}
			l.log.Warn("pw: control connection down", "peer", p.cfg.Name, "tunnel_id", t.LocalConnID())
			return true
		case <-t.Done():
			l.log.Warn("pw: control connection down", "peer", p.cfg.Name, "tunnel_id", t.LocalConnID())
			return true
		case c := <-p.replace:
			l.place(t, c)
		}
	}
}

func (l *LCCE) backoff(prev time.Duration) time.Duration {
	next := l.cfg.ReconnectMin
	if prev > 0 {
		next = min(2*prev, l.cfg.ReconnectMax)
	}
	return next - time.Duration(rand.Float64()*float64(next)/4)
}

// place opens c's pseudowire on t: an ICRQ with its Remote End ID,
// pseudowire type and circuit status (RFC 4719 section 2.2).
func (l *LCCE) place(t *l2tp.Tunnel, c *circuit) {
	req := l2tp.CallRequest{
		PWType: c.cfg.PWType(), CircuitDown: !c.port.up.Load(), Value: c,
		ICRQ: []l2tp.AVP{l2tp.NewV3AVP(l2tp.AVPRemoteEndID, c.cfg.RemoteEndID)},
	}
	if l.cfg.Sequencing {
		req.ICCN = []l2tp.AVP{l2tp.NewAVPBytes(l2tp.AVPSequencingRequired, nil)}
	}
	if _, err := t.PlaceCall(req); err != nil {
		l.log.Warn("pw: cannot place the call", "circuit", c.cfg.Name, "err", err)
	}
}

// watchLinks follows the attachment interfaces' link state: a change goes
// to the peer as circuit status (SLI, RFC 4719 section 2.3.2).
func (l *LCCE) watchLinks(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-l.links:
			if !ok {
				return errors.New("link state subscription closed")
			}
			for _, pt := range l.ports {
				if int(u.Index) != pt.index {
					continue
				}
				up := linkUp(u.Attrs())
				if pt.up.Swap(up) == up {
					continue
				}
				l.log.Info("pw: attachment interface "+map[bool]string{true: "up", false: "down"}[up], "interface", pt.name)
				for _, c := range l.circuits {
					if c.port == pt {
						if s := c.sess.Load(); s != nil {
							s.SetCircuitStatus(up)
						}
					}
				}
			}
		}
	}
}

// readPort carries the frames of an attachment interface into their
// pseudowires.
func (l *LCCE) readPort(ctx context.Context, pt *port) error {
	stop := context.AfterFunc(ctx, func() { _ = pt.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		n, err := pt.rd.read()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if isTimeout(err) {
				continue
			}
			return fmt.Errorf("read: %w", err)
		}
		for i := range n {
			frame, trunc := pt.rd.frame(i)
			c := pt.all
			if c == nil {
				vid, ok := outerVID(frame)
				if c = pt.vlans[vid]; !ok || c == nil {
					pt.foreign.Add(1)
					continue
				}
			}
			if trunc {
				c.c.drop(FromWire, DropTruncated)
				continue
			}
			l.toPW(c, frame)
		}
	}
}

// toPW sends a frame from the wire into c's pseudowire.
func (l *LCCE) toPW(c *circuit, frame []byte) {
	s := c.sess.Load()
	switch {
	case s == nil:
		c.c.drop(FromWire, DropNoSession)
	case !s.PeerCircuitActive():
		c.c.drop(FromWire, DropRemoteDown)
	case s.Tunnel().SendData(s, frame) != nil:
		c.c.drop(FromWire, DropSendError)
	default:
		c.c.pass(FromWire, len(frame))
	}
}

// fromPW sends a frame from a pseudowire out of its attachment circuit,
// as it came but for the VLAN ID of a VLAN pseudowire, which becomes
// ours. It runs on the L2TP socket reader; frame aliases its buffer.
func (l *LCCE) fromPW(_ *l2tp.Tunnel, s *l2tp.Session, _ l2tp.Header, frame []byte) {
	c, _ := s.Value().(*circuit)
	if c == nil || c.sess.Load() != s {
		return // a session being set up or replaced
	}
	switch {
	case !c.port.up.Load():
		c.c.drop(ToWire, DropLocalDown)
		return
	case !s.PeerCircuitActive():
		c.c.drop(ToWire, DropRemoteDown)
		return
	case len(frame) < ethHdrLen:
		c.c.drop(ToWire, DropBadTag)
		return
	case c.cfg.VLAN != 0 && !rewriteVID(frame, c.cfg.VLAN):
		c.c.drop(ToWire, DropBadTag)
		return
	}
	if err := c.port.wr.write(frame); err != nil {
		c.c.drop(ToWire, DropWriteError)
		return
	}
	c.c.pass(ToWire, len(frame))
}

// handler is the LCCE's l2tp.Handler: it runs on the tunnel goroutines
// and does not block.
type handler LCCE

func (h *handler) TunnelUp(t *l2tp.Tunnel) {
	h.log.Info("pw: control connection established", "peer", t.Peer(), "host", t.PeerHostName(), "tunnel_id", t.LocalConnID())
}

func (h *handler) TunnelDown(t *l2tp.Tunnel, rc l2tp.ResultCode, err error) {
	h.log.Info("pw: control connection cleared", "peer", t.Peer(), "tunnel_id", t.LocalConnID(), "result", rc.Describe(l2tp.MsgStopCCN), "err", err)
	if p := h.byAddr[t.Peer().Addr().Unmap().As16()]; p != nil && p.cfg.Dial {
		select {
		case p.down <- t:
		default: // the dialer has not taken the earlier ones: it is not waiting on this one
		}
	}
}

// IncomingCall binds an ICRQ to the circuit its Remote End ID names for
// the peer (RFC 4719 section 2.2 b), of the same pseudowire type.
func (h *handler) IncomingCall(t *l2tp.Tunnel, s *l2tp.Session, icrq *l2tp.Message) error {
	p := h.byAddr[t.Peer().Addr().Unmap().As16()]
	a, _ := icrq.Find(l2tp.AVPRemoteEndID)
	var c *circuit
	if p != nil {
		c = h.byEnd[endKey{p.cfg.Name, string(a.Value)}]
	}
	if c == nil {
		h.log.Warn("pw: refusing a call: no circuit has its Remote End ID", "peer", t.Peer(), "remote_end_id", fmt.Sprintf("%x", a.Value))
		return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNNoFacilitiesPermanent), Message: "no circuit for this Remote End ID"}}
	}
	if s.PWType() != c.cfg.PWType() {
		h.log.Warn("pw: refusing a call: pseudowire type differs", "circuit", c.cfg.Name, "pw_type", s.PWType().String(), "want", c.cfg.PWType().String())
		return &l2tp.CallRefusedError{Result: l2tp.ResultCode{Result: uint16(l2tp.CDNUnsupportedPWType), Message: "circuit " + c.cfg.Name + " is " + c.cfg.PWType().String()}}
	}
	s.SetValue(c)
	s.SetCircuitStatus(c.port.up.Load())
	return nil
}

func (h *handler) SessionUp(s *l2tp.Session, _ *l2tp.Message) {
	c, _ := s.Value().(*circuit)
	if c == nil {
		return
	}
	s.ReleaseMessages()
	if old := c.sess.Swap(s); old != nil && old != s {
		// The peer opened it again (it restarted): the newer call wins.
		old.Disconnect(l2tp.ResultCode{Result: uint16(l2tp.CDNAdmin), Message: "replaced by a newer call"})
	}
	s.SetCircuitStatus(c.port.up.Load()) // a change since the ICRQ or ICRP
	h.log.Info("pw: pseudowire up", "circuit", c.cfg.Name, "pw_type", s.PWType().String(), "session_id", s.LocalSessionID(),
		"peer_session_id", s.RemoteSessionID(), "peer_circuit_active", s.PeerCircuitActive(), "sequenced", s.Sequenced())
}

func (h *handler) SessionDown(s *l2tp.Session, rc l2tp.ResultCode) {
	c, _ := s.Value().(*circuit)
	if c == nil {
		return
	}
	if !c.sess.CompareAndSwap(s, nil) && c.sess.Load() != nil {
		return // a replaced session
	}
	h.log.Info("pw: pseudowire down", "circuit", c.cfg.Name, "session_id", s.LocalSessionID(), "result", rc.Describe(l2tp.MsgCDN), "stats", c.stats())
	if c.peer.cfg.Dial && s.Role() == l2tp.LACIncoming && s.Tunnel().State() == l2tp.CtrlEstablished {
		// Our call ended with the tunnel up: place it again in a while.
		time.AfterFunc(h.cfg.ReconnectMin, func() {
			select {
			case c.peer.replace <- c:
			default:
			}
		})
	}
}

func (h *handler) SetLinkInfo(*l2tp.Session, l2tp.ACCM)    {}
func (h *handler) WANError(*l2tp.Session, l2tp.CallErrors) {}

// CircuitStatus logs the peer's circuit status changes; the data path
// reads the session's.
func (h *handler) CircuitStatus(s *l2tp.Session, cs l2tp.CircuitStatus) {
	c, _ := s.Value().(*circuit)
	if c == nil {
		return
	}
	h.log.Info("pw: the peer's attachment circuit is "+map[bool]string{true: "up", false: "down"}[cs.Active], "circuit", c.cfg.Name, "session_id", s.LocalSessionID())
}

var _ l2tp.CircuitHandler = (*handler)(nil)
