package pppoe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of the client.
var (
	// ErrNoOffer: no acceptable PADO arrived after every PADI retry.
	ErrNoOffer = errors.New("pppoe: no acceptable PADO")
	// ErrRefused: the AC answered the PADR with an error tag.
	ErrRefused = errors.New("pppoe: session refused by the access concentrator")
	// ErrPADT: the AC ended the session with a PADT.
	ErrPADT = errors.New("pppoe: session terminated by the access concentrator")
	// ErrBusy: a dial is already running for this MAC.
	ErrBusy = errors.New("pppoe: a discovery is already running for this MAC")
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// Interface carries the subscribers' frames.
	Interface string
	// NoPromiscuous leaves the interface out of promiscuous mode. By default
	// the client turns it on so that frames to its many source MACs are
	// received.
	NoPromiscuous bool
	Logger        *slog.Logger
}

// DialOptions control one discovery, RFC 2516 sections 5.1-5.4 and 8.
type DialOptions struct {
	// ServiceName is requested in the PADI and PADR ("" asks for any); a
	// PADO that does not offer it is ignored.
	ServiceName string
	// ACName, when set, ignores PADOs from other access concentrators.
	ACName string
	// HostUniq is sent in PADI and PADR; 8 random octets by default.
	HostUniq []byte
	// Timeout is the first wait for a PADO or PADS (1s by default); it
	// doubles after every retry up to MaxTimeout (8s by default).
	Timeout, MaxTimeout time.Duration
	// PADIAttempts (5 by default) PADIs are sent before giving up;
	// PADRAttempts (3 by default) PADRs before going back to PADIs.
	PADIAttempts, PADRAttempts int
	// MaxPayload > 1492 asks for it with the PPP-Max-Payload tag (RFC 4638).
	MaxPayload int
	// VLAN, when not 0, tags the session's frames with this 802.1Q VLAN ID
	// (in user space, on the client's interface); with OuterVLAN too, they
	// are double-tagged (802.1ad S-tag OuterVLAN, then C-tag VLAN).
	VLAN, OuterVLAN uint16
	// AccessLine, when set, is added to PADI and PADR as the Broadband
	// Forum Vendor-Specific tag, as an intermediate agent (a DSLAM, TR-101)
	// would: to test what the LAC passes on to RADIUS.
	AccessLine *AccessLine
	// Receive, when set, gets the session's frames from the start (see
	// ClientSession.SetReceive).
	Receive func(payload []byte)
}

// Client runs PPPoE client sessions for any number of source MACs on one
// interface (one raw socket per ethertype).
type Client struct {
	log        *slog.Logger
	ifname     string
	disc, sess frameConn
	dw, sw     *frameWriter

	mu       sync.RWMutex
	pending  map[MAC]*dialState
	sessions map[sessKey]*ClientSession

	// Counters.
	Malformed, Ignored, Unknown atomic.Uint64
}

type dialState struct {
	hostUniq []byte
	ac       MAC // the AC the PADR went to; zero while waiting for PADOs
	svc      string
	vlan     vlanKey
	ch       chan offer
	// early holds session frames from ac that overtook the PADS (the two
	// ethertypes are read by different goroutines).
	early [][]byte
	// sess is the session a PADS registered.
	sess *ClientSession
}

type offer struct {
	src  MAC
	pkt  Packet
	sess *ClientSession
}

// ClientSession is one client PPPoE session.
type ClientSession struct {
	ID          uint16
	MAC, ACMAC  MAC
	VLAN        uint16 // 0 when untagged
	OuterVLAN   uint16 // QinQ service VLAN, 0 when single-tagged
	tag         vlanKey
	ServiceName string
	ACName      string
	// MaxPayload is 1492, or the PPP-Max-Payload agreed with the AC.
	MaxPayload int

	c      *Client
	recv   atomic.Pointer[func([]byte)]
	mu     sync.Mutex
	early  [][]byte
	closed atomic.Bool
	done   chan struct{}
	err    error
	onEnd  atomic.Pointer[endFn]
}

// endFn is an OnEnd function and whether it was called.
type endFn struct {
	fn   func(error)
	told atomic.Bool
}

// NewClient opens the raw sockets on cfg.Interface. Call it in the network
// namespace to use, then run Run.
//
// Many subscribers, each with its own source MAC, on one interface:
//
//	cli, err := pppoe.NewClient(pppoe.ClientConfig{Interface: "veth0"})
//	if err != nil {
//		return err
//	}
//	go cli.Run(ctx)
//	cs, err := cli.Dial(ctx, mac, pppoe.DialOptions{Timeout: time.Second})
//	if err != nil {
//		return err
//	}
//	cs.SetReceive(func(frame []byte) { /* to the ppp.Session */ })
//	_ = cs.Send(frame) // a ppp.Session uses cs as its Link
//	_ = cs.Close()     // PADT
func NewClient(cfg ClientConfig) (*Client, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("pppoe: client: %w", err)
	}
	c := newClient(cfg)
	disc, err := listen(ifi, EtherTypeDiscovery, true, nil)
	if err != nil {
		return nil, err
	}
	sess, err := listen(ifi, EtherTypeSession, true, nil)
	if err != nil {
		disc.Close()
		return nil, err
	}
	if !cfg.NoPromiscuous {
		if err := sess.SetPromiscuous(true); err != nil {
			disc.Close()
			sess.Close()
			return nil, fmt.Errorf("pppoe: client: promiscuous %s: %w", cfg.Interface, err)
		}
	}
	c.setConns(disc, sess)
	return c, nil
}

func (c *Client) setConns(disc, sess frameConn) {
	c.disc, c.sess = disc, sess
	c.dw, c.sw = newFrameWriter(disc), newFrameWriter(sess)
}

func newClient(cfg ClientConfig) *Client {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		log:      cfg.Logger,
		ifname:   cfg.Interface,
		pending:  make(map[MAC]*dialState),
		sessions: make(map[sessKey]*ClientSession),
	}
}

// Run reads discovery and session frames until ctx is done, then closes
// the sockets. Sessions still up are not sent a PADT: Close them first.
func (c *Client) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- readFrames(ctx, c.disc, c.handleDiscovery, "pppoe: client "+c.ifname+": discovery") }()
	go func() { errc <- readFrames(ctx, c.sess, c.handleSession, "pppoe: client "+c.ifname+": session") }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	past := time.Unix(1, 0)
	_ = c.disc.SetReadDeadline(past)
	_ = c.sess.SetReadDeadline(past)
	if err == nil {
		err = <-errc
	}
	<-errc
	c.disc.Close()
	c.sess.Close()
	return err
}

// NumSessions returns the number of sessions up.
func (c *Client) NumSessions() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.sessions)
}

// handleDiscovery routes PADO and PADS to the running dial of their
// destination MAC, and PADT to its session.
func (c *Client) handleDiscovery(frame []byte, aux uint16) {
	vid, off, ok := frameVLAN(frame, aux)
	if !ok || len(frame) < off+2 || EtherType(binary.BigEndian.Uint16(frame[off:])) != EtherTypeDiscovery {
		c.Malformed.Add(1)
		return
	}
	var eth Ethernet
	copy(eth.Dst[:], frame[0:6])
	copy(eth.Src[:], frame[6:12])
	rest := frame[off+2:]
	var p Packet
	if err := p.Decode(rest); err != nil {
		c.Malformed.Add(1)
		return
	}
	switch p.Code {
	case CodePADT:
		c.mu.RLock()
		cs := c.sessions[sessKey{vid, eth.Dst, p.SessionID}]
		c.mu.RUnlock()
		if cs == nil || cs.ACMAC != eth.Src {
			c.Unknown.Add(1)
			return
		}
		cs.end(ErrPADT)
		return
	case CodePADO, CodePADS:
	default:
		c.Ignored.Add(1)
		return
	}
	c.mu.Lock()
	d := c.pending[eth.Dst]
	if d == nil || d.vlan != vid {
		c.mu.Unlock()
		c.Ignored.Add(1)
		return
	}
	// Host-Uniq MUST come back unmodified; it ties the answer to our request.
	if hu, _ := p.Tag(TagHostUniq); !bytes.Equal(hu, d.hostUniq) {
		c.mu.Unlock()
		c.Ignored.Add(1)
		return
	}
	// Keep copies: the read buffer is reused.
	kept := append([]byte(nil), rest...)
	_ = p.Decode(kept)
	o := offer{src: eth.Src, pkt: p}
	if p.Code == CodePADS {
		if eth.Src != d.ac {
			c.mu.Unlock()
			c.Ignored.Add(1)
			return
		}
		if p.SessionID != 0 && p.SessionID != 0xffff {
			// Register before the AC's first PPP frame can arrive.
			k := sessKey{vid, eth.Dst, p.SessionID}
			if c.sessions[k] == nil {
				cs := &ClientSession{ID: p.SessionID, MAC: eth.Dst, ACMAC: eth.Src, VLAN: vid.inner(), OuterVLAN: vid.outer(), tag: vid, ServiceName: d.svc,
					MaxPayload: 1492, c: c, done: make(chan struct{})}
				if n, _ := p.Tag(TagACName); n != nil {
					cs.ACName = string(n)
				}
				if mp, ok := p.MaxPayload(); ok && mp > 1492 {
					cs.MaxPayload = mp
				}
				cs.early, d.early = d.early, nil
				c.sessions[k] = cs
				d.sess = cs
				o.sess = cs
			}
		}
	}
	c.mu.Unlock()
	select {
	case d.ch <- o:
	default:
		c.Ignored.Add(1)
	}
}

// handleSession delivers a session frame to its ClientSession.
func (c *Client) handleSession(frame []byte, aux uint16) {
	vid, off, ok := frameVLAN(frame, aux)
	if !ok || len(frame) < off+2+HeaderLen || frame[off] != 0x88 || frame[off+1] != 0x64 {
		c.Malformed.Add(1)
		return
	}
	var dst, src MAC
	copy(dst[:], frame[0:6])
	copy(src[:], frame[6:12])
	sid, payload, err := ParseSession(frame[off+2:])
	if err != nil {
		c.Malformed.Add(1)
		return
	}
	c.mu.RLock()
	cs := c.sessions[sessKey{vid, dst, sid}]
	c.mu.RUnlock()
	if cs == nil {
		if c.holdEarly(dst, src, vid, sid, payload) {
			return
		}
		// The PADS registered the session between the two lookups.
		c.mu.RLock()
		cs = c.sessions[sessKey{vid, dst, sid}]
		c.mu.RUnlock()
	}
	if cs == nil || cs.ACMAC != src || cs.closed.Load() {
		c.Unknown.Add(1)
		return
	}
	if fn := cs.recv.Load(); fn != nil {
		(*fn)(payload)
		return
	}
	cs.mu.Lock()
	if fn := cs.recv.Load(); fn != nil {
		cs.mu.Unlock()
		(*fn)(payload)
		return
	}
	if len(cs.early) < 16 {
		cs.early = append(cs.early, append([]byte(nil), payload...))
	}
	cs.mu.Unlock()
}

// holdEarly keeps a frame that overtook the PADS of a running dial; the
// session is looked up again under the lock in case the PADS just came.
func (c *Client) holdEarly(dst, src MAC, vid vlanKey, sid uint16, payload []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions[sessKey{vid, dst, sid}] != nil {
		return false
	}
	d := c.pending[dst]
	if d == nil || d.ac != src || d.vlan != vid {
		return false
	}
	if len(d.early) < 16 {
		d.early = append(d.early, append([]byte(nil), payload...))
	}
	return true
}

// Dial runs discovery for source MAC mac: PADI, PADO, PADR, PADS with
// Host-Uniq and the retries of RFC 2516 section 8 (waits doubling; after
// PADRAttempts unanswered PADRs it starts again with PADIs).
func (c *Client) Dial(ctx context.Context, hw net.HardwareAddr, o DialOptions) (_ *ClientSession, err error) {
	mac, ok := MACFrom(hw)
	if !ok || mac[0]&1 != 0 {
		return nil, fmt.Errorf("pppoe: dial: %v is not a unicast Ethernet address", hw)
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.MaxTimeout < o.Timeout {
		o.MaxTimeout = max(8*time.Second, o.Timeout)
	}
	if o.PADIAttempts <= 0 {
		o.PADIAttempts = 5
	}
	if o.PADRAttempts <= 0 {
		o.PADRAttempts = 3
	}
	if o.HostUniq == nil {
		o.HostUniq = binary.BigEndian.AppendUint64(nil, rand.Uint64())
	}
	if o.VLAN > 4094 || o.OuterVLAN > 4094 || o.OuterVLAN != 0 && o.VLAN == 0 {
		return nil, fmt.Errorf("pppoe: dial: VLAN %d/%d out of range", o.OuterVLAN, o.VLAN)
	}
	vk := vlanKey(o.OuterVLAN)<<16 | vlanKey(o.VLAN)
	d := &dialState{hostUniq: o.HostUniq, svc: o.ServiceName, vlan: vk, ch: make(chan offer, 8)}
	c.mu.Lock()
	if c.pending[mac] != nil {
		c.mu.Unlock()
		return nil, ErrBusy
	}
	c.pending[mac] = d
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, mac)
		orphan := d.sess
		c.mu.Unlock()
		if err != nil && orphan != nil {
			// A PADS came as the dial gave up: do not leave the AC a
			// session nobody uses.
			_ = orphan.Close()
		}
	}()

	extra := []Tag{{Type: TagHostUniq, Value: o.HostUniq}}
	if o.AccessLine != nil {
		v, err := o.AccessLine.Append(nil)
		if err != nil {
			return nil, fmt.Errorf("pppoe: dial: access line: %w", err)
		}
		extra = append(extra, Tag{Type: TagVendorSpecific, Value: v})
	}
	if o.MaxPayload > 1492 {
		extra = append(extra, Tag{Type: TagPPPMaxPayload, Value: binary.BigEndian.AppendUint16(nil, uint16(o.MaxPayload))})
	}
	wait := o.Timeout
	backoff := func() {
		if wait *= 2; wait > o.MaxTimeout {
			wait = o.MaxTimeout
		}
	}
	padis := 0
	for padis < o.PADIAttempts {
		// Discovery initiation, section 5.1.
		var pado *offer
		for ; padis < o.PADIAttempts && pado == nil; padis++ {
			tags := append([]Tag{{Type: TagServiceName, Value: []byte(o.ServiceName)}}, extra...)
			if err := c.sendDiscovery(Broadcast, mac, vk, Packet{Code: CodePADI, Tags: tags}); err != nil {
				return nil, err
			}
			var err error
			pado, err = c.await(ctx, d, wait, func(of *offer) bool { return of.pkt.Code == CodePADO && acceptable(&of.pkt, &o) })
			if err != nil {
				return nil, err
			}
			if pado == nil {
				backoff()
			}
		}
		if pado == nil {
			break
		}
		// Request, section 5.3: echo the cookie and the relay id.
		tags := append([]Tag{{Type: TagServiceName, Value: []byte(o.ServiceName)}}, extra...)
		for _, t := range pado.pkt.Tags {
			if t.Type == TagACCookie || t.Type == TagRelaySessionID {
				tags = append(tags, t)
			}
		}
		c.mu.Lock()
		d.ac = pado.src
		c.mu.Unlock()
		wait = o.Timeout
		for range o.PADRAttempts {
			if err := c.sendDiscovery(pado.src, mac, vk, Packet{Code: CodePADR, Tags: tags}); err != nil {
				return nil, err
			}
			pads, err := c.await(ctx, d, wait, func(of *offer) bool { return of.pkt.Code == CodePADS })
			if err != nil {
				return nil, err
			}
			if pads == nil {
				backoff()
				continue
			}
			if pads.sess == nil && pads.pkt.SessionID != 0 {
				// A repeated PADS for the session already registered.
				c.mu.Lock()
				pads.sess = d.sess
				c.mu.Unlock()
			}
			if pads.sess != nil {
				if o.Receive != nil {
					pads.sess.SetReceive(o.Receive)
				}
				c.log.Debug("pppoe client session up", "mac", mac.String(), "session_id", pads.sess.ID)
				return pads.sess, nil
			}
			for _, et := range []TagType{TagServiceNameError, TagACSystemError, TagGenericError} {
				if v, ok := pads.pkt.Tag(et); ok {
					return nil, fmt.Errorf("pppoe: dial %v: %v %q: %w", mac, et, v, ErrRefused)
				}
			}
			return nil, fmt.Errorf("pppoe: dial %v: PADS with session ID %#x: %w", mac, pads.pkt.SessionID, ErrRefused)
		}
		// No PADS: back to PADI, section 8.
		c.mu.Lock()
		d.ac = MAC{}
		c.mu.Unlock()
	}
	return nil, fmt.Errorf("pppoe: dial %v after %d PADIs: %w", mac, padis, ErrNoOffer)
}

// acceptable chooses a PADO by AC-Name and Service-Name, section 5.3.
func acceptable(p *Packet, o *DialOptions) bool {
	if n, ok := p.Tag(TagACName); !ok || (o.ACName != "" && string(n) != o.ACName) {
		return false
	}
	for _, t := range p.Tags {
		if t.Type == TagServiceName && (string(t.Value) == o.ServiceName || len(t.Value) == 0 && o.ServiceName == "") {
			return true
		}
	}
	return false
}

// await waits up to d for an answer that ok accepts; nil when none came.
func (c *Client) await(ctx context.Context, st *dialState, d time.Duration, ok func(*offer) bool) (*offer, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, nil
		case of := <-st.ch:
			if ok(&of) {
				return &of, nil
			}
		}
	}
}

func (c *Client) sendDiscovery(dst, src MAC, vid vlanKey, p Packet) error {
	b := appendEth(make([]byte, 0, 128), dst, src, vid, EtherTypeDiscovery)
	b, err := p.Append(b)
	if err != nil {
		return err
	}
	if err := c.dw.write(b, dst); err != nil {
		return fmt.Errorf("pppoe: client %s: send %v: %w", c.ifname, p.Code, err)
	}
	return nil
}

// SetReceive installs the function that gets the session's PPP frames
// (starting with the Protocol field; payload valid only during the call).
// Frames that arrived before it was set (up to 16) are handed over first.
func (cs *ClientSession) SetReceive(fn func(payload []byte)) {
	cs.mu.Lock()
	early := cs.early
	cs.early = nil
	for _, f := range early {
		fn(f)
	}
	cs.recv.Store(&fn)
	cs.mu.Unlock()
}

// Send transmits a PPP frame (from its Protocol field) on the session.
func (cs *ClientSession) Send(payload []byte) error {
	if cs.closed.Load() {
		return ErrClosed
	}
	// MaxPayload bounds the PPP Information field; the frame adds its
	// two-octet Protocol (RFC 2516 section 7: 1500 - 6 - 2 = 1492).
	if len(payload) > cs.MaxPayload+2 {
		return fmt.Errorf("pppoe: %d octets: %w", len(payload), ErrTooBig)
	}
	bp := framePool.Get().(*[]byte)
	b := appendSessionFrame((*bp)[:0], cs.ACMAC, cs.MAC, cs.tag, cs.ID, payload)
	err := cs.c.sw.write(b, cs.ACMAC)
	*bp = b
	framePool.Put(bp)
	return err
}

// Close sends a PADT (RFC 2516 section 5.5) and ends the session.
func (cs *ClientSession) Close() error {
	if !cs.end(ErrClosed) {
		return nil
	}
	return cs.c.sendDiscovery(cs.ACMAC, cs.MAC, cs.tag, Packet{Code: CodePADT, SessionID: cs.ID})
}

// end marks the session ended; it reports whether this call ended it.
func (cs *ClientSession) end(err error) bool {
	if !cs.closed.CompareAndSwap(false, true) {
		return false
	}
	c := cs.c
	c.mu.Lock()
	delete(c.sessions, sessKey{cs.tag, cs.MAC, cs.ID})
	c.mu.Unlock()
	cs.err = err
	close(cs.done)
	cs.tellEnd()
	return true
}

// OnEnd installs fn (in place of an earlier one), called once with Err
// when the session ends (a PADT either way, or Close), on the goroutine
// that ended it; at once, on this one, if it has ended already. A caller
// with many sessions learns of a PADT without polling Err on each.
func (cs *ClientSession) OnEnd(fn func(err error)) {
	cs.onEnd.Store(&endFn{fn: fn})
	cs.tellEnd()
}

// tellEnd calls the OnEnd function, once, when the session has ended.
func (cs *ClientSession) tellEnd() {
	select {
	case <-cs.done:
	default:
		return
	}
	if e := cs.onEnd.Load(); e != nil && e.told.CompareAndSwap(false, true) {
		e.fn(cs.err)
	}
}

// Done is closed when the session ends (PADT either way).
func (cs *ClientSession) Done() <-chan struct{} { return cs.done }

// Err says why the session ended (ErrPADT when the AC sent a PADT,
// ErrClosed after Close); nil while it is up.
func (cs *ClientSession) Err() error {
	select {
	case <-cs.done:
		return cs.err
	default:
		return nil
	}
}
