/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Certificate input from the network (an x5u body) and the TNAuthList decoder: the bytes go
 * to cert_tnauth_decode() as raw DER, and to cert_chain_load() (PEM chain or DER certificate);
 * every certificate that loads then runs cert_sti_check() with each check in warn mode against
 * an empty store, so that every extension parser runs on it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cert_store *store;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tns[] = { "12155551212", "1", "999999999999999" };
	struct cert_policy pol;
	struct cert_tnauth ta;
	struct cert_chain ch;
	int n;

	if (!store && cert_store_create(&store) < 0)
		abort();

	if (cert_tnauth_decode(data, size, &ta) == 0) {
		if (ta.n == 0 || ta.n > CERT_TNAUTH_MAX)
			abort();
		for (size_t i = 0; i < sizeof(tns) / sizeof(tns[0]); i++) {
			int rc = cert_tnauth_covers(&ta, tns[i]);

			if (rc != 1 && rc != 0 && rc != -ENOENT)
				abort();
		}
		(void)cert_tnauth_spc(&ta);
	}

	n = cert_chain_load(data, size, &ch);
	if (n <= 0)
		return 0;
	if ((unsigned)n != ch.n || ch.n > CERT_CHAIN_MAX)
		abort();
	cert_policy_default(&pol);
	for (int c = 0; c < CERT_CHECK_COUNT; c++)
		pol.mode[c] = CERT_MODE_WARN;
	pol.require_crl = true;
	for (unsigned i = 0; i < ch.n; i++) {
		struct cert_chain one = { .certs = { ch.certs[i] }, .n = 1 };
		struct cert_result r;

		if (cert_tnauth_of(ch.certs[i], &ta) == 0 && ta.n == 0)
			abort();
		if (cert_sti_check(i == 0 ? &ch : &one, store, 1700000000, 1700000000,
				   "12155551212", &pol, &r) == 0)
			cert_result_clear(&r);
	}
	cert_chain_free(&ch);
	return 0;
}
