/* SPDX-License-Identifier: BSD-3-Clause */
/* The SIP Identity header (RFC 8224 §4): builder, parser, choice among several values. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crypto/identity.h"
#include "crypto/pp.h"

#define TOK "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjF9.c2ln"
#define X5U "https://cert.example.org/passport.cer"

static bool slice_is(struct pp_slice s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static int parse(const char *s, struct pp_identity *id)
{
	const char *why = NULL;
	int rc = pp_identity_parse(s, strlen(s), id, &why);
	if (rc)
		cr_assert_not_null(why, "a rejection names its fault");
	return rc;
}

static void shaken_pp(struct pp_passport *pp)
{
	memset(pp, 0, sizeof(*pp));
	strcpy(pp->alg, "ES256");
	strcpy(pp->typ, "passport");
	pp->ppt = PP_PPT_SHAKEN;
	strcpy(pp->ppt_name, "shaken");
	strcpy(pp->x5u, X5U);
}

Test(identity, build_full_form)
{
	struct pp_passport pp;
	char buf[512];
	shaken_pp(&pp);
	long n = pp_identity_build(buf, sizeof(buf), TOK, strlen(TOK), &pp);
	const char *want = TOK ";info=<" X5U ">;alg=ES256;ppt=shaken";
	cr_assert_eq(n, (long)strlen(want));
	cr_assert_str_eq(buf, want);
}

Test(identity, build_without_ppt_and_default_alg)
{
	struct pp_passport pp;
	char buf[512];
	shaken_pp(&pp);
	pp.ppt = PP_PPT_NONE;
	pp.ppt_name[0] = '\0';
	pp.alg[0] = '\0';
	long n = pp_identity_build(buf, sizeof(buf), TOK, strlen(TOK), &pp);
	cr_assert_gt(n, 0);
	cr_assert_str_eq(buf, TOK ";info=<" X5U ">;alg=ES256");
}

Test(identity, build_exact_capacity)
{
	struct pp_passport pp;
	char buf[512];
	shaken_pp(&pp);
	size_t want = strlen(TOK ";info=<" X5U ">;alg=ES256;ppt=shaken");
	cr_assert_eq(pp_identity_build(buf, want, TOK, strlen(TOK), &pp), -ENOSPC);
	cr_assert_eq(pp_identity_build(buf, want + 1, TOK, strlen(TOK), &pp), (long)want);
	cr_assert_eq(buf[want], '\0');
	cr_assert_eq(pp_identity_build(buf, 0, TOK, strlen(TOK), &pp), -ENOSPC);
}

Test(identity, build_rejects_bad_input)
{
	struct pp_passport pp;
	char buf[512];
	shaken_pp(&pp);
	cr_assert_eq(pp_identity_build(buf, sizeof(buf), "", 0, &pp), -EINVAL);
	cr_assert_eq(pp_identity_build(buf, sizeof(buf), "a.b;c", 5, &pp), -EINVAL);
	strcpy(pp.x5u, "https://x/a>b");
	cr_assert_eq(pp_identity_build(buf, sizeof(buf), TOK, strlen(TOK), &pp), -EINVAL);
	strcpy(pp.x5u, "https://x/a b");
	cr_assert_eq(pp_identity_build(buf, sizeof(buf), TOK, strlen(TOK), &pp), -EINVAL);
	pp.x5u[0] = '\0';
	cr_assert_eq(pp_identity_build(buf, sizeof(buf), TOK, strlen(TOK), &pp), -EINVAL);
	shaken_pp(&pp);
	pp.ppt = PP_PPT_OTHER;
	strcpy(pp.ppt_name, "a;b");
	cr_assert_eq(pp_identity_build(buf, sizeof(buf), TOK, strlen(TOK), &pp), -EINVAL);
}

Test(identity, build_then_parse_round_trip)
{
	struct pp_passport pp;
	struct pp_identity id;
	char buf[512];
	shaken_pp(&pp);
	long n = pp_identity_build(buf, sizeof(buf), TOK, strlen(TOK), &pp);
	cr_assert_gt(n, 0);
	cr_assert_eq(pp_identity_parse(buf, (size_t)n, &id, NULL), 0);
	cr_assert(slice_is(id.token, TOK));
	cr_assert(slice_is(id.info, X5U));
	cr_assert(id.info_bracketed);
	cr_assert(slice_is(id.alg, "ES256"));
	cr_assert(slice_is(id.ppt, "shaken"));
	cr_assert_eq(id.present, PP_IDP_INFO | PP_IDP_ALG | PP_IDP_PPT);
	cr_assert_not(id.compact);
}

Test(identity, params_in_any_order_with_whitespace_and_unknowns)
{
	struct pp_identity id;
	cr_assert_eq(parse("  " TOK " ; ppt = \"shaken\" ;foo=bar; flag ;ALG=ES256;"
			   "Info = <" X5U ">;x=\"a;b\\\"c\"  \r\n",
			   &id),
		     0);
	cr_assert(slice_is(id.token, TOK));
	cr_assert(slice_is(id.ppt, "shaken"));
	cr_assert(slice_is(id.alg, "ES256"));
	cr_assert(slice_is(id.info, X5U));
	cr_assert(id.info_bracketed);
}

Test(identity, ppt_quoted_and_unquoted)
{
	struct pp_identity a, b;
	cr_assert_eq(parse(TOK ";info=<" X5U ">;ppt=\"shaken\"", &a), 0);
	cr_assert_eq(parse(TOK ";info=<" X5U ">;ppt=shaken", &b), 0);
	cr_assert(slice_is(a.ppt, "shaken"));
	cr_assert(slice_is(b.ppt, "shaken"));
}

Test(identity, no_semicolon_at_all_parses_without_info)
{
	/* GHSA-mrq5-74j5-f5cr: a value without ';' crashed a PBX */
	struct pp_identity id;
	cr_assert_eq(parse(TOK, &id), 0);
	cr_assert(slice_is(id.token, TOK));
	cr_assert_eq(id.present, 0);
	cr_assert_eq(parse("  " TOK "  ", &id), 0);
	cr_assert_eq(id.present, 0);
}

Test(identity, info_without_brackets_is_flagged)
{
	struct pp_identity id;
	cr_assert_eq(parse(TOK ";info=" "https", &id), 0);
	cr_assert(id.present & PP_IDP_INFO);
	cr_assert_not(id.info_bracketed);
	cr_assert(slice_is(id.info, "https"));
}

Test(identity, compact_form)
{
	struct pp_identity id;
	cr_assert_eq(parse("..rq3pjT1hoRwakEGjHCnWSwUnshd0-zJ6F1VOgFWSjHBr8Qjpjlk-cpFYpFYsojNCpTz"
			   "O3QfPOlckGaS6hEck7w;info=<" X5U ">;alg=ES256",
			   &id),
		     0);
	cr_assert(id.compact);
	cr_assert_eq(id.token.len, 88);
	cr_assert(slice_is(id.info, X5U));
}

Test(identity, rejects_garbage)
{
	struct pp_identity id;
	const char *bad[] = {
		"",
		"   ",
		";info=<" X5U ">",                 /* no token */
		"abc;info=<" X5U ">",              /* one part */
		"a.b;info=<" X5U ">",              /* two parts */
		"a.b.c.d;info=<" X5U ">",          /* four parts */
		"a.b.;info=<" X5U ">",             /* no signature */
		".b.c;info=<" X5U ">",             /* one empty part */
		"a..c",                            /* one empty part */
		"a+b.c.d",                         /* '+' is not base64url */
		"a.b.c=;info=<" X5U ">",           /* padding */
		TOK " junk;info=<" X5U ">",
		TOK ";info=<" X5U,                 /* unterminated < */
		TOK ";info=<https://x y>",         /* space in URI */
		TOK ";ppt=\"shaken",               /* unterminated quote */
		TOK ";ppt=\"sha\\",                /* escape at the end */
		TOK ";;info=<" X5U ">",            /* empty name */
		TOK ";=x",
		TOK ";info",                       /* info without value */
		TOK ";info=",
		TOK ";ppt=<shaken>",
		TOK ";alg",
		TOK ";ppt=shaken;ppt=div",         /* duplicate */
		TOK ";info=<" X5U ">;INFO=<" X5U ">",
		TOK ";alg=ES256;alg=ES256",
		TOK ";info=<" X5U ">, " TOK ";info=<" X5U ">", /* a comma list */
		TOK ";x=\"a\001b\"",
		TOK ";ppt=shaken junk",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i], &id), -EINVAL, "accepted: %s", bad[i]);
	cr_assert_eq(pp_identity_parse(NULL, 3, &id, NULL), -EINVAL);
	cr_assert_eq(pp_identity_parse(TOK "\0;info=<x>", strlen(TOK) + 10, &id, NULL), -EINVAL);
}

Test(identity, too_many_params_and_too_long)
{
	static char buf[PP_IDENTITY_MAX + 64];
	struct pp_identity id;
	strcpy(buf, TOK);
	for (int i = 0; i < PP_IDENTITY_PARAMS_MAX; i++)
		strcat(buf, ";a=b");
	cr_assert_eq(parse(buf, &id), 0);
	strcat(buf, ";a=b");
	cr_assert_eq(parse(buf, &id), -EINVAL);
	memset(buf, 'A', sizeof(buf));
	buf[10] = '.';
	buf[20] = '.';
	cr_assert_eq(pp_identity_parse(buf, PP_IDENTITY_MAX, &id, NULL), 0);
	cr_assert_eq(pp_identity_parse(buf, PP_IDENTITY_MAX + 1, &id, NULL), -EINVAL);
}

Test(identity, parse_reads_only_within_len)
{
	/* the bytes after len would make it valid or invalid: only len counts */
	const char *s = TOK ";info=<" X5U ">;ppt=shaken";
	struct pp_identity id;
	cr_assert_eq(pp_identity_parse(s, strlen(TOK), &id, NULL), 0);
	cr_assert_eq(id.present, 0);
	cr_assert_eq(pp_identity_parse(s, strlen(TOK) + 8, &id, NULL), -EINVAL); /* ";info=<h" */
}

Test(identity, select_prefers_shaken)
{
	const char *v[] = {
		TOK ";info=<" X5U ">;ppt=div",
		"garbage",
		TOK ";info=<" X5U ">",
		TOK ";info=<" X5U ">;ppt=\"shaken\"",
		TOK ";info=<" X5U ">;ppt=shaken;x=1",
	};
	struct pp_slice s[5];
	struct pp_identity id;
	for (int i = 0; i < 5; i++)
		s[i] = (struct pp_slice){v[i], strlen(v[i])};
	cr_assert_eq(pp_identity_select(s, 5, &id, NULL), 3);
	cr_assert(slice_is(id.ppt, "shaken"));
	/* without a shaken one, the ppt-less one is chosen */
	cr_assert_eq(pp_identity_select(s, 3, &id, NULL), 2);
	cr_assert_eq(id.present & PP_IDP_PPT, 0);
}

Test(identity, select_outcomes)
{
	const char *div = TOK ";info=<" X5U ">;ppt=div";
	struct pp_slice s[2] = {{"junk", 4}, {div, strlen(div)}};
	struct pp_identity id;
	const char *why = NULL;
	cr_assert_eq(pp_identity_select(s, 0, &id, NULL), -ENOENT);
	cr_assert_eq(pp_identity_select(s, 1, &id, &why), -EINVAL);
	cr_assert_not_null(why);
	cr_assert_eq(pp_identity_select(s, 2, &id, NULL), -EPROTONOSUPPORT);
	cr_assert(slice_is(id.ppt, "div"));
}

Test(identity, slice_ieq)
{
	cr_assert(pp_slice_ieq((struct pp_slice){"ShAkEn", 6}, "shaken"));
	cr_assert_not(pp_slice_ieq((struct pp_slice){"shake", 5}, "shaken"));
	cr_assert(pp_slice_ieq((struct pp_slice){NULL, 0}, ""));
}
