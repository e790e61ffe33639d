/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread: SIGHUP and control-socket reloads, and the control socket's commands.
 * See dp_ops.h.
 */
#include "dataplane/dp_ops.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/certcache/fetch.h"
#include "dataplane/policy/policy.h"

#ifndef SHAKEND_VERSION
#define SHAKEND_VERSION "unknown"
#endif

#define STR_MAX 31          /* bytes of a key or value in a request */
#define ERR_MAX 1024
#define IDLE_MS 30000       /* a client silent this long is closed */

struct client {
	int fd;
	size_t len;
	uint64_t last_ms;
	char buf[DP_OPS_REQ_MAX + 2];
};

struct dp_ops {
	struct dp_ops_cfg cfg;
	const struct cfg *cur;          /* in force: cfg.cfg or owned */
	struct cfg *owned;              /* a reloaded cfg (freed at the next reload or stop) */
	pthread_mutex_t lock;           /* reloads; last_err */
	char last_err[ERR_MAX];
	_Atomic uint64_t generation, reloads_ok, reloads_failed, requests, bad_requests;
	_Atomic int64_t last_reload_unix;
	int lfd;                        /* listening socket, -1 */
	char sock_path[108];
	pthread_t thread;
	bool running;
	atomic_bool stop;
	struct client clients[DP_OPS_CLIENTS_MAX];
	char reply[DP_OPS_REPLY_MAX];
};

static atomic_int g_wake_fd = -1;
static atomic_bool g_reload_req;
static __thread bool tl_qsbr;       /* this thread is a registered QSBR reader */

/* ---- request parser (pure) ---- */

struct lex {
	const char *p;
	size_t len, i;
	char *err;
	size_t errlen;
};

static int lex_fail(struct lex *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lex_fail(struct lex *x, const char *fmt, ...)
{
	if (x->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(x->err, x->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void lex_ws(struct lex *x)
{
	while (x->i < x->len && (x->p[x->i] == ' ' || x->p[x->i] == '\t' || x->p[x->i] == '\n' ||
				 x->p[x->i] == '\r'))
		x->i++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A JSON string into out (STR_MAX + 1 bytes). */
static int lex_str(struct lex *x, char *out)
{
	lex_ws(x);
	if (x->i >= x->len || x->p[x->i] != '"')
		return lex_fail(x, "offset %zu: expected '\"'", x->i);
	size_t start = x->i++;
	size_t o = 0;
	for (;;) {
		if (x->i >= x->len)
			return lex_fail(x, "offset %zu: unterminated string", start);
		unsigned char c = (unsigned char)x->p[x->i++];
		if (c == '"')
			break;
		if (c < 0x20 || c >= 0x7f)
			return lex_fail(x, "offset %zu: byte 0x%02x in a string", x->i - 1, c);
		if (c == '\\') {
			if (x->i >= x->len)
				return lex_fail(x, "offset %zu: unterminated string", start);
			char e = x->p[x->i++];
			switch (e) {
			case '"': case '\\': case '/': c = (unsigned char)e; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				if (x->len - x->i < 4)
					return lex_fail(x, "offset %zu: bad \\u escape", x->i - 2);
				int v = 0;
				for (int k = 0; k < 4; k++) {
					int h = hexval(x->p[x->i + (size_t)k]);
					if (h < 0)
						return lex_fail(x, "offset %zu: bad \\u escape",
								x->i - 2);
					v = v << 4 | h;
				}
				if (v == 0 || v >= 0x80)
					return lex_fail(x, "offset %zu: \\u escape outside ASCII",
							x->i - 2);
				x->i += 4;
				c = (unsigned char)v;
				break;
			}
			default:
				return lex_fail(x, "offset %zu: bad escape", x->i - 2);
			}
		}
		if (o == STR_MAX)
			return lex_fail(x, "offset %zu: string longer than %d bytes", start,
					STR_MAX);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int lex_char(struct lex *x, char c)
{
	lex_ws(x);
	if (x->i >= x->len || x->p[x->i] != c)
		return lex_fail(x, "offset %zu: expected '%c'", x->i, c);
	x->i++;
	return 0;
}

static const struct {
	const char *name;
	enum dp_ops_cmd cmd;
} cmds[] = {
	{"reload", DP_OPS_RELOAD},
	{"stats", DP_OPS_STATS},
	{"cache-stats", DP_OPS_CACHE_STATS},
	{"version", DP_OPS_VERSION},
};

const char *dp_ops_cmd_name(enum dp_ops_cmd c)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].cmd == c)
			return cmds[i].name;
	return "";
}

/* A printable copy of s for an error message. */
static void printable(char *out, const char *s)
{
	size_t o = 0;
	for (; *s && o < STR_MAX; s++)
		out[o++] = (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') ? *s : '?';
	out[o] = '\0';
}

int dp_ops_req_parse(const char *buf, size_t len, struct dp_ops_req *out, char *err,
		     size_t errlen)
{
	struct lex x = {buf, len, 0, err, errlen};
	if (errlen)
		err[0] = '\0';
	if (!out || (!buf && len))
		return lex_fail(&x, "no request");
	if (len > DP_OPS_REQ_MAX) {
		lex_fail(&x, "request longer than %d bytes", DP_OPS_REQ_MAX);
		return -E2BIG;
	}
	out->cmd = DP_OPS_NONE;
	char key[STR_MAX + 1], val[STR_MAX + 1], shown[STR_MAX + 1];
	int rc = lex_char(&x, '{');
	if (rc)
		return rc;
	lex_ws(&x);
	if (x.i < x.len && x.p[x.i] == '}') {
		x.i++;
	} else {
		for (;;) {
			size_t at = x.i;
			if ((rc = lex_str(&x, key)) || (rc = lex_char(&x, ':')))
				return rc;
			lex_ws(&x);
			if (x.i < x.len && x.p[x.i] != '"') {
				printable(shown, key);
				return lex_fail(&x, "%s: expected a string", shown);
			}
			if ((rc = lex_str(&x, val)))
				return rc;
			if (strcmp(key, "cmd")) {
				printable(shown, key);
				return lex_fail(&x, "offset %zu: unknown key \"%s\"", at, shown);
			}
			if (out->cmd != DP_OPS_NONE)
				return lex_fail(&x, "cmd: given twice");
			for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
				if (!strcmp(val, cmds[i].name))
					out->cmd = cmds[i].cmd;
			if (out->cmd == DP_OPS_NONE) {
				printable(shown, val);
				return lex_fail(&x, "cmd: unknown command \"%s\" (reload, stats, "
						    "cache-stats, version)", shown);
			}
			lex_ws(&x);
			if (x.i < x.len && x.p[x.i] == ',') {
				x.i++;
				continue;
			}
			if ((rc = lex_char(&x, '}')))
				return rc;
			break;
		}
	}
	lex_ws(&x);
	if (x.i != x.len)
		return lex_fail(&x, "offset %zu: trailing bytes", x.i);
	if (out->cmd == DP_OPS_NONE)
		return lex_fail(&x, "cmd: missing");
	return 0;
}

long dp_ops_json_str(char *buf, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (!buf || cap == 0)
		return -ENOSPC;
	size_t o = 0;
	buf[0] = '\0';
#define PUT(c) \
	do { \
		if (o + 1 >= cap) \
			return -ENOSPC; \
		buf[o++] = (c); \
		buf[o] = '\0'; \
	} while (0)
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT((char)c);
		} else if (c < 0x20 || c >= 0x7f) {
			if (o + 6 >= cap)
				return -ENOSPC;
			PUT('\\');
			PUT('u');
			PUT('0');
			PUT('0');
			PUT(hex[c >> 4]);
			PUT(hex[c & 15]);
		} else {
			PUT((char)c);
		}
	}
	PUT('"');
#undef PUT
	return (long)o;
}

/* ---- what a reload cannot apply ---- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool strv_eq(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool listeners_eq(const struct cfg *a, const struct cfg *b)
{
	if (a->n_listeners != b->n_listeners)
		return false;
	for (size_t i = 0; i < a->n_listeners; i++) {
		const struct cfg_listener *x = &a->listeners[i], *y = &b->listeners[i];
		if (x->addr.family != y->addr.family || memcmp(x->addr.ip, y->addr.ip, 16) ||
		    x->port != y->port || x->vlan != y->vlan || x->iface != y->iface ||
		    x->mode != y->mode || x->peer_port != y->peer_port || x->sign != y->sign ||
		    x->verify != y->verify)
			return false;
	}
	return true;
}

static bool ports_eq(const struct cfg *a, const struct cfg *b)
{
	if (a->n_ports != b->n_ports)
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].id != b->ports[i].id || a->ports[i].mtu != b->ports[i].mtu)
			return false;
	return true;
}

static bool hsm_eq(const struct cfg_hsm *a, const struct cfg_hsm *b)
{
	return str_eq(a->module, b->module) && strv_eq(a->tokens, a->n_tokens, b->tokens,
						       b->n_tokens) &&
	       a->sessions == b->sessions && str_eq(a->pin_file, b->pin_file) &&
	       str_eq(a->pin_env, b->pin_env);
}

static bool fetcher_eq(const struct cfg_verify *a, const struct cfg_verify *b)
{
	const struct cfg_cache *x = &a->cache, *y = &b->cache;
	return str_eq(a->trust, b->trust) &&
	       strv_eq(a->crl_urls, a->n_crl_urls, b->crl_urls, b->n_crl_urls) &&
	       strv_eq(a->allow_hosts, a->n_allow_hosts, b->allow_hosts, b->n_allow_hosts) &&
	       strv_eq(a->deny_hosts, a->n_deny_hosts, b->deny_hosts, b->n_deny_hosts) &&
	       a->fetch_timeout_ms == b->fetch_timeout_ms && x->max_entries == y->max_entries &&
	       x->max_bytes == y->max_bytes && x->ttl_floor_s == y->ttl_floor_s &&
	       x->ttl_ceiling_s == y->ttl_ceiling_s && x->ttl_default_s == y->ttl_default_s &&
	       x->neg_ttl_min_s == y->neg_ttl_min_s && x->neg_ttl_max_s == y->neg_ttl_max_s;
}

int dp_ops_restart_diff(const struct cfg *a, const struct cfg *b, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return -ENOSPC;
	buf[0] = '\0';
	const char *names[8];
	int n = 0;
	if (!strv_eq(a->eal, a->n_eal, b->eal, b->n_eal))
		names[n++] = "eal";
	if (!ports_eq(a, b))
		names[n++] = "ports";
	if (!listeners_eq(a, b))
		names[n++] = "listeners";
	if (!hsm_eq(&a->hsm, &b->hsm))
		names[n++] = "hsm";
	if (!fetcher_eq(&a->verify, &b->verify))
		names[n++] = "verify";
	if (!str_eq(a->prometheus, b->prometheus))
		names[n++] = "telemetry";
	if (!str_eq(a->control_socket, b->control_socket))
		names[n++] = "control";
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		int k = snprintf(buf + o, cap - o, "%s\"%s\"", i ? "," : "", names[i]);
		if (k < 0 || (size_t)k >= cap - o) {
			buf[o] = '\0';
			return -ENOSPC;
		}
		o += (size_t)k;
	}
	return n;
}

/* ---- reload ---- */

static void set_error(struct dp_ops *o, const char *msg)
{
	snprintf(o->last_err, sizeof(o->last_err), "%s", msg);
	fprintf(stderr, "shakend: reload refused: %s\n", msg);
}

/* Appends a JSON fragment; false when it did not fit. */
static bool app(char *buf, size_t cap, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool app(char *buf, size_t cap, size_t *o, const char *fmt, ...)
{
	if (*o >= cap)
		return false;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *o, cap - *o, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= cap - *o) {
		buf[*o] = '\0';
		return false;
	}
	*o += (size_t)k;
	return true;
}

static bool app_str(char *buf, size_t cap, size_t *o, const char *s)
{
	long n = dp_ops_json_str(buf + *o, cap - *o, s);
	if (n < 0) {
		buf[*o] = '\0';
		return false;
	}
	*o += (size_t)n;
	return true;
}

static long reload(struct dp_ops *o, char *reply, size_t cap)
{
	char err[ERR_MAX], diff[256];
	size_t w = 0;
	pthread_mutex_lock(&o->lock);
	struct cfg *next = NULL;
	int rc = cfg_load_file(o->cfg.config_path, &next, err, sizeof(err));
	if (rc)
		goto fail;
	int nd = dp_ops_restart_diff(o->cur, next, diff, sizeof(diff));
	if (nd < 0)
		diff[0] = '\0';
	bool temp = !tl_qsbr;
	if (temp)
		pol_thread_register();
	else
		pol_thread_online();
	rc = 0;
	if (o->cfg.hooks.prepare)
		rc = o->cfg.hooks.prepare(o->cfg.hooks.arg, o->cur, next, err, sizeof(err));
	struct pol_snapshot *snap = NULL;
	if (rc == 0)
		rc = pol_snapshot_load(next, pol_current(), &snap, err, sizeof(err));
	uint64_t gen = 0;
	if (rc == 0) {
		gen = pol_publish(snap);
		atomic_store(&o->generation, gen);
		if (o->cfg.hooks.applied)
			o->cfg.hooks.applied(o->cfg.hooks.arg, next, gen);
	}
	if (temp)
		pol_thread_unregister();
	else
		pol_thread_offline();
	if (rc)
		goto fail;
	bool trust = false;
	int trc = 0;
	if (o->cfg.fetch && next->verify.trust) {
		trc = fetch_trust_reload(o->cfg.fetch);
		trust = trc == 0;
		if (trc)
			fprintf(stderr, "shakend: reload: trust store %s: %s (the previous store "
					"stays)\n", next->verify.trust, strerror(-trc));
	}
	/* the new cfg is in force; the previous reloaded one goes */
	cfg_free(o->owned);
	o->owned = next;
	o->cur = next;
	o->last_err[0] = '\0';
	atomic_fetch_add(&o->reloads_ok, 1);
	atomic_store(&o->last_reload_unix, (int64_t)time(NULL));
	fprintf(stderr, "shakend: configuration reloaded (generation %llu)%s%s\n",
		(unsigned long long)gen, nd > 0 ? "; needs a restart: " : "", nd > 0 ? diff : "");
	pthread_mutex_unlock(&o->lock);
	app(reply, cap, &w, "{\"ok\":true,\"cmd\":\"reload\",\"generation\":%llu,"
			    "\"trust_reloaded\":%s,", (unsigned long long)gen,
	    trust ? "true" : "false");
	if (trc) {
		app(reply, cap, &w, "\"trust_error\":");
		app_str(reply, cap, &w, strerror(-trc));
		app(reply, cap, &w, ",");
	}
	app(reply, cap, &w, "\"restart_needed\":[%s]}", diff);
	return (long)w;
fail:
	cfg_free(next);
	set_error(o, err);
	atomic_fetch_add(&o->reloads_failed, 1);
	pthread_mutex_unlock(&o->lock);
	w = 0;
	app(reply, cap, &w, "{\"ok\":false,\"cmd\":\"reload\",\"generation\":%llu,\"error\":",
	    (unsigned long long)atomic_load(&o->generation));
	if (!app_str(reply, cap, &w, err) || !app(reply, cap, &w, "}")) {
		w = 0;
		app(reply, cap, &w, "{\"ok\":false,\"cmd\":\"reload\",\"error\":\"(long)\"}");
	}
	return (long)w;
}

static long reply_error(char *reply, size_t cap, const char *msg)
{
	size_t w = 0;
	app(reply, cap, &w, "{\"ok\":false,\"error\":");
	if (!app_str(reply, cap, &w, msg) || !app(reply, cap, &w, "}")) {
		w = 0;
		app(reply, cap, &w, "{\"ok\":false,\"error\":\"(long)\"}");
	}
	return (long)w;
}

long dp_ops_handle(struct dp_ops *o, const char *line, size_t len, char *reply, size_t cap)
{
	if (!o || !reply || cap < 64)
		return -EINVAL;
	atomic_fetch_add(&o->requests, 1);
	struct dp_ops_req req;
	char err[256];
	if (dp_ops_req_parse(line, len, &req, err, sizeof(err))) {
		atomic_fetch_add(&o->bad_requests, 1);
		return reply_error(reply, cap, err);
	}
	size_t w = 0;
	switch (req.cmd) {
	case DP_OPS_RELOAD:
		return reload(o, reply, cap);
	case DP_OPS_VERSION:
		app(reply, cap, &w, "{\"ok\":true,\"cmd\":\"version\",\"version\":\"%s\","
				    "\"generation\":%llu}", SHAKEND_VERSION,
		    (unsigned long long)atomic_load(&o->generation));
		return (long)w;
	case DP_OPS_STATS:
	case DP_OPS_CACHE_STATS: {
		bool ok = app(reply, cap, &w, "{\"ok\":true,\"cmd\":\"%s\"",
			      dp_ops_cmd_name(req.cmd));
		if (req.cmd == DP_OPS_STATS) {
			char le[ERR_MAX];
			dp_ops_last_error(o, le, sizeof(le));
			ok = ok && app(reply, cap, &w, ",\"generation\":%llu,\"reloads\":%llu,"
						       "\"reload_errors\":%llu,\"last_error\":",
				       (unsigned long long)atomic_load(&o->generation),
				       (unsigned long long)atomic_load(&o->reloads_ok),
				       (unsigned long long)atomic_load(&o->reloads_failed));
			ok = ok && app_str(reply, cap, &w, le);
		}
		if (ok && o->cfg.hooks.stats) {
			ok = app(reply, cap, &w, ",\"counters\":");
			long n = ok ? o->cfg.hooks.stats(o->cfg.hooks.arg, req.cmd, reply + w,
							 cap - w - 1) : -ENOSPC;
			if (n < 0) {
				reply[w] = '\0';
				ok = false;
			} else {
				w += (size_t)n;
			}
		}
		if (!ok || !app(reply, cap, &w, "}"))
			return reply_error(reply, cap, "reply too large");
		return (long)w;
	}
	default:
		return reply_error(reply, cap, "unknown command");
	}
}

void dp_ops_stats(const struct dp_ops *o, struct dp_ops_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!o)
		return;
	out->generation = atomic_load(&o->generation);
	out->reloads_ok = atomic_load(&o->reloads_ok);
	out->reloads_failed = atomic_load(&o->reloads_failed);
	out->requests = atomic_load(&o->requests);
	out->bad_requests = atomic_load(&o->bad_requests);
	out->last_reload_unix = atomic_load(&o->last_reload_unix);
}

void dp_ops_last_error(struct dp_ops *o, char *buf, size_t cap)
{
	if (!cap)
		return;
	buf[0] = '\0';
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	snprintf(buf, cap, "%s", o->last_err);
	pthread_mutex_unlock(&o->lock);
}

/* ---- signals ---- */

static void wake(void)
{
	int fd = atomic_load(&g_wake_fd);
	if (fd >= 0) {
		uint64_t one = 1;
		ssize_t r = write(fd, &one, sizeof(one));
		(void)r;
	}
}

void dp_ops_request_reload(void)
{
	atomic_store(&g_reload_req, true);
	wake();
}

static void on_sighup(int sig)
{
	(void)sig;
	int e = errno;
	dp_ops_request_reload();
	errno = e;
}

/* ---- the socket ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int make_dirs(const char *path)
{
	char d[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(d, sizeof(d), "%s", path);
	for (char *p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(d, 0750) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int open_socket(struct dp_ops *o, const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int rc = make_dirs(path);
	if (rc)
		return rc;
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);   /* a stale socket of a previous run */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc || listen(fd, DP_OPS_CLIENTS_MAX)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	o->lfd = fd;
	snprintf(o->sock_path, sizeof(o->sock_path), "%s", path);
	return 0;
}

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Writes the whole reply and a newline (blocking with the socket's send timeout). */
static bool client_send(struct client *c, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		s += k;
		n -= (size_t)k;
	}
	return true;
}

static void client_read(struct dp_ops *o, struct client *c)
{
	ssize_t k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (k < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (k <= 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)k;
	c->last_ms = now_ms();
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl) {
			if (c->len > DP_OPS_REQ_MAX) {
				long n = reply_error(o->reply, sizeof(o->reply) - 1,
						     "request too long");
				atomic_fetch_add(&o->bad_requests, 1);
				o->reply[n] = '\n';
				(void)client_send(c, o->reply, (size_t)n + 1);
				client_close(c);
			}
			return;
		}
		size_t ll = (size_t)(nl - c->buf);
		long n = dp_ops_handle(o, c->buf, ll, o->reply, sizeof(o->reply) - 1);
		if (n < 0) {
			client_close(c);
			return;
		}
		o->reply[n] = '\n';
		if (!client_send(c, o->reply, (size_t)n + 1)) {
			client_close(c);
			return;
		}
		memmove(c->buf, nl + 1, c->len - ll - 1);
		c->len -= ll + 1;
	}
}

static void accept_one(struct dp_ops *o)
{
	int fd = accept4(o->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (unsigned i = 0; i < DP_OPS_CLIENTS_MAX; i++) {
		struct client *c = &o->clients[i];
		if (c->fd >= 0)
			continue;
		struct timeval tv = {.tv_sec = 2};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		c->fd = fd;
		c->len = 0;
		c->last_ms = now_ms();
		return;
	}
	static const char busy[] = "{\"ok\":false,\"error\":\"too many connections\"}\n";
	ssize_t r = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)r;
	close(fd);
}

static void *ops_main(void *arg)
{
	struct dp_ops *o = arg;
	pol_thread_register();
	tl_qsbr = true;
	pol_thread_offline();
	while (!atomic_load(&o->stop)) {
		struct pollfd pf[2 + DP_OPS_CLIENTS_MAX];
		unsigned n = 0;
		int wfd = atomic_load(&g_wake_fd);
		pf[n++] = (struct pollfd){.fd = wfd, .events = POLLIN};
		pf[n++] = (struct pollfd){.fd = o->lfd, .events = POLLIN};
		for (unsigned i = 0; i < DP_OPS_CLIENTS_MAX; i++)
			pf[n++] = (struct pollfd){.fd = o->clients[i].fd, .events = POLLIN};
		int r = poll(pf, n, 200);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && (pf[0].revents & POLLIN)) {
			uint64_t v;
			ssize_t k = read(wfd, &v, sizeof(v));
			(void)k;
		}
		if (atomic_exchange(&g_reload_req, false)) {
			long k = dp_ops_handle(o, "{\"cmd\":\"reload\"}", 16, o->reply,
					       sizeof(o->reply));
			(void)k;  /* the outcome is logged by reload() */
		}
		if (r > 0 && o->lfd >= 0 && (pf[1].revents & POLLIN))
			accept_one(o);
		uint64_t t = now_ms();
		for (unsigned i = 0; i < DP_OPS_CLIENTS_MAX; i++) {
			struct client *c = &o->clients[i];
			if (c->fd < 0)
				continue;
			if (r > 0 && pf[2 + i].fd == c->fd && pf[2 + i].revents)
				client_read(o, c);
			else if (t - c->last_ms > IDLE_MS)
				client_close(c);
		}
	}
	pol_thread_online();
	tl_qsbr = false;
	pol_thread_unregister();
	return NULL;
}

int dp_ops_start(const struct dp_ops_cfg *cfg, struct dp_ops **out)
{
	if (!cfg || !out || !cfg->config_path || !cfg->cfg)
		return -EINVAL;
	struct dp_ops *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->cfg = *cfg;
	o->cur = cfg->cfg;
	o->lfd = -1;
	atomic_init(&o->generation, cfg->generation);
	for (unsigned i = 0; i < DP_OPS_CLIENTS_MAX; i++)
		o->clients[i].fd = -1;
	pthread_mutex_init(&o->lock, NULL);
	int rc = 0;
	if (atomic_load(&g_wake_fd) < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0) {
			rc = -errno;
			goto fail;
		}
		atomic_store(&g_wake_fd, fd);
	}
	if (cfg->socket_path && (rc = open_socket(o, cfg->socket_path)))
		goto fail;
	rc = -pthread_create(&o->thread, NULL, ops_main, o);
	if (rc)
		goto fail;
	pthread_setname_np(o->thread, "shakend-ctl");
	o->running = true;
	if (cfg->sighup) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sighup;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGHUP, &sa, NULL);
	}
	*out = o;
	return 0;
fail:
	dp_ops_stop(o);
	return rc;
}

void dp_ops_stop(struct dp_ops *o)
{
	if (!o)
		return;
	if (o->cfg.sighup)
		signal(SIGHUP, SIG_IGN);
	if (o->running) {
		atomic_store(&o->stop, true);
		wake();
		pthread_join(o->thread, NULL);
	}
	for (unsigned i = 0; i < DP_OPS_CLIENTS_MAX; i++)
		if (o->clients[i].fd >= 0)
			client_close(&o->clients[i]);
	if (o->lfd >= 0) {
		close(o->lfd);
		unlink(o->sock_path);
	}
	cfg_free(o->owned);
	pthread_mutex_destroy(&o->lock);
	free(o);
}
