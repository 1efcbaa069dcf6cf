package l2tp

import (
	"encoding/binary"
	"fmt"
)

// Bits of the first header word, RFC 2661 section 3.1.
const (
	flagT      = 0x8000 // message type: 1 control, 0 data
	flagL      = 0x4000 // Length present
	flagS      = 0x0800 // Ns and Nr present
	flagO      = 0x0200 // Offset Size present
	flagP      = 0x0100 // priority (data messages only)
	versionMsk = 0x000f // Ver
	// Version is the only header version RFC 2661 section 3.1 accepts; 1
	// is L2F and 3 is L2TPv3 (RFC 3931).
	Version = 2
)

// ControlHeaderLen is the size of every control message header: flags,
// Length, Tunnel ID, Session ID, Ns, Nr (RFC 2661 section 3.1).
const ControlHeaderLen = 12

// Len returns the encoded size of h, offset padding included.
func (h Header) Len() int {
	n := 6
	if h.HasLength || h.Control {
		n += 2
	}
	if h.HasSeq || h.Control {
		n += 4
	}
	if h.HasOffset {
		n += 2 + int(h.OffsetSize)
	}
	return n
}

// ParseHeader decodes the L2TP header of RFC 2661 section 3.1 at the start
// of b. The returned payload aliases b: for a control message it holds the
// AVPs, for a data message the PPP frame (after the offset padding). When
// the header carries a Length shorter than b, trailing bytes (e.g. link
// padding) are ignored and payload is cut at Length. It allocates nothing.
//
// Errors wrap ErrShort (b ends inside the header or before Length) or
// ErrMalformed (Ver other than 2, a Length shorter than the header, a control
// message without L or S or with O set). Reserved bits are ignored as
// section 3.1 says, and so is P on a control message.
func ParseHeader(b []byte) (h Header, payload []byte, err error) {
	if len(b) < 6 {
		return Header{}, nil, errShortHeader
	}
	flags := binary.BigEndian.Uint16(b[0:2])
	if v := flags & versionMsk; v != Version {
		return Header{}, nil, fmt.Errorf("%w: header version %d", ErrMalformed, v)
	}
	h.Control = flags&flagT != 0
	h.HasLength = flags&flagL != 0
	h.HasSeq = flags&flagS != 0
	h.HasOffset = flags&flagO != 0
	h.Priority = flags&flagP != 0
	if h.Control {
		// Section 3.1: L and S MUST be 1 and O MUST be 0 on control
		// messages; P MUST be 0 on sending, and means nothing here.
		if !h.HasLength || !h.HasSeq || h.HasOffset {
			return Header{}, nil, errControlBits
		}
		h.Priority = false
	}
	off := 2
	if h.HasLength {
		h.Length = binary.BigEndian.Uint16(b[2:4])
		off = 4
	}
	// Fixed part: Tunnel ID, Session ID, then the optional Ns/Nr and
	// Offset Size. Check the size once for all of them.
	need := off + 4
	if h.HasSeq {
		need += 4
	}
	if h.HasOffset {
		need += 2
	}
	if len(b) < need {
		return Header{}, nil, errShortHeader
	}
	h.TunnelID = binary.BigEndian.Uint16(b[off : off+2])
	h.SessionID = binary.BigEndian.Uint16(b[off+2 : off+4])
	off += 4
	if h.HasSeq {
		h.Ns = binary.BigEndian.Uint16(b[off : off+2])
		h.Nr = binary.BigEndian.Uint16(b[off+2 : off+4])
		off += 4
	}
	if h.HasOffset {
		h.OffsetSize = binary.BigEndian.Uint16(b[off : off+2])
		off += 2 + int(h.OffsetSize)
	}
	end := len(b)
	if h.HasLength {
		if int(h.Length) < off {
			return Header{}, nil, errLengthUnderHeader
		}
		if int(h.Length) > len(b) {
			return Header{}, nil, errLengthPastEnd
		}
		end = int(h.Length)
	} else if off > end {
		// Offset padding runs past the end of the datagram.
		return Header{}, nil, errShortHeader
	}
	return h, b[off:end:end], nil
}

// Preallocated errors so the data path allocates nothing even on bad input.
var (
	errShortHeader       = fmt.Errorf("%w: truncated header", ErrShort)
	errControlBits       = fmt.Errorf("%w: control message without L and S or with O set", ErrMalformed)
	errLengthUnderHeader = fmt.Errorf("%w: Length field shorter than the header", ErrMalformed)
	errLengthPastEnd     = fmt.Errorf("%w: Length field past the end of the datagram", ErrShort)
	errControlOP         = fmt.Errorf("%w: control message with O or P set", ErrMalformed)
	errTooLong           = fmt.Errorf("%w: message longer than 65535 octets", ErrMalformed)
)

// AppendHeader appends the header h for a message whose payload (AVPs or
// PPP frame) is payloadLen octets long, RFC 2661 section 3.1. When h.Control
// is set, L and S are forced on and O and P must be clear. When HasLength is
// set (always for control messages) Length is written as h.Len()+payloadLen
// and h.Length is ignored. Offset padding is written as zeros. It allocates
// nothing when b has room for h.Len() more octets.
func AppendHeader(b []byte, h Header, payloadLen int) ([]byte, error) {
	if h.Control {
		if h.HasOffset || h.Priority {
			return b, errControlOP
		}
		h.HasLength, h.HasSeq = true, true
	}
	n := h.Len()
	if payloadLen < 0 || (h.HasLength && n+payloadLen > 0xffff) {
		return b, errTooLong
	}
	start := len(b)
	b = growBytes(b, n)
	putHeader(b[start:start+n], h, n+payloadLen)
	return b, nil
}

// putHeader writes h into hb, which is exactly h.Len() octets long, with
// total as the Length field. h must already be normalised by AppendHeader.
func putHeader(hb []byte, h Header, total int) {
	flags := uint16(Version)
	if h.Control {
		flags |= flagT
	}
	if h.HasLength {
		flags |= flagL
	}
	if h.HasSeq {
		flags |= flagS
	}
	if h.HasOffset {
		flags |= flagO
	}
	if h.Priority {
		flags |= flagP
	}
	binary.BigEndian.PutUint16(hb[0:2], flags)
	off := 2
	if h.HasLength {
		binary.BigEndian.PutUint16(hb[2:4], uint16(total))
		off = 4
	}
	binary.BigEndian.PutUint16(hb[off:off+2], h.TunnelID)
	binary.BigEndian.PutUint16(hb[off+2:off+4], h.SessionID)
	off += 4
	if h.HasSeq {
		binary.BigEndian.PutUint16(hb[off:off+2], h.Ns)
		binary.BigEndian.PutUint16(hb[off+2:off+4], h.Nr)
		off += 4
	}
	if h.HasOffset {
		binary.BigEndian.PutUint16(hb[off:off+2], h.OffsetSize)
		clear(hb[off+2:])
	}
}

// growBytes extends b by n octets (contents undefined) without allocating when
// the capacity allows.
func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}
