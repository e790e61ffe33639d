/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TN ownership table. A TN of d digits with value v is the 64-bit key (d << 50) | v
 * (10^15 < 2^50), so that ranges of different lengths never compare equal or overlap and one
 * sorted array holds them all. The table is three parallel arrays, start[] (searched),
 * end[] and owner[]: 20 bytes a range. Parsing is one pass over the buffer (lines counted
 * first to size the arrays exactly), owner names interned in an open-addressing hash table,
 * then a sort only when the file was not sorted, then one pass that rejects overlaps and
 * merges adjacent ranges of one owner.
 */
#include "dataplane/policy/policy.h"
#include "dataplane/policy/pol_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_SHIFT 50
#define KEY_LEN(k) ((unsigned)((k) >> KEY_SHIFT))
#define KEY_VAL(k) ((k) & ((1ull << KEY_SHIFT) - 1))

struct ent {
	uint64_t start, end;
	uint32_t owner, line;
};

/* ---- owner names ---------------------------------------------------------------------- */

static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static const char *owner_name(const struct pol_tntable *t, uint32_t o)
{
	return t->names + t->name_off[o];
}

/* Finds name in t's hash; POL_OWNER_NONE when absent (slot index in *slot). */
static uint32_t owner_lookup(const struct pol_tntable *t, const char *s, size_t len,
			     size_t *slot)
{
	size_t mask = t->hcap - 1;
	size_t i = (size_t)name_hash(s, len) & mask;
	for (;;) {
		uint32_t o = t->hslots[i];
		if (o == POL_OWNER_NONE) {
			if (slot)
				*slot = i;
			return POL_OWNER_NONE;
		}
		const char *n = owner_name(t, o);
		if (strncmp(n, s, len) == 0 && n[len] == '\0')
			return o;
		i = (i + 1) & mask;
	}
}

static int hash_grow(struct pol_tntable *t)
{
	size_t ncap = t->hcap ? t->hcap * 2 : 64;
	uint32_t *ns = malloc(ncap * sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	memset(ns, 0xff, ncap * sizeof(*ns));
	for (uint32_t o = 0; o < t->n_owners; o++) {
		const char *n = owner_name(t, o);
		size_t i = (size_t)name_hash(n, strlen(n)) & (ncap - 1);
		while (ns[i] != POL_OWNER_NONE)
			i = (i + 1) & (ncap - 1);
		ns[i] = o;
	}
	free(t->hslots);
	t->hslots = ns;
	t->hcap = ncap;
	return 0;
}

/* Interns name (already validated); returns the owner id or -errno. */
static int64_t owner_intern(struct pol_tntable *t, const char *s, size_t len)
{
	if (t->n_owners * 2 >= t->hcap && hash_grow(t) < 0)
		return -ENOMEM;
	size_t slot;
	uint32_t o = owner_lookup(t, s, len, &slot);
	if (o != POL_OWNER_NONE)
		return o;
	if (t->n_owners >= POL_TN_OWNERS_MAX)
		return -E2BIG;
	if (t->n_owners == t->owner_cap) {
		size_t nc = t->owner_cap ? t->owner_cap * 2 : 16;
		uint32_t *no = realloc(t->name_off, nc * sizeof(*no));
		if (no == NULL)
			return -ENOMEM;
		t->name_off = no;
		t->owner_cap = nc;
	}
	if (t->names_len + len + 1 > t->names_cap) {
		size_t nc = t->names_cap ? t->names_cap * 2 : 1024;
		while (nc < t->names_len + len + 1)
			nc *= 2;
		char *nn = realloc(t->names, nc);
		if (nn == NULL)
			return -ENOMEM;
		t->names = nn;
		t->names_cap = nc;
	}
	memcpy(t->names + t->names_len, s, len);
	t->names[t->names_len + len] = '\0';
	t->name_off[t->n_owners] = (uint32_t)t->names_len;
	t->names_len += len + 1;
	t->hslots[slot] = t->n_owners;
	return t->n_owners++;
}

/* ---- parsing --------------------------------------------------------------------------- */

struct perr {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int perr(struct perr *e, uint64_t line, const char *fmt, ...)
{
	if (e->errlen == 0)
		return -EINVAL;
	int n = snprintf(e->err, e->errlen, "line %llu: ", (unsigned long long)line);
	if (n >= 0 && (size_t)n < e->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->err + n, e->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Parses a TN at *p (< end): optional '+', 1..15 digits. Returns the key, 0 on error. */
static uint64_t parse_tn(const char **p, const char *end)
{
	const char *s = *p;
	if (s < end && *s == '+')
		s++;
	uint64_t v = 0;
	unsigned d = 0;
	while (s < end && *s >= '0' && *s <= '9') {
		if (++d > POL_TN_MAX)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
		s++;
	}
	if (d == 0)
		return 0;
	*p = s;
	return ((uint64_t)d << KEY_SHIFT) | v;
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void key_str(uint64_t k, char out[POL_TN_MAX + 1])
{
	uint64_t v = KEY_VAL(k);
	unsigned d = KEY_LEN(k) <= POL_TN_MAX ? KEY_LEN(k) : POL_TN_MAX;
	out[d] = '\0';
	while (d-- > 0) {
		out[d] = (char)('0' + v % 10);
		v /= 10;
	}
}

static int parse_lines(struct pol_tntable *t, const char *buf, size_t len, struct ent *ents,
		       size_t *n_out, bool *sorted, struct perr *e)
{
	const char *p = buf, *end = buf + len;
	uint64_t line = 0;
	size_t n = 0;
	int64_t last_owner = -1;
	const char *last_name = NULL;
	size_t last_len = 0;
	*sorted = true;
	while (p < end) {
		line++;
		if (line > UINT32_MAX)
			return perr(e, line, "too many lines");
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *next = eol ? eol + 1 : end;
		if (le > p && le[-1] == '\r')
			le--;
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		if (p == le || *p == '#') {
			p = next;
			continue;
		}
		uint64_t a = parse_tn(&p, le), b;
		if (a == 0)
			return perr(e, line, "expected a TN (1..%d digits)", POL_TN_MAX);
		b = a;
		if (p < le && *p == '-') {
			p++;
			b = parse_tn(&p, le);
			if (b == 0)
				return perr(e, line, "expected a TN after '-'");
			if (KEY_LEN(a) != KEY_LEN(b))
				return perr(e, line, "range ends differ in length");
			if (b < a)
				return perr(e, line, "range end before its start");
		}
		if (p == le || (*p != ' ' && *p != '\t'))
			return perr(e, line, p == le ? "expected a customer name" :
				    "unexpected character after the TN");
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		const char *ns = p;
		while (p < le && name_char(*p))
			p++;
		size_t nl = (size_t)(p - ns);
		if (nl == 0 || nl > POL_OWNER_NAME_MAX)
			return perr(e, line, "expected a customer name of 1..%d characters "
				    "[A-Za-z0-9._-]", POL_OWNER_NAME_MAX);
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		if (p < le && *p != '#')
			return perr(e, line, "unexpected text after the customer name");
		int64_t o;
		if (last_name && nl == last_len && memcmp(ns, last_name, nl) == 0) {
			o = last_owner;
		} else {
			o = owner_intern(t, ns, nl);
			if (o == -E2BIG) {
				perr(e, line, "more than %u customers", POL_TN_OWNERS_MAX);
				return -E2BIG;
			}
			if (o < 0)
				return (int)o;
			last_owner = o;
			last_name = ns;
			last_len = nl;
		}
		if (n > 0 && ents[n - 1].start > a)
			*sorted = false;
		ents[n++] = (struct ent){a, b, (uint32_t)o, (uint32_t)line};
		p = next;
	}
	*n_out = n;
	return 0;
}

static size_t count_lines(const char *buf, size_t len)
{
	size_t n = 0;
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		n++;
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return n;
}

/* Builds the upper levels of the search index over start[]. */
static int index_build(struct pol_tntable *t)
{
	size_t total = 0, n = t->n;
	while (n > POL_FANOUT) {
		n = (n + POL_FANOUT - 1) / POL_FANOUT;
		total += n;
	}
	t->idx_mem = malloc((total ? total : 1) * sizeof(uint64_t));
	if (t->idx_mem == NULL)
		return -ENOMEM;
	t->idx[0] = t->start;
	t->idx_n[0] = t->n;
	t->n_idx = 1;
	uint64_t *m = t->idx_mem;
	while (t->idx_n[t->n_idx - 1] > POL_FANOUT && t->n_idx < POL_LEVELS) {
		const uint64_t *below = t->idx[t->n_idx - 1];
		size_t bn = t->idx_n[t->n_idx - 1], un = (bn + POL_FANOUT - 1) / POL_FANOUT;
		for (size_t i = 0; i < un; i++)
			m[i] = below[i * POL_FANOUT];
		t->idx[t->n_idx] = m;
		t->idx_n[t->n_idx] = un;
		t->n_idx++;
		m += un;
	}
	return 0;
}

void pol_tn_destroy(struct pol_tntable *t)
{
	if (t == NULL)
		return;
	free(t->start);
	free(t->idx_mem);
	free(t->end);
	free(t->owner);
	free(t->names);
	free(t->name_off);
	free(t->hslots);
	free(t->path);
	free(t);
}

int pol_tn_parse(const char *buf, size_t len, struct pol_tntable **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (out == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	*out = NULL;
	struct perr e = {err, err ? errlen : 0};
	struct pol_tntable *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	atomic_init(&t->refs, 1);
	int r = hash_grow(t);
	size_t cap = len ? count_lines(buf, len) : 0;
	struct ent *ents = malloc((cap ? cap : 1) * sizeof(*ents));
	if (r == 0 && ents == NULL)
		r = -ENOMEM;
	size_t n = 0;
	bool sorted = true;
	if (r == 0)
		r = parse_lines(t, buf, len, ents, &n, &sorted, &e);
	if (r == 0 && !sorted)
		qsort(ents, n, sizeof(*ents), ent_cmp);
	/* overlaps and merges, in place */
	size_t m = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (m > 0 && ents[i].start <= ents[m - 1].end) {
			char a[POL_TN_MAX + 1];
			uint32_t l1 = ents[i].line, l2 = ents[m - 1].line;
			key_str(ents[i].start, a);
			r = perr(&e, l1 > l2 ? l1 : l2, "overlaps line %u (%s in both)",
				 l1 > l2 ? l2 : l1, a);
			break;
		}
		if (m > 0 && ents[i].owner == ents[m - 1].owner &&
		    ents[i].start == ents[m - 1].end + 1 &&
		    KEY_LEN(ents[i].start) == KEY_LEN(ents[m - 1].end)) {
			ents[m - 1].end = ents[i].end;
			continue;
		}
		ents[m++] = ents[i];
	}
	if (r == 0) {
		t->n = m;
		t->start = malloc((m ? m : 1) * sizeof(*t->start));
		t->end = malloc((m ? m : 1) * sizeof(*t->end));
		t->owner = malloc((m ? m : 1) * sizeof(*t->owner));
		if (t->start == NULL || t->end == NULL || t->owner == NULL)
			r = -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < m; i++) {
		t->start[i] = ents[i].start;
		t->end[i] = ents[i].end;
		t->owner[i] = ents[i].owner;
	}
	free(ents);
	if (r == 0)
		r = index_build(t);
	if (r < 0) {
		if (r == -ENOMEM && e.errlen)
			snprintf(err, errlen, "out of memory");
		pol_tn_destroy(t);
		return r;
	}
	*out = t;
	return 0;
}

int pol_tn_load_file(const char *path, struct pol_tntable **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (path == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	void *map = NULL;
	size_t len = (size_t)st.st_size;
	if (len > 0) {
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			r = -errno;
			close(fd);
			if (err && errlen)
				snprintf(err, errlen, "%s: %s", path, strerror(-r));
			return r;
		}
		(void)madvise(map, len, MADV_SEQUENTIAL);
	}
	close(fd);
	char e2[512];
	struct pol_tntable *t;
	r = pol_tn_parse(map, len, &t, e2, sizeof(e2));
	if (map)
		munmap(map, len);
	if (r < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, e2);
		return r;
	}
	t->path = strdup(path);
	if (t->path == NULL) {
		pol_tn_destroy(t);
		return -ENOMEM;
	}
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->size = st.st_size;
	t->mtime = st.st_mtim;
	*out = t;
	return 0;
}

struct pol_tntable *pol_tn_ref(struct pol_tntable *t)
{
	if (t)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void pol_tn_free(struct pol_tntable *t)
{
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		pol_tn_destroy(t);
}

uint32_t pol_tn_lookup(const struct pol_tntable *t, const char *tn, size_t len)
{
	if (t == NULL || tn == NULL || len == 0 || len > POL_TN_MAX || t->n == 0)
		return POL_OWNER_NONE;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)tn[i] - '0';
		if (d > 9)
			return POL_OWNER_NONE;
		v = v * 10 + d;
	}
	uint64_t key = ((uint64_t)len << KEY_SHIFT) | v;
	/* the last start <= key: down the index, POL_FANOUT keys (two cache lines) a level */
	if (t->start[0] > key)
		return POL_OWNER_NONE;
	size_t i = 0;
	for (unsigned l = t->n_idx; l-- > 0;) {
		const uint64_t *k = t->idx[l];
		size_t base = i * POL_FANOUT, lim = t->idx_n[l] - base;
		if (lim > POL_FANOUT)
			lim = POL_FANOUT;
		size_t cnt = 0;
		for (size_t j = 0; j < lim; j++)
			cnt += k[base + j] <= key;
		i = base + cnt - 1; /* cnt >= 1: k[base] is the key that led here */
	}
	return key <= t->end[i] ? t->owner[i] : POL_OWNER_NONE;
}

size_t pol_tn_ranges(const struct pol_tntable *t)
{
	return t ? t->n : 0;
}

size_t pol_tn_owners(const struct pol_tntable *t)
{
	return t ? t->n_owners : 0;
}

uint32_t pol_tn_owner_find(const struct pol_tntable *t, const char *name)
{
	if (t == NULL || name == NULL)
		return POL_OWNER_NONE;
	size_t len = strlen(name);
	if (len == 0 || len > POL_OWNER_NAME_MAX)
		return POL_OWNER_NONE;
	return owner_lookup(t, name, len, NULL);
}

const char *pol_tn_owner_name(const struct pol_tntable *t, uint32_t owner)
{
	if (t == NULL || owner >= t->n_owners)
		return "";
	return owner_name(t, owner);
}
