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
	h := l2tp.Header{TunnelID: f.peerTunnel, SessionID: f.peerSession}
	if f.seq {
		h.HasSeq = true
		h.Ns = uint16(f.ns.Add(1) - 1)
	}
	b, err := l2tp.AppendHeader(make([]byte, 0, 16+2+len(frame)), h, 2+len(frame))
	if err != nil {
		return err
	}
	b = append(b, dpHDLCAddress, dpHDLCControl)
	b = append(b, frame...)
	batch := udpio.NewBatch(1, 0)
	batch.Msgs[0].Buffers[0] = b
	batch.Msgs[0].Addr = f.peer
	batch.Len = 1
	_, err = d.cfg.Conn.WriteBatch(batch)
	return err
}
