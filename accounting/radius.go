package accounting

import (
	"context"
	"fmt"
	"strconv"

	"github.com/bras-project/bras/aaa"
	"golang.org/x/sync/errgroup"
)

// Accounter is what RADIUSSink needs of aaa.Client.
type Accounter interface {
	Account(ctx context.Context, rec aaa.AcctRequest) error
}

var _ Accounter = (*aaa.Client)(nil)

// RADIUSSink delivers records as RADIUS Accounting-Requests (RFC 2866)
// through an aaa.Client. Records of one session go strictly in order;
// sessions go in parallel on up to Workers requests (16 if zero). The
// write fails as a whole if any request fails, and the spool offers the
// batch again: a server may then see an Accounting-Request twice, which
// RFC 2866 section 5.2 expects servers to cope with (FreeRADIUS keys
// radacct by Acct-Unique-Session-Id).
type RADIUSSink struct {
	Client  Accounter
	Workers int
}

// Write sends recs.
func (s *RADIUSSink) Write(ctx context.Context, recs []Record) error {
	var order []string
	bySession := map[string][]*Record{}
	for i := range recs {
		id := recs[i].SessionID
		if _, ok := bySession[id]; !ok {
			order = append(order, id)
		}
		bySession[id] = append(bySession[id], &recs[i])
	}
	g, gctx := errgroup.WithContext(ctx)
	w := s.Workers
	if w <= 0 {
		w = 16
	}
	g.SetLimit(w)
	for _, id := range order {
		rs := bySession[id]
		g.Go(func() error {
			for _, r := range rs {
				if err := s.Client.Account(gctx, AcctRequest(r)); err != nil {
					return fmt.Errorf("accounting: radius: %v of %s: %w", r.Kind, r.SessionID, err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// AcctRequest maps a record to aaa's Accounting-Request.
func AcctRequest(r *Record) aaa.AcctRequest {
	req := aaa.AcctRequest{
		Status:           aaa.AcctStatus(r.Kind),
		SessionID:        r.SessionID,
		Username:         r.Username,
		FramedIP:         r.Addr,
		NASPortID:        r.NASPortID,
		NASPortType:      aaa.PortVirtual,
		CallingStationID: r.CallingStationID,
		CalledStationID:  r.LAC,
		InOctets:         r.InOctets,
		OutOctets:        r.OutOctets,
		InPackets:        r.InPackets,
		OutPackets:       r.OutPackets,
		Class:            r.Class,
		EventTime:        r.Time,
		IPv6Prefix:       r.IPv6Prefix,
		DelegatedPrefix:  r.DelegatedPrefix,
		IPv6Address:      r.IPv6Address,
		InterfaceID:      r.InterfaceID,
	}
	if !r.Started.IsZero() && r.Time.After(r.Started) {
		req.SessionTime = r.Time.Sub(r.Started)
	}
	if r.Kind == Stop {
		req.Cause = aaa.TerminateCause(r.Cause)
	}
	if r.LAC != "" || r.TunnelID != 0 {
		req.Tunnel = &aaa.TunnelInfo{ClientAuthID: r.LAC, ClientEndpoint: addrText(r.LACAddr), ServerEndpoint: addrText(r.LNSAddr)}
		if r.TunnelID != 0 {
			req.Tunnel.Connection = strconv.FormatUint(uint64(r.TunnelID), 10) + "/" + strconv.FormatUint(uint64(r.L2TPSessionID), 10)
		}
	}
	return req
}
