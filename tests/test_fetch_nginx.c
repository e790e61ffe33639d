/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The x5u fetcher and the certificate cache against nginx over TLS on loopback (set up by
 * tests/certfetch.sh, which exports CERTFETCH_DIR): hit, miss, Cache-Control, expiry,
 * refresh, 404, slow server, oversized body, redirects, PEM with an intermediate, every
 * shaken-pki certificate variant with its outcome (revocation through the CRL fetched from
 * the certificate's distribution point), single flight (one nginx request for many parked
 * callers), the SSRF guard and host lists, trust reload, and the blocking fetch_x5u_sync().
 * Without CERTFETCH_DIR every test is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "dataplane/certcache/cache.h"
#include "dataplane/certcache/fetch.h"
#include "hsm/ring.h"

#define BASE "https://127.0.0.1:8443"

static const char *dir;
static char trust[512], signer[512], tls_ca[512];
static const char *const allow[] = { "127.0.0.1" };
static const uint16_t ports[] = { 8443, 8444 };
static struct cache *cache;
static struct fetch *fetcher;
static struct hsm_ring *wakes;

static void base_cfg(struct fetch_cfg *cfg, struct cache_cfg *cc)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->x5u.allow_hosts = allow;
	cfg->x5u.n_allow_hosts = 1;
	cfg->x5u.ports = ports;
	cfg->x5u.n_ports = 2;
	cfg->x5u.ca_file = tls_ca;
	cfg->x5u.timeout_ms = 1500;
	cfg->trust_path = trust;
	cfg->crl_signer_path = signer;
	cfg->n_threads = 2;
	cache_cfg_default(cc);
	cc->ttl_floor_s = 5;
	cc->ttl_default_s = 3600;
}

static void start(const struct fetch_cfg *cfg, const struct cache_cfg *cc)
{
	cr_assert_eq(cache_create(cc, &cache), 0);
	cr_assert_eq(fetch_create(cfg, cache, &fetcher), 0);
	cr_assert_eq(hsm_ring_create(256, sizeof(struct cache_wake), &wakes), 0);
	cr_assert_eq(cache_thread_register(), 0);
}

static void start_default(void)
{
	struct fetch_cfg cfg;
	struct cache_cfg cc;

	base_cfg(&cfg, &cc);
	start(&cfg, &cc);
}

static void setup(void)
{
	dir = getenv("CERTFETCH_DIR");
	if (dir == NULL)
		cr_skip_test("CERTFETCH_DIR not set (run tests/certfetch.sh)");
	snprintf(trust, sizeof(trust), "%s/pki/ca-root.pem", dir);
	snprintf(signer, sizeof(signer), "%s/pki/sti-pa.pem", dir);
	snprintf(tls_ca, sizeof(tls_ca), "%s/tls-ca.pem", dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
	cache_thread_offline();
	fetch_destroy(fetcher);
	cache_thread_unregister();
	cache_destroy(cache);
	hsm_ring_destroy(wakes);
	fetcher = NULL;
	cache = NULL;
	wakes = NULL;
}

TestSuite(certfetch, .init = setup, .fini = teardown, .timeout = 60);

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (offline) for n wakes; returns how many arrived within ms. */
static unsigned wait_wakes(unsigned n, int64_t ms, struct cache_wake *out)
{
	int64_t until = ms_now() + ms;
	unsigned got = 0;

	while (got < n && ms_now() < until) {
		got += hsm_ring_dequeue_burst(wakes, out + got, n - got);
		if (got < n) {
			cache_thread_offline();
			usleep(2000);
			cache_thread_online();
		}
	}
	return got;
}

/* Looks url up at now; when parked, waits for the wake and looks up again. */
static int get_at(const char *url, int64_t now, struct cache_ref *ref)
{
	struct cache_waiter w = { .ring = wakes, .cookie = 7 };
	struct cache_wake wk;
	bool waiting = false;
	int rc;

	cache_quiescent();
	rc = fetch_lookup(fetcher, url, strlen(url), now, &w, ref, &waiting);
	if (rc != CACHE_MISS_CLAIMED && rc != CACHE_MISS_PENDING)
		return rc;
	cr_assert(waiting, "%s: parked without a wait", url);
	cr_assert_eq(wait_wakes(1, 10000, &wk), 1, "%s: no wake", url);
	cr_assert_eq(wk.cookie, 7);
	cache_quiescent();
	return cache_lookup(cache, url, strlen(url), now, ref);
}

static int get(const char *url, struct cache_ref *ref)
{
	return get_at(url, (int64_t)time(NULL), ref);
}

/* Lines of nginx's access log whose request URI is path. */
static unsigned log_count(const char *path)
{
	char fn[600], line[1024];
	unsigned n = 0;
	size_t pl = strlen(path);
	FILE *fp;

	snprintf(fn, sizeof(fn), "%s/logs/access.log", dir);
	fp = fopen(fn, "r");
	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, path, pl) == 0 && line[pl] == ' ')
			n++;
	fclose(fp);
	return n;
}

static struct fetch_stats stats(void)
{
	struct fetch_stats s;

	fetch_stats(fetcher, &s);
	return s;
}

static void expect_negative(const char *url, enum cache_fail fail, int detail, int sip)
{
	struct cache_ref ref;
	int rc = get(url, &ref);

	cr_assert_eq(rc, CACHE_HIT_NEGATIVE, "%s: %s", url, cache_result_str(rc));
	cr_assert_eq(ref.fail, fail, "%s: %s", url, cache_fail_str(ref.fail));
	if (detail != 0)
		cr_assert_eq(ref.detail, detail, "%s: detail %d", url, ref.detail);
	cr_assert_eq(cache_fail_sip_code(ref.fail), sip);
}

Test(certfetch, miss_then_hit_with_intermediate)
{
	struct cache_ref ref;
	unsigned before = log_count("/plain/leaf-chain.pem");

	start_default();
	cr_assert_eq(get(BASE "/plain/leaf-chain.pem", &ref), CACHE_HIT);
	cr_assert_not_null(ref.entry);
	cr_assert_str_eq(ref.entry->spc, "1234");
	cr_assert_gt(ref.entry->not_after, time(NULL));
	cr_assert_eq(ref.entry->warned, 0);
	/* the second lookup is a hit straight away: no fetch */
	cache_quiescent();
	cr_assert_eq(cache_lookup(cache, BASE "/plain/leaf-chain.pem",
				  strlen(BASE "/plain/leaf-chain.pem"), time(NULL), &ref),
		     CACHE_HIT);
	cr_assert_eq(stats().fetches, 1);
	cr_assert_eq(stats().published, 1);
	cr_assert_eq(log_count("/plain/leaf-chain.pem"), before + 1);
	cr_assert_geq(stats().crl_ok, 1, "the CRL of the distribution point was fetched");
}

Test(certfetch, not_found_is_negative_436)
{
	start_default();
	expect_negative(BASE "/sp/missing.pem", CACHE_FAIL_HTTP, 404, 436);
	/* negative hit: no second fetch */
	cr_assert_eq(get(BASE "/sp/missing.pem", &(struct cache_ref){ 0 }), CACHE_HIT_NEGATIVE);
	cr_assert_eq(stats().fetches, 1);
	cr_assert_eq(stats().fetch_err[X5U_HTTP_STATUS], 1);
}

Test(certfetch, slow_server_times_out)
{
	struct fetch_cfg cfg;
	struct cache_cfg cc;
	int64_t t0;

	base_cfg(&cfg, &cc);
	cfg.x5u.timeout_ms = 500;
	start(&cfg, &cc);
	t0 = ms_now();
	expect_negative("https://127.0.0.1:8444/slow.pem", CACHE_FAIL_FETCH, -ETIMEDOUT, 436);
	cr_assert_lt(ms_now() - t0, 3000);
	cr_assert_eq(stats().fetch_err[X5U_TIMEOUT], 1);
}

Test(certfetch, oversized_body)
{
	start_default();
	expect_negative(BASE "/big.pem", CACHE_FAIL_TOO_BIG, 0, 436);
}

Test(certfetch, body_not_a_certificate_437)
{
	start_default();
	expect_negative(BASE "/notcert.txt", CACHE_FAIL_PARSE, 0, 437);
	cr_assert_eq(stats().parse_err, 1);
}

Test(certfetch, redirect_refused_by_default)
{
	start_default();
	expect_negative(BASE "/redirect.pem", CACHE_FAIL_HTTP, 302, 436);
	cr_assert_eq(stats().redirects, 0);
}

Test(certfetch, one_redirect_when_configured)
{
	struct fetch_cfg cfg;
	struct cache_cfg cc;
	struct cache_ref ref;

	base_cfg(&cfg, &cc);
	cfg.max_redirects = 1;
	start(&cfg, &cc);
	cr_assert_eq(get(BASE "/redirect.pem", &ref), CACHE_HIT);
	cr_assert_eq(get(BASE "/redirect-rel.pem", &ref), CACHE_HIT);
	cr_assert_eq(stats().redirects, 2);
	/* to http: refused; a second hop: not followed */
	expect_negative(BASE "/redirect-http.pem", CACHE_FAIL_URL, 0, 436);
	expect_negative(BASE "/redirect-twice.pem", CACHE_FAIL_HTTP, 302, 436);
}

Test(certfetch, certificate_variants)
{
	static const struct {
		const char *file;
		enum cert_check want;
	} v[] = {
		{ "leaf-expired-chain.pem", CERT_EXPIRED },
		{ "leaf-notyet-chain.pem", CERT_NOT_YET_VALID },
		{ "leaf-untrusted-chain.pem", CERT_UNTRUSTED },
		{ "leaf-notnauth-chain.pem", CERT_NO_TNAUTH },
		{ "leaf-p384-chain.pem", CERT_KEY },
		{ "leaf-revoked-chain.pem", CERT_REVOKED },
		{ "leaf-wrongpolicy-chain.pem", CERT_POLICY },
		{ "leaf-nopolicy-chain.pem", CERT_POLICY },
		{ "leaf-ca-chain.pem", CERT_CA_LEAF },
		{ "leaf-ku-chain.pem", CERT_KEY_USAGE },
	};
	struct cache_ref ref;
	char url[256];

	start_default();
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(url, sizeof(url), BASE "/sp/%s", v[i].file);
		expect_negative(url, CACHE_FAIL_CERT, (int)v[i].want, 437);
	}
	snprintf(url, sizeof(url), BASE "/sp/leaf-tn-chain.pem");
	cr_assert_eq(get(url, &ref), CACHE_HIT, "a TN-listing leaf is valid");
	cr_assert_gt(ref.entry->tnauth.n, 0);
	cr_assert_eq(stats().cert_invalid, sizeof(v) / sizeof(v[0]));
	cr_assert_geq(stats().crl_ok, 1);
}

Test(certfetch, revoked_passes_without_crl)
{
	struct fetch_cfg cfg;
	struct cache_cfg cc;
	struct cache_ref ref;

	/* the same certificate with CRL distribution points ignored: no CRL, not revoked */
	base_cfg(&cfg, &cc);
	cfg.no_crl_dp = true;
	start(&cfg, &cc);
	cr_assert_eq(get(BASE "/sp/leaf-revoked-chain.pem", &ref), CACHE_HIT);
	cr_assert_eq(stats().crl_fetches, 0);
}

Test(certfetch, configured_crl_url)
{
	static const char *const crls[] = { BASE "/crl/sti-pa.crl" };
	struct fetch_cfg cfg;
	struct cache_cfg cc;

	base_cfg(&cfg, &cc);
	cfg.no_crl_dp = true;
	cfg.crl_urls = crls;
	cfg.n_crl_urls = 1;
	start(&cfg, &cc);
	/* crl_ok counts the fetch; the store swap (generation) follows it on the fetcher thread */
	for (int i = 0; i < 500 && (stats().crl_ok == 0 || stats().store_generation < 2); i++)
		usleep(10000);
	cr_assert_eq(stats().crl_ok, 1);
	cr_assert_eq(stats().store_generation, 2, "the store was replaced with the CRL");
	expect_negative(BASE "/sp/leaf-revoked-chain.pem", CACHE_FAIL_CERT, CERT_REVOKED, 437);
}

Test(certfetch, cache_control_lifetimes)
{
	struct cache_ref ref;

	start_default();
	cr_assert_eq(get(BASE "/maxage/leaf-chain.pem", &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at - ref.entry->fetched_at, 120, "max-age=120");
	cr_assert_eq(get(BASE "/nostore/leaf-chain.pem", &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at - ref.entry->fetched_at, 5, "no-store: the floor");
	cr_assert_eq(get(BASE "/plain/leaf-chain.pem", &ref), CACHE_HIT);
	cr_assert_eq(ref.entry->expires_at - ref.entry->fetched_at, 3600, "none: the default");
}

Test(certfetch, expiry_refetches)
{
	const char *url = BASE "/exp/leaf-chain.pem";
	unsigned before = log_count("/exp/leaf-chain.pem");
	struct cache_ref ref;
	int64_t now = time(NULL);

	start_default();
	cr_assert_eq(get_at(url, now, &ref), CACHE_HIT);
	cr_assert_eq(get_at(url, now + 60, &ref), CACHE_HIT);
	cr_assert_eq(log_count("/exp/leaf-chain.pem"), before + 1);
	/* past max-age=120: a miss and a new fetch (published at the real now) */
	{
		struct cache_waiter w = { .ring = wakes, .cookie = 9 };
		struct cache_wake wk;
		bool waiting = false;

		cache_quiescent();
		cr_assert_eq(fetch_lookup(fetcher, url, strlen(url), now + 200, &w, &ref,
					  &waiting), CACHE_MISS_CLAIMED);
		cr_assert(waiting);
		cr_assert_eq(wait_wakes(1, 10000, &wk), 1);
		cr_assert_eq(wk.result, CACHE_HIT);
	}
	cr_assert_eq(get_at(url, now, &ref), CACHE_HIT);
	cr_assert_eq(log_count("/exp/leaf-chain.pem"), before + 2);
	cr_assert_eq(stats().published, 2);
}

Test(certfetch, refresh_before_expiry)
{
	const char *url = BASE "/refresh/leaf-chain.pem";
	unsigned before = log_count("/refresh/leaf-chain.pem");
	struct fetch_cfg cfg;
	struct cache_cfg cc;
	struct cache_ref ref;
	bool waiting;
	int64_t now = time(NULL);

	base_cfg(&cfg, &cc);
	cc.refresh_pct = 50;
	start(&cfg, &cc);
	cr_assert_eq(get_at(url, now, &ref), CACHE_HIT);
	/* at 90 s of 120: still a hit, and one caller triggers the background refresh */
	cache_quiescent();
	cr_assert_eq(fetch_lookup(fetcher, url, strlen(url), now + 90, NULL, &ref, &waiting),
		     CACHE_HIT);
	cr_assert(!ref.refresh, "fetch_lookup() submitted the refresh");
	for (int i = 0; i < 500 && stats().published < 2; i++) {
		cache_thread_offline();
		usleep(10000);
		cache_thread_online();
	}
	cr_assert_eq(stats().published, 2);
	cr_assert_eq(log_count("/refresh/leaf-chain.pem"), before + 2);
}

Test(certfetch, single_flight_many_waiters)
{
	enum { N = 40 };
	const char *url = BASE "/flight/leaf-chain.pem";
	unsigned before = log_count("/flight/leaf-chain.pem");
	struct cache_wake wk[N];
	struct cache_ref ref;
	int64_t now = time(NULL);
	unsigned claimed = 0;

	start_default();
	for (unsigned i = 0; i < N; i++) {
		struct cache_waiter w = { .ring = wakes, .cookie = 1000 + i };
		bool waiting = false;
		int rc = fetch_lookup(fetcher, url, strlen(url), now, &w, &ref, &waiting);

		cr_assert(rc == CACHE_MISS_CLAIMED || rc == CACHE_MISS_PENDING, "%d: %s", i,
			  cache_result_str(rc));
		cr_assert(waiting);
		claimed += rc == CACHE_MISS_CLAIMED;
	}
	cr_assert_eq(claimed, 1);
	cr_assert_eq(wait_wakes(N, 10000, wk), N);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(wk[i].result, CACHE_HIT);
	cache_quiescent();
	cr_assert_eq(cache_lookup(cache, url, strlen(url), now, &ref), CACHE_HIT);
	cr_assert_eq(stats().fetches, 1);
	cr_assert_eq(log_count("/flight/leaf-chain.pem"), before + 1, "one request to nginx");
}

Test(certfetch, http2_negotiated)
{
	char fn[600], line[1024];
	bool h2 = false;
	FILE *fp;

	start_default();
	cr_assert_eq(get(BASE "/sp/leaf-chain.pem", &(struct cache_ref){ 0 }), CACHE_HIT);
	snprintf(fn, sizeof(fn), "%s/logs/access.log", dir);
	fp = fopen(fn, "r");
	cr_assert_not_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "/sp/leaf-chain.pem HTTP/2.0 200", 31) == 0)
			h2 = true;
	fclose(fp);
	cr_assert(h2, "nginx saw HTTP/2");
}

Test(certfetch, ssrf_guard_and_host_lists)
{
	static const char *const deny[] = { "127.0.0.1" };
	static const char *const only[] = { "cr.example.net" };
	struct fetch_cfg cfg;
	struct cache_cfg cc;

	base_cfg(&cfg, &cc);
	cfg.x5u.n_allow_hosts = 0; /* loopback no longer exempt */
	start(&cfg, &cc);
	expect_negative(BASE "/plain/leaf-chain.pem", CACHE_FAIL_URL, -EACCES, 436);
	expect_negative("https://localhost:8443/plain/leaf-chain.pem", CACHE_FAIL_URL, -EACCES,
			436);
	expect_negative("http://127.0.0.1:8443/plain/leaf-chain.pem", CACHE_FAIL_URL, -EINVAL,
			436);
	cr_assert_eq(stats().fetch_err[X5U_BLOCKED], 2);
	teardown();

	base_cfg(&cfg, &cc);
	cfg.deny_hosts = deny;
	cfg.n_deny_hosts = 1;
	start(&cfg, &cc);
	expect_negative(BASE "/plain/leaf-chain.pem", CACHE_FAIL_URL, -EACCES, 436);
	teardown();

	base_cfg(&cfg, &cc);
	cfg.only_hosts = only;
	cfg.n_only_hosts = 1;
	start(&cfg, &cc);
	expect_negative(BASE "/plain/leaf-chain.pem", CACHE_FAIL_URL, -EACCES, 436);
}

Test(certfetch, tls_verified)
{
	struct fetch_cfg cfg;
	struct cache_cfg cc;

	base_cfg(&cfg, &cc);
	cfg.x5u.ca_file = trust; /* not the CA of nginx's certificate */
	start(&cfg, &cc);
	expect_negative(BASE "/plain/leaf-chain.pem", CACHE_FAIL_FETCH, -EPROTO, 436);
}

Test(certfetch, trust_reload)
{
	start_default();
	cr_assert_eq(stats().store_generation, 1);
	cr_assert_eq(fetch_trust_reload(fetcher), 0);
	for (int i = 0; i < 300 && stats().store_generation < 2; i++)
		usleep(10000);
	cr_assert_geq(stats().store_generation, 2);
	cr_assert_eq(get(BASE "/plain/leaf-chain.pem", &(struct cache_ref){ 0 }), CACHE_HIT);
}

Test(certfetch, ring_full_gives_eagain)
{
	struct fetch_cfg cfg;
	struct cache_cfg cc;
	char url[128];
	int full = 0;

	base_cfg(&cfg, &cc);
	cfg.ring_size = 2;
	cfg.max_inflight = 1;
	cfg.n_threads = 1;
	start(&cfg, &cc);
	/* the slow server keeps the one transfer busy: the ring fills */
	for (int i = 0; i < 8; i++) {
		struct cache_ref ref;
		bool waiting;
		int rc;

		snprintf(url, sizeof(url), "https://127.0.0.1:8444/s%d.pem", i);
		rc = fetch_lookup(fetcher, url, strlen(url), time(NULL), NULL, &ref, &waiting);
		if (rc == -EAGAIN)
			full++;
		else
			cr_assert_eq(rc, CACHE_MISS_CLAIMED);
	}
	cr_assert_geq(full, 1);
	cr_assert_eq(stats().ring_full, (uint64_t)full);
}

Test(certfetch, sync_fetch)
{
	struct fetch_cfg cfg;
	struct cache_cfg cc;
	struct fetch_result res;
	static char buf[X5U_BODY_MAX + 1];

	base_cfg(&cfg, &cc);
	cr_assert_eq(fetch_x5u_sync(&cfg, BASE "/maxage/leaf-chain.pem", buf, sizeof(buf), &res),
		     0, "%s", res.x5u.detail);
	cr_assert_eq(res.x5u.kind, X5U_OK);
	cr_assert(strstr(buf, "BEGIN CERTIFICATE") != NULL);
	cr_assert_eq(res.max_age, 120);
	cr_assert_eq(fetch_x5u_sync(&cfg, BASE "/missing.pem", buf, sizeof(buf), &res), -EBADMSG);
	cr_assert_eq(res.x5u.http_status, 404);
	cr_assert_eq(fetch_x5u_sync(&cfg, BASE "/redirect.pem", buf, sizeof(buf), &res), -EBADMSG);
	cfg.max_redirects = 1;
	cr_assert_eq(fetch_x5u_sync(&cfg, BASE "/redirect.pem", buf, sizeof(buf), &res), 0);
	cr_assert_eq(res.redirects, 1);
	cfg.x5u.n_allow_hosts = 0;
	cr_assert_eq(fetch_x5u_sync(&cfg, BASE "/maxage/leaf-chain.pem", buf, sizeof(buf), &res),
		     -EACCES);
	cr_assert_eq(res.x5u.kind, X5U_BLOCKED);
	/* nothing was started: let teardown find nothing to free */
	start_default();
}
