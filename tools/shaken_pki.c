/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-pki: writes a test STI PKI (STI-PA, STI-CA root and optional intermediate, SP leaf
 * certificates with TNAuthList, broken variants for tests, an SPC token and CRLs) as PEM files.
 * For tests and labs only: keys are written unencrypted (mode 0600). See docs/pki.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/b64u.h"
#include "crypto/cert.h"
#include "crypto/tn.h"

#define MAX_TNS 8
#define MAX_RANGES 8
#define TNAUTH_DER_MAX 1024
#define DAY 86400

struct range {
	char start[TN_MAX + 1];
	uint64_t count;
};

struct opts {
	const char *out;
	const char *spc;
	const char *tns[MAX_TNS];
	char tn_canon[MAX_TNS][TN_MAX + 1];
	unsigned n_tns;
	struct range ranges[MAX_RANGES];
	unsigned n_ranges;
	bool intermediate;
	long days;
	const char *crl_url;
	const char *policy_oid;
	const char *pa_x5u;
};

static int64_t now;

/* ---- small helpers ---------------------------------------------------------------------- */

static void die_ssl(const char *what)
{
	fprintf(stderr, "shaken-pki: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "shaken-pki: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static EVP_PKEY *gen_key(const char *curve)
{
	EVP_PKEY *k = EVP_EC_gen(curve);

	if (!k)
		die_ssl("EC key generation");
	return k;
}

/* A random positive 128-bit serial (top bit clear, never zero). */
static void set_serial(X509 *x, ASN1_INTEGER *out_crl)
{
	unsigned char b[16];
	BIGNUM *bn;

	if (RAND_bytes(b, sizeof(b)) != 1)
		die_ssl("RAND_bytes");
	b[0] = (b[0] & 0x7f) | 0x40;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, x ? X509_get_serialNumber(x) : out_crl))
		die_ssl("serial");
	BN_free(bn);
}

/* Values that go into an OpenSSL extension config string or JSON: no separators, quotes. */
static bool safe_text(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\' || *s == ',')
			return false;
	return true;
}

/* ---- TNAuthList DER --------------------------------------------------------------------- */

struct der_buf {
	uint8_t b[TNAUTH_DER_MAX];
	size_t n;
};

static void der_put(struct der_buf *d, const void *p, size_t n)
{
	if (n > sizeof(d->b) - d->n)
		die("%s", "TNAuthList too large");
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

/* Appends tag and length of a value of len bytes (definite, minimal). */
static void der_hdr(struct der_buf *d, uint8_t tag, size_t len)
{
	uint8_t h[4] = { tag };

	if (len < 0x80) {
		h[1] = (uint8_t)len;
		der_put(d, h, 2);
	} else if (len < 0x100) {
		h[1] = 0x81;
		h[2] = (uint8_t)len;
		der_put(d, h, 3);
	} else {
		h[1] = 0x82;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		der_put(d, h, 4);
	}
}

static size_t hdr_len(size_t len)
{
	return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

static void der_ia5(struct der_buf *d, const char *s)
{
	der_hdr(d, 0x16, strlen(s));
	der_put(d, s, strlen(s));
}

static size_t int_bytes(uint64_t v, uint8_t out[9])
{
	uint8_t tmp[9];
	size_t n = 0;

	do {
		tmp[n++] = (uint8_t)v;
		v >>= 8;
	} while (v);
	if (tmp[n - 1] & 0x80)
		tmp[n++] = 0;
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* Writes SEQUENCE OF TNEntry, EXPLICIT tags: the SPC, then each TN, then each range. */
static void tnauth_der(struct der_buf *d, const char *spc, const char *const *tns, unsigned n_tns,
		       const struct range *ranges, unsigned n_ranges)
{
	struct der_buf body = { .n = 0 };

	if (spc) {
		size_t l = strlen(spc);

		der_hdr(&body, 0xa0, hdr_len(l) + l);
		der_ia5(&body, spc);
	}
	for (unsigned i = 0; i < n_tns; i++) {
		size_t l = strlen(tns[i]);

		der_hdr(&body, 0xa2, hdr_len(l) + l);
		der_ia5(&body, tns[i]);
	}
	for (unsigned i = 0; i < n_ranges; i++) {
		uint8_t ib[9];
		size_t il = int_bytes(ranges[i].count, ib);
		size_t sl = strlen(ranges[i].start);
		size_t seq = hdr_len(sl) + sl + 2 + il;

		der_hdr(&body, 0xa1, hdr_len(seq) + seq);
		der_hdr(&body, 0x30, seq);
		der_ia5(&body, ranges[i].start);
		der_hdr(&body, 0x02, il);
		der_put(&body, ib, il);
	}
	d->n = 0;
	der_hdr(d, 0x30, body.n);
	der_put(d, body.b, body.n);
}

/* ---- certificates ----------------------------------------------------------------------- */

struct spec {
	const char *o, *cn;
	EVP_PKEY *key;          /* subject key */
	X509 *issuer;           /* NULL: self-signed */
	EVP_PKEY *issuer_key;
	int64_t nb, na;
	bool ca;
	const char *ku;         /* keyUsage config value */
	const char *policy;     /* NULL: no certificatePolicies */
	const struct der_buf *tnauth; /* NULL: no TNAuthList */
	const char *crl_url;    /* NULL: no CRL distribution point */
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e || !X509_add_ext(x, e, -1))
		die_ssl(OBJ_nid2sn(nid));
	X509_EXTENSION_free(e);
}

static void set_name(X509_NAME *n, const char *o, const char *cn)
{
	if (!X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)o, -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0))
		die_ssl("X509_NAME");
}

static X509 *make_cert(const struct spec *s)
{
	X509 *x = X509_new();

	if (!x || !X509_set_version(x, X509_VERSION_3))
		die_ssl("X509_new");
	set_serial(x, NULL);
	set_name(X509_get_subject_name(x), s->o, s->cn);
	if (!X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) :
						 X509_get_subject_name(x)))
		die_ssl("issuer name");
	if (!ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->na))
		die_ssl("validity");
	if (!X509_set_pubkey(x, s->key))
		die_ssl("X509_set_pubkey");
	add_ext(x, s->issuer, NID_basic_constraints, s->ca ? "critical,CA:TRUE" :
							     "critical,CA:FALSE");
	add_ext(x, s->issuer, NID_key_usage, s->ku);
	add_ext(x, s->issuer, NID_subject_key_identifier, "hash");
	add_ext(x, s->issuer, NID_authority_key_identifier, "keyid:always");
	if (s->policy) {
		CERTIFICATEPOLICIES *cp = sk_POLICYINFO_new_null();
		POLICYINFO *pi = POLICYINFO_new();

		if (!cp || !pi)
			die_ssl("certificatePolicies");
		ASN1_OBJECT_free(pi->policyid);
		pi->policyid = OBJ_txt2obj(s->policy, 1);
		if (!pi->policyid || !sk_POLICYINFO_push(cp, pi) ||
		    X509_add1_ext_i2d(x, NID_certificate_policies, cp, 0, 0) != 1)
			die_ssl("certificatePolicies");
		CERTIFICATEPOLICIES_free(cp);
	}
	if (s->crl_url) {
		char v[600];

		snprintf(v, sizeof(v), "URI:%s", s->crl_url);
		add_ext(x, s->issuer, NID_crl_distribution_points, v);
	}
	if (s->tnauth) {
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		ASN1_OBJECT *obj = OBJ_txt2obj(CERT_OID_TNAUTHLIST, 1);
		X509_EXTENSION *e = NULL;

		if (!os || !obj || !ASN1_OCTET_STRING_set(os, s->tnauth->b, (int)s->tnauth->n))
			die_ssl("TNAuthList");
		e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
		if (!e || !X509_add_ext(x, e, -1))
			die_ssl("TNAuthList");
		X509_EXTENSION_free(e);
		ASN1_OBJECT_free(obj);
		ASN1_OCTET_STRING_free(os);
	}
	if (!X509_sign(x, s->issuer_key ? s->issuer_key : s->key, EVP_sha256()))
		die_ssl("X509_sign");
	return x;
}

#define CA_KU "critical,keyCertSign,cRLSign"

/* A CA certificate valid from an hour ago for years; self-signed when issuer is NULL. */
static X509 *make_ca(const char *o, const char *cn, EVP_PKEY *key, X509 *issuer,
		     EVP_PKEY *issuer_key, long years, const char *ku)
{
	return make_cert(&(struct spec){ .o = o, .cn = cn, .key = key, .issuer = issuer,
					 .issuer_key = issuer_key, .nb = now - 3600,
					 .na = now + years * 365 * DAY, .ca = true, .ku = ku });
}

/* ---- files ------------------------------------------------------------------------------ */

struct written {
	char name[64];
	char what[96];
};

static struct written files[64];
static unsigned n_files;

static FILE *open_out(const struct opts *o, const char *name, mode_t mode, const char *what)
{
	char path[PATH_MAX];
	FILE *f;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", o->out, name) >= sizeof(path))
		die("path too long: %s", name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || fchmod(fd, mode) < 0)
		die("cannot write %s", path);
	f = fdopen(fd, "w");
	if (!f)
		die("cannot write %s", path);
	if (n_files < sizeof(files) / sizeof(files[0])) {
		snprintf(files[n_files].name, sizeof(files[n_files].name), "%s", name);
		snprintf(files[n_files].what, sizeof(files[n_files].what), "%s", what);
		n_files++;
	}
	return f;
}

static void close_out(FILE *f, const char *name)
{
	if (ferror(f) || fclose(f) != 0)
		die("write error on %s", name);
}

static void write_certs(const struct opts *o, const char *name, X509 *const *xs, unsigned n,
			const char *what)
{
	FILE *f = open_out(o, name, 0644, what);

	for (unsigned i = 0; i < n; i++)
		if (xs[i] && !PEM_write_X509(f, xs[i]))
			die_ssl("PEM_write_X509");
	close_out(f, name);
}

static void write_key(const struct opts *o, const char *name, EVP_PKEY *k, const char *what)
{
	FILE *f = open_out(o, name, 0600, what);

	if (!PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL))
		die_ssl("PEM_write_PrivateKey");
	close_out(f, name);
}

static void write_text(const struct opts *o, const char *name, const char *text, const char *what)
{
	FILE *f = open_out(o, name, 0644, what);

	fputs(text, f);
	close_out(f, name);
}

/* ---- CRL -------------------------------------------------------------------------------- */

static X509_CRL *make_crl(X509 *issuer, EVP_PKEY *key, const ASN1_INTEGER *revoked_serial,
			  long days)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	if (!crl || !r || !t || !num || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)))
		die_ssl("X509_CRL");
	if (!ASN1_TIME_set(t, (time_t)(now - 60)) || !X509_CRL_set1_lastUpdate(crl, t) ||
	    !ASN1_TIME_set(t, (time_t)(now + days * DAY)) || !X509_CRL_set1_nextUpdate(crl, t))
		die_ssl("CRL times");
	if (!ASN1_TIME_set(t, (time_t)(now - 60)) || !X509_REVOKED_set_revocationDate(r, t) ||
	    !X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)revoked_serial) ||
	    !X509_CRL_add0_revoked(crl, r))
		die_ssl("CRL entry");
	if (!ASN1_INTEGER_set(num, 1) || !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		die_ssl("crlNumber");
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (!e || !X509_CRL_add_ext(crl, e, -1))
		die_ssl("CRL authorityKeyIdentifier");
	X509_EXTENSION_free(e);
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, key, EVP_sha256()))
		die_ssl("X509_CRL_sign");
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	return crl;
}

static void write_crl(const struct opts *o, const char *name, X509_CRL *crl, const char *what)
{
	FILE *f = open_out(o, name, 0644, what);

	if (!PEM_write_X509_CRL(f, crl))
		die_ssl("PEM_write_X509_CRL");
	close_out(f, name);
}

/* ---- SPC token (ATIS-1000080 §5.3 / RFC 9448 style JWT) -------------------------------- */

/* base64url of src into dst, NUL-terminated. */
static void b64u(char *dst, size_t cap, const void *src, size_t n)
{
	long w = cap > 0 ? b64u_encode(dst, cap - 1, src, n) : -ENOSPC;

	if (w < 0)
		die("%s", "base64url overflow");
	dst[w] = '\0';
}

/* ES256 over input with key: raw r||s. */
static void es256(EVP_PKEY *key, const char *input, uint8_t sig[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *s;

	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &dlen, (const unsigned char *)input, strlen(input)) != 1)
		die_ssl("ES256 sign");
	s = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (!s || BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) != 32)
		die_ssl("ECDSA_SIG");
	ECDSA_SIG_free(s);
	EVP_MD_CTX_free(md);
}

static void spc_token(const struct opts *o, EVP_PKEY *pa_key, EVP_PKEY *account,
		      const struct der_buf *tnauth)
{
	char hdr[512], claims[2048], tkvalue[(TNAUTH_DER_MAX + 2) / 3 * 4 + 1];
	char fp[32 * 3 + 1], jti[37], tok[4096];
	unsigned char *spki = NULL, dig[32], r[16];
	unsigned int dlen = 0;
	uint8_t sig[64];
	size_t n;
	int spki_len;

	EVP_EncodeBlock((unsigned char *)tkvalue, tnauth->b, (int)tnauth->n);
	spki_len = i2d_PUBKEY(account, &spki);
	if (spki_len <= 0 || !EVP_Digest(spki, (size_t)spki_len, dig, &dlen, EVP_sha256(), NULL))
		die_ssl("fingerprint");
	OPENSSL_free(spki);
	for (unsigned i = 0; i < 32; i++)
		snprintf(fp + 3 * i, 4, i == 31 ? "%02X" : "%02X:", dig[i]);
	if (RAND_bytes(r, sizeof(r)) != 1)
		die_ssl("RAND_bytes");
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(jti, sizeof(jti),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
		 r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
		 r[15]);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"x5u\":\"%s\"}", o->pa_x5u);
	snprintf(claims, sizeof(claims),
		 "{\"atc\":{\"ca\":false,\"fingerprint\":\"SHA256 %s\",\"tktype\":\"TNAuthList\","
		 "\"tkvalue\":\"%s\"},\"exp\":%" PRId64 ",\"jti\":\"%s\"}",
		 fp, tkvalue, now + o->days * DAY, jti);
	b64u(tok, sizeof(tok), hdr, strlen(hdr));
	n = strlen(tok);
	tok[n++] = '.';
	b64u(tok + n, sizeof(tok) - n, claims, strlen(claims));
	es256(pa_key, tok, sig);
	n = strlen(tok);
	tok[n++] = '.';
	b64u(tok + n, sizeof(tok) - n - 1, sig, sizeof(sig)); /* room for \n */
	n = strlen(tok);
	tok[n++] = '\n';
	tok[n] = '\0';
	write_text(o, "spc-token.jwt", tok, "SPC token (JWT, ES256 by the STI-PA)");
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: shaken-pki --out DIR [--spc SPC] [--tn TN]... [--range START:COUNT]...\n"
	      "                  [--intermediate] [--days N] [--crl-url URL] [--policy-oid OID]\n"
	      "                  [--pa-x5u URL]\n"
	      "Writes a test STI PKI (STI-PA, STI-CA, SP leaf certificates and broken variants,\n"
	      "SPC token, CRLs) as PEM files into DIR. See docs/pki.md.\n",
	      f);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "spc", required_argument, NULL, 's' },
		{ "tn", required_argument, NULL, 't' },
		{ "range", required_argument, NULL, 'r' },
		{ "intermediate", no_argument, NULL, 'i' },
		{ "days", required_argument, NULL, 'd' },
		{ "crl-url", required_argument, NULL, 'c' },
		{ "policy-oid", required_argument, NULL, 'p' },
		{ "pa-x5u", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:s:t:r:id:c:p:x:h", lo, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 's':
			if (!safe_text(optarg) || strlen(optarg) > CERT_SPC_MAX)
				die("bad --spc: %s", optarg);
			o->spc = optarg;
			break;
		case 't':
			if (o->n_tns == MAX_TNS)
				die("%s", "too many --tn");
			if (tn_canon(optarg, strlen(optarg), o->tn_canon[o->n_tns]) < 0)
				die("bad --tn: %s", optarg);
			o->tns[o->n_tns] = o->tn_canon[o->n_tns];
			o->n_tns++;
			break;
		case 'r': {
			struct range *r = &o->ranges[o->n_ranges];
			const char *colon = strchr(optarg, ':');
			unsigned long long cnt;

			if (o->n_ranges == MAX_RANGES)
				die("%s", "too many --range");
			if (!colon || tn_canon(optarg, (size_t)(colon - optarg), r->start) < 0)
				die("bad --range: %s", optarg);
			errno = 0;
			cnt = strtoull(colon + 1, &end, 10);
			if (errno || *end || end == colon + 1 || cnt < 2 || cnt > INT64_MAX ||
			    colon[1] == '-')
				die("bad --range count (2..): %s", optarg);
			r->count = cnt;
			o->n_ranges++;
			break;
		}
		case 'i':
			o->intermediate = true;
			break;
		case 'd':
			errno = 0;
			o->days = strtol(optarg, &end, 10);
			if (errno || *end || o->days < 1 || o->days > 36500)
				die("bad --days (1..36500): %s", optarg);
			break;
		case 'c':
			if (!safe_text(optarg) || strlen(optarg) > 512)
				die("bad --crl-url: %s", optarg);
			o->crl_url = optarg;
			break;
		case 'p': {
			ASN1_OBJECT *obj = OBJ_txt2obj(optarg, 1);

			if (!obj || !safe_text(optarg))
				die("bad --policy-oid: %s", optarg);
			ASN1_OBJECT_free(obj);
			o->policy_oid = optarg;
			break;
		}
		case 'x':
			if (!safe_text(optarg) || strlen(optarg) > 256)
				die("bad --pa-x5u: %s", optarg);
			o->pa_x5u = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (!o->out || optind != argc) {
		usage(stderr);
		exit(2);
	}
}

/* The leaf variants written besides the good leaf. */
enum validity { V_GOOD, V_EXPIRED, V_NOTYET };
enum tnkind { T_SPC, T_NONE, T_TNS };
enum policy { P_GOOD, P_NONE, P_WRONG };

struct variant {
	const char *name;
	const char *what;
	const char *curve; /* NULL: P-256 */
	enum validity validity;
	enum tnkind tn;
	enum policy policy;
	bool ca;
	bool untrusted;
	bool bad_ku;
	bool revoke;
};

#define VARIANT(n, w, ...) { .name = n, .what = w, __VA_ARGS__ }

static const struct variant variants[] = {
	VARIANT("leaf-expired", "expired (notAfter yesterday)", .validity = V_EXPIRED),
	VARIANT("leaf-notyet", "not yet valid (notBefore tomorrow)", .validity = V_NOTYET),
	VARIANT("leaf-p384", "EC P-384 key", .curve = "P-384"),
	VARIANT("leaf-notnauth", "no TNAuthList", .tn = T_NONE),
	VARIANT("leaf-revoked", "revoked (in sti-pa.crl and trust/ca.crl)", .revoke = true),
	VARIANT("leaf-untrusted", "issued by untrusted-root.pem", .untrusted = true),
	VARIANT("leaf-nopolicy", "no certificatePolicies", .policy = P_NONE),
	VARIANT("leaf-wrongpolicy", "policy 1.3.6.1.4.1.99999.1 only", .policy = P_WRONG),
	VARIANT("leaf-ca", "basicConstraints CA:TRUE", .ca = true),
	VARIANT("leaf-ku", "keyUsage keyAgreement (no digitalSignature)", .bad_ku = true),
	VARIANT("leaf-tn", "TNAuthList SPC + TN 12155551212 + range 12155551300:100",
		.tn = T_TNS),
};

int main(int argc, char **argv)
{
	struct opts o = {
		.spc = "1234",
		.days = 365,
		.crl_url = "https://sti-pa.example.org/crl.pem",
		.policy_oid = CERT_OID_SHAKEN_POLICY,
		.pa_x5u = "https://sti-pa.example.org/sti-pa.pem",
	};
	static const char *const tn_fixed[] = { "12155551212" };
	static const struct range range_fixed[] = { { "12155551300", 100 } };
	struct der_buf ta_good, ta_spc, ta_tns;
	EVP_PKEY *pa_key, *root_key, *int_key = NULL, *untrusted_key, *leaf_key, *account;
	X509 *pa, *root, *inter = NULL, *untrusted, *leaf, *issuer;
	EVP_PKEY *issuer_key;
	ASN1_INTEGER *revoked_serial = NULL;
	X509_CRL *crl;
	char path[PATH_MAX];

	parse_args(argc, argv, &o);
	now = (int64_t)time(NULL);
	if (mkdir(o.out, 0755) < 0 && errno != EEXIST)
		die("cannot create %s", o.out);
	if ((size_t)snprintf(path, sizeof(path), "%s/trust", o.out) >= sizeof(path) ||
	    (mkdir(path, 0755) < 0 && errno != EEXIST))
		die("cannot create %s/trust", o.out);

	tnauth_der(&ta_good, o.spc, o.tns, o.n_tns, o.ranges, o.n_ranges);
	tnauth_der(&ta_spc, o.spc, NULL, 0, NULL, 0);
	tnauth_der(&ta_tns, o.spc, tn_fixed, 1, range_fixed, 1);

	/* STI-PA: self-signed; signs the SPC token and sti-pa.crl */
	pa_key = gen_key("P-256");
	pa = make_ca("shakend test STI-PA", "STI-PA Root", pa_key, NULL, NULL, 10,
		     "critical,digitalSignature,keyCertSign,cRLSign");
	/* STI-CA root and optional intermediate */
	root_key = gen_key("P-256");
	root = make_ca("shakend test STI-CA", "STI-CA Root", root_key, NULL, NULL, 10, CA_KU);
	issuer = root;
	issuer_key = root_key;
	if (o.intermediate) {
		int_key = gen_key("P-256");
		inter = make_ca("shakend test STI-CA", "STI-CA Intermediate", int_key, root,
				root_key, 5, CA_KU);
		issuer = inter;
		issuer_key = int_key;
	}
	untrusted_key = gen_key("P-256");
	untrusted = make_ca("shakend test untrusted", "Untrusted Root", untrusted_key, NULL, NULL,
			    10, CA_KU);

	write_certs(&o, "sti-pa.pem", &pa, 1, "STI-PA certificate (CRL signer, SPC token signer)");
	write_key(&o, "sti-pa.key", pa_key, "STI-PA private key");
	write_certs(&o, "ca-root.pem", &root, 1, "STI-CA root certificate (trust anchor)");
	write_certs(&o, "trust/ca-root.pem", &root, 1, "trust directory: STI-CA root");
	write_key(&o, "ca-root.key", root_key, "STI-CA root private key");
	if (inter) {
		write_certs(&o, "ca-int.pem", &inter, 1, "STI-CA intermediate certificate");
		write_key(&o, "ca-int.key", int_key, "STI-CA intermediate private key");
	}
	write_certs(&o, "untrusted-root.pem", &untrusted, 1, "a root no trust store holds");

	/* the good SP leaf */
	leaf_key = gen_key("P-256");
	leaf = make_cert(&(struct spec){
		.o = "shakend test SP", .cn = "SHAKEN leaf", .key = leaf_key, .issuer = issuer,
		.issuer_key = issuer_key, .nb = now - 3600, .na = now + o.days * DAY,
		.ku = "critical,digitalSignature", .policy = o.policy_oid, .tnauth = &ta_good,
		.crl_url = o.crl_url });
	write_certs(&o, "leaf.pem", &leaf, 1, "SP leaf certificate (passes every check)");
	write_key(&o, "leaf.key", leaf_key, "SP leaf private key (EC P-256)");
	write_certs(&o, "chain.pem", (X509 *[]){ leaf, inter }, 2,
		    "x5u chain: leaf + intermediate (if any)");
	write_certs(&o, "leaf-chain.pem", (X509 *[]){ leaf, inter }, 2, "same as chain.pem");

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		const struct variant *v = &variants[i];
		char name[64], what[128];
		EVP_PKEY *k = gen_key(v->curve ? v->curve : "P-256");
		int64_t nb = now - 3600, na = now + o.days * DAY;
		X509 *x;

		if (v->validity == V_EXPIRED) {
			nb = now - 30L * DAY;
			na = now - DAY;
		} else if (v->validity == V_NOTYET) {
			nb = now + DAY;
			na = now + 30L * DAY;
		}
		x = make_cert(&(struct spec){
			.o = "shakend test SP", .cn = v->name, .key = k,
			.issuer = v->untrusted ? untrusted : issuer,
			.issuer_key = v->untrusted ? untrusted_key : issuer_key, .nb = nb, .na = na,
			.ca = v->ca,
			.ku = v->ca ? "critical,digitalSignature,keyCertSign" :
			      v->bad_ku ? "critical,keyAgreement" : "critical,digitalSignature",
			.policy = v->policy == P_GOOD ? o.policy_oid :
				  v->policy == P_WRONG ? "1.3.6.1.4.1.99999.1" : NULL,
			.tnauth = v->tn == T_NONE ? NULL : v->tn == T_TNS ? &ta_tns : &ta_spc,
			.crl_url = o.crl_url });
		if (v->revoke)
			revoked_serial = ASN1_INTEGER_dup(X509_get0_serialNumber(x));
		snprintf(name, sizeof(name), "%s.pem", v->name);
		snprintf(what, sizeof(what), "variant: %s", v->what);
		write_certs(&o, name, &x, 1, what);
		snprintf(name, sizeof(name), "%s.key", v->name);
		write_key(&o, name, k, "its private key");
		snprintf(name, sizeof(name), "%s-chain.pem", v->name);
		write_certs(&o, name, (X509 *[]){ x, v->untrusted ? NULL : inter }, 2,
			    "its x5u chain");
		X509_free(x);
		EVP_PKEY_free(k);
	}
	if (!revoked_serial)
		die("%s", "no revoked variant");

	crl = make_crl(pa, pa_key, revoked_serial, o.days);
	write_crl(&o, "sti-pa.crl", crl, "CRL signed by the STI-PA, lists leaf-revoked");
	X509_CRL_free(crl);
	crl = make_crl(issuer, issuer_key, revoked_serial, o.days);
	write_crl(&o, "trust/ca.crl", crl, "CRL signed by the issuing STI-CA, lists leaf-revoked");
	X509_CRL_free(crl);

	account = gen_key("P-256");
	write_key(&o, "sp-account.key", account, "SP ACME account key (SPC token fingerprint)");
	spc_token(&o, pa_key, account, &ta_spc);

	printf("shaken-pki: wrote %u files to %s (SPC %s%s)\n", n_files, o.out, o.spc,
	       inter ? ", with intermediate" : "");
	for (unsigned i = 0; i < n_files; i++)
		printf("  %-26s %s\n", files[i].name, files[i].what);

	ASN1_INTEGER_free(revoked_serial);
	X509_free(leaf);
	X509_free(untrusted);
	X509_free(inter);
	X509_free(root);
	X509_free(pa);
	EVP_PKEY_free(account);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(untrusted_key);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(pa_key);
	return 0;
}
