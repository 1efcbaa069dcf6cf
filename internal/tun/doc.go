// Package tun opens Linux TUN devices (/dev/net/tun) for the user-space data
// plane and configures them through netlink: link up, MTU, addresses and one
// route per subscriber address.
//
// A Device has one or more queues (IFF_MULTI_QUEUE), one per data-plane
// worker. Every queue is a nonblocking file descriptor driven by the Go
// runtime poller, so a read blocked on an idle device is released by
// SetReadDeadline or Close, and ReadBatch drains several packets per wake-up.
// Frames carry no packet-information header (IFF_NO_PI): a read returns a bare
// IPv4 or IPv6 packet and a write takes one.
package tun
