package aaa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"layeh.com/radius"
)

// Defaults of ClientConfig.
const (
	DefaultTimeout     = 3 * time.Second
	DefaultRetries     = 2
	DefaultDeadTime    = 30 * time.Second
	DefaultMaxInFlight = 256
)

// Server is one RADIUS server.
type Server struct {
	Addr   string // host:port
	Secret []byte
	// RequireMessageAuthenticator says when its responses must carry a
	// valid Message-Authenticator; the zero value is MAAuto.
	RequireMessageAuthenticator MAPolicy
}

// ClientConfig configures a Client. Zero fields take the defaults above.
type ClientConfig struct {
	Servers     []Server // authentication, tried in order
	AcctServers []Server // accounting, tried in order
	// Timeout is how long one transmission waits for an answer; a server
	// gets 1+Retries transmissions before the next one is tried.
	Timeout time.Duration
	Retries int
	// DeadTime is the hold-down of a server that did not answer: it is
	// skipped for that long while another server is alive.
	DeadTime time.Duration
	// MaxInFlight bounds the requests waiting for an answer at once.
	MaxInFlight   int
	NASIdentifier string
	NASIPAddress  netip.Addr
	Logger        *slog.Logger
	// Now is the clock (time.Now when nil); tests inject it.
	Now func() time.Time
}

// Client is a RADIUS authentication and accounting client (RFC 2865,
// RFC 2866) with retransmission, failover over several servers and a
// dead-server hold-down. Its methods are safe for concurrent use; each
// call blocks until an answer or a failure, so callers run them on a
// bounded worker pool, never on a session shard.
type Client struct {
	cfg   ClientConfig
	auth  []*server
	acct  []*server
	sem   chan struct{}
	log   *slog.Logger
	now   func() time.Time
	stats clientCounters
	once  onceLogger
	// latency, when set by RegisterMetrics, observes round trips by
	// server (its configured address) and kind.
	latency atomic.Pointer[func(server, kind string, d time.Duration)]
}

type server struct {
	Server
	kind      string       // "access" or "accounting", a metric label
	deadUntil atomic.Int64 // unix nanoseconds
	sawMA     atomic.Bool
	// Outcomes of the requests this server answered or dropped.
	accepts, rejects, timeouts atomic.Uint64
}

type clientCounters struct {
	requests, retransmits, timeouts, failovers                           atomic.Uint64
	accepts, rejects, challenges, acctResponses                          atomic.Uint64
	badAuthenticator, badMA, missingMA, malformed, unexpected, deadSkips atomic.Uint64
	authFailed, acctFailed                                               atomic.Uint64
}

// ClientStats are the counters of a Client.
type ClientStats struct {
	Requests                    uint64 // requests started
	Retransmits                 uint64 // transmissions after the first to one server
	Timeouts                    uint64 // servers that gave no answer to a request
	Failovers                   uint64 // requests moved on to a next server
	Accepts                     uint64
	Rejects                     uint64
	Challenges                  uint64 // Access-Challenge, treated as a reject
	AcctResponses               uint64
	BadAuthenticator            uint64 // responses with a wrong Response Authenticator, dropped
	BadMessageAuthenticator     uint64 // wrong Message-Authenticator, dropped
	MissingMessageAuthenticator uint64 // required but absent, dropped
	Malformed                   uint64 // unparsable responses, dropped
	Unexpected                  uint64 // wrong Identifier or code, dropped
	DeadSkips                   uint64 // servers skipped while held down
	AuthFailed                  uint64 // Access-Requests no server answered
	AcctFailed                  uint64 // Accounting-Requests no server answered
}

// NewClient checks cfg and returns a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries < 0 {
		return nil, &ConfigError{Field: "retries", Msg: "negative"}
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.DeadTime <= 0 {
		cfg.DeadTime = DefaultDeadTime
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NASIdentifier == "" && !cfg.NASIPAddress.IsValid() {
		return nil, &ConfigError{Field: "nas_identifier", Msg: "set NAS-Identifier or NAS-IP-Address (RFC 2865 section 4.1)"}
	}
	if cfg.NASIPAddress.IsValid() && !cfg.NASIPAddress.Unmap().Is4() {
		return nil, &ConfigError{Field: "nas_ip_address", Msg: "not an IPv4 address"}
	}
	c := &Client{cfg: cfg, sem: make(chan struct{}, cfg.MaxInFlight), log: cfg.Logger, now: cfg.Now}
	for i, list := range [][]Server{cfg.Servers, cfg.AcctServers} {
		for j, s := range list {
			field := fmt.Sprintf("servers[%d]", j)
			if i == 1 {
				field = fmt.Sprintf("acct_servers[%d]", j)
			}
			if _, _, err := net.SplitHostPort(s.Addr); err != nil {
				return nil, &ConfigError{Field: field + ".addr", Msg: err.Error()}
			}
			if len(s.Secret) == 0 {
				return nil, &ConfigError{Field: field + ".secret", Msg: "empty"}
			}
			if s.RequireMessageAuthenticator > MAAlways {
				return nil, &ConfigError{Field: field + ".require_message_authenticator", Msg: "unknown policy"}
			}
			srv := &server{Server: s, kind: "access"}
			if i == 1 {
				srv.kind = "accounting"
			}
			srv.Secret = append([]byte(nil), s.Secret...)
			if i == 0 {
				c.auth = append(c.auth, srv)
			} else {
				c.acct = append(c.acct, srv)
			}
		}
	}
	return c, nil
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() ClientStats {
	s := &c.stats
	return ClientStats{
		Requests: s.requests.Load(), Retransmits: s.retransmits.Load(), Timeouts: s.timeouts.Load(),
		Failovers: s.failovers.Load(), Accepts: s.accepts.Load(), Rejects: s.rejects.Load(),
		Challenges: s.challenges.Load(), AcctResponses: s.acctResponses.Load(),
		BadAuthenticator: s.badAuthenticator.Load(), BadMessageAuthenticator: s.badMA.Load(),
		MissingMessageAuthenticator: s.missingMA.Load(), Malformed: s.malformed.Load(),
		Unexpected: s.unexpected.Load(), DeadSkips: s.deadSkips.Load(),
		AuthFailed: s.authFailed.Load(), AcctFailed: s.acctFailed.Load(),
	}
}

// logOnce logs msg at warning level the first time key is seen, then at
// debug level, so a misbehaving server cannot flood the log.
func (c *Client) logOnce(key, msg string, args ...any) {
	c.once.log(c.log, key, msg, args...)
}

// order returns the servers to try: the live ones in configured order,
// then, only if none is alive, the held-down ones.
func (c *Client) order(list []*server) []*server {
	now := c.now().UnixNano()
	out := make([]*server, 0, len(list))
	var dead []*server
	for _, s := range list {
		if s.deadUntil.Load() > now {
			dead = append(dead, s)
			c.stats.deadSkips.Add(1)
			continue
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return dead
	}
	return out
}

// builder makes the wire bytes of a request for one server. It is called
// again for each retransmission when the packet changes (accounting's
// Acct-Delay-Time); then it must return a new Identifier.
type builder func(s *server, attempt int) (wire []byte, err error)

// exchange sends a request to the servers in turn and returns the first
// authentic answer with the request it answers.
func (c *Client) exchange(ctx context.Context, list []*server, rebuild bool, build builder, want func(radius.Code) bool) (*radius.Packet, []byte, error) {
	if len(list) == 0 {
		return nil, nil, fmt.Errorf("aaa: %w", ErrNoServer)
	}
	select {
	case c.sem <- struct{}{}:
	default:
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("aaa: %w: %w", ErrBusy, ctx.Err())
		}
	}
	defer func() { <-c.sem }()
	c.stats.requests.Add(1)
	servers := c.order(list)
	for i, s := range servers {
		if i > 0 {
			c.stats.failovers.Add(1)
		}
		began := time.Now()
		resp, req, err := c.tryServer(ctx, s, rebuild, build, want)
		if err == nil {
			if s.deadUntil.Swap(0) != 0 {
				c.log.Info("RADIUS server answers again", "server", s.Addr, "type", s.kind)
			}
			if resp.Code == radius.CodeAccessAccept || resp.Code == radius.CodeAccountingResponse {
				s.accepts.Add(1)
			} else {
				s.rejects.Add(1)
			}
			if f := c.latency.Load(); f != nil {
				(*f)(s.Addr, s.kind, time.Since(began))
			}
			return resp, req, nil
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, nil, fmt.Errorf("aaa: %s: %w", s.Addr, err)
		}
		if !errors.Is(err, ErrTimeout) {
			return nil, nil, err
		}
		c.stats.timeouts.Add(1)
		s.timeouts.Add(1)
		now := c.now()
		if s.deadUntil.Swap(now.Add(c.cfg.DeadTime).UnixNano()) == 0 {
			c.log.Warn("RADIUS server did not answer; holding it down", "server", s.Addr, "type", s.kind, "dead_time", c.cfg.DeadTime)
		} else {
			c.log.Debug("RADIUS server still not answering", "server", s.Addr, "type", s.kind)
		}
	}
	if list[0].kind == "access" {
		c.stats.authFailed.Add(1)
	} else {
		c.stats.acctFailed.Add(1)
	}
	return nil, nil, fmt.Errorf("aaa: %w (%d servers tried)", ErrTimeout, len(servers))
}

// ServerStats are the outcomes per configured server.
type ServerStats struct {
	Addr     string
	Kind     string // "access" or "accounting"
	Accepts  uint64 // Access-Accept, or Accounting-Response
	Rejects  uint64 // Access-Reject or Access-Challenge
	Timeouts uint64 // requests it left unanswered
	Dead     bool   // held down now
}

// ServerStats returns the per-server counters, authentication servers
// first, in configured order.
func (c *Client) ServerStats() []ServerStats {
	now := c.now().UnixNano()
	var out []ServerStats
	for _, s := range append(append([]*server(nil), c.auth...), c.acct...) {
		out = append(out, ServerStats{
			Addr: s.Addr, Kind: s.kind, Accepts: s.accepts.Load(), Rejects: s.rejects.Load(),
			Timeouts: s.timeouts.Load(), Dead: s.deadUntil.Load() > now,
		})
	}
	return out
}

func (c *Client) tryServer(ctx context.Context, s *server, rebuild bool, build builder, want func(radius.Code) bool) (*radius.Packet, []byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", s.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("aaa: dial %s: %w", s.Addr, ErrTimeout)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var sent [][]byte // every version sent on this socket; a late answer to any is good
	var wire []byte
	buf := make([]byte, maxPacketLen)
	for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
		if attempt == 0 || rebuild {
			if wire, err = build(s, attempt); err != nil {
				return nil, nil, err
			}
			sent = append(sent, wire)
		}
		if attempt > 0 {
			c.stats.retransmits.Add(1)
		}
		if _, err := conn.Write(wire); err != nil {
			// ICMP port unreachable from an earlier try shows here: the
			// server is down; keep waiting out the timer like a loss.
			c.log.Debug("RADIUS send failed", "server", s.Addr, "err", err)
		}
		deadline := time.Now().Add(c.cfg.Timeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		_ = conn.SetReadDeadline(deadline)
		if ctx.Err() != nil { // cancelled between the check above and the deadline
			return nil, nil, ctx.Err()
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
						return nil, nil, context.DeadlineExceeded
					}
					break
				}
				// Connection refused (ICMP): wait out the rest of this try.
				if time.Now().Before(deadline) {
					time.Sleep(time.Until(deadline))
				}
				break
			}
			if p, req := c.check(s, buf[:n], sent, want); p != nil {
				return p, req, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("aaa: %s: %w", s.Addr, ErrTimeout)
}

// check validates a response against the requests sent (RFC 2865 section
// 3: Identifier and Response Authenticator; RFC 3579 section 3.2:
// Message-Authenticator) and returns it parsed with its request, or nil
// when it is to be dropped.
func (c *Client) check(s *server, b []byte, sent [][]byte, want func(radius.Code) bool) (*radius.Packet, []byte) {
	n, err := packetLen(b)
	if err != nil {
		c.stats.malformed.Add(1)
		c.logOnce("malformed/"+s.Addr, "malformed RADIUS response dropped", "server", s.Addr, "err", err)
		return nil, nil
	}
	b = b[:n]
	var req []byte
	for _, r := range sent {
		if r[1] == b[1] {
			req = r
		}
	}
	if req == nil || !want(radius.Code(b[0])) {
		c.stats.unexpected.Add(1)
		c.logOnce("unexpected/"+s.Addr, "unexpected RADIUS response dropped", "server", s.Addr, "code", radius.Code(b[0]), "id", b[1])
		return nil, nil
	}
	if !radius.IsAuthenticResponse(b, req, s.Secret) {
		c.stats.badAuthenticator.Add(1)
		c.logOnce("badauth/"+s.Addr, "RADIUS response with a wrong Response Authenticator dropped (check the shared secret)", "server", s.Addr)
		return nil, nil
	}
	var reqAuth [16]byte
	copy(reqAuth[:], req[4:20])
	present, ok, err := checkMA(b, reqAuth, s.Secret)
	if err != nil {
		c.stats.malformed.Add(1)
		c.logOnce("malformed/"+s.Addr, "malformed RADIUS response dropped", "server", s.Addr, "err", err)
		return nil, nil
	}
	switch {
	case present && !ok:
		c.stats.badMA.Add(1)
		c.logOnce("badma/"+s.Addr, "RADIUS response with a wrong Message-Authenticator dropped", "server", s.Addr)
		return nil, nil
	case present:
		if !s.sawMA.Swap(true) && s.RequireMessageAuthenticator == MAAuto {
			c.log.Info("RADIUS server sends Message-Authenticator; now requiring it", "server", s.Addr)
		}
	case s.RequireMessageAuthenticator == MAAlways,
		s.RequireMessageAuthenticator == MAAuto && s.sawMA.Load():
		c.stats.missingMA.Add(1)
		c.logOnce("missingma/"+s.Addr, "RADIUS response without the required Message-Authenticator dropped", "server", s.Addr, "policy", s.RequireMessageAuthenticator)
		return nil, nil
	}
	p, err := radius.Parse(b, s.Secret)
	if err != nil {
		c.stats.malformed.Add(1)
		c.logOnce("malformed/"+s.Addr, "malformed RADIUS response dropped", "server", s.Addr, "err", err)
		return nil, nil
	}
	return p, req
}
