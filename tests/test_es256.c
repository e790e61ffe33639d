/* SPDX-License-Identifier: BSD-3-Clause */
/* ES256: RFC 7515 A.3 known answer, SHA-256 known answer, DER <-> r||s, sign then verify. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/b64u.h"
#include "crypto/pp.h"

#ifndef SHAKEND_VECTORS
#define SHAKEND_VECTORS "tests/vectors"
#endif

#define A3_SIG                                                                                     \
	"DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

static size_t read_vector(const char *name, char *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "%s/%s", SHAKEND_VECTORS, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	cr_assert(n > 0 && n < cap, "%s: unexpected size", path);
	return n;
}

static EVP_PKEY *a3_pub(void)
{
	char path[512];
	EVP_PKEY *k;
	FILE *f;

	snprintf(path, sizeof path, "%s/rfc7515-a3.pub.pem", SHAKEND_VECTORS);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(k);
	return k;
}

static void a3_sig(uint8_t sig[PP_SIG_LEN])
{
	cr_assert_eq(b64u_decode(sig, PP_SIG_LEN, A3_SIG, strlen(A3_SIG)), PP_SIG_LEN);
}

Test(es256, rfc7515_a3_verifies)
{
	char in[1024];
	size_t n = read_vector("rfc7515-a3.input", in, sizeof in);
	uint8_t sig[PP_SIG_LEN];
	EVP_PKEY *pub = a3_pub();

	a3_sig(sig);
	cr_assert_eq(pp_es256_verify(pub, in, n, sig), 0);
	EVP_PKEY_free(pub);
}

Test(es256, rfc7515_a3_any_flipped_byte_fails)
{
	char in[1024];
	size_t n = read_vector("rfc7515-a3.input", in, sizeof in);
	uint8_t sig[PP_SIG_LEN];
	EVP_PKEY *pub = a3_pub();

	a3_sig(sig);
	for (size_t i = 0; i < n; i++) {
		in[i] ^= 0x01;
		cr_assert_eq(pp_es256_verify(pub, in, n, sig), -EBADMSG, "input byte %zu", i);
		in[i] ^= 0x01;
	}
	for (size_t i = 0; i < PP_SIG_LEN; i++) {
		sig[i] ^= 0x80;
		cr_assert_eq(pp_es256_verify(pub, in, n, sig), -EBADMSG, "signature byte %zu", i);
		sig[i] ^= 0x80;
	}
	cr_assert_eq(pp_es256_verify(pub, in, n - 1, sig), -EBADMSG, "truncated input");
	cr_assert_eq(pp_es256_verify(pub, in, n, sig), 0);
	EVP_PKEY_free(pub);
}

Test(es256, zero_signature_fails)
{
	uint8_t sig[PP_SIG_LEN] = {0};
	EVP_PKEY *pub = a3_pub();

	cr_assert_eq(pp_es256_verify(pub, "x", 1, sig), -EBADMSG);
	EVP_PKEY_free(pub);
}

Test(es256, sha256_known_answers)
{
	/* FIPS 180-2 "abc" and the empty string */
	static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
					0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
					0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
					0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	static const uint8_t empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
					  0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
					  0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
					  0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	uint8_t d[32];

	cr_assert_eq(pp_sha256("abc", 3, d), 0);
	cr_assert(memcmp(d, abc, 32) == 0);
	cr_assert_eq(pp_sha256(NULL, 0, d), 0);
	cr_assert(memcmp(d, empty, 32) == 0);
}

/* ---- DER ---- */

static void fill(uint8_t *p, size_t n, uint8_t v)
{
	memset(p, v, n);
}

Test(es256, der_small_and_high_bit_values)
{
	uint8_t sig[PP_SIG_LEN] = {0}, der[80], back[PP_SIG_LEN];
	long n;

	/* r = 1, s = 0x80 (needs a 00 pad) */
	sig[31] = 1;
	sig[63] = 0x80;
	n = pp_es256_sig_to_der(sig, der, sizeof der);
	static const uint8_t want1[] = {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80};
	cr_assert_eq(n, (long)sizeof want1);
	cr_assert(memcmp(der, want1, sizeof want1) == 0);
	cr_assert_eq(pp_es256_sig_from_der(der, (size_t)n, back), 0);
	cr_assert(memcmp(back, sig, PP_SIG_LEN) == 0);

	/* r = 0 is encoded 02 01 00 */
	memset(sig, 0, sizeof sig);
	sig[63] = 5;
	n = pp_es256_sig_to_der(sig, der, sizeof der);
	static const uint8_t want0[] = {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x05};
	cr_assert_eq(n, (long)sizeof want0);
	cr_assert(memcmp(der, want0, sizeof want0) == 0);
	cr_assert_eq(pp_es256_sig_from_der(der, (size_t)n, back), 0);
	cr_assert(memcmp(back, sig, PP_SIG_LEN) == 0);
}

Test(es256, der_full_size_and_leading_zero_round_trips)
{
	uint8_t sig[PP_SIG_LEN], der[80], back[PP_SIG_LEN];
	long n;

	/* both high bit: 2 + 2 * (2 + 33) = 72 */
	fill(sig, PP_SIG_LEN, 0xff);
	n = pp_es256_sig_to_der(sig, der, sizeof der);
	cr_assert_eq(n, 72);
	cr_assert_eq(der[1], 70);
	cr_assert_eq(der[3], 33);
	cr_assert_eq(der[4], 0);
	cr_assert_eq(pp_es256_sig_from_der(der, (size_t)n, back), 0);
	cr_assert(memcmp(back, sig, PP_SIG_LEN) == 0);
	cr_assert_eq(pp_es256_sig_to_der(sig, der, 71), -ENOSPC);

	/* r 00 80 ..: 31 bytes with the high bit: 02 20 00 80 ..; s 00 7f ..: 02 1f 7f .. */
	fill(sig, PP_SIG_LEN, 0x11);
	sig[0] = 0;
	sig[1] = 0x80;
	sig[32] = 0;
	sig[33] = 0x7f;
	n = pp_es256_sig_to_der(sig, der, sizeof der);
	cr_assert_eq(n, 2 + 2 + 32 + 2 + 31);
	cr_assert_eq(der[2], 0x02);
	cr_assert_eq(der[3], 32);
	cr_assert_eq(der[4], 0x00);
	cr_assert_eq(der[5], 0x80);
	cr_assert_eq(der[36], 0x02);
	cr_assert_eq(der[37], 31);
	cr_assert_eq(der[38], 0x7f);
	cr_assert_eq(pp_es256_sig_from_der(der, (size_t)n, back), 0);
	cr_assert(memcmp(back, sig, PP_SIG_LEN) == 0);

	/* many leading zeros */
	memset(sig, 0, sizeof sig);
	sig[20] = 0x01;
	sig[40] = 0xc0;
	n = pp_es256_sig_to_der(sig, der, sizeof der);
	cr_assert_eq(pp_es256_sig_from_der(der, (size_t)n, back), 0);
	cr_assert(memcmp(back, sig, PP_SIG_LEN) == 0);
}

Test(es256, der_malformed_rejected)
{
	static const struct {
		const char *what;
		uint8_t der[80];
		size_t len;
	} bad[] = {
	    {"non-minimal r", {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01}, 9},
	    {"negative r", {0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01}, 8},
	    {"negative s", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0xff}, 8},
	    {"zero-length r", {0x30, 0x06, 0x02, 0x00, 0x02, 0x02, 0x00, 0x81}, 8},
	    {"trailing byte", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00}, 9},
	    {"sequence length short", {0x30, 0x05, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 8},
	    {"sequence length long", {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 8},
	    {"long-form length", {0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 9},
	    {"not a sequence", {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, 8},
	    {"r not an integer", {0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01}, 8},
	    {"integer runs past the end", {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x02, 0x01}, 8},
	    {"third integer",
	     {0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},
	     11},
	    {"empty", {0}, 0},
	};
	uint8_t sig[PP_SIG_LEN];

	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
		cr_expect_eq(pp_es256_sig_from_der(bad[k].der, bad[k].len, sig), -EINVAL, "%s",
			     bad[k].what);
}

Test(es256, der_oversize_integer_rejected)
{
	uint8_t der[80], sig[PP_SIG_LEN];

	/* r of 33 bytes without a sign pad: 01 then 32 bytes (above 2^256) */
	der[0] = 0x30;
	der[1] = 2 + 33 + 3;
	der[2] = 0x02;
	der[3] = 33;
	der[4] = 0x01;
	memset(der + 5, 0x22, 32);
	der[37] = 0x02;
	der[38] = 0x01;
	der[39] = 0x01;
	cr_assert_eq(pp_es256_sig_from_der(der, 40, sig), -EINVAL);
	/* r of 34 bytes: 00 00 80 ... (non-minimal and oversize) */
	der[1] = 2 + 34 + 3;
	der[3] = 34;
	der[4] = 0x00;
	der[5] = 0x00;
	der[6] = 0x80;
	memset(der + 7, 0x22, 31);
	der[38] = 0x02;
	der[39] = 0x01;
	der[40] = 0x01;
	cr_assert_eq(pp_es256_sig_from_der(der, 41, sig), -EINVAL);
}

/* ---- keys, sign and verify ---- */

Test(es256, openssl_der_round_trips_and_verifies)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct pp_signer s;
	uint8_t digest[32], sig[PP_SIG_LEN], der[80], back[PP_SIG_LEN];

	cr_assert_not_null(key);
	cr_assert_eq(pp_signer_evp(&s, key), 0);
	for (int i = 0; i < 64; i++) {
		char msg[32];
		int ml = snprintf(msg, sizeof msg, "message %d", i);
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
		size_t dl = sizeof der;
		long n;

		cr_assert_eq(pp_sha256(msg, (size_t)ml, digest), 0);
		/* OpenSSL's own DER: from_der then to_der must give the same bytes back */
		cr_assert_not_null(c);
		cr_assert_eq(EVP_PKEY_sign_init(c), 1);
		cr_assert_eq(EVP_PKEY_sign(c, der, &dl, digest, 32), 1);
		EVP_PKEY_CTX_free(c);
		cr_assert_eq(pp_es256_sig_from_der(der, dl, sig), 0);
		uint8_t der2[80];
		n = pp_es256_sig_to_der(sig, der2, sizeof der2);
		cr_assert_eq(n, (long)dl);
		cr_assert(memcmp(der, der2, dl) == 0);
		cr_assert_eq(pp_es256_verify(key, msg, (size_t)ml, sig), 0);

		/* and our signer */
		cr_assert_eq(s.sign(s.ctx, digest, back), 0);
		cr_assert_eq(pp_es256_verify(key, msg, (size_t)ml, back), 0);
		cr_assert_eq(pp_es256_verify(key, msg, (size_t)ml - 1, back), -EBADMSG);
	}
	EVP_PKEY_free(key);
}

Test(es256, signature_from_other_key_fails)
{
	EVP_PKEY *k1 = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
	struct pp_signer s;
	uint8_t d[32], sig[PP_SIG_LEN];

	cr_assert_eq(pp_signer_evp(&s, k1), 0);
	cr_assert_eq(pp_sha256("hello", 5, d), 0);
	cr_assert_eq(s.sign(s.ctx, d, sig), 0);
	cr_assert_eq(pp_es256_verify(k1, "hello", 5, sig), 0);
	cr_assert_eq(pp_es256_verify(k2, "hello", 5, sig), -EBADMSG);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

Test(es256, wrong_key_types_rejected)
{
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *pub = a3_pub();
	struct pp_signer s;
	uint8_t sig[PP_SIG_LEN] = {1};

	cr_assert_not_null(p384);
	cr_assert_not_null(ed);
	cr_assert_eq(pp_signer_evp(&s, p384), -EINVAL);
	cr_assert_eq(pp_signer_evp(&s, ed), -EINVAL);
	cr_assert_eq(pp_signer_evp(&s, NULL), -EINVAL);
	cr_assert_eq(pp_signer_evp(&s, pub), -EINVAL, "a public key cannot sign");
	cr_assert_eq(pp_es256_verify(p384, "x", 1, sig), -EINVAL);
	cr_assert_eq(pp_es256_verify(ed, "x", 1, sig), -EINVAL);
	cr_assert_eq(pp_es256_verify(NULL, "x", 1, sig), -EINVAL);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(pub);
}

/* ---- prepared forms: pp_signer_evp_open, pp_es256_pub ----------------------------------- */

Test(es256, open_signer_signs_and_prepared_key_verifies)
{
	EVP_PKEY *k = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	struct pp_signer s;
	struct pp_es256_pub p, po;
	uint8_t d[32], sig[PP_SIG_LEN];

	cr_assert_eq(pp_signer_evp_open(&s, k), 0);
	cr_assert_eq(pp_es256_pub_init(&p, k), 0);
	cr_assert_eq(pp_es256_pub_init(&po, other), 0);
	cr_assert_eq(pp_sha256("hello", 5, d), 0);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(s.sign(s.ctx, d, sig), 0);
		cr_assert_eq(pp_es256_verify(k, "hello", 5, sig), 0);
		cr_assert_eq(pp_es256_pub_verify(&p, "hello", 5, sig), 0);
		cr_assert_eq(pp_es256_pub_verify(&p, "hellp", 5, sig), -EBADMSG);
		cr_assert_eq(pp_es256_pub_verify(&po, "hello", 5, sig), -EBADMSG);
	}
	pp_signer_close(&s);
	cr_assert_null(s.sign);
	cr_assert_null(s.ctx);
	pp_signer_close(&s); /* closed twice: nothing */
	pp_signer_close(NULL);
	pp_es256_pub_release(&p);
	cr_assert_null(p.ctx);
	pp_es256_pub_release(&p);
	pp_es256_pub_release(NULL);
	cr_assert_eq(pp_es256_pub_verify(&p, "hello", 5, sig), -EINVAL, "released");
	pp_es256_pub_release(&po);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

Test(es256, prepared_forms_hold_their_own_key_reference)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct pp_signer s;
	struct pp_es256_pub p;
	uint8_t d[32], sig[PP_SIG_LEN];

	cr_assert_eq(pp_signer_evp_open(&s, k), 0);
	cr_assert_eq(pp_es256_pub_init(&p, k), 0);
	EVP_PKEY_free(k); /* the caller's reference: both still work (ASan would tell) */
	cr_assert_eq(pp_sha256("x", 1, d), 0);
	cr_assert_eq(s.sign(s.ctx, d, sig), 0);
	cr_assert_eq(pp_es256_pub_verify(&p, "x", 1, sig), 0);
	pp_signer_close(&s);
	pp_es256_pub_release(&p);
}

Test(es256, prepared_key_rfc7515_a3)
{
	char in[1024];
	size_t n = read_vector("rfc7515-a3.input", in, sizeof in);
	uint8_t sig[PP_SIG_LEN];
	EVP_PKEY *pub = a3_pub();
	struct pp_es256_pub p;

	a3_sig(sig);
	cr_assert_eq(pp_es256_pub_init(&p, pub), 0);
	EVP_PKEY_free(pub);
	cr_assert_eq(pp_es256_pub_verify(&p, in, n, sig), 0);
	for (size_t i = 0; i < n; i++) {
		in[i] ^= 0x01;
		cr_assert_eq(pp_es256_pub_verify(&p, in, n, sig), -EBADMSG, "input byte %zu", i);
		in[i] ^= 0x01;
	}
	for (size_t i = 0; i < PP_SIG_LEN; i++) {
		sig[i] ^= 0x80;
		cr_assert_eq(pp_es256_pub_verify(&p, in, n, sig), -EBADMSG, "signature byte %zu",
			     i);
		sig[i] ^= 0x80;
	}
	memset(sig, 0, sizeof sig);
	cr_assert_eq(pp_es256_pub_verify(&p, in, n, sig), -EBADMSG, "zero signature");
	pp_es256_pub_release(&p);
}

static int failing_stub(void *ctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN])
{
	(void)ctx;
	(void)digest;
	(void)sig;
	return -EIO;
}

Test(es256, prepared_forms_reject_what_the_plain_ones_reject)
{
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *pub = a3_pub();
	struct pp_signer s = {failing_stub, (void *)1};
	struct pp_es256_pub p = {(EVP_PKEY_CTX *)1};
	uint8_t sig[PP_SIG_LEN] = {1};

	cr_assert_not_null(p384);
	cr_assert_not_null(ed);
	cr_assert_eq(pp_signer_evp_open(&s, p384), -EINVAL);
	cr_assert_null(s.sign, "zeroed on error");
	cr_assert_null(s.ctx);
	cr_assert_eq(pp_signer_evp_open(&s, ed), -EINVAL);
	cr_assert_eq(pp_signer_evp_open(&s, NULL), -EINVAL);
	cr_assert_eq(pp_signer_evp_open(&s, pub), -EINVAL, "a public key cannot sign");
	cr_assert_eq(pp_signer_evp_open(NULL, pub), -EINVAL);
	pp_signer_close(&s);
	cr_assert_eq(pp_es256_pub_init(&p, p384), -EINVAL);
	cr_assert_null(p.ctx, "no context on error");
	cr_assert_eq(pp_es256_pub_init(&p, ed), -EINVAL);
	cr_assert_eq(pp_es256_pub_init(&p, NULL), -EINVAL);
	cr_assert_eq(pp_es256_pub_init(NULL, pub), -EINVAL);
	cr_assert_eq(pp_es256_pub_verify(&p, "x", 1, sig), -EINVAL);
	cr_assert_eq(pp_es256_pub_verify(NULL, "x", 1, sig), -EINVAL);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(pub);
}

Test(es256, close_leaves_other_signers_alone)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct pp_signer s;
	uint8_t d[32] = {0}, sig[PP_SIG_LEN];

	cr_assert_eq(pp_signer_evp(&s, k), 0);
	pp_signer_close(&s); /* must not free the caller's key */
	cr_assert_null(s.sign);
	cr_assert_eq(pp_signer_evp(&s, k), 0);
	cr_assert_eq(s.sign(s.ctx, d, sig), 0);
	cr_assert_eq(pp_es256_verify(k, NULL, 0, sig), -EBADMSG, "signed a digest, not a message");
	EVP_PKEY_free(k);
}

#define MT_THREADS 4
#define MT_ROUNDS 50

struct mt_arg {
	const struct pp_signer *s;
	const struct pp_es256_pub *p;
	unsigned id;
	int failures;
};

static void *mt_worker(void *arg)
{
	struct mt_arg *a = arg;

	for (unsigned i = 0; i < MT_ROUNDS; i++) {
		uint8_t msg[8] = {(uint8_t)a->id, (uint8_t)i}, d[32], sig[PP_SIG_LEN];

		if (pp_sha256(msg, sizeof msg, d) != 0 || a->s->sign(a->s->ctx, d, sig) != 0 ||
		    pp_es256_pub_verify(a->p, msg, sizeof msg, sig) != 0)
			a->failures++;
		msg[7] ^= 1;
		if (pp_es256_pub_verify(a->p, msg, sizeof msg, sig) != -EBADMSG)
			a->failures++;
	}
	return NULL;
}

Test(es256, prepared_forms_shared_by_threads)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct pp_signer s;
	struct pp_es256_pub p;
	struct mt_arg a[MT_THREADS];
	pthread_t th[MT_THREADS];

	cr_assert_eq(pp_signer_evp_open(&s, k), 0);
	cr_assert_eq(pp_es256_pub_init(&p, k), 0);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		a[i] = (struct mt_arg){.s = &s, .p = &p, .id = i};
		cr_assert_eq(pthread_create(&th[i], NULL, mt_worker, &a[i]), 0);
	}
	for (unsigned i = 0; i < MT_THREADS; i++) {
		cr_assert_eq(pthread_join(th[i], NULL), 0);
		cr_assert_eq(a[i].failures, 0, "thread %u", i);
	}
	pp_signer_close(&s);
	pp_es256_pub_release(&p);
	EVP_PKEY_free(k);
}
