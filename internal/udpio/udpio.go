package udpio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// ErrInvalid is returned for a batch or conn that cannot work.
var ErrInvalid = errors.New("udpio: invalid argument")

// Batch is a set of datagrams read or written in one system call. It is made
// once per worker and reused for every call: its messages, their one-element
// Buffers slices and (for NewBatch with size > 0) the fixed-size buffers
// behind them are never reallocated.
//
// For reading, Msgs[i].Buffers[0] is buffer i and, after ReadBatch, Msgs[i].N
// its length and Msgs[i].Addr the sender (a *net.UDPAddr owned by the batch
// and overwritten by the next read). For writing, the caller points
// Msgs[i].Buffers[0] at the datagram (a slice of any buffer it owns, so a
// header can be prepended in headroom without copying), sets Msgs[i].Addr
// (a *net.UDPAddr; nil on a connected socket) and Len.
type Batch struct {
	Msgs []ipv4.Message
	Len  int // messages in use, for writing

	bufs [][]byte

	// recvmmsg state (NewBatch with size > 0), reused by every read.
	hdrs   []unix.Mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrInet6
	addrs  []net.UDPAddr
	ips    [][16]byte
	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool // b.recvmmsg, bound once
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
		b.hdrs = make([]unix.Mmsghdr, n)
		b.iovs = make([]unix.Iovec, n)
		b.names = make([]unix.RawSockaddrInet6, n)
		b.addrs = make([]net.UDPAddr, n)
		b.ips = make([][16]byte, n)
		b.readFn = b.recvmmsg
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
	rc syscall.RawConn
}

// NewConn wraps c. It does not take ownership: closing c stops the Conn.
func NewConn(c *net.UDPConn) (*Conn, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil conn", ErrInvalid)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udpio: %w", err)
	}
	return &Conn{pc: ipv4.NewPacketConn(c), rc: rc}, nil
}

// ReadBatch waits for at least one datagram and reads as many as are queued,
// up to len(b.Msgs), with one recvmmsg(2) through the runtime poller (so a
// read deadline on the socket releases it). It returns how many it read:
// Msgs[i].N is the length of datagram i in Buf(i), Msgs[i].Addr its sender
// and Msgs[i].Flags the recvmsg flags (MSG_TRUNC for a datagram longer than
// the buffer). It allocates nothing: the sender addresses are *net.UDPAddr
// values owned by the batch and overwritten by the next ReadBatch (copy
// what is kept, e.g. with AddrPort). The buffers of the batch are restored
// first, so a batch whose Buffers were pointed elsewhere for writing can be
// read into again.
func (c *Conn) ReadBatch(b *Batch) (int, error) {
	if b.bufs == nil {
		return 0, fmt.Errorf("%w: batch has no buffers to read into", ErrInvalid)
	}
	for i := range b.Msgs {
		b.Msgs[i].Buffers[0] = b.bufs[i]
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
		h.Flags = 0
		b.hdrs[i].Len = 0
	}
	b.n, b.errno = 0, 0
	if err := c.rc.Read(b.readFn); err != nil {
		return 0, fmt.Errorf("udpio: read: %w", err)
	}
	if b.errno != 0 {
		return 0, fmt.Errorf("udpio: read: %w", b.errno)
	}
	for i := 0; i < b.n; i++ {
		m := &b.Msgs[i]
		m.N = int(b.hdrs[i].Len)
		m.NN = 0
		m.Flags = int(b.hdrs[i].Hdr.Flags)
		m.Addr = b.sender(i)
	}
	return b.n, nil
}

// recvmmsg is the poller callback of ReadBatch: false asks the poller to
// wait for the socket to become readable.
func (b *Batch) recvmmsg(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])),
			uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			b.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			b.errno = errno
			return true
		}
	}
}

// sender decodes the source address of datagram i (struct sockaddr_in or
// sockaddr_in6, port and address in network byte order) into the batch's
// own *net.UDPAddr; nil for another family.
func (b *Batch) sender(i int) net.Addr {
	sa := &b.names[i]
	a := &b.addrs[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		ip := b.ips[i][:4]
		copy(ip, sa4.Addr[:])
		a.IP, a.Zone = ip, ""
		a.Port = int(binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:]))
	case unix.AF_INET6:
		ip := b.ips[i][:16]
		copy(ip, sa.Addr[:])
		a.IP, a.Zone = ip, ""
		a.Port = int(binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:]))
	default:
		return nil
	}
	return a
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
