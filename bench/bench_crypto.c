/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-bench crypto: on one core,
 *  - PASSporT build + sign (pp_shaken_init, JSON, base64url, SHA-256, ES256, token; the signer
 *    set up once with pp_signer_evp_open, as a long-lived STI-AS holds it) beside a
 *    raw OpenSSL ECDSA P-256 sign of a 32-byte digest with a context set up once (the
 *    `openssl speed` way: the fastest an application can call OpenSSL);
 *  - verification (Identity header parse, token decode, strict JSON parse, every claim check,
 *    SHA-256, ES256 verify with the key prepared once by pp_es256_pub_init, as the certificate
 *    cache holds it) beside a raw OpenSSL verify of a digest, context set up once;
 *  - SIP parse of realistic INVITEs (absolute rate; target 3 M/s per core).
 */
#include "bench/bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "crypto/identity.h"
#include "crypto/pp.h"
#include "crypto/verify.h"
#include "dataplane/sip/sip.h"

#define ORIG "12155551212"
#define DEST "12125551213"
#define X5U "https://cert.example.org/passport.cer"
#define ORIGID "123e4567-e89b-12d3-a456-426655440000"
#define IAT 1443208345

struct raw_ctx {
	EVP_PKEY_CTX *ctx;
	uint8_t digest[32];
	uint8_t der[80];
	size_t der_len;
};

static int raw_sign(void *arg)
{
	struct raw_ctx *r = arg;
	uint8_t der[80]; /* not r->der: raw_verify checks that one */
	size_t len = sizeof(der);
	return EVP_PKEY_sign(r->ctx, der, &len, r->digest, sizeof(r->digest)) == 1 ? 0 : -1;
}

static int raw_verify(void *arg)
{
	struct raw_ctx *r = arg;
	return EVP_PKEY_verify(r->ctx, r->der, r->der_len, r->digest, sizeof(r->digest)) == 1 ? 0
											       : -1;
}

struct sign_ctx {
	struct pp_signer signer;
	int64_t iat;
	char token[PP_TOKEN_MAX];
	char identity[PP_TOKEN_MAX + 2 * PP_X5U_MAX];
};

/* What an STI-AS does per call: build, sign, and format the Identity header. */
static int pp_build_sign(void *arg)
{
	struct sign_ctx *s = arg;
	struct pp_passport pp;
	const char *dest[] = {DEST};
	if (pp_shaken_init(&pp, X5U, 'A', ORIG, dest, 1, s->iat++, ORIGID) != 0)
		return -1;
	long n = pp_sign(&pp, &s->signer, s->token, sizeof(s->token));
	if (n < 0)
		return -1;
	return pp_identity_build(s->identity, sizeof(s->identity), s->token, (size_t)n, &pp) < 0
		       ? -1
		       : 0;
}

struct verify_ctx {
	struct pp_es256_pub pub; /* prepared once, as the certificate cache holds it */
	struct pp_verify_params params;
	struct pp_slice identity;
	struct pp_verify v;
};

/* What an STI-VS does per call with a warm certificate cache: both phases. */
static int pp_verify_call(void *arg)
{
	struct verify_ctx *c = arg;
	if (pp_verify_begin(&c->v, &c->identity, 1, &c->params) != 1)
		return -1;
	pp_verify_end_pub(&c->v, &c->pub);
	return c->v.verstat == PP_VERSTAT_PASSED ? 0 : -1;
}

static const char invite_fmt[] =
	"INVITE sip:+12125551213@sbc.example.net:5060;user=phone SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---%08x;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice\" <sip:+12155551212@198.51.100.7;user=phone>;tag=4fa3%08x\r\n"
	"To: <sip:+12125551213@sbc.example.net;user=phone>\r\n"
	"Call-ID: %08x-3c2a-4b7e-9d1f-7a4c2e1b9f00@192.0.2.10\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:+12155551212@192.0.2.10:5060;transport=udp>\r\n"
	"P-Asserted-Identity: <sip:+12155551212@198.51.100.7;user=phone>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK\r\n"
	"Supported: 100rel, timer\r\n"
	"Session-Expires: 1800\r\n"
	"User-Agent: carrier-sbc/4.2\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: %u\r\n"
	"\r\n"
	"%s";

static const char sdp[] = "v=0\r\n"
			  "o=- 3912345678 3912345678 IN IP4 192.0.2.10\r\n"
			  "s=-\r\n"
			  "c=IN IP4 192.0.2.10\r\n"
			  "t=0 0\r\n"
			  "m=audio 20000 RTP/AVP 0 8 18 101\r\n"
			  "a=rtpmap:0 PCMU/8000\r\n"
			  "a=rtpmap:8 PCMA/8000\r\n"
			  "a=rtpmap:18 G729/8000\r\n"
			  "a=rtpmap:101 telephone-event/8000\r\n"
			  "a=fmtp:101 0-15\r\n"
			  "a=ptime:20\r\n"
			  "a=sendrecv\r\n";

#define N_INVITES 64

struct parse_ctx {
	char msg[N_INVITES][2048];
	size_t len[N_INVITES];
	unsigned i;
	unsigned long headers;
};

static int sip_parse_one(void *arg)
{
	struct parse_ctx *p = arg;
	unsigned i = p->i++ % N_INVITES;
	struct sip_msg m;
	if (sip_parse(&m, p->msg[i], p->len[i]) != 0)
		return -1;
	p->headers += m.n_hdrs;
	return 0;
}

int bench_crypto_main(const struct bench_opts *o, json_t *out)
{
	int rc = -1;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct raw_ctx raw = {0};
	static struct sign_ctx sc;
	static struct verify_ctx vc;
	static struct parse_ctx pc;
	double r_base, r_case;

	if (!key)
		goto out;
	memset(raw.digest, 0x5a, sizeof(raw.digest));
	raw.ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!raw.ctx || EVP_PKEY_sign_init(raw.ctx) != 1 || raw_sign(&raw) != 0)
		goto out;
	raw.der_len = sizeof(raw.der);
	if (EVP_PKEY_sign(raw.ctx, raw.der, &raw.der_len, raw.digest, 32) != 1)
		goto out;

	/* build + sign */
	sc.iat = IAT;
	if (pp_signer_evp_open(&sc.signer, key) != 0)
		goto out;
	if (bench_pair(o, raw_sign, &raw, &r_base, pp_build_sign, &sc, &r_case) != 0)
		goto out;
	bench_report(o, out, "passport_build_sign", r_case, "openssl_ecdsa_sign", r_base, 0.9);

	/* verify: one token signed now, checked at its iat */
	sc.iat = IAT;
	if (pp_build_sign(&sc) != 0)
		goto out;
	if (pp_es256_pub_init(&vc.pub, key) != 0)
		goto out;
	vc.identity = (struct pp_slice){sc.identity, strlen(sc.identity)};
	vc.params = (struct pp_verify_params){
		.now = IAT, .freshness = 60, .orig_tn = ORIG, .dest_tn = DEST};
	if (EVP_PKEY_verify_init(raw.ctx) != 1)
		goto out;
	if (pp_verify_call(&vc) != 0) {
		fprintf(stderr, "shaken-bench crypto: verification of the bench token: %s (%s)\n",
			pp_verstat_str(vc.v.verstat), vc.v.detail);
		goto out;
	}
	if (bench_pair(o, raw_verify, &raw, &r_base, pp_verify_call, &vc, &r_case) != 0)
		goto out;
	bench_report(o, out, "passport_verify", r_case, "openssl_ecdsa_verify", r_base, 0.9);

	/* SIP parse */
	for (unsigned i = 0; i < N_INVITES; i++) {
		int n = snprintf(pc.msg[i], sizeof(pc.msg[i]), invite_fmt, i * 2654435761u, i,
				 i * 40503u, (unsigned)strlen(sdp), sdp);
		if (n < 0 || (size_t)n >= sizeof(pc.msg[i]))
			goto out;
		pc.len[i] = (size_t)n;
	}
	double r_parse = bench_rate(o, sip_parse_one, &pc);
	if (r_parse < 0)
		goto out;
	bench_report(o, out, "sip_parse_invite", r_parse, NULL, 0, 3e6);
	json_object_set_new(json_object_get(out, "sip_parse_invite"), "invite_bytes",
			    json_integer((json_int_t)pc.len[0]));
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "shaken-bench crypto: an operation failed\n");
	pp_signer_close(&sc.signer);
	pp_es256_pub_release(&vc.pub);
	EVP_PKEY_CTX_free(raw.ctx);
	EVP_PKEY_free(key);
	return rc;
}
