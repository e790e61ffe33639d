/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A minimal SIP handler for the dataplane skeleton (until the sign/verify pipelines plug in):
 * OPTIONS -> 200 OK (built with sip_build_response, To tag derived from the Call-ID so that a
 * retransmission gets the same answer), every other message counted and dropped, or, in
 * inline mode, every datagram forwarded unchanged to the peer port.
 */
#ifndef SHAKEND_DATAPLANE_DP_SIP_MIN_H
#define SHAKEND_DATAPLANE_DP_SIP_MIN_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "dataplane/dp.h"

struct dp_sip_min_stats {
	uint64_t options_ok;    /* OPTIONS answered 200 */
	uint64_t other;         /* other requests and responses dropped */
	uint64_t bad;           /* not parseable as SIP (or no answer could be built) */
	uint64_t forwarded;     /* inline mode */
	uint64_t send_err;      /* dp_send_udp failures */
} __rte_cache_aligned;

struct dp_sip_min {
	bool inline_mode;
	struct dp_sip_min_stats stats[DP_MAX_LCORES];
};

/* Fills h with the minimal handler over state m (zeroed by the caller, inline_mode set). */
void dp_sip_min_handler(struct dp_sip_min *m, struct dp_sip_handler *h);

/* The To tag the handler gives to an answer to a request with this Call-ID (8 hex digits). */
void dp_sip_min_tag(const char *call_id, size_t len, char tag[9]);

#endif
