/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Operations, without EAL: the control request parser, JSON escaping, the restart diff, a
 * reload through dp_ops_handle (good and broken config files), the Prometheus and JSON
 * formatters on known counters, the HTTP request parser, the outcome log line and its ring
 * (drops, never blocks, under a flood) and rate limit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "control/cfg.h"
#include "dataplane/dp_log.h"
#include "dataplane/dp_metrics.h"
#include "dataplane/dp_ops.h"
#include "dataplane/policy/policy.h"

/* ---- request parser ---- */

static int parse(const char *s, enum dp_ops_cmd *cmd, char *err, size_t errlen)
{
	struct dp_ops_req r;
	int rc = dp_ops_req_parse(s, strlen(s), &r, err, errlen);
	if (rc == 0)
		*cmd = r.cmd;
	return rc;
}

Test(ops_req, accepts_the_four_commands)
{
	static const struct {
		const char *req;
		enum dp_ops_cmd cmd;
	} ok[] = {
		{"{\"cmd\":\"reload\"}", DP_OPS_RELOAD},
		{" { \"cmd\" : \"stats\" } \r", DP_OPS_STATS},
		{"{\"cmd\":\"cache-stats\"}", DP_OPS_CACHE_STATS},
		{"{\"cmd\":\"version\"}\n", DP_OPS_VERSION},
		{"{\"cmd\":\"\\u0072eload\"}", DP_OPS_RELOAD},
		{"{\"c\\u006dd\":\"stats\"}", DP_OPS_STATS},
		{"{\"cmd\":\"cache\\u002dstats\"}", DP_OPS_CACHE_STATS},
	};
	char err[128];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum dp_ops_cmd c = DP_OPS_NONE;
		cr_assert_eq(parse(ok[i].req, &c, err, sizeof(err)), 0, "%s: %s", ok[i].req, err);
		cr_assert_eq(c, ok[i].cmd, "%s", ok[i].req);
	}
	cr_assert_str_eq(dp_ops_cmd_name(DP_OPS_CACHE_STATS), "cache-stats");
	cr_assert_str_eq(dp_ops_cmd_name(DP_OPS_NONE), "");
}

Test(ops_req, rejects_with_a_reason)
{
	static const struct {
		const char *req;
		const char *err;   /* a substring of the message */
	} bad[] = {
		{"", "offset 0: expected '{'"},
		{"{}", "cmd: missing"},
		{"{\"cmd\":\"rel0ad\"}", "cmd: unknown command \"rel0ad\""},
		{"{\"cmd\":\"reload\",\"x\":\"y\"}", "unknown key \"x\""},
		{"{\"cmd\":\"reload\",\"cmd\":\"stats\"}", "cmd: given twice"},
		{"{\"cmd\":1}", "cmd: expected a string"},
		{"{\"cmd\":\"reload\"} x", "trailing bytes"},
		{"{\"cmd\":\"reload\"", "expected '}'"},
		{"{\"cmd\":\"reload", "unterminated string"},
		{"{\"cmd\":\"re\\xload\"}", "bad escape"},
		{"{\"cmd\":\"\\u00e9\"}", "outside ASCII"},
		{"{\"cmd\":\"\\u0000\"}", "outside ASCII"},
		{"{\"cmd\":\"\\u12\"}", "bad \\u escape"},
		{"{\"cmd\":\"r\xc3\xa9load\"}", "byte 0xc3"},
		{"{\"cmd\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "longer than 31"},
		{"[\"cmd\",\"reload\"]", "expected '{'"},
		{"{\"cmd\" \"reload\"}", "expected ':'"},
	};
	char err[160];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum dp_ops_cmd c;
		cr_assert_eq(parse(bad[i].req, &c, err, sizeof(err)), -EINVAL, "%s", bad[i].req);
		cr_assert(strstr(err, bad[i].err), "%s: got \"%s\", want \"%s\"", bad[i].req, err,
			  bad[i].err);
	}
}

Test(ops_req, bounded_and_nul_safe)
{
	char big[DP_OPS_REQ_MAX + 2];
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"cmd\":\"stats\"}", 15);
	struct dp_ops_req r;
	char err[64];
	cr_assert_eq(dp_ops_req_parse(big, DP_OPS_REQ_MAX, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dp_ops_req_parse(big, DP_OPS_REQ_MAX + 1, &r, err, sizeof(err)), -E2BIG);
	/* an embedded NUL is a byte like another: refused, nothing read past len */
	static const char nul[] = "{\"cmd\":\"stats\0\"}";
	cr_assert_eq(dp_ops_req_parse(nul, sizeof(nul) - 1, &r, err, sizeof(err)), -EINVAL);
	cr_assert_eq(dp_ops_req_parse("{\"cmd\":\"stats\"}", 14, &r, err, sizeof(err)), -EINVAL);
	/* a tiny error buffer is still terminated */
	char e2[4] = "zzz";
	cr_assert_eq(dp_ops_req_parse("x", 1, &r, e2, sizeof(e2)), -EINVAL);
	cr_assert_eq(e2[3], '\0');
	cr_assert_eq(dp_ops_req_parse(NULL, 1, &r, err, sizeof(err)), -EINVAL);
	cr_assert_eq(dp_ops_req_parse("{}", 2, NULL, err, sizeof(err)), -EINVAL);
}

Test(ops_json, escapes)
{
	char b[64];
	cr_assert_eq(dp_ops_json_str(b, sizeof(b), "a\"b\\c\n\x01\xff"), 27);
	cr_assert_str_eq(b, "\"a\\\"b\\\\c\\u000a\\u0001\\u00ff\"");
	cr_assert_eq(dp_ops_json_str(b, 5, "abcdef"), -ENOSPC);
	cr_assert_eq(strlen(b), 4);
	cr_assert_eq(dp_ops_json_str(b, sizeof(b), NULL), 2);
	cr_assert_str_eq(b, "\"\"");
}

/* ---- restart diff and reload ---- */

#define CFG_HEAD \
	"{\"eal\": [\"--no-huge\"], \"ports\": [{\"id\": 0}]," \
	" \"listeners\": [{\"addr\": \"192.0.2.1\", \"port\": %d, \"mode\": \"sign-redirect\"}]," \
	" \"credentials\": [{\"id\": \"main\", \"key\": \"/k.pem\"," \
	"  \"x5u\": \"https://cr.example.net/sp1.pem\"}]," \
	" \"trunks\": [{\"name\": \"acme\", \"prefix\": \"%s\", \"kind\": \"customer\"," \
	"  \"origid\": \"11111111-2222-4333-8444-555555555555\"}]," \
	" \"log\": {\"rate_per_s\": %d}}"

static struct cfg *mkcfg(int port, const char *prefix, int rate)
{
	char j[2048], err[256];
	snprintf(j, sizeof(j), CFG_HEAD, port, prefix, rate);
	struct cfg *c;
	cr_assert_eq(cfg_parse(j, strlen(j), &c, err, sizeof(err)), 0, "%s", err);
	return c;
}

Test(ops_diff, names_restart_sections)
{
	struct cfg *a = mkcfg(5060, "198.51.100.0/24", 10);
	struct cfg *b = mkcfg(5060, "203.0.113.0/24", 99);
	struct cfg *c = mkcfg(5070, "198.51.100.0/24", 10);
	char buf[128];
	cr_assert_eq(dp_ops_restart_diff(a, b, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(dp_ops_restart_diff(a, c, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "\"listeners\"");
	cr_assert_eq(dp_ops_restart_diff(a, c, buf, 5), -ENOSPC);
	cfg_free(a);
	cfg_free(b);
	cfg_free(c);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(s, f);
	fclose(f);
}

static unsigned applied_rate;
static void on_applied(void *arg, const struct cfg *next, uint64_t gen)
{
	(void)arg;
	(void)gen;
	applied_rate = next->log_rate_per_s;
}

Test(ops_reload, publishes_or_keeps_the_old_config)
{
	char path[] = "/tmp/test_ops_cfgXXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	char j[2048], err[256];
	snprintf(j, sizeof(j), CFG_HEAD, 5060, "198.51.100.0/24", 10);
	write_file(path, j);
	struct cfg *c0;
	cr_assert_eq(cfg_load_file(path, &c0, err, sizeof(err)), 0, "%s", err);
	struct pol_snapshot *s0;
	cr_assert_eq(pol_snapshot_load(c0, NULL, &s0, err, sizeof(err)), 0, "%s", err);
	uint64_t g0 = pol_publish(s0);
	struct dp_ops_cfg oc = {.config_path = path, .cfg = c0, .generation = g0,
				.hooks = {.applied = on_applied}};
	struct dp_ops *o;
	cr_assert_eq(dp_ops_start(&oc, &o), 0);
	char reply[4096];
	/* a changed trunk table and log rate: live */
	snprintf(j, sizeof(j), CFG_HEAD, 5060, "203.0.113.0/24", 77);
	write_file(path, j);
	static const char rl[] = "{\"cmd\":\"reload\"}";
	long n = dp_ops_handle(o, rl, sizeof(rl) - 1, reply, sizeof(reply));
	cr_assert_gt(n, 0);
	char want[256];
	snprintf(want, sizeof(want), "{\"ok\":true,\"cmd\":\"reload\",\"generation\":%llu,"
		 "\"trust_reloaded\":false,\"restart_needed\":[]}", (unsigned long long)g0 + 1);
	cr_assert_str_eq(reply, want);
	cr_assert_eq(applied_rate, 77);
	/* a changed listener: reloaded, restart named */
	snprintf(j, sizeof(j), CFG_HEAD, 5070, "203.0.113.0/24", 77);
	write_file(path, j);
	n = dp_ops_handle(o, rl, sizeof(rl) - 1, reply, sizeof(reply));
	cr_assert(strstr(reply, "\"restart_needed\":[\"listeners\"]"), "%s", reply);
	/* broken: the old one stays, the error names the field */
	snprintf(j, sizeof(j), CFG_HEAD, 5070, "198.51.100.0/33", 5);
	write_file(path, j);
	n = dp_ops_handle(o, rl, sizeof(rl) - 1, reply, sizeof(reply));
	cr_assert(strstr(reply, "\"ok\":false"), "%s", reply);
	cr_assert(strstr(reply, "trunks[0].prefix"), "%s", reply);
	cr_assert_eq(applied_rate, 77);
	struct dp_ops_stats st;
	dp_ops_stats(o, &st);
	cr_assert_eq(st.generation, g0 + 2);
	cr_assert_eq(st.reloads_ok, 2);
	cr_assert_eq(st.reloads_failed, 1);
	char le[512];
	dp_ops_last_error(o, le, sizeof(le));
	cr_assert(strstr(le, "trunks[0].prefix"), "%s", le);
	static const char sr[] = "{\"cmd\":\"stats\"}";
	n = dp_ops_handle(o, sr, sizeof(sr) - 1, reply, sizeof(reply));
	snprintf(want, sizeof(want), "\"generation\":%llu,\"reloads\":2,\"reload_errors\":1,",
		 (unsigned long long)g0 + 2);
	cr_assert(strstr(reply, want), "%s", reply);
	/* a missing file */
	unlink(path);
	n = dp_ops_handle(o, rl, sizeof(rl) - 1, reply, sizeof(reply));
	cr_assert(strstr(reply, "\"ok\":false") && strstr(reply, path), "%s", reply);
	static const char bad[] = "{\"cmd\":\"nope\"}";
	n = dp_ops_handle(o, bad, sizeof(bad) - 1, reply, sizeof(reply));
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"cmd: unknown command \\\"nope\\\" "
				"(reload, stats, cache-stats, version)\"}");
	dp_ops_stats(o, &st);
	cr_assert_eq(st.requests, 6);
	cr_assert_eq(st.bad_requests, 1);
	dp_ops_stop(o);
	pol_shutdown();
	cfg_free(c0);
}

/* ---- formatters ---- */

static struct dp_metrics_snap *snap2(void)
{
	struct dp_metrics_snap *s = calloc(1, sizeof(*s));
	s->n_lcores = 2;
	s->dp[0].rx = 10;
	s->dp[1].rx = 32;
	s->have_pipe = true;
	s->pipe[0].unsigned_[DP_UNS_TIMEOUT] = 3;
	s->pipe[1].unsigned_[DP_UNS_TIMEOUT] = 4;
	s->pipe[1].vcode[4] = 9;   /* 438 */
	s->pipe[0].verstat[PP_VERSTAT_PASSED] = 5;
	s->parked[1] = 2;
	s->have_ops = true;
	s->ops.generation = 7;
	s->ops.reloads_failed = 1;
	s->have_log = true;
	s->log.ring_drop[1] = 11;
	s->log.suppressed = 12;
	s->have_cache = true;
	s->cache.hits = 8;
	return s;
}

Test(ops_metrics, prometheus_text)
{
	struct dp_metrics_snap *s = snap2();
	char *buf = malloc(DP_METRICS_BUF);
	long n = dp_metrics_prometheus(s, buf, DP_METRICS_BUF);
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(buf));
	static const char *const lines[] = {
		"\nshakend_rx_frames_total{lcore=\"0\"} 10\n",
		"\nshakend_rx_frames_total{lcore=\"1\"} 32\n",
		"\nshakend_sign_unsigned_total{lcore=\"0\",reason=\"timeout\"} 3\n",
		"\nshakend_sign_unsigned_total{lcore=\"1\",reason=\"timeout\"} 4\n",
		"\nshakend_sign_unsigned_total{lcore=\"1\",reason=\"no_tn\"} 0\n",
		"\nshakend_verify_failures_total{lcore=\"1\",code=\"438\"} 9\n",
		"\nshakend_verify_verstat_total{lcore=\"0\",verstat=\"TN-Validation-Passed\"} 5\n",
		"\nshakend_verify_checks_total{lcore=\"0\",check=\"signature\"} 0\n",
		"\nshakend_sip_drops_total{lcore=\"0\",reason=\"malformed\"} 0\n",
		"\nshakend_parked_calls{lcore=\"1\"} 2\n",
		"\nshakend_config_generation 7\n",
		"\nshakend_config_reloads_total{result=\"error\"} 1\n",
		"\nshakend_log_ring_dropped_total{lcore=\"1\"} 11\n",
		"\nshakend_log_suppressed_total 12\n",
		"\nshakend_cache_lookups_total{result=\"hit\"} 8\n",
		"\n# TYPE shakend_sign_unsigned_total counter\n",
		"\n# TYPE shakend_parked_calls gauge\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		cr_assert(strstr(buf, lines[i]), "missing %s", lines[i]);
	cr_assert(strncmp(buf, "# HELP shakend_build_info", 25) == 0);
	/* each family described once; no HSM or fetch families without them */
	const char *t = strstr(buf, "# TYPE shakend_sign_unsigned_total");
	cr_assert_null(strstr(t + 1, "# TYPE shakend_sign_unsigned_total"));
	cr_assert_null(strstr(buf, "shakend_hsm_"));
	cr_assert_null(strstr(buf, "shakend_fetch_"));
	/* every line is a comment or "name[{labels}] value" */
	for (char *l = buf; *l; l = strchr(l, '\n') + 1) {
		cr_assert(l[0] == '#' || !strncmp(l, "shakend_", 8), "%.40s", l);
		char *sp = strchr(l, ' ');
		cr_assert(sp && sp < strchr(l, '\n'));
	}
	cr_assert_eq(dp_metrics_prometheus(s, buf, 100), -ENOSPC);
	cr_assert_eq(dp_metrics_prometheus(s, buf, 0), -EINVAL);
	free(buf);
	free(s);
}

Test(ops_metrics, json_sums_lcores)
{
	struct dp_metrics_snap *s = snap2();
	char buf[65536];
	long n = dp_metrics_json(s, false, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(buf[0], '{');
	cr_assert_eq(buf[n - 1], '}');
	cr_assert(strstr(buf, "{\"lcores\":2,\"rx_frames\":42,"), "%.80s", buf);
	cr_assert(strstr(buf, ",\"sign_unsigned.timeout\":7,"));
	cr_assert(strstr(buf, ",\"verify_failures.438\":9,"));
	cr_assert(strstr(buf, ",\"verify_verstat.tn_validation_passed\":5,"));
	cr_assert(strstr(buf, ",\"parked_calls\":2,"));
	cr_assert(strstr(buf, ",\"config_generation\":7,"));
	n = dp_metrics_json(s, true, buf, sizeof(buf));
	cr_assert(strstr(buf, "\"cache_lookups.hit\":8"));
	cr_assert_null(strstr(buf, "rx_frames"));
	cr_assert_eq(dp_metrics_json(s, false, buf, 64), -ENOSPC);
	free(s);
}

Test(ops_http, request_line)
{
	static const struct {
		const char *req;
		int st;
		bool head;
	} cases[] = {
		{"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, false},
		{"GET /metrics?x=1 HTTP/1.0\r\n\r\n", 200, false},
		{"HEAD /metrics HTTP/1.0\n\n", 200, true},
		{"GET /metrics HTTP/1.1\r\nHost: x\r\n", 0, false},
		{"GET /metricsx HTTP/1.1\r\n\r\n", 404, false},
		{"GET / HTTP/1.1\r\n\r\n", 404, false},
		{"POST /metrics HTTP/1.1\r\n\r\n", 405, false},
		{"get /metrics HTTP/1.1\r\n\r\n", 400, false},
		{"GET /metrics\r\n\r\n", 400, false},
		{"GET  /metrics HTTP/1.1\r\n\r\n", 400, false},
		{"GET /metrics HTTP/2.0\r\n\r\n", 400, false},
		{"GET /metrics HTTP/1.1 \r\n\r\n", 400, false},
		{"\r\n\r\n", 400, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool head = !cases[i].head;
		int st = dp_metrics_http_parse(cases[i].req, strlen(cases[i].req), &head);
		cr_assert_eq(st, cases[i].st, "%s: %d", cases[i].req, st);
		if (st == 200)
			cr_assert_eq(head, cases[i].head);
	}
	char big[DP_METRICS_REQ_MAX];
	memset(big, 'a', sizeof(big));
	cr_assert_eq(dp_metrics_http_parse(big, sizeof(big), NULL), 431);
	cr_assert_eq(dp_metrics_http_parse(big, 10, NULL), 0);
}

/* ---- outcome log ---- */

static struct dp_log_event event(unsigned lcore)
{
	struct dp_log_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = 1714564800123456789ull;  /* 2024-05-01T12:00:00.123Z */
	ev.lcore = (uint16_t)lcore;
	ev.kind = DP_LOG_UNSIGNED;
	ev.level = DP_LOG_WARNING;
	ev.reason = DP_UNS_TIMEOUT;
	ev.code = 503;
	ev.src_family = 4;
	ev.src[0] = 192, ev.src[1] = 0, ev.src[2] = 2, ev.src[3] = 7;
	strcpy(ev.calling, "12155550101");
	strcpy(ev.called, "12025550100");
	strcpy(ev.call_id, "a84b4c76e66710@pc33 \"x\"");
	return ev;
}

Test(ops_log, line_format)
{
	struct dp_log_event ev = event(1);
	char line[DP_LOG_LINE_MAX];
	long n = dp_log_format(&ev, line, sizeof(line));
	cr_assert_str_eq(line, "ts=2024-05-01T12:00:00.123Z lcore=1 outcome=unsigned "
			       "reason=timeout code=503 src=192.0.2.7 calling=12155550101 "
			       "called=12025550100 call_id=\"a84b4c76e66710@pc33 \\\"x\\\"\"");
	cr_assert_eq((size_t)n, strlen(line));
	ev.kind = DP_LOG_VERIFY;
	ev.reason = PP_CHECK_SIGNATURE;
	ev.code = 438;
	ev.verstat = PP_VERSTAT_FAILED;
	ev.detail = "bad\nsig";
	ev.call_id[0] = '\0';
	strcpy(ev.x5u, "https://cr.example.net/sp1.pem");
	dp_log_format(&ev, line, sizeof(line));
	cr_assert(strstr(line, " outcome=verify reason=signature code=438 "
			       "verstat=TN-Validation-Failed src="), "%s", line);
	cr_assert(strstr(line, " x5u=https://cr.example.net/sp1.pem detail=\"bad?sig\""),
		  "%s", line);
	/* truncation keeps a terminated prefix */
	char small[20];
	n = dp_log_format(&ev, small, sizeof(small));
	cr_assert_eq(n, 19);
	cr_assert_eq(strlen(small), 19);
	cr_assert_eq(dp_log_format(&ev, small, 0), -EINVAL);
}

static unsigned n_lines;
static char last_line[DP_LOG_LINE_MAX];
static void sink(void *arg, unsigned level, const char *line)
{
	(void)arg;
	(void)level;
	n_lines++;
	snprintf(last_line, sizeof(last_line), "%s", line);
}

Test(ops_log, flood_drops_never_blocks_and_rate_limits)
{
	struct dp_log_cfg c = {.n_lcores = 2, .ring_size = 8, .rate_per_s = 3,
			       .level = DP_LOG_INFO, .sink = sink};
	struct dp_log *l;
	cr_assert_eq(dp_log_create(&c, &l), 0);
	struct dp_log_event ev = event(1);
	unsigned queued = 0;
	for (int i = 0; i < 100; i++)
		queued += dp_log_emit_to(l, &ev);
	cr_assert_eq(queued, 8);
	ev.level = DP_LOG_INFO + 1;   /* debug: filtered before the ring */
	cr_assert_not(dp_log_emit_to(l, &ev));
	ev = event(2);                /* no such lcore */
	cr_assert_not(dp_log_emit_to(l, &ev));
	struct dp_log_stats st;
	dp_log_stats(l, &st);
	cr_assert_eq(st.queued[1], 8);
	cr_assert_eq(st.ring_drop[1], 92);
	cr_assert_eq(st.queued[0], 0);
	/* 3 tokens: 3 lines, 5 suppressed */
	uint64_t t = 1000000000ull;
	cr_assert_eq(dp_log_drain(l, t), 8);
	cr_assert_eq(n_lines, 3);
	dp_log_stats(l, &st);
	cr_assert_eq(st.lines, 3);
	cr_assert_eq(st.suppressed, 5);
	/* a second later: the summary line first */
	cr_assert_eq(dp_log_drain(l, t + 1000000000ull), 0);
	cr_assert_eq(n_lines, 4);
	cr_assert_str_eq(last_line, "outcome=suppressed count=5");
	/* the global entry point: nothing installed, nothing queued */
	ev = event(0);
	cr_assert_not(dp_log_emit(&ev));
	dp_log_set_global(l);
	cr_assert(dp_log_wants(DP_LOG_WARNING));
	cr_assert_not(dp_log_wants(DP_LOG_INFO + 1));
	cr_assert(dp_log_emit(&ev));
	dp_log_set_rate(l, 0);
	cr_assert_eq(dp_log_drain(l, t + 3000000000ull), 1);
	cr_assert_eq(n_lines, 4);     /* rate 0: none written */
	dp_log_destroy(l);            /* uninstalls itself */
	cr_assert_null(dp_log_global());
}

Test(ops_log, thread_drains)
{
	struct dp_log_cfg c = {.n_lcores = 1, .rate_per_s = 1000, .level = DP_LOG_INFO,
			       .sink = sink, .period_ms = 1};
	struct dp_log *l;
	cr_assert_eq(dp_log_create(&c, &l), 0);
	cr_assert_eq(dp_log_start(l), 0);
	cr_assert_eq(dp_log_start(l), -EALREADY);
	struct dp_log_event ev = event(0);
	for (int i = 0; i < 50; i++)
		cr_assert(dp_log_emit_to(l, &ev));
	dp_log_stop(l);
	cr_assert_eq(n_lines, 50);
	dp_log_destroy(l);
	struct dp_log_cfg bad = {.n_lcores = 0};
	cr_assert_eq(dp_log_create(&bad, &l), -EINVAL);
}
