/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dataplane/policy: trunk longest-prefix match (IPv4, IPv6, VLAN), the TN ownership table
 * (edges, merges, overlaps, unsorted input, file loading), the attestation matrix, credential
 * choice, listener lookup, and publication (generations, credential swap, table reuse).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "control/cfg.h"
#include "dataplane/policy/policy.h"

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"
#define U3 "33333333-3333-4333-8333-333333333333"
#define U4 "44444444-4444-4444-8444-444444444444"
#define UX "99999999-9999-4999-8999-999999999999"

static const char pol_json[] =
	"{\"listeners\": ["
	"  {\"addr\": \"192.0.2.1\", \"mode\": \"sign-redirect\"},"
	"  {\"addr\": \"2001:db8::1\", \"port\": 5070, \"vlan\": 7, \"mode\": \"verify-redirect\"},"
	"  {\"port\": 5060, \"mode\": \"inline\", \"iface\": 1, \"peer\": {\"port\": 0}}],"
	" \"credentials\": ["
	"  {\"id\": \"ab\", \"key\": \"k1\", \"x5u\": \"https://cr/ab.pem\", \"attest\": [\"A\", \"B\"]},"
	"  {\"id\": \"c\", \"key\": \"k2\", \"x5u\": \"https://cr/c.pem\", \"attest\": [\"C\"]},"
	"  {\"id\": \"c-gw\", \"key\": \"k3\", \"x5u\": \"https://cr/cgw.pem\", \"attest\": [\"C\"],"
	"   \"origid\": \"" U3 "\"}],"
	" \"sign\": {\"unknown_origid\": \"" UX "\"},"
	" \"trunks\": ["
	"  {\"name\": \"acme\", \"prefix\": [\"10.0.0.0/8\", \"2001:db8:a::/48\"], \"kind\": \"customer\","
	"   \"origid\": \"" U1 "\", \"on_sign_failure\": \"503\"},"
	"  {\"name\": \"acme-east\", \"customer\": \"acme\", \"prefix\": \"10.1.0.0/16\","
	"   \"kind\": \"customer\", \"origid\": \"" U1 "\"},"
	"  {\"name\": \"bravo\", \"prefix\": \"10.1.2.0/24\", \"kind\": \"customer\","
	"   \"origid\": \"" U2 "\"},"
	"  {\"name\": \"bravo-v100\", \"customer\": \"bravo\", \"prefix\": \"10.1.0.0/16\","
	"   \"vlan\": 100, \"kind\": \"customer\", \"origid\": \"" U2 "\"},"
	"  {\"name\": \"host\", \"prefix\": \"10.1.2.3\", \"kind\": \"peer\","
	"   \"origid\": \"" U4 "\", \"on_verify_failure\": \"reject\"},"
	"  {\"name\": \"gw\", \"prefix\": [\"192.168.0.0/16\", \"2001:db8::/32\"],"
	"   \"kind\": \"gateway\", \"origid\": \"" U3 "\"},"
	"  {\"name\": \"vip\", \"prefix\": \"172.16.0.0/12\", \"kind\": \"customer\","
	"   \"origid\": \"" U2 "\", \"attest_override\": \"A\"},"
	"  {\"name\": \"downgraded\", \"prefix\": \"172.16.5.0/24\", \"kind\": \"customer\","
	"   \"origid\": \"" U1 "\", \"attest_override\": \"C\"},"
	"  {\"name\": \"untagged-only\", \"prefix\": \"198.18.0.0/15\", \"vlan\": 0,"
	"   \"kind\": \"peer\", \"origid\": \"" U4 "\"}]}";

static const char tn_text[] =
	"# TN ownership\n"
	"12125550000-12125550999 acme\n"
	"12125551000-12125551999 acme\n" /* adjacent, merged */
	"12125552000 bravo\n"
	"3105550100-3105550199 bravo   # a 10-digit range\n"
	"447700900000-447700900999 nobody\n";

static struct cfg *cfg_of(const char *json)
{
	struct cfg *c = NULL;
	char err[512];
	int r = cfg_parse(json, strlen(json), &c, err, sizeof(err));
	cr_assert_eq(r, 0, "cfg_parse: %s", err);
	return c;
}

static struct pol_tntable *tn_of(const char *text)
{
	struct pol_tntable *t = NULL;
	char err[256];
	int r = pol_tn_parse(text, strlen(text), &t, err, sizeof(err));
	cr_assert_eq(r, 0, "pol_tn_parse: %s", err);
	return t;
}

static struct pol_snapshot *snap_of(const char *json, const char *tn)
{
	struct cfg *c = cfg_of(json);
	struct pol_tntable *t = tn ? tn_of(tn) : NULL;
	struct pol_snapshot *s = NULL;
	char err[256];
	int r = pol_snapshot_build(c, t, &s, err, sizeof(err));
	cr_assert_eq(r, 0, "build: %s", err);
	pol_tn_free(t); /* the snapshot holds its own reference */
	cfg_free(c);
	return s;
}

static const uint8_t *v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	static uint8_t ip[16];
	memset(ip, 0, sizeof(ip));
	ip[0] = a;
	ip[1] = b;
	ip[2] = c;
	ip[3] = d;
	return ip;
}

static const uint8_t *v6(const char *s)
{
	static struct cfg_ip ip;
	cr_assert_eq(cfg_ip_parse(s, &ip), 0);
	cr_assert_eq(ip.family, 6);
	return ip.ip;
}

static const char *trunk4(const struct pol_snapshot *s, uint8_t a, uint8_t b, uint8_t c,
			  uint8_t d, uint16_t vlan)
{
	const struct pol_trunk *t = pol_trunk_find(s, 4, v4(a, b, c, d), vlan);
	return t ? t->name : "(none)";
}

static const char *trunk6(const struct pol_snapshot *s, const char *ip, uint16_t vlan)
{
	const struct pol_trunk *t = pol_trunk_find(s, 6, v6(ip), vlan);
	return t ? t->name : "(none)";
}

/* ---- longest prefix match ------------------------------------------------------------- */

Test(policy, lpm_ipv4_longest_prefix)
{
	struct pol_snapshot *s = snap_of(pol_json, NULL);
	cr_assert_str_eq(trunk4(s, 10, 9, 9, 9, 0), "acme");          /* /8 */
	cr_assert_str_eq(trunk4(s, 10, 1, 9, 9, 0), "acme-east");     /* /16 */
	cr_assert_str_eq(trunk4(s, 10, 1, 2, 4, 0), "bravo");         /* /24 */
	cr_assert_str_eq(trunk4(s, 10, 1, 2, 3, 0), "host");          /* /32 */
	cr_assert_str_eq(trunk4(s, 10, 1, 2, 255, 0), "bravo");
	cr_assert_str_eq(trunk4(s, 10, 1, 3, 0, 0), "acme-east");
	cr_assert_str_eq(trunk4(s, 10, 255, 255, 255, 0), "acme");
	cr_assert_str_eq(trunk4(s, 11, 0, 0, 0, 0), "(none)");
	cr_assert_str_eq(trunk4(s, 9, 255, 255, 255, 0), "(none)");
	cr_assert_str_eq(trunk4(s, 172, 31, 255, 255, 0), "vip");    /* /12 edge */
	cr_assert_str_eq(trunk4(s, 172, 32, 0, 0, 0), "(none)");
	cr_assert_str_eq(trunk4(s, 172, 15, 255, 255, 0), "(none)");
	cr_assert_str_eq(trunk4(s, 172, 16, 5, 1, 0), "downgraded");
	cr_assert_str_eq(trunk4(s, 192, 168, 0, 0, 0), "gw");
	pol_snapshot_free(s);
}

Test(policy, lpm_ipv6_and_families_apart)
{
	struct pol_snapshot *s = snap_of(pol_json, NULL);
	cr_assert_str_eq(trunk6(s, "2001:db8:a::5", 0), "acme");
	cr_assert_str_eq(trunk6(s, "2001:db8:a:ffff:ffff:ffff:ffff:ffff", 0), "acme");
	cr_assert_str_eq(trunk6(s, "2001:db8:b::1", 0), "gw");
	cr_assert_str_eq(trunk6(s, "2001:db8:ffff::1", 0), "gw");
	cr_assert_str_eq(trunk6(s, "2001:db9::1", 0), "(none)");
	/* an IPv4-mapped address is an IPv6 source: no IPv4 trunk matches it */
	cr_assert_str_eq(trunk6(s, "::ffff:10.1.2.3", 0), "(none)");
	/* a default route in one family does not catch the other */
	struct pol_snapshot *d = snap_of("{\"trunks\": [{\"name\": \"all6\", \"prefix\": \"::/0\","
					 " \"kind\": \"peer\", \"origid\": \"" U1 "\"}]}", NULL);
	cr_assert_str_eq(trunk6(d, "2001:db8::1", 0), "all6");
	cr_assert_str_eq(trunk4(d, 10, 0, 0, 1, 0), "(none)");
	cr_assert_str_eq(trunk4(d, 0, 0, 0, 0, 0), "(none)");
	pol_snapshot_free(d);
	pol_snapshot_free(s);
}

Test(policy, lpm_vlan)
{
	struct pol_snapshot *s = snap_of(pol_json, NULL);
	/* 10.1.0.0/16: acme-east (any VLAN) and bravo-v100 (VLAN 100 only) */
	cr_assert_str_eq(trunk4(s, 10, 1, 9, 9, 100), "bravo-v100");
	cr_assert_str_eq(trunk4(s, 10, 1, 9, 9, 101), "acme-east");
	cr_assert_str_eq(trunk4(s, 10, 1, 9, 9, 0), "acme-east");
	/* a longer prefix with any VLAN beats a shorter one with this VLAN */
	cr_assert_str_eq(trunk4(s, 10, 1, 2, 9, 100), "bravo");
	/* vlan 0 means untagged only */
	cr_assert_str_eq(trunk4(s, 198, 18, 1, 1, 0), "untagged-only");
	cr_assert_str_eq(trunk4(s, 198, 19, 1, 1, 5), "(none)");
	cr_assert_null(pol_trunk_find(s, 5, v4(10, 0, 0, 1), 0));
	cr_assert_null(pol_trunk_find(NULL, 4, v4(10, 0, 0, 1), 0));
	pol_snapshot_free(s);
}

Test(policy, lpm_many_lengths)
{
	/* one trunk per prefix length 1..32 along 255.255.255.255 */
	char json[16384];
	size_t off = (size_t)snprintf(json, sizeof(json), "{\"trunks\": [");
	for (int len = 1; len <= 32; len++) {
		uint32_t a = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
		off += (size_t)snprintf(json + off, sizeof(json) - off,
					"%s{\"name\": \"t%d\", \"prefix\": \"%u.%u.%u.%u/%d\", "
					"\"kind\": \"peer\", \"origid\": \"" U1 "\"}",
					len > 1 ? "," : "", len, a >> 24, (a >> 16) & 255,
					(a >> 8) & 255, a & 255, len);
	}
	snprintf(json + off, sizeof(json) - off, "]}");
	struct pol_snapshot *s = snap_of(json, NULL);
	for (int len = 1; len <= 32; len++) {
		/* the address with exactly len leading ones */
		uint32_t a = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
		char want[8];
		snprintf(want, sizeof(want), "t%d", len);
		cr_assert_str_eq(trunk4(s, (uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8),
					(uint8_t)a, 0), want, "len %d", len);
	}
	cr_assert_str_eq(trunk4(s, 127, 0, 0, 1, 0), "(none)");
	pol_snapshot_free(s);
}

/* ---- TN table ------------------------------------------------------------------------- */

static uint32_t own(const struct pol_tntable *t, const char *tn)
{
	return pol_tn_lookup(t, tn, strlen(tn));
}

Test(policy, tn_ranges_edges)
{
	struct pol_tntable *t = tn_of(tn_text);
	cr_assert_eq(pol_tn_owners(t), 3);
	cr_assert_eq(pol_tn_ranges(t), 4); /* two acme lines merged */
	uint32_t acme = pol_tn_owner_find(t, "acme"), bravo = pol_tn_owner_find(t, "bravo");
	cr_assert_neq(acme, POL_OWNER_NONE);
	cr_assert_neq(bravo, POL_OWNER_NONE);
	cr_assert_eq(pol_tn_owner_find(t, "zulu"), POL_OWNER_NONE);
	cr_assert_str_eq(pol_tn_owner_name(t, acme), "acme");
	cr_assert_str_eq(pol_tn_owner_name(t, 99), "");
	cr_assert_eq(own(t, "12125550000"), acme);
	cr_assert_eq(own(t, "12125551999"), acme);
	cr_assert_eq(own(t, "12125550999"), acme);
	cr_assert_eq(own(t, "12125551000"), acme);
	cr_assert_eq(own(t, "12125549999"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "12125552000"), bravo);
	cr_assert_eq(own(t, "12125552001"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "3105550100"), bravo);
	cr_assert_eq(own(t, "3105550199"), bravo);
	cr_assert_eq(own(t, "3105550200"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "3105550099"), POL_OWNER_NONE);
	/* other lengths never match: prefixes and extensions of an owned TN */
	cr_assert_eq(own(t, "1212555000"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "121255500000"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "03105550100"), POL_OWNER_NONE);
	/* junk */
	cr_assert_eq(own(t, ""), POL_OWNER_NONE);
	cr_assert_eq(own(t, "+12125550000"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "1212555000a"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "1234567890123456"), POL_OWNER_NONE);
	cr_assert_eq(pol_tn_lookup(t, NULL, 5), POL_OWNER_NONE);
	cr_assert_eq(pol_tn_lookup(NULL, "1", 1), POL_OWNER_NONE);
	pol_tn_free(t);
}

Test(policy, tn_extremes_and_unsorted)
{
	struct pol_tntable *t = tn_of("999999999999999 max\n0 zero\n000-009 zeros\n"
				      "300 c\n100-199 a\n200-299 a\n+1 plus\n");
	cr_assert_eq(own(t, "999999999999999"), pol_tn_owner_find(t, "max"));
	cr_assert_eq(own(t, "0"), pol_tn_owner_find(t, "zero"));
	cr_assert_eq(own(t, "005"), pol_tn_owner_find(t, "zeros"));
	cr_assert_eq(own(t, "00"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "150"), pol_tn_owner_find(t, "a"));
	cr_assert_eq(own(t, "299"), pol_tn_owner_find(t, "a"));
	cr_assert_eq(own(t, "300"), pol_tn_owner_find(t, "c"));
	cr_assert_eq(own(t, "099"), POL_OWNER_NONE);
	cr_assert_eq(own(t, "1"), pol_tn_owner_find(t, "plus"));
	cr_assert_eq(pol_tn_ranges(t), 6); /* 100-199 and 200-299 merged */
	pol_tn_free(t);
	/* empty and comment-only files are empty tables */
	t = tn_of("");
	cr_assert_eq(pol_tn_ranges(t), 0);
	cr_assert_eq(own(t, "1"), POL_OWNER_NONE);
	pol_tn_free(t);
	t = tn_of("  # nothing\r\n\t\n");
	cr_assert_eq(pol_tn_ranges(t), 0);
	pol_tn_free(t);
}

static void tn_bad(const char *text, const char *want)
{
	struct pol_tntable *t = (struct pol_tntable *)1;
	char err[256];
	int r = pol_tn_parse(text, strlen(text), &t, err, sizeof(err));
	cr_assert_eq(r, -EINVAL, "%s", text);
	cr_assert_null(t);
	cr_assert_str_eq(err, want, "%s", text);
}

Test(policy, tn_errors)
{
	tn_bad("12125550000-12125550999 a\n12125550500 b\n",
	       "line 2: overlaps line 1 (12125550500 in both)");
	tn_bad("100-199 a\n150-250 a\n", "line 2: overlaps line 1 (150 in both)");
	tn_bad("100 a\n100 a\n", "line 2: overlaps line 1 (100 in both)");
	/* unsorted: the later line is named first */
	tn_bad("500-600 b\n\n100-550 a\n", "line 3: overlaps line 1 (500 in both)");
	tn_bad("1234567890123456 x\n", "line 1: expected a TN (1..15 digits)");
	tn_bad("12-123 x\n", "line 1: range ends differ in length");
	tn_bad("5-4 x\n", "line 1: range end before its start");
	tn_bad("5- x\n", "line 1: expected a TN after '-'");
	tn_bad("100 a b\n", "line 1: unexpected text after the customer name");
	tn_bad("100\n", "line 1: expected a customer name");
	tn_bad("100x a\n", "line 1: unexpected character after the TN");
	tn_bad("# c\n100 a\n200 caf\xc3\xa9\n",
	       "line 3: unexpected text after the customer name");
	tn_bad("100 a\n200 #x\n",
	       "line 2: expected a customer name of 1..63 characters [A-Za-z0-9._-]");
	tn_bad("1 a\n2 a\rb\n", "line 2: unexpected text after the customer name");
	tn_bad("abc a\n", "line 1: expected a TN (1..15 digits)");
	struct pol_tntable *t;
	cr_assert_eq(pol_tn_parse(NULL, 1, &t, NULL, 0), -EINVAL);
	cr_assert_eq(pol_tn_parse("1 a", 3, NULL, NULL, 0), -EINVAL);
	cr_assert_eq(pol_tn_parse(NULL, 0, &t, NULL, 0), 0);
	pol_tn_free(t);
}

Test(policy, tn_many_random_against_reference)
{
	/* 5000 disjoint ranges in random order, checked against a linear reference */
	enum { N = 5000 };
	static uint64_t lo[N], hi[N];
	static uint32_t ow[N];
	char *text = malloc(N * 64);
	size_t off = 0;
	srand(7);
	uint64_t base = 2000000000;
	for (int i = 0; i < N; i++) {
		base += 1 + (uint64_t)(rand() % 50);
		lo[i] = base;
		base += (uint64_t)(rand() % 20);
		hi[i] = base;
		ow[i] = (uint32_t)(rand() % 17);
		base++;
	}
	int perm[N];
	for (int i = 0; i < N; i++)
		perm[i] = i;
	for (int i = N - 1; i > 0; i--) {
		int j = rand() % (i + 1), x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
	for (int k = 0; k < N; k++) {
		int i = perm[k];
		off += (size_t)sprintf(text + off, "%llu-%llu cust%u\n", (unsigned long long)lo[i],
				       (unsigned long long)hi[i], ow[i]);
	}
	struct pol_tntable *t = NULL;
	char err[256];
	cr_assert_eq(pol_tn_parse(text, off, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_leq(pol_tn_ranges(t), N);
	for (uint64_t v = lo[0] - 5; v <= hi[N - 1] + 5; v += 1) {
		char tn[16];
		snprintf(tn, sizeof(tn), "%llu", (unsigned long long)v);
		uint32_t want = POL_OWNER_NONE;
		/* reference: ranges are ascending in index order */
		int a = 0, b = N - 1;
		while (a <= b) {
			int m = (a + b) / 2;
			if (v < lo[m]) {
				b = m - 1;
			} else if (v > hi[m]) {
				a = m + 1;
			} else {
				char nm[16];
				snprintf(nm, sizeof(nm), "cust%u", ow[m]);
				want = pol_tn_owner_find(t, nm);
				break;
			}
		}
		cr_assert_eq(pol_tn_lookup(t, tn, strlen(tn)), want, "tn %s", tn);
	}
	pol_tn_free(t);
	free(text);
}

Test(policy, tn_load_file)
{
	char path[] = "/tmp/test_tn_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, tn_text, strlen(tn_text)), (ssize_t)strlen(tn_text));
	close(fd);
	struct pol_tntable *t = NULL;
	char err[512];
	cr_assert_eq(pol_tn_load_file(path, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pol_tn_ranges(t), 4);
	pol_tn_free(t);
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "oops\n", 5), 5);
	close(fd);
	cr_assert_eq(pol_tn_load_file(path, &t, err, sizeof(err)), -EINVAL);
	char want[600];
	snprintf(want, sizeof(want), "%s: line 7: expected a TN (1..15 digits)", path);
	cr_assert_str_eq(err, want);
	unlink(path);
	cr_assert_eq(pol_tn_load_file(path, &t, err, sizeof(err)), -ENOENT);
}

/* ---- decisions -------------------------------------------------------------------------- */

static struct pol_decision decide4(const struct pol_snapshot *s, uint8_t a, uint8_t b, uint8_t c,
				   uint8_t d, uint16_t vlan, const char *tn)
{
	struct pol_decision out;
	cr_assert_eq(pol_decide(s, 4, v4(a, b, c, d), vlan, tn, tn ? strlen(tn) : 0, &out), 0);
	return out;
}

Test(policy, attestation_matrix)
{
	struct pol_snapshot *s = snap_of(pol_json, tn_text);
	struct pol_decision d;
	/* customer that owns the TN: A, with the A/B credential */
	d = decide4(s, 10, 9, 9, 9, 0, "12125550005");
	cr_assert_str_eq(d.trunk->name, "acme");
	cr_assert_eq(d.attest, 'A');
	cr_assert_str_eq(d.origid, U1);
	cr_assert_str_eq(d.cred->id, "ab");
	cr_assert(d.sign);
	cr_assert_eq(d.on_sign_failure, CFG_SFAIL_503);
	/* another trunk of the same customer owns it too */
	d = decide4(s, 10, 1, 9, 9, 0, "12125551500");
	cr_assert_str_eq(d.trunk->name, "acme-east");
	cr_assert_eq(d.attest, 'A');
	/* customer, number owned by another customer: B */
	d = decide4(s, 10, 9, 9, 9, 0, "12125552000");
	cr_assert_eq(d.attest, 'B');
	cr_assert_str_eq(d.cred->id, "ab");
	/* customer, number in nobody's range / owned by a name with no trunk: B */
	d = decide4(s, 10, 9, 9, 9, 0, "447700900001");
	cr_assert_eq(d.attest, 'B');
	d = decide4(s, 10, 9, 9, 9, 0, "19995550000");
	cr_assert_eq(d.attest, 'B');
	/* customer without a calling TN: B */
	d = decide4(s, 10, 9, 9, 9, 0, NULL);
	cr_assert_eq(d.attest, 'B');
	/* bravo owns 3105550100-199 and 12125552000, on its /24 and on VLAN 100 */
	d = decide4(s, 10, 1, 2, 4, 0, "3105550150");
	cr_assert_str_eq(d.trunk->name, "bravo");
	cr_assert_eq(d.attest, 'A');
	cr_assert_str_eq(d.origid, U2);
	d = decide4(s, 10, 1, 7, 7, 100, "12125552000");
	cr_assert_str_eq(d.trunk->name, "bravo-v100");
	cr_assert_eq(d.attest, 'A');
	d = decide4(s, 10, 1, 7, 7, 0, "12125552000");
	cr_assert_eq(d.attest, 'B'); /* acme-east */
	/* peer: C, reject policy; credential "c" (no origid match) */
	d = decide4(s, 10, 1, 2, 3, 0, "12125550005");
	cr_assert_str_eq(d.trunk->name, "host");
	cr_assert_eq(d.attest, 'C');
	cr_assert_eq(d.on_verify_failure, CFG_VFAIL_REJECT);
	cr_assert_str_eq(d.cred->id, "c");
	/* gateway: C; its origid has its own credential */
	d = decide4(s, 192, 168, 1, 1, 0, "12125550005");
	cr_assert_eq(d.attest, 'C');
	cr_assert_str_eq(d.cred->id, "c-gw");
	cr_assert_str_eq(d.origid, U3);
	/* unknown source: C, sign.unknown_origid, annotate/unsigned defaults */
	d = decide4(s, 8, 8, 8, 8, 0, "12125550005");
	cr_assert_null(d.trunk);
	cr_assert_eq(d.attest, 'C');
	cr_assert_str_eq(d.origid, UX);
	cr_assert_str_eq(d.cred->id, "c");
	cr_assert(d.sign);
	cr_assert_eq(d.on_verify_failure, CFG_VFAIL_ANNOTATE);
	cr_assert_eq(d.on_sign_failure, CFG_SFAIL_UNSIGNED);
	/* overrides: up (vip owns nothing, still A) and down (C even for an owned number) */
	d = decide4(s, 172, 16, 0, 1, 0, NULL);
	cr_assert_eq(d.attest, 'A');
	d = decide4(s, 172, 16, 5, 1, 0, "12125550005");
	cr_assert_eq(d.attest, 'C');
	/* IPv6 source */
	cr_assert_eq(pol_decide(s, 6, v6("2001:db8:a::9"), 0, "12125550001", 11, &d), 0);
	cr_assert_eq(d.attest, 'A');
	cr_assert_eq(pol_decide(s, 6, v6("2001:db8:b::9"), 0, "12125550001", 11, &d), 0);
	cr_assert_eq(d.attest, 'C');
	cr_assert_eq(pol_decide(s, 3, v4(1, 1, 1, 1), 0, NULL, 0, &d), -EINVAL);
	cr_assert_eq(pol_decide(NULL, 4, v4(1, 1, 1, 1), 0, NULL, 0, &d), -EINVAL);
	pol_snapshot_free(s);
}

Test(policy, no_tn_table_gives_b)
{
	struct pol_snapshot *s = snap_of(pol_json, NULL);
	struct pol_decision d = decide4(s, 10, 9, 9, 9, 0, "12125550005");
	cr_assert_eq(d.attest, 'B');
	cr_assert_eq(d.trunk->tn_owner, POL_OWNER_NONE);
	pol_snapshot_free(s);
}

Test(policy, unsigned_without_credential_or_origid)
{
	/* no unknown_origid: unknown sources are not signed; no C credential: peers not signed */
	struct pol_snapshot *s = snap_of(
		"{\"credentials\": [{\"id\": \"a\", \"key\": \"k\", \"x5u\": \"https://x/a\","
		" \"attest\": [\"A\"]}],"
		" \"trunks\": [{\"name\": \"p\", \"prefix\": \"10.0.0.0/8\", \"kind\": \"peer\","
		" \"origid\": \"" U1 "\"}, {\"name\": \"c\", \"prefix\": \"11.0.0.0/8\","
		" \"kind\": \"customer\", \"origid\": \"" U1 "\"}]}", "100 c\n");
	struct pol_decision d = decide4(s, 1, 2, 3, 4, 0, "100");
	cr_assert_null(d.origid);
	cr_assert(!d.sign);
	d = decide4(s, 10, 0, 0, 1, 0, "100");
	cr_assert_null(d.cred);
	cr_assert(!d.sign);
	d = decide4(s, 11, 0, 0, 1, 0, "100");
	cr_assert_eq(d.attest, 'A');
	cr_assert(d.sign);
	d = decide4(s, 11, 0, 0, 1, 0, "101");
	cr_assert_eq(d.attest, 'B');
	cr_assert(!d.sign);
	pol_snapshot_free(s);
}

Test(policy, credential_select)
{
	struct pol_snapshot *s = snap_of(pol_json, NULL);
	cr_assert_str_eq(pol_cred_select(s, 'A', NULL)->id, "ab");
	cr_assert_str_eq(pol_cred_select(s, 'C', NULL)->id, "c");
	cr_assert_str_eq(pol_cred_select(s, 'C', U3)->id, "c-gw");
	cr_assert_str_eq(pol_cred_select(s, 'C', "33333333-3333-4333-8333-33333333333" "3")->id,
			 "c-gw");
	cr_assert_str_eq(pol_cred_select(s, 'B', U3)->id, "ab");
	cr_assert_null(pol_cred_select(s, 'D', NULL));
	size_t n;
	const struct pol_cred *c = pol_snapshot_creds(s, &n);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(c[2].x5u, "https://cr/cgw.pem");
	cr_assert_str_eq(c[2].key, "k3");
	pol_snapshot_free(s);
}

Test(policy, listener_find)
{
	struct pol_snapshot *s = snap_of(pol_json, NULL);
	const struct cfg_listener *l;
	l = pol_listener_find(s, 4, v4(192, 0, 2, 1), 5060, 0, 0);
	cr_assert_not_null(l);
	cr_assert_eq(l->mode, CFG_MODE_SIGN_REDIRECT);
	cr_assert_null(pol_listener_find(s, 4, v4(192, 0, 2, 1), 5061, 0, 0));
	cr_assert_null(pol_listener_find(s, 4, v4(192, 0, 2, 1), 5060, 7, 0));
	l = pol_listener_find(s, 6, v6("2001:db8::1"), 5070, 7, 3);
	cr_assert_not_null(l);
	cr_assert_eq(l->mode, CFG_MODE_VERIFY_REDIRECT);
	cr_assert_null(pol_listener_find(s, 6, v6("2001:db8::1"), 5070, 0, 3));
	/* inline on iface 1: any destination */
	l = pol_listener_find(s, 4, v4(203, 0, 113, 9), 5060, 0, 1);
	cr_assert_not_null(l);
	cr_assert_eq(l->mode, CFG_MODE_INLINE);
	cr_assert_eq(l->peer_port, 0);
	cr_assert_null(pol_listener_find(s, 4, v4(203, 0, 113, 9), 5060, 0, 0));
	pol_snapshot_free(s);
}

/* ---- building and publication ------------------------------------------------------------ */

Test(policy, params_and_accessors)
{
	struct pol_snapshot *s = snap_of("{\"hsm\": {\"module\": \"/m.so\", \"tokens\": "
					 "[\"pkcs11:token=t\"], \"deadline_ms\": 33},"
					 " \"verify\": {\"park_timeout_ms\": 999},"
					 " \"log\": {\"rate_per_s\": 3}}", NULL);
	const struct pol_params *p = pol_snapshot_params(s);
	cr_assert_eq(p->sign_deadline_ms, 33);
	cr_assert_eq(p->park_timeout_ms, 999);
	cr_assert_eq(p->fetch_timeout_ms, 2000);
	cr_assert_eq(p->freshness_s, 60);
	cr_assert_eq(p->log_rate_per_s, 3);
	size_t n = 9;
	cr_assert_not_null(pol_snapshot_trunks(s, &n));
	cr_assert_eq(n, 0);
	pol_snapshot_listeners(s, &n);
	cr_assert_eq(n, 0);
	cr_assert_null(pol_snapshot_tntable(s));
	cr_assert_eq(pol_snapshot_generation(s), 0);
	pol_snapshot_free(s);
}

Test(policy, publish_and_swap_creds)
{
	pol_thread_register();
	cr_assert_null(pol_current());
	struct pol_snapshot *s1 = snap_of(pol_json, tn_text);
	uint64_t g1 = pol_publish(s1);
	cr_assert_eq(pol_current(), s1);
	cr_assert_eq(pol_snapshot_generation(pol_current()), g1);

	struct cfg_cred nc[1] = {{.id = "new", .key = "pkcs11:object=new",
				  .x5u = "https://cr/new.pem", .attest = CFG_ATTEST_A | CFG_ATTEST_B |
				  CFG_ATTEST_C}};
	struct pol_snapshot *s2 = NULL;
	char err[256];
	cr_assert_eq(pol_snapshot_with_creds(pol_current(), nc, 1, &s2, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(pol_snapshot_tntable(s2), pol_snapshot_tntable(s1)); /* shared */
	uint64_t g2 = pol_publish(s2);
	cr_assert_eq(g2, g1 + 1);
	const struct pol_snapshot *cur = pol_current();
	struct pol_decision d;
	cr_assert_eq(pol_decide(cur, 4, v4(10, 9, 9, 9), 0, "12125550005", 11, &d), 0);
	cr_assert_eq(d.attest, 'A'); /* trunks and TN table carried over */
	cr_assert_str_eq(d.cred->id, "new");
	cr_assert_str_eq(d.cred->x5u, "https://cr/new.pem");
	pol_quiescent();

	/* invalid credential tables are refused with the field named */
	struct cfg_cred bad[2] = {nc[0], nc[0]};
	struct pol_snapshot *s3 = NULL;
	cr_assert_eq(pol_snapshot_with_creds(pol_current(), bad, 2, &s3, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "credentials[1].id: duplicate id \"new\" (credentials[0])");
	bad[0].x5u = "http://cr/x.pem";
	cr_assert_eq(pol_snapshot_with_creds(pol_current(), bad, 1, &s3, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "credentials[0].x5u: expected an https:// URL");
	bad[0] = nc[0];
	bad[0].attest = 0;
	cr_assert_eq(pol_snapshot_with_creds(pol_current(), bad, 1, &s3, err, sizeof(err)),
		     -EINVAL);
	cr_assert_null(s3);

	pol_thread_offline();
	pol_shutdown();
	pol_thread_online();
	cr_assert_null(pol_current());
	pol_thread_unregister();
}

Test(policy, publish_from_unregistered_thread)
{
	/* the writer is not a QSBR thread: each publish waits for a grace period and frees */
	struct pol_snapshot *a = snap_of(pol_json, tn_text), *b = snap_of(pol_json, NULL);
	uint64_t g = pol_publish(a);
	cr_assert_eq(pol_publish(b), g + 1);
	cr_assert_eq(pol_current(), b);
	cr_assert_eq(pol_publish(NULL), g + 2);
	cr_assert_null(pol_current());
	pol_shutdown();
}

Test(policy, load_reuses_unchanged_tn_file)
{
	char path[] = "/tmp/test_tn_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, tn_text, strlen(tn_text)), (ssize_t)strlen(tn_text));
	close(fd);
	char json[4096];
	snprintf(json, sizeof(json), "%.*s, \"tn_table\": \"%s\"}", (int)strlen(pol_json) - 1,
		 pol_json, path);
	struct cfg *c = cfg_of(json);
	struct pol_snapshot *a = NULL, *b = NULL, *d = NULL;
	char err[512];
	cr_assert_eq(pol_snapshot_load(c, NULL, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pol_tn_ranges(pol_snapshot_tntable(a)), 4);
	cr_assert_eq(pol_snapshot_load(c, a, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pol_snapshot_tntable(b), pol_snapshot_tntable(a));
	/* changed file: reloaded */
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "555 z\n", 6), 6);
	close(fd);
	cr_assert_eq(pol_snapshot_load(c, b, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(pol_snapshot_tntable(d), pol_snapshot_tntable(b));
	cr_assert_eq(pol_tn_ranges(pol_snapshot_tntable(d)), 5);
	pol_snapshot_free(a);
	pol_snapshot_free(b);
	pol_snapshot_free(d);
	/* a broken file fails the load with the path and line */
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "555 y\n", 6), 6);
	close(fd);
	cr_assert_eq(pol_snapshot_load(c, NULL, &a, err, sizeof(err)), -EINVAL);
	cr_assert_null(a);
	cr_assert(strstr(err, "line 8: overlaps line 7 (555 in both)") != NULL, "%s", err);
	unlink(path);
	cfg_free(c);
}
