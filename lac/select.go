package lac

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bras-project/bras/l2tp"
)

// Errors of tunnel selection. They are wrapped with the realm or route
// that failed.
var (
	// ErrNoRoute: no static route and no RADIUS tunnel for the subscriber.
	ErrNoRoute = errors.New("lac: no tunnel configured for the subscriber")
	// ErrNoTunnel: every LNS of the route failed or is held down.
	ErrNoTunnel = errors.New("lac: no LNS answered")
	// ErrHeldDown: the LNS failed a tunnel set-up less than HoldDown ago
	// and has no tunnel with room; it is not dialled again until then.
	ErrHeldDown = errors.New("lac: LNS held down after a failed tunnel set-up")
)

// LNS is one tunnel endpoint a subscriber may be forwarded to: from the
// static configuration or from the tagged Tunnel-* attributes of a RADIUS
// Access-Accept (RFC 2868 section 3).
type LNS struct {
	Name   string         // for logs; the address when empty
	Addr   netip.AddrPort // Tunnel-Server-Endpoint, port 1701 by default
	Secret []byte         // Tunnel-Password (RFC 2868 section 3.5)
	// Preference is Tunnel-Preference (RFC 2868 section 3.8): lower is
	// tried first.
	Preference uint32
	// Weight shares the load among LNS of equal preference (0 counts as 1).
	Weight uint32
	// AssignmentID is Tunnel-Assignment-Id (RFC 2868 section 3.7): sessions
	// with the same LNS and assignment share tunnels, different
	// assignments get different tunnels.
	AssignmentID string
	// ClientAuthID is Tunnel-Client-Auth-ID (RFC 2868 section 3.9): the
	// Host Name the LAC announces on this tunnel; empty: the LAC's own.
	ClientAuthID string
	// MaxSessions caps the sessions of one tunnel; a further session opens
	// a second tunnel to the same LNS. 0: the LAC's default.
	MaxSessions int
	// Tunnels is how many tunnels the LAC keeps open to the LNS and spreads
	// new calls across (more when they are all at MaxSessions). 0: the
	// LAC's default.
	Tunnels     int
	HideAVPs    bool // hide the proxy authentication AVPs (section 4.3; needs Secret)
	HideNumbers bool // with HideAVPs, Calling and Called Number too
	// Version is the L2TP version of the tunnels: 2 (also when 0) or 3
	// (RFC 3931; the calls are PPP pseudowires with the same proxy AVPs).
	Version int
	// Digest and CookieLen are the L2TPv3 control message
	// authentication and the cookie size of the sessions
	// (l2tp.TunnelOptions).
	Digest    l2tp.DigestMode
	CookieLen int
	// Encap is EncapIP for L2TPv3 straight over IP (RFC 3931 section
	// 4.1.1; Addr's port is then 0), else UDP.
	Encap l2tp.Encap
}

func (l LNS) String() string {
	if l.Name != "" {
		return l.Name
	}
	return l.Addr.String()
}

// key identifies the tunnels an LNS entry may share: one peer, one
// assignment (RFC 2868 section 3.7).
func (l LNS) key() tunnelKey { return tunnelKey{l.Addr, l.AssignmentID} }

type tunnelKey struct {
	addr   netip.AddrPort
	assign string
}

// Route is a static route: the LNS that serve subscribers matched by realm,
// by service name, by access port ("eth1", "eth1.100" with a VLAN,
// "eth1.10.100" with QinQ tags 10 and 100), or every subscriber (Default).
type Route struct {
	Realms     []string
	Services   []string
	Interfaces []string
	Default    bool
	LNS        []LNS
}

// Routes is the static tunnel table.
type Routes struct {
	realm, service, iface map[string][]LNS
	def                   []LNS
}

// NewRoutes indexes routes. A realm, service or interface in two routes
// is an error.
func NewRoutes(routes []Route) (*Routes, error) {
	r := &Routes{realm: map[string][]LNS{}, service: map[string][]LNS{}, iface: map[string][]LNS{}}
	add := func(m map[string][]LNS, kind, k string, l []LNS) error {
		if _, dup := m[k]; dup {
			return fmt.Errorf("lac: %s %q is routed twice", kind, k)
		}
		m[k] = l
		return nil
	}
	for _, rt := range routes {
		for _, k := range rt.Realms {
			if err := add(r.realm, "realm", strings.ToLower(k), rt.LNS); err != nil {
				return nil, err
			}
		}
		for _, k := range rt.Services {
			if err := add(r.service, "service", k, rt.LNS); err != nil {
				return nil, err
			}
		}
		for _, k := range rt.Interfaces {
			if err := add(r.iface, "interface", k, rt.LNS); err != nil {
				return nil, err
			}
		}
		if rt.Default {
			if r.def != nil {
				return nil, errors.New("lac: two default routes")
			}
			r.def = rt.LNS
		}
	}
	return r, nil
}

// Port is where a subscriber arrived: the access interface and its VLAN
// tags (OuterVLAN is the QinQ S-tag, 0 when single-tagged or untagged).
type Port struct {
	Interface string
	OuterVLAN uint16
	VLAN      uint16
}

// Lookup returns the LNS for a subscriber: by realm first (proxy mode; ""
// in transparent mode), then by port, most specific first
// ("eth1.10.100" for S-tag 10 and C-tag 100, "eth1.10", "eth1.100",
// "eth1"), then by service name, then the default route. nil when nothing
// matches.
func (r *Routes) Lookup(realm string, p Port, service string) []LNS {
	if r == nil {
		return nil
	}
	if realm != "" {
		if l, ok := r.realm[strings.ToLower(realm)]; ok {
			return l
		}
	}
	var keys [3]string
	n := 0
	switch {
	case p.OuterVLAN != 0:
		keys[0] = fmt.Sprintf("%s.%d.%d", p.Interface, p.OuterVLAN, p.VLAN)
		keys[1] = fmt.Sprintf("%s.%d", p.Interface, p.OuterVLAN)
		n = 2
	case p.VLAN != 0:
		keys[0] = fmt.Sprintf("%s.%d", p.Interface, p.VLAN)
		n = 1
	}
	keys[n] = p.Interface
	for _, k := range keys[:n+1] {
		if l, ok := r.iface[k]; ok {
			return l
		}
	}
	if l, ok := r.service[service]; ok {
		return l
	}
	return r.def
}

// Realm returns the realm of a user name "user@realm" ("" without one).
func Realm(user string) string {
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		return user[i+1:]
	}
	return ""
}

// Selector orders the LNS of a route: by preference, equal preferences in
// a random order weighted by Weight, and an LNS that failed is held down
// for HoldDown: tried last, on the tunnels it already has, and never
// dialled (Pool). It is safe for concurrent use.
type Selector struct {
	HoldDown time.Duration
	Now      func() time.Time
	// Rand returns a number in [0, n); nil: math/rand/v2.
	Rand func(n uint64) uint64

	mu   sync.Mutex
	dead map[tunnelKey]time.Time
}

// NewSelector returns a Selector with the given hold-down (0: 60 s).
func NewSelector(holdDown time.Duration) *Selector {
	if holdDown <= 0 {
		holdDown = 60 * time.Second
	}
	return &Selector{HoldDown: holdDown}
}

func (s *Selector) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Selector) rand(n uint64) uint64 {
	if s.Rand != nil {
		return s.Rand(n)
	}
	return rand.Uint64N(n)
}

// MarkDead holds l down for HoldDown.
func (s *Selector) MarkDead(l LNS) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead == nil {
		s.dead = map[tunnelKey]time.Time{}
	}
	s.dead[l.key()] = s.now().Add(s.HoldDown)
}

// MarkAlive ends the hold-down of l.
func (s *Selector) MarkAlive(l LNS) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dead, l.key())
}

// Down reports whether l is held down now.
func (s *Selector) Down(l LNS) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downLocked(l, s.now())
}

func (s *Selector) downLocked(l LNS, now time.Time) bool {
	until, ok := s.dead[l.key()]
	if !ok {
		return false
	}
	if !now.Before(until) {
		delete(s.dead, l.key())
		return false
	}
	return true
}

// Order returns the LNS of cands in the order to try them: live ones by
// ascending preference, equal preferences drawn by weight (RFC 2868
// section 3.8 leaves ties to the LAC: we share load by weight), then the
// held-down ones in the same way, as a last resort for the tunnels they
// already have (the Pool dials none of them).
func (s *Selector) Order(cands []LNS) []LNS {
	now := s.now()
	var live, down []LNS
	s.mu.Lock()
	for _, l := range cands {
		if s.downLocked(l, now) {
			down = append(down, l)
		} else {
			live = append(live, l)
		}
	}
	s.mu.Unlock()
	return append(s.order(live), s.order(down)...)
}

func (s *Selector) order(ls []LNS) []LNS {
	slices.SortStableFunc(ls, func(a, b LNS) int {
		switch {
		case a.Preference < b.Preference:
			return -1
		case a.Preference > b.Preference:
			return 1
		}
		return 0
	})
	for i := 0; i < len(ls); {
		j := i + 1
		for j < len(ls) && ls[j].Preference == ls[i].Preference {
			j++
		}
		s.shuffleWeighted(ls[i:j])
		i = j
	}
	return ls
}

// shuffleWeighted orders g so that each position is drawn with probability
// proportional to weight among those left.
func (s *Selector) shuffleWeighted(g []LNS) {
	for k := 0; k < len(g)-1; k++ {
		var total uint64
		for _, l := range g[k:] {
			total += uint64(max(l.Weight, 1))
		}
		x := s.rand(total)
		for i := k; i < len(g); i++ {
			w := uint64(max(g[i].Weight, 1))
			if x < w {
				g[k], g[i] = g[i], g[k]
				break
			}
			x -= w
		}
	}
}

// Tunnel is what the pool keeps of a tunnel: *l2tp.Tunnel satisfies it.
type Tunnel interface {
	Done() <-chan struct{}
}

// DialFunc opens a tunnel to an LNS; it returns once the tunnel is up or
// has failed.
type DialFunc func(ctx context.Context, l LNS) (Tunnel, error)

// tunnelEntry is one tunnel of the pool and the sessions placed on it.
type tunnelEntry struct {
	lns LNS
	t   Tunnel
	n   int // sessions held, under Pool.mu
	// cap is the session cap the tunnel was opened with (the LNS is told
	// no more in its TunnelOptions); a reload may lower the pool's cap
	// below it, never raise a tunnel above it.
	cap   int
	gone  bool
	since time.Time
}

// DefaultSessionsPerTunnel is the session cap of a tunnel whose LNS sets
// none: about half of the 65535 Session IDs of RFC 2661 section 4.4.4, so
// that a large LAC spreads its subscribers over several tunnels (and so
// over several receive queues of an LNS's NIC).
const DefaultSessionsPerTunnel = 32000

// replaceAfter is how long a tunnel must have been up for its loss to
// dial a replacement at once: an LNS that takes tunnels and drops them
// straight away gets no burst of SCCRQs, only the dials new calls ask for.
const replaceAfter = time.Second

// Pool shares tunnels among sessions. Each LNS and assignment ID has up
// to its tunnel count open (LNS.Tunnels, else the pool's default) and a
// new session goes to the least loaded of them with room; while fewer
// are open, one more is dialled in the background, one dial at a time per
// LNS; when all are at the session cap, another is dialled and the
// session waits for it. A tunnel that goes down takes only its own
// sessions and is replaced. An LNS that cannot be reached is held down by
// the Selector and the next LNS by preference is tried.
type Pool struct {
	sel  *Selector
	dial DialFunc

	// bg is the context of the background dials; Stop cancels it.
	bg     context.Context
	stop   context.CancelFunc
	dialWG sync.WaitGroup

	mu          sync.Mutex
	defaultCap  int
	defaultTuns int
	stopped     bool
	tunnels     map[tunnelKey][]*tunnelEntry
	dialing     map[tunnelKey]chan struct{}
}

// NewPool returns a pool dialing with dial; defaultCap is the session cap
// of an LNS without MaxSessions (0: DefaultSessionsPerTunnel). Each LNS
// without Tunnels gets one tunnel until SetDefaults says otherwise.
func NewPool(sel *Selector, dial DialFunc, defaultCap int) *Pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{sel: sel, dial: dial, bg: ctx, stop: cancel,
		tunnels: map[tunnelKey][]*tunnelEntry{}, dialing: map[tunnelKey]chan struct{}{}}
	p.SetDefaults(defaultCap, 1)
	return p
}

// SetDefaults sets the session cap (0: DefaultSessionsPerTunnel) and the
// tunnel count (0: 1) of the LNS that set none, for the sessions that come
// next; tunnels open keep their sessions.
func (p *Pool) SetDefaults(sessionsPerTunnel, tunnels int) {
	if sessionsPerTunnel <= 0 {
		sessionsPerTunnel = DefaultSessionsPerTunnel
	}
	if tunnels <= 0 {
		tunnels = 1
	}
	p.mu.Lock()
	p.defaultCap, p.defaultTuns = sessionsPerTunnel, tunnels
	p.mu.Unlock()
}

// Stop ends background dialling and waits for the dials under way: a
// tunnel one of them opened is in the pool when Stop returns, so that a
// shutdown closes it with the others. Acquire still works.
func (p *Pool) Stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.stop()
	p.dialWG.Wait()
}

// Lease is one session's place on a tunnel; Release gives it back.
type Lease struct {
	p    *Pool
	e    *tunnelEntry
	once sync.Once
}

// Tunnel is the leased tunnel.
func (l *Lease) Tunnel() Tunnel { return l.e.t }

// LNS is the LNS of the leased tunnel.
func (l *Lease) LNS() LNS { return l.e.lns }

// Release frees the session's place; it may be called more than once.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		l.p.mu.Lock()
		l.e.n--
		l.p.mu.Unlock()
	})
}

// SessionCap is the sessions one tunnel to l carries: its MaxSessions,
// else the pool's default.
func (p *Pool) SessionCap(l LNS) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.capOf(l)
}

// capOf is SessionCap under p.mu.
func (p *Pool) capOf(l LNS) int {
	if l.MaxSessions > 0 {
		return l.MaxSessions
	}
	return p.defaultCap
}

// tunnelsOf is the tunnels kept open to l, under p.mu.
func (p *Pool) tunnelsOf(l LNS) int {
	if l.Tunnels > 0 {
		return l.Tunnels
	}
	return p.defaultTuns
}

// Acquire leases a place on a tunnel to the first LNS of cands (in the
// Selector's order) that has room or can be dialled. Each failed LNS is
// held down. The error wraps ErrNoTunnel and the last dial error.
func (p *Pool) Acquire(ctx context.Context, cands []LNS) (*Lease, error) {
	if len(cands) == 0 {
		return nil, ErrNoRoute
	}
	var last error
	for _, l := range p.sel.Order(cands) {
		lease, err := p.acquire(ctx, l, !p.sel.Down(l))
		if err == nil {
			return lease, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrNoTunnel, last)
}

// liveLocked drops the tunnels of k that went down and returns the
// least loaded one with room under capacity (nil: none) and the number
// still up.
func (p *Pool) liveLocked(k tunnelKey, capacity int) (best *tunnelEntry, up int) {
	for _, e := range p.tunnels[k] {
		if e.gone {
			continue
		}
		select {
		case <-e.t.Done():
			e.gone = true
			continue
		default:
		}
		up++
		if e.n < min(capacity, e.cap) && (best == nil || e.n < best.n) {
			best = e
		}
	}
	return best, up
}

// acquire leases a place on a tunnel to l, opening one when none has room
// and mayDial: a held-down LNS gets no new SCCRQ, whatever the number of
// subscribers asking for it, until its hold-down ends.
func (p *Pool) acquire(ctx context.Context, l LNS, mayDial bool) (*Lease, error) {
	k := l.key()
	for {
		p.mu.Lock()
		capacity := p.capOf(l)
		if e, up := p.liveLocked(k, capacity); e != nil {
			e.n++
			if mayDial {
				p.growLocked(k, l, up)
			}
			p.mu.Unlock()
			return &Lease{p: p, e: e}, nil
		}
		if wait, ok := p.dialing[k]; ok {
			// A tunnel to this LNS is being opened: wait for it.
			p.mu.Unlock()
			select {
			case <-wait:
				if p.sel.Down(l) {
					return nil, fmt.Errorf("lac: LNS %v: %w", l, ErrHeldDown)
				}
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if !mayDial {
			p.mu.Unlock()
			return nil, fmt.Errorf("lac: LNS %v: %w", l, ErrHeldDown)
		}
		done := make(chan struct{})
		p.dialing[k] = done
		p.mu.Unlock()

		t, err := p.dial(ctx, l)

		p.mu.Lock()
		delete(p.dialing, k)
		close(done)
		if err != nil {
			p.mu.Unlock()
			p.failed(l, err)
			return nil, fmt.Errorf("lac: LNS %v: %w", l, err)
		}
		p.sel.MarkAlive(l)
		e := p.addLocked(k, l, t, capacity)
		e.n = 1
		_, up := p.liveLocked(k, capacity)
		p.growLocked(k, l, up)
		p.mu.Unlock()
		return &Lease{p: p, e: e}, nil
	}
}

// failed holds l down after a failed dial. An endpoint that has stopped
// is the LAC shutting down, not the LNS failing: it is not held down for
// it, nor for a background dial that Stop cancelled.
func (p *Pool) failed(l LNS, err error) {
	if errors.Is(err, l2tp.ErrNotRunning) || p.bg.Err() != nil && errors.Is(err, context.Canceled) {
		return
	}
	p.sel.MarkDead(l)
}

// addLocked puts a tunnel just opened to l into the pool.
func (p *Pool) addLocked(k tunnelKey, l LNS, t Tunnel, capacity int) *tunnelEntry {
	e := &tunnelEntry{lns: l, t: t, cap: capacity, since: p.sel.now()}
	list := slices.DeleteFunc(p.tunnels[k], func(e *tunnelEntry) bool { return e.gone })
	p.tunnels[k] = append(list, e)
	return e
}

// growLocked dials one more tunnel to l in the background when fewer
// than its tunnel count are up, no dial to it is under way and it is not
// held down.
func (p *Pool) growLocked(k tunnelKey, l LNS, up int) {
	if p.stopped || up >= p.tunnelsOf(l) {
		return
	}
	if _, busy := p.dialing[k]; busy || p.sel.Down(l) {
		return
	}
	done := make(chan struct{})
	p.dialing[k] = done
	p.dialWG.Add(1)
	go p.dialBackground(k, l, done)
}

// dialBackground opens one tunnel to l for the pool, and the next one
// after it while the LNS has fewer than its tunnel count.
func (p *Pool) dialBackground(k tunnelKey, l LNS, done chan struct{}) {
	defer p.dialWG.Done()
	t, err := p.dial(p.bg, l)
	p.mu.Lock()
	delete(p.dialing, k)
	close(done)
	if err != nil {
		p.mu.Unlock()
		p.failed(l, err)
		return
	}
	p.sel.MarkAlive(l)
	capacity := p.capOf(l)
	p.addLocked(k, l, t, capacity)
	_, up := p.liveLocked(k, capacity)
	p.growLocked(k, l, up)
	p.mu.Unlock()
}

// Forget removes a tunnel that went down from the pool; its sessions go
// down with it, the other tunnels keep theirs. When the LNS is left with
// fewer than its tunnel count, a replacement is dialled (unless the lost
// tunnel was up for less than replaceAfter: then the next call dials it).
func (p *Pool) Forget(t Tunnel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.sel.now()
	for k, list := range p.tunnels {
		var lost *tunnelEntry
		for _, e := range list {
			if e.t == t {
				e.gone = true
				lost = e
			}
		}
		p.tunnels[k] = slices.DeleteFunc(list, func(e *tunnelEntry) bool { return e.gone })
		// An LNS kept on several tunnels gets its count back at once; with
		// one, the next call dials, as it would after a restart (an LAC
		// with no subscriber to that LNS keeps no idle tunnel to it).
		if lost != nil && now.Sub(lost.since) >= replaceAfter && p.tunnelsOf(lost.lns) > 1 {
			_, up := p.liveLocked(k, p.capOf(lost.lns))
			p.growLocked(k, lost.lns, up)
		}
		if len(p.tunnels[k]) == 0 {
			delete(p.tunnels, k)
		}
	}
}

// Tunnels returns the tunnels of the pool with their session counts.
func (p *Pool) Tunnels() map[Tunnel]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := map[Tunnel]int{}
	for _, list := range p.tunnels {
		for _, e := range list {
			if !e.gone {
				m[e.t] = e.n
			}
		}
	}
	return m
}

// PoolTunnel describes one tunnel of the pool.
type PoolTunnel struct {
	Tunnel   Tunnel
	LNS      LNS
	Sessions int // sessions leased on it
	Since    time.Time
}

// List returns the tunnels of the pool.
func (p *Pool) List() []PoolTunnel {
	p.mu.Lock()
	defer p.mu.Unlock()
	var r []PoolTunnel
	for _, list := range p.tunnels {
		for _, e := range list {
			if !e.gone {
				r = append(r, PoolTunnel{Tunnel: e.t, LNS: e.lns, Sessions: e.n, Since: e.since})
			}
		}
	}
	return r
}
