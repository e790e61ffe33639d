/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libshaken_p11fault.so: a PKCS#11 module that wraps a real one and injects faults, for the
 * engine's tests and bench. Not for production.
 *
 * Real module: $SHAKEN_P11FAULT_MODULE (default /usr/lib/softhsm/libsofthsm2.so).
 * Configuration ("key=value" items separated by ',', ';', spaces or newlines), applied over
 * the defaults, from (later wins, each replacing the whole configuration):
 *   $SHAKEN_P11FAULT            read at C_GetFunctionList;
 *   the file $SHAKEN_P11FAULT_FILE, read again whenever it changes (checked every 2 ms);
 *   shaken_p11fault_set(const char *conf), exported, for tests in the same process.
 * Keys:
 *   latency_us=N          added to every C_Sign (after the real signature)
 *   jitter_us=N           plus a uniform random 0..N
 *   error_rate=F          fraction of C_Sign calls failing with error_code (0..1)
 *   error_code=X          CK_RV, decimal or 0x hex (default CKR_FUNCTION_FAILED 0x6)
 *   session_loss_rate=F   fraction of C_Sign calls losing their session: the call and every
 *                         later call on that session return CKR_SESSION_HANDLE_INVALID
 *   removed=0|1           token removed: slot calls CKR_TOKEN_NOT_PRESENT, session calls
 *                         CKR_DEVICE_REMOVED; sessions from before the removal stay invalid
 *                         (CKR_SESSION_HANDLE_INVALID) once it returns
 *   hang=0|1              C_Sign blocks until hang=0 (checked every millisecond)
 *   hang_rate=F, hang_ms=N   fraction of C_Sign calls that block N ms (default 2000)
 *   target=LABEL          faults apply only to the token with that label (default: all)
 * Injected errors are returned after the real C_Sign ran, so the real operation is finished
 * as PKCS#11 requires after an error.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);
EXPORT int shaken_p11fault_set(const char *conf);

struct fault_cfg {
	unsigned long latency_us, jitter_us, hang_ms;
	double error_rate, session_loss_rate, hang_rate;
	CK_RV error_code;
	bool removed, hang;
	char target[33];
};

#define MAX_SESS 8192
#define MAX_SLOTS 64

struct sess {
	CK_SESSION_HANDLE h;   /* 0: free */
	CK_SLOT_ID slot;
	bool dead;
	bool used;             /* ever used: tombstone for the open addressing */
};

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST fl;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static CK_RV load_rv = CKR_GENERAL_ERROR;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault_cfg cfg;            /* under lock */
static struct sess sessions[MAX_SESS];  /* under lock */
static struct {
	CK_SLOT_ID slot;
	bool used;
	char label[33];
} slot_label[MAX_SLOTS];                 /* under lock */
static char file_path[512];
static struct timespec file_mtime;
static off_t file_size;
static _Atomic uint64_t next_file_check_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(unsigned long us)
{
	struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double rnd(void)
{
	static _Thread_local uint64_t s;
	if (!s)
		s = now_ns() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (double)(s >> 11) / (double)(1ull << 53);
}

/* Parses conf over the defaults into c. Unknown keys are ignored (reported on stderr). */
static void cfg_parse(const char *conf, struct fault_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->error_code = CKR_FUNCTION_FAILED;
	c->hang_ms = 2000;
	if (!conf)
		return;
	const char *p = conf;
	while (*p) {
		char item[128];
		size_t n = strcspn(p, ",; \t\r\n");
		if (n > 0 && n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = 0;
			char *v = strchr(item, '=');
			if (v) {
				*v++ = 0;
				if (!strcmp(item, "latency_us"))
					c->latency_us = strtoul(v, NULL, 0);
				else if (!strcmp(item, "jitter_us"))
					c->jitter_us = strtoul(v, NULL, 0);
				else if (!strcmp(item, "error_rate"))
					c->error_rate = strtod(v, NULL);
				else if (!strcmp(item, "error_code"))
					c->error_code = strtoul(v, NULL, 0);
				else if (!strcmp(item, "session_loss_rate"))
					c->session_loss_rate = strtod(v, NULL);
				else if (!strcmp(item, "removed"))
					c->removed = strtoul(v, NULL, 0) != 0;
				else if (!strcmp(item, "hang"))
					c->hang = strtoul(v, NULL, 0) != 0;
				else if (!strcmp(item, "hang_rate"))
					c->hang_rate = strtod(v, NULL);
				else if (!strcmp(item, "hang_ms"))
					c->hang_ms = strtoul(v, NULL, 0);
				else if (!strcmp(item, "target"))
					snprintf(c->target, sizeof(c->target), "%s", v);
				else
					fprintf(stderr, "p11fault: unknown key %s\n", item);
			}
		}
		p += n;
		while (*p && strchr(",; \t\r\n", *p))
			p++;
	}
}

static bool slot_targeted(CK_SLOT_ID slot)
{
	if (!cfg.target[0])
		return true;
	for (unsigned i = 0; i < MAX_SLOTS && slot_label[i].used; i++)
		if (slot_label[i].slot == slot)
			return !strcmp(slot_label[i].label, cfg.target);
	return false;
}

/* Installs c (lock held): a removal kills the sessions of the targeted tokens. */
static void cfg_apply(const struct fault_cfg *c)
{
	bool was_removed = cfg.removed;
	cfg = *c;
	if (cfg.removed && !was_removed)
		for (unsigned i = 0; i < MAX_SESS; i++)
			if (sessions[i].h && slot_targeted(sessions[i].slot))
				sessions[i].dead = true;
}

static void file_check(void)
{
	struct stat st;
	uint64_t now = now_ns();

	if (!file_path[0] || now < atomic_load_explicit(&next_file_check_ns, memory_order_relaxed))
		return;
	atomic_store_explicit(&next_file_check_ns, now + 2000000, memory_order_relaxed);
	if (stat(file_path, &st) != 0)
		return;
	pthread_mutex_lock(&lock);
	if (st.st_mtim.tv_sec != file_mtime.tv_sec || st.st_mtim.tv_nsec != file_mtime.tv_nsec ||
	    st.st_size != file_size) {
		char buf[2048];
		FILE *f = fopen(file_path, "re");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = 0;
			struct fault_cfg c;
			cfg_parse(buf, &c);
			cfg_apply(&c);
			file_mtime = st.st_mtim;
			file_size = st.st_size;
		}
	}
	pthread_mutex_unlock(&lock);
}

int shaken_p11fault_set(const char *conf)
{
	struct fault_cfg c;
	cfg_parse(conf, &c);
	pthread_mutex_lock(&lock);
	cfg_apply(&c);
	pthread_mutex_unlock(&lock);
	return 0;
}

/* ---- session table (lock held) --------------------------------------------------------- */

static struct sess *sess_find(CK_SESSION_HANDLE h)
{
	for (unsigned i = 0; i < MAX_SESS; i++) {
		struct sess *s = &sessions[(h + i) % MAX_SESS];
		if (s->h == h)
			return s;
		if (!s->used)
			return NULL;
	}
	return NULL;
}

static void sess_add(CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
	for (unsigned i = 0; i < MAX_SESS; i++) {
		struct sess *s = &sessions[(h + i) % MAX_SESS];
		if (!s->h) {
			s->h = h;
			s->slot = slot;
			s->dead = false;
			s->used = true;
			return;
		}
	}
}

/* What a call on session h returns before reaching the real module (CKR_OK: go on). */
static CK_RV sess_gate(CK_SESSION_HANDLE h)
{
	CK_RV rv = CKR_OK;
	file_check();
	pthread_mutex_lock(&lock);
	struct sess *s = sess_find(h);
	if (s && cfg.removed && slot_targeted(s->slot))
		rv = CKR_DEVICE_REMOVED;
	else if (s && s->dead)
		rv = CKR_SESSION_HANDLE_INVALID;
	pthread_mutex_unlock(&lock);
	return rv;
}

static CK_RV slot_gate(CK_SLOT_ID slot)
{
	CK_RV rv = CKR_OK;
	file_check();
	pthread_mutex_lock(&lock);
	if (cfg.removed && slot_targeted(slot))
		rv = CKR_TOKEN_NOT_PRESENT;
	pthread_mutex_unlock(&lock);
	return rv;
}

/* ---- wrapped functions ----------------------------------------------------------------- */

static void note_label(CK_SLOT_ID slot, const CK_TOKEN_INFO *ti)
{
	size_t l = sizeof(ti->label);
	while (l > 0 && ti->label[l - 1] == ' ')
		l--;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < MAX_SLOTS; i++) {
		if (slot_label[i].used && slot_label[i].slot != slot)
			continue;
		slot_label[i].used = true;
		slot_label[i].slot = slot;
		memcpy(slot_label[i].label, ti->label, l);
		slot_label[i].label[l] = 0;
		break;
	}
	pthread_mutex_unlock(&lock);
}

static CK_RV w_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv = real->C_GetTokenInfo(slot, info);
	if (rv == CKR_OK)
		note_label(slot, info);
	if (rv == CKR_OK && slot_gate(slot) != CKR_OK)
		rv = CKR_TOKEN_NOT_PRESENT;
	return rv;
}

static CK_RV w_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
			   CK_SESSION_HANDLE_PTR h)
{
	CK_TOKEN_INFO ti;
	if (real->C_GetTokenInfo(slot, &ti) == CKR_OK)
		note_label(slot, &ti);
	CK_RV rv = slot_gate(slot);
	if (rv != CKR_OK)
		return rv;
	rv = real->C_OpenSession(slot, flags, app, notify, h);
	if (rv == CKR_OK) {
		pthread_mutex_lock(&lock);
		sess_add(*h, slot);
		pthread_mutex_unlock(&lock);
	}
	return rv;
}

static CK_RV w_CloseSession(CK_SESSION_HANDLE h)
{
	pthread_mutex_lock(&lock);
	struct sess *s = sess_find(h);
	if (s)
		s->h = 0;   /* stays "used": a tombstone */
	pthread_mutex_unlock(&lock);
	return real->C_CloseSession(h);
}

#define GATED(name, proto, args)                                                                   \
	static CK_RV w_##name proto                                                                \
	{                                                                                          \
		CK_RV rv = sess_gate(h);                                                           \
		if (rv != CKR_OK)                                                                  \
			return rv;                                                                 \
		return real->C_##name args;                                                        \
	}

GATED(GetSessionInfo, (CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR i), (h, i))
GATED(Login, (CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG l), (h, u, p, l))
GATED(Logout, (CK_SESSION_HANDLE h), (h))
GATED(SignInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (h, m, k))
GATED(FindObjectsInit, (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n), (h, t, n))
GATED(FindObjects, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG m, CK_ULONG_PTR n),
      (h, o, m, n))
GATED(FindObjectsFinal, (CK_SESSION_HANDLE h), (h))
GATED(GetAttributeValue, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
      (h, o, t, n))

static CK_RV w_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
		    CK_ULONG_PTR sig_len)
{
	CK_RV rv = sess_gate(h);
	struct fault_cfg c;
	bool targeted;

	if (rv != CKR_OK) {
		CK_ULONG l = *sig_len;
		if (sig)   /* finish the real operation, as a failed C_Sign must */
			(void)real->C_Sign(h, data, len, sig, &l);
		return rv;
	}
	rv = real->C_Sign(h, data, len, sig, sig_len);
	if (!sig || rv == CKR_BUFFER_TOO_SMALL)
		return rv;   /* a length query: the operation goes on */

	pthread_mutex_lock(&lock);
	c = cfg;
	struct sess *s = sess_find(h);
	targeted = s ? slot_targeted(s->slot) : !cfg.target[0];
	pthread_mutex_unlock(&lock);
	if (!targeted)
		return rv;

	unsigned long lat = c.latency_us;
	if (c.jitter_us)
		lat += (unsigned long)(rnd() * (double)c.jitter_us);
	if (lat)
		sleep_us(lat);
	if (c.hang_rate > 0 && rnd() < c.hang_rate)
		sleep_us(c.hang_ms * 1000);
	while (c.hang) {
		sleep_us(1000);
		file_check();
		pthread_mutex_lock(&lock);
		c.hang = cfg.hang;
		pthread_mutex_unlock(&lock);
	}
	if (c.session_loss_rate > 0 && rnd() < c.session_loss_rate) {
		pthread_mutex_lock(&lock);
		s = sess_find(h);
		if (s)
			s->dead = true;
		pthread_mutex_unlock(&lock);
		return CKR_SESSION_HANDLE_INVALID;
	}
	if (c.error_rate > 0 && rnd() < c.error_rate)
		return c.error_code;
	/* removed or killed while we slept */
	CK_RV late = sess_gate(h);
	return late != CKR_OK ? late : rv;
}

static void load(void)
{
	const char *path = getenv("SHAKEN_P11FAULT_MODULE");
	const char *f = getenv("SHAKEN_P11FAULT_FILE");
	CK_C_GetFunctionList gfl;
	void *dl;

	if (!path || !path[0])
		path = "/usr/lib/softhsm/libsofthsm2.so";
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	if (!gfl || gfl(&real) != CKR_OK || !real) {
		fprintf(stderr, "p11fault: cannot load %s\n", path);
		return;
	}
	struct fault_cfg c;
	cfg_parse(getenv("SHAKEN_P11FAULT"), &c);
	cfg_apply(&c);
	if (f && f[0])
		snprintf(file_path, sizeof(file_path), "%s", f);
	fl = *real;
	fl.C_GetFunctionList = C_GetFunctionList;
	fl.C_GetTokenInfo = w_GetTokenInfo;
	fl.C_OpenSession = w_OpenSession;
	fl.C_CloseSession = w_CloseSession;
	fl.C_GetSessionInfo = w_GetSessionInfo;
	fl.C_Login = w_Login;
	fl.C_Logout = w_Logout;
	fl.C_SignInit = w_SignInit;
	fl.C_Sign = w_Sign;
	fl.C_FindObjectsInit = w_FindObjectsInit;
	fl.C_FindObjects = w_FindObjects;
	fl.C_FindObjectsFinal = w_FindObjectsFinal;
	fl.C_GetAttributeValue = w_GetAttributeValue;
	load_rv = CKR_OK;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	if (!list)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&once, load);
	if (load_rv != CKR_OK)
		return load_rv;
	*list = &fl;
	return CKR_OK;
}
