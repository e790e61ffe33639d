/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * base64url without padding.
 *
 * b64u_encode / b64u_decode are constant-time in the data: every character is mapped to its
 * 6-bit value (and back) with comparisons turned into masks, never with a table indexed by the
 * data, and errors are accumulated and looked at only once the whole input has been read.
 * Only the lengths (public) steer branches.
 *
 * b64u_encode_public / b64u_decode_public (end of file) use lookup tables and stop at the
 * first error: about five times fewer instructions, for public data only (PASSporTs).
 */
#include "crypto/b64u.h"

#include <errno.h>
#include <string.h>

/* All ones when a > b, else 0; a and b below 2^31. */
static inline uint32_t ct_gt(uint32_t a, uint32_t b)
{
	return 0u - ((b - a) >> 31);
}

/* All ones when lo <= c <= hi, else 0. */
static inline uint32_t ct_in(uint32_t c, uint32_t lo, uint32_t hi)
{
	return ~ct_gt(lo, c) & ~ct_gt(c, hi);
}

/*
 * 6-bit value -> character. Starting from 'A' + v, each range boundary the value has passed
 * adds the difference between its range's offset and the previous one:
 * 0..25 'A'..'Z' (+65), 26..51 'a'..'z' (+71), 52..61 '0'..'9' (-4), 62 '-' (-17), 63 '_' (+32).
 */
static inline char enc6(uint32_t v)
{
	uint32_t c = v + 65;

	c += ct_gt(v, 25) & 6;
	c -= ct_gt(v, 51) & 75;
	c -= ct_gt(v, 61) & 13;
	c += ct_gt(v, 62) & 49;
	return (char)c;
}

/* Character -> 6-bit value + 1, or 0 for a character outside the alphabet. */
static inline uint32_t dec6(uint32_t c)
{
	uint32_t r = 0;

	r |= ct_in(c, 'A', 'Z') & (c - 'A' + 1);
	r |= ct_in(c, 'a', 'z') & (c - 'a' + 27);
	r |= ct_in(c, '0', '9') & (c - '0' + 53);
	r |= ct_in(c, '-', '-') & 63;
	r |= ct_in(c, '_', '_') & 64;
	return r;
}

long b64u_encode(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	size_t need = b64u_encoded_len(n);
	size_t i, o = 0;

	if (cap < need)
		return -ENOSPC;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		dst[o++] = enc6(w >> 18);
		dst[o++] = enc6((w >> 12) & 63);
		dst[o++] = enc6((w >> 6) & 63);
		dst[o++] = enc6(w & 63);
	}
	if (n - i == 1) {
		uint32_t w = src[i];

		dst[o++] = enc6(w >> 2);
		dst[o++] = enc6((w << 4) & 63);
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)src[i] << 8 | src[i + 1];

		dst[o++] = enc6(w >> 10);
		dst[o++] = enc6((w >> 4) & 63);
		dst[o++] = enc6((w << 2) & 63);
	}
	return (long)o;
}

long b64u_decode(uint8_t *dst, size_t cap, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t need, i, o = 0;
	/* any bit set: a character outside the alphabet, or non-zero trailing bits */
	uint32_t bad = 0;

	if (n % 4 == 1)
		return -EINVAL;
	need = b64u_decoded_max(n);
	if (cap < need)
		return -ENOSPC;
	for (i = 0; i + 4 <= n; i += 4) {
		uint32_t a = dec6(s[i]), b = dec6(s[i + 1]), c = dec6(s[i + 2]), d = dec6(s[i + 3]);
		uint32_t w;

		bad |= ~(0u - a) >> 31 | ~(0u - b) >> 31 | ~(0u - c) >> 31 | ~(0u - d) >> 31;
		w = ((a - 1) & 63) << 18 | ((b - 1) & 63) << 12 | ((c - 1) & 63) << 6 |
		    ((d - 1) & 63);
		dst[o++] = (uint8_t)(w >> 16);
		dst[o++] = (uint8_t)(w >> 8);
		dst[o++] = (uint8_t)w;
	}
	if (n - i == 2) {
		uint32_t a = dec6(s[i]), b = dec6(s[i + 1]);

		bad |= ~(0u - a) >> 31 | ~(0u - b) >> 31;
		bad |= (b - 1) & 15;
		dst[o++] = (uint8_t)(((a - 1) & 63) << 2 | ((b - 1) & 63) >> 4);
	} else if (n - i == 3) {
		uint32_t a = dec6(s[i]), b = dec6(s[i + 1]), c = dec6(s[i + 2]);

		bad |= ~(0u - a) >> 31 | ~(0u - b) >> 31 | ~(0u - c) >> 31;
		bad |= (c - 1) & 3;
		dst[o++] = (uint8_t)(((a - 1) & 63) << 2 | ((b - 1) & 63) >> 4);
		dst[o++] = (uint8_t)(((b - 1) & 15) << 4 | ((c - 1) & 63) >> 2);
	}
	if (bad) {
		explicit_bzero(dst, o);
		return -EINVAL;
	}
	return (long)o;
}

/* ---- public data: table-driven ------------------------------------------------------- */

static const char enc_tab[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Character -> 6-bit value, or 0x80 for a character outside the alphabet. */
#define X 0x80
/* clang-format off */
static const uint8_t dec_tab[256] = {
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x00 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  /* 0x20 '-' */
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  /* 0x30 '0'..'9' */
	X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 'A'.. */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  63, /* 0x50 ..'Z' '_' */
	X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 'a'.. */
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70 ..'z' */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x80.. */
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
	X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* ..0xff */
};
/* clang-format on */
#undef X

long b64u_encode_public(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	size_t need = b64u_encoded_len(n);
	size_t i, o = 0;

	if (cap < need)
		return -ENOSPC;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		dst[o] = enc_tab[w >> 18];
		dst[o + 1] = enc_tab[(w >> 12) & 63];
		dst[o + 2] = enc_tab[(w >> 6) & 63];
		dst[o + 3] = enc_tab[w & 63];
		o += 4;
	}
	if (n - i == 1) {
		uint32_t w = src[i];

		dst[o++] = enc_tab[w >> 2];
		dst[o++] = enc_tab[(w << 4) & 63];
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)src[i] << 8 | src[i + 1];

		dst[o++] = enc_tab[w >> 10];
		dst[o++] = enc_tab[(w >> 4) & 63];
		dst[o++] = enc_tab[(w << 2) & 63];
	}
	return (long)o;
}

long b64u_decode_public(uint8_t *dst, size_t cap, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t need, i, o = 0;
	uint32_t a, b, c, d;

	if (n % 4 == 1)
		return -EINVAL;
	need = b64u_decoded_max(n);
	if (cap < need)
		return -ENOSPC;
	for (i = 0; i + 4 <= n; i += 4) {
		a = dec_tab[s[i]];
		b = dec_tab[s[i + 1]];
		c = dec_tab[s[i + 2]];
		d = dec_tab[s[i + 3]];
		if ((a | b | c | d) & 0x80)
			goto bad;
		dst[o] = (uint8_t)(a << 2 | b >> 4);
		dst[o + 1] = (uint8_t)(b << 4 | c >> 2);
		dst[o + 2] = (uint8_t)(c << 6 | d);
		o += 3;
	}
	if (n - i == 2) {
		a = dec_tab[s[i]];
		b = dec_tab[s[i + 1]];
		if ((a | b) & 0x80 || (b & 15))
			goto bad; /* a character outside the alphabet, non-zero trailing bits */
		dst[o++] = (uint8_t)(a << 2 | b >> 4);
	} else if (n - i == 3) {
		a = dec_tab[s[i]];
		b = dec_tab[s[i + 1]];
		c = dec_tab[s[i + 2]];
		if ((a | b | c) & 0x80 || (c & 3))
			goto bad;
		dst[o++] = (uint8_t)(a << 2 | b >> 4);
		dst[o++] = (uint8_t)(b << 4 | c >> 2);
	}
	return (long)o;
bad:
	memset(dst, 0, need);
	return -EINVAL;
}
