/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shakend: the DPDK SIP dataplane.
 *   shakend [EAL options] -- [--addr IP[/VLAN]]... [--port N]... [--mtu N] [--mbufs N]
 *                            [--inline] [--transit] [--stats] [--config FILE]
 * Until the JSON configuration lands, addresses and SIP ports come from the flags.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "dataplane/dp.h"
#include "dataplane/dp_sip_min.h"

static struct dp g_dp;
static struct dp_sip_min g_min;

static void on_signal(int sig)
{
	(void)sig;
	dp_stop(&g_dp);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shakend [EAL options] -- [--addr IP[/VLAN]]... [--port N]... "
		   "[--mtu N] [--mbufs N] [--mbuf-size N] [--inline] [--transit] [--stats] "
		   "[--config FILE]\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

/* "IP" or "IP/VLAN" into cfg. */
static int add_addr(struct net_cfg *cfg, const char *arg)
{
	char buf[64];
	if (strlen(arg) >= sizeof(buf) || cfg->n_addrs == NET_MAX_ADDRS)
		return -EINVAL;
	strcpy(buf, arg);
	struct net_addr *a = &cfg->addrs[cfg->n_addrs];
	unsigned long vid = 0;
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (parse_uint(slash + 1, 4094, &vid))
			return -EINVAL;
	}
	if (net_addr_parse(buf, a))
		return -EINVAL;
	a->vid = (uint16_t)vid;
	cfg->n_addrs++;
	return 0;
}

static int parse_args(int argc, char **argv, struct dp_conf *conf, bool *stats)
{
	static const struct option opts[] = {
		{"addr", required_argument, NULL, 'a'},
		{"port", required_argument, NULL, 'p'},
		{"mtu", required_argument, NULL, 'm'},
		{"mbufs", required_argument, NULL, 'n'},
		{"mbuf-size", required_argument, NULL, 'b'},
		{"inline", no_argument, NULL, 'i'},
		{"transit", no_argument, NULL, 't'},
		{"stats", no_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	unsigned long v;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (add_addr(&conf->net, optarg)) {
				fprintf(stderr, "shakend: --addr %s: want IP or IP/VLAN\n", optarg);
				return -EINVAL;
			}
			break;
		case 'p':
			if (parse_uint(optarg, 65535, &v) || v == 0 ||
			    conf->net.n_ports == NET_MAX_PORTS) {
				fprintf(stderr, "shakend: --port %s: want 1..65535\n", optarg);
				return -EINVAL;
			}
			conf->net.sip_ports[conf->net.n_ports++] = (uint16_t)v;
			break;
		case 'm':
			if (parse_uint(optarg, 9000, &v) || v < 576) {
				fprintf(stderr, "shakend: --mtu %s: want 576..9000\n", optarg);
				return -EINVAL;
			}
			conf->mtu = (unsigned)v;
			break;
		case 'n':
			if (parse_uint(optarg, 1u << 24, &v) || v < 1024) {
				fprintf(stderr, "shakend: --mbufs %s: want 1024..16M\n", optarg);
				return -EINVAL;
			}
			conf->n_mbufs = (unsigned)v;
			break;
		case 'b':
			if (parse_uint(optarg, 65000, &v) || v < 1518) {
				fprintf(stderr, "shakend: --mbuf-size %s: want 1518..65000\n", optarg);
				return -EINVAL;
			}
			conf->mbuf_size = (unsigned)v;
			break;
		case 'i':
			g_min.inline_mode = true;
			break;
		case 't':
			conf->net.transit = true;
			break;
		case 's':
			*stats = true;
			break;
		case 'c':
			fprintf(stderr, "shakend: --config %s: the JSON configuration is not "
					"implemented yet; use --addr/--port\n", optarg);
			return -ENOTSUP;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (conf->net.n_addrs == 0 && !conf->net.transit) {
		fprintf(stderr, "shakend: no address (--addr)\n");
		return -EINVAL;
	}
	if (conf->net.n_ports == 0)
		conf->net.sip_ports[conf->net.n_ports++] = 5060;
	return 0;
}

int main(int argc, char **argv)
{
	int n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "shakend: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= n;
	argv += n;
	argv[0] = (char *)"shakend";
	struct dp_conf conf;
	memset(&conf, 0, sizeof(conf));
	bool stats = false;
	if (parse_args(argc, argv, &conf, &stats)) {
		rte_eal_cleanup();
		return 2;
	}
	struct dp_sip_handler h;
	dp_sip_min_handler(&g_min, &h);
	int rc = dp_init(&g_dp, &conf, &h);
	if (rc) {
		fprintf(stderr, "shakend: dataplane init: %s\n", strerror(-rc));
		dp_fini(&g_dp);
		rte_eal_cleanup();
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("shakend: running on %u lcore(s), %u port(s)\n", g_dp.n_lcores, g_dp.n_ports);
	fflush(stdout);
	rte_eal_mp_remote_launch(dp_lcore_main, &g_dp, CALL_MAIN);
	rte_eal_mp_wait_lcore();
	if (stats) {
		struct dp_stats s;
		dp_stats_sum(&g_dp, &s);
		dp_stats_print(&s, stdout);
		struct dp_sip_min_stats t = {0};
		for (unsigned i = 0; i < g_dp.n_lcores; i++) {
			t.options_ok += g_min.stats[i].options_ok;
			t.other += g_min.stats[i].other;
			t.bad += g_min.stats[i].bad;
			t.forwarded += g_min.stats[i].forwarded;
			t.send_err += g_min.stats[i].send_err;
		}
		printf("sip_options_ok %" PRIu64 "\nsip_other %" PRIu64 "\nsip_bad %" PRIu64
		       "\nsip_forwarded %" PRIu64 "\nsip_send_err %" PRIu64 "\n",
		       t.options_ok, t.other, t.bad, t.forwarded, t.send_err);
	}
	dp_fini(&g_dp);
	rte_eal_cleanup();
	return 0;
}
