/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Telephone-number canonicalization (RFC 8224 §8.3) for PASSporT orig/dest claims.
 * Pure string functions over (ptr,len): no allocation, no locale, no DPDK or OpenSSL types,
 * so that the SIP parser, the verification procedure and the dataplane all share them.
 */
#ifndef SHAKEND_CRYPTO_TN_H
#define SHAKEND_CRYPTO_TN_H

#include <stddef.h>

#define TN_MAX 15 /* E.164: at most 15 digits */

/*
 * Canonicalizes a telephone number: an optional leading '+', then digits and the visual
 * separators of RFC 3966 ('-', '.', '(', ')') and spaces, which are dropped.
 * Writes the digits, NUL-terminated, into out.
 * Returns the number of digits (1..TN_MAX), or -EINVAL when the string is empty, holds any
 * other character (a '+' anywhere but first included), or has more than TN_MAX digits.
 */
__attribute__((warn_unused_result))
int tn_canon(const char *s, size_t len, char out[TN_MAX + 1]);

/*
 * The TN of a URI, canonicalized: "tel:NUMBER[;params]"; "sip:" or "sips:" whose user part is
 * a telephone number, either marked by the ";user=phone" URI parameter or written as a global
 * number ("+" then digits and separators). Angle brackets are not accepted (pass the addr-spec
 * of a name-addr). Scheme names are case-insensitive.
 * Returns the number of digits, or -EINVAL when the URI carries no valid TN.
 */
__attribute__((warn_unused_result))
int tn_from_uri(const char *uri, size_t len, char out[TN_MAX + 1]);

#endif
