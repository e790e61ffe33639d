/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A bounded lock-free ring of fixed-size elements (multi-producer, multi-consumer) on C11
 * atomics, after Dmitry Vyukov's bounded MPMC queue: every cell carries a sequence number that
 * tells producers and consumers whose turn it is, so a producer never waits on a consumer and
 * no lock or syscall is taken. The HSM engine uses it for its submission ring (lcores produce,
 * worker threads consume) and for each caller's completion ring (workers produce, the caller
 * consumes). docs/hsm.md says why this is not rte_ring.
 *
 * Progress: a producer or consumer preempted between claiming a cell and publishing it holds
 * back consumers (producers) of that one cell until it runs again; no other cell is blocked.
 */
#ifndef SHAKEND_HSM_RING_H
#define SHAKEND_HSM_RING_H

#include <stddef.h>

struct hsm_ring;

/*
 * Creates a ring of at least `count` elements of `elem_size` bytes (count is rounded up to a
 * power of two; the usable capacity is that power of two).
 * Returns 0 with *out set, -EINVAL when count is 0 or above 2^24 or elem_size is 0 or above
 * 1024, -ENOMEM.
 */
__attribute__((warn_unused_result))
int hsm_ring_create(size_t count, size_t elem_size, struct hsm_ring **out);

/* Frees a ring (NULL accepted). No thread may use it any more. */
void hsm_ring_destroy(struct hsm_ring *r);

/* Capacity in elements. */
size_t hsm_ring_capacity(const struct hsm_ring *r);

/*
 * Copies n elements from src (contiguous, elem_size each) into the ring, in order, until it
 * is full. Safe from any number of threads at once. Returns the number enqueued (0..n).
 */
unsigned hsm_ring_enqueue_burst(struct hsm_ring *r, const void *src, unsigned n);

/*
 * Moves up to n elements out of the ring into dst, oldest first. Safe from any number of
 * threads at once. Returns the number dequeued (0..n).
 */
unsigned hsm_ring_dequeue_burst(struct hsm_ring *r, void *dst, unsigned n);

/* Elements in the ring at some instant during the call (exact only when quiescent). */
size_t hsm_ring_count(const struct hsm_ring *r);

#endif
