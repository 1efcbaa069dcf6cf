package lac

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bras-project/bras/pppoe"
)

// ParseVLANs parses the items of an [access] vlans key, as operators write
// them: a VLAN ID ("3000"), a range ("100-2000") or "any" (every VLAN ID,
// 1 to 4094), each optionally followed by " max=N", the sessions each VLAN
// of the item may hold. IDs 0 and 4095 are reserved (IEEE 802.1Q) and
// refused, as are reversed ranges and items that overlap.
//
// An error is a *VLANItemError naming the item.
func ParseVLANs(items []string) ([]pppoe.VLANRange, error) {
	var r []pppoe.VLANRange
	for n, it := range items {
		spec, limit, err := cutMax(it)
		if err != nil {
			return nil, itemError(n, err)
		}
		span, err := parseSpan(spec)
		if err != nil {
			return nil, itemError(n, fmt.Errorf("%q: %w", it, err))
		}
		r = append(r, pppoe.VLANRange{Inner: span, MaxSessions: limit})
	}
	return r, noOverlap(r)
}

// ParseQinQ parses the items of an [access] qinq key: "outer:inner" where
// each side is a VLAN ID, a range or "any" ("10:100", "10:1-4094",
// "10-20:any"), optionally followed by " max=N" (the sessions each
// outer:inner pair of the item may hold).
// An error is a *VLANItemError naming the item.
func ParseQinQ(items []string) ([]pppoe.VLANRange, error) {
	var r []pppoe.VLANRange
	for n, it := range items {
		spec, limit, err := cutMax(it)
		if err != nil {
			return nil, itemError(n, err)
		}
		o, i, ok := strings.Cut(spec, ":")
		if !ok {
			return nil, itemError(n, fmt.Errorf("%q: want outer:inner, such as 10:100, 10:1-4094 or 10-20:any", it))
		}
		outer, err := parseSpan(o)
		if err != nil {
			return nil, itemError(n, fmt.Errorf("%q: outer VLAN: %w", it, err))
		}
		inner, err := parseSpan(i)
		if err != nil {
			return nil, itemError(n, fmt.Errorf("%q: inner VLAN: %w", it, err))
		}
		r = append(r, pppoe.VLANRange{Outer: outer, Inner: inner, MaxSessions: limit})
	}
	return r, noOverlap(r)
}

// VLANItemError is a bad item of a vlans or qinq list: Item is its index
// in the list (the items of every line of the key, in order), Other the
// index of the item it overlaps (-1 for none).
type VLANItemError struct {
	Item, Other int
	Err         error
}

func (e *VLANItemError) Error() string { return e.Err.Error() }

func (e *VLANItemError) Unwrap() error { return e.Err }

func itemError(i int, err error) error { return &VLANItemError{Item: i, Other: -1, Err: err} }

// cutMax splits "spec max=N" into spec and N (0 when absent).
func cutMax(it string) (string, int, error) {
	f := strings.Fields(it)
	switch len(f) {
	case 0:
		return "", 0, errors.New("empty item")
	case 1:
		return f[0], 0, nil
	case 2:
		v, ok := strings.CutPrefix(f[1], "max=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 1 || n > 65534 {
			return "", 0, fmt.Errorf("%q: want %s or %s max=N with N from 1 to 65534", it, f[0], f[0])
		}
		return f[0], n, nil
	}
	return "", 0, fmt.Errorf("%q: want a VLAN ID, a range such as 100-2000, or any, then optionally max=N", it)
}

// parseSpan parses "any", "N" or "A-B".
func parseSpan(s string) (pppoe.VLANSpan, error) {
	if s == "any" {
		return pppoe.AnyVLAN, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	first, err := parseVID(a)
	if err != nil {
		return pppoe.VLANSpan{}, err
	}
	if !isRange {
		return pppoe.VLANSpan{First: first, Last: first}, nil
	}
	last, err := parseVID(b)
	if err != nil {
		return pppoe.VLANSpan{}, err
	}
	if last < first {
		return pppoe.VLANSpan{}, fmt.Errorf("range %d-%d is reversed, did you mean %d-%d?", first, last, last, first)
	}
	return pppoe.VLANSpan{First: first, Last: last}, nil
}

func parseVID(s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("a VLAN ID is missing: want 1 to 4094, a range such as 100-2000, or any")
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%s is not a VLAN ID: want 1 to 4094, a range such as 100-2000, or any", s)
	}
	if n == 0 || n >= 4095 {
		return 0, fmt.Errorf("VLAN %d: want 1 to 4094 (0 and 4095 are reserved)", n)
	}
	return uint16(n), nil
}

// noOverlap refuses two items that share a VLAN (or a QinQ pair).
func noOverlap(r []pppoe.VLANRange) error {
	for i := range r {
		for j, o := range r[:i] {
			if r[i].Overlaps(o) {
				return &VLANItemError{Item: i, Other: j, Err: fmt.Errorf("%s overlaps %s", r[i], o)}
			}
		}
	}
	return nil
}

// vlanKeyError is what AccessFile.ranges says of its vlans or qinq key.
type vlanKeyError struct {
	key  string
	item *VLANItemError // nil: the key as a whole
	err  error
}

func (e *vlanKeyError) Error() string { return e.key + " " + e.err.Error() }

// checkVLANs reports the vlans and qinq keys of the [access] sections
// that cannot be served, each bad item at its own line (an overlap also
// names the line of the item it overlaps).
func (c *FileConfig) checkVLANs() []error {
	var errs []error
	for i, a := range c.Access {
		_, err := a.ranges()
		var ke *vlanKeyError
		if !errors.As(err, &ke) {
			continue
		}
		path := fmt.Sprintf("access[%d].%s", i, ke.key)
		if ke.item == nil {
			errs = append(errs, c.src.Errorf(path, "%v", ke.err))
			continue
		}
		msg := ke.err.Error()
		if ke.item.Other >= 0 {
			msg += fmt.Sprintf(" (line %d)", c.src.ItemLine(path, ke.item.Other))
		}
		errs = append(errs, c.src.ErrorAt(c.src.ItemLine(path, ke.item.Item), path, "%s", msg))
	}
	return errs
}

// PortInfo is what a port template is filled with: where a subscriber
// sits (interface and tags) and who it is.
type PortInfo struct {
	Interface  string
	OuterVLAN  uint16 // S-VLAN of a QinQ subscriber; 0 otherwise
	VLAN       uint16 // C-VLAN, or the only tag; 0 when untagged
	MAC        pppoe.MAC
	SessionID  uint16 // PPPoE session ID
	AccessLine *pppoe.AccessLine
}

func portInfo(ps *pppoe.Session) PortInfo {
	return PortInfo{Interface: ps.Interface, OuterVLAN: ps.OuterVLAN, VLAN: ps.VLAN, MAC: ps.ClientMAC,
		SessionID: ps.ID, AccessLine: ps.AccessLine}
}

// DefaultNASPortID is the NAS-Port-Id template when none is configured:
// the access interface, then the S-VLAN and C-VLAN as Linux names
// sub-interfaces (and accel-ppp reports its ports): eth1.10.100 for QinQ,
// eth1.100 single-tagged, eth1 untagged. The LAC's routes name ports the
// same way ([lns] interfaces).
const DefaultNASPortID = "{interface}[.{svlan}][.{cvlan}]"

// PortTemplate formats a subscriber's port as text: literal text and
// fields in braces ({interface}, {svlan}, {cvlan}, {mac}, {session-id},
// {circuit-id}, {remote-id}); a part in brackets is left out when one of
// its fields is empty (an untagged subscriber has no {cvlan}, a
// single-tagged one no {svlan}). "{interface}:{svlan}-{cvlan}" gives
// eth1:10-100 (the Cisco and Juniper style); DefaultNASPortID eth1.10.100.
type PortTemplate struct {
	src   string
	parts []tplPart
}

type tplPart struct {
	lit      string
	field    portField // 0: lit
	optional bool      // inside [...]
	group    int       // which [...] (optional parts only)
}

type portField uint8

const (
	fieldNone portField = iota
	fieldInterface
	fieldSVLAN
	fieldCVLAN
	fieldMAC
	fieldSessionID
	fieldCircuitID
	fieldRemoteID
)

var portFields = map[string]portField{
	"interface": fieldInterface, "svlan": fieldSVLAN, "cvlan": fieldCVLAN, "mac": fieldMAC,
	"session-id": fieldSessionID, "circuit-id": fieldCircuitID, "remote-id": fieldRemoteID,
}

// ParsePortTemplate parses a template (see PortTemplate). Braces and
// brackets are reserved: an unknown field, an unclosed brace or bracket,
// nested brackets or brackets without a field are errors.
func ParsePortTemplate(s string) (PortTemplate, error) {
	t := PortTemplate{src: s}
	if s == "" {
		return t, errors.New("empty template")
	}
	group, inGroup, fieldsInGroup := 0, false, 0
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return t, fmt.Errorf("template %q: %q at %d is not closed", s, "{", i+1)
			}
			name := s[i+1 : i+end]
			f, ok := portFields[name]
			if !ok {
				return t, fmt.Errorf("template %q: unknown field {%s}; want {interface}, {svlan}, {cvlan}, {mac}, {session-id}, {circuit-id} or {remote-id}", s, name)
			}
			t.parts = append(t.parts, tplPart{field: f, optional: inGroup, group: group})
			if inGroup {
				fieldsInGroup++
			}
			i += end + 1
		case '}':
			return t, fmt.Errorf("template %q: %q at %d opens nothing", s, "}", i+1)
		case '[':
			if inGroup {
				return t, fmt.Errorf("template %q: brackets do not nest (at %d)", s, i+1)
			}
			inGroup, group, fieldsInGroup = true, group+1, 0
			i++
		case ']':
			if !inGroup {
				return t, fmt.Errorf("template %q: %q at %d opens nothing", s, "]", i+1)
			}
			if fieldsInGroup == 0 {
				return t, fmt.Errorf("template %q: the brackets before %d hold no field", s, i+1)
			}
			inGroup = false
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune("{}[]", rune(s[j])) {
				j++
			}
			t.parts = append(t.parts, tplPart{lit: s[i:j], optional: inGroup, group: group})
			i = j
		}
	}
	if inGroup {
		return t, fmt.Errorf("template %q: %q is not closed", s, "[")
	}
	return t, nil
}

// String returns the template as written.
func (t PortTemplate) String() string { return t.src }

// IsZero reports whether t is the zero template (formats nothing).
func (t PortTemplate) IsZero() bool { return len(t.parts) == 0 }

func (p PortInfo) field(f portField) string {
	switch f {
	case fieldInterface:
		return p.Interface
	case fieldSVLAN:
		if p.OuterVLAN != 0 {
			return strconv.Itoa(int(p.OuterVLAN))
		}
	case fieldCVLAN:
		if p.VLAN != 0 {
			return strconv.Itoa(int(p.VLAN))
		}
	case fieldMAC:
		return p.MAC.String()
	case fieldSessionID:
		return strconv.Itoa(int(p.SessionID))
	case fieldCircuitID:
		if p.AccessLine != nil {
			return p.AccessLine.CircuitID
		}
	case fieldRemoteID:
		if p.AccessLine != nil {
			return p.AccessLine.RemoteID
		}
	}
	return ""
}

// Format fills t with p.
func (t PortTemplate) Format(p PortInfo) string {
	var b strings.Builder
	for i := 0; i < len(t.parts); {
		pt := t.parts[i]
		if !pt.optional {
			if pt.field == fieldNone {
				b.WriteString(pt.lit)
			} else {
				b.WriteString(p.field(pt.field))
			}
			i++
			continue
		}
		// A bracketed group: written only when each of its fields has a value.
		j, keep := i, true
		for ; j < len(t.parts) && t.parts[j].optional && t.parts[j].group == pt.group; j++ {
			if f := t.parts[j].field; f != fieldNone && p.field(f) == "" {
				keep = false
			}
		}
		if keep {
			for _, g := range t.parts[i:j] {
				if g.field == fieldNone {
					b.WriteString(g.lit)
				} else {
					b.WriteString(p.field(g.field))
				}
			}
		}
		i = j
	}
	return b.String()
}

// PhysicalChannel says what the LAC sends as the Physical Channel ID AVP
// of its ICRQs (RFC 2661 section 4.4.5, a 32-bit value the LNS may log).
type PhysicalChannel uint8

const (
	// ChannelVLAN is the subscriber's tags: S-VLAN << 12 | C-VLAN (bits
	// 0-11 the C-VLAN or only tag, bits 12-23 the S-VLAN, bits 24-31
	// zero; 0 for an untagged subscriber). QinQ 10:100 is 41060.
	ChannelVLAN PhysicalChannel = iota
	// ChannelSession is the PPPoE session ID.
	ChannelSession
)

func (c PhysicalChannel) String() string {
	switch c {
	case ChannelVLAN:
		return "vlan"
	case ChannelSession:
		return "session-id"
	}
	return "PhysicalChannel(" + strconv.Itoa(int(c)) + ")"
}

// ParsePhysicalChannel parses "vlan" or "session-id".
func ParsePhysicalChannel(s string) (PhysicalChannel, error) {
	switch s {
	case "vlan":
		return ChannelVLAN, nil
	case "session-id":
		return ChannelSession, nil
	}
	return 0, fmt.Errorf("%q: want vlan or session-id", s)
}

// Value is the Physical Channel ID of the subscriber at p.
func (c PhysicalChannel) Value(p PortInfo) uint32 {
	if c == ChannelSession {
		return uint32(p.SessionID)
	}
	return uint32(p.OuterVLAN&0xfff)<<12 | uint32(p.VLAN&0xfff)
}
