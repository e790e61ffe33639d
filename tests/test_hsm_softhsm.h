/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support for the HSM tests: SoftHSM2 tokens created per test in a temporary directory
 * (SOFTHSM2_CONF pointing at a temporary configuration), keys, signature checks.
 */
#ifndef SHAKEND_TESTS_TEST_HSM_SOFTHSM_H
#define SHAKEND_TESTS_TEST_HSM_SOFTHSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define TH_SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define TH_PIN "1234"

struct th_env {
	char dir[64];
	char conf[128];
	char pin_file[128];
	unsigned n_tokens;
};

/* True when SoftHSM2 (module and softhsm2-util) is installed. */
bool th_softhsm_present(void);

/* Criterion main that exits 77 (skipped) when SoftHSM2 is missing (not with TH_NO_CRITERION). */
int th_main(int argc, char **argv);

/* Creates n tokens "tok0".."tok<n-1>" (user PIN TH_PIN) in a fresh directory. 0 or -1. */
int th_setup(struct th_env *env, unsigned n_tokens);
void th_teardown(struct th_env *env);

/* "pkcs11:token=tok<i>?module-path=<module>&pin-source=file:<pin file>" */
void th_token_uri(const struct th_env *env, unsigned i, const char *module, char *buf, size_t cap);

/* A fresh EC P-256 key pair (software), for importing the same key into several tokens. */
EVP_PKEY *th_gen_p256(void);

/* Imports key's private half into token i with label and id (hex). 0 or -1. */
int th_import_key(const struct th_env *env, unsigned i, EVP_PKEY *key, const char *label,
		  const char *id_hex);

/* Verifies r||s over a SHA-256 digest with OpenSSL directly (no shakend code). */
bool th_verify(EVP_PKEY *pub, const uint8_t digest[32], const uint8_t sig[64]);

/* SHA-256 of a short string. */
void th_digest(const char *msg, uint8_t digest[32]);

#endif
