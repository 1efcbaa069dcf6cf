package aaa

import (
	"bytes"
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
	set   atomic.Pointer[serverSet] // swapped whole by Reconfigure
	sem   chan struct{}
	log   *slog.Logger
	now   func() time.Time
	stats clientCounters
	once  onceLogger
	// latency, when set by RegisterMetrics, observes round trips by
	// server (its configured address) and kind.
	latency atomic.Pointer[func(server, kind string, d time.Duration)]
}

// serverSet is what Reconfigure changes on a running client: the
// servers, their secrets and the timers. A request uses the set it
// started with.
type serverSet struct {
	auth, acct []*server
	timeout    time.Duration
	retries    int
	deadTime   time.Duration
}

type server struct {
	Server
	mux       serverMux    // its sockets, shared by the requests
	kind      string       // "access" or "accounting", a metric label
	deadUntil atomic.Int64 // unix nanoseconds
	sawMA     atomic.Bool
	// Outcomes of the requests this server answered or dropped.
	accepts, rejects, timeouts atomic.Uint64
	// The last answer: its round trip (nanoseconds) and when (unix
	// nanoseconds); 0 before the first.
	lastRTT, lastAnswer atomic.Int64
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
	set, err := c.newServerSet(cfg, nil)
	if err != nil {
		return nil, err
	}
	c.set.Store(set)
	return c, nil
}

// newServerSet checks the servers of cfg and builds their set; a server
// of old with the same address, kind and secret is kept as it is (its
// hold-down and counters go on).
func (c *Client) newServerSet(cfg ClientConfig, old *serverSet) (*serverSet, error) {
	set := &serverSet{timeout: cfg.Timeout, retries: cfg.Retries, deadTime: cfg.DeadTime}
	for i, list := range [][]Server{cfg.Servers, cfg.AcctServers} {
		kind, field, prev := "access", "servers", []*server(nil)
		if i == 1 {
			kind, field = "accounting", "acct_servers"
		}
		if old != nil {
			prev = old.auth
			if i == 1 {
				prev = old.acct
			}
		}
		for j, s := range list {
			field := fmt.Sprintf("%s[%d]", field, j)
			if _, _, err := net.SplitHostPort(s.Addr); err != nil {
				return nil, &ConfigError{Field: field + ".addr", Msg: err.Error()}
			}
			if len(s.Secret) == 0 {
				return nil, &ConfigError{Field: field + ".secret", Msg: "empty"}
			}
			if s.RequireMessageAuthenticator > MAAlways {
				return nil, &ConfigError{Field: field + ".require_message_authenticator", Msg: "unknown policy"}
			}
			var srv *server
			for _, p := range prev {
				if p.Addr == s.Addr && bytes.Equal(p.Secret, s.Secret) && p.RequireMessageAuthenticator == s.RequireMessageAuthenticator {
					srv = p
				}
			}
			if srv == nil {
				srv = &server{Server: s, kind: kind}
				srv.Secret = append([]byte(nil), s.Secret...)
				srv.mux = serverMux{addr: s.Addr, stray: func(id uint8) {
					c.stats.unexpected.Add(1)
					c.logOnce("unexpected/"+srv.Addr, "RADIUS response to no pending request dropped", "server", srv.Addr, "id", id)
				}}
			}
			if i == 0 {
				set.auth = append(set.auth, srv)
			} else {
				set.acct = append(set.acct, srv)
			}
		}
	}
	return set, nil
}

// Reconfigure changes the servers, their secrets, Timeout, Retries and
// DeadTime of a running client (a configuration reload); the other fields
// of cfg are ignored. Requests under way finish with the servers they
// started with; a server that stays (same address and secret) keeps its
// hold-down and counters. Zero fields take the defaults, as in NewClient.
func (c *Client) Reconfigure(cfg ClientConfig) error {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries < 0 {
		return &ConfigError{Field: "retries", Msg: "negative"}
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.DeadTime <= 0 {
		cfg.DeadTime = DefaultDeadTime
	}
	set, err := c.newServerSet(cfg, c.set.Load())
	if err != nil {
		return err
	}
	c.set.Store(set)
	return nil
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

// builder makes the wire bytes of a request for one server with
// Identifier id. It is called again for each retransmission when the
// packet changes (accounting's Acct-Delay-Time), with a new Identifier.
type builder func(s *server, attempt int, id uint8) (wire []byte, err error)

// exchange sends a request to the servers in turn and returns the first
// authentic answer with the request it answers.
func (c *Client) exchange(ctx context.Context, accounting bool, rebuild bool, build builder, want func(radius.Code) bool) (*radius.Packet, []byte, error) {
	set := c.set.Load()
	list := set.auth
	if accounting {
		list = set.acct
	}
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
		resp, req, err := c.tryServer(ctx, set, s, rebuild, build, want)
		if err == nil {
			if s.deadUntil.Swap(0) != 0 {
				c.log.Info("RADIUS server answers again", "server", s.Addr, "type", s.kind)
			}
			if resp.Code == radius.CodeAccessAccept || resp.Code == radius.CodeAccountingResponse {
				s.accepts.Add(1)
			} else {
				s.rejects.Add(1)
			}
			rtt := time.Since(began)
			s.lastRTT.Store(int64(rtt))
			s.lastAnswer.Store(c.now().UnixNano())
			if f := c.latency.Load(); f != nil {
				(*f)(s.Addr, s.kind, rtt)
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
		if s.deadUntil.Swap(now.Add(set.deadTime).UnixNano()) == 0 {
			c.log.Warn("RADIUS server did not answer; holding it down", "server", s.Addr, "type", s.kind, "dead_time", set.deadTime)
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
	// DeadUntil is the end of the hold-down (zero when not held down).
	DeadUntil time.Time
	// LastLatency is the round trip of the last request it answered,
	// retransmissions to it included, and LastAnswer when that was; both
	// zero before the first answer.
	LastLatency time.Duration
	LastAnswer  time.Time
}

// ServerStats returns the per-server counters, authentication servers
// first, in configured order.
func (c *Client) ServerStats() []ServerStats {
	now := c.now().UnixNano()
	var out []ServerStats
	set := c.set.Load()
	for _, s := range append(append([]*server(nil), set.auth...), set.acct...) {
		st := ServerStats{
			Addr: s.Addr, Kind: s.kind, Accepts: s.accepts.Load(), Rejects: s.rejects.Load(),
			Timeouts: s.timeouts.Load(), LastLatency: time.Duration(s.lastRTT.Load()),
		}
		if du := s.deadUntil.Load(); du > now {
			st.Dead, st.DeadUntil = true, time.Unix(0, du)
		}
		if la := s.lastAnswer.Load(); la != 0 {
			st.LastAnswer = time.Unix(0, la)
		}
		out = append(out, st)
	}
	return out
}

func (c *Client) tryServer(ctx context.Context, set *serverSet, s *server, rebuild bool, build builder, want func(radius.Code) bool) (*radius.Packet, []byte, error) {
	answers := make(chan []byte, 4)
	type slot struct {
		mc *muxConn
		id uint8
	}
	var held []slot // every Identifier this request sent under; a late answer to any is good
	defer func() {
		for _, h := range held {
			h.mc.release(h.id)
		}
	}()
	var sent [][]byte
	var wire []byte
	var cur slot
	timer := time.NewTimer(set.timeout)
	defer timer.Stop()
	for attempt := 0; attempt <= set.retries; attempt++ {
		if attempt == 0 || rebuild {
			mc, id, err := s.mux.acquire(ctx, answers)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %w", err, ErrTimeout)
			}
			cur = slot{mc, id}
			held = append(held, cur)
			if wire, err = build(s, attempt, id); err != nil {
				return nil, nil, err
			}
			sent = append(sent, wire)
		}
		if attempt > 0 {
			c.stats.retransmits.Add(1)
		}
		if _, err := cur.mc.conn.Write(wire); err != nil {
			// ICMP port unreachable from an earlier try shows here: the
			// server is down; keep waiting out the timer like a loss.
			c.log.Debug("RADIUS send failed", "server", s.Addr, "err", err)
		}
		timer.Reset(set.timeout)
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-timer.C:
				break wait
			case b := <-answers:
				if p, req := c.check(s, b, sent, want); p != nil {
					return p, req, nil
				}
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
