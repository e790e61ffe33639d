/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy tables the lcores read per call: which trunk a call comes from (by source address
 * prefix and VLAN), who owns the calling TN, hence the attestation, the origid and the signing
 * credential; and the per-trunk failure policies. No DPDK types.
 *
 * Everything lives in one immutable struct pol_snapshot, built whole by a control thread
 * (from a struct cfg and a TN ownership table) and published by an RCU pointer swap (liburcu
 * QSBR). Readers never lock, allocate or make a syscall; a reload swaps the pointer, so no
 * packet is ever dropped or sees a half-built table. A replaced snapshot is freed through
 * call_rcu after a grace period.
 *
 * ---- Reader contract (QSBR, the same as dataplane/certcache/cache.h) ------------------------
 * A thread that calls pol_current() must be registered with liburcu QSBR
 * (rcu_register_thread(), or cache_thread_register(), or pol_thread_register()) and online.
 * The snapshot pointer returned, and every pointer reached through it (trunks, credentials,
 * strings), stays valid until the thread's next quiescent state (pol_quiescent(),
 * cache_quiescent() or rcu_quiescent_state(); an lcore: once per loop iteration) or until it
 * goes offline. A call parked across iterations must copy what it needs (e.g. the x5u, the
 * origid) or look the snapshot up again when it resumes. Under ThreadSanitizer use
 * pol_quiescent(): it also tells TSan about the grace period.
 *
 * ---- Writer contract ---------------------------------------------------------------------
 * pol_snapshot_build*(), pol_tn_parse(), pol_tn_load_file() allocate: control threads only.
 * pol_publish() serializes writers on an internal mutex. From a registered QSBR thread that
 * is online it frees the previous snapshot through call_rcu and returns at once; from any
 * other thread (unregistered, or offline) it waits for a grace period (synchronize_rcu, about
 * one lcore loop iteration) and frees it before returning. Never call it from a thread that
 * holds a snapshot pointer it still uses.
 */
#ifndef SHAKEND_POLICY_POLICY_H
#define SHAKEND_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/cfg.h"

#define POL_OWNER_NONE UINT32_MAX   /* a TN nobody owns */
#define POL_TN_MAX 15               /* digits of a TN (E.164) */
#define POL_OWNER_NAME_MAX 63       /* customer names in the TN table */
#define POL_TN_OWNERS_MAX (1u << 20) /* distinct customer names in one TN table */

/* ---- TN ownership table ------------------------------------------------------------------ */

/*
 * Ranges of TNs -> owning customer. A TN is 1..15 ASCII digits (canonical: no '+', no
 * separators; see crypto/tn.h). A range covers the TNs of the same number of digits
 * between its ends, inclusive: "12125550000-12125559999". Stored as sorted arrays (20 bytes a
 * range, adjacent ranges of one owner merged) and searched by binary search: O(log n).
 * Immutable and reference counted (snapshots share one table across reloads).
 */
struct pol_tntable;

/*
 * Parses a TN ownership file from memory (no I/O). Format, one entry per line:
 *     TN[-TN] CUSTOMER     # comment
 * TN: optional '+', 1..15 digits; a range's two ends have the same digit count and
 * start <= end. CUSTOMER: [A-Za-z0-9._-]{1,63} (a trunk's "customer" name). Fields are
 * separated by spaces or tabs; blank lines and '#' comments are ignored; CRLF is accepted.
 * Any overlap between two entries (even of one owner) is an error; adjacent ones are merged.
 * Lines need not be sorted (a sorted file loads faster). At most 2^32-1 lines.
 * On error *out is NULL and err names the line: "line 12: overlaps line 3 (...)".
 * Returns 0; -EINVAL (syntax or overlap; NULL buf with len > 0, NULL out); -E2BIG (more
 * than POL_TN_OWNERS_MAX customers); -ENOMEM.
 */
__attribute__((warn_unused_result))
int pol_tn_parse(const char *buf, size_t len, struct pol_tntable **out, char *err,
		 size_t errlen);

/* Maps the file at path and parses it (errors prefixed by the path). Returns as
 * pol_tn_parse() or -errno of open/fstat/mmap. */
__attribute__((warn_unused_result))
int pol_tn_load_file(const char *path, struct pol_tntable **out, char *err, size_t errlen);

/* Takes a reference (returns t). */
struct pol_tntable *pol_tn_ref(struct pol_tntable *t);
/* Drops a reference; frees at zero (NULL ignored). Not on a reader path of a published table:
 * snapshots drop theirs after a grace period. */
void pol_tn_free(struct pol_tntable *t);

/*
 * The owner of the canonical TN tn (len digits, 1..POL_TN_MAX; anything else owns nothing).
 * Returns an owner id (< pol_tn_owners(t)) or POL_OWNER_NONE. No allocation; any thread.
 */
uint32_t pol_tn_lookup(const struct pol_tntable *t, const char *tn, size_t len);

size_t pol_tn_ranges(const struct pol_tntable *t);  /* ranges stored (after merging) */
size_t pol_tn_owners(const struct pol_tntable *t);  /* distinct owner names */
/* The owner id of a customer name, or POL_OWNER_NONE. */
uint32_t pol_tn_owner_find(const struct pol_tntable *t, const char *name);
/* The name of an owner id; "" when out of range. */
const char *pol_tn_owner_name(const struct pol_tntable *t, uint32_t owner);

/* ---- snapshot contents -------------------------------------------------------------------- */

struct pol_trunk {
	const char *name;
	const char *customer;         /* TN table owner name (customers); NULL for others */
	uint32_t index;               /* position in cfg trunks[] */
	uint32_t tn_owner;            /* owner id in the snapshot's TN table, POL_OWNER_NONE */
	enum cfg_trunk_kind kind;
	uint16_t vlan;                /* CFG_VLAN_ANY: any */
	char attest_override;         /* 'A', 'B', 'C' or 0 */
	enum cfg_verify_fail on_verify_failure;
	enum cfg_sign_fail on_sign_failure;
	char origid[CFG_UUID_LEN + 1];
};

struct pol_cred {
	const char *id;
	const char *key;              /* "pkcs11:..." (the HSM engine's key URI) */
	const char *x5u;
	const char *cert;             /* local PEM path or NULL */
	unsigned attest;              /* CFG_ATTEST_* mask */
	const char *origid;           /* NULL: any origid */
	uint32_t index;               /* position in the credential table */
};

/* Scalars the pipelines read (copied from the cfg the snapshot was built from). */
struct pol_params {
	uint32_t sign_deadline_ms;    /* hsm.deadline_ms */
	uint32_t park_timeout_ms;     /* verify.park_timeout_ms */
	uint32_t fetch_timeout_ms;
	uint32_t freshness_s;
	uint32_t log_rate_per_s;
	enum cfg_log_level log_level;
};

struct pol_snapshot;

/* ---- decisions (readers: lcores) --------------------------------------------------------- */

struct pol_decision {
	const struct pol_trunk *trunk; /* NULL: unknown source */
	const struct pol_cred *cred;   /* credential to sign with; NULL when none fits */
	const char *origid;            /* the trunk's origid, sign.unknown_origid, or NULL */
	char attest;                   /* 'A', 'B' or 'C' */
	bool sign;                     /* cred and origid set: sign; else forward unsigned */
	enum cfg_verify_fail on_verify_failure; /* the trunk's, annotate for unknown sources */
	enum cfg_sign_fail on_sign_failure;     /* the trunk's, unsigned for unknown sources */
};

/*
 * The signing decision for a call from source address src (family 4 or 6; IPv4 in src[0..3])
 * on VLAN vlan (0 untagged), calling TN tn (canonical digits, tn_len 0 when the call has none):
 *  - trunk: longest prefix match of src among trunks whose vlan is vlan or any; at equal
 *    prefix length a trunk with this exact VLAN beats one with any VLAN;
 *  - attest: the trunk's attest_override if set; otherwise A when the trunk is a customer
 *    owning tn in the TN table, B when it is a customer and does not, C for peers, gateways
 *    and unknown sources;
 *  - origid: the trunk's; for an unknown source sign.unknown_origid (or NULL: not signed);
 *  - cred: the first credential (in config order) whose class includes attest and whose
 *    origid equals the call's, else the first whose class includes attest and has no origid.
 * Lock-free, allocation-free, O(#prefix lengths * log #trunks + log #TN ranges).
 * Returns 0 with *out filled; -EINVAL (s, src or out NULL, family not 4 or 6).
 */
int pol_decide(const struct pol_snapshot *s, uint8_t family, const uint8_t *src, uint16_t vlan,
	       const char *tn, size_t tn_len, struct pol_decision *out);

/* The trunk of a source as in pol_decide() (verification side: failure policy), or NULL. */
const struct pol_trunk *pol_trunk_find(const struct pol_snapshot *s, uint8_t family,
				       const uint8_t *src, uint16_t vlan);

/* The credential for (attest 'A'/'B'/'C', origid or NULL) as in pol_decide(), or NULL. */
const struct pol_cred *pol_cred_select(const struct pol_snapshot *s, char attest,
				       const char *origid);

/*
 * The listener a SIP datagram belongs to: to address dst (family 4/6) and UDP port dport, on
 * VLAN vlan, received on DPDK port iface. Listeners with an address match it exactly; inline
 * listeners without one match any destination. First match in config order; NULL when none.
 */
const struct cfg_listener *pol_listener_find(const struct pol_snapshot *s, uint8_t family,
					     const uint8_t *dst, uint16_t dport, uint16_t vlan,
					     uint16_t iface);

/* Accessors (pointers valid as the snapshot). */
const struct pol_params *pol_snapshot_params(const struct pol_snapshot *s);
const struct pol_trunk *pol_snapshot_trunks(const struct pol_snapshot *s, size_t *n);
const struct pol_cred *pol_snapshot_creds(const struct pol_snapshot *s, size_t *n);
const struct cfg_listener *pol_snapshot_listeners(const struct pol_snapshot *s, size_t *n);
const struct pol_tntable *pol_snapshot_tntable(const struct pol_snapshot *s); /* may be NULL */
/* Publication number: 1 for the first snapshot published, +1 each publish; 0 unpublished. */
uint64_t pol_snapshot_generation(const struct pol_snapshot *s);

/* ---- building (control thread) ---------------------------------------------------------- */

/*
 * Builds a snapshot from cfg (copied: cfg may be freed afterwards) and tn (a reference is
 * taken; NULL: no TN table, customers get B). Customer trunks are linked to their owner id in
 * tn by name. Errors: two trunks with the same (prefix, vlan) "trunks[3].prefix[0]: same
 * prefix and vlan as trunks[1]".
 * Returns 0 with *out (unpublished: publish it or free it with pol_snapshot_free());
 * -EINVAL; -ENOMEM.
 */
__attribute__((warn_unused_result))
int pol_snapshot_build(const struct cfg *cfg, struct pol_tntable *tn, struct pol_snapshot **out,
		       char *err, size_t errlen);

/*
 * As pol_snapshot_build() with the TN table loaded from cfg->tn_table (none when NULL). When
 * prev is not NULL and names the same file, unchanged (device, inode, size, mtime), its
 * table is shared instead of reloaded. prev must stay alive during the call (the writer's own
 * current snapshot, or pol_current() on a registered thread).
 */
__attribute__((warn_unused_result))
int pol_snapshot_load(const struct cfg *cfg, const struct pol_snapshot *prev,
		      struct pol_snapshot **out, char *err, size_t errlen);

/*
 * A copy of base with the credential table replaced by creds[0..n-1] (validated as the
 * config's: unique ids, https x5u, non-zero class); trunks and TN table shared. For the
 * control plane after a key rotation. Returns as pol_snapshot_build().
 */
__attribute__((warn_unused_result))
int pol_snapshot_with_creds(const struct pol_snapshot *base, const struct cfg_cred *creds,
			    size_t n, struct pol_snapshot **out, char *err, size_t errlen);

/* Frees a snapshot that was never published (NULL ignored). */
void pol_snapshot_free(struct pol_snapshot *s);

/* ---- publication (RCU) ------------------------------------------------------------------- */

/*
 * Makes s the current snapshot (s NULL: none) and frees the previous one after a grace
 * period (call_rcu, or synchronize_rcu when the caller is not an online QSBR thread: see the
 * writer contract). s must not be published already. Any thread. Returns the new generation
 * number (1 for the first publish).
 */
uint64_t pol_publish(struct pol_snapshot *s);

/* The current snapshot, or NULL. Readers: registered online QSBR threads (see above). */
const struct pol_snapshot *pol_current(void);

/* Unpublishes the current snapshot and waits until every retired snapshot is freed
 * (rcu_barrier). At exit, after the readers stopped. Any thread. */
void pol_shutdown(void);

/* QSBR thread helpers (wrappers of liburcu QSBR; see the reader contract). */
void pol_thread_register(void);
void pol_thread_unregister(void);
void pol_quiescent(void);
void pol_thread_offline(void);
void pol_thread_online(void);

#endif
