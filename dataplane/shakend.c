/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shakend: the DPDK SIP dataplane.
 *   shakend [EAL options] -- --config FILE [--stats] [--mbufs N] [--mbuf-size N]
 *   shakend [EAL options] -- [--addr IP[/VLAN]]... [--port N]... [--mtu N] [--mbufs N]
 *                            [--inline] [--transit] [--stats]
 * With --config (control/cfg.h) everything comes from the JSON file: EAL arguments (before
 * those of the command line), ports, listeners, the HSM engine and its keys, the certificate
 * cache and fetcher, the policy snapshot; the SIP pipelines (dp_pipe.h) run. Without it, the
 * flags give addresses and ports and the minimal handler (OPTIONS, inline forwarding) runs.
 * With --config, operations run too (docs/operations.md): a control thread (SIGHUP and the
 * control socket reload the config without stopping the lcores: dp_ops.h), the Prometheus
 * endpoint and DPDK telemetry commands (dp_metrics.h), and the rate-limited outcome log
 * (dp_log.h).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "control/cfg.h"
#include "dataplane/certcache/cache.h"
#include "dataplane/certcache/fetch.h"
#include "dataplane/dp.h"
#include "dataplane/dp_log.h"
#include "dataplane/dp_metrics.h"
#include "dataplane/dp_ops.h"
#include "dataplane/dp_pipe.h"
#include "dataplane/dp_sip_min.h"
#include "dataplane/policy/policy.h"
#include "hsm/hsm.h"

static struct dp g_dp;
static struct dp_sip_min g_min;
static struct dp_pipe g_pipe;
static const char *g_config;     /* --config FILE */
static struct cfg *g_cfg;
static struct hsm_engine *g_hsm;
static struct cache *g_cache;
static struct fetch *g_fetch;
static bool g_policy;
static char **g_eal_argv;        /* built from the config (freed at exit) */
static uint64_t g_generation;    /* of the policy snapshot published at start */
static struct dp_log *g_log;
static struct dp_metrics *g_metrics;
static struct dp_ops *g_ops;
/* The key URI each credential index was registered with (reload may add, never change). */
static char *g_key_uri[DP_PIPE_CREDS_MAX];

static void on_signal(int sig)
{
	(void)sig;
	dp_stop(&g_dp);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shakend [EAL options] -- --config FILE [--stats] [--mbufs N] "
		   "[--mbuf-size N]\n"
		   "       shakend [EAL options] -- [--addr IP[/VLAN]]... [--port N]... "
		   "[--mtu N] [--mbufs N] [--mbuf-size N] [--inline] [--transit] [--stats]\n");
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
			g_config = optarg;  /* loaded before EAL init (see main) */
			break;
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
	if (g_config) {
		if (conf->net.n_addrs || conf->net.n_ports || conf->net.transit || conf->mtu ||
		    g_min.inline_mode) {
			fprintf(stderr, "shakend: --config excludes --addr, --port, --mtu, "
					"--inline and --transit\n");
			return -EINVAL;
		}
		return 0;
	}
	if (conf->net.n_addrs == 0 && !conf->net.transit) {
		fprintf(stderr, "shakend: no address (--addr)\n");
		return -EINVAL;
	}
	if (conf->net.n_ports == 0)
		conf->net.sip_ports[conf->net.n_ports++] = 5060;
	return 0;
}

/* Finds "--config FILE" (or --config=FILE) after "--"; NULL when absent. */
static const char *prescan_config(int argc, char **argv)
{
	int i = 1;
	while (i < argc && strcmp(argv[i], "--"))
		i++;
	for (i++; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

static void ip_to_addr(const struct cfg_ip *ip, uint16_t vlan, struct net_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = ip->family;
	a->vid = vlan;
	memcpy(a->ip, ip->ip, sizeof(a->ip));
}

/* Index in dp->ports of DPDK port id (dp_init takes the available ports in order). */
static int port_index(uint16_t id)
{
	int i = 0;
	uint16_t pid;
	RTE_ETH_FOREACH_DEV(pid) {
		if (pid == id)
			return i;
		i++;
	}
	return -1;
}

/* Addresses, SIP ports and MTU from the config's listeners and ports. */
static int conf_from_cfg(const struct cfg *c, struct dp_conf *conf)
{
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct cfg_listener *l = &c->listeners[i];
		if (l->mode == CFG_MODE_INLINE)
			conf->net.transit = true;
		if (l->addr.family) {
			struct net_addr a;
			ip_to_addr(&l->addr, l->vlan, &a);
			bool dup = false;
			for (unsigned k = 0; k < conf->net.n_addrs; k++)
				dup |= !memcmp(&conf->net.addrs[k], &a, sizeof(a));
			if (!dup) {
				if (conf->net.n_addrs == NET_MAX_ADDRS)
					return -ENOSPC;
				conf->net.addrs[conf->net.n_addrs++] = a;
			}
		}
		bool dup = false;
		for (unsigned k = 0; k < conf->net.n_ports; k++)
			dup |= conf->net.sip_ports[k] == l->port;
		if (!dup) {
			if (conf->net.n_ports == NET_MAX_PORTS)
				return -ENOSPC;
			conf->net.sip_ports[conf->net.n_ports++] = l->port;
		}
	}
	if (c->n_ports)
		conf->mtu = c->ports[0].mtu;
	return 0;
}

static int listeners_from_cfg(const struct cfg *c, struct dp_pipe_listener *ls)
{
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct cfg_listener *l = &c->listeners[i];
		memset(&ls[i], 0, sizeof(ls[i]));
		if (l->addr.family)
			ip_to_addr(&l->addr, l->vlan, &ls[i].addr);
		ls[i].port = l->port;
		ls[i].iface = -1;
		if (l->iface >= 0) {
			int k = port_index((uint16_t)l->iface);
			if (k < 0) {
				fprintf(stderr, "shakend: listeners[%zu].iface: no DPDK port %d\n",
					i, l->iface);
				return -EINVAL;
			}
			ls[i].iface = (int16_t)k;
		}
		switch (l->mode) {
		case CFG_MODE_SIGN_REDIRECT:
			ls[i].mode = DP_PIPE_SIGN_REDIRECT;
			break;
		case CFG_MODE_VERIFY_REDIRECT:
			ls[i].mode = DP_PIPE_VERIFY_REDIRECT;
			break;
		default: {
			ls[i].mode = DP_PIPE_INLINE;
			int k = port_index(l->peer_port);
			if (k < 0) {
				fprintf(stderr, "shakend: listeners[%zu].peer: no DPDK port %u\n", i,
					l->peer_port);
				return -EINVAL;
			}
			ls[i].peer = (uint16_t)k;
			ls[i].sign = l->sign;
			ls[i].verify = l->verify;
		}
		}
	}
	return 0;
}

/* The HSM engine, its tokens and one key per pkcs11: credential. */
static int hsm_from_cfg(const struct cfg *c, struct dp_pipe_cfg *pc)
{
	if (!c->hsm.module)
		return 0;
	struct hsm_engine_cfg hc = {
		.module_path = c->hsm.module,
		.pin_env = c->hsm.pin_env,
		.sessions = c->hsm.sessions,
		.default_timeout_ns = (uint64_t)c->hsm.deadline_ms * 1000000u,
	};
	int rc = hsm_engine_create(&hc, &g_hsm);
	if (rc)
		return rc;
	char uri[2048];
	for (size_t i = 0; i < c->hsm.n_tokens; i++) {
		const char *t = c->hsm.tokens[i];
		if (c->hsm.pin_file && !strstr(t, "pin-source="))
			snprintf(uri, sizeof(uri), "%s%cpin-source=file:%s", t,
				 strchr(t, '?') ? '&' : '?', c->hsm.pin_file);
		else
			snprintf(uri, sizeof(uri), "%s", t);
		rc = hsm_engine_add_token(g_hsm, uri);
		if (rc < 0) {
			fprintf(stderr, "shakend: hsm.tokens[%zu]: %s\n", i, strerror(-rc));
			return rc;
		}
	}
	rc = hsm_engine_start(g_hsm);
	if (rc && rc != -ENODEV)
		return rc;
	if (rc == -ENODEV)
		fprintf(stderr, "shakend: no HSM token in service yet (probing)\n");
	for (size_t i = 0; i < c->n_creds && i < DP_PIPE_CREDS_MAX; i++) {
		g_key_uri[i] = strdup(c->creds[i].key);
		if (strncmp(c->creds[i].key, "pkcs11:", 7))
			continue;
		uint32_t id;
		rc = hsm_engine_key_add(g_hsm, c->creds[i].key, &id);
		if (rc) {
			fprintf(stderr, "shakend: credentials[%zu].key: %s (calls of this "
					"credential go unsigned)\n", i, strerror(-rc));
			continue;
		}
		pc->cred_keys[i] = id;
		pc->cred_key_ok[i] = true;
	}
	pc->hsm = g_hsm;
	pc->sign_deadline_ms = c->hsm.deadline_ms;
	return 0;
}

/* The certificate cache, and the fetcher when a trust store is configured. */
static int verify_from_cfg(const struct cfg *c, struct dp_pipe_cfg *pc)
{
	struct cache_cfg cc;
	cache_cfg_default(&cc);
	const struct cfg_cache *k = &c->verify.cache;
	if (k->max_entries)
		cc.max_entries = k->max_entries;
	if (k->max_bytes)
		cc.max_bytes = k->max_bytes;
	if (k->ttl_floor_s)
		cc.ttl_floor_s = k->ttl_floor_s;
	if (k->ttl_ceiling_s)
		cc.ttl_ceiling_s = k->ttl_ceiling_s;
	if (k->ttl_default_s)
		cc.ttl_default_s = k->ttl_default_s;
	if (k->neg_ttl_min_s)
		cc.neg_ttl_min_s = k->neg_ttl_min_s;
	if (k->neg_ttl_max_s)
		cc.neg_ttl_max_s = k->neg_ttl_max_s;
	int rc = cache_create(&cc, &g_cache);
	if (rc)
		return rc;
	pc->cache = g_cache;
	pc->park_timeout_ms = c->verify.park_timeout_ms;
	pc->freshness_s = c->verify.freshness_s;
	if (!c->verify.trust) {
		fprintf(stderr, "shakend: no verify.trust: certificates are not fetched\n");
		return 0;
	}
	struct fetch_cfg fc;
	memset(&fc, 0, sizeof(fc));
	fc.x5u.allow_hosts = c->verify.allow_hosts;
	fc.x5u.n_allow_hosts = (unsigned)c->verify.n_allow_hosts;
	fc.x5u.timeout_ms = c->verify.fetch_timeout_ms;
	fc.deny_hosts = c->verify.deny_hosts;
	fc.n_deny_hosts = (unsigned)c->verify.n_deny_hosts;
	fc.crl_urls = c->verify.crl_urls;
	fc.n_crl_urls = (unsigned)c->verify.n_crl_urls;
	fc.trust_path = c->verify.trust;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = fetch_create(&fc, g_cache, &g_fetch);
	if (rc) {
		fprintf(stderr, "shakend: certificate fetcher: %s\n", strerror(-rc));
		return rc;
	}
	pc->fetch = g_fetch;
	return 0;
}

/* Everything --config describes but EAL and the dataplane itself. */
static int build_from_cfg(struct dp_conf *conf, struct dp_pipe_cfg *pc,
			  struct dp_pipe_listener *ls)
{
	const struct cfg *c = g_cfg;
	char err[512];
	int rc = conf_from_cfg(c, conf);
	if (rc) {
		fprintf(stderr, "shakend: listeners: too many addresses or ports\n");
		return rc;
	}
	rc = listeners_from_cfg(c, ls);
	if (rc)
		return rc;
	memset(pc, 0, sizeof(*pc));
	pc->listeners = ls;
	pc->n_listeners = (unsigned)c->n_listeners;
	pc->transit = conf->net.transit;
	rc = hsm_from_cfg(c, pc);
	if (rc) {
		fprintf(stderr, "shakend: hsm: %s\n", strerror(-rc));
		return rc;
	}
	rc = verify_from_cfg(c, pc);
	if (rc)
		return rc;
	struct pol_snapshot *snap;
	rc = pol_snapshot_load(c, NULL, &snap, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "shakend: policy: %s\n", err);
		return rc;
	}
	g_generation = pol_publish(snap);
	g_policy = true;
	pc->use_policy = true;
	return 0;
}

/*
 * Reload, before the new snapshot is published (control thread): a credential index keeps the
 * key it was registered with (lcores map index -> HSM key id without a lock); a new index gets
 * its key registered now, before any snapshot names it.
 */
static int ops_prepare(void *arg, const struct cfg *cur, const struct cfg *next, char *err,
		       size_t errlen)
{
	(void)arg;
	(void)cur;
	for (size_t i = 0; i < next->n_creds && i < DP_PIPE_CREDS_MAX; i++) {
		const char *key = next->creds[i].key;
		if (g_key_uri[i]) {
			if (strcmp(g_key_uri[i], key)) {
				snprintf(err, errlen, "credentials[%zu].key: a credential's key "
						      "cannot change without a restart (add a new "
						      "credential instead)", i);
				return -EINVAL;
			}
			continue;
		}
		char *dup = strdup(key);
		if (!dup) {
			snprintf(err, errlen, "credentials[%zu].key: out of memory", i);
			return -ENOMEM;
		}
		g_key_uri[i] = dup;
		if (!g_hsm || strncmp(key, "pkcs11:", 7))
			continue;
		uint32_t id;
		int rc = hsm_engine_key_add(g_hsm, key, &id);
		if (rc) {
			fprintf(stderr, "shakend: reload: credentials[%zu].key: %s (calls of this "
					"credential go unsigned)\n", i, strerror(-rc));
			continue;
		}
		/* published to the lcores by the snapshot swap that follows */
		g_pipe.cfg.cred_keys[i] = id;
		g_pipe.cfg.cred_key_ok[i] = true;
	}
	return 0;
}

static void ops_applied(void *arg, const struct cfg *next, uint64_t generation)
{
	(void)arg;
	(void)generation;
	dp_log_set_rate(g_log, next->log_rate_per_s);
	dp_log_set_level(g_log, (unsigned)next->log_level);
}

static long ops_stats(void *arg, enum dp_ops_cmd cmd, char *buf, size_t cap)
{
	(void)arg;
	return dp_metrics_ops_stats(g_metrics, cmd, buf, cap);
}

/* The outcome log, the metrics endpoint and telemetry, the control thread (with --config). */
static int ops_start(const char *path)
{
	const struct cfg *c = g_cfg;
	struct dp_log_cfg lc = {
		.n_lcores = g_dp.n_lcores,
		.rate_per_s = c->log_rate_per_s,
		.level = (unsigned)c->log_level,
	};
	int rc = dp_log_create(&lc, &g_log);
	if (rc == 0)
		rc = dp_log_start(g_log);
	if (rc) {
		fprintf(stderr, "shakend: outcome log: %s\n", strerror(-rc));
		return rc;
	}
	dp_log_set_global(g_log);
	struct dp_metrics_src src = {
		.dp = &g_dp, .pipe = &g_pipe, .cache = g_cache, .fetch = g_fetch, .hsm = g_hsm,
		.log = g_log,
	};
	const char *addr = c->prometheus ? c->prometheus : DP_METRICS_ADDR_DEFAULT;
	rc = dp_metrics_start(&src, addr, &g_metrics);
	if (rc && !c->prometheus) {
		fprintf(stderr, "shakend: metrics on %s: %s (set telemetry.prometheus; "
				"telemetry commands only)\n", addr, strerror(-rc));
		rc = dp_metrics_start(&src, NULL, &g_metrics);
	}
	if (rc) {
		fprintf(stderr, "shakend: telemetry.prometheus %s: %s\n", addr, strerror(-rc));
		return rc;
	}
	struct dp_ops_cfg oc = {
		.config_path = path,
		.socket_path = c->control_socket ? c->control_socket : DP_OPS_SOCKET_DEFAULT,
		.cfg = c,
		.generation = g_generation,
		.fetch = g_fetch,
		.hooks = {.prepare = ops_prepare, .applied = ops_applied, .stats = ops_stats},
		.sighup = true,
	};
	rc = dp_ops_start(&oc, &g_ops);
	if (rc && !c->control_socket) {
		fprintf(stderr, "shakend: control socket %s: %s (set control.socket; SIGHUP "
				"reloads)\n", oc.socket_path, strerror(-rc));
		oc.socket_path = NULL;
		rc = dp_ops_start(&oc, &g_ops);
	}
	if (rc) {
		fprintf(stderr, "shakend: control.socket %s: %s\n", oc.socket_path,
			strerror(-rc));
		return rc;
	}
	dp_metrics_set_ops(g_metrics, g_ops);
	return 0;
}

static void ops_stop(void)
{
	dp_ops_stop(g_ops);        /* no reload (snapshot publish) after this */
	g_ops = NULL;
	dp_metrics_stop(g_metrics);
	g_metrics = NULL;
	dp_log_set_global(NULL);
	dp_log_destroy(g_log);     /* last drain */
	g_log = NULL;
}

static void teardown(void)
{
	ops_stop();
	fetch_destroy(g_fetch);   /* before the lcores' wake rings go */
	g_fetch = NULL;
	dp_fini(&g_dp);
	if (g_policy)
		pol_shutdown();
	cache_destroy(g_cache);
	hsm_engine_destroy(g_hsm);
	cfg_free(g_cfg);
	rte_eal_cleanup();
	free(g_eal_argv);
	for (unsigned i = 0; i < DP_PIPE_CREDS_MAX; i++) {
		free(g_key_uri[i]);
		g_key_uri[i] = NULL;
	}
}

/*
 * Threads shakend creates (HSM workers, fetchers, control, metrics, logger) inherit the
 * creator's CPU affinity: the main lcore's single CPU, which its poll loop keeps busy (a
 * control socket request then waits on the scheduler for a second). So the main thread runs
 * on the control CPUs (those of the process not given to an lcore; all of them when every CPU
 * polls) while it creates them, and goes back to its lcore's CPU before launching.
 */
static cpu_set_t g_startup_cpus, g_lcore_cpus;

static void affinity_control(void)
{
	pthread_t self = pthread_self();
	if (pthread_getaffinity_np(self, sizeof(g_lcore_cpus), &g_lcore_cpus))
		return;
	cpu_set_t ctrl = g_startup_cpus;
	unsigned lc;
	RTE_LCORE_FOREACH(lc) {
		rte_cpuset_t set = rte_lcore_cpuset(lc);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				CPU_CLR(c, &ctrl);
	}
	if (CPU_COUNT(&ctrl) == 0)
		ctrl = g_startup_cpus;
	pthread_setaffinity_np(self, sizeof(ctrl), &ctrl);
}

static void affinity_lcore(void)
{
	pthread_setaffinity_np(pthread_self(), sizeof(g_lcore_cpus), &g_lcore_cpus);
}

int main(int argc, char **argv)
{
	CPU_ZERO(&g_startup_cpus);
	sched_getaffinity(0, sizeof(g_startup_cpus), &g_startup_cpus);
	/* --config first: its EAL arguments go before those of the command line */
	const char *path = prescan_config(argc, argv);
	char **eal_argv = argv;
	int eal_argc = argc;
	if (path) {
		char err[1024];
		int rc = cfg_load_file(path, &g_cfg, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "shakend: %s\n", err);
			return 2;
		}
		eal_argv = g_eal_argv = calloc((size_t)argc + g_cfg->n_eal + 1, sizeof(char *));
		if (!eal_argv)
			return 1;
		eal_argv[0] = argv[0];
		eal_argc = 1;
		for (size_t i = 0; i < g_cfg->n_eal; i++)
			eal_argv[eal_argc++] = (char *)g_cfg->eal[i];
		for (int i = 1; i < argc; i++)
			eal_argv[eal_argc++] = argv[i];
	}
	int n = rte_eal_init(eal_argc, eal_argv);
	if (n < 0) {
		fprintf(stderr, "shakend: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	affinity_control();
	argc = eal_argc - n;
	argv = eal_argv + n;
	argv[0] = (char *)"shakend";
	struct dp_conf conf;
	memset(&conf, 0, sizeof(conf));
	bool stats = false;
	if (parse_args(argc, argv, &conf, &stats)) {
		cfg_free(g_cfg);
		rte_eal_cleanup();
		return 2;
	}
	struct dp_sip_handler h;
	static struct dp_pipe_listener ls[DP_PIPE_LISTENERS_MAX];
	if (g_cfg) {
		struct dp_pipe_cfg pc;
		if (g_cfg->n_listeners > DP_PIPE_LISTENERS_MAX ||
		    build_from_cfg(&conf, &pc, ls) || dp_pipe_handler(&g_pipe, &pc, &h)) {
			fprintf(stderr, "shakend: %s: cannot set up the pipelines\n", path);
			teardown();
			return 1;
		}
	} else {
		dp_sip_min_handler(&g_min, &h);
	}
	int rc = dp_init(&g_dp, &conf, &h);
	if (rc) {
		fprintf(stderr, "shakend: dataplane init: %s\n", strerror(-rc));
		teardown();
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (g_cfg && ops_start(path)) {
		teardown();
		return 1;
	}
	printf("shakend: running on %u lcore(s), %u port(s)\n", g_dp.n_lcores, g_dp.n_ports);
	fflush(stdout);
	affinity_lcore();
	rte_eal_mp_remote_launch(dp_lcore_main, &g_dp, CALL_MAIN);
	rte_eal_mp_wait_lcore();
	ops_stop();  /* the lcores are gone: drain the outcome log, stop reloads */
	if (stats) {
		struct dp_stats s;
		dp_stats_sum(&g_dp, &s);
		dp_stats_print(&s, stdout);
		if (g_cfg) {
			struct dp_pipe_stats ps;
			dp_pipe_stats_sum(&g_pipe, g_dp.n_lcores, &ps);
			dp_pipe_stats_print(&ps, stdout);
		} else {
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
	}
	teardown();
	return 0;
}
