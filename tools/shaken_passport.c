/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-passport: sign, verify and decode SHAKEN PASSporTs (RFC 8225, RFC 8588) carried in
 * SIP Identity header values (RFC 8224), offline; fetch an x5u certificate under the
 * ATIS-1000074 rules. See docs/tools.md.
 *
 * Exit status: 0 success (verify: TN-Validation-Passed), 1 failure (verify: any other
 * verdict), 2 usage error (bad option, unreadable file, bad argument).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "crypto/b64u.h"
#include "crypto/cert.h"
#include "crypto/identity.h"
#include "crypto/pp.h"
#include "crypto/tn.h"
#include "crypto/verify.h"
#include "dataplane/certcache/fetch.h"
#include "dataplane/sip/sip.h"
#include "hsm/hsm.h"
#include "hsm/p11.h"
#include "dataplane/certcache/x5u_fetch.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define VALUE_MAX (PP_IDENTITY_MAX + 64)  /* an Identity value read from argv or a file */
#define SIP_FILE_MAX SIP_MSG_MAX          /* a SIP message read from a file */
#define ALLOW_MAX 16                      /* --allow-host entries */
#define SP_HSM_MODULE "/usr/lib/softhsm/libsofthsm2.so" /* pkcs11: keys without module-path= */
#define SP_HSM_TIMEOUT_NS 5000000000ull   /* one HSM signature, queue to completion */

static const char *prog = "shaken-passport";

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- input helpers --------------------------------------------------------------------- */

/*
 * Reads a whole file ("-" is stdin) into buf (at most cap - 1 bytes, NUL-terminated).
 * Returns the length, -EFBIG when larger, -errno when it cannot be read.
 */
static long read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t n;
	int err = 0;

	if (f == NULL)
		return -errno;
	n = fread(buf, 1, cap - 1, f);
	if (ferror(f))
		err = -EIO;
	else if (n == cap - 1 && fgetc(f) != EOF)
		err = -EFBIG;
	if (f != stdin)
		fclose(f);
	if (err)
		return err;
	buf[n] = '\0';
	return (long)n;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * VALUE or @FILE into buf, trimmed of surrounding whitespace; a leading "Identity:" header
 * name is dropped so that a whole header line can be given. Returns the length or -errno.
 */
static long read_value(const char *arg, char *buf, size_t cap)
{
	size_t n, start = 0;
	long rc;

	if (arg[0] == '@') {
		rc = read_file(arg + 1, buf, cap);
		if (rc < 0)
			return rc;
		n = (size_t)rc;
	} else {
		n = strlen(arg);
		if (n >= cap)
			return -EFBIG;
		memcpy(buf, arg, n + 1);
	}
	if (memchr(buf, '\0', n) != NULL)
		return -EINVAL;
	while (n > 0 && is_ws(buf[n - 1]))
		n--;
	while (start < n && is_ws(buf[start]))
		start++;
	if (n - start >= 9 && strncasecmp(buf + start, "Identity:", 9) == 0) {
		start += 9;
		while (start < n && is_ws(buf[start]))
			start++;
	}
	memmove(buf, buf + start, n - start);
	n -= start;
	buf[n] = '\0';
	return (long)n;
}

static const char *file_arg(const char *arg)
{
	return arg[0] == '@' ? arg + 1 : arg;
}

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* A SIP message file, parsed. The buffer backs the slices of m. */
struct sip_file {
	char buf[SIP_FILE_MAX + 1];
	size_t len;
	struct sip_msg m;
};

static int load_sip(const char *arg, struct sip_file *sf)
{
	long rc = read_file(file_arg(arg), sf->buf, sizeof(sf->buf));

	if (rc < 0) {
		errmsg("cannot read SIP message %s: %s", file_arg(arg), strerror((int)-rc));
		return -1;
	}
	sf->len = (size_t)rc;
	if (sip_parse(&sf->m, sf->buf, sf->len) < 0) {
		errmsg("%s: not a well-formed SIP message", file_arg(arg));
		return -1;
	}
	return 0;
}

/* ---- sign ------------------------------------------------------------------------------ */

static void usage_sign(FILE *f)
{
	fprintf(f,
		"usage: %s sign --key KEY --x5u URL --attest A|B|C --orig TN --dest TN[,TN...]\n"
		"                [--origid UUID] [--iat SECONDS] [--sip @FILE [--emit-sip]]\n"
		"  Prints the full-form Identity header value of a signed SHAKEN PASSporT.\n"
		"  --key KEY      PEM EC P-256 private key file, or a PKCS#11 URI of a key on an\n"
		"                 HSM: 'pkcs11:token=T;object=L?pin-source=file:/path/pin'\n"
		"                 (PIN from pin-source= else $SHAKEND_HSM_PIN; module from\n"
		"                 module-path= else " SP_HSM_MODULE ")\n"
		"  --x5u URL      https URL of the signing certificate (also the info parameter)\n"
		"  --attest L     attestation level A, B or C\n"
		"  --orig TN      calling TN (any form: +1-215-555-1212)\n"
		"  --dest TNS     called TN(s), comma-separated; the option may repeat\n"
		"  --origid UUID  origination identifier (default: a random UUID v4)\n"
		"  --iat SECONDS  issued-at, seconds since the epoch (default: now)\n"
		"  --sip @FILE    take --orig/--dest, when not given, from this SIP request\n"
		"                 (P-Asserted-Identity else From; To else Request-URI)\n"
		"  --emit-sip     print the SIP request with the Identity header added instead\n",
		prog);
}

static int load_key(const char *path, EVP_PKEY **out)
{
	BIO *bio;
	EVP_PKEY *key;

	bio = BIO_new_file(path, "r");
	if (bio == NULL) {
		errmsg("cannot open key file %s", path);
		return -1;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL) {
		errmsg("%s: not a PEM private key", path);
		ERR_clear_error();
		return -1;
	}
	*out = key;
	return 0;
}

/* An HSM key: a one-token engine (one session) and the adapter context. */
struct hsm_key {
	struct hsm_pp_signer ctx;
};

static const char *hsm_strerror(int rc)
{
	switch (rc) {
	case -EINVAL:
		return "bad PKCS#11 URI (or no object=/id= to select the key)";
	case -ENODEV:
		return "the token cannot be used";
	case -ENOENT:
		return "no such key on the token";
	case -ENOSPC:
		return "too many tokens or keys";
	default:
		return strerror(-rc);
	}
}

static const char *p11_strerror(int rc)
{
	switch (rc) {
	case -EINVAL:
		return "bad PKCS#11 URI";
	case -ELIBACC:
		return "cannot load the PKCS#11 module (module-path=)";
	case -ENODEV:
		return "no such token";
	case -EACCES:
		return "PIN refused";
	case -ENOENT:
		return "no PIN: give pin-source=file:PATH in the URI or set SHAKEND_HSM_PIN";
	default:
		return strerror(-rc);
	}
}

/*
 * Opens the key named by the pkcs11: URI uri through the signing engine (hsm.h): the token is
 * selected by token=/serial=/slot-id=..., the key by object= and/or id=; the module comes from
 * module-path= (default SP_HSM_MODULE), the PIN from pin-source= else $SHAKEND_HSM_PIN (never
 * argv). Returns 0, or -1 (reported) with nothing left open: a key that cannot be used is a
 * usage error (exit 2), as an unreadable key file is.
 */
static int hsm_key_open(const char *uri, struct hsm_key *hk)
{
	struct hsm_engine_cfg cfg = {
		.module_path = SP_HSM_MODULE,
		.sessions = 1,
		.ring_size = 16,
		.default_timeout_ns = SP_HSM_TIMEOUT_NS,
		.op_timeout_ns = SP_HSM_TIMEOUT_NS,
		.max_attempts = 2,
	};
	struct hsm_engine *e = NULL;
	int rc;

	rc = hsm_engine_create(&cfg, &e);
	if (rc < 0) {
		errmsg("cannot create the HSM engine: %s", strerror(-rc));
		return -1;
	}
	rc = hsm_engine_add_token(e, uri);
	if (rc >= 0)
		rc = hsm_engine_start(e);
	if (rc >= 0)
		rc = hsm_engine_key_add(e, uri, &hk->ctx.key);
	if (rc < 0) {
		struct hsm_p11_tok *t = NULL;
		int orc;

		hsm_engine_destroy(e);
		/* the engine says little (a token it cannot open is only "out of service"):
		 * open the token directly for the precise reason */
		orc = rc == -EINVAL ? 0 : hsm_p11_open(uri, SP_HSM_MODULE, NULL, &t);
		hsm_p11_close(t);
		if (orc < 0)
			errmsg("PKCS#11 key %s: %s", uri, p11_strerror(orc));
		else
			errmsg("PKCS#11 key %s: %s", uri, hsm_strerror(rc));
		return -1;
	}
	hk->ctx.e = e;
	hk->ctx.timeout_ns = SP_HSM_TIMEOUT_NS;
	return 0;
}

static int random_uuid(char out[37])
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}

/* Appends the comma-separated TNs of list to dest (canonical). Returns 0 or -1 (reported). */
static int add_dests(const char *list, char dest[][TN_MAX + 1], unsigned *n)
{
	const char *p = list;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (*n >= PP_DEST_MAX) {
			errmsg("too many dest TNs (at most %d)", PP_DEST_MAX);
			return -1;
		}
		if (tn_canon(p, len, dest[*n]) < 0) {
			errmsg("not a telephone number: '%.*s'", (int)len, p);
			return -1;
		}
		(*n)++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"x5u", required_argument, NULL, 'x'},
		{"attest", required_argument, NULL, 'a'},
		{"orig", required_argument, NULL, 'o'},
		{"dest", required_argument, NULL, 'd'},
		{"origid", required_argument, NULL, 'u'},
		{"iat", required_argument, NULL, 'i'},
		{"sip", required_argument, NULL, 's'},
		{"emit-sip", no_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	static char token[PP_TOKEN_MAX + 1];
	static char value[PP_IDENTITY_MAX + 1];
	static char line[PP_IDENTITY_MAX + 16];
	static char out[SIP_MSG_MAX + 1];
	static struct sip_file sf;
	const char *key_path = NULL, *x5u = NULL, *origid = NULL, *sip_arg = NULL;
	char orig[TN_MAX + 1] = "", dest[PP_DEST_MAX][TN_MAX + 1];
	const char *dest_ptr[PP_DEST_MAX];
	char uuid[37];
	unsigned n_dest = 0;
	char attest = 0;
	int64_t iat = 0;
	bool have_iat = false, emit_sip = false;
	struct pp_passport pp;
	struct pp_signer signer;
	struct x5u_url url;
	const char *why;
	EVP_PKEY *key = NULL;
	struct hsm_key hk = { .ctx = { .e = NULL } };
	long len, vlen;
	int c, rc = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key_path = optarg;
			break;
		case 'x':
			x5u = optarg;
			break;
		case 'a':
			if (strlen(optarg) != 1 || optarg[0] < 'A' || optarg[0] > 'C') {
				errmsg("--attest must be A, B or C");
				return EXIT_USAGE;
			}
			attest = optarg[0];
			break;
		case 'o':
			if (tn_canon(optarg, strlen(optarg), orig) < 0) {
				errmsg("--orig: not a telephone number: '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'd':
			if (add_dests(optarg, dest, &n_dest) < 0)
				return EXIT_USAGE;
			break;
		case 'u':
			origid = optarg;
			break;
		case 'i':
			if (!parse_i64(optarg, &iat) || iat <= 0) {
				errmsg("--iat: not a positive number of seconds: '%s'", optarg);
				return EXIT_USAGE;
			}
			have_iat = true;
			break;
		case 's':
			sip_arg = optarg;
			break;
		case 'e':
			emit_sip = true;
			break;
		case 'h':
			usage_sign(stdout);
			return 0;
		default:
			usage_sign(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		errmsg("sign: unexpected argument '%s'", argv[optind]);
		usage_sign(stderr);
		return EXIT_USAGE;
	}
	if (emit_sip && sip_arg == NULL) {
		errmsg("--emit-sip needs --sip");
		return EXIT_USAGE;
	}
	if (sip_arg != NULL) {
		if (load_sip(sip_arg, &sf) < 0)
			return EXIT_USAGE;
		if (!sf.m.is_request) {
			errmsg("--sip: not a SIP request");
			return EXIT_USAGE;
		}
		if (orig[0] == '\0' && sip_calling_tn(&sf.m, orig) < 0) {
			errmsg("--sip: no calling TN in P-Asserted-Identity or From");
			return EXIT_USAGE;
		}
		if (n_dest == 0) {
			if (sip_called_tn(&sf.m, dest[0]) < 0) {
				errmsg("--sip: no called TN in To or the Request-URI");
				return EXIT_USAGE;
			}
			n_dest = 1;
		}
	}
	if (key_path == NULL || x5u == NULL || attest == 0 || orig[0] == '\0' || n_dest == 0) {
		errmsg("sign needs --key, --x5u, --attest, --orig and --dest");
		usage_sign(stderr);
		return EXIT_USAGE;
	}
	if (x5u_url_parse(x5u, strlen(x5u), &url, &why) < 0) {
		errmsg("--x5u: %s", why);
		return EXIT_USAGE;
	}
	if (origid == NULL) {
		if (random_uuid(uuid) < 0) {
			errmsg("no random bytes for the origid");
			return EXIT_FAIL;
		}
		origid = uuid;
	}
	if (!have_iat)
		iat = (int64_t)time(NULL);
	for (unsigned i = 0; i < n_dest; i++)
		dest_ptr[i] = dest[i];
	if (pp_shaken_init(&pp, x5u, attest, orig, dest_ptr, n_dest, iat, origid) < 0) {
		errmsg("cannot build the PASSporT (an origid or x5u too long?)");
		return EXIT_USAGE;
	}
	if (strncasecmp(key_path, "pkcs11:", 7) == 0) {
		if (hsm_key_open(key_path, &hk) < 0)
			return EXIT_USAGE;
		if (hsm_pp_signer(&signer, &hk.ctx) < 0) {
			errmsg("cannot set up the HSM signer");
			goto out;
		}
	} else {
		if (load_key(key_path, &key) < 0)
			return EXIT_USAGE;
		if (pp_signer_evp(&signer, key) < 0) {
			errmsg("%s: not an EC P-256 private key (ES256 needs one)", key_path);
			goto out;
		}
	}
	rc = EXIT_FAIL;
	len = pp_sign(&pp, &signer, token, sizeof(token));
	if (len < 0) {
		errmsg("signing failed: %s", strerror((int)-len));
		goto out;
	}
	vlen = pp_identity_build(value, sizeof(value), token, (size_t)len, &pp);
	if (vlen < 0) {
		errmsg("cannot build the Identity header: %s", strerror((int)-vlen));
		goto out;
	}
	if (emit_sip) {
		snprintf(line, sizeof(line), "Identity: %s", value);
		len = sip_add_hdr(&sf.m, line, out, sizeof(out));
		if (len < 0) {
			errmsg("cannot add the Identity header to the SIP message: %s",
			       strerror((int)-len));
			goto out;
		}
		fwrite(out, 1, (size_t)len, stdout);
	} else {
		printf("%s\n", value);
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	hsm_engine_destroy(hk.ctx.e);
	return rc;
}

/* ---- verify ---------------------------------------------------------------------------- */

/* Short, stable names for JSON and scripts. */
static const char *const check_names[] = {
	[PP_CHECK_OK] = "ok",
	[PP_CHECK_NO_IDENTITY] = "no-identity",
	[PP_CHECK_NO_SHAKEN] = "no-shaken",
	[PP_CHECK_SYNTAX] = "syntax",
	[PP_CHECK_INFO] = "info",
	[PP_CHECK_ALG] = "alg",
	[PP_CHECK_COMPACT] = "compact",
	[PP_CHECK_TOKEN] = "token",
	[PP_CHECK_TYP] = "typ",
	[PP_CHECK_PPT] = "ppt",
	[PP_CHECK_X5U] = "x5u",
	[PP_CHECK_X5U_INFO] = "x5u-info",
	[PP_CHECK_ATTEST] = "attest",
	[PP_CHECK_ORIGID] = "origid",
	[PP_CHECK_IAT] = "iat",
	[PP_CHECK_STALE] = "stale",
	[PP_CHECK_FUTURE] = "future",
	[PP_CHECK_ORIG] = "orig",
	[PP_CHECK_DEST] = "dest",
	[PP_CHECK_CERT_FETCH] = "cert-fetch",
	[PP_CHECK_CERT_INVALID] = "cert-invalid",
	[PP_CHECK_SIGNATURE] = "signature",
};
_Static_assert(sizeof(check_names) / sizeof(check_names[0]) == PP_CHECK_COUNT_,
	       "check_names out of step with enum pp_check");

static const char *const cert_names[] = {
	[CERT_OK] = "ok",
	[CERT_UNTRUSTED] = "untrusted",
	[CERT_EXPIRED] = "expired",
	[CERT_NOT_YET_VALID] = "not-yet-valid",
	[CERT_IAT_OUTSIDE] = "iat-outside-validity",
	[CERT_REVOKED] = "revoked",
	[CERT_CRL_MISSING] = "crl-missing",
	[CERT_CA_LEAF] = "ca-leaf",
	[CERT_KEY] = "key",
	[CERT_KEY_USAGE] = "key-usage",
	[CERT_POLICY] = "policy",
	[CERT_NO_TNAUTH] = "no-tnauthlist",
	[CERT_TNAUTH_INVALID] = "tnauthlist-invalid",
	[CERT_TN_NOT_COVERED] = "tn-not-covered",
};
_Static_assert(sizeof(cert_names) / sizeof(cert_names[0]) == CERT_CHECK_COUNT,
	       "cert_names out of step with enum cert_check");

/* Static details for pp_verify_fail (it keeps the pointer). */
static const char *const fetch_details[X5U_KIND_COUNT_] = {
	[X5U_OK] = "x5u fetched",
	[X5U_BAD_URL] = "x5u URL refused (ATIS-1000074 URL rules)",
	[X5U_BLOCKED] = "x5u host is a special-purpose address (SSRF guard)",
	[X5U_RESOLVE] = "x5u host did not resolve",
	[X5U_CONNECT] = "x5u server unreachable",
	[X5U_TLS] = "x5u TLS handshake or server verification failed",
	[X5U_TIMEOUT] = "x5u fetch timed out",
	[X5U_TOO_LARGE] = "x5u body too large",
	[X5U_HTTP_STATUS] = "x5u server answered other than 200",
	[X5U_INTERNAL] = "x5u fetch failed (internal error)",
};

static void usage_verify(FILE *f)
{
	fprintf(f,
		"usage: %s verify (--identity VALUE|@FILE | --sip @FILE) [--orig TN] [--dest TN]\n"
		"                [--cert PEM] [--trust PEM|DIR] [--crl PEM] [--crl-signer PEM]\n"
		"                [--now SECONDS] [--freshness SECONDS] [--allow-host HOST]...\n"
		"                [--ca-file PEM] [--json]\n"
		"  Runs the STI-VS procedure; exit 0 when TN-Validation-Passed, 1 otherwise,\n"
		"  2 on a usage error.\n"
		"  --identity V    an Identity header value (or @FILE holding one); may repeat\n"
		"  --sip @FILE     a SIP INVITE: its Identity headers, calling TN (P-Asserted-\n"
		"                  Identity else From) and called TN (To else Request-URI)\n"
		"  --orig/--dest   the calling/called TN to compare with (override --sip)\n"
		"  --cert PEM      the x5u certificate (chain) from a file; without it x5u is\n"
		"                  fetched over HTTPS (port 443/8443, no redirect, 64 KiB, 2 s,\n"
		"                  no loopback/private address unless --allow-host names it)\n"
		"  --trust PEM     STI-CA trust anchors (file or directory): run the STI\n"
		"                  certificate checks (chain, validity, TNAuthList, policy, CRL);\n"
		"                  without it only the signature is checked with the cert's key\n"
		"  --crl PEM       CRL(s) to check revocation with (needs --trust)\n"
		"  --crl-signer P  certificates allowed to sign CRLs for any issuer (the STI-PA)\n"
		"  --now S         the current time (default: now); --freshness S (default 60)\n"
		"  --allow-host H  a host whose special-purpose addresses may be fetched from\n"
		"  --ca-file PEM   TLS trust anchors for the x5u fetch (default: system store)\n"
		"  --json          print the verdict as one JSON object\n",
		prog);
}

struct verify_opts {
	const char *identity_args[8];
	unsigned n_identity_args;
	const char *sip_arg;
	const char *orig;
	const char *dest;
	const char *cert_path;
	const char *trust_path;
	const char *crl_path;
	const char *crl_signer_path;
	const char *ca_file;
	const char *allow[ALLOW_MAX];
	unsigned n_allow;
	int64_t now;
	int64_t freshness;
	bool json;
};

/* What the certificate stage found, for the report. */
struct cert_report {
	const char *source;        /* "file", "x5u" or NULL when no certificate was needed */
	bool checked;              /* STI checks ran (--trust) */
	const char *failure;       /* cert_names[] or a load failure token; NULL when none */
	const char *failure_text;
	enum x5u_kind fetch_kind;
	char fetch_detail[256];
	long http_status;
	char spc[CERT_SPC_MAX + 1];
	int64_t not_before, not_after;
	char subject[256];
};

static int verify_cert_stage(struct pp_verify *v, const struct verify_opts *o,
			     struct cert_report *cr)
{
	static char body[X5U_BODY_MAX + 1];
	struct cert_chain chain = {0};
	struct cert_store *store = NULL;
	struct cert_result res = {0};
	struct fetch_cfg fcfg = {0};
	struct fetch_result fr;
	struct x5u_result xr;
	EVP_PKEY *pub;
	int rc;

	if (o->cert_path != NULL) {
		cr->source = "file";
		rc = cert_chain_load_file(o->cert_path, &chain);
		if (rc < 0) {
			errmsg("--cert %s: %s", o->cert_path,
			       rc == -EINVAL ? "no certificate in it" : strerror(-rc));
			return -1;
		}
	} else {
		cr->source = "x5u";
		fcfg.x5u.allow_hosts = o->allow;
		fcfg.x5u.n_allow_hosts = o->n_allow;
		fcfg.x5u.ca_file = o->ca_file;
		rc = fetch_x5u_sync(&fcfg, v->x5u, body, sizeof(body), &fr);
		xr = fr.x5u;
		cr->fetch_kind = xr.kind;
		cr->http_status = xr.http_status;
		snprintf(cr->fetch_detail, sizeof(cr->fetch_detail), "%s", xr.detail);
		if (rc < 0) {
			cr->failure = "fetch";
			cr->failure_text = fetch_details[xr.kind];
			pp_verify_fail(v, PP_CHECK_CERT_FETCH, fetch_details[xr.kind]);
			return 0;
		}
		rc = cert_chain_load((const uint8_t *)body, xr.len, &chain);
		if (rc < 0) {
			cr->failure = "unparsable";
			cr->failure_text = "x5u body holds no certificate";
			pp_verify_fail(v, PP_CHECK_CERT_INVALID, "x5u body holds no certificate");
			return 0;
		}
	}
	X509_NAME_oneline(X509_get_subject_name(chain.certs[0]), cr->subject,
			  sizeof(cr->subject));
	if (o->trust_path == NULL) {
		cr->checked = false;
		fprintf(stderr,
			"%s: warning: no --trust given: the certificate was NOT checked (chain, "
			"validity, TNAuthList, policy, revocation); only the signature was "
			"verified with its key\n",
			prog);
		pub = X509_get0_pubkey(chain.certs[0]);
		pp_verify_end(v, pub);
		cert_chain_free(&chain);
		return 0;
	}
	cr->checked = true;
	rc = cert_store_create(&store);
	if (rc < 0) {
		errmsg("cannot create a trust store: %s", strerror(-rc));
		goto fail;
	}
	rc = cert_store_add_path(store, o->trust_path);
	if (rc < 0) {
		errmsg("--trust %s: %s", o->trust_path,
		       rc == -ENOENT ? "no certificate found" : strerror(-rc));
		goto fail;
	}
	if (o->crl_path != NULL) {
		rc = cert_store_add_path(store, o->crl_path);
		if (rc < 0) {
			errmsg("--crl %s: %s", o->crl_path,
			       rc == -ENOENT ? "no CRL found" : strerror(-rc));
			goto fail;
		}
	}
	if (o->crl_signer_path != NULL) {
		rc = cert_store_add_crl_signer_file(store, o->crl_signer_path);
		if (rc < 0) {
			errmsg("--crl-signer %s: %s", o->crl_signer_path, strerror(-rc));
			goto fail;
		}
	}
	rc = cert_sti_check(&chain, store, o->now, v->pp.iat,
			    v->pp.orig.kind == PP_ID_TN ? v->pp.orig.v : NULL, NULL, &res);
	if (rc < 0) {
		errmsg("certificate check could not run: %s", strerror(-rc));
		goto fail;
	}
	snprintf(cr->spc, sizeof(cr->spc), "%s", res.spc);
	cr->not_before = res.not_before;
	cr->not_after = res.not_after;
	if (res.failed != CERT_OK) {
		cr->failure = (unsigned)res.failed < CERT_CHECK_COUNT ? cert_names[res.failed] :
			      "?";
		cr->failure_text = cert_check_str(res.failed);
		pp_verify_fail(v, PP_CHECK_CERT_INVALID, cert_check_str(res.failed));
	} else {
		pp_verify_end(v, res.pkey);
	}
	cert_result_clear(&res);
	cert_store_free(store);
	cert_chain_free(&chain);
	return 0;
fail:
	cert_store_free(store);
	cert_chain_free(&chain);
	return -1;
}

static json_t *json_i64(int64_t v)
{
	return json_integer((json_int_t)v);
}

static void report_verify(const struct pp_verify *v, const struct cert_report *cr,
			  const struct verify_opts *o, const char *orig, const char *dest)
{
	unsigned code = v->verstat == PP_VERSTAT_PASSED ? 200 : (unsigned)v->code;
	const char *reason = pp_verdict_reason(v->code);
	const struct pp_passport *pp = &v->pp;
	const char *check = (unsigned)v->check < PP_CHECK_COUNT_ ? check_names[v->check] : "?";

	if (o->json) {
		json_t *j = json_object(), *d = json_array(), *c;
		char *s;

		json_object_set_new(j, "verstat", json_string(pp_verstat_str(v->verstat)));
		json_object_set_new(j, "code", json_integer(code));
		json_object_set_new(j, "reason", json_string(reason));
		json_object_set_new(j, "check", json_string(check));
		json_object_set_new(j, "detail", json_string(v->detail ? v->detail : ""));
		if (v->have_passport) {
			char a[2] = {pp->attest, 0};

			json_object_set_new(j, "attest", pp->attest ? json_string(a) : json_null());
			json_object_set_new(j, "orig", pp->orig.kind != PP_ID_NONE ?
					    json_string(pp->orig.v) : json_null());
			for (unsigned i = 0; i < pp->n_dest; i++)
				json_array_append_new(d, json_string(pp->dest[i].v));
			json_object_set_new(j, "dest", d);
			d = NULL;
			json_object_set_new(j, "origid", pp->present & PP_HAS_ORIGID ?
					    json_string(pp->origid) : json_null());
			json_object_set_new(j, "iat", pp->present & PP_HAS_IAT ?
					    json_i64(pp->iat) : json_null());
			json_object_set_new(j, "x5u", pp->present & PP_HAS_X5U ?
					    json_string(pp->x5u) : json_null());
			json_object_set_new(j, "ppt", json_string(pp->ppt_name));
		} else {
			json_object_set_new(j, "attest", json_null());
			json_object_set_new(j, "orig", json_null());
			json_object_set_new(j, "dest", json_null());
			json_object_set_new(j, "origid", json_null());
			json_object_set_new(j, "iat", json_null());
			json_object_set_new(j, "x5u", json_null());
		}
		json_decref(d);
		json_object_set_new(j, "compact", json_boolean(v->compact));
		json_object_set_new(j, "calling_tn", orig ? json_string(orig) : json_null());
		json_object_set_new(j, "called_tn", dest ? json_string(dest) : json_null());
		json_object_set_new(j, "now", json_i64(o->now));
		if (cr->source != NULL) {
			c = json_object();
			json_object_set_new(c, "source", json_string(cr->source));
			json_object_set_new(c, "checked", json_boolean(cr->checked));
			json_object_set_new(c, "failure", cr->failure ?
					    json_string(cr->failure) : json_null());
			if (cr->failure_text)
				json_object_set_new(c, "failure_text",
						    json_string(cr->failure_text));
			if (cr->subject[0])
				json_object_set_new(c, "subject", json_string(cr->subject));
			json_object_set_new(c, "spc", cr->spc[0] ? json_string(cr->spc) :
					    json_null());
			if (cr->not_after) {
				json_object_set_new(c, "not_before", json_i64(cr->not_before));
				json_object_set_new(c, "not_after", json_i64(cr->not_after));
			}
			if (strcmp(cr->source, "x5u") == 0) {
				json_object_set_new(c, "fetch", json_string(
					x5u_kind_str(cr->fetch_kind)));
				if (cr->fetch_detail[0])
					json_object_set_new(c, "fetch_detail",
							    json_string(cr->fetch_detail));
				if (cr->http_status)
					json_object_set_new(c, "http_status",
							    json_integer(cr->http_status));
			}
			json_object_set_new(j, "cert", c);
			if (!cr->checked && cr->failure == NULL)
				json_object_set_new(j, "warning", json_string(
					"certificate not checked (no --trust): signature only"));
		}
		s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	printf("verstat:  %s\n", pp_verstat_str(v->verstat));
	printf("code:     %u %s\n", code, reason);
	printf("check:    %s (%s)\n", check, v->detail ? v->detail : "");
	if (v->have_passport) {
		printf("attest:   %c\n", pp->attest ? pp->attest : '-');
		printf("orig:     %s\n", pp->orig.v);
		printf("dest:    ");
		for (unsigned i = 0; i < pp->n_dest; i++)
			printf(" %s", pp->dest[i].v);
		printf("\n");
		printf("origid:   %s\n", pp->origid);
		printf("iat:      %lld\n", (long long)pp->iat);
		printf("x5u:      %s\n", pp->x5u);
	}
	if (cr->source != NULL) {
		printf("cert:     from %s, %s", cr->source,
		       cr->checked ? "STI checks run" : "NOT checked (no --trust)");
		if (cr->failure)
			printf(", failed: %s (%s)", cr->failure,
			       cr->failure_text ? cr->failure_text : "");
		if (cr->spc[0])
			printf(", SPC %s", cr->spc);
		printf("\n");
		if (cr->fetch_detail[0])
			printf("fetch:    %s: %s\n", x5u_kind_str(cr->fetch_kind),
			       cr->fetch_detail);
	}
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"identity", required_argument, NULL, 'I'},
		{"sip", required_argument, NULL, 's'},
		{"orig", required_argument, NULL, 'o'},
		{"dest", required_argument, NULL, 'd'},
		{"cert", required_argument, NULL, 'c'},
		{"trust", required_argument, NULL, 't'},
		{"crl", required_argument, NULL, 'r'},
		{"crl-signer", required_argument, NULL, 'R'},
		{"now", required_argument, NULL, 'n'},
		{"freshness", required_argument, NULL, 'f'},
		{"allow-host", required_argument, NULL, 'A'},
		{"ca-file", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	static char values[8][VALUE_MAX];
	static struct sip_file sf;
	static struct pp_verify v;
	struct verify_opts o = {0};
	struct pp_slice slices[SIP_MAX_HDRS];
	struct pp_verify_params p = {0};
	struct cert_report cr = {0};
	char orig[TN_MAX + 1], dest[TN_MAX + 1];
	const char *orig_tn = NULL, *dest_tn = NULL;
	unsigned n = 0;
	bool have_now = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'I':
			if (o.n_identity_args == 8) {
				errmsg("at most 8 --identity values");
				return EXIT_USAGE;
			}
			o.identity_args[o.n_identity_args++] = optarg;
			break;
		case 's':
			o.sip_arg = optarg;
			break;
		case 'o':
			o.orig = optarg;
			break;
		case 'd':
			o.dest = optarg;
			break;
		case 'c':
			o.cert_path = optarg;
			break;
		case 't':
			o.trust_path = optarg;
			break;
		case 'r':
			o.crl_path = optarg;
			break;
		case 'R':
			o.crl_signer_path = optarg;
			break;
		case 'n':
			if (!parse_i64(optarg, &o.now) || o.now <= 0) {
				errmsg("--now: not a positive number of seconds: '%s'", optarg);
				return EXIT_USAGE;
			}
			have_now = true;
			break;
		case 'f':
			if (!parse_i64(optarg, &o.freshness) || o.freshness <= 0) {
				errmsg("--freshness: not a positive number of seconds: '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'A':
			if (o.n_allow == ALLOW_MAX) {
				errmsg("at most %d --allow-host", ALLOW_MAX);
				return EXIT_USAGE;
			}
			o.allow[o.n_allow++] = optarg;
			break;
		case 'C':
			o.ca_file = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			usage_verify(stdout);
			return 0;
		default:
			usage_verify(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		errmsg("verify: unexpected argument '%s'", argv[optind]);
		usage_verify(stderr);
		return EXIT_USAGE;
	}
	if (o.n_identity_args == 0 && o.sip_arg == NULL) {
		errmsg("verify needs --identity or --sip");
		usage_verify(stderr);
		return EXIT_USAGE;
	}
	if ((o.crl_path != NULL || o.crl_signer_path != NULL) && o.trust_path == NULL) {
		errmsg("--crl and --crl-signer need --trust");
		return EXIT_USAGE;
	}
	if (!have_now)
		o.now = (int64_t)time(NULL);

	for (unsigned i = 0; i < o.n_identity_args; i++) {
		long len = read_value(o.identity_args[i], values[i], sizeof(values[i]));

		if (len < 0) {
			errmsg("--identity %s: %s", o.identity_args[i], strerror((int)-len));
			return EXIT_USAGE;
		}
		slices[n].p = values[i];
		slices[n].len = (size_t)len;
		n++;
	}
	if (o.sip_arg != NULL) {
		const struct sip_hdr *h;
		int64_t date;

		if (load_sip(o.sip_arg, &sf) < 0)
			return EXIT_USAGE;
		for (h = sip_hdr_first(&sf.m, SIP_HDR_IDENTITY); h != NULL && n < SIP_MAX_HDRS;
		     h = sip_hdr_next(&sf.m, h)) {
			slices[n].p = h->value.p;
			slices[n].len = h->value.len;
			n++;
		}
		if (o.orig == NULL && sip_calling_tn(&sf.m, orig) > 0)
			orig_tn = orig;
		if (o.dest == NULL && sip_called_tn(&sf.m, dest) > 0)
			dest_tn = dest;
		if (sip_msg_date(&sf.m, &date) == 0)
			p.date = date;
	}
	if (o.orig != NULL) {
		if (tn_canon(o.orig, strlen(o.orig), orig) < 0) {
			errmsg("--orig: not a telephone number: '%s'", o.orig);
			return EXIT_USAGE;
		}
		orig_tn = orig;
	}
	if (o.dest != NULL) {
		if (tn_canon(o.dest, strlen(o.dest), dest) < 0) {
			errmsg("--dest: not a telephone number: '%s'", o.dest);
			return EXIT_USAGE;
		}
		dest_tn = dest;
	}
	p.now = o.now;
	p.freshness = o.freshness;
	p.orig_tn = orig_tn;
	p.dest_tn = dest_tn;

	rc = pp_verify_begin(&v, slices, n, &p);
	if (rc < 0) {
		errmsg("verification could not start: %s", strerror(-rc));
		return EXIT_USAGE;
	}
	if (rc == 1 && verify_cert_stage(&v, &o, &cr) < 0)
		return EXIT_USAGE;
	report_verify(&v, &cr, &o, orig_tn, dest_tn);
	return v.verstat == PP_VERSTAT_PASSED ? 0 : EXIT_FAIL;
}

/* ---- decode ---------------------------------------------------------------------------- */

static void usage_decode(FILE *f)
{
	fprintf(f,
		"usage: %s decode VALUE|@FILE\n"
		"  Prints the JOSE header, the claims, the signature and the Identity\n"
		"  parameters of an Identity header value (or a bare compact JWS) as JSON.\n"
		"  Nothing is verified; \"strict\" says whether the strict PASSporT parser\n"
		"  accepts the token.\n",
		prog);
}

static json_t *decode_part(const char *b64, size_t len, const char *name, json_t *errs)
{
	static uint8_t raw[PP_TOKEN_MAX];
	json_error_t jerr;
	json_t *j;
	long n;

	if (len == 0)
		return json_null();
	n = b64u_decode(raw, sizeof(raw), b64, len);
	if (n < 0) {
		json_array_append_new(errs, json_sprintf("%s: not base64url", name));
		return json_null();
	}
	j = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		json_array_append_new(errs, json_sprintf("%s: not JSON: %s", name, jerr.text));
		return json_stringn((const char *)raw, (size_t)n);
	}
	return j;
}

static json_t *slice_json(struct pp_slice s)
{
	return json_stringn(s.p, s.len);
}

static int cmd_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	static char value[VALUE_MAX];
	static uint8_t sigbuf[PP_TOKEN_MAX];
	struct pp_identity id;
	struct pp_token t;
	struct pp_passport pp;
	uint8_t sig[PP_SIG_LEN];
	const char *why = NULL, *tok;
	size_t tok_len;
	json_t *j, *errs, *params;
	long len, sl;
	char *s;
	int c, rc = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage_decode(stdout);
			return 0;
		default:
			usage_decode(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage_decode(stderr);
		return EXIT_USAGE;
	}
	len = read_value(argv[optind], value, sizeof(value));
	if (len < 0) {
		errmsg("%s: %s", argv[optind], strerror((int)-len));
		return EXIT_USAGE;
	}
	j = json_object();
	errs = json_array();
	params = json_object();
	if (memchr(value, ';', (size_t)len) != NULL) {
		if (pp_identity_parse(value, (size_t)len, &id, &why) < 0) {
			errmsg("not an Identity header value: %s", why ? why : "malformed");
			goto out;
		}
		tok = id.token.p;
		tok_len = id.token.len;
		if (id.present & PP_IDP_INFO)
			json_object_set_new(params, "info", slice_json(id.info));
		if (id.present & PP_IDP_INFO)
			json_object_set_new(params, "info_bracketed",
					    json_boolean(id.info_bracketed));
		if (id.present & PP_IDP_ALG)
			json_object_set_new(params, "alg", slice_json(id.alg));
		if (id.present & PP_IDP_PPT)
			json_object_set_new(params, "ppt", slice_json(id.ppt));
	} else {
		tok = value;
		tok_len = (size_t)len;
	}
	if (pp_token_split(tok, tok_len, &t) < 0) {
		errmsg("not a compact JWS (three base64url parts separated by dots)");
		goto out;
	}
	json_object_set_new(j, "compact", json_boolean(t.hdr_len == 0 && t.claims_len == 0));
	json_object_set_new(j, "header", decode_part(t.hdr, t.hdr_len, "header", errs));
	json_object_set_new(j, "claims", decode_part(t.claims, t.claims_len, "claims", errs));
	json_object_set_new(j, "signature", json_stringn(t.sig, t.sig_len));
	sl = b64u_decode(sigbuf, sizeof(sigbuf), t.sig, t.sig_len);
	json_object_set_new(j, "signature_bytes", sl >= 0 ? json_integer(sl) : json_null());
	json_object_set_new(j, "parameters", params);
	params = NULL;
	if (t.hdr_len == 0 && t.claims_len == 0) {
		json_object_set_new(j, "strict", json_string("compact form: claims come from SIP"));
	} else if (pp_parse(tok, tok_len, &t, &pp, sig, &why) < 0) {
		json_object_set_new(j, "strict", json_string(why ? why : "rejected"));
	} else {
		json_object_set_new(j, "strict", json_string("ok"));
	}
	json_object_set_new(j, "errors", errs);
	errs = NULL;
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s != NULL)
		printf("%s\n", s);
	free(s);
	rc = 0;
out:
	json_decref(params);
	json_decref(errs);
	json_decref(j);
	return rc;
}

/* ---- fetch ----------------------------------------------------------------------------- */

static void usage_fetch(FILE *f)
{
	fprintf(f,
		"usage: %s fetch URL [--allow-host HOST]... [--ca-file PEM] [--port N]...\n"
		"                [--max-body BYTES] [--timeout-ms MS] [--connect-timeout-ms MS]\n"
		"                [--check-only]\n"
		"  Fetches an x5u URL under the ATIS-1000074 rules and prints the body.\n"
		"  Exit 1 with \"KIND: detail\" on stderr when refused or failed (KIND: bad-url,\n"
		"  blocked, resolve, connect, tls, timeout, too-large, http-status, internal).\n"
		"  --check-only    run only the URL and address policy (no network)\n",
		prog);
}

static int cmd_fetch(int argc, char **argv)
{
	static const struct option opts[] = {
		{"allow-host", required_argument, NULL, 'A'},
		{"ca-file", required_argument, NULL, 'C'},
		{"port", required_argument, NULL, 'p'},
		{"max-body", required_argument, NULL, 'm'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"connect-timeout-ms", required_argument, NULL, 'T'},
		{"check-only", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	static char body[1024 * 1024 + 1];
	const char *allow[ALLOW_MAX];
	uint16_t ports[16];
	struct x5u_policy pol = {0};
	struct x5u_result res;
	struct x5u_url u;
	const char *why = "";
	bool check_only = false;
	int64_t v;
	int c, rc;

	pol.allow_hosts = allow;
	pol.ports = ports;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'A':
			if (pol.n_allow_hosts == ALLOW_MAX) {
				errmsg("at most %d --allow-host", ALLOW_MAX);
				return EXIT_USAGE;
			}
			allow[pol.n_allow_hosts++] = optarg;
			break;
		case 'C':
			pol.ca_file = optarg;
			break;
		case 'p':
			if (!parse_i64(optarg, &v) || v < 1 || v > 65535 || pol.n_ports == 16) {
				errmsg("--port: not a port (or more than 16): '%s'", optarg);
				return EXIT_USAGE;
			}
			ports[pol.n_ports++] = (uint16_t)v;
			break;
		case 'm':
			if (!parse_i64(optarg, &v) || v < 1 || v > (int64_t)sizeof(body) - 1) {
				errmsg("--max-body: 1..%zu bytes", sizeof(body) - 1);
				return EXIT_USAGE;
			}
			pol.max_body = (size_t)v;
			break;
		case 't':
		case 'T':
			if (!parse_i64(optarg, &v) || v < 1 || v > 600000) {
				errmsg("--%s: 1..600000 ms", c == 't' ? "timeout-ms" :
				       "connect-timeout-ms");
				return EXIT_USAGE;
			}
			if (c == 't')
				pol.timeout_ms = (long)v;
			else
				pol.connect_timeout_ms = (long)v;
			break;
		case 'c':
			check_only = true;
			break;
		case 'h':
			usage_fetch(stdout);
			return 0;
		default:
			usage_fetch(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage_fetch(stderr);
		return EXIT_USAGE;
	}
	if (check_only) {
		rc = x5u_url_check(&pol, argv[optind], &u, &why);
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", rc == -EACCES ? "blocked" : "bad-url", why);
			return EXIT_FAIL;
		}
		printf("ok host=%s port=%u\n", u.host, (unsigned)u.port);
		return 0;
	}
	/* the tool's --max-body may exceed the fetcher's default buffer; 64 KiB otherwise */
	rc = x5u_fetch(&pol, argv[optind], body, sizeof(body), &res);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", x5u_kind_str(res.kind), res.detail);
		return EXIT_FAIL;
	}
	fwrite(body, 1, res.len, stdout);
	return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"sign", cmd_sign, "sign a SHAKEN PASSporT, print the Identity header value"},
	{"verify", cmd_verify, "verify an Identity header (or a SIP INVITE), print the verdict"},
	{"decode", cmd_decode, "print an Identity header value's parts as JSON"},
	{"fetch", cmd_fetch, "fetch an x5u URL under the ATIS-1000074 rules"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s COMMAND [OPTIONS]   (%s COMMAND --help for its options)\n", prog,
		prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			errmsg("libcurl initialization failed");
			return EXIT_FAIL;
		}
		optind = 1;
		rc = commands[i].fn(argc - 1, argv + 1);
		curl_global_cleanup();
		return rc;
	}
	errmsg("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
