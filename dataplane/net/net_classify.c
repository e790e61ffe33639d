/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/net/net_classify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define ARP_LEN 28
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define ND_NS 135
#define ND_NA 136
#define NA_LEN 32           /* NA with a target link-layer address option */

static const uint8_t bcast_mac[NET_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

static const char *const drop_names[] = {
#define NET_DROP_NAME_(n, s) s,
	NET_DROP_REASONS(NET_DROP_NAME_)
#undef NET_DROP_NAME_
};

const char *net_drop_name(enum net_drop d)
{
	return (unsigned)d < NET_DROP_COUNT ? drop_names[d] : "?";
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

const struct net_addr *net_cfg_find(const struct net_cfg *cfg, uint8_t family, uint16_t vid,
				    const uint8_t *ip)
{
	size_t n = family == 6 ? 16 : 4;
	for (unsigned i = 0; i < cfg->n_addrs && i < NET_MAX_ADDRS; i++) {
		const struct net_addr *a = &cfg->addrs[i];
		if (a->family == family && a->vid == vid && memcmp(a->ip, ip, n) == 0)
			return a;
	}
	return NULL;
}

int net_addr_parse(const char *s, struct net_addr *a)
{
	memset(a->ip, 0, sizeof(a->ip));
	if (inet_pton(AF_INET, s, a->ip) == 1) {
		a->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->ip) == 1) {
		a->family = 6;
		return 0;
	}
	return -EINVAL;
}

static bool is_sip_port(const struct net_cfg *cfg, uint16_t port)
{
	for (unsigned i = 0; i < cfg->n_ports && i < NET_MAX_PORTS; i++)
		if (cfg->sip_ports[i] == port)
			return true;
	return false;
}

static void drop(struct net_result *res, enum net_drop why)
{
	res->verdict = NET_V_DROP;
	res->drop = why;
}

/* A frame that is not for us: forwarded unchanged in transit mode, else dropped. */
static void not_ours(const struct net_cfg *cfg, struct net_result *res, enum net_drop why)
{
	if (cfg->transit)
		res->verdict = NET_V_FORWARD;
	else
		drop(res, why);
}

static bool ip4_bad_src(const uint8_t a[4])
{
	return a[0] == 0 || a[0] == 127 || a[0] >= 224;
}

/* Writes the reply's L2 header: to dst, from our MAC, with the request's tags. */
static long reply_l2(const struct net_cfg *cfg, const struct net_l2 *req, const uint8_t *dst,
		     uint16_t ethertype, uint8_t *out, size_t cap)
{
	struct net_l2 l2 = *req;
	memcpy(l2.dst, dst, NET_ETH_ALEN);
	memcpy(l2.src, cfg->mac, NET_ETH_ALEN);
	return net_eth_write(out, cap, &l2, ethertype);
}

static void reply_done(struct net_result *res, enum net_reply kind, uint8_t *out, size_t len,
		       size_t cap)
{
	if (len < NET_ETH_MIN_FRAME) {
		if (cap < NET_ETH_MIN_FRAME) {
			drop(res, NET_DROP_NOSPACE);
			return;
		}
		memset(out + len, 0, NET_ETH_MIN_FRAME - len);
		len = NET_ETH_MIN_FRAME;
	}
	res->verdict = NET_V_REPLY;
	res->reply = kind;
	res->reply_len = len;
}

static void do_arp(const struct net_cfg *cfg, const struct net_l2 *l2, const uint8_t *p,
		   size_t len, uint8_t *out, size_t cap, struct net_result *res)
{
	if (len < ARP_LEN || rd16(p) != 1 || rd16(p + 2) != NET_ETHERTYPE_IPV4 || p[4] != 6 ||
	    p[5] != 4) {
		drop(res, NET_DROP_ARP);
		return;
	}
	const uint8_t *sha = p + 8, *spa = p + 14, *tpa = p + 24;
	if (rd16(p + 6) != 1 || !net_cfg_find(cfg, 4, net_l2_vid(l2), tpa)) {
		not_ours(cfg, res, NET_DROP_ARP_OTHER);
		return;
	}
	if (sha[0] & 1) {  /* a multicast sender hardware address */
		drop(res, NET_DROP_ARP);
		return;
	}
	long hl = reply_l2(cfg, l2, sha, NET_ETHERTYPE_ARP, out, cap);
	if (hl < 0 || cap - (size_t)hl < ARP_LEN) {
		drop(res, NET_DROP_NOSPACE);
		return;
	}
	uint8_t *a = out + hl;
	memcpy(a, p, 6);             /* htype, ptype, hlen, plen */
	wr16(a + 6, 2);
	memcpy(a + 8, cfg->mac, 6);
	memcpy(a + 14, tpa, 4);
	memcpy(a + 18, sha, 6);
	memcpy(a + 24, spa, 4);
	reply_done(res, NET_REPLY_ARP, out, (size_t)hl + ARP_LEN, cap);
}

static void do_icmp4(const struct net_cfg *cfg, const struct net_l2 *l2,
		     const struct net_ip4 *ip, const uint8_t *p, size_t len, uint8_t *out,
		     size_t cap, struct net_result *res)
{
	if (len < 8) {
		drop(res, NET_DROP_ICMP);
		return;
	}
	if (net_csum_fold(net_csum_add(0, p, len)) != 0) {
		drop(res, NET_DROP_ICMP_CSUM);
		return;
	}
	if (p[0] != 8 || p[1] != 0) {
		drop(res, NET_DROP_ICMP);
		return;
	}
	long hl = reply_l2(cfg, l2, l2->src, NET_ETHERTYPE_IPV4, out, cap);
	if (hl < 0 || cap - (size_t)hl < NET_IP4_HLEN + len) {
		drop(res, NET_DROP_NOSPACE);
		return;
	}
	uint8_t *h = out + hl;
	h[0] = 0x45;
	h[1] = ip->tos;
	wr16(h + 2, (uint16_t)(NET_IP4_HLEN + len));
	wr16(h + 4, ip->id);
	wr16(h + 6, 0);
	h[8] = 64;
	h[9] = NET_PROTO_ICMP;
	wr16(h + 10, 0);
	memcpy(h + 12, ip->dst, 4);
	memcpy(h + 16, ip->src, 4);
	wr16(h + 10, net_csum_fold(net_csum_add(0, h, NET_IP4_HLEN)));
	uint8_t *ic = h + NET_IP4_HLEN;
	memcpy(ic, p, len);
	ic[0] = 0;
	wr16(ic + 2, 0);
	wr16(ic + 2, net_csum_fold(net_csum_add(0, ic, len)));
	reply_done(res, NET_REPLY_ICMP, out, (size_t)hl + NET_IP4_HLEN + len, cap);
}

/* Writes an IPv6 header carrying plen bytes of ICMPv6. */
static void ip6_hdr(uint8_t *h, const uint8_t *src, const uint8_t *dst, size_t plen,
		    uint8_t hop)
{
	memset(h, 0, 4);
	h[0] = 0x60;
	wr16(h + 4, (uint16_t)plen);
	h[6] = NET_PROTO_ICMPV6;
	h[7] = hop;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
}

static void icmp6_csum(uint8_t *ip6, size_t plen)
{
	uint8_t *ic = ip6 + NET_IP6_HLEN;
	wr16(ic + 2, 0);
	uint32_t ps = net_ip6_pseudo(ip6 + 8, ip6 + 24, NET_PROTO_ICMPV6, (uint32_t)plen);
	wr16(ic + 2, net_csum_fold(net_csum_add(ps, ic, plen)));
}

static void do_ns(const struct net_cfg *cfg, const struct net_l2 *l2, const struct net_ip6 *ip,
		  const uint8_t *p, size_t len, uint8_t *out, size_t cap, struct net_result *res)
{
	if (ip->hop_limit != 255 || p[1] != 0 || len < 24 || net_ip6_is_multicast(p + 8)) {
		drop(res, NET_DROP_ND);
		return;
	}
	const uint8_t *target = p + 8;
	uint16_t vid = net_l2_vid(l2);
	if (!net_cfg_find(cfg, 6, vid, target)) {
		not_ours(cfg, res, NET_DROP_NOT_OURS);
		return;
	}
	uint8_t snm[16];
	net_ip6_solicited_node(target, snm);
	if (memcmp(ip->dst, target, 16) != 0 && memcmp(ip->dst, snm, 16) != 0) {
		drop(res, NET_DROP_ND);
		return;
	}
	bool dad = net_ip6_is_unspecified(ip->src);
	const uint8_t *slla = NULL;
	for (size_t o = 24; o < len;) {
		if (len - o < 8 || p[o + 1] == 0 || (size_t)p[o + 1] * 8 > len - o) {
			drop(res, NET_DROP_ND);
			return;
		}
		if (p[o] == 1 && p[o + 1] == 1)
			slla = p + o + 2;
		o += (size_t)p[o + 1] * 8;
	}
	if (dad && (slla || memcmp(ip->dst, snm, 16) != 0)) {
		drop(res, NET_DROP_ND);
		return;
	}
	static const uint8_t all_nodes_mac[NET_ETH_ALEN] = {0x33, 0x33, 0, 0, 0, 1};
	const uint8_t *dmac = dad ? all_nodes_mac : slla ? slla : l2->src;
	long hl = reply_l2(cfg, l2, dmac, NET_ETHERTYPE_IPV6, out, cap);
	if (hl < 0 || cap - (size_t)hl < NET_IP6_HLEN + NA_LEN) {
		drop(res, NET_DROP_NOSPACE);
		return;
	}
	uint8_t *h = out + hl;
	ip6_hdr(h, target, dad ? all_nodes : ip->src, NA_LEN, 255);
	uint8_t *na = h + NET_IP6_HLEN;
	memset(na, 0, NA_LEN);
	na[0] = ND_NA;
	na[4] = dad ? 0x20 : 0x60;   /* Solicited (unless DAD), Override */
	memcpy(na + 8, target, 16);
	na[24] = 2;                  /* target link-layer address */
	na[25] = 1;
	memcpy(na + 26, cfg->mac, NET_ETH_ALEN);
	icmp6_csum(h, NA_LEN);
	reply_done(res, NET_REPLY_ND, out, (size_t)hl + NET_IP6_HLEN + NA_LEN, cap);
}

static void do_icmp6(const struct net_cfg *cfg, const struct net_l2 *l2,
		     const struct net_ip6 *ip, bool ours, const uint8_t *p, size_t len,
		     uint8_t *out, size_t cap, struct net_result *res)
{
	if (len < 8) {
		drop(res, NET_DROP_ICMP);
		return;
	}
	uint32_t ps = net_ip6_pseudo(ip->src, ip->dst, NET_PROTO_ICMPV6, (uint32_t)len);
	if (net_csum_fold(net_csum_add(ps, p, len)) != 0) {
		drop(res, NET_DROP_ICMP_CSUM);
		return;
	}
	if (p[0] == ND_NS) {
		do_ns(cfg, l2, ip, p, len, out, cap, res);
		return;
	}
	if (!ours) {
		not_ours(cfg, res, NET_DROP_NOT_OURS);
		return;
	}
	if (p[0] != ICMP6_ECHO_REQUEST || p[1] != 0) {
		drop(res, NET_DROP_ICMP);
		return;
	}
	long hl = reply_l2(cfg, l2, l2->src, NET_ETHERTYPE_IPV6, out, cap);
	if (hl < 0 || cap - (size_t)hl < NET_IP6_HLEN + len) {
		drop(res, NET_DROP_NOSPACE);
		return;
	}
	uint8_t *h = out + hl;
	ip6_hdr(h, ip->dst, ip->src, len, 64);
	memcpy(h + NET_IP6_HLEN, p, len);
	h[NET_IP6_HLEN] = ICMP6_ECHO_REPLY;
	icmp6_csum(h, len);
	reply_done(res, NET_REPLY_ICMP6, out, (size_t)hl + NET_IP6_HLEN + len, cap);
}

static enum net_drop reasm_drop(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return NET_DROP_REASM_TOO_BIG;
	case -EEXIST:
		return NET_DROP_REASM_OVERLAP;
	case -ENOBUFS:
		return NET_DROP_REASM_TOO_MANY;
	case -ENOSPC:
		return NET_DROP_REASM_FULL;
	default:
		return NET_DROP_REASM_BAD;
	}
}

/* The UDP datagram p[0..len) with flow f (addresses, L2 filled): SIP or a drop. */
static void do_udp(const struct net_cfg *cfg, bool ours, const uint8_t *p, size_t len,
		   struct net_reasm *r, struct net_reasm_slot *slot, struct net_result *res)
{
	struct net_flow *f = &res->flow;
	bool v6 = f->family == 6;
	uint32_t ps = v6 ? net_ip6_pseudo(f->src, f->dst, NET_PROTO_UDP, 0)
			 : net_ip4_pseudo(f->src, f->dst, NET_PROTO_UDP, 0);
	struct net_udp u;
	int rc = net_udp_parse(p, len, ps, v6, &u);
	if (rc == 0 && !is_sip_port(cfg, u.dport)) {
		if (slot)
			net_reasm_release(r, slot);
		if (slot || !cfg->transit)
			drop(res, NET_DROP_PORT);
		else
			res->verdict = NET_V_FORWARD;
		return;
	}
	if (rc) {
		if (slot)
			net_reasm_release(r, slot);
		drop(res, rc == -EBADMSG ? NET_DROP_UDP_CSUM : NET_DROP_UDP_HDR);
		return;
	}
	f->sport = u.sport;
	f->dport = u.dport;
	res->verdict = NET_V_SIP;
	res->payload = p + NET_UDP_HLEN;
	res->plen = u.len - NET_UDP_HLEN;
	res->slot = slot;
	res->transit = !ours;
}

/* Holds a fragment; on completion classifies the whole datagram. */
static void do_frag(const struct net_cfg *cfg, bool ours, const struct net_l2 *l2,
		    uint32_t id, uint16_t off, bool mf, const uint8_t *p, size_t len,
		    struct net_reasm *r, uint64_t now, struct net_result *res)
{
	if (!r) {
		drop(res, NET_DROP_REASM_OFF);
		return;
	}
	struct net_reasm_key k = {
		.family = res->flow.family,
		.proto = NET_PROTO_UDP,
		.vid = net_l2_vid(l2),
		.id = id,
	};
	memcpy(k.src, res->flow.src, 16);
	memcpy(k.dst, res->flow.dst, 16);
	struct net_reasm_slot *s;
	int rc = net_reasm_add(r, &k, l2, res->flow.ttl, res->flow.tos, off, mf, p, len, now, &s);
	if (rc < 0) {
		drop(res, reasm_drop(rc));
		return;
	}
	if (rc == 0) {
		res->verdict = NET_V_HELD;
		return;
	}
	res->flow.l2 = s->l2;
	do_udp(cfg, ours, s->data, s->total, r, s, res);
}

static void do_ip4(const struct net_cfg *cfg, const struct net_l2 *l2, const uint8_t *p,
		   size_t len, struct net_reasm *r, uint64_t now, uint8_t *out, size_t cap,
		   struct net_result *res)
{
	struct net_ip4 ip;
	int rc = net_ip4_parse(p, len, &ip);
	if (rc) {
		drop(res, rc == -EBADMSG ? NET_DROP_IP_CSUM : NET_DROP_IP_HDR);
		return;
	}
	if (ip4_bad_src(ip.src)) {
		drop(res, NET_DROP_IP_SRC);
		return;
	}
	bool ours = net_cfg_find(cfg, 4, net_l2_vid(l2), ip.dst) != NULL;
	if (!ours && !(cfg->transit && ip.proto == NET_PROTO_UDP)) {
		not_ours(cfg, res, NET_DROP_NOT_OURS);
		return;
	}
	const uint8_t *l4 = p + ip.hlen;
	size_t l4len = (size_t)ip.tot_len - ip.hlen;
	struct net_flow *f = &res->flow;
	f->family = 4;
	f->ttl = ip.ttl;
	f->tos = ip.tos;
	f->ip_id = ip.id;
	memcpy(f->src, ip.src, 4);
	memcpy(f->dst, ip.dst, 4);
	if (net_ip4_is_frag(&ip)) {
		if (ip.proto != NET_PROTO_UDP) {
			drop(res, NET_DROP_FRAG_PROTO);
			return;
		}
		do_frag(cfg, ours, l2, ip.id, ip.frag_off, ip.mf, l4, l4len, r, now, res);
		return;
	}
	if (ip.proto == NET_PROTO_UDP)
		do_udp(cfg, ours, l4, l4len, r, NULL, res);
	else if (ip.proto == NET_PROTO_ICMP)
		do_icmp4(cfg, l2, &ip, l4, l4len, out, cap, res);
	else
		drop(res, NET_DROP_PROTO);
}

static void do_ip6(const struct net_cfg *cfg, const struct net_l2 *l2, const uint8_t *p,
		   size_t len, struct net_reasm *r, uint64_t now, uint8_t *out, size_t cap,
		   struct net_result *res)
{
	struct net_ip6 ip;
	if (net_ip6_parse(p, len, &ip)) {
		drop(res, NET_DROP_IP_HDR);
		return;
	}
	if (net_ip6_is_multicast(ip.src)) {
		drop(res, NET_DROP_IP_SRC);
		return;
	}
	bool ours = net_cfg_find(cfg, 6, net_l2_vid(l2), ip.dst) != NULL;
	const uint8_t *l4 = p + ip.l4_off;
	struct net_flow *f = &res->flow;
	f->family = 6;
	f->ttl = ip.hop_limit;
	f->tos = (uint8_t)(ip.flow >> 20);
	memcpy(f->src, ip.src, 16);
	memcpy(f->dst, ip.dst, 16);
	if (ip.proto == NET_PROTO_ICMPV6 && !ip.frag) {
		do_icmp6(cfg, l2, &ip, ours, l4, ip.l4_len, out, cap, res);
		return;
	}
	if (!ours && !(cfg->transit && ip.proto == NET_PROTO_UDP)) {
		not_ours(cfg, res, NET_DROP_NOT_OURS);
		return;
	}
	if (ip.frag && (ip.mf || ip.frag_off)) {
		if (ip.proto != NET_PROTO_UDP) {
			drop(res, NET_DROP_FRAG_PROTO);
			return;
		}
		do_frag(cfg, ours, l2, ip.frag_id, ip.frag_off, ip.mf, l4, ip.l4_len, r, now, res);
		return;
	}
	if (ip.proto == NET_PROTO_UDP)
		do_udp(cfg, ours, l4, ip.l4_len, r, NULL, res);
	else
		drop(res, NET_DROP_PROTO);
}

void net_classify(const struct net_cfg *cfg, const uint8_t *frame, size_t len,
		  struct net_reasm *r, uint64_t now, uint8_t *out, size_t cap,
		  struct net_result *res)
{
	memset(res, 0, sizeof(*res));
	struct net_l2 *l2 = &res->flow.l2;
	int rc = net_eth_parse(frame, len, l2);
	if (rc) {
		drop(res, rc == -ENOTSUP ? NET_DROP_VLAN : NET_DROP_TRUNC);
		return;
	}
	bool mine = memcmp(l2->dst, cfg->mac, NET_ETH_ALEN) == 0;
	bool bcast = memcmp(l2->dst, bcast_mac, NET_ETH_ALEN) == 0;
	bool mcast6 = l2->dst[0] == 0x33 && l2->dst[1] == 0x33;
	if (!mine && !bcast && !mcast6 && !cfg->transit) {
		drop(res, NET_DROP_L2_DST);
		return;
	}
	const uint8_t *p = frame + l2->l3_off;
	size_t l3len = len - l2->l3_off;
	/* a copy: the classifier writes res->flow.l2 only through the handlers below */
	struct net_l2 rx = *l2;
	switch (rx.ethertype) {
	case NET_ETHERTYPE_ARP:
		do_arp(cfg, &rx, p, l3len, out, cap, res);
		break;
	case NET_ETHERTYPE_IPV4:
		if (bcast && !cfg->transit)
			drop(res, NET_DROP_L2_DST);
		else
			do_ip4(cfg, &rx, p, l3len, r, now, out, cap, res);
		break;
	case NET_ETHERTYPE_IPV6:
		do_ip6(cfg, &rx, p, l3len, r, now, out, cap, res);
		break;
	default:
		not_ours(cfg, res, NET_DROP_ETHERTYPE);
		break;
	}
}
