package api

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bras-project/bras/internal/table"
)

// Column is a column of `bras show sessions -o` and a key of sort=.
type Column struct {
	Name string
	Help string
	// Value renders the cell; now is for uptime.
	Value func(s Session, now time.Time) string
	// Compare orders two sessions by the column, ascending.
	Compare func(a, b Session) int
}

func str(f func(Session) string) (func(Session, time.Time) string, func(a, b Session) int) {
	return func(s Session, _ time.Time) string { return f(s) },
		func(a, b Session) int { return strings.Compare(f(a), f(b)) }
}

func num[N cmp.Ordered](f func(Session) N) (func(Session, time.Time) string, func(a, b Session) int) {
	return func(s Session, _ time.Time) string { return fmt.Sprint(f(s)) },
		func(a, b Session) int { return cmp.Compare(f(a), f(b)) }
}

func col(name, help string, v func(Session, time.Time) string, c func(a, b Session) int) Column {
	return Column{Name: name, Help: help, Value: v, Compare: c}
}

func prefixText(p *netip.Prefix) string {
	if p == nil {
		return ""
	}
	return p.String()
}

func prefixCompare(a, b *netip.Prefix) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// Uptime renders how long a session has been up: 1:02:03, or 3d 01:02:03.
func Uptime(started, now time.Time) string {
	if started.IsZero() {
		return ""
	}
	d := now.Sub(started).Truncate(time.Second)
	if d < 0 {
		d = 0
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	if days > 0 {
		return fmt.Sprintf("%dd %02d:%02d:%02d", days, h, m, s)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
}

func rateText(kbps uint32) string {
	switch {
	case kbps == 0:
		return "-"
	case kbps%1000 == 0:
		return strconv.FormatUint(uint64(kbps/1000), 10) + "M"
	}
	return strconv.FormatUint(uint64(kbps), 10) + "k"
}

// Columns are the columns of a session, in the order `bras show sessions
// -o help` lists them.
var Columns = func() []Column {
	c := []Column{}
	add := func(name, help string, v func(Session, time.Time) string, cm func(a, b Session) int) {
		c = append(c, col(name, help, v, cm))
	}
	sv := func(name, help string, f func(Session) string) {
		v, cm := str(f)
		add(name, help, v, cm)
	}
	sv("id", "Acct-Session-Id", func(s Session) string { return s.ID })
	sv("user", "user name as authenticated", func(s Session) string { return s.User })
	sv("realm", "realm of the user name", func(s Session) string { return s.Realm })
	sv("state", "session state", func(s Session) string { return s.State })
	add("ip", "IPv4 address", func(s Session, _ time.Time) string { return addrText(s.Addr) },
		func(a, b Session) int { return a.Addr.Compare(b.Addr) })
	add("ipv6", "the link's IPv6 prefix (Framed-IPv6-Prefix)", func(s Session, _ time.Time) string { return prefixText(s.IPv6Prefix) },
		func(a, b Session) int { return prefixCompare(a.IPv6Prefix, b.IPv6Prefix) })
	add("pd", "delegated IPv6 prefix (Delegated-IPv6-Prefix)", func(s Session, _ time.Time) string { return prefixText(s.DelegatedPrefix) },
		func(a, b Session) int { return prefixCompare(a.DelegatedPrefix, b.DelegatedPrefix) })
	sv("mac", "subscriber's MAC address", func(s Session) string { return s.MAC })
	sv("calling", "Calling-Station-Id", func(s Session) string { return s.CallingStationID })
	sv("circuit_id", "Agent-Circuit-Id of the access line", func(s Session) string { return s.CircuitID })
	sv("remote_id", "Agent-Remote-Id of the access line", func(s Session) string { return s.RemoteID })
	sv("lac", "LAC host name", func(s Session) string { return s.LAC })
	sv("lac_addr", "LAC address", func(s Session) string { return s.LACAddr })
	nv := func(name, help string, f func(Session) uint64) {
		v, cm := num(f)
		add(name, help, v, cm)
	}
	nv("tunnel", "local L2TP tunnel ID", func(s Session) uint64 { return uint64(s.TunnelID) })
	nv("session", "local L2TP session ID", func(s Session) uint64 { return uint64(s.SessionID) })
	nv("peer_tunnel", "peer's L2TP tunnel ID", func(s Session) uint64 { return uint64(s.PeerTunnelID) })
	nv("peer_session", "peer's L2TP session ID", func(s Session) uint64 { return uint64(s.PeerSessionID) })
	add("started", "when the session came up (UTC)", func(s Session, _ time.Time) string {
		if s.Started.IsZero() {
			return ""
		}
		return s.Started.UTC().Format(time.RFC3339)
	}, func(a, b Session) int { return a.Started.Compare(b.Started) })
	add("uptime", "how long it has been up", func(s Session, now time.Time) string { return Uptime(s.Started, now) },
		func(a, b Session) int { return b.Started.Compare(a.Started) })
	nv("in_octets", "octets from the subscriber", func(s Session) uint64 { return s.InOctets })
	nv("out_octets", "octets to the subscriber", func(s Session) uint64 { return s.OutOctets })
	nv("in6_octets", "octets from the subscriber over IPv6 (LNS)", func(s Session) uint64 { return s.In6Octets })
	nv("out6_octets", "octets to the subscriber over IPv6 (LNS)", func(s Session) uint64 { return s.Out6Octets })
	nv("in_packets", "packets from the subscriber", func(s Session) uint64 { return s.InPackets })
	nv("out_packets", "packets to the subscriber", func(s Session) uint64 { return s.OutPackets })
	add("rate", "rate limit down/up", func(s Session, _ time.Time) string {
		if s.RateDownKbps == 0 && s.RateUpKbps == 0 {
			return ""
		}
		return rateText(s.RateDownKbps) + "/" + rateText(s.RateUpKbps)
	}, func(a, b Session) int {
		return cmp.Or(cmp.Compare(a.RateDownKbps, b.RateDownKbps), cmp.Compare(a.RateUpKbps, b.RateUpKbps))
	})
	nv("rate_down_kbps", "downstream rate limit, kbit/s", func(s Session) uint64 { return uint64(s.RateDownKbps) })
	nv("rate_up_kbps", "upstream rate limit, kbit/s", func(s Session) uint64 { return uint64(s.RateUpKbps) })
	nv("session_timeout", "Session-Timeout, seconds", func(s Session) uint64 { return uint64(s.SessionTimeout / time.Second) })
	nv("idle_timeout", "Idle-Timeout, seconds", func(s Session) uint64 { return uint64(s.IdleTimeout / time.Second) })
	return c
}()

// ColumnByName returns the column of that name.
func ColumnByName(name string) (Column, bool) {
	for _, c := range Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnNames lists the names of Columns.
func ColumnNames() []string {
	n := make([]string, len(Columns))
	for i, c := range Columns {
		n[i] = c.Name
	}
	return n
}

// ParseColumns reads a comma-separated list of column names.
func ParseColumns(list string) ([]Column, error) {
	var cs []Column
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		c, ok := ColumnByName(n)
		if !ok {
			return nil, fmt.Errorf("unknown column %q (want %s)", n, strings.Join(ColumnNames(), ", "))
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("no columns in %q", list)
	}
	return cs, nil
}

// SortSessions sorts ss by key, a column name with "-" in front for
// descending; ties, and an empty key, go by id. An unknown key is an
// error.
func SortSessions(ss []Session, key string) error {
	desc := strings.HasPrefix(key, "-")
	key = strings.TrimPrefix(key, "-")
	c := Column{Compare: func(a, b Session) int { return 0 }}
	if key != "" {
		var ok bool
		if c, ok = ColumnByName(key); !ok {
			return fmt.Errorf("api: unknown sort column %q", key)
		}
	}
	slices.SortStableFunc(ss, func(a, b Session) int {
		r := c.Compare(a, b)
		if desc {
			r = -r
		}
		return cmp.Or(r, strings.Compare(a.ID, b.ID))
	})
	return nil
}

// ColumnsTable renders sessions in the given columns, as `bras show
// sessions` prints them.
func ColumnsTable(ss []Session, cols []Column, now time.Time) *table.Table {
	t := &table.Table{}
	for _, c := range cols {
		t.Columns = append(t.Columns, c.Name)
	}
	for _, s := range ss {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.Value(s, now)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
