package l2tp

import (
	"errors"
	"time"
)

// The reliable delivery engine of the control channel, RFC 2661 section 5.8
// with the slow start and congestion avoidance of appendix A. It is pure:
// the tunnel goroutine feeds it received headers and payloads and the time,
// calls tick when nextDeadline passes, and writes out what takeOutput
// returns. Payloads are the encoded message after the control header (the
// Message Type AVP and the rest), opaque to the channel; a nil payload is a
// ZLB acknowledgement.

// errRetransmit is wrapped by ErrPeerUnreachable; kept unexported so the
// channel stays self-contained.
var errRetransmit = errors.New("no acknowledgement after the retransmission budget")

// channelConfig is what a channel needs to know about both ends.
type channelConfig struct {
	RecvWindow uint16        // our Receive Window Size: messages we queue ahead of a gap
	PeerWindow uint16        // the peer's Receive Window Size (section 5.8; 0 means 4)
	RTOInitial time.Duration // first retransmission timeout (section 5.8: 1 s)
	RTOCap     time.Duration // longest timeout between retransmissions (at least 8 s by the RFC)
	MaxRetries int           // retransmissions of one message before the tunnel is cleared
	AckDelay   time.Duration // how long a ZLB waits for a message to piggyback on
}

// transmit is one control message to write: the caller builds the header
// with these Ns and Nr. Payload is nil for a ZLB.
type transmit struct {
	Ns, Nr     uint16
	Payload    []byte
	Retransmit bool
}

type pending struct {
	ns      uint16
	payload []byte
}

type channel struct {
	cfg   channelConfig
	stats *Stats

	ns uint16 // Ns of the next new message
	nr uint16 // Ns expected next from the peer

	queue []pending // unacknowledged, in Ns order; the first sent are on the wire
	sent  int

	cwnd, ssthresh, caAcks int

	rto     time.Duration
	rtoAt   time.Time
	retries int

	ackAt   time.Time // when a ZLB is owed; zero: none
	unacked int       // messages delivered since our last Nr went out

	ooo map[uint16][]byte // received ahead of a gap, by Ns

	out    []transmit
	failed error
}

func newChannel(cfg channelConfig, stats *Stats) *channel {
	if cfg.PeerWindow == 0 {
		cfg.PeerWindow = 4
	}
	if cfg.RecvWindow == 0 {
		cfg.RecvWindow = 4
	}
	if cfg.RTOInitial <= 0 {
		cfg.RTOInitial = time.Second
	}
	if cfg.RTOCap < cfg.RTOInitial {
		cfg.RTOCap = cfg.RTOInitial
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 5
	}
	if stats == nil {
		stats = new(Stats)
	}
	return &channel{
		cfg:      cfg,
		stats:    stats,
		cwnd:     1,
		ssthresh: int(cfg.PeerWindow),
		rto:      cfg.RTOInitial,
	}
}

// setPeerWindow applies the Receive Window Size AVP of the peer's SCCRQ or
// SCCRP; appendix A sets SSTHRESH to it.
func (c *channel) setPeerWindow(w uint16) {
	if w == 0 {
		return // section 5.8: 0 is invalid; keep the default
	}
	c.cfg.PeerWindow = w
	c.ssthresh = int(w)
	if c.cwnd > int(w) {
		c.cwnd = int(w)
	}
}

// send queues one message and transmits it when the window allows.
func (c *channel) send(payload []byte, now time.Time) {
	c.queue = append(c.queue, pending{ns: c.ns, payload: payload})
	c.ns++
	c.pump(now)
}

// window is the number of messages that may be unacknowledged: the
// congestion window, never above the peer's receive window (appendix A).
func (c *channel) window() int {
	return min(c.cwnd, int(c.cfg.PeerWindow))
}

func (c *channel) pump(now time.Time) {
	for c.sent < len(c.queue) && c.sent < c.window() {
		p := c.queue[c.sent]
		c.out = append(c.out, transmit{Ns: p.ns, Nr: c.nr, Payload: p.payload})
		c.sent++
		c.ackAt = time.Time{} // the ack rides on this message
		c.unacked = 0
		if c.rtoAt.IsZero() {
			c.rtoAt = now.Add(c.rto)
		}
	}
}

// receive processes one control message from the peer and returns the
// payloads now deliverable in order. A returned payload is either the one
// passed in or a copy the channel kept; it is valid until the next call.
func (c *channel) receive(ns, nr uint16, payload []byte, now time.Time) [][]byte {
	c.ack(nr, now)
	if payload == nil {
		c.stats.ZLBRx.Add(1)
		return nil
	}
	switch {
	case ns == c.nr:
		var deliver [][]byte
		deliver = append(deliver, payload)
		c.nr++
		for {
			b, ok := c.ooo[c.nr]
			if !ok {
				break
			}
			delete(c.ooo, c.nr)
			deliver = append(deliver, b)
			c.nr++
		}
		if c.ackAt.IsZero() {
			c.ackAt = now.Add(c.cfg.AckDelay)
		}
		c.unacked += len(deliver)
		return deliver
	case seqLess(ns, c.nr):
		// Section 5.8: a duplicate MUST be acknowledged again; the
		// ZLB goes at once, the peer is retransmitting.
		c.stats.Duplicates.Add(1)
		c.zlb()
		return nil
	case seqDiff(c.nr, ns) < c.cfg.RecvWindow:
		if _, ok := c.ooo[ns]; !ok {
			if c.ooo == nil {
				c.ooo = make(map[uint16][]byte)
			}
			c.ooo[ns] = append([]byte(nil), payload...)
			c.stats.OutOfOrder.Add(1)
		}
		return nil
	default:
		c.stats.OutsideWindow.Add(1)
		return nil
	}
}

// ack removes from the retransmission queue every message Nr acknowledges
// and opens the congestion window (appendix A).
func (c *channel) ack(nr uint16, now time.Time) {
	if len(c.queue) == 0 {
		return
	}
	n := int(seqDiff(c.queue[0].ns, nr))
	if n == 0 {
		return
	}
	if n > c.sent {
		// Nr beyond what we sent (or far behind: an old message).
		if n <= len(c.queue) || seqLess(c.ns, nr) {
			c.stats.BadAck.Add(1)
		}
		return
	}
	for i := range n {
		c.queue[i] = pending{}
	}
	c.queue = c.queue[n:]
	c.sent -= n
	for range n {
		if c.cwnd < c.ssthresh {
			c.cwnd++
		} else {
			c.caAcks++
			if c.caAcks >= c.cwnd {
				c.cwnd++
				c.caAcks = 0
			}
		}
	}
	if c.cwnd > int(c.cfg.PeerWindow) {
		c.cwnd = int(c.cfg.PeerWindow)
	}
	c.retries = 0
	c.rto = c.cfg.RTOInitial
	c.rtoAt = time.Time{}
	if c.sent > 0 {
		c.rtoAt = now.Add(c.rto)
	}
	c.pump(now)
}

func (c *channel) zlb() {
	c.out = append(c.out, transmit{Ns: c.ns, Nr: c.nr})
	c.ackAt = time.Time{}
	c.unacked = 0
}

// tick runs the timers due at now: a delayed ZLB, and retransmission with
// exponential backoff (section 5.8) that halves SSTHRESH and restarts slow
// start (appendix A). It returns an error once the retransmission budget is
// spent: the tunnel and its sessions MUST then be cleared.
func (c *channel) tick(now time.Time) error {
	if c.failed != nil {
		return c.failed
	}
	if !c.ackAt.IsZero() && !now.Before(c.ackAt) {
		c.zlb()
	}
	if !c.rtoAt.IsZero() && !now.Before(c.rtoAt) {
		if c.retries >= c.cfg.MaxRetries {
			c.failed = errRetransmit
			c.rtoAt = time.Time{}
			return c.failed
		}
		c.retries++
		c.ssthresh = max(c.cwnd/2, 1)
		c.cwnd = 1
		c.caAcks = 0
		// Retransmit what is on the wire, with the current Nr.
		for _, p := range c.queue[:c.sent] {
			c.out = append(c.out, transmit{Ns: p.ns, Nr: c.nr, Payload: p.payload, Retransmit: true})
			c.stats.Retransmits.Add(1)
		}
		c.ackAt = time.Time{}
		c.rto = min(c.rto*2, c.cfg.RTOCap)
		c.rtoAt = now.Add(c.rto)
	}
	return nil
}

// nextDeadline is when tick must run next; zero when no timer is armed.
func (c *channel) nextDeadline() time.Time {
	switch {
	case c.ackAt.IsZero():
		return c.rtoAt
	case c.rtoAt.IsZero() || c.ackAt.Before(c.rtoAt):
		return c.ackAt
	default:
		return c.rtoAt
	}
}

// takeOutput returns the messages to write, oldest first, and forgets them.
// Call it after the upper layer has reacted to what receive delivered: an
// ack still owed then goes at once as a ZLB when waiting would stall the
// peer, that is when half of our receive window is unacknowledged or when
// our own messages wait for the window (no reply can carry it soon).
func (c *channel) takeOutput() []transmit {
	if !c.ackAt.IsZero() && (c.unacked >= max(int(c.cfg.RecvWindow)/2, 1) || len(c.queue) > c.sent) {
		c.zlb()
	}
	out := c.out
	c.out = nil
	return out
}

// outstanding is the number of messages not yet acknowledged.
func (c *channel) outstanding() int { return len(c.queue) }

// cycle is the time a full retransmission cycle takes: the sum of every
// backoff interval, the linger of section 5.8 after StopCCN.
func (c *channel) cycle() time.Duration {
	var d time.Duration
	rto := c.cfg.RTOInitial
	for range c.cfg.MaxRetries + 1 {
		d += rto
		rto = min(rto*2, c.cfg.RTOCap)
	}
	return d
}
