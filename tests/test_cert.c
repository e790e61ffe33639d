/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STI certificate checks: TNAuthList decoding (known answer from tests/vectors/README.md and
 * hand-built DER), coverage, chain loading, and cert_sti_check() on every variant that
 * shaken-pki writes (run once, before all tests, into a temporary directory).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/cert.h"

/* ---- the PKI under test ----------------------------------------------------------------- */

#define PKI_ENV "SHAKEND_TEST_CERT_PKI"

static char pki_tmp[256];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	const char *build = getenv("SHAKEND_BUILD");
	char cmd[1024];

	(void)set;
	if (!build)
		return;
	snprintf(pki_tmp, sizeof(pki_tmp), "/tmp/shakend-test-cert.XXXXXX");
	if (!mkdtemp(pki_tmp))
		return;
	snprintf(cmd, sizeof(cmd),
		 "'%s/tools/shaken-pki' --out '%s' --spc 1234 --intermediate --days 30 >/dev/null",
		 build, pki_tmp);
	if (system(cmd) == 0)
		setenv(PKI_ENV, pki_tmp, 1);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	if (pki_tmp[0] && getenv(PKI_ENV))
		nftw(pki_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *pki_path(const char *name)
{
	static char path[512];
	const char *dir = getenv(PKI_ENV);

	if (!dir)
		cr_skip_test("shaken-pki output unavailable (SHAKEND_BUILD unset or tool failed)");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* A store with the STI-CA root as anchor; CRLs from trust/ca.crl when ca_crl is set, and
 * sti-pa.crl with the STI-PA as CRL signer when pa_crl is set. */
static struct cert_store *store_new(bool ca_crl, bool pa_crl)
{
	struct cert_store *st = NULL;

	cr_assert_eq(cert_store_create(&st), 0);
	if (ca_crl) {
		cr_assert_eq(cert_store_add_path(st, pki_path("trust")), 2);
		cr_assert_eq(cert_store_n_crls(st), 1);
	} else {
		cr_assert_eq(cert_store_add_path(st, pki_path("ca-root.pem")), 1);
	}
	if (pa_crl) {
		cr_assert_eq(cert_store_add_path(st, pki_path("sti-pa.crl")), 1);
		cr_assert_eq(cert_store_add_crl_signer_file(st, pki_path("sti-pa.pem")), 1);
	}
	cr_assert_eq(cert_store_n_anchors(st), 1);
	return st;
}

/* Checks the chain file name against st; returns the outcome, result in *res. */
static enum cert_check check_file(const char *name, struct cert_store *st, int64_t iat,
				  const char *tn, const struct cert_policy *pol,
				  struct cert_result *res)
{
	struct cert_chain ch;
	int n = cert_chain_load_file(pki_path(name), &ch);

	cr_assert_gt(n, 0, "%s: load %d", name, n);
	cr_assert_eq(cert_sti_check(&ch, st, (int64_t)time(NULL), iat, tn, pol, res), 0);
	cert_chain_free(&ch);
	return res->failed;
}

static void expect(const char *name, enum cert_check want)
{
	struct cert_store *st = store_new(true, true);
	struct cert_result r;
	enum cert_check got = check_file(name, st, 0, NULL, NULL, &r);

	cr_expect_eq(got, want, "%s: got %d (%s), want %d (%s)", name, got, cert_check_str(got),
		     want, cert_check_str(want));
	if (want == CERT_OK)
		cr_expect_not_null(r.pkey);
	else
		cr_expect_null(r.pkey, "no key handed out on failure");
	cert_result_clear(&r);
	cert_store_free(st);
}

/* ---- TNAuthList decoding ---------------------------------------------------------------- */

static const uint8_t spc1234[] = { 0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4' };

Test(cert, tnauth_vector_spc)
{
	struct cert_tnauth ta;

	cr_assert_eq(cert_tnauth_decode(spc1234, sizeof(spc1234), &ta), 0);
	cr_assert_eq(ta.n, 1);
	cr_assert_eq(ta.e[0].kind, CERT_TN_SPC);
	cr_assert_str_eq(ta.e[0].v, "1234");
	cr_assert_str_eq(cert_tnauth_spc(&ta), "1234");
	cr_assert_eq(cert_tnauth_covers(&ta, "12155551212"), -ENOENT);
}

Test(cert, tnauth_implicit_spc)
{
	static const uint8_t der[] = { 0x30, 0x06, 0x80, 0x04, 'A', 'B', '1', '2' };
	struct cert_tnauth ta;

	cr_assert_eq(cert_tnauth_decode(der, sizeof(der), &ta), 0);
	cr_assert_eq(ta.n, 1);
	cr_assert_str_eq(cert_tnauth_spc(&ta), "AB12");
}

/* SEQUENCE { spc "1234", one "12155551212", range { "12155551300", 100 } } (explicit), and
 * an implicit range { "2025550100", 2 } and implicit one "*67". */
static const uint8_t mixed[] = {
	0x30, 0x41,
	0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4',
	0xa2, 0x0d, 0x16, 0x0b, '1', '2', '1', '5', '5', '5', '5', '1', '2', '1', '2',
	0xa1, 0x12, 0x30, 0x10, 0x16, 0x0b, '1', '2', '1', '5', '5', '5', '5', '1', '3', '0', '0',
	0x02, 0x01, 0x64,
	0xa1, 0x0f, 0x16, 0x0a, '2', '0', '2', '5', '5', '5', '0', '1', '0', '0', 0x02, 0x01, 0x02,
	0x82, 0x03, '*', '6', '7',
};

Test(cert, tnauth_mixed_entries)
{
	struct cert_tnauth ta;

	cr_assert_eq(cert_tnauth_decode(mixed, sizeof(mixed), &ta), 0);
	cr_assert_eq(ta.n, 5);
	cr_assert_eq(ta.e[1].kind, CERT_TN_ONE);
	cr_assert_str_eq(ta.e[1].v, "12155551212");
	cr_assert_eq(ta.e[2].kind, CERT_TN_RANGE);
	cr_assert_str_eq(ta.e[2].v, "12155551300");
	cr_assert_eq(ta.e[2].count, 100);
	cr_assert_eq(ta.e[3].kind, CERT_TN_RANGE);
	cr_assert_eq(ta.e[3].count, 2);
	cr_assert_eq(ta.e[4].kind, CERT_TN_ONE);
	cr_assert_str_eq(ta.e[4].v, "*67");
}

Test(cert, tnauth_coverage)
{
	struct cert_tnauth ta;

	cr_assert_eq(cert_tnauth_decode(mixed, sizeof(mixed), &ta), 0);
	cr_expect_eq(cert_tnauth_covers(&ta, "12155551212"), 1);
	cr_expect_eq(cert_tnauth_covers(&ta, "12155551213"), 0);
	cr_expect_eq(cert_tnauth_covers(&ta, "12155551300"), 1);
	cr_expect_eq(cert_tnauth_covers(&ta, "12155551399"), 1);
	cr_expect_eq(cert_tnauth_covers(&ta, "12155551400"), 0); /* start + count */
	cr_expect_eq(cert_tnauth_covers(&ta, "12155551299"), 0);
	cr_expect_eq(cert_tnauth_covers(&ta, "2155551350"), 0);   /* another length */
	cr_expect_eq(cert_tnauth_covers(&ta, "2025550101"), 1);
	cr_expect_eq(cert_tnauth_covers(&ta, "2025550102"), 0);
	cr_expect_eq(cert_tnauth_covers(&ta, "12a"), -EINVAL);
	cr_expect_eq(cert_tnauth_covers(&ta, ""), -EINVAL);
	cr_expect_eq(cert_tnauth_covers(&ta, "1234567890123456"), -EINVAL);
	cr_expect_eq(cert_tnauth_covers(NULL, "1"), -EINVAL);
}

static int dec(const uint8_t *d, size_t n)
{
	struct cert_tnauth ta;

	return cert_tnauth_decode(d, n, &ta);
}

#define DEC(...) dec((const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

Test(cert, tnauth_rejects_malformed)
{
	cr_expect_eq(dec(spc1234, sizeof(spc1234) - 1), -EINVAL);        /* truncated */
	cr_expect_eq(DEC(0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4', 0), -EINVAL);
	cr_expect_eq(DEC(0x30, 0x00), -EINVAL);                           /* empty list */
	cr_expect_eq(DEC(0x31, 0x06, 0x80, 0x04, '1', '2', '3', '4'), -EINVAL); /* SET */
	cr_expect_eq(DEC(0x30, 0x06, 0x83, 0x04, '1', '2', '3', '4'), -EINVAL); /* tag [3] */
	cr_expect_eq(DEC(0x30, 0x80, 0x80, 0x01, '1', 0, 0), -EINVAL);    /* indefinite */
	cr_expect_eq(DEC(0x30, 0x81, 0x03, 0x80, 0x01, '1'), -EINVAL);    /* non-minimal len */
	cr_expect_eq(DEC(0x30, 0x03, 0x80, 0x01, 0x07), -EINVAL);         /* control char SPC */
	cr_expect_eq(DEC(0x30, 0x02, 0x80, 0x00), -EINVAL);               /* empty SPC */
	cr_expect_eq(DEC(0x30, 0x05, 0x82, 0x03, '1', 'a', '2'), -EINVAL); /* letter in TN */
	cr_expect_eq(DEC(0x30, 0x12, 0x82, 0x10, '1', '2', '3', '4', '5', '6', '7', '8', '9', '0',
			 '1', '2', '3', '4', '5', '6'), -EINVAL);         /* 16 digits */
	cr_expect_eq(DEC(0x30, 0x08, 0xa0, 0x06, 0x0c, 0x04, '1', '2', '3', '4'), -EINVAL);
	/* explicit [0] holding two values */
	cr_expect_eq(DEC(0x30, 0x0a, 0xa0, 0x08, 0x16, 0x01, '1', 0x16, 0x01, '2', 0, 0), -EINVAL);
	/* range counts: 0, negative, non-minimal, 2^63 */
	cr_expect_eq(DEC(0x30, 0x08, 0xa1, 0x06, 0x16, 0x01, '1', 0x02, 0x01, 0x00), -EINVAL);
	cr_expect_eq(DEC(0x30, 0x08, 0xa1, 0x06, 0x16, 0x01, '1', 0x02, 0x01, 0xff), -EINVAL);
	cr_expect_eq(DEC(0x30, 0x09, 0xa1, 0x07, 0x16, 0x01, '1', 0x02, 0x02, 0x00, 0x05),
		     -EINVAL);
	cr_expect_eq(DEC(0x30, 0x10, 0xa1, 0x0e, 0x16, 0x01, '1', 0x02, 0x09, 0x00, 0x80, 0, 0,
			 0, 0, 0, 0, 0), -EINVAL);
	/* range without count */
	cr_expect_eq(DEC(0x30, 0x05, 0xa1, 0x03, 0x16, 0x01, '1'), -EINVAL);
	/* a length pointing past the end inside an entry */
	cr_expect_eq(DEC(0x30, 0x04, 0xa0, 0x02, 0x16, 0x05), -EINVAL);
	cr_expect_eq(cert_tnauth_decode(NULL, 0, &(struct cert_tnauth){ .n = 0 }), -EINVAL);
}

Test(cert, tnauth_bounds_entries)
{
	uint8_t der[2 + 3 * (CERT_TNAUTH_MAX + 1)];
	struct cert_tnauth ta;
	size_t n = 2;

	for (unsigned i = 0; i < CERT_TNAUTH_MAX + 1; i++) {
		der[n++] = 0x82;
		der[n++] = 1;
		der[n++] = (uint8_t)('0' + i % 10);
	}
	der[0] = 0x30;
	der[1] = (uint8_t)(n - 2);
	cr_assert_eq(cert_tnauth_decode(der, n, &ta), -E2BIG);
	der[1] = (uint8_t)(n - 5);
	cr_assert_eq(cert_tnauth_decode(der, n - 3, &ta), 0);
	cr_assert_eq(ta.n, CERT_TNAUTH_MAX);
}

Test(cert, tnauth_long_form_length)
{
	/* a list longer than 127 bytes (long-form length): a 32-byte SPC and six 15-digit TNs */
	uint8_t der[256];
	struct cert_tnauth ta;
	size_t n = 3;

	der[n++] = 0x80;
	der[n++] = CERT_SPC_MAX;
	memset(der + n, 'S', CERT_SPC_MAX);
	n += CERT_SPC_MAX;
	for (int i = 0; i < 6; i++) {
		der[n++] = 0x82;
		der[n++] = 15;
		memset(der + n, '1' + i, 15);
		n += 15;
	}
	der[0] = 0x30;
	der[1] = 0x81;
	der[2] = (uint8_t)(n - 3);
	cr_assert_gt(n - 3, 127);
	cr_assert_eq(cert_tnauth_decode(der, n, &ta), 0);
	cr_assert_eq(ta.n, 7);
	cr_assert_eq(strlen(ta.e[0].v), CERT_SPC_MAX);
	cr_assert_eq(cert_tnauth_covers(&ta, "666666666666666"), 1);
	/* one byte longer SPC: rejected */
	der[4] = CERT_SPC_MAX + 1;
	cr_assert_eq(cert_tnauth_decode(der, n, &ta), -EINVAL);
}

/* ---- chains and stores ------------------------------------------------------------------ */

Test(cert, chain_load_pem_and_der)
{
	struct cert_chain ch;
	unsigned char *der = NULL;
	int len;

	cr_assert_eq(cert_chain_load_file(pki_path("chain.pem"), &ch), 2);
	cr_assert_not_null(ch.certs[0]);
	cr_assert_not_null(ch.certs[1]);
	len = i2d_X509(ch.certs[0], &der);
	cert_chain_free(&ch);
	cr_assert_eq(ch.n, 0);
	cr_assert_gt(len, 0);
	cr_assert_eq(cert_chain_load(der, (size_t)len, &ch), 1);
	cert_chain_free(&ch);
	cr_assert_eq(cert_chain_load(der, (size_t)len - 1, &ch), -EINVAL); /* truncated DER */
	OPENSSL_free(der);
	cr_assert_eq(cert_chain_load((const uint8_t *)"hello", 5, &ch), -EINVAL);
	cr_assert_eq(ch.n, 0);
	cr_assert_eq(cert_chain_load_file(pki_path("leaf.key"), &ch), -EINVAL); /* no cert */
	cr_assert_eq(cert_chain_load_file(pki_path("nonexistent"), &ch), -ENOENT);
}

Test(cert, chain_load_bounded)
{
	FILE *f = fopen(pki_path("chain.pem"), "rb");
	static char one[8192], many[8 * 8192];
	size_t n, m = 0;
	struct cert_chain ch;

	cr_assert_not_null(f);
	n = fread(one, 1, sizeof(one), f);
	fclose(f);
	for (int i = 0; i < CERT_CHAIN_MAX / 2; i++) {
		memcpy(many + m, one, n);
		m += n;
	}
	cr_assert_eq(cert_chain_load((const uint8_t *)many, m, &ch), CERT_CHAIN_MAX);
	cert_chain_free(&ch);
	memcpy(many + m, one, n);
	cr_assert_eq(cert_chain_load((const uint8_t *)many, m + n, &ch), -E2BIG);
	cr_assert_eq(ch.n, 0);
	/* a corrupted block inside a chain */
	memcpy(many, one, n);
	many[100] = '!';
	cr_assert_eq(cert_chain_load((const uint8_t *)many, n, &ch), -EINVAL);
}

Test(cert, store_paths)
{
	struct cert_store *st = NULL;

	cr_assert_eq(cert_store_create(&st), 0);
	cr_assert_eq(cert_store_add_path(st, pki_path("no-such-dir")), -ENOENT);
	cr_assert_eq(cert_store_add_path(st, pki_path("leaf.key")), -ENOENT); /* no cert/CRL */
	cr_assert_eq(cert_store_add_path(st, pki_path("trust")), 2);
	cr_assert_eq(cert_store_n_anchors(st), 1);
	cr_assert_eq(cert_store_n_crls(st), 1);
	cert_store_free(st);
	cert_store_free(NULL);
	cr_assert_eq(cert_store_n_anchors(NULL), 0);
}

/* ---- cert_sti_check ------------------------------------------------------------------- */

Test(cert, good_leaf_passes)
{
	struct cert_store *st = store_new(true, true);
	struct cert_result r;
	int64_t now = (int64_t)time(NULL);
	char group[32];
	size_t gl;

	cr_assert_eq(check_file("chain.pem", st, now, "12155551212", NULL, &r), CERT_OK,
		     "%s", cert_check_str(r.failed));
	cr_assert_str_eq(r.spc, "1234");
	cr_assert_eq(r.warned, 0);
	cr_assert_eq(r.verify_error, 0);
	cr_assert_not_null(r.pkey);
	cr_assert(EVP_PKEY_get_utf8_string_param(r.pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						 sizeof(group), &gl));
	cr_assert_str_eq(group, "prime256v1");
	cr_assert(r.not_before <= now - 3000 && r.not_before >= now - 4000);
	cr_assert(r.not_after >= now + 30 * 86400 - 600 && r.not_after <= now + 30 * 86400 + 600);
	cert_result_clear(&r);
	cr_assert_null(r.pkey);
	cert_store_free(st);
}

Test(cert, key_verifies_es256)
{
	struct cert_store *st = store_new(false, false);
	struct cert_result r;
	FILE *f = fopen(pki_path("leaf.key"), "r");
	EVP_PKEY *priv;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[80];
	size_t sl = sizeof(sig);
	static const char msg[] = "header.claims";

	cr_assert_not_null(f);
	priv = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(priv);
	cr_assert_eq(check_file("chain.pem", st, 0, NULL, NULL, &r), CERT_OK);
	cr_assert_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv), 1);
	cr_assert_eq(EVP_DigestSign(md, sig, &sl, (const unsigned char *)msg, 13), 1);
	cr_assert_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, r.pkey), 1);
	cr_assert_eq(EVP_DigestVerify(md, sig, sl, (const unsigned char *)msg, 13), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(priv);
	cert_result_clear(&r);
	cert_store_free(st);
}

Test(cert, variant_expired) { expect("leaf-expired-chain.pem", CERT_EXPIRED); }
Test(cert, variant_not_yet_valid) { expect("leaf-notyet-chain.pem", CERT_NOT_YET_VALID); }
Test(cert, variant_p384) { expect("leaf-p384-chain.pem", CERT_KEY); }
Test(cert, variant_no_tnauth) { expect("leaf-notnauth-chain.pem", CERT_NO_TNAUTH); }
Test(cert, variant_revoked) { expect("leaf-revoked-chain.pem", CERT_REVOKED); }
Test(cert, variant_untrusted) { expect("leaf-untrusted-chain.pem", CERT_UNTRUSTED); }
Test(cert, variant_no_policy) { expect("leaf-nopolicy-chain.pem", CERT_POLICY); }
Test(cert, variant_wrong_policy) { expect("leaf-wrongpolicy-chain.pem", CERT_POLICY); }
Test(cert, variant_ca_leaf) { expect("leaf-ca-chain.pem", CERT_CA_LEAF); }
Test(cert, variant_key_usage) { expect("leaf-ku-chain.pem", CERT_KEY_USAGE); }
Test(cert, variant_tn_leaf_no_tn) { expect("leaf-tn-chain.pem", CERT_OK); }

Test(cert, missing_intermediate_untrusted)
{
	struct cert_store *st = store_new(false, false);
	struct cert_result r;

	cr_assert_eq(check_file("leaf.pem", st, 0, NULL, NULL, &r), CERT_UNTRUSTED);
	cr_assert_neq(r.verify_error, 0);
	cr_assert_null(r.pkey);
	cr_assert_str_eq(r.spc, "1234"); /* still extracted for the logs */
	cert_store_free(st);
}

Test(cert, untrusted_reports_verify_error)
{
	struct cert_store *st = store_new(false, false);
	struct cert_result r;

	cr_assert_eq(check_file("leaf-untrusted-chain.pem", st, 0, NULL, NULL, &r),
		     CERT_UNTRUSTED);
	cr_assert_neq(r.verify_error, 0);
	cert_store_free(st);
}

Test(cert, tn_coverage_in_check)
{
	struct cert_store *st = store_new(false, false);
	struct cert_result r;

	cr_expect_eq(check_file("leaf-tn-chain.pem", st, 0, "12155551212", NULL, &r), CERT_OK);
	cert_result_clear(&r);
	cr_expect_eq(check_file("leaf-tn-chain.pem", st, 0, "12155551350", NULL, &r), CERT_OK);
	cert_result_clear(&r);
	cr_expect_eq(check_file("leaf-tn-chain.pem", st, 0, "12155551400", NULL, &r),
		     CERT_TN_NOT_COVERED);
	cr_expect_eq(check_file("leaf-tn-chain.pem", st, 0, "12155551211", NULL, &r),
		     CERT_TN_NOT_COVERED);
	cr_expect_str_eq(r.spc, "1234");
	cr_expect_eq(r.tnauth.n, 3);
	/* an SPC-only certificate does not restrict the TN */
	cr_expect_eq(check_file("chain.pem", st, 0, "19995550000", NULL, &r), CERT_OK);
	cert_result_clear(&r);
	cert_store_free(st);
}

Test(cert, iat_outside_validity)
{
	struct cert_store *st = store_new(false, false);
	struct cert_result r;
	int64_t now = (int64_t)time(NULL);

	cr_assert_eq(check_file("chain.pem", st, now - 30, NULL, NULL, &r), CERT_OK);
	cert_result_clear(&r);
	cr_assert_eq(check_file("chain.pem", st, now - 86400, NULL, NULL, &r), CERT_IAT_OUTSIDE);
	cert_store_free(st);
}

Test(cert, revocation_sources)
{
	struct cert_store *st;
	struct cert_result r;

	/* the CA's CRL alone */
	st = store_new(true, false);
	cr_expect_eq(check_file("leaf-revoked-chain.pem", st, 0, NULL, NULL, &r), CERT_REVOKED);
	cert_store_free(st);
	/* the STI-PA's CRL alone */
	st = store_new(false, true);
	cr_expect_eq(check_file("leaf-revoked-chain.pem", st, 0, NULL, NULL, &r), CERT_REVOKED);
	cr_expect_eq(check_file("chain.pem", st, 0, NULL, NULL, &r), CERT_OK);
	cert_result_clear(&r);
	cert_store_free(st);
	/* the STI-PA's CRL without the STI-PA as signer: not counted */
	st = store_new(false, false);
	cr_assert_eq(cert_store_add_path(st, pki_path("sti-pa.crl")), 1);
	cr_expect_eq(check_file("leaf-revoked-chain.pem", st, 0, NULL, NULL, &r), CERT_OK);
	cert_result_clear(&r);
	/* a signer whose key did not sign it: still not counted */
	cr_assert_eq(cert_store_add_crl_signer_file(st, pki_path("untrusted-root.pem")), 1);
	cr_expect_eq(check_file("leaf-revoked-chain.pem", st, 0, NULL, NULL, &r), CERT_OK);
	cert_result_clear(&r);
	cert_store_free(st);
}

Test(cert, require_crl)
{
	struct cert_policy pol;
	struct cert_store *st;
	struct cert_result r;

	cert_policy_default(&pol);
	pol.require_crl = true;
	st = store_new(false, false);
	cr_expect_eq(check_file("chain.pem", st, 0, NULL, &pol, &r), CERT_CRL_MISSING);
	cert_store_free(st);
	st = store_new(true, false);
	cr_expect_eq(check_file("chain.pem", st, 0, NULL, &pol, &r), CERT_OK);
	cert_result_clear(&r);
	cert_store_free(st);
	st = store_new(false, true);
	cr_expect_eq(check_file("chain.pem", st, 0, NULL, &pol, &r), CERT_OK);
	cert_result_clear(&r);
	cert_store_free(st);
}

Test(cert, modes_warn_and_off)
{
	struct cert_store *st = store_new(false, false);
	struct cert_policy pol;
	struct cert_result r;

	cert_policy_default(&pol);
	pol.mode[CERT_EXPIRED] = CERT_MODE_WARN;
	cr_expect_eq(check_file("leaf-expired-chain.pem", st, 0, NULL, &pol, &r), CERT_OK);
	cr_expect_eq(r.warned, 1u << CERT_EXPIRED);
	cr_expect_not_null(r.pkey);
	cert_result_clear(&r);
	pol.mode[CERT_EXPIRED] = CERT_MODE_OFF;
	cr_expect_eq(check_file("leaf-expired-chain.pem", st, 0, NULL, &pol, &r), CERT_OK);
	cr_expect_eq(r.warned, 0);
	cert_result_clear(&r);
	/* two warnings, then a strict failure further down the list decides */
	cert_policy_default(&pol);
	pol.mode[CERT_CA_LEAF] = CERT_MODE_WARN;
	cr_expect_eq(check_file("leaf-ca-chain.pem", st, 0, NULL, &pol, &r), CERT_OK);
	cr_expect_eq(r.warned, 1u << CERT_CA_LEAF);
	cert_result_clear(&r);
	pol.mode[CERT_KEY] = CERT_MODE_WARN;
	cr_expect_eq(check_file("leaf-p384-chain.pem", st, 0, "12155551212", &pol, &r), CERT_OK);
	cr_expect_eq(r.warned, 1u << CERT_KEY);
	cert_result_clear(&r);
	pol.mode[CERT_NO_TNAUTH] = CERT_MODE_WARN;
	cr_expect_eq(check_file("leaf-notnauth-chain.pem", st, 0, "12155551212", &pol, &r),
		     CERT_OK);
	cr_expect_eq(r.warned, 1u << CERT_NO_TNAUTH);
	cr_expect_str_eq(r.spc, "");
	cert_result_clear(&r);
	pol.mode[CERT_UNTRUSTED] = CERT_MODE_WARN;
	cr_expect_eq(check_file("leaf-untrusted-chain.pem", st, 0, NULL, &pol, &r), CERT_OK);
	cr_expect_eq(r.warned, 1u << CERT_UNTRUSTED);
	cert_result_clear(&r);
	cert_store_free(st);
}

Test(cert, custom_policy_oids)
{
	struct cert_store *st = store_new(false, false);
	struct cert_policy pol;
	struct cert_result r;

	cert_policy_default(&pol);
	pol.policy_oids[0] = "1.3.6.1.4.1.99999.1";
	pol.n_policy_oids = 1;
	cr_expect_eq(check_file("leaf-wrongpolicy-chain.pem", st, 0, NULL, &pol, &r), CERT_OK);
	cert_result_clear(&r);
	cr_expect_eq(check_file("chain.pem", st, 0, NULL, &pol, &r), CERT_POLICY);
	cert_store_free(st);
}

Test(cert, check_misuse)
{
	struct cert_store *st = store_new(false, false);
	struct cert_chain ch = { .n = 0 };
	struct cert_result r;

	cr_expect_eq(cert_sti_check(&ch, st, 0, 0, NULL, NULL, &r), -EINVAL);
	cr_assert_eq(cert_chain_load_file(pki_path("chain.pem"), &ch), 2);
	cr_expect_eq(cert_sti_check(&ch, st, 0, 0, "+1215", NULL, &r), -EINVAL);
	cr_expect_eq(cert_sti_check(&ch, NULL, 0, 0, NULL, NULL, &r), -EINVAL);
	cr_expect_eq(cert_sti_check(&ch, st, 0, 0, NULL, NULL, NULL), -EINVAL);
	cert_chain_free(&ch);
	cert_store_free(st);
}

Test(cert, check_names)
{
	for (int c = 0; c < CERT_CHECK_COUNT; c++)
		cr_expect_gt(strlen(cert_check_str((enum cert_check)c)), 0, "check %d", c);
	cr_expect_str_eq(cert_check_str(CERT_CHECK_COUNT), "");
	cr_expect_str_eq(cert_check_str(CERT_REVOKED), "certificate revoked");
}

Test(cert, spc_token_shape)
{
	FILE *f = fopen(pki_path("spc-token.jwt"), "r");
	char tok[4096];
	char *dot1, *dot2;

	cr_assert_not_null(f);
	cr_assert_not_null(fgets(tok, sizeof(tok), f));
	fclose(f);
	dot1 = strchr(tok, '.');
	cr_assert_not_null(dot1);
	dot2 = strchr(dot1 + 1, '.');
	cr_assert_not_null(dot2);
	cr_assert_null(strchr(dot2 + 1, '.'));
	/* {"alg":"ES256","typ":"JWT", ... in base64url */
	cr_assert_eq(strncmp(tok, "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIs", 36), 0);
	cr_assert_eq(strlen(dot2 + 1), 86 + 1); /* 64-byte r||s, then '\n' */
}

Test(cert, store_rejects_corrupt_block)
{
	struct cert_store *st = NULL;
	char path[] = "/tmp/shakend-test-cert-bad.XXXXXX";
	FILE *f = fopen(pki_path("ca-root.pem"), "rb");
	char pem[4096];
	size_t n;
	int fd;

	cr_assert_not_null(f);
	n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	cr_assert_eq(pem[28], 'M'); /* base64 of the leading 0x30 */
	pem[28] = 'A'; /* still base64, no longer a certificate */
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, pem, n), (ssize_t)n);
	close(fd);
	cr_assert_eq(cert_store_create(&st), 0);
	cr_expect_eq(cert_store_add_path(st, path), -EINVAL);
	cr_expect_eq(cert_store_add_crl_signer_file(st, path), -EINVAL);
	cr_expect_eq(cert_store_n_anchors(st), 0);
	unlink(path);
	cert_store_free(st);
}
