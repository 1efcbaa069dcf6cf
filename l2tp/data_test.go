package l2tp

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// udpPair runs an LAC and an LNS Endpoint on real UDP sockets on loopback
// (batched reads through recvmmsg) and returns an established session.
func udpPair(t testing.TB, lnsData func(*Tunnel, *Session, Header, []byte), lacData func(*Tunnel, *Session, Header, []byte)) (*Endpoint, *Endpoint, *Session, *recorder) {
	t.Helper()
	lc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	lacRec, lnsRec := newRecorder("lac"), newRecorder("lns")
	opts := TunnelOptions{Secret: []byte("k"), HideAVPs: true, HideNumbers: true, RetransmitInitial: 100 * time.Millisecond}
	lac, _ := NewEndpoint(lc, Config{HostName: "lac", Handler: lacRec, Data: lacData, ShutdownTimeout: time.Second})
	lns, _ := NewEndpoint(nc, Config{HostName: "lns", Handler: lnsRec, Data: lnsData, ShutdownTimeout: time.Second, Accept: acceptAll(opts)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, e := range []*Endpoint{lac, lns} {
		go func() { e.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		lc.Close()
		nc.Close()
	})
	for !lac.running.Load() || !lns.running.Load() {
		time.Sleep(time.Millisecond)
	}
	tn, err := lac.Dial(ctx, nc.LocalAddr().(*net.UDPAddr).AddrPort(), opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tn.PlaceCall(CallRequest{ICRQ: []AVP{NewAVPString(AVPCallingNumber, "hidden")}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for lnsRec.sessionsUp.Load() != 1 || lacRec.sessionsUp.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("session did not come up over loopback UDP")
		}
		time.Sleep(time.Millisecond)
	}
	return lac, lns, s, lnsRec
}

func TestUDPLoopbackHiddenAVPs(t *testing.T) {
	checkGoroutines(t)
	var echoed atomic.Int32
	_, lns, s, lnsRec := udpPair(t,
		func(tn *Tunnel, s *Session, h Header, b []byte) { tn.SendData(s, b) },
		func(tn *Tunnel, s *Session, h Header, b []byte) {
			if string(b) == "ping" {
				echoed.Add(1)
			}
		})
	// The ICRQ's Calling Number travelled hidden (HideNumbers) and was revealed.
	lnsRec.mu.Lock()
	var ls *Session
	for k := range lnsRec.iccn {
		ls = k
	}
	lnsRec.mu.Unlock()
	a, ok := ls.ICRQ().Find(AVPCallingNumber)
	if !ok || string(a.Value) != "hidden" || !a.Hidden {
		t.Fatalf("LNS ICRQ Calling Number %q hidden=%v (found %v), want %q hidden", a.Value, a.Hidden, ok, "hidden")
	}
	// The two ends agree on each other's IDs and names.
	lt, nt := s.Tunnel(), ls.Tunnel()
	if lt.PeerID() != nt.LocalID() || nt.PeerID() != lt.LocalID() || s.PeerID() != ls.LocalID() || ls.PeerID() != s.LocalID() {
		t.Errorf("IDs: LAC tunnel %d/%d session %d/%d, LNS tunnel %d/%d session %d/%d",
			lt.LocalID(), lt.PeerID(), s.LocalID(), s.PeerID(), nt.LocalID(), nt.PeerID(), ls.LocalID(), ls.PeerID())
	}
	if lt.PeerHostName() != "lns" || nt.PeerHostName() != "lac" || lt.State() != CtrlEstablished || nt.Sessions() != 1 ||
		s.State() != CallEstablished || ls.State() != CallEstablished || s.Role() != LACIncoming || ls.Role() != LNSIncoming {
		t.Errorf("LAC sees %q %v, LNS sees %q with %d sessions; session states %v %v",
			lt.PeerHostName(), lt.State(), nt.PeerHostName(), nt.Sessions(), s.State(), ls.State())
	}
	if nt.Peer() != lt.ep.conn.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Errorf("LNS sends to %v, the LAC is at %v", nt.Peer(), lt.ep.conn.LocalAddr())
	}
	for range 10 {
		if err := s.Tunnel().SendData(s, []byte("ping")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "10 echoes", func() bool { return echoed.Load() == 10 })
	if lns.Stats().DataRx.Load() != 10 {
		t.Errorf("LNS DataRx = %d", lns.Stats().DataRx.Load())
	}
}

// TestDataPathAllocs: encapsulation (SendData) and decapsulation (the
// reader's demultiplexing to Config.Data) allocate nothing per packet.
func TestDataPathAllocs(t *testing.T) {
	var got atomic.Int32
	lac, lns, s, _ := udpPair(t, func(*Tunnel, *Session, Header, []byte) { got.Add(1) }, nil)
	_ = lac
	payload := make([]byte, 1400)
	if a := testing.AllocsPerRun(1000, func() { s.Tunnel().SendData(s, payload) }); a != 0 {
		t.Errorf("SendData: %v allocations per packet, want 0", a)
	}
	var ls *Session
	for _, tn := range lns.Tunnels() {
		lns.mu.RLock()
		for _, x := range lns.sessions {
			if x.t == tn {
				ls = x
			}
		}
		lns.mu.RUnlock()
	}
	pkt, _ := AppendHeader(nil, Header{TunnelID: ls.t.LocalID(), SessionID: ls.LocalID()}, len(payload))
	pkt = append(pkt, payload...)
	from := netip.MustParseAddrPort("127.0.0.1:1701")
	before := got.Load()
	if a := testing.AllocsPerRun(1000, func() { lns.input(pkt, from) }); a != 0 {
		t.Errorf("data input: %v allocations per packet, want 0", a)
	}
	if got.Load()-before < 1000 {
		t.Errorf("Data callback ran %d times, want >= 1000", got.Load()-before)
	}
}

func BenchmarkSendData(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(itoa(size), func(b *testing.B) {
			_, _, s, _ := udpPair(b, func(*Tunnel, *Session, Header, []byte) {}, nil)
			payload := make([]byte, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				s.Tunnel().SendData(s, payload)
			}
		})
	}
}

func BenchmarkDataInput(b *testing.B) {
	var n atomic.Int64
	_, lns, _, _ := udpPair(b, func(*Tunnel, *Session, Header, []byte) { n.Add(1) }, nil)
	var ls *Session
	lns.mu.RLock()
	for _, x := range lns.sessions {
		ls = x
	}
	lns.mu.RUnlock()
	payload := make([]byte, 1400)
	pkt, _ := AppendHeader(nil, Header{TunnelID: ls.t.LocalID(), SessionID: ls.LocalID()}, len(payload))
	pkt = append(pkt, payload...)
	from := netip.MustParseAddrPort("127.0.0.1:1701")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		lns.input(pkt, from)
	}
}

// BenchmarkCallSetup measures incoming calls brought up (ICRQ, ICRP, ICCN
// and their acknowledgements) per second on one tunnel over loopback UDP,
// with the receive window the LNS and LAC announce.
func BenchmarkCallSetup(b *testing.B) {
	for _, win := range []uint16{4, 64} {
		b.Run("window-"+itoa(int(win)), func(b *testing.B) {
			lc, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			nc, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			lacRec, lnsRec := newRecorder("lac"), newRecorder("lns")
			opts := TunnelOptions{RecvWindow: win, RetransmitInitial: 200 * time.Millisecond}
			lac, _ := NewEndpoint(lc, Config{HostName: "lac", Handler: lacRec, InboxSize: 4096})
			lns, _ := NewEndpoint(nc, Config{HostName: "lns", Handler: lnsRec, InboxSize: 4096, Accept: acceptAll(opts)})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{}, 2)
			for _, e := range []*Endpoint{lac, lns} {
				go func() { e.Run(ctx); done <- struct{}{} }()
			}
			defer func() { cancel(); <-done; <-done; lc.Close(); nc.Close() }()
			for !lac.running.Load() || !lns.running.Load() {
				time.Sleep(time.Millisecond)
			}
			tn, err := lac.Dial(ctx, nc.LocalAddr().(*net.UDPAddr).AddrPort(), opts)
			if err != nil {
				b.Fatal(err)
			}
			// Calls are placed in batches and hung up between batches (off
			// the clock): a tunnel has 65,535 Session IDs (RFC 2661 section
			// 3.1), and a benchmark that only adds calls runs out of them.
			const batch = 4096
			var open []*Session
			placed := 0
			var timed time.Duration
			waitCalls := func(what string, up, down int32) {
				deadline := time.Now().Add(60 * time.Second)
				for lnsRec.sessionsUp.Load() != up || lacRec.sessionsUp.Load() != up ||
					lnsRec.sessionsDown.Load() != down || lacRec.sessionsDown.Load() != down {
					if time.Now().After(deadline) {
						b.Fatalf("%s: LNS %d up %d down, LAC %d up %d down; want %d up %d down", what,
							lnsRec.sessionsUp.Load(), lnsRec.sessionsDown.Load(),
							lacRec.sessionsUp.Load(), lacRec.sessionsDown.Load(), up, down)
					}
					time.Sleep(100 * time.Microsecond)
				}
			}
			settle := func(start time.Time) {
				waitCalls("set-up", int32(placed), int32(placed-len(open)))
				timed += time.Since(start)
				b.StopTimer()
				for _, s := range open {
					s.Disconnect(ResultCode{Result: uint16(CDNAdmin)})
				}
				open = open[:0]
				waitCalls("hang-up", int32(placed), int32(placed))
				b.StartTimer()
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				s, err := tn.PlaceCall(CallRequest{})
				if err != nil {
					b.Fatal(err)
				}
				open = append(open, s)
				placed++
				if len(open) == batch {
					settle(start)
					start = time.Now()
				}
			}
			settle(start)
			b.ReportMetric(float64(placed)/timed.Seconds(), "calls/s")
		})
	}
}

// TestSessionIDSpace: a tunnel can hold 65535 sessions (section 4.4.4:
// IDs are 16 bits, 0 reserved), each with its own ID.
func TestSessionIDSpace(t *testing.T) {
	e, _ := NewEndpoint(&captureConn{}, Config{HostName: "x"})
	tn, err := e.newTunnel(lnsAddr, TunnelOptions{}, false)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint32]bool, 65535)
	for i := range 65535 {
		s := &Session{t: tn}
		if err := e.addSession(tn, s); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if s.localID == 0 || seen[s.localID] {
			t.Fatalf("session %d got ID %d twice or zero", i, s.localID)
		}
		seen[s.localID] = true
	}
	if err := e.addSession(tn, &Session{t: tn}); err != ErrTooManySessions {
		t.Fatalf("session 65536: %v, want ErrTooManySessions", err)
	}
}

// BenchmarkDataLoopback sends data messages from the LAC endpoint to the
// LNS endpoint over loopback UDP (batched reads on the LNS) and reports
// the packets per second that reached the LNS's Data callback.
func BenchmarkDataLoopback(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(itoa(size), func(b *testing.B) {
			var got atomic.Int64
			_, _, s, _ := udpPair(b, func(*Tunnel, *Session, Header, []byte) { got.Add(1) }, nil)
			payload := make([]byte, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			start := time.Now()
			n := 0
			for b.Loop() {
				s.Tunnel().SendData(s, payload)
				n++
			}
			time.Sleep(20 * time.Millisecond) // let the reader drain
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(got.Load())/el, "delivered-pps")
			b.ReportMetric(100*float64(got.Load())/float64(n), "delivered-%")
		})
	}
}

// BenchmarkSessionMemory reports the heap the control engine keeps per
// established session (both ends' Session, the ICRQ/ICCN kept, the map
// entries), for 5000 sessions on one tunnel over loopback UDP.
func BenchmarkSessionMemory(b *testing.B) {
	const n = 5000
	for b.Loop() {
		lc, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		nc, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		lacRec, lnsRec := newRecorder("lac"), newRecorder("lns")
		opts := TunnelOptions{RecvWindow: 64, RetransmitInitial: 200 * time.Millisecond}
		lac, _ := NewEndpoint(lc, Config{HostName: "lac", Handler: lacRec, InboxSize: 4096})
		lns, _ := NewEndpoint(nc, Config{HostName: "lns", Handler: lnsRec, InboxSize: 4096, Accept: acceptAll(opts)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}, 2)
		for _, e := range []*Endpoint{lac, lns} {
			go func() { e.Run(ctx); done <- struct{}{} }()
		}
		for !lac.running.Load() || !lns.running.Load() {
			time.Sleep(time.Millisecond)
		}
		tn, err := lac.Dial(ctx, nc.LocalAddr().(*net.UDPAddr).AddrPort(), opts)
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			tn.PlaceCall(CallRequest{ICRQ: []AVP{NewAVPString(AVPCallingNumber, "00:11:22:33:44:"+itoa(i%100))}})
		}
		for lnsRec.sessionsUp.Load() != n || lacRec.sessionsUp.Load() != n {
			time.Sleep(time.Millisecond)
		}
		// The recorders keep a map entry per session; count them out.
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n/2, "B/session-end")
		cancel()
		<-done
		<-done
		lc.Close()
		nc.Close()
	}
}
