/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The bras XDP fast path: map keys and values shared by the BPF programs
 * and, through the bpf2go-generated Go types, by package dataplane; and the
 * small helpers both roles use (checksums, the policer, TCP MSS clamping,
 * reason counters).
 *
 * Byte order. Fields named __be16/__be32 are stored in network order: the
 * programs compare them with packet bytes or copy them into headers as
 * they are, and the Go side converts when it writes them. Every other
 * field (slots, flags, lengths, rates) is in host order.
 */
#ifndef BRAS_DATAPLANE_H
#define BRAS_DATAPLANE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Ethertypes (IEEE 802.1Q, 802.1ad, RFC 2516 section 4). */
#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8
#define ETH_P_PPPOE_SESS 0x8864

/* PPP protocol numbers (RFC 1661 section 2, RFC 1332 section 3, RFC 5072
 * section 3). */
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

/* ICMPv6 types the IPv6 paths look at (RFC 4861 section 4). */
#define ICMP6_RS 133		/* Router Solicitation: the control plane answers */
#define ICMP6_RA 134		/* Router Advertisement: never from a subscriber */
#define ICMP6_REDIRECT 137	/* Redirect: never from a subscriber */

/* Sizes of the headers the programs push and pull. */
#define DP_L2TP_HDR 6	/* flags/version, Tunnel ID, Session ID: RFC 2661 section 3.1 */
#define DP_PPP_HDR 4	/* FF 03 and the two-octet protocol */
#define DP_PPPOE_HDR 6	/* RFC 2516 section 4 */
#define DP_ENCAP (sizeof(struct iphdr) + sizeof(struct udphdr) + DP_L2TP_HDR + DP_PPP_HDR) /* 38 */

/* The L2TPv2 data header's flag bits (RFC 2661 section 3.1). */
#define L2TP_T 0x8000
#define L2TP_L 0x4000
#define L2TP_S 0x0800
#define L2TP_O 0x0200
#define L2TP_VER_MASK 0x000f
#define L2TP_VER2 2

/*
 * Why a packet left the fast path, or that it was forwarded: the index of
 * the per-CPU array reason_stats. Keep in step with dataplane.Reason in Go.
 */
enum dp_reason {
	DP_FWD_UP = 0,		/* forwarded, subscriber to network */
	DP_FWD_DOWN,		/* forwarded, network to subscriber */
	DP_PASS_OTHER,		/* not for the fast path (ethertype, protocol, port): passed */
	DP_PASS_CONTROL,	/* L2TP control message: passed */
	DP_PASS_PPP,		/* PPP protocol other than IPv4 (LCP, IPCP, auth, ...): passed */
	DP_PASS_NO_SESSION,	/* session or address not in the maps: passed */
	DP_PASS_SEQUENCED,	/* S bit set or the session needs sequence numbers: passed */
	DP_PASS_FRAGMENT,	/* IPv4 fragment: passed */
	DP_PASS_OPTIONS,	/* IPv4 header with options: passed */
	DP_PASS_TTL,		/* TTL 1 or 0: passed (the slow path sends Time Exceeded) */
	DP_PASS_MTU,		/* larger than the session's MTU or MRU, or the link's: passed */
	DP_PASS_FIB,		/* FIB lookup found no usable next hop: passed */
	DP_PASS_MALFORMED,	/* truncated or inconsistent headers: passed to the slow path, which counts and drops */
	DP_DROP_SPOOF,		/* source address not the session's: dropped */
	DP_DROP_POLICER,	/* over the session's rate: dropped */
	DP_DROP_PEER,		/* L2TP datagram for a known session from another address or port: dropped */
	DP_ERR_ADJUST,		/* bpf_xdp_adjust_head/tail failed: dropped */
	DP_MSS_CLAMPED,		/* not a verdict: a SYN's MSS option was lowered */
	DP_DROP_ND,		/* IPv6 Router Advertisement or Redirect from a subscriber: dropped */
	DP_PASS_LINK,		/* IPv6 for the link (Router Solicitation, DHCPv6, neighbour discovery, link-local): passed to the control plane */
	DP_NUM_REASONS,
};

/* Session flags (host order). */
#define DP_F_SEQUENCING (1U << 0) /* the peer asked for sequence numbers: leave to the slow path */

/* A session's traffic, per CPU; the Go side sums the CPUs. Octets are
 * those of the IP packets, as RADIUS accounting counts them. The totals
 * count both families; the up6/down6 fields the IPv6 share of them. */
struct dp_counters {
	__u64 up_packets;
	__u64 up_octets;
	__u64 down_packets;
	__u64 down_octets;
	__u64 drops;		/* spoofed, over the rate, or router messages from the subscriber */
	__u64 up6_packets;
	__u64 up6_octets;
	__u64 down6_packets;
	__u64 down6_octets;
};

/*
 * One direction of a session's policer: the Generic Cell Rate Algorithm,
 * the same meter as the user-space engine's lns.TokenBucket. tat is the
 * theoretical arrival time of the next octet (bpf_ktime_get_ns clock);
 * a packet of n octets conforms when tat + n*ps_per_octet/1000 - now stays
 * within tolerance_ns. ps_per_octet 0 means no limit. The Go side writes a
 * whole bucket with tat 0 (a full bucket) on every rate change.
 */
struct dp_bucket {
	__u64 tat;
	__u64 ps_per_octet;
	__u64 tolerance_ns;
};

struct dp_policer {
	struct dp_bucket up;	/* from the subscriber */
	struct dp_bucket down;	/* towards the subscriber */
};

/* Global settings, the single entry of the settings map. */
struct dp_config {
	__be16 l2tp_port;	/* the (first) local L2TP UDP port, 1701 */
	__u16 l2tp_ports;	/* the LAC's tunnels use l2tp_port and the ports after it, this many; 0 is 1 */
	__u32 slow_ifindex;	/* a FIB result through this device (the TUN) goes to the slow path */
	__u32 fib_gen;		/* generation of the kernel's routes and neighbours: next hops cached under another are stale */
	__u32 fib6_admit;	/* IPv6 next-hop cache: 0 off; else a miss is cached with probability 1/fib6_admit (a power of 2) */
};

/* ---------------------------------------------------------------- LNS -- */

/* lns_sessions key: the LNS's own IDs, as the LAC writes them in the data
 * header (network order). */
struct lns_sess_key {
	__be16 tunnel_id;
	__be16 session_id;
};

/* lns_sessions value: what the upstream path checks. */
struct lns_sess {
	__be32 lac_addr;	/* the LAC's address, source of the tunnel's datagrams */
	__be32 sub_addr;	/* the subscriber's address from IPCP (0: none yet, all spoofed) */
	__be16 lac_port;	/* the LAC's UDP port */
	__u16 mtu;		/* largest IP packet the session carries */
	__u16 mss;		/* TCP MSS clamp (0: none) */
	__u16 pad;
	__u32 slot;		/* index of session_counters and session_policers */
	__u32 flags;		/* DP_F_* */
};

/* lns_subs value, keyed by the subscriber's address (__be32), and
 * lns_routes value, keyed by a Framed-Route prefix: what the downstream
 * path needs to encapsulate towards the LAC. */
struct lns_sub {
	__be32 lac_addr;	/* outer destination */
	__be32 lns_addr;	/* outer source */
	__be16 lac_port;	/* outer UDP destination */
	__be16 lns_port;	/* outer UDP source */
	__be16 peer_tunnel;	/* the LAC's Assigned Tunnel ID */
	__be16 peer_session;	/* the LAC's Assigned Session ID */
	__u16 mtu;		/* largest IP packet the session carries */
	__u16 mss;		/* TCP MSS clamp (0: none) */
	__u32 slot;
	__u32 flags;
};

/* lns_routes key (LPM trie): a Framed-Route prefix (RFC 2865 section 5.22). */
struct lns_route_key {
	__u32 prefixlen;
	__be32 addr;
};

/* lns_routes6 key (LPM trie): one of a session's IPv6 prefixes, the /64
 * of its link (Framed-IPv6-Prefix, RFC 3162 section 2.3), its delegated
 * prefix (RFC 4818) or a single address; the value is the session's
 * struct lns_sub. The address is in network order (the trie matches its
 * bits from the first octet). */
struct lns_route6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* ---------------------------------------------------------------- LAC -- */

/* lac_subs key: a PPPoE session as it arrives on the access port. */
struct lac_sub_key {
	__u32 ifindex;		/* access interface (ingress_ifindex) */
	__u8 mac[6];		/* subscriber MAC (Ethernet source) */
	__be16 pppoe_sid;	/* PPPoE SESSION_ID */
	__be16 vlan[2];		/* VLAN IDs, outer then inner (TCI & 0x0fff, network order); 0: no tag */
};

/* lac_subs value: the L2TP session the frames go into. */
struct lac_sub {
	__be32 lac_addr;	/* outer source */
	__be32 lns_addr;	/* outer destination */
	__be16 lac_port;	/* outer UDP source */
	__be16 lns_port;	/* outer UDP destination */
	__be16 peer_tunnel;	/* the LNS's Assigned Tunnel ID */
	__be16 peer_session;	/* the LNS's Assigned Session ID */
	__u16 mss;		/* TCP MSS clamp (0: none) */
	__u16 pad;
	__u32 slot;
	__u32 flags;
};

/* lac_sessions key: the LAC's own IDs, as the LNS writes them. */
struct lac_sess_key {
	__be16 tunnel_id;
	__be16 session_id;
};

/* lac_sessions value: the PPPoE session the frames go out on. */
struct lac_sess {
	__be32 lns_addr;	/* the LNS's address, source of the tunnel's datagrams */
	__u32 ifindex;		/* access interface to redirect to */
	__u8 sub_mac[6];	/* Ethernet destination */
	__u8 ac_mac[6];		/* Ethernet source */
	__be16 pppoe_sid;
	__be16 lns_port;	/* the LNS's UDP port */
	__be16 vlan_tpid[2];	/* tags to push, outer first (0x8100/0x88a8, network order; 0: none) */
	__be16 vlan_tci[2];
	__u16 mru;		/* the subscriber's MRU: a longer IP packet goes to the slow path */
	__u16 mss;		/* TCP MSS clamp (0: none) */
	__u32 slot;
	__u32 flags;
};

/* -------------------------------------------------------- shared maps -- */

/* Sized by the Go loader (MaxEntries) before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct dp_counters);
	__uint(max_entries, 65536);
} session_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct dp_policer);
	__uint(max_entries, 65536);
} session_policers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, DP_NUM_REASONS);
} reason_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct dp_config);
	__uint(max_entries, 1);
} settings SEC(".maps");

/* ------------------------------------------------------------ helpers -- */

#define DP_INLINE static __always_inline

/* Keeps clang from proving a bounds check redundant and dropping it, which
 * leaves the verifier with an unbounded offset (shared/notes/xdp.md). */
#define DP_BARRIER(x) asm volatile("" : "+r"(x))

DP_INLINE void dp_count(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&reason_stats, &reason);
	if (v)
		*v += 1;
}

/* dp_verdict counts reason and returns the XDP verdict. */
DP_INLINE int dp_verdict(__u32 reason, int verdict)
{
	dp_count(reason);
	return verdict;
}

DP_INLINE struct dp_config *dp_cfg(void)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&settings, &k);
}

/* dp_l2tp_port reports whether port (network order) is one of the local
 * L2TP ports: l2tp_port and the l2tp_ports - 1 after it. */
DP_INLINE int dp_l2tp_port(const struct dp_config *cfg, __be16 port)
{
	__u16 off = (__u16)(bpf_ntohs(port) - bpf_ntohs(cfg->l2tp_port));
	return off < (cfg->l2tp_ports ? cfg->l2tp_ports : 1);
}

DP_INLINE struct dp_counters *dp_session_counters(__u32 slot)
{
	return bpf_map_lookup_elem(&session_counters, &slot);
}

DP_INLINE __u16 dp_csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* dp_ipv4_csum computes the checksum of a 20-octet IPv4 header (RFC 791
 * section 3.1) whose check field is zero; over a header with its checksum
 * in place it gives 0 when that checksum is right. */
DP_INLINE __u16 dp_ipv4_csum(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u64 sum = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return dp_csum_fold(sum);
}

/* dp_csum_replace2 updates the checksum *sum for a 16-bit field changing
 * from old to new (RFC 1624 equation 3: HC' = ~(~HC + ~m + m')). All three
 * in network order. */
DP_INLINE void dp_csum_replace2(__u16 *sum, __u16 old, __u16 new)
{
	__u32 s = (__u16)~*sum;
	s += (__u16)~old;
	s += new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*sum = (__u16)~s;
}

/* dp_ttl_dec decrements the TTL of a header checked to have TTL > 1 and
 * updates its checksum (RFC 1812 section 5.3.1, RFC 1624). */
DP_INLINE void dp_ttl_dec(struct iphdr *iph)
{
	__u16 old = *(__u16 *)&iph->ttl; /* TTL and protocol share a word */
	iph->ttl--;
	dp_csum_replace2(&iph->check, old, *(__u16 *)&iph->ttl);
}

/* dp_police charges n octets to bucket b now; it returns 1 when the
 * packet conforms. A nonconforming packet is not charged. The state is one
 * word changed by compare-and-swap, like lns.TokenBucket, because every CPU
 * charges the same bucket; a few lost races let a packet through rather
 * than spin. The clock is read only for a session with a rate: most have
 * none, and the read costs as much as a map lookup. */
DP_INLINE int dp_police(struct dp_bucket *b, __u32 n)
{
	__u64 ps = b->ps_per_octet;
	if (ps == 0)
		return 1;
	__u64 now = bpf_ktime_get_ns();
	__u64 cost = (__u64)n * ps / 1000;
	__u64 tol = b->tolerance_ns;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u64 old = b->tat;
		__u64 t = old < now ? now : old;
		__u64 next = t + cost;
		if (next - now > tol)
			return 0;
		if (__sync_val_compare_and_swap(&b->tat, old, next) == old)
			return 1;
	}
	return 1;
}

/* TCP option kinds (RFC 9293 section 3.2). */
#define TCPOPT_EOL_ 0
#define TCPOPT_NOP_ 1
#define TCPOPT_MSS_ 2

/*
 * dp_mss_clamp_tcp lowers the MSS option of the TCP SYN (or SYN-ACK)
 * segment at th to mss, when it is larger, and fixes the TCP checksum
 * incrementally (the pseudo-header does not change). It returns 1 when it
 * changed the packet. A segment it cannot parse is left alone: the clamp
 * is an optimisation for the peers, never a reason to drop.
 */
DP_INLINE int dp_mss_clamp_tcp(struct tcphdr *th, void *data_end, __u16 mss)
{
	if ((void *)(th + 1) > data_end)
		return 0;
	if (!th->syn)
		return 0;
	__u32 doff = th->doff * 4;
	if (doff <= sizeof(*th) || doff > 60)
		return 0;
	__u8 *opt = (__u8 *)(th + 1);
	__u8 *end = (__u8 *)th + doff;
	if ((void *)end > data_end)
		return 0;
	/* At most 40 octets of options: a bounded walk, one option a step. */
#pragma unroll
	for (int i = 0; i < 20; i++) {
		if ((void *)(opt + 1) > data_end || opt >= end)
			return 0;
		__u8 kind = opt[0];
		if (kind == TCPOPT_EOL_)
			return 0;
		if (kind == TCPOPT_NOP_) {
			opt++;
			continue;
		}
		if ((void *)(opt + 2) > data_end)
			return 0;
		__u8 len = opt[1];
		if (len < 2)
			return 0;
		if (kind == TCPOPT_MSS_ && len == 4) {
			if ((void *)(opt + 4) > data_end || opt + 4 > end)
				return 0;
			__u16 *val = (__u16 *)(opt + 2);
			__u16 old;
			__builtin_memcpy(&old, val, 2);
			if (bpf_ntohs(old) <= mss)
				return 0;
			__u16 new = bpf_htons(mss);
			__builtin_memcpy(val, &new, 2);
			/* The checksum sums 16-bit words from the start of the
			 * segment: a value at an odd offset (after one NOP, say)
			 * straddles two of them and counts byte-swapped. */
			if (((__u8 *)val - (__u8 *)th) & 1)
				dp_csum_replace2(&th->check, __builtin_bswap16(old), __builtin_bswap16(new));
			else
				dp_csum_replace2(&th->check, old, new);
			dp_count(DP_MSS_CLAMPED);
			return 1;
		}
		opt += len;
	}
	return 0;
}

/*
 * dp_mss_clamp clamps a TCP SYN in the IPv4 packet at iph to mss
 * (dp_mss_clamp_tcp). The IPv4 header is known to be 20 octets (no
 * options) and not a fragment.
 */
DP_INLINE int dp_mss_clamp(struct iphdr *iph, void *data_end, __u16 mss)
{
	if (mss == 0 || iph->protocol != IPPROTO_TCP)
		return 0;
	return dp_mss_clamp_tcp((void *)(iph + 1), data_end, mss);
}

/*
 * dp_mss_clamp6 clamps a TCP SYN in the IPv6 packet at ip6 (RFC 8200)
 * whose TCP header follows the fixed header directly; mss is the IPv4
 * clamp, and IPv6's header is 20 octets longer (RFC 9293 section 3.7.1),
 * as in dataplane.ClampMSS6. A packet with extension headers in front of
 * TCP is left alone.
 */
DP_INLINE int dp_mss_clamp6(struct ipv6hdr *ip6, void *data_end, __u16 mss)
{
	if (mss <= 20 || ip6->nexthdr != IPPROTO_TCP)
		return 0;
	return dp_mss_clamp_tcp((void *)(ip6 + 1), data_end, mss - 20);
}

/* dp_fib_fill prepares a bpf_fib_lookup for an IPv4 packet of tot_len
 * octets from src to dst arriving on ifindex. */
DP_INLINE void dp_fib_fill(struct bpf_fib_lookup *p, __u32 ifindex, __be32 src, __be32 dst, __u8 tos, __u16 tot_len)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->family = AF_INET;
	p->ipv4_src = src;
	p->ipv4_dst = dst;
	p->tos = tos;
	p->l4_protocol = IPPROTO_UDP;
	p->tot_len = tot_len;
	p->ifindex = ifindex;
}

/* ------------------------------------------------- L2TP and PPP parsing -- */

/* Longest L2TPv2 data header dp_parse_l2tp accepts: flags, Length, Tunnel
 * ID, Session ID, Offset Size and at most DP_L2TP_MAX_PAD octets of offset
 * padding (a longer padding goes to the slow path). */
#define DP_L2TP_MAX_PAD 255
#define DP_L2TP_MAX_HDR (DP_L2TP_HDR + 2 + 2 + DP_L2TP_MAX_PAD)

/* What dp_parse_l2tp found in an L2TPv2 data header. */
struct dp_l2tp {
	__be16 tunnel_id;	/* as on the wire (network order): the receiver's own ID */
	__be16 session_id;
	__u32 hdr_len;		/* octets from the L2TP header to the PPP frame, <= DP_L2TP_MAX_HDR */
};

/*
 * dp_parse_l2tp parses the L2TPv2 data header at h (RFC 2661 section 3.1),
 * the start of a UDP payload of plen octets that the caller has checked to
 * end within the frame (h + plen <= data_end). It returns 0 and fills *out,
 * or the reason to pass the datagram to the slow path: DP_PASS_CONTROL (T
 * bit), DP_PASS_OTHER (version not 2), DP_PASS_SEQUENCED (S bit: Ns and Nr
 * are the slow path's business), DP_PASS_MALFORMED (header longer than the
 * payload, Length field not plen, offset padding over DP_L2TP_MAX_PAD).
 * out->hdr_len is bounded, but clang may drop a bound it can prove: callers
 * adding it to a packet pointer bound it again after DP_BARRIER.
 */
DP_INLINE int dp_parse_l2tp(void *h, void *data_end, __u32 plen, struct dp_l2tp *out)
{
	__u8 *p = h;
	if ((void *)(p + DP_L2TP_HDR) > data_end || plen < DP_L2TP_HDR)
		return DP_PASS_MALFORMED;
	__u16 fl = ((__u16)p[0] << 8) | p[1];
	if (fl & L2TP_T)
		return DP_PASS_CONTROL;
	if ((fl & L2TP_VER_MASK) != L2TP_VER2)
		return DP_PASS_OTHER;
	if (fl & L2TP_S)
		return DP_PASS_SEQUENCED;
	__u32 off = 2;
	if (fl & L2TP_L) {
		if ((((__u32)p[2] << 8) | p[3]) != plen)
			return DP_PASS_MALFORMED;
		off = 4;
	}
	/* off is 2 or 4; Tunnel ID and Session ID follow. */
	__u8 *ids = p + off;
	if ((void *)(ids + 4) > data_end)
		return DP_PASS_MALFORMED;
	__builtin_memcpy(&out->tunnel_id, ids, 2);
	__builtin_memcpy(&out->session_id, ids + 2, 2);
	off += 4;
	if (fl & L2TP_O) {
		__u8 *os = p + off;
		if ((void *)(os + 2) > data_end)
			return DP_PASS_MALFORMED;
		__u32 pad = ((__u32)os[0] << 8) | os[1];
		if (pad > DP_L2TP_MAX_PAD)
			return DP_PASS_MALFORMED;
		off += 2 + pad;
	}
	DP_BARRIER(off);
	if (off > plen || off > DP_L2TP_MAX_HDR)
		return DP_PASS_MALFORMED;
	out->hdr_len = off;
	return 0;
}

/*
 * dp_parse_ppp parses the header of the PPP frame at p, len octets long
 * (within the frame): the address and control field FF 03, absent under
 * ACFC (RFC 1662 section 3.2), then the protocol, one octet when its low
 * bit is 1 (PFC, RFC 1661 section 6.6) and two otherwise. It returns 0,
 * the header length (1..4) in *hlen and the protocol (PPP_IPV4 or
 * PPP_IPV6) in *proto when the frame carries IP; DP_PASS_PPP for any other
 * protocol, DP_PASS_MALFORMED when the header does not fit in len.
 */
DP_INLINE int dp_parse_ppp(void *p, void *data_end, __u32 len, __u32 *hlen, __u32 *proto)
{
	__u8 *b = p;
	__u32 n = 0;
	if ((void *)(b + 2) > data_end || len < 2)
		return DP_PASS_MALFORMED;
	if (b[0] == 0xff) {
		if (b[1] != 0x03)
			return DP_PASS_PPP;
		n = 2;
	}
	/* n is 0 or 2: the protocol field starts at b + n. */
	__u8 *pr = b + n;
	if ((void *)(pr + 1) > data_end || n + 1 > len)
		return DP_PASS_MALFORMED;
	if (pr[0] & 1) {
		if (pr[0] != PPP_IPV4 && pr[0] != PPP_IPV6)
			return DP_PASS_PPP;
		*proto = pr[0];
		*hlen = n + 1;
		return 0;
	}
	if ((void *)(pr + 2) > data_end || n + 2 > len)
		return DP_PASS_MALFORMED;
	if (pr[0] != 0 || (pr[1] != PPP_IPV4 && pr[1] != PPP_IPV6))
		return DP_PASS_PPP;
	*proto = pr[1];
	*hlen = n + 2;
	return 0;
}

/* ---------------------------------------------------------------- IPv6 -- */

/* dp_ip6_len is the length of the IPv6 packet at ip6 (RFC 8200 section
 * 3: the fixed header and its Payload Length). */
DP_INLINE __u32 dp_ip6_len(const struct ipv6hdr *ip6)
{
	return sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
}

/* dp_ip6_link_scope reports an address the packet must not leave the link
 * with, as lns.dpDstLinkScope does: link-local unicast (fe80::/10), or
 * link-local or interface-local multicast (ffx2::/16, ffx1::/16). */
DP_INLINE int dp_ip6_link_scope(const __u8 *a)
{
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return 1;
	return a[0] == 0xff && ((a[1] & 0x0f) == 0x02 || (a[1] & 0x0f) == 0x01);
}

/* dp_fib_fill6 prepares a bpf_fib_lookup for the IPv6 packet at ip6, of
 * tot_len octets, arriving on ifindex. */
DP_INLINE void dp_fib_fill6(struct bpf_fib_lookup *p, __u32 ifindex, const struct ipv6hdr *ip6, __u16 tot_len)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->family = AF_INET6;
	__be32 fl;
	__builtin_memcpy(&fl, ip6, 4);
	p->flowinfo = fl & bpf_htonl(0x0fffffff); /* traffic class and flow label */
	p->l4_protocol = ip6->nexthdr;
	p->tot_len = tot_len;
	p->ifindex = ifindex;
	__builtin_memcpy(p->ipv6_src, &ip6->saddr, 16);
	__builtin_memcpy(p->ipv6_dst, &ip6->daddr, 16);
}

#endif /* BRAS_DATAPLANE_H */
