/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/net/net.h"

#include <errno.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int net_eth_parse(const uint8_t *frame, size_t len, struct net_l2 *l2)
{
	if (len < NET_ETH_HLEN)
		return -EINVAL;
	memcpy(l2->dst, frame, NET_ETH_ALEN);
	memcpy(l2->src, frame + NET_ETH_ALEN, NET_ETH_ALEN);
	l2->n_vlan = 0;
	size_t off = 12;
	uint16_t et = rd16(frame + off);
	while (et == NET_ETHERTYPE_VLAN || et == NET_ETHERTYPE_QINQ) {
		if (l2->n_vlan == NET_MAX_VLANS)
			return -ENOTSUP;
		if (len < off + 2 + NET_VLAN_HLEN)
			return -EINVAL;
		l2->tpid[l2->n_vlan] = et;
		l2->tci[l2->n_vlan] = rd16(frame + off + 2);
		l2->n_vlan++;
		off += NET_VLAN_HLEN;
		et = rd16(frame + off);
	}
	l2->ethertype = et;
	l2->l3_off = (uint16_t)(off + 2);
	return 0;
}

long net_eth_write(uint8_t *out, size_t cap, const struct net_l2 *l2, uint16_t ethertype)
{
	if (l2->n_vlan > NET_MAX_VLANS)
		return -EINVAL;
	size_t hl = NET_ETH_HLEN + (size_t)l2->n_vlan * NET_VLAN_HLEN;
	if (cap < hl)
		return -ENOSPC;
	memcpy(out, l2->dst, NET_ETH_ALEN);
	memcpy(out + NET_ETH_ALEN, l2->src, NET_ETH_ALEN);
	size_t off = 12;
	for (unsigned i = 0; i < l2->n_vlan; i++) {
		wr16(out + off, l2->tpid[i] ? l2->tpid[i] : NET_ETHERTYPE_VLAN);
		wr16(out + off + 2, l2->tci[i]);
		off += NET_VLAN_HLEN;
	}
	wr16(out + off, ethertype);
	return (long)hl;
}

uint32_t net_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = sum;
	while (len >= 2) {
		s += rd16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	/* end-around carry keeps the one's complement sum: fold to 16 bits */
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

uint16_t net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int net_ip4_parse(const uint8_t *p, size_t len, struct net_ip4 *ip)
{
	if (len < NET_IP4_HLEN || p[0] >> 4 != 4)
		return -EINVAL;
	size_t hl = (size_t)(p[0] & 0x0f) * 4;
	if (hl < NET_IP4_HLEN || hl > len)
		return -EINVAL;
	uint16_t tot = rd16(p + 2);
	if (tot < hl || tot > len)
		return -EINVAL;
	if (net_csum_fold(net_csum_add(0, p, hl)) != 0)
		return -EBADMSG;
	uint16_t fo = rd16(p + 6);
	if (fo & 0x8000)
		return -EINVAL;
	ip->df = fo & 0x4000;
	ip->mf = fo & 0x2000;
	ip->frag_off = (uint16_t)((fo & 0x1fff) * 8);
	if ((size_t)ip->frag_off + (tot - hl) > 65535)
		return -EINVAL;
	if (ip->df && (ip->mf || ip->frag_off))
		return -EINVAL;
	ip->tos = p[1];
	ip->tot_len = tot;
	ip->hlen = (uint16_t)hl;
	ip->id = rd16(p + 4);
	ip->ttl = p[8];
	ip->proto = p[9];
	memcpy(ip->src, p + 12, 4);
	memcpy(ip->dst, p + 16, 4);
	return 0;
}

int net_ip6_parse(const uint8_t *p, size_t len, struct net_ip6 *ip)
{
	if (len < NET_IP6_HLEN || p[0] >> 4 != 6)
		return -EINVAL;
	size_t plen = rd16(p + 4);
	if (NET_IP6_HLEN + plen > len)
		return -EINVAL;
	size_t end = NET_IP6_HLEN + plen;
	ip->flow = rd32(p) & 0x0fffffff;
	ip->hop_limit = p[7];
	memcpy(ip->src, p + 8, 16);
	memcpy(ip->dst, p + 24, 16);
	ip->frag = false;
	ip->mf = false;
	ip->frag_off = 0;
	ip->frag_id = 0;
	uint8_t nh = p[6];
	size_t off = NET_IP6_HLEN;
	for (unsigned i = 0;; i++) {
		if (nh != 0 && nh != 43 && nh != 44 && nh != 60)
			break;
		if (i == NET_IP6_MAX_EXT)
			return -EINVAL;
		if (nh == 0 && i != 0)
			return -EINVAL;
		if (end - off < 8)
			return -EINVAL;
		const uint8_t *h = p + off;
		size_t hl;
		if (nh == 44) {
			uint16_t fo = rd16(h + 2);
			ip->frag = true;
			ip->frag_off = (uint16_t)(fo & 0xfff8);
			ip->mf = fo & 1;
			ip->frag_id = rd32(h + 4);
			/* what follows is fragment data: the walk ends here */
			ip->proto = h[0];
			ip->l4_off = (uint16_t)(off + 8);
			ip->l4_len = (uint16_t)(end - off - 8);
			if ((size_t)ip->frag_off + ip->l4_len > 65535)
				return -EINVAL;
			return 0;
		} else {
			hl = ((size_t)h[1] + 1) * 8;
			if (hl > end - off)
				return -EINVAL;
			if (nh == 43 && h[3] != 0)
				return -ENOTSUP;
		}
		nh = h[0];
		off += hl;
	}
	ip->proto = nh;
	ip->l4_off = (uint16_t)off;
	ip->l4_len = (uint16_t)(end - off);
	return 0;
}

bool net_ip6_is_multicast(const uint8_t a[16])
{
	return a[0] == 0xff;
}

bool net_ip6_is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) == 0;
}

void net_ip6_solicited_node(const uint8_t a[16], uint8_t out[16])
{
	static const uint8_t pfx[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
	memcpy(out, pfx, 13);
	memcpy(out + 13, a + 13, 3);
}

uint32_t net_ip4_pseudo(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint16_t len)
{
	uint32_t s = net_csum_add(0, src, 4);
	s = net_csum_add(s, dst, 4);
	return s + proto + len;
}

uint32_t net_ip6_pseudo(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			uint32_t len)
{
	uint32_t s = net_csum_add(0, src, 16);
	s = net_csum_add(s, dst, 16);
	return s + (len >> 16) + (len & 0xffff) + proto;
}

int net_udp_parse(const uint8_t *p, size_t len, uint32_t pseudo, bool v6, struct net_udp *u)
{
	if (len < NET_UDP_HLEN)
		return -EINVAL;
	u->sport = rd16(p);
	u->dport = rd16(p + 2);
	u->len = rd16(p + 4);
	u->csum = rd16(p + 6);
	if (u->len < NET_UDP_HLEN || u->len > len)
		return -EINVAL;
	if (u->csum == 0)
		return v6 ? -EINVAL : 0;
	if (net_csum_fold(net_csum_add(pseudo + u->len, p, u->len)) != 0)
		return -EBADMSG;
	return 0;
}

void net_flow_reverse(const struct net_flow *in, struct net_flow *out)
{
	struct net_flow t = *in;
	memcpy(t.l2.dst, in->l2.src, NET_ETH_ALEN);
	memcpy(t.l2.src, in->l2.dst, NET_ETH_ALEN);
	memcpy(t.src, in->dst, 16);
	memcpy(t.dst, in->src, 16);
	t.sport = in->dport;
	t.dport = in->sport;
	t.ttl = 0;
	*out = t;
}

size_t net_udp_hdr_len(const struct net_flow *f)
{
	return NET_ETH_HLEN + (size_t)f->l2.n_vlan * NET_VLAN_HLEN +
	       (f->family == 6 ? NET_IP6_HLEN : NET_IP4_HLEN) + NET_UDP_HLEN;
}

long net_udp_build(uint8_t *out, size_t cap, const struct net_flow *f, size_t plen)
{
	if ((f->family != 4 && f->family != 6) || f->l2.n_vlan > NET_MAX_VLANS)
		return -EINVAL;
	size_t hl = net_udp_hdr_len(f);
	size_t ulen = NET_UDP_HLEN + plen;
	bool v6 = f->family == 6;
	if (ulen > 65535 - (v6 ? 0 : NET_IP4_HLEN))
		return -EINVAL;
	size_t flen = hl + plen;
	if (cap < flen)
		return -ENOSPC;
	long l2l = net_eth_write(out, cap, &f->l2, v6 ? NET_ETHERTYPE_IPV6 : NET_ETHERTYPE_IPV4);
	if (l2l < 0)
		return l2l;
	uint8_t *ip = out + l2l;
	uint8_t ttl = f->ttl ? f->ttl : 64;
	uint8_t *udp;
	uint32_t ps;
	if (v6) {
		uint32_t w = 6u << 28 | (uint32_t)f->tos << 20;
		ip[0] = (uint8_t)(w >> 24);
		ip[1] = (uint8_t)(w >> 16);
		ip[2] = 0;
		ip[3] = 0;
		wr16(ip + 4, (uint16_t)ulen);
		ip[6] = NET_PROTO_UDP;
		ip[7] = ttl;
		memcpy(ip + 8, f->src, 16);
		memcpy(ip + 24, f->dst, 16);
		udp = ip + NET_IP6_HLEN;
		ps = net_ip6_pseudo(f->src, f->dst, NET_PROTO_UDP, (uint32_t)ulen);
	} else {
		ip[0] = 0x45;
		ip[1] = f->tos;
		wr16(ip + 2, (uint16_t)(NET_IP4_HLEN + ulen));
		wr16(ip + 4, f->ip_id);
		wr16(ip + 6, 0);
		ip[8] = ttl;
		ip[9] = NET_PROTO_UDP;
		wr16(ip + 10, 0);
		memcpy(ip + 12, f->src, 4);
		memcpy(ip + 16, f->dst, 4);
		wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, NET_IP4_HLEN)));
		udp = ip + NET_IP4_HLEN;
		ps = net_ip4_pseudo(f->src, f->dst, NET_PROTO_UDP, (uint16_t)ulen);
	}
	wr16(udp, f->sport);
	wr16(udp + 2, f->dport);
	wr16(udp + 4, (uint16_t)ulen);
	wr16(udp + 6, 0);
	uint16_t c = net_csum_fold(net_csum_add(ps, udp, ulen));
	wr16(udp + 6, c ? c : 0xffff);
	if (flen < NET_ETH_MIN_FRAME) {
		if (cap < NET_ETH_MIN_FRAME)
			return -ENOSPC;
		memset(out + flen, 0, NET_ETH_MIN_FRAME - flen);
		flen = NET_ETH_MIN_FRAME;
	}
	return (long)flen;
}

/* Payload bytes per fragment for mtu (a multiple of 8). */
static size_t frag_step(unsigned mtu)
{
	return ((size_t)mtu - NET_IP4_HLEN) & ~(size_t)7;
}

static int frag_check(const uint8_t *frame, size_t len, size_t l3_off, unsigned mtu,
		      size_t *tot)
{
	if (mtu < 68 || l3_off > len || len - l3_off < NET_IP4_HLEN)
		return -EINVAL;
	const uint8_t *ip = frame + l3_off;
	if (ip[0] != 0x45)
		return -EINVAL;
	*tot = rd16(ip + 2);
	if (*tot < NET_IP4_HLEN || *tot > len - l3_off || (rd16(ip + 6) & 0x3fff) != 0)
		return -EINVAL;
	if (*tot <= mtu)
		return 1;
	if (rd16(ip + 6) & 0x4000)
		return -EMSGSIZE;
	size_t step = frag_step(mtu);
	return (int)((*tot - NET_IP4_HLEN + step - 1) / step);
}

int net_ip4_frag_count(const uint8_t *frame, size_t len, size_t l3_off, unsigned mtu)
{
	size_t tot;
	return frag_check(frame, len, l3_off, mtu, &tot);
}

long net_ip4_fragment(const uint8_t *frame, size_t len, size_t l3_off, unsigned mtu,
		      unsigned idx, uint8_t *out, size_t cap)
{
	size_t tot;
	int n = frag_check(frame, len, l3_off, mtu, &tot);
	if (n < 0)
		return n;
	if (idx >= (unsigned)n)
		return -EINVAL;
	size_t flen;
	if (n == 1) {
		flen = l3_off + tot;
		if (cap < flen)
			return -ENOSPC;
		memcpy(out, frame, flen);
	} else {
		size_t step = frag_step(mtu);
		size_t off = (size_t)idx * step;
		size_t dlen = tot - NET_IP4_HLEN - off;
		bool last = idx + 1 == (unsigned)n;
		if (!last)
			dlen = step;
		flen = l3_off + NET_IP4_HLEN + dlen;
		if (cap < flen)
			return -ENOSPC;
		memcpy(out, frame, l3_off + NET_IP4_HLEN);
		memcpy(out + l3_off + NET_IP4_HLEN, frame + l3_off + NET_IP4_HLEN + off, dlen);
		uint8_t *ip = out + l3_off;
		wr16(ip + 2, (uint16_t)(NET_IP4_HLEN + dlen));
		wr16(ip + 6, (uint16_t)((last ? 0 : 0x2000) | off / 8));
		wr16(ip + 10, 0);
		wr16(ip + 10, net_csum_fold(net_csum_add(0, ip, NET_IP4_HLEN)));
	}
	if (flen < NET_ETH_MIN_FRAME) {
		if (cap < NET_ETH_MIN_FRAME)
			return -ENOSPC;
		memset(out + flen, 0, NET_ETH_MIN_FRAME - flen);
		flen = NET_ETH_MIN_FRAME;
	}
	return (long)flen;
}
