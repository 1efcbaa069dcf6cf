package l2tp

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/testenv"
	"github.com/bras-project/bras/l2tp/l2tptest"
)

// recordingConn records every datagram written through it, as sender,
// and, when reads is set, every one read from it, as reads.
type recordingConn struct {
	net.PacketConn
	sender string
	mu     *sync.Mutex
	frames *[]v3Frame
	reads  string
}

func (c *recordingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(b)
	if err == nil && c.reads != "" {
		c.mu.Lock()
		*c.frames = append(*c.frames, v3Frame{sender: c.reads, l2tp: append([]byte(nil), b[:n]...)})
		c.mu.Unlock()
	}
	return n, a, err
}

func (c *recordingConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.mu.Lock()
	*c.frames = append(*c.frames, v3Frame{sender: c.sender, l2tp: append([]byte(nil), b...)})
	c.mu.Unlock()
	return c.PacketConn.WriteTo(b, a)
}

// TestV3CaptureTshark hands what two endpoints sent each other over a v3
// control connection (SCCRQ to StopCCN, a PPP call with cookies and
// sequenced data both ways, CDN, the signed ACKs) to Wireshark's
// dissector: every packet decodes as L2TPv3, none is malformed, and with
// the shared secret every Message Digest checks out.
func TestV3CaptureTshark(t *testing.T) {
	tshark := testenv.RequireCommand(t, "tshark")
	checkGoroutines(t)
	var mu sync.Mutex
	var frames []v3Frame
	a, b := l2tptest.NewPipe(lacAddr, lnsAddr, l2tptest.Impairment{})
	defer a.Close()
	defer b.Close()
	lacRec, lnsRec := newRecorder("lac"), newRecorder("lns")
	opts := fastOpts("capture")
	opts.Version, opts.CookieLen, opts.HelloInterval = 3, 8, -1
	lac, _ := NewEndpoint(&recordingConn{a, "A", &mu, &frames, ""}, Config{HostName: "lac", Handler: lacRec, ShutdownTimeout: time.Second,
		Data: func(*Tunnel, *Session, Header, []byte) {}})
	lns, _ := NewEndpoint(&recordingConn{b, "B", &mu, &frames, ""}, Config{HostName: "lns", Handler: lnsRec, ShutdownTimeout: time.Second,
		Accept: acceptAll(opts), Data: func(tn *Tunnel, s *Session, h Header, p []byte) { tn.SendData(s, p) }})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { lac.Run(ctx) })
	wg.Go(func() { lns.Run(ctx) })
	waitFor(t, 5*time.Second, "running", func() bool { return lac.running.Load() && lns.running.Load() })
	tn, err := lac.Dial(ctx, lnsAddr, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tn.PlaceCall(CallRequest{ICCN: []AVP{NewAVPBytes(AVPSequencingRequired, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "session up", func() bool { return lnsRec.sessionsUp.Load() == 1 && lacRec.sessionsUp.Load() == 1 })
	if !s.Sequenced() {
		t.Error("the LAC asked for sequencing; the session is not sequenced")
	}
	tn.SendData(s, []byte{0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x11, 0x22, 0x33, 0x44})
	waitFor(t, 5*time.Second, "echo", func() bool { return lac.Stats().DataRx.Load() == 1 })
	captured := hangUp(t, s, lnsRec, &mu, &frames)
	file := tsharkV3(t, tshark, captured, EncapUDP, "capture",
		"Start_Control_Request", "Incoming_Call_Connected", "Explicit_Acknowledgement", "Call_Disconnect_Notification", "Stop_Control_Notification", "Echo Request")
	// With a wrong secret the same digests are flagged: tshark checked them.
	wrong, _ := exec.Command(tshark, "-n", "-r", file, "-V", "-o", "l2tp.shared_secret:wrong").CombinedOutput()
	if n := strings.Count(string(wrong), "[Incorrect Digest]"); n == 0 {
		t.Error("with a wrong secret tshark flags no digest: the capture is not signed")
	}
}

// hangUp clears s with a CDN and its tunnel with a StopCCN, waits for the
// LNS (lnsRec) to see both and the StopCCN's ACK to go, and returns the
// frames captured.
func hangUp(t *testing.T, s *Session, lnsRec *recorder, mu *sync.Mutex, frames *[]v3Frame) []v3Frame {
	t.Helper()
	s.Disconnect(ResultCode{Result: uint16(CDNAdmin)})
	waitFor(t, 5*time.Second, "CDN", func() bool { return lnsRec.sessionsDown.Load() == 1 })
	s.Tunnel().Close(ResultCode{Result: uint16(StopCCNGeneralRequest)})
	waitFor(t, 5*time.Second, "StopCCN", func() bool { return lnsRec.tunnelsDown.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // the StopCCN's ACK
	mu.Lock()
	defer mu.Unlock()
	return append([]v3Frame(nil), *frames...)
}

// tsharkV3 writes what two endpoints sent each other (over e) to a pcap
// and has tshark decode it with the shared secret: every packet must be
// L2TPv3, none malformed, every digest correct, and each of want (a
// message tshark names) seen. It returns the file.
func tsharkV3(t *testing.T, tshark string, captured []v3Frame, e Encap, secret string, want ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "engine-v3-"+e.String()+".pcap")
	if err := os.WriteFile(file, v3Pcap(captured, e), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-n", "-r", file, "-V", "-o", "l2tp.shared_secret:"+secret).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	text := string(out)
	for _, bad := range []string{"Malformed", "Expert Info (Error", "Incorrect Digest"} {
		if strings.Contains(text, bad) {
			t.Errorf("tshark reports %q:\n%s", bad, text)
		}
	}
	decoded := strings.Split("\n"+text, "\nFrame ")[1:]
	if len(decoded) != len(captured) || len(captured) < 10 {
		t.Fatalf("tshark decoded %d frames of %d captured", len(decoded), len(captured))
	}
	for i, d := range decoded {
		if !strings.Contains(d, "Layer 2 Tunneling Protocol version 3") {
			t.Errorf("frame %d not decoded as L2TPv3:\n%s", i+1, d)
		}
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("tshark does not see %q in the capture", w)
		}
	}
	return file
}
