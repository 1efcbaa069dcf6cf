package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link configures a TUN interface through netlink (rtnetlink, RFC 3549): its
// state, MTU, addresses and the per-subscriber routes that steer traffic for
// subscriber addresses into the device. It is control-plane code: calls may
// allocate and each is one netlink round trip.
type Link struct {
	h    *netlink.Handle
	link netlink.Link
}

// NewLink finds the interface name through h. A nil h works in the network
// namespace of the calling thread at each call; a handle from
// netlink.NewHandleAt works in that handle's namespace from any thread.
func NewLink(h *netlink.Handle, name string) (*Link, error) {
	if h == nil {
		h = &netlink.Handle{}
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("tun: link %s: %w", name, err)
	}
	return &Link{h: h, link: l}, nil
}

// Index is the interface index.
func (l *Link) Index() int { return l.link.Attrs().Index }

// Up sets the MTU (when mtu > 0) and brings the link up.
func (l *Link) Up(mtu int) error {
	name := l.link.Attrs().Name
	if mtu > 0 {
		if err := l.h.LinkSetMTU(l.link, mtu); err != nil {
			return fmt.Errorf("tun: %s: set mtu %d: %w", name, mtu, err)
		}
	}
	if err := l.h.LinkSetUp(l.link); err != nil {
		return fmt.Errorf("tun: %s: set up: %w", name, err)
	}
	return nil
}

// AddAddr assigns p (for example the LNS's own address, 10.0.0.1/32) to the
// interface; an address already present is not an error.
func (l *Link) AddAddr(p netip.Prefix) error {
	a := &netlink.Addr{IPNet: ipNet(p)}
	if err := l.h.AddrReplace(l.link, a); err != nil {
		return fmt.Errorf("tun: %s: add address %s: %w", l.link.Attrs().Name, p, err)
	}
	return nil
}

// AddRoute installs a link-scope route to dst through the device, typically
// dst is a subscriber's /32. It replaces any route to the same destination,
// so it is idempotent.
func (l *Link) AddRoute(dst netip.Prefix) error {
	if err := l.h.RouteReplace(l.route(dst)); err != nil {
		return fmt.Errorf("tun: %s: add route %s: %w", l.link.Attrs().Name, dst, err)
	}
	return nil
}

// DelRoute removes the route AddRoute installed; a route already gone is not
// an error (the device may have been deleted, which removes its routes).
func (l *Link) DelRoute(dst netip.Prefix) error {
	err := l.h.RouteDel(l.route(dst))
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("tun: %s: delete route %s: %w", l.link.Attrs().Name, dst, err)
	}
	return nil
}

func (l *Link) route(dst netip.Prefix) *netlink.Route {
	return &netlink.Route{
		LinkIndex: l.link.Attrs().Index,
		Dst:       ipNet(dst.Masked()),
		Scope:     netlink.SCOPE_LINK,
	}
}

func ipNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}
