package l2tp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestAcceptVersions: an accepting side that takes one version from a
// peer (TunnelOptions.Versions) refuses an SCCRQ of the other with StopCCN
// result 5 naming the version it takes, and opens tunnels of the version
// it takes.
func TestAcceptVersions(t *testing.T) {
	for _, c := range []struct{ accept, dial int }{{2, 3}, {3, 2}, {3, 3}, {2, 2}} {
		t.Run(fmt.Sprintf("accept%d/dial%d", c.accept, c.dial), func(t *testing.T) {
			checkGoroutines(t)
			opts := fastOpts("v-secret")
			if c.dial == 3 && c.accept == 2 {
				// A refusal of an authenticating SCCRQ cannot be signed
				// for the peer (it has not seen our nonce): it would drop it.
				opts.Secret = nil
			}
			lnsOpts := opts
			lnsOpts.Versions = []int{c.accept}
			lac, lns, _, _, lnsAt := udpEndpoints(t, lnsOpts, nil)
			opts.Version = c.dial
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tn, err := lac.Dial(ctx, lnsAt, opts)
			if c.accept == c.dial {
				if err != nil || tn.Version() != c.dial {
					t.Fatalf("Dial: %v (tunnel %v); want a v%d tunnel", err, tn, c.dial)
				}
				return
			}
			var te *TunnelError
			if !errors.As(err, &te) || te.Result.Result != uint16(StopCCNBadVersion) || te.Result.Error != uint16(c.accept) {
				t.Fatalf("Dial: %v; want StopCCN result 5 with error %d", err, c.accept)
			}
			if got := lns.Stats().TunnelsRefused.Load(); got != 1 {
				t.Errorf("TunnelsRefused %d, want 1", got)
			}
		})
	}
}

// TestV3Framing: once a PPP pseudowire is up, each side's V3Framing names
// the peer's Session ID and the cookie the peer assigned; an L2TPv2
// session has none.
func TestV3Framing(t *testing.T) {
	checkGoroutines(t)
	opts := fastOpts("f-secret")
	opts.Version, opts.CookieLen = 3, 8
	lac, _, lacRec, lnsRec, lnsAt := udpEndpoints(t, opts, nil)
	tn, err := lac.Dial(context.Background(), lnsAt, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tn.PlaceCall(CallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "session up on both ends", func() bool { return lacRec.sessionsUp.Load() == 1 && lnsRec.sessionsUp.Load() == 1 })
	ls := lnsSessionOf(t, lnsRec, nil)
	lf, ok1 := s.V3Framing()
	nf, ok2 := ls.V3Framing()
	if !ok1 || !ok2 {
		t.Fatalf("V3Framing ok %v %v", ok1, ok2)
	}
	if lf.Header.SessionID != ls.LocalSessionID() || nf.Header.SessionID != s.LocalSessionID() {
		t.Errorf("session IDs %d %d, want %d %d", lf.Header.SessionID, nf.Header.SessionID, ls.LocalSessionID(), s.LocalSessionID())
	}
	if lf.Format.CookieLen != 8 || lf.Header.Cookie != ls.v3d.Load().rxCookie || nf.Header.Cookie != s.v3d.Load().rxCookie {
		t.Errorf("cookies: LAC sends %d/%#x, LNS sends %#x; want what the other assigned", lf.Format.CookieLen, lf.Header.Cookie, nf.Header.Cookie)
	}
	opts.Version = 2
	t2, err := lac.Dial(context.Background(), lnsAt, opts)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := t2.PlaceCall(CallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "v2 session up", func() bool { return lacRec.sessionsUp.Load() == 2 })
	if _, ok := s2.V3Framing(); ok {
		t.Error("V3Framing of an L2TPv2 session: ok")
	}
}
