/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lock-free certificate cache (see cache.h for the contract).
 *
 * Nodes. The hash table holds three kinds of node, all starting with struct node (one cache
 * line: the lfht link, the URL length, the kind, the flight pointer, the times the lookup needs,
 * the pointer to the cold part) followed directly by the URL bytes, so that a lookup touches
 * the header line and the URL and nothing else:
 *   - a valid entry and a negative entry: a hot part [node][url] (128 bytes for a URL of up to
 *     63 bytes, 192 up to 127) and a separate cold part (struct entry_cold: the hash, the
 *     writer's bookkeeping and the ~1 KB struct cache_entry). Hot parts of up to 192 bytes come
 *     from 2 MiB slab chunks (transparent huge pages where the system allows them), so that
 *     the hot parts of 100k entries fill ~13 MB of dense memory instead of being spread over
 *     ~170 MB of 1.8 KB allocations: fewer cache and TLB misses per lookup. Sanitizer builds
 *     use plain allocations instead, so that ASan still sees every use after free;
 *   - a placeholder: the node embedded in a flight (below), for a URL that has no entry yet.
 *
 * Flights. A fetch in flight is a struct flight taken from a fixed pool (a bitmap claimed with
 * CAS: no allocation on the lookup path). A URL with no entry gets a placeholder inserted with
 * cds_lfht_add_unique (exactly one inserter wins); a URL whose entry is expired, negative and
 * lapsed, or due for refresh gets the flight attached with a CAS of node->flight from NULL
 * (exactly one claimer wins). node->flight == FLIGHT_DEAD marks a node that a writer is
 * replacing or removing: it can no longer be claimed. Waiters register into the flight's slots
 * (fetch-and-add on nwait); the writer that ends the flight sets the CLOSED bit, so a waiter
 * either got a slot before the close (and is woken) or sees CLOSED (and looks up again).
 *
 * Hot index. Beside the lfht, a dense array of one-cache-line buckets, each holding HOT_WAYS
 * (hash, node pointer) pairs of valid and negative entries (placeholders are not indexed). A hit
 * reads one bucket line, then the node's header line and its URL line (adjacent, fetched in
 * parallel), instead of the lfht's bucket node, then each chain node, then the URL: one
 * dependent memory miss fewer, and a first address known from the hash alone, which is what
 * lets cache_lookup_burst() prefetch a whole burst stage by stage. The index is only a hint:
 * a candidate is used only after its URL compares equal, and whatever it does not answer (an
 * entry whose bucket was full, a placeholder, a URL not cached, a node being replaced) is
 * looked up in the lfht as before, so every outcome stays the lfht's. Writers (under wlock)
 * store an entry's pointer there before it replaces another in the lfht and clear it before
 * the entry leaves the lfht, so a pointer read from the index is protected by the same grace
 * period as one read from the lfht.
 *
 * Writers (publish, maintain, invalidate) serialize on wlock; they alone remove or replace
 * nodes, and they free through call_rcu. Readers never free except a flight they allocated and
 * never made visible. The writer-side slots[] array lists every entry, for sampled-LRU
 * eviction (a few random slots, the least recently used wins) and the expiry sweep.
 *
 * ThreadSanitizer: liburcu 0.13 is not instrumented, so TSan cannot see that an lfht insert
 * publishes a node or that a grace period orders a reader's last access before a free. We make
 * both edges explicit with C11 atomics TSan understands: node->kind is stored with release
 * after the node is built and loaded with acquire before anything else is read, and, in
 * CACHE_TSAN builds, each thread's quiescent state is a release store that the free callbacks
 * acquire before freeing.
 */
#include "dataplane/certcache/cache.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include <urcu-qsbr.h>
#include <urcu/call-rcu.h>
#include <urcu/rculfhash.h>

#include "hsm/ring.h"

#if defined(__SANITIZE_THREAD__)
#define CACHE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CACHE_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(CACHE_TSAN)
#define CACHE_NO_SLAB 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define CACHE_NO_SLAB 1
#endif
#endif

#define CACHE_LINE 64
#define SLAB_CHUNK ((size_t)2 << 20) /* one huge page */
#define SLAB_CLASSES 2               /* hot parts of 128 and 192 bytes */
#define EVICT_SAMPLES 8
#define HOT_WAYS 4

enum node_kind {
	NODE_FREE = 0, /* not yet published (never seen by match) */
	NODE_VALID,
	NODE_NEGATIVE,
	NODE_PENDING,  /* a flight's placeholder */
};

struct flight;
#define FLIGHT_DEAD ((struct flight *)1)

struct node {
	struct cds_lfht_node lfn;
	struct entry_cold *cold;        /* entries: the cold part; placeholders: NULL */
	_Atomic(struct flight *) flight; /* fetch in flight, NULL, or FLIGHT_DEAD */
	_Atomic int64_t last_use;
	int64_t expires_at;             /* valid: expiry; negative: retry_at */
	_Atomic int64_t refresh_at;     /* valid only; pushed back by a failed refresh */
	uint32_t url_len;
	_Atomic uint8_t kind;           /* enum node_kind, stored with release last */
	/* the URL bytes follow the header */
} __attribute__((aligned(CACHE_LINE)));

_Static_assert(sizeof(struct node) == CACHE_LINE, "node header is one cache line");

static inline const char *node_url(const struct node *n)
{
	return (const char *)(n + 1);
}

/* Writer-side and free-time part of an entry, after the URL. */
struct entry_cold {
	struct rcu_head rcu;
	uint64_t hash;    /* cache_hash() of the URL */
	struct cache *c;
	struct node *self; /* the node this cold part belongs to (for the free callback) */
	size_t slot;      /* index in c->slots */
	size_t bytes;     /* accounted */
	uint32_t fails;   /* consecutive failures (negative: fetches; valid: refreshes) */
	uint16_t fail;    /* negative: enum cache_fail */
	int detail;       /* negative: publisher's detail */
	struct cache_entry pub; /* valid only (negative nodes are allocated without it) */
};

static inline size_t url_room(size_t len)
{
	return (len + 1 + 15) & ~(size_t)15;
}

static inline struct entry_cold *node_cold(const struct node *n)
{
	return n->cold;
}

/* Bytes of an entry's hot part (node header and URL). */
static inline size_t hot_size(size_t len)
{
	return sizeof(struct node) + ((url_room(len) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1));
}

struct waiter_slot {
	_Atomic uint32_t ready;
	struct hsm_ring *ring;
	uint64_t cookie;
};

#define WAIT_CLOSED 0x80000000u

enum flight_state {
	FL_IDLE = 0, /* allocated, not visible yet (or free) */
	FL_ACTIVE,   /* visible: attached or inserted */
	FL_CLOSED,   /* published or cancelled; freed after a grace period */
};

struct flight {
	struct node n;                 /* the placeholder (used when owner == &n) */
	char url[CACHE_URL_MAX + 1];   /* the placeholder's URL, right after n */
	struct rcu_head rcu;
	struct cache *c;
	struct node *owner;            /* the node the flight is attached to, or &n */
	_Atomic int64_t claimed_at;
	_Atomic uint32_t abandoned;
	_Atomic uint32_t state;        /* enum flight_state */
	_Atomic uint32_t nwait;        /* waiters registered | WAIT_CLOSED */
	uint32_t idx;                  /* pool index */
	struct waiter_slot *w;         /* waiters_per_flight slots */
} __attribute__((aligned(CACHE_LINE)));

_Static_assert(offsetof(struct flight, url) == sizeof(struct node), "URL after the header");

/* A bucket of the hot index: tag[i] is the hash of n[i] (n[i] NULL: free way). */
struct hot_bucket {
	_Atomic uint64_t tag[HOT_WAYS];
	_Atomic(struct node *) n[HOT_WAYS];
} __attribute__((aligned(CACHE_LINE)));

_Static_assert(sizeof(struct hot_bucket) == CACHE_LINE, "a hot bucket is one cache line");

enum ctr {
	C_LOOKUPS,
	C_HITS,
	C_HITS_NEG,
	C_MISSES,
	C_CLAIMS,
	C_REFRESH_CLAIMS,
	C_PENDING,
	C_BUSY,
	C_WAITS,
	C_WAITS_FULL,
	C_WAKES,
	C_WAKE_DROPPED,
	C_PUBLISHES,
	C_PUBLISHES_NEG,
	C_EVICTIONS,
	C_EXPIRATIONS,
	C_CANCELLED,
	C_ERR0,
	C_COUNT = C_ERR0 + CACHE_FAIL_COUNT,
};

struct tstats {
	_Atomic uint64_t v[C_COUNT];
} __attribute__((aligned(CACHE_LINE)));

struct cache {
	struct cds_lfht *ht;
	struct hot_bucket *hot; /* the hot index, hot_mask + 1 buckets */
	size_t hot_mask;
	struct cache_cfg cfg;
	uint64_t seed0, seed1;

	/* flight pool */
	struct flight *fl;
	struct waiter_slot *wslots;
	_Atomic uint64_t *flbits;
	uint32_t flwords;

	/* gauges */
	_Atomic uint64_t n_entries;
	_Atomic uint64_t n_negative;
	_Atomic uint64_t n_bytes;
	_Atomic int64_t n_flights;

	/* writer side, under wlock */
	pthread_mutex_t wlock;
	struct node **slots;
	size_t nslots;
	size_t hand;
	uint64_t rng;

	/* slab of hot parts (writers and free callbacks) */
	pthread_mutex_t slab_lock;
	void *slab_free[SLAB_CLASSES]; /* free lists, linked through the first word */
	char *slab_cur;                /* bump pointer into the newest chunk */
	size_t slab_left;
	void *slab_chunks;             /* every chunk, linked through its first word */

	struct tstats ts[CACHE_THREADS_MAX + 1]; /* [CACHE_THREADS_MAX]: shared, atomic adds */
	_Atomic uint64_t cb_done; /* CACHE_TSAN: free callbacks run (destroy acquires it) */
};

/* ---- threads ------------------------------------------------------------------------------ */

static _Thread_local int cache_tid = -1;
static _Thread_local bool cache_registered;
static _Atomic uint64_t tid_bits[CACHE_THREADS_MAX / 64];

#ifdef CACHE_TSAN
/* Each thread's quiescent-state count, released at each quiescent state and acquired by the
 * free callbacks: the grace-period edge made visible to TSan. */
static _Atomic uint64_t tsan_qs[CACHE_THREADS_MAX + 1];
static inline void tsan_quiescent(void)
{
	int t = cache_tid >= 0 ? cache_tid : CACHE_THREADS_MAX;
	atomic_fetch_add_explicit(&tsan_qs[t], 1, memory_order_acq_rel);
}
static inline void tsan_before_free(void)
{
	for (int t = 0; t <= CACHE_THREADS_MAX; t++)
		(void)atomic_load_explicit(&tsan_qs[t], memory_order_acquire);
}
#define tsan_cb_done(c) atomic_fetch_add_explicit(&(c)->cb_done, 1, memory_order_release)
#define tsan_after_barrier(c) (void)atomic_load_explicit(&(c)->cb_done, memory_order_acquire)
#else
#define tsan_cb_done(c) ((void)(c))
#define tsan_after_barrier(c) ((void)(c))
static inline void tsan_quiescent(void)
{
}
static inline void tsan_before_free(void)
{
}
#endif

int cache_thread_register(void)
{
	if (cache_registered)
		return -EALREADY;
	rcu_register_thread();
	cache_registered = true;
	cache_tid = -1;
	for (unsigned w = 0; w < CACHE_THREADS_MAX / 64 && cache_tid < 0; w++) {
		uint64_t v = atomic_load_explicit(&tid_bits[w], memory_order_relaxed);
		while (~v) {
			int b = __builtin_ctzll(~v);
			if (atomic_compare_exchange_weak_explicit(&tid_bits[w], &v,
								  v | (1ull << b),
								  memory_order_acq_rel,
								  memory_order_relaxed)) {
				cache_tid = (int)(w * 64 + (unsigned)b);
				break;
			}
		}
	}
	return 0;
}

void cache_thread_unregister(void)
{
	if (!cache_registered)
		return;
	tsan_quiescent();
	rcu_unregister_thread();
	if (cache_tid >= 0)
		atomic_fetch_and_explicit(&tid_bits[cache_tid / 64], ~(1ull << (cache_tid % 64)),
					  memory_order_acq_rel);
	cache_tid = -1;
	cache_registered = false;
}

void cache_quiescent(void)
{
	tsan_quiescent();
	rcu_quiescent_state();
}

void cache_thread_offline(void)
{
	tsan_quiescent();
	rcu_thread_offline();
}

void cache_thread_online(void)
{
	rcu_thread_online();
}

/* ---- counters ----------------------------------------------------------------------------- */

static inline void ctr_add(struct cache *c, enum ctr k, uint64_t d)
{
	int t = cache_tid;
	if (t >= 0) {
		/* single writer per slot: a plain load and store, no locked instruction */
		_Atomic uint64_t *p = &c->ts[t].v[k];
		atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + d,
				      memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&c->ts[CACHE_THREADS_MAX].v[k], d, memory_order_relaxed);
	}
}

static inline void ctr_inc(struct cache *c, enum ctr k)
{
	ctr_add(c, k, 1);
}

void cache_stats(const struct cache *c, struct cache_stats *out)
{
	uint64_t v[C_COUNT] = { 0 };
	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	for (int t = 0; t <= CACHE_THREADS_MAX; t++)
		for (int k = 0; k < C_COUNT; k++)
			v[k] += atomic_load_explicit(&c->ts[t].v[k], memory_order_relaxed);
	out->entries = atomic_load_explicit(&c->n_entries, memory_order_relaxed);
	out->negative_entries = atomic_load_explicit(&c->n_negative, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&c->n_bytes, memory_order_relaxed);
	int64_t f = atomic_load_explicit(&c->n_flights, memory_order_relaxed);
	out->flights = f > 0 ? (uint64_t)f : 0;
	out->lookups = v[C_LOOKUPS];
	out->hits = v[C_HITS];
	out->hits_negative = v[C_HITS_NEG];
	out->misses = v[C_MISSES];
	out->claims = v[C_CLAIMS];
	out->refresh_claims = v[C_REFRESH_CLAIMS];
	out->pending = v[C_PENDING];
	out->busy = v[C_BUSY];
	out->waits = v[C_WAITS];
	out->waits_full = v[C_WAITS_FULL];
	out->wakes = v[C_WAKES];
	out->wake_dropped = v[C_WAKE_DROPPED];
	out->publishes = v[C_PUBLISHES];
	out->publishes_negative = v[C_PUBLISHES_NEG];
	out->evictions = v[C_EVICTIONS];
	out->expirations = v[C_EXPIRATIONS];
	out->flights_cancelled = v[C_CANCELLED];
	for (int k = 1; k < CACHE_FAIL_COUNT; k++)
		out->errors[k] = v[C_ERR0 + k];
}

/* ---- strings ------------------------------------------------------------------------------ */

int cache_fail_sip_code(enum cache_fail f)
{
	switch (f) {
	case CACHE_FAIL_URL:
	case CACHE_FAIL_FETCH:
	case CACHE_FAIL_HTTP:
	case CACHE_FAIL_TOO_BIG:
		return 436;
	case CACHE_FAIL_PARSE:
	case CACHE_FAIL_CERT:
		return 437;
	default:
		return 0;
	}
}

const char *cache_fail_str(enum cache_fail f)
{
	static const char *const s[CACHE_FAIL_COUNT] = {
		[CACHE_FAIL_NONE] = "none",
		[CACHE_FAIL_URL] = "URL refused",
		[CACHE_FAIL_FETCH] = "fetch failed",
		[CACHE_FAIL_HTTP] = "HTTP error",
		[CACHE_FAIL_TOO_BIG] = "body too large",
		[CACHE_FAIL_PARSE] = "no certificate",
		[CACHE_FAIL_CERT] = "certificate rejected",
	};
	return (unsigned)f < CACHE_FAIL_COUNT ? s[f] : "";
}

const char *cache_result_str(enum cache_result r)
{
	static const char *const s[] = {
		[CACHE_HIT] = "hit",
		[CACHE_HIT_NEGATIVE] = "hit-negative",
		[CACHE_MISS_CLAIMED] = "miss-claimed",
		[CACHE_MISS_PENDING] = "miss-pending",
		[CACHE_BUSY] = "busy",
		[CACHE_CANCELLED] = "cancelled",
	};
	return (unsigned)r < sizeof(s) / sizeof(s[0]) ? s[r] : "";
}

/* ---- hashing ------------------------------------------------------------------------------ */

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/*
 * A seeded multiply-fold hash over 8-byte words. Not a PRF: it keeps an attacker who does not
 * know the seed from choosing URLs that collide, which is what bucket chains need.
 */
static uint64_t url_hash(uint64_t s0, uint64_t s1, const char *p, size_t len)
{
	uint64_t h = s0 ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
	const uint64_t k = s1 | 1;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = fold_mul(h ^ w, k);
		p += 8;
		len -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, len);
	h = fold_mul(h ^ w ^ ((uint64_t)len << 56), k ^ 0xa0761d6478bd642full);
	return fold_mul(h, s0 ^ 0xe7037ed1a0b428dbull);
}

uint64_t cache_hash(const struct cache *c, const char *url, size_t len)
{
	return url_hash(c->seed0, c->seed1, url, len);
}

/* ---- table access ------------------------------------------------------------------------- */

struct key {
	const char *url;
	size_t len;
};

static int node_match(struct cds_lfht_node *ln, const void *k)
{
	const struct node *n = caa_container_of(ln, struct node, lfn);
	const struct key *key = k;
	/* acquire pairs with the release of the node's builder (see top comment) */
	if (atomic_load_explicit(&n->kind, memory_order_acquire) == NODE_FREE)
		return 0;
	return n->url_len == key->len && memcmp(node_url(n), key->url, key->len) == 0;
}

/* Caller in a read-side section. */
static struct node *ht_find(struct cache *c, uint64_t hash, const char *url, size_t len,
			    struct cds_lfht_iter *it)
{
	struct key key = { url, len };
	struct cds_lfht_iter local;
	if (it == NULL)
		it = &local;
	cds_lfht_lookup(c->ht, (unsigned long)hash, node_match, &key, it);
	struct cds_lfht_node *ln = cds_lfht_iter_get_node(it);
	return ln ? caa_container_of(ln, struct node, lfn) : NULL;
}

/* ---- hot index ---------------------------------------------------------------------------- */

static inline struct hot_bucket *hot_bucket_of(const struct cache *c, uint64_t hash)
{
	/* the lfht buckets on the low bits: the index takes the high ones */
	return &c->hot[(size_t)(hash >> 32) & c->hot_mask];
}

/* Whether n is a published entry for url (n came from the hot index; in a read-side section). */
static inline bool hot_match(const struct node *n, const char *url, size_t len)
{
	/* acquire pairs with the release of the node's builder (see top comment) */
	unsigned kind = atomic_load_explicit(&n->kind, memory_order_acquire);
	return (kind == NODE_VALID || kind == NODE_NEGATIVE) && n->url_len == len &&
	       memcmp(node_url(n), url, len) == 0;
}

/* The candidate of bucket b for hash, or NULL; the node lines are prefetched. */
static inline struct node *hot_candidate(const struct hot_bucket *b, uint64_t hash)
{
	for (int i = 0; i < HOT_WAYS; i++) {
		if (atomic_load_explicit(&b->tag[i], memory_order_relaxed) != hash)
			continue;
		/* acquire pairs with the writer's release store of the pointer */
		struct node *n = atomic_load_explicit(&b->n[i], memory_order_acquire);
		if (n != NULL) {
			__builtin_prefetch(n);
			__builtin_prefetch(node_url(n));
			return n;
		}
	}
	return NULL;
}

/* The entry of url from the hot index, or NULL (look in the lfht). Read-side section. */
static inline struct node *hot_find(struct cache *c, uint64_t hash, const char *url, size_t len)
{
	struct node *n = hot_candidate(hot_bucket_of(c, hash), hash);
	return n != NULL && hot_match(n, url, len) ? n : NULL;
}

/*
 * Writer (wlock): puts nn where old is in the index (old NULL or not indexed: adds nn to a free
 * way of its bucket, if any; nn NULL: removes old). old and nn, when both given, have the same
 * URL (they may be the same node: re-indexes it). A node is never in two ways, and a node
 * leaves the index before it leaves the lfht.
 */
static void hot_put(struct cache *c, const struct node *old, struct node *nn)
{
	uint64_t hash = old != NULL ? old->cold->hash : nn->cold->hash;
	struct hot_bucket *b = hot_bucket_of(c, hash);
	bool placed = false;
	int free_way = -1;
	for (int i = 0; i < HOT_WAYS; i++) {
		struct node *cur = atomic_load_explicit(&b->n[i], memory_order_relaxed);
		if (cur == NULL) {
			if (free_way < 0)
				free_way = i;
		} else if (cur == nn) {
			placed = true;
		} else if (cur == old) {
			/* the tag stays: old and nn have the same hash */
			atomic_store_explicit(&b->n[i], placed ? NULL : nn, memory_order_release);
			placed = placed || nn != NULL;
		}
	}
	if (nn != NULL && !placed && free_way >= 0) {
		atomic_store_explicit(&b->tag[free_way], hash, memory_order_relaxed);
		atomic_store_explicit(&b->n[free_way], nn, memory_order_release);
	}
}

/* ---- flight pool -------------------------------------------------------------------------- */

static struct flight *flight_alloc(struct cache *c)
{
	uint32_t start = cache_tid >= 0 ? ((uint32_t)cache_tid * 7u) % c->flwords : 0;
	for (uint32_t i = 0; i < c->flwords; i++) {
		uint32_t w = (start + i) % c->flwords;
		uint64_t v = atomic_load_explicit(&c->flbits[w], memory_order_relaxed);
		while (~v) {
			int b = __builtin_ctzll(~v);
			if (atomic_compare_exchange_weak_explicit(&c->flbits[w], &v, v | (1ull << b),
								  memory_order_acq_rel,
								  memory_order_relaxed))
				return &c->fl[w * 64 + (uint32_t)b];
		}
	}
	return NULL;
}

static void flight_release(struct cache *c, struct flight *f)
{
	atomic_store_explicit(&f->state, FL_IDLE, memory_order_relaxed);
	atomic_store_explicit(&f->n.kind, NODE_FREE, memory_order_relaxed);
	atomic_fetch_and_explicit(&c->flbits[f->idx / 64], ~(1ull << (f->idx % 64)),
				  memory_order_release);
}

static void flight_free_cb(struct rcu_head *h)
{
	struct flight *f = caa_container_of(h, struct flight, rcu);
	struct cache *c = f->c;
	tsan_before_free();
	flight_release(c, f);
	tsan_cb_done(c);
}

/* Prepares a flight taken from the pool; owner NULL means "the placeholder". */
static void flight_init(struct flight *f, struct node *owner, const char *url, size_t len,
			int64_t now)
{
	atomic_store_explicit(&f->nwait, 0, memory_order_relaxed);
	atomic_store_explicit(&f->abandoned, 0, memory_order_relaxed);
	atomic_store_explicit(&f->claimed_at, now, memory_order_relaxed);
	if (owner == NULL) {
		f->owner = &f->n;
		f->n.cold = NULL;
		f->n.url_len = (uint32_t)len;
		memcpy(f->url, url, len);
		f->url[len] = '\0';
		f->n.expires_at = 0;
		atomic_store_explicit(&f->n.refresh_at, 0, memory_order_relaxed);
		atomic_store_explicit(&f->n.last_use, now, memory_order_relaxed);
		atomic_store_explicit(&f->n.flight, f, memory_order_relaxed);
		cds_lfht_node_init(&f->n.lfn);
		atomic_store_explicit(&f->n.kind, NODE_PENDING, memory_order_release);
	} else {
		f->owner = owner;
	}
}

/* Marks a visible flight active for cache_maintain(), unless a writer closed it already. */
static void flight_activate(struct flight *f)
{
	uint32_t idle = FL_IDLE;
	atomic_compare_exchange_strong_explicit(&f->state, &idle, FL_ACTIVE, memory_order_acq_rel,
						memory_order_relaxed);
}

/* ---- lookup ------------------------------------------------------------------------------- */

enum { CLAIM_WON = 0, CLAIM_LOST, CLAIM_NO_POOL, CLAIM_DEAD };

/* Attaches a new flight to n (reader side). */
static int claim_on(struct cache *c, struct node *n, int64_t now)
{
	struct flight *f = flight_alloc(c);
	if (f == NULL)
		return CLAIM_NO_POOL;
	flight_init(f, n, NULL, 0, now);
	struct flight *expect = NULL;
	if (atomic_compare_exchange_strong_explicit(&n->flight, &expect, f, memory_order_acq_rel,
						    memory_order_acquire)) {
		atomic_fetch_add_explicit(&c->n_flights, 1, memory_order_relaxed);
		flight_activate(f);
		return CLAIM_WON;
	}
	flight_release(c, f); /* never visible */
	return expect == FLIGHT_DEAD ? CLAIM_DEAD : CLAIM_LOST;
}

#define RETRY (-1000)

static int examine(struct cache *c, struct node *n, int64_t now, struct cache_ref *ref)
{
	unsigned kind = atomic_load_explicit(&n->kind, memory_order_acquire);
	struct flight *fl = atomic_load_explicit(&n->flight, memory_order_acquire);
	int r;

	switch (kind) {
	case NODE_PENDING:
		ctr_inc(c, C_PENDING);
		return CACHE_MISS_PENDING;
	case NODE_VALID:
		if (now < n->expires_at) {
			if (atomic_load_explicit(&n->last_use, memory_order_relaxed) != now)
				atomic_store_explicit(&n->last_use, now, memory_order_relaxed);
			ref->entry = &node_cold(n)->pub;
			if (fl == NULL &&
			    now >= atomic_load_explicit(&n->refresh_at, memory_order_relaxed) &&
			    claim_on(c, n, now) == CLAIM_WON) {
				ref->refresh = true;
				ctr_inc(c, C_REFRESH_CLAIMS);
			}
			ctr_inc(c, C_HITS);
			return CACHE_HIT;
		}
		break;
	case NODE_NEGATIVE:
		if (now < n->expires_at) {
			if (atomic_load_explicit(&n->last_use, memory_order_relaxed) != now)
				atomic_store_explicit(&n->last_use, now, memory_order_relaxed);
			struct entry_cold *cold = node_cold(n);
			ref->fail = (enum cache_fail)cold->fail;
			ref->detail = cold->detail;
			ref->retry_at = n->expires_at;
			ctr_inc(c, C_HITS_NEG);
			return CACHE_HIT_NEGATIVE;
		}
		break;
	default:
		return RETRY; /* a node being torn down: look again */
	}
	/* expired entry or lapsed negative: a miss on an existing node */
	if (fl == FLIGHT_DEAD)
		return RETRY;
	if (fl != NULL) {
		ctr_inc(c, C_PENDING);
		return CACHE_MISS_PENDING;
	}
	r = claim_on(c, n, now);
	switch (r) {
	case CLAIM_WON:
		ctr_inc(c, C_CLAIMS);
		return CACHE_MISS_CLAIMED;
	case CLAIM_LOST:
		ctr_inc(c, C_PENDING);
		return CACHE_MISS_PENDING;
	case CLAIM_NO_POOL:
		ctr_inc(c, C_BUSY);
		return CACHE_BUSY;
	default:
		return RETRY;
	}
}

/*
 * One lookup, arguments checked, in a read-side section. hot is url's entry from the hot index
 * (already matched) or NULL; what the index does not answer is looked up in the lfht.
 */
static int lookup_core(struct cache *c, uint64_t hash, const char *url, size_t len, int64_t now,
		       struct cache_ref *ref, struct node *hot)
{
	int ret = RETRY;

	ref->entry = NULL;
	ref->refresh = false;
	ref->fail = CACHE_FAIL_NONE;
	ref->detail = 0;
	ref->retry_at = 0;
	ctr_inc(c, C_LOOKUPS);

	for (int attempt = 0; attempt < 4; attempt++) {
		struct node *n = hot;
		hot = NULL; /* a retry looks in the lfht */
		if (n == NULL)
			n = ht_find(c, hash, url, len, NULL);
		if (n == NULL) {
			struct flight *f = flight_alloc(c);
			if (f == NULL) {
				ctr_inc(c, C_BUSY);
				ret = CACHE_BUSY;
				break;
			}
			flight_init(f, NULL, url, len, now);
			struct key key = { url, len };
			struct cds_lfht_node *got = cds_lfht_add_unique(
				c->ht, (unsigned long)hash, node_match, &key, &f->n.lfn);
			if (got == &f->n.lfn) {
				atomic_fetch_add_explicit(&c->n_flights, 1, memory_order_relaxed);
				flight_activate(f);
				ctr_inc(c, C_CLAIMS);
				ret = CACHE_MISS_CLAIMED;
				break;
			}
			flight_release(c, f); /* another inserter won; ours was never visible */
			n = caa_container_of(got, struct node, lfn);
		}
		ret = examine(c, n, now, ref);
		if (ret != RETRY)
			break;
	}
	if (ret == RETRY) {
		/* a writer kept replacing the node under us: a fetch just completed */
		ctr_inc(c, C_PENDING);
		ret = CACHE_MISS_PENDING;
	}
	if (ret >= CACHE_MISS_CLAIMED)
		ctr_inc(c, C_MISSES);
	return ret;
}

int cache_lookup_hashed(struct cache *c, uint64_t hash, const char *url, size_t len,
			int64_t now, struct cache_ref *ref)
{
	if (c == NULL || url == NULL || ref == NULL || len == 0)
		return -EINVAL;
	if (len > CACHE_URL_MAX)
		return -ENAMETOOLONG;
	rcu_read_lock();
	int ret = lookup_core(c, hash, url, len, now, ref, hot_find(c, hash, url, len));
	rcu_read_unlock();
	return ret;
}

int cache_lookup(struct cache *c, const char *url, size_t len, int64_t now,
		 struct cache_ref *ref)
{
	if (c == NULL || url == NULL)
		return -EINVAL;
	return cache_lookup_hashed(c, cache_hash(c, url, len), url, len, now, ref);
}

/*
 * A burst in three passes, so that each pass's memory misses overlap instead of following one
 * another: hash (or take the hash), prefetch the key and the index bucket; read each bucket's
 * candidate and prefetch its header and URL lines; then compare and examine. n <= CACHE_BURST_MAX.
 */
static void lookup_burst(struct cache *c, const uint64_t *hashes, const char *const *urls,
			 const size_t *lens, unsigned n, int64_t now, struct cache_ref *refs,
			 int *rcs)
{
	uint64_t h[CACHE_BURST_MAX];
	struct node *cand[CACHE_BURST_MAX];

	for (unsigned i = 0; i < n; i++) {
		if (urls[i] == NULL || lens[i] == 0 || lens[i] > CACHE_URL_MAX) {
			rcs[i] = urls[i] == NULL || lens[i] == 0 ? -EINVAL : -ENAMETOOLONG;
			continue;
		}
		rcs[i] = 0;
		if (hashes != NULL) {
			h[i] = hashes[i];
			__builtin_prefetch(urls[i]);
		} else {
			h[i] = url_hash(c->seed0, c->seed1, urls[i], lens[i]);
		}
		__builtin_prefetch(hot_bucket_of(c, h[i]));
	}
	for (unsigned i = 0; i < n; i++)
		cand[i] = rcs[i] == 0 ? hot_candidate(hot_bucket_of(c, h[i]), h[i]) : NULL;
	for (unsigned i = 0; i < n; i++) {
		if (rcs[i] < 0)
			continue;
		struct node *hot = cand[i];
		if (hot != NULL && !hot_match(hot, urls[i], lens[i]))
			hot = NULL;
		rcs[i] = lookup_core(c, h[i], urls[i], lens[i], now, &refs[i], hot);
	}
}

int cache_lookup_burst(struct cache *c, const uint64_t *hashes, const char *const *urls,
		       const size_t *lens, unsigned n, int64_t now, struct cache_ref *refs,
		       int *rcs)
{
	if (c == NULL || urls == NULL || lens == NULL || refs == NULL || rcs == NULL ||
	    n > INT_MAX)
		return -EINVAL;
	rcu_read_lock();
	for (unsigned i = 0; i < n; i += CACHE_BURST_MAX) {
		unsigned k = n - i < CACHE_BURST_MAX ? n - i : CACHE_BURST_MAX;
		lookup_burst(c, hashes != NULL ? hashes + i : NULL, urls + i, lens + i, k, now,
			     refs + i, rcs + i);
	}
	rcu_read_unlock();
	return (int)n;
}

int cache_claim_release(struct cache *c, const char *url, size_t len)
{
	int ret = -ENOENT;
	if (c == NULL || url == NULL || len == 0)
		return -EINVAL;
	if (len > CACHE_URL_MAX)
		return -ENAMETOOLONG;
	rcu_read_lock();
	struct node *n = ht_find(c, cache_hash(c, url, len), url, len, NULL);
	if (n != NULL) {
		struct flight *f = atomic_load_explicit(&n->flight, memory_order_acquire);
		if (f != NULL && f != FLIGHT_DEAD) {
			atomic_store_explicit(&f->abandoned, 1, memory_order_relaxed);
			ret = 0;
		}
	}
	rcu_read_unlock();
	return ret;
}

/* ---- waiting ------------------------------------------------------------------------------ */

int cache_wait(struct cache *c, const char *url, size_t len, const struct cache_waiter *w)
{
	int ret = -EAGAIN;
	if (c == NULL || url == NULL || len == 0 || w == NULL || w->ring == NULL)
		return -EINVAL;
	if (len > CACHE_URL_MAX)
		return -ENAMETOOLONG;
	rcu_read_lock();
	struct node *n = ht_find(c, cache_hash(c, url, len), url, len, NULL);
	struct flight *f = n ? atomic_load_explicit(&n->flight, memory_order_acquire) : NULL;
	if (f != NULL && f != FLIGHT_DEAD) {
		uint32_t cur = atomic_load_explicit(&f->nwait, memory_order_relaxed);
		if (cur & WAIT_CLOSED) {
			ret = -EAGAIN;
		} else if (cur >= c->cfg.waiters_per_flight) {
			ret = -ENOSPC;
		} else {
			uint32_t i = atomic_fetch_add_explicit(&f->nwait, 1, memory_order_acq_rel);
			if (i & WAIT_CLOSED) {
				ret = -EAGAIN;
			} else if (i >= c->cfg.waiters_per_flight) {
				ret = -ENOSPC;
			} else {
				struct waiter_slot *s = &f->w[i];
				s->ring = w->ring;
				s->cookie = w->cookie;
				atomic_store_explicit(&s->ready, 1, memory_order_release);
				ret = 0;
			}
		}
	}
	rcu_read_unlock();
	if (ret == 0)
		ctr_inc(c, C_WAITS);
	else if (ret == -ENOSPC)
		ctr_inc(c, C_WAITS_FULL);
	return ret;
}

/* Ends a flight (writer, under wlock): wakes its waiters, frees it after a grace period. */
static void flight_close(struct cache *c, struct flight *f, int result, enum cache_fail fail)
{
	atomic_store_explicit(&f->state, FL_CLOSED, memory_order_release);
	uint32_t n = atomic_fetch_or_explicit(&f->nwait, WAIT_CLOSED, memory_order_acq_rel);
	n &= ~WAIT_CLOSED;
	if (n > c->cfg.waiters_per_flight)
		n = c->cfg.waiters_per_flight;
	for (uint32_t i = 0; i < n; i++) {
		struct waiter_slot *s = &f->w[i];
		/* the waiter took slot i and is writing it: a few instructions away */
		for (unsigned spin = 0; !atomic_load_explicit(&s->ready, memory_order_acquire);
		     spin++)
			if (spin > 64)
				sched_yield();
		struct cache_wake wk = {
			.cookie = s->cookie,
			.result = result,
			.fail = (uint16_t)fail,
		};
		atomic_store_explicit(&s->ready, 0, memory_order_relaxed);
		if (hsm_ring_enqueue_burst(s->ring, &wk, 1) == 1)
			ctr_inc(c, C_WAKES);
		else
			ctr_inc(c, C_WAKE_DROPPED);
	}
	atomic_fetch_sub_explicit(&c->n_flights, 1, memory_order_relaxed);
	tsan_quiescent();
	call_rcu(&f->rcu, flight_free_cb);
}

/* ---- hot part allocation ------------------------------------------------------------------ */

/* Memory of `size` bytes (a multiple of SLAB_CHUNK), 2 MiB aligned, huge pages asked for. */
static void *huge_alloc(size_t size)
{
	void *p = aligned_alloc(SLAB_CHUNK, size);
	if (p != NULL)
		(void)madvise(p, size, MADV_HUGEPAGE); /* a hint: fails harmlessly without THP */
	return p;
}

/* A hot part of `size` bytes (hot_size()), cache-line aligned; writers and free callbacks. */
static struct node *hot_alloc(struct cache *c, size_t size)
{
	void *p = NULL;
#ifndef CACHE_NO_SLAB
	size_t k = size / CACHE_LINE - 2;
	if (k < SLAB_CLASSES) {
		pthread_mutex_lock(&c->slab_lock);
		p = c->slab_free[k];
		if (p != NULL) {
			memcpy(&c->slab_free[k], p, sizeof(void *));
		} else {
			if (c->slab_left < size) {
				char *chunk = huge_alloc(SLAB_CHUNK);
				if (chunk != NULL) {
					/* the first line links the chunks */
					memcpy(chunk, &c->slab_chunks, sizeof(void *));
					c->slab_chunks = chunk;
					c->slab_cur = chunk + CACHE_LINE;
					c->slab_left = SLAB_CHUNK - CACHE_LINE;
				}
			}
			if (c->slab_left >= size) {
				p = c->slab_cur;
				c->slab_cur += size;
				c->slab_left -= size;
			}
		}
		pthread_mutex_unlock(&c->slab_lock);
		return p;
	}
#else
	(void)c;
#endif
	p = aligned_alloc(CACHE_LINE, size);
	return p;
}

static void hot_free(struct cache *c, struct node *n, size_t size)
{
#ifndef CACHE_NO_SLAB
	size_t k = size / CACHE_LINE - 2;
	if (k < SLAB_CLASSES) {
		pthread_mutex_lock(&c->slab_lock);
		memcpy(n, &c->slab_free[k], sizeof(void *));
		c->slab_free[k] = n;
		pthread_mutex_unlock(&c->slab_lock);
		return;
	}
#else
	(void)c;
	(void)size;
#endif
	free(n);
}

/* Frees both parts of an entry node that no reader can reach any more. */
static void node_free(struct cache *c, struct node *n)
{
	free(n->cold);
	hot_free(c, n, hot_size(n->url_len));
}

static void slab_destroy(struct cache *c)
{
	void *chunk = c->slab_chunks;
	while (chunk != NULL) {
		void *next;
		memcpy(&next, chunk, sizeof(void *));
		free(chunk);
		chunk = next;
	}
	pthread_mutex_destroy(&c->slab_lock);
}

/* ---- writer side -------------------------------------------------------------------------- */

static void entry_free_cb(struct rcu_head *h)
{
	struct entry_cold *cold = caa_container_of(h, struct entry_cold, rcu);
	struct node *n = cold->self;
	struct cache *c = cold->c;
	tsan_before_free();
	if (atomic_load_explicit(&n->kind, memory_order_relaxed) == NODE_VALID)
		pp_es256_pub_release(&cold->pub.pub);
	node_free(c, n);
	tsan_cb_done(c);
}

static uint64_t rng_next(struct cache *c)
{
	uint64_t x = c->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	c->rng = x;
	return x;
}

static void slot_add(struct cache *c, struct node *n)
{
	struct entry_cold *cold = node_cold(n);
	cold->slot = c->nslots;
	c->slots[c->nslots++] = n;
}

static void slot_remove(struct cache *c, struct node *n)
{
	size_t i = node_cold(n)->slot;
	struct node *last = c->slots[--c->nslots];
	c->slots[i] = last;
	node_cold(last)->slot = i;
}

static void account(struct cache *c, struct node *n, int sign)
{
	uint64_t b = node_cold(n)->bytes;
	unsigned kind = atomic_load_explicit(&n->kind, memory_order_relaxed);
	if (sign > 0) {
		atomic_fetch_add_explicit(&c->n_entries, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->n_bytes, b, memory_order_relaxed);
		if (kind == NODE_NEGATIVE)
			atomic_fetch_add_explicit(&c->n_negative, 1, memory_order_relaxed);
	} else {
		atomic_fetch_sub_explicit(&c->n_entries, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&c->n_bytes, b, memory_order_relaxed);
		if (kind == NODE_NEGATIVE)
			atomic_fetch_sub_explicit(&c->n_negative, 1, memory_order_relaxed);
	}
}

/* Frees an entry node after a grace period (it is out of the table already). */
static void entry_retire(struct node *n)
{
	struct rcu_head *h = &node_cold(n)->rcu;
	tsan_quiescent(); /* this thread's reads of n happen before the free */
	call_rcu(h, entry_free_cb);
}

/*
 * Removes entry n from the table (writer, under wlock, in a read-side section) when no fetch
 * is in flight for it. Returns true when removed.
 */
static bool entry_remove(struct cache *c, struct node *n)
{
	struct flight *expect = NULL;
	if (!atomic_compare_exchange_strong_explicit(&n->flight, &expect, FLIGHT_DEAD,
						     memory_order_acq_rel, memory_order_acquire))
		return false;
	hot_put(c, n, NULL);
	if (cds_lfht_del(c->ht, &n->lfn) != 0)
		return false; /* cannot happen: only writers remove, under wlock */
	slot_remove(c, n);
	account(c, n, -1);
	entry_retire(n);
	return true;
}

static int64_t evict_score(const struct node *n, int64_t now)
{
	if (n->expires_at <= now)
		return INT64_MIN; /* expired or lapsed: first to go */
	return atomic_load_explicit(&n->last_use, memory_order_relaxed);
}

/* Evicts until the bounds hold, never `keep` (writer, under wlock). */
static void evict_to_fit(struct cache *c, const struct node *keep, int64_t now)
{
	unsigned guard = 0;
	while ((atomic_load_explicit(&c->n_entries, memory_order_relaxed) > c->cfg.max_entries ||
		atomic_load_explicit(&c->n_bytes, memory_order_relaxed) > c->cfg.max_bytes) &&
	       guard++ < 64) {
		struct node *best = NULL;
		int64_t best_score = INT64_MAX;
		if (c->nslots <= 1)
			return;
		/* a small table is scanned whole (exact LRU); a large one sampled */
		bool all = c->nslots <= 2 * EVICT_SAMPLES;
		size_t ns = all ? c->nslots : EVICT_SAMPLES;
		for (size_t s = 0; s < ns; s++) {
			struct node *n = c->slots[all ? s : rng_next(c) % c->nslots];
			if (n == keep || atomic_load_explicit(&n->flight, memory_order_relaxed))
				continue;
			int64_t sc = evict_score(n, now);
			if (sc < best_score) {
				best_score = sc;
				best = n;
			}
		}
		if (best == NULL) {
			/* every sample in flight or kept: take the first removable one */
			for (size_t i = 0; i < c->nslots && best == NULL; i++)
				if (c->slots[i] != keep &&
				    !atomic_load_explicit(&c->slots[i]->flight, memory_order_relaxed))
					best = c->slots[i];
			if (best == NULL)
				return;
		}
		if (entry_remove(c, best))
			ctr_inc(c, C_EVICTIONS);
	}
}

/*
 * Inserts the fully built entry nn in place of whatever node the URL has (writer, wlock held,
 * in a read-side section): wakes the old node's flight, retires the old entry, evicts to fit.
 */
static void publish_node(struct cache *c, struct node *nn, int64_t now, int result,
			 enum cache_fail fail)
{
	struct key key = { node_url(nn), nn->url_len };
	struct node *old;

	for (;;) {
		struct cds_lfht_iter it;
		old = ht_find(c, nn->cold->hash, key.url, key.len, &it);
		if (old != NULL) {
			unsigned ok = atomic_load_explicit(&old->kind, memory_order_relaxed);
			/* readers of the index see nn from now on (old stays valid to them
			 * until the grace period that follows its retirement) */
			hot_put(c, ok == NODE_VALID || ok == NODE_NEGATIVE ? old : NULL, nn);
			if (cds_lfht_replace(c->ht, &it, (unsigned long)nn->cold->hash, node_match,
					     &key, &nn->lfn) == 0)
				break;
		} else {
			struct cds_lfht_node *got = cds_lfht_add_unique(
				c->ht, (unsigned long)nn->cold->hash, node_match, &key, &nn->lfn);
			if (got == &nn->lfn) {
				hot_put(c, NULL, nn);
				break;
			}
		}
		/* a reader inserted a placeholder meanwhile: replace it */
	}
	struct flight *f = NULL;
	if (old != NULL) {
		unsigned okind = atomic_load_explicit(&old->kind, memory_order_relaxed);
		f = atomic_exchange_explicit(&old->flight, FLIGHT_DEAD, memory_order_acq_rel);
		if (okind == NODE_VALID || okind == NODE_NEGATIVE) {
			struct entry_cold *oc = node_cold(old), *nc = node_cold(nn);
			nc->slot = oc->slot;
			c->slots[nc->slot] = nn;
			account(c, old, -1);
			entry_retire(old);
		} else {
			slot_add(c, nn);
		}
	} else {
		slot_add(c, nn);
	}
	account(c, nn, +1);
	if (f != NULL && f != FLIGHT_DEAD)
		flight_close(c, f, result, fail);
	evict_to_fit(c, nn, now);
}

static void writer_lock(struct cache *c)
{
	pthread_mutex_lock(&c->wlock);
	rcu_read_lock();
}

static void writer_unlock(struct cache *c)
{
	rcu_read_unlock();
	pthread_mutex_unlock(&c->wlock);
}

/* Allocates a node for url with room for the cold part (valid: the whole cache_entry). */
static struct node *node_new(struct cache *c, const char *url, size_t len, bool valid)
{
	size_t cold = valid ? sizeof(struct entry_cold) : offsetof(struct entry_cold, pub);
	cold = (cold + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
	size_t size = hot_size(len);
	struct entry_cold *ec = aligned_alloc(CACHE_LINE, cold);
	struct node *n = ec != NULL ? hot_alloc(c, size) : NULL;
	if (n == NULL) {
		free(ec);
		return NULL;
	}
	memset(n, 0, size);
	memset(ec, 0, cold);
	cds_lfht_node_init(&n->lfn);
	n->cold = ec;
	n->url_len = (uint32_t)len;
	memcpy((char *)(n + 1), url, len);
	ec->hash = cache_hash(c, url, len);
	ec->c = c;
	ec->self = n;
	ec->bytes = size + cold + (valid ? c->cfg.key_cost : 0);
	return n;
}

static int64_t neg_ttl(const struct cache *c, uint32_t fails)
{
	uint64_t ttl = c->cfg.neg_ttl_min_s;
	for (uint32_t i = 1; i < fails && ttl < c->cfg.neg_ttl_max_s; i++)
		ttl *= 2;
	if (ttl > c->cfg.neg_ttl_max_s)
		ttl = c->cfg.neg_ttl_max_s;
	return (int64_t)ttl;
}

/*
 * A failed refresh of a valid entry that has not expired (writer, locked): the entry stays and
 * serves until its expiry; its next refresh is pushed back by the negative back-off; the
 * flight ends (waiters told CACHE_HIT: the entry is usable).
 */
static void refresh_failed(struct cache *c, struct node *old, enum cache_fail kind, int64_t now)
{
	struct entry_cold *oc = node_cold(old);
	oc->fails++;
	atomic_store_explicit(&old->refresh_at, now + neg_ttl(c, oc->fails), memory_order_relaxed);
	struct flight *f = atomic_exchange_explicit(&old->flight, NULL, memory_order_acq_rel);
	if (f != NULL && f != FLIGHT_DEAD)
		flight_close(c, f, CACHE_HIT, CACHE_FAIL_NONE);
	ctr_inc(c, C_PUBLISHES_NEG);
	ctr_inc(c, (enum ctr)(C_ERR0 + kind));
}

static int publish_negative(struct cache *c, const char *url, size_t len, enum cache_fail kind,
			    int detail, int64_t now)
{
	struct node *n = node_new(c, url, len, false);
	if (n == NULL)
		return -ENOMEM;
	struct entry_cold *ec = node_cold(n);
	ec->fail = (uint16_t)kind;
	ec->detail = detail;

	/* consecutive failures: a negative entry in place keeps the count */
	uint32_t fails = 1;
	writer_lock(c);
	struct node *old = ht_find(c, ec->hash, url, len, NULL);
	unsigned okind = old ? atomic_load_explicit(&old->kind, memory_order_acquire) : NODE_FREE;
	if (okind == NODE_VALID && now < old->expires_at) {
		refresh_failed(c, old, kind, now);
		writer_unlock(c);
		node_free(c, n);
		return 0;
	}
	if (okind == NODE_NEGATIVE)
		fails = node_cold(old)->fails + 1;
	ec->fails = fails;
	n->expires_at = now + neg_ttl(c, fails);
	atomic_store_explicit(&n->refresh_at, n->expires_at, memory_order_relaxed);
	atomic_store_explicit(&n->last_use, now, memory_order_relaxed);
	atomic_store_explicit(&n->kind, NODE_NEGATIVE, memory_order_release);
	publish_node(c, n, now, CACHE_HIT_NEGATIVE, kind);
	writer_unlock(c);
	ctr_inc(c, C_PUBLISHES_NEG);
	ctr_inc(c, (enum ctr)(C_ERR0 + kind));
	return 0;
}

int cache_publish_negative(struct cache *c, const char *url, size_t len, enum cache_fail kind,
			   int detail, int64_t now)
{
	if (c == NULL || url == NULL || len == 0 || kind <= CACHE_FAIL_NONE ||
	    kind >= CACHE_FAIL_COUNT)
		return -EINVAL;
	if (len > CACHE_URL_MAX)
		return -ENAMETOOLONG;
	return publish_negative(c, url, len, kind, detail, now);
}

int cache_publish_cert(struct cache *c, const char *url, size_t len, const struct cert_result *res,
		       int64_t now, int64_t http_max_age)
{
	if (c == NULL || url == NULL || len == 0 || res == NULL)
		return -EINVAL;
	if (len > CACHE_URL_MAX)
		return -ENAMETOOLONG;
	if (res->failed != CERT_OK) {
		int r = publish_negative(c, url, len, CACHE_FAIL_CERT, (int)res->failed, now);
		return r < 0 ? r : 1;
	}
	if (res->pkey == NULL)
		return -EINVAL;

	const struct cache_cfg *cfg = &c->cfg;
	int64_t ttl = http_max_age < 0 ? (int64_t)cfg->ttl_default_s : http_max_age;
	if (ttl < (int64_t)cfg->ttl_floor_s)
		ttl = cfg->ttl_floor_s;
	if (ttl > (int64_t)cfg->ttl_ceiling_s)
		ttl = cfg->ttl_ceiling_s;
	int64_t exp = now + ttl;
	if (exp > res->not_after)
		exp = res->not_after;
	if (exp <= now) {
		int r = publish_negative(c, url, len, CACHE_FAIL_CERT, CERT_EXPIRED, now);
		return r < 0 ? r : 1;
	}

	struct node *n = node_new(c, url, len, true);
	if (n == NULL)
		return -ENOMEM;
	struct entry_cold *ec = node_cold(n);
	struct cache_entry *e = &ec->pub;
	int r = pp_es256_pub_init(&e->pub, res->pkey);
	if (r < 0) {
		node_free(c, n);
		return r;
	}
	e->url = node_url(n);
	e->url_len = len;
	e->tnauth = res->tnauth;
	memcpy(e->spc, res->spc, sizeof(e->spc));
	e->spc[CERT_SPC_MAX] = '\0';
	e->warned = res->warned;
	e->not_before = res->not_before;
	e->not_after = res->not_after;
	e->fetched_at = now;
	e->expires_at = exp;
	/* refresh at refresh_pct % of the lifetime, minus up to 5 % of jitter from the hash so
	 * that entries loaded together are not refetched together */
	int64_t life = exp - now;
	int64_t at = life * (int64_t)cfg->refresh_pct / 100;
	int64_t jit = life / 20;
	if (jit > 0 && cfg->refresh_pct < 100)
		at -= (int64_t)(ec->hash % (uint64_t)(jit + 1));
	if (at < 0)
		at = 0;
	e->refresh_at = now + at;
	e->bytes = ec->bytes;
	n->expires_at = e->expires_at;
	atomic_store_explicit(&n->refresh_at, e->refresh_at, memory_order_relaxed);
	atomic_store_explicit(&n->last_use, now, memory_order_relaxed);
	atomic_store_explicit(&n->kind, NODE_VALID, memory_order_release);
	writer_lock(c);
	publish_node(c, n, now, CACHE_HIT, CACHE_FAIL_NONE);
	writer_unlock(c);
	ctr_inc(c, C_PUBLISHES);
	return 0;
}

int cache_invalidate(struct cache *c, const char *url, size_t len)
{
	int ret = -ENOENT;
	if (c == NULL || url == NULL || len == 0)
		return -EINVAL;
	if (len > CACHE_URL_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&c->wlock);
	rcu_read_lock();
	struct node *n = ht_find(c, cache_hash(c, url, len), url, len, NULL);
	if (n != NULL) {
		unsigned kind = atomic_load_explicit(&n->kind, memory_order_acquire);
		if (kind == NODE_PENDING)
			ret = -EBUSY;
		else
			ret = entry_remove(c, n) ? 0 : -EBUSY;
	}
	rcu_read_unlock();
	pthread_mutex_unlock(&c->wlock);
	return ret;
}

/* Cancels an active flight (writer, under wlock, read-side section). */
static void flight_cancel(struct cache *c, struct flight *f)
{
	if (f->owner == &f->n) {
		(void)atomic_exchange_explicit(&f->n.flight, FLIGHT_DEAD, memory_order_acq_rel);
		(void)cds_lfht_del(c->ht, &f->n.lfn);
	} else {
		struct flight *expect = f;
		(void)atomic_compare_exchange_strong_explicit(&f->owner->flight, &expect, NULL,
							      memory_order_acq_rel,
							      memory_order_acquire);
	}
	flight_close(c, f, CACHE_CANCELLED, CACHE_FAIL_NONE);
	ctr_inc(c, C_CANCELLED);
}

int cache_maintain(struct cache *c, int64_t now, size_t budget)
{
	int done = 0;
	if (c == NULL)
		return -EINVAL;
	pthread_mutex_lock(&c->wlock);
	rcu_read_lock();
	for (uint32_t w = 0; w < c->flwords; w++) {
		uint64_t bits = atomic_load_explicit(&c->flbits[w], memory_order_acquire);
		while (bits) {
			int b = __builtin_ctzll(bits);
			bits &= bits - 1;
			uint32_t idx = w * 64 + (uint32_t)b;
			if (idx >= c->cfg.max_flights)
				break;
			struct flight *f = &c->fl[idx];
			if (atomic_load_explicit(&f->state, memory_order_acquire) != FL_ACTIVE)
				continue;
			int64_t at = atomic_load_explicit(&f->claimed_at, memory_order_relaxed);
			if (atomic_load_explicit(&f->abandoned, memory_order_relaxed) ||
			    now - at >= (int64_t)c->cfg.flight_timeout_s) {
				flight_cancel(c, f);
				done++;
			}
		}
	}
	size_t n = budget == 0 || budget > c->nslots ? c->nslots : budget;
	for (size_t k = 0; k < n && c->nslots > 0; k++) {
		if (c->hand >= c->nslots)
			c->hand = 0;
		struct node *e = c->slots[c->hand];
		unsigned kind = atomic_load_explicit(&e->kind, memory_order_relaxed);
		int64_t dead_at = kind == NODE_NEGATIVE ?
			e->expires_at + (int64_t)c->cfg.neg_ttl_max_s : e->expires_at;
		if (now >= dead_at && entry_remove(c, e)) {
			ctr_inc(c, C_EXPIRATIONS);
			done++;
			continue; /* the last slot moved into hand */
		}
		hot_put(c, e, e); /* indexes e if its bucket was full when it was published */
		c->hand++;
	}
	rcu_read_unlock();
	pthread_mutex_unlock(&c->wlock);
	return done;
}

/* ---- create / destroy --------------------------------------------------------------------- */

void cache_cfg_default(struct cache_cfg *cfg)
{
	*cfg = (struct cache_cfg){
		.max_entries = 131072,
		.max_bytes = (size_t)256 << 20,
		.ttl_floor_s = 60,
		.ttl_ceiling_s = 86400,
		.ttl_default_s = 3600,
		.refresh_pct = 80,
		.neg_ttl_min_s = 5,
		.neg_ttl_max_s = 300,
		.flight_timeout_s = 10,
		.max_flights = 1024,
		.waiters_per_flight = 64,
		.key_cost = 1024,
	};
}

static int cfg_resolve(const struct cache_cfg *in, struct cache_cfg *out)
{
	struct cache_cfg d;
	cache_cfg_default(&d);
	*out = d;
	if (in == NULL)
		return 0;
#define TAKE(f) out->f = in->f ? in->f : d.f
	TAKE(max_entries);
	TAKE(max_bytes);
	TAKE(ttl_floor_s);
	TAKE(ttl_ceiling_s);
	TAKE(ttl_default_s);
	TAKE(refresh_pct);
	TAKE(neg_ttl_min_s);
	TAKE(neg_ttl_max_s);
	TAKE(flight_timeout_s);
	TAKE(max_flights);
	TAKE(waiters_per_flight);
	TAKE(key_cost);
#undef TAKE
	if (out->max_bytes < 4096 || out->max_entries > ((size_t)1 << 30) ||
	    out->ttl_floor_s > out->ttl_ceiling_s || out->refresh_pct > 100 ||
	    out->neg_ttl_min_s > out->neg_ttl_max_s || out->max_flights > (1u << 20) ||
	    out->waiters_per_flight > CACHE_WAITERS_MAX)
		return -EINVAL;
	return 0;
}

int cache_create(const struct cache_cfg *cfg, struct cache **out)
{
	struct cache *c;
	int ret = -ENOMEM;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	c = aligned_alloc(CACHE_LINE, (sizeof(*c) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1));
	if (c == NULL)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	ret = cfg_resolve(cfg, &c->cfg);
	if (ret < 0) {
		free(c);
		return ret;
	}
	uint64_t seed[3];
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)c;
		seed[1] = (uint64_t)ts.tv_sec ^ (seed[0] << 1);
		seed[2] = seed[0] ^ seed[1];
	}
	c->seed0 = seed[0];
	c->seed1 = seed[1];
	c->rng = seed[2] | 1;
	pthread_mutex_init(&c->wlock, NULL);
	pthread_mutex_init(&c->slab_lock, NULL);
	ret = -ENOMEM;

	uint32_t nf = c->cfg.max_flights;
	c->flwords = (nf + 63) / 64;
	c->fl = aligned_alloc(CACHE_LINE, sizeof(struct flight) * nf);
	c->wslots = calloc((size_t)nf * c->cfg.waiters_per_flight, sizeof(struct waiter_slot));
	c->flbits = calloc(c->flwords, sizeof(*c->flbits));
	/* room for max_entries plus the overshoot of entries kept while in flight */
	c->slots = calloc(c->cfg.max_entries + nf + 1, sizeof(*c->slots));
	if (c->fl == NULL || c->wslots == NULL || c->flbits == NULL || c->slots == NULL)
		goto fail;
	memset(c->fl, 0, sizeof(struct flight) * nf);
	for (uint32_t i = 0; i < nf; i++) {
		c->fl[i].c = c;
		c->fl[i].idx = i;
		c->fl[i].w = &c->wslots[(size_t)i * c->cfg.waiters_per_flight];
	}
	if (nf % 64)
		atomic_store(&c->flbits[c->flwords - 1], ~0ull << (nf % 64));

	unsigned long buckets = 1;
	while (buckets < c->cfg.max_entries && buckets < (1ul << 24))
		buckets <<= 1;
	c->ht = cds_lfht_new(buckets, buckets, buckets, 0, NULL);
	if (c->ht == NULL)
		goto fail;
	/* the hot index: HOT_WAYS ways per bucket, about two entries per bucket when full */
	size_t hb = 1;
	while (hb * 2 < c->cfg.max_entries)
		hb <<= 1;
	size_t hbytes = hb * sizeof(struct hot_bucket);
	c->hot = hbytes >= SLAB_CHUNK ? huge_alloc(hbytes) : aligned_alloc(CACHE_LINE, hbytes);
	if (c->hot == NULL) {
		(void)cds_lfht_destroy(c->ht, NULL);
		goto fail;
	}
	memset(c->hot, 0, hbytes);
	c->hot_mask = hb - 1;
	*out = c;
	return 0;
fail:
	free(c->slots);
	free(c->flbits);
	free(c->wslots);
	free(c->fl);
	pthread_mutex_destroy(&c->slab_lock);
	pthread_mutex_destroy(&c->wlock);
	free(c);
	return ret;
}

void cache_destroy(struct cache *c)
{
	if (c == NULL)
		return;
	bool online = cache_registered;
	if (!online)
		rcu_register_thread();
	rcu_read_lock();
	struct cds_lfht_iter it;
	struct cds_lfht_node *ln;
	cds_lfht_for_each(c->ht, &it, ln) {
		struct node *n = caa_container_of(ln, struct node, lfn);
		(void)cds_lfht_del(c->ht, ln);
		unsigned kind = atomic_load_explicit(&n->kind, memory_order_relaxed);
		if (kind == NODE_VALID || kind == NODE_NEGATIVE)
			entry_retire(n);
	}
	rcu_read_unlock();
	/* pending call_rcu frees reference c's pool: wait for all of them */
	rcu_thread_offline();
	rcu_barrier();
	tsan_after_barrier(c);
	(void)cds_lfht_destroy(c->ht, NULL);
	free(c->hot);
	slab_destroy(c);
	if (online)
		rcu_thread_online();
	else
		rcu_unregister_thread();
	free(c->slots);
	free(c->flbits);
	free(c->wslots);
	free(c->fl);
	pthread_mutex_destroy(&c->wlock);
	free(c);
}
