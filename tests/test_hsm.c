/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HSM engine against SoftHSM2 tokens created per test: key lifecycle, asynchronous and
 * blocking signing, exactly-once completion under concurrency, deadlines, backpressure,
 * several tokens, fork. Exits 77 when SoftHSM2 is missing.
 */
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>

#include "crypto/pp.h"
#include "hsm/hsm.h"
#include "hsm/p11.h"
#include "tests/test_hsm_softhsm.h"

int main(int argc, char **argv)
{
	return th_main(argc, argv);
}

static struct th_env env;

static void setup1(void)
{
	cr_assert_eq(th_setup(&env, 1), 0);
}

static void setup2(void)
{
	cr_assert_eq(th_setup(&env, 2), 0);
}

static void teardown(void)
{
	th_teardown(&env);
}

/* Generates key "k1" (id 01) on token i through hsm_p11 and returns its public key. */
static EVP_PKEY *keygen_on(unsigned i)
{
	char uri[512];
	struct hsm_p11_tok *t;
	EVP_PKEY *pub = NULL;

	th_token_uri(&env, i, TH_SOFTHSM, uri, sizeof(uri));
	cr_assert_eq(hsm_p11_open(uri, NULL, NULL, &t), 0);
	cr_assert_eq(hsm_p11_keygen(t, "k1", (const uint8_t *)"\x01", 1), 0);
	cr_assert_eq(hsm_p11_key_public(t, "pkcs11:object=k1", &pub), 0);
	hsm_p11_close(t);
	return pub;
}

static struct hsm_engine *engine_on(unsigned n_tokens, unsigned sessions, uint32_t *key)
{
	/* op_timeout well above any C_Sign on a loaded sanitizer build: these tests are not about
	 * hangs (test_hsm_fault.c and test_hsm_stress.c are), and a token wrongly marked hung
	 * would fail their jobs with -ENODEV */
	struct hsm_engine_cfg cfg = {.module_path = TH_SOFTHSM, .sessions = sessions,
				     .op_timeout_ns = 5000000000ull};
	struct hsm_engine *e;
	char uri[512];

	cr_assert_eq(hsm_engine_create(&cfg, &e), 0);
	for (unsigned i = 0; i < n_tokens; i++) {
		snprintf(uri, sizeof(uri), "pkcs11:token=tok%u?pin-source=file:%s", i,
			 env.pin_file);
		cr_assert_eq(hsm_engine_add_token(e, uri), (int)i);
	}
	cr_assert_eq(hsm_engine_start(e), 0);
	cr_assert_eq(hsm_engine_key_add(e, "pkcs11:object=k1;id=%01", key), 0);
	return e;
}

Test(hsm_p11, key_lifecycle, .init = setup1, .fini = teardown)
{
	char uri[512];
	struct hsm_p11_tok *t;
	struct hsm_p11_key keys[4];
	uint8_t der[256], pem[512], sig[64], d[32];
	EVP_PKEY *pub = NULL;

	th_token_uri(&env, 0, TH_SOFTHSM, uri, sizeof(uri));
	cr_assert_eq(hsm_p11_open(uri, NULL, NULL, &t), 0);
	cr_assert_eq(hsm_p11_key_list(t, keys, 4), 0);
	cr_assert_eq(hsm_p11_keygen(t, "sp-2025", (const uint8_t *)"\xaa\xbb", 2), 0);
	cr_assert_eq(hsm_p11_keygen(t, "sp-2025", (const uint8_t *)"\x01", 1), -EEXIST);
	cr_assert_eq(hsm_p11_keygen(t, "other", (const uint8_t *)"\xaa\xbb", 2), -EEXIST);
	cr_assert_eq(hsm_p11_keygen(t, "", (const uint8_t *)"\x01", 1), -EINVAL);
	cr_assert_eq(hsm_p11_keygen(t, "sp-2026", (const uint8_t *)"\x02", 1), 0);
	cr_assert_eq(hsm_p11_key_list(t, keys, 4), 2);
	bool seen = false;
	for (int i = 0; i < 2; i++) {
		cr_assert(keys[i].has_public);
		if (!strcmp(keys[i].label, "sp-2025")) {
			seen = true;
			cr_assert_eq(keys[i].id_len, 2);
			cr_assert_eq(keys[i].id[0], 0xaa);
		}
	}
	cr_assert(seen);

	/* the public key, three ways, agree; a signature made in the token verifies */
	cr_assert_eq(hsm_p11_key_public(t, "pkcs11:id=%aa%bb", &pub), 0);
	long dl = hsm_p11_key_spki(t, "pkcs11:object=sp-2025", false, der, sizeof(der));
	cr_assert_eq(dl, 91);   /* P-256 SubjectPublicKeyInfo */
	long pl = hsm_p11_key_spki(t, "pkcs11:object=sp-2025", true, pem, sizeof(pem));
	cr_assert_gt(pl, 0);
	cr_assert(strstr((char *)pem, "-----BEGIN PUBLIC KEY-----") == (char *)pem);
	cr_assert_eq(hsm_p11_key_spki(t, "pkcs11:object=sp-2025", false, der, 10), -ENOSPC);
	const unsigned char *p = der;
	EVP_PKEY *pub2 = d2i_PUBKEY(NULL, &p, dl);
	cr_assert_not_null(pub2);
	cr_assert_eq(EVP_PKEY_eq(pub, pub2), 1);
	BIO *b = BIO_new_mem_buf(pem, (int)pl);
	EVP_PKEY *pub3 = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	cr_assert_eq(EVP_PKEY_eq(pub, pub3), 1);
	th_digest("lifecycle", d);
	cr_assert_eq(hsm_p11_sign_once(t, "pkcs11:object=sp-2025", d, sig), 0);
	cr_assert(th_verify(pub, d, sig));
	d[0] ^= 1;
	cr_assert(!th_verify(pub, d, sig));

	/* the private key is sensitive and not extractable: a PKCS#8 export is impossible,
	 * and the selectors are required */
	cr_assert_eq(hsm_p11_key_destroy(t, "pkcs11:"), -EINVAL);
	cr_assert_eq(hsm_p11_key_public(t, "pkcs11:token=tok0", &pub2), -EINVAL);

	/* destroy: both halves go; the other key stays */
	cr_assert_eq(hsm_p11_key_destroy(t, "pkcs11:object=sp-2025"), 2);
	cr_assert_eq(hsm_p11_key_destroy(t, "pkcs11:object=sp-2025"), 0);
	cr_assert_eq(hsm_p11_key_list(t, keys, 4), 1);
	cr_assert_str_eq(keys[0].label, "sp-2026");
	cr_assert_eq(hsm_p11_sign_once(t, "pkcs11:object=sp-2025", d, sig), -ENOENT);
	EVP_PKEY *gone = NULL;
	cr_assert_eq(hsm_p11_key_public(t, "pkcs11:object=sp-2025", &gone), -ENOENT);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pub2);
	EVP_PKEY_free(pub3);
	hsm_p11_close(t);
}

Test(hsm_p11, open_errors, .init = setup1, .fini = teardown)
{
	char uri[512];
	struct hsm_p11_tok *t;
	FILE *f;

	snprintf(uri, sizeof(uri), "pkcs11:token=nosuch?module-path=%s&pin-source=file:%s",
		 TH_SOFTHSM, env.pin_file);
	cr_assert_eq(hsm_p11_open(uri, NULL, NULL, &t), -ENODEV);
	snprintf(uri, sizeof(uri), "pkcs11:token=tok0?module-path=/nonexistent.so");
	cr_assert_eq(hsm_p11_open(uri, NULL, NULL, &t), -ELIBACC);
	cr_assert_eq(hsm_p11_open("pkcs11:token=tok0", NULL, NULL, &t), -EINVAL);
	unsetenv("SHAKEN_NO_PIN");
	cr_assert_eq(hsm_p11_open("pkcs11:token=tok0", TH_SOFTHSM, "SHAKEN_NO_PIN", &t), -ENOENT);
	setenv("SHAKEN_BAD_PIN", "0000", 1);
	cr_assert_eq(hsm_p11_open("pkcs11:token=tok0", TH_SOFTHSM, "SHAKEN_BAD_PIN", &t), -EACCES);
	setenv("SHAKEN_GOOD_PIN", TH_PIN, 1);
	cr_assert_eq(hsm_p11_open("pkcs11:token=tok0", TH_SOFTHSM, "SHAKEN_GOOD_PIN", &t), 0);
	hsm_p11_close(t);
	/* a wrong PIN in a file is refused too */
	f = fopen(env.pin_file, "w");
	fputs("9999\n", f);
	fclose(f);
	snprintf(uri, sizeof(uri), "pkcs11:token=tok0?pin-source=file:%s", env.pin_file);
	cr_assert_eq(hsm_p11_open(uri, TH_SOFTHSM, NULL, &t), -EACCES);
}

Test(hsm_engine, async_burst_signs, .init = setup1, .fini = teardown)
{
	EVP_PKEY *pub = keygen_on(0);
	uint32_t key;
	struct hsm_engine *e = engine_on(1, 2, &key);
	struct hsm_queue *q;
	struct hsm_job jobs[64];
	struct hsm_completion c[64];
	bool seen[64] = {0};

	cr_assert_eq(hsm_queue_create(e, 64, &q), 0);
	for (unsigned i = 0; i < 64; i++) {
		char msg[32];
		snprintf(msg, sizeof(msg), "job %u", i);
		th_digest(msg, jobs[i].digest);
		jobs[i].cookie = (void *)(uintptr_t)(i + 1);
		jobs[i].deadline_ns = 0;
		jobs[i].key = key;
	}
	cr_assert_eq(hsm_submit_burst(q, jobs, 64), 64);
	cr_assert_eq(hsm_queue_in_flight(q), 64);
	unsigned got = 0;
	uint64_t until = hsm_now_ns() + 5000000000ull;
	while (got < 64 && hsm_now_ns() < until) {
		unsigned n = hsm_poll_burst(q, c, 64);
		for (unsigned j = 0; j < n; j++) {
			unsigned i = (unsigned)(uintptr_t)c[j].cookie - 1;
			cr_assert_lt(i, 64);
			cr_assert(!seen[i]);
			seen[i] = true;
			cr_assert_eq(c[j].status, 0);
			cr_assert_eq(c[j].key, key);
			cr_assert(th_verify(pub, jobs[i].digest, c[j].sig), "job %u", i);
			/* a signature over another digest does not verify */
			cr_assert(!th_verify(pub, jobs[(i + 1) % 64].digest, c[j].sig));
		}
		got += n;
		if (!n)
			usleep(200);
	}
	cr_assert_eq(got, 64);
	cr_assert_eq(hsm_queue_in_flight(q), 0);
	struct hsm_stats st;
	hsm_engine_stats(e, &st);
	cr_assert_eq(st.submitted, 64);
	cr_assert_eq(st.signed_ok, 64);
	cr_assert_eq(st.failed + st.timed_out, 0);
	cr_assert_eq(st.token_ups, 1);
	hsm_queue_destroy(q);
	hsm_engine_destroy(e);
	EVP_PKEY_free(pub);
}

Test(hsm_engine, blocking_and_pp_signer, .init = setup1, .fini = teardown)
{
	EVP_PKEY *pub = keygen_on(0);
	uint32_t key;
	struct hsm_engine *e = engine_on(1, 1, &key);
	uint8_t d[32], sig[64];

	th_digest("blocking", d);
	cr_assert_eq(hsm_sign(e, key, d, sig, 0), 0);
	cr_assert(th_verify(pub, d, sig));
	cr_assert_eq(hsm_sign(e, 9, d, sig, 0), -ENOKEY);

	/* pp_sign with the HSM key; the token verifies with crypto/pp's own verifier */
	struct hsm_pp_signer ctx = {.e = e, .key = key, .timeout_ns = 1000000000ull};
	struct pp_signer s;
	struct pp_passport pp;
	const char *dest[] = {"12155551213"};
	char tok[PP_TOKEN_MAX];
	struct pp_token t;
	struct pp_passport parsed;
	uint8_t psig[PP_SIG_LEN];
	const char *why = NULL;

	cr_assert_eq(hsm_pp_signer(&s, &ctx), 0);
	cr_assert_eq(pp_shaken_init(&pp, "https://cert.example.org/sp.pem", 'A', "12155551212",
				    dest, 1, 1700000000, "123e4567-e89b-12d3-a456-426614174000"),
		     0);
	long n = pp_sign(&pp, &s, tok, sizeof(tok));
	cr_assert_gt(n, 0);
	cr_assert_eq(pp_parse(tok, (size_t)n, &t, &parsed, psig, &why), 0, "%s", why);
	size_t signed_len = (size_t)(t.sig - 1 - tok);
	cr_assert_eq(pp_es256_verify(pub, tok, signed_len, psig), 0);
	tok[10] ^= 1;
	cr_assert_eq(pp_es256_verify(pub, tok, signed_len, psig), -EBADMSG);
	hsm_engine_destroy(e);
	EVP_PKEY_free(pub);
}

Test(hsm_engine, deadlines_backpressure_unknown_key, .init = setup1, .fini = teardown)
{
	EVP_PKEY *pub = keygen_on(0);
	uint32_t key;
	struct hsm_engine *e = engine_on(1, 1, &key);
	struct hsm_queue *q;
	struct hsm_job jobs[20];
	struct hsm_completion c[20];

	cr_assert_eq(hsm_queue_create(e, 8, &q), 0);
	memset(jobs, 0, sizeof(jobs));
	uint64_t now = hsm_now_ns();
	for (unsigned i = 0; i < 20; i++) {
		th_digest("x", jobs[i].digest);
		jobs[i].cookie = (void *)(uintptr_t)i;
		jobs[i].key = key;
		jobs[i].deadline_ns = now + 2000000000ull;
	}
	jobs[0].deadline_ns = now - 1;   /* already expired */
	jobs[1].key = 7;                 /* never added */
	/* the queue holds 8 in flight: backpressure */
	cr_assert_eq(hsm_submit_burst(q, jobs, 20), 8);
	cr_assert_eq(hsm_submit_burst(q, jobs + 8, 12), 0);
	unsigned got = 0;
	int status[8];
	while (got < 8) {
		unsigned n = hsm_poll_burst(q, c, 20);
		for (unsigned j = 0; j < n; j++)
			status[(uintptr_t)c[j].cookie] = c[j].status;
		got += n;
		usleep(100);
	}
	cr_assert_eq(status[0], -ETIMEDOUT);
	cr_assert_eq(status[1], -ENOKEY);
	for (int i = 2; i < 8; i++)
		cr_assert_eq(status[i], 0);
	/* room again */
	cr_assert_eq(hsm_submit_burst(q, jobs + 8, 12), 8);
	struct hsm_stats st;
	hsm_queue_destroy(q);   /* waits for the 8 */
	hsm_engine_stats(e, &st);
	cr_assert_eq(st.submitted, 16);
	cr_assert_eq(st.signed_ok, 14);
	cr_assert_eq(st.timed_out, 1);
	cr_assert_eq(st.failed, 1);
	hsm_engine_destroy(e);
	EVP_PKEY_free(pub);
}

Test(hsm_engine, deadline_within_slow_queue, .init = setup1, .fini = teardown)
{
	/* 3000 jobs behind one session with a deadline that leaves time for about a third of
	 * them (from the signing time measured here, so that a slow sanitizer build or a loaded
	 * machine changes the deadline, not the outcome): every job completes, the late ones
	 * with -ETIMEDOUT, none much after its deadline */
	EVP_PKEY *pub = keygen_on(0);
	uint32_t key;
	struct hsm_engine *e = engine_on(1, 1, &key);
	struct hsm_queue *q;
	enum { N = 3000, WARM = 20 };
	static struct hsm_job jobs[N];
	struct hsm_completion c[64];
	uint8_t d[32], sig[64];

	/* the fastest of WARM signatures: signing all N takes longer than N/3 of those whatever
	 * the load, and a signature comes within N/3 of them unless the machine stalls */
	th_digest("warm", d);
	uint64_t per_sig = UINT64_MAX;
	for (unsigned i = 0; i < WARM; i++) {
		uint64_t w0 = hsm_now_ns();
		cr_assert_eq(hsm_sign(e, key, d, sig, 5000000000ull), 0);
		uint64_t w = hsm_now_ns() - w0;
		per_sig = w < per_sig ? w : per_sig;
	}
	cr_assert_eq(hsm_queue_create(e, N, &q), 0);
	uint64_t t0 = hsm_now_ns(), dl = t0 + per_sig * (N / 3);
	for (unsigned i = 0; i < N; i++) {
		th_digest("slow", jobs[i].digest);
		jobs[i].cookie = (void *)(uintptr_t)i;
		jobs[i].key = key;
		jobs[i].deadline_ns = dl;
	}
	cr_assert_eq(hsm_submit_burst(q, jobs, N), N);
	unsigned got = 0, ok = 0, late = 0;
	uint64_t worst = 0;
	while (got < N) {
		unsigned n = hsm_poll_burst(q, c, 64);
		uint64_t now = hsm_now_ns();
		for (unsigned j = 0; j < n; j++) {
			if (c[j].status == 0) {
				ok++;
				cr_assert(th_verify(pub, jobs[0].digest, c[j].sig));
			} else {
				cr_assert_eq(c[j].status, -ETIMEDOUT);
				late++;
				if (now - dl > worst && now > dl)
					worst = now - dl;
			}
		}
		got += n;
		if (!n)
			usleep(100);
		cr_assert_lt(hsm_now_ns() - t0, 5000000000ull, "completions stalled");
	}
	cr_assert_gt(ok, 0);
	cr_assert_gt(late, 0);
	cr_assert_lt(worst, 100000000ull, "a timeout came %llu ns after its deadline",
		     (unsigned long long)worst);
	hsm_queue_destroy(q);
	hsm_engine_destroy(e);
	EVP_PKEY_free(pub);
}

/* ---- many submitters ------------------------------------------------------------------- */

enum { MT_THREADS = 4, MT_PER = 1500 };

struct mt_arg {
	struct hsm_engine *e;
	uint32_t key;
	unsigned idx;
	unsigned ok, timed_out, other, dup;
	int other_status; /* the last unexpected status, for the failure message */
	_Atomic uint8_t *seen;
};

static void *mt_submitter(void *arg)
{
	struct mt_arg *a = arg;
	struct hsm_queue *q;
	struct hsm_job job[16];
	struct hsm_completion c[32];
	unsigned next = 0, done = 0;

	if (hsm_queue_create(a->e, 128, &q) != 0)
		return NULL;
	while (done < MT_PER) {
		unsigned k = 0;
		while (k < 16 && next + k < MT_PER) {
			unsigned id = a->idx * MT_PER + next + k;
			memset(&job[k], 0, sizeof(job[k]));
			job[k].digest[0] = (uint8_t)id;
			job[k].digest[1] = (uint8_t)(id >> 8);
			job[k].cookie = (void *)(uintptr_t)id;
			job[k].key = a->key;
			job[k].deadline_ns = hsm_now_ns() + 10000000000ull;
			k++;
		}
		if (k) {
			int acc = hsm_submit_burst(q, job, k);
			if (acc < 0)
				break;
			next += (unsigned)acc;
		}
		unsigned n = hsm_poll_burst(q, c, 32);
		for (unsigned j = 0; j < n; j++) {
			unsigned id = (unsigned)(uintptr_t)c[j].cookie;
			if (atomic_fetch_add(&a->seen[id], 1) != 0)
				a->dup++;
			if (c[j].status == 0 && c[j].sig[0] | c[j].sig[1] | c[j].sig[63])
				a->ok++;
			else if (c[j].status == -ETIMEDOUT)
				a->timed_out++;
			else {
				a->other++;
				a->other_status = c[j].status;
			}
		}
		done += n;
		if (!n)
			usleep(50);
	}
	hsm_queue_destroy(q);
	return NULL;
}

Test(hsm_engine, concurrent_submitters_exactly_once, .init = setup1, .fini = teardown)
{
	EVP_PKEY *pub = keygen_on(0);
	uint32_t key;
	struct hsm_engine *e = engine_on(1, 4, &key);
	pthread_t th[MT_THREADS];
	struct mt_arg a[MT_THREADS];
	static _Atomic uint8_t seen[MT_THREADS * MT_PER];

	for (unsigned i = 0; i < MT_THREADS; i++) {
		a[i] = (struct mt_arg){.e = e, .key = key, .idx = i, .seen = seen};
		cr_assert_eq(pthread_create(&th[i], NULL, mt_submitter, &a[i]), 0);
	}
	for (unsigned i = 0; i < MT_THREADS; i++)
		pthread_join(th[i], NULL);
	unsigned ok = 0;
	for (unsigned i = 0; i < MT_THREADS; i++) {
		cr_assert_eq(a[i].dup, 0);
		cr_assert_eq(a[i].other, 0, "%u jobs completed with status %d", a[i].other,
			     a[i].other_status);
		cr_assert_eq(a[i].timed_out, 0);
		ok += a[i].ok;
	}
	cr_assert_eq(ok, MT_THREADS * MT_PER);
	for (unsigned i = 0; i < MT_THREADS * MT_PER; i++)
		cr_assert_eq(atomic_load(&seen[i]), 1, "job %u completed %u times", i,
			     atomic_load(&seen[i]));
	struct hsm_stats st;
	hsm_engine_stats(e, &st);
	cr_assert_eq(st.submitted, MT_THREADS * MT_PER);
	cr_assert_eq(st.signed_ok, MT_THREADS * MT_PER);
	hsm_engine_destroy(e);
	EVP_PKEY_free(pub);
}

Test(hsm_engine, two_tokens_share_load, .init = setup2, .fini = teardown)
{
	EVP_PKEY *k = th_gen_p256();
	cr_assert_eq(th_import_key(&env, 0, k, "k1", "01"), 0);
	cr_assert_eq(th_import_key(&env, 1, k, "k1", "01"), 0);
	uint32_t key;
	struct hsm_engine *e = engine_on(2, 2, &key);
	cr_assert(hsm_engine_token_up(e, 0));
	cr_assert(hsm_engine_token_up(e, 1));
	cr_assert(!hsm_engine_token_up(e, 2));
	struct hsm_queue *q;
	cr_assert_eq(hsm_queue_create(e, 512, &q), 0);
	struct hsm_job jobs[512];
	struct hsm_completion c[64];
	for (unsigned i = 0; i < 512; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].digest[0] = (uint8_t)i;
		jobs[i].key = key;
		jobs[i].cookie = (void *)(uintptr_t)i;
	}
	cr_assert_eq(hsm_submit_burst(q, jobs, 512), 512);
	unsigned got = 0;
	while (got < 512) {
		unsigned n = hsm_poll_burst(q, c, 64);
		for (unsigned j = 0; j < n; j++) {
			cr_assert_eq(c[j].status, 0);
			cr_assert(th_verify(k, jobs[(uintptr_t)c[j].cookie].digest, c[j].sig));
		}
		got += n;
		usleep(100);
	}
	struct hsm_stats st;
	hsm_engine_stats(e, &st);
	cr_assert_eq(st.token_ups, 2);
	cr_assert_eq(st.signed_ok, 512);
	hsm_queue_destroy(q);
	hsm_engine_destroy(e);
	EVP_PKEY_free(k);
}

Test(hsm_engine, key_add_errors, .init = setup1, .fini = teardown)
{
	EVP_PKEY *pub = keygen_on(0);
	uint32_t key;
	struct hsm_engine *e = engine_on(1, 1, &key);
	uint32_t id;
	cr_assert_eq(hsm_engine_key_add(e, "pkcs11:token=tok0", &id), -EINVAL);
	cr_assert_eq(hsm_engine_key_add(e, "pkcs11:object=absent", &id), -ENOENT);
	cr_assert_eq(hsm_engine_key_add(e, "not a uri", &id), -EINVAL);
	cr_assert_eq(hsm_engine_add_token(e, "pkcs11:token=tok0"), -EBUSY);
	hsm_engine_destroy(e);
	EVP_PKEY_free(pub);

	struct hsm_engine_cfg cfg = {.module_path = TH_SOFTHSM, .sessions = 1000};
	cr_assert_eq(hsm_engine_create(&cfg, &e), -EINVAL);
	cfg.sessions = 1;
	cr_assert_eq(hsm_engine_create(&cfg, &e), 0);
	cr_assert_eq(hsm_engine_start(e), -EINVAL);   /* no token */
	cr_assert_eq(hsm_engine_add_token(e, "pkcs11:token=nosuch"), 0);
	unsetenv("SHAKEND_HSM_PIN");
	cr_assert_eq(hsm_engine_start(e), -ENOENT);   /* no PIN source */
	hsm_engine_destroy(e);

	cr_assert_eq(hsm_engine_create(&cfg, &e), 0);
	cr_assert_eq(hsm_engine_add_token(e, "pkcs11:token=nosuch"), 0);
	setenv("SHAKEND_HSM_PIN", TH_PIN, 1);
	cr_assert_eq(hsm_engine_start(e), -ENODEV);   /* started, probing, nothing up */
	uint8_t d[32] = {0}, sig[64];
	cr_assert_eq(hsm_engine_key_add(e, "pkcs11:object=k1", &id), -ENOENT);
	uint64_t t0 = hsm_now_ns();
	cr_assert_eq(hsm_sign(e, 0, d, sig, 2000000000ull), -ENODEV);   /* no token in service */
	cr_assert_lt(hsm_now_ns() - t0, 100000000ull, "not failed fast");
	hsm_engine_destroy(e);
}

Test(hsm_engine, fork_child_reinitializes, .init = setup1, .fini = teardown)
{
	EVP_PKEY *pub = keygen_on(0);
	uint32_t key;
	struct hsm_engine *e = engine_on(1, 2, &key);
	uint8_t d[32], sig[64];

	th_digest("parent", d);
	cr_assert_eq(hsm_sign(e, key, d, sig, 0), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct hsm_queue *q;
		struct hsm_job job = {.key = key};
		int rc = 0;
		if (hsm_queue_create(e, 4, &q) != 0)
			_exit(10);
		if (hsm_submit_burst(q, &job, 1) != -ECHILD)
			_exit(11);
		if (hsm_sign(e, key, d, sig, 0) != -ECHILD)
			_exit(12);
		hsm_queue_destroy(q);
		hsm_engine_destroy(e);   /* frees memory only */
		struct hsm_engine *e2 = engine_on(1, 1, &key);
		th_digest("child", d);
		rc = hsm_sign(e2, key, d, sig, 0);
		if (rc != 0)
			_exit(13);
		if (!th_verify(pub, d, sig))
			_exit(14);
		hsm_engine_destroy(e2);
		_exit(0);
	}
	/*
	 * The child re-initializes SoftHSM2 and OpenSSL after a fork taken while the parent's
	 * engine threads run. Under AddressSanitizer that child sometimes deadlocks inside the
	 * libraries (a lock held by a parent thread at the fork: seen about 1 run in 5 there,
	 * never in the release build). Wait at most 60 s: a hang fails the test, except in an
	 * ASan build, where it is reported as a skip with that reason.
	 */
	int st;
	pid_t w = 0;
	for (int i = 0; i < 6000 && (w = waitpid(pid, &st, WNOHANG)) == 0; i++)
		usleep(10000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
#if defined(__SANITIZE_ADDRESS__)
		hsm_engine_destroy(e);
		EVP_PKEY_free(pub);
		cr_skip_test("the forked child deadlocked inside a library under ASan");
#else
		cr_assert_fail("the forked child hung");
#endif
	}
	cr_assert_eq(w, pid);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 0, "child failed at step %d", WEXITSTATUS(st));
	/* the parent's engine still works */
	th_digest("parent again", d);
	cr_assert_eq(hsm_sign(e, key, d, sig, 0), 0);
	cr_assert(th_verify(pub, d, sig));
	hsm_engine_destroy(e);
	EVP_PKEY_free(pub);
}
