package aaa_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/aaa"
	"github.com/bras-project/bras/aaa/aaatest"
	"golang.org/x/sys/unix"
	"layeh.com/radius"
)

// TestSharedSockets: 600 Access-Requests in flight at once to one server
// go out on ceil(600/256) = 3 sockets, not one each (RFC 2865 section 3:
// the Identifier tells them apart), and each gets its own answer though
// the server answers them in reverse order; a response to no waiting
// request is dropped and counted; the sockets close when the client is
// idle.
func TestSharedSockets(t *testing.T) {
	const n = 600
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// A burst of 600 datagrams overflows the default receive buffer.
	_ = pc.(*net.UDPConn).SetReadBuffer(4 << 20)
	if rc, err := pc.(*net.UDPConn).SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) })
	}
	type got struct {
		req  *radius.Packet
		from net.Addr
	}
	all := make(chan got, n)
	go func() {
		buf := make([]byte, 4096)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if req, err := radius.Parse(append([]byte(nil), buf[:k]...), secret); err == nil {
				all <- got{req, from}
			}
		}
	}()
	reply := func(g got, user string) {
		resp := g.req.Response(radius.CodeAccessAccept)
		resp.Attributes.Add(18, radius.Attribute("hello "+user)) // Reply-Message
		out, err := aaatest.Encode(resp, g.req.Authenticator, aaatest.Normal)
		if err != nil {
			t.Error(err)
			return
		}
		pc.WriteTo(out, g.from)
	}
	goroutines := runtime.NumGoroutine()
	c, err := aaa.NewClient(aaa.ClientConfig{Servers: []aaa.Server{{Addr: pc.LocalAddr().String(), Secret: secret}},
		NASIdentifier: "t", Timeout: 3 * time.Second, Retries: 5, MaxInFlight: n})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("user%d", i)
			r, err := c.Authenticate(context.Background(), aaa.AuthRequest{Username: user, PAPPassword: []byte("pw")})
			switch {
			case err != nil:
				errs <- fmt.Errorf("%s: %w", user, err)
			case r.ReplyMessage != "hello "+user:
				errs <- fmt.Errorf("%s got the answer %q", user, r.ReplyMessage)
			}
		}()
	}
	// Each user's latest transmission (one lost in a burst comes again).
	byUser := map[string]got{}
	ports := map[string]bool{}
	for len(byUser) < n {
		select {
		case g := <-all:
			byUser[string(g.req.Attributes.Get(1))] = g
			ports[g.from.String()] = true
		case <-time.After(15 * time.Second):
			t.Fatalf("%d users' requests reached the server, want %d", len(byUser), n)
		}
	}
	var reqs []got
	for i := range n {
		reqs = append(reqs, byUser[fmt.Sprintf("user%d", i)])
	}
	if len(ports) != 3 {
		t.Errorf("the requests came from %d sockets, want 3", len(ports))
	}
	// A stray answer first: the Identifier of the first request, from a
	// request that does not exist (another Authenticator).
	stray := reqs[0].req.Response(radius.CodeAccessAccept)
	if out, err := aaatest.Encode(stray, [16]byte{1}, aaatest.Normal); err == nil {
		pc.WriteTo(out, reqs[0].from)
	}
	for i := len(reqs) - 1; i >= 0; i-- {
		user := string(reqs[i].req.Attributes.Get(1))
		reply(reqs[i], user)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := c.Stats(); st.Accepts != n {
		t.Errorf("%d accepts, want %d", st.Accepts, n)
	}
	if st := c.Stats(); st.BadAuthenticator+st.Unexpected == 0 {
		t.Error("the stray answer was not counted")
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		t.Errorf("%d goroutines after the client went idle, %d before: the sockets' readers stay", g, goroutines)
	}
}
