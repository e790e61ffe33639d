/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The STI-VS verification procedure (RFC 8224 §6.2, RFC 8588, ATIS-1000074 §5.3) in two
 * phases, so that the per-packet part never waits for a certificate:
 *
 *   pp_verify_begin()  choose an Identity header, parse it and its PASSporT, run every check
 *                      that needs no certificate; returns 1 when a certificate for v->x5u is
 *                      needed, 0 when the outcome is already final.
 *   (caller)           obtain and check the certificate of v->x5u; on failure call
 *                      pp_verify_fail(v, PP_CHECK_CERT_FETCH or PP_CHECK_CERT_INVALID, ...).
 *   pp_verify_end()    ES256 over the exact signing input received (or, in the compact form,
 *                      rebuilt per RFC 8224 §11) with the certificate's public key
 *                      (pp_verify_end_pub(): the same with a key prepared once).
 *
 * No allocation: struct pp_verify holds everything (a copy of the signing input included), so
 * the Identity buffers need not outlive pp_verify_begin().
 *
 * Outcome of each check: (verstat, SIP code, reason phrase of the code; detail = check text)
 *
 *   check                  verstat                code  when
 *   PP_CHECK_OK            TN-Validation-Passed   -     every check and the signature passed
 *   PP_CHECK_NO_IDENTITY   No-TN-Validation       428   no Identity header value
 *   PP_CHECK_NO_SHAKEN     No-TN-Validation       428   only PASSporTs of another ppt (an
 *                                                       Identity ppt other than shaken, or a
 *                                                       ppt-less PASSporT when !accept_basic)
 *   PP_CHECK_SYNTAX        TN-Validation-Failed   438   no Identity value parses
 *   PP_CHECK_INFO          TN-Validation-Failed   436   info absent, not "<URI>", not https
 *   PP_CHECK_ALG           TN-Validation-Failed   438   alg (parameter or header) not ES256
 *   PP_CHECK_COMPACT       TN-Validation-Failed   438   compact form of a PASSporT whose claims
 *                                                       SIP cannot carry (ppt shaken: attest and
 *                                                       origid; see below), or no calling TN,
 *                                                       called TN or Date to rebuild it from
 *   PP_CHECK_TOKEN         TN-Validation-Failed   438   the token does not decode or parse
 *                                                       (detail: the parser's reason)
 *   PP_CHECK_TYP           TN-Validation-Failed   438   typ present and not "passport"
 *   PP_CHECK_PPT           TN-Validation-Failed   438   ppt parameter and PASSporT ppt differ
 *                                                       (a missing ppt parameter is tolerated:
 *                                                       the PASSporT's ppt then decides)
 *   PP_CHECK_X5U           TN-Validation-Failed   436   x5u absent or not an https URL
 *   PP_CHECK_X5U_INFO      TN-Validation-Failed   436   x5u differs from info
 *   PP_CHECK_ATTEST        TN-Validation-Failed   438   attest absent (values other than A, B,
 *                                                       C are rejected by the parser: TOKEN)
 *   PP_CHECK_ORIGID        TN-Validation-Failed   438   origid absent or empty
 *   PP_CHECK_IAT           TN-Validation-Failed   438   iat absent
 *   PP_CHECK_STALE         TN-Validation-Failed   403   now - iat > freshness
 *   PP_CHECK_FUTURE        TN-Validation-Failed   403   iat - now > skew
 *   PP_CHECK_ORIG          TN-Validation-Failed   438   orig absent, not a TN, or not the
 *                                                       calling TN
 *   PP_CHECK_DEST          TN-Validation-Failed   438   dest has no TN equal to the called TN
 *   PP_CHECK_CERT_FETCH    No-TN-Validation       436   certificate could not be obtained
 *                                                       (nothing was validated: our side or the
 *                                                       network failed, not the caller's claim)
 *   PP_CHECK_CERT_INVALID  TN-Validation-Failed   437   certificate untrusted or invalid, or its
 *                                                       key is not EC P-256
 *   PP_CHECK_SIGNATURE     TN-Validation-Failed   438   ES256 signature does not verify
 *
 * Checks run in the order listed (after choosing the header); the first failure decides.
 * Reason phrases: 403 "Stale Date", 428 "Use Identity Header", 436 "Bad Identity Info",
 * 437 "Unsupported Credential", 438 "Invalid Identity Header".
 *
 * Compact form (RFC 8224 §11): the header is rebuilt as {"alg":"ES256","typ":"passport",
 * "x5u":info} and the claims as {"dest":{"tn":[called TN]},"iat":Date,"orig":{"tn":calling TN}},
 * then the signature is checked over base64url(header) "." base64url(claims). Only a ppt-less
 * (RFC 8225 basic) PASSporT can be rebuilt, so it is verified only when accept_basic is set.
 * A SHAKEN PASSporT carries attest and origid, which no SIP header field conveys; RFC 8224 §11
 * allows the compact form only when every claim can be derived from the SIP message, and
 * ATIS-1000074 SHAKEN uses the full form: a compact SHAKEN PASSporT is therefore rejected
 * (PP_CHECK_COMPACT, 438, TN-Validation-Failed).
 *
 * Basic PASSporTs (accept_basic): a ppt-less PASSporT is checked like a SHAKEN one without the
 * attest and origid checks. Off by default: an STI-VS at a SHAKEN NNI validates SHAKEN only.
 */
#ifndef SHAKEND_CRYPTO_VERIFY_H
#define SHAKEND_CRYPTO_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "crypto/identity.h"
#include "crypto/pp.h"
#include "crypto/tn.h"

#define PP_FRESHNESS_DEFAULT 60 /* s, ATIS-1000074 */
#define PP_SKEW_DEFAULT 5       /* s an iat may lie in the future (clock skew) */

/* Peer-facing outcome: a SIP response code (RFC 8224 §6.2.2, RFC 3261 403), never an errno. */
enum pp_verdict {
	PP_VERDICT_PASSED = 0,
	PP_VERDICT_STALE_DATE = 403,
	PP_VERDICT_USE_IDENTITY = 428,
	PP_VERDICT_BAD_INFO = 436,
	PP_VERDICT_UNSUPPORTED_CREDENTIAL = 437,
	PP_VERDICT_INVALID_IDENTITY = 438,
};

/* 3GPP TS 24.229 verstat. */
enum pp_verstat {
	PP_VERSTAT_NO_VALIDATION = 0, /* "No-TN-Validation" */
	PP_VERSTAT_PASSED,            /* "TN-Validation-Passed" */
	PP_VERSTAT_FAILED,            /* "TN-Validation-Failed" */
};

/* The check that decided the outcome (table above). */
enum pp_check {
	PP_CHECK_OK = 0,
	PP_CHECK_NO_IDENTITY,
	PP_CHECK_NO_SHAKEN,
	PP_CHECK_SYNTAX,
	PP_CHECK_INFO,
	PP_CHECK_ALG,
	PP_CHECK_COMPACT,
	PP_CHECK_TOKEN,
	PP_CHECK_TYP,
	PP_CHECK_PPT,
	PP_CHECK_X5U,
	PP_CHECK_X5U_INFO,
	PP_CHECK_ATTEST,
	PP_CHECK_ORIGID,
	PP_CHECK_IAT,
	PP_CHECK_STALE,
	PP_CHECK_FUTURE,
	PP_CHECK_ORIG,
	PP_CHECK_DEST,
	PP_CHECK_CERT_FETCH,
	PP_CHECK_CERT_INVALID,
	PP_CHECK_SIGNATURE,
	PP_CHECK_COUNT_
};

struct pp_verify_params {
	int64_t now;          /* current time, seconds since the epoch */
	int64_t freshness;    /* max age of iat in s; 0 selects PP_FRESHNESS_DEFAULT */
	const char *orig_tn;  /* calling TN (P-Asserted-Identity, else From), any form tn_canon()
			       * accepts, NUL-terminated; NULL: orig not compared (offline tools) */
	const char *dest_tn;  /* called TN, as orig_tn; NULL: dest not compared */
	int64_t skew;         /* s an iat may be ahead of now; 0 selects PP_SKEW_DEFAULT */
	int64_t date;         /* Date header, s since the epoch (compact form iat); 0: none */
	bool accept_basic;    /* also verify ppt-less (RFC 8225) PASSporTs, full or compact */
};

/* Phases of struct pp_verify (private to verify.c; exposed for sizing only). */
enum pp_verify_phase {
	PP_VPHASE_NONE = 0,
	PP_VPHASE_NEED_CERT, /* begin returned 1 */
	PP_VPHASE_DONE,      /* outcome final */
};

/*
 * The state and outcome of one verification. Fill by pp_verify_begin(); read after it returns
 * 0 or after pp_verify_end()/pp_verify_fail(). Do not copy the struct between begin and end:
 * x5u points into it.
 */
struct pp_verify {
	/* outcome */
	enum pp_verstat verstat;
	enum pp_verdict code;      /* PP_VERDICT_PASSED when verstat is PP_VERSTAT_PASSED */
	enum pp_check check;       /* the check that decided */
	const char *detail;        /* static text, never NULL: the check's text or a finer cause */
	/* what was looked at */
	int chosen;                /* index of the Identity value used; -1 when none */
	bool compact;              /* the chosen value was in the compact form */
	bool have_passport;        /* pp holds the parsed (or rebuilt) PASSporT */
	struct pp_passport pp;     /* attest, orig, dest, origid, iat, x5u, ... for reporting */
	const char *x5u;           /* pp.x5u once have_passport (always when begin returned 1),
				    * else "" */
	/* private to verify.c */
	enum pp_verify_phase phase;
	size_t signed_len;
	char signed_input[PP_TOKEN_MAX];
	uint8_t sig[PP_SIG_LEN];
};

/*
 * Phase 1. identity holds n_identity Identity header values (one per header field, in message
 * order; the slices need not outlive the call). Chooses one (pp_identity_select), parses it
 * and its PASSporT, rebuilds a compact one, and runs every check of the table up to
 * PP_CHECK_DEST. v is fully (re)initialized.
 * Returns 1 when those checks passed and the certificate of v->x5u is needed (then call
 * pp_verify_end or pp_verify_fail); 0 when the outcome is final (a failure, in v);
 * -EINVAL on misuse (v or p NULL, identity NULL with n_identity > 0, negative freshness or
 * skew, an orig_tn/dest_tn that tn_canon() rejects): v then holds no outcome.
 */
__attribute__((warn_unused_result))
int pp_verify_begin(struct pp_verify *v, const struct pp_slice *identity, unsigned n_identity,
		    const struct pp_verify_params *p);

/*
 * Phase 2: checks the ES256 signature over the signing input with pub (the public key of the
 * certificate of v->x5u, already checked by the caller) and sets the final outcome: PASSED,
 * PP_CHECK_SIGNATURE, or PP_CHECK_CERT_INVALID when pub is NULL or not an EC P-256 key
 * (PP_CHECK_CERT_FETCH, No-TN-Validation, when OpenSSL itself fails and nothing was judged).
 * Does nothing when v is not waiting for a certificate (begin did not return 1).
 */
void pp_verify_end(struct pp_verify *v, EVP_PKEY *pub);

/*
 * As pp_verify_end with a key prepared once by pp_es256_pub_init() (e.g. held per certificate
 * by a cache): the same outcomes (pub NULL or not prepared: PP_CHECK_CERT_INVALID, "no public
 * key"), without setting up an OpenSSL context per call. pub may be shared by threads.
 */
void pp_verify_end_pub(struct pp_verify *v, const struct pp_es256_pub *pub);

/*
 * Records a certificate-stage failure instead of pp_verify_end: PP_CHECK_CERT_FETCH
 * (No-TN-Validation, 436) or PP_CHECK_CERT_INVALID (TN-Validation-Failed, 437); any other
 * check sets that check's outcome. detail (a static string, or NULL for the check's text) is
 * kept. Does nothing when v is not waiting for a certificate.
 */
void pp_verify_fail(struct pp_verify *v, enum pp_check check, const char *detail);

/* "TN-Validation-Passed", "TN-Validation-Failed", "No-TN-Validation"; "" when out of range. */
const char *pp_verstat_str(enum pp_verstat s);

/* The reason phrase of a verdict ("Stale Date", ..., "OK" for PASSED); "" when unknown. */
const char *pp_verdict_reason(enum pp_verdict c);

/* The text of a check (the "detail" column); "" when out of range. */
const char *pp_check_str(enum pp_check c);

/* The (verstat, code) a check maps to, per the table above. */
enum pp_verstat pp_check_verstat(enum pp_check c);
enum pp_verdict pp_check_verdict(enum pp_check c);

#endif
