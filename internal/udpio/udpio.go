package udpio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
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

	ws *writeState // sendmmsg state
}

// NewBatch makes a batch of n messages. size > 0 also allocates n buffers of
// size bytes each for reading; size == 0 leaves the buffers to the caller.
func NewBatch(n, size int) *Batch {
	b := &Batch{Msgs: make([]ipv4.Message, n), ws: newWriteState(n)}
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
	rc     syscall.RawConn
	family int // AF_INET or AF_INET6, for the destination addresses

	gsoOff       atomic.Bool   // UDP_SEGMENT refused with EIO, or DisableGSO
	gsoFallbacks atomic.Uint64 // GSO messages the kernel refused, resent singly
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
	var family int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		family, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil {
		return nil, fmt.Errorf("udpio: %w", err)
	}
	if serr != nil {
		return nil, fmt.Errorf("udpio: SO_DOMAIN: %w", serr)
	}
	return &Conn{rc: rc, family: family}, nil
}

// DisableGSO makes WriteBatch send every datagram on its own (no
// UDP_SEGMENT), as it does after the kernel refused GSO with EIO.
func (c *Conn) DisableGSO() { c.gsoOff.Store(true) }

// GSO reports whether WriteBatch still uses UDP GSO.
func (c *Conn) GSO() bool { return !c.gsoOff.Load() }

// GSOFallbacks is how many GSO messages the kernel refused; their
// datagrams were sent again one by one.
func (c *Conn) GSOFallbacks() uint64 { return c.gsoFallbacks.Load() }

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

// WriteBatch sends Msgs[:Len] (Msgs[i].Buffers[0] each) with as few
// sendmmsg(2) calls as the kernel allows and returns how many were sent.
// Consecutive datagrams to one address go out as one UDP GSO message
// (UDP_SEGMENT) when they are all as long as the first except the last,
// which may be shorter: the receiver gets the same datagrams. A GSO message
// the kernel refuses is sent again datagram by datagram (after EIO, GSO
// stays off for the conn). A datagram the kernel refuses is skipped; the
// first error is returned with the count of those sent. It allocates
// nothing.
func (c *Conn) WriteBatch(b *Batch) (int, error) {
	if b.Len > len(b.Msgs) || b.Len < 0 {
		return 0, fmt.Errorf("%w: Len %d of %d messages", ErrInvalid, b.Len, len(b.Msgs))
	}
	if b.Len == 0 {
		return 0, nil
	}
	w := b.ws
	if !w.build(b, !c.gsoOff.Load(), c.family) {
		return 0, fmt.Errorf("%w: destination address not for this socket", ErrInvalid)
	}
	w.c, w.sent, w.failed, w.errno = c, 0, 0, 0
	err := c.rc.Write(w.fn)
	w.c = nil
	if err != nil {
		return w.sent, fmt.Errorf("udpio: write: %w", err)
	}
	if w.errno != 0 {
		return w.sent, fmt.Errorf("udpio: write: %d of %d datagrams refused: %w", w.failed, b.Len, w.errno)
	}
	return w.sent, nil
}

// MessageWriter is what WriteMessages sends with: an ipv4.PacketConn or
// ipv6.PacketConn of golang.org/x/net, on any datagram socket (the raw
// socket of L2TPv3 over IP, which has no UDP GSO for Conn to use).
type MessageWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// WriteMessages sends msgs with sendmmsg(2) until every one went or was
// refused: as Conn.WriteBatch, a message the kernel refuses is skipped
// and the first error returned with the count of those sent.
func WriteMessages(w MessageWriter, msgs []ipv4.Message) (int, error) {
	sent := 0
	var first error
	for i := 0; i < len(msgs); {
		n, err := w.WriteBatch(msgs[i:], 0)
		sent += n
		i += n
		switch {
		case err != nil:
			if first == nil {
				first = fmt.Errorf("udpio: write: %w", err)
			}
			i++ // the message refused
		case n == 0:
			return sent, first
		}
	}
	return sent, first
}
