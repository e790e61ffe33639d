/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzzes the pure x5u policy: x5u_url_parse() and x5u_url_check() on arbitrary bytes, and the
 * special-address checks on the first 4/16 bytes, against invariants and a table-driven
 * reference of the special-purpose blocks. Aborts on any inconsistency.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataplane/certcache/x5u_fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

struct prefix {
	uint8_t net[16];
	unsigned bits;
};

/* RFC 6890 and the IANA IPv4 special-purpose registry, as the header promises. */
static const struct prefix special4[] = {
	{ { 0 }, 8 },		    { { 10 }, 8 },	       { { 100, 64 }, 10 },
	{ { 127 }, 8 },		    { { 169, 254 }, 16 },      { { 172, 16 }, 12 },
	{ { 192, 0, 0 }, 24 },	    { { 192, 0, 2 }, 24 },     { { 192, 31, 196 }, 24 },
	{ { 192, 52, 193 }, 24 },   { { 192, 88, 99 }, 24 },   { { 192, 168 }, 16 },
	{ { 192, 175, 48 }, 24 },   { { 198, 18 }, 15 },       { { 198, 51, 100 }, 24 },
	{ { 203, 0, 113 }, 24 },    { { 224 }, 4 },	       { { 240 }, 4 },
};

/* Special blocks inside 2000::/3 (everything outside it is special too). */
static const struct prefix special6[] = {
	{ { 0x20, 0x01, 0x00, 0x00 }, 23 },
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32 },
	{ { 0x20, 0x02 }, 16 },
	{ { 0x3f, 0xff }, 20 },
};

static bool in_prefix(const uint8_t *a, const struct prefix *p)
{
	unsigned full = p->bits / 8, rest = p->bits % 8;

	if (memcmp(a, p->net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ p->net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool ref_special4(const uint8_t a[4])
{
	for (size_t i = 0; i < sizeof(special4) / sizeof(special4[0]); i++)
		if (in_prefix(a, &special4[i]))
			return true;
	return false;
}

static bool ref_special6(const uint8_t a[16])
{
	static const struct prefix mapped = { { [10] = 0xff, [11] = 0xff }, 96 };
	static const struct prefix nat64 = { { 0x00, 0x64, 0xff, 0x9b }, 96 };
	static const struct prefix global = { { 0x20 }, 3 };

	if (in_prefix(a, &mapped) || in_prefix(a, &nat64))
		return ref_special4(a + 12);
	if (!in_prefix(a, &global))
		return true;
	for (size_t i = 0; i < sizeof(special6) / sizeof(special6[0]); i++)
		if (in_prefix(a, &special6[i]))
			return true;
	return false;
}

static const char *const allow[] = { "localhost", "127.0.0.1", "[::1]", "Cert.Example.com",
				     "[FD00::1]" };
static const uint16_t ports[] = { 443, 8443, 9443 };
static const struct x5u_policy policy = {
	.allow_hosts = allow,
	.n_allow_hosts = sizeof(allow) / sizeof(allow[0]),
	.ports = ports,
	.n_ports = sizeof(ports) / sizeof(ports[0]),
};

static bool ref_allowed(const char *host)
{
	for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]); i++) {
		const char *h = allow[i];
		size_t n = strlen(h);

		if (h[0] == '[' && n >= 2 && strlen(host) == n - 2 &&
		    strncasecmp(h + 1, host, n - 2) == 0)
			return true;
		if (h[0] != '[' && strcasecmp(h, host) == 0)
			return true;
	}
	return false;
}

static bool is_hexc(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Invariants of a URL that x5u_url_parse() accepted. */
static void check_parsed(const uint8_t *url, size_t len, const struct x5u_url *u)
{
	size_t hl = strnlen(u->host, sizeof(u->host));
	uint8_t a[16];
	struct in_addr ia;

	CHECK(len >= 10 && len <= X5U_URL_MAX);
	CHECK(strncasecmp((const char *)url, "https://", 8) == 0);
	CHECK(hl > 0 && hl <= X5U_HOST_MAX);
	CHECK(u->port >= 1);
	CHECK(u->path_off > 8 && u->path_off < len && url[u->path_off] == '/');
	for (size_t i = 8; i < u->path_off; i++)
		CHECK(url[i] != '@' && url[i] != '?' && url[i] != '#' && url[i] != '/' &&
		      url[i] != '\\' && url[i] != '%');
	for (size_t i = 0; i < len; i++) {
		CHECK(url[i] > 0x20 && url[i] < 0x7f);
		CHECK(url[i] != '?' && url[i] != '#' && url[i] != '\\');
		if (url[i] == '%')
			CHECK(i + 2 < len && is_hexc(url[i + 1]) && is_hexc(url[i + 2]));
	}
	for (size_t i = 0; i < hl; i++) {
		char c = u->host[i];

		CHECK(!(c >= 'A' && c <= 'Z'));
		if (u->host_kind == X5U_HOST_V6)
			CHECK(strchr("0123456789abcdef:.", c) != NULL);
		else
			CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '.');
	}
	switch (u->host_kind) {
	case X5U_HOST_NAME:
		/* a name must not be something a resolver reads as an address */
		CHECK(inet_pton(AF_INET, u->host, a) != 1);
		CHECK(inet_aton(u->host, &ia) == 0);
		CHECK(inet_pton(AF_INET6, u->host, a) != 1);
		CHECK(u->host[0] != '.' && u->host[hl - 1] != '.' && strstr(u->host, "..") == NULL);
		break;
	case X5U_HOST_V4: {
		char text[INET_ADDRSTRLEN];

		CHECK(inet_pton(AF_INET, u->host, a) == 1 && memcmp(a, u->addr, 4) == 0);
		/* strict: the canonical dotted quad only */
		CHECK(inet_ntop(AF_INET, u->addr, text, sizeof(text)) != NULL);
		CHECK(strcmp(text, u->host) == 0);
		break;
	}
	case X5U_HOST_V6:
		CHECK(inet_pton(AF_INET6, u->host, a) == 1 && memcmp(a, u->addr, 16) == 0);
		CHECK(url[8] == '[' && url[8 + 1 + hl] == ']');
		CHECK(strncasecmp((const char *)url + 9, u->host, hl) == 0);
		break;
	default:
		abort();
	}
	if (u->host_kind != X5U_HOST_V6)
		CHECK(strncasecmp((const char *)url + 8, u->host, hl) == 0 &&
		      (url[8 + hl] == '/' || url[8 + hl] == ':'));
	/* the port as written, or 443 */
	{
		size_t host_end = 8 + hl + (u->host_kind == X5U_HOST_V6 ? 2 : 0);
		unsigned long port = 443;

		if (host_end < u->path_off) {
			CHECK(url[host_end] == ':');
			port = 0;
			for (size_t i = host_end + 1; i < u->path_off; i++) {
				CHECK(url[i] >= '0' && url[i] <= '9');
				port = port * 10 + (url[i] - '0');
				CHECK(port <= 65535);
			}
		}
		CHECK(port == u->port);
	}
}

static void check_url(const uint8_t *data, size_t size)
{
	struct x5u_url u, u2, uc;
	const char *why = NULL, *why2 = NULL;
	char *s;
	int rc, rc2;

	rc = x5u_url_parse((const char *)data, size, &u, &why);
	CHECK(rc == 0 || rc == -EINVAL);
	CHECK(why != NULL);
	CHECK(rc == 0 ? why[0] == '\0' : why[0] != '\0');
	rc2 = x5u_url_parse((const char *)data, size, &u2, NULL);
	CHECK(rc2 == rc);
	if (rc == 0) {
		CHECK(memcmp(&u, &u2, sizeof(u)) == 0);
		check_parsed(data, size, &u);
	}

	/* x5u_url_check() on a NUL-terminated copy (stops at the first NUL in the input) */
	s = malloc(size + 1);
	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	rc2 = x5u_url_parse(s, strlen(s), &u2, NULL);
	for (int pass = 0; pass < 2; pass++) {
		const struct x5u_policy *p = pass ? &policy : NULL;
		int want;

		rc = x5u_url_check(p, s, &uc, &why2);
		CHECK(why2 != NULL);
		if (rc2 < 0) {
			want = -EINVAL;
		} else if (!(pass ? (uc.port == 443 || uc.port == 8443 || uc.port == 9443)
				  : (uc.port == 443 || uc.port == 8443))) {
			want = -EINVAL;
		} else if (pass && ref_allowed(uc.host)) {
			want = 0;
		} else if ((uc.host_kind == X5U_HOST_V4 && ref_special4(uc.addr)) ||
			   (uc.host_kind == X5U_HOST_V6 && ref_special6(uc.addr))) {
			want = -EACCES;
		} else {
			want = 0;
		}
		CHECK(rc == want);
		CHECK(rc == 0 ? true : why2[0] != '\0');
		if (rc2 == 0)
			CHECK(memcmp(&uc, &u2, sizeof(uc)) == 0);
		CHECK(x5u_host_allowed(&policy, s) == ref_allowed(s));
		CHECK(!x5u_host_allowed(NULL, s));
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 4)
		CHECK(x5u_addr4_special(data) == ref_special4(data));
	if (size >= 16)
		CHECK(x5u_addr6_special(data) == ref_special6(data));
	if (size >= 2) {
		uint16_t port = (uint16_t)(data[0] << 8 | data[1]);

		CHECK(x5u_port_allowed(NULL, port) == (port == 443 || port == 8443));
		CHECK(x5u_port_allowed(&policy, port) ==
		      (port == 443 || port == 8443 || port == 9443));
	}
	check_url(data, size);
	return 0;
}
