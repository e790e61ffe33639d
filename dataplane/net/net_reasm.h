/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IP reassembly in caller-provided memory: a fixed table of slots, each holding one datagram
 * of at most NET_REASM_MAX_SIZE payload bytes from at most NET_REASM_MAX_FRAGS fragments.
 * No allocation, no lock: one table per lcore. Overlapping fragments drop the whole datagram
 * (RFC 5722 behaviour, applied to IPv4 too); an exact duplicate is ignored. Slots live at most
 * `timeout` time units (the caller's clock: TSC cycles, ms, ...) from their first fragment.
 */
#ifndef SHAKEND_DATAPLANE_NET_NET_REASM_H
#define SHAKEND_DATAPLANE_NET_NET_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/net.h"

#define NET_REASM_MAX_FRAGS 16
#define NET_REASM_MAX_SIZE 9216     /* reassembled upper-layer bytes (UDP header + data) */

/* What identifies one datagram (RFC 791 / RFC 8200), plus the VLAN it came on. */
struct net_reasm_key {
	uint8_t family;             /* 4 or 6 */
	uint8_t proto;
	uint16_t vid;
	uint32_t id;
	uint8_t src[16];            /* IPv4: first 4 bytes, rest zero */
	uint8_t dst[16];
};

enum net_reasm_state { NET_REASM_FREE = 0, NET_REASM_BUSY, NET_REASM_DONE };

struct net_reasm_slot {
	struct net_reasm_key key;
	uint64_t born;              /* clock of the first fragment */
	uint8_t state;              /* enum net_reasm_state */
	uint8_t n_frags;
	uint16_t total;             /* datagram length once the last fragment is in, else 0 */
	uint16_t got;               /* bytes received so far */
	struct {
		uint16_t off;
		uint16_t end;
	} frags[NET_REASM_MAX_FRAGS];
	struct net_l2 l2;           /* link header of the first fragment received */
	uint8_t ttl;
	uint8_t tos;
	uint8_t data[NET_REASM_MAX_SIZE];
};

struct net_reasm {
	struct net_reasm_slot *slots;
	unsigned n_slots;
	uint64_t timeout;
	uint64_t n_timeout;         /* slots expired (counters for the caller to export) */
};

/*
 * Prepares r over slots[0..n) (all set free). Returns 0, -EINVAL when slots is NULL, n is 0
 * or timeout is 0.
 */
int net_reasm_init(struct net_reasm *r, struct net_reasm_slot *slots, unsigned n,
		   uint64_t timeout);

/*
 * Adds the fragment [off, off + len) of datagram k (mf: more fragments follow) received at
 * `now` on link header l2 with ttl/tos. Expired slots are freed first.
 * Returns 0 when the fragment is held (or was an exact duplicate), 1 when the datagram is
 * complete: *done points at its slot (data[0..total)), which stays valid until
 * net_reasm_release() or its expiry. Errors, the fragment not being kept:
 * -EINVAL  empty fragment, a non-last fragment whose length is not a multiple of 8, or a
 *          second last fragment disagreeing on the total; the datagram is dropped;
 * -EMSGSIZE the datagram would exceed NET_REASM_MAX_SIZE; the datagram is dropped;
 * -EEXIST  the fragment overlaps one already held; the datagram is dropped;
 * -ENOBUFS more than NET_REASM_MAX_FRAGS fragments; the datagram is dropped;
 * -ENOSPC  no free slot for a new datagram.
 */
int net_reasm_add(struct net_reasm *r, const struct net_reasm_key *k, const struct net_l2 *l2,
		  uint8_t ttl, uint8_t tos, uint16_t off, bool mf, const uint8_t *data,
		  size_t len, uint64_t now, struct net_reasm_slot **done);

/* Frees a slot returned complete by net_reasm_add. */
void net_reasm_release(struct net_reasm *r, struct net_reasm_slot *s);

/* Frees slots older than the timeout; returns how many. */
unsigned net_reasm_expire(struct net_reasm *r, uint64_t now);

/* Slots in use (busy or done). */
unsigned net_reasm_in_use(const struct net_reasm *r);

#endif
