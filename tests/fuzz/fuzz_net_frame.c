/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzzes the packet classifier and IP reassembly. Input: one control byte (bit 0: transit
 * mode, bits 1-7: MTU selector for re-fragmenting SIP datagrams), then frames, each preceded
 * by a 2-byte big-endian length (a short last frame takes the rest). All frames go through one
 * reassembly table, so fragment sequences are explored; the clock advances per frame.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/net/net.h"
#include "dataplane/net/net_classify.h"
#include "dataplane/net/net_reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct net_reasm_slot slots[4];
static uint8_t out[16384];
static uint8_t frame[NET_REASM_MAX_SIZE + 128];
static uint8_t frag[NET_REASM_MAX_SIZE + 128];
static volatile uint8_t sink;

static void setup(struct net_cfg *cfg, bool transit)
{
	memset(cfg, 0, sizeof(*cfg));
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	memcpy(cfg->mac, mac, 6);
	(void)net_addr_parse("192.0.2.1", &cfg->addrs[0]);
	(void)net_addr_parse("2001:db8::1", &cfg->addrs[1]);
	(void)net_addr_parse("198.51.100.1", &cfg->addrs[2]);
	cfg->addrs[2].vid = 100;
	cfg->n_addrs = 3;
	cfg->sip_ports[0] = 5060;
	cfg->n_ports = 1;
	cfg->transit = transit;
}

/* Builds the reply datagram of a SIP result and fragments it, as the dataplane does. */
static void reply(const struct net_result *res, unsigned mtu)
{
	struct net_flow f;
	net_flow_reverse(&res->flow, &f);
	size_t hl = net_udp_hdr_len(&f);
	size_t plen = res->plen < sizeof(frame) - hl ? res->plen : sizeof(frame) - hl;
	memcpy(frame + hl, res->payload, plen);
	long n = net_udp_build(frame, sizeof(frame), &f, plen);
	if (n <= 0 || f.family != 4)
		return;
	size_t l3 = hl - NET_IP4_HLEN - NET_UDP_HLEN;
	int k = net_ip4_frag_count(frame, (size_t)n, l3, mtu);
	for (int i = 0; i < k; i++) {
		long fl = net_ip4_fragment(frame, (size_t)n, l3, mtu, (unsigned)i, frag,
					   sizeof(frag));
		if (fl > 0)
			sink ^= frag[fl - 1];
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct net_cfg cfg;
	setup(&cfg, data[0] & 1);
	unsigned mtu = 68 + (unsigned)(data[0] >> 1) * 12;
	struct net_reasm r;
	if (net_reasm_init(&r, slots, 4, 8))
		return 0;
	data++;
	size--;
	for (uint64_t now = 0; size > 0; now++) {
		size_t len = size;
		if (size >= 2) {
			size_t want = (size_t)data[0] << 8 | data[1];
			if (want <= size - 2) {
				data += 2;
				size -= 2;
				len = want;
			}
		}
		struct net_result res;
		net_classify(&cfg, data, len, &r, now, out, sizeof(out), &res);
		if (res.verdict == NET_V_REPLY && res.reply_len)
			sink ^= out[res.reply_len - 1];
		if (res.verdict == NET_V_SIP) {
			for (size_t i = 0; i < res.plen; i++)
				sink ^= res.payload[i];
			reply(&res, mtu);
			if (res.slot)
				net_reasm_release(&r, res.slot);
		}
		data += len;
		size -= len;
	}
	return 0;
}
