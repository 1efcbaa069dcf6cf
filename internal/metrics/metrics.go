package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// Labels are the labels of one series registered with CounterFunc or
// GaugeFunc. Keep their values to bounded sets.
type Labels map[string]string

// DefBuckets are the default histogram buckets, in seconds, from 1 ms to
// 10 s: the range of a RADIUS or PostgreSQL round trip.
var DefBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Registry holds metric families and renders them in the Prometheus text
// exposition format (version 0.0.4). The packages of the product keep
// their own atomic counters and expose them here with CounterFunc and
// GaugeFunc, read at scrape time; what has no counter elsewhere uses
// NewCounter, NewGauge and NewHistogram.
//
// Registering a family twice with a different type, help or label names,
// or the same series twice, is a programming error and panics, as
// prometheus.MustRegister does.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{families: map[string]*family{}}
}

type family struct {
	name, help string
	typ        Type
	labels     []string
	buckets    []float64

	mu     sync.Mutex
	series map[string]*series // by label values joined with labelSep
	vecFns []func(emit func(v float64, labelValues ...string))
}

const labelSep = "\xff"

type series struct {
	values []string
	val    atomicFloat
	fn     func() float64
	hist   *Histogram
}

// atomicFloat is a float64 updated without a lock.
type atomicFloat struct{ bits atomic.Uint64 }

func (a *atomicFloat) load() float64 { return math.Float64frombits(a.bits.Load()) }
func (a *atomicFloat) store(v float64) {
	a.bits.Store(math.Float64bits(v))
}
func (a *atomicFloat) add(v float64) {
	for {
		old := a.bits.Load()
		if a.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Counter is a monotonically increasing value.
type Counter struct{ s *series }

// Inc adds one.
func (c *Counter) Inc() { c.s.val.add(1) }

// Add adds v; a negative v is ignored, since a counter never goes down.
func (c *Counter) Add(v float64) {
	if v > 0 {
		c.s.val.add(v)
	}
}

// Value returns the current value.
func (c *Counter) Value() float64 { return c.s.val.load() }

// Gauge is a value that goes up and down.
type Gauge struct{ s *series }

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.s.val.store(v) }

// Add adds v (which may be negative).
func (g *Gauge) Add(v float64) { g.s.val.add(v) }

// Inc adds one.
func (g *Gauge) Inc() { g.s.val.add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.s.val.add(-1) }

// Value returns the current value.
func (g *Gauge) Value() float64 { return g.s.val.load() }

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	upper  []float64 // sorted upper bounds, without +Inf
	counts []atomic.Uint64
	count  atomic.Uint64
	sum    atomicFloat
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.upper, v) // first bound >= v
	if i < len(h.counts) {
		h.counts[i].Add(1)
	}
	h.sum.add(v)
	h.count.Add(1)
}

// ObserveDuration records d in seconds.
func (h *Histogram) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// CounterVec is a counter family with labels.
type CounterVec struct{ f *family }

// With returns the counter for the label values, given in the order of the
// label names, creating it at zero. It is a map lookup under a mutex: on a
// hot path, keep the *Counter it returns.
func (v *CounterVec) With(labelValues ...string) *Counter { return &Counter{v.f.get(labelValues)} }

// GaugeVec is a gauge family with labels.
type GaugeVec struct{ f *family }

// With returns the gauge for the label values.
func (v *GaugeVec) With(labelValues ...string) *Gauge { return &Gauge{v.f.get(labelValues)} }

// HistogramVec is a histogram family with labels.
type HistogramVec struct{ f *family }

// With returns the histogram for the label values.
func (v *HistogramVec) With(labelValues ...string) *Histogram { return v.f.get(labelValues).hist }

// NewCounter registers a counter family with the given label names.
func (r *Registry) NewCounter(name, help string, labelNames ...string) *CounterVec {
	return &CounterVec{r.family(name, help, TypeCounter, labelNames, nil)}
}

// NewGauge registers a gauge family with the given label names.
func (r *Registry) NewGauge(name, help string, labelNames ...string) *GaugeVec {
	return &GaugeVec{r.family(name, help, TypeGauge, labelNames, nil)}
}

// NewHistogram registers a histogram family; nil buckets means DefBuckets.
func (r *Registry) NewHistogram(name, help string, buckets []float64, labelNames ...string) *HistogramVec {
	if buckets == nil {
		buckets = DefBuckets
	}
	if !sort.Float64sAreSorted(buckets) || len(buckets) == 0 {
		panic("metrics: " + name + ": histogram buckets must be sorted and non-empty")
	}
	return &HistogramVec{r.family(name, help, TypeHistogram, labelNames, slices.Clone(buckets))}
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
// sessions counted by state from the session table.
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

// RegisterRuntime adds go_goroutines and go_memstats_heap_inuse_bytes.
func (r *Registry) RegisterRuntime() {
	r.GaugeFunc(GoGoroutines, "Number of goroutines that currently exist.", nil, func() float64 {
		return float64(runtime.NumGoroutine())
	})
	r.GaugeFunc(GoHeapBytes, "Bytes in in-use heap spans.", nil, func() float64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			return math.NaN()
		}
		return float64(s[0].Value.Uint64())
	})
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
	if _, dup := f.series[key]; dup {
		panic(fmt.Sprintf("metrics: %s: series %v registered twice", name, labels))
	}
	f.series[key] = &series{values: values, fn: fn}
}

func (r *Registry) family(name, help string, typ Type, labelNames []string, buckets []float64) *family {
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
	f := &family{name: name, help: help, typ: typ, labels: slices.Clone(labelNames), buckets: buckets, series: map[string]*series{}}
	r.families[name] = f
	return f
}

// get returns the stored series for the label values, creating it.
func (f *family) get(values []string) *series {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s: %d label values for labels %v", f.name, len(values), f.labels))
	}
	key := strings.Join(values, labelSep)
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.series[key]; ok {
		return s
	}
	s := &series{values: slices.Clone(values)}
	if f.typ == TypeHistogram {
		s.hist = &Histogram{upper: f.buckets, counts: make([]atomic.Uint64, len(f.buckets))}
	}
	f.series[key] = s
	return s
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

// point is a series' values read at one instant.
type point struct {
	values []string
	v      float64
	hist   *histPoint
}

type histPoint struct {
	cum   []uint64
	count uint64
	sum   float64
}

// gather reads every family, sorted by name, its series sorted by label
// values.
func (r *Registry) gather() ([]*family, [][]point) {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	out := make([][]point, len(fams))
	for i, f := range fams {
		f.mu.Lock()
		ss := make([]*series, 0, len(f.series))
		for _, s := range f.series {
			ss = append(ss, s)
		}
		fns := slices.Clone(f.vecFns)
		f.mu.Unlock()
		var pts []point
		for _, s := range ss {
			switch {
			case s.hist != nil:
				hp := &histPoint{cum: make([]uint64, len(s.hist.counts)), count: s.hist.count.Load(), sum: s.hist.sum.load()}
				var c uint64
				for j := range s.hist.counts {
					c += s.hist.counts[j].Load()
					hp.cum[j] = c
				}
				pts = append(pts, point{values: s.values, hist: hp})
			case s.fn != nil:
				pts = append(pts, point{values: s.values, v: s.fn()})
			default:
				pts = append(pts, point{values: s.values, v: s.val.load()})
			}
		}
		for _, fn := range fns {
			fn(func(v float64, labelValues ...string) {
				if len(labelValues) != len(f.labels) {
					return // a bug in the collector; drop the series rather than render garbage
				}
				pts = append(pts, point{values: slices.Clone(labelValues), v: v})
			})
		}
		sort.Slice(pts, func(a, b int) bool { return slices.Compare(pts[a].values, pts[b].values) < 0 })
		out[i] = pts
	}
	return fams, out
}

// Samples returns every series' current value; a histogram gives its
// _count and _sum.
func (r *Registry) Samples() []Sample {
	fams, pts := r.gather()
	var out []Sample
	for i, f := range fams {
		for _, p := range pts[i] {
			var lbl map[string]string
			if len(f.labels) > 0 {
				lbl = make(map[string]string, len(f.labels))
				for j, n := range f.labels {
					lbl[n] = p.values[j]
				}
			}
			if p.hist != nil {
				out = append(out, Sample{Name: f.name + "_count", Labels: lbl, Value: float64(p.hist.count)},
					Sample{Name: f.name + "_sum", Labels: lbl, Value: p.hist.sum})
				continue
			}
			out = append(out, Sample{Name: f.name, Labels: lbl, Value: p.v})
		}
	}
	return out
}

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Write renders every family in the Prometheus text exposition format.
func (r *Registry) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fams, pts := r.gather()
	for i, f := range fams {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		for _, p := range pts[i] {
			if p.hist == nil {
				writeSample(bw, f.name, f.labels, p.values, "", p.v)
				continue
			}
			for j, ub := range f.buckets {
				writeSample(bw, f.name+"_bucket", f.labels, p.values, formatFloat(ub), float64(p.hist.cum[j]))
			}
			writeSample(bw, f.name+"_bucket", f.labels, p.values, "+Inf", float64(p.hist.count))
			writeSample(bw, f.name+"_sum", f.labels, p.values, "", p.hist.sum)
			writeSample(bw, f.name+"_count", f.labels, p.values, "", float64(p.hist.count))
		}
	}
	return bw.Flush()
}

func writeSample(w *bufio.Writer, name string, labels, values []string, le string, v float64) {
	w.WriteString(name)
	if len(labels) > 0 || le != "" {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(l)
			w.WriteString(`="`)
			w.WriteString(escapeLabel(values[i]))
			w.WriteByte('"')
		}
		if le != "" {
			if len(labels) > 0 {
				w.WriteByte(',')
			}
			w.WriteString(`le="`)
			w.WriteString(le)
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// Handler serves the registry on /metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		_ = r.Write(w)
	})
}
