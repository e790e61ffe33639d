/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In-process dataplane test over a net_ring port made with rte_eth_from_rings(): frames are
 * injected into the port's RX ring, one lcore iteration runs on the main thread, and the TX
 * ring's frames are checked byte by byte against frames this file builds itself (its own
 * writers and RFC 1071 checksum, independent of dataplane/net). Exit 77 when EAL cannot start.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/dp.h"
#include "dataplane/dp_sip_min.h"

static int failures;

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			failures++; \
		} \
	} while (0)

static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
static uint8_t my_mac[6];
static const uint8_t MY4[4] = {192, 0, 2, 1}, PEER4[4] = {192, 0, 2, 2};
static const uint8_t MY6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t PEER6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

static struct rte_ring *rx_ring, *tx_ring;
static struct rte_mempool *tpool;
static struct dp dp;
static struct dp_sip_min smin;

/* ---- independent frame writers ---- */

static uint16_t ref_csum(uint32_t s, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		s += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, unsigned type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
	return 14;
}

static void ip4(uint8_t *h, const uint8_t *src, const uint8_t *dst, unsigned proto,
		size_t plen, unsigned id, unsigned frag, unsigned ttl)
{
	memset(h, 0, 20);
	h[0] = 0x45;
	put16(h + 2, 20 + plen);
	put16(h + 4, id);
	put16(h + 6, frag);
	h[8] = (uint8_t)ttl;
	h[9] = (uint8_t)proto;
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	put16(h + 10, ref_csum(0, h, 20));
}

static uint32_t pseudo_sum(const uint8_t *src, const uint8_t *dst, size_t alen, unsigned proto,
			   size_t len)
{
	uint8_t b[40] = {0};
	memcpy(b, src, alen);
	memcpy(b + alen, dst, alen);
	uint32_t s = 0;
	for (size_t i = 0; i < 2 * alen; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	return s + proto + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
}

/* UDP from the peer to us: Ethernet + IPv4 + UDP (checksummed) + payload. */
static size_t udp4_datagram(uint8_t *u, const char *payload, size_t len)
{
	put16(u, 5062);
	put16(u + 2, 5060);
	put16(u + 4, 8 + len);
	put16(u + 6, 0);
	memcpy(u + 8, payload, len);
	put16(u + 6, ref_csum(pseudo_sum(PEER4, MY4, 4, 17, 8 + len), u, 8 + len));
	return 8 + len;
}

/* ---- injection and collection ---- */

static void inject(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(tpool);
	if (!m || len > rte_pktmbuf_tailroom(m)) {
		fprintf(stderr, "inject: no mbuf\n");
		exit(1);
	}
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), f, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (rte_ring_enqueue(rx_ring, m)) {
		fprintf(stderr, "inject: ring full\n");
		exit(1);
	}
}

static uint8_t got[8][2048];
static size_t got_len[8];

/* Runs the lcore until idle; returns the number of frames sent (copied into got). */
static unsigned run(void)
{
	for (int i = 0; i < 4; i++)
		dp_lcore_poll(dp.lcores[0], true);
	unsigned n = 0;
	struct rte_mbuf *m = NULL;
	while (rte_ring_dequeue(tx_ring, (void **)&m) == 0) {
		if (n < 8 && m->data_len <= sizeof(got[0])) {
			memcpy(got[n], rte_pktmbuf_mtod(m, uint8_t *), m->data_len);
			got_len[n] = m->data_len;
		}
		n++;
		rte_pktmbuf_free(m);
	}
	return n;
}

static void expect_frame(unsigned i, const uint8_t *want, size_t len, const char *what)
{
	CHECK(got_len[i] == len, "%s: length %zu, want %zu", what, got_len[i], len);
	if (got_len[i] != len)
		return;
	for (size_t k = 0; k < len; k++)
		if (got[i][k] != want[k]) {
			CHECK(got[i][k] == want[k], "%s: byte %zu is %02x, want %02x", what, k,
			      got[i][k], want[k]);
			return;
		}
}

/* ---- cases ---- */

static void test_arp(void)
{
	uint8_t f[60] = {0}, w[60] = {0};
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	size_t o = eth(f, bc, PEER_MAC, 0x0806);
	const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 1};
	memcpy(f + o, hdr, 8);
	memcpy(f + o + 8, PEER_MAC, 6);
	memcpy(f + o + 14, PEER4, 4);
	memcpy(f + o + 24, MY4, 4);
	inject(f, sizeof(f));
	o = eth(w, PEER_MAC, my_mac, 0x0806);
	memcpy(w + o, hdr, 8);
	w[o + 7] = 2;
	memcpy(w + o + 8, my_mac, 6);
	memcpy(w + o + 14, MY4, 4);
	memcpy(w + o + 18, PEER_MAC, 6);
	memcpy(w + o + 24, PEER4, 4);
	CHECK(run() == 1, "one ARP reply");
	expect_frame(0, w, sizeof(w), "arp");
}

static void test_ping(void)
{
	uint8_t f[98], w[98];
	size_t o = eth(f, my_mac, PEER_MAC, 0x0800);
	uint8_t *ic = f + o + 20;
	ic[0] = 8;
	ic[1] = 0;
	put16(ic + 2, 0);
	put16(ic + 4, 0xbeef);
	put16(ic + 6, 3);
	for (int i = 0; i < 56; i++)
		ic[8 + i] = (uint8_t)i;
	put16(ic + 2, ref_csum(0, ic, 64));
	ip4(f + o, PEER4, MY4, 1, 64, 0x1111, 0x4000, 64);
	inject(f, sizeof(f));
	o = eth(w, PEER_MAC, my_mac, 0x0800);
	memcpy(w + o + 20, ic, 64);
	w[o + 20] = 0;
	put16(w + o + 22, 0);
	put16(w + o + 22, ref_csum(0, w + o + 20, 64));
	ip4(w + o, MY4, PEER4, 1, 64, 0x1111, 0, 64);
	CHECK(run() == 1, "one echo reply");
	expect_frame(0, w, sizeof(w), "icmp");
}

static void test_ns(void)
{
	uint8_t f[86], w[86];
	static const uint8_t sn_mac[6] = {0x33, 0x33, 0xff, 0, 0, 0x01};
	uint8_t snm[16] = {0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 1};
	size_t o = eth(f, sn_mac, PEER_MAC, 0x86dd);
	uint8_t *h = f + o;
	memset(h, 0, 40);
	h[0] = 0x60;
	put16(h + 4, 32);
	h[6] = 58;
	h[7] = 255;
	memcpy(h + 8, PEER6, 16);
	memcpy(h + 24, snm, 16);
	uint8_t *ns = h + 40;
	memset(ns, 0, 32);
	ns[0] = 135;
	memcpy(ns + 8, MY6, 16);
	ns[24] = 1;
	ns[25] = 1;
	memcpy(ns + 26, PEER_MAC, 6);
	put16(ns + 2, ref_csum(pseudo_sum(PEER6, snm, 16, 58, 32), ns, 32));
	inject(f, sizeof(f));
	o = eth(w, PEER_MAC, my_mac, 0x86dd);
	h = w + o;
	memset(h, 0, 40);
	h[0] = 0x60;
	put16(h + 4, 32);
	h[6] = 58;
	h[7] = 255;
	memcpy(h + 8, MY6, 16);
	memcpy(h + 24, PEER6, 16);
	uint8_t *na = h + 40;
	memset(na, 0, 32);
	na[0] = 136;
	na[4] = 0x60;
	memcpy(na + 8, MY6, 16);
	na[24] = 2;
	na[25] = 1;
	memcpy(na + 26, my_mac, 6);
	put16(na + 2, ref_csum(pseudo_sum(MY6, PEER6, 16, 58, 32), na, 32));
	CHECK(run() == 1, "one neighbour advertisement");
	expect_frame(0, w, sizeof(w), "nd");
}

static void fnv_tag(const char *s, char tag[9])
{
	uint32_t h = 0x811c9dc5u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x01000193u;
	snprintf(tag, 9, "%08x", h);
}

static char req[8192], want[8192];

/* An OPTIONS with a Via branch of vlen characters; want gets the expected 200 OK. */
static size_t make_options(const char *call_id, size_t vlen)
{
	char branch[4096];
	memset(branch, 'b', vlen);
	branch[vlen] = '\0';
	int n = snprintf(req, sizeof(req),
			 "OPTIONS sip:192.0.2.1 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK%s\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:ping@192.0.2.2>;tag=f1\r\n"
			 "To: <sip:192.0.2.1>\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: 7 OPTIONS\r\n"
			 "Content-Length: 0\r\n\r\n",
			 branch, call_id);
	char tag[9];
	fnv_tag(call_id, tag);
	snprintf(want, sizeof(want),
		 "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK%s\r\n"
		 "From: <sip:ping@192.0.2.2>;tag=f1\r\n"
		 "To: <sip:192.0.2.1>;tag=%s\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: 7 OPTIONS\r\n"
		 "Content-Length: 0\r\n\r\n",
		 branch, tag, call_id);
	return (size_t)n;
}

/* Checks frame i is our UDP answer from 5060 to the peer's 5062; returns its IP payload. */
static const uint8_t *check_udp_frame(unsigned i, size_t *ip_plen, unsigned *frag)
{
	const uint8_t *f = got[i];
	CHECK(memcmp(f, PEER_MAC, 6) == 0 && memcmp(f + 6, my_mac, 6) == 0, "frame %u MACs", i);
	CHECK(f[12] == 0x08 && f[13] == 0x00, "frame %u IPv4", i);
	const uint8_t *h = f + 14;
	CHECK(h[0] == 0x45 && h[9] == 17, "frame %u IPv4/UDP header", i);
	CHECK(memcmp(h + 12, MY4, 4) == 0 && memcmp(h + 16, PEER4, 4) == 0, "frame %u addrs", i);
	CHECK(ref_csum(0, h, 20) == 0, "frame %u IP checksum", i);
	size_t tot = (size_t)(h[2] << 8 | h[3]);
	CHECK(tot <= 1500 && 14 + tot <= got_len[i], "frame %u total length %zu", i, tot);
	*ip_plen = tot - 20;
	*frag = (unsigned)(h[6] << 8 | h[7]);
	return h + 20;
}

static void check_udp_payload(const uint8_t *u, size_t ulen, const char *what)
{
	CHECK(ulen >= 8 && (size_t)(u[4] << 8 | u[5]) == ulen, "%s: UDP length", what);
	CHECK(u[0] == 0x13 && u[1] == 0xc4 && u[2] == 0x13 && u[3] == 0xc6, "%s: ports", what);
	CHECK(ref_csum(pseudo_sum(MY4, PEER4, 4, 17, ulen), u, ulen) == 0, "%s: UDP checksum",
	      what);
	size_t wl = strlen(want);
	CHECK(ulen - 8 == wl && memcmp(u + 8, want, wl) == 0, "%s: payload (%zu bytes):\n%.*s",
	      what, ulen - 8, (int)(ulen - 8), (const char *)u + 8);
}

static void test_options(void)
{
	size_t n = make_options("one@192.0.2.2", 10);
	uint8_t f[2048];
	size_t o = eth(f, my_mac, PEER_MAC, 0x0800);
	size_t ul = udp4_datagram(f + o + 20, req, n);
	ip4(f + o, PEER4, MY4, 17, ul, 0x2222, 0, 64);
	inject(f, o + 20 + ul);
	CHECK(run() == 1, "one 200 OK");
	size_t pl;
	unsigned fr;
	const uint8_t *u = check_udp_frame(0, &pl, &fr);
	CHECK(fr == 0, "not a fragment");
	check_udp_payload(u, pl, "options");
}

static uint8_t big[8192];

/* An OPTIONS of ~2500 bytes in 3 fragments, answered by a 200 OK sent in 2 fragments. */
static void test_options_fragmented(void)
{
	size_t n = make_options("frag@192.0.2.2", 2300);
	size_t ul = udp4_datagram(big, req, n);
	CHECK(ul > 2 * 1000, "datagram %zu bytes", ul);
	/* three fragments, sent out of order: 1000 + 1000 + rest */
	const size_t offs[3] = {2000, 0, 1000};
	for (int i = 0; i < 3; i++) {
		uint8_t f[1600];
		size_t off = offs[i], len = off == 2000 ? ul - 2000 : 1000;
		size_t o = eth(f, my_mac, PEER_MAC, 0x0800);
		memcpy(f + o + 20, big + off, len);
		ip4(f + o, PEER4, MY4, 17, len, 0x3333, (off == 2000 ? 0 : 0x2000) | off / 8, 64);
		inject(f, o + 20 + len);
	}
	unsigned k = run();
	CHECK(k == 2, "200 OK in 2 fragments, got %u frames", k);
	if (k != 2)
		return;
	/* reassemble the answer */
	static uint8_t ans[8192];
	size_t total = 0;
	for (unsigned i = 0; i < 2; i++) {
		size_t pl;
		unsigned fr;
		const uint8_t *p = check_udp_frame(i, &pl, &fr);
		size_t off = (size_t)(fr & 0x1fff) * 8;
		CHECK((fr & 0x2000) == (i == 0 ? 0x2000u : 0u), "MF of fragment %u", i);
		CHECK(off + pl <= sizeof(ans), "fragment %u fits", i);
		memcpy(ans + off, p, pl);
		if (off + pl > total)
			total = off + pl;
	}
	check_udp_payload(ans, total, "fragmented options");
	struct dp_stats s;
	dp_stats_sum(&dp, &s);
	CHECK(s.sip_reasm == 1, "one reassembled datagram, got %" PRIu64, s.sip_reasm);
	CHECK(s.held == 2, "two fragments held, got %" PRIu64, s.held);
	CHECK(s.frag_out == 2, "two fragments sent, got %" PRIu64, s.frag_out);
}

static void test_ping6(void)
{
	uint8_t f[14 + 40 + 16], w[14 + 40 + 16];
	size_t o = eth(f, my_mac, PEER_MAC, 0x86dd);
	uint8_t *h = f + o;
	memset(h, 0, 40);
	h[0] = 0x60;
	put16(h + 4, 16);
	h[6] = 58;
	h[7] = 64;
	memcpy(h + 8, PEER6, 16);
	memcpy(h + 24, MY6, 16);
	uint8_t *e = h + 40;
	memset(e, 0, 16);
	e[0] = 128;
	put16(e + 4, 0x77);
	put16(e + 6, 1);
	memcpy(e + 8, "shakend!", 8);
	put16(e + 2, ref_csum(pseudo_sum(PEER6, MY6, 16, 58, 16), e, 16));
	inject(f, sizeof(f));
	memcpy(w, f, sizeof(w));
	eth(w, PEER_MAC, my_mac, 0x86dd);
	memcpy(w + o + 8, MY6, 16);
	memcpy(w + o + 24, PEER6, 16);
	uint8_t *r = w + o + 40;
	r[0] = 129;
	put16(r + 2, 0);
	put16(r + 2, ref_csum(pseudo_sum(MY6, PEER6, 16, 58, 16), r, 16));
	CHECK(run() == 1, "one echo6 reply");
	expect_frame(0, w, sizeof(w), "icmp6");
}

static void test_garbage(void)
{
	uint8_t f[60];
	memset(f, 0xa5, sizeof(f));
	memcpy(f, my_mac, 6);
	inject(f, sizeof(f));
	uint8_t g[20];
	memcpy(g, my_mac, 6);
	memset(g + 6, 0, 14);
	inject(g, 13);
	CHECK(run() == 0, "no answer to garbage");
	CHECK(smin.stats[0].options_ok == 2, "two OPTIONS answered, got %" PRIu64,
	      smin.stats[0].options_ok);
}

int main(void)
{
	char *eal[] = {"test_dp_ring", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
		       "-l", "0", "--log-level=*:warning", NULL};
	int eal_argc = (int)RTE_DIM(eal) - 1;
	if (rte_eal_init(eal_argc, eal) < 0) {
		fprintf(stderr, "SKIP: EAL cannot start: %s\n", rte_strerror(rte_errno));
		return 77;
	}
	rx_ring = rte_ring_create("t_rx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tx_ring = rte_ring_create("t_tx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tpool = rte_pktmbuf_pool_create("t_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					SOCKET_ID_ANY);
	if (!rx_ring || !tx_ring || !tpool) {
		fprintf(stderr, "rings/pool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (rte_eth_from_rings("net_ring_t", &rx_ring, 1, &tx_ring, 1, SOCKET_ID_ANY) < 0) {
		fprintf(stderr, "rte_eth_from_rings: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	struct dp_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.n_mbufs = 2047;
	if (net_addr_parse("192.0.2.1", &conf.net.addrs[0]) ||
	    net_addr_parse("2001:db8::1", &conf.net.addrs[1]))
		return 1;
	conf.net.n_addrs = 2;
	conf.net.sip_ports[0] = 5060;
	conf.net.n_ports = 1;
	struct dp_sip_handler h;
	dp_sip_min_handler(&smin, &h);
	int rc = dp_init(&dp, &conf, &h);
	if (rc) {
		fprintf(stderr, "dp_init: %s\n", strerror(-rc));
		return 1;
	}
	if (dp.n_lcores != 1 || dp.n_ports != 1) {
		fprintf(stderr, "want 1 lcore and 1 port, have %u and %u\n", dp.n_lcores,
			dp.n_ports);
		return 1;
	}
	memcpy(my_mac, dp.ports[0].net.mac, 6);
	test_arp();
	test_ping();
	test_ns();
	test_ping6();
	test_options();
	test_options_fragmented();
	test_garbage();
	struct dp_stats s;
	dp_stats_sum(&dp, &s);
	dp_stats_print(&s, stdout);
	dp_fini(&dp);
	rte_eal_cleanup();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("test_dp_ring: all checks passed\n");
	return 0;
}
