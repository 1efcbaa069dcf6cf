package udpio_test

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bras-project/bras/internal/metrics"
	"github.com/bras-project/bras/internal/udpio"
)

// TestSetBuffers asks for 4 MiB both ways and reads back what the kernel
// granted: exactly that for root (SO_RCVBUFFORCE passes
// net.core.rmem_max), at most rmem_max otherwise.
func TestSetBuffers(t *testing.T) {
	c := listen(t)
	before, err := udpio.GetBuffers(c)
	if err != nil {
		t.Fatal(err)
	}
	want := udpio.Buffers{Receive: udpio.DefaultBuffer, Send: udpio.DefaultBuffer}
	got, err := udpio.SetBuffers(c, want)
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if got != want {
			t.Errorf("SetBuffers(%+v) as root granted %+v", want, got)
		}
	} else if got.Receive > want.Receive || got.Receive < min(before.Receive, want.Receive) {
		t.Errorf("SetBuffers(%+v) granted %+v (before: %+v)", want, got, before)
	}
	if again, _ := udpio.GetBuffers(c); again != got {
		t.Errorf("GetBuffers = %+v after SetBuffers granted %+v", again, got)
	}
}

// TestDropsOnFlood fills a socket whose receive buffer is tiny and never
// read: the kernel drops what does not fit, and Drops reports as many as
// /proc/net/udp shows for the socket's inode.
func TestDropsOnFlood(t *testing.T) {
	rx, tx := listen(t), listen(t)
	if _, err := udpio.SetBuffers(rx, udpio.Buffers{Receive: 4096}); err != nil {
		t.Fatal(err)
	}
	if n, err := udpio.Drops(rx); err != nil || n != 0 {
		t.Fatalf("Drops before the flood = %d, %v; want 0, nil", n, err)
	}
	payload := make([]byte, 512)
	const sent = 500
	for range sent {
		if _, err := tx.WriteToUDP(payload, rx.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := udpio.Drops(rx)
	if err != nil {
		t.Fatal(err)
	}
	if got == 0 || got >= sent {
		t.Fatalf("Drops after %d datagrams into a 4 KiB buffer = %d; want some but not all", sent, got)
	}
	if proc := procUDPDrops(t, rx); proc != got {
		t.Errorf("Drops = %d, /proc/net/udp drops = %d", got, proc)
	}
}

// procUDPDrops is the "drops" column (the last) of c's line in
// /proc/net/udp, found by the socket's inode (the tenth column).
func procUDPDrops(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, _ := c.SyscallConn()
	var st syscall.Stat_t
	rc.Control(func(fd uintptr) { syscall.Fstat(int(fd), &st) })
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		t.Skipf("no /proc/net/udp: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 13 || fs[9] != strconv.FormatUint(st.Ino, 10) {
			continue
		}
		n, err := strconv.ParseUint(fs[len(fs)-1], 10, 64)
		if err != nil {
			t.Fatalf("/proc/net/udp drops %q: %v", fs[len(fs)-1], err)
		}
		return n
	}
	t.Fatalf("inode %d not in /proc/net/udp", st.Ino)
	return 0
}

// TestDropsMetric floods a socket with a tiny receive buffer: the scrape
// shows the kernel's drops and the buffer it granted.
func TestDropsMetric(t *testing.T) {
	rx, tx := listen(t), listen(t)
	got, err := udpio.SetBuffers(rx, udpio.Buffers{Receive: 4096})
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.New()
	udpio.RegisterMetrics(reg, rx)
	for range 500 {
		tx.WriteToUDP(make([]byte, 512), rx.LocalAddr().(*net.UDPAddr))
	}
	drops, _ := udpio.Drops(rx)
	var b strings.Builder
	reg.Write(&b)
	for _, want := range []string{
		fmt.Sprintf("%s %d\n", metrics.L2TPSocketDrops, drops),
		fmt.Sprintf("%s{direction=\"receive\"} %d\n", metrics.L2TPSocketBuffer, got.Receive),
	} {
		if drops == 0 || !strings.Contains(b.String(), want) {
			t.Errorf("scrape lacks %q (drops %d):\n%s", want, drops, b.String())
		}
	}
}

// TestLogBuffers: a grant smaller than asked (a process held to
// net.core.rmem_max) is a warning that names what to change.
func TestLogBuffers(t *testing.T) {
	want := udpio.Buffers{Receive: 4 << 20, Send: 4 << 20}
	for _, tc := range []struct {
		name  string
		got   udpio.Buffers
		level string
	}{
		{"granted", want, "level=INFO"},
		{"capped", udpio.Buffers{Receive: 212992, Send: 4 << 20}, "level=WARN"},
	} {
		var b strings.Builder
		udpio.LogBuffers(slog.New(slog.NewTextHandler(&b, nil)), "l2tp", want, tc.got)
		if !strings.Contains(b.String(), tc.level) || !strings.Contains(b.String(), fmt.Sprintf("receive=%d", tc.got.Receive)) {
			t.Errorf("%s: logged %q, want %s with the granted size", tc.name, b.String(), tc.level)
		}
	}
}
