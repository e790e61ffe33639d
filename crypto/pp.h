/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PASSporT (RFC 8225) with the SHAKEN (RFC 8588) and div (RFC 8946) extensions:
 * deterministic build (RFC 8225 §9), strict bounded parse, and ES256 (raw r||s) signing behind
 * a small signer interface.
 *
 * Per-call functions never allocate: every buffer belongs to the caller. The parsed form holds
 * copies in fixed-size arrays, so it outlives the token it came from.
 */
#ifndef SHAKEND_CRYPTO_PP_H
#define SHAKEND_CRYPTO_PP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define PP_TN_MAX 15       /* E.164: at most 15 digits */
#define PP_URI_MAX 255     /* a dest/orig/div uri */
#define PP_X5U_MAX 511     /* an x5u URL */
#define PP_ORIGID_MAX 63   /* a UUID is 36 */
#define PP_NAME_MAX 15     /* alg, typ, ppt values */
#define PP_DEST_MAX 16     /* dest entries (tn and uri together) */
#define PP_JSON_MAX 2048   /* header or claims JSON after base64url decoding */
#define PP_TOKEN_MAX 6144  /* header.claims.signature */
#define PP_JSON_DEPTH 4    /* nesting accepted in a claims object */
#define PP_SIG_LEN 64      /* ES256 r||s */

enum pp_ppt {
	PP_PPT_NONE = 0,   /* no ppt: a basic PASSporT */
	PP_PPT_SHAKEN,     /* RFC 8588 */
	PP_PPT_DIV,        /* RFC 8946 */
	PP_PPT_OTHER,      /* any other extension, named in ppt_name */
};

enum pp_id_kind {
	PP_ID_NONE = 0,
	PP_ID_TN,          /* v holds a canonical TN (digits only) */
	PP_ID_URI,         /* v holds a URI */
};

/* An identity: orig, one dest entry, or div. */
struct pp_id {
	enum pp_id_kind kind;
	uint16_t len;
	char v[PP_URI_MAX + 1];   /* NUL-terminated */
};

/* Presence bits set by the parsers (and used by the builder for optional members). */
enum {
	PP_HAS_ALG = 1u << 0,
	PP_HAS_TYP = 1u << 1,
	PP_HAS_PPT = 1u << 2,
	PP_HAS_X5U = 1u << 3,
	PP_HAS_ATTEST = 1u << 4,
	PP_HAS_ORIG = 1u << 5,
	PP_HAS_DEST = 1u << 6,
	PP_HAS_IAT = 1u << 7,
	PP_HAS_ORIGID = 1u << 8,
	PP_HAS_DIV = 1u << 9,
};

/* A PASSporT: header members then claims. */
struct pp_passport {
	uint32_t present;                /* PP_HAS_* */
	/* header */
	char alg[PP_NAME_MAX + 1];       /* "ES256" */
	char typ[PP_NAME_MAX + 1];       /* "passport" */
	enum pp_ppt ppt;
	char ppt_name[PP_NAME_MAX + 1];  /* "shaken", "div", other, or "" */
	char x5u[PP_X5U_MAX + 1];
	/* claims */
	char attest;                     /* 'A', 'B' or 'C'; 0 when absent */
	struct pp_id orig;
	struct pp_id dest[PP_DEST_MAX];  /* tn entries first, then uri entries, as serialized */
	unsigned n_dest;
	int64_t iat;
	char origid[PP_ORIGID_MAX + 1];
	struct pp_id div;                /* RFC 8946 "div": {"tn": ...} or {"uri": ...} */
};

/*
 * Fills pp for a SHAKEN PASSporT: alg ES256, typ passport, ppt shaken, and the members given.
 * orig is a canonical TN; dest holds n_dest canonical TNs. Strings are copied.
 * Returns 0, or -EINVAL when a value is empty, too long, or not a TN where one is needed.
 */
__attribute__((warn_unused_result))
int pp_shaken_init(struct pp_passport *pp, const char *x5u, char attest, const char *orig_tn,
		   const char *const *dest_tns, unsigned n_dest, int64_t iat, const char *origid);

/*
 * Fills pp for a div PASSporT (RFC 8946): alg ES256, typ passport, ppt div, header x5u, and
 * claims dest (n_dest canonical TNs: the new target), div (div_tn, the retargeting TN), iat and
 * orig (orig_tn); no attest, no origid. Strings are copied.
 * Returns 0, or -EINVAL when a value is empty, too long, or not a TN where one is needed, or
 * iat is negative (pp is then zeroed). pp_shaken_init also rejects a negative iat.
 */
__attribute__((warn_unused_result))
int pp_div_init(struct pp_passport *pp, const char *x5u, const char *orig_tn,
		const char *const *dest_tns, unsigned n_dest, const char *div_tn, int64_t iat);

/*
 * Sets an identity (orig, a dest entry, div) from a NUL-terminated value: kind PP_ID_TN needs
 * 1..PP_TN_MAX ASCII digits (a canonical TN: canonicalize first, crypto/tn.h); PP_ID_URI needs
 * 1..PP_URI_MAX bytes of valid UTF-8 holding no control character, '"' or '\\' (nothing that
 * deterministic JSON would have to escape). Returns 0, or -EINVAL (id is then zeroed).
 */
__attribute__((warn_unused_result))
int pp_id_set(struct pp_id *id, enum pp_id_kind kind, const char *v);

/*
 * True when a and b have the same PP_HAS_* bits and equal values for every member present
 * (strings compared up to their NUL; dest entries in order). For tests and round trips.
 */
bool pp_passport_equal(const struct pp_passport *a, const struct pp_passport *b);

/*
 * Deterministic JSON (RFC 8225 §9: members in lexicographic order, no whitespace) of the
 * header and of the claims. Only members whose PP_HAS_* bit is set (or that pp_shaken_init
 * set) are written. Returns the length written (no NUL), -ENOSPC when cap is too small,
 * -EINVAL when pp cannot be serialized (no alg, a string needing escapes, ...).
 * In detail, -EINVAL when: the header has no PP_HAS_ALG; PP_HAS_PPT is set but no name follows
 * from ppt (PP_PPT_SHAKEN "shaken", PP_PPT_DIV "div", otherwise ppt_name, which must not be
 * empty); a string is not NUL-terminated within its field, is not valid UTF-8 or holds a
 * control character, '"' or '\\'; attest is not 'A', 'B' or 'C'; dest has 0 or more than
 * PP_DEST_MAX entries; an identity is not valid as pp_id_set would check it; iat is negative.
 * dest is written {"tn":[...],"uri":[...]}: the tn entries in order, then the uri entries.
 */
__attribute__((warn_unused_result))
long pp_header_json(const struct pp_passport *pp, char *buf, size_t cap);
__attribute__((warn_unused_result))
long pp_claims_json(const struct pp_passport *pp, char *buf, size_t cap);

/*
 * Writes the JWS signing input base64url(header) "." base64url(claims) into buf.
 * Returns its length (no NUL), or -ENOSPC / -EINVAL as above (-EINVAL also when the header or
 * the claims JSON would exceed PP_JSON_MAX, which no parser here would accept).
 */
__attribute__((warn_unused_result))
long pp_signing_input(const struct pp_passport *pp, char *buf, size_t cap);

/*
 * Appends "." base64url(sig) to the signing input of length len already in buf, making the
 * compact JWS. Returns the new length, or -ENOSPC. Used by asynchronous signers (HSM engine):
 * build the signing input, hash it, sign elsewhere, then finish.
 */
__attribute__((warn_unused_result))
long pp_token_finish(char *buf, size_t cap, size_t len, const uint8_t sig[PP_SIG_LEN]);

/* ---- ES256 ---------------------------------------------------------------------------- */

/* A synchronous signer over a SHA-256 digest; returns 0 with sig = r||s, or -errno. */
struct pp_signer {
	int (*sign)(void *ctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN]);
	void *ctx;
};

/*
 * A signer over an OpenSSL EC P-256 private key. The key stays owned by the caller and must
 * outlive the signer. Returns 0, or -EINVAL when the key is not an EC P-256 private key.
 * (A key whose provider cannot check for a private part, e.g. an HSM's, is accepted; -ENOMEM
 * when OpenSSL cannot allocate.) The signer is thread-safe (one OpenSSL context per call)
 * and returns 0, -ENOMEM, or -EIO when OpenSSL fails to sign. pp_signer_evp_open below is
 * the faster form for long-lived signers.
 */
__attribute__((warn_unused_result))
int pp_signer_evp(struct pp_signer *s, EVP_PKEY *key);

/*
 * The fast form of pp_signer_evp: the same checks and returns, and the same signatures, but
 * the OpenSSL context is set up once here (sign-initialized) and duplicated per call instead of
 * being created per call (about 15k instructions, 6% of an ES256 signature, saved per call).
 * The signer holds its own reference to key: the caller may free key after this call.
 * The signer is thread-safe (each call works on its own duplicate) and returns 0, -ENOMEM or
 * -EIO as pp_signer_evp's. Returns 0; -EINVAL when s is NULL or key is not an EC P-256 private
 * key; -ENOMEM, or -EIO when OpenSSL cannot set up signing with key. On error s is zeroed.
 * Release with pp_signer_close() once no call is in flight.
 */
__attribute__((warn_unused_result))
int pp_signer_evp_open(struct pp_signer *s, EVP_PKEY *key);

/*
 * Releases what pp_signer_evp_open set up and zeroes s. Does nothing else for a signer set up
 * any other way (pp_signer_evp, a caller's own) or already closed; s may be NULL.
 */
void pp_signer_close(struct pp_signer *s);

/*
 * Builds and signs pp: writes header.claims.signature into buf.
 * Returns the token length (no NUL), -ENOSPC, -EINVAL, or the signer's error.
 */
__attribute__((warn_unused_result))
long pp_sign(const struct pp_passport *pp, const struct pp_signer *s, char *buf, size_t cap);

/* SHA-256 of len bytes into digest. Returns 0 or -EIO. */
__attribute__((warn_unused_result))
int pp_sha256(const void *data, size_t len, uint8_t digest[32]);

/*
 * r||s <-> DER ECDSA-Sig-Value. to_der returns the DER length or -ENOSPC; from_der returns 0,
 * or -EINVAL when der is not a well-formed P-256 signature (r or s longer than 32 bytes).
 * to_der writes minimal DER (at most 72 bytes). from_der is strict DER: a SEQUENCE with a
 * short-form length covering exactly len bytes, holding exactly two INTEGERs, each non-empty,
 * non-negative, minimally encoded, at most 32 bytes once a sign pad is dropped.
 */
__attribute__((warn_unused_result))
long pp_es256_sig_to_der(const uint8_t sig[PP_SIG_LEN], uint8_t *der, size_t cap);
__attribute__((warn_unused_result))
int pp_es256_sig_from_der(const uint8_t *der, size_t len, uint8_t sig[PP_SIG_LEN]);

/*
 * Verifies an ES256 signature r||s over msg with a pre-parsed EC P-256 public key.
 * Returns 0 when valid, -EBADMSG when it does not verify, -EINVAL on a key of another type.
 * (-ENOMEM or -EIO when OpenSSL itself fails: nothing was judged.)
 */
__attribute__((warn_unused_result))
int pp_es256_verify(EVP_PKEY *pub, const void *msg, size_t len, const uint8_t sig[PP_SIG_LEN]);

/*
 * An EC P-256 public key prepared for verification once (per certificate), e.g. for a
 * certificate cache: the key type is checked and the OpenSSL context verify-initialized here,
 * and each pp_es256_pub_verify() works on a duplicate of it (about 20k instructions saved per
 * verification over pp_es256_verify). The member is private.
 */
struct pp_es256_pub {
	EVP_PKEY_CTX *ctx;
};

/*
 * Prepares p for key; p holds its own reference to key (the caller may free key).
 * Returns 0; -EINVAL when p is NULL or key is not an EC P-256 key (p->ctx is then NULL);
 * -ENOMEM or -EIO when OpenSSL fails. Release with pp_es256_pub_release().
 */
__attribute__((warn_unused_result))
int pp_es256_pub_init(struct pp_es256_pub *p, EVP_PKEY *key);

/* Releases p (NULL, zeroed or released already: nothing to do) and sets p->ctx to NULL. */
void pp_es256_pub_release(struct pp_es256_pub *p);

/*
 * As pp_es256_verify with a prepared key: 0 when valid, -EBADMSG when it does not verify,
 * -EINVAL when p is NULL or not prepared, -ENOMEM or -EIO when OpenSSL itself fails (nothing
 * was judged). Thread-safe: any number of threads may verify with the same p at once (p must
 * not be released meanwhile).
 */
__attribute__((warn_unused_result))
int pp_es256_pub_verify(const struct pp_es256_pub *p, const void *msg, size_t len,
			const uint8_t sig[PP_SIG_LEN]);

/* ---- parsing -------------------------------------------------------------------------- */

/* A compact JWS split in place: slices of the caller's token. */
struct pp_token {
	const char *hdr;     /* base64url header; hdr_len 0 in the compact form (RFC 8224 §11) */
	size_t hdr_len;
	const char *claims;  /* base64url claims; claims_len 0 in the compact form */
	size_t claims_len;
	const char *sig;     /* base64url signature */
	size_t sig_len;
};

/*
 * Splits a token into its three dot-separated parts. Does not decode.
 * Returns 0, or -EINVAL when it does not have exactly three parts, a part holds a character
 * outside the base64url alphabet, or len > PP_TOKEN_MAX.
 */
__attribute__((warn_unused_result))
int pp_token_split(const char *tok, size_t len, struct pp_token *t);

/*
 * Strict JSON parsers for the header and the claims: one object, no duplicate keys,
 * depth <= PP_JSON_DEPTH, len <= PP_JSON_MAX, strings copied unescaped into pp (values too
 * long for their field rejected), iat a JSON integer, attest one of "A" "B" "C", dest an
 * object of arrays of strings "tn" and "uri". Unknown members are skipped after being
 * checked for syntax. They fill the members they find and set their PP_HAS_* bits; they do
 * not judge presence (the verification procedure does).
 * Return 0, or -EINVAL with *why (a static string) naming the fault.
 * In detail: JSON whitespace is accepted between tokens; strings must be valid UTF-8 (escapes
 * decoded, surrogate pairs joined, a lone surrogate or \u0000 rejected); iat must be a
 * non-negative integer without fraction or exponent that fits int64_t; a tn (orig, dest, div)
 * must be 1..PP_TN_MAX ASCII digits (RFC 8225 §5.2.1 canonical form), a uri 1..PP_URI_MAX
 * bytes; orig and div must hold exactly one of "tn" and "uri" and nothing else; dest only
 * "tn" and "uri", each a non-empty array, PP_DEST_MAX entries at most, stored tn first; ppt
 * must not be empty ("shaken" and "div" map to their enum, any other name to PP_PPT_OTHER).
 * Values pp already holds for members absent from json are left as they are.
 */
__attribute__((warn_unused_result))
int pp_header_parse(const char *json, size_t len, struct pp_passport *pp, const char **why);
__attribute__((warn_unused_result))
int pp_claims_parse(const char *json, size_t len, struct pp_passport *pp, const char **why);

/*
 * Decodes and parses a full-form token (pp zeroed first) and decodes its signature.
 * The signature is to be checked over tok[0 .. t.sig - 1 - tok) exactly as received.
 * Returns 0, or -EINVAL with *why set.
 */
__attribute__((warn_unused_result))
int pp_parse(const char *tok, size_t len, struct pp_token *t, struct pp_passport *pp,
	     uint8_t sig[PP_SIG_LEN], const char **why);

#endif
