/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-bench internals: a timing loop that measures a case and its baseline alternately, in
 * the same process, so that their ratio holds on a noisy machine.
 */
#ifndef SHAKEND_BENCH_BENCH_H
#define SHAKEND_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct bench_opts {
	double seconds;   /* measuring time per case per round */
	unsigned rounds;  /* alternations of case and baseline; the median is kept */
	bool json_only;
	unsigned long count; /* > 0: run each case and baseline exactly count times, untimed (for
			      * instruction counting under callgrind: bench/callgrind.sh) */
};

/* One operation of a case; returns 0, or non-zero to abort the bench (a failed operation). */
typedef int (*bench_fn)(void *ctx);

/*
 * Runs fn repeatedly for about o->seconds, o->rounds times, interleaved by the caller with
 * its baseline; returns the median rate in operations per second, or a negative value when
 * fn failed.
 */
double bench_rate(const struct bench_opts *o, bench_fn fn, void *ctx);

/*
 * Measures a case and its baseline alternately (baseline, case, baseline, case, ...), each
 * round for o->seconds; stores the median rates. Returns 0, or -1 when an operation failed.
 */
int bench_pair(const struct bench_opts *o, bench_fn base, void *base_ctx, double *base_rate,
	       bench_fn fn, void *ctx, double *rate);

/* Adds {name: {rate, baseline, ratio, target, unit}} to out and prints a table row. */
void bench_report(const struct bench_opts *o, json_t *out, const char *name, double rate,
		  const char *base_name, double base_rate, double target);

/*
 * The raw PKCS#11 baseline: n threads (<= HSM_MAX_SESSIONS), each with its own session on the
 * token of token_uri in module, signing with the private key labelled object by C_Sign as fast
 * as they can for `seconds`. spawn_hook, when not NULL, is called with true before the threads
 * are created and false after (e.g. to move them off an lcore's CPU). Returns signatures per
 * second, or -1 on a failure (module, token or key not found, a C_Sign error).
 */
double bench_p11_raw_rate(const char *module, const char *token_uri, const char *object,
			  unsigned n, double seconds, void (*spawn_hook)(bool before));

/*
 * A SoftHSM2 token for a bench, in the existing directory dir: a token store and
 * softhsm2.conf there (SOFTHSM2_CONF set to it), a PIN file (PIN 1234), the token labelled
 * label initialized with softhsm2-util. Writes the PIN file's path and the token's PKCS#11 URI
 * (module-path=module, pin-source=file:). Returns 0, -errno on a file error, -EIO when
 * softhsm2-util fails.
 */
int bench_softhsm_token(const char *module, const char *dir, const char *label, char *pin_file,
			size_t pin_cap, char *token_uri, size_t uri_cap);

int bench_crypto_main(const struct bench_opts *o, json_t *out);
int bench_certcache_main(const struct bench_opts *o, json_t *out);
int bench_dataplane_main(const struct bench_opts *o, json_t *out);
int bench_hsm_main(const struct bench_opts *o, json_t *out);

#endif
