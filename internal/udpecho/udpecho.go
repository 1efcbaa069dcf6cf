package udpecho

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bras-project/bras/internal/udpio"
)

// Errors of the package.
var (
	// ErrShort: a stats reply shorter than its fixed size.
	ErrShort = errors.New("udpecho: short message")
	// ErrMalformed: a message that is not a stats query or reply.
	ErrMalformed = errors.New("udpecho: malformed message")
)

// Stats query and reply. A query is the 4-octet magic QueryMagic followed by
// the IPv4 address to report on (0.0.0.0: every source); the reply, sent
// back to the querier instead of an echo, is
//
//	0      4        8            16           24
//	+------+--------+------------+------------+
//	| BRR1 | IPv4   | packets    | octets     |
//	+------+--------+------------+------------+
//
// with big-endian counters of the datagrams received from that address
// (queries excluded).
var (
	QueryMagic = [4]byte{'B', 'R', 'Q', '1'}
	ReplyMagic = [4]byte{'B', 'R', 'R', '1'}
)

// QueryLen and ReplyLen are the fixed sizes of the stats messages.
const (
	QueryLen = 8
	ReplyLen = 24
)

// Query asks the server what it received from Addr.
type Query struct {
	Addr netip.Addr // IPv4; the unspecified address asks for the totals
}

// Append appends the query to b.
func (q Query) Append(b []byte) ([]byte, error) {
	if !q.Addr.Is4() {
		return b, fmt.Errorf("udpecho: query address %v: %w", q.Addr, ErrMalformed)
	}
	a := q.Addr.As4()
	b = append(b, QueryMagic[:]...)
	return append(b, a[:]...), nil
}

// ParseQuery decodes a query; a datagram that is not one returns
// ErrMalformed (and is echoed by the server).
func ParseQuery(b []byte) (Query, error) {
	if len(b) != QueryLen || [4]byte(b[0:4]) != QueryMagic {
		return Query{}, ErrMalformed
	}
	return Query{Addr: netip.AddrFrom4([4]byte(b[4:8]))}, nil
}

// Reply is the server's answer to a Query.
type Reply struct {
	Addr    netip.Addr
	Packets uint64
	Octets  uint64
}

// Append appends the reply to b.
func (r Reply) Append(b []byte) ([]byte, error) {
	if !r.Addr.Is4() {
		return b, fmt.Errorf("udpecho: reply address %v: %w", r.Addr, ErrMalformed)
	}
	a := r.Addr.As4()
	b = append(b, ReplyMagic[:]...)
	b = append(b, a[:]...)
	b = binary.BigEndian.AppendUint64(b, r.Packets)
	return binary.BigEndian.AppendUint64(b, r.Octets), nil
}

// ParseReply decodes a reply.
func ParseReply(b []byte) (Reply, error) {
	if len(b) < ReplyLen {
		return Reply{}, fmt.Errorf("udpecho: reply of %d octets: %w", len(b), ErrShort)
	}
	if len(b) != ReplyLen || [4]byte(b[0:4]) != ReplyMagic {
		return Reply{}, fmt.Errorf("udpecho: reply: %w", ErrMalformed)
	}
	return Reply{
		Addr:    netip.AddrFrom4([4]byte(b[4:8])),
		Packets: binary.BigEndian.Uint64(b[8:16]),
		Octets:  binary.BigEndian.Uint64(b[16:24]),
	}, nil
}

// Config configures a Server.
type Config struct {
	// Addr is the UDP address to listen on, e.g. "0.0.0.0:9000", or an
	// IPv6 one, "[2001:db8::2]:9000".
	Addr string
	// Sink counts datagrams without echoing them (a forwarding benchmark's
	// receiving end). Stats queries are answered either way.
	Sink   bool
	Logger *slog.Logger
}

// Stats are a Server's totals.
type Stats struct {
	Packets, Octets uint64 // received, queries excluded
	Echoed          uint64
	Queries         uint64
	SendErrors      uint64
}

type counter struct{ packets, octets uint64 }

// Server echoes UDP datagrams. It reads and writes in batches (recvmmsg,
// sendmmsg) on one goroutine, which also owns the per-source counters.
type Server struct {
	cfg  Config
	log  *slog.Logger
	conn *net.UDPConn
	io   *udpio.Conn

	packets, octets, echoed, queries, sendErrors atomic.Uint64

	mu  sync.Mutex // guards per
	per map[netip.Addr]*counter
}

// Listen opens the server's socket (in the network namespace of the calling
// thread). Run serves it.
func Listen(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("udpecho: listen %q: %w", cfg.Addr, err)
	}
	// An IPv6 address serves IPv6 (the stats queries still name IPv4
	// sources only); anything else IPv4, as before.
	network := "udp4"
	if ua.IP != nil && ua.IP.To4() == nil {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, ua)
	if err != nil {
		return nil, fmt.Errorf("udpecho: %w", err)
	}
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	uc, err := udpio.NewConn(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("udpecho: %w", err)
	}
	return &Server{cfg: cfg, log: cfg.Logger, conn: c, io: uc, per: make(map[netip.Addr]*counter)}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Stats returns the totals.
func (s *Server) Stats() Stats {
	return Stats{Packets: s.packets.Load(), Octets: s.octets.Load(), Echoed: s.echoed.Load(),
		Queries: s.queries.Load(), SendErrors: s.sendErrors.Load()}
}

// Received returns what the server received from addr.
func (s *Server) Received(addr netip.Addr) (packets, octets uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.per[addr.Unmap()]; c != nil {
		return c.packets, c.octets
	}
	return 0, 0
}

// Run serves until ctx is done, then closes the socket.
func (s *Server) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	defer s.conn.Close()
	const batch = 64
	in := udpio.NewBatch(batch, 2048)
	out := udpio.NewBatch(batch, 0)
	replies := make([][]byte, batch)
	for i := range replies {
		replies[i] = make([]byte, 0, ReplyLen)
	}
	for {
		n, err := s.io.ReadBatch(in)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		out.Len = 0
		queries := 0
		s.mu.Lock()
		for i := 0; i < n; i++ {
			d := in.Data(i)
			ua, _ := in.Msgs[i].Addr.(*net.UDPAddr)
			if ua == nil {
				continue
			}
			src := ua.AddrPort().Addr().Unmap()
			if q, err := ParseQuery(d); err == nil {
				s.queries.Add(1)
				r := Reply{Addr: q.Addr}
				if q.Addr.IsUnspecified() {
					r.Packets, r.Octets = s.packets.Load(), s.octets.Load()
				} else if c := s.per[q.Addr]; c != nil {
					r.Packets, r.Octets = c.packets, c.octets
				}
				replies[out.Len], _ = r.Append(replies[out.Len][:0])
				out.Msgs[out.Len].Buffers[0] = replies[out.Len]
				out.Msgs[out.Len].Addr = ua
				out.Len++
				queries++
				continue
			}
			c := s.per[src]
			if c == nil {
				c = &counter{}
				s.per[src] = c
			}
			c.packets++
			c.octets += uint64(len(d))
			s.packets.Add(1)
			s.octets.Add(uint64(len(d)))
			if s.cfg.Sink {
				continue
			}
			out.Msgs[out.Len].Buffers[0] = d
			out.Msgs[out.Len].Addr = ua
			out.Len++
		}
		s.mu.Unlock()
		if out.Len == 0 {
			continue
		}
		sent, err := s.io.WriteBatch(out)
		s.echoed.Add(uint64(max(sent-queries, 0)))
		if err != nil {
			s.sendErrors.Add(uint64(out.Len - sent))
			s.log.Debug("udpecho: send", "err", err)
		}
	}
}

// Ask sends a stats query for addr to the server at server over c and
// waits up to timeout for the reply.
func Ask(c *net.UDPConn, server netip.AddrPort, addr netip.Addr, timeout time.Duration) (Reply, error) {
	q, err := Query{Addr: addr}.Append(nil)
	if err != nil {
		return Reply{}, err
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 64)
	for time.Now().Before(deadline) {
		if _, err := c.WriteToUDPAddrPort(q, server); err != nil {
			return Reply{}, fmt.Errorf("udpecho: ask: %w", err)
		}
		wait := time.Now().Add(200 * time.Millisecond)
		if wait.After(deadline) {
			wait = deadline
		}
		_ = c.SetReadDeadline(wait)
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				break
			}
			if r, err := ParseReply(buf[:n]); err == nil && r.Addr == addr {
				return r, nil
			}
		}
	}
	return Reply{}, fmt.Errorf("udpecho: no stats reply from %v", server)
}
