package api

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bras-project/bras/internal/table"
)

func TestClient(t *testing.T) {
	ts := startServer(t, nil)
	ts.backend.sessions = append(ts.backend.sessions, Session{ID: "odd/id %", User: "dave@isp", State: "up"})
	c, err := NewClient(ts.url+"/", []byte(testToken+"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eq := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

	ss, err := c.Sessions(ctx, SessionFilter{LAC: "lac1", State: "up"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ts.backend.sessions[:1], ss, eq); diff != "" {
		t.Errorf("Sessions (-want +got)\n%s", diff)
	}
	ss, err = c.Sessions(ctx, SessionFilter{Addr: netip.MustParseAddr("100.64.0.2"), Limit: 5})
	if err != nil || len(ss) != 1 || ss[0].ID != "0000b2" {
		t.Errorf("Sessions by addr: %v %v", ss, err)
	}

	s, err := c.Session(ctx, "odd/id %")
	if err != nil || s.User != "dave@isp" {
		t.Errorf("Session with / and %% in the ID: %+v %v", s, err)
	}
	if _, err := c.Session(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}

	if err := c.Disconnect(ctx, "0000a1"); err != nil {
		t.Fatal(err)
	}
	err = c.Disconnect(ctx, "0000a1")
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Message != `session "0000a1" not found` || !errors.Is(err, ErrNotFound) {
		t.Errorf("second disconnect: %v", err)
	}
	if diff := cmp.Diff([]string{"0000a1 admin-reset"}, ts.backend.disconnected); diff != "" {
		t.Errorf("disconnects (-want +got)\n%s", diff)
	}

	tus, err := c.Tunnels(ctx)
	if err != nil || len(tus) != 1 || tus[0].HostName != "lac1" {
		t.Errorf("Tunnels: %v %v", tus, err)
	}

	var b strings.Builder
	if err := c.Report(ctx, "usage-daily", url.Values{"day": {"2026-11-20"}}, table.CSV, &b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "day,user,octets\n") {
		t.Errorf("report CSV: %q", b.String())
	}
	err = c.Report(ctx, "usage-daily", url.Values{"day": {"x"}}, table.CSV, &b)
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(err.Error(), `parameter "day"`) {
		t.Errorf("bad report parameter: %v", err)
	}

	bad, _ := NewClient(ts.url, []byte("wrong"), nil)
	_, err = bad.Sessions(ctx, SessionFilter{})
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Message != "invalid bearer token" {
		t.Errorf("wrong token: %v", err)
	}
	if got := err.Error(); got != "api: 401 Unauthorized: invalid bearer token" {
		t.Errorf("error text %q", got)
	}
}

func TestNewClientRefuses(t *testing.T) {
	for _, tt := range []struct{ url, token string }{
		{"127.0.0.1:8080", "t"}, {"ftp://x", "t"}, {"http://", "t"}, {"http://127.0.0.1:8080", " \n"},
	} {
		if _, err := NewClient(tt.url, []byte(tt.token), nil); err == nil {
			t.Errorf("NewClient(%q, %q) succeeded", tt.url, tt.token)
		}
	}
}

func TestClientUnreachable(t *testing.T) {
	c, _ := NewClient("http://127.0.0.1:1", []byte("t"), nil)
	if _, err := c.Sessions(context.Background(), SessionFilter{}); err == nil || !strings.HasPrefix(err.Error(), "api: ") {
		t.Errorf("unreachable server: %v", err)
	}
}
