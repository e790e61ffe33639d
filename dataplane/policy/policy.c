/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Policy snapshots: trunk lookup by longest prefix and VLAN, attestation, credential choice,
 * listener lookup, and their publication by RCU pointer swap.
 *
 * A snapshot points to three parts, each immutable and reference counted so that a reload
 * or a credential swap shares what did not change: the trunks (with their prefix tables),
 * the credentials and the TN table. The snapshot itself holds the listeners and the scalars.
 *
 * Prefix tables: one per family. Addresses are 128-bit (hi, lo) keys, IPv4 in the top 32
 * bits of hi. Entries are grouped by prefix length, longest first, and within a group sorted
 * by (hi, lo, vlan), CFG_VLAN_ANY last: a lookup masks the key for each length present and
 * binary-searches the group for (prefix, vlan) then (prefix, any). A handful of distinct
 * lengths is typical, so a lookup is a few binary searches over a small array.
 *
 * Publication: one atomic pointer, exchanged (release) by writers under a mutex and loaded
 * (acquire) by readers; the previous snapshot goes to call_rcu. Under ThreadSanitizer, which
 * cannot see liburcu's grace periods, pol_quiescent() and pol_thread_offline() bump a global
 * counter (release) that the free callback reads (acquire) before freeing.
 */
#include "dataplane/policy/policy.h"
#include "dataplane/policy/pol_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <urcu-qsbr.h>
#include <urcu/call-rcu.h>

#if defined(__SANITIZE_THREAD__)
#define POL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POL_TSAN 1
#endif
#endif

struct lpm_ent {
	uint64_t hi, lo;
	uint16_t vlan;
	uint8_t len;
	uint32_t trunk;
};

struct lpm_group {
	uint8_t len;
	uint32_t first, count;
	uint64_t mask_hi, mask_lo;
};

struct lpm {
	struct lpm_ent *ents;
	size_t n;
	struct lpm_group groups[129];
	unsigned n_groups;
};

struct pol_trunks {
	_Atomic uint32_t refs;
	struct pol_trunk *v;
	size_t n;
	struct lpm lpm[2];         /* [0] IPv4, [1] IPv6 */
	char *strings;             /* names, customers */
};

struct pol_creds {
	_Atomic uint32_t refs;
	struct pol_cred *v;
	size_t n;
	char *strings;
};

struct pol_snapshot {
	struct rcu_head rcu;
	uint64_t generation;
	bool published;
	struct pol_params params;
	struct cfg_listener *listeners;
	size_t n_listeners;
	struct pol_trunks *trunks;
	struct pol_creds *creds;
	struct pol_tntable *tn;
	bool has_unknown_origid;
	char unknown_origid[CFG_UUID_LEN + 1];
};

/* ---- errors ------------------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ---- string storage ----------------------------------------------------------------------- */

struct strbuf {
	char *buf;
	size_t len, cap;
};

/* Total bytes of the strings to copy, computed first so that pointers never move. */
static size_t slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *sput(struct strbuf *b, const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = b->buf + b->len;
	memcpy(d, s, n);
	b->len += n;
	return d;
}

/* ---- prefix tables ------------------------------------------------------------------------ */

static void key_of(uint8_t family, const uint8_t *ip, uint64_t *hi, uint64_t *lo)
{
	uint64_t h = 0, l = 0;
	if (family == 4) {
		h = (uint64_t)ip[0] << 56 | (uint64_t)ip[1] << 48 | (uint64_t)ip[2] << 40 |
		    (uint64_t)ip[3] << 32;
	} else {
		for (int i = 0; i < 8; i++)
			h = h << 8 | ip[i];
		for (int i = 8; i < 16; i++)
			l = l << 8 | ip[i];
	}
	*hi = h;
	*lo = l;
}

static void mask_of(unsigned len, uint64_t *mh, uint64_t *ml)
{
	*mh = len == 0 ? 0 : len >= 64 ? ~0ull : ~0ull << (64 - len);
	*ml = len <= 64 ? 0 : len >= 128 ? ~0ull : ~0ull << (128 - len);
}

static int lpm_ent_cmp(const void *a, const void *b)
{
	const struct lpm_ent *x = a, *y = b;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1; /* longest first */
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->vlan != y->vlan)
		return x->vlan < y->vlan ? -1 : 1;
	return 0;
}

static int lpm_build(struct lpm *l, struct lpm_ent *ents, size_t n, const struct pol_trunk *tr,
		     char *err, size_t errlen)
{
	l->ents = ents;
	l->n = n;
	l->n_groups = 0;
	if (n == 0)
		return 0;
	qsort(ents, n, sizeof(*ents), lpm_ent_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && lpm_ent_cmp(&ents[i - 1], &ents[i]) == 0)
			return seterr(err, errlen, "trunks[%u].prefix: same prefix and vlan as "
				      "trunks[%u]", tr[ents[i].trunk].index,
				      tr[ents[i - 1].trunk].index);
		if (l->n_groups == 0 || l->groups[l->n_groups - 1].len != ents[i].len) {
			struct lpm_group *g = &l->groups[l->n_groups++];
			g->len = ents[i].len;
			g->first = (uint32_t)i;
			g->count = 0;
			mask_of(g->len, &g->mask_hi, &g->mask_lo);
		}
		l->groups[l->n_groups - 1].count++;
	}
	return 0;
}

/* The first entry of g >= (hi, lo, vlan); g->count when none. */
static uint32_t lpm_lower(const struct lpm_ent *e, uint32_t count, uint64_t hi, uint64_t lo,
			  uint16_t vlan)
{
	uint32_t lo_i = 0, n = count;
	while (n > 0) {
		uint32_t half = n / 2;
		const struct lpm_ent *m = &e[lo_i + half];
		bool less = m->hi < hi || (m->hi == hi && (m->lo < lo || (m->lo == lo &&
								     m->vlan < vlan)));
		if (less) {
			lo_i += half + 1;
			n -= half + 1;
		} else {
			n = half;
		}
	}
	return lo_i;
}

static const struct lpm_ent *lpm_find(const struct lpm *l, uint64_t hi, uint64_t lo,
				      uint16_t vlan)
{
	for (unsigned gi = 0; gi < l->n_groups; gi++) {
		const struct lpm_group *g = &l->groups[gi];
		uint64_t h = hi & g->mask_hi, o = lo & g->mask_lo;
		const struct lpm_ent *e = l->ents + g->first;
		uint32_t i = lpm_lower(e, g->count, h, o, vlan);
		if (i < g->count && e[i].hi == h && e[i].lo == o) {
			if (e[i].vlan == vlan)
				return &e[i];
			/* entries of this prefix with a larger vlan: the any-VLAN one is last */
			uint32_t j = lpm_lower(e, g->count, h, o, CFG_VLAN_ANY);
			if (j < g->count && e[j].hi == h && e[j].lo == o &&
			    e[j].vlan == CFG_VLAN_ANY)
				return &e[j];
		}
	}
	return NULL;
}

/* ---- parts ----------------------------------------------------------------------------- */

static void trunks_put(struct pol_trunks *t)
{
	if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(t->lpm[0].ents);
	free(t->lpm[1].ents);
	free(t->v);
	free(t->strings);
	free(t);
}

static void creds_put(struct pol_creds *c)
{
	if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(c->v);
	free(c->strings);
	free(c);
}

static int trunks_build(const struct cfg *cfg, const struct pol_tntable *tn,
			struct pol_trunks **out, char *err, size_t errlen)
{
	struct pol_trunks *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	atomic_init(&t->refs, 1);
	size_t n = cfg->n_trunks, bytes = 0, npfx[2] = {0, 0};
	for (size_t i = 0; i < n; i++) {
		bytes += slen(cfg->trunks[i].name) + slen(cfg->trunks[i].customer);
		for (size_t j = 0; j < cfg->trunks[i].n_prefixes; j++)
			npfx[cfg->trunks[i].prefixes[j].addr.family == 6]++;
	}
	struct strbuf sb = {.buf = malloc(bytes ? bytes : 1), .cap = bytes};
	t->strings = sb.buf;
	t->v = calloc(n ? n : 1, sizeof(*t->v));
	struct lpm_ent *e4 = malloc((npfx[0] ? npfx[0] : 1) * sizeof(*e4));
	struct lpm_ent *e6 = malloc((npfx[1] ? npfx[1] : 1) * sizeof(*e6));
	t->lpm[0].ents = e4;
	t->lpm[1].ents = e6;
	if (sb.buf == NULL || t->v == NULL || e4 == NULL || e6 == NULL) {
		trunks_put(t);
		return -ENOMEM;
	}
	size_t k4 = 0, k6 = 0;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_trunk *c = &cfg->trunks[i];
		struct pol_trunk *p = &t->v[i];
		p->name = sput(&sb, c->name);
		p->customer = c->kind == CFG_TRUNK_CUSTOMER ? sput(&sb, c->customer) : NULL;
		p->index = (uint32_t)i;
		p->kind = c->kind;
		p->vlan = c->vlan;
		p->attest_override = c->attest_override;
		p->on_verify_failure = c->on_verify_failure;
		p->on_sign_failure = c->on_sign_failure;
		snprintf(p->origid, sizeof(p->origid), "%s", c->origid ? c->origid : "");
		p->tn_owner = p->customer ? pol_tn_owner_find(tn, p->customer) : POL_OWNER_NONE;
		for (size_t j = 0; j < c->n_prefixes; j++) {
			const struct cfg_prefix *px = &c->prefixes[j];
			struct lpm_ent le = {.vlan = c->vlan, .len = px->len, .trunk = (uint32_t)i};
			key_of(px->addr.family, px->addr.ip, &le.hi, &le.lo);
			if (px->addr.family == 6)
				e6[k6++] = le;
			else
				e4[k4++] = le;
		}
	}
	t->n = n;
	int r = lpm_build(&t->lpm[0], e4, k4, t->v, err, errlen);
	if (r == 0)
		r = lpm_build(&t->lpm[1], e6, k6, t->v, err, errlen);
	if (r < 0) {
		trunks_put(t);
		return r;
	}
	*out = t;
	return 0;
}

static bool uuid_ok(const char *s)
{
	if (s == NULL || strlen(s) != CFG_UUID_LEN)
		return false;
	for (int i = 0; i < CFG_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char ch = s[i];
		bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			   (ch >= 'A' && ch <= 'F');
		if (dash ? ch != '-' : !hex)
			return false;
	}
	return true;
}

static int creds_build(const struct cfg_cred *cr, size_t n, struct pol_creds **out, char *err,
		       size_t errlen)
{
	if (n > CFG_CREDS_MAX || (n > 0 && cr == NULL))
		return seterr(err, errlen, "credentials: at most %d", CFG_CREDS_MAX);
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		const struct cfg_cred *c = &cr[i];
		if (c->id == NULL || c->id[0] == '\0' || strlen(c->id) > CFG_NAME_MAX)
			return seterr(err, errlen, "credentials[%zu].id: invalid", i);
		if (c->key == NULL || c->key[0] == '\0')
			return seterr(err, errlen, "credentials[%zu].key: required", i);
		if (c->x5u == NULL || strncasecmp(c->x5u, "https://", 8) != 0 ||
		    strlen(c->x5u) > CFG_X5U_MAX || strpbrk(c->x5u, "\"\\ \t\r\n"))
			return seterr(err, errlen, "credentials[%zu].x5u: expected an https:// URL",
				      i);
		if ((c->attest & (CFG_ATTEST_A | CFG_ATTEST_B | CFG_ATTEST_C)) == 0 ||
		    (c->attest & ~(CFG_ATTEST_A | CFG_ATTEST_B | CFG_ATTEST_C)))
			return seterr(err, errlen, "credentials[%zu].attest: invalid", i);
		if (c->origid && !uuid_ok(c->origid))
			return seterr(err, errlen, "credentials[%zu].origid: expected a UUID", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cr[j].id, c->id) == 0)
				return seterr(err, errlen, "credentials[%zu].id: duplicate id "
					      "\"%s\" (credentials[%zu])", i, c->id, j);
		bytes += slen(c->id) + slen(c->key) + slen(c->x5u) + slen(c->cert) +
			 slen(c->origid);
	}
	struct pol_creds *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	atomic_init(&p->refs, 1);
	struct strbuf sb = {.buf = malloc(bytes ? bytes : 1), .cap = bytes};
	p->strings = sb.buf;
	p->v = calloc(n ? n : 1, sizeof(*p->v));
	if (sb.buf == NULL || p->v == NULL) {
		creds_put(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		p->v[i] = (struct pol_cred){
			.id = sput(&sb, cr[i].id),
			.key = sput(&sb, cr[i].key),
			.x5u = sput(&sb, cr[i].x5u),
			.cert = sput(&sb, cr[i].cert),
			.attest = cr[i].attest,
			.origid = sput(&sb, cr[i].origid),
			.index = (uint32_t)i,
		};
	}
	p->n = n;
	*out = p;
	return 0;
}

/* A snapshot shell with listeners and scalars copied from cfg (or from base). */
static struct pol_snapshot *snap_new(const struct cfg_listener *ls, size_t n_ls)
{
	struct pol_snapshot *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	if (n_ls) {
		s->listeners = malloc(n_ls * sizeof(*s->listeners));
		if (s->listeners == NULL) {
			free(s);
			return NULL;
		}
		memcpy(s->listeners, ls, n_ls * sizeof(*ls));
		s->n_listeners = n_ls;
	}
	return s;
}

static void snap_destroy(struct pol_snapshot *s)
{
	trunks_put(s->trunks);
	creds_put(s->creds);
	pol_tn_free(s->tn);
	free(s->listeners);
	free(s);
}

void pol_snapshot_free(struct pol_snapshot *s)
{
	if (s == NULL)
		return;
	if (s->published) /* a published snapshot is freed by RCU only */
		return;
	snap_destroy(s);
}

int pol_snapshot_build(const struct cfg *cfg, struct pol_tntable *tn, struct pol_snapshot **out,
		       char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (cfg == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	if (cfg->sign.unknown_origid && !uuid_ok(cfg->sign.unknown_origid))
		return seterr(err, errlen, "sign.unknown_origid: expected a UUID");
	struct pol_snapshot *s = snap_new(cfg->listeners, cfg->n_listeners);
	if (s == NULL)
		return -ENOMEM;
	s->params = (struct pol_params){
		.sign_deadline_ms = cfg->hsm.deadline_ms,
		.park_timeout_ms = cfg->verify.park_timeout_ms,
		.fetch_timeout_ms = cfg->verify.fetch_timeout_ms,
		.freshness_s = cfg->verify.freshness_s,
		.log_rate_per_s = cfg->log_rate_per_s,
		.log_level = cfg->log_level,
	};
	if (cfg->sign.unknown_origid) {
		s->has_unknown_origid = true;
		snprintf(s->unknown_origid, sizeof(s->unknown_origid), "%s",
			 cfg->sign.unknown_origid);
	}
	s->tn = pol_tn_ref(tn);
	int r = trunks_build(cfg, tn, &s->trunks, err, errlen);
	if (r == 0)
		r = creds_build(cfg->creds, cfg->n_creds, &s->creds, err, errlen);
	if (r < 0) {
		if (r == -ENOMEM && err && errlen)
			snprintf(err, errlen, "out of memory");
		snap_destroy(s);
		return r;
	}
	*out = s;
	return 0;
}

static bool same_file(const struct pol_tntable *t, const char *path)
{
	struct stat st;
	if (t == NULL || t->path == NULL || strcmp(t->path, path) != 0 || stat(path, &st) < 0)
		return false;
	return st.st_dev == t->dev && st.st_ino == t->ino && st.st_size == t->size &&
	       st.st_mtim.tv_sec == t->mtime.tv_sec && st.st_mtim.tv_nsec == t->mtime.tv_nsec;
}

int pol_snapshot_load(const struct cfg *cfg, const struct pol_snapshot *prev,
		      struct pol_snapshot **out, char *err, size_t errlen)
{
	if (cfg == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	struct pol_tntable *tn = NULL;
	if (cfg->tn_table) {
		if (prev && same_file(prev->tn, cfg->tn_table)) {
			tn = pol_tn_ref(prev->tn);
		} else {
			int r = pol_tn_load_file(cfg->tn_table, &tn, err, errlen);
			if (r < 0)
				return r;
		}
	}
	int r = pol_snapshot_build(cfg, tn, out, err, errlen);
	pol_tn_free(tn);
	return r;
}

int pol_snapshot_with_creds(const struct pol_snapshot *base, const struct cfg_cred *creds,
			    size_t n, struct pol_snapshot **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (base == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	struct pol_creds *pc;
	int r = creds_build(creds, n, &pc, err, errlen);
	if (r < 0)
		return r;
	struct pol_snapshot *s = snap_new(base->listeners, base->n_listeners);
	if (s == NULL) {
		creds_put(pc);
		return -ENOMEM;
	}
	s->params = base->params;
	s->has_unknown_origid = base->has_unknown_origid;
	memcpy(s->unknown_origid, base->unknown_origid, sizeof(s->unknown_origid));
	s->tn = pol_tn_ref(base->tn);
	s->trunks = base->trunks;
	atomic_fetch_add_explicit(&s->trunks->refs, 1, memory_order_relaxed);
	s->creds = pc;
	*out = s;
	return 0;
}

/* ---- readers ---------------------------------------------------------------------------- */

const struct pol_trunk *pol_trunk_find(const struct pol_snapshot *s, uint8_t family,
				       const uint8_t *src, uint16_t vlan)
{
	if (s == NULL || src == NULL || (family != 4 && family != 6))
		return NULL;
	uint64_t hi, lo;
	key_of(family, src, &hi, &lo);
	const struct lpm_ent *e = lpm_find(&s->trunks->lpm[family == 6], hi, lo, vlan);
	return e ? &s->trunks->v[e->trunk] : NULL;
}

const struct pol_cred *pol_cred_select(const struct pol_snapshot *s, char attest,
				       const char *origid)
{
	if (s == NULL || attest < 'A' || attest > 'C')
		return NULL;
	unsigned bit = 1u << (attest - 'A');
	const struct pol_creds *c = s->creds;
	const struct pol_cred *any = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct pol_cred *p = &c->v[i];
		if (!(p->attest & bit))
			continue;
		if (p->origid == NULL) {
			if (any == NULL)
				any = p;
		} else if (origid && strcasecmp(p->origid, origid) == 0) {
			return p;
		}
	}
	return any;
}

int pol_decide(const struct pol_snapshot *s, uint8_t family, const uint8_t *src, uint16_t vlan,
	       const char *tn, size_t tn_len, struct pol_decision *out)
{
	if (s == NULL || src == NULL || out == NULL || (family != 4 && family != 6))
		return -EINVAL;
	const struct pol_trunk *t = pol_trunk_find(s, family, src, vlan);
	*out = (struct pol_decision){.trunk = t, .attest = 'C'};
	if (t == NULL) {
		out->origid = s->has_unknown_origid ? s->unknown_origid : NULL;
		out->on_verify_failure = CFG_VFAIL_ANNOTATE;
		out->on_sign_failure = CFG_SFAIL_UNSIGNED;
	} else {
		out->origid = t->origid;
		out->on_verify_failure = t->on_verify_failure;
		out->on_sign_failure = t->on_sign_failure;
		if (t->attest_override) {
			out->attest = t->attest_override;
		} else if (t->kind == CFG_TRUNK_CUSTOMER) {
			bool own = t->tn_owner != POL_OWNER_NONE && tn != NULL &&
				   pol_tn_lookup(s->tn, tn, tn_len) == t->tn_owner;
			out->attest = own ? 'A' : 'B';
		}
	}
	out->cred = pol_cred_select(s, out->attest, out->origid);
	out->sign = out->cred != NULL && out->origid != NULL;
	return 0;
}

static bool listener_match(const struct cfg_listener *l, uint8_t family, const uint8_t *dst,
			   uint16_t dport, uint16_t vlan, uint16_t iface)
{
	if (l->port != dport || l->vlan != vlan || (l->iface >= 0 && l->iface != iface))
		return false;
	if (l->addr.family == 0)
		return true;
	if (l->addr.family != family)
		return false;
	return memcmp(l->addr.ip, dst, family == 4 ? 4 : 16) == 0;
}

const struct cfg_listener *pol_listener_find(const struct pol_snapshot *s, uint8_t family,
					     const uint8_t *dst, uint16_t dport, uint16_t vlan,
					     uint16_t iface)
{
	if (s == NULL || dst == NULL || (family != 4 && family != 6))
		return NULL;
	for (size_t i = 0; i < s->n_listeners; i++)
		if (listener_match(&s->listeners[i], family, dst, dport, vlan, iface))
			return &s->listeners[i];
	return NULL;
}

const struct pol_params *pol_snapshot_params(const struct pol_snapshot *s)
{
	return s ? &s->params : NULL;
}

const struct pol_trunk *pol_snapshot_trunks(const struct pol_snapshot *s, size_t *n)
{
	if (n)
		*n = s ? s->trunks->n : 0;
	return s ? s->trunks->v : NULL;
}

const struct pol_cred *pol_snapshot_creds(const struct pol_snapshot *s, size_t *n)
{
	if (n)
		*n = s ? s->creds->n : 0;
	return s ? s->creds->v : NULL;
}

const struct cfg_listener *pol_snapshot_listeners(const struct pol_snapshot *s, size_t *n)
{
	if (n)
		*n = s ? s->n_listeners : 0;
	return s ? s->listeners : NULL;
}

const struct pol_tntable *pol_snapshot_tntable(const struct pol_snapshot *s)
{
	return s ? s->tn : NULL;
}

uint64_t pol_snapshot_generation(const struct pol_snapshot *s)
{
	return s ? s->generation : 0;
}

/* ---- publication -------------------------------------------------------------------------- */

static struct pol_snapshot *_Atomic pol_cur;
static pthread_mutex_t pol_wlock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t pol_gen;

#ifdef POL_TSAN
static _Atomic uint64_t tsan_qs;
#define tsan_quiescent() atomic_fetch_add_explicit(&tsan_qs, 1, memory_order_acq_rel)
#define tsan_before_free() (void)atomic_load_explicit(&tsan_qs, memory_order_acquire)
#else
#define tsan_quiescent() ((void)0)
#define tsan_before_free() ((void)0)
#endif

static void snap_free_cb(struct rcu_head *h)
{
	struct pol_snapshot *s = caa_container_of(h, struct pol_snapshot, rcu);
	tsan_before_free();
	snap_destroy(s);
}

uint64_t pol_publish(struct pol_snapshot *s)
{
	pthread_mutex_lock(&pol_wlock);
	uint64_t g = ++pol_gen;
	if (s) {
		s->generation = g;
		s->published = true;
	}
	struct pol_snapshot *old = atomic_exchange_explicit(&pol_cur, s, memory_order_acq_rel);
	pthread_mutex_unlock(&pol_wlock);
	tsan_quiescent(); /* the writer's own reads of old happen before its free */
	if (old == NULL)
		return g;
	if (rcu_read_ongoing()) {
		call_rcu(&old->rcu, snap_free_cb);
	} else {
		/* unregistered or offline: call_rcu is not allowed, wait for the readers here */
		synchronize_rcu();
		tsan_before_free();
		snap_destroy(old);
	}
	return g;
}

const struct pol_snapshot *pol_current(void)
{
	return atomic_load_explicit(&pol_cur, memory_order_acquire);
}

void pol_shutdown(void)
{
	pthread_mutex_lock(&pol_wlock);
	struct pol_snapshot *old = atomic_exchange_explicit(&pol_cur, NULL, memory_order_acq_rel);
	pthread_mutex_unlock(&pol_wlock);
	bool online = rcu_read_ongoing();
	if (old) {
		if (online) {
			call_rcu(&old->rcu, snap_free_cb);
		} else {
			/* not online: wait for the readers here instead of call_rcu */
			synchronize_rcu();
			tsan_before_free();
			snap_destroy(old);
		}
	}
	if (online)
		rcu_thread_offline();
	rcu_barrier();
	if (online)
		rcu_thread_online();
}

void pol_thread_register(void)
{
	rcu_register_thread();
}

void pol_thread_unregister(void)
{
	tsan_quiescent();
	rcu_unregister_thread();
}

void pol_quiescent(void)
{
	tsan_quiescent();
	rcu_quiescent_state();
}

void pol_thread_offline(void)
{
	tsan_quiescent();
	rcu_thread_offline();
}

void pol_thread_online(void)
{
	rcu_thread_online();
}
