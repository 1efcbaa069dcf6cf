package l2tp

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func testChannel() *channel {
	return newChannel(channelConfig{
		RecvWindow: 4, PeerWindow: 4,
		RTOInitial: time.Second, RTOCap: 8 * time.Second,
		MaxRetries: 5, AckDelay: 100 * time.Millisecond,
	}, new(Stats))
}

func msg(s string) []byte { return []byte(s) }

// seqs summarises the output: Ns/Nr and payload or "ZLB".
type tx struct {
	Ns, Nr uint16
	What   string
	Re     bool
}

func outs(c *channel) []tx {
	var r []tx
	for _, o := range c.takeOutput() {
		w := "ZLB"
		if o.Payload != nil {
			w = string(o.Payload)
		}
		r = append(r, tx{o.Ns, o.Nr, w, o.Retransmit})
	}
	return r
}

func TestChannelAckStopsRetransmission(t *testing.T) {
	c := testChannel()
	c.send(msg("SCCRQ"), at(0))
	if diff := cmp.Diff([]tx{{0, 0, "SCCRQ", false}}, outs(c)); diff != "" {
		t.Fatalf("first send (-want +got):\n%s", diff)
	}
	if got := c.nextDeadline(); !got.Equal(at(time.Second)) {
		t.Fatalf("retransmission armed for %v, want 1 s", got.Sub(t0))
	}
	// The peer's SCCRP acknowledges (Nr 1) and carries Ns 0.
	d := c.receive(0, 1, msg("SCCRP"), at(300*time.Millisecond))
	if len(d) != 1 || string(d[0]) != "SCCRP" {
		t.Fatalf("delivered %q, want SCCRP", d)
	}
	if c.outstanding() != 0 {
		t.Fatalf("outstanding = %d after ack, want 0", c.outstanding())
	}
	// Only the delayed ack remains armed.
	if got := c.nextDeadline(); !got.Equal(at(400 * time.Millisecond)) {
		t.Fatalf("next deadline %v, want the ZLB delay at 400 ms", got.Sub(t0))
	}
	if err := c.tick(at(400 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]tx{{1, 1, "ZLB", false}}, outs(c)); diff != "" {
		t.Fatalf("delayed ack (-want +got):\n%s", diff)
	}
	if !c.nextDeadline().IsZero() {
		t.Fatalf("a timer is still armed: %v", c.nextDeadline())
	}
}

func TestChannelAckPiggybacks(t *testing.T) {
	c := testChannel()
	c.receive(0, 0, msg("SCCRQ"), at(0))
	c.send(msg("SCCRP"), at(10*time.Millisecond))
	if err := c.tick(at(time.Second / 2)); err != nil {
		t.Fatal(err)
	}
	// No ZLB: the reply carried Nr 1.
	if diff := cmp.Diff([]tx{{0, 1, "SCCRP", false}}, outs(c)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestChannelBackoffAndGiveUp(t *testing.T) {
	c := testChannel()
	c.send(msg("HELLO"), at(0))
	outs(c)
	// Section 5.8: 1, 2, 4, 8 s then capped at 8 s; 5 retries, then clear.
	wantAt := []time.Duration{1, 3, 7, 15, 23}
	for i, w := range wantAt {
		dl := c.nextDeadline()
		if !dl.Equal(at(w * time.Second)) {
			t.Fatalf("retry %d due at %v, want %v", i+1, dl.Sub(t0), w*time.Second)
		}
		// A tick just before the deadline does nothing.
		if err := c.tick(dl.Add(-time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if o := outs(c); len(o) != 0 {
			t.Fatalf("early tick sent %v", o)
		}
		if err := c.tick(dl); err != nil {
			t.Fatalf("retry %d: %v", i+1, err)
		}
		if diff := cmp.Diff([]tx{{0, 0, "HELLO", true}}, outs(c)); diff != "" {
			t.Fatalf("retry %d (-want +got):\n%s", i+1, diff)
		}
	}
	if dl := c.nextDeadline(); !dl.Equal(at(31 * time.Second)) {
		t.Fatalf("give-up due at %v, want 31 s", dl.Sub(t0))
	}
	if err := c.tick(at(31 * time.Second)); !errors.Is(err, errRetransmit) {
		t.Fatalf("after the budget: err %v, want errRetransmit", err)
	}
	if got := c.stats.Retransmits.Load(); got != 5 {
		t.Errorf("Retransmits = %d, want 5", got)
	}
	if got := c.cycle(); got != 31*time.Second {
		t.Errorf("cycle() = %v, want 31 s", got)
	}
}

func TestChannelRetransmitCarriesCurrentNr(t *testing.T) {
	c := testChannel()
	c.send(msg("ICRQ"), at(0))
	outs(c)
	c.receive(0, 0, msg("HELLO"), at(950*time.Millisecond)) // Nr 0 acks nothing
	c.tick(at(time.Second))
	// Section 5.8: "the Nr value MUST be updated"; the retransmission also
	// carries the ack owed, so no separate ZLB.
	if diff := cmp.Diff([]tx{{0, 1, "ICRQ", true}}, outs(c)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestChannelSlowStartAndWindow(t *testing.T) {
	c := testChannel()
	for _, m := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		c.send(msg(m), at(0))
	}
	// Appendix A: CWND starts at 1.
	if diff := cmp.Diff([]tx{{0, 0, "a", false}}, outs(c)); diff != "" {
		t.Fatalf("cwnd 1 (-want +got):\n%s", diff)
	}
	c.receive(0, 1, nil, at(10*time.Millisecond)) // ZLB acks a: cwnd 2
	if diff := cmp.Diff([]tx{{1, 0, "b", false}, {2, 0, "c", false}}, outs(c)); diff != "" {
		t.Fatalf("cwnd 2 (-want +got):\n%s", diff)
	}
	c.receive(0, 3, nil, at(20*time.Millisecond)) // acks b, c: cwnd 4 = peer window
	if diff := cmp.Diff([]tx{{3, 0, "d", false}, {4, 0, "e", false}, {5, 0, "f", false}, {6, 0, "g", false}}, outs(c)); diff != "" {
		t.Fatalf("cwnd 4 (-want +got):\n%s", diff)
	}
	if c.cwnd != 4 {
		t.Fatalf("cwnd = %d, want 4 (capped by the peer's window)", c.cwnd)
	}
	// A timeout halves: SSTHRESH 2, CWND 1; what is on the wire goes again.
	c.tick(at(20*time.Millisecond + time.Second))
	if got := len(outs(c)); got != 4 {
		t.Fatalf("retransmitted %d, want the 4 outstanding", got)
	}
	if c.cwnd != 1 || c.ssthresh != 2 {
		t.Fatalf("after timeout cwnd=%d ssthresh=%d, want 1 and 2", c.cwnd, c.ssthresh)
	}
	// All four acked: slow start to 2, then congestion avoidance (+1 per cwnd acks).
	c.receive(0, 7, nil, at(2*time.Second))
	if c.cwnd != 3 {
		t.Fatalf("cwnd = %d after 4 acks from 1 with ssthresh 2, want 3", c.cwnd)
	}
	if diff := cmp.Diff([]tx{{7, 0, "h", false}}, outs(c)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestChannelPeerWindowOne(t *testing.T) {
	c := testChannel()
	c.setPeerWindow(1)
	c.cwnd = 1
	c.send(msg("a"), at(0))
	c.send(msg("b"), at(0))
	if got := len(outs(c)); got != 1 {
		t.Fatalf("peer window 1: %d on the wire, want 1", got)
	}
	c.receive(0, 1, nil, at(time.Millisecond))
	c.receive(0, 1, nil, at(2*time.Millisecond))
	if diff := cmp.Diff([]tx{{1, 0, "b", false}}, outs(c)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if c.cwnd != 1 {
		t.Fatalf("cwnd %d exceeds the peer's window 1", c.cwnd)
	}
}

func TestChannelReceiveOrdering(t *testing.T) {
	tests := []struct {
		name    string
		in      []uint16 // Ns of arriving messages
		want    []string // delivered, in order
		zlbs    int      // immediate ZLBs (duplicates; half the window unacknowledged)
		dup     uint64
		ooo     uint64
		outside uint64
	}{
		// With a receive window of 4, two unacknowledged messages are
		// acknowledged at once rather than after the delay.
		{"in order", []uint16{0, 1, 2}, []string{"m0", "m1", "m2"}, 1, 0, 0, 0},
		{"reordered within window", []uint16{2, 1, 0, 3}, []string{"m0", "m1", "m2", "m3"}, 1, 0, 2, 0},
		{"duplicate re-acked", []uint16{0, 0, 1, 0}, []string{"m0", "m1"}, 2, 2, 0, 0},
		{"ahead twice is queued once", []uint16{1, 1, 0}, []string{"m0", "m1"}, 1, 0, 1, 0},
		// 4 and 1000 are ahead beyond the window of 4: dropped. 40000 lies
		// in the 32767 values before Nr, so section 5.8 makes it an old
		// duplicate: re-acknowledged, not delivered.
		{"Ns far outside the window", []uint16{4, 1000, 40000, 0}, []string{"m0"}, 1, 1, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testChannel()
			var got []string
			zlbs := 0
			for _, ns := range tt.in {
				p := msg("m" + string(rune('0'+ns%10)))
				if ns >= 10 {
					p = msg("far")
				}
				for _, d := range c.receive(ns, 0, p, at(0)) {
					got = append(got, string(d))
				}
				for _, o := range c.takeOutput() {
					if o.Payload == nil {
						zlbs++
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
			if zlbs != tt.zlbs {
				t.Errorf("immediate ZLBs = %d, want %d", zlbs, tt.zlbs)
			}
			s := c.stats
			if s.Duplicates.Load() != tt.dup || s.OutOfOrder.Load() != tt.ooo || s.OutsideWindow.Load() != tt.outside {
				t.Errorf("dup/ooo/outside = %d/%d/%d, want %d/%d/%d", s.Duplicates.Load(), s.OutOfOrder.Load(), s.OutsideWindow.Load(), tt.dup, tt.ooo, tt.outside)
			}
		})
	}
}

func TestChannelWrapAround(t *testing.T) {
	c := testChannel()
	c.ns, c.nr = 65534, 65535
	c.setPeerWindow(4)
	c.cwnd = 4
	for _, m := range []string{"a", "b", "c"} {
		c.send(msg(m), at(0))
	}
	if diff := cmp.Diff([]tx{{65534, 65535, "a", false}, {65535, 65535, "b", false}, {0, 65535, "c", false}}, outs(c)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	// The peer's message 0 arrives before 65535: queued, then both delivered.
	if d := c.receive(0, 0, msg("y"), at(0)); len(d) != 0 {
		t.Fatalf("delivered %q ahead of the gap", d)
	}
	d := c.receive(65535, 0, msg("x"), at(0))
	if len(d) != 2 || string(d[0]) != "x" || string(d[1]) != "y" {
		t.Fatalf("delivered %q, want x, y", d)
	}
	if c.nr != 1 || c.outstanding() != 1 {
		t.Fatalf("nr=%d outstanding=%d, want 1 and 1 (Nr 0 acked two across the wrap)", c.nr, c.outstanding())
	}
	// An Nr acknowledging a message never sent is ignored and counted.
	c.receive(0, 5, nil, at(0))
	if c.outstanding() != 1 || c.stats.BadAck.Load() != 1 {
		t.Fatalf("bogus Nr: outstanding=%d badack=%d", c.outstanding(), c.stats.BadAck.Load())
	}
}

func TestChannelAckAtOnceWhenRepliesWait(t *testing.T) {
	c := testChannel()
	c.send(msg("a"), at(0)) // cwnd 1: "b" waits for the window
	c.send(msg("b"), at(0))
	outs(c)
	c.receive(0, 0, msg("x"), at(time.Millisecond))
	// "b" cannot carry the ack soon, so the ZLB goes now, not in 100 ms.
	if diff := cmp.Diff([]tx{{2, 1, "ZLB", false}}, outs(c)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
