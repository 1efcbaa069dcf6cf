package linkwatch

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Up reports whether an interface with these link flags (struct
// ifinfomsg's ifi_flags, netdevice(7)) carries traffic: administratively
// up (IFF_UP) and with its carrier (IFF_LOWER_UP). Setting a veth down
// clears both on it and IFF_LOWER_UP on its peer; a NIC whose cable is
// pulled keeps IFF_UP and loses IFF_LOWER_UP.
func Up(flags uint32) bool {
	return flags&unix.IFF_UP != 0 && flags&unix.IFF_LOWER_UP != 0
}

// Transition is a change of an interface's carrier.
type Transition struct {
	Name string
	Up   bool
	At   time.Time
}

// Watcher follows the carrier of some interfaces of one network
// namespace.
type Watcher struct {
	names []string
	ns    netns.NsHandle
}

// New returns a Watcher of the named interfaces in the network namespace
// of the calling thread (a goroutine that Run starts may run on another
// thread, in another namespace).
func New(names []string) (*Watcher, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("linkwatch: the network namespace: %w", err)
	}
	return &Watcher{names: names, ns: ns}, nil
}

// Run follows the carrier of the interfaces until ctx is done, and calls
// fn on one goroutine, in order, each time one of them goes down or comes
// back up. The state each interface has when Run starts is its baseline
// and is not reported; fn gets only changes from it. When the netlink
// socket fails (its receive buffer overflowed), Run subscribes again and
// compares the interfaces' state then with what it knew, so no change is
// lost for good. onErr, when not nil, gets those failures. Run closes
// the Watcher.
func (w *Watcher) Run(ctx context.Context, fn func(Transition), onErr func(error)) error {
	defer w.ns.Close()
	state := make(map[string]bool, len(w.names))
	for _, n := range w.names {
		state[n] = false
	}
	known := map[string]bool{}
	first := true
	for ctx.Err() == nil {
		ch := make(chan netlink.LinkUpdate, 64)
		done := make(chan struct{})
		var closed atomic.Bool // done closed: the socket's error is ours
		err := w.subscribe(ch, done, netlink.LinkSubscribeOptions{
			ListExisting: true,
			ErrorCallback: func(err error) {
				if ctx.Err() == nil && !closed.Load() {
					report(onErr, err)
				}
			},
		})
		if err != nil {
			close(done)
			if first {
				return fmt.Errorf("linkwatch: %w", err)
			}
			report(onErr, err)
			if sleep(ctx, time.Second) != nil {
				return nil
			}
			continue
		}
		first = false
		watch(ctx, ch, state, known, fn)
		closed.Store(true)
		close(done)
		for range ch {
			// The subscription's reader ends once done closes its socket.
		}
		if ctx.Err() == nil {
			sleep(ctx, 100*time.Millisecond)
		}
	}
	return nil
}

// subscribe opens the netlink subscription in the Watcher's namespace. A
// thread already in it opens the socket where it is: entering a namespace
// (setns) needs CAP_SYS_ADMIN, which a daemon running as its own user
// does not have (deploy/systemd), and its threads never leave its
// namespace. Only a thread elsewhere (a test that moves threads between
// namespaces) enters it.
func (w *Watcher) subscribe(ch chan<- netlink.LinkUpdate, done <-chan struct{}, opts netlink.LinkSubscribeOptions) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if cur, err := netns.Get(); err != nil || !cur.Equal(w.ns) {
		opts.Namespace = &w.ns
		if err == nil {
			cur.Close()
		}
	} else {
		cur.Close()
	}
	return netlink.LinkSubscribeWithOptions(ch, done, opts)
}

// watch reads updates until ctx is done or ch is closed (the
// subscription failed).
func watch(ctx context.Context, ch <-chan netlink.LinkUpdate, state, known map[string]bool, fn func(Transition)) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-ch:
			if !ok {
				return
			}
			name := u.Attrs().Name
			if _, ok := state[name]; !ok {
				continue
			}
			up := Up(u.IfInfomsg.Flags)
			if u.Header.Type == unix.RTM_DELLINK {
				up = false
			}
			was, seen := state[name], known[name]
			state[name], known[name] = up, true
			if seen && was != up {
				fn(Transition{Name: name, Up: up, At: time.Now()})
			}
		}
	}
}

func report(onErr func(error), err error) {
	if onErr != nil {
		onErr(err)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
