/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The certificate cache of the verification service: x5u URL -> what verification needs from
 * the certificate, parsed once (the ES256 public key prepared for verification, the decoded
 * TNAuthList, SPC, validity, warnings), or a negative entry for a URL that recently failed.
 *
 * Shape: one liburcu lock-free hash table (cds_lfht, QSBR flavour) keyed by the URL bytes.
 * Readers (DPDK lcores, verify threads) look up without a lock, a syscall or an allocation.
 * Writers (the x5u fetcher threads and the control thread that runs cache_maintain()) publish
 * whole immutable entries and serialize among themselves on a mutex; a replaced or evicted
 * entry is freed with call_rcu after a grace period, never on a reader path.
 *
 * Single flight: a lookup that misses either wins the claim for the URL (CACHE_MISS_CLAIMED:
 * this caller must have the fetch done) or learns that a fetch is in flight
 * (CACHE_MISS_PENDING), and may then register a waiter (a completion ring and a cookie) that is
 * told when the fetch completes. Exactly one caller wins the claim for a URL until the fetch is
 * published, released or timed out. A hit past the entry's refresh time still returns the entry
 * and also hands exactly one caller a background refresh claim (cache_ref.refresh), so hot
 * entries are refetched before they expire and never miss.
 *
 * Lifetimes: a valid entry lives until min(now + TTL, notAfter), TTL being the HTTP max-age
 * (Cache-Control max-age or Expires, given by the fetcher in seconds) clamped to
 * [ttl_floor_s, ttl_ceiling_s]; it is refreshed at refresh_pct % of its lifetime. A negative
 * entry lives neg_ttl_min_s, doubling with each consecutive failure of its URL up to
 * neg_ttl_max_s. The cache holds at most max_entries entries and max_bytes bytes (accounted
 * sizes); beyond that it evicts by sampled LRU (the least recently used of a few random
 * entries; entries with a fetch in flight are never evicted).
 *
 * Times are Unix seconds (CLOCK_REALTIME), the same clock as the certificates' notAfter.
 *
 * ---- Reader contract (QSBR) ----------------------------------------------------------------
 * Every thread that calls any function below except cache_create(), cache_destroy(),
 * cache_cfg_default(), cache_stats() and the string helpers must first call
 * cache_thread_register() (once per thread; cache_thread_unregister() before it exits). A
 * registered thread is "online": it must call cache_quiescent() regularly (an lcore: once per
 * loop iteration) or go offline (cache_thread_offline()) before it blocks or idles for long,
 * and come back online (cache_thread_online()) before its next cache call. A thread that does
 * neither delays every grace period, hence every free, and memory grows: it never blocks
 * readers, it only stalls reclamation.
 *
 * A cache_ref (and the cache_entry it points to) is valid only until the calling thread's
 * next cache_quiescent() or cache_thread_offline(): use the key within the same loop iteration
 * and copy out what must live longer. Lookups never block, never allocate and never make a
 * syscall; they run in O(1) expected time (a hash probe and a URL compare). A dataplane that
 * handles packets in bursts should use cache_lookup_burst(): on a large table most of a single
 * lookup's time is spent waiting for memory.
 *
 * These wrappers are the liburcu QSBR calls (rcu_register_thread, rcu_quiescent_state,
 * rcu_thread_offline/online); a thread that already uses liburcu QSBR for other data may use
 * those directly instead. Do not mix with another liburcu flavour in the same thread.
 *
 * ---- Writer contract -----------------------------------------------------------------------
 * cache_publish_*() and cache_maintain() take the cache's writer mutex, allocate and may call
 * call_rcu: run them on fetcher / control threads, never on an lcore. cache_maintain() should
 * run about every 100 ms-1 s: it expires entries, frees negative entries whose back-off has
 * lapsed, and cancels fetches in flight for longer than flight_timeout_s or released with
 * cache_claim_release() (their waiters are woken with CACHE_CANCELLED).
 */
#ifndef SHAKEND_CERTCACHE_CACHE_H
#define SHAKEND_CERTCACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"
#include "crypto/pp.h"

#define CACHE_URL_MAX 1023        /* longest URL cached (X5U_URL_MAX); longer: -ENAMETOOLONG */
#define CACHE_THREADS_MAX 128     /* registered threads with private counters; more share one */
#define CACHE_WAITERS_MAX 1024    /* upper bound of cfg.waiters_per_flight */
#define CACHE_BURST_MAX 64        /* lookups cache_lookup_burst() interleaves at once */

struct cache;
struct hsm_ring;

/* ---- configuration ------------------------------------------------------------------------ */

struct cache_cfg {
	size_t max_entries;          /* entries (valid + negative), >= 1; default 131072 */
	size_t max_bytes;            /* accounted bytes of all entries, >= 4096; default 256 MiB */
	uint32_t ttl_floor_s;        /* shortest valid lifetime; default 60 */
	uint32_t ttl_ceiling_s;      /* longest valid lifetime; default 86400 (24 h) */
	uint32_t ttl_default_s;      /* lifetime when the response had no max-age/Expires (max_age
				      * < 0), then clamped; default 3600 */
	uint32_t refresh_pct;        /* refresh at this % of the lifetime, 1..100; default 80 */
	uint32_t neg_ttl_min_s;      /* first negative lifetime; default 5 */
	uint32_t neg_ttl_max_s;      /* back-off ceiling, >= neg_ttl_min_s; default 300 */
	uint32_t flight_timeout_s;   /* a claim unpublished this long is cancelled by
				      * cache_maintain(); default 10 */
	uint32_t max_flights;        /* fetches in flight at once (claims), 1..2^20; default 1024 */
	uint32_t waiters_per_flight; /* waiters one fetch can wake, 1..CACHE_WAITERS_MAX;
				      * default 64 */
	uint32_t key_cost;           /* bytes accounted per prepared public key (OpenSSL objects
				      * the cache cannot measure; about 700 B
				      * with OpenSSL 3.0); default 1024 */
};

/* Fills cfg with the defaults above. */
void cache_cfg_default(struct cache_cfg *cfg);

/*
 * Creates a cache. cfg NULL means the defaults; a zero field means its default.
 * Returns 0 with *out set; -EINVAL when a field is out of the ranges above (or out NULL);
 * -ENOMEM. The caller need not be a registered thread.
 */
__attribute__((warn_unused_result))
int cache_create(const struct cache_cfg *cfg, struct cache **out);

/*
 * Destroys c (NULL ignored): frees every entry, waits for pending call_rcu frees
 * (rcu_barrier). No other thread may use c any more; fetches in flight are abandoned (their
 * waiters are not woken). The calling thread is either not registered or registered through
 * cache_thread_register() and online (it is briefly taken offline).
 */
void cache_destroy(struct cache *c);

/* ---- threads (QSBR) ----------------------------------------------------------------------- */

/* Registers the calling thread as an RCU reader (online) and gives it private counters.
 * Returns 0, or -EALREADY when the thread is registered already. */
int cache_thread_register(void);
/* Unregisters the calling thread (no-op when it is not registered). */
void cache_thread_unregister(void);
/* Announces a quiescent state: every cache_ref the thread holds becomes invalid. */
void cache_quiescent(void);
/* Goes offline (before blocking or idling) / back online. */
void cache_thread_offline(void);
void cache_thread_online(void);

/* ---- entries ---------------------------------------------------------------------------- */

/* Why a URL has no usable certificate (negative entries). */
enum cache_fail {
	CACHE_FAIL_NONE = 0,
	CACHE_FAIL_URL,      /* URL refused by the fetch policy (scheme, port, host, SSRF) - 436 */
	CACHE_FAIL_FETCH,    /* DNS, connect, TLS, timeout, refused address - 436 */
	CACHE_FAIL_HTTP,     /* HTTP status other than 200 - 436 */
	CACHE_FAIL_TOO_BIG,  /* body over the cap - 436 */
	CACHE_FAIL_PARSE,    /* body holds no parsable certificate chain - 437 */
	CACHE_FAIL_CERT,     /* certificate failed an STI check (detail: enum cert_check) - 437 */
	CACHE_FAIL_COUNT,
};

/* The SIP response code for a failure kind: 436 (cannot be obtained) or 437 (obtained but
 * untrusted or invalid); 0 for CACHE_FAIL_NONE or out of range. */
int cache_fail_sip_code(enum cache_fail f);
/* A static name, e.g. "fetch failed"; "" when out of range. */
const char *cache_fail_str(enum cache_fail f);

/*
 * A valid entry: a certificate that passed every strict STI check that does not depend on the
 * call (checked with iat 0 and no orig TN). Per call the verifier still checks iat against
 * [not_before, not_after] and the calling TN with cert_tnauth_covers(&e->tnauth, tn).
 * Immutable once published (a refresh publishes a new entry); read-only to callers.
 */
struct cache_entry {
	const char *url;            /* the x5u URL (not NUL-terminated; url_len bytes) */
	size_t url_len;
	struct pp_es256_pub pub;    /* the leaf key, ready for pp_es256_pub_verify() */
	struct cert_tnauth tnauth;  /* decoded TNAuthList (n == 0 when the check was off) */
	char spc[CERT_SPC_MAX + 1]; /* first SPC, "" when none */
	uint32_t warned;            /* cert_result.warned: checks that failed in warn mode */
	int64_t not_before;         /* leaf validity, Unix seconds */
	int64_t not_after;
	int64_t fetched_at;         /* publish time */
	int64_t expires_at;         /* no longer a hit from this second on */
	int64_t refresh_at;         /* a hit from this second on claims a refresh (a failed
				     * refresh pushes the claim back; this field keeps the first) */
	size_t bytes;               /* accounted size */
};

/* Outcome of a lookup. */
enum cache_result {
	CACHE_HIT = 0,        /* ref->entry is a valid entry (see ref->refresh) */
	CACHE_HIT_NEGATIVE,   /* the URL failed recently: answer ref->fail's code, do not fetch */
	CACHE_MISS_CLAIMED,   /* nothing usable; this caller won the claim and must have the URL
			       * fetched (then the fetcher publishes) or call cache_claim_release() */
	CACHE_MISS_PENDING,   /* a fetch is in flight: cache_wait() or retry later */
	CACHE_BUSY,           /* nothing usable and no claim could be made (max_flights fetches in
			       * flight): answer 436 or retry later; nothing to release */
	CACHE_CANCELLED,      /* (wake-ups only) the fetch was cancelled: look up again */
};

/* A static name, e.g. "miss-claimed"; "" when out of range. */
const char *cache_result_str(enum cache_result r);

struct cache_ref {
	const struct cache_entry *entry; /* CACHE_HIT: the entry; NULL otherwise */
	bool refresh;          /* CACHE_HIT: this caller also won the background refresh claim:
				* have the URL fetched (without waiting) or cache_claim_release() */
	enum cache_fail fail;  /* CACHE_HIT_NEGATIVE: why; CACHE_FAIL_NONE otherwise */
	int detail;            /* CACHE_HIT_NEGATIVE: the publisher's detail (cert_check for
				* CACHE_FAIL_CERT, HTTP status for CACHE_FAIL_HTTP, -errno ...) */
	int64_t retry_at;      /* CACHE_HIT_NEGATIVE: when the negative entry lapses */
};

/*
 * The seeded hash of a URL (seed random per cache: URLs come from the network). Pure; any
 * thread. A dataplane that looks the same URL up several times can hash it once.
 */
uint64_t cache_hash(const struct cache *c, const char *url, size_t len);

/*
 * Looks up url (len bytes, 1..CACHE_URL_MAX, compared byte for byte: no normalization) at
 * time now and fills *ref. Lock-free, allocation-free, no syscall; any registered online
 * thread. See enum cache_result for the outcomes; ref is valid until the caller's next
 * quiescent state. A hit updates the entry's last-use stamp (for eviction) only when the
 * second has changed.
 * Returns the enum cache_result (>= 0), -EINVAL (c, url or ref NULL; len 0),
 * -ENAMETOOLONG (len > CACHE_URL_MAX).
 */
__attribute__((warn_unused_result))
int cache_lookup(struct cache *c, const char *url, size_t len, int64_t now,
		 struct cache_ref *ref);

/* As cache_lookup() with hash == cache_hash(c, url, len) computed by the caller (a wrong hash
 * gives a miss, and may insert a duplicate that only a publish or cache_maintain() removes). */
__attribute__((warn_unused_result))
int cache_lookup_hashed(struct cache *c, uint64_t hash, const char *url, size_t len,
			int64_t now, struct cache_ref *ref);

/*
 * Looks up n URLs at once, as n calls of cache_lookup_hashed() (or of cache_lookup() when
 * hashes is NULL) would, in order: refs[i] and rcs[i] get exactly what the i-th call would
 * return (an enum cache_result, or -EINVAL for urls[i] NULL or lens[i] 0, -ENAMETOOLONG for
 * lens[i] > CACHE_URL_MAX; such an element leaves refs[i] untouched). The lookups are
 * interleaved CACHE_BURST_MAX at a time (hash and prefetch the index buckets of all, then the
 * entries of all, then compare), so that their memory misses overlap: on a table much larger
 * than the CPU caches a burst of 16..64 costs a fraction of as many single lookups. The same
 * URL may appear several times (the first miss claims, the next ones are pending).
 * Lock-free, allocation-free, no syscall; any registered online thread; refs valid until the
 * caller's next quiescent state.
 * Returns n (every element handled, including those with an error in rcs[i]), or -EINVAL
 * (c, urls, lens, refs or rcs NULL, or n > INT_MAX).
 */
__attribute__((warn_unused_result))
int cache_lookup_burst(struct cache *c, const uint64_t *hashes, const char *const *urls,
		       const size_t *lens, unsigned n, int64_t now, struct cache_ref *refs,
		       int *rcs);

/*
 * Gives up a claim won by cache_lookup() (CACHE_MISS_CLAIMED, or ref.refresh) when the fetch
 * cannot be requested (e.g. the fetcher's request ring is full). Lock-free, no allocation: the
 * claim is marked abandoned and the next cache_maintain() cancels it (waiters get
 * CACHE_CANCELLED). Returns 0, -ENOENT when url has no fetch in flight, -EINVAL, -ENAMETOOLONG.
 */
int cache_claim_release(struct cache *c, const char *url, size_t len);

/* ---- waiting for a fetch in flight -------------------------------------------------------- */

/* What a waiter receives through its ring when the fetch completes (ring element size must
 * be sizeof(struct cache_wake)). */
struct cache_wake {
	uint64_t cookie;   /* the waiter's cookie */
	int32_t result;    /* CACHE_HIT (a valid entry was published), CACHE_HIT_NEGATIVE
			    * (a negative entry was published: fail says why) or CACHE_CANCELLED */
	uint16_t fail;     /* enum cache_fail for CACHE_HIT_NEGATIVE */
	uint16_t reserved;
};

struct cache_waiter {
	struct hsm_ring *ring; /* completion ring, element size sizeof(struct cache_wake) */
	uint64_t cookie;       /* returned as is */
};

/*
 * Registers w to be told when the fetch in flight for url completes: the publisher (or
 * cache_maintain(), on cancel) enqueues one struct cache_wake {w->cookie, ...} into w->ring.
 * The waiter then looks url up again (the entry itself is not passed). w is copied: the
 * caller's struct need not outlive the call, but the ring must outlive the fetch (until the
 * wake arrives or the caller's park timeout is over and the ring is still alive). When the
 * ring is full at completion the wake is dropped and counted (stats.wake_dropped): callers
 * must park with a timeout. Lock-free, no allocation; any registered online thread.
 * Returns 0 (registered); -EAGAIN when no fetch is in flight for url any more (it completed
 * or was never started: look up again); -ENOSPC when the fetch has waiters_per_flight
 * waiters already (park with a timeout and retry the lookup); -EINVAL (NULL argument, len 0,
 * w->ring NULL), -ENAMETOOLONG.
 */
__attribute__((warn_unused_result))
int cache_wait(struct cache *c, const char *url, size_t len, const struct cache_waiter *w);

/* ---- publishing (fetcher / control threads) ---------------------------------------------- */

/*
 * Publishes the outcome of fetching url and running cert_sti_check() on it (with iat 0 and no
 * orig TN: those checks are per call). res->failed == CERT_OK: a valid entry holding its own
 * reference to res->pkey (prepared with pp_es256_pub_init; the caller still owns res), with
 * lifetime from http_max_age (seconds from Cache-Control max-age or Expires; < 0 when the
 * response had neither) as described above, never past res->not_after. Otherwise (or when
 * res->not_after <= now): a negative entry CACHE_FAIL_CERT with detail res->failed (or
 * CERT_EXPIRED). The new entry replaces whatever url had, wakes the waiters of its fetch in
 * flight, ends the claim and may evict other entries to stay within bounds.
 * Publishing without a claim (preloading) is allowed. Takes the writer mutex; allocates.
 * Returns 0 (valid), 1 (published as negative), -EINVAL (NULL argument, len 0, CERT_OK
 * without pkey or with a key that is not EC P-256), -ENAMETOOLONG, -ENOMEM (nothing
 * published: the claim stays in flight until cache_maintain() cancels it).
 */
__attribute__((warn_unused_result))
int cache_publish_cert(struct cache *c, const char *url, size_t len, const struct cert_result *res,
		       int64_t now, int64_t http_max_age);

/*
 * Publishes a failure of url: a negative entry of kind (CACHE_FAIL_URL .. CACHE_FAIL_CERT)
 * with detail (HTTP status, cert_check, -errno: kept for logs and ref.detail), lifetime
 * neg_ttl_min_s << (consecutive failures - 1), at most neg_ttl_max_s (a URL's failure count
 * survives until a valid publish, or until its negative entry has been lapsed for
 * neg_ttl_max_s, or is evicted). Wakes waiters and ends the claim as cache_publish_cert().
 * Exception, a failed refresh: when url has a valid entry that has not expired, the entry is
 * kept and serves until its expiry, its next refresh claim is pushed back by the same
 * back-off, and waiters are told CACHE_HIT (stale-while-revalidate: a repository that is
 * briefly down does not turn a good certificate into 436s). Counted as a negative publish.
 * (cache_publish_cert() with a failed check takes this path too.)
 * Returns 0, -EINVAL (kind out of range, NULL, len 0), -ENAMETOOLONG, -ENOMEM.
 */
__attribute__((warn_unused_result))
int cache_publish_negative(struct cache *c, const char *url, size_t len, enum cache_fail kind,
			   int detail, int64_t now);

/*
 * Removes url's entry (operator action, e.g. a certificate known bad). A fetch in flight is
 * left alone (its publish will insert again). Returns 0, -ENOENT when url has no entry,
 * -EBUSY when a fetch is in flight for it, -EINVAL, -ENAMETOOLONG.
 */
int cache_invalidate(struct cache *c, const char *url, size_t len);

/*
 * Housekeeping at time now (control thread, every 100 ms-1 s): cancels fetches in flight for
 * more than flight_timeout_s or released (waking their waiters with CACHE_CANCELLED), then
 * examines up to `budget` entries (round robin; 0 means all) and removes those expired (valid
 * entries past expires_at, negative entries lapsed for more than neg_ttl_max_s, the time
 * their back-off is remembered), freeing them after a grace period.
 * Returns the number of entries removed plus fetches cancelled (>= 0), -EINVAL.
 */
int cache_maintain(struct cache *c, int64_t now, size_t budget);

/* ---- statistics ------------------------------------------------------------------------- */

struct cache_stats {
	/* gauges */
	uint64_t entries;          /* valid + negative entries */
	uint64_t negative_entries;
	uint64_t bytes;            /* accounted bytes */
	uint64_t flights;          /* fetches in flight (claims not yet published/cancelled) */
	/* counters (since cache_create) */
	uint64_t lookups;
	uint64_t hits;             /* CACHE_HIT */
	uint64_t hits_negative;    /* CACHE_HIT_NEGATIVE */
	uint64_t misses;           /* CACHE_MISS_CLAIMED + CACHE_MISS_PENDING + CACHE_BUSY */
	uint64_t claims;           /* CACHE_MISS_CLAIMED */
	uint64_t refresh_claims;   /* hits that claimed a refresh */
	uint64_t pending;          /* CACHE_MISS_PENDING */
	uint64_t busy;             /* CACHE_BUSY (flight pool exhausted) */
	uint64_t waits;            /* waiters registered */
	uint64_t waits_full;       /* cache_wait() -ENOSPC */
	uint64_t wakes;            /* wakes delivered */
	uint64_t wake_dropped;     /* wakes lost to a full ring */
	uint64_t publishes;        /* valid entries published */
	uint64_t publishes_negative;
	uint64_t evictions;        /* entries removed to stay within max_entries/max_bytes */
	uint64_t expirations;      /* entries removed by cache_maintain() for age */
	uint64_t flights_cancelled; /* claims cancelled (timeout or released) */
	uint64_t errors[CACHE_FAIL_COUNT]; /* negative publishes by kind (errors[0] unused) */
};

/* Sums the counters of every thread into *out (a consistent-enough snapshot: each counter is
 * read atomically, not all at one instant). Any thread. */
void cache_stats(const struct cache *c, struct cache_stats *out);

#endif
