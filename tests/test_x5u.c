/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * x5u fetch policy, the pure part: RFC 6890 / IANA special-purpose address blocks (IPv4 and
 * IPv6, with edges just inside and just outside), the URL rules of ATIS-1000074 (https only, no
 * userinfo/query/fragment, path required, ports, strict numeric hosts), the allow-list and the
 * combined x5u_url_check(). No network: x5u_fetch() is covered by tests/x5u_fetch.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dataplane/certcache/x5u_fetch.h"

/* ---- addresses ------------------------------------------------------------------------ */

struct addr_case {
	const char *text;
	bool special;
};

static bool special4(const char *text)
{
	uint8_t a[4];

	cr_assert_eq(inet_pton(AF_INET, text, a), 1, "bad test address %s", text);
	return x5u_addr4_special(a);
}

static bool special6(const char *text)
{
	uint8_t a[16];

	cr_assert_eq(inet_pton(AF_INET6, text, a), 1, "bad test address %s", text);
	return x5u_addr6_special(a);
}

/* Each RFC 6890 block: its first and last address (in), and its neighbours (out). */
static const struct addr_case v4_cases[] = {
	/* 0.0.0.0/8 "this network" */
	{ "0.0.0.0", true }, { "0.255.255.255", true }, { "1.0.0.0", false },
	/* 10.0.0.0/8 private */
	{ "9.255.255.255", false }, { "10.0.0.0", true }, { "10.255.255.255", true },
	{ "11.0.0.0", false },
	/* 100.64.0.0/10 shared address space (CGNAT) */
	{ "100.63.255.255", false }, { "100.64.0.0", true }, { "100.127.255.255", true },
	{ "100.128.0.0", false },
	/* 127.0.0.0/8 loopback */
	{ "126.255.255.255", false }, { "127.0.0.0", true }, { "127.0.0.1", true },
	{ "127.255.255.255", true }, { "128.0.0.0", false },
	/* 169.254.0.0/16 link-local */
	{ "169.253.255.255", false }, { "169.254.0.0", true }, { "169.254.169.254", true },
	{ "169.254.255.255", true }, { "169.255.0.0", false },
	/* 172.16.0.0/12 private */
	{ "172.15.255.255", false }, { "172.16.0.0", true }, { "172.31.255.255", true },
	{ "172.32.0.0", false },
	/* 192.0.0.0/24 IETF protocol assignments */
	{ "191.255.255.255", false }, { "192.0.0.0", true }, { "192.0.0.255", true },
	{ "192.0.1.0", false },
	/* 192.0.2.0/24 TEST-NET-1 */
	{ "192.0.1.255", false }, { "192.0.2.0", true }, { "192.0.2.255", true },
	{ "192.0.3.0", false },
	/* 192.88.99.0/24 6to4 relay anycast */
	{ "192.88.98.255", false }, { "192.88.99.0", true }, { "192.88.99.255", true },
	{ "192.88.100.0", false },
	/* 192.168.0.0/16 private */
	{ "192.167.255.255", false }, { "192.168.0.0", true }, { "192.168.255.255", true },
	{ "192.169.0.0", false },
	/* 198.18.0.0/15 benchmarking */
	{ "198.17.255.255", false }, { "198.18.0.0", true }, { "198.19.255.255", true },
	{ "198.20.0.0", false },
	/* 198.51.100.0/24 TEST-NET-2 */
	{ "198.51.99.255", false }, { "198.51.100.0", true }, { "198.51.100.255", true },
	{ "198.51.101.0", false },
	/* 203.0.113.0/24 TEST-NET-3 */
	{ "203.0.112.255", false }, { "203.0.113.0", true }, { "203.0.113.255", true },
	{ "203.0.114.0", false },
	/* 224.0.0.0/4 multicast, 240.0.0.0/4 reserved, 255.255.255.255 limited broadcast */
	{ "223.255.255.255", false }, { "224.0.0.0", true }, { "239.255.255.255", true },
	{ "240.0.0.0", true }, { "255.255.255.254", true }, { "255.255.255.255", true },
	/* later IANA registry entries the implementation also blocks (AS112, AMT) */
	{ "192.31.195.255", false }, { "192.31.196.0", true }, { "192.31.196.255", true },
	{ "192.31.197.0", false },
	{ "192.52.192.255", false }, { "192.52.193.0", true }, { "192.52.194.0", false },
	{ "192.175.47.255", false }, { "192.175.48.0", true }, { "192.175.49.0", false },
	/* public */
	{ "1.1.1.1", false }, { "8.8.8.8", false }, { "93.184.216.34", false },
	{ "100.0.0.1", false }, { "172.0.0.1", false }, { "192.0.32.1", false },
	{ "198.0.0.1", false }, { "203.0.0.1", false },
};

Test(x5u, addr4_special_blocks_and_edges)
{
	for (size_t i = 0; i < sizeof(v4_cases) / sizeof(v4_cases[0]); i++)
		cr_expect_eq(special4(v4_cases[i].text), v4_cases[i].special, "%s: expected %s",
			     v4_cases[i].text, v4_cases[i].special ? "special" : "public");
}

Test(x5u, addr4_every_first_octet)
{
	/* Whole /8s: special exactly for 0, 10, 127, 224..255 (x.1.1.1 misses the smaller ones) */
	for (unsigned o = 0; o < 256; o++) {
		uint8_t a[4] = { (uint8_t)o, 1, 1, 1 };
		bool want = o == 0 || o == 10 || o == 127 || o >= 224;

		cr_expect_eq(x5u_addr4_special(a), want, "%u.1.1.1", o);
	}
}

static const struct addr_case v6_cases[] = {
	/* unspecified, loopback, the rest of ::/8 */
	{ "::", true }, { "::1", true }, { "::2", true }, { "::8.8.8.8", true },
	{ "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
	/* fc00::/7 unique local */
	{ "fc00::", true }, { "fd12:3456::1", true },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
	/* fe80::/10 link-local */
	{ "fe80::", true }, { "fe80::1", true },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
	/* ff00::/8 multicast */
	{ "ff00::", true }, { "ff02::1", true }, { "ff0e::101", true },
	/* outside 2000::/3: special by rule; its edges */
	{ "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true }, { "2000::", false },
	{ "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false }, { "4000::", true },
	{ "5f00::1", true }, { "e000::1", true },
	/* 2001:db8::/32 documentation */
	{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false }, { "2001:db8::", true },
	{ "2001:db8::1", true }, { "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true },
	{ "2001:db9::", false },
	/* 2001::/23 IETF protocol assignments (Teredo, ORCHID, ...) */
	{ "2001::", true }, { "2001:0:4136:e378:8000:63bf:3fff:fdd2", true },
	{ "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", true }, { "2001:200::", false },
	{ "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false },
	/* 2002::/16 6to4 */
	{ "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false }, { "2002::", true },
	{ "2002:7f00:1::", true }, { "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true },
	{ "2003::", false },
	/* 3fff::/20 documentation */
	{ "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false }, { "3fff::", true },
	{ "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", true }, { "3fff:1000::", false },
	/* 64:ff9b::/96 NAT64: judged by the embedded IPv4 address */
	{ "64:ff9b::8.8.8.8", false }, { "64:ff9b::127.0.0.1", true },
	{ "64:ff9b::10.0.0.1", true }, { "64:ff9b::169.254.169.254", true },
	{ "64:ff9b::255.255.255.255", true }, { "64:ff9b::223.255.255.255", false },
	/* just outside the /96 (and the local-use 64:ff9b:1::/48): outside 2000::/3 */
	{ "64:ff9b::1:808:808", true }, { "64:ff9b:1::808:808", true },
	{ "64:ff9a:ffff:ffff:ffff:ffff:808:808", true },
	/* ::ffff:0:0/96 IPv4-mapped: judged by the embedded IPv4 address */
	{ "::ffff:8.8.8.8", false }, { "::ffff:1.1.1.1", false }, { "::ffff:127.0.0.1", true },
	{ "::ffff:0.0.0.0", true }, { "::ffff:192.168.1.1", true }, { "::ffff:100.64.0.1", true },
	{ "::ffff:224.0.0.1", true },
	/* just outside the mapped /96: ::/8 */
	{ "::fffe:808:808", true }, { "::1:ffff:808:808", true }, { "::ffff:0:808:808", true },
	/* public */
	{ "2606:4700:4700::1111", false }, { "2001:4860:4860::8888", false },
	{ "2a00:1450:4001:80b::200e", false }, { "2400:cb00::1", false },
};

Test(x5u, addr6_special_blocks_and_edges)
{
	for (size_t i = 0; i < sizeof(v6_cases) / sizeof(v6_cases[0]); i++)
		cr_expect_eq(special6(v6_cases[i].text), v6_cases[i].special, "%s: expected %s",
			     v6_cases[i].text, v6_cases[i].special ? "special" : "public");
}

Test(x5u, addr6_mapped_and_nat64_follow_v4)
{
	/* For every first octet, the mapped and NAT64 forms agree with the IPv4 verdict. */
	for (unsigned o = 0; o < 256; o++) {
		uint8_t v4[4] = { (uint8_t)o, 51, 100, 7 };
		uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff };
		uint8_t nat64[16] = { 0x00, 0x64, 0xff, 0x9b };

		memcpy(mapped + 12, v4, 4);
		memcpy(nat64 + 12, v4, 4);
		cr_expect_eq(x5u_addr6_special(mapped), x5u_addr4_special(v4), "::ffff:%u.51.100.7",
			     o);
		cr_expect_eq(x5u_addr6_special(nat64), x5u_addr4_special(v4),
			     "64:ff9b::%u.51.100.7", o);
	}
}

/* ---- URL parsing ------------------------------------------------------------------------ */

static int parse(const char *url, struct x5u_url *u, const char **why)
{
	return x5u_url_parse(url, strlen(url), u, why);
}

Test(x5u, url_good_name)
{
	static const char url[] = "https://cert.example.com/certs/sp.pem";
	struct x5u_url u;
	const char *why = NULL;

	cr_assert_eq(parse(url, &u, &why), 0, "%s", why);
	cr_expect_str_eq(why, "");
	cr_expect_eq(u.host_kind, X5U_HOST_NAME);
	cr_expect_str_eq(u.host, "cert.example.com");
	cr_expect_eq(u.port, 443);
	cr_expect_eq(u.path_off, strlen("https://cert.example.com"));
	cr_expect_str_eq(url + u.path_off, "/certs/sp.pem");
}

Test(x5u, url_good_port_path_chars)
{
	static const char url[] = "https://sti-cr.example.net:8443/a/b%2Fc~d_e.f-g!$&'()*+,;=:@x";
	struct x5u_url u;
	const char *why = NULL;

	cr_assert_eq(parse(url, &u, &why), 0, "%s", why);
	cr_expect_str_eq(u.host, "sti-cr.example.net");
	cr_expect_eq(u.port, 8443);
	cr_expect_str_eq(url + u.path_off, "/a/b%2Fc~d_e.f-g!$&'()*+,;=:@x");
}

Test(x5u, url_root_path_is_enough)
{
	struct x5u_url u;

	cr_expect_eq(parse("https://a/", &u, NULL), 0);
	cr_expect_str_eq(u.host, "a");
	cr_expect_eq(u.path_off, 9);
	cr_expect_eq(parse("https://a:443/", &u, NULL), 0);
	cr_expect_eq(u.path_off, 13);
}

Test(x5u, url_scheme_case_insensitive_host_lowered)
{
	static const char *const urls[] = {
		"HTTPS://Cert.EXAMPLE.com/x.pem",
		"HtTpS://cert.example.COM/x.pem",
		"https://CERT.EXAMPLE.COM/x.pem",
	};
	struct x5u_url u;

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		cr_expect_eq(parse(urls[i], &u, NULL), 0, "%s", urls[i]);
		cr_expect_str_eq(u.host, "cert.example.com", "%s", urls[i]);
	}
}

/* URLs x5u_url_parse() must refuse, each with the fault it must name (a substring of why). */
static const struct {
	const char *url;
	const char *why;
} bad_urls[] = {
	/* scheme */
	{ "http://cert.example.com/x.pem", "scheme" },
	{ "HTTP://cert.example.com/x.pem", "scheme" },
	{ "ftp://cert.example.com/x.pem", "scheme" },
	{ "httpss://cert.example.com/x.pem", "scheme" },
	{ "https:/cert.example.com/x.pem", "scheme" },
	{ "https:cert.example.com/x.pem", "scheme" },
	{ " https://cert.example.com/x.pem", "scheme" },
	{ "//cert.example.com/x.pem", "scheme" },
	{ "https:/", "scheme" },
	{ "", "scheme" },
	/* userinfo */
	{ "https://user@cert.example.com/x.pem", "userinfo" },
	{ "https://user:pw@cert.example.com/x.pem", "userinfo" },
	{ "https://@cert.example.com/x.pem", "userinfo" },
	{ "https://cert.example.com@127.0.0.1/x.pem", "userinfo" },
	{ "https://cert.example.com:443@evil/x.pem", "userinfo" },
	/* query, fragment: in the path and straight after the authority */
	{ "https://cert.example.com/x.pem?a=b", "query" },
	{ "https://cert.example.com/x.pem?", "query" },
	{ "https://cert.example.com?/x.pem", "query" },
	{ "https://cert.example.com/x.pem#frag", "fragment" },
	{ "https://cert.example.com/x.pem#", "fragment" },
	{ "https://cert.example.com#/x.pem", "fragment" },
	/* path */
	{ "https://cert.example.com", "no path" },
	{ "https://cert.example.com:443", "no path" },
	{ "https://[2001:db8::1]", "no path" },
	{ "https://cert.example.com/a b", "path" },
	{ "https://cert.example.com/a\\b", "path" },
	{ "https://cert.example.com/a\"b", "path" },
	{ "https://cert.example.com/a<b>", "path" },
	{ "https://cert.example.com/a%", "percent" },
	{ "https://cert.example.com/a%4", "percent" },
	{ "https://cert.example.com/a%zz", "percent" },
	{ "https://cert.example.com/a%4g", "percent" },
	{ "https://cert.example.com/a\x7f", "path" },
	{ "https://cert.example.com/a\xc3\xa9", "path" },
	/* port */
	{ "https://cert.example.com:/x", "port" },
	{ "https://cert.example.com:0/x", "port" },
	{ "https://cert.example.com:00000/x", "port" },
	{ "https://cert.example.com:65536/x", "port" },
	{ "https://cert.example.com:99999/x", "port" },
	{ "https://cert.example.com:000443/x", "port" },
	{ "https://cert.example.com:4430000000000000000000443/x", "port" },
	{ "https://cert.example.com:-1/x", "port" },
	{ "https://cert.example.com:+443/x", "port" },
	{ "https://cert.example.com:443a/x", "port" },
	{ "https://cert.example.com: 443/x", "port" },
	{ "https://cert.example.com:443:443/x", "port" },
	{ "https://cert.example.com:0x1bb/x", "port" },
	/* host */
	{ "https:///x.pem", "empty host" },
	{ "https://:443/x.pem", "empty host" },
	{ "https://cert..example.com/x", "empty label" },
	{ "https://.cert.example.com/x", "empty label" },
	{ "https://cert.example.com./x", "empty label" },
	{ "https://-cert.example.com/x", "'-'" },
	{ "https://cert-.example.com/x", "'-'" },
	{ "https://cert.example.com-/x", "'-'" },
	{ "https://cert_1.example.com/x", "character" },
	{ "https://cert%2eexample.com/x", "character" },
	{ "https://c%61rt.example.com/x", "character" },
	{ "https://cert example.com/x", "character" },
	{ "https://cert.example.com\\@evil/x", "userinfo" },
	{ "https://cert.example.com\\evil/x", "character" },
	{ "https://caf\xc3\xa9.example/x", "character" },
	{ "https://cert.example.com]/x", "character" },
	/* numeric host forms a resolver reads as addresses: only the strict dotted quad passes */
	{ "https://127.1/x", "numeric" },
	{ "https://127.0.1/x", "numeric" },
	{ "https://2130706433/x", "numeric" },
	{ "https://0x7f000001/x", "numeric" },
	{ "https://0X7F000001/x", "numeric" },
	{ "https://0x7f.1/x", "numeric" },
	{ "https://0x7f.0.0.1/x", "numeric" },
	{ "https://0177.0.0.1/x", "numeric" },
	{ "https://017700000001/x", "numeric" },
	{ "https://127.0.0.01/x", "numeric" },
	{ "https://127.00.0.1/x", "numeric" },
	{ "https://256.0.0.1/x", "numeric" },
	{ "https://1.2.3.256/x", "numeric" },
	{ "https://1.2.3.4.5/x", "numeric" },
	{ "https://1234.2.3.4/x", "numeric" },
	{ "https://example.123/x", "numeric" },
	{ "https://example.0x1f/x", "numeric" },
	{ "https://0/x", "numeric" },
	/* IPv6 literals */
	{ "https://[::1/x", "unterminated" },
	{ "https://[::1/x]/", "unterminated" },
	{ "https://[]/x", "IPv6" },
	{ "https://[fe80::1%25eth0]/x", "zone" },
	{ "https://[fe80::1%eth0]/x", "zone" },
	{ "https://[::g]/x", "IPv6" },
	{ "https://[1:2:3:4:5:6:7:8:9]/x", "IPv6" },
	{ "https://[127.0.0.1]/x", "IPv6" },
	{ "https://[:::1]/x", "IPv6" },
	{ "https://[0000:0000:0000:0000:0000:0000:0000:0000:1]/x", "IPv6" },
	{ "https://[::1]x/", "port" },
	{ "https://[::1]:/", "port" },
	{ "https://[::1]:0/", "port" },
	{ "https://[::1]]/", "port" },
	{ "https://::1/", "empty host" },
	{ "https://[v1.x]/x", "IPv6" },
};

Test(x5u, url_refused)
{
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		struct x5u_url u;
		const char *why = NULL;
		int rc = parse(bad_urls[i].url, &u, &why);

		cr_expect_eq(rc, -EINVAL, "%s: rc %d", bad_urls[i].url, rc);
		cr_expect(why != NULL && strstr(why, bad_urls[i].why) != NULL,
			  "%s: why \"%s\", expected \"%s\"", bad_urls[i].url, why ? why : "(null)",
			  bad_urls[i].why);
	}
}

Test(x5u, url_ports)
{
	static const struct {
		const char *url;
		uint16_t port;
	} cases[] = {
		{ "https://h.example/x", 443 },      { "https://h.example:443/x", 443 },
		{ "https://h.example:8443/x", 8443 }, { "https://h.example:1/x", 1 },
		{ "https://h.example:80/x", 80 },      { "https://h.example:65535/x", 65535 },
		{ "https://h.example:0443/x", 443 },   { "https://[::1]:8443/x", 8443 },
		{ "https://192.0.2.1:9/x", 9 },
	};
	struct x5u_url u;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(parse(cases[i].url, &u, NULL), 0, "%s", cases[i].url);
		cr_expect_eq(u.port, cases[i].port, "%s", cases[i].url);
	}
}

Test(x5u, url_ipv4_literal)
{
	static const uint8_t want[4] = { 192, 0, 2, 10 };
	struct x5u_url u;

	cr_assert_eq(parse("https://192.0.2.10:8443/sp.pem", &u, NULL), 0);
	cr_expect_eq(u.host_kind, X5U_HOST_V4);
	cr_expect_str_eq(u.host, "192.0.2.10");
	cr_expect_arr_eq(u.addr, want, 4);
	cr_expect_eq(u.port, 8443);

	cr_assert_eq(parse("https://0.0.0.0/x", &u, NULL), 0);
	cr_expect_eq(u.host_kind, X5U_HOST_V4);
	cr_assert_eq(parse("https://255.255.255.255/x", &u, NULL), 0);
	cr_expect_eq(u.addr[0], 255);
	cr_expect_eq(u.addr[3], 255);
	/* a name whose last label is not numeric is a name, even with numeric labels before */
	cr_assert_eq(parse("https://1.2.3.4.example/x", &u, NULL), 0);
	cr_expect_eq(u.host_kind, X5U_HOST_NAME);
	cr_assert_eq(parse("https://0x7f.example/x", &u, NULL), 0);
	cr_expect_eq(u.host_kind, X5U_HOST_NAME);
	cr_assert_eq(parse("https://example.1a/x", &u, NULL), 0);
	cr_expect_eq(u.host_kind, X5U_HOST_NAME);
}

Test(x5u, url_ipv6_literal)
{
	static const char url[] = "https://[2001:DB8::A]:8443/sp.pem";
	uint8_t want[16];
	struct x5u_url u;

	cr_assert_eq(parse(url, &u, NULL), 0);
	cr_expect_eq(u.host_kind, X5U_HOST_V6);
	cr_expect_str_eq(u.host, "2001:db8::a");
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8::a", want), 1);
	cr_expect_arr_eq(u.addr, want, 16);
	cr_expect_eq(u.port, 8443);
	cr_expect_str_eq(url + u.path_off, "/sp.pem");

	cr_assert_eq(parse("https://[::ffff:127.0.0.1]/x", &u, NULL), 0);
	cr_expect_eq(u.host_kind, X5U_HOST_V6);
	cr_expect_str_eq(u.host, "::ffff:127.0.0.1");
	cr_expect_eq(u.addr[10], 0xff);
	cr_expect_eq(u.addr[12], 127);
	cr_expect_eq(u.port, 443);

	/* the longest textual form (45 characters) */
	cr_expect_eq(parse("https://[0000:0000:0000:0000:0000:ffff:255.255.255.255]/x", &u, NULL),
		     0);
}

Test(x5u, url_host_length)
{
	/* 63-character labels pass, 64 do not; 253-character hosts pass, 254 do not */
	char url[X5U_URL_MAX + 64];
	char host[300];
	struct x5u_url u;
	const char *why;
	size_t n = 0;

	memset(host, 'a', 63);
	host[63] = '\0';
	snprintf(url, sizeof(url), "https://%s.example/x", host);
	cr_expect_eq(parse(url, &u, NULL), 0);
	memset(host, 'a', 64);
	host[64] = '\0';
	snprintf(url, sizeof(url), "https://%s.example/x", host);
	cr_expect_eq(parse(url, &u, &why), -EINVAL);
	cr_expect(strstr(why, "label") != NULL, "%s", why);

	/* four labels of 63 + three dots = 255; trim to 253 */
	for (int l = 0; l < 4; l++) {
		memset(host + n, 'b', 63);
		n += 63;
		host[n++] = '.';
	}
	host[253] = '\0';
	cr_assert_eq(strlen(host), 253);
	snprintf(url, sizeof(url), "https://%s/x", host);
	cr_expect_eq(parse(url, &u, &why), 0, "%s", why);
	cr_expect_eq(strlen(u.host), 253);
	cr_expect_str_eq(u.host, host);
	host[253] = 'b';
	host[254] = '\0';
	snprintf(url, sizeof(url), "https://%s/x", host);
	cr_expect_eq(parse(url, &u, &why), -EINVAL);
	cr_expect(strstr(why, "too long") != NULL, "%s", why);
}

Test(x5u, url_length_limit)
{
	char url[X5U_URL_MAX + 2];
	size_t pre = strlen("https://h.example/");

	memcpy(url, "https://h.example/", pre);
	memset(url + pre, 'p', sizeof(url) - pre);
	struct x5u_url u;
	const char *why;

	cr_expect_eq(x5u_url_parse(url, X5U_URL_MAX, &u, &why), 0, "%s", why);
	cr_expect_eq(x5u_url_parse(url, X5U_URL_MAX + 1, &u, &why), -EINVAL);
	cr_expect(strstr(why, "too long") != NULL, "%s", why);
}

Test(x5u, url_uses_len_not_nul)
{
	static const char url[] = "https://a.example/x.pem?query";
	static const char nul[] = "https://a.example/x\0?";
	struct x5u_url u;

	/* stops before the query */
	cr_expect_eq(x5u_url_parse(url, strlen("https://a.example/x.pem"), &u, NULL), 0);
	/* the length cuts the path off */
	cr_expect_eq(x5u_url_parse(url, strlen("https://a.example"), &u, NULL), -EINVAL);
	/* an embedded NUL is refused, in the path and in the host */
	cr_expect_eq(x5u_url_parse(nul, sizeof(nul) - 1, &u, NULL), -EINVAL);
	cr_expect_eq(x5u_url_parse("https://a\0b/x", 13, &u, NULL), -EINVAL);
}

Test(x5u, url_null_arguments)
{
	struct x5u_url u;
	const char *why = NULL;

	cr_expect_eq(x5u_url_parse(NULL, 0, &u, &why), -EINVAL);
	cr_expect(why != NULL && why[0] != '\0');
	cr_expect_eq(x5u_url_parse("https://a/", 10, NULL, NULL), -EINVAL);
	cr_expect_eq(x5u_url_check(NULL, NULL, &u, NULL), -EINVAL);
}

/* ---- policy ----------------------------------------------------------------------------- */

Test(x5u, port_allowed_default_and_custom)
{
	static const uint16_t ports[] = { 9443, 443 };
	struct x5u_policy p = { 0 };

	cr_expect(x5u_port_allowed(NULL, 443));
	cr_expect(x5u_port_allowed(NULL, 8443));
	cr_expect_not(x5u_port_allowed(NULL, 80));
	cr_expect(x5u_port_allowed(&p, 443));
	cr_expect(x5u_port_allowed(&p, 8443));
	cr_expect_not(x5u_port_allowed(&p, 0));
	cr_expect_not(x5u_port_allowed(&p, 8080));
	cr_expect_not(x5u_port_allowed(&p, 444));
	/* a list given but empty: the defaults */
	p.ports = ports;
	cr_expect(x5u_port_allowed(&p, 8443));
	p.n_ports = 1;
	cr_expect(x5u_port_allowed(&p, 9443));
	cr_expect_not(x5u_port_allowed(&p, 443));
	cr_expect_not(x5u_port_allowed(&p, 8443));
	p.n_ports = 2;
	cr_expect(x5u_port_allowed(&p, 443));
	cr_expect_not(x5u_port_allowed(&p, 8443));
}

Test(x5u, host_allowed_case_insensitive)
{
	static const char *const hosts[] = { "Cert.Example.COM", NULL, "[FD00::1]", "::2",
					     "127.0.0.1" };
	struct x5u_policy p = { .allow_hosts = hosts, .n_allow_hosts = 5 };

	cr_expect(x5u_host_allowed(&p, "cert.example.com"));
	cr_expect(x5u_host_allowed(&p, "CERT.EXAMPLE.COM"));
	cr_expect_not(x5u_host_allowed(&p, "cert.example.co"));
	cr_expect_not(x5u_host_allowed(&p, "cert.example.com.evil"));
	cr_expect_not(x5u_host_allowed(&p, "xcert.example.com"));
	cr_expect_not(x5u_host_allowed(&p, "example.com"));
	cr_expect(x5u_host_allowed(&p, "fd00::1"));
	cr_expect_not(x5u_host_allowed(&p, "fd00::"));
	cr_expect_not(x5u_host_allowed(&p, "fd00::10"));
	cr_expect_not(x5u_host_allowed(&p, "[fd00::1]"));
	cr_expect(x5u_host_allowed(&p, "::2"));
	cr_expect(x5u_host_allowed(&p, "127.0.0.1"));
	cr_expect_not(x5u_host_allowed(&p, "127.0.0.2"));
	cr_expect_not(x5u_host_allowed(&p, ""));
	cr_expect_not(x5u_host_allowed(&p, NULL));
	cr_expect_not(x5u_host_allowed(NULL, "cert.example.com"));
	p.n_allow_hosts = 1;
	cr_expect_not(x5u_host_allowed(&p, "127.0.0.1"));
	/* an empty or "[]" entry matches nothing real */
	static const char *const odd[] = { "", "[]", "[" };
	struct x5u_policy q = { .allow_hosts = odd, .n_allow_hosts = 3 };

	cr_expect_not(x5u_host_allowed(&q, "a"));
	cr_expect_not(x5u_host_allowed(&q, "[]"));
}

Test(x5u, check_blocks_special_literals)
{
	static const char *const blocked[] = {
		"https://127.0.0.1/x.pem",
		"https://127.0.0.1:8443/x.pem",
		"https://0.0.0.0/x.pem",
		"https://10.1.2.3/x.pem",
		"https://169.254.169.254/latest/meta-data",
		"https://192.168.0.1/x.pem",
		"https://100.64.0.1/x.pem",
		"https://255.255.255.255/x.pem",
		"https://[::1]/x.pem",
		"https://[::]/x.pem",
		"https://[fe80::1]/x.pem",
		"https://[fd00::1]/x.pem",
		"https://[ff02::1]/x.pem",
		"https://[::ffff:127.0.0.1]/x.pem",
		"https://[::ffff:7f00:1]/x.pem",
		"https://[64:ff9b::a9fe:a9fe]/x.pem",
		"https://[2001:db8::1]/x.pem",
	};
	struct x5u_policy p = { 0 };
	struct x5u_url u;

	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		const char *why = NULL;

		cr_expect_eq(x5u_url_check(&p, blocked[i], &u, &why), -EACCES, "%s", blocked[i]);
		cr_expect(why != NULL && strstr(why, "special") != NULL, "%s: %s", blocked[i],
			  why ? why : "(null)");
		/* NULL policy: the defaults too */
		cr_expect_eq(x5u_url_check(NULL, blocked[i], &u, NULL), -EACCES, "%s", blocked[i]);
	}
}

Test(x5u, check_allows_public_and_names)
{
	static const char *const ok[] = {
		"https://8.8.8.8/x.pem",
		"https://[2606:4700:4700::1111]:8443/x.pem",
		"https://[::ffff:8.8.8.8]/x.pem",
		"https://[64:ff9b::808:808]/x.pem",
		/* names are judged only at connect time (open-socket callback) */
		"https://localhost/x.pem",
		"https://cert.example.com/x.pem",
	};
	struct x5u_url u;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *why = NULL;

		cr_expect_eq(x5u_url_check(NULL, ok[i], &u, &why), 0, "%s: %s", ok[i], why);
	}
	cr_expect_eq(x5u_url_check(NULL, "https://localhost/x.pem", &u, NULL), 0);
	cr_expect_eq(u.host_kind, X5U_HOST_NAME);
	cr_expect_str_eq(u.host, "localhost");
}

Test(x5u, check_loopback_allowed_when_listed)
{
	static const char *const hosts[] = { "LocalHost", "127.0.0.1", "[::1]" };
	struct x5u_policy p = { .allow_hosts = hosts, .n_allow_hosts = 3 };
	struct x5u_url u;
	const char *why = NULL;

	cr_expect_eq(x5u_url_check(&p, "https://127.0.0.1:8443/x.pem", &u, &why), 0, "%s", why);
	cr_expect_eq(u.host_kind, X5U_HOST_V4);
	cr_expect_eq(x5u_url_check(&p, "https://[::1]/x.pem", &u, &why), 0, "%s", why);
	cr_expect_eq(x5u_url_check(&p, "https://LOCALHOST/x.pem", &u, &why), 0, "%s", why);
	/* other special literals stay blocked: the allow-list is by host, not a blanket switch */
	cr_expect_eq(x5u_url_check(&p, "https://127.0.0.2/x.pem", &u, &why), -EACCES);
	cr_expect_eq(x5u_url_check(&p, "https://[::ffff:127.0.0.1]/x.pem", &u, &why), -EACCES);
	cr_expect_eq(x5u_url_check(&p, "https://[0::1]/x.pem", &u, &why), -EACCES);
	/* an allow-listed host still needs an allowed port and a good URL */
	cr_expect_eq(x5u_url_check(&p, "https://127.0.0.1:80/x.pem", &u, &why), -EINVAL);
	cr_expect(strstr(why, "port") != NULL, "%s", why);
	cr_expect_eq(x5u_url_check(&p, "http://127.0.0.1/x.pem", &u, &why), -EINVAL);
	cr_expect_eq(x5u_url_check(&p, "https://127.1/x.pem", &u, &why), -EINVAL);
}

Test(x5u, check_ports)
{
	static const uint16_t ports[] = { 9443 };
	struct x5u_policy p = { 0 };
	struct x5u_url u;
	const char *why = NULL;

	cr_expect_eq(x5u_url_check(&p, "https://a.example/x", &u, &why), 0);
	cr_expect_eq(x5u_url_check(&p, "https://a.example:443/x", &u, &why), 0);
	cr_expect_eq(x5u_url_check(&p, "https://a.example:8443/x", &u, &why), 0);
	cr_expect_eq(x5u_url_check(&p, "https://a.example:80/x", &u, &why), -EINVAL);
	cr_expect(strstr(why, "port") != NULL, "%s", why);
	cr_expect_eq(x5u_url_check(&p, "https://a.example:9443/x", &u, &why), -EINVAL);
	p.ports = ports;
	p.n_ports = 1;
	cr_expect_eq(x5u_url_check(&p, "https://a.example:9443/x", &u, &why), 0);
	cr_expect_eq(x5u_url_check(&p, "https://a.example/x", &u, &why), -EINVAL);
	/* the URL fault wins over the port, and a blocked literal on a bad port is -EINVAL */
	cr_expect_eq(x5u_url_check(&p, "https://10.0.0.1:80/x", &u, &why), -EINVAL);
	cr_expect_eq(x5u_url_check(&p, "https://10.0.0.1:9443/x", &u, &why), -EACCES);
}

Test(x5u, kind_str)
{
	static const char *const want[] = { "ok",	  "bad-url", "blocked",   "resolve",
					    "connect",	  "tls",     "timeout",   "too-large",
					    "http-status", "internal" };

	cr_assert_eq(sizeof(want) / sizeof(want[0]), X5U_KIND_COUNT_);
	for (int k = 0; k < X5U_KIND_COUNT_; k++)
		cr_expect_str_eq(x5u_kind_str((enum x5u_kind)k), want[k]);
	cr_expect_str_eq(x5u_kind_str(X5U_KIND_COUNT_), "");
	cr_expect_str_eq(x5u_kind_str((enum x5u_kind)-1), "");
	cr_expect_str_eq(x5u_kind_str((enum x5u_kind)1000), "");
}
