/* SPDX-License-Identifier: BSD-3-Clause */
/* base64url: RFC 4648 §10 test strings (URL alphabet, no padding), strictness, round trips. */
#include <errno.h>
#include <stdbool.h>
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

/* ---- the table-driven functions for public data: same contract as the constant-time ones -- */

Test(b64u, public_rfc4648_strings_both_ways)
{
	for (size_t k = 0; k < sizeof rfc4648 / sizeof rfc4648[0]; k++) {
		const char *p = rfc4648[k].plain, *e = rfc4648[k].enc;
		char enc[16];
		uint8_t dec[16];
		long r = b64u_encode_public(enc, sizeof enc, (const uint8_t *)p, strlen(p));

		cr_assert_eq(r, (long)strlen(e), "\"%s\"", p);
		cr_assert(memcmp(enc, e, (size_t)r) == 0, "\"%s\"", p);
		r = b64u_decode_public(dec, sizeof dec, e, strlen(e));
		cr_assert_eq(r, (long)strlen(p), "\"%s\"", e);
		cr_assert(memcmp(dec, p, (size_t)r) == 0, "\"%s\"", e);
	}
}

Test(b64u, public_encode_equals_constant_time_on_random_inputs)
{
	uint8_t in[200];
	char ct[280], pub[280], ref[280];

	srand(11);
	for (int iter = 0; iter < 5000; iter++) {
		size_t n = (size_t)rand() % sizeof in;

		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)rand();
		long a = b64u_encode(ct, sizeof ct, in, n);
		long b = b64u_encode_public(pub, sizeof pub, in, n);

		cr_assert_eq(a, (long)b64u_encoded_len(n));
		cr_assert_eq(b, a, "n=%zu", n);
		cr_assert(memcmp(ct, pub, (size_t)a) == 0, "n=%zu", n);
		cr_assert_eq(ref_encode(ref, in, n), (size_t)b);
		cr_assert(memcmp(ref, pub, (size_t)b) == 0, "n=%zu", n);
	}
}

/* Both decoders on the same input and capacity: the same return and the same bytes in dst. */
static long decode_both(const char *s, size_t n, size_t cap)
{
	uint8_t a[64], b[64];

	cr_assert_leq(cap, sizeof a);
	memset(a, 0xa5, sizeof a);
	memset(b, 0xa5, sizeof b);
	long ra = b64u_decode(a, cap, s, n);
	long rb = b64u_decode_public(b, cap, s, n);

	cr_assert_eq(rb, ra, "\"%.*s\" cap %zu: public %ld, constant-time %ld", (int)n, s, cap, rb,
		     ra);
	cr_assert(memcmp(a, b, sizeof a) == 0, "\"%.*s\": dst differs", (int)n, s);
	return rb;
}

Test(b64u, public_decode_equals_constant_time_on_random_strings)
{
	/* mostly alphabet characters, sometimes one of the characters a decoder must refuse */
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	static const char bad[] = "=+/ .\n\t\"\\\x7f\x80\xff";
	char s[60];
	unsigned ok = 0, rejected = 0;

	srand(13);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (size_t)rand() % sizeof s;

		for (size_t i = 0; i < n; i++) {
			if (rand() % 64 == 0)
				s[i] = bad[(size_t)rand() % (sizeof bad - 1)];
			else if (rand() % 512 == 0)
				s[i] = 0;
			else
				s[i] = alpha[rand() % 64];
		}
		/* a capacity around the need, so that -ENOSPC is exercised too */
		size_t need = b64u_decoded_max(n), cap = need + 1;

		if (need > 0 && rand() % 8 == 0)
			cap = need - 1;
		if (decode_both(s, n, cap) >= 0)
			ok++;
		else
			rejected++;
	}
	/* random trailing characters are non-canonical 3 times in 4: both outcomes are common */
	cr_assert_gt(ok, 1000);
	cr_assert_gt(rejected, 1000);
}

Test(b64u, public_decode_rejects_every_byte_outside_alphabet_anywhere)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (unsigned c = 0; c < 256; c++) {
		bool in_alphabet = c != 0 && strchr(a, (int)c);

		for (size_t pos = 0; pos < 7; pos++) {
			char s[7] = {'A', 'A', 'A', 'A', 'A', 'A', 'A'};
			uint8_t out[8];

			s[pos] = (char)c;
			if (in_alphabet)
				continue;
			cr_assert_eq(b64u_decode_public(out, sizeof out, s, 7), -EINVAL,
				     "byte 0x%02x at %zu accepted", c, pos);
			cr_assert_eq(decode_both(s, 7, 8), -EINVAL);
			cr_assert_eq(decode_both(s, 6, 8), pos < 6 ? -EINVAL : 4);
		}
	}
}

Test(b64u, public_decode_same_strictness)
{
	static const struct {
		const char *s;
		long want;
	} cases[] = {
	    {"Zg==", -EINVAL},	 {"Zm8=", -EINVAL},  {"Zm9vYg==", -EINVAL},
	    {"Zm9 ", -EINVAL},	 {"Zm\n9", -EINVAL}, {"\tZm8", -EINVAL},
	    {"Z", -EINVAL},	 {"Zm9vY", -EINVAL}, {"AAAAAAAAA", -EINVAL},
	    {"Zh", -EINVAL},	 {"Zv", -EINVAL},    {"Zw", 1},
	    {"Zm9", -EINVAL},	 {"Zm-", -EINVAL},   {"Zm8", 2},
	    {"AAAAAB", -EINVAL}, {"Zm9v", 3},	     {"", 0},
	    {"__8", 2},		 {"-_-_", 3},
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
		cr_assert_eq(decode_both(cases[k].s, strlen(cases[k].s), 8), cases[k].want,
			     "\"%s\"", cases[k].s);
}

Test(b64u, public_no_space_and_wipe)
{
	char enc[8];
	uint8_t out[6];

	cr_assert_eq(b64u_encode_public(enc, 3, (const uint8_t *)"foo", 3), -ENOSPC);
	cr_assert_eq(b64u_encode_public(enc, 4, (const uint8_t *)"foo", 3), 4);
	cr_assert_eq(b64u_encode_public(enc, 0, NULL, 0), 0);
	cr_assert_eq(b64u_decode_public(out, 2, "Zm9v", 4), -ENOSPC);
	cr_assert_eq(b64u_decode_public(out, 3, "Zm9v", 4), 3);
	cr_assert_eq(b64u_decode_public(out, 1, "Zm8", 3), -ENOSPC);
	/* the first group decodes before the bad character is met: dst is zeroed all the same */
	memset(out, 0x55, sizeof out);
	cr_assert_eq(b64u_decode_public(out, sizeof out, "Zm9vY!", 6), -EINVAL);
	cr_assert_eq(out[0], 0);
	cr_assert_eq(out[3], 0);
	cr_assert_eq(out[4], 0x55, "beyond b64u_decoded_max(6) = 4: untouched");
}
