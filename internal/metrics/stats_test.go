package metrics

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stats is shaped like the Stats structs of l2tp, pppoe and the data plane.
type stats struct {
	Malformed     atomic.Uint64
	UnknownTunnel atomic.Uint64
	Retransmits   atomic.Uint64
	Tunnels       atomic.Int64
}

func TestStatsAdapters(t *testing.T) {
	var st stats
	r := New()
	r.CounterFuncs(L2TPMalformed, "Dropped L2TP input.", "reason", map[string]*atomic.Uint64{
		"malformed":      &st.Malformed,
		"unknown_tunnel": &st.UnknownTunnel,
	})
	r.CounterFunc(L2TPRetransmits, "Retransmitted control messages.", nil, Load(&st.Retransmits))
	r.GaugeFunc(L2TPTunnels, "Established tunnels.", nil, LoadInt(&st.Tunnels))
	st.Malformed.Add(3)
	st.UnknownTunnel.Add(1)
	st.Retransmits.Add(12)
	st.Tunnels.Add(2)
	st.Tunnels.Add(-1)
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP bras_l2tp_malformed_total Dropped L2TP input.
# TYPE bras_l2tp_malformed_total counter
bras_l2tp_malformed_total{reason="malformed"} 3
bras_l2tp_malformed_total{reason="unknown_tunnel"} 1
# HELP bras_l2tp_retransmits_total Retransmitted control messages.
# TYPE bras_l2tp_retransmits_total counter
bras_l2tp_retransmits_total 12
# HELP bras_l2tp_tunnels Established tunnels.
# TYPE bras_l2tp_tunnels gauge
bras_l2tp_tunnels 1
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestLabelValue(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"User-Request", "user_request"}, // RFC 2866 section 5.10
		{"Lost-Carrier", "lost_carrier"},
		{"half-open-limit", "half_open_limit"},
		{"no_session", "no_session"},
		{"up", "up"},
		{"Interim Update", "interim_update"},
	} {
		if got := LabelValue(tt.in); got != tt.want {
			t.Errorf("LabelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
