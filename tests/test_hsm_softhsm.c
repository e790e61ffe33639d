/* SPDX-License-Identifier: BSD-3-Clause */
#include "tests/test_hsm_softhsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TH_NO_CRITERION
#include <criterion/criterion.h>
#endif
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

bool th_softhsm_present(void)
{
	return access(TH_SOFTHSM, R_OK) == 0 && system("softhsm2-util --version >/dev/null 2>&1") == 0;
}

#ifndef TH_NO_CRITERION
int th_main(int argc, char **argv)
{
	if (!th_softhsm_present()) {
		fprintf(stderr, "SoftHSM2 not installed: skipped\n");
		return 77;
	}
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}
#endif

int th_setup(struct th_env *env, unsigned n_tokens)
{
	char cmd[512];
	FILE *f;

	memset(env, 0, sizeof(*env));
	snprintf(env->dir, sizeof(env->dir), "/tmp/shaken-hsm-XXXXXX");
	if (!mkdtemp(env->dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/tokens", env->dir);
	if (mkdir(cmd, 0700) != 0)
		return -1;
	snprintf(env->conf, sizeof(env->conf), "%s/softhsm2.conf", env->dir);
	f = fopen(env->conf, "w");
	if (!f)
		return -1;
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
		   "log.level = ERROR\nslots.removable = false\nlibrary.reset_on_fork = true\n",
		env->dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", env->conf, 1);
	snprintf(env->pin_file, sizeof(env->pin_file), "%s/pin", env->dir);
	f = fopen(env->pin_file, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", TH_PIN);
	fclose(f);
	for (unsigned i = 0; i < n_tokens; i++) {
		snprintf(cmd, sizeof(cmd),
			 "softhsm2-util --init-token --free --label tok%u --pin %s --so-pin 12345678"
			 " >/dev/null",
			 i, TH_PIN);
		if (system(cmd) != 0)
			return -1;
	}
	env->n_tokens = n_tokens;
	return 0;
}

void th_teardown(struct th_env *env)
{
	char cmd[128];
	if (!env->dir[0] || strncmp(env->dir, "/tmp/shaken-hsm-", 16) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", env->dir);
}

void th_token_uri(const struct th_env *env, unsigned i, const char *module, char *buf, size_t cap)
{
	snprintf(buf, cap, "pkcs11:token=tok%u?module-path=%s&pin-source=file:%s", i, module,
		 env->pin_file);
}

EVP_PKEY *th_gen_p256(void)
{
	return EVP_EC_gen("P-256");
}

int th_import_key(const struct th_env *env, unsigned i, EVP_PKEY *key, const char *label,
		  const char *id_hex)
{
	char path[160], cmd[512];
	snprintf(path, sizeof(path), "%s/import.pem", env->dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int ok = PEM_write_PKCS8PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	if (!ok)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "softhsm2-util --import %s --token tok%u --label %s --id %s --pin %s >/dev/null",
		 path, i, label, id_hex, TH_PIN);
	int rc = system(cmd);
	unlink(path);
	return rc == 0 ? 0 : -1;
}

bool th_verify(EVP_PKEY *pub, const uint8_t digest[32], const uint8_t sig[64])
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *der = NULL;
	bool ok = false;

	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return false;
	}
	int dl = i2d_ECDSA_SIG(es, &der);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	if (dl > 0 && ctx && EVP_PKEY_verify_init(ctx) == 1)
		ok = EVP_PKEY_verify(ctx, der, (size_t)dl, digest, 32) == 1;
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

void th_digest(const char *msg, uint8_t digest[32])
{
	SHA256((const unsigned char *)msg, strlen(msg), digest);
}
