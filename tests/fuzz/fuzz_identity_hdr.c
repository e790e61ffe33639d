/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target identity_hdr: the Identity header parser on the whole input as one value, then
 * the input cut at '\n' into a list of values (several Identity header fields) for
 * pp_identity_select and phase 1 of the verification procedure (both with and without basic
 * PASSporTs, so that the compact-form rebuild is reached), then a certificate-stage outcome.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/identity.h"
#include "crypto/verify.h"

#define MAX_VALUES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pp_identity id;
	struct pp_slice v[MAX_VALUES];
	unsigned n = 0;
	const char *why = NULL;
	static struct pp_verify ver;

	if (pp_identity_parse(s, size, &id, &why) == 0) {
		/* every slice lies inside the input */
		if (id.token.p < s || id.token.p + id.token.len > s + size)
			__builtin_trap();
		if ((id.present & PP_IDP_INFO) &&
		    (id.info.p < s || id.info.p + id.info.len > s + size))
			__builtin_trap();
	} else if (!why) {
		__builtin_trap();
	}

	size_t start = 0;
	for (size_t i = 0; i <= size && n < MAX_VALUES; i++) {
		if (i == size || s[i] == '\n') {
			v[n++] = (struct pp_slice){s + start, i - start};
			start = i + 1;
		}
	}
	int k = pp_identity_select(v, n, &id, &why);
	if (k >= (int)n)
		__builtin_trap();

	for (int basic = 0; basic < 2; basic++) {
		struct pp_verify_params p = {
			.now = 1443208345,
			.freshness = 60,
			.orig_tn = "12155551212",
			.dest_tn = "12125551213",
			.date = 1443208345,
			.accept_basic = basic,
		};
		int rc = pp_verify_begin(&ver, v, n, &p);
		if (rc < 0 || rc > 1)
			__builtin_trap();
		if (rc == 1) {
			if (strlen(ver.x5u) == 0 || ver.signed_len == 0)
				__builtin_trap();
			pp_verify_fail(&ver, basic ? PP_CHECK_CERT_INVALID : PP_CHECK_CERT_FETCH,
				       NULL);
		}
		if (ver.phase != PP_VPHASE_DONE || !ver.detail ||
		    pp_verstat_str(ver.verstat)[0] == '\0')
			__builtin_trap();
	}
	return 0;
}
