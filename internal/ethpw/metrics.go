package ethpw

import (
	"strings"

	"github.com/bras-project/bras/internal/metrics"
)

// RegisterMetrics exposes the circuits' state and counters (the
// bras_pw_* names of internal/metrics) and the control connections by
// L2TP version, read at scrape time.
func (l *LCCE) RegisterMetrics(reg *metrics.Registry) {
	reg.GaugeVecFunc(metrics.PWCircuitUp, "1 while the circuit's pseudowire session is established, by circuit, peer and pseudowire type.",
		[]string{"circuit", "peer", "pw_type"}, func(emit func(float64, ...string)) {
			for _, s := range l.Stats() {
				emit(b2f(s.Up), s.Name, s.Peer, strings.ToLower(s.PWType.String()))
			}
		})
	reg.GaugeVecFunc(metrics.PWCircuitActive, "Whether each side's attachment circuit is up: ours (local) and the peer's by its Circuit Status (remote).",
		[]string{"circuit", "side"}, func(emit func(float64, ...string)) {
			for _, s := range l.Stats() {
				emit(b2f(s.LocalActive), s.Name, "local")
				emit(b2f(s.Up && s.RemoteActive), s.Name, "remote")
			}
		})
	perDirection := func(name, help string, v func(CircuitStats, Direction) uint64) {
		reg.CounterVecFunc(name, help, []string{"circuit", "direction"}, func(emit func(float64, ...string)) {
			for _, s := range l.Stats() {
				for d := range Direction(2) {
					emit(float64(v(s, d)), s.Name, metrics.LabelValue(d.String()))
				}
			}
		})
	}
	perDirection(metrics.PWFrames, "Ethernet frames that crossed each circuit's pseudowire, by direction (from_wire: into the pseudowire).",
		func(s CircuitStats, d Direction) uint64 { return s.Frames[d] })
	perDirection(metrics.PWOctets, "Octets of those frames.", func(s CircuitStats, d Direction) uint64 { return s.Octets[d] })
	reg.CounterVecFunc(metrics.PWDropped, "Frames a circuit did not forward, by direction and reason.", []string{"circuit", "direction", "reason"},
		func(emit func(float64, ...string)) {
			for _, s := range l.Stats() {
				for d := range Direction(2) {
					for r := range NumDropReasons {
						emit(float64(s.Drops[d][r]), s.Name, metrics.LabelValue(d.String()), metrics.LabelValue(r.String()))
					}
				}
			}
		})
	reg.GaugeVecFunc(metrics.L2TPTunnels, "L2TPv3 control connections to the peers.", []string{"version"}, func(emit func(float64, ...string)) {
		emit(float64(len(l.ep.Tunnels())), "3")
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
