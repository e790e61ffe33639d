/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4) through OpenSSL 3: SHA-256, raw r||s <->
 * DER ECDSA-Sig-Value, a signer over an EVP_PKEY, verification with a pre-parsed public key.
 *
 * Nothing here allocates on our side; OpenSSL allocates its per-operation context internally.
 * The only private material is inside the caller's EVP_PKEY, which we never export.
 */
#include "crypto/pp.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#define DER_MAX 72 /* 30 len (02 21 00 r[32]) (02 21 00 s[32]) */

int pp_sha256(const void *data, size_t len, uint8_t digest[32])
{
	static const uint8_t empty;
	unsigned int dl = 0;

	if (EVP_Digest(data ? data : &empty, len, digest, &dl, EVP_sha256(), NULL) != 1 ||
	    dl != 32) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

long pp_es256_sig_to_der(const uint8_t sig[PP_SIG_LEN], uint8_t *der, size_t cap)
{
	uint8_t tmp[DER_MAX];
	size_t o = 2;
	unsigned h;

	for (h = 0; h < 2; h++) {
		const uint8_t *x = sig + 32 * h;
		size_t k = 0, l;
		bool pad;

		while (k < 31 && x[k] == 0)
			k++; /* minimal: no leading zero bytes, but keep one byte for 0 */
		l = 32 - k;
		pad = x[k] & 0x80; /* a positive INTEGER needs a 00 before a high bit */
		tmp[o++] = 0x02;
		tmp[o++] = (uint8_t)(l + pad);
		if (pad)
			tmp[o++] = 0;
		memcpy(tmp + o, x + k, l);
		o += l;
	}
	tmp[0] = 0x30;
	tmp[1] = (uint8_t)(o - 2);
	if (cap < o)
		return -ENOSPC;
	memcpy(der, tmp, o);
	return (long)o;
}

int pp_es256_sig_from_der(const uint8_t *der, size_t len, uint8_t sig[PP_SIG_LEN])
{
	uint8_t out[PP_SIG_LEN] = {0};
	size_t i = 2;
	unsigned h;

	/* SEQUENCE, short-form length (the largest fits in 70 bytes), covering exactly len */
	if (!der || len < 8 || len > DER_MAX || der[0] != 0x30 || der[1] != len - 2)
		return -EINVAL;
	for (h = 0; h < 2; h++) {
		const uint8_t *v;
		size_t l;

		if (len - i < 2 || der[i] != 0x02)
			return -EINVAL;
		l = der[i + 1];
		i += 2;
		if (l == 0 || l > len - i)
			return -EINVAL; /* also rejects long-form lengths (0x80 and above) */
		v = der + i;
		i += l;
		if (v[0] & 0x80)
			return -EINVAL; /* negative */
		if (v[0] == 0 && l > 1) {
			if (!(v[1] & 0x80))
				return -EINVAL; /* non-minimal */
			v++;
			l--;
		}
		if (l > 32)
			return -EINVAL; /* larger than the P-256 order */
		memcpy(out + 32 * h + 32 - l, v, l);
	}
	if (i != len)
		return -EINVAL;
	memcpy(sig, out, sizeof out);
	return 0;
}

/* An EC key on P-256 (whatever provider holds it). */
static bool is_p256(EVP_PKEY *key)
{
	char name[32];
	size_t nl = 0;

	if (!key || !EVP_PKEY_is_a(key, "EC"))
		return false;
	if (EVP_PKEY_get_group_name(key, name, sizeof name, &nl) != 1) {
		ERR_clear_error();
		return false;
	}
	return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0 ||
	       strcmp(name, "secp256r1") == 0;
}

static int evp_sign(void *ctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN])
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, ctx, NULL);
	uint8_t der[DER_MAX];
	size_t dl = sizeof der;
	int r = -EIO;

	if (!pctx) {
		ERR_clear_error();
		return -ENOMEM;
	}
	if (EVP_PKEY_sign_init(pctx) == 1 && EVP_PKEY_sign(pctx, der, &dl, digest, 32) == 1 &&
	    pp_es256_sig_from_der(der, dl, sig) == 0)
		r = 0;
	else
		ERR_clear_error();
	EVP_PKEY_CTX_free(pctx);
	return r;
}

int pp_signer_evp(struct pp_signer *s, EVP_PKEY *key)
{
	EVP_PKEY_CTX *pctx;
	int r;

	if (!s || !is_p256(key))
		return -EINVAL;
	/*
	 * A private key must be present. The check exports nothing; a key a provider holds
	 * opaquely (an HSM) may not support it (-2): accepted, its signatures will tell.
	 */
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!pctx) {
		ERR_clear_error();
		return -ENOMEM;
	}
	r = EVP_PKEY_private_check(pctx);
	EVP_PKEY_CTX_free(pctx);
	if (r != 1) {
		ERR_clear_error();
		if (r != -2)
			return -EINVAL;
	}
	s->sign = evp_sign;
	s->ctx = key;
	return 0;
}

int pp_es256_verify(EVP_PKEY *pub, const void *msg, size_t len, const uint8_t sig[PP_SIG_LEN])
{
	uint8_t digest[32], der[DER_MAX];
	EVP_PKEY_CTX *pctx;
	long dl;
	int r;

	if (!is_p256(pub))
		return -EINVAL;
	if (pp_sha256(msg, len, digest) != 0)
		return -EIO;
	dl = pp_es256_sig_to_der(sig, der, sizeof der);
	if (dl < 0)
		return -EIO;
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	if (!pctx) {
		ERR_clear_error();
		return -ENOMEM;
	}
	if (EVP_PKEY_verify_init(pctx) != 1) {
		r = -EIO;
	} else {
		r = EVP_PKEY_verify(pctx, der, (size_t)dl, digest, sizeof digest) == 1 ? 0
										       : -EBADMSG;
	}
	if (r != 0)
		ERR_clear_error();
	EVP_PKEY_CTX_free(pctx);
	return r;
}
