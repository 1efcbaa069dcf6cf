package lac

import (
	"sync"
	"sync/atomic"

	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
)

// AddAddressControl appends frame to dst behind the HDLC Address and
// Control octets FF 03: a PPP frame from PPPoE carries none (RFC 2516
// section 7) and one in an L2TP data message carries them unless ACFC was
// negotiated (RFC 2661 section 5.3); the LAC never lets the subscriber
// negotiate ACFC, so it always adds them.
func AddAddressControl(dst, frame []byte) []byte {
	dst = append(dst, 0xff, 0x03)
	return append(dst, frame...)
}

// StripAddressControl returns frame without a leading FF 03 (RFC 2661
// section 5.3 towards RFC 2516 section 7). The result aliases frame.
func StripAddressControl(frame []byte) []byte { return ppp.StripAddressControl(frame) }

// bufPool holds the buffers of the upstream path (PPPoE → L2TP).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// forwardUp sends a subscriber's PPP frame (payload of a PPPoE session
// frame, aliasing the read buffer) into the tunnel with FF 03 in front.
// It allocates nothing.
func (s *session) forwardUp(payload []byte) {
	s.noteTerminate(payload)
	fn := s.upFn.Load()
	if fn == nil {
		s.Dropped.Add(1)
		return
	}
	s.clampMSS(payload)
	bp := bufPool.Get().(*[]byte)
	b := AddAddressControl((*bp)[:0], payload)
	err := (*fn)(b)
	*bp = b[:0]
	bufPool.Put(bp)
	if err != nil {
		s.Dropped.Add(1)
		return
	}
	s.UpPackets.Add(1)
	s.UpBytes.Add(uint64(len(payload)))
	if s.l != nil {
		s.l.stats.UpFrames.Add(1)
		s.l.stats.UpOctets.Add(uint64(len(payload)))
	}
}

// forwardDown sends a PPP frame from an L2TP data message (aliasing the
// read buffer) to the subscriber over PPPoE without FF 03. It allocates
// nothing.
func (s *session) forwardDown(payload []byte) {
	frame, ok := s.downFrame(payload)
	if !ok {
		return
	}
	if err := s.downFn(frame); err != nil {
		s.Dropped.Add(1)
		return
	}
	s.DownPackets.Add(1)
	s.DownBytes.Add(uint64(len(frame)))
	if s.l != nil {
		s.l.stats.DownFrames.Add(1)
		s.l.stats.DownOctets.Add(uint64(len(frame)))
	}
}

// downFrame turns the payload of an L2TP data message into the PPP frame
// for PPPoE (FF 03 off, MSS clamped in place), aliasing payload; false
// (counted as a drop) when it has no Protocol field.
func (s *session) downFrame(payload []byte) ([]byte, bool) {
	frame := StripAddressControl(payload)
	if len(frame) < 2 {
		s.Dropped.Add(1)
		return nil, false
	}
	s.clampMSS(frame)
	return frame, true
}

// clampMSS lowers the MSS of a TCP SYN in the PPP frame to the LAC's
// [dataplane] tcp-mss, as the fast path does, so the subscriber's TCP
// never announces a segment its PPPoE MTU cannot carry.
func (s *session) clampMSS(frame []byte) {
	if s.l == nil || s.l.conf().MSS == 0 {
		return
	}
	if dataplane.ClampMSSPPP(frame, s.l.conf().MSS) {
		s.l.stats.MSSClamped.Add(1)
	}
}

// noteTerminate remembers an LCP Terminate-Request (RFC 1661 section 5.5)
// from the subscriber in the PPP frame on its way to the LNS: the CDN
// that follows the subscriber's PADT then says the subscriber ended PPP
// (RFC 3145), which the LNS's accounting records as User-Request even
// when the CDN overtakes the Terminate-Request it relayed.
func (s *session) noteTerminate(frame []byte) {
	if len(frame) >= 3 && ppp.Protocol(frame[0])<<8|ppp.Protocol(frame[1]) == ppp.ProtoLCP && frame[2] == byte(ppp.TermReq) {
		s.peerTerm.Store(true)
	}
}

// hangUp clears the call after the subscriber's PPPoE session ended
// (PADT, or the access line gone): CDN result 1, with the PPP Disconnect
// Cause Code of a normal disconnection at the peer (RFC 3145 section 3.1)
// when the subscriber sent an LCP Terminate-Request first.
func (s *session) hangUp() {
	rc := l2tp.ResultCode{Result: uint16(l2tp.CDNLostCarrier)}
	if s.peerTerm.Load() {
		s.ls.DisconnectWithCause(rc, l2tp.PPPDisconnectCause{Code: l2tp.DiscNormal, Direction: l2tp.DirectionPeer})
		return
	}
	s.ls.Disconnect(rc)
}

// downStage stages the PPPoE frames of one L2TP read (the payloads alias
// the endpoint's read buffers, valid until its next read) for one
// pppoe.SendBatch: one sendmmsg(2) per 64 frames instead of a write(2)
// each. One reader goroutine uses it.
type downStage struct {
	frames []pppoe.OutFrame
	errors *atomic.Uint64
}

// BatchedData returns the l2tp.Config.Data and DataBatchEnd callbacks of
// the batched downstream path: data calls stage the subscriber's frames
// and end sends them. Use both or neither (then Data sends each frame).
// Each call stages on its own, for one reader goroutine: it is
// l2tp.Config.DataSinks.
func (l *LAC) BatchedData() (data func(*l2tp.Tunnel, *l2tp.Session, l2tp.Header, []byte), end func()) {
	d := &downStage{frames: make([]pppoe.OutFrame, 0, sendBatch), errors: &l.downErrors}
	data = func(_ *l2tp.Tunnel, ls *l2tp.Session, _ l2tp.Header, payload []byte) {
		s, ok := ls.Value().(*session)
		if !ok {
			l.stats.DataNoSession.Add(1)
			return
		}
		if frame, ok := s.downFrame(payload); ok {
			if len(d.frames) == cap(d.frames) {
				end()
			}
			d.frames = append(d.frames, pppoe.OutFrame{Session: s.ps, Payload: frame})
			s.DownPackets.Add(1)
			s.DownBytes.Add(uint64(len(frame)))
		}
		s.noteLNS()
	}
	end = func() {
		if len(d.frames) == 0 {
			return
		}
		n, _ := pppoe.SendBatch(d.frames)
		if n < len(d.frames) {
			d.errors.Add(uint64(len(d.frames) - n))
		}
		// The LAC's totals once a batch, not a shared cache line a frame.
		var octets int
		for _, f := range d.frames[:n] {
			octets += len(f.Payload)
		}
		l.stats.DownFrames.Add(uint64(n))
		l.stats.DownOctets.Add(uint64(octets))
		clear(d.frames)
		d.frames = d.frames[:0]
	}
	return data, end
}
