/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The raw PKCS#11 baseline of `shaken-bench hsm` and `shaken-bench dataplane`: N threads, each
 * with its own session on the module, calling C_Sign (CKM_ECDSA) on a cached key handle as
 * fast as they can, with no engine in between; and the SoftHSM2 token both benches sign on.
 */
#include "bench/bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "hsm/hsm.h"
#include "hsm/p11.h"
#include "hsm/p11_pvt.h"

struct raw_thread {
	struct hsm_p11_module *m;
	CK_SLOT_ID slot;
	const char *object;
	_Atomic bool *stop;
	unsigned long count;
	int err;
};

static void *raw_main(void *arg)
{
	struct raw_thread *r = arg;
	CK_FUNCTION_LIST *f = r->m->f;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;
	struct hsm_p11_uri u = {.present = HSM_P11_URI_OBJECT};
	uint8_t d[32] = {7}, sig[64];

	snprintf(u.object, sizeof(u.object), "%s", r->object);
	if (f->C_OpenSession(r->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		r->err = -EIO;
		return NULL;
	}
	if (hsm_p11__find_key(f, s, &u, CKO_PRIVATE_KEY, &h) != 0) {
		r->err = -ENOENT;
	} else {
		while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
			if (hsm_p11__sign(f, s, h, d, sig) != CKR_OK) {
				r->err = -EIO;
				break;
			}
			d[1]++;
			r->count++;
		}
	}
	f->C_CloseSession(s);
	return NULL;
}

double bench_p11_raw_rate(const char *module, const char *token_uri, const char *object,
			  unsigned n, double seconds, void (*spawn_hook)(bool before))
{
	struct hsm_p11_module *m;
	struct hsm_p11_uri u;
	CK_SLOT_ID slot;
	pthread_t th[HSM_MAX_SESSIONS];
	struct raw_thread rt[HSM_MAX_SESSIONS];
	_Atomic bool stop = false;
	unsigned long total = 0;
	unsigned started = 0;
	int err = 0;

	if (n == 0 || n > HSM_MAX_SESSIONS || strlen(object) >= sizeof(u.object))
		return -1;
	if (hsm_p11__module_get(module, &m) != 0)
		return -1;
	if (hsm_p11_uri_parse(token_uri, strlen(token_uri), &u, NULL) != 0 ||
	    hsm_p11__find_slot(m, &u, &slot) != 0) {
		hsm_p11__module_put(m);
		return -1;
	}
	uint64_t t0 = hsm_now_ns();
	if (spawn_hook)
		spawn_hook(true);
	for (unsigned i = 0; i < n; i++) {
		rt[i] = (struct raw_thread){.m = m, .slot = slot, .object = object, .stop = &stop};
		if (pthread_create(&th[i], NULL, raw_main, &rt[i]) != 0) {
			err = -EAGAIN;
			break;
		}
		started++;
	}
	if (spawn_hook)
		spawn_hook(false);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, true);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		total += rt[i].count;
		if (rt[i].err)
			err = rt[i].err;
	}
	double el = (double)(hsm_now_ns() - t0) * 1e-9;
	hsm_p11__module_put(m);
	return err ? -1 : (double)total / el;
}

int bench_softhsm_token(const char *module, const char *dir, const char *label, char *pin_file,
			size_t pin_cap, char *token_uri, size_t uri_cap)
{
	char path[160], cmd[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tokens", dir);
	if (mkdir(path, 0700) != 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
	if (!(f = fopen(path, "w")))
		return -errno;
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
		   "log.level = ERROR\n", dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", path, 1);
	snprintf(pin_file, pin_cap, "%s/pin", dir);
	if (!(f = fopen(pin_file, "w")))
		return -errno;
	fputs("1234\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free --label %s --pin 1234 "
				   "--so-pin 12345678 >/dev/null", label);
	if (system(cmd) != 0)
		return -EIO;
	snprintf(token_uri, uri_cap, "pkcs11:token=%s?module-path=%s&pin-source=file:%s", label,
		 module, pin_file);
	return 0;
}
