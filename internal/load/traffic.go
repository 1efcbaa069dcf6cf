package load

import (
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/bras-project/bras/internal/udpecho"
	"github.com/bras-project/bras/pppoe"
)

// trafficState is the senders of a run.
type trafficState struct {
	stop       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex // guards the fields below
	first, end time.Time  // first probe sent; senders stopped
	// perSecond holds the probes delivered back in each whole second
	// since the first was sent.
	perSecond []uint64
}

// srcPort is subscriber i's UDP source port.
func srcPort(i int) uint16 { return uint16(20000 + i%40000) }

func (l *Load) startTraffic() {
	t := &l.traffic
	t.stop = make(chan struct{})
	if !l.cfg.Traffic.enabled() {
		return
	}
	t.wg.Add(1)
	go func() { defer t.wg.Done(); l.sample() }()
	if !l.cfg.Traffic.Flood {
		t.wg.Add(1)
		go func() { defer t.wg.Done(); l.paced() }()
		return
	}
	n := l.cfg.Traffic.FloodWorkers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	for w := range n {
		t.wg.Add(1)
		go func() { defer t.wg.Done(); l.flood(w, n) }()
	}
}

// sample records the probes delivered back in each second, from the
// first probe sent until the senders stop.
func (l *Load) sample() {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var next time.Time
	var last uint64
	for {
		select {
		case <-l.traffic.stop:
			return
		case now := <-tick.C:
			t := &l.traffic
			t.mu.Lock()
			first := t.first
			t.mu.Unlock()
			if first.IsZero() {
				continue
			}
			if next.IsZero() {
				next = first.Add(time.Second)
			}
			if now.Before(next) {
				continue
			}
			rx := l.received.Load()
			t.mu.Lock()
			t.perSecond = append(t.perSecond, rx-last)
			t.mu.Unlock()
			last = rx
			next = next.Add(time.Second)
		}
	}
}

func (l *Load) markFirst() {
	t := &l.traffic
	t.mu.Lock()
	if t.first.IsZero() {
		t.first = time.Now()
	}
	t.mu.Unlock()
}

// prober builds probe packets into one reused buffer.
type prober struct {
	l       *Load
	buf     []byte
	payload []byte
}

func newProber(l *Load) *prober {
	size := l.cfg.Traffic.Size
	return &prober{l: l, buf: make([]byte, 0, 2+size+ipv6HeaderLen-ipv4HeaderLen), payload: make([]byte, size-ipv4HeaderLen-udpHeaderLen)}
}

// family is a probe's IP version.
type family uint8

const (
	fam4 family = iota
	fam6
)

// wants reports whether s sends probes of family f now: IPv4 once up,
// IPv6 once its IPv6 set-up is done, each when it has a target.
func (p *prober) wants(s *sub, f family) bool {
	if f == fam6 {
		return p.l.cfg.Traffic.Target6.IsValid() && s.addr6.Load() != nil
	}
	return p.l.cfg.Traffic.Target.IsValid()
}

// build makes s's next probe of family f as a PPP frame (Protocol IPv4,
// RFC 1332 section 3, or IPv6, RFC 5072 section 5) in the prober's
// buffer, valid until the next call. IPv6 probes alternate between the
// SLAAC address and the delegated prefix.
func (p *prober) build(s *sub, f family, now time.Time) []byte {
	seq := &s.txSeq
	if f == fam6 {
		seq = &s.txSeq6
	}
	*seq++
	// Written in place: the payload keeps its padding after the header.
	_, _ = Probe{Session: uint32(s.idx), Seq: *seq, Sent: now.UnixNano()}.Append(p.payload[:0])
	u := UDP{Src: netip.AddrPortFrom(s.local, srcPort(s.idx)), Dst: p.l.cfg.Traffic.Target, Payload: p.payload}
	proto := byte(0x21)
	if f == fam6 {
		a := s.addr6.Load()
		src := a.SLAAC
		if *seq%2 == 0 {
			src = a.delegatedHost()
		}
		u.Src, u.Dst, proto = netip.AddrPortFrom(src, srcPort(s.idx)), p.l.cfg.Traffic.Target6, 0x57
	}
	b, _ := u.Append(append(p.buf[:0], 0x00, proto)) // one family and a valid size: cannot fail
	p.buf = b
	return b
}

// unbuild gives back the sequence number of a probe that was not sent.
func unbuild(s *sub, f family) {
	if f == fam6 {
		s.txSeq6--
	} else {
		s.txSeq--
	}
}

// counted adds n probes of family f to the sent counters.
func (l *Load) counted(f family, n int) {
	size := uint64(l.cfg.Traffic.Size)
	if f == fam6 {
		l.sent6.Add(uint64(n))
		l.sentOctets6.Add(uint64(n) * (size + ipv6HeaderLen - ipv4HeaderLen))
		return
	}
	l.sent.Add(uint64(n))
	l.sentOctets.Add(uint64(n) * size)
}

// send sends s's next probe; it reports false when the session is gone.
func (p *prober) send(s *sub, f family, now time.Time) bool {
	if !s.up.Load() {
		return false
	}
	if s.cs.Send(p.build(s, f, now)) != nil {
		unbuild(s, f)
		return false
	}
	p.l.counted(f, 1)
	return true
}

// paced sends Traffic.PPS probes per second on every session that is up,
// round robin, from one goroutine.
func (l *Load) paced() {
	bt := newBatcher(l)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	budget := 0.0
	cursor := 0
	for {
		select {
		case <-l.traffic.stop:
			return
		case now := <-tick.C:
			l.upMu.Lock()
			ups := l.upList[:len(l.upList):len(l.upList)]
			l.upMu.Unlock()
			rate := l.cfg.Traffic.PPS * float64(len(ups))
			if l.cfg.Traffic.TotalPPS > 0 {
				rate = l.cfg.Traffic.TotalPPS
			}
			budget += now.Sub(last).Seconds() * rate
			last = now
			if len(ups) == 0 {
				budget = 0
				continue
			}
			// Skip sessions that went down, but give up after one lap.
			for miss := 0; budget >= 1 && miss < len(ups); {
				s := ups[cursor%len(ups)]
				cursor++
				// A round: the session's IPv4 probe, then its IPv6 one.
				sent := false
				for _, f := range [...]family{fam4, fam6} {
					if bt.p.wants(s, f) && bt.send(s, f, now) {
						sent = true
					}
				}
				if !sent {
					miss++
					continue
				}
				miss = 0
				budget--
				l.markFirst()
			}
			bt.flush()
			budget = min(budget, rate) // at most a second's worth owed
		}
	}
}

// flood sends as fast as it can, once every set-up is done, over the
// sessions whose index is w modulo n.
func (l *Load) flood(w, n int) {
	select {
	case <-l.setupDone:
	case <-l.traffic.stop:
		return
	}
	l.upMu.Lock()
	var mine []*sub
	for _, s := range l.upList {
		if s.idx%n == w {
			mine = append(mine, s)
		}
	}
	l.upMu.Unlock()
	if len(mine) == 0 {
		return
	}
	l.markFirst()
	bt := newBatcher(l)
	defer bt.flush()
	for {
		select {
		case <-l.traffic.stop:
			return
		default:
		}
		alive := false
		now := time.Now()
		for _, s := range mine {
			alive = bt.send(s, fam4, now) || alive
		}
		if !alive {
			return
		}
	}
}

// batcher sends probes in sendmmsg batches on the raw sender when there is
// one (untagged sessions), through each ClientSession otherwise. It belongs
// to one sender goroutine.
type batcher struct {
	l    *Load
	p    *prober
	b    *frameBatch
	subs []*sub   // the subscriber of each frame in b
	fams []family // and its family
}

func newBatcher(l *Load) *batcher {
	bt := &batcher{l: l, p: newProber(l)}
	if l.raw != nil {
		bt.b = newFrameBatch(64, 14+pppoe.HeaderLen+2+l.cfg.Traffic.Size+ipv6HeaderLen-ipv4HeaderLen)
	}
	return bt
}

// send queues (or sends) s's next probe of family f; false when s is not
// up.
func (bt *batcher) send(s *sub, f family, now time.Time) bool {
	if !s.up.Load() {
		return false
	}
	if bt.b == nil || s.cs.VLAN != 0 || s.cs.OuterVLAN != 0 {
		return bt.p.send(s, f, now)
	}
	if bt.b.appendFrame(s.cs, bt.p.build(s, f, now)) != nil {
		unbuild(s, f)
		return false
	}
	bt.subs = append(bt.subs, s)
	bt.fams = append(bt.fams, f)
	if bt.b.full() {
		bt.flush()
	}
	return true
}

// flush sends the queued frames; a frame the kernel did not take gives its
// sequence number back (frames of one session are queued in order).
func (bt *batcher) flush() {
	if bt.b == nil || bt.b.count == 0 {
		return
	}
	n, err := bt.l.raw.flush(bt.b)
	var n6 int
	for _, f := range bt.fams[:n] {
		if f == fam6 {
			n6++
		}
	}
	bt.l.counted(fam4, n-n6)
	bt.l.counted(fam6, n6)
	for i, s := range bt.subs[n:] {
		unbuild(s, bt.fams[n+i])
	}
	bt.subs, bt.fams = bt.subs[:0], bt.fams[:0]
	if err != nil {
		bt.l.rawErrors.Add(1)
		time.Sleep(time.Millisecond) // ENOBUFS and the like: back off
	}
}

// stopTraffic stops the senders, waits the grace period for the last
// echoes, and asks the echo server for its counts when configured.
func (l *Load) stopTraffic() {
	t := &l.traffic
	close(t.stop)
	t.wg.Wait()
	t.mu.Lock()
	t.end = time.Now()
	t.mu.Unlock()
	tc := l.cfg.Traffic
	if !tc.enabled() || l.sent.Load()+l.sent6.Load() == 0 {
		return
	}
	time.Sleep(tc.Grace)
	if tc.QueryUpstream && tc.Target.IsValid() {
		l.queryUpstream()
	}
}

// queryUpstream asks the echo server, over every session that sent
// probes, how many it received from the session's address (udpecho's
// stats query); three tries, a second each.
func (l *Load) queryUpstream() {
	l.upMu.Lock()
	ups := append([]*sub(nil), l.upList...)
	l.upMu.Unlock()
	buf := make([]byte, 0, 64)
	for try := 0; try < 3; try++ {
		pending := 0
		for _, s := range ups {
			if s.txSeq == 0 || s.upstream.Load() >= 0 || !s.up.Load() {
				continue
			}
			q, _ := udpecho.Query{Addr: s.local}.Append(nil)
			u := UDP{Src: netip.AddrPortFrom(s.local, srcPort(s.idx)), Dst: l.cfg.Traffic.Target, Payload: q}
			b, err := u.Append(append(buf[:0], 0x00, 0x21))
			if err != nil {
				continue
			}
			_ = s.cs.Send(b)
			pending++
		}
		if pending == 0 {
			return
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			done := true
			for _, s := range ups {
				if s.txSeq > 0 && s.up.Load() && s.upstream.Load() < 0 {
					done = false
					break
				}
			}
			if done {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// receiveIPv4 accounts for an IPv4 packet received on s (on the PPPoE
// client's reader goroutine): a probe echo, or the echo server's stats
// reply; anything else goes to the TUN device bound to s, if any.
func (l *Load) receiveIPv4(s *sub, pkt []byte) {
	if !s.up.Load() { // also orders the read of s.local after Up
		l.foreign.Add(1)
		return
	}
	u, err := ParseUDP(pkt)
	if err != nil || u.Src != l.cfg.Traffic.Target || u.Dst.Addr() != s.local {
		l.foreignIPv4(s, pkt)
		return
	}
	if r, err := udpecho.ParseReply(u.Payload); err == nil {
		if r.Addr == s.local {
			s.upstream.Store(int64(r.Packets))
		}
		return
	}
	p, err := ParseProbe(u.Payload)
	if err != nil || p.Session != uint32(s.idx) {
		l.foreignIPv4(s, pkt)
		return
	}
	fresh, reordered := s.rx.Add(p.Seq)
	if !fresh {
		l.duplicated.Add(1)
		return
	}
	l.received.Add(1)
	l.receivedOctets.Add(uint64(len(pkt)))
	if reordered {
		l.reordered.Add(1)
	}
	l.rtt.add(time.Duration(time.Now().UnixNano() - p.Sent))
}

// receiveIPv6 accounts for an IPv6 packet received on s that is not for
// its IPv6 client (on the PPPoE client's reader goroutine): a probe echo
// to its SLAAC address or its delegated prefix, or something foreign.
func (l *Load) receiveIPv6(s *sub, pkt []byte) {
	a := s.addr6.Load()
	if a == nil {
		l.foreign6.Add(1)
		return
	}
	u, err := ParseUDP(pkt)
	if err != nil || u.Src != l.cfg.Traffic.Target6 || u.Dst.Addr() != a.SLAAC && u.Dst.Addr() != a.delegatedHost() {
		l.foreign6.Add(1)
		return
	}
	p, err := ParseProbe(u.Payload)
	if err != nil || p.Session != uint32(s.idx) {
		l.foreign6.Add(1)
		return
	}
	fresh, reordered := s.rx6.Add(p.Seq)
	if !fresh {
		l.duplicated6.Add(1)
		return
	}
	l.received6.Add(1)
	l.recvOctets6.Add(uint64(len(pkt)))
	if reordered {
		l.reordered6.Add(1)
	}
	l.rtt6.add(time.Duration(time.Now().UnixNano() - p.Sent))
}

func (l *Load) foreignIPv4(s *sub, pkt []byte) {
	if l.tun != nil && s.bound.Load() {
		l.tun.write(pkt)
		return
	}
	l.foreign.Add(1)
}
