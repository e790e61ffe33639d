/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outcome log of the dataplane: one structured line per non-success outcome (a call that went
 * on unsigned, a verification that did not pass, a datagram dropped), rate-limited.
 *
 * An lcore never formats or writes: it fills a fixed-size struct dp_log_event and copies it
 * into its own bounded lock-free ring (hsm/ring.h). When the ring is full the event is
 * dropped and counted (the lcore never waits). A logger thread drains the rings every few
 * milliseconds, formats key=value lines and writes them through rte_log (log types
 * "shakend.dp" and "shakend.hsm": EAL sends them to stderr and syslog; --log-level applies)
 * or, for tests, through a caller-given sink; a token bucket (rate_per_s lines per second,
 * burst of one second) limits the lines, and the lines suppressed are counted and reported in
 * one summary line when the bucket refills.
 *
 *   ts=2024-05-01T12:00:00.123Z lcore=0 outcome=unsigned reason=timeout code=503
 *   src=192.0.2.7 calling=12155550101 called=12025550100 call_id="a84b4c76e66710@pc33"
 *
 * One struct dp_log per process is installed with dp_log_set_global(); lcores emit through
 * dp_log_sip()/dp_log_emit() (no-ops while none is installed).
 */
#ifndef SHAKEND_DATAPLANE_DP_LOG_H
#define SHAKEND_DATAPLANE_DP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_flow;
struct sip_msg;

#define DP_LOG_RING_DEFAULT 1024  /* events per lcore ring */
#define DP_LOG_LCORES_MAX 64      /* == DP_MAX_LCORES */
#define DP_LOG_LINE_MAX 1024      /* bytes of a formatted line, NUL included */

/* The kind of outcome. */
enum dp_log_kind {
	DP_LOG_UNSIGNED = 0,  /* reason: enum dp_unsigned; code 503 when answered 503 */
	DP_LOG_VERIFY,        /* reason: enum pp_check; code: the RFC 8224 code; verstat */
	DP_LOG_REJECTED,      /* as DP_LOG_VERIFY, answered with the code (trunk policy) */
	DP_LOG_DROP,          /* reason: enum dp_drop */
	DP_LOG_KIND_COUNT
};

/* Levels (syslog numbering, as enum cfg_log_level and RTE_LOG_* - 1). */
#define DP_LOG_WARNING 4
#define DP_LOG_NOTICE 5
#define DP_LOG_INFO 6

/* One event: fixed size, no pointer but to static text. */
struct dp_log_event {
	uint64_t ts_ns;          /* CLOCK_REALTIME, ns (0: filled by the logger) */
	uint16_t lcore;          /* lcore index */
	uint8_t kind;            /* enum dp_log_kind */
	uint8_t level;           /* DP_LOG_* */
	uint16_t reason;         /* see enum dp_log_kind */
	uint16_t code;           /* SIP code, 0 none */
	uint8_t verstat;         /* enum pp_verstat (DP_LOG_VERIFY, DP_LOG_REJECTED) */
	uint8_t src_family;      /* 0: unknown, 4, 6 */
	uint16_t vlan;
	uint8_t src[16];
	const char *detail;      /* static text or NULL */
	char calling[16];        /* NUL-terminated, "" when none */
	char called[16];
	char call_id[48];        /* a prefix of the Call-ID */
	char x5u[200];           /* a prefix of the x5u URL */
};

/* Where lines go instead of rte_log (tests). level: DP_LOG_*. */
typedef void (*dp_log_sink_fn)(void *arg, unsigned level, const char *line);

struct dp_log_cfg {
	unsigned n_lcores;       /* 1..DP_LOG_LCORES_MAX */
	unsigned ring_size;      /* events per lcore; 0: DP_LOG_RING_DEFAULT */
	uint32_t rate_per_s;     /* lines per second; 0: none written (counted suppressed) */
	unsigned level;          /* events above this level are not even queued; DP_LOG_* */
	dp_log_sink_fn sink;     /* NULL: rte_log */
	void *sink_arg;
	unsigned period_ms;      /* logger wake-up period; 0: 10 */
};

struct dp_log_stats {
	uint64_t queued[DP_LOG_LCORES_MAX];    /* events put in the lcore's ring */
	uint64_t ring_drop[DP_LOG_LCORES_MAX]; /* events lost to a full ring */
	uint64_t lines;                        /* lines written */
	uint64_t suppressed;                   /* events not written (rate limit) */
};

struct dp_log;

/*
 * Creates the rings (no thread yet). Registers the log types shakend.dp / shakend.hsm (with
 * the EAL; harmless before rte_eal_init). Returns 0 with *out, -EINVAL (n_lcores 0 or above
 * DP_LOG_LCORES_MAX, ring_size above 65536), -ENOMEM.
 */
__attribute__((warn_unused_result))
int dp_log_create(const struct dp_log_cfg *cfg, struct dp_log **out);

/* Starts the logger thread. Returns 0, -EALREADY, or -errno of pthread_create. */
__attribute__((warn_unused_result))
int dp_log_start(struct dp_log *l);

/* Stops the logger thread after a last drain (idempotent; no thread: drains once). */
void dp_log_stop(struct dp_log *l);

/* Stops and frees (NULL ignored). Uninstall it first (dp_log_set_global(NULL)) and make sure
 * no lcore still emits. */
void dp_log_destroy(struct dp_log *l);

/* Installs l as the log lcores emit to (NULL: none). */
void dp_log_set_global(struct dp_log *l);
struct dp_log *dp_log_global(void);

/* Live settings (any thread): lines per second, and the level threshold. */
void dp_log_set_rate(struct dp_log *l, uint32_t rate_per_s);
void dp_log_set_level(struct dp_log *l, unsigned level);

/* Whether an event of this level would be queued now (lcores: check before filling one). */
bool dp_log_wants(unsigned level);

/*
 * Queues ev on lcore ev->lcore's ring of the global log. Lock-free, no allocation, no
 * syscall; never waits. Returns true when queued, false when dropped (full ring, counted;
 * no log installed; lcore out of range; level filtered).
 */
bool dp_log_emit(const struct dp_log_event *ev);
/* As dp_log_emit on log l (tests). */
bool dp_log_emit_to(struct dp_log *l, const struct dp_log_event *ev);

/*
 * Fills an event from a SIP message (calling and called TN, Call-ID prefix; m may be NULL) and
 * a flow (source address and VLAN; may be NULL) and queues it on the global log: the lcores'
 * one call per outcome. detail: static text or NULL; x5u: copied (prefix) or NULL.
 * No-op when the level is filtered or no log is installed.
 */
void dp_log_sip(unsigned lcore, enum dp_log_kind kind, unsigned level, unsigned reason,
		unsigned code, unsigned verstat, const char *detail, const struct net_flow *flow,
		const struct sip_msg *m, const char *x5u);

/*
 * Drains the rings once through the rate limiter at time now_ns (CLOCK_MONOTONIC); what the
 * logger thread does every period. For tests without the thread. Returns the events taken.
 */
unsigned dp_log_drain(struct dp_log *l, uint64_t now_ns);

/* Counters (relaxed snapshot). */
void dp_log_stats(const struct dp_log *l, struct dp_log_stats *out);

/*
 * Formats ev as one key=value line (no newline) into buf (cap bytes, NUL-terminated,
 * truncated to fit; values with spaces or quotes are quoted and escaped, control characters
 * replaced). Pure. Returns the length written (< cap), or -EINVAL (NULL or cap 0).
 */
long dp_log_format(const struct dp_log_event *ev, char *buf, size_t cap);

/* "unsigned", "verify", "rejected", "drop"; "" out of range. */
const char *dp_log_kind_name(enum dp_log_kind k);

#endif
