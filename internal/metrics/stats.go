package metrics

import (
	"sort"
	"strings"
	"sync/atomic"
)

// LabelValue turns a name into the label-value style of bras's metrics,
// lower_snake_case: "User-Request" (RFC 2866's name of a terminate cause)
// becomes "user_request".
func LabelValue(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return '_'
		case 'A' <= r && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// Load adapts an atomic counter of a package's Stats struct to
// CounterFunc or GaugeFunc: reg.CounterFunc(L2TPRetransmits, help, nil,
// metrics.Load(&st.Retransmits)).
func Load(c *atomic.Uint64) func() float64 {
	return func() float64 { return float64(c.Load()) }
}

// LoadInt adapts an atomic gauge (which may go down) to GaugeFunc.
func LoadInt(c *atomic.Int64) func() float64 {
	return func() float64 { return float64(c.Load()) }
}

// CounterFuncs registers one counter family with a single label whose
// series are atomic counters, one per label value: for example the drop
// reasons of a Stats struct,
//
//	reg.CounterFuncs(metrics.L2TPMalformed, "Dropped L2TP input.", "reason", map[string]*atomic.Uint64{
//		"malformed":      &st.Malformed,
//		"unknown_tunnel": &st.UnknownTunnel,
//	})
func (r *Registry) CounterFuncs(name, help, label string, byValue map[string]*atomic.Uint64) {
	values := make([]string, 0, len(byValue))
	for v := range byValue {
		values = append(values, v)
	}
	sort.Strings(values)
	for _, v := range values {
		r.CounterFunc(name, help, Labels{label: v}, Load(byValue[v]))
	}
}
