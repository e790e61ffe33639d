/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SIP pipelines in process: EAL --no-huge, two net_ring ports, a SoftHSM2 token made per
 * run behind the fault module (libshaken_p11fault.so), a certificate cache pre-populated with
 * cache_publish_cert (no network). INVITEs go in as frames, the lcore loop runs on the main
 * thread, frames out are checked: 302 layouts byte by byte, Identity headers verified with
 * pp_verify_* and the token's public key, verify outcomes, parking on a miss and its wake,
 * park timeout, HSM deadline, inline both ways, malformed SIP.
 * Exit 77 when EAL cannot start or SoftHSM2 is missing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "crypto/identity.h"
#include "crypto/pp.h"
#include "crypto/verify.h"
#include "dataplane/certcache/cache.h"
#include "dataplane/dp.h"
#include "dataplane/dp_pipe.h"
#include "dataplane/dp_sip_min.h"
#include "dataplane/sip/sip.h"
#include "hsm/hsm.h"
#include "tests/test_hsm_softhsm.h"

#ifndef SHAKEND_P11FAULT
#define SHAKEND_P11FAULT "libshaken_p11fault.so"
#endif

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

#define X5U_GOOD "https://cert.example.org/sp.pem"
#define X5U_LATE "https://cert.example.org/late.pem"
#define X5U_NEVER "https://cert.example.org/never.pem"
#define ORIGID "123e4567-e89b-12d3-a456-426614174000"
#define CALLING "12155550101"
#define CALLED "12025550100"

static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t MY4[4] = {192, 0, 2, 1}, PEER4[4] = {192, 0, 2, 2};
static uint8_t my_mac[2][6];

static struct rte_ring *rx_ring[2], *tx_ring[2];
static struct rte_mempool *tpool;
static struct dp dp;
static struct dp_pipe pipe_;
static struct dp_sip_handler handler;
static struct hsm_engine *engine;
static struct cache *cache;
static EVP_PKEY *key;
static const char *fault_path;

/* ---- frames ---- */

static uint16_t csum(uint32_t s, const uint8_t *p, size_t len)
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

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* An IPv4/UDP frame from the peer (192.0.2.2:5062) to us (192.0.2.1:dport) on port pi. */
static void inject(unsigned pi, uint16_t dport, const char *payload, size_t len)
{
	static uint8_t f[16384];
	memcpy(f, my_mac[pi], 6);
	memcpy(f + 6, PEER_MAC, 6);
	put16(f + 12, 0x0800);
	uint8_t *h = f + 14, *u = f + 34;
	memset(h, 0, 20);
	h[0] = 0x45;
	put16(h + 2, 28 + len);
	h[8] = 64;
	h[9] = 17;
	memcpy(h + 12, PEER4, 4);
	memcpy(h + 16, MY4, 4);
	put16(h + 10, csum(0, h, 20));
	put16(u, 5062);
	put16(u + 2, dport);
	put16(u + 4, 8 + len);
	put16(u + 6, 0);
	memcpy(u + 8, payload, len);
	uint32_t ps = 0;
	for (int i = 0; i < 4; i += 2)
		ps += (uint32_t)get16(PEER4 + i) + get16(MY4 + i);
	ps += 17 + 8 + (uint32_t)len;
	put16(u + 6, csum(ps, u, 8 + len));
	size_t fl = 42 + len;
	struct rte_mbuf *m = rte_pktmbuf_alloc(tpool);
	if (!m || fl > rte_pktmbuf_tailroom(m)) {
		fprintf(stderr, "inject: no mbuf for %zu bytes\n", fl);
		exit(1);
	}
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), f, fl);
	m->data_len = (uint16_t)fl;
	m->pkt_len = (uint32_t)fl;
	if (rte_ring_enqueue(rx_ring[pi], m)) {
		fprintf(stderr, "inject: ring full\n");
		exit(1);
	}
}

struct out {
	unsigned port;          /* ring it left by */
	char payload[8192];
	size_t len;
	uint8_t src[4], dst[4];
	unsigned sport, dport;
};

static struct out outs[8];

/* Runs the loop until n datagrams left or ms passed; returns how many left. */
static unsigned run_for(unsigned want, unsigned ms)
{
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() / 1000 * ms;
	unsigned n = 0;
	do {
		dp_lcore_poll(dp.lcores[0], true);
		for (unsigned pi = 0; pi < 2; pi++) {
			struct rte_mbuf *m;
			while (rte_ring_dequeue(tx_ring[pi], (void **)&m) == 0) {
				const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
				if (n < RTE_DIM(outs) && m->data_len >= 42 &&
				    get16(f + 12) == 0x0800) {
					struct out *o = &outs[n];
					o->port = pi;
					memcpy(o->src, f + 26, 4);
					memcpy(o->dst, f + 30, 4);
					o->sport = get16(f + 34);
					o->dport = get16(f + 36);
					o->len = get16(f + 38) - 8;
					if (o->len > sizeof(o->payload) || 42 + o->len > m->data_len)
						o->len = 0;
					memcpy(o->payload, f + 42, o->len);
				}
				n++;
				rte_pktmbuf_free(m);
			}
		}
		if (n >= want && want)
			break;
		if (!want)
			usleep(1000);
	} while (rte_rdtsc() < end);
	return n;
}

/* ---- SIP ---- */

static size_t invite(char *buf, size_t cap, unsigned port, const char *call_id,
		     const char *identity)
{
	int n = snprintf(buf, cap,
			 "INVITE sip:+" CALLED "@192.0.2.1:%u;user=phone SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-%s\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Alice\" <sip:+" CALLING "@192.0.2.2;user=phone>;tag=a1\r\n"
			 "To: <sip:+" CALLED "@192.0.2.1;user=phone>\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: 1 INVITE\r\n"
			 "P-Asserted-Identity: <sip:+" CALLING "@192.0.2.2;user=phone>\r\n"
			 "Contact: <sip:alice@192.0.2.2:5062>\r\n"
			 "%s%s%s"
			 "Content-Length: 0\r\n\r\n",
			 port, call_id, call_id, identity ? "Identity: " : "",
			 identity ? identity : "", identity ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		exit(1);
	return (size_t)n;
}

static void send_invite(unsigned pi, unsigned port, const char *call_id, const char *identity)
{
	char buf[8192];
	size_t n = invite(buf, sizeof(buf), port, call_id, identity);
	inject(pi, (uint16_t)port, buf, n);
}

/* The Identity value of a PASSporT for CALLING -> CALLED signed in software with key. */
static void make_identity(char *out, size_t cap, const char *x5u, int64_t iat, bool tamper)
{
	struct pp_passport pp;
	const char *dest[1] = {CALLED};
	if (pp_shaken_init(&pp, x5u, 'A', CALLING, dest, 1, iat, ORIGID))
		exit(1);
	struct pp_signer s;
	if (pp_signer_evp(&s, key))
		exit(1);
	char tok[PP_TOKEN_MAX];
	long n = pp_sign(&pp, &s, tok, sizeof(tok));
	if (n < 0)
		exit(1);
	if (tamper) {
		char *last = &tok[n - 2];
		*last = *last == 'A' ? 'B' : 'A';
	}
	if (pp_identity_build(out, cap, tok, (size_t)n, &pp) < 0)
		exit(1);
}

static void tag_of(const char *call_id, char tag[9])
{
	dp_sip_min_tag(call_id, strlen(call_id), tag);
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* The head of every 302/other answer to invite(..., port, call_id). */
static int answer_head(char *buf, size_t cap, unsigned code, const char *reason, unsigned port,
		       const char *call_id)
{
	char tag[9];
	tag_of(call_id, tag);
	(void)port;
	return snprintf(buf, cap,
			"SIP/2.0 %u %s\r\n"
			"Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-%s\r\n"
			"From: \"Alice\" <sip:+" CALLING "@192.0.2.2;user=phone>;tag=a1\r\n"
			"To: <sip:+" CALLED "@192.0.2.1;user=phone>;tag=%s\r\n"
			"Call-ID: %s\r\n"
			"CSeq: 1 INVITE\r\n",
			code, reason, call_id, tag, call_id);
}

static void expect_text(const struct out *o, const char *want, const char *what)
{
	size_t wl = strlen(want);
	bool same = o->len == wl && memcmp(o->payload, want, wl) == 0;
	CHECK(same, "%s: got (%zu bytes)\n%.*s\nwant (%zu bytes)\n%s", what, o->len,
	      (int)o->len, o->payload, wl, want);
}

/* The reply goes back to the peer from the port it was sent to. */
static void expect_reply_addr(const struct out *o, unsigned port, const char *what)
{
	CHECK(o->port == 0 && !memcmp(o->src, MY4, 4) && !memcmp(o->dst, PEER4, 4) &&
		      o->sport == port && o->dport == 5062,
	      "%s: reply flow (port %u, %u -> %u)", what, o->port, o->sport, o->dport);
}

/* Extracts the value of the Identity header of a message into out; false when absent. */
static bool identity_of(const struct out *o, char *out, size_t cap)
{
	struct sip_msg m;
	if (sip_parse(&m, o->payload, o->len))
		return false;
	const struct sip_hdr *h = sip_hdr_first(&m, SIP_HDR_IDENTITY);
	if (!h || h->value.len >= cap)
		return false;
	memcpy(out, h->value.p, h->value.len);
	out[h->value.len] = '\0';
	return true;
}

/* Verifies an Identity value with the test key: the outcome check. */
static enum pp_check verify_identity(const char *idv, char *x5u, size_t cap)
{
	struct pp_verify *v = malloc(sizeof(*v));
	struct pp_slice s = {idv, strlen(idv)};
	struct pp_verify_params p = {.now = now_s(), .orig_tn = CALLING, .dest_tn = CALLED};
	int rc = pp_verify_begin(v, &s, 1, &p);
	if (rc == 1) {
		snprintf(x5u, cap, "%s", v->x5u);
		pp_verify_end(v, key);
	}
	enum pp_check c = rc < 0 ? PP_CHECK_COUNT_ : v->check;
	if (rc >= 0 && c == PP_CHECK_OK)
		CHECK(v->pp.attest == 'A' && !strcmp(v->pp.origid, ORIGID), "attest %c origid %s",
		      v->pp.attest, v->pp.origid);
	free(v);
	return c;
}

/* ---- tests ---- */

static void test_sign_redirect(void)
{
	send_invite(0, 5060, "sign-1@peer", NULL);
	unsigned n = run_for(1, 2000);
	CHECK(n == 1, "one 302, got %u", n);
	if (n != 1)
		return;
	expect_reply_addr(&outs[0], 5060, "sign 302");
	char idv[8192], x5u[600] = "";
	CHECK(identity_of(&outs[0], idv, sizeof(idv)), "302 has an Identity header");
	enum pp_check c = verify_identity(idv, x5u, sizeof(x5u));
	CHECK(c == PP_CHECK_OK, "Identity verifies: %s", pp_check_str(c));
	CHECK(!strcmp(x5u, X5U_GOOD), "x5u %s", x5u);
	char want[12000];
	int k = answer_head(want, sizeof(want), 302, "Moved Temporarily", 5060, "sign-1@peer");
	snprintf(want + k, sizeof(want) - (size_t)k,
		 "Contact: <sip:+" CALLED "@192.0.2.1:5060;user=phone>\r\n"
		 "Identity: %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 idv);
	expect_text(&outs[0], want, "sign-redirect 302");
	CHECK(pipe_.stats[0].signed_ok == 1, "signed 1, got %" PRIu64, pipe_.stats[0].signed_ok);
}

static void fault_set(const char *conf)
{
	void *h = dlopen(fault_path, RTLD_NOW | RTLD_NOLOAD);
	int (*set)(const char *) = h ? (int (*)(const char *))dlsym(h, "shaken_p11fault_set")
				     : NULL;
	CHECK(set != NULL, "fault module control");
	if (set)
		set(conf);
}

static void test_sign_deadline(void)
{
	fault_set("latency_us=300000");
	uint64_t before = pipe_.stats[0].unsigned_[DP_UNS_TIMEOUT];
	send_invite(0, 5060, "sign-slow@peer", NULL);
	unsigned n = run_for(1, 2000);
	CHECK(n == 1, "one answer, got %u", n);
	if (n == 1) {
		char want[4096];
		int k = answer_head(want, sizeof(want), 302, "Moved Temporarily", 5060,
				    "sign-slow@peer");
		snprintf(want + k, sizeof(want) - (size_t)k,
			 "Contact: <sip:+" CALLED "@192.0.2.1:5060;user=phone>\r\n"
			 "Content-Length: 0\r\n\r\n");
		expect_text(&outs[0], want, "unsigned 302 after the HSM deadline");
	}
	CHECK(pipe_.stats[0].unsigned_[DP_UNS_TIMEOUT] == before + 1, "timeout counted");
	/* the trunk policy "503" */
	pipe_.cfg.default_sign_503 = true;
	send_invite(0, 5060, "sign-slow2@peer", NULL);
	n = run_for(1, 2000);
	CHECK(n == 1, "one answer, got %u", n);
	if (n == 1) {
		char want[4096];
		int k = answer_head(want, sizeof(want), 503, "Service Unavailable", 5060,
				    "sign-slow2@peer");
		snprintf(want + k, sizeof(want) - (size_t)k, "Content-Length: 0\r\n\r\n");
		expect_text(&outs[0], want, "503 after the HSM deadline");
	}
	CHECK(pipe_.stats[0].sign_503 == 1, "503 counted");
	pipe_.cfg.default_sign_503 = false;
	fault_set("");
	/* let the late C_Sign calls finish before the next test */
	run_for(0, 700);
}

static void verify_302(const char *call_id, const char *identity, const char *verstat,
		       unsigned cause, const char *text, const char *what)
{
	send_invite(0, 5070, call_id, identity);
	unsigned n = run_for(1, 2000);
	CHECK(n == 1, "%s: one 302, got %u", what, n);
	if (n != 1)
		return;
	expect_reply_addr(&outs[0], 5070, what);
	char want[4096];
	int k = answer_head(want, sizeof(want), 302, "Moved Temporarily", 5070, call_id);
	k += snprintf(want + k, sizeof(want) - (size_t)k,
		      "Contact: <sip:+" CALLED "@192.0.2.1:5070;user=phone?P-Asserted-Identity="
		      "%%3Csip:+" CALLING "%%40192.0.2.2%%3Buser%%3Dphone%%3Bverstat%%3D%s%%3E>\r\n"
		      "P-Asserted-Identity: <sip:+" CALLING "@192.0.2.2;user=phone;verstat=%s>\r\n",
		      verstat, verstat);
	if (cause)
		k += snprintf(want + k, sizeof(want) - (size_t)k,
			      "Reason: STIR;cause=%u;text=\"%s\"\r\n", cause, text);
	snprintf(want + k, sizeof(want) - (size_t)k, "Content-Length: 0\r\n\r\n");
	expect_text(&outs[0], want, what);
}

static void test_verify_redirect(void)
{
	char idv[8192];
	make_identity(idv, sizeof(idv), X5U_GOOD, now_s(), false);
	verify_302("ver-good@peer", idv, "TN-Validation-Passed", 0, NULL, "good");
	make_identity(idv, sizeof(idv), X5U_GOOD, now_s(), true);
	verify_302("ver-bad@peer", idv, "TN-Validation-Failed", 438, "Invalid Identity Header",
		   "tampered");
	make_identity(idv, sizeof(idv), X5U_GOOD, now_s() - 600, false);
	verify_302("ver-stale@peer", idv, "TN-Validation-Failed", 403, "Stale Date", "stale");
	verify_302("ver-none@peer", NULL, "No-TN-Validation", 0, NULL, "no Identity");
	/* the reject policy: the RFC 8224 answer instead of the 302 */
	pipe_.cfg.default_verify_reject = true;
	make_identity(idv, sizeof(idv), X5U_GOOD, now_s(), true);
	send_invite(0, 5070, "ver-rej@peer", idv);
	unsigned n = run_for(1, 2000);
	CHECK(n == 1, "reject: one answer, got %u", n);
	if (n == 1) {
		char want[4096];
		int k = answer_head(want, sizeof(want), 438, "Invalid Identity Header", 5070,
				    "ver-rej@peer");
		snprintf(want + k, sizeof(want) - (size_t)k, "Content-Length: 0\r\n\r\n");
		expect_text(&outs[0], want, "438 under the reject policy");
	}
	pipe_.cfg.default_verify_reject = false;
	const struct dp_pipe_stats *st = &pipe_.stats[0];
	CHECK(st->verstat[PP_VERSTAT_PASSED] == 1 && st->vcheck[PP_CHECK_SIGNATURE] == 2 &&
		      st->verify_rejected == 1 &&
		      st->vcheck[PP_CHECK_STALE] == 1 && st->vcheck[PP_CHECK_NO_IDENTITY] == 1,
	      "verify counters");
}

static int publish(const char *url)
{
	struct cert_result r;
	memset(&r, 0, sizeof(r));
	r.failed = CERT_OK;
	r.not_before = now_s() - 3600;
	r.not_after = now_s() + 86400;
	r.tnauth.n = 1;
	r.tnauth.e[0].kind = CERT_TN_RANGE;
	snprintf(r.tnauth.e[0].v, sizeof(r.tnauth.e[0].v), "12155550100");
	r.tnauth.e[0].count = 100;
	r.pkey = key;
	return cache_publish_cert(cache, url, strlen(url), &r, now_s(), 3600);
}

static void test_verify_park(void)
{
	char idv[8192];
	make_identity(idv, sizeof(idv), X5U_LATE, now_s(), false);
	send_invite(0, 5070, "ver-late@peer", idv);
	unsigned n = run_for(0, 50);
	CHECK(n == 0, "parked: nothing sent, got %u", n);
	CHECK(dp_pipe_parked(dp.lcores[0]) == 1, "one call parked");
	CHECK(pipe_.stats[0].verify_parked == 1, "parked counted");
	CHECK(publish(X5U_LATE) == 0, "publish");
	n = run_for(1, 1000);
	CHECK(n == 1, "resumed: one 302, got %u", n);
	CHECK(pipe_.stats[0].verify_woken == 1, "woken once");
	CHECK(dp_pipe_parked(dp.lcores[0]) == 0, "nothing parked");
	if (n == 1 && n <= RTE_DIM(outs)) {
		CHECK(strstr(outs[0].payload, "verstat=TN-Validation-Passed>\r\n") != NULL,
		      "passed after the wake:\n%.*s", (int)outs[0].len, outs[0].payload);
	}
}

static void test_verify_park_timeout(void)
{
	char idv[8192];
	make_identity(idv, sizeof(idv), X5U_NEVER, now_s(), false);
	uint64_t t0 = rte_rdtsc();
	verify_302("ver-never@peer", idv, "No-TN-Validation", 436, "Bad Identity Info",
		   "park timeout");
	double ms = (double)(rte_rdtsc() - t0) * 1000.0 / (double)rte_get_tsc_hz();
	CHECK(ms >= 290 && ms < 1500, "answered after the park timeout (300 ms): %.0f ms", ms);
	CHECK(pipe_.stats[0].park_timeout == 1, "park timeout counted");
}

static void test_inline_sign(void)
{
	char in[8192];
	size_t il = invite(in, sizeof(in), 5080, "inl-sign@peer", NULL);
	inject(0, 5080, in, il);
	unsigned n = run_for(1, 2000);
	CHECK(n == 1, "one INVITE forwarded, got %u", n);
	if (n != 1)
		return;
	CHECK(outs[0].port == 1 && !memcmp(outs[0].src, PEER4, 4) && outs[0].dport == 5080,
	      "forwarded out of port 1 along the flow");
	char idv[8192], x5u[600];
	CHECK(identity_of(&outs[0], idv, sizeof(idv)), "forwarded INVITE has Identity");
	CHECK(verify_identity(idv, x5u, sizeof(x5u)) == PP_CHECK_OK, "its Identity verifies");
	/* the INVITE itself, with the header line inserted before the empty line */
	char want[12000];
	size_t hl = il - 2;
	memcpy(want, in, hl);
	snprintf(want + hl, sizeof(want) - hl, "Identity: %s\r\n\r\n", idv);
	expect_text(&outs[0], want, "inline signed INVITE");
}

static void test_inline_verify(void)
{
	char idv[8192], in[8192];
	make_identity(idv, sizeof(idv), X5U_GOOD, now_s(), false);
	size_t il = invite(in, sizeof(in), 5080, "inl-ver@peer", idv);
	inject(1, 5080, in, il);
	unsigned n = run_for(1, 2000);
	CHECK(n == 1, "one INVITE forwarded, got %u", n);
	if (n != 1)
		return;
	CHECK(outs[0].port == 0, "forwarded out of port 0");
	char want[12000];
	snprintf(want, sizeof(want),
		 "INVITE sip:+" CALLED "@192.0.2.1:5080;user=phone SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-inl-ver@peer\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: \"Alice\" <sip:+" CALLING
		 "@192.0.2.2;user=phone;verstat=TN-Validation-Passed>;tag=a1\r\n"
		 "To: <sip:+" CALLED "@192.0.2.1;user=phone>\r\n"
		 "Call-ID: inl-ver@peer\r\n"
		 "CSeq: 1 INVITE\r\n"
		 "P-Asserted-Identity: <sip:+" CALLING
		 "@192.0.2.2;user=phone;verstat=TN-Validation-Passed>\r\n"
		 "Contact: <sip:alice@192.0.2.2:5062>\r\n"
		 "Identity: %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 idv);
	expect_text(&outs[0], want, "inline verified INVITE");
}

static void test_inline_passthrough(void)
{
	static const char bye[] = "BYE sip:alice@192.0.2.2:5062 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-b1\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
				  "Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
	static const char ok[] = "SIP/2.0 200 OK\r\n"
				 "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-b1\r\n"
				 "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
				 "Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
	inject(0, 5080, bye, sizeof(bye) - 1);
	unsigned n = run_for(1, 500);
	CHECK(n == 1 && outs[0].port == 1, "BYE forwarded 0 -> 1");
	if (n == 1)
		expect_text(&outs[0], bye, "BYE untouched");
	inject(1, 5080, ok, sizeof(ok) - 1);
	n = run_for(1, 500);
	CHECK(n == 1 && outs[0].port == 0, "200 forwarded 1 -> 0");
	if (n == 1)
		expect_text(&outs[0], ok, "200 untouched");
}

static void test_other_methods(void)
{
	static const char opt[] = "OPTIONS sip:192.0.2.1:5060 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-o1\r\n"
				  "From: <sip:ping@192.0.2.2>;tag=p\r\nTo: <sip:192.0.2.1>\r\n"
				  "Call-ID: opt-1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	inject(0, 5060, opt, sizeof(opt) - 1);
	unsigned n = run_for(1, 500);
	CHECK(n == 1, "OPTIONS answered");
	if (n == 1) {
		char tag[9], want[1024];
		tag_of("opt-1", tag);
		snprintf(want, sizeof(want),
			 "SIP/2.0 200 OK\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-o1\r\n"
			 "From: <sip:ping@192.0.2.2>;tag=p\r\nTo: <sip:192.0.2.1>;tag=%s\r\n"
			 "Call-ID: opt-1\r\nCSeq: 7 OPTIONS\r\n"
			 "Allow: INVITE, ACK, CANCEL, OPTIONS\r\n"
			 "Content-Length: 0\r\n\r\n",
			 tag);
		expect_text(&outs[0], want, "OPTIONS 200");
	}
	static const char bye[] = "BYE sip:x@192.0.2.1 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-b9\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
				  "Call-ID: bye-9\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n";
	inject(0, 5060, bye, sizeof(bye) - 1);
	n = run_for(1, 500);
	CHECK(n == 1 && outs[0].len > 12 && !memcmp(outs[0].payload, "SIP/2.0 405 ", 12),
	      "BYE answered 405");
	static const char ack[] = "ACK sip:x@192.0.2.1 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-a9\r\n"
				  "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
				  "Call-ID: ack-9\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
	inject(0, 5060, ack, sizeof(ack) - 1);
	n = run_for(0, 30);
	CHECK(n == 0 && pipe_.stats[0].ack == 1, "ACK absorbed");
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"INVITE sip:x SIP/2.0\r\nVia: a\r\n",          /* no empty line */
		"INVITE  SIP/2.0\r\n\r\n",
		"\x01\x02\x03 garbage",
		"INVITE sip:+12025550100@192.0.2.1 SIP/2.0\r\nContent-Length: 5\r\n\r\nab",
		"INVITE sip:+12025550100@192.0.2.1 SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n", /* no Via */
	};
	uint64_t before = pipe_.stats[0].drop[DP_DROP_MALFORMED];
	uint64_t un_before = pipe_.stats[0].drop[DP_DROP_UNANSWERABLE];
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		inject(0, 5060, bad[i], strlen(bad[i]));
		inject(0, 5070, bad[i], strlen(bad[i]));
	}
	unsigned n = run_for(0, 30);
	CHECK(n == 0, "nothing answered to malformed SIP, got %u", n);
	uint64_t got = pipe_.stats[0].drop[DP_DROP_MALFORMED] - before +
		       pipe_.stats[0].drop[DP_DROP_UNANSWERABLE] - un_before;
	CHECK(got == 2 * RTE_DIM(bad), "all counted: %" PRIu64, got);
}

static int make_port(unsigned i)
{
	char name[32];
	snprintf(name, sizeof(name), "t_rx%u", i);
	rx_ring[i] = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "t_tx%u", i);
	tx_ring[i] = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!rx_ring[i] || !tx_ring[i])
		return -1;
	snprintf(name, sizeof(name), "net_ring_p%u", i);
	return rte_eth_from_rings(name, &rx_ring[i], 1, &tx_ring[i], 1, SOCKET_ID_ANY) < 0 ? -1
											   : 0;
}

static struct th_env env;

static int setup_hsm(uint32_t *key_id)
{
	fault_path = getenv("SHAKEND_P11FAULT");
	if (!fault_path)
		fault_path = SHAKEND_P11FAULT;
	if (access(fault_path, R_OK)) {
		fprintf(stderr, "no fault module at %s\n", fault_path);
		return -1;
	}
	if (th_setup(&env, 1))
		return -1;
	key = th_gen_p256();
	if (!key || th_import_key(&env, 0, key, "sp", "01"))
		return -1;
	setenv("SHAKEN_P11FAULT_MODULE", TH_SOFTHSM, 1);
	unsetenv("SHAKEN_P11FAULT");
	unsetenv("SHAKEN_P11FAULT_FILE");
	struct hsm_engine_cfg hc = {.module_path = fault_path, .sessions = 2};
	char uri[512];
	snprintf(uri, sizeof(uri), "pkcs11:token=tok0?pin-source=file:%s", env.pin_file);
	if (hsm_engine_create(&hc, &engine) || hsm_engine_add_token(engine, uri) != 0 ||
	    hsm_engine_start(engine) || hsm_engine_key_add(engine, "pkcs11:object=sp", key_id))
		return -1;
	return 0;
}

int main(void)
{
	if (!th_softhsm_present()) {
		fprintf(stderr, "SKIP: SoftHSM2 not installed\n");
		return 77;
	}
	char *eal[] = {"test_dp_pipe", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
		       "-l", "0", "--log-level=*:warning", NULL};
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "SKIP: EAL cannot start: %s\n", rte_strerror(rte_errno));
		return 77;
	}
	tpool = rte_pktmbuf_pool_create("t_pool", 1023, 0, 0, 16384 + RTE_PKTMBUF_HEADROOM,
					SOCKET_ID_ANY);
	if (!tpool || make_port(0) || make_port(1)) {
		fprintf(stderr, "rings/pool/ports: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	uint32_t key_id;
	if (setup_hsm(&key_id)) {
		fprintf(stderr, "HSM set-up failed\n");
		return 1;
	}
	if (cache_create(NULL, &cache) || publish(X5U_GOOD)) {
		fprintf(stderr, "cache set-up failed\n");
		return 1;
	}
	struct dp_pipe_listener ls[4];
	memset(ls, 0, sizeof(ls));
	for (unsigned i = 0; i < 4; i++) {
		if (net_addr_parse("192.0.2.1", &ls[i].addr))
			return 1;
		ls[i].iface = -1;
	}
	ls[0].port = 5060;
	ls[0].mode = DP_PIPE_SIGN_REDIRECT;
	ls[1].port = 5070;
	ls[1].mode = DP_PIPE_VERIFY_REDIRECT;
	ls[2].port = 5080;
	ls[2].iface = 0;
	ls[2].mode = DP_PIPE_INLINE;
	ls[2].peer = 1;
	ls[2].sign = true;
	ls[3].port = 5080;
	ls[3].iface = 1;
	ls[3].mode = DP_PIPE_INLINE;
	ls[3].peer = 0;
	ls[3].verify = true;
	struct dp_pipe_cfg pc = {
		.listeners = ls,
		.n_listeners = 4,
		.hsm = engine,
		.sign_deadline_ms = 50,
		.cache = cache,
		.park_timeout_ms = 300,
		.park_slots = 16,
		.have_default_cred = true,
		.default_key = key_id,
		.default_x5u = X5U_GOOD,
		.default_origid = ORIGID,
		.default_attest = 'A',
	};
	if (dp_pipe_handler(&pipe_, &pc, &handler)) {
		fprintf(stderr, "dp_pipe_handler\n");
		return 1;
	}
	struct dp_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.n_mbufs = 2047;
	conf.mbuf_size = 9216;
	if (net_addr_parse("192.0.2.1", &conf.net.addrs[0]))
		return 1;
	conf.net.n_addrs = 1;
	conf.net.sip_ports[0] = 5060;
	conf.net.sip_ports[1] = 5070;
	conf.net.sip_ports[2] = 5080;
	conf.net.n_ports = 3;
	int rc = dp_init(&dp, &conf, &handler);
	if (rc || dp.n_lcores != 1 || dp.n_ports != 2) {
		fprintf(stderr, "dp_init: %s (%u lcores, %u ports)\n", strerror(-rc), dp.n_lcores,
			dp.n_ports);
		return 1;
	}
	memcpy(my_mac[0], dp.ports[0].net.mac, 6);
	memcpy(my_mac[1], dp.ports[1].net.mac, 6);

	test_sign_redirect();
	test_verify_redirect();
	test_verify_park();
	test_verify_park_timeout();
	test_inline_sign();
	test_inline_verify();
	test_inline_passthrough();
	test_other_methods();
	test_malformed();
	test_sign_deadline();

	struct dp_pipe_stats ps;
	dp_pipe_stats_sum(&pipe_, dp.n_lcores, &ps);
	dp_pipe_stats_print(&ps, stdout);
	if (handler.lcore_stop)
		handler.lcore_stop(handler.arg, dp.lcores[0]);
	dp_fini(&dp);
	cache_destroy(cache);
	hsm_engine_destroy(engine);
	EVP_PKEY_free(key);
	th_teardown(&env);
	rte_eal_cleanup();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("test_dp_pipe: all checks passed\n");
	return 0;
}
