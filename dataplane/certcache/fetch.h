/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The x5u fetcher of the verification service: threads that fetch certificates named by x5u
 * URLs over HTTPS (one libcurl multi handle each, many transfers in flight), check them
 * against the STI trust store (crypto/cert.h) and publish the outcome into the certificate
 * cache (dataplane/certcache/cache.h), which wakes the calls parked on the URL.
 *
 * Requests come from the verify path through one lock-free ring (hsm/ring.h): the caller that
 * won a cache claim enqueues the URL with fetch_submit(); a full ring gives -EAGAIN at once
 * (the caller releases the claim and answers No-TN-Validation 436), never a wait. An idle
 * fetcher sleeps in curl_multi_poll(); a producer wakes it with curl_multi_wakeup() only when
 * it sleeps (a flag, checked after the enqueue): a busy fetcher costs the producer no syscall.
 *
 * Every transfer runs under the x5u rules of dataplane/certcache/x5u_fetch.h (https only, TLS verified, no
 * proxy, ports 443/8443, connect 1 s / total 2 s, body 64 KiB, SSRF guard on every connected
 * address), plus a host deny-list and an optional host allow-list ("only these repositories"),
 * and at most cfg.max_redirects (0 or 1) redirects, each target checked like the URL itself.
 * HTTP/1.1 and HTTP/2 (ALPN). Lifetimes come from Cache-Control (s-maxage, max-age, no-store,
 * no-cache, private) and Expires/Date/Age, parsed by the pure functions below.
 *
 * After a fetch: cert_chain_load() (leaf and intermediates from the PEM), cert_sti_check()
 * with iat 0 and no orig TN (per-call checks are the verify path's), then cache_publish_cert()
 * (valid, or negative CACHE_FAIL_CERT -> 437) or cache_publish_negative() (fetch failure ->
 * 436; unparsable body -> 437).
 *
 * CRLs: the CRL distribution point URLs of fetched certificates (unless cfg.no_crl_dp) and the
 * configured cfg.crl_urls are fetched by the same threads (https, same rules, body cap
 * cfg.crl_max_body), kept, and refreshed in the background at nextUpdate (or every
 * cfg.crl_refresh_s, whichever is sooner; after a failure, after cfg.crl_retry_s). A
 * certificate whose CRL is being fetched for the first time waits for it (at most the fetch
 * timeout). Each new CRL set or trust reload builds a new cert_store (anchors from
 * cfg.trust_path, CRL signers from cfg.crl_signer_path, every CRL held) and replaces the
 * store pointer RCU-style (QSBR, the cache's flavour; the old store is freed by call_rcu): no
 * lock on any verify path. When a new CRL lists the serial of a certificate published valid,
 * the entry is invalidated: the next call refetches it and gets 437 from the new store.
 *
 * Threads: fetch_create() starts cfg.n_threads threads, each a registered cache (QSBR)
 * thread, offline while it sleeps. The calling threads of fetch_submit()/fetch_lookup() need
 * no registration beyond what cache_lookup() itself asks.
 */
#ifndef SHAKEND_CERTCACHE_FETCH_H
#define SHAKEND_CERTCACHE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"
#include "crypto/pp.h"
#include "dataplane/certcache/cache.h"
#include "dataplane/certcache/x5u_fetch.h"

#define FETCH_THREADS_MAX 16          /* fetcher threads */
#define FETCH_URL_MAX PP_X5U_MAX      /* longest URL a request carries (511) */
#define FETCH_HOSTS_MAX 64            /* entries of the deny-list and of the allow-list */
#define FETCH_CRL_MAX 16              /* CRL URLs held (configured and discovered) */
#define FETCH_HDR_MAX 256             /* bytes of a header value the freshness parser reads */
#define FETCH_DELTA_MAX 2147483648LL  /* delta-seconds saturate here (RFC 9111 §1.2.2) */
#define FETCH_RING_DEFAULT 1024       /* request ring size */
#define FETCH_INFLIGHT_DEFAULT 256    /* transfers in flight per thread */
#define FETCH_CRL_BODY_DEFAULT (1u << 20)
#define FETCH_CRL_REFRESH_DEFAULT 3600
#define FETCH_CRL_RETRY_DEFAULT 60

/* ---- HTTP freshness (pure: no I/O, no allocation; fuzzed) ------------------------------- */

/* The Cache-Control directives that matter to a certificate cache (RFC 9111 §5.2). */
struct fetch_cc {
	int64_t max_age;  /* max-age seconds (the smallest when repeated), -1 when absent */
	int64_t s_maxage; /* s-maxage seconds, -1 when absent */
	bool no_store;
	bool no_cache;
	bool private_;    /* "private": a shared cache must not store it */
	bool invalid;     /* some directive was malformed (a bad max-age makes it stale) */
};

/*
 * Parses a Cache-Control field value v[0..len) (several field lines joined by commas):
 * directives `token [ "=" ( token / quoted-string ) ]` separated by commas and optional
 * whitespace, names case-insensitive, unknown directives ignored, delta-seconds saturating at
 * FETCH_DELTA_MAX. A malformed directive is skipped (up to the next comma) and sets
 * out->invalid. Reads only v[0..len) (v may hold NULs); out is always fully initialized.
 * Returns 0, or -EINVAL when something was malformed (out holds what was understood) or out is
 * NULL.
 */
int fetch_cache_control_parse(const char *v, size_t len, struct fetch_cc *out);

/*
 * Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the
 * obsolete RFC 850 form "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: 70..99 -> 19xx,
 * else 20xx) and asctime "Sun Nov  6 08:49:37 1994"; surrounding blanks allowed. The day name
 * is not checked against the date. Returns 0 with *out in Unix seconds, -EINVAL otherwise.
 */
int fetch_http_date_parse(const char *v, size_t len, int64_t *out);

/* NUL-terminated header values of one response (NULL or "" when absent); at most
 * FETCH_HDR_MAX bytes of each are read. */
struct fetch_http_hdrs {
	const char *cache_control;
	const char *expires;
	const char *date;
	const char *age;
};

/*
 * The freshness lifetime left at time now (Unix seconds) of a response with headers hd
 * (RFC 9111 §4.2, as a shared cache): s-maxage, else max-age, else Expires minus Date (or
 * now), minus the current age (Age, or now - Date when larger). no-store, private and no-cache
 * give 0 (*no_store set for the first two); an invalid max-age or Expires gives 0.
 * Returns seconds in [0, FETCH_DELTA_MAX], or -1 when the response states no lifetime.
 */
int64_t fetch_http_freshness(const struct fetch_http_hdrs *hd, int64_t now, bool *no_store);

/* ---- configuration -------------------------------------------------------------------- */

struct fetch_cfg {
	/* Transfers: x5u.allow_hosts may use special-purpose addresses (SSRF exemption, e.g. a
	 * repository on loopback in tests); ports, ca_file, timeouts, max_body, http1_only as
	 * dataplane/certcache/x5u_fetch.h. Pointers are borrowed for the fetcher's life. */
	struct x5u_policy x5u;
	/* Hosts never fetched: an exact host, or ".example.com" for that domain and every name
	 * under it; case-insensitive. Checked on the URL and on each redirect target. */
	const char *const *deny_hosts;
	unsigned n_deny_hosts;
	/* When n_only_hosts > 0: only these hosts (same syntax) are fetched. */
	const char *const *only_hosts;
	unsigned n_only_hosts;
	unsigned max_redirects;       /* 0 (default) or 1: one https redirect, target checked */

	unsigned n_threads;           /* 1..FETCH_THREADS_MAX; 0: 1 */
	unsigned ring_size;           /* request ring; 0: FETCH_RING_DEFAULT */
	unsigned max_inflight;        /* transfers per thread; 0: FETCH_INFLIGHT_DEFAULT */

	/* Certificate checks (zeroed: every check strict, default policy OIDs; see cert.h). */
	struct cert_policy cert;
	const char *trust_path;       /* STI-CA anchors: PEM bundle or directory (required) */
	const char *crl_signer_path;  /* STI-PA certificate(s) that sign CRLs; NULL: none */
	const char *const *crl_urls;  /* CRLs fetched from the start (https) */
	unsigned n_crl_urls;
	bool no_crl_dp;               /* do not follow certificates' CRL distribution points */
	long crl_refresh_s;           /* longest time between CRL fetches; 0: 3600 */
	long crl_retry_s;             /* retry after a failed CRL fetch; 0: 60 */
	size_t crl_max_body;          /* 0: FETCH_CRL_BODY_DEFAULT */
	long maintain_ms;             /* run cache_maintain() every this many ms on thread 0;
				       * 0: 250; < 0: never (the control thread does it) */
	size_t max_index;             /* valid publishes remembered for CRL sweeps; 0: 131072 */
};

/* ---- the fetcher ---------------------------------------------------------------------- */

struct fetch;

/*
 * Creates the fetcher for cache c (borrowed; it must outlive the fetcher): loads the trust
 * store, creates the ring and starts the threads (which start the configured CRL fetches).
 * Call curl_global_init() once before. Returns 0 with *out set; -EINVAL (a NULL argument, no
 * trust_path, n_threads or max_redirects out of range, a deny/only list longer than
 * FETCH_HOSTS_MAX, n_crl_urls > FETCH_CRL_MAX or a CRL URL that fails x5u_url_check()); the
 * -errno of cert_store_add_path() for the trust path or CRL signer path; -ENOMEM; -EAGAIN
 * (thread creation failed).
 */
__attribute__((warn_unused_result))
int fetch_create(const struct fetch_cfg *cfg, struct cache *c, struct fetch **out);

/*
 * Stops the threads (transfers in flight are abandoned: their claims are released so that
 * cache_maintain() wakes the waiters) and frees f (NULL ignored). The cache is left alone.
 */
void fetch_destroy(struct fetch *f);

/*
 * Asks for url[0..len) to be fetched and published: the caller holds the cache claim for it
 * (CACHE_MISS_CLAIMED, or a hit with ref.refresh). Lock-free, no allocation, a syscall only
 * when a fetcher sleeps; any thread. Returns 0 (queued); -EAGAIN when the ring is full (the
 * caller must cache_claim_release() and answer 436); -EINVAL (f or url NULL, len 0);
 * -ENAMETOOLONG (len > FETCH_URL_MAX: release the claim, answer 436).
 */
__attribute__((warn_unused_result))
int fetch_submit(struct fetch *f, const char *url, size_t len);

/*
 * The verify path's one call: cache_lookup() and, on CACHE_MISS_CLAIMED, fetch_submit() (on
 * -EAGAIN or -ENAMETOOLONG the claim is released and that error returned: answer 436), then,
 * when w is not NULL and a fetch is (now) in flight, cache_wait() so that w->ring is told when
 * it completes; a hit with ref->refresh submits the background refresh (releasing the claim
 * when the ring is full) and clears ref->refresh. The caller must be a registered online
 * cache thread.
 * Returns the enum cache_result (>= 0; CACHE_MISS_CLAIMED and CACHE_MISS_PENDING mean
 * "parked" when w was given and the wait registered, *waiting says so); -EAGAIN,
 * -ENAMETOOLONG as above; the errors of cache_lookup().
 */
__attribute__((warn_unused_result))
int fetch_lookup(struct fetch *f, const char *url, size_t len, int64_t now,
		 const struct cache_waiter *w, struct cache_ref *ref, bool *waiting);

/*
 * Rebuilds the trust store from cfg.trust_path and cfg.crl_signer_path (with the CRLs held)
 * and replaces it RCU-style. The paths are loaded once here first, so that a bad bundle is
 * reported to the caller (and the store in use is kept); the swap itself happens on fetcher
 * thread 0 within its next loop iteration. Entries already published are not re-checked.
 * Returns 0; the -errno of cert_store_add_path(); -ENOMEM.
 */
__attribute__((warn_unused_result))
int fetch_trust_reload(struct fetch *f);

struct fetch_stats {
	uint64_t submitted;        /* requests queued */
	uint64_t ring_full;        /* fetch_submit() -EAGAIN */
	uint64_t fetches;          /* certificate transfers started (redirect hops included) */
	uint64_t fetch_ok;         /* bodies received */
	uint64_t fetch_err[X5U_KIND_COUNT_]; /* failed transfers by kind */
	uint64_t redirects;        /* redirects followed */
	uint64_t parse_err;        /* bodies without a certificate chain */
	uint64_t cert_invalid;     /* chains that failed a strict STI check */
	uint64_t published;        /* valid entries published */
	uint64_t published_negative;
	uint64_t crl_fetches;
	uint64_t crl_ok;           /* CRLs installed */
	uint64_t crl_err;          /* CRL fetches or parses that failed */
	uint64_t revoked_swept;    /* published entries invalidated by a new CRL */
	uint64_t store_generation; /* trust stores published (1 after fetch_create) */
	uint64_t store_err;        /* store rebuilds that failed (the old store kept) */
	uint64_t inflight;         /* transfers in flight now (gauge) */
	uint64_t wakeups;          /* curl_multi_wakeup() calls by producers */
};

/* A snapshot of the counters (each read atomically). Any thread. */
void fetch_stats(const struct fetch *f, struct fetch_stats *out);

/* ---- blocking fetch for tools ----------------------------------------------------------- */

/* The outcome of fetch_x5u_sync(). */
struct fetch_result {
	struct x5u_result x5u;   /* kind, http_status, len, detail as x5u_fetch() */
	int64_t max_age;         /* fetch_http_freshness() of the response; -1 none */
	bool no_store;
	unsigned redirects;      /* redirects followed */
};

/*
 * Fetches url into buf (cap bytes, NUL-terminated) with the transfer rules of cfg (x5u policy,
 * deny/only lists, max_redirects; the thread, cache, trust and CRL fields are ignored; cfg
 * NULL means the defaults), on a private multi handle, blocking up to the timeouts (per hop).
 * Call curl_global_init() once first. Returns what x5u_fetch() returns (-EACCES, kind
 * X5U_BLOCKED, also for a denied host or a host not on the allow-list), with res filled.
 */
__attribute__((warn_unused_result))
int fetch_x5u_sync(const struct fetch_cfg *cfg, const char *url, char *buf, size_t cap,
		   struct fetch_result *res);

/*
 * Checks url's host against cfg's deny-list and allow-list and the x5u URL rules
 * (x5u_url_check). Pure. Returns 0, -EINVAL (bad URL or port, *why set) or -EACCES (special
 * address, denied host or host not on the allow-list, *why set).
 */
__attribute__((warn_unused_result))
int fetch_url_check(const struct fetch_cfg *cfg, const char *url, const char **why);

#endif
