package lns

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/internal/tun"
	"github.com/bras-project/bras/l2tp"
)

// TestForwardingTCPOffloadNetns runs a real TCP connection between a
// subscriber and a host upstream through the data plane on a TUN with
// offloads ([tun] offload = on): the subscriber is a kernel behind a TUN in
// namespace sub whose packets the test carries to and from the LNS in L2TP
// data messages (the LAC's part). Both byte streams must arrive exactly;
// upstream, runs of segments must have been written to the LNS's TUN as
// super-packets, downstream super-packets (the upstream veth's GRO) split;
// and the session's counters must count the packets one by one, as the
// subscriber sent and received them.
func TestForwardingTCPOffloadNetns(t *testing.T) {
	l := newDPNetnsLabWith(t, true)
	// GRO on the LNS's upstream veth makes the kernel forward TCP from
	// upstream as super-packets into the TUN.
	l.lns.MustRun(t, "ethtool", "-K", "to-up", "gro", "on")

	sub := testenv.NewNetns(t, "sub")
	var dev *tun.Device
	if err := sub.Do(func() error {
		var err error
		if dev, err = tun.Open("sub%d", 1); err != nil {
			return err
		}
		link, err := tun.NewLink(nil, dev.Name())
		if err != nil {
			return err
		}
		if err := link.Up(1400); err != nil {
			return err
		}
		if err := link.AddAddr(netip.PrefixFrom(dpSubAddr, 32)); err != nil {
			return err
		}
		return link.AddRoute(netip.MustParsePrefix("10.2.0.0/24"))
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	q := dev.Queues()[0]
	l.lacConn.SetReadBuffer(8 << 20)

	// The LAC: subscriber packets to the LNS, the LNS's to the subscriber.
	var sent, sentOctets, recv, recvOctets atomic.Uint64
	go func() {
		bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
		for {
			if _, err := q.ReadBatch(bufs, sizes, 0); err != nil {
				return
			}
			p := bufs[0][:sizes[0]]
			if p[0]>>4 != 4 {
				continue // IPv6 solicitations of the fresh device
			}
			sent.Add(1)
			sentOctets.Add(uint64(len(p)))
			l.lacSend(t, p)
		}
	}()
	go func() {
		b := make([]byte, 2048)
		for {
			n, _, err := l.lacConn.ReadFromUDP(b)
			if err != nil {
				return
			}
			_, payload, err := l2tp.ParseHeader(b[:n])
			if err != nil || len(payload) < 4 {
				continue
			}
			recv.Add(1)
			recvOctets.Add(uint64(len(payload) - 4))
			q.WriteBatch([][]byte{payload[4:]}, 0)
		}
	}()

	var ln net.Listener
	if err := l.up.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", "10.2.0.2:5001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	upData, downData := dpPattern(3<<20, 1), dpPattern(3<<20, 2)
	srv := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srv <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		go func() {
			c.Write(downData)
			c.(*net.TCPConn).CloseWrite()
		}()
		got, _ := io.ReadAll(c)
		srv <- got
	}()
	var c net.Conn
	if err := sub.Do(func() error {
		var err error
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: dpSubAddr.AsSlice()}}
		c, err = d.Dial("tcp4", "10.2.0.2:5001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	down := make(chan []byte, 1)
	go func() {
		got, _ := io.ReadAll(c)
		down <- got
	}()
	if _, err := c.Write(upData); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	if got := <-srv; !bytes.Equal(got, upData) {
		t.Errorf("upstream host received %d octets, not the %d the subscriber sent", len(got), len(upData))
	}
	if got := <-down; !bytes.Equal(got, downData) {
		t.Errorf("subscriber received %d octets, not the %d sent to it", len(got), len(downData))
	}

	// Let the last ACKs pass, then compare the counters.
	var fc FlowCounters
	s0 := l.d.Stats
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		fc = l.f.Counters()
		st := s0()
		if fc.InPackets+fc.Drops == l.handled.Load() && fc.OutPackets == st.Encapsulated &&
			st.TUNWritten+st.Drops[DropTUNWrite] == fc.InPackets { // the TUN writer has caught up
			break
		}
	}
	s := l.d.Stats()
	t.Logf("data plane %+v; flow %+v; LAC sent %d received %d", s, fc, sent.Load(), recv.Load())
	// Every data message the LNS's socket delivered is counted on the
	// session as one packet (or a drop), and every message sent to the
	// LAC as one packet out; what the LAC got is what the session
	// counted unless its socket lost some.
	if fc.InPackets+fc.Drops != l.handled.Load() || fc.OutPackets != s.Encapsulated {
		t.Errorf("session counted %d packets in (+%d dropped), %d out; the LNS's socket delivered %d, it sent %d",
			fc.InPackets, fc.Drops, fc.OutPackets, l.handled.Load(), s.Encapsulated)
	}
	if fc.OutPackets == recv.Load() && fc.OutOctets != recvOctets.Load() {
		t.Errorf("session counted %d octets out; the subscriber received %d in as many packets", fc.OutOctets, recvOctets.Load())
	}
	if fc.InPackets == sent.Load() && fc.InOctets != sentOctets.Load() {
		t.Errorf("session counted %d octets in; the subscriber sent %d in as many packets", fc.InOctets, sentOctets.Load())
	}
	// Every packet counted in went to the TUN: accepted, or refused by
	// the kernel and counted as such.
	if s.TUNWritten+s.Drops[DropTUNWrite] != fc.InPackets {
		t.Errorf("TUN accepted %d packets and refused %d, the session counted %d in", s.TUNWritten, s.Drops[DropTUNWrite], fc.InPackets)
	}
	if s.GSOWrites == 0 || s.Coalesced <= s.GSOWrites {
		t.Errorf("%d super-packets written for %d packets: upstream segments were not coalesced", s.GSOWrites, s.Coalesced)
	}
	if s.GSOReads == 0 || s.Segments <= s.GSOReads {
		t.Errorf("%d super-packets read, %d segments: downstream was not read in super-packets", s.GSOReads, s.Segments)
	}
	if s.Drops[DropTooBig] != 0 || s.Drops[DropMalformed] != 0 {
		t.Errorf("drops: %v too big, %v malformed", s.Drops[DropTooBig], s.Drops[DropMalformed])
	}
}

// dpPattern is n octets that differ from one position to the next.
func dpPattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13/7) ^ seed
	}
	return b
}
