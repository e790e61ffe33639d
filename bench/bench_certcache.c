/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-bench certcache: the certificate cache (dataplane/certcache/cache.h).
 *
 *   certcache_lookup_hashed_100k   lookups per second on one core of a warm cache of 100k
 *                                  entries, URLs drawn uniformly, hash precomputed (the
 *                                  dataplane hashes once per packet); target >= 20 M/s
 *   certcache_lookup_100k          the same with the URL hashed per lookup (baseline of the
 *                                  figure above: what precomputing the hash saves)
 *   certcache_lookup_hot1k         1k hot URLs of the 100k (a carrier sees a few thousand
 *                                  x5u URLs): the table's own cost, caches warm
 *   certcache_lookup_per_core_Nt   N threads (one per online CPU) on the 100k set: per-core rate
 *   certcache_lookup_burst32_100k  cache_lookup_burst() by bursts of 32 (an lcore's Rx burst),
 *                                  hashes precomputed, on the 100k set: lookups per second
 *                                  (compare certcache_lookup_hashed_100k); target >= 20 M/s
 *   certcache_lookup_burst32_100k_unhashed  the same, the burst hashing the URLs itself
 *   certcache_lookup_burst32_hot1k bursts of 32 on the 1k hot set
 *   certcache_lookup_burst32_per_core_Nt  N threads doing bursts of 32: per-core rate
 *   certcache_publish              valid publishes per second (key preparation included)
 *   certcache_miss_storm_10k       10k distinct URLs missed at once by a reader thread; a
 *                                  fetcher thread takes the claims from a ring and publishes
 *                                  (synthetic fetch: the cache side of the storm): publishes
 *                                  per second, time until all hit, memory, longest reader
 *                                  loop iteration (wall clock and on CPU), readers blocked
 */
#include "bench/bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dataplane/certcache/cache.h"
#include "hsm/ring.h"

#define WARM 100000
#define HOT 1000
#define STORM 10000
#define T_NOW 1700000000LL
#define URL_CAP 80

struct urlset {
	char (*url)[URL_CAP];
	size_t *len;
	uint64_t *hash;
	uint32_t *order; /* a random permutation, walked in sequence */
	size_t n;
};

static int urlset_make(struct urlset *s, size_t n, const char *host)
{
	s->n = n;
	s->url = malloc(n * URL_CAP);
	s->len = malloc(n * sizeof(*s->len));
	s->hash = malloc(n * sizeof(*s->hash));
	s->order = malloc(n * sizeof(*s->order));
	if (!s->url || !s->len || !s->hash || !s->order)
		return -1;
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		int l = snprintf(s->url[i], URL_CAP, "https://%s%zu.example.net/sti/cert-%08zx.pem",
				 host, i % 997, i * 2654435761u);
		s->len[i] = (size_t)l;
		s->order[i] = (uint32_t)i;
	}
	for (size_t i = n - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t j = x % (i + 1);
		uint32_t t = s->order[i];
		s->order[i] = s->order[j];
		s->order[j] = t;
	}
	return 0;
}

static void urlset_free(struct urlset *s)
{
	free(s->url);
	free(s->len);
	free(s->hash);
	free(s->order);
}

static double now_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static struct cert_result result_for(EVP_PKEY *key, int64_t now)
{
	struct cert_result r;
	memset(&r, 0, sizeof(r));
	r.failed = CERT_OK;
	r.pkey = key;
	r.not_before = now - 86400;
	r.not_after = now + 365 * 86400;
	strcpy(r.spc, "1234");
	r.tnauth.n = 1;
	strcpy(r.tnauth.e[0].v, "1234");
	return r;
}

/* ---- lookups ---- */

struct lk_ctx {
	struct cache *c;
	const struct urlset *s;
	size_t i;
	size_t mask_n; /* walk order[0..mask_n) */
	unsigned long quiesce;
};

static int lk_hashed(void *p)
{
	struct lk_ctx *x = p;
	uint32_t u = x->s->order[x->i];
	struct cache_ref ref;
	if (++x->i == x->mask_n)
		x->i = 0;
	int r = cache_lookup_hashed(x->c, x->s->hash[u], x->s->url[u], x->s->len[u], T_NOW, &ref);
	if ((++x->quiesce & 63) == 0)
		cache_quiescent(); /* an lcore: one quiescent state per burst of lookups */
	return r == CACHE_HIT ? 0 : 1;
}

static int lk_plain(void *p)
{
	struct lk_ctx *x = p;
	uint32_t u = x->s->order[x->i];
	struct cache_ref ref;
	if (++x->i == x->mask_n)
		x->i = 0;
	int r = cache_lookup(x->c, x->s->url[u], x->s->len[u], T_NOW, &ref);
	if ((++x->quiesce & 63) == 0)
		cache_quiescent();
	return r == CACHE_HIT ? 0 : 1;
}

#define BURST 32

/* One call = one burst of BURST lookups (rates are multiplied by BURST when reported). */
static int lk_burst_common(struct lk_ctx *x, bool hashed)
{
	const char *urls[BURST];
	size_t lens[BURST];
	uint64_t hashes[BURST];
	struct cache_ref refs[BURST];
	int rcs[BURST];
	for (int k = 0; k < BURST; k++) {
		uint32_t u = x->s->order[x->i];
		if (++x->i == x->mask_n)
			x->i = 0;
		urls[k] = x->s->url[u];
		lens[k] = x->s->len[u];
		hashes[k] = x->s->hash[u];
	}
	int n = cache_lookup_burst(x->c, hashed ? hashes : NULL, urls, lens, BURST, T_NOW, refs,
				   rcs);
	if ((++x->quiesce & 1) == 0)
		cache_quiescent(); /* one quiescent state per 64 lookups, as the single cases */
	if (n != BURST)
		return 1;
	for (int k = 0; k < BURST; k++)
		if (rcs[k] != CACHE_HIT || refs[k].entry == NULL)
			return 1;
	return 0;
}

static int lk_burst(void *p)
{
	return lk_burst_common(p, true);
}

static int lk_burst_unhashed(void *p)
{
	return lk_burst_common(p, false);
}

struct mt_arg {
	struct cache *c;
	const struct urlset *s;
	double seconds;
	unsigned id;
	bool burst;
	unsigned long n;
	int err;
	pthread_barrier_t *bar;
};

static void *mt_main(void *p)
{
	struct mt_arg *a = p;
	struct lk_ctx x = { a->c, a->s, (a->s->n / 7) * a->id % a->s->n, a->s->n, 0 };
	cache_thread_register();
	pthread_barrier_wait(a->bar);
	double t0 = now_s(CLOCK_MONOTONIC);
	do {
		if (a->burst) {
			for (int i = 0; i < 1024 / BURST; i++)
				a->err |= lk_burst(&x);
		} else {
			for (int i = 0; i < 1024; i++)
				a->err |= lk_hashed(&x);
		}
		a->n += 1024;
	} while (now_s(CLOCK_MONOTONIC) - t0 < a->seconds);
	cache_thread_unregister();
	return NULL;
}

/* Lookups on every online CPU at once (hashed; single or bursts of 32): per-core rate. */
static int per_core(const struct bench_opts *o, json_t *out, struct cache *c,
		    const struct urlset *s, bool burst)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > 64)
		ncpu = 64;
	pthread_t th[64];
	struct mt_arg a[64];
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, (unsigned)ncpu);
	cache_thread_offline();
	for (long i = 0; i < ncpu; i++) {
		a[i] = (struct mt_arg){ c, s, o->seconds * o->rounds, (unsigned)i, burst, 0, 0,
					&bar };
		pthread_create(&th[i], NULL, mt_main, &a[i]);
	}
	unsigned long total = 0;
	int err = 0;
	for (long i = 0; i < ncpu; i++) {
		pthread_join(th[i], NULL);
		total += a[i].n;
		err |= a[i].err;
	}
	cache_thread_online();
	pthread_barrier_destroy(&bar);
	if (err)
		return -1;
	char name[64];
	snprintf(name, sizeof(name), "certcache_lookup%s_per_core_%ldt", burst ? "_burst32" : "",
		 ncpu);
	bench_report(o, out, name, (double)total / (o->seconds * o->rounds) / (double)ncpu, NULL,
		     0, 20e6);
	return 0;
}

static int bench_lookups(const struct bench_opts *o, json_t *out, EVP_PKEY *key)
{
	struct cache_cfg cfg;
	struct cache *c;
	struct urlset s;
	int rc = -1;

	cache_cfg_default(&cfg);
	cfg.max_entries = 131072;
	cfg.max_bytes = (size_t)1 << 30;
	if (urlset_make(&s, WARM, "cr") != 0 || cache_create(&cfg, &c) != 0)
		return -1;
	long rss0 = rss_kib();
	struct cert_result res = result_for(key, T_NOW);
	double t0 = now_s(CLOCK_MONOTONIC);
	for (size_t i = 0; i < s.n; i++) {
		s.hash[i] = cache_hash(c, s.url[i], s.len[i]);
		if (cache_publish_cert(c, s.url[i], s.len[i], &res, T_NOW, 86400) != 0)
			goto out;
	}
	double pub_rate = (double)s.n / (now_s(CLOCK_MONOTONIC) - t0);
	struct cache_stats st;
	cache_stats(c, &st);
	long rss1 = rss_kib();

	struct lk_ctx hashed = { c, &s, 0, s.n, 0 }, plain = { c, &s, 0, s.n, 0 };
	double r_hashed, r_plain;
	if (bench_pair(o, lk_plain, &plain, &r_plain, lk_hashed, &hashed, &r_hashed) != 0)
		goto out;
	bench_report(o, out, "certcache_lookup_hashed_100k", r_hashed, NULL, 0, 20e6);
	bench_report(o, out, "certcache_lookup_100k", r_plain, NULL, 0, 0);

	/* hot set: the first HOT URLs of the permutation */
	struct lk_ctx hot = { c, &s, 0, HOT, 0 };
	double r_hot = bench_rate(o, lk_hashed, &hot);
	if (r_hot < 0)
		goto out;
	bench_report(o, out, "certcache_lookup_hot1k", r_hot, NULL, 0, 20e6);

	/* bursts of 32 on the same sets */
	struct lk_ctx bh = { c, &s, 0, s.n, 0 }, bu = { c, &s, 0, s.n, 0 };
	struct lk_ctx bhot = { c, &s, 0, HOT, 0 };
	double r_burst = bench_rate(o, lk_burst, &bh);
	double r_burst_u = bench_rate(o, lk_burst_unhashed, &bu);
	double r_burst_hot = bench_rate(o, lk_burst, &bhot);
	if (r_burst < 0 || r_burst_u < 0 || r_burst_hot < 0)
		goto out;
	bench_report(o, out, "certcache_lookup_burst32_100k", r_burst * BURST, NULL, 0, 20e6);
	bench_report(o, out, "certcache_lookup_burst32_100k_unhashed", r_burst_u * BURST, NULL, 0,
		     0);
	bench_report(o, out, "certcache_lookup_burst32_hot1k", r_burst_hot * BURST, NULL, 0, 20e6);

	/* every online CPU, single lookups then bursts */
	if (per_core(o, out, c, &s, false) != 0 || per_core(o, out, c, &s, true) != 0)
		goto out;

	json_t *row = json_object();
	json_object_set_new(row, "rate_per_s", json_real(pub_rate));
	json_object_set_new(row, "entries", json_integer((json_int_t)st.entries));
	json_object_set_new(row, "accounted_bytes", json_integer((json_int_t)st.bytes));
	json_object_set_new(row, "rss_growth_kib", json_integer(rss1 - rss0));
	json_object_set_new(row, "rss_bytes_per_entry",
			    json_real((double)(rss1 - rss0) * 1024.0 / (double)s.n));
	json_object_set_new(out, "certcache_publish", row);
	if (!o->json_only)
		printf("%-28s %12.0f /s   %llu entries, %.1f MiB accounted, RSS +%.1f MiB "
		       "(%.0f B/entry)\n",
		       "certcache_publish", pub_rate, (unsigned long long)st.entries,
		       (double)st.bytes / 1048576.0, (double)(rss1 - rss0) / 1024.0,
		       (double)(rss1 - rss0) * 1024.0 / (double)s.n);
	rc = 0;
out:
	cache_destroy(c);
	urlset_free(&s);
	return rc;
}

/* ---- miss storm ---- */

struct storm {
	struct cache *c;
	struct urlset s;
	struct hsm_ring *req;
	EVP_PKEY *key;
	_Atomic int done;
	_Atomic unsigned long published;
	double t_first, t_all;
};

static void *storm_fetcher(void *p)
{
	struct storm *st = p;
	uint32_t v[64];
	struct cert_result res = result_for(st->key, T_NOW);
	cache_thread_register();
	while (!atomic_load(&st->done)) {
		unsigned n = hsm_ring_dequeue_burst(st->req, v, 64);
		for (unsigned i = 0; i < n; i++) {
			if (cache_publish_cert(st->c, st->s.url[v[i]], st->s.len[v[i]], &res, T_NOW,
					       3600) == 0)
				atomic_fetch_add(&st->published, 1);
		}
		if (n == 0) {
			cache_thread_offline();
			sched_yield();
			cache_thread_online();
		} else {
			cache_quiescent();
		}
	}
	cache_thread_unregister();
	return NULL;
}

static int bench_storm(const struct bench_opts *o, json_t *out)
{
	struct storm st;
	struct cache_cfg cfg;
	int rc = -1;

	memset(&st, 0, sizeof(st));
	st.key = EVP_EC_gen("P-256");
	cache_cfg_default(&cfg);
	cfg.max_flights = 16384;
	if (st.key == NULL || urlset_make(&st.s, STORM, "storm") != 0 ||
	    cache_create(&cfg, &st.c) != 0 || hsm_ring_create(16384, sizeof(uint32_t), &st.req))
		return -1;
	for (size_t i = 0; i < st.s.n; i++)
		st.s.hash[i] = cache_hash(st.c, st.s.url[i], st.s.len[i]);
	long rss0 = rss_kib();
	pthread_t th;
	pthread_create(&th, NULL, storm_fetcher, &st);

	/* the reader: bursts of 64 lookups over the whole set until every URL hits */
	double t0 = now_s(CLOCK_MONOTONIC), max_wall = 0, max_cpu = 0;
	unsigned long lookups = 0, claims = 0, iters = 0;
	struct rusage ru0, ru1;
	getrusage(RUSAGE_THREAD, &ru0);
	size_t pos = 0, hits_in_row = 0;
	while (hits_in_row < st.s.n && now_s(CLOCK_MONOTONIC) - t0 < 60) {
		double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
		for (int i = 0; i < 64; i++) {
			uint32_t u = st.s.order[pos];
			pos = (pos + 1) % st.s.n;
			struct cache_ref ref;
			int r = cache_lookup_hashed(st.c, st.s.hash[u], st.s.url[u], st.s.len[u],
						    T_NOW, &ref);
			lookups++;
			if (r == CACHE_HIT) {
				hits_in_row++;
			} else {
				hits_in_row = 0;
				if (r == CACHE_MISS_CLAIMED) {
					claims++;
					if (hsm_ring_enqueue_burst(st.req, &u, 1) != 1)
						(void)cache_claim_release(st.c, st.s.url[u],
									  st.s.len[u]);
				}
			}
		}
		cache_quiescent();
		double dw = now_s(CLOCK_MONOTONIC) - w0, dc = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
		if (dw > max_wall)
			max_wall = dw;
		if (dc > max_cpu)
			max_cpu = dc;
		iters++;
	}
	double t_all = now_s(CLOCK_MONOTONIC) - t0;
	getrusage(RUSAGE_THREAD, &ru1);
	atomic_store(&st.done, 1);
	pthread_join(th, NULL);
	struct cache_stats cs;
	cache_stats(st.c, &cs);
	long rss1 = rss_kib();
	unsigned long pubs = atomic_load(&st.published);
	long blocked = ru1.ru_nvcsw - ru0.ru_nvcsw;
	(void)o;

	json_t *row = json_object();
	json_object_set_new(row, "urls", json_integer(STORM));
	json_object_set_new(row, "publishes", json_integer((json_int_t)pubs));
	json_object_set_new(row, "publish_rate_per_s", json_real((double)pubs / t_all));
	json_object_set_new(row, "seconds_until_all_hit", json_real(t_all));
	json_object_set_new(row, "reader_lookups", json_integer((json_int_t)lookups));
	json_object_set_new(row, "claims", json_integer((json_int_t)claims));
	json_object_set_new(row, "accounted_bytes", json_integer((json_int_t)cs.bytes));
	json_object_set_new(row, "rss_growth_kib", json_integer(rss1 - rss0));
	json_object_set_new(row, "reader_iterations", json_integer((json_int_t)iters));
	json_object_set_new(row, "longest_reader_iteration_us", json_real(max_wall * 1e6));
	json_object_set_new(row, "longest_reader_iteration_cpu_us", json_real(max_cpu * 1e6));
	json_object_set_new(row, "reader_blocked", json_integer(blocked));
	json_object_set_new(out, "certcache_miss_storm_10k", row);
	if (!o->json_only)
		printf("%-28s %12.0f /s   all %d hit after %.3f s, %lu claims, %.1f MiB accounted, "
		       "RSS +%.1f MiB; longest reader iteration %.1f us (%.1f us on CPU), "
		       "blocked %ld\n",
		       "certcache_miss_storm_10k", (double)pubs / t_all, STORM, t_all, claims,
		       (double)cs.bytes / 1048576.0, (double)(rss1 - rss0) / 1024.0,
		       max_wall * 1e6, max_cpu * 1e6, blocked);
	rc = hits_in_row >= st.s.n && claims == STORM && blocked == 0 ? 0 : -1;
	cache_destroy(st.c);
	hsm_ring_destroy(st.req);
	urlset_free(&st.s);
	EVP_PKEY_free(st.key);
	return rc;
}

int bench_certcache_main(const struct bench_opts *o, json_t *out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	int rc = -1;
	if (key == NULL || cache_thread_register() != 0)
		goto out;
	rc = bench_lookups(o, out, key);
	if (rc == 0)
		rc = bench_storm(o, out);
	cache_thread_unregister();
out:
	EVP_PKEY_free(key);
	if (rc != 0)
		fprintf(stderr, "shaken-bench certcache: an operation failed\n");
	return rc;
}
