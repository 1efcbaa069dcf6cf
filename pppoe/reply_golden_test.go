package pppoe

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/replies.golden from the current output")

// replyCase is one exchange with a fresh access concentrator: the frames
// sent to it, and each answer (PADO, PADS, PADT) is compared with its
// golden bytes, Ethernet header included.
type replyCase struct {
	name string
	cfg  ServerConfig
	mtu  int
	// run drives the AC and returns the frames it put on the wire.
	run func(t *testing.T, a *testAC) [][]byte
}

// send feeds frames one by one and collects the replies.
func send(frames ...[]byte) func(*testing.T, *testAC) [][]byte {
	return func(t *testing.T, a *testAC) [][]byte {
		var out [][]byte
		for _, f := range frames {
			out = append(out, a.exchange(f))
		}
		return out
	}
}

// padrWithCookie sends the PADI, then a PADR with the PADO's AC-Cookie
// and the same tags; it returns both replies.
func padrWithCookie(vk vlanKey, svc string, extra ...Tag) func(*testing.T, *testAC) [][]byte {
	return func(t *testing.T, a *testAC) [][]byte {
		in := padi(svc, extra...)
		pado := a.exchange(mustAppend(t, appendEth(nil, Broadcast, hostMAC, vk, EtherTypeDiscovery), in))
		if pado == nil {
			t.Fatal("no PADO")
		}
		_, rest, _ := ParseEthernet(pado)
		p, _ := Parse(rest)
		cookie, _ := p.Tag(TagACCookie)
		padr := Packet{Code: CodePADR, Tags: append([]Tag{{Type: TagServiceName, Value: []byte(svc)}, {Type: TagACCookie, Value: cookie}}, extra...)}
		pads := a.exchange(mustAppend(t, appendEth(nil, acMAC, hostMAC, vk, EtherTypeDiscovery), padr))
		return [][]byte{pado, pads}
	}
}

func mustAppend(t *testing.T, b []byte, p Packet) []byte {
	t.Helper()
	b, err := p.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	goldenHU    = Tag{Type: TagHostUniq, Value: []byte{0xde, 0xad, 0xbe, 0xef}}
	goldenRelay = Tag{Type: TagRelaySessionID, Value: []byte("relay-1")}
	goldenMP    = Tag{Type: TagPPPMaxPayload, Value: []byte{0x05, 0xdc}} // RFC 4638: 1500
)

var replyCases = []replyCase{
	{name: "PADO, empty Service-Name", run: func(t *testing.T, a *testAC) [][]byte {
		return send(frame(t, Broadcast, hostMAC, padi("")))(t, a)
	}},
	{name: "PADO echoing Host-Uniq, Relay-Session-Id and PPP-Max-Payload", mtu: 1508, run: func(t *testing.T, a *testAC) [][]byte {
		return send(frame(t, Broadcast, hostMAC, padi("isp", goldenHU, goldenRelay, goldenMP)))(t, a)
	}},
	{name: "PADO listing the other services", cfg: ServerConfig{ServicePolicy: ServiceList, Services: []string{"isp", "voip", "iptv"}},
		run: func(t *testing.T, a *testAC) [][]byte {
			return send(frame(t, Broadcast, hostMAC, padi("voip", goldenHU)))(t, a)
		}},
	{name: "PADO larger than 1500 octets: none", run: func(t *testing.T, a *testAC) [][]byte {
		return send(frame(t, Broadcast, hostMAC, padi("", Tag{Type: TagHostUniq, Value: bytes.Repeat([]byte{1}, 1460)})))(t, a)
	}},
	{name: "PADO and PADS", run: padrWithCookie(0, "", goldenHU)},
	{name: "PADO and PADS with Relay-Session-Id and PPP-Max-Payload", mtu: 1508, run: padrWithCookie(0, "isp", goldenHU, goldenRelay, goldenMP)},
	{name: "PADO and PADS on QinQ 10/20", run: padrWithCookie(10<<16|20, "", goldenHU)},
	{name: "PADS Generic-Error: no AC-Cookie", run: func(t *testing.T, a *testAC) [][]byte {
		return send(frame(t, acMAC, hostMAC, Packet{Code: CodePADR, Tags: []Tag{{Type: TagServiceName, Value: []byte("isp")}, goldenHU, goldenRelay}}))(t, a)
	}},
	{name: "PADS Service-Name-Error", cfg: ServerConfig{ServicePolicy: ServiceList, Services: []string{"isp"}},
		run: func(t *testing.T, a *testAC) [][]byte {
			out := padrWithCookie(0, "isp")(t, a)
			_, rest, _ := ParseEthernet(out[0])
			p, _ := Parse(rest)
			cookie, _ := p.Tag(TagACCookie)
			return send(frame(t, acMAC, hostMAC, Packet{Code: CodePADR, Tags: []Tag{{Type: TagServiceName, Value: []byte("tv")}, {Type: TagACCookie, Value: cookie}, goldenHU}}))(t, a)
		}},
	{name: "PADS AC-System-Error: session limit", cfg: ServerConfig{MaxSessions: 1}, run: func(t *testing.T, a *testAC) [][]byte {
		first := padrWithCookie(0, "", Tag{Type: TagHostUniq, Value: []byte{1}})(t, a)
		return append(first, padrWithCookie(0, "", Tag{Type: TagHostUniq, Value: []byte{2}})(t, a)...)
	}},
	{name: "PADT with Generic-Error and Relay-Session-Id", run: func(t *testing.T, a *testAC) [][]byte {
		out := padrWithCookie(0, "", goldenRelay)(t, a)
		a.srv.Close(a.h.up[0], "idle timeout")
		a.disc.mu.Lock()
		defer a.disc.mu.Unlock()
		return append(out, a.disc.frames[len(a.disc.frames)-1])
	}},
}

// TestRepliesGolden pins the discovery replies of the access concentrator
// to bytes recorded from it (testdata/replies.golden; -update rewrites
// them), so that the encoder behind PADO and PADS can change without a
// byte on the wire changing.
func TestRepliesGolden(t *testing.T) {
	got := map[string]string{}
	var names []string
	for _, tc := range replyCases {
		a := newTestAC(t, tc.cfg)
		a.now = time.Unix(1_700_000_000, 0)
		if tc.mtu != 0 {
			a.p.mtu = tc.mtu
		}
		a.p.untagged, a.p.vlans = true, setOf(t, 10<<16|20)
		var lines []string
		for _, r := range tc.run(t, a) {
			if r == nil {
				lines = append(lines, "none")
				continue
			}
			// Whatever the AC sends must parse with the package's codec.
			_, rest, err := ParseEthernet(r)
			if err != nil {
				t.Fatalf("%s: reply %x: %v", tc.name, r, err)
			}
			if _, err := Parse(rest); err != nil {
				t.Fatalf("%s: reply %x: %v", tc.name, r, err)
			}
			lines = append(lines, hex.EncodeToString(r))
		}
		got[tc.name] = strings.Join(lines, " ")
		names = append(names, tc.name)
	}
	const path = "testdata/replies.golden"
	if *updateGolden {
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, "%s\n\t%s\n", n, got[n])
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var name string
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "\t") {
			want[name] = strings.TrimPrefix(l, "\t")
		} else {
			name = l
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replies (-golden +got):\n%s", diff)
	}
}
