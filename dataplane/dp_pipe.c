/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SIP pipeline handler: listener match, method dispatch, park slots, per-lcore set-up and
 * the once-per-loop poll (QSBR quiescent state, HSM burst submit, completions, wakes,
 * timeouts). Signing is in dp_sign.c, verification in dp_verify.c.
 */
#include "dataplane/dp_pipe.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dataplane/certcache/cache.h"
#include "dataplane/dp_log.h"
#include "dataplane/dp_pipe_pvt.h"
#include "dataplane/dp_sip_min.h"
#include "hsm/ring.h"

static const char *const uns_names[DP_UNS_COUNT] = {
	[DP_UNS_NO_TN] = "no_tn",
	[DP_UNS_POLICY] = "policy",
	[DP_UNS_NO_HSM] = "no_hsm",
	[DP_UNS_BUILD] = "build",
	[DP_UNS_PARK_FULL] = "park_full",
	[DP_UNS_BACKPRESSURE] = "backpressure",
	[DP_UNS_TIMEOUT] = "timeout",
	[DP_UNS_HSM_ERROR] = "hsm_error",
};

static const char *const drop_names[DP_DROP_COUNT] = {
	[DP_DROP_MALFORMED] = "malformed",
	[DP_DROP_NO_LISTENER] = "no_listener",
	[DP_DROP_RESPONSE] = "response",
	[DP_DROP_UNANSWERABLE] = "unanswerable",
	[DP_DROP_TOO_BIG] = "too_big",
	[DP_DROP_SEND] = "send",
};

const char *dp_unsigned_name(enum dp_unsigned u)
{
	return (unsigned)u < DP_UNS_COUNT ? uns_names[u] : "";
}

const char *dp_drop_name(enum dp_drop d)
{
	return (unsigned)d < DP_DROP_COUNT ? drop_names[d] : "";
}

/* ---- park slots ---- */

struct dp_park *dp_park_get(struct dp_pipe_lcore *pl)
{
	if (pl->n_free == 0)
		return NULL;
	struct dp_park *s = &pl->slots[pl->free_idx[--pl->n_free]];
	s->prev = s->next = NULL;
	return s;
}

void dp_park_put(struct dp_pipe_lcore *pl, struct dp_park *s)
{
	s->kind = DP_PARK_FREE;
	s->gen++;
	pl->free_idx[pl->n_free++] = s->idx;
}

void dp_park_push(struct dp_park_fifo *q, struct dp_park *s)
{
	s->next = NULL;
	s->prev = q->tail;
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
	q->n++;
}

void dp_park_unlink(struct dp_park_fifo *q, struct dp_park *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		q->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		q->tail = s->prev;
	s->prev = s->next = NULL;
	q->n--;
}

struct dp_park *dp_park_of(struct dp_pipe_lcore *pl, uint64_t cookie, enum dp_park_kind kind)
{
	uint32_t idx = (uint32_t)cookie;
	if (idx >= pl->n_slots)
		return NULL;
	struct dp_park *s = &pl->slots[idx];
	if (s->gen != (uint32_t)(cookie >> 32) || s->kind != kind)
		return NULL;
	return s;
}

unsigned dp_pipe_parked(const struct dp_lcore *lc)
{
	const struct dp_pipe_lcore *pl = lc->handler_ctx;
	return pl ? pl->sign_q.n + pl->verify_q.n : 0;
}

/* ---- sending ---- */

/* One outcome log event for a dropped datagram (m may be NULL: not parsed). */
static void log_drop(struct dp_pipe_lcore *pl, enum dp_drop d, const struct net_flow *f,
		     const struct sip_msg *m)
{
	dp_log_sip(pl->lc->idx, DP_LOG_DROP,
		   d == DP_DROP_RESPONSE || d == DP_DROP_NO_LISTENER ? DP_LOG_INFO : DP_LOG_NOTICE,
		   d, 0, 0, NULL, f, m, NULL);
}

int dp_pipe_send(struct dp_pipe_lcore *pl, uint16_t out, const struct net_flow *flow,
		 const char *buf, size_t len)
{
	int rc = dp_send_udp(pl->lc, out, flow, buf, len);
	if (rc) {
		pl->st->drop[DP_DROP_SEND]++;
		log_drop(pl, DP_DROP_SEND, flow, NULL);
	} else {
		pl->st->sent++;
	}
	return rc;
}

int dp_pipe_reply(struct dp_pipe_lcore *pl, uint16_t port, const struct net_flow *flow,
		  const char *buf, size_t len)
{
	struct net_flow rf;
	net_flow_reverse(flow, &rf);
	return dp_pipe_send(pl, port, &rf, buf, len);
}

int dp_pipe_respond(struct dp_pipe_lcore *pl, uint16_t port, const struct net_flow *flow,
		    const struct sip_msg *m, unsigned code, const struct sip_resp_opts *o)
{
	struct sip_resp_opts opts;
	if (o)
		opts = *o;
	else
		memset(&opts, 0, sizeof(opts));
	const struct sip_hdr *cid = sip_hdr_first(m, SIP_HDR_CALL_ID);
	char tag[9];
	dp_sip_min_tag(cid ? cid->value.p : "", cid ? cid->value.len : 0, tag);
	opts.to_tag = tag;
	char *out = (char *)pl->lc->scratch + DP_SCR_OUT;
	long n = sip_build_response(m, code, NULL, &opts, out, DP_SCR_OUT_CAP);
	if (n < 0) {
		enum dp_drop d = n == -ENOSPC ? DP_DROP_TOO_BIG : DP_DROP_UNANSWERABLE;
		pl->st->drop[d]++;
		log_drop(pl, d, flow, m);
		return (int)n;
	}
	return dp_pipe_reply(pl, port, flow, out, (size_t)n);
}

/* ---- listeners and dispatch ---- */

static const struct dp_pipe_listener *match(const struct dp_pipe *pipe,
					    const struct dp_sip_pkt *p)
{
	const struct net_flow *f = p->flow;
	uint16_t vid = net_l2_vid(&f->l2);
	for (unsigned i = 0; i < pipe->cfg.n_listeners; i++) {
		const struct dp_pipe_listener *ls = &pipe->listeners[i];
		if (ls->iface >= 0 && (uint16_t)ls->iface != p->port)
			continue;
		if (ls->port && ls->port != f->dport)
			continue;
		if (ls->addr.family) {
			if (ls->addr.family != f->family || ls->addr.vid != vid ||
			    memcmp(ls->addr.ip, f->dst, f->family == 4 ? 4 : 16))
				continue;
		}
		return ls;
	}
	return NULL;
}

static const struct sip_str allow_line = {
	"Allow: INVITE, ACK, CANCEL, OPTIONS", sizeof("Allow: INVITE, ACK, CANCEL, OPTIONS") - 1,
};

static void redirect_other(struct dp_pipe_lcore *pl, const struct dp_sip_pkt *p)
{
	const struct sip_msg *m = &pl->msg;
	struct sip_resp_opts o;
	memset(&o, 0, sizeof(o));
	switch (m->method_id) {
	case SIP_METHOD_OPTIONS:
		o.hdrs = &allow_line;
		o.n_hdrs = 1;
		if (!dp_pipe_respond(pl, p->port, p->flow, m, 200, &o))
			pl->st->options++;
		return;
	case SIP_METHOD_ACK:
		pl->st->ack++;  /* the ACK of our 302 (or of an error): nothing to answer */
		return;
	case SIP_METHOD_CANCEL:
		/* stateless: the INVITE's transaction got its final answer already */
		if (!dp_pipe_respond(pl, p->port, p->flow, m, 481, NULL))
			pl->st->answered++;
		return;
	default:
		o.hdrs = &allow_line;
		o.n_hdrs = 1;
		if (!dp_pipe_respond(pl, p->port, p->flow, m, 405, &o))
			pl->st->answered++;
		return;
	}
}

/* Registers the lcore as a QSBR reader (cache, policy) on its own thread, once. */
static inline void rcu_online(struct dp_pipe_lcore *pl)
{
	if (likely(pl->rcu_registered) || (!pl->pipe->cfg.cache && !pl->pipe->cfg.use_policy))
		return;
	int rc = cache_thread_register();
	pl->rcu_registered = rc == 0 || rc == -EALREADY;
}

static void pipe_rx(void *arg, struct dp_lcore *lc, const struct dp_sip_pkt *p)
{
	struct dp_pipe *pipe = arg;
	struct dp_pipe_lcore *pl = lc->handler_ctx;
	rcu_online(pl);
	pl->st->sip_in++;
	const struct dp_pipe_listener *ls = match(pipe, p);
	if (!ls) {
		if (pipe->cfg.transit && p->transit)
			(void)dp_pipe_send(pl, lc->dp->ports[p->port].peer, p->flow, p->payload,
					   p->len);
		else {
			pl->st->drop[DP_DROP_NO_LISTENER]++;
			log_drop(pl, DP_DROP_NO_LISTENER, p->flow, NULL);
		}
		return;
	}
	bool ok = sip_parse(&pl->msg, p->payload, p->len) == 0;
	if (ls->mode == DP_PIPE_INLINE) {
		if (ok && pl->msg.is_request && pl->msg.method_id == SIP_METHOD_INVITE) {
			if (ls->sign) {
				dp_sign_rx(pl, ls, p);
				return;
			}
			if (ls->verify) {
				dp_verify_rx(pl, ls, p);
				return;
			}
		}
		/* bump in the wire: whatever it is, it goes on untouched */
		if (!ok) {
			pl->st->drop[DP_DROP_MALFORMED]++;
			log_drop(pl, DP_DROP_MALFORMED, p->flow, NULL);
		} else if (!dp_pipe_send(pl, ls->peer, p->flow, p->payload, p->len))
			pl->st->passthrough++;
		return;
	}
	if (!ok) {
		pl->st->drop[DP_DROP_MALFORMED]++;
		log_drop(pl, DP_DROP_MALFORMED, p->flow, NULL);
		return;
	}
	if (!pl->msg.is_request) {
		pl->st->drop[DP_DROP_RESPONSE]++;
		log_drop(pl, DP_DROP_RESPONSE, p->flow, &pl->msg);
		return;
	}
	if (pl->msg.method_id != SIP_METHOD_INVITE) {
		redirect_other(pl, p);
		return;
	}
	if (ls->mode == DP_PIPE_SIGN_REDIRECT)
		dp_sign_rx(pl, ls, p);
	else
		dp_verify_rx(pl, ls, p);
}

static void pipe_poll(void *arg, struct dp_lcore *lc, uint64_t now_tsc)
{
	(void)arg;
	struct dp_pipe_lcore *pl = lc->handler_ctx;
	if (pl->rcu_registered)
		cache_quiescent();
	else
		rcu_online(pl);
	dp_sign_flush(pl);
	dp_sign_poll(pl, now_tsc);
	dp_verify_poll(pl, now_tsc);
}

static void pipe_lcore_stop(void *arg, struct dp_lcore *lc)
{
	(void)arg;
	struct dp_pipe_lcore *pl = lc->handler_ctx;
	if (pl && pl->rcu_registered) {
		cache_thread_unregister();
		pl->rcu_registered = false;
	}
}

static void pipe_lcore_fini(void *arg, struct dp_lcore *lc)
{
	(void)arg;
	struct dp_pipe_lcore *pl = lc->handler_ctx;
	if (!pl)
		return;
	hsm_queue_destroy(pl->hq);
	hsm_ring_destroy(pl->wake);
	rte_free(pl->free_idx);
	rte_free(pl->slots);
	rte_free(pl);
	lc->handler_ctx = NULL;
}

static int pipe_lcore_init(void *arg, struct dp_lcore *lc)
{
	struct dp_pipe *pipe = arg;
	int socket = (int)rte_lcore_to_socket_id(lc->lcore_id);
	struct dp_pipe_lcore *pl = rte_zmalloc_socket("dp_pipe_lcore", sizeof(*pl),
						      RTE_CACHE_LINE_SIZE, socket);
	if (!pl)
		return -ENOMEM;
	lc->handler_ctx = pl;
	pl->pipe = pipe;
	pl->lc = lc;
	pl->st = &pipe->stats[lc->idx];
	pl->tsc_per_ms = rte_get_tsc_hz() / 1000 ? rte_get_tsc_hz() / 1000 : 1;
	pl->n_slots = pipe->cfg.park_slots;
	pl->slots = rte_zmalloc_socket("dp_park", sizeof(*pl->slots) * pl->n_slots,
				       RTE_CACHE_LINE_SIZE, socket);
	pl->free_idx = rte_zmalloc_socket("dp_park_free", sizeof(uint32_t) * pl->n_slots, 0,
					  socket);
	if (!pl->slots || !pl->free_idx)
		return -ENOMEM;
	for (unsigned i = 0; i < pl->n_slots; i++) {
		pl->slots[i].idx = i;
		pl->free_idx[i] = pl->n_slots - 1 - i;
	}
	pl->n_free = pl->n_slots;
	if (pipe->cfg.hsm) {
		int rc = hsm_queue_create(pipe->cfg.hsm, pipe->cfg.hsm_depth, &pl->hq);
		if (rc)
			return rc;
	}
	if (pipe->cfg.cache) {
		int rc = hsm_ring_create(pl->n_slots * 2u, sizeof(struct cache_wake), &pl->wake);
		if (rc)
			return rc;
	}
	return 0;
}

int dp_pipe_handler(struct dp_pipe *pipe, const struct dp_pipe_cfg *cfg,
		    struct dp_sip_handler *h)
{
	if (!pipe || !cfg || !h || !cfg->listeners || cfg->n_listeners == 0 ||
	    cfg->n_listeners > DP_PIPE_LISTENERS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		const struct dp_pipe_listener *ls = &cfg->listeners[i];
		if (ls->mode > DP_PIPE_INLINE || ls->peer >= DP_MAX_PORTS ||
		    ls->iface >= DP_MAX_PORTS)
			return -EINVAL;
		if (ls->addr.family != 0 && ls->addr.family != 4 && ls->addr.family != 6)
			return -EINVAL;
	}
	if (cfg->have_default_cred &&
	    (!cfg->default_x5u || !cfg->default_origid || cfg->default_attest < 'A' ||
	     cfg->default_attest > 'C'))
		return -EINVAL;
	if (cfg->freshness_s < 0)
		return -EINVAL;
	memset(pipe, 0, sizeof(*pipe));
	pipe->cfg = *cfg;
	memcpy(pipe->listeners, cfg->listeners, sizeof(*cfg->listeners) * cfg->n_listeners);
	pipe->cfg.listeners = pipe->listeners;
	if (!pipe->cfg.park_slots)
		pipe->cfg.park_slots = DP_PIPE_PARK_DEFAULT;
	if (!pipe->cfg.hsm_depth)
		pipe->cfg.hsm_depth = pipe->cfg.park_slots;
	if (!pipe->cfg.sign_deadline_ms)
		pipe->cfg.sign_deadline_ms = 50;
	if (!pipe->cfg.park_timeout_ms)
		pipe->cfg.park_timeout_ms = 2500;
	if (!pipe->cfg.freshness_s)
		pipe->cfg.freshness_s = PP_FRESHNESS_DEFAULT;
	memset(h, 0, sizeof(*h));
	h->arg = pipe;
	h->lcore_init = pipe_lcore_init;
	h->rx = pipe_rx;
	h->poll = pipe_poll;
	h->lcore_stop = pipe_lcore_stop;
	h->lcore_fini = pipe_lcore_fini;
	return 0;
}

void dp_pipe_stats_sum(const struct dp_pipe *pipe, unsigned n_lcores, struct dp_pipe_stats *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t *o = (uint64_t *)out;
	size_t n = offsetof(struct dp_pipe_stats, drop) / sizeof(uint64_t) + DP_DROP_COUNT;
	for (unsigned i = 0; i < n_lcores && i < DP_MAX_LCORES; i++) {
		const uint64_t *s = (const uint64_t *)&pipe->stats[i];
		for (size_t k = 0; k < n; k++)
			o[k] += s[k];
	}
}

void dp_pipe_stats_print(const struct dp_pipe_stats *s, FILE *f)
{
#define P_(name, v) \
	do { \
		if (v) \
			fprintf(f, "%s %" PRIu64 "\n", name, (uint64_t)(v)); \
	} while (0)
	P_("sip_in", s->sip_in);
	P_("sip_options", s->options);
	P_("sip_ack", s->ack);
	P_("sip_answered", s->answered);
	P_("sip_passthrough", s->passthrough);
	P_("sip_sent", s->sent);
	P_("sign_requests", s->sign_req);
	P_("sign_signed", s->signed_ok);
	P_("sign_parked", s->sign_parked);
	P_("sign_503", s->sign_503);
	P_("sign_late", s->sign_late);
	char name[64];
	for (unsigned i = 0; i < DP_UNS_COUNT; i++) {
		snprintf(name, sizeof(name), "sign_unsigned_%s", uns_names[i]);
		P_(name, s->unsigned_[i]);
	}
	P_("verify_requests", s->verify_req);
	P_("verify_passed", s->verstat[PP_VERSTAT_PASSED]);
	P_("verify_failed", s->verstat[PP_VERSTAT_FAILED]);
	P_("verify_no_validation", s->verstat[PP_VERSTAT_NO_VALIDATION]);
	static const unsigned codes[5] = {403, 428, 436, 437, 438};
	for (unsigned i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "verify_code_%u", codes[i]);
		P_(name, s->vcode[i]);
	}
	for (unsigned i = 1; i < PP_CHECK_COUNT_; i++) {
		snprintf(name, sizeof(name), "verify_check_%u", i);
		P_(name, s->vcheck[i]);
	}
	P_("verify_rejected", s->verify_rejected);
	P_("verify_parked", s->verify_parked);
	P_("verify_woken", s->verify_woken);
	P_("verify_park_timeout", s->park_timeout);
	P_("verify_park_full", s->park_full);
	for (unsigned i = 0; i < DP_DROP_COUNT; i++) {
		snprintf(name, sizeof(name), "sip_drop_%s", drop_names[i]);
		P_(name, s->drop[i]);
	}
#undef P_
}
