/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pure parts of the x5u fetcher: Cache-Control (RFC 9111 §5.2), HTTP-date (RFC 9110
 * §5.6.7) in its three forms, the freshness lifetime as a shared cache computes it, and the
 * host deny/allow-lists on top of the x5u URL rules. No network (tests/certfetch.sh runs the
 * fetcher against nginx).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "dataplane/certcache/fetch.h"

static struct fetch_cc cc_of(const char *v, int want_rc)
{
	struct fetch_cc cc;

	cr_assert_eq(fetch_cache_control_parse(v, strlen(v), &cc), want_rc, "%s", v);
	return cc;
}

Test(fetch, cache_control_directives)
{
	struct fetch_cc cc;

	cc = cc_of("max-age=3600", 0);
	cr_assert_eq(cc.max_age, 3600);
	cr_assert_eq(cc.s_maxage, -1);
	cr_assert(!cc.no_store && !cc.no_cache && !cc.private_ && !cc.invalid);
	cc = cc_of("public, MAX-AGE=60 , s-maxage=30,no-store", 0);
	cr_assert_eq(cc.max_age, 60);
	cr_assert_eq(cc.s_maxage, 30);
	cr_assert(cc.no_store);
	cc = cc_of("no-cache=\"Set-Cookie, X\", private", 0);
	cr_assert(cc.no_cache && cc.private_ && !cc.no_store);
	cc = cc_of("max-age=\"120\"", 0);
	cr_assert_eq(cc.max_age, 120, "quoted delta-seconds are accepted");
	cc = cc_of("max-age=100, max-age=50, max-age=70", 0);
	cr_assert_eq(cc.max_age, 50, "repeated: the most restrictive");
	cc = cc_of("max-age=99999999999999999999999", 0);
	cr_assert_eq(cc.max_age, FETCH_DELTA_MAX, "saturates at 2^31");
	cc = cc_of("", 0);
	cr_assert_eq(cc.max_age, -1);
	cc = cc_of(" , ,, ", 0);
	cr_assert(!cc.invalid);
	cc = cc_of("foo=bar, immutable, max-age=5", 0);
	cr_assert_eq(cc.max_age, 5, "unknown directives ignored");
}

Test(fetch, cache_control_malformed)
{
	struct fetch_cc cc;

	cc = cc_of("max-age=-1", -EINVAL);
	cr_assert(cc.invalid && cc.max_age == -1);
	cc = cc_of("max-age=1h", -EINVAL);
	cr_assert(cc.invalid);
	cc = cc_of("max-age", -EINVAL);
	cr_assert(cc.invalid);
	cc = cc_of("max-age=\"12", -EINVAL);
	cr_assert(cc.invalid);
	cc = cc_of("=5, no-store", -EINVAL);
	cr_assert(cc.invalid && cc.no_store, "a bad directive is skipped, the rest kept");
	cc = cc_of("max-age=5 x, no-cache", -EINVAL);
	cr_assert(cc.no_cache && cc.max_age == -1);
	cr_assert_eq(fetch_cache_control_parse("max-age=5", 9, NULL), -EINVAL);
	cr_assert_eq(fetch_cache_control_parse(NULL, 0, &cc), 0);
	/* bytes after len are not read: "max-age=1" cut to "max-age=" */
	cr_assert_eq(fetch_cache_control_parse("max-age=1", 8, &cc), -EINVAL);
}

static int64_t date_of(const char *v)
{
	int64_t t = -42;

	cr_assert_eq(fetch_http_date_parse(v, strlen(v), &t), 0, "%s", v);
	return t;
}

Test(fetch, http_date_forms)
{
	/* RFC 9110's example: 784111777 */
	cr_assert_eq(date_of("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	cr_assert_eq(date_of("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
	cr_assert_eq(date_of("Sun Nov  6 08:49:37 1994"), 784111777);
	cr_assert_eq(date_of("  Thu, 01 Jan 1970 00:00:00 GMT "), 0);
	cr_assert_eq(date_of("Tue, 29 Feb 2000 23:59:59 GMT"), 951868799);
	cr_assert_eq(date_of("Fri, 31 Dec 2049 12:00:00 GMT"), 2524564800);
	cr_assert_eq(date_of("Thursday, 01-Jan-30 00:00:00 GMT"), 1893456000, "30 -> 2030");
}

Test(fetch, http_date_against_gmtime)
{
	/* every 7919th hour over 60 years, formatted by strftime in C locale and read back */
	for (int64_t t = 0; t < 60LL * 365 * 86400; t += 7919 * 3600 + 17) {
		char buf[64];
		time_t tt = (time_t)t;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		cr_assert_eq(date_of(buf), t, "%s", buf);
		strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm);
		cr_assert_eq(date_of(buf), t, "%s", buf);
	}
}

Test(fetch, http_date_rejects)
{
	static const char *const bad[] = {
		"0", "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
		"Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
		"Sunday, 06-Nov-1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMTX",
		"Sun, 06 Nov 1994 08:49:37GMT", "-1", "Sun, 06 Nov 19a4 08:49:37 GMT",
	};
	int64_t t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(fetch_http_date_parse(bad[i], strlen(bad[i]), &t), -EINVAL, "%s",
			     bad[i]);
	cr_assert_eq(fetch_http_date_parse(NULL, 0, &t), -EINVAL);
}

Test(fetch, freshness)
{
	const int64_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	struct fetch_http_hdrs hd = { 0 };
	bool ns = true;

	cr_assert_eq(fetch_http_freshness(&hd, now, &ns), -1, "nothing stated");
	cr_assert(!ns);
	hd.cache_control = "max-age=600";
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 600);
	hd.age = "100";
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 500, "Age counts");
	hd.date = "Sun, 06 Nov 1994 08:39:37 GMT"; /* 600 s ago: apparent age wins */
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 0);
	hd.age = "bogus";
	hd.date = NULL;
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 600, "a bad Age is ignored");
	hd.cache_control = "max-age=600, s-maxage=60";
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 60, "s-maxage for a shared cache");
	hd.cache_control = "max-age=600, no-store";
	cr_assert_eq(fetch_http_freshness(&hd, now, &ns), 0);
	cr_assert(ns);
	hd.cache_control = "private, max-age=600";
	cr_assert_eq(fetch_http_freshness(&hd, now, &ns), 0);
	cr_assert(ns);
	hd.cache_control = "no-cache";
	cr_assert_eq(fetch_http_freshness(&hd, now, &ns), 0);
	cr_assert(!ns);
	/* Expires */
	hd.cache_control = NULL;
	hd.age = NULL;
	hd.expires = "Sun, 06 Nov 1994 09:49:37 GMT";
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 3600);
	hd.date = "Sun, 06 Nov 1994 08:48:37 GMT"; /* server clock: Expires - Date, minus age */
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 3600);
	hd.expires = "0";
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 0, "invalid Expires: expired");
	hd.expires = "Sun, 06 Nov 1994 07:49:37 GMT";
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 0);
	hd.expires = "Sun, 06 Nov 1994 09:49:37 GMT";
	hd.cache_control = "max-age=10";
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 0, "max-age beats Expires (aged 60)");
	hd.date = NULL;
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 10, "max-age beats Expires");
	hd.cache_control = "max-age=ten";
	cr_assert_eq(fetch_http_freshness(&hd, now, NULL), 0, "a bad max-age: stale");
	cr_assert_eq(fetch_http_freshness(NULL, now, NULL), -1);
}

Test(fetch, url_lists)
{
	static const char *const deny[] = { "bad.example.com", ".evil.test" };
	static const char *const only[] = { ".sti-cr.test", "cr.example.net" };
	struct fetch_cfg cfg = { 0 };
	const char *why = NULL;

	cr_assert_eq(fetch_url_check(NULL, "https://cert.example.com/a.pem", &why), 0);
	cr_assert_eq(fetch_url_check(NULL, "http://cert.example.com/a.pem", &why), -EINVAL);
	cr_assert_eq(fetch_url_check(NULL, "https://10.0.0.1/a.pem", &why), -EACCES);
	cfg.deny_hosts = deny;
	cfg.n_deny_hosts = 2;
	cr_assert_eq(fetch_url_check(&cfg, "https://bad.example.com/a.pem", &why), -EACCES);
	cr_assert_str_eq(why, "host is on the deny-list");
	cr_assert_eq(fetch_url_check(&cfg, "https://BAD.example.COM/a.pem", &why), -EACCES);
	cr_assert_eq(fetch_url_check(&cfg, "https://evil.test/a.pem", &why), -EACCES);
	cr_assert_eq(fetch_url_check(&cfg, "https://a.b.evil.test/a.pem", &why), -EACCES);
	cr_assert_eq(fetch_url_check(&cfg, "https://notevil.test/a.pem", &why), 0);
	cr_assert_eq(fetch_url_check(&cfg, "https://good.example.com/a.pem", &why), 0);
	cfg.only_hosts = only;
	cfg.n_only_hosts = 2;
	cr_assert_eq(fetch_url_check(&cfg, "https://good.example.com/a.pem", &why), -EACCES);
	cr_assert_str_eq(why, "host is not on the allow-list");
	cr_assert_eq(fetch_url_check(&cfg, "https://cr.example.net/a.pem", &why), 0);
	cr_assert_eq(fetch_url_check(&cfg, "https://x.sti-cr.test/a.pem", &why), 0);
	cr_assert_eq(fetch_url_check(&cfg, "https://sti-cr.test/a.pem", &why), 0);
	cr_assert_eq(fetch_url_check(&cfg, "https://xsti-cr.test/a.pem", &why), -EACCES);
}

Test(fetch, create_rejects_bad_config)
{
	struct fetch_cfg cfg = { 0 };
	struct fetch *f = NULL;
	struct cache *c = NULL;

	cr_assert_eq(cache_create(NULL, &c), 0);
	cr_assert_eq(fetch_create(&cfg, c, &f), -EINVAL, "no trust path");
	cfg.trust_path = "/nonexistent/trust.pem";
	cr_assert_lt(fetch_create(&cfg, c, &f), 0);
	cfg.max_redirects = 2;
	cr_assert_eq(fetch_create(&cfg, c, &f), -EINVAL);
	cfg.max_redirects = 0;
	cfg.n_threads = FETCH_THREADS_MAX + 1;
	cr_assert_eq(fetch_create(&cfg, c, &f), -EINVAL);
	cr_assert_null(f);
	cache_destroy(c);
}

Test(fetch, submit_rejects)
{
	cr_assert_eq(fetch_submit(NULL, "https://a.test/x", 16), -EINVAL);
}
