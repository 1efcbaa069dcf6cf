package tun

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Sentinel errors, wrapped with the package prefix.
var (
	// ErrClosed is returned by the I/O of a queue that has been closed.
	ErrClosed = errors.New("tun: queue closed")
	// ErrInvalid is returned for arguments that cannot work (no queue, a
	// name too long for an interface, offsets outside the buffer).
	ErrInvalid = errors.New("tun: invalid argument")
)

// Device is an open TUN interface and its queues.
type Device struct {
	name   string
	queues []*Queue
}

// Open creates (or attaches to) the TUN interface name with n queues. n > 1
// sets IFF_MULTI_QUEUE; every queue gets its own descriptor so that each
// worker reads and writes without sharing one. A name ending in "%d" lets the
// kernel pick the number; Name reports the result. The interface lives in the
// network namespace of the calling thread (see testenv's (*Netns).Do) and
// disappears when the last queue is closed (it is not made persistent).
func Open(name string, n int) (*Device, error) {
	if n < 1 || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("%w: name %q, %d queues", ErrInvalid, name, n)
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if n > 1 {
		flags |= unix.IFF_MULTI_QUEUE
	}
	d := &Device{name: name}
	for i := 0; i < n; i++ {
		q, got, err := openQueue(d.name, flags)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.name = got
		d.queues = append(d.queues, q)
	}
	return d, nil
}

func openQueue(name string, flags uint16) (*Queue, string, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("tun: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("tun: %s: %w", name, err)
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("tun: TUNSETIFF %s: %w", name, err)
	}
	// The descriptor is nonblocking, so os.NewFile registers it with the
	// runtime poller and deadlines work.
	q, err := newQueue(os.NewFile(uintptr(fd), "/dev/net/tun:"+ifr.Name()))
	if err != nil {
		return nil, "", err
	}
	return q, ifr.Name(), nil
}

// Name is the interface name the kernel gave the device.
func (d *Device) Name() string { return d.name }

// Queues returns the device's queues, one per worker.
func (d *Device) Queues() []*Queue { return d.queues }

// Close closes every queue; the interface goes away with the last one.
func (d *Device) Close() error {
	var errs []error
	for _, q := range d.queues {
		if err := q.Close(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Queue is one descriptor of a TUN device. ReadBatch and WriteBatch may run
// at the same time on different goroutines, but each of them must not be
// called concurrently with itself: a queue belongs to one reading worker and
// one writing worker.
type Queue struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool

	// Read state, used by the callback given to rc.Read. The callback is a
	// method value bound once in newQueue, so a call allocates nothing.
	rbufs  [][]byte
	rsizes []int
	roff   int
	rn     int
	rerr   error
	readFn func(uintptr) bool

	// Write state, the same for rc.Write.
	wbufs   [][]byte
	woff    int
	wn      int // next index
	wok     int // accepted
	werr    error
	writeFn func(uintptr) bool
}

func newQueue(f *os.File) (*Queue, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("tun: %w", err)
	}
	q := &Queue{f: f, rc: rc}
	q.readFn = q.readCallback
	q.writeFn = q.writeCallback
	return q, nil
}

// ReadBatch reads up to len(bufs) packets, waiting for the first one and then
// taking what is already queued without waiting again: one poller wake-up
// serves several packets. Packet i is written to bufs[i][offset:] (the room
// before offset is headroom for the caller's encapsulation headers) and its
// length stored in sizes[i]. It returns the number of packets read; a packet
// longer than its buffer is truncated by the kernel, so buffers must hold the
// device MTU. An error is returned only when no packet was read.
func (q *Queue) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 || len(sizes) < len(bufs) {
		return 0, fmt.Errorf("%w: %d buffers, %d sizes", ErrInvalid, len(bufs), len(sizes))
	}
	q.rbufs, q.rsizes, q.roff, q.rn, q.rerr = bufs, sizes, offset, 0, nil
	err := q.rc.Read(q.readFn)
	n, rerr := q.rn, q.rerr
	q.rbufs, q.rsizes = nil, nil
	if n > 0 {
		return n, nil
	}
	if err != nil {
		return 0, q.wrapErr("read", err)
	}
	if rerr != nil {
		return 0, q.wrapErr("read", rerr)
	}
	return 0, nil
}

func (q *Queue) readCallback(fd uintptr) bool {
	for q.rn < len(q.rbufs) {
		b := q.rbufs[q.rn]
		if q.roff < 0 || q.roff >= len(b) {
			q.rerr = fmt.Errorf("%w: offset %d in a %d-byte buffer", ErrInvalid, q.roff, len(b))
			return true
		}
		n, err := unix.Read(int(fd), b[q.roff:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			// Nothing (more) queued: wait for the poller only if
			// nothing was read yet.
			return q.rn > 0
		case err != nil:
			q.rerr = err
			return true
		}
		q.rsizes[q.rn] = n
		q.rn++
	}
	return true
}

// WriteBatch writes every bufs[i][offset:] as one packet, all within one
// poller round, and returns how many the kernel accepted. A packet the kernel
// refuses (EINVAL: not an IP packet, too long) is skipped so that it does not
// stall the ones behind it; the last such error is returned after the rest
// have been tried.
func (q *Queue) WriteBatch(bufs [][]byte, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	q.wbufs, q.woff, q.wn, q.wok, q.werr = bufs, offset, 0, 0, nil
	err := q.rc.Write(q.writeFn)
	n, werr := q.wok, q.werr
	q.wbufs = nil
	if err != nil {
		return n, q.wrapErr("write", err)
	}
	if werr != nil {
		return n, q.wrapErr("write", werr)
	}
	return n, nil
}

func (q *Queue) writeCallback(fd uintptr) bool {
	for q.wn < len(q.wbufs) {
		b := q.wbufs[q.wn]
		if q.woff < 0 || q.woff > len(b) {
			q.werr = fmt.Errorf("%w: offset %d in a %d-byte buffer", ErrInvalid, q.woff, len(b))
			q.wn++
			continue
		}
		_, err := unix.Write(int(fd), b[q.woff:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			// The device queue is full: wait for it to drain.
			return false
		case err != nil:
			q.werr = err
		default:
			q.wok++
		}
		q.wn++
	}
	return true
}

// SetReadDeadline releases a blocked ReadBatch at t (a time in the past
// releases it at once); this is how a worker stops on context cancellation.
func (q *Queue) SetReadDeadline(t time.Time) error { return q.f.SetReadDeadline(t) }

// Close closes the queue's descriptor and releases blocked calls.
func (q *Queue) Close() error {
	q.closed.Store(true)
	if err := q.f.Close(); err != nil {
		return q.wrapErr("close", err)
	}
	return nil
}

func (q *Queue) wrapErr(op string, err error) error {
	if q.closed.Load() || errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("tun: %s: %w", op, ErrClosed)
	}
	return fmt.Errorf("tun: %s: %w", op, err)
}
