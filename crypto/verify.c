/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The STI-VS verification procedure (RFC 8224 §6.2, RFC 8588, ATIS-1000074): phase 1 without
 * the certificate, phase 2 with its public key. The outcome table lives in verify.h and in
 * check_tab below; keep them in step.
 */
#include "crypto/verify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "crypto/b64u.h"
#include "crypto/identity.h"
#include "crypto/pp.h"
#include "crypto/tn.h"

struct check_info {
	enum pp_verstat verstat;
	enum pp_verdict code;
	const char *text;
};

#define FAILED PP_VERSTAT_FAILED
#define NOVAL PP_VERSTAT_NO_VALIDATION

static const struct check_info check_tab[PP_CHECK_COUNT_] = {
	[PP_CHECK_OK] = {PP_VERSTAT_PASSED, PP_VERDICT_PASSED, "TN validation passed"},
	[PP_CHECK_NO_IDENTITY] = {NOVAL, PP_VERDICT_USE_IDENTITY, "no Identity header"},
	[PP_CHECK_NO_SHAKEN] = {NOVAL, PP_VERDICT_USE_IDENTITY, "no SHAKEN PASSporT"},
	[PP_CHECK_SYNTAX] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "malformed Identity header"},
	[PP_CHECK_INFO] = {FAILED, PP_VERDICT_BAD_INFO, "info parameter absent or not <https URI>"},
	[PP_CHECK_ALG] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "alg is not ES256"},
	[PP_CHECK_COMPACT] = {FAILED, PP_VERDICT_INVALID_IDENTITY,
			      "compact form cannot be rebuilt"},
	[PP_CHECK_TOKEN] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "malformed PASSporT"},
	[PP_CHECK_TYP] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "typ is not passport"},
	[PP_CHECK_PPT] = {FAILED, PP_VERDICT_INVALID_IDENTITY,
			  "ppt parameter differs from PASSporT ppt"},
	[PP_CHECK_X5U] = {FAILED, PP_VERDICT_BAD_INFO, "x5u absent or not https"},
	[PP_CHECK_X5U_INFO] = {FAILED, PP_VERDICT_BAD_INFO, "x5u differs from info"},
	[PP_CHECK_ATTEST] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "attest absent"},
	[PP_CHECK_ORIGID] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "origid absent"},
	[PP_CHECK_IAT] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "iat absent"},
	[PP_CHECK_STALE] = {FAILED, PP_VERDICT_STALE_DATE, "iat older than the freshness window"},
	[PP_CHECK_FUTURE] = {FAILED, PP_VERDICT_STALE_DATE, "iat in the future"},
	[PP_CHECK_ORIG] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "orig does not match calling TN"},
	[PP_CHECK_DEST] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "dest does not hold called TN"},
	[PP_CHECK_CERT_FETCH] = {NOVAL, PP_VERDICT_BAD_INFO, "certificate could not be obtained"},
	[PP_CHECK_CERT_INVALID] = {FAILED, PP_VERDICT_UNSUPPORTED_CREDENTIAL,
				   "certificate untrusted or invalid"},
	[PP_CHECK_SIGNATURE] = {FAILED, PP_VERDICT_INVALID_IDENTITY, "signature does not verify"},
};

#undef FAILED
#undef NOVAL

const char *pp_verstat_str(enum pp_verstat s)
{
	switch (s) {
	case PP_VERSTAT_PASSED:
		return "TN-Validation-Passed";
	case PP_VERSTAT_FAILED:
		return "TN-Validation-Failed";
	case PP_VERSTAT_NO_VALIDATION:
		return "No-TN-Validation";
	}
	return "";
}

const char *pp_verdict_reason(enum pp_verdict c)
{
	switch (c) {
	case PP_VERDICT_PASSED:
		return "OK";
	case PP_VERDICT_STALE_DATE:
		return "Stale Date";
	case PP_VERDICT_USE_IDENTITY:
		return "Use Identity Header";
	case PP_VERDICT_BAD_INFO:
		return "Bad Identity Info";
	case PP_VERDICT_UNSUPPORTED_CREDENTIAL:
		return "Unsupported Credential";
	case PP_VERDICT_INVALID_IDENTITY:
		return "Invalid Identity Header";
	}
	return "";
}

const char *pp_check_str(enum pp_check c)
{
	if ((unsigned)c >= PP_CHECK_COUNT_)
		return "";
	return check_tab[c].text;
}

enum pp_verstat pp_check_verstat(enum pp_check c)
{
	if ((unsigned)c >= PP_CHECK_COUNT_)
		return PP_VERSTAT_FAILED;
	return check_tab[c].verstat;
}

enum pp_verdict pp_check_verdict(enum pp_check c)
{
	if ((unsigned)c >= PP_CHECK_COUNT_)
		return PP_VERDICT_INVALID_IDENTITY;
	return check_tab[c].code;
}

/* Sets the final outcome of check c; returns 0 (begin's "final" value). */
static int finish(struct pp_verify *v, enum pp_check c, const char *detail)
{
	if ((unsigned)c >= PP_CHECK_COUNT_)
		c = PP_CHECK_CERT_INVALID;
	v->check = c;
	v->verstat = check_tab[c].verstat;
	v->code = check_tab[c].code;
	v->detail = detail ? detail : check_tab[c].text;
	v->phase = PP_VPHASE_DONE;
	return 0;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* "https://" (scheme case-insensitive) then at least one character of host. */
static bool is_https(const char *s, size_t len)
{
	static const char pfx[] = "https://";
	if (len <= sizeof(pfx) - 1)
		return false;
	for (size_t i = 0; i < sizeof(pfx) - 1; i++)
		if (lower(s[i]) != pfx[i])
			return false;
	char c = s[sizeof(pfx) - 1];
	return c != '/' && c != '?' && c != '#';
}

/* Canonical TN of a PASSporT identity, or false when it is not a TN. */
static bool id_tn(const struct pp_id *id, char out[TN_MAX + 1])
{
	if (id->kind != PP_ID_TN)
		return false;
	size_t n = strnlen(id->v, sizeof(id->v));
	return tn_canon(id->v, n, out) > 0;
}

static int rebuild_compact(struct pp_verify *v, const struct pp_identity *id, const char *orig,
			   const char *dest, int64_t date)
{
	struct pp_passport *pp = &v->pp;

	memset(pp, 0, sizeof(*pp));
	pp->present = PP_HAS_ALG | PP_HAS_TYP | PP_HAS_X5U | PP_HAS_ORIG | PP_HAS_DEST |
		      PP_HAS_IAT;
	memcpy(pp->alg, "ES256", sizeof("ES256"));
	memcpy(pp->typ, "passport", sizeof("passport"));
	pp->ppt = PP_PPT_NONE;
	memcpy(pp->x5u, id->info.p, id->info.len); /* info.len <= PP_X5U_MAX checked */
	pp->x5u[id->info.len] = '\0';
	pp->orig.kind = PP_ID_TN;
	pp->orig.len = (uint16_t)strlen(orig);
	memcpy(pp->orig.v, orig, pp->orig.len + 1u);
	pp->dest[0].kind = PP_ID_TN;
	pp->dest[0].len = (uint16_t)strlen(dest);
	memcpy(pp->dest[0].v, dest, pp->dest[0].len + 1u);
	pp->n_dest = 1;
	pp->iat = date;

	long n = pp_signing_input(pp, v->signed_input, sizeof(v->signed_input));
	if (n < 0)
		return finish(v, PP_CHECK_COMPACT, "compact form: signing input not rebuilt");
	v->signed_len = (size_t)n;
	/* token is "..sig" */
	long s = b64u_decode_public(v->sig, sizeof(v->sig), id->token.p + 2, id->token.len - 2);
	if (s != PP_SIG_LEN)
		return finish(v, PP_CHECK_TOKEN, "signature is not 64 bytes of base64url");
	v->have_passport = true;
	v->x5u = pp->x5u;
	return 1;
}

int pp_verify_begin(struct pp_verify *v, const struct pp_slice *identity, unsigned n_identity,
		    const struct pp_verify_params *p)
{
	char orig[TN_MAX + 1] = "", dest[TN_MAX + 1] = "", tn[TN_MAX + 1];
	struct pp_identity id;
	const char *why = NULL;

	if (!v || !p || (n_identity && !identity) || p->freshness < 0 || p->skew < 0)
		return -EINVAL;
	if (p->orig_tn && tn_canon(p->orig_tn, strlen(p->orig_tn), orig) < 0)
		return -EINVAL;
	if (p->dest_tn && tn_canon(p->dest_tn, strlen(p->dest_tn), dest) < 0)
		return -EINVAL;
	/* everything but the signing input and signature, which are written before use */
	memset(v, 0, offsetof(struct pp_verify, signed_input));
	v->chosen = -1;
	v->x5u = "";
	v->detail = "";
	v->phase = PP_VPHASE_NONE;
	uint64_t freshness = (uint64_t)(p->freshness ? p->freshness : PP_FRESHNESS_DEFAULT);
	uint64_t skew = (uint64_t)(p->skew ? p->skew : PP_SKEW_DEFAULT);

	/* choose */
	int k = pp_identity_select(identity, n_identity, &id, &why);
	if (k == -ENOENT)
		return finish(v, PP_CHECK_NO_IDENTITY, NULL);
	if (k == -EPROTONOSUPPORT)
		return finish(v, PP_CHECK_NO_SHAKEN, "Identity ppt is not shaken");
	if (k < 0)
		return finish(v, PP_CHECK_SYNTAX, why);
	v->chosen = k;
	v->compact = id.compact;
	bool ppt_param = id.present & PP_IDP_PPT; /* then "shaken": select ranks it first */

	/* Identity parameters */
	if (!(id.present & PP_IDP_INFO))
		return finish(v, PP_CHECK_INFO, "no info parameter");
	if (!id.info_bracketed)
		return finish(v, PP_CHECK_INFO, "info is not in angle brackets");
	if (!is_https(id.info.p, id.info.len))
		return finish(v, PP_CHECK_INFO, "info is not an https URI");
	if (id.info.len > PP_X5U_MAX)
		return finish(v, PP_CHECK_INFO, "info too long");
	if ((id.present & PP_IDP_ALG) && !(id.alg.len == 5 && !memcmp(id.alg.p, "ES256", 5)))
		return finish(v, PP_CHECK_ALG, "alg parameter is not ES256");

	/* the PASSporT: parsed, or rebuilt from the SIP message */
	if (id.compact) {
		if (ppt_param)
			return finish(v, PP_CHECK_COMPACT, "compact form of a SHAKEN PASSporT");
		if (!p->accept_basic)
			return finish(v, PP_CHECK_NO_SHAKEN, "compact form of a basic PASSporT");
		if (!p->orig_tn || !p->dest_tn || p->date == 0)
			return finish(v, PP_CHECK_COMPACT,
				      "compact form: no calling TN, called TN or Date");
		int rc = rebuild_compact(v, &id, orig, dest, p->date);
		if (rc <= 0)
			return rc;
	} else {
		struct pp_token t;
		if (pp_parse(id.token.p, id.token.len, &t, &v->pp, v->sig, &why) != 0)
			return finish(v, PP_CHECK_TOKEN, why);
		v->have_passport = true;
		v->x5u = v->pp.x5u;
		if (!t.sig || t.sig <= id.token.p || t.sig > id.token.p + id.token.len)
			return finish(v, PP_CHECK_TOKEN, "token not split");
		size_t n = (size_t)(t.sig - 1 - id.token.p);
		if (n > sizeof(v->signed_input))
			return finish(v, PP_CHECK_TOKEN, "token too long");
		memcpy(v->signed_input, id.token.p, n);
		v->signed_len = n;
	}
	const struct pp_passport *pp = &v->pp;

	/* header */
	if (!(pp->present & PP_HAS_ALG) || strcmp(pp->alg, "ES256") != 0)
		return finish(v, PP_CHECK_ALG, NULL);
	if ((pp->present & PP_HAS_TYP) && strcmp(pp->typ, "passport") != 0)
		return finish(v, PP_CHECK_TYP, NULL);
	bool shaken = pp->ppt == PP_PPT_SHAKEN;
	if (ppt_param && !shaken)
		return finish(v, PP_CHECK_PPT, NULL);
	/* no ppt parameter: tolerated for a SHAKEN PASSporT (seen in the wild) */
	if (!shaken && !(pp->ppt == PP_PPT_NONE && p->accept_basic))
		return finish(v, PP_CHECK_NO_SHAKEN, "PASSporT ppt is not shaken");
	size_t x5u_len = strnlen(pp->x5u, sizeof(pp->x5u));
	if (!(pp->present & PP_HAS_X5U) || !is_https(pp->x5u, x5u_len))
		return finish(v, PP_CHECK_X5U, NULL);
	if (x5u_len != id.info.len || memcmp(pp->x5u, id.info.p, x5u_len) != 0)
		return finish(v, PP_CHECK_X5U_INFO, NULL);

	/* claims */
	if (shaken) {
		if (!(pp->present & PP_HAS_ATTEST) ||
		    (pp->attest != 'A' && pp->attest != 'B' && pp->attest != 'C'))
			return finish(v, PP_CHECK_ATTEST, NULL);
		if (!(pp->present & PP_HAS_ORIGID) || pp->origid[0] == '\0')
			return finish(v, PP_CHECK_ORIGID, NULL);
	}
	if (!(pp->present & PP_HAS_IAT))
		return finish(v, PP_CHECK_IAT, NULL);
	/* differences in uint64_t: exact for any pair of int64_t once ordered */
	if (pp->iat < p->now) {
		if ((uint64_t)p->now - (uint64_t)pp->iat > freshness)
			return finish(v, PP_CHECK_STALE, NULL);
	} else if ((uint64_t)pp->iat - (uint64_t)p->now > skew) {
		return finish(v, PP_CHECK_FUTURE, NULL);
	}
	if (!(pp->present & PP_HAS_ORIG) || !id_tn(&pp->orig, tn))
		return finish(v, PP_CHECK_ORIG, "orig absent or not a TN");
	if (p->orig_tn && strcmp(tn, orig) != 0)
		return finish(v, PP_CHECK_ORIG, NULL);
	if (!(pp->present & PP_HAS_DEST) || pp->n_dest == 0)
		return finish(v, PP_CHECK_DEST, "dest absent");
	if (p->dest_tn) {
		bool found = false;
		unsigned nd = pp->n_dest < PP_DEST_MAX ? pp->n_dest : PP_DEST_MAX;
		for (unsigned i = 0; i < nd && !found; i++)
			found = id_tn(&pp->dest[i], tn) && strcmp(tn, dest) == 0;
		if (!found)
			return finish(v, PP_CHECK_DEST, NULL);
	}

	v->phase = PP_VPHASE_NEED_CERT;
	v->detail = "certificate needed";
	return 1;
}

/* The final outcome from pp_es256_verify's or pp_es256_pub_verify's result. */
static void end_with(struct pp_verify *v, int rc)
{
	if (rc == 0)
		finish(v, PP_CHECK_OK, NULL);
	else if (rc == -EINVAL)
		finish(v, PP_CHECK_CERT_INVALID, "certificate key is not EC P-256");
	else if (rc == -EBADMSG)
		finish(v, PP_CHECK_SIGNATURE, NULL);
	else /* OpenSSL failed (-ENOMEM, -EIO): nothing was judged */
		finish(v, PP_CHECK_CERT_FETCH, "signature not checked: internal error");
}

void pp_verify_end(struct pp_verify *v, EVP_PKEY *pub)
{
	if (!v || v->phase != PP_VPHASE_NEED_CERT)
		return;
	if (!pub) {
		finish(v, PP_CHECK_CERT_INVALID, "no public key");
		return;
	}
	end_with(v, pp_es256_verify(pub, v->signed_input, v->signed_len, v->sig));
}

void pp_verify_end_pub(struct pp_verify *v, const struct pp_es256_pub *pub)
{
	if (!v || v->phase != PP_VPHASE_NEED_CERT)
		return;
	if (!pub || !pub->ctx) {
		finish(v, PP_CHECK_CERT_INVALID, "no public key");
		return;
	}
	end_with(v, pp_es256_pub_verify(pub, v->signed_input, v->signed_len, v->sig));
}

void pp_verify_fail(struct pp_verify *v, enum pp_check check, const char *detail)
{
	if (!v || v->phase != PP_VPHASE_NEED_CERT)
		return;
	if (check == PP_CHECK_OK || (unsigned)check >= PP_CHECK_COUNT_)
		check = PP_CHECK_CERT_INVALID;
	finish(v, check, detail);
}
