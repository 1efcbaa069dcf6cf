package lac

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/race"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
)

func udpPair(t *testing.T) (src, dst *net.UDPConn) {
	t.Helper()
	var err error
	if src, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if dst, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	dst.SetReadBuffer(4 << 20)
	return src, dst
}

// readData reads n data messages from dst and checks their header and
// that the PPP frames are want(i), in order.
func readData(t *testing.T, dst *net.UDPConn, n int, h l2tp.Header, want func(i int) []byte) {
	t.Helper()
	buf := make([]byte, 4096)
	dst.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range n {
		m, _, err := dst.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		got, payload, err := l2tp.ParseHeader(buf[:m])
		if err != nil || got.Control || got.TunnelID != h.TunnelID || got.SessionID != h.SessionID {
			t.Fatalf("datagram %d: header %+v, %v", i, got, err)
		}
		if w := want(i); !bytes.Equal(payload, w) {
			t.Fatalf("datagram %d: payload %x, want %x (in order)", i, payload, w)
		}
	}
}

// batchSession is an up session on the batch path of l to dst.
func batchSession(l *LAC, dst *net.UDPConn, h l2tp.Header) (*session, *pppoe.Session) {
	ps := &pppoe.Session{}
	s := &session{l: l, ps: ps}
	ps.Owner = s
	d := &upDest{h: h, addr: dst.LocalAddr().(*net.UDPAddr)}
	fn := l.snd.dataFunc(d)
	s.upFn.Store(&fn)
	s.upDst.Store(d)
	s.up.Store(true)
	return s, ps
}

// TestSessionDataBatch: the frames of one PPPoE read go out from the
// reader's goroutine as L2TP data messages with FF 03, in order, the
// session counted; a batch larger than a sendmmsg is split.
func TestSessionDataBatch(t *testing.T) {
	src, dst := udpPair(t)
	l, err := New(Config{DataConn: src})
	if err != nil {
		t.Fatal(err)
	}
	if l.snd == nil {
		t.Fatal("no sender on an IPv4 UDP socket")
	}
	h := l2tp.Header{TunnelID: 0x1234, SessionID: 0x5678}
	s, ps := batchSession(l, dst, h)
	a := l.NewAccess(AccessConfig{})
	const n = 100 // more than one sendmmsg
	var in []pppoe.InFrame
	for i := range n {
		in = append(in, pppoe.InFrame{Session: ps, Payload: []byte{0x00, 0x21, byte(i), 1, 2, 3}})
	}
	in[n-1].Payload = []byte{0x00, 0x21, n - 1} // a shorter last one ends the GSO run
	a.SessionDataBatch(in)
	readData(t, dst, n, h, func(i int) []byte {
		if i == n-1 {
			return []byte{0xff, 0x03, 0x00, 0x21, n - 1}
		}
		return []byte{0xff, 0x03, 0x00, 0x21, byte(i), 1, 2, 3}
	})
	if l.snd.sent.Load() != n || l.snd.errors.Load() != 0 {
		t.Errorf("sent %d errors %d, want %d 0", l.snd.sent.Load(), l.snd.errors.Load(), n)
	}
	if s.UpPackets.Load() != n || s.UpBytes.Load() != 6*(n-1)+3 {
		t.Errorf("session up %d packets %d octets", s.UpPackets.Load(), s.UpBytes.Load())
	}
}

// TestSessionDataBatchSlowPath: a session whose call is not up, or that
// has frames waiting on its shard, takes SessionData's way (the shard),
// and the frames of the up session around it still go out.
func TestSessionDataBatchSlowPath(t *testing.T) {
	src, dst := udpPair(t)
	l, err := New(Config{DataConn: src, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := l2tp.Header{TunnelID: 1, SessionID: 2}
	_, ps := batchSession(l, dst, h)
	slow := &session{l: l, sh: l.shards[0]}
	pslow := &pppoe.Session{Owner: slow}
	a := l.NewAccess(AccessConfig{})
	a.SessionDataBatch([]pppoe.InFrame{
		{Session: ps, Payload: []byte{0x00, 0x21, 0}},
		{Session: pslow, Payload: []byte{0xc0, 0x21, 1}},
		{Session: ps, Payload: []byte{0x00, 0x21, 2}},
	})
	readData(t, dst, 2, h, func(i int) []byte { return []byte{0xff, 0x03, 0x00, 0x21, byte(2 * i)} })
	select {
	case ev := <-l.shards[0].in:
		if ev.kind != evFrame || ev.s != slow || !bytes.Equal(ev.frame, []byte{0xc0, 0x21, 1}) {
			t.Errorf("shard got %+v", ev)
		}
	default:
		t.Error("the frame of the session not up did not reach its shard")
	}
}

// TestDataFunc: the one-frame path (held frames, the shard) sends a data
// message at once.
func TestDataFunc(t *testing.T) {
	src, dst := udpPair(t)
	l, err := New(Config{DataConn: src})
	if err != nil {
		t.Fatal(err)
	}
	h := l2tp.Header{TunnelID: 7, SessionID: 8}
	s, _ := batchSession(l, dst, h)
	s.forwardUp([]byte{0x00, 0x21, 9})
	readData(t, dst, 1, h, func(int) []byte { return []byte{0xff, 0x03, 0x00, 0x21, 9} })
	if newSender(nil, nil, nil) != nil {
		t.Error("a sender without a UDP socket")
	}
}

func TestSessionDataBatchAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	src, dst := udpPair(t)
	l, _ := New(Config{DataConn: src})
	_, ps := batchSession(l, dst, l2tp.Header{TunnelID: 1, SessionID: 2})
	a := l.NewAccess(AccessConfig{})
	frame := append([]byte{0x00, 0x21}, make([]byte, 1400)...)
	in := make([]pppoe.InFrame, 16)
	for i := range in {
		in[i] = pppoe.InFrame{Session: ps, Payload: frame}
	}
	a.SessionDataBatch(in)
	if n := testing.AllocsPerRun(200, func() { a.SessionDataBatch(in) }); n != 0 {
		t.Errorf("%v allocations per batch of 16 frames", n)
	}
}
