package l2tp

import (
	"fmt"
	"slices"
)

// DataFraming is how data messages to the peer of an L2TPv3 session are
// framed (RFC 3931 sections 4.1 and 4.6): the format and the header a
// data path writes in front of each frame, with the peer's Session ID and
// the cookie it assigned, over the tunnel's UDP or IP. A data path that
// sequences its messages takes the sequence numbers itself (Sequenced), as
// it does for L2TPv2.
type DataFraming struct {
	Format V3DataFormat
	Header V3DataHeader // SessionID and Cookie; HasSeq and Seq are the caller's
}

// V3Framing returns the framing of s's data messages to the peer, fixed
// once the peer's ICRQ or ICRP has arrived (so when SessionUp is called);
// false on an L2TPv2 session or before.
func (s *Session) V3Framing() (DataFraming, bool) {
	d := s.v3d.Load()
	peer := s.peerID.Load()
	if !s.t.v3 || d == nil || peer == 0 {
		return DataFraming{}, false
	}
	return DataFraming{Format: d.tx, Header: V3DataHeader{SessionID: peer, Cookie: d.txCookie}}, true
}

// versionRefusal is the StopCCN refusing an SCCRQ of version v from a
// peer whose options do not take it (TunnelOptions.Versions).
func versionRefusal(opts TunnelOptions, v int) (*ResultCode, error) {
	if len(opts.Versions) == 0 || slices.Contains(opts.Versions, v) {
		return nil, nil
	}
	return &ResultCode{Result: uint16(StopCCNBadVersion), HasError: true, Error: uint16(slices.Max(opts.Versions)), Message: fmt.Sprintf("L2TPv%d not accepted", v)},
		fmt.Errorf("%w: L2TPv%d not accepted from this peer", ErrNotAuthorized, v)
}
