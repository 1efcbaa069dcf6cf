package tun

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// IP protocol numbers (RFC 790, the IANA registry).
const (
	protoTCP = 6
	protoUDP = 17
)

// TCP flags (RFC 9293 section 3.1, RFC 3168 section 6.1 for CWR).
const (
	tcpFIN = 0x01
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpCWR = 0x80
)

// Checksum offsets from the start of the L4 header.
const (
	tcpCsumOffset = 16
	udpCsumOffset = 6
)

// maxIPLen bounds a coalesced packet: IPv4 Total Length and IPv6 Payload
// Length are 16 bits (no jumbograms).
const maxIPLen = 65535

// udpMaxSegments is the most datagrams the kernel takes in one UDP GSO
// packet (UDP_MAX_SEGMENTS).
const udpMaxSegments = 64

// Splitter cuts a packet read from a device with offloads into the packets
// its virtio_net_hdr describes, the way the kernel's GSO would have sent
// them: a TCP super-packet into segments of GSOSize payload octets, each
// with its own IPv4 Total Length, Identification and header checksum (or
// IPv6 Payload Length), its own sequence number, FIN and PSH only on the
// last segment and CWR only on the first, and a complete TCP checksum over
// the pseudo-header; a UDP one (GSOUDPL4) into datagrams with their own
// Length and checksum. A packet without GSO is given back whole, its checksum
// completed when VnetNeedsCsum is set.
//
// It keeps no copy: the packet given to Reset is read by every Next, and
// must not change until the last one.
type Splitter struct {
	h      VnetHdr
	pkt    []byte
	single bool
	done   bool
	v6     bool
	proto  uint8
	iph    int // IP header length
	hl     int // IP and L4 header length, copied in front of every segment
	seg    int // payload octets per segment
	off    int // offset in pkt of the next segment's payload
	i      int // index of the next segment
	id     uint16
	seq    uint32
}

// Reset starts the split of pkt, the packet that followed h. It returns an
// error wrapping ErrMalformed if the packet does not agree with the header
// (then Next returns io.EOF at once).
func (s *Splitter) Reset(h VnetHdr, pkt []byte) error {
	*s = Splitter{h: h, pkt: pkt, done: true}
	if err := h.check(); err != nil {
		return err
	}
	if h.GSOType == GSONone {
		if len(pkt) == 0 {
			return fmt.Errorf("%w: empty packet", ErrMalformed)
		}
		if h.Flags&VnetNeedsCsum != 0 {
			cs, co := int(h.CsumStart), int(h.CsumOffset)
			if cs >= len(pkt) || co > len(pkt)-cs-2 {
				return fmt.Errorf("%w: checksum at %d+%d in a %d-octet packet", ErrMalformed, cs, co, len(pkt))
			}
		}
		s.single, s.done = true, false
		return nil
	}
	if len(pkt) < 20 {
		return fmt.Errorf("%w: %d-octet %v packet", ErrMalformed, len(pkt), h.GSOType)
	}
	ver := pkt[0] >> 4
	switch {
	case ver == 4 && h.GSOType&^GSOECN != GSOTCPv6:
		s.iph = int(pkt[0]&0x0f) * 4
		if s.iph < 20 || len(pkt) < s.iph || int(binary.BigEndian.Uint16(pkt[2:4])) != len(pkt) ||
			binary.BigEndian.Uint16(pkt[6:8])&0x3fff != 0 {
			return fmt.Errorf("%w: IPv4 header of a %v packet", ErrMalformed, h.GSOType)
		}
		s.proto = pkt[9]
		s.id = binary.BigEndian.Uint16(pkt[4:6])
	case ver == 6 && h.GSOType&^GSOECN != GSOTCPv4:
		if len(pkt) < 40 || int(binary.BigEndian.Uint16(pkt[4:6])) != len(pkt)-40 {
			return fmt.Errorf("%w: IPv6 header of a %v packet", ErrMalformed, h.GSOType)
		}
		s.v6, s.iph, s.proto = true, 40, pkt[6]
	default:
		return fmt.Errorf("%w: IP version %d in a %v packet", ErrMalformed, ver, h.GSOType)
	}
	want, co := uint8(protoTCP), tcpCsumOffset
	if h.GSOType == GSOUDPL4 {
		want, co = protoUDP, udpCsumOffset
	}
	if s.proto != want || int(h.CsumStart) != s.iph || int(h.CsumOffset) != co {
		return fmt.Errorf("%w: protocol %d, checksum at %d+%d in a %v packet", ErrMalformed, s.proto, h.CsumStart, h.CsumOffset, h.GSOType)
	}
	l4h := 8
	if s.proto == protoTCP {
		if len(pkt) < s.iph+20 {
			return fmt.Errorf("%w: short TCP header", ErrMalformed)
		}
		l4h = int(pkt[s.iph+12]>>4) * 4
		if l4h < 20 {
			return fmt.Errorf("%w: TCP data offset %d", ErrMalformed, l4h)
		}
		s.seq = binary.BigEndian.Uint32(pkt[s.iph+4 : s.iph+8])
	}
	s.hl = s.iph + l4h
	if len(pkt) < s.hl {
		return fmt.Errorf("%w: headers of %d octets in a %d-octet packet", ErrMalformed, s.hl, len(pkt))
	}
	s.seg, s.off, s.done = int(h.GSOSize), s.hl, false
	return nil
}

// Next writes the next packet into dst and returns its length. After the
// last one it returns io.EOF. A packet longer than dst is skipped: Next
// returns ErrTooBig and the following call goes on with the next segment.
func (s *Splitter) Next(dst []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	if s.single {
		s.done = true
		n := len(s.pkt)
		if n > len(dst) {
			return 0, ErrTooBig
		}
		copy(dst, s.pkt)
		if s.h.Flags&VnetNeedsCsum != 0 {
			at := int(s.h.CsumStart) + int(s.h.CsumOffset)
			// The field holds the pseudo-header sum: adding the
			// rest completes it.
			c := ^fold(sum(dst[s.h.CsumStart:n], 0))
			if c == 0 {
				c = 0xffff // a UDP checksum of 0 means none (RFC 768)
			}
			binary.BigEndian.PutUint16(dst[at:], c)
		}
		return n, nil
	}
	start := s.off
	end := min(start+s.seg, len(s.pkt))
	i := s.i
	last := end == len(s.pkt)
	s.off, s.i, s.done = end, i+1, last
	n := s.hl + end - start
	if n > len(dst) {
		return 0, ErrTooBig
	}
	copy(dst, s.pkt[:s.hl])
	copy(dst[s.hl:], s.pkt[start:end])
	p := dst[:n]
	if s.v6 {
		binary.BigEndian.PutUint16(p[4:6], uint16(n-40))
	} else {
		binary.BigEndian.PutUint16(p[2:4], uint16(n))
		binary.BigEndian.PutUint16(p[4:6], s.id+uint16(i))
		binary.BigEndian.PutUint16(p[10:12], ipv4HeaderChecksum(p[:s.iph]))
	}
	l4 := p[s.iph:]
	if s.proto == protoTCP {
		binary.BigEndian.PutUint32(l4[4:8], s.seq+uint32(start-s.hl))
		if !last {
			l4[13] &^= tcpFIN | tcpPSH
		}
		if i > 0 {
			l4[13] &^= tcpCWR
		}
		l4[16], l4[17] = 0, 0
		c := ^fold(sum(l4, pseudoSum(p, s.v6, protoTCP, len(l4))))
		binary.BigEndian.PutUint16(l4[16:18], c)
		return n, nil
	}
	binary.BigEndian.PutUint16(l4[4:6], uint16(len(l4)))
	l4[6], l4[7] = 0, 0
	c := ^fold(sum(l4, pseudoSum(p, s.v6, protoUDP, len(l4))))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[6:8], c)
	return n, nil
}

// Group is one write planned by a Coalescer: the packets First to
// First+N-1 of the batch as one super-packet behind Hdr (the first packet
// with its headers rewritten for the whole, then the payloads of the others),
// or, when N is 1, the packet alone behind a zero header.
type Group struct {
	First, N int
	Hdr      VnetHdr
	hl       int       // headers of the first packet rewritten
	save     [100]byte // their original bytes (IPv6 and a 60-octet TCP header at most)
}

// Coalescer plans the writes of a batch of IP packets to a device with
// offloads: runs of consecutive TCP segments of one flow (TSO) or UDP
// datagrams of one flow (USO) become one GSO super-packet that the kernel
// segments again, or receives whole, exactly as the packets were. Segments
// join a run when their IP headers agree (addresses, TOS, TTL, DF; the IPv4
// Identification consecutive unless DF is set, RFC 6864 section 4.1), their
// ports, acknowledgment, window and options are equal, the sequence numbers
// are contiguous, all carry only ACK (PSH on the last one), every payload
// but the last has the size of the first and the last is no larger, and their
// checksums verify (the kernel recomputes the checksums of a super-packet, so
// a damaged segment must stay alone). Everything else is written alone.
type Coalescer struct {
	TSO, USO bool
	groups   []Group
	// The packet that ended the last run, read already: the next run's
	// head (peekAt -1: none).
	peek   pktInfo
	peekOK bool
	peekAt int
}

// pktInfo is what the coalescer reads of a packet.
type pktInfo struct {
	v6    bool
	proto uint8
	iph   int
	hl    int
	pay   int
	flags uint8 // TCP
	nosum bool  // UDP over IPv4 without a checksum
}

// Plan groups bufs[i][offset:] and rewrites the first packet of every run
// of two or more in place (Undo restores it). The result is valid until the
// next call.
func (c *Coalescer) Plan(bufs [][]byte, offset int) []Group {
	c.groups = c.groups[:0]
	c.peekAt = -1
	for i := 0; i < len(bufs); {
		c.groups = append(c.groups, Group{First: i, N: 1})
		g := &c.groups[len(c.groups)-1]
		head := bufs[i][offset:]
		hi, ok := c.peek, c.peekOK
		if c.peekAt != i {
			hi, ok = c.eligible(head)
		}
		if ok {
			c.extend(g, bufs, offset, head, hi)
		}
		i += g.N
	}
	return c.groups
}

func (c *Coalescer) extend(g *Group, bufs [][]byte, offset int, head []byte, hi pktInfo) {
	total, size := hi.pay, hi.pay
	closed := hi.flags&tcpPSH != 0
	psh := closed
	l4len := func(t int) int { return hi.hl - hi.iph + t }
	for j := g.First + 1; !closed && j < len(bufs); j++ {
		if hi.proto == protoUDP && g.N == udpMaxSegments {
			break
		}
		p := bufs[j][offset:]
		pi, ok := c.eligible(p)
		c.peek, c.peekOK, c.peekAt = pi, ok, j
		if !ok || pi.pay > size || !follows(head, hi, p, pi, g.N, total) {
			break
		}
		if n := l4len(total + pi.pay); hi.v6 && n > maxIPLen || !hi.v6 && hi.iph+n > maxIPLen {
			break
		}
		if g.N == 1 && !sumOK(head, hi) {
			return // a damaged head stays alone
		}
		if !sumOK(p, pi) {
			break
		}
		total += pi.pay
		g.N++
		if pi.pay < size || pi.flags&tcpPSH != 0 {
			closed, psh = true, pi.flags&tcpPSH != 0
		}
	}
	if g.N == 1 {
		return
	}
	g.hl = hi.hl
	copy(g.save[:hi.hl], head[:hi.hl])
	if hi.v6 {
		binary.BigEndian.PutUint16(head[4:6], uint16(l4len(total)))
	} else {
		binary.BigEndian.PutUint16(head[2:4], uint16(hi.hl+total))
		binary.BigEndian.PutUint16(head[10:12], ipv4HeaderChecksum(head[:hi.iph]))
	}
	l4 := head[hi.iph:]
	// The checksum field gets the pseudo-header sum only (VnetNeedsCsum).
	ps := fold(pseudoSum(head, hi.v6, hi.proto, l4len(total)))
	g.Hdr = VnetHdr{Flags: VnetNeedsCsum, HdrLen: uint16(hi.hl), GSOSize: uint16(size), CsumStart: uint16(hi.iph)}
	if hi.proto == protoTCP {
		if psh {
			l4[13] |= tcpPSH
		}
		binary.BigEndian.PutUint16(l4[16:18], ps)
		g.Hdr.GSOType, g.Hdr.CsumOffset = GSOTCPv4, tcpCsumOffset
		if hi.v6 {
			g.Hdr.GSOType = GSOTCPv6
		}
		return
	}
	binary.BigEndian.PutUint16(l4[4:6], uint16(l4len(total)))
	binary.BigEndian.PutUint16(l4[6:8], ps)
	g.Hdr.GSOType, g.Hdr.CsumOffset = GSOUDPL4, udpCsumOffset
}

// Undo gives the first packet of g back its own headers, after the kernel
// refused the super-packet, so that the packets can be written one by one.
func (g *Group) Undo(bufs [][]byte, offset int) {
	if g.N > 1 {
		copy(bufs[g.First][offset:], g.save[:g.hl])
	}
}

// eligible tells whether p may be part of a super-packet at all.
func (c *Coalescer) eligible(p []byte) (pktInfo, bool) {
	var pi pktInfo
	if len(p) < 20 {
		return pi, false
	}
	switch p[0] >> 4 {
	case 4:
		// No options, no fragment, the length exact, the header
		// checksum right.
		if p[0]&0x0f != 5 || int(binary.BigEndian.Uint16(p[2:4])) != len(p) ||
			binary.BigEndian.Uint16(p[6:8])&0x3fff != 0 ||
			ipv4HeaderChecksum(p[:20]) != binary.BigEndian.Uint16(p[10:12]) {
			return pi, false
		}
		pi.iph, pi.proto = 20, p[9]
	case 6:
		// No extension header.
		if len(p) < 40 || int(binary.BigEndian.Uint16(p[4:6])) != len(p)-40 {
			return pi, false
		}
		pi.v6, pi.iph, pi.proto = true, 40, p[6]
	default:
		return pi, false
	}
	l4 := p[pi.iph:]
	switch {
	case pi.proto == protoTCP && c.TSO:
		if len(l4) < 20 {
			return pi, false
		}
		pi.hl = pi.iph + int(l4[12]>>4)*4
		pi.flags = l4[13]
		if pi.hl < pi.iph+20 || pi.hl >= len(p) || pi.flags&^tcpPSH != tcpACK {
			return pi, false
		}
	case pi.proto == protoUDP && c.USO:
		if len(l4) <= 8 || int(binary.BigEndian.Uint16(l4[4:6])) != len(l4) {
			return pi, false
		}
		pi.hl = pi.iph + 8
		if binary.BigEndian.Uint16(l4[6:8]) == 0 {
			// No checksum: IPv4 only (RFC 8200 section 8.1).
			pi.pay, pi.nosum = len(p)-pi.hl, true
			return pi, !pi.v6
		}
	default:
		return pi, false
	}
	pi.pay = len(p) - pi.hl
	return pi, true
}

// sumOK tells whether the TCP or UDP checksum of an eligible packet
// verifies. It reads the whole packet, so the coalescer asks it only of
// packets that would join a run: a batch of packets of different flows
// costs no checksum at all.
func sumOK(p []byte, pi pktInfo) bool {
	if pi.nosum {
		return true
	}
	l4 := p[pi.iph:]
	return fold(sum(l4, pseudoSum(p, pi.v6, pi.proto, len(l4)))) == 0xffff
}

// follows tells whether p continues the run that head starts, n packets
// and total payload octets long so far.
func follows(head []byte, hi pktInfo, p []byte, pi pktInfo, n, total int) bool {
	if pi.v6 != hi.v6 || pi.proto != hi.proto || pi.hl != hi.hl {
		return false
	}
	if hi.v6 {
		// Version, traffic class, flow label; hop limit; addresses.
		if !bytes.Equal(head[0:4], p[0:4]) || head[7] != p[7] || !bytes.Equal(head[8:40], p[8:40]) {
			return false
		}
	} else {
		// TOS, flags, TTL, addresses.
		if head[1] != p[1] || head[6] != p[6] || head[8] != p[8] || !bytes.Equal(head[12:20], p[12:20]) {
			return false
		}
		if head[6]&0x40 == 0 && binary.BigEndian.Uint16(p[4:6]) != binary.BigEndian.Uint16(head[4:6])+uint16(n) {
			return false
		}
	}
	h4, p4 := head[hi.iph:hi.hl], p[pi.iph:pi.hl]
	if !bytes.Equal(h4[0:4], p4[0:4]) { // ports
		return false
	}
	if hi.proto == protoUDP {
		return true
	}
	// Contiguous sequence numbers; the same acknowledgment, data offset,
	// window and options.
	return binary.BigEndian.Uint32(p4[4:8]) == binary.BigEndian.Uint32(h4[4:8])+uint32(total) &&
		bytes.Equal(h4[8:13], p4[8:13]) && bytes.Equal(h4[14:16], p4[14:16]) && bytes.Equal(h4[20:], p4[20:])
}
