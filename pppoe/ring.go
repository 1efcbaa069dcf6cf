package pppoe

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A PACKET_MMAP receive ring (TPACKET_V2, packet(7)) for the session
// socket of an access concentrator: the kernel copies each frame into a
// slot of memory shared with the reader in its receive path and frees the
// skb there, and the reader takes frames from the ring without a system
// call while frames are waiting. recvmmsg(2) cost a copy, an skb free and
// the per-message work of the call for every frame in the reader's
// context, the biggest cost of the LAC's upstream path.

const (
	ringFrameLen   = 2048    // one slot: tpacket2_hdr, padding, a frame of frameBufLen
	ringBlockLen   = 1 << 16 // 32 slots
	ringBlockSlots = ringBlockLen / ringFrameLen
	// DefaultRxRing is the receive ring's default size in slots (frames):
	// 4 MiB, what the socket's receive buffer was.
	DefaultRxRing = 2048
	ringSlotsRead = batchSize // frames handed over per read at most
)

// ringReader reads frames from a TPACKET_V2 receive ring. It has the
// interface of batchReader: read, then Frame(i) and VLAN[i]; frames alias
// the ring and stay the reader's until the next read, which gives them
// back to the kernel.
type ringReader struct {
	rc     syscall.RawConn
	mem    []byte
	frames int // slots
	head   int // next slot to look at
	held   int // slots handed over by the last read, from head-held

	n      int
	got    [ringSlotsRead][]byte
	VLAN   [ringSlotsRead]uint16
	readFn func(fd uintptr) bool
}

// newRingReader sets up a ring of about slots frames (a multiple of 32,
// at least 32) on c (an AF_PACKET socket); an error leaves c as it was,
// for recvmmsg.
func newRingReader(c syscallConn, slots int) (*ringReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	blocks := max(1, (slots+ringBlockSlots-1)/ringBlockSlots)
	r := &ringReader{rc: rc, frames: blocks * ringBlockSlots}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); serr != nil {
			return
		}
		req := unix.TpacketReq{Block_size: ringBlockLen, Block_nr: uint32(blocks), Frame_size: ringFrameLen, Frame_nr: uint32(r.frames)}
		if serr = unix.SetsockoptTpacketReq(int(fd), unix.SOL_PACKET, unix.PACKET_RX_RING, &req); serr != nil {
			return
		}
		r.mem, serr = unix.Mmap(int(fd), 0, ringBlockLen*blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if serr != nil {
			// Drop the ring again (a zero request) and go back to V1
			// reads through the socket queue.
			_ = unix.SetsockoptTpacketReq(int(fd), unix.SOL_PACKET, unix.PACKET_RX_RING, &unix.TpacketReq{})
		}
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("pppoe: receive ring: %w", serr)
	}
	r.readFn = r.poll
	return r, nil
}

// close unmaps the ring; the reader must not be used afterwards.
func (r *ringReader) close() {
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
	}
}

// slot returns the header of ring slot i.
func (r *ringReader) slot(i int) *unix.Tpacket2Hdr {
	return (*unix.Tpacket2Hdr)(unsafe.Pointer(&r.mem[i*ringFrameLen]))
}

// status is slot i's tp_status, read with acquire ordering: the frame's
// octets written by the kernel are visible once it says TP_STATUS_USER.
func (r *ringReader) status(i int) uint32 {
	return atomic.LoadUint32(&r.slot(i).Status)
}

// release gives the slots of the last read back to the kernel.
func (r *ringReader) release() {
	for k := r.held; k > 0; k-- {
		i := (r.head - k + r.frames) % r.frames
		atomic.StoreUint32(&r.slot(i).Status, unix.TP_STATUS_KERNEL)
	}
	r.held = 0
}

// poll is the RawConn read callback: it takes the waiting frames, false
// when there are none (wait for the socket to become readable).
func (r *ringReader) poll(uintptr) bool {
	for r.n < ringSlotsRead {
		i := r.head
		st := r.status(i)
		if st&unix.TP_STATUS_USER == 0 {
			break
		}
		h := r.slot(i)
		off, l := int(h.Mac), int(h.Snaplen)
		base := i * ringFrameLen
		if off < unix.SizeofTpacket2Hdr || off+l > ringFrameLen {
			l = 0 // cannot happen with the kernel's layout; give the slot back unread
			off = unix.SizeofTpacket2Hdr
		}
		r.got[r.n] = r.mem[base+off : base+off+l : base+off+l]
		r.VLAN[r.n] = 0
		if st&unix.TP_STATUS_VLAN_VALID != 0 || h.Vlan_tci != 0 {
			r.VLAN[r.n] = h.Vlan_tci & 0x0fff
		}
		r.n++
		r.held++
		r.head = (r.head + 1) % r.frames
	}
	return r.n > 0
}

// read gives the frames of the previous read back to the kernel, then
// blocks until at least one frame is waiting (or the read deadline
// passes) and returns how many it took, at most batchSize.
func (r *ringReader) read() (int, error) {
	r.release()
	clear(r.got[:r.n])
	r.n = 0
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	return r.n, nil
}

// Frame returns frame i of the last read; it aliases the ring.
func (r *ringReader) Frame(i int) []byte { return r.got[i] }
