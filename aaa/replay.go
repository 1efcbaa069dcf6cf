package aaa

import (
	"net/netip"
	"sync"
	"time"
)

// DefaultMaxSeen bounds the CoA server's replay cache: at most 256
// requests per client and Identifier fit the window anyway (RFC 5176
// section 6.3), so this covers 256 busy clients.
const DefaultMaxSeen = 65536

// seenKey identifies a request for replay detection: the client's
// address, the Identifier and the Request Authenticator, never the source
// port, so a captured request sent again from another port is still the
// same request (RFC 5176 section 6.3).
type seenKey struct {
	client netip.Addr
	id     uint8
	auth   [16]byte
}

// seenEntry is what the cache keeps of a request it let through.
type seenEntry struct {
	port uint16 // source port: a retransmission comes from the same one (section 2.3)
	resp []byte // the reply sent, nil until the request has been answered
	at   time.Time
}

// seenCache remembers the requests of the last window, bounded: it is the
// duplicate detection of RFC 5176 section 2.3 and, with the same window
// as the Event-Timestamp check (section 6.3 says they MUST be the same),
// the replay protection. Entries leave in arrival order.
type seenCache struct {
	mu    sync.Mutex
	max   int
	byKey map[seenKey]seenEntry
	fifo  []seenKey // arrival order; fifo[head:] are live
	head  int
}

func newSeenCache(max int) *seenCache {
	return &seenCache{max: max, byKey: make(map[seenKey]seenEntry)}
}

// lookup returns the entry of k when it was seen within window of now.
func (c *seenCache) lookup(k seenKey, now time.Time, window time.Duration) (seenEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok || now.Sub(e.at) >= window {
		return seenEntry{}, false
	}
	return e, true
}

// add records k as seen at now from port; it reports false when the cache
// is full of requests younger than window.
func (c *seenCache) add(k seenKey, port uint16, now time.Time, window time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now, window)
	if _, ok := c.byKey[k]; !ok {
		if len(c.byKey) >= c.max {
			return false
		}
		c.fifo = append(c.fifo, k)
	}
	c.byKey[k] = seenEntry{port: port, at: now}
	return true
}

// answered keeps the reply sent to k, for its retransmissions.
func (c *seenCache) answered(k seenKey, resp []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		e.resp = resp
		c.byKey[k] = e
	}
}

// expire drops the entries older than window, oldest first.
func (c *seenCache) expire(now time.Time, window time.Duration) {
	for c.head < len(c.fifo) {
		k := c.fifo[c.head]
		if e, ok := c.byKey[k]; ok && now.Sub(e.at) < window {
			break
		}
		delete(c.byKey, k)
		c.fifo[c.head] = seenKey{}
		c.head++
	}
	if c.head > len(c.fifo)/2 { // reuse the front of the slice
		n := copy(c.fifo, c.fifo[c.head:])
		c.fifo = c.fifo[:n]
		c.head = 0
	}
}

func (c *seenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}
