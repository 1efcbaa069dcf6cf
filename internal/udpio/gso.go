package udpio

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18): one sendmsg
// carries a run of datagrams to one address as a single buffer and a
// segment size, and the kernel (or the device) cuts it into datagrams of
// that size, the last one possibly shorter. The whole run crosses the
// UDP/IP output path and a veth or GSO-capable device once instead of once
// per datagram; a receiver with UDP_GRO gets it back in one piece.

const (
	// gsoMaxSegments is the most datagrams one GSO message carries: the
	// kernel's UDP_MAX_SEGMENTS is 64 before Linux 5.5 and 128 since.
	gsoMaxSegments = 64
	// gsoMaxBytes bounds the payload of one GSO message: the kernel builds
	// it as one IP packet of at most 65535 octets (IPv4 header 20, UDP 8;
	// an IPv6 one has 40 octets of header outside its payload length).
	gsoMaxBytes = 65535 - 20 - 8
)

// gsoCmsgSpace is the control space of one UDP_SEGMENT message (a uint16).
var gsoCmsgSpace = unix.CmsgSpace(2)

// writeState is a batch's sendmmsg state, allocated with the batch.
type writeState struct {
	hdrs   []unix.Mmsghdr // one per GSO run or single datagram
	fb     []unix.Mmsghdr // the datagrams of one refused run, one each
	iovs   []unix.Iovec   // one per datagram, in Msgs order
	names  []unix.RawSockaddrInet6
	oob    []byte  // gsoCmsgSpace per header
	first  []int32 // Msgs index of header j's first datagram
	count  []int32 // datagrams in header j
	nh     int
	sent   int // datagrams sent
	failed int // datagrams the kernel refused
	errno  syscall.Errno
	c      *Conn
	fn     func(fd uintptr) bool // (*writeState).send, bound once
}

func newWriteState(n int) *writeState {
	w := &writeState{
		hdrs: make([]unix.Mmsghdr, n), fb: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n), oob: make([]byte, n*gsoCmsgSpace),
		first: make([]int32, n), count: make([]int32, n),
	}
	w.fn = w.send
	return w
}

// sameAddr reports whether a and b are the same UDP destination.
func sameAddr(a, b net.Addr) bool {
	if a == b {
		return true
	}
	ua, ok1 := a.(*net.UDPAddr)
	ub, ok2 := b.(*net.UDPAddr)
	return ok1 && ok2 && ua.Port == ub.Port && ua.IP.Equal(ub.IP) && ua.Zone == ub.Zone
}

// Runs splits lens (datagram lengths, all to one destination) into the
// runs WriteBatch sends as one GSO message each, appending the length of
// each run (in datagrams) to dst: at most gsoMaxSegments datagrams and
// gsoMaxBytes octets, every datagram as long as the first except the last,
// which may be shorter. It is exported for tests of the grouping.
func Runs(dst []int, lens []int) []int {
	for i := 0; i < len(lens); {
		n := runLen(len(lens)-i, func(k int) int { return lens[i+k] }, func(int) bool { return true })
		dst = append(dst, n)
		i += n
	}
	return dst
}

// runLen is how many datagrams from the first of avail form one GSO run:
// size(k) is the length of the k-th, same(k) whether it goes where the
// first goes.
func runLen(avail int, size func(int) int, same func(int) bool) int {
	seg := size(0)
	if seg == 0 {
		return 1
	}
	total, n := seg, 1
	for n < avail && n < gsoMaxSegments {
		l := size(n)
		if l == 0 || l > seg || total+l > gsoMaxBytes || !same(n) {
			break
		}
		total += l
		n++
		if l < seg {
			break // a shorter datagram ends the run
		}
	}
	return n
}

// build fills the sendmmsg headers for b.Msgs[:b.Len]: one per run of
// datagrams to one address that GSO can carry (gso), one per datagram
// otherwise. It reports false for an address the socket cannot send to.
func (w *writeState) build(b *Batch, gso bool, family int) bool {
	w.nh = 0
	for i := 0; i < b.Len; {
		m := &b.Msgs[i]
		n := 1
		if gso {
			n = runLen(b.Len-i, func(k int) int { return len(b.Msgs[i+k].Buffers[0]) },
				func(k int) bool { return sameAddr(b.Msgs[i+k].Addr, m.Addr) })
		}
		j := w.nh
		h := &w.hdrs[j]
		*h = unix.Mmsghdr{}
		if m.Addr != nil {
			l, ok := putSockaddr(&w.names[j], m.Addr, family)
			if !ok {
				return false
			}
			h.Hdr.Name = (*byte)(unsafe.Pointer(&w.names[j]))
			h.Hdr.Namelen = l
		}
		for k := range n {
			buf := b.Msgs[i+k].Buffers[0]
			iov := &w.iovs[i+k]
			iov.Base = nil
			if len(buf) > 0 {
				iov.Base = &buf[0]
			}
			iov.SetLen(len(buf))
		}
		h.Hdr.Iov = &w.iovs[i]
		h.Hdr.SetIovlen(n)
		if n > 1 {
			oob := w.oob[j*gsoCmsgSpace : (j+1)*gsoCmsgSpace]
			putGSOCmsg(oob, uint16(len(m.Buffers[0])))
			h.Hdr.Control = &oob[0]
			h.Hdr.SetControllen(len(oob))
		}
		w.first[j], w.count[j] = int32(i), int32(n)
		w.nh++
		i += n
	}
	return true
}

// putGSOCmsg writes a UDP_SEGMENT control message with segment size seg.
func putGSOCmsg(oob []byte, seg uint16) {
	for i := range oob {
		oob[i] = 0
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = seg // host order
}

// putSockaddr encodes a (a *net.UDPAddr) for a socket of family: IPv4 as
// sockaddr_in, or v4-mapped in sockaddr_in6 on an IPv6 socket.
func putSockaddr(sa *unix.RawSockaddrInet6, a net.Addr, family int) (uint32, bool) {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return 0, false
	}
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	if ip4 := ua.IP.To4(); ip4 != nil && family == unix.AF_INET {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET}
		p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		p[0], p[1] = byte(ua.Port>>8), byte(ua.Port)
		copy(sa4.Addr[:], ip4)
		return unix.SizeofSockaddrInet4, true
	}
	if family != unix.AF_INET6 || len(ua.IP) != 4 && len(ua.IP) != 16 {
		return 0, false
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6}
	port[0], port[1] = byte(ua.Port>>8), byte(ua.Port)
	copy(sa.Addr[:], ua.IP.To16())
	return unix.SizeofSockaddrInet6, true
}

// send is the poller callback of WriteBatch: it sends headers from the
// first unsent one and reports false to wait for buffer space. A GSO
// message the kernel refuses goes again as single datagrams; EIO (the
// route's device cannot checksum, which GSO needs) turns GSO off for the
// conn. A single datagram that fails is counted and skipped.
func (w *writeState) send(fd uintptr) bool {
	for w.nh > 0 {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[0])), uintptr(w.nh), 0, 0, 0)
		switch e {
		case 0:
			for j := range int(n) {
				w.sent += int(w.count[j])
			}
			w.shift(int(n))
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		// Header 0 failed.
		if w.count[0] > 1 {
			if e == unix.EIO {
				w.c.gsoOff.Store(true)
			}
			w.c.gsoFallbacks.Add(1)
			if !w.sendSingles(fd) {
				return false
			}
		} else {
			w.failed++
			if w.errno == 0 {
				w.errno = e
			}
		}
		w.shift(1)
	}
	return true
}

// sendSingles sends the datagrams of the GSO message in header 0 one per
// header; false asks to wait for buffer space (header 0 is then rewritten
// to hold the datagrams not yet sent, without GSO).
func (w *writeState) sendSingles(fd uintptr) bool {
	h := &w.hdrs[0]
	first, cnt := int(w.first[0]), int(w.count[0])
	for cnt > 0 {
		for k := range cnt {
			f := &w.fb[k]
			*f = unix.Mmsghdr{}
			f.Hdr.Name, f.Hdr.Namelen = h.Hdr.Name, h.Hdr.Namelen
			f.Hdr.Iov = &w.iovs[first+k]
			f.Hdr.SetIovlen(1)
		}
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.fb[0])), uintptr(cnt), 0, 0, 0)
		switch e {
		case 0:
			w.sent += int(n)
			first += int(n)
			cnt -= int(n)
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// Leave the rest in header 0 as a run of singles: it is sent
			// datagram by datagram when the poller calls again.
			w.first[0], w.count[0] = int32(first), int32(cnt)
			h.Hdr.Iov = &w.iovs[first]
			h.Hdr.SetIovlen(1)
			h.Hdr.Control = nil
			h.Hdr.SetControllen(0)
			if cnt > 1 {
				w.splitFront(cnt)
			}
			return false
		}
		w.failed++
		if w.errno == 0 {
			w.errno = e
		}
		first++
		cnt--
	}
	return true
}

// splitFront turns header 0, which holds cnt datagrams sent singly, into
// cnt headers of one datagram each in front of the headers still to send.
func (w *writeState) splitFront(cnt int) {
	// hdrs has room: every header holds at least one datagram and the
	// batch has as many headers as datagrams.
	first := int(w.first[0])
	copy(w.hdrs[cnt:w.nh+cnt-1], w.hdrs[1:w.nh])
	copy(w.first[cnt:w.nh+cnt-1], w.first[1:w.nh])
	copy(w.count[cnt:w.nh+cnt-1], w.count[1:w.nh])
	name, nlen := w.hdrs[0].Hdr.Name, w.hdrs[0].Hdr.Namelen
	for k := range cnt {
		h := &w.hdrs[k]
		*h = unix.Mmsghdr{}
		h.Hdr.Name, h.Hdr.Namelen = name, nlen
		h.Hdr.Iov = &w.iovs[first+k]
		h.Hdr.SetIovlen(1)
		w.first[k], w.count[k] = int32(first+k), 1
	}
	w.nh += cnt - 1
}

// shift drops the first n headers (sent, or given up).
func (w *writeState) shift(n int) {
	if n >= w.nh {
		w.nh = 0
		return
	}
	copy(w.hdrs, w.hdrs[n:w.nh])
	copy(w.first, w.first[n:w.nh])
	copy(w.count, w.count[n:w.nh])
	w.nh -= n
}
