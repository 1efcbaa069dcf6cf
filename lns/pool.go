package lns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// ErrPoolExhausted is returned when a pool has no free address left.
var ErrPoolExhausted = errors.New("lns: address pool exhausted")

// ErrUnknownPool is returned for a Framed-Pool the LNS has no pool of that name for.
var ErrUnknownPool = errors.New("lns: unknown address pool")

// lnsHolder holds the address the LNS claims for itself in a local pool.
const lnsHolder = "lns"

// AddressPool hands out subscriber addresses. The local pool below keeps them
// in memory; the PostgreSQL-backed pool of the accounting package shares them
// between several LNS nodes behind the same interface.
type AddressPool interface {
	// Allocate returns a free address of the named pool ("" is the default
	// pool) and marks it used by sessionID.
	Allocate(ctx context.Context, pool, sessionID string) (netip.Addr, error)
	// Release frees addr if sessionID still holds it.
	Release(ctx context.Context, addr netip.Addr, sessionID string) error
}

// LocalPool is a set of named in-memory IPv4 pools, each made of ranges. No
// address is handed out twice while it is held.
type LocalPool struct {
	mu    sync.Mutex
	pools map[string]*ranges
	def   string
}

type ranges struct {
	spans []span
	used  map[netip.Addr]string // address -> session holding it
	next  int                   // offset where the next search starts
	size  int
}

type span struct {
	first uint32
	n     int
}

// NewLocalPool builds pools from their definitions: name -> ranges, each a
// CIDR prefix ("100.64.0.0/16"; network and broadcast addresses are left out
// when the prefix is shorter than /31) or an inclusive range
// ("100.64.0.10-100.64.0.200"). def names the default pool.
func NewLocalPool(defs map[string][]string, def string) (*LocalPool, error) {
	p := &LocalPool{pools: make(map[string]*ranges, len(defs)), def: def}
	for name, rs := range defs {
		r := &ranges{used: make(map[netip.Addr]string)}
		for _, s := range rs {
			sp, err := parseSpan(s)
			if err != nil {
				return nil, fmt.Errorf("lns: pool %q: %w", name, err)
			}
			r.spans = append(r.spans, sp)
			r.size += sp.n
		}
		if r.size == 0 {
			return nil, fmt.Errorf("lns: pool %q has no addresses", name)
		}
		p.pools[name] = r
	}
	if _, ok := p.pools[def]; def != "" && !ok {
		return nil, fmt.Errorf("lns: default pool %q is not defined", def)
	}
	return p, nil
}

func parseSpan(s string) (span, error) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "-"); ok {
		first, err1 := netip.ParseAddr(strings.TrimSpace(a))
		last, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || !first.Is4() || !last.Is4() || last.Less(first) {
			return span{}, fmt.Errorf("bad IPv4 range %q", s)
		}
		f, l := u32(first), u32(last)
		return span{first: f, n: int(l-f) + 1}, nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil || !pfx.Addr().Is4() {
		return span{}, fmt.Errorf("bad IPv4 prefix %q", s)
	}
	pfx = pfx.Masked()
	n := 1 << (32 - pfx.Bits())
	first := u32(pfx.Addr())
	if pfx.Bits() < 31 {
		first++
		n -= 2
	}
	return span{first: first, n: n}, nil
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (r *ranges) at(i int) netip.Addr {
	for _, sp := range r.spans {
		if i < sp.n {
			return addr4(sp.first + uint32(i))
		}
		i -= sp.n
	}
	panic("lns: pool index out of range") // programmer error: i < r.size always
}

// Allocate implements AddressPool.
func (p *LocalPool) Allocate(_ context.Context, pool, sessionID string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pool == "" {
		pool = p.def // a reload may change it
	}
	r, ok := p.pools[pool]
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w %q", ErrUnknownPool, pool)
	}
	if len(r.used) >= r.size {
		return netip.Addr{}, fmt.Errorf("%w: %q (%d addresses)", ErrPoolExhausted, pool, r.size)
	}
	for k := 0; k < r.size; k++ {
		i := (r.next + k) % r.size
		a := r.at(i)
		if _, busy := r.used[a]; !busy {
			r.used[a] = sessionID
			r.next = (i + 1) % r.size
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: %q", ErrPoolExhausted, pool)
}

// Claim marks addr (given by RADIUS as Framed-IP-Address) as used by
// sessionID when it lies in one of the pools, so the pool never hands it to
// another session. An address outside every pool is left alone. Claiming an
// address another session holds is an error.
func (p *LocalPool) Claim(addr netip.Addr, sessionID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, r := range p.pools {
		if !r.contains(addr) {
			continue
		}
		if holder, busy := r.used[addr]; busy && holder != sessionID {
			return fmt.Errorf("lns: address %s of pool %q is held by session %s", addr, name, holder)
		}
		r.used[addr] = sessionID
	}
	return nil
}

func (r *ranges) contains(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	v := u32(a)
	for _, sp := range r.spans {
		if v >= sp.first && v-sp.first < uint32(sp.n) {
			return true
		}
	}
	return false
}

// Release implements AddressPool.
func (p *LocalPool) Release(_ context.Context, addr netip.Addr, sessionID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.pools {
		if holder, ok := r.used[addr]; ok && holder == sessionID {
			delete(r.used, addr)
		}
	}
	return nil
}

// InUse returns how many addresses of the named pool are held.
func (p *LocalPool) InUse(pool string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.pools[pool]; ok {
		return len(r.used)
	}
	return 0
}

// PoolUse is how much of a pool is held.
type PoolUse struct {
	Name   string
	Length int // IPv6: the length of the prefixes the pool hands out
	Size   int // addresses or prefixes it can hand out
	Used   int // of those, held by sessions
}

// Use returns how much of each pool is held, sorted by name. An address
// the LNS claimed for itself ([ppp] local-ip) counts neither in the size
// nor as used: no subscriber can have it.
func (p *LocalPool) Use() []PoolUse {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PoolUse, 0, len(p.pools))
	for name, r := range p.pools {
		own := 0
		for _, id := range r.used {
			if id == lnsHolder {
				own++
			}
		}
		out = append(out, PoolUse{Name: name, Size: r.size - own, Used: len(r.used) - own})
	}
	slices.SortFunc(out, func(a, b PoolUse) int { return strings.Compare(a.Name, b.Name) })
	return out
}
