package ethpw

import (
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/bras-project/bras/l2tp"
)

// DropReason says why a frame was not forwarded.
type DropReason uint8

const (
	DropNoSession  DropReason = iota // the pseudowire is not up
	DropRemoteDown                   // the peer reported its attachment circuit down
	DropLocalDown                    // our attachment interface is down
	DropBadTag                       // a VLAN pseudowire frame without an 802.1Q tag
	DropTruncated                    // longer than the receive buffer
	DropSendError                    // the tunnel refused it
	DropWriteError                   // the interface refused it
	NumDropReasons
)

func (r DropReason) String() string {
	switch r {
	case DropNoSession:
		return "no-session"
	case DropRemoteDown:
		return "remote-down"
	case DropLocalDown:
		return "local-down"
	case DropBadTag:
		return "bad-tag"
	case DropTruncated:
		return "truncated"
	case DropSendError:
		return "send-error"
	case DropWriteError:
		return "write-error"
	}
	return "DropReason(" + strconv.Itoa(int(r)) + ")"
}

// Direction is the way a frame goes.
type Direction uint8

const (
	FromWire Direction = iota // from the attachment circuit into the pseudowire
	ToWire                    // from the pseudowire out of the attachment circuit
)

func (d Direction) String() string {
	if d == ToWire {
		return "to-wire"
	}
	return "from-wire"
}

// counters of one circuit, each way.
type counters struct {
	frames, octets [2]atomic.Uint64
	drops          [2][NumDropReasons]atomic.Uint64
}

func (c *counters) pass(d Direction, n int) {
	c.frames[d].Add(1)
	c.octets[d].Add(uint64(n))
}

func (c *counters) drop(d Direction, r DropReason) { c.drops[d][r].Add(1) }

// circuit is an attachment circuit and the pseudowire session it is bound
// to (nil when none is up).
type circuit struct {
	cfg  Circuit
	port *port
	peer *peer
	sess atomic.Pointer[l2tp.Session]
	c    counters
}

// CircuitStats is a snapshot of a circuit: its state and counters.
type CircuitStats struct {
	Name      string
	Interface string
	VLAN      uint16 // 0: port mode
	PWType    l2tp.PWType
	Peer      string

	Up           bool // the pseudowire session is established
	LocalActive  bool // our attachment interface is up
	RemoteActive bool // the peer's, by its last Circuit Status
	SessionID    uint32
	PeerSession  uint32

	Frames, Octets [2]uint64 // by Direction
	Drops          [2][NumDropReasons]uint64
}

// Dropped is the frames dropped one way for any reason.
func (s CircuitStats) Dropped(d Direction) uint64 {
	var n uint64
	for _, v := range s.Drops[d] {
		n += v
	}
	return n
}

func (c *circuit) stats() CircuitStats {
	s := CircuitStats{Name: c.cfg.Name, Interface: c.cfg.Interface, VLAN: c.cfg.VLAN, PWType: c.cfg.PWType(), Peer: c.cfg.Peer,
		LocalActive: c.port.up.Load()}
	if ss := c.sess.Load(); ss != nil {
		s.Up, s.RemoteActive = true, ss.PeerCircuitActive()
		s.SessionID, s.PeerSession = ss.LocalSessionID(), ss.RemoteSessionID()
	}
	for d := range 2 {
		s.Frames[d], s.Octets[d] = c.c.frames[d].Load(), c.c.octets[d].Load()
		for r := range NumDropReasons {
			s.Drops[d][r] = c.c.drops[d][r].Load()
		}
	}
	return s
}

// LogValue is the counters as log attributes; drop reasons only when
// non-zero.
func (s CircuitStats) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("circuit", s.Name), slog.Bool("up", s.Up), slog.Bool("local_active", s.LocalActive), slog.Bool("remote_active", s.RemoteActive),
		slog.Uint64("from_wire_frames", s.Frames[FromWire]), slog.Uint64("from_wire_octets", s.Octets[FromWire]),
		slog.Uint64("to_wire_frames", s.Frames[ToWire]), slog.Uint64("to_wire_octets", s.Octets[ToWire]),
	}
	for d := range Direction(2) {
		for r := range NumDropReasons {
			if v := s.Drops[d][r]; v != 0 {
				attrs = append(attrs, slog.Uint64("drop_"+d.String()+"_"+r.String(), v))
			}
		}
	}
	return slog.GroupValue(attrs...)
}
