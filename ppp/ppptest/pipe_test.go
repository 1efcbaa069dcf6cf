package ppptest

import (
	"testing"
	"time"
)

func TestPipe(t *testing.T) {
	t0 := time.Unix(0, 0)
	for _, tc := range []struct {
		name             string
		loss, dup        float64
		minD, maxD       time.Duration
		wantMin, wantMax int // frames delivered of 1000
		wantReordered    bool
	}{
		{"perfect", 0, 0, time.Millisecond, time.Millisecond, 1000, 1000, false},
		{"20% loss", 0.2, 0, time.Millisecond, time.Millisecond, 750, 850, false},
		{"10% duplicates", 0, 0.1, time.Millisecond, time.Millisecond, 1060, 1140, false},
		{"jitter reorders", 0, 0, time.Millisecond, 50 * time.Millisecond, 1000, 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPipe(1)
			p.Loss, p.Dup, p.MinDelay, p.MaxDelay = tc.loss, tc.dup, tc.minD, tc.maxD
			p.SetNow(t0)
			e := p.End(0)
			for i := 0; i < 1000; i++ {
				e.Send([]byte{byte(i >> 8), byte(i)})
			}
			var got []int
			p.Deliver(t0.Add(time.Second), func(to int, f []byte) {
				if to != 1 {
					t.Fatalf("frame from end 0 delivered to %d", to)
				}
				got = append(got, int(f[0])<<8|int(f[1]))
			})
			if len(got) < tc.wantMin || len(got) > tc.wantMax {
				t.Errorf("delivered %d, want %d-%d", len(got), tc.wantMin, tc.wantMax)
			}
			reordered := false
			for i := 1; i < len(got); i++ {
				reordered = reordered || got[i] < got[i-1]
			}
			if reordered != tc.wantReordered {
				t.Errorf("reordered = %v, want %v", reordered, tc.wantReordered)
			}
			if p.Pending() != 0 {
				t.Errorf("%d frames still pending", p.Pending())
			}
		})
	}
}
