package accounting

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Sentinel errors of the record codec.
var (
	ErrShort     = errors.New("accounting: record too short")
	ErrMalformed = errors.New("accounting: malformed record")
)

// Kind is the Acct-Status-Type of a record, RFC 2866 section 5.1.
type Kind uint8

// Record kinds, numbered as Acct-Status-Type.
const (
	Start   Kind = 1
	Stop    Kind = 2
	Interim Kind = 3
)

func (k Kind) String() string {
	switch k {
	case Start:
		return "Start"
	case Stop:
		return "Stop"
	case Interim:
		return "Interim-Update"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// TerminateCause is Acct-Terminate-Cause, RFC 2866 section 5.10.
type TerminateCause uint32

// Terminate causes of RFC 2866 section 5.10.
const (
	CauseUserRequest        TerminateCause = 1
	CauseLostCarrier        TerminateCause = 2
	CauseLostService        TerminateCause = 3
	CauseIdleTimeout        TerminateCause = 4
	CauseSessionTimeout     TerminateCause = 5
	CauseAdminReset         TerminateCause = 6
	CauseAdminReboot        TerminateCause = 7
	CausePortError          TerminateCause = 8
	CauseNASError           TerminateCause = 9
	CauseNASRequest         TerminateCause = 10
	CauseNASReboot          TerminateCause = 11
	CausePortUnneeded       TerminateCause = 12
	CausePortPreempted      TerminateCause = 13
	CausePortSuspended      TerminateCause = 14
	CauseServiceUnavailable TerminateCause = 15
	CauseCallback           TerminateCause = 16
	CauseUserError          TerminateCause = 17
	CauseHostRequest        TerminateCause = 18
)

var causeNames = [...]string{"", "User-Request", "Lost-Carrier", "Lost-Service", "Idle-Timeout",
	"Session-Timeout", "Admin-Reset", "Admin-Reboot", "Port-Error", "NAS-Error", "NAS-Request",
	"NAS-Reboot", "Port-Unneeded", "Port-Preempted", "Port-Suspended", "Service-Unavailable",
	"Callback", "User-Error", "Host-Request"}

// String gives the RFC 2866 name, the one FreeRADIUS stores in radacct.
func (c TerminateCause) String() string {
	if c > 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return strconv.FormatUint(uint64(c), 10)
}

// Counters are a session's 64-bit traffic counters. In is from the
// subscriber (Acct-Input-Octets, RFC 2866 section 5.3), Out towards it.
type Counters struct {
	InOctets, OutOctets, InPackets, OutPackets uint64
	// The IPv6 share of the totals (IPv4 is the rest): RADIUS
	// accounting has no attribute for it, the sessions table does.
	In6Octets, Out6Octets, In6Packets, Out6Packets uint64
}

// Record is one accounting record of a session: Start (Seq 0),
// Interim-Update (Seq 1, 2, ...) or Stop (the last Seq). (SessionID, Seq)
// identifies it, which is what makes every write idempotent; so a
// SessionID must never be reused, on any node, even after a restart
// (prefix it with the node and its boot time).
type Record struct {
	Kind      Kind
	Seq       uint32
	SessionID string // Acct-Session-Id, unique across nodes (node-prefixed)
	Node      string
	NASIP     netip.Addr // NAS-IP-Address, optional

	Username         string // User-Name as the subscriber sent it
	Realm            string
	CallingStationID string // subscriber MAC
	NASPortID        string
	CircuitID        string // TR-101 Agent-Circuit-Id
	RemoteID         string // TR-101 Agent-Remote-Id
	LAC              string // LAC host name, RFC 2661 section 4.4.3

	// The tunnel's and session's IDs, ours and the LAC's: 16 bits on
	// L2TPv2 (RFC 2661), the 32-bit Control Connection and Session IDs
	// on L2TPv3 (RFC 3931 sections 5.4.3 and 5.4.4).
	TunnelID, PeerTunnelID       uint32
	L2TPSessionID, PeerSessionID uint32
	// L2TPVersion is 2 or 3; 0 in records an earlier bras spooled, which
	// were all L2TPv2.
	L2TPVersion uint8
	// PWType is the L2TPv3 Pseudowire Type (RFC 3931 section 5.4.4, 7 is
	// PPP); 0 on L2TPv2.
	PWType uint16
	// LACAddr and LNSAddr are the tunnel's endpoints, the LAC's and ours
	// (Tunnel-Client-Endpoint and Tunnel-Server-Endpoint, RFC 2868
	// sections 3.3 and 3.4); invalid when unknown.
	LACAddr, LNSAddr netip.Addr

	Addr netip.Addr // Framed-IP-Address
	// IPv6: the /64 advertised on the link (Framed-IPv6-Prefix), the
	// delegated prefix (Delegated-IPv6-Prefix) and the DHCPv6 address
	// (Framed-IPv6-Address).
	IPv6Prefix, DelegatedPrefix netip.Prefix
	IPv6Address                 netip.Addr
	// InterfaceID is the subscriber's IPv6 interface identifier, as
	// IPV6CP settled it (Framed-Interface-Id, RFC 3162 section 2.1); 0
	// for none (RFC 5072 section 4.1 never settles on zero).
	InterfaceID uint64
	Time        time.Time // when the event happened
	Started     time.Time // when the session started (IPCP up)

	InOctets, OutOctets, InPackets, OutPackets uint64
	// The IPv6 share of the counters above.
	In6Octets, Out6Octets, In6Packets, Out6Packets uint64

	Cause                    TerminateCause // Stop only
	RateDownKbps, RateUpKbps uint32
	InterimSeconds           uint32 // Acct-Interim-Interval in force, RFC 2869 section 5.16
	Class                    [][]byte
}

// Counters returns the record's counters.
func (r *Record) Counters() Counters {
	return Counters{r.InOctets, r.OutOctets, r.InPackets, r.OutPackets,
		r.In6Octets, r.Out6Octets, r.In6Packets, r.Out6Packets}
}

// recordVersion is the first octet of an encoded record; a spool written
// by a later bras with another layout is refused rather than misread.
// Version 2 added the IPv6 fields after Class, version 3 the IPv6 share of
// the counters after them, version 4 the L2TP version, the pseudowire
// type and the 32-bit IDs of L2TPv3; records of versions 1 to 3 (a spool
// left by an earlier bras) are still read, without what came later.
const recordVersion = 4

// fixedLen is the size of the fixed part of the encoding:
//
//	0  version u8     1  kind u8        2  seq u32
//	6  tunnel u16     8  peer tunnel    10 session u16   12 peer session
//	14 time i64 ns    22 started i64 ns
//	30 in octets u64  38 out octets     46 in packets    54 out packets
//	62 cause u32      66 rate down u32  70 rate up u32   74 interim u32
//
// followed by Addr and NASIP (u8 length 0, 4 or 16, then the octets), the
// nine strings (u16 length, bytes) in field order, Class (u16 count,
// then u16 length and bytes each), and (version 2) IPv6Prefix and
// DelegatedPrefix (u8 length in bits, 255 for none, then 16 octets) and
// IPv6Address (as Addr), (version 3) the IPv6 in and out octets and in
// and out packets and the interface identifier (u64 each), and (version 4)
// the L2TP version (u8), the pseudowire type (u16), the four IDs whole
// (u32 each, in the order of the fixed part, which holds their low 16
// bits) and LACAddr and LNSAddr (as Addr).
const fixedLen = 78

// Append encodes r for the spool.
func (r *Record) Append(b []byte) ([]byte, error) {
	if r.Kind != Start && r.Kind != Interim && r.Kind != Stop {
		return b, fmt.Errorf("%w: kind %v", ErrMalformed, r.Kind)
	}
	var f [fixedLen]byte
	f[0] = recordVersion
	f[1] = byte(r.Kind)
	binary.BigEndian.PutUint32(f[2:], r.Seq)
	binary.BigEndian.PutUint16(f[6:], uint16(r.TunnelID))
	binary.BigEndian.PutUint16(f[8:], uint16(r.PeerTunnelID))
	binary.BigEndian.PutUint16(f[10:], uint16(r.L2TPSessionID))
	binary.BigEndian.PutUint16(f[12:], uint16(r.PeerSessionID))
	binary.BigEndian.PutUint64(f[14:], uint64(unixNano(r.Time)))
	binary.BigEndian.PutUint64(f[22:], uint64(unixNano(r.Started)))
	binary.BigEndian.PutUint64(f[30:], r.InOctets)
	binary.BigEndian.PutUint64(f[38:], r.OutOctets)
	binary.BigEndian.PutUint64(f[46:], r.InPackets)
	binary.BigEndian.PutUint64(f[54:], r.OutPackets)
	binary.BigEndian.PutUint32(f[62:], uint32(r.Cause))
	binary.BigEndian.PutUint32(f[66:], r.RateDownKbps)
	binary.BigEndian.PutUint32(f[70:], r.RateUpKbps)
	binary.BigEndian.PutUint32(f[74:], r.InterimSeconds)
	b = append(b, f[:]...)
	b = appendAddr(b, r.Addr)
	b = appendAddr(b, r.NASIP)
	for _, s := range r.strings() {
		if len(*s) > 0xffff {
			return b, fmt.Errorf("%w: string of %d bytes", ErrMalformed, len(*s))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(*s)))
		b = append(b, *s...)
	}
	if len(r.Class) > 0xffff {
		return b, fmt.Errorf("%w: %d Class values", ErrMalformed, len(r.Class))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Class)))
	for _, c := range r.Class {
		if len(c) > 0xffff {
			return b, fmt.Errorf("%w: Class of %d bytes", ErrMalformed, len(c))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(c)))
		b = append(b, c...)
	}
	b = appendPrefix(b, r.IPv6Prefix)
	b = appendPrefix(b, r.DelegatedPrefix)
	b = appendAddr(b, r.IPv6Address)
	for _, v := range [5]uint64{r.In6Octets, r.Out6Octets, r.In6Packets, r.Out6Packets, r.InterfaceID} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = binary.BigEndian.AppendUint16(append(b, r.L2TPVersion), r.PWType)
	for _, v := range [4]uint32{r.TunnelID, r.PeerTunnelID, r.L2TPSessionID, r.PeerSessionID} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = appendAddr(b, r.LACAddr)
	b = appendAddr(b, r.LNSAddr)
	return b, nil
}

func appendPrefix(b []byte, p netip.Prefix) []byte {
	if !p.IsValid() || !p.Addr().Is6() {
		return append(b, 255)
	}
	a := p.Masked().Addr().As16()
	return append(append(b, byte(p.Bits())), a[:]...)
}

func parsePrefix(b []byte) (netip.Prefix, []byte, error) {
	if len(b) < 1 {
		return netip.Prefix{}, b, fmt.Errorf("%w: prefix length", ErrShort)
	}
	if b[0] == 255 {
		return netip.Prefix{}, b[1:], nil
	}
	if b[0] > 128 || len(b) < 17 {
		return netip.Prefix{}, b, fmt.Errorf("%w: IPv6 prefix", ErrMalformed)
	}
	// Append writes the prefix masked; bits past the length are dropped.
	return netip.PrefixFrom(netip.AddrFrom16([16]byte(b[1:17])), int(b[0])).Masked(), b[17:], nil
}

func (r *Record) strings() [9]*string {
	return [9]*string{&r.SessionID, &r.Node, &r.Username, &r.Realm, &r.CallingStationID,
		&r.NASPortID, &r.CircuitID, &r.RemoteID, &r.LAC}
}

// ParseRecord decodes a record written by Append. It copies what it keeps.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	if len(b) < fixedLen {
		return r, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	version := b[0]
	if version < 1 || version > recordVersion {
		return r, fmt.Errorf("%w: version %d", ErrMalformed, b[0])
	}
	r.Kind = Kind(b[1])
	if r.Kind != Start && r.Kind != Interim && r.Kind != Stop {
		return r, fmt.Errorf("%w: kind %v", ErrMalformed, r.Kind)
	}
	r.Seq = binary.BigEndian.Uint32(b[2:])
	r.TunnelID = uint32(binary.BigEndian.Uint16(b[6:]))
	r.PeerTunnelID = uint32(binary.BigEndian.Uint16(b[8:]))
	r.L2TPSessionID = uint32(binary.BigEndian.Uint16(b[10:]))
	r.PeerSessionID = uint32(binary.BigEndian.Uint16(b[12:]))
	r.Time = fromUnixNano(int64(binary.BigEndian.Uint64(b[14:])))
	r.Started = fromUnixNano(int64(binary.BigEndian.Uint64(b[22:])))
	r.InOctets = binary.BigEndian.Uint64(b[30:])
	r.OutOctets = binary.BigEndian.Uint64(b[38:])
	r.InPackets = binary.BigEndian.Uint64(b[46:])
	r.OutPackets = binary.BigEndian.Uint64(b[54:])
	r.Cause = TerminateCause(binary.BigEndian.Uint32(b[62:]))
	r.RateDownKbps = binary.BigEndian.Uint32(b[66:])
	r.RateUpKbps = binary.BigEndian.Uint32(b[70:])
	r.InterimSeconds = binary.BigEndian.Uint32(b[74:])
	b = b[fixedLen:]
	var err error
	if r.Addr, b, err = parseAddr(b); err != nil {
		return r, err
	}
	if r.NASIP, b, err = parseAddr(b); err != nil {
		return r, err
	}
	for _, s := range r.strings() {
		if len(b) < 2 {
			return r, fmt.Errorf("%w: string length", ErrShort)
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return r, fmt.Errorf("%w: string of %d bytes", ErrShort, n)
		}
		*s = string(b[2 : 2+n])
		b = b[2+n:]
	}
	if len(b) < 2 {
		return r, fmt.Errorf("%w: Class count", ErrShort)
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	for i := 0; i < n; i++ {
		if len(b) < 2 {
			return r, fmt.Errorf("%w: Class length", ErrShort)
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return r, fmt.Errorf("%w: Class of %d bytes", ErrShort, l)
		}
		r.Class = append(r.Class, append([]byte{}, b[2:2+l]...))
		b = b[2+l:]
	}
	if version >= 2 {
		if r.IPv6Prefix, b, err = parsePrefix(b); err != nil {
			return r, err
		}
		if r.DelegatedPrefix, b, err = parsePrefix(b); err != nil {
			return r, err
		}
		if r.IPv6Address, b, err = parseAddr(b); err != nil {
			return r, err
		}
	}
	if version >= 3 {
		if len(b) < 40 {
			return r, fmt.Errorf("%w: IPv6 counters", ErrShort)
		}
		r.In6Octets, r.Out6Octets = binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
		r.In6Packets, r.Out6Packets = binary.BigEndian.Uint64(b[16:]), binary.BigEndian.Uint64(b[24:])
		r.InterfaceID = binary.BigEndian.Uint64(b[32:])
		b = b[40:]
	}
	if version >= 4 {
		if len(b) < 19 {
			return r, fmt.Errorf("%w: L2TP version and IDs", ErrShort)
		}
		r.L2TPVersion, r.PWType = b[0], binary.BigEndian.Uint16(b[1:])
		if v := r.L2TPVersion; v != 0 && v != 2 && v != 3 {
			return r, fmt.Errorf("%w: L2TP version %d", ErrMalformed, v)
		}
		ids := [4]*uint32{&r.TunnelID, &r.PeerTunnelID, &r.L2TPSessionID, &r.PeerSessionID}
		for i, id := range ids {
			v := binary.BigEndian.Uint32(b[3+4*i:])
			if uint32(uint16(v)) != *id {
				return r, fmt.Errorf("%w: ID %d of the tail disagrees with the fixed part", ErrMalformed, v)
			}
			*id = v
		}
		b = b[19:]
		if r.LACAddr, b, err = parseAddr(b); err != nil {
			return r, err
		}
		if r.LNSAddr, b, err = parseAddr(b); err != nil {
			return r, err
		}
	}
	if len(b) != 0 {
		return r, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b))
	}
	return r, nil
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, 0)
	}
	s := a.AsSlice()
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func parseAddr(b []byte) (netip.Addr, []byte, error) {
	if len(b) < 1 {
		return netip.Addr{}, b, fmt.Errorf("%w: address length", ErrShort)
	}
	n := int(b[0])
	if n != 0 && n != 4 && n != 16 {
		return netip.Addr{}, b, fmt.Errorf("%w: address of %d bytes", ErrMalformed, n)
	}
	if len(b) < 1+n {
		return netip.Addr{}, b, fmt.Errorf("%w: address", ErrShort)
	}
	if n == 0 {
		return netip.Addr{}, b[1:], nil
	}
	a, _ := netip.AddrFromSlice(b[1 : 1+n])
	return a, b[1+n:], nil
}

// unixNano maps the zero time to 0 so it survives the round trip.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
