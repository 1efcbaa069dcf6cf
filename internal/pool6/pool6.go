package pool6

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// MaxSize is the most prefixes one pool may hold: a /40 cut into /60s, a
// /44 into /64s. Larger pools are refused rather than half-served.
const MaxSize = 1 << 20

// ErrBadPool wraps every reason Check refuses a definition.
var ErrBadPool = errors.New("pool6: bad pool")

// Def is a pool: Prefix cut into prefixes of Length bits. A Length of 128
// makes a pool of addresses (DHCPv6 IA_NA, RFC 6911 section 3.5); its
// all-zeros address, the Subnet-Router anycast address of RFC 4291
// section 2.6.1, is left out.
type Def struct {
	Name   string
	Prefix netip.Prefix
	Length int
}

func (d Def) String() string { return fmt.Sprintf("%s cut into /%d", d.Prefix, d.Length) }

// Check refuses a definition that is not an IPv6 prefix cut into a length
// at least its own, or that holds more than MaxSize prefixes.
func (d Def) Check() error {
	p := d.Prefix
	switch {
	case d.Name == "":
		return fmt.Errorf("%w: no name", ErrBadPool)
	case !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6():
		return fmt.Errorf("%w %q: %v is not an IPv6 prefix", ErrBadPool, d.Name, p)
	case p.Masked() != p:
		return fmt.Errorf("%w %q: %v has bits set past its length", ErrBadPool, d.Name, p)
	case d.Length < p.Bits() || d.Length > 128:
		return fmt.Errorf("%w %q: length %d is outside /%d-/128 of %v", ErrBadPool, d.Name, d.Length, p.Bits(), p)
	case d.Length-p.Bits() > 20:
		return fmt.Errorf("%w %q: %v is 2^%d prefixes, more than the %d a pool may hold", ErrBadPool, d.Name, d, d.Length-p.Bits(), MaxSize)
	}
	return nil
}

// skip is how many prefixes at the start are never handed out.
func (d Def) skip() int {
	if d.Length == 128 && d.Prefix.Bits() < 127 {
		return 1 // RFC 4291 section 2.6.1; a /127 has none (RFC 6164 section 6)
	}
	return 0
}

// Size is the number of prefixes handed out; Check must have passed.
func (d Def) Size() int { return 1<<(d.Length-d.Prefix.Bits()) - d.skip() }

// At is prefix i, 0 <= i < Size().
func (d Def) At(i int) netip.Prefix {
	b := d.Prefix.Addr().As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	v := uint64(i + d.skip())
	// The bits between the two lengths are zero in the masked prefix.
	if shift := uint(128 - d.Length); shift >= 64 {
		hi |= v << (shift - 64)
	} else {
		lo |= v << shift
		hi |= v >> (64 - shift) // 0 when shift is 0
	}
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), d.Length)
}

// Index is the number of p in the pool; ok is false when p is not one of
// its prefixes.
func (d Def) Index(p netip.Prefix) (i int, ok bool) {
	if p.Bits() != d.Length || p.Masked() != p || !d.Prefix.Contains(p.Addr()) {
		return 0, false
	}
	b := p.Addr().As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var v uint64
	if shift := uint(128 - d.Length); shift >= 64 {
		v = hi >> (shift - 64)
	} else {
		v = lo>>shift | hi<<(64-shift) // hi<<64 is 0
	}
	v &= 1<<(d.Length-d.Prefix.Bits()) - 1
	n := int(v) - d.skip()
	if n < 0 {
		return 0, false
	}
	return n, true
}
