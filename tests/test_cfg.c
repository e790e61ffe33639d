/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control/cfg: a full configuration parsed field by field, defaults, and one error per field
 * (each mutation of the valid base document must fail with a message naming its JSON path).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>

#include "control/cfg.h"

static const char base_json[] =
	"{\"eal\": [\"--no-huge\", \"-m\", \"512\"],"
	" \"ports\": [{\"id\": 0, \"mtu\": 1500}, {\"id\": 1}],"
	" \"listeners\": ["
	"  {\"addr\": \"192.0.2.1\", \"port\": 5060, \"mode\": \"sign-redirect\"},"
	"  {\"addr\": \"2001:db8::1\", \"port\": 5062, \"vlan\": 100,"
	"   \"mode\": \"verify-redirect\"},"
	"  {\"port\": 5060, \"mode\": \"inline\", \"iface\": 0,"
	"   \"peer\": {\"port\": 1, \"verify\": true}}],"
	" \"hsm\": {\"module\": \"/usr/lib/softhsm/libsofthsm2.so\","
	"  \"tokens\": [\"pkcs11:token=shaken\"], \"sessions\": 8, \"pin_env\": \"SHAKEN_PIN\","
	"  \"deadline_ms\": 40},"
	" \"credentials\": ["
	"  {\"id\": \"main\", \"key\": \"pkcs11:token=shaken;object=sp1\","
	"   \"x5u\": \"https://cr.example.net/sp1.pem\", \"cert\": \"/etc/sp1.pem\"},"
	"  {\"id\": \"c-only\", \"key\": \"pkcs11:token=shaken;object=sp2\","
	"   \"x5u\": \"https://cr.example.net/sp2.pem\", \"attest\": [\"C\"],"
	"   \"origid\": \"0b4a2f3c-5d6e-4f70-8192-a3b4c5d6e7f8\"}],"
	" \"verify\": {\"trust\": \"/etc/ca.pem\", \"crl_urls\": [\"http://pa.example/crl\"],"
	"  \"allow_hosts\": [\"cr.example.net\"], \"deny_hosts\": [\"bad.example\"],"
	"  \"freshness_s\": 30, \"fetch_timeout_ms\": 1500, \"park_timeout_ms\": 2000,"
	"  \"cache\": {\"max_entries\": 1000, \"ttl_floor_s\": 60, \"ttl_ceiling_s\": 600}},"
	" \"sign\": {\"unknown_origid\": \"7f000000-0000-4000-8000-000000000001\"},"
	" \"trunks\": ["
	"  {\"name\": \"acme\", \"prefix\": \"198.51.100.0/24\", \"kind\": \"customer\","
	"   \"origid\": \"11111111-2222-4333-8444-555555555555\", \"on_sign_failure\": \"503\"},"
	"  {\"name\": \"acme6\", \"customer\": \"acme\","
	"   \"prefix\": [\"2001:db8:100::/48\", \"2001:db8:200::1\"], \"vlan\": 100,"
	"   \"kind\": \"customer\", \"origid\": \"11111111-2222-4333-8444-555555555555\"},"
	"  {\"name\": \"carrier-x\", \"prefix\": \"203.0.113.0/24\", \"kind\": \"peer\","
	"   \"origid\": \"22222222-2222-4333-8444-555555555555\","
	"   \"on_verify_failure\": \"reject\"},"
	"  {\"name\": \"gw\", \"prefix\": \"203.0.113.128/25\", \"kind\": \"gateway\","
	"   \"origid\": \"33333333-2222-4333-8444-555555555555\", \"attest_override\": \"B\"}],"
	" \"tn_table\": \"/etc/tn.txt\","
	" \"telemetry\": {\"prometheus\": \"127.0.0.1:9464\"},"
	" \"control\": {\"socket\": \"/run/shakend.sock\"},"
	" \"log\": {\"level\": \"info\", \"rate_per_s\": 5}}";

static struct cfg *parse_ok(const char *json)
{
	struct cfg *c = NULL;
	char err[512];
	int r = cfg_parse(json, strlen(json), &c, err, sizeof(err));
	cr_assert_eq(r, 0, "cfg_parse: %d %s", r, err);
	cr_assert_not_null(c);
	return c;
}

Test(cfg, full_document)
{
	struct cfg *c = parse_ok(base_json);
	cr_assert_eq(c->n_eal, 3);
	cr_assert_str_eq(c->eal[2], "512");
	cr_assert_eq(c->n_ports, 2);
	cr_assert_eq(c->ports[0].mtu, 1500);
	cr_assert_eq(c->ports[1].id, 1);
	cr_assert_eq(c->ports[1].mtu, 1500);

	cr_assert_eq(c->n_listeners, 3);
	const struct cfg_listener *l = c->listeners;
	cr_assert_eq(l[0].mode, CFG_MODE_SIGN_REDIRECT);
	cr_assert_eq(l[0].addr.family, 4);
	cr_assert_eq(memcmp(l[0].addr.ip, "\xc0\x00\x02\x01", 4), 0);
	cr_assert_eq(l[0].port, 5060);
	cr_assert_eq(l[0].vlan, 0);
	cr_assert_eq(l[0].iface, -1);
	cr_assert(l[0].sign && !l[0].verify);
	cr_assert_eq(l[1].mode, CFG_MODE_VERIFY_REDIRECT);
	cr_assert_eq(l[1].addr.family, 6);
	cr_assert_eq(l[1].addr.ip[0], 0x20);
	cr_assert_eq(l[1].addr.ip[15], 1);
	cr_assert_eq(l[1].vlan, 100);
	cr_assert(!l[1].sign && l[1].verify);
	cr_assert_eq(l[2].mode, CFG_MODE_INLINE);
	cr_assert_eq(l[2].addr.family, 0);
	cr_assert_eq(l[2].iface, 0);
	cr_assert_eq(l[2].peer_port, 1);
	cr_assert(l[2].sign && l[2].verify); /* sign defaults to true */

	cr_assert_str_eq(c->hsm.module, "/usr/lib/softhsm/libsofthsm2.so");
	cr_assert_eq(c->hsm.n_tokens, 1);
	cr_assert_str_eq(c->hsm.tokens[0], "pkcs11:token=shaken");
	cr_assert_eq(c->hsm.sessions, 8);
	cr_assert_str_eq(c->hsm.pin_env, "SHAKEN_PIN");
	cr_assert_null(c->hsm.pin_file);
	cr_assert_eq(c->hsm.deadline_ms, 40);

	cr_assert_eq(c->n_creds, 2);
	cr_assert_str_eq(c->creds[0].id, "main");
	cr_assert_eq(c->creds[0].attest, CFG_ATTEST_A | CFG_ATTEST_B | CFG_ATTEST_C);
	cr_assert_null(c->creds[0].origid);
	cr_assert_str_eq(c->creds[0].cert, "/etc/sp1.pem");
	cr_assert_eq(c->creds[1].attest, CFG_ATTEST_C);
	cr_assert_str_eq(c->creds[1].origid, "0b4a2f3c-5d6e-4f70-8192-a3b4c5d6e7f8");
	cr_assert_null(c->creds[1].cert);

	cr_assert_str_eq(c->verify.trust, "/etc/ca.pem");
	cr_assert_eq(c->verify.n_crl_urls, 1);
	cr_assert_eq(c->verify.n_allow_hosts, 1);
	cr_assert_str_eq(c->verify.deny_hosts[0], "bad.example");
	cr_assert_eq(c->verify.freshness_s, 30);
	cr_assert_eq(c->verify.fetch_timeout_ms, 1500);
	cr_assert_eq(c->verify.park_timeout_ms, 2000);
	cr_assert_eq(c->verify.cache.max_entries, 1000);
	cr_assert_eq(c->verify.cache.max_bytes, 0);
	cr_assert_eq(c->verify.cache.ttl_ceiling_s, 600);

	cr_assert_str_eq(c->sign.unknown_origid, "7f000000-0000-4000-8000-000000000001");

	cr_assert_eq(c->n_trunks, 4);
	const struct cfg_trunk *t = c->trunks;
	cr_assert_str_eq(t[0].name, "acme");
	cr_assert_str_eq(t[0].customer, "acme"); /* defaults to the name */
	cr_assert_eq(t[0].n_prefixes, 1);
	cr_assert_eq(t[0].prefixes[0].len, 24);
	cr_assert_eq(t[0].vlan, CFG_VLAN_ANY);
	cr_assert_eq(t[0].on_sign_failure, CFG_SFAIL_503);
	cr_assert_eq(t[0].on_verify_failure, CFG_VFAIL_ANNOTATE);
	cr_assert_eq(t[0].attest_override, 0);
	cr_assert_str_eq(t[1].customer, "acme");
	cr_assert_eq(t[1].n_prefixes, 2);
	cr_assert_eq(t[1].prefixes[0].len, 48);
	cr_assert_eq(t[1].prefixes[1].len, 128);
	cr_assert_eq(t[1].vlan, 100);
	cr_assert_eq(t[2].kind, CFG_TRUNK_PEER);
	cr_assert_null(t[2].customer);
	cr_assert_eq(t[2].on_verify_failure, CFG_VFAIL_REJECT);
	cr_assert_eq(t[2].on_sign_failure, CFG_SFAIL_UNSIGNED);
	cr_assert_eq(t[3].kind, CFG_TRUNK_GATEWAY);
	cr_assert_eq(t[3].attest_override, 'B');

	cr_assert_str_eq(c->tn_table, "/etc/tn.txt");
	cr_assert_str_eq(c->prometheus, "127.0.0.1:9464");
	cr_assert_str_eq(c->control_socket, "/run/shakend.sock");
	cr_assert_eq(c->log_level, CFG_LOG_INFO);
	cr_assert_eq(c->log_rate_per_s, 5);
	cfg_free(c);
}

Test(cfg, empty_object_defaults)
{
	struct cfg *c = parse_ok("{}");
	cr_assert_eq(c->n_eal, 0);
	cr_assert_null(c->eal);
	cr_assert_eq(c->n_listeners, 0);
	cr_assert_null(c->hsm.module);
	cr_assert_eq(c->hsm.sessions, 4);
	cr_assert_eq(c->hsm.deadline_ms, 50);
	cr_assert_eq(c->verify.freshness_s, 60);
	cr_assert_eq(c->verify.fetch_timeout_ms, 2000);
	cr_assert_eq(c->verify.park_timeout_ms, 2500);
	cr_assert_null(c->sign.unknown_origid);
	cr_assert_null(c->tn_table);
	cr_assert_null(c->prometheus);
	cr_assert_eq(c->log_level, CFG_LOG_NOTICE);
	cr_assert_eq(c->log_rate_per_s, 10);
	cfg_free(c);
}

Test(cfg, not_nul_terminated_and_limits)
{
	char buf[8] = {'{', '}', 'x', 'x'};
	struct cfg *c = NULL;
	char err[128];
	cr_assert_eq(cfg_parse(buf, 2, &c, err, sizeof(err)), 0, "%s", err);
	cfg_free(c);
	cr_assert_eq(cfg_parse(buf, 3, &c, err, sizeof(err)), -EINVAL);
	cr_assert_null(c);
	cr_assert(strstr(err, "line 1") != NULL, "%s", err);
	cr_assert_eq(cfg_parse(buf, CFG_MAX_BYTES + 1, &c, err, sizeof(err)), -E2BIG);
	cr_assert_eq(cfg_parse(NULL, 0, &c, err, sizeof(err)), -EINVAL);
	cr_assert_eq(cfg_parse("{}", 2, NULL, err, sizeof(err)), -EINVAL);
	/* no error buffer at all */
	cr_assert_eq(cfg_parse("[]", 2, &c, NULL, 0), -EINVAL);
	/* a tiny error buffer is truncated, still terminated */
	char small[8];
	cr_assert_eq(cfg_parse("[]", 2, &c, small, sizeof(small)), -EINVAL);
	cr_assert_eq(strlen(small), 7);
}

Test(cfg, syntax_errors_and_duplicate_keys)
{
	struct cfg *c = NULL;
	char err[256];
	const char *j1 = "{\"log\": {\"level\": \"info\",}}";
	cr_assert_eq(cfg_parse(j1, strlen(j1), &c, err, sizeof(err)), -EINVAL);
	cr_assert(strncmp(err, "line 1 column", 13) == 0, "%s", err);
	const char *j2 = "{\"tn_table\": \"/a\", \"tn_table\": \"/b\"}";
	cr_assert_eq(cfg_parse(j2, strlen(j2), &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "duplicate") != NULL, "%s", err);
	const char *j3 = "{\"tn_table\": \"/a\"} {}";
	cr_assert_eq(cfg_parse(j3, strlen(j3), &c, err, sizeof(err)), -EINVAL);
	const char *j4 = "{\"tn_table\": \"a\\u0000b\"}";
	cr_assert_eq(cfg_parse(j4, strlen(j4), &c, err, sizeof(err)), -EINVAL);
	const char *j5 = "[1]";
	cr_assert_eq(cfg_parse(j5, strlen(j5), &c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "(root): expected an object, got an array");
}

/* ---- mutations of the base document --------------------------------------------------- */

/* Follows path ("a.b[2].c") in root; returns the parent container and the last step. */
static json_t *walk_to(json_t *root, const char *path, char *key, size_t keylen, long *idx)
{
	json_t *cur = root;
	const char *p = path;
	for (;;) {
		char k[64] = "";
		long i = -1;
		if (*p == '[') {
			i = strtol(p + 1, (char **)&p, 10);
			cr_assert_eq(*p, ']');
			p++;
		} else {
			size_t n = strcspn(p, ".[");
			cr_assert_lt(n, sizeof(k));
			memcpy(k, p, n);
			k[n] = '\0';
			p += n;
		}
		if (*p == '.')
			p++;
		if (*p == '\0') {
			snprintf(key, keylen, "%s", k);
			*idx = i;
			return cur;
		}
		cur = i >= 0 ? json_array_get(cur, (size_t)i) : json_object_get(cur, k);
		cr_assert_not_null(cur, "path %s", path);
	}
}

/* Sets path to value (JSON text; NULL deletes) in the base document and parses the result. */
static int mutate(const char *path, const char *value, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loads(base_json, 0, &je);
	cr_assert_not_null(root, "base: %s", je.text);
	char key[64];
	long idx;
	json_t *parent = walk_to(root, path, key, sizeof(key), &idx);
	json_t *v = value ? json_loads(value, JSON_DECODE_ANY, &je) : NULL;
	cr_assert(value == NULL || v != NULL, "value %s: %s", value, je.text);
	if (idx >= 0) {
		if (v)
			cr_assert_eq(json_array_set_new(parent, (size_t)idx, v), 0);
		else
			cr_assert_eq(json_array_remove(parent, (size_t)idx), 0);
	} else if (v) {
		json_object_set_new(parent, key, v);
	} else {
		json_object_del(parent, key);
	}
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	struct cfg *c = NULL;
	int r = cfg_parse(text, strlen(text), &c, err, errlen);
	free(text);
	cfg_free(c);
	return r;
}

struct bad {
	const char *path;
	const char *value;   /* NULL: delete */
	const char *message; /* the exact error */
};

static struct bad bad_cases[] = {
	{"bogus", "1", "bogus: unknown key"},
	{"eal", "\"--no-huge\"", "eal: expected an array of strings, got a string"},
	{"eal[1]", "5", "eal[1]: expected a string, got an integer"},
	{"eal[0]", "\"\"", "eal[0]: must not be empty"},
	{"ports", "{}", "ports: expected an array, got an object"},
	{"ports[1].id", "0", "ports[1].id: duplicate port id 0 (ports[0])"},
	{"ports[0].id", "32", "ports[0].id: 32 out of range 0..31"},
	{"ports[0].id", "\"0\"", "ports[0].id: expected an integer, got a string"},
	{"ports[0].id", NULL, "ports[0].id: required"},
	{"ports[0].mtu", "9001", "ports[0].mtu: 9001 out of range 576..9000"},
	{"ports[0].mtu", "1500.0", "ports[0].mtu: expected an integer, got a number"},
	{"ports[0].speed", "10", "ports[0].speed: unknown key"},
	{"listeners[1].mode", "\"redirect\"",
	 "listeners[1].mode: expected one of sign-redirect, verify-redirect, inline"},
	{"listeners[0].mode", NULL, "listeners[0].mode: required"},
	{"listeners[0].addr", NULL, "listeners[0].addr: required"},
	{"listeners[0].addr", "\"192.0.2.256\"",
	 "listeners[0].addr: invalid IP address \"192.0.2.256\""},
	{"listeners[0].addr", "\"127.1\"", "listeners[0].addr: invalid IP address \"127.1\""},
	{"listeners[0].addr", "\"[2001:db8::1]\"",
	 "listeners[0].addr: invalid IP address \"[2001:db8::1]\""},
	{"listeners[0].port", "0", "listeners[0].port: 0 out of range 1..65535"},
	{"listeners[0].port", "65536", "listeners[0].port: 65536 out of range 1..65535"},
	{"listeners[0].vlan", "4095", "listeners[0].vlan: 4095 out of range 0..4094"},
	{"listeners[0].vlan", "-1", "listeners[0].vlan: -1 out of range 0..4094"},
	{"listeners[0].iface", "7", "listeners[0].iface: port 7 is not in ports"},
	{"listeners[0].peer", "{\"port\": 1}", "listeners[0].peer: only for mode inline"},
	{"listeners[2].peer", NULL, "listeners[2].peer: required for mode inline"},
	{"listeners[2].iface", NULL, "listeners[2].iface: required"},
	{"listeners[2].peer.port", "0", "listeners[2].peer.port: must differ from iface"},
	{"listeners[2].peer.port", "5", "listeners[2].peer.port: port 5 is not in ports"},
	{"listeners[2].peer.sign", "\"yes\"",
	 "listeners[2].peer.sign: expected a boolean, got a string"},
	{"listeners[2].peer", "{\"port\": 1, \"sign\": false}",
	 "listeners[2].peer: sign and verify both false: nothing to do"},
	{"listeners[2].peer.mac", "\"x\"", "listeners[2].peer.mac: unknown key"},
	{"listeners[1].addr", "\"192.0.2.1\"", NULL}, /* differs in port: fine (checked below) */
	{"listeners[1]", "{\"addr\": \"192.0.2.1\", \"mode\": \"verify-redirect\"}",
	 "listeners[1]: same address, port, vlan and iface as listeners[0]"},
	{"listeners[0]", "\"x\"", "listeners[0]: expected an object, got a string"},
	{"hsm", "[]", "hsm: expected an object, got an array"},
	{"hsm.pin", "\"1234\"",
	 "hsm.pin: the PIN must not be in the config: use pin_file or pin_env"},
	{"hsm.module", NULL, "hsm.module: required"},
	{"hsm.module", "\"/a\\nb\"", "hsm.module: contains a control character"},
	{"hsm.tokens", "[]", "hsm.tokens: at least one token URI required"},
	{"hsm.tokens[0]", "\"token=x\"", "hsm.tokens[0]: expected a pkcs11: URI"},
	{"hsm.sessions", "0", "hsm.sessions: 0 out of range 1..1024"},
	{"hsm.pin_env", "\"1PIN\"",
	 "hsm.pin_env: expected an environment variable name [A-Za-z_][A-Za-z0-9_]*"},
	{"hsm.pin_file", "\"/etc/pin\"", "hsm.pin_env: give either pin_file or pin_env, not both"},
	{"hsm.deadline_ms", "0", "hsm.deadline_ms: 0 out of range 1..10000"},
	{"hsm", NULL, "credentials[0].key: a pkcs11: key needs the hsm section"},
	{"credentials", NULL, "credentials: required: a listener signs"},
	{"credentials[0].id", "\"a b\"",
	 "credentials[0].id: expected a name of 1..63 characters [A-Za-z0-9._-]"},
	{"credentials[1].id", "\"main\"", "credentials[1].id: duplicate id \"main\" (credentials[0])"},
	{"credentials[0].key", NULL, "credentials[0].key: required"},
	{"credentials[0].x5u", "\"http://cr.example.net/a.pem\"",
	 "credentials[0].x5u: expected an https:// URL"},
	{"credentials[0].x5u", "\"https://a b\"", "credentials[0].x5u: expected an https:// URL"},
	{"credentials[0].attest", "[\"D\"]", "credentials[0].attest[0]: expected one of A, B, C"},
	{"credentials[0].attest", "[\"A\", \"A\"]", "credentials[0].attest[1]: duplicate A"},
	{"credentials[0].attest", "[]",
	 "credentials[0].attest: expected an array of 1..3 of \"A\", \"B\", \"C\""},
	{"credentials[1].origid", "\"not-a-uuid\"",
	 "credentials[1].origid: expected a UUID (8-4-4-4-12 hex digits)"},
	{"verify.trust", "7", "verify.trust: expected a string, got an integer"},
	{"verify.crl_urls[0]", "\"ftp://x\"",
	 "verify.crl_urls[0]: expected an http:// or https:// URL"},
	{"verify.allow_hosts[0]", "\"a host\"",
	 "verify.allow_hosts[0]: contains a space, quote, backslash or non-ASCII byte"},
	{"verify.deny_hosts", "\"x\"", "verify.deny_hosts: expected an array of strings, got a string"},
	{"verify.freshness_s", "0", "verify.freshness_s: 0 out of range 1..3600"},
	{"verify.fetch_timeout_ms", "99", "verify.fetch_timeout_ms: 99 out of range 100..60000"},
	{"verify.park_timeout_ms", "60001", "verify.park_timeout_ms: 60001 out of range 1..60000"},
	{"verify.cache.max_bytes", "100", "verify.cache.max_bytes: 100 out of range 4096..1099511627776"},
	{"verify.cache.ttl_ceiling_s", "10", "verify.cache.ttl_ceiling_s: less than ttl_floor_s"},
	{"verify.cache.refresh", "1", "verify.cache.refresh: unknown key"},
	{"sign.unknown_origid", "\"x\"", "sign.unknown_origid: expected a UUID (8-4-4-4-12 hex digits)"},
	{"sign.origid", "\"x\"", "sign.origid: unknown key"},
	{"trunks[0].name", NULL, "trunks[0].name: required"},
	{"trunks[1].name", "\"acme\"", "trunks[1].name: duplicate name \"acme\" (trunks[0])"},
	{"trunks[0].kind", "\"carrier\"", "trunks[0].kind: expected one of customer, peer, gateway"},
	{"trunks[2].customer", "\"x\"", "trunks[2].customer: only for kind customer"},
	{"trunks[0].prefix", NULL, "trunks[0].prefix: required"},
	{"trunks[0].prefix", "\"198.51.100.0/33\"",
	 "trunks[0].prefix: invalid prefix \"198.51.100.0/33\" (address/len, host bits zero)"},
	{"trunks[0].prefix", "\"198.51.100.1/24\"",
	 "trunks[0].prefix: invalid prefix \"198.51.100.1/24\" (address/len, host bits zero)"},
	{"trunks[1].prefix[1]", "\"2001:db8::/129\"",
	 "trunks[1].prefix[1]: invalid prefix \"2001:db8::/129\" (address/len, host bits zero)"},
	{"trunks[0].prefix", "[]", "trunks[0].prefix: expected 1..64 prefixes"},
	{"trunks[0].prefix", "5", "trunks[0].prefix: expected a prefix string or an array of them, "
	 "got an integer"},
	{"trunks[3].prefix", "\"203.0.113.0/24\"",
	 "trunks[3].prefix: prefix 0: same prefix and vlan as trunks[2]"},
	{"trunks[0].vlan", "5000", "trunks[0].vlan: 5000 out of range 0..4094"},
	{"trunks[0].origid", NULL, "trunks[0].origid: required"},
	{"trunks[0].origid", "\"11111111-2222-4333-8444-55555555555g\"",
	 "trunks[0].origid: expected a UUID (8-4-4-4-12 hex digits)"},
	{"trunks[0].attest_override", "\"D\"", "trunks[0].attest_override: expected one of A, B, C"},
	{"trunks[0].on_verify_failure", "\"drop\"",
	 "trunks[0].on_verify_failure: expected one of annotate, reject"},
	{"trunks[0].on_sign_failure", "\"reject\"",
	 "trunks[0].on_sign_failure: expected one of unsigned, 503"},
	{"tn_table", "[]", "tn_table: expected a string, got an array"},
	{"telemetry.prometheus", "\"9464\"", "telemetry.prometheus: expected host:port or [v6]:port"},
	{"telemetry.prometheus", "\"[::1]:0\"", "telemetry.prometheus: expected host:port or [v6]:port"},
	{"telemetry.statsd", "\"x\"", "telemetry.statsd: unknown key"},
	{"control.socket", "\"\"", "control.socket: must not be empty"},
	{"log.level", "\"verbose\"",
	 "log.level: expected one of emerg, alert, crit, err, warning, notice, info, debug"},
	{"log.rate_per_s", "100001", "log.rate_per_s: 100001 out of range 0..100000"},
};

#define N_BAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

/* Parameters are indexes: Criterion may run each case in a fresh process image, where
 * pointers from the parent's address space would not hold. */
static size_t bad_idx[N_BAD];

ParameterizedTestParameters(cfg, field_errors)
{
	for (size_t i = 0; i < N_BAD; i++)
		bad_idx[i] = i;
	return cr_make_param_array(size_t, bad_idx, N_BAD);
}

ParameterizedTest(size_t *ip, cfg, field_errors)
{
	const struct bad *b = &bad_cases[*ip];
	char err[512] = "";
	int r = mutate(b->path, b->value, err, sizeof(err));
	if (b->message == NULL) {
		cr_assert_eq(r, 0, "%s=%s: %s", b->path, b->value, err);
		return;
	}
	cr_assert_eq(r, -EINVAL, "%s=%s: %d", b->path, b->value ? b->value : "(deleted)", r);
	cr_assert_str_eq(err, b->message, "%s=%s", b->path, b->value ? b->value : "(deleted)");
}

Test(cfg, valid_variants)
{
	char err[512];
	cr_assert_eq(mutate("hsm.pin_env", NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mutate("telemetry.prometheus", "\"[::1]:9464\"", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(mutate("trunks[0].attest_override", "null", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mutate("trunks[0].prefix", "\"198.51.100.7\"", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(mutate("trunks[0].prefix", "\"0.0.0.0/0\"", err, sizeof(err)), 0, "%s", err);
	/* the same prefix on another VLAN is another trunk */
	cr_assert_eq(mutate("trunks[3].prefix", "\"203.0.113.0/24\"", err, sizeof(err)), -EINVAL);
	cr_assert_eq(mutate("trunks[3].vlan", "7", err, sizeof(err)), 0, "%s", err);
	/* a verify-only config needs no credentials */
	cr_assert_eq(mutate("listeners", "[{\"addr\": \"192.0.2.1\", \"mode\": "
			    "\"verify-redirect\"}]", err, sizeof(err)), 0, "%s", err);
}

Test(cfg, prefix_and_ip_parsers)
{
	struct cfg_prefix p;
	cr_assert_eq(cfg_prefix_parse("10.0.0.0/8", &p), 0);
	cr_assert_eq(p.len, 8);
	cr_assert_eq(p.addr.family, 4);
	cr_assert_eq(cfg_prefix_parse("10.0.0.1", &p), 0);
	cr_assert_eq(p.len, 32);
	cr_assert_eq(cfg_prefix_parse("::/0", &p), 0);
	cr_assert_eq(p.len, 0);
	cr_assert_eq(p.addr.family, 6);
	cr_assert_eq(cfg_prefix_parse("2001:db8::/32", &p), 0);
	cr_assert_eq(cfg_prefix_parse("2001:db9::/31", &p), -EINVAL); /* host bit 31 set */
	cr_assert_eq(cfg_prefix_parse("10.0.0.0/08", &p), -EINVAL);
	cr_assert_eq(cfg_prefix_parse("10.0.0.0/", &p), -EINVAL);
	cr_assert_eq(cfg_prefix_parse("10.0.0.0/-1", &p), -EINVAL);
	cr_assert_eq(cfg_prefix_parse("10.0.0.0/1000", &p), -EINVAL);
	cr_assert_eq(cfg_prefix_parse("", &p), -EINVAL);
	struct cfg_ip ip;
	cr_assert_eq(cfg_ip_parse("0x7f000001", &ip), -EINVAL);
	cr_assert_eq(cfg_ip_parse("010.0.0.1", &ip), -EINVAL);
	cr_assert_eq(cfg_ip_parse("fe80::1%eth0", &ip), -EINVAL);
	cr_assert_eq(cfg_ip_parse("::ffff:192.0.2.1", &ip), 0);
	cr_assert_eq(ip.family, 6);
}

Test(cfg, names)
{
	cr_assert_str_eq(cfg_mode_str(CFG_MODE_INLINE), "inline");
	cr_assert_str_eq(cfg_trunk_kind_str(CFG_TRUNK_GATEWAY), "gateway");
	cr_assert_str_eq(cfg_verify_fail_str(CFG_VFAIL_REJECT), "reject");
	cr_assert_str_eq(cfg_sign_fail_str(CFG_SFAIL_503), "503");
	cr_assert_str_eq(cfg_log_level_str(CFG_LOG_DEBUG), "debug");
	cr_assert_str_eq(cfg_mode_str((enum cfg_mode)9), "");
}

Test(cfg, load_file)
{
	char path[] = "/tmp/test_cfg_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, base_json, strlen(base_json)), (ssize_t)strlen(base_json));
	close(fd);
	struct cfg *c = NULL;
	char err[512];
	cr_assert_eq(cfg_load_file(path, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c->n_trunks, 4);
	cfg_free(c);
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_eq(write(fd, "{\"log\": 1}", 10), 10);
	close(fd);
	cr_assert_eq(cfg_load_file(path, &c, err, sizeof(err)), -EINVAL);
	char want[600];
	snprintf(want, sizeof(want), "%s: log: expected an object, got an integer", path);
	cr_assert_str_eq(err, want);
	unlink(path);
	cr_assert_eq(cfg_load_file(path, &c, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, path) != NULL);
}
