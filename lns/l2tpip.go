package lns

import (
	"net"
	"sync"

	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// This file holds L2TPv3 straight over IP protocol 115 (RFC 3931 section
// 4.1.1) at the LNS: [lns] listen-ip opens a raw socket next to the UDP
// one, served by a second l2tp.Endpoint with the same handler and
// counters. Its sessions' flows carry a *net.IPAddr, and their downstream
// data messages leave from the raw socket.

// ipSplitWriter is the data plane's BatchWriter when the LNS takes L2TPv3
// over IP: a batch bound to UDP only goes out as before (sendmmsg, UDP
// GSO); the messages of one bound to a *net.IPAddr go out of the raw
// socket with one sendmmsg, and the UDP ones that shared their batch after
// them.
type ipSplitWriter struct {
	udp     BatchWriter
	ip      udpio.MessageWriter
	scratch sync.Pool // *[]ipv4.Message
}

func newIPSplitWriter(udp BatchWriter, c *net.IPConn) *ipSplitWriter {
	w := &ipSplitWriter{udp: udp}
	if a, ok := c.LocalAddr().(*net.IPAddr); ok && a.IP.To4() == nil && a.IP != nil {
		w.ip = ipv6.NewPacketConn(c)
	} else {
		w.ip = ipv4.NewPacketConn(c)
	}
	w.scratch.New = func() any { m := make([]ipv4.Message, 0, 64); return &m }
	return w
}

func overIP(a net.Addr) bool { _, ok := a.(*net.IPAddr); return ok }

// WriteBatch implements BatchWriter. It returns how many messages of b
// were sent, the first error of either socket, and leaves b as it was
// given (its Len and, in order, its messages).
func (w *ipSplitWriter) WriteBatch(b *udpio.Batch) (int, error) {
	msgs := b.Msgs[:b.Len]
	nIP := 0
	for i := range msgs {
		if overIP(msgs[i].Addr) {
			nIP++
		}
	}
	if nIP == 0 {
		return w.udp.WriteBatch(b)
	}
	sp := w.scratch.Get().(*[]ipv4.Message)
	buf := (*sp)[:0]
	for _, m := range msgs {
		if overIP(m.Addr) {
			buf = append(buf, ipv4.Message{Buffers: m.Buffers, Addr: m.Addr})
		}
	}
	sent, first := udpio.WriteMessages(w.ip, buf)
	if nIP < len(msgs) {
		// The UDP messages, in order, to the front of b for the UDP
		// writer; b's messages are put back after.
		buf = append(buf[:0], msgs...)
		k := 0
		for _, m := range buf {
			if !overIP(m.Addr) {
				msgs[k] = m
				k++
			}
		}
		b.Len = k
		n, err := w.udp.WriteBatch(b)
		b.Len = len(buf)
		copy(msgs, buf)
		sent += n
		if first == nil {
			first = err
		}
	}
	clear(buf)
	*sp = buf[:0]
	w.scratch.Put(sp)
	return sent, first
}

// endpoints are the LNS's L2TP endpoints: UDP, then IP when configured.
func (s *Server) endpoints() []*l2tp.Endpoint {
	if s.epIP != nil {
		return []*l2tp.Endpoint{s.ep, s.epIP}
	}
	return []*l2tp.Endpoint{s.ep}
}

// tunnels are the tunnels of every endpoint.
func (s *Server) tunnels() []*l2tp.Tunnel {
	t := s.ep.Tunnels()
	if s.epIP != nil {
		t = append(t, s.epIP.Tunnels()...)
	}
	return t
}
