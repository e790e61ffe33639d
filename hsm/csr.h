/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Certificate signing requests (PKCS#10) signed by a key that never leaves its PKCS#11 token:
 * the SHAKEN SP certificate's CSR (ATIS-1000080), with the TNAuthList extension (RFC 8226).
 *
 * The signature is made through OpenSSL's pkcs11-provider (Debian: pkcs11-provider, from
 * bookworm-backports on Debian 12), loaded into an OSSL_LIB_CTX of this call's own (the
 * process's default library context and OPENSSL_CONF are not touched). The PIN comes from the
 * key URI's pin-source= or the PIN variable, as for hsm_p11_open(), and is handed to the
 * provider through a passphrase callback: it is never written to disk or to the provider's
 * configuration, and the provider never prompts on a terminal.
 *
 * Control plane only: these calls block on the token, load modules and allocate.
 */
#ifndef SHAKEND_HSM_CSR_H
#define SHAKEND_HSM_CSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HSM_CSR_SUBJECT_MAX 512   /* bytes of a "/K=V/K=V" subject */
#define HSM_CSR_SPC_MAX 32        /* bytes of a ServiceProviderCode */
#define HSM_CSR_TNAUTH_MAX 1024   /* bytes of a TNAuthList DER value we accept */

struct hsm_csr_cfg {
	const char *default_module;   /* module for URIs without module-path= (NULL: none) */
	const char *pin_env;          /* PIN variable for URIs without pin-source=;
				       * NULL: "SHAKEND_HSM_PIN" */
	const char *provider_path;    /* pkcs11-provider module; NULL: "pkcs11.so" in
				       * OpenSSL's modules directory */
	bool direct;                  /* sign without the provider: the request's TBS hashed
				       * here, the digest signed by C_Sign (CKM_ECDSA) through
				       * our own PKCS#11 code; for hosts without pkcs11-provider
				       * and for ASan builds (the provider dlopens the module
				       * with RTLD_DEEPBIND, which ASan refuses) */
};

/*
 * Writes the DER TNAuthList (a SEQUENCE holding one EXPLICIT [0] ServiceProviderCode) for spc
 * into der. spc: 1..HSM_CSR_SPC_MAX bytes 0x20..0x7e.
 * Returns the length written, -EINVAL (bad spc), -ENOSPC (cap too small).
 */
__attribute__((warn_unused_result))
long hsm_csr_tnauth_spc(const char *spc, uint8_t *der, size_t cap);

/*
 * Builds a CSR for the EC P-256 key pair selected by key_uri (pkcs11: URI: token=/serial=/...
 * select the token, object= and/or id= the key; module-path= and pin-source= honoured):
 * version 1, subject (OpenSSL's one-line form "/O=Example SP/CN=SHAKEN 1234": '/'-separated
 * KEY=VALUE items, short or long attribute names; at least one), the public key read from the
 * token (CKA_EC_POINT), a non-critical TNAuthList extension holding tnauth (DER, as
 * hsm_csr_tnauth_spc() writes; NULL/0: none), signed ecdsa-with-SHA256 by the token's private
 * key through pkcs11-provider (or, cfg->direct, through our own C_Sign). The signature is
 * verified with the token's public key before returning (so the CSR's key is the token's
 * key). Output in PEM or DER into out.
 * Returns the length written (PEM: no NUL counted; one written when room); -EINVAL (bad URI,
 * no object=/id=, bad subject, tnauth too long), -ENOENT (no such key, or no PIN source),
 * -EACCES (PIN refused), -ENODEV (no such token), -ELIBACC (the PKCS#11 module or the
 * pkcs11-provider cannot be loaded), -ENOSPC (out too small), -EIO (any other failure,
 * including a signature that does not verify).
 */
__attribute__((warn_unused_result))
long hsm_csr_create(const char *key_uri, const struct hsm_csr_cfg *cfg, const char *subject,
		    const uint8_t *tnauth, size_t tnauth_len, bool pem, uint8_t *out, size_t cap);

#endif
