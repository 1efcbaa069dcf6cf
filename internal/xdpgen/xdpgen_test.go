package xdpgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/testenv"
)

var (
	macA = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xa1}
	macB = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xb1}
)

// unhex decodes hex digits with spaces, newlines and // comments.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var digits strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "//")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden frames, built by hand from RFC 894 (Ethernet), RFC 2516 section
// 5 (PPPoE session), RFC 1332 (PPP protocol 0x0021), RFC 791 (IPv4) and
// RFC 768 (UDP); the IPv4 header checksums were computed independently
// (python3: the one's complement sum of the header's 16-bit words).
const (
	goldenBare = `
		02d0000000b1 02d0000000a1 0800           // Ethernet: dst, src, IPv4
		45 00 0040 0000 4000 40 11 4e76          // IPv4: IHL 5, length 64, DF, TTL 64, UDP, checksum
		c0000201 c6336402                        // 192.0.2.1 → 198.51.100.2
		2710 0009 002c 0000                      // UDP: 10000 → 9, length 44, no checksum
		` + zeros36
	goldenPPPoE = `
		02d0000000b1 02d0000000a1 8864           // Ethernet: dst, src, PPPoE session
		11 00 1234 0042                          // PPPoE: ver 1 type 1, code 0, session 0x1234, length 66
		0021                                     // PPP: IPv4
		45 00 0040 0000 4000 40 11 c967          // IPv4: length 64, DF, TTL 64, UDP, checksum
		64400005 0aff0202                        // 100.64.0.5 → 10.255.2.2
		2710 0009 002c 0000                      // UDP: 10000 → 9, length 44, no checksum
		` + zeros36
	zeros36 = `000000000000000000000000000000000000 000000000000000000000000000000000000`

	// IPv6 (RFC 8200, RFC 5072 for PPP 0x0057); the UDP checksums over
	// the pseudo-header of RFC 8200 section 8.1 computed independently
	// (python3, as above).
	goldenBare6 = `
		02d0000000b1 02d0000000a1 86dd           // Ethernet: dst, src, IPv6
		6 00 00000 0018 11 40                    // IPv6: traffic class 0, flow 0, payload 24, UDP, hop limit 64
		20010db8000000000000000000000001         // 2001:db8::1
		20010db8000000000000000000000002         // → 2001:db8::2
		2710 0009 0018 7d30                      // UDP: 10000 → 9, length 24, checksum
		00000000000000000000000000000000`
	goldenPPPoE6 = `
		02d0000000b1 02d0000000a1 8864           // Ethernet: dst, src, PPPoE session
		11 00 1234 0042                          // PPPoE: ver 1 type 1, code 0, session 0x1234, length 66
		0057                                     // PPP: IPv6
		6 00 00000 0018 11 40                    // IPv6: payload 24, UDP, hop limit 64
		20010db8000100000000000000000005         // 2001:db8:1::5
		20010db800ff00000000000000000002         // → 2001:db8:ff::2
		2710 0009 0018 7c2c                      // UDP: 10000 → 9, length 24, checksum
		00000000000000000000000000000000`
)

func TestFrameAppend(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame Frame
		want  string
	}{
		{"bare IPv4", Frame{Dst: macB, Src: macA, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("198.51.100.2"), Size: 64}, goldenBare},
		{"PPPoE session", Frame{Dst: macB, Src: macA, PPPoE: true, Session: 0x1234, SrcIP: netip.MustParseAddr("100.64.0.5"), DstIP: netip.MustParseAddr("10.255.2.2"), Size: 64}, goldenPPPoE},
		{"bare IPv6", Frame{Dst: macB, Src: macA, SrcIP: netip.MustParseAddr("2001:db8::1"), DstIP: netip.MustParseAddr("2001:db8::2"), Size: 64}, goldenBare6},
		{"PPPoE session, IPv6", Frame{Dst: macB, Src: macA, PPPoE: true, Session: 0x1234, SrcIP: netip.MustParseAddr("2001:db8:1::5"), DstIP: netip.MustParseAddr("2001:db8:ff::2"), Size: 64}, goldenPPPoE6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.frame.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(unhex(t, tc.want), got); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
		})
	}
	for _, f := range []Frame{
		{Dst: macB, Src: macA, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("198.51.100.2"), Size: 27},
		{Dst: macB, Src: macA, SrcIP: netip.MustParseAddr("::1"), DstIP: netip.MustParseAddr("198.51.100.2"), Size: 64},
		{Dst: macB[:5], Src: macA, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("198.51.100.2"), Size: 64},
		{Dst: macB, Src: macA, SrcIP: netip.MustParseAddr("2001:db8::1"), DstIP: netip.MustParseAddr("2001:db8::2"), Size: 47},
		{Dst: macB, Src: macA, SrcIP: netip.MustParseAddr("::ffff:192.0.2.1"), DstIP: netip.MustParseAddr("2001:db8::2"), Size: 64},
	} {
		if _, err := f.Append(nil); err == nil {
			t.Errorf("Append(%+v) gave no error", f)
		}
	}
	b, _ := Frame{Dst: macB, Src: macA, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("198.51.100.2"), Size: 1400}.Append(nil)
	if len(b) != ethLen+1400 {
		t.Errorf("1400-octet packet: frame of %d octets, want %d", len(b), ethLen+1400)
	}
}

// run runs prog once on frame (BPF_PROG_TEST_RUN, not live) and returns the
// verdict and the frame as the program left it.
func run(t *testing.T, prog *ebpf.Program, frame []byte) (uint32, []byte) {
	t.Helper()
	opts := &ebpf.RunOptions{Data: append([]byte(nil), frame...), DataOut: make([]byte, len(frame)+256)}
	ret, err := prog.Run(opts)
	if err != nil {
		t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
	}
	return ret, opts.DataOut
}

func loadObjects(t *testing.T) *xdpgenObjects {
	t.Helper()
	testenv.RequireRoot(t)
	var objs xdpgenObjects
	if err := loadXdpgenObjects(&objs, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.Close() })
	return &objs
}

// edit returns a copy of b with the octets at off replaced by v.
func edit(b []byte, off int, v ...byte) []byte {
	b = append([]byte(nil), b...)
	copy(b[off:], v)
	return b
}

func TestSink(t *testing.T) {
	objs := loadObjects(t)
	bare, pppoe := unhex(t, goldenBare), unhex(t, goldenPPPoE)
	// PPPoE with the protocol field compressed (RFC 1661 section 6.5):
	// one octet 0x21, the PPPoE length one less.
	pfc := append(edit(pppoe[:20], 18, 0x00, 0x41), append([]byte{0x21}, pppoe[22:]...)...)
	// PPPoE with the HDLC address and control field FF 03 in front.
	ff03 := append(edit(pppoe[:20], 18, 0x00, 0x44), append([]byte{0xff, 0x03}, pppoe[20:]...)...)
	arp := unhex(t, `ffffffffffff 02d0000000a1 0806 0001 0800 06 04 0001 02d0000000a1 c0000201 000000000000 c6336402`)
	bare6, pppoe6 := unhex(t, goldenBare6), unhex(t, goldenPPPoE6)
	pfc6 := append(edit(pppoe6[:20], 18, 0x00, 0x41), append([]byte{0x57}, pppoe6[22:]...)...)
	for _, tc := range []struct {
		name    string
		frame   []byte
		verdict uint32
	}{
		{"IPv4 to port 9", bare, verdictDrop},
		{"PPPoE IPv4 to port 9", pppoe, verdictDrop},
		{"PPPoE, protocol field compressed", pfc, verdictDrop},
		{"PPPoE, FF 03 in front", ff03, verdictDrop},
		{"IPv6 to port 9", bare6, verdictDrop},
		{"PPPoE IPv6 to port 9", pppoe6, verdictDrop},
		{"PPPoE IPv6, protocol field compressed", pfc6, verdictDrop},
		{"IPv6 to port 53", edit(bare6, 56, 0x00, 0x35), verdictPass},
		{"IPv6 TCP", edit(bare6, 20, 6), verdictPass},
		{"IPv6 cut before UDP", bare6[:54+4], verdictPass},
		{"IPv4 to port 53", edit(bare, 36, 0x00, 0x35), verdictPass},
		{"IPv4 TCP", edit(bare, 23, 6), verdictPass},
		{"IPv4 fragment", edit(bare, 20, 0x20, 0x00), verdictPass},
		{"IPv4 with options", edit(bare, 14, 0x46), verdictPass},
		{"PPPoE LCP", edit(pppoe, 20, 0xc0, 0x21), verdictPass},
		{"PPPoE discovery", edit(pppoe, 12, 0x88, 0x63), verdictPass},
		{"PPPoE code not 0", edit(pppoe, 15, 0x09), verdictPass},
		{"ARP", arp, verdictPass},
		{"Ethernet header only", bare[:14], verdictPass},
		{"IPv4 cut before UDP", bare[:34+4], verdictPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := sinkCount(t, objs.SinkCounts)
			verdict, out := run(t, objs.XdpSink, tc.frame)
			if verdict != tc.verdict {
				t.Fatalf("verdict %d, want %d", verdict, tc.verdict)
			}
			want := before
			if tc.verdict == verdictDrop {
				want.Packets++
				want.Octets += uint64(len(tc.frame))
			} else if diff := cmp.Diff(tc.frame, out); diff != "" {
				t.Errorf("passed frame changed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, sinkCount(t, objs.SinkCounts)); diff != "" {
				t.Errorf("count (-want +got):\n%s", diff)
			}
		})
	}
}

func sinkCount(t *testing.T, m *ebpf.Map) Count {
	t.Helper()
	s := &Sink{counts: m}
	c, err := s.Count()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setSeq sets xdp_gen's per-CPU packet number on every CPU.
func setSeq(t *testing.T, m *ebpf.Map, n uint32) {
	t.Helper()
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	v := make([]uint32, cpus)
	for i := range v {
		v[i] = n
	}
	if err := m.Update(uint32(0), v, ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
}

// setTemplate sets xdp_gen's template to the first HeaderOctets of frame.
func setTemplate(t *testing.T, m *ebpf.Map, frame []byte) {
	t.Helper()
	if err := m.Update(uint32(0), frame[:HeaderOctets], ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
}

func TestGen(t *testing.T) {
	objs := loadObjects(t)
	bare, pppoe := unhex(t, goldenBare), unhex(t, goldenPPPoE)
	// The bare frame with a UDP checksum (RFC 768: over the pseudo-header,
	// the UDP header and the payload), computed here from scratch.
	withSum := append([]byte(nil), bare...)
	binary.BigEndian.PutUint16(withSum[40:], udpChecksum(withSum[14:]))
	// A page as a router hands it back after forwarding the frame 63
	// times: TTL 1, checksum updated, other MAC addresses.
	used := edit(bare, 0, 0x02, 0xd0, 0, 0, 0, 0xc1, 0x02, 0xd0, 0, 0, 0, 0xc2)
	used = edit(used, 22, 1, 0x11, 0x8d, 0x76)
	for _, tc := range []struct {
		name    string
		tmpl    []byte // the template Go gave; the frame itself when nil
		frame   []byte
		seq     uint32
		verdict uint32
		want    []byte
	}{
		{"first port", nil, bare, 0, verdictTX, bare},
		{"next port", nil, bare, 1, verdictTX, edit(bare, 34, 0x27, 0x11)},
		{"last port", nil, bare, SourcePortSpan - 1, verdictTX, edit(bare, 34, 0x27, 0x10+SourcePortSpan-1)},
		{"wraps", nil, bare, SourcePortSpan + 2, verdictTX, edit(bare, 34, 0x27, 0x12)},
		{"PPPoE", nil, pppoe, 5, verdictTX, edit(pppoe, 42, 0x27, 0x15)},
		{"IPv6, checksum updated", nil, unhex(t, goldenBare6), 1, verdictTX, func() []byte {
			b := edit(unhex(t, goldenBare6), 54, 0x27, 0x11)
			return edit(b, 60, 0x7d, 0x2f) // one more in the port, one less in the checksum
		}()},
		{"PPPoE IPv6", nil, unhex(t, goldenPPPoE6), 2, verdictTX, func() []byte {
			b := edit(unhex(t, goldenPPPoE6), 62, 0x27, 0x12)
			return edit(b, 68, 0x7c, 0x2a)
		}()},
		{"checksum updated", nil, withSum, 3, verdictTX, func() []byte {
			b := edit(withSum, 34, 0x27, 0x13)
			binary.BigEndian.PutUint16(b[40:], 0)
			binary.BigEndian.PutUint16(b[40:], udpChecksum(b[14:]))
			return b
		}()},
		{"headers of a reused page rewritten", bare, used, 2, verdictTX, edit(bare, 34, 0x27, 0x12)},
		{"not UDP", nil, edit(bare, 23, 6), 0, verdictAborted, edit(bare, 23, 6)},
		{"ARP", nil, edit(bare, 12, 0x08, 0x06), 0, verdictAborted, edit(bare, 12, 0x08, 0x06)},
		{"shorter than the template", bare, bare[:HeaderOctets-1], 0, verdictAborted, bare[:HeaderOctets-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := tc.tmpl
			if tmpl == nil {
				tmpl = tc.frame
			}
			setTemplate(t, objs.GenTmpl, tmpl)
			setSeq(t, objs.GenSeq, tc.seq)
			verdict, out := run(t, objs.XdpGen, tc.frame)
			if verdict != tc.verdict {
				t.Fatalf("verdict %d, want %d", verdict, tc.verdict)
			}
			if diff := cmp.Diff(tc.want, out); diff != "" {
				t.Errorf("frame (-want +got):\n%s", diff)
			}
		})
	}
	g := &Generator{tmpl: objs.GenTmpl}
	if err := g.setTemplate(bare[:HeaderOctets-1]); err == nil {
		t.Error("a frame shorter than HeaderOctets was accepted")
	}
}

// udpChecksum is the UDP checksum of the IPv4 packet ip (RFC 768), with
// the checksum field as it is in ip (zero it first).
func udpChecksum(ip []byte) uint16 {
	udp := ip[20:]
	pseudo := append(append([]byte(nil), ip[12:20]...), 0, 17, byte(len(udp)>>8), byte(len(udp)))
	c := ipChecksum(append(pseudo, udp...))
	if c == 0 {
		c = 0xffff
	}
	return c
}

// sent says whether a sink's count matches n frames sent by Run: all of
// them, and at most one more run's worth, which the kernel sends when a
// signal interrupts BPF_PROG_TEST_RUN and cilium/ebpf restarts it.
func sent(n, counted uint64) bool { return counted >= n && counted <= 2*n }

// TestGenerateToSink sends frames with the generator out of one end of a
// veth pair in one namespace and counts them with the sink on the other
// end in another: every marker frame arrives and is counted, others pass.
func TestGenerateToSink(t *testing.T) {
	a, b := testenv.NewNetns(t, "xgen"), testenv.NewNetns(t, "xsink")
	testenv.Link(t, a, "gen0", netip.Prefix{}, b, "sink0", netip.Prefix{})
	var sink *Sink
	if err := b.Do(func() (err error) { sink, err = AttachSink("sink0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	g, err := NewGenerator()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var dst net.HardwareAddr
	if err := b.Do(func() error {
		ifc, err := net.InterfaceByName("sink0")
		dst = ifc.HardwareAddr
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var ifindex int
	var src net.HardwareAddr
	if err := a.Do(func() error {
		ifc, err := net.InterfaceByName("gen0")
		if err != nil {
			return err
		}
		ifindex, src = ifc.Index, ifc.HardwareAddr
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{64, 1400} {
		for _, c := range []struct {
			pppoe    bool
			src, dst string
			hl       int
		}{
			{false, "192.0.2.1", "198.51.100.2", 20}, {true, "192.0.2.1", "198.51.100.2", 20},
			{false, "2001:db8::1", "2001:db8::2", 40}, {true, "2001:db8::1", "2001:db8::2", 40},
		} {
			pppoe := c.pppoe
			frame, err := Frame{Dst: dst, Src: src, PPPoE: pppoe, Session: 7, SrcIP: netip.MustParseAddr(c.src),
				DstIP: netip.MustParseAddr(c.dst), Size: size}.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			other := edit(frame, len(frame)-size+c.hl+2, 0x00, 0x35) // to port 53: passed, not counted
			const n = 10000
			before, _ := sink.Count()
			if err := a.Do(func() error {
				if err := g.Run(frame, ifindex, n); err != nil {
					return err
				}
				return g.Run(other, ifindex, 100)
			}); err != nil {
				t.Fatal(err)
			}
			after, err := sink.Count()
			if err != nil {
				t.Fatal(err)
			}
			got := Count{Packets: after.Packets - before.Packets, Octets: after.Octets - before.Octets}
			if !sent(n, got.Packets) || got.Octets != got.Packets*uint64(len(frame)) {
				t.Errorf("%d octets, PPPoE %v, %s: sink counted %+v of %d frames of %d octets", size, pppoe, c.src, got, n, len(frame))
			}
		}
	}
	frame, _ := Frame{Dst: dst, Src: src, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("198.51.100.2"), Size: 64}.Append(nil)
	before, _ := sink.Count()
	var off Offered
	if err := a.Do(func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		off, err = g.Generate(ctx, frame, ifindex)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	after, _ := sink.Count()
	if off.Packets == 0 || after.Packets-before.Packets < off.Packets {
		t.Errorf("Generate offered %d packets in %.3f s, the sink counted %d", off.Packets, off.Seconds, after.Packets-before.Packets)
	}
	t.Logf("one core offers %.2f Mpps of 64-octet packets (%d counted, %d restarts)", off.PPS()/1e6, after.Packets-before.Packets, off.Restarts)
	if !bytes.Equal(frame[34:36], []byte{0x27, 0x10}) {
		t.Error("Generate changed the caller's template")
	}
}

// TestGenerateThroughRouter sends frames through a namespace that routes
// them (TTL decremented in the very pages the generator reuses): every
// one arrives, because xdp_gen rewrites the headers of each packet.
func TestGenerateThroughRouter(t *testing.T) {
	a, r, b := testenv.NewNetns(t, "xgen"), testenv.NewNetns(t, "xrtr"), testenv.NewNetns(t, "xsink")
	p := netip.MustParsePrefix
	testenv.Link(t, a, "eth0", p("192.0.2.2/24"), r, "eth0", p("192.0.2.1/24"))
	testenv.Link(t, r, "eth1", p("198.51.100.1/24"), b, "eth0", p("198.51.100.2/24"))
	r.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	// The router's receiving veth needs NAPI for redirected frames: GRO.
	r.MustRun(t, "ethtool", "-K", "eth0", "gro", "on")
	ifc := func(n *testenv.Netns, name string) (ifc *net.Interface) {
		t.Helper()
		if err := n.Do(func() (err error) { ifc, err = net.InterfaceByName(name); return err }); err != nil {
			t.Fatal(err)
		}
		return ifc
	}
	r.MustRun(t, "ip", "neigh", "replace", "198.51.100.2", "lladdr", ifc(b, "eth0").HardwareAddr.String(), "dev", "eth1", "nud", "permanent")
	var sink *Sink
	if err := b.Do(func() (err error) { sink, err = AttachSink("eth0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	g, err := NewGenerator()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	gen := ifc(a, "eth0")
	frame, err := Frame{Dst: ifc(r, "eth0").HardwareAddr, Src: gen.HardwareAddr, SrcIP: netip.MustParseAddr("192.0.2.2"),
		DstIP: netip.MustParseAddr("198.51.100.2"), Size: 64}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000 // each page of the generator's pool comes back hundreds of times
	if err := a.Do(func() error {
		for i := 0; i < n/100; i++ {
			if err := g.Run(frame, gen.Index, 100); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	c, err := sink.Count()
	if err != nil {
		t.Fatal(err)
	}
	if !sent(n, c.Packets) {
		t.Errorf("the sink behind the router counted %d of %d", c.Packets, n)
	}
}
