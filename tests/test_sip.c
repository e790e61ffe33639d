/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP parser, accessors, rewriter and response builder: realistic messages, compact forms,
 * lists and name-addrs, TN extraction, dates, byte-exact rewrites, malformed input.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sip/sip.h"

#define S(lit) ((struct sip_str){(lit), sizeof(lit) - 1})

static struct sip_msg m;

static void parse_ok(const char *msg)
{
	int rc = sip_parse(&m, msg, strlen(msg));
	cr_assert_eq(rc, 0, "sip_parse: %d for\n%s", rc, msg);
}

static int parse(const char *msg)
{
	return sip_parse(&m, msg, strlen(msg));
}

static bool str_is(struct sip_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

#define cr_assert_str(s, lit)                                                                  \
	cr_assert(str_is((s), (lit)), "got \"%.*s\", want \"%s\"", (int)(s).len, (s).p, (lit))

/* bench/bench_crypto.c's INVITE, with an SDP body */
static const char bench_invite[] =
	"INVITE sip:+12125551213@sbc.example.net:5060;user=phone SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---0000002a;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice\" <sip:+12155551212@198.51.100.7;user=phone>;tag=4fa30000002a\r\n"
	"To: <sip:+12125551213@sbc.example.net;user=phone>\r\n"
	"Call-ID: 0000002a-3c2a-4b7e-9d1f-7a4c2e1b9f00@192.0.2.10\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:+12155551212@192.0.2.10:5060;transport=udp>\r\n"
	"P-Asserted-Identity: <sip:+12155551212@198.51.100.7;user=phone>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK\r\n"
	"Supported: 100rel, timer\r\n"
	"Session-Expires: 1800\r\n"
	"User-Agent: carrier-sbc/4.2\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 144\r\n"
	"\r\n"
	"v=0\r\n"
	"o=- 3912345678 3912345678 IN IP4 192.0.2.10\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"m=audio 20000 RTP/AVP 0 8\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=sendrecv\r\n";

/* platform/demo/invite.sip */
static const char demo_invite[] =
	"INVITE sip:+12125551213@sbc.example.net;user=phone SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-74bf9-1;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: \"Alice\" <sip:+12155551212@198.51.100.7;user=phone>;tag=4fa3c9\r\n"
	"To: <sip:+12125551213@sbc.example.net;user=phone>\r\n"
	"Call-ID: 7a4c2e1b-3c2a-4b7e-9d1f@192.0.2.10\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:+12155551212@192.0.2.10:5060>\r\n"
	"P-Asserted-Identity: <tel:+1-215-555-1212>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

Test(sip, parses_realistic_invite)
{
	char tn[TN_MAX + 1];
	const struct sip_hdr *h;

	cr_assert_eq(strlen(bench_invite) - (strstr(bench_invite, "\r\n\r\n") + 4 - bench_invite),
		     144);
	parse_ok(bench_invite);
	cr_assert(m.is_request);
	cr_assert_eq(m.method_id, SIP_METHOD_INVITE);
	cr_assert_str(m.method, "INVITE");
	cr_assert_str(m.ruri, "sip:+12125551213@sbc.example.net:5060;user=phone");
	cr_assert_eq(m.n_hdrs, 14);
	cr_assert_eq(m.content_length, 144);
	cr_assert_eq(m.body.len, 144);
	cr_assert_eq(memcmp(m.body.p, "v=0\r\n", 5), 0);
	cr_assert_eq(m.hdr_end, (size_t)(strstr(bench_invite, "\r\n\r\n") + 2 - bench_invite));

	h = sip_hdr_first(&m, SIP_HDR_VIA);
	cr_assert_not_null(h);
	cr_assert_str(h->name, "Via");
	cr_assert_str(h->value,
		      "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---0000002a;rport");
	cr_assert_null(sip_hdr_next(&m, h));
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_MAX_FORWARDS)->value, "70");
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_CALL_ID)->value,
		      "0000002a-3c2a-4b7e-9d1f-7a4c2e1b9f00@192.0.2.10");
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_USER_AGENT)->value, "carrier-sbc/4.2");
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_SESSION_EXPIRES)->value, "1800");
	cr_assert_null(sip_hdr_first(&m, SIP_HDR_IDENTITY));
	cr_assert_null(sip_hdr_first(&m, SIP_HDR_OTHER));
	cr_assert_eq(sip_calling_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "12155551212");
	cr_assert_eq(sip_called_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "12125551213");

	uint32_t n;
	struct sip_str meth;
	cr_assert_eq(sip_cseq(&m, &n, &meth), 0);
	cr_assert_eq(n, 1);
	cr_assert_str(meth, "INVITE");
}

Test(sip, parses_demo_invite_file)
{
	char path[512], buf[4096];
	snprintf(path, sizeof(path), "%s/../../platform/demo/invite.sip", SHAKEND_VECTORS);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_eq(sip_parse(&m, buf, n), 0);
	cr_assert_eq(m.n_hdrs, 10);
	cr_assert_eq(m.content_length, 0);
	cr_assert_eq(m.body.len, 0);

	char tn[TN_MAX + 1];
	cr_assert_eq(sip_calling_tn(&m, tn), 11); /* PAI tel with visual separators */
	cr_assert_str_eq(tn, "12155551212");
}

Test(sip, parses_response_and_reason)
{
	parse_ok("SIP/2.0 180 Ringing Now\r\n"
		 "Via: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n"
		 "CSeq: 7 INVITE\r\n"
		 "\r\n");
	cr_assert_not(m.is_request);
	cr_assert_eq(m.status, 180);
	cr_assert_str(m.reason, "Ringing Now");
	cr_assert_eq(m.method_id, SIP_METHOD_NONE);
	cr_assert_eq(m.n_hdrs, 2);
	cr_assert_eq(m.content_length, -1);

	parse_ok("SIP/2.0 200\r\n\r\n");
	cr_assert_eq(m.status, 200);
	cr_assert_eq(m.reason.len, 0);
	cr_assert_eq(m.n_hdrs, 0);

	cr_assert_eq(parse("SIP/2.0 099 Low\r\n\r\n"), -EINVAL);
	cr_assert_eq(parse("SIP/2.0 700 High\r\n\r\n"), -EINVAL);
	cr_assert_eq(parse("SIP/2.0 20 Short\r\n\r\n"), -EINVAL);
	cr_assert_eq(parse("SIP/2.0 2000 Long\r\n\r\n"), -EINVAL);
	cr_assert_eq(parse("SIP/3.0 200 OK\r\n\r\n"), -EINVAL);
}

Test(sip, classifies_compact_forms)
{
	parse_ok("BYE sip:bob@b.example SIP/2.0\r\n"
		 "v: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n"
		 "f: <sip:alice@a.example>;tag=1\r\n"
		 "t: <sip:bob@b.example>;tag=2\r\n"
		 "i: abc@a.example\r\n"
		 "m: <sip:alice@192.0.2.1>\r\n"
		 "y: abc.def.ghi;info=<https://x.example/c.pem>\r\n"
		 "c: application/sdp\r\n"
		 "e: gzip\r\n"
		 "k: timer\r\n"
		 "s: hello\r\n"
		 "o: refer\r\n"
		 "r: <sip:carol@c.example>\r\n"
		 "x: 90\r\n"
		 "u: talk\r\n"
		 "b: <sip:dave@d.example>\r\n"
		 "l: 0\r\n"
		 "CSeq: 2 BYE\r\n"
		 "\r\n");
	static const enum sip_hdr_id want[] = {
		SIP_HDR_VIA,       SIP_HDR_FROM,         SIP_HDR_TO,
		SIP_HDR_CALL_ID,   SIP_HDR_CONTACT,      SIP_HDR_IDENTITY,
		SIP_HDR_CONTENT_TYPE, SIP_HDR_CONTENT_ENCODING, SIP_HDR_SUPPORTED,
		SIP_HDR_SUBJECT,   SIP_HDR_EVENT,        SIP_HDR_REFER_TO,
		SIP_HDR_SESSION_EXPIRES, SIP_HDR_ALLOW_EVENTS, SIP_HDR_REFERRED_BY,
		SIP_HDR_CONTENT_LENGTH, SIP_HDR_CSEQ,
	};
	cr_assert_eq(m.n_hdrs, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < m.n_hdrs; i++)
		cr_assert_eq(m.hdrs[i].id, want[i], "header %u", i);
	cr_assert_eq(m.method_id, SIP_METHOD_BYE);
	cr_assert_eq(m.content_length, 0);
	cr_assert_str(sip_hdr_find(&m, "Call-ID", 7)->value, "abc@a.example");
	cr_assert_str(sip_hdr_find(&m, "i", 1)->value, "abc@a.example");
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_IDENTITY)->name, "y");
	/* unknown single letters stay OTHER */
	cr_assert_eq(sip_hdr_lookup("a", 1), SIP_HDR_OTHER);
	cr_assert_eq(sip_hdr_lookup("Z", 1), SIP_HDR_OTHER);
	cr_assert_eq(sip_hdr_lookup("V", 1), SIP_HDR_VIA);
}

Test(sip, names_are_case_insensitive)
{
	parse_ok("OPTIONS sip:x.example SIP/2.0\r\n"
		 "VIA: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n"
		 "from : <sip:a@a.example>;tag=1\r\n"
		 "tO:<sip:x.example>\r\n"
		 "call-id:   c1   \r\n"
		 "cseq: 1 OPTIONS\r\n"
		 "p-asserted-IDENTITY: <tel:+15551234567>\r\n"
		 "CONTENT-length: 0\r\n"
		 "X-Custom: one\r\n"
		 "x-custom: two\r\n"
		 "X-Other: three\r\n"
		 "\r\n");
	cr_assert_eq(m.method_id, SIP_METHOD_OPTIONS);
	cr_assert_eq(sip_hdr_first(&m, SIP_HDR_VIA)->id, SIP_HDR_VIA);
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_FROM)->value, "<sip:a@a.example>;tag=1");
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_TO)->value, "<sip:x.example>");
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_CALL_ID)->value, "c1");
	cr_assert_not_null(sip_hdr_first(&m, SIP_HDR_PAI));
	cr_assert_eq(sip_hdr_lookup("max-FORWARDS", 12), SIP_HDR_MAX_FORWARDS);
	cr_assert_eq(sip_hdr_lookup("RECORD-ROUTE", 12), SIP_HDR_RECORD_ROUTE);
	cr_assert_eq(sip_hdr_lookup("Record_Route", 12), SIP_HDR_OTHER);
	cr_assert_eq(sip_hdr_lookup("Call\rID", 7), SIP_HDR_OTHER);
	cr_assert_str_eq(sip_hdr_name(SIP_HDR_PAI), "P-Asserted-Identity");
	cr_assert_str_eq(sip_hdr_name(SIP_HDR_COUNT), "");

	/* unknown headers: by name, chained by name */
	const struct sip_hdr *h = sip_hdr_find(&m, "X-CUSTOM", 8);
	cr_assert_not_null(h);
	cr_assert_str(h->name, "X-Custom");
	h = sip_hdr_next(&m, h);
	cr_assert_not_null(h);
	cr_assert_str(h->value, "two");
	cr_assert_null(sip_hdr_next(&m, h));
	cr_assert_eq(sip_hdr_count(&m, SIP_HDR_OTHER), 3);
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_OTHER)->value, "one");
	cr_assert_null(sip_hdr_find(&m, "X-None", 6));
	/* request methods are case-sensitive: "invite" is an extension method */
	parse_ok("invite sip:x SIP/2.0\r\n\r\n");
	cr_assert_eq(m.method_id, SIP_METHOD_OTHER);
}

Test(sip, several_via_and_identity_headers)
{
	parse_ok("INVITE sip:+12125551213@b.example;user=phone SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP p1.example;branch=z9hG4bK1, SIP/2.0/TCP p2.example;branch=z9hG4bK2\r\n"
		 "Identity: aaa.bbb.ccc;info=<https://a.example/a.pem>;alg=ES256;ppt=shaken\r\n"
		 "v: SIP/2.0/UDP p3.example;branch=z9hG4bK3\r\n"
		 "From: <tel:+12155551212>;tag=a\r\n"
		 "To: <tel:+12125551213>\r\n"
		 "Call-ID: x\r\n"
		 "CSeq: 1 INVITE\r\n"
		 "y: ddd.eee.fff;info=<https://b.example/b.pem>;ppt=div\r\n"
		 "Content-Length: 0\r\n"
		 "\r\n");
	cr_assert_eq(sip_hdr_count(&m, SIP_HDR_VIA), 2);
	cr_assert_eq(sip_hdr_count(&m, SIP_HDR_IDENTITY), 2);
	const struct sip_hdr *h = sip_hdr_first(&m, SIP_HDR_VIA);
	struct sip_str l = h->value, e;
	cr_assert_eq(sip_list_next(&l, &e), 1);
	cr_assert_str(e, "SIP/2.0/UDP p1.example;branch=z9hG4bK1");
	cr_assert_eq(sip_list_next(&l, &e), 1);
	cr_assert_str(e, "SIP/2.0/TCP p2.example;branch=z9hG4bK2");
	cr_assert_eq(sip_list_next(&l, &e), 0);
	h = sip_hdr_next(&m, h);
	cr_assert_str(h->value, "SIP/2.0/UDP p3.example;branch=z9hG4bK3");
	cr_assert_null(sip_hdr_next(&m, h));

	h = sip_hdr_first(&m, SIP_HDR_IDENTITY);
	cr_assert_str(h->value, "aaa.bbb.ccc;info=<https://a.example/a.pem>;alg=ES256;ppt=shaken");
	struct sip_str params = {memchr(h->value.p, ';', h->value.len), 0}, v;
	params.len = h->value.len - (size_t)(params.p - h->value.p);
	cr_assert_eq(sip_param_get(params, "ppt", &v), 0);
	cr_assert_str(v, "shaken");
	cr_assert_eq(sip_param_get(params, "ALG", &v), 0);
	cr_assert_str(v, "ES256");
	cr_assert_eq(sip_param_get(params, "info", &v), 0);
	cr_assert_str(v, "<https://a.example/a.pem>");
	cr_assert_eq(sip_param_get(params, "x5u", &v), -ENOENT);
	h = sip_hdr_next(&m, h);
	cr_assert_str(h->name, "y");
	cr_assert_str(h->value, "ddd.eee.fff;info=<https://b.example/b.pem>;ppt=div");
}

Test(sip, list_respects_quotes_and_angles)
{
	struct sip_str l = S(" \"Smith, John \\\"JJ\\\"\" <sip:j@a.example;x=1,2>;tag=9 ,,"
			     "<tel:+15551234567>, sip:bare@b.example , ");
	struct sip_str e;
	cr_assert_eq(sip_list_next(&l, &e), 1);
	cr_assert_str(e, "\"Smith, John \\\"JJ\\\"\" <sip:j@a.example;x=1,2>;tag=9");
	struct sip_addr a;
	cr_assert_eq(sip_addr_parse(e.p, e.len, &a), 0);
	cr_assert(a.quoted);
	cr_assert(a.angle);
	cr_assert_str(a.display, "Smith, John \\\"JJ\\\"");
	cr_assert_str(a.uri, "sip:j@a.example;x=1,2");
	cr_assert_str(a.params, "tag=9");
	cr_assert_eq(sip_list_next(&l, &e), 1);
	cr_assert_str(e, "<tel:+15551234567>");
	cr_assert_eq(sip_list_next(&l, &e), 1);
	cr_assert_str(e, "sip:bare@b.example");
	cr_assert_eq(sip_list_next(&l, &e), 0);
	cr_assert_eq(sip_list_next(&l, &e), 0);

	struct sip_str bad = S("\"unterminated, <sip:a@b>");
	cr_assert_eq(sip_list_next(&bad, &e), -EINVAL);
	bad = S("<sip:a@b, <sip:c@d");
	cr_assert_eq(sip_list_next(&bad, &e), -EINVAL);
	bad = S("\"ends in escape\\");
	cr_assert_eq(sip_list_next(&bad, &e), -EINVAL);
	struct sip_str empty = S(" , ,\t");
	cr_assert_eq(sip_list_next(&empty, &e), 0);
}

Test(sip, name_addr_forms)
{
	struct sip_addr a;
	struct sip_str v;

	cr_assert_eq(sip_addr_parse("John Q. Public <sip:jqp@a.example>;tag=xy;foo", 45, &a), 0);
	cr_assert_str(a.display, "John Q. Public");
	cr_assert_not(a.quoted);
	cr_assert_str(a.uri, "sip:jqp@a.example");
	cr_assert_str(a.params, "tag=xy;foo");
	cr_assert_eq(sip_param_get(a.params, "tag", &v), 0);
	cr_assert_str(v, "xy");
	cr_assert_eq(sip_param_get(a.params, "foo", &v), 0);
	cr_assert_eq(v.len, 0);

	const char *bare = "sip:+12155551212@a.example;tag=77";
	cr_assert_eq(sip_addr_parse(bare, strlen(bare), &a), 0);
	cr_assert_not(a.angle);
	cr_assert_eq(a.display.len, 0);
	cr_assert_str(a.uri, "sip:+12155551212@a.example");
	cr_assert_str(a.params, "tag=77");

	const char *ht = "John\tDoe\t<sip:a@b>";
	cr_assert_eq(sip_addr_parse(ht, strlen(ht), &a), 0);
	cr_assert_str(a.display, "John\tDoe");
	cr_assert_str(a.uri, "sip:a@b");

	const char *q = "\"\" <tel:+1555>";
	cr_assert_eq(sip_addr_parse(q, strlen(q), &a), 0);
	cr_assert(a.quoted);
	cr_assert_eq(a.display.len, 0);
	cr_assert_str(a.uri, "tel:+1555");
	cr_assert_eq(a.params.len, 0);

	static const char *const bad[] = {
		"", "   ", "<>", "<sip:a@b", "\"x\" sip:a@b", "\"x <sip:a@b>", "<sip:a@b> junk",
		"<sip:a b@c>", "sip:a@b junk", "nocolon", "<sip:a@b>;p=<x>", "<sip:a@b>, <sip:c@d>",
		"sip:a@b,sip:c@d",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sip_addr_parse(bad[i], strlen(bad[i]), &a), -EINVAL, "%s", bad[i]);
}

Test(sip, uri_parts_and_params)
{
	struct sip_uri u;
	struct sip_str v;
	const char *s = "sip:+1-215;npdi:pw@[2001:db8::1]:5070;user=phone;LR;transport=tcp?Subject=x";

	cr_assert_eq(sip_uri_parse(s, strlen(s), &u), 0);
	cr_assert_eq(u.scheme, SIP_SCHEME_SIP);
	cr_assert_str(u.scheme_str, "sip");
	cr_assert_str(u.user, "+1-215;npdi");
	cr_assert_str(u.host, "[2001:db8::1]");
	cr_assert_eq(u.port, 5070);
	cr_assert_str(u.params, "user=phone;LR;transport=tcp");
	cr_assert_str(u.headers, "Subject=x");
	cr_assert_eq(sip_param_get(u.params, "USER", &v), 0);
	cr_assert_str(v, "phone");
	cr_assert_eq(sip_param_get(u.params, "lr", &v), 0);
	cr_assert_eq(v.len, 0);
	cr_assert_eq(sip_param_get(u.params, "maddr", &v), -ENOENT);

	s = "SIPS:b.example";
	cr_assert_eq(sip_uri_parse(s, strlen(s), &u), 0);
	cr_assert_eq(u.scheme, SIP_SCHEME_SIPS);
	cr_assert_eq(u.user.len, 0);
	cr_assert_str(u.host, "b.example");
	cr_assert_eq(u.port, 0);
	cr_assert_eq(u.params.len, 0);

	s = "tel:+1-215-555-1212;verstat=TN-Validation-Passed;phone-context=x";
	cr_assert_eq(sip_uri_parse(s, strlen(s), &u), 0);
	cr_assert_eq(u.scheme, SIP_SCHEME_TEL);
	cr_assert_str(u.user, "+1-215-555-1212");
	cr_assert_eq(u.host.len, 0);
	cr_assert_eq(sip_param_get(u.params, "verstat", &v), 0);
	cr_assert_str(v, "TN-Validation-Passed");

	s = "https://cert.example/x.pem";
	cr_assert_eq(sip_uri_parse(s, strlen(s), &u), 0);
	cr_assert_eq(u.scheme, SIP_SCHEME_OTHER);
	cr_assert_str(u.scheme_str, "https");

	static const char *const bad[] = {
		"", "sip", ":x", "sip:", "sip:a@", "sip:@b", "sip:b:0", "sip:b:65536", "sip:b:x",
		"sip:b:5060x", "sip:[::1", "sip:a b", "tel:", "tel:;x", "1sip:a", "sip:b\x01",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sip_uri_parse(bad[i], strlen(bad[i]), &u), -EINVAL, "%s", bad[i]);
}

Test(sip, param_lists)
{
	struct sip_str v;
	struct sip_str p = S(" ; cause=403 ;text=\"Stale; Date\";  x ; y = 2");

	cr_assert_eq(sip_param_get(p, "cause", &v), 0);
	cr_assert_str(v, "403");
	cr_assert_eq(sip_param_get(p, "text", &v), 0);
	cr_assert_str(v, "\"Stale; Date\"");
	cr_assert_eq(sip_param_get(p, "x", &v), 0);
	cr_assert_eq(v.len, 0);
	cr_assert_eq(sip_param_get(p, "y", &v), 0);
	cr_assert_str(v, "2");
	cr_assert_eq(sip_param_get(p, "z", &v), -ENOENT);
	cr_assert_eq(sip_param_get(S("a=\"open"), "b", &v), -EINVAL);
	cr_assert_eq(sip_param_get(S("=x"), "x", &v), -EINVAL);
	cr_assert_eq(sip_param_get(S("a b"), "b", &v), -EINVAL);
	cr_assert_eq(sip_param_get(S(""), "a", &v), -ENOENT);
}

static const char *tn_msg(const char *ruri, const char *hdrs)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf),
		 "INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n%s\r\n", ruri, hdrs);
	return buf;
}

Test(sip, calling_and_called_tn)
{
	char tn[TN_MAX + 1];

	/* PAI tel wins over From */
	parse_ok(tn_msg("sip:x@y", "From: <sip:+19995550000@a;user=phone>;tag=1\r\n"
				   "P-Asserted-Identity: \"A\" <tel:+1-215-555-1212;verstat=x>\r\n"));
	cr_assert_eq(sip_calling_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "12155551212");
	/* PAI sip user=phone */
	parse_ok(tn_msg("sip:x@y", "From: <sip:anonymous@anonymous.invalid>;tag=1\r\n"
				   "P-Asserted-Identity: <sip:2155551212@a.example;user=phone>\r\n"));
	cr_assert_eq(sip_calling_tn(&m, tn), 10);
	cr_assert_str_eq(tn, "2155551212");
	/* PAI without a TN first element, tel second element */
	parse_ok(tn_msg("sip:x@y", "P-Asserted-Identity: <sip:alice@a.example>, <tel:+442071234567>\r\n"
				   "From: <sip:+19995550000@a>;tag=1\r\n"));
	cr_assert_eq(sip_calling_tn(&m, tn), 12);
	cr_assert_str_eq(tn, "442071234567");
	/* several PAI headers: the second carries the TN */
	parse_ok(tn_msg("sip:x@y", "P-Asserted-Identity: <sip:alice@a.example>\r\n"
				   "P-Asserted-Identity: <tel:+15551230000>\r\n"));
	cr_assert_eq(sip_calling_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "15551230000");
	/* From fallback (no PAI), bare addr-spec */
	parse_ok(tn_msg("sip:x@y", "f: sip:+12155551212@a.example;tag=1\r\n"));
	cr_assert_eq(sip_calling_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "12155551212");
	/* From fallback when PAI is malformed */
	parse_ok(tn_msg("sip:x@y", "P-Asserted-Identity: <tel:+1555\r\n"
				   "From: \"B, b\" <tel:+15550001111>;tag=1\r\n"));
	cr_assert_eq(sip_calling_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "15550001111");
	/* no TN anywhere */
	parse_ok(tn_msg("sip:x@y", "From: <sip:alice@a.example>;tag=1\r\nTo: <sip:bob@b>\r\n"));
	cr_assert_eq(sip_calling_tn(&m, tn), -ENOENT);
	cr_assert_eq(sip_called_tn(&m, tn), -ENOENT);

	/* To wins over the Request-URI */
	parse_ok(tn_msg("sip:+12125550000@b;user=phone", "To: <tel:+12125551213>\r\n"));
	cr_assert_eq(sip_called_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "12125551213");
	/* To without a TN: the Request-URI */
	parse_ok(tn_msg("sip:+1-212-555-0000@b;user=phone", "To: <sip:bob@b.example>\r\n"));
	cr_assert_eq(sip_called_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "12125550000");
	/* tel Request-URI, no To */
	parse_ok(tn_msg("tel:+33123456789", ""));
	cr_assert_eq(sip_called_tn(&m, tn), 11);
	cr_assert_str_eq(tn, "33123456789");
	/* a response has no Request-URI */
	parse_ok("SIP/2.0 200 OK\r\nTo: <sip:bob@b>\r\n\r\n");
	cr_assert_eq(sip_called_tn(&m, tn), -ENOENT);
}

Test(sip, cseq)
{
	uint32_t n;
	struct sip_str meth;

	parse_ok("ACK sip:x SIP/2.0\r\nCSeq:  2147483647   ACK\r\n\r\n");
	cr_assert_eq(sip_cseq(&m, &n, &meth), 0);
	cr_assert_eq(n, 2147483647u);
	cr_assert_str(meth, "ACK");
	parse_ok("ACK sip:x SIP/2.0\r\nCSeq: 2147483648 ACK\r\n\r\n");
	cr_assert_eq(sip_cseq(&m, &n, &meth), -EINVAL);
	parse_ok("ACK sip:x SIP/2.0\r\nCSeq: 1ACK\r\n\r\n");
	cr_assert_eq(sip_cseq(&m, &n, &meth), -EINVAL);
	parse_ok("ACK sip:x SIP/2.0\r\nCSeq: 1 ACK x\r\n\r\n");
	cr_assert_eq(sip_cseq(&m, &n, &meth), -EINVAL);
	parse_ok("ACK sip:x SIP/2.0\r\nCSeq: ACK\r\n\r\n");
	cr_assert_eq(sip_cseq(&m, &n, &meth), -EINVAL);
	parse_ok("ACK sip:x SIP/2.0\r\n\r\n");
	cr_assert_eq(sip_cseq(&m, &n, &meth), -ENOENT);
}

Test(sip, dates)
{
	int64_t t;
	/* RFC 8224 §4.1 / RFC 3261 example, known epoch values */
	cr_assert_eq(sip_date_parse(S("Sat, 13 Nov 2010 23:29:00 GMT").p, 29, &t), 0);
	cr_assert_eq(t, 1289690940);
	cr_assert_eq(sip_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", 29, &t), 0);
	cr_assert_eq(t, 0);
	cr_assert_eq(sip_date_parse("Fri, 25 Sep 2015 19:12:25 GMT", 29, &t), 0);
	cr_assert_eq(t, 1443208345); /* the iat of RFC 8225's example */
	cr_assert_eq(sip_date_parse("Tue, 29 Feb 2000 12:00:00 GMT", 29, &t), 0);
	cr_assert_eq(t, 951825600);
	cr_assert_eq(sip_date_parse("Mon, 1 Mar 2100 00:00:00 GMT", 28, &t), 0);
	cr_assert_eq(t, 4107542400);
	cr_assert_eq(sip_date_parse("Fri, 31 Dec 9999 23:59:59 GMT", 29, &t), 0);
	cr_assert_eq(t, 253402300799);

	static const char *const bad[] = {
		"Sat, 13 Nov 2010 23:29:00 UTC", "Sat 13 Nov 2010 23:29:00 GMT",
		"Xyz, 13 Nov 2010 23:29:00 GMT", "Sat, 13 Nox 2010 23:29:00 GMT",
		"Sat, 32 Jan 2010 23:29:00 GMT", "Sat, 29 Feb 2100 00:00:00 GMT",
		"Sat, 00 Jan 2010 23:29:00 GMT", "Sat, 13 Nov 2010 24:00:00 GMT",
		"Sat, 13 Nov 2010 23:60:00 GMT", "Sat, 13 Nov 2010 23:29:61 GMT",
		"Sat, 13 Nov 1969 23:29:00 GMT", "Sat, 13 Nov 2010 23:29 GMT",
		"Sat, 13 Nov 2010 23:29:00 GMTX", "", "Sat, 1a Nov 2010 23:29:00 GMT",
		"Sat, 31 Apr 2010 23:29:00 GMT",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sip_date_parse(bad[i], strlen(bad[i]), &t), -EINVAL, "%s", bad[i]);

	parse_ok("OPTIONS sip:x SIP/2.0\r\nDate:  Sat, 13 Nov 2010 23:29:00 GMT \r\n\r\n");
	cr_assert_eq(sip_msg_date(&m, &t), 0);
	cr_assert_eq(t, 1289690940);
	parse_ok("OPTIONS sip:x SIP/2.0\r\n\r\n");
	cr_assert_eq(sip_msg_date(&m, &t), -ENOENT);
}

Test(sip, line_ends_and_body)
{
	/* bare LF accepted */
	parse_ok("OPTIONS sip:x SIP/2.0\nVia: SIP/2.0/UDP a\nContent-Length: 4\n\nabcd");
	cr_assert_eq(m.n_hdrs, 2);
	cr_assert_str(m.body, "abcd");
	/* no Content-Length: body is the rest */
	parse_ok("MESSAGE sip:x SIP/2.0\r\nVia: a\r\n\r\nhello\r\n");
	cr_assert_str(m.body, "hello\r\n");
	cr_assert_eq(m.content_length, -1);
	/* HT inside a value kept, trailing HT trimmed */
	parse_ok("OPTIONS sip:x SIP/2.0\r\nSubject: a\tb\t\r\n\r\n");
	cr_assert_str(sip_hdr_first(&m, SIP_HDR_SUBJECT)->value, "a\tb");
	/* empty value */
	parse_ok("OPTIONS sip:x SIP/2.0\r\nSubject:\r\n\r\n");
	cr_assert_eq(sip_hdr_first(&m, SIP_HDR_SUBJECT)->value.len, 0);
	/* leading zeros */
	parse_ok("OPTIONS sip:x SIP/2.0\r\nContent-Length: 00000000000000000003\r\n\r\nabc");
	cr_assert_eq(m.content_length, 3);
	/* duplicate equal Content-Length accepted */
	parse_ok("OPTIONS sip:x SIP/2.0\r\nl: 2\r\nContent-Length: 2\r\n\r\nab");
	cr_assert_eq(m.content_length, 2);
}

Test(sip, rejects_malformed)
{
	static const char *const bad[] = {
		"",
		"INVITE sip:x SIP/2.0",                               /* truncated start line */
		"INVITE sip:x SIP/2.0\r\n",                           /* no empty line */
		"INVITE sip:x SIP/2.0\r\nVia: a\r\n",                 /* no CRLFCRLF */
		"INVITE sip:x SIP/2.0\r\nVia: a",                     /* truncated header */
		"INVITE sip:x SIP/2.0\r\nVia: a\r",                   /* truncated CRLF */
		"INVITE sip:x SIP/2.0\r\nVia: a\r\r\n\r\n",           /* bare CR */
		"INVITE sip:x SIP/2.0\r\nVia: a\rb\r\n\r\n",          /* bare CR in value */
		"INVITE sip:x SIP/2.0\r\nVia: a\r\n \tfolded\r\n\r\n", /* folding */
		"INVITE sip:x SIP/2.0\r\n Via: a\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nVia a\r\n\r\n",              /* no colon */
		"INVITE sip:x SIP/2.0\r\n: a\r\n\r\n",                /* empty name */
		"INVITE sip:x SIP/2.0\r\nV@a: a\r\n\r\n",             /* bad name */
		"INVITE sip:x SIP/2.0\r\nVia: a\x01\r\n\r\n",         /* control byte */
		"INVITE sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\nabc",   /* short body */
		"INVITE sip:x SIP/2.0\r\nContent-Length: 1\r\n\r\nabc",   /* long body */
		"INVITE sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nContent-Length: 1x\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nContent-Length: \r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nl: 0\r\nContent-Length: 3\r\n\r\nabc", /* disagreeing */
		"INVITE  sip:x SIP/2.0\r\n\r\n",                      /* empty URI */
		"INVITE sip:x SIP/2.0 \r\n\r\n",
		"INVITE sip:x HTTP/1.1\r\n\r\n",
		"INVITE\tsip:x SIP/2.0\r\n\r\n",
		"INVITE sip:x\r\n\r\n",
		"IN@VITE sip:x SIP/2.0\r\n\r\n",
		" INVITE sip:x SIP/2.0\r\n\r\n",
		"\r\n\r\n",
		"SIP/2.0 200 O\x01K\r\n\r\n",
		"SIP/2.0 200OK\r\n\r\n",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i]), -EINVAL, "case %u accepted: %s", i, bad[i]);

	/* NUL bytes in the start line, a name and a value */
	static const char nul1[] = "INVITE sip:x\0 SIP/2.0\r\n\r\n";
	static const char nul2[] = "INVITE sip:x SIP/2.0\r\nVi\0a: a\r\n\r\n";
	static const char nul3[] = "INVITE sip:x SIP/2.0\r\nVia: a\0b\r\n\r\n";
	cr_assert_eq(sip_parse(&m, nul1, sizeof(nul1) - 1), -EINVAL);
	cr_assert_eq(sip_parse(&m, nul2, sizeof(nul2) - 1), -EINVAL);
	cr_assert_eq(sip_parse(&m, nul3, sizeof(nul3) - 1), -EINVAL);
	/* NUL in a body is fine */
	static const char nulbody[] = "MESSAGE sip:x SIP/2.0\r\nl: 3\r\n\r\na\0b";
	cr_assert_eq(sip_parse(&m, nulbody, sizeof(nulbody) - 1), 0);
	cr_assert_eq(m.body.len, 3);
	cr_assert_eq(sip_parse(&m, NULL, 10), -EINVAL);
}

Test(sip, rejects_too_many_headers_and_huge_lines)
{
	static char buf[SIP_MSG_MAX + 64];
	size_t n = (size_t)sprintf(buf, "OPTIONS sip:x SIP/2.0\r\n");
	for (unsigned i = 0; i < SIP_MAX_HDRS; i++)
		n += (size_t)sprintf(buf + n, "X-H%u: %u\r\n", i, i);
	memcpy(buf + n, "\r\n", 2);
	cr_assert_eq(sip_parse(&m, buf, n + 2), 0);
	cr_assert_eq(m.n_hdrs, SIP_MAX_HDRS);
	n += (size_t)sprintf(buf + n, "X-One-Too-Many: y\r\n\r\n");
	cr_assert_eq(sip_parse(&m, buf, n), -EINVAL);

	/* a header line of exactly SIP_LINE_MAX bytes passes, one more fails */
	n = (size_t)sprintf(buf, "OPTIONS sip:x SIP/2.0\r\nSubject: ");
	size_t start = n - strlen("Subject: ");
	memset(buf + n, 'a', SIP_LINE_MAX - (n - start));
	n = start + SIP_LINE_MAX;
	memcpy(buf + n, "\r\n\r\n", 4);
	cr_assert_eq(sip_parse(&m, buf, n + 4), 0);
	cr_assert_eq(sip_hdr_first(&m, SIP_HDR_SUBJECT)->value.len, SIP_LINE_MAX - 9);
	buf[n] = 'a';
	memcpy(buf + n + 1, "\r\n\r\n", 4);
	cr_assert_eq(sip_parse(&m, buf, n + 5), -EINVAL);

	/* a message over SIP_MSG_MAX */
	memset(buf, 'a', sizeof(buf));
	cr_assert_eq(sip_parse(&m, buf, SIP_MSG_MAX + 1), -EINVAL);
	/* a huge start line without an end */
	cr_assert_eq(sip_parse(&m, buf, SIP_MSG_MAX), -EINVAL);
}

/* ---- rewriter ---------------------------------------------------------------------- */

static char out[8192];
static struct sip_msg m2;

static void reparse(long n)
{
	cr_assert_gt(n, 0, "rewrite failed: %ld", n);
	cr_assert_eq(sip_parse(&m2, out, (size_t)n), 0, "output does not re-parse:\n%.*s", (int)n,
		     out);
}

Test(sip, add_identity_header)
{
	parse_ok(demo_invite);
	long n = sip_add_hdr(&m, "Identity: a.b.c;info=<https://cert.example.org/passport.cer>;"
				 "alg=ES256;ppt=shaken",
			     out, sizeof(out));
	static const char want[] =
		"INVITE sip:+12125551213@sbc.example.net;user=phone SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-74bf9-1;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: \"Alice\" <sip:+12155551212@198.51.100.7;user=phone>;tag=4fa3c9\r\n"
		"To: <sip:+12125551213@sbc.example.net;user=phone>\r\n"
		"Call-ID: 7a4c2e1b-3c2a-4b7e-9d1f@192.0.2.10\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: <sip:+12155551212@192.0.2.10:5060>\r\n"
		"P-Asserted-Identity: <tel:+1-215-555-1212>\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: 0\r\n"
		"Identity: a.b.c;info=<https://cert.example.org/passport.cer>;alg=ES256;ppt=shaken\r\n"
		"\r\n";
	cr_assert_eq(n, (long)sizeof(want) - 1);
	cr_assert_eq(memcmp(out, want, (size_t)n), 0, "%.*s", (int)n, out);
	reparse(n);
	cr_assert_eq(m2.n_hdrs, m.n_hdrs + 1);
	cr_assert_str(sip_hdr_first(&m2, SIP_HDR_IDENTITY)->value,
		      "a.b.c;info=<https://cert.example.org/passport.cer>;alg=ES256;ppt=shaken");

	/* with a body: inserted before the empty line, body untouched */
	parse_ok(bench_invite);
	struct sip_str lines[2] = {S("Identity: x.y.z"), S("X-Trace: 1")};
	n = sip_add_hdrs(&m, lines, 2, out, sizeof(out));
	reparse(n);
	cr_assert_eq((size_t)n, strlen(bench_invite) + 17 + 12);
	cr_assert_eq(m2.body.len, 144);
	cr_assert_eq(memcmp(m2.body.p, m.body.p, 144), 0);
	cr_assert_eq(m2.hdrs[14].id, SIP_HDR_IDENTITY);
	cr_assert_str(m2.hdrs[15].name, "X-Trace");
	cr_assert_eq(memcmp(out, bench_invite, m.hdr_end), 0);

	/* every size below the need: -ENOSPC, never a write past cap */
	for (size_t cap = 0; cap < (size_t)n; cap += 37) {
		memset(out, 0x5a, sizeof(out));
		cr_assert_eq(sip_add_hdrs(&m, lines, 2, out, cap), -ENOSPC);
		cr_assert_eq(out[cap], 0x5a);
	}

	/* injection and bad lines */
	cr_assert_eq(sip_add_hdr(&m, "Identity: a\r\nVia: evil", out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_add_hdr(&m, "Identity a", out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_add_hdr(&m, "", out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_add_hdr(&m, ": a", out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_add_hdr(&m, NULL, out, sizeof(out)), -EINVAL);
}

Test(sip, add_header_respects_limits)
{
	static char buf[4096];
	size_t n = (size_t)sprintf(buf, "OPTIONS sip:x SIP/2.0\r\n");
	for (unsigned i = 0; i < SIP_MAX_HDRS; i++)
		n += (size_t)sprintf(buf + n, "X-H%u: %u\r\n", i, i);
	n += (size_t)sprintf(buf + n, "\r\n");
	cr_assert_eq(sip_parse(&m, buf, n), 0);
	cr_assert_eq(sip_add_hdr(&m, "Identity: a", out, sizeof(out)), -EINVAL);
}

static long verstat(unsigned targets, const char *v)
{
	return sip_set_uri_param(&m, targets, "verstat", v, out, sizeof(out));
}

static void expect_out(long n, const char *want)
{
	cr_assert_eq(n, (long)strlen(want), "got %ld:\n%.*s", n, n > 0 ? (int)n : 0, out);
	cr_assert_eq(memcmp(out, want, (size_t)n), 0, "got:\n%.*s\nwant:\n%s", (int)n, out, want);
	reparse(n);
}

Test(sip, verstat_on_pai_and_from)
{
	parse_ok(demo_invite);
	long n = verstat(SIP_TARGET_PAI | SIP_TARGET_FROM, "TN-Validation-Passed");
	static const char want[] =
		"INVITE sip:+12125551213@sbc.example.net;user=phone SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-74bf9-1;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: \"Alice\" <sip:+12155551212@198.51.100.7;user=phone;verstat=TN-Validation-Passed>"
		";tag=4fa3c9\r\n"
		"To: <sip:+12125551213@sbc.example.net;user=phone>\r\n"
		"Call-ID: 7a4c2e1b-3c2a-4b7e-9d1f@192.0.2.10\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: <sip:+12155551212@192.0.2.10:5060>\r\n"
		"P-Asserted-Identity: <tel:+1-215-555-1212;verstat=TN-Validation-Passed>\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	expect_out(n, want);

	/* the output, rewritten again: the value is replaced, not appended */
	memcpy(out + 4096, out, (size_t)n);
	cr_assert_eq(sip_parse(&m, out + 4096, (size_t)n), 0);
	long n2 = sip_set_uri_param(&m, SIP_TARGET_PAI | SIP_TARGET_FROM, "VERSTAT",
				    "TN-Validation-Failed", out, 4096);
	cr_assert_gt(n2, 0);
	cr_assert_eq(sip_parse(&m2, out, (size_t)n2), 0);
	struct sip_addr a;
	struct sip_uri u;
	struct sip_str v;
	const struct sip_hdr *h = sip_hdr_first(&m2, SIP_HDR_PAI);
	cr_assert_eq(sip_addr_parse(h->value.p, h->value.len, &a), 0);
	cr_assert_str(a.uri, "tel:+1-215-555-1212;verstat=TN-Validation-Failed");
	h = sip_hdr_first(&m2, SIP_HDR_FROM);
	cr_assert_eq(sip_addr_parse(h->value.p, h->value.len, &a), 0);
	cr_assert_eq(sip_uri_parse(a.uri.p, a.uri.len, &u), 0);
	cr_assert_eq(sip_param_get(u.params, "verstat", &v), 0);
	cr_assert_str(v, "TN-Validation-Failed");
	cr_assert_str(a.params, "tag=4fa3c9");
	cr_assert_eq(n2, n);

	/* PAI only */
	parse_ok(demo_invite);
	n = verstat(SIP_TARGET_PAI, "No-TN-Validation");
	reparse(n);
	cr_assert_eq((size_t)n, strlen(demo_invite) + strlen(";verstat=No-TN-Validation"));
	cr_assert_str(sip_hdr_first(&m2, SIP_HDR_FROM)->value,
		      "\"Alice\" <sip:+12155551212@198.51.100.7;user=phone>;tag=4fa3c9");
}

Test(sip, uri_param_forms)
{
	/* bare addr-spec From gets <>; tag stays a header parameter; PAI absent */
	parse_ok("INVITE sip:b SIP/2.0\r\nf: sip:+12155551212@a.example;tag=9\r\n\r\n");
	expect_out(verstat(SIP_TARGET_PAI | SIP_TARGET_FROM, "TN-Validation-Passed"),
		   "INVITE sip:b SIP/2.0\r\n"
		   "f: <sip:+12155551212@a.example;verstat=TN-Validation-Passed>;tag=9\r\n\r\n");
	/* bare tel without params */
	parse_ok("INVITE sip:b SIP/2.0\r\nFrom: tel:+15551234567\r\n\r\n");
	expect_out(verstat(SIP_TARGET_FROM, "TN-Validation-Failed"),
		   "INVITE sip:b SIP/2.0\r\n"
		   "From: <tel:+15551234567;verstat=TN-Validation-Failed>\r\n\r\n");
	/* URI headers: the parameter goes before '?' */
	parse_ok("INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b;user=phone?X=1>;tag=2\r\n\r\n");
	expect_out(verstat(SIP_TARGET_FROM, "x"),
		   "INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b;user=phone;verstat=x?X=1>;tag=2\r\n\r\n");
	/* existing parameter without a value gets one; value NULL drops one */
	parse_ok("INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b;verstat;lr>\r\n\r\n");
	expect_out(verstat(SIP_TARGET_FROM, "v"),
		   "INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b;verstat=v;lr>\r\n\r\n");
	parse_ok("INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b;VerStat=old;lr>\r\n\r\n");
	expect_out(verstat(SIP_TARGET_FROM, NULL),
		   "INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b;VerStat;lr>\r\n\r\n");
	parse_ok("INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b>\r\n\r\n");
	expect_out(verstat(SIP_TARGET_FROM, NULL),
		   "INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b;verstat>\r\n\r\n");
	/* PAI list: the first element only; PAI after From in the message */
	parse_ok("INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\n"
		 "P-Asserted-Identity: \"A, B\" <sip:+1555@b;user=phone>, <tel:+1555>\r\n\r\n");
	expect_out(verstat(SIP_TARGET_FROM | SIP_TARGET_PAI, "p"),
		   "INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b;verstat=p>;tag=1\r\n"
		   "P-Asserted-Identity: \"A, B\" <sip:+1555@b;user=phone;verstat=p>, "
		   "<tel:+1555>\r\n\r\n");

	/* errors */
	cr_assert_eq(verstat(SIP_TARGET_FROM, "a;b"), -EINVAL);
	cr_assert_eq(verstat(SIP_TARGET_FROM, "a>b"), -EINVAL);
	cr_assert_eq(verstat(SIP_TARGET_FROM, "a b"), -EINVAL);
	cr_assert_eq(sip_set_uri_param(&m, SIP_TARGET_FROM, "ver stat", "x", out, sizeof(out)),
		     -EINVAL);
	cr_assert_eq(sip_set_uri_param(&m, SIP_TARGET_FROM, "", "x", out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_set_uri_param(&m, 0x80, "v", "x", out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_set_uri_param(&m, SIP_TARGET_FROM, "v", "x", out, 20), -ENOSPC);
	parse_ok("INVITE sip:b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n");
	cr_assert_eq(verstat(SIP_TARGET_FROM | SIP_TARGET_PAI, "x"), -ENOENT);
	parse_ok("INVITE sip:b SIP/2.0\r\nFrom: <mailto:a@b>\r\n\r\n");
	cr_assert_eq(verstat(SIP_TARGET_FROM, "x"), -EINVAL);
	parse_ok("INVITE sip:b SIP/2.0\r\nFrom: <sip:a@b\r\n\r\n");
	cr_assert_eq(verstat(SIP_TARGET_FROM, "x"), -EINVAL);
}

/* ---- responses --------------------------------------------------------------------- */

static const char req_multi_via[] =
	"INVITE sip:+12125551213@sbc.example.net;user=phone SIP/2.0\r\n"
	"Via: SIP/2.0/UDP p1.example:5060;branch=z9hG4bK-1;received=192.0.2.1\r\n"
	"v: SIP/2.0/UDP p2.example;branch=z9hG4bK-2, SIP/2.0/TCP p3.example;branch=z9hG4bK-3\r\n"
	"f: \"Alice\" <sip:+12155551212@a.example;user=phone>;tag=fa\r\n"
	"t: <sip:+12125551213@b.example;user=phone>\r\n"
	"i: cid-1@a.example\r\n"
	"CSeq: 10 INVITE\r\n"
	"Max-Forwards: 70\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

Test(sip, response_302_with_identity)
{
	parse_ok(req_multi_via);
	struct sip_str extra[] = {S("Identity: h.c.s;info=<https://x.example/c.pem>;alg=ES256;"
				    "ppt=shaken")};
	struct sip_resp_opts o = {.to_tag = "sh-1", .contact_ruri = true, .hdrs = extra,
				  .n_hdrs = 1};
	long n = sip_build_response(&m, 302, NULL, &o, out, sizeof(out));
	static const char want[] =
		"SIP/2.0 302 Moved Temporarily\r\n"
		"Via: SIP/2.0/UDP p1.example:5060;branch=z9hG4bK-1;received=192.0.2.1\r\n"
		"Via: SIP/2.0/UDP p2.example;branch=z9hG4bK-2, SIP/2.0/TCP p3.example;branch=z9hG4bK-3\r\n"
		"From: \"Alice\" <sip:+12155551212@a.example;user=phone>;tag=fa\r\n"
		"To: <sip:+12125551213@b.example;user=phone>;tag=sh-1\r\n"
		"Call-ID: cid-1@a.example\r\n"
		"CSeq: 10 INVITE\r\n"
		"Contact: <sip:+12125551213@sbc.example.net;user=phone>\r\n"
		"Identity: h.c.s;info=<https://x.example/c.pem>;alg=ES256;ppt=shaken\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	expect_out(n, want);
	cr_assert_not(m2.is_request);
	cr_assert_eq(m2.status, 302);

	/* undersized buffers */
	for (size_t cap = 0; cap < (size_t)n; cap += 13) {
		memset(out, 0x5a, sizeof(out));
		cr_assert_eq(sip_build_response(&m, 302, NULL, &o, out, cap), -ENOSPC);
		cr_assert_eq(out[cap], 0x5a);
	}
}

Test(sip, response_contact_extra_and_existing_tag)
{
	parse_ok("OPTIONS sip:sbc.example SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP a.example;branch=z9hG4bK7\r\n"
		 "From: <sip:ping@a.example>;tag=p1\r\n"
		 "To: <sip:sbc.example>;tag=already\r\n"
		 "Call-ID: ping-1\r\n"
		 "CSeq: 5 OPTIONS\r\n"
		 "\r\n");
	struct sip_resp_opts o = {.to_tag = "new", .contact_ruri = true,
				  .contact_extra = S(";verstat=TN-Validation-Passed")};
	expect_out(sip_build_response(&m, 200, "OK", &o, out, sizeof(out)),
		   "SIP/2.0 200 OK\r\n"
		   "Via: SIP/2.0/UDP a.example;branch=z9hG4bK7\r\n"
		   "From: <sip:ping@a.example>;tag=p1\r\n"
		   "To: <sip:sbc.example>;tag=already\r\n"
		   "Call-ID: ping-1\r\n"
		   "CSeq: 5 OPTIONS\r\n"
		   "Contact: <sip:sbc.example;verstat=TN-Validation-Passed>\r\n"
		   "Content-Length: 0\r\n"
		   "\r\n");
	/* error response: reason header, no opts */
	struct sip_str rs[] = {S("Reason: SIP;cause=438;text=\"Invalid Identity Header\"")};
	struct sip_resp_opts o2 = {.to_tag = "x9", .hdrs = rs, .n_hdrs = 1};
	parse_ok(req_multi_via);
	long n = sip_build_response(&m, 438, NULL, &o2, out, sizeof(out));
	reparse(n);
	cr_assert_eq(m2.status, 438);
	cr_assert_str(m2.reason, "Invalid Identity Header");
	cr_assert_str(sip_hdr_first(&m2, SIP_HDR_REASON)->value,
		      "SIP;cause=438;text=\"Invalid Identity Header\"");
	cr_assert_eq(m2.content_length, 0);
	cr_assert_eq(sip_hdr_count(&m2, SIP_HDR_VIA), 2);

	static const struct {
		unsigned code;
		const char *reason;
	} std[] = {{400, "Bad Request"}, {403, "Forbidden"}, {428, "Use Identity Header"},
		   {436, "Bad Identity Info"}, {437, "Unsupported Credential"},
		   {503, "Service Unavailable"}, {299, "Unknown"}};
	for (unsigned i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
		n = sip_build_response(&m, std[i].code, NULL, NULL, out, sizeof(out));
		reparse(n);
		cr_assert_eq(m2.status, std[i].code);
		cr_assert_str(m2.reason, std[i].reason);
		cr_assert_str(sip_hdr_first(&m2, SIP_HDR_TO)->value,
			      "<sip:+12125551213@b.example;user=phone>");
	}
}

Test(sip, response_rejects_bad_input)
{
	parse_ok(req_multi_via);
	struct sip_resp_opts o = {.to_tag = "a b"};
	cr_assert_eq(sip_build_response(&m, 200, NULL, &o, out, sizeof(out)), -EINVAL);
	o.to_tag = "";
	cr_assert_eq(sip_build_response(&m, 200, NULL, &o, out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_build_response(&m, 99, NULL, NULL, out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_build_response(&m, 700, NULL, NULL, out, sizeof(out)), -EINVAL);
	cr_assert_eq(sip_build_response(&m, 200, "O\r\nK", NULL, out, sizeof(out)), -EINVAL);
	struct sip_str bad[] = {S("Reason: x\r\nVia: y")};
	struct sip_resp_opts o2 = {.hdrs = bad, .n_hdrs = 1};
	cr_assert_eq(sip_build_response(&m, 200, NULL, &o2, out, sizeof(out)), -EINVAL);
	struct sip_resp_opts o3 = {.contact_ruri = true, .contact_extra = S("\r\nX: y")};
	cr_assert_eq(sip_build_response(&m, 302, NULL, &o3, out, sizeof(out)), -EINVAL);
	/* a response is not a request; missing mandatory headers */
	parse_ok("SIP/2.0 200 OK\r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 X\r\n\r\n");
	cr_assert_eq(sip_build_response(&m, 200, NULL, NULL, out, sizeof(out)), -EINVAL);
	parse_ok("BYE sip:x SIP/2.0\r\nVia: a\r\nFrom: <sip:a@b>\r\nTo: <sip:b@c>\r\nCSeq: 1 BYE\r\n"
		 "\r\n");
	cr_assert_eq(sip_build_response(&m, 200, NULL, NULL, out, sizeof(out)), -EINVAL);
}
