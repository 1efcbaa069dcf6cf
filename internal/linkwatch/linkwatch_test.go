package linkwatch

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/netlab"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint32
		want  bool
	}{
		{"up with carrier", unix.IFF_UP | unix.IFF_LOWER_UP | unix.IFF_RUNNING, true},
		{"cable pulled", unix.IFF_UP | unix.IFF_BROADCAST, false},
		{"set down", unix.IFF_BROADCAST, false},
		{"carrier but down", unix.IFF_LOWER_UP, false},
	} {
		if got := Up(tc.flags); got != tc.want {
			t.Errorf("%s: Up(%#x) = %v, want %v", tc.name, tc.flags, got, tc.want)
		}
	}
}

// TestWatchVeth sets each end of a veth pair down and up again: the
// watcher in one namespace sees its own end lose its carrier whichever end
// is set down, and get it back, in order; an interface it does not watch
// and the state at the start are not reported.
func TestWatchVeth(t *testing.T) {
	testenv.RequireRoot(t)
	id := netlab.RandHex(3)
	var ns [2]*netlab.Netns
	for i, n := range []string{"a", "b"} {
		x, err := netlab.Create("bras-lw-" + id + "-" + n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(x.Delete)
		ns[i] = x
	}
	none := netip.Prefix{}
	if err := netlab.Link(ns[0], "eth0", none, ns[1], "eth0", none); err != nil {
		t.Fatal(err)
	}
	if err := netlab.Link(ns[0], "other", none, ns[1], "other", none); err != nil {
		t.Fatal(err)
	}
	got := make(chan Transition, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var w *Watcher
		if err := ns[0].Do(func() (err error) { w, err = New([]string{"eth0"}); return err }); err != nil {
			done <- err
			return
		}
		// Run goes on on any thread: the Watcher keeps its namespace.
		done <- w.Run(ctx, func(tr Transition) { got <- tr }, func(err error) { t.Logf("watch: %v", err) })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(300 * time.Millisecond) // the subscription's first dump
	expect := func(want Transition) {
		t.Helper()
		select {
		case tr := <-got:
			if diff := cmp.Diff(want, tr, cmp.Comparer(func(a, b time.Time) bool { return true })); diff != "" {
				t.Errorf("transition (-want +got):\n%s", diff)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no transition, want %+v", want)
		}
	}
	for _, step := range []struct {
		ns    *netlab.Netns
		iface string
		state string
	}{
		{ns[0], "other", "down"},
		{ns[1], "eth0", "down"}, // the peer: this end loses its carrier
		{ns[1], "eth0", "up"},
		{ns[0], "eth0", "down"}, // this end itself
		{ns[0], "eth0", "up"},
	} {
		if _, err := step.ns.Run("ip", "link", "set", step.iface, step.state); err != nil {
			t.Fatal(err)
		}
		if step.iface == "eth0" {
			expect(Transition{Name: "eth0", Up: step.state == "up"})
		}
	}
	select {
	case tr := <-got:
		t.Errorf("unexpected transition %+v", tr)
	case <-time.After(300 * time.Millisecond):
	}
}
