package metrics

import (
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// prometheusAccept is the Accept header a Prometheus server sends when it
// scrapes (protobuf first, text as the fallback).
const prometheusAccept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

// fixture is a registry with every kind of series bras registers.
func fixture(t *testing.T) *Registry {
	t.Helper()
	r := New()
	setups := r.NewCounter(SessionSetups, "Session set-ups by result.", "result")
	setups.With("ok").Add(3)
	setups.With("auth_rejected").Inc()
	r.CounterFuncs(DataplaneDrops, "Dropped packets by reason.", "reason", nil)
	r.CounterFunc(DataplaneDrops, "Dropped packets by reason.", Labels{"reason": "no_session"}, func() float64 { return 7 })
	r.GaugeVecFunc(Sessions, "Sessions by state.", []string{"state"}, func(emit func(float64, ...string)) {
		emit(10, "up")
		emit(2, "auth")
	})
	r.CounterVecFunc(RadiusRequests, "RADIUS requests.", []string{"server", "type", "result"}, func(emit func(float64, ...string)) {
		emit(5, "192.0.2.1:1812", "access", "accept")
		emit(1, "192.0.2.1:1812", "access", "timeout")
	})
	r.GaugeFunc(SpoolBytes, "Bytes in the spool.", nil, func() float64 { return 42 })
	lat := r.NewHistogram(RadiusLatency, "RADIUS round trip.", []float64{0.01, 0.1, 1}, "type")
	lat.With("access").Observe(0.005)
	lat.With("access").Observe(3)
	r.NewGauge(L2TPTunnels, "Tunnels.").With().Set(2)
	r.NewGauge("bras_test_escape", "Help with \\ and\nnewline.", "iface").With("eth\"0\"\n").Set(math.Inf(-1))
	return r
}

// samplesOf flattens parsed families the way Samples does, sorted by name
// and labels, to compare what a scraper decoded with what the registry
// holds.
func samplesOf(mfs map[string]*dto.MetricFamily) []Sample {
	var out []Sample
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var lbl map[string]string
			for _, p := range m.GetLabel() {
				if lbl == nil {
					lbl = map[string]string{}
				}
				lbl[p.GetName()] = p.GetValue()
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, Sample{name, lbl, m.GetCounter().GetValue()})
			case dto.MetricType_GAUGE:
				out = append(out, Sample{name, lbl, m.GetGauge().GetValue()})
			case dto.MetricType_HISTOGRAM:
				out = append(out, Sample{name + "_count", lbl, float64(m.GetHistogram().GetSampleCount())},
					Sample{name + "_sum", lbl, m.GetHistogram().GetSampleSum()})
			}
		}
	}
	sortSamples(out)
	return out
}

func sortSamples(s []Sample) {
	key := func(x Sample) string {
		ks := make([]string, 0, len(x.Labels))
		for k, v := range x.Labels {
			ks = append(ks, k+"="+v)
		}
		sort.Strings(ks)
		return x.Name + "\xff" + strings.Join(ks, "\xff")
	}
	sort.Slice(s, func(i, j int) bool { return key(s[i]) < key(s[j]) })
}

// TestWriteParses reads Write's text back with the Prometheus text parser:
// what an operator's Prometheus stores is what the registry holds.
func TestWriteParses(t *testing.T) {
	r := fixture(t)
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("text does not parse: %v\n%s", err, b.String())
	}
	want := r.Samples()
	sortSamples(want)
	if diff := cmp.Diff(want, samplesOf(mfs), cmp.Comparer(func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) })); diff != "" {
		t.Errorf("(-Samples +parsed text)\n%s", diff)
	}
	// Spot checks of values a user reads on a dashboard.
	for _, s := range []string{
		`bras_radius_requests_total{result="accept",server="192.0.2.1:1812",type="access"} 5`,
		`bras_radius_latency_seconds_bucket{type="access",le="0.01"} 1`,
		`bras_radius_latency_seconds_bucket{type="access",le="+Inf"} 2`,
		`bras_radius_latency_seconds_sum{type="access"} 3.005`,
		`bras_spool_bytes 42`,
		`bras_l2tp_tunnels 2`,
		`bras_test_escape{iface="eth\"0\"\n"} -Inf`,
	} {
		if !strings.Contains(b.String(), s+"\n") {
			t.Errorf("text lacks %q:\n%s", s, b.String())
		}
	}
}

// TestHandlerNegotiates scrapes the handler as a Prometheus server does
// (protobuf), with gzip, and as curl does (text), and checks each decodes
// to the registry's values.
func TestHandlerNegotiates(t *testing.T) {
	r := fixture(t)
	h := r.Handler()
	// The handler registers promhttp_metric_handler_errors_total; a
	// healthy registry keeps it at zero for both causes.
	want := r.Samples()
	sortSamples(want)
	for _, cause := range []string{"encoding", "gathering"} {
		i := slices.IndexFunc(want, func(s Sample) bool {
			return s.Name == "promhttp_metric_handler_errors_total" && s.Labels["cause"] == cause
		})
		if i < 0 || want[i].Value != 0 {
			t.Errorf("promhttp_metric_handler_errors_total{cause=%q}: index %d in %v", cause, i, want)
		}
	}

	tests := []struct {
		name, accept, encoding string
		wantType               expfmt.FormatType
	}{
		{"prometheus", prometheusAccept, "", expfmt.TypeProtoDelim},
		{"prometheus gzip", prometheusAccept, "gzip", expfmt.TypeProtoDelim},
		{"curl", "*/*", "", expfmt.TypeTextPlain},
		{"text gzip", "", "gzip", expfmt.TypeTextPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			if tt.encoding != "" {
				req.Header.Set("Accept-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			format := expfmt.ResponseFormat(rec.Result().Header)
			if got := format.FormatType(); got != tt.wantType {
				t.Fatalf("format %q, want type %v", format, tt.wantType)
			}
			if tt.accept == "" && rec.Header().Get("Content-Type") != ContentType {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), ContentType)
			}
			var body io.Reader = rec.Body
			if got := rec.Header().Get("Content-Encoding"); got != tt.encoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.encoding)
			}
			if tt.encoding == "gzip" {
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			mfs := map[string]*dto.MetricFamily{}
			dec := expfmt.NewDecoder(body, format)
			for {
				var mf dto.MetricFamily
				if err := dec.Decode(&mf); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				mfs[mf.GetName()] = &mf
			}
			if diff := cmp.Diff(want, samplesOf(mfs)); diff != "" {
				t.Errorf("(-Samples +scraped)\n%s", diff)
			}
		})
	}

	head := httptest.NewRecorder()
	h.ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/metrics", nil))
	if head.Code != http.StatusOK {
		t.Errorf("HEAD /metrics: status %d", head.Code)
	}
}

// TestFaultySeries: a collector func that emits a wrong number of label
// values or a series twice must not take /metrics down: the other series
// are served, the fault is counted, and Write reports it.
func TestFaultySeries(t *testing.T) {
	r := New()
	r.GaugeVecFunc(Sessions, "Sessions by state.", []string{"state"}, func(emit func(float64, ...string)) {
		emit(3, "up")
		emit(1)             // no label value
		emit(1, "a", "b")   // one too many
		emit(4, "starting") // still served after the bad ones
	})
	c := r.NewCounter(SessionSetups, "Set-ups.", "result")
	c.With("ok").Inc()
	r.CounterFunc(SessionSetups, "Set-ups.", Labels{"result": "ok"}, func() float64 { return 9 }) // same series as the vector's
	r.GaugeFunc(SpoolBytes, "Spool.", nil, func() float64 { return 1 })

	var b strings.Builder
	if err := r.Write(&b); err == nil {
		t.Error("Write of faulty series: no error")
	}
	for _, s := range []string{`bras_sessions{state="up"} 3`, `bras_sessions{state="starting"} 4`, `bras_spool_bytes 1`} {
		if !strings.Contains(b.String(), s+"\n") {
			t.Errorf("Write lacks %q:\n%s", s, b.String())
		}
	}

	h := r.Handler()
	for i := range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("scrape %d: status %d: %s", i, rec.Code, rec.Body)
		}
		for _, s := range []string{`bras_sessions{state="up"} 3`, `bras_sessions{state="starting"} 4`, `bras_spool_bytes 1`} {
			if !strings.Contains(rec.Body.String(), s+"\n") {
				t.Errorf("scrape %d lacks %q:\n%s", i, s, rec.Body)
			}
		}
		// The error counter is read before the scrape that raises it.
		if i == 1 && !strings.Contains(rec.Body.String(), `promhttp_metric_handler_errors_total{cause="gathering"} 1`+"\n") {
			t.Errorf("second scrape does not count the first one's error:\n%s", rec.Body)
		}
	}
}

// TestSharedFamily: a vector, func series and a vector func registered
// under one name render as one family with one HELP and TYPE.
func TestSharedFamily(t *testing.T) {
	r := New()
	r.NewCounter(DataplaneDrops, "Drops.", "reason").With("queue_full").Add(2)
	r.CounterFunc(DataplaneDrops, "Drops.", Labels{"reason": "no_session"}, func() float64 { return 5 })
	r.CounterVecFunc(DataplaneDrops, "Drops.", []string{"reason"}, func(emit func(float64, ...string)) {
		emit(1, "malformed")
	})
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP bras_dataplane_drops_total Drops.
# TYPE bras_dataplane_drops_total counter
bras_dataplane_drops_total{reason="malformed"} 1
bras_dataplane_drops_total{reason="no_session"} 5
bras_dataplane_drops_total{reason="queue_full"} 2
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestRuntime: the Go and process collectors answer what an operator
// watches for leaks.
func TestRuntime(t *testing.T) {
	r := New()
	r.RegisterRuntime()
	got := map[string]float64{}
	for _, s := range r.Samples() {
		got[s.Name] = s.Value
	}
	for _, name := range []string{GoGoroutines, GoHeapBytes, "process_resident_memory_bytes", "process_open_fds"} {
		if v, ok := got[name]; !ok || !(v > 0) {
			t.Errorf("%s = %v (present %v), want > 0", name, v, ok)
		}
	}
}

func TestValues(t *testing.T) {
	r := New()
	c := r.NewCounter(SessionSetups, "h", "result").With("ok")
	c.Add(1.5)
	c.Inc()
	c.Add(-3)
	c.Add(math.NaN())
	g := r.NewGauge(SpoolBytes, "h").With()
	g.Set(10)
	g.Add(-2.5)
	g.Dec()
	g.Inc()
	g.Dec()
	h := r.NewHistogram(RadiusLatency, "h", nil).With()
	h.Observe(0.2)
	h.ObserveDuration(0)
	got := []float64{c.Value(), g.Value(), float64(h.Count())}
	if diff := cmp.Diff([]float64{2.5, 6.5, 2}, got); diff != "" {
		t.Errorf("counter, gauge, histogram count (-want +got)\n%s", diff)
	}
}
