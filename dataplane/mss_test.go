package dataplane

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// tcpSumOK checks the TCP checksum of the IPv4 packet pkt (20-octet
// header) over the pseudo-header (RFC 9293 section 3.1).
func tcpSumOK(pkt []byte) bool { return inetChecksum(lnsTCPPseudo(pkt)) == 0 }

// synWithOpts is a TCP SYN (flags) from the lab subscriber to the Internet
// whose options are opts (padded to 4 octets with EOL), checksums right.
func synWithOpts(flags byte, opts ...byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	doff := 20 + len(opts)
	pkt := lnsCat(lnsHex(
		"45 00", lnsU16(20+doff), "1234 4000", "40 06 0000",
		lnsIP(lnsSub), lnsIP(lnsNet),
		"c350 0050", "01020304 00000000",
	), []byte{byte(doff/4) << 4, flags, 0xff, 0xff, 0, 0, 0, 0}, opts)
	return lnsTCPSum(lnsIPv4Sum(pkt))
}

func TestClampMSS(t *testing.T) {
	const clamp = 1452
	for _, tc := range []struct {
		name    string
		pkt     []byte
		changed bool
		mss     int // MSS after, when the packet has one at octets 42-43
	}{
		{"SYN 1460 lowered", synWithOpts(0x02, 2, 4, 0x05, 0xb4), true, 1452},
		{"SYN-ACK 1460 lowered", synWithOpts(0x12, 2, 4, 0x05, 0xb4), true, 1452},
		{"SYN 1452 kept", synWithOpts(0x02, 2, 4, 0x05, 0xac), false, 1452},
		{"SYN 536 kept", synWithOpts(0x02, 2, 4, 0x02, 0x18), false, 536},
		{"ACK not touched", synWithOpts(0x10, 2, 4, 0x05, 0xb4), false, 1460},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := bytes.Clone(tc.pkt)
			if got := ClampMSS(pkt, clamp); got != tc.changed {
				t.Fatalf("ClampMSS = %v, want %v", got, tc.changed)
			}
			if got := int(binary.BigEndian.Uint16(pkt[42:44])); got != tc.mss {
				t.Errorf("MSS %d, want %d", got, tc.mss)
			}
			if !tcpSumOK(pkt) {
				t.Error("TCP checksum wrong after the clamp")
			}
			if !tc.changed && !bytes.Equal(pkt, tc.pkt) {
				t.Error("packet changed")
			}
		})
	}

	// The MSS option after NOPs, a window scale and SACK-permitted, as
	// Linux sends it in a different order; a packet that says nothing
	// parseable stays as it is.
	pkt := synWithOpts(0x02, 1, 1, 4, 2, 3, 3, 7, 2, 4, 0x05, 0xb4)
	if !ClampMSS(pkt, clamp) || binary.BigEndian.Uint16(pkt[49:51]) != clamp || !tcpSumOK(pkt) {
		t.Errorf("MSS after other options not clamped right: % x", pkt[40:])
	}
	for name, p := range map[string][]byte{
		"EOL before MSS":     synWithOpts(0x02, 0, 0, 2, 4, 0x05, 0xb4),
		"option length 0":    synWithOpts(0x02, 3, 0, 2, 4, 0x05, 0xb4),
		"option past header": synWithOpts(0x02, 8, 10, 2, 4),
		"MSS length 3":       synWithOpts(0x02, 2, 3, 0x05, 0xb4),
		"no options":         synWithOpts(0x02),
		"fragment":           lnsPatch(synWithOpts(0x02, 2, 4, 0x05, 0xb4), 6, 0x00, 0x10),
		"UDP":                lnsUDP(lnsSub, lnsNet, 64),
	} {
		c := bytes.Clone(p)
		if ClampMSS(c, clamp) || !bytes.Equal(c, p) {
			t.Errorf("%s: changed", name)
		}
	}
	for n := range len(pkt) {
		ClampMSS(bytes.Clone(pkt[:n]), clamp) // truncated: no panic
	}
	if c := synWithOpts(0x02, 2, 4, 0x05, 0xb4); ClampMSS(c, 0) {
		t.Error("mss 0 (clamping off) changed a SYN")
	}
}

func TestClampMSSPPP(t *testing.T) {
	syn := synWithOpts(0x02, 2, 4, 0x05, 0xb4)
	for name, hdr := range map[string][]byte{
		"FF 03 00 21": {0xff, 0x03, 0x00, 0x21},
		"00 21":       {0x00, 0x21},
		"21 (PFC)":    {0x21},
		"FF 03 21":    {0xff, 0x03, 0x21},
	} {
		f := lnsCat(hdr, syn)
		if !ClampMSSPPP(f, 1400) || binary.BigEndian.Uint16(f[len(hdr)+42:]) != 1400 || !tcpSumOK(f[len(hdr):]) {
			t.Errorf("%s: not clamped", name)
		}
	}
	lcp := lnsCat([]byte{0xc0, 0x21}, syn)
	if ClampMSSPPP(lcp, 1400) {
		t.Error("an LCP frame was changed")
	}
	// IPv6: the clamp less the 20 octets IPv6's header adds, as in BPF.
	for name, hdr := range map[string][]byte{
		"FF 03 00 57": {0xff, 0x03, 0x00, 0x57},
		"57 (PFC)":    {0x57},
	} {
		for _, odd := range []bool{false, true} {
			f := lnsCat(hdr, lns6SYN(lns6Link, lns6Net, 1460, odd))
			want := lnsCat(hdr, lns6SYN(lns6Link, lns6Net, 1380, odd))
			if !ClampMSSPPP(f, 1400) || !bytes.Equal(f, want) {
				t.Errorf("%s, odd offset %v: got % x, want % x", name, odd, f, want)
			}
		}
	}
	v6cp := lnsCat([]byte{0x80, 0x57}, lns6SYN(lns6Link, lns6Net, 1460, false))
	if ClampMSSPPP(v6cp, 1400) {
		t.Error("an IPV6CP frame was changed")
	}
}

// TestClampMSSSameAsBPF: the user-space clamp gives the packet the XDP
// program gives, so a session's SYNs look the same whichever path
// carried them.
func TestClampMSSSameAsBPF(t *testing.T) {
	w := newTestWorld(t)
	objs := lnsLoad(t, w)
	syns := map[string][]byte{
		// An MSS after one NOP sits at an odd offset of the segment:
		// its checksum update is byte-swapped.
		"MSS 1460 after a NOP":                         synWithOpts(0x02, 1, 2, 4, 0x05, 0xb4),
		"MSS 1460 after NOP, NOP, SACK-permitted, NOP": synWithOpts(0x02, 1, 1, 4, 2, 1, 2, 4, 0x05, 0xb4),
	}
	for _, mss := range []int{1460, 1421, 1420, 1300, 65535} {
		syns[fmt.Sprint("MSS ", mss)] = lnsSYN(lnsSub, lnsNet, mss)
	}
	for name, syn := range syns {
		lnsFill(t, w, objs)
		in := lnsFromLAC(lnsLAC, lnsLACPort, lnsData(syn))
		verdict, out := w.run(t, objs.XdpLns, w.ifA, in)
		if verdict != xdpRedirect || len(out) != 14+len(syn) {
			t.Fatalf("%s: verdict %d, %d octets", name, verdict, len(out))
		}
		want := bytes.Clone(syn)
		ClampMSS(want, lnsMSS)
		if !tcpSumOK(want) {
			t.Errorf("%s: the user-space clamp broke the TCP checksum", name)
		}
		if !bytes.Equal(out[14+20:], want[20:]) {
			t.Errorf("%s: the fast path's segment\n% x\nthe user-space clamp's\n% x", name, out[14+20:], want[20:])
		}
	}
}

func FuzzClampMSS(f *testing.F) {
	f.Add(synWithOpts(0x02, 2, 4, 0x05, 0xb4), uint16(1452))
	f.Add(synWithOpts(0x12, 1, 1, 4, 2, 2, 4, 0xff, 0xff), uint16(1))
	f.Fuzz(func(t *testing.T, pkt []byte, mss uint16) {
		valid := len(pkt) >= 40 && pkt[0] == 0x45 && int(binary.BigEndian.Uint16(pkt[2:4])) == len(pkt) && tcpSumOK(pkt)
		c := bytes.Clone(pkt)
		changed := ClampMSS(c, mss)
		if !changed && !bytes.Equal(c, pkt) {
			t.Fatal("changed the packet but said it did not")
		}
		if changed && valid && !tcpSumOK(c) {
			t.Fatalf("a valid segment's checksum broke:\n% x\n% x", pkt, c)
		}
		c6 := bytes.Clone(pkt)
		if !ClampMSS6(c6, mss) && !bytes.Equal(c6, pkt) {
			t.Fatal("ClampMSS6 changed the packet but said it did not")
		}
	})
}

// TestClampMSS6: an IPv6 SYN whose TCP header follows the fixed header
// is clamped; one behind an extension header (Hop-by-Hop, next header 0)
// is left alone.
func TestClampMSS6(t *testing.T) {
	syn := func(next byte) []byte {
		p := make([]byte, 64)
		p[0], p[6] = 0x60, next
		binary.BigEndian.PutUint16(p[4:6], 24)
		p[40+12], p[40+13] = 6<<4, 0x02
		p[60], p[61], p[62], p[63] = 2, 4, 0x05, 0xa0 // MSS 1440
		return p
	}
	p := syn(6)
	if !ClampMSS6(p, 1432) || binary.BigEndian.Uint16(p[62:64]) != 1432 {
		t.Errorf("SYN not clamped: MSS %d", binary.BigEndian.Uint16(p[62:64]))
	}
	q := syn(0)
	if ClampMSS6(q, 1432) || binary.BigEndian.Uint16(q[62:64]) != 1440 {
		t.Error("a SYN behind an extension header was changed")
	}
}
