/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The outcome log: per-lcore rings of fixed-size events (lcores produce, never wait), one
 * logger thread that formats key=value lines under a token bucket. See dp_log.h.
 */
#include "dataplane/dp_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_log.h>

#include "crypto/verify.h"
#include "dataplane/dp_metrics.h"
#include "dataplane/dp_pipe.h"
#include "dataplane/net/net.h"
#include "dataplane/sip/sip.h"
#include "hsm/ring.h"

RTE_LOG_REGISTER(dp_logtype_dp, shakend.dp, NOTICE);
RTE_LOG_REGISTER(dp_logtype_hsm, shakend.hsm, NOTICE);

#define DRAIN_BURST 32

/* Written by its lcore only, read by others (relaxed). */
struct lcore_ctr {
	_Atomic uint64_t queued;
	_Atomic uint64_t ring_drop;
} __rte_cache_aligned;

struct dp_log {
	struct dp_log_cfg cfg;
	struct hsm_ring *rings[DP_LOG_LCORES_MAX];
	struct lcore_ctr ctr[DP_LOG_LCORES_MAX];
	_Atomic uint32_t rate;
	_Atomic unsigned level;
	_Atomic uint64_t lines;
	_Atomic uint64_t suppressed;
	/* logger thread only */
	double tokens;
	uint64_t last_ns;
	uint64_t pending_suppressed;   /* not yet reported in a summary line */
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t drain_lock;    /* dp_log_drain from a test and the thread */
};

static _Atomic(struct dp_log *) g_log;

static const char *const kind_names[DP_LOG_KIND_COUNT] = {
	[DP_LOG_UNSIGNED] = "unsigned",
	[DP_LOG_VERIFY] = "verify",
	[DP_LOG_REJECTED] = "rejected",
	[DP_LOG_DROP] = "drop",
};

const char *dp_log_kind_name(enum dp_log_kind k)
{
	return (unsigned)k < DP_LOG_KIND_COUNT ? kind_names[k] : "";
}

int dp_log_create(const struct dp_log_cfg *cfg, struct dp_log **out)
{
	if (!cfg || !out || cfg->n_lcores == 0 || cfg->n_lcores > DP_LOG_LCORES_MAX ||
	    cfg->ring_size > 65536)
		return -EINVAL;
	struct dp_log *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	if (!l->cfg.ring_size)
		l->cfg.ring_size = DP_LOG_RING_DEFAULT;
	if (!l->cfg.period_ms)
		l->cfg.period_ms = 10;
	pthread_mutex_init(&l->drain_lock, NULL);
	for (unsigned i = 0; i < cfg->n_lcores; i++) {
		if (hsm_ring_create(l->cfg.ring_size, sizeof(struct dp_log_event), &l->rings[i])) {
			dp_log_destroy(l);
			return -ENOMEM;
		}
	}
	atomic_init(&l->rate, cfg->rate_per_s);
	atomic_init(&l->level, cfg->level);
	l->tokens = cfg->rate_per_s;
	*out = l;
	return 0;
}

void dp_log_set_global(struct dp_log *l)
{
	atomic_store_explicit(&g_log, l, memory_order_release);
}

struct dp_log *dp_log_global(void)
{
	return atomic_load_explicit(&g_log, memory_order_acquire);
}

void dp_log_set_rate(struct dp_log *l, uint32_t rate_per_s)
{
	if (l)
		atomic_store_explicit(&l->rate, rate_per_s, memory_order_relaxed);
}

void dp_log_set_level(struct dp_log *l, unsigned level)
{
	if (l)
		atomic_store_explicit(&l->level, level, memory_order_relaxed);
}

bool dp_log_wants(unsigned level)
{
	struct dp_log *l = dp_log_global();
	return l && level <= atomic_load_explicit(&l->level, memory_order_relaxed);
}

static inline void ctr_inc(_Atomic uint64_t *c)
{
	/* single writer: a relaxed load and store, no locked instruction */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

bool dp_log_emit_to(struct dp_log *l, const struct dp_log_event *ev)
{
	if (!l || !ev || ev->lcore >= l->cfg.n_lcores)
		return false;
	if (ev->level > atomic_load_explicit(&l->level, memory_order_relaxed))
		return false;
	struct lcore_ctr *c = &l->ctr[ev->lcore];
	if (hsm_ring_enqueue_burst(l->rings[ev->lcore], ev, 1) != 1) {
		ctr_inc(&c->ring_drop);
		return false;
	}
	ctr_inc(&c->queued);
	return true;
}

bool dp_log_emit(const struct dp_log_event *ev)
{
	return dp_log_emit_to(dp_log_global(), ev);
}

static void copy_prefix(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void dp_log_sip(unsigned lcore, enum dp_log_kind kind, unsigned level, unsigned reason,
		unsigned code, unsigned verstat, const char *detail, const struct net_flow *flow,
		const struct sip_msg *m, const char *x5u)
{
	struct dp_log *l = dp_log_global();
	if (!l || level > atomic_load_explicit(&l->level, memory_order_relaxed) ||
	    lcore >= l->cfg.n_lcores)
		return;
	struct dp_log_event ev;
	memset(&ev, 0, sizeof(ev));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);  /* vDSO: no system call */
	ev.ts_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	ev.lcore = (uint16_t)lcore;
	ev.kind = (uint8_t)kind;
	ev.level = (uint8_t)level;
	ev.reason = (uint16_t)reason;
	ev.code = (uint16_t)code;
	ev.verstat = (uint8_t)verstat;
	ev.detail = detail;
	if (flow) {
		ev.src_family = flow->family;
		memcpy(ev.src, flow->src, sizeof(ev.src));
		ev.vlan = net_l2_vid(&flow->l2);
	}
	if (m) {
		if (sip_calling_tn(m, ev.calling) < 0)
			ev.calling[0] = '\0';
		if (sip_called_tn(m, ev.called) < 0)
			ev.called[0] = '\0';
		const struct sip_hdr *h = sip_hdr_first(m, SIP_HDR_CALL_ID);
		if (h)
			copy_prefix(ev.call_id, sizeof(ev.call_id), h->value.p, h->value.len);
	}
	if (x5u)
		copy_prefix(ev.x5u, sizeof(ev.x5u), x5u, strnlen(x5u, sizeof(ev.x5u)));
	(void)dp_log_emit_to(l, &ev);
}

/* ---- formatting ---- */

struct wbuf {
	char *p;
	size_t cap, len;   /* len < cap always; truncation silently stops */
};

static void w_raw(struct wbuf *w, const char *s, size_t n)
{
	size_t room = w->cap - 1 - w->len;
	if (n > room)
		n = room;
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void w_str(struct wbuf *w, const char *s)
{
	w_raw(w, s, strlen(s));
}

/* " key=value", quoted when value has a space, a quote, '=' or is empty. */
static void w_kv(struct wbuf *w, const char *key, const char *v, size_t n)
{
	bool quote = n == 0;
	for (size_t i = 0; i < n && !quote; i++) {
		unsigned char c = (unsigned char)v[i];
		quote = c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f;
	}
	w_raw(w, " ", 1);
	w_str(w, key);
	w_raw(w, "=", 1);
	if (!quote) {
		w_raw(w, v, n);
		return;
	}
	w_raw(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			w_raw(w, e, 2);
		} else if (c < ' ' || c >= 0x7f) {
			w_raw(w, "?", 1);   /* no control or non-ASCII bytes in a log line */
		} else {
			w_raw(w, (const char *)&c, 1);
		}
	}
	w_raw(w, "\"", 1);
}

static void w_kvs(struct wbuf *w, const char *key, const char *v)
{
	w_kv(w, key, v, strlen(v));
}

static void w_kvu(struct wbuf *w, const char *key, unsigned long long v)
{
	char n[24];
	snprintf(n, sizeof(n), "%llu", v);
	w_kvs(w, key, n);
}

static const char *reason_name(const struct dp_log_event *ev)
{
	switch (ev->kind) {
	case DP_LOG_UNSIGNED:
		return dp_unsigned_name((enum dp_unsigned)ev->reason);
	case DP_LOG_VERIFY:
	case DP_LOG_REJECTED:
		return dp_metrics_check_name((enum pp_check)ev->reason);
	case DP_LOG_DROP:
		return dp_drop_name((enum dp_drop)ev->reason);
	default:
		return "";
	}
}

long dp_log_format(const struct dp_log_event *ev, char *buf, size_t cap)
{
	if (!ev || !buf || cap == 0)
		return -EINVAL;
	struct wbuf w = {buf, cap, 0};
	buf[0] = '\0';
	char t[40];
	time_t sec = (time_t)(ev->ts_ns / 1000000000u);
	struct tm tm;
	if (gmtime_r(&sec, &tm) && strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(t + 19, sizeof(t) - 19, ".%03uZ",
			 (unsigned)(ev->ts_ns % 1000000000u / 1000000u));
	else
		snprintf(t, sizeof(t), "%llu", (unsigned long long)ev->ts_ns);
	w_str(&w, "ts=");
	w_str(&w, t);
	w_kvu(&w, "lcore", ev->lcore);
	w_kvs(&w, "outcome", dp_log_kind_name((enum dp_log_kind)ev->kind));
	const char *r = reason_name(ev);
	if (r[0])
		w_kvs(&w, "reason", r);
	else
		w_kvu(&w, "reason", ev->reason);
	if (ev->code)
		w_kvu(&w, "code", ev->code);
	if (ev->kind == DP_LOG_VERIFY || ev->kind == DP_LOG_REJECTED)
		w_kvs(&w, "verstat", pp_verstat_str((enum pp_verstat)ev->verstat));
	if (ev->src_family == 4 || ev->src_family == 6) {
		char a[INET6_ADDRSTRLEN];
		if (inet_ntop(ev->src_family == 4 ? AF_INET : AF_INET6, ev->src, a, sizeof(a)))
			w_kvs(&w, "src", a);
		if (ev->vlan)
			w_kvu(&w, "vlan", ev->vlan);
	}
	if (ev->calling[0])
		w_kv(&w, "calling", ev->calling, strnlen(ev->calling, sizeof(ev->calling)));
	if (ev->called[0])
		w_kv(&w, "called", ev->called, strnlen(ev->called, sizeof(ev->called)));
	if (ev->call_id[0])
		w_kv(&w, "call_id", ev->call_id, strnlen(ev->call_id, sizeof(ev->call_id)));
	if (ev->x5u[0])
		w_kv(&w, "x5u", ev->x5u, strnlen(ev->x5u, sizeof(ev->x5u)));
	if (ev->detail && ev->detail[0])
		w_kvs(&w, "detail", ev->detail);
	return (long)w.len;
}

/* ---- the logger ---- */

static void write_line(struct dp_log *l, unsigned level, bool hsm, const char *line)
{
	if (l->cfg.sink) {
		l->cfg.sink(l->cfg.sink_arg, level, line);
		return;
	}
	rte_log(level + 1, hsm ? dp_logtype_hsm : dp_logtype_dp, "%s\n", line);
}

static bool take_token(struct dp_log *l)
{
	if (l->tokens >= 1.0) {
		l->tokens -= 1.0;
		return true;
	}
	return false;
}

static void refill(struct dp_log *l, uint64_t now_ns)
{
	double rate = atomic_load_explicit(&l->rate, memory_order_relaxed);
	if (l->last_ns && now_ns > l->last_ns)
		l->tokens += (double)(now_ns - l->last_ns) * rate / 1e9;
	l->last_ns = now_ns;
	double burst = rate < 1 ? 1 : rate;   /* at most one second of lines at once */
	if (rate == 0)
		l->tokens = 0;
	else if (l->tokens > burst)
		l->tokens = burst;
}

static bool hsm_reason(const struct dp_log_event *ev)
{
	return ev->kind == DP_LOG_UNSIGNED &&
	       (ev->reason == DP_UNS_NO_HSM || ev->reason == DP_UNS_BACKPRESSURE ||
		ev->reason == DP_UNS_TIMEOUT || ev->reason == DP_UNS_HSM_ERROR);
}

unsigned dp_log_drain(struct dp_log *l, uint64_t now_ns)
{
	if (!l)
		return 0;
	pthread_mutex_lock(&l->drain_lock);
	refill(l, now_ns);
	unsigned total = 0;
	char line[DP_LOG_LINE_MAX];
	if (l->pending_suppressed && take_token(l)) {
		snprintf(line, sizeof(line), "outcome=suppressed count=%llu",
			 (unsigned long long)l->pending_suppressed);
		write_line(l, DP_LOG_NOTICE, false, line);
		atomic_fetch_add_explicit(&l->lines, 1, memory_order_relaxed);
		l->pending_suppressed = 0;
	}
	struct dp_log_event ev[DRAIN_BURST];
	for (unsigned i = 0; i < l->cfg.n_lcores; i++) {
		unsigned n;
		do {
			n = hsm_ring_dequeue_burst(l->rings[i], ev, DRAIN_BURST);
			total += n;
			for (unsigned k = 0; k < n; k++) {
				if (!take_token(l)) {
					l->pending_suppressed++;
					atomic_fetch_add_explicit(&l->suppressed, 1,
								  memory_order_relaxed);
					continue;
				}
				if (dp_log_format(&ev[k], line, sizeof(line)) < 0)
					continue;
				write_line(l, ev[k].level, hsm_reason(&ev[k]), line);
				atomic_fetch_add_explicit(&l->lines, 1, memory_order_relaxed);
			}
		} while (n == DRAIN_BURST);
	}
	pthread_mutex_unlock(&l->drain_lock);
	return total;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *logger_main(void *arg)
{
	struct dp_log *l = arg;
	struct timespec p = {
		.tv_sec = l->cfg.period_ms / 1000,
		.tv_nsec = (long)(l->cfg.period_ms % 1000) * 1000000L,
	};
	while (!atomic_load_explicit(&l->stop, memory_order_acquire)) {
		dp_log_drain(l, mono_ns());
		nanosleep(&p, NULL);
	}
	dp_log_drain(l, mono_ns());
	return NULL;
}

int dp_log_start(struct dp_log *l)
{
	if (!l)
		return -EINVAL;
	if (l->running)
		return -EALREADY;
	atomic_store(&l->stop, false);
	int rc = pthread_create(&l->thread, NULL, logger_main, l);
	if (rc)
		return -rc;
	pthread_setname_np(l->thread, "shakend-log");
	l->running = true;
	return 0;
}

void dp_log_stop(struct dp_log *l)
{
	if (!l)
		return;
	if (!l->running) {
		dp_log_drain(l, mono_ns());
		return;
	}
	atomic_store_explicit(&l->stop, true, memory_order_release);
	pthread_join(l->thread, NULL);
	l->running = false;
}

void dp_log_destroy(struct dp_log *l)
{
	if (!l)
		return;
	if (l->running)
		dp_log_stop(l);
	if (dp_log_global() == l)
		dp_log_set_global(NULL);
	for (unsigned i = 0; i < DP_LOG_LCORES_MAX; i++)
		hsm_ring_destroy(l->rings[i]);
	pthread_mutex_destroy(&l->drain_lock);
	free(l);
}

void dp_log_stats(const struct dp_log *l, struct dp_log_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!l)
		return;
	for (unsigned i = 0; i < l->cfg.n_lcores; i++) {
		out->queued[i] = atomic_load_explicit(&l->ctr[i].queued, memory_order_relaxed);
		out->ring_drop[i] = atomic_load_explicit(&l->ctr[i].ring_drop,
							 memory_order_relaxed);
	}
	out->lines = atomic_load_explicit(&l->lines, memory_order_relaxed);
	out->suppressed = atomic_load_explicit(&l->suppressed, memory_order_relaxed);
}
