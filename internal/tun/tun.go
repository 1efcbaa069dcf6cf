package tun

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
	name    string
	queues  []*Queue
	offload Offload
}

// Options are the optional features of Open.
type Options struct {
	// Offload asks for IFF_VNET_HDR with checksum and segmentation
	// offloads (TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, and TUN_F_USO4,
	// TUN_F_USO6 where the kernel has them, Linux 6.2): the kernel then
	// hands over TCP (and UDP) super-packets of up to 64 KiB, which
	// ReadBatch splits into packets, and WriteBatch coalesces runs of
	// segments of one flow into such super-packets (see Splitter and
	// Coalescer). A kernel that refuses TSO leaves the device without
	// offloads (Device.Offload tells).
	Offload bool
}

// Offload says which offloads a device got.
type Offload struct {
	TSO bool // TCP segmentation both ways (IFF_VNET_HDR, TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6)
	USO bool // UDP segmentation as well (TUN_F_USO4|TUN_F_USO6)
}

// TUN offload flags of TUNSETOFFLOAD (linux/if_tun.h).
const (
	tunFCSUM = 0x01
	tunFTSO4 = 0x02
	tunFTSO6 = 0x04
	tunFUSO4 = 0x20
	tunFUSO6 = 0x40
)

// maxRead is the read buffer of a queue with offloads: the virtio_net_hdr
// and the largest super-packet (the device's default GSO limit, 64 KiB).
const maxRead = VnetHdrLen + 65536

// Open creates (or attaches to) the TUN interface name with n queues. n > 1
// sets IFF_MULTI_QUEUE; every queue gets its own descriptor so that each
// worker reads and writes without sharing one. A name ending in "%d" lets the
// kernel pick the number; Name reports the result. The interface lives in the
// network namespace of the calling thread (see testenv's (*Netns).Do) and
// disappears when the last queue is closed (it is not made persistent).
func Open(name string, n int) (*Device, error) {
	return OpenWith(name, n, Options{})
}

// OpenWith is Open with options. With Options.Offload it falls back to a
// device without offloads when the kernel refuses them.
func OpenWith(name string, n int, o Options) (*Device, error) {
	if n < 1 || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("%w: name %q, %d queues", ErrInvalid, name, n)
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if n > 1 {
		flags |= unix.IFF_MULTI_QUEUE
	}
	if o.Offload {
		d, err := open(name, n, flags|unix.IFF_VNET_HDR)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, errNoOffload) {
			return nil, err
		}
	}
	return open(name, n, flags)
}

// errNoOffload: the kernel refused IFF_VNET_HDR or TSO.
var errNoOffload = errors.New("tun: offloads refused")

func open(name string, n int, flags uint16) (*Device, error) {
	d := &Device{name: name}
	for i := 0; i < n; i++ {
		q, got, err := openQueue(d.name, flags)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.name = got
		d.queues = append(d.queues, q)
		if flags&unix.IFF_VNET_HDR == 0 || i > 0 {
			continue
		}
		// The offloads are the device's: set them once.
		if d.offload, err = setOffload(q); err != nil {
			d.Close()
			return nil, err
		}
	}
	for _, q := range d.queues {
		q.setOffload(d.offload)
	}
	return d, nil
}

// setOffload sets the virtio_net_hdr size and the offloads on the device of
// q: TSO, and USO where the kernel knows it.
func setOffload(q *Queue) (Offload, error) {
	var o Offload
	var ioErr error
	err := q.rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TUNSETVNETHDRSZ, VnetHdrLen); ioErr != nil {
			return
		}
		tso := tunFCSUM | tunFTSO4 | tunFTSO6
		if unix.IoctlSetInt(int(fd), unix.TUNSETOFFLOAD, tso|tunFUSO4|tunFUSO6) == nil {
			o = Offload{TSO: true, USO: true}
			return
		}
		if ioErr = unix.IoctlSetInt(int(fd), unix.TUNSETOFFLOAD, tso); ioErr == nil {
			o = Offload{TSO: true}
		}
	})
	if err == nil && ioErr != nil {
		err = fmt.Errorf("%w: %w", errNoOffload, ioErr)
	}
	return o, err
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

// Offload returns the offloads the device got (none without
// Options.Offload or when the kernel refused them).
func (d *Device) Offload() Offload { return d.offload }

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

	// With offloads (vnet set): the read buffer and the super-packet being
	// split, kept across calls when it has more segments than buffers;
	// the write plan, the current group and the iovecs of one writev.
	vnet    bool
	rbig    []byte
	split   Splitter
	splitOn bool
	coal    Coalescer
	wgroups []Group
	wg      int // next group
	wsingle int // > 0: packets of group wg left to write one by one (the kernel refused it whole)
	whdr    [VnetHdrLen]byte
	wzero   [VnetHdrLen]byte
	iov     []unix.Iovec
	stats   queueStats
}

// QueueStats are the offload counters of a queue.
type QueueStats struct {
	GSOReads   uint64 // super-packets read (GSO type other than none)
	Segments   uint64 // packets split out of them
	TooBig     uint64 // split packets dropped: longer than the caller's buffer
	Malformed  uint64 // reads dropped: the virtio_net_hdr and the packet disagree
	GSOWrites  uint64 // super-packets written
	Coalesced  uint64 // packets written inside them
	GSORefused uint64 // super-packets the kernel refused, then written packet by packet
}

type queueStats struct {
	gsoReads, segments, tooBig, malformed atomic.Uint64
	gsoWrites, coalesced, refused         atomic.Uint64
}

// Stats returns the queue's offload counters.
func (q *Queue) Stats() QueueStats {
	s := &q.stats
	return QueueStats{
		GSOReads: s.gsoReads.Load(), Segments: s.segments.Load(), TooBig: s.tooBig.Load(), Malformed: s.malformed.Load(),
		GSOWrites: s.gsoWrites.Load(), Coalesced: s.coalesced.Load(), GSORefused: s.refused.Load(),
	}
}

func (q *Queue) setOffload(o Offload) {
	if !o.TSO {
		return
	}
	q.vnet = true
	q.rbig = make([]byte, maxRead)
	q.coal = Coalescer{TSO: o.TSO, USO: o.USO}
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
	var err error
	if q.vnet && q.drain() {
		// The rest of a super-packet filled every buffer.
	} else {
		err = q.rc.Read(q.readFn)
	}
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
	if q.vnet {
		return q.readVnet(fd)
	}
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

// readVnet is readCallback with offloads: every read is split into the
// buffers, and a super-packet with more segments than buffers left is kept
// for the next ReadBatch.
func (q *Queue) readVnet(fd uintptr) bool {
	for {
		if q.roff < 0 || q.roff >= len(q.rbufs[q.rn]) {
			q.rerr = fmt.Errorf("%w: offset %d in a %d-byte buffer", ErrInvalid, q.roff, len(q.rbufs[q.rn]))
			return true
		}
		if q.drain() {
			return true
		}
		n, err := unix.Read(int(fd), q.rbig)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return q.rn > 0
		case err != nil:
			q.rerr = err
			return true
		}
		h, err := ParseVnetHdr(q.rbig[:n])
		if err == nil {
			err = q.split.Reset(h, q.rbig[VnetHdrLen:n])
		}
		if err != nil {
			q.stats.malformed.Add(1)
			continue
		}
		if h.GSOType != GSONone {
			q.stats.gsoReads.Add(1)
		}
		q.splitOn = h.GSOType != GSONone
		if !q.splitOn {
			// A single packet: into the caller's buffer at once.
			if n, err := q.split.Next(q.rbufs[q.rn][q.roff:]); err != nil {
				q.stats.tooBig.Add(1)
			} else {
				q.rsizes[q.rn] = n
				q.rn++
			}
		}
		if q.rn == len(q.rbufs) {
			return true
		}
	}
}

// drain writes the segments left of the super-packet being split into the
// buffers left; it reports whether the buffers are full.
func (q *Queue) drain() bool {
	var segs, big uint64
	for q.splitOn && q.rn < len(q.rbufs) {
		b := q.rbufs[q.rn]
		if q.roff < 0 || q.roff >= len(b) {
			break
		}
		n, err := q.split.Next(b[q.roff:])
		switch {
		case err == io.EOF:
			q.splitOn = false
		case err != nil:
			big++
		default:
			q.rsizes[q.rn] = n
			q.rn++
			segs++
		}
	}
	if segs > 0 {
		q.stats.segments.Add(segs)
	}
	if big > 0 {
		q.stats.tooBig.Add(big)
	}
	return q.rn == len(q.rbufs)
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
	if q.vnet {
		for _, b := range bufs {
			if offset < 0 || offset > len(b) {
				return 0, fmt.Errorf("%w: offset %d in a %d-byte buffer", ErrInvalid, offset, len(b))
			}
		}
		q.wgroups, q.wg, q.wsingle = q.coal.Plan(bufs, offset), 0, 0
	}
	err := q.rc.Write(q.writeFn)
	if q.vnet {
		// Heads of groups not written (a closed queue) keep the
		// rewritten headers: the caller drops them anyway.
		q.wgroups = nil
	}
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
	if q.vnet {
		return q.writeVnet(fd)
	}
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

// writeVnet is writeCallback with offloads: one writev per planned group,
// the virtio_net_hdr, the first packet, then the payloads of the others (no
// copy). A group the kernel refuses is written again packet by packet.
func (q *Queue) writeVnet(fd uintptr) bool {
	for q.wg < len(q.wgroups) {
		g := &q.wgroups[q.wg]
		iov := q.iov[:0]
		var k int // packets in this write
		if q.wsingle > 0 || g.N == 1 {
			i := g.First + g.N - max(q.wsingle, 1)
			iov = appendIov(iov, q.wzero[:])
			iov = appendIov(iov, q.wbufs[i][q.woff:])
			k = 1
		} else {
			g.Hdr.put(q.whdr[:])
			iov = appendIov(iov, q.whdr[:])
			iov = appendIov(iov, q.wbufs[g.First][q.woff:])
			for i := g.First + 1; i < g.First+g.N; i++ {
				iov = appendIov(iov, q.wbufs[i][q.woff+int(g.Hdr.HdrLen):])
			}
			k = g.N
		}
		q.iov = iov
		err := writev(fd, iov)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil && k > 1:
			// Refused whole (EINVAL): the packets go one by one.
			q.stats.refused.Add(1)
			g.Undo(q.wbufs, q.woff)
			q.wsingle = g.N
			continue
		case err != nil:
			q.werr = err
		default:
			q.wok += k
			if k > 1 {
				q.stats.gsoWrites.Add(1)
				q.stats.coalesced.Add(uint64(k))
			}
		}
		if q.wsingle > 1 {
			q.wsingle--
			continue
		}
		q.wsingle = 0
		q.wg++
	}
	return true
}

func appendIov(iov []unix.Iovec, b []byte) []unix.Iovec {
	v := unix.Iovec{}
	if len(b) > 0 {
		v.Base = &b[0]
	}
	v.SetLen(len(b))
	return append(iov, v)
}

// writev is writev(2) on iovecs the caller keeps (unix.Writev allocates
// them per call).
func writev(fd uintptr, iov []unix.Iovec) error {
	_, _, e := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return e
	}
	return nil
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
