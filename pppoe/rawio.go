package pppoe

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is the number of frames one recvmmsg(2) call can return.
const batchSize = 64

// frameBufLen holds an Ethernet frame of MTU 1500 with two VLAN tags.
const frameBufLen = 1536

// auxLen is the control space for one PACKET_AUXDATA message.
var auxLen = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// batchReader reads up to batchSize frames per wake-up from an AF_PACKET
// socket with recvmmsg(2), each with the VLAN tag the kernel took off it
// (PACKET_AUXDATA): the kernel strips the 802.1Q tag of a received frame
// before packet sockets see it. Buffers are allocated once.
type batchReader struct {
	rc     syscall.RawConn
	bufs   [batchSize][frameBufLen]byte
	oob    []byte
	iovs   [batchSize]unix.Iovec
	hdrs   [batchSize]mmsghdr
	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool

	// After read: frame i is Frame(i), its VLAN ID (0 untagged) VLAN[i].
	lens [batchSize]int
	VLAN [batchSize]uint16
}

type syscallConn interface {
	SyscallConn() (syscall.RawConn, error)
}

// newBatchReader prepares c (which must be an AF_PACKET socket) for
// batched reads with auxiliary data.
func newBatchReader(c syscallConn) (*batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("pppoe: PACKET_AUXDATA: %w", serr)
	}
	r := &batchReader{rc: rc, oob: make([]byte, batchSize*auxLen)}
	for i := range r.hdrs {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(frameBufLen)
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.SetIovlen(1)
	}
	r.readFn = r.recv
	return r, nil
}

// recv is the RawConn read callback: false asks to wait for readiness.
func (r *batchReader) recv(fd uintptr) bool {
	for i := range r.hdrs {
		r.hdrs[i].hdr.Control = &r.oob[i*auxLen]
		r.hdrs[i].hdr.SetControllen(auxLen)
		r.hdrs[i].hdr.Flags = 0
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), batchSize, unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EWOULDBLOCK {
		return false
	}
	if e == unix.EINTR {
		return false
	}
	r.n, r.errno = int(n), e
	return true
}

// read blocks until at least one frame is available (or the read
// deadline passes) and returns how many were read.
func (r *batchReader) read() (int, error) {
	r.n, r.errno = 0, 0
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	for i := 0; i < r.n; i++ {
		h := &r.hdrs[i]
		r.lens[i] = min(int(h.len), frameBufLen)
		r.VLAN[i] = auxVLAN(r.oob[i*auxLen : i*auxLen+int(h.hdr.Controllen)])
	}
	return r.n, nil
}

// Frame returns frame i of the last read; it aliases the reader's buffer.
func (r *batchReader) Frame(i int) []byte { return r.bufs[i][:r.lens[i]] }

// auxVLAN finds the VLAN ID in a PACKET_AUXDATA control message.
func auxVLAN(oob []byte) uint16 {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA {
			data := oob[unix.CmsgLen(0):l]
			if len(data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
				return 0
			}
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&data[0]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID != 0 || aux.Vlan_tci != 0 {
				return aux.Vlan_tci & 0x0fff
			}
			return 0
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}

// isTimeout reports a read released by a deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EAGAIN)
}

// linkDown reports the error a packet socket returns once when its
// interface is set down (ENETDOWN, packet(7)): the socket receives again
// when the interface comes back up, so a reader carries on.
func linkDown(err error) bool { return errors.Is(err, syscall.ENETDOWN) }

// frameWriter sends whole Ethernet frames. On an AF_PACKET socket bound to
// its interface it uses write(2): the frame carries its destination, and
// no socket address is built per frame (packet.Conn.WriteTo allocates
// one). Other conns (tests) get WriteTo. Safe for concurrent use.
type frameWriter struct {
	conn frameConn
	rc   syscall.RawConn
	ops  sync.Pool
}

type writeOp struct {
	b     []byte
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

func (op *writeOp) write(fd uintptr) bool {
	_, err := unix.Write(int(fd), op.b)
	if err == unix.EAGAIN || err == unix.EINTR {
		return false
	}
	op.errno = 0
	if e, ok := err.(syscall.Errno); ok {
		op.errno = e
	}
	return true
}

func newFrameWriter(c frameConn) *frameWriter {
	w := &frameWriter{conn: c}
	if sc, ok := c.(syscallConn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.rc = rc
		}
	}
	w.ops.New = func() any {
		op := &writeOp{}
		op.fn = op.write
		return op
	}
	return w
}

// write sends frame; dst is used only by the WriteTo fallback.
func (w *frameWriter) write(frame []byte, dst MAC) error {
	if w.rc == nil {
		_, err := w.conn.WriteTo(frame, hwAddr(dst))
		return err
	}
	op := w.ops.Get().(*writeOp)
	op.b = frame
	err := w.rc.Write(op.fn)
	if err == nil && op.errno != 0 {
		err = op.errno
	}
	op.b = nil
	w.ops.Put(op)
	if err != nil {
		return fmt.Errorf("pppoe: write: %w", err)
	}
	return nil
}

// batchWriter stages up to batchSize frames and sends them with one
// sendmmsg(2) call on a raw socket bound to its interface.
type batchWriter struct {
	rc    syscall.RawConn
	bufs  [batchSize][frameBufLen]byte
	iovs  [batchSize]unix.Iovec
	hdrs  [batchSize]mmsghdr
	n     int // frames staged
	sent  int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

func newBatchWriter(rc syscall.RawConn) *batchWriter {
	w := &batchWriter{rc: rc}
	for i := range w.hdrs {
		w.iovs[i].Base = &w.bufs[i][0]
		w.hdrs[i].hdr.Iov = &w.iovs[i]
		w.hdrs[i].hdr.SetIovlen(1)
	}
	w.fn = w.send
	return w
}

// stage returns the buffer for the next frame (empty, with capacity), or
// nil when the batch is full.
func (w *batchWriter) stage() []byte {
	if w.n == batchSize {
		return nil
	}
	return w.bufs[w.n][:0]
}

// commit records the frame built in the staged buffer.
func (w *batchWriter) commit(frame []byte) {
	w.iovs[w.n].SetLen(len(frame))
	w.n++
}

func (w *batchWriter) send(fd uintptr) bool {
	for w.sent < w.n {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[w.sent])), uintptr(w.n-w.sent), 0, 0, 0)
		switch e {
		case 0:
			w.sent += int(n)
		case unix.EAGAIN, unix.EINTR:
			return false
		default:
			w.errno = e
			return true
		}
	}
	return true
}

// flush sends the staged frames; it returns how many went out.
func (w *batchWriter) flush() (int, error) {
	if w.n == 0 {
		return 0, nil
	}
	w.sent, w.errno = 0, 0
	err := w.rc.Write(w.fn)
	sent := w.sent
	w.n = 0
	if err == nil && w.errno != 0 {
		err = w.errno
	}
	if err != nil {
		return sent, fmt.Errorf("pppoe: sendmmsg: %w", err)
	}
	return sent, nil
}
