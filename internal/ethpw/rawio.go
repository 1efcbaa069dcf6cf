package ethpw

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"unsafe"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// The attachment interface's raw socket: every frame of the port, in and
// out, through one AF_PACKET socket in promiscuous mode (a pseudowire
// carries frames for any address). Frames are read in batches with
// recvmmsg(2) with the tag the kernel took off each (PACKET_AUXDATA), into
// buffers allocated once, each with room to put the tag back.

const (
	batchSize = 64
	// frameBufLen holds a jumbo frame of 9216 octets with two tags, and
	// the headroom of one tag.
	frameBufLen = tagLen + 9216 + 2*tagLen + ethHdrLen
	rcvBuf      = 4 << 20
)

var auxLen = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))

type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// openPort opens the raw socket of the attachment interface name.
func openPort(name string) (*packet.Conn, *net.Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, nil, fmt.Errorf("ethpw: %w", err)
	}
	c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("ethpw: %s: %w", name, err)
	}
	if err := c.SetPromiscuous(true); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("ethpw: %s: promiscuous mode: %w", name, err)
	}
	rc, err := c.SyscallConn()
	if err == nil {
		var serr error
		err = rc.Control(func(fd uintptr) {
			// Only what arrives: not the frames we send out of it.
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); serr != nil {
				return
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
			}
		})
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("ethpw: %s: socket options: %w", name, err)
	}
	return c, ifi, nil
}

// batchReader reads frames from a port's socket.
type batchReader struct {
	rc     syscall.RawConn
	bufs   [batchSize][frameBufLen]byte
	oob    []byte
	iovs   [batchSize]unix.Iovec
	hdrs   [batchSize]mmsghdr
	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool
}

func newBatchReader(c *packet.Conn) (*batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{rc: rc, oob: make([]byte, batchSize*auxLen)}
	for i := range r.hdrs {
		r.iovs[i].Base = &r.bufs[i][tagLen]
		r.iovs[i].SetLen(frameBufLen - tagLen)
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.SetIovlen(1)
	}
	r.readFn = r.recv
	return r, nil
}

func (r *batchReader) recv(fd uintptr) bool {
	for i := range r.hdrs {
		r.hdrs[i].hdr.Control = &r.oob[i*auxLen]
		r.hdrs[i].hdr.SetControllen(auxLen)
		r.hdrs[i].hdr.Flags = 0
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), batchSize, unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EWOULDBLOCK || e == unix.EINTR {
		return false
	}
	r.n, r.errno = int(n), e
	return true
}

// read blocks until frames arrive (or the deadline passes) and returns
// how many were read.
func (r *batchReader) read() (int, error) {
	r.n, r.errno = 0, 0
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	return r.n, nil
}

// frame returns frame i of the last read as it was on the wire: the tag
// the kernel took off is put back. It aliases the reader's buffer; a frame
// cut short by the buffer is reported as truncated.
func (r *batchReader) frame(i int) (frame []byte, truncated bool) {
	h := &r.hdrs[i]
	n := int(h.len)
	if n > frameBufLen-tagLen || h.hdr.Flags&unix.MSG_TRUNC != 0 {
		return nil, true
	}
	tpid, tci, ok := auxTag(r.oob[i*auxLen : i*auxLen+int(h.hdr.Controllen)])
	if !ok || n < macsLen {
		return r.bufs[i][tagLen : tagLen+n], false
	}
	return insertTag(r.bufs[i][:], n, tpid, tci), false
}

// auxTag finds the tag the kernel took off a frame in its PACKET_AUXDATA.
func auxTag(oob []byte) (tpid, tci uint16, ok bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0, 0, false
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA {
			data := oob[unix.CmsgLen(0):l]
			if len(data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
				return 0, 0, false
			}
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&data[0]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 && aux.Vlan_tci == 0 {
				return 0, 0, false
			}
			tpid = tpid8021Q
			if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && aux.Vlan_tpid != 0 {
				tpid = aux.Vlan_tpid
			}
			return tpid, aux.Vlan_tci, true
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0, 0, false
}

// frameWriter sends whole frames out of a port with write(2): the socket
// is bound to its interface and the frame carries its destination. Safe
// for concurrent use; nothing is allocated per frame.
type frameWriter struct {
	rc  syscall.RawConn
	ops sync.Pool
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

func newFrameWriter(c *packet.Conn) (*frameWriter, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &frameWriter{rc: rc}
	w.ops.New = func() any {
		op := &writeOp{}
		op.fn = op.write
		return op
	}
	return w, nil
}

func (w *frameWriter) write(frame []byte) error {
	op := w.ops.Get().(*writeOp)
	op.b = frame
	err := w.rc.Write(op.fn)
	if err == nil && op.errno != 0 {
		err = op.errno
	}
	op.b = nil
	w.ops.Put(op)
	return err
}

// isTimeout reports a read released by a deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EAGAIN)
}
