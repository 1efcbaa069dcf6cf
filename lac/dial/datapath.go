package dial

import (
	"errors"
	"time"

	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// batch is how many packets one device read or write takes.
const batch = 64

// hdrIPv4 is what an IPv4 packet from the device is sent behind: the HDLC
// Address and Control fields, then PPP Protocol 0x0021 (RFC 1332 section 3).
var hdrIPv4 = [4]byte{0xff, 0x03, 0x00, 0x21}

// receiver takes the call's data messages on the endpoint's reader
// goroutine: IPv4 packets are staged and written to the device once per
// read (DataBatchEnd), PPP control frames go to the session loop.
type receiver struct {
	c      *Client
	dev    Device
	frames chan []byte
	bufs   [][]byte // staging buffers, each of the device's MTU
	staged [][]byte // the first n of bufs, cut to their packets
}

func newReceiver(c *Client, dev Device) *receiver {
	r := &receiver{c: c, dev: dev, frames: make(chan []byte, 64), bufs: make([][]byte, batch), staged: make([][]byte, 0, batch)}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, max(c.cfg.MTU, 1500))
	}
	return r
}

// data is l2tp.Config.Data; payload aliases the endpoint's read buffer.
func (r *receiver) data(_ *l2tp.Tunnel, _ *l2tp.Session, _ l2tp.Header, payload []byte) {
	f := ppp.StripAddressControl(payload)
	proto, info, err := ppp.ParseProtocol(f)
	switch {
	case err != nil:
		r.c.stats.RxDropped.Add(1)
	case proto == ppp.ProtoIPv4:
		if len(info) > len(r.bufs[0]) || r.c.call.Load() == nil {
			r.c.stats.RxDropped.Add(1)
			return
		}
		if len(r.staged) == batch {
			r.flush()
		}
		b := r.bufs[len(r.staged)]
		r.staged = append(r.staged, b[:copy(b, info)])
	case proto.IsControl():
		select {
		case r.frames <- append([]byte(nil), f...):
		default:
			r.c.stats.InboxDropped.Add(1)
		}
	default:
		// IPv6 and the rest: this client negotiates IPCP only.
		r.c.stats.RxDropped.Add(1)
	}
}

// flush is l2tp.Config.DataBatchEnd: the staged packets go to the device
// in one batch.
func (r *receiver) flush() {
	if len(r.staged) == 0 {
		return
	}
	n, _ := r.dev.WriteBatch(r.staged, 0)
	r.c.stats.RxPackets.Add(uint64(n))
	r.c.stats.RxDropped.Add(uint64(len(r.staged) - n))
	r.staged = r.staged[:0]
}

// readDevice sends the packets the kernel routes into the device out on
// the call that is up, until the device is closed. Packets read while no
// session is up are dropped and counted.
func (c *Client) readDevice(dev Device) {
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, len(hdrIPv4)+max(c.cfg.MTU, 1500))
		copy(bufs[i], hdrIPv4[:])
	}
	for {
		n, err := dev.ReadBatch(bufs, sizes, len(hdrIPv4))
		if errors.Is(err, ErrDeviceClosed) {
			return
		}
		if err != nil {
			c.log.Debug("dial: device read", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l := c.call.Load()
		for i := 0; i < n; i++ {
			// Only IPv4 goes over the call (IPCP); the kernel may still
			// route an IPv6 packet (a router solicitation) into the device.
			if l == nil || sizes[i] == 0 || bufs[i][len(hdrIPv4)]>>4 != 4 {
				c.stats.TxDropped.Add(1)
				continue
			}
			if err := l.t.SendData(l.s, bufs[i][:len(hdrIPv4)+sizes[i]]); err != nil {
				c.stats.TxDropped.Add(1)
				continue
			}
			c.stats.TxPackets.Add(1)
		}
	}
}
