// Package metrics is the registry of the Prometheus metrics bras exposes on
// /metrics, built on client_golang, with the metric names as constants
// shared with the tests.
package metrics
