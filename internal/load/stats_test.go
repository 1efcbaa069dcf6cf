package load

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd count", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of even count is the lower middle", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p90 of 1..100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p99 of ten is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"tiny p is the min", ms(5, 6), 0.001, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	// Unsorted input; Summarize sorts it.
	in := []time.Duration{40, 10, 30, 20, 100}
	for i := range in {
		in[i] *= time.Millisecond
	}
	want := Latency{Count: 5, Mean: 40, P50: 30, P90: 100, P99: 100, Max: 100}
	if diff := cmp.Diff(want, Summarize(in)); diff != "" {
		t.Errorf("Summarize (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Latency{}, Summarize(nil)); diff != "" {
		t.Errorf("Summarize(nil) (-want +got):\n%s", diff)
	}
}

func TestSeqTracker(t *testing.T) {
	type counts struct{ Received, Reordered, Duplicated uint64 }
	tests := []struct {
		name string
		seqs []uint64
		want counts
	}{
		{"in order", []uint64{1, 2, 3, 4, 5}, counts{5, 0, 0}},
		{"a gap is loss, not reordering", []uint64{1, 2, 5, 6}, counts{4, 0, 0}},
		{"swapped pair", []uint64{1, 3, 2, 4}, counts{4, 1, 0}},
		{"known permutation", []uint64{3, 1, 2, 6, 5, 4, 7}, counts{7, 4, 0}},
		{"duplicate of the newest", []uint64{1, 2, 2, 3}, counts{3, 0, 1}},
		{"duplicate of a late one", []uint64{1, 3, 2, 2, 3, 1}, counts{3, 1, 3}},
		{"drop and permutation", []uint64{2, 4, 1, 7, 5, 10, 9}, counts{7, 3, 0}},
		// Beyond the window a late packet cannot be checked for
		// duplication: counted as received late.
		{"older than the window", []uint64{1, 2000, 5, 5}, counts{4, 2, 0}},
		{"jump clears the window", []uint64{1, 1 + seqWindow, 1 + 2*seqWindow, 2 + seqWindow}, counts{4, 1, 0}},
		{"window edge is still tracked", []uint64{10, 10 + seqWindow - 1, 10, 10}, counts{2, 0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr SeqTracker
			for _, s := range tt.seqs {
				tr.Add(s)
			}
			got := counts{tr.Received, tr.Reordered, tr.Duplicated}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("after %v (-want +got):\n%s", tt.seqs, diff)
			}
		})
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	got := h.summary()
	if got.Count != 1000 || got.Max != 1000 {
		t.Fatalf("summary %+v", got)
	}
	// Bucket upper bounds: at most 2 % above the exact value.
	for _, c := range []struct {
		name       string
		got, exact float64
	}{{"p50", got.P50, 500}, {"p90", got.P90, 900}, {"p99", got.P99, 990}, {"mean", got.Mean, 500.5}} {
		if c.got < c.exact || c.got > c.exact*1.021 {
			t.Errorf("%s = %v, want within 2 %% above %v", c.name, c.got, c.exact)
		}
	}
	var empty histogram
	if diff := cmp.Diff(Latency{}, empty.summary()); diff != "" {
		t.Errorf("empty (-want +got):\n%s", diff)
	}
}

func TestHistogramAllocs(t *testing.T) {
	var h histogram
	if n := testing.AllocsPerRun(100, func() { h.add(3 * time.Millisecond) }); n != 0 {
		t.Errorf("histogram.add allocates %v times", n)
	}
}
