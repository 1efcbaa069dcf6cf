package dataplane

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// nextHopAdmit is the IPv6 next-hop cache's admission: a destination
// missing from the cache is added with probability 1/nextHopAdmit
// (bpf/lns.c, fib6_cache), so traffic that returns to a destination is
// cached within a few packets while a flood to random destinations costs a
// FIB lookup a packet, not a cache insert.
const nextHopAdmit = 8

// nextHopMaxAge bounds how long a cached next hop may outlive a change
// the kernel did not announce (a lost netlink message): the generation
// moves on at least this often.
const nextHopMaxAge = time.Second

// rtnetlink groups whose messages can change a next hop: links, IPv4 and
// IPv6 addresses and routes, neighbours, policy rules.
const nextHopGroups = unix.RTMGRP_LINK | unix.RTMGRP_NEIGH |
	unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV4_RULE |
	unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_IPV6_ROUTE

// fibWatch moves the fast path's FIB generation (dp_config.fib_gen) on
// every change of the kernel's routes, neighbours, addresses or links in
// the network namespace it was opened in, and at least every
// nextHopMaxAge: the programs drop next hops cached under an older
// generation and look them up again.
type fibWatch struct {
	bump func() error
	f    *os.File
	stop chan struct{}
	wg   sync.WaitGroup
}

// watchFIB opens the rtnetlink subscription in the calling thread's
// network namespace and starts the watch; bump is called on each change
// (bursts coalesced) and every maxAge.
func watchFIB(bump func() error, onErr func(error), maxAge time.Duration) (*fibWatch, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("dataplane: route watch: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: nextHopGroups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dataplane: route watch: %w", err)
	}
	w := &fibWatch{bump: bump, f: os.NewFile(uintptr(fd), "rtnetlink"), stop: make(chan struct{})}
	changed := make(chan struct{}, 1)
	w.wg.Add(2)
	go w.read(changed, onErr)
	go w.tick(changed, onErr, maxAge)
	return w, nil
}

// read signals changed for every rtnetlink message (and for an overrun,
// which means messages were lost).
func (w *fibWatch) read(changed chan<- struct{}, onErr func(error)) {
	defer w.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		_, err := w.f.Read(buf)
		switch {
		case errors.Is(err, os.ErrClosed):
			return
		case err != nil && !errors.Is(err, unix.ENOBUFS):
			onErr(err)
			return // the tick still bounds the age of every next hop
		}
		select {
		case changed <- struct{}{}:
		default: // a bump is pending already
		}
	}
}

// tick bumps the generation on each change signalled, and every maxAge.
func (w *fibWatch) tick(changed <-chan struct{}, onErr func(error), maxAge time.Duration) {
	defer w.wg.Done()
	t := time.NewTicker(maxAge)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-changed:
		case <-t.C:
		}
		if err := w.bump(); err != nil {
			onErr(err)
		}
	}
}

// close stops the watch and waits for it.
func (w *fibWatch) close() {
	close(w.stop)
	w.f.Close()
	w.wg.Wait()
}
