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
 * The relay does not look into the IP packet beyond its header's length
 * (and a TCP SYN's MSS): IPv6 (PPP protocol 0x0057, RFC 5072) takes both
 * paths as IPv4 does, counted apart as well.
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

/* An 802.1Q/802.1ad tag after the MAC addresses. */
struct lac_vlan {
	__be16 tci;
	__be16 proto;
};

/* IPv4 flags and fragment offset (RFC 791 section 3.1). */
#define LAC_IP_DF 0x4000
#define LAC_IP_MF 0x2000
#define LAC_IP_OFFMASK 0x1fff

/* Octets the upstream path puts before the inner IPv4 header: Ethernet,
 * then IPv4, UDP, L2TP and PPP (DP_ENCAP). */
#define LAC_UP_HDR (sizeof(struct ethhdr) + DP_ENCAP) /* 52 */

/* Longest packet offset either path derives: Ethernet, two tags, and an
 * L2TP data header with the longest offset padding plus PPP, over IPv4/UDP.
 * Every variable offset is bounded by it before it meets a packet pointer. */
#define LAC_MAX_OFF 512

DP_INLINE int lac_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q_) || proto == bpf_htons(ETH_P_8021AD_);
}

DP_INLINE int lac_is_fragment(const struct iphdr *iph)
{
	return (iph->frag_off & bpf_htons(LAC_IP_MF | LAC_IP_OFFMASK)) != 0;
}

/*
 * lac_trim makes the frame end where the inner IPv4 packet of tot_len
 * octets at offset ip_off ends (Ethernet padding and anything else after
 * it dropped), then moves the frame's start so that hdr octets precede
 * the inner packet. It returns 0, or -1 when a helper failed.
 */
DP_INLINE int lac_trim(struct xdp_md *ctx, __u32 ip_off, __u32 tot_len, __u32 hdr)
{
	__u32 flen = ctx->data_end - ctx->data;
	__u32 end = ip_off + tot_len;
	if (end > flen)
		return -1;
	if (end < flen && bpf_xdp_adjust_tail(ctx, -(int)(flen - end)))
		return -1;
	if (bpf_xdp_adjust_head(ctx, (int)ip_off - (int)hdr))
		return -1;
	return 0;
}

/*
 * lac_inner checks the IP header at ip (PPP protocol proto: PPP_IPV4 or
 * PPP_IPV6) with avail octets of payload for the packet, at least 20 and
 * already known to be within the frame: the version is the protocol's and
 * the packet's length (*tot) fits. *plain says whether a TCP SYN in it may
 * be clamped: an IPv4 header without options and not a fragment; any
 * IPv6 packet (dp_mss_clamp6 looks at TCP right after the fixed header
 * only). It returns 0 or DP_PASS_MALFORMED.
 */
DP_INLINE int lac_inner(void *ip, void *data_end, __u32 proto, __u32 avail, __u32 *tot, int *plain)
{
	if (proto == PPP_IPV6) {
		struct ipv6hdr *ip6 = ip;
		if ((void *)(ip6 + 1) > data_end || avail < sizeof(*ip6) || ip6->version != 6)
			return DP_PASS_MALFORMED;
		*tot = dp_ip6_len(ip6);
		if (*tot > avail)
			return DP_PASS_MALFORMED;
		*plain = 1;
		return 0;
	}
	struct iphdr *iph = ip;
	if ((void *)(iph + 1) > data_end)
		return DP_PASS_MALFORMED;
	__u32 n = bpf_ntohs(iph->tot_len);
	if (iph->version != 4 || iph->ihl < 5 || n < iph->ihl * 4 || n > avail)
		return DP_PASS_MALFORMED;
	*tot = n;
	*plain = iph->ihl == 5 && !lac_is_fragment(iph);
	return 0;
}

/* lac_clamp clamps a TCP SYN in the IP packet at ip to mss (the IPv4
 * clamp; dp_mss_clamp6 takes IPv6's 20 octets off). */
DP_INLINE void lac_clamp(void *ip, void *data_end, __u32 proto, int plain, __u16 mss)
{
	if (!plain)
		return;
	if (proto == PPP_IPV6) {
		struct ipv6hdr *ip6 = ip;
		if ((void *)(ip6 + 1) <= data_end)
			dp_mss_clamp6(ip6, data_end, mss);
		return;
	}
	struct iphdr *iph = ip;
	if ((void *)(iph + 1) <= data_end)
		dp_mss_clamp(iph, data_end, mss);
}

/*
 * lac_up handles a PPPoE session frame (RFC 2516 section 4) whose PPPoE
 * header starts at off (after Ethernet and n tags; vlan holds their VIDs).
 */
DP_INLINE int lac_up(struct xdp_md *ctx, __u32 off, __be16 vlan0, __be16 vlan1)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 flen = data_end - data;

	DP_BARRIER(off);
	if (off > LAC_MAX_OFF)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u8 *ph = data + off;
	if ((void *)(ph + DP_PPPOE_HDR + 1) > data_end)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	if (ph[0] != 0x11 || ph[1] != 0x00)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 plen = ((__u32)ph[4] << 8) | ph[5];
	if (plen < 2 || off + DP_PPPOE_HDR + plen > flen)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);

	struct ethhdr *eth = data;
	struct lac_sub_key key;
	__builtin_memset(&key, 0, sizeof(key));
	key.ifindex = ctx->ingress_ifindex;
	__builtin_memcpy(key.mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(&key.pppoe_sid, ph + 2, 2);
	key.vlan[0] = vlan0;
	key.vlan[1] = vlan1;
	struct lac_sub *sub = bpf_map_lookup_elem(&lac_subs, &key);
	if (!sub)
		return dp_verdict(DP_PASS_NO_SESSION, XDP_PASS);

	/* The protocol field: one octet under PFC (odd), else two
	 * (RFC 1661 section 6.6); no address and control field over PPPoE
	 * (RFC 2516 section 7). plen >= 2 covers both octets. */
	__u8 *pp = ph + DP_PPPOE_HDR;
	if ((void *)(pp + 2) > data_end)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 pl, proto;
	if (pp[0] & 1) {
		if (pp[0] != PPP_IPV4 && pp[0] != PPP_IPV6)
			return dp_verdict(DP_PASS_PPP, XDP_PASS);
		proto = pp[0];
		pl = 1;
	} else {
		if (pp[0] != 0 || (pp[1] != PPP_IPV4 && pp[1] != PPP_IPV6))
			return dp_verdict(DP_PASS_PPP, XDP_PASS);
		proto = pp[1];
		pl = 2;
	}

	/* The inner IP header (RFC 791 section 3.1, RFC 8200 section 3),
	 * within the payload. */
	__u32 ip_off = off + DP_PPPOE_HDR + pl;
	__u32 avail = plen - pl;
	DP_BARRIER(ip_off);
	if (ip_off > LAC_MAX_OFF || avail < sizeof(struct iphdr))
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 tot;
	int plain;
	int r = lac_inner(data + ip_off, data_end, proto, avail, &tot, &plain);
	if (r)
		return dp_verdict(r, XDP_PASS);
	if (sub->flags & DP_F_SEQUENCING)
		return dp_verdict(DP_PASS_SEQUENCED, XDP_PASS);

	struct bpf_fib_lookup fib;
	dp_fib_fill(&fib, ctx->ingress_ifindex, sub->lac_addr, sub->lns_addr, 0, tot + DP_ENCAP);
	int rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return dp_verdict(DP_PASS_FIB, XDP_PASS);

	struct dp_counters *c = dp_session_counters(sub->slot);
	if (c) {
		c->up_packets += 1;
		c->up_octets += tot;
		if (proto == PPP_IPV6) {
			c->up6_packets += 1;
			c->up6_octets += tot;
		}
	}

	if (lac_trim(ctx, ip_off, tot, LAC_UP_HDR))
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + LAC_UP_HDR + sizeof(struct iphdr) > data_end)
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);

	eth = data;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);

	struct iphdr *oh = (void *)(eth + 1);
	oh->version = 4;
	oh->ihl = 5;
	oh->tos = 0;
	oh->tot_len = bpf_htons(tot + DP_ENCAP);
	oh->id = 0;
	oh->frag_off = bpf_htons(LAC_IP_DF);
	oh->ttl = 64;
	oh->protocol = IPPROTO_UDP;
	oh->check = 0;
	oh->saddr = sub->lac_addr;
	oh->daddr = sub->lns_addr;
	oh->check = dp_ipv4_csum(oh);

	struct udphdr *uh = (void *)(oh + 1);
	uh->source = sub->lac_port;
	uh->dest = sub->lns_port;
	uh->len = bpf_htons(tot + sizeof(*uh) + DP_L2TP_HDR + DP_PPP_HDR);
	uh->check = 0; /* none: RFC 768, allowed over IPv4 */

	/* L2TPv2 data header, no optional fields (RFC 2661 section 3.1),
	 * and the PPP frame's FF 03 00 21. */
	__u8 *l2 = (void *)(uh + 1);
	l2[0] = 0x00;
	l2[1] = L2TP_VER2;
	__builtin_memcpy(l2 + 2, &sub->peer_tunnel, 2);
	__builtin_memcpy(l2 + 4, &sub->peer_session, 2);
	l2[6] = 0xff;
	l2[7] = 0x03;
	l2[8] = 0x00;
	l2[9] = proto;

	lac_clamp(data + LAC_UP_HDR, data_end, proto, plain, sub->mss);
	dp_count(DP_FWD_UP);
	return bpf_redirect(fib.ifindex, 0);
}

/*
 * lac_down handles an untagged IPv4 frame: an L2TPv2 data message from
 * the LNS becomes a PPPoE session frame.
 */
DP_INLINE int lac_down(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 flen = data_end - data;

	struct iphdr *oh = data + sizeof(struct ethhdr);
	if ((void *)(oh + 1) > data_end)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	if (oh->ihl != 5 || oh->protocol != IPPROTO_UDP)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	struct dp_config *cfg = dp_cfg();
	if (!cfg)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	struct udphdr *uh = (void *)(oh + 1);
	if (lac_is_fragment(oh)) {
		/* Only a first fragment has the UDP header. */
		if (!(oh->frag_off & bpf_htons(LAC_IP_OFFMASK)) && (void *)(uh + 1) <= data_end &&
		    dp_l2tp_port(cfg, uh->dest))
			return dp_verdict(DP_PASS_FRAGMENT, XDP_PASS);
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	}
	if ((void *)(uh + 1) > data_end || !dp_l2tp_port(cfg, uh->dest))
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	__u32 tot = bpf_ntohs(oh->tot_len);
	__u32 ulen = bpf_ntohs(uh->len);
	if (tot > flen - sizeof(struct ethhdr) || tot < sizeof(*oh) + sizeof(*uh) ||
	    ulen < sizeof(*uh) || ulen > tot - sizeof(*oh))
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);

	/* The UDP payload ends within the frame: ulen <= tot - 20. */
	__u32 plen = ulen - sizeof(*uh);
	struct dp_l2tp l2;
	int rc = dp_parse_l2tp(uh + 1, data_end, plen, &l2);
	if (rc)
		return dp_verdict(rc, XDP_PASS);

	struct lac_sess_key key = {.tunnel_id = l2.tunnel_id, .session_id = l2.session_id};
	struct lac_sess *s = bpf_map_lookup_elem(&lac_sessions, &key);
	if (!s)
		return dp_verdict(DP_PASS_NO_SESSION, XDP_PASS);
	if (oh->saddr != s->lns_addr || uh->source != s->lns_port)
		return dp_verdict(DP_DROP_PEER, XDP_DROP);
	if (s->flags & DP_F_SEQUENCING)
		return dp_verdict(DP_PASS_SEQUENCED, XDP_PASS);

	/* The PPP frame: FF 03 optional, protocol compressed or not. */
	__u32 hl = l2.hdr_len;
	DP_BARRIER(hl);
	if (hl > DP_L2TP_MAX_HDR || hl > plen)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 ppp_off = sizeof(struct ethhdr) + sizeof(*oh) + sizeof(*uh) + hl;
	__u32 ppp_len = plen - hl;
	__u32 pl = 0, proto = 0;
	rc = dp_parse_ppp(data + ppp_off, data_end, ppp_len, &pl, &proto);
	if (rc)
		return dp_verdict(rc, XDP_PASS);

	/* The inner IP header, within the PPP frame. */
	DP_BARRIER(pl);
	if (pl > DP_PPP_HDR || pl > ppp_len)
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 ip_off = ppp_off + pl;
	__u32 avail = ppp_len - pl;
	DP_BARRIER(ip_off);
	if (ip_off > LAC_MAX_OFF || avail < sizeof(struct iphdr))
		return dp_verdict(DP_PASS_MALFORMED, XDP_PASS);
	__u32 itot;
	int plain;
	rc = lac_inner(data + ip_off, data_end, proto, avail, &itot, &plain);
	if (rc)
		return dp_verdict(rc, XDP_PASS);
	if (itot > s->mru)
		return dp_verdict(DP_PASS_MTU, XDP_PASS);

	struct dp_counters *c = dp_session_counters(s->slot);
	if (c) {
		c->down_packets += 1;
		c->down_octets += itot;
		if (proto == PPP_IPV6) {
			c->down6_packets += 1;
			c->down6_octets += itot;
		}
	}

	/* Ethernet, 0-2 tags, PPPoE, PPP protocol: 22 + 4 * ntags. */
	__u32 ntags = 0;
	if (s->vlan_tpid[0]) {
		ntags = 1;
		if (s->vlan_tpid[1])
			ntags = 2;
	}
	__u32 hdr = sizeof(struct ethhdr) + 4 * ntags + DP_PPPOE_HDR + 2;
	if (lac_trim(ctx, ip_off, itot, hdr))
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	DP_BARRIER(ntags);
	if (ntags > 2)
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	__builtin_memcpy(eth->h_dest, s->sub_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, s->ac_mac, ETH_ALEN);

	/* From the first tag's TPID (or the ethertype) on. */
	__u8 *p = data + 2 * ETH_ALEN + 4 * ntags;
	if ((void *)(p + 2 + DP_PPPOE_HDR + 2 + sizeof(struct iphdr)) > data_end)
		return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
	if (ntags >= 1) {
		__u8 *t = data + 2 * ETH_ALEN;
		if ((void *)(t + 4) > data_end)
			return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
		__builtin_memcpy(t, &s->vlan_tpid[0], 2);
		__builtin_memcpy(t + 2, &s->vlan_tci[0], 2);
		if (ntags == 2) {
			if ((void *)(t + 8) > data_end)
				return dp_verdict(DP_ERR_ADJUST, XDP_DROP);
			__builtin_memcpy(t + 4, &s->vlan_tpid[1], 2);
			__builtin_memcpy(t + 6, &s->vlan_tci[1], 2);
		}
	}
	__u16 len = 2 + itot;
	p[0] = ETH_P_PPPOE_SESS >> 8;
	p[1] = ETH_P_PPPOE_SESS & 0xff;
	p[2] = 0x11; /* VER 1, TYPE 1 */
	p[3] = 0x00; /* CODE: session data */
	__builtin_memcpy(p + 4, &s->pppoe_sid, 2);
	p[6] = len >> 8;
	p[7] = len & 0xff;
	p[8] = 0x00; /* PPP protocol, uncompressed over PPPoE */
	p[9] = proto;

	lac_clamp((void *)(p + 10), data_end, proto, plain, s->mss);
	dp_count(DP_FWD_DOWN);
	return bpf_redirect(s->ifindex, 0);
}

SEC("xdp")
int xdp_lac(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);

	__be16 proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_IP))
		return lac_down(ctx);

	/* Up to two tags, outer then inner; a third goes to the slow path. */
	__be16 vlan0 = 0, vlan1 = 0;
	__u32 off = sizeof(*eth);
	if (lac_is_vlan(proto)) {
		struct lac_vlan *v = data + sizeof(*eth);
		if ((void *)(v + 1) > data_end)
			return dp_verdict(DP_PASS_OTHER, XDP_PASS);
		vlan0 = v->tci & bpf_htons(0x0fff);
		proto = v->proto;
		off += sizeof(*v);
		if (lac_is_vlan(proto)) {
			v++;
			if ((void *)(v + 1) > data_end)
				return dp_verdict(DP_PASS_OTHER, XDP_PASS);
			vlan1 = v->tci & bpf_htons(0x0fff);
			proto = v->proto;
			off += sizeof(*v);
			if (lac_is_vlan(proto))
				return dp_verdict(DP_PASS_OTHER, XDP_PASS);
		}
	}
	if (proto != bpf_htons(ETH_P_PPPOE_SESS))
		return dp_verdict(DP_PASS_OTHER, XDP_PASS);
	return lac_up(ctx, off, vlan0, vlan1);
}

char _license[] SEC("license") = "Dual BSD/GPL";
