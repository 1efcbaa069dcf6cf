package lns

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"
)

// PrefixTable6 maps the IPv6 prefixes of subscribers (the /64 of the link,
// the delegated prefix, RFC 4818) to their *Flow; the TUN workers look up
// every downstream IPv6 packet's destination in it, longest prefix first.
//
// Prefixes are 64 bits long or shorter (what SLAAC and prefix delegation
// hand out); each length in use has a keyTable of the prefixes' upper 64
// bits, and a lookup tries the lengths in use from the longest: with the
// usual /64 plus one delegated length, two lock-free probes. A single
// address (/128: a DHCPv6 IA_NA address outside the session's prefixes,
// RFC 8415 section 21.4) sits in a host table tried first, only when it
// has entries.
type PrefixTable6 struct {
	mu     sync.Mutex                           // serialises writers
	tables [65]atomic.Pointer[keyTable[uint64]] // by prefix length
	inUse  atomic.Uint64                        // bit 63-l: length l has entries (l = 1..64)
	count  [65]int                              // entries per length, under mu
	zero   atomic.Pointer[Flow]                 // the ::/0 route, if any
	hosts  sync.Map                             // [16]byte -> *Flow, the /128s
	nHosts atomic.Int64
	max    int
}

// NewPrefixTable6 returns a table sized for about max sessions.
func NewPrefixTable6(max int) *PrefixTable6 { return &PrefixTable6{max: max} }

// isHost6 reports whether p is a single IPv6 address (/128).
func isHost6(p netip.Prefix) bool {
	return p.IsValid() && p.Bits() == 128 && p.Addr().Is6() && !p.Addr().Is4In6()
}

func prefixKey(p netip.Prefix) (uint64, int, error) {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() > 64 {
		return 0, 0, fmt.Errorf("%w: %v (an IPv6 prefix of 64 bits or fewer, or an address)", ErrBadKey, p)
	}
	a := p.Masked().Addr().As16()
	return binary.BigEndian.Uint64(a[:8]), p.Bits(), nil
}

// Insert routes p to f; ErrAddrInUse when p is another flow's.
func (t *PrefixTable6) Insert(p netip.Prefix, f *Flow) error {
	if isHost6(p) {
		t.mu.Lock()
		defer t.mu.Unlock()
		k := p.Addr().As16()
		if cur, ok := t.hosts.Load(k); ok {
			if cur.(*Flow) != f {
				return fmt.Errorf("%w: %v", ErrAddrInUse, p)
			}
			return nil
		}
		t.hosts.Store(k, f)
		t.nHosts.Add(1)
		return nil
	}
	k, l, err := prefixKey(p)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if l == 0 {
		if cur := t.zero.Load(); cur != nil && cur != f {
			return fmt.Errorf("%w: %v", ErrAddrInUse, p)
		}
		t.zero.Store(f)
		return nil
	}
	kt := t.tables[l].Load()
	if kt == nil {
		kt = &keyTable[uint64]{}
		kt.init(t.max)
		t.tables[l].Store(kt)
	}
	before := kt.len()
	if err := kt.insert(k, f); err != nil {
		return err
	}
	if kt.len() > before {
		t.count[l]++
		t.inUse.Store(t.inUse.Load() | 1<<(64-l))
	}
	return nil
}

// Delete removes p if it is f's.
func (t *PrefixTable6) Delete(p netip.Prefix, f *Flow) bool {
	if isHost6(p) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.hosts.CompareAndDelete(p.Addr().As16(), f) {
			return false
		}
		t.nHosts.Add(-1)
		return true
	}
	k, l, err := prefixKey(p)
	if err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if l == 0 {
		return t.zero.CompareAndSwap(f, nil)
	}
	kt := t.tables[l].Load()
	if kt == nil || !kt.delete(k, f) {
		return false
	}
	if t.count[l]--; t.count[l] == 0 {
		t.inUse.Store(t.inUse.Load() &^ (1 << (64 - l)))
	}
	return true
}

// Lookup returns the flow of the longest prefix holding dst (its 16
// octets), or nil. It takes no lock.
func (t *PrefixTable6) Lookup(dst []byte) *Flow {
	if t.nHosts.Load() > 0 {
		if f, ok := t.hosts.Load([16]byte(dst[:16])); ok {
			return f.(*Flow)
		}
	}
	hi := binary.BigEndian.Uint64(dst[:8])
	for m := t.inUse.Load(); m != 0; {
		// The lowest set bit is the longest length in use.
		b := bits.TrailingZeros64(m)
		m &^= 1 << b
		l := 64 - b
		if kt := t.tables[l].Load(); kt != nil {
			if f := kt.lookup(hi &^ (1<<(64-l) - 1)); f != nil {
				return f
			}
		}
	}
	return t.zero.Load()
}
