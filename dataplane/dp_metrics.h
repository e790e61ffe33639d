/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counters of shakend for operators: a Prometheus text endpoint (a small HTTP/1.0 server
 * thread, GET /metrics only) and DPDK telemetry commands (/shakend/stats, /shakend/cache,
 * /shakend/hsm, read with dpdk-telemetry.py or the telemetry socket).
 *
 * The counters are collected (dp_metrics_collect, on the reading thread: the lcores' own
 * counters are read, never locked) into a struct dp_metrics_snap of plain numbers, which the
 * pure formatters turn into text: dp_metrics_prometheus() (families shakend_*, labelled by
 * lcore and reason/outcome/code/check where that makes sense, docs/operations.md) and
 * dp_metrics_json() (sums over the lcores, for the control socket).
 */
#ifndef SHAKEND_DATAPLANE_DP_METRICS_H
#define SHAKEND_DATAPLANE_DP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/verify.h"
#include "dataplane/certcache/cache.h"
#include "dataplane/certcache/fetch.h"
#include "dataplane/dp.h"
#include "dataplane/dp_log.h"
#include "dataplane/dp_ops.h"
#include "dataplane/dp_pipe.h"
#include "hsm/hsm.h"

#define DP_METRICS_ADDR_DEFAULT "127.0.0.1:9464"
#define DP_METRICS_REQ_MAX 4096       /* bytes of an HTTP request head */
#define DP_METRICS_BUF (1u << 20)     /* bytes of a /metrics answer */

/* Where the counters are read (pointers borrowed; NULL members: not reported). */
struct dp_metrics_src {
	const struct dp *dp;
	const struct dp_pipe *pipe;
	const struct cache *cache;
	const struct fetch *fetch;
	const struct hsm_engine *hsm;
	const struct dp_log *log;
	const struct dp_ops *ops;
};

/* Plain numbers: the input of the formatters. */
struct dp_metrics_snap {
	unsigned n_lcores;
	unsigned lcore_id[DP_MAX_LCORES];
	unsigned parked[DP_MAX_LCORES];
	struct dp_stats dp[DP_MAX_LCORES];
	bool have_pipe, have_cache, have_fetch, have_hsm, have_log, have_ops;
	struct dp_pipe_stats pipe[DP_MAX_LCORES];
	struct cache_stats cache;
	struct fetch_stats fetch;
	struct hsm_stats hsm;
	struct dp_log_stats log;
	struct dp_ops_stats ops;
};

/* Reads every counter of src into s (any thread but an lcore). */
void dp_metrics_collect(const struct dp_metrics_src *src, struct dp_metrics_snap *s);

/*
 * The Prometheus text exposition (version 0.0.4) of s into buf (cap bytes, NUL-terminated):
 * "# HELP"/"# TYPE" once per family, then its samples, e.g.
 *   shakend_sign_unsigned_total{lcore="0",reason="timeout"} 3
 * Pure. Returns the length, or -ENOSPC (buf too small), -EINVAL.
 */
long dp_metrics_prometheus(const struct dp_metrics_snap *s, char *buf, size_t cap);

/*
 * A JSON object of s summed over the lcores ({"lcores":1,"rx":10,"sign_unsigned.timeout":3,
 * ...}); cache_only: the cache and fetcher counters only. Pure. Returns the length, or
 * -ENOSPC, -EINVAL.
 */
long dp_metrics_json(const struct dp_metrics_snap *s, bool cache_only, char *buf, size_t cap);

/* Short names of verification checks ("no_identity", "signature", ...); "" out of range. */
const char *dp_metrics_check_name(enum pp_check c);

/*
 * Parses an HTTP request head in buf[0..len). Pure. Returns 0 when more bytes are needed
 * (no blank line yet); 200 for "GET /metrics" (a query string allowed; *head set for HEAD);
 * 404 another path; 405 another method; 400 malformed; 431 when len reaches
 * DP_METRICS_REQ_MAX without the end of the head.
 */
int dp_metrics_http_parse(const char *buf, size_t len, bool *head);

struct dp_metrics;

/*
 * Registers the telemetry commands (after rte_eal_init; commands stay registered for the
 * process: a later dp_metrics_start re-targets them) and, when addr is not NULL, starts the
 * HTTP server thread on addr ("host:port" or "[v6]:port"). src is copied (its pointers must
 * outlive dp_metrics_stop). Returns 0 with *out; -EINVAL (bad addr); -errno of
 * getaddrinfo (-EADDRNOTAVAIL), socket, bind (-EADDRINUSE), listen, pthread_create; -ENOMEM.
 */
__attribute__((warn_unused_result))
int dp_metrics_start(const struct dp_metrics_src *src, const char *addr, struct dp_metrics **out);

/* Sets the control thread whose counters are reported (after dp_ops_start; any thread). */
void dp_metrics_set_ops(struct dp_metrics *m, const struct dp_ops *o);

/* The port the HTTP server listens on (0: none). */
uint16_t dp_metrics_port(const struct dp_metrics *m);

/* Stops the server and detaches the telemetry commands (they answer empty) (NULL ignored). */
void dp_metrics_stop(struct dp_metrics *m);

/* A JSON object for the control socket's stats commands (struct dp_ops_hooks.stats
 * signature; arg: the struct dp_metrics). */
long dp_metrics_ops_stats(void *arg, enum dp_ops_cmd cmd, char *buf, size_t cap);

#endif
