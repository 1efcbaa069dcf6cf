package lns

import (
	"github.com/bras-project/bras/internal/udpio"
	"github.com/bras-project/bras/l2tp"
)

// SendFrame sends one PPP frame of the control plane (LCP, IPCP, ...) to
// f's LAC as a data message, FF 03 included (RFC 2661 section 5.3). It
// shares the session's Ns with the forwarding path, so a sequenced session
// (Sequencing Required, section 5.4) keeps one strictly increasing Ns
// whichever path sends. Control-plane rate: it may allocate.
func (d *DataPlane) SendFrame(f *Flow, frame []byte) error {
	b := make([]byte, DataHeadroom-4, DataHeadroom-4+2+len(frame))
	start, err := f.appendHeader(b, 2+len(frame))
	if err != nil {
		return err
	}
	b = append(b[start:], dpHDLCAddress, dpHDLCControl)
	b = append(b, frame...)
	batch := udpio.NewBatch(1, 0)
	batch.Msgs[0].Buffers[0] = b
	batch.Msgs[0].Addr = f.peer
	batch.Len = 1
	_, err = d.cfg.Conn.WriteBatch(batch)
	return err
}

// appendHeader writes the data header of f's next message, for a payload
// of n octets, at the end of hr (the headroom before the payload) and
// returns where it starts: L2TPv2's (RFC 2661 section 3.1), or the L2TPv3
// one the LAC asked for (RFC 3931 section 4.1.2.1: its Session ID and
// cookie, and the Default L2-Specific Sublayer of section 4.6). Ns, or the
// sublayer's Sequence Number, counts the session's data messages when
// sequenced (RFC 2661 section 5.4; Nr is reserved and sent as 0).
func (f *Flow) appendHeader(hr []byte, n int) (int, error) {
	if v := f.v3; v != nil {
		h := v.Header
		if f.seq && v.Format.Sublayer == l2tp.SublayerDefault {
			h.HasSeq = true
			h.Seq = (f.ns.Add(1) - 1) & l2tp.SeqMask
		}
		start := len(hr) - v.Format.Len()
		if start < 0 {
			return 0, l2tp.ErrShort
		}
		_, err := l2tp.AppendV3Data(hr[start:start], v.Format, h)
		return start, err
	}
	h := l2tp.Header{TunnelID: f.peerTunnel, SessionID: f.peerSession}
	if f.seq {
		h.HasSeq = true
		h.Ns = uint16(f.ns.Add(1) - 1)
	}
	start := len(hr) - h.Len()
	if start < 0 {
		return 0, l2tp.ErrShort
	}
	_, err := l2tp.AppendHeader(hr[start:start], h, n)
	return start, err
}
