package tun_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/tun"
)

// vnetBytes encodes a virtio_net_hdr field by field in the host's byte
// order, as the TUN driver reads and writes it (virtio 1.2 section 5.1.6).
func vnetBytes(flags, gsoType uint8, hdrLen, gsoSize, csumStart, csumOffset uint16) []byte {
	b := []byte{flags, gsoType} // flags, gso_type
	e := binary.NativeEndian
	b = e.AppendUint16(b, hdrLen)     // hdr_len
	b = e.AppendUint16(b, gsoSize)    // gso_size
	b = e.AppendUint16(b, csumStart)  // csum_start
	b = e.AppendUint16(b, csumOffset) // csum_offset
	return b
}

func TestVnetHdrCodec(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want tun.VnetHdr
	}{
		{"plain packet", vnetBytes(0, 0, 0, 0, 0, 0), tun.VnetHdr{}},
		{"checksum to complete (TCP over IPv4)", vnetBytes(1, 0, 0, 0, 20, 16),
			tun.VnetHdr{Flags: tun.VnetNeedsCsum, CsumStart: 20, CsumOffset: 16}},
		{"TSO over IPv4, MSS 1448", vnetBytes(1, 1, 52, 1448, 20, 16),
			tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: tun.GSOTCPv4, HdrLen: 52, GSOSize: 1448, CsumStart: 20, CsumOffset: 16}},
		{"TSO over IPv6 with ECN", vnetBytes(1, 0x84, 60, 1428, 40, 16),
			tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: tun.GSOTCPv6 | tun.GSOECN, HdrLen: 60, GSOSize: 1428, CsumStart: 40, CsumOffset: 16}},
		{"USO", vnetBytes(1, 5, 28, 1200, 20, 6),
			tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: tun.GSOUDPL4, HdrLen: 28, GSOSize: 1200, CsumStart: 20, CsumOffset: 6}},
		{"data valid", vnetBytes(2, 0, 0, 0, 0, 0), tun.VnetHdr{Flags: tun.VnetDataValid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tun.ParseVnetHdr(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseVnetHdr (-want +got):\n%s", diff)
			}
			b, err := tt.want.Append(nil)
			if err != nil || !bytes.Equal(b, tt.b) {
				t.Errorf("Append = % x, %v; want % x", b, err, tt.b)
			}
		})
	}
	bad := []struct {
		name string
		b    []byte
	}{
		{"short", vnetBytes(0, 0, 0, 0, 0, 0)[:9]},
		{"unknown flag", vnetBytes(4, 0, 0, 0, 0, 0)},
		{"unknown GSO type", vnetBytes(1, 2, 0, 1000, 20, 16)},
		{"UFO (not produced for IP packets here)", vnetBytes(1, 3, 0, 1000, 20, 6)},
		{"ECN without GSO", vnetBytes(0, 0x80, 0, 0, 0, 0)},
		{"TSO without a checksum to complete", vnetBytes(0, 1, 40, 1000, 20, 16)},
		{"TSO with segment size 0", vnetBytes(1, 1, 40, 0, 20, 16)},
	}
	for _, tt := range bad {
		if _, err := tun.ParseVnetHdr(tt.b); !errors.Is(err, tun.ErrMalformed) {
			t.Errorf("%s: ParseVnetHdr = %v, want ErrMalformed", tt.name, err)
		}
	}
}

// split runs a Splitter over pkt into buffers of size room.
func split(t *testing.T, h tun.VnetHdr, pkt []byte, room int) [][]byte {
	t.Helper()
	var s tun.Splitter
	if err := s.Reset(h, pkt); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	var out [][]byte
	for {
		b := make([]byte, room)
		n, err := s.Next(b)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d packets: %v", len(out), err)
		}
		out = append(out, b[:n])
	}
}

// superTCP is the super-packet the kernel hands over for segs: the first
// segment's headers with the lengths of the whole, the payloads together,
// and in the checksum field whatever partial sum the kernel left (here a
// junk value: the splitter must not depend on it).
func superTCP(f flow, segs []tcp) []byte {
	all := segs[0]
	all.payload = nil
	for _, s := range segs {
		all.payload = append(all.payload, s.payload...)
	}
	all.flags = segs[len(segs)-1].flags | segs[0].flags
	p := f.tcp(all)
	ip := 20
	if f.src.Is6() {
		ip = 40
	}
	binary.BigEndian.PutUint16(p[ip+16:], 0xbeef)
	return p
}

// TestSplitTCP checks TSO super-packets as the kernel sends them (IPv4 and
// IPv6, with and without timestamps) against the segments the kernel's own
// segmentation makes of them (linux net/ipv4/tcp_offload.c: sequence numbers
// advance by the segment size, FIN and PSH stay on the last segment, CWR on
// the first; IPv4 IDs count up), built one by one with their own checksums.
func TestSplitTCP(t *testing.T) {
	ts := []byte{1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78} // NOP NOP Timestamps
	tests := []struct {
		name string
		f    flow
		mss  int
		segs []tcp
	}{
		{"IPv4, 3 segments, the last short, PSH|FIN", flow4, 1000, []tcp{
			{seq: 0xfffff000, ack: 77, flags: 0x10 | 0x80, win: 512, id: 0xfffe, payload: pattern(0, 1000)},
			{seq: 0xfffff000 + 1000, ack: 77, flags: 0x10, win: 512, id: 0xffff, payload: pattern(1000, 1000)},
			{seq: 0xfffff000 + 2000, ack: 77, flags: 0x10 | 0x08 | 0x01, win: 512, id: 0, payload: pattern(2000, 333)},
		}},
		{"IPv4 with timestamps, exact multiple", flow4, 1388, []tcp{
			{seq: 1, ack: 2, flags: 0x10, win: 100, opts: ts, id: 9, payload: pattern(0, 1388)},
			{seq: 1389, ack: 2, flags: 0x10 | 0x08, win: 100, opts: ts, id: 10, payload: pattern(1388, 1388)},
		}},
		{"IPv6, 4 segments, odd last", flow6, 1208, []tcp{
			{seq: 5, ack: 6, flags: 0x10, win: 9, opts: ts, payload: pattern(0, 1208)},
			{seq: 5 + 1208, ack: 6, flags: 0x10, win: 9, opts: ts, payload: pattern(1208, 1208)},
			{seq: 5 + 2416, ack: 6, flags: 0x10, win: 9, opts: ts, payload: pattern(2416, 1208)},
			{seq: 5 + 3624, ack: 6, flags: 0x18, win: 9, opts: ts, payload: pattern(3624, 1)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			super := superTCP(tt.f, tt.segs)
			gt, cs := tun.GSOTCPv4, uint16(20)
			if tt.f.src.Is6() {
				gt, cs = tun.GSOTCPv6, 40
			}
			h := tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: gt, HdrLen: 1, GSOSize: uint16(tt.mss), CsumStart: cs, CsumOffset: 16}
			got := split(t, h, super, 1500)
			var want [][]byte
			for _, s := range tt.segs {
				want = append(want, tt.f.tcp(s))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("segments (-want +got):\n%s", diff)
			}
			for i, p := range got {
				if !checksumsOK(p) {
					t.Errorf("segment %d: checksums do not verify", i)
				}
			}
		})
	}
}

// TestSplitUDP checks USO super-packets (GSOUDPL4) of IPv4 and IPv6.
func TestSplitUDP(t *testing.T) {
	for _, f := range []flow{flow4, flow6} {
		sizes := []int{1200, 1200, 7}
		var want [][]byte
		var all []byte
		for i, n := range sizes {
			want = append(want, f.udp(uint16(100+i), pattern(i*1200, n)))
			all = append(all, pattern(i*1200, n)...)
		}
		super := f.udp(100, all)
		cs := uint16(20)
		if f.src.Is6() {
			cs = 40
		}
		h := tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: tun.GSOUDPL4, GSOSize: 1200, CsumStart: cs, CsumOffset: 6}
		got := split(t, h, super, 1500)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v: datagrams (-want +got):\n%s", f.src, diff)
		}
	}
}

// TestSplitNeedsCsum checks that a single packet whose checksum the kernel
// left to the device (CHECKSUM_PARTIAL: the field holds the pseudo-header
// sum) comes out with the complete checksum.
func TestSplitNeedsCsum(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    []byte
		at   int
		l4   int
	}{
		{"TCP over IPv4", flow4.tcp(tcp{seq: 1, ack: 2, flags: 0x18, win: 3, payload: pattern(0, 101)}), 16, 20},
		{"UDP over IPv6", flow6.udp(0, pattern(5, 999)), 6, 40},
	} {
		want := tt.p
		in := bytes.Clone(want)
		proto := in[9]
		if tt.l4 == 40 {
			proto = in[6]
		}
		binary.BigEndian.PutUint16(in[tt.l4+tt.at:], csum16(pseudo16(in, proto, len(in)-tt.l4), nil))
		h := tun.VnetHdr{Flags: tun.VnetNeedsCsum, CsumStart: uint16(tt.l4), CsumOffset: uint16(tt.at)}
		got := split(t, h, in, 1500)
		if diff := cmp.Diff([][]byte{want}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestSplitTooBig checks that a segment longer than the buffer is skipped,
// counted by the caller, and the rest still come out.
func TestSplitTooBig(t *testing.T) {
	segs := []tcp{
		{seq: 1, flags: 0x10, payload: pattern(0, 1000)},
		{seq: 1001, flags: 0x10, id: 1, payload: pattern(1000, 200)},
	}
	super := superTCP(flow4, segs)
	var s tun.Splitter
	if err := s.Reset(tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: tun.GSOTCPv4, GSOSize: 1000, CsumStart: 20, CsumOffset: 16}, super); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 500)
	if n, err := s.Next(b); !errors.Is(err, tun.ErrTooBig) || n != 0 {
		t.Fatalf("Next of a 1040-octet segment into 500 = %d, %v; want ErrTooBig", n, err)
	}
	n, err := s.Next(b)
	if err != nil || !bytes.Equal(b[:n], flow4.tcp(segs[1])) {
		t.Fatalf("Next after the skipped one = %d, %v; want the second segment", n, err)
	}
	if _, err := s.Next(b); err != io.EOF {
		t.Fatalf("Next at the end = %v, want io.EOF", err)
	}
}

func TestSplitMalformed(t *testing.T) {
	good := superTCP(flow4, []tcp{{seq: 1, flags: 0x10, payload: pattern(0, 3000)}})
	h := tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: tun.GSOTCPv4, GSOSize: 1000, CsumStart: 20, CsumOffset: 16}
	mod := func(f func(p []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		h    tun.VnetHdr
		p    []byte
	}{
		{"empty single packet", tun.VnetHdr{}, nil},
		{"checksum beyond the packet", tun.VnetHdr{Flags: tun.VnetNeedsCsum, CsumStart: 20, CsumOffset: 16}, good[:30]},
		{"IPv6 packet for TCPv4", h, flow6.tcp(tcp{payload: pattern(0, 10)})},
		{"IPv4 packet for TCPv6", func() tun.VnetHdr { x := h; x.GSOType = tun.GSOTCPv6; x.CsumStart = 40; return x }(), good},
		{"UDP for TCP", h, flow4.udp(0, pattern(0, 3000))},
		{"total length disagrees", h, mod(func(p []byte) []byte { return p[:len(p)-1] })},
		{"a fragment", h, mod(func(p []byte) []byte { p[6] |= 0x20; return p })},
		{"checksum start not at the TCP header", func() tun.VnetHdr { x := h; x.CsumStart = 24; return x }(), good},
		{"TCP data offset below 5", h, mod(func(p []byte) []byte { p[32] = 0x40; return p })},
		{"TCP header past the end", h, mod(func(p []byte) []byte { p[32] = 0xf0; binary.BigEndian.PutUint16(p[2:4], 60); return p[:60] })},
		{"short", h, good[:19]},
	}
	for _, tt := range tests {
		var s tun.Splitter
		if err := s.Reset(tt.h, tt.p); !errors.Is(err, tun.ErrMalformed) {
			t.Errorf("%s: Reset = %v, want ErrMalformed", tt.name, err)
		}
		if _, err := s.Next(make([]byte, 1500)); err != io.EOF {
			t.Errorf("%s: Next after a refused Reset = %v, want io.EOF", tt.name, err)
		}
	}
}

// stream is n TCP segments of one flow as a subscriber sends them: the
// same size, contiguous, consecutive IPv4 IDs, PSH on the last.
func stream(f flow, n, mss int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		fl := uint8(0x10)
		if i == n-1 {
			fl |= 0x08
		}
		out = append(out, f.tcp(tcp{seq: 1000 + uint32(i*mss), ack: 5, flags: fl, win: 300, id: uint16(40 + i), payload: pattern(i*mss, mss)}))
	}
	return out
}

func clone(pkts [][]byte) [][]byte {
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		out[i] = bytes.Clone(p)
	}
	return out
}

// coalesced is what WriteBatch writes for g: the first packet (rewritten)
// and the payloads of the others.
func coalesced(bufs [][]byte, g tun.Group) []byte {
	p := bytes.Clone(bufs[g.First])
	for i := g.First + 1; i < g.First+g.N; i++ {
		p = append(p, bufs[i][g.Hdr.HdrLen:]...)
	}
	return p
}

// TestCoalesceTCP checks which runs become one super-packet, what its
// virtio_net_hdr and first headers say, and that the kernel's segmentation
// of it (the Splitter, checked above against it) gives back exactly the
// packets given.
func TestCoalesceTCP(t *testing.T) {
	const mss = 1360
	s4, s6 := stream(flow4, 5, mss), stream(flow6, 5, mss)
	edit := func(pkts [][]byte, i int, f func(p []byte)) [][]byte {
		pkts = clone(pkts)
		f(pkts[i])
		return pkts
	}
	// refix makes p's checksums right again after an edit (a packet a
	// subscriber could have sent).
	refix := func(p []byte) {
		binary.BigEndian.PutUint16(p[10:12], 0)
		binary.BigEndian.PutUint16(p[10:12], ^csum16(0, p[:20]))
		binary.BigEndian.PutUint16(p[36:38], 0)
		binary.BigEndian.PutUint16(p[36:38], ^csum16(pseudo16(p, 6, len(p)-20), p[20:]))
	}
	short := stream(flow4, 3, mss)
	short[1] = flow4.tcp(tcp{seq: 1000 + mss, ack: 5, flags: 0x10, win: 300, id: 41, payload: pattern(mss, 100)})
	ack := flow4.tcp(tcp{seq: 1000, ack: 5, flags: 0x10, win: 300, id: 39})
	tests := []struct {
		name  string
		pkts  [][]byte
		tso   bool
		wantN []int
	}{
		{"IPv4 stream", s4, true, []int{5}},
		{"IPv6 stream", s6, true, []int{5}},
		{"TSO off", s4, false, []int{1, 1, 1, 1, 1}},
		{"PSH in the middle ends the run", edit(s4, 1, func(p []byte) { p[33] |= 0x08; refix(p) }), true, []int{2, 3}},
		{"a shorter segment ends the run", short, true, []int{2, 1}},
		{"a gap in the sequence", edit(s4, 2, func(p []byte) { p[27]++; refix(p) }), true, []int{2, 1, 2}},
		{"another acknowledgment", edit(s4, 3, func(p []byte) { p[31]++; refix(p) }), true, []int{3, 1, 1}},
		{"another window", edit(s4, 3, func(p []byte) { p[35]++; refix(p) }), true, []int{3, 1, 1}},
		{"another port", edit(s4, 1, func(p []byte) { p[21]++; refix(p) }), true, []int{1, 1, 3}},
		{"another TTL", edit(s4, 1, func(p []byte) { p[8]--; refix(p) }), true, []int{1, 1, 3}},
		{"a damaged TCP checksum stays alone", edit(s4, 2, func(p []byte) { p[len(p)-1]++ }), true, []int{2, 1, 2}},
		{"a damaged IPv4 checksum stays alone", edit(s4, 2, func(p []byte) { p[11]++ }), true, []int{2, 1, 2}},
		{"SYN is never coalesced", edit(s4, 0, func(p []byte) { p[33] |= 0x02; refix(p) }), true, []int{1, 4}},
		{"a bare ACK is written alone", [][]byte{ack, s4[0]}, true, []int{1, 1}},
		{"IDs not consecutive without DF", func() [][]byte {
			f := flow4
			f.df = false
			p := stream(f, 3, mss)
			p[2] = edit(p, 2, func(p []byte) { p[5] += 2; refix(p) })[2]
			return p
		}(), true, []int{2, 1}},
		{"IDs need not count with DF (RFC 6864)", edit(s4, 2, func(p []byte) { p[5] += 9; refix(p) }), true, []int{5}},
		{"mixed IPv4 and IPv6", append(clone(s4[:2]), s6[:2]...), true, []int{2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bufs := clone(tt.pkts)
			c := tun.Coalescer{TSO: tt.tso}
			groups := c.Plan(bufs, 0)
			var gotN []int
			for _, g := range groups {
				gotN = append(gotN, g.N)
			}
			if diff := cmp.Diff(tt.wantN, gotN); diff != "" {
				t.Fatalf("group sizes (-want +got):\n%s", diff)
			}
			for _, g := range groups {
				if g.N == 1 {
					if g.Hdr != (tun.VnetHdr{}) || !bytes.Equal(bufs[g.First], tt.pkts[g.First]) {
						t.Errorf("packet %d alone: header %+v, packet changed: %v", g.First, g.Hdr, !bytes.Equal(bufs[g.First], tt.pkts[g.First]))
					}
					continue
				}
				super := coalesced(bufs, g)
				first := tt.pkts[g.First]
				v6 := first[0]>>4 == 6
				ip := 20
				wantType := tun.GSOTCPv4
				if v6 {
					ip, wantType = 40, tun.GSOTCPv6
				}
				wantHdr := tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: wantType, HdrLen: uint16(ip + 20),
					GSOSize: uint16(len(payloadOf(first))), CsumStart: uint16(ip), CsumOffset: 16}
				if diff := cmp.Diff(wantHdr, g.Hdr); diff != "" {
					t.Errorf("group at %d: header (-want +got):\n%s", g.First, diff)
				}
				// The checksum field holds the pseudo-header sum of
				// the whole, as the kernel expects with NEEDS_CSUM.
				if got, want := binary.BigEndian.Uint16(super[ip+16:]), csum16(pseudo16(super, 6, len(super)-ip), nil); got != want {
					t.Errorf("group at %d: TCP checksum field %#04x, want the pseudo-header sum %#04x", g.First, got, want)
				}
				if !v6 && csum16(0, super[:20]) != 0xffff {
					t.Errorf("group at %d: IPv4 header checksum does not verify", g.First)
				}
				back := split(t, g.Hdr, super, 1500)
				if diff := cmp.Diff(tt.pkts[g.First:g.First+g.N], back); diff != "" && !bytes.Contains([]byte(tt.name), []byte("RFC 6864")) {
					t.Errorf("group at %d: segmented again (-want +got):\n%s", g.First, diff)
				}
				g.Undo(bufs, 0)
				if !bytes.Equal(bufs[g.First], first) {
					t.Errorf("group at %d: Undo did not restore the first packet", g.First)
				}
			}
		})
	}
}

// TestCoalesceUDP checks USO runs: same flow, same size but the last, at
// most 64 datagrams, and not without USO.
func TestCoalesceUDP(t *testing.T) {
	var pkts [][]byte
	for i := 0; i < 70; i++ {
		pkts = append(pkts, flow4.udp(uint16(i), pattern(i*1000, 1000)))
	}
	pkts = append(pkts, flow4.udp(70, pattern(0, 10)), flow6.udp(0, pattern(0, 500)), flow6.udp(0, pattern(500, 500)))
	noCsum := flow4.udp(0, pattern(0, 1000))
	binary.BigEndian.PutUint16(noCsum[26:28], 0)
	pkts = append(pkts, noCsum, bytes.Clone(noCsum))
	bufs := clone(pkts)
	c := tun.Coalescer{TSO: true, USO: true}
	var gotN []int
	for _, g := range c.Plan(bufs, 0) {
		gotN = append(gotN, g.N)
		if g.N > 1 {
			if g.Hdr.GSOType != tun.GSOUDPL4 || g.Hdr.CsumOffset != 6 {
				t.Errorf("group at %d: header %+v, want UDP_L4", g.First, g.Hdr)
			}
			back := split(t, g.Hdr, coalesced(bufs, g), 1500)
			for i, p := range back {
				if !checksumsOK(p) || !bytes.Equal(payloadOf(p), payloadOf(pkts[g.First+i])) {
					t.Errorf("group at %d: datagram %d wrong after segmentation", g.First, i)
				}
			}
		}
	}
	// 64 (the kernel's UDP_MAX_SEGMENTS), then 6 and the short one, then
	// the IPv6 pair, then the two without checksum.
	if diff := cmp.Diff([]int{64, 7, 2, 2}, gotN); diff != "" {
		t.Errorf("group sizes (-want +got):\n%s", diff)
	}
	c.USO = false
	if n := len(c.Plan(clone(pkts), 0)); n != len(pkts) {
		t.Errorf("without USO: %d groups, want %d", n, len(pkts))
	}
}

// TestCoalesceBounds checks that a run stops before the super-packet would
// exceed 65535 octets.
func TestCoalesceBounds(t *testing.T) {
	pkts := stream(flow4, 60, 1400)
	c := tun.Coalescer{TSO: true}
	groups := c.Plan(clone(pkts), 0)
	if groups[0].N != (65535-40)/1400 {
		t.Errorf("first run of 1400-octet segments: %d, want %d", groups[0].N, (65535-40)/1400)
	}
}

func TestSplitCoalesceNoAllocs(t *testing.T) {
	pkts := stream(flow4, 48, 1360)
	c := tun.Coalescer{TSO: true}
	bufs := clone(pkts)
	var s tun.Splitter
	dst := make([]byte, 1500)
	allocs := testing.AllocsPerRun(20, func() {
		for _, g := range c.Plan(bufs, 0) {
			g.Undo(bufs, 0)
		}
	})
	super := superTCP(flow4, []tcp{{seq: 1, flags: 0x10, payload: pattern(0, 65000)}})
	h := tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: tun.GSOTCPv4, GSOSize: 1360, CsumStart: 20, CsumOffset: 16}
	allocs += testing.AllocsPerRun(20, func() {
		_ = s.Reset(h, super)
		for {
			if _, err := s.Next(dst); err != nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per plan and split, want 0", allocs)
	}
}

func BenchmarkSplit64K(b *testing.B) {
	super := superTCP(flow4, []tcp{{seq: 1, flags: 0x10, payload: pattern(0, 65535-40)}})
	h := tun.VnetHdr{Flags: tun.VnetNeedsCsum, GSOType: tun.GSOTCPv4, GSOSize: 1360, CsumStart: 20, CsumOffset: 16}
	dst := make([]byte, 1500)
	var s tun.Splitter
	b.ReportAllocs()
	b.SetBytes(int64(len(super)))
	for b.Loop() {
		_ = s.Reset(h, super)
		for {
			if _, err := s.Next(dst); err != nil {
				break
			}
		}
	}
}

func BenchmarkCoalesce64K(b *testing.B) {
	bufs := stream(flow4, 48, 1360) // 65280 payload octets
	c := tun.Coalescer{TSO: true}
	b.ReportAllocs()
	b.SetBytes(48 * 1400)
	for b.Loop() {
		for _, g := range c.Plan(bufs, 0) {
			g.Undo(bufs, 0)
		}
	}
}

// BenchmarkCoalesceFlows is the plan of a batch that cannot coalesce: 48
// UDP datagrams of 1400 octets, each of another flow (as bras bench
// forward's generator sends them). Such a batch should cost the header
// comparisons only, not a checksum of every packet.
func BenchmarkCoalesceFlows(b *testing.B) {
	bufs := make([][]byte, 48)
	for i := range bufs {
		f := flow4
		f.sport += uint16(i)
		bufs[i] = f.udp(uint16(i), pattern(i, 1372))
	}
	c := tun.Coalescer{TSO: true, USO: true}
	b.ReportAllocs()
	b.SetBytes(48 * 1400)
	for b.Loop() {
		if g := c.Plan(bufs, 0); len(g) != len(bufs) {
			b.Fatalf("%d groups of %d datagrams of distinct flows", len(g), len(bufs))
		}
	}
}
