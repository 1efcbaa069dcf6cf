package tun_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/internal/tun"
)

// openOffload opens a TUN device in ns with or without offloads, gives it
// addr, MTU 1400, and routes peer into it.
func openOffload(t *testing.T, ns *testenv.Netns, offload bool, addr, peer string) *tun.Device {
	t.Helper()
	var dev *tun.Device
	err := ns.Do(func() error {
		var err error
		if dev, err = tun.OpenWith("bo%d", 1, tun.Options{Offload: offload}); err != nil {
			return err
		}
		link, err := tun.NewLink(nil, dev.Name())
		if err != nil {
			return err
		}
		if err := link.Up(1400); err != nil {
			return err
		}
		if err := link.AddAddr(netip.MustParsePrefix(addr)); err != nil {
			return err
		}
		return link.AddRoute(netip.MustParsePrefix(peer))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	if offload && !dev.Offload().TSO {
		t.Fatalf("%s: the kernel refused TSO on a TUN device (Offload %+v)", dev.Name(), dev.Offload())
	}
	return dev
}

// relay copies packets from one device to the other as the LNS does:
// ReadBatch (super-packets split), then WriteBatch of the batch (runs
// coalesced). Every IPv4 packet read must have checksums that verify;
// bad counts those that do not.
func relay(ctx context.Context, from, to *tun.Queue, bad *atomic.Uint64) error {
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = make([]byte, 1500)
	}
	sizes := make([]int, len(bufs))
	out := make([][]byte, 0, len(bufs))
	for {
		n, err := from.ReadBatch(bufs, sizes, 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return err
		}
		out = out[:0]
		for i := 0; i < n; i++ {
			p := bufs[i][:sizes[i]]
			if p[0]>>4 != 4 {
				continue // the kernel's IPv6 solicitations
			}
			if !checksumsOK(p) {
				bad.Add(1)
			}
			out = append(out, p)
		}
		if len(out) > 0 {
			if _, err := to.WriteBatch(out, 0); err != nil && errors.Is(err, tun.ErrClosed) {
				return err
			}
		}
	}
}

// TestOffloadTCPThroughTUN runs a real TCP connection between two
// namespaces through two TUN devices and a relay between them (the LNS's
// two directions): the client's kernel hands its device super-packets that
// the relay splits, the relay's batches are coalesced into GSO writes that
// the server's kernel receives; both ends must get exactly the byte stream
// sent, every packet the relay read must verify, and the offload counters
// must show that super-packets were read and written.
func TestOffloadTCPThroughTUN(t *testing.T) {
	for _, tt := range []struct {
		name       string
		offA, offB bool
	}{
		{"both offload", true, true},
		{"split into a plain device", true, false},
		{"coalesced from a plain device", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) { offloadTCP(t, tt.offA, tt.offB) })
	}
}

func offloadTCP(t *testing.T, offA, offB bool) {
	nsA := testenv.NewNetns(t, "tuna")
	nsB := testenv.NewNetns(t, "tunb")
	devA := openOffload(t, nsA, offA, "10.99.0.1/32", "10.99.2.0/24")
	devB := openOffload(t, nsB, offB, "10.99.2.1/32", "10.99.0.0/24")
	qa, qb := devA.Queues()[0], devB.Queues()[0]

	ctx, cancel := context.WithCancel(context.Background())
	var bad atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, dir := range [][2]*tun.Queue{{qa, qb}, {qb, qa}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- relay(ctx, dir[0], dir[1], &bad)
		}()
	}
	defer func() {
		cancel()
		qa.SetReadDeadline(time.Unix(1, 0))
		qb.SetReadDeadline(time.Unix(1, 0))
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("relay: %v", err)
			}
		}
	}()

	var ln net.Listener
	if err := nsB.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", "10.99.2.1:5001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	up, down := pattern(0, 4<<20), pattern(3, 2<<20)
	srv := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srv <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		go c.Write(down)
		got, err := io.ReadAll(c)
		if err == nil && !bytes.Equal(got, up) {
			err = fmt.Errorf("server received %d octets, not the %d sent (first difference at %d)", len(got), len(up), firstDiff(got, up))
		}
		srv <- err
	}()
	var c net.Conn
	if err := nsA.Do(func() error {
		var err error
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(10, 99, 0, 1)}}
		c, err = d.Dial("tcp4", "10.99.2.1:5001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	recv := make(chan []byte, 1)
	go func() {
		got, _ := io.ReadAll(c)
		recv <- got
	}()
	if _, err := c.Write(up); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	if err := <-srv; err != nil {
		t.Fatal(err)
	}
	if got := <-recv; !bytes.Equal(got, down) {
		t.Errorf("client received %d octets, not the %d sent (first difference at %d)", len(got), len(down), firstDiff(got, down))
	}
	if n := bad.Load(); n != 0 {
		t.Errorf("%d packets read from the devices had checksums or lengths that do not verify", n)
	}
	sa, sb := qa.Stats(), qb.Stats()
	t.Logf("client side %+v", sa)
	t.Logf("server side %+v", sb)
	for _, d := range []struct {
		name string
		on   bool
		s    tun.QueueStats
	}{{"client side", offA, sa}, {"server side", offB, sb}} {
		switch {
		case d.on && (d.s.GSOReads == 0 || d.s.Segments <= d.s.GSOReads):
			t.Errorf("%s: %d super-packets read, %d segments: the kernel's TSO did not reach the reader", d.name, d.s.GSOReads, d.s.Segments)
		case d.on && (d.s.GSOWrites == 0 || d.s.Coalesced <= d.s.GSOWrites):
			t.Errorf("%s: %d super-packets written of %d segments: nothing coalesced", d.name, d.s.GSOWrites, d.s.Coalesced)
		case d.s.TooBig+d.s.Malformed+d.s.GSORefused != 0:
			t.Errorf("%s: drops or refusals: %+v", d.name, d.s)
		case !d.on && d.s != (tun.QueueStats{}):
			t.Errorf("%s without offloads counted %+v", d.name, d.s)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
