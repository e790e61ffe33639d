/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HSM engine under injected faults (libshaken_p11fault.so wrapping SoftHSM2): latency,
 * error rate, session loss, token removal and return, hangs. Each fault must give completions
 * (with errors where nothing else is possible) within the deadline, no crash, no lost or
 * doubled job, and recovery once the fault clears. Exits 77 when SoftHSM2 is missing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "hsm/hsm.h"
#include "tests/test_hsm_softhsm.h"

#ifndef SHAKEND_P11FAULT
#define SHAKEND_P11FAULT "libshaken_p11fault.so"
#endif

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}

static struct th_env env;
static EVP_PKEY *key_pair;
static const char *fault_path;

static void setup_n(unsigned n)
{
	fault_path = getenv("SHAKEND_P11FAULT");
	if (!fault_path)
		fault_path = SHAKEND_P11FAULT;
	cr_assert_eq(access(fault_path, R_OK), 0, "no fault module at %s", fault_path);
	cr_assert_eq(th_setup(&env, n), 0);
	key_pair = th_gen_p256();
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(th_import_key(&env, i, key_pair, "k1", "01"), 0);
	setenv("SHAKEN_P11FAULT_MODULE", TH_SOFTHSM, 1);
	unsetenv("SHAKEN_P11FAULT");
	unsetenv("SHAKEN_P11FAULT_FILE");
}

static void setup1(void)
{
	setup_n(1);
}

static void setup2(void)
{
	setup_n(2);
}

static void teardown(void)
{
	EVP_PKEY_free(key_pair);
	th_teardown(&env);
}

static struct hsm_engine *engine(unsigned n_tokens, unsigned sessions, uint64_t op_timeout_ns,
				 unsigned max_attempts, uint32_t *key)
{
	struct hsm_engine_cfg cfg = {
		.module_path = fault_path,
		.sessions = sessions,
		.op_timeout_ns = op_timeout_ns,
		.probe_interval_ns = 50000000ull,
		.max_attempts = max_attempts,
	};
	struct hsm_engine *e;
	char uri[512];

	cr_assert_eq(hsm_engine_create(&cfg, &e), 0);
	for (unsigned i = 0; i < n_tokens; i++) {
		snprintf(uri, sizeof(uri), "pkcs11:token=tok%u?pin-source=file:%s", i,
			 env.pin_file);
		cr_assert_eq(hsm_engine_add_token(e, uri), (int)i);
	}
	cr_assert_eq(hsm_engine_start(e), 0);
	cr_assert_eq(hsm_engine_key_add(e, "pkcs11:object=k1", key), 0);
	return e;
}

/* The fault module's control entry, in this process. */
static void fault_set(const char *conf)
{
	void *h = dlopen(fault_path, RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(h, "fault module not loaded");
	int (*set)(const char *) = (int (*)(const char *))dlsym(h, "shaken_p11fault_set");
	cr_assert_not_null(set);
	set(conf);
	dlclose(h);
}

struct batch {
	unsigned n, ok, timed_out, nodev, eio, other;
	uint64_t elapsed_ns;
};

/*
 * Submits n jobs with a deadline `budget_ns` from now, collects every completion, checks each
 * signature and that each job completes once.
 */
static struct batch run(struct hsm_engine *e, uint32_t key, unsigned n, uint64_t budget_ns)
{
	struct batch b = {.n = n};
	struct hsm_queue *q;
	struct hsm_job job[32];
	struct hsm_completion c[64];
	uint8_t *seen = calloc(n, 1);
	unsigned next = 0, done = 0;
	uint64_t t0 = hsm_now_ns();

	cr_assert_not_null(seen);
	cr_assert_eq(hsm_queue_create(e, n < 4096 ? n : 4096, &q), 0);
	while (done < n) {
		unsigned k = 0;
		uint64_t now = hsm_now_ns();
		while (k < 32 && next + k < n) {
			memset(&job[k], 0, sizeof(job[k]));
			unsigned id = next + k;
			job[k].digest[0] = (uint8_t)id;
			job[k].digest[1] = (uint8_t)(id >> 8);
			job[k].digest[31] = 0x5a;
			job[k].cookie = (void *)(uintptr_t)id;
			job[k].key = key;
			job[k].deadline_ns = now + budget_ns;
			k++;
		}
		if (k) {
			int acc = hsm_submit_burst(q, job, k);
			cr_assert_geq(acc, 0);
			next += (unsigned)acc;
		}
		unsigned got = hsm_poll_burst(q, c, 64);
		for (unsigned j = 0; j < got; j++) {
			unsigned id = (unsigned)(uintptr_t)c[j].cookie;
			cr_assert_lt(id, n);
			cr_assert_eq(seen[id], 0, "job %u completed twice", id);
			seen[id] = 1;
			switch (c[j].status) {
			case 0: {
				uint8_t d[32] = {(uint8_t)id, (uint8_t)(id >> 8)};
				d[31] = 0x5a;
				cr_assert(th_verify(key_pair, d, c[j].sig), "bad signature, job %u",
					  id);
				b.ok++;
				break;
			}
			case -ETIMEDOUT:
				b.timed_out++;
				break;
			case -ENODEV:
				b.nodev++;
				break;
			case -EIO:
				b.eio++;
				break;
			default:
				b.other++;
				break;
			}
		}
		done += got;
		if (!got)
			usleep(100);
		cr_assert_lt(hsm_now_ns() - t0, budget_ns + 10000000000ull, "completions stalled");
	}
	b.elapsed_ns = hsm_now_ns() - t0;
	hsm_queue_destroy(q);
	free(seen);
	return b;
}

/* Waits up to 3 s for token i to be in service (up) or not. */
static bool wait_token(struct hsm_engine *e, unsigned i, bool up)
{
	for (int k = 0; k < 3000; k++) {
		if (hsm_engine_token_up(e, i) == up)
			return true;
		usleep(1000);
	}
	return false;
}

Test(hsm_fault, passthrough_and_latency, .init = setup1, .fini = teardown)
{
	uint32_t key;
	struct hsm_engine *e = engine(1, 8, 0, 0, &key);
	struct batch b = run(e, key, 200, 2000000000ull);
	cr_assert_eq(b.ok, 200);

	/* 2 ms per C_Sign, 8 sessions: 400 jobs take >= 100 ms, and not much more */
	fault_set("latency_us=2000");
	b = run(e, key, 400, 5000000000ull);
	cr_assert_eq(b.ok, 400);
	cr_assert_geq(b.elapsed_ns, 100000000ull);
	cr_assert_lt(b.elapsed_ns, 1000000000ull, "took %llu ns",
		     (unsigned long long)b.elapsed_ns);

	/* latency above the deadline: every job times out, on time */
	fault_set("latency_us=300000");
	uint64_t t0 = hsm_now_ns();
	b = run(e, key, 40, 50000000ull);
	cr_assert_eq(b.timed_out, 40);
	cr_assert_lt(hsm_now_ns() - t0, 50000000ull + 30000000ull, "timeouts late");
	fault_set("");
	usleep(400000);   /* let the slow calls return */
	b = run(e, key, 100, 2000000000ull);
	cr_assert_eq(b.ok, 100);
	hsm_engine_destroy(e);
}

Test(hsm_fault, error_rate_retried, .init = setup1, .fini = teardown)
{
	uint32_t key;
	struct hsm_engine *e = engine(1, 4, 0, 3, &key);
	struct hsm_stats st;

	fault_set("error_rate=0.3,error_code=0x6");   /* CKR_FUNCTION_FAILED */
	struct batch b = run(e, key, 1000, 5000000000ull);
	cr_assert_eq(b.ok + b.eio, 1000, "ok %u eio %u to %u nodev %u other %u", b.ok, b.eio,
		     b.timed_out, b.nodev, b.other);
	/* three attempts: about 0.3^3 = 2.7% fail */
	cr_assert_gt(b.ok, 900);
	cr_assert_gt(b.eio, 0);
	hsm_engine_stats(e, &st);
	cr_assert_gt(st.retries, 200);
	cr_assert(hsm_engine_token_up(e, 0), "a transient error must not take the token out");

	fault_set("");
	b = run(e, key, 300, 2000000000ull);
	cr_assert_eq(b.ok, 300);
	hsm_engine_destroy(e);
}

Test(hsm_fault, session_loss_reopened, .init = setup1, .fini = teardown)
{
	uint32_t key;
	struct hsm_engine *e = engine(1, 4, 0, 6, &key);
	struct hsm_stats st;

	fault_set("session_loss_rate=0.2");
	struct batch b = run(e, key, 1000, 5000000000ull);
	cr_assert_eq(b.ok + b.eio, 1000);
	cr_assert_geq(b.ok, 995);
	hsm_engine_stats(e, &st);
	cr_assert_gt(st.session_reopens, 100);
	cr_assert_eq(st.token_downs, 0);
	fault_set("");
	b = run(e, key, 300, 2000000000ull);
	cr_assert_eq(b.ok, 300);
	hsm_engine_destroy(e);
}

Test(hsm_fault, token_removal_and_return_by_file, .init = setup1, .fini = teardown)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/fault.conf", env.dir);
	FILE *f = fopen(path, "w");
	fclose(f);
	setenv("SHAKEN_P11FAULT_FILE", path, 1);
	uint32_t key;
	struct hsm_engine *e = engine(1, 4, 0, 3, &key);
	struct hsm_stats st;

	struct batch b = run(e, key, 100, 2000000000ull);
	cr_assert_eq(b.ok, 100);

	f = fopen(path, "w");
	fputs("# the token is pulled out\nremoved=1\n", f);
	fclose(f);
	usleep(10000);   /* the module reads the file again within 2 ms of a call */
	uint64_t t0 = hsm_now_ns();
	b = run(e, key, 300, 300000000ull);
	cr_assert_eq(b.ok, 0);
	cr_assert_eq(b.nodev + b.eio + b.timed_out, 300);
	cr_assert_lt(hsm_now_ns() - t0, 300000000ull + 50000000ull, "errors came late");
	cr_assert(!hsm_engine_token_up(e, 0));

	f = fopen(path, "w");
	fputs("removed=0\n", f);
	fclose(f);
	cr_assert(wait_token(e, 0, true), "token not probed back in");
	b = run(e, key, 300, 2000000000ull);
	cr_assert_eq(b.ok, 300);
	hsm_engine_stats(e, &st);
	cr_assert_geq(st.token_downs, 1);
	cr_assert_geq(st.token_ups, 2);
	hsm_engine_destroy(e);
}

Test(hsm_fault, removal_of_one_token_loses_nothing, .init = setup2, .fini = teardown)
{
	uint32_t key;
	struct hsm_engine *e = engine(2, 4, 0, 3, &key);

	/* jobs already running when tok0 goes are retried on tok1 */
	fault_set("latency_us=1000");
	struct hsm_queue *q;
	cr_assert_eq(hsm_queue_create(e, 64, &q), 0);
	struct hsm_job jobs[64];
	memset(jobs, 0, sizeof(jobs));
	for (unsigned i = 0; i < 64; i++) {
		jobs[i].digest[31] = 0x5a;
		jobs[i].digest[0] = (uint8_t)i;
		jobs[i].key = key;
		jobs[i].cookie = (void *)(uintptr_t)i;
	}
	cr_assert_eq(hsm_submit_burst(q, jobs, 64), 64);
	usleep(3000);
	fault_set("latency_us=1000,removed=1,target=tok0");
	unsigned got = 0;
	struct hsm_completion c[64];
	while (got < 64) {
		unsigned n = hsm_poll_burst(q, c, 64);
		for (unsigned j = 0; j < n; j++) {
			cr_assert_eq(c[j].status, 0, "job %u: %d", (unsigned)(uintptr_t)c[j].cookie,
				     c[j].status);
			cr_assert(th_verify(key_pair, jobs[(uintptr_t)c[j].cookie].digest,
					    c[j].sig));
		}
		got += n;
		usleep(200);
	}
	hsm_queue_destroy(q);
	cr_assert(wait_token(e, 0, false));
	cr_assert(hsm_engine_token_up(e, 1));

	struct batch b = run(e, key, 500, 3000000000ull);
	cr_assert_eq(b.ok, 500);

	fault_set("");
	cr_assert(wait_token(e, 0, true));
	b = run(e, key, 500, 3000000000ull);
	cr_assert_eq(b.ok, 500);
	struct hsm_stats st;
	hsm_engine_stats(e, &st);
	cr_assert_eq(st.failed + st.timed_out, 0);
	hsm_engine_destroy(e);
}

Test(hsm_fault, hang_single_token, .init = setup1, .fini = teardown)
{
	uint32_t key;
	struct hsm_engine *e = engine(1, 2, 100000000ull, 3, &key);

	struct batch b = run(e, key, 50, 2000000000ull);
	cr_assert_eq(b.ok, 50);
	fault_set("hang=1");
	uint64_t t0 = hsm_now_ns();
	b = run(e, key, 200, 300000000ull);
	cr_assert_eq(b.ok, 0);
	cr_assert_eq(b.timed_out + b.nodev + b.eio, 200);
	cr_assert_lt(hsm_now_ns() - t0, 300000000ull + 50000000ull, "errors came late");
	cr_assert(!hsm_engine_token_up(e, 0), "a hung token stays in service");

	fault_set("");
	cr_assert(wait_token(e, 0, true), "token not back after the hang");
	b = run(e, key, 200, 2000000000ull);
	cr_assert_eq(b.ok, 200);
	struct hsm_stats st;
	hsm_engine_stats(e, &st);
	cr_assert_geq(st.abandoned, 1);
	hsm_engine_destroy(e);
}

Test(hsm_fault, hang_of_one_token_rerouted, .init = setup2, .fini = teardown)
{
	uint32_t key;
	struct hsm_engine *e = engine(2, 2, 100000000ull, 3, &key);

	fault_set("hang=1,target=tok0");
	uint64_t t0 = hsm_now_ns();
	struct batch b = run(e, key, 400, 1000000000ull);
	cr_assert_eq(b.ok, 400, "ok %u to %u nodev %u eio %u", b.ok, b.timed_out, b.nodev, b.eio);
	cr_assert_lt(hsm_now_ns() - t0, 1000000000ull);
	cr_assert(!hsm_engine_token_up(e, 0));
	fault_set("");
	cr_assert(wait_token(e, 0, true));
	hsm_engine_destroy(e);
}

Test(hsm_fault, device_errors_flap_one_token, .init = setup2, .fini = teardown)
{
	uint32_t key;
	struct hsm_engine *e = engine(2, 2, 0, 3, &key);

	fault_set("error_rate=0.05,error_code=0x30,target=tok0");   /* CKR_DEVICE_ERROR */
	struct batch b = run(e, key, 1000, 5000000000ull);
	cr_assert_eq(b.ok + b.eio + b.nodev, 1000);
	cr_assert_geq(b.ok, 990);
	struct hsm_stats st;
	hsm_engine_stats(e, &st);
	cr_assert_geq(st.token_downs, 1);
	fault_set("");
	cr_assert(wait_token(e, 0, true));
	cr_assert(wait_token(e, 1, true));
	hsm_engine_destroy(e);
}
