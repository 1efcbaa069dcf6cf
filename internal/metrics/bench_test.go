package metrics

import (
	"io"
	"strconv"
	"sync/atomic"
	"testing"
)

func BenchmarkCounterInc(b *testing.B) {
	c := New().NewCounter(SessionSetups, "h", "result").With("ok")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}

// BenchmarkCounterWith is the per-call lookup of a labelled counter, as
// the API's request counter does it.
func BenchmarkCounterWith(b *testing.B) {
	v := New().NewCounter(APIRequests, "h", "code")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v.With("2xx").Inc()
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := New().NewHistogram(RadiusLatency, "h", nil, "type").With("access")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.Observe(0.003)
	}
}

// BenchmarkScrape renders a registry of the size bras has: about 200
// series from Stats counters, labelled counters and a few histograms.
func BenchmarkScrape(b *testing.B) {
	r := New()
	var ctr [150]atomic.Uint64
	for i := range ctr {
		r.CounterFunc("bras_bench_"+strconv.Itoa(i/10)+"_total", "h", Labels{"reason": strconv.Itoa(i % 10)}, Load(&ctr[i]))
	}
	cv := r.NewCounter(L2TPControlMessages, "h", "type", "direction")
	for _, m := range []string{"SCCRQ", "SCCRP", "SCCCN", "StopCCN", "HELLO", "ICRQ", "ICRP", "ICCN", "CDN", "ZLB"} {
		cv.With(m, "in").Inc()
		cv.With(m, "out").Inc()
	}
	hv := r.NewHistogram(RadiusLatency, "h", nil, "type")
	for _, t := range []string{"access", "accounting", "coa"} {
		hv.With(t).Observe(0.01)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
