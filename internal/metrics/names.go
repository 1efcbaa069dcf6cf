package metrics

// Metric names. Labels are bounded sets (state, result, cause, message
// type, direction, reason, server address from the configuration), never a
// user name or a session ID.
const (
	// Sessions is a gauge of the sessions by state (label "state").
	Sessions = "bras_sessions"
	// SessionSetups counts session set-ups by result ("result": "ok",
	// "auth-failed", "no-address", "timeout", ...).
	SessionSetups = "bras_session_setups_total"
	// SessionTeardowns counts ended sessions by Acct-Terminate-Cause
	// ("cause": "user-request", "admin-reset", "idle-timeout", ...).
	SessionTeardowns = "bras_session_teardowns_total"

	// RadiusRequests counts RADIUS requests ("server", "type": "access",
	// "accounting", "coa", "disconnect"; "result": "accept", "reject",
	// "timeout", "error").
	RadiusRequests = "bras_radius_requests_total"
	// RadiusLatency is a histogram of RADIUS round trips by "type".
	RadiusLatency = "bras_radius_latency_seconds"
	// RadiusTimeouts counts requests that got no answer from any server
	// ("type").
	RadiusTimeouts = "bras_radius_timeouts_total"
	// CoARequests counts CoA and Disconnect requests received (RFC 5176)
	// ("type", "result").
	CoARequests = "bras_coa_requests_total"

	// SpoolDepth is a gauge of accounting records waiting in the durable
	// spool for PostgreSQL.
	SpoolDepth = "bras_spool_depth"
	// AccountingRecords counts accounting records written ("type": "start",
	// "interim", "stop"; "result": "stored", "spooled", "error").
	AccountingRecords = "bras_accounting_records_total"

	// DataplanePackets counts forwarded packets ("direction": "up", "down").
	DataplanePackets = "bras_dataplane_packets_total"
	// DataplaneBytes counts forwarded bytes ("direction").
	DataplaneBytes = "bras_dataplane_bytes_total"
	// DataplaneDrops counts dropped packets ("reason": "no-session",
	// "malformed", "rate-limit", "queue-full", ...).
	DataplaneDrops = "bras_dataplane_drops_total"
	// FastPathPackets counts the XDP fast path's packets by what it did
	// with them ("reason": "forwarded_up", "forwarded_down", "pass_*"
	// for those handed to the user-space engine, "drop_*").
	FastPathPackets = "bras_fastpath_packets_total"
	// FastPathRefused counts sessions left to the user-space engine
	// ("reason": "full", "error").
	FastPathRefused = "bras_fastpath_sessions_refused_total"
	// MSSClamped counts the TCP SYNs whose MSS option the user-space
	// engine lowered (the fast path's are its reason "mss_clamped").
	MSSClamped = "bras_mss_clamped_total"

	// L2TPTunnels is a gauge of established L2TP tunnels.
	L2TPTunnels = "bras_l2tp_tunnels"
	// L2TPControlMessages counts control messages ("type": "SCCRQ", ...,
	// "ZLB"; "direction": "in", "out").
	L2TPControlMessages = "bras_l2tp_control_messages_total"
	// L2TPRetransmits counts retransmitted control messages.
	L2TPRetransmits = "bras_l2tp_retransmits_total"
	// L2TPMalformed counts dropped malformed L2TP packets ("reason").
	L2TPMalformed = "bras_l2tp_malformed_total"
	// L2TPDropped counts control messages and SCCRQs the L2TP endpoint
	// dropped ("reason": "tunnel-zero", "half-open-limit", ...).
	L2TPDropped = "bras_l2tp_dropped_total"
	// L2TPAuthFailures counts tunnels refused for a wrong Challenge
	// Response (RFC 2661, section 5.1.1).
	L2TPAuthFailures = "bras_l2tp_tunnel_auth_failures_total"

	// PPPoEDiscovery counts discovery packets ("interface", "type": "PADI",
	// ...; "direction").
	PPPoEDiscovery = "bras_pppoe_discovery_packets_total"
	// PPPoEMalformed counts dropped malformed PPPoE frames ("interface").
	PPPoEMalformed = "bras_pppoe_malformed_total"

	// APIRequests counts HTTP API requests ("code": the status class
	// "2xx", "4xx", "5xx").
	APIRequests = "bras_api_requests_total"

	// GoGoroutines and GoHeapBytes describe the process itself.
	GoGoroutines = "go_goroutines"
	GoHeapBytes  = "go_memstats_heap_inuse_bytes"

	// L2TPSocketDrops counts datagrams the kernel dropped at the L2TP UDP
	// socket, nearly always because its receive buffer was full (the
	// socket's drops column of /proc/net/udp).
	L2TPSocketDrops = "bras_l2tp_socket_drops_total"
	// L2TPSocketBuffer is a gauge of the L2TP UDP socket's buffers as the
	// kernel granted them ("direction": "receive", "send").
	L2TPSocketBuffer = "bras_l2tp_socket_buffer_bytes"
	// TeardownsQueued counts session teardowns that found a control
	// shard's inbox full and waited on its teardown queue (none is
	// dropped): a sign the shards cannot keep up.
	TeardownsQueued = "bras_session_teardowns_queued_total"

	// IPv6 on the subscribers' links (LNS): Router Advertisements sent
	// (RFC 4861), DHCPv6 Replies that gave or renewed a binding and DHCPv6
	// messages discarded (RFC 8415 section 16), link-scope IPv6 for no
	// service of the LNS.
	RAsSent         = "bras_ipv6_router_advertisements_total"
	DHCPv6Bound     = "bras_dhcpv6_bindings_total"
	DHCPv6Discarded = "bras_dhcpv6_discarded_total"
	IPv6Ignored     = "bras_ipv6_control_ignored_total"

	// PoolExhausted counts allocations that found an address or prefix
	// pool exhausted ("pool": a configured pool's name or "other";
	// "family": "ipv4", "ipv6").
	PoolExhausted = "bras_pool_exhausted_total"

	// ConfigReloads counts configuration reloads (SIGHUP, bras reload,
	// POST /api/v1/reload) by "result": "ok" (applied) or "refused" (the
	// configuration in force stayed).
	ConfigReloads = "bras_config_reloads_total"
)
