/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Certificate cache under load (plain C, no Criterion, so that it also runs under TSan):
 * reader threads in QSBR mode look up at full speed and check that every entry they see is
 * intact (its URL, and a checksum of the URL stored in the entry), claim misses and refreshes
 * and hand them to a fetcher thread through a ring, wait on fetches in flight; the fetcher
 * publishes valid and negative entries, a control thread runs cache_maintain(), invalidates
 * entries and advances a virtual clock so that entries expire, refresh and are evicted. The
 * table is small so that eviction runs constantly.
 *
 * Reports the longest reader loop iteration (64 lookups, one quiescent state) and fails on a
 * corrupted entry, an inconsistent counter, or an iteration longer than one second (a reader
 * blocked). Environment: CACHE_STRESS_SECONDS (default 3), CACHE_STRESS_READERS (default 4).
 */
#include <errno.h>
#include <malloc.h>
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

#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif

#ifdef STRESS_TSAN
/* liburcu 0.13 is not instrumented: its internal allocations, handed between its own threads
 * through futexes TSan cannot see, are reported as races. The cache's own accesses stay
 * checked (cache.c makes its synchronization visible to TSan). */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "called_from_lib:liburcu-qsbr.so\n"
	       "called_from_lib:liburcu-cds.so\n";
}
#endif

#define NURL 1024
#define MAX_READERS 32
#define BATCH 64

static struct cache *c;
static EVP_PKEY *key;
static char urls[NURL][96];
static size_t url_len[NURL];
static uint32_t url_sum[NURL];
static _Atomic int64_t vnow = 1700000000;
static _Atomic int stop;
static _Atomic unsigned long bad;
static struct hsm_ring *req; /* URL indexes to fetch */

static uint32_t sum32(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static double clk(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double mono(void)
{
	return clk(CLOCK_MONOTONIC);
}

static long voluntary_switches(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw;
}

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

struct reader {
	pthread_t th;
	int id;
	struct hsm_ring *wake;
	double max_iter;     /* wall clock (includes preemption) */
	double max_cpu;      /* on-CPU time of the thread */
	long nvcsw;          /* voluntary context switches inside the loop: blocking */
	unsigned long iters, lookups, hits, neg, claims, pending, waits, wakes, slow;
};

static void check_entry(int u, const struct cache_entry *e)
{
	char want[16];
	snprintf(want, sizeof(want), "%08x", url_sum[u]);
	if (e->url_len != url_len[u] || memcmp(e->url, urls[u], url_len[u]) != 0 ||
	    e->warned != url_sum[u] || strcmp(e->spc, want) != 0 || e->tnauth.n != 1 ||
	    strcmp(e->tnauth.e[0].v, want) != 0 || e->pub.ctx == NULL ||
	    e->expires_at <= e->fetched_at) {
		atomic_fetch_add(&bad, 1);
		fprintf(stderr, "corrupt entry for %s\n", urls[u]);
	}
}

static void *reader_main(void *p)
{
	struct reader *r = p;
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(r->id + 1);
	struct cache_wake wk[16];

	if (cache_thread_register() != 0)
		abort();
	long vcsw0 = voluntary_switches();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		double t0 = mono(), c0 = clk(CLOCK_THREAD_CPUTIME_ID);
		int64_t now = atomic_load_explicit(&vnow, memory_order_relaxed);
		uint64_t xv[BATCH], hv[BATCH];
		int uv[BATCH], resv[BATCH];
		const char *uurl[BATCH];
		size_t ulen[BATCH];
		struct cache_ref refv[BATCH];
		for (int i = 0; i < BATCH; i++) {
			/* skewed: a quarter of the URLs take most lookups */
			uint64_t x = xs(&s);
			int u = (int)(x % 4 ? (x >> 8) % (NURL / 4) : (x >> 8) % NURL);
			xv[i] = x;
			uv[i] = u;
			uurl[i] = urls[u];
			ulen[i] = url_len[u];
			hv[i] = cache_hash(c, urls[u], url_len[u]);
		}
		/* readers alternate: single lookups; bursts hashing themselves; bursts of
		 * precomputed hashes */
		if (r->id % 3 == 0) {
			for (int i = 0; i < BATCH; i++)
				resv[i] = cache_lookup(c, uurl[i], ulen[i], now, &refv[i]);
		} else if (cache_lookup_burst(c, r->id % 3 == 1 ? NULL : hv, uurl, ulen, BATCH,
					      now, refv, resv) != BATCH) {
			atomic_fetch_add(&bad, 1);
			fprintf(stderr, "short burst\n");
		}
		for (int i = 0; i < BATCH; i++) {
			uint64_t x = xv[i];
			int u = uv[i];
			struct cache_ref ref = refv[i];
			int res = resv[i];
			r->lookups++;
			switch (res) {
			case CACHE_HIT:
				r->hits++;
				check_entry(u, ref.entry);
				if (ref.refresh) {
					uint32_t v = (uint32_t)u;
					if (hsm_ring_enqueue_burst(req, &v, 1) != 1)
						(void)cache_claim_release(c, urls[u], url_len[u]);
				}
				break;
			case CACHE_HIT_NEGATIVE:
				r->neg++;
				if (ref.fail <= CACHE_FAIL_NONE || ref.fail >= CACHE_FAIL_COUNT ||
				    ref.detail != (int)url_sum[u]) {
					atomic_fetch_add(&bad, 1);
					fprintf(stderr, "corrupt negative entry for %s\n", urls[u]);
				}
				break;
			case CACHE_MISS_CLAIMED: {
				r->claims++;
				uint32_t v = (uint32_t)u;
				if (hsm_ring_enqueue_burst(req, &v, 1) != 1)
					(void)cache_claim_release(c, urls[u], url_len[u]);
				break;
			}
			case CACHE_MISS_PENDING:
				r->pending++;
				if ((x & 0xf) == 0) {
					struct cache_waiter w = { r->wake, (uint64_t)u };
					if (cache_wait(c, urls[u], url_len[u], &w) == 0)
						r->waits++;
				}
				break;
			case CACHE_BUSY:
				break;
			default:
				atomic_fetch_add(&bad, 1);
				fprintf(stderr, "lookup returned %d\n", res);
			}
		}
		unsigned n = hsm_ring_dequeue_burst(r->wake, wk, 16);
		for (unsigned i = 0; i < n; i++) {
			if (wk[i].cookie >= NURL || (wk[i].result != CACHE_HIT &&
						     wk[i].result != CACHE_HIT_NEGATIVE &&
						     wk[i].result != CACHE_CANCELLED))
				atomic_fetch_add(&bad, 1);
		}
		r->wakes += n;
		cache_quiescent();
		double dt = mono() - t0, dc = clk(CLOCK_THREAD_CPUTIME_ID) - c0;
		if (dc > r->max_cpu)
			r->max_cpu = dc;
		if (dt > r->max_iter)
			r->max_iter = dt;
		if (dt > 1e-3)
			r->slow++;
		r->iters++;
	}
	r->nvcsw = voluntary_switches() - vcsw0;
	cache_thread_unregister();
	return NULL;
}

static void publish(int u, int64_t now, uint64_t x)
{
	char sum[16];
	snprintf(sum, sizeof(sum), "%08x", url_sum[u]);
	if (x % 5 == 0) {
		enum cache_fail k = (enum cache_fail)(1 + (x >> 8) % (CACHE_FAIL_COUNT - 1));
		if (cache_publish_negative(c, urls[u], url_len[u], k, (int)url_sum[u], now) != 0)
			atomic_fetch_add(&bad, 1);
		return;
	}
	struct cert_result res;
	memset(&res, 0, sizeof(res));
	res.failed = CERT_OK;
	res.pkey = key;
	res.warned = url_sum[u];
	memcpy(res.spc, sum, 9);
	res.tnauth.n = 1;
	res.tnauth.e[0].kind = CERT_TN_SPC;
	memcpy(res.tnauth.e[0].v, sum, 9);
	res.not_before = now - 1000;
	res.not_after = now + 200 + (int64_t)((x >> 16) % 400);
	if (cache_publish_cert(c, urls[u], url_len[u], &res, now, (int64_t)((x >> 24) % 300)) != 0)
		atomic_fetch_add(&bad, 1);
}

static unsigned long published;

static void *fetcher_main(void *p)
{
	(void)p;
	uint64_t s = 12345;
	uint32_t v[32];
	if (cache_thread_register() != 0)
		abort();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned n = hsm_ring_dequeue_burst(req, v, 32);
		int64_t now = atomic_load_explicit(&vnow, memory_order_relaxed);
		for (unsigned i = 0; i < n; i++) {
			publish((int)v[i], now, xs(&s));
			published++;
		}
		/* unsolicited publishes (refreshing and replacing entries nobody claimed) */
		uint64_t x = xs(&s);
		publish((int)(x % NURL), now, xs(&s));
		published++;
		cache_quiescent();
	}
	cache_thread_unregister();
	return NULL;
}

static void *control_main(void *p)
{
	(void)p;
	uint64_t s = 777;
	if (cache_thread_register() != 0)
		abort();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&vnow, 1, memory_order_relaxed);
		int64_t now = atomic_load_explicit(&vnow, memory_order_relaxed);
		if (cache_maintain(c, now, 256) < 0)
			atomic_fetch_add(&bad, 1);
		for (int i = 0; i < 4; i++) {
			int u = (int)(xs(&s) % NURL);
			int r = cache_invalidate(c, urls[u], url_len[u]);
			if (r != 0 && r != -ENOENT && r != -EBUSY)
				atomic_fetch_add(&bad, 1);
		}
		cache_thread_offline();
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		cache_thread_online();
	}
	cache_thread_unregister();
	return NULL;
}

int main(void)
{
	const char *e = getenv("CACHE_STRESS_SECONDS");
	double secs = e ? atof(e) : 3.0;
	e = getenv("CACHE_STRESS_READERS");
	int nr = e ? atoi(e) : 4;
	if (nr < 1 || nr > MAX_READERS)
		nr = 4;

	for (int i = 0; i < NURL; i++) {
		int n = snprintf(urls[i], sizeof(urls[i]), "https://cert%d.example.net/sti/%0*d.pem",
				 i % 37, 1 + i % 40, i);
		url_len[i] = (size_t)n;
		url_sum[i] = sum32(urls[i], url_len[i]);
	}
	/*
	 * Memory as an lcore's is: never handed back to the kernel during the run. Otherwise the
	 * writer's free() trims or unmaps, and a reader's page fault that waits for that mmap lock
	 * counts as a voluntary context switch, which is the kernel's doing, not the cache's.
	 */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 1 << 30);
	key = EVP_EC_gen("P-256");
	struct cache_cfg cfg;
	cache_cfg_default(&cfg);
	cfg.max_entries = 256; /* a quarter of the URLs: constant eviction */
	cfg.max_flights = 256;
	cfg.ttl_floor_s = 5;
	cfg.ttl_ceiling_s = 400;
	cfg.neg_ttl_min_s = 1;
	cfg.neg_ttl_max_s = 8;
	cfg.flight_timeout_s = 3;
	cfg.waiters_per_flight = 8;
	if (key == NULL || cache_create(&cfg, &c) != 0 ||
	    hsm_ring_create(1024, sizeof(uint32_t), &req) != 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}

	struct reader rd[MAX_READERS];
	pthread_t fetcher, control;
	memset(rd, 0, sizeof(rd));
	for (int i = 0; i < nr; i++) {
		rd[i].id = i;
		if (hsm_ring_create(64, sizeof(struct cache_wake), &rd[i].wake) != 0)
			return 1;
		pthread_create(&rd[i].th, NULL, reader_main, &rd[i]);
	}
	pthread_create(&fetcher, NULL, fetcher_main, NULL);
	pthread_create(&control, NULL, control_main, NULL);
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	double max_iter = 0, max_cpu = 0;
	long nvcsw = 0;
	unsigned long it = 0, lk = 0, hits = 0, neg = 0, cl = 0, pend = 0, waits = 0, wakes = 0,
		      slow = 0;
	for (int i = 0; i < nr; i++) {
		pthread_join(rd[i].th, NULL);
		if (rd[i].max_iter > max_iter)
			max_iter = rd[i].max_iter;
		if (rd[i].max_cpu > max_cpu)
			max_cpu = rd[i].max_cpu;
		nvcsw += rd[i].nvcsw;
		it += rd[i].iters;
		lk += rd[i].lookups;
		hits += rd[i].hits;
		neg += rd[i].neg;
		cl += rd[i].claims;
		pend += rd[i].pending;
		waits += rd[i].waits;
		wakes += rd[i].wakes;
		slow += rd[i].slow;
	}
	pthread_join(fetcher, NULL);
	pthread_join(control, NULL);

	struct cache_stats st;
	cache_stats(c, &st);
	int fail = 0;
	if (atomic_load(&bad)) {
		fprintf(stderr, "FAIL: %lu bad observations\n", atomic_load(&bad));
		fail = 1;
	}
	if (st.lookups != lk || st.hits != hits || st.hits_negative != neg || st.claims != cl ||
	    st.pending != pend || st.waits != waits) {
		fprintf(stderr, "FAIL: counters disagree with the readers' own: lookups %llu/%lu "
			"hits %llu/%lu neg %llu/%lu claims %llu/%lu pending %llu/%lu waits %llu/%lu\n",
			(unsigned long long)st.lookups, lk, (unsigned long long)st.hits, hits,
			(unsigned long long)st.hits_negative, neg, (unsigned long long)st.claims, cl,
			(unsigned long long)st.pending, pend, (unsigned long long)st.waits, waits);
		fail = 1;
	}
	if (st.entries > cfg.max_entries + cfg.max_flights + 1) {
		fprintf(stderr, "FAIL: %llu entries over the bound\n", (unsigned long long)st.entries);
		fail = 1;
	}
	if (max_iter > 1.0) {
		fprintf(stderr, "FAIL: a reader iteration took %.3f s\n", max_iter);
		fail = 1;
	}
#ifdef STRESS_TSAN
	nvcsw = 0; /* the TSan runtime's own locks make threads sleep: not ours */
#endif
	if (nvcsw != 0) {
		fprintf(stderr, "FAIL: readers blocked %ld times (voluntary context switches)\n",
			nvcsw);
		fail = 1;
	}
	if (st.evictions == 0 || st.publishes == 0 || st.expirations + st.evictions == 0 ||
	    hits == 0) {
		fprintf(stderr, "FAIL: the run did not exercise the cache\n");
		fail = 1;
	}
	printf("cache-stress: %d readers, %.1f s: %lu lookups (%.2f M/s), %lu hits, %lu negative, "
	       "%lu claims, %lu pending, %lu waits, %lu wakes received\n",
	       nr, secs, lk, (double)lk / secs / 1e6, hits, neg, cl, pend, waits, wakes);
	printf("cache-stress: %lu publishes (%llu valid, %llu negative), %llu evictions, "
	       "%llu expirations, %llu cancelled, %llu wakes dropped, %llu entries, %llu bytes\n",
	       published, (unsigned long long)st.publishes,
	       (unsigned long long)st.publishes_negative, (unsigned long long)st.evictions,
	       (unsigned long long)st.expirations, (unsigned long long)st.flights_cancelled,
	       (unsigned long long)st.wake_dropped, (unsigned long long)st.entries,
	       (unsigned long long)st.bytes);
	printf("cache-stress: reader loop iterations %lu (%d lookups each): longest %.1f us on CPU, "
	       "%.1f us wall clock (%lu over 1 ms: preemption, %d CPUs); readers blocked %ld times\n",
	       it, BATCH, max_cpu * 1e6, max_iter * 1e6, slow, (int)sysconf(_SC_NPROCESSORS_ONLN),
	       nvcsw);

	cache_destroy(c);
	for (int i = 0; i < nr; i++)
		hsm_ring_destroy(rd[i].wake);
	hsm_ring_destroy(req);
	EVP_PKEY_free(key);
	printf("cache-stress: %s\n", fail ? "FAIL" : "ok");
	return fail;
}
