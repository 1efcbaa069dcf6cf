package metrics

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteGolden(t *testing.T) {
	r := New()
	setups := r.NewCounter(SessionSetups, "Session set-ups by result.", "result")
	setups.With("ok").Add(3)
	setups.With("auth_rejected").Inc()
	setups.With("ok").Add(-5) // ignored: counters never go down

	var drops atomic.Uint64 // as another package's Stats would hold it
	drops.Store(7)
	r.CounterFunc(DataplaneDrops, "Dropped packets by reason.", Labels{"reason": "no_session"}, func() float64 { return float64(drops.Load()) })
	r.CounterFunc(DataplaneDrops, "Dropped packets by reason.", Labels{"reason": "malformed"}, func() float64 { return 2 })

	r.GaugeVecFunc(Sessions, "Sessions by state.", []string{"state"}, func(emit func(float64, ...string)) {
		emit(10, "up")
		emit(2, "auth")
	})
	r.GaugeFunc(SpoolBytes, "Bytes in the spool.", nil, func() float64 { return 0 })

	lat := r.NewHistogram(RadiusLatency, "RADIUS round trip.", []float64{0.01, 0.1, 1}, "type")
	lat.With("access").ObserveDuration(5 * time.Millisecond)
	lat.With("access").Observe(0.1) // on a bound: counted in that bucket (le)
	lat.With("access").Observe(3)

	weird := r.NewGauge("bras_test_escape", "Help with \\ and\nnewline.", "iface")
	weird.With("eth\"0\"\n").Set(math.Inf(1))

	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP bras_dataplane_drops_total Dropped packets by reason.
# TYPE bras_dataplane_drops_total counter
bras_dataplane_drops_total{reason="malformed"} 2
bras_dataplane_drops_total{reason="no_session"} 7
# HELP bras_radius_latency_seconds RADIUS round trip.
# TYPE bras_radius_latency_seconds histogram
bras_radius_latency_seconds_bucket{type="access",le="0.01"} 1
bras_radius_latency_seconds_bucket{type="access",le="0.1"} 2
bras_radius_latency_seconds_bucket{type="access",le="1"} 2
bras_radius_latency_seconds_bucket{type="access",le="+Inf"} 3
bras_radius_latency_seconds_sum{type="access"} 3.105
bras_radius_latency_seconds_count{type="access"} 3
# HELP bras_session_setups_total Session set-ups by result.
# TYPE bras_session_setups_total counter
bras_session_setups_total{result="auth_rejected"} 1
bras_session_setups_total{result="ok"} 3
# HELP bras_sessions Sessions by state.
# TYPE bras_sessions gauge
bras_sessions{state="auth"} 2
bras_sessions{state="up"} 10
# HELP bras_spool_bytes Bytes in the spool.
# TYPE bras_spool_bytes gauge
bras_spool_bytes 0
# HELP bras_test_escape Help with \\ and\nnewline.
# TYPE bras_test_escape gauge
bras_test_escape{iface="eth\"0\"\n"} +Inf
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}

	// CounterFunc reads the other package's counter at each scrape.
	drops.Add(1)
	b.Reset()
	_ = r.Write(&b)
	if !strings.Contains(b.String(), `bras_dataplane_drops_total{reason="no_session"} 8`) {
		t.Errorf("CounterFunc not re-read at scrape:\n%s", b.String())
	}
}

func TestSamples(t *testing.T) {
	r := New()
	r.NewCounter(SessionTeardowns, "h", "cause").With("admin-reset").Inc()
	r.GaugeFunc(L2TPTunnels, "h", nil, func() float64 { return 4 })
	r.NewHistogram(RadiusLatency, "h", nil, "type").With("acct").Observe(0.5)
	want := []Sample{
		{Name: L2TPTunnels, Value: 4},
		{Name: RadiusLatency + "_count", Labels: map[string]string{"type": "acct"}, Value: 1},
		{Name: RadiusLatency + "_sum", Labels: map[string]string{"type": "acct"}, Value: 0.5},
		{Name: SessionTeardowns, Labels: map[string]string{"cause": "admin-reset"}, Value: 1},
	}
	if diff := cmp.Diff(want, r.Samples()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestHandler(t *testing.T) {
	r := New()
	r.RegisterRuntime()
	r.NewCounter(RadiusTimeouts, "RADIUS requests without an answer.", "type").With("access").Inc()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b := string(body)
	if got := resp.Header.Get("Content-Type"); got != ContentType {
		t.Errorf("Content-Type = %q", got)
	}
	for _, s := range []string{`bras_radius_timeouts_total{type="access"} 1`, "# TYPE go_goroutines gauge", "go_memstats_heap_inuse_bytes "} {
		if !strings.Contains(b, s) {
			t.Errorf("/metrics lacks %q:\n%s", s, b)
		}
	}
	resp2, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: status %d, want 405", resp2.StatusCode)
	}
}

func TestRegistrationMistakesPanic(t *testing.T) {
	tests := []struct {
		name string
		fn   func(r *Registry)
	}{
		{"bad metric name", func(r *Registry) { r.NewCounter("bras-bad", "h") }},
		{"bad label name", func(r *Registry) { r.NewCounter("bras_x", "h", "a-b") }},
		{"reserved label", func(r *Registry) { r.NewCounter("bras_x", "h", "__name") }},
		{"le on histogram", func(r *Registry) { r.NewHistogram("bras_x", "h", nil, "le") }},
		{"unsorted buckets", func(r *Registry) { r.NewHistogram("bras_x", "h", []float64{2, 1}) }},
		{"repeated bucket", func(r *Registry) { r.NewHistogram("bras_x", "h", []float64{1, 1, 2}) }},
		{"empty buckets", func(r *Registry) { r.NewHistogram("bras_x", "h", []float64{}) }},
		{"type conflict", func(r *Registry) { r.NewCounter("bras_x", "h"); r.NewGauge("bras_x", "h") }},
		{"func type conflict", func(r *Registry) {
			r.CounterFunc("bras_x", "h", nil, func() float64 { return 0 })
			r.GaugeVecFunc("bras_x", "h", nil, func(func(float64, ...string)) {})
		}},
		{"help conflict", func(r *Registry) { r.NewCounter("bras_x", "h"); r.NewCounter("bras_x", "other") }},
		{"bucket conflict", func(r *Registry) {
			r.NewHistogram("bras_x", "h", []float64{1})
			r.NewHistogram("bras_x", "h", []float64{2})
		}},
		{"label conflict", func(r *Registry) { r.NewCounter("bras_x", "h", "a"); r.NewCounter("bras_x", "h", "b") }},
		{"duplicate label", func(r *Registry) { r.NewCounter("bras_x", "h", "a", "a") }},
		{"name of the runtime collector", func(r *Registry) {
			r.RegisterRuntime()
			r.GaugeFunc(GoGoroutines, "h", nil, func() float64 { return 0 })
		}},
		{"runtime twice", func(r *Registry) { r.RegisterRuntime(); r.RegisterRuntime() }},
		{"duplicate func series", func(r *Registry) {
			r.CounterFunc("bras_x", "h", Labels{"a": "1"}, func() float64 { return 0 })
			r.CounterFunc("bras_x", "h", Labels{"a": "1"}, func() float64 { return 0 })
		}},
		{"wrong label count", func(r *Registry) { r.NewCounter("bras_x", "h", "a").With("1", "2") }},
		{"wrong gauge label count", func(r *Registry) { r.NewGauge("bras_x", "h", "a").With() }},
		{"wrong histogram label count", func(r *Registry) { r.NewHistogram("bras_x", "h", nil).With("1") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.fn(New())
		})
	}
	// The same family registered again with the same shape is shared.
	r := New()
	r.NewCounter("bras_x", "h", "a").With("1").Inc()
	if got := r.NewCounter("bras_x", "h", "a").With("1").Value(); got != 1 {
		t.Errorf("re-registered counter = %v, want the shared 1", got)
	}
}

func TestConcurrentUpdates(t *testing.T) {
	r := New()
	c := r.NewCounter(SessionSetups, "h", "result")
	h := r.NewHistogram(RadiusLatency, "h", nil, "type")
	g := r.NewGauge(L2TPTunnels, "h")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				c.With("ok").Inc()
				h.With("access").Observe(0.01)
				g.With().Inc()
				if j%100 == 0 {
					_ = r.Write(&strings.Builder{})
				}
			}
		}()
	}
	wg.Wait()
	if got := c.With("ok").Value(); got != 4000 {
		t.Errorf("counter = %v, want 4000", got)
	}
	if got := h.With("access").Count(); got != 4000 {
		t.Errorf("histogram count = %v, want 4000", got)
	}
	if got := g.With().Value(); got != 4000 {
		t.Errorf("gauge = %v, want 4000", got)
	}
}

func TestUpdatesDoNotAllocate(t *testing.T) {
	r := New()
	c := r.NewCounter(SessionSetups, "h", "result").With("ok")
	h := r.NewHistogram(RadiusLatency, "h", nil, "type").With("access")
	if n := testing.AllocsPerRun(100, func() { c.Inc(); h.Observe(0.02) }); n != 0 {
		t.Errorf("Inc+Observe allocate %v times", n)
	}
}
