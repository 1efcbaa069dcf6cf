// Package l2tptest provides test helpers for L2TP: a pair of in-memory
// net.PacketConns joined by a pipe that can lose, duplicate and reorder
// datagrams, so LAC and LNS tests exercise the reliable control channel of
// RFC 2661 section 5.8 without a network.
package l2tptest

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Impairment describes what the pipe does to each datagram written into it.
// Probabilities are in [0, 1].
type Impairment struct {
	Loss      float64       // probability a datagram is dropped
	Duplicate float64       // probability a datagram is delivered twice
	Reorder   float64       // probability a datagram is held back and delivered after the next one
	HoldMax   time.Duration // longest a reordered datagram is held when no other follows (default 5 ms)
	Seed      uint64        // seed of the pseudo-random choices (0: fixed default)
}

// Stats counts what the pipe did in one direction.
type Stats struct {
	Sent, Dropped, Duplicated, Reordered, Delivered, Overflow atomic.Uint64
}

// Conn is one end of a Pipe. It implements net.PacketConn; ReadFrom reports
// the other end's address, and WriteTo ignores the address it is given
// (there is only one peer), except that a write to an address other than
// the peer's is counted and dropped, like a datagram to nowhere.
type Conn struct {
	local, remote *net.UDPAddr
	peer          *Conn
	imp           Impairment
	stats         Stats

	inbox chan []byte

	mu       sync.Mutex
	rnd      *rand.Rand
	held     []byte
	holdTmr  *time.Timer
	deadline time.Time
	wake     chan struct{}
	silent   bool

	closeOnce sync.Once
	closed    chan struct{}
}

// ErrClosed is returned by operations on a closed Conn.
var ErrClosed = net.ErrClosed

// NewPipe returns two connected ends at addresses a and b. Each direction is
// impaired by imp; ab and ba may differ by calling SetImpairment.
func NewPipe(a, b netip.AddrPort, imp Impairment) (*Conn, *Conn) {
	ca := newConn(a, b, imp, 1)
	cb := newConn(b, a, imp, 2)
	ca.peer, cb.peer = cb, ca
	return ca, cb
}

func newConn(local, remote netip.AddrPort, imp Impairment, salt uint64) *Conn {
	if imp.HoldMax <= 0 {
		imp.HoldMax = 5 * time.Millisecond
	}
	seed := imp.Seed
	if seed == 0 {
		seed = 0x2661
	}
	return &Conn{
		local:  net.UDPAddrFromAddrPort(local),
		remote: net.UDPAddrFromAddrPort(remote),
		imp:    imp,
		inbox:  make(chan []byte, 4096),
		rnd:    rand.New(rand.NewPCG(seed, salt)),
		wake:   make(chan struct{}),
		closed: make(chan struct{}),
	}
}

// SetImpairment changes what happens to datagrams written on c from now on.
func (c *Conn) SetImpairment(imp Impairment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if imp.HoldMax <= 0 {
		imp.HoldMax = 5 * time.Millisecond
	}
	c.imp = imp
}

// SetSilent makes c drop everything it would send while on, as a peer that
// has crashed or lost its route.
func (c *Conn) SetSilent(on bool) {
	c.mu.Lock()
	c.silent = on
	c.mu.Unlock()
}

// Stats returns the counters of datagrams written on c.
func (c *Conn) Stats() *Stats { return &c.stats }

// ReadFrom implements net.PacketConn.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl, wake := c.deadline, c.wake
		c.mu.Unlock()
		var tc <-chan time.Time
		var tm *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, c.opErr("read", os.ErrDeadlineExceeded)
			}
			tm = time.NewTimer(d)
			tc = tm.C
		}
		var (
			n   int
			err error
			got bool
		)
		select {
		case b := <-c.inbox:
			n, got = copy(p, b), true
		case <-c.closed:
			err = c.opErr("read", net.ErrClosed)
		case <-tc:
			err = c.opErr("read", os.ErrDeadlineExceeded)
		case <-wake:
			// the deadline moved: look again
		}
		if tm != nil {
			tm.Stop()
		}
		if got {
			return n, c.remote, nil
		}
		if err != nil {
			return 0, nil, err
		}
	}
}

// WriteTo implements net.PacketConn.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, c.opErr("write", net.ErrClosed)
	default:
	}
	if ua, ok := addr.(*net.UDPAddr); !ok || ua.AddrPort() != c.remote.AddrPort() {
		c.stats.Dropped.Add(1)
		return len(p), nil
	}
	c.stats.Sent.Add(1)
	b := append([]byte(nil), p...)
	c.mu.Lock()
	if c.silent || c.rnd.Float64() < c.imp.Loss {
		c.mu.Unlock()
		c.stats.Dropped.Add(1)
		return len(p), nil
	}
	dup := c.rnd.Float64() < c.imp.Duplicate
	var release []byte
	if c.held == nil && c.rnd.Float64() < c.imp.Reorder {
		c.held = b
		c.stats.Reordered.Add(1)
		c.holdTmr = time.AfterFunc(c.imp.HoldMax, c.releaseHeld)
		c.mu.Unlock()
		return len(p), nil
	}
	if c.held != nil {
		release, c.held = c.held, nil
		c.holdTmr.Stop()
	}
	c.mu.Unlock()
	c.deliver(b)
	if dup {
		c.stats.Duplicated.Add(1)
		c.deliver(b)
	}
	if release != nil {
		c.deliver(release)
	}
	return len(p), nil
}

func (c *Conn) releaseHeld() {
	c.mu.Lock()
	b := c.held
	c.held = nil
	c.mu.Unlock()
	if b != nil {
		c.deliver(b)
	}
}

func (c *Conn) deliver(b []byte) {
	select {
	case <-c.peer.closed:
		return
	default:
	}
	select {
	case c.peer.inbox <- b:
		c.stats.Delivered.Add(1)
	default:
		c.stats.Overflow.Add(1)
	}
}

// Close implements net.PacketConn; a blocked ReadFrom returns net.ErrClosed.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.mu.Lock()
		if c.holdTmr != nil {
			c.holdTmr.Stop()
		}
		c.mu.Unlock()
	})
	return nil
}

// LocalAddr implements net.PacketConn.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// SetDeadline implements net.PacketConn; only reads block, so it sets the
// read deadline.
func (c *Conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
	return nil
}

// SetWriteDeadline implements net.PacketConn; writes never block.
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.local, Addr: c.remote, Err: err}
}

var _ net.PacketConn = (*Conn)(nil)

// IsTimeout reports whether err is a read deadline expiry.
func IsTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
