/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON configuration: jansson parses the document, then one walker per section checks
 * every key against its schema and copies values into the immutable struct cfg. Every
 * allocation of a cfg comes from one arena (a list of blocks) freed at once by cfg_free().
 * The current JSON path is kept in the walk context so that each error names its field.
 */
#include "control/cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define PATH_MAX_LEN 4095 /* file paths */
#define STR_MAX 4095      /* any other string */
#define CTX_PATH 256

struct blk {
	struct blk *next;
	max_align_t data[];
};

struct cfg_priv {
	struct cfg pub;   /* first: cfg_free casts back */
	struct blk *blocks;
};

struct ctx {
	struct cfg_priv *p;
	char *err;
	size_t errlen;
	char path[CTX_PATH];
	size_t plen;
	bool nomem;
};

/* ---- arena ----------------------------------------------------------------------------- */

static void *arena_alloc(struct ctx *c, size_t n)
{
	if (n > SIZE_MAX - sizeof(struct blk))
		return NULL;
	struct blk *b = calloc(1, sizeof(*b) + (n ? n : 1));
	if (b == NULL) {
		c->nomem = true;
		return NULL;
	}
	b->next = c->p->blocks;
	c->p->blocks = b;
	return b->data;
}

static void *arena_array(struct ctx *c, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return arena_alloc(c, n * size);
}

static char *arena_strdup(struct ctx *c, const char *s, size_t len)
{
	char *d = arena_alloc(c, len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/* ---- errors and paths ---------------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static int fail(struct ctx *c, const char *fmt, ...)
{
	if (c->errlen == 0)
		return -EINVAL;
	int n = snprintf(c->err, c->errlen, "%s: ", c->plen ? c->path : "(root)");
	if (n < 0)
		n = 0;
	if ((size_t)n < c->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int nomem(struct ctx *c)
{
	c->nomem = true;
	if (c->errlen)
		snprintf(c->err, c->errlen, "out of memory");
	return -ENOMEM;
}

static size_t push_key(struct ctx *c, const char *key)
{
	size_t saved = c->plen;
	int n = snprintf(c->path + c->plen, CTX_PATH - c->plen, "%s%s", c->plen ? "." : "", key);
	if (n > 0)
		c->plen = c->plen + (size_t)n < CTX_PATH ? c->plen + (size_t)n : CTX_PATH - 1;
	return saved;
}

static size_t push_idx(struct ctx *c, size_t i)
{
	size_t saved = c->plen;
	int n = snprintf(c->path + c->plen, CTX_PATH - c->plen, "[%zu]", i);
	if (n > 0)
		c->plen = c->plen + (size_t)n < CTX_PATH ? c->plen + (size_t)n : CTX_PATH - 1;
	return saved;
}

static void pop(struct ctx *c, size_t saved)
{
	c->plen = saved;
	c->path[saved] = '\0';
}

/* ---- value checks ---------------------------------------------------------------------- */

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static bool is_name(const char *s, size_t len)
{
	if (len == 0 || len > CFG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool is_uuid(const char *s, size_t len)
{
	if (len != CFG_UUID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

/* Printable ASCII without space, '"' or '\\' (URLs, hosts, URIs). */
static bool is_token(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			return false;
	}
	return true;
}

/* No control characters (paths, EAL args). */
static bool is_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static bool is_env_name(const char *s, size_t len)
{
	if (len == 0 || len > 255 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_'))
			return false;
	}
	return true;
}

static bool has_prefix(const char *s, size_t len, const char *pfx)
{
	size_t n = strlen(pfx);
	return len > n && strncasecmp(s, pfx, n) == 0;
}

int cfg_ip_parse(const char *s, struct cfg_ip *out)
{
	if (s == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, out->ip) != 1)
			return -EINVAL;
		out->family = 6;
		return 0;
	}
	/* inet_pton(AF_INET) accepts only the dotted quad: no "127.1", no octal, no hex */
	if (inet_pton(AF_INET, s, out->ip) != 1)
		return -EINVAL;
	out->family = 4;
	return 0;
}

int cfg_prefix_parse(const char *s, struct cfg_prefix *out)
{
	if (s == NULL || out == NULL)
		return -EINVAL;
	char buf[64];
	size_t len = strlen(s);
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len + 1);
	char *slash = strchr(buf, '/');
	long plen = -1;
	if (slash) {
		*slash = '\0';
		const char *d = slash + 1;
		if (*d == '\0' || strlen(d) > 3)
			return -EINVAL;
		plen = 0;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			plen = plen * 10 + (*d - '0');
		}
		if (slash[1] == '0' && slash[2] != '\0')
			return -EINVAL; /* no leading zeros */
	}
	memset(out, 0, sizeof(*out));
	if (cfg_ip_parse(buf, &out->addr) < 0)
		return -EINVAL;
	long max = out->addr.family == 4 ? 32 : 128;
	if (plen < 0)
		plen = max;
	if (plen > max)
		return -EINVAL;
	/* host bits must be zero */
	for (long bit = plen; bit < max; bit++)
		if (out->addr.ip[bit / 8] & (0x80u >> (bit % 8)))
			return -EINVAL;
	out->len = (uint8_t)plen;
	return 0;
}

/* ---- field getters (each pushes its key on the path) ------------------------------------ */

/* Rejects keys of obj not in allowed (NULL-terminated). A "pin" key gets its own message. */
static int check_keys(struct ctx *c, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, key) == 0;
		if (ok)
			continue;
		size_t s = push_key(c, key);
		int r;
		if (strcmp(key, "pin") == 0)
			r = fail(c, "the PIN must not be in the config: use pin_file or pin_env");
		else
			r = fail(c, "unknown key");
		pop(c, s);
		return r;
	}
	return 0;
}

static int want_object(struct ctx *c, json_t *v)
{
	return json_is_object(v) ? 0 : fail(c, "expected an object, got %s", json_kind(v));
}

/* A string value (at the current path): 1..maxlen bytes, no NUL. */
static int str_value(struct ctx *c, json_t *v, size_t maxlen, const char **out, size_t *outlen)
{
	if (!json_is_string(v))
		return fail(c, "expected a string, got %s", json_kind(v));
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (len == 0)
		return fail(c, "must not be empty");
	if (len > maxlen)
		return fail(c, "longer than %zu bytes", maxlen);
	if (memchr(s, '\0', len))
		return fail(c, "contains a NUL byte");
	*out = s;
	*outlen = len;
	return 0;
}

enum str_kind { S_TEXT, S_PATH, S_NAME, S_UUID, S_TOKEN, S_ENV, S_HTTPS, S_HTTP, S_PKCS11 };

static int str_check(struct ctx *c, const char *s, size_t len, enum str_kind k)
{
	switch (k) {
	case S_TEXT:
	case S_PATH:
		if (!is_text(s, len))
			return fail(c, "contains a control character");
		return 0;
	case S_NAME:
		if (!is_name(s, len))
			return fail(c, "expected a name of 1..%d characters [A-Za-z0-9._-]",
				    CFG_NAME_MAX);
		return 0;
	case S_UUID:
		if (!is_uuid(s, len))
			return fail(c, "expected a UUID (8-4-4-4-12 hex digits)");
		return 0;
	case S_TOKEN:
		if (!is_token(s, len))
			return fail(c, "contains a space, quote, backslash or non-ASCII byte");
		return 0;
	case S_ENV:
		if (!is_env_name(s, len))
			return fail(c, "expected an environment variable name [A-Za-z_][A-Za-z0-9_]*");
		return 0;
	case S_HTTPS:
		if (!has_prefix(s, len, "https://") || !is_token(s, len))
			return fail(c, "expected an https:// URL");
		return 0;
	case S_HTTP:
		if ((!has_prefix(s, len, "https://") && !has_prefix(s, len, "http://")) ||
		    !is_token(s, len))
			return fail(c, "expected an http:// or https:// URL");
		return 0;
	case S_PKCS11:
		if (!has_prefix(s, len, "pkcs11:") || !is_token(s, len))
			return fail(c, "expected a pkcs11: URI");
		return 0;
	}
	return fail(c, "internal error");
}

static size_t kind_max(enum str_kind k)
{
	switch (k) {
	case S_PATH: return PATH_MAX_LEN;
	case S_NAME: return CFG_NAME_MAX;
	case S_UUID: return CFG_UUID_LEN;
	case S_ENV: return 255;
	case S_HTTPS: return CFG_X5U_MAX;
	default: return STR_MAX;
	}
}

/* obj[key] as a string of kind k, copied; *out NULL when absent and not required. */
static int get_str(struct ctx *c, json_t *obj, const char *key, bool req, enum str_kind k,
		   const char **out)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	size_t s = push_key(c, key);
	int r = 0;
	if (v == NULL) {
		if (req)
			r = fail(c, "required");
		pop(c, s);
		return r;
	}
	const char *str;
	size_t len;
	r = str_value(c, v, kind_max(k), &str, &len);
	if (r == 0)
		r = str_check(c, str, len, k);
	if (r == 0 && (*out = arena_strdup(c, str, len)) == NULL)
		r = nomem(c);
	pop(c, s);
	return r;
}

static int get_uint(struct ctx *c, json_t *obj, const char *key, bool req, uint64_t min,
		    uint64_t max, uint64_t def, uint64_t *out)
{
	*out = def;
	json_t *v = json_object_get(obj, key);
	size_t s = push_key(c, key);
	int r = 0;
	if (v == NULL) {
		if (req)
			r = fail(c, "required");
	} else if (!json_is_integer(v)) {
		r = fail(c, "expected an integer, got %s", json_kind(v));
	} else {
		json_int_t i = json_integer_value(v);
		if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
			r = fail(c, "%lld out of range %llu..%llu", (long long)i,
				 (unsigned long long)min, (unsigned long long)max);
		else
			*out = (uint64_t)i;
	}
	pop(c, s);
	return r;
}

static int get_u32(struct ctx *c, json_t *obj, const char *key, uint32_t min, uint32_t max,
		   uint32_t def, uint32_t *out)
{
	uint64_t v;
	int r = get_uint(c, obj, key, false, min, max, def, &v);
	*out = (uint32_t)v;
	return r;
}

static int get_bool(struct ctx *c, json_t *obj, const char *key, bool def, bool *out)
{
	*out = def;
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	size_t s = push_key(c, key);
	int r = fail(c, "expected a boolean, got %s", json_kind(v));
	pop(c, s);
	return r;
}

/* obj[key] as one of names[0..n-1] -> index; def when absent (def < 0: required). */
static int get_enum(struct ctx *c, json_t *obj, const char *key, const char *const *names,
		    size_t n, int def, int *out)
{
	*out = def;
	json_t *v = json_object_get(obj, key);
	size_t s = push_key(c, key);
	int r = 0;
	if (v == NULL) {
		if (def < 0)
			r = fail(c, "required");
		pop(c, s);
		return r;
	}
	if (json_is_string(v)) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(json_string_value(v), names[i]) == 0 &&
			    strlen(names[i]) == json_string_length(v)) {
				*out = (int)i;
				pop(c, s);
				return 0;
			}
		}
	}
	char list[256];
	size_t off = 0;
	for (size_t i = 0; i < n && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	r = fail(c, "expected one of %s", list);
	pop(c, s);
	return r;
}

/* obj[key]: an array of strings of kind k (max entries); absent: empty. */
static int get_str_array(struct ctx *c, json_t *obj, const char *key, size_t max,
			 enum str_kind k, const char *const **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return 0;
	size_t s = push_key(c, key);
	int r = 0;
	if (!json_is_array(v)) {
		r = fail(c, "expected an array of strings, got %s", json_kind(v));
	} else if (json_array_size(v) > max) {
		r = fail(c, "more than %zu entries", max);
	} else if (json_array_size(v) > 0) {
		size_t cnt = json_array_size(v);
		const char **arr = arena_array(c, cnt, sizeof(*arr));
		if (arr == NULL)
			r = nomem(c);
		for (size_t i = 0; r == 0 && i < cnt; i++) {
			size_t s2 = push_idx(c, i);
			const char *str;
			size_t len;
			r = str_value(c, json_array_get(v, i), kind_max(k), &str, &len);
			if (r == 0)
				r = str_check(c, str, len, k);
			if (r == 0 && (arr[i] = arena_strdup(c, str, len)) == NULL)
				r = nomem(c);
			pop(c, s2);
		}
		if (r == 0) {
			*out = arr;
			*n = cnt;
		}
	}
	pop(c, s);
	return r;
}

/* obj[key]: an array (absent: empty) of at most max entries. */
static int get_array(struct ctx *c, json_t *obj, const char *key, size_t max, json_t **out)
{
	*out = json_object_get(obj, key);
	if (*out == NULL)
		return 0;
	size_t s = push_key(c, key);
	int r = 0;
	if (!json_is_array(*out))
		r = fail(c, "expected an array, got %s", json_kind(*out));
	else if (json_array_size(*out) > max)
		r = fail(c, "more than %zu entries", max);
	pop(c, s);
	return r;
}

/* obj[key]: an object, or NULL when absent. */
static int get_object(struct ctx *c, json_t *obj, const char *key, json_t **out)
{
	*out = json_object_get(obj, key);
	if (*out == NULL)
		return 0;
	size_t s = push_key(c, key);
	int r = want_object(c, *out);
	pop(c, s);
	return r;
}

/* ---- sections ------------------------------------------------------------------------- */

static const char *const mode_names[] = {"sign-redirect", "verify-redirect", "inline"};
static const char *const kind_names[] = {"customer", "peer", "gateway"};
static const char *const vfail_names[] = {"annotate", "reject"};
static const char *const sfail_names[] = {"unsigned", "503"};
static const char *const level_names[] = {"emerg", "alert", "crit", "err", "warning",
					  "notice", "info", "debug"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int parse_ports(struct ctx *c, json_t *root)
{
	static const char *const keys[] = {"id", "mtu", NULL};
	struct cfg *cfg = &c->p->pub;
	json_t *arr;
	int r = get_array(c, root, "ports", CFG_PORTS_MAX, &arr);
	if (r || arr == NULL || json_array_size(arr) == 0)
		return r;
	size_t n = json_array_size(arr);
	struct cfg_port *ports = arena_array(c, n, sizeof(*ports));
	if (ports == NULL)
		return nomem(c);
	size_t s = push_key(c, "ports");
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t s2 = push_idx(c, i);
		json_t *o = json_array_get(arr, i);
		uint64_t id, mtu;
		r = want_object(c, o);
		if (r == 0)
			r = check_keys(c, o, keys);
		if (r == 0)
			r = get_uint(c, o, "id", true, 0, CFG_PORTS_MAX - 1, 0, &id);
		if (r == 0)
			r = get_uint(c, o, "mtu", false, 576, 9000, 1500, &mtu);
		for (size_t j = 0; r == 0 && j < i; j++) {
			if (ports[j].id == id) {
				size_t s3 = push_key(c, "id");
				r = fail(c, "duplicate port id %llu (ports[%zu])",
					 (unsigned long long)id, j);
				pop(c, s3);
			}
		}
		ports[i].id = (uint16_t)id;
		ports[i].mtu = (uint16_t)mtu;
		pop(c, s2);
	}
	pop(c, s);
	cfg->ports = ports;
	cfg->n_ports = n;
	return r;
}

static bool port_known(const struct cfg *cfg, uint64_t id)
{
	if (cfg->n_ports == 0)
		return id < CFG_PORTS_MAX;
	for (size_t i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].id == id)
			return true;
	return false;
}

static int get_ip(struct ctx *c, json_t *obj, const char *key, bool req, struct cfg_ip *out)
{
	memset(out, 0, sizeof(*out));
	json_t *v = json_object_get(obj, key);
	size_t s = push_key(c, key);
	int r = 0;
	if (v == NULL) {
		if (req)
			r = fail(c, "required");
	} else {
		const char *str;
		size_t len;
		r = str_value(c, v, 63, &str, &len);
		if (r == 0 && cfg_ip_parse(str, out) < 0)
			r = fail(c, "invalid IP address \"%s\"", str);
	}
	pop(c, s);
	return r;
}

static int parse_listener(struct ctx *c, json_t *o, struct cfg_listener *l)
{
	static const char *const keys[] = {"addr", "port", "vlan", "mode", "iface", "peer", NULL};
	static const char *const peer_keys[] = {"port", "sign", "verify", NULL};
	const struct cfg *cfg = &c->p->pub;
	int mode;
	uint64_t port, vlan, iface;
	int r = want_object(c, o);
	if (r == 0)
		r = check_keys(c, o, keys);
	if (r == 0)
		r = get_enum(c, o, "mode", mode_names, NELEM(mode_names), -1, &mode);
	if (r)
		return r;
	l->mode = (enum cfg_mode)mode;
	bool inl = l->mode == CFG_MODE_INLINE;
	if ((r = get_ip(c, o, "addr", !inl, &l->addr)))
		return r;
	if ((r = get_uint(c, o, "port", false, 1, 65535, 5060, &port)))
		return r;
	if ((r = get_uint(c, o, "vlan", false, 0, 4094, 0, &vlan)))
		return r;
	if ((r = get_uint(c, o, "iface", inl, 0, CFG_PORTS_MAX - 1, UINT64_MAX, &iface)))
		return r;
	if (iface != UINT64_MAX && !port_known(cfg, iface)) {
		size_t s = push_key(c, "iface");
		r = fail(c, "port %llu is not in ports", (unsigned long long)iface);
		pop(c, s);
		return r;
	}
	l->port = (uint16_t)port;
	l->vlan = (uint16_t)vlan;
	l->iface = iface == UINT64_MAX ? -1 : (int32_t)iface;
	json_t *peer;
	if ((r = get_object(c, o, "peer", &peer)))
		return r;
	size_t s = push_key(c, "peer");
	if (!inl && peer) {
		r = fail(c, "only for mode inline");
	} else if (inl && peer == NULL) {
		r = fail(c, "required for mode inline");
	} else if (inl) {
		uint64_t pp = 0;
		r = check_keys(c, peer, peer_keys);
		if (r == 0)
			r = get_uint(c, peer, "port", true, 0, CFG_PORTS_MAX - 1, 0, &pp);
		if (r == 0)
			r = get_bool(c, peer, "sign", true, &l->sign);
		if (r == 0)
			r = get_bool(c, peer, "verify", false, &l->verify);
		if (r == 0) {
			size_t s2 = push_key(c, "port");
			if (!port_known(cfg, pp))
				r = fail(c, "port %llu is not in ports", (unsigned long long)pp);
			else if ((int64_t)pp == l->iface)
				r = fail(c, "must differ from iface");
			pop(c, s2);
		}
		l->peer_port = (uint16_t)pp;
		if (r == 0 && !l->sign && !l->verify)
			r = fail(c, "sign and verify both false: nothing to do");
	} else {
		l->sign = l->mode == CFG_MODE_SIGN_REDIRECT;
		l->verify = l->mode == CFG_MODE_VERIFY_REDIRECT;
	}
	pop(c, s);
	return r;
}

static bool listener_same(const struct cfg_listener *a, const struct cfg_listener *b)
{
	return a->addr.family == b->addr.family && memcmp(a->addr.ip, b->addr.ip, 16) == 0 &&
	       a->port == b->port && a->vlan == b->vlan &&
	       (a->iface == b->iface || a->iface < 0 || b->iface < 0);
}

static int parse_listeners(struct ctx *c, json_t *root)
{
	struct cfg *cfg = &c->p->pub;
	json_t *arr;
	int r = get_array(c, root, "listeners", CFG_LISTENERS_MAX, &arr);
	if (r || arr == NULL || json_array_size(arr) == 0)
		return r;
	size_t n = json_array_size(arr);
	struct cfg_listener *ls = arena_array(c, n, sizeof(*ls));
	if (ls == NULL)
		return nomem(c);
	size_t s = push_key(c, "listeners");
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t s2 = push_idx(c, i);
		r = parse_listener(c, json_array_get(arr, i), &ls[i]);
		for (size_t j = 0; r == 0 && j < i; j++)
			if (listener_same(&ls[i], &ls[j]))
				r = fail(c, "same address, port, vlan and iface as listeners[%zu]",
					 j);
		pop(c, s2);
	}
	pop(c, s);
	cfg->listeners = ls;
	cfg->n_listeners = n;
	return r;
}

static int parse_hsm(struct ctx *c, json_t *root)
{
	static const char *const keys[] = {"module", "tokens", "sessions", "pin_file", "pin_env",
					   "deadline_ms", NULL};
	struct cfg_hsm *h = &c->p->pub.hsm;
	h->sessions = 4;
	h->deadline_ms = 50;
	json_t *o;
	int r = get_object(c, root, "hsm", &o);
	if (r || o == NULL)
		return r;
	size_t s = push_key(c, "hsm");
	r = check_keys(c, o, keys);
	if (r == 0)
		r = get_str(c, o, "module", true, S_PATH, &h->module);
	if (r == 0)
		r = get_str_array(c, o, "tokens", CFG_LIST_MAX, S_PKCS11, &h->tokens, &h->n_tokens);
	if (r == 0 && h->n_tokens == 0) {
		size_t s2 = push_key(c, "tokens");
		r = fail(c, "at least one token URI required");
		pop(c, s2);
	}
	if (r == 0)
		r = get_u32(c, o, "sessions", 1, 1024, 4, &h->sessions);
	if (r == 0)
		r = get_str(c, o, "pin_file", false, S_PATH, &h->pin_file);
	if (r == 0)
		r = get_str(c, o, "pin_env", false, S_ENV, &h->pin_env);
	if (r == 0 && h->pin_file && h->pin_env) {
		size_t s2 = push_key(c, "pin_env");
		r = fail(c, "give either pin_file or pin_env, not both");
		pop(c, s2);
	}
	if (r == 0)
		r = get_u32(c, o, "deadline_ms", 1, 10000, 50, &h->deadline_ms);
	pop(c, s);
	return r;
}

static int parse_attest_list(struct ctx *c, json_t *o, const char *key, unsigned *mask)
{
	*mask = CFG_ATTEST_A | CFG_ATTEST_B | CFG_ATTEST_C;
	json_t *v = json_object_get(o, key);
	if (v == NULL)
		return 0;
	size_t s = push_key(c, key);
	int r = 0;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 3) {
		r = fail(c, "expected an array of 1..3 of \"A\", \"B\", \"C\"");
	} else {
		*mask = 0;
		for (size_t i = 0; r == 0 && i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);
			size_t s2 = push_idx(c, i);
			const char *str = json_is_string(e) ? json_string_value(e) : "";
			unsigned bit = 0;
			if (json_string_length(e) == 1 && str[0] >= 'A' && str[0] <= 'C')
				bit = 1u << (str[0] - 'A');
			if (bit == 0)
				r = fail(c, "expected one of A, B, C");
			else if (*mask & bit)
				r = fail(c, "duplicate %s", str);
			*mask |= bit;
			pop(c, s2);
		}
	}
	pop(c, s);
	return r;
}

static int parse_creds(struct ctx *c, json_t *root)
{
	static const char *const keys[] = {"id", "key", "x5u", "cert", "attest", "origid", NULL};
	struct cfg *cfg = &c->p->pub;
	json_t *arr;
	int r = get_array(c, root, "credentials", CFG_CREDS_MAX, &arr);
	if (r || arr == NULL || json_array_size(arr) == 0)
		return r;
	size_t n = json_array_size(arr);
	struct cfg_cred *cr = arena_array(c, n, sizeof(*cr));
	if (cr == NULL)
		return nomem(c);
	size_t s = push_key(c, "credentials");
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t s2 = push_idx(c, i);
		json_t *o = json_array_get(arr, i);
		r = want_object(c, o);
		if (r == 0)
			r = check_keys(c, o, keys);
		if (r == 0)
			r = get_str(c, o, "id", true, S_NAME, &cr[i].id);
		if (r == 0)
			r = get_str(c, o, "key", true, S_TOKEN, &cr[i].key);
		if (r == 0)
			r = get_str(c, o, "x5u", true, S_HTTPS, &cr[i].x5u);
		if (r == 0)
			r = get_str(c, o, "cert", false, S_PATH, &cr[i].cert);
		if (r == 0)
			r = parse_attest_list(c, o, "attest", &cr[i].attest);
		if (r == 0)
			r = get_str(c, o, "origid", false, S_UUID, &cr[i].origid);
		for (size_t j = 0; r == 0 && j < i; j++) {
			if (strcmp(cr[i].id, cr[j].id) == 0) {
				size_t s3 = push_key(c, "id");
				r = fail(c, "duplicate id \"%s\" (credentials[%zu])", cr[i].id, j);
				pop(c, s3);
			}
		}
		if (r == 0 && has_prefix(cr[i].key, strlen(cr[i].key), "pkcs11:") &&
		    cfg->hsm.module == NULL) {
			size_t s3 = push_key(c, "key");
			r = fail(c, "a pkcs11: key needs the hsm section");
			pop(c, s3);
		}
		pop(c, s2);
	}
	pop(c, s);
	cfg->creds = cr;
	cfg->n_creds = n;
	return r;
}

static int parse_cache(struct ctx *c, json_t *v, struct cfg_cache *k)
{
	static const char *const keys[] = {"max_entries", "max_bytes", "ttl_floor_s",
					   "ttl_ceiling_s", "ttl_default_s", "neg_ttl_min_s",
					   "neg_ttl_max_s", NULL};
	json_t *o;
	int r = get_object(c, v, "cache", &o);
	if (r || o == NULL)
		return r;
	size_t s = push_key(c, "cache");
	uint64_t me = 0, mb = 0;
	r = check_keys(c, o, keys);
	if (r == 0)
		r = get_uint(c, o, "max_entries", false, 1, 1ull << 32, 0, &me);
	if (r == 0)
		r = get_uint(c, o, "max_bytes", false, 4096, 1ull << 40, 0, &mb);
	if (r == 0)
		r = get_u32(c, o, "ttl_floor_s", 1, 31536000, 0, &k->ttl_floor_s);
	if (r == 0)
		r = get_u32(c, o, "ttl_ceiling_s", 1, 31536000, 0, &k->ttl_ceiling_s);
	if (r == 0)
		r = get_u32(c, o, "ttl_default_s", 1, 31536000, 0, &k->ttl_default_s);
	if (r == 0)
		r = get_u32(c, o, "neg_ttl_min_s", 1, 86400, 0, &k->neg_ttl_min_s);
	if (r == 0)
		r = get_u32(c, o, "neg_ttl_max_s", 1, 86400, 0, &k->neg_ttl_max_s);
	k->max_entries = (size_t)me;
	k->max_bytes = (size_t)mb;
	if (r == 0 && k->ttl_floor_s && k->ttl_ceiling_s && k->ttl_floor_s > k->ttl_ceiling_s) {
		size_t s2 = push_key(c, "ttl_ceiling_s");
		r = fail(c, "less than ttl_floor_s");
		pop(c, s2);
	}
	if (r == 0 && k->neg_ttl_min_s && k->neg_ttl_max_s && k->neg_ttl_min_s > k->neg_ttl_max_s) {
		size_t s2 = push_key(c, "neg_ttl_max_s");
		r = fail(c, "less than neg_ttl_min_s");
		pop(c, s2);
	}
	pop(c, s);
	return r;
}

static int parse_verify(struct ctx *c, json_t *root)
{
	static const char *const keys[] = {"trust", "crl_urls", "allow_hosts", "deny_hosts",
					   "freshness_s", "fetch_timeout_ms", "park_timeout_ms",
					   "cache", NULL};
	struct cfg_verify *v = &c->p->pub.verify;
	v->freshness_s = 60;
	v->fetch_timeout_ms = 2000;
	v->park_timeout_ms = 2500;
	json_t *o;
	int r = get_object(c, root, "verify", &o);
	if (r || o == NULL)
		return r;
	size_t s = push_key(c, "verify");
	r = check_keys(c, o, keys);
	if (r == 0)
		r = get_str(c, o, "trust", false, S_PATH, &v->trust);
	if (r == 0)
		r = get_str_array(c, o, "crl_urls", CFG_LIST_MAX, S_HTTP, &v->crl_urls,
				  &v->n_crl_urls);
	if (r == 0)
		r = get_str_array(c, o, "allow_hosts", CFG_LIST_MAX, S_TOKEN, &v->allow_hosts,
				  &v->n_allow_hosts);
	if (r == 0)
		r = get_str_array(c, o, "deny_hosts", CFG_LIST_MAX, S_TOKEN, &v->deny_hosts,
				  &v->n_deny_hosts);
	if (r == 0)
		r = get_u32(c, o, "freshness_s", 1, 3600, 60, &v->freshness_s);
	if (r == 0)
		r = get_u32(c, o, "fetch_timeout_ms", 100, 60000, 2000, &v->fetch_timeout_ms);
	if (r == 0)
		r = get_u32(c, o, "park_timeout_ms", 1, 60000, 2500, &v->park_timeout_ms);
	if (r == 0)
		r = parse_cache(c, o, &v->cache);
	pop(c, s);
	return r;
}

struct pfx_key {
	struct cfg_prefix p;
	uint16_t vlan;
	uint32_t trunk, idx;
};

static int pfx_key_cmp(const void *a, const void *b)
{
	const struct pfx_key *x = a, *y = b;
	if (x->p.addr.family != y->p.addr.family)
		return x->p.addr.family < y->p.addr.family ? -1 : 1;
	if (x->p.len != y->p.len)
		return x->p.len < y->p.len ? -1 : 1;
	int m = memcmp(x->p.addr.ip, y->p.addr.ip, 16);
	if (m)
		return m;
	if (x->vlan != y->vlan)
		return x->vlan < y->vlan ? -1 : 1;
	if (x->trunk != y->trunk)
		return x->trunk < y->trunk ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int parse_prefixes(struct ctx *c, json_t *o, struct cfg_trunk *t)
{
	json_t *v = json_object_get(o, "prefix");
	size_t s = push_key(c, "prefix");
	int r = 0;
	if (v == NULL) {
		r = fail(c, "required");
	} else if (json_is_array(v) &&
		   (json_array_size(v) == 0 || json_array_size(v) > CFG_PREFIXES_MAX)) {
		r = fail(c, "expected 1..%d prefixes", CFG_PREFIXES_MAX);
	} else if (!json_is_array(v) && !json_is_string(v)) {
		r = fail(c, "expected a prefix string or an array of them, got %s", json_kind(v));
	} else {
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		struct cfg_prefix *p = arena_array(c, n, sizeof(*p));
		if (p == NULL)
			r = nomem(c);
		for (size_t i = 0; r == 0 && i < n; i++) {
			json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
			size_t s2 = json_is_array(v) ? push_idx(c, i) : c->plen;
			const char *str;
			size_t len;
			r = str_value(c, e, 63, &str, &len);
			if (r == 0 && cfg_prefix_parse(str, &p[i]) < 0)
				r = fail(c, "invalid prefix \"%s\" (address/len, host bits zero)",
					 str);
			pop(c, s2);
		}
		t->prefixes = p;
		t->n_prefixes = r == 0 ? n : 0;
	}
	pop(c, s);
	return r;
}

static int parse_trunks(struct ctx *c, json_t *root)
{
	static const char *const keys[] = {"name", "customer", "prefix", "vlan", "kind",
					   "origid", "attest_override", "on_verify_failure",
					   "on_sign_failure", NULL};
	static const char *const attest_names[] = {"A", "B", "C"};
	struct cfg *cfg = &c->p->pub;
	json_t *arr;
	int r = get_array(c, root, "trunks", CFG_TRUNKS_MAX, &arr);
	if (r || arr == NULL || json_array_size(arr) == 0)
		return r;
	size_t n = json_array_size(arr);
	struct cfg_trunk *t = arena_array(c, n, sizeof(*t));
	if (t == NULL)
		return nomem(c);
	cfg->trunks = t;
	size_t s = push_key(c, "trunks");
	size_t n_pfx = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t s2 = push_idx(c, i);
		json_t *o = json_array_get(arr, i);
		int kind = 0, att = -1, vf = 0, sf = 0;
		uint64_t vlan = CFG_VLAN_ANY;
		r = want_object(c, o);
		if (r == 0)
			r = check_keys(c, o, keys);
		if (r == 0)
			r = get_str(c, o, "name", true, S_NAME, &t[i].name);
		if (r == 0)
			r = get_enum(c, o, "kind", kind_names, NELEM(kind_names), -1, &kind);
		t[i].kind = (enum cfg_trunk_kind)kind;
		if (r == 0)
			r = get_str(c, o, "customer", false, S_NAME, &t[i].customer);
		if (r == 0 && t[i].customer && t[i].kind != CFG_TRUNK_CUSTOMER) {
			size_t s3 = push_key(c, "customer");
			r = fail(c, "only for kind customer");
			pop(c, s3);
		}
		if (r == 0 && t[i].customer == NULL && t[i].kind == CFG_TRUNK_CUSTOMER)
			t[i].customer = t[i].name;
		if (r == 0)
			r = parse_prefixes(c, o, &t[i]);
		if (r == 0)
			r = get_uint(c, o, "vlan", false, 0, 4094, CFG_VLAN_ANY, &vlan);
		t[i].vlan = (uint16_t)vlan;
		if (r == 0)
			r = get_str(c, o, "origid", true, S_UUID, &t[i].origid);
		if (r == 0 && json_object_get(o, "attest_override") &&
		    !json_is_null(json_object_get(o, "attest_override")))
			r = get_enum(c, o, "attest_override", attest_names, 3, -1, &att);
		t[i].attest_override = att >= 0 ? (char)('A' + att) : 0;
		if (r == 0)
			r = get_enum(c, o, "on_verify_failure", vfail_names, NELEM(vfail_names), 0,
				     &vf);
		if (r == 0)
			r = get_enum(c, o, "on_sign_failure", sfail_names, NELEM(sfail_names), 0,
				     &sf);
		t[i].on_verify_failure = (enum cfg_verify_fail)vf;
		t[i].on_sign_failure = (enum cfg_sign_fail)sf;
		for (size_t j = 0; r == 0 && j < i && n <= 1024; j++) {
			if (strcmp(t[i].name, t[j].name) == 0) {
				size_t s3 = push_key(c, "name");
				r = fail(c, "duplicate name \"%s\" (trunks[%zu])", t[i].name, j);
				pop(c, s3);
			}
		}
		n_pfx += t[i].n_prefixes;
		pop(c, s2);
	}
	pop(c, s);
	cfg->n_trunks = n;
	if (r)
		return r;
	/* duplicate names (large configs) and duplicate (prefix, vlan): sort and compare */
	struct pfx_key *keys2 = malloc((n_pfx ? n_pfx : 1) * sizeof(*keys2));
	if (keys2 == NULL)
		return nomem(c);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < t[i].n_prefixes; j++)
			keys2[k++] = (struct pfx_key){t[i].prefixes[j], t[i].vlan, (uint32_t)i,
						      (uint32_t)j};
	}
	qsort(keys2, k, sizeof(*keys2), pfx_key_cmp);
	for (size_t i = 1; r == 0 && i < k; i++) {
		const struct pfx_key *a = &keys2[i - 1], *b = &keys2[i];
		if (a->p.addr.family == b->p.addr.family && a->p.len == b->p.len &&
		    memcmp(a->p.addr.ip, b->p.addr.ip, 16) == 0 && a->vlan == b->vlan) {
			size_t s3 = push_key(c, "trunks");
			size_t s4 = push_idx(c, b->trunk);
			size_t s5 = push_key(c, "prefix");
			r = fail(c, "prefix %zu: same prefix and vlan as trunks[%u]", (size_t)b->idx,
				 a->trunk);
			pop(c, s5);
			pop(c, s4);
			pop(c, s3);
		}
	}
	free(keys2);
	return r;
}

static int parse_log(struct ctx *c, json_t *root)
{
	static const char *const keys[] = {"level", "rate_per_s", NULL};
	struct cfg *cfg = &c->p->pub;
	cfg->log_level = CFG_LOG_NOTICE;
	cfg->log_rate_per_s = 10;
	json_t *o;
	int r = get_object(c, root, "log", &o);
	if (r || o == NULL)
		return r;
	size_t s = push_key(c, "log");
	int lvl = CFG_LOG_NOTICE;
	r = check_keys(c, o, keys);
	if (r == 0)
		r = get_enum(c, o, "level", level_names, NELEM(level_names), CFG_LOG_NOTICE, &lvl);
	cfg->log_level = (enum cfg_log_level)lvl;
	if (r == 0)
		r = get_u32(c, o, "rate_per_s", 0, 100000, 10, &cfg->log_rate_per_s);
	pop(c, s);
	return r;
}

/* "host:port" or "[v6]:port", port 1..65535. */
static bool is_hostport(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s || colon[1] == '\0' || strlen(colon + 1) > 5)
		return false;
	unsigned long port = 0;
	for (const char *d = colon + 1; *d; d++) {
		if (*d < '0' || *d > '9')
			return false;
		port = port * 10 + (unsigned long)(*d - '0');
	}
	if (port == 0 || port > 65535)
		return false;
	size_t hl = (size_t)(colon - s);
	char host[64];
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return false;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		struct cfg_ip ip;
		return cfg_ip_parse(host, &ip) == 0 && ip.family == 6;
	}
	if (memchr(s, ':', hl))
		return false;
	return is_token(s, hl);
}

static int parse_telemetry(struct ctx *c, json_t *root)
{
	static const char *const keys[] = {"prometheus", NULL};
	json_t *o;
	int r = get_object(c, root, "telemetry", &o);
	if (r || o == NULL)
		return r;
	size_t s = push_key(c, "telemetry");
	r = check_keys(c, o, keys);
	if (r == 0)
		r = get_str(c, o, "prometheus", false, S_TOKEN, &c->p->pub.prometheus);
	if (r == 0 && c->p->pub.prometheus && !is_hostport(c->p->pub.prometheus)) {
		size_t s2 = push_key(c, "prometheus");
		r = fail(c, "expected host:port or [v6]:port");
		pop(c, s2);
	}
	pop(c, s);
	return r;
}

static int parse_small_sections(struct ctx *c, json_t *root)
{
	static const char *const sign_keys[] = {"unknown_origid", NULL};
	static const char *const ctl_keys[] = {"socket", NULL};
	struct cfg *cfg = &c->p->pub;
	json_t *o;
	int r = get_str_array(c, root, "eal", CFG_LIST_MAX, S_TEXT, &cfg->eal, &cfg->n_eal);
	if (r == 0)
		r = get_str(c, root, "tn_table", false, S_PATH, &cfg->tn_table);
	if (r == 0)
		r = get_object(c, root, "sign", &o);
	if (r == 0 && o) {
		size_t s = push_key(c, "sign");
		r = check_keys(c, o, sign_keys);
		if (r == 0)
			r = get_str(c, o, "unknown_origid", false, S_UUID, &cfg->sign.unknown_origid);
		pop(c, s);
	}
	if (r == 0)
		r = get_object(c, root, "control", &o);
	if (r == 0 && o) {
		size_t s = push_key(c, "control");
		r = check_keys(c, o, ctl_keys);
		if (r == 0)
			r = get_str(c, o, "socket", false, S_PATH, &cfg->control_socket);
		pop(c, s);
	}
	return r;
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Cross-section checks. */
static int check_cross(struct ctx *c)
{
	const struct cfg *cfg = &c->p->pub;
	bool signs = false;
	for (size_t i = 0; i < cfg->n_listeners; i++)
		signs |= cfg->listeners[i].sign;
	if (signs && cfg->n_creds == 0) {
		size_t s = push_key(c, "credentials");
		int r = fail(c, "required: a listener signs");
		pop(c, s);
		return r;
	}
	/* duplicate trunk names in large configs (small ones are checked in place) */
	if (cfg->n_trunks > 1024) {
		const char **names = malloc(cfg->n_trunks * sizeof(*names));
		if (names == NULL)
			return nomem(c);
		for (size_t i = 0; i < cfg->n_trunks; i++)
			names[i] = cfg->trunks[i].name;
		qsort(names, cfg->n_trunks, sizeof(*names), str_ptr_cmp);
		int r = 0;
		for (size_t i = 1; r == 0 && i < cfg->n_trunks; i++) {
			if (strcmp(names[i - 1], names[i]) == 0) {
				size_t s = push_key(c, "trunks");
				r = fail(c, "duplicate name \"%s\"", names[i]);
				pop(c, s);
			}
		}
		free(names);
		return r;
	}
	return 0;
}

/* ---- entry points ---------------------------------------------------------------------- */

static int walk(struct ctx *c, json_t *root)
{
	static const char *const keys[] = {"eal", "ports", "listeners", "hsm", "credentials",
					   "verify", "sign", "trunks", "tn_table", "telemetry",
					   "log", "control", NULL};
	int r = want_object(c, root);
	if (r == 0)
		r = check_keys(c, root, keys);
	if (r == 0)
		r = parse_small_sections(c, root);
	if (r == 0)
		r = parse_ports(c, root);
	if (r == 0)
		r = parse_listeners(c, root);
	if (r == 0)
		r = parse_hsm(c, root);
	if (r == 0)
		r = parse_creds(c, root);
	if (r == 0)
		r = parse_verify(c, root);
	if (r == 0)
		r = parse_trunks(c, root);
	if (r == 0)
		r = parse_telemetry(c, root);
	if (r == 0)
		r = parse_log(c, root);
	if (r == 0)
		r = check_cross(c);
	return r;
}

int cfg_parse(const char *json, size_t len, struct cfg **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (json == NULL) {
		if (err && errlen)
			snprintf(err, errlen, "no document");
		return -EINVAL;
	}
	if (len > CFG_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "document larger than %u bytes", CFG_MAX_BYTES);
		return -E2BIG;
	}
	struct cfg_priv *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	struct ctx c = {.p = p, .err = err, .errlen = err ? errlen : 0};
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	int r;
	if (root == NULL) {
		if (c.errlen)
			snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
		r = -EINVAL;
	} else {
		r = walk(&c, root);
		json_decref(root);
	}
	if (r == 0 && c.nomem)
		r = -ENOMEM;
	if (r < 0 && c.nomem)
		r = -ENOMEM;
	if (r < 0) {
		cfg_free(&p->pub);
		return r;
	}
	*out = &p->pub;
	return 0;
}

int cfg_load_file(const char *path, struct cfg **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (path == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	char *buf = malloc(CFG_MAX_BYTES + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	size_t len = 0;
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, CFG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CFG_MAX_BYTES) {
			r = -E2BIG;
			break;
		}
	}
	close(fd);
	if (r < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path,
				 r == -E2BIG ? "larger than 4 MiB" : strerror(-r));
		free(buf);
		return r;
	}
	char e2[512];
	r = cfg_parse(buf, len, out, e2, sizeof(e2));
	free(buf);
	if (r < 0 && err && errlen)
		snprintf(err, errlen, "%s: %s", path, e2);
	return r;
}

void cfg_free(struct cfg *c)
{
	if (c == NULL)
		return;
	struct cfg_priv *p = (struct cfg_priv *)c;
	struct blk *b = p->blocks;
	while (b) {
		struct blk *next = b->next;
		free(b);
		b = next;
	}
	free(p);
}

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : "";
}

const char *cfg_mode_str(enum cfg_mode m)
{
	return name_of(mode_names, NELEM(mode_names), (int)m);
}

const char *cfg_trunk_kind_str(enum cfg_trunk_kind k)
{
	return name_of(kind_names, NELEM(kind_names), (int)k);
}

const char *cfg_verify_fail_str(enum cfg_verify_fail f)
{
	return name_of(vfail_names, NELEM(vfail_names), (int)f);
}

const char *cfg_sign_fail_str(enum cfg_sign_fail f)
{
	return name_of(sfail_names, NELEM(sfail_names), (int)f);
}

const char *cfg_log_level_str(enum cfg_log_level l)
{
	return name_of(level_names, NELEM(level_names), (int)l);
}
