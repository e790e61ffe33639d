/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * x5u fetch: URL and address policy (pure), then one blocking libcurl transfer with the
 * address check in the open-socket callback. See x5u_fetch.h.
 */
#include "dataplane/certcache/x5u_fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

static const uint16_t default_ports[] = { 443, 8443 };

const char *x5u_kind_str(enum x5u_kind k)
{
	static const char *const names[X5U_KIND_COUNT_] = {
		[X5U_OK] = "ok",
		[X5U_BAD_URL] = "bad-url",
		[X5U_BLOCKED] = "blocked",
		[X5U_RESOLVE] = "resolve",
		[X5U_CONNECT] = "connect",
		[X5U_TLS] = "tls",
		[X5U_TIMEOUT] = "timeout",
		[X5U_TOO_LARGE] = "too-large",
		[X5U_HTTP_STATUS] = "http-status",
		[X5U_INTERNAL] = "internal",
	};

	if ((unsigned)k >= X5U_KIND_COUNT_)
		return "";
	return names[k];
}

/* ---- addresses ------------------------------------------------------------------------ */

bool x5u_addr4_special(const uint8_t a[4])
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127)     /* this network, private, loopback */
		return true;
	if (a[0] == 100 && (a[1] & 0xc0) == 64)         /* 100.64/10 shared (CGNAT) */
		return true;
	if (a[0] == 169 && a[1] == 254)                 /* link-local */
		return true;
	if (a[0] == 172 && (a[1] & 0xf0) == 16)         /* 172.16/12 private */
		return true;
	if (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2))
		return true;                            /* IETF protocol assignments, TEST-NET-1 */
	if (a[0] == 192 && a[1] == 31 && a[2] == 196)   /* AS112-v4 */
		return true;
	if (a[0] == 192 && a[1] == 52 && a[2] == 193)   /* AMT */
		return true;
	if (a[0] == 192 && a[1] == 88 && a[2] == 99)    /* 6to4 relay anycast */
		return true;
	if (a[0] == 192 && a[1] == 168)                 /* private */
		return true;
	if (a[0] == 192 && a[1] == 175 && a[2] == 48)   /* AS112 direct delegation */
		return true;
	if (a[0] == 198 && (a[1] & 0xfe) == 18)         /* 198.18/15 benchmarking */
		return true;
	if (a[0] == 198 && a[1] == 51 && a[2] == 100)   /* TEST-NET-2 */
		return true;
	if (a[0] == 203 && a[1] == 0 && a[2] == 113)    /* TEST-NET-3 */
		return true;
	if (a[0] >= 224)                                /* multicast, reserved, broadcast */
		return true;
	return false;
}

bool x5u_addr6_special(const uint8_t a[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return x5u_addr4_special(a + 12);
	/* Outside 2000::/3 nothing is global unicast: ::/8 (unspecified, loopback, IPv4-
	 * compatible, discard), 64:ff9b:1::/48, 5f00::/16, fc00::/7, fe80::/10, ff00::/8 ... */
	if ((a[0] & 0xe0) != 0x20)
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02)               /* 2001::/23 IETF */
		return true;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) /* 2001:db8::/32 */
		return true;
	if (a[0] == 0x20 && a[1] == 0x02)                               /* 2002::/16 6to4 */
		return true;
	if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0)         /* 3fff::/20 doc */
		return true;
	return false;
}

/* ---- policy ---------------------------------------------------------------------------- */

bool x5u_host_allowed(const struct x5u_policy *p, const char *host)
{
	if (p == NULL || host == NULL)
		return false;
	for (unsigned i = 0; i < p->n_allow_hosts; i++) {
		const char *h = p->allow_hosts[i];
		size_t n;

		if (h == NULL)
			continue;
		n = strlen(h);
		/* an IPv6 allow-list entry may be written with brackets */
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			if (strlen(host) == n - 2 && strncasecmp(h + 1, host, n - 2) == 0)
				return true;
			continue;
		}
		if (strcasecmp(h, host) == 0)
			return true;
	}
	return false;
}

bool x5u_port_allowed(const struct x5u_policy *p, uint16_t port)
{
	const uint16_t *ports = default_ports;
	unsigned n = sizeof(default_ports) / sizeof(default_ports[0]);

	if (p != NULL && p->ports != NULL && p->n_ports > 0) {
		ports = p->ports;
		n = p->n_ports;
	}
	for (unsigned i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* ---- URL ------------------------------------------------------------------------------- */

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* A strict dotted quad: four decimal octets, no leading zero, no sign. */
static bool parse_quad(const char *s, size_t len, uint8_t out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t start = i;

		while (i < len && is_digit(s[i]) && i - start < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return false;
		out[part] = (uint8_t)v;
		if (part < 3) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

/* A label that a resolver (inet_aton) could read as a number: all digits, or 0x + hex. */
static bool label_numeric(const char *s, size_t len)
{
	size_t i = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < len; i++)
			if (!is_hex(s[i]))
				return false;
		return true;
	}
	for (; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return len > 0;
}

static int parse_host_name(const char *s, size_t len, struct x5u_url *u, const char **why)
{
	size_t label = 0, last_start = 0;

	if (len == 0) {
		*why = "empty host";
		return -EINVAL;
	}
	if (len > X5U_HOST_MAX) {
		*why = "host name too long";
		return -EINVAL;
	}
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (label == 0) {
				*why = "empty label in host name";
				return -EINVAL;
			}
			if (label > 63) {
				*why = "host name label too long";
				return -EINVAL;
			}
			if (s[i - 1] == '-' || s[i - label] == '-') {
				*why = "host name label starts or ends with '-'";
				return -EINVAL;
			}
			if (i < len)
				last_start = i + 1;
			label = 0;
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '-') {
			*why = "character not allowed in host name";
			return -EINVAL;
		}
		label++;
	}
	if (label_numeric(s + last_start, len - last_start)) {
		/* only the canonical dotted quad is accepted as a numeric host */
		if (!parse_quad(s, len, u->addr)) {
			*why = "numeric host that is not a dotted-quad IPv4 address";
			return -EINVAL;
		}
		u->host_kind = X5U_HOST_V4;
	} else {
		u->host_kind = X5U_HOST_NAME;
	}
	for (size_t i = 0; i < len; i++)
		u->host[i] = lower(s[i]);
	u->host[len] = '\0';
	return 0;
}

static int parse_host_v6(const char *s, size_t len, struct x5u_url *u, const char **why)
{
	char tmp[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(tmp)) {
		*why = "bad IPv6 literal";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.') {
			*why = "bad character in IPv6 literal (zone identifiers are refused)";
			return -EINVAL;
		}
		tmp[i] = lower(s[i]);
	}
	tmp[len] = '\0';
	if (inet_pton(AF_INET6, tmp, u->addr) != 1) {
		*why = "bad IPv6 literal";
		return -EINVAL;
	}
	memcpy(u->host, tmp, len + 1);
	u->host_kind = X5U_HOST_V6;
	return 0;
}

static bool path_char_ok(char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return strchr("-._~!$&'()*+,;=:@/", c) != NULL && c != '\0';
}

int x5u_url_parse(const char *url, size_t len, struct x5u_url *u, const char **why)
{
	static const char scheme[] = "https://";
	const char *dummy;
	size_t i, auth, auth_end, host_end;
	int rc;

	if (why == NULL)
		why = &dummy;
	*why = "";
	if (url == NULL || u == NULL) {
		*why = "no URL";
		return -EINVAL;
	}
	memset(u, 0, sizeof(*u));
	if (len > X5U_URL_MAX) {
		*why = "URL too long";
		return -EINVAL;
	}
	if (len < sizeof(scheme) - 1 || strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
		*why = "scheme is not https";
		return -EINVAL;
	}
	auth = sizeof(scheme) - 1;
	for (auth_end = auth; auth_end < len && url[auth_end] != '/'; auth_end++) {
		char c = url[auth_end];

		if (c == '@') {
			*why = "userinfo not allowed";
			return -EINVAL;
		}
		if (c == '?' || c == '#') {
			*why = c == '?' ? "query not allowed" : "fragment not allowed";
			return -EINVAL;
		}
	}
	/* host */
	if (auth < auth_end && url[auth] == '[') {
		for (host_end = auth + 1; host_end < auth_end && url[host_end] != ']'; host_end++)
			;
		if (host_end == auth_end) {
			*why = "unterminated IPv6 literal";
			return -EINVAL;
		}
		rc = parse_host_v6(url + auth + 1, host_end - auth - 1, u, why);
		if (rc < 0)
			return rc;
		host_end++; /* past ']' */
	} else {
		for (host_end = auth; host_end < auth_end && url[host_end] != ':'; host_end++)
			;
		rc = parse_host_name(url + auth, host_end - auth, u, why);
		if (rc < 0)
			return rc;
	}
	/* port */
	u->port = 443;
	if (host_end < auth_end) {
		unsigned long port = 0;

		if (url[host_end] != ':' || host_end + 1 == auth_end) {
			*why = "bad port";
			return -EINVAL;
		}
		for (i = host_end + 1; i < auth_end; i++) {
			if (!is_digit(url[i]) || i - host_end > 5) {
				*why = "bad port";
				return -EINVAL;
			}
			port = port * 10 + (unsigned long)(url[i] - '0');
		}
		if (port == 0 || port > 65535) {
			*why = "bad port";
			return -EINVAL;
		}
		u->port = (uint16_t)port;
	}
	/* path */
	if (auth_end == len) {
		*why = "no path";
		return -EINVAL;
	}
	for (i = auth_end; i < len; i++) {
		char c = url[i];

		if (c == '?') {
			*why = "query not allowed";
			return -EINVAL;
		}
		if (c == '#') {
			*why = "fragment not allowed";
			return -EINVAL;
		}
		if (c == '%') {
			if (i + 2 >= len || !is_hex(url[i + 1]) || !is_hex(url[i + 2])) {
				*why = "bad percent-encoding in path";
				return -EINVAL;
			}
			i += 2;
			continue;
		}
		if (!path_char_ok(c)) {
			*why = "character not allowed in path";
			return -EINVAL;
		}
	}
	u->path_off = auth_end;
	return 0;
}

int x5u_url_check(const struct x5u_policy *p, const char *url, struct x5u_url *u,
		  const char **why)
{
	const char *dummy;
	int rc;

	if (why == NULL)
		why = &dummy;
	if (url == NULL) {
		*why = "no URL";
		return -EINVAL;
	}
	rc = x5u_url_parse(url, strlen(url), u, why);
	if (rc < 0)
		return rc;
	if (!x5u_port_allowed(p, u->port)) {
		*why = "port not allowed";
		return -EINVAL;
	}
	if (x5u_host_allowed(p, u->host))
		return 0;
	if ((u->host_kind == X5U_HOST_V4 && x5u_addr4_special(u->addr)) ||
	    (u->host_kind == X5U_HOST_V6 && x5u_addr6_special(u->addr))) {
		*why = "special-purpose address (loopback, private, ...) not on the allow-list";
		return -EACCES;
	}
	return 0;
}

/* ---- fetch ----------------------------------------------------------------------------- */

static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose,
				    struct curl_sockaddr *sa)
{
	struct x5u_xfer *c = clientp;
	char text[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	bool special;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (sa->family == AF_INET && sa->addrlen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&sa->addr;

		special = x5u_addr4_special((const uint8_t *)&in->sin_addr);
		port = ntohs(in->sin_port);
		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
	} else if (sa->family == AF_INET6 && sa->addrlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa->addr;

		special = x5u_addr6_special(in6->sin6_addr.s6_addr);
		port = ntohs(in6->sin6_port);
		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
	} else {
		c->blocked = true;
		snprintf(c->blocked_why, sizeof(c->blocked_why), "address family %d refused",
			 sa->family);
		return CURL_SOCKET_BAD;
	}
	if (port != c->u.port || !x5u_port_allowed(c->p, port)) {
		c->blocked = true;
		snprintf(c->blocked_why, sizeof(c->blocked_why), "connection to port %u refused",
			 (unsigned)port);
		return CURL_SOCKET_BAD;
	}
	if (special && !c->host_allowed) {
		c->blocked = true;
		snprintf(c->blocked_why, sizeof(c->blocked_why),
			 "%s is a special-purpose address and %s is not on the allow-list", text,
			 c->u.host);
		return CURL_SOCKET_BAD;
	}
	return socket(sa->family, sa->socktype, sa->protocol);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct x5u_xfer *c = userp;
	size_t n = size * nmemb;
	long status = 0;

	if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
	    status != 200) {
		c->bad_status = true;
		return 0;
	}
	if (n > c->limit - c->len) {
		c->too_large = true;
		return 0;
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	return n;
}

/* Appends v[0..n) to dst (cap bytes, NUL-terminated), after sep when dst is not empty; cuts. */
static void hdr_keep(char *dst, size_t cap, const char *sep, const char *v, size_t n)
{
	size_t have = strlen(dst), s = have ? strlen(sep) : 0;

	if (have + s >= cap - 1)
		return;
	memcpy(dst + have, sep, s);
	have += s;
	if (n > cap - 1 - have)
		n = cap - 1 - have;
	memcpy(dst + have, v, n);
	dst[have + n] = '\0';
}

/* One header line (no NUL, may end in CRLF): keeps the few that caching and redirects need. */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	static const struct {
		const char *name;
		size_t off, cap;
	} keep[] = {
		{ "cache-control", offsetof(struct x5u_xfer, cache_control),
		  sizeof(((struct x5u_xfer *)0)->cache_control) },
		{ "expires", offsetof(struct x5u_xfer, expires),
		  sizeof(((struct x5u_xfer *)0)->expires) },
		{ "date", offsetof(struct x5u_xfer, date), sizeof(((struct x5u_xfer *)0)->date) },
		{ "age", offsetof(struct x5u_xfer, age), sizeof(((struct x5u_xfer *)0)->age) },
	};
	struct x5u_xfer *c = userp;
	size_t n = size * nmemb, colon, vs, ve;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (after 1xx): forget what an earlier one said */
		c->cache_control[0] = c->expires[0] = c->date[0] = c->age[0] = '\0';
		c->location[0] = '\0';
		return n;
	}
	for (colon = 0; colon < n && data[colon] != ':'; colon++)
		;
	if (colon == n)
		return n;
	for (vs = colon + 1; vs < n && (data[vs] == ' ' || data[vs] == '\t'); vs++)
		;
	for (ve = n; ve > vs && (data[ve - 1] == '\r' || data[ve - 1] == '\n' ||
				 data[ve - 1] == ' ' || data[ve - 1] == '\t'); ve--)
		;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		if (strlen(keep[i].name) == colon && strncasecmp(data, keep[i].name, colon) == 0) {
			char *dst = (char *)c + keep[i].off;

			/* only Cache-Control may repeat; for the others the first one counts */
			if (i == 0 || dst[0] == '\0')
				hdr_keep(dst, keep[i].cap, ", ", data + vs, ve - vs);
			return n;
		}
	}
	if (colon == 8 && strncasecmp(data, "location", 8) == 0 && c->location[0] == '\0' &&
	    ve - vs < sizeof(c->location)) {
		memcpy(c->location, data + vs, ve - vs);
		c->location[ve - vs] = '\0';
	}
	return n;
}

/* Records the outcome; text is copied, truncated to fit. Returns rc. */
static int fail(struct x5u_result *res, enum x5u_kind kind, int rc, const char *text)
{
	size_t n = strlen(text);

	if (n >= sizeof(res->detail))
		n = sizeof(res->detail) - 1;
	res->kind = kind;
	memcpy(res->detail, text, n);
	res->detail[n] = '\0';
	return rc;
}

#define SETOPT(h, o, v)                                                                    \
	do {                                                                               \
		if (curl_easy_setopt((h), (o), (v)) != CURLE_OK)                          \
			return fail(res, X5U_INTERNAL, -EIO, "libcurl refused option " #o); \
	} while (0)

int x5u_xfer_setup(struct x5u_xfer *x, CURL *h, const struct x5u_policy *p, const char *url,
		   char *buf, size_t cap, struct x5u_result *res)
{
	static const struct x5u_policy defaults;
	const char *why = "";
	int rc;

	if (res == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (x == NULL || h == NULL)
		return fail(res, X5U_INTERNAL, -EINVAL, "no transfer");
	memset(x, 0, sizeof(*x));
	if (p == NULL)
		p = &defaults;
	if (buf == NULL || cap == 0)
		return fail(res, X5U_INTERNAL, -EINVAL, "no buffer");
	rc = x5u_url_check(p, url, &x->u, &why);
	if (rc == -EACCES)
		return fail(res, X5U_BLOCKED, rc, why);
	if (rc < 0)
		return fail(res, X5U_BAD_URL, rc, why);

	x->p = p;
	x->host_allowed = x5u_host_allowed(p, x->u.host);
	x->buf = buf;
	x->limit = p->max_body ? p->max_body : X5U_BODY_MAX;
	if (x->limit > cap - 1)
		x->limit = cap - 1;
	x->curl = h;

	SETOPT(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_MAXREDIRS, 0L);
	SETOPT(h, CURLOPT_PROXY, "");        /* ignore *_proxy environment variables */
	SETOPT(h, CURLOPT_NOPROXY, "*");
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->ca_file != NULL)
		SETOPT(h, CURLOPT_CAINFO, p->ca_file);
	SETOPT(h, CURLOPT_HTTP_VERSION,
	       p->http1_only ? (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
	       p->connect_timeout_ms > 0 ? p->connect_timeout_ms : (long)X5U_CONNECT_TIMEOUT_MS);
	SETOPT(h, CURLOPT_TIMEOUT_MS, p->timeout_ms > 0 ? p->timeout_ms : (long)X5U_TIMEOUT_MS);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->limit);
	SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	SETOPT(h, CURLOPT_OPENSOCKETDATA, x);
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, x);
	SETOPT(h, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(h, CURLOPT_HEADERDATA, x);
	SETOPT(h, CURLOPT_USERAGENT, "shakend-x5u/1");
	return 0;
}

int x5u_xfer_done(struct x5u_xfer *x, CURLcode cc, struct x5u_result *res)
{
	long status = 0;
	char msg[64];

	if (res == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (x == NULL || x->curl == NULL)
		return fail(res, X5U_INTERNAL, -EINVAL, "no transfer");
	(void)curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	res->http_status = status;
	if (x->blocked)
		return fail(res, X5U_BLOCKED, -EACCES, x->blocked_why);
	if (x->bad_status || (cc == CURLE_OK && status != 200)) {
		snprintf(msg, sizeof(msg), "HTTP status %ld%s", status,
			 status >= 300 && status < 400 ? " (redirects are not followed)" : "");
		return fail(res, X5U_HTTP_STATUS, -EBADMSG, msg);
	}
	if (x->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(msg, sizeof(msg), "body larger than %zu bytes", x->limit);
		return fail(res, X5U_TOO_LARGE, -EFBIG, msg);
	}
	if (cc == CURLE_OK) {
		x->buf[x->len] = '\0';
		res->len = x->len;
		res->kind = X5U_OK;
		return 0;
	}
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return fail(res, X5U_TIMEOUT, -ETIMEDOUT, curl_easy_strerror(cc));
	case CURLE_COULDNT_RESOLVE_HOST:
		return fail(res, X5U_RESOLVE, -EHOSTUNREACH, curl_easy_strerror(cc));
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return fail(res, X5U_TLS, -EPROTO, curl_easy_strerror(cc));
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return fail(res, X5U_BAD_URL, -EINVAL, curl_easy_strerror(cc));
	case CURLE_OUT_OF_MEMORY:
		return fail(res, X5U_INTERNAL, -ENOMEM, curl_easy_strerror(cc));
	default:
		return fail(res, X5U_CONNECT, -ECONNREFUSED, curl_easy_strerror(cc));
	}
}

int x5u_fetch(const struct x5u_policy *p, const char *url, char *buf, size_t cap,
	      struct x5u_result *res)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct x5u_xfer x;
	CURLcode cc;
	CURL *h;
	int rc;

	if (res == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	h = curl_easy_init();
	if (h == NULL)
		return fail(res, X5U_INTERNAL, -ENOMEM, "curl_easy_init failed");
	rc = x5u_xfer_setup(&x, h, p, url, buf, cap, res);
	if (rc < 0)
		goto out;
	if (curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
		rc = fail(res, X5U_INTERNAL, -EIO, "libcurl refused option CURLOPT_ERRORBUFFER");
		goto out;
	}
	cc = curl_easy_perform(h);
	rc = x5u_xfer_done(&x, cc, res);
	/* libcurl's error buffer names the cause better than curl_easy_strerror() */
	if (rc < 0 && errbuf[0] != '\0' && !x.blocked && !x.bad_status && !x.too_large &&
	    res->kind != X5U_HTTP_STATUS && res->kind != X5U_TOO_LARGE)
		(void)fail(res, res->kind, rc, errbuf);
out:
	curl_easy_cleanup(h);
	return rc;
}
