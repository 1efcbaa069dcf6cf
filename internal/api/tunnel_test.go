package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// closingBackend is a fakeBackend that clears tunnels.
type closingBackend struct {
	*fakeBackend
	closed []uint16
}

func (b *closingBackend) CloseTunnel(_ context.Context, id uint16) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.tunnels {
		if t.LocalID == id {
			b.closed = append(b.closed, id)
			return nil
		}
	}
	return ErrNotFound
}

// TestCloseTunnel: DELETE /api/v1/tunnels/{id} clears a tunnel of a
// daemon that can (204), says which ID is unknown or malformed (404,
// 400), and answers 404 on a daemon that cannot.
func TestCloseTunnel(t *testing.T) {
	cb := &closingBackend{}
	ts := startServer(t, func(c *Config) {
		cb.fakeBackend = c.Backend.(*fakeBackend)
		c.Backend = cb
	})
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/v1/tunnels/1", http.StatusNoContent, ""},
		{"/api/v1/tunnels/9", http.StatusNotFound, "tunnel 9 not found"},
		{"/api/v1/tunnels/0", http.StatusBadRequest, `tunnel "0": want a local Tunnel ID, 1 to 65535`},
		{"/api/v1/tunnels/70000", http.StatusBadRequest, `tunnel "70000": want a local Tunnel ID, 1 to 65535`},
	} {
		r := ts.request(t, http.MethodDelete, tc.path, nil)
		if r.status != tc.status {
			t.Errorf("DELETE %s: %d %s, want %d", tc.path, r.status, r.body, tc.status)
			continue
		}
		if tc.msg != "" {
			if got := errorMessage(t, r); got != tc.msg {
				t.Errorf("DELETE %s: %q, want %q", tc.path, got, tc.msg)
			}
		}
	}
	if diff := cmp.Diff([]uint16{1}, cb.closed); diff != "" {
		t.Errorf("tunnels closed (-want +got)\n%s", diff)
	}
	plain := startServer(t, nil) // a backend without CloseTunnel (the LAC's)
	if r := plain.request(t, http.MethodDelete, "/api/v1/tunnels/1", nil); r.status != http.StatusNotFound ||
		errorMessage(t, r) != "this daemon does not clear tunnels" {
		t.Errorf("DELETE on a daemon that does not clear tunnels: %d %s", r.status, r.body)
	}
}
