/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-bench hsm: the signing engine against the raw PKCS#11 module, in the same run.
 *   1. raw: N threads, one session each, C_SignInit + C_Sign in a loop on a cached handle
 *      (the module's ceiling) vs the engine with the same N sessions fed through the
 *      asynchronous API by one caller thread; target ratio >= 0.95.
 *   2. latency L injected per C_Sign (libshaken_p11fault.so, 2 ms) with D sessions in flight:
 *      engine throughput vs the ideal min(raw, D / L); target >= 0.9.
 *   3. completion latency p50 / p99 / p99.9 of both engine runs.
 * SoftHSM2 tokens are created in a temporary directory. Environment: SHAKEND_BENCH_HSM_N
 * (default: the CPU count), SHAKEND_BENCH_HSM_D (default 32), SHAKEND_P11FAULT (the fault
 * module; default: next to this binary in the build tree).
 */
#include "bench/bench.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "hsm/hsm.h"
#include "hsm/p11.h"
#include "hsm/p11_pvt.h"

/* Declared in bench.h once the command is registered there. */

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define LAT_MAX (1u << 21)

struct hsm_bench {
	struct hsm_p11_tok *ctl;   /* held for the whole run: it keeps the token logged in */
	char dir[64];
	char pin_file[128];
	char token_uri[512];
	char fault[PATH_MAX];
	unsigned n, d;
	double lat_ms;
};

/* ---- raw baseline ---------------------------------------------------------------------- */

/* ---- engine ---------------------------------------------------------------------------- */

struct lat {
	uint64_t *v;
	size_t n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double pct(struct lat *l, double p)
{
	if (l->n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(l->n - 1));
	return (double)l->v[i] * 1e-3;   /* microseconds */
}

/*
 * One caller keeps `inflight` jobs outstanding on engine e for `seconds`, polling with
 * short sleeps (a caller that spins would take a core from the signing threads here).
 * Returns completions per second, or -1 on a failed job.
 */
static double engine_rate(struct hsm_engine *e, uint32_t key, unsigned inflight, double seconds,
			  struct lat *lat)
{
	struct hsm_queue *q;
	struct hsm_job job[32];
	struct hsm_completion c[64];
	uint64_t *sub_ns = calloc(inflight, sizeof(*sub_ns));
	unsigned *free_slots = calloc(inflight, sizeof(*free_slots));
	unsigned n_free = inflight;
	unsigned long done = 0;
	int failed = 0;

	if (!sub_ns || !free_slots || hsm_queue_create(e, inflight, &q) != 0) {
		free(sub_ns);
		free(free_slots);
		return -1;
	}
	for (unsigned i = 0; i < inflight; i++)
		free_slots[i] = i;
	memset(job, 0, sizeof(job));
	uint64_t t0 = hsm_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	for (;;) {
		uint64_t now = hsm_now_ns();
		if (now < end) {
			while (n_free > 0) {
				unsigned k = n_free < 32 ? n_free : 32;
				for (unsigned i = 0; i < k; i++) {
					unsigned slot = free_slots[n_free - 1 - i];
					job[i].cookie = (void *)(uintptr_t)slot;
					job[i].key = key;
					job[i].digest[0] = (uint8_t)slot;
					job[i].deadline_ns = now + 5000000000ull;
					sub_ns[slot] = now;
				}
				int acc = hsm_submit_burst(q, job, k);
				if (acc <= 0)
					break;
				n_free -= (unsigned)acc;
			}
		} else if (hsm_queue_in_flight(q) == 0) {
			break;
		}
		unsigned n = hsm_poll_burst(q, c, 64);
		if (n == 0) {
			usleep(50);
			continue;
		}
		now = hsm_now_ns();
		for (unsigned i = 0; i < n; i++) {
			unsigned slot = (unsigned)(uintptr_t)c[i].cookie;
			if (c[i].status != 0)
				failed = 1;
			if (now <= end) {
				done++;
				if (lat && lat->n < LAT_MAX)
					lat->v[lat->n++] = now - sub_ns[slot];
			}
			free_slots[n_free++] = slot;
		}
	}
	hsm_queue_destroy(q);
	free(sub_ns);
	free(free_slots);
	return failed ? -1 : (double)done / seconds;
}

static int engine_open(struct hsm_bench *b, const char *module, unsigned sessions,
		       struct hsm_engine **e, uint32_t *key)
{
	struct hsm_engine_cfg cfg = {.module_path = module, .sessions = sessions,
				     .ring_size = 8192};
	char uri[600];
	int rc = hsm_engine_create(&cfg, e);

	if (rc)
		return rc;
	snprintf(uri, sizeof(uri), "pkcs11:token=bench?pin-source=file:%s", b->pin_file);
	if ((rc = hsm_engine_add_token(*e, uri)) < 0 || (rc = hsm_engine_start(*e)) != 0 ||
	    (rc = hsm_engine_key_add(*e, "pkcs11:object=bench", key)) != 0) {
		hsm_engine_destroy(*e);
		return rc;
	}
	return 0;
}

/* ---- setup ----------------------------------------------------------------------------- */

static int setup(struct hsm_bench *b)
{
	snprintf(b->dir, sizeof(b->dir), "/tmp/shaken-bench-hsm-XXXXXX");
	if (!mkdtemp(b->dir))
		return -errno;
	int rc = bench_softhsm_token(SOFTHSM, b->dir, "bench", b->pin_file, sizeof(b->pin_file),
				     b->token_uri, sizeof(b->token_uri));
	if (rc)
		return rc;
	rc = hsm_p11_open(b->token_uri, NULL, NULL, &b->ctl);
	if (rc)
		return rc;
	return hsm_p11_keygen(b->ctl, "bench", (const uint8_t *)"\xbe", 1);
}

static void find_fault(struct hsm_bench *b)
{
	const char *env = getenv("SHAKEND_P11FAULT");
	char exe[PATH_MAX];
	ssize_t n;

	b->fault[0] = 0;
	if (env) {
		snprintf(b->fault, sizeof(b->fault), "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = 0;
	static const char rel[] = "/../hsm/libshaken_p11fault.so";
	size_t l = strlen(exe);
	if (l + sizeof(rel) > sizeof(b->fault))
		return;
	memcpy(b->fault, exe, l);
	memcpy(b->fault + l, rel, sizeof(rel));
	if (access(b->fault, R_OK) != 0)
		b->fault[0] = 0;
}

static void lat_report(const struct bench_opts *o, json_t *out, const char *name, struct lat *l)
{
	qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
	json_t *row = json_object();
	json_object_set_new(row, "samples", json_integer((json_int_t)l->n));
	json_object_set_new(row, "p50_us", json_real(pct(l, 0.5)));
	json_object_set_new(row, "p99_us", json_real(pct(l, 0.99)));
	json_object_set_new(row, "p99_9_us", json_real(pct(l, 0.999)));
	json_object_set_new(out, name, row);
	if (!o->json_only)
		printf("%-28s p50 %8.0f us   p99 %8.0f us   p99.9 %8.0f us   (%zu samples)\n",
		       name, pct(l, 0.5), pct(l, 0.99), pct(l, 0.999), l->n);
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

int bench_hsm_main(const struct bench_opts *o, json_t *out)
{
	struct hsm_bench b;
	struct hsm_engine *e = NULL;
	uint32_t key;
	struct lat lat = {0}, lat_l = {0};
	double rr[64], re[64], raw = -1, eng = -1;
	unsigned rounds = o->rounds > 64 ? 64 : (o->rounds ? o->rounds : 1);
	int rc = -1;

	memset(&b, 0, sizeof(b));
	if (access(SOFTHSM, R_OK) != 0) {
		fprintf(stderr, "bench hsm: SoftHSM2 not installed, skipped\n");
		json_object_set_new(out, "hsm_skipped", json_true());
		return 0;
	}
	const char *s = getenv("SHAKEND_BENCH_HSM_N");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	b.n = s ? (unsigned)atoi(s) : (unsigned)(ncpu > 0 ? ncpu : 1);
	s = getenv("SHAKEND_BENCH_HSM_D");
	b.d = s ? (unsigned)atoi(s) : 32;
	b.lat_ms = 2.0;
	if (b.n == 0 || b.n > HSM_MAX_SESSIONS || b.d == 0 || b.d > HSM_MAX_SESSIONS)
		return -1;
	find_fault(&b);
	lat.v = malloc(sizeof(uint64_t) * LAT_MAX);
	lat_l.v = malloc(sizeof(uint64_t) * LAT_MAX);
	if (!lat.v || !lat_l.v)
		goto out;
	if (setup(&b) != 0) {
		fprintf(stderr, "bench hsm: cannot create the SoftHSM2 token\n");
		goto out;
	}

	/* 1. raw module vs engine, same N, alternated */
	if (engine_open(&b, SOFTHSM, b.n, &e, &key) != 0)
		goto out;
	for (unsigned r = 0; r < rounds; r++) {
		rr[r] = bench_p11_raw_rate(SOFTHSM, b.token_uri, "bench", b.n, o->seconds, NULL);
		re[r] = engine_rate(e, key, 16 * b.n + 32, o->seconds, &lat);
		if (rr[r] < 0 || re[r] < 0)
			goto out;
	}
	raw = median(rr, rounds);
	eng = median(re, rounds);
	hsm_engine_destroy(e);
	e = NULL;
	char name[64], base[64];
	snprintf(name, sizeof(name), "hsm_engine_%u_sessions", b.n);
	snprintf(base, sizeof(base), "raw_c_sign_%u_threads", b.n);
	bench_report(o, out, name, eng, base, raw, 0.95);
	lat_report(o, out, "hsm_engine_latency", &lat);

	/* 2. injected latency L, D sessions in flight */
	if (!b.fault[0]) {
		fprintf(stderr, "bench hsm: no fault module (set SHAKEND_P11FAULT): latency case "
				"skipped\n");
	} else {
		char conf[64];
		snprintf(conf, sizeof(conf), "latency_us=%u", (unsigned)(b.lat_ms * 1000));
		setenv("SHAKEN_P11FAULT", conf, 1);
		setenv("SHAKEN_P11FAULT_MODULE", SOFTHSM, 1);
		if (engine_open(&b, b.fault, b.d, &e, &key) != 0)
			goto out;
		for (unsigned r = 0; r < rounds; r++)
			if ((re[r] = engine_rate(e, key, 2 * b.d, o->seconds, &lat_l)) < 0)
				goto out;
		double got = median(re, rounds);
		double ideal = (double)b.d / (b.lat_ms * 1e-3);
		if (raw < ideal)
			ideal = raw;
		snprintf(name, sizeof(name), "hsm_engine_L%.0fms_D%u", b.lat_ms, b.d);
		bench_report(o, out, name, got, "ideal_min(raw,D/L)", ideal, 0.9);
		lat_report(o, out, "hsm_engine_latency_L2ms", &lat_l);
	}
	rc = 0;
out:
	hsm_engine_destroy(e);
	hsm_p11_close(b.ctl);
	free(lat.v);
	free(lat_l.v);
	if (b.dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench hsm: cannot remove %s\n", b.dir);
	}
	return rc;
}
