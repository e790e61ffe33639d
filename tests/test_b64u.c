/* SPDX-License-Identifier: BSD-3-Clause */
/* base64url: RFC 4648 §10 test strings (URL alphabet, no padding), strictness, round trips. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crypto/b64u.h"

/* RFC 4648 §10, padding removed. */
static const struct {
	const char *plain;
	const char *enc;
} rfc4648[] = {
    {"", ""},		{"f", "Zg"},	      {"fo", "Zm8"},	      {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

/* A plain table-driven reference encoder, only to cross-check the constant-time one. */
static size_t ref_encode(char *dst, const uint8_t *src, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;

	for (i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)src[i] << 16;
		size_t left = n - i;

		if (left > 1)
			w |= (uint32_t)src[i + 1] << 8;
		if (left > 2)
			w |= src[i + 2];
		dst[o++] = a[w >> 18];
		dst[o++] = a[(w >> 12) & 63];
		if (left > 1)
			dst[o++] = a[(w >> 6) & 63];
		if (left > 2)
			dst[o++] = a[w & 63];
	}
	return o;
}

Test(b64u, rfc4648_strings_encode)
{
	for (size_t k = 0; k < sizeof rfc4648 / sizeof rfc4648[0]; k++) {
		char out[16];
		size_t n = strlen(rfc4648[k].plain);
		long r = b64u_encode(out, sizeof out, (const uint8_t *)rfc4648[k].plain, n);

		cr_assert_eq(r, (long)strlen(rfc4648[k].enc), "length for \"%s\"",
			     rfc4648[k].plain);
		cr_assert_eq(b64u_encoded_len(n), (size_t)r);
		cr_assert(memcmp(out, rfc4648[k].enc, (size_t)r) == 0, "\"%s\"", rfc4648[k].plain);
	}
}

Test(b64u, rfc4648_strings_decode)
{
	for (size_t k = 0; k < sizeof rfc4648 / sizeof rfc4648[0]; k++) {
		uint8_t out[16];
		size_t n = strlen(rfc4648[k].enc);
		long r = b64u_decode(out, sizeof out, rfc4648[k].enc, n);

		cr_assert_eq(r, (long)strlen(rfc4648[k].plain), "\"%s\"", rfc4648[k].enc);
		cr_assert_eq(b64u_decoded_max(n), (size_t)r);
		cr_assert(memcmp(out, rfc4648[k].plain, (size_t)r) == 0);
	}
}

Test(b64u, url_alphabet_not_standard)
{
	const uint8_t in[] = {0xfb, 0xff, 0xbf};
	char out[8];
	uint8_t back[8];

	cr_assert_eq(b64u_encode(out, sizeof out, in, 2), 3);
	cr_assert(memcmp(out, "-_8", 3) == 0);
	cr_assert_eq(b64u_encode(out, sizeof out, in, 3), 4);
	cr_assert(memcmp(out, "-_-_", 4) == 0);
	cr_assert_eq(b64u_decode(back, sizeof back, "-_-_", 4), 3);
	cr_assert(memcmp(back, in, 3) == 0);
	cr_assert_eq(b64u_decode(back, sizeof back, "+/+/", 4), -EINVAL);
}

Test(b64u, every_symbol_both_ways)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (unsigned v = 0; v < 64; v++) {
		/* v in the top 6 bits of a 3-byte group: "?AAA" */
		uint8_t in[3] = {(uint8_t)(v << 2), 0, 0}, out[3];
		char enc[4], s[4] = {a[v], 'A', 'A', 'A'};

		cr_assert_eq(b64u_encode(enc, sizeof enc, in, 3), 4);
		cr_assert_eq(enc[0], a[v], "value %u", v);
		cr_assert_eq(b64u_decode(out, sizeof out, s, 4), 3);
		cr_assert_eq(out[0], v << 2, "symbol %c", a[v]);
	}
}

Test(b64u, every_byte_outside_alphabet_rejected)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (unsigned c = 0; c < 256; c++) {
		char s[4] = {'A', 'A', 'A', (char)c};
		uint8_t out[3];
		long r = b64u_decode(out, sizeof out, s, 4);

		if (c != 0 && strchr(a, (int)c))
			cr_assert_eq(r, 3, "byte 0x%02x", c);
		else
			cr_assert_eq(r, -EINVAL, "byte 0x%02x accepted", c);
	}
}

Test(b64u, random_round_trips_match_reference)
{
	uint8_t in[100], out[100];
	char enc[140], ref[140];

	srand(7);
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = (size_t)rand() % sizeof in;

		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)rand();
		long e = b64u_encode(enc, sizeof enc, in, n);

		cr_assert_eq(e, (long)b64u_encoded_len(n));
		cr_assert_eq(ref_encode(ref, in, n), (size_t)e);
		cr_assert(memcmp(enc, ref, (size_t)e) == 0, "n=%zu", n);
		cr_assert_eq(b64u_decode(out, sizeof out, enc, (size_t)e), (long)n);
		cr_assert(memcmp(out, in, n) == 0);
	}
}

Test(b64u, padding_rejected)
{
	uint8_t out[8];

	cr_assert_eq(b64u_decode(out, sizeof out, "Zg==", 4), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm8=", 4), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm9vYg==", 8), -EINVAL);
}

Test(b64u, whitespace_rejected)
{
	uint8_t out[8];

	cr_assert_eq(b64u_decode(out, sizeof out, "Zm9 ", 4), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm\n9v", 4), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm9v\r\nYg", 8), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "\tZm8", 4), -EINVAL);
}

Test(b64u, length_4k_plus_1_rejected)
{
	uint8_t out[8];

	cr_assert_eq(b64u_decode(out, sizeof out, "Z", 1), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm9vY", 5), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "AAAAAAAAA", 9), -EINVAL);
}

Test(b64u, non_canonical_trailing_bits_rejected)
{
	uint8_t out[8];

	/* "f" is Zg: Zh..Zv set one of the 4 dropped bits */
	cr_assert_eq(b64u_decode(out, sizeof out, "Zh", 2), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zv", 2), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zw", 2), 1);
	/* "fo" is Zm8: Zm9 sets one of the 2 dropped bits */
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm9", 3), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm-", 3), -EINVAL);
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm8", 3), 2);
	cr_assert_eq(b64u_decode(out, sizeof out, "AAAAAB", 6), -EINVAL);
}

Test(b64u, no_space)
{
	char enc[8];
	uint8_t out[8];

	cr_assert_eq(b64u_encode(enc, 3, (const uint8_t *)"foo", 3), -ENOSPC);
	cr_assert_eq(b64u_encode(enc, 4, (const uint8_t *)"foo", 3), 4);
	cr_assert_eq(b64u_encode(enc, 0, NULL, 0), 0);
	cr_assert_eq(b64u_decode(out, 2, "Zm9v", 4), -ENOSPC);
	cr_assert_eq(b64u_decode(out, 3, "Zm9v", 4), 3);
	cr_assert_eq(b64u_decode(out, 1, "Zm8", 3), -ENOSPC);
}

Test(b64u, output_wiped_on_error)
{
	uint8_t out[6];

	memset(out, 0x55, sizeof out);
	/* the first group decodes to "foo" before the bad character is met */
	cr_assert_eq(b64u_decode(out, sizeof out, "Zm9v!m9v", 8), -EINVAL);
	for (size_t i = 0; i < sizeof out; i++)
		cr_assert_eq(out[i], 0, "byte %zu left as 0x%02x", i, out[i]);
}
