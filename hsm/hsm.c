/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The signing engine. Shape (docs/hsm.md has the whole story):
 *
 *   callers --submit_burst--> [submission ring, MPMC] --> worker threads (one per session)
 *                             [retry ring, MPMC] <------/   | C_SignInit + C_Sign
 *   callers <--poll_burst---- [completion ring per queue] <-/
 *   monitor thread (1 ms tick): deadlines of jobs inside a C_Sign, hung calls, draining the
 *   rings when no token is in service.
 *
 * A job in a worker's hands is published in the worker's slot with a state word
 * (generation << 2 | phase). The worker and the monitor race to move it out of BUSY with a
 * compare-and-swap: whoever wins completes (or requeues) the job; the monitor, when it wins,
 * reads the slot and then sets RELEASED, which the worker waits for before reusing the slot.
 */
#include "hsm/hsm.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "hsm/p11.h"
#include "hsm/p11_pvt.h"
#include "hsm/ring.h"

enum { PH_IDLE = 0, PH_BUSY = 1, PH_ABANDONED = 2, PH_RELEASED = 3 };
enum { TOK_DOWN = 0, TOK_UP = 1 };

#define SPIN_POLLS 256
#define IDLE_WAIT_NS (50 * 1000 * 1000ull)
#define TICK_NS (1000 * 1000ull)

struct ijob {
	struct hsm_job j;
	struct hsm_queue *q;
	uint32_t attempts;
};

struct hsm_queue {
	struct hsm_engine *e;
	struct hsm_ring *cq;        /* NULL for a blocking call's one-shot queue */
	unsigned cap;
	unsigned in_flight;         /* owner thread only */
	_Atomic uint32_t done;      /* one-shot: 0 waiting, 1 result written, 2 released */
	struct hsm_completion res;  /* one-shot result */
};

struct token {
	struct hsm_engine *e;
	unsigned idx;
	struct hsm_p11_uri u;
	const char *module_path;
	struct hsm_p11_module *m;
	CK_FUNCTION_LIST *f;
	_Atomic CK_SLOT_ID slot;              /* found again at every probe */
	char pin[HSM_P11_PIN_MAX + 2];   /* kept to log in again after the token returns */
	size_t pin_len;
	alignas(64) _Atomic uint32_t state;   /* TOK_*, also a futex word */
	_Atomic uint32_t epoch;               /* bumped at each return into service */
	_Atomic uint64_t next_probe_ns;
	pthread_mutex_t probe_lock;           /* probes, ctl session, key lookups */
	CK_SESSION_HANDLE ctl_s;
	bool has_ctl;
	_Atomic CK_OBJECT_HANDLE keys[HSM_MAX_KEYS];   /* 0: not known on this token */
};

struct worker {
	struct token *t;
	pthread_t th;
	bool th_started;
	CK_SESSION_HANDLE s;
	bool has_s;
	uint32_t s_epoch;
	uint64_t gen;
	alignas(64) _Atomic uint64_t state;        /* gen << 2 | PH_* */
	_Atomic uint64_t busy_deadline_ns;
	_Atomic uint64_t call_since_ns;            /* 0 outside PKCS#11 calls that may hang */
	_Atomic bool hang_flagged;
	struct ijob job;                           /* the job in hand while BUSY */
};

struct engine_counters {
	_Atomic uint64_t submitted, signed_ok, timed_out, failed, retries, session_reopens,
		token_downs, token_ups, abandoned;
};

struct hsm_engine {
	struct hsm_engine_cfg cfg;
	char module_path[HSM_P11_PATH_MAX + 1];
	char pin_env[128];
	struct hsm_ring *sub;
	struct hsm_ring *retry;
	struct token tok[HSM_MAX_TOKENS];
	unsigned n_tok;
	struct worker *w;
	unsigned n_w;
	pthread_t monitor;
	bool monitor_started;
	bool started;
	unsigned fork_gen;
	pthread_mutex_t ctl_lock;                  /* key additions */
	struct hsm_p11_uri keys[HSM_MAX_KEYS];
	_Atomic uint32_t n_keys;
	_Atomic bool stop;
	_Atomic unsigned n_up;
	alignas(64) _Atomic uint32_t ev;           /* submission event counter (futex) */
	_Atomic uint32_t sleepers;
	alignas(64) struct engine_counters c;
};

static _Atomic unsigned fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_child(void)
{
	atomic_fetch_add(&fork_gen, 1);
}

static void fork_init(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}

uint64_t hsm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts = {(time_t)(timeout_ns / 1000000000ull),
			      (long)(timeout_ns % 1000000000ull)};
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, timeout_ns ? &ts : NULL,
		NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr, int n)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#define CNT_ADD(e, f, n) atomic_fetch_add_explicit(&(e)->c.f, (n), memory_order_relaxed)

/* ---- completion ------------------------------------------------------------------------ */

static void complete(struct hsm_engine *e, const struct ijob *job, int status,
		     const uint8_t *sig)
{
	struct hsm_queue *q = job->q;
	struct hsm_completion c;

	c.cookie = job->j.cookie;
	c.status = status;
	c.key = job->j.key;
	if (sig)
		memcpy(c.sig, sig, HSM_SIG_LEN);
	else
		memset(c.sig, 0, HSM_SIG_LEN);
	if (status == 0)
		CNT_ADD(e, signed_ok, 1);
	else if (status == -ETIMEDOUT)
		CNT_ADD(e, timed_out, 1);
	else
		CNT_ADD(e, failed, 1);
	if (!q->cq) {
		q->res = c;
		atomic_store_explicit(&q->done, 1, memory_order_release);
		futex_wake(&q->done, 1);
		/* After this store the waiter may return and its queue vanish. */
		atomic_store_explicit(&q->done, 2, memory_order_release);
		return;
	}
	/* Cannot fail: a queue never has more jobs in flight than its ring holds. */
	if (hsm_ring_enqueue_burst(q->cq, &c, 1) != 1)
		abort();
}

static void notify(struct hsm_engine *e, unsigned n)
{
	if (n == 0)
		return;
	atomic_fetch_add(&e->ev, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&e->sleepers) > 0)
		futex_wake(&e->ev, n > INT_MAX ? INT_MAX : (int)n);
}

/*
 * A job failed where it was: retry it (any token), or complete it when its attempts, its
 * deadline or the tokens in service have run out.
 */
static void requeue(struct hsm_engine *e, struct ijob *job, int err)
{
	job->attempts++;
	if (job->attempts >= e->cfg.max_attempts) {
		complete(e, job, err, NULL);
		return;
	}
	if (hsm_now_ns() >= job->j.deadline_ns) {
		complete(e, job, -ETIMEDOUT, NULL);
		return;
	}
	if (atomic_load(&e->n_up) == 0) {
		complete(e, job, -ENODEV, NULL);
		return;
	}
	CNT_ADD(e, retries, 1);
	if (hsm_ring_enqueue_burst(e->retry, job, 1) != 1) {
		complete(e, job, err, NULL);
		return;
	}
	notify(e, 1);
}

/* ---- tokens ---------------------------------------------------------------------------- */

static void token_down(struct token *t)
{
	struct hsm_engine *e = t->e;
	uint32_t up = TOK_UP;

	atomic_store(&t->next_probe_ns, hsm_now_ns() + e->cfg.probe_interval_ns);
	if (atomic_compare_exchange_strong(&t->state, &up, TOK_DOWN)) {
		atomic_fetch_sub(&e->n_up, 1);
		CNT_ADD(e, token_downs, 1);
	}
}

/*
 * Brings t into service if it answers: ctl session, login, key handles, one test signature.
 * Caller holds t->probe_lock. Returns 0 when the token is up.
 */
static int token_probe(struct token *t, struct worker *w)
{
	struct hsm_engine *e = t->e;
	CK_OBJECT_HANDLE h[HSM_MAX_KEYS];
	uint32_t n_keys;
	CK_RV rv;
	int rc;

	if (w)
		atomic_store(&w->call_since_ns, hsm_now_ns());
	if (!t->m) {
		rc = hsm_p11__module_get(t->module_path, &t->m);
		if (rc)
			goto fail;
		t->f = t->m->f;
	}
	if (t->has_ctl) {
		t->f->C_CloseSession(t->ctl_s);
		t->has_ctl = false;
	}
	CK_SLOT_ID slot;
	rc = hsm_p11__find_slot(t->m, &t->u, &slot);
	if (rc)
		goto fail;
	atomic_store(&t->slot, slot);
	rv = t->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &t->ctl_s);
	if (rv != CKR_OK) {
		rc = hsm_p11__errno(rv);
		goto fail;
	}
	t->has_ctl = true;
	rc = hsm_p11__login(t->f, t->ctl_s, t->pin, t->pin_len);
	if (rc)
		goto fail;
	n_keys = atomic_load_explicit(&e->n_keys, memory_order_acquire);
	for (uint32_t k = 0; k < n_keys; k++) {
		if (hsm_p11__find_key(t->f, t->ctl_s, &e->keys[k], CKO_PRIVATE_KEY, &h[k]) != 0)
			h[k] = CK_INVALID_HANDLE;
	}
	if (n_keys > 0 && h[0] != CK_INVALID_HANDLE) {
		uint8_t d[32] = {1}, sig[64];
		rv = hsm_p11__sign(t->f, t->ctl_s, h[0], d, sig);
		if (rv != CKR_OK) {
			rc = hsm_p11__errno(rv);
			goto fail;
		}
	}
	for (uint32_t k = 0; k < n_keys; k++)
		atomic_store(&t->keys[k], h[k]);
	atomic_fetch_add(&t->epoch, 1);
	if (w) {
		atomic_store(&w->call_since_ns, 0);
		atomic_store(&w->hang_flagged, false);
	}
	if (atomic_exchange(&t->state, TOK_UP) != TOK_UP) {
		atomic_fetch_add(&e->n_up, 1);
		CNT_ADD(e, token_ups, 1);
	}
	futex_wake(&t->state, INT_MAX);
	return 0;
fail:
	if (w) {
		atomic_store(&w->call_since_ns, 0);
		atomic_store(&w->hang_flagged, false);
	}
	atomic_store(&t->next_probe_ns, hsm_now_ns() + e->cfg.probe_interval_ns);
	return rc ? rc : -EIO;
}

/* ---- workers --------------------------------------------------------------------------- */

static void worker_drop_session(struct worker *w)
{
	if (w->has_s)
		w->t->f->C_CloseSession(w->s);
	w->has_s = false;
}

/* Opens (again) the worker's session when it has none or the token came back since. */
static int worker_session(struct worker *w)
{
	struct token *t = w->t;
	struct hsm_engine *e = t->e;
	uint32_t epoch = atomic_load(&t->epoch);
	CK_RV rv;
	int rc;

	if (w->has_s && w->s_epoch == epoch)
		return 0;
	if (w->has_s) {
		worker_drop_session(w);
		CNT_ADD(e, session_reopens, 1);
	}
	atomic_store(&w->call_since_ns, hsm_now_ns());
	rv = t->f->C_OpenSession(atomic_load(&t->slot), CKF_SERIAL_SESSION, NULL, NULL, &w->s);
	if (rv == CKR_OK) {
		w->has_s = true;
		w->s_epoch = epoch;
		rc = hsm_p11__login(t->f, w->s, t->pin, t->pin_len);
		rv = rc == 0 ? CKR_OK : CKR_DEVICE_ERROR;
		if (rc == -ENOTCONN)
			rv = CKR_SESSION_HANDLE_INVALID;
	}
	atomic_store(&w->call_since_ns, 0);
	atomic_store(&w->hang_flagged, false);
	if (rv == CKR_OK)
		return 0;
	worker_drop_session(w);
	if (hsm_p11__classify(rv) == HSM_P11_RV_TOKEN)
		token_down(t);
	else
		sleep_ns(TICK_NS);   /* e.g. CKR_SESSION_COUNT: try again shortly */
	return -EIO;
}

static bool take_job(struct hsm_engine *e, struct ijob *job)
{
	return hsm_ring_dequeue_burst(e->retry, job, 1) == 1 ||
	       hsm_ring_dequeue_burst(e->sub, job, 1) == 1;
}

static bool work_pending(struct hsm_engine *e)
{
	return hsm_ring_count(e->retry) > 0 || hsm_ring_count(e->sub) > 0;
}

static void worker_idle(struct worker *w)
{
	struct hsm_engine *e = w->t->e;

	for (unsigned i = 0; i < SPIN_POLLS; i++) {
		if (work_pending(e))
			return;
		cpu_relax();
	}
	uint32_t ev = atomic_load(&e->ev);
	atomic_fetch_add(&e->sleepers, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (!work_pending(e) && !atomic_load(&e->stop) && atomic_load(&w->t->state) == TOK_UP)
		futex_wait(&e->ev, ev, IDLE_WAIT_NS);
	atomic_fetch_sub(&e->sleepers, 1);
}

/* The token is out of service: probe it when due (one worker at a time), else wait. */
static void worker_down(struct worker *w)
{
	struct token *t = w->t;
	struct hsm_engine *e = t->e;
	uint64_t now = hsm_now_ns(), due = atomic_load(&t->next_probe_ns);

	if (now >= due && pthread_mutex_trylock(&t->probe_lock) == 0) {
		if (atomic_load(&t->state) != TOK_UP && hsm_now_ns() >= atomic_load(&t->next_probe_ns))
			(void)token_probe(t, w);
		pthread_mutex_unlock(&t->probe_lock);
		return;
	}
	uint64_t wait = due > now ? due - now : e->cfg.probe_interval_ns;
	if (wait > e->cfg.probe_interval_ns)
		wait = e->cfg.probe_interval_ns;
	if (!atomic_load(&e->stop))
		futex_wait(&t->state, TOK_DOWN, wait);
}

/* The key handle on this token, looked up on the worker's session when not yet known. */
static CK_OBJECT_HANDLE worker_key(struct worker *w, uint32_t k)
{
	struct token *t = w->t;
	CK_OBJECT_HANDLE h = atomic_load_explicit(&t->keys[k], memory_order_relaxed);

	if (h != CK_INVALID_HANDLE)
		return h;
	if (hsm_p11__find_key(t->f, w->s, &t->e->keys[k], CKO_PRIVATE_KEY, &h) != 0)
		return CK_INVALID_HANDLE;
	atomic_store(&t->keys[k], h);
	return h;
}

static void worker_run(struct worker *w, struct ijob *job)
{
	struct token *t = w->t;
	struct hsm_engine *e = t->e;
	uint8_t sig[HSM_SIG_LEN];
	CK_OBJECT_HANDLE h;
	CK_RV rv;

again:
	if (hsm_now_ns() >= job->j.deadline_ns) {
		complete(e, job, -ETIMEDOUT, NULL);
		return;
	}
	if (job->j.key >= atomic_load_explicit(&e->n_keys, memory_order_acquire)) {
		complete(e, job, -ENOKEY, NULL);
		return;
	}
	if (!w->has_s && worker_session(w) != 0) {
		requeue(e, job, -EIO);
		return;
	}
	h = worker_key(w, job->j.key);
	if (h == CK_INVALID_HANDLE) {
		requeue(e, job, -ENOKEY);
		return;
	}

	/* Publish the job, then sign; the monitor may take it from us meanwhile. */
	w->job = *job;
	w->gen++;
	uint64_t busy = w->gen << 2 | PH_BUSY;
	atomic_store_explicit(&w->busy_deadline_ns, job->j.deadline_ns, memory_order_relaxed);
	atomic_store_explicit(&w->call_since_ns, hsm_now_ns(), memory_order_relaxed);
	atomic_store_explicit(&w->state, busy, memory_order_release);

	rv = hsm_p11__sign(t->f, w->s, h, w->job.j.digest, sig);

	atomic_store_explicit(&w->call_since_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&w->hang_flagged, false, memory_order_relaxed);
	uint64_t exp = busy;
	bool ours = atomic_compare_exchange_strong_explicit(&w->state, &exp, w->gen << 2 | PH_IDLE,
							   memory_order_acq_rel,
							   memory_order_acquire);
	if (!ours) {
		while ((atomic_load_explicit(&w->state, memory_order_acquire) & 3) != PH_RELEASED)
			sched_yield();
		atomic_store_explicit(&w->state, w->gen << 2 | PH_IDLE, memory_order_relaxed);
	}

	switch (hsm_p11__classify(rv)) {
	case HSM_P11_RV_OK:
		if (ours)
			complete(e, job, 0, sig);
		return;
	case HSM_P11_RV_SESSION:
		worker_drop_session(w);
		CNT_ADD(e, session_reopens, 1);
		break;
	case HSM_P11_RV_LOGIN:
		if (hsm_p11__login(t->f, w->s, t->pin, t->pin_len) != 0)
			worker_drop_session(w);
		break;
	case HSM_P11_RV_KEY:
		atomic_store(&t->keys[job->j.key], CK_INVALID_HANDLE);
		break;
	case HSM_P11_RV_TOKEN:
		token_down(t);
		worker_drop_session(w);
		if (ours)
			requeue(e, job, -EIO);
		return;
	case HSM_P11_RV_OTHER:
		if (ours)
			requeue(e, job, -EIO);
		return;
	}
	if (!ours)
		return;
	/* Session, login or key trouble: fixed here, retry on this worker. */
	if (++job->attempts >= e->cfg.max_attempts) {
		complete(e, job, -EIO, NULL);
		return;
	}
	CNT_ADD(e, retries, 1);
	if (atomic_load(&t->state) != TOK_UP) {
		job->attempts--;   /* requeue counts it */
		requeue(e, job, -EIO);
		return;
	}
	goto again;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct token *t = w->t;
	struct hsm_engine *e = t->e;
	struct ijob job;

	while (!atomic_load(&e->stop)) {
		if (atomic_load_explicit(&t->state, memory_order_acquire) != TOK_UP) {
			worker_down(w);
			continue;
		}
		if (worker_session(w) != 0)
			continue;
		if (!take_job(e, &job)) {
			worker_idle(w);
			continue;
		}
		worker_run(w, &job);
	}
	worker_drop_session(w);
	return NULL;
}

/* ---- monitor --------------------------------------------------------------------------- */

static void drain(struct hsm_engine *e, int status)
{
	struct ijob job;
	uint64_t now = hsm_now_ns();

	while (take_job(e, &job))
		complete(e, &job, status == -ENODEV && now >= job.j.deadline_ns ? -ETIMEDOUT : status,
			 NULL);
}

/*
 * Completes the expired jobs at the front of the line: all of the retry ring, and the head
 * of the submission ring up to its first live job, which moves to the retry ring (where
 * workers look first, so it keeps its place) when that ring is empty.
 */
static void expire_heads(struct hsm_engine *e, uint64_t now)
{
	struct ijob job;
	size_t n = hsm_ring_count(e->retry);

	for (size_t i = 0; i < n && hsm_ring_dequeue_burst(e->retry, &job, 1) == 1; i++) {
		if (now >= job.j.deadline_ns)
			complete(e, &job, -ETIMEDOUT, NULL);
		else if (hsm_ring_enqueue_burst(e->retry, &job, 1) != 1)
			complete(e, &job, -EIO, NULL);
	}
	if (hsm_ring_count(e->retry) > 0)
		return;
	while (hsm_ring_dequeue_burst(e->sub, &job, 1) == 1) {
		if (now >= job.j.deadline_ns) {
			complete(e, &job, -ETIMEDOUT, NULL);
			continue;
		}
		if (hsm_ring_enqueue_burst(e->retry, &job, 1) != 1)
			complete(e, &job, -EIO, NULL);
		else
			notify(e, 1);
		break;
	}
}

static void *monitor_main(void *arg)
{
	struct hsm_engine *e = arg;

	while (!atomic_load(&e->stop)) {
		sleep_ns(TICK_NS);
		uint64_t now = hsm_now_ns();
		for (unsigned i = 0; i < e->n_w; i++) {
			struct worker *w = &e->w[i];
			uint64_t since = atomic_load_explicit(&w->call_since_ns,
							      memory_order_relaxed);
			bool hung = since != 0 && now > since && now - since >= e->cfg.op_timeout_ns;
			if (hung && !atomic_exchange(&w->hang_flagged, true))
				token_down(w->t);
			uint64_t s = atomic_load_explicit(&w->state, memory_order_acquire);
			if ((s & 3) != PH_BUSY)
				continue;
			uint64_t dl = atomic_load_explicit(&w->busy_deadline_ns,
							   memory_order_relaxed);
			if (now < dl && !hung)
				continue;
			uint64_t base = s & ~(uint64_t)3;
			if (!atomic_compare_exchange_strong_explicit(&w->state, &s,
								     base | PH_ABANDONED,
								     memory_order_acq_rel,
								     memory_order_relaxed))
				continue;
			struct ijob job = w->job;
			atomic_store_explicit(&w->state, base | PH_RELEASED, memory_order_release);
			CNT_ADD(e, abandoned, 1);
			if (now >= job.j.deadline_ns)
				complete(e, &job, -ETIMEDOUT, NULL);
			else
				requeue(e, &job, -EIO);
		}
		if (atomic_load(&e->n_up) == 0)
			drain(e, -ENODEV);
		else
			expire_heads(e, now);
	}
	return NULL;
}

/* ---- engine ---------------------------------------------------------------------------- */

int hsm_engine_create(const struct hsm_engine_cfg *cfg, struct hsm_engine **out)
{
	struct hsm_engine *e;
	struct hsm_engine_cfg c = cfg ? *cfg : (struct hsm_engine_cfg){0};
	int rc;

	if (c.sessions > HSM_MAX_SESSIONS || c.ring_size > (1u << 20))
		return -EINVAL;
	if ((c.module_path && strlen(c.module_path) > HSM_P11_PATH_MAX) ||
	    (c.pin_env && strlen(c.pin_env) >= 128))
		return -EINVAL;
	pthread_once(&fork_once, fork_init);
	e = aligned_alloc(64, (sizeof(*e) + 63) & ~(size_t)63);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	c.sessions = c.sessions ? c.sessions : 4;
	c.ring_size = c.ring_size ? c.ring_size : 4096;
	c.default_timeout_ns = c.default_timeout_ns ? c.default_timeout_ns : 1000000000ull;
	c.op_timeout_ns = c.op_timeout_ns ? c.op_timeout_ns : 500000000ull;
	c.probe_interval_ns = c.probe_interval_ns ? c.probe_interval_ns : 100000000ull;
	c.max_attempts = c.max_attempts ? c.max_attempts : 3;
	if (c.module_path)
		strcpy(e->module_path, c.module_path);
	strcpy(e->pin_env, c.pin_env ? c.pin_env : "SHAKEND_HSM_PIN");
	c.module_path = e->module_path[0] ? e->module_path : NULL;
	c.pin_env = e->pin_env;
	e->cfg = c;
	e->fork_gen = atomic_load(&fork_gen);
	pthread_mutex_init(&e->ctl_lock, NULL);
	rc = hsm_ring_create(c.ring_size, sizeof(struct ijob), &e->sub);
	if (rc)
		goto fail;
	/* The retry ring holds jobs taken from workers' hands: a few per worker at most. */
	rc = hsm_ring_create(2u * HSM_MAX_TOKENS * c.sessions + 64, sizeof(struct ijob), &e->retry);
	if (rc)
		goto fail;
	*out = e;
	return 0;
fail:
	hsm_ring_destroy(e->sub);
	pthread_mutex_destroy(&e->ctl_lock);
	free(e);
	return rc;
}

int hsm_engine_add_token(struct hsm_engine *e, const char *uri)
{
	struct token *t;
	const char *why;
	int rc;

	if (!e || !uri)
		return -EINVAL;
	if (e->started)
		return -EBUSY;
	if (e->n_tok >= HSM_MAX_TOKENS)
		return -ENOSPC;
	t = &e->tok[e->n_tok];
	memset(t, 0, sizeof(*t));
	rc = hsm_p11_uri_parse(uri, strlen(uri), &t->u, &why);
	if (rc)
		return rc;
	t->module_path = (t->u.present & HSM_P11_URI_MODULE_PATH) ? t->u.module_path
								  : e->cfg.module_path;
	if (!t->module_path)
		return -EINVAL;
	t->e = e;
	t->idx = e->n_tok;
	pthread_mutex_init(&t->probe_lock, NULL);
	return (int)e->n_tok++;
}

int hsm_engine_start(struct hsm_engine *e)
{
	int rc = 0;

	if (!e || e->started || e->n_tok == 0)
		return -EINVAL;
	for (unsigned i = 0; i < e->n_tok; i++) {
		struct token *t = &e->tok[i];
		long n = hsm_p11_pin_get(&t->u, e->cfg.pin_env, t->pin, sizeof(t->pin));
		if (n < 0) {
			for (unsigned j = 0; j <= i; j++)
				explicit_bzero(e->tok[j].pin, sizeof(e->tok[j].pin));
			return (int)n;
		}
		t->pin_len = (size_t)n;
	}
	e->n_w = e->n_tok * e->cfg.sessions;
	e->w = aligned_alloc(64, ((sizeof(struct worker) * e->n_w) + 63) & ~(size_t)63);
	if (!e->w)
		return -ENOMEM;
	memset(e->w, 0, sizeof(struct worker) * e->n_w);
	e->started = true;
	for (unsigned i = 0; i < e->n_tok; i++) {
		struct token *t = &e->tok[i];
		pthread_mutex_lock(&t->probe_lock);
		(void)token_probe(t, NULL);
		pthread_mutex_unlock(&t->probe_lock);
	}
	for (unsigned i = 0; i < e->n_w; i++) {
		struct worker *w = &e->w[i];
		w->t = &e->tok[i / e->cfg.sessions];
		if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
			rc = -EAGAIN;
			break;
		}
		w->th_started = true;
	}
	if (rc == 0) {
		if (pthread_create(&e->monitor, NULL, monitor_main, e) != 0)
			rc = -EAGAIN;
		else
			e->monitor_started = true;
	}
	if (rc)
		return rc;
	return atomic_load(&e->n_up) > 0 ? 0 : -ENODEV;
}

int hsm_engine_key_add(struct hsm_engine *e, const char *uri, uint32_t *id)
{
	struct hsm_p11_uri u;
	bool found = false;
	const char *why;
	int rc;

	if (!e || !uri || !id)
		return -EINVAL;
	rc = hsm_p11_uri_parse(uri, strlen(uri), &u, &why);
	if (rc)
		return rc;
	if (!(u.present & (HSM_P11_URI_OBJECT | HSM_P11_URI_ID)))
		return -EINVAL;
	pthread_mutex_lock(&e->ctl_lock);
	uint32_t k = atomic_load(&e->n_keys);
	if (k >= HSM_MAX_KEYS) {
		pthread_mutex_unlock(&e->ctl_lock);
		return -ENOSPC;
	}
	e->keys[k] = u;
	/* Published first, so that a probe running now looks it up too. */
	atomic_store_explicit(&e->n_keys, k + 1, memory_order_release);
	for (unsigned i = 0; i < e->n_tok && e->started; i++) {
		struct token *t = &e->tok[i];
		CK_OBJECT_HANDLE h;
		pthread_mutex_lock(&t->probe_lock);
		if (atomic_load(&t->state) == TOK_UP && t->has_ctl &&
		    hsm_p11__find_key(t->f, t->ctl_s, &u, CKO_PRIVATE_KEY, &h) == 0) {
			atomic_store(&t->keys[k], h);
			found = true;
		}
		pthread_mutex_unlock(&t->probe_lock);
	}
	pthread_mutex_unlock(&e->ctl_lock);
	if (e->started && !found)
		return -ENOENT;
	*id = k;
	return 0;
}

void hsm_engine_destroy(struct hsm_engine *e)
{
	bool child;

	if (!e)
		return;
	child = e->fork_gen != atomic_load(&fork_gen);
	if (!child && e->started) {
		atomic_store(&e->stop, true);
		atomic_fetch_add(&e->ev, 1);
		futex_wake(&e->ev, INT_MAX);
		for (unsigned i = 0; i < e->n_tok; i++)
			futex_wake(&e->tok[i].state, INT_MAX);
		for (unsigned i = 0; i < e->n_w; i++)
			if (e->w[i].th_started)
				pthread_join(e->w[i].th, NULL);
		if (e->monitor_started)
			pthread_join(e->monitor, NULL);
		drain(e, -ECANCELED);
	}
	for (unsigned i = 0; i < e->n_tok; i++) {
		struct token *t = &e->tok[i];
		if (!child && t->has_ctl)
			t->f->C_CloseSession(t->ctl_s);
		if (t->m)
			hsm_p11__module_put(t->m);
		explicit_bzero(t->pin, sizeof(t->pin));
		pthread_mutex_destroy(&t->probe_lock);
	}
	free(e->w);
	hsm_ring_destroy(e->sub);
	hsm_ring_destroy(e->retry);
	pthread_mutex_destroy(&e->ctl_lock);
	free(e);
}

bool hsm_engine_token_up(const struct hsm_engine *e, unsigned i)
{
	return i < e->n_tok && atomic_load(&((struct hsm_engine *)e)->tok[i].state) == TOK_UP;
}

void hsm_engine_stats(const struct hsm_engine *e, struct hsm_stats *st)
{
	struct engine_counters *c = &((struct hsm_engine *)e)->c;
#define LD(f) atomic_load_explicit(&c->f, memory_order_relaxed)
	st->submitted = LD(submitted);
	st->signed_ok = LD(signed_ok);
	st->timed_out = LD(timed_out);
	st->failed = LD(failed);
	st->retries = LD(retries);
	st->session_reopens = LD(session_reopens);
	st->token_downs = LD(token_downs);
	st->token_ups = LD(token_ups);
	st->abandoned = LD(abandoned);
#undef LD
}

/* ---- queues ---------------------------------------------------------------------------- */

int hsm_queue_create(struct hsm_engine *e, unsigned depth, struct hsm_queue **out)
{
	struct hsm_queue *q;
	int rc;

	if (!e || depth == 0 || depth > 65536)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	rc = hsm_ring_create(depth, sizeof(struct hsm_completion), &q->cq);
	if (rc) {
		free(q);
		return rc;
	}
	q->e = e;
	q->cap = (unsigned)hsm_ring_capacity(q->cq);
	*out = q;
	return 0;
}

void hsm_queue_destroy(struct hsm_queue *q)
{
	struct hsm_completion c[32];

	if (!q)
		return;
	if (q->e->fork_gen == atomic_load(&fork_gen)) {
		while (q->in_flight > 0) {
			if (hsm_poll_burst(q, c, 32) == 0)
				sleep_ns(100000);
		}
	}
	hsm_ring_destroy(q->cq);
	free(q);
}

#define SUBMIT_CHUNK 32

int hsm_submit_burst(struct hsm_queue *q, const struct hsm_job *jobs, unsigned n)
{
	struct hsm_engine *e = q->e;
	struct ijob ij[SUBMIT_CHUNK];
	unsigned done = 0;
	uint64_t now = 0;

	if (e->fork_gen != atomic_load_explicit(&fork_gen, memory_order_relaxed))
		return -ECHILD;
	if (n > q->cap - q->in_flight)
		n = q->cap - q->in_flight;
	while (done < n) {
		unsigned k = n - done > SUBMIT_CHUNK ? SUBMIT_CHUNK : n - done;
		for (unsigned i = 0; i < k; i++) {
			ij[i].j = jobs[done + i];
			if (ij[i].j.deadline_ns == 0) {
				if (!now)
					now = hsm_now_ns();
				ij[i].j.deadline_ns = now + e->cfg.default_timeout_ns;
			}
			ij[i].q = q;
			ij[i].attempts = 0;
		}
		unsigned acc = hsm_ring_enqueue_burst(e->sub, ij, k);
		done += acc;
		if (acc < k)
			break;
	}
	q->in_flight += done;
	if (done) {
		CNT_ADD(e, submitted, done);
		notify(e, done);
	}
	return (int)done;
}

unsigned hsm_poll_burst(struct hsm_queue *q, struct hsm_completion *c, unsigned n)
{
	unsigned got = hsm_ring_dequeue_burst(q->cq, c, n);
	q->in_flight -= got;
	return got;
}

unsigned hsm_queue_in_flight(const struct hsm_queue *q)
{
	return q->in_flight;
}

int hsm_sign(struct hsm_engine *e, uint32_t key, const uint8_t digest[HSM_DIGEST_LEN],
	     uint8_t sig[HSM_SIG_LEN], uint64_t timeout_ns)
{
	struct hsm_queue q;
	struct ijob job;
	uint64_t deadline = hsm_now_ns() + (timeout_ns ? timeout_ns : e->cfg.default_timeout_ns);

	if (e->fork_gen != atomic_load(&fork_gen))
		return -ECHILD;
	memset(&q, 0, sizeof(q));
	q.e = e;
	memset(&job, 0, sizeof(job));
	memcpy(job.j.digest, digest, HSM_DIGEST_LEN);
	job.j.key = key;
	job.j.deadline_ns = deadline;
	job.q = &q;
	while (hsm_ring_enqueue_burst(e->sub, &job, 1) != 1) {
		if (hsm_now_ns() >= deadline)
			return -EAGAIN;
		sleep_ns(50000);
	}
	CNT_ADD(e, submitted, 1);
	notify(e, 1);
	while (atomic_load_explicit(&q.done, memory_order_acquire) == 0)
		futex_wait(&q.done, 0, 0);
	while (atomic_load_explicit(&q.done, memory_order_acquire) != 2)
		sched_yield();
	if (q.res.status == 0)
		memcpy(sig, q.res.sig, HSM_SIG_LEN);
	return q.res.status;
}

static int pp_adapter_sign(void *ctx, const uint8_t digest[32], uint8_t sig[PP_SIG_LEN])
{
	struct hsm_pp_signer *c = ctx;
	return hsm_sign(c->e, c->key, digest, sig, c->timeout_ns);
}

int hsm_pp_signer(struct pp_signer *s, struct hsm_pp_signer *ctx)
{
	if (!s || !ctx || !ctx->e)
		return -EINVAL;
	s->sign = pp_adapter_sign;
	s->ctx = ctx;
	return 0;
}
