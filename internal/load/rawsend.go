package load

import (
	"encoding/binary"
	"fmt"
	"net"
	"unsafe"

	"github.com/bras-project/bras/pppoe"
	"golang.org/x/sys/unix"
)

// rawSender sends whole PPPoE session frames (RFC 2516 section 6) in
// batches, one sendmmsg per batch, on an AF_PACKET socket of its own that
// receives nothing (protocol 0). The flood senders use it so that the
// emulator is not the bottleneck of a forwarding benchmark.
type rawSender struct {
	fd int
}

func openRawSender(ifname string) (*rawSender, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("load: raw sender: %w", err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("load: raw sender: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("load: raw sender: bind %s: %w", ifname, err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	return &rawSender{fd: fd}, nil
}

func (r *rawSender) close() { unix.Close(r.fd) }

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// frameBatch holds up to len(bufs) frames built in place and sent with one
// system call; it is made once per sender and reused.
type frameBatch struct {
	bufs  [][]byte
	iov   []unix.Iovec
	msgs  []mmsghdr
	count int
}

func newFrameBatch(n, size int) *frameBatch {
	b := &frameBatch{bufs: make([][]byte, n), iov: make([]unix.Iovec, n), msgs: make([]mmsghdr, n)}
	mem := make([]byte, n*size)
	for i := range b.bufs {
		b.bufs[i] = mem[i*size : i*size : (i+1)*size]
	}
	return b
}

// appendFrame adds the Ethernet and PPPoE session headers for cs (which
// must be untagged) and the PPP frame ppp to the batch.
func (b *frameBatch) appendFrame(cs *pppoe.ClientSession, ppp []byte) error {
	f := b.bufs[b.count][:0]
	f = append(f, cs.ACMAC[:]...)
	f = append(f, cs.MAC[:]...)
	f = binary.BigEndian.AppendUint16(f, uint16(pppoe.EtherTypeSession))
	f, err := pppoe.AppendSession(f, cs.ID, ppp)
	if err != nil {
		return err
	}
	b.bufs[b.count] = f
	b.count++
	return nil
}

func (b *frameBatch) full() bool { return b.count == len(b.bufs) }

// flush sends the batch and returns how many frames the kernel took.
func (r *rawSender) flush(b *frameBatch) (int, error) {
	for i := 0; i < b.count; i++ {
		b.iov[i].Base = unsafe.SliceData(b.bufs[i])
		b.iov[i].SetLen(len(b.bufs[i]))
		b.msgs[i].hdr = unix.Msghdr{Iov: &b.iov[i]}
		b.msgs[i].hdr.SetIovlen(1)
	}
	sent := 0
	for sent < b.count {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&b.msgs[sent])), uintptr(b.count-sent), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			b.count = 0
			return sent, fmt.Errorf("load: sendmmsg: %w", errno)
		}
		sent += int(n)
	}
	b.count = 0
	return sent, nil
}
