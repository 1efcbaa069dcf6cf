package aaa

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"layeh.com/radius"
)

// Errors a CoAHandler returns; the server turns them into the Error-Cause
// of its NAK (RFC 3576 section 3.1).
var (
	// ErrSessionNotFound: no session matches; NAK with 503.
	ErrSessionNotFound = errors.New("session not found")
	// ErrNotRemovable: the session cannot be torn down; NAK with 504.
	ErrNotRemovable = errors.New("session not removable")
	// ErrUnsupported: the change cannot be made; NAK with 405.
	ErrUnsupported = errors.New("change not supported")
)

// DefaultReplayWindow is the Event-Timestamp window of RFC 3576 section 5.4.
const DefaultReplayWindow = 300 * time.Second

// DynamicClient is a RADIUS server allowed to send CoA and Disconnect
// requests, identified by source address (RFC 3576 section 5.2).
type DynamicClient struct {
	Addr   netip.Prefix
	Secret []byte
}

// SessionSelector names the session(s) a request is about. A session
// matches when every non-empty field matches it.
type SessionSelector struct {
	AcctSessionID string
	Username      string
	FramedIP      netip.Addr
	// IPv6Prefix and DelegatedPrefix are Framed-IPv6-Prefix and
	// Delegated-IPv6-Prefix (RFC 5176 section 3 names them among the
	// session identification attributes).
	IPv6Prefix, DelegatedPrefix netip.Prefix
}

// IsZero reports whether the selector names no session.
func (s SessionSelector) IsZero() bool {
	return s.AcctSessionID == "" && s.Username == "" && !s.FramedIP.IsValid() &&
		!s.IPv6Prefix.IsValid() && !s.DelegatedPrefix.IsValid()
}

// Change is what a CoA-Request asks to change; nil fields stay as they are.
type Change struct {
	RateLimit      *RateLimit
	SessionTimeout *time.Duration
	IdleTimeout    *time.Duration
}

// CoAHandler acts on dynamic authorization requests. Methods are called
// from the server's goroutine one at a time and should return quickly.
type CoAHandler interface {
	Disconnect(ctx context.Context, sel SessionSelector) error
	Change(ctx context.Context, sel SessionSelector, ch Change) error
}

// DynamicRequest is a decoded CoA-Request or Disconnect-Request (RFC 3576
// section 2.3, RFC 5176 section 3).
type DynamicRequest struct {
	Code          radius.Code // CodeDisconnectRequest or CodeCoARequest
	Selector      SessionSelector
	Change        Change
	NASIdentifier string
	NASIPAddress  netip.Addr
	EventTime     time.Time // zero when absent
	ServiceType   ServiceType
	State         []byte
	// Unsupported lists attributes the NAS does not act on; a request
	// with any is NAKed with Error-Cause 401 (RFC 3576 section 3).
	Unsupported []radius.Type
}

// ParseDynamicRequest decodes the attributes of a Disconnect-Request or
// CoA-Request. Identification attributes bras cannot match on
// (NAS-Port, Calling-Station-Id, ...) are accepted and ignored; change
// attributes in a Disconnect-Request, and anything unknown, are listed
// in Unsupported.
func ParseDynamicRequest(code radius.Code, attrs radius.Attributes) (DynamicRequest, error) {
	if code != radius.CodeDisconnectRequest && code != radius.CodeCoARequest {
		return DynamicRequest{}, fmt.Errorf("aaa: %w: code %v is not a dynamic authorization request", ErrMalformed, code)
	}
	r := DynamicRequest{Code: code}
	var mikrotik *RateLimit
	bad := func(name string, n int) error {
		return fmt.Errorf("aaa: %w: %s of %d bytes", ErrMalformed, name, n)
	}
	dur := func(v radius.Attribute) *time.Duration {
		d := time.Duration(binary.BigEndian.Uint32(v)) * time.Second
		return &d
	}
	for _, avp := range attrs {
		v := avp.Attribute
		switch avp.Type {
		case attrUserName:
			r.Selector.Username = string(v)
		case attrAcctSessionID:
			r.Selector.AcctSessionID = string(v)
		case attrFramedIPAddress:
			if len(v) != 4 {
				return DynamicRequest{}, bad("Framed-IP-Address", len(v))
			}
			r.Selector.FramedIP = netip.AddrFrom4([4]byte(v))
		case attrFramedIPv6Prefix, attrDelegatedIPv6Prefix:
			p, err := parseIPv6Prefix(v)
			if err != nil {
				return DynamicRequest{}, err
			}
			if avp.Type == attrFramedIPv6Prefix {
				r.Selector.IPv6Prefix = p
			} else {
				r.Selector.DelegatedPrefix = p
			}
		case attrNASIdentifier:
			r.NASIdentifier = string(v)
		case attrNASIPAddress:
			if len(v) != 4 {
				return DynamicRequest{}, bad("NAS-IP-Address", len(v))
			}
			r.NASIPAddress = netip.AddrFrom4([4]byte(v))
		case attrEventTimestamp:
			if len(v) != 4 {
				return DynamicRequest{}, bad("Event-Timestamp", len(v))
			}
			r.EventTime = time.Unix(int64(binary.BigEndian.Uint32(v)), 0).UTC()
		case attrServiceType:
			if len(v) != 4 {
				return DynamicRequest{}, bad("Service-Type", len(v))
			}
			r.ServiceType = ServiceType(binary.BigEndian.Uint32(v))
		case attrState:
			r.State = append([]byte(nil), v...)
		case attrNASPort, attrCalledStationID, attrCallingStationID, attrNASPortType,
			attrNASPortID, attrAcctMultiSessionID, attrProxyState, attrMessageAuthenticator:
			// Identification only, or handled by the server.
		case attrFilterID, attrSessionTimeout, attrIdleTimeout: // RFC 3576 section 3.2: allowed in CoA-Request only
			if code != radius.CodeCoARequest {
				r.Unsupported = append(r.Unsupported, avp.Type)
				continue
			}
			switch avp.Type {
			case attrFilterID:
				rl, err := ParseRateLimit(string(v))
				if err != nil {
					r.Unsupported = append(r.Unsupported, avp.Type)
					continue
				}
				r.Change.RateLimit = &rl
			case attrSessionTimeout:
				if len(v) != 4 {
					return DynamicRequest{}, bad("Session-Timeout", len(v))
				}
				r.Change.SessionTimeout = dur(v)
			case attrIdleTimeout:
				if len(v) != 4 {
					return DynamicRequest{}, bad("Idle-Timeout", len(v))
				}
				r.Change.IdleTimeout = dur(v)
			}
		case attrVendorSpecific:
			vendor, sub, val, ok := vendorAttr(v)
			if !ok || vendor != vendorMikrotik || sub != mikrotikRateLimit || code != radius.CodeCoARequest {
				r.Unsupported = append(r.Unsupported, avp.Type)
				continue
			}
			rl, err := parseMikrotikRateLimit(string(val))
			if err != nil {
				r.Unsupported = append(r.Unsupported, avp.Type)
				continue
			}
			mikrotik = &rl
		default:
			r.Unsupported = append(r.Unsupported, avp.Type)
		}
	}
	if r.Change.RateLimit == nil {
		r.Change.RateLimit = mikrotik // Filter-Id wins when both are sent
	}
	return r, nil
}

// AppendAttributes encodes r as a RADIUS server would (the reverse of
// ParseDynamicRequest, used by tests and `bras disconnect`).
func (r DynamicRequest) AppendAttributes(a radius.Attributes) radius.Attributes {
	add := func(t radius.Type, v radius.Attribute) { a = append(a, &radius.AVP{Type: t, Attribute: v}) }
	if r.Selector.Username != "" {
		add(attrUserName, radius.Attribute(r.Selector.Username))
	}
	if r.Selector.AcctSessionID != "" {
		add(attrAcctSessionID, radius.Attribute(r.Selector.AcctSessionID))
	}
	if r.Selector.FramedIP.Is4() {
		b := r.Selector.FramedIP.As4()
		add(attrFramedIPAddress, b[:])
	}
	for _, pp := range []struct {
		t radius.Type
		p netip.Prefix
	}{{attrFramedIPv6Prefix, r.Selector.IPv6Prefix}, {attrDelegatedIPv6Prefix, r.Selector.DelegatedPrefix}} {
		if v, err := appendIPv6Prefix(nil, pp.p); err == nil {
			add(pp.t, v)
		}
	}
	if r.NASIdentifier != "" {
		add(attrNASIdentifier, radius.Attribute(r.NASIdentifier))
	}
	if r.NASIPAddress.Is4() {
		b := r.NASIPAddress.As4()
		add(attrNASIPAddress, b[:])
	}
	if !r.EventTime.IsZero() {
		add(attrEventTimestamp, radius.NewInteger(uint32(r.EventTime.Unix())))
	}
	if r.ServiceType != 0 {
		add(attrServiceType, radius.NewInteger(uint32(r.ServiceType)))
	}
	if r.State != nil {
		add(attrState, append(radius.Attribute(nil), r.State...))
	}
	if r.Change.RateLimit != nil {
		add(attrFilterID, radius.Attribute(r.Change.RateLimit.String()))
	}
	if r.Change.SessionTimeout != nil {
		add(attrSessionTimeout, radius.NewInteger(uint32(*r.Change.SessionTimeout/time.Second)))
	}
	if r.Change.IdleTimeout != nil {
		add(attrIdleTimeout, radius.NewInteger(uint32(*r.Change.IdleTimeout/time.Second)))
	}
	return a
}

// EncodeDynamicRequest makes the wire form of a CoA-Request or
// Disconnect-Request with Identifier id, a Message-Authenticator and the
// Request Authenticator of RFC 3576 section 2.3.
func EncodeDynamicRequest(r DynamicRequest, id uint8, secret []byte) ([]byte, error) {
	p := &radius.Packet{Code: r.Code, Identifier: id, Secret: secret, Attributes: r.AppendAttributes(nil)}
	return encode(p, true)
}

// CoAServer answers Disconnect-Request and CoA-Request (RFC 3576, RFC
// 5176) on UDP port 3799. Configure the exported fields before Run.
type CoAServer struct {
	// NASIdentifier, when set, must match a request's NAS-Identifier
	// (else NAK 403, RFC 3576 section 3.1).
	NASIdentifier string
	// NASIPAddress, when set, must match a request's NAS-IP-Address
	// (else NAK 403).
	NASIPAddress netip.Addr
	// ReplayWindow bounds the age of Event-Timestamp and is how long a
	// request is remembered (RFC 5176 section 6.3: one window for both).
	// NewCoAServer sets DefaultReplayWindow.
	ReplayWindow time.Duration
	// RequireEventTimestamp refuses requests without Event-Timestamp
	// (the configurable discard of RFC 5176 section 6.3); NewCoAServer
	// sets it. Without it, a request replayed after the window cannot be
	// told from a new one.
	RequireEventTimestamp bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	conn    net.PacketConn
	clients atomic.Pointer[[]DynamicClient] // swapped whole by SetClients
	h       CoAHandler
	log     *slog.Logger
	stats   coaCounters
	latency atomic.Pointer[func(client, kind string, d time.Duration)] // set by RegisterMetrics
	once    onceLogger
	seen    *seenCache
}

type coaCounters struct {
	received, unknownClient, badAuthenticator, badMA, malformed,
	duplicates, acks, naks, unexpected atomic.Uint64
	disconnectACKs, disconnectNAKs, coaACKs, coaNAKs atomic.Uint64
	replayed, stale, noTimestamp, cacheFull          atomic.Uint64
}

// CoAStats are the counters of a CoAServer.
type CoAStats struct {
	Received                uint64
	UnknownClient           uint64 // from an address no DynamicClient covers: dropped
	BadAuthenticator        uint64 // wrong Request Authenticator: dropped
	BadMessageAuthenticator uint64
	Malformed               uint64
	Duplicates              uint64 // retransmissions answered from the cache
	// Requests refused by the replay protection of RFC 5176 section 6.3.
	Replayed       uint64 // seen within the window from another port: dropped
	Stale          uint64 // Event-Timestamp outside the window: dropped
	NoTimestamp    uint64 // no Event-Timestamp when required: NAK 402
	CacheFull      uint64 // the replay cache is full: NAK 506
	ACKs           uint64
	NAKs           uint64
	Unexpected     uint64 // other codes: dropped
	DisconnectACKs uint64
	DisconnectNAKs uint64
	CoAACKs        uint64
	CoANAKs        uint64
}

// NewCoAServer returns a server reading requests from conn.
func NewCoAServer(conn net.PacketConn, clients []DynamicClient, h CoAHandler, logger *slog.Logger) *CoAServer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &CoAServer{
		ReplayWindow:          DefaultReplayWindow,
		RequireEventTimestamp: true,
		conn:                  conn, h: h, log: logger,
		seen: newSeenCache(DefaultMaxSeen),
	}
	s.SetClients(clients)
	return s
}

// SetClients replaces the clients requests are accepted from (a
// configuration reload); a request being handled finishes with the list
// it started with.
func (s *CoAServer) SetClients(clients []DynamicClient) {
	cl := make([]DynamicClient, len(clients))
	for i, c := range clients {
		cl[i] = DynamicClient{Addr: c.Addr.Masked(), Secret: append([]byte(nil), c.Secret...)}
	}
	s.clients.Store(&cl)
}

// Stats returns a snapshot of the counters.
func (s *CoAServer) Stats() CoAStats {
	c := &s.stats
	return CoAStats{
		Received: c.received.Load(), UnknownClient: c.unknownClient.Load(),
		BadAuthenticator: c.badAuthenticator.Load(), BadMessageAuthenticator: c.badMA.Load(),
		Malformed: c.malformed.Load(), Duplicates: c.duplicates.Load(),
		Replayed: c.replayed.Load(), Stale: c.stale.Load(), NoTimestamp: c.noTimestamp.Load(), CacheFull: c.cacheFull.Load(),
		ACKs: c.acks.Load(), NAKs: c.naks.Load(), Unexpected: c.unexpected.Load(),
		DisconnectACKs: c.disconnectACKs.Load(), DisconnectNAKs: c.disconnectNAKs.Load(),
		CoAACKs: c.coaACKs.Load(), CoANAKs: c.coaNAKs.Load(),
	}
}

// Run serves until ctx ends; then it returns nil.
func (s *CoAServer) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, maxPacketLen)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("aaa: coa: read: %w", err)
		}
		ap, ok := addrPort(from)
		if !ok {
			continue
		}
		if resp := s.Handle(ctx, buf[:n], ap); resp != nil {
			if _, err := s.conn.WriteTo(resp, from); err != nil {
				s.log.Warn("CoA reply not sent", "peer", ap.String(), "err", err)
			}
		}
	}
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

func (s *CoAServer) logOnce(key, msg string, args ...any) {
	s.once.log(s.log, key, msg, args...)
}

func (s *CoAServer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handle processes one request datagram from a peer and returns the reply
// to send, or nil to drop it silently. Run calls it; tests may too.
func (s *CoAServer) Handle(ctx context.Context, b []byte, from netip.AddrPort) []byte {
	began := time.Now()
	s.stats.received.Add(1)
	peer := from.Addr().Unmap()
	var client *DynamicClient
	clients := *s.clients.Load()
	for i := range clients {
		if clients[i].Addr.Contains(peer) {
			client = &clients[i]
			break
		}
	}
	if client == nil {
		// RFC 3576 section 5.2: only configured servers may ask.
		s.stats.unknownClient.Add(1)
		s.logOnce("unknown/"+peer.String(), "CoA/Disconnect request from an unknown client dropped", "peer", from.String())
		return nil
	}
	n, err := packetLen(b)
	if err != nil {
		s.stats.malformed.Add(1)
		s.logOnce("malformed/"+peer.String(), "malformed CoA/Disconnect request dropped", "peer", from.String(), "err", err)
		return nil
	}
	b = b[:n]
	code := radius.Code(b[0])
	if code != radius.CodeDisconnectRequest && code != radius.CodeCoARequest {
		s.stats.unexpected.Add(1)
		s.logOnce("code/"+peer.String(), "unexpected RADIUS code on the CoA port dropped", "peer", from.String(), "code", code)
		return nil
	}
	if !radius.IsAuthenticRequest(b, client.Secret) {
		s.stats.badAuthenticator.Add(1)
		s.logOnce("badauth/"+peer.String(), "CoA/Disconnect request with a wrong Request Authenticator dropped (check the secret)", "peer", from.String())
		return nil
	}
	present, ok, err := checkMA(b, [16]byte{}, client.Secret)
	if err != nil {
		s.stats.malformed.Add(1)
		s.logOnce("malformed/"+peer.String(), "malformed CoA/Disconnect request dropped", "peer", from.String(), "err", err)
		return nil
	}
	if present && !ok {
		s.stats.badMA.Add(1)
		s.logOnce("badma/"+peer.String(), "CoA/Disconnect request with a wrong Message-Authenticator dropped", "peer", from.String())
		return nil
	}
	key := seenKey{client: peer, id: b[1], auth: [16]byte(b[4:20])}
	if e, ok := s.seen.lookup(key, s.now(), s.window()); ok {
		if e.port == from.Port() && e.resp != nil {
			// A retransmission (RFC 5176 section 2.3): the same answer,
			// nothing done twice.
			s.stats.duplicates.Add(1)
			return e.resp
		}
		// The same request from another port: a replay (section 6.3).
		s.stats.replayed.Add(1)
		s.logOnce("replay/"+peer.String(), "CoA/Disconnect request replayed within the window dropped", "peer", from.String(), "identifier", b[1])
		return nil
	}
	p, err := radius.Parse(b, client.Secret)
	if err != nil {
		s.stats.malformed.Add(1)
		s.logOnce("malformed/"+peer.String(), "malformed CoA/Disconnect request dropped", "peer", from.String(), "err", err)
		return nil
	}
	req, err := ParseDynamicRequest(code, p.Attributes)
	if err != nil {
		s.stats.malformed.Add(1)
		s.logOnce("malformed/"+peer.String(), "malformed CoA/Disconnect request dropped", "peer", from.String(), "err", err)
		return nil
	}
	var cause ErrorCause
	switch {
	case req.EventTime.IsZero() && s.RequireEventTimestamp:
		// RFC 5176 section 6.3 lets the NAS discard these; a NAK with
		// Missing Attribute (section 3.5) tells the operator why.
		s.stats.noTimestamp.Add(1)
		s.logOnce("nots/"+peer.String(), "CoA/Disconnect request without Event-Timestamp refused", "peer", from.String())
		cause = CauseMissingAttribute
	case !req.EventTime.IsZero() && !s.current(req.EventTime):
		// Not current: silently discarded (section 6.3).
		s.stats.stale.Add(1)
		s.logOnce("stale/"+peer.String(), "CoA/Disconnect request outside the Event-Timestamp window dropped", "peer", from.String(), "skew", s.now().Sub(req.EventTime))
		return nil
	case !s.seen.add(key, from.Port(), s.now(), s.window()):
		// Past the bound no replay could be detected: refuse rather
		// than act blind (section 3.5, Resources Unavailable).
		s.stats.cacheFull.Add(1)
		s.logOnce("cachefull", "CoA/Disconnect request refused: the replay cache is full", "peer", from.String(), "entries", DefaultMaxSeen)
		cause = CauseResourcesUnavailable
	default:
		cause = s.act(ctx, req)
	}
	resp := s.reply(p, cause, present)
	if resp == nil {
		return nil
	}
	s.seen.answered(key, resp)
	if f := s.latency.Load(); f != nil {
		kind := "coa"
		if code == radius.CodeDisconnectRequest {
			kind = "disconnect"
		}
		(*f)(client.Addr.String(), kind, time.Since(began))
	}
	args := []any{"peer", from.String(), "code", code, "acct_session_id", req.Selector.AcctSessionID, "user", req.Selector.Username}
	switch {
	case cause == 0 && code == radius.CodeDisconnectRequest:
		s.stats.disconnectACKs.Add(1)
	case cause == 0:
		s.stats.coaACKs.Add(1)
	case code == radius.CodeDisconnectRequest:
		s.stats.disconnectNAKs.Add(1)
	default:
		s.stats.coaNAKs.Add(1)
	}
	if cause == 0 {
		s.stats.acks.Add(1)
		s.log.Info("dynamic authorization request done", args...)
	} else {
		s.stats.naks.Add(1)
		s.log.Info("dynamic authorization request refused", append(args, "error_cause", cause)...)
	}
	return resp
}

// act runs the request and returns 0 for an ACK or the Error-Cause of a NAK.
func (s *CoAServer) act(ctx context.Context, req DynamicRequest) ErrorCause {
	switch {
	case len(req.Unsupported) > 0:
		return CauseUnsupportedAttribute
	case req.ServiceType == ServiceAuthorizeOnly:
		// Re-authorization through an Access-Request is not offered.
		return CauseUnsupportedService
	case req.ServiceType != 0:
		return CauseUnsupportedAttribute
	case s.NASIdentifier != "" && req.NASIdentifier != "" && req.NASIdentifier != s.NASIdentifier,
		s.NASIPAddress.IsValid() && req.NASIPAddress.IsValid() && req.NASIPAddress != s.NASIPAddress.Unmap():
		return CauseNASIdentificationMismatch
	case req.Selector.IsZero():
		return CauseMissingAttribute
	}
	var err error
	if req.Code == radius.CodeDisconnectRequest {
		err = s.h.Disconnect(ctx, req.Selector)
	} else {
		if req.Change == (Change{}) {
			return CauseMissingAttribute
		}
		err = s.h.Change(ctx, req.Selector, req.Change)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrSessionNotFound):
		return CauseSessionContextNotFound
	case errors.Is(err, ErrNotRemovable):
		return CauseSessionContextNotRemovable
	case errors.Is(err, ErrUnsupported):
		return CauseUnsupportedService
	}
	s.log.Warn("dynamic authorization request failed", "err", err)
	return CauseResourcesUnavailable
}

// reply builds the ACK or NAK (RFC 3576 section 2.3): Proxy-State echoed,
// Error-Cause in a NAK, a Message-Authenticator when the request had one.
func (s *CoAServer) reply(req *radius.Packet, cause ErrorCause, withMA bool) []byte {
	code := radius.CodeDisconnectACK
	switch {
	case req.Code == radius.CodeCoARequest && cause == 0:
		code = radius.CodeCoAACK
	case req.Code == radius.CodeCoARequest:
		code = radius.CodeCoANAK
	case cause != 0:
		code = radius.CodeDisconnectNAK
	}
	resp := req.Response(code)
	if cause != 0 {
		resp.Add(attrErrorCause, radius.NewInteger(uint32(cause)))
	}
	for _, avp := range req.Attributes {
		if avp.Type == attrProxyState {
			resp.Add(attrProxyState, avp.Attribute)
		}
	}
	b, err := encode(resp, withMA)
	if err != nil {
		s.log.Error("CoA reply not encoded", "err", err)
		return nil
	}
	return b
}

func (s *CoAServer) window() time.Duration {
	if s.ReplayWindow > 0 {
		return s.ReplayWindow
	}
	return DefaultReplayWindow
}

// current reports whether an Event-Timestamp is within the window of now,
// either side (clocks are only loosely synchronised).
func (s *CoAServer) current(t time.Time) bool {
	d := s.now().Sub(t)
	return d <= s.window() && d >= -s.window()
}
