/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/net/net_reasm.h"

#include <errno.h>
#include <string.h>

int net_reasm_init(struct net_reasm *r, struct net_reasm_slot *slots, unsigned n,
		   uint64_t timeout)
{
	if (!slots || n == 0 || timeout == 0)
		return -EINVAL;
	r->slots = slots;
	r->n_slots = n;
	r->timeout = timeout;
	r->n_timeout = 0;
	for (unsigned i = 0; i < n; i++)
		slots[i].state = NET_REASM_FREE;
	return 0;
}

static bool key_eq(const struct net_reasm_key *a, const struct net_reasm_key *b)
{
	return a->id == b->id && a->family == b->family && a->proto == b->proto &&
	       a->vid == b->vid && memcmp(a->src, b->src, 16) == 0 &&
	       memcmp(a->dst, b->dst, 16) == 0;
}

unsigned net_reasm_expire(struct net_reasm *r, uint64_t now)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->n_slots; i++) {
		struct net_reasm_slot *s = &r->slots[i];
		if (s->state != NET_REASM_FREE && now - s->born >= r->timeout) {
			s->state = NET_REASM_FREE;
			n++;
		}
	}
	r->n_timeout += n;
	return n;
}

unsigned net_reasm_in_use(const struct net_reasm *r)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->n_slots; i++)
		n += r->slots[i].state != NET_REASM_FREE;
	return n;
}

void net_reasm_release(struct net_reasm *r, struct net_reasm_slot *s)
{
	(void)r;
	s->state = NET_REASM_FREE;
}

int net_reasm_add(struct net_reasm *r, const struct net_reasm_key *k, const struct net_l2 *l2,
		  uint8_t ttl, uint8_t tos, uint16_t off, bool mf, const uint8_t *data,
		  size_t len, uint64_t now, struct net_reasm_slot **done)
{
	struct net_reasm_slot *s = NULL, *free_slot = NULL;

	*done = NULL;
	for (unsigned i = 0; i < r->n_slots; i++) {
		struct net_reasm_slot *c = &r->slots[i];
		if (c->state != NET_REASM_FREE && now - c->born >= r->timeout) {
			c->state = NET_REASM_FREE;
			r->n_timeout++;
		}
		if (c->state == NET_REASM_FREE) {
			if (!free_slot)
				free_slot = c;
		} else if (c->state == NET_REASM_BUSY && !s && key_eq(&c->key, k)) {
			s = c;
		}
	}
	size_t end = (size_t)off + len;
	int err = 0;
	if (len == 0 || (mf && len % 8 != 0))
		err = -EINVAL;
	else if (end > NET_REASM_MAX_SIZE)
		err = -EMSGSIZE;
	if (err) {
		if (s)
			s->state = NET_REASM_FREE;
		return err;
	}
	if (!s) {
		if (!free_slot)
			return -ENOSPC;
		s = free_slot;
		s->key = *k;
		s->born = now;
		s->state = NET_REASM_BUSY;
		s->n_frags = 0;
		s->total = 0;
		s->got = 0;
		s->l2 = *l2;
		s->ttl = ttl;
		s->tos = tos;
	}
	if (!mf) {
		bool bad = (s->total && s->total != end) || end < s->got;
		for (unsigned i = 0; i < s->n_frags && !bad; i++)
			bad = s->frags[i].end > end;
		if (bad) {
			s->state = NET_REASM_FREE;
			return -EINVAL;
		}
		s->total = (uint16_t)end;
	} else if (s->total && end > s->total) {
		s->state = NET_REASM_FREE;
		return -EINVAL;
	}
	for (unsigned i = 0; i < s->n_frags; i++) {
		if (s->frags[i].off == off && s->frags[i].end == end)
			return 0;  /* exact duplicate */
		if (off < s->frags[i].end && s->frags[i].off < end) {
			s->state = NET_REASM_FREE;
			return -EEXIST;
		}
	}
	if (s->n_frags == NET_REASM_MAX_FRAGS) {
		s->state = NET_REASM_FREE;
		return -ENOBUFS;
	}
	if (s->total && s->got + len > s->total) {
		s->state = NET_REASM_FREE;
		return -EINVAL;
	}
	s->frags[s->n_frags].off = off;
	s->frags[s->n_frags].end = (uint16_t)end;
	s->n_frags++;
	memcpy(s->data + off, data, len);
	s->got = (uint16_t)(s->got + len);
	if (s->total && s->got == s->total) {
		/* no overlap and the sum of lengths equals the total: the datagram is whole */
		s->state = NET_REASM_DONE;
		*done = s;
		return 1;
	}
	return 0;
}
