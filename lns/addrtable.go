package lns

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Errors of the data-plane tables.
var (
	// ErrAddrInUse is returned when an address (or a session key) is
	// already bound to another flow.
	ErrAddrInUse = errors.New("lns: address already bound to a session")
	// ErrBadKey is returned for a key a table cannot hold: an address that
	// is not IPv4, 0.0.0.0, or tunnel ID 0.
	ErrBadKey = errors.New("lns: invalid table key")
	// ErrTableFull is returned when a table holds its maximum of entries.
	ErrTableFull = errors.New("lns: table full")
)

// AddrTable maps a subscriber's IPv4 address to its *Flow; the TUN workers
// look up every downstream packet's destination in it.
//
// Lookups take no lock at all: the table is open addressing (linear probing)
// over a power-of-two array of atomic pointers to immutable entries, and a
// lookup is a few atomic loads. Writers (session up/down, about 1000/s) are
// serialised by a mutex that readers never touch; a removal leaves a
// tombstone that later inserts reuse, and when tombstones and entries fill
// three quarters of the slots the live entries are rehashed into a fresh
// array that is published with one atomic store (O(n), but rare: amortised
// over at least a quarter of the table's inserts). A lookup racing a removal
// may still return the flow being removed; the caller's packet then goes to a
// session that is closing, which is harmless.
type AddrTable struct{ t keyTable[uint32] }

// NewAddrTable returns a table sized for about max sessions (it grows if
// needed). 65536 slots of pointers cost 512 KiB.
func NewAddrTable(max int) *AddrTable {
	a := &AddrTable{}
	a.t.init(max)
	return a
}

// Insert binds addr to f. It fails with ErrAddrInUse if addr is bound to
// another flow, and with ErrBadKey if addr is not a usable IPv4 address.
func (a *AddrTable) Insert(addr netip.Addr, f *Flow) error {
	k, err := tableAddrKey(addr)
	if err != nil {
		return err
	}
	return a.t.insert(k, f)
}

// Delete unbinds addr if it is bound to f (so a late removal of an old
// session cannot unbind the address from the session that now holds it). It
// reports whether it removed anything.
func (a *AddrTable) Delete(addr netip.Addr, f *Flow) bool {
	k, err := tableAddrKey(addr)
	if err != nil {
		return false
	}
	return a.t.delete(k, f)
}

// Lookup returns the flow bound to addr, or nil.
func (a *AddrTable) Lookup(addr netip.Addr) *Flow {
	k, err := tableAddrKey(addr)
	if err != nil {
		return nil
	}
	return a.t.lookup(k)
}

// Lookup4 is Lookup for an address in network byte order as a uint32 (as
// read from an IPv4 header with binary.BigEndian.Uint32): the packet path.
func (a *AddrTable) Lookup4(addr uint32) *Flow { return a.t.lookup(addr) }

// Len is the number of bound addresses.
func (a *AddrTable) Len() int { return a.t.len() }

func tableAddrKey(addr netip.Addr) (uint32, error) {
	addr = addr.Unmap()
	if !addr.Is4() || addr.IsUnspecified() {
		return 0, fmt.Errorf("%w: address %v", ErrBadKey, addr)
	}
	b := addr.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// SessionTable maps the LNS's own (tunnel ID, session ID) of RFC 2661
// section 3.1, as received in data messages, to the *Flow. The l2tp endpoint
// normally hands the session to the data plane directly; this table serves
// callers that only have the header (DataPlane.HandleDatagram). It is the
// same lock-free structure as AddrTable.
type SessionTable struct{ t keyTable[uint32] }

// NewSessionTable returns a table sized for about max sessions.
func NewSessionTable(max int) *SessionTable {
	s := &SessionTable{}
	s.t.init(max)
	return s
}

func tableSessionKey(tunnel, session uint16) (uint32, error) {
	if tunnel == 0 || session == 0 {
		// Section 3.1: ID 0 is reserved (the control connection / tunnel
		// as a whole); a data message never carries it.
		return 0, fmt.Errorf("%w: tunnel %d session %d", ErrBadKey, tunnel, session)
	}
	return uint32(tunnel)<<16 | uint32(session), nil
}

// Insert binds (tunnel, session) to f.
func (s *SessionTable) Insert(tunnel, session uint16, f *Flow) error {
	k, err := tableSessionKey(tunnel, session)
	if err != nil {
		return err
	}
	return s.t.insert(k, f)
}

// Delete unbinds (tunnel, session) if it is bound to f.
func (s *SessionTable) Delete(tunnel, session uint16, f *Flow) bool {
	k, err := tableSessionKey(tunnel, session)
	if err != nil {
		return false
	}
	return s.t.delete(k, f)
}

// Lookup returns the flow of (tunnel, session), or nil.
func (s *SessionTable) Lookup(tunnel, session uint16) *Flow {
	return s.t.lookup(uint32(tunnel)<<16 | uint32(session))
}

// Len is the number of bound sessions.
func (s *SessionTable) Len() int { return s.t.len() }

// keyTable is the lock-free-read open-addressing table behind AddrTable,
// SessionTable and PrefixTable6, over 32-bit keys (IPv4 addresses, L2TP
// IDs) or 64-bit ones (the upper half of an IPv6 prefix).
type keyTable[K uint32 | uint64] struct {
	mu    sync.Mutex // serialises writers only
	slots atomic.Pointer[slotArray[K]]
	n     int // live entries, under mu
	tombs int // tombstones, under mu
	count atomic.Int64
}

type slotArray[K uint32 | uint64] struct {
	shift uint32 // 64 - log2(len(s))
	mask  uint32
	s     []atomic.Pointer[tableEntry[K]]
	tomb  *tableEntry[K] // marks a removed entry: lookups probe past it, inserts reuse it
}

// tableEntry is immutable once published.
type tableEntry[K uint32 | uint64] struct {
	key  K
	flow *Flow
}

// maxTableSlots bounds growth: 1<<24 slots (128 MiB of pointers) is far
// beyond any LNS.
const maxTableSlots = 1 << 24

func newSlotArray[K uint32 | uint64](size int, tomb *tableEntry[K]) *slotArray[K] {
	n, bits := 16, uint32(4)
	for n < size {
		n <<= 1
		bits++
	}
	return &slotArray[K]{shift: 64 - bits, mask: uint32(n - 1), s: make([]atomic.Pointer[tableEntry[K]], n), tomb: tomb}
}

func (t *keyTable[K]) init(max int) {
	// Keep the load under one half at the expected size.
	t.slots.Store(newSlotArray[K](2*max, &tableEntry[K]{}))
}

// home is the first slot probed for k: Fibonacci hashing, which spreads
// consecutive addresses of a pool (and consecutive /64s of a prefix pool)
// over the table.
func (a *slotArray[K]) home(k K) uint32 { return uint32((uint64(k) * 0x9E3779B97F4A7C15) >> a.shift) }

func (t *keyTable[K]) lookup(k K) *Flow {
	a := t.slots.Load()
	i := a.home(k)
	for probes := uint32(0); probes <= a.mask; probes++ {
		e := a.s[i].Load()
		if e == nil {
			return nil
		}
		if e.key == k && e != a.tomb {
			return e.flow
		}
		i = (i + 1) & a.mask
	}
	return nil
}

func (t *keyTable[K]) len() int { return int(t.count.Load()) }

func (t *keyTable[K]) insert(k K, f *Flow) error {
	if f == nil {
		return fmt.Errorf("%w: nil flow", ErrBadKey)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.slots.Load()
	if 4*(t.n+t.tombs+1) > 3*len(a.s) {
		size := len(a.s)
		if 2*(t.n+1) > size {
			size *= 2 // really fuller, not just tombstones
		}
		if size > maxTableSlots {
			return ErrTableFull
		}
		a = t.rehash(a, size)
	}
	i := a.home(k)
	reuse := -1
	for probes := uint32(0); probes <= a.mask; probes++ {
		e := a.s[i].Load()
		if e == nil {
			break
		}
		if e == a.tomb {
			if reuse < 0 {
				reuse = int(i)
			}
		} else if e.key == k {
			if e.flow == f {
				return nil
			}
			return fmt.Errorf("%w: key %#x", ErrAddrInUse, k)
		}
		i = (i + 1) & a.mask
	}
	ne := &tableEntry[K]{key: k, flow: f}
	if reuse >= 0 {
		a.s[reuse].Store(ne)
		t.tombs--
	} else {
		a.s[i].Store(ne)
	}
	t.n++
	t.count.Store(int64(t.n))
	return nil
}

func (t *keyTable[K]) delete(k K, f *Flow) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.slots.Load()
	i := a.home(k)
	for probes := uint32(0); probes <= a.mask; probes++ {
		e := a.s[i].Load()
		if e == nil {
			return false
		}
		if e != a.tomb && e.key == k {
			if e.flow != f {
				return false
			}
			a.s[i].Store(a.tomb)
			t.n--
			t.tombs++
			t.count.Store(int64(t.n))
			return true
		}
		i = (i + 1) & a.mask
	}
	return false
}

// rehash copies the live entries into a fresh array of size slots and
// publishes it. Called with mu held.
func (t *keyTable[K]) rehash(old *slotArray[K], size int) *slotArray[K] {
	a := newSlotArray[K](size, old.tomb)
	for i := range old.s {
		e := old.s[i].Load()
		if e == nil || e == old.tomb {
			continue
		}
		j := a.home(e.key)
		for a.s[j].Load() != nil {
			j = (j + 1) & a.mask
		}
		a.s[j].Store(e)
	}
	t.tombs = 0
	t.slots.Store(a)
	return a
}
