/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STI certificate checks: TNAuthList decoding (by hand, bounded, no allocation), chain loading,
 * trust store with CRLs, and cert_sti_check(). See cert.h for the contracts.
 */
#include "crypto/cert.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* ---- DER reading ------------------------------------------------------------------------ */

/* One TLV: a single-byte tag and a definite length. */
struct der_tlv {
	uint8_t tag;
	const uint8_t *v;
	size_t len;
};

/*
 * Reads the TLV at *p (rem bytes left), advancing *p and *rem past it. Multi-byte tags,
 * indefinite and non-minimal lengths, and lengths past the end are rejected.
 * Returns 0 or -EINVAL.
 */
static int der_next(const uint8_t **p, size_t *rem, struct der_tlv *t)
{
	const uint8_t *s = *p;
	size_t n = *rem, len, hdr;

	if (n < 2)
		return -EINVAL;
	t->tag = s[0];
	if ((t->tag & 0x1f) == 0x1f)
		return -EINVAL;
	if (s[1] < 0x80) {
		len = s[1];
		hdr = 2;
	} else {
		size_t k = s[1] & 0x7f;

		if (k == 0 || k > 4 || n < 2 + k || s[2] == 0)
			return -EINVAL;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = (len << 8) | s[2 + i];
		if (len < 0x80)
			return -EINVAL;
		hdr = 2 + k;
	}
	if (len > n - hdr)
		return -EINVAL;
	t->v = s + hdr;
	t->len = len;
	*p = s + hdr + len;
	*rem = n - hdr - len;
	return 0;
}

/* Reads exactly one TLV spanning all of (v, len). */
static int der_only(const uint8_t *v, size_t len, struct der_tlv *t)
{
	if (der_next(&v, &len, t) < 0 || len != 0)
		return -EINVAL;
	return 0;
}

/* ---- TNAuthList ------------------------------------------------------------------------- */

#define DER_IA5 0x16
#define DER_INT 0x02
#define DER_SEQ 0x30

static int copy_spc(const uint8_t *v, size_t len, char out[CERT_SPC_MAX + 1])
{
	if (len == 0 || len > CERT_SPC_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return -EINVAL;
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

static int copy_tn(const uint8_t *v, size_t len, char out[CERT_SPC_MAX + 1])
{
	if (len == 0 || len > TN_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || v[i] == '#' || v[i] == '*'))
			return -EINVAL;
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

/* A positive DER INTEGER below 2^63. */
static int der_count(const struct der_tlv *t, uint64_t *out)
{
	const uint8_t *v = t->v;
	size_t len = t->len;
	uint64_t x = 0;

	if (t->tag != DER_INT || len == 0 || (v[0] & 0x80))
		return -EINVAL;
	if (len > 1 && v[0] == 0 && !(v[1] & 0x80))
		return -EINVAL; /* not minimal */
	if (v[0] == 0) {
		v++;
		len--;
	}
	if (len > 8 || (len == 8 && (v[0] & 0x80)))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		x = (x << 8) | v[i];
	if (x == 0)
		return -EINVAL;
	*out = x;
	return 0;
}

/* The contents of a TelephoneNumberRange SEQUENCE: start, count, then ignored extensions. */
static int range_decode(const uint8_t *v, size_t len, struct cert_tn_entry *e)
{
	struct der_tlv t;

	if (der_next(&v, &len, &t) < 0 || t.tag != DER_IA5 || copy_tn(t.v, t.len, e->v) < 0)
		return -EINVAL;
	if (der_next(&v, &len, &t) < 0 || der_count(&t, &e->count) < 0)
		return -EINVAL;
	while (len > 0) /* "..." extension additions: well-formed, ignored */
		if (der_next(&v, &len, &t) < 0)
			return -EINVAL;
	return 0;
}

static int entry_decode(const struct der_tlv *t, struct cert_tn_entry *e)
{
	struct der_tlv in;

	memset(e, 0, sizeof(*e));
	switch (t->tag) {
	case 0xa0: /* spc, EXPLICIT */
		e->kind = CERT_TN_SPC;
		if (der_only(t->v, t->len, &in) < 0 || in.tag != DER_IA5)
			return -EINVAL;
		return copy_spc(in.v, in.len, e->v);
	case 0x80: /* spc, IMPLICIT */
		e->kind = CERT_TN_SPC;
		return copy_spc(t->v, t->len, e->v);
	case 0xa1: /* range: EXPLICIT wraps a SEQUENCE, IMPLICIT holds its contents */
		e->kind = CERT_TN_RANGE;
		if (t->len > 0 && t->v[0] == DER_SEQ) {
			if (der_only(t->v, t->len, &in) < 0)
				return -EINVAL;
			return range_decode(in.v, in.len, e);
		}
		return range_decode(t->v, t->len, e);
	case 0xa2: /* one, EXPLICIT */
		e->kind = CERT_TN_ONE;
		if (der_only(t->v, t->len, &in) < 0 || in.tag != DER_IA5)
			return -EINVAL;
		return copy_tn(in.v, in.len, e->v);
	case 0x82: /* one, IMPLICIT */
		e->kind = CERT_TN_ONE;
		return copy_tn(t->v, t->len, e->v);
	default:
		return -EINVAL;
	}
}

int cert_tnauth_decode(const uint8_t *der, size_t len, struct cert_tnauth *out)
{
	struct der_tlv seq, t;
	const uint8_t *p;
	size_t rem;

	if (!out)
		return -EINVAL;
	out->n = 0;
	if (!der || der_only(der, len, &seq) < 0 || seq.tag != DER_SEQ || seq.len == 0)
		return -EINVAL;
	p = seq.v;
	rem = seq.len;
	while (rem > 0) {
		if (der_next(&p, &rem, &t) < 0)
			return -EINVAL;
		if (out->n == CERT_TNAUTH_MAX)
			return -E2BIG;
		if (entry_decode(&t, &out->e[out->n]) < 0)
			return -EINVAL;
		out->n++;
	}
	return 0;
}

/* Parses an all-digit TN of at most TN_MAX digits; returns 0 or -EINVAL. */
static int tn_value(const char *s, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (i == TN_MAX || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return -EINVAL;
	*out = x;
	return 0;
}

int cert_tnauth_covers(const struct cert_tnauth *ta, const char *tn)
{
	uint64_t t, start;
	bool any = false;
	size_t tlen;

	if (!ta || !tn || tn_value(tn, &t) < 0)
		return -EINVAL;
	tlen = strlen(tn);
	for (unsigned i = 0; i < ta->n && i < CERT_TNAUTH_MAX; i++) {
		const struct cert_tn_entry *e = &ta->e[i];

		if (e->kind == CERT_TN_ONE) {
			any = true;
			if (strcmp(e->v, tn) == 0)
				return 1;
		} else if (e->kind == CERT_TN_RANGE) {
			any = true;
			if (strlen(e->v) != tlen || tn_value(e->v, &start) < 0)
				continue;
			if (t >= start && t - start < e->count)
				return 1;
		}
	}
	return any ? 0 : -ENOENT;
}

const char *cert_tnauth_spc(const struct cert_tnauth *ta)
{
	if (!ta)
		return NULL;
	for (unsigned i = 0; i < ta->n && i < CERT_TNAUTH_MAX; i++)
		if (ta->e[i].kind == CERT_TN_SPC)
			return ta->e[i].v;
	return NULL;
}

/* The TNAuthList OID in DER (contents octets), compared without creating an ASN1_OBJECT. */
static const uint8_t oid_tnauth[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1a };

static bool is_tnauth_ext(const X509_EXTENSION *ext)
{
	const ASN1_OBJECT *o = X509_EXTENSION_get_object((X509_EXTENSION *)ext);
	size_t n = OBJ_length(o);
	const unsigned char *d = OBJ_get0_data(o);

	return d && n == sizeof(oid_tnauth) && memcmp(d, oid_tnauth, n) == 0;
}

int cert_tnauth_of(const X509 *cert, struct cert_tnauth *out)
{
	const ASN1_OCTET_STRING *val = NULL;
	int n;

	if (!out)
		return -EINVAL;
	out->n = 0;
	if (!cert)
		return -ENOENT;
	n = X509_get_ext_count(cert);
	for (int i = 0; i < n; i++) {
		const X509_EXTENSION *ext = X509_get_ext(cert, i);

		if (!ext || !is_tnauth_ext(ext))
			continue;
		if (val)
			return -EINVAL; /* present twice */
		val = X509_EXTENSION_get_data((X509_EXTENSION *)ext);
	}
	if (!val)
		return -ENOENT;
	return cert_tnauth_decode(ASN1_STRING_get0_data(val), (size_t)ASN1_STRING_length(val),
				  out);
}

/* ---- Files ------------------------------------------------------------------------------ */

/* Reads a whole file of at most CERT_PEM_MAX bytes into a malloc'ed buffer. */
static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat sb;
	uint8_t *b = NULL;
	size_t n = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (sb.st_size > (off_t)CERT_PEM_MAX) {
		rc = -EFBIG;
		goto out;
	}
	b = malloc((size_t)sb.st_size + 1);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	while (n < (size_t)sb.st_size) {
		ssize_t r = read(fd, b + n, (size_t)sb.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

/*
 * Calls cb for each DER object of buf: the single DER object when buf starts with 0x30,
 * otherwise each PEM block (cb gets its name). Returns the sum of cb's returns (each >= 0),
 * or the first negative one, or -EINVAL when a PEM block does not decode.
 */
typedef int (*der_cb)(void *arg, const char *pem_name, const uint8_t *der, long len);

static int for_each_object(const uint8_t *buf, size_t len, der_cb cb, void *arg)
{
	BIO *bio;
	int total = 0, rc;

	if (len > CERT_PEM_MAX)
		return -EINVAL;
	if (len > 0 && buf[0] == 0x30)
		return cb(arg, NULL, buf, (long)len);
	bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio)
		return -ENOMEM;
	ERR_clear_error();
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;

		if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
			unsigned long e = ERR_peek_last_error();

			rc = (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			      ERR_GET_REASON(e) == PEM_R_NO_START_LINE) ? 0 : -EINVAL;
			break;
		}
		rc = cb(arg, name, data, dlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (rc < 0)
			break;
		total += rc;
	}
	ERR_clear_error();
	BIO_free(bio);
	return rc < 0 ? rc : total;
}

static X509 *der_to_x509(const uint8_t *der, long len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);

	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

static X509_CRL *der_to_crl(const uint8_t *der, long len)
{
	const unsigned char *p = der;
	X509_CRL *c = d2i_X509_CRL(NULL, &p, len);

	if (c && p != der + len) {
		X509_CRL_free(c);
		c = NULL;
	}
	return c;
}

static bool is_cert_name(const char *name)
{
	return !name || strcmp(name, PEM_STRING_X509) == 0 ||
	       strcmp(name, PEM_STRING_X509_OLD) == 0;
}

/* ---- Chains ----------------------------------------------------------------------------- */

static int chain_cb(void *arg, const char *name, const uint8_t *der, long len)
{
	struct cert_chain *c = arg;
	X509 *x;

	if (!is_cert_name(name))
		return 0;
	if (c->n == CERT_CHAIN_MAX)
		return -E2BIG;
	x = der_to_x509(der, len);
	if (!x)
		return -EINVAL;
	c->certs[c->n++] = x;
	return 1;
}

int cert_chain_load(const uint8_t *buf, size_t len, struct cert_chain *out)
{
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!buf || len == 0 || len > CERT_PEM_MAX)
		return -EINVAL;
	rc = for_each_object(buf, len, chain_cb, out);
	ERR_clear_error();
	if (rc == 0)
		rc = -EINVAL;
	if (rc < 0)
		cert_chain_free(out);
	return rc;
}

int cert_chain_load_file(const char *path, struct cert_chain *out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!path)
		return -EINVAL;
	rc = read_file(path, &buf, &len);
	if (rc < 0)
		return rc;
	rc = cert_chain_load(buf, len, out);
	free(buf);
	return rc;
}

void cert_chain_free(struct cert_chain *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n && i < CERT_CHAIN_MAX; i++) {
		X509_free(c->certs[i]);
		c->certs[i] = NULL;
	}
	c->n = 0;
}

/* ---- Store ------------------------------------------------------------------------------ */

struct cert_store {
	X509_STORE *xs;
	STACK_OF(X509) *anchors;
	STACK_OF(X509) *crl_signers;
	STACK_OF(X509_CRL) *crls;
};

int cert_store_create(struct cert_store **out)
{
	struct cert_store *st;

	if (!out)
		return -EINVAL;
	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->xs = X509_STORE_new();
	st->anchors = sk_X509_new_null();
	st->crl_signers = sk_X509_new_null();
	st->crls = sk_X509_CRL_new_null();
	if (!st->xs || !st->anchors || !st->crl_signers || !st->crls) {
		cert_store_free(st);
		return -ENOMEM;
	}
	*out = st;
	return 0;
}

void cert_store_free(struct cert_store *st)
{
	if (!st)
		return;
	X509_STORE_free(st->xs);
	sk_X509_pop_free(st->anchors, X509_free);
	sk_X509_pop_free(st->crl_signers, X509_free);
	sk_X509_CRL_pop_free(st->crls, X509_CRL_free);
	free(st);
}

int cert_store_add_anchor(struct cert_store *st, X509 *ca)
{
	if (!st || !ca)
		return -EINVAL;
	if (!X509_STORE_add_cert(st->xs, ca)) {
		ERR_clear_error();
		return -ENOMEM;
	}
	if (!X509_up_ref(ca))
		return -ENOMEM;
	if (!sk_X509_push(st->anchors, ca)) {
		X509_free(ca);
		return -ENOMEM;
	}
	return 0;
}

int cert_store_add_crl(struct cert_store *st, X509_CRL *crl)
{
	if (!st || !crl)
		return -EINVAL;
	if (!X509_CRL_up_ref(crl))
		return -ENOMEM;
	if (!sk_X509_CRL_push(st->crls, crl)) {
		X509_CRL_free(crl);
		return -ENOMEM;
	}
	return 0;
}

int cert_store_add_crl_signer(struct cert_store *st, X509 *signer)
{
	if (!st || !signer)
		return -EINVAL;
	if (!X509_up_ref(signer))
		return -ENOMEM;
	if (!sk_X509_push(st->crl_signers, signer)) {
		X509_free(signer);
		return -ENOMEM;
	}
	return 0;
}

/* Adds one DER object: a certificate (as anchor, or as CRL signer) or a CRL. */
struct add_arg {
	struct cert_store *st;
	bool signers;
};

static int store_cb(void *arg, const char *name, const uint8_t *der, long len)
{
	struct add_arg *a = arg;
	bool crl_name = name && strcmp(name, PEM_STRING_X509_CRL) == 0;
	X509_CRL *crl = NULL;
	X509 *x = NULL;
	int rc;

	if (!is_cert_name(name) && !crl_name)
		return 0; /* another PEM block (a key, ...): skipped */
	if (a->signers && crl_name)
		return 0;
	if (is_cert_name(name))
		x = der_to_x509(der, len);
	if (!x && !a->signers && (!name || crl_name))
		crl = der_to_crl(der, len);
	if (x) {
		rc = a->signers ? cert_store_add_crl_signer(a->st, x) :
				  cert_store_add_anchor(a->st, x);
		X509_free(x);
	} else if (crl) {
		rc = cert_store_add_crl(a->st, crl);
		X509_CRL_free(crl);
	} else {
		rc = -EINVAL; /* a certificate or CRL that does not parse */
	}
	return rc < 0 ? rc : 1;
}

static int add_file(struct add_arg *a, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(path, &buf, &len);
	if (rc < 0)
		return rc;
	rc = for_each_object(buf, len, store_cb, a);
	ERR_clear_error();
	free(buf);
	return rc;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return n > k && strcmp(s + n - k, suf) == 0;
}

static int add_path(struct add_arg *a, const char *path)
{
	struct dirent *de;
	struct stat sb;
	int total = 0, rc = 0;
	DIR *d;

	if (stat(path, &sb) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode)) {
		rc = add_file(a, path);
		return rc == 0 ? -ENOENT : rc;
	}
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char full[PATH_MAX];
		int n;

		if (!(has_suffix(de->d_name, ".pem") || has_suffix(de->d_name, ".crt") ||
		      has_suffix(de->d_name, ".cer") || has_suffix(de->d_name, ".crl")))
			continue;
		n = snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(full)) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (stat(full, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		rc = add_file(a, full);
		if (rc < 0)
			break;
		total += rc;
	}
	closedir(d);
	if (rc < 0)
		return rc;
	return total == 0 ? -ENOENT : total;
}

int cert_store_add_path(struct cert_store *st, const char *path)
{
	struct add_arg a = { .st = st, .signers = false };

	if (!st || !path)
		return -EINVAL;
	return add_path(&a, path);
}

int cert_store_add_crl_signer_file(struct cert_store *st, const char *path)
{
	struct add_arg a = { .st = st, .signers = true };
	int rc;

	if (!st || !path)
		return -EINVAL;
	rc = add_file(&a, path);
	return rc == 0 ? -ENOENT : rc;
}

unsigned cert_store_n_anchors(const struct cert_store *st)
{
	return st ? (unsigned)sk_X509_num(st->anchors) : 0;
}

unsigned cert_store_n_crls(const struct cert_store *st)
{
	return st ? (unsigned)sk_X509_CRL_num(st->crls) : 0;
}

/* ---- Checks ----------------------------------------------------------------------------- */

static const char *const check_str[CERT_CHECK_COUNT] = {
	[CERT_OK] = "certificate valid",
	[CERT_UNTRUSTED] = "certificate not trusted",
	[CERT_EXPIRED] = "certificate expired",
	[CERT_NOT_YET_VALID] = "certificate not yet valid",
	[CERT_IAT_OUTSIDE] = "iat outside certificate validity",
	[CERT_REVOKED] = "certificate revoked",
	[CERT_CRL_MISSING] = "no CRL for certificate issuer",
	[CERT_CA_LEAF] = "leaf certificate is a CA",
	[CERT_KEY] = "certificate key not EC P-256",
	[CERT_KEY_USAGE] = "certificate keyUsage lacks digitalSignature",
	[CERT_POLICY] = "certificate lacks SHAKEN policy",
	[CERT_NO_TNAUTH] = "certificate lacks TNAuthList",
	[CERT_TNAUTH_INVALID] = "certificate TNAuthList invalid",
	[CERT_TN_NOT_COVERED] = "calling TN not in TNAuthList",
};

const char *cert_check_str(enum cert_check c)
{
	if ((unsigned)c >= CERT_CHECK_COUNT)
		return "";
	return check_str[c];
}

void cert_policy_default(struct cert_policy *p)
{
	if (!p)
		return;
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < CERT_CHECK_COUNT; i++)
		p->mode[i] = CERT_MODE_STRICT;
}

void cert_result_clear(struct cert_result *out)
{
	if (!out)
		return;
	EVP_PKEY_free(out->pkey);
	memset(out, 0, sizeof(*out));
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's days_from_civil. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*out = days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
			       (unsigned)tm.tm_mday) * 86400 +
	       tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return 0;
}

/* Records a failed check c; returns true when it decides the outcome (strict). */
static bool fail(struct cert_result *out, const struct cert_policy *pol, enum cert_check c)
{
	if (pol->mode[c] == CERT_MODE_WARN) {
		out->warned |= 1u << c;
		return false;
	}
	out->failed = c;
	return true;
}

static bool run(const struct cert_policy *pol, enum cert_check c)
{
	return pol->mode[c] != CERT_MODE_OFF;
}

/* Leaf time errors are reported by the leaf checks, not as an untrusted chain. */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	int err;

	if (ok)
		return ok;
	err = X509_STORE_CTX_get_error(ctx);
	if (X509_STORE_CTX_get_error_depth(ctx) == 0 &&
	    (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID))
		return 1;
	return 0;
}

/* Chains the leaf to a trust anchor. Returns 0 (verified), 1 (not verified), -ENOMEM. */
static int chain_verify(const struct cert_chain *chain, const struct cert_store *st,
			int64_t now, int *verr, STACK_OF(X509) **path)
{
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *vp;
	int rc = -ENOMEM;

	*verr = 0;
	untrusted = sk_X509_new_null();
	ctx = X509_STORE_CTX_new();
	if (!untrusted || !ctx)
		goto out;
	for (unsigned i = 1; i < chain->n; i++)
		if (!sk_X509_push(untrusted, chain->certs[i]))
			goto out;
	if (!X509_STORE_CTX_init(ctx, st->xs, chain->certs[0], untrusted))
		goto out;
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(vp, (time_t)now);
	/* every store certificate is an anchor, a root or not */
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	if (X509_verify_cert(ctx) == 1) {
		*path = X509_STORE_CTX_get1_chain(ctx);
		rc = 0;
	} else {
		*verr = X509_STORE_CTX_get_error(ctx);
		if (*verr == 0)
			*verr = X509_V_ERR_UNSPECIFIED;
		rc = 1;
	}
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	ERR_clear_error();
	return rc;
}

/* Whether one of certs has subject issuer and a key that verifies crl. */
static bool crl_signed_by(X509_CRL *crl, const X509_NAME *issuer, STACK_OF(X509) *certs)
{
	for (int i = 0; certs && i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		EVP_PKEY *k = X509_get0_pubkey(c);

		if (X509_NAME_cmp(X509_get_subject_name(c), issuer) == 0 && k &&
		    X509_CRL_verify(crl, k) == 1)
			return true;
	}
	ERR_clear_error();
	return false;
}

/*
 * Revocation of cert (issued by the CA named issuer). Returns 1 revoked, 0 not revoked,
 * and sets *covered when a counted CRL applies to it.
 */
static int revoked(const struct cert_store *st, X509 *cert, const struct cert_chain *chain,
		   STACK_OF(X509) *path, int64_t now, bool *covered)
{
	const X509_NAME *issuer = X509_get_issuer_name(cert);
	STACK_OF(X509) *given = NULL;

	for (int i = 0; i < sk_X509_CRL_num(st->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(st->crls, i);
		const X509_NAME *ci = X509_CRL_get_issuer(crl);
		X509_REVOKED *entry = NULL;
		bool counted = false;
		int64_t next;

		if (crl_signed_by(crl, ci, st->crl_signers)) {
			counted = true;
		} else if (X509_NAME_cmp(ci, issuer) == 0) {
			if (!given) {
				given = sk_X509_new_null();
				for (unsigned j = 1; given && j < chain->n; j++)
					if (!sk_X509_push(given, chain->certs[j]))
						break;
			}
			counted = crl_signed_by(crl, ci, st->anchors) ||
				  crl_signed_by(crl, ci, path) || crl_signed_by(crl, ci, given);
		}
		if (!counted)
			continue;
		if (!X509_CRL_get0_nextUpdate(crl) ||
		    (asn1_time_unix(X509_CRL_get0_nextUpdate(crl), &next) == 0 && next >= now))
			*covered = true;
		if (X509_CRL_get0_by_serial(crl, &entry,
					    (ASN1_INTEGER *)X509_get0_serialNumber(cert)) == 1) {
			sk_X509_free(given);
			return 1;
		}
	}
	sk_X509_free(given);
	ERR_clear_error();
	return 0;
}

static bool key_is_p256(X509 *leaf)
{
	EVP_PKEY *k = X509_get0_pubkey(leaf);
	char group[64];
	size_t glen = 0;

	if (!k || !EVP_PKEY_is_a(k, "EC"))
		return false;
	if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    &glen))
		return false;
	return strcmp(group, SN_X9_62_prime256v1) == 0 || strcmp(group, "P-256") == 0;
}

/* Returns 1 when leaf has basicConstraints CA:TRUE, 0 otherwise, -EINVAL when malformed. */
static int leaf_is_ca(X509 *leaf)
{
	int crit = 0;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(leaf, NID_basic_constraints, &crit, NULL);
	int rc;

	if (!bc)
		return crit == -1 ? 0 : -EINVAL;
	rc = bc->ca ? 1 : 0;
	BASIC_CONSTRAINTS_free(bc);
	return rc;
}

static bool has_policy(X509 *leaf, const struct cert_policy *pol)
{
	static const char *const defaults[] = { CERT_OID_SHAKEN_POLICY, CERT_OID_SHAKEN_POLICY_4 };
	const char *const *oids = pol->n_policy_oids ? pol->policy_oids : defaults;
	unsigned n_oids = pol->n_policy_oids ? pol->n_policy_oids : 2;
	CERTIFICATEPOLICIES *cp;
	bool found = false;
	int crit = 0;

	if (n_oids > CERT_POLICY_OIDS_MAX)
		n_oids = CERT_POLICY_OIDS_MAX;
	cp = X509_get_ext_d2i(leaf, NID_certificate_policies, &crit, NULL);
	if (!cp)
		return false;
	for (int i = 0; !found && i < sk_POLICYINFO_num(cp); i++) {
		POLICYINFO *pi = sk_POLICYINFO_value(cp, i);
		char txt[128];
		int n = OBJ_obj2txt(txt, sizeof(txt), pi->policyid, 1);

		if (n <= 0 || (size_t)n >= sizeof(txt))
			continue;
		for (unsigned j = 0; j < n_oids; j++)
			if (oids[j] && strcmp(txt, oids[j]) == 0)
				found = true;
	}
	CERTIFICATEPOLICIES_free(cp);
	return found;
}

static bool valid_tn(const char *tn)
{
	uint64_t v;

	return tn_value(tn, &v) == 0;
}

int cert_sti_check(const struct cert_chain *chain, const struct cert_store *st, int64_t now,
		   int64_t iat, const char *orig_tn, const struct cert_policy *pol,
		   struct cert_result *out)
{
	STACK_OF(X509) *path = NULL;
	struct cert_policy defpol;
	bool covered = false;
	int64_t t;
	X509 *leaf;
	int rc, ta_rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!chain || chain->n == 0 || chain->n > CERT_CHAIN_MAX || !chain->certs[0] || !st)
		return -EINVAL;
	if (orig_tn && !valid_tn(orig_tn))
		return -EINVAL;
	for (unsigned i = 0; i < chain->n; i++)
		if (!chain->certs[i])
			return -EINVAL;
	if (!pol) {
		cert_policy_default(&defpol);
		pol = &defpol;
	}
	leaf = chain->certs[0];

	out->not_before = asn1_time_unix(X509_get0_notBefore(leaf), &t) == 0 ? t : 0;
	out->not_after = asn1_time_unix(X509_get0_notAfter(leaf), &t) == 0 ? t : 0;
	ta_rc = cert_tnauth_of(leaf, &out->tnauth);
	if (ta_rc == 0 && cert_tnauth_spc(&out->tnauth))
		snprintf(out->spc, sizeof(out->spc), "%s", cert_tnauth_spc(&out->tnauth));
	if (ta_rc < 0)
		out->tnauth.n = 0;

	rc = chain_verify(chain, st, now, &out->verify_error, &path);
	if (rc < 0)
		goto out;
	if (rc == 1 && run(pol, CERT_UNTRUSTED) && fail(out, pol, CERT_UNTRUSTED))
		goto done;

	if (run(pol, CERT_EXPIRED) && (out->not_after == 0 || now > out->not_after) &&
	    fail(out, pol, CERT_EXPIRED))
		goto done;
	if (run(pol, CERT_NOT_YET_VALID) && (out->not_before == 0 || now < out->not_before) &&
	    fail(out, pol, CERT_NOT_YET_VALID))
		goto done;
	if (iat != 0 && run(pol, CERT_IAT_OUTSIDE) &&
	    (iat < out->not_before || iat > out->not_after) && fail(out, pol, CERT_IAT_OUTSIDE))
		goto done;

	if (run(pol, CERT_REVOKED) || (pol->require_crl && run(pol, CERT_CRL_MISSING))) {
		bool rev = false, ignored = false;

		for (unsigned i = 0; i < chain->n; i++)
			if (revoked(st, chain->certs[i], chain, path, now,
				    i == 0 ? &covered : &ignored))
				rev = true;
		if (rev && run(pol, CERT_REVOKED) && fail(out, pol, CERT_REVOKED))
			goto done;
		if (pol->require_crl && !covered && run(pol, CERT_CRL_MISSING) &&
		    fail(out, pol, CERT_CRL_MISSING))
			goto done;
	}

	if (run(pol, CERT_CA_LEAF) && leaf_is_ca(leaf) != 0 && fail(out, pol, CERT_CA_LEAF))
		goto done;
	if (run(pol, CERT_KEY) && !key_is_p256(leaf) && fail(out, pol, CERT_KEY))
		goto done;
	if (run(pol, CERT_KEY_USAGE) &&
	    (!(X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) ||
	     !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) &&
	    fail(out, pol, CERT_KEY_USAGE))
		goto done;
	if (run(pol, CERT_POLICY) && !has_policy(leaf, pol) && fail(out, pol, CERT_POLICY))
		goto done;
	if (ta_rc == -ENOENT && run(pol, CERT_NO_TNAUTH) && fail(out, pol, CERT_NO_TNAUTH))
		goto done;
	if (ta_rc < 0 && ta_rc != -ENOENT && run(pol, CERT_TNAUTH_INVALID) &&
	    fail(out, pol, CERT_TNAUTH_INVALID))
		goto done;
	if (orig_tn && ta_rc == 0 && run(pol, CERT_TN_NOT_COVERED) &&
	    cert_tnauth_covers(&out->tnauth, orig_tn) == 0 && fail(out, pol, CERT_TN_NOT_COVERED))
		goto done;

	out->failed = CERT_OK;
	out->pkey = X509_get_pubkey(leaf);
	if (!out->pkey)
		out->failed = CERT_KEY; /* no usable key, whatever the mode */
done:
	rc = 0;
out:
	sk_X509_pop_free(path, X509_free);
	ERR_clear_error();
	if (rc < 0)
		cert_result_clear(out);
	return rc;
}
