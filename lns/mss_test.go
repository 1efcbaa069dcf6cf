package lns

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// dpTCPSYN is an IPv4 TCP segment from src to dst with flags (SYN 0x02,
// SYN-ACK 0x12) and an MSS option, checksums right (RFC 9293 section 3.1).
func dpTCPSYN(src, dst netip.Addr, flags byte, mss uint16) []byte {
	p := make([]byte, 44)
	p[0], p[8], p[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(p[2:4], 44)
	copy(p[12:16], src.AsSlice())
	copy(p[16:20], dst.AsSlice())
	binary.BigEndian.PutUint16(p[10:12], dpChecksum(p[:20]))
	tcp := p[20:]
	binary.BigEndian.PutUint16(tcp[0:2], 50000)
	binary.BigEndian.PutUint16(tcp[2:4], 80)
	tcp[12], tcp[13] = 6<<4, flags
	binary.BigEndian.PutUint16(tcp[14:16], 65535)
	tcp[20], tcp[21] = 2, 4
	binary.BigEndian.PutUint16(tcp[22:24], mss)
	binary.BigEndian.PutUint16(tcp[16:18], dpChecksum(dpTCPPseudo(p)))
	return p
}

// dpTCPPseudo is the pseudo-header and segment the TCP checksum covers.
func dpTCPPseudo(p []byte) []byte {
	seg := p[20:]
	return dpCat(p[12:20], []byte{0, 6, byte(len(seg) >> 8), byte(len(seg))}, seg)
}

// TestMSSClampBothWays: with [dataplane] tcp-mss the user-space engine
// lowers the MSS of the subscriber's SYN on its way to the TUN and of the
// server's SYN-ACK on its way to the LAC, as the fast path does, so TCP
// over the session never relies on ICMP Fragmentation Needed.
func TestMSSClampBothWays(t *testing.T) {
	d, _, tn, conn := newDPTestPlane(t, DataPlaneConfig{MSS: 1452}, FlowConfig{})
	dpRun(t, d)
	syn := dpTCPSYN(dpSubAddr, dpHostAddr, 0x02, 1460)
	if r := d.HandleDatagram(dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21}, syn)); r != DropNone {
		t.Fatalf("HandleDatagram = %v", r)
	}
	up := tn.waitWritten(t, 1)[0]
	if got := binary.BigEndian.Uint16(up[42:44]); got != 1452 {
		t.Errorf("upstream SYN MSS %d, want 1452", got)
	}
	if dpChecksum(dpTCPPseudo(up)) != 0 {
		t.Error("upstream SYN: TCP checksum wrong")
	}

	tn.in <- dpTCPSYN(dpHostAddr, dpSubAddr, 0x12, 1460)
	msg := conn.waitSent(t, 1)[0].Data
	down := msg[len(msg)-44:]
	if got := binary.BigEndian.Uint16(down[42:44]); got != 1452 {
		t.Errorf("downstream SYN-ACK MSS %d, want 1452", got)
	}
	if dpChecksum(dpTCPPseudo(down)) != 0 {
		t.Error("downstream SYN-ACK: TCP checksum wrong")
	}
	if n := d.Stats().MSSClamped; n != 2 {
		t.Errorf("MSSClamped %d, want 2", n)
	}

	// tcp-mss = off: the SYN is carried as sent.
	d2, _, tn2, _ := newDPTestPlane(t, DataPlaneConfig{}, FlowConfig{})
	dpRun(t, d2)
	d2.HandleDatagram(dpCat([]byte{0x00, 0x02, 0x00, 0x0a, 0x00, 0x14, 0xff, 0x03, 0x00, 0x21}, syn))
	if got := binary.BigEndian.Uint16(tn2.waitWritten(t, 1)[0][42:44]); got != 1460 {
		t.Errorf("MSS %d without a clamp, want 1460", got)
	}
}
