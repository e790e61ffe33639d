/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame classifier: given a received frame and the interface's address configuration, either
 * builds the answer (ARP reply, ICMP / ICMPv6 echo reply, neighbour advertisement), hands out
 * a SIP UDP datagram (possibly reassembled), holds a fragment, forwards (transit mode) or
 * drops with a reason. Pure C, no allocation: replies go to a caller buffer.
 */
#ifndef SHAKEND_DATAPLANE_NET_NET_CLASSIFY_H
#define SHAKEND_DATAPLANE_NET_NET_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/net.h"
#include "dataplane/net/net_reasm.h"

#define NET_MAX_ADDRS 16
#define NET_MAX_PORTS 8

/* One of our addresses, on a VLAN (vid 0: untagged; matched against the innermost tag). */
struct net_addr {
	uint8_t family;             /* 4 or 6 */
	uint16_t vid;
	uint8_t ip[16];             /* IPv4: first 4 bytes */
};

struct net_cfg {
	uint8_t mac[NET_ETH_ALEN];
	struct net_addr addrs[NET_MAX_ADDRS];
	unsigned n_addrs;
	uint16_t sip_ports[NET_MAX_PORTS];  /* UDP destination ports carrying SIP */
	unsigned n_ports;
	/*
	 * Bump in the wire: frames not addressed to us are NET_V_FORWARD instead of dropped, and
	 * UDP to a SIP port is NET_V_SIP (transit) whatever its destination address.
	 */
	bool transit;
};

enum net_verdict {
	NET_V_DROP = 0,     /* res.drop says why */
	NET_V_REPLY,        /* answer frame in out[0..res.reply_len), send on the same port */
	NET_V_SIP,          /* SIP datagram: res.flow, res.payload[0..res.plen) */
	NET_V_HELD,         /* fragment kept for reassembly */
	NET_V_FORWARD,      /* transit mode: pass the frame on unchanged */
};

#define NET_DROP_REASONS(X) \
	X(NONE, "none") \
	X(TRUNC, "truncated") \
	X(L2_DST, "l2_not_ours") \
	X(VLAN, "vlan") \
	X(ETHERTYPE, "ethertype") \
	X(ARP, "arp_malformed") \
	X(ARP_OTHER, "arp_not_for_us") \
	X(IP_HDR, "ip_header") \
	X(IP_CSUM, "ip_checksum") \
	X(IP_SRC, "ip_bad_source") \
	X(NOT_OURS, "ip_not_ours") \
	X(PROTO, "ip_protocol") \
	X(FRAG_PROTO, "fragment_not_udp") \
	X(REASM_BAD, "reasm_bad_fragment") \
	X(REASM_OVERLAP, "reasm_overlap") \
	X(REASM_TOO_BIG, "reasm_too_big") \
	X(REASM_TOO_MANY, "reasm_too_many_fragments") \
	X(REASM_FULL, "reasm_table_full") \
	X(REASM_OFF, "reasm_disabled") \
	X(ICMP, "icmp_other") \
	X(ICMP_CSUM, "icmp_checksum") \
	X(ND, "nd_invalid") \
	X(UDP_HDR, "udp_header") \
	X(UDP_CSUM, "udp_checksum") \
	X(PORT, "udp_not_sip_port") \
	X(NOSPACE, "reply_no_space")

enum net_drop {
#define NET_DROP_ENUM_(n, s) NET_DROP_##n,
	NET_DROP_REASONS(NET_DROP_ENUM_)
#undef NET_DROP_ENUM_
	NET_DROP_COUNT
};

enum net_reply {
	NET_REPLY_NONE = 0,
	NET_REPLY_ARP,
	NET_REPLY_ICMP,
	NET_REPLY_ICMP6,
	NET_REPLY_ND,
};

struct net_result {
	enum net_verdict verdict;
	enum net_drop drop;         /* NET_V_DROP */
	enum net_reply reply;       /* NET_V_REPLY */
	size_t reply_len;
	struct net_flow flow;       /* NET_V_SIP: as received (ttl and tos as received) */
	const uint8_t *payload;     /* NET_V_SIP: UDP data, in the frame or in a reasm slot */
	size_t plen;
	struct net_reasm_slot *slot;  /* NET_V_SIP from reassembly: net_reasm_release() it */
	bool transit;               /* NET_V_SIP: destination is not one of our addresses */
};

/* Stable short name of a drop reason (for counters); "?" when out of range. */
const char *net_drop_name(enum net_drop d);

/*
 * Classifies frame[0..len) received with our configuration cfg. r is the reassembly table
 * (NULL: fragments are dropped with NET_DROP_REASM_OFF), now the caller's clock for it.
 * Replies are built in out[0..cap): a cap of at least max(len, 128) bytes always suffices.
 * Accepted destinations: our MAC, broadcast (ARP), IPv6 multicast 33:33:xx (ND); addresses:
 * ours on the frame's VLAN, or the solicited-node address of ours for neighbour solicitations.
 * Fills *res; never fails otherwise.
 */
void net_classify(const struct net_cfg *cfg, const uint8_t *frame, size_t len,
		  struct net_reasm *r, uint64_t now, uint8_t *out, size_t cap,
		  struct net_result *res);

/* Finds the address of cfg equal to ip (4 or 16 bytes per family) on vid; NULL when none. */
const struct net_addr *net_cfg_find(const struct net_cfg *cfg, uint8_t family, uint16_t vid,
				    const uint8_t *ip);

/* Parses "a.b.c.d" or an IPv6 text address into a. Returns 0 or -EINVAL. */
int net_addr_parse(const char *s, struct net_addr *a);

#endif
