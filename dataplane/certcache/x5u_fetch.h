/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A blocking HTTPS fetch of a PASSporT x5u URL (the signer's certificate) under the
 * ATIS-1000074 rules, guarded against server-side request forgery:
 *
 *   - scheme https only; no userinfo, query or fragment; a host that is a DNS name, a strict
 *     dotted-quad IPv4 address or a bracketed IPv6 address (no zone); numeric host forms that
 *     resolvers read as addresses ("127.1", "2130706433", "0x7f.1") are refused;
 *   - port 443 or 8443 unless the policy names others;
 *   - TLS peer and host name verified (CA file configurable); no proxy, no redirect followed;
 *   - connect timeout (1 s) and total timeout (2 s); body cap (64 KiB);
 *   - no connection to a special-purpose address (RFC 6890 and the IANA special-purpose
 *     registries: loopback, private, CGNAT, link-local, multicast, documentation, ...), IPv4
 *     or IPv6, unless the URL's host is on the policy's allow-list. The check runs on every
 *     address libcurl actually connects to (its open-socket callback), so a name that resolves
 *     (or rebinds) to such an address is refused too.
 *
 * The URL and address checks are pure functions (no I/O, no allocation): testable and
 * fuzzable on their own. Only x5u_fetch() does I/O. x5u_xfer_setup()/x5u_xfer_done() put the
 * same rules on a caller's libcurl easy handle, so that an asynchronous fetcher (a curl multi
 * handle, dataplane/certcache/fetch.h) runs exactly the transfer x5u_fetch() runs.
 */
#ifndef SHAKEND_DATAPLANE_CERTCACHE_X5U_FETCH_H
#define SHAKEND_DATAPLANE_CERTCACHE_X5U_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#define X5U_URL_MAX 1023              /* longest URL accepted */
#define X5U_HOST_MAX 253              /* longest DNS name */
#define X5U_CONNECT_TIMEOUT_MS 1000   /* default connect timeout */
#define X5U_TIMEOUT_MS 2000           /* default total timeout */
#define X5U_BODY_MAX (64 * 1024)      /* default body cap, bytes */
#define X5U_HDR_CC_MAX 255            /* Cache-Control bytes kept from a response */
#define X5U_HDR_DATE_MAX 63           /* Expires / Date bytes kept from a response */

/* What went wrong, as one clear kind. */
enum x5u_kind {
	X5U_OK = 0,
	X5U_BAD_URL,     /* not an acceptable https URL (scheme, userinfo, query, port, host) */
	X5U_BLOCKED,     /* the host is, or resolved to, a special-purpose address */
	X5U_RESOLVE,     /* the host name did not resolve */
	X5U_CONNECT,     /* no TCP connection */
	X5U_TLS,         /* TLS handshake or peer/host verification failed */
	X5U_TIMEOUT,     /* connect or total timeout */
	X5U_TOO_LARGE,   /* body over the cap */
	X5U_HTTP_STATUS, /* status other than 200 (a redirect included: never followed) */
	X5U_INTERNAL,    /* out of memory, libcurl setup failure, ... */
	X5U_KIND_COUNT_
};

enum x5u_host_kind {
	X5U_HOST_NAME = 0, /* a DNS name */
	X5U_HOST_V4,       /* an IPv4 literal; addr[0..3] */
	X5U_HOST_V6,       /* an IPv6 literal (written in brackets); addr[0..15] */
};

/* A URL that passed x5u_url_parse(). */
struct x5u_url {
	enum x5u_host_kind host_kind;
	char host[X5U_HOST_MAX + 1]; /* NUL-terminated, lower-cased, brackets removed for IPv6 */
	uint8_t addr[16];            /* network order, for the literal kinds */
	uint16_t port;               /* 443 when the URL gives none */
	size_t path_off;             /* offset of the path ("/...") in the parsed URL */
};

/* The caller's policy. A zeroed struct selects every default. Pointers are borrowed. */
struct x5u_policy {
	const char *const *allow_hosts; /* hosts that may use special-purpose addresses */
	unsigned n_allow_hosts;
	const uint16_t *ports;          /* allowed ports; NULL or n_ports 0: 443 and 8443 */
	unsigned n_ports;
	const char *ca_file;            /* PEM trust anchors for TLS; NULL: the system store */
	long connect_timeout_ms;        /* <= 0: X5U_CONNECT_TIMEOUT_MS */
	long timeout_ms;                /* <= 0: X5U_TIMEOUT_MS */
	size_t max_body;                /* 0: X5U_BODY_MAX */
	bool http1_only;                /* false: HTTP/2 offered over TLS (ALPN), else 1.1 */
};

/* The outcome of a fetch. */
struct x5u_result {
	enum x5u_kind kind;
	long http_status;     /* the response status when one was received, else 0 */
	size_t len;           /* body bytes written (no NUL) */
	char detail[256];     /* a human-readable cause, NUL-terminated; "" on success */
};

/*
 * Parses and checks url[0..len): https scheme (case-insensitive), an authority without
 * userinfo, a host as described above, an optional port (1..65535), and a path (at least
 * "/") of URI characters (unreserved, sub-delims, ':', '@', '/', '%' HEX HEX); no '?' or '#'.
 * Does not check the port or the address against a policy.
 * Returns 0 with u filled, or -EINVAL with *why (may be NULL) naming the fault.
 */
__attribute__((warn_unused_result))
int x5u_url_parse(const char *url, size_t len, struct x5u_url *u, const char **why);

/* True when the 4-byte (network order) IPv4 address is in a special-purpose block. */
bool x5u_addr4_special(const uint8_t a[4]);

/*
 * True when the 16-byte IPv6 address is in a special-purpose block, or outside global
 * unicast 2000::/3. IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) addresses are judged
 * by the IPv4 address they embed.
 */
bool x5u_addr6_special(const uint8_t a[16]);

/* True when host equals (ASCII case-insensitively) a name on p's allow-list. */
bool x5u_host_allowed(const struct x5u_policy *p, const char *host);

/* True when port is on p's port list (443 and 8443 by default). */
bool x5u_port_allowed(const struct x5u_policy *p, uint16_t port);

/*
 * The policy checks that need no network: x5u_url_parse(), the port list, and for an IP
 * literal host not on the allow-list, the special-address check.
 * Returns 0; -EINVAL (bad URL or port, *why set) or -EACCES (blocked address, *why set).
 */
__attribute__((warn_unused_result))
int x5u_url_check(const struct x5u_policy *p, const char *url, struct x5u_url *u,
		  const char **why);

/*
 * Fetches url over HTTPS under policy p (NULL: defaults) into buf, NUL-terminated. The body
 * may hold at most min(p->max_body, cap - 1) bytes. Follows no redirect; a status other than
 * 200 fails. Blocks for at most the total timeout (plus name resolution, which libcurl's
 * threaded resolver bounds by the same timeout). Call curl_global_init() once first.
 * Returns 0 with res->len set; or -EINVAL (BAD_URL), -EACCES (BLOCKED), -EHOSTUNREACH
 * (RESOLVE), -ECONNREFUSED (CONNECT), -EPROTO (TLS), -ETIMEDOUT (TIMEOUT), -EFBIG (TOO_LARGE),
 * -EBADMSG (HTTP_STATUS), -ENOMEM or -EIO (INTERNAL); res->kind and res->detail say more.
 * buf is not meaningful after a failure.
 */
__attribute__((warn_unused_result))
int x5u_fetch(const struct x5u_policy *p, const char *url, char *buf, size_t cap,
	      struct x5u_result *res);

/*
 * One transfer on a caller's easy handle. The members are filled by x5u_xfer_setup() and the
 * libcurl callbacks; read them after the transfer. The struct must stay at one address from
 * x5u_xfer_setup() until the transfer has ended (the callbacks point at it).
 */
struct x5u_xfer {
	const struct x5u_policy *p;
	struct x5u_url u;               /* the URL being fetched */
	bool host_allowed;              /* u.host is on p's allow-list */
	CURL *curl;
	char *buf;                      /* body destination, limit + 1 bytes */
	size_t limit;                   /* body cap for this transfer */
	size_t len;                     /* body bytes received */
	bool blocked;                   /* the open-socket check refused an address */
	bool too_large;
	bool bad_status;                /* a body arrived with a status other than 200 */
	char blocked_why[400];
	/* Response headers of the last response, values trimmed, NUL-terminated, cut to fit;
	 * several Cache-Control headers are joined with ", ". "" when absent. */
	char cache_control[X5U_HDR_CC_MAX + 1];
	char expires[X5U_HDR_DATE_MAX + 1];
	char date[X5U_HDR_DATE_MAX + 1];
	char age[24];
	char location[X5U_URL_MAX + 1]; /* Location of a 3xx, "" when absent or too long */
};

/*
 * Prepares easy handle h (fresh or curl_easy_reset()) to fetch url under policy p (NULL:
 * defaults) into buf (cap bytes; the body may use min(max_body, cap - 1)): checks the URL with
 * x5u_url_check() and sets every option of x5u_fetch() (https only, TLS verified, no proxy, no
 * redirect, timeouts, body cap, address check on each connection, header capture, HTTP/2 unless
 * p->http1_only). p, url and buf are borrowed until the transfer ends.
 * Returns 0; or -EINVAL (BAD_URL, or no buffer), -EACCES (BLOCKED), -EIO (INTERNAL) with res
 * filled as x5u_fetch() does.
 */
__attribute__((warn_unused_result))
int x5u_xfer_setup(struct x5u_xfer *x, CURL *h, const struct x5u_policy *p, const char *url,
		   char *buf, size_t cap, struct x5u_result *res);

/*
 * Judges a finished transfer whose libcurl result is cc (from curl_easy_perform() or the
 * CURLMSG_DONE message of a multi handle). Fills res (http_status, len, kind, detail) and
 * NUL-terminates the body on success. Returns what x5u_fetch() returns.
 */
__attribute__((warn_unused_result))
int x5u_xfer_done(struct x5u_xfer *x, CURLcode cc, struct x5u_result *res);

/* "ok", "bad-url", "blocked", "resolve", "connect", "tls", "timeout", "too-large",
 * "http-status", "internal"; "" when out of range. */
const char *x5u_kind_str(enum x5u_kind k);

#endif
