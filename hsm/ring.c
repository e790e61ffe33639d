/* SPDX-License-Identifier: BSD-3-Clause */
#include "hsm/ring.h"

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RING_LINE 64

/*
 * Cell i holds seq: seq == pos means free for the producer of position pos; seq == pos + 1
 * means filled for the consumer of position pos; after the consumer it becomes pos + size,
 * free for the producer of the next lap.
 */
struct ring_cell {
	_Atomic size_t seq;
	unsigned char data[];
};

struct hsm_ring {
	size_t mask;
	size_t elem;
	size_t stride;
	unsigned char *cells;
	alignas(RING_LINE) _Atomic size_t head;   /* next position to produce */
	alignas(RING_LINE) _Atomic size_t tail;   /* next position to consume */
};

static inline struct ring_cell *cell_at(const struct hsm_ring *r, size_t pos)
{
	return (struct ring_cell *)(r->cells + (pos & r->mask) * r->stride);
}

int hsm_ring_create(size_t count, size_t elem_size, struct hsm_ring **out)
{
	struct hsm_ring *r;
	size_t size = 1;

	if (count == 0 || count > (1u << 24) || elem_size == 0 || elem_size > 1024)
		return -EINVAL;
	while (size < count)
		size <<= 1;
	r = aligned_alloc(RING_LINE, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->mask = size - 1;
	r->elem = elem_size;
	r->stride = (sizeof(struct ring_cell) + elem_size + 7) & ~(size_t)7;
	r->cells = aligned_alloc(RING_LINE,
				 (size * r->stride + RING_LINE - 1) & ~(size_t)(RING_LINE - 1));
	if (!r->cells) {
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < size; i++)
		atomic_init(&cell_at(r, i)->seq, i);
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	*out = r;
	return 0;
}

void hsm_ring_destroy(struct hsm_ring *r)
{
	if (!r)
		return;
	free(r->cells);
	free(r);
}

size_t hsm_ring_capacity(const struct hsm_ring *r)
{
	return r->mask + 1;
}

static int ring_put(struct hsm_ring *r, const void *src)
{
	size_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct ring_cell *c;

	for (;;) {
		c = cell_at(r, pos);
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = (intptr_t)seq - (intptr_t)pos;
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (diff < 0) {
			return -EAGAIN;   /* the consumer of the previous lap has not been here */
		} else {
			pos = atomic_load_explicit(&r->head, memory_order_relaxed);
		}
	}
	memcpy(c->data, src, r->elem);
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
	return 0;
}

static int ring_get(struct hsm_ring *r, void *dst)
{
	size_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	struct ring_cell *c;

	for (;;) {
		c = cell_at(r, pos);
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = (intptr_t)seq - (intptr_t)(pos + 1);
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (diff < 0) {
			return -EAGAIN;   /* empty */
		} else {
			pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
		}
	}
	memcpy(dst, c->data, r->elem);
	atomic_store_explicit(&c->seq, pos + r->mask + 1, memory_order_release);
	return 0;
}

unsigned hsm_ring_enqueue_burst(struct hsm_ring *r, const void *src, unsigned n)
{
	const unsigned char *p = src;
	unsigned i;

	for (i = 0; i < n; i++)
		if (ring_put(r, p + (size_t)i * r->elem) != 0)
			break;
	return i;
}

unsigned hsm_ring_dequeue_burst(struct hsm_ring *r, void *dst, unsigned n)
{
	unsigned char *p = dst;
	unsigned i;

	for (i = 0; i < n; i++)
		if (ring_get(r, p + (size_t)i * r->elem) != 0)
			break;
	return i;
}

size_t hsm_ring_count(const struct hsm_ring *r)
{
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	return h > t ? h - t : 0;
}
