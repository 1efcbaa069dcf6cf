package lns_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/leakcheck"
	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/lns"
	"layeh.com/radius"
	"layeh.com/radius/rfc2866"
)

// openFDs is the number of file descriptors the process holds.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestDaemonFailingPart: when a part cannot be made, RunDaemon returns an
// error that names it, and leaves nothing behind: no goroutine, no file
// descriptor (sockets, TUN queues, the netlink handle), no TUN device.
func TestDaemonFailingPart(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.NewNetns(t, "dfail")
	// The API's address is taken by another program.
	var taken net.Listener
	if err := ns.Do(func() error {
		var err error
		taken, err = net.Listen("tcp", "127.0.0.1:18090")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	for _, tc := range []struct {
		name, conf, want string
	}{
		{"api address in use", "[api]\nlisten = 127.0.0.1:18090\ntoken = tok\n", "lns: api listen 127.0.0.1:18090"},
		{"database unreachable", "[accounting]\nspool-dir = " + t.TempDir() + "\ndatabase = postgres://bras@127.0.0.1:1/bras?connect_timeout=2\n[api]\nlisten = 127.0.0.1:18091\ntoken = tok\n", "lns: accounting database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := lns.ParseConfig(strings.NewReader(`
[lns]
node = dfail
listen = 127.0.0.1:1701
[tun]
name = brfail0
address = 100.64.0.1/32
[pool "p"]
range = 100.64.1.0/24
[lac "a"]
secret = x
[local-users]
file = /dev/null
`+tc.conf), "dfail.conf")
			if err != nil {
				t.Fatal(err)
			}
			base, fds := leakcheck.TakeSettled(), openFDs(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ready := false
			err = lns.RunDaemon(ctx, cfg, lns.DaemonOptions{Logger: slog.New(slog.NewTextHandler(newTestWriter(t), nil)),
				Enter: ns.Do, Ready: func(*lns.Server) { ready = true }})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("RunDaemon: %v; want an error naming %q", err, tc.want)
			}
			if ready {
				t.Error("the LNS reported ready although a part failed")
			}
			base.Back(t, 10*time.Second)
			if n := openFDs(t); n > fds {
				t.Errorf("%d file descriptors open, %d before RunDaemon", n, fds)
			}
			if out, err := ns.Run("ip", "link", "show", "brfail0"); err == nil {
				t.Errorf("the TUN device is still there:\n%s", out)
			}
			if err := ns.Do(func() error {
				c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1701})
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

// TestDaemonAwaitsAccountingOn: the LNS accepts tunnels (reports ready)
// only once its Accounting-On (RFC 2866 section 5.1) is answered, so that
// the RADIUS server has closed the sessions of the last run before it
// sees a new Start.
func TestDaemonAwaitsAccountingOn(t *testing.T) {
	leakcheck.Check(t)
	testenv.RequireRoot(t)
	ns := testenv.NewNetns(t, "acon")
	acctSrv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer acctSrv.Close()
	cfg, err := lns.ParseConfig(strings.NewReader(fmt.Sprintf(`
[lns]
node = acon
listen = 127.0.0.1:1701
[tun]
name = bracon0
address = 100.64.0.1/32
[pool "p"]
range = 100.64.1.0/24
[lac "a"]
secret = x
[radius]
timeout = 5s
retries = 1
[radius.server "r"]
address = 127.0.0.1:1
secret = s
[radius.accounting-server "r"]
address = %s
secret = s
[accounting]
radius = true
spool-dir = %s
[api]
listen = 127.0.0.1:18092
token = tok
`, acctSrv.LocalAddr(), t.TempDir())), "acon.conf")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- lns.RunDaemon(ctx, cfg, lns.DaemonOptions{Logger: slog.New(slog.NewTextHandler(newTestWriter(t), nil)),
			Enter: ns.Do, Ready: func(*lns.Server) { close(ready) }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunDaemon: %v", err)
		}
	}()

	// The first request is the Accounting-On; it stays unanswered.
	buf := make([]byte, 4096)
	acctSrv.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, from, err := acctSrv.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no Accounting-On: %v", err)
	}
	req := append([]byte(nil), buf[:n]...)
	if !isAccountingOn(req) {
		t.Fatalf("first accounting request is not Accounting-On: % x", req)
	}
	select {
	case <-ready:
		t.Fatal("the LNS accepts tunnels before its Accounting-On is answered")
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := acctSrv.WriteTo(accountingResponse(req, []byte("s")), from); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("RunDaemon: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the LNS did not start once Accounting-On was answered")
	}
	// Answer the rest (the Accounting-Off of the shutdown) until the
	// socket is closed.
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for {
			acctSrv.SetReadDeadline(time.Time{})
			n, from, err := acctSrv.ReadFrom(buf)
			if err != nil {
				return
			}
			acctSrv.WriteTo(accountingResponse(buf[:n], []byte("s")), from)
		}
	}()
	t.Cleanup(func() { acctSrv.Close(); <-answered })
}

func isAccountingOn(b []byte) bool {
	p, err := radius.Parse(b, []byte("s"))
	return err == nil && p.Code == radius.CodeAccountingRequest &&
		rfc2866.AcctStatusType_Get(p) == rfc2866.AcctStatusType_Value_AccountingOn
}

// accountingResponse answers the Accounting-Request req (RFC 2866 section
// 4.2).
func accountingResponse(req, secret []byte) []byte {
	p, err := radius.Parse(req, secret)
	if err != nil {
		panic(err)
	}
	b, err := p.Response(radius.CodeAccountingResponse).Encode()
	if err != nil {
		panic(err)
	}
	return b
}
