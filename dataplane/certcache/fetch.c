/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The x5u fetcher: threads running libcurl multi handles fed by a lock-free request ring,
 * STI checks, publication into the certificate cache, CRLs and the RCU-replaced trust store.
 * See fetch.h and docs/certcache.md.
 */
#include "dataplane/certcache/fetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <urcu/pointer.h>
#include <urcu/urcu-qsbr.h>

#include "hsm/ring.h"

/* ---- HTTP caching headers (pure) ------------------------------------------------------- */

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Reads delta-seconds v[0..n): digits only; values past 2^31 are 2^31 (RFC 9111 §1.2.2). */
static int delta_seconds(const char *v, size_t n, int64_t *out)
{
	int64_t x = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		if (x < FETCH_DELTA_MAX)
			x = x * 10 + (v[i] - '0');
	}
	*out = x < FETCH_DELTA_MAX ? x : FETCH_DELTA_MAX;
	return 0;
}

int fetch_cache_control_parse(const char *v, size_t len, struct fetch_cc *out)
{
	size_t i = 0;
	int rc = 0;

	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->max_age = -1;
	out->s_maxage = -1;
	if (v == NULL)
		return len == 0 ? 0 : -EINVAL;
	while (i < len) {
		size_t ns, ne, vs = 0, ve = 0;
		bool has_val = false;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == len)
			break;
		ns = i;
		while (i < len && is_tchar(v[i]))
			i++;
		ne = i;
		if (ne == ns) {
			rc = -EINVAL;
			goto skip;
		}
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < len && v[i] == '=') {
			has_val = true;
			i++;
			while (i < len && (v[i] == ' ' || v[i] == '\t'))
				i++;
			if (i < len && v[i] == '"') {
				i++;
				vs = i;
				while (i < len && v[i] != '"') {
					if (v[i] == '\\' && i + 1 < len)
						i++;
					i++;
				}
				if (i == len) {
					rc = -EINVAL;
					break;
				}
				ve = i++;
			} else {
				vs = i;
				while (i < len && is_tchar(v[i]))
					i++;
				ve = i;
			}
		}
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < len && v[i] != ',') {
			rc = -EINVAL;
			goto skip;
		}
#define DIRECTIVE(s) (ne - ns == sizeof(s) - 1 && strncasecmp(v + ns, s, sizeof(s) - 1) == 0)
		if (DIRECTIVE("max-age") || DIRECTIVE("s-maxage")) {
			int64_t *dst = DIRECTIVE("max-age") ? &out->max_age : &out->s_maxage;
			int64_t x;

			if (!has_val || delta_seconds(v + vs, ve - vs, &x) < 0) {
				rc = -EINVAL;
				out->invalid = true;
			} else if (*dst < 0 || x < *dst) {
				*dst = x; /* repeated: the most restrictive counts */
			}
		} else if (DIRECTIVE("no-store")) {
			out->no_store = true;
		} else if (DIRECTIVE("no-cache")) {
			out->no_cache = true;
		} else if (DIRECTIVE("private")) {
			out->private_ = true;
		}
#undef DIRECTIVE
		continue;
skip:
		/* a malformed directive: skip to the next comma outside quotes */
		out->invalid = true;
		while (i < len && v[i] != ',') {
			if (v[i] == '"') {
				for (i++; i < len && v[i] != '"'; i++)
					if (v[i] == '\\' && i + 1 < len)
						i++;
			}
			if (i < len)
				i++;
		}
	}
	if (rc < 0)
		out->invalid = true;
	return rc;
}

static int month_of(const char *s)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int m = 0; m < 12; m++)
		if (strncmp(s, names + 3 * m, 3) == 0)
			return m + 1;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits at s. */
static bool digits_n(const char *s, size_t n, unsigned *out)
{
	unsigned x = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*out = x;
	return true;
}

static bool hms(const char *s, unsigned *h, unsigned *mi, unsigned *sec)
{
	return digits_n(s, 2, h) && s[2] == ':' && digits_n(s + 3, 2, mi) && s[5] == ':' &&
	       digits_n(s + 6, 2, sec) && *h < 24 && *mi < 60 && *sec < 61;
}

int fetch_http_date_parse(const char *v, size_t len, int64_t *out)
{
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	char s[40];
	unsigned y, mo, d, h, mi, sec;
	size_t i = 0;

	if (v == NULL || out == NULL)
		return -EINVAL;
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	while (len > 0 && (v[0] == ' ' || v[0] == '\t'))
		v++, len--;
	if (len < 24 || len >= sizeof(s))
		return -EINVAL;
	memcpy(s, v, len);
	s[len] = '\0';
	/* day name: 3 letters, or a long name followed by ',' (RFC 850) */
	while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		i++;
	if (i < 3 || i > 9)
		return -EINVAL;
	if (len == 29 && i == 3 && s[3] == ',' && s[4] == ' ') {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		if (!digits_n(s + 5, 2, &d) || s[7] != ' ' || (mo = (unsigned)month_of(s + 8)) == 0 ||
		    s[11] != ' ' || !digits_n(s + 12, 4, &y) || s[16] != ' ' ||
		    !hms(s + 17, &h, &mi, &sec) || strcmp(s + 25, " GMT") != 0)
			return -EINVAL;
	} else if (s[i] == ',' && i + 24 == len && s[i + 1] == ' ') {
		/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
		const char *p = s + i + 2;

		if (!digits_n(p, 2, &d) || p[2] != '-' || (mo = (unsigned)month_of(p + 3)) == 0 ||
		    p[6] != '-' || !digits_n(p + 7, 2, &y) || p[9] != ' ' ||
		    !hms(p + 10, &h, &mi, &sec) || strcmp(p + 18, " GMT") != 0)
			return -EINVAL;
		y += y < 70 ? 2000 : 1900; /* RFC 9110 §5.6.7: within 50 years of now, roughly */
	} else if (len == 24 && i == 3 && s[3] == ' ') {
		/* asctime: "Sun Nov  6 08:49:37 1994" */
		if ((mo = (unsigned)month_of(s + 4)) == 0 || s[7] != ' ')
			return -EINVAL;
		if (s[8] == ' ') {
			if (!digits_n(s + 9, 1, &d))
				return -EINVAL;
		} else if (!digits_n(s + 8, 2, &d)) {
			return -EINVAL;
		}
		if (s[10] != ' ' || !hms(s + 11, &h, &mi, &sec) || s[19] != ' ' ||
		    !digits_n(s + 20, 4, &y))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (d == 0 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !(y % 4 == 0 &&
	    (y % 100 != 0 || y % 400 == 0))))
		return -EINVAL;
	if (sec == 60)
		sec = 59; /* a leap second: the second before */
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

int64_t fetch_http_freshness(const struct fetch_http_hdrs *hd, int64_t now, bool *no_store)
{
	struct fetch_cc cc;
	int64_t date = 0, expires, age = 0, lifetime, cur_age;
	bool has_date;

	if (no_store != NULL)
		*no_store = false;
	if (hd == NULL)
		return -1;
	(void)fetch_cache_control_parse(hd->cache_control, hd->cache_control ?
					strnlen(hd->cache_control, FETCH_HDR_MAX) : 0, &cc);
	if (cc.no_store || cc.private_) {
		if (no_store != NULL)
			*no_store = true;
		return 0;
	}
	if (cc.no_cache)
		return 0;
	has_date = hd->date != NULL &&
		   fetch_http_date_parse(hd->date, strnlen(hd->date, FETCH_HDR_MAX), &date) == 0;
	if (hd->age != NULL && hd->age[0] != '\0' &&
	    delta_seconds(hd->age, strnlen(hd->age, FETCH_HDR_MAX), &age) < 0)
		age = 0; /* an invalid Age is ignored */
	cur_age = age;
	if (has_date && now - date > cur_age)
		cur_age = now - date; /* apparent age */
	if (cc.s_maxage >= 0)
		lifetime = cc.s_maxage; /* we are a shared cache */
	else if (cc.max_age >= 0)
		lifetime = cc.max_age;
	else if (cc.invalid)
		return 0; /* a max-age we cannot read: stale (RFC 9111 §4.2.1) */
	else if (hd->expires != NULL && hd->expires[0] != '\0') {
		if (fetch_http_date_parse(hd->expires, strnlen(hd->expires, FETCH_HDR_MAX),
					  &expires) < 0)
			return 0; /* "0" or garbage: already expired */
		lifetime = expires - (has_date ? date : now);
	} else {
		return -1;
	}
	if (lifetime <= cur_age)
		return 0;
	lifetime -= cur_age;
	return lifetime < FETCH_DELTA_MAX ? lifetime : FETCH_DELTA_MAX;
}
/* ---- URL policy: deny-list, allow-list, redirects ----------------------------------------- */

/* host equals entry, or entry is ".domain" and host is domain or ends in ".domain". */
static bool host_match(const char *entry, const char *host)
{
	size_t n, hl = strlen(host);

	if (entry == NULL)
		return false;
	n = strlen(entry);
	if (n >= 2 && entry[0] == '[' && entry[n - 1] == ']')
		return hl == n - 2 && strncasecmp(entry + 1, host, n - 2) == 0;
	if (n >= 2 && entry[0] == '.') {
		if (hl == n - 1 && strcasecmp(entry + 1, host) == 0)
			return true;
		return hl > n && strcasecmp(host + hl - n, entry) == 0;
	}
	return strcasecmp(entry, host) == 0;
}

static bool host_listed(const char *const *list, unsigned n, const char *host)
{
	for (unsigned i = 0; i < n; i++)
		if (host_match(list[i], host))
			return true;
	return false;
}

static int url_check(const struct fetch_cfg *cfg, const char *url, struct x5u_url *u,
		     const char **why)
{
	int rc = x5u_url_check(&cfg->x5u, url, u, why);

	if (rc < 0)
		return rc;
	if (host_listed(cfg->deny_hosts, cfg->n_deny_hosts, u->host)) {
		*why = "host is on the deny-list";
		return -EACCES;
	}
	if (cfg->n_only_hosts > 0 && !host_listed(cfg->only_hosts, cfg->n_only_hosts, u->host)) {
		*why = "host is not on the allow-list";
		return -EACCES;
	}
	return 0;
}

int fetch_url_check(const struct fetch_cfg *cfg, const char *url, const char **why)
{
	static const struct fetch_cfg defaults;
	const char *dummy;
	struct x5u_url u;

	if (why == NULL)
		why = &dummy;
	*why = "";
	return url_check(cfg != NULL ? cfg : &defaults, url, &u, why);
}

/*
 * The absolute URL a redirect from cur to loc leads to: loc itself when it starts with
 * "https://", cur's scheme and authority followed by loc when loc is an absolute path; any
 * other form (relative path, other scheme, "//host") is refused. Returns 0 or -EINVAL.
 */
static int redirect_target(const char *cur, const char *loc, char *out, size_t cap)
{
	size_t n;

	if (strncasecmp(loc, "https://", 8) == 0) {
		n = strlen(loc);
		if (n >= cap)
			return -EINVAL;
		memcpy(out, loc, n + 1);
		return 0;
	}
	if (loc[0] != '/' || loc[1] == '/')
		return -EINVAL;
	for (n = 8; cur[n] != '\0' && cur[n] != '/'; n++)
		;
	if (n + strlen(loc) >= cap)
		return -EINVAL;
	memcpy(out, cur, n);
	memcpy(out + n, loc, strlen(loc) + 1);
	return 0;
}

static bool status_redirect(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/* ---- fetcher state ---------------------------------------------------------------------- */

struct fetch_req {
	uint16_t len;
	char url[FETCH_URL_MAX + 1];
};

struct fetch_store {
	struct rcu_head rh;
	struct cert_store *st;
};

enum xfer_kind { XFER_CERT, XFER_CRL };

#define XFER_DP_MAX 4 /* CRL slots one certificate may wait for */

/* One request: a transfer in flight, or a chain parked until its CRL has been fetched. */
struct xfer {
	struct x5u_xfer x;               /* first: callbacks point at it */
	CURL *h;
	enum xfer_kind kind;
	unsigned crl;                    /* XFER_CRL: slot */
	unsigned hops;                   /* redirects followed */
	char key[FETCH_URL_MAX + 1];     /* XFER_CERT: the cache key */
	size_t key_len;
	char cur[X5U_URL_MAX + 1];       /* the URL of this hop */
	char errbuf[CURL_ERROR_SIZE];
	char *body;
	size_t cap;
	int64_t max_age;
	bool no_store;
	/* parked */
	struct cert_chain chain;
	unsigned n_wait;
	unsigned wait[XFER_DP_MAX];
	int64_t park_until;
	struct xfer *next;               /* parked list */
	struct xfer *lnext, *lprev;      /* in-flight list of the thread */
};

struct fthread {
	struct fetch *f;
	unsigned id;
	pthread_t tid;
	bool started;
	CURLM *multi;
	atomic_int sleeping;             /* in curl_multi_poll(): producers wake it */
	unsigned inflight;
	struct xfer *live;               /* transfers in the multi handle */
	struct xfer *parked;
	int64_t next_maintain_ms;
} __attribute__((aligned(64)));

struct crl_slot {
	char url[X5U_URL_MAX + 1];
	X509_CRL *crl;
	int64_t next_fetch;              /* Unix seconds */
	bool in_flight;
	bool tried;                      /* a fetch has completed (either way) */
};

struct idx_ent {
	char *url;                       /* NULL: free */
	size_t url_len;
	uint8_t slen;
	uint8_t serial[20];
};

enum {
	ST_SUBMITTED, ST_RING_FULL, ST_FETCHES, ST_FETCH_OK, ST_REDIRECTS, ST_PARSE_ERR,
	ST_CERT_INVALID, ST_PUBLISHED, ST_PUBLISHED_NEG, ST_CRL_FETCHES, ST_CRL_OK, ST_CRL_ERR,
	ST_REVOKED_SWEPT, ST_STORE_GEN, ST_STORE_ERR, ST_INFLIGHT, ST_WAKEUPS, ST_COUNT_
};

struct fetch {
	struct fetch_cfg cfg;
	struct x5u_policy crl_policy;
	struct cache *cache;
	struct hsm_ring *ring;
	struct fetch_store *store;       /* RCU (QSBR): rcu_dereference / rcu_xchg_pointer */
	pthread_mutex_t lock;            /* CRL slots, store rebuilds, the index */
	struct crl_slot crls[FETCH_CRL_MAX];
	unsigned n_crls;
	atomic_bool reload;
	struct idx_ent *idx;
	size_t idx_cap, idx_n;
	atomic_bool stop;
	unsigned n_threads;
	atomic_uint_fast64_t st[ST_COUNT_];
	atomic_uint_fast64_t fetch_err[X5U_KIND_COUNT_];
	struct fthread th[FETCH_THREADS_MAX];
};

#define STAT_ADD(f, k, n) atomic_fetch_add_explicit(&(f)->st[k], (n), memory_order_relaxed)

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- trust store ------------------------------------------------------------------------ */

static void store_free_cb(struct rcu_head *rh)
{
	struct fetch_store *s = caa_container_of(rh, struct fetch_store, rh);

	cert_store_free(s->st);
	free(s);
}

/* Anchors and CRL signers from the configured paths, without CRLs. */
static int store_base(const struct fetch_cfg *cfg, struct cert_store **out)
{
	struct cert_store *st = NULL;
	int rc;

	rc = cert_store_create(&st);
	if (rc < 0)
		return rc;
	rc = cert_store_add_path(st, cfg->trust_path);
	if (rc >= 0 && cfg->crl_signer_path != NULL)
		rc = cert_store_add_crl_signer_file(st, cfg->crl_signer_path);
	if (rc < 0) {
		cert_store_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

/* A new store from the paths and every CRL held. Called with f->lock held. */
static int store_build_locked(struct fetch *f, struct fetch_store **out)
{
	struct fetch_store *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return -ENOMEM;
	rc = store_base(&f->cfg, &s->st);
	for (unsigned i = 0; rc >= 0 && i < f->n_crls; i++)
		if (f->crls[i].crl != NULL)
			rc = cert_store_add_crl(s->st, f->crls[i].crl);
	if (rc < 0) {
		cert_store_free(s->st);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Rebuilds and publishes the store (a registered online thread). Called with f->lock held. */
static int store_replace_locked(struct fetch *f)
{
	struct fetch_store *s, *old;
	int rc = store_build_locked(f, &s);

	if (rc < 0) {
		STAT_ADD(f, ST_STORE_ERR, 1);
		return rc;
	}
	old = rcu_xchg_pointer(&f->store, s);
	if (old != NULL)
		urcu_qsbr_call_rcu(&old->rh, store_free_cb);
	STAT_ADD(f, ST_STORE_GEN, 1);
	return 0;
}

int fetch_trust_reload(struct fetch *f)
{
	struct cert_store *st;
	int rc;

	if (f == NULL)
		return -EINVAL;
	rc = store_base(&f->cfg, &st); /* report a bad bundle now; the swap is thread 0's */
	if (rc < 0)
		return rc;
	cert_store_free(st);
	atomic_store(&f->reload, true);
	if (atomic_exchange(&f->th[0].sleeping, 0))
		curl_multi_wakeup(f->th[0].multi);
	return 0;
}

/* ---- index of valid publishes (for CRL sweeps) ---------------------------------------- */

static uint64_t url_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

/* Remembers url -> leaf serial. Called with f->lock held. */
static void index_put_locked(struct fetch *f, const char *url, size_t len, X509 *leaf)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(leaf);
	int slen = sn != NULL ? ASN1_STRING_length(sn) : 0;
	size_t i, mask = f->idx_cap - 1;
	struct idx_ent *e;

	if (f->idx == NULL || slen <= 0 || slen > 20)
		return;
	for (i = url_hash(url, len) & mask;; i = (i + 1) & mask) {
		e = &f->idx[i];
		if (e->url == NULL)
			break;
		if (e->url_len == len && memcmp(e->url, url, len) == 0)
			goto fill;
	}
	if (f->idx_n >= f->cfg.max_index)
		return;
	e->url = malloc(len);
	if (e->url == NULL)
		return;
	memcpy(e->url, url, len);
	e->url_len = len;
	f->idx_n++;
fill:
	e->slen = (uint8_t)slen;
	memcpy(e->serial, ASN1_STRING_get0_data(sn), (size_t)slen);
}

static int serial_cmp(const void *a, const void *b)
{
	const ASN1_INTEGER *x = *(const ASN1_INTEGER *const *)a, *y = *(const ASN1_INTEGER *const *)b;
	int lx = ASN1_STRING_length(x), ly = ASN1_STRING_length(y);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return memcmp(ASN1_STRING_get0_data(x), ASN1_STRING_get0_data(y), (size_t)lx);
}

/*
 * Invalidates every indexed entry whose serial crl lists, and drops it from the index (the
 * refetch judges it against the new store). Called with f->lock held.
 */
static void index_sweep_locked(struct fetch *f, X509_CRL *crl)
{
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	int n = rev != NULL ? sk_X509_REVOKED_num(rev) : 0;
	const ASN1_INTEGER **sns;

	if (n <= 0 || f->idx == NULL)
		return;
	sns = calloc((size_t)n, sizeof(*sns));
	if (sns == NULL)
		return;
	for (int i = 0; i < n; i++)
		sns[i] = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, i));
	qsort(sns, (size_t)n, sizeof(*sns), serial_cmp);
	for (size_t i = 0; i < f->idx_cap; i++) {
		struct idx_ent *e = &f->idx[i];
		ASN1_INTEGER *key;
		const ASN1_INTEGER *kp;

		if (e->url == NULL)
			continue;
		key = ASN1_INTEGER_new();
		if (key == NULL)
			break;
		if (ASN1_STRING_set(key, e->serial, e->slen) == 1) {
			kp = key;
			if (bsearch(&kp, sns, (size_t)n, sizeof(*sns), serial_cmp) != NULL) {
				(void)cache_invalidate(f->cache, e->url, e->url_len);
				STAT_ADD(f, ST_REVOKED_SWEPT, 1);
				/* leave the slot taken (probe chains stay intact), forget the
				 * serial: the next publish of this URL fills it again */
				e->slen = 0;
			}
		}
		ASN1_INTEGER_free(key);
	}
	free(sns);
}

/* ---- CRLs --------------------------------------------------------------------------------- */

/* The slot of url, added when new (and there is room). Called with f->lock held.
 * Returns the slot index or -ENOSPC. */
static int crl_slot_locked(struct fetch *f, const char *url)
{
	size_t n = strlen(url);

	for (unsigned i = 0; i < f->n_crls; i++)
		if (strcmp(f->crls[i].url, url) == 0)
			return (int)i;
	if (f->n_crls == FETCH_CRL_MAX || n >= sizeof(f->crls[0].url))
		return -ENOSPC;
	memset(&f->crls[f->n_crls], 0, sizeof(f->crls[0]));
	memcpy(f->crls[f->n_crls].url, url, n + 1);
	return (int)f->n_crls++;
}

static int64_t asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static X509_CRL *crl_parse(const char *buf, size_t len)
{
	X509_CRL *crl = NULL;
	BIO *b;

	if (len == 0 || len > INT32_MAX)
		return NULL;
	if ((uint8_t)buf[0] == 0x30) {
		const unsigned char *p = (const unsigned char *)buf;

		crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (crl != NULL && p != (const unsigned char *)buf + len) {
			X509_CRL_free(crl);
			crl = NULL;
		}
		return crl;
	}
	b = BIO_new_mem_buf(buf, (int)len);
	if (b == NULL)
		return NULL;
	crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	BIO_free(b);
	return crl;
}

/* Installs a fetched CRL (or records a failure) in slot i and rebuilds the store. */
static void crl_done(struct fetch *f, unsigned i, const char *body, size_t len, int rc,
		     int64_t now)
{
	struct crl_slot *s;
	X509_CRL *crl = rc == 0 ? crl_parse(body, len) : NULL;
	bool keep_old = false;

	pthread_mutex_lock(&f->lock);
	s = &f->crls[i];
	s->in_flight = false;
	s->tried = true;
	if (crl == NULL) {
		STAT_ADD(f, ST_CRL_ERR, 1);
		s->next_fetch = now + f->cfg.crl_retry_s;
		goto out;
	}
	/* never roll back to an older CRL of the same issuer */
	if (s->crl != NULL &&
	    X509_NAME_cmp(X509_CRL_get_issuer(s->crl), X509_CRL_get_issuer(crl)) == 0 &&
	    asn1_time_unix(X509_CRL_get0_lastUpdate(crl)) <
		    asn1_time_unix(X509_CRL_get0_lastUpdate(s->crl)))
		keep_old = true;
	{
		int64_t next = asn1_time_unix(X509_CRL_get0_nextUpdate(crl));
		int64_t due = now + f->cfg.crl_refresh_s;

		if (next > now && next < due)
			due = next;
		if (due < now + 10)
			due = now + 10;
		s->next_fetch = due;
	}
	if (keep_old) {
		STAT_ADD(f, ST_CRL_ERR, 1);
		X509_CRL_free(crl);
		goto out;
	}
	X509_CRL_free(s->crl);
	s->crl = crl;
	STAT_ADD(f, ST_CRL_OK, 1);
	if (store_replace_locked(f) == 0)
		index_sweep_locked(f, crl);
out:
	pthread_mutex_unlock(&f->lock);
}

/* ---- transfers ---------------------------------------------------------------------------- */

static void xfer_free(struct xfer *xf)
{
	if (xf == NULL)
		return;
	if (xf->h != NULL)
		curl_easy_cleanup(xf->h);
	cert_chain_free(&xf->chain);
	free(xf->body);
	free(xf);
}

static void xfer_unlink(struct fthread *t, struct xfer *xf)
{
	if (xf->lprev != NULL)
		xf->lprev->lnext = xf->lnext;
	else
		t->live = xf->lnext;
	if (xf->lnext != NULL)
		xf->lnext->lprev = xf->lprev;
	xf->lnext = xf->lprev = NULL;
}

/* Starts (or restarts, for a redirect hop) xf's transfer of xf->cur on t. */
static int xfer_start(struct fthread *t, struct xfer *xf, struct x5u_result *res)
{
	struct fetch *f = t->f;
	const struct x5u_policy *p = xf->kind == XFER_CRL ? &f->crl_policy : &f->cfg.x5u;
	const char *why = "";
	struct x5u_url u;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = url_check(&f->cfg, xf->cur, &u, &why);
	if (rc < 0) {
		res->kind = rc == -EACCES ? X5U_BLOCKED : X5U_BAD_URL;
		snprintf(res->detail, sizeof(res->detail), "%s", why);
		return rc;
	}
	if (xf->h == NULL)
		xf->h = curl_easy_init();
	else
		curl_easy_reset(xf->h);
	if (xf->h == NULL) {
		res->kind = X5U_INTERNAL;
		return -ENOMEM;
	}
	rc = x5u_xfer_setup(&xf->x, xf->h, p, xf->cur, xf->body, xf->cap, res);
	if (rc < 0)
		return rc;
	xf->errbuf[0] = '\0';
	if (curl_easy_setopt(xf->h, CURLOPT_ERRORBUFFER, xf->errbuf) != CURLE_OK ||
	    curl_easy_setopt(xf->h, CURLOPT_PRIVATE, xf) != CURLE_OK ||
	    curl_multi_add_handle(t->multi, xf->h) != CURLM_OK) {
		res->kind = X5U_INTERNAL;
		return -EIO;
	}
	t->inflight++;
	xf->lprev = NULL;
	xf->lnext = t->live;
	if (t->live != NULL)
		t->live->lprev = xf;
	t->live = xf;
	STAT_ADD(f, ST_INFLIGHT, 1);
	STAT_ADD(f, xf->kind == XFER_CRL ? ST_CRL_FETCHES : ST_FETCHES, 1);
	return 0;
}

static struct xfer *xfer_new(enum xfer_kind kind, size_t body_max)
{
	struct xfer *xf = calloc(1, sizeof(*xf));

	if (xf == NULL)
		return NULL;
	xf->kind = kind;
	xf->cap = body_max + 1;
	xf->body = malloc(xf->cap);
	xf->max_age = -1;
	if (xf->body == NULL) {
		free(xf);
		return NULL;
	}
	return xf;
}

static enum cache_fail fail_of(enum x5u_kind k)
{
	switch (k) {
	case X5U_BAD_URL:
	case X5U_BLOCKED:
		return CACHE_FAIL_URL;
	case X5U_HTTP_STATUS:
		return CACHE_FAIL_HTTP;
	case X5U_TOO_LARGE:
		return CACHE_FAIL_TOO_BIG;
	default:
		return CACHE_FAIL_FETCH;
	}
}

static void publish_fail(struct fetch *f, struct xfer *xf, const struct x5u_result *res, int rc,
			 int64_t now)
{
	int detail = res->kind == X5U_HTTP_STATUS ? (int)res->http_status : rc;

	if ((unsigned)res->kind < X5U_KIND_COUNT_)
		atomic_fetch_add_explicit(&f->fetch_err[res->kind], 1, memory_order_relaxed);
	if (cache_publish_negative(f->cache, xf->key, xf->key_len, fail_of(res->kind), detail,
				   now) < 0)
		(void)cache_claim_release(f->cache, xf->key, xf->key_len);
	else
		STAT_ADD(f, ST_PUBLISHED_NEG, 1);
}

/* Starts a CRL fetch for slot i on t unless one is in flight. */
static void crl_start(struct fthread *t, unsigned i, int64_t now)
{
	struct fetch *f = t->f;
	struct x5u_result res;
	struct xfer *xf;

	pthread_mutex_lock(&f->lock);
	if (f->crls[i].in_flight) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	f->crls[i].in_flight = true;
	xf = xfer_new(XFER_CRL, f->crl_policy.max_body);
	if (xf != NULL)
		memcpy(xf->cur, f->crls[i].url, sizeof(xf->cur));
	pthread_mutex_unlock(&f->lock);
	if (xf == NULL) {
		crl_done(f, i, NULL, 0, -ENOMEM, now);
		return;
	}
	xf->crl = i;
	if (xfer_start(t, xf, &res) < 0) {
		xfer_free(xf);
		crl_done(f, i, NULL, 0, -EIO, now);
	}
}

/* Runs the STI checks on a parked or fresh chain and publishes the outcome. */
static void cert_finish(struct fthread *t, struct xfer *xf, int64_t now)
{
	struct fetch *f = t->f;
	struct fetch_store *s = rcu_dereference(f->store);
	struct cert_result cr;
	int rc;

	rc = cert_sti_check(&xf->chain, s->st, now, 0, NULL, &f->cfg.cert, &cr);
	if (rc < 0) {
		if (cache_publish_negative(f->cache, xf->key, xf->key_len, CACHE_FAIL_FETCH, rc,
					   now) < 0)
			(void)cache_claim_release(f->cache, xf->key, xf->key_len);
		return;
	}
	rc = cache_publish_cert(f->cache, xf->key, xf->key_len, &cr, now,
				xf->no_store ? 0 : xf->max_age);
	if (rc == 0) {
		STAT_ADD(f, ST_PUBLISHED, 1);
		pthread_mutex_lock(&f->lock);
		index_put_locked(f, xf->key, xf->key_len, xf->chain.certs[0]);
		pthread_mutex_unlock(&f->lock);
	} else if (rc == 1) {
		STAT_ADD(f, ST_PUBLISHED_NEG, 1);
		STAT_ADD(f, ST_CERT_INVALID, 1);
	} else {
		(void)cache_claim_release(f->cache, xf->key, xf->key_len);
	}
	cert_result_clear(&cr);
}

/*
 * The CRL slots xf's chain names in its distribution points; starts the fetch of those never
 * fetched. Returns how many xf must wait for (recorded in xf->wait).
 */
static unsigned cert_crl_deps(struct fthread *t, struct xfer *xf, int64_t now)
{
	struct fetch *f = t->f;
	unsigned start[XFER_DP_MAX], n_start = 0;

	xf->n_wait = 0;
	if (f->cfg.no_crl_dp)
		return 0;
	for (unsigned c = 0; c < xf->chain.n && xf->n_wait < XFER_DP_MAX; c++) {
		STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(xf->chain.certs[c],
							     NID_crl_distribution_points, NULL, NULL);

		for (int d = 0; dps != NULL && d < sk_DIST_POINT_num(dps); d++) {
			DIST_POINT *dp = sk_DIST_POINT_value(dps, d);

			if (dp->distpoint == NULL || dp->distpoint->type != 0)
				continue;
			for (int g = 0; g < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); g++) {
				GENERAL_NAME *gn =
					sk_GENERAL_NAME_value(dp->distpoint->name.fullname, g);
				char url[X5U_URL_MAX + 1];
				const char *why;
				struct x5u_url u;
				int len, slot;

				if (gn->type != GEN_URI || xf->n_wait == XFER_DP_MAX)
					continue;
				len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
				if (len <= 0 || len > X5U_URL_MAX)
					continue;
				memcpy(url, ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
				       (size_t)len);
				url[len] = '\0';
				if (strlen(url) != (size_t)len ||
				    url_check(&f->cfg, url, &u, &why) < 0)
					continue; /* only CRLs we may fetch (https, policy) */
				pthread_mutex_lock(&f->lock);
				slot = crl_slot_locked(f, url);
				if (slot >= 0 && !f->crls[slot].tried) {
					xf->wait[xf->n_wait++] = (unsigned)slot;
					if (!f->crls[slot].in_flight && n_start < XFER_DP_MAX)
						start[n_start++] = (unsigned)slot;
				}
				pthread_mutex_unlock(&f->lock);
			}
		}
		sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	}
	for (unsigned i = 0; i < n_start; i++)
		crl_start(t, start[i], now);
	return xf->n_wait;
}

/* A certificate body arrived: load the chain, wait for new CRLs or check and publish. */
static void cert_body(struct fthread *t, struct xfer *xf, size_t len, int64_t now)
{
	struct fetch *f = t->f;

	if (cert_chain_load((const uint8_t *)xf->body, len, &xf->chain) < 0) {
		STAT_ADD(f, ST_PARSE_ERR, 1);
		if (cache_publish_negative(f->cache, xf->key, xf->key_len, CACHE_FAIL_PARSE,
					   -EINVAL, now) < 0)
			(void)cache_claim_release(f->cache, xf->key, xf->key_len);
		else
			STAT_ADD(f, ST_PUBLISHED_NEG, 1);
		xfer_free(xf);
		return;
	}
	if (cert_crl_deps(t, xf, now) > 0) {
		long total = f->cfg.x5u.timeout_ms > 0 ? f->cfg.x5u.timeout_ms : X5U_TIMEOUT_MS;

		xf->park_until = mono_ms() + total + 500;
		curl_easy_cleanup(xf->h);
		xf->h = NULL;
		free(xf->body);
		xf->body = NULL;
		xf->next = t->parked;
		t->parked = xf;
		return;
	}
	cert_finish(t, xf, now);
	xfer_free(xf);
}

/* Resumes parked chains whose CRLs have been tried, or whose wait is over. */
static void parked_check(struct fthread *t, int64_t now)
{
	struct fetch *f = t->f;
	struct xfer **pp = &t->parked;
	int64_t ms = mono_ms();

	while (*pp != NULL) {
		struct xfer *xf = *pp;
		bool ready = ms >= xf->park_until;

		if (!ready) {
			ready = true;
			pthread_mutex_lock(&f->lock);
			for (unsigned i = 0; i < xf->n_wait; i++)
				if (!f->crls[xf->wait[i]].tried)
					ready = false;
			pthread_mutex_unlock(&f->lock);
		}
		if (!ready) {
			pp = &xf->next;
			continue;
		}
		*pp = xf->next;
		cert_finish(t, xf, now);
		xfer_free(xf);
	}
}

/* A transfer ended with libcurl result cc. */
static void xfer_done(struct fthread *t, struct xfer *xf, CURLcode cc, int64_t now)
{
	struct fetch *f = t->f;
	struct x5u_result res;
	int rc;

	curl_multi_remove_handle(t->multi, xf->h);
	xfer_unlink(t, xf);
	t->inflight--;
	atomic_fetch_sub_explicit(&f->st[ST_INFLIGHT], 1, memory_order_relaxed);
	rc = x5u_xfer_done(&xf->x, cc, &res);
	if (rc < 0 && res.kind == X5U_HTTP_STATUS && status_redirect(res.http_status) &&
	    xf->hops < f->cfg.max_redirects && xf->x.location[0] != '\0') {
		char next[X5U_URL_MAX + 1];

		if (redirect_target(xf->cur, xf->x.location, next, sizeof(next)) == 0) {
			xf->hops++;
			STAT_ADD(f, ST_REDIRECTS, 1);
			memcpy(xf->cur, next, sizeof(xf->cur));
			rc = xfer_start(t, xf, &res);
			if (rc == 0)
				return;
		} else {
			res.kind = X5U_BAD_URL;
			rc = -EINVAL;
		}
	}
	if (xf->kind == XFER_CRL) {
		crl_done(f, xf->crl, xf->body, res.len, rc, now);
		xfer_free(xf);
		return;
	}
	if (rc < 0) {
		publish_fail(f, xf, &res, rc, now);
		xfer_free(xf);
		return;
	}
	STAT_ADD(f, ST_FETCH_OK, 1);
	{
		struct fetch_http_hdrs hd = {
			.cache_control = xf->x.cache_control,
			.expires = xf->x.expires,
			.date = xf->x.date,
			.age = xf->x.age,
		};

		xf->max_age = fetch_http_freshness(&hd, now, &xf->no_store);
	}
	cert_body(t, xf, res.len, now);
}

/* A request from the ring becomes a transfer (or a negative publish). */
static void req_start(struct fthread *t, const struct fetch_req *rq, int64_t now)
{
	struct fetch *f = t->f;
	struct x5u_result res;
	struct xfer *xf = xfer_new(XFER_CERT, f->cfg.x5u.max_body);
	int rc;

	if (xf == NULL) {
		(void)cache_claim_release(f->cache, rq->url, rq->len);
		return;
	}
	memcpy(xf->key, rq->url, rq->len);
	xf->key[rq->len] = '\0';
	xf->key_len = rq->len;
	if (strlen(xf->key) != xf->key_len) {
		res.kind = X5U_BAD_URL;
		rc = -EINVAL;
	} else {
		memcpy(xf->cur, xf->key, xf->key_len + 1);
		rc = xfer_start(t, xf, &res);
		if (rc == 0)
			return;
	}
	publish_fail(f, xf, &res, rc, now);
	xfer_free(xf);
}

/* ---- threads ------------------------------------------------------------------------------ */

static void housekeeping(struct fthread *t, int64_t now)
{
	struct fetch *f = t->f;
	unsigned due[FETCH_CRL_MAX], n_due = 0;
	int64_t ms = mono_ms();

	if (atomic_exchange(&f->reload, false)) {
		pthread_mutex_lock(&f->lock);
		(void)store_replace_locked(f);
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < f->n_crls; i++)
		if (!f->crls[i].in_flight && f->crls[i].next_fetch <= now)
			due[n_due++] = i;
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < n_due; i++)
		crl_start(t, due[i], now);
	if (f->cfg.maintain_ms > 0 && ms >= t->next_maintain_ms) {
		(void)cache_maintain(f->cache, now, 0);
		t->next_maintain_ms = ms + f->cfg.maintain_ms;
	}
}

static void drain_done(struct fthread *t, int64_t now)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
		struct xfer *xf = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&xf);
		if (xf != NULL)
			xfer_done(t, xf, m->data.result, now);
	}
}

static void thread_abandon(struct fthread *t)
{
	struct fetch *f = t->f;

	while (t->parked != NULL) {
		struct xfer *xf = t->parked;

		t->parked = xf->next;
		(void)cache_claim_release(f->cache, xf->key, xf->key_len);
		xfer_free(xf);
	}
	while (t->live != NULL) {
		struct xfer *xf = t->live;

		curl_multi_remove_handle(t->multi, xf->h);
		xfer_unlink(t, xf);
		if (xf->kind == XFER_CERT)
			(void)cache_claim_release(f->cache, xf->key, xf->key_len);
		xfer_free(xf);
		atomic_fetch_sub_explicit(&f->st[ST_INFLIGHT], 1, memory_order_relaxed);
	}
	t->inflight = 0;
}

static void *thread_main(void *arg)
{
	struct fthread *t = arg;
	struct fetch *f = t->f;
	struct fetch_req rq[8];

	(void)cache_thread_register();
	while (!atomic_load(&f->stop)) {
		int64_t now;
		unsigned got = 0, room;
		int running;

		cache_quiescent();
		now = (int64_t)time(NULL);
		if (t->id == 0)
			housekeeping(t, now);
		room = f->cfg.max_inflight > t->inflight ? f->cfg.max_inflight - t->inflight : 0;
		while (room > 0) {
			unsigned n = hsm_ring_dequeue_burst(f->ring, rq,
							    room < 8 ? room : 8);

			for (unsigned i = 0; i < n; i++)
				req_start(t, &rq[i], now);
			got += n;
			room -= n < room ? n : room;
			if (n < 8)
				break;
		}
		curl_multi_perform(t->multi, &running);
		drain_done(t, now);
		if (t->parked != NULL)
			parked_check(t, now);
		if (got > 0)
			continue;
		atomic_store(&t->sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst);
		if (t->inflight < f->cfg.max_inflight && hsm_ring_count(f->ring) > 0) {
			atomic_store(&t->sleeping, 0);
			continue;
		}
		cache_thread_offline();
		curl_multi_poll(t->multi, NULL, 0, t->parked ? 50 : t->id == 0 ? 100 : 1000,
				NULL);
		cache_thread_online();
		atomic_store(&t->sleeping, 0);
	}
	thread_abandon(t);
	cache_thread_unregister();
	return NULL;
}

/* ---- public ------------------------------------------------------------------------------- */

int fetch_submit(struct fetch *f, const char *url, size_t len)
{
	struct fetch_req rq;

	if (f == NULL || url == NULL || len == 0)
		return -EINVAL;
	if (len > FETCH_URL_MAX)
		return -ENAMETOOLONG;
	rq.len = (uint16_t)len;
	memcpy(rq.url, url, len);
	rq.url[len] = '\0';
	if (hsm_ring_enqueue_burst(f->ring, &rq, 1) != 1) {
		STAT_ADD(f, ST_RING_FULL, 1);
		return -EAGAIN;
	}
	STAT_ADD(f, ST_SUBMITTED, 1);
	/* pairs with the fence between a fetcher's sleeping flag and its ring check */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < f->n_threads; i++) {
		struct fthread *t = &f->th[i];

		if (atomic_load_explicit(&t->sleeping, memory_order_relaxed) &&
		    atomic_exchange(&t->sleeping, 0)) {
			STAT_ADD(f, ST_WAKEUPS, 1);
			curl_multi_wakeup(t->multi);
			break;
		}
	}
	return 0;
}

int fetch_lookup(struct fetch *f, const char *url, size_t len, int64_t now,
		 const struct cache_waiter *w, struct cache_ref *ref, bool *waiting)
{
	int rc;

	if (waiting != NULL)
		*waiting = false;
	if (f == NULL)
		return -EINVAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		int s;

		rc = cache_lookup(f->cache, url, len, now, ref);
		if (rc < 0)
			return rc;
		if (rc == CACHE_HIT && ref->refresh) {
			ref->refresh = false;
			if (fetch_submit(f, url, len) < 0)
				(void)cache_claim_release(f->cache, url, len);
			return rc;
		}
		if (rc == CACHE_MISS_CLAIMED) {
			s = fetch_submit(f, url, len);
			if (s < 0) {
				(void)cache_claim_release(f->cache, url, len);
				return s;
			}
		}
		if ((rc != CACHE_MISS_CLAIMED && rc != CACHE_MISS_PENDING) || w == NULL)
			return rc;
		s = cache_wait(f->cache, url, len, w);
		if (s == 0) {
			if (waiting != NULL)
				*waiting = true;
			return rc;
		}
		if (s != -EAGAIN)
			return rc; /* -ENOSPC: not parked; the caller retries later */
		/* -EAGAIN: the fetch completed meanwhile: look up again */
	}
	return rc;
}

void fetch_stats(const struct fetch *f, struct fetch_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (f == NULL)
		return;
#define LD(k) atomic_load_explicit(&((struct fetch *)f)->st[k], memory_order_relaxed)
	out->submitted = LD(ST_SUBMITTED);
	out->ring_full = LD(ST_RING_FULL);
	out->fetches = LD(ST_FETCHES);
	out->fetch_ok = LD(ST_FETCH_OK);
	out->redirects = LD(ST_REDIRECTS);
	out->parse_err = LD(ST_PARSE_ERR);
	out->cert_invalid = LD(ST_CERT_INVALID);
	out->published = LD(ST_PUBLISHED);
	out->published_negative = LD(ST_PUBLISHED_NEG);
	out->crl_fetches = LD(ST_CRL_FETCHES);
	out->crl_ok = LD(ST_CRL_OK);
	out->crl_err = LD(ST_CRL_ERR);
	out->revoked_swept = LD(ST_REVOKED_SWEPT);
	out->store_generation = LD(ST_STORE_GEN);
	out->store_err = LD(ST_STORE_ERR);
	out->inflight = LD(ST_INFLIGHT);
	out->wakeups = LD(ST_WAKEUPS);
#undef LD
	for (unsigned k = 0; k < X5U_KIND_COUNT_; k++)
		out->fetch_err[k] = atomic_load_explicit(&((struct fetch *)f)->fetch_err[k],
							 memory_order_relaxed);
}

/* Copies cfg with the defaults filled in; checks ranges. */
static int cfg_fill(const struct fetch_cfg *in, struct fetch_cfg *c)
{
	*c = *in;
	if (c->n_threads == 0)
		c->n_threads = 1;
	if (c->ring_size == 0)
		c->ring_size = FETCH_RING_DEFAULT;
	if (c->max_inflight == 0)
		c->max_inflight = FETCH_INFLIGHT_DEFAULT;
	if (c->crl_refresh_s <= 0)
		c->crl_refresh_s = FETCH_CRL_REFRESH_DEFAULT;
	if (c->crl_retry_s <= 0)
		c->crl_retry_s = FETCH_CRL_RETRY_DEFAULT;
	if (c->crl_max_body == 0)
		c->crl_max_body = FETCH_CRL_BODY_DEFAULT;
	if (c->x5u.max_body == 0)
		c->x5u.max_body = X5U_BODY_MAX;
	if (c->maintain_ms == 0)
		c->maintain_ms = 250;
	if (c->max_index == 0)
		c->max_index = 131072;
	if (c->n_threads > FETCH_THREADS_MAX || c->max_redirects > 1 ||
	    c->n_deny_hosts > FETCH_HOSTS_MAX || c->n_only_hosts > FETCH_HOSTS_MAX ||
	    c->n_crl_urls > FETCH_CRL_MAX || c->max_index > (1u << 24) ||
	    (c->n_deny_hosts > 0 && c->deny_hosts == NULL) ||
	    (c->n_only_hosts > 0 && c->only_hosts == NULL) ||
	    (c->n_crl_urls > 0 && c->crl_urls == NULL))
		return -EINVAL;
	return 0;
}

void fetch_destroy(struct fetch *f)
{
	if (f == NULL)
		return;
	atomic_store(&f->stop, true);
	for (unsigned i = 0; i < f->n_threads; i++)
		if (f->th[i].multi != NULL)
			curl_multi_wakeup(f->th[i].multi);
	for (unsigned i = 0; i < f->n_threads; i++)
		if (f->th[i].started)
			pthread_join(f->th[i].tid, NULL);
	for (unsigned i = 0; i < f->n_threads; i++)
		if (f->th[i].multi != NULL)
			curl_multi_cleanup(f->th[i].multi);
	urcu_qsbr_barrier(); /* old stores handed to call_rcu are freed */
	if (f->store != NULL) {
		cert_store_free(f->store->st);
		free(f->store);
	}
	for (unsigned i = 0; i < f->n_crls; i++)
		X509_CRL_free(f->crls[i].crl);
	for (size_t i = 0; f->idx != NULL && i < f->idx_cap; i++)
		free(f->idx[i].url);
	free(f->idx);
	hsm_ring_destroy(f->ring);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int fetch_create(const struct fetch_cfg *cfg, struct cache *c, struct fetch **out)
{
	struct fetch *f;
	int rc;

	if (cfg == NULL || c == NULL || out == NULL || cfg->trust_path == NULL)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	rc = cfg_fill(cfg, &f->cfg);
	if (rc < 0) {
		free(f);
		return rc;
	}
	f->cache = c;
	f->crl_policy = f->cfg.x5u;
	f->crl_policy.max_body = f->cfg.crl_max_body;
	for (unsigned i = 0; i < f->cfg.n_crl_urls; i++) {
		const char *why;
		struct x5u_url u;

		if (f->cfg.crl_urls[i] == NULL ||
		    url_check(&f->cfg, f->cfg.crl_urls[i], &u, &why) < 0 ||
		    crl_slot_locked(f, f->cfg.crl_urls[i]) < 0) {
			rc = -EINVAL;
			goto fail;
		}
	}
	rc = store_build_locked(f, &f->store);
	if (rc < 0)
		goto fail;
	STAT_ADD(f, ST_STORE_GEN, 1);
	for (f->idx_cap = 16; f->idx_cap < 2 * f->cfg.max_index; f->idx_cap *= 2)
		;
	f->idx = calloc(f->idx_cap, sizeof(*f->idx));
	if (f->idx == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = hsm_ring_create(f->cfg.ring_size, sizeof(struct fetch_req), &f->ring);
	if (rc < 0)
		goto fail;
	f->n_threads = f->cfg.n_threads;
	for (unsigned i = 0; i < f->n_threads; i++) {
		f->th[i].f = f;
		f->th[i].id = i;
		f->th[i].multi = curl_multi_init();
		if (f->th[i].multi == NULL) {
			rc = -ENOMEM;
			goto fail;
		}
		(void)curl_multi_setopt(f->th[i].multi, CURLMOPT_PIPELINING,
					(long)CURLPIPE_MULTIPLEX);
	}
	for (unsigned i = 0; i < f->n_threads; i++) {
		if (pthread_create(&f->th[i].tid, NULL, thread_main, &f->th[i]) != 0) {
			rc = -EAGAIN;
			goto fail;
		}
		f->th[i].started = true;
	}
	*out = f;
	return 0;
fail:
	fetch_destroy(f);
	return rc;
}

/* ---- blocking fetch ------------------------------------------------------------------------ */

int fetch_x5u_sync(const struct fetch_cfg *cfg, const char *url, char *buf, size_t cap,
		   struct fetch_result *res)
{
	static const struct fetch_cfg defaults;
	char cur[X5U_URL_MAX + 1];
	struct x5u_xfer x;
	const char *why = "";
	struct x5u_url u;
	CURLM *m = NULL;
	CURL *h = NULL;
	int rc;

	if (res == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	res->max_age = -1;
	if (cfg == NULL)
		cfg = &defaults;
	if (url == NULL || strlen(url) > X5U_URL_MAX) {
		res->x5u.kind = X5U_BAD_URL;
		snprintf(res->x5u.detail, sizeof(res->x5u.detail), "%s",
			 url == NULL ? "no URL" : "URL too long");
		return -EINVAL;
	}
	memcpy(cur, url, strlen(url) + 1);
	m = curl_multi_init();
	h = curl_easy_init();
	if (m == NULL || h == NULL) {
		res->x5u.kind = X5U_INTERNAL;
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		CURLMsg *msg;
		CURLcode cc = CURLE_OK;
		bool done = false;
		int running, left;

		rc = url_check(cfg, cur, &u, &why);
		if (rc < 0) {
			res->x5u.kind = rc == -EACCES ? X5U_BLOCKED : X5U_BAD_URL;
			snprintf(res->x5u.detail, sizeof(res->x5u.detail), "%s", why);
			goto out;
		}
		curl_easy_reset(h);
		rc = x5u_xfer_setup(&x, h, &cfg->x5u, cur, buf, cap, &res->x5u);
		if (rc < 0)
			goto out;
		if (curl_multi_add_handle(m, h) != CURLM_OK) {
			res->x5u.kind = X5U_INTERNAL;
			rc = -EIO;
			goto out;
		}
		while (!done) {
			curl_multi_perform(m, &running);
			while ((msg = curl_multi_info_read(m, &left)) != NULL) {
				if (msg->msg == CURLMSG_DONE) {
					cc = msg->data.result;
					done = true;
				}
			}
			if (!done)
				curl_multi_poll(m, NULL, 0, 1000, NULL);
		}
		curl_multi_remove_handle(m, h);
		rc = x5u_xfer_done(&x, cc, &res->x5u);
		if (rc < 0 && res->x5u.kind == X5U_HTTP_STATUS &&
		    status_redirect(res->x5u.http_status) && res->redirects < cfg->max_redirects &&
		    x.location[0] != '\0') {
			char next[X5U_URL_MAX + 1];

			if (redirect_target(cur, x.location, next, sizeof(next)) < 0) {
				res->x5u.kind = X5U_BAD_URL;
				snprintf(res->x5u.detail, sizeof(res->x5u.detail),
					 "redirect to a URL that is not absolute https");
				rc = -EINVAL;
				goto out;
			}
			memcpy(cur, next, sizeof(cur));
			res->redirects++;
			continue;
		}
		break;
	}
	if (rc == 0) {
		struct fetch_http_hdrs hd = {
			.cache_control = x.cache_control,
			.expires = x.expires,
			.date = x.date,
			.age = x.age,
		};

		res->max_age = fetch_http_freshness(&hd, (int64_t)time(NULL), &res->no_store);
	}
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	if (m != NULL)
		curl_multi_cleanup(m);
	return rc;
}
