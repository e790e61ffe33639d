/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-bench: each headline figure of shakend beside its baseline, measured in the same run.
 *   shaken-bench crypto|certcache|dataplane|hsm [--seconds S] [--rounds N] [--json]
 */
#include "bench/bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Exactly o->count calls, untimed; returns the count (a rate only in name). */
static double count_once(const struct bench_opts *o, bench_fn fn, void *ctx)
{
	for (unsigned long i = 0; i < o->count; i++)
		if (fn(ctx) != 0)
			return -1;
	return (double)o->count;
}

/* One timed stretch: calls fn in batches until the time is up. */
static double rate_once(double seconds, bench_fn fn, void *ctx)
{
	unsigned long n = 0;
	double t0 = now_s(), t;
	do {
		for (unsigned i = 0; i < 64; i++)
			if (fn(ctx) != 0)
				return -1;
		n += 64;
		t = now_s();
	} while (t - t0 < seconds);
	return (double)n / (t - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define BENCH_MAX_ROUNDS 64

double bench_rate(const struct bench_opts *o, bench_fn fn, void *ctx)
{
	double r[BENCH_MAX_ROUNDS];
	unsigned n = o->rounds;
	if (o->count)
		return count_once(o, fn, ctx);
	for (unsigned i = 0; i < n; i++)
		if ((r[i] = rate_once(o->seconds, fn, ctx)) < 0)
			return -1;
	return median(r, n);
}

int bench_pair(const struct bench_opts *o, bench_fn base, void *base_ctx, double *base_rate,
	       bench_fn fn, void *ctx, double *rate)
{
	double rb[BENCH_MAX_ROUNDS], rc[BENCH_MAX_ROUNDS];
	unsigned n = o->rounds;
	if (o->count) {
		*base_rate = count_once(o, base, base_ctx);
		*rate = count_once(o, fn, ctx);
		return *base_rate < 0 || *rate < 0 ? -1 : 0;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((rb[i] = rate_once(o->seconds, base, base_ctx)) < 0)
			return -1;
		if ((rc[i] = rate_once(o->seconds, fn, ctx)) < 0)
			return -1;
	}
	*base_rate = median(rb, n);
	*rate = median(rc, n);
	return 0;
}

void bench_report(const struct bench_opts *o, json_t *out, const char *name, double rate,
		  const char *base_name, double base_rate, double target)
{
	json_t *row = json_object();
	json_object_set_new(row, "rate_per_s", json_real(rate));
	if (base_name) {
		double ratio = rate / base_rate;
		json_object_set_new(row, "baseline", json_string(base_name));
		json_object_set_new(row, "baseline_rate_per_s", json_real(base_rate));
		json_object_set_new(row, "ratio", json_real(ratio));
		if (target > 0) {
			json_object_set_new(row, "target_ratio", json_real(target));
			json_object_set_new(row, "meets_target", json_boolean(ratio >= target));
		}
		if (!o->json_only)
			printf("%-28s %12.0f /s   %-26s %12.0f /s   ratio %5.3f  (target >= %.2f%s)\n",
			       name, rate, base_name, base_rate, ratio, target,
			       ratio >= target ? "" : ", MISSED");
	} else {
		if (target > 0) {
			json_object_set_new(row, "target_per_s", json_real(target));
			json_object_set_new(row, "meets_target", json_boolean(rate >= target));
		}
		if (!o->json_only)
			printf("%-28s %12.0f /s   %-26s %12s      %s %.0f /s%s\n", name, rate, "-", "",
			       "target >=", target, rate >= target ? "" : ", MISSED");
	}
	json_object_set_new(out, name, row);
}

struct bench_cmd {
	const char *name;
	int (*run)(const struct bench_opts *o, json_t *out);
	const char *help;
};

static const struct bench_cmd cmds[] = {
	{"crypto", bench_crypto_main,
	 "PASSporT build+sign and verify per core vs raw OpenSSL; SIP parse rate"},
	{"certcache", bench_certcache_main,
	 "x5u certificate cache: lookups/s per core (100k warm), miss storm of 10k URLs"},
#ifdef SHAKEND_BENCH_DATAPLANE
	{"dataplane", bench_dataplane_main,
	 "SIP pipeline in process (net_ring, 1 lcore): sign/verify vs raw HSM/OpenSSL, passthrough"},
#endif
	{"hsm", bench_hsm_main,
	 "HSM engine vs raw PKCS#11 C_Sign (N sessions); injected latency vs min(raw, D/L)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: shaken-bench COMMAND [--seconds S] [--rounds N] [--json]\n\n"
		   "Each figure is printed beside its baseline measured in the same run; the\n"
		   "case and its baseline alternate round by round and medians are kept.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\noptions:\n"
		   "  --seconds S   time per case per round (default 0.5)\n"
		   "  --rounds N    rounds, median kept (default 5, at most 64)\n"
		   "  --json        print only the JSON document\n"
		   "  --count N     run each case exactly N times, untimed (rates are then\n"
		   "                meaningless): for instruction counts, see bench/callgrind.sh\n");
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.seconds = 0.5, .rounds = 5};
	static const struct option longopts[] = {
		{"seconds", required_argument, NULL, 's'},
		{"rounds", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"count", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const struct bench_cmd *cmd = NULL;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			cmd = &cmds[i];
	if (!cmd) {
		fprintf(stderr, "shaken-bench: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 's':
			o.seconds = strtod(optarg, &end);
			if (*end || o.seconds <= 0 || o.seconds > 60) {
				fprintf(stderr, "shaken-bench: --seconds takes 0 < S <= 60\n");
				return 2;
			}
			break;
		case 'r':
			o.rounds = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o.rounds < 1 || o.rounds > BENCH_MAX_ROUNDS) {
				fprintf(stderr, "shaken-bench: --rounds takes 1..%d\n", BENCH_MAX_ROUNDS);
				return 2;
			}
			break;
		case 'j':
			o.json_only = true;
			break;
		case 'c':
			o.count = strtoul(optarg, &end, 10);
			if (*end || o.count < 1 || o.count > 100000000) {
				fprintf(stderr, "shaken-bench: --count takes 1..100000000\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	json_t *out = json_object();
	json_object_set_new(out, "command", json_string(cmd->name));
	json_object_set_new(out, "seconds_per_round", json_real(o.seconds));
	json_object_set_new(out, "rounds", json_integer(o.rounds));
	json_t *res = json_object();
	int rc = cmd->run(&o, res);
	json_object_set_new(out, "results", res);
	if (!o.json_only)
		printf("\n");
	json_dumpf(out, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	printf("\n");
	json_decref(out);
	return rc ? 1 : 0;
}
