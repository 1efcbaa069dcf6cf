package tun

import (
	"encoding/binary"
	"math/bits"
)

// sum adds b to the 64-bit ones' complement accumulator acc (RFC 1071,
// section 4.1: the sum of 16-bit words can be taken over wider words and
// folded at the end). b starts at an even offset of the checksummed data.
func sum(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), 0)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:16]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:24]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:32]), c)
		acc, c = bits.Add64(acc, 0, c)
		acc += c
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), 0)
		acc += c
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b[0:4])), 0)
		acc += c
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b[0:2])), 0)
		acc += c
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0])<<8, 0)
		acc += c
	}
	return acc
}

// fold folds the accumulator into 16 bits (not complemented).
func fold(acc uint64) uint16 {
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	return uint16(acc)
}

// pseudoSum is the sum of the TCP/UDP pseudo-header (RFC 9293 section
// 3.1, RFC 768; RFC 8200 section 8.1 for IPv6) of the IP packet ip, for an
// L4 length of l4len.
func pseudoSum(ip []byte, v6 bool, proto uint8, l4len int) uint64 {
	var acc uint64
	if v6 {
		acc = sum(ip[8:40], 0)
	} else {
		acc = sum(ip[12:20], 0)
	}
	return acc + uint64(proto) + uint64(l4len)
}

// ipv4HeaderChecksum is the header checksum of RFC 791 section 3.1 for the
// header h with its checksum field taken as zero.
func ipv4HeaderChecksum(h []byte) uint16 {
	acc := sum(h[:10], 0)
	acc = sum(h[12:], acc)
	return ^fold(acc)
}
