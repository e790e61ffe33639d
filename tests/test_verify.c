/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verification procedure: one passing case with a real key (built by pp_shaken_init and
 * pp_sign), and one negative case per check, each asserting its verstat, code and check.
 * Negative tokens are written as JSON by hand and signed here with raw OpenSSL, so that they
 * can hold what the PASSporT builder refuses to produce.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "crypto/b64u.h"
#include "crypto/identity.h"
#include "crypto/pp.h"
#include "crypto/verify.h"

#define X5U "https://cert.example.org/passport.cer"
#define ORIG "12155551212"
#define DEST "12125551213"
#define ORIGID "123e4567-e89b-12d3-a456-426655440000"
#define IAT 1443208345
#define IATS "1443208345"

#define HDR "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}"
#define CLAIMS                                                                                   \
	"{\"attest\":\"A\",\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":" IATS ",\"orig\":{\"tn\":\"" \
	ORIG "\"},\"origid\":\"" ORIGID "\"}"
#define PARAMS ";info=<" X5U ">;alg=ES256;ppt=shaken"
#define BASIC_HDR "{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}"
#define BASIC_CLAIMS                                                                             \
	"{\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":" IATS ",\"orig\":{\"tn\":\"" ORIG "\"}}"

static EVP_PKEY *key;

static void setup(void)
{
	key = EVP_EC_gen("P-256");
	cr_assert_not_null(key);
}

static void teardown(void)
{
	EVP_PKEY_free(key);
	key = NULL;
}

TestSuite(verify, .init = setup, .fini = teardown);

/* ES256 r||s over msg with k, by raw OpenSSL (independent of the code under test). */
static void sign_raw(EVP_PKEY *k, const char *msg, size_t len, uint8_t sig[PP_SIG_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t der[80];
	size_t dl = sizeof(der);
	cr_assert_not_null(md);
	cr_assert_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
	cr_assert_eq(EVP_DigestSign(md, der, &dl, (const uint8_t *)msg, len), 1);
	const uint8_t *q = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dl);
	cr_assert_not_null(es);
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(es, &r, &s);
	cr_assert_eq(BN_bn2binpad(r, sig, 32), 32);
	cr_assert_eq(BN_bn2binpad(s, sig + 32, 32), 32);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
}

/* base64url(hdr) "." base64url(claims) "." base64url(sig) into out; returns its length. */
static size_t make_token(char *out, size_t cap, const char *hdr, const char *claims)
{
	uint8_t sig[PP_SIG_LEN];
	long a = b64u_encode(out, cap, (const uint8_t *)hdr, strlen(hdr));
	cr_assert_gt(a, 0);
	out[a] = '.';
	long b = b64u_encode(out + a + 1, cap - (size_t)a - 1, (const uint8_t *)claims,
			     strlen(claims));
	cr_assert_gt(b, 0);
	size_t n = (size_t)(a + 1 + b);
	sign_raw(key, out, n, sig);
	out[n++] = '.';
	long c = b64u_encode(out + n, cap - n - 1, sig, sizeof(sig));
	cr_assert_eq(c, 86);
	n += (size_t)c;
	out[n] = '\0';
	return n;
}

static struct pp_verify_params params(void)
{
	return (struct pp_verify_params){.now = IAT, .freshness = 60, .orig_tn = ORIG,
					 .dest_tn = DEST};
}

/* Builds "token<suffix>", runs both phases (phase 2 with key) and returns begin's value. */
static int run(struct pp_verify *v, const char *hdr, const char *claims, const char *suffix,
	       const struct pp_verify_params *p)
{
	static char value[PP_IDENTITY_MAX];
	size_t n = make_token(value, sizeof(value), hdr, claims);
	cr_assert_lt(n + strlen(suffix), sizeof(value));
	strcpy(value + n, suffix);
	struct pp_slice s = {value, strlen(value)};
	int rc = pp_verify_begin(v, &s, 1, p);
	if (rc == 1)
		pp_verify_end(v, key);
	return rc;
}

static void expect(const struct pp_verify *v, enum pp_verstat vs, enum pp_verdict code,
		   enum pp_check check)
{
	cr_assert_eq(v->check, check, "check %d (%s), want %d (%s); detail: %s", v->check,
		     pp_check_str(v->check), check, pp_check_str(check), v->detail);
	cr_assert_eq(v->verstat, vs, "verstat %s", pp_verstat_str(v->verstat));
	cr_assert_eq(v->code, code, "code %d", v->code);
	cr_assert_not_null(v->detail);
}

static void expect_final(struct pp_verify *v, int rc, enum pp_verstat vs, enum pp_verdict code,
			 enum pp_check check)
{
	cr_assert_eq(rc, 0, "phase 1 should have been final (check %s)", pp_check_str(v->check));
	expect(v, vs, code, check);
}

#define FAILED PP_VERSTAT_FAILED
#define NOVAL PP_VERSTAT_NO_VALIDATION

/* ---- passing ------------------------------------------------------------------------------ */

/* A pp_signer over raw OpenSSL: signs the digest pp_sign hands it. */
static int test_sign(void *ctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN])
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(ctx, NULL);
	uint8_t der[80];
	size_t dl = sizeof(der);
	int ok = pc && EVP_PKEY_sign_init(pc) == 1 && EVP_PKEY_sign(pc, der, &dl, digest, 32) == 1;
	EVP_PKEY_CTX_free(pc);
	if (!ok)
		return -EIO;
	const uint8_t *q = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dl);
	if (!es)
		return -EIO;
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(es, &r, &s);
	ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
	ECDSA_SIG_free(es);
	return ok ? 0 : -EIO;
}

/* Signs a SHAKEN PASSporT with pp_sign and signer, verifies it with key: must pass. */
static void sign_and_verify(const struct pp_signer *signer)
{
	struct pp_passport pp;
	const char *dest[] = {DEST};
	static char tok[PP_TOKEN_MAX], hdr[PP_IDENTITY_MAX];
	static struct pp_verify v;

	cr_assert_eq(pp_shaken_init(&pp, X5U, 'B', ORIG, dest, 1, IAT, ORIGID), 0);
	long n = pp_sign(&pp, signer, tok, sizeof(tok));
	cr_assert_gt(n, 0);
	long h = pp_identity_build(hdr, sizeof(hdr), tok, (size_t)n, &pp);
	cr_assert_gt(h, 0);

	struct pp_slice s = {hdr, (size_t)h};
	struct pp_verify_params p = params();
	p.orig_tn = "+1 (215) 555-1212"; /* any tn_canon form */
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1, "check %s: %s", pp_check_str(v.check),
		     v.detail);
	cr_assert_str_eq(v.x5u, X5U);
	cr_assert_eq(v.chosen, 0);
	pp_verify_end(&v, key);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
	cr_assert(v.have_passport);
	cr_assert_eq(v.pp.attest, 'B');
	cr_assert_str_eq(v.pp.orig.v, ORIG);
	cr_assert_eq(v.pp.n_dest, 1);
	cr_assert_str_eq(v.pp.dest[0].v, DEST);
	cr_assert_str_eq(v.pp.origid, ORIGID);
	cr_assert_eq(v.pp.iat, IAT);
	cr_assert_str_eq(v.pp.x5u, X5U);
	cr_assert_str_eq(pp_verstat_str(v.verstat), "TN-Validation-Passed");

	/* phase 2 again does nothing */
	pp_verify_end(&v, NULL);
	cr_assert_eq(v.verstat, PP_VERSTAT_PASSED);
}

Test(verify, passes_with_pp_sign_and_real_key)
{
	struct pp_signer signer = {.sign = test_sign, .ctx = key};
	sign_and_verify(&signer);
}

Test(verify, passes_with_pp_signer_evp)
{
	struct pp_signer signer;
	cr_assert_eq(pp_signer_evp(&signer, key), 0);
	sign_and_verify(&signer);
}

Test(verify, passes_hand_made_and_buffer_need_not_outlive_begin)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	size_t n = make_token(value, sizeof(value), HDR, CLAIMS);
	strcpy(value + n, PARAMS);
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	memset(value, 'x', sizeof(value));
	pp_verify_end(&v, key);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
}

Test(verify, several_headers_shaken_chosen)
{
	static char good[PP_IDENTITY_MAX];
	static struct pp_verify v;
	size_t n = make_token(good, sizeof(good), HDR, CLAIMS);
	strcpy(good + n, " ; ppt=\"shaken\" ; info=<" X5U ">");
	const char *div = "a.b.c;info=<https://x.example/c.pem>;ppt=div";
	struct pp_slice s[3] = {{"garbage", 7}, {div, strlen(div)}, {good, strlen(good)}};
	struct pp_verify_params p = params();
	cr_assert_eq(pp_verify_begin(&v, s, 3, &p), 1);
	cr_assert_eq(v.chosen, 2);
	pp_verify_end(&v, key);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
}

Test(verify, missing_ppt_parameter_tolerated_for_shaken_passport)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	cr_assert_eq(run(&v, HDR, CLAIMS, ";info=<" X5U ">", &p), 1);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
}

Test(verify, dest_among_several)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *c = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"15555550100\",\"" DEST
			"\"],\"uri\":[\"sip:a@example.com\"]},\"iat\":" IATS
			",\"orig\":{\"tn\":\"" ORIG "\"},\"origid\":\"" ORIGID "\"}";
	cr_assert_eq(run(&v, HDR, c, PARAMS, &p), 1);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
}

Test(verify, null_tns_skip_comparison)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	p.orig_tn = NULL;
	p.dest_tn = NULL;
	const char *c = "{\"attest\":\"C\",\"dest\":{\"tn\":[\"19995550100\"]},\"iat\":" IATS
			",\"orig\":{\"tn\":\"19995550199\"},\"origid\":\"" ORIGID "\"}";
	cr_assert_eq(run(&v, HDR, c, PARAMS, &p), 1);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
}

/* ---- no validation ------------------------------------------------------------------------ */

Test(verify, no_identity_is_428_no_validation)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	expect_final(&v, pp_verify_begin(&v, NULL, 0, &p), NOVAL, PP_VERDICT_USE_IDENTITY,
		     PP_CHECK_NO_IDENTITY);
	cr_assert_eq(v.chosen, -1);
	cr_assert_not(v.have_passport);
	cr_assert_str_eq(v.x5u, "");
}

Test(verify, only_other_ppt_is_428_no_validation)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *hdr = "{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":\"" X5U
			  "\"}";
	expect_final(&v, run(&v, hdr, CLAIMS, ";info=<" X5U ">;ppt=div", &p), NOVAL,
		     PP_VERDICT_USE_IDENTITY, PP_CHECK_NO_SHAKEN);
}

Test(verify, basic_passport_not_validated_unless_accepted)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *hdr = BASIC_HDR;
	const char *c = BASIC_CLAIMS;
	expect_final(&v, run(&v, hdr, c, ";info=<" X5U ">;alg=ES256", &p), NOVAL,
		     PP_VERDICT_USE_IDENTITY, PP_CHECK_NO_SHAKEN);
	p.accept_basic = true;
	cr_assert_eq(run(&v, hdr, c, ";info=<" X5U ">;alg=ES256", &p), 1);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
}

Test(verify, cert_fetch_failure_is_436_no_validation)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	size_t n = make_token(value, sizeof(value), HDR, CLAIMS);
	strcpy(value + n, PARAMS);
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	pp_verify_fail(&v, PP_CHECK_CERT_FETCH, "timeout");
	expect(&v, NOVAL, PP_VERDICT_BAD_INFO, PP_CHECK_CERT_FETCH);
	cr_assert_str_eq(v.detail, "timeout");
	/* final: a later end changes nothing */
	pp_verify_end(&v, key);
	cr_assert_eq(v.check, PP_CHECK_CERT_FETCH);
}

/* ---- failures ----------------------------------------------------------------------------- */

Test(verify, cert_invalid_is_437)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	size_t n = make_token(value, sizeof(value), HDR, CLAIMS);
	strcpy(value + n, PARAMS);
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	pp_verify_fail(&v, PP_CHECK_CERT_INVALID, NULL);
	expect(&v, FAILED, PP_VERDICT_UNSUPPORTED_CREDENTIAL, PP_CHECK_CERT_INVALID);
	cr_assert_str_eq(v.detail, pp_check_str(PP_CHECK_CERT_INVALID));
	/* no key at all: 437 too */
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	pp_verify_end(&v, NULL);
	expect(&v, FAILED, PP_VERDICT_UNSUPPORTED_CREDENTIAL, PP_CHECK_CERT_INVALID);
}

Test(verify, wrong_key_type_is_437)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	size_t n = make_token(value, sizeof(value), HDR, CLAIMS);
	strcpy(value + n, PARAMS);
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	cr_assert_not_null(ed);
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	pp_verify_end(&v, ed);
	EVP_PKEY_free(ed);
	expect(&v, FAILED, PP_VERDICT_UNSUPPORTED_CREDENTIAL, PP_CHECK_CERT_INVALID);
}

Test(verify, signature_by_other_key_is_438)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	size_t n = make_token(value, sizeof(value), HDR, CLAIMS);
	strcpy(value + n, PARAMS);
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	EVP_PKEY *other = EVP_EC_gen("P-256");
	cr_assert_not_null(other);
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	pp_verify_end(&v, other);
	EVP_PKEY_free(other);
	expect(&v, FAILED, PP_VERDICT_INVALID_IDENTITY, PP_CHECK_SIGNATURE);
	cr_assert(v.have_passport, "the parsed PASSporT stays available for reporting");
}

Test(verify, tampered_claims_fail_signature)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	size_t n = make_token(value, sizeof(value), HDR, CLAIMS);
	strcpy(value + n, PARAMS);
	/* re-encode the claims with attest C but keep the signature over attest A */
	char *dot1 = strchr(value, '.'), *dot2 = strchr(dot1 + 1, '.');
	static char forged[PP_IDENTITY_MAX];
	const char *c = "{\"attest\":\"C\",\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":" IATS
			",\"orig\":{\"tn\":\"" ORIG "\"},\"origid\":\"" ORIGID "\"}";
	size_t h = (size_t)(dot1 - value) + 1;
	memcpy(forged, value, h);
	long b = b64u_encode(forged + h, sizeof(forged) - h, (const uint8_t *)c, strlen(c));
	cr_assert_gt(b, 0);
	strcpy(forged + h + (size_t)b, dot2);
	struct pp_slice s = {forged, strlen(forged)};
	struct pp_verify_params p = params();
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	cr_assert_eq(v.pp.attest, 'C');
	pp_verify_end(&v, key);
	expect(&v, FAILED, PP_VERDICT_INVALID_IDENTITY, PP_CHECK_SIGNATURE);
}

Test(verify, garbage_header_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	struct pp_slice s[2] = {{"not a token", 11}, {"", 0}};
	expect_final(&v, pp_verify_begin(&v, s, 2, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_SYNTAX);
}

Test(verify, no_semicolon_is_436_no_crash)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	expect_final(&v, run(&v, HDR, CLAIMS, "", &p), FAILED, PP_VERDICT_BAD_INFO, PP_CHECK_INFO);
}

Test(verify, info_not_bracketed_or_not_https_is_436)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	expect_final(&v, run(&v, HDR, CLAIMS, ";info=https;ppt=shaken", &p), FAILED,
		     PP_VERDICT_BAD_INFO, PP_CHECK_INFO);
	expect_final(&v, run(&v, HDR, CLAIMS, ";info=<http://cert.example.org/p.cer>", &p),
		     FAILED, PP_VERDICT_BAD_INFO, PP_CHECK_INFO);
	expect_final(&v, run(&v, HDR, CLAIMS, ";info=<https://>", &p), FAILED,
		     PP_VERDICT_BAD_INFO, PP_CHECK_INFO);
}

Test(verify, alg_parameter_not_es256_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	expect_final(&v, run(&v, HDR, CLAIMS, ";info=<" X5U ">;alg=ES384;ppt=shaken", &p),
		     FAILED, PP_VERDICT_INVALID_IDENTITY, PP_CHECK_ALG);
}

Test(verify, alg_header_not_es256_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *hdr =
		"{\"alg\":\"ES384\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}";
	expect_final(&v, run(&v, hdr, CLAIMS, ";info=<" X5U ">;ppt=shaken", &p), FAILED,
		     PP_VERDICT_INVALID_IDENTITY, PP_CHECK_ALG);
	cr_assert(v.have_passport);
	const char *none = "{\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}";
	expect_final(&v, run(&v, none, CLAIMS, ";info=<" X5U ">;ppt=shaken", &p), FAILED,
		     PP_VERDICT_INVALID_IDENTITY, PP_CHECK_ALG);
}

Test(verify, malformed_token_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	/* iat as a string (the vector's shape) */
	const char *c = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":\"" IATS
			"\",\"orig\":{\"tn\":\"" ORIG "\"},\"origid\":\"" ORIGID "\"}";
	expect_final(&v, run(&v, HDR, c, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_TOKEN);
	cr_assert_str_neq(v.detail, "", "the parser's reason is kept");
	/* not JSON at all */
	expect_final(&v, run(&v, HDR, "nope", PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_TOKEN);
	/* attest outside A, B, C */
	const char *d = "{\"attest\":\"D\",\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":" IATS
			",\"orig\":{\"tn\":\"" ORIG "\"},\"origid\":\"" ORIGID "\"}";
	expect_final(&v, run(&v, HDR, d, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_TOKEN);
	/* a signature that is not 64 bytes */
	const char *tok = "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjF9.c2ln;info=<" X5U ">;ppt=shaken";
	struct pp_slice s = {tok, strlen(tok)};
	expect_final(&v, pp_verify_begin(&v, &s, 1, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_TOKEN);
}

Test(verify, typ_not_passport_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *hdr =
		"{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"JWT\",\"x5u\":\"" X5U "\"}";
	expect_final(&v, run(&v, hdr, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_TYP);
}

Test(verify, typ_absent_is_accepted)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *hdr = "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"x5u\":\"" X5U "\"}";
	cr_assert_eq(run(&v, hdr, CLAIMS, PARAMS, &p), 1);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
}

Test(verify, ppt_parameter_mismatch_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *hdr = "{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":\"" X5U
			  "\"}";
	expect_final(&v, run(&v, hdr, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_PPT);
	const char *none = "{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}";
	expect_final(&v, run(&v, none, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_PPT);
}

Test(verify, x5u_not_https_is_436)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *hdr = "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\","
			  "\"x5u\":\"http://cert.example.org/passport.cer\"}";
	expect_final(&v, run(&v, hdr, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_BAD_INFO,
		     PP_CHECK_X5U);
	const char *none = "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\"}";
	expect_final(&v, run(&v, none, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_BAD_INFO,
		     PP_CHECK_X5U);
}

Test(verify, x5u_differs_from_info_is_436)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	expect_final(&v,
		     run(&v, HDR, CLAIMS, ";info=<https://cert.example.org/other.cer>;ppt=shaken",
			 &p),
		     FAILED, PP_VERDICT_BAD_INFO, PP_CHECK_X5U_INFO);
}

Test(verify, attest_absent_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *c = "{\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":" IATS ","
			"\"orig\":{\"tn\":\"" ORIG "\"},\"origid\":\"" ORIGID "\"}";
	expect_final(&v, run(&v, HDR, c, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_ATTEST);
}

Test(verify, origid_absent_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *c = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":" IATS
			",\"orig\":{\"tn\":\"" ORIG "\"}}";
	expect_final(&v, run(&v, HDR, c, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_ORIGID);
	const char *e = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":" IATS
			",\"orig\":{\"tn\":\"" ORIG "\"},\"origid\":\"\"}";
	expect_final(&v, run(&v, HDR, e, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_ORIGID);
}

Test(verify, iat_absent_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	const char *c = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"" DEST "\"]},"
			"\"orig\":{\"tn\":\"" ORIG "\"},\"origid\":\"" ORIGID "\"}";
	expect_final(&v, run(&v, HDR, c, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_IAT);
}

Test(verify, stale_iat_is_403)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	p.now = IAT + 60; /* at the edge: still fresh */
	cr_assert_eq(run(&v, HDR, CLAIMS, PARAMS, &p), 1);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
	p.now = IAT + 61;
	expect_final(&v, run(&v, HDR, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_STALE_DATE,
		     PP_CHECK_STALE);
	cr_assert_str_eq(pp_verdict_reason(v.code), "Stale Date");
	/* freshness 0 selects the default, 60 s */
	p.freshness = 0;
	expect_final(&v, run(&v, HDR, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_STALE_DATE,
		     PP_CHECK_STALE);
	p.freshness = 3600;
	cr_assert_eq(run(&v, HDR, CLAIMS, PARAMS, &p), 1);
}

Test(verify, future_iat_is_403)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	p.now = IAT - PP_SKEW_DEFAULT; /* at the edge of the default skew */
	cr_assert_eq(run(&v, HDR, CLAIMS, PARAMS, &p), 1);
	p.now = IAT - PP_SKEW_DEFAULT - 1;
	expect_final(&v, run(&v, HDR, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_STALE_DATE,
		     PP_CHECK_FUTURE);
	p.skew = 10;
	cr_assert_eq(run(&v, HDR, CLAIMS, PARAMS, &p), 1);
}

Test(verify, orig_mismatch_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	p.orig_tn = "12155551213";
	expect_final(&v, run(&v, HDR, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_ORIG);
	/* an orig uri cannot match a calling TN */
	p = params();
	const char *c = "{\"attest\":\"A\",\"dest\":{\"tn\":[\"" DEST "\"]},\"iat\":" IATS
			",\"orig\":{\"uri\":\"sip:alice@example.com\"},\"origid\":\"" ORIGID "\"}";
	expect_final(&v, run(&v, HDR, c, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_ORIG);
}

Test(verify, dest_mismatch_is_438)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	p.dest_tn = "+1 212 555 1214";
	expect_final(&v, run(&v, HDR, CLAIMS, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_DEST);
	p = params();
	const char *c = "{\"attest\":\"A\",\"dest\":{\"uri\":[\"sip:" DEST "@example.com\"]},"
			"\"iat\":" IATS ",\"orig\":{\"tn\":\"" ORIG "\"},"
			"\"origid\":\"" ORIGID "\"}";
	expect_final(&v, run(&v, HDR, c, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_DEST);
	const char *none = "{\"attest\":\"A\",\"iat\":" IATS ",\"orig\":{\"tn\":\"" ORIG
			   "\"},\"origid\":\"" ORIGID "\"}";
	expect_final(&v, run(&v, HDR, none, PARAMS, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_DEST);
}

/* ---- compact form ------------------------------------------------------------------------- */

/* "..sig" of a basic PASSporT signed with key, then suffix. */
static void compact(char *out, size_t cap, const char *hdr, const char *claims, const char *sfx)
{
	static char full[PP_IDENTITY_MAX];
	size_t n = make_token(full, sizeof(full), hdr, claims);
	const char *sig = strrchr(full, '.');
	cr_assert_not_null(sig);
	cr_assert_lt((size_t)snprintf(out, cap, ".%s%s", sig, sfx), cap);
	(void)n;
}

Test(verify, compact_basic_rebuilt_and_verified)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	compact(value, sizeof(value), BASIC_HDR, BASIC_CLAIMS, ";info=<" X5U ">;alg=ES256");
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	p.accept_basic = true;
	p.date = IAT + 2;
	p.now = IAT + 3;
	/* a Date other than the signed iat: the rebuilt input differs */
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	pp_verify_end(&v, key);
	expect(&v, FAILED, PP_VERDICT_INVALID_IDENTITY, PP_CHECK_SIGNATURE);
	/* the Date the signer used */
	p.date = IAT;
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	cr_assert(v.compact);
	cr_assert_str_eq(v.x5u, X5U);
	cr_assert_eq(v.pp.iat, IAT);
	cr_assert_str_eq(v.pp.orig.v, ORIG);
	pp_verify_end(&v, key);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
	/* a stale Date */
	p.now = IAT + 61;
	expect_final(&v, pp_verify_begin(&v, &s, 1, &p), FAILED, PP_VERDICT_STALE_DATE,
		     PP_CHECK_STALE);
}

Test(verify, compact_basic_needs_accept_basic_and_context)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	compact(value, sizeof(value), BASIC_HDR, BASIC_CLAIMS, ";info=<" X5U ">");
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	p.date = IAT;
	expect_final(&v, pp_verify_begin(&v, &s, 1, &p), NOVAL, PP_VERDICT_USE_IDENTITY,
		     PP_CHECK_NO_SHAKEN);
	p.accept_basic = true;
	p.date = 0;
	expect_final(&v, pp_verify_begin(&v, &s, 1, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_COMPACT);
	p.date = IAT;
	p.orig_tn = NULL;
	expect_final(&v, pp_verify_begin(&v, &s, 1, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_COMPACT);
}

Test(verify, compact_shaken_is_438)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	compact(value, sizeof(value), HDR, CLAIMS, PARAMS);
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	p.accept_basic = true;
	p.date = IAT;
	expect_final(&v, pp_verify_begin(&v, &s, 1, &p), FAILED, PP_VERDICT_INVALID_IDENTITY,
		     PP_CHECK_COMPACT);
}

Test(verify, compact_vector_never_passes)
{
	/* tests/vectors/README.md: its full token had a string iat; rebuilt, it cannot verify */
	static struct pp_verify v;
	const char *val = "..rq3pjT1hoRwakEGjHCnWSwUnshd0-zJ6F1VOgFWSjHBr8Qjpjlk-cpFYpFYsojNCpTz"
			  "O3QfPOlckGaS6hEck7w;info=<" X5U ">;alg=ES256";
	struct pp_slice s = {val, strlen(val)};
	struct pp_verify_params p = params();
	p.accept_basic = true;
	p.date = IAT;
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), 1);
	pp_verify_end(&v, key);
	expect(&v, FAILED, PP_VERDICT_INVALID_IDENTITY, PP_CHECK_SIGNATURE);
}

/* ---- misuse and strings ------------------------------------------------------------------- */

Test(verify, misuse_is_einval)
{
	static struct pp_verify v;
	struct pp_verify_params p = params();
	struct pp_slice s = {"x", 1};
	cr_assert_eq(pp_verify_begin(NULL, &s, 1, &p), -EINVAL);
	cr_assert_eq(pp_verify_begin(&v, &s, 1, NULL), -EINVAL);
	cr_assert_eq(pp_verify_begin(&v, NULL, 1, &p), -EINVAL);
	p.freshness = -1;
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), -EINVAL);
	p = params();
	p.skew = -1;
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), -EINVAL);
	p = params();
	p.orig_tn = "alice";
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), -EINVAL);
	p = params();
	p.dest_tn = "";
	cr_assert_eq(pp_verify_begin(&v, &s, 1, &p), -EINVAL);
	/* end and fail without a begin that returned 1: no effect, no crash */
	memset(&v, 0, sizeof(v));
	pp_verify_end(&v, key);
	pp_verify_fail(&v, PP_CHECK_CERT_FETCH, NULL);
	cr_assert_eq(v.check, PP_CHECK_OK);
	cr_assert_eq(v.verstat, PP_VERSTAT_NO_VALIDATION);
	pp_verify_end(NULL, key);
	pp_verify_fail(NULL, PP_CHECK_CERT_FETCH, NULL);
}

Test(verify, strings_and_table)
{
	cr_assert_str_eq(pp_verstat_str(PP_VERSTAT_PASSED), "TN-Validation-Passed");
	cr_assert_str_eq(pp_verstat_str(PP_VERSTAT_FAILED), "TN-Validation-Failed");
	cr_assert_str_eq(pp_verstat_str(PP_VERSTAT_NO_VALIDATION), "No-TN-Validation");
	cr_assert_str_eq(pp_verstat_str((enum pp_verstat)42), "");
	cr_assert_str_eq(pp_verdict_reason(PP_VERDICT_STALE_DATE), "Stale Date");
	cr_assert_str_eq(pp_verdict_reason(PP_VERDICT_USE_IDENTITY), "Use Identity Header");
	cr_assert_str_eq(pp_verdict_reason(PP_VERDICT_BAD_INFO), "Bad Identity Info");
	cr_assert_str_eq(pp_verdict_reason(PP_VERDICT_UNSUPPORTED_CREDENTIAL),
			 "Unsupported Credential");
	cr_assert_str_eq(pp_verdict_reason(PP_VERDICT_INVALID_IDENTITY), "Invalid Identity Header");
	cr_assert_str_eq(pp_verdict_reason((enum pp_verdict)500), "");
	cr_assert_str_eq(pp_check_str(PP_CHECK_COUNT_), "");
	for (int c = 0; c < PP_CHECK_COUNT_; c++) {
		cr_assert_str_neq(pp_check_str((enum pp_check)c), "", "check %d has no text", c);
		enum pp_verstat vs = pp_check_verstat((enum pp_check)c);
		enum pp_verdict code = pp_check_verdict((enum pp_check)c);
		cr_assert_eq(vs == PP_VERSTAT_PASSED, c == PP_CHECK_OK);
		cr_assert_eq(code == PP_VERDICT_PASSED, c == PP_CHECK_OK);
		cr_assert_str_neq(pp_verdict_reason(code), "");
	}
	cr_assert_eq(pp_check_verstat(PP_CHECK_NO_IDENTITY), PP_VERSTAT_NO_VALIDATION);
	cr_assert_eq(pp_check_verdict(PP_CHECK_CERT_INVALID), PP_VERDICT_UNSUPPORTED_CREDENTIAL);
}

/* ---- phase 2 with a key prepared once (the certificate cache's form) --------------------- */

/* Begins verification of a hand-made, correctly signed SHAKEN token; must need a certificate. */
static void begin_good(struct pp_verify *v, char *value, size_t cap)
{
	size_t n = make_token(value, cap, HDR, CLAIMS);
	strcpy(value + n, PARAMS);
	struct pp_slice s = {value, strlen(value)};
	struct pp_verify_params p = params();
	cr_assert_eq(pp_verify_begin(v, &s, 1, &p), 1);
}

Test(verify, prepared_key_passes)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	struct pp_es256_pub pub;
	cr_assert_eq(pp_es256_pub_init(&pub, key), 0);
	begin_good(&v, value, sizeof(value));
	pp_verify_end_pub(&v, &pub);
	pp_es256_pub_release(&pub);
	expect(&v, PP_VERSTAT_PASSED, PP_VERDICT_PASSED, PP_CHECK_OK);
}

Test(verify, prepared_key_of_other_certificate_is_438)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	struct pp_es256_pub pub;
	EVP_PKEY *other = EVP_EC_gen("P-256");
	cr_assert_not_null(other);
	cr_assert_eq(pp_es256_pub_init(&pub, other), 0);
	EVP_PKEY_free(other);
	begin_good(&v, value, sizeof(value));
	pp_verify_end_pub(&v, &pub);
	pp_es256_pub_release(&pub);
	expect(&v, FAILED, PP_VERDICT_INVALID_IDENTITY, PP_CHECK_SIGNATURE);
}

Test(verify, prepared_key_missing_or_released_is_437)
{
	static char value[PP_IDENTITY_MAX];
	static struct pp_verify v;
	struct pp_es256_pub pub;
	begin_good(&v, value, sizeof(value));
	pp_verify_end_pub(&v, NULL);
	expect(&v, FAILED, PP_VERDICT_UNSUPPORTED_CREDENTIAL, PP_CHECK_CERT_INVALID);

	cr_assert_eq(pp_es256_pub_init(&pub, key), 0);
	pp_es256_pub_release(&pub);
	begin_good(&v, value, sizeof(value));
	pp_verify_end_pub(&v, &pub);
	expect(&v, FAILED, PP_VERDICT_UNSUPPORTED_CREDENTIAL, PP_CHECK_CERT_INVALID);
}
