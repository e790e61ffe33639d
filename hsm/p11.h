/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PKCS#11 plumbing shared by the signing engine and the tools: PKCS#11 URIs (RFC 7512), PIN
 * sources, and the key lifecycle on a token (generate an EC P-256 key pair that never leaves
 * the token, list, export the public key, destroy).
 *
 * This header does not include <p11-kit/pkcs11.h>: its types are our own. Control-plane
 * functions (hsm_p11_open and the key functions) block on the token; never call them from an
 * lcore.
 */
#ifndef SHAKEND_HSM_P11_H
#define SHAKEND_HSM_P11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define HSM_P11_TOKEN_MAX 32    /* CK_TOKEN_INFO.label */
#define HSM_P11_LABEL_MAX 64    /* object= we accept */
#define HSM_P11_ID_MAX 64       /* id= bytes we accept */
#define HSM_P11_PATH_MAX 255    /* module-path=, pin-source= */
#define HSM_P11_PIN_MAX 128

/* Presence bits of struct hsm_p11_uri. */
enum {
	HSM_P11_URI_TOKEN = 1u << 0,
	HSM_P11_URI_MANUFACTURER = 1u << 1,
	HSM_P11_URI_SERIAL = 1u << 2,
	HSM_P11_URI_MODEL = 1u << 3,
	HSM_P11_URI_OBJECT = 1u << 4,
	HSM_P11_URI_ID = 1u << 5,
	HSM_P11_URI_TYPE = 1u << 6,
	HSM_P11_URI_SLOT_ID = 1u << 7,
	HSM_P11_URI_MODULE_PATH = 1u << 8,
	HSM_P11_URI_MODULE_NAME = 1u << 9,
	HSM_P11_URI_PIN_SOURCE = 1u << 10,
};

enum hsm_p11_type {
	HSM_P11_TYPE_ANY = 0,
	HSM_P11_TYPE_PRIVATE,
	HSM_P11_TYPE_PUBLIC,
	HSM_P11_TYPE_CERT,
	HSM_P11_TYPE_SECRET,
	HSM_P11_TYPE_DATA,
};

/* A parsed PKCS#11 URI: values percent-decoded, strings NUL-terminated. */
struct hsm_p11_uri {
	uint32_t present;                        /* HSM_P11_URI_* */
	char token[HSM_P11_TOKEN_MAX + 1];
	char manufacturer[32 + 1];
	char serial[16 + 1];
	char model[16 + 1];
	char object[HSM_P11_LABEL_MAX + 1];
	uint8_t id[HSM_P11_ID_MAX];
	size_t id_len;
	enum hsm_p11_type type;
	unsigned long slot_id;
	char module_path[HSM_P11_PATH_MAX + 1];
	char module_name[64];
	char pin_source[HSM_P11_PATH_MAX + 1];   /* a file path (the "file:" scheme removed) */
};

/*
 * Parses a PKCS#11 URI of len bytes ("pkcs11:" path [ "?" query ]). Path attributes token,
 * manufacturer, serial, model, object, id, type, slot-id (and module-path, accepted in the
 * path too); query attributes pin-source (a "file:" URI or an absolute path), module-path,
 * module-name. Vendor attributes ("x-...") are skipped. No allocation; u is zeroed first.
 * Returns 0, or -EINVAL with *why (a static string) on: no "pkcs11:" scheme, an unknown or
 * repeated attribute, pin-value (a PIN never sits in a URI), a bad percent escape, a NUL
 * byte, a value too long for its field, an unknown type, a non-numeric slot-id.
 */
__attribute__((warn_unused_result))
int hsm_p11_uri_parse(const char *s, size_t len, struct hsm_p11_uri *u, const char **why);

/*
 * Reads the PIN for u: from the file named by pin-source when present (first line, its line
 * ending removed), else from the environment variable env_name (NULL: "SHAKEND_HSM_PIN").
 * Writes it NUL-terminated into pin; the caller wipes it (explicit_bzero) after use.
 * Returns its length, -ENOENT when there is no source (variable unset), -errno when the file
 * cannot be read, -ENOSPC when it does not fit cap (or is above HSM_P11_PIN_MAX).
 */
__attribute__((warn_unused_result))
long hsm_p11_pin_get(const struct hsm_p11_uri *u, const char *env_name, char *pin, size_t cap);

/* An open, logged-in read-write session on one token, for control-plane work. */
struct hsm_p11_tok;

/*
 * Opens the token named by uri (token=/serial=/model=/manufacturer=/slot-id=, first match;
 * no selector: the first slot holding a token), loading the module from module-path= or else
 * default_module, and logs in with the PIN from hsm_p11_pin_get(uri, pin_env). The PIN is
 * wiped from memory before this returns.
 * Returns 0 with *out set; -EINVAL (bad URI, no module path), -ELIBACC (module cannot be
 * loaded or has no C_GetFunctionList), -ENODEV (no matching token), -EACCES (PIN refused),
 * -ENOENT (no PIN source), -EIO (other PKCS#11 failures).
 */
__attribute__((warn_unused_result))
int hsm_p11_open(const char *uri, const char *default_module, const char *pin_env,
		 struct hsm_p11_tok **out);

/* Logs out, closes the session and releases the module (NULL accepted). */
void hsm_p11_close(struct hsm_p11_tok *t);

/* One key pair on a token. */
struct hsm_p11_key {
	char label[HSM_P11_LABEL_MAX + 1];
	uint8_t id[HSM_P11_ID_MAX];
	size_t id_len;
	bool has_public;   /* a public key object with the same CKA_ID exists */
};

/*
 * Generates an EC P-256 key pair on the token. The private key is CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_SIGN; the public key CKA_TOKEN, CKA_VERIFY; both
 * carry label and id. Returns 0, -EINVAL (empty or too long label or id), -EEXIST (a key with
 * that label or id exists), -EIO (the token refused).
 */
__attribute__((warn_unused_result))
int hsm_p11_keygen(struct hsm_p11_tok *t, const char *label, const uint8_t *id, size_t id_len);

/*
 * Lists the EC private keys of the token into keys (at most max).
 * Returns the number of keys found (may exceed max: only max are written), or -EIO.
 */
__attribute__((warn_unused_result))
long hsm_p11_key_list(struct hsm_p11_tok *t, struct hsm_p11_key *keys, unsigned max);

/*
 * The public key of the key pair selected by key_uri (object= and/or id=; other attributes
 * ignored) as an EVP_PKEY built from CKA_EC_POINT, owned by the caller (EVP_PKEY_free).
 * Returns 0, -EINVAL (no selector in key_uri), -ENOENT (no public key object matches),
 * -EEXIST (several match), -EBADMSG (CKA_EC_POINT is not a P-256 point), -EIO.
 */
__attribute__((warn_unused_result))
int hsm_p11_key_public(struct hsm_p11_tok *t, const char *key_uri, EVP_PKEY **out);

/*
 * The same public key as SubjectPublicKeyInfo, DER or PEM, into buf.
 * Returns the length written (PEM: no NUL counted, one written when room), -ENOSPC, or the
 * errors of hsm_p11_key_public.
 */
__attribute__((warn_unused_result))
long hsm_p11_key_spki(struct hsm_p11_tok *t, const char *key_uri, bool pem, uint8_t *buf,
		      size_t cap);

/*
 * Destroys every key object (private, public) selected by key_uri (object= and/or id=
 * required). Returns the number of objects destroyed (0 when none matched), -EINVAL (no
 * selector), -EIO.
 */
__attribute__((warn_unused_result))
long hsm_p11_key_destroy(struct hsm_p11_tok *t, const char *key_uri);

/*
 * Signs a 32-byte digest with the private key selected by key_uri (CKM_ECDSA: r||s), on the
 * control session: for tools and tests, not for traffic (use the engine, hsm.h).
 * Returns 0, -EINVAL, -ENOENT, -EEXIST, -EIO.
 */
__attribute__((warn_unused_result))
int hsm_p11_sign_once(struct hsm_p11_tok *t, const char *key_uri, const uint8_t digest[32],
		      uint8_t sig[64]);

#endif
