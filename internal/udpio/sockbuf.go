package udpio

import (
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultBuffer is the receive and send buffer of an L2TP socket when the
// configuration names none. The kernel's default (net.core.rmem_default,
// 208 KiB on most systems) overflows in a burst of a few thousand call
// set-ups, and every datagram lost there is a control retransmission or a
// PPP renegotiation later.
const DefaultBuffer = 4 << 20

// CheckBuffer refuses a configured buffer size that is no use: below 64
// KiB (less than the kernel's default) or above 1 GiB.
func CheckBuffer(n int) error {
	const lo, hi = 64 << 10, 1 << 30
	if n < lo || n > hi {
		return fmt.Errorf("%d bytes is out of range %d-%d", n, lo, hi)
	}
	return nil
}

// Buffers are the sizes of a socket's receive and send buffers in bytes,
// as asked of the kernel or as it granted them.
type Buffers struct {
	Receive, Send int
}

// SetBuffers asks the kernel for the receive and send buffers of c (0
// leaves one as it is) and returns what it granted. It tries
// SO_RCVBUFFORCE and SO_SNDBUFFORCE first, which a process with
// CAP_NET_ADMIN may raise past net.core.rmem_max and wmem_max, then the
// plain SO_RCVBUF and SO_SNDBUF, which the kernel silently caps at those
// limits (socket(7)): the caller compares granted with asked.
func SetBuffers(c syscall.Conn, want Buffers) (Buffers, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Buffers{}, fmt.Errorf("udpio: %w", err)
	}
	var got Buffers
	var serr error
	err = rc.Control(func(fd uintptr) {
		if want.Receive > 0 {
			serr = setBuf(int(fd), unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, want.Receive)
		}
		if serr == nil && want.Send > 0 {
			serr = setBuf(int(fd), unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, want.Send)
		}
		if serr == nil {
			got, serr = getBufs(int(fd))
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return Buffers{}, fmt.Errorf("udpio: socket buffers: %w", err)
	}
	return got, nil
}

// GetBuffers returns the receive and send buffers the kernel gives c.
func GetBuffers(c syscall.Conn) (Buffers, error) {
	return SetBuffers(c, Buffers{})
}

func setBuf(fd, force, plain, n int) error {
	err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, n)
	if errors.Is(err, unix.EPERM) {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, n)
	}
	return err
}

// getBufs reads SO_RCVBUF and SO_SNDBUF. Linux doubles the value set, to
// allow for its bookkeeping, and reports the doubled value (socket(7)):
// halved here, it compares with what was asked.
func getBufs(fd int) (Buffers, error) {
	r, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return Buffers{}, err
	}
	s, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return Buffers{}, err
	}
	return Buffers{Receive: r / 2, Send: s / 2}, nil
}

// Drops returns how many datagrams the kernel dropped for c because its
// receive buffer was full (or, rarely, a checksum or filter refused them):
// the socket's sk_drops, the "drops" column of /proc/net/udp, read with
// SO_MEMINFO (Linux 4.6) so that neither the batch reader's recvmmsg nor
// the readers that share the socket need SO_RXQ_OVFL ancillary data.
func Drops(c syscall.Conn) (uint64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("udpio: %w", err)
	}
	var mem [unix.SK_MEMINFO_VARS]uint32
	var serr error
	err = rc.Control(func(fd uintptr) {
		n := uint32(unsafe.Sizeof(mem))
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&n)), 0)
		if errno != 0 {
			serr = errno
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("udpio: SO_MEMINFO: %w", err)
	}
	return uint64(mem[unix.SK_MEMINFO_DROPS]), nil
}

// LogBuffers logs the buffers granted for a socket, with a warning when
// the kernel gave less than asked: a process without CAP_NET_ADMIN is held
// to net.core.rmem_max and wmem_max.
func LogBuffers(log *slog.Logger, socket string, want, got Buffers) {
	args := []any{"socket", socket, "receive", got.Receive, "send", got.Send}
	if got.Receive < want.Receive || got.Send < want.Send {
		log.Warn("UDP socket buffers smaller than configured: raise net.core.rmem_max and wmem_max or run with CAP_NET_ADMIN",
			append(args, "want_receive", want.Receive, "want_send", want.Send)...)
		return
	}
	log.Info("UDP socket buffers", args...)
}
