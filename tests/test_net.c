/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the packet layer (dataplane/net). The known frames below were built by an
 * independent generator (Python struct + its own RFC 1071 checksum), not by the code under test.
 * Our side: MAC 02:00:00:00:00:01, 192.0.2.1 and 2001:db8::1 untagged, 198.51.100.1 on VLAN
 * 100, SIP on UDP 5060. The peer: 02:00:00:00:00:02, 192.0.2.2, 2001:db8::2.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dataplane/net/net.h"
#include "dataplane/net/net_classify.h"
#include "dataplane/net/net_reasm.h"

static const uint8_t arp_req[] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x02, 0xc0, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t arp_rep[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x02, 0xc0, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t arp_req_vlan[] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x81, 0x00, 0x00, 0x64, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
	0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc6, 0x33, 0x64, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x33, 0x64, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t arp_rep_vlan[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x81, 0x00, 0x00, 0x64, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
	0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc6, 0x33, 0x64, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc6, 0x33, 0x64, 0x02, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t icmp_req[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x00, 0x00, 0x40, 0x01,
	0xda, 0x77, 0xc0, 0x00, 0x02, 0x02, 0xc0, 0x00, 0x02, 0x01, 0x08, 0x00,
	0xf2, 0xc7, 0x12, 0x34, 0x00, 0x01, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
	0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31,
	0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d,
	0x3e, 0x3f,
};
static const uint8_t icmp_rep[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x00, 0x00, 0x40, 0x01,
	0xda, 0x77, 0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02, 0x00, 0x00,
	0xfa, 0xc7, 0x12, 0x34, 0x00, 0x01, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
	0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31,
	0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d,
	0x3e, 0x3f,
};
static const uint8_t ns[] = {
	0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00, 0x1c, 0x27, 0x00, 0x00,
	0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x02,
};
static const uint8_t na[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x88, 0x00, 0x8a, 0x73, 0x60, 0x00,
	0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x01,
};
static const uint8_t echo6_req[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x3a, 0x40, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0xed, 0xfc, 0x43, 0x21,
	0x00, 0x07, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
	0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
	0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
};
static const uint8_t echo6_rep[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x3a, 0x40, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x81, 0x00, 0xec, 0xfc, 0x43, 0x21,
	0x00, 0x07, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
	0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
	0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
};
static const uint8_t udp4[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x3d, 0x01, 0x01, 0x00, 0x00, 0x40, 0x11,
	0xf5, 0xab, 0xc0, 0x00, 0x02, 0x02, 0xc0, 0x00, 0x02, 0x01, 0x13, 0xc6,
	0x13, 0xc4, 0x00, 0x29, 0x19, 0xbd, 0x4f, 0x50, 0x54, 0x49, 0x4f, 0x4e,
	0x53, 0x20, 0x73, 0x69, 0x70, 0x3a, 0x31, 0x39, 0x32, 0x2e, 0x30, 0x2e,
	0x32, 0x2e, 0x31, 0x20, 0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d,
	0x0a, 0x0d, 0x0a,
};
static const uint8_t udp6[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x29, 0x11, 0x40, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x13, 0xc6, 0x13, 0xc4, 0x00, 0x29,
	0x42, 0x4c, 0x4f, 0x50, 0x54, 0x49, 0x4f, 0x4e, 0x53, 0x20, 0x73, 0x69,
	0x70, 0x3a, 0x31, 0x39, 0x32, 0x2e, 0x30, 0x2e, 0x32, 0x2e, 0x31, 0x20,
	0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a,
};
static const uint8_t udp4_build[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x2e, 0x02, 0x02, 0x00, 0x00, 0x40, 0x11,
	0xf4, 0xb9, 0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02, 0x13, 0xc4,
	0x13, 0xc6, 0x00, 0x1a, 0x82, 0xb5, 0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e,
	0x30, 0x20, 0x32, 0x30, 0x30, 0x20, 0x4f, 0x4b, 0x0d, 0x0a, 0x0d, 0x0a,
};
static const uint8_t udp6_build[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x81, 0x00, 0x00, 0x64, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x1a,
	0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x13, 0xc4,
	0x13, 0xc6, 0x00, 0x1a, 0xab, 0x44, 0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e,
	0x30, 0x20, 0x32, 0x30, 0x30, 0x20, 0x4f, 0x4b, 0x0d, 0x0a, 0x0d, 0x0a,
};

static struct net_cfg cfg;
static uint8_t out[16384];
static struct net_result res;

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	memcpy(cfg.mac, mac, 6);
	cr_assert_eq(net_addr_parse("192.0.2.1", &cfg.addrs[0]), 0);
	cr_assert_eq(net_addr_parse("2001:db8::1", &cfg.addrs[1]), 0);
	cr_assert_eq(net_addr_parse("198.51.100.1", &cfg.addrs[2]), 0);
	cfg.addrs[2].vid = 100;
	cfg.n_addrs = 3;
	cfg.sip_ports[0] = 5060;
	cfg.n_ports = 1;
}

static void classify(const uint8_t *f, size_t len)
{
	net_classify(&cfg, f, len, NULL, 0, out, sizeof(out), &res);
}

/* A second, deliberately naive RFC 1071 implementation to check what the code writes. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	unsigned long s = 0;
	for (size_t i = 0; i < len; i++)
		s += i % 2 ? p[i] : (unsigned long)p[i] << 8;
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Recomputes the IPv4 header and UDP checksums of an untagged UDP frame with ref_csum. */
static void refix4(uint8_t *f, size_t len)
{
	uint8_t *ip = f + 14, *u = ip + 20;
	size_t ulen = (size_t)(u[4] << 8 | u[5]);
	ip[10] = ip[11] = 0;
	uint16_t c = ref_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	uint8_t tmp[2048];
	cr_assert(12 + ulen <= sizeof(tmp) && 34 + ulen <= len);
	memcpy(tmp, ip + 12, 8);
	tmp[8] = 0;
	tmp[9] = 17;
	tmp[10] = (uint8_t)(ulen >> 8);
	tmp[11] = (uint8_t)ulen;
	u[6] = u[7] = 0;
	memcpy(tmp + 12, u, ulen);
	c = ref_csum(tmp, 12 + ulen);
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
}

static void assert_frame(const uint8_t *want, size_t wlen)
{
	cr_assert_eq(res.verdict, NET_V_REPLY, "verdict %d drop %s", res.verdict,
		     net_drop_name(res.drop));
	cr_assert_eq(res.reply_len, wlen, "length %zu, want %zu", res.reply_len, wlen);
	for (size_t i = 0; i < wlen; i++)
		cr_assert_eq(out[i], want[i], "byte %zu: %02x, want %02x", i, out[i], want[i]);
}

TestSuite(net, .init = setup);

Test(net, checksum_known_answer)
{
	/* the RFC 1071 / textbook IPv4 header: checksum b861 */
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	cr_assert_eq(net_csum_fold(net_csum_add(0, h, sizeof(h))), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	cr_assert_eq(net_csum_fold(net_csum_add(0, h, sizeof(h))), 0);
	/* split sums equal one sum; odd tail padded with zero */
	uint32_t s = net_csum_add(net_csum_add(0, h, 10), h + 10, 10);
	cr_assert_eq(net_csum_fold(s), 0);
	const uint8_t odd[3] = {0x01, 0x02, 0x03};
	cr_assert_eq(net_csum_fold(net_csum_add(0, odd, 3)), (uint16_t)~0x0402);
	cr_assert_eq(net_csum_fold(net_csum_add(0, icmp_req + 34, sizeof(icmp_req) - 34)), 0);
}

Test(net, eth_parse_vlans)
{
	struct net_l2 l2;
	cr_assert_eq(net_eth_parse(arp_req, sizeof(arp_req), &l2), 0);
	cr_assert_eq(l2.n_vlan, 0);
	cr_assert_eq(l2.ethertype, NET_ETHERTYPE_ARP);
	cr_assert_eq(l2.l3_off, 14);
	cr_assert_eq(net_l2_vid(&l2), 0);
	cr_assert_eq(net_eth_parse(arp_req_vlan, sizeof(arp_req_vlan), &l2), 0);
	cr_assert_eq(l2.n_vlan, 1);
	cr_assert_eq(net_l2_vid(&l2), 100);
	cr_assert_eq(l2.l3_off, 18);
	/* QinQ: 88a8 outer 7, 8100 inner 100 */
	uint8_t qq[64] = {0};
	memcpy(qq, arp_req, 12);
	const uint8_t tags[] = {0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x20, 0x64, 0x08, 0x06};
	memcpy(qq + 12, tags, sizeof(tags));
	cr_assert_eq(net_eth_parse(qq, sizeof(qq), &l2), 0);
	cr_assert_eq(l2.n_vlan, 2);
	cr_assert_eq(l2.tpid[0], 0x88a8);
	cr_assert_eq(l2.tci[1], 0x2064);
	cr_assert_eq(net_l2_vid(&l2), 100);
	cr_assert_eq(l2.l3_off, 22);
	cr_assert_eq(l2.ethertype, NET_ETHERTYPE_ARP);
	uint8_t out2[32];
	cr_assert_eq(net_eth_write(out2, sizeof(out2), &l2, 0x0806), 22);
	cr_assert_arr_eq(out2, qq, 22);
	cr_assert_eq(net_eth_write(out2, 21, &l2, 0x0806), -ENOSPC);
	/* a third tag, and truncations */
	qq[20] = 0x81;
	qq[21] = 0x00;
	cr_assert_eq(net_eth_parse(qq, sizeof(qq), &l2), -ENOTSUP);
	cr_assert_eq(net_eth_parse(qq, 13, &l2), -EINVAL);
	cr_assert_eq(net_eth_parse(qq, 17, &l2), -EINVAL);
	classify(qq, sizeof(qq));
	cr_assert_eq(res.verdict, NET_V_DROP);
	cr_assert_eq(res.drop, NET_DROP_VLAN);
}

Test(net, arp_request_gets_reply)
{
	classify(arp_req, sizeof(arp_req));
	assert_frame(arp_rep, sizeof(arp_rep));
	cr_assert_eq(res.reply, NET_REPLY_ARP);
}

Test(net, arp_request_on_vlan)
{
	classify(arp_req_vlan, sizeof(arp_req_vlan));
	assert_frame(arp_rep_vlan, sizeof(arp_rep_vlan));
	/* the VLAN address is not ours untagged, nor the untagged one on VLAN 100 */
	uint8_t f[sizeof(arp_req)];
	memcpy(f, arp_req, sizeof(f));
	memcpy(f + 38, arp_req_vlan + 42, 4);
	classify(f, sizeof(f));
	cr_assert_eq(res.verdict, NET_V_DROP);
	cr_assert_eq(res.drop, NET_DROP_ARP_OTHER);
}

Test(net, arp_rejects)
{
	uint8_t f[sizeof(arp_req)];
	memcpy(f, arp_req, sizeof(f));
	f[41] = 9;  /* 192.0.2.9: not ours */
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_ARP_OTHER);
	cfg.transit = true;
	classify(f, sizeof(f));
	cr_assert_eq(res.verdict, NET_V_FORWARD);
	cfg.transit = false;
	memcpy(f, arp_req, sizeof(f));
	f[21] = 2;  /* a reply, not a request */
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_ARP_OTHER);
	memcpy(f, arp_req, sizeof(f));
	f[19] = 16;  /* plen */
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_ARP);
	classify(arp_req, 14 + 27);
	cr_assert_eq(res.drop, NET_DROP_ARP);
	/* too small a reply buffer */
	net_classify(&cfg, arp_req, sizeof(arp_req), NULL, 0, out, 50, &res);
	cr_assert_eq(res.drop, NET_DROP_NOSPACE);
}

Test(net, icmp_echo_reply)
{
	classify(icmp_req, sizeof(icmp_req));
	assert_frame(icmp_rep, sizeof(icmp_rep));
	cr_assert_eq(res.reply, NET_REPLY_ICMP);
}

Test(net, icmp_rejects)
{
	uint8_t f[sizeof(icmp_req)];
	memcpy(f, icmp_req, sizeof(f));
	f[sizeof(f) - 1] ^= 1;
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_ICMP_CSUM);
	memcpy(f, icmp_req, sizeof(f));
	f[24] ^= 1;  /* IP header checksum */
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_IP_CSUM);
	memcpy(f, icmp_req, sizeof(f));
	f[16] = 0x10;  /* total length beyond the frame */
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_IP_HDR);
	memcpy(f, icmp_req, sizeof(f));
	f[0] = 0x11;  /* another MAC */
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_L2_DST);
	memcpy(f, icmp_req, sizeof(f));
	f[14] = 0x44;  /* IHL 4 */
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_IP_HDR);
	/* link padding after the datagram is ignored */
	uint8_t padded[sizeof(icmp_req) + 6] = {0};
	memcpy(padded, icmp_req, sizeof(icmp_req));
	classify(padded, sizeof(padded));
	assert_frame(icmp_rep, sizeof(icmp_rep));
}

Test(net, ip4_parse_fields)
{
	struct net_ip4 ip;
	cr_assert_eq(net_ip4_parse(udp4 + 14, sizeof(udp4) - 14, &ip), 0);
	cr_assert_eq(ip.proto, 17);
	cr_assert_eq(ip.id, 0x0101);
	cr_assert_eq(ip.hlen, 20);
	cr_assert_eq(ip.tot_len, sizeof(udp4) - 14);
	cr_assert_not(net_ip4_is_frag(&ip));
	cr_assert_eq(net_ip4_parse(udp4 + 14, 19, &ip), -EINVAL);
	cr_assert_eq(net_ip4_parse(udp4 + 14, sizeof(udp4) - 15, &ip), -EINVAL);
}

Test(net, nd_solicitation_gets_advertisement)
{
	classify(ns, sizeof(ns));
	assert_frame(na, sizeof(na));
	cr_assert_eq(res.reply, NET_REPLY_ND);
}

Test(net, nd_rejects)
{
	uint8_t f[sizeof(ns)];
	memcpy(f, ns, sizeof(f));
	f[21] = 64;  /* hop limit must be 255 (checked before the ICMPv6 checksum) */
	classify(f, sizeof(f));
	cr_assert_eq(res.verdict, NET_V_DROP);
	memcpy(f, ns, sizeof(f));
	f[54 + 8 + 15] = 9;  /* target 2001:db8::9: checksum then fails */
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_ICMP_CSUM);
	/* DAD probe: unspecified source, no SLLA option -> NA to all nodes, S clear */
	uint8_t dad[14 + 40 + 24];
	memcpy(dad, ns, sizeof(dad));
	memset(dad + 22, 0, 16);
	dad[18] = 0;
	dad[19] = 24;
	dad[56] = dad[57] = 0;
	uint8_t ps[40] = {0};
	memcpy(ps + 0, dad + 22, 32);
	ps[35] = 24;
	ps[39] = 58;
	uint32_t s = net_csum_add(0, ps, 40);
	uint16_t c = net_csum_fold(net_csum_add(s, dad + 54, 24));
	dad[56] = (uint8_t)(c >> 8);
	dad[57] = (uint8_t)c;
	classify(dad, sizeof(dad));
	cr_assert_eq(res.verdict, NET_V_REPLY, "drop %s", net_drop_name(res.drop));
	cr_assert_eq(out[0], 0x33);
	cr_assert_eq(out[5], 0x01);
	cr_assert_eq(out[14 + 24], 0xff);          /* dst ff02::1 */
	cr_assert_eq(out[14 + 39], 0x01);
	cr_assert_eq(out[14 + 40 + 4], 0x20);      /* Override only */
}

Test(net, icmp6_echo_reply)
{
	classify(echo6_req, sizeof(echo6_req));
	assert_frame(echo6_rep, sizeof(echo6_rep));
	cr_assert_eq(res.reply, NET_REPLY_ICMP6);
	uint8_t f[sizeof(echo6_req)];
	memcpy(f, echo6_req, sizeof(f));
	f[sizeof(f) - 1] ^= 0x80;
	classify(f, sizeof(f));
	cr_assert_eq(res.drop, NET_DROP_ICMP_CSUM);
	memcpy(f, echo6_req, sizeof(f));
	f[14 + 39] = 7;  /* to 2001:db8::7: not ours (checked before the checksum fails) */
	classify(f, sizeof(f));
	cr_assert_eq(res.verdict, NET_V_DROP);
}

static void assert_sip(const uint8_t *f, size_t len, uint8_t family)
{
	classify(f, len);
	cr_assert_eq(res.verdict, NET_V_SIP, "drop %s", net_drop_name(res.drop));
	cr_assert_eq(res.flow.family, family);
	cr_assert_eq(res.flow.sport, 5062);
	cr_assert_eq(res.flow.dport, 5060);
	cr_assert_eq(res.plen, 33);
	cr_assert_arr_eq(res.payload, "OPTIONS sip:192.0.2.1 SIP/2.0\r\n\r\n", 33);
	cr_assert_eq(res.payload, f + len - 33);
	cr_assert_not(res.transit);
	cr_assert_null(res.slot);
	cr_assert_eq(res.flow.l2.src[5], 2);
}

Test(net, udp4_sip_datagram)
{
	assert_sip(udp4, sizeof(udp4), 4);
	cr_assert_arr_eq(res.flow.src, udp4 + 26, 4);
	cr_assert_eq(res.flow.ip_id, 0x0101);
}

Test(net, udp6_sip_datagram)
{
	assert_sip(udp6, sizeof(udp6), 6);
	cr_assert_arr_eq(res.flow.src, udp6 + 22, 16);
}

Test(net, udp_rejects)
{
	uint8_t f[sizeof(udp6)];
	memcpy(f, udp4, sizeof(udp4));
	f[sizeof(udp4) - 3] ^= 0x20;
	classify(f, sizeof(udp4));
	cr_assert_eq(res.drop, NET_DROP_UDP_CSUM);
	memcpy(f, udp4, sizeof(udp4));
	f[40] = 0;  /* zero IPv4 UDP checksum: none, accepted */
	f[41] = 0;
	f[sizeof(udp4) - 3] ^= 0x20;
	classify(f, sizeof(udp4));
	cr_assert_eq(res.verdict, NET_V_SIP);
	memcpy(f, udp4, sizeof(udp4));
	f[37] = 0xc5;  /* port 5061 */
	refix4(f, sizeof(udp4));
	classify(f, sizeof(udp4));
	cr_assert_eq(res.drop, NET_DROP_PORT);
	memcpy(f, udp4, sizeof(udp4));
	f[38] = 0x10;  /* UDP length beyond the IP payload */
	classify(f, sizeof(udp4));
	cr_assert_eq(res.drop, NET_DROP_UDP_HDR);
	memcpy(f, udp6, sizeof(udp6));
	f[60] = f[61] = 0;  /* zero IPv6 UDP checksum: invalid */
	classify(f, sizeof(udp6));
	cr_assert_eq(res.drop, NET_DROP_UDP_HDR);
	memcpy(f, udp4, sizeof(udp4));
	f[33] = 9;  /* to 192.0.2.9 */
	refix4(f, sizeof(udp4));
	classify(f, sizeof(udp4));
	cr_assert_eq(res.drop, NET_DROP_NOT_OURS);
	cfg.transit = true;  /* bump in the wire: SIP to any address, other traffic forwarded */
	classify(f, sizeof(udp4));
	cr_assert_eq(res.verdict, NET_V_SIP);
	cr_assert(res.transit);
	f[37] = 0xc5;
	refix4(f, sizeof(udp4));
	classify(f, sizeof(udp4));
	cr_assert_eq(res.verdict, NET_V_FORWARD);
	memcpy(f, udp4, sizeof(udp4));
	f[0] = 0x44;  /* to another MAC, still our IP: handled */
	classify(f, sizeof(udp4));
	cr_assert_eq(res.verdict, NET_V_SIP);
}

Test(net, udp_build_v4_known)
{
	assert_sip(udp4, sizeof(udp4), 4);
	struct net_flow f;
	net_flow_reverse(&res.flow, &f);
	f.ip_id = 0x0202;
	size_t hl = net_udp_hdr_len(&f);
	cr_assert_eq(hl, 42);
	memcpy(out + hl, "SIP/2.0 200 OK\r\n\r\n", 18);
	long n = net_udp_build(out, sizeof(out), &f, 18);
	cr_assert_eq(n, (long)sizeof(udp4_build));
	cr_assert_arr_eq(out, udp4_build, sizeof(udp4_build));
	cr_assert_eq(net_udp_build(out, 59, &f, 18), -ENOSPC);
	/* short frames are padded to 60 */
	n = net_udp_build(out, sizeof(out), &f, 2);
	cr_assert_eq(n, 60);
	f.family = 5;
	cr_assert_eq(net_udp_build(out, sizeof(out), &f, 2), -EINVAL);
}

Test(net, udp_build_v6_vlan_known)
{
	assert_sip(udp6, sizeof(udp6), 6);
	struct net_flow f;
	net_flow_reverse(&res.flow, &f);
	f.l2.n_vlan = 1;
	f.l2.tci[0] = 100;
	f.l2.tpid[0] = 0;  /* default 802.1Q */
	size_t hl = net_udp_hdr_len(&f);
	cr_assert_eq(hl, 66);
	memcpy(out + hl, "SIP/2.0 200 OK\r\n\r\n", 18);
	long n = net_udp_build(out, sizeof(out), &f, 18);
	cr_assert_eq(n, (long)sizeof(udp6_build));
	cr_assert_arr_eq(out, udp6_build, sizeof(udp6_build));
}

/* An IPv6 header with the extension headers exts (next header chain given) then UDP. */
static size_t ip6_with_ext(uint8_t *p, const uint8_t *exts, size_t elen, uint8_t first)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	size_t plen = elen + 8;
	p[4] = (uint8_t)(plen >> 8);
	p[5] = (uint8_t)plen;
	p[6] = first;
	p[7] = 64;
	memcpy(p + 40, exts, elen);
	memset(p + 40 + elen, 0, 8);
	return 40 + plen;
}

Test(net, ip6_extension_headers)
{
	uint8_t p[256];
	struct net_ip6 ip;
	/* hop-by-hop (8 bytes, PadN) -> destination options (8) -> UDP */
	const uint8_t hbh_dst[] = {60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0};
	size_t n = ip6_with_ext(p, hbh_dst, sizeof(hbh_dst), 0);
	cr_assert_eq(net_ip6_parse(p, n, &ip), 0);
	cr_assert_eq(ip.proto, 17);
	cr_assert_eq(ip.l4_off, 56);
	cr_assert_eq(ip.l4_len, 8);
	cr_assert_not(ip.frag);
	/* hop-by-hop after another header */
	const uint8_t dst_hbh[] = {0, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0};
	n = ip6_with_ext(p, dst_hbh, sizeof(dst_hbh), 60);
	cr_assert_eq(net_ip6_parse(p, n, &ip), -EINVAL);
	/* routing header: segments left 0 passes, 1 is refused */
	uint8_t rt[] = {17, 0, 0, 0, 0, 0, 0, 0};
	n = ip6_with_ext(p, rt, sizeof(rt), 43);
	cr_assert_eq(net_ip6_parse(p, n, &ip), 0);
	rt[3] = 1;
	n = ip6_with_ext(p, rt, sizeof(rt), 43);
	cr_assert_eq(net_ip6_parse(p, n, &ip), -ENOTSUP);
	/* fragment header ends the walk */
	const uint8_t fr[] = {17, 0, 0x05, 0x01, 0xde, 0xad, 0xbe, 0xef};
	n = ip6_with_ext(p, fr, sizeof(fr), 44);
	cr_assert_eq(net_ip6_parse(p, n, &ip), 0);
	cr_assert(ip.frag);
	cr_assert(ip.mf);
	cr_assert_eq(ip.frag_off, 0x0500);
	cr_assert_eq(ip.frag_id, 0xdeadbeef);
	cr_assert_eq(ip.l4_off, 48);
	/* too many headers: 9 destination options */
	uint8_t many[9 * 8];
	for (int i = 0; i < 9; i++) {
		memset(many + i * 8, 0, 8);
		many[i * 8] = i == 8 ? 17 : 60;
	}
	n = ip6_with_ext(p, many, sizeof(many), 60);
	cr_assert_eq(net_ip6_parse(p, n, &ip), -EINVAL);
	/* header length beyond the payload */
	const uint8_t big[] = {17, 5, 0, 0, 0, 0, 0, 0};
	n = ip6_with_ext(p, big, sizeof(big), 60);
	cr_assert_eq(net_ip6_parse(p, n, &ip), -EINVAL);
	/* payload length beyond the buffer */
	cr_assert_eq(net_ip6_parse(p, n - 1, &ip), -EINVAL);
}

/* Fragments of one IPv4 UDP datagram from the peer, with a known payload. */
static uint8_t big[8192];
static uint8_t frags[24][2048];
static size_t frag_len[24];
static const uint8_t sip_hdr[] = "OPTIONS sip:192.0.2.1 SIP/2.0\r\nX: ";

static int make_frags(size_t plen, unsigned mtu, uint16_t id)
{
	assert_sip(udp4, sizeof(udp4), 4);
	struct net_flow f = res.flow;
	f.ip_id = id;
	size_t hl = net_udp_hdr_len(&f);
	for (size_t i = 0; i < plen; i++)
		big[hl + i] = (uint8_t)('a' + i % 26);
	memcpy(big + hl, sip_hdr, sizeof(sip_hdr) - 1);
	long n = net_udp_build(big, sizeof(big), &f, plen);
	cr_assert_gt(n, 0);
	int k = net_ip4_frag_count(big, (size_t)n, 14, mtu);
	cr_assert_gt(k, 0);
	cr_assert_leq(k, 24);
	for (int i = 0; i < k; i++) {
		long fl = net_ip4_fragment(big, (size_t)n, 14, mtu, (unsigned)i, frags[i],
					   sizeof(frags[i]));
		cr_assert_gt(fl, 0, "fragment %d: %ld", i, fl);
		frag_len[i] = (size_t)fl;
	}
	return k;
}

static void assert_payload(size_t plen)
{
	cr_assert_eq(res.verdict, NET_V_SIP, "verdict %d drop %s", res.verdict,
		     net_drop_name(res.drop));
	cr_assert_eq(res.plen, plen);
	cr_assert_arr_eq(res.payload, big + 42, plen);
	cr_assert_not_null(res.slot);
	cr_assert_eq(res.flow.sport, 5062);
	cr_assert_eq(res.flow.dport, 5060);
}

static struct net_reasm_slot slots[4];

Test(net, fragment_fields)
{
	int k = make_frags(3000, 1500, 0x7777);
	cr_assert_eq(k, 3);
	/* 3008 bytes of UDP: 1480 + 1480 + 48 */
	const size_t dl[3] = {1480, 1480, 48};
	for (int i = 0; i < 3; i++) {
		const uint8_t *ip = frags[i] + 14;
		cr_assert_eq(frag_len[i], 14 + 20 + dl[i]);
		cr_assert_eq((size_t)(ip[2] << 8 | ip[3]), 20 + dl[i]);
		uint16_t fo = (uint16_t)(ip[6] << 8 | ip[7]);
		cr_assert_eq(fo & 0x1fff, i * 185);
		cr_assert_eq(!!(fo & 0x2000), i < 2);
		cr_assert_eq(ip[4], 0x77);
		cr_assert_eq(ref_csum(ip, 20), 0, "fragment %d header checksum", i);
		cr_assert_arr_eq(ip + 20, big + 34 + i * 1480, dl[i]);
	}
	cr_assert_eq(net_ip4_fragment(big, 14 + 20 + 3008, 14, 1500, 3, out, sizeof(out)),
		     -EINVAL);
	cr_assert_eq(net_ip4_fragment(big, 14 + 20 + 3008, 14, 1500, 0, out, 100), -ENOSPC);
	/* fits: one "fragment", the frame itself */
	cr_assert_eq(net_ip4_frag_count(big, 14 + 20 + 3008, 14, 9000), 1);
	big[14 + 6] = 0x40;  /* DF */
	cr_assert_eq(net_ip4_frag_count(big, 14 + 20 + 3008, 14, 1500), -EMSGSIZE);
	cr_assert_eq(net_ip4_frag_count(big, 14 + 20 + 3008, 14, 60), -EINVAL);
}

Test(net, reassembly_in_order)
{
	struct net_reasm r;
	cr_assert_eq(net_reasm_init(&r, slots, 4, 1000), 0);
	int k = make_frags(3000, 1500, 1);
	for (int i = 0; i < k; i++) {
		net_classify(&cfg, frags[i], frag_len[i], &r, 10, out, sizeof(out), &res);
		if (i < k - 1)
			cr_assert_eq(res.verdict, NET_V_HELD, "fragment %d: %s", i,
				     net_drop_name(res.drop));
	}
	assert_payload(3000);
	cr_assert_eq(net_reasm_in_use(&r), 1);
	net_reasm_release(&r, res.slot);
	cr_assert_eq(net_reasm_in_use(&r), 0);
}

Test(net, reassembly_out_of_order_and_duplicate)
{
	struct net_reasm r;
	cr_assert_eq(net_reasm_init(&r, slots, 4, 1000), 0);
	int k = make_frags(6000, 1280, 2);
	cr_assert_eq(k, 5);
	const int order[] = {4, 2, 2, 0, 3, 1};
	for (int j = 0; j < 6; j++) {
		int i = order[j];
		net_classify(&cfg, frags[i], frag_len[i], &r, 10, out, sizeof(out), &res);
		if (j < 5)
			cr_assert_eq(res.verdict, NET_V_HELD, "step %d: %s", j,
				     net_drop_name(res.drop));
	}
	assert_payload(6000);
	net_reasm_release(&r, res.slot);
}

Test(net, reassembly_overlap_rejected)
{
	struct net_reasm r;
	cr_assert_eq(net_reasm_init(&r, slots, 4, 1000), 0);
	make_frags(3000, 1500, 3);
	net_classify(&cfg, frags[0], frag_len[0], &r, 0, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, NET_V_HELD);
	/* the second fragment moved back 8 bytes: overlaps the first */
	uint8_t *ip = frags[1] + 14;
	ip[7] = (uint8_t)(ip[7] - 1);
	ip[10] = ip[11] = 0;
	uint16_t c = ref_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	net_classify(&cfg, frags[1], frag_len[1], &r, 0, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, NET_V_DROP);
	cr_assert_eq(res.drop, NET_DROP_REASM_OVERLAP);
	cr_assert_eq(net_reasm_in_use(&r), 0);
	/* the rest then starts a new datagram that never completes */
	net_classify(&cfg, frags[2], frag_len[2], &r, 0, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, NET_V_HELD);
}

Test(net, reassembly_timeout)
{
	struct net_reasm r;
	cr_assert_eq(net_reasm_init(&r, slots, 4, 1000), 0);
	make_frags(3000, 1500, 4);
	net_classify(&cfg, frags[0], frag_len[0], &r, 5, out, sizeof(out), &res);
	net_classify(&cfg, frags[1], frag_len[1], &r, 500, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, NET_V_HELD);
	net_classify(&cfg, frags[2], frag_len[2], &r, 1005, out, sizeof(out), &res);
	cr_assert_eq(res.verdict, NET_V_HELD);  /* the old slot expired: a new one started */
	cr_assert_eq(r.n_timeout, 1);
	cr_assert_eq(net_reasm_expire(&r, 2005), 1);
	cr_assert_eq(net_reasm_in_use(&r), 0);
}

Test(net, reassembly_limits)
{
	struct net_reasm r;
	cr_assert_eq(net_reasm_init(&r, slots, 2, 1000), 0);
	cr_assert_eq(net_reasm_init(&r, slots, 0, 1000), -EINVAL);
	cr_assert_eq(net_reasm_init(&r, slots, 2, 1000), 0);
	/* table full: three datagrams in two slots */
	for (uint16_t id = 10; id < 13; id++) {
		make_frags(3000, 1500, id);
		net_classify(&cfg, frags[0], frag_len[0], &r, 0, out, sizeof(out), &res);
		if (id < 12)
			cr_assert_eq(res.verdict, NET_V_HELD);
	}
	cr_assert_eq(res.drop, NET_DROP_REASM_FULL);
	/* too many fragments: a 17th 48-byte piece (MTU 68) */
	cr_assert_eq(net_reasm_init(&r, slots, 2, 1000), 0);
	int k = make_frags(800, 68, 20);
	cr_assert_eq(k, 17);
	for (int i = 0; i < 16; i++) {
		net_classify(&cfg, frags[i], frag_len[i], &r, 0, out, sizeof(out), &res);
		cr_assert_eq(res.verdict, NET_V_HELD);
	}
	net_classify(&cfg, frags[16], frag_len[16], &r, 0, out, sizeof(out), &res);
	cr_assert_eq(res.drop, NET_DROP_REASM_TOO_MANY);
	/* beyond the maximum datagram size */
	struct net_reasm_slot *s;
	struct net_reasm_key key = {.family = 4, .proto = 17, .id = 99};
	struct net_l2 l2 = {0};
	uint8_t d[64] = {0};
	cr_assert_eq(net_reasm_add(&r, &key, &l2, 64, 0, NET_REASM_MAX_SIZE - 8, true, d, 16, 0,
				   &s), -EMSGSIZE);
	cr_assert_eq(net_reasm_add(&r, &key, &l2, 64, 0, 0, true, d, 12, 0, &s), -EINVAL);
	cr_assert_eq(net_reasm_add(&r, &key, &l2, 64, 0, 0, true, d, 0, 0, &s), -EINVAL);
	/* a last fragment that ends before data already held */
	cr_assert_eq(net_reasm_add(&r, &key, &l2, 64, 0, 32, true, d, 16, 0, &s), 0);
	cr_assert_eq(net_reasm_add(&r, &key, &l2, 64, 0, 8, false, d, 8, 0, &s), -EINVAL);
	cr_assert_eq(net_reasm_in_use(&r), 0);
	/* without a table, fragments are dropped */
	make_frags(3000, 1500, 30);
	net_classify(&cfg, frags[0], frag_len[0], NULL, 0, out, sizeof(out), &res);
	cr_assert_eq(res.drop, NET_DROP_REASM_OFF);
}

Test(net, drop_names)
{
	cr_assert_str_eq(net_drop_name(NET_DROP_UDP_CSUM), "udp_checksum");
	cr_assert_str_eq(net_drop_name(NET_DROP_COUNT), "?");
	for (int i = 0; i < NET_DROP_COUNT; i++)
		cr_assert_neq(strcmp(net_drop_name((enum net_drop)i), "?"), 0);
}
