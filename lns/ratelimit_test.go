package lns

import (
	"sync"
	"testing"
	"time"
)

// TestBucketDeterministic drives a bucket with an injected clock: a full
// bucket passes exactly its burst back to back, then packets pass at the
// configured rate and no faster.
func TestBucketDeterministic(t *testing.T) {
	tests := []struct {
		name      string
		rate      Rate
		pkt       int
		wantBurst int // packets passed at t=0
	}{
		// 1000 kbit/s = 125000 octets/s; burst 10000 octets = 10 packets of 1000.
		{"1 Mbit/s, 10 kB burst, 1000 B packets", Rate{Kbps: 1000, Burst: 10000}, 1000, 10},
		// 8000 kbit/s = 1 MB/s; burst raised to MinBurst (1600): one 1500 B packet.
		{"8 Mbit/s, burst below MinBurst", Rate{Kbps: 8000, Burst: 100}, 1500, 1},
		// Default burst: 100 ms of 80 Mbit/s = 1,000,000 octets = 15625 packets of 64.
		{"80 Mbit/s, default burst, 64 B packets", Rate{Kbps: 80000}, 64, 15625},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewTokenBucket(tt.rate)
			const start = int64(time.Hour) // an arbitrary point on the clock
			passed := 0
			for b.Allow(start, tt.pkt) {
				passed++
			}
			if passed != tt.wantBurst {
				t.Errorf("burst at t=0 passed %d packets, want %d", passed, tt.wantBurst)
			}
			// Over the next 10 s, offer a packet every µs (more than any
			// rate here): the octets
			// passed are the rate times 10 s (± one packet).
			octetsPerSec := int64(tt.rate.Kbps) * 1000 / 8
			var got int64
			for now := start; now < start+int64(10*time.Second); now += int64(time.Microsecond) {
				if b.Allow(now, tt.pkt) {
					got += int64(tt.pkt)
				}
			}
			want := octetsPerSec * 10
			if diff := got - want; diff < -int64(tt.pkt) || diff > int64(tt.pkt) {
				t.Errorf("10 s at %d kbit/s passed %d octets, want %d ± %d", tt.rate.Kbps, got, want, tt.pkt)
			}
		})
	}
}

// TestBucketRefill checks that an idle bucket refills to its burst and no
// further: idling for a minute does not bank a minute of traffic.
func TestBucketRefill(t *testing.T) {
	b := NewTokenBucket(Rate{Kbps: 800, Burst: 5000}) // 100 octets per ms
	now := int64(time.Second)
	for b.Allow(now, 100) {
	}
	if b.Allow(now+int64(500*time.Microsecond), 100) {
		t.Error("a 100-octet packet passed 0.5 ms after draining at 100 octets/ms")
	}
	if !b.Allow(now+int64(time.Millisecond), 100) {
		t.Error("a 100-octet packet did not pass 1 ms after draining at 100 octets/ms")
	}
	now += int64(time.Minute)
	passed := 0
	for b.Allow(now, 100) {
		passed++
	}
	if passed != 50 {
		t.Errorf("after a minute idle %d packets of 100 passed, want the 5000-octet burst (50)", passed)
	}
}

func TestBucketNilIsUnlimited(t *testing.T) {
	if b := NewTokenBucket(Rate{}); b != nil {
		t.Fatalf("NewTokenBucket(0 kbit/s) = %v, want nil (no limit)", b)
	}
	var b *TokenBucket
	if !b.Allow(0, 65535) {
		t.Error("a nil bucket refused a packet")
	}
}

// TestBucketConcurrent charges one bucket from several goroutines at a frozen
// instant: exactly the burst passes, whatever the interleaving (the CAS never
// lets two chargers spend the same tokens).
func TestBucketConcurrent(t *testing.T) {
	b := NewTokenBucket(Rate{Kbps: 1000, Burst: 100000}) // 1000 packets of 100
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := 0; i < 1000; i++ {
				if b.Allow(int64(time.Second), 100) {
					n++
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 1000 {
		t.Errorf("8 goroutines passed %d packets of 100 through a 100000-octet burst, want 1000", total)
	}
}

func TestBucketAllocs(t *testing.T) {
	b := NewTokenBucket(Rate{Kbps: 1000})
	now := int64(0)
	if avg := testing.AllocsPerRun(100, func() { now += 1000; b.Allow(now, 64) }); avg != 0 {
		t.Errorf("Allow allocates %.1f times, want 0", avg)
	}
}
