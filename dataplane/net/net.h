/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet layer of the dataplane: Ethernet (+ up to two 802.1Q/802.1ad tags), ARP, IPv4,
 * ICMP echo, IPv6 (bounded extension headers), ICMPv6 echo and neighbour discovery, UDP.
 *
 * Pure C over (pointer, length) buffers: no DPDK types, no allocation, bounded loops, so that
 * unit tests and fuzzers run it without EAL. Every input byte is hostile: a malformed frame
 * yields an error or a drop reason, never a read outside [frame, frame + len).
 * Multi-byte fields in frames are in network byte order; fields of the structs below are in
 * host byte order unless stated otherwise. Addresses are kept as byte arrays (network order).
 */
#ifndef SHAKEND_DATAPLANE_NET_NET_H
#define SHAKEND_DATAPLANE_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_ETH_ALEN 6
#define NET_ETH_HLEN 14
#define NET_VLAN_HLEN 4
#define NET_MAX_VLANS 2          /* tags parsed; a third tag -> NET_DROP_VLAN */
#define NET_ETH_MIN_FRAME 60     /* without FCS; shorter replies are zero padded */
#define NET_IP4_HLEN 20
#define NET_IP6_HLEN 40
#define NET_UDP_HLEN 8
#define NET_IP6_MAX_EXT 8        /* extension headers walked before giving up */

#define NET_ETHERTYPE_IPV4 0x0800
#define NET_ETHERTYPE_ARP 0x0806
#define NET_ETHERTYPE_VLAN 0x8100
#define NET_ETHERTYPE_QINQ 0x88a8
#define NET_ETHERTYPE_IPV6 0x86dd

#define NET_PROTO_ICMP 1
#define NET_PROTO_UDP 17
#define NET_PROTO_ICMPV6 58

/* Parsed Ethernet header. */
struct net_l2 {
	uint8_t dst[NET_ETH_ALEN];
	uint8_t src[NET_ETH_ALEN];
	uint16_t tci[NET_MAX_VLANS];  /* tag control info (PCP, DEI, VID), outermost first */
	uint16_t tpid[NET_MAX_VLANS]; /* 0x8100 or 0x88a8 */
	uint8_t n_vlan;               /* 0..NET_MAX_VLANS */
	uint16_t ethertype;           /* of the payload */
	uint16_t l3_off;              /* offset of the payload in the frame */
};

/* VLAN id the frame belongs to: the innermost tag's VID, 0 when untagged. */
static inline uint16_t net_l2_vid(const struct net_l2 *l2)
{
	return l2->n_vlan ? (uint16_t)(l2->tci[l2->n_vlan - 1] & 0x0fff) : 0;
}

/*
 * Parses the Ethernet header of frame[0..len) and up to NET_MAX_VLANS tags.
 * Returns 0, -EINVAL when the frame is shorter than its headers, -ENOTSUP on a third tag.
 */
int net_eth_parse(const uint8_t *frame, size_t len, struct net_l2 *l2);

/*
 * Writes an Ethernet header (dst, src, the tags of l2 with their TPIDs, ethertype) at out.
 * Returns the header length (14 + 4 per tag), -ENOSPC when cap is too small, -EINVAL when
 * l2->n_vlan > NET_MAX_VLANS.
 */
long net_eth_write(uint8_t *out, size_t cap, const struct net_l2 *l2, uint16_t ethertype);

/*
 * Internet checksum (RFC 1071). Adds len bytes to a partial sum (returned folded to 16 bits,
 * so that more may be added); only the last chunk of a sum may have an odd length.
 */
uint32_t net_csum_add(uint32_t sum, const void *data, size_t len);
/* Folds a partial sum to 16 bits and complements it (the value to store, host order). */
uint16_t net_csum_fold(uint32_t sum);

/* Parsed IPv4 header. */
struct net_ip4 {
	uint8_t src[4];
	uint8_t dst[4];
	uint8_t proto;
	uint8_t ttl;
	uint8_t tos;
	uint16_t id;
	uint16_t hlen;      /* header length in bytes (IHL * 4) */
	uint16_t tot_len;   /* total length (header + payload) */
	uint16_t frag_off;  /* fragment offset in bytes */
	bool mf;            /* more fragments */
	bool df;            /* don't fragment */
};

static inline bool net_ip4_is_frag(const struct net_ip4 *ip)
{
	return ip->mf || ip->frag_off != 0;
}

/*
 * Parses and validates the IPv4 header at p[0..len): version 4, IHL >= 5, header within len,
 * total length >= IHL * 4 and <= len (bytes after tot_len are link padding, ignored), header
 * checksum, reserved flag clear, fragment end <= 65535, not both DF and a fragment.
 * Returns 0, -EINVAL on a malformed header, -EBADMSG on a bad header checksum.
 */
int net_ip4_parse(const uint8_t *p, size_t len, struct net_ip4 *ip);

/* Parsed IPv6 header and extension header chain. */
struct net_ip6 {
	uint8_t src[16];
	uint8_t dst[16];
	uint8_t proto;      /* upper-layer protocol after the extension headers */
	uint8_t hop_limit;
	uint32_t flow;      /* traffic class and flow label: the low 28 bits of the first word */
	uint16_t l4_off;    /* offset of the upper-layer header from the IPv6 header */
	uint16_t l4_len;    /* upper-layer (or fragment data) length */
	bool frag;          /* a fragment header was present */
	bool mf;
	uint16_t frag_off;  /* bytes */
	uint32_t frag_id;
};

/*
 * Parses the IPv6 header at p[0..len) and walks at most NET_IP6_MAX_EXT extension headers:
 * hop-by-hop (only first), routing (only with segments left 0), destination options, and a
 * fragment header, which ends the walk: proto is then its next header and l4_off the start of
 * the fragment data. Any other next header value (upper layer, 59 "no next header", ...) ends
 * the walk as proto. Payload bytes beyond the payload length (link padding) are ignored.
 * Returns 0, -EINVAL on a malformed or truncated header, a payload length beyond len, a
 * misplaced hop-by-hop header, too many extension headers or a fragment ending past 65535;
 * -ENOTSUP for a routing header with segments left (we are never an intermediate hop).
 */
int net_ip6_parse(const uint8_t *p, size_t len, struct net_ip6 *ip);

/* IPv6 address classes. */
bool net_ip6_is_multicast(const uint8_t a[16]);
bool net_ip6_is_unspecified(const uint8_t a[16]);
/* Writes the solicited-node multicast address ff02::1:ffXX:XXXX of a. */
void net_ip6_solicited_node(const uint8_t a[16], uint8_t out[16]);

/* Partial sum of the IPv4 / IPv6 pseudo header for an upper-layer protocol and length. */
uint32_t net_ip4_pseudo(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
			uint16_t len);
uint32_t net_ip6_pseudo(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			uint32_t len);

/* Parsed UDP header. */
struct net_udp {
	uint16_t sport;
	uint16_t dport;
	uint16_t len;       /* UDP length field (header + data) */
	uint16_t csum;      /* as received, host order; 0 = none (IPv4 only) */
};

/*
 * Parses and validates the UDP header at p[0..len) where len is the upper-layer length from
 * the IP header and pseudo is the pseudo header sum without its length (net_ip4_pseudo or
 * net_ip6_pseudo with proto 17 and length 0: the UDP length field is added here). The UDP
 * length must be >= 8 and <= len (bytes after it are ignored); the checksum must verify; a
 * zero checksum (none) is accepted only when v6 is false.
 * Returns 0, -EINVAL on a bad length or a zero IPv6 checksum, -EBADMSG on a bad checksum.
 */
int net_udp_parse(const uint8_t *p, size_t len, uint32_t pseudo, bool v6, struct net_udp *u);

/*
 * A UDP flow as seen on the wire: L2 addressing and tags, IP addresses and ports. Received
 * datagrams come with the flow they arrived on; net_flow_reverse() gives the reply flow.
 */
struct net_flow {
	struct net_l2 l2;   /* dst, src, tags (ethertype and l3_off ignored when building) */
	uint8_t family;     /* 4 or 6 */
	uint8_t ttl;        /* TTL / hop limit to send with; 0 means 64 */
	uint8_t tos;        /* IPv4 TOS / IPv6 traffic class */
	uint16_t ip_id;     /* IPv4 identification to send with */
	uint8_t src[16];    /* IPv4 in the first 4 bytes */
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
};

/* Swaps source and destination (MAC, IP, port) of in into out (out may be in). */
void net_flow_reverse(const struct net_flow *in, struct net_flow *out);

/* Bytes of Ethernet + tags + IP + UDP headers net_udp_build writes for f. */
size_t net_udp_hdr_len(const struct net_flow *f);

/*
 * Builds a complete frame in out[0..cap) around a UDP payload of plen bytes that the caller
 * has already written at out + net_udp_hdr_len(f): Ethernet header and tags, IPv4 (DF clear,
 * no options, header checksum) or IPv6 header, UDP header with checksum. The frame may exceed
 * the link MTU: see net_ip4_frag_count(). Frames shorter than 60 bytes are zero padded.
 * Returns the frame length, -ENOSPC when cap is too small, -EINVAL when the family is not
 * 4 or 6, l2.n_vlan > NET_MAX_VLANS or the datagram would exceed 65535 bytes.
 */
long net_udp_build(uint8_t *out, size_t cap, const struct net_flow *f, size_t plen);

/*
 * IPv4 fragmentation on transmit. frame[0..len) holds an L2 header of l3_off bytes then an
 * IPv4 datagram without options (as net_udp_build makes). mtu is the maximum IP datagram
 * size of the link (>= 68).
 * net_ip4_frag_count returns how many fragments the datagram needs (1 when it fits), or
 * -EINVAL for a malformed frame, -EMSGSIZE when it does not fit and DF is set.
 * net_ip4_fragment writes fragment idx (0-based) into out[0..cap): the L2 header, an IPv4
 * header with offset/MF/total length/checksum updated, and the slice of payload (a multiple of
 * 8 bytes except in the last). Returns the fragment's frame length (zero padded to 60), or
 * -EINVAL (malformed frame, options present, idx out of range), -EMSGSIZE, -ENOSPC.
 */
int net_ip4_frag_count(const uint8_t *frame, size_t len, size_t l3_off, unsigned mtu);
long net_ip4_fragment(const uint8_t *frame, size_t len, size_t l3_off, unsigned mtu,
		      unsigned idx, uint8_t *out, size_t cap);

#endif
