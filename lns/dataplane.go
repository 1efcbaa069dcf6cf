package lns

// The LNS forwarding path in user space (DESIGN.md section 4).
//
// Upstream, subscriber → Internet: the l2tp endpoint's socket reader calls
// Decap for every data message of a session with the PPP frame it carried.
// Decap strips the HDLC address and control field (FF 03) if present, reads
// the PPP protocol, hands non-IP frames (LCP, IPCP, PAP, CHAP...) to the
// control plane, and for IPv4 checks the source address against the
// session's (anti-spoofing), charges the upstream token bucket, counts, and
// copies the packet into a pooled buffer queued for the TUN writer, which
// writes queued packets in batches.
//
// Downstream, Internet → subscriber: one worker per TUN queue reads batches
// of packets into buffers that keep DataHeadroom free octets in front, looks
// the destination up in the address table (no lock), charges the downstream
// bucket, writes the L2TP data header (RFC 2661 section 3.1) and the PPP
// header FF 03 00 21 into the headroom, and sends the batch to the LACs with
// one sendmmsg.
//
// Nothing on either path allocates or takes a lock shared by sessions; every
// drop is counted by reason (DataPlaneStats) and, when a session is known, on
// the session (Flow.Counters).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/tun"
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
)

// dpHDLCAddress and dpHDLCControl are the HDLC-like framing octets (RFC 1662
// section 3.1) that PPP frames over L2TP carry unless
// Address-and-Control-Field-Compression was negotiated.
const (
	dpHDLCAddress = 0xff
	dpHDLCControl = 0x03
)

// DataHeadroom is the room the downstream path keeps in front of every packet
// read from the TUN: the longest data header it writes plus the PPP address,
// control and protocol fields (4 octets). That header is L2TPv2's (flags,
// Length, Tunnel ID, Session ID, Ns, Nr: 12 octets, RFC 2661 section 3.1) or
// L2TPv3's over UDP (flags and Reserved, Session ID, an 8-octet cookie and the
// Default L2-Specific Sublayer: 20 octets, RFC 3931 sections 4.1.2.1 and 4.6).
const DataHeadroom = 24

// DropReason says why the data plane dropped a packet. DropNone means the
// packet was forwarded (or, for a non-IP frame, handed to the control plane).
type DropReason uint8

// Drop reasons, the index of DataPlaneStats.Drops.
const (
	DropNone      DropReason = iota
	DropNoSession            // no session owns the destination address or (tunnel, session)
	DropRateLimit            // the session's token bucket refused it
	DropSpoof                // source address is not the session's (or none assigned yet)
	DropQueueFull            // the TUN write queue was full
	DropMalformed            // truncated or invalid L2TP, PPP or IPv4 header
	DropProtocol             // neither IPv4 nor a frame the control plane takes
	DropTUNWrite             // the kernel refused the packet on the TUN
	DropSend                 // sendmmsg to the LAC failed
	DropControl              // an L2TP control message given to HandleDatagram
	// DropNDFromSubscriber: a Router Advertisement or a Redirect the
	// subscriber sent (RFC 4861 sections 6.1.2, 8.1).
	DropNDFromSubscriber
	// DropTooBig: a segment of a TCP or UDP super-packet read from the
	// TUN (offloads on) longer than the MTU the buffers hold.
	DropTooBig
	NumDropReasons
)

func (r DropReason) String() string {
	switch r {
	case DropNone:
		return "none"
	case DropNoSession:
		return "no_session"
	case DropRateLimit:
		return "rate_limit"
	case DropSpoof:
		return "spoof"
	case DropQueueFull:
		return "queue_full"
	case DropMalformed:
		return "malformed"
	case DropProtocol:
		return "protocol"
	case DropTUNWrite:
		return "tun_write"
	case DropSend:
		return "send"
	case DropControl:
		return "control_message"
	case DropNDFromSubscriber:
		return "nd_from_subscriber"
	case DropTooBig:
		return "too_big"
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// FlowCounters are a session's 64-bit traffic counters. In is from the
// subscriber (RADIUS Acct-Input-*, RFC 2866 section 5.3), Out is towards it.
// Octets are those of the IP packets.
type FlowCounters struct {
	InOctets, InPackets   uint64
	OutOctets, OutPackets uint64
	Drops                 uint64 // spoofed, rate-limited or queue-full, both ways
	// The IPv6 share of the totals above (IPv4 is the rest).
	In6Octets, In6Packets   uint64
	Out6Octets, Out6Packets uint64
}

// FlowConfig describes a session to the data plane.
type FlowConfig struct {
	// LocalTunnelID and LocalSessionID are the LNS's own IDs, which the
	// LAC puts in the data messages it sends (keys for HandleDatagram; may
	// be zero when the l2tp endpoint hands sessions over directly).
	LocalTunnelID, LocalSessionID uint16
	// PeerTunnelID and PeerSessionID are the LAC's IDs (its Assigned
	// Tunnel ID and Assigned Session ID AVPs), written into every data
	// message sent to it.
	PeerTunnelID, PeerSessionID uint16
	// Peer is the LAC's UDP address (the source of its messages).
	Peer netip.AddrPort
	// Sequencing is set when the LAC sent Sequencing Required (RFC 2661
	// section 4.4.6): downstream data messages then carry Ns, counted per
	// session (section 5.4). Ns is taken atomically per packet; with
	// several TUN queues, packets of one session read by different
	// workers may leave a few positions out of Ns order (the kernel keeps
	// each 5-tuple on one queue, so a single flow stays in order).
	Sequencing bool
	// Up and Down are the initial rate limits from the subscriber and
	// towards it; zero means unlimited.
	Up, Down Rate
	// V3, when set, makes the session an L2TPv3 PPP pseudowire (RFC
	// 3931): downstream data messages carry this data header (the LAC's
	// Session ID and cookie) instead of L2TPv2's, PeerTunnelID and
	// PeerSessionID are not used, and the session stays off the fast
	// path (its programs know the L2TPv2 header only).
	V3 *l2tp.DataFraming
	// Owner is the control plane's session, for the Control hook.
	Owner any
}

// Flow is the data-plane state of one session. The LNS makes it with
// NewFlow when the call is up, registers it with DataPlane.Add, passes it to
// Decap for every data message of the session, binds the subscriber address
// with DataPlane.SetAddr after IPCP, and removes it with DataPlane.Remove.
// All methods are safe for concurrent use.
type Flow struct {
	// Read-only after NewFlow.
	localTunnel, localSession uint16
	peerTunnel, peerSession   uint16
	peer                      net.Addr // *net.UDPAddr (*net.IPAddr over IP), boxed once for ipv4.Message.Addr
	peerAddrPort              netip.AddrPort
	seq                       bool
	owner                     any
	v3                        *l2tp.DataFraming // L2TPv3 data header; nil: L2TPv2

	addr     atomic.Uint32 // subscriber IPv4, 0 until SetAddr
	up, down atomic.Pointer[TokenBucket]

	// Upstream counters, written by the L2TP reader (Decap).
	inOctets, inPackets   atomic.Uint64
	in6Octets, in6Packets atomic.Uint64 // the IPv6 share
	lastIn                atomic.Int64
	_                     [64]byte // keep the two directions on separate cache lines
	// Downstream counters, written by the TUN workers.
	outOctets, outPackets   atomic.Uint64
	out6Octets, out6Packets atomic.Uint64 // the IPv6 share
	lastOut                 atomic.Int64
	ns                      atomic.Uint32
	_                       [64]byte
	drops                   atomic.Uint64
	// routes are the Framed-Route prefixes behind the subscriber (RFC
	// 2865 section 5.22): their sources pass the anti-spoofing check.
	routes atomic.Pointer[[]span4]
	// v6 are the IPv6 prefixes of the session (SetIPv6).
	v6 atomic.Pointer[[]netip.Prefix]
	// fast is the flow's entry in the XDP fast path (nil: none);
	// fastDone the counters of an entry already removed.
	fast     atomic.Pointer[fastFlow]
	fastMu   sync.Mutex
	fastDone dataplane.Counters
}

// peerAddrs holds one *net.UDPAddr per LAC address and port (a
// *net.IPAddr per address for L2TPv3 over IP): every flow of a tunnel
// (tens of thousands) shares its LAC's instead of holding a copy. A
// handful of LACs feed an LNS, so it stays small.
var peerAddrs sync.Map // peerAddrKey -> net.Addr

type peerAddrKey struct {
	ap netip.AddrPort
	ip bool
}

func peerAddr(ap netip.AddrPort, overIP bool) net.Addr {
	k := peerAddrKey{ap, overIP}
	if a, ok := peerAddrs.Load(k); ok {
		return a.(net.Addr)
	}
	var a net.Addr = net.UDPAddrFromAddrPort(ap)
	if overIP {
		a = &net.IPAddr{IP: ap.Addr().AsSlice(), Zone: ap.Addr().Zone()}
	}
	v, _ := peerAddrs.LoadOrStore(k, a)
	return v.(net.Addr)
}

// NewFlow makes the data-plane state of a session.
func NewFlow(c FlowConfig) (*Flow, error) {
	if c.V3 != nil {
		if !c.Peer.IsValid() || c.V3.Header.SessionID == 0 {
			return nil, fmt.Errorf("%w: L2TPv3 flow to %v session %d", ErrBadKey, c.Peer, c.V3.Header.SessionID)
		}
		if c.LocalTunnelID != 0 || c.LocalSessionID != 0 {
			return nil, fmt.Errorf("%w: an L2TPv3 flow is found by its session, not by 16-bit IDs", ErrBadKey)
		}
	} else if !c.Peer.IsValid() || c.PeerTunnelID == 0 || c.PeerSessionID == 0 {
		return nil, fmt.Errorf("%w: flow to %v tunnel %d session %d", ErrBadKey, c.Peer, c.PeerTunnelID, c.PeerSessionID)
	}
	f := &Flow{
		localTunnel:  c.LocalTunnelID,
		localSession: c.LocalSessionID,
		peerTunnel:   c.PeerTunnelID,
		peerSession:  c.PeerSessionID,
		peer:         peerAddr(c.Peer, c.V3 != nil && c.V3.Format.Encap == l2tp.EncapIP),
		peerAddrPort: c.Peer,
		seq:          c.Sequencing,
		owner:        c.Owner,
		v3:           c.V3,
	}
	f.SetRates(c.Up, c.Down)
	return f, nil
}

// Owner returns FlowConfig.Owner.
func (f *Flow) Owner() any { return f.owner }

// Peer is the LAC's UDP address.
func (f *Flow) Peer() netip.AddrPort { return f.peerAddrPort }

// PeerIDs are the LAC's tunnel and session IDs.
func (f *Flow) PeerIDs() (tunnel, session uint16) { return f.peerTunnel, f.peerSession }

// Addr is the subscriber address bound by SetAddr, or the zero Addr.
func (f *Flow) Addr() netip.Addr {
	v := f.addr.Load()
	if v == 0 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// SetRates replaces both rate limits at once, for example on a RADIUS CoA
// (RFC 5176). The new buckets start full. The packet path never waits for
// this: it loads the bucket pointers atomically.
func (f *Flow) SetRates(up, down Rate) {
	f.up.Store(NewTokenBucket(up))
	f.down.Store(NewTokenBucket(down))
	f.applyFastRates()
}

// Rates returns the rate limits in force (zero Rate: unlimited).
func (f *Flow) Rates() (up, down Rate) {
	if b := f.up.Load(); b != nil {
		up = b.Rate()
	}
	if b := f.down.Load(); b != nil {
		down = b.Rate()
	}
	return up, down
}

// Counters returns a snapshot of the session's counters, for accounting:
// what the user-space engine and the fast path forwarded, summed.
func (f *Flow) Counters() FlowCounters {
	x := f.fastCounters()
	return FlowCounters{
		InOctets:    f.inOctets.Load() + x.UpOctets,
		InPackets:   f.inPackets.Load() + x.UpPackets,
		OutOctets:   f.outOctets.Load() + x.DownOctets,
		OutPackets:  f.outPackets.Load() + x.DownPackets,
		Drops:       f.drops.Load() + x.Drops,
		In6Octets:   f.in6Octets.Load() + x.Up6Octets,
		In6Packets:  f.in6Packets.Load() + x.Up6Packets,
		Out6Octets:  f.out6Octets.Load() + x.Down6Octets,
		Out6Packets: f.out6Packets.Load() + x.Down6Packets,
	}
}

// TUNQueue is one queue of the TUN device (*tun.Queue): see package internal/tun
// for the contract of each method.
type TUNQueue interface {
	ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error)
	WriteBatch(bufs [][]byte, offset int) (int, error)
	SetReadDeadline(t time.Time) error
}

// TUNQueues returns the queues of a TUN device as DataPlaneConfig.TUN wants
// them.
func TUNQueues(dev *tun.Device) []TUNQueue {
	var qs []TUNQueue
	for _, q := range dev.Queues() {
		qs = append(qs, q)
	}
	return qs
}

// BatchWriter sends a batch of UDP datagrams (*udpio.Conn on the endpoint's
// socket bound to port 1701), and of L2TPv3 over IP when the LNS takes it
// (ipSplitWriter).
type BatchWriter interface {
	WriteBatch(b *udpio.Batch) (int, error)
}

// RouteInstaller installs and removes the route of a subscriber address
// through the TUN device (*tun.Link).
type RouteInstaller interface {
	AddRoute(dst netip.Prefix) error
	DelRoute(dst netip.Prefix) error
}

// DataPlaneConfig configures a DataPlane.
type DataPlaneConfig struct {
	// TUN holds the device's queues (IFF_MULTI_QUEUE): a downstream
	// worker reads each, and an upstream writer writes to each, all
	// writers taking packets from the one upstream queue. At least one is
	// required.
	TUN []TUNQueue
	// Conn sends downstream data messages to the LACs; required.
	Conn BatchWriter
	// Routes, when set, gets a /32 route per subscriber address from
	// SetAddr and loses it on Remove (a netlink round trip on the caller's
	// goroutine). Leave it nil when a route per address pool is installed
	// instead.
	Routes RouteInstaller
	// Control receives every non-IPv4 PPP frame of a session (LCP, IPCP,
	// PAP, CHAP, ...), on the goroutine that called Decap. frame starts at
	// the PPP protocol field (address and control field removed) and
	// aliases the caller's receive buffer: copy what is kept, and do not
	// block (queue it on a bounded channel and drop when full). Without
	// Control such frames are dropped as DropProtocol.
	Control func(f *Flow, proto ppp.Protocol, frame []byte)
	// Now is the clock (time.Now by default); rate limits and idle times
	// are measured with it.
	Now func() time.Time
	// Logger gets worker errors, never a line per packet.
	Logger *slog.Logger
	// MaxSessions sizes the lookup tables (default 65536; they grow).
	MaxSessions int
	// Batch is the number of packets per TUN read, per sendmmsg and per
	// TUN write round (default 128).
	Batch int
	// QueueLen bounds the upstream packets waiting for (or being written
	// by) the TUN writers (default 1024, rounded up to a power of two);
	// beyond it packets are dropped as DropQueueFull.
	QueueLen int
	// MTU is the largest IP packet carried (default 1500).
	MTU int
	// Fast, when set, is the XDP fast path every session is mirrored
	// into (see fastpath.go); Local is the tunnels' local UDP address (an
	// unspecified address is resolved per LAC through the routing table),
	// and MSS the TCP MSS clamp of SYNs both ways, in the fast path and
	// here (0: none).
	Fast  *dataplane.LNSPath
	Local netip.AddrPort
	MSS   uint16
}

// DataPlaneStats are the data plane's global counters.
type DataPlaneStats struct {
	TUNWritten   uint64 // upstream IPv4 packets the TUN accepted
	Encapsulated uint64 // downstream packets sent to LACs
	// The octets of those IP packets (without the L2TP and PPP headers).
	TUNBytes, EncapsulatedBytes uint64
	Control                     uint64 // non-IP PPP frames handed to DataPlaneConfig.Control
	MSSClamped                  uint64 // TCP SYNs whose MSS was lowered (DataPlaneConfig.MSS)
	Drops                       [NumDropReasons]uint64
	// With TUN offloads ([tun] offload): super-packets read and the
	// packets split out of them (downstream), super-packets written and
	// the packets coalesced into them (upstream). The packet counters
	// above and the sessions' count the packets one by one, as the
	// subscriber sees them.
	GSOReads, Segments   uint64
	GSOWrites, Coalesced uint64
}

// tunStats is a TUN queue with offload counters (*tun.Queue).
type tunStats interface{ Stats() tun.QueueStats }

// DataPlane is the LNS forwarding path. Make it with NewDataPlane, run it
// with Run, and feed it with Decap (or HandleDatagram). Wiring in the LNS:
//
//	conn := the *net.UDPConn bound to :1701 that the l2tp.Endpoint reads
//	dev, _ := tun.Open("bras%d", runtime.GOMAXPROCS(0))     // internal/tun
//	link, _ := tun.NewLink(nil, dev.Name())
//	link.Up(mtu); link.AddAddr(lnsAddr)                     // and a pool route, or Routes: link
//	uc, _ := udpio.NewConn(conn)                            // internal/udpio
//	dp, _ := lns.NewDataPlane(lns.DataPlaneConfig{TUN: lns.TUNQueues(dev),
//		Conn: uc, Routes: link, Control: <copy the frame, post it to the session's shard>})
//	go dp.Run(ctx)
//	l2tp Config.Data = func(t *l2tp.Tunnel, s *l2tp.Session, h l2tp.Header, payload []byte) {
//		dp.Decap(<the session's *Flow, from s.Value()>, payload)
//	}
//
// Per call: f, _ := lns.NewFlow(lns.FlowConfig{...}); dp.Add(f). After
// IPCP: dp.SetAddr(f, addr) and f.SetRates(up, down) from RADIUS. CoA:
// f.SetRates. Accounting: f.Counters(). Idle-Timeout: dp.Idle(f) or
// dp.IdleIn(f). Call down: dp.Remove(f).
type DataPlane struct {
	cfg   DataPlaneConfig
	log   *slog.Logger
	epoch time.Time
	fast  bool // cfg.Now is time.Now: read only the monotonic clock
	addrs *AddrTable
	v6    *PrefixTable6
	byID  *SessionTable
	// routed holds the Framed-Route prefixes of every session, looked up
	// when the exact address table misses (see framedroute.go).
	routed   atomic.Pointer[[]routedSpan]
	routedMu sync.Mutex
	up       *upRing // packets waiting for the TUN writers
	stats    [NumDropReasons]atomic.Uint64
	tunOK    atomic.Uint64
	encOK    atomic.Uint64
	tunBytes atomic.Uint64
	encBytes atomic.Uint64
	ctrlOK   atomic.Uint64
	mssOK    atomic.Uint64
	// lastLog is the clock of the last debug line (logAllowed).
	lastLog atomic.Int64
	xdp     fastState
}

// NewDataPlane checks cfg, fills in the defaults and allocates every buffer
// the upstream queue will use.
func NewDataPlane(cfg DataPlaneConfig) (*DataPlane, error) {
	if len(cfg.TUN) == 0 || cfg.Conn == nil {
		return nil, errors.New("lns: data plane needs a TUN queue and a UDP conn")
	}
	fast := cfg.Now == nil
	if fast {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 65536
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 128
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1024
	}
	if cfg.MTU <= 0 {
		cfg.MTU = 1500
	}
	if cfg.MTU < 68 || cfg.MTU > 65535-DataHeadroom {
		return nil, fmt.Errorf("lns: data plane MTU %d out of range", cfg.MTU)
	}
	d := &DataPlane{
		cfg:   cfg,
		log:   cfg.Logger,
		epoch: cfg.Now(),
		fast:  fast,
		addrs: NewAddrTable(cfg.MaxSessions),
		v6:    NewPrefixTable6(cfg.MaxSessions),
		byID:  NewSessionTable(cfg.MaxSessions),
	}
	d.up = newUpRing(cfg.QueueLen, cfg.MTU, len(cfg.TUN))
	return d, nil
}

// clock is the data plane's time in nanoseconds since NewDataPlane. With the
// default clock it is time.Since, which reads only the monotonic
// clock: about a third of the cost of time.Now, which reads both clocks,
// and it runs once per upstream packet.
func (d *DataPlane) clock() int64 {
	if d.fast {
		return int64(time.Since(d.epoch))
	}
	return int64(d.cfg.Now().Sub(d.epoch))
}

// Add registers f: HandleDatagram finds it by its local IDs (when set), and
// its idle time starts now.
func (d *DataPlane) Add(f *Flow) error {
	now := d.clock()
	f.lastIn.Store(now)
	f.lastOut.Store(now)
	if f.localTunnel == 0 && f.localSession == 0 {
		return nil
	}
	if err := d.byID.Insert(f.localTunnel, f.localSession, f); err != nil {
		return err
	}
	d.addFast(f)
	return nil
}

// SetAddr binds the subscriber address addr (from IPCP, RFC 1332 section
// 3.3) to f: downstream packets to addr go to f, and f's upstream packets
// must come from addr. A previous address of f is unbound first. With
// DataPlaneConfig.Routes it installs the /32 route.
func (d *DataPlane) SetAddr(f *Flow, addr netip.Addr) error {
	if old := f.Addr(); old.IsValid() && old != addr.Unmap() {
		d.unbind(f, old)
	}
	if err := d.addrs.Insert(addr, f); err != nil {
		return err
	}
	if d.cfg.Routes != nil {
		if err := d.cfg.Routes.AddRoute(netip.PrefixFrom(addr.Unmap(), 32)); err != nil {
			d.addrs.Delete(addr, f)
			return err
		}
	}
	k, _ := tableAddrKey(addr) // valid: Insert accepted it
	f.addr.Store(k)
	if ff := f.fast.Load(); ff != nil {
		if err := ff.p.SetAddr(ff.h, addr); err != nil {
			d.log.Warn("lns: fast path: binding the subscriber address; the session forwards in user space", "addr", addr, "err", err)
			d.removeFast(f)
		}
	}
	return nil
}

// Remove unregisters f: its address and IDs are unbound (and its route
// removed). Packets already in flight may still be counted on f.
func (d *DataPlane) Remove(f *Flow) {
	d.removeFast(f)
	if a := f.Addr(); a.IsValid() {
		d.unbind(f, a)
	}
	d.dropRoutes(f)
	d.unbind6(f)
	if f.localTunnel != 0 || f.localSession != 0 {
		d.byID.Delete(f.localTunnel, f.localSession, f)
	}
}

func (d *DataPlane) unbind(f *Flow, a netip.Addr) {
	f.addr.Store(0)
	if d.addrs.Delete(a, f) && d.cfg.Routes != nil {
		if err := d.cfg.Routes.DelRoute(netip.PrefixFrom(a, 32)); err != nil {
			d.log.Warn("lns: data plane: removing subscriber route", "addr", a, "err", err)
		}
	}
}

// Lookup returns the flow bound to a subscriber address, or nil.
func (d *DataPlane) Lookup(addr netip.Addr) *Flow { return d.addrs.Lookup(addr) }

// Idle is how long f has forwarded no packet in either direction (RADIUS
// Idle-Timeout, RFC 2865 section 5.28, counted from Add).
func (d *DataPlane) Idle(f *Flow) time.Duration {
	d.touchFast(f)
	last := max(f.lastIn.Load(), f.lastOut.Load())
	return time.Duration(d.clock() - last)
}

// IdleIn is how long the subscriber has sent nothing that was forwarded, for
// operators whose Idle-Timeout ignores downstream traffic.
func (d *DataPlane) IdleIn(f *Flow) time.Duration {
	d.touchFast(f)
	return time.Duration(d.clock() - f.lastIn.Load())
}

// Stats returns a snapshot of the global counters.
func (d *DataPlane) Stats() DataPlaneStats {
	s := DataPlaneStats{TUNWritten: d.tunOK.Load(), Encapsulated: d.encOK.Load(), Control: d.ctrlOK.Load(), MSSClamped: d.mssOK.Load(),
		TUNBytes: d.tunBytes.Load(), EncapsulatedBytes: d.encBytes.Load()}
	for i := range s.Drops {
		s.Drops[i] = d.stats[i].Load()
	}
	for _, q := range d.cfg.TUN {
		if q, ok := q.(tunStats); ok {
			o := q.Stats()
			s.GSOReads += o.GSOReads
			s.Segments += o.Segments
			s.GSOWrites += o.GSOWrites
			s.Coalesced += o.Coalesced
			s.Drops[DropTooBig] += o.TooBig
			s.Drops[DropMalformed] += o.Malformed
		}
	}
	return s
}

// logAllowed rate-limits the data plane's debug lines to one a second: a
// persistent error must not log per batch.
func (d *DataPlane) logAllowed(now int64) bool {
	last := d.lastLog.Load()
	return now-last >= int64(time.Second) && d.lastLog.CompareAndSwap(last, now)
}

func (d *DataPlane) drop(f *Flow, r DropReason) DropReason {
	d.stats[r].Add(1)
	if f != nil {
		f.drops.Add(1)
	}
	return r
}

// HandleDatagram takes a whole L2TP data message as received on the UDP
// socket, finds its session by the Tunnel ID and Session ID of the header
// (RFC 2661 section 3.1) and calls Decap. It is for callers without an l2tp
// endpoint in front (tests, benchmarks); a control message is dropped as
// DropControl.
func (d *DataPlane) HandleDatagram(b []byte) DropReason {
	h, payload, err := l2tp.ParseHeader(b)
	if err != nil {
		return d.drop(nil, DropMalformed)
	}
	if h.Control {
		return d.drop(nil, DropControl)
	}
	f := d.byID.Lookup(h.TunnelID, h.SessionID)
	if f == nil {
		return d.drop(nil, DropNoSession)
	}
	return d.Decap(f, payload)
}

// Decap takes the PPP frame of one data message of f's session (the payload
// after the L2TP header, as l2tp.ParseHeader returns it). An IPv4 packet is
// copied and queued for the TUN; any other protocol goes to DataPlaneConfig.Control.
// It returns DropNone or why the frame was dropped (also counted). It does
// not keep payload, allocates nothing, and never blocks. It may be called
// from several goroutines, also for the same flow.
func (d *DataPlane) Decap(f *Flow, payload []byte) DropReason {
	if f == nil {
		return d.drop(nil, DropNoSession)
	}
	p := payload
	// RFC 1662 section 3.1 framing, kept over L2TP unless ACFC.
	if len(p) >= 2 && p[0] == dpHDLCAddress && p[1] == dpHDLCControl {
		p = p[2:]
	}
	// Protocol field, RFC 1661 section 2: one octet when compressed
	// (PFC, section 6.5: the low bit of the first octet is 1).
	if len(p) < 1 {
		return d.drop(f, DropMalformed)
	}
	var proto ppp.Protocol
	var ip []byte
	if p[0]&1 == 1 {
		proto, ip = ppp.Protocol(p[0]), p[1:]
	} else {
		if len(p) < 2 {
			return d.drop(f, DropMalformed)
		}
		proto, ip = ppp.Protocol(binary.BigEndian.Uint16(p[0:2])), p[2:]
	}
	if proto == ppp.ProtoIPv6 {
		return d.decap6(f, p, ip)
	}
	if proto != ppp.ProtoIPv4 {
		return d.control(f, proto, p)
	}
	n, ok := dpIPv4Len(ip)
	if !ok {
		return d.drop(f, DropMalformed)
	}
	ip = ip[:n]
	// Anti-spoofing: the source must be the address IPCP gave this
	// session (a session without one sends no IPv4).
	if src := binary.BigEndian.Uint32(ip[12:16]); src == 0 || (src != f.addr.Load() && !f.routedFrom(src)) {
		return d.drop(f, DropSpoof)
	}
	return d.queueUp(f, ip, false)
}

// queueUp forwards an upstream IP packet (IPv6 when v6) of f that passed
// its checks: within the MTU, within the session's rate, MSS clamped, onto
// the TUN writers' queue, counted.
func (d *DataPlane) queueUp(f *Flow, ip []byte, v6 bool) DropReason {
	n := len(ip)
	if n > d.cfg.MTU {
		return d.drop(f, DropMalformed)
	}
	now := d.clock()
	if !f.up.Load().Allow(now, n) {
		return d.drop(f, DropRateLimit)
	}
	if v6 && d.clampMSS6(ip) || !v6 && d.cfg.MSS != 0 && dataplane.ClampMSS(ip, d.cfg.MSS) {
		d.mssOK.Add(1)
	}
	if !d.up.put(ip) {
		return d.drop(f, DropQueueFull)
	}
	f.inPackets.Add(1)
	f.inOctets.Add(uint64(n))
	if v6 {
		f.in6Packets.Add(1)
		f.in6Octets.Add(uint64(n))
	}
	f.lastIn.Store(now)
	return DropNone
}

// dpIPv4Len validates the IPv4 header of RFC 791 section 3.1 at the start of
// b and returns the packet's Total Length.
func dpIPv4Len(b []byte) (int, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return 0, false
	}
	ihl := int(b[0]&0x0f) * 4
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || n < ihl || n > len(b) {
		return 0, false
	}
	return n, true
}

// Run runs, for every TUN queue, an upstream writer and a downstream worker
// until ctx is cancelled (then it returns nil) or one of them fails. It is
// called once: on return it has moved the queues' read deadlines into the
// past.
func (d *DataPlane) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for i, q := range d.cfg.TUN {
		g.Go(func() error {
			if err := d.writeTUN(ctx, q); err != nil {
				return fmt.Errorf("lns: data plane: TUN queue %d: %w", i, err)
			}
			return nil
		})
		w := newEncapWorker(d)
		g.Go(func() error {
			if err := w.run(ctx, q); err != nil {
				return fmt.Errorf("lns: data plane: TUN queue %d: %w", i, err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-ctx.Done()
		// Release the workers blocked in ReadBatch.
		for _, q := range d.cfg.TUN {
			_ = q.SetReadDeadline(time.Unix(1, 0))
		}
		return nil
	})
	return g.Wait()
}

// writeTUN writes the upstream queue to the TUN in batches: it takes
// whatever is queued, up to the batch size, writes it all in one poller
// round and gives the slots back; when the queue is empty it sleeps until a
// producer wakes it.
func (d *DataPlane) writeTUN(ctx context.Context, q TUNQueue) error {
	pos := make([]uint64, d.cfg.Batch)
	bufs := make([][]byte, 0, d.cfg.Batch)
	done := ctx.Done()
	for {
		select {
		case <-done:
			return nil
		default:
		}
		n := d.up.take(pos)
		if n == 0 {
			if !d.up.wait(done) {
				return nil
			}
			continue
		}
		bufs = bufs[:0]
		for _, p := range pos[:n] {
			bufs = append(bufs, d.up.data(p))
		}
		w, err := q.WriteBatch(bufs, 0)
		d.tunOK.Add(uint64(w))
		var octets int
		for _, b := range bufs[:w] {
			octets += len(b)
		}
		d.tunBytes.Add(uint64(octets))
		if bad := n - w; bad > 0 {
			d.stats[DropTUNWrite].Add(uint64(bad))
		}
		for i, p := range pos[:n] {
			bufs[i] = nil
			d.up.release(p)
		}
		// A closed queue is fatal; the kernel refusing a packet is not
		// (WriteBatch tried the rest, and the drop is counted above).
		if err != nil && ctx.Err() == nil && errors.Is(err, tun.ErrClosed) {
			return err
		}
	}
}

// upRing is the upstream queue between Decap (producers: the L2TP socket
// readers) and the TUN writers (consumers). It is D. Vyukov's bounded
// multi-producer multi-consumer array queue, with the packet buffers inside
// the slots: a producer claims a slot with one compare-and-swap on tail,
// copies the packet in and publishes it by storing the slot's sequence
// number; a consumer claims published slots with a compare-and-swap on head
// and hands them back (release) once the TUN has taken the packets. No lock
// is shared by the sessions on this path (a Go channel would take its mutex
// twice per packet), nothing is allocated, and a full ring is a drop, never
// a wait.
//
// A consumer that finds the ring empty registers as a sleeper, checks again
// and blocks on wake; a producer that publishes while a consumer sleeps
// sends it a token. Both sides store then load sequentially consistent
// atomics, so a wake-up cannot be lost; under load nobody sleeps and the
// channel is not touched.
type upRing struct {
	slots    []upSlot
	mask     uint64
	_        [48]byte
	tail     atomic.Uint64 // next position a producer claims
	_        [56]byte
	head     atomic.Uint64 // next position a consumer claims
	_        [56]byte
	sleepers atomic.Int32
	wake     chan struct{}
}

type upSlot struct {
	// seq is pos when the slot is free for the producer of position
	// pos, pos+1 once that producer published it, and pos+len(slots)
	// when the consumer released it for the next lap.
	seq atomic.Uint64
	n   int
	buf []byte
}

// newUpRing makes a ring of at least size slots of mtu octets each, for the
// given number of consumers.
func newUpRing(size, mtu, consumers int) *upRing {
	n := 1
	for n < size {
		n <<= 1
	}
	r := &upRing{slots: make([]upSlot, n), mask: uint64(n - 1), wake: make(chan struct{}, consumers)}
	mem := make([]byte, n*mtu)
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
		r.slots[i].buf = mem[i*mtu : (i+1)*mtu : (i+1)*mtu]
	}
	return r
}

// put copies p (at most the slot size) into the ring; false when full.
func (r *upRing) put(p []byte) bool {
	pos := r.tail.Load()
	for {
		s := &r.slots[pos&r.mask]
		dif := int64(s.seq.Load() - pos)
		switch {
		case dif == 0:
			if !r.tail.CompareAndSwap(pos, pos+1) {
				pos = r.tail.Load()
				continue
			}
			s.n = copy(s.buf, p)
			s.seq.Store(pos + 1)
			if r.sleepers.Load() > 0 {
				select {
				case r.wake <- struct{}{}:
				default:
				}
			}
			return true
		case dif < 0:
			return false // the slot of this lap is still queued or being written
		default:
			pos = r.tail.Load() // another producer took it
		}
	}
}

// take claims up to len(out) published slots and stores their positions in
// out. The caller reads them with data and must release every one.
func (r *upRing) take(out []uint64) int {
	n := 0
	pos := r.head.Load()
	for n < len(out) {
		s := &r.slots[pos&r.mask]
		dif := int64(s.seq.Load() - (pos + 1))
		switch {
		case dif == 0:
			if r.head.CompareAndSwap(pos, pos+1) {
				out[n] = pos
				n++
				pos++
			} else {
				pos = r.head.Load()
			}
		case dif < 0:
			return n // empty
		default:
			pos = r.head.Load() // another consumer took it
		}
	}
	return n
}

// data is the packet in the claimed slot of position pos.
func (r *upRing) data(pos uint64) []byte {
	s := &r.slots[pos&r.mask]
	return s.buf[:s.n]
}

// release hands the slot of position pos back to the producers of the next
// lap.
func (r *upRing) release(pos uint64) { r.slots[pos&r.mask].seq.Store(pos + r.mask + 1) }

// wait blocks until a producer may have published something, or done is
// closed (then it returns false).
func (r *upRing) wait(done <-chan struct{}) bool {
	r.sleepers.Add(1)
	defer r.sleepers.Add(-1)
	pos := r.head.Load()
	if r.slots[pos&r.mask].seq.Load() == pos+1 {
		return true // published between take and now
	}
	select {
	case <-r.wake:
		return true
	case <-done:
		return false
	}
}

// encapWorker is the state of one downstream worker, allocated once.
type encapWorker struct {
	d     *DataPlane
	bufs  [][]byte // DataHeadroom + MTU each
	sizes []int
	ipLen []int // the IP packet's octets of each message of out
	out   *udpio.Batch
}

func newEncapWorker(d *DataPlane) *encapWorker {
	n, size := d.cfg.Batch, DataHeadroom+d.cfg.MTU
	w := &encapWorker{d: d, bufs: make([][]byte, n), sizes: make([]int, n), ipLen: make([]int, n), out: udpio.NewBatch(n, 0)}
	mem := make([]byte, n*size)
	for i := range w.bufs {
		w.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
	}
	return w
}

func (w *encapWorker) run(ctx context.Context, q TUNQueue) error {
	for {
		n, err := q.ReadBatch(w.bufs, w.sizes, DataHeadroom)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return err
		}
		w.forward(n)
	}
}

// forward encapsulates the n packets just read and sends them.
func (w *encapWorker) forward(n int) {
	d := w.d
	now := d.clock()
	k := 0
	for i := 0; i < n; i++ {
		f, msg, r := d.encap(w.bufs[i], w.sizes[i], now)
		if r != DropNone {
			continue // counted by encap
		}
		w.out.Msgs[k].Buffers[0] = msg
		w.out.Msgs[k].Addr = f.peer
		w.ipLen[k] = w.sizes[i]
		k++
	}
	if k == 0 {
		return
	}
	w.out.Len = k
	sent, err := d.cfg.Conn.WriteBatch(w.out)
	d.encOK.Add(uint64(sent))
	var octets int
	for _, l := range w.ipLen[:sent] {
		octets += l
	}
	d.encBytes.Add(uint64(octets))
	if sent < k {
		d.stats[DropSend].Add(uint64(k - sent))
		if err != nil && d.logAllowed(now) {
			d.log.Debug("lns: data plane: sendmmsg", "err", err, "dropped", k-sent)
		}
	}
	for i := 0; i < k; i++ {
		w.out.Msgs[i].Addr = nil
	}
}

// encap turns the packet read into buf[DataHeadroom:DataHeadroom+size] into an L2TP
// data message in place: the returned message is a slice of buf that starts
// in the headroom (it aliases buf). It counts the packet, or the drop.
func (d *DataPlane) encap(buf []byte, size int, now int64) (*Flow, []byte, DropReason) {
	if size <= 0 || DataHeadroom+size > len(buf) {
		return nil, nil, d.drop(nil, DropMalformed)
	}
	ip := buf[DataHeadroom : DataHeadroom+size]
	var f *Flow
	var n int
	proto := ppp.ProtoIPv4 // RFC 1332 section 3
	switch {
	case len(ip) >= 1 && ip[0]>>4 == 6:
		var r DropReason
		if f, n, r = d.encap6(ip); f == nil {
			return nil, nil, r
		}
		proto = ppp.ProtoIPv6 // RFC 5072 section 5
	case len(ip) >= 1 && ip[0]>>4 != 4:
		return nil, nil, d.drop(nil, DropProtocol)
	default:
		var ok bool
		if n, ok = dpIPv4Len(ip); !ok {
			return nil, nil, d.drop(nil, DropMalformed)
		}
		dst := binary.BigEndian.Uint32(ip[16:20])
		if f = d.addrs.Lookup4(dst); f == nil {
			if f = d.routedLookup(dst); f == nil {
				return nil, nil, d.drop(nil, DropNoSession)
			}
		}
	}
	if !f.down.Load().Allow(now, n) {
		return f, nil, d.drop(f, DropRateLimit)
	}
	if proto == ppp.ProtoIPv4 && d.cfg.MSS != 0 && dataplane.ClampMSS(ip[:n], d.cfg.MSS) {
		d.mssOK.Add(1)
	}
	start, err := f.appendHeader(buf[:DataHeadroom-4], 4+n)
	if err != nil {
		return f, nil, d.drop(f, DropMalformed)
	}
	hdr := buf[DataHeadroom-4 : DataHeadroom]
	hdr[0], hdr[1] = dpHDLCAddress, dpHDLCControl
	binary.BigEndian.PutUint16(hdr[2:4], uint16(proto))
	f.outPackets.Add(1)
	f.outOctets.Add(uint64(n))
	if proto == ppp.ProtoIPv6 {
		f.out6Packets.Add(1)
		f.out6Octets.Add(uint64(n))
	}
	f.lastOut.Store(now)
	return f, buf[start : DataHeadroom+n], DropNone
}
