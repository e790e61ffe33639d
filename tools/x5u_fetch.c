/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * x5u fetch: URL and address policy (pure), then one blocking libcurl transfer with the
 * address check in the open-socket callback. See x5u_fetch.h.
 */
#include "tools/x5u_fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

struct fetch_ctx {
	const struct x5u_policy *p;
	const struct x5u_url *u;
	bool host_allowed;
	bool blocked;
	char blocked_why[400];
	char *buf;
	size_t limit;
	size_t len;
	bool too_large;
	bool bad_status;
	CURL *curl;
};

static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose,
				    struct curl_sockaddr *sa)
{
	struct fetch_ctx *c = clientp;
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
	if (port != c->u->port || !x5u_port_allowed(c->p, port)) {
		c->blocked = true;
		snprintf(c->blocked_why, sizeof(c->blocked_why), "connection to port %u refused",
			 (unsigned)port);
		return CURL_SOCKET_BAD;
	}
	if (special && !c->host_allowed) {
		c->blocked = true;
		snprintf(c->blocked_why, sizeof(c->blocked_why),
			 "%s is a special-purpose address and %s is not on the allow-list", text,
			 c->u->host);
		return CURL_SOCKET_BAD;
	}
	return socket(sa->family, sa->socktype, sa->protocol);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct fetch_ctx *c = userp;
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
		if (curl_easy_setopt((h), (o), (v)) != CURLE_OK) {                        \
			rc = fail(res, X5U_INTERNAL, -EIO, "libcurl refused option " #o); \
			goto out;                                                          \
		}                                                                          \
	} while (0)

int x5u_fetch(const struct x5u_policy *p, const char *url, char *buf, size_t cap,
	      struct x5u_result *res)
{
	static const struct x5u_policy defaults;
	struct x5u_url u;
	struct fetch_ctx c;
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *why = "";
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	int rc;

	if (res == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (p == NULL)
		p = &defaults;
	if (buf == NULL || cap == 0)
		return fail(res, X5U_INTERNAL, -EINVAL, "no buffer");
	rc = x5u_url_check(p, url, &u, &why);
	if (rc == -EACCES)
		return fail(res, X5U_BLOCKED, rc, why);
	if (rc < 0)
		return fail(res, X5U_BAD_URL, rc, why);

	memset(&c, 0, sizeof(c));
	c.p = p;
	c.u = &u;
	c.host_allowed = x5u_host_allowed(p, u.host);
	c.buf = buf;
	c.limit = p->max_body ? p->max_body : X5U_BODY_MAX;
	if (c.limit > cap - 1)
		c.limit = cap - 1;

	h = curl_easy_init();
	if (h == NULL)
		return fail(res, X5U_INTERNAL, -ENOMEM, "curl_easy_init failed");
	c.curl = h;
	SETOPT(h, CURLOPT_URL, url);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
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
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
	       p->connect_timeout_ms > 0 ? p->connect_timeout_ms : (long)X5U_CONNECT_TIMEOUT_MS);
	SETOPT(h, CURLOPT_TIMEOUT_MS, p->timeout_ms > 0 ? p->timeout_ms : (long)X5U_TIMEOUT_MS);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c.limit);
	SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	SETOPT(h, CURLOPT_OPENSOCKETDATA, &c);
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, &c);
	SETOPT(h, CURLOPT_USERAGENT, "shakend-x5u/1");

	cc = curl_easy_perform(h);
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	res->http_status = status;
	if (c.blocked) {
		rc = fail(res, X5U_BLOCKED, -EACCES, c.blocked_why);
	} else if (c.bad_status || (cc == CURLE_OK && status != 200)) {
		char msg[64];

		snprintf(msg, sizeof(msg), "HTTP status %ld%s", status,
			 status >= 300 && status < 400 ? " (redirects are not followed)" : "");
		rc = fail(res, X5U_HTTP_STATUS, -EBADMSG, msg);
	} else if (c.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		char msg[64];

		snprintf(msg, sizeof(msg), "body larger than %zu bytes", c.limit);
		rc = fail(res, X5U_TOO_LARGE, -EFBIG, msg);
	} else if (cc == CURLE_OK) {
		buf[c.len] = '\0';
		res->len = c.len;
		res->kind = X5U_OK;
		rc = 0;
	} else {
		const char *text = errbuf[0] ? errbuf : curl_easy_strerror(cc);

		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT:
			rc = fail(res, X5U_TIMEOUT, -ETIMEDOUT, text);
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			rc = fail(res, X5U_RESOLVE, -EHOSTUNREACH, text);
			break;
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
			rc = fail(res, X5U_TLS, -EPROTO, text);
			break;
		case CURLE_URL_MALFORMAT:
		case CURLE_UNSUPPORTED_PROTOCOL:
			rc = fail(res, X5U_BAD_URL, -EINVAL, text);
			break;
		case CURLE_OUT_OF_MEMORY:
			rc = fail(res, X5U_INTERNAL, -ENOMEM, text);
			break;
		default:
			rc = fail(res, X5U_CONNECT, -ECONNREFUSED, text);
			break;
		}
	}
out:
	curl_easy_cleanup(h);
	return rc;
}
