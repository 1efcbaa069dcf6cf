package lac

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bras-project/bras/l2tp"
	"github.com/bras-project/bras/ppp"
	"github.com/bras-project/bras/pppoe"
	"github.com/google/go-cmp/cmp"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The frames of an IPv4 packet and an LCP Echo-Request, as PPPoE carries
// them (RFC 2516 section 7: no FF 03) and as L2TP carries them (RFC 2661
// section 5.3: FF 03 first).
var acGolden = []struct {
	name        string
	pppoe, l2tp string
}{
	{"IPv4",
		"0021" + /* protocol IPv4 */ "45000014 00000000 4001 0000 0a000001 0a000002",
		"ff03" + /* address, control */ "0021" + "45000014 00000000 4001 0000 0a000001 0a000002"},
	{"LCP Echo-Request",
		"c021" + /* LCP */ "09 01 0008" + /* code 9, id 1, length 8 */ "01020304", /* magic */
		"ff03" + "c021" + "09 01 0008" + "01020304"},
}

func TestAddressControlGolden(t *testing.T) {
	for _, tc := range acGolden {
		t.Run(tc.name, func(t *testing.T) {
			in, want := unhex(t, tc.pppoe), unhex(t, tc.l2tp)
			if got := AddAddressControl(nil, in); !bytes.Equal(got, want) {
				t.Errorf("PPPoE → L2TP\n got %x\nwant %x", got, want)
			}
			if got := StripAddressControl(want); !bytes.Equal(got, in) {
				t.Errorf("L2TP → PPPoE\n got %x\nwant %x", got, in)
			}
			// A peer that negotiated ACFC sends no FF 03: passed unchanged.
			if got := StripAddressControl(in); !bytes.Equal(got, in) {
				t.Errorf("without FF 03\n got %x\nwant %x", got, in)
			}
		})
	}
}

// testSession is a session whose two sides are recorded.
func testSession() (s *session, up, down *[][]byte) {
	up, down = new([][]byte), new([][]byte)
	s = &session{downFn: func(b []byte) error {
		*down = append(*down, append([]byte(nil), b...))
		return nil
	}}
	fn := func(b []byte) error {
		*up = append(*up, append([]byte(nil), b...))
		return nil
	}
	s.upFn.Store(&fn)
	return s, up, down
}

func TestForward(t *testing.T) {
	s, up, down := testSession()
	for _, tc := range acGolden {
		s.forwardUp(unhex(t, tc.pppoe))
		s.forwardDown(unhex(t, tc.l2tp))
	}
	s.forwardDown([]byte{0xff, 0x03, 0x00}) // too short for a Protocol field
	var wantUp, wantDown [][]byte
	for _, tc := range acGolden {
		wantUp = append(wantUp, unhex(t, tc.l2tp))
		wantDown = append(wantDown, unhex(t, tc.pppoe))
	}
	if diff := cmp.Diff(wantUp, *up); diff != "" {
		t.Errorf("into the tunnel (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(wantDown, *down); diff != "" {
		t.Errorf("to the subscriber (-want +got)\n%s", diff)
	}
	if s.UpPackets.Load() != 2 || s.DownPackets.Load() != 2 || s.Dropped.Load() != 1 {
		t.Errorf("counters up %d down %d dropped %d, want 2 2 1", s.UpPackets.Load(), s.DownPackets.Load(), s.Dropped.Load())
	}
	if want := uint64(len(unhex(t, acGolden[0].pppoe)) + len(unhex(t, acGolden[1].pppoe))); s.UpBytes.Load() != want || s.DownBytes.Load() != want {
		t.Errorf("bytes up %d down %d, want %d", s.UpBytes.Load(), s.DownBytes.Load(), want)
	}
	// A failed send is a drop, not a count.
	fail := func([]byte) error { return errors.New("down") }
	s.upFn.Store(&fail)
	s.forwardUp(unhex(t, acGolden[0].pppoe))
	s.upFn.Store(nil)
	s.forwardUp(unhex(t, acGolden[0].pppoe))
	if s.Dropped.Load() != 3 || s.UpPackets.Load() != 2 {
		t.Errorf("after failed sends dropped %d up %d, want 3 2", s.Dropped.Load(), s.UpPackets.Load())
	}
}

func TestForwardAllocs(t *testing.T) {
	s := &session{downFn: func([]byte) error { return nil }}
	fn := func([]byte) error { return nil }
	s.upFn.Store(&fn)
	frame := unhex(t, acGolden[0].pppoe)
	frame = append(frame, make([]byte, 1400)...)
	l2 := AddAddressControl(nil, frame)
	if n := testing.AllocsPerRun(1000, func() { s.forwardUp(frame) }); n != 0 {
		t.Errorf("PPPoE → L2TP: %v allocations per frame", n)
	}
	if n := testing.AllocsPerRun(1000, func() { s.forwardDown(l2) }); n != 0 {
		t.Errorf("L2TP → PPPoE: %v allocations per frame", n)
	}
}

func BenchmarkForwardUp(b *testing.B) {
	s := &session{}
	fn := func([]byte) error { return nil }
	s.upFn.Store(&fn)
	frame := append([]byte{0x00, 0x21}, make([]byte, 1400)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		s.forwardUp(frame)
	}
}

func BenchmarkForwardDown(b *testing.B) {
	s := &session{downFn: func([]byte) error { return nil }}
	frame := append([]byte{0xff, 0x03, 0x00, 0x21}, make([]byte, 1400)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		s.forwardDown(frame)
	}
}

// accessLine is the access-line information of a DSL line as an
// intermediate agent puts it in the PADR (RFC 4679 section 3).
var accessLine = &pppoe.AccessLine{
	CircuitID:      "dslam1 atm 1/0/3:8.35",
	RemoteID:       "cust-42",
	ActualRateUp:   1024,
	ActualRateDown: 16384,
}

func TestAccessLineAVPs(t *testing.T) {
	avps, err := AccessLineAVPs(accessLine)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l2tp.AppendAVPs(nil, avps, l2tp.AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, ""+
		/* M=0 H=0 length 6+21 */ "001b"+ /* vendor 3561 */ "0de9"+ /* type 1 Agent-Circuit-Id */ "0001"+
		hex.EncodeToString([]byte("dslam1 atm 1/0/3:8.35"))+
		"000d"+"0de9"+"0002"+ /* Agent-Remote-Id */ hex.EncodeToString([]byte("cust-42"))+
		"000e"+"0de9"+"0081"+ /* Actual-Data-Rate-Upstream: 1024 kbit/s in bit/s */ "00000000 000fa000"+
		"000e"+"0de9"+"0082"+ /* Actual-Data-Rate-Downstream: 16384 kbit/s */ "00000000 00fa0000")
	if !bytes.Equal(b, want) {
		t.Errorf("access-line AVPs\n got %x\nwant %x", b, want)
	}
	// An LNS reads them back.
	parsed, err := l2tp.ParseAVPs(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := ParseAccessLineAVPs(&l2tp.Message{Type: l2tp.MsgICRQ, AVPs: parsed})
	if err != nil || !ok {
		t.Fatalf("ParseAccessLineAVPs: %v %v", ok, err)
	}
	if diff := cmp.Diff(*accessLine, got); diff != "" {
		t.Errorf("round trip (-want +got)\n%s", diff)
	}
	if avps, _ := AccessLineAVPs(nil); avps != nil {
		t.Errorf("no access line gave %v", avps)
	}
}

func TestICRQAVPs(t *testing.T) {
	mac := pppoe.MAC{0x02, 0, 0, 0, 0, 0x2a}
	tests := []struct {
		name        string
		line        *pppoe.AccessLine
		wantCalling string
		wantVendor  int
	}{
		{"MAC as Calling Number", nil, "02:00:00:00:00:2a", 0},
		{"circuit ID as Calling Number", accessLine, "dslam1 atm 1/0/3:8.35", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			avps, err := ICRQAVPs(CallInfo{MAC: mac, Service: "internet", PhysicalChannel: 7, AccessLine: tc.line})
			if err != nil {
				t.Fatal(err)
			}
			m := &l2tp.Message{Type: l2tp.MsgICRQ, AVPs: avps}
			calling, _ := m.Find(l2tp.AVPCallingNumber)
			called, _ := m.Find(l2tp.AVPCalledNumber)
			phys, _ := m.Find(l2tp.AVPPhysicalChannelID)
			if string(calling.Value) != tc.wantCalling || string(called.Value) != "internet" {
				t.Errorf("Calling %q Called %q", calling.Value, called.Value)
			}
			if v, _ := phys.Uint32(); v != 7 {
				t.Errorf("Physical Channel ID %d, want 7", v)
			}
			vendor := 0
			for _, a := range avps {
				if a.VendorID == VendorBBF {
					vendor++
				}
			}
			if vendor != tc.wantVendor {
				t.Errorf("%d access-line AVPs, want %d", vendor, tc.wantVendor)
			}
			// The ICRQ is a valid message for section 6.6.
			full := &l2tp.Message{Type: l2tp.MsgICRQ, AVPs: append([]l2tp.AVP{
				l2tp.NewAVPUint16(l2tp.AVPAssignedSessionID, 1), l2tp.NewAVPUint32(l2tp.AVPCallSerialNumber, 1)}, avps...)}
			if _, err := full.Check(); err != nil {
				t.Errorf("ICRQ check: %v", err)
			}
		})
	}
}

// pipe connects two ppp sessions in memory; frames are delivered in order
// until both sides are quiet.
type pipe struct{ q []pipeFrame }

type pipeFrame struct {
	to    *ppp.Session
	frame []byte
}

type pipeLink struct {
	p    *pipe
	peer **ppp.Session
}

func (l pipeLink) Send(b []byte) error {
	l.p.q = append(l.p.q, pipeFrame{*l.peer, append([]byte(nil), b...)})
	return nil
}

func (p *pipe) run(now time.Time) {
	for len(p.q) > 0 {
		f := p.q[0]
		p.q = p.q[1:]
		f.to.Input(f.frame, now)
	}
}

type recorder struct{ req *ppp.AuthRequest }

func (r recorder) Authenticate(_ *ppp.Session, req ppp.AuthRequest) { *r.req = req }

type nopHandler struct{}

func (nopHandler) Up(*ppp.Session, ppp.NetworkInfo) {}
func (nopHandler) Down(*ppp.Session, ppp.Reason)    {}

// zeros is a deterministic Rand: magic numbers and challenges from a
// counter.
type counter struct{ n byte }

func (c *counter) Read(b []byte) (int, error) {
	for i := range b {
		c.n++
		b[i] = c.n
	}
	return len(b), nil
}

// negotiate runs LCP and authentication between a subscriber and a LAC
// session that records the credentials, as proxy mode does.
func negotiate(t *testing.T, proto ppp.AuthProto) (ppp.Proxy, ppp.AuthRequest) {
	t.Helper()
	now := time.Unix(0, 0)
	p := &pipe{}
	var lacS, subS *ppp.Session
	var req ppp.AuthRequest
	lacS = ppp.NewSession(pipeLink{p, &subS}, ppp.Config{Role: ppp.Server, MRU: 1492, RejectACCMPFCACFC: true,
		Auth: []ppp.AuthProto{proto}, Authenticator: recorder{&req}, Handler: nopHandler{}, Rand: &counter{}})
	subS = ppp.NewSession(pipeLink{p, &lacS}, ppp.Config{Role: ppp.Client, MRU: 1492, RejectACCMPFCACFC: true,
		Username: "alice@example.com", Password: "secret", Handler: nopHandler{}, Rand: &counter{n: 100}})
	lacS.Open(now)
	subS.Open(now)
	p.run(now)
	if req.Username == "" {
		t.Fatalf("no credentials captured; LAC LCP %v phase %v", lacS.LCPState(), lacS.State())
	}
	return lacS.ProxyInfo(), req
}

func TestProxyAVPsFromNegotiatedSession(t *testing.T) {
	tests := []struct {
		name  string
		proto ppp.AuthProto
		want  string
	}{
		{"PAP", ppp.AuthPAP, "" +
			/* 26 Initial Received LCP CONFREQ: MRU 1492, Magic 0x65666768 */ "0010 0000 001a" + "0104 05d4 0506 65666768" +
			/* 27 Last Sent LCP CONFREQ: MRU 1492, Auth PAP, Magic 0x01020304 */ "0014 0000 001b" + "0104 05d4 0304 c023 0506 01020304" +
			/* 28 Last Received LCP CONFREQ */ "0010 0000 001c" + "0104 05d4 0506 65666768" +
			/* 29 Proxy Authen Type 3 (PAP) */ "0008 0000 001d 0003" +
			/* 30 Proxy Authen Name */ "0017 0000 001e" + "616c696365406578616d706c652e636f6d" +
			/* 32 Proxy Authen ID */ "0008 0000 0020 0001" +
			/* 33 Proxy Authen Response: the password */ "000c 0000 0021" + "736563726574"},
		{"CHAP", ppp.AuthCHAPMD5, "" +
			"0010 0000 001a" + "0104 05d4 0506 65666768" +
			/* 27: Auth CHAP MD5 */ "0015 0000 001b" + "0104 05d4 0305 c22305 0506 01020304" +
			"0010 0000 001c" + "0104 05d4 0506 65666768" +
			/* 29 Proxy Authen Type 2 (CHAP) */ "0008 0000 001d 0002" +
			"0017 0000 001e" + "616c696365406578616d706c652e636f6d" +
			/* 31 Proxy Authen Challenge: 16 octets */ "0016 0000 001f" + "05060708090a0b0c0d0e0f1011121314" +
			/* 32 Proxy Authen ID: the CHAP Identifier */ "0008 0000 0020 0015" +
			/* 33 Proxy Authen Response: MD5(ID ‖ secret ‖ challenge) */ "0016 0000 0021"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			px, req := negotiate(t, tc.proto)
			avps := ProxyAVPs(px)
			b, err := l2tp.AppendAVPs(nil, avps, l2tp.AppendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tc.want)
			if tc.proto == ppp.AuthCHAPMD5 {
				r := ppp.ChapMD5(req.ChapID, []byte("secret"), req.Challenge)
				want = append(want, r[:]...)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("proxy AVPs\n got %x\nwant %x", b, want)
			}
			// The LNS reads the same values back, usable for StartProxied.
			parsed, err := l2tp.ParseAVPs(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			back, ok, err := ProxyFromICCN(&l2tp.Message{Type: l2tp.MsgICCN, AVPs: parsed})
			if err != nil || !ok {
				t.Fatalf("ProxyFromICCN: %v %v", ok, err)
			}
			if diff := cmp.Diff(px, back, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
				t.Errorf("round trip (-want +got)\n%s", diff)
			}
			lns := ppp.NewSession(pipeLink{&pipe{}, new(*ppp.Session)}, ppp.Config{Role: ppp.Server, MRU: 1492,
				Auth: []ppp.AuthProto{tc.proto}, Authenticator: recorder{new(ppp.AuthRequest)}, Handler: nopHandler{}})
			if err := lns.StartProxied(back, time.Unix(0, 0)); err != nil {
				t.Errorf("an LNS cannot start from the proxy AVPs: %v", err)
			}
		})
	}
}
