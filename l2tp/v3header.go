package l2tp

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// This file holds the L2TPv3 headers of RFC 3931: the control message
// header (section 3.2.1) over UDP and over IP (section 4.1.1.2), and the data
// session headers over IP (section 4.1.1.1) and over UDP (section 4.1.2.1)
// with the Default L2-Specific Sublayer (section 4.6). The data path parses
// and builds them in place without allocating.

// Version3 is the Ver field of every L2TPv3 header, RFC 3931 sections
// 3.2.1 and 4.1.2.1.
const Version3 = 3

// V3ControlHeaderLen is the size of the L2TPv3 control message header:
// flags and Ver, Length, Control Connection ID, Ns, Nr (section 3.2.1).
// Over IP the 4-octet zero Session ID comes in front (section 4.1.1.2).
const V3ControlHeaderLen = 12

// v3IPSessionIDLen is the 32-bit Session ID that opens every L2TPv3 packet
// over IP, zero for control messages (section 4.1.1.2).
const v3IPSessionIDLen = 4

// v3UDPDataPrefix is the flags/Ver word and the Reserved field in front of
// the Session ID of a data message over UDP (section 4.1.2.1).
const v3UDPDataPrefix = 4

// v3ControlFlags are the bits of the first control header word that must be
// set: T, L and S (section 3.2.1). The other x bits are reserved: sent as
// 0 and ignored on receipt.
const v3ControlFlags = flagT | flagL | flagS

// Encap is the packet-switched network an L2TPv3 control connection and its
// sessions run over, RFC 3931 section 4.1.
type Encap uint8

const (
	// EncapUDP is L2TPv3 over UDP, port 1701 shared with L2TPv2 (section
	// 4.1.2): the T bit tells control from data.
	EncapUDP Encap = iota
	// EncapIP is L2TPv3 directly over IP protocol 115 (section 4.1.1): a
	// Session ID of zero tells control from data.
	EncapIP
)

// IPProtoL2TP is the IP protocol number of L2TPv3 over IP, RFC 3931
// section 4.1.1.
const IPProtoL2TP = 115

func (e Encap) String() string {
	switch e {
	case EncapUDP:
		return "udp"
	case EncapIP:
		return "ip"
	}
	return "Encap(" + strconv.Itoa(int(e)) + ")"
}

// ParseEncap reads an encapsulation as configuration files write it: udp
// (also when empty) or ip.
func ParseEncap(s string) (Encap, error) {
	switch s {
	case "", "udp":
		return EncapUDP, nil
	case "ip":
		return EncapIP, nil
	}
	return 0, fmt.Errorf("%q: want udp or ip", s)
}

// V3ControlHeader is the L2TPv3 control message header of RFC 3931 section
// 3.2.1. ConnID is the Control Connection ID of the recipient (0 until the
// peer's Assigned Control Connection ID is known). Length is the total
// length of the message from the T bit on, never counting the zero Session
// ID over IP.
type V3ControlHeader struct {
	Length uint16
	ConnID uint32
	Ns, Nr uint16
}

// HeaderVersion reads the Ver field and the T bit of an L2TP datagram
// received over UDP port 1701, where L2TPv2 and L2TPv3 share the first two
// octets of their headers (RFC 3931 sections 4.1.2.1 and 4.7.2), so that an
// endpoint can dispatch it before parsing: 2 is L2TPv2 (RFC 2661), 3 is
// L2TPv3, 1 is L2F. It allocates nothing; the only error is ErrShort.
func HeaderVersion(b []byte) (version uint8, control bool, err error) {
	if len(b) < 2 {
		return 0, false, errShortHeader
	}
	w := binary.BigEndian.Uint16(b[0:2])
	return uint8(w & versionMsk), w&flagT != 0, nil
}

// V3IPControl reports whether an L2TPv3 packet received over IP (the
// payload of IP protocol 115) is a control message: its first 32 bits, the
// Session ID, are zero (RFC 3931 section 4.1.1.2). The only error is
// ErrShort.
func V3IPControl(b []byte) (bool, error) {
	if len(b) < v3IPSessionIDLen {
		return false, errShortHeader
	}
	return binary.BigEndian.Uint32(b[0:4]) == 0, nil
}

// ParseV3ControlHeader decodes the L2TPv3 control message header of RFC 3931
// section 3.2.1 at the start of b: a UDP payload, or an IP payload after
// its zero Session ID (ParseV3ControlHeaderIP strips it). The payload (the AVPs,
// empty for a ZLB) aliases b and is cut at Length; octets past Length are
// ignored. It allocates nothing.
//
// Errors wrap ErrShort (b ends inside the header or before Length) or
// ErrMalformed (a Ver other than 3, T, L or S clear, a Length shorter than
// the header). Reserved bits are ignored as section 3.2.1 says.
func ParseV3ControlHeader(b []byte) (h V3ControlHeader, payload []byte, err error) {
	if len(b) < V3ControlHeaderLen {
		return V3ControlHeader{}, nil, errShortHeader
	}
	flags := binary.BigEndian.Uint16(b[0:2])
	if flags&versionMsk != Version3 {
		return V3ControlHeader{}, nil, errV3Version
	}
	if flags&v3ControlFlags != v3ControlFlags {
		return V3ControlHeader{}, nil, errV3ControlBits
	}
	h = V3ControlHeader{
		Length: binary.BigEndian.Uint16(b[2:4]),
		ConnID: binary.BigEndian.Uint32(b[4:8]),
		Ns:     binary.BigEndian.Uint16(b[8:10]),
		Nr:     binary.BigEndian.Uint16(b[10:12]),
	}
	if h.Length < V3ControlHeaderLen {
		return V3ControlHeader{}, nil, errLengthUnderHeader
	}
	if int(h.Length) > len(b) {
		return V3ControlHeader{}, nil, errLengthPastEnd
	}
	return h, b[V3ControlHeaderLen:h.Length:h.Length], nil
}

// ParseV3ControlHeaderIP is ParseV3ControlHeader for a control message over IP: b is
// the IP payload and must start with the 32-bit zero Session ID of RFC 3931
// section 4.1.1.2 (a non-zero one is a data message: ErrMalformed).
func ParseV3ControlHeaderIP(b []byte) (h V3ControlHeader, payload []byte, err error) {
	control, err := V3IPControl(b)
	if err != nil {
		return V3ControlHeader{}, nil, err
	}
	if !control {
		return V3ControlHeader{}, nil, errV3NotControl
	}
	return ParseV3ControlHeader(b[v3IPSessionIDLen:])
}

// AppendV3ControlHeader appends the control header h for a message whose AVPs
// are payloadLen octets long (RFC 3931 section 3.2.1), T, L and S set and
// Ver 3; Length is computed and h.Length ignored. Over EncapIP the 32-bit
// zero Session ID goes first (section 4.1.1.2) and is not counted in
// Length. It allocates nothing when b has room.
func AppendV3ControlHeader(b []byte, e Encap, h V3ControlHeader, payloadLen int) ([]byte, error) {
	if payloadLen < 0 || V3ControlHeaderLen+payloadLen > 0xffff {
		return b, errTooLong
	}
	if e == EncapIP {
		b = binary.BigEndian.AppendUint32(b, 0)
	}
	start := len(b)
	b = growBytes(b, V3ControlHeaderLen)
	h.Length = uint16(V3ControlHeaderLen + payloadLen)
	putV3Control(b[start:start+V3ControlHeaderLen], h)
	return b, nil
}

// putV3Control writes h, Length included, into the 12 octets of hb.
func putV3Control(hb []byte, h V3ControlHeader) {
	binary.BigEndian.PutUint16(hb[0:2], v3ControlFlags|Version3)
	binary.BigEndian.PutUint16(hb[2:4], h.Length)
	binary.BigEndian.PutUint32(hb[4:8], h.ConnID)
	binary.BigEndian.PutUint16(hb[8:10], h.Ns)
	binary.BigEndian.PutUint16(hb[10:12], h.Nr)
}

// SublayerType is the L2-Specific Sublayer Type of RFC 3931 section 5.4.4
// (registry of section 10.9): which sublayer sits between the session
// header and the tunnelled frame.
type SublayerType uint16

const (
	// SublayerNone: no L2-Specific Sublayer (the default when the AVP is
	// absent, section 5.4.4).
	SublayerNone SublayerType = 0
	// SublayerDefault: the Default L2-Specific Sublayer of section 4.6.
	SublayerDefault SublayerType = 1
)

func (t SublayerType) String() string {
	switch t {
	case SublayerNone:
		return "None"
	case SublayerDefault:
		return "Default"
	}
	return "SublayerType(" + strconv.Itoa(int(t)) + ")"
}

// V3DataFormat is how the data messages of one L2TPv3 session are framed.
// None of it is on the wire: the encapsulation is the control connection's,
// the cookie length is that of the Assigned Cookie AVP (RFC 3931 section
// 5.4.4) the receiving side sent, and the sublayer is the one its
// L2-Specific Sublayer AVP asked for. Section 4.1: the Session ID alone
// gives the context for the rest.
type V3DataFormat struct {
	Encap     Encap
	CookieLen int          // 0, 4 or 8 octets (section 4.1)
	Sublayer  SublayerType // SublayerNone or SublayerDefault
}

// Len is the size of the data header in this format: session header,
// cookie and sublayer.
func (f V3DataFormat) Len() int {
	n := v3IPSessionIDLen + f.CookieLen
	if f.Encap == EncapUDP {
		n += v3UDPDataPrefix
	}
	if f.Sublayer == SublayerDefault {
		n += 4
	}
	return n
}

// check reports a format the codec cannot frame: a cookie size other than
// 0, 4 or 8, an unknown encapsulation or sublayer.
func (f V3DataFormat) check() error {
	if f.CookieLen != 0 && f.CookieLen != 4 && f.CookieLen != 8 {
		return errV3CookieLen
	}
	if f.Encap > EncapIP || f.Sublayer > SublayerDefault {
		return errV3Format
	}
	return nil
}

// V3DataHeader is the header of an L2TPv3 data message: the Session ID
// (RFC 3931 section 4.1, never zero), the cookie (the 4 or 8 octets of the
// format, as a big-endian number; 0 without a cookie), and the fields of
// the Default L2-Specific Sublayer of section 4.6 when the format has one:
// the S bit and a 24-bit Sequence Number, which means nothing when S is
// clear.
type V3DataHeader struct {
	SessionID uint32
	Cookie    uint64
	HasSeq    bool   // S bit of the Default L2-Specific Sublayer
	Seq       uint32 // 24-bit Sequence Number
}

// SeqMask is the range of the 24-bit Sequence Number of the Default
// L2-Specific Sublayer, RFC 3931 section 4.6.
const SeqMask = 1<<24 - 1

// sublayerS is the S bit in the first octet of the Default L2-Specific
// Sublayer (section 4.6: bit 1 of |x|S|x|x|x|x|x|x|).
const sublayerS = 0x40

// ParseV3Data decodes the header of an L2TPv3 data message framed as f at
// the start of b (the IP payload over EncapIP, the UDP payload over
// EncapUDP) and returns the tunnelled frame, which aliases b. It allocates
// nothing, and checks nothing a session lookup must decide: the caller
// finds the session by SessionID and compares Cookie with the one it
// assigned (section 4.5).
//
// Errors wrap ErrShort (b ends inside the header) or ErrMalformed (a zero
// Session ID, which over IP marks a control message, section 4.1.1.2; over
// UDP the T bit set or a Ver other than 3; a bad format). Reserved bits and
// the UDP Reserved field are ignored (section 4.1.2.1).
func ParseV3Data(b []byte, f V3DataFormat) (h V3DataHeader, frame []byte, err error) {
	if err := f.check(); err != nil {
		return V3DataHeader{}, nil, err
	}
	if len(b) < f.Len() {
		return V3DataHeader{}, nil, errShortHeader
	}
	off := 0
	if f.Encap == EncapUDP {
		w := binary.BigEndian.Uint16(b[0:2])
		if w&versionMsk != Version3 {
			return V3DataHeader{}, nil, errV3Version
		}
		if w&flagT != 0 {
			return V3DataHeader{}, nil, errV3NotData
		}
		off = v3UDPDataPrefix
	}
	h.SessionID = binary.BigEndian.Uint32(b[off : off+4])
	if h.SessionID == 0 {
		return V3DataHeader{}, nil, errV3ZeroSession
	}
	off += 4
	switch f.CookieLen {
	case 4:
		h.Cookie = uint64(binary.BigEndian.Uint32(b[off : off+4]))
	case 8:
		h.Cookie = binary.BigEndian.Uint64(b[off : off+8])
	}
	off += f.CookieLen
	if f.Sublayer == SublayerDefault {
		w := binary.BigEndian.Uint32(b[off : off+4])
		h.HasSeq = w>>24&sublayerS != 0
		h.Seq = w & SeqMask
		off += 4
	}
	return h, b[off:], nil
}

// AppendV3Data appends the header of an L2TPv3 data message framed as f:
// over EncapUDP the first word with T=0 and Ver 3 and a zero Reserved field
// (section 4.1.2.1), the Session ID, the low f.CookieLen octets of h.Cookie,
// and with SublayerDefault the sublayer of section 4.6 (reserved bits 0;
// Seq is written only when HasSeq is set, zero otherwise). A zero Session
// ID or a Seq past 24 bits is ErrMalformed. It allocates nothing when b has
// room for f.Len() more octets.
func AppendV3Data(b []byte, f V3DataFormat, h V3DataHeader) ([]byte, error) {
	if err := f.check(); err != nil {
		return b, err
	}
	if h.SessionID == 0 {
		return b, errV3ZeroSession
	}
	if h.Seq > SeqMask {
		return b, errV3SeqRange
	}
	if f.CookieLen == 4 && h.Cookie > 0xffffffff {
		return b, errV3CookieLen
	}
	start := len(b)
	b = growBytes(b, f.Len())
	hb := b[start:]
	off := 0
	if f.Encap == EncapUDP {
		binary.BigEndian.PutUint16(hb[0:2], Version3) // T=0, reserved bits 0
		binary.BigEndian.PutUint16(hb[2:4], 0)        // Reserved
		off = v3UDPDataPrefix
	}
	binary.BigEndian.PutUint32(hb[off:off+4], h.SessionID)
	off += 4
	switch f.CookieLen {
	case 4:
		binary.BigEndian.PutUint32(hb[off:off+4], uint32(h.Cookie))
	case 8:
		binary.BigEndian.PutUint64(hb[off:off+8], h.Cookie)
	}
	off += f.CookieLen
	if f.Sublayer == SublayerDefault {
		var w uint32
		if h.HasSeq {
			w = sublayerS<<24 | h.Seq
		}
		binary.BigEndian.PutUint32(hb[off:off+4], w)
	}
	return b, nil
}

// SeqAfter reports whether the 24-bit sequence number a comes after the
// last one received, b, RFC 3931 section 4.6: a number is "less than or
// equal to" b when it lies in b and the 2^23-1 values before it; every
// other number is after it.
func SeqAfter(a, b uint32) bool {
	d := (a - b) & SeqMask
	return d != 0 && d <= 1<<23
}

// Preallocated errors of the v3 header codec, so that bad data messages
// cost no allocation either.
var (
	errV3Version     = fmt.Errorf("%w: header version is not 3", ErrMalformed)
	errV3ControlBits = fmt.Errorf("%w: L2TPv3 control message without T, L or S", ErrMalformed)
	errV3NotControl  = fmt.Errorf("%w: non-zero Session ID where a control message was expected", ErrMalformed)
	errV3NotData     = fmt.Errorf("%w: control message where a data message was expected", ErrMalformed)
	errV3ZeroSession = fmt.Errorf("%w: data message with Session ID 0", ErrMalformed)
	errV3CookieLen   = fmt.Errorf("%w: cookie of other than 0, 4 or 8 octets", ErrMalformed)
	errV3Format      = fmt.Errorf("%w: unknown encapsulation or L2-Specific Sublayer", ErrMalformed)
	errV3SeqRange    = fmt.Errorf("%w: sequence number past 24 bits", ErrMalformed)
)
