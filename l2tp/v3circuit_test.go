package l2tp

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// circuitRecorder is a recorder that answers every ICRQ with the circuit
// status it is told and keeps the Circuit Status updates it hears.
type circuitRecorder struct {
	*recorder
	icrpActive atomic.Bool
	mu         sync.Mutex
	heard      []CircuitStatus
}

func (r *circuitRecorder) IncomingCall(t *Tunnel, s *Session, icrq *Message) error {
	s.SetCircuitStatus(r.icrpActive.Load())
	return r.recorder.IncomingCall(t, s, icrq)
}

func (r *circuitRecorder) CircuitStatus(s *Session, cs CircuitStatus) {
	r.mu.Lock()
	r.heard = append(r.heard, cs)
	r.mu.Unlock()
}

func (r *circuitRecorder) updates() []CircuitStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CircuitStatus(nil), r.heard...)
}

// TestV3CircuitStatus: the circuit status of an Ethernet pseudowire (RFC
// 4719 sections 2.2 and 2.3, RFC 3931 section 5.4.5) goes from each end to
// the other: an inactive circuit in the ICRQ and in the ICRP, a change
// while the ICRP is awaited in the ICCN, and every change once the session
// is up in an SLI with the N bit clear, both ways.
func TestV3CircuitStatus(t *testing.T) {
	checkGoroutines(t)
	opts := fastOpts("pw-secret")
	opts.Version, opts.CookieLen = 3, 4
	opts.PWTypes = []PWType{PWEthernet, PWEthernetVLAN}
	lc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	lacRec := &circuitRecorder{recorder: newRecorder("lac")}
	lnsRec := &circuitRecorder{recorder: newRecorder("lns")}
	lac, _ := NewEndpoint(lc, Config{HostName: "a", Handler: lacRec, ShutdownTimeout: time.Second, Accept: acceptAll(opts)})
	lns, _ := NewEndpoint(nc, Config{HostName: "b", Handler: lnsRec, ShutdownTimeout: time.Second, Accept: acceptAll(opts)})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, e := range []*Endpoint{lac, lns} {
		wg.Go(func() { e.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait(); lc.Close(); nc.Close() })
	waitFor(t, 5*time.Second, "endpoints running", func() bool { return lac.running.Load() && lns.running.Load() })

	tn, err := lac.Dial(context.Background(), nc.LocalAddr().(*net.UDPAddr).AddrPort(), opts)
	if err != nil {
		t.Fatal(err)
	}

	// An inactive circuit each way at set-up: ICRQ and ICRP say so.
	lnsRec.icrpActive.Store(false)
	s, err := tn.PlaceCall(CallRequest{PWType: PWEthernet, CircuitDown: true, ICRQ: []AVP{NewV3AVPString(AVPRemoteEndID, "pw-1")}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "call up", func() bool { return lacRec.sessionsUp.Load() == 1 && lnsRec.sessionsUp.Load() == 1 })
	ls := lnsSessionOf(t, lnsRec.recorder, nil)
	if ls.PWType() != PWEthernet || ls.PeerCircuitActive() || s.PeerCircuitActive() {
		t.Fatalf("at set-up: pseudowire %v, LNS sees the peer's circuit active %v, LAC %v; want Ethernet, false, false",
			ls.PWType(), ls.PeerCircuitActive(), s.PeerCircuitActive())
	}
	if a, ok := ls.ICRQ().Find(AVPRemoteEndID); !ok || string(a.Value) != "pw-1" {
		t.Errorf("Remote End ID %q (found %v), want pw-1", a.Value, ok)
	}
	if a, _ := ls.ICRQ().Find(AVPCircuitStatus); string(a.Value) != "\x00\x02" {
		t.Errorf("ICRQ Circuit Status % x, want 00 02 (new, inactive)", a.Value)
	}

	// Changes after set-up: SLIs, N bit clear, each way.
	s.SetCircuitStatus(true)
	waitFor(t, 5*time.Second, "LNS hears the LAC's circuit up", func() bool { return ls.PeerCircuitActive() })
	ls.SetCircuitStatus(true)
	waitFor(t, 5*time.Second, "LAC hears the LNS's circuit up", func() bool { return s.PeerCircuitActive() })
	s.SetCircuitStatus(false)
	waitFor(t, 5*time.Second, "LNS hears the LAC's circuit down", func() bool { return !ls.PeerCircuitActive() })
	s.SetCircuitStatus(false) // no change: no SLI
	s.SetCircuitStatus(true)
	waitFor(t, 5*time.Second, "LNS hears the LAC's circuit up again", func() bool { return ls.PeerCircuitActive() })
	want := []CircuitStatus{{Active: true}, {Active: false}, {Active: true}}
	if got := lnsRec.updates(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("LNS heard %v, want %v", got, want)
	}
	if got := lacRec.updates(); len(got) != 1 || got[0] != (CircuitStatus{Active: true}) {
		t.Errorf("LAC heard %v, want one update to active", got)
	}

	// A change while the ICRP is awaited rides in the ICCN.
	lnsRec.icrpActive.Store(true)
	s2, err := tn.PlaceCall(CallRequest{PWType: PWEthernetVLAN, ICRQ: []AVP{NewV3AVPString(AVPRemoteEndID, "pw-2")}})
	if err != nil {
		t.Fatal(err)
	}
	s2.SetCircuitStatus(false)
	waitFor(t, 5*time.Second, "second call up", func() bool { return lnsRec.sessionsUp.Load() == 2 })
	var ls2 *Session
	for _, x := range lnsSessions(lnsRec.recorder) {
		if x != ls {
			ls2 = x
		}
	}
	if !s2.PeerCircuitActive() || ls2.PWType() != PWEthernetVLAN {
		t.Errorf("LAC sees the LNS's circuit active %v, pseudowire %v; want true, Ethernet VLAN", s2.PeerCircuitActive(), ls2.PWType())
	}
	waitFor(t, 5*time.Second, "LNS hears the change", func() bool { return !ls2.PeerCircuitActive() })
	if a, ok := ls2.ICCN().Find(AVPCircuitStatus); s2.CircuitActive() || (ok && string(a.Value) != "\x00\x00") {
		t.Errorf("ICCN Circuit Status % x (found %v), want 00 00 when it went there", a.Value, ok)
	}
	if st := lns.Stats(); st.Malformed.Load() != 0 || st.UnexpectedMsg.Load() != 0 {
		t.Errorf("LNS malformed %d, unexpected %d", st.Malformed.Load(), st.UnexpectedMsg.Load())
	}
	tn.Close(ResultCode{Result: uint16(StopCCNGeneralRequest)})
	waitFor(t, 5*time.Second, "tunnel down", func() bool { return lnsRec.tunnelsDown.Load() == 1 })
}

// lnsSessions are the sessions a recorder saw come up.
func lnsSessions(r *recorder) []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ss []*Session
	for s := range r.iccn {
		ss = append(ss, s)
	}
	return ss
}
