/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy snapshots swapped under concurrent readers (plain C, no Criterion, so that it runs
 * under -Db_sanitize=thread). A writer publishes snapshots of two variants, whole rebuilds and
 * credential swaps alternating, while reader threads (QSBR, like lcores) decide calls
 * continuously and check that every decision is internally consistent: trunk, origid and
 * credential of one decision always come from one variant, and generations never go back.
 *
 *   test_policy_stress                 the stress test (exit 0 / 1)
 *   test_policy_stress --bench [N]     TN table bench: parse N ranges (default 10 M), lookups/s
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/cfg.h"
#include "dataplane/policy/policy.h"

#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif

#ifdef STRESS_TSAN
/* liburcu is not instrumented: its internal allocations (rcu_barrier's work items), handed
 * between its own threads through futexes TSan cannot see, are reported as races. The
 * snapshots' own frees run in policy.c's callback and stay checked (policy.c makes the grace
 * period visible to TSan). */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "called_from_lib:liburcu-qsbr.so\n";
}
#endif

#define READERS 4
#define PUBLISHES 3000

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		exit(1);                                                                           \
	} while (0)

static atomic_bool stop;
static _Atomic uint64_t decisions;

static const char *variant_json[2] = {
	"{\"credentials\": [{\"id\": \"c0\", \"key\": \"k0\", \"x5u\": \"https://cr/0.pem\"}],"
	" \"sign\": {\"unknown_origid\": \"00000000-0000-4000-8000-000000000000\"},"
	" \"trunks\": [{\"name\": \"t0\", \"prefix\": [\"10.0.0.0/8\", \"2001:db8::/32\"],"
	" \"kind\": \"customer\", \"origid\": \"00000000-0000-4000-8000-000000000000\"}]}",
	"{\"credentials\": [{\"id\": \"c1\", \"key\": \"k1\", \"x5u\": \"https://cr/1.pem\"}],"
	" \"sign\": {\"unknown_origid\": \"11111111-1111-4111-8111-111111111111\"},"
	" \"trunks\": [{\"name\": \"t1\", \"prefix\": [\"10.0.0.0/16\", \"2001:db8::/48\"],"
	" \"vlan\": 0, \"kind\": \"customer\", \"customer\": \"t0\","
	" \"origid\": \"11111111-1111-4111-8111-111111111111\"}]}",
};

static struct cfg *cfgs[2];
static struct pol_tntable *tn;

static void *reader(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	pol_thread_register();
	uint64_t last_gen = 0, n = 0;
	uint8_t src[16] = {10, 0, 1, 2};
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		const struct pol_snapshot *s = pol_current();
		if (s) {
			uint64_t g = pol_snapshot_generation(s);
			if (g < last_gen)
				FAIL("reader %u: generation went back %llu -> %llu", id,
				     (unsigned long long)last_gen, (unsigned long long)g);
			last_gen = g;
			struct pol_decision d;
			if (pol_decide(s, 4, src, 0, "12125550001", 11, &d) != 0)
				FAIL("pol_decide failed");
			if (d.trunk == NULL || d.cred == NULL || !d.sign)
				FAIL("reader %u: no trunk or credential", id);
			char v = d.trunk->name[1];
			if (d.origid[0] != v || d.cred->id[1] != v || d.cred->x5u[11] != v)
				FAIL("reader %u: mixed decision %s %s %s", id, d.trunk->name,
				     d.origid, d.cred->id);
			if (d.attest != 'A')
				FAIL("reader %u: attest %c", id, d.attest);
			n++;
		}
		if ((n & 1023) == 0) {
			/* an idle lcore goes offline now and then */
			pol_thread_offline();
			pol_thread_online();
		} else {
			pol_quiescent();
		}
	}
	atomic_fetch_add(&decisions, n);
	pol_thread_unregister();
	return NULL;
}

static void stress(void)
{
	char err[512];
	for (int v = 0; v < 2; v++)
		if (cfg_parse(variant_json[v], strlen(variant_json[v]), &cfgs[v], err,
			      sizeof(err)) != 0)
			FAIL("cfg %d: %s", v, err);
	const char *tn_text = "12125550000-12125559999 t0\n";
	if (pol_tn_parse(tn_text, strlen(tn_text), &tn, err, sizeof(err)) != 0)
		FAIL("tn: %s", err);
	pol_thread_register();
	struct pol_snapshot *s;
	if (pol_snapshot_build(cfgs[0], tn, &s, err, sizeof(err)) != 0)
		FAIL("build: %s", err);
	pol_publish(s);
	pthread_t th[READERS];
	for (unsigned i = 0; i < READERS; i++)
		pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)i);
	for (int i = 0; i < PUBLISHES; i++) {
		int v = i & 1;
		if ((i & 2) == 0) {
			if (pol_snapshot_build(cfgs[v], tn, &s, err, sizeof(err)) != 0)
				FAIL("build: %s", err);
		} else {
			/* a credential swap must keep the variant consistent: rebuild the
			 * current variant's credentials on top of a fresh build of it */
			struct pol_snapshot *b;
			if (pol_snapshot_build(cfgs[v], tn, &b, err, sizeof(err)) != 0)
				FAIL("build: %s", err);
			if (pol_snapshot_with_creds(b, cfgs[v]->creds, cfgs[v]->n_creds, &s, err,
						    sizeof(err)) != 0)
				FAIL("with_creds: %s", err);
			pol_snapshot_free(b);
		}
		if (i % 97 == 0) {
			/* an offline writer waits for the grace period itself */
			pol_thread_offline();
			pol_publish(s);
			pol_thread_online();
		} else {
			pol_publish(s);
		}
		pol_quiescent();
		if ((i & 63) == 0) {
			struct timespec ts = {0, 100000};
			pol_thread_offline();
			nanosleep(&ts, NULL);
			pol_thread_online();
		}
	}
	atomic_store(&stop, true);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	pol_thread_offline();
	pol_shutdown();
	pol_thread_online();
	pol_thread_unregister();
	pol_tn_free(tn);
	cfg_free(cfgs[0]);
	cfg_free(cfgs[1]);
	printf("policy-stress: %d publishes, %llu decisions by %d readers: ok\n", PUBLISHES,
	       (unsigned long long)atomic_load(&decisions), READERS);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* N ranges of 11-digit NANP-like numbers, each 1..100 TNs wide with gaps, 1000 customers. */
static void bench(size_t n)
{
	size_t cap = n * 40 + 1;
	char *buf = malloc(cap);
	if (buf == NULL)
		FAIL("out of memory");
	size_t off = 0;
	uint64_t base = 12000000000ull, seed = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		uint64_t w = rng(&seed) % 100;
		int k = snprintf(buf + off, cap - off, "%llu-%llu c%llu\n",
				 (unsigned long long)base, (unsigned long long)(base + w),
				 (unsigned long long)(rng(&seed) % 1000));
		off += (size_t)k;
		base += w + 1 + rng(&seed) % 50;
	}
	printf("tn-bench: %zu ranges, %.1f MB of text\n", n, (double)off / 1e6);
	struct pol_tntable *t;
	char err[256];
	double t0 = now_s();
	if (pol_tn_parse(buf, off, &t, err, sizeof(err)) != 0)
		FAIL("parse: %s", err);
	double t1 = now_s();
	printf("tn-bench: parse (sorted file) %.2f s, %zu ranges kept, %zu owners, %.1f MB table\n",
	       t1 - t0, pol_tn_ranges(t), pol_tn_owners(t), (double)pol_tn_ranges(t) * 20 / 1e6);
	uint64_t span = base - 12000000000ull, hits = 0;
	size_t lookups = 10000000;
	char (*tns)[12] = malloc(4096 * sizeof(*tns));
	for (size_t i = 0; i < 4096; i++)
		snprintf(tns[i], 12, "%llu",
			 (unsigned long long)(12000000000ull + rng(&seed) % span));
	t0 = now_s();
	for (size_t i = 0; i < lookups; i++)
		hits += pol_tn_lookup(t, tns[(i * 2654435761u) & 4095], 11) != POL_OWNER_NONE;
	t1 = now_s();
	printf("tn-bench: %.1f M lookups/s (one thread, random TNs; %.0f%% owned)\n",
	       (double)lookups / (t1 - t0) / 1e6, 100.0 * (double)hits / (double)lookups);
	pol_tn_free(t);
	/* the same file shuffled by blocks: parse with a sort */
	size_t half = off / 2;
	while (half < off && buf[half - 1] != '\n')
		half++;
	char *sw = malloc(off);
	memcpy(sw, buf + half, off - half);
	memcpy(sw + off - half, buf, half);
	t0 = now_s();
	if (pol_tn_parse(sw, off, &t, err, sizeof(err)) != 0)
		FAIL("parse: %s", err);
	t1 = now_s();
	printf("tn-bench: parse (unsorted file) %.2f s\n", t1 - t0);
	pol_tn_free(t);
	free(sw);
	free(tns);
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
		bench(argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 10000000);
		return 0;
	}
	stress();
	return 0;
}
