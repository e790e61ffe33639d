/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread of shakend: configuration reload (SIGHUP and the control socket) and the
 * control socket's commands. Never an lcore; no DPDK types here (what needs the dataplane
 * comes through struct dp_ops_hooks).
 *
 * Reload: the config file is read again and validated whole (cfg_load_file); on an error the
 * configuration in force stays and the error (naming the field by its JSON path) is returned
 * to the requester, logged and counted. On success the hooks' prepare step runs (e.g. HSM keys
 * of new credentials), a new policy snapshot is built (trunks, TN table, credentials, verify
 * and sign parameters) and published by RCU: lcores keep running and pick it up at their next
 * call, no packet waits or is dropped. The trust store is rebuilt from its file when one is
 * configured. Sections that only a restart applies (EAL, ports, listeners, HSM module and
 * tokens, fetcher lists, cache sizes, telemetry, control socket) are listed in the reply.
 *
 * Control socket: a unix stream socket; requests and replies are one JSON object per line
 * (at most DP_OPS_REQ_MAX bytes a request):
 *   {"cmd":"reload"}       -> {"ok":true,"cmd":"reload","generation":2,...}
 *   {"cmd":"stats"}        -> {"ok":true,"cmd":"stats","generation":2,...,"counters":{...}}
 *   {"cmd":"cache-stats"}  -> {"ok":true,"cmd":"cache-stats","counters":{...}}
 *   {"cmd":"version"}      -> {"ok":true,"cmd":"version","version":"0.1.0"}
 * Errors: {"ok":false,"error":"..."}.
 */
#ifndef SHAKEND_DATAPLANE_DP_OPS_H
#define SHAKEND_DATAPLANE_DP_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/cfg.h"

struct fetch;

#define DP_OPS_REQ_MAX 512          /* bytes of one request line, newline excluded */
#define DP_OPS_REPLY_MAX (256 * 1024) /* bytes of one reply line */
#define DP_OPS_CLIENTS_MAX 8        /* control socket connections at once */
#define DP_OPS_SOCKET_DEFAULT "/run/shakend/control.sock"

enum dp_ops_cmd {
	DP_OPS_NONE = 0,
	DP_OPS_RELOAD,
	DP_OPS_STATS,
	DP_OPS_CACHE_STATS,
	DP_OPS_VERSION,
};

struct dp_ops_req {
	enum dp_ops_cmd cmd;
};

/*
 * Parses one request: a JSON object whose only member is "cmd" with a string value, e.g.
 * {"cmd":"reload"}; whitespace anywhere between tokens, a trailing CR accepted. Strings are
 * printable ASCII (escapes \" \\ \/ \b \f \n \r \t and \u00XX below 0x80, not NUL), at most
 * 31 bytes. Pure: no allocation, no I/O; reads only buf[0..len).
 * Returns 0 with out->cmd set; -EINVAL with err (NUL-terminated, truncated to errlen) naming
 * the problem ("cmd: unknown command \"x\"", "offset 3: expected '\"'", ...); -E2BIG when len
 * exceeds DP_OPS_REQ_MAX.
 */
__attribute__((warn_unused_result))
int dp_ops_req_parse(const char *buf, size_t len, struct dp_ops_req *out, char *err,
		     size_t errlen);

/* "reload", "stats", "cache-stats", "version"; "" otherwise. */
const char *dp_ops_cmd_name(enum dp_ops_cmd c);

/*
 * Writes s as a JSON string with its quotes into buf (cap bytes, NUL-terminated). Control
 * characters are escaped \u00XX, bytes >= 0x80 as \u00XX too (no UTF-8 passes unchecked).
 * Returns the length, or -ENOSPC (buf holds a truncated prefix, still NUL-terminated).
 */
long dp_ops_json_str(char *buf, size_t cap, const char *s);

/*
 * Names of the sections whose change between a (in force) and b (new) needs a restart, as
 * JSON strings separated by commas into buf (e.g. "\"listeners\",\"hsm\""; "" when none).
 * Returns how many sections changed (0..), or -ENOSPC. Pure.
 */
int dp_ops_restart_diff(const struct cfg *a, const struct cfg *b, char *buf, size_t cap);

/* Called on the control thread (registered QSBR reader, online during prepare/applied). */
struct dp_ops_hooks {
	void *arg;
	/* Before the new snapshot is published: checks and prepares what the snapshot does not
	 * hold (e.g. registers HSM keys of new credentials). 0, or -errno with err naming the
	 * field; the reload is then refused. Optional. */
	int (*prepare)(void *arg, const struct cfg *cur, const struct cfg *next, char *err,
		       size_t errlen);
	/* After the publication (e.g. the log rate). next stays valid only during the call.
	 * Optional. */
	void (*applied)(void *arg, const struct cfg *next, uint64_t generation);
	/* Writes a JSON object ("{...}") of counters for cmd (DP_OPS_STATS or
	 * DP_OPS_CACHE_STATS) into buf. Returns its length or -errno. Optional. */
	long (*stats)(void *arg, enum dp_ops_cmd cmd, char *buf, size_t cap);
};

struct dp_ops_cfg {
	const char *config_path;    /* read again at each reload (required) */
	const char *socket_path;    /* unix socket path; NULL: no control socket */
	const struct cfg *cfg;      /* the configuration in force at start (borrowed: must
				     * outlive dp_ops_stop) */
	uint64_t generation;        /* of the policy snapshot published at start */
	struct fetch *fetch;        /* its trust store is reloaded; NULL: none */
	struct dp_ops_hooks hooks;
	bool sighup;                /* install the SIGHUP handler (reload) */
};

struct dp_ops_stats {
	uint64_t generation;        /* policy snapshot in force */
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	uint64_t requests;          /* control socket requests */
	uint64_t bad_requests;      /* refused by the parser */
	int64_t last_reload_unix;   /* time of the last successful reload; 0 none */
};

struct dp_ops;

/*
 * Starts the control thread: registers it with liburcu QSBR (offline but while it
 * reloads), creates the socket (the directory is created when missing, a stale socket file
 * replaced; mode 0660) and, with cfg->sighup, installs the SIGHUP handler.
 * Returns 0 with *out; -EINVAL (no config_path or cfg); -ENAMETOOLONG (socket path);
 * -errno of socket/bind/listen/pthread_create.
 */
__attribute__((warn_unused_result))
int dp_ops_start(const struct dp_ops_cfg *cfg, struct dp_ops **out);

/* Stops the thread, closes and removes the socket, frees what reloads made (NULL ignored).
 * SIGHUP is ignored afterwards. */
void dp_ops_stop(struct dp_ops *o);

/* Asks the control thread to reload (async-signal-safe: an atomic flag and a write to an
 * eventfd). What the SIGHUP handler calls. */
void dp_ops_request_reload(void);

/*
 * Handles one request line (without its newline) and writes the reply line (JSON, without a
 * newline, NUL-terminated) into reply. A reload runs here, on the calling thread, which must
 * be the control thread or, in tests, a thread that is not a QSBR reader. Returns the reply
 * length (truncated replies end as valid JSON when cap >= 64), -EINVAL (cap < 64).
 */
long dp_ops_handle(struct dp_ops *o, const char *line, size_t len, char *reply, size_t cap);

/* Counters (any thread). */
void dp_ops_stats(const struct dp_ops *o, struct dp_ops_stats *out);

/* The last reload error ("" none) copied into buf (any thread). */
void dp_ops_last_error(struct dp_ops *o, char *buf, size_t cap);

#endif
