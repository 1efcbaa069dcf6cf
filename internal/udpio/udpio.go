package udpio

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/net/ipv4"
)

// ErrInvalid is returned for a batch or conn that cannot work.
var ErrInvalid = errors.New("udpio: invalid argument")

// Batch is a set of datagrams read or written in one system call. It is made
// once per worker and reused for every call: its messages, their one-element
// Buffers slices and (for NewBatch with size > 0) the fixed-size buffers
// behind them are never reallocated.
//
// For reading, Msgs[i].Buffers[0] is buffer i and, after ReadBatch, Msgs[i].N
// its length and Msgs[i].Addr the sender. For writing, the caller points
// Msgs[i].Buffers[0] at the datagram (a slice of any buffer it owns, so a
// header can be prepended in headroom without copying), sets Msgs[i].Addr
// (a *net.UDPAddr; nil on a connected socket) and Len.
type Batch struct {
	Msgs []ipv4.Message
	Len  int // messages in use, for writing

	bufs [][]byte
}

// NewBatch makes a batch of n messages. size > 0 also allocates n buffers of
// size bytes each for reading; size == 0 leaves the buffers to the caller.
func NewBatch(n, size int) *Batch {
	b := &Batch{Msgs: make([]ipv4.Message, n)}
	for i := range b.Msgs {
		b.Msgs[i].Buffers = make([][]byte, 1)
	}
	if size > 0 {
		b.bufs = make([][]byte, n)
		mem := make([]byte, n*size)
		for i := range b.bufs {
			b.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
			b.Msgs[i].Buffers[0] = b.bufs[i]
		}
	}
	return b
}

// Buf returns the full-size buffer i of a batch made with size > 0.
func (b *Batch) Buf(i int) []byte { return b.bufs[i] }

// Data returns datagram i of a batch just read: Buf(i)[:Msgs[i].N].
func (b *Batch) Data(i int) []byte { return b.Msgs[i].Buffers[0][:b.Msgs[i].N] }

// Conn is a UDP socket read and written in batches. Reads and writes may run
// concurrently with each other and with other users of the *net.UDPConn (the
// L2TP control channel shares the socket); a Batch belongs to one goroutine.
type Conn struct {
	pc *ipv4.PacketConn
}

// NewConn wraps c. It does not take ownership: closing c stops the Conn.
func NewConn(c *net.UDPConn) (*Conn, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil conn", ErrInvalid)
	}
	return &Conn{pc: ipv4.NewPacketConn(c)}, nil
}

// ReadBatch waits for at least one datagram and reads as many as are queued,
// up to len(b.Msgs), with one recvmmsg. It returns how many it read; the
// buffers of the batch are restored first, so a batch whose Buffers were
// pointed elsewhere for writing can be read into again. The sender address of
// every datagram is a fresh *net.UDPAddr (x/net allocates it).
func (c *Conn) ReadBatch(b *Batch) (int, error) {
	if b.bufs == nil {
		return 0, fmt.Errorf("%w: batch has no buffers to read into", ErrInvalid)
	}
	for i := range b.Msgs {
		b.Msgs[i].Buffers[0] = b.bufs[i]
	}
	n, err := c.pc.ReadBatch(b.Msgs, 0)
	if err != nil {
		return n, fmt.Errorf("udpio: read: %w", err)
	}
	return n, nil
}

// WriteBatch sends Msgs[:Len] with as few sendmmsg calls as the kernel
// allows (it may accept part of a batch) and returns how many were sent.
// It allocates nothing.
func (c *Conn) WriteBatch(b *Batch) (int, error) {
	if b.Len > len(b.Msgs) || b.Len < 0 {
		return 0, fmt.Errorf("%w: Len %d of %d messages", ErrInvalid, b.Len, len(b.Msgs))
	}
	sent := 0
	for sent < b.Len {
		n, err := c.pc.WriteBatch(b.Msgs[sent:b.Len], 0)
		sent += n
		if err != nil {
			return sent, fmt.Errorf("udpio: write: %w", err)
		}
		if n == 0 {
			return sent, fmt.Errorf("udpio: write: kernel accepted 0 of %d datagrams", b.Len-sent)
		}
	}
	return sent, nil
}
