package pppoe

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ServicePolicy says which Service-Name a PADI or PADR may ask for, RFC 2516
// sections 5.2, 5.4 and 9.
type ServicePolicy uint8

// Service-Name policies.
const (
	// ServiceAny accepts every Service-Name and echoes it back: the policy
	// RFC 2516 section 9 recommends.
	ServiceAny ServicePolicy = iota
	// ServiceList accepts the empty Service-Name (any service) and the names
	// of ServerConfig.Services, and offers all of them in the PADO.
	ServiceList
	// ServiceBlank accepts only the empty Service-Name (section 9).
	ServiceBlank
)

func (p ServicePolicy) String() string {
	switch p {
	case ServiceAny:
		return "any"
	case ServiceList:
		return "list"
	case ServiceBlank:
		return "blank"
	}
	return "ServicePolicy(" + strconv.Itoa(int(p)) + ")"
}

// DownReason says why a session ended.
type DownReason uint8

// Reasons given to Handler.SessionDown.
const (
	DownPADT     DownReason = iota + 1 // the client sent a PADT, RFC 2516 section 5.5
	DownLocal                          // Server.Close was called (a PADT was sent)
	DownShutdown                       // the server stopped (a PADT was sent)
)

func (r DownReason) String() string {
	switch r {
	case DownPADT:
		return "padt-received"
	case DownLocal:
		return "closed"
	case DownShutdown:
		return "shutdown"
	}
	return "DownReason(" + strconv.Itoa(int(r)) + ")"
}

// Handler receives the sessions of a Server. Its methods are called from
// the server's reader goroutines and must not block.
type Handler interface {
	// SessionUp is called once the PADS is sent: the owner may start
	// sending. Frames the client sends before SessionUp returns are held
	// (up to 16) and handed to SessionData right after it.
	SessionUp(s *Session)
	// SessionDown is called once when the session ends.
	SessionDown(s *Session, reason DownReason)
	// SessionData hands over a session-stage payload: a PPP frame that
	// starts with its Protocol field (RFC 2516 section 6). payload aliases
	// the read buffer and is valid only during the call.
	SessionData(s *Session, payload []byte)
}

// BatchHandler is a Handler that also takes the session-stage frames of
// one read (up to 64, one recvmmsg(2) on the port's session socket) in one
// call, so that it can forward them with one system call from the reader's
// goroutine. The server calls SessionDataBatch instead of SessionData for
// the frames of a batch read; frames held before SessionUp returned still
// go to SessionData.
type BatchHandler interface {
	Handler
	// SessionDataBatch hands over the frames of one read, in arrival
	// order. The payloads alias the read buffers and frames is reused:
	// both are valid only during the call.
	SessionDataBatch(frames []InFrame)
}

// InFrame is one session-stage frame of a read batch.
type InFrame struct {
	Session *Session
	Payload []byte // PPP frame from its Protocol field
}

// ServerConfig configures an access concentrator.
type ServerConfig struct {
	// Interface is the access interface, e.g. "eth1".
	Interface string
	// VLANs are 802.1Q VLAN IDs served through sub-interfaces named
	// "<Interface>.<vid>" (one socket pair each), which must exist: making
	// them is host configuration. ServeUntagged also serves Interface
	// itself.
	VLANs         []uint16
	ServeUntagged bool
	// UserVLANs serves the VLANs on Interface itself, reading the 802.1Q
	// tag of each frame and tagging replies in user space: no
	// sub-interfaces (for kernels without 802.1Q support, or many VLANs).
	UserVLANs bool
	// QinQ are double-tagged VLANs (802.1ad S-tag, TPID 0x88a8, outside
	// an 802.1Q C-tag) served in user space; requires UserVLANs.
	QinQ []VLANPair
	// VLANRanges are more tagged frames served in user space (requires
	// UserVLANs): ranges of single tags and of QinQ pairs, kept as bitmaps
	// (a frame is looked up in constant time, whatever the ranges). They
	// must not overlap each other, VLANs or QinQ. Without UserVLANs only
	// their session caps apply, to the sub-interfaces of VLANs.
	VLANRanges []VLANRange
	// MaxSessionsPerVLAN caps the sessions of each VLAN (each tag, each
	// QinQ pair, each sub-interface; not the untagged frames) unless its
	// range sets its own cap; 0: no cap. A PADR beyond it gets a PADS
	// with AC-System-Error.
	MaxSessionsPerVLAN int
	// NoRxRing reads session frames with recvmmsg(2) instead of a
	// PACKET_MMAP receive ring (TPACKET_V2, used when the kernel grants it).
	NoRxRing bool
	// RxRing is the size of each port's receive ring in frames, a multiple
	// of 32 (default DefaultRxRing: 2 KiB of kernel memory a frame, 4 MiB a
	// port; with many VLAN sub-interfaces, each a port, make it smaller).
	RxRing int
	// NoControlSocket reads PPP control session frames (LCP, PAP, CHAP,
	// the NCPs) on the data's socket: by default they have a socket of
	// their own, so that a flood of data does not crowd out LCP Echo.
	NoControlSocket bool

	// ACName is sent in every PADO and PADS (RFC 2516 section 5.2).
	ACName string
	// Services and ServicePolicy decide which Service-Name is served.
	Services      []string
	ServicePolicy ServicePolicy

	// CookieSecret keys the AC-Cookie HMAC; when empty a random secret is
	// drawn at start. CookieLifetime is how long a PADO's cookie stays
	// valid (two time buckets of this length are accepted); 30s by default.
	CookieSecret   []byte
	CookieLifetime time.Duration

	// MaxSessions limits the sessions on one interface (at most 65534, the
	// default). MaxSessionsPerMAC limits the sessions of one client MAC on
	// one interface; 0 means 1.
	MaxSessions       int
	MaxSessionsPerMAC int

	// PADIRate PADIs per second per source MAC, with bursts of PADIBurst,
	// are answered; the rest are dropped and counted. The limiter keeps at
	// most RateTableSize MACs (4096 by default). PADIRate 0 means 10;
	// a negative PADIRate disables the limit.
	PADIRate      float64
	PADIBurst     int
	RateTableSize int

	// PADODelay delays every PADO, so that another AC answers first.
	PADODelay time.Duration

	// MaxPayload is the largest PPP payload offered through the
	// PPP-Max-Payload tag of RFC 4638 (up to interface MTU - 8). A client
	// that does not ask gets 1492; 0 means 1500.
	MaxPayload int

	Logger *slog.Logger
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// VLANPair is an 802.1ad service VLAN (outer) and customer VLAN (inner).
type VLANPair struct{ Outer, Inner uint16 }

// vlanKey identifies the VLAN(s) of a frame: 0 untagged, a VLAN ID, or
// outer<<16 | inner for a double-tagged (QinQ) frame.
type vlanKey uint32

func (k vlanKey) outer() uint16 { return uint16(k >> 16) }
func (k vlanKey) inner() uint16 { return uint16(k) }

// String is "untagged", the VLAN ID, or "outer:inner".
func (k vlanKey) String() string {
	switch {
	case k == 0:
		return "untagged"
	case k.outer() == 0:
		return strconv.Itoa(int(k.inner()))
	}
	return strconv.Itoa(int(k.outer())) + ":" + strconv.Itoa(int(k.inner()))
}

// frameVLAN combines the tag the kernel took off a received frame (aux,
// from PACKET_AUXDATA; 0 for none) with the tags left inline, and returns
// the frame's VLAN key and the offset of its ethertype. More than two
// tags is not ok.
func frameVLAN(frame []byte, aux uint16) (k vlanKey, off int, ok bool) {
	var tags [2]uint16
	n := 0
	if aux != 0 {
		tags[0], n = aux, 1
	}
	off = 12
	for len(frame) >= off+4 {
		et := EtherType(binary.BigEndian.Uint16(frame[off:]))
		if et != EtherTypeVLAN && et != EtherTypeQinQ {
			break
		}
		if n == len(tags) {
			return 0, 0, false
		}
		tags[n] = binary.BigEndian.Uint16(frame[off+2:]) & 0x0fff
		n++
		off += 4
	}
	switch n {
	case 1:
		k = vlanKey(tags[0])
	case 2:
		k = vlanKey(tags[0])<<16 | vlanKey(tags[1])
	}
	return k, off, true
}

// Stats are the counters of a Server.
type Stats struct {
	PADIReceived, PADOSent, PADIRateLimited        uint64
	PADRReceived, PADSSent                         uint64
	CookieRejected, ServiceRejected, LimitRejected uint64
	// VLANLimitRejected counts the PADRs refused by a per-VLAN session
	// cap (also counted in LimitRejected).
	VLANLimitRejected                        uint64
	PADTReceived, PADTSent                   uint64
	Malformed, Ignored                       uint64
	SessionFramesIn, SessionFramesOut        uint64
	SessionUnknown, SendErrors, DelayDropped uint64
}

type counters struct {
	padiReceived, padoSent, padiRateLimited        atomic.Uint64
	padrReceived, padsSent                         atomic.Uint64
	cookieRejected, serviceRejected, limitRejected atomic.Uint64
	vlanLimitRejected                              atomic.Uint64
	padtReceived, padtSent                         atomic.Uint64
	malformed, ignored                             atomic.Uint64
	sessIn, sessOut, sessUnknown, sendErrors       atomic.Uint64
	delayDropped                                   atomic.Uint64
}

// Session is one PPPoE session of a Server. Its fields are set before
// SessionUp and never change.
type Session struct {
	ID          uint16
	ClientMAC   MAC
	Interface   string
	VLAN        uint16 // the (inner) VLAN ID; 0 when untagged
	OuterVLAN   uint16 // the QinQ service VLAN ID; 0 when single-tagged
	ServiceName string
	HostUniq    []byte
	// tag is the VLAN(s) put on the session's frames in user-space VLAN
	// mode (0 on an untagged socket or a VLAN sub-interface).
	tag vlanKey
	// AccessLine is the Broadband Forum access-line information of the
	// PADR (or nil when the intermediate agent added none).
	AccessLine *AccessLine
	// MaxPayload is the agreed PPP payload size: 1492, or more when the
	// PPP-Max-Payload tag of RFC 4638 was agreed.
	MaxPayload int
	// Owner is free for the Handler (set it in SessionUp).
	Owner any

	port     *port
	capKey   vlanKey // the VLAN counted against a per-VLAN cap
	capped   bool    // counted in port.perVLAN
	hostUniq string
	relay    []byte
	closed   atomic.Bool
	ready    atomic.Bool // SessionUp has returned
	earlyMu  sync.Mutex
	early    [][]byte // frames received before ready
	// Counters of session-stage frames.
	RxPackets, RxBytes, TxPackets, TxBytes atomic.Uint64
}

// ErrClosed is returned when sending on a session that has ended.
var ErrClosed = errors.New("pppoe: session closed")

// ErrTooBig is returned when a payload exceeds the session's MaxPayload.
var ErrTooBig = errors.New("pppoe: payload larger than the session's max payload")

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 1600); return &b }}

// Send transmits a PPP frame (starting with its Protocol field) on the
// session, RFC 2516 section 6. It is safe for concurrent use.
func (s *Session) Send(payload []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	// MaxPayload bounds the PPP Information field; the frame adds its
	// two-octet Protocol (RFC 2516 section 7: 1500 - 6 - 2 = 1492).
	if len(payload) > s.MaxPayload+2 {
		return fmt.Errorf("pppoe: %d octets: %w", len(payload), ErrTooBig)
	}
	p := s.port
	bp := framePool.Get().(*[]byte)
	b := appendSessionFrame((*bp)[:0], s.ClientMAC, p.mac, s.tag, s.ID, payload)
	err := p.sendSession(b, s.ClientMAC)
	*bp = b
	framePool.Put(bp)
	if err != nil {
		p.srv.c.sendErrors.Add(1)
		return err
	}
	s.TxPackets.Add(1)
	s.TxBytes.Add(uint64(len(payload)))
	p.srv.c.sessOut.Add(1)
	return nil
}

// Wire is how the session's frames look on its port, for a data plane
// that writes them itself: the AC's MAC (their Ethernet source) and the
// VLAN tags they carry, outer first (none on an untagged port or a VLAN
// sub-interface).
func (s *Session) Wire() (local MAC, tags []VLAN) {
	if o := s.tag.outer(); o != 0 {
		tags = append(tags, VLAN{TPID: EtherTypeQinQ, TCI: o})
	}
	if i := s.tag.inner(); i != 0 {
		tags = append(tags, VLAN{TPID: EtherTypeVLAN, TCI: i})
	}
	return s.port.mac, tags
}

// appendSessionFrame appends an Ethernet header (tagged as vk says) and a
// session-stage PPPoE header.
func appendSessionFrame(b []byte, dst, src MAC, vk vlanKey, sid uint16, payload []byte) []byte {
	b = appendEth(b, dst, src, vk, EtherTypeSession)
	b, _ = AppendSession(b, sid, payload) // length checked by callers
	return b
}

// frameConn is the raw Ethernet socket a port reads and writes whole
// frames on; *packet.Conn implements it.
type frameConn interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

type sessKey struct {
	vlan vlanKey
	mac  MAC
	id   uint16
}

// port is one served interface (the untagged one or a VLAN sub-interface).
type port struct {
	srv        *Server
	name       string
	vlan       uint16
	mac        MAC
	mtu        int
	disc, sess frameConn
	ctrl       frameConn   // PPP control session frames; nil: all on sess
	ring       *ringReader // sess's receive ring; nil: recvmmsg

	// Owned by the discovery goroutine.
	mac256   hash.Hash
	cookieIn [20]byte
	in       Packet
	out      []byte
	sum      []byte
	reply    Packet  // the PADO or PADS being built; tag values alias in, strs and mp
	strs     []byte  // string tag values of reply, copied so as not to allocate
	mp       [2]byte // reply's PPP-Max-Payload value

	// Which frames the port serves: untagged ones, and (user-space VLAN
	// mode) those tagged with a VLAN ID of vlans.
	untagged bool
	vlans    *vlanSet
	// limits is the ranges' session caps (nil: none but MaxSessionsPerVLAN).
	limits *vlanSet

	mu       sync.RWMutex
	sessions map[sessKey]*Session
	perMAC   map[MAC][]*Session // the sessions of each client MAC
	perVLAN  map[vlanKey]int    // sessions of each VLAN, with a per-VLAN cap
	ids      [65536 / 64]uint64 // allocated session IDs
	nextID   uint16

	delayed chan []byte
	upNext  *Session // accepted by the PADR being answered

	writersOnce sync.Once
	dw, sw      *frameWriter
	batchers    sync.Pool // *batchWriter on the session socket
}

// Server is a PPPoE access concentrator (RFC 2516) on one interface and its
// VLAN sub-interfaces.
type Server struct {
	cfg     ServerConfig
	h       Handler
	log     *slog.Logger
	now     func() time.Time
	limiter *rateLimiter
	ports   []*port
	c       counters
	svcs    map[string]bool

	lastBadLog   atomic.Int64 // unix nanoseconds of the last malformed-frame log line
	lastLimitLog atomic.Int64 // and of the last per-VLAN limit log line
}

// NewServer validates cfg and opens the raw sockets. Call it in the
// network namespace to serve; then call Run.
//
// An access concentrator on eth1 serving VLANs 100 and 200 in user space;
// a LAC binds each session to an L2TP session in h.SessionUp, forwards
// frames from h.SessionData (the payload aliases the read buffer) and sends
// back with Session.Send:
//
//	srv, err := pppoe.NewServer(pppoe.ServerConfig{
//		Interface: "eth1", VLANs: []uint16{100, 200}, UserVLANs: true,
//		ACName: "bras-1", ServicePolicy: pppoe.ServiceAny,
//		CookieSecret: secret, PADIRate: 5,
//	}, h)
//	if err != nil {
//		return err
//	}
//	return srv.Run(ctx) // PADT to every session on return
func NewServer(cfg ServerConfig, h Handler) (*Server, error) {
	s, err := newServer(cfg, h)
	if err != nil {
		return nil, err
	}
	if err := s.open(); err != nil {
		s.closePorts()
		return nil, err
	}
	if !cfg.NoRxRing {
		s.openRings()
	}
	return s, nil
}

// openRings gives each port's session socket a PACKET_MMAP receive ring,
// all ports at once: the kernel detaches the socket for an RCU grace
// period while it sets a ring up (frames arriving meanwhile are lost,
// which is harmless before Run). A port whose socket gets no ring reads
// with recvmmsg(2).
func (s *Server) openRings() {
	var wg sync.WaitGroup
	for _, p := range s.ports {
		if sc, ok := p.sess.(syscallConn); ok {
			wg.Go(func() {
				if r, err := newRingReader(sc, cmp.Or(s.cfg.RxRing, DefaultRxRing)); err == nil {
					p.ring = r
				}
			})
		}
	}
	wg.Wait()
}

// newServer builds a Server without sockets (tests attach their own).
func newServer(cfg ServerConfig, h Handler) (*Server, error) {
	if h == nil {
		return nil, errors.New("pppoe: server: nil Handler")
	}
	if cfg.ACName == "" {
		return nil, errors.New("pppoe: server: empty AC-Name")
	}
	if cfg.ServicePolicy > ServiceBlank {
		return nil, fmt.Errorf("pppoe: server: service policy %v", cfg.ServicePolicy)
	}
	if cfg.MaxSessions <= 0 || cfg.MaxSessions > 65534 {
		cfg.MaxSessions = 65534
	}
	if cfg.MaxSessionsPerMAC <= 0 {
		cfg.MaxSessionsPerMAC = 1
	}
	if cfg.CookieLifetime <= 0 {
		cfg.CookieLifetime = 30 * time.Second
	}
	if len(cfg.CookieSecret) == 0 {
		cfg.CookieSecret = make([]byte, 32)
		if _, err := rand.Read(cfg.CookieSecret); err != nil {
			return nil, fmt.Errorf("pppoe: server: cookie secret: %w", err)
		}
	}
	if cfg.PADIRate == 0 {
		cfg.PADIRate = 10
	}
	if cfg.PADIBurst <= 0 {
		cfg.PADIBurst = 5
	}
	if cfg.RateTableSize <= 0 {
		cfg.RateTableSize = 4096
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = 1500
	}
	if cfg.MaxPayload < 1492 {
		cfg.MaxPayload = 1492
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:     cfg,
		h:       h,
		log:     cfg.Logger,
		now:     cfg.Now,
		limiter: newRateLimiter(cfg.RateTableSize, cfg.PADIRate, cfg.PADIBurst),
		svcs:    make(map[string]bool, len(cfg.Services)),
	}
	for _, n := range cfg.Services {
		s.svcs[n] = true
	}
	return s, nil
}

// newPort makes the state of one served interface.
func (s *Server) newPort(name string, vlan uint16, mac MAC, mtu int) *port {
	return &port{
		srv:      s,
		name:     name,
		vlan:     vlan,
		mac:      mac,
		mtu:      mtu,
		mac256:   hmac.New(sha256.New, s.cfg.CookieSecret),
		out:      make([]byte, 0, 1600),
		sum:      make([]byte, 0, sha256.Size),
		sessions: make(map[sessKey]*Session),
		perMAC:   make(map[MAC][]*Session),
		perVLAN:  make(map[vlanKey]int),
		nextID:   1,
		delayed:  make(chan []byte, 1024),
		untagged: true,
	}
}

// malformed counts a frame that does not parse, with a debug line at most
// once a second (never a log line per packet).
func (s *Server) malformed(iface string, src MAC, err error) {
	s.c.malformed.Add(1)
	now := time.Now().UnixNano()
	last := s.lastBadLog.Load()
	if now-last < int64(time.Second) || !s.lastBadLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Debug("pppoe: malformed frame dropped", "interface", iface, "mac", src.String(),
		"err", err, "malformed_total", s.c.malformed.Load())
}

// vlanLimited logs a PADR refused by a per-VLAN cap, at most once a
// second, with the count so far.
func (s *Server) vlanLimited(iface string, src MAC, k vlanKey, limit int) {
	now := time.Now().UnixNano()
	last := s.lastLimitLog.Load()
	if now-last < int64(time.Second) || !s.lastLimitLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("pppoe: PADR refused: the VLAN's session limit is reached", "interface", iface, "mac", src.String(),
		"vlan", k.String(), "limit", limit, "refused_total", s.c.vlanLimitRejected.Load())
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.c
	return Stats{
		PADIReceived: c.padiReceived.Load(), PADOSent: c.padoSent.Load(), PADIRateLimited: c.padiRateLimited.Load(),
		PADRReceived: c.padrReceived.Load(), PADSSent: c.padsSent.Load(),
		CookieRejected: c.cookieRejected.Load(), ServiceRejected: c.serviceRejected.Load(), LimitRejected: c.limitRejected.Load(),
		VLANLimitRejected: c.vlanLimitRejected.Load(),
		PADTReceived:      c.padtReceived.Load(), PADTSent: c.padtSent.Load(),
		Malformed: c.malformed.Load(), Ignored: c.ignored.Load(),
		SessionFramesIn: c.sessIn.Load(), SessionFramesOut: c.sessOut.Load(),
		SessionUnknown: c.sessUnknown.Load(), SendErrors: c.sendErrors.Load(), DelayDropped: c.delayDropped.Load(),
	}
}

// NumSessions returns the number of live sessions.
func (s *Server) NumSessions() int {
	n := 0
	for _, p := range s.ports {
		p.mu.RLock()
		n += len(p.sessions)
		p.mu.RUnlock()
	}
	return n
}

// RateTableSize is the number of MACs the PADI rate limiter can hold: the
// only per-MAC state kept before a valid PADR.
func (s *Server) RateTableSize() int { return s.limiter.size() }

// Close ends s with a PADT carrying msg as a Generic-Error tag (RFC 2516
// section 5.5), then reports SessionDown(DownLocal). Closing an ended
// session does nothing.
func (s *Server) Close(sess *Session, msg string) {
	s.end(sess, DownLocal, msg)
}

// end removes the session, sends a PADT unless the client sent one, and
// tells the handler.
func (s *Server) end(sess *Session, why DownReason, msg string) {
	if !sess.closed.CompareAndSwap(false, true) {
		return
	}
	p := sess.port
	p.mu.Lock()
	delete(p.sessions, sessKey{sess.tag, sess.ClientMAC, sess.ID})
	mine := p.perMAC[sess.ClientMAC]
	for i, o := range mine {
		if o == sess {
			mine = append(mine[:i], mine[i+1:]...)
			break
		}
	}
	if len(mine) == 0 {
		delete(p.perMAC, sess.ClientMAC)
	} else {
		p.perMAC[sess.ClientMAC] = mine
	}
	p.ids[sess.ID/64] &^= 1 << (sess.ID % 64)
	if sess.capped {
		if n := p.perVLAN[sess.capKey] - 1; n > 0 {
			p.perVLAN[sess.capKey] = n
		} else {
			delete(p.perVLAN, sess.capKey)
		}
	}
	p.mu.Unlock()
	if why != DownPADT {
		pkt := Packet{Code: CodePADT, SessionID: sess.ID}
		if msg != "" {
			pkt.Tags = append(pkt.Tags, Tag{Type: TagGenericError, Value: []byte(msg)})
		}
		if sess.relay != nil {
			pkt.Tags = append(pkt.Tags, Tag{Type: TagRelaySessionID, Value: sess.relay})
		}
		b := appendEth(nil, sess.ClientMAC, p.mac, sess.tag, EtherTypeDiscovery)
		if b, err := pkt.Append(b); err == nil {
			if err := p.sendDiscovery(b, sess.ClientMAC); err != nil {
				s.c.sendErrors.Add(1)
			} else {
				s.c.padtSent.Add(1)
			}
		}
	}
	// Debug: the owner (the LAC) writes the session's line, with the rest
	// of its IDs.
	s.log.Debug("pppoe session down", "pppoe_session_id", sess.ID, "mac", sess.ClientMAC.String(),
		"interface", sess.Interface, "reason", why.String())
	s.h.SessionDown(sess, why)
}

// appendEth appends an Ethernet header, tagged as vk says: an 802.1ad
// S-tag (0x88a8) then an 802.1Q C-tag for QinQ, or one 802.1Q tag.
func appendEth(b []byte, dst, src MAC, vk vlanKey, et EtherType) []byte {
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	if o := vk.outer(); o != 0 {
		b = append(b, 0x88, 0xa8, byte(o>>8)&0x0f, byte(o))
	}
	if i := vk.inner(); i != 0 {
		b = append(b, 0x81, 0x00, byte(i>>8)&0x0f, byte(i))
	}
	return binary.BigEndian.AppendUint16(b, uint16(et))
}

// Run serves discovery and session frames until ctx is done; then it ends
// every session with a PADT and closes the sockets.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4*len(s.ports))
	for _, p := range s.ports {
		wg.Add(3)
		go func() { defer wg.Done(); errc <- p.readDiscovery(ctx) }()
		go func() { defer wg.Done(); errc <- p.readSessions(ctx) }()
		if p.ctrl != nil {
			wg.Go(func() { errc <- p.readControl(ctx) })
		}
		go func() { defer wg.Done(); p.sendDelayed(ctx) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	s.endAll()
	s.releaseReads()
	wg.Wait()
	// A PADR answered while stopping: end that session too.
	s.endAll()
	s.closePorts()
	return err
}

// endAll ends every session with a PADT.
func (s *Server) endAll() {
	for _, p := range s.ports {
		p.mu.RLock()
		all := make([]*Session, 0, len(p.sessions))
		for _, sess := range p.sessions {
			all = append(all, sess)
		}
		p.mu.RUnlock()
		for _, sess := range all {
			s.end(sess, DownShutdown, "AC shutting down")
		}
	}
}

// releaseReads moves the read deadlines into the past so that blocked
// reads return.
func (s *Server) releaseReads() {
	for _, p := range s.ports {
		past := time.Unix(1, 0)
		if p.disc != nil {
			_ = p.disc.SetReadDeadline(past)
		}
		if p.sess != nil {
			_ = p.sess.SetReadDeadline(past)
		}
		if p.ctrl != nil {
			_ = p.ctrl.SetReadDeadline(past)
		}
	}
}

func (p *port) sendDiscovery(b []byte, dst MAC) error {
	p.writersOnce.Do(p.makeWriters)
	return p.dw.write(b, dst)
}

func (p *port) sendSession(b []byte, dst MAC) error {
	p.writersOnce.Do(p.makeWriters)
	return p.sw.write(b, dst)
}

func (p *port) makeWriters() {
	p.dw, p.sw = newFrameWriter(p.disc), newFrameWriter(p.sess)
	if rc := p.sw.rc; rc != nil {
		p.batchers.New = func() any { return newBatchWriter(rc) }
	}
}

// readDiscovery is the discovery loop of one port. On a raw socket the
// replies to one read's frames leave together in one sendmmsg(2), and the
// sessions their PADSes open are announced after it: the subscriber must
// have its PADS before the LAC's first LCP frame (RFC 2516 section 5.4).
func (p *port) readDiscovery(ctx context.Context) error {
	p.writersOnce.Do(p.makeWriters)
	var (
		bw *batchWriter
		up []*Session // opened by the staged PADSes
	)
	if rc := p.dw.rc; rc != nil {
		bw = newBatchWriter(rc)
	}
	flush := func() {
		if bw != nil && bw.n > 0 {
			staged := bw.n
			if sent, err := bw.flush(); err != nil {
				p.srv.c.sendErrors.Add(uint64(staged - sent))
			}
		}
		for i, sess := range up {
			p.upNext = sess
			p.finishUp()
			up[i] = nil
		}
		up = up[:0]
	}
	return readFramesBatch(ctx, p.disc, func(frame []byte, vid uint16) {
		reply, dst := p.handleDiscoveryTagged(frame, vid, p.srv.now())
		if reply != nil && bw != nil && len(reply) <= frameBufLen && !(p.srv.cfg.PADODelay > 0 && isPADO(reply)) {
			buf := bw.stage()
			if buf == nil {
				flush()
				buf = bw.stage()
			}
			bw.commit(append(buf, reply...))
			if p.upNext != nil {
				up, p.upNext = append(up, p.upNext), nil
			}
			return
		}
		if reply != nil {
			p.send(reply, dst)
		}
		p.finishUp()
	}, flush, nil, "pppoe: "+p.name+": discovery")
}

// send transmits a discovery reply, through the PADO delay queue for a PADO.
func (p *port) send(reply []byte, dst MAC) {
	if p.srv.cfg.PADODelay > 0 && isPADO(reply) {
		select {
		case p.delayed <- append([]byte(nil), reply...):
		default:
			p.srv.c.delayDropped.Add(1)
		}
		return
	}
	if err := p.sendDiscovery(reply, dst); err != nil {
		p.srv.c.sendErrors.Add(1)
	}
}

// isPADO tells a PADO among the frames this package builds.
func isPADO(frame []byte) bool {
	_, off, ok := frameVLAN(frame, 0)
	off += 2 // the ethertype, then the PPPoE header
	return ok && len(frame) > off+1 && Code(frame[off+1]) == CodePADO
}

// readFrames reads frames until ctx is done and hands each to fn with the
// VLAN ID the kernel took off it (0 for none). On an AF_PACKET socket it reads batches with recvmmsg(2);
// other conns (tests) are read one frame at a time.
func readFrames(ctx context.Context, conn frameConn, fn func(frame []byte, vid uint16), what string) error {
	return readFramesBatch(ctx, conn, fn, nil, nil, what)
}

// frameReader is a batchReader or a ringReader.
type frameReader interface {
	read() (int, error)
	Frame(i int) []byte
	vlan(i int) uint16
}

func (r *batchReader) vlan(i int) uint16 { return r.VLAN[i] }
func (r *ringReader) vlan(i int) uint16  { return r.VLAN[i] }

// readFramesBatch is readFrames that also calls end (when not nil) after
// the frames of each read, and takes them from ring (conn's receive ring)
// when it is not nil.
func readFramesBatch(ctx context.Context, conn frameConn, fn func(frame []byte, vid uint16), end func(), ring *ringReader, what string) error {
	if sc, ok := conn.(syscallConn); ok {
		var r frameReader
		if ring != nil {
			r = ring
		} else {
			br, err := newBatchReader(sc)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			r = br
		}
		for {
			n, err := r.read()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if isTimeout(err) || linkDown(err) {
					continue
				}
				return fmt.Errorf("%s read: %w", what, err)
			}
			for i := range n {
				fn(r.Frame(i), r.vlan(i))
			}
			if end != nil {
				end()
			}
		}
	}
	buf := make([]byte, frameBufLen)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if isTimeout(err) || linkDown(err) {
				continue
			}
			return fmt.Errorf("%s read: %w", what, err)
		}
		fn(buf[:n], 0)
		if end != nil {
			end()
		}
	}
}

// sendDelayed sends the PADOs held back by PADODelay, in order.
func (p *port) sendDelayed(ctx context.Context) {
	d := p.srv.cfg.PADODelay
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-p.delayed:
			// Every PADO waits the same delay: FIFO order is deadline order.
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			var dst MAC
			copy(dst[:], b[:6])
			if err := p.sendDiscovery(b, dst); err != nil {
				p.srv.c.sendErrors.Add(1)
			} else {
				p.srv.c.padoSent.Add(1)
			}
		}
	}
}

// readSessions is the session-stage loop of one port: each frame is handed
// to its session's owner from the read buffer, without allocation.
// With a BatchHandler the frames of each read go to it in one call.
func (p *port) readSessions(ctx context.Context) error {
	what := "pppoe: " + p.name + ": session"
	bh, ok := p.srv.h.(BatchHandler)
	if !ok {
		return readFramesBatch(ctx, p.sess, p.handleSessionTagged, nil, p.ring, what)
	}
	in := make([]InFrame, 0, batchSize)
	collect := func(frame []byte, aux uint16) {
		if sess, payload := p.sessionFrame(frame, aux); sess != nil {
			in = append(in, InFrame{Session: sess, Payload: payload})
		}
	}
	end := func() {
		if len(in) > 0 {
			bh.SessionDataBatch(in)
			clear(in)
			in = in[:0]
		}
	}
	return readFramesBatch(ctx, p.sess, collect, end, p.ring, what)
}

// readControl is the loop of the port's PPP control session frames: each
// goes to its session's owner with SessionData.
func (p *port) readControl(ctx context.Context) error {
	return readFrames(ctx, p.ctrl, p.handleSessionTagged, "pppoe: "+p.name+": session control")
}

// allowed reports whether the port serves VLAN key vk (0: untagged).
func (p *port) allowed(vk vlanKey) bool {
	if vk == 0 {
		return p.untagged
	}
	return p.vlans.has(vk)
}

// handleSession delivers one session-stage Ethernet frame (an 802.1Q tag
// may be inline).
func (p *port) handleSession(frame []byte) { p.handleSessionTagged(frame, 0) }

// handleSessionTagged delivers one session-stage Ethernet frame whose VLAN
// tag the kernel took off (vid), or that carries it inline.
func (p *port) handleSessionTagged(frame []byte, aux uint16) {
	if sess, payload := p.sessionFrame(frame, aux); sess != nil {
		p.srv.h.SessionData(sess, payload)
	}
}

// sessionFrame checks and counts one session-stage Ethernet frame and
// returns its session and PPP payload (aliasing frame), or nil when the
// frame is dropped or held until SessionUp returns.
func (p *port) sessionFrame(frame []byte, aux uint16) (*Session, []byte) {
	c := &p.srv.c
	vid, off, ok := frameVLAN(frame, aux)
	if !ok || len(frame) < off+2+HeaderLen || frame[off] != 0x88 || frame[off+1] != 0x64 {
		c.malformed.Add(1)
		return nil, nil
	}
	var dst, src MAC
	copy(dst[:], frame[0:6])
	copy(src[:], frame[6:12])
	if dst != p.mac || !p.allowed(vid) {
		c.ignored.Add(1)
		return nil, nil
	}
	sid, payload, err := ParseSession(frame[off+2:])
	if err != nil {
		p.srv.malformed(p.name, src, err)
		return nil, nil
	}
	if p.vlan != 0 {
		vid = 0 // a sub-interface's sessions are keyed untagged
	}
	p.mu.RLock()
	sess := p.sessions[sessKey{vid, src, sid}]
	p.mu.RUnlock()
	if sess == nil || sess.closed.Load() {
		c.sessUnknown.Add(1)
		return nil, nil
	}
	c.sessIn.Add(1)
	sess.RxPackets.Add(1)
	sess.RxBytes.Add(uint64(len(payload)))
	if !sess.ready.Load() && sess.hold(payload) {
		return nil, nil
	}
	return sess, payload
}

// hold keeps a copy of a frame that arrived before SessionUp returned; it
// reports false when the session became ready meanwhile.
func (s *Session) hold(payload []byte) bool {
	s.earlyMu.Lock()
	defer s.earlyMu.Unlock()
	if s.ready.Load() {
		return false
	}
	if len(s.early) < 16 {
		s.early = append(s.early, append([]byte(nil), payload...))
	}
	return true
}

// finishUp reports the session accepted by the last PADR, once its PADS
// has been sent, then hands over the frames held meanwhile.
func (p *port) finishUp() {
	sess := p.upNext
	if sess == nil {
		return
	}
	p.upNext = nil
	p.srv.h.SessionUp(sess)
	sess.earlyMu.Lock()
	if sess.closed.Load() {
		// The handler refused it (Server.Close in SessionUp).
		sess.early = nil
		sess.earlyMu.Unlock()
		return
	}
	for _, f := range sess.early {
		p.srv.h.SessionData(sess, f)
	}
	sess.early = nil
	sess.ready.Store(true)
	sess.earlyMu.Unlock()
}

// handleDiscovery processes one discovery Ethernet frame and returns the
// reply to send to dst (nil for none). The reply aliases p.out: it is
// valid until the next call. Only the discovery goroutine calls it.
func (p *port) handleDiscovery(frame []byte, now time.Time) (reply []byte, dst MAC) {
	return p.handleDiscoveryTagged(frame, 0, now)
}

// handleDiscoveryTagged is handleDiscovery for a frame whose 802.1Q tag the
// kernel took off (vid), or that carries it inline.
func (p *port) handleDiscoveryTagged(frame []byte, aux uint16, now time.Time) (reply []byte, dst MAC) {
	c := &p.srv.c
	vid, off, ok := frameVLAN(frame, aux)
	if !ok || len(frame) < off+2 || EtherType(binary.BigEndian.Uint16(frame[off:])) != EtherTypeDiscovery {
		c.malformed.Add(1)
		return nil, dst
	}
	var eth Ethernet
	copy(eth.Dst[:], frame[0:6])
	copy(eth.Src[:], frame[6:12])
	eth.EtherType = EtherTypeDiscovery
	rest := frame[off+2:]
	if !p.allowed(vid) {
		c.ignored.Add(1)
		return nil, dst
	}
	if p.vlan != 0 {
		vid = 0 // a sub-interface: frames go out untagged, the kernel tags them
	}
	// A source must be a unicast station (RFC 2516 section 4).
	if eth.Src[0]&1 != 0 || eth.Src == (MAC{}) {
		c.malformed.Add(1)
		return nil, dst
	}
	if err := p.in.Decode(rest); err != nil {
		p.srv.malformed(p.name, eth.Src, err)
		return nil, dst
	}
	in := &p.in
	switch in.Code {
	case CodePADI:
		c.padiReceived.Add(1)
		return p.padi(&eth, vid, in, now)
	case CodePADR:
		if eth.Dst != p.mac {
			c.ignored.Add(1)
			return nil, dst
		}
		c.padrReceived.Add(1)
		return p.padr(&eth, vid, in, now)
	case CodePADT:
		if eth.Dst != p.mac {
			c.ignored.Add(1)
			return nil, dst
		}
		c.padtReceived.Add(1)
		p.mu.RLock()
		sess := p.sessions[sessKey{vid, eth.Src, in.SessionID}]
		p.mu.RUnlock()
		if sess == nil {
			c.sessUnknown.Add(1)
			return nil, dst
		}
		p.srv.end(sess, DownPADT, "")
		return nil, dst
	}
	// PADO and PADS are for hosts.
	c.ignored.Add(1)
	return nil, dst
}

// serviceOK applies the Service-Name policy.
func (s *Server) serviceOK(name []byte) bool {
	switch s.cfg.ServicePolicy {
	case ServiceAny:
		return true
	case ServiceList:
		return len(name) == 0 || s.svcs[string(name)]
	}
	return len(name) == 0
}

// agreedPayload returns the PPP-Max-Payload to echo (RFC 4638 section 5),
// or 0 when the default 1492 applies.
func (p *port) agreedPayload(in *Packet) int {
	want, ok := in.MaxPayload()
	if !ok || want <= 1492 {
		return 0
	}
	limit := p.srv.cfg.MaxPayload
	if p.mtu > 0 && p.mtu-8 < limit {
		limit = p.mtu - 8
	}
	if want > limit {
		want = limit
	}
	if want <= 1492 {
		return 0
	}
	return want
}

// padi answers a PADI with a PADO (RFC 2516 section 5.2). It keeps no state
// but the rate limiter's bounded table.
func (p *port) padi(eth *Ethernet, vid vlanKey, in *Packet, now time.Time) ([]byte, MAC) {
	c := &p.srv.c
	// SESSION_ID MUST be zero and there MUST be exactly one Service-Name,
	// section 5.1.
	if eth.Dst != Broadcast && eth.Dst != p.mac || in.SessionID != 0 || in.Count(TagServiceName) != 1 {
		c.malformed.Add(1)
		return nil, MAC{}
	}
	if !p.srv.limiter.allow(eth.Src, now) {
		c.padiRateLimited.Add(1)
		return nil, MAC{}
	}
	svc, _ := in.Tag(TagServiceName)
	if !p.srv.serviceOK(svc) {
		// "If the Access Concentrator can not serve the PADI it MUST NOT
		// respond with a PADO", section 5.2.
		c.serviceRejected.Add(1)
		return nil, MAC{}
	}
	p.startReply(CodePADO, 0)
	p.tagString(TagACName, p.srv.cfg.ACName)
	p.tag(TagServiceName, svc)
	if p.srv.cfg.ServicePolicy == ServiceList {
		for _, n := range p.srv.cfg.Services {
			if n != string(svc) {
				p.tagString(TagServiceName, n)
			}
		}
	}
	p.tag(TagACCookie, p.cookie(eth.Src, now.UnixNano()/int64(p.srv.cfg.CookieLifetime)))
	p.echo(in)
	p.maxPayload(p.agreedPayload(in))
	b, fits := p.encode(eth.Src, vid)
	if !fits {
		c.malformed.Add(1)
		return nil, MAC{}
	}
	if p.srv.cfg.PADODelay == 0 {
		c.padoSent.Add(1)
	}
	return b, eth.Src
}

// startReply begins the discovery packet the port answers with. Its tags
// are added in wire order and encode builds it with Packet.Append, the
// one encoder of the format; nothing is allocated once the port is warm.
func (p *port) startReply(code Code, sessionID uint16) {
	p.reply = Packet{Code: code, SessionID: sessionID, Tags: p.reply.Tags[:0]}
	p.strs = p.strs[:0]
}

// tag adds a tag to the reply; v must stay unchanged until encode.
func (p *port) tag(t TagType, v []byte) {
	p.reply.Tags = append(p.reply.Tags, Tag{Type: t, Value: v})
}

// tagString adds a tag with a copy of v.
func (p *port) tagString(t TagType, v string) {
	off := len(p.strs)
	p.strs = append(p.strs, v...)
	p.tag(t, p.strs[off:len(p.strs):len(p.strs)])
}

// maxPayload adds the PPP-Max-Payload tag of RFC 4638 section 4, unless
// mp is 0 (the default 1492 applies).
func (p *port) maxPayload(mp int) {
	if mp == 0 {
		return
	}
	binary.BigEndian.PutUint16(p.mp[:], uint16(mp))
	p.tag(TagPPPMaxPayload, p.mp[:])
}

// echo adds the Host-Uniq and Relay-Session-Id tags the AC MUST return
// unmodified (RFC 2516 appendix A).
func (p *port) echo(in *Packet) {
	for i := range in.Tags {
		if t := &in.Tags[i]; t.Type == TagHostUniq || t.Type == TagRelaySessionID {
			p.tag(t.Type, t.Value)
		}
	}
}

// encode frames the reply for dst in p.out. fits is false when the
// packet is larger than the 1500-octet Ethernet payload (RFC 2516
// section 4); b is nil when a tag does not fit its length field.
func (p *port) encode(dst MAC, vid vlanKey) (b []byte, fits bool) {
	b = appendEth(p.out[:0], dst, p.mac, vid, EtherTypeDiscovery)
	start := len(b)
	b, err := p.reply.Append(b)
	if err != nil {
		return nil, false
	}
	p.out = b
	return b, len(b)-start <= 1500
}

// cookie is the AC-Cookie of RFC 2516 section 9: an HMAC-SHA256 under the
// server's secret over the AC MAC, the client MAC and the time bucket,
// truncated to 16 octets. It aliases p.sum.
func (p *port) cookie(client MAC, bucket int64) []byte {
	h := p.mac256
	h.Reset()
	in := p.cookieIn[:]
	copy(in[0:6], p.mac[:])
	copy(in[6:12], client[:])
	binary.BigEndian.PutUint64(in[12:], uint64(bucket))
	h.Write(in)
	p.sum = h.Sum(p.sum[:0])
	return p.sum[:16]
}

// cookieOK accepts a cookie of the current or the previous time bucket,
// compared in constant time so that a forger learns nothing from how long
// the PADS error takes.
func (p *port) cookieOK(client MAC, got []byte, now time.Time) bool {
	bucket := now.UnixNano() / int64(p.srv.cfg.CookieLifetime)
	for _, b := range []int64{bucket, bucket - 1} {
		if subtle.ConstantTimeCompare(got, p.cookie(client, b)) == 1 {
			return true
		}
	}
	return false
}

// padr answers a PADR with a PADS (RFC 2516 section 5.4): a session, or an
// error tag and SESSION_ID 0.
func (p *port) padr(eth *Ethernet, vid vlanKey, in *Packet, now time.Time) ([]byte, MAC) {
	c := &p.srv.c
	if in.SessionID != 0 || in.Count(TagServiceName) != 1 {
		c.malformed.Add(1)
		return nil, MAC{}
	}
	svc, _ := in.Tag(TagServiceName)
	cookie, ok := in.Tag(TagACCookie)
	if !ok || !p.cookieOK(eth.Src, cookie, now) {
		c.cookieRejected.Add(1)
		return p.padsError(eth.Src, vid, in, TagGenericError, "missing, wrong or stale AC-Cookie"), eth.Src
	}
	if !p.srv.serviceOK(svc) {
		c.serviceRejected.Add(1)
		return p.padsError(eth.Src, vid, in, TagServiceNameError, "service not offered"), eth.Src
	}
	hu, _ := in.Tag(TagHostUniq)
	relay, _ := in.Tag(TagRelaySessionID)

	p.mu.Lock()
	// A repeated PADR (our PADS was lost, section 8) gets the same PADS.
	mine := p.perMAC[eth.Src]
	for _, s := range mine {
		if s.tag == vid && s.hostUniq == string(hu) && s.ServiceName == string(svc) {
			p.mu.Unlock()
			return p.pads(s), eth.Src
		}
	}
	if len(p.sessions) >= p.srv.cfg.MaxSessions || len(mine) >= p.srv.cfg.MaxSessionsPerMAC {
		p.mu.Unlock()
		c.limitRejected.Add(1)
		return p.padsError(eth.Src, vid, in, TagACSystemError, "session limit reached"), eth.Src
	}
	// The per-VLAN cap: a tagged frame's VLAN, or the sub-interface's.
	capKey := vid
	if p.vlan != 0 {
		capKey = vlanKey(p.vlan)
	}
	capN := 0
	if capKey != 0 {
		capN = p.limits.limit(capKey, p.srv.cfg.MaxSessionsPerVLAN)
	}
	if capN > 0 && p.perVLAN[capKey] >= capN {
		p.mu.Unlock()
		c.limitRejected.Add(1)
		c.vlanLimitRejected.Add(1)
		p.srv.vlanLimited(p.name, eth.Src, capKey, capN)
		return p.padsError(eth.Src, vid, in, TagGenericError, "session limit of the VLAN reached"), eth.Src
	}
	id := p.allocID()
	if id == 0 {
		p.mu.Unlock()
		c.limitRejected.Add(1)
		return p.padsError(eth.Src, vid, in, TagACSystemError, "no session ID left"), eth.Src
	}
	sess := &Session{
		ID: id, ClientMAC: eth.Src, Interface: p.name, VLAN: p.vlan,
		ServiceName: string(svc), MaxPayload: 1492, port: p, hostUniq: string(hu),
		tag: vid,
	}
	if vid != 0 {
		sess.VLAN, sess.OuterVLAN = vid.inner(), vid.outer()
	}
	if hu != nil {
		sess.HostUniq = append([]byte(nil), hu...)
	}
	if relay != nil {
		sess.relay = append([]byte(nil), relay...)
	}
	if mp := p.agreedPayload(in); mp != 0 {
		sess.MaxPayload = mp
	}
	if a, ok, err := in.AccessLine(); ok && err == nil {
		sess.AccessLine = &a
	} else if err != nil {
		c.malformed.Add(1)
	}
	// Published before the PADS goes out, so that the client's first
	// frames find it; SessionUp follows the PADS (p.finishUp).
	p.perMAC[eth.Src] = append(mine, sess)
	p.sessions[sessKey{vid, sess.ClientMAC, id}] = sess
	if capN > 0 {
		sess.capKey, sess.capped = capKey, true
		p.perVLAN[capKey]++
	}
	p.mu.Unlock()
	p.upNext = sess
	p.srv.log.Debug("pppoe session up", "pppoe_session_id", id, "mac", sess.ClientMAC.String(),
		"interface", p.name, "service", sess.ServiceName, "max_payload", sess.MaxPayload)
	return p.pads(sess), eth.Src
}

// allocID takes the next free session ID (1..65534; 0xffff is reserved,
// RFC 2516 section 4). Called with p.mu held.
func (p *port) allocID() uint16 {
	for range 65535 {
		id := p.nextID
		p.nextID++
		if p.nextID == 0xffff {
			p.nextID = 1
		}
		if p.ids[id/64]&(1<<(id%64)) == 0 {
			p.ids[id/64] |= 1 << (id % 64)
			return id
		}
	}
	return 0
}

// pads builds the PADS confirming sess.
func (p *port) pads(sess *Session) []byte {
	p.startReply(CodePADS, sess.ID)
	p.tagString(TagServiceName, sess.ServiceName)
	p.tagString(TagACName, p.srv.cfg.ACName)
	if sess.HostUniq != nil {
		p.tag(TagHostUniq, sess.HostUniq)
	}
	if sess.relay != nil {
		p.tag(TagRelaySessionID, sess.relay)
	}
	if sess.MaxPayload > 1492 {
		p.maxPayload(sess.MaxPayload)
	}
	// The PADS echoes what the PADR carried and cannot outgrow it by more
	// than the AC-Name: it is sent as built.
	b, _ := p.encode(sess.ClientMAC, sess.tag)
	if b != nil {
		p.srv.c.padsSent.Add(1)
	}
	return b
}

// padsError builds a PADS with SESSION_ID 0 and an error tag (RFC 2516
// section 5.4 and appendix A), echoing Service-Name, Host-Uniq and
// Relay-Session-Id.
func (p *port) padsError(dst MAC, vid vlanKey, in *Packet, t TagType, msg string) []byte {
	p.startReply(CodePADS, 0)
	if svc, ok := in.Tag(TagServiceName); ok {
		p.tag(TagServiceName, svc)
	}
	p.tagString(TagACName, p.srv.cfg.ACName)
	p.tagString(t, msg)
	p.echo(in)
	b, fits := p.encode(dst, vid)
	if !fits {
		return nil
	}
	p.srv.c.padsSent.Add(1)
	return b
}

// OutFrame is one PPP frame for Server.SendBatch.
type OutFrame struct {
	Session *Session
	Payload []byte // PPP frame from its Protocol field
}

// SendBatch sends frames on their sessions with as few system calls as
// possible: consecutive frames of one interface go out together, up to 64
// per sendmmsg(2). It returns how many frames were sent; frames of ended
// sessions or too large for their session are skipped and counted as
// send errors. Nothing is allocated once the batch writers are warm.
func (s *Server) SendBatch(frames []OutFrame) (int, error) { return SendBatch(frames) }

// SendBatch is Server.SendBatch for frames of sessions of any servers
// (several access interfaces): each frame is counted by its own server.
func SendBatch(frames []OutFrame) (int, error) {
	sent := 0
	var w *batchWriter
	var wp *port
	flush := func() error {
		if w == nil {
			return nil
		}
		staged := w.n
		n, err := w.flush()
		sent += n
		wp.srv.c.sessOut.Add(uint64(n))
		if n < staged {
			wp.srv.c.sendErrors.Add(uint64(staged - n))
		}
		wp.batchers.Put(w)
		w, wp = nil, nil
		return err
	}
	var first error
	for i := range frames {
		f := &frames[i]
		sess := f.Session
		if sess == nil {
			continue
		}
		p := sess.port
		if sess.closed.Load() || len(f.Payload) > sess.MaxPayload+2 {
			p.srv.c.sendErrors.Add(1)
			continue
		}
		p.writersOnce.Do(p.makeWriters)
		if p.sw.rc == nil || len(f.Payload)+EthernetHeaderLen+8+HeaderLen > frameBufLen {
			// Not a raw socket (tests), or a jumbo frame: one write.
			if err := sess.Send(f.Payload); err == nil {
				sent++
			}
			continue
		}
		if p != wp {
			if err := flush(); err != nil && first == nil {
				first = err
			}
			w, wp = p.batchers.Get().(*batchWriter), p
		}
		b := w.stage()
		if b == nil {
			if err := flush(); err != nil && first == nil {
				first = err
			}
			w, wp = p.batchers.Get().(*batchWriter), p
			b = w.stage()
		}
		w.commit(appendSessionFrame(b, sess.ClientMAC, p.mac, sess.tag, sess.ID, f.Payload))
		sess.TxPackets.Add(1)
		sess.TxBytes.Add(uint64(len(f.Payload)))
	}
	if err := flush(); err != nil && first == nil {
		first = err
	}
	return sent, first
}
