/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration of shakend: one JSON document (schema and every default in
 * docs/configuration.md), parsed from a buffer without any I/O into a validated, immutable
 * struct cfg. cfg_load_file() is the only function that touches the file system.
 *
 * Validation is complete at parse time: every field has its type, range and cross-references
 * checked (listener modes, trunk prefixes, credential attestation classes, duplicate names),
 * so a consumer never re-validates. Unknown keys are errors (a typo must not silently fall back
 * to a default). A config never holds a secret: the HSM PIN comes from pin_file or pin_env, and
 * a "pin" key is rejected.
 *
 * Errors name the offending field by its JSON path, e.g.
 *   "listeners[1].mode: expected one of sign-redirect, verify-redirect, inline"
 *   "trunks[0].prefix: invalid prefix \"198.51.100.0/33\""
 *   "line 4 column 2: ..." (JSON syntax errors, from jansson)
 *
 * A struct cfg is immutable once returned: share it between threads freely (read-only), free
 * it once with cfg_free() when no thread uses it any more. Strings are NUL-terminated and
 * owned by the cfg; optional strings are NULL when absent. Arrays are (pointer, count) pairs,
 * the pointer NULL when the count is 0.
 */
#ifndef SHAKEND_CONTROL_CFG_H
#define SHAKEND_CONTROL_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_BYTES (4u << 20) /* largest config document accepted (4 MiB) */
#define CFG_PORTS_MAX 32         /* ports[] entries */
#define CFG_LISTENERS_MAX 64     /* listeners[] entries */
#define CFG_CREDS_MAX 64         /* credentials[] entries */
#define CFG_TRUNKS_MAX 65536     /* trunks[] entries */
#define CFG_PREFIXES_MAX 64      /* prefixes of one trunk */
#define CFG_NAME_MAX 63          /* trunk, customer and credential names */
#define CFG_UUID_LEN 36          /* origid: canonical textual UUID, lower or upper case hex */
#define CFG_X5U_MAX 511          /* == PP_X5U_MAX */
#define CFG_LIST_MAX 1024        /* eal, tokens, crl_urls, allow_hosts, deny_hosts */

/* An IP address: family 4 or 6, IPv4 in the first 4 bytes of ip (as struct net_addr). */
struct cfg_ip {
	uint8_t family;
	uint8_t ip[16];
};

/* An IP prefix: the address with host bits zero (a prefix with host bits set is rejected),
 * len 0..32 (IPv4) or 0..128 (IPv6). */
struct cfg_prefix {
	struct cfg_ip addr;
	uint8_t len;
};

/* No VLAN given: matches any VLAN (trunks). VLAN 0 means untagged; 1..4094 a VLAN id. */
#define CFG_VLAN_ANY 0xffffu

enum cfg_mode {
	CFG_MODE_SIGN_REDIRECT = 0, /* "sign-redirect": STI-AS dip, 302 with Identity */
	CFG_MODE_VERIFY_REDIRECT,   /* "verify-redirect": STI-VS dip, 302 with verstat */
	CFG_MODE_INLINE,            /* "inline": bump in the wire between two SIP peers */
};

enum cfg_trunk_kind {
	CFG_TRUNK_CUSTOMER = 0, /* "customer": our subscriber; A/B attestation */
	CFG_TRUNK_PEER,         /* "peer": another carrier (NNI); C when we sign for it */
	CFG_TRUNK_GATEWAY,      /* "gateway": international/legacy gateway; always C */
};

enum cfg_verify_fail {
	CFG_VFAIL_ANNOTATE = 0, /* "annotate": forward with verstat (default) */
	CFG_VFAIL_REJECT,       /* "reject": answer with the RFC 8224 code */
};

enum cfg_sign_fail {
	CFG_SFAIL_UNSIGNED = 0, /* "unsigned": the call goes on without Identity (default) */
	CFG_SFAIL_503,          /* "503": answer 503 Service Unavailable */
};

enum cfg_log_level {
	CFG_LOG_EMERG = 0, CFG_LOG_ALERT, CFG_LOG_CRIT, CFG_LOG_ERR, CFG_LOG_WARNING,
	CFG_LOG_NOTICE, CFG_LOG_INFO, CFG_LOG_DEBUG, /* syslog / RTE_LOG numbering minus 1 */
};

/* Attestation classes as a bit mask (credentials). */
#define CFG_ATTEST_A 1u
#define CFG_ATTEST_B 2u
#define CFG_ATTEST_C 4u

struct cfg_port {
	uint16_t id;    /* DPDK port index, 0..CFG_PORTS_MAX-1, unique */
	uint16_t mtu;   /* IP MTU for transmit, 576..9000; default 1500 */
};

struct cfg_listener {
	struct cfg_ip addr;      /* local address (redirect modes); inline: destination to
				  * intercept, family 0 when absent (any destination) */
	uint16_t port;           /* SIP UDP port, 1..65535; default 5060 */
	uint16_t vlan;           /* 0 untagged (default), 1..4094 */
	int32_t iface;           /* DPDK port index the listener applies to; -1 (default) any
				  * port of ports[]; required for inline */
	enum cfg_mode mode;
	/* inline only: */
	uint16_t peer_port;      /* DPDK port frames are forwarded to (a ports[] id, != iface) */
	bool sign;               /* sign INVITEs arriving here (peer.sign, default true) */
	bool verify;             /* verify INVITEs arriving here (peer.verify, default false) */
};

struct cfg_hsm {
	const char *module;      /* PKCS#11 module path; NULL when no hsm section */
	const char *const *tokens; /* PKCS#11 token URIs ("pkcs11:..."), >= 1 with a module */
	size_t n_tokens;
	uint32_t sessions;       /* sessions per token, 1..1024; default 4 */
	const char *pin_file;    /* exactly one of pin_file / pin_env (or neither: no login) */
	const char *pin_env;     /* environment variable name [A-Za-z_][A-Za-z0-9_]* */
	uint32_t deadline_ms;    /* sign deadline, 1..10000; default 50 */
};

struct cfg_cred {
	const char *id;          /* unique name, [A-Za-z0-9._-]{1,63} */
	const char *key;         /* private key: "pkcs11:..." URI (or a PEM path for tests) */
	const char *x5u;         /* https URL of the certificate, <= CFG_X5U_MAX bytes */
	const char *cert;        /* local PEM of the same certificate; NULL when absent */
	unsigned attest;         /* CFG_ATTEST_* mask, non-zero; default A|B|C */
	const char *origid;      /* only for this origid (UUID); NULL: any origid */
};

struct cfg_cache {
	size_t max_entries;      /* 0 = the cache's default (see dataplane/certcache/cache.h) */
	size_t max_bytes;
	uint32_t ttl_floor_s, ttl_ceiling_s, ttl_default_s;
	uint32_t neg_ttl_min_s, neg_ttl_max_s;
};

struct cfg_verify {
	const char *trust;       /* PEM file of STI-CA trust anchors; NULL when absent */
	const char *const *crl_urls; size_t n_crl_urls;
	const char *const *allow_hosts; size_t n_allow_hosts; /* x5u hosts allowed despite SSRF
							      * rules */
	const char *const *deny_hosts; size_t n_deny_hosts;
	uint32_t freshness_s;    /* iat window, 1..3600; default 60 */
	uint32_t fetch_timeout_ms; /* 100..60000; default 2000 */
	uint32_t park_timeout_ms;  /* 1..60000, >= fetch_timeout_ms recommended; default 2500 */
	struct cfg_cache cache;
};

struct cfg_trunk {
	const char *name;        /* unique, [A-Za-z0-9._-]{1,63} */
	const char *customer;    /* owner name in the TN table; defaults to name (customers) */
	const struct cfg_prefix *prefixes; /* "prefix": a string or an array of strings, >= 1 */
	size_t n_prefixes;
	uint16_t vlan;           /* CFG_VLAN_ANY when absent */
	enum cfg_trunk_kind kind;
	const char *origid;      /* UUID, required */
	char attest_override;    /* 'A', 'B', 'C', or 0 (none) */
	enum cfg_verify_fail on_verify_failure;
	enum cfg_sign_fail on_sign_failure;
};

struct cfg_sign {
	const char *unknown_origid; /* origid for calls from unknown sources (attest C); NULL:
				     * such calls are not signed */
};

struct cfg {
	const char *const *eal;  /* EAL arguments (argv[1..]) */
	size_t n_eal;
	const struct cfg_port *ports; size_t n_ports;
	const struct cfg_listener *listeners; size_t n_listeners;
	struct cfg_hsm hsm;
	const struct cfg_cred *creds; size_t n_creds;       /* "credentials" */
	struct cfg_verify verify;
	struct cfg_sign sign;
	const struct cfg_trunk *trunks; size_t n_trunks;
	const char *tn_table;    /* TN ownership file path; NULL when absent */
	const char *prometheus;  /* telemetry.prometheus "host:port"; NULL: shakend uses
				  * 127.0.0.1:9464 (a warning, not an error, if it cannot) */
	const char *control_socket; /* unix socket path; NULL: shakend uses
				     * /run/shakend/control.sock (warning if it cannot) */
	enum cfg_log_level log_level; /* default CFG_LOG_NOTICE */
	uint32_t log_rate_per_s; /* outcome log lines per second, 0..100000 (0 = off); default 10 */
};

/*
 * Parses and validates the JSON document json (len bytes; need not be NUL-terminated; at
 * most CFG_MAX_BYTES). No I/O. On success *out is a new cfg (free with cfg_free()).
 * On failure *out is NULL and err (when errlen > 0) holds a NUL-terminated message naming the
 * field by its JSON path (truncated to errlen).
 * Returns 0; -EINVAL (syntax, schema or validation error; json or out NULL); -E2BIG (len >
 * CFG_MAX_BYTES); -ENOMEM.
 */
__attribute__((warn_unused_result))
int cfg_parse(const char *json, size_t len, struct cfg **out, char *err, size_t errlen);

/*
 * Reads the file at path and parses it with cfg_parse(). Errors are prefixed by the path.
 * Returns as cfg_parse(), or -errno from open/read (-ENOENT, -EACCES, ...), -E2BIG.
 */
__attribute__((warn_unused_result))
int cfg_load_file(const char *path, struct cfg **out, char *err, size_t errlen);

/* Frees c (NULL ignored). */
void cfg_free(struct cfg *c);

/* Static names: "sign-redirect", "customer", "annotate", "unsigned", "notice" ...;
 * "" when out of range. */
const char *cfg_mode_str(enum cfg_mode m);
const char *cfg_trunk_kind_str(enum cfg_trunk_kind k);
const char *cfg_verify_fail_str(enum cfg_verify_fail f);
const char *cfg_sign_fail_str(enum cfg_sign_fail f);
const char *cfg_log_level_str(enum cfg_log_level l);

/*
 * Parses an address "192.0.2.1" / "2001:db8::1" (no brackets, no zone) into *out.
 * Returns 0 or -EINVAL. Pure.
 */
int cfg_ip_parse(const char *s, struct cfg_ip *out);

/*
 * Parses a prefix "198.51.100.0/24", "2001:db8::/32" or a bare address (host prefix: /32 or
 * /128) into *out. Host bits must be zero. Returns 0 or -EINVAL. Pure.
 */
int cfg_prefix_parse(const char *s, struct cfg_prefix *out);

#endif
