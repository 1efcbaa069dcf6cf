package aaa

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// muxIdle is how long a RADIUS socket with no request waiting on it stays
// open: under load the sockets live on, an idle client holds none.
const muxIdle = time.Second

// serverMux holds the UDP sockets of one RADIUS server. Requests share
// them, told apart by their Identifier (RFC 2865 section 3: a client
// matches a response to its request by Identifier and source), up to 256
// in flight on one socket; another socket opens when every Identifier of
// the open ones is taken. One goroutine a socket reads the responses and
// hands each to the request waiting on its Identifier. A socket per
// request would cost a socket, a bind and a close per authentication.
type serverMux struct {
	addr string
	// stray is told of a response to no request waiting (a late answer
	// to one that gave up, or a forged one).
	stray func(id uint8)

	dialMu sync.Mutex // held while a socket opens
	mu     sync.Mutex
	conns  []*muxConn
}

// muxConn is one socket of a serverMux.
type muxConn struct {
	m    *serverMux
	conn *net.UDPConn
	// waits are the requests by Identifier (nil: free); guarded by m.mu.
	waits  [256]chan []byte
	used   int
	next   uint8 // the Identifier to try first: recently freed ones are reused last
	idle   *time.Timer
	closed bool
}

// acquire gives the request an Identifier on one of the server's sockets;
// responses carrying it reach ch.
func (m *serverMux) acquire(ctx context.Context, ch chan []byte) (*muxConn, uint8, error) {
	if mc, id, ok := m.take(ch); ok {
		return mc, id, nil
	}
	// One socket opens at a time, so that a burst of requests finding
	// the open ones full opens one more, not one each.
	m.dialMu.Lock()
	defer m.dialMu.Unlock()
	if mc, id, ok := m.take(ch); ok {
		return mc, id, nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", m.addr)
	if err != nil {
		return nil, 0, fmt.Errorf("aaa: dial %s: %w", m.addr, err)
	}
	conn := c.(*net.UDPConn)
	_ = conn.SetReadBuffer(1 << 20) // a burst of answers to a burst of requests
	mc := &muxConn{m: m, conn: conn}
	var r [1]byte
	randomBytes(r[:])
	mc.next = r[0] // Identifiers are no secret (the Request Authenticator is), but need not be guessable either
	m.mu.Lock()
	id, _ := mc.take(ch)
	m.conns = append(m.conns, mc)
	m.mu.Unlock()
	go mc.read()
	return mc, id, nil
}

// take reserves a free Identifier on an open socket.
func (m *serverMux) take(ch chan []byte) (*muxConn, uint8, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mc := range m.conns {
		if id, ok := mc.take(ch); ok {
			return mc, id, true
		}
	}
	return nil, 0, false
}

// take reserves a free Identifier for ch; m.mu is held.
func (mc *muxConn) take(ch chan []byte) (uint8, bool) {
	if mc.closed || mc.used == len(mc.waits) {
		return 0, false
	}
	for i := range len(mc.waits) {
		id := mc.next + uint8(i)
		if mc.waits[id] == nil {
			mc.waits[id] = ch
			mc.used++
			mc.next = id + 1
			if mc.idle != nil {
				mc.idle.Stop()
				mc.idle = nil
			}
			return id, true
		}
	}
	return 0, false
}

// release frees id; a socket left with no request closes after muxIdle.
func (mc *muxConn) release(id uint8) {
	m := mc.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if mc.waits[id] == nil {
		return
	}
	mc.waits[id] = nil
	mc.used--
	if mc.used == 0 && !mc.closed {
		mc.idle = time.AfterFunc(muxIdle, mc.closeIdle)
	}
}

func (mc *muxConn) closeIdle() {
	m := mc.m
	m.mu.Lock()
	if mc.used != 0 || mc.closed {
		m.mu.Unlock()
		return
	}
	mc.closed = true
	for i, c := range m.conns {
		if c == mc {
			m.conns = append(m.conns[:i], m.conns[i+1:]...)
			break
		}
	}
	m.mu.Unlock()
	mc.conn.Close() // ends read
}

// read hands every datagram to the request waiting on its Identifier
// (check validates it); one nobody waits for is dropped there too.
func (mc *muxConn) read() {
	buf := make([]byte, maxPacketLen)
	for {
		n, err := mc.conn.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || n < 2 {
			// ICMP port unreachable shows as a read error on a connected
			// socket: the server is down; the requests wait out their
			// timers as for a loss.
			continue
		}
		mc.m.mu.Lock()
		ch := mc.waits[buf[1]]
		mc.m.mu.Unlock()
		if ch == nil {
			if mc.m.stray != nil {
				mc.m.stray(buf[1])
			}
			continue
		}
		select {
		case ch <- append([]byte(nil), buf[:n]...):
		default: // the request has answers queued already (duplicates)
		}
	}
}
