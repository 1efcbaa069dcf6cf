package pppoe

import (
	"strings"
	"testing"
)

// setOf is the set of single VLAN keys (a VLAN ID, or outer<<16|inner).
func setOf(t testing.TB, keys ...vlanKey) *vlanSet {
	t.Helper()
	var r []VLANRange
	for _, k := range keys {
		vr := VLANRange{Inner: VLANSpan{k.inner(), k.inner()}}
		if k.outer() != 0 {
			vr.Outer = VLANSpan{k.outer(), k.outer()}
		}
		r = append(r, vr)
	}
	s, err := newVLANSet(r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func qinq(o, i uint16) vlanKey { return vlanKey(o)<<16 | vlanKey(i) }

// TestVLANSetLookup checks the bitmap lookup at the edges of the ID space
// (1 and 4094 in, 0 and 4095 never), of each range, and "any".
func TestVLANSetLookup(t *testing.T) {
	s, err := newVLANSet([]VLANRange{
		{Inner: VLANSpan{1, 1}},
		{Inner: VLANSpan{100, 2000}},
		{Inner: VLANSpan{4094, 4094}},
		{Outer: VLANSpan{10, 10}, Inner: AnyVLAN},
		{Outer: VLANSpan{20, 30}, Inner: VLANSpan{100, 100}},
		{Outer: VLANSpan{20, 20}, Inner: VLANSpan{200, 300}},
		{Outer: VLANSpan{4094, 4094}, Inner: VLANSpan{4094, 4094}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		k    vlanKey
		want bool
	}{
		{1, true}, {2, false}, {99, false}, {100, true}, {2000, true}, {2001, false},
		{4093, false}, {4094, true}, {4095, false}, {0xfff, false},
		{qinq(10, 1), true}, {qinq(10, 4094), true}, {qinq(10, 4095), false},
		{qinq(9, 1), false}, {qinq(11, 4094), false},
		{qinq(20, 100), true}, {qinq(25, 100), true}, {qinq(30, 100), true}, {qinq(31, 100), false},
		{qinq(25, 101), false}, {qinq(20, 199), false}, {qinq(20, 200), true}, {qinq(20, 300), true},
		{qinq(21, 200), false}, {qinq(4094, 4094), true}, {qinq(4094, 1), false}, {qinq(4095, 4094), false},
		{qinq(1, 1), false}, // a single-tagged range does not match QinQ
	} {
		if got := s.has(tt.k); got != tt.want {
			t.Errorf("has(%v) = %v, want %v", tt.k, got, tt.want)
		}
	}

	any, err := newVLANSet([]VLANRange{{Inner: AnyVLAN}})
	if err != nil {
		t.Fatal(err)
	}
	for v := vlanKey(1); v <= 4094; v++ {
		if !any.has(v) {
			t.Fatalf("vlans = any does not serve %d", v)
		}
	}
	if any.has(qinq(5, 5)) || any.has(4095) {
		t.Error("vlans = any serves a QinQ frame or VLAN 4095")
	}
	var none *vlanSet
	if none.has(100) {
		t.Error("a nil set serves VLAN 100")
	}
}

// TestVLANSetRefuses checks the invalid and overlapping ranges a caller
// might pass (the LAC's configuration catches them first, with the line).
func TestVLANSetRefuses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		ranges []VLANRange
		want   string
	}{
		{"VLAN 0", []VLANRange{{Inner: VLANSpan{0, 10}}}, "out of 1-4094"},
		{"VLAN 4095", []VLANRange{{Inner: VLANSpan{4095, 4095}}}, "out of 1-4094"},
		{"reversed", []VLANRange{{Inner: VLANSpan{20, 10}}}, "out of 1-4094"},
		{"outer 0", []VLANRange{{Outer: VLANSpan{0, 5}, Inner: AnyVLAN}}, "out of 1-4094"},
		{"overlap", []VLANRange{{Inner: VLANSpan{100, 200}}, {Inner: VLANSpan{200, 300}}}, "100-200 and 200-300 overlap"},
		{"QinQ overlap", []VLANRange{{Outer: VLANSpan{10, 20}, Inner: AnyVLAN}, {Outer: VLANSpan{15, 15}, Inner: VLANSpan{7, 7}}}, "10-20:any and 15:7 overlap"},
		{"negative cap", []VLANRange{{Inner: VLANSpan{1, 1}, MaxSessions: -1}}, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newVLANSet(tt.ranges)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
	// The same inner VLANs under other outer tags do not overlap.
	if _, err := newVLANSet([]VLANRange{{Inner: AnyVLAN}, {Outer: VLANSpan{1, 1}, Inner: AnyVLAN}, {Outer: VLANSpan{2, 4094}, Inner: AnyVLAN}}); err != nil {
		t.Errorf("disjoint ranges refused: %v", err)
	}
}

// TestVLANSetLookupAllocs: the frame path's lookup allocates nothing.
func TestVLANSetLookupAllocs(t *testing.T) {
	s, _ := newVLANSet([]VLANRange{{Inner: VLANSpan{100, 2000}}, {Outer: VLANSpan{10, 20}, Inner: AnyVLAN}})
	var hits int
	if n := testing.AllocsPerRun(1000, func() {
		if s.has(150) && s.has(qinq(15, 4000)) && !s.has(qinq(30, 1)) {
			hits++
		}
	}); n != 0 {
		t.Errorf("%v allocations per lookup, want 0", n)
	}
	if hits == 0 {
		t.Error("lookups failed")
	}
}

func BenchmarkVLANSetLookup(b *testing.B) {
	s, _ := newVLANSet([]VLANRange{{Inner: VLANSpan{100, 2000}}, {Outer: VLANSpan{10, 20}, Inner: AnyVLAN}})
	b.ReportAllocs()
	k := qinq(15, 100)
	for b.Loop() {
		if !s.has(k) {
			b.Fatal("miss")
		}
	}
}

// padrOn runs PADI, PADO, PADR for client m on VLAN key vk and returns
// the PADS.
func (a *testAC) padrOn(t *testing.T, m MAC, vk vlanKey) Packet {
	t.Helper()
	tagged := func(dst MAC, p Packet) []byte {
		b, err := p.Append(appendEth(nil, dst, m, vk, EtherTypeDiscovery))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reply := a.exchange(tagged(Broadcast, padi("")))
	if reply == nil {
		t.Fatalf("no PADO on VLAN %v", vk)
	}
	_, pado := parseFrame(t, reply)
	cookie, _ := pado.Tag(TagACCookie)
	reply = a.exchange(tagged(acMAC, Packet{Code: CodePADR, Tags: []Tag{{Type: TagServiceName}, {Type: TagACCookie, Value: cookie}}}))
	if reply == nil {
		t.Fatalf("no PADS on VLAN %v", vk)
	}
	got, _, _ := frameVLAN(reply, 0)
	if got != vk {
		t.Errorf("PADS tagged %v, want %v", got, vk)
	}
	_, pads := parseFrame(t, reply)
	return pads
}

// TestPerVLANSessionCap: with max 2 sessions per VLAN, the third PADR on
// one VLAN gets a PADS with Generic-Error and no session, another VLAN
// still takes sessions, a range's own cap wins, and a session that ends
// gives its place back (the count does not leak).
func TestPerVLANSessionCap(t *testing.T) {
	a := newTestAC(t, ServerConfig{PADIRate: -1, MaxSessionsPerMAC: 10, MaxSessionsPerVLAN: 2})
	var err error
	a.p.untagged = false
	a.p.vlans, err = newVLANSet([]VLANRange{
		{Outer: VLANSpan{10, 10}, Inner: VLANSpan{1, 4094}},
		{Outer: VLANSpan{20, 20}, Inner: AnyVLAN, MaxSessions: 1},
		{Inner: VLANSpan{300, 399}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.p.limits = a.p.vlans
	mac := func(i int) MAC { return MAC{0x02, 0, 0, 0, 0, byte(i)} }
	ok := func(p Packet) bool { _, bad := p.Tag(TagGenericError); return p.SessionID != 0 && !bad }
	for i := range 2 {
		if p := a.padrOn(t, mac(i), qinq(10, 100)); !ok(p) {
			t.Fatalf("session %d on 10:100 refused: %+v", i, p)
		}
	}
	p := a.padrOn(t, mac(2), qinq(10, 100))
	msg, hasErr := p.Tag(TagGenericError)
	if p.SessionID != 0 || !hasErr || !strings.Contains(string(msg), "limit") {
		t.Fatalf("the third session on 10:100: session %d, Generic-Error %q; want a refusal", p.SessionID, msg)
	}
	if p := a.padrOn(t, mac(3), qinq(10, 101)); !ok(p) {
		t.Errorf("10:101 refused while 10:100 is full: %+v", p)
	}
	if p := a.padrOn(t, mac(4), 300); !ok(p) {
		t.Errorf("VLAN 300 refused: %+v", p)
	}
	// The range 20:any has its own cap of 1.
	if p := a.padrOn(t, mac(5), qinq(20, 7)); !ok(p) {
		t.Errorf("20:7 refused: %+v", p)
	}
	if p := a.padrOn(t, mac(6), qinq(20, 7)); ok(p) {
		t.Error("a second session on 20:7 taken; the range caps it at 1")
	}
	st := a.srv.Stats()
	if st.VLANLimitRejected != 2 || st.LimitRejected != 2 {
		t.Errorf("VLANLimitRejected %d, LimitRejected %d; want 2 and 2", st.VLANLimitRejected, st.LimitRejected)
	}

	// A session that ends frees its place on the VLAN.
	a.h.mu.Lock()
	var first *Session
	for _, s := range a.h.up {
		if s.tag == qinq(10, 100) {
			first = s
			break
		}
	}
	a.h.mu.Unlock()
	a.srv.Close(first, "test")
	if p := a.padrOn(t, mac(7), qinq(10, 100)); !ok(p) {
		t.Errorf("10:100 still full after one of its sessions ended: %+v", p)
	}
	// Once every session has ended, nothing is counted any more.
	a.h.mu.Lock()
	all := append([]*Session(nil), a.h.up...)
	a.h.mu.Unlock()
	for _, s := range all {
		a.srv.Close(s, "test")
	}
	a.p.mu.RLock()
	left := len(a.p.perVLAN)
	a.p.mu.RUnlock()
	if left != 0 || a.srv.NumSessions() != 0 {
		t.Errorf("after every session ended: %d VLANs counted, %d sessions", left, a.srv.NumSessions())
	}
}

// TestPerVLANCapSubInterface: on a VLAN sub-interface the cap counts the
// sub-interface's sessions (they arrive untagged).
func TestPerVLANCapSubInterface(t *testing.T) {
	a := newTestAC(t, ServerConfig{PADIRate: -1, MaxSessionsPerMAC: 10, MaxSessionsPerVLAN: 1})
	a.p.vlan = 100
	if p := a.padrOn(t, MAC{2, 0, 0, 0, 0, 1}, 0); p.SessionID == 0 {
		t.Fatalf("first session on eth0.100 refused: %+v", p)
	}
	if p := a.padrOn(t, MAC{2, 0, 0, 0, 0, 2}, 0); p.SessionID != 0 {
		t.Errorf("second session on eth0.100 taken, cap 1")
	}
}
