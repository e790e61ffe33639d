/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STI certificate checks (RFC 8226, ATIS-1000080, ATIS-1000074 §5.3.1) through OpenSSL 3:
 * loading the x5u certificate chain, a trust store of STI-CA roots with CRLs, the TNAuthList
 * extension (1.3.6.1.5.5.7.1.26) and one call that runs every check on a leaf certificate.
 *
 * Where this runs: on the x5u fetcher thread and in the tools, never on an lcore. Chain loading,
 * stores and cert_sti_check() allocate through OpenSSL (X509 objects); the TNAuthList decoder
 * and coverage test do not allocate and are safe on hostile bytes (fuzzed).
 *
 * TNAuthList (RFC 8226 §9 ASN.1):
 *   TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
 *   TNEntry ::= CHOICE { spc [0] ServiceProviderCode, range [1] TelephoneNumberRange,
 *                        one [2] TelephoneNumber }
 *   ServiceProviderCode ::= IA5String
 *   TelephoneNumberRange ::= SEQUENCE { start TelephoneNumber, count INTEGER (2..MAX), ... }
 *   TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))
 * Deployed certificates tag the choices EXPLICIT (SPC "1234": 30 08 a0 06 16 04 31 32 33 34);
 * the decoder also accepts the IMPLICIT form (80 04 31 32 33 34). shaken-pki writes EXPLICIT.
 *
 * Revocation: CRLs are added to the store. A CRL counts only when its signature verifies with
 * the key of a certificate whose subject is the CRL's issuer, taken from the store's trust
 * anchors, the chain being checked, or the CRL signers added with cert_store_add_crl_signer()
 * (the STI-PA, whose CRL in ATIS-1000080 lists revoked SHAKEN certificates of every STI-CA).
 * A leaf is revoked when a counted CRL lists its serial number and either the CRL's issuer is
 * the leaf's issuer or the CRL comes from an added CRL signer (serials are random, >= 64 bits,
 * per ATIS-1000080, so a serial names one certificate). Delta CRLs are not supported.
 */
#ifndef SHAKEND_CRYPTO_CERT_H
#define SHAKEND_CRYPTO_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/tn.h"

#define CERT_CHAIN_MAX 8       /* certificates in one x5u chain (leaf included) */
#define CERT_TNAUTH_MAX 16     /* TNEntry elements kept from one TNAuthList */
#define CERT_SPC_MAX 32        /* bytes of a ServiceProviderCode (SPCs are 4 characters) */
#define CERT_POLICY_OIDS_MAX 4 /* accepted certificate policy OIDs */
#define CERT_PEM_MAX (1u << 20) /* largest PEM/DER buffer cert_chain_load() accepts */

/* Dotted OIDs */
#define CERT_OID_TNAUTHLIST "1.3.6.1.5.5.7.1.26"
#define CERT_OID_SHAKEN_POLICY "2.16.840.1.114569.1.1.3"   /* SHAKEN certificate policy */
#define CERT_OID_SHAKEN_POLICY_4 "2.16.840.1.114569.1.1.4" /* seen in later profiles */

/* ---- TNAuthList ------------------------------------------------------------------------- */

enum cert_tn_kind {
	CERT_TN_SPC = 0, /* spc: a ServiceProviderCode */
	CERT_TN_RANGE,   /* range: start, count */
	CERT_TN_ONE,     /* one: a single TelephoneNumber */
};

struct cert_tn_entry {
	enum cert_tn_kind kind;
	/* CERT_TN_SPC: the SPC (printable ASCII); RANGE: start; ONE: the number
	 * (digits, '#', '*'); NUL-terminated. */
	char v[CERT_SPC_MAX + 1];
	uint64_t count; /* CERT_TN_RANGE: number of TNs from start (>= 1); 0 otherwise */
};

struct cert_tnauth {
	struct cert_tn_entry e[CERT_TNAUTH_MAX];
	unsigned n;
};

/*
 * Decodes the DER value of a TNAuthList extension (the extnValue contents: the SEQUENCE).
 * Accepts EXPLICIT or IMPLICIT tagging per entry, definite lengths only, no trailing bytes.
 * Rejects: an empty list; an unknown tag; an SPC empty, longer than CERT_SPC_MAX or with a
 * byte outside 0x20..0x7e; a TN empty, longer than TN_MAX or with a character outside
 * "0123456789#*"; a range count that is not a positive INTEGER below 2^63; trailing data.
 * No allocation; reads only der[0..len).
 * Returns 0 (out->n >= 1), -EINVAL when malformed, -E2BIG when it holds more than
 * CERT_TNAUTH_MAX entries (out is then undefined).
 */
__attribute__((warn_unused_result))
int cert_tnauth_decode(const uint8_t *der, size_t len, struct cert_tnauth *out);

/*
 * Whether ta authorizes the canonical TN tn (digits only, as tn_canon() writes): a "one"
 * entry equal to tn, or a "range" whose start has tn's length and start <= tn < start + count
 * (numerically; start must be all digits).
 * Returns 1 when covered, 0 when ta lists TNs or ranges and none covers tn, -ENOENT when ta
 * lists no TN or range (SPC only: the certificate does not restrict TNs), -EINVAL when tn is
 * not 1..TN_MAX digits or ta is NULL.
 */
__attribute__((warn_unused_result))
int cert_tnauth_covers(const struct cert_tnauth *ta, const char *tn);

/* The first SPC of ta, or NULL when it holds none. */
const char *cert_tnauth_spc(const struct cert_tnauth *ta);

/*
 * Decodes the TNAuthList extension of cert. Returns 0, -ENOENT when cert has none (or cert is
 * NULL), -EINVAL when it is malformed or present twice, -E2BIG as cert_tnauth_decode().
 */
__attribute__((warn_unused_result))
int cert_tnauth_of(const X509 *cert, struct cert_tnauth *out);

/* ---- Certificate chains ---------------------------------------------------------------- */

/* certs[0] is the leaf; the rest are the intermediates, in the order given. */
struct cert_chain {
	X509 *certs[CERT_CHAIN_MAX];
	unsigned n;
};

/*
 * Parses buf as either PEM (one or more "CERTIFICATE" blocks; other PEM blocks and text
 * between blocks are skipped) or DER (exactly one certificate, no trailing bytes; chosen when
 * buf starts with 0x30). out is fully (re)initialized; on failure it holds nothing.
 * Returns the number of certificates loaded (1..CERT_CHAIN_MAX); -EINVAL when buf holds no
 * certificate or a block does not parse (or len > CERT_PEM_MAX); -E2BIG when it holds more than
 * CERT_CHAIN_MAX certificates; -ENOMEM.
 */
__attribute__((warn_unused_result))
int cert_chain_load(const uint8_t *buf, size_t len, struct cert_chain *out);

/* Reads a file (at most CERT_PEM_MAX bytes) and loads it as cert_chain_load() does; also
 * -errno of open/read, -EFBIG when the file is larger. */
__attribute__((warn_unused_result))
int cert_chain_load_file(const char *path, struct cert_chain *out);

/* Releases the certificates and sets c->n to 0. Safe on a zeroed or already freed chain. */
void cert_chain_free(struct cert_chain *c);

/* ---- Trust store ------------------------------------------------------------------------ */

/*
 * Trust anchors (STI-CA roots), CRLs and CRL signers (the STI-PA). Every certificate added as
 * an anchor is trusted as such, a root or not (OpenSSL's partial-chain mode). Build it once,
 * then share it read-only: cert_sti_check() may run concurrently on one store from many
 * threads. Adding while another thread checks is not allowed (build a new store and swap it).
 */
struct cert_store;

/* Returns 0 with *out an empty store, -EINVAL (out NULL) or -ENOMEM. */
__attribute__((warn_unused_result))
int cert_store_create(struct cert_store **out);

/* Releases st; NULL is ignored. */
void cert_store_free(struct cert_store *st);

/*
 * Adds every certificate of a PEM file (a bundle) as a trust anchor and every CRL ("X509 CRL"
 * block) of it as a CRL; when path is a directory, does so for each regular file in it whose
 * name ends in ".pem", ".crt", ".cer" or ".crl" (a DER file holding one certificate or CRL is
 * accepted too). Returns the number of certificates and CRLs added (>= 1), -ENOENT when none
 * was found, -EINVAL when a file does not parse, -errno of opendir/open/read, -ENOMEM.
 */
__attribute__((warn_unused_result))
int cert_store_add_path(struct cert_store *st, const char *path);

/* Adds one trust anchor (up-ref'd; the caller keeps its reference). Returns 0, -EINVAL, -ENOMEM. */
__attribute__((warn_unused_result))
int cert_store_add_anchor(struct cert_store *st, X509 *ca);

/* Adds one CRL (up-ref'd). Returns 0, -EINVAL, -ENOMEM. */
__attribute__((warn_unused_result))
int cert_store_add_crl(struct cert_store *st, X509_CRL *crl);

/*
 * Adds the certificates of a PEM or DER file (or one cert, up-ref'd) as CRL signers: keys
 * allowed to sign CRLs that revoke certificates of any issuer (the STI-PA). They are not
 * trust anchors. Return the number added (file) or 0 (cert), -EINVAL, -ENOENT, -errno, -ENOMEM.
 */
__attribute__((warn_unused_result))
int cert_store_add_crl_signer_file(struct cert_store *st, const char *path);
__attribute__((warn_unused_result))
int cert_store_add_crl_signer(struct cert_store *st, X509 *signer);

/* Number of trust anchors / CRLs in st (0 when st is NULL). */
unsigned cert_store_n_anchors(const struct cert_store *st);
unsigned cert_store_n_crls(const struct cert_store *st);

/* ---- STI checks ------------------------------------------------------------------------- */

/* The checks of cert_sti_check(), in the order they run; the first strict failure decides. */
enum cert_check {
	CERT_OK = 0,          /* every strict check passed */
	CERT_UNTRUSTED,       /* no path to a trust anchor (or a CA in the path invalid/expired);
			       * out->verify_error holds the X509_V_ERR_* code */
	CERT_EXPIRED,         /* leaf notAfter < now */
	CERT_NOT_YET_VALID,   /* leaf notBefore > now */
	CERT_IAT_OUTSIDE,     /* iat given and outside [notBefore, notAfter] */
	CERT_REVOKED,         /* leaf serial listed by a counted CRL */
	CERT_CRL_MISSING,     /* require_crl set and no counted CRL covers the leaf's issuer */
	CERT_CA_LEAF,         /* leaf basicConstraints CA:TRUE */
	CERT_KEY,             /* leaf key not EC P-256 */
	CERT_KEY_USAGE,       /* keyUsage absent or without digitalSignature */
	CERT_POLICY,          /* certificatePolicies absent or lacking an accepted OID */
	CERT_NO_TNAUTH,       /* no TNAuthList extension */
	CERT_TNAUTH_INVALID,  /* TNAuthList malformed, too many entries, or present twice */
	CERT_TN_NOT_COVERED,  /* TNAuthList lists TNs/ranges and none covers orig_tn */
	CERT_CHECK_COUNT,
};

enum cert_mode {
	CERT_MODE_STRICT = 0, /* a failure rejects the certificate */
	CERT_MODE_WARN,       /* a failure is recorded in out->warned; the check passes */
	CERT_MODE_OFF,        /* the check is not run */
};

struct cert_policy {
	/* mode[c] for each check c (mode[CERT_OK] unused). CERT_CRL_MISSING applies only when
	 * require_crl is set; CERT_TN_NOT_COVERED only when orig_tn is given. */
	enum cert_mode mode[CERT_CHECK_COUNT];
	bool require_crl;
	/* Accepted certificate policy OIDs (dotted); n_policy_oids == 0 means the defaults,
	 * CERT_OID_SHAKEN_POLICY and CERT_OID_SHAKEN_POLICY_4. */
	const char *policy_oids[CERT_POLICY_OIDS_MAX];
	unsigned n_policy_oids;
};

/* Every check strict, require_crl false, default policy OIDs. */
void cert_policy_default(struct cert_policy *p);

struct cert_result {
	enum cert_check failed;  /* CERT_OK when the certificate passed */
	uint32_t warned;         /* bit (1u << c) for each check c that failed in warn mode */
	int verify_error;        /* X509_V_ERR_* of the chain build (0 when it succeeded) */
	char spc[CERT_SPC_MAX + 1]; /* first SPC of the TNAuthList, "" when none */
	struct cert_tnauth tnauth;  /* the decoded TNAuthList (n == 0 when absent/invalid) */
	int64_t not_before;      /* leaf validity, Unix seconds (0 when unreadable) */
	int64_t not_after;
	/* The leaf's public key (EC P-256, ready for ES256 verification), set only when
	 * failed == CERT_OK; owned by the result: cert_result_clear() frees it. */
	EVP_PKEY *pkey;
};

/*
 * Runs the STI checks on chain->certs[0] with chain->certs[1..] as untrusted intermediates:
 * CERT_UNTRUSTED ... CERT_TN_NOT_COVERED in enum order, each per pol->mode (pol NULL = the
 * defaults of cert_policy_default()). now: Unix seconds of the check. iat: the PASSporT's iat
 * for the CERT_IAT_OUTSIDE check, or 0 to skip it. orig_tn: canonical calling TN for the
 * coverage check, or NULL to skip it. Validity of the leaf is reported by the leaf checks;
 * a CA in the path outside its validity at now makes the chain CERT_UNTRUSTED.
 * out is fully (re)initialized (call cert_result_clear() when done with it).
 * Returns 0 when the checks ran (out->failed is the outcome), -EINVAL on misuse (chain empty,
 * store or out NULL, orig_tn not 1..TN_MAX digits), -ENOMEM. The caller maps a failure to SIP
 * 437 "Unsupported Credential" (PP_CHECK_CERT_INVALID).
 */
__attribute__((warn_unused_result))
int cert_sti_check(const struct cert_chain *chain, const struct cert_store *st, int64_t now,
		   int64_t iat, const char *orig_tn, const struct cert_policy *pol,
		   struct cert_result *out);

/* Frees out->pkey and zeroes out. Safe on a zeroed or cleared result. */
void cert_result_clear(struct cert_result *out);

/* A static name of a check, e.g. "certificate expired"; "" when out of range. */
const char *cert_check_str(enum cert_check c);

#endif
