/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PASSporT build and parse: RFC 8225 §9 serialization known answers, the draft appendix
 * signing input, div and base PASSporTs, strict parsing (every malformed shape rejected),
 * round trips, sign then parse then verify.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "crypto/b64u.h"
#include "crypto/pp.h"

#ifndef SHAKEND_VECTORS
#define SHAKEND_VECTORS "tests/vectors"
#endif

#define X5U "https://cert.example.org/passport.cer"
#define ORIGID "123e4567-e89b-12d3-a456-426655440000"
#define SHAKEN_HDR "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}"
#define SHAKEN_CLAIMS                                                                              \
	"{\"attest\":\"A\",\"dest\":{\"tn\":[\"12125551213\"]},\"iat\":1443208345,"                \
	"\"orig\":{\"tn\":\"12155551212\"},\"origid\":\"" ORIGID "\"}"

static const char *const dest1[] = {"12125551213"};

static void shaken_rfc(struct pp_passport *pp)
{
	cr_assert_eq(pp_shaken_init(pp, X5U, 'A', "12155551212", dest1, 1, 1443208345, ORIGID), 0);
}

static size_t read_vector(const char *name, char *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "%s/%s", SHAKEND_VECTORS, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	cr_assert(n > 0 && n < cap);
	return n;
}

static void assert_json(long n, const char *buf, const char *want)
{
	cr_assert_eq(n, (long)strlen(want), "length %ld, want %zu: %.*s", n, strlen(want),
		     n > 0 ? (int)n : 0, buf);
	cr_assert(memcmp(buf, want, (size_t)n) == 0, "got %.*s", (int)n, buf);
}

/* ---- building ---- */

Test(pp, rfc8225_shaken_serialization)
{
	struct pp_passport pp;
	char buf[PP_JSON_MAX];

	shaken_rfc(&pp);
	assert_json(pp_header_json(&pp, buf, sizeof buf), buf, SHAKEN_HDR);
	assert_json(pp_claims_json(&pp, buf, sizeof buf), buf, SHAKEN_CLAIMS);
}

Test(pp, draft_appendix_signing_input)
{
	struct pp_passport pp;
	char want[1024], buf[1024];
	size_t wn = read_vector("passport-draft-appendix.input", want, sizeof want);

	memset(&pp, 0, sizeof pp);
	strcpy(pp.alg, "ES256");
	strcpy(pp.typ, "passport");
	strcpy(pp.x5u, X5U);
	cr_assert_eq(pp_id_set(&pp.dest[0], PP_ID_URI, "sip:alice@example.com"), 0);
	pp.n_dest = 1;
	pp.iat = 1471375418;
	cr_assert_eq(pp_id_set(&pp.orig, PP_ID_TN, "12155551212"), 0);
	pp.present = PP_HAS_ALG | PP_HAS_TYP | PP_HAS_X5U | PP_HAS_DEST | PP_HAS_IAT | PP_HAS_ORIG;

	assert_json(pp_header_json(&pp, buf, sizeof buf), buf,
		    "{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}");
	assert_json(pp_claims_json(&pp, buf, sizeof buf), buf,
		    "{\"dest\":{\"uri\":[\"sip:alice@example.com\"]},\"iat\":1471375418,"
		    "\"orig\":{\"tn\":\"12155551212\"}}");
	long n = pp_signing_input(&pp, buf, sizeof buf);
	cr_assert_eq(n, (long)wn);
	cr_assert(memcmp(buf, want, wn) == 0, "signing input differs from the vector");
}

Test(pp, div_serialization)
{
	static const char *const d[] = {"12155551214"};
	struct pp_passport pp;
	char buf[PP_JSON_MAX];

	cr_assert_eq(pp_div_init(&pp, X5U, "12155551212", d, 1, "12155551213", 1443208345), 0);
	cr_assert_eq(pp.ppt, PP_PPT_DIV);
	assert_json(pp_header_json(&pp, buf, sizeof buf), buf,
		    "{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}");
	assert_json(pp_claims_json(&pp, buf, sizeof buf), buf,
		    "{\"dest\":{\"tn\":[\"12155551214\"]},\"div\":{\"tn\":\"12155551213\"},"
		    "\"iat\":1443208345,\"orig\":{\"tn\":\"12155551212\"}}");
}

Test(pp, base_passport_for_compact_form)
{
	struct pp_passport pp;
	char buf[PP_JSON_MAX];

	shaken_rfc(&pp);
	pp.present &= ~(uint32_t)(PP_HAS_PPT | PP_HAS_ATTEST | PP_HAS_ORIGID);
	assert_json(pp_header_json(&pp, buf, sizeof buf), buf,
		    "{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}");
	assert_json(pp_claims_json(&pp, buf, sizeof buf), buf,
		    "{\"dest\":{\"tn\":[\"12125551213\"]},\"iat\":1443208345,"
		    "\"orig\":{\"tn\":\"12155551212\"}}");
}

Test(pp, dest_tn_before_uri_and_several_entries)
{
	static const char *const d[] = {"12125551213", "12125551214"};
	struct pp_passport pp;
	char buf[PP_JSON_MAX];

	cr_assert_eq(pp_shaken_init(&pp, X5U, 'B', "12155551212", d, 2, 0, ORIGID), 0);
	/* a uri entry first in the array: still written after the tn entries */
	pp.dest[2] = pp.dest[1];
	pp.dest[1] = pp.dest[0];
	cr_assert_eq(pp_id_set(&pp.dest[0], PP_ID_URI, "sip:bob@example.com"), 0);
	pp.n_dest = 3;
	assert_json(
	    pp_claims_json(&pp, buf, sizeof buf), buf,
	    "{\"attest\":\"B\",\"dest\":{\"tn\":[\"12125551213\",\"12125551214\"],"
	    "\"uri\":[\"sip:bob@example.com\"]},\"iat\":0,\"orig\":{\"tn\":\"12155551212\"},"
	    "\"origid\":\"" ORIGID "\"}");
}

Test(pp, other_ppt_and_uri_orig)
{
	struct pp_passport pp;
	char buf[PP_JSON_MAX];

	shaken_rfc(&pp);
	pp.ppt = PP_PPT_OTHER;
	strcpy(pp.ppt_name, "rcd");
	cr_assert_eq(pp_id_set(&pp.orig, PP_ID_URI, "sip:carol@example.com"), 0);
	assert_json(pp_header_json(&pp, buf, sizeof buf), buf,
		    "{\"alg\":\"ES256\",\"ppt\":\"rcd\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}");
	long n = pp_claims_json(&pp, buf, sizeof buf);
	cr_assert_gt(n, 0);
	static const char want[] = "\"orig\":{\"uri\":\"sip:carol@example.com\"}";
	cr_assert_not_null(memmem(buf, (size_t)n, want, strlen(want)), "%.*s", (int)n, buf);
	pp.ppt_name[0] = 0;
	cr_assert_eq(pp_header_json(&pp, buf, sizeof buf), -EINVAL, "ppt without a name");
}

Test(pp, init_rejects_bad_values)
{
	static const char *const two[] = {"1212", "12a"};
	static const char *const many[PP_DEST_MAX + 1] = {"1",	"2",  "3",  "4",  "5",	"6",
							  "7",	"8",  "9",  "10", "11", "12",
							  "13", "14", "15", "16", "17"};
	char longx5u[PP_X5U_MAX + 2];
	struct pp_passport pp;

	memset(longx5u, 'a', sizeof longx5u - 1);
	longx5u[sizeof longx5u - 1] = 0;
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'D', "1215", dest1, 1, 1, ORIGID), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'a', "1215", dest1, 1, 1, ORIGID), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "+1215", dest1, 1, 1, ORIGID), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "1234567890123456", dest1, 1, 1, ORIGID),
		     -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "", dest1, 1, 1, ORIGID), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "1215", dest1, 0, 1, ORIGID), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "1215", two, 2, 1, ORIGID), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "1215", many, PP_DEST_MAX, 1, ORIGID), 0);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "1215", many, PP_DEST_MAX + 1, 1, ORIGID),
		     -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "1215", dest1, 1, -1, ORIGID), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "1215", dest1, 1, 1, ""), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, X5U, 'A', "1215", dest1, 1, 1, NULL), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, "", 'A', "1215", dest1, 1, 1, ORIGID), -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, "https://x/\"a", 'A', "1215", dest1, 1, 1, ORIGID),
		     -EINVAL);
	cr_assert_eq(pp_shaken_init(&pp, longx5u, 'A', "1215", dest1, 1, 1, ORIGID), -EINVAL);
	longx5u[PP_X5U_MAX] = 0;
	cr_assert_eq(pp_shaken_init(&pp, longx5u, 'A', "1215", dest1, 1, 1, ORIGID), 0);
	cr_assert_eq(
	    pp_shaken_init(&pp, X5U, 'A', "1215", dest1, 1, 1,
			   "0123456789012345678901234567890123456789012345678901234567890123"),
	    -EINVAL, "origid of 64 bytes");
	cr_assert_eq(pp.present, 0, "a failed init leaves pp zeroed");
	cr_assert_eq(pp_div_init(&pp, X5U, "1215", dest1, 1, "12x", 1), -EINVAL);
	cr_assert_eq(pp_div_init(&pp, X5U, "1215", dest1, 1, NULL, 1), -EINVAL);
}

Test(pp, id_set_checks)
{
	struct pp_id id;

	cr_assert_eq(pp_id_set(&id, PP_ID_TN, "123456789012345"), 0);
	cr_assert_eq(id.len, 15);
	cr_assert_eq(pp_id_set(&id, PP_ID_TN, "1234567890123456"), -EINVAL);
	cr_assert_eq(pp_id_set(&id, PP_ID_TN, "12 34"), -EINVAL);
	cr_assert_eq(pp_id_set(&id, PP_ID_URI, "sip:\xc3\xa9@example.com"), 0);
	cr_assert_eq(pp_id_set(&id, PP_ID_URI, "sip:\xc3@example.com"), -EINVAL, "bad UTF-8");
	cr_assert_eq(pp_id_set(&id, PP_ID_URI, "sip:a\\b"), -EINVAL);
	cr_assert_eq(pp_id_set(&id, PP_ID_URI, "sip:a\nb"), -EINVAL);
	cr_assert_eq(pp_id_set(&id, PP_ID_URI, ""), -EINVAL);
	cr_assert_eq(pp_id_set(&id, PP_ID_NONE, "1"), -EINVAL);
	cr_assert_eq(id.kind, PP_ID_NONE);
}

Test(pp, builder_rejects_unserializable)
{
	struct pp_passport pp;
	char buf[PP_JSON_MAX];

	shaken_rfc(&pp);
	pp.present &= ~(uint32_t)PP_HAS_ALG;
	cr_assert_eq(pp_header_json(&pp, buf, sizeof buf), -EINVAL, "no alg");
	cr_assert_eq(pp_signing_input(&pp, buf, sizeof buf), -EINVAL);

	shaken_rfc(&pp);
	strcpy(pp.x5u, "https://a/\"b");
	cr_assert_eq(pp_header_json(&pp, buf, sizeof buf), -EINVAL, "a quote in x5u");
	cr_assert_eq(pp_header_json(&pp, buf, 3), -EINVAL, "-EINVAL wins over -ENOSPC");

	shaken_rfc(&pp);
	memset(pp.typ, 'x', sizeof pp.typ);
	cr_assert_eq(pp_header_json(&pp, buf, sizeof buf), -EINVAL, "typ not NUL-terminated");

	shaken_rfc(&pp);
	pp.attest = 'D';
	cr_assert_eq(pp_claims_json(&pp, buf, sizeof buf), -EINVAL, "attest D");

	shaken_rfc(&pp);
	pp.n_dest = 0;
	cr_assert_eq(pp_claims_json(&pp, buf, sizeof buf), -EINVAL, "no dest entry");

	shaken_rfc(&pp);
	pp.iat = -1;
	cr_assert_eq(pp_claims_json(&pp, buf, sizeof buf), -EINVAL, "negative iat");
	cr_assert_eq(pp_signing_input(&pp, buf, sizeof buf), -EINVAL);

	shaken_rfc(&pp);
	strcpy(pp.orig.v, "1215x");
	cr_assert_eq(pp_claims_json(&pp, buf, sizeof buf), -EINVAL, "tn with a letter");

	shaken_rfc(&pp);
	strcpy(pp.origid, "a\tb");
	cr_assert_eq(pp_claims_json(&pp, buf, sizeof buf), -EINVAL, "control character");
}

Test(pp, builder_no_space)
{
	struct pp_passport pp;
	char buf[PP_TOKEN_MAX];
	long full;

	shaken_rfc(&pp);
	cr_assert_eq(pp_header_json(&pp, buf, strlen(SHAKEN_HDR) - 1), -ENOSPC);
	cr_assert_eq(pp_header_json(&pp, buf, strlen(SHAKEN_HDR)), (long)strlen(SHAKEN_HDR));
	cr_assert_eq(pp_claims_json(&pp, buf, strlen(SHAKEN_CLAIMS) - 1), -ENOSPC);
	full = pp_signing_input(&pp, buf, sizeof buf);
	cr_assert_gt(full, 0);
	for (long cap = 0; cap < full; cap++)
		cr_assert_eq(pp_signing_input(&pp, buf, (size_t)cap), -ENOSPC, "cap %ld", cap);
	cr_assert_eq(pp_signing_input(&pp, buf, (size_t)full), full);

	uint8_t sig[PP_SIG_LEN] = {0};
	cr_assert_eq(pp_token_finish(buf, (size_t)full + 86, (size_t)full, sig), -ENOSPC);
	cr_assert_eq(pp_token_finish(buf, (size_t)full + 87, (size_t)full, sig), full + 87);
	cr_assert_eq(pp_token_finish(buf, (size_t)full, (size_t)full, sig), -ENOSPC);
}

Test(pp, oversize_claims_rejected_by_signing_input)
{
	struct pp_passport pp;
	char uri[PP_URI_MAX + 1];
	static char buf[16384];

	shaken_rfc(&pp);
	memset(uri, 'u', PP_URI_MAX);
	memcpy(uri, "sip:", 4);
	uri[PP_URI_MAX] = 0;
	for (unsigned k = 0; k < PP_DEST_MAX; k++)
		cr_assert_eq(pp_id_set(&pp.dest[k], PP_ID_URI, uri), 0);
	pp.n_dest = PP_DEST_MAX;
	cr_assert_gt(pp_claims_json(&pp, buf, sizeof buf), PP_JSON_MAX);
	cr_assert_eq(pp_signing_input(&pp, buf, sizeof buf), -EINVAL);
}

/* ---- parsing: accepted shapes ---- */

static int parse_h(const char *j, struct pp_passport *pp, const char **why)
{
	memset(pp, 0, sizeof *pp);
	return pp_header_parse(j, strlen(j), pp, why);
}

static int parse_c(const char *j, struct pp_passport *pp, const char **why)
{
	memset(pp, 0, sizeof *pp);
	return pp_claims_parse(j, strlen(j), pp, why);
}

Test(pp, parse_rfc_strings)
{
	struct pp_passport pp, want;
	const char *why = "unset";

	shaken_rfc(&want);
	cr_assert_eq(parse_h(SHAKEN_HDR, &pp, &why), 0, "%s", why);
	cr_assert_null(why);
	cr_assert_eq(pp_claims_parse(SHAKEN_CLAIMS, strlen(SHAKEN_CLAIMS), &pp, &why), 0, "%s",
		     why);
	cr_assert(pp_passport_equal(&pp, &want));
	cr_assert_str_eq(pp.alg, "ES256");
	cr_assert_eq(pp.ppt, PP_PPT_SHAKEN);
	cr_assert_str_eq(pp.ppt_name, "shaken");
	cr_assert_eq(pp.attest, 'A');
	cr_assert_eq(pp.iat, 1443208345);
	cr_assert_eq(pp.orig.kind, PP_ID_TN);
	cr_assert_eq(pp.orig.len, 11);
	cr_assert_str_eq(pp.dest[0].v, "12125551213");
}

Test(pp, parse_whitespace_unknown_members_and_escapes)
{
	struct pp_passport pp;
	const char *why = NULL;
	const char *c =
	    " {\n\t\"rcd\" : {\"nam\":\"Alice\",\"jcd\":[1,2.5e3,-0.1,true,false,null,{}],"
	    "\"x\":[]} ,\"attest\":\"\\u0043\",\"orig\":{\"uri\":\"sip:\\u00e9\\ud83d\\ude00"
	    "@ex\\/a\"},\r\n\"dest\":{\"uri\":[\"sip:b@x\"],\"tn\":[\"1\",\"2\"]},"
	    "\"iat\":0,\"crn\":\"a\\\"b\\\\c\\b\\f\\n\\r\\t\"} \n";

	cr_assert_eq(parse_c(c, &pp, &why), 0, "%s", why);
	cr_assert_eq(pp.attest, 'C');
	cr_assert_str_eq(pp.orig.v, "sip:\xc3\xa9\xf0\x9f\x98\x80@ex/a");
	cr_assert_eq(pp.orig.kind, PP_ID_URI);
	cr_assert_eq(pp.n_dest, 3);
	cr_assert_eq(pp.dest[0].kind, PP_ID_TN, "tn entries first");
	cr_assert_str_eq(pp.dest[0].v, "1");
	cr_assert_str_eq(pp.dest[1].v, "2");
	cr_assert_eq(pp.dest[2].kind, PP_ID_URI);
	cr_assert_str_eq(pp.dest[2].v, "sip:b@x");
	cr_assert_eq(pp.present, PP_HAS_ATTEST | PP_HAS_ORIG | PP_HAS_DEST | PP_HAS_IAT);
}

Test(pp, parse_depth_limit)
{
	struct pp_passport pp;
	const char *why;

	cr_assert_eq(parse_c("{\"x\":{\"a\":{\"b\":{\"c\":1}}}}", &pp, &why), 0, "depth 4");
	cr_assert_eq(parse_c("{\"x\":[[[1]]]}", &pp, &why), 0, "depth 4 arrays");
	cr_assert_eq(parse_c("{\"x\":{\"a\":{\"b\":{\"c\":{}}}}}", &pp, &why), -EINVAL);
	cr_assert_str_eq(why, "nested too deeply");
	cr_assert_eq(parse_c("{\"x\":[[[[1]]]]}", &pp, &why), -EINVAL);
	cr_assert_str_eq(why, "nested too deeply");
	cr_assert_eq(parse_c("{\"x\":[{\"a\":[{}]}]}", &pp, &why), -EINVAL);
	cr_assert_eq(parse_h("{\"x\":[[[[1]]]]}", &pp, &why), -EINVAL);
}

Test(pp, parse_size_limit)
{
	static char j[PP_JSON_MAX + 2];
	struct pp_passport pp;
	const char *why;
	size_t n = PP_JSON_MAX;

	/* {"p":"aaa...a"} of exactly PP_JSON_MAX bytes, then one more */
	memcpy(j, "{\"p\":\"", 6);
	memset(j + 6, 'a', n - 8);
	memcpy(j + n - 2, "\"}", 2);
	memset(&pp, 0, sizeof pp);
	cr_assert_eq(pp_claims_parse(j, n, &pp, &why), 0, "%s", why);
	memcpy(j + n - 2, "a\"}", 3);
	cr_assert_eq(pp_claims_parse(j, n + 1, &pp, &why), -EINVAL);
	cr_assert_str_eq(why, "JSON too long");
}

Test(pp, parse_value_size_limits)
{
	struct pp_passport pp;
	const char *why;
	char j[2048], v[600];

	memset(v, 'a', sizeof v);
	/* x5u: 511 accepted, 512 rejected */
	snprintf(j, sizeof j, "{\"x5u\":\"%.*s\"}", PP_X5U_MAX, v);
	cr_assert_eq(parse_h(j, &pp, &why), 0);
	cr_assert_eq(strlen(pp.x5u), PP_X5U_MAX);
	snprintf(j, sizeof j, "{\"x5u\":\"%.*s\"}", PP_X5U_MAX + 1, v);
	cr_assert_eq(parse_h(j, &pp, &why), -EINVAL);
	cr_assert_str_eq(why, "x5u too long");
	/* an escape that would cross the limit */
	snprintf(j, sizeof j, "{\"x5u\":\"%.*s\\u00e9\"}", PP_X5U_MAX - 1, v);
	cr_assert_eq(parse_h(j, &pp, &why), -EINVAL);
	snprintf(j, sizeof j, "{\"alg\":\"%.*s\"}", PP_NAME_MAX + 1, v);
	cr_assert_eq(parse_h(j, &pp, &why), -EINVAL);
	snprintf(j, sizeof j, "{\"origid\":\"%.*s\"}", PP_ORIGID_MAX + 1, v);
	cr_assert_eq(parse_c(j, &pp, &why), -EINVAL);
	snprintf(j, sizeof j, "{\"origid\":\"%.*s\"}", PP_ORIGID_MAX, v);
	cr_assert_eq(parse_c(j, &pp, &why), 0);
	snprintf(j, sizeof j, "{\"orig\":{\"uri\":\"%.*s\"}}", PP_URI_MAX + 1, v);
	cr_assert_eq(parse_c(j, &pp, &why), -EINVAL);
	snprintf(j, sizeof j, "{\"orig\":{\"uri\":\"%.*s\"}}", PP_URI_MAX, v);
	cr_assert_eq(parse_c(j, &pp, &why), 0);
	cr_assert_eq(parse_c("{\"orig\":{\"tn\":\"123456789012345\"}}", &pp, &why), 0);
	cr_assert_eq(parse_c("{\"orig\":{\"tn\":\"1234567890123456\"}}", &pp, &why), -EINVAL);
	cr_assert_eq(parse_c("{\"iat\":9223372036854775807}", &pp, &why), 0);
	cr_assert_eq(pp.iat, INT64_MAX);
	cr_assert_eq(parse_c("{\"iat\":9223372036854775808}", &pp, &why), -EINVAL);
	cr_assert_str_eq(why, "iat out of range");
}

Test(pp, parse_dest_limit)
{
	struct pp_passport pp;
	const char *why;
	char j[1024];
	int o;

	o = snprintf(j, sizeof j, "{\"dest\":{\"tn\":[");
	for (int k = 0; k < PP_DEST_MAX; k++)
		o += snprintf(j + o, sizeof j - (size_t)o, "%s\"%d\"", k ? "," : "", k);
	snprintf(j + o, sizeof j - (size_t)o, "]}}");
	cr_assert_eq(parse_c(j, &pp, &why), 0, "%s", why);
	cr_assert_eq(pp.n_dest, PP_DEST_MAX);
	/* one more, split over tn and uri */
	o = snprintf(j, sizeof j, "{\"dest\":{\"uri\":[\"sip:a\"],\"tn\":[");
	for (int k = 0; k < PP_DEST_MAX; k++)
		o += snprintf(j + o, sizeof j - (size_t)o, "%s\"%d\"", k ? "," : "", k);
	snprintf(j + o, sizeof j - (size_t)o, "]}}");
	cr_assert_eq(parse_c(j, &pp, &why), -EINVAL);
	cr_assert_str_eq(why, "too many dest entries");
}

/* ---- parsing: rejected shapes ---- */

static const struct bad {
	bool claims;
	const char *json;
	const char *why; /* expected reason, or NULL: any */
} bad[] = {
    {0, "", "not a JSON object"},
    {0, "[]", "not a JSON object"},
    {0, "\"alg\"", "not a JSON object"},
    {0, "{", "expected a member name"},
    {0, "{\"alg\":\"ES256\"", "expected ',' or '}'"},
    {0, "{\"alg\":\"ES256\",}", "expected a member name"},
    {0, "{\"alg\" \"ES256\"}", "expected ':'"},
    {0, "{alg:\"ES256\"}", "expected a member name"},
    {0, "{'alg':'ES256'}", "expected a member name"},
    {0, "{\"alg\":\"ES256\"}x", "trailing bytes after the object"},
    {0, "{\"alg\":\"ES256\"}{}", "trailing bytes after the object"},
    {0, "{\"alg\":\"ES256\",\"alg\":\"ES256\"}", "duplicate member"},
    {0, "{\"alg\":\"ES256\",\"\\u0061lg\":\"none\"}", "duplicate member"},
    {0, "{\"x\":{\"a\":1,\"a\":2}}", "duplicate member"},
    {0, "{\"alg\":1}", "alg not a string"},
    {0, "{\"typ\":null}", "typ not a string"},
    {0, "{\"ppt\":\"\"}", "ppt empty"},
    {0, "{\"ppt\":[\"shaken\"]}", "ppt not a string"},
    {0, "{\"x5u\":{}}", "x5u not a string"},
    {0, "{\"alg\":\"ES\\x56\"}", "bad escape in string"},
    {0, "{\"alg\":\"ES\\u00\"}", "bad \\u escape"},
    {0, "{\"alg\":\"ES\\u00G0\"}", "bad \\u escape"},
    {0, "{\"alg\":\"\\u0000\"}", "\\u0000 in string"},
    {0, "{\"alg\":\"\\ud800\"}", "lone surrogate in string"},
    {0, "{\"alg\":\"\\ud800\\u0041\"}", "lone surrogate in string"},
    {0, "{\"alg\":\"\\udc00\"}", "lone surrogate in string"},
    {0, "{\"alg\":\"a\tb\"}", "control character in string"},
    {0, "{\"alg\":\"a\nb\"}", "control character in string"},
    {0, "{\"alg\":\"\xc3\"}", "invalid UTF-8 in string"},
    {0, "{\"alg\":\"\xc0\xaf\"}", "invalid UTF-8 in string"},
    {0, "{\"alg\":\"\xed\xa0\x80\"}", "invalid UTF-8 in string"},
    {0, "{\"alg\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8 in string"},
    {0, "{\"alg\":\"\xff\"}", "invalid UTF-8 in string"},
    {0, "{\"alg\":\"ES256", "unterminated string"},
    {0, "{\"alg\":\"ES256\\", "unterminated string"},
    {0, "{\"x\":tru}", "unexpected character"},
    {0, "{\"x\":True}", "unexpected character"},
    {0, "{\"x\":01}", "leading zero in number"},
    {0, "{\"x\":1.}", "bad number"},
    {0, "{\"x\":.5}", "unexpected character"},
    {0, "{\"x\":1e}", "bad number"},
    {0, "{\"x\":-}", "bad number"},
    {0, "{\"x\":+1}", "unexpected character"},
    {0, "{\"x\":[1,]}", "unexpected character"},
    {0, "{\"x\":[1 2]}", "expected ',' or ']'"},
    {0, "{\"x\":}", "unexpected character"},
    {0, "\xef\xbb\xbf{}", "not a JSON object"},
    {1, "{\"iat\":\"1443208345\"}", "iat not a number"},
    {1, "{\"iat\":1443208345.0}", "iat not an integer"},
    {1, "{\"iat\":1.443208345e9}", "iat not an integer"},
    {1, "{\"iat\":-1}", "iat negative"},
    {1, "{\"iat\":true}", "iat not a number"},
    {1, "{\"attest\":\"D\"}", "attest not A, B or C"},
    {1, "{\"attest\":\"a\"}", "attest not A, B or C"},
    {1, "{\"attest\":\"AB\"}", "attest not A, B or C"},
    {1, "{\"attest\":\"\"}", "attest not A, B or C"},
    {1, "{\"attest\":65}", "attest not a string"},
    {1, "{\"dest\":\"12125551213\"}", "dest not an object"},
    {1, "{\"dest\":[\"12125551213\"]}", "dest not an object"},
    {1, "{\"dest\":{}}", "dest empty"},
    {1, "{\"dest\":{\"tn\":[]}}", "dest array empty"},
    {1, "{\"dest\":{\"tn\":\"12125551213\"}}", "dest member not an array"},
    {1, "{\"dest\":{\"tn\":[12125551213]}}", "tn not a string"},
    {1, "{\"dest\":{\"tn\":[\"+12125551213\"]}}", "tn not canonical"},
    {1, "{\"dest\":{\"tn\":[\"\"]}}", "tn not canonical"},
    {1, "{\"dest\":{\"uri\":[\"\"]}}", "uri empty"},
    {1, "{\"dest\":{\"tn\":[\"1\"],\"tn\":[\"2\"]}}", "duplicate member"},
    {1, "{\"dest\":{\"email\":[\"a@b\"]}}", "unexpected member in dest"},
    {1, "{\"dest\":{\"tn\":[\"1\"]},\"dest\":{\"tn\":[\"1\"]}}", "duplicate member"},
    {1, "{\"orig\":\"12155551212\"}", "orig not an object"},
    {1, "{\"orig\":{}}", "orig or div holds no tn or uri"},
    {1, "{\"orig\":{\"tn\":\"1\",\"uri\":\"sip:a\"}}", "orig or div holds both tn and uri"},
    {1, "{\"orig\":{\"tn\":\"1\",\"x\":1}}", "unexpected member in orig or div"},
    {1, "{\"orig\":{\"tn\":[\"1\"]}}", "tn not a string"},
    {1, "{\"orig\":{\"tn\":\"1-215\"}}", "tn not canonical"},
    {1, "{\"div\":{\"uri\":1}}", "uri not a string"},
    {1, "{\"div\":null}", "div not an object"},
    {1, "{\"origid\":123}", "origid not a string"},
    {1, "{\"iat\":1,\"iat\":2}", "duplicate member"},
};

Test(pp, parse_rejects_malformed)
{
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct pp_passport pp;
		const char *why = NULL;
		size_t n = strlen(bad[k].json);
		int r;

		memset(&pp, 0, sizeof pp);
		r = bad[k].claims ? pp_claims_parse(bad[k].json, n, &pp, &why)
				  : pp_header_parse(bad[k].json, n, &pp, &why);
		cr_expect_eq(r, -EINVAL, "accepted: %s", bad[k].json);
		cr_expect_not_null(why, "no reason for %s", bad[k].json);
		if (why && bad[k].why)
			cr_expect_str_eq(why, bad[k].why, "for %s", bad[k].json);
	}
}

Test(pp, parse_nul_byte_after_object_rejected)
{
	struct pp_passport pp;
	const char *why;

	memset(&pp, 0, sizeof pp);
	cr_assert_eq(pp_header_parse("{\"alg\":\"ES256\"}\0", 16, &pp, &why), -EINVAL);
	cr_assert_str_eq(why, "trailing bytes after the object");
	cr_assert_eq(pp_header_parse("{\"a\0g\":1}", 9, &pp, &why), -EINVAL);
	cr_assert_eq(pp_header_parse(NULL, 0, &pp, &why), -EINVAL);
}

/* ---- round trips ---- */

static void round_trip(const struct pp_passport *in)
{
	char h[PP_JSON_MAX], c[PP_JSON_MAX];
	struct pp_passport out;
	const char *why = NULL;
	long hn = pp_header_json(in, h, sizeof h), cn = pp_claims_json(in, c, sizeof c);

	cr_assert_gt(hn, 0);
	cr_assert_gt(cn, 0);
	memset(&out, 0, sizeof out);
	cr_assert_eq(pp_header_parse(h, (size_t)hn, &out, &why), 0, "%s", why);
	cr_assert_eq(pp_claims_parse(c, (size_t)cn, &out, &why), 0, "%s", why);
	cr_assert(pp_passport_equal(in, &out), "%.*s %.*s", (int)hn, h, (int)cn, c);
}

Test(pp, build_parse_round_trips)
{
	static const char *const d[] = {"1", "22", "123456789012345"};
	struct pp_passport pp;

	shaken_rfc(&pp);
	round_trip(&pp);
	cr_assert_eq(pp_div_init(&pp, X5U, "12155551212", d, 3, "12155551213", 1), 0);
	round_trip(&pp);
	shaken_rfc(&pp);
	cr_assert_eq(pp_id_set(&pp.dest[1], PP_ID_URI, "sip:\xe2\x82\xac@example.com"), 0);
	pp.n_dest = 2;
	cr_assert_eq(pp_id_set(&pp.orig, PP_ID_URI, "sips:a@b.example"), 0);
	pp.ppt = PP_PPT_OTHER;
	strcpy(pp.ppt_name, "x-y");
	round_trip(&pp);
	pp.present = PP_HAS_ALG;
	round_trip(&pp);
}

Test(pp, equal_detects_differences)
{
	struct pp_passport a, b;

	shaken_rfc(&a);
	shaken_rfc(&b);
	cr_assert(pp_passport_equal(&a, &b));
	b.iat++;
	cr_assert_not(pp_passport_equal(&a, &b));
	shaken_rfc(&b);
	b.dest[0].v[3] = '9';
	cr_assert_not(pp_passport_equal(&a, &b));
	shaken_rfc(&b);
	b.present |= PP_HAS_DIV;
	cr_assert_not(pp_passport_equal(&a, &b));
}

/* ---- tokens ---- */

Test(pp, token_split)
{
	struct pp_token t;
	char big[PP_TOKEN_MAX + 2];

	cr_assert_eq(pp_token_split("ab.cd.ef", 8, &t), 0);
	cr_assert_eq(t.hdr_len, 2);
	cr_assert_eq(t.claims_len, 2);
	cr_assert(memcmp(t.claims, "cd", 2) == 0);
	cr_assert_eq(t.sig_len, 2);
	cr_assert(memcmp(t.sig, "ef", 2) == 0);
	cr_assert_eq(pp_token_split("..ef", 4, &t), 0, "compact form");
	cr_assert_eq(t.hdr_len, 0);
	cr_assert_eq(t.claims_len, 0);
	cr_assert_eq(pp_token_split("ab.cd", 5, &t), -EINVAL);
	cr_assert_eq(pp_token_split("ab.cd.ef.gh", 11, &t), -EINVAL);
	cr_assert_eq(pp_token_split("ab.c=.ef", 8, &t), -EINVAL);
	cr_assert_eq(pp_token_split("ab.c d.ef", 9, &t), -EINVAL);
	cr_assert_eq(pp_token_split("ab.c+.ef", 8, &t), -EINVAL);
	memset(big, 'A', sizeof big);
	big[10] = '.';
	big[20] = '.';
	cr_assert_eq(pp_token_split(big, PP_TOKEN_MAX, &t), 0);
	cr_assert_eq(pp_token_split(big, PP_TOKEN_MAX + 1, &t), -EINVAL);
}

static EVP_PKEY *key;
static struct pp_signer signer;

static void key_init(void)
{
	key = EVP_EC_gen("P-256");
	cr_assert_not_null(key);
	cr_assert_eq(pp_signer_evp(&signer, key), 0);
}

static void key_fini(void)
{
	EVP_PKEY_free(key);
}

Test(pp, sign_parse_verify, .init = key_init, .fini = key_fini)
{
	struct pp_passport pp, back;
	struct pp_token t;
	uint8_t sig[PP_SIG_LEN];
	char tok[PP_TOKEN_MAX];
	const char *why = NULL;
	long n;

	shaken_rfc(&pp);
	n = pp_sign(&pp, &signer, tok, sizeof tok);
	cr_assert_gt(n, 0);
	cr_assert_eq(pp_parse(tok, (size_t)n, &t, &back, sig, &why), 0, "%s", why);
	cr_assert_null(why);
	cr_assert(pp_passport_equal(&pp, &back));
	cr_assert_eq(t.hdr, tok);
	cr_assert_eq(t.sig_len, 86);
	/* the signature covers the exact bytes received before the last '.' */
	cr_assert_eq(pp_es256_verify(key, tok, (size_t)(t.sig - 1 - tok), sig), 0);
	/* and the signing input rebuilt from the parsed form is the same here */
	char in[PP_TOKEN_MAX];
	long il = pp_signing_input(&back, in, sizeof in);
	cr_assert_eq(il, (long)(t.sig - 1 - tok));
	cr_assert(memcmp(in, tok, (size_t)il) == 0);
	/* tampering with a claims byte breaks it */
	tok[t.claims - tok + 3] ^= 0x01;
	int pr = pp_parse(tok, (size_t)n, &t, &back, sig, &why);
	if (pr == 0)
		cr_assert_eq(pp_es256_verify(key, tok, (size_t)(t.sig - 1 - tok), sig), -EBADMSG);
	else
		cr_assert_eq(pr, -EINVAL);
	cr_assert_eq(pp_sign(&pp, &signer, tok, (size_t)n - 1), -ENOSPC);
}

static int failing_sign(void *ctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN])
{
	(void)ctx;
	(void)digest;
	(void)sig;
	return -EAGAIN;
}

Test(pp, sign_passes_signer_error)
{
	struct pp_signer s = {failing_sign, NULL};
	struct pp_passport pp;
	char tok[PP_TOKEN_MAX];

	shaken_rfc(&pp);
	cr_assert_eq(pp_sign(&pp, &s, tok, sizeof tok), -EAGAIN);
}

/* A token from JSON strings, with a fake signature of sig_bytes bytes. */
static size_t mk_token(char *tok, size_t cap, const char *h, const char *c, size_t sig_bytes)
{
	uint8_t sig[80] = {0};
	long a, b, s;

	a = b64u_encode(tok, cap, (const uint8_t *)h, strlen(h));
	cr_assert_geq(a, 0);
	tok[a++] = '.';
	b = b64u_encode(tok + a, cap - (size_t)a, (const uint8_t *)c, strlen(c));
	cr_assert_geq(b, 0);
	a += b;
	tok[a++] = '.';
	s = b64u_encode(tok + a, cap - (size_t)a, sig, sig_bytes);
	cr_assert_geq(s, 0);
	return (size_t)(a + s);
}

Test(pp, parse_rejects_bad_tokens)
{
	static const char *const cases[][2] = {
	    {"{\"alg\":\"ES256\"}", "{\"iat\":\"1443208345\"}"},
	    {"{\"alg\":\"ES256\",\"alg\":\"ES256\"}", "{}"},
	    {"{\"alg\":\"ES256\"} ", "{\"attest\":\"D\"}"},
	    {"[]", "{}"},
	};
	static const char *const whys[] = {"iat not a number", "duplicate member",
					   "attest not A, B or C", "not a JSON object"};
	struct pp_passport pp;
	struct pp_token t;
	uint8_t sig[PP_SIG_LEN];
	char tok[PP_TOKEN_MAX + 100];
	const char *why;
	size_t n;

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		n = mk_token(tok, sizeof tok, cases[k][0], cases[k][1], PP_SIG_LEN);
		cr_expect_eq(pp_parse(tok, n, &t, &pp, sig, &why), -EINVAL, "case %zu", k);
		cr_expect_str_eq(why, whys[k]);
	}
	n = mk_token(tok, sizeof tok, SHAKEN_HDR, SHAKEN_CLAIMS, PP_SIG_LEN);
	cr_assert_eq(pp_parse(tok, n, &t, &pp, sig, &why), 0, "%s", why);
	n = mk_token(tok, sizeof tok, SHAKEN_HDR, SHAKEN_CLAIMS, PP_SIG_LEN - 1);
	cr_assert_eq(pp_parse(tok, n, &t, &pp, sig, &why), -EINVAL, "63-byte signature");
	cr_assert_str_eq(why, "signature not 64 bytes of base64url");
	n = mk_token(tok, sizeof tok, SHAKEN_HDR, SHAKEN_CLAIMS, PP_SIG_LEN + 1);
	cr_assert_eq(pp_parse(tok, n, &t, &pp, sig, &why), -EINVAL, "65-byte signature");
	/* a non-canonical last signature character */
	n = mk_token(tok, sizeof tok, SHAKEN_HDR, SHAKEN_CLAIMS, PP_SIG_LEN);
	tok[n - 1] = 'B';
	cr_assert_eq(pp_parse(tok, n, &t, &pp, sig, &why), -EINVAL);
	/* a claims part of length 4k+1 */
	cr_assert_eq(pp_parse("eyJ9.e.AAAA", 11, &t, &pp, sig, &why), -EINVAL);
	/* the compact form, from tests/vectors/README.md */
	static const char compact[] = "..rq3pjT1hoRwakEGjHCnWSwUnshd0-zJ6F1VOgFWSjHBr8Qjpjlk-"
				      "cpFYpFYsojNCpTzO3QfPOlckGaS6hEck7w";
	cr_assert_eq(pp_parse(compact, strlen(compact), &t, &pp, sig, &why), -EINVAL);
	cr_assert_str_eq(why, "header or claims empty (compact form)");
	cr_assert_eq(pp_parse("a.b", 3, &t, &pp, sig, &why), -EINVAL);
	cr_assert_str_eq(why, "not a compact JWS");
}

Test(pp, parse_rejects_oversize_parts)
{
	static char tok[PP_TOKEN_MAX + 1];
	struct pp_passport pp;
	struct pp_token t;
	uint8_t sig[PP_SIG_LEN];
	const char *why;
	size_t hl = b64u_encoded_len(PP_JSON_MAX + 1);

	memset(tok, 'e', sizeof tok);
	tok[hl] = '.';
	tok[hl + 5] = '.';
	cr_assert_eq(pp_parse(tok, hl + 5 + 87, &t, &pp, sig, &why), -EINVAL);
	cr_assert_str_eq(why, "header too long");
}

/* The fast signer gives tokens that parse and verify like pp_signer_evp's. */
Test(pp, sign_with_open_signer)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct pp_signer s;
	struct pp_es256_pub pub;
	struct pp_passport pp, back;
	struct pp_token t;
	uint8_t sig[PP_SIG_LEN];
	char tok[PP_TOKEN_MAX], in[PP_TOKEN_MAX];
	const char *why = NULL;

	cr_assert_not_null(k);
	cr_assert_eq(pp_signer_evp_open(&s, k), 0);
	cr_assert_eq(pp_es256_pub_init(&pub, k), 0);
	shaken_rfc(&pp);
	for (int i = 0; i < 4; i++) {
		long n = pp_sign(&pp, &s, tok, sizeof tok);
		long il = pp_signing_input(&pp, in, sizeof in);

		cr_assert_gt(n, 0);
		cr_assert_eq(pp_parse(tok, (size_t)n, &t, &back, sig, &why), 0, "%s", why);
		cr_assert(pp_passport_equal(&pp, &back));
		cr_assert_eq(il, (long)(t.sig - 1 - tok));
		cr_assert(memcmp(in, tok, (size_t)il) == 0);
		cr_assert_eq(pp_es256_verify(k, tok, (size_t)il, sig), 0);
		cr_assert_eq(pp_es256_pub_verify(&pub, tok, (size_t)il, sig), 0);
		cr_assert_eq(pp_es256_pub_verify(&pub, tok, (size_t)il - 1, sig), -EBADMSG);
	}
	pp_signer_close(&s);
	cr_assert_eq(pp_sign(&pp, &s, tok, sizeof tok), -EINVAL, "closed signer");
	pp_es256_pub_release(&pub);
	EVP_PKEY_free(k);
}

/* Builder checks on strings (json_safe): each field, each kind of fault, and DEL allowed. */
Test(pp, builder_string_checks_per_field)
{
	static const char *const bad[] = {"a\"b",     "a\\b",	      "a\x01",
					  "\x1f",     "a\xc3",	      "\xc3\x28",
					  "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80",
					  "\x80",     "\xc0\xaf"};
	static const char *const good[] = {"a\x7f", "caf\xc3\xa9", "\xe2\x82\xac",
					   "\xf0\x9f\x98\x80", "x y/z:~"};
	struct pp_passport pp;
	char buf[PP_TOKEN_MAX];

	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		shaken_rfc(&pp);
		snprintf(pp.x5u, sizeof pp.x5u, "%s", bad[k]);
		cr_assert_eq(pp_header_json(&pp, buf, sizeof buf), -EINVAL, "x5u bad %zu", k);
		cr_assert_eq(pp_signing_input(&pp, buf, sizeof buf), -EINVAL, "x5u bad %zu", k);
		shaken_rfc(&pp);
		snprintf(pp.origid, sizeof pp.origid, "%s", bad[k]);
		cr_assert_eq(pp_claims_json(&pp, buf, sizeof buf), -EINVAL, "origid bad %zu", k);
		cr_assert_eq(pp_signing_input(&pp, buf, sizeof buf), -EINVAL, "origid bad %zu", k);
		cr_assert_eq(pp_id_set(&pp.orig, PP_ID_URI, bad[k]), -EINVAL, "uri bad %zu", k);
	}
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
		shaken_rfc(&pp);
		snprintf(pp.x5u, sizeof pp.x5u, "%s", good[k]);
		snprintf(pp.origid, sizeof pp.origid, "%s", good[k]);
		cr_assert_gt(pp_signing_input(&pp, buf, sizeof buf), 0, "good %zu", k);
		cr_assert_eq(pp_id_set(&pp.orig, PP_ID_URI, good[k]), 0, "uri good %zu", k);
	}
	/* a field without a NUL */
	shaken_rfc(&pp);
	memset(pp.origid, 'a', sizeof pp.origid);
	cr_assert_eq(pp_claims_json(&pp, buf, sizeof buf), -EINVAL);
	shaken_rfc(&pp);
	memset(pp.x5u, 'a', sizeof pp.x5u);
	cr_assert_eq(pp_header_json(&pp, buf, sizeof buf), -EINVAL);
}
