/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4) through OpenSSL 3: SHA-256, raw r||s <->
 * DER ECDSA-Sig-Value, a signer over an EVP_PKEY, verification with a pre-parsed public key.
 *
 * Nothing here allocates on our side; OpenSSL allocates its per-operation context internally.
 * The only private material is inside the caller's EVP_PKEY, which we never export.
 *
 * Prepared forms (pp_signer_evp_open, pp_es256_pub_init) set up an EVP_PKEY_CTX once, already
 * initialized for the operation, and duplicate it per call: EVP_PKEY_CTX_dup only reads its
 * source (about 1k instructions), where EVP_PKEY_CTX_new_from_pkey + *_init look the key type
 * and the signature method up by name (about 20k). Each call works on its own duplicate, so a
 * prepared form can be shared by threads. A provider that cannot duplicate its context (some
 * HSM providers) gets a fresh context per call instead, as pp_signer_evp does.
 */
#include "crypto/pp.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#define DER_MAX 72 /* 30 len (02 21 00 r[32]) (02 21 00 s[32]) */

/*
 * SHA-256 fetched from the default library context once per process, so that no call pays the
 * implicit fetch of EVP_sha256() (a name lookup). Lock-free: racing first callers each fetch,
 * one wins, the others free theirs. The fetched method is kept (reachable) until exit. Falls
 * back to EVP_sha256() when the fetch fails.
 */
static const EVP_MD *sha256_md(void)
{
	static _Atomic(EVP_MD *) cached;
	EVP_MD *m = atomic_load_explicit(&cached, memory_order_acquire), *none = NULL;

	if (m)
		return m;
	m = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!m) {
		ERR_clear_error();
		return EVP_sha256();
	}
	if (!atomic_compare_exchange_strong_explicit(&cached, &none, m, memory_order_acq_rel,
						     memory_order_acquire)) {
		EVP_MD_free(m);
		return none;
	}
	return m;
}

int pp_sha256(const void *data, size_t len, uint8_t digest[32])
{
	static const uint8_t empty;
	unsigned int dl = 0;

	if (EVP_Digest(data ? data : &empty, len, digest, &dl, sha256_md(), NULL) != 1 ||
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

/* r||s over digest with an initialized sign context. */
static int sign_with(EVP_PKEY_CTX *pctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN])
{
	uint8_t der[DER_MAX];
	size_t dl = sizeof der;

	if (EVP_PKEY_sign(pctx, der, &dl, digest, 32) == 1 &&
	    pp_es256_sig_from_der(der, dl, sig) == 0)
		return 0;
	ERR_clear_error();
	return -EIO;
}

/* A fresh context for key, initialized for op (EVP_PKEY_OP_SIGN or _VERIFY); NULL: -ENOMEM
 * or -EIO in *err. */
static EVP_PKEY_CTX *ctx_for(EVP_PKEY *key, int op, int *err)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);

	if (!pctx) {
		ERR_clear_error();
		*err = -ENOMEM;
		return NULL;
	}
	if ((op == EVP_PKEY_OP_SIGN ? EVP_PKEY_sign_init(pctx) : EVP_PKEY_verify_init(pctx)) != 1) {
		ERR_clear_error();
		EVP_PKEY_CTX_free(pctx);
		*err = -EIO;
		return NULL;
	}
	return pctx;
}

/* A context of its own for this call: a duplicate of tmpl, else a fresh one. */
static EVP_PKEY_CTX *ctx_from(EVP_PKEY_CTX *tmpl, int op, int *err)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_dup(tmpl);

	if (pctx)
		return pctx;
	ERR_clear_error();
	return ctx_for(EVP_PKEY_CTX_get0_pkey(tmpl), op, err);
}

/* pp_signer_evp: ctx is the caller's EVP_PKEY. */
static int evp_sign(void *ctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN])
{
	int r = -EIO;
	EVP_PKEY_CTX *pctx = ctx_for(ctx, EVP_PKEY_OP_SIGN, &r);

	if (!pctx)
		return r;
	r = sign_with(pctx, digest, sig);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

/* pp_signer_evp_open: ctx is our sign-initialized template. */
static int evp_sign_tmpl(void *ctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN])
{
	int r = -EIO;
	EVP_PKEY_CTX *pctx = ctx_from(ctx, EVP_PKEY_OP_SIGN, &r);

	if (!pctx)
		return r;
	r = sign_with(pctx, digest, sig);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

/* The checks pp_signer_evp makes: EC P-256, and a private part unless the provider cannot tell. */
static int signer_key_ok(EVP_PKEY *key)
{
	EVP_PKEY_CTX *pctx;
	int r;

	if (!is_p256(key))
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
	return 0;
}

int pp_signer_evp(struct pp_signer *s, EVP_PKEY *key)
{
	int r;

	if (!s)
		return -EINVAL;
	r = signer_key_ok(key);
	if (r != 0)
		return r;
	s->sign = evp_sign;
	s->ctx = key;
	return 0;
}

int pp_signer_evp_open(struct pp_signer *s, EVP_PKEY *key)
{
	EVP_PKEY_CTX *tmpl;
	int r = -EIO;

	if (!s)
		return -EINVAL;
	s->sign = NULL;
	s->ctx = NULL;
	r = signer_key_ok(key);
	if (r != 0)
		return r;
	tmpl = ctx_for(key, EVP_PKEY_OP_SIGN, &r);
	if (!tmpl)
		return r;
	s->sign = evp_sign_tmpl;
	s->ctx = tmpl;
	return 0;
}

void pp_signer_close(struct pp_signer *s)
{
	if (!s)
		return;
	if (s->sign == evp_sign_tmpl)
		EVP_PKEY_CTX_free(s->ctx);
	s->sign = NULL;
	s->ctx = NULL;
}

/* Hashes msg and verifies r||s with an initialized verify context. */
static int verify_with(EVP_PKEY_CTX *pctx, const void *msg, size_t len,
		       const uint8_t sig[PP_SIG_LEN])
{
	uint8_t digest[32], der[DER_MAX];
	long dl;

	if (pp_sha256(msg, len, digest) != 0)
		return -EIO;
	dl = pp_es256_sig_to_der(sig, der, sizeof der);
	if (dl < 0)
		return -EIO;
	if (EVP_PKEY_verify(pctx, der, (size_t)dl, digest, sizeof digest) == 1)
		return 0;
	ERR_clear_error();
	return -EBADMSG;
}

int pp_es256_verify(EVP_PKEY *pub, const void *msg, size_t len, const uint8_t sig[PP_SIG_LEN])
{
	EVP_PKEY_CTX *pctx;
	int r = -EIO;

	if (!is_p256(pub))
		return -EINVAL;
	pctx = ctx_for(pub, EVP_PKEY_OP_VERIFY, &r);
	if (!pctx)
		return r;
	r = verify_with(pctx, msg, len, sig);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

int pp_es256_pub_init(struct pp_es256_pub *p, EVP_PKEY *key)
{
	int r = -EIO;

	if (!p)
		return -EINVAL;
	p->ctx = NULL;
	if (!is_p256(key))
		return -EINVAL;
	p->ctx = ctx_for(key, EVP_PKEY_OP_VERIFY, &r);
	return p->ctx ? 0 : r;
}

void pp_es256_pub_release(struct pp_es256_pub *p)
{
	if (!p)
		return;
	EVP_PKEY_CTX_free(p->ctx);
	p->ctx = NULL;
}

int pp_es256_pub_verify(const struct pp_es256_pub *p, const void *msg, size_t len,
			const uint8_t sig[PP_SIG_LEN])
{
	EVP_PKEY_CTX *pctx;
	int r = -EIO;

	if (!p || !p->ctx)
		return -EINVAL;
	pctx = ctx_from(p->ctx, EVP_PKEY_OP_VERIFY, &r);
	if (!pctx)
		return r;
	r = verify_with(pctx, msg, len, sig);
	EVP_PKEY_CTX_free(pctx);
	return r;
}
