/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzzes the configuration parser: cfg_parse() on arbitrary bytes (not NUL-terminated), then,
 * when the document is accepted, builds a policy snapshot from it (the daemon's next step)
 * and checks invariants of the validated cfg: ranges, enums, non-empty strings, and that a
 * failure always leaves an error message and no cfg. Aborts on any inconsistency.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/cfg.h"
#include "dataplane/policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static void check_cfg(const struct cfg *c)
{
	for (size_t i = 0; i < c->n_ports; i++)
		CHECK(c->ports[i].id < CFG_PORTS_MAX && c->ports[i].mtu >= 576);
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct cfg_listener *l = &c->listeners[i];
		CHECK(l->mode <= CFG_MODE_INLINE && l->port > 0 && l->vlan <= 4094);
		CHECK(l->mode == CFG_MODE_INLINE || l->addr.family == 4 || l->addr.family == 6);
		CHECK(l->mode != CFG_MODE_INLINE || (l->iface >= 0 && l->peer_port != l->iface));
		CHECK(l->sign || l->verify);
	}
	if (c->hsm.module)
		CHECK(c->hsm.n_tokens > 0 && strncmp(c->hsm.tokens[0], "pkcs11:", 7) == 0);
	CHECK(!(c->hsm.pin_file && c->hsm.pin_env));
	for (size_t i = 0; i < c->n_creds; i++) {
		CHECK(c->creds[i].id[0] && c->creds[i].key[0]);
		CHECK(strlen(c->creds[i].x5u) <= CFG_X5U_MAX);
		CHECK(c->creds[i].attest && c->creds[i].attest <= 7);
		CHECK(c->creds[i].origid == NULL || strlen(c->creds[i].origid) == CFG_UUID_LEN);
	}
	for (size_t i = 0; i < c->n_trunks; i++) {
		const struct cfg_trunk *t = &c->trunks[i];
		CHECK(t->name[0] && t->n_prefixes > 0 && strlen(t->origid) == CFG_UUID_LEN);
		CHECK((t->kind == CFG_TRUNK_CUSTOMER) == (t->customer != NULL));
		CHECK(t->attest_override == 0 || (t->attest_override >= 'A' &&
						  t->attest_override <= 'C'));
		for (size_t j = 0; j < t->n_prefixes; j++)
			CHECK(t->prefixes[j].len <= (t->prefixes[j].addr.family == 4 ? 32 : 128));
	}
	CHECK(c->log_level <= CFG_LOG_DEBUG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *c = (struct cfg *)1;
	char err[256];
	int r = cfg_parse((const char *)data, size, &c, err, sizeof(err));
	if (r < 0) {
		CHECK(c == NULL);
		CHECK(r == -EINVAL || r == -ENOMEM || r == -E2BIG);
		CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		return 0;
	}
	CHECK(r == 0 && c != NULL);
	check_cfg(c);
	struct pol_snapshot *s = NULL;
	r = pol_snapshot_build(c, NULL, &s, err, sizeof(err));
	CHECK(r == 0); /* everything cfg_parse accepts must build */
	uint8_t src[16] = {198, 51, 100, 7};
	struct pol_decision d;
	CHECK(pol_decide(s, 4, src, 0, "12125551234", 11, &d) == 0);
	CHECK(d.attest >= 'A' && d.attest <= 'C');
	CHECK(!d.sign || (d.cred && d.origid));
	pol_snapshot_free(s);
	cfg_free(c);
	return 0;
}
