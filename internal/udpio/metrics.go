package udpio

import (
	"syscall"

	"github.com/bras-project/bras/internal/metrics"
)

// RegisterMetrics exposes the kernel's view of the L2TP UDP socket c, read
// at scrape time: the datagrams it dropped for want of buffer space, and
// the buffers it granted.
func RegisterMetrics(r *metrics.Registry, c syscall.Conn) {
	r.CounterVecFunc(metrics.L2TPSocketDrops, "Datagrams the kernel dropped at the L2TP UDP socket (receive buffer full).", nil,
		func(emit func(float64, ...string)) {
			if n, err := Drops(c); err == nil {
				emit(float64(n))
			}
		})
	r.GaugeVecFunc(metrics.L2TPSocketBuffer, "Buffers of the L2TP UDP socket as the kernel granted them.", []string{"direction"},
		func(emit func(float64, ...string)) {
			if b, err := GetBuffers(c); err == nil {
				emit(float64(b.Receive), "receive")
				emit(float64(b.Send), "send")
			}
		})
}
