/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/dp.h"

#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

RTE_LOG_REGISTER(dp_logtype, shakend.dp, INFO);
#define DP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, dp_logtype, "shakend.dp: " fmt "\n", ##__VA_ARGS__)

#define DP_MBUF_CACHE 256

static int port_setup(struct dp *dp, struct dp_port *p, uint16_t nq)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf pc;
	int rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc)
		return rc;
	memset(&pc, 0, sizeof(pc));
	if (nq > 1 && info.flow_type_rss_offloads) {
		pc.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		/* fragments hash on addresses only, so one datagram's pieces meet on one lcore */
		pc.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) &
						 info.flow_type_rss_offloads;
	}
	rc = rte_eth_dev_configure(p->port_id, nq, nq, &pc);
	if (rc)
		return rc;
	uint16_t nrx = dp->conf.rx_desc, ntx = dp->conf.tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrx, &ntx);
	if (rc)
		return rc;
	int socket = rte_eth_dev_socket_id(p->port_id);
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, nrx, socket, NULL, dp->pool);
		if (rc)
			return rc;
		rc = rte_eth_tx_queue_setup(p->port_id, q, ntx, socket, NULL);
		if (rc)
			return rc;
	}
	struct rte_ether_addr mac;
	rc = rte_eth_macaddr_get(p->port_id, &mac);
	if (rc)
		return rc;
	p->net = dp->conf.net;
	memcpy(p->net.mac, mac.addr_bytes, NET_ETH_ALEN);
	p->n_queues = nq;
	rc = rte_eth_dev_start(p->port_id);
	if (rc)
		return rc;
	/* neighbour solicitations go to 33:33:ff:xx:xx:xx */
	(void)rte_eth_allmulticast_enable(p->port_id);
	if (dp->conf.promiscuous || dp->conf.net.transit)
		(void)rte_eth_promiscuous_enable(p->port_id);
	DP_LOG(INFO, "port %u: %s, %u queue(s), mac " RTE_ETHER_ADDR_PRT_FMT, p->port_id,
	       info.driver_name, nq, RTE_ETHER_ADDR_BYTES(&mac));
	return 0;
}

static int lcore_setup(struct dp *dp, unsigned lcore_id, unsigned idx)
{
	int socket = (int)rte_lcore_to_socket_id(lcore_id);
	struct dp_lcore *lc = rte_zmalloc_socket("dp_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE,
						 socket);
	if (!lc)
		return -ENOMEM;
	dp->lcores[idx] = lc;
	lc->dp = dp;
	lc->lcore_id = lcore_id;
	lc->idx = idx;
	lc->ip_id = (uint16_t)(idx << 12);
	lc->slots = rte_zmalloc_socket("dp_reasm", sizeof(*lc->slots) * dp->conf.reasm_slots,
				       RTE_CACHE_LINE_SIZE, socket);
	if (!lc->slots)
		return -ENOMEM;
	int rc = net_reasm_init(&lc->reasm, lc->slots, dp->conf.reasm_slots,
				(uint64_t)dp->conf.reasm_timeout_ms);
	if (rc)
		return rc;
	for (unsigned i = 0; i < dp->n_ports; i++) {
		lc->txb[i] = rte_zmalloc_socket("dp_txb", RTE_ETH_TX_BUFFER_SIZE(DP_BURST), 0,
						socket);
		if (!lc->txb[i])
			return -ENOMEM;
		rc = rte_eth_tx_buffer_init(lc->txb[i], DP_BURST);
		if (rc)
			return rc;
		rc = rte_eth_tx_buffer_set_err_callback(lc->txb[i],
							rte_eth_tx_buffer_count_callback,
							&lc->stats.tx_drop);
		if (rc)
			return rc;
	}
	if (dp->handler->lcore_init)
		return dp->handler->lcore_init(dp->handler->arg, lc);
	return 0;
}

int dp_init(struct dp *dp, const struct dp_conf *conf, const struct dp_sip_handler *handler)
{
	memset(dp, 0, sizeof(*dp));
	if (!conf || !handler || !handler->rx)
		return -EINVAL;
	dp->conf = *conf;
	dp->handler = handler;
	atomic_init(&dp->stop, false);
	if (!dp->conf.mtu)
		dp->conf.mtu = 1500;
	if (!dp->conf.n_mbufs)
		dp->conf.n_mbufs = 8191;
	if (!dp->conf.mbuf_size)
		dp->conf.mbuf_size = RTE_MBUF_DEFAULT_DATAROOM;
	if (dp->conf.mbuf_size < 1518 || dp->conf.mbuf_size > UINT16_MAX - RTE_PKTMBUF_HEADROOM)
		return -EINVAL;
	if (!dp->conf.rx_desc)
		dp->conf.rx_desc = 512;
	if (!dp->conf.tx_desc)
		dp->conf.tx_desc = 512;
	if (!dp->conf.reasm_slots)
		dp->conf.reasm_slots = 32;
	if (!dp->conf.reasm_timeout_ms)
		dp->conf.reasm_timeout_ms = 5000;
	if (dp->conf.mtu < 576 || dp->conf.mtu > 9000)
		return -EINVAL;
	uint16_t nports = rte_eth_dev_count_avail();
	if (nports == 0 || nports > DP_MAX_PORTS) {
		DP_LOG(ERR, "%u ports available, want 1..%d", nports, DP_MAX_PORTS);
		return -EINVAL;
	}
	/* one queue pair per lcore, at most what every port supports */
	unsigned nq = rte_lcore_count();
	if (nq > DP_MAX_LCORES)
		nq = DP_MAX_LCORES;
	uint16_t pid;
	RTE_ETH_FOREACH_DEV(pid) {
		struct rte_eth_dev_info info;
		int rc = rte_eth_dev_info_get(pid, &info);
		if (rc)
			return rc;
		unsigned maxq = info.max_rx_queues < info.max_tx_queues ? info.max_rx_queues
								 : info.max_tx_queues;
		if (nq > maxq)
			nq = maxq;
		dp->ports[dp->n_ports++].port_id = pid;
	}
	if (nq == 0)
		return -EINVAL;
	for (unsigned i = 0; i < dp->n_ports; i++)
		dp->ports[i].peer = (uint16_t)(dp->n_ports > 1 ? i ^ 1 : i);
	if (dp->n_ports % 2 && dp->n_ports > 1)
		dp->ports[dp->n_ports - 1].peer = (uint16_t)(dp->n_ports - 1);
	dp->pool = rte_pktmbuf_pool_create("dp_mbufs", dp->conf.n_mbufs, DP_MBUF_CACHE, 0,
					   (uint16_t)(RTE_PKTMBUF_HEADROOM + dp->conf.mbuf_size),
					   (int)rte_socket_id());
	if (!dp->pool) {
		DP_LOG(ERR, "mempool of %u mbufs: %s", dp->conf.n_mbufs,
		       rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (unsigned i = 0; i < dp->n_ports; i++) {
		int rc = port_setup(dp, &dp->ports[i], (uint16_t)nq);
		if (rc) {
			DP_LOG(ERR, "port %u setup: %s", dp->ports[i].port_id, strerror(-rc));
			return rc;
		}
	}
	unsigned lid;
	RTE_LCORE_FOREACH(lid) {
		if (dp->n_lcores == nq)
			break;
		int rc = lcore_setup(dp, lid, dp->n_lcores++);
		if (rc)
			return rc;
	}
	uint64_t hz = rte_get_tsc_hz();
	dp->drain_tsc = (hz + US_PER_S - 1) / US_PER_S * DP_DRAIN_US;
	dp->tsc_per_ms = hz / 1000 ? hz / 1000 : 1;
	return 0;
}

void dp_fini(struct dp *dp)
{
	for (unsigned i = 0; i < dp->n_ports; i++) {
		(void)rte_eth_dev_stop(dp->ports[i].port_id);
		(void)rte_eth_dev_close(dp->ports[i].port_id);
	}
	for (unsigned i = 0; i < dp->n_lcores; i++) {
		struct dp_lcore *lc = dp->lcores[i];
		if (!lc)
			continue;
		if (dp->handler && dp->handler->lcore_fini)
			dp->handler->lcore_fini(dp->handler->arg, lc);
		for (unsigned p = 0; p < DP_MAX_PORTS; p++)
			rte_free(lc->txb[p]);
		rte_free(lc->slots);
		rte_free(lc);
		dp->lcores[i] = NULL;
	}
	rte_mempool_free(dp->pool);
	dp->pool = NULL;
}

void dp_stop(struct dp *dp)
{
	atomic_store_explicit(&dp->stop, true, memory_order_relaxed);
}

static inline void tx(struct dp_lcore *lc, uint16_t port, struct rte_mbuf *m)
{
	lc->stats.tx++;
	rte_eth_tx_buffer(lc->dp->ports[port].port_id, (uint16_t)lc->idx, lc->txb[port], m);
}

static struct rte_mbuf *mbuf_alloc(struct dp_lcore *lc)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->dp->pool);
	if (unlikely(!m))
		lc->stats.nombuf++;
	return m;
}

int dp_send_udp(struct dp_lcore *lc, uint16_t port, const struct net_flow *f,
		const void *payload, size_t len)
{
	struct dp *dp = lc->dp;
	if (port >= dp->n_ports || (f->family != 4 && f->family != 6))
		return -EINVAL;
	struct net_flow fl = *f;
	fl.ip_id = lc->ip_id++;
	size_t hl = net_udp_hdr_len(&fl);
	size_t l3 = hl - NET_UDP_HLEN - (fl.family == 6 ? NET_IP6_HLEN : NET_IP4_HLEN);
	size_t ip_len = hl - l3 + len;
	if (hl + len > DP_SCRATCH) {
		lc->stats.too_big++;
		return -EMSGSIZE;
	}
	if (ip_len <= dp->conf.mtu) {
		struct rte_mbuf *m = mbuf_alloc(lc);
		if (!m)
			return -ENOBUFS;
		uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
		size_t cap = rte_pktmbuf_tailroom(m);
		if (hl + len > cap) {
			rte_pktmbuf_free(m);
			lc->stats.too_big++;
			return -EMSGSIZE;
		}
		memcpy(b + hl, payload, len);
		long n = net_udp_build(b, cap, &fl, len);
		if (n < 0) {
			rte_pktmbuf_free(m);
			return (int)n;
		}
		m->data_len = (uint16_t)n;
		m->pkt_len = (uint32_t)n;
		tx(lc, port, m);
		return 0;
	}
	if (fl.family == 6) {
		lc->stats.too_big++;
		return -EMSGSIZE;
	}
	memcpy(lc->frame + hl, payload, len);
	long n = net_udp_build(lc->frame, sizeof(lc->frame), &fl, len);
	if (n < 0)
		return (int)n;
	int k = net_ip4_frag_count(lc->frame, (size_t)n, l3, dp->conf.mtu);
	if (k < 0) {
		lc->stats.too_big++;
		return k;
	}
	struct rte_mbuf *ms[64];
	if (k > (int)RTE_DIM(ms)) {
		lc->stats.too_big++;
		return -EMSGSIZE;
	}
	if (rte_pktmbuf_alloc_bulk(dp->pool, ms, (unsigned)k)) {
		lc->stats.nombuf++;
		return -ENOBUFS;
	}
	for (int i = 0; i < k; i++) {
		long fl_len = net_ip4_fragment(lc->frame, (size_t)n, l3, dp->conf.mtu,
					       (unsigned)i, rte_pktmbuf_mtod(ms[i], uint8_t *),
					       rte_pktmbuf_tailroom(ms[i]));
		if (fl_len < 0) {
			rte_pktmbuf_free_bulk(ms, (unsigned)k);
			lc->stats.too_big++;
			return (int)fl_len;
		}
		ms[i]->data_len = (uint16_t)fl_len;
		ms[i]->pkt_len = (uint32_t)fl_len;
	}
	for (int i = 0; i < k; i++)
		tx(lc, port, ms[i]);
	lc->stats.frag_out += (uint64_t)k;
	return 0;
}

/* Processes one received frame; returns true when m was consumed (sent on). */
static bool process(struct dp_lcore *lc, uint16_t port, struct rte_mbuf *m, uint64_t now_ms)
{
	struct dp *dp = lc->dp;
	struct net_result res;
	if (unlikely(m->nb_segs != 1)) {
		lc->stats.multiseg++;
		return false;
	}
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	net_classify(&dp->ports[port].net, frame, m->data_len, &lc->reasm, now_ms, lc->reply,
		     sizeof(lc->reply), &res);
	switch (res.verdict) {
	case NET_V_REPLY:
		if (unlikely(res.reply_len > rte_pktmbuf_tailroom(m) + m->data_len)) {
			lc->stats.drop[NET_DROP_NOSPACE]++;
			return false;
		}
		/* the answer reuses the request's mbuf: no allocation */
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), lc->reply, res.reply_len);
		m->data_len = (uint16_t)res.reply_len;
		m->pkt_len = (uint32_t)res.reply_len;
		m->ol_flags = 0;
		lc->stats.reply[res.reply]++;
		tx(lc, port, m);
		return true;
	case NET_V_SIP: {
		struct dp_sip_pkt p = {
			.port = port,
			.flow = &res.flow,
			.payload = (const char *)res.payload,
			.len = res.plen,
			.transit = res.transit,
			.reassembled = res.slot != NULL,
		};
		lc->stats.sip++;
		lc->stats.sip_reasm += p.reassembled;
		dp->handler->rx(dp->handler->arg, lc, &p);
		if (res.slot)
			net_reasm_release(&lc->reasm, res.slot);
		return false;
	}
	case NET_V_HELD:
		lc->stats.held++;
		return false;
	case NET_V_FORWARD:
		lc->stats.forwarded++;
		tx(lc, dp->ports[port].peer, m);
		return true;
	case NET_V_DROP:
	default:
		lc->stats.drop[res.drop < NET_DROP_COUNT ? res.drop : NET_DROP_NONE]++;
		return false;
	}
}

unsigned dp_lcore_poll(struct dp_lcore *lc, bool flush)
{
	struct dp *dp = lc->dp;
	uint64_t now = rte_rdtsc();
	uint64_t now_ms = now / dp->tsc_per_ms;
	unsigned total = 0;
	struct rte_mbuf *pkts[DP_BURST], *done[DP_BURST];

	for (unsigned pi = 0; pi < dp->n_ports; pi++) {
		uint16_t n = rte_eth_rx_burst(dp->ports[pi].port_id, (uint16_t)lc->idx, pkts,
					      DP_BURST);
		if (n == 0)
			continue;
		unsigned nd = 0;
		lc->stats.rx += n;
		total += n;
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			if (!process(lc, (uint16_t)pi, pkts[i], now_ms))
				done[nd++] = pkts[i];
		}
		if (nd)
			rte_pktmbuf_free_bulk(done, nd);
	}
	if (dp->handler->poll)
		dp->handler->poll(dp->handler->arg, lc, now);
	if (flush || now - lc->last_drain > dp->drain_tsc) {
		for (unsigned pi = 0; pi < dp->n_ports; pi++)
			rte_eth_tx_buffer_flush(dp->ports[pi].port_id, (uint16_t)lc->idx,
						lc->txb[pi]);
		lc->last_drain = now;
		uint64_t before = lc->reasm.n_timeout;
		net_reasm_expire(&lc->reasm, now_ms);
		lc->stats.reasm_timeout += lc->reasm.n_timeout - before;
	}
	return total;
}

int dp_lcore_main(void *arg)
{
	struct dp *dp = arg;
	unsigned id = rte_lcore_id();
	struct dp_lcore *lc = NULL;
	for (unsigned i = 0; i < dp->n_lcores; i++)
		if (dp->lcores[i]->lcore_id == id)
			lc = dp->lcores[i];
	if (!lc)
		return 0;  /* an idle lcore: more lcores than queues */
	DP_LOG(INFO, "lcore %u polls queue %u of %u port(s)", id, lc->idx, dp->n_ports);
	while (!atomic_load_explicit(&dp->stop, memory_order_relaxed))
		dp_lcore_poll(lc, false);
	dp_lcore_poll(lc, true);
	if (dp->handler->lcore_stop)
		dp->handler->lcore_stop(dp->handler->arg, lc);
	return 0;
}

void dp_stats_sum(const struct dp *dp, struct dp_stats *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t *o = (uint64_t *)out;
	for (unsigned i = 0; i < dp->n_lcores; i++) {
		const uint64_t *s = (const uint64_t *)&dp->lcores[i]->stats;
		for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
			o[k] += s[k];
	}
}

void dp_stats_print(const struct dp_stats *s, FILE *f)
{
	static const char *const reply_names[] = {"none", "arp", "icmp", "icmp6", "nd"};
#define P_(field) \
	do { \
		if (s->field) \
			fprintf(f, "%s %" PRIu64 "\n", #field, s->field); \
	} while (0)
	P_(rx);
	P_(tx);
	P_(tx_drop);
	P_(sip);
	P_(sip_reasm);
	P_(held);
	P_(forwarded);
	P_(multiseg);
	P_(nombuf);
	P_(frag_out);
	P_(too_big);
	P_(reasm_timeout);
#undef P_
	for (unsigned i = 1; i < RTE_DIM(s->reply); i++)
		if (s->reply[i])
			fprintf(f, "reply_%s %" PRIu64 "\n", reply_names[i], s->reply[i]);
	for (unsigned i = 1; i < NET_DROP_COUNT; i++)
		if (s->drop[i])
			fprintf(f, "drop_%s %" PRIu64 "\n", net_drop_name((enum net_drop)i),
				s->drop[i]);
}
