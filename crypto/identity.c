/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SIP Identity header field (RFC 8224 §4): builder, one-value parser, and the choice among
 * several values. Bounded single passes over caller buffers; no allocation.
 */
#include "crypto/identity.h"

#include <errno.h>
#include <string.h>

#include "crypto/pp.h"

/* The characters of a compact JWS: the base64url alphabet and '.' (a table: it is per byte of
 * every token built or parsed). */
static const bool jws_char[256] = {
	['A' ... 'Z'] = true, ['a' ... 'z'] = true, ['0' ... '9'] = true,
	['-'] = true, ['_'] = true, ['.'] = true,
};

static bool is_jws_char(char c)
{
	return jws_char[(unsigned char)c];
}

/* RFC 3261 token characters. */
static bool is_token(char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

/* SIP linear whitespace, as it may remain in a header value that was not unfolded. */
static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A character allowed in a URI between '<' and '>' (visible ASCII but <, >, ", space). */
static bool is_uri_char(char c)
{
	unsigned char u = (unsigned char)c;
	return u > 0x20 && u < 0x7f && c != '<' && c != '>' && c != '"';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool pp_slice_ieq(struct pp_slice s, const char *lit)
{
	size_t n = strlen(lit);
	if (s.len != n || (n && !s.p))
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s.p[i]) != lower(lit[i]))
			return false;
	return true;
}

/* ---- build ------------------------------------------------------------------------------ */

struct out {
	char *buf;
	size_t cap;
	size_t len;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->cap - o->len < n) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static bool all_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_token(*s))
			return false;
	return true;
}

long pp_identity_build(char *buf, size_t cap, const char *token, size_t token_len,
		       const struct pp_passport *pp)
{
	if (!buf || !token || !pp || token_len == 0)
		return -EINVAL;
	for (size_t i = 0; i < token_len; i++)
		if (!is_jws_char(token[i]))
			return -EINVAL;
	size_t x5u_len = strnlen(pp->x5u, sizeof(pp->x5u));
	if (x5u_len == 0 || x5u_len == sizeof(pp->x5u))
		return -EINVAL;
	for (size_t i = 0; i < x5u_len; i++)
		if (!is_uri_char(pp->x5u[i]))
			return -EINVAL;
	const char *alg = "ES256";
	if (strnlen(pp->alg, sizeof(pp->alg)) == sizeof(pp->alg))
		return -EINVAL;
	if (pp->alg[0])
		alg = pp->alg;
	if (!all_token(alg))
		return -EINVAL;
	const char *ppt = NULL;
	switch (pp->ppt) {
	case PP_PPT_NONE:
		break;
	case PP_PPT_SHAKEN:
		ppt = "shaken";
		break;
	case PP_PPT_DIV:
		ppt = "div";
		break;
	case PP_PPT_OTHER:
		ppt = pp->ppt_name;
		break;
	default:
		return -EINVAL;
	}
	if (ppt && pp->ppt != PP_PPT_OTHER && pp->ppt_name[0] &&
	    strnlen(pp->ppt_name, sizeof(pp->ppt_name)) < sizeof(pp->ppt_name))
		ppt = pp->ppt_name;
	if (ppt && (strnlen(ppt, sizeof(pp->ppt_name)) == sizeof(pp->ppt_name) || !all_token(ppt)))
		return -EINVAL;

	struct out o = {.buf = buf, .cap = cap};
	put(&o, token, token_len);
	puts_(&o, ";info=<");
	put(&o, pp->x5u, x5u_len);
	puts_(&o, ">;alg=");
	puts_(&o, alg);
	if (ppt) {
		puts_(&o, ";ppt=");
		puts_(&o, ppt);
	}
	put(&o, "", 1);
	if (o.full) {
		if (cap)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return (long)(o.len - 1);
}

/* ---- parse ------------------------------------------------------------------------------ */

static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

/* A parameter value: token, quoted-string or <URI>. */
struct pval {
	struct pp_slice v;
	bool present;   /* "=value" was there */
	bool bracketed; /* <...> */
};

/* Parses a value at s[*i..end); advances *i past it. */
static int parse_value(const char *s, size_t *i, size_t end, struct pval *pv, const char **why)
{
	size_t j = *i;
	if (j >= end)
		return fail(why, "parameter value missing after '='");
	if (s[j] == '<') {
		size_t k = j + 1;
		while (k < end && s[k] != '>') {
			if (!is_uri_char(s[k]))
				return fail(why, "bad character in <URI>");
			k++;
		}
		if (k >= end)
			return fail(why, "unterminated '<'");
		pv->v = (struct pp_slice){s + j + 1, k - j - 1};
		pv->bracketed = true;
		*i = k + 1;
		return 0;
	}
	if (s[j] == '"') {
		size_t k = j + 1;
		while (k < end && s[k] != '"') {
			unsigned char u = (unsigned char)s[k];
			if ((u < 0x20 && u != '\t') || u == 0x7f)
				return fail(why, "control character in quoted-string");
			if (s[k] == '\\') {
				if (k + 1 >= end)
					return fail(why, "unterminated quoted-string");
				k++;
			}
			k++;
		}
		if (k >= end)
			return fail(why, "unterminated quoted-string");
		pv->v = (struct pp_slice){s + j + 1, k - j - 1};
		*i = k + 1;
		return 0;
	}
	size_t k = j;
	while (k < end && is_token(s[k]))
		k++;
	if (k == j)
		return fail(why, "bad parameter value");
	pv->v = (struct pp_slice){s + j, k - j};
	*i = k;
	return 0;
}

int pp_identity_parse(const char *s, size_t len, struct pp_identity *id, const char **why)
{
	if (!id)
		return fail(why, "no output");
	memset(id, 0, sizeof(*id));
	if (!s || len == 0)
		return fail(why, "empty Identity value");
	if (len > PP_IDENTITY_MAX)
		return fail(why, "Identity value too long");

	size_t i = 0, end = len;
	while (i < end && is_ws(s[i]))
		i++;
	while (end > i && is_ws(s[end - 1]))
		end--;

	/* the token: base64url parts separated by exactly two dots */
	size_t t0 = i, dots[2] = {0, 0}, ndots = 0;
	while (i < end && is_jws_char(s[i])) {
		if (s[i] == '.') {
			if (ndots == 2)
				return fail(why, "token has more than three parts");
			dots[ndots++] = i;
		}
		i++;
	}
	if (i == t0)
		return fail(why, "no token");
	if (ndots != 2)
		return fail(why, "token has fewer than three parts");
	size_t hdr_len = dots[0] - t0, claims_len = dots[1] - dots[0] - 1;
	size_t sig_len = i - dots[1] - 1;
	if (sig_len == 0)
		return fail(why, "token has no signature");
	if ((hdr_len == 0) != (claims_len == 0))
		return fail(why, "token has one empty part");
	id->token = (struct pp_slice){s + t0, i - t0};
	id->compact = hdr_len == 0;

	unsigned nparams = 0;
	for (;;) {
		while (i < end && is_ws(s[i]))
			i++;
		if (i == end)
			break;
		if (s[i] != ';')
			return fail(why, "junk where ';' was expected");
		i++;
		while (i < end && is_ws(s[i]))
			i++;
		size_t n0 = i;
		while (i < end && is_token(s[i]))
			i++;
		if (i == n0)
			return fail(why, "empty parameter name");
		if (++nparams > PP_IDENTITY_PARAMS_MAX)
			return fail(why, "too many parameters");
		struct pp_slice name = {s + n0, i - n0};
		while (i < end && is_ws(s[i]))
			i++;
		struct pval pv = {0};
		if (i < end && s[i] == '=') {
			i++;
			while (i < end && is_ws(s[i]))
				i++;
			int rc = parse_value(s, &i, end, &pv, why);
			if (rc)
				return rc;
			pv.present = true;
		}
		if (pp_slice_ieq(name, "info")) {
			if (id->present & PP_IDP_INFO)
				return fail(why, "info appears twice");
			if (!pv.present)
				return fail(why, "info without a value");
			id->present |= PP_IDP_INFO;
			id->info = pv.v;
			id->info_bracketed = pv.bracketed;
		} else if (pp_slice_ieq(name, "alg")) {
			if (id->present & PP_IDP_ALG)
				return fail(why, "alg appears twice");
			if (!pv.present || pv.bracketed)
				return fail(why, "alg is not a token");
			id->present |= PP_IDP_ALG;
			id->alg = pv.v;
		} else if (pp_slice_ieq(name, "ppt")) {
			if (id->present & PP_IDP_PPT)
				return fail(why, "ppt appears twice");
			if (!pv.present || pv.bracketed)
				return fail(why, "ppt is not a token");
			id->present |= PP_IDP_PPT;
			id->ppt = pv.v;
		}
		/* any other parameter: skipped */
	}
	return 0;
}

/* 3: ppt shaken, 2: no ppt, 1: other ppt, 0: does not parse. */
static int rank(const struct pp_identity *id)
{
	if (!(id->present & PP_IDP_PPT))
		return 2;
	return pp_slice_ieq(id->ppt, "shaken") ? 3 : 1;
}

int pp_identity_select(const struct pp_slice *values, unsigned n, struct pp_identity *id,
		       const char **why)
{
	const char *first_why = NULL;
	int best = -1, best_rank = 0;

	if (!id)
		return -EINVAL;
	memset(id, 0, sizeof(*id));
	if (n == 0)
		return -ENOENT;
	if (!values)
		return fail(why, "no values");
	for (unsigned k = 0; k < n; k++) {
		struct pp_identity tmp;
		const char *w = NULL;
		if (pp_identity_parse(values[k].p, values[k].len, &tmp, &w) != 0) {
			if (!first_why)
				first_why = w;
			continue;
		}
		int r = rank(&tmp);
		if (r > best_rank) {
			best_rank = r;
			best = (int)k;
			*id = tmp;
			if (r == 3)
				break;
		}
	}
	if (best < 0)
		return fail(why, first_why ? first_why : "no Identity value parses");
	if (best_rank == 1)
		return -EPROTONOSUPPORT;
	return best;
}
