package dataplane

import (
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bras-project/bras/internal/testenv"
)

// The golden-frame tests run each program through BPF_PROG_TEST_RUN
// ((*ebpf.Program).Run): a frame in, the verdict and the exact frame out.
// The programs call bpf_fib_lookup, which answers from the network
// namespace of the calling thread, so the tests give it a small world of
// their own: a namespace with two veth pairs whose far ends have static
// neighbours, forwarding on, and routes to the lab's subscriber, upstream
// and tunnel addresses. Program.Run runs on a thread switched into it.
//
//	dp-a  192.0.2.1/24     neighbour 192.0.2.2    = testMACA2   (towards the LAC side / the LNS side)
//	dp-b  198.51.100.1/24  neighbour 198.51.100.2 = testMACB2   (upstream)
//	route 203.0.113.0/24   via 198.51.100.2  (the Internet, behind upstream)
//	route 10.0.0.0/8       via 192.0.2.2     (what the tunnel peer side routes)
//
//	dp-b  2001:db8:b::1/64  neighbour 2001:db8:b::2 = testMACB2  (upstream, IPv6)
//	route 2001:db8:ff::/48  via 2001:db8:b::2  (the IPv6 Internet)
//	route 2001:db8:9::/48   via 2001:db8:a::2 on dp-a (another subscriber's, behind the "TUN")

var (
	testMACA  = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xa1} // dp-a
	testMACA2 = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xa2} // dp-a's neighbour 192.0.2.2
	testMACB  = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xb1} // dp-b
	testMACB2 = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xb2} // dp-b's neighbour 198.51.100.2
)

// testWorld is the namespace the golden tests run their programs in.
type testWorld struct {
	ns             *testenv.Netns
	ifA, ifB       int // ifindexes of dp-a and dp-b
	peerA, peerB   int // ifindexes of their peers (dp-a-p, dp-b-p)
	addrA, addrB   netip.Addr
	neighA, neighB netip.Addr
}

// newTestWorld builds the namespace (root only; deleted when t ends).
func newTestWorld(t testing.TB) *testWorld {
	t.Helper()
	ns := testenv.NewNetns(t, "dp")
	w := &testWorld{
		ns:     ns,
		addrA:  netip.MustParseAddr("192.0.2.1"),
		addrB:  netip.MustParseAddr("198.51.100.1"),
		neighA: netip.MustParseAddr("192.0.2.2"),
		neighB: netip.MustParseAddr("198.51.100.2"),
	}
	for _, c := range [][]string{
		{"ip", "link", "add", "dp-a", "address", testMACA.String(), "type", "veth", "peer", "name", "dp-a-p"},
		{"ip", "link", "add", "dp-b", "address", testMACB.String(), "type", "veth", "peer", "name", "dp-b-p"},
		{"ip", "link", "set", "dp-a", "up"}, {"ip", "link", "set", "dp-a-p", "up"},
		{"ip", "link", "set", "dp-b", "up"}, {"ip", "link", "set", "dp-b-p", "up"},
		{"ip", "addr", "add", "192.0.2.1/24", "dev", "dp-a"},
		{"ip", "addr", "add", "198.51.100.1/24", "dev", "dp-b"},
		{"ip", "neigh", "replace", "192.0.2.2", "lladdr", testMACA2.String(), "dev", "dp-a", "nud", "permanent"},
		{"ip", "neigh", "replace", "198.51.100.2", "lladdr", testMACB2.String(), "dev", "dp-b", "nud", "permanent"},
		{"ip", "route", "add", "203.0.113.0/24", "via", "198.51.100.2"},
		{"ip", "route", "add", "10.0.0.0/8", "via", "192.0.2.2"},
		{"sysctl", "-qw", "net.ipv4.conf.all.forwarding=1"},
		{"sysctl", "-qw", "net.ipv4.conf.dp-a.forwarding=1"},
		{"sysctl", "-qw", "net.ipv4.conf.dp-b.forwarding=1"},
		{"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"},
		{"ip", "-6", "addr", "add", "2001:db8:a::1/64", "dev", "dp-a", "nodad"},
		{"ip", "-6", "addr", "add", "2001:db8:b::1/64", "dev", "dp-b", "nodad"},
		{"ip", "-6", "neigh", "replace", "2001:db8:a::2", "lladdr", testMACA2.String(), "dev", "dp-a", "nud", "permanent"},
		{"ip", "-6", "neigh", "replace", "2001:db8:b::2", "lladdr", testMACB2.String(), "dev", "dp-b", "nud", "permanent"},
		{"ip", "-6", "route", "add", "2001:db8:ff::/48", "via", "2001:db8:b::2"},
		{"ip", "-6", "route", "add", "2001:db8:9::/48", "via", "2001:db8:a::2"},
	} {
		ns.MustRun(t, c[0], c[1:]...)
	}
	err := ns.Do(func() error {
		for _, x := range []struct {
			name string
			idx  *int
		}{{"dp-a", &w.ifA}, {"dp-b", &w.ifB}, {"dp-a-p", &w.peerA}, {"dp-b-p", &w.peerB}} {
			ifc, err := net.InterfaceByName(x.name)
			if err != nil {
				return err
			}
			*x.idx = ifc.Index
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// xdpMD is struct xdp_md of <linux/bpf.h>, the context of BPF_PROG_TEST_RUN
// for XDP: data and data_end are offsets into the frame.
type xdpMD struct {
	Data, DataEnd, DataMeta uint32
	IngressIfindex          uint32
	RxQueueIndex            uint32
	EgressIfindex           uint32
}

// run runs prog on frame as if it arrived on ifindex and returns the verdict
// and the frame as the program left it.
func (w *testWorld) run(t testing.TB, prog *ebpf.Program, ifindex int, frame []byte) (uint32, []byte) {
	t.Helper()
	in := append([]byte(nil), frame...)
	out := make([]byte, len(frame)+256)
	opts := &ebpf.RunOptions{
		Data:    in,
		DataOut: out,
		Context: xdpMD{DataEnd: uint32(len(in)), IngressIfindex: uint32(ifindex)},
	}
	var ret uint32
	err := w.ns.Do(func() error {
		var err error
		ret, err = prog.Run(opts)
		return err
	})
	if err != nil {
		t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
	}
	return ret, opts.DataOut
}

// XDP verdicts (enum xdp_action).
const (
	xdpAborted  = 0
	xdpDrop     = 1
	xdpPass     = 2
	xdpTX       = 3
	xdpRedirect = 4
)

// inetChecksum is the Internet checksum of b (RFC 1071 section 4.1),
// computed independently of the programs for the golden frames.
func inetChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
