/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hsm/-private PKCS#11 helpers: the module registry (one dlopen and one C_Initialize per
 * module path per process, re-initialized in a forked child), token lookup, login and key
 * lookup on a session, CK_RV classification.
 */
#ifndef SHAKEND_HSM_P11_PVT_H
#define SHAKEND_HSM_P11_PVT_H

#include <sys/types.h>

#include <p11-kit/pkcs11.h>

#include "hsm/p11.h"

struct hsm_p11_module {
	char path[HSM_P11_PATH_MAX + 1];
	void *dl;
	CK_FUNCTION_LIST *f;
	pid_t pid;          /* process that ran C_Initialize */
	bool owns_init;     /* we ran C_Initialize (not CKR_CRYPTOKI_ALREADY_INITIALIZED) */
	unsigned refs;
	struct hsm_p11_module *next;
};

/*
 * Loads (or finds) the module at path and initializes it with CKF_OS_LOCKING_OK; counted.
 * Returns 0, -EINVAL (path empty or too long), -ELIBACC, -EIO (C_Initialize failed).
 */
int hsm_p11__module_get(const char *path, struct hsm_p11_module **out);

/* Drops a reference; the last one runs C_Finalize (when we initialized it, in this process). */
void hsm_p11__module_put(struct hsm_p11_module *m);

/*
 * Finds the slot whose token matches u's token selectors. Returns 0, -ENODEV, -EIO.
 */
int hsm_p11__find_slot(struct hsm_p11_module *m, const struct hsm_p11_uri *u, CK_SLOT_ID *slot);

/* Logs the user in unless the session already is. Returns 0, -EACCES, or as hsm_p11__errno. */
int hsm_p11__login(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, const char *pin, size_t len);

/*
 * Finds the one object of class cls (EC key) that matches u's object= and id=. Returns 0,
 * -ENOENT (none), -EEXIST (several), or as hsm_p11__errno.
 */
int hsm_p11__find_key(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, const struct hsm_p11_uri *u,
		      CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *h);

/* CKM_ECDSA over digest: C_SignInit + C_Sign. Returns the CK_RV. */
CK_RV hsm_p11__sign(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
		    const uint8_t digest[32], uint8_t sig[64]);

/*
 * What a CK_RV means to the engine.
 *   HSM_P11_RV_SESSION: the session is gone (reopen it and retry)
 *   HSM_P11_RV_LOGIN:   not logged in (log in and retry)
 *   HSM_P11_RV_KEY:     the key handle is stale (find the key again)
 *   HSM_P11_RV_TOKEN:   the token is gone or broken (take it out of service)
 *   HSM_P11_RV_OTHER:   any other failure (retry elsewhere, a bounded number of times)
 */
enum hsm_p11_rv_class {
	HSM_P11_RV_OK = 0,
	HSM_P11_RV_SESSION,
	HSM_P11_RV_LOGIN,
	HSM_P11_RV_KEY,
	HSM_P11_RV_TOKEN,
	HSM_P11_RV_OTHER,
};
enum hsm_p11_rv_class hsm_p11__classify(CK_RV rv);

/* -errno for a CK_RV (0 for CKR_OK). */
int hsm_p11__errno(CK_RV rv);

#endif
