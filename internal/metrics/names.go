package metrics

// Metric names. Labels are bounded sets (state, result, cause, message
// type, direction, reason, a server or pool or peer from the
// configuration, a tunnel ID), never a user name or a session ID. Label
// values are lower_snake_case ("auth_rejected", "no_session",
// "user_request"); counters end in _total, durations are seconds
// (_seconds), sizes bytes (_bytes).
//
// Every name here is exported by the daemon of its role (LNS, LAC or
// both), which the lab test (internal/lab) checks against a live
// /metrics of each, or by bras pw, which its end-to-end test checks
// (internal/ethpw); the comment of each name says which.
const (
	// BuildInfo is 1, with the build as labels ("version", "revision",
	// "go_version"). Both roles.
	BuildInfo = "bras_build_info"

	// Sessions is a gauge of the LNS's sessions by state ("state":
	// "starting", "negotiating", "up", "closing"), kept as sessions change
	// state. LNS.
	Sessions = "bras_sessions"
	// SessionSetups counts the LNS's session set-ups by result ("result":
	// "up", "auth_rejected", "auth_error", "refused", "auth_busy": the
	// authentication workers' queue was full and the subscriber was
	// refused with "authentication service busy"). LNS.
	SessionSetups = "bras_session_setups_total"
	// SessionSetupDuration is a histogram of the time from a call's ICRQ
	// to each stage of its set-up ("stage": "auth" when RADIUS accepted
	// it, "ipcp" when IPCP opened, "ipv6cp" when IPV6CP opened). LNS.
	SessionSetupDuration = "bras_session_setup_duration_seconds"
	// SessionTeardowns counts ended sessions by Acct-Terminate-Cause
	// ("cause": "user_request", "lost_carrier", "admin_reset",
	// "idle_timeout", ...: RFC 2866 section 5.10's names in lower snake
	// case). LNS.
	SessionTeardowns = "bras_session_teardowns_total"
	// TeardownsQueued counts session teardowns that found a control
	// shard's inbox full and waited on its teardown queue (none is
	// dropped): a sign the shards cannot keep up. Both roles.
	TeardownsQueued = "bras_session_teardowns_queued_total"

	// RadiusRequests counts RADIUS requests ("server": its configured
	// address; "type": "access", "accounting"; "result": "accept",
	// "reject", "timeout"). Both roles with a [radius] section; the LAC
	// asks RADIUS for tunnels only when configured to.
	RadiusRequests = "bras_radius_requests_total"
	// RadiusLatency is a histogram of RADIUS round trips that got an
	// answer ("server", "type").
	RadiusLatency = "bras_radius_latency_seconds"
	// RadiusTimeouts counts requests that got no answer from any server
	// ("type").
	RadiusTimeouts = "bras_radius_timeouts_total"
	// RadiusDroppedResponses counts RADIUS responses the client dropped
	// ("reason": "bad_authenticator", "bad_message_authenticator",
	// "missing_message_authenticator", "malformed", "unexpected").
	RadiusDroppedResponses = "bras_radius_dropped_responses_total"
	// RadiusServerUp is 1 for a server that is not held down after
	// timeouts, 0 while it is ("server", "type").
	RadiusServerUp = "bras_radius_server_up"
	// CoARequests counts CoA and Disconnect requests answered (RFC 5176)
	// ("type": "coa", "disconnect"; "result": "ack", "nak"). LNS.
	CoARequests = "bras_coa_requests_total"
	// CoALatency is a histogram of the time from a CoA or Disconnect
	// request's arrival to its answer ("client": the configured [coa]
	// client, "type"). LNS.
	CoALatency = "bras_coa_latency_seconds"
	// CoADropped counts CoA and Disconnect requests silently dropped
	// ("reason": "unknown_client", "bad_authenticator",
	// "bad_message_authenticator", "malformed", "replay", "unexpected").
	// LNS.
	CoADropped = "bras_coa_dropped_total"
	// CoAReplayRefused counts CoA and Disconnect requests refused by the
	// replay protection of RFC 5176 section 6.3 ("reason": "replay",
	// "stale", "no_event_timestamp", "cache_full"). LNS.
	CoAReplayRefused = "bras_coa_replay_refused_total"

	// SpoolBytes is a gauge of the accounting spool's bytes not yet
	// delivered to the slowest sink (PostgreSQL, RADIUS accounting):
	// growing while a sink is down. LNS.
	SpoolBytes = "bras_spool_bytes"
	// AccountingRecords counts accounting records by what happened to
	// them ("type": "start", "interim", "stop"; "sink": "postgres",
	// "radius"; "result": "spooled" when made durable in the sink's
	// spool, "delivered" when the sink took it). LNS.
	AccountingRecords = "bras_accounting_records_total"
	// AuthLogOutcomes counts authentication outcomes for PostgreSQL's
	// auth_log ("result": "written", or "dropped" when the database was
	// away longer than the queue holds). LNS.
	AuthLogOutcomes = "bras_auth_log_outcomes_total"

	// DataplanePackets counts the IP packets the user-space engine
	// forwarded ("direction": "up" from the subscribers, "down" towards
	// them); the XDP fast path's are FastPathPackets' "forwarded_up" and
	// "forwarded_down". Both roles (on the LAC: PPP frames relayed).
	DataplanePackets = "bras_dataplane_packets_total"
	// DataplaneBytes counts the octets of those packets ("direction").
	// Both roles.
	DataplaneBytes = "bras_dataplane_bytes_total"
	// DataplaneDrops counts packets the user-space engine dropped
	// ("reason": "no_session", "rate_limit", "spoof", "queue_full", ...).
	// LNS.
	DataplaneDrops = "bras_dataplane_drops_total"
	// FastPathPackets counts the XDP fast path's packets by what it did
	// with them ("reason": "forwarded_up", "forwarded_down", "pass_*"
	// for those handed to the user-space engine, "drop_*"). Both roles,
	// while the fast path runs.
	FastPathPackets = "bras_fastpath_packets_total"
	// FastPathRefused counts sessions left to the user-space engine
	// ("reason": "full", "error"). Both roles.
	FastPathRefused = "bras_fastpath_sessions_refused_total"
	// MSSClamped counts the TCP SYNs whose MSS option the user-space
	// engine lowered (the fast path's are its reason "mss_clamped").
	// Both roles.
	MSSClamped = "bras_mss_clamped_total"

	// PoolSize is a gauge of the addresses (IPv4) or prefixes (IPv6) a
	// pool can hand out ("pool": its configured name; "family": "ipv4",
	// "ipv6"). LNS.
	PoolSize = "bras_pool_size"
	// PoolUsed is a gauge of those held by sessions ("pool", "family").
	// LNS.
	PoolUsed = "bras_pool_used"
	// PoolExhausted counts allocations that found an address or prefix
	// pool exhausted ("pool": a configured pool's name or "other";
	// "family"). LNS.
	PoolExhausted = "bras_pool_exhausted_total"

	// L2TPTunnels is a gauge of the L2TP tunnels ("version": "2" for
	// RFC 2661, "3" for RFC 3931). Both roles.
	L2TPTunnels = "bras_l2tp_tunnels"
	// L2TPTunnelSessions is a gauge of the sessions on each tunnel
	// ("peer": the far end's name from the configuration, the LAC's host
	// name on an LNS and the LNS's section name on a LAC; "tunnel_id":
	// the local Tunnel ID, 32 bits on L2TPv3; "version": "2" or "3";
	// "encap": "udp", or "ip" for L2TPv3 straight over IP, RFC 3931
	// section 4.1.1). A tunnel's series goes with it; sum by peer for the sessions per LAC
	// or LNS, by version for those on L2TPv3 pseudowires. Both roles.
	L2TPTunnelSessions = "bras_l2tp_tunnel_sessions"
	// L2TPControlMessages counts control messages ("direction": "rx",
	// "tx"). LNS.
	L2TPControlMessages = "bras_l2tp_control_messages_total"
	// L2TPRetransmits counts retransmitted control messages. LNS.
	L2TPRetransmits = "bras_l2tp_retransmits_total"
	// L2TPMalformed counts dropped L2TP datagrams that did not parse.
	// LNS.
	L2TPMalformed = "bras_l2tp_malformed_total"
	// L2TPDropped counts control messages and SCCRQs the L2TP endpoint
	// dropped ("reason": "tunnel_zero", "half_open_limit", ...; of
	// L2TPv3, RFC 3931: "wrong_version", a message of one version for a
	// tunnel of the other, "digest_failures", a Message Digest missing or
	// wrong, "digest_unverifiable", a message that came before the SCCRP
	// whose nonce would check it, and "cookie_mismatch", data messages
	// with a cookie not assigned). LNS.
	L2TPDropped = "bras_l2tp_dropped_total"
	// L2TPAuthFailures counts tunnels refused for a wrong Challenge
	// Response (RFC 2661, section 5.1.1). LNS.
	L2TPAuthFailures = "bras_l2tp_tunnel_auth_failures_total"
	// L2TPSocketDrops counts datagrams the kernel dropped at the L2TP UDP
	// socket, nearly always because its receive buffer was full (the
	// socket's drops column of /proc/net/udp). Both roles.
	L2TPSocketDrops = "bras_l2tp_socket_drops_total"
	// L2TPSocketBuffer is a gauge of the L2TP UDP socket's buffers as the
	// kernel granted them ("direction": "receive", "send"). Both roles.
	L2TPSocketBuffer = "bras_l2tp_socket_buffer_bytes"

	// PPPoEDiscovery counts PPPoE discovery packets (RFC 2516 section 5)
	// ("interface": the [access] interface; "code": "padi", "pado",
	// "padr", "pads", "padt"; "direction": "rx", "tx"). LAC.
	PPPoEDiscovery = "bras_pppoe_discovery_packets_total"
	// PPPoEDiscoveryRefused counts the discovery packets the LAC
	// refused ("interface"; "reason": "padi_rate_limit" (a PADI beyond
	// padi-rate, dropped unanswered), "pado_delay_full" (a PADO dropped
	// because the delay queue was full), "cookie" (a PADR with a missing,
	// wrong or stale AC-Cookie), "service" (a Service-Name not offered),
	// "session_limit" (max-sessions, max-sessions-per-mac or no session
	// ID left: PADS with AC-System-Error), "vlan_session_limit" (the
	// VLAN's cap: PADS with Generic-Error)). LAC.
	PPPoEDiscoveryRefused = "bras_pppoe_discovery_refused_total"
	// PPPoEMalformed counts dropped PPPoE frames that did not parse
	// ("interface"). LAC.
	PPPoEMalformed = "bras_pppoe_malformed_total"

	// LACSessions is a gauge of the subscribers the LAC holds. LAC.
	LACSessions = "bras_lac_sessions"
	// LACCalls counts the LAC's incoming calls by outcome ("result":
	// "up", "refused", "timeout"). LAC.
	LACCalls = "bras_lac_calls_total"
	// LACTeardowns counts the LAC's ended calls ("cause":
	// "subscriber_padt", "lns_cdn", "proxy_ppp", "carrier_lost"). LAC.
	LACTeardowns = "bras_lac_teardowns_total"
	// LACCarrierLosses counts the access interfaces that lost their
	// carrier; the sessions each cleared are in LACTeardowns (cause
	// "carrier_lost"). LAC.
	LACCarrierLosses = "bras_lac_carrier_losses_total"
	// LACDrops counts what the LAC dropped ("reason": "event_queue_full",
	// "job_queue_full", "held_overflow", "no_session", "send_error"). LAC.
	LACDrops = "bras_lac_drops_total"

	// IPv6 on the subscribers' links (LNS): Router Advertisements sent
	// (RFC 4861), DHCPv6 Replies that gave or renewed a binding and DHCPv6
	// messages discarded (RFC 8415 section 16), link-scope IPv6 for no
	// service of the LNS.
	RAsSent         = "bras_ipv6_router_advertisements_total"
	DHCPv6Bound     = "bras_dhcpv6_bindings_total"
	DHCPv6Discarded = "bras_dhcpv6_discarded_total"
	IPv6Ignored     = "bras_ipv6_control_ignored_total"

	// ConfigReloads counts configuration reloads (SIGHUP, bras reload,
	// POST /api/v1/reload) by "result": "ok" (applied) or "refused" (the
	// configuration in force stayed). Both roles.
	ConfigReloads = "bras_config_reloads_total"

	// APIRequests counts HTTP API requests ("code": the status class
	// "2xx", "4xx", "5xx"). Both roles with an [api] section.
	APIRequests = "bras_api_requests_total"

	// The Ethernet pseudowires of `bras pw` (RFC 4719), by "circuit"
	// (its name in the configuration). PWCircuitUp is 1 while the
	// circuit's pseudowire session is established ("peer", "pw_type":
	// "ethernet" for port mode, "ethernetvlan" for VLAN mode);
	// PWCircuitActive whether each side's attachment circuit is up
	// ("side": "local", or "remote" by the peer's Circuit Status, RFC
	// 3931 section 5.4.5); PWFrames and PWOctets count what crossed each
	// way ("direction": "from_wire", into the pseudowire, or "to_wire");
	// PWDropped what did not, by "direction" and "reason" ("no_session",
	// "remote_down", "local_down", "bad_tag", "truncated", "send_error",
	// "write_error"). bras pw.
	PWCircuitUp     = "bras_pw_circuit_up"
	PWCircuitActive = "bras_pw_circuit_active"
	PWFrames        = "bras_pw_frames_total"
	PWOctets        = "bras_pw_octets_total"
	PWDropped       = "bras_pw_dropped_total"

	// GoGoroutines and GoHeapBytes describe the process itself (Go's
	// collector). Both roles.
	GoGoroutines = "go_goroutines"
	GoHeapBytes  = "go_memstats_heap_inuse_bytes"
)
