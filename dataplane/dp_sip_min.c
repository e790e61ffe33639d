/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/dp_sip_min.h"

#include <string.h>

#include "dataplane/sip/sip.h"

void dp_sip_min_tag(const char *call_id, size_t len, char tag[9])
{
	/* FNV-1a: a stateless UAS answers retransmissions identically */
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)call_id[i];
		h *= 16777619u;
	}
	static const char hex[] = "0123456789abcdef";
	for (int i = 7; i >= 0; i--) {
		tag[i] = hex[h & 0xf];
		h >>= 4;
	}
	tag[8] = '\0';
}

static void min_rx(void *arg, struct dp_lcore *lc, const struct dp_sip_pkt *p)
{
	struct dp_sip_min *mn = arg;
	struct dp_sip_min_stats *st = &mn->stats[lc->idx];
	if (mn->inline_mode) {
		uint16_t out = lc->dp->ports[p->port].peer;
		if (dp_send_udp(lc, out, p->flow, p->payload, p->len))
			st->send_err++;
		else
			st->forwarded++;
		return;
	}
	struct sip_msg m;
	if (sip_parse(&m, p->payload, p->len)) {
		st->bad++;
		return;
	}
	if (!m.is_request || m.method_id != SIP_METHOD_OPTIONS) {
		st->other++;
		return;
	}
	const struct sip_hdr *cid = sip_hdr_first(&m, SIP_HDR_CALL_ID);
	char tag[9];
	dp_sip_min_tag(cid ? cid->value.p : "", cid ? cid->value.len : 0, tag);
	struct sip_resp_opts o = {.to_tag = tag};
	/* built in the lcore's scratch: dp_send_udp copies it into the mbuf(s) */
	char *buf = (char *)lc->scratch;
	long n = sip_build_response(&m, 200, NULL, &o, buf, SIP_MSG_MAX - 8);
	if (n < 0) {
		st->bad++;
		return;
	}
	struct net_flow rf;
	net_flow_reverse(p->flow, &rf);
	if (dp_send_udp(lc, p->port, &rf, buf, (size_t)n))
		st->send_err++;
	else
		st->options_ok++;
}

void dp_sip_min_handler(struct dp_sip_min *m, struct dp_sip_handler *h)
{
	memset(h, 0, sizeof(*h));
	h->arg = m;
	h->rx = min_rx;
}
