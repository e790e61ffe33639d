/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PASSporT build (deterministic JSON, RFC 8225 §9) and strict bounded parse.
 *
 * The builder validates pp completely before writing a byte, so -EINVAL (pp cannot be
 * serialized) always wins over -ENOSPC (buffer too small).
 *
 * The parser is a recursive-descent JSON reader over (ptr,len) whose recursion is bounded by
 * PP_JSON_DEPTH. Object member names are decoded into an arena so that duplicates are found
 * whatever their escaping; the arena and the key stack are sized so that no input of
 * PP_JSON_MAX bytes can overflow them (a member takes at least 4 bytes: "":0).
 */
#include "crypto/pp.h"

#include <errno.h>
#include <string.h>

#include "crypto/b64u.h"

/* ---- shared checks -------------------------------------------------------------------- */

/*
 * Byte classes, one table lookup instead of a chain of comparisons:
 * CLS_PLAIN  printable ASCII that JSON writes as is (0x20..0x7f but '"' and '\\')
 * CLS_B64U   the base64url alphabet [A-Za-z0-9_-]
 */
enum { CLS_PLAIN = 1, CLS_B64U = 2 };

#define CLS_P(c) ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')
#define CLS_B(c)                                                                                   \
	(((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || \
	 (c) == '-' || (c) == '_')
#define CLS1(c) (uint8_t)((CLS_P(c) ? CLS_PLAIN : 0) | (CLS_B(c) ? CLS_B64U : 0))
#define CLS4(c) CLS1(c), CLS1((c) + 1), CLS1((c) + 2), CLS1((c) + 3)
#define CLS16(c) CLS4(c), CLS4((c) + 4), CLS4((c) + 8), CLS4((c) + 12)
#define CLS64(c) CLS16(c), CLS16((c) + 16), CLS16((c) + 32), CLS16((c) + 48)
static const uint8_t byte_cls[256] = {CLS64(0), CLS64(64), CLS64(128), CLS64(192)};
#undef CLS64
#undef CLS16
#undef CLS4
#undef CLS1
#undef CLS_B
#undef CLS_P

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t k, len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k < len; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return len;
}

/*
 * A NUL-terminated string held in a field of size bytes that deterministic JSON can write
 * without escapes: valid UTF-8, no control character, no '"' or '\'.
 * Returns its length, or -1.
 * Printable ASCII is skipped by a table-driven loop; utf8_seq sees only bytes from 0x80. It stops
 * at the NUL (never a continuation byte), so it reads no further than strnlen(s, size) would.
 */
static long json_safe(const char *s, size_t size)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	for (;;) {
		while (i < size && (byte_cls[u[i]] & CLS_PLAIN))
			i++;
		if (i == size)
			return -1; /* no NUL in the field */
		if (u[i] == 0)
			return (long)i;
		if (u[i] < 0x80)
			return -1; /* a control character, '"' or '\\' */
		k = utf8_seq(u + i, size - i);
		if (k == 0)
			return -1;
		i += k;
	}
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* An identity as pp_id_set accepts it. */
static bool id_ok(const struct pp_id *id)
{
	long n = json_safe(id->v, sizeof id->v);

	switch (id->kind) {
	case PP_ID_TN:
		return n >= 1 && n <= PP_TN_MAX && all_digits(id->v, (size_t)n);
	case PP_ID_URI:
		return n >= 1 && n <= PP_URI_MAX;
	default:
		return false;
	}
}

/* ---- initializers --------------------------------------------------------------------- */

int pp_id_set(struct pp_id *id, enum pp_id_kind kind, const char *v)
{
	size_t n;

	memset(id, 0, sizeof *id);
	if (!v || (kind != PP_ID_TN && kind != PP_ID_URI))
		return -EINVAL;
	n = strnlen(v, sizeof id->v);
	if (n == sizeof id->v)
		return -EINVAL;
	memcpy(id->v, v, n);
	id->kind = kind;
	id->len = (uint16_t)n;
	if (!id_ok(id)) {
		memset(id, 0, sizeof *id);
		return -EINVAL;
	}
	return 0;
}

/* Copies a non-empty JSON-safe string into a field of size bytes. */
static int set_str(char *dst, size_t size, const char *v)
{
	long n;

	if (!v)
		return -EINVAL;
	n = json_safe(v, size);
	if (n < 1)
		return -EINVAL;
	memcpy(dst, v, (size_t)n + 1);
	return 0;
}

/* The members every ES256 PASSporT built here shares. */
static int common_init(struct pp_passport *pp, const char *x5u, const char *orig_tn,
		       const char *const *dest_tns, unsigned n_dest, int64_t iat)
{
	unsigned k;

	memcpy(pp->alg, "ES256", sizeof "ES256");
	memcpy(pp->typ, "passport", sizeof "passport");
	if (set_str(pp->x5u, sizeof pp->x5u, x5u) != 0)
		return -EINVAL;
	if (pp_id_set(&pp->orig, PP_ID_TN, orig_tn) != 0)
		return -EINVAL;
	if (!dest_tns || n_dest == 0 || n_dest > PP_DEST_MAX)
		return -EINVAL;
	for (k = 0; k < n_dest; k++)
		if (pp_id_set(&pp->dest[k], PP_ID_TN, dest_tns[k]) != 0)
			return -EINVAL;
	pp->n_dest = n_dest;
	if (iat < 0)
		return -EINVAL;
	pp->iat = iat;
	pp->present |= PP_HAS_ALG | PP_HAS_TYP | PP_HAS_PPT | PP_HAS_X5U | PP_HAS_ORIG |
		       PP_HAS_DEST | PP_HAS_IAT;
	return 0;
}

int pp_shaken_init(struct pp_passport *pp, const char *x5u, char attest, const char *orig_tn,
		   const char *const *dest_tns, unsigned n_dest, int64_t iat, const char *origid)
{
	memset(pp, 0, sizeof *pp);
	if (common_init(pp, x5u, orig_tn, dest_tns, n_dest, iat) != 0)
		goto fail;
	if (attest != 'A' && attest != 'B' && attest != 'C')
		goto fail;
	pp->attest = attest;
	if (set_str(pp->origid, sizeof pp->origid, origid) != 0)
		goto fail;
	pp->ppt = PP_PPT_SHAKEN;
	memcpy(pp->ppt_name, "shaken", sizeof "shaken");
	pp->present |= PP_HAS_ATTEST | PP_HAS_ORIGID;
	return 0;
fail:
	memset(pp, 0, sizeof *pp);
	return -EINVAL;
}

int pp_div_init(struct pp_passport *pp, const char *x5u, const char *orig_tn,
		const char *const *dest_tns, unsigned n_dest, const char *div_tn, int64_t iat)
{
	memset(pp, 0, sizeof *pp);
	if (common_init(pp, x5u, orig_tn, dest_tns, n_dest, iat) != 0)
		goto fail;
	if (pp_id_set(&pp->div, PP_ID_TN, div_tn) != 0)
		goto fail;
	pp->ppt = PP_PPT_DIV;
	memcpy(pp->ppt_name, "div", sizeof "div");
	pp->present |= PP_HAS_DIV;
	return 0;
fail:
	memset(pp, 0, sizeof *pp);
	return -EINVAL;
}

/* ---- building ------------------------------------------------------------------------- */

struct jw {
	char *p;
	size_t cap;
	size_t len;
	bool full;  /* something did not fit */
	bool first; /* no member written yet in the current object */
};

static void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void jw_lit(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

/* A string already checked by json_safe. */
static void jw_str(struct jw *w, const char *s)
{
	jw_raw(w, "\"", 1);
	jw_lit(w, s);
	jw_raw(w, "\"", 1);
}

/* Opens an object (first) or writes the separator, then "name":. */
static void jw_key(struct jw *w, const char *name)
{
	if (!w->first)
		jw_raw(w, ",", 1);
	w->first = false;
	jw_str(w, name);
	jw_raw(w, ":", 1);
}

static void jw_uint(struct jw *w, uint64_t v)
{
	char d[20];
	size_t i = sizeof d;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	jw_raw(w, d + i, sizeof d - i);
}

/* {"tn":"..."} or {"uri":"..."} */
static void jw_id(struct jw *w, const struct pp_id *id)
{
	jw_raw(w, "{", 1);
	w->first = true;
	jw_key(w, id->kind == PP_ID_TN ? "tn" : "uri");
	jw_str(w, id->v);
	jw_raw(w, "}", 1);
}

static long jw_end(struct jw *w)
{
	jw_raw(w, "}", 1);
	return w->full ? -ENOSPC : (long)w->len;
}

/* The ppt name to write, or NULL when none follows from pp. */
static const char *ppt_name(const struct pp_passport *pp)
{
	switch (pp->ppt) {
	case PP_PPT_SHAKEN:
		return "shaken";
	case PP_PPT_DIV:
		return "div";
	default:
		if (json_safe(pp->ppt_name, sizeof pp->ppt_name) < 1)
			return NULL;
		return pp->ppt_name;
	}
}

/* The checks of pp_header_json; *ppt gets the ppt name to write (NULL: none). */
static bool header_ok(const struct pp_passport *pp, const char **ppt)
{
	*ppt = NULL;
	if (!(pp->present & PP_HAS_ALG) || json_safe(pp->alg, sizeof pp->alg) < 0)
		return false;
	if (pp->present & PP_HAS_PPT) {
		*ppt = ppt_name(pp);
		if (!*ppt)
			return false;
	}
	if ((pp->present & PP_HAS_TYP) && json_safe(pp->typ, sizeof pp->typ) < 0)
		return false;
	if ((pp->present & PP_HAS_X5U) && json_safe(pp->x5u, sizeof pp->x5u) < 0)
		return false;
	return true;
}

/* The header of a pp that header_ok accepted. */
static long header_write(const struct pp_passport *pp, const char *ppt, char *buf, size_t cap)
{
	struct jw w = {.p = buf, .cap = cap, .first = true};

	jw_raw(&w, "{", 1);
	jw_key(&w, "alg");
	jw_str(&w, pp->alg);
	if (ppt) {
		jw_key(&w, "ppt");
		jw_str(&w, ppt);
	}
	if (pp->present & PP_HAS_TYP) {
		jw_key(&w, "typ");
		jw_str(&w, pp->typ);
	}
	if (pp->present & PP_HAS_X5U) {
		jw_key(&w, "x5u");
		jw_str(&w, pp->x5u);
	}
	return jw_end(&w);
}

long pp_header_json(const struct pp_passport *pp, char *buf, size_t cap)
{
	const char *ppt;

	if (!header_ok(pp, &ppt))
		return -EINVAL;
	return header_write(pp, ppt, buf, cap);
}

static bool claims_ok(const struct pp_passport *pp)
{
	unsigned k;

	if ((pp->present & PP_HAS_ATTEST) && pp->attest != 'A' && pp->attest != 'B' &&
	    pp->attest != 'C')
		return false;
	if (pp->present & PP_HAS_DEST) {
		if (pp->n_dest == 0 || pp->n_dest > PP_DEST_MAX)
			return false;
		for (k = 0; k < pp->n_dest; k++)
			if (!id_ok(&pp->dest[k]))
				return false;
	}
	if ((pp->present & PP_HAS_DIV) && !id_ok(&pp->div))
		return false;
	if ((pp->present & PP_HAS_IAT) && pp->iat < 0)
		return false;
	if ((pp->present & PP_HAS_ORIG) && !id_ok(&pp->orig))
		return false;
	if ((pp->present & PP_HAS_ORIGID) && json_safe(pp->origid, sizeof pp->origid) < 0)
		return false;
	return true;
}

/* "tn":[...] or "uri":[...] with the dest entries of that kind, if any. */
static void jw_dest_kind(struct jw *w, const struct pp_passport *pp, enum pp_id_kind kind)
{
	bool any = false;
	unsigned k;

	for (k = 0; k < pp->n_dest; k++) {
		if (pp->dest[k].kind != kind)
			continue;
		if (!any) {
			jw_key(w, kind == PP_ID_TN ? "tn" : "uri");
			jw_raw(w, "[", 1);
		} else {
			jw_raw(w, ",", 1);
		}
		any = true;
		jw_str(w, pp->dest[k].v);
	}
	if (any)
		jw_raw(w, "]", 1);
}

/* The claims of a pp that claims_ok accepted. */
static long claims_write(const struct pp_passport *pp, char *buf, size_t cap)
{
	struct jw w = {.p = buf, .cap = cap, .first = true};

	jw_raw(&w, "{", 1);
	if (pp->present & PP_HAS_ATTEST) {
		char a[2] = {pp->attest, 0};

		jw_key(&w, "attest");
		jw_str(&w, a);
	}
	if (pp->present & PP_HAS_DEST) {
		jw_key(&w, "dest");
		jw_raw(&w, "{", 1);
		w.first = true;
		jw_dest_kind(&w, pp, PP_ID_TN);
		jw_dest_kind(&w, pp, PP_ID_URI);
		jw_raw(&w, "}", 1);
	}
	if (pp->present & PP_HAS_DIV) {
		jw_key(&w, "div");
		jw_id(&w, &pp->div);
	}
	if (pp->present & PP_HAS_IAT) {
		jw_key(&w, "iat");
		jw_uint(&w, (uint64_t)pp->iat);
	}
	if (pp->present & PP_HAS_ORIG) {
		jw_key(&w, "orig");
		jw_id(&w, &pp->orig);
	}
	if (pp->present & PP_HAS_ORIGID) {
		jw_key(&w, "origid");
		jw_str(&w, pp->origid);
	}
	return jw_end(&w);
}

long pp_claims_json(const struct pp_passport *pp, char *buf, size_t cap)
{
	if (!claims_ok(pp))
		return -EINVAL;
	return claims_write(pp, buf, cap);
}

/*
 * Appends base64url(json) at buf + *len; n is the length the JSON writer returned.
 * PASSporT JSON is public: the table-driven encoder is used.
 */
static int append_b64u(char *buf, size_t cap, size_t *len, const char *json, long n)
{
	long e;

	if (n == -ENOSPC)
		return -EINVAL; /* beyond what a parser accepts */
	if (n < 0)
		return (int)n;
	e = b64u_encode_public(buf + *len, cap - *len, (const uint8_t *)json, (size_t)n);
	if (e < 0)
		return (int)e;
	*len += (size_t)e;
	return 0;
}

long pp_signing_input(const struct pp_passport *pp, char *buf, size_t cap)
{
	char json[PP_JSON_MAX];
	const char *ppt;
	size_t len = 0;
	int r;

	/* validate both halves once, first: -EINVAL before -ENOSPC */
	if (!header_ok(pp, &ppt) || !claims_ok(pp))
		return -EINVAL;
	r = append_b64u(buf, cap, &len, json, header_write(pp, ppt, json, sizeof json));
	if (r < 0)
		return r;
	if (len == cap)
		return -ENOSPC;
	buf[len++] = '.';
	r = append_b64u(buf, cap, &len, json, claims_write(pp, json, sizeof json));
	if (r < 0)
		return r;
	return (long)len;
}

long pp_token_finish(char *buf, size_t cap, size_t len, const uint8_t sig[PP_SIG_LEN])
{
	long e;

	if (len >= cap)
		return -ENOSPC;
	buf[len] = '.';
	e = b64u_encode_public(buf + len + 1, cap - len - 1, sig, PP_SIG_LEN);
	if (e < 0)
		return e;
	return (long)(len + 1) + e;
}

long pp_sign(const struct pp_passport *pp, const struct pp_signer *s, char *buf, size_t cap)
{
	uint8_t digest[32], sig[PP_SIG_LEN];
	long n;
	int r;

	if (!s || !s->sign)
		return -EINVAL;
	n = pp_signing_input(pp, buf, cap);
	if (n < 0)
		return n;
	r = pp_sha256(buf, (size_t)n, digest);
	if (r < 0)
		return r;
	r = s->sign(s->ctx, digest, sig);
	if (r < 0)
		return r;
	if (r > 0)
		return -EIO;
	return pp_token_finish(buf, cap, (size_t)n, sig);
}

/* ---- equality ------------------------------------------------------------------------- */

static bool id_eq(const struct pp_id *a, const struct pp_id *b)
{
	return a->kind == b->kind && strncmp(a->v, b->v, sizeof a->v) == 0;
}

#define STR_EQ(a, b, f) (strncmp((a)->f, (b)->f, sizeof(a)->f) == 0)

bool pp_passport_equal(const struct pp_passport *a, const struct pp_passport *b)
{
	uint32_t p = a->present;
	unsigned k;

	if (p != b->present)
		return false;
	if ((p & PP_HAS_ALG) && !STR_EQ(a, b, alg))
		return false;
	if ((p & PP_HAS_TYP) && !STR_EQ(a, b, typ))
		return false;
	if ((p & PP_HAS_PPT) && (a->ppt != b->ppt || !STR_EQ(a, b, ppt_name)))
		return false;
	if ((p & PP_HAS_X5U) && !STR_EQ(a, b, x5u))
		return false;
	if ((p & PP_HAS_ATTEST) && a->attest != b->attest)
		return false;
	if ((p & PP_HAS_ORIG) && !id_eq(&a->orig, &b->orig))
		return false;
	if (p & PP_HAS_DEST) {
		if (a->n_dest != b->n_dest || a->n_dest > PP_DEST_MAX)
			return false;
		for (k = 0; k < a->n_dest; k++)
			if (!id_eq(&a->dest[k], &b->dest[k]))
				return false;
	}
	if ((p & PP_HAS_IAT) && a->iat != b->iat)
		return false;
	if ((p & PP_HAS_ORIGID) && !STR_EQ(a, b, origid))
		return false;
	if ((p & PP_HAS_DIV) && !id_eq(&a->div, &b->div))
		return false;
	return true;
}

/* ---- parsing -------------------------------------------------------------------------- */

#define JP_KEYS_MAX (PP_JSON_MAX / 4 + 1)

struct jp {
	const unsigned char *s;
	size_t n;
	size_t i;
	const char *why;
	unsigned nkeys; /* member names on the stack (all open objects) */
	size_t alen;	/* arena bytes in use */
	uint16_t koff[JP_KEYS_MAX];
	uint16_t klen[JP_KEYS_MAX];
	char arena[PP_JSON_MAX];
};

#define FAIL(jp, msg)                                                                              \
	do {                                                                                       \
		(jp)->why = (msg);                                                                 \
		return -EINVAL;                                                                    \
	} while (0)

/* A member handler: parses the value of member key (at jp->i), or returns 1 to skip it. */
typedef int (*member_fn)(struct jp *jp, const char *key, size_t klen, int depth, void *arg);

static int jskip(struct jp *jp, int depth);

static int peek(const struct jp *jp)
{
	return jp->i < jp->n ? jp->s[jp->i] : -1;
}

static void ws(struct jp *jp)
{
	while (jp->i < jp->n) {
		unsigned char c = jp->s[jp->i];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		jp->i++;
	}
}

static bool key_is(const char *key, size_t klen, const char *lit)
{
	return klen == strlen(lit) && memcmp(key, lit, klen) == 0;
}

/* Four hex digits at jp->i. */
static int hex4(struct jp *jp, uint32_t *v)
{
	size_t k;

	*v = 0;
	if (jp->n - jp->i < 4)
		FAIL(jp, "bad \\u escape");
	for (k = 0; k < 4; k++) {
		unsigned char c = jp->s[jp->i + k];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			FAIL(jp, "bad \\u escape");
		*v = *v << 4 | d;
	}
	jp->i += 4;
	return 0;
}

/* A \u escape (jp->i just past the 'u'), surrogate pairs joined, as UTF-8 into u. */
static int uescape(struct jp *jp, unsigned char u[4], size_t *k)
{
	uint32_t cp, lo;

	if (hex4(jp, &cp) != 0)
		return -EINVAL;
	if (cp == 0)
		FAIL(jp, "\\u0000 in string");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		FAIL(jp, "lone surrogate in string");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (jp->n - jp->i < 2 || jp->s[jp->i] != '\\' || jp->s[jp->i + 1] != 'u')
			FAIL(jp, "lone surrogate in string");
		jp->i += 2;
		if (hex4(jp, &lo) != 0)
			return -EINVAL;
		if (lo < 0xdc00 || lo > 0xdfff)
			FAIL(jp, "lone surrogate in string");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		*k = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		*k = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		*k = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		*k = 4;
	}
	return 0;
}

/*
 * A string at jp->i (on its opening quote), decoded into out (at most cap bytes, no NUL
 * added; out NULL: checked and dropped). *olen gets the decoded length.
 */
static int jstring(struct jp *jp, char *out, size_t cap, size_t *olen, const char *why_long)
{
	size_t o = 0;

	jp->i++;
	for (;;) {
		unsigned char u[4];
		const unsigned char *src = u;
		size_t k = 1;
		unsigned char c;

		if (jp->i >= jp->n)
			FAIL(jp, "unterminated string");
		c = jp->s[jp->i];
		if (c == '"') {
			jp->i++;
			break;
		}
		if (c < 0x20)
			FAIL(jp, "control character in string");
		if (c == '\\') {
			if (++jp->i >= jp->n)
				FAIL(jp, "unterminated string");
			c = jp->s[jp->i++];
			switch (c) {
			case '"':
			case '\\':
			case '/':
				u[0] = c;
				break;
			case 'b':
				u[0] = '\b';
				break;
			case 'f':
				u[0] = '\f';
				break;
			case 'n':
				u[0] = '\n';
				break;
			case 'r':
				u[0] = '\r';
				break;
			case 't':
				u[0] = '\t';
				break;
			case 'u':
				if (uescape(jp, u, &k) != 0)
					return -EINVAL;
				break;
			default:
				FAIL(jp, "bad escape in string");
			}
		} else {
			k = utf8_seq(jp->s + jp->i, jp->n - jp->i);
			if (k == 0)
				FAIL(jp, "invalid UTF-8 in string");
			src = jp->s + jp->i;
			jp->i += k;
		}
		if (out) {
			if (k > cap - o)
				FAIL(jp, why_long);
			memcpy(out + o, src, k);
		}
		o += k;
	}
	if (olen)
		*olen = o;
	return 0;
}

/* A string value into a field of size bytes, NUL-terminated. */
static int jget_str(struct jp *jp, char *out, size_t size, size_t *len, const char *why_type,
		    const char *why_long)
{
	size_t l;

	if (peek(jp) != '"')
		FAIL(jp, why_type);
	if (jstring(jp, out, size - 1, &l, why_long) != 0)
		return -EINVAL;
	out[l] = 0;
	if (len)
		*len = l;
	return 0;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

struct jnum {
	bool neg;
	bool integer;  /* no fraction, no exponent */
	bool overflow; /* magnitude above INT64_MAX */
	uint64_t mag;
};

/* A number at jp->i (on '-' or a digit), full JSON grammar. */
static int jnumber(struct jp *jp, struct jnum *v)
{
	memset(v, 0, sizeof *v);
	v->integer = true;
	if (peek(jp) == '-') {
		v->neg = true;
		jp->i++;
	}
	if (!is_digit(peek(jp)))
		FAIL(jp, "bad number");
	if (peek(jp) == '0') {
		jp->i++;
		if (is_digit(peek(jp)))
			FAIL(jp, "leading zero in number");
	} else {
		while (is_digit(peek(jp))) {
			uint64_t d = (uint64_t)(peek(jp) - '0');

			if (v->mag > ((uint64_t)INT64_MAX - d) / 10)
				v->overflow = true;
			else
				v->mag = v->mag * 10 + d;
			jp->i++;
		}
	}
	if (peek(jp) == '.') {
		v->integer = false;
		jp->i++;
		if (!is_digit(peek(jp)))
			FAIL(jp, "bad number");
		while (is_digit(peek(jp)))
			jp->i++;
	}
	if (peek(jp) == 'e' || peek(jp) == 'E') {
		v->integer = false;
		jp->i++;
		if (peek(jp) == '+' || peek(jp) == '-')
			jp->i++;
		if (!is_digit(peek(jp)))
			FAIL(jp, "bad number");
		while (is_digit(peek(jp)))
			jp->i++;
	}
	return 0;
}

static int jliteral(struct jp *jp, const char *lit)
{
	size_t n = strlen(lit);

	if (jp->n - jp->i < n || memcmp(jp->s + jp->i, lit, n) != 0)
		FAIL(jp, "unexpected character");
	jp->i += n;
	return 0;
}

/*
 * An object at jp->i (on '{') at nesting depth (1 = outermost). Member names are decoded,
 * checked against the others of the same object, and kept on the key stack until the
 * object closes; fn parses each value or returns 1 to have it skipped.
 */
static int jobject(struct jp *jp, int depth, member_fn fn, void *arg)
{
	unsigned base = jp->nkeys;
	size_t abase = jp->alen;

	if (depth > PP_JSON_DEPTH)
		FAIL(jp, "nested too deeply");
	jp->i++;
	ws(jp);
	if (peek(jp) == '}') {
		jp->i++;
		return 0;
	}
	for (;;) {
		char *key = jp->arena + jp->alen;
		size_t klen;
		unsigned k;
		int r;

		if (peek(jp) != '"')
			FAIL(jp, "expected a member name");
		if (jstring(jp, key, sizeof jp->arena - jp->alen, &klen, "too many members") != 0)
			return -EINVAL;
		for (k = base; k < jp->nkeys; k++)
			if (jp->klen[k] == klen && memcmp(jp->arena + jp->koff[k], key, klen) == 0)
				FAIL(jp, "duplicate member");
		if (jp->nkeys == JP_KEYS_MAX)
			FAIL(jp, "too many members");
		jp->koff[jp->nkeys] = (uint16_t)jp->alen;
		jp->klen[jp->nkeys] = (uint16_t)klen;
		jp->nkeys++;
		jp->alen += klen;
		ws(jp);
		if (peek(jp) != ':')
			FAIL(jp, "expected ':'");
		jp->i++;
		ws(jp);
		r = fn ? fn(jp, key, klen, depth, arg) : 1;
		if (r > 0)
			r = jskip(jp, depth);
		if (r < 0)
			return r;
		ws(jp);
		if (peek(jp) == ',') {
			jp->i++;
			ws(jp);
			continue;
		}
		if (peek(jp) == '}') {
			jp->i++;
			break;
		}
		FAIL(jp, "expected ',' or '}'");
	}
	jp->nkeys = base;
	jp->alen = abase;
	return 0;
}

/* Any value at jp->i, inside a container at depth: checked and dropped. */
static int jskip(struct jp *jp, int depth)
{
	struct jnum num;

	switch (peek(jp)) {
	case -1:
		FAIL(jp, "truncated");
	case '"':
		return jstring(jp, NULL, 0, NULL, NULL);
	case '{':
		return jobject(jp, depth + 1, NULL, NULL);
	case '[':
		if (depth + 1 > PP_JSON_DEPTH)
			FAIL(jp, "nested too deeply");
		jp->i++;
		ws(jp);
		if (peek(jp) == ']') {
			jp->i++;
			return 0;
		}
		for (;;) {
			if (jskip(jp, depth + 1) != 0)
				return -EINVAL;
			ws(jp);
			if (peek(jp) == ',') {
				jp->i++;
				ws(jp);
				continue;
			}
			if (peek(jp) == ']') {
				jp->i++;
				return 0;
			}
			FAIL(jp, "expected ',' or ']'");
		}
	case 't':
		return jliteral(jp, "true");
	case 'f':
		return jliteral(jp, "false");
	case 'n':
		return jliteral(jp, "null");
	default:
		if (peek(jp) == '-' || is_digit(peek(jp)))
			return jnumber(jp, &num);
		FAIL(jp, "unexpected character");
	}
}

/* A tn or uri string value into id. */
static int jget_id(struct jp *jp, struct pp_id *id, enum pp_id_kind kind)
{
	size_t l;

	if (kind == PP_ID_TN) {
		if (jget_str(jp, id->v, sizeof id->v, &l, "tn not a string", "tn not canonical") !=
		    0)
			return -EINVAL;
		if (l == 0 || l > PP_TN_MAX || !all_digits(id->v, l))
			FAIL(jp, "tn not canonical");
	} else {
		if (jget_str(jp, id->v, sizeof id->v, &l, "uri not a string", "uri too long") != 0)
			return -EINVAL;
		if (l == 0)
			FAIL(jp, "uri empty");
	}
	id->kind = kind;
	id->len = (uint16_t)l;
	return 0;
}

static int id_member(struct jp *jp, const char *key, size_t klen, int depth, void *arg)
{
	struct pp_id *id = arg;
	enum pp_id_kind kind;

	(void)depth;
	if (key_is(key, klen, "tn"))
		kind = PP_ID_TN;
	else if (key_is(key, klen, "uri"))
		kind = PP_ID_URI;
	else
		FAIL(jp, "unexpected member in orig or div");
	if (id->kind != PP_ID_NONE)
		FAIL(jp, "orig or div holds both tn and uri");
	return jget_id(jp, id, kind);
}

/* orig or div: {"tn": ...} or {"uri": ...} */
static int jget_idobj(struct jp *jp, struct pp_id *id, int depth, const char *why_type)
{
	memset(id, 0, sizeof *id);
	if (peek(jp) != '{')
		FAIL(jp, why_type);
	if (jobject(jp, depth + 1, id_member, id) != 0)
		return -EINVAL;
	if (id->kind == PP_ID_NONE)
		FAIL(jp, "orig or div holds no tn or uri");
	return 0;
}

static int dest_member(struct jp *jp, const char *key, size_t klen, int depth, void *arg)
{
	struct pp_passport *pp = arg;
	enum pp_id_kind kind;

	if (key_is(key, klen, "tn"))
		kind = PP_ID_TN;
	else if (key_is(key, klen, "uri"))
		kind = PP_ID_URI;
	else
		FAIL(jp, "unexpected member in dest");
	if (peek(jp) != '[')
		FAIL(jp, "dest member not an array");
	if (depth + 1 > PP_JSON_DEPTH)
		FAIL(jp, "nested too deeply");
	jp->i++;
	ws(jp);
	if (peek(jp) == ']')
		FAIL(jp, "dest array empty");
	for (;;) {
		if (pp->n_dest == PP_DEST_MAX)
			FAIL(jp, "too many dest entries");
		memset(&pp->dest[pp->n_dest], 0, sizeof pp->dest[0]);
		if (jget_id(jp, &pp->dest[pp->n_dest], kind) != 0)
			return -EINVAL;
		pp->n_dest++;
		ws(jp);
		if (peek(jp) == ',') {
			jp->i++;
			ws(jp);
			continue;
		}
		if (peek(jp) == ']') {
			jp->i++;
			return 0;
		}
		FAIL(jp, "expected ',' or ']'");
	}
}

static int header_member(struct jp *jp, const char *key, size_t klen, int depth, void *arg)
{
	struct pp_passport *pp = arg;
	size_t l;

	(void)depth;
	if (key_is(key, klen, "alg")) {
		if (jget_str(jp, pp->alg, sizeof pp->alg, NULL, "alg not a string",
			     "alg too long") != 0)
			return -EINVAL;
		pp->present |= PP_HAS_ALG;
	} else if (key_is(key, klen, "ppt")) {
		if (jget_str(jp, pp->ppt_name, sizeof pp->ppt_name, &l, "ppt not a string",
			     "ppt too long") != 0)
			return -EINVAL;
		if (l == 0)
			FAIL(jp, "ppt empty");
		if (strcmp(pp->ppt_name, "shaken") == 0)
			pp->ppt = PP_PPT_SHAKEN;
		else if (strcmp(pp->ppt_name, "div") == 0)
			pp->ppt = PP_PPT_DIV;
		else
			pp->ppt = PP_PPT_OTHER;
		pp->present |= PP_HAS_PPT;
	} else if (key_is(key, klen, "typ")) {
		if (jget_str(jp, pp->typ, sizeof pp->typ, NULL, "typ not a string",
			     "typ too long") != 0)
			return -EINVAL;
		pp->present |= PP_HAS_TYP;
	} else if (key_is(key, klen, "x5u")) {
		if (jget_str(jp, pp->x5u, sizeof pp->x5u, NULL, "x5u not a string",
			     "x5u too long") != 0)
			return -EINVAL;
		pp->present |= PP_HAS_X5U;
	} else {
		return 1;
	}
	return 0;
}

/* Stable: tn entries before uri entries (a dest object may list "uri" first). */
static void dest_sort(struct pp_passport *pp)
{
	unsigned i, j;

	for (i = 1; i < pp->n_dest; i++)
		for (j = i;
		     j > 0 && pp->dest[j - 1].kind == PP_ID_URI && pp->dest[j].kind == PP_ID_TN;
		     j--) {
			struct pp_id t = pp->dest[j];

			pp->dest[j] = pp->dest[j - 1];
			pp->dest[j - 1] = t;
		}
}

static int claims_member(struct jp *jp, const char *key, size_t klen, int depth, void *arg)
{
	struct pp_passport *pp = arg;

	if (key_is(key, klen, "attest")) {
		char a[2];
		size_t l;

		if (jget_str(jp, a, sizeof a, &l, "attest not a string", "attest not A, B or C") !=
		    0)
			return -EINVAL;
		if (l != 1 || (a[0] != 'A' && a[0] != 'B' && a[0] != 'C'))
			FAIL(jp, "attest not A, B or C");
		pp->attest = a[0];
		pp->present |= PP_HAS_ATTEST;
	} else if (key_is(key, klen, "dest")) {
		if (peek(jp) != '{')
			FAIL(jp, "dest not an object");
		pp->n_dest = 0;
		if (jobject(jp, depth + 1, dest_member, pp) != 0)
			return -EINVAL;
		if (pp->n_dest == 0)
			FAIL(jp, "dest empty");
		dest_sort(pp);
		pp->present |= PP_HAS_DEST;
	} else if (key_is(key, klen, "div")) {
		if (jget_idobj(jp, &pp->div, depth, "div not an object") != 0)
			return -EINVAL;
		pp->present |= PP_HAS_DIV;
	} else if (key_is(key, klen, "iat")) {
		struct jnum v;

		if (peek(jp) != '-' && !is_digit(peek(jp)))
			FAIL(jp, "iat not a number");
		if (jnumber(jp, &v) != 0)
			return -EINVAL;
		if (!v.integer)
			FAIL(jp, "iat not an integer");
		if (v.neg)
			FAIL(jp, "iat negative");
		if (v.overflow)
			FAIL(jp, "iat out of range");
		pp->iat = (int64_t)v.mag;
		pp->present |= PP_HAS_IAT;
	} else if (key_is(key, klen, "orig")) {
		if (jget_idobj(jp, &pp->orig, depth, "orig not an object") != 0)
			return -EINVAL;
		pp->present |= PP_HAS_ORIG;
	} else if (key_is(key, klen, "origid")) {
		if (jget_str(jp, pp->origid, sizeof pp->origid, NULL, "origid not a string",
			     "origid too long") != 0)
			return -EINVAL;
		pp->present |= PP_HAS_ORIGID;
	} else {
		return 1;
	}
	return 0;
}

static int parse_top(const char *json, size_t len, member_fn fn, struct pp_passport *pp,
		     const char **why)
{
	struct jp jp;
	int r = -EINVAL;

	jp.why = "not a JSON object";
	if (!json || len > PP_JSON_MAX) {
		jp.why = json ? "JSON too long" : "no JSON";
		goto out;
	}
	jp.s = (const unsigned char *)json;
	jp.n = len;
	jp.i = 0;
	jp.nkeys = 0;
	jp.alen = 0;
	ws(&jp);
	if (peek(&jp) != '{')
		goto out;
	if (jobject(&jp, 1, fn, pp) != 0)
		goto out;
	ws(&jp);
	if (jp.i != jp.n) {
		jp.why = "trailing bytes after the object";
		goto out;
	}
	r = 0;
	jp.why = NULL;
out:
	if (why)
		*why = jp.why;
	return r;
}

int pp_header_parse(const char *json, size_t len, struct pp_passport *pp, const char **why)
{
	return parse_top(json, len, header_member, pp, why);
}

int pp_claims_parse(const char *json, size_t len, struct pp_passport *pp, const char **why)
{
	return parse_top(json, len, claims_member, pp, why);
}

/* ---- tokens --------------------------------------------------------------------------- */

static bool b64u_char(unsigned char c)
{
	return byte_cls[c] & CLS_B64U;
}

int pp_token_split(const char *tok, size_t len, struct pp_token *t)
{
	size_t dot[2], i;
	unsigned nd = 0;

	if (!tok || len > PP_TOKEN_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tok[i];

		if (c == '.') {
			if (nd == 2)
				return -EINVAL;
			dot[nd++] = i;
		} else if (!b64u_char(c)) {
			return -EINVAL;
		}
	}
	if (nd != 2)
		return -EINVAL;
	t->hdr = tok;
	t->hdr_len = dot[0];
	t->claims = tok + dot[0] + 1;
	t->claims_len = dot[1] - dot[0] - 1;
	t->sig = tok + dot[1] + 1;
	t->sig_len = len - dot[1] - 1;
	return 0;
}

/* Decodes a base64url part of at most PP_JSON_MAX bytes and hands it to parse. */
static int parse_part(const char *b64, size_t n, struct pp_passport *pp,
		      int (*parse)(const char *, size_t, struct pp_passport *, const char **),
		      const char **why, const char *why_long, const char *why_b64)
{
	char json[PP_JSON_MAX];
	long l;

	if (b64u_decoded_max(n) > sizeof json) {
		*why = why_long;
		return -EINVAL;
	}
	l = b64u_decode_public((uint8_t *)json, sizeof json, b64, n); /* public data */
	if (l < 0) {
		*why = why_b64;
		return -EINVAL;
	}
	return parse(json, (size_t)l, pp, why);
}

int pp_parse(const char *tok, size_t len, struct pp_token *t, struct pp_passport *pp,
	     uint8_t sig[PP_SIG_LEN], const char **why)
{
	const char *w = NULL;
	int r = -EINVAL;

	memset(pp, 0, sizeof *pp);
	if (pp_token_split(tok, len, t) != 0) {
		w = "not a compact JWS";
		goto out;
	}
	if (t->hdr_len == 0 || t->claims_len == 0) {
		w = "header or claims empty (compact form)";
		goto out;
	}
	if (parse_part(t->hdr, t->hdr_len, pp, pp_header_parse, &w, "header too long",
		       "header not base64url") != 0)
		goto out;
	if (parse_part(t->claims, t->claims_len, pp, pp_claims_parse, &w, "claims too long",
		       "claims not base64url") != 0)
		goto out;
	if (t->sig_len != b64u_encoded_len(PP_SIG_LEN) ||
	    b64u_decode_public(sig, PP_SIG_LEN, t->sig, t->sig_len) != PP_SIG_LEN) {
		w = "signature not 64 bytes of base64url";
		goto out;
	}
	r = 0;
out:
	if (why)
		*why = w;
	return r;
}
