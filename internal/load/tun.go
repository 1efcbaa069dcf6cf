package load

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/bras-project/bras/internal/tun"
	"github.com/bras-project/bras/ppp"
	"github.com/vishvananda/netlink"
)

// tunBinding joins one subscriber session to a TUN device: packets the
// kernel routes into the device go out on the session as PPP IPv4 frames
// (RFC 1332 section 3), and IPv4 frames received on the session that are
// not probes are written to the device.
type tunBinding struct {
	dev  *tun.Device
	link *tun.Link
	h    *netlink.Handle

	mu    sync.Mutex
	s     *sub // nil until bound
	wbuf  [][]byte
	ready chan struct{}
}

// openTUN creates the device in the calling thread's namespace; the
// netlink handle is tied to that namespace, so it may be used from any
// goroutine later.
func openTUN(name string) (*tunBinding, error) {
	dev, err := tun.Open(name, 1)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("load: netlink: %w", err)
	}
	link, err := tun.NewLink(h, dev.Name())
	if err != nil {
		dev.Close()
		h.Close()
		return nil, fmt.Errorf("load: %w", err)
	}
	return &tunBinding{dev: dev, link: link, h: h, wbuf: make([][]byte, 1), ready: make(chan struct{})}, nil
}

// bind configures the device for s (on s's shard, once IPCP is up).
func (t *tunBinding) bind(s *sub, n ppp.NetworkInfo) {
	l := s.l
	err := t.link.Up(1492)
	if err == nil {
		err = t.link.AddAddr(netip.PrefixFrom(n.Local, 32))
	}
	for _, r := range l.cfg.TUNRoutes {
		if err == nil {
			err = t.link.AddRoute(r)
		}
	}
	if err != nil {
		l.log.Warn("load: tun", "err", err)
	}
	t.mu.Lock()
	t.s = s
	t.mu.Unlock()
	close(t.ready)
}

// Name is the device's name.
func (t *tunBinding) Name() string { return t.dev.Name() }

// run moves packets from the device to the bound session until ctx ends.
func (t *tunBinding) run(ctx context.Context, l *Load) {
	select {
	case <-t.ready:
	case <-ctx.Done():
		return
	}
	q := t.dev.Queues()[0]
	stop := context.AfterFunc(ctx, func() { _ = q.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	const batch = 32
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 2+1500)
		bufs[i][0], bufs[i][1] = 0x00, 0x21 // PPP Protocol: IPv4
	}
	t.mu.Lock()
	s := t.s
	t.mu.Unlock()
	for ctx.Err() == nil {
		n, err := q.ReadBatch(bufs, sizes, 2)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i := 0; i < n; i++ {
			if s.up.Load() {
				_ = s.cs.Send(bufs[i][:2+sizes[i]])
			}
		}
	}
}

// write hands a packet received on the bound session to the kernel (on
// the PPPoE client's reader goroutine).
func (t *tunBinding) write(pkt []byte) {
	t.mu.Lock()
	t.wbuf[0] = pkt
	_, _ = t.dev.Queues()[0].WriteBatch(t.wbuf, 0)
	t.wbuf[0] = nil
	t.mu.Unlock()
}

func (t *tunBinding) close() {
	t.dev.Close()
	t.h.Close()
}
