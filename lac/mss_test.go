package lac

import (
	"encoding/binary"
	"testing"
)

// inetSum is the Internet checksum of b (RFC 1071): 0 over data that
// carries its own correct checksum.
func inetSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// tcpSumOK checks the TCP checksum of the IPv4 packet ip (20-octet header)
// over its pseudo-header (RFC 9293 section 3.1).
func tcpSumOK(ip []byte) bool {
	seg := ip[20:]
	ph := append(append([]byte(nil), ip[12:20]...), 0, 6, byte(len(seg)>>8), byte(len(seg)))
	return inetSum(append(ph, seg...)) == 0
}

// pppSYN is a PPP frame (protocol 0x0021, no FF 03) carrying an IPv4 TCP
// segment with flags and an MSS option, both checksums right.
func pppSYN(flags byte, mss uint16) []byte {
	ip := make([]byte, 44)
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:4], 44)
	copy(ip[12:16], []byte{100, 64, 0, 10})
	copy(ip[16:20], []byte{192, 0, 2, 1})
	binary.BigEndian.PutUint16(ip[10:12], inetSum(ip[:20]))
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:2], 50000)
	binary.BigEndian.PutUint16(tcp[2:4], 443)
	tcp[12], tcp[13] = 6<<4, flags
	binary.BigEndian.PutUint16(tcp[14:16], 65535)
	tcp[20], tcp[21] = 2, 4
	binary.BigEndian.PutUint16(tcp[22:24], mss)
	ph := append(append([]byte(nil), ip[12:20]...), 0, 6, 0, 24)
	binary.BigEndian.PutUint16(tcp[16:18], inetSum(append(ph, tcp...)))
	return append([]byte{0x00, 0x21}, ip...)
}

// TestRelayClampsMSS: the relay lowers the MSS of a subscriber's SYN on
// its way into the tunnel and of a server's SYN-ACK on its way to the
// subscriber to [dataplane] tcp-mss, with the TCP checksum still right,
// as the fast path does; an MSS already below it is left alone.
func TestRelayClampsMSS(t *testing.T) {
	s, up, down := testSession()
	s.l = &LAC{}
	s.l.cfgp.Store(&Config{MSS: 1452})

	s.forwardUp(pppSYN(0x02, 1460))
	s.forwardDown(append([]byte{0xff, 0x03}, pppSYN(0x12, 1460)...))
	s.forwardUp(pppSYN(0x02, 1400))
	if len(*up) != 2 || len(*down) != 1 {
		t.Fatalf("relayed %d up, %d down; want 2 and 1", len(*up), len(*down))
	}
	for _, c := range []struct {
		name string
		ip   []byte
		want uint16
	}{
		{"upstream SYN", (*up)[0][4:], 1452},
		{"downstream SYN-ACK", (*down)[0][2:], 1452},
		{"upstream SYN below the clamp", (*up)[1][4:], 1400},
	} {
		if got := binary.BigEndian.Uint16(c.ip[42:44]); got != c.want {
			t.Errorf("%s: MSS %d, want %d", c.name, got, c.want)
		}
		if !tcpSumOK(c.ip) {
			t.Errorf("%s: TCP checksum wrong", c.name)
		}
	}
	if n := s.l.stats.MSSClamped.Load(); n != 2 {
		t.Errorf("MSSClamped = %d, want 2", n)
	}
}
