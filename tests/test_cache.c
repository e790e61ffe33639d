/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The certificate cache (dataplane/certcache/cache.h): hit, miss, negative entries and their
 * back-off, expiry and its clamps, refresh-ahead, eviction by entries and by bytes, single
 * flight with waiters, cancellation, statistics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "dataplane/certcache/cache.h"
#include "hsm/ring.h"

#define T0 1700000000LL

static EVP_PKEY *key;
static struct cache *c;

static void setup(void)
{
	cr_assert_eq(cache_thread_register(), 0);
	key = EVP_EC_gen("P-256");
	cr_assert_not_null(key);
}

static void teardown(void)
{
	cache_destroy(c);
	c = NULL;
	EVP_PKEY_free(key);
	cache_thread_unregister();
}

TestSuite(cache, .init = setup, .fini = teardown);

static void mk(const struct cache_cfg *cfg)
{
	cr_assert_eq(cache_create(cfg, &c), 0);
}

static struct cert_result good(int64_t not_after)
{
	struct cert_result r;
	memset(&r, 0, sizeof(r));
	r.failed = CERT_OK;
	r.pkey = key;
	r.not_before = T0 - 86400;
	r.not_after = not_after;
	strcpy(r.spc, "1234");
	r.tnauth.n = 1;
	r.tnauth.e[0].kind = CERT_TN_SPC;
	strcpy(r.tnauth.e[0].v, "1234");
	return r;
}

static int look(const char *url, int64_t now, struct cache_ref *ref)
{
	return cache_lookup(c, url, strlen(url), now, ref);
}

static int pub(const char *url, int64_t now, int64_t max_age)
{
	struct cert_result r = good(T0 + 10 * 86400);
	return cache_publish_cert(c, url, strlen(url), &r, now, max_age);
}

static int neg(const char *url, enum cache_fail k, int64_t now)
{
	return cache_publish_negative(c, url, strlen(url), k, 0, now);
}

#define U1 "https://cr.example.net/sti/1234.pem"
#define U2 "https://cr.example.net/sti/5678.pem"

Test(cache, miss_claims_then_pending_then_hit_with_a_usable_key)
{
	struct cache_ref ref;
	mk(NULL);
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_CLAIMED);
	cr_assert_null(ref.entry);
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_PENDING);
	cr_assert_eq(look(U1, T0 + 1, &ref), CACHE_MISS_PENDING);
	cr_assert_eq(pub(U1, T0 + 1, 600), 0);
	cr_assert_eq(look(U1, T0 + 2, &ref), CACHE_HIT);
	cr_assert_not_null(ref.entry);
	cr_assert_not(ref.refresh);
	const struct cache_entry *e = ref.entry;
	cr_assert_eq(e->url_len, strlen(U1));
	cr_assert(memcmp(e->url, U1, e->url_len) == 0);
	cr_assert_str_eq(e->spc, "1234");
	cr_assert_eq(e->tnauth.n, 1);
	cr_assert_eq(e->fetched_at, T0 + 1);
	cr_assert_eq(e->expires_at, T0 + 1 + 600);
	cr_assert_eq(e->not_after, T0 + 10 * 86400);

	/* the prepared key verifies a signature of the key */
	struct pp_signer s;
	uint8_t d[32], sig[PP_SIG_LEN];
	const char *msg = "header.claims";
	cr_assert_eq(pp_signer_evp(&s, key), 0);
	cr_assert_eq(pp_sha256(msg, strlen(msg), d), 0);
	cr_assert_eq(s.sign(s.ctx, d, sig), 0);
	cr_assert_eq(pp_es256_pub_verify(&e->pub, msg, strlen(msg), sig), 0);
	cr_assert_eq(pp_es256_pub_verify(&e->pub, msg, strlen(msg) - 1, sig), -EBADMSG);

	/* another URL is unaffected; bytes compared exactly (no normalization) */
	cr_assert_eq(look(U2, T0 + 2, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(look("https://CR.example.net/sti/1234.pem", T0 + 2, &ref),
		     CACHE_MISS_CLAIMED);
	cr_assert_eq(cache_lookup(c, U1, strlen(U1) - 1, T0 + 2, &ref), CACHE_MISS_CLAIMED);
}

Test(cache, hashed_lookup_matches_and_hash_is_seeded)
{
	struct cache_ref ref;
	struct cache *c2;
	mk(NULL);
	cr_assert_eq(pub(U1, T0, 600), 0);
	uint64_t h = cache_hash(c, U1, strlen(U1));
	cr_assert_eq(h, cache_hash(c, U1, strlen(U1)));
	cr_assert_neq(h, cache_hash(c, U2, strlen(U2)));
	cr_assert_eq(cache_lookup_hashed(c, h, U1, strlen(U1), T0, &ref), CACHE_HIT);
	cr_assert_eq(cache_create(NULL, &c2), 0);
	cr_assert_neq(h, cache_hash(c2, U1, strlen(U1)), "per-cache random seed");
	cache_destroy(c2);
}

Test(cache, expiry_is_max_age_clamped_and_never_past_not_after)
{
	struct cache_ref ref;
	struct cert_result r;
	mk(NULL);
	/* floor 60 */
	cr_assert_eq(pub("https://a.example/1", T0, 10), 0);
	cr_assert_eq(look("https://a.example/1", T0, &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at, T0 + 60);
	/* ceiling 24 h */
	cr_assert_eq(pub("https://a.example/2", T0, 10 * 86400), 0);
	cr_assert_eq(look("https://a.example/2", T0, &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at, T0 + 86400);
	/* no header: default 3600 */
	cr_assert_eq(pub("https://a.example/3", T0, -1), 0);
	cr_assert_eq(look("https://a.example/3", T0, &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at, T0 + 3600);
	/* notAfter first */
	r = good(T0 + 30);
	cr_assert_eq(cache_publish_cert(c, "https://a.example/4", 19, &r, T0, 600), 0);
	cr_assert_eq(look("https://a.example/4", T0 + 29, &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at, T0 + 30);
	cr_assert(ref.refresh, "past 80%% of its 30 s");
	cr_assert_eq(look("https://a.example/4", T0 + 30, &ref), CACHE_MISS_PENDING,
		     "expired, its refresh in flight");
	/* already past notAfter: negative, certificate expired */
	r = good(T0);
	cr_assert_eq(cache_publish_cert(c, "https://a.example/5", 19, &r, T0, 600), 1);
	cr_assert_eq(look("https://a.example/5", T0, &ref), CACHE_HIT_NEGATIVE);
	cr_assert_eq(ref.fail, CACHE_FAIL_CERT);
	cr_assert_eq(ref.detail, CERT_EXPIRED);

	/* expiry of 1: a hit until the last second, then one claim, then pending */
	cr_assert_eq(look("https://a.example/1", T0 + 44, &ref), CACHE_HIT);
	cr_assert_not(ref.refresh);
	cr_assert_eq(look("https://a.example/1", T0 + 60, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(look("https://a.example/1", T0 + 60, &ref), CACHE_MISS_PENDING);
	cr_assert_eq(pub("https://a.example/1", T0 + 61, 120), 0);
	cr_assert_eq(look("https://a.example/1", T0 + 61, &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at, T0 + 181);
}

Test(cache, custom_clamps_apply)
{
	struct cache_cfg cfg;
	struct cache_ref ref;
	cache_cfg_default(&cfg);
	cfg.ttl_floor_s = 300;
	cfg.ttl_ceiling_s = 900;
	mk(&cfg);
	cr_assert_eq(pub(U1, T0, 0), 0);
	cr_assert_eq(look(U1, T0, &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at, T0 + 300);
	cr_assert_eq(pub(U2, T0, 5000), 0);
	cr_assert_eq(look(U2, T0, &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at, T0 + 900);
}

Test(cache, refresh_ahead_claims_once_and_keeps_hitting)
{
	struct cache_ref ref;
	mk(NULL);
	cr_assert_eq(pub(U1, T0, 1000), 0);
	cr_assert_eq(look(U1, T0, &ref), CACHE_HIT);
	int64_t at = ref.entry->refresh_at;
	cr_assert(at >= T0 + 750 && at <= T0 + 800, "refresh at 80%% minus <= 5%% jitter: %lld",
		  (long long)(at - T0));
	cr_assert_eq(look(U1, at - 1, &ref), CACHE_HIT);
	cr_assert_not(ref.refresh);
	cr_assert_eq(look(U1, at, &ref), CACHE_HIT);
	cr_assert(ref.refresh, "first hit past refresh_at claims the refresh");
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(look(U1, at + i, &ref), CACHE_HIT);
		cr_assert_not(ref.refresh, "only one refresh claim");
	}
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.refresh_claims, 1);
	cr_assert_eq(st.flights, 1);
	/* the refresh publishes a new entry: no claim until its own refresh time */
	cr_assert_eq(pub(U1, at + 5, 1000), 0);
	cr_assert_eq(look(U1, at + 6, &ref), CACHE_HIT);
	cr_assert_not(ref.refresh);
	cr_assert_eq(ref.entry->fetched_at, at + 5);
	cache_stats(c, &st);
	cr_assert_eq(st.flights, 0);
	cr_assert_eq(st.entries, 1);
}

Test(cache, negative_entries_back_off_exponentially_and_reset_on_success)
{
	struct cache_ref ref;
	const int64_t want[] = { 5, 10, 20, 40, 80, 160, 300, 300 };
	int64_t now = T0;
	mk(NULL);
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int r = look(U1, now, &ref);
		cr_assert_eq(r, CACHE_MISS_CLAIMED, "round %u: %s", i, cache_result_str(r));
		cr_assert_eq(neg(U1, CACHE_FAIL_FETCH, now), 0);
		cr_assert_eq(look(U1, now, &ref), CACHE_HIT_NEGATIVE);
		cr_assert_eq(ref.fail, CACHE_FAIL_FETCH);
		cr_assert_eq(ref.retry_at - now, want[i], "round %u: ttl %lld", i,
			     (long long)(ref.retry_at - now));
		cr_assert_eq(look(U1, ref.retry_at - 1, &ref), CACHE_HIT_NEGATIVE);
		now = ref.retry_at;
	}
	cr_assert_eq(look(U1, now, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(pub(U1, now, 600), 0);
	cr_assert_eq(look(U1, now + 600, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(neg(U1, CACHE_FAIL_HTTP, now + 600), 0);
	cr_assert_eq(look(U1, now + 600, &ref), CACHE_HIT_NEGATIVE);
	cr_assert_eq(ref.retry_at, now + 605, "back-off reset by the success");
	cr_assert_eq(cache_fail_sip_code(ref.fail), 436);

	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.errors[CACHE_FAIL_FETCH], 8);
	cr_assert_eq(st.errors[CACHE_FAIL_HTTP], 1);
	cr_assert_eq(st.publishes_negative, 9);
	cr_assert_eq(st.negative_entries, 1);
}

Test(cache, rejected_certificate_is_a_437_negative_entry)
{
	struct cache_ref ref;
	struct cert_result r = good(T0 + 86400);
	mk(NULL);
	r.failed = CERT_UNTRUSTED;
	r.pkey = NULL;
	cr_assert_eq(cache_publish_cert(c, U1, strlen(U1), &r, T0, 600), 1);
	cr_assert_eq(look(U1, T0 + 1, &ref), CACHE_HIT_NEGATIVE);
	cr_assert_eq(ref.fail, CACHE_FAIL_CERT);
	cr_assert_eq(ref.detail, CERT_UNTRUSTED);
	cr_assert_eq(cache_fail_sip_code(ref.fail), 437);
	cr_assert_eq(cache_fail_sip_code(CACHE_FAIL_PARSE), 437);
	cr_assert_eq(cache_fail_sip_code(CACHE_FAIL_TOO_BIG), 436);
	cr_assert_eq(cache_fail_sip_code(CACHE_FAIL_URL), 436);
	cr_assert_eq(cache_fail_sip_code(CACHE_FAIL_NONE), 0);
	cr_assert_str_eq(cache_fail_str(CACHE_FAIL_FETCH), "fetch failed");
	cr_assert_str_eq(cache_fail_str(CACHE_FAIL_COUNT), "");
}

Test(cache, bad_arguments_are_refused)
{
	struct cache_ref ref;
	struct cache_cfg cfg;
	struct cert_result r = good(T0 + 86400);
	char big[CACHE_URL_MAX + 2];
	memset(big, 'a', sizeof(big));

	cache_cfg_default(&cfg);
	cfg.ttl_floor_s = 100;
	cfg.ttl_ceiling_s = 50;
	cr_assert_eq(cache_create(&cfg, &c), -EINVAL);
	cache_cfg_default(&cfg);
	cfg.refresh_pct = 101;
	cr_assert_eq(cache_create(&cfg, &c), -EINVAL);
	cache_cfg_default(&cfg);
	cfg.waiters_per_flight = CACHE_WAITERS_MAX + 1;
	cr_assert_eq(cache_create(&cfg, &c), -EINVAL);
	cr_assert_eq(cache_create(NULL, NULL), -EINVAL);
	mk(NULL);
	cr_assert_eq(cache_lookup(c, U1, 0, T0, &ref), -EINVAL);
	cr_assert_eq(cache_lookup(c, NULL, 3, T0, &ref), -EINVAL);
	cr_assert_eq(cache_lookup(c, U1, 3, T0, NULL), -EINVAL);
	cr_assert_eq(cache_lookup(c, big, CACHE_URL_MAX + 1, T0, &ref), -ENAMETOOLONG);
	cr_assert_eq(cache_lookup(c, big, CACHE_URL_MAX, T0, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(cache_publish_cert(c, big, CACHE_URL_MAX + 1, &r, T0, 60), -ENAMETOOLONG);
	cr_assert_eq(cache_publish_cert(c, big, CACHE_URL_MAX, &r, T0, 60), 0);
	cr_assert_eq(cache_lookup(c, big, CACHE_URL_MAX, T0, &ref), CACHE_HIT);
	cr_assert_eq(cache_publish_negative(c, U1, strlen(U1), CACHE_FAIL_NONE, 0, T0), -EINVAL);
	cr_assert_eq(cache_publish_negative(c, U1, strlen(U1), CACHE_FAIL_COUNT, 0, T0), -EINVAL);
	r.pkey = NULL;
	cr_assert_eq(cache_publish_cert(c, U1, strlen(U1), &r, T0, 60), -EINVAL);
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	r.pkey = p384;
	cr_assert_eq(cache_publish_cert(c, U1, strlen(U1), &r, T0, 60), -EINVAL);
	EVP_PKEY_free(p384);
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_CLAIMED, "nothing was published");
	struct cache_waiter w = { NULL, 1 };
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w), -EINVAL);
}

Test(cache, eviction_by_entries_keeps_the_recently_used)
{
	struct cache_cfg cfg;
	struct cache_ref ref;
	char url[64];
	cache_cfg_default(&cfg);
	cfg.max_entries = 4;
	mk(&cfg);
	for (int i = 0; i < 4; i++) {
		snprintf(url, sizeof(url), "https://e.example/%d", i);
		cr_assert_eq(pub(url, T0, 3600), 0);
	}
	/* use 0, 1, 3 later; 2 is the least recently used */
	for (int i = 0; i < 4; i++) {
		if (i == 2)
			continue;
		snprintf(url, sizeof(url), "https://e.example/%d", i);
		cr_assert_eq(look(url, T0 + 10, &ref), CACHE_HIT);
	}
	cr_assert_eq(pub("https://e.example/4", T0 + 11, 3600), 0);
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.entries, 4);
	cr_assert_eq(st.evictions, 1);
	cr_assert_eq(look("https://e.example/2", T0 + 12, &ref), CACHE_MISS_CLAIMED);
	for (int i = 0; i < 5; i++) {
		if (i == 2)
			continue;
		snprintf(url, sizeof(url), "https://e.example/%d", i);
		cr_assert_eq(look(url, T0 + 12, &ref), CACHE_HIT, "%s kept", url);
	}
}

Test(cache, eviction_by_bytes_holds_the_bound)
{
	struct cache_cfg cfg;
	struct cache_ref ref;
	char url[64];
	cache_cfg_default(&cfg);
	mk(&cfg);
	cr_assert_eq(pub("https://b.example/x", T0, 3600), 0);
	struct cache_stats st;
	cache_stats(c, &st);
	uint64_t one = st.bytes;
	cr_assert(one > 1000, "an entry accounts its node and key: %llu", (unsigned long long)one);
	cache_destroy(c);
	c = NULL;

	cfg.max_bytes = 3 * one + one / 2;
	mk(&cfg);
	for (int i = 0; i < 20; i++) {
		snprintf(url, sizeof(url), "https://b.example/%d", i % 10);
		cr_assert_eq(pub(url, T0 + i, 3600), 0);
		cache_stats(c, &st);
		cr_assert_leq(st.bytes, cfg.max_bytes);
		cr_assert_leq(st.entries, 3);
	}
	cr_assert_eq(st.entries, 3);
	cr_assert_geq(st.evictions, 7);
	/* the newest survive */
	cr_assert_eq(look("https://b.example/9", T0 + 30, &ref), CACHE_HIT);
	cr_assert_eq(look("https://b.example/8", T0 + 30, &ref), CACHE_HIT);
}

Test(cache, entries_in_flight_are_not_evicted)
{
	struct cache_cfg cfg;
	struct cache_ref ref;
	cache_cfg_default(&cfg);
	cfg.max_entries = 1;
	mk(&cfg);
	cr_assert_eq(pub(U1, T0, 100), 0);
	cr_assert_eq(look(U1, T0 + 100, &ref), CACHE_MISS_CLAIMED); /* expired, claimed */
	cr_assert_eq(pub(U2, T0 + 100, 100), 0);
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.entries, 2, "over the bound while U1 is in flight");
	cr_assert_eq(pub(U1, T0 + 101, 100), 0);
	cache_stats(c, &st);
	cr_assert_eq(st.entries, 1);
	cr_assert_eq(look(U1, T0 + 101, &ref), CACHE_HIT);
}

Test(cache, flight_pool_exhaustion_is_busy)
{
	struct cache_cfg cfg;
	struct cache_ref ref;
	cache_cfg_default(&cfg);
	cfg.max_flights = 2;
	mk(&cfg);
	cr_assert_eq(look("https://f.example/1", T0, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(look("https://f.example/2", T0, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(look("https://f.example/3", T0, &ref), CACHE_BUSY);
	cr_assert_eq(look("https://f.example/1", T0, &ref), CACHE_MISS_PENDING);
	cr_assert_eq(pub("https://f.example/1", T0, 60), 0);
	/* the flight returns to the pool after a grace period */
	cache_quiescent();
	int r = CACHE_BUSY;
	for (int i = 0; i < 2000 && r == CACHE_BUSY; i++) {
		cache_thread_offline();
		usleep(1000);
		cache_thread_online();
		r = look("https://f.example/3", T0, &ref);
	}
	cr_assert_eq(r, CACHE_MISS_CLAIMED);
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_geq(st.busy, 1);
	cr_assert_eq(st.flights, 2);
}

static struct hsm_ring *ring(void)
{
	struct hsm_ring *r;
	cr_assert_eq(hsm_ring_create(64, sizeof(struct cache_wake), &r), 0);
	return r;
}

Test(cache, waiters_are_woken_with_the_outcome)
{
	struct cache_ref ref;
	struct hsm_ring *r1 = ring(), *r2 = ring();
	struct cache_wake wk[4];
	mk(NULL);
	struct cache_waiter w1 = { r1, 11 }, w2 = { r2, 22 }, w3 = { r2, 33 };
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w1), -EAGAIN, "nothing in flight");
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w1), 0);
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w2), 0);
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w3), 0);
	cr_assert_eq(hsm_ring_count(r1), 0);
	cr_assert_eq(neg(U1, CACHE_FAIL_TOO_BIG, T0), 0);
	cr_assert_eq(hsm_ring_dequeue_burst(r1, wk, 4), 1);
	cr_assert_eq(wk[0].cookie, 11);
	cr_assert_eq(wk[0].result, CACHE_HIT_NEGATIVE);
	cr_assert_eq(wk[0].fail, CACHE_FAIL_TOO_BIG);
	cr_assert_eq(hsm_ring_dequeue_burst(r2, wk, 4), 2);
	cr_assert_eq(wk[0].cookie + wk[1].cookie, 55);
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w1), -EAGAIN, "completed");

	/* on an expired negative entry: the claim attaches to it */
	cr_assert_eq(look(U1, T0 + 5, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w1), 0);
	cr_assert_eq(pub(U1, T0 + 6, 60), 0);
	cr_assert_eq(hsm_ring_dequeue_burst(r1, wk, 4), 1);
	cr_assert_eq(wk[0].result, CACHE_HIT);
	cr_assert_eq(look(U1, T0 + 6, &ref), CACHE_HIT);
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.waits, 4);
	cr_assert_eq(st.wakes, 4);
	cr_assert_eq(st.wake_dropped, 0);
	hsm_ring_destroy(r1);
	hsm_ring_destroy(r2);
}

Test(cache, waiter_limit_and_full_ring_are_counted)
{
	struct cache_cfg cfg;
	struct cache_ref ref;
	struct hsm_ring *r;
	cache_cfg_default(&cfg);
	cfg.waiters_per_flight = 3;
	mk(&cfg);
	cr_assert_eq(hsm_ring_create(2, sizeof(struct cache_wake), &r), 0);
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_CLAIMED);
	for (uint64_t i = 0; i < 3; i++) {
		struct cache_waiter w = { r, i };
		cr_assert_eq(cache_wait(c, U1, strlen(U1), &w), 0);
	}
	struct cache_waiter w = { r, 9 };
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w), -ENOSPC);
	cr_assert_eq(pub(U1, T0, 60), 0);
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.waits, 3);
	cr_assert_eq(st.waits_full, 1);
	cr_assert_eq(st.wakes, 2);
	cr_assert_eq(st.wake_dropped, 1);
	hsm_ring_destroy(r);
}

Test(cache, released_and_timed_out_claims_are_cancelled)
{
	struct cache_ref ref;
	struct hsm_ring *r = ring();
	struct cache_wake wk;
	mk(NULL);
	cr_assert_eq(cache_claim_release(c, U1, strlen(U1)), -ENOENT);
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_CLAIMED);
	struct cache_waiter w = { r, 7 };
	cr_assert_eq(cache_wait(c, U1, strlen(U1), &w), 0);
	cr_assert_eq(cache_claim_release(c, U1, strlen(U1)), 0);
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_PENDING, "until maintenance runs");
	cr_assert_eq(cache_maintain(c, T0, 0), 1);
	cr_assert_eq(hsm_ring_dequeue_burst(r, &wk, 1), 1);
	cr_assert_eq(wk.cookie, 7);
	cr_assert_eq(wk.result, CACHE_CANCELLED);
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_CLAIMED, "claimable again");

	/* timeout (default 10 s) */
	cr_assert_eq(cache_maintain(c, T0 + 9, 0), 0);
	cr_assert_eq(look(U1, T0 + 9, &ref), CACHE_MISS_PENDING);
	cr_assert_eq(cache_maintain(c, T0 + 10, 0), 1);
	cr_assert_eq(look(U1, T0 + 10, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(pub(U1, T0 + 10, 600), 0);

	/* a refresh claim on an entry: released, then cancelled; the entry stays */
	cr_assert_eq(pub(U2, T0, 100), 0);
	cr_assert_eq(look(U2, T0 + 90, &ref), CACHE_HIT);
	cr_assert(ref.refresh);
	cr_assert_eq(cache_claim_release(c, U2, strlen(U2)), 0);
	cr_assert_eq(cache_maintain(c, T0 + 90, 0), 1);
	cr_assert_eq(look(U2, T0 + 91, &ref), CACHE_HIT);
	cr_assert(ref.refresh, "the refresh can be claimed again");

	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.flights_cancelled, 3);
	hsm_ring_destroy(r);
}

Test(cache, maintain_expires_entries_and_forgets_lapsed_negatives)
{
	struct cache_ref ref;
	struct cache_stats st;
	mk(NULL);
	cr_assert_eq(pub(U1, T0, 100), 0);
	cr_assert_eq(neg(U2, CACHE_FAIL_FETCH, T0), 0); /* retry at T0 + 5 */
	cr_assert_eq(cache_maintain(c, T0 + 99, 0), 0);
	cr_assert_eq(cache_maintain(c, T0 + 100, 0), 1);
	cache_stats(c, &st);
	cr_assert_eq(st.entries, 1);
	cr_assert_eq(st.expirations, 1);
	/* the negative entry is kept (its back-off remembered) for neg_ttl_max_s after it lapses */
	cr_assert_eq(cache_maintain(c, T0 + 304, 0), 0);
	cr_assert_eq(cache_maintain(c, T0 + 305, 0), 1);
	cache_stats(c, &st);
	cr_assert_eq(st.entries, 0);
	cr_assert_eq(st.negative_entries, 0);
	cr_assert_eq(st.bytes, 0);
	cr_assert_eq(look(U1, T0 + 305, &ref), CACHE_MISS_CLAIMED);
}

Test(cache, invalidate_removes_an_entry)
{
	struct cache_ref ref;
	mk(NULL);
	cr_assert_eq(cache_invalidate(c, U1, strlen(U1)), -ENOENT);
	cr_assert_eq(pub(U1, T0, 100), 0);
	cr_assert_eq(cache_invalidate(c, U1, strlen(U1)), 0);
	cr_assert_eq(look(U1, T0, &ref), CACHE_MISS_CLAIMED);
	cr_assert_eq(cache_invalidate(c, U1, strlen(U1)), -EBUSY);
}

Test(cache, stats_count_each_outcome)
{
	struct cache_ref ref;
	struct cache_stats st;
	mk(NULL);
	(void)look(U1, T0, &ref);         /* claimed */
	(void)look(U1, T0, &ref);         /* pending */
	cr_assert_eq(pub(U1, T0, 600), 0);
	for (int i = 0; i < 5; i++)
		(void)look(U1, T0, &ref); /* hits */
	cr_assert_eq(neg(U2, CACHE_FAIL_PARSE, T0), 0);
	(void)look(U2, T0, &ref);         /* negative hit */
	cache_stats(c, &st);
	cr_assert_eq(st.lookups, 8);
	cr_assert_eq(st.hits, 5);
	cr_assert_eq(st.hits_negative, 1);
	cr_assert_eq(st.misses, 2);
	cr_assert_eq(st.claims, 1);
	cr_assert_eq(st.pending, 1);
	cr_assert_eq(st.publishes, 1);
	cr_assert_eq(st.publishes_negative, 1);
	cr_assert_eq(st.errors[CACHE_FAIL_PARSE], 1);
	cr_assert_eq(st.entries, 2);
	cr_assert_eq(st.negative_entries, 1);
	cr_assert_eq(st.flights, 0);
	cr_assert_gt(st.bytes, 0);
}

/* ---- single flight across threads ---- */

#define SF_THREADS 16

struct sf {
	pthread_barrier_t go, looked;
	int result[SF_THREADS];
	int waited[SF_THREADS];
	struct hsm_ring *ring[SF_THREADS];
	int reg[SF_THREADS];
};

struct sf_arg {
	struct sf *sf;
	int i;
};

static void *sf_thread(void *p)
{
	struct sf_arg *a = p;
	struct sf *sf = a->sf;
	struct cache_ref ref;
	sf->reg[a->i] = cache_thread_register();
	pthread_barrier_wait(&sf->go);
	sf->result[a->i] = cache_lookup(c, U1, strlen(U1), T0, &ref);
	if (sf->result[a->i] == CACHE_MISS_PENDING) {
		struct cache_waiter w = { sf->ring[a->i], 1000 + (uint64_t)a->i };
		sf->waited[a->i] = cache_wait(c, U1, strlen(U1), &w);
	}
	cache_thread_offline();
	pthread_barrier_wait(&sf->looked);
	cache_thread_online();
	cache_thread_unregister();
	return NULL;
}

Test(cache, single_flight_many_threads_one_claim_all_woken)
{
	struct sf sf;
	struct sf_arg args[SF_THREADS];
	pthread_t th[SF_THREADS];
	mk(NULL);
	memset(&sf, 0, sizeof(sf));
	pthread_barrier_init(&sf.go, NULL, SF_THREADS);
	pthread_barrier_init(&sf.looked, NULL, SF_THREADS + 1);
	for (int i = 0; i < SF_THREADS; i++) {
		sf.ring[i] = ring();
		args[i] = (struct sf_arg){ &sf, i };
		cr_assert_eq(pthread_create(&th[i], NULL, sf_thread, &args[i]), 0);
	}
	cache_thread_offline();
	pthread_barrier_wait(&sf.looked);
	cache_thread_online();
	int claimed = 0, pending = 0;
	for (int i = 0; i < SF_THREADS; i++) {
		cr_assert_eq(sf.reg[i], 0);
		if (sf.result[i] == CACHE_MISS_CLAIMED)
			claimed++;
		else if (sf.result[i] == CACHE_MISS_PENDING && sf.waited[i] == 0)
			pending++;
	}
	cr_assert_eq(claimed, 1, "exactly one claim");
	cr_assert_eq(pending, SF_THREADS - 1, "every other thread waits");
	cr_assert_eq(pub(U1, T0, 600), 0);
	for (int i = 0; i < SF_THREADS; i++) {
		pthread_join(th[i], NULL);
		struct cache_wake wk;
		if (sf.result[i] == CACHE_MISS_PENDING) {
			cr_assert_eq(hsm_ring_dequeue_burst(sf.ring[i], &wk, 1), 1);
			cr_assert_eq(wk.cookie, 1000 + (uint64_t)i);
			cr_assert_eq(wk.result, CACHE_HIT);
		}
		hsm_ring_destroy(sf.ring[i]);
	}
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.claims, 1);
	cr_assert_eq(st.wakes, SF_THREADS - 1);
	pthread_barrier_destroy(&sf.go);
	pthread_barrier_destroy(&sf.looked);
}

Test(cache, failed_refresh_keeps_the_entry_and_backs_off)
{
	struct cache_ref ref;
	mk(NULL);
	cr_assert_eq(pub(U1, T0, 1000), 0);
	cr_assert_eq(look(U1, T0 + 900, &ref), CACHE_HIT);
	cr_assert(ref.refresh);
	cr_assert_eq(neg(U1, CACHE_FAIL_FETCH, T0 + 901), 0);
	cr_assert_eq(look(U1, T0 + 901, &ref), CACHE_HIT, "still served");
	cr_assert_not(ref.refresh, "refresh backed off");
	cr_assert_eq(look(U1, T0 + 905, &ref), CACHE_HIT);
	cr_assert_not(ref.refresh);
	cr_assert_eq(look(U1, T0 + 906, &ref), CACHE_HIT);
	cr_assert(ref.refresh, "after 5 s");
	cr_assert_eq(neg(U1, CACHE_FAIL_HTTP, T0 + 906), 0);
	cr_assert_eq(look(U1, T0 + 915, &ref), CACHE_HIT);
	cr_assert_not(ref.refresh);
	cr_assert_eq(look(U1, T0 + 916, &ref), CACHE_HIT);
	cr_assert(ref.refresh, "after 10 s");
	/* at expiry the miss and its failure give a negative entry */
	cr_assert_eq(look(U1, T0 + 1000, &ref), CACHE_MISS_PENDING, "refresh still in flight");
	cr_assert_eq(neg(U1, CACHE_FAIL_FETCH, T0 + 1000), 0);
	cr_assert_eq(look(U1, T0 + 1000, &ref), CACHE_HIT_NEGATIVE);
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.errors[CACHE_FAIL_FETCH], 2);
	cr_assert_eq(st.errors[CACHE_FAIL_HTTP], 1);
}

/* A burst gives, element by element, what as many single lookups would have given. */
Test(cache, burst_matches_single_lookups_in_order)
{
	static const char *const u[] = {
		U1, /* valid */
		"https://neg.example/x.pem", /* negative */
		U2, /* unknown: first claims */
		U2, /* then pending */
		"https://cr.example.net/sti/1234.pe", /* a prefix of U1: unknown */
		NULL,
		U1,
		"https://long.example/", /* len > CACHE_URL_MAX below */
		"https://x.example/z", /* len 0 below */
	};
	enum { N = sizeof(u) / sizeof(u[0]) };
	size_t lens[N];
	uint64_t hashes[N];
	struct cache_ref refs[N];
	int rcs[N];
	mk(NULL);
	cr_assert_eq(pub(U1, T0, 600), 0);
	cr_assert_eq(neg("https://neg.example/x.pem", CACHE_FAIL_HTTP, T0), 0);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < N; i++) {
			lens[i] = u[i] ? strlen(u[i]) : 5;
			hashes[i] = u[i] ? cache_hash(c, u[i], lens[i]) : 0;
		}
		lens[7] = CACHE_URL_MAX + 1;
		lens[8] = 0;
		memset(refs, 0xa5, sizeof(refs));
		cr_assert_eq(cache_lookup_burst(c, pass ? NULL : hashes, u, lens, N, T0 + 1, refs,
						rcs),
			     N);
		cr_assert_eq(rcs[0], CACHE_HIT);
		cr_assert_not_null(refs[0].entry);
		cr_assert(refs[0].entry->url_len == strlen(U1) &&
			  memcmp(refs[0].entry->url, U1, strlen(U1)) == 0);
		cr_assert_not(refs[0].refresh);
		cr_assert_eq(rcs[1], CACHE_HIT_NEGATIVE);
		cr_assert_null(refs[1].entry);
		cr_assert_eq(refs[1].fail, CACHE_FAIL_HTTP);
		cr_assert_eq(refs[1].retry_at, T0 + 5);
		/* pass 0 claims U2 and the prefix; pass 1 finds both pending */
		cr_assert_eq(rcs[2], pass ? CACHE_MISS_PENDING : CACHE_MISS_CLAIMED);
		cr_assert_eq(rcs[3], CACHE_MISS_PENDING);
		cr_assert_eq(rcs[4], pass ? CACHE_MISS_PENDING : CACHE_MISS_CLAIMED);
		cr_assert_null(refs[4].entry);
		cr_assert_eq(rcs[5], -EINVAL);
		cr_assert_eq(rcs[6], CACHE_HIT);
		cr_assert_eq(refs[6].entry, refs[0].entry);
		cr_assert_eq(rcs[7], -ENAMETOOLONG);
		cr_assert_eq(rcs[8], -EINVAL);
	}
	struct cache_stats st;
	cache_stats(c, &st);
	cr_assert_eq(st.lookups, 2 * 6);
	cr_assert_eq(st.hits, 4);
	cr_assert_eq(st.hits_negative, 2);
	cr_assert_eq(st.claims, 2);
	cr_assert_eq(st.pending, 4);

	/* the burst serves refresh claims exactly once, as single lookups do */
	int64_t at = refs[0].entry->refresh_at;
	const char *one[2] = { U1, U1 };
	size_t ol[2] = { strlen(U1), strlen(U1) };
	cr_assert_eq(cache_lookup_burst(c, NULL, one, ol, 2, at, refs, rcs), 2);
	cr_assert_eq(rcs[0], CACHE_HIT);
	cr_assert_eq(rcs[1], CACHE_HIT);
	cr_assert(refs[0].refresh);
	cr_assert_not(refs[1].refresh);
	/* expired: a miss that claims (the refresh claim is still in flight: pending) */
	cr_assert_eq(cache_lookup_burst(c, NULL, one, ol, 1, T0 + 600, refs, rcs), 1);
	cr_assert_eq(rcs[0], CACHE_MISS_PENDING);
}

Test(cache, burst_bad_arguments_and_long_bursts)
{
	const char *u[200];
	size_t l[200];
	uint64_t h[200];
	struct cache_ref refs[200];
	int rcs[200];
	char buf[200][48];
	mk(NULL);
	cr_assert_eq(cache_lookup_burst(NULL, NULL, u, l, 1, T0, refs, rcs), -EINVAL);
	cr_assert_eq(cache_lookup_burst(c, NULL, NULL, l, 1, T0, refs, rcs), -EINVAL);
	cr_assert_eq(cache_lookup_burst(c, NULL, u, NULL, 1, T0, refs, rcs), -EINVAL);
	cr_assert_eq(cache_lookup_burst(c, NULL, u, l, 1, T0, NULL, rcs), -EINVAL);
	cr_assert_eq(cache_lookup_burst(c, NULL, u, l, 1, T0, refs, NULL), -EINVAL);
	cr_assert_eq(cache_lookup_burst(c, NULL, u, l, 0, T0, refs, rcs), 0);
	/* more than CACHE_BURST_MAX: handled in chunks, every element answered */
	for (int i = 0; i < 200; i++) {
		snprintf(buf[i], sizeof(buf[i]), "https://b.example/%d.pem", i);
		u[i] = buf[i];
		l[i] = strlen(buf[i]);
		h[i] = cache_hash(c, u[i], l[i]);
		if (i % 2 == 0)
			cr_assert_eq(pub(u[i], T0, 600), 0);
	}
	cr_assert_eq(cache_lookup_burst(c, h, u, l, 200, T0 + 1, refs, rcs), 200);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(rcs[i], i % 2 ? CACHE_MISS_CLAIMED : CACHE_HIT, "element %d", i);
		if (i % 2 == 0)
			cr_assert(memcmp(refs[i].entry->url, u[i], l[i]) == 0);
	}
}

/*
 * Many entries in a small table (buckets of the hot index overflow), replaced, invalidated,
 * evicted and republished: every lookup, single or burst, sees the current entry, never a
 * replaced or removed one.
 */
Test(cache, lookups_follow_replacement_and_removal)
{
	enum { M = 600 };
	static char buf[M][48];
	const char *u[M];
	size_t l[M];
	struct cache_ref refs[M];
	int rcs[M];
	struct cache_cfg cfg;
	cache_cfg_default(&cfg);
	cfg.max_entries = M;
	mk(&cfg);
	for (int i = 0; i < M; i++) {
		snprintf(buf[i], sizeof(buf[i]), "https://r.example/%d.pem", i);
		u[i] = buf[i];
		l[i] = strlen(buf[i]);
		cr_assert_eq(pub(u[i], T0, 600), 0);
	}
	for (int round = 0; round < 3; round++) {
		int64_t now = T0 + 10 * (round + 1);
		/* republish a third with a new SPC, make a third negative, remove a third */
		for (int i = 0; i < M; i++) {
			if (i % 3 == 0) {
				struct cert_result r = good(T0 + 10 * 86400);
				snprintf(r.spc, sizeof(r.spc), "%d", round);
				cr_assert_eq(cache_publish_cert(c, u[i], l[i], &r, now, 600), 0);
			} else if (i % 3 == 1) {
				/* removed first: a failure would otherwise keep a valid entry */
				int r = cache_invalidate(c, u[i], l[i]);
				cr_assert(r == 0 || r == -ENOENT);
				cr_assert_eq(cache_publish_negative(c, u[i], l[i], CACHE_FAIL_FETCH,
								    round, now),
					     0);
			} else {
				cr_assert_eq(cache_invalidate(c, u[i], l[i]), 0);
			}
		}
		cr_assert_eq(cache_lookup_burst(c, NULL, u, l, M, now, refs, rcs), M);
		for (int i = 0; i < M; i++) {
			struct cache_ref one;
			int r1 = cache_lookup(c, u[i], l[i], now, &one);
			if (i % 3 == 0) {
				char want[8];
				snprintf(want, sizeof(want), "%d", round);
				cr_assert_eq(rcs[i], CACHE_HIT, "%s", u[i]);
				cr_assert_str_eq(refs[i].entry->spc, want);
				cr_assert_eq(r1, CACHE_HIT);
				cr_assert_eq(one.entry, refs[i].entry);
			} else if (i % 3 == 1) {
				cr_assert_eq(rcs[i], CACHE_HIT_NEGATIVE, "%s", u[i]);
				cr_assert_eq(refs[i].detail, round);
				cr_assert_eq(r1, CACHE_HIT_NEGATIVE);
			} else {
				cr_assert_eq(rcs[i], CACHE_MISS_CLAIMED, "%s", u[i]);
				cr_assert_eq(r1, CACHE_MISS_PENDING);
				cr_assert_eq(pub(u[i], now, 600), 0);
			}
		}
		cache_quiescent();
	}
	/* cache_maintain() keeps every survivor reachable; the negative entries have lapsed (5 s):
	 * their nodes are claimed in place */
	cr_assert_geq(cache_maintain(c, T0 + 40, 0), 0);
	cr_assert_eq(cache_lookup_burst(c, NULL, u, l, M, T0 + 40, refs, rcs), M);
	for (int i = 0; i < M; i++)
		cr_assert_eq(rcs[i], i % 3 == 1 ? CACHE_MISS_CLAIMED : CACHE_HIT, "%s", u[i]);
}
