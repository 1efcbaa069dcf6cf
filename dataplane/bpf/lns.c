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
 * IPv6 (RFC 5072, PPP protocol 0x0057) the same way, as the user-space
 * engine does it (lns/dataplane6.go): upstream the source must lie in the
 * prefix of lns_routes6 that is the session's, Router Advertisements and
 * Redirects from the subscriber are dropped (RFC 4861 sections 6.1.2 and
 * 8.1), Router Solicitations and link-scope traffic (DHCPv6, neighbour
 * discovery, link-local) go to the control plane; downstream the longest
 * prefix in lns_routes6 holding the destination picks the session.
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

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lns_route6_key);
	__type(value, struct lns_sub);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
} lns_routes6 SEC(".maps");

/*
 * The FIB's answers for IPv6 upstream, per destination: the kernel's IPv6
 * lookup costs xdp_lns about 70 ns a packet more than IPv4's (BENCHMARKS.md),
 * most of the program's time. An entry holds for one generation of
 * dp_config.fib_gen, which the daemon moves on every change of the
 * kernel's routes, neighbours or links and at least once a second, so a
 * route change reaches the fast path as it reaches the kernel. A miss is
 * cached only with probability 1/fib6_admit, so a flood to random
 * destinations pays the lookup, not a cache insert a packet; destinations
 * the traffic returns to are cached within a few packets.
 *
 * The key is the destination, the source's /64 (policy routing by
 * subscriber prefix keeps working) and the arrival interface. Multipath
 * routes are chosen per destination and source /64 instead of per flow.
 */
struct fib6_key {
	__u8 dst[16];
	__u8 src64[8];
	__u32 ifindex;
};

struct fib6_hop {
	__u32 gen;		/* dp_config.fib_gen it was looked up under */
	__u32 ifindex;		/* out through */
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
	__u16 mtu;		/* the route's MTU (bpf_fib_lookup's mtu_result) */
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct fib6_key);
	__type(value, struct fib6_hop);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 65536);
} fib6_cache SEC(".maps");

#define IP_MF_ 0x2000
#define IP_OFFSET_ 0x1fff
#define IP_DF_ 0x4000

/* dp_redirect_eth writes the Ethernet header (ethertype proto, network
 * order) of a frame going out through the FIB's next hop and redirects it
 * there. */
DP_INLINE int dp_redirect_eth(struct ethhdr *eth, const struct bpf_fib_lookup *fib, __be16 proto, __u32 reason)
{
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	eth->h_proto = proto;
	dp_count(reason);
	return bpf_redirect(fib->ifindex, 0);
}

/* dp_trim removes the octets past the first want octets of the frame
 * (Ethernet padding, or the tail of a datagram longer than its IP
 * packet). It returns 0, or -1 when the kernel refused. The program is
 * not loaded for multi-buffer frames (SEC("xdp"), not "xdp.frags"), so a
 * frame is all between data and data_end. */
DP_INLINE int dp_trim(struct xdp_md *ctx, __u32 want)
{
	__u64 len = ctx->data_end - ctx->data;
	if (len <= want)
		return 0;
	if (len - want > 0xffff)
		return -1;
	return bpf_xdp_adjust_tail(ctx, -(int)(len - want)) ? -1 : 0;
}

/*
 * lns_next_hop6 finds where the subscriber's IPv6 packet at in, of itot
 * octets, goes: from fib6_cache when it holds an entry of this generation,
 * else from bpf_fib_lookup (and then maybe into the cache). It returns -1
 * with *hop filled, or the verdict when the packet goes to the kernel.
 */
DP_INLINE int lns_next_hop6(struct xdp_md *ctx, const struct ipv6hdr *in, __u32 itot, const struct dp_config *cfg, struct fib6_hop *hop)
{
	struct fib6_key key = {};
	struct fib6_hop *cached = NULL;
	__u32 gen = cfg->fib_gen;
	__u32 admit = cfg->fib6_admit;
	if (admit) {
		__builtin_memcpy(key.dst, &in->daddr, 16);
		__builtin_memcpy(key.src64, &in->saddr, 8);
		key.ifindex = ctx->ingress_ifindex;
		cached = bpf_map_lookup_elem(&fib6_cache, &key);
		if (cached && cached->gen == gen) {
			*hop = *cached;
			return -1;
		}
	}

	struct bpf_fib_lookup fib;
	dp_fib_fill6(&fib, ctx->ingress_ifindex, in, itot);
	long rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return dp_verdict(DP_PASS_FIB, XDP_PASS);
	hop->gen = gen;
	hop->ifindex = fib.ifindex;
	__builtin_memcpy(hop->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(hop->smac, fib.smac, ETH_ALEN);
	/* On success mtu_result (a union with tot_len) is the route's MTU;
	 * a kernel that leaves tot_len there has checked this packet. */
	hop->mtu = fib.mtu_result ? fib.mtu_result : itot;
	hop->pad = 0;
	/* A stale entry is renewed in place; a new destination is admitted
	 * with probability 1/admit. The update replaces the element whole
	 * (RCU), so a reader on another CPU sees the old hop or the new. */
	if (admit && fib.mtu_result && (cached || (bpf_get_prandom_u32() & (admit - 1)) == 0))
		bpf_map_update_elem(&fib6_cache, &key, hop, BPF_ANY);
	return -1;
}

/*
 * lns_up6 routes the subscriber's IPv6 packet at in (RFC 8200), of session
 * sess, with ilen octets left for it in the L2TP message, at offset ioff in
 * the frame. The checks and their order are those of lns.decap6; what the
 * user-space engine hands to the control plane is passed.
 */
DP_INLINE int lns_up6(struct xdp_md *ctx, struct ipv6hdr *in, void *data_end, __u32 ilen, __u32 ioff, struct lns_sess *sess)
{
	if ((void *)(in + 1) > data_end || ilen < sizeof(*in))
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	if (in->version != 6)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 itot = dp_ip6_len(in);
	if (itot > ilen)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);

	__u32 slot = sess->slot;
	struct dp_counters *c = dp_session_counters(slot);
	struct dp_policer *pol = bpf_map_lookup_elem(&session_policers, &slot);
	if (!c || !pol)
		return dp_verdict(DP_PASS_NO_SESSION, XDP_PASS);

	/* Router discovery (ra.Classify): only ICMPv6 right after the fixed
	 * header counts, as there. */
	if (in->nexthdr == IPPROTO_ICMPV6) {
		__u8 *icmp = (void *)(in + 1);
		if (itot < sizeof(*in) + 4 || (void *)(icmp + 1) > data_end)
			return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
		if (icmp[0] == ICMP6_RA || icmp[0] == ICMP6_REDIRECT) {
			c->drops += 1;
			return dp_verdict(DP_DROP_ND, XDP_DROP);
		}
		if (icmp[0] == ICMP6_RS)
			return dp_verdict(DP_PASS_LINK, XDP_PASS);
	}
	/* Link-scope traffic is the link's: the control plane answers DHCPv6
	 * and neighbour discovery, and drops the rest. */
	if (dp_ip6_link_scope(in->saddr.in6_u.u6_addr8) || dp_ip6_link_scope(in->daddr.in6_u.u6_addr8))
		return dp_verdict(DP_PASS_LINK, XDP_PASS);

	/* Anti-spoofing: the longest prefix holding the source must be one
	 * of the session's. */
	struct lns_route6_key rk = {.prefixlen = 128};
	__builtin_memcpy(rk.addr, &in->saddr, 16);
	struct lns_sub *rt = bpf_map_lookup_elem(&lns_routes6, &rk);
	if (!rt || rt->slot != slot) {
		c->drops += 1;
		return dp_verdict(DP_DROP_SPOOF, XDP_DROP);
	}

	if (in->daddr.in6_u.u6_addr8[0] == 0xff)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS); /* multicast: the kernel's business */
	if (in->nexthdr == 0)
		return dp_verdict(DP_PASS_OPTIONS, XDP_PASS); /* hop-by-hop options (RFC 8200 section 4.3) */
	if (in->hop_limit <= 1)
		return dp_verdict(DP_PASS_TTL, XDP_PASS);
	if (itot > sess->mtu)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);

	struct dp_config *cfg = dp_cfg();
	if (!cfg)
		return dp_verdict(DP_PASS_FIB, XDP_PASS);
	struct fib6_hop hop;
	int v = lns_next_hop6(ctx, in, itot, cfg, &hop);
	if (v >= 0)
		return v;
	if (itot > hop.mtu)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);
	if (hop.ifindex == cfg->slow_ifindex)
		return dp_verdict(DP_PASS_FIB, XDP_PASS);

	if (!dp_police(&pol->up, itot)) {
		c->drops += 1;
		return dp_verdict(DP_DROP_POLICER, XDP_DROP);
	}
	c->up_packets += 1;
	c->up_octets += itot;
	c->up6_packets += 1;
	c->up6_octets += itot;

	dp_mss_clamp6(in, data_end, sess->mss);
	in->hop_limit--; /* no header checksum in IPv6 */

	DP_BARRIER(ioff);
	if (ioff > 512)
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	if (dp_trim(ctx, ioff + itot))
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	if (bpf_xdp_adjust_head(ctx, (int)(ioff - sizeof(struct ethhdr))))
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	void *data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	__builtin_memcpy(eth->h_dest, hop.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, hop.smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	dp_count(DP_FWD_UP);
	return bpf_redirect(hop.ifindex, 0);
}

/*
 * lns_up decapsulates an L2TPv2 data message (RFC 2661 section 3.1) that
 * arrived in the IPv4/UDP datagram at ip (20-octet header, not a fragment,
 * to the L2TP port) and routes the subscriber's IPv4 packet it carries.
 */
DP_INLINE int lns_up(struct xdp_md *ctx, struct iphdr *ip, void *data_end)
{
	__u32 tot = bpf_ntohs(ip->tot_len);
	if ((void *)ip + tot > data_end)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp) || ulen + sizeof(*ip) > tot)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 plen = ulen - sizeof(*udp); /* the L2TP message; Ethernet padding after it is ignored */

	struct dp_l2tp l2;
	int r = dp_parse_l2tp(udp + 1, data_end, plen, &l2);
	if (r)
		return dp_verdict(r, XDP_PASS);

	struct lns_sess_key key = {.tunnel_id = l2.tunnel_id, .session_id = l2.session_id};
	struct lns_sess *sess = bpf_map_lookup_elem(&lns_sessions, &key);
	if (!sess)
		return dp_verdict(DP_PASS_NO_SESSION, XDP_PASS);
	if (ip->saddr != sess->lac_addr || udp->source != sess->lac_port)
		return dp_verdict(DP_DROP_PEER, XDP_DROP);
	if (sess->flags & DP_F_SEQUENCING)
		return dp_verdict(DP_PASS_SEQUENCED, XDP_PASS);

	__u32 hl = l2.hdr_len;
	DP_BARRIER(hl);
	if (hl > DP_L2TP_MAX_HDR || hl > plen)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u8 *ppp = (__u8 *)(udp + 1) + hl;
	__u32 ph, proto = 0;
	r = dp_parse_ppp(ppp, data_end, plen - hl, &ph, &proto);
	if (r)
		return dp_verdict(r, XDP_PASS);
	DP_BARRIER(ph);
	if (ph > DP_PPP_HDR)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 ilen = plen - hl - ph; /* what the L2TP message has left for the IP packet */
	__u32 ioff = sizeof(struct ethhdr) + sizeof(*ip) + sizeof(*udp) + hl + ph;
	if (proto == PPP_IPV6)
		return lns_up6(ctx, (void *)(ppp + ph), data_end, ilen, ioff, sess);

	struct iphdr *in = (void *)(ppp + ph);
	if ((void *)(in + 1) > data_end || ilen < sizeof(*in))
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	if (in->version != 4 || in->ihl < 5)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	if (in->ihl > 5)
		return dp_verdict(DP_PASS_OPTIONS, XDP_PASS);
	/* A router verifies the header checksum (RFC 1812 section 5.2.2);
	 * the TTL update below is incremental and would carry a bad one on. */
	if (dp_ipv4_csum(in) != 0)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 itot = bpf_ntohs(in->tot_len);
	if (itot < sizeof(*in) || itot > ilen)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	if (in->frag_off & bpf_htons(IP_MF_ | IP_OFFSET_))
		return dp_verdict(DP_PASS_FRAGMENT, XDP_PASS);
	if (in->ttl <= 1)
		return dp_verdict(DP_PASS_TTL, XDP_PASS);
	if (itot > sess->mtu)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);

	__u32 slot = sess->slot;
	struct dp_counters *c = dp_session_counters(slot);
	struct dp_policer *pol = bpf_map_lookup_elem(&session_policers, &slot);
	if (!c || !pol)
		return dp_verdict(DP_PASS_NO_SESSION, XDP_PASS);

	/* Anti-spoofing: the session's address or one of its Framed-Routes. */
	if (in->saddr != sess->sub_addr || sess->sub_addr == 0) {
		struct lns_route_key rk = {.prefixlen = 32, .addr = in->saddr};
		struct lns_sub *rt = bpf_map_lookup_elem(&lns_routes, &rk);
		if (!rt || rt->slot != slot) {
			c->drops += 1;
			return dp_verdict(DP_DROP_SPOOF, XDP_DROP);
		}
	}

	struct bpf_fib_lookup fib;
	dp_fib_fill(&fib, ctx->ingress_ifindex, in->saddr, in->daddr, in->tos, itot);
	fib.l4_protocol = in->protocol;
	long rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return dp_verdict(DP_PASS_FIB, XDP_PASS);
	struct dp_config *cfg = dp_cfg();
	if (!cfg || fib.ifindex == cfg->slow_ifindex)
		return dp_verdict(DP_PASS_FIB, XDP_PASS);

	if (!dp_police(&pol->up, itot)) {
		c->drops += 1;
		return dp_verdict(DP_DROP_POLICER, XDP_DROP);
	}
	c->up_packets += 1;
	c->up_octets += itot;

	dp_mss_clamp(in, data_end, sess->mss);
	dp_ttl_dec(in);

	/* Keep a new Ethernet header and the inner packet, nothing else. */
	if (dp_trim(ctx, ioff + itot))
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	if (bpf_xdp_adjust_head(ctx, (int)(ioff - sizeof(struct ethhdr))))
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	void *data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	return dp_redirect_eth(eth, &fib, bpf_htons(ETH_P_IP), DP_FWD_UP);
}

/*
 * lns_down_admit is what both families share downstream once the inner
 * packet (tot octets) passed its checks: the session's counters and
 * policer, the FIB lookup towards the LAC (into fib), the rate, and the
 * counting (v6: the IPv6 share too). It returns -1 to go on with the
 * encapsulation, or the verdict.
 */
DP_INLINE int lns_down_admit(struct xdp_md *ctx, struct lns_sub *sub, struct bpf_fib_lookup *fib, __u32 tot, int v6)
{
	__u32 slot = sub->slot;
	struct dp_counters *c = dp_session_counters(slot);
	struct dp_policer *pol = bpf_map_lookup_elem(&session_policers, &slot);
	if (!c || !pol)
		return dp_verdict(DP_PASS_NO_SESSION, XDP_PASS);

	dp_fib_fill(fib, ctx->ingress_ifindex, sub->lns_addr, sub->lac_addr, 0, tot + DP_ENCAP);
	long rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return dp_verdict(DP_PASS_FIB, XDP_PASS);

	if (!dp_police(&pol->down, tot)) {
		c->drops += 1;
		return dp_verdict(DP_DROP_POLICER, XDP_DROP);
	}
	c->down_packets += 1;
	c->down_octets += tot;
	if (v6) {
		c->down6_packets += 1;
		c->down6_octets += tot;
	}
	return -1;
}

/*
 * lns_encap pushes IPv4, UDP, the L2TP data header without optional
 * fields and PPP FF 03 00 proto in front of the IP packet of tot octets
 * that follows the Ethernet header (anything after it trimmed), towards
 * the LAC of sub through the FIB's answer fib, and redirects it.
 */
DP_INLINE int lns_encap(struct xdp_md *ctx, struct lns_sub *sub, const struct bpf_fib_lookup *fib, __u32 tot, __u8 proto)
{
	if (dp_trim(ctx, sizeof(struct ethhdr) + tot))
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	if (bpf_xdp_adjust_head(ctx, -(int)DP_ENCAP))
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *o = (void *)(eth + 1);
	struct udphdr *udp = (void *)(o + 1);
	__u8 *l2tp = (void *)(udp + 1);
	if ((void *)(l2tp + DP_L2TP_HDR + DP_PPP_HDR) > data_end)
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);

	o->version = 4;
	o->ihl = 5;
	o->tos = 0;
	o->tot_len = bpf_htons(tot + DP_ENCAP);
	o->id = 0;
	o->frag_off = bpf_htons(IP_DF_);
	o->ttl = 64;
	o->protocol = IPPROTO_UDP;
	o->check = 0;
	o->saddr = sub->lns_addr;
	o->daddr = sub->lac_addr;
	o->check = dp_ipv4_csum(o);

	udp->source = sub->lns_port;
	udp->dest = sub->lac_port;
	udp->len = bpf_htons(tot + DP_ENCAP - sizeof(*o));
	udp->check = 0; /* no UDP checksum: IPv4 allows it (RFC 768) */

	/* T=0 L=0 S=0 O=0, version 2; the LAC's IDs; PPP address, control, protocol. */
	l2tp[0] = 0x00;
	l2tp[1] = L2TP_VER2;
	__builtin_memcpy(l2tp + 2, &sub->peer_tunnel, 2);
	__builtin_memcpy(l2tp + 4, &sub->peer_session, 2);
	l2tp[6] = 0xff;
	l2tp[7] = 0x03;
	l2tp[8] = 0x00;
	l2tp[9] = proto;

	return dp_redirect_eth(eth, fib, bpf_htons(ETH_P_IP), DP_FWD_DOWN);
}

/*
 * lns_down encapsulates the IPv4 packet at ip, addressed to a subscriber
 * (sub), into an L2TPv2 data message towards the LAC: IPv4, UDP, the L2TP
 * data header without optional fields, and PPP FF 03 00 21.
 */
DP_INLINE int lns_down(struct xdp_md *ctx, struct iphdr *ip, void *data_end, struct lns_sub *sub)
{
	if (sub->flags & DP_F_SEQUENCING)
		return dp_verdict(DP_PASS_SEQUENCED, XDP_PASS);
	if (ip->version != 4 || ip->ihl < 5)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	if (ip->ihl > 5)
		return dp_verdict(DP_PASS_OPTIONS, XDP_PASS);
	if (dp_ipv4_csum(ip) != 0) /* RFC 1812 section 5.2.2 */
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 tot = bpf_ntohs(ip->tot_len);
	if (tot < sizeof(*ip) || (void *)ip + tot > data_end)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	if (ip->frag_off & bpf_htons(IP_MF_ | IP_OFFSET_))
		return dp_verdict(DP_PASS_FRAGMENT, XDP_PASS);
	if (ip->ttl <= 1)
		return dp_verdict(DP_PASS_TTL, XDP_PASS);
	if (tot > sub->mtu)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);

	struct bpf_fib_lookup fib;
	int v = lns_down_admit(ctx, sub, &fib, tot, 0);
	if (v >= 0)
		return v;

	dp_mss_clamp(ip, data_end, sub->mss);
	dp_ttl_dec(ip);

	return lns_encap(ctx, sub, &fib, tot, PPP_IPV4);
}

/*
 * lns_down6 encapsulates the IPv6 packet at ip6, whose destination lies
 * in a prefix of sub's (the longest of lns_routes6 holding it), into an
 * L2TPv2 data message with PPP protocol 0x0057 (RFC 5072 section 3).
 */
DP_INLINE int lns_down6(struct xdp_md *ctx, struct ipv6hdr *ip6, void *data_end, struct lns_sub *sub)
{
	if (sub->flags & DP_F_SEQUENCING)
		return dp_verdict(DP_PASS_SEQUENCED, XDP_PASS);
	if (ip6->version != 6)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 tot = dp_ip6_len(ip6);
	if ((void *)ip6 + tot > data_end)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	if (ip6->nexthdr == 0)
		return dp_verdict(DP_PASS_OPTIONS, XDP_PASS); /* hop-by-hop options (RFC 8200 section 4.3) */
	if (ip6->hop_limit <= 1)
		return dp_verdict(DP_PASS_TTL, XDP_PASS);
	if (tot > sub->mtu)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);

	struct bpf_fib_lookup fib;
	int v = lns_down_admit(ctx, sub, &fib, tot, 1);
	if (v >= 0)
		return v;

	dp_mss_clamp6(ip6, data_end, sub->mss);
	ip6->hop_limit--;
	return lns_encap(ctx, sub, &fib, tot, PPP_IPV6);
}

/* lns_from_net6 looks up the destination of an IPv6 packet from the
 * network: one in a subscriber's prefix is encapsulated (lns_down6);
 * multicast, link-local (the kernel's own neighbour discovery) and
 * anything else passes. */
DP_INLINE int lns_from_net6(struct xdp_md *ctx, struct ipv6hdr *ip6, void *data_end)
{
	if ((void *)(ip6 + 1) > data_end)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u8 *dst = ip6->daddr.in6_u.u6_addr8;
	if (dst[0] == 0xff || (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80))
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	struct lns_route6_key rk = {.prefixlen = 128};
	__builtin_memcpy(rk.addr, dst, 16);
	struct lns_sub *sub = bpf_map_lookup_elem(&lns_routes6, &rk);
	if (!sub)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	return lns_down6(ctx, ip6, data_end, sub);
}

SEC("xdp")
int xdp_lns(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return lns_from_net6(ctx, (void *)(eth + 1), data_end);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	struct dp_config *cfg = dp_cfg();
	if (!cfg)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);

	/* UDP to the L2TP port: upstream. A later fragment has no UDP
	 * header and is not recognised: the downstream path passes it. */
	if (ip->version == 4 && ip->ihl == 5 && ip->protocol == IPPROTO_UDP &&
	    !(ip->frag_off & bpf_htons(IP_OFFSET_))) {
		struct udphdr *udp = (void *)(ip + 1);
		if ((void *)(udp + 1) <= data_end && udp->dest == cfg->l2tp_port) {
			if (ip->frag_off & bpf_htons(IP_MF_))
				return dp_verdict(DP_PASS_FRAGMENT, XDP_PASS);
			return lns_up(ctx, ip, data_end);
		}
	}

	/* Downstream: to a subscriber's address or Framed-Route. */
	__be32 daddr = ip->daddr;
	struct lns_sub *sub = bpf_map_lookup_elem(&lns_subs, &daddr);
	if (!sub) {
		struct lns_route_key rk = {.prefixlen = 32, .addr = daddr};
		sub = bpf_map_lookup_elem(&lns_routes, &rk);
	}
	if (!sub)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	return lns_down(ctx, ip, data_end, sub);
}

char _license[] SEC("license") = "Dual BSD/GPL";
