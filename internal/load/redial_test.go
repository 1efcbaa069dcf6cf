package load_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/bras-project/bras/internal/load"
	"github.com/bras-project/bras/internal/load/loadtest"
	"github.com/bras-project/bras/pppoe"
)

// TestNetnsRedialAfterPADT: with Redial, a session the AC ends with a
// PADT dials again after its delay and comes up again; the report counts
// the drop by reason, the attempt and the reconnect, keeps the first
// set-ups' latencies, and the run's Up stays the first set-ups'.
func TestNetnsRedialAfterPADT(t *testing.T) {
	l := newLab(t, loadtest.Config{})
	base := net.HardwareAddr{0x02, 0x11, 0, 0, 0, 0}
	ld := l.start(t, context.Background(), load.Config{Sessions: 4, UserPattern: "u%d", PasswordPattern: labPassword, Auth: load.AuthCHAP,
		MACBase: base, Redial: true, RedialDelay: 200 * time.Millisecond})
	waitSetup(t, ld, 30*time.Second)
	for _, i := range []byte{0, 2} {
		if !l.ac.CloseMAC(pppoe.MAC{0x02, 0x11, 0, 0, 0, i}) {
			t.Fatalf("AC has no session for subscriber %d", i)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := ld.Stats(); (st.Reconnected != 2 || st.Up != 4) && time.Now().Before(deadline); st = ld.Stats() {
		time.Sleep(20 * time.Millisecond)
	}
	if st := ld.Stats(); st.Reconnected != 2 || st.Up != 4 || st.Dropped != 2 || st.Redialing != 0 {
		t.Fatalf("after 2 PADTs: %v, want both reconnected and 4 up", st)
	}
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	rep := ld.Report()
	rc := rep.Reconnect
	if rc == nil {
		t.Fatal("no reconnect report")
	}
	if rc.Reconnected != 2 || rc.Waiting != 0 || rc.Drops["padt"] != 2 || rc.Attempts != 2 || len(rc.Failures) != 0 || rc.Setup.Count != 2 {
		t.Errorf("reconnect report %+v", rc)
	}
	if rep.Up != 4 || rep.Stages.Total.Count != 4 || rep.Failed != 0 {
		t.Errorf("first set-ups: up %d, %d latencies, %d failed; want 4, 4, 0", rep.Up, rep.Stages.Total.Count, rep.Failed)
	}
	// No carrier change: the reconnection is timed from the first
	// attempt.
	if rc.LinkUpAt != 0 || rep.CarrierLosses != 0 || rc.Seconds <= 0 || rc.Rate <= 0 {
		t.Errorf("carrier losses %d, reconnect report %+v", rep.CarrierLosses, rc)
	}
}

// TestNetnsRedialAfterCarrierLoss: the subscribers' interface set down
// for a second takes every session down at once (reason "carrier"); the
// subscribers wait for the carrier, then dial again and are all up. The
// AC clears its side while the link is down, as the LAC does on carrier
// loss.
func TestNetnsRedialAfterCarrierLoss(t *testing.T) {
	l := newLab(t, loadtest.Config{})
	base := net.HardwareAddr{0x02, 0x12, 0, 0, 0, 0}
	const n = 6
	ld := l.start(t, context.Background(), load.Config{Sessions: n, UserPattern: "u%d", PasswordPattern: labPassword, Auth: load.AuthPAP,
		MACBase: base, Redial: true, RedialDelay: 200 * time.Millisecond})
	waitSetup(t, ld, 30*time.Second)
	if _, err := l.sub.Run("ip", "link", "set", "sub0", "down"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := ld.Stats(); st.Up != 0 && time.Now().Before(deadline); st = ld.Stats() {
		time.Sleep(20 * time.Millisecond)
	}
	if st := ld.Stats(); st.Up != 0 || st.CarrierLosses != 1 {
		t.Fatalf("link down: %v, want every session down and one carrier loss", st)
	}
	for i := range n {
		l.ac.CloseMAC(pppoe.MAC{0x02, 0x12, 0, 0, 0, byte(i)})
	}
	time.Sleep(time.Second) // the subscribers wait for the carrier
	if st := ld.Stats(); st.InFlight != 0 || st.Redialing != n {
		t.Errorf("while the link is down: %v, want all %d waiting and none dialling", st, n)
	}
	if _, err := l.sub.Run("ip", "link", "set", "sub0", "up"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for st := ld.Stats(); st.Up != n && time.Now().Before(deadline); st = ld.Stats() {
		time.Sleep(20 * time.Millisecond)
	}
	if st := ld.Stats(); st.Up != n || st.Reconnected != n {
		t.Fatalf("link up: %v, want all %d up again", st, n)
	}
	if err := ld.Stop(); err != nil {
		t.Fatal(err)
	}
	rc := ld.Report().Reconnect
	if rc == nil || rc.Reconnected != n || rc.Drops["carrier"] != n || !(0 < rc.LinkDownAt && rc.LinkDownAt < rc.LinkUpAt && rc.LinkUpAt < rc.LastUpAt) ||
		rc.Seconds <= 0 || rc.Setup.Count != n {
		t.Errorf("reconnect report %+v", rc)
	}
}
