/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus endpoint and DPDK telemetry commands. One walk over the counters (walk()) feeds
 * three writers: Prometheus text (per lcore), JSON (sums) and telemetry dictionaries (sums).
 */
#include "dataplane/dp_metrics.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_telemetry.h>

#ifndef SHAKEND_VERSION
#define SHAKEND_VERSION "unknown"
#endif

static const char *const check_names[PP_CHECK_COUNT_] = {
	[PP_CHECK_OK] = "ok", [PP_CHECK_NO_IDENTITY] = "no_identity",
	[PP_CHECK_NO_SHAKEN] = "no_shaken", [PP_CHECK_SYNTAX] = "syntax",
	[PP_CHECK_INFO] = "info", [PP_CHECK_ALG] = "alg", [PP_CHECK_COMPACT] = "compact",
	[PP_CHECK_TOKEN] = "token", [PP_CHECK_TYP] = "typ", [PP_CHECK_PPT] = "ppt",
	[PP_CHECK_X5U] = "x5u", [PP_CHECK_X5U_INFO] = "x5u_info", [PP_CHECK_ATTEST] = "attest",
	[PP_CHECK_ORIGID] = "origid", [PP_CHECK_IAT] = "iat", [PP_CHECK_STALE] = "stale",
	[PP_CHECK_FUTURE] = "future", [PP_CHECK_ORIG] = "orig", [PP_CHECK_DEST] = "dest",
	[PP_CHECK_CERT_FETCH] = "cert_fetch", [PP_CHECK_CERT_INVALID] = "cert_invalid",
	[PP_CHECK_SIGNATURE] = "signature",
};

const char *dp_metrics_check_name(enum pp_check c)
{
	return (unsigned)c < PP_CHECK_COUNT_ && check_names[c] ? check_names[c] : "";
}

static const char *const cache_fail_names[CACHE_FAIL_COUNT] = {
	"none", "url", "fetch", "http", "too_big", "parse", "cert",
};
static const char *const reply_names[5] = {"none", "arp", "icmp", "icmp6", "nd"};
static const char *const verstat_names[3] = {"No-TN-Validation", "TN-Validation-Passed",
					     "TN-Validation-Failed"};
static const char *const code_names[5] = {"403", "428", "436", "437", "438"};

/* ---- the walk ---- */

enum wkind { W_PROM, W_JSON, W_TEL };

struct walk {
	enum wkind kind;
	const struct dp_metrics_snap *s;
	bool per_lcore;          /* W_PROM */
	bool cache_only;
	/* text output */
	char *buf;
	size_t cap, len;
	bool overflow;
	bool first;              /* JSON: no comma yet */
	/* telemetry */
	struct rte_tel_data *d;
	int only_lcore;          /* W_TEL: -1 all (sum) */
};

static void out(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct walk *w, const char *fmt, ...)
{
	if (w->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= w->cap - w->len) {
		w->overflow = true;
		w->buf[w->len] = '\0';
		return;
	}
	w->len += (size_t)k;
}

/* A label value with \, " and newline escaped (Prometheus rules). */
static void out_label(struct walk *w, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			out(w, "\\%c", *v);
		else if (*v == '\n')
			out(w, "\\n");
		else
			out(w, "%c", *v);
	}
}

/* "shakend_sign_unsigned_total" + "timeout" -> "sign_unsigned.timeout" ([a-z0-9_.]); telemetry
 * names take no '.': sep '_' there. */
static void key_of(char *k, size_t cap, const char *name, const char *lval, char sep)
{
	const char *n = name;
	if (!strncmp(n, "shakend_", 8))
		n += 8;
	size_t nl = strlen(n);
	if (nl > 6 && !strcmp(n + nl - 6, "_total"))
		nl -= 6;
	size_t o = 0;
	for (size_t i = 0; i < nl && o + 1 < cap; i++)
		k[o++] = n[i];
	if (lval && o + 1 < cap)
		k[o++] = sep;
	for (const char *v = lval; v && *v && o + 1 < cap; v++) {
		char c = *v;
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a'), ok = true;
		k[o++] = ok ? c : '_';
	}
	k[o] = '\0';
}

static void family(struct walk *w, const char *name, const char *type, const char *help)
{
	if (w->kind == W_PROM)
		out(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: lcore -1 for a process-wide one; lkey NULL without a second label. */
static void sample(struct walk *w, const char *name, int lcore, const char *lkey,
		   const char *lval, uint64_t v)
{
	if (w->kind == W_PROM) {
		out(w, "%s", name);
		if (lcore >= 0 || lkey) {
			out(w, "{");
			if (lcore >= 0)
				out(w, "lcore=\"%d\"%s", lcore, lkey ? "," : "");
			if (lkey) {
				out(w, "%s=\"", lkey);
				out_label(w, lval);
				out(w, "\"");
			}
			out(w, "}");
		}
		out(w, " %llu\n", (unsigned long long)v);
		return;
	}
	char k[128];
	key_of(k, sizeof(k), name, lkey ? lval : NULL, w->kind == W_TEL ? '_' : '.');
	if (w->kind == W_JSON) {
		out(w, "%s\"%s\":%llu", w->first ? "" : ",", k, (unsigned long long)v);
		w->first = false;
		return;
	}
	rte_tel_data_add_dict_u64(w->d, k, v);
}

typedef uint64_t (*get_fn)(const struct dp_metrics_snap *s, unsigned lc, size_t arg);

/* A per-lcore counter: one sample per lcore (Prometheus) or the sum. */
static void per_lcore(struct walk *w, const char *name, const char *lkey, const char *lval,
		      get_fn get, size_t arg)
{
	const struct dp_metrics_snap *s = w->s;
	if (w->kind == W_PROM) {
		for (unsigned i = 0; i < s->n_lcores; i++)
			sample(w, name, (int)i, lkey, lval, get(s, i, arg));
		return;
	}
	uint64_t sum = 0;
	for (unsigned i = 0; i < s->n_lcores; i++)
		if (w->only_lcore < 0 || (unsigned)w->only_lcore == i)
			sum += get(s, i, arg);
	sample(w, name, -1, lkey, lval, sum);
}

static uint64_t get_dp(const struct dp_metrics_snap *s, unsigned lc, size_t off)
{
	return *(const uint64_t *)((const char *)&s->dp[lc] + off);
}

static uint64_t get_pipe(const struct dp_metrics_snap *s, unsigned lc, size_t off)
{
	return *(const uint64_t *)((const char *)&s->pipe[lc] + off);
}

static uint64_t get_parked(const struct dp_metrics_snap *s, unsigned lc, size_t off)
{
	(void)off;
	return s->parked[lc];
}

static uint64_t get_log_q(const struct dp_metrics_snap *s, unsigned lc, size_t off)
{
	(void)off;
	return s->log.queued[lc];
}

static uint64_t get_log_d(const struct dp_metrics_snap *s, unsigned lc, size_t off)
{
	(void)off;
	return s->log.ring_drop[lc];
}

#define DPO(f) offsetof(struct dp_stats, f)
#define PPO(f) offsetof(struct dp_pipe_stats, f)

static void c_dp(struct walk *w, const char *name, const char *help, size_t off)
{
	family(w, name, "counter", help);
	per_lcore(w, name, NULL, NULL, get_dp, off);
}

static void c_pipe(struct walk *w, const char *name, const char *help, size_t off)
{
	family(w, name, "counter", help);
	per_lcore(w, name, NULL, NULL, get_pipe, off);
}

static void walk_dp(struct walk *w)
{
	c_dp(w, "shakend_rx_frames_total", "Frames received.", DPO(rx));
	c_dp(w, "shakend_tx_frames_total", "Frames handed to the TX buffers.", DPO(tx));
	c_dp(w, "shakend_tx_dropped_total", "Frames the PMD refused at drain.", DPO(tx_drop));
	family(w, "shakend_replies_total", "counter", "ARP, ICMP and ND answers by type.");
	for (unsigned i = 1; i < 5; i++)
		per_lcore(w, "shakend_replies_total", "type", reply_names[i], get_dp,
			  DPO(reply) + i * sizeof(uint64_t));
	c_dp(w, "shakend_sip_datagrams_total", "SIP datagrams given to the pipelines.", DPO(sip));
	c_dp(w, "shakend_sip_reassembled_total", "SIP datagrams reassembled from fragments.",
	     DPO(sip_reasm));
	c_dp(w, "shakend_fragments_held_total", "Fragments held for reassembly.", DPO(held));
	c_dp(w, "shakend_transit_forwarded_total", "Transit frames passed on.", DPO(forwarded));
	c_dp(w, "shakend_multiseg_total", "Chained mbufs dropped.", DPO(multiseg));
	c_dp(w, "shakend_nombuf_total", "Mbuf allocation failures on transmit.", DPO(nombuf));
	c_dp(w, "shakend_fragments_out_total", "IPv4 fragments sent.", DPO(frag_out));
	c_dp(w, "shakend_tx_too_big_total", "Datagrams not sent: beyond the MTU.", DPO(too_big));
	c_dp(w, "shakend_reasm_timeouts_total", "Reassembly slots expired.",
	     DPO(reasm_timeout));
	family(w, "shakend_frame_drops_total", "counter", "Frames dropped by the packet layer.");
	for (unsigned i = 1; i < NET_DROP_COUNT; i++)   /* 0: "none" */
		per_lcore(w, "shakend_frame_drops_total", "reason", net_drop_name(i), get_dp,
			  DPO(drop) + i * sizeof(uint64_t));
}

static void walk_pipe(struct walk *w)
{
	c_pipe(w, "shakend_sip_in_total", "SIP datagrams handled by the pipelines.",
	       PPO(sip_in));
	c_pipe(w, "shakend_sip_options_total", "OPTIONS answered 200.", PPO(options));
	c_pipe(w, "shakend_sip_ack_total", "ACKs absorbed.", PPO(ack));
	c_pipe(w, "shakend_sip_answered_total", "Other requests answered (405, 481).",
	       PPO(answered));
	c_pipe(w, "shakend_sip_passthrough_total", "Inline: non-INVITEs forwarded untouched.",
	       PPO(passthrough));
	c_pipe(w, "shakend_sip_sent_total", "Answers and INVITEs sent.", PPO(sent));
	family(w, "shakend_sip_drops_total", "counter", "SIP datagrams dropped by reason.");
	for (unsigned i = 0; i < DP_DROP_COUNT; i++)
		per_lcore(w, "shakend_sip_drops_total", "reason", dp_drop_name(i), get_pipe,
			  PPO(drop) + i * sizeof(uint64_t));
	c_pipe(w, "shakend_sign_requests_total", "INVITEs to sign.", PPO(sign_req));
	c_pipe(w, "shakend_signed_total", "INVITEs sent with an Identity header.",
	       PPO(signed_ok));
	c_pipe(w, "shakend_sign_parked_total", "Sign jobs submitted and parked.",
	       PPO(sign_parked));
	family(w, "shakend_sign_unsigned_total", "counter",
	       "Calls that went on without Identity, by reason.");
	for (unsigned i = 0; i < DP_UNS_COUNT; i++)
		per_lcore(w, "shakend_sign_unsigned_total", "reason", dp_unsigned_name(i),
			  get_pipe, PPO(unsigned_) + i * sizeof(uint64_t));
	c_pipe(w, "shakend_sign_503_total", "Calls answered 503 (trunk policy).", PPO(sign_503));
	c_pipe(w, "shakend_sign_late_total", "HSM completions after their call gave up.",
	       PPO(sign_late));
	c_pipe(w, "shakend_verify_requests_total", "INVITEs to verify.", PPO(verify_req));
	family(w, "shakend_verify_verstat_total", "counter", "Verification outcomes by verstat.");
	for (unsigned i = 0; i < 3; i++)
		per_lcore(w, "shakend_verify_verstat_total", "verstat", verstat_names[i], get_pipe,
			  PPO(verstat) + i * sizeof(uint64_t));
	family(w, "shakend_verify_failures_total", "counter",
	       "Verifications not passed, by RFC 8224 code.");
	for (unsigned i = 0; i < 5; i++)
		per_lcore(w, "shakend_verify_failures_total", "code", code_names[i], get_pipe,
			  PPO(vcode) + i * sizeof(uint64_t));
	family(w, "shakend_verify_checks_total", "counter",
	       "Verification outcomes by the deciding check.");
	for (unsigned i = 0; i < PP_CHECK_COUNT_; i++)
		per_lcore(w, "shakend_verify_checks_total", "check", check_names[i], get_pipe,
			  PPO(vcheck) + i * sizeof(uint64_t));
	c_pipe(w, "shakend_verify_rejected_total", "Verify failures rejected (trunk policy).",
	       PPO(verify_rejected));
	c_pipe(w, "shakend_verify_parked_total", "Calls parked on a certificate fetch.",
	       PPO(verify_parked));
	c_pipe(w, "shakend_verify_woken_total", "Wakes received for parked calls.",
	       PPO(verify_woken));
	c_pipe(w, "shakend_verify_park_timeouts_total", "Parked calls timed out (436).",
	       PPO(park_timeout));
	c_pipe(w, "shakend_verify_park_full_total", "Calls without a park slot (436).",
	       PPO(park_full));
	family(w, "shakend_parked_calls", "gauge", "Calls parked now (sign and verify).");
	per_lcore(w, "shakend_parked_calls", NULL, NULL, get_parked, 0);
}

static void g1(struct walk *w, const char *name, const char *type, const char *help,
	       uint64_t v)
{
	family(w, name, type, help);
	sample(w, name, -1, NULL, NULL, v);
}

static void walk_cache(struct walk *w)
{
	const struct cache_stats *c = &w->s->cache;
	g1(w, "shakend_cache_entries", "gauge", "Certificate cache entries (valid + negative).",
	   c->entries);
	g1(w, "shakend_cache_negative_entries", "gauge", "Negative cache entries.",
	   c->negative_entries);
	g1(w, "shakend_cache_bytes", "gauge", "Certificate cache bytes.", c->bytes);
	g1(w, "shakend_cache_flights", "gauge", "Certificate fetches in flight.", c->flights);
	family(w, "shakend_cache_lookups_total", "counter", "Cache look-ups by result.");
	sample(w, "shakend_cache_lookups_total", -1, "result", "hit", c->hits);
	sample(w, "shakend_cache_lookups_total", -1, "result", "hit_negative", c->hits_negative);
	sample(w, "shakend_cache_lookups_total", -1, "result", "miss", c->misses);
	g1(w, "shakend_cache_claims_total", "counter", "Misses that claimed a fetch.", c->claims);
	g1(w, "shakend_cache_refresh_claims_total", "counter", "Hits that claimed a refresh.",
	   c->refresh_claims);
	g1(w, "shakend_cache_busy_total", "counter", "Look-ups refused: flight pool exhausted.",
	   c->busy);
	g1(w, "shakend_cache_waits_total", "counter", "Waiters registered.", c->waits);
	g1(w, "shakend_cache_waits_full_total", "counter", "Waiters refused.", c->waits_full);
	g1(w, "shakend_cache_wakes_total", "counter", "Wakes delivered.", c->wakes);
	g1(w, "shakend_cache_wakes_dropped_total", "counter", "Wakes lost to a full ring.",
	   c->wake_dropped);
	family(w, "shakend_cache_publishes_total", "counter", "Entries published by kind.");
	sample(w, "shakend_cache_publishes_total", -1, "kind", "valid", c->publishes);
	sample(w, "shakend_cache_publishes_total", -1, "kind", "negative",
	       c->publishes_negative);
	g1(w, "shakend_cache_evictions_total", "counter", "Entries evicted for space.",
	   c->evictions);
	g1(w, "shakend_cache_expirations_total", "counter", "Entries expired.", c->expirations);
	g1(w, "shakend_cache_flights_cancelled_total", "counter", "Fetch claims cancelled.",
	   c->flights_cancelled);
	family(w, "shakend_cache_errors_total", "counter", "Negative publishes by kind.");
	for (unsigned i = 1; i < CACHE_FAIL_COUNT; i++)
		sample(w, "shakend_cache_errors_total", -1, "kind", cache_fail_names[i],
		       c->errors[i]);
}

static void walk_fetch(struct walk *w)
{
	const struct fetch_stats *f = &w->s->fetch;
	g1(w, "shakend_fetch_submitted_total", "counter", "Fetch requests queued.", f->submitted);
	g1(w, "shakend_fetch_ring_full_total", "counter", "Fetch requests refused: ring full.",
	   f->ring_full);
	g1(w, "shakend_fetch_transfers_total", "counter", "Certificate transfers started.",
	   f->fetches);
	g1(w, "shakend_fetch_ok_total", "counter", "Certificate bodies received.", f->fetch_ok);
	family(w, "shakend_fetch_errors_total", "counter", "Failed transfers by kind.");
	for (unsigned i = 1; i < X5U_KIND_COUNT_; i++)
		sample(w, "shakend_fetch_errors_total", -1, "kind", x5u_kind_str(i),
		       f->fetch_err[i]);
	g1(w, "shakend_fetch_redirects_total", "counter", "Redirects followed.", f->redirects);
	g1(w, "shakend_fetch_parse_errors_total", "counter", "Bodies without a chain.",
	   f->parse_err);
	g1(w, "shakend_fetch_cert_invalid_total", "counter", "Chains failing an STI check.",
	   f->cert_invalid);
	g1(w, "shakend_fetch_crl_total", "counter", "CRL fetches.", f->crl_fetches);
	g1(w, "shakend_fetch_crl_errors_total", "counter", "CRL fetches or parses failed.",
	   f->crl_err);
	g1(w, "shakend_fetch_revoked_swept_total", "counter", "Entries invalidated by a CRL.",
	   f->revoked_swept);
	g1(w, "shakend_trust_store_generation", "gauge", "Trust stores published.",
	   f->store_generation);
	g1(w, "shakend_trust_store_errors_total", "counter", "Trust store rebuilds failed.",
	   f->store_err);
	g1(w, "shakend_fetch_inflight", "gauge", "Transfers in flight.", f->inflight);
}

static void walk_hsm(struct walk *w)
{
	const struct hsm_stats *h = &w->s->hsm;
	g1(w, "shakend_hsm_submitted_total", "counter", "HSM jobs accepted.", h->submitted);
	family(w, "shakend_hsm_jobs_total", "counter", "HSM jobs completed by outcome.");
	sample(w, "shakend_hsm_jobs_total", -1, "outcome", "signed", h->signed_ok);
	sample(w, "shakend_hsm_jobs_total", -1, "outcome", "timed_out", h->timed_out);
	sample(w, "shakend_hsm_jobs_total", -1, "outcome", "failed", h->failed);
	g1(w, "shakend_hsm_retries_total", "counter", "Sign attempts after the first.",
	   h->retries);
	g1(w, "shakend_hsm_session_reopens_total", "counter", "PKCS#11 sessions reopened.",
	   h->session_reopens);
	g1(w, "shakend_hsm_token_downs_total", "counter", "Tokens taken out of service.",
	   h->token_downs);
	g1(w, "shakend_hsm_token_ups_total", "counter", "Tokens brought into service.",
	   h->token_ups);
	g1(w, "shakend_hsm_abandoned_total", "counter", "C_Sign calls given up.", h->abandoned);
}

static void walk_rest(struct walk *w)
{
	const struct dp_metrics_snap *s = w->s;
	if (s->have_log) {
		family(w, "shakend_log_events_total", "counter", "Outcome events queued.");
		per_lcore(w, "shakend_log_events_total", NULL, NULL, get_log_q, 0);
		family(w, "shakend_log_ring_dropped_total", "counter",
		       "Outcome events lost to a full ring.");
		per_lcore(w, "shakend_log_ring_dropped_total", NULL, NULL, get_log_d, 0);
		g1(w, "shakend_log_lines_total", "counter", "Outcome log lines written.",
		   s->log.lines);
		g1(w, "shakend_log_suppressed_total", "counter",
		   "Outcome log lines suppressed by the rate limit.", s->log.suppressed);
	}
	if (s->have_ops) {
		g1(w, "shakend_config_generation", "gauge", "Policy snapshot in force.",
		   s->ops.generation);
		family(w, "shakend_config_reloads_total", "counter", "Reloads by result.");
		sample(w, "shakend_config_reloads_total", -1, "result", "ok", s->ops.reloads_ok);
		sample(w, "shakend_config_reloads_total", -1, "result", "error",
		       s->ops.reloads_failed);
		g1(w, "shakend_config_last_reload_timestamp_seconds", "gauge",
		   "Time of the last successful reload.", (uint64_t)s->ops.last_reload_unix);
		g1(w, "shakend_control_requests_total", "counter", "Control socket requests.",
		   s->ops.requests);
		g1(w, "shakend_control_bad_requests_total", "counter",
		   "Control socket requests refused.", s->ops.bad_requests);
	}
}

static void walk_all(struct walk *w)
{
	const struct dp_metrics_snap *s = w->s;
	if (w->kind == W_PROM) {
		out(w, "# HELP shakend_build_info Version.\n# TYPE shakend_build_info gauge\n"
		       "shakend_build_info{version=\"%s\"} 1\n", SHAKEND_VERSION);
	}
	if (!w->cache_only) {
		g1(w, "shakend_lcores", "gauge", "Dataplane lcores.", s->n_lcores);
		walk_dp(w);
		if (s->have_pipe)
			walk_pipe(w);
	}
	if (s->have_cache)
		walk_cache(w);
	if (s->have_fetch)
		walk_fetch(w);
	if (!w->cache_only) {
		if (s->have_hsm)
			walk_hsm(w);
		walk_rest(w);
	}
}

long dp_metrics_prometheus(const struct dp_metrics_snap *s, char *buf, size_t cap)
{
	if (!s || !buf || cap == 0)
		return -EINVAL;
	struct walk w = {.kind = W_PROM, .s = s, .buf = buf, .cap = cap, .only_lcore = -1};
	buf[0] = '\0';
	walk_all(&w);
	return w.overflow ? -ENOSPC : (long)w.len;
}

long dp_metrics_json(const struct dp_metrics_snap *s, bool cache_only, char *buf, size_t cap)
{
	if (!s || !buf || cap == 0)
		return -EINVAL;
	struct walk w = {.kind = W_JSON, .s = s, .buf = buf, .cap = cap, .first = true,
			 .cache_only = cache_only, .only_lcore = -1};
	buf[0] = '\0';
	out(&w, "{");
	walk_all(&w);
	out(&w, "}");
	return w.overflow ? -ENOSPC : (long)w.len;
}

/* ---- collection ---- */

void dp_metrics_collect(const struct dp_metrics_src *src, struct dp_metrics_snap *s)
{
	memset(s, 0, sizeof(*s));
	const struct dp *dp = src->dp;
	if (dp) {
		s->n_lcores = dp->n_lcores < DP_MAX_LCORES ? dp->n_lcores : DP_MAX_LCORES;
		for (unsigned i = 0; i < s->n_lcores; i++) {
			const struct dp_lcore *lc = dp->lcores[i];
			if (!lc)
				continue;
			s->lcore_id[i] = lc->lcore_id;
			s->dp[i] = lc->stats;
			if (src->pipe)
				s->parked[i] = dp_pipe_parked(lc);
		}
	}
	if (src->pipe) {
		s->have_pipe = true;
		for (unsigned i = 0; i < s->n_lcores; i++)
			s->pipe[i] = src->pipe->stats[i];
	}
	if (src->cache) {
		s->have_cache = true;
		cache_stats(src->cache, &s->cache);
	}
	if (src->fetch) {
		s->have_fetch = true;
		fetch_stats(src->fetch, &s->fetch);
	}
	if (src->hsm) {
		s->have_hsm = true;
		hsm_engine_stats(src->hsm, &s->hsm);
	}
	if (src->log) {
		s->have_log = true;
		dp_log_stats(src->log, &s->log);
	}
	if (src->ops) {
		s->have_ops = true;
		dp_ops_stats(src->ops, &s->ops);
	}
}

/* ---- HTTP ---- */

int dp_metrics_http_parse(const char *buf, size_t len, bool *head)
{
	if (head)
		*head = false;
	if (!buf)
		return 400;
	/* the end of the head: a blank line */
	size_t end = 0;
	for (size_t i = 0; i < len && !end; i++) {
		if (buf[i] != '\n')
			continue;
		if (i >= 1 && buf[i - 1] == '\n')
			end = i + 1;
		else if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
			end = i + 1;
	}
	if (!end)
		return len >= DP_METRICS_REQ_MAX ? 431 : 0;
	/* request line: METHOD SP TARGET SP HTTP/x.y */
	size_t i = 0;
	while (i < end && buf[i] >= 'A' && buf[i] <= 'Z')
		i++;
	size_t ml = i;
	if (ml == 0 || ml > 16 || i >= end || buf[i] != ' ')
		return 400;
	size_t t0 = ++i;
	while (i < end && buf[i] > ' ' && buf[i] < 0x7f)
		i++;
	size_t tl = i - t0;
	if (tl == 0 || i >= end || buf[i] != ' ')
		return 400;
	i++;
	if (end - i < 8 || memcmp(buf + i, "HTTP/1.", 7) || buf[i + 7] < '0' || buf[i + 7] > '9')
		return 400;
	i += 8;
	if (!(buf[i] == '\n' || (buf[i] == '\r' && i + 1 < end && buf[i + 1] == '\n')))
		return 400;
	bool is_get = ml == 3 && !memcmp(buf, "GET", 3);
	bool is_head = ml == 4 && !memcmp(buf, "HEAD", 4);
	if (!is_get && !is_head)
		return 405;
	const char *t = buf + t0;
	if (!(tl >= 8 && !memcmp(t, "/metrics", 8) && (tl == 8 || t[8] == '?')))
		return 404;
	if (head)
		*head = is_head;
	return 200;
}

struct dp_metrics {
	struct dp_metrics_src src;      /* src.ops unused: see ops */
	_Atomic(const struct dp_ops *) ops;
	int lfd;
	uint16_t port;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t lock;           /* snap and buf */
	struct dp_metrics_snap *snap;
	char *buf;
};

static void collect(struct dp_metrics *m)
{
	struct dp_metrics_src src = m->src;
	src.ops = atomic_load(&m->ops);
	dp_metrics_collect(&src, m->snap);
}

void dp_metrics_set_ops(struct dp_metrics *m, const struct dp_ops *o)
{
	if (m)
		atomic_store(&m->ops, o);
}

/* The telemetry commands' target (they stay registered for the process). */
static pthread_mutex_t g_tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dp_metrics *g_tel;
static bool g_tel_registered;

static const char *status_text(int st)
{
	switch (st) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	default: return "Bad Request";
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void serve(struct dp_metrics *m, int fd)
{
	char req[DP_METRICS_REQ_MAX];
	size_t len = 0;
	int st = 0;
	bool head = false;
	while (st == 0) {
		ssize_t k = recv(fd, req + len, sizeof(req) - len, 0);
		if (k <= 0)
			return;   /* closed, or the receive timeout */
		len += (size_t)k;
		st = dp_metrics_http_parse(req, len, &head);
	}
	char hdr[256];
	const char *body = "";
	size_t blen = 0;
	pthread_mutex_lock(&m->lock);
	if (st == 200) {
		collect(m);
		long n = dp_metrics_prometheus(m->snap, m->buf, DP_METRICS_BUF);
		if (n < 0)
			st = 500;
		else
			body = m->buf, blen = (size_t)n;
	}
	if (st != 200) {
		body = status_text(st);
		blen = strlen(body);
	}
	int hl = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n%s\r\n", st,
			  status_text(st), st == 200 ? "text/plain; version=0.0.4; charset=utf-8"
						     : "text/plain",
			  blen, st == 405 ? "Allow: GET, HEAD\r\n" : "");
	send_all(fd, hdr, (size_t)hl);
	if (!head)
		send_all(fd, body, blen);
	pthread_mutex_unlock(&m->lock);
}

static void *http_main(void *arg)
{
	struct dp_metrics *m = arg;
	while (!atomic_load(&m->stop)) {
		struct pollfd pf = {.fd = m->lfd, .events = POLLIN};
		if (poll(&pf, 1, 200) <= 0)
			continue;
		int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct timeval tv = {.tv_sec = 2};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve(m, fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

static int listen_on(struct dp_metrics *m, const char *addr)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr || !colon[1])
		return -EINVAL;
	size_t hl = (size_t)(colon - addr);
	const char *h = addr;
	if (addr[0] == '[') {
		if (hl < 3 || addr[hl - 1] != ']')
			return -EINVAL;
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	struct addrinfo hints, *res;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -EADDRNOTAVAIL;
	int rc = -EADDRNOTAVAIL;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 16)) {
			rc = -errno;
			close(fd);
			continue;
		}
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			m->port = ntohs(ss.ss_family == AF_INET
						? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
		m->lfd = fd;
		rc = 0;
		break;
	}
	freeaddrinfo(res);
	return rc;
}

/* ---- telemetry ---- */

static int tel_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&g_tel_lock);
	struct dp_metrics *m = g_tel;
	if (!m) {
		pthread_mutex_unlock(&g_tel_lock);
		return 0;
	}
	pthread_mutex_lock(&m->lock);
	collect(m);
	struct walk w = {.kind = W_TEL, .s = m->snap, .d = d, .only_lcore = -1};
	int rc = 0;
	if (!strcmp(cmd, "/shakend/stats")) {
		if (params && *params) {
			char *end;
			unsigned long v = strtoul(params, &end, 10);
			if (*end || v >= m->snap->n_lcores)
				rc = -EINVAL;
			else
				w.only_lcore = (int)v;
		}
		if (rc == 0) {
			rte_tel_data_add_dict_u64(d, "lcores", m->snap->n_lcores);
			walk_dp(&w);
			if (m->snap->have_pipe)
				walk_pipe(&w);
			if (w.only_lcore < 0)
				walk_rest(&w);
		}
	} else if (!strcmp(cmd, "/shakend/cache")) {
		if (m->snap->have_cache)
			walk_cache(&w);
		if (m->snap->have_fetch)
			walk_fetch(&w);
	} else if (!strcmp(cmd, "/shakend/hsm")) {
		if (m->snap->have_hsm)
			walk_hsm(&w);
	}
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_unlock(&g_tel_lock);
	return rc;
}

long dp_metrics_ops_stats(void *arg, enum dp_ops_cmd cmd, char *buf, size_t cap)
{
	struct dp_metrics *m = arg;
	if (!m)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	collect(m);
	long n = dp_metrics_json(m->snap, cmd == DP_OPS_CACHE_STATS, buf, cap);
	pthread_mutex_unlock(&m->lock);
	return n;
}

int dp_metrics_start(const struct dp_metrics_src *src, const char *addr, struct dp_metrics **out)
{
	if (!src || !out)
		return -EINVAL;
	struct dp_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->src = *src;
	atomic_init(&m->ops, src->ops);
	m->lfd = -1;
	pthread_mutex_init(&m->lock, NULL);
	m->snap = malloc(sizeof(*m->snap));
	m->buf = malloc(DP_METRICS_BUF);
	int rc = -ENOMEM;
	if (!m->snap || !m->buf)
		goto fail;
	if (addr) {
		rc = listen_on(m, addr);
		if (rc)
			goto fail;
		rc = -pthread_create(&m->thread, NULL, http_main, m);
		if (rc)
			goto fail;
		pthread_setname_np(m->thread, "shakend-metrics");
		m->running = true;
	}
	pthread_mutex_lock(&g_tel_lock);
	g_tel = m;
	if (!g_tel_registered) {
		g_tel_registered = true;
		rte_telemetry_register_cmd("/shakend/stats", tel_cb,
					   "Dataplane and pipeline counters summed over the lcores "
					   "(parameter: an lcore index for that lcore only)");
		rte_telemetry_register_cmd("/shakend/cache", tel_cb,
					   "Certificate cache and fetcher counters");
		rte_telemetry_register_cmd("/shakend/hsm", tel_cb, "HSM engine counters");
	}
	pthread_mutex_unlock(&g_tel_lock);
	*out = m;
	return 0;
fail:
	dp_metrics_stop(m);
	return rc;
}

uint16_t dp_metrics_port(const struct dp_metrics *m)
{
	return m ? m->port : 0;
}

void dp_metrics_stop(struct dp_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&g_tel_lock);
	if (g_tel == m)
		g_tel = NULL;
	pthread_mutex_unlock(&g_tel_lock);
	if (m->running) {
		atomic_store(&m->stop, true);
		pthread_join(m->thread, NULL);
	}
	if (m->lfd >= 0)
		close(m->lfd);
	pthread_mutex_destroy(&m->lock);
	free(m->snap);
	free(m->buf);
	free(m);
}
