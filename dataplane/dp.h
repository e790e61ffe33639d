/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK dataplane skeleton: ports, mempool, run-to-completion lcores, and the seam where
 * SIP processing plugs in (struct dp_sip_handler).
 *
 * Each worker lcore owns one RX queue and one TX queue on every port (RSS spreads flows across
 * the queues when a port has several) and loops: RX burst -> net_classify() per packet ->
 * ARP/ICMP/ND answered in place, fragments reassembled in the lcore's own table, SIP datagrams
 * given to the handler, transit frames passed to the peer port -> TX buffered and drained
 * every DP_DRAIN_US. Nothing on that path allocates (but from the mempool), locks or makes a
 * system call. Counters are per lcore, cache aligned, summed by dp_stats_sum().
 */
#ifndef SHAKEND_DATAPLANE_DP_H
#define SHAKEND_DATAPLANE_DP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/net/net.h"
#include "dataplane/net/net_classify.h"
#include "dataplane/net/net_reasm.h"

#ifndef DP_BURST
#define DP_BURST 32             /* packets per RX burst */
#endif
#define DP_MAX_PORTS 4
#define DP_MAX_LCORES 64
#define DP_DRAIN_US 100         /* TX drain period (l3fwd) */
#define DP_SCRATCH 65600        /* bytes: a whole UDP datagram with its headers */

/* Summed and per-lcore counters. */
struct dp_stats {
	uint64_t rx;            /* frames received */
	uint64_t tx;            /* frames handed to the TX buffers */
	uint64_t tx_drop;       /* frames the PMD refused at drain */
	uint64_t reply[5];      /* by enum net_reply */
	uint64_t sip;           /* datagrams given to the handler */
	uint64_t sip_reasm;     /* ... of which reassembled */
	uint64_t held;          /* fragments held */
	uint64_t forwarded;     /* transit frames passed on */
	uint64_t multiseg;      /* chained mbufs (dropped) */
	uint64_t nombuf;        /* mbuf allocation failures on TX */
	uint64_t frag_out;      /* IPv4 fragments sent */
	uint64_t too_big;       /* datagrams not sent: exceed MTU and cannot be fragmented */
	uint64_t reasm_timeout; /* reassembly slots expired */
	uint64_t drop[NET_DROP_COUNT];
};

struct dp;

/* Per-lcore state: touched by its lcore only (control reads the counters). */
struct dp_lcore {
	struct dp_stats stats;              /* first: cache aligned */
	struct dp *dp;
	unsigned lcore_id;
	unsigned idx;                       /* 0..n_lcores-1: its queue index on every port */
	uint16_t ip_id;
	uint64_t last_drain;
	struct net_reasm reasm;
	struct net_reasm_slot *slots;
	struct rte_eth_dev_tx_buffer *txb[DP_MAX_PORTS];
	void *handler_ctx;                  /* the SIP handler's per-lcore state */
	uint8_t reply[16384] __rte_cache_aligned;   /* classifier answers */
	uint8_t frame[DP_SCRATCH] __rte_cache_aligned; /* frames to fragment (dp_send_udp) */
	uint8_t scratch[DP_SCRATCH] __rte_cache_aligned; /* free for the handler's use */
} __rte_cache_aligned;

/* A SIP datagram handed to the handler: valid only during the call. */
struct dp_sip_pkt {
	uint16_t port;                  /* index in dp->ports of the receiving port */
	const struct net_flow *flow;    /* as received */
	const char *payload;
	size_t len;
	bool transit;                   /* not addressed to one of our addresses */
	bool reassembled;
};

/*
 * The seam for SIP processing. rx is required; the others may be NULL. Callbacks run on the
 * lcore (lcore_init on the main thread at dp_init) and must respect the hot-path rules.
 * To answer or forward, rx/poll call dp_send_udp(). payload must be copied if kept.
 */
struct dp_sip_handler {
	void *arg;
	int (*lcore_init)(void *arg, struct dp_lcore *lc);   /* 0 or -errno (dp_init fails) */
	void (*rx)(void *arg, struct dp_lcore *lc, const struct dp_sip_pkt *p);
	void (*poll)(void *arg, struct dp_lcore *lc, uint64_t now_tsc);  /* once per loop */
	/* on the lcore when dp_lcore_main returns (e.g. leave QSBR); a caller polling with
	 * dp_lcore_poll itself calls it on that thread */
	void (*lcore_stop)(void *arg, struct dp_lcore *lc);
	void (*lcore_fini)(void *arg, struct dp_lcore *lc);
};

struct dp_conf {
	struct net_cfg net;             /* addresses and SIP ports (mac: filled per port) */
	unsigned mtu;                   /* IP MTU for transmit; 0: 1500 */
	unsigned n_mbufs;               /* 0: 8191 */
	unsigned mbuf_size;             /* data bytes per mbuf (largest frame received); 0: 2048 */
	uint16_t rx_desc, tx_desc;      /* 0: 512 each */
	unsigned reasm_slots;           /* per lcore; 0: 32 */
	unsigned reasm_timeout_ms;      /* 0: 5000 */
	bool promiscuous;               /* forced on in transit mode */
};

struct dp_port {
	uint16_t port_id;
	uint16_t peer;                  /* index of the port transit traffic leaves by */
	uint16_t n_queues;
	struct net_cfg net;             /* conf.net with this port's MAC */
};

struct dp {
	struct dp_conf conf;
	const struct dp_sip_handler *handler;
	struct rte_mempool *pool;
	unsigned n_ports;
	struct dp_port ports[DP_MAX_PORTS];
	unsigned n_lcores;
	struct dp_lcore *lcores[DP_MAX_LCORES];
	uint64_t drain_tsc;
	uint64_t tsc_per_ms;
	atomic_bool stop;
};

/*
 * After rte_eal_init(): creates the mempool, configures and starts every available port with
 * one RX and one TX queue per worker lcore (the enabled lcores including the main one, at
 * most what every port supports; extra lcores stay idle), RSS over IP/UDP when a port has
 * several queues, and the per-lcore state. handler is kept (must outlive dp).
 * Returns 0, -EINVAL (bad conf, no handler rx, no port, too many ports), -ENOMEM, or a
 * negative errno from ethdev.
 */
int dp_init(struct dp *dp, const struct dp_conf *conf, const struct dp_sip_handler *handler);

/* Stops and closes the ports, frees the lcore state and the mempool. */
void dp_fini(struct dp *dp);

/*
 * One iteration of an lcore: an RX burst from each of its queues, every packet processed,
 * the handler's poll, and the TX drain when DP_DRAIN_US has passed (always when flush).
 * Returns the number of frames received.
 */
unsigned dp_lcore_poll(struct dp_lcore *lc, bool flush);

/* lcore entry point (rte_eal_mp_remote_launch with arg = dp): polls until dp_stop(). */
int dp_lcore_main(void *arg);

/* Asks every lcore to return (async-signal-safe). */
void dp_stop(struct dp *dp);

/*
 * Sends a UDP datagram with payload[0..len) on port index port along flow f (f->ip_id is
 * replaced by the lcore's counter): one frame, or IPv4 fragments when larger than the MTU.
 * Returns 0, -EINVAL (bad port or flow), -EMSGSIZE (IPv6 beyond the MTU, or beyond 65535),
 * -ENOBUFS (mempool empty; counted).
 */
int dp_send_udp(struct dp_lcore *lc, uint16_t port, const struct net_flow *f,
		const void *payload, size_t len);

/* Sums the counters of every lcore into out. */
void dp_stats_sum(const struct dp *dp, struct dp_stats *out);

/* Writes the non-zero counters of s, one "name value" line each, to f. */
void dp_stats_print(const struct dp_stats *s, FILE *f);

#endif
