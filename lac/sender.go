package lac

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
	"golang.org/x/net/ipv4"
)

// sendBatch is the most data messages one sendmmsg(2) carries: a PPPoE
// read batch.
const sendBatch = 64

// slotLen is the room for one data message in a batch: the L2TP header
// (at most 16 octets), FF 03 and a PPP frame of a PPPoE read buffer.
const slotLen = 2048

// upDest is where a session's upstream data messages go on the batch
// path: the LNS's address and the peer's Tunnel and Session IDs (RFC 2661
// section 3.1).
type upDest struct {
	h    l2tp.Header
	addr net.Addr // *net.UDPAddr, *net.IPAddr over IP
	sock int      // the socket its tunnel writes from: an index of sender.socks
	// v3 is the data header of an L2TPv3 session (RFC 3931 section
	// 4.1.2.1: Session ID, cookie, sublayer) instead of h; nil on L2TPv2.
	v3 *l2tp.DataFraming
}

// sender is the batched upstream data path. The PPPoE reader that read a
// batch of session frames encodes their L2TP data messages into an
// upBatch and sends them itself with one sendmmsg(2), runs of equal-size
// messages to one LNS as UDP GSO messages: no hand-off to another
// goroutine and no queue. One sendto(2) per frame was most of the LAC's
// CPU; then a sender goroutine woken per batch cost a scheduler switch
// per batch.
type sender struct {
	socks   []upSocket    // DataConn, MoreDataConns, then IPDataConn when set
	ipSock  int           // the index of IPDataConn in socks; -1: none
	batches sync.Pool     // *upBatch
	errors  atomic.Uint64 // data messages the kernel refused
	sent    atomic.Uint64
}

// upSocket is a socket the batch path writes from: a UDP socket of the
// l2tp endpoint, or the raw socket of L2TPv3 over IP.
type upSocket struct {
	udp  *udpio.Conn         // nil on the raw socket
	ip   udpio.MessageWriter // the raw socket; nil on UDP
	port uint16              // the UDP socket's local port
}

// maxUpSockets bounds sender.socks: the [lac] source-ports and the raw
// socket (SessionDataBatch stages a batch per socket on its stack).
const maxUpSockets = maxSourcePorts + 1

// upBatch is the data messages of one PPPoE read batch, in fixed slots.
type upBatch struct {
	out   *udpio.Batch
	slots []byte // sendBatch × slotLen
}

// newSender returns a sender on conn and more (the l2tp endpoint's
// further sockets), and on ip (an IPv4 raw socket of L2TPv3 over IP) when
// set, or nil when conn cannot batch (not an IPv4 UDP socket): the LAC
// then uses l2tp.Tunnel.SendData.
func newSender(conn net.PacketConn, more []*net.UDPConn, ip *net.IPConn) *sender {
	u, ok := conn.(*net.UDPConn)
	if !ok {
		return nil
	}
	la, ok := u.LocalAddr().(*net.UDPAddr)
	if !ok || la.IP.To4() == nil {
		return nil
	}
	if len(more)+2 > maxUpSockets {
		return nil
	}
	s := &sender{ipSock: -1}
	for _, u := range append([]*net.UDPConn{u}, more...) {
		c, err := udpio.NewConn(u)
		if err != nil {
			return nil
		}
		s.socks = append(s.socks, upSocket{udp: c, port: uint16(u.LocalAddr().(*net.UDPAddr).Port)})
	}
	if ip != nil {
		if a, ok := ip.LocalAddr().(*net.IPAddr); ok && a.IP.To4() != nil {
			s.ipSock = len(s.socks)
			s.socks = append(s.socks, upSocket{ip: ipv4.NewPacketConn(ip)})
		}
	}
	s.batches.New = func() any {
		return &upBatch{out: udpio.NewBatch(sendBatch, 0), slots: make([]byte, sendBatch*slotLen)}
	}
	return s
}

// dest returns the batch-path destination of an L2TP session, or nil when
// the session cannot use it (sequenced data, whose Ns the l2tp engine
// keeps, or a non-IPv4 peer).
func (s *sender) dest(ls *l2tp.Session) *upDest {
	if s == nil || ls.Sequenced() {
		return nil
	}
	t := ls.Tunnel()
	peer := t.Peer()
	if !peer.Addr().Unmap().Is4() {
		return nil
	}
	d := &upDest{h: l2tp.Header{TunnelID: t.PeerID(), SessionID: ls.PeerID()}, sock: -1}
	if t.Encap() == l2tp.EncapIP {
		d.addr, d.sock = &net.IPAddr{IP: peer.Addr().Unmap().AsSlice()}, s.ipSock
	} else {
		d.addr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()))
		d.sock = slices.IndexFunc(s.socks, func(u upSocket) bool { return u.udp != nil && u.port == t.LocalAddr().Port() })
	}
	if d.sock < 0 {
		return nil // not a socket of ours: SendData
	}
	if t.Version() == 3 {
		f, ok := ls.V3Framing()
		if !ok {
			return nil
		}
		d.v3 = &f
	}
	return d
}

// dataFunc returns the one-frame upstream function of an L2TP session
// (the shard's path: held frames, proxy hand-over), nil when dest is.
func (s *sender) dataFunc(d *upDest) func([]byte) error {
	if d == nil {
		return nil
	}
	return func(frame []byte) error {
		b := s.batches.Get().(*upBatch)
		defer s.batches.Put(b)
		if !b.stage(d, nil, frame) {
			return errTooBig
		}
		return s.flush(b, d.sock)
	}
}

// stage encodes a data message for d into the next slot: the L2TP header,
// then FF 03 when ac is nil and frame already carries it, or ac and the
// PPP frame. It reports false when the batch is full or the message does
// not fit a slot.
func (b *upBatch) stage(d *upDest, ac []byte, frame []byte) bool {
	n := b.out.Len
	if n == len(b.out.Msgs) {
		return false
	}
	slot := b.slots[n*slotLen : n*slotLen : (n+1)*slotLen]
	var msg []byte
	var err error
	if d.v3 != nil {
		msg, err = l2tp.AppendV3Data(slot, d.v3.Format, d.v3.Header)
	} else {
		msg, err = l2tp.AppendHeader(slot, d.h, len(ac)+len(frame))
	}
	if err != nil || len(msg)+len(ac)+len(frame) > slotLen {
		return false
	}
	msg = append(append(msg, ac...), frame...)
	b.out.Msgs[n].Buffers[0] = msg
	b.out.Msgs[n].Addr = d.addr
	b.out.Len++
	return true
}

// flush sends the staged messages from socket sock and empties the batch.
func (s *sender) flush(b *upBatch, sock int) error {
	if b.out.Len == 0 {
		return nil
	}
	n := b.out.Len
	var sent int
	var err error
	if u := s.socks[sock]; u.udp != nil {
		sent, err = u.udp.WriteBatch(b.out)
	} else {
		sent, err = udpio.WriteMessages(u.ip, b.out.Msgs[:n])
	}
	s.sent.Add(uint64(sent))
	s.errors.Add(uint64(n - sent))
	for i := range n {
		b.out.Msgs[i].Addr = nil
		b.out.Msgs[i].Buffers[0] = nil
	}
	b.out.Len = 0
	return err
}

var errTooBig = errors.New("lac: data message larger than a send slot")

// hdlcAC is the HDLC Address and Control octets of an L2TP data message
// (RFC 2661 section 5.3; the LAC never lets the subscriber negotiate ACFC).
var hdlcAC = []byte{0xff, 0x03}

// SessionDataBatch forwards the session frames of one PPPoE read: the
// frames of sessions whose call is up are encoded into one batch and sent
// from this goroutine with one sendmmsg(2) (runs of equal size as UDP GSO
// messages); the others take SessionData's way. Frames of one session stay
// in order: a session with frames on the shard's way sends nothing here.
func (a *Access) SessionDataBatch(frames []pppoe.InFrame) {
	snd := a.l.snd
	var bs [maxUpSockets]*upBatch // a batch per socket of snd
	var n, octets uint64
	for i := range frames {
		f := &frames[i]
		s, ok := f.Session.Owner.(*session)
		if !ok {
			continue
		}
		d := s.upDst.Load()
		if snd == nil || d == nil || !s.up.Load() || s.pending.Load() != 0 {
			a.SessionData(f.Session, f.Payload)
			continue
		}
		s.noteTerminate(f.Payload)
		s.clampMSS(f.Payload)
		b := bs[d.sock]
		if b == nil {
			b = snd.batches.Get().(*upBatch)
			bs[d.sock] = b
		}
		if !b.stage(d, hdlcAC, f.Payload) {
			if b.out.Len < len(b.out.Msgs) {
				s.Dropped.Add(1) // larger than a slot: cannot come from a PPPoE read buffer
				continue
			}
			_ = snd.flush(b, d.sock)
			b.stage(d, hdlcAC, f.Payload)
		}
		s.UpPackets.Add(1)
		s.UpBytes.Add(uint64(len(f.Payload)))
		n++
		octets += uint64(len(f.Payload))
	}
	if n > 0 {
		a.l.stats.UpFrames.Add(n)
		a.l.stats.UpOctets.Add(octets)
	}
	for sock, b := range bs[:] {
		if b != nil {
			_ = snd.flush(b, sock)
			snd.batches.Put(b)
		}
	}
}
