package load_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/load/loadtest"
)

// TestNetnsTUN binds a subscriber session to a TUN device: an ordinary UDP
// socket in the subscriber namespace reaches the echo target through the
// session (route via the device, source address from IPCP) and gets the
// echo back.
func TestNetnsTUN(t *testing.T) {
	l := newLab(t, loadtest.Config{})
	ld := l.start(t, context.Background(), load.Config{Sessions: 1, UserPattern: "tun%d", PasswordPattern: labPassword,
		TUN: "ltun0", TUNRoutes: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}})
	waitSetup(t, ld, 30*time.Second)
	if st := ld.Stats(); st.Up != 1 {
		t.Fatalf("stats %v", st)
	}
	msg := []byte("over a real subscriber session")
	err := l.sub.Do(func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(echoTarget))
		if err != nil {
			return err
		}
		defer c.Close()
		local := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
		if !netip.MustParsePrefix("100.64.0.0/10").Contains(local) {
			t.Errorf("socket source %v, want the IPCP address", local)
		}
		buf := make([]byte, 1500)
		for try := 0; try < 5; try++ {
			if _, err := c.Write(msg); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := c.Read(buf)
			if err != nil {
				continue
			}
			if !bytes.Equal(buf[:n], msg) {
				t.Errorf("echo %q, want %q", buf[:n], msg)
			}
			return nil
		}
		t.Error("no echo through the TUN device")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
