package lac

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/leakcheck"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestDaemonFailingPart: when a part cannot start (its address is taken
// by another program), RunDaemon returns an error that names it and
// leaves nothing behind: no goroutine, no file descriptor, the L2TP port
// free for the next start.
func TestDaemonFailingPart(t *testing.T) {
	l := newLabWithoutLAC(t)
	var taken net.Listener
	if err := l.lacNS.Do(func() error {
		var err error
		taken, err = net.Listen("tcp", "10.9.0.1:9102")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct{ name, conf, want string }{
		{"metrics address in use", "metrics-listen = 10.9.0.1:9102\n", "lac: metrics-listen"},
		{"api address in use", "metrics-listen = 10.9.0.1:9103\n[api]\nlisten = 10.9.0.1:9102\nallow-remote = true\ntoken = t\n", "lac: api"},
		// The second access interface does not exist: the first one's
		// sockets, already open, are closed.
		{"access interface missing", "[access \"nope0\"]\nmode = proxy\n", "lac: access nope0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := `
[access "a0"]
mode = proxy

[lns "lab"]
address = 10.9.0.2:1701
secret = tunnel-secret
realms = example.com

[lac]
host-name = lac-daemon
listen = 10.9.0.1:1701
` + tc.conf
			path := filepath.Join(t.TempDir(), "lac.conf")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			base, fds := leakcheck.TakeSettled(), openFDs(t)
			ctx, cancel := context.WithTimeout(l.ctx, 20*time.Second)
			defer cancel()
			err = l.lacNS.Do(func() error { return RunDaemon(ctx, cfg, DaemonOptions{}) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("RunDaemon: %v; want an error naming %q", err, tc.want)
			}
			base.Back(t, 10*time.Second)
			if n := openFDs(t); n > fds {
				t.Errorf("%d file descriptors open, %d before RunDaemon", n, fds)
			}
			if err := l.lacNS.Do(func() error {
				c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(10, 9, 0, 1), Port: 1701})
				if err == nil {
					c.Close()
				}
				return err
			}); err != nil {
				t.Errorf("the L2TP port is still bound: %v", err)
			}
		})
	}
}
