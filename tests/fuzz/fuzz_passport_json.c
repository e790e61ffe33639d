/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PASSporT parsing: the input goes to the header parser, the claims parser and pp_parse (as
 * a token). Whatever parses and can be serialized again must serialize to something that
 * parses back to an equal PASSporT and serializes to the same bytes (a fixed point).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/pp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*parse_fn)(const char *, size_t, struct pp_passport *, const char **);
typedef long (*build_fn)(const struct pp_passport *, char *, size_t);

static void check_json(const char *s, size_t n, parse_fn parse, build_fn build)
{
	static char out1[PP_JSON_MAX * 4], out2[PP_JSON_MAX * 4];
	struct pp_passport a, b;
	const char *why = NULL;
	long n1, n2;

	memset(&a, 0, sizeof a);
	if (parse(s, n, &a, &why) != 0) {
		if (!why)
			abort();
		return;
	}
	if (why)
		abort();
	/* the header needs alg to be serialized: give it one when absent */
	if (build == pp_header_json && !(a.present & PP_HAS_ALG)) {
		a.present |= PP_HAS_ALG;
		memcpy(a.alg, "ES256", sizeof "ES256");
	}
	n1 = build(&a, out1, sizeof out1);
	if (n1 == -EINVAL)
		return; /* a value JSON must escape: not serializable */
	if (n1 < 0)
		abort();
	if ((size_t)n1 > PP_JSON_MAX)
		return; /* the alg added above may push it past what the parser takes */
	memset(&b, 0, sizeof b);
	if (parse(out1, (size_t)n1, &b, &why) != 0)
		abort();
	if (!pp_passport_equal(&a, &b))
		abort();
	n2 = build(&b, out2, sizeof out2);
	if (n2 != n1 || memcmp(out1, out2, (size_t)n1) != 0)
		abort();
}

static void check_token(const char *s, size_t n)
{
	static char tok[PP_TOKEN_MAX + 128];
	struct pp_passport a, b;
	struct pp_token t, t2;
	uint8_t sig[PP_SIG_LEN], sig2[PP_SIG_LEN];
	const char *why = NULL;
	long l;

	if (pp_parse(s, n, &t, &a, sig, &why) != 0) {
		if (!why)
			abort();
		return;
	}
	if (t.hdr != s || t.sig < s || t.sig > s + n || t.sig[-1] != '.' ||
	    (size_t)(t.sig - s) + t.sig_len != n)
		abort();
	l = pp_signing_input(&a, tok, sizeof tok);
	if (l < 0)
		return;
	l = pp_token_finish(tok, sizeof tok, (size_t)l, sig);
	if (l < 0)
		abort();
	if (pp_parse(tok, (size_t)l, &t2, &b, sig2, &why) != 0)
		abort();
	if (!pp_passport_equal(&a, &b) || memcmp(sig, sig2, sizeof sig) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	check_json(s, size, pp_header_parse, pp_header_json);
	check_json(s, size, pp_claims_parse, pp_claims_json);
	check_token(s, size);
	return 0;
}
