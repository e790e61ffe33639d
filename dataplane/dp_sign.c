/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sign pipeline (STI-AS): INVITE -> policy decision -> PASSporT, signing input and
 * SHA-256 on the lcore -> HSM job (burst per loop, the lcore's own queue) -> parked ->
 * completion -> Identity header -> 302 (sign-redirect) or the INVITE forwarded (inline).
 * A call that cannot be signed goes on unsigned (an unsigned 302, or the INVITE forwarded as
 * it came) or, in the redirect mode and when the trunk says so, gets 503; always counted.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>

#include "crypto/identity.h"
#include "crypto/pp.h"
#include "dataplane/dp_log.h"
#include "dataplane/dp_pipe_pvt.h"
#include "dataplane/policy/policy.h"
#include "hsm/hsm.h"

struct sign_dec {
	bool sign;
	enum dp_unsigned why;     /* when !sign */
	bool fail_503;
	char attest;
	const char *origid;       /* valid until the next quiescent state */
	const char *x5u;
	uint32_t key;
	uint64_t deadline_ms;
};

static void decide(struct dp_pipe_lcore *pl, const struct net_flow *f, const char *tn, int tn_len,
		   struct sign_dec *d)
{
	const struct dp_pipe_cfg *cfg = &pl->pipe->cfg;
	memset(d, 0, sizeof(*d));
	d->why = DP_UNS_POLICY;
	d->deadline_ms = cfg->sign_deadline_ms;
	const struct pol_snapshot *snap = cfg->use_policy ? pol_current() : NULL;
	if (snap) {
		struct pol_decision pd;
		if (pol_decide(snap, f->family, f->src, net_l2_vid(&f->l2), tn,
			       tn_len > 0 ? (size_t)tn_len : 0, &pd))
			return;
		const struct pol_params *pp = pol_snapshot_params(snap);
		if (pp && pp->sign_deadline_ms)
			d->deadline_ms = pp->sign_deadline_ms;
		d->fail_503 = pd.on_sign_failure == CFG_SFAIL_503;
		if (!pd.sign || !pd.cred || !pd.origid || pd.cred->index >= DP_PIPE_CREDS_MAX ||
		    !cfg->cred_key_ok[pd.cred->index])
			return;
		d->sign = true;
		d->attest = pd.attest;
		d->origid = pd.origid;
		d->x5u = pd.cred->x5u;
		d->key = cfg->cred_keys[pd.cred->index];
		return;
	}
	d->fail_503 = cfg->default_sign_503;
	if (!cfg->have_default_cred)
		return;
	d->sign = true;
	d->attest = cfg->default_attest;
	d->origid = cfg->default_origid;
	d->x5u = cfg->default_x5u;
	d->key = cfg->default_key;
}

/* The call goes on without Identity: forwarded (inline), 503 or an unsigned 302 (redirect). */
static void go_unsigned(struct dp_pipe_lcore *pl, const struct dp_pipe_listener *ls,
			uint16_t port, const struct net_flow *flow, const struct sip_msg *m,
			bool fail_503, enum dp_unsigned why)
{
	pl->st->unsigned_[why]++;
	dp_log_sip(pl->lc->idx, DP_LOG_UNSIGNED, DP_LOG_WARNING, why,
		   fail_503 && ls->mode != DP_PIPE_INLINE ? 503 : 0, 0, NULL, flow, m, NULL);
	if (ls->mode == DP_PIPE_INLINE) {
		(void)dp_pipe_send(pl, ls->peer, flow, m->buf, m->len);
		return;
	}
	if (fail_503) {
		pl->st->sign_503++;
		(void)dp_pipe_respond(pl, port, flow, m, 503, NULL);
		return;
	}
	struct sip_resp_opts o;
	memset(&o, 0, sizeof(o));
	o.contact_ruri = true;
	(void)dp_pipe_respond(pl, port, flow, m, 302, &o);
}

static int64_t unix_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void dp_sign_rx(struct dp_pipe_lcore *pl, const struct dp_pipe_listener *ls,
		const struct dp_sip_pkt *p)
{
	const struct sip_msg *m = &pl->msg;
	struct dp_pipe_stats *st = pl->st;
	st->sign_req++;
	char orig[TN_MAX + 1], dest[TN_MAX + 1];
	int ol = sip_calling_tn(m, orig);
	int dl = sip_called_tn(m, dest);
	struct sign_dec d;
	decide(pl, p->flow, orig, ol, &d);
	if (ol < 0 || dl < 0) {
		go_unsigned(pl, ls, p->port, p->flow, m, d.fail_503, DP_UNS_NO_TN);
		return;
	}
	if (!d.sign) {
		go_unsigned(pl, ls, p->port, p->flow, m, d.fail_503, d.why);
		return;
	}
	if (!pl->hq) {
		go_unsigned(pl, ls, p->port, p->flow, m, d.fail_503, DP_UNS_NO_HSM);
		return;
	}
	struct dp_park *s = p->len <= DP_PIPE_PARK_BUF ? dp_park_get(pl) : NULL;
	if (!s) {
		go_unsigned(pl, ls, p->port, p->flow, m, d.fail_503, DP_UNS_PARK_FULL);
		return;
	}
	const char *dests[1] = {dest};
	long n;
	if (pp_shaken_init(&s->u.s.pp, d.x5u, d.attest, orig, dests, 1, unix_now(), d.origid) ||
	    (n = pp_signing_input(&s->u.s.pp, s->u.s.tok, sizeof(s->u.s.tok))) < 0) {
		dp_park_put(pl, s);
		go_unsigned(pl, ls, p->port, p->flow, m, d.fail_503, DP_UNS_BUILD);
		return;
	}
	struct hsm_job *j = &pl->jobs[pl->n_jobs];
	if (pp_sha256(s->u.s.tok, (size_t)n, j->digest)) {
		dp_park_put(pl, s);
		go_unsigned(pl, ls, p->port, p->flow, m, d.fail_503, DP_UNS_BUILD);
		return;
	}
	s->in_len = (uint32_t)n;
	memcpy(s->buf, p->payload, p->len);
	s->len = (uint32_t)p->len;
	s->flow = *p->flow;
	s->port = p->port;
	s->ls = ls;
	s->fail_503 = d.fail_503;
	s->kind = DP_PARK_SIGN;
	s->deadline_tsc = rte_rdtsc() + (d.deadline_ms + DP_PIPE_SIGN_GRACE_MS) * pl->tsc_per_ms;
	dp_park_push(&pl->sign_q, s);
	j->cookie = (void *)(uintptr_t)dp_park_cookie(s);
	j->deadline_ns = hsm_now_ns() + d.deadline_ms * 1000000u;
	j->key = d.key;
	pl->job_slot[pl->n_jobs++] = s;
	if (pl->n_jobs == DP_PIPE_JOBS)
		dp_sign_flush(pl);
}

/* Re-parses a parked datagram into pl->msg; false (counted) when it no longer parses. */
static bool reparse(struct dp_pipe_lcore *pl, const struct dp_park *s)
{
	if (sip_parse(&pl->msg, s->buf, s->len) == 0)
		return true;
	pl->st->drop[DP_DROP_MALFORMED]++;
	return false;
}

static void resume_unsigned(struct dp_pipe_lcore *pl, struct dp_park *s, enum dp_unsigned why)
{
	if (reparse(pl, s))
		go_unsigned(pl, s->ls, s->port, &s->flow, &pl->msg, s->fail_503, why);
	dp_park_put(pl, s);
}

static void resume_signed(struct dp_pipe_lcore *pl, struct dp_park *s, const uint8_t *sig)
{
	if (!reparse(pl, s)) {
		dp_park_put(pl, s);
		return;
	}
	const struct sip_msg *m = &pl->msg;
	char *line = (char *)pl->lc->scratch + DP_SCR_LINE;
	static const char name[] = "Identity: ";
	long tl = pp_token_finish(s->u.s.tok, sizeof(s->u.s.tok), s->in_len, sig);
	long il = tl < 0 ? tl : pp_identity_build(line + sizeof(name) - 1,
						  DP_SCR_LINE_CAP - sizeof(name), s->u.s.tok,
						  (size_t)tl, &s->u.s.pp);
	if (il < 0) {
		go_unsigned(pl, s->ls, s->port, &s->flow, m, s->fail_503, DP_UNS_BUILD);
		dp_park_put(pl, s);
		return;
	}
	memcpy(line, name, sizeof(name) - 1);
	size_t ll = sizeof(name) - 1 + (size_t)il;
	int rc;
	if (s->ls->mode == DP_PIPE_INLINE) {
		char *out = (char *)pl->lc->scratch + DP_SCR_OUT;
		long n = sip_add_hdr(m, line, out, DP_SCR_OUT_CAP);
		if (n < 0) {
			go_unsigned(pl, s->ls, s->port, &s->flow, m, s->fail_503, DP_UNS_BUILD);
			dp_park_put(pl, s);
			return;
		}
		rc = dp_pipe_send(pl, s->ls->peer, &s->flow, out, (size_t)n);
	} else {
		struct sip_str hdr = {line, ll};
		struct sip_resp_opts o;
		memset(&o, 0, sizeof(o));
		o.contact_ruri = true;
		o.hdrs = &hdr;
		o.n_hdrs = 1;
		rc = dp_pipe_respond(pl, s->port, &s->flow, m, 302, &o);
	}
	if (rc == 0)
		pl->st->signed_ok++;
	dp_park_put(pl, s);
}

void dp_sign_flush(struct dp_pipe_lcore *pl)
{
	unsigned n = pl->n_jobs;
	if (n == 0)
		return;
	pl->n_jobs = 0;
	int k = hsm_submit_burst(pl->hq, pl->jobs, n);
	if (k < 0)
		k = 0;
	pl->st->sign_parked += (unsigned)k;
	/* backpressure: what the queue did not take goes on unsigned now */
	for (unsigned i = (unsigned)k; i < n; i++) {
		struct dp_park *s = pl->job_slot[i];
		dp_park_unlink(&pl->sign_q, s);
		resume_unsigned(pl, s, DP_UNS_BACKPRESSURE);
	}
}

void dp_sign_poll(struct dp_pipe_lcore *pl, uint64_t now_tsc)
{
	if (!pl->hq)
		return;
	struct hsm_completion c[DP_PIPE_POLL];
	unsigned n;
	do {
		n = hsm_poll_burst(pl->hq, c, DP_PIPE_POLL);
		for (unsigned i = 0; i < n; i++) {
			struct dp_park *s = dp_park_of(pl, (uint64_t)(uintptr_t)c[i].cookie,
						       DP_PARK_SIGN);
			if (!s) {
				pl->st->sign_late++;  /* our timer answered already */
				continue;
			}
			dp_park_unlink(&pl->sign_q, s);
			if (c[i].status == 0)
				resume_signed(pl, s, c[i].sig);
			else
				resume_unsigned(pl, s, c[i].status == -ETIMEDOUT ? DP_UNS_TIMEOUT
										  : DP_UNS_HSM_ERROR);
		}
	} while (n == DP_PIPE_POLL);
	/* our own timer, a safety net behind the engine's deadline */
	struct dp_park *s;
	while ((s = pl->sign_q.head) && (int64_t)(now_tsc - s->deadline_tsc) >= 0) {
		dp_park_unlink(&pl->sign_q, s);
		resume_unsigned(pl, s, DP_UNS_TIMEOUT);
	}
}
