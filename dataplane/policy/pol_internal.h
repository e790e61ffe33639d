/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/policy: the layout of the TN table and of a snapshot, shared by
 * tntable.c and policy.c (and readable by white-box tests). Not a public interface.
 */
#ifndef SHAKEND_POLICY_POL_INTERNAL_H
#define SHAKEND_POLICY_POL_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "dataplane/policy/policy.h"

#define POL_FANOUT 16
#define POL_LEVELS 16

struct pol_tntable {
	_Atomic uint32_t refs;
	size_t n;                 /* ranges */
	uint64_t *start;          /* sorted keys: (digits << 50) | value */
	uint64_t *end;            /* inclusive */
	uint32_t *owner;
	/* search index: idx[0] = start; idx[j][i] = idx[j-1][i * POL_FANOUT]; the top level has
	 * at most POL_FANOUT keys. A lookup reads two cache lines per level. */
	const uint64_t *idx[POL_LEVELS];
	size_t idx_n[POL_LEVELS];
	unsigned n_idx;
	uint64_t *idx_mem;
	/* owner names: NUL-terminated strings in names at name_off[id] */
	uint32_t n_owners;
	size_t owner_cap;
	uint32_t *name_off;
	char *names;
	size_t names_len, names_cap;
	uint32_t *hslots;         /* open addressing, POL_OWNER_NONE = empty */
	size_t hcap;              /* power of two */
	/* the file it came from (pol_tn_load_file), for reuse on reload */
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* Frees t now, whatever its references. */
void pol_tn_destroy(struct pol_tntable *t);

#endif
