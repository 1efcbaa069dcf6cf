package ethpw

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/bras-project/bras/internal/testenv"
)

// daemon is a `bras pw` running in a namespace; its JSON log lines are
// kept.
type daemon struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

func (d *daemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.Write(p)
}

// lines are the log lines so far, decoded.
func (d *daemon) lines() []map[string]any {
	d.mu.Lock()
	text := d.log.String()
	d.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// count is the number of log lines with message msg whose attributes
// include want.
func (d *daemon) count(msg string, want map[string]any) int {
	n := 0
	for _, l := range d.lines() {
		if l["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range want {
			if fmt.Sprint(l[k]) != fmt.Sprint(v) {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// lastStats is the latest counters the daemon logged for circuit.
func (d *daemon) lastStats(circuit string) map[string]any {
	var last map[string]any
	for _, l := range d.lines() {
		if s, ok := l["stats"].(map[string]any); ok && s["circuit"] == circuit {
			last = s
		}
	}
	return last
}

func startDaemon(t *testing.T, bin string, ns *testenv.Netns, name, conf string) *daemon {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, name: name, done: make(chan struct{})}
	d.cmd = ns.Command(bin, "pw", "-config", path)
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			d.mu.Lock()
			t.Logf("%s log:\n%s", name, d.log.String())
			d.mu.Unlock()
		}
	})
	return d
}

// stop ends the daemon with SIGTERM (it clears its pseudowires), or
// kills it after 5 s.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// eventually retries cond for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

// vlanHost plays a host with an 802.1Q VLAN interface where the kernel
// has none: a TAP device named tap carries the VLAN's untagged frames, and
// the test tags them onto lower with VLAN vid, and takes the frames of
// that VLAN from lower off their tag into the TAP.
func vlanHost(t *testing.T, ns *testenv.Netns, tap, lower string, vid uint16, addr string) {
	t.Helper()
	var tf *os.File
	var raw *packet.Conn
	if err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(tap)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		tf = os.NewFile(uintptr(fd), tap)
		raw, _, err = openPort(lower)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ns.MustRun(t, "ip", "addr", "add", addr, "dev", tap)
	ns.MustRun(t, "ip", "link", "set", tap, "up")
	rd, err := newBatchReader(raw)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := newFrameWriter(raw)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { // TAP -> tagged onto lower
		buf := make([]byte, frameBufLen)
		for {
			n, err := tf.Read(buf[tagLen:])
			if err != nil {
				return
			}
			if n >= ethHdrLen {
				_ = wr.write(insertTag(buf, n, tpid8021Q, vid))
			}
		}
	})
	wg.Go(func() { // lower, VLAN vid -> untagged into the TAP
		for {
			n, err := rd.read()
			if err != nil {
				return
			}
			for i := range n {
				f, _ := rd.frame(i)
				if v, ok := outerVID(f); ok && v == vid {
					copy(f[tagLen:tagLen+macsLen], f[:macsLen])
					_, _ = tf.Write(f[tagLen:])
				}
			}
		}
	})
	t.Cleanup(func() { tf.Close(); raw.Close(); wg.Wait() })
}

// ping runs ping in ns and reports whether every echo came back.
func ping(ns *testenv.Netns, to string) (bool, string) {
	out, err := ns.Run("ping", "-c", "3", "-i", "0.2", "-W", "1", to)
	return err == nil && strings.Contains(out, " 0% packet loss"), out
}

// TestPseudowiresEndToEnd: hostA ── bras pw A ══ L2TPv3 over UDP ══ bras pw
// B ── hostB, with HMAC-MD5 digests and 8-octet cookies, one port circuit
// (PW type 0x0005) and one VLAN circuit (0x0004, VLAN 100 at A, 200 at B)
// on one control connection. ARP and ping cross both ways on each; the
// untagged frames of the VLAN circuit's interfaces do not. hostA's link
// going down reaches B as circuit status (SLI) and B stops forwarding
// towards A, counted, while the VLAN circuit goes on; the link coming back
// restores it. B restarting (StopCCN) makes A redial with back-off and
// both pseudowires come back. tshark decodes the pseudowire link with no
// malformed packet and every digest right.
func TestPseudowiresEndToEnd(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, "ping")
	bin := filepath.Join(t.TempDir(), "bras")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/bras").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	hA, pwA, pwB, hB := testenv.NewNetns(t, "pwha"), testenv.NewNetns(t, "pwa"), testenv.NewNetns(t, "pwb"), testenv.NewNetns(t, "pwhb")
	none := netip.Prefix{}
	for _, ns := range []*testenv.Netns{pwA, pwB} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	testenv.Link(t, hA, "eth0", netip.MustParsePrefix("10.9.0.1/24"), pwA, "acp", none)
	testenv.Link(t, pwB, "acp", none, hB, "eth0", netip.MustParsePrefix("10.9.0.2/24"))
	testenv.Link(t, hA, "eth1", netip.MustParsePrefix("10.9.2.1/24"), pwA, "acv", none)
	testenv.Link(t, pwB, "acv", none, hB, "eth1", netip.MustParsePrefix("10.9.2.2/24"))
	testenv.Link(t, pwA, "wan0", netip.MustParsePrefix("192.0.2.1/24"), pwB, "wan0", netip.MustParsePrefix("192.0.2.2/24"))
	vlanHost(t, hA, "vl100", "eth1", 100, "10.9.1.1/24")
	vlanHost(t, hB, "vl200", "eth1", 200, "10.9.1.2/24")

	stopCapture := captureLink(t, pwB, "wan0")

	const common = `
hello-interval = 2s
sequencing = true
reconnect-min = 200ms
reconnect-max = 2s
stats-interval = 200ms
`
	const peer = `
secret = pw-secret
digest = md5
cookie-length = 8
`
	confA := "[pw]\nlisten = 192.0.2.1:1701\nhost-name = lcce-a\n" + common +
		"[peer \"b\"]\naddress = 192.0.2.2:1701\nhost-name = lcce-b\ndial = true\n" + peer +
		"[circuit \"port\"]\ninterface = acp\nremote-end-id = 100\npeer = b\n" +
		"[circuit \"vlan\"]\ninterface = acv\nvlan = 100\nremote-end-id = 4000\npeer = b\n" +
		"[log]\nformat = json\nlevel = debug\n"
	confB := "[pw]\nlisten = 192.0.2.2:1701\nhost-name = lcce-b\nmetrics-listen = 127.0.0.1:9103\n" + common +
		"[peer \"a\"]\naddress = 192.0.2.1:1701\nhost-name = lcce-a\n" + peer +
		"[circuit \"port\"]\ninterface = acp\nremote-end-id = 100\npeer = a\n" +
		"[circuit \"vlan\"]\ninterface = acv\nvlan = 200\nremote-end-id = 4000\npeer = a\n" +
		"[log]\nformat = json\nlevel = debug\n"
	b := startDaemon(t, bin, pwB, "B", confB)
	a := startDaemon(t, bin, pwA, "A", confA)
	up := func(d *daemon, n int) func() bool {
		return func() bool { return d.count("pw: pseudowire up", nil) >= n }
	}
	eventually(t, 10*time.Second, "both pseudowires up at A and B", func() bool { return up(a, 2)() && up(b, 2)() })
	for _, want := range []map[string]any{{"circuit": "port", "pw_type": "Ethernet"}, {"circuit": "vlan", "pw_type": "EthernetVLAN"}} {
		if b.count("pw: pseudowire up", want) != 1 || a.count("pw: pseudowire up", want) != 1 {
			t.Errorf("no pseudowire up with %v at both ends", want)
		}
	}

	// Port mode: ARP and ping both ways, the plain /24 across the pseudowire.
	for _, p := range []struct {
		ns *testenv.Netns
		to string
	}{{hA, "10.9.0.2"}, {hB, "10.9.0.1"}, {hA, "10.9.1.2"}, {hB, "10.9.1.1"}} {
		if ok, out := ping(p.ns, p.to); !ok {
			t.Fatalf("ping %s from %s: %s", p.to, p.ns.Name, out)
		}
	}
	macB := hwAddr(t, hB, "eth0")
	if out := hA.MustRun(t, "ip", "neigh", "show", "10.9.0.2"); !strings.Contains(out, macB) {
		t.Errorf("hostA's ARP entry for 10.9.0.2 is %q, want hostB's MAC %s", out, macB)
	}
	if out := hB.MustRun(t, "ip", "neigh", "show", "10.9.1.1"); !strings.Contains(out, hwAddr(t, hA, "vl100")) {
		t.Errorf("hostB's ARP entry for 10.9.1.1 over the VLAN is %q, want hostA's VLAN MAC", out)
	}
	// B's /metrics: both pseudowires up, named by their type, and the
	// frames that crossed them counted each way.
	text := pwB.MustRun(t, "curl", "-sS", "-f", "http://127.0.0.1:9103/metrics")
	for _, want := range []string{
		`bras_pw_circuit_up{circuit="port",peer="a",pw_type="ethernet"} 1`,
		`bras_pw_circuit_up{circuit="vlan",peer="a",pw_type="ethernetvlan"} 1`,
		`bras_pw_circuit_active{circuit="port",side="remote"} 1`,
		`bras_l2tp_tunnels{version="3"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("B's /metrics lacks %s", want)
		}
	}
	for _, series := range []string{`bras_pw_frames_total{circuit="port",direction="from_wire"} `, `bras_pw_frames_total{circuit="vlan",direction="to_wire"} `} {
		_, after, ok := strings.Cut(text, series)
		n, _ := strconv.Atoi(strings.Fields(after + " 0")[0])
		if !ok || n < 2 {
			t.Errorf("B's /metrics: %s%d, want the pings' frames", series, n)
		}
	}

	// The VLAN circuit carries its VLAN only: untagged frames stay home.
	if ok, _ := ping(hA, "10.9.2.2"); ok {
		t.Error("untagged ping crossed the VLAN pseudowire")
	}

	// hostA's link goes down: B hears it (SLI) and stops forwarding to A.
	hA.MustRun(t, "ip", "link", "set", "eth0", "down")
	eventually(t, 5*time.Second, "B hears A's circuit down", func() bool {
		return b.count("pw: the peer's attachment circuit is down", map[string]any{"circuit": "port"}) == 1
	})
	before := dropCount(b.lastStats("port"), "drop_from-wire_remote-down")
	hB.Run("ping", "-c", "3", "-i", "0.2", "-W", "1", "10.9.0.1")
	eventually(t, 5*time.Second, "B counts frames dropped for the remote circuit down", func() bool {
		return dropCount(b.lastStats("port"), "drop_from-wire_remote-down") >= before+3
	})
	if s := b.lastStats("port"); s["remote_active"] != false {
		t.Errorf("B's port circuit stats %v, want remote_active false", s)
	}
	if ok, out := ping(hB, "10.9.1.1"); !ok {
		t.Errorf("the VLAN pseudowire stopped with the port's link: %s", out)
	}
	hA.MustRun(t, "ip", "link", "set", "eth0", "up")
	eventually(t, 5*time.Second, "B hears A's circuit up", func() bool {
		return b.count("pw: the peer's attachment circuit is up", map[string]any{"circuit": "port"}) == 1
	})
	eventually(t, 10*time.Second, "ping through the port pseudowire again", func() bool { ok, _ := ping(hB, "10.9.0.1"); return ok })

	// B restarts: A's control connection is cleared, it redials with
	// back-off until B is back, and the pseudowires come up again.
	b.stop()
	eventually(t, 5*time.Second, "A sees the control connection down", func() bool {
		return a.count("pw: control connection down", nil) >= 1
	})
	eventually(t, 5*time.Second, "A redials", func() bool { return a.count("pw: reconnecting", nil) >= 1 })
	b2 := startDaemon(t, bin, pwB, "B2", confB)
	eventually(t, 15*time.Second, "both pseudowires up again", func() bool { return up(a, 4)() && up(b2, 2)() })
	for _, p := range []struct {
		ns *testenv.Netns
		to string
	}{{hA, "10.9.0.2"}, {hB, "10.9.1.1"}} {
		if ok, out := ping(p.ns, p.to); !ok {
			t.Fatalf("after the restart, ping %s from %s: %s", p.to, p.ns.Name, out)
		}
	}
	a.stop()
	b2.stop()
	if s := b2.lastStats("vlan"); dropCount(s, "to_wire_frames") == 0 || dropCount(s, "from_wire_frames") == 0 {
		t.Errorf("B's VLAN circuit counters %v: want frames both ways", s)
	}

	if stopCapture != nil {
		text := stopCapture()
		for _, bad := range []string{"Malformed", "Incorrect Digest", "Expert Info (Error"} {
			if strings.Contains(text, bad) {
				i := strings.Index(text, bad)
				t.Errorf("tshark reports %q: ...%s...", bad, text[max(0, i-2000):min(len(text), i+200)])
			}
		}
		for _, want := range []string{"Layer 2 Tunneling Protocol version 3", "Set_Link_Info", "Pseudowire Type: Ethernet (5)", "Pseudowire Type: Ethernet VLAN (4)", "Circuit Status"} {
			if !strings.Contains(text, want) {
				t.Errorf("tshark does not see %q in the capture", want)
			}
		}
	}
}

func dropCount(s map[string]any, key string) uint64 {
	if v, ok := s[key].(float64); ok {
		return uint64(v)
	}
	return 0
}

func hwAddr(t *testing.T, ns *testenv.Netns, ifname string) string {
	t.Helper()
	var mac string
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err == nil {
			mac = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// captureLink records iface in ns with dumpcap; the returned function
// stops it and returns tshark's full decode, digests checked with the
// test's secret. nil when Wireshark's tools are not installed (outside CI).
func captureLink(t *testing.T, ns *testenv.Netns, iface string) func() string {
	t.Helper()
	dumpcap, err1 := exec.LookPath("dumpcap")
	tshark, err2 := exec.LookPath("tshark")
	editcap, err3 := exec.LookPath("editcap")
	if err1 != nil || err2 != nil || err3 != nil {
		if testenv.InCI() {
			t.Fatal("dumpcap, editcap and tshark are required under CI=true (deploy/test.sh installs them)")
		}
		t.Log("dumpcap/tshark not installed: the pseudowire link is not checked against Wireshark's dissector")
		return nil
	}
	file := filepath.Join(t.TempDir(), "pw.pcapng")
	cmd := ns.Command(dumpcap, "-q", "-w", file, "-i", iface)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	time.Sleep(1500 * time.Millisecond) // dumpcap opens the interface
	return func() string {
		time.Sleep(time.Second)
		_ = cmd.Process.Signal(os.Interrupt)
		<-done
		// Wireshark keeps the nonces of the first control connection
		// between two addresses and ports for every later one: each
		// connection (from its SCCRQ on) is decoded on its own.
		out, err := exec.Command(tshark, "-n", "-r", file, "-Y", "l2tp.avp.message_type == 1", "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		starts := strings.Fields(string(out))
		if len(starts) == 0 {
			t.Fatal("no SCCRQ in the capture")
		}
		var text strings.Builder
		for i, first := range starts {
			last := "1000000"
			if i+1 < len(starts) {
				var n int
				fmt.Sscan(starts[i+1], &n)
				last = fmt.Sprint(n - 1)
			}
			part := filepath.Join(filepath.Dir(file), fmt.Sprintf("part%d.pcapng", i))
			if out, err := exec.Command(editcap, "-r", file, part, first+"-"+last).CombinedOutput(); err != nil {
				t.Fatalf("editcap: %v\n%s", err, out)
			}
			out, err := exec.Command(tshark, "-n", "-r", part, "-V", "-o", "l2tp.shared_secret:pw-secret").CombinedOutput()
			if err != nil {
				t.Fatalf("tshark: %v\n%s", err, out)
			}
			text.Write(out)
		}
		return text.String()
	}
}
