package pppoe

import (
	"fmt"
	"strconv"
)

// VLANSpan is the VLAN IDs First to Last (IEEE 802.1Q: 1 to 4094; 0 and
// 4095 are reserved).
type VLANSpan struct{ First, Last uint16 }

// AnyVLAN is the span of every usable VLAN ID.
var AnyVLAN = VLANSpan{1, 4094}

func (s VLANSpan) String() string {
	switch {
	case s == AnyVLAN:
		return "any"
	case s.First == s.Last:
		return strconv.Itoa(int(s.First))
	}
	return strconv.Itoa(int(s.First)) + "-" + strconv.Itoa(int(s.Last))
}

func (s VLANSpan) valid() bool { return s.First >= 1 && s.First <= s.Last && s.Last <= 4094 }

func (s VLANSpan) contains(v uint16) bool { return v >= s.First && v <= s.Last }

// Overlaps reports whether s and o share a VLAN ID.
func (s VLANSpan) Overlaps(o VLANSpan) bool { return s.First <= o.Last && o.First <= s.Last }

// VLANRange is a set of tagged frames an access concentrator serves in
// user space: single-tagged frames whose 802.1Q tag is in Inner (Outer is
// zero), or double-tagged (QinQ) frames whose outer tag is in Outer and
// inner tag in Inner.
type VLANRange struct {
	Outer VLANSpan // zero: single-tagged
	Inner VLANSpan
	// MaxSessions caps the sessions of each VLAN of the range (each tag,
	// or each outer:inner pair): 0 means ServerConfig.MaxSessionsPerVLAN.
	MaxSessions int
}

// QinQ reports whether r is a range of double-tagged frames.
func (r VLANRange) QinQ() bool { return r.Outer != VLANSpan{} }

func (r VLANRange) String() string {
	s := r.Inner.String()
	if r.QinQ() {
		s = r.Outer.String() + ":" + s
	}
	return s
}

// Overlaps reports whether a frame could belong to both r and o.
func (r VLANRange) Overlaps(o VLANRange) bool {
	if r.QinQ() != o.QinQ() {
		return false
	}
	return (!r.QinQ() || r.Outer.Overlaps(o.Outer)) && r.Inner.Overlaps(o.Inner)
}

func (r VLANRange) contains(k vlanKey) bool {
	if k.outer() == 0 {
		return !r.QinQ() && r.Inner.contains(k.inner())
	}
	return r.QinQ() && r.Outer.contains(k.outer()) && r.Inner.contains(k.inner())
}

// vlanBits is one bit per VLAN ID.
type vlanBits [4096 / 64]uint64

func (b *vlanBits) set(s VLANSpan) {
	for v := uint32(s.First); v <= uint32(s.Last); v++ {
		b[v/64] |= 1 << (v % 64)
	}
}

func (b *vlanBits) has(v uint16) bool { return b[v/64&63]&(1<<(v%64)) != 0 }

// vlanSet is the tagged frames a port serves: a 4096-bit map of the
// single tags, and one per outer tag of the QinQ ranges (nil for an outer
// tag that has none), so that the frame path looks a frame up with two
// indexes and no allocation. 4094 outer tags with ranges cost 2 MiB.
type vlanSet struct {
	single vlanBits
	outer  []*vlanBits // 4096 entries when a QinQ range is served, else nil
	ranges []VLANRange // for the per-range caps, looked up at PADR only
}

// newVLANSet builds the set of ranges, which must be valid and must not
// overlap (a configuration checks that with the reason).
func newVLANSet(ranges []VLANRange) (*vlanSet, error) {
	s := &vlanSet{ranges: append([]VLANRange(nil), ranges...)}
	for i, r := range ranges {
		if !r.Inner.valid() || r.QinQ() && !r.Outer.valid() {
			return nil, fmt.Errorf("pppoe: server: VLAN range %s out of 1-4094", r)
		}
		if r.MaxSessions < 0 {
			return nil, fmt.Errorf("pppoe: server: VLAN range %s: negative session limit", r)
		}
		for _, o := range ranges[:i] {
			if r.Overlaps(o) {
				return nil, fmt.Errorf("pppoe: server: VLAN ranges %s and %s overlap", o, r)
			}
		}
		if !r.QinQ() {
			s.single.set(r.Inner)
			continue
		}
		if s.outer == nil {
			s.outer = make([]*vlanBits, 4096)
		}
		for o := r.Outer.First; o <= r.Outer.Last; o++ {
			if s.outer[o] == nil {
				s.outer[o] = new(vlanBits)
			}
			s.outer[o].set(r.Inner)
		}
	}
	return s, nil
}

// has reports whether the set serves tagged key k (not 0). It does not
// allocate.
func (s *vlanSet) has(k vlanKey) bool {
	if s == nil {
		return false
	}
	o := k.outer()
	if o == 0 {
		return s.single.has(k.inner())
	}
	if int(o) >= len(s.outer) {
		return false
	}
	b := s.outer[o]
	return b != nil && b.has(k.inner())
}

// limit returns the per-VLAN session cap of k: its range's, else def.
func (s *vlanSet) limit(k vlanKey, def int) int {
	if s != nil {
		for i := range s.ranges {
			if r := &s.ranges[i]; r.MaxSessions > 0 && r.contains(k) {
				return r.MaxSessions
			}
		}
	}
	return def
}
