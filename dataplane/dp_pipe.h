/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SIP pipelines of shakend: the struct dp_sip_handler that signs and verifies INVITEs.
 *
 * Per listener (address, UDP port, VLAN, receiving port) a mode:
 *  - sign-redirect (STI-AS dip): INVITE -> "302 Moved Temporarily", Contact <Request-URI>,
 *    Identity header; unsigned 302 or 503 (trunk policy) when the call cannot be signed;
 *  - verify-redirect (STI-VS dip): INVITE -> 302 whose Contact carries the result, see
 *    docs/dataplane.md ("Verify pipeline"), Reason: STIR;cause=N;text="..." on failure, or the
 *    RFC 8224 error response when the trunk's policy is "reject";
 *  - inline (bump in the wire): INVITEs forwarded with Identity added (sign) or verstat set
 *    (verify), every other SIP message forwarded untouched, both directions.
 * Redirect modes answer OPTIONS 200, absorb ACK, answer CANCEL 481 and other methods 405.
 *
 * Sign: calling/called TN, policy decision (trunk by source address and VLAN, attestation,
 * credential), PASSporT + signing input + SHA-256 on the lcore; the job goes to the HSM engine
 * through the lcore's own queue (one burst per loop); the datagram is copied into a park slot
 * (a fixed per-lcore array, no allocation) with a deadline; completions are polled once per
 * loop and the answer built and sent. Deadline, HSM error or backpressure: unsigned or 503 per
 * the trunk's policy, counted.
 *
 * Verify: pp_verify_begin on the lcore, the certificate from the cache (fetch_lookup): a hit is
 * checked (iat within validity, calling TN covered by the TNAuthList) and verified
 * (pp_verify_end_pub) at once; a miss parks the call with a waiter on the lcore's wake ring;
 * the wake (or the park timeout, after one last look-up) resumes it.
 *
 * Threads: every lcore registers as a QSBR reader of the certificate cache (on its first
 * loop iteration), reports a quiescent state once per loop, and goes offline in lcore_stop.
 */
#ifndef SHAKEND_DATAPLANE_DP_PIPE_H
#define SHAKEND_DATAPLANE_DP_PIPE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_common.h>

#include "crypto/verify.h"
#include "dataplane/dp.h"

struct cache;
struct fetch;
struct hsm_engine;

#define DP_PIPE_LISTENERS_MAX 64
#define DP_PIPE_CREDS_MAX 64        /* == CFG_CREDS_MAX */
#define DP_PIPE_PARK_DEFAULT 256     /* park slots per lcore */
#define DP_PIPE_PARK_BUF NET_REASM_MAX_SIZE /* bytes of a parked datagram */

enum dp_pipe_mode {
	DP_PIPE_SIGN_REDIRECT = 0,
	DP_PIPE_VERIFY_REDIRECT,
	DP_PIPE_INLINE,
};

/* One listener; the first that matches a datagram decides its mode. */
struct dp_pipe_listener {
	struct net_addr addr;    /* destination address and VLAN (addr.vid); family 0: any
				  * destination, any VLAN (inline) */
	uint16_t port;           /* destination UDP port; 0: any */
	int16_t iface;           /* index in dp->ports of the receiving port; -1: any */
	enum dp_pipe_mode mode;
	/* inline only */
	uint16_t peer;           /* index in dp->ports datagrams are forwarded to */
	bool sign;               /* sign INVITEs arriving here */
	bool verify;             /* verify INVITEs arriving here (sign wins when both) */
};

/* Why a call left unsigned (counters). */
enum dp_unsigned {
	DP_UNS_NO_TN = 0,        /* no calling or called TN in the INVITE */
	DP_UNS_POLICY,           /* policy: unknown source with no origid, no credential */
	DP_UNS_NO_HSM,           /* no HSM engine configured */
	DP_UNS_BUILD,            /* PASSporT or signing input could not be built */
	DP_UNS_PARK_FULL,        /* no park slot free */
	DP_UNS_BACKPRESSURE,     /* the HSM queue refused the job */
	DP_UNS_TIMEOUT,          /* the deadline passed (-ETIMEDOUT or our own timer) */
	DP_UNS_HSM_ERROR,        /* the engine completed with another error */
	DP_UNS_COUNT
};

/* Why a datagram was dropped (counters). */
enum dp_drop {
	DP_DROP_MALFORMED = 0,   /* not parseable as SIP */
	DP_DROP_NO_LISTENER,     /* no listener matches (and not transit) */
	DP_DROP_RESPONSE,        /* a response sent to a redirect listener */
	DP_DROP_UNANSWERABLE,    /* a request lacking what an answer needs (Via, CSeq, ...) */
	DP_DROP_TOO_BIG,         /* the result would not fit */
	DP_DROP_SEND,            /* dp_send_udp failed */
	DP_DROP_COUNT
};

/* Counters of one lcore (summed by dp_pipe_stats_sum). */
struct dp_pipe_stats {
	uint64_t sip_in;             /* datagrams handled */
	uint64_t options;            /* OPTIONS answered 200 */
	uint64_t ack;                /* ACK absorbed */
	uint64_t answered;           /* other requests answered (405, 481) */
	uint64_t passthrough;        /* inline: non-INVITE messages forwarded untouched */
	uint64_t sent;               /* answers and INVITEs sent */
	/* sign */
	uint64_t sign_req;           /* INVITEs to sign */
	uint64_t signed_ok;          /* sent with an Identity header */
	uint64_t sign_parked;        /* jobs submitted and parked */
	uint64_t unsigned_[DP_UNS_COUNT]; /* sent without Identity, by reason */
	uint64_t sign_503;           /* answered 503 instead (trunk policy), any reason */
	uint64_t sign_late;          /* completions that arrived after their slot gave up */
	/* verify */
	uint64_t verify_req;         /* INVITEs to verify */
	uint64_t verstat[3];         /* by enum pp_verstat */
	uint64_t vcode[5];           /* failures by code: 403 428 436 437 438 */
	uint64_t vcheck[PP_CHECK_COUNT_]; /* by deciding check */
	uint64_t verify_rejected;    /* answered with the error code (trunk policy) */
	uint64_t verify_parked;      /* calls parked on a certificate fetch */
	uint64_t verify_woken;       /* wakes received for a parked call */
	uint64_t park_timeout;       /* parked calls that timed out (436) */
	uint64_t park_full;          /* no slot to park: 436 */
	uint64_t drop[DP_DROP_COUNT];
} __rte_cache_aligned;

struct dp_pipe_cfg {
	const struct dp_pipe_listener *listeners;
	unsigned n_listeners;        /* 1..DP_PIPE_LISTENERS_MAX */
	bool transit;                /* forward SIP matching no listener to the peer port */
	struct hsm_engine *hsm;      /* NULL: no signing (calls go on unsigned, DP_UNS_NO_HSM) */
	unsigned hsm_depth;          /* HSM jobs in flight per lcore; 0: park_slots */
	uint64_t sign_deadline_ms;   /* 0: 50 */
	struct cache *cache;         /* NULL: no verification beyond the certificate-free checks
				      * (every certificate is "cannot be obtained", 436) */
	struct fetch *fetch;         /* with cache; NULL: nothing fetched, a miss waits for a
				      * publish by another thread until the park timeout */
	uint64_t park_timeout_ms;    /* 0: 2500 */
	int64_t freshness_s;         /* 0: PP_FRESHNESS_DEFAULT */
	unsigned park_slots;         /* per lcore; 0: DP_PIPE_PARK_DEFAULT */
	bool use_policy;             /* decisions from pol_current() (dataplane/policy/policy.h);
				      * false, or no snapshot published: every source is unknown
				      * (see the default_ fields), verify failures annotated */
	uint32_t cred_keys[DP_PIPE_CREDS_MAX]; /* HSM key id of policy credential i (pol_cred
						* .index) */
	bool cred_key_ok[DP_PIPE_CREDS_MAX];   /* false: that credential has no usable key */
	/* Without a policy snapshot (tests, flags-only runs): sign every call with this. */
	bool have_default_cred;
	uint32_t default_key;        /* HSM key id */
	const char *default_x5u;
	const char *default_origid;
	char default_attest;         /* 'A', 'B' or 'C' */
	bool default_sign_503;       /* unsigned calls get 503 instead (redirect modes) */
	bool default_verify_reject;  /* verify failures rejected with the RFC 8224 code */
};

struct dp_pipe_lcore;

/* Shared state of the handler; per-lcore parts are reached through lc->handler_ctx. */
struct dp_pipe {
	struct dp_pipe_cfg cfg;
	struct dp_pipe_listener listeners[DP_PIPE_LISTENERS_MAX];
	struct dp_pipe_stats stats[DP_MAX_LCORES];
};

/*
 * Fills h with the pipeline handler over pipe, configured from cfg (copied; listeners copied;
 * hsm, cache, fetch borrowed: they must outlive the dataplane). Per-lcore state (park
 * slots, HSM queue, wake ring) is made by h->lcore_init at dp_init.
 * Returns 0, -EINVAL (no listener or too many, a bad mode or inline peer or iface,
 * a default credential without x5u/origid/attest, a negative freshness).
 */
__attribute__((warn_unused_result))
int dp_pipe_handler(struct dp_pipe *pipe, const struct dp_pipe_cfg *cfg,
		    struct dp_sip_handler *h);

/* Sums the counters of the lcores of dp. */
void dp_pipe_stats_sum(const struct dp_pipe *pipe, unsigned n_lcores, struct dp_pipe_stats *out);

/* Writes the non-zero counters of s, one "name value" line each. */
void dp_pipe_stats_print(const struct dp_pipe_stats *s, FILE *f);

/* Parked calls of lcore lc now (sign and verify). */
unsigned dp_pipe_parked(const struct dp_lcore *lc);

/* A static name of a reason: "no_tn", ... / "malformed", ...; "" out of range. */
const char *dp_unsigned_name(enum dp_unsigned u);
const char *dp_drop_name(enum dp_drop d);

#endif
