/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzzes the HTTP freshness parsers of the x5u fetcher: fetch_cache_control_parse() and
 * fetch_http_date_parse() on arbitrary bytes (no NUL needed, only [0, len) read), and
 * fetch_http_freshness() on the input split at '\n' into Cache-Control, Expires, Date and Age.
 * Checks invariants: results in range, determinism, and that an accepted date formats back
 * (IMF-fixdate) to a string that parses to the same time. Aborts on any inconsistency.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/certcache/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static void check_cc(const char *v, size_t len)
{
	struct fetch_cc a, b;
	int ra = fetch_cache_control_parse(v, len, &a);
	int rb = fetch_cache_control_parse(v, len, &b);

	CHECK(ra == 0 || ra == -EINVAL);
	CHECK(ra == rb && memcmp(&a, &b, sizeof(a)) == 0);
	CHECK(a.max_age >= -1 && a.max_age <= FETCH_DELTA_MAX);
	CHECK(a.s_maxage >= -1 && a.s_maxage <= FETCH_DELTA_MAX);
	CHECK(ra == 0 ? !a.invalid : a.invalid);
}

static void check_date(const char *v, size_t len)
{
	int64_t t = 0, t2 = 0;
	char buf[64];
	time_t tt;
	struct tm tm;

	if (fetch_http_date_parse(v, len, &t) != 0)
		return;
	/* years 0000..9999 at most */
	CHECK(t >= -62167219200LL && t < 253402300800LL);
	tt = (time_t)t;
	CHECK(gmtime_r(&tt, &tm) != NULL);
	if (tm.tm_year + 1900 < 1000)
		return; /* strftime %Y would not give 4 digits */
	strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	CHECK(fetch_http_date_parse(buf, strlen(buf), &t2) == 0);
	CHECK(t2 == t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char parts[4][FETCH_HDR_MAX + 1];
	struct fetch_http_hdrs hd;
	size_t start = 0;
	int64_t life, life2;
	bool ns, ns2;

	check_cc((const char *)data, size);
	check_date((const char *)data, size);

	memset(parts, 0, sizeof(parts));
	for (unsigned k = 0; k < 4; k++) {
		size_t end = start, n;

		while (end < size && data[end] != '\n')
			end++;
		n = end - start < FETCH_HDR_MAX ? end - start : FETCH_HDR_MAX;
		if (start < size)
			memcpy(parts[k], data + start, n);
		parts[k][n] = '\0';
		start = end < size ? end + 1 : size;
	}
	hd.cache_control = parts[0];
	hd.expires = parts[1];
	hd.date = parts[2];
	hd.age = parts[3];
	life = fetch_http_freshness(&hd, 1700000000, &ns);
	life2 = fetch_http_freshness(&hd, 1700000000, &ns2);
	CHECK(life == life2 && ns == ns2);
	CHECK(life >= -1 && life <= FETCH_DELTA_MAX);
	CHECK(!ns || life == 0);
	return 0;
}
