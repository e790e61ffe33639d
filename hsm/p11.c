/* SPDX-License-Identifier: BSD-3-Clause */
#include "hsm/p11.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "hsm/p11_pvt.h"

/* ---- URI (RFC 7512) -------------------------------------------------------------------- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes v[0..n) into out (cap bytes); returns the length or -1 / -2 (too long). */
static long pct_decode(const char *v, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '%') {
			if (n - i < 3)
				return -1;
			int h = hexval((unsigned char)v[i + 1]), l = hexval((unsigned char)v[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (unsigned char)(h << 4 | l);
			i += 2;
		} else if (c == 0) {
			return -1;
		}
		if (o >= cap)
			return -2;
		out[o++] = c;
	}
	return (long)o;
}

/* Decodes into a NUL-terminated string field of size cap (NUL bytes rejected). */
static int pct_str(const char *v, size_t n, char *out, size_t cap, const char **why)
{
	long l = pct_decode(v, n, (uint8_t *)out, cap - 1);
	if (l == -2) {
		*why = "value too long";
		return -EINVAL;
	}
	if (l < 0 || memchr(out, 0, (size_t)l)) {
		*why = "bad percent-encoding";
		return -EINVAL;
	}
	out[l] = 0;
	return 0;
}

static bool name_is(const char *n, size_t nl, const char *lit)
{
	return strlen(lit) == nl && memcmp(n, lit, nl) == 0;
}

static int uri_attr(struct hsm_p11_uri *u, bool query, const char *n, size_t nl, const char *v,
		    size_t vl, const char **why)
{
	uint32_t bit;
	int rc;

	if (nl >= 2 && n[0] == 'x' && n[1] == '-')
		return 0;   /* vendor attribute */
	if (name_is(n, nl, "pin-value")) {
		*why = "pin-value not allowed: use pin-source";
		return -EINVAL;
	}
	if (!query && name_is(n, nl, "token")) {
		bit = HSM_P11_URI_TOKEN;
		rc = pct_str(v, vl, u->token, sizeof(u->token), why);
	} else if (!query && name_is(n, nl, "manufacturer")) {
		bit = HSM_P11_URI_MANUFACTURER;
		rc = pct_str(v, vl, u->manufacturer, sizeof(u->manufacturer), why);
	} else if (!query && name_is(n, nl, "serial")) {
		bit = HSM_P11_URI_SERIAL;
		rc = pct_str(v, vl, u->serial, sizeof(u->serial), why);
	} else if (!query && name_is(n, nl, "model")) {
		bit = HSM_P11_URI_MODEL;
		rc = pct_str(v, vl, u->model, sizeof(u->model), why);
	} else if (!query && name_is(n, nl, "object")) {
		bit = HSM_P11_URI_OBJECT;
		rc = pct_str(v, vl, u->object, sizeof(u->object), why);
	} else if (!query && name_is(n, nl, "id")) {
		bit = HSM_P11_URI_ID;
		long l = pct_decode(v, vl, u->id, sizeof(u->id));
		if (l < 0) {
			*why = l == -2 ? "id too long" : "bad percent-encoding";
			return -EINVAL;
		}
		u->id_len = (size_t)l;
		rc = 0;
	} else if (!query && name_is(n, nl, "type")) {
		char t[16];
		bit = HSM_P11_URI_TYPE;
		rc = pct_str(v, vl, t, sizeof(t), why);
		if (rc == 0) {
			if (!strcmp(t, "private"))
				u->type = HSM_P11_TYPE_PRIVATE;
			else if (!strcmp(t, "public"))
				u->type = HSM_P11_TYPE_PUBLIC;
			else if (!strcmp(t, "cert"))
				u->type = HSM_P11_TYPE_CERT;
			else if (!strcmp(t, "secret-key"))
				u->type = HSM_P11_TYPE_SECRET;
			else if (!strcmp(t, "data"))
				u->type = HSM_P11_TYPE_DATA;
			else {
				*why = "unknown type";
				rc = -EINVAL;
			}
		}
	} else if (!query && name_is(n, nl, "slot-id")) {
		char t[24];
		bit = HSM_P11_URI_SLOT_ID;
		rc = pct_str(v, vl, t, sizeof(t), why);
		if (rc == 0) {
			char *end;
			if (!t[0] || t[0] < '0' || t[0] > '9') {
				*why = "slot-id not a number";
				return -EINVAL;
			}
			errno = 0;
			u->slot_id = strtoul(t, &end, 10);
			if (*end || errno) {
				*why = "slot-id not a number";
				return -EINVAL;
			}
		}
	} else if (!query && (name_is(n, nl, "library-manufacturer") ||
			      name_is(n, nl, "library-description") ||
			      name_is(n, nl, "library-version") ||
			      name_is(n, nl, "slot-description") ||
			      name_is(n, nl, "slot-manufacturer"))) {
		return 0;   /* known, not used for selection here */
	} else if (name_is(n, nl, "module-path")) {
		bit = HSM_P11_URI_MODULE_PATH;
		rc = pct_str(v, vl, u->module_path, sizeof(u->module_path), why);
	} else if (query && name_is(n, nl, "module-name")) {
		bit = HSM_P11_URI_MODULE_NAME;
		rc = pct_str(v, vl, u->module_name, sizeof(u->module_name), why);
	} else if (query && name_is(n, nl, "pin-source")) {
		char t[HSM_P11_PATH_MAX + 8];
		bit = HSM_P11_URI_PIN_SOURCE;
		rc = pct_str(v, vl, t, sizeof(t), why);
		if (rc == 0) {
			const char *p = t;
			if (!strncmp(p, "file://", 7))
				p += 7;
			else if (!strncmp(p, "file:", 5))
				p += 5;
			if (p[0] != '/') {
				*why = "pin-source must be a file: URI or an absolute path";
				return -EINVAL;
			}
			if (strlen(p) > HSM_P11_PATH_MAX) {
				*why = "value too long";
				return -EINVAL;
			}
			strcpy(u->pin_source, p);
		}
	} else {
		*why = query ? "unknown query attribute" : "unknown path attribute";
		return -EINVAL;
	}
	if (rc)
		return rc;
	if (u->present & bit) {
		*why = "attribute repeated";
		return -EINVAL;
	}
	u->present |= bit;
	return 0;
}

int hsm_p11_uri_parse(const char *s, size_t len, struct hsm_p11_uri *u, const char **why)
{
	const char *dummy;
	size_t i;
	bool query = false;

	if (!why)
		why = &dummy;
	memset(u, 0, sizeof(*u));
	if (!s || len < 7 || memcmp(s, "pkcs11:", 7) != 0) {
		*why = "not a pkcs11: URI";
		return -EINVAL;
	}
	i = 7;
	while (i < len) {
		size_t start = i, eq = 0;
		bool have_eq = false;
		while (i < len && s[i] != (query ? '&' : ';') && !(!query && s[i] == '?')) {
			if (s[i] == '=' && !have_eq) {
				have_eq = true;
				eq = i;
			}
			if (s[i] == 0) {
				*why = "NUL byte";
				return -EINVAL;
			}
			i++;
		}
		if (i > start) {
			if (!have_eq || eq == start) {
				*why = "attribute without name=value";
				return -EINVAL;
			}
			int rc = uri_attr(u, query, s + start, eq - start, s + eq + 1, i - eq - 1,
					  why);
			if (rc)
				return rc;
		}
		if (i < len && s[i] == '?') {
			if (query) {
				*why = "second '?'";
				return -EINVAL;
			}
			query = true;
		}
		i++;
	}
	return 0;
}

long hsm_p11_pin_get(const struct hsm_p11_uri *u, const char *env_name, char *pin, size_t cap)
{
	size_t n = 0;

	if (!pin || cap == 0)
		return -EINVAL;
	pin[0] = 0;
	if (u && (u->present & HSM_P11_URI_PIN_SOURCE)) {
		int fd = open(u->pin_source, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		for (;;) {
			if (n + 1 >= cap || n >= HSM_P11_PIN_MAX + 2) {
				close(fd);
				explicit_bzero(pin, cap);
				return -ENOSPC;
			}
			ssize_t r = read(fd, pin + n, cap - 1 - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				int e = -errno;
				close(fd);
				explicit_bzero(pin, cap);
				return e;
			}
			if (r == 0)
				break;
			n += (size_t)r;
			if (memchr(pin, '\n', n))
				break;
		}
		close(fd);
		char *nl = memchr(pin, '\n', n);
		if (nl)
			n = (size_t)(nl - pin);
		if (n > 0 && pin[n - 1] == '\r')
			n--;
		explicit_bzero(pin + n, cap - n);
	} else {
		const char *v = getenv(env_name ? env_name : "SHAKEND_HSM_PIN");
		if (!v)
			return -ENOENT;
		n = strlen(v);
		if (n + 1 > cap)
			return -ENOSPC;
		memcpy(pin, v, n + 1);
	}
	if (n > HSM_P11_PIN_MAX) {
		explicit_bzero(pin, cap);
		return -ENOSPC;
	}
	pin[n] = 0;
	return (long)n;
}

/* ---- module registry ------------------------------------------------------------------- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_p11_module *reg_head;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static void reg_prepare(void)
{
	pthread_mutex_lock(&reg_lock);
}

static void reg_parent(void)
{
	pthread_mutex_unlock(&reg_lock);
}

static void reg_child(void)
{
	/* The parent's C_Initialize does not carry over (PKCS#11 v2.40 §6.7.7): a forked child
	 * initializes every module again the next time it is used. */
	pthread_mutex_unlock(&reg_lock);
}

static void reg_init(void)
{
	pthread_atfork(reg_prepare, reg_parent, reg_child);
}

static CK_RV module_initialize(struct hsm_p11_module *m)
{
	CK_C_INITIALIZE_ARGS args;
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	CK_RV rv = m->f->C_Initialize(&args);
	m->owns_init = rv == CKR_OK;
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		rv = CKR_OK;
	if (rv == CKR_OK)
		m->pid = getpid();
	return rv;
}

int hsm_p11__module_get(const char *path, struct hsm_p11_module **out)
{
	struct hsm_p11_module *m;
	int rc = 0;

	if (!path || !path[0] || strlen(path) > HSM_P11_PATH_MAX)
		return -EINVAL;
	pthread_once(&reg_once, reg_init);
	pthread_mutex_lock(&reg_lock);
	for (m = reg_head; m; m = m->next)
		if (!strcmp(m->path, path))
			break;
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m) {
			rc = -ENOMEM;
			goto out;
		}
		strcpy(m->path, path);
		m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		CK_C_GetFunctionList gfl = m->dl ? (CK_C_GetFunctionList)dlsym(m->dl,
							"C_GetFunctionList") : NULL;
		if (!gfl || gfl(&m->f) != CKR_OK || !m->f) {
			if (m->dl)
				dlclose(m->dl);
			free(m);
			m = NULL;
			rc = -ELIBACC;
			goto out;
		}
		m->next = reg_head;
		reg_head = m;
	}
	if (m->refs == 0 || m->pid != getpid()) {
		if (module_initialize(m) != CKR_OK) {
			rc = -EIO;
			goto out;
		}
	}
	m->refs++;
	*out = m;
out:
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

void hsm_p11__module_put(struct hsm_p11_module *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&reg_lock);
	if (m->refs > 0 && --m->refs == 0 && m->owns_init && m->pid == getpid()) {
		m->f->C_Finalize(NULL);
		m->owns_init = false;
	}
	/* The library stays loaded: modules commonly do not survive dlclose and reload. */
	pthread_mutex_unlock(&reg_lock);
}

/* ---- tokens, sessions, keys ------------------------------------------------------------ */

/* Compares a blank-padded PKCS#11 field of n bytes with a C string. */
static bool padded_eq(const unsigned char *field, size_t n, const char *s)
{
	size_t l = n;
	while (l > 0 && (field[l - 1] == ' ' || field[l - 1] == 0))
		l--;
	return strlen(s) == l && memcmp(field, s, l) == 0;
}

int hsm_p11__find_slot(struct hsm_p11_module *m, const struct hsm_p11_uri *u, CK_SLOT_ID *slot)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_RV rv = m->f->C_GetSlotList(CK_TRUE, slots, &n);

	if (rv == CKR_BUFFER_TOO_SMALL)
		n = 64;
	else if (rv != CKR_OK)
		return -EIO;
	for (CK_ULONG i = 0; i < n && i < 64; i++) {
		CK_TOKEN_INFO ti;
		if ((u->present & HSM_P11_URI_SLOT_ID) && slots[i] != u->slot_id)
			continue;
		if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if ((u->present & HSM_P11_URI_TOKEN) &&
		    !padded_eq(ti.label, sizeof(ti.label), u->token))
			continue;
		if ((u->present & HSM_P11_URI_MANUFACTURER) &&
		    !padded_eq(ti.manufacturerID, sizeof(ti.manufacturerID), u->manufacturer))
			continue;
		if ((u->present & HSM_P11_URI_SERIAL) &&
		    !padded_eq(ti.serialNumber, sizeof(ti.serialNumber), u->serial))
			continue;
		if ((u->present & HSM_P11_URI_MODEL) &&
		    !padded_eq(ti.model, sizeof(ti.model), u->model))
			continue;
		*slot = slots[i];
		return 0;
	}
	return -ENODEV;
}

int hsm_p11__errno(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_EXPIRED:
	case CKR_PIN_LOCKED:
		return -EACCES;
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
		return -ENOTCONN;
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_SLOT_ID_INVALID:
		return -ENODEV;
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return -ENOMEM;
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
		return -ENOKEY;
	default:
		return -EIO;
	}
}

enum hsm_p11_rv_class hsm_p11__classify(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return HSM_P11_RV_OK;
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
		return HSM_P11_RV_SESSION;
	case CKR_USER_NOT_LOGGED_IN:
		return HSM_P11_RV_LOGIN;
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
		return HSM_P11_RV_KEY;
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_ERROR:
	case CKR_SLOT_ID_INVALID:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return HSM_P11_RV_TOKEN;
	default:
		return HSM_P11_RV_OTHER;
	}
}

int hsm_p11__login(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, const char *pin, size_t len)
{
	CK_SESSION_INFO si;
	CK_RV rv = f->C_GetSessionInfo(s, &si);

	if (rv != CKR_OK)
		return hsm_p11__errno(rv);
	if (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS)
		return 0;
	rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, len);
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	return hsm_p11__errno(rv);
}

/* Template of class, key type EC, and u's label/id; returns the count of attributes. */
static CK_ULONG key_template(CK_ATTRIBUTE *t, CK_OBJECT_CLASS *cls, CK_KEY_TYPE *kt,
			     const struct hsm_p11_uri *u)
{
	CK_ULONG n = 0;
	if (cls)
		t[n++] = (CK_ATTRIBUTE){CKA_CLASS, cls, sizeof(*cls)};
	if (kt)
		t[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, kt, sizeof(*kt)};
	if (u->present & HSM_P11_URI_OBJECT)
		t[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)u->object, strlen(u->object)};
	if (u->present & HSM_P11_URI_ID)
		t[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)u->id, u->id_len};
	return n;
}

/* Finds up to max objects matching t; returns the count (capped at max) or -errno. */
static long find_objects(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n,
			 CK_OBJECT_HANDLE *h, CK_ULONG max)
{
	CK_ULONG got = 0;
	CK_RV rv = f->C_FindObjectsInit(s, t, n);
	if (rv != CKR_OK)
		return hsm_p11__errno(rv);
	rv = f->C_FindObjects(s, h, max, &got);
	f->C_FindObjectsFinal(s);
	if (rv != CKR_OK)
		return hsm_p11__errno(rv);
	return (long)got;
}

int hsm_p11__find_key(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, const struct hsm_p11_uri *u,
		      CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE t[4];
	CK_KEY_TYPE kt = CKK_EC;
	CK_OBJECT_HANDLE found[2];
	long n = find_objects(f, s, t, key_template(t, &cls, &kt, u), found, 2);

	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENOENT;
	if (n > 1)
		return -EEXIST;
	*h = found[0];
	return 0;
}

CK_RV hsm_p11__sign(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
		    const uint8_t digest[32], uint8_t sig[64])
{
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	CK_ULONG len = 64;
	CK_RV rv = f->C_SignInit(s, &mech, key);

	if (rv != CKR_OK)
		return rv;
	rv = f->C_Sign(s, (CK_BYTE_PTR)digest, 32, sig, &len);
	if (rv == CKR_OK && len != 64)
		rv = CKR_GENERAL_ERROR;
	return rv;
}

/* ---- control-plane token sessions ------------------------------------------------------ */

struct hsm_p11_tok {
	struct hsm_p11_module *m;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
};

int hsm_p11_open(const char *uri, const char *default_module, const char *pin_env,
		 struct hsm_p11_tok **out)
{
	struct hsm_p11_uri u;
	struct hsm_p11_tok *t = NULL;
	char pin[HSM_P11_PIN_MAX + 2];
	const char *why;
	long pl;
	int rc;

	if (!uri)
		return -EINVAL;
	rc = hsm_p11_uri_parse(uri, strlen(uri), &u, &why);
	if (rc)
		return rc;
	const char *path = (u.present & HSM_P11_URI_MODULE_PATH) ? u.module_path : default_module;
	if (!path)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = hsm_p11__module_get(path, &t->m);
	if (rc)
		goto fail_free;
	rc = hsm_p11__find_slot(t->m, &u, &t->slot);
	if (rc)
		goto fail_put;
	CK_RV rv = t->m->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
					  &t->s);
	if (rv != CKR_OK) {
		rc = hsm_p11__errno(rv);
		goto fail_put;
	}
	pl = hsm_p11_pin_get(&u, pin_env, pin, sizeof(pin));
	if (pl < 0) {
		rc = (int)pl;
		goto fail_close;
	}
	rc = hsm_p11__login(t->m->f, t->s, pin, (size_t)pl);
	explicit_bzero(pin, sizeof(pin));
	if (rc)
		goto fail_close;
	*out = t;
	return 0;
fail_close:
	t->m->f->C_CloseSession(t->s);
fail_put:
	hsm_p11__module_put(t->m);
fail_free:
	free(t);
	return rc;
}

void hsm_p11_close(struct hsm_p11_tok *t)
{
	if (!t)
		return;
	t->m->f->C_CloseSession(t->s);
	hsm_p11__module_put(t->m);
	free(t);
}

static const uint8_t p256_oid_der[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

int hsm_p11_keygen(struct hsm_p11_tok *t, const char *label, const uint8_t *id, size_t id_len)
{
	CK_FUNCTION_LIST *f = t->m->f;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_OBJECT_HANDLE hpub, hpriv, h[1];
	struct hsm_p11_uri u;
	size_t ll = label ? strlen(label) : 0;

	if (ll == 0 || ll > HSM_P11_LABEL_MAX || !id || id_len == 0 || id_len > HSM_P11_ID_MAX)
		return -EINVAL;
	/* Refuse a second key under the same label or the same id: URIs must stay unique. */
	for (int pass = 0; pass < 2; pass++) {
		CK_ATTRIBUTE q[2];
		memset(&u, 0, sizeof(u));
		if (pass == 0) {
			u.present = HSM_P11_URI_OBJECT;
			memcpy(u.object, label, ll + 1);
		} else {
			u.present = HSM_P11_URI_ID;
			memcpy(u.id, id, id_len);
			u.id_len = id_len;
		}
		long n = find_objects(f, t->s, q, key_template(q, NULL, NULL, &u), h, 1);
		if (n < 0)
			return -EIO;
		if (n > 0)
			return -EEXIST;
	}
	CK_ATTRIBUTE pub[] = {
		{CKA_CLASS, &pub_cls, sizeof(pub_cls)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_PRIVATE, &no, sizeof(no)},
		{CKA_VERIFY, &yes, sizeof(yes)},
		{CKA_EC_PARAMS, (void *)p256_oid_der, sizeof(p256_oid_der)},
		{CKA_LABEL, (void *)label, ll},
		{CKA_ID, (void *)id, id_len},
	};
	CK_ATTRIBUTE priv[] = {
		{CKA_CLASS, &priv_cls, sizeof(priv_cls)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_PRIVATE, &yes, sizeof(yes)},
		{CKA_SENSITIVE, &yes, sizeof(yes)},
		{CKA_EXTRACTABLE, &no, sizeof(no)},
		{CKA_SIGN, &yes, sizeof(yes)},
		{CKA_LABEL, (void *)label, ll},
		{CKA_ID, (void *)id, id_len},
	};
	CK_RV rv = f->C_GenerateKeyPair(t->s, &mech, pub, sizeof(pub) / sizeof(pub[0]), priv,
					sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
	return rv == CKR_OK ? 0 : -EIO;
}

long hsm_p11_key_list(struct hsm_p11_tok *t, struct hsm_p11_key *keys, unsigned max)
{
	CK_FUNCTION_LIST *f = t->m->f;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
	CK_OBJECT_HANDLE h[32];
	CK_ULONG got;
	long total = 0;

	if (f->C_FindObjectsInit(t->s, q, 2) != CKR_OK)
		return -EIO;
	do {
		if (f->C_FindObjects(t->s, h, 32, &got) != CKR_OK) {
			f->C_FindObjectsFinal(t->s);
			return -EIO;
		}
		for (CK_ULONG i = 0; i < got; i++, total++) {
			if ((unsigned long)total >= max)
				continue;
			struct hsm_p11_key *k = &keys[total];
			memset(k, 0, sizeof(*k));
			CK_ATTRIBUTE a[] = {{CKA_LABEL, k->label, HSM_P11_LABEL_MAX},
					    {CKA_ID, k->id, HSM_P11_ID_MAX}};
			CK_RV rv = f->C_GetAttributeValue(t->s, h[i], a, 2);
			if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL &&
			    rv != CKR_ATTRIBUTE_TYPE_INVALID)
				continue;
			k->label[a[0].ulValueLen <= HSM_P11_LABEL_MAX ? a[0].ulValueLen : 0] = 0;
			k->id_len = a[1].ulValueLen <= HSM_P11_ID_MAX ? a[1].ulValueLen : 0;
		}
	} while (got == 32);
	f->C_FindObjectsFinal(t->s);
	/* Second pass (outside the first search: one search per session at a time). */
	for (long i = 0; i < total && (unsigned long)i < max; i++) {
		struct hsm_p11_uri u = {.present = HSM_P11_URI_ID};
		CK_OBJECT_HANDLE ph;
		memcpy(u.id, keys[i].id, keys[i].id_len);
		u.id_len = keys[i].id_len;
		keys[i].has_public = keys[i].id_len > 0 &&
				     hsm_p11__find_key(f, t->s, &u, CKO_PUBLIC_KEY, &ph) == 0;
	}
	return total;
}

static int key_selector(const char *key_uri, struct hsm_p11_uri *u)
{
	if (!key_uri || hsm_p11_uri_parse(key_uri, strlen(key_uri), u, NULL) != 0)
		return -EINVAL;
	if (!(u->present & (HSM_P11_URI_OBJECT | HSM_P11_URI_ID)))
		return -EINVAL;
	return 0;
}

int hsm_p11_key_public(struct hsm_p11_tok *t, const char *key_uri, EVP_PKEY **out)
{
	CK_FUNCTION_LIST *f = t->m->f;
	struct hsm_p11_uri u;
	CK_OBJECT_HANDLE h;
	uint8_t pt[128];
	const uint8_t *p = pt;
	int rc = key_selector(key_uri, &u);

	if (rc)
		return rc;
	rc = hsm_p11__find_key(f, t->s, &u, CKO_PUBLIC_KEY, &h);
	if (rc)
		return rc == -ENOENT || rc == -EEXIST ? rc : -EIO;
	CK_ATTRIBUTE a = {CKA_EC_POINT, pt, sizeof(pt)};
	if (f->C_GetAttributeValue(t->s, h, &a, 1) != CKR_OK)
		return -EIO;
	size_t len = a.ulValueLen;
	/* CKA_EC_POINT is DER OCTET STRING { 04 X Y } (some modules give the raw point). */
	if (len == 67 && pt[0] == 0x04 && pt[1] == 65) {
		p = pt + 2;
		len = 65;
	}
	if (len != 65 || p[0] != 0x04)
		return -EBADMSG;

	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	rc = -EBADMSG;
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, p, len))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	/* fromdata does not check that the point is on the curve */
	EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	int ok = chk && EVP_PKEY_public_check(chk) == 1;
	EVP_PKEY_CTX_free(chk);
	if (!ok) {
		EVP_PKEY_free(pk);
		goto out;
	}
	*out = pk;
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

long hsm_p11_key_spki(struct hsm_p11_tok *t, const char *key_uri, bool pem, uint8_t *buf,
		      size_t cap)
{
	EVP_PKEY *pk = NULL;
	long rc = hsm_p11_key_public(t, key_uri, &pk);

	if (rc)
		return rc;
	if (!pem) {
		int n = i2d_PUBKEY(pk, NULL);
		if (n <= 0)
			rc = -EIO;
		else if ((size_t)n > cap)
			rc = -ENOSPC;
		else {
			unsigned char *p = buf;
			rc = i2d_PUBKEY(pk, &p);
		}
	} else {
		BIO *b = BIO_new(BIO_s_mem());
		char *data;
		if (!b || !PEM_write_bio_PUBKEY(b, pk)) {
			rc = -EIO;
		} else {
			long n = BIO_get_mem_data(b, &data);
			if (n <= 0)
				rc = -EIO;
			else if ((size_t)n > cap)
				rc = -ENOSPC;
			else {
				memcpy(buf, data, (size_t)n);
				if ((size_t)n < cap)
					buf[n] = 0;
				rc = n;
			}
		}
		BIO_free(b);
	}
	EVP_PKEY_free(pk);
	return rc;
}

long hsm_p11_key_destroy(struct hsm_p11_tok *t, const char *key_uri)
{
	CK_FUNCTION_LIST *f = t->m->f;
	struct hsm_p11_uri u;
	CK_OBJECT_HANDLE h[16];
	long total = 0;
	int rc = key_selector(key_uri, &u);

	if (rc)
		return rc;
	for (int pass = 0; pass < 2; pass++) {
		CK_OBJECT_CLASS cls = pass == 0 ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
		CK_ATTRIBUTE q[4];
		long n;
		do {   /* the search ends before the objects go: search again until none is left */
			n = find_objects(f, t->s, q, key_template(q, &cls, NULL, &u), h, 16);
			if (n < 0)
				return -EIO;
			for (long i = 0; i < n; i++) {
				if (f->C_DestroyObject(t->s, h[i]) != CKR_OK)
					return -EIO;
				total++;
			}
		} while (n == 16);
	}
	return total;
}

int hsm_p11_sign_once(struct hsm_p11_tok *t, const char *key_uri, const uint8_t digest[32],
		      uint8_t sig[64])
{
	struct hsm_p11_uri u;
	CK_OBJECT_HANDLE h;
	int rc = key_selector(key_uri, &u);

	if (rc)
		return rc;
	rc = hsm_p11__find_key(t->m->f, t->s, &u, CKO_PRIVATE_KEY, &h);
	if (rc)
		return rc;
	return hsm_p11__errno(hsm_p11__sign(t->m->f, t->s, h, digest, sig));
}
