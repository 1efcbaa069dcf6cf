package lac

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/pppoe"
	"github.com/google/go-cmp/cmp"
)

func span(a, b uint16) pppoe.VLANSpan { return pppoe.VLANSpan{First: a, Last: b} }

func TestParseVLANs(t *testing.T) {
	tests := []struct {
		name  string
		items []string
		want  []pppoe.VLANRange
	}{
		{"none", nil, nil},
		{"list and range", []string{"100-2000", "3000"}, []pppoe.VLANRange{{Inner: span(100, 2000)}, {Inner: span(3000, 3000)}}},
		{"edges", []string{"1", "4094"}, []pppoe.VLANRange{{Inner: span(1, 1)}, {Inner: span(4094, 4094)}}},
		{"whole space as a range", []string{"1-4094"}, []pppoe.VLANRange{{Inner: pppoe.AnyVLAN}}},
		{"any", []string{"any"}, []pppoe.VLANRange{{Inner: pppoe.AnyVLAN}}},
		{"one-VLAN range", []string{"7-7"}, []pppoe.VLANRange{{Inner: span(7, 7)}}},
		{"with caps", []string{"100-199 max=2", " 200  max=1 "}, []pppoe.VLANRange{{Inner: span(100, 199), MaxSessions: 2}, {Inner: span(200, 200), MaxSessions: 1}}},
		{"adjacent", []string{"1-99", "100-4094"}, []pppoe.VLANRange{{Inner: span(1, 99)}, {Inner: span(100, 4094)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVLANs(tc.items)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseQinQ(t *testing.T) {
	tests := []struct {
		name  string
		items []string
		want  []pppoe.VLANRange
	}{
		{"pair", []string{"10:100"}, []pppoe.VLANRange{{Outer: span(10, 10), Inner: span(100, 100)}}},
		{"inner range", []string{"10:1-4094"}, []pppoe.VLANRange{{Outer: span(10, 10), Inner: pppoe.AnyVLAN}}},
		{"outer range, any inner", []string{"10-20:any"}, []pppoe.VLANRange{{Outer: span(10, 20), Inner: pppoe.AnyVLAN}}},
		{"list", []string{"10:100", "10:200-300"}, []pppoe.VLANRange{{Outer: span(10, 10), Inner: span(100, 100)}, {Outer: span(10, 10), Inner: span(200, 300)}}},
		{"any:any", []string{"any:any"}, []pppoe.VLANRange{{Outer: pppoe.AnyVLAN, Inner: pppoe.AnyVLAN}}},
		{"same inner, other outer", []string{"10:any", "11:any max=1"}, []pppoe.VLANRange{{Outer: span(10, 10), Inner: pppoe.AnyVLAN}, {Outer: span(11, 11), Inner: pppoe.AnyVLAN, MaxSessions: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseQinQ(tc.items)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestVLANConfigErrors: bad VLAN items are errors of the configuration
// file, with its name, the line of the key and the reason.
func TestVLANConfigErrors(t *testing.T) {
	const head = "[lac]\nhost-name = l\n[access \"eth1\"]\n" // the keys below are on line 4
	const lns = "[lns \"a\"]\naddress = 192.0.2.1:1701\ndefault = true\n"
	tests := []struct {
		name, keys, want string
	}{
		{"VLAN 0", "vlans = 0", `lac.conf:4: [access "eth1"] vlans: "0": VLAN 0: want 1 to 4094 (0 and 4095 are reserved)`},
		{"VLAN 4095", "user-vlans = true\nvlans = 10, 4095", `lac.conf:5: [access "eth1"] vlans: "4095": VLAN 4095: want 1 to 4094`},
		{"above 4095", "vlans = 5000", `lac.conf:4: [access "eth1"] vlans: "5000": VLAN 5000`},
		{"reversed", "user-vlans = true\nvlans = 2000-100", `lac.conf:5: [access "eth1"] vlans: "2000-100": range 2000-100 is reversed, did you mean 100-2000?`},
		{"not a number", "vlans = ten", `lac.conf:4: [access "eth1"] vlans: "ten": ten is not a VLAN ID: want 1 to 4094, a range such as 100-2000, or any`},
		{"half a range", "user-vlans = true\nvlans = 100-", `lac.conf:5: [access "eth1"] vlans: "100-": a VLAN ID is missing`},
		{"overlap", "user-vlans = true\nvlans = 100-2000, 3000, 1500", `lac.conf:5: [access "eth1"] vlans: 1500 overlaps 100-2000 (line 5)`},
		{"any overlaps", "user-vlans = true\nvlans = any, 7", `[access "eth1"] vlans: 7 overlaps any`},
		{"bad cap", "user-vlans = true\nvlans = 100 max=0", `lac.conf:5: [access "eth1"] vlans: "100 max=0": want 100 or 100 max=N with N from 1 to 65534`},
		{"junk after the item", "user-vlans = true\nvlans = 100 200", `[access "eth1"] vlans: "100 200": want 100 or 100 max=N`},
		{"range without user-vlans", "vlans = 100-2000", `lac.conf:4: [access "eth1"] vlans: 100-2000: a range needs user-vlans = true`},
		{"any without user-vlans", "vlans = any", `[access "eth1"] vlans: any: a range needs user-vlans = true`},
		{"qinq without pair", "user-vlans = true\nqinq = 10-100", `lac.conf:5: [access "eth1"] qinq: "10-100": want outer:inner`},
		{"qinq outer 0", "user-vlans = true\nqinq = 0:100", `[access "eth1"] qinq: "0:100": outer VLAN: VLAN 0`},
		{"qinq inner reversed", "user-vlans = true\nqinq = 10:300-200", `[access "eth1"] qinq: "10:300-200": inner VLAN: range 300-200 is reversed`},
		{"qinq overlap", "user-vlans = true\nqinq = 10-20:any\nqinq = 15:100", `lac.conf:6: [access "eth1"] qinq: 15:100 overlaps 10-20:any (line 5)`},
		{"bad item on the first of two lines", "user-vlans = true\nvlans = 7, 0\nvlans = 9", `lac.conf:5: [access "eth1"] vlans: "0": VLAN 0`},
		{"overlap across lines", "user-vlans = true\nvlans = 100-200\nvlans = 300\nvlans = 400, 150", `lac.conf:7: [access "eth1"] vlans: 150 overlaps 100-200 (line 5)`},
		{"range on the second line without user-vlans", "vlans = 5\nvlans = 6-9", `lac.conf:5: [access "eth1"] vlans: 6-9: a range needs user-vlans = true`},
		{"qinq without user-vlans", "qinq = 10:100", `lac.conf:4: [access "eth1"] qinq: needs user-vlans = true`},
		{"negative cap", "max-sessions-per-vlan = -1", `lac.conf:4: [access "eth1"] max-sessions-per-vlan: -1: want 0 (no cap) to 65534`},
		{"unknown template field", "nas-port-id = {interface}:{port}", `lac.conf:4: [access "eth1"] nas-port-id: template "{interface}:{port}": unknown field {port}`},
		{"unclosed brace", "circuit-id = {interface", `lac.conf:4: [access "eth1"] circuit-id: template "{interface": "{" at 1 is not closed`},
		{"unclosed bracket", "nas-port-id = {interface}[.{svlan}", `[access "eth1"] nas-port-id: template "{interface}[.{svlan}": "[" is not closed`},
		{"nested brackets", "nas-port-id = {interface}[.[{svlan}]]", `brackets do not nest`},
		{"brackets without a field", "nas-port-id = {interface}[-]", `the brackets before 14 hold no field`},
		{"bad channel", "physical-channel-id = port", `lac.conf:4: [access "eth1"] physical-channel-id: "port": want vlan or session-id`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "lac.conf")
			if err := os.WriteFile(p, []byte(head+tc.keys+"\n"+lns), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n\t%s\ndoes not say\n\t%s", err, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestVLANConfigDaemonRanges: the ranges of a good file reach the PPPoE
// server's configuration as written.
func TestVLANConfigDaemonRanges(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lac.conf")
	if err := os.WriteFile(p, []byte(`[lac]
host-name = l
[access "eth1"]
user-vlans = true
vlans = 100-2000, 3000 max=3
qinq = 10:1-4094, 11-20:any, 30:100 max=1
max-sessions-per-vlan = 2
nas-port-id = {interface}:{svlan}-{cvlan}
physical-channel-id = session-id
[lns "a"]
address = 192.0.2.1:1701
default = true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Access[0]
	got, err := a.ranges()
	if err != nil {
		t.Fatal(err)
	}
	want := []pppoe.VLANRange{
		{Inner: span(100, 2000)}, {Inner: span(3000, 3000), MaxSessions: 3},
		{Outer: span(10, 10), Inner: pppoe.AnyVLAN}, {Outer: span(11, 20), Inner: pppoe.AnyVLAN}, {Outer: span(30, 30), Inner: span(100, 100), MaxSessions: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ranges (-want +got)\n%s", diff)
	}
	ac, err := a.access()
	if err != nil {
		t.Fatal(err)
	}
	if ac.NASPortID.String() != "{interface}:{svlan}-{cvlan}" || ac.Channel != ChannelSession || !ac.CircuitID.IsZero() {
		t.Errorf("access %+v", ac)
	}
}

func TestPortTemplate(t *testing.T) {
	mac := pppoe.MAC{2, 0, 0, 0, 0, 0x2a}
	qinq := PortInfo{Interface: "eth1", OuterVLAN: 10, VLAN: 100, MAC: mac, SessionID: 7}
	single := PortInfo{Interface: "eth1", VLAN: 100, MAC: mac, SessionID: 7}
	untagged := PortInfo{Interface: "eth1", MAC: mac, SessionID: 7}
	withLine := PortInfo{Interface: "eth1", VLAN: 5, AccessLine: &pppoe.AccessLine{CircuitID: "olt1 1/1/3", RemoteID: "cpe-9"}}
	tests := []struct {
		tpl  string
		p    PortInfo
		want string
	}{
		{DefaultNASPortID, qinq, "eth1.10.100"},
		{DefaultNASPortID, single, "eth1.100"},
		{DefaultNASPortID, untagged, "eth1"},
		{"{interface}:{svlan}-{cvlan}", qinq, "eth1:10-100"},
		{"{interface}[:{svlan}-{cvlan}]", single, "eth1"},
		{"{interface}[:{svlan}][:{cvlan}]", single, "eth1:100"},
		{"{interface} {svlan}:{cvlan}", qinq, "eth1 10:100"},
		{"{interface}.{svlan}:{cvlan}", qinq, "eth1.10:100"},
		{"{interface}:{svlan}-{cvlan}", untagged, "eth1:-"}, // no brackets: the separators stay
		{"{mac}#{session-id}", qinq, "02:00:00:00:00:2a#7"},
		{"{circuit-id}|{remote-id}", withLine, "olt1 1/1/3|cpe-9"},
		{"{interface}[ {circuit-id}]", single, "eth1"},
		{"lac-1 {interface}", untagged, "lac-1 eth1"},
	}
	for _, tc := range tests {
		tpl, err := ParsePortTemplate(tc.tpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tpl, err)
		}
		if got := tpl.Format(tc.p); got != tc.want {
			t.Errorf("%q with %+v = %q, want %q", tc.tpl, tc.p, got, tc.want)
		}
	}
}

func TestPhysicalChannel(t *testing.T) {
	for _, tc := range []struct {
		c    PhysicalChannel
		p    PortInfo
		want uint32
	}{
		{ChannelVLAN, PortInfo{OuterVLAN: 10, VLAN: 100}, 10<<12 | 100},
		{ChannelVLAN, PortInfo{OuterVLAN: 10, VLAN: 100}, 41060},
		{ChannelVLAN, PortInfo{OuterVLAN: 4094, VLAN: 4094}, 0xffeffe},
		{ChannelVLAN, PortInfo{VLAN: 100}, 100},
		{ChannelVLAN, PortInfo{}, 0},
		{ChannelSession, PortInfo{OuterVLAN: 10, VLAN: 100, SessionID: 0xbeef}, 0xbeef},
	} {
		if got := tc.c.Value(tc.p); got != tc.want {
			t.Errorf("%v of %+v = %d, want %d", tc.c, tc.p, got, tc.want)
		}
	}
}

// TestGeneratedCircuitID: with a circuit-id template, a subscriber without
// an intermediate agent gets an Agent-Circuit-Id in the ICRQ (and as
// Calling Number); one whose agent sent one keeps the agent's.
func TestGeneratedCircuitID(t *testing.T) {
	tpl, _ := ParsePortTemplate("{interface}:{svlan}-{cvlan}")
	l, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	acc := l.NewAccess(AccessConfig{CircuitID: tpl})
	for _, tc := range []struct {
		name string
		ps   *pppoe.Session
		want string
	}{
		{"no agent", &pppoe.Session{Interface: "eth1", OuterVLAN: 10, VLAN: 100}, "eth1:10-100"},
		{"agent without circuit", &pppoe.Session{Interface: "eth1", OuterVLAN: 10, VLAN: 100, AccessLine: &pppoe.AccessLine{RemoteID: "r"}}, "eth1:10-100"},
		{"agent's circuit", &pppoe.Session{Interface: "eth1", OuterVLAN: 10, VLAN: 100, AccessLine: &pppoe.AccessLine{CircuitID: "dslam 1/2"}}, "dslam 1/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := acc.accessLine(tc.ps)
			avps, err := ICRQAVPs(CallInfo{MAC: tc.ps.ClientMAC, PhysicalChannel: ChannelVLAN.Value(portInfo(tc.ps)), AccessLine: line})
			if err != nil {
				t.Fatal(err)
			}
			m := &l2tp.Message{Type: l2tp.MsgICRQ, AVPs: avps}
			got, ok, err := ParseAccessLineAVPs(m)
			if !ok || err != nil || got.CircuitID != tc.want {
				t.Errorf("access line %+v (%v, %v), want circuit %q", got, ok, err, tc.want)
			}
			if calling, _ := m.Find(l2tp.AVPCallingNumber); string(calling.Value) != tc.want {
				t.Errorf("Calling Number %q, want %q", calling.Value, tc.want)
			}
			if phys, _ := m.Find(l2tp.AVPPhysicalChannelID); phys.Value == nil {
				t.Error("no Physical Channel ID")
			} else if v, _ := phys.Uint32(); v != 10<<12|100 {
				t.Errorf("Physical Channel ID %d", v)
			}
		})
	}
	if ps := (&pppoe.Session{Interface: "eth1", AccessLine: &pppoe.AccessLine{RemoteID: "r"}}); acc.accessLine(ps) == ps.AccessLine || ps.AccessLine.CircuitID != "" {
		t.Error("the generated circuit went into the PPPoE session's access line")
	}
	if ps := (&pppoe.Session{Interface: "eth1"}); l.NewAccess(AccessConfig{}).accessLine(ps) != nil {
		t.Error("a circuit was made without a circuit-id template")
	}
}

// FuzzParseVLANs feeds arbitrary vlans and qinq items to the parsers: an
// accepted list has valid, non-overlapping ranges whose text parses back
// to the same ranges.
func FuzzParseVLANs(f *testing.F) {
	for _, s := range []string{"100-2000, 3000", "any", "1,4094", "10:1-4094", "10-20:any", "10:100, 10:200-300", "0", "4095",
		"2000-100", "100 max=3", "1-2-3", "10:20:30", ":", "-", "any:any max=1", "100-2000,1500"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items := strings.Split(s, ",")
		for _, parse := range []func([]string) ([]pppoe.VLANRange, error){ParseVLANs, ParseQinQ} {
			r, err := parse(items)
			if err != nil {
				continue
			}
			var text []string
			for i, v := range r {
				if v.Inner.First < 1 || v.Inner.First > v.Inner.Last || v.Inner.Last > 4094 {
					t.Fatalf("%q: range %d %+v is invalid", s, i, v)
				}
				if v.QinQ() && (v.Outer.First < 1 || v.Outer.First > v.Outer.Last || v.Outer.Last > 4094) {
					t.Fatalf("%q: range %d %+v is invalid", s, i, v)
				}
				for _, o := range r[:i] {
					if v.Overlaps(o) {
						t.Fatalf("%q: %v and %v overlap", s, o, v)
					}
				}
				it := v.String()
				if v.MaxSessions > 0 {
					it += " max=" + strconv.Itoa(v.MaxSessions)
				}
				text = append(text, it)
			}
			again, err := parse(text)
			if err != nil {
				t.Fatalf("%q parsed to %q, which does not parse: %v", s, text, err)
			}
			if diff := cmp.Diff(r, again); diff != "" {
				t.Fatalf("%q: round trip (-first +again)\n%s", s, diff)
			}
		}
	})
}
