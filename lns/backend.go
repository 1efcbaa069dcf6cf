package lns

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/accounting"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/l2tp"
)

// APIBackend is the LNS as the HTTP API sees it (api.Backend).
type APIBackend struct{ s *Server }

// API returns the Backend of the HTTP API.
func (s *Server) API() *APIBackend { return &APIBackend{s} }

func (s *Server) apiSession(ss *session) (api.Session, bool) {
	v := ss.view.Load()
	if v == nil {
		return api.Session{}, false
	}
	_, realm := splitRealm(v.User)
	out := api.Session{
		ID:               v.ID,
		User:             v.User,
		Realm:            realm,
		State:            v.State,
		MAC:              callingMAC(v.Calling),
		CallingStationID: v.Calling,
		CircuitID:        v.CircuitID,
		RemoteID:         v.RemoteID,
		LAC:              ss.tunnel.PeerHostName(),
		LACAddr:          ss.tunnel.Peer().Addr().Unmap().String(),
		Addr:             v.Addr,
		TunnelID:         v.TunnelID,
		SessionID:        v.SessionID,
		PeerTunnelID:     v.PeerTunnelID,
		PeerSessionID:    v.PeerSessionID,
		Started:          v.Started,
		RateDownKbps:     uint32(v.Rate.DownKbps),
		RateUpKbps:       uint32(v.Rate.UpKbps),
		SessionTimeout:   v.SessionTimeout,
		IdleTimeout:      v.IdleTimeout,
	}
	if out.Started.IsZero() {
		out.Started = v.Created
	}
	out.L2TPVersion, out.PWType = ss.tunnel.Version(), strings.ToLower(ss.call.PWType().String())
	if out.L2TPVersion == 3 {
		out.ConnID, out.PeerConnID = ss.tunnel.LocalConnID(), ss.tunnel.PeerConnID()
		out.LocalSessionID, out.RemoteSessionID = ss.call.LocalSessionID(), ss.call.RemoteSessionID()
	}
	if v.IPv6Prefix.IsValid() {
		p := v.IPv6Prefix
		out.IPv6Prefix = &p
	}
	if v.Delegated.IsValid() {
		p := v.Delegated
		out.DelegatedPrefix = &p
	}
	if f := ss.flow.Load(); f != nil {
		c := f.Counters()
		out.InOctets, out.OutOctets, out.InPackets, out.OutPackets = c.InOctets, c.OutOctets, c.InPackets, c.OutPackets
		out.In6Octets, out.Out6Octets = c.In6Octets, c.Out6Octets
	}
	return out, true
}

// callingMAC is the subscriber's MAC when the LAC sent it as the Calling
// Number (bras lac does when the access line has no Agent-Circuit-Id),
// lower case with colons; "" when the Calling Number is something else.
func callingMAC(calling string) string {
	hw, err := net.ParseMAC(calling)
	if err != nil || len(hw) != 6 {
		return ""
	}
	return hw.String()
}

// Sessions implements api.Backend.
func (b *APIBackend) Sessions(_ context.Context, f api.SessionFilter) ([]api.Session, error) {
	var out []api.Session
	for _, ss := range b.s.snapshot() {
		as, ok := b.s.apiSession(ss)
		if ok && f.Match(as) {
			out = append(out, as)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Session implements api.Backend.
func (b *APIBackend) Session(_ context.Context, id string) (api.Session, error) {
	if ss := b.s.lookup(id); ss != nil {
		if as, ok := b.s.apiSession(ss); ok {
			return as, nil
		}
	}
	return api.Session{}, api.ErrNotFound
}

// Disconnect implements api.Backend: the session ends with cause
// Admin-Reset (LCP Terminate, CDN, accounting Stop).
func (b *APIBackend) Disconnect(ctx context.Context, id string, _ string) error {
	ss := b.s.lookup(id)
	if ss == nil {
		return api.ErrNotFound
	}
	return b.s.disconnect(ctx, ss, causeAPIDisconnect)
}

// Tunnels implements api.Backend.
func (b *APIBackend) Tunnels(context.Context) ([]api.Tunnel, error) {
	var out []api.Tunnel
	for _, t := range b.s.tunnels() {
		out = append(out, api.Tunnel{
			LocalID:  t.LocalID(),
			PeerID:   t.PeerID(),
			Peer:     t.Peer().String(),
			HostName: t.PeerHostName(),
			State:    t.State().String(),
			Sessions: t.Sessions(),
			Version:  t.Version(),
			Encap:    t.Encap().String(),
		})
		if t.Version() == 3 {
			out[len(out)-1].LocalConnID, out[len(out)-1].PeerConnID = t.LocalConnID(), t.PeerConnID()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LocalID < out[j].LocalID })
	return out, nil
}

// CloseTunnel implements api.TunnelCloser: a StopCCN (result 1, general
// request, RFC 2661 section 4.4.2) on the tunnel of that local Tunnel ID;
// its sessions end as for a tunnel the LAC closed, the others stay up.
func (b *APIBackend) CloseTunnel(_ context.Context, localID uint16) error {
	for _, t := range b.s.tunnels() {
		if t.LocalID() == localID {
			t.Close(l2tp.ResultCode{Result: uint16(l2tp.StopCCNGeneralRequest), Message: "cleared by the operator"})
			return nil
		}
	}
	return fmt.Errorf("lns: tunnel %d: %w", localID, api.ErrNotFound)
}

// sharedPools is a pool in PostgreSQL (accounting.Store) that counts its
// leases.
type sharedPools interface {
	PoolUse(ctx context.Context) ([]accounting.PoolUse, error)
}

// Pools implements api.PoolLister: the in-memory pools with what this LNS
// holds, and the shared ones with what every node holds.
func (b *APIBackend) Pools(ctx context.Context) ([]api.Pool, error) {
	s := b.s
	var out []api.Pool
	local := func(family string, us []PoolUse) {
		for _, u := range us {
			out = append(out, api.Pool{Name: u.Name, Family: family, Length: u.Length, Size: u.Size, Used: u.Used, Free: u.Size - u.Used})
		}
	}
	fromDB := func(p any, family string) error {
		sp, ok := p.(sharedPools)
		if !ok {
			return nil
		}
		shared, err := sp.PoolUse(ctx)
		if err != nil {
			return err
		}
		for _, u := range shared {
			if u.Family == family {
				out = append(out, api.Pool{Name: u.Name, Family: family, Length: u.Length, Shared: true, Size: u.Size, Used: u.Used, Free: u.Size - u.Used})
			}
		}
		return nil
	}
	if s.local != nil && s.pool == AddressPool(s.local) {
		local("ipv4", s.local.Use())
	} else if err := fromDB(s.pool, "ipv4"); err != nil {
		return nil, err
	}
	if s.local6 != nil && s.prefixes == PrefixPool(s.local6) {
		local("ipv6", s.local6.Use())
	} else if err := fromDB(s.prefixes, "ipv6"); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) disconnect(ctx context.Context, ss *session, cause accounting.TerminateCause) error {
	done := make(chan struct{})
	if !ss.sh.send(ctx, event{kind: evDisconnect, s: ss, cause: cause, done: done}) {
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// select finds the sessions a CoA or Disconnect-Request names (RFC 5176
// section 3: Acct-Session-Id, User-Name, Framed-IP-Address,
// Framed-IPv6-Prefix, Delegated-IPv6-Prefix; all given must match).
func (s *Server) selectSessions(sel aaa.SessionSelector) []*session {
	var cands []*session
	switch {
	case sel.AcctSessionID != "":
		if ss := s.lookup(sel.AcctSessionID); ss != nil {
			cands = []*session{ss}
		}
	case sel.FramedIP.IsValid():
		if f := s.dp.Lookup(sel.FramedIP); f != nil {
			if ss, ok := f.Owner().(*session); ok {
				cands = []*session{ss}
			}
		}
	case sel.DelegatedPrefix.IsValid() || sel.IPv6Prefix.IsValid():
		p := sel.DelegatedPrefix
		if !p.IsValid() {
			p = sel.IPv6Prefix
		}
		if f := s.dp.v6.Lookup(p.Addr().AsSlice()); f != nil {
			if ss, ok := f.Owner().(*session); ok {
				cands = []*session{ss}
			}
		}
	default:
		cands = s.snapshot()
	}
	var out []*session
	for _, ss := range cands {
		v := ss.view.Load()
		if v == nil || v.State == stateDown.String() {
			continue
		}
		if sel.Username != "" && v.User != sel.Username {
			continue
		}
		if sel.FramedIP.IsValid() && v.Addr != sel.FramedIP {
			continue
		}
		if sel.IPv6Prefix.IsValid() && v.IPv6Prefix != sel.IPv6Prefix.Masked() ||
			sel.DelegatedPrefix.IsValid() && v.Delegated != sel.DelegatedPrefix.Masked() {
			continue
		}
		out = append(out, ss)
	}
	return out
}

// CoA is the LNS as the RFC 5176 server sees it (aaa.CoAHandler).
type CoA struct{ s *Server }

// CoAHandler returns the handler of Disconnect- and CoA-Requests.
func (s *Server) CoAHandler() *CoA { return &CoA{s} }

// Disconnect implements aaa.CoAHandler: cause Admin-Reset.
func (c *CoA) Disconnect(ctx context.Context, sel aaa.SessionSelector) error {
	list := c.s.selectSessions(sel)
	if len(list) == 0 {
		return aaa.ErrSessionNotFound
	}
	for _, ss := range list {
		if err := c.s.disconnect(ctx, ss, causeCoADisconnect); err != nil {
			return err
		}
	}
	return nil
}

// Change implements aaa.CoAHandler: a new rate limit or timeouts.
func (c *CoA) Change(ctx context.Context, sel aaa.SessionSelector, ch aaa.Change) error {
	list := c.s.selectSessions(sel)
	if len(list) == 0 {
		return aaa.ErrSessionNotFound
	}
	chg := &change{rate: ch.RateLimit, sessionTimeout: ch.SessionTimeout, idleTimeout: ch.IdleTimeout}
	for _, ss := range list {
		done := make(chan struct{})
		if !ss.sh.send(ctx, event{kind: evChange, s: ss, change: chg, done: done}) {
			return ctx.Err()
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	return nil
}
