/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-bench dataplane: the whole SIP pipeline of shakend in process, one lcore (the main
 * thread), fed by a generator over two net_ring ports (EAL --no-huge, as tests/test_dp_pipe.c).
 * The generator writes realistic INVITE frames (Ethernet, IPv4, UDP, SIP with SDP; ~900 bytes,
 * ~1350 with Identity) into the RX ring of port 0, keeps a bounded number of calls in flight,
 * polls the lcore (dp_lcore_poll) and takes every frame out of the TX rings. Each figure is
 * printed beside a baseline measured in the same run, alternately, round by round:
 *
 *  1. sign-redirect: 302s with Identity per second, SoftHSM2 through the HSM engine with N
 *     sessions, vs the raw module (N threads, C_SignInit + C_Sign on a cached key handle, as
 *     bench_hsm.c); target ratio >= 0.95. N = SHAKEND_BENCH_HSM_N, default CPUs - 1 (at least
 *     1): the lcore polls on a core of its own, as in production.
 *  2. verify-redirect with a warm certificate cache: 302s with verstat per second vs a raw
 *     OpenSSL ECDSA P-256 verify of a digest on one core; target ratio >= 0.9.
 *  3. latency percentiles (INVITE written into the RX ring -> answer taken from the TX ring)
 *     of sign and verify, with one call in flight per HSM session (sign) or one call at a
 *     time (verify): the service time, not the queueing of the throughput runs.
 *  4. passthrough: an inline listener that neither signs nor verifies; INVITEs parsed,
 *     classified and forwarded to the peer port. Rate per core = INVITEs / time spent in
 *     dp_lcore_poll (the generator's own copies excluded); target >= 3 M INVITEs/s per core.
 *     Also printed: the wall-clock rate, and the same frames moved from RX to TX ring by
 *     rte_eth_rx_burst/tx_burst alone (the I/O ceiling of net_ring).
 *
 * Every answer is checked (302 with Identity / with verstat=TN-Validation-Passed, INVITE
 * forwarded); one Identity per sign run is verified with the token's public key. A failed
 * check makes the bench fail (exit 1). Exit 0 with "skipped" when EAL or SoftHSM2 is missing.
 */
#include "bench/bench.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
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
#include "dataplane/sip/sip.h"
#include "hsm/hsm.h"
#include "hsm/p11.h"
#include "hsm/p11_pvt.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define X5U "https://cert.example.org/bench/sp.pem"
#define ORIGID "123e4567-e89b-12d3-a456-426614174000"
#define CALLING "12155550101"
#define CALLED "12025550100"
#define N_TMPL 64                 /* distinct INVITEs (verify: distinct Identity values) */
#define FRAME_MAX 2048
#define LAT_MAX (1u << 20)
#define CALL_SLOTS 65536u         /* submission times by call number modulo this */
#define PORT_SIGN 5060
#define PORT_VERIFY 5070
#define PORT_PASS 5080

static const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t MY4[4] = {192, 0, 2, 1}, PEER4[4] = {192, 0, 2, 2};

struct tmpl {
	uint8_t f[FRAME_MAX];
	uint16_t len;
	uint16_t cid_off;         /* offset of the 8 hex digits of the call number in f */
};

struct lat {
	uint64_t *v;              /* nanoseconds */
	size_t n;
};

struct dpb {
	struct rte_ring *rx[2], *tx[2];
	struct rte_mempool *gen_pool;
	struct dp dp;
	struct dp_pipe pipe;
	struct dp_sip_handler h;
	struct hsm_engine *eng;
	struct cache *cache;
	EVP_PKEY *vkey;           /* software key of the verify case (certificate in the cache) */
	EVP_PKEY *hsm_pub;        /* the token key's public half */
	struct hsm_p11_tok *ctl;  /* keeps the token logged in */
	char dir[64], pin_file[128], token_uri[600];
	unsigned n;               /* HSM sessions = raw threads */
	uint8_t my_mac[6];
	struct tmpl *sign_t, *ver_t, *pass_t;
	uint64_t *sub_tsc;        /* CALL_SLOTS */
	bool eal, ports, dp_up;
};

/*
 * EAL pins the main thread (our lcore) to its CPU, and threads inherit that: the HSM engine's
 * workers and the raw baseline's threads would share the polling lcore's CPU. They are
 * created with the calling thread moved to the other online CPUs (all of them when there is
 * only one), then the lcore's own CPU set is restored.
 */
static void ctrl_affinity(bool on)
{
	static cpu_set_t lcore_set;
	static bool saved;
	if (on) {
		cpu_set_t ctrl;
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if (pthread_getaffinity_np(pthread_self(), sizeof(lcore_set), &lcore_set))
			return;
		saved = true;
		CPU_ZERO(&ctrl);
		for (long c = 0; c < ncpu && c < CPU_SETSIZE; c++)
			if (!CPU_ISSET((int)c, &lcore_set))
				CPU_SET((int)c, &ctrl);
		if (CPU_COUNT(&ctrl) == 0)
			for (long c = 0; c < ncpu && c < CPU_SETSIZE; c++)
				CPU_SET((int)c, &ctrl);
		pthread_setaffinity_np(pthread_self(), sizeof(ctrl), &ctrl);
	} else if (saved) {
		pthread_setaffinity_np(pthread_self(), sizeof(lcore_set), &lcore_set);
		saved = false;
	}
}

/* ---- frames ---------------------------------------------------------------------------- */

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * An INVITE frame from 192.0.2.2:5062 to 192.0.2.1:dport, UDP checksum 0 (allowed on IPv4,
 * so the generator can write the call number into the Call-ID of each copy). identity: the
 * Identity header value, or NULL. Returns 0 or -1 (too big).
 */
static int build_invite(struct tmpl *t, const uint8_t mac[6], unsigned dport, unsigned k,
			const char *identity)
{
	static const char sdp[] =
		"v=0\r\n"
		"o=alice 53655765 2353687637 IN IP4 192.0.2.2\r\n"
		"s=-\r\n"
		"c=IN IP4 192.0.2.2\r\n"
		"t=0 0\r\n"
		"m=audio 16384 RTP/AVP 0 8 101\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=sendrecv\r\n";
	char sip[FRAME_MAX];
	int n = snprintf(sip, sizeof(sip),
		"INVITE sip:+" CALLED "@192.0.2.1:%u;user=phone SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bK-bench-%04u\r\n"
		"Max-Forwards: 70\r\n"
		"From: \"Alice\" <sip:+" CALLING "@192.0.2.2;user=phone>;tag=gen%04u\r\n"
		"To: <sip:+" CALLED "@192.0.2.1;user=phone>\r\n"
		"Call-ID: bench-00000000@192.0.2.2\r\n"
		"CSeq: 1 INVITE\r\n"
		"P-Asserted-Identity: <sip:+" CALLING "@192.0.2.2;user=phone>\r\n"
		"Contact: <sip:alice@192.0.2.2:5062>\r\n"
		"Supported: timer, 100rel\r\n"
		"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE\r\n"
		"User-Agent: shaken-bench\r\n"
		"%s%s%s"
		"Content-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n%s",
		dport, k, k, identity ? "Identity: " : "", identity ? identity : "",
		identity ? "\r\n" : "", sizeof(sdp) - 1, sdp);
	if (n < 0 || (size_t)n + 42 > sizeof(t->f))
		return -1;
	uint8_t *f = t->f, *h = f + 14, *u = f + 34;
	memcpy(f, mac, 6);
	memcpy(f + 6, PEER_MAC, 6);
	put16(f + 12, 0x0800);
	memset(h, 0, 20);
	h[0] = 0x45;
	put16(h + 2, 28u + (unsigned)n);
	h[8] = 64;
	h[9] = 17;
	memcpy(h + 12, PEER4, 4);
	memcpy(h + 16, MY4, 4);
	put16(h + 10, ip_csum(h, 20));
	put16(u, 5062);
	put16(u + 2, dport);
	put16(u + 4, 8u + (unsigned)n);
	put16(u + 6, 0);
	memcpy(u + 8, sip, (size_t)n);
	t->len = (uint16_t)(42 + n);
	const char *c = strstr(sip, "Call-ID: bench-");
	t->cid_off = (uint16_t)(42 + (c - sip) + 15);
	return 0;
}

static const char HEX[] = "0123456789abcdef";

static void put_call(uint8_t *f, uint16_t off, uint32_t call)
{
	for (int i = 7; i >= 0; i--, call >>= 4)
		f[off + i] = (uint8_t)HEX[call & 15];
}

/* The call number in an answer's Call-ID; -1 when absent. */
static long get_call(const uint8_t *p, size_t len)
{
	static const char key[] = "Call-ID: bench-";
	const uint8_t *c = memmem(p, len, key, sizeof(key) - 1);
	if (!c || (size_t)(c - p) + sizeof(key) - 1 + 8 > len)
		return -1;
	c += sizeof(key) - 1;
	unsigned long v = 0;
	for (int i = 0; i < 8; i++) {
		const char *x = memchr(HEX, c[i], 16);
		if (!x)
			return -1;
		v = v << 4 | (unsigned long)(x - HEX);
	}
	return (long)v;
}

/* ---- the generator ------------------------------------------------------------------------ */

enum expect { EXPECT_SIGNED, EXPECT_PASSED, EXPECT_FORWARD };

struct run {
	const struct tmpl *t;
	unsigned window;          /* calls in flight at most */
	enum expect expect;
	unsigned out_port;        /* ring the answers leave by */
	struct lat *lat;          /* NULL: no latency samples */
	/* results */
	unsigned long done;
	uint64_t poll_tsc;        /* TSC cycles spent in dp_lcore_poll */
	double wall_s;
	char first_identity[1024];
	int err;
};

static bool answer_ok(struct run *r, const uint8_t *f, size_t len)
{
	if (len < 42 || get16(f + 12) != 0x0800)
		return false;
	const char *p = (const char *)f + 42;
	size_t n = len - 42;
	switch (r->expect) {
	case EXPECT_SIGNED: {
		if (n < 40 || memcmp(p, "SIP/2.0 302 ", 12))
			return false;
		const char *id = memmem(p, n, "\r\nIdentity: ", 12);
		if (!id)
			return false;
		if (!r->first_identity[0]) {
			id += 12;
			const char *e = memmem(id, n - (size_t)(id - p), "\r\n", 2);
			if (e && (size_t)(e - id) < sizeof(r->first_identity)) {
				memcpy(r->first_identity, id, (size_t)(e - id));
				r->first_identity[e - id] = '\0';
			}
		}
		return true;
	}
	case EXPECT_PASSED:
		return n > 40 && !memcmp(p, "SIP/2.0 302 ", 12) &&
		       memmem(p, n, "verstat=TN-Validation-Passed>", 29) != NULL;
	default:
		return n > 7 && !memcmp(p, "INVITE ", 7);
	}
}

/* One latency sample: the answer in frame f (taken at TSC z) against its submission. */
static void lat_add(const struct dpb *b, struct run *r, const uint8_t *f, uint16_t len,
		    uint64_t z, uint64_t hz)
{
	long c = len > 42 ? get_call(f + 42, len - 42u) : -1;
	if (c < 0 || r->lat->n >= LAT_MAX)
		return;
	uint64_t t = b->sub_tsc[(unsigned long)c % CALL_SLOTS];
	r->lat->v[r->lat->n++] = (uint64_t)((double)(z - t) * 1e9 / (double)hz);
}

/*
 * Keeps up to r->window calls in flight for `seconds`, then waits (at most 5 s) for the last
 * answers. Returns 0, or -1 when an answer was wrong or missing.
 */
static int run_calls(struct dpb *b, struct run *r, double seconds)
{
	struct rte_mbuf *m[64];
	uint64_t hz = rte_get_tsc_hz();
	uint64_t t0 = rte_rdtsc(), end = t0 + (uint64_t)(seconds * (double)hz);
	uint64_t hard_end = end + 5 * hz;
	unsigned long sent = 0, got = 0, bad = 0;
	struct dp_lcore *lc = b->dp.lcores[0];
	bool want_lat = r->lat != NULL;

	r->done = 0;
	r->poll_tsc = 0;
	r->first_identity[0] = '\0';
	for (;;) {
		uint64_t now = rte_rdtsc();
		if (now < end) {
			unsigned inflight = (unsigned)(sent - got - bad);
			unsigned k = r->window > inflight ? r->window - inflight : 0;
			if (k > 32)
				k = 32;
			if (k && rte_pktmbuf_alloc_bulk(b->gen_pool, m, k) == 0) {
				for (unsigned i = 0; i < k; i++) {
					const struct tmpl *t = &r->t[(sent + i) % N_TMPL];
					uint8_t *d = rte_pktmbuf_mtod(m[i], uint8_t *);
					memcpy(d, t->f, t->len);
					put_call(d, t->cid_off, (uint32_t)(sent + i));
					m[i]->data_len = t->len;
					m[i]->pkt_len = t->len;
					if (want_lat)
						b->sub_tsc[(sent + i) % CALL_SLOTS] = now;
				}
				unsigned q = rte_ring_enqueue_burst(b->rx[0], (void **)m, k, NULL);
				if (q < k)
					rte_pktmbuf_free_bulk(m + q, k - q);
				sent += q;
			}
		} else if (sent == got + bad || now > hard_end) {
			break;
		}
		uint64_t a = rte_rdtsc();
		dp_lcore_poll(lc, now >= end);
		uint64_t z = rte_rdtsc();
		r->poll_tsc += z - a;
		for (unsigned pi = 0; pi < 2; pi++) {
			unsigned k = rte_ring_dequeue_burst(b->tx[pi], (void **)m, 64, NULL);
			for (unsigned i = 0; i < k; i++) {
				const uint8_t *f = rte_pktmbuf_mtod(m[i], const uint8_t *);
				if (pi == r->out_port && m[i]->nb_segs == 1 &&
				    answer_ok(r, f, m[i]->data_len)) {
					got++;
					if (want_lat)
						lat_add(b, r, f, m[i]->data_len, z, hz);
				} else {
					bad++;
				}
			}
			if (k)
				rte_pktmbuf_free_bulk(m, k);
		}
	}
	r->wall_s = (double)(rte_rdtsc() - t0) / (double)hz;
	r->done = got;
	if (bad || got != sent) {
		fprintf(stderr, "bench dataplane: %lu sent, %lu right answers, %lu wrong or "
				"unexpected frames; counters:\n", sent, got, bad);
		struct dp_stats ds;
		struct dp_pipe_stats ps;
		dp_stats_sum(&b->dp, &ds);
		dp_stats_print(&ds, stderr);
		dp_pipe_stats_sum(&b->pipe, b->dp.n_lcores, &ps);
		dp_pipe_stats_print(&ps, stderr);
		return -1;
	}
	return 0;
}

/* Frames straight from the RX ring to the TX ring of port 1 through the ethdev API: the I/O
 * ceiling of the passthrough case, generator work identical. Returns frames/s per core. */
static double ring_io_rate(struct dpb *b, double seconds, uint16_t pid0, uint16_t pid1)
{
	struct rte_mbuf *m[32], *rx[32];
	uint64_t hz = rte_get_tsc_hz();
	uint64_t t0 = rte_rdtsc(), end = t0 + (uint64_t)(seconds * (double)hz), io = 0;
	unsigned long sent = 0, moved = 0;
	while (rte_rdtsc() < end) {
		if (rte_pktmbuf_alloc_bulk(b->gen_pool, m, 32) == 0) {
			for (unsigned i = 0; i < 32; i++) {
				const struct tmpl *t = &b->pass_t[(sent + i) % N_TMPL];
				uint8_t *d = rte_pktmbuf_mtod(m[i], uint8_t *);
				memcpy(d, t->f, t->len);
				put_call(d, t->cid_off, (uint32_t)(sent + i));
				m[i]->data_len = t->len;
				m[i]->pkt_len = t->len;
			}
			unsigned q = rte_ring_enqueue_burst(b->rx[0], (void **)m, 32, NULL);
			if (q < 32)
				rte_pktmbuf_free_bulk(m + q, 32 - q);
			sent += q;
		}
		uint64_t a = rte_rdtsc();
		uint16_t n = rte_eth_rx_burst(pid0, 0, rx, 32);
		uint16_t s = n ? rte_eth_tx_burst(pid1, 0, rx, n) : 0;
		io += rte_rdtsc() - a;
		if (s < n)
			rte_pktmbuf_free_bulk(rx + s, (unsigned)(n - s));
		moved += s;
		unsigned k = rte_ring_dequeue_burst(b->tx[1], (void **)m, 32, NULL);
		if (k)
			rte_pktmbuf_free_bulk(m, k);
	}
	return io ? (double)moved / ((double)io / (double)hz) : 0;
}

/* ---- raw HSM baseline (N threads on the module, no engine) ------------------------------ */

/* ---- raw OpenSSL verify baseline (one core) ----------------------------------------------- */

struct raw_verify {
	EVP_PKEY_CTX *ctx;
	uint8_t digest[32];
	uint8_t der[80];
	size_t der_len;
};

static int raw_verify_one(void *arg)
{
	struct raw_verify *r = arg;
	return EVP_PKEY_verify(r->ctx, r->der, r->der_len, r->digest, 32) == 1 ? 0 : -1;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int make_port(struct dpb *b, unsigned i)
{
	char name[32];
	snprintf(name, sizeof(name), "dpb_rx%u", i);
	b->rx[i] = rte_ring_create(name, 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "dpb_tx%u", i);
	b->tx[i] = rte_ring_create(name, 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!b->rx[i] || !b->tx[i])
		return -1;
	snprintf(name, sizeof(name), "net_ring_dpb%u", i);
	return rte_eth_from_rings(name, &b->rx[i], 1, &b->tx[i], 1, SOCKET_ID_ANY) < 0 ? -1 : 0;
}

static int hsm_setup(struct dpb *b)
{
	snprintf(b->dir, sizeof(b->dir), "/tmp/shaken-bench-dp-XXXXXX");
	if (!mkdtemp(b->dir)) {
		b->dir[0] = '\0';
		return -errno;
	}
	int rc = bench_softhsm_token(SOFTHSM, b->dir, "dpbench", b->pin_file, sizeof(b->pin_file),
				     b->token_uri, sizeof(b->token_uri));
	if (rc)
		return rc;
	rc = hsm_p11_open(b->token_uri, NULL, NULL, &b->ctl);
	if (rc || (rc = hsm_p11_keygen(b->ctl, "dpbench", (const uint8_t *)"\xdb", 1)) ||
	    (rc = hsm_p11_key_public(b->ctl, "pkcs11:object=dpbench", &b->hsm_pub)))
		return rc;
	struct hsm_engine_cfg cfg = {.module_path = SOFTHSM, .sessions = b->n, .ring_size = 8192,
				     .default_timeout_ns = 5000000000ull};
	char uri[700];
	uint32_t id;
	snprintf(uri, sizeof(uri), "pkcs11:token=dpbench?pin-source=file:%s", b->pin_file);
	ctrl_affinity(true);
	if ((rc = hsm_engine_create(&cfg, &b->eng)) == 0 &&
	    (rc = hsm_engine_add_token(b->eng, uri)) >= 0 && (rc = hsm_engine_start(b->eng)) == 0)
		rc = hsm_engine_key_add(b->eng, "pkcs11:object=dpbench", &id);
	ctrl_affinity(false);
	return rc ? rc : (int)id;
}

/* The verify case's key and its certificate outcome, published in the cache (warm). */
static int cache_setup(struct dpb *b, struct raw_verify *rv)
{
	b->vkey = EVP_EC_gen("P-256");
	if (!b->vkey || cache_create(NULL, &b->cache))
		return -1;
	struct cert_result r;
	memset(&r, 0, sizeof(r));
	int64_t now = (int64_t)time(NULL);
	r.failed = CERT_OK;
	r.not_before = now - 3600;
	r.not_after = now + 86400;
	r.tnauth.n = 1;
	r.tnauth.e[0].kind = CERT_TN_RANGE;
	snprintf(r.tnauth.e[0].v, sizeof(r.tnauth.e[0].v), "12155550100");
	r.tnauth.e[0].count = 100;
	r.pkey = b->vkey;
	if (cache_publish_cert(b->cache, X5U, strlen(X5U), &r, now, 3600) != 0)
		return -1;
	/* the raw baseline: a DER ECDSA signature of a digest with the same key */
	rv->ctx = EVP_PKEY_CTX_new(b->vkey, NULL);
	memset(rv->digest, 0x5a, sizeof(rv->digest));
	rv->der_len = sizeof(rv->der);
	if (!rv->ctx || EVP_PKEY_sign_init(rv->ctx) != 1 ||
	    EVP_PKEY_sign(rv->ctx, rv->der, &rv->der_len, rv->digest, 32) != 1 ||
	    EVP_PKEY_verify_init(rv->ctx) != 1)
		return -1;
	return 0;
}

/* Identity values signed now by the verify key (distinct by dest TN list order... and iat). */
static int verify_templates(struct dpb *b)
{
	struct pp_signer s;
	if (pp_signer_evp(&s, b->vkey))
		return -1;
	for (unsigned k = 0; k < N_TMPL; k++) {
		struct pp_passport pp;
		const char *dest[1] = {CALLED};
		char tok[PP_TOKEN_MAX], idv[1200];
		if (pp_shaken_init(&pp, X5U, 'A', CALLING, dest, 1, (int64_t)time(NULL) - k % 5,
				   ORIGID))
			return -1;
		long n = pp_sign(&pp, &s, tok, sizeof(tok));
		if (n < 0 || pp_identity_build(idv, sizeof(idv), tok, (size_t)n, &pp) < 0 ||
		    build_invite(&b->ver_t[k], b->my_mac, PORT_VERIFY, k, idv))
			return -1;
	}
	return 0;
}

/* The first Identity of a sign run verifies with the token's public key. */
static bool identity_verifies(struct dpb *b, const char *idv)
{
	struct pp_verify *v = malloc(sizeof(*v));
	struct pp_slice s = {idv, strlen(idv)};
	struct pp_verify_params p = {.now = (int64_t)time(NULL), .orig_tn = CALLING,
				     .dest_tn = CALLED};
	bool ok = false;
	if (v && pp_verify_begin(v, &s, 1, &p) == 1) {
		pp_verify_end(v, b->hsm_pub);
		ok = v->check == PP_CHECK_OK && v->pp.attest == 'A';
	}
	free(v);
	return ok;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double pct_us(const struct lat *l, double p)
{
	return l->n ? (double)l->v[(size_t)(p * (double)(l->n - 1))] * 1e-3 : 0;
}

static void lat_report(const struct bench_opts *o, json_t *out, const char *name, struct lat *l,
		       unsigned window)
{
	qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
	json_t *row = json_object();
	json_object_set_new(row, "samples", json_integer((json_int_t)l->n));
	json_object_set_new(row, "in_flight", json_integer(window));
	json_object_set_new(row, "p50_us", json_real(pct_us(l, 0.5)));
	json_object_set_new(row, "p90_us", json_real(pct_us(l, 0.9)));
	json_object_set_new(row, "p99_us", json_real(pct_us(l, 0.99)));
	json_object_set_new(row, "p99_9_us", json_real(pct_us(l, 0.999)));
	json_object_set_new(out, name, row);
	if (!o->json_only)
		printf("%-28s p50 %7.1f us  p90 %7.1f us  p99 %7.1f us  p99.9 %7.1f us  "
		       "(%zu calls, %u in flight)\n", name, pct_us(l, 0.5), pct_us(l, 0.9),
		       pct_us(l, 0.99), pct_us(l, 0.999), l->n, window);
}

static double median(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int dp_setup(struct dpb *b, uint32_t key_id)
{
	struct dp_pipe_listener ls[3];
	memset(ls, 0, sizeof(ls));
	for (unsigned i = 0; i < 3; i++) {
		if (net_addr_parse("192.0.2.1", &ls[i].addr))
			return -1;
		ls[i].iface = -1;
	}
	ls[0].port = PORT_SIGN;
	ls[0].mode = DP_PIPE_SIGN_REDIRECT;
	ls[1].port = PORT_VERIFY;
	ls[1].mode = DP_PIPE_VERIFY_REDIRECT;
	ls[2].port = PORT_PASS;
	ls[2].iface = 0;
	ls[2].mode = DP_PIPE_INLINE;
	ls[2].peer = 1;          /* neither sign nor verify: parse, classify, forward */
	struct dp_pipe_cfg pc = {
		.listeners = ls,
		.n_listeners = 3,
		.hsm = b->eng,
		.sign_deadline_ms = 5000,
		.cache = b->cache,
		.park_timeout_ms = 5000,
		.park_slots = 1024,
		.have_default_cred = true,
		.default_key = key_id,
		.default_x5u = X5U,
		.default_origid = ORIGID,
		.default_attest = 'A',
	};
	if (dp_pipe_handler(&b->pipe, &pc, &b->h))
		return -1;
	struct dp_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.n_mbufs = 8191;
	conf.mbuf_size = 4096;
	if (net_addr_parse("192.0.2.1", &conf.net.addrs[0]))
		return -1;
	conf.net.n_addrs = 1;
	conf.net.sip_ports[0] = PORT_SIGN;
	conf.net.sip_ports[1] = PORT_VERIFY;
	conf.net.sip_ports[2] = PORT_PASS;
	conf.net.n_ports = 3;
	int rc = dp_init(&b->dp, &conf, &b->h);
	if (rc || b->dp.n_lcores != 1 || b->dp.n_ports != 2) {
		fprintf(stderr, "bench dataplane: dp_init: %s (%u lcores, %u ports)\n",
			strerror(-rc), b->dp.n_lcores, b->dp.n_ports);
		return -1;
	}
	b->dp_up = true;
	memcpy(b->my_mac, b->dp.ports[0].net.mac, 6);
	return 0;
}

static void teardown(struct dpb *b)
{
	if (b->dp_up) {
		if (b->h.lcore_stop)
			b->h.lcore_stop(b->h.arg, b->dp.lcores[0]);
		dp_fini(&b->dp);
	}
	cache_destroy(b->cache);
	hsm_engine_destroy(b->eng);
	hsm_p11_close(b->ctl);
	EVP_PKEY_free(b->vkey);
	EVP_PKEY_free(b->hsm_pub);
	if (b->eal)
		rte_eal_cleanup();
	if (b->dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench dataplane: cannot remove %s\n", b->dir);
	}
	free(b->sign_t);
	free(b->ver_t);
	free(b->pass_t);
	free(b->sub_tsc);
}

int bench_dataplane_main(const struct bench_opts *o, json_t *out)
{
	static struct dpb b;     /* struct dp_pipe holds per-lcore counters: keep it static */
	struct raw_verify rv = {0};
	struct lat ls = {0}, lv = {0};
	double r1[64], r2[64];
	unsigned rounds = o->rounds > 64 ? 64 : (o->rounds ? o->rounds : 1);
	double secs = o->seconds > 0 ? o->seconds : 1.0;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	if (o->count) {
		fprintf(stderr, "bench dataplane: --count is not supported (timed runs only)\n");
		return -1;
	}
	if (access(SOFTHSM, R_OK) != 0) {
		fprintf(stderr, "bench dataplane: SoftHSM2 not installed, skipped\n");
		json_object_set_new(out, "dataplane_skipped", json_true());
		return 0;
	}
	char *eal[] = {"shaken-bench", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
		       "-l", "0", "--log-level=*:error", NULL};
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "bench dataplane: EAL cannot start (%s), skipped\n",
			rte_strerror(rte_errno));
		json_object_set_new(out, "dataplane_skipped", json_true());
		return 0;
	}
	b.eal = true;
	const char *s = getenv("SHAKEND_BENCH_HSM_N");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	b.n = s ? (unsigned)atoi(s) : (unsigned)(ncpu > 1 ? ncpu - 1 : 1);
	if (b.n == 0 || b.n > HSM_MAX_SESSIONS) {
		fprintf(stderr, "bench dataplane: SHAKEND_BENCH_HSM_N: 1..%u\n", HSM_MAX_SESSIONS);
		goto out;
	}
	b.sign_t = calloc(N_TMPL, sizeof(*b.sign_t));
	b.ver_t = calloc(N_TMPL, sizeof(*b.ver_t));
	b.pass_t = calloc(N_TMPL, sizeof(*b.pass_t));
	b.sub_tsc = calloc(CALL_SLOTS, sizeof(*b.sub_tsc));
	ls.v = malloc(sizeof(uint64_t) * LAT_MAX);
	lv.v = malloc(sizeof(uint64_t) * LAT_MAX);
	if (!b.sign_t || !b.ver_t || !b.pass_t || !b.sub_tsc || !ls.v || !lv.v)
		goto out;
	b.gen_pool = rte_pktmbuf_pool_create("dpb_gen", 8191, 256, 0,
					     FRAME_MAX + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
	if (!b.gen_pool || make_port(&b, 0) || make_port(&b, 1)) {
		fprintf(stderr, "bench dataplane: rings/pool/ports: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	int key_id = hsm_setup(&b);
	if (key_id < 0) {
		fprintf(stderr, "bench dataplane: SoftHSM2 token / engine: %s\n",
			strerror(-key_id));
		goto out;
	}
	if (cache_setup(&b, &rv) || dp_setup(&b, (uint32_t)key_id))
		goto out;
	for (unsigned k = 0; k < N_TMPL; k++)
		if (build_invite(&b.sign_t[k], b.my_mac, PORT_SIGN, k, NULL) ||
		    build_invite(&b.pass_t[k], b.my_mac, PORT_PASS, k, NULL))
			goto out;
	if (verify_templates(&b))
		goto out;
	if (!o->json_only)
		printf("dataplane: 1 lcore, net_ring, INVITE %u bytes (%u with Identity), "
		       "HSM sessions N = %u\n", b.sign_t[0].len, b.ver_t[0].len, b.n);
	char name[64], base[64];

	/* 1. sign-redirect vs raw C_Sign, N sessions / threads */
	struct run rs = {.t = b.sign_t, .window = 16 * b.n + 32, .expect = EXPECT_SIGNED,
			 .out_port = 0};
	for (unsigned r = 0; r < rounds; r++) {
		r1[r] = bench_p11_raw_rate(SOFTHSM, b.token_uri, "dpbench", b.n, secs, ctrl_affinity);
		if (r1[r] < 0 || run_calls(&b, &rs, secs))
			goto out;
		r2[r] = (double)rs.done / rs.wall_s;
		if (!identity_verifies(&b, rs.first_identity)) {
			fprintf(stderr, "bench dataplane: a signed 302's Identity does not verify "
					"with the token's key: %s\n", rs.first_identity);
			goto out;
		}
	}
	snprintf(name, sizeof(name), "dp_sign_redirect_%u_sessions", b.n);
	snprintf(base, sizeof(base), "raw_c_sign_%u_threads", b.n);
	bench_report(o, out, name, median(r2, rounds), base, median(r1, rounds), 0.95);

	/* 2. verify-redirect, warm cache, vs raw OpenSSL verify on one core */
	struct run rvr = {.t = b.ver_t, .window = 64, .expect = EXPECT_PASSED, .out_port = 0};
	struct bench_opts one = *o;
	one.rounds = 1;
	one.seconds = secs;
	for (unsigned r = 0; r < rounds; r++) {
		r1[r] = bench_rate(&one, raw_verify_one, &rv);
		if (r1[r] < 0 || run_calls(&b, &rvr, secs))
			goto out;
		r2[r] = (double)rvr.done / rvr.wall_s;
	}
	bench_report(o, out, "dp_verify_redirect_warm", median(r2, rounds),
		     "openssl_ecdsa_verify_1core", median(r1, rounds), 0.9);

	/* 3. latency: sign with one call per session in flight, verify one at a time */
	struct run rl = {.t = b.sign_t, .window = b.n, .expect = EXPECT_SIGNED, .out_port = 0,
			 .lat = &ls};
	if (run_calls(&b, &rl, secs))
		goto out;
	snprintf(name, sizeof(name), "dp_sign_latency_%u_in_flight", b.n);
	lat_report(o, out, name, &ls, b.n);
	struct run rlv = {.t = b.ver_t, .window = 1, .expect = EXPECT_PASSED, .out_port = 0,
			  .lat = &lv};
	if (run_calls(&b, &rlv, secs))
		goto out;
	lat_report(o, out, "dp_verify_latency", &lv, 1);

	/* 4. passthrough per core vs the ring I/O alone */
	uint16_t pid[2], k = 0, pi;
	RTE_ETH_FOREACH_DEV(pi) {
		if (k < 2)
			pid[k++] = pi;
	}
	struct run rp = {.t = b.pass_t, .window = 1024, .expect = EXPECT_FORWARD, .out_port = 1};
	double wall[64];
	for (unsigned r = 0; r < rounds; r++) {
		r1[r] = ring_io_rate(&b, secs, pid[0], pid[1]);
		if (run_calls(&b, &rp, secs))
			goto out;
		r2[r] = (double)rp.done / ((double)rp.poll_tsc / (double)rte_get_tsc_hz());
		wall[r] = (double)rp.done / rp.wall_s;
	}
	bench_report(o, out, "dp_passthrough_invite_core", median(r2, rounds), NULL, 0, 3e6);
	json_t *row = json_object_get(out, "dp_passthrough_invite_core");
	json_object_set_new(row, "wall_rate_per_s", json_real(median(wall, rounds)));
	json_object_set_new(row, "ring_io_rate_per_s", json_real(median(r1, rounds)));
	if (!o->json_only)
		printf("%-28s %12.0f /s   (wall clock, generator copies included; net_ring "
		       "rx+tx alone: %.0f /s)\n", "dp_passthrough_wall", median(wall, rounds),
		       median(r1, rounds));

	struct dp_pipe_stats st;
	dp_pipe_stats_sum(&b.pipe, b.dp.n_lcores, &st);
	uint64_t uns = 0;
	for (unsigned i = 0; i < DP_UNS_COUNT; i++)
		uns += st.unsigned_[i];
	if (uns || st.sign_503 || st.park_full || st.drop[DP_DROP_MALFORMED]) {
		fprintf(stderr, "bench dataplane: %" PRIu64 " unsigned, %" PRIu64 " park full\n",
			uns, st.park_full);
		goto out;
	}
	rc = 0;
out:
	if (rv.ctx)
		EVP_PKEY_CTX_free(rv.ctx);
	free(ls.v);
	free(lv.v);
	teardown(&b);
	return rc;
}
