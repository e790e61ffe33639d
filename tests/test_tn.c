/* SPDX-License-Identifier: BSD-3-Clause */
/* TN canonicalization (RFC 8224 §8.3): the cases of tests/vectors/README.md and edges. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crypto/tn.h"

static int canon(const char *s, char out[TN_MAX + 1])
{
	return tn_canon(s, strlen(s), out);
}

static int from_uri(const char *s, char out[TN_MAX + 1])
{
	return tn_from_uri(s, strlen(s), out);
}

Test(tn, canon_vector_separators)
{
	char out[TN_MAX + 1];
	cr_assert_eq(canon("+1 (215) 555-1212", out), 11);
	cr_assert_str_eq(out, "12155551212");
}

Test(tn, canon_plain_and_dots)
{
	char out[TN_MAX + 1];
	cr_assert_eq(canon("12155551212", out), 11);
	cr_assert_str_eq(out, "12155551212");
	cr_assert_eq(canon("1.215.555.1212", out), 11);
	cr_assert_str_eq(out, "12155551212");
	cr_assert_eq(canon("5", out), 1);
	cr_assert_str_eq(out, "5");
}

Test(tn, canon_fifteen_digits_ok_sixteen_rejected)
{
	char out[TN_MAX + 1];
	cr_assert_eq(canon("+123456789012345", out), 15);
	cr_assert_str_eq(out, "123456789012345");
	cr_assert_eq(canon("1234567890123456", out), -EINVAL);
	cr_assert_eq(canon("+1-234-567-890-123-456", out), -EINVAL);
}

Test(tn, canon_rejects_bad_characters)
{
	char out[TN_MAX + 1];
	cr_assert_eq(canon("12+34", out), -EINVAL);
	cr_assert_eq(canon("++1234", out), -EINVAL);
	cr_assert_eq(canon("1234a", out), -EINVAL);
	cr_assert_eq(canon("1234;x", out), -EINVAL);
	cr_assert_eq(canon("12\t34", out), -EINVAL);
	cr_assert_eq(canon("", out), -EINVAL);
	cr_assert_eq(canon("+", out), -EINVAL);
	cr_assert_eq(canon(" - ", out), -EINVAL);
	cr_assert_eq(tn_canon("12\0" "34", 5, out), -EINVAL);
}

Test(tn, canon_respects_length_not_nul)
{
	char out[TN_MAX + 1];
	cr_assert_eq(tn_canon("1215xyz", 4, out), 4);
	cr_assert_str_eq(out, "1215");
}

Test(tn, uri_tel_with_params_vector)
{
	char out[TN_MAX + 1];
	cr_assert_eq(from_uri("tel:+1-215-555-1212;verstat=TN-Validation-Passed", out), 11);
	cr_assert_str_eq(out, "12155551212");
	cr_assert_eq(from_uri("TEL:+12155551212", out), 11);
	cr_assert_str_eq(out, "12155551212");
}

Test(tn, uri_sip_user_phone_vector)
{
	char out[TN_MAX + 1];
	cr_assert_eq(from_uri("sip:+12155551212@example.com;user=phone", out), 11);
	cr_assert_str_eq(out, "12155551212");
	/* user=phone marks a local number too; parameter names and values are case-insensitive */
	cr_assert_eq(from_uri("sips:2155551212@example.com;transport=tls;USER=Phone", out), 10);
	cr_assert_str_eq(out, "2155551212");
}

Test(tn, uri_sip_global_number_without_user_phone)
{
	char out[TN_MAX + 1];
	cr_assert_eq(from_uri("sip:+1-215-555-1212@198.51.100.7:5060", out), 11);
	cr_assert_str_eq(out, "12155551212");
	/* telephone-subscriber parameters in the user part end the number */
	cr_assert_eq(from_uri("sip:+12155551212;npdi@example.com", out), 11);
	cr_assert_str_eq(out, "12155551212");
}

Test(tn, uri_rejects_non_tn)
{
	char out[TN_MAX + 1];
	cr_assert_eq(from_uri("sip:alice@example.com", out), -EINVAL);
	/* neither + nor user=phone */
	cr_assert_eq(from_uri("sip:2155551212@example.com", out), -EINVAL);
	cr_assert_eq(from_uri("sip:2155551212@example.com?user=phone", out), -EINVAL);
	cr_assert_eq(from_uri("sip:alice@example.com;user=phone", out), -EINVAL);
	cr_assert_eq(from_uri("<sip:+12155551212@example.com>", out), -EINVAL);
	cr_assert_eq(from_uri("http:+12155551212", out), -EINVAL);
	cr_assert_eq(from_uri("tel:", out), -EINVAL);
	cr_assert_eq(from_uri("tel:12+34", out), -EINVAL);
	cr_assert_eq(from_uri("tel:+12345678901234567", out), -EINVAL);
	cr_assert_eq(from_uri("sip:+12155551212", out), -EINVAL);
	cr_assert_eq(from_uri("sip:+12155551212@", out), -EINVAL);
	cr_assert_eq(from_uri("sip:@example.com;user=phone", out), -EINVAL);
	cr_assert_eq(from_uri("sip", out), -EINVAL);
	cr_assert_eq(from_uri("", out), -EINVAL);
}

Test(tn, uri_respects_length)
{
	char out[TN_MAX + 1];
	const char *u = "tel:+12155551212XXXX";
	cr_assert_eq(tn_from_uri(u, 16, out), 11);
	cr_assert_str_eq(out, "12155551212");
	cr_assert_eq(tn_from_uri(u, 3, out), -EINVAL);
}
