package ethpw

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bras-project/bras/internal/config"
	"github.com/bras-project/bras/l2tp"
)

var addrPortEq = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

// TestReferenceConfig parses deploy/pw.conf, which documents every key
// with its default: each key is known and gives the LCCE what it says.
func TestReferenceConfig(t *testing.T) {
	t.Setenv("BRAS_PW_SECRET", "pw-secret")
	_, got, err := LoadConfig("../../deploy/pw.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: netip.MustParseAddrPort("0.0.0.0:1701"), RouterID: 0xc000020a, HostName: "lcce-a",
		HelloInterval: DefaultHelloInterval, ReconnectMin: DefaultReconnectMin, ReconnectMax: DefaultReconnectMax,
		StatsInterval: DefaultStatsInterval,
		MetricsListen: netip.MustParseAddrPort("127.0.0.1:9103"),
		Peers: []Peer{{Name: "lcce-b", Address: netip.MustParseAddrPort("192.0.2.20:1701"), HostName: "lcce-b",
			Secret: []byte("pw-secret"), Digest: l2tp.DigestMD5, CookieLen: 8, Dial: true}},
		Circuits: []Circuit{
			{Name: "port-eth1", Interface: "eth1", RemoteEndID: []byte{0, 0, 0, 100}, Peer: "lcce-b"},
			{Name: "vlan-200", Interface: "eth2", VLAN: 200, RemoteEndID: []byte{0, 0, 0, 200}, Peer: "lcce-b"},
		},
	}
	if diff := cmp.Diff(want, got, addrPortEq); diff != "" {
		t.Errorf("deploy/pw.conf (-want +got)\n%s", diff)
	}
	if got.Circuits[0].PWType() != l2tp.PWEthernet || got.Circuits[1].PWType() != l2tp.PWEthernetVLAN {
		t.Errorf("pseudowire types %v, %v; want Ethernet, Ethernet VLAN", got.Circuits[0].PWType(), got.Circuits[1].PWType())
	}
	// The defaults the file writes out are those of a minimal file.
	_, min, err := ParseConfig(strings.NewReader("[pw]\nhost-name = a\n[peer \"b\"]\naddress = 192.0.2.20:1701\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = x\npeer = b\n"), "min.conf")
	if err != nil {
		t.Fatal(err)
	}
	if min.Listen != want.Listen || min.HelloInterval != want.HelloInterval || min.ReconnectMin != want.ReconnectMin ||
		min.ReconnectMax != want.ReconnectMax || min.StatsInterval != want.StatsInterval || min.Sequencing ||
		min.Peers[0].CookieLen != 8 || min.Peers[0].Digest != l2tp.DigestAuto || min.Peers[0].Dial {
		t.Errorf("the defaults of a minimal file %+v differ from the reference file's", min)
	}
	if string(min.Circuits[0].RemoteEndID) != "x" {
		t.Errorf("Remote End ID %q, want the octets of x", min.Circuits[0].RemoteEndID)
	}
}

// TestConfigErrors: bad values and sections that do not fit together are
// refused with the file, the line and the key.
func TestConfigErrors(t *testing.T) {
	const head = "[pw]\nhost-name = a\n[peer \"b\"]\naddress = 192.0.2.2:1701\n" // lines 1-4
	for _, tc := range []struct {
		name, file string
		want       string
	}{
		{"unknown key", head + "[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\nvid = 3\n", `x.conf:9: [circuit "c"] vid: unknown key`},
		{"no host name", "[pw]\nlisten = 0.0.0.0:1701\n[peer \"b\"]\naddress = 192.0.2.2:1701\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\n", "pw.host-name: required key is missing"},
		{"unknown peer", head + "[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = z\n", `x.conf:8: [circuit "c"] peer: no [peer "z"]`},
		{"bad vlan", head + "[circuit \"c\"]\ninterface = eth1\nvlan = 4095\nremote-end-id = 1\npeer = b\n", `x.conf:7: [circuit "c"] vlan: 4095: want 1 to 4094`},
		{"bad cookie", "[pw]\nhost-name = a\n[peer \"b\"]\naddress = 192.0.2.2:1701\ncookie-length = 2\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\n", `x.conf:5: [peer "b"] cookie-length: 2: want 0, 4 or 8`},
		{"bad digest", "[pw]\nhost-name = a\n[peer \"b\"]\naddress = 192.0.2.2:1701\ndigest = sha256\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\n", `x.conf:5: [peer "b"] digest: "sha256": want md5, sha1 or none`},
		{"digest without secret", "[pw]\nhost-name = a\n[peer \"b\"]\naddress = 192.0.2.2:1701\ndigest = sha1\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\n", `x.conf:5: [peer "b"] digest: sha1 needs a secret`},
		{"no port", "[pw]\nhost-name = a\n[peer \"b\"]\naddress = 192.0.2.2:0\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\n", `x.conf:4: [peer "b"] address: 192.0.2.2:0: no port`},
		{"bad router id", "[pw]\nhost-name = a\nrouter-id = 2001:db8::1\n[peer \"b\"]\naddress = 192.0.2.2:1701\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\n", "x.conf:3: pw.router-id: 2001:db8::1: want a non-zero IPv4 address"},
		{"reconnect", "[pw]\nhost-name = a\nreconnect-min = 10s\nreconnect-max = 2s\n[peer \"b\"]\naddress = 192.0.2.2:1701\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\n", "x.conf:4: pw.reconnect-max: 2s is below reconnect-min 10s"},
		{"same remote end id", head + "[circuit \"c\"]\ninterface = eth1\nremote-end-id = 7\npeer = b\n[circuit \"d\"]\ninterface = eth2\nremote-end-id = 7\npeer = b\n", `x.conf:11: [circuit "d"] remote-end-id: "7" with peer "b" is also [circuit "c"]'s (x.conf:7)`},
		{"same circuit", head + "[circuit \"c\"]\ninterface = eth1\nvlan = 5\nremote-end-id = 7\npeer = b\n[circuit \"d\"]\ninterface = eth1\nvlan = 5\nremote-end-id = 8\npeer = b\n", `x.conf:11: [circuit "d"] interface: eth1 VLAN 5 is also [circuit "c"] (x.conf:5)`},
		{"port and vlan", head + "[circuit \"c\"]\ninterface = eth1\nremote-end-id = 7\npeer = b\n[circuit \"d\"]\ninterface = eth1\nvlan = 5\nremote-end-id = 8\npeer = b\n", `x.conf:11: [circuit "d"] vlan: eth1 carries every frame of the port for [circuit "c"] (x.conf:5)`},
		{"vlan and port", head + "[circuit \"c\"]\ninterface = eth1\nvlan = 5\nremote-end-id = 7\npeer = b\n[circuit \"d\"]\ninterface = eth1\nremote-end-id = 8\npeer = b\n", `x.conf:11: [circuit "d"] interface: eth1 has VLAN circuits ([circuit "c"], x.conf:5)`},
		{"no circuit", head, "x.conf: circuit: no [circuit]: nothing to carry"},
		{"same peer address", head + "[peer \"e\"]\naddress = 192.0.2.2:1702\n[circuit \"c\"]\ninterface = eth1\nremote-end-id = 1\npeer = b\n", `x.conf:6: [peer "e"] address: 192.0.2.2 is also the address of [peer "b"] (x.conf:4)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseConfig(strings.NewReader(tc.file), "x.conf")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *config.Error", err)
			}
		})
	}
}

// TestRemoteEndID: a number is the four-octet identifier of RFC 4719
// section 2.2 b in network order, anything else its octets.
func TestRemoteEndID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
	}{
		{"100", []byte{0, 0, 0, 100}},
		{"4294967295", []byte{0xff, 0xff, 0xff, 0xff}},
		{"4294967296", []byte("4294967296")},
		{"pw-7", []byte("pw-7")},
	} {
		if got := RemoteEndID(tc.in); string(got) != string(tc.want) {
			t.Errorf("RemoteEndID(%q) = % x, want % x", tc.in, got, tc.want)
		}
	}
}
