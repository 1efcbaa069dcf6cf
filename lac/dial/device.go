package dial

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/internal/tun"
	"github.com/bras-project/bras/ppp"
	"github.com/vishvananda/netlink"
)

// ErrDeviceClosed is what a Device's ReadBatch returns once it is closed.
var ErrDeviceClosed = errors.New("dial: device closed")

// Device is the local end of the session's IP traffic: a TUN device.
type Device interface {
	// Configure gives the device the session's address with the LNS's
	// as its point-to-point peer, the MTU and the routes, and brings it
	// up.
	Configure(n ppp.NetworkInfo, mtu int, routes []netip.Prefix) error
	// Deconfigure removes the routes and the address again.
	Deconfigure() error
	// ReadBatch reads packets as tun.Queue.ReadBatch does; once the
	// device is closed it returns ErrDeviceClosed.
	ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error)
	// WriteBatch writes packets as tun.Queue.WriteBatch does.
	WriteBatch(bufs [][]byte, offset int) (int, error)
	// Close releases a blocked ReadBatch and removes the device.
	Close() error
}

// tunDevice is a Device on a TUN interface (internal/tun), configured
// through netlink in the namespace it was opened in.
type tunDevice struct {
	dev    *tun.Device
	q      *tun.Queue
	h      *netlink.Handle
	link   *tun.Link
	nl     netlink.Link
	lns    netip.Addr
	closed atomic.Bool

	mu     sync.Mutex // Configure and Deconfigure
	addr   *netlink.Addr
	routes []netip.Prefix
}

// OpenTUN creates the TUN device name in the calling thread's network
// namespace (CAP_NET_ADMIN). lns is the LNS's address: a route that would
// carry the tunnel itself into the device is refused.
func OpenTUN(name string, lns netip.Addr) (Device, error) {
	dev, err := tun.Open(name, 1)
	if err != nil {
		return nil, fmt.Errorf("dial: %w (a TUN device needs root or CAP_NET_ADMIN)", err)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("dial: netlink: %w", err)
	}
	d := &tunDevice{dev: dev, q: dev.Queues()[0], h: h, lns: lns.Unmap()}
	if d.link, err = tun.NewLink(h, dev.Name()); err == nil {
		d.nl, err = h.LinkByName(dev.Name())
	}
	if err != nil {
		dev.Close()
		h.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	return d, nil
}

func host(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

func (d *tunDevice) Configure(n ppp.NetworkInfo, mtu int, routes []netip.Prefix) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.link.Up(mtu); err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: host(n.Local)}
	if n.Peer.IsValid() && !n.Peer.IsUnspecified() {
		a.Peer = host(n.Peer)
	}
	if err := d.h.AddrReplace(d.nl, a); err != nil {
		return fmt.Errorf("dial: %s: address %v peer %v: %w", d.dev.Name(), n.Local, n.Peer, err)
	}
	d.addr = a
	for _, r := range routes {
		if err := d.link.AddRoute(r); err != nil {
			d.deconfigure()
			return err
		}
		d.routes = append(d.routes, r)
	}
	// The tunnel's own packets must not be routed into the tunnel.
	if rs, err := d.h.RouteGet(net.IP(d.lns.AsSlice())); err == nil && len(rs) > 0 && rs[0].LinkIndex == d.link.Index() {
		d.deconfigure()
		return fmt.Errorf("dial: the routes %v would carry the tunnel to the LNS %v into %s itself; add a more specific route to the LNS through the gateway first",
			routes, d.lns, d.dev.Name())
	}
	return nil
}

func (d *tunDevice) Deconfigure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deconfigure()
}

func (d *tunDevice) deconfigure() error {
	var errs []error
	for _, r := range d.routes {
		errs = append(errs, d.link.DelRoute(r))
	}
	d.routes = nil
	if d.addr != nil {
		if err := d.h.AddrDel(d.nl, d.addr); err != nil {
			errs = append(errs, fmt.Errorf("dial: %s: delete address: %w", d.dev.Name(), err))
		}
		d.addr = nil
	}
	return errors.Join(errs...)
}

func (d *tunDevice) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := d.q.ReadBatch(bufs, sizes, offset)
	if err != nil && d.closed.Load() {
		return 0, ErrDeviceClosed
	}
	return n, err
}

func (d *tunDevice) WriteBatch(bufs [][]byte, offset int) (int, error) {
	return d.q.WriteBatch(bufs, offset)
}

func (d *tunDevice) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	_ = d.q.SetReadDeadline(time.Unix(1, 0))
	d.Deconfigure()
	err := d.dev.Close()
	d.h.Close()
	return err
}
