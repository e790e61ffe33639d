/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzzes the TN ownership file parser, pol_tn_parse(), on arbitrary bytes. When a table is
 * accepted, every TN of the input's lines that parses as a range start or end must resolve to
 * the owner named on its line (lookups of the same TN agree), and digits-only probes derived
 * from the input must never crash or return an owner id out of range.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

/* Checks the first TN of each line against its owner name (lines the parser accepted). */
static void check_lines(const struct pol_tntable *t, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		if (p < le && *p == '+')
			p++;
		const char *d = p;
		while (p < le && *p >= '0' && *p <= '9')
			p++;
		size_t dl = (size_t)(p - d);
		if (dl > 0 && dl <= POL_TN_MAX) {
			if (p < le && *p == '-') { /* skip the range end */
				p++;
				if (p < le && *p == '+')
					p++;
				while (p < le && *p >= '0' && *p <= '9')
					p++;
			}
			while (p < le && (*p == ' ' || *p == '\t'))
				p++;
			const char *n = p;
			while (p < le && *p != ' ' && *p != '\t' && *p != '#' && *p != '\r')
				p++;
			uint32_t o = pol_tn_lookup(t, d, dl);
			CHECK(o != POL_OWNER_NONE);
			const char *name = pol_tn_owner_name(t, o);
			CHECK(strlen(name) == (size_t)(p - n) && memcmp(name, n, (size_t)(p - n)) == 0);
			CHECK(pol_tn_owner_find(t, name) == o);
		}
		p = eol ? eol + 1 : end;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pol_tntable *t = NULL;
	char err[256];
	int r = pol_tn_parse((const char *)data, size, &t, err, sizeof(err));
	if (r < 0) {
		CHECK(t == NULL && (r == -EINVAL || r == -ENOMEM || r == -E2BIG));
		CHECK(strncmp(err, "line ", 5) == 0 || r == -ENOMEM);
		return 0;
	}
	CHECK(t != NULL);
	CHECK(pol_tn_ranges(t) <= size);
	check_lines(t, (const char *)data, size);
	/* probes: every window of up to 15 bytes */
	for (size_t i = 0; i < size && i < 256; i++) {
		size_t n = size - i < POL_TN_MAX + 1 ? size - i : POL_TN_MAX + 1;
		uint32_t o = pol_tn_lookup(t, (const char *)data + i, n);
		CHECK(o == POL_OWNER_NONE || o < pol_tn_owners(t));
	}
	pol_tn_free(t);
	return 0;
}
