/* SPDX-License-Identifier: BSD-3-Clause */
#include "hsm/csr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/objects.h>
#include <openssl/provider.h>
#include <openssl/sha.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/p11.h"

#define OID_TNAUTHLIST "1.3.6.1.5.5.7.1.26"
#define STORE_URI_MAX 1024

long hsm_csr_tnauth_spc(const char *spc, uint8_t *der, size_t cap)
{
	size_t n = spc ? strnlen(spc, HSM_CSR_SPC_MAX + 1) : 0;

	if (n == 0 || n > HSM_CSR_SPC_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)spc[i] < 0x20 || (unsigned char)spc[i] > 0x7e)
			return -EINVAL;
	if (der == NULL || cap < n + 6)
		return -ENOSPC;
	/* SEQUENCE { [0] EXPLICIT IA5String }: every length is below 128 */
	der[0] = 0x30;
	der[1] = (uint8_t)(n + 4);
	der[2] = 0xa0;
	der[3] = (uint8_t)(n + 2);
	der[4] = 0x16;
	der[5] = (uint8_t)n;
	memcpy(der + 6, spc, n);
	return (long)(n + 6);
}

/* Parses "/K=V/K=V" into name. 0 or -EINVAL. */
static int parse_subject(const char *subject, X509_NAME *name)
{
	char buf[HSM_CSR_SUBJECT_MAX + 1];
	size_t n = subject ? strnlen(subject, sizeof(buf)) : 0;
	char *p, *item;
	unsigned count = 0;

	if (n == 0 || n >= sizeof(buf) || subject[0] != '/')
		return -EINVAL;
	memcpy(buf, subject + 1, n);   /* with the NUL */
	p = buf;
	while ((item = strsep(&p, "/")) != NULL) {
		char *eq = strchr(item, '=');

		if (eq == NULL || eq == item || eq[1] == '\0')
			return -EINVAL;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, item, MBSTRING_UTF8,
						(const unsigned char *)(eq + 1), -1, -1, 0)) {
			ERR_clear_error();
			return -EINVAL;
		}
		count++;
	}
	return count ? 0 : -EINVAL;
}

/* Appends s percent-encoded (everything but unreserved characters) to d. 0 or -ENOSPC. */
static int pct_append(char *d, size_t cap, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(d);

	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (len + 4 > cap)
			return -ENOSPC;
		if (plain) {
			d[len++] = (char)c;
		} else {
			d[len++] = '%';
			d[len++] = hex[c >> 4];
			d[len++] = hex[c & 15];
		}
	}
	d[len] = '\0';
	return 0;
}

static int attr_append(char *d, size_t cap, const char *name, const void *v, size_t n)
{
	size_t len = strlen(d);
	int w = snprintf(d + len, cap - len, "%s%s=", d[len - 1] == ':' ? "" : ";", name);

	if (w < 0 || (size_t)w >= cap - len)
		return -ENOSPC;
	return pct_append(d, cap, v, n);
}

/*
 * The URI handed to the provider's store: the token and key selectors of u only (no
 * module-path=, no pin-source=: those go to the provider's configuration and the callback).
 */
static int store_uri(const struct hsm_p11_uri *u, char *d, size_t cap)
{
	int rc = 0;

	snprintf(d, cap, "pkcs11:");
	if (u->present & HSM_P11_URI_TOKEN)
		rc |= attr_append(d, cap, "token", u->token, strlen(u->token));
	if (u->present & HSM_P11_URI_MANUFACTURER)
		rc |= attr_append(d, cap, "manufacturer", u->manufacturer,
				  strlen(u->manufacturer));
	if (u->present & HSM_P11_URI_SERIAL)
		rc |= attr_append(d, cap, "serial", u->serial, strlen(u->serial));
	if (u->present & HSM_P11_URI_MODEL)
		rc |= attr_append(d, cap, "model", u->model, strlen(u->model));
	if (u->present & HSM_P11_URI_OBJECT)
		rc |= attr_append(d, cap, "object", u->object, strlen(u->object));
	if (u->present & HSM_P11_URI_ID)
		rc |= attr_append(d, cap, "id", u->id, u->id_len);
	rc |= attr_append(d, cap, "type", "private", 7);
	return rc ? -ENOSPC : 0;
}

/* pem_password_cb handing the PIN (u) to the provider; never prompts. */
static int pin_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pin = u;
	size_t n = strlen(pin);

	(void)rwflag;
	if (size <= 0 || n >= (size_t)size)
		return -1;
	memcpy(buf, pin, n + 1);
	return (int)n;
}

/*
 * A library context of our own holding the default and the pkcs11 provider, configured with
 * the module path (no PIN). OpenSSL 3.0 takes provider parameters only from a configuration
 * file: a private temporary one, removed at once.
 */
static int provider_ctx(const char *provider, const char *module, OSSL_LIB_CTX **out)
{
	char path[] = "/tmp/shaken-csr-XXXXXX";
	OSSL_LIB_CTX *ctx;
	FILE *f;
	int fd, ok;

	if (strpbrk(provider, "\n\"$") || strpbrk(module, "\n\"$"))
		return -EINVAL;
	if (access(provider, R_OK) != 0 || access(module, R_OK) != 0)
		return -ELIBACC;
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	fprintf(f,
		"openssl_conf = shaken_init\n"
		"[shaken_init]\nproviders = shaken_providers\n"
		"[shaken_providers]\ndefault = shaken_default\npkcs11 = shaken_pkcs11\n"
		"[shaken_default]\nactivate = 1\n"
		"[shaken_pkcs11]\nmodule = \"%s\"\npkcs11-module-path = \"%s\"\n"
		"pkcs11-module-cache-pins = cache\nactivate = 1\n",
		provider, module);
	ok = fclose(f) == 0;
	ctx = ok ? OSSL_LIB_CTX_new() : NULL;
	if (ctx != NULL && !OSSL_LIB_CTX_load_config(ctx, path))
		ok = 0;
	unlink(path);
	if (ctx == NULL)
		return -ENOMEM;
	if (!ok || !OSSL_PROVIDER_available(ctx, "pkcs11")) {
		ERR_clear_error();
		OSSL_LIB_CTX_free(ctx);
		return -ELIBACC;
	}
	*out = ctx;
	return 0;
}

/* Loads the private key of uri from the provider's store. */
static int load_private(OSSL_LIB_CTX *ctx, const char *uri, const char *pin, EVP_PKEY **out)
{
	UI_METHOD *ui = UI_UTIL_wrap_read_pem_callback(pin_cb, 0);
	OSSL_STORE_CTX *st;
	EVP_PKEY *key = NULL;

	if (ui == NULL)
		return -ENOMEM;
	st = OSSL_STORE_open_ex(uri, ctx, NULL, ui, (void *)pin, NULL, NULL, NULL);
	if (st != NULL) {
		OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY);
		while (key == NULL && !OSSL_STORE_eof(st)) {
			OSSL_STORE_INFO *info = OSSL_STORE_load(st);

			if (info == NULL) {
				if (OSSL_STORE_error(st))
					break;
				continue;
			}
			if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
				key = OSSL_STORE_INFO_get1_PKEY(info);
			OSSL_STORE_INFO_free(info);
		}
		OSSL_STORE_close(st);
	}
	UI_destroy_method(ui);
	ERR_clear_error();
	if (key == NULL)
		return -ENOENT;
	*out = key;
	return 0;
}

static int add_tnauth(X509_REQ *req, const uint8_t *der, size_t len)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	ASN1_OBJECT *obj = OBJ_txt2obj(OID_TNAUTHLIST, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	int rc = -ENOMEM;

	if (exts && obj && os && ASN1_OCTET_STRING_set(os, der, (int)len)) {
		e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
		if (e && sk_X509_EXTENSION_push(exts, e)) {
			e = NULL;   /* owned by exts */
			rc = X509_REQ_add_extensions(req, exts) ? 0 : -EIO;
		}
	}
	X509_EXTENSION_free(e);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	return rc;
}

static long encode(X509_REQ *req, bool pem, uint8_t *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n, rc;

	if (b == NULL)
		return -ENOMEM;
	if (!(pem ? PEM_write_bio_X509_REQ(b, req) : i2d_X509_REQ_bio(b, req))) {
		BIO_free(b);
		return -EIO;
	}
	n = BIO_get_mem_data(b, &data);
	if (n <= 0 || (size_t)n > cap) {
		rc = n <= 0 ? -EIO : -ENOSPC;
	} else {
		memcpy(out, data, (size_t)n);
		if (pem && (size_t)n < cap)
			out[n] = 0;
		rc = n;
	}
	BIO_free(b);
	return rc;
}

/*
 * The direct path: SHA-256 of the request's TBS encoding signed with C_Sign CKM_ECDSA by our
 * own PKCS#11 code (hsm_p11_sign_once), r||s DER-encoded as an ECDSA-Sig-Value.
 */
static int sign_direct(X509_REQ *req, struct hsm_p11_tok *t, const char *key_uri)
{
	uint8_t digest[32], rs[64];
	unsigned char *tbs = NULL, *der = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	ASN1_BIT_STRING *bits = NULL;
	X509_ALGOR *alg = NULL;
	int len, rc;

	len = i2d_re_X509_REQ_tbs(req, &tbs);
	if (len <= 0)
		return -EIO;
	SHA256(tbs, (size_t)len, digest);
	OPENSSL_free(tbs);
	rc = hsm_p11_sign_once(t, key_uri, digest, rs);
	if (rc < 0)
		return rc == -EEXIST ? -EINVAL : rc;
	rc = -EIO;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(rs, 32, NULL);
	s = BN_bin2bn(rs + 32, 32, NULL);
	if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	len = i2d_ECDSA_SIG(es, &der);
	bits = ASN1_BIT_STRING_new();
	alg = X509_ALGOR_new();
	if (len <= 0 || bits == NULL || alg == NULL || !ASN1_BIT_STRING_set(bits, der, len) ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL) ||
	    !X509_REQ_set1_signature_algo(req, alg))
		goto out;
	/* a BIT STRING with no unused bits */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(req, bits);
	bits = NULL;
	rc = 0;
out:
	explicit_bzero(digest, sizeof(digest));
	ASN1_BIT_STRING_free(bits);
	X509_ALGOR_free(alg);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return rc;
}

long hsm_csr_create(const char *key_uri, const struct hsm_csr_cfg *cfg, const char *subject,
		    const uint8_t *tnauth, size_t tnauth_len, bool pem, uint8_t *out, size_t cap)
{
	static const struct hsm_csr_cfg dflt = { 0 };
	struct hsm_p11_uri u;
	char uri[STORE_URI_MAX], pin[HSM_P11_PIN_MAX + 1], provider[HSM_P11_PATH_MAX + 32];
	const char *why, *module;
	struct hsm_p11_tok *t = NULL;
	EVP_PKEY *pub = NULL, *priv = NULL;
	OSSL_LIB_CTX *ctx = NULL;
	X509_REQ *req = NULL;
	EVP_MD_CTX *md = NULL;
	long rc, pl;

	if (cfg == NULL)
		cfg = &dflt;
	if (key_uri == NULL || out == NULL || (tnauth == NULL && tnauth_len != 0) ||
	    tnauth_len > HSM_CSR_TNAUTH_MAX)
		return -EINVAL;
	if (hsm_p11_uri_parse(key_uri, strlen(key_uri), &u, &why) < 0 ||
	    !(u.present & (HSM_P11_URI_OBJECT | HSM_P11_URI_ID)))
		return -EINVAL;
	module = (u.present & HSM_P11_URI_MODULE_PATH) ? u.module_path : cfg->default_module;
	if (module == NULL)
		return -EINVAL;
	if (cfg->provider_path) {
		snprintf(provider, sizeof(provider), "%s", cfg->provider_path);
	} else {
		const char *dir = OPENSSL_info(OPENSSL_INFO_MODULES_DIR);

		snprintf(provider, sizeof(provider), "%s/pkcs11.so", dir ? dir : ".");
	}
	rc = store_uri(&u, uri, sizeof(uri));
	if (rc < 0)
		return -EINVAL;
	req = X509_REQ_new();
	if (req == NULL)
		return -ENOMEM;
	rc = parse_subject(subject, X509_REQ_get_subject_name(req));   /* checked first */
	X509_REQ_free(req);
	req = NULL;
	if (rc < 0)
		return rc;

	/* 1. The public key, read by our own PKCS#11 code (also checks token, PIN, key). */
	rc = hsm_p11_open(key_uri, cfg->default_module, cfg->pin_env, &t);
	if (rc < 0)
		return rc;
	rc = hsm_p11_key_public(t, key_uri, &pub);
	if (rc < 0 || !cfg->direct) {
		hsm_p11_close(t);   /* finalizes the module: the provider initializes it anew */
		t = NULL;
	}
	if (rc < 0)
		return rc == -EEXIST ? -EINVAL : rc;
	if (cfg->direct)
		goto build;

	/* 2. The private key through the provider, the PIN by callback. */
	pl = hsm_p11_pin_get(&u, cfg->pin_env, pin, sizeof(pin));
	if (pl < 0) {
		rc = pl;
		goto out;
	}
	rc = provider_ctx(provider, module, &ctx);
	if (rc < 0)
		goto out;
	rc = load_private(ctx, uri, pin, &priv);
	if (rc < 0)
		goto out;

	/* 3. The request, signed on the token. */
build:
	rc = -ENOMEM;
	req = X509_REQ_new_ex(ctx, NULL);
	md = EVP_MD_CTX_new();
	if (req == NULL || md == NULL)
		goto out;
	rc = -EIO;
	if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_pubkey(req, pub))
		goto out;
	rc = parse_subject(subject, X509_REQ_get_subject_name(req));
	if (rc < 0)
		goto out;
	if (tnauth_len > 0) {
		rc = add_tnauth(req, tnauth, tnauth_len);
		if (rc < 0)
			goto out;
	}
	rc = -EIO;
	if (cfg->direct) {
		rc = sign_direct(req, t, key_uri);
		if (rc < 0)
			goto out;
	} else if (EVP_DigestSignInit_ex(md, NULL, "SHA256", ctx, NULL, priv, NULL) != 1 ||
		   X509_REQ_sign_ctx(req, md) <= 0) {
		goto out;
	}
	rc = -EIO;
	if (X509_REQ_verify(req, pub) != 1)
		goto out;
	rc = encode(req, pem, out, cap);
out:
	hsm_p11_close(t);
	explicit_bzero(pin, sizeof(pin));
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	X509_REQ_free(req);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	OSSL_LIB_CTX_free(ctx);
	return rc;
}
