// Package apitest holds an in-memory api.Backend for the tests of the API's
// users (the CLI, the lab) and for trying the API without a daemon.
package apitest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/bras-project/bras/internal/api"
)

// Backend is an api.Backend over a slice of sessions. It is safe for
// concurrent use.
type Backend struct {
	mu           sync.Mutex
	sessions     []api.Session
	tunnels      []api.Tunnel
	pools        []api.Pool
	disconnected []string
}

// SetPools gives the backend address pools (GET /api/v1/pools); without
// them it answers 404 there, as the LAC does.
func (b *Backend) SetPools(ps []api.Pool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pools = slices.Clone(ps)
}

// Pools implements api.PoolLister.
func (b *Backend) Pools(context.Context) ([]api.Pool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pools == nil {
		return nil, fmt.Errorf("apitest: no pools: %w", api.ErrNotFound)
	}
	return slices.Clone(b.pools), nil
}

// NewBackend returns a backend holding copies of ss and ts.
func NewBackend(ss []api.Session, ts []api.Tunnel) *Backend {
	return &Backend{sessions: slices.Clone(ss), tunnels: slices.Clone(ts)}
}

// Sessions implements api.Backend.
func (b *Backend) Sessions(_ context.Context, f api.SessionFilter) ([]api.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []api.Session
	for _, s := range b.sessions {
		if f.Match(s) {
			out = append(out, s)
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Session implements api.Backend.
func (b *Backend) Session(_ context.Context, id string) (api.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.sessions {
		if s.ID == id {
			return s, nil
		}
	}
	return api.Session{}, fmt.Errorf("apitest: session %q: %w", id, api.ErrNotFound)
}

// Disconnect implements api.Backend: it removes the session and records
// "id cause".
func (b *Backend) Disconnect(_ context.Context, id, cause string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, s := range b.sessions {
		if s.ID == id {
			b.sessions = slices.Delete(b.sessions, i, i+1)
			b.disconnected = append(b.disconnected, id+" "+cause)
			return nil
		}
	}
	return fmt.Errorf("apitest: session %q: %w", id, api.ErrNotFound)
}

// Tunnels implements api.Backend.
func (b *Backend) Tunnels(context.Context) ([]api.Tunnel, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.tunnels), nil
}

// Disconnected returns the disconnects so far, as "id cause".
func (b *Backend) Disconnected() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.disconnected)
}
