package l2tp

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP generic receive offload (UDP_GRO, Linux 5.0): the kernel hands a
// socket that asks for it a run of datagrams of one sender, all of one
// size but the last, as one buffer with the segment size in a control
// message; a sender with UDP GSO (UDP_SEGMENT) or a device's GRO makes
// such runs. The reader cuts the buffer back into the datagrams.

// groBufLen holds the largest run the kernel coalesces (one IP packet's
// worth).
const groBufLen = 65536

// groOOBLen is the control space for one UDP_GRO message (an int).
var groOOBLen = unix.CmsgSpace(4)

// enableGRO asks the kernel for coalesced reads on c; false when it
// refuses (a kernel before 5.0, a socket that is not UDP).
func enableGRO(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

// groSize returns the segment size of a UDP_GRO control message in oob,
// or 0 when there is none (a datagram read as it came).
func groSize(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			return int(*(*int32)(unsafe.Pointer(&oob[unix.CmsgLen(0)])))
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}

// splitGRO calls fn with each datagram of a coalesced read b of segment
// size seg: every one seg octets long but the last, which may be shorter.
// seg <= 0 means b is one datagram. Each slice aliases b.
func splitGRO(b []byte, seg int, fn func([]byte)) {
	if seg <= 0 || seg >= len(b) {
		fn(b)
		return
	}
	for len(b) > seg {
		fn(b[:seg:seg])
		b = b[seg:]
	}
	if len(b) > 0 {
		fn(b)
	}
}
