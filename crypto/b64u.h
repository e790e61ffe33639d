/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * base64url without padding (RFC 7515 §2, RFC 4648 §5). No allocation: callers own every buffer.
 *
 * Two implementations with the same contract and the same output:
 *  - b64u_encode / b64u_decode are constant-time in the data (no table indexed by a secret,
 *    no branch on it). Use them for secrets: keys, tokens that grant access, nonces.
 *  - b64u_encode_public / b64u_decode_public are table-driven and several times faster, but
 *    their timing and memory accesses depend on the data. Use them only for public data, such
 *    as the header, claims and signature of a PASSporT (what SIP carries in clear).
 */
#ifndef SHAKEND_CRYPTO_B64U_H
#define SHAKEND_CRYPTO_B64U_H

#include <stddef.h>
#include <stdint.h>

/* Length of the unpadded encoding of n bytes. */
static inline size_t b64u_encoded_len(size_t n)
{
	return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

/* Upper bound of the decoded length of n characters. */
static inline size_t b64u_decoded_max(size_t n)
{
	return (n / 4) * 3 + ((n % 4) ? (n % 4) - 1 : 0);
}

/*
 * Encodes n bytes of src into dst (no NUL written).
 * Returns the number of characters written, or -ENOSPC when cap < b64u_encoded_len(n).
 */
__attribute__((warn_unused_result))
long b64u_encode(char *dst, size_t cap, const uint8_t *src, size_t n);

/*
 * Strict decoding of n characters of src into dst.
 * Rejects ('=') padding, whitespace, characters outside [A-Za-z0-9_-], a length of 4k+1
 * and non-zero trailing bits (non-canonical encodings).
 * Returns the number of bytes written, -EINVAL on bad input, -ENOSPC when cap is too small.
 */
__attribute__((warn_unused_result))
long b64u_decode(uint8_t *dst, size_t cap, const char *src, size_t n);

/*
 * As b64u_encode, for public data only (not constant-time): same output, same returns.
 */
__attribute__((warn_unused_result))
long b64u_encode_public(char *dst, size_t cap, const uint8_t *src, size_t n);

/*
 * As b64u_decode, for public data only (not constant-time): the same strictness (the same
 * inputs rejected with the same error), the same output and returns. On -EINVAL the first
 * b64u_decoded_max(n) bytes of dst are zeroed, as b64u_decode leaves them.
 */
__attribute__((warn_unused_result))
long b64u_decode_public(uint8_t *dst, size_t cap, const char *src, size_t n);

#endif
