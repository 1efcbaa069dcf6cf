package lac

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/bras-project/bras/dataplane"
	"github.com/bras-project/bras/internal/api"
	"github.com/bras-project/bras/l2tp"
)

// API returns the HTTP API backend of the LAC: its sessions (state, user,
// MAC, access-line IDs, tunnel and session IDs, counters), disconnect (CDN
// and PADT) and tunnels. It has no address pools.
func (l *LAC) API() api.Backend { return apiBackend{l} }

type apiBackend struct{ l *LAC }

// SetupCounts are the set-ups so far for the API's history: calls up (ICCN
// sent), and subscribers refused or whose call timed out.
func (l *LAC) SetupCounts() api.SetupCounts {
	return api.SetupCounts{Up: l.stats.CallsUp.Load(), Failed: l.stats.Refused.Load() + l.stats.CallTimeouts.Load()}
}

// info describes s; shard goroutine only.
func (s *session) info() api.Session {
	calling := s.ps.ClientMAC.String()
	if s.line != nil && s.line.CircuitID != "" {
		calling = s.line.CircuitID
	}
	a := api.Session{
		ID: s.id, User: s.user, Realm: Realm(s.user), State: s.state.String(),
		MAC: s.ps.ClientMAC.String(), CallingStationID: calling, Started: s.started,
		InOctets: s.UpBytes.Load(), InPackets: s.UpPackets.Load(),
		OutOctets: s.DownBytes.Load(), OutPackets: s.DownPackets.Load(),
	}
	if al := s.line; al != nil {
		a.CircuitID, a.RemoteID = al.CircuitID, al.RemoteID
	}
	if x := s.fastCounters(); x != (dataplane.Counters{}) {
		a.InOctets += x.UpOctets
		a.InPackets += x.UpPackets
		a.OutOctets += x.DownOctets
		a.OutPackets += x.DownPackets
	}
	if s.ls != nil {
		a.TunnelID, a.SessionID = s.ls.Tunnel().LocalID(), s.ls.LocalID()
		a.PeerTunnelID, a.PeerSessionID = s.ls.Tunnel().PeerID(), s.ls.PeerID()
		a.L2TPVersion, a.PWType = s.ls.Tunnel().Version(), strings.ToLower(s.ls.PWType().String())
		if a.L2TPVersion == 3 {
			a.ConnID, a.PeerConnID = s.ls.Tunnel().LocalConnID(), s.ls.Tunnel().PeerConnID()
			a.LocalSessionID, a.RemoteSessionID = s.ls.LocalSessionID(), s.ls.RemoteSessionID()
		}
	}
	return a
}

// Sessions implements api.Backend: a snapshot from every shard.
func (b apiBackend) Sessions(ctx context.Context, f api.SessionFilter) ([]api.Session, error) {
	l := b.l
	reply := make(chan []api.Session, len(l.shards))
	for _, sh := range l.shards {
		if !sh.post(event{kind: evSnapshot, reply: reply}) {
			return nil, errors.New("lac: control queues full, try again")
		}
	}
	var all []api.Session
	for range l.shards {
		select {
		case list := <-reply:
			for _, s := range list {
				if f.Match(s) {
					all = append(all, s)
				}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, nil
}

// Session implements api.Backend.
func (b apiBackend) Session(ctx context.Context, id string) (api.Session, error) {
	all, err := b.Sessions(ctx, api.SessionFilter{})
	if err != nil {
		return api.Session{}, err
	}
	for _, s := range all {
		if s.ID == id {
			return s, nil
		}
	}
	return api.Session{}, fmt.Errorf("lac: session %s: %w", id, api.ErrNotFound)
}

// Disconnect implements api.Backend: CDN (result 3, administrative) to
// the LNS and PADT to the subscriber.
func (b apiBackend) Disconnect(_ context.Context, id string, _ string) error {
	v, ok := b.l.byID.Load(id)
	if !ok {
		return fmt.Errorf("lac: session %s: %w", id, api.ErrNotFound)
	}
	s := v.(*session)
	if !s.sh.post(event{kind: evAdminClose, s: s}) {
		return errors.New("lac: control queue full, try again")
	}
	return nil
}

// Tunnels implements api.Backend.
func (b apiBackend) Tunnels(context.Context) ([]api.Tunnel, error) {
	var r []api.Tunnel
	for _, pt := range b.l.pool.List() {
		t, ok := pt.Tunnel.(*l2tp.Tunnel)
		if !ok {
			continue
		}
		r = append(r, api.Tunnel{LocalID: t.LocalID(), PeerID: t.PeerID(), Peer: t.Peer().String(),
			HostName: t.PeerHostName(), State: t.State().String(), Sessions: pt.Sessions, Established: pt.Since, Encap: t.Encap().String()})
		if r[len(r)-1].Version = t.Version(); t.Version() == 3 {
			r[len(r)-1].LocalConnID, r[len(r)-1].PeerConnID = t.LocalConnID(), t.PeerConnID()
		}
	}
	sort.Slice(r, func(i, j int) bool { return r[i].LocalID < r[j].LocalID })
	return r, nil
}
