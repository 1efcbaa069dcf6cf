// Package api is the HTTP API of the bras daemon (sessions, tunnels,
// statistics, reports, /metrics, /healthz) and the client the bras CLI
// uses to call it.
package api
