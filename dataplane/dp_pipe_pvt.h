/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Folder-private parts of the SIP pipelines (dp_pipe.c, dp_sign.c, dp_verify.c): per-lcore
 * state, park slots, and the helpers the three files share. Not an API.
 */
#ifndef SHAKEND_DATAPLANE_DP_PIPE_PVT_H
#define SHAKEND_DATAPLANE_DP_PIPE_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/pp.h"
#include "crypto/verify.h"
#include "dataplane/dp.h"
#include "dataplane/dp_pipe.h"
#include "dataplane/sip/sip.h"
#include "hsm/hsm.h"

#define DP_PIPE_JOBS 64          /* sign jobs gathered per loop before a burst submit */
#define DP_PIPE_POLL 32          /* completions / wakes taken per poll */
#define DP_PIPE_SIGN_GRACE_MS 20 /* our timer fires this long after the HSM deadline */

/* Layout of lc->scratch (DP_SCRATCH bytes). */
#define DP_SCR_OUT 0             /* the message sent */
#define DP_SCR_OUT_CAP 32768
#define DP_SCR_MID 32768         /* an intermediate copy (verify-redirect) */
#define DP_SCR_MID_CAP 16384
#define DP_SCR_LINE 49152        /* header lines and the Contact extra */
#define DP_SCR_LINE_CAP (DP_SCRATCH - DP_SCR_LINE)

enum dp_park_kind {
	DP_PARK_FREE = 0,
	DP_PARK_SIGN,
	DP_PARK_VERIFY,
};

/* A parked call: the datagram copied, its flow, and the work in progress. */
struct dp_park {
	struct dp_park *prev, *next;   /* in its kind's FIFO (deadline order) */
	uint32_t idx;
	uint32_t gen;                  /* bumped at every release: stale cookies are ignored */
	enum dp_park_kind kind;
	uint16_t port;                 /* receiving port index */
	const struct dp_pipe_listener *ls;
	struct net_flow flow;          /* as received */
	uint64_t deadline_tsc;
	uint32_t len;                  /* bytes in buf */
	bool fail_503;                 /* sign: answer 503 rather than go on unsigned */
	bool reject;                   /* verify: reject failures with the RFC 8224 code */
	uint32_t in_len;               /* sign: signing input length in u.s.tok */
	union {
		struct {
			struct pp_passport pp;
			char tok[PP_TOKEN_MAX];
		} s;
		struct pp_verify v;
	} u;
	char buf[DP_PIPE_PARK_BUF];
};

struct dp_park_fifo {
	struct dp_park *head, *tail;
	unsigned n;
};

struct dp_pipe_lcore {
	struct dp_pipe *pipe;
	struct dp_pipe_stats *st;
	struct dp_lcore *lc;
	struct hsm_queue *hq;
	struct hsm_ring *wake;         /* cache waiters' completions (struct cache_wake) */
	bool rcu_registered;
	uint64_t tsc_per_ms;
	struct dp_park *slots;
	unsigned n_slots;
	uint32_t *free_idx;            /* stack of free slot indexes */
	unsigned n_free;
	struct dp_park_fifo sign_q, verify_q;
	unsigned n_jobs;
	struct hsm_job jobs[DP_PIPE_JOBS];
	struct dp_park *job_slot[DP_PIPE_JOBS];
	struct sip_msg msg;            /* the message at hand */
	struct sip_msg msg2;           /* an intermediate parse */
	struct pp_verify vscratch;     /* verification without a slot */
};

/* ---- dp_pipe.c ---- */
struct dp_park *dp_park_get(struct dp_pipe_lcore *pl);
void dp_park_put(struct dp_pipe_lcore *pl, struct dp_park *s);
void dp_park_push(struct dp_park_fifo *q, struct dp_park *s);
void dp_park_unlink(struct dp_park_fifo *q, struct dp_park *s);
/* The slot of a cookie (idx | gen << 32), or NULL when stale or not of kind. */
struct dp_park *dp_park_of(struct dp_pipe_lcore *pl, uint64_t cookie, enum dp_park_kind kind);
static inline uint64_t dp_park_cookie(const struct dp_park *s)
{
	return (uint64_t)s->gen << 32 | s->idx;
}

/* Sends buf as an answer to a datagram received on port along flow (reversed). */
int dp_pipe_reply(struct dp_pipe_lcore *pl, uint16_t port, const struct net_flow *flow,
		  const char *buf, size_t len);
/* Sends buf along flow out of port index out. */
int dp_pipe_send(struct dp_pipe_lcore *pl, uint16_t out, const struct net_flow *flow,
		 const char *buf, size_t len);
/* Answers request m with code (reason NULL: standard phrase), optional Contact and lines. */
int dp_pipe_respond(struct dp_pipe_lcore *pl, uint16_t port, const struct net_flow *flow,
		    const struct sip_msg *m, unsigned code, const struct sip_resp_opts *o);

/* ---- dp_sign.c ---- */
/* An INVITE to sign, parsed in pl->msg from p's payload. */
void dp_sign_rx(struct dp_pipe_lcore *pl, const struct dp_pipe_listener *ls,
		const struct dp_sip_pkt *p);
void dp_sign_poll(struct dp_pipe_lcore *pl, uint64_t now_tsc);
/* Submits the jobs gathered (backpressure: those refused go on unsigned). */
void dp_sign_flush(struct dp_pipe_lcore *pl);

/* ---- dp_verify.c ---- */
void dp_verify_rx(struct dp_pipe_lcore *pl, const struct dp_pipe_listener *ls,
		  const struct dp_sip_pkt *p);
void dp_verify_poll(struct dp_pipe_lcore *pl, uint64_t now_tsc);

#endif
