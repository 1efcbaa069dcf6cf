package api

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Field is a session attribute a filter tests. Its String is the query
// parameter that names it.
type Field uint8

// The fields of a SessionFilter.
const (
	FieldID        Field = iota + 1 // Acct-Session-Id
	FieldUser                       // user name as authenticated (with realm)
	FieldIP                         // IPv4 address, IPv6 prefixes
	FieldMAC                        // the subscriber's MAC
	FieldCircuitID                  // Agent-Circuit-Id (RFC 4679 section 3)
	FieldRemoteID                   // Agent-Remote-Id
	FieldLAC                        // the LAC's host name or address
	FieldTunnel                     // local L2TP tunnel ID
	FieldState                      // session state
)

var fieldNames = [...]string{
	FieldID: "id", FieldUser: "user", FieldIP: "ip", FieldMAC: "mac", FieldCircuitID: "circuit_id",
	FieldRemoteID: "remote_id", FieldLAC: "lac", FieldTunnel: "tunnel", FieldState: "state",
}

func (f Field) String() string {
	if int(f) < len(fieldNames) && fieldNames[f] != "" {
		return fieldNames[f]
	}
	return "field(" + strconv.Itoa(int(f)) + ")"
}

// Fields lists the filter fields in the order the documentation gives them.
var Fields = []Field{FieldID, FieldUser, FieldIP, FieldMAC, FieldCircuitID, FieldRemoteID, FieldLAC, FieldTunnel, FieldState}

// ParseField returns the field a query parameter names.
func ParseField(name string) (Field, bool) {
	for _, f := range Fields {
		if f.String() == name {
			return f, true
		}
	}
	return 0, false
}

// Regexp reports whether the field can be matched by a regular
// expression: every text field; ip and tunnel take a value only.
func (f Field) Regexp() bool { return f != FieldIP && f != FieldTunnel && f != 0 }

// text is the value of a text field of s that exact values and regular
// expressions are matched against. The LAC has two: its host name and
// its address.
func (f Field) text(s Session) []string {
	switch f {
	case FieldID:
		return []string{s.ID}
	case FieldUser:
		return []string{s.User}
	case FieldMAC:
		return []string{canonicalMAC(s.MAC)}
	case FieldCircuitID:
		return []string{s.CircuitID}
	case FieldRemoteID:
		return []string{s.RemoteID}
	case FieldLAC:
		switch {
		case s.LACAddr == "":
			return []string{s.LAC}
		case s.LAC == "":
			return []string{s.LACAddr}
		}
		return []string{s.LAC, s.LACAddr}
	case FieldState:
		return []string{s.State}
	}
	return nil
}

// FieldRegexp is a filter condition "field~=expression": the field
// matches the RE2 expression (unanchored; anchor with ^ and $).
type FieldRegexp struct {
	Field Field
	Re    *regexp.Regexp
}

// SessionFilter selects sessions, and with Sort, Offset and Limit a page
// of them. The zero value selects all. Every condition given must hold.
type SessionFilter struct {
	ID   string // exact Acct-Session-Id
	User string // exact user name (with realm, as authenticated)
	// Addr selects the session with this IPv4 address, or the one with an
	// IPv6 prefix holding this IPv6 address.
	Addr netip.Addr
	// Prefix selects the sessions whose IPv4 address is inside it or
	// whose IPv6 prefixes overlap it.
	Prefix    netip.Prefix
	MAC       string // canonical: lower case, colons (canonicalMAC)
	CircuitID string
	RemoteID  string
	LAC       string        // the LAC's host name or its address
	Tunnel    uint16        // local L2TP tunnel ID; 0: any (RFC 2661 never assigns 0)
	State     string        // a session state, as Session.State shows it
	Regexps   []FieldRegexp // field~=expression conditions

	// Sort is a column of Columns, "-" in front for descending; empty
	// sorts by id. The API sorts; backends need not.
	Sort   string
	Offset int // skip this many sessions of the sorted list
	Limit  int // at most this many sessions; 0 is no limit
}

// Empty reports whether the filter has no condition (paging aside): it
// selects every session.
func (f SessionFilter) Empty() bool {
	return f.ID == "" && f.User == "" && !f.Addr.IsValid() && !f.Prefix.IsValid() && f.MAC == "" &&
		f.CircuitID == "" && f.RemoteID == "" && f.LAC == "" && f.Tunnel == 0 && f.State == "" && len(f.Regexps) == 0
}

// Match reports whether s passes the filter (paging aside): a helper for
// backends that filter a snapshot.
func (f SessionFilter) Match(s Session) bool {
	eq := func(want string, fd Field) bool {
		if want == "" {
			return true
		}
		for _, v := range fd.text(s) {
			if v != "" && v == want {
				return true
			}
		}
		return false
	}
	if !eq(f.ID, FieldID) || !eq(f.User, FieldUser) || !eq(f.MAC, FieldMAC) || !eq(f.CircuitID, FieldCircuitID) ||
		!eq(f.RemoteID, FieldRemoteID) || !eq(f.LAC, FieldLAC) || !eq(f.State, FieldState) {
		return false
	}
	if f.Tunnel != 0 && s.TunnelID != f.Tunnel {
		return false
	}
	if f.Addr.IsValid() && !hasAddr(s, f.Addr) {
		return false
	}
	if f.Prefix.IsValid() && !inPrefix(s, f.Prefix) {
		return false
	}
	for _, r := range f.Regexps {
		ok := false
		for _, v := range r.Field.text(s) {
			ok = ok || r.Re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// hasAddr reports whether a is the session's IPv4 address or inside one
// of its IPv6 prefixes.
func hasAddr(s Session, a netip.Addr) bool {
	if a.Is4() || a.Is4In6() {
		return s.Addr.IsValid() && s.Addr == a.Unmap()
	}
	return s.IPv6Prefix != nil && s.IPv6Prefix.Contains(a) || s.DelegatedPrefix != nil && s.DelegatedPrefix.Contains(a)
}

// inPrefix reports whether the session's IPv4 address is inside p or one
// of its IPv6 prefixes overlaps p.
func inPrefix(s Session, p netip.Prefix) bool {
	if p.Addr().Is4() {
		return s.Addr.IsValid() && p.Contains(s.Addr)
	}
	return s.IPv6Prefix != nil && s.IPv6Prefix.Overlaps(p) || s.DelegatedPrefix != nil && s.DelegatedPrefix.Overlaps(p)
}

// canonicalMAC writes a MAC address in lower case with colons; anything
// that is not one is returned as it is.
func canonicalMAC(s string) string {
	if s == "" {
		return ""
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return s
	}
	return hw.String()
}

// Values encodes the filter as the query ParseSessionFilter reads.
func (f SessionFilter) Values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("id", f.ID)
	set("user", f.User)
	if f.Addr.IsValid() {
		q.Set("ip", f.Addr.String())
	}
	if f.Prefix.IsValid() {
		q.Set("ip", f.Prefix.String())
	}
	set("mac", f.MAC)
	set("circuit_id", f.CircuitID)
	set("remote_id", f.RemoteID)
	set("lac", f.LAC)
	if f.Tunnel != 0 {
		q.Set("tunnel", strconv.Itoa(int(f.Tunnel)))
	}
	set("state", f.State)
	for _, r := range f.Regexps {
		q.Set(r.Field.String()+"~", r.Re.String())
	}
	set("sort", f.Sort)
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// MaxLimit caps SessionFilter.Limit.
const MaxLimit = 1 << 20

// maxParam bounds a filter value.
const maxParam = 253

// FilterSyntax is the one-line summary of the filter parameters, for error
// messages and usage texts.
const FilterSyntax = "id, user, ip, mac, circuit_id, remote_id, lac, tunnel, state (name=value exact, name~=regexp), sort, offset, limit or format"

// ParseSessionFilter reads a filter from a query string, strictly: an
// unknown or repeated parameter, or a bad value, is a *BadRequestError
// naming the parameter. The parameters:
//
//	id, user, mac, circuit_id, remote_id, lac, state   exact value
//	id~, user~, mac~, ..., state~                     RE2 regular expression (user~=^bob)
//	ip (or addr)   an address: the session's IPv4 address, or one inside its
//	               IPv6 prefixes; a prefix: sessions with an address inside
//	               it or an IPv6 prefix overlapping it
//	tunnel         local L2TP tunnel ID
//	sort           a column (Columns), "-" in front for descending
//	offset, limit  the page
//	format         json or csv, accepted and left to the caller
func ParseSessionFilter(q url.Values) (SessionFilter, error) {
	return parseFilter(q, true)
}

// ParseSelector is ParseSessionFilter without the paging and format
// parameters: the sessions a terminate names.
func ParseSelector(q url.Values) (SessionFilter, error) {
	return parseFilter(q, false)
}

func parseFilter(q url.Values, paging bool) (SessionFilter, error) {
	var f SessionFilter
	var errs []error
	bad := func(k, format string, a ...any) {
		errs = append(errs, fmt.Errorf("parameter %q: "+format, append([]any{k}, a...)...))
	}
	for _, k := range sortedKeys(q) {
		vs := q[k]
		if len(vs) != 1 {
			errs = append(errs, fmt.Errorf("parameter %q given %d times", k, len(vs)))
			continue
		}
		v := vs[0]
		if len(v) > maxParam {
			bad(k, "longer than %d bytes", maxParam)
			continue
		}
		name, isRe := strings.CutSuffix(k, "~")
		if name == "addr" {
			name = "ip"
		}
		fd, isField := ParseField(name)
		switch {
		case isField && isRe:
			if !fd.Regexp() {
				bad(k, "%s takes a value, not a regular expression", fd)
				continue
			}
			re, err := regexp.Compile(v)
			if err != nil {
				bad(k, "bad regular expression: %v", err)
				continue
			}
			f.Regexps = append(f.Regexps, FieldRegexp{Field: fd, Re: re})
		case isField:
			if v == "" {
				bad(k, "empty (leave the parameter out to match any %s)", fd)
				continue
			}
			if err := f.set(fd, v); err != nil {
				bad(k, "%v", err)
			}
		case paging && k == "sort":
			if _, ok := ColumnByName(strings.TrimPrefix(v, "-")); !ok {
				bad(k, "%q is not a column (%s)", v, strings.Join(ColumnNames(), ", "))
				continue
			}
			f.Sort = v
		case paging && (k == "limit" || k == "offset"):
			lo := 1
			if k == "offset" {
				lo = 0
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > MaxLimit {
				bad(k, "%q is not an integer from %d to %d", v, lo, MaxLimit)
				continue
			}
			if k == "limit" {
				f.Limit = n
			} else {
				f.Offset = n
			}
		case paging && k == "format":
		default:
			want := FilterSyntax
			if !paging {
				want = "id, user, ip, mac, circuit_id, remote_id, lac, tunnel, state (name=value exact, name~=regexp)"
			}
			errs = append(errs, fmt.Errorf("unknown parameter %q (want %s)", k, want))
		}
	}
	if len(errs) > 0 {
		return SessionFilter{}, BadRequest(errors.Join(errs...))
	}
	return f, nil
}

// set sets the exact condition of field fd from its text.
func (f *SessionFilter) set(fd Field, v string) error {
	switch fd {
	case FieldID:
		f.ID = v
	case FieldUser:
		f.User = v
	case FieldMAC:
		hw, err := net.ParseMAC(v)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("%q is not a MAC address (02:00:00:00:00:01)", v)
		}
		f.MAC = hw.String()
	case FieldCircuitID:
		f.CircuitID = v
	case FieldRemoteID:
		f.RemoteID = v
	case FieldLAC:
		f.LAC = v
	case FieldState:
		f.State = v
	case FieldTunnel:
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a tunnel ID from 1 to 65535", v)
		}
		f.Tunnel = uint16(n)
	case FieldIP:
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return fmt.Errorf("%q is not an IP address or prefix", v)
			}
			f.Prefix = p.Masked()
			return nil
		}
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("%q is not an IP address or prefix", v)
		}
		f.Addr = a.Unmap()
	}
	return nil
}
