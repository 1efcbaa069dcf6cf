package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Type is the type of a metric family in the Prometheus exposition format.
type Type uint8

// Metric types.
const (
	TypeCounter Type = iota + 1
	TypeGauge
	TypeHistogram
)

func (t Type) String() string {
	switch t {
	case TypeCounter:
		return "counter"
	case TypeGauge:
		return "gauge"
	case TypeHistogram:
		return "histogram"
	}
	return "untyped"
}

// valueType is the client_golang type of a func series of a family.
func (t Type) valueType() prometheus.ValueType {
	if t == TypeCounter {
		return prometheus.CounterValue
	}
	return prometheus.GaugeValue
}

// Labels are the labels of one series registered with CounterFunc or
// GaugeFunc. Keep their values to bounded sets.
type Labels map[string]string

// DefBuckets are the default histogram buckets, in seconds, from 1 ms to
// 10 s: the range of a RADIUS or PostgreSQL round trip.
var DefBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Registry holds metric families on a prometheus.Registry and renders them
// in the Prometheus text exposition format. The packages of the product
// keep their own atomic counters and expose them here with CounterFunc and
// GaugeFunc, read at scrape time; what has no counter elsewhere uses
// NewCounter, NewGauge and NewHistogram.
//
// Each metric name is one family, registered once with the
// prometheus.Registry as a collector that holds the family's vector (if
// NewCounter, NewGauge or NewHistogram made one) and its func series.
// Registering a family twice with a different type, help, label names or
// buckets, or the same func series twice, is a programming error and
// panics, as prometheus.MustRegister does; registering it again with the
// same shape returns the shared family.
type Registry struct {
	reg *prometheus.Registry

	mu       sync.Mutex
	families map[string]*family
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{reg: prometheus.NewRegistry(), families: map[string]*family{}}
}

// family is one metric name: a prometheus.Collector over an optional
// client_golang vector and the series read from funcs at scrape time.
type family struct {
	name, help string
	typ        Type
	labels     []string
	buckets    []float64
	desc       *prometheus.Desc

	mu       sync.Mutex
	counters *prometheus.CounterVec
	gauges   *prometheus.GaugeVec
	hists    *prometheus.HistogramVec
	fns      map[string]funcSeries // by label values joined with labelSep
	vecFns   []func(emit func(v float64, labelValues ...string))
}

const labelSep = "\xff"

type funcSeries struct {
	values []string
	fn     func() float64
}

// Describe implements prometheus.Collector: a family has one descriptor.
func (f *family) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

// Collect implements prometheus.Collector. The funcs run outside the
// family's lock, so a slow one delays only this scrape.
func (f *family) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	var vec prometheus.Collector
	switch {
	case f.counters != nil:
		vec = f.counters
	case f.gauges != nil:
		vec = f.gauges
	case f.hists != nil:
		vec = f.hists
	}
	fns := make([]funcSeries, 0, len(f.fns))
	for _, s := range f.fns {
		fns = append(fns, s)
	}
	vecFns := slices.Clone(f.vecFns)
	f.mu.Unlock()

	if vec != nil {
		vec.Collect(ch)
	}
	vt := f.typ.valueType()
	for _, s := range fns {
		ch <- f.constMetric(vt, s.fn(), s.values)
	}
	for _, fn := range vecFns {
		fn(func(v float64, labelValues ...string) {
			ch <- f.constMetric(vt, v, labelValues)
		})
	}
}

// constMetric is one series read at scrape time. A wrong number of label
// values is a bug in the emitting func: the series is dropped and the
// scrape reports the error (promhttp counts it in
// promhttp_metric_handler_errors_total and serves the other series).
func (f *family) constMetric(vt prometheus.ValueType, v float64, values []string) prometheus.Metric {
	if len(values) != len(f.labels) {
		return prometheus.NewInvalidMetric(f.desc, fmt.Errorf("metrics: %s: %d label values for labels %v", f.name, len(values), f.labels))
	}
	m, err := prometheus.NewConstMetric(f.desc, vt, v, values...)
	if err != nil {
		return prometheus.NewInvalidMetric(f.desc, fmt.Errorf("metrics: %s: %w", f.name, err))
	}
	return m
}

// Counter is a monotonically increasing value. It holds the client_golang
// child of its vector, so Inc and Add are a lock-free atomic update.
type Counter struct{ c prometheus.Counter }

// Inc adds one.
func (c *Counter) Inc() { c.c.Inc() }

// Add adds v; a negative v is ignored, since a counter never goes down
// (client_golang would panic).
func (c *Counter) Add(v float64) {
	if v > 0 {
		c.c.Add(v)
	}
}

// Value returns the current value.
func (c *Counter) Value() float64 {
	var m dto.Metric
	if err := c.c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// Gauge is a value that goes up and down.
type Gauge struct{ g prometheus.Gauge }

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.g.Set(v) }

// Add adds v (which may be negative).
func (g *Gauge) Add(v float64) { g.g.Add(v) }

// Inc adds one.
func (g *Gauge) Inc() { g.g.Inc() }

// Dec subtracts one.
func (g *Gauge) Dec() { g.g.Dec() }

// Value returns the current value.
func (g *Gauge) Value() float64 {
	var m dto.Metric
	if err := g.g.Write(&m); err != nil {
		return 0
	}
	return m.GetGauge().GetValue()
}

// Histogram counts observations into cumulative buckets; a value on a
// bucket's upper bound counts in that bucket (le).
type Histogram struct{ h prometheus.Histogram }

// Observe records one value.
func (h *Histogram) Observe(v float64) { h.h.Observe(v) }

// ObserveDuration records d in seconds.
func (h *Histogram) ObserveDuration(d time.Duration) { h.h.Observe(d.Seconds()) }

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	var m dto.Metric
	if err := h.h.Write(&m); err != nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

// CounterVec is a counter family with labels.
type CounterVec struct {
	f   *family
	vec *prometheus.CounterVec
}

// With returns the counter for the label values, given in the order of the
// label names, creating it at zero. It is a hash lookup in the vector: on
// a hot path, keep the *Counter it returns.
func (v *CounterVec) With(labelValues ...string) *Counter {
	v.f.checkValues(labelValues)
	return &Counter{v.vec.WithLabelValues(labelValues...)}
}

// GaugeVec is a gauge family with labels.
type GaugeVec struct {
	f   *family
	vec *prometheus.GaugeVec
}

// With returns the gauge for the label values.
func (v *GaugeVec) With(labelValues ...string) *Gauge {
	v.f.checkValues(labelValues)
	return &Gauge{v.vec.WithLabelValues(labelValues...)}
}

// HistogramVec is a histogram family with labels.
type HistogramVec struct {
	f   *family
	vec *prometheus.HistogramVec
}

// With returns the histogram for the label values.
func (v *HistogramVec) With(labelValues ...string) *Histogram {
	v.f.checkValues(labelValues)
	return &Histogram{v.vec.WithLabelValues(labelValues...).(prometheus.Histogram)}
}

func (f *family) checkValues(values []string) {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s: %d label values for labels %v", f.name, len(values), f.labels))
	}
}

// NewCounter registers a counter family with the given label names.
func (r *Registry) NewCounter(name, help string, labelNames ...string) *CounterVec {
	f := r.family(name, help, TypeCounter, labelNames, nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counters == nil {
		f.counters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, f.labels)
	}
	return &CounterVec{f, f.counters}
}

// NewGauge registers a gauge family with the given label names.
func (r *Registry) NewGauge(name, help string, labelNames ...string) *GaugeVec {
	f := r.family(name, help, TypeGauge, labelNames, nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gauges == nil {
		f.gauges = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, f.labels)
	}
	return &GaugeVec{f, f.gauges}
}

// NewHistogram registers a histogram family; nil buckets means DefBuckets.
func (r *Registry) NewHistogram(name, help string, buckets []float64, labelNames ...string) *HistogramVec {
	if buckets == nil {
		buckets = DefBuckets
	}
	if len(buckets) == 0 || !increasing(buckets) {
		panic("metrics: " + name + ": histogram buckets must be increasing and non-empty")
	}
	f := r.family(name, help, TypeHistogram, labelNames, slices.Clone(buckets))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hists == nil {
		f.hists = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: f.buckets}, f.labels)
	}
	return &HistogramVec{f, f.hists}
}

func increasing(b []float64) bool {
	for i := 1; i < len(b); i++ {
		if !(b[i-1] < b[i]) {
			return false
		}
	}
	return true
}

// CounterFunc registers one counter series whose value fn returns at scrape
// time, typically an atomic counter of another package's Stats. Several
// calls with the same name and label names but other label values add
// series to one family.
func (r *Registry) CounterFunc(name, help string, labels Labels, fn func() float64) {
	r.funcSeries(name, help, TypeCounter, labels, fn)
}

// GaugeFunc registers one gauge series whose value fn returns at scrape time.
func (r *Registry) GaugeFunc(name, help string, labels Labels, fn func() float64) {
	r.funcSeries(name, help, TypeGauge, labels, fn)
}

// GaugeVecFunc registers a gauge family whose series are produced at
// scrape time by fn, which calls emit once per series: for example the
// sessions counted by state from the session table. emit must not be kept
// past fn's return.
func (r *Registry) GaugeVecFunc(name, help string, labelNames []string, fn func(emit func(v float64, labelValues ...string))) {
	f := r.family(name, help, TypeGauge, labelNames, nil)
	f.mu.Lock()
	f.vecFns = append(f.vecFns, fn)
	f.mu.Unlock()
}

// CounterVecFunc is GaugeVecFunc for counters.
func (r *Registry) CounterVecFunc(name, help string, labelNames []string, fn func(emit func(v float64, labelValues ...string))) {
	f := r.family(name, help, TypeCounter, labelNames, nil)
	f.mu.Lock()
	f.vecFns = append(f.vecFns, fn)
	f.mu.Unlock()
}

// RegisterRuntime adds client_golang's Go collector (go_goroutines,
// go_memstats_heap_inuse_bytes, go_gc_duration_seconds, ...) and process
// collector (process_resident_memory_bytes, process_open_fds, ...). It
// panics if called twice on one registry.
func (r *Registry) RegisterRuntime() {
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

func (r *Registry) funcSeries(name, help string, typ Type, labels Labels, fn func() float64) {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	f := r.family(name, help, typ, names, nil)
	values := make([]string, len(names))
	for i, n := range names {
		values[i] = labels[n]
	}
	key := strings.Join(values, labelSep)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.fns[key]; dup {
		panic(fmt.Sprintf("metrics: %s: series %v registered twice", name, labels))
	}
	f.fns[key] = funcSeries{values: values, fn: fn}
}

// family returns the family of name, registering it with the
// prometheus.Registry the first time.
func (r *Registry) family(name, help string, typ Type, labelNames []string, buckets []float64) *family {
	// client_golang accepts UTF-8 names; the text format 0.0.4 that
	// operators' tools read wants the classic ones.
	if !validName(name, true) {
		panic("metrics: invalid metric name " + strconv.Quote(name))
	}
	for _, l := range labelNames {
		if !validName(l, false) || strings.HasPrefix(l, "__") || (typ == TypeHistogram && l == "le") {
			panic("metrics: " + name + ": invalid label name " + strconv.Quote(l))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.families[name]; ok {
		if f.typ != typ || f.help != help || !slices.Equal(f.labels, labelNames) || !slices.Equal(f.buckets, buckets) {
			panic("metrics: " + name + " registered twice with another type, help, labels or buckets")
		}
		return f
	}
	f := &family{
		name: name, help: help, typ: typ,
		labels: slices.Clone(labelNames), buckets: buckets,
		desc: prometheus.NewDesc(name, help, labelNames, nil),
		fns:  map[string]funcSeries{},
	}
	r.reg.MustRegister(f)
	r.families[name] = f
	return f
}

func validName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || (metric && c == ':') || (i > 0 && '0' <= c && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// Sample is one value of one series, as Samples returns it (and the API's
// /api/v1/stats renders it).
type Sample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// Samples returns every series' current value, sorted by name and label
// values; a histogram gives its _count and _sum. A series that fails to
// gather is left out.
func (r *Registry) Samples() []Sample {
	mfs, _ := r.reg.Gather()
	var out []Sample
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			var lbl map[string]string
			if lp := m.GetLabel(); len(lp) > 0 {
				lbl = make(map[string]string, len(lp))
				for _, p := range lp {
					lbl[p.GetName()] = p.GetValue()
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, Sample{Name: name, Labels: lbl, Value: m.GetCounter().GetValue()})
			case dto.MetricType_GAUGE:
				out = append(out, Sample{Name: name, Labels: lbl, Value: m.GetGauge().GetValue()})
			case dto.MetricType_UNTYPED:
				out = append(out, Sample{Name: name, Labels: lbl, Value: m.GetUntyped().GetValue()})
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				out = append(out, Sample{Name: name + "_count", Labels: lbl, Value: float64(h.GetSampleCount())},
					Sample{Name: name + "_sum", Labels: lbl, Value: h.GetSampleSum()})
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				out = append(out, Sample{Name: name + "_count", Labels: lbl, Value: float64(s.GetSampleCount())},
					Sample{Name: name + "_sum", Labels: lbl, Value: s.GetSampleSum()})
			}
		}
	}
	return out
}

// ContentType is the media type of the text exposition format (version
// 0.0.4) as Handler answers a client that asks for no other format: the
// escaping parameter says metric names are in the classic character set.
const ContentType = string(expfmt.FmtText) + "; escaping=underscores"

// Write renders every family in the Prometheus text exposition format,
// families sorted by name, series by label values. If a series failed to
// gather, the others are still written and the error is returned.
func (r *Registry) Write(w io.Writer) error {
	mfs, gerr := r.reg.Gather()
	bw := bufio.NewWriter(w)
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
			return fmt.Errorf("metrics: writing %s: %w", mf.GetName(), err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if gerr != nil {
		return fmt.Errorf("metrics: gathering: %w", gerr)
	}
	return nil
}

// Handler serves the registry on /metrics with promhttp, which negotiates
// the format (text or protobuf) and gzip with the scraper. A collector error drops only the faulty series and is counted
// in promhttp_metric_handler_errors_total. Methods other than GET and HEAD
// are refused with 405.
func (r *Registry) Handler() http.Handler {
	h := promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      r.reg,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, req)
	})
}
