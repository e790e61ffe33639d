/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: sip_parse, then every accessor on every header, the rewriter and the response
 * builder; their outputs must parse again (a rewrite of a valid message is valid).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sip/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S(lit) ((struct sip_str){(lit), sizeof(lit) - 1})

static char out[SIP_MSG_MAX + 4096];
static volatile size_t sink;

static void touch(struct sip_str s)
{
	/* read every byte of a slice: ASan catches a slice reaching out of the input */
	for (size_t i = 0; i < s.len; i++)
		sink += (unsigned char)s.p[i];
}

static void check_reparse(long n)
{
	static struct sip_msg m2;

	if (n == -ENOSPC || n == -EINVAL || n == -ENOENT)
		return;
	if (n <= 0 || (size_t)n > sizeof(out) || sip_parse(&m2, out, (size_t)n) != 0)
		abort();
}

static void exercise_params(struct sip_str params)
{
	static const char *const names[] = {"tag", "user", "verstat", "branch", "info", "ppt"};
	struct sip_str v;

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (sip_param_get(params, names[i], &v) == 0)
			touch(v);
}

static void exercise_value(struct sip_str value)
{
	struct sip_str l = value, e;
	struct sip_addr a;
	struct sip_uri u;
	int64_t t;
	unsigned guard = 0;

	while (sip_list_next(&l, &e) == 1 && ++guard <= SIP_LINE_MAX) {
		touch(e);
		if (sip_addr_parse(e.p, e.len, &a) == 0) {
			touch(a.display);
			touch(a.uri);
			touch(a.params);
			exercise_params(a.params);
			if (sip_uri_parse(a.uri.p, a.uri.len, &u) == 0) {
				touch(u.user);
				touch(u.host);
				touch(u.params);
				touch(u.headers);
				exercise_params(u.params);
			}
		}
	}
	if (sip_uri_parse(value.p, value.len, &u) == 0)
		exercise_params(u.params);
	exercise_params(value);
	if (sip_date_parse(value.p, value.len, &t) == 0)
		sink += (size_t)t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	char tn[TN_MAX + 1];
	uint32_t cseq;
	struct sip_str meth;
	int64_t t;

	if (size > SIP_MSG_MAX)
		return 0;
	/* a copy of exactly size bytes, so that ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (sip_parse(&m, buf, size) != 0) {
		free(buf);
		return 0;
	}
	touch(m.method);
	touch(m.ruri);
	touch(m.reason);
	touch(m.body);
	for (unsigned i = 0; i < m.n_hdrs; i++) {
		const struct sip_hdr *h = &m.hdrs[i];
		touch(h->name);
		touch(h->value);
		exercise_value(h->value);
		if (sip_hdr_find(&m, h->name.p, h->name.len) == NULL)
			abort(); /* every parsed header can be found by its name */
		if (sip_hdr_lookup(h->name.p, h->name.len) != h->id)
			abort();
	}
	for (unsigned id = 0; id < SIP_HDR_COUNT; id++) {
		unsigned n = 0;
		for (const struct sip_hdr *h = sip_hdr_first(&m, id); h; h = sip_hdr_next(&m, h))
			if (++n > SIP_MAX_HDRS)
				abort();
		if (id != SIP_HDR_OTHER && n != sip_hdr_count(&m, id))
			abort();
	}
	if (m.is_request) {
		struct sip_uri u;
		if (sip_uri_parse(m.ruri.p, m.ruri.len, &u) == 0)
			exercise_params(u.params);
	}
	if (sip_calling_tn(&m, tn) > 0)
		sink += strlen(tn);
	if (sip_called_tn(&m, tn) > 0)
		sink += strlen(tn);
	if (sip_cseq(&m, &cseq, &meth) == 0)
		touch(meth);
	if (sip_msg_date(&m, &t) == 0)
		sink += (size_t)t;

	check_reparse(sip_add_hdr(&m, "Identity: a.b.c;info=<https://x.example/c.pem>", out,
				  sizeof(out)));
	check_reparse(sip_set_uri_param(&m, SIP_TARGET_PAI | SIP_TARGET_FROM, "verstat",
					"TN-Validation-Passed", out, sizeof(out)));
	check_reparse(sip_set_uri_param(&m, SIP_TARGET_FROM, "user", NULL, out, sizeof(out)));
	check_reparse(sip_set_uri_param(&m, SIP_TARGET_PAI, "verstat", "x", out, 64));

	struct sip_str extra[] = {
		S("Reason: SIP;cause=438;text=\"Invalid Identity Header\""),
		S("Identity: h.c.s"),
	};
	struct sip_resp_opts o = {.to_tag = "fz1", .contact_ruri = true,
				  .contact_extra = S(";verstat=No-TN-Validation"),
				  .hdrs = extra, .n_hdrs = 2};
	check_reparse(sip_build_response(&m, 302, NULL, &o, out, sizeof(out)));
	check_reparse(sip_build_response(&m, 438, "Invalid Identity Header", NULL, out, 128));
	free(buf);
	return 0;
}
