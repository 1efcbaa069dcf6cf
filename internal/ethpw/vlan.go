package ethpw

import "encoding/binary"

// The tag handling of the attachment circuits (RFC 4719 sections 3.1 and
// 4). A pseudowire carries each frame whole, without preamble and FCS,
// tagged as it was on the wire: in port mode every frame of the port, in
// VLAN mode the frames of one 802.1Q VLAN with their tag. The egress LCCE
// of a VLAN pseudowire rewrites the tag's VLAN ID to its own circuit's
// (the NSP function of section 1.4), keeping priority and DEI, so the two
// ends need not use the same VLAN ID.
//
// The kernel takes the outer tag off a received frame before a packet
// socket sees it and reports it in PACKET_AUXDATA; putting it back is
// the first thing done to a frame from the wire.

// Ethernet header layout.
const (
	macsLen   = 12 // destination and source addresses
	tagLen    = 4  // TPID and TCI
	ethHdrLen = 14

	tpid8021Q  = 0x8100 // IEEE 802.1Q C-tag
	tpid8021AD = 0x88a8 // IEEE 802.1ad S-tag
	vidMask    = 0x0fff
)

// isTPID reports an ethertype that is a VLAN tag.
func isTPID(et uint16) bool { return et == tpid8021Q || et == tpid8021AD }

// insertTag puts the tag (tpid, tci) back after the addresses of frame,
// which must have tagLen octets of headroom before it in its buffer: buf
// holds the frame at buf[tagLen:]. It returns the tagged frame, which
// aliases buf; nothing is allocated.
func insertTag(buf []byte, n int, tpid, tci uint16) []byte {
	frame := buf[:tagLen+n]
	copy(frame[0:macsLen], frame[tagLen:tagLen+macsLen])
	binary.BigEndian.PutUint16(frame[macsLen:], tpid)
	binary.BigEndian.PutUint16(frame[macsLen+2:], tci)
	return frame
}

// outerVID is the VLAN ID of frame's outer tag, when it has one.
func outerVID(frame []byte) (uint16, bool) {
	if len(frame) < ethHdrLen+tagLen || !isTPID(binary.BigEndian.Uint16(frame[macsLen:])) {
		return 0, false
	}
	return binary.BigEndian.Uint16(frame[macsLen+2:]) & vidMask, true
}

// rewriteVID sets the VLAN ID of frame's outer tag to vid in place,
// keeping its priority (PCP) and DEI bits; false when frame has no tag.
func rewriteVID(frame []byte, vid uint16) bool {
	if len(frame) < ethHdrLen+tagLen || !isTPID(binary.BigEndian.Uint16(frame[macsLen:])) {
		return false
	}
	tci := binary.BigEndian.Uint16(frame[macsLen+2:])
	binary.BigEndian.PutUint16(frame[macsLen+2:], tci&^vidMask|vid&vidMask)
	return true
}
