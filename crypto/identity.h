/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SIP Identity header field (RFC 8224 §4): build one for a signed PASSporT, parse the value
 * of one, and choose among several in a message.
 *
 *   Identity = "Identity" HCOLON signed-identity-digest SEMI ident-info *( SEMI ident-info-params )
 *   ident-info = "info" EQUAL LAQUOT absoluteURI RAQUOT
 *   ident-info-params = "alg" EQUAL token / "ppt" EQUAL token / generic-param
 *
 * The parser works on (ptr,len) slices of the caller's buffer: no allocation, no copy, no NUL
 * needed. Every byte is treated as hostile: the parser never reads outside [s, s + len).
 */
#ifndef SHAKEND_CRYPTO_IDENTITY_H
#define SHAKEND_CRYPTO_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/pp.h"

/* A read-only slice of a caller's buffer (HAProxy's struct ist): p then len. */
struct pp_slice {
	const char *p;
	size_t len;
};

/* Longest Identity header value accepted by the parser (token, info and a few parameters). */
#define PP_IDENTITY_MAX (PP_TOKEN_MAX + PP_X5U_MAX + 256)
/* Most parameters looked at in one value; a value with more is rejected. */
#define PP_IDENTITY_PARAMS_MAX 16

/* Presence bits of struct pp_identity.present. */
enum {
	PP_IDP_INFO = 1u << 0,
	PP_IDP_ALG = 1u << 1,
	PP_IDP_PPT = 1u << 2,
};

/* One parsed Identity header value. Slices point into the parsed value. */
struct pp_identity {
	uint32_t present;      /* PP_IDP_* */
	struct pp_slice token; /* the JWS: "hdr.claims.sig", or "..sig" in the compact form */
	bool compact;          /* header and claims parts empty (RFC 8224 §11, RFC 8225 §7) */
	struct pp_slice info;  /* the info value; the URI without "<" ">" when bracketed */
	bool info_bracketed;   /* info was written "<URI>" as the ABNF requires */
	struct pp_slice alg;   /* alg value, quotes removed when quoted */
	struct pp_slice ppt;   /* ppt value, quotes removed: shaken and "shaken" both give shaken */
};

/*
 * Writes "<token>;info=<x5u>;alg=<alg>;ppt=<ppt>" NUL-terminated into buf: x5u, alg and the
 * ppt name come from pp (alg "ES256" when pp->alg is empty; no ppt parameter when pp->ppt is
 * PP_PPT_NONE). token is the compact JWS of pp (pp_sign or pp_token_finish output).
 * Returns the length written (without the NUL); -ENOSPC when cap is too small (buf then holds
 * no meaningful value); -EINVAL when token is empty or holds a character outside base64url and
 * '.', or x5u is empty or holds a character not allowed in a URI inside <> (space, control,
 * '<', '>', '"'), or the ppt name or alg is not a SIP token.
 */
__attribute__((warn_unused_result))
long pp_identity_build(char *buf, size_t cap, const char *token, size_t token_len,
		       const struct pp_passport *pp);

/*
 * Parses one Identity header value (what follows "Identity:" up to the end of the header
 * field, unfolded; surrounding whitespace allowed). The token comes first; then parameters in
 * any order, separated by ';' with optional whitespace around ';' and '=' (SIP SWS); names are
 * case-insensitive; values are a token, a quoted-string (escapes kept as written) or, for info,
 * "<URI>". Unknown parameters are skipped. A value with no ';' at all parses (the caller's
 * checks then find info absent). Presence is not judged here, except that the token must be
 * there.
 * Returns 0 with id filled; -EINVAL when the value is empty, too long (> PP_IDENTITY_MAX),
 * the token holds a character outside base64url and '.', or has not exactly two dots, a
 * parameter is malformed (empty name, unterminated quote or '<', junk after a value), alg,
 * ppt or info appear twice, or there are more than PP_IDENTITY_PARAMS_MAX parameters.
 * *why (may be NULL) then points to a static string naming the fault.
 */
__attribute__((warn_unused_result))
int pp_identity_parse(const char *s, size_t len, struct pp_identity *id, const char **why);

/* True when the slice equals the NUL-terminated string lit, ASCII case-insensitively. */
bool pp_slice_ieq(struct pp_slice s, const char *lit);

/*
 * Chooses one of n Identity header values (one per Identity header field, in message order).
 * Preference: a value whose ppt parameter is "shaken"; else one with no ppt parameter (its
 * PASSporT may still be a SHAKEN one: the verification procedure looks); values with another
 * ppt and values that do not parse come last. The first value of the best rank wins.
 * Returns the index of the chosen value with *id filled; -ENOENT when n is 0; -EINVAL when no
 * value parses (*why names the first fault); -EPROTONOSUPPORT when the values that parse all
 * carry a ppt other than "shaken" (*id then holds the first of them).
 */
__attribute__((warn_unused_result))
int pp_identity_select(const struct pp_slice *values, unsigned n, struct pp_identity *id,
		       const char **why);

#endif
