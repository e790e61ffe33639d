/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verify pipeline (STI-VS): INVITE -> pp_verify_begin (every check without the
 * certificate) -> certificate from the cache (fetch_lookup): a hit is checked per call (iat
 * within the validity, calling TN covered by the TNAuthList) and the signature verified at
 * once; a negative entry answers 436/437; a miss parks the call with a waiter on the lcore's
 * wake ring until the fetch completes or the park timeout passes (one last look-up, then
 * No-TN-Validation / 436). The result: a 302 whose Contact carries it (verify-redirect), the
 * INVITE forwarded with verstat (inline), or the RFC 8224 error when the trunk rejects.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>

#include "crypto/cert.h"
#include "dataplane/certcache/cache.h"
#include "dataplane/certcache/fetch.h"
#include "dataplane/dp_log.h"
#include "dataplane/dp_pipe_pvt.h"
#include "dataplane/policy/policy.h"
#include "hsm/ring.h"

#define DP_IDENTITY_MAX 8   /* Identity header fields looked at */

static int64_t unix_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static unsigned code_idx(enum pp_verdict c)
{
	switch (c) {
	case PP_VERDICT_STALE_DATE: return 0;
	case PP_VERDICT_USE_IDENTITY: return 1;
	case PP_VERDICT_BAD_INFO: return 2;
	case PP_VERDICT_UNSUPPORTED_CREDENTIAL: return 3;
	default: return 4;
	}
}

/* Per-call checks of a cached certificate, then the signature. */
static void check_entry(struct pp_verify *v, const struct cache_entry *e)
{
	if (v->pp.iat < e->not_before || v->pp.iat > e->not_after) {
		pp_verify_fail(v, PP_CHECK_CERT_INVALID, "iat outside the certificate's validity");
		return;
	}
	int c = cert_tnauth_covers(&e->tnauth, v->pp.orig.v);
	if (c == 0 || (c < 0 && c != -ENOENT)) {
		pp_verify_fail(v, PP_CHECK_CERT_INVALID,
			       "calling TN not covered by the certificate's TNAuthList");
		return;
	}
	pp_verify_end_pub(v, &e->pub);
}

/*
 * The certificate stage of v (waiting for a certificate). s: the call's park slot (a waiter
 * is registered for it), or NULL (no parking possible: a miss is 436 at once).
 * Returns true when the call must stay parked, false when v holds the final outcome.
 */
static bool cert_stage(struct dp_pipe_lcore *pl, struct pp_verify *v, struct dp_park *s,
		       int64_t now)
{
	const struct dp_pipe_cfg *cfg = &pl->pipe->cfg;
	if (!cfg->cache) {
		pp_verify_fail(v, PP_CHECK_CERT_FETCH, "no certificate cache");
		return false;
	}
	const char *url = v->x5u;
	size_t len = strlen(url);
	struct cache_waiter w = {.ring = pl->wake, .cookie = s ? dp_park_cookie(s) : 0};
	struct cache_ref ref;
	bool waiting = false;
	int r = -EAGAIN;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (cfg->fetch) {
			r = fetch_lookup(cfg->fetch, url, len, now, s ? &w : NULL, &ref, &waiting);
		} else {
			/* no fetcher: certificates come from publishes by others (preloading, a
			 * control thread); a miss waits for one until the park timeout */
			r = cache_lookup(cfg->cache, url, len, now, &ref);
			if (r == CACHE_HIT && ref.refresh)
				(void)cache_claim_release(cfg->cache, url, len);
			if ((r == CACHE_MISS_CLAIMED || r == CACHE_MISS_PENDING) && s)
				waiting = cache_wait(cfg->cache, url, len, &w) == 0;
		}
		if ((r != CACHE_MISS_CLAIMED && r != CACHE_MISS_PENDING) || waiting || !s)
			break;
		/* the wait was not registered (the fetch just ended, or too many waiters):
		 * look again once */
	}
	switch (r) {
	case CACHE_HIT:
		check_entry(v, ref.entry);
		return false;
	case CACHE_HIT_NEGATIVE:
		pp_verify_fail(v, cache_fail_sip_code(ref.fail) == 437 ? PP_CHECK_CERT_INVALID
								  : PP_CHECK_CERT_FETCH,
			       cache_fail_str(ref.fail));
		return false;
	case CACHE_MISS_CLAIMED:
	case CACHE_MISS_PENDING:
		if (s)
			return true;  /* parked; without a registered wait the timeout looks again */
		pp_verify_fail(v, PP_CHECK_CERT_FETCH, "certificate not cached");
		return false;
	case CACHE_BUSY:
		pp_verify_fail(v, PP_CHECK_CERT_FETCH, "too many certificate fetches in flight");
		return false;
	default:
		pp_verify_fail(v, PP_CHECK_CERT_FETCH, "certificate cannot be fetched");
		return false;
	}
}

/* Writes src[0..len) escaped for a SIP URI header value (RFC 3261 hvalue). */
static long hvalue_escape(char *out, size_t cap, const char *src, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("-_.!~*'()[]/?:+$", c);
		if (plain && c) {
			if (o + 1 > cap)
				return -ENOSPC;
			out[o++] = (char)c;
		} else {
			if (o + 3 > cap)
				return -ENOSPC;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return (long)o;
}

/*
 * verify-redirect: 302, Contact <Request-URI?P-Asserted-Identity=...> (the calling identity
 * with verstat, RFC 3261 §19.1.5 headers for the redirected request), the same identity as a
 * P-Asserted-Identity header, and Reason: STIR on failure.
 */
static void answer_302(struct dp_pipe_lcore *pl, uint16_t port, const struct net_flow *flow,
		       const struct sip_msg *m, const struct pp_verify *v, bool stir_fail)
{
	char *mid = (char *)pl->lc->scratch + DP_SCR_MID;
	char *line = (char *)pl->lc->scratch + DP_SCR_LINE;
	size_t cap = DP_SCR_LINE_CAP, used = 0;
	struct sip_str hdrs[2], extra = {NULL, 0};
	unsigned nh = 0;
	bool pai = sip_hdr_first(m, SIP_HDR_PAI) != NULL;
	long n = sip_set_uri_param(m, pai ? SIP_TARGET_PAI : SIP_TARGET_FROM, "verstat",
				   pp_verstat_str(v->verstat), mid, DP_SCR_MID_CAP);
	struct sip_str id = {NULL, 0};
	if (n > 0 && sip_parse(&pl->msg2, mid, (size_t)n) == 0) {
		const struct sip_hdr *h = sip_hdr_first(&pl->msg2, pai ? SIP_HDR_PAI : SIP_HDR_FROM);
		struct sip_str list = h ? h->value : (struct sip_str){NULL, 0};
		struct sip_addr a;
		if (pai && h && sip_list_next(&list, &id) != 1)
			id.len = 0;
		if (!pai && h && sip_addr_parse(h->value.p, h->value.len, &a) == 0) {
			/* the From URI alone: no display name, no tag */
			if (a.uri.len + 2 <= DP_SCR_MID_CAP - (size_t)n) {
				char *u = mid + n;
				u[0] = '<';
				memcpy(u + 1, a.uri.p, a.uri.len);
				u[a.uri.len + 1] = '>';
				id = (struct sip_str){u, a.uri.len + 2};
			}
		}
	}
	if (id.len) {
		static const char pfx[] = "P-Asserted-Identity: ";
		bool q = memchr(m->ruri.p, '?', m->ruri.len) != NULL;
		static const char cpfx[] = "P-Asserted-Identity=";
		/* Contact extra: ?P-Asserted-Identity=<escaped> */
		if (cap < 1 + sizeof(cpfx))
			goto too_big;
		line[0] = q ? '&' : '?';
		memcpy(line + 1, cpfx, sizeof(cpfx) - 1);
		long e = hvalue_escape(line + sizeof(cpfx), cap - sizeof(cpfx), id.p, id.len);
		if (e < 0)
			goto too_big;
		extra = (struct sip_str){line, sizeof(cpfx) + (size_t)e};
		used = extra.len;
		if (used + sizeof(pfx) - 1 + id.len > cap)
			goto too_big;
		memcpy(line + used, pfx, sizeof(pfx) - 1);
		memcpy(line + used + sizeof(pfx) - 1, id.p, id.len);
		hdrs[nh++] = (struct sip_str){line + used, sizeof(pfx) - 1 + id.len};
		used += sizeof(pfx) - 1 + id.len;
	}
	if (stir_fail) {
		int k = snprintf(line + used, cap - used, "Reason: STIR;cause=%u;text=\"%s\"",
				 (unsigned)v->code, pp_verdict_reason(v->code));
		if (k < 0 || (size_t)k >= cap - used)
			goto too_big;
		hdrs[nh++] = (struct sip_str){line + used, (size_t)k};
	}
	struct sip_resp_opts o;
	memset(&o, 0, sizeof(o));
	o.contact_ruri = true;
	o.contact_extra = extra;
	o.hdrs = hdrs;
	o.n_hdrs = nh;
	(void)dp_pipe_respond(pl, port, flow, m, 302, &o);
	return;
too_big:
	pl->st->drop[DP_DROP_TOO_BIG]++;
}

/* Counts and sends the outcome of v for the INVITE m. */
static void answer(struct dp_pipe_lcore *pl, const struct dp_pipe_listener *ls, uint16_t port,
		   const struct net_flow *flow, const struct sip_msg *m, const struct pp_verify *v,
		   bool reject)
{
	struct dp_pipe_stats *st = pl->st;
	st->verstat[(unsigned)v->verstat < 3 ? v->verstat : 0]++;
	st->vcheck[(unsigned)v->check < PP_CHECK_COUNT_ ? v->check : 0]++;
	bool failed = v->verstat != PP_VERSTAT_PASSED;
	if (failed)
		st->vcode[code_idx(v->code)]++;
	/* a call without (SHAKEN) Identity failed no STIR check: annotated, never rejected */
	bool stir_fail = failed && v->check != PP_CHECK_NO_IDENTITY &&
			 v->check != PP_CHECK_NO_SHAKEN;
	if (failed)
		dp_log_sip(pl->lc->idx, stir_fail && reject ? DP_LOG_REJECTED : DP_LOG_VERIFY,
			   stir_fail ? DP_LOG_NOTICE : DP_LOG_INFO, v->check, (unsigned)v->code,
			   v->verstat, v->detail, flow, m, v->have_passport ? v->x5u : NULL);
	if (stir_fail && reject) {
		st->verify_rejected++;
		(void)dp_pipe_respond(pl, port, flow, m, (unsigned)v->code, NULL);
		return;
	}
	if (ls->mode != DP_PIPE_INLINE) {
		answer_302(pl, port, flow, m, v, stir_fail);
		return;
	}
	char *out = (char *)pl->lc->scratch + DP_SCR_OUT;
	long n = sip_set_uri_param(m, SIP_TARGET_PAI | SIP_TARGET_FROM, "verstat",
				   pp_verstat_str(v->verstat), out, DP_SCR_OUT_CAP);
	if (n < 0)  /* no identity header to annotate, or too big: on as it came */
		(void)dp_pipe_send(pl, ls->peer, flow, m->buf, m->len);
	else
		(void)dp_pipe_send(pl, ls->peer, flow, out, (size_t)n);
}

void dp_verify_rx(struct dp_pipe_lcore *pl, const struct dp_pipe_listener *ls,
		  const struct dp_sip_pkt *p)
{
	const struct dp_pipe_cfg *cfg = &pl->pipe->cfg;
	const struct sip_msg *m = &pl->msg;
	pl->st->verify_req++;
	struct pp_slice ids[DP_IDENTITY_MAX];
	unsigned n_ids = 0;
	for (const struct sip_hdr *h = sip_hdr_first(m, SIP_HDR_IDENTITY);
	     h && n_ids < DP_IDENTITY_MAX; h = sip_hdr_next(m, h))
		ids[n_ids++] = (struct pp_slice){h->value.p, h->value.len};
	char orig[TN_MAX + 1], dest[TN_MAX + 1];
	int ol = sip_calling_tn(m, orig);
	int dl = sip_called_tn(m, dest);
	int64_t now = unix_now();
	struct pp_verify_params vp = {
		.now = now,
		.freshness = cfg->freshness_s,
		.orig_tn = ol > 0 ? orig : NULL,
		.dest_tn = dl > 0 ? dest : NULL,
	};
	int64_t date;
	if (sip_msg_date(m, &date) == 0 && date > 0)
		vp.date = date;
	bool reject = cfg->default_verify_reject;
	uint64_t park_ms = cfg->park_timeout_ms;
	const struct pol_snapshot *snap = cfg->use_policy ? pol_current() : NULL;
	if (snap) {
		const struct pol_trunk *t = pol_trunk_find(snap, p->flow->family, p->flow->src,
							   net_l2_vid(&p->flow->l2));
		reject = t && t->on_verify_failure == CFG_VFAIL_REJECT;
		const struct pol_params *pp = pol_snapshot_params(snap);
		if (pp && pp->park_timeout_ms)
			park_ms = pp->park_timeout_ms;
		if (pp && pp->freshness_s)
			vp.freshness = pp->freshness_s;
	}
	struct dp_park *s = p->len <= DP_PIPE_PARK_BUF ? dp_park_get(pl) : NULL;
	struct pp_verify *v = s ? &s->u.v : &pl->vscratch;
	int rc = pp_verify_begin(v, ids, n_ids, &vp);
	if (rc < 0) {
		pl->st->drop[DP_DROP_MALFORMED]++;
		if (s)
			dp_park_put(pl, s);
		return;
	}
	if (rc == 1) {
		/* without a calling/called TN nothing can be compared: never a pass */
		if (ol <= 0)
			pp_verify_fail(v, PP_CHECK_ORIG, "no calling TN in the INVITE");
		else if (dl <= 0)
			pp_verify_fail(v, PP_CHECK_DEST, "no called TN in the INVITE");
		else if (cert_stage(pl, v, s, now)) {
			memcpy(s->buf, p->payload, p->len);
			s->len = (uint32_t)p->len;
			s->flow = *p->flow;
			s->port = p->port;
			s->ls = ls;
			s->reject = reject;
			s->kind = DP_PARK_VERIFY;
			s->deadline_tsc = rte_rdtsc() + park_ms * pl->tsc_per_ms;
			dp_park_push(&pl->verify_q, s);
			pl->st->verify_parked++;
			return;
		}
		if (!s && v->check == PP_CHECK_CERT_FETCH && cfg->cache)
			pl->st->park_full++;
	}
	answer(pl, ls, p->port, p->flow, m, v, reject);
	if (s)
		dp_park_put(pl, s);
}

/* A parked call's certificate stage again; answers and frees the slot unless still parked. */
static void resume(struct dp_pipe_lcore *pl, struct dp_park *s, bool last)
{
	struct pp_verify *v = &s->u.v;
	if (cert_stage(pl, v, last ? NULL : s, unix_now()))
		return;
	if (last && v->check == PP_CHECK_CERT_FETCH) {
		pl->st->park_timeout++;
		if (!strcmp(v->detail, "certificate not cached"))
			v->detail = "certificate fetch timed out";
	}
	dp_park_unlink(&pl->verify_q, s);
	if (sip_parse(&pl->msg, s->buf, s->len) == 0)
		answer(pl, s->ls, s->port, &s->flow, &pl->msg, v, s->reject);
	else
		pl->st->drop[DP_DROP_MALFORMED]++;
	dp_park_put(pl, s);
}

void dp_verify_poll(struct dp_pipe_lcore *pl, uint64_t now_tsc)
{
	if (pl->wake) {
		struct cache_wake w[DP_PIPE_POLL];
		unsigned n;
		do {
			n = hsm_ring_dequeue_burst(pl->wake, w, DP_PIPE_POLL);
			for (unsigned i = 0; i < n; i++) {
				struct dp_park *s = dp_park_of(pl, w[i].cookie, DP_PARK_VERIFY);
				if (!s)
					continue;  /* answered already (timeout) */
				pl->st->verify_woken++;
				resume(pl, s, false);
			}
		} while (n == DP_PIPE_POLL);
	}
	struct dp_park *s;
	while ((s = pl->verify_q.head) && (int64_t)(now_tsc - s->deadline_tsc) >= 0)
		resume(pl, s, true);
}
