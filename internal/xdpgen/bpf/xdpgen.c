/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The forwarding benchmark's traffic generator and sink (DESIGN.md
 * section 8: the same NIC-like generator drives bras and the kernel).
 *
 * xdp_gen is run by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on
 * a template frame: Ethernet + IPv4 + UDP, or Ethernet + PPPoE session
 * (RFC 2516 section 5) + PPP 0x0021 + IPv4 + UDP; or the same with IPv6
 * (ethertype 0x86dd, PPP 0x0057, RFC 5072) in place of IPv4. Per packet it sets the
 * UDP source port to the next of GEN_SPORT_SPAN ports from GEN_SPORT_BASE
 * (the checksum updated as RFC 1624 says; a zero UDP checksum stays zero)
 * and returns XDP_TX, which live-frames mode turns into a redirect out of
 * the ingress interface: the frame leaves the sending veth towards its
 * peer as an xdp_frame, as from a NIC. The kernel copies the frame into
 * each page of its pool once and reuses the pages as they come back, with
 * whatever the path wrote into them (a router's TTL decrement, a fast
 * path's encapsulation): so the program first writes the first GEN_HDR
 * octets of the template (gen_tmpl, set by Go) over the frame, then the
 * port, never anything relative to what the page held.
 *
 * xdp_sink runs on the far end's interface: a frame carrying the marker
 * (IPv4 or IPv6 UDP to port SINK_PORT, bare or inside a PPPoE session with PPP
 * protocol 0x0021 or 0x0057, compressed or not, FF 03 or not) is counted in a
 * per-CPU counter and dropped; every other frame passes unchanged, so
 * ARP, PPPoE discovery, LCP and L2TP control keep working.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GEN_HDR 72 /* template octets rewritten per packet: every header (PPPoE + IPv6 + UDP is 70) */
#define GEN_SPORT_BASE 10000
#define GEN_SPORT_SPAN 64
#define SINK_PORT 9

#define ETH_P_PPPOE_SESS 0x8864
#define PPP_IP 0x0021
#define PPP_IP6 0x0057

/* l3_off's answers carry the family in the bit above the offset. */
#define L3_IPV6 0x10000

/* struct gen_template is the start of the frame xdp_gen sends. */
struct gen_template {
	__u64 hdr[GEN_HDR / 8];
};

/* struct sink_count is one CPU's count of marker frames (host order). */
struct sink_count {
	__u64 packets;
	__u64 octets; /* Ethernet frame octets */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} gen_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct gen_template);
	__uint(max_entries, 1);
} gen_tmpl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct sink_count);
	__uint(max_entries, 1);
} sink_counts SEC(".maps");

/* pppoe_ip returns the offset of the IP header in a PPPoE session frame
 * carrying IPv4 or IPv6 (RFC 2516 section 5; RFC 1661 section 6.5 PFC;
 * RFC 1662 section 3.1 FF 03 when present), L3_IPV6 added for IPv6, or 0. */
static __always_inline __u32 pppoe_ip(__u8 *data, __u8 *end)
{
	__u8 *p = data + sizeof(struct ethhdr);
	if (p + 8 > end)
		return 0;
	if (p[0] != 0x11 || p[1] != 0) /* ver 1, type 1; code 0 (session data) */
		return 0;
	p += 6;
	if (p[0] == 0xff && p[1] == 0x03) {
		p += 2;
		if (p + 2 > end)
			return 0;
	}
	if (p[0] == 0x21) /* protocol field compressed */
		return p + 1 - data;
	if (p[0] == 0x57)
		return (p + 1 - data) | L3_IPV6;
	if (p[0] == 0x00 && p[1] == 0x21)
		return p + 2 - data;
	if (p[0] == 0x00 && p[1] == 0x57)
		return (p + 2 - data) | L3_IPV6;
	return 0;
}

/* udp_at returns the UDP header of an unfragmented IPv4 packet without
 * options at offset off, or of an IPv6 packet whose fixed header UDP
 * follows (off with L3_IPV6), or NULL. */
static __always_inline struct udphdr *udp_at(__u8 *data, __u8 *end, __u32 off)
{
	if (off & L3_IPV6) {
		off &= ~L3_IPV6;
		asm volatile("" : "+r"(off));
		if (off > 32)
			return NULL;
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(data + off);
		if ((__u8 *)(ip6 + 1) > end)
			return NULL;
		if (ip6->version != 6 || ip6->nexthdr != IPPROTO_UDP)
			return NULL;
		struct udphdr *udp = (struct udphdr *)(ip6 + 1);
		if ((__u8 *)(udp + 1) > end)
			return NULL;
		return udp;
	}
	asm volatile("" : "+r"(off));
	if (off > 32)
		return NULL;
	struct iphdr *ip = (struct iphdr *)(data + off);
	if ((__u8 *)(ip + 1) > end)
		return NULL;
	if (ip->version != 4 || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return NULL;
	if (ip->frag_off & bpf_htons(0x3fff)) /* MF or an offset */
		return NULL;
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	if ((__u8 *)(udp + 1) > end)
		return NULL;
	return udp;
}

/* l3_off returns the IP header's offset in an Ethernet frame, bare or in
 * a PPPoE session, L3_IPV6 added for IPv6, or 0. */
static __always_inline __u32 l3_off(__u8 *data, __u8 *end)
{
	struct ethhdr *eth = (struct ethhdr *)data;
	if ((__u8 *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return sizeof(*eth);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return sizeof(*eth) | L3_IPV6;
	if (eth->h_proto == bpf_htons(ETH_P_PPPOE_SESS))
		return pppoe_ip(data, end);
	return 0;
}

SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u32 zero = 0;
	struct gen_template *t = bpf_map_lookup_elem(&gen_tmpl, &zero);
	if (!t || data + GEN_HDR > end)
		return XDP_ABORTED;
	__u64 *w = (__u64 *)data;
#pragma unroll
	for (int i = 0; i < GEN_HDR / 8; i++)
		w[i] = t->hdr[i];
	__u32 off = l3_off(data, end);
	if (!off)
		return XDP_ABORTED;
	struct udphdr *udp = udp_at(data, end, off);
	if (!udp)
		return XDP_ABORTED;
	__u32 *seq = bpf_map_lookup_elem(&gen_seq, &zero);
	if (!seq)
		return XDP_ABORTED;
	__u16 port = GEN_SPORT_BASE + *seq % GEN_SPORT_SPAN;
	*seq += 1;
	__be16 old = udp->source, new = bpf_htons(port);
	if (udp->check) {
		/* RFC 1624 equation 3: HC' = ~(~HC + ~m + m'). */
		__u32 sum = (__u16)~udp->check + (__u16)~old + new;
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		__u16 check = ~sum;
		udp->check = check ? check : 0xffff; /* 0 means no checksum */
	}
	udp->source = new;
	return XDP_TX;
}

SEC("xdp")
int xdp_sink(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u32 off = l3_off(data, end);
	if (!off)
		return XDP_PASS;
	struct udphdr *udp = udp_at(data, end, off);
	if (!udp || udp->dest != bpf_htons(SINK_PORT))
		return XDP_PASS;
	__u32 zero = 0;
	struct sink_count *c = bpf_map_lookup_elem(&sink_counts, &zero);
	if (c) {
		c->packets++;
		c->octets += end - data;
	}
	return XDP_DROP;
}

char __license[] SEC("license") = "Dual BSD/GPL";
