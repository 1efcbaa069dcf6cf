package accounting

import "github.com/bras-project/bras/internal/metrics"

// kindLabels are the record kinds as bras_accounting_records_total's
// "type" label names them.
var kindLabels = map[Kind]string{Start: "start", Interim: "interim", Stop: "stop"}

// RegisterMetrics exposes the accountant's records by kind, sink and what
// happened to them: made durable in the sink's spool, then taken by the
// sink.
func (a *Accountant) RegisterMetrics(reg *metrics.Registry) {
	reg.CounterVecFunc(metrics.AccountingRecords, "Accounting records by type, sink and result (spooled: durable in the sink's spool; delivered: taken by the sink).",
		[]string{"type", "sink", "result"}, func(emit func(float64, ...string)) {
			for _, c := range a.RecordCounts() {
				emit(float64(c.Spooled), kindLabels[c.Kind], c.Sink, "spooled")
				emit(float64(c.Delivered), kindLabels[c.Kind], c.Sink, "delivered")
			}
		})
}
