/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HSM signing engine: ES256 signatures from PKCS#11 tokens, asynchronous and batched.
 *
 * A pool of tokens (one or several, each named by a PKCS#11 URI), each with a pool of
 * sessions; one worker thread per session, one C_SignInit + C_Sign (CKM_ECDSA over a SHA-256
 * digest, giving r||s) at a time per session. Callers that must never block (DPDK lcores) own
 * a queue each: they submit bursts of jobs into the engine's shared submission ring and poll
 * their own completion ring; no lock, no allocation; a syscall (futex wake) only when a worker
 * sleeps. Tools use the blocking hsm_sign() or the pp_signer adapter.
 *
 * Guarantees:
 *  - every accepted job completes exactly once (signature or error);
 *  - a job whose deadline has passed is completed with -ETIMEDOUT without being signed; a job
 *    in a C_Sign that outlives its deadline is completed with -ETIMEDOUT at its deadline (to
 *    the monitor's tick, 1 ms) and the late signature is dropped;
 *  - a token that fails (device removed, device error, a C_Sign outliving op_timeout) is taken
 *    out of service and probed back in; its jobs are retried on the other tokens.
 *
 * Threads: hsm_engine_* functions other than submit/poll are control-plane calls (they may
 * block); a queue is used by one thread at a time.
 */
#ifndef SHAKEND_HSM_HSM_H
#define SHAKEND_HSM_HSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/pp.h"

#define HSM_MAX_TOKENS 8
#define HSM_MAX_SESSIONS 256     /* per token */
#define HSM_MAX_KEYS 16          /* credential ids 0..15 */
#define HSM_DIGEST_LEN 32
#define HSM_SIG_LEN 64

struct hsm_engine;
struct hsm_queue;

struct hsm_engine_cfg {
	const char *module_path;      /* module for URIs without module-path= (may be NULL) */
	const char *pin_env;          /* PIN variable for URIs without pin-source=;
				       * NULL: "SHAKEND_HSM_PIN" */
	unsigned sessions;            /* sessions (worker threads) per token; 0: 4 */
	unsigned ring_size;           /* submission ring entries; 0: 4096 */
	uint64_t default_timeout_ns;  /* deadline of jobs submitted with deadline_ns 0; 0: 1 s */
	uint64_t op_timeout_ns;       /* a C_Sign running longer marks its token hung; 0: 500 ms */
	uint64_t probe_interval_ns;   /* probing of a token out of service; 0: 100 ms */
	unsigned max_attempts;        /* signing attempts per job before -EIO; 0: 3 */
};

/* A signing job. */
struct hsm_job {
	uint8_t digest[HSM_DIGEST_LEN];  /* SHA-256 of the JWS signing input */
	void *cookie;                    /* returned untouched in the completion */
	uint64_t deadline_ns;            /* CLOCK_MONOTONIC (hsm_now_ns); 0: default timeout */
	uint32_t key;                    /* credential id from hsm_engine_key_add */
};

/* A completed job. */
struct hsm_completion {
	void *cookie;
	int32_t status;   /* 0: sig holds r||s; -ETIMEDOUT: deadline passed, not signed;
			   * -ENODEV: no token in service; -EIO: the HSM failed max_attempts
			   * times; -ENOKEY: the key is on no token in service; -ECANCELED:
			   * the engine stopped */
	uint32_t key;
	uint8_t sig[HSM_SIG_LEN];
};

struct hsm_stats {
	uint64_t submitted;      /* jobs accepted */
	uint64_t signed_ok;      /* completed with a signature */
	uint64_t timed_out;      /* completed with -ETIMEDOUT */
	uint64_t failed;         /* completed with any other error */
	uint64_t retries;        /* attempts after the first (same or other token) */
	uint64_t session_reopens;
	uint64_t token_downs;    /* times a token was taken out of service */
	uint64_t token_ups;      /* times a token came (back) into service, start included */
	uint64_t abandoned;      /* C_Sign calls given up by the monitor (deadline or hang) */
};

/* CLOCK_MONOTONIC in nanoseconds: the clock of deadline_ns. */
uint64_t hsm_now_ns(void);

/*
 * Creates an engine (no token opened yet). cfg values of 0 take the defaults above.
 * Returns 0 with *out set, -EINVAL (sessions or ring_size above their maximum), -ENOMEM.
 */
__attribute__((warn_unused_result))
int hsm_engine_create(const struct hsm_engine_cfg *cfg, struct hsm_engine **out);

/*
 * Adds a token to the pool, before hsm_engine_start. uri selects the token (token=, serial=,
 * slot-id=, ...) and may carry module-path= and pin-source=; other attributes are ignored.
 * Returns the token index (0..HSM_MAX_TOKENS-1), -EINVAL (bad URI, no module path), -ENOSPC
 * (HSM_MAX_TOKENS reached), -EBUSY (already started).
 */
__attribute__((warn_unused_result))
int hsm_engine_add_token(struct hsm_engine *e, const char *uri);

/*
 * Opens every token (module load, C_Initialize, login once per token, key lookup) and starts
 * the worker threads and the monitor. A token that cannot be opened starts out of service and
 * is probed. Returns 0 when at least one token is in service; -ENODEV when none is (the
 * engine still runs and probes); -EINVAL (no token added, or already started), -ENOMEM,
 * -EAGAIN (thread creation failed: the engine is then unusable; destroy it).
 */
__attribute__((warn_unused_result))
int hsm_engine_start(struct hsm_engine *e);

/*
 * Registers a signing key: uri's object= and/or id= select an EC private key, to be found on
 * every token of the pool (other attributes ignored). Handles are looked up once per token
 * (again when a token returns) and cached. Allowed before or after start.
 * Returns 0 with *id set; -EINVAL (no object=/id=), -ENOSPC (HSM_MAX_KEYS reached), -ENOENT
 * (started, and no token in service holds the key; the id is not allocated).
 */
__attribute__((warn_unused_result))
int hsm_engine_key_add(struct hsm_engine *e, const char *uri, uint32_t *id);

/*
 * Stops the threads (waiting for C_Sign calls in progress to return), completes every job
 * still queued with -ECANCELED, closes sessions, wipes the PINs and frees the engine (NULL
 * accepted). Queues should be destroyed first. In a forked child (see hsm_submit_burst) it
 * only frees memory.
 */
void hsm_engine_destroy(struct hsm_engine *e);

/* Whether token i is in service. */
bool hsm_engine_token_up(const struct hsm_engine *e, unsigned i);

/* Counters (relaxed snapshot). */
void hsm_engine_stats(const struct hsm_engine *e, struct hsm_stats *st);

/*
 * Creates a caller queue able to hold `depth` jobs in flight (rounded up to a power of two).
 * Returns 0 with *out set, -EINVAL (depth 0 or above 65536), -ENOMEM.
 */
__attribute__((warn_unused_result))
int hsm_queue_create(struct hsm_engine *e, unsigned depth, struct hsm_queue **out);

/*
 * Waits for the queue's jobs in flight to complete (bounded by their deadlines), drops their
 * completions, frees the queue (NULL accepted).
 */
void hsm_queue_destroy(struct hsm_queue *q);

/*
 * Submits up to n jobs, in order; never blocks. A job with a key id that was never added is
 * accepted and completed with -ENOKEY.
 * Returns the number accepted (0..n; fewer when the queue's depth or the submission ring is
 * full: backpressure), or -ECHILD in a forked child of the process that started the engine
 * (create a new engine there).
 */
__attribute__((warn_unused_result))
int hsm_submit_burst(struct hsm_queue *q, const struct hsm_job *jobs, unsigned n);

/* Moves up to n completions of this queue into c; never blocks. Returns the number moved. */
unsigned hsm_poll_burst(struct hsm_queue *q, struct hsm_completion *c, unsigned n);

/* Jobs submitted on q and not yet polled. */
unsigned hsm_queue_in_flight(const struct hsm_queue *q);

/*
 * Blocking signature (tools, control plane): signs digest with key, waiting at most about
 * timeout_ns (0: the default timeout). Returns 0 with sig set, or a completion status
 * (-ETIMEDOUT, -ENODEV, -EIO, -ENOKEY, -ECANCELED), -EAGAIN (the submission ring stayed full
 * until the deadline), -ECHILD.
 */
__attribute__((warn_unused_result))
int hsm_sign(struct hsm_engine *e, uint32_t key, const uint8_t digest[HSM_DIGEST_LEN],
	     uint8_t sig[HSM_SIG_LEN], uint64_t timeout_ns);

/* Context of the pp_signer adapter; owned by the caller, must outlive the signer. */
struct hsm_pp_signer {
	struct hsm_engine *e;
	uint32_t key;
	uint64_t timeout_ns;
};

/*
 * Makes s a pp_signer (crypto/pp.h) that signs through hsm_sign(ctx->e, ctx->key, ...), so
 * that pp_sign() works with an HSM key. Returns 0, or -EINVAL (NULL argument).
 */
__attribute__((warn_unused_result))
int hsm_pp_signer(struct pp_signer *s, struct hsm_pp_signer *ctx);

#endif
