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
//
// Opened with Options.Offload, the device carries a virtio_net_hdr in front
// of every packet (IFF_VNET_HDR) and takes TCP and UDP segmentation
// offloads: the kernel may hand over a super-packet of up to 64 KiB, which
// ReadBatch splits into the packets it stands for (Splitter), and WriteBatch
// writes runs of one flow's segments as one super-packet (Coalescer), so
// that a TCP stream costs one system call per 64 KiB instead of one per
// segment. Callers still see one IP packet per buffer both ways.
package tun
