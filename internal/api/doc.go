// Package api is the HTTP API of the bras daemon (sessions with filters,
// sorting and paging, terminate, tunnels, pools, statistics, version,
// reports, /metrics, /healthz) and the client the bras CLI uses to call it.
package api
