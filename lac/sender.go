package lac

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/bras-project/bras/l2tp"
	"golang.org/x/net/ipv4"
)

// sendBatch is the most data messages one sendmmsg(2) carries.
const sendBatch = 64

// outPacket is one L2TP data message waiting for the sender.
type outPacket struct {
	buf  []byte // header and PPP frame
	addr *net.UDPAddr
}

// sender batches the upstream data path: the PPPoE readers encode L2TP data
// messages (RFC 2661 section 3.1) into pooled buffers and queue them; one
// goroutine drains the queue with a sendmmsg(2) per batch. Under load a
// batch fills up; when idle each message leaves at once, so nothing waits
// for a timer. One sendto(2) per frame was most of the LAC's CPU.
type sender struct {
	pc      *ipv4.PacketConn
	q       chan *outPacket
	pool    sync.Pool
	dropped atomic.Uint64 // queue full
	errors  atomic.Uint64 // sendmmsg failures (messages lost)
	sent    atomic.Uint64
}

// newSender returns a sender on conn, or nil when conn cannot batch (not
// an IPv4 UDP socket): the LAC then uses l2tp.Tunnel.SendData.
func newSender(conn net.PacketConn, queue int) *sender {
	u, ok := conn.(*net.UDPConn)
	if !ok {
		return nil
	}
	la, ok := u.LocalAddr().(*net.UDPAddr)
	if !ok || la.IP.To4() == nil {
		return nil
	}
	s := &sender{pc: ipv4.NewPacketConn(u), q: make(chan *outPacket, queue)}
	s.pool.New = func() any { return &outPacket{buf: make([]byte, 0, 2048)} }
	return s
}

// dataFunc returns the upstream function of an L2TP session: it encodes
// the frame (FF 03 included) with the peer's Tunnel and Session IDs and
// queues it. nil when the session cannot use the batch path (sequenced
// data, whose Ns the l2tp engine keeps, or a non-IPv4 peer).
func (s *sender) dataFunc(ls *l2tp.Session) func([]byte) error {
	if s == nil || ls.Sequenced() {
		return nil
	}
	t := ls.Tunnel()
	peer := t.Peer()
	if !peer.Addr().Unmap().Is4() {
		return nil
	}
	addr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()))
	h := l2tp.Header{TunnelID: t.PeerID(), SessionID: ls.PeerID()}
	return func(frame []byte) error { return s.send(h, addr, frame) }
}

// send encodes and queues one data message; a full queue drops it.
func (s *sender) send(h l2tp.Header, addr *net.UDPAddr, frame []byte) error {
	p := s.pool.Get().(*outPacket)
	b, err := l2tp.AppendHeader(p.buf[:0], h, len(frame))
	if err != nil {
		s.pool.Put(p)
		return err
	}
	p.buf, p.addr = append(b, frame...), addr
	select {
	case s.q <- p:
		return nil
	default:
		s.pool.Put(p)
		s.dropped.Add(1)
		return errQueueFull
	}
}

var errQueueFull = errors.New("lac: upstream send queue full")

// run drains the queue until ctx is done.
func (s *sender) run(ctx context.Context) {
	var (
		pkts [sendBatch]*outPacket
		msgs [sendBatch]ipv4.Message
		bufs [sendBatch][1][]byte
	)
	for {
		n := 0
		select {
		case <-ctx.Done():
			return
		case p := <-s.q:
			pkts[n] = p
			n++
		}
	fill:
		for n < sendBatch {
			select {
			case p := <-s.q:
				pkts[n] = p
				n++
			default:
				break fill
			}
		}
		for i := range n {
			bufs[i][0] = pkts[i].buf
			msgs[i] = ipv4.Message{Buffers: bufs[i][:], Addr: pkts[i].addr}
		}
		failed := 0
		for off := 0; off < n; {
			k, err := s.pc.WriteBatch(msgs[off:n], 0)
			if err != nil {
				// The message at off failed (a peer's ICMP error, say):
				// count it and go on with the next.
				failed++
				k++
			}
			off += k
		}
		s.errors.Add(uint64(failed))
		s.sent.Add(uint64(n - failed))
		for i := range n {
			pkts[i].buf = pkts[i].buf[:0]
			pkts[i].addr = nil
			s.pool.Put(pkts[i])
			pkts[i] = nil
			msgs[i] = ipv4.Message{}
		}
	}
}
