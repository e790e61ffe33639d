/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Telephone-number canonicalization (RFC 8224 §8.3): keep the digits, drop the RFC 3966 visual
 * separators, reject everything else. Bounded loops over (ptr,len); no allocation.
 */
#include "crypto/tn.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool is_visual_sep(char c)
{
	return c == '-' || c == '.' || c == '(' || c == ')' || c == ' ';
}

int tn_canon(const char *s, size_t len, char out[TN_MAX + 1])
{
	size_t n = 0;

	out[0] = '\0';
	if (!s || len == 0)
		return -EINVAL;
	size_t i = 0;
	if (s[0] == '+')
		i = 1;
	for (; i < len; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9') {
			if (n == TN_MAX) {
				out[0] = '\0';
				return -EINVAL;
			}
			out[n++] = c;
		} else if (!is_visual_sep(c)) {
			out[0] = '\0';
			return -EINVAL;
		}
	}
	if (n == 0)
		return -EINVAL;
	out[n] = '\0';
	return (int)n;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive prefix test of a literal (lower case) against s[0..len). */
static bool has_prefix_ci(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != lit[i])
			return false;
	return true;
}

static bool eq_ci(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && has_prefix_ci(s, len, lit);
}

/* Finds c in s[0..len); returns its index or len. */
static size_t find(const char *s, size_t len, char c)
{
	const char *q = memchr(s, c, len);
	return q ? (size_t)(q - s) : len;
}

/* True when the URI parameters (";a=b;c" up to '?' or the end) hold user=phone. */
static bool params_user_phone(const char *s, size_t len)
{
	len = find(s, len, '?');
	size_t i = 0;
	while (i < len) {
		if (s[i] != ';') {
			i++;
			continue;
		}
		i++;
		size_t end = i + find(s + i, len - i, ';');
		size_t eq = i + find(s + i, end - i, '=');
		if (eq < end && eq_ci(s + i, eq - i, "user") &&
		    eq_ci(s + eq + 1, end - eq - 1, "phone"))
			return true;
		i = end;
	}
	return false;
}

int tn_from_uri(const char *uri, size_t len, char out[TN_MAX + 1])
{
	out[0] = '\0';
	if (!uri)
		return -EINVAL;
	if (has_prefix_ci(uri, len, "tel:")) {
		const char *num = uri + 4;
		size_t n = len - 4;
		return tn_canon(num, find(num, n, ';'), out);
	}
	size_t skip;
	if (has_prefix_ci(uri, len, "sip:"))
		skip = 4;
	else if (has_prefix_ci(uri, len, "sips:"))
		skip = 5;
	else
		return -EINVAL;
	const char *user = uri + skip;
	size_t rest = len - skip;
	size_t at = find(user, rest, '@');
	if (at == rest || at == 0)
		return -EINVAL;
	/* the user part may carry telephone-subscriber parameters: the number ends at ';' */
	size_t num_len = find(user, at, ';');
	const char *host = user + at + 1;
	size_t host_len = rest - at - 1;
	if (host_len == 0)
		return -EINVAL;
	if (params_user_phone(host, host_len) || user[0] == '+')
		return tn_canon(user, num_len, out);
	return -EINVAL;
}
