/*
 * afu9-observability: its time parser directly, then the real binary over
 * stdio (NDJSON) against
 *  - moto_server (t/aws/moto.py, seeded here through awsclient): every
 *    tool on real CloudWatch Logs, Logs Insights, CloudWatch and ECS
 *    answers.  Left out ("# SKIP") when moto_server is not installed,
 *    unless AFU9_REQUIRE_MOTO=1;
 *  - t/faultserver.py: what moto cannot show (Insights queries that run,
 *    fail, time out or are cancelled; StopQuery; composite alarms and
 *    paging), throttling, 5xx, slow and malformed answers, and the exact
 *    requests sent;
 *  - the official TypeScript SDK client (t/obs/sdk-call.mjs) against moto,
 *    when Node and t/node_modules are there (AFU9_REQUIRE_NODE_TESTS=1
 *    makes their absence a failure).
 * The secret key must appear in nothing the server writes.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "aws/awsclient.h"
#include "aws/awsconf.h"
#include "aws/creds.h"
#include "observability/timeparse.h"
#include "faultclient.h"
#include "mcptest.h"
#include "testutil.h"

#define AKID		"AKIDAFU9OBSEXAMPLE"
#define SECRET		"obsSecretKey/K7MDENG+bPxRfiCYSECRETKEY"
#define NO_FILE		"/nonexistent/afu9-test/aws"
#define NOW		1714564800000LL		/* 2024-05-01T12:00:00Z */
#define HINT		"use epoch milliseconds, ISO 8601 " \
			"(2024-05-01T12:00:00Z) or a relative time (-15m, " \
			"-2h, -1d, now)"
#define ISO_FORM	"expected YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|+hh:mm]"

#define ARGS(...)	json_pack(__VA_ARGS__)

/* the server's knobs, cleared with the AWS ones by env_reset() */
static const char *const obs_vars[] = {
	"AFU9_OBS_POLL_MS", "AFU9_OBS_QUERY_WAIT_MS", "AFU9_OBS_TIMEOUT_MS",
	"AFU9_OBS_RETRY_BASE_MS",
};

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long
iget(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* ---- timeparse ---- */

static const struct {
	const char	*in;
	long long	 want;		/* when err is NULL */
	const char	*err;
} time_cases[] = {
	{ "now", NOW, NULL },
	{ "-15m", NOW - 900000, NULL },
	{ "now-15m", NOW - 900000, NULL },
	{ "-2h", NOW - 7200000, NULL },
	{ "-1d", NOW - 86400000, NULL },
	{ "-30s", NOW - 30000, NULL },
	{ "-1w", NOW - 604800000LL, NULL },
	{ "1714564800000", 1714564800000LL, NULL },
	{ "100000000000", 100000000000LL, NULL },
	{ "2024-05-01T12:00:00Z", NOW, NULL },
	{ "2024-05-01t12:00:00z", NOW, NULL },
	{ "2024-05-01T12:00:00", NOW, NULL },
	{ "2024-05-01 12:00", NOW, NULL },
	{ "2024-05-01", NOW - 43200000, NULL },
	{ "2024-05-01T12:00:00.250Z", NOW + 250, NULL },
	{ "2024-05-01T12:00:00,5Z", NOW + 500, NULL },
	{ "2024-05-01T12:00:00.123456789Z", NOW + 123, NULL },
	{ "2024-05-01T14:00:00+02:00", NOW, NULL },
	{ "2024-05-01T06:30:00-0530", NOW, NULL },
	{ "2024-05-01T13:00:00+01", NOW, NULL },
	{ "2024-02-29T00:00:00Z", 1709164800000LL, NULL },
	{ "2000-02-29", 951782400000LL, NULL },
	{ "1970-01-01T00:00:00Z", 0, NULL },
	{ "9999-12-31T23:59:59.999Z", 253402300799999LL, NULL },
	{ "", 0, "empty time: " HINT },
	{ "yesterday", 0, "'yesterday' is not a time: " HINT },
	{ "12:00", 0, "'12:00' is not a time: " HINT },
	{ "-15x", 0, "'-15x': unknown unit 'x' (use s, m, h, d or w)" },
	{ "-15mm", 0, "'-15mm': unknown unit 'mm' (use s, m, h, d or w)" },
	{ "-15", 0, "'-15': a unit must follow the number (s, m, h, d or w)" },
	{ "-m", 0, "'-m' is not a duration (a number and a unit: s, m, h, d "
	    "or w, e.g. 15m)" },
	{ "-0m", 0, "'-0m': a duration must be at least 1m" },
	{ "-99999999999999d", 0, "'-99999999999999d': longer than ten years" },
	{ "-3651d", 0, "'-3651d': longer than ten years" },
	{ "1714564800", 0, "'1714564800': epoch milliseconds expected; this "
	    "looks like seconds (1714564800000?)" },
	{ "9999999999999999", 0, "'9999999999999999': epoch milliseconds out "
	    "of range (100000000000 to 253402300799999)" },
	{ "2024-13-01", 0, "'2024-13-01': month 13 out of range (01-12)" },
	{ "2024-00-10", 0, "'2024-00-10': month 00 out of range (01-12)" },
	{ "2023-02-29", 0, "'2023-02-29': day 29 out of range (2023-02 has 28 "
	    "days)" },
	{ "2024-04-31", 0, "'2024-04-31': day 31 out of range (2024-04 has 30 "
	    "days)" },
	{ "2024-05-01T24:00Z", 0, "'2024-05-01T24:00Z': hour 24 out of range "
	    "(00-23)" },
	{ "2024-05-01T12:60Z", 0, "'2024-05-01T12:60Z': minute 60 out of "
	    "range (00-59)" },
	{ "2024-05-01T12:00:60Z", 0, "'2024-05-01T12:00:60Z': second 60 out "
	    "of range (00-59)" },
	{ "2024-05-01T12:00+15:00", 0, "'2024-05-01T12:00+15:00': offset "
	    "hour 15 out of range (00-14)" },
	{ "2024-5-1", 0, "'2024-5-1' is not ISO 8601 (" ISO_FORM ")" },
	{ "2024-05-01T12", 0, "'2024-05-01T12' is not ISO 8601 (" ISO_FORM
	    ")" },
	{ "2024-05-01T12:00:00.Z", 0, "'2024-05-01T12:00:00.Z' is not ISO "
	    "8601 (" ISO_FORM ")" },
	{ "2024-05-01T12:00:00Zjunk", 0, "'2024-05-01T12:00:00Zjunk' is not "
	    "ISO 8601 (" ISO_FORM ")" },
	{ "1969-12-31T23:00:00Z", 0, "'1969-12-31T23:00:00Z' is before "
	    "1970-01-01T00:00:00Z" },
	{ "x\x01y", 0, "'x?y' is not a time: " HINT },
	{ "0123456789012345678901234567890123456789012345678901234567890123"
	    "4", 0, "time too long (at most 64 bytes): " HINT },
};

START_TEST(time_table)
{
	char err[512];
	int64_t got;
	int rc;

	err[0] = '\0';
	got = -1;
	rc = obs_time_parse(time_cases[_i].in, NOW, &got, err, sizeof(err));
	if (time_cases[_i].err == NULL) {
		ck_assert_msg(rc == 0, "'%s': %s", time_cases[_i].in, err);
		ck_assert_msg(got == time_cases[_i].want, "'%s': %lld, want %lld",
		    time_cases[_i].in, (long long)got, time_cases[_i].want);
	} else {
		ck_assert_msg(rc == -1, "'%s' accepted", time_cases[_i].in);
		ck_assert_str_eq(err, time_cases[_i].err);
	}
}
END_TEST

START_TEST(time_json_and_format)
{
	char err[512], buf[OBS_TIME_ISO_LEN];
	json_t *v;
	int64_t got;

	v = json_integer(1714564800123LL);
	ck_assert_int_eq(obs_time_json(v, NOW, &got, err, sizeof(err)), 0);
	ck_assert(got == 1714564800123LL);
	json_decref(v);
	v = json_integer(1714564800);
	ck_assert_int_eq(obs_time_json(v, NOW, &got, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'1714564800': epoch milliseconds expected; "
	    "this looks like seconds (1714564800000?)");
	json_decref(v);
	v = json_integer(-5);
	ck_assert_int_eq(obs_time_json(v, NOW, &got, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'-5': epoch milliseconds out of range "
	    "(100000000000 to 253402300799999)");
	json_decref(v);
	v = json_true();
	ck_assert_int_eq(obs_time_json(v, NOW, &got, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not a time: " HINT);
	json_decref(v);
	v = json_string("-1h");
	ck_assert_int_eq(obs_time_json(v, NOW, &got, err, sizeof(err)), 0);
	ck_assert(got == NOW - 3600000);
	json_decref(v);

	ck_assert_str_eq(obs_time_format(NOW + 7, buf, sizeof(buf)),
	    "2024-05-01T12:00:00.007Z");
	ck_assert_str_eq(obs_time_format(0, buf, sizeof(buf)),
	    "1970-01-01T00:00:00.000Z");
	ck_assert_str_eq(obs_time_format(951868799999LL, buf, sizeof(buf)),
	    "2000-02-29T23:59:59.999Z");
	ck_assert_str_eq(obs_time_format(253402300799999LL, buf, sizeof(buf)),
	    "9999-12-31T23:59:59.999Z");
	ck_assert_str_eq(obs_time_format(-1, buf, sizeof(buf)),
	    "1970-01-01T00:00:00.000Z");
	/* parse and format agree over a spread of instants */
	for (got = 0; got < 253402300799999LL; got += 7919LL * 86400 * 1000 +
	    12345) {
		int64_t back;

		obs_time_format(got, buf, sizeof(buf));
		ck_assert_int_eq(obs_time_parse(buf, NOW, &back, err,
		    sizeof(err)), 0);
		ck_assert_msg(back == got, "%s", buf);
	}
}
END_TEST

START_TEST(duration_table)
{
	char err[256];
	int64_t d;

	ck_assert_int_eq(obs_duration_parse("15m", &d, err, sizeof(err)), 0);
	ck_assert(d == 900000);
	ck_assert_int_eq(obs_duration_parse("-2h", &d, err, sizeof(err)), 0);
	ck_assert(d == 7200000);
	ck_assert_int_eq(obs_duration_parse("3650d", &d, err, sizeof(err)), 0);
	ck_assert(d == OBS_TIME_MAX_DURATION_MS);
	ck_assert_int_eq(obs_duration_parse("1h30m", &d, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "'1h30m': unknown unit 'h30m' (use s, m, h, d "
	    "or w)");
	ck_assert_int_eq(obs_duration_parse("h", &d, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'h' is not a duration (a number and a unit: "
	    "s, m, h, d or w, e.g. 15m)");
}
END_TEST

/* ---- the fault server ---- */

/* Queue `times` answers: status, JSON body (stolen), a request id. */
static void
fs_push(int status, json_t *body, const char *rid, int times)
{
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:o, s:i, s:{s:s}}}",
	    "cmd", "push", "response", "status", status, "json", body, "times",
	    times, "headers", "x-amzn-RequestId", rid)));
}

/* Queue an AWS JSON error answer `times` times. */
static void
fs_push_error(int status, const char *type, const char *msg,
    const char *rid, int times)
{
	fs_push(status, json_pack("{s:s, s:s}", "__type", type, "message",
	    msg), rid, times);
}

static void
fs_default(int status, json_t *body)
{
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:o}}", "cmd", "default",
	    "response", "status", status, "json", body)));
}

/* Wait until the server has seen n requests; 1 if it did. */
static int
fs_wait(int n)
{
	json_t *r = fc_cmd(json_pack("{s:s, s:i, s:i}", "cmd", "wait",
	    "requests", n, "timeout_ms", 10000 * t_slow()));
	int ok = json_is_true(json_object_get(r, "ok"));

	json_decref(r);
	return ok;
}

/* The operation (X-Amz-Target after the '.') of request r. */
static const char *
req_op(const json_t *r)
{
	const json_t *kv;
	const char *v, *dot;
	size_t i;

	json_array_foreach(json_object_get(r, "headers"), i, kv)
		if (strcasecmp(json_string_value(json_array_get(kv, 0)),
		    "X-Amz-Target") == 0) {
			v = json_string_value(json_array_get(kv, 1));
			return (dot = strchr(v, '.')) ? dot + 1 : v;
		}
	return "";
}

/* The operations of every request, comma-joined, into buf. */
static const char *
fs_ops(char *buf, size_t len)
{
	json_t *a = fc_requests(), *r;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(a, i, r)
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s",
		    i ? "," : "", req_op(r));
	json_decref(a);
	return buf;
}

/* ---- moto ---- */

static struct tproc	moto;
static int		moto_port;
static char		moto_why[4200];
static char		moto_base[64];

static void
moto_start(void)
{
	/* moto's ECS reports this many running tasks for every service */
	setenv("MOTO_ECS_SERVICE_RUNNING", "2", 1);
	moto_port = fc_moto_start(&moto, moto_why, sizeof(moto_why));
	if (moto_port != 0)
		snprintf(moto_base, sizeof(moto_base), "http://127.0.0.1:%d",
		    moto_port);
}

/* Seeding moto through awsclient on a private loop. */
struct seeded {
	int	 done;
	int	 failed;
	char	 message[1024];
	json_t	*body;
};

static void
seed_done(const struct aws_result *res, void *arg)
{
	struct seeded *s = arg;

	s->done = 1;
	s->failed = res->message != NULL;
	snprintf(s->message, sizeof(s->message), "%s",
	    res->message ? res->message : "");
	s->body = json_incref(res->body);
}

/* Call op on moto with params (stolen); the answer (new reference). */
static json_t *
seed(enum aws_service svc, const char *op, json_t *params)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct httpc *hc = httpc_new(loop, NULL);
	struct aws_config cfg;
	struct aws_creds_provider *prov;
	struct aws_client *cl;
	struct seeded s;
	char err[1024];
	double end = t_now_ms() + 20000.0 * t_slow();

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(aws_config_load(&cfg, err, sizeof(err)), 0);
	prov = aws_creds_new(loop, hc, &cfg);
	cl = aws_client_new(loop, hc, prov, &cfg, NULL, err, sizeof(err));
	ck_assert_msg(cl != NULL, "%s", err);
	ck_assert_ptr_nonnull(aws_call(cl, svc, op, params, seed_done, &s));
	json_decref(params);
	while (!s.done && t_now_ms() < end)
		ev_run(loop, EVRUN_ONCE);
	aws_client_free(cl);
	aws_creds_free(prov);
	aws_config_free(&cfg);
	httpc_free(hc);
	ev_loop_destroy(loop);
	ck_assert_msg(s.done, "%s: no answer from moto", op);
	ck_assert_msg(!s.failed, "%s: %s", op, s.message);
	return s.body;
}

static void
seed_void(enum aws_service svc, const char *op, json_t *params)
{
	json_decref(seed(svc, op, params));
}

/* ---- the server under test ---- */

static struct tproc	srv;
static long		rpc_id;
static json_t		*progress;	/* notifications/progress params seen */

static void
env_reset(const char *endpoint)
{
	size_t i;

	fc_aws_env(endpoint, AKID, SECRET);
	for (i = 0; i < sizeof(obs_vars) / sizeof(obs_vars[0]); i++)
		unsetenv(obs_vars[i]);
	setenv("AFU9_OBS_RETRY_BASE_MS", "1", 1);
	setenv("AFU9_LOG_LEVEL", "info", 1);
}

static void
srv_start_args(const char *const *extra)
{
	ck_assert_int_eq(mt_spawn(&srv,
	    "servers/observability/afu9-observability", extra), 0);
	json_decref(progress);
	progress = json_array();
}

static void
srv_start(void)
{
	srv_start_args(NULL);
}

/* Write one JSON-RPC message (stolen). */
static void
srv_send(json_t *msg)
{
	ck_assert_int_eq(mt_send(srv.in, msg), 0);
}

/* Read until the response to id; notifications/progress are kept. */
static json_t *
srv_response(long id)
{
	json_t *m;
	char *line;

	for (;;) {
		line = t_read_line(srv.out, 20000 * t_slow());
		ck_assert_msg(line != NULL, "no answer to request %ld", id);
		ck_assert_msg(strstr(line, SECRET) == NULL, "secret in %s",
		    line);
		m = json_loads(line, 0, NULL);
		ck_assert_msg(m != NULL, "not JSON: %s", line);
		free(line);
		if (json_object_get(m, "id") == NULL) {
			if (strcmp(sget(m, "method"), "notifications/progress")
			    == 0)
				json_array_append(progress,
				    json_object_get(m, "params"));
			json_decref(m);
			continue;
		}
		ck_assert_int_eq(iget(m, "id"), id);
		return m;
	}
}

static json_t *
rpc(const char *method, json_t *params)
{
	long id = ++rpc_id;

	srv_send(json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
	    (json_int_t)id, "method", method, "params",
	    params ? params : json_object()));
	return srv_response(id);
}

/* tools/call (with a progress token); the result (new reference). */
static json_t *
call(const char *tool, json_t *args)
{
	json_t *resp = rpc("tools/call", json_pack("{s:s, s:o, s:{s:s}}",
	    "name", tool, "arguments", args, "_meta", "progressToken", "pt"));
	json_t *res = json_incref(json_object_get(resp, "result"));

	ck_assert_msg(res != NULL, "%s: no result", tool);
	json_decref(resp);
	return res;
}

static json_t *
call_ok(const char *tool, json_t *args)
{
	return mt_ok(tool, call(tool, args));
}

/* A failed call's error text (malloc'd). */
static char *
call_err(const char *tool, json_t *args)
{
	return mt_err(tool, call(tool, args));
}

static void
assert_err(const char *tool, json_t *args, const char *want)
{
	char *e = call_err(tool, args);

	ck_assert_str_eq(e, want);
	free(e);
}

/* End the server: EOF, its output checked for the secret, exit 0. */
static void
srv_stop(void)
{
	char *out, *err;
	int st;

	st = mt_stop(&srv, 15000 * t_slow(), &out, &err);
	ck_assert_msg(out == NULL || strstr(out, SECRET) == NULL, "secret on "
	    "stdout");
	ck_assert_msg(err != NULL && strstr(err, "\"component\":"
	    "\"afu9-observability\"") != NULL, "no log on stderr");
	ck_assert_msg(strstr(err, SECRET) == NULL, "secret on stderr: %s",
	    err);
	free(out);
	free(err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d", st);
	json_decref(progress);
	progress = NULL;
}

static void
fs_setup(void)
{
	fc_reset();
	env_reset(fc_base());
}

static void
fs_teardown(void)
{
}

/* A note containing needle exists. */
static int
has_note(const json_t *sc, const char *needle)
{
	const json_t *n;
	size_t i;

	json_array_foreach(json_object_get(sc, "notes"), i, n)
		if (strstr(json_string_value(n), needle) != NULL)
			return 1;
	return 0;
}

/* ---- listing, flags, configuration ---- */

START_TEST(lists_read_only_tools)
{
	static const char *const names[] = { "searchLogs", "queryLogs",
	    "getServiceHealth", "getAlarmStatus" };
	json_t *resp, *tools, *t;
	size_t i;

	srv_start();
	resp = rpc("tools/list", NULL);
	tools = json_object_get(json_object_get(resp, "result"), "tools");
	ck_assert_int_eq(json_array_size(tools), 4);
	json_array_foreach(tools, i, t) {
		ck_assert_str_eq(sget(t, "name"), names[i]);
		ck_assert(json_is_true(json_object_get(json_object_get(t,
		    "annotations"), "readOnlyHint")));
		ck_assert(!json_is_true(json_object_get(json_object_get(t,
		    "annotations"), "destructiveHint")));
		ck_assert(json_is_object(json_object_get(t, "outputSchema")));
	}
	json_decref(resp);
	srv_stop();
}
END_TEST

START_TEST(tool_selection_flags)
{
	static const char *const only[] = { "--tools", "queryLogs,searchLogs",
	    NULL };
	static const char *const excl[] = { "--exclude-tools=queryLogs",
	    "--read-only", NULL };
	static const char *const bad[] = { "--tools", "searchLogs,getLogs",
	    NULL };
	json_t *resp, *tools;
	char *err;
	int eof, st;

	srv_start_args(only);
	resp = rpc("tools/list", NULL);
	tools = json_object_get(json_object_get(resp, "result"), "tools");
	ck_assert_int_eq(json_array_size(tools), 2);
	ck_assert_str_eq(sget(json_array_get(tools, 0), "name"), "searchLogs");
	ck_assert_str_eq(sget(json_array_get(tools, 1), "name"), "queryLogs");
	json_decref(resp);
	srv_stop();

	srv_start_args(excl);
	resp = rpc("tools/list", NULL);
	tools = json_object_get(json_object_get(resp, "result"), "tools");
	ck_assert_int_eq(json_array_size(tools), 3);
	ck_assert_str_eq(sget(json_array_get(tools, 1), "name"),
	    "getServiceHealth");
	json_decref(resp);
	srv_stop();

	srv_start_args(bad);
	err = t_read_until(srv.err, "\x01", 10000 * t_slow(), &eof);
	st = t_finish(&srv, 10000 * t_slow());
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
	ck_assert_msg(err != NULL && strncmp(err, "afu9-observability: "
	    "--tools: unknown tool 'getLogs' (see --help)\n", 66) == 0, "%s",
	    err ? err : "");
	free(err);
	json_decref(progress);
	progress = NULL;
}
END_TEST

/* Run the binary with one argument; its stdout (malloc'd), exit status. */
static char *
run_flag(const char *flag, int *status)
{
	const char *const extra[] = { flag, NULL };
	char *out;
	int eof;

	srv_start_args(extra);
	out = t_read_until(srv.out, "\x01", 10000 * t_slow(), &eof);
	*status = t_finish(&srv, 10000 * t_slow());
	json_decref(progress);
	progress = NULL;
	return out;
}

START_TEST(help_version_and_man_page)
{
	static const char *const words[] = { "searchLogs", "queryLogs",
	    "getServiceHealth", "getAlarmStatus", "--read-only", "--tools",
	    "--exclude-tools", "--help", "--version", "AFU9_OBS_POLL_MS",
	    "AFU9_OBS_QUERY_WAIT_MS", "AFU9_OBS_TIMEOUT_MS",
	    "AFU9_OBS_RETRY_BASE_MS", "AWS_REGION", "AWS_ACCESS_KEY_ID",
	    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_CLOUDWATCH",
	    "AWS_ENDPOINT_URL_ECS", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	    "AFU9_LOG_LEVEL", "AFU9_MAX_MESSAGE_BYTES" };
	char *out, *man, want[64];
	FILE *f;
	size_t i, n;
	int st;

	out = run_flag("--help", &st);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strncmp(out, "usage: afu9-observability ", 26) == 0,
	    "%s", out);
	man = calloc(1, 256 * 1024);
	ck_assert_ptr_nonnull(f = fopen(t_srcdir("doc/afu9-observability.1"),
	    "r"));
	n = fread(man, 1, 256 * 1024 - 1, f);
	fclose(f);
	ck_assert_int_gt(n, 1000);
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		ck_assert_msg(strstr(out, words[i]) != NULL, "--help lacks %s",
		    words[i]);
		ck_assert_msg(strstr(man, words[i]) != NULL ||
		    (words[i][0] == '-' && words[i][1] == '-' &&
		    strstr(man, words[i] + 1) != NULL), "man page lacks %s",
		    words[i]);
	}
	free(man);
	free(out);
	out = run_flag("--version", &st);
	snprintf(want, sizeof(want), "afu9-observability %s\n", AFU9_VERSION);
	ck_assert_str_eq(out, want);
	free(out);
	out = run_flag("--bogus", &st);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
	free(out);
}
END_TEST

START_TEST(no_credentials)
{
	char want[1024];

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	srv_start();
	snprintf(want, sizeof(want), "CloudWatch Logs FilterLogEvents failed: "
	    "no AWS credentials: environment: AWS_ACCESS_KEY_ID not set; web "
	    "identity: AWS_WEB_IDENTITY_TOKEN_FILE not set; shared files: "
	    "%s/credentials: no such file, %s/config: no such file; "
	    "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI not "
	    "set", NO_FILE, NO_FILE);
	assert_err("searchLogs", ARGS("{s:s}", "logGroupName", "/a"), want);
	srv_stop();
	ck_assert_int_eq(fc_count(), 0);
}
END_TEST

START_TEST(bad_configuration_served)
{
	char *e;

	setenv("AWS_REGION", "us east 1", 1);
	srv_start();
	e = call_err("getAlarmStatus", json_object());
	ck_assert_msg(strncmp(e, "AWS configuration: ", 19) == 0 &&
	    strstr(e, "AWS_REGION") != NULL, "%s", e);
	free(e);
	srv_stop();
}
END_TEST

START_TEST(bad_arguments_send_nothing)
{
	srv_start();
	assert_err("searchLogs", ARGS("{s:s, s:s}", "logGroupName", "/a",
	    "startTime", "yesterday"), "startTime: 'yesterday' is not a time: "
	    HINT);
	assert_err("searchLogs", ARGS("{s:s, s:I}", "logGroupName", "/a",
	    "endTime", (json_int_t)1714564800), "endTime: '1714564800': epoch "
	    "milliseconds expected; this looks like seconds (1714564800000?)");
	assert_err("queryLogs", ARGS("{s:[s], s:s, s:s, s:s}",
	    "logGroupNames", "/a", "query", "fields @message", "startTime",
	    "2024-05-01T13:00:00Z", "endTime", "2024-05-01T12:00:00Z"),
	    "startTime (2024-05-01T13:00:00.000Z) is after endTime "
	    "(2024-05-01T12:00:00.000Z)");
	assert_err("getServiceHealth", ARGS("{s:s, s:s, s:i}", "cluster", "c",
	    "service", "s", "period", 90), "period: 90 is not a multiple of "
	    "60 seconds");
	assert_err("getServiceHealth", ARGS("{s:s, s:s, s:s}", "cluster", "c",
	    "service", "s", "window", "30d"), "window: '30d' must be from one "
	    "period (300s) to 14 days, and at most 1440 periods");
	assert_err("getServiceHealth", ARGS("{s:s, s:s, s:s}", "cluster", "c",
	    "service", "s", "window", "1m"), "window: '1m' must be from one "
	    "period (300s) to 14 days, and at most 1440 periods");
	assert_err("getAlarmStatus", ARGS("{s:[s], s:s}", "alarmNames", "a",
	    "alarmNamePrefix", "b"), "give alarmNames or alarmNamePrefix, not "
	    "both");
	assert_err("searchLogs", ARGS("{s:s, s:i}", "logGroupName", "/a",
	    "limit", 1001), "Invalid arguments for tool searchLogs: argument "
	    "'limit': must be <= 1000 (maximum)");
	srv_stop();
	ck_assert_int_eq(fc_count(), 0);
}
END_TEST

/* ---- searchLogs on the fault server ---- */

#define T0	1714564800000LL

static json_t *
event(long long ts, const char *stream, const char *msg)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:I}", "timestamp",
	    (json_int_t)ts, "logStreamName", stream, "message", msg, "eventId",
	    "e", "ingestionTime", (json_int_t)ts);
}

START_TEST(search_follows_pages)
{
	json_t *sc, *ev, *b;
	char ops[256];

	fs_push(200, json_pack("{s:[o, o], s:s}", "events",
	    event(T0 + 1, "api/1", "ERROR one\n"),
	    event(T0 + 2, "api/2", "ERROR two\r\n"), "nextToken", "t1"),
	    "r-1", 1);
	fs_push(200, json_pack("{s:[o]}", "events",
	    event(T0 + 3000, "api/1", "ERROR three")), "r-2", 1);
	srv_start();
	sc = call_ok("searchLogs", ARGS("{s:s, s:s, s:I, s:s, s:i}",
	    "logGroupName", "/ecs/api", "filterPattern", "ERROR", "startTime",
	    (json_int_t)T0, "endTime", "2024-05-01T13:00:00Z", "limit", 10));
	ev = json_object_get(sc, "events");
	ck_assert_int_eq(json_array_size(ev), 3);
	ck_assert_int_eq(iget(sc, "count"), 3);
	ck_assert(json_is_false(json_object_get(sc, "hasMore")));
	ck_assert(json_is_null(json_object_get(sc, "nextToken")));
	ck_assert_str_eq(sget(sc, "startTime"), "2024-05-01T12:00:00.000Z");
	ck_assert_str_eq(sget(sc, "endTime"), "2024-05-01T13:00:00.000Z");
	ck_assert_str_eq(sget(json_array_get(ev, 0), "timestamp"),
	    "2024-05-01T12:00:00.001Z");
	ck_assert_str_eq(sget(json_array_get(ev, 0), "logStream"), "api/1");
	ck_assert_str_eq(sget(json_array_get(ev, 0), "message"), "ERROR one");
	ck_assert_str_eq(sget(json_array_get(ev, 1), "message"), "ERROR two");
	ck_assert_str_eq(sget(json_array_get(ev, 2), "timestamp"),
	    "2024-05-01T12:00:03.000Z");
	ck_assert_ptr_null(json_object_get(sc, "notes"));
	json_decref(sc);
	srv_stop();
	ck_assert_str_eq(fs_ops(ops, sizeof(ops)),
	    "FilterLogEvents,FilterLogEvents");
	b = fc_body(0);
	ck_assert_str_eq(sget(b, "logGroupName"), "/ecs/api");
	ck_assert_str_eq(sget(b, "filterPattern"), "ERROR");
	ck_assert_int_eq(iget(b, "startTime"), T0);
	ck_assert_int_eq(iget(b, "endTime"), T0 + 3600000);
	ck_assert_int_eq(iget(b, "limit"), 10);
	ck_assert_ptr_null(json_object_get(b, "nextToken"));
	json_decref(b);
	b = fc_body(1);
	ck_assert_str_eq(sget(b, "nextToken"), "t1");
	ck_assert_int_eq(iget(b, "limit"), 8);
	json_decref(b);
}
END_TEST

START_TEST(search_limit_returns_token)
{
	json_t *sc, *b;
	char big[6001];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fs_push(200, json_pack("{s:[o, o], s:s}", "events",
	    event(T0, "s", big), event(T0 + 1, "s", "b\xe2\x80\x8b" "c"),
	    "nextToken", "t9"), "r-1", 1);
	srv_start();
	sc = call_ok("searchLogs", ARGS("{s:s, s:i, s:s}", "logGroupName",
	    "/a", "limit", 2, "nextToken", "t8"));
	ck_assert_int_eq(iget(sc, "count"), 2);
	ck_assert(json_is_true(json_object_get(sc, "hasMore")));
	ck_assert_str_eq(sget(sc, "nextToken"), "t9");
	ck_assert_int_eq(strlen(sget(json_array_get(json_object_get(sc,
	    "events"), 0), "message")), 4096);
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "events"),
	    1), "message"), "bc");
	ck_assert(has_note(sc, "messages longer than 4096 bytes were cut"));
	ck_assert(has_note(sc, "invisible Unicode characters were removed "
	    "from messages"));
	json_decref(sc);
	srv_stop();
	ck_assert_int_eq(fc_count(), 1);
	b = fc_body(0);
	ck_assert_str_eq(sget(b, "nextToken"), "t8");
	ck_assert_int_eq(iget(b, "limit"), 2);
	/* the default window: the last hour, ending now */
	ck_assert_int_eq(iget(b, "endTime") - iget(b, "startTime"), 3600000);
	ck_assert_msg(llabs(iget(b, "endTime") - (long long)time(NULL) * 1000)
	    < 60000, "endTime is not now");
	json_decref(b);
}
END_TEST

START_TEST(throttling_retried_then_ok)
{
	json_t *sc;

	fs_push_error(400, "ThrottlingException", "Rate exceeded", "r-1", 2);
	fs_push(200, json_pack("{s:[]}", "events"), "r-3", 1);
	srv_start();
	sc = call_ok("searchLogs", ARGS("{s:s}", "logGroupName", "/a"));
	ck_assert_int_eq(iget(sc, "count"), 0);
	json_decref(sc);
	srv_stop();
	ck_assert_int_eq(fc_count(), 3);
}
END_TEST

START_TEST(throttling_exhausted)
{
	fs_push_error(400, "ThrottlingException", "Rate exceeded", "r-9", 3);
	srv_start();
	assert_err("searchLogs", ARGS("{s:s}", "logGroupName", "/a"),
	    "CloudWatch Logs FilterLogEvents failed: ThrottlingException: "
	    "Rate exceeded (request id r-9; gave up after 3 attempts)");
	srv_stop();
	ck_assert_int_eq(fc_count(), 3);
}
END_TEST

START_TEST(server_errors_and_malformed)
{
	char *e;

	fs_push_error(503, "ServiceUnavailableException", "busy", "r-5", 3);
	srv_start();
	assert_err("getAlarmStatus", json_object(), "CloudWatch DescribeAlarms "
	    "failed: ServiceUnavailableException: busy (request id r-5; gave "
	    "up after 3 attempts)");
	ck_assert_int_eq(fc_count(), 3);
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:s}}", "cmd", "push",
	    "response", "status", 200, "body", "<html>not json")));
	e = call_err("searchLogs", ARGS("{s:s}", "logGroupName", "/a"));
	ck_assert_msg(strncmp(e, "CloudWatch Logs FilterLogEvents failed: ",
	    40) == 0 && strstr(e, "JSON") != NULL, "%s", e);
	free(e);
	srv_stop();
}
END_TEST

START_TEST(slow_answers_time_out)
{
	char *e;
	double t0;

	setenv("AFU9_OBS_TIMEOUT_MS", "200", 1);
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:i, s:o, s:i}}", "cmd",
	    "push", "response", "status", 200, "delay_ms", 3000, "json",
	    json_object(), "times", 3)));
	srv_start();
	t0 = t_now_ms();
	e = call_err("searchLogs", ARGS("{s:s}", "logGroupName", "/a"));
	ck_assert_msg(strncmp(e, "CloudWatch Logs FilterLogEvents failed: "
	    "could not reach http://127.0.0.1:", 73) == 0 && strstr(e, "gave up after 3 "
	    "attempts") != NULL, "%s", e);
	ck_assert_msg(t_now_ms() - t0 < 2800.0 * t_slow(), "not bounded");
	free(e);
	srv_stop();
}
END_TEST

/* ---- queryLogs on the fault server ---- */

static json_t *
running(long long matched, long long scanned)
{
	return json_pack("{s:s, s:[], s:{s:I, s:I, s:I}}", "status", "Running",
	    "results", "statistics", "recordsMatched", (json_int_t)matched,
	    "recordsScanned", (json_int_t)scanned, "bytesScanned",
	    (json_int_t)(scanned * 100));
}

START_TEST(query_polls_until_complete)
{
	json_t *sc, *b, *row, *p;
	char ops[256];

	setenv("AFU9_OBS_POLL_MS", "10", 1);
	fs_push(200, json_pack("{s:s}", "queryId", "q-1"), "r-1", 1);
	fs_push(200, running(10, 100), "r-2", 1);
	fs_push(200, running(25, 400), "r-3", 1);
	fs_push(200, json_pack("{s:s, s:[[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]],"
	    " s:{s:f, s:f, s:f}}", "status", "Complete", "results",
	    "field", "@timestamp", "value", "2024-05-01 12:00:01.000",
	    "field", "@message", "value", "ERROR boom",
	    "field", "@ptr", "value", "CmAKJwojMTIz",
	    "statistics", "recordsMatched", 30.0, "recordsScanned", 500.0,
	    "bytesScanned", 50000.0), "r-4", 1);
	srv_start();
	sc = call_ok("queryLogs", ARGS("{s:[s, s], s:s, s:I, s:s, s:i}",
	    "logGroupNames", "/ecs/api", "/ecs/worker", "query",
	    "fields @timestamp, @message | filter @message like /ERROR/",
	    "startTime", (json_int_t)(T0 + 500), "endTime",
	    "2024-05-01T13:00:00.001Z", "limit", 5));
	ck_assert_str_eq(sget(sc, "queryId"), "q-1");
	ck_assert_str_eq(sget(sc, "status"), "Complete");
	ck_assert_int_eq(iget(sc, "count"), 1);
	row = json_array_get(json_object_get(sc, "results"), 0);
	ck_assert_int_eq(json_object_size(row), 2);
	ck_assert_str_eq(sget(row, "@message"), "ERROR boom");
	ck_assert_str_eq(sget(row, "@timestamp"), "2024-05-01 12:00:01.000");
	ck_assert_int_eq(iget(json_object_get(sc, "statistics"),
	    "recordsMatched"), 30);
	ck_assert_int_eq(iget(json_object_get(sc, "statistics"),
	    "bytesScanned"), 50000);
	json_decref(sc);

	/* progress: started, then each poll that found it running */
	ck_assert_int_eq(json_array_size(progress), 3);
	p = json_array_get(progress, 0);
	ck_assert_str_eq(sget(p, "progressToken"), "pt");
	ck_assert_str_eq(sget(p, "message"), "query started");
	p = json_array_get(progress, 1);
	ck_assert(json_number_value(json_object_get(p, "progress")) == 1.0);
	ck_assert_str_eq(sget(p, "message"), "query q-1: Running, 10 records "
	    "matched, 100 scanned");
	ck_assert_str_eq(sget(json_array_get(progress, 2), "message"),
	    "query q-1: Running, 25 records matched, 400 scanned");
	srv_stop();

	ck_assert_str_eq(fs_ops(ops, sizeof(ops)), "StartQuery,"
	    "GetQueryResults,GetQueryResults,GetQueryResults");
	b = fc_body(0);
	ck_assert_int_eq(json_array_size(json_object_get(b, "logGroupNames")),
	    2);
	ck_assert_str_eq(sget(b, "queryString"), "fields @timestamp, @message "
	    "| filter @message like /ERROR/");
	/* seconds, rounded outwards */
	ck_assert_int_eq(iget(b, "startTime"), T0 / 1000);
	ck_assert_int_eq(iget(b, "endTime"), T0 / 1000 + 3601);
	ck_assert_int_eq(iget(b, "limit"), 5);
	json_decref(b);
	b = fc_body(3);
	ck_assert_str_eq(sget(b, "queryId"), "q-1");
	json_decref(b);
}
END_TEST

START_TEST(query_ends_without_results)
{
	static const struct {
		const char *status, *want;
	} ends[] = {
		{ "Failed", "Logs Insights query q-1 ended with status Failed: "
		    "check the query syntax and the log group names" },
		{ "Timeout", "Logs Insights query q-1 ended with status "
		    "Timeout: it ran past the Logs Insights time limit; narrow "
		    "the time range or the log groups" },
		{ "Cancelled", "Logs Insights query q-1 ended with status "
		    "Cancelled: it was stopped before it completed" },
		{ "Unknown", "Logs Insights query q-1 ended with status "
		    "Unknown: its state is unknown to Logs Insights; run it "
		    "again" },
	};
	size_t i;
	char ops[256];

	setenv("AFU9_OBS_POLL_MS", "10", 1);
	srv_start();
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		fs_push(200, json_pack("{s:s}", "queryId", "q-1"), "r-1", 1);
		fs_push(200, running(0, 0), "r-2", 1);
		fs_push(200, json_pack("{s:s, s:[]}", "status", ends[i].status,
		    "results"), "r-3", 1);
		assert_err("queryLogs", ARGS("{s:[s], s:s}", "logGroupNames",
		    "/a", "query", "fields @message"), ends[i].want);
	}
	fs_push(200, json_object(), "r-7", 1);
	assert_err("queryLogs", ARGS("{s:[s], s:s}", "logGroupNames", "/a",
	    "query", "fields @message"), "Logs Insights answered StartQuery "
	    "without a query id (request id r-7)");
	srv_stop();
	/* a query that ended needs no StopQuery */
	ck_assert_msg(strstr(fs_ops(ops, sizeof(ops)), "StopQuery") == NULL,
	    "%s", ops);
}
END_TEST

START_TEST(query_wait_bounded_then_stopped)
{
	json_t *b, *a;
	char ops[512];
	size_t n;

	setenv("AFU9_OBS_POLL_MS", "20", 1);
	setenv("AFU9_OBS_QUERY_WAIT_MS", "100", 1);
	fs_push(200, json_pack("{s:s}", "queryId", "q-2"), "r-1", 1);
	fs_default(200, running(1, 2));
	srv_start();
	assert_err("queryLogs", ARGS("{s:[s], s:s}", "logGroupNames", "/a",
	    "query", "fields @message"), "Logs Insights query q-2 did not "
	    "complete within 100 ms (last status Running); it was stopped.  "
	    "Narrow the time range or the log groups, or add a limit");
	/* started, then at least the poll that passed the deadline */
	ck_assert_int_ge(json_array_size(progress), 2);
	ck_assert_str_eq(sget(json_array_get(progress, 1), "message"),
	    "query q-2: Running, 1 records matched, 2 scanned");
	srv_stop();
	fs_ops(ops, sizeof(ops));
	n = strlen(ops);
	ck_assert_msg(n > 10 && strcmp(ops + n - 10, ",StopQuery") == 0, "%s",
	    ops);
	a = fc_requests();
	b = fc_body(json_array_size(a) - 1);
	ck_assert_str_eq(sget(b, "queryId"), "q-2");
	json_decref(b);
	json_decref(a);
}
END_TEST

START_TEST(query_cancel_stops_query)
{
	json_t *resp, *a, *b;
	char ops[1024];
	size_t n;
	int i;

	setenv("AFU9_OBS_POLL_MS", "20", 1);
	fs_push(200, json_pack("{s:s}", "queryId", "q-3"), "r-1", 1);
	fs_default(200, running(1, 2));
	srv_start();
	srv_send(json_pack("{s:s, s:i, s:s, s:{s:s, s:{s:[s], s:s}}}",
	    "jsonrpc", "2.0", "id", 900, "method", "tools/call", "params",
	    "name", "queryLogs", "arguments", "logGroupNames", "/a", "query",
	    "fields @message"));
	ck_assert(fs_wait(3));
	srv_send(json_pack("{s:s, s:s, s:{s:i, s:s}}", "jsonrpc", "2.0",
	    "method", "notifications/cancelled", "params", "requestId", 900,
	    "reason", "user gave up"));
	/* StopQuery goes out; the cancelled call gets no answer */
	for (i = 0; i < 100; i++) {
		a = fc_requests();
		n = json_array_size(a);
		snprintf(ops, sizeof(ops), "%s", req_op(json_array_get(a,
		    n - 1)));
		json_decref(a);
		if (strcmp(ops, "StopQuery") == 0 || !fs_wait((int)n + 1))
			break;
	}
	ck_assert_str_eq(ops, "StopQuery");
	resp = rpc("ping", NULL);
	ck_assert_ptr_nonnull(json_object_get(resp, "result"));
	json_decref(resp);
	srv_stop();
	a = fc_requests();
	n = json_array_size(a);
	json_decref(a);
	b = fc_body(n - 1);
	ck_assert_str_eq(sget(b, "queryId"), "q-3");
	json_decref(b);
}
END_TEST

/* ---- alarms and health on the fault server ---- */

START_TEST(alarms_both_kinds_paged)
{
	json_t *sc, *al, *a, *b;
	char ops[256];

	fs_push(200, json_pack("{s:[{s:s, s:s, s:s, s:f, s:s, s:s, s:[{s:s, "
	    "s:s}], s:s, s:i, s:i, s:f, s:s}], s:[], s:s}",
	    "MetricAlarms", "AlarmName", "app-cpu", "StateValue", "OK",
	    "StateReason", "Threshold Crossed: 1 datapoint [12.0] was not "
	    "greater than 80.0", "StateUpdatedTimestamp", 1714564800.5,
	    "MetricName", "CPUUtilization", "Namespace", "AWS/ECS",
	    "Dimensions", "Name", "ClusterName", "Value", "prod",
	    "Statistic", "Average", "Period", 60, "EvaluationPeriods", 3,
	    "Threshold", 80.0, "ComparisonOperator", "GreaterThanThreshold",
	    "CompositeAlarms", "NextToken", "n1"), "r-1", 1);
	fs_push(200, json_pack("{s:[], s:[{s:s, s:s, s:s, s:s, s:s}]}",
	    "MetricAlarms", "CompositeAlarms", "AlarmName", "app-down",
	    "StateValue", "ALARM", "StateReason", "app-cpu and app-5xx",
	    "StateUpdatedTimestamp", "2024-05-01T12:00:00.000Z",
	    "AlarmRule", "ALARM(app-cpu) AND ALARM(app-5xx)"), "r-2", 1);
	srv_start();
	sc = call_ok("getAlarmStatus", ARGS("{s:s}", "alarmNamePrefix",
	    "app-"));
	ck_assert_int_eq(iget(sc, "count"), 2);
	ck_assert(json_is_false(json_object_get(sc, "hasMore")));
	ck_assert_int_eq(iget(json_object_get(sc, "summary"), "ALARM"), 1);
	ck_assert_int_eq(iget(json_object_get(sc, "summary"), "OK"), 1);
	ck_assert_int_eq(iget(json_object_get(sc, "summary"),
	    "INSUFFICIENT_DATA"), 0);
	al = json_object_get(sc, "alarms");
	a = json_array_get(al, 0);	/* ALARM first */
	ck_assert_str_eq(sget(a, "name"), "app-down");
	ck_assert_str_eq(sget(a, "type"), "composite");
	ck_assert_str_eq(sget(a, "rule"), "ALARM(app-cpu) AND ALARM(app-5xx)");
	ck_assert_str_eq(sget(a, "updatedAt"), "2024-05-01T12:00:00.000Z");
	a = json_array_get(al, 1);
	ck_assert_str_eq(sget(a, "name"), "app-cpu");
	ck_assert_str_eq(sget(a, "type"), "metric");
	ck_assert_str_eq(sget(a, "state"), "OK");
	ck_assert_str_eq(sget(a, "updatedAt"), "2024-05-01T12:00:00.500Z");
	ck_assert_str_eq(sget(json_object_get(a, "metric"), "name"),
	    "CPUUtilization");
	ck_assert_str_eq(sget(json_object_get(json_object_get(a, "metric"),
	    "dimensions"), "ClusterName"), "prod");
	ck_assert_str_eq(sget(json_object_get(a, "condition"), "comparison"),
	    "GreaterThanThreshold");
	ck_assert(json_real_value(json_object_get(json_object_get(a,
	    "condition"), "threshold")) == 80.0);
	json_decref(sc);
	srv_stop();
	ck_assert_str_eq(fs_ops(ops, sizeof(ops)),
	    "DescribeAlarms,DescribeAlarms");
	b = fc_body(0);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(b,
	    "AlarmTypes"), 0)), "MetricAlarm");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(b,
	    "AlarmTypes"), 1)), "CompositeAlarm");
	ck_assert_str_eq(sget(b, "AlarmNamePrefix"), "app-");
	ck_assert_int_eq(iget(b, "MaxRecords"), 100);
	ck_assert_ptr_null(json_object_get(b, "NextToken"));
	json_decref(b);
	b = fc_body(1);
	ck_assert_str_eq(sget(b, "NextToken"), "n1");
	json_decref(b);
}
END_TEST

START_TEST(health_unhealthy_verdict)
{
	static const char *const reasons[] = {
		"0 of 2 desired tasks running (unhealthy)",
		"the primary deployment failed: tasks failed to start",
		"CPUUtilization average 55.0%, maximum 70.0%",
		"no MemoryUtilization datapoints in the window",
	};
	json_t *sc, *r, *b, *q, *cpu;
	char ops[256];
	size_t i;

	fs_push(200, json_pack("{s:[{s:s, s:i, s:i, s:i, s:s, s:[{s:s, s:s, "
	    "s:s}, {s:s, s:s}]}], s:[]}", "services", "status", "ACTIVE",
	    "desiredCount", 2, "runningCount", 0, "pendingCount", 2,
	    "taskDefinition",
	    "arn:aws:ecs:us-east-1:123456789012:task-definition/api:7",
	    "deployments", "status", "PRIMARY", "rolloutState", "FAILED",
	    "rolloutStateReason", "tasks failed to start", "status", "ACTIVE",
	    "rolloutState", "COMPLETED", "failures"), "r-1", 1);
	fs_push(200, json_pack("{s:[{s:s, s:[f, f], s:[i, i]}, {s:s, s:[f], "
	    "s:[i]}, {s:s, s:[], s:[]}, {s:s, s:[], s:[]}, {s:s, s:[f], "
	    "s:[i]}]}", "MetricDataResults",
	    "Id", "cpu_avg", "Values", 50.0, 60.0, "Timestamps", 2000, 1000,
	    "Id", "cpu_max", "Values", 70.0, "Timestamps", 1000,
	    "Id", "mem_avg", "Values", "Timestamps",
	    "Id", "mem_max", "Values", "Timestamps",
	    "Id", "other", "Values", 99.0, "Timestamps", 1000), "r-2", 1);
	srv_start();
	sc = call_ok("getServiceHealth", ARGS("{s:s, s:s}", "cluster", "prod",
	    "service", "api"));
	ck_assert_str_eq(sget(sc, "verdict"), "unhealthy");
	ck_assert_str_eq(sget(sc, "taskDefinition"), "api:7");
	ck_assert_str_eq(sget(sc, "rolloutState"), "FAILED");
	ck_assert_int_eq(iget(sc, "deployments"), 2);
	ck_assert_int_eq(iget(sc, "pendingCount"), 2);
	r = json_object_get(sc, "reasons");
	ck_assert_int_eq(json_array_size(r), 4);
	for (i = 0; i < 4; i++)
		ck_assert_str_eq(json_string_value(json_array_get(r, i)),
		    reasons[i]);
	cpu = json_object_get(sc, "cpu");
	ck_assert(json_real_value(json_object_get(cpu, "average")) == 55.0);
	ck_assert(json_real_value(json_object_get(cpu, "maximum")) == 70.0);
	ck_assert(json_real_value(json_object_get(cpu, "latest")) == 50.0);
	ck_assert_int_eq(iget(cpu, "datapoints"), 2);
	ck_assert(json_is_null(json_object_get(sc, "memory")));
	ck_assert_int_eq(iget(json_object_get(sc, "window"), "periodSeconds"),
	    300);
	json_decref(sc);
	srv_stop();
	ck_assert_str_eq(fs_ops(ops, sizeof(ops)),
	    "DescribeServices,GetMetricData");
	b = fc_body(0);
	ck_assert_str_eq(sget(b, "cluster"), "prod");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(b,
	    "services"), 0)), "api");
	json_decref(b);
	b = fc_body(1);
	ck_assert_int_eq(iget(b, "EndTime") - iget(b, "StartTime"), 3600);
	ck_assert_int_eq(json_array_size(json_object_get(b,
	    "MetricDataQueries")), 4);
	q = json_object_get(json_array_get(json_object_get(b,
	    "MetricDataQueries"), 3), "MetricStat");
	ck_assert_str_eq(sget(q, "Stat"), "Maximum");
	ck_assert_int_eq(iget(q, "Period"), 300);
	ck_assert_str_eq(sget(json_object_get(q, "Metric"), "Namespace"),
	    "AWS/ECS");
	ck_assert_str_eq(sget(json_object_get(q, "Metric"), "MetricName"),
	    "MemoryUtilization");
	ck_assert_str_eq(sget(json_array_get(json_object_get(json_object_get(
	    q, "Metric"), "Dimensions"), 1), "Value"), "api");
	json_decref(b);
}
END_TEST

/* ---- moto ---- */

static char	grp[64];	/* the log group moto_setup() seeded */
static int	grp_seq;

static void
moto_setup(void)
{
	long long now = (long long)time(NULL) * 1000;
	json_t *evs;
	char big[6001];

	env_reset(moto_base);
	ck_assert_msg(moto_port != 0, "moto: %s", moto_why);
	/* fresh names per test, whether Check forks or not */
	snprintf(grp, sizeof(grp), "/afu9/obs-%ld-%d", (long)getpid(),
	    ++grp_seq);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	seed_void(AWS_SVC_LOGS, "CreateLogGroup", ARGS("{s:s}",
	    "logGroupName", grp));
	seed_void(AWS_SVC_LOGS, "CreateLogStream", ARGS("{s:s, s:s}",
	    "logGroupName", grp, "logStreamName", "app/1"));
	evs = json_pack("[{s:I, s:s}, {s:I, s:s}, {s:I, s:s}, {s:I, s:s}]",
	    "timestamp", (json_int_t)(now - 7200000), "message", "INFO old",
	    "timestamp", (json_int_t)(now - 300000), "message", "INFO started",
	    "timestamp", (json_int_t)(now - 240000), "message", "ERROR boom\n",
	    "timestamp", (json_int_t)(now - 180000), "message", big);
	seed_void(AWS_SVC_LOGS, "PutLogEvents", json_pack("{s:s, s:s, s:o}",
	    "logGroupName", grp, "logStreamName", "app/1", "logEvents", evs));
}

static void
moto_teardown(void)
{
}

START_TEST(moto_search_logs)
{
	json_t *sc, *ev;
	char *e, tok[512];

	srv_start();
	sc = call_ok("searchLogs", ARGS("{s:s}", "logGroupName", grp));
	ev = json_object_get(sc, "events");
	ck_assert_int_eq(json_array_size(ev), 3);
	ck_assert_str_eq(sget(json_array_get(ev, 0), "message"),
	    "INFO started");
	ck_assert_str_eq(sget(json_array_get(ev, 1), "message"), "ERROR boom");
	ck_assert_str_eq(sget(json_array_get(ev, 1), "logStream"), "app/1");
	ck_assert_int_eq(strlen(sget(json_array_get(ev, 2), "message")), 4096);
	ck_assert(has_note(sc, "messages longer than 4096 bytes were cut"));
	ck_assert(json_is_false(json_object_get(sc, "hasMore")));
	json_decref(sc);

	sc = call_ok("searchLogs", ARGS("{s:s, s:s}", "logGroupName", grp,
	    "filterPattern", "ERROR"));
	ck_assert_int_eq(iget(sc, "count"), 1);
	json_decref(sc);

	sc = call_ok("searchLogs", ARGS("{s:s, s:s, s:s}", "logGroupName", grp,
	    "startTime", "-3h", "endTime", "now"));
	ck_assert_int_eq(iget(sc, "count"), 4);
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "events"), 0),
	    "message"), "INFO old");
	json_decref(sc);

	/* a limit, then the rest through nextToken */
	sc = call_ok("searchLogs", ARGS("{s:s, s:i}", "logGroupName", grp,
	    "limit", 2));
	ck_assert_int_eq(iget(sc, "count"), 2);
	ck_assert(json_is_true(json_object_get(sc, "hasMore")));
	snprintf(tok, sizeof(tok), "%s", sget(sc, "nextToken"));
	json_decref(sc);
	sc = call_ok("searchLogs", ARGS("{s:s, s:s}", "logGroupName", grp,
	    "nextToken", tok));
	ck_assert_int_eq(iget(sc, "count"), 1);
	ck_assert_int_eq(strlen(sget(json_array_get(json_object_get(sc,
	    "events"), 0), "message")), 4096);
	json_decref(sc);

	e = call_err("searchLogs", ARGS("{s:s}", "logGroupName",
	    "/afu9/no-such-group"));
	ck_assert_msg(strncmp(e, "CloudWatch Logs FilterLogEvents failed: "
	    "ResourceNotFoundException: ", 67) == 0 && strstr(e,
	    "(request id ") != NULL, "%s", e);
	free(e);
	srv_stop();
}
END_TEST

START_TEST(moto_query_logs)
{
	json_t *sc, *row;

	srv_start();
	/* moto 5.2.1 runs fields, sort and limit (not filter) */
	sc = call_ok("queryLogs", ARGS("{s:[s], s:s, s:s}", "logGroupNames",
	    grp, "query", "fields @timestamp, @message | sort @timestamp desc "
	    "| limit 2", "startTime", "-1h"));
	ck_assert_str_eq(sget(sc, "status"), "Complete");
	ck_assert_int_eq(iget(sc, "count"), 2);
	row = json_array_get(json_object_get(sc, "results"), 0);
	ck_assert_ptr_null(json_object_get(row, "@ptr"));
	ck_assert_int_eq(strlen(sget(row, "@message")), 4096);
	ck_assert(has_note(sc, "values longer than 4096 bytes were cut"));
	row = json_array_get(json_object_get(sc, "results"), 1);
	ck_assert_str_eq(sget(row, "@message"), "ERROR boom\n");
	ck_assert_ptr_nonnull(sget(row, "@timestamp"));
	json_decref(sc);
	ck_assert_str_eq(sget(json_array_get(progress, 0), "message"),
	    "query started");
	srv_stop();
}
END_TEST

/* A service with desiredCount `desired` in cluster c. */
static void
seed_service(const char *c, const char *name, int desired)
{
	seed_void(AWS_SVC_ECS, "CreateService", ARGS("{s:s, s:s, s:s, s:i}",
	    "cluster", c, "serviceName", name, "taskDefinition", "obs-web",
	    "desiredCount", desired));
}

static void
seed_util(const char *c, const char *svc, const char *metric, double v)
{
	seed_void(AWS_SVC_MONITORING, "PutMetricData", ARGS("{s:s, s:[{s:s, "
	    "s:[{s:s, s:s}, {s:s, s:s}], s:f, s:I, s:s}]}", "Namespace",
	    "AWS/ECS", "MetricData", "MetricName", metric, "Dimensions",
	    "Name", "ClusterName", "Value", c, "Name", "ServiceName", "Value",
	    svc, "Value", v, "Timestamp", (json_int_t)(time(NULL) - 60),
	    "Unit", "Percent"));
}

static void
assert_reasons(const json_t *sc, const char *const *want)
{
	const json_t *r = json_object_get(sc, "reasons");
	size_t i;

	for (i = 0; want[i] != NULL; i++)
		ck_assert_str_eq(json_string_value(json_array_get(r, i)),
		    want[i]);
	ck_assert_int_eq(json_array_size(r), i);
}

START_TEST(moto_service_health)
{
	static const char *const ok[] = { "2 of 2 desired tasks running",
	    "CPUUtilization average 45.0%, maximum 45.0%",
	    "MemoryUtilization average 30.0%, maximum 30.0%", NULL };
	static const char *const hot[] = { "2 of 2 desired tasks running",
	    "CPUUtilization average 92.0%, maximum 92.0% (degraded: average "
	    ">= 80% or maximum >= 90%)",
	    "MemoryUtilization average 30.0%, maximum 30.0%", NULL };
	static const char *const shortf[] = {
	    "2 of 3 desired tasks running (degraded)",
	    "no CPUUtilization datapoints in the window",
	    "no MemoryUtilization datapoints in the window", NULL };
	char c[64], want[256], *e;
	json_t *sc;

	snprintf(c, sizeof(c), "obs-%ld", (long)getpid());
	seed_void(AWS_SVC_ECS, "CreateCluster", ARGS("{s:s}", "clusterName",
	    c));
	seed_void(AWS_SVC_ECS, "RegisterTaskDefinition", ARGS("{s:s, "
	    "s:[{s:s, s:s, s:i}]}", "family", "obs-web",
	    "containerDefinitions", "name", "web", "image", "nginx", "memory",
	    128));
	seed_service(c, "ok", 2);
	seed_service(c, "hot", 2);
	seed_service(c, "short", 3);
	seed_util(c, "ok", "CPUUtilization", 45.0);
	seed_util(c, "ok", "MemoryUtilization", 30.0);
	seed_util(c, "hot", "CPUUtilization", 92.0);
	seed_util(c, "hot", "MemoryUtilization", 30.0);
	srv_start();
	sc = call_ok("getServiceHealth", ARGS("{s:s, s:s}", "cluster", c,
	    "service", "ok"));
	ck_assert_str_eq(sget(sc, "verdict"), "healthy");
	ck_assert_str_eq(sget(sc, "status"), "ACTIVE");
	ck_assert_str_eq(sget(sc, "taskDefinition"), "obs-web:1");
	ck_assert_int_eq(iget(sc, "runningCount"), 2);
	assert_reasons(sc, ok);
	json_decref(sc);
	sc = call_ok("getServiceHealth", ARGS("{s:s, s:s, s:i, s:s}",
	    "cluster", c, "service", "hot", "period", 60, "window", "30m"));
	ck_assert_str_eq(sget(sc, "verdict"), "degraded");
	assert_reasons(sc, hot);
	json_decref(sc);
	sc = call_ok("getServiceHealth", ARGS("{s:s, s:s}", "cluster", c,
	    "service", "short"));
	ck_assert_str_eq(sget(sc, "verdict"), "degraded");
	assert_reasons(sc, shortf);
	json_decref(sc);
	snprintf(want, sizeof(want), "ECS: service 'nope' not found in "
	    "cluster '%s' (MISSING); listServices shows the services there", c);
	assert_err("getServiceHealth", ARGS("{s:s, s:s}", "cluster", c,
	    "service", "nope"), want);
	e = call_err("getServiceHealth", ARGS("{s:s, s:s}", "cluster",
	    "obs-no-such-cluster", "service", "x"));
	ck_assert_msg(strncmp(e, "ECS DescribeServices failed: "
	    "ClusterNotFoundException: Cluster not found. (request id ",
	    86) == 0, "%s", e);
	free(e);
	srv_stop();
}
END_TEST

START_TEST(moto_alarm_status)
{
	static const char *const kinds[] = { "cpu", "mem", "disk" };
	char name[160], prefix[64];
	json_t *sc, *a;
	size_t i;

	snprintf(prefix, sizeof(prefix), "obs-%ld-", (long)getpid());
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s%s", prefix, kinds[i]);
		seed_void(AWS_SVC_MONITORING, "PutMetricAlarm", ARGS("{s:s, "
		    "s:s, s:s, s:s, s:i, s:i, s:f, s:s, s:[{s:s, s:s}]}",
		    "AlarmName", name, "MetricName", "CPUUtilization",
		    "Namespace", "AWS/ECS", "Statistic", "Average", "Period",
		    60, "EvaluationPeriods", 2, "Threshold", 80.0,
		    "ComparisonOperator", "GreaterThanThreshold", "Dimensions",
		    "Name", "ClusterName", "Value", "prod"));
	}
	snprintf(name, sizeof(name), "%scpu", prefix);
	seed_void(AWS_SVC_MONITORING, "SetAlarmState", ARGS("{s:s, s:s, s:s}",
	    "AlarmName", name, "StateValue", "ALARM", "StateReason",
	    "CPU high"));
	srv_start();
	sc = call_ok("getAlarmStatus", ARGS("{s:s}", "alarmNamePrefix",
	    prefix));
	ck_assert_int_eq(iget(sc, "count"), 3);
	ck_assert_int_eq(iget(json_object_get(sc, "summary"), "ALARM"), 1);
	ck_assert_int_eq(iget(json_object_get(sc, "summary"), "OK") +
	    iget(json_object_get(sc, "summary"), "INSUFFICIENT_DATA"), 2);
	a = json_array_get(json_object_get(sc, "alarms"), 0);
	ck_assert_str_eq(sget(a, "name"), name);
	ck_assert_str_eq(sget(a, "state"), "ALARM");
	ck_assert_str_eq(sget(a, "reason"), "CPU high");
	ck_assert_str_eq(sget(a, "type"), "metric");
	ck_assert_str_eq(sget(json_object_get(a, "metric"), "namespace"),
	    "AWS/ECS");
	ck_assert_str_eq(sget(json_object_get(json_object_get(a, "metric"),
	    "dimensions"), "ClusterName"), "prod");
	ck_assert_int_eq(iget(json_object_get(a, "condition"),
	    "evaluationPeriods"), 2);
	ck_assert_ptr_nonnull(sget(a, "updatedAt"));
	json_decref(sc);
	sc = call_ok("getAlarmStatus", ARGS("{s:s, s:s}", "alarmNamePrefix",
	    prefix, "stateValue", "ALARM"));
	ck_assert_int_eq(iget(sc, "count"), 1);
	json_decref(sc);
	snprintf(name, sizeof(name), "%smem", prefix);
	sc = call_ok("getAlarmStatus", ARGS("{s:[s]}", "alarmNames", name));
	ck_assert_int_eq(iget(sc, "count"), 1);
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "alarms"),
	    0), "name"), name);
	json_decref(sc);
	srv_stop();
}
END_TEST

/* ---- Node: the TypeScript SDK client ---- */

START_TEST(sdk_client_end_to_end)
{
	char *out = NULL;
	int st = -1;

	setenv("OBS_TEST_GROUP", grp, 1);
	ck_assert_int_eq(mt_sdk_run("t/obs/sdk-call.mjs",
	    "servers/observability/afu9-observability", 60000 * t_slow(),
	    &out, &st), 0);
	ck_assert_msg(out != NULL && strstr(out, "not ok") == NULL &&
	    strstr(out, "ok searchLogs count=3") != NULL, "%s",
	    out ? out : "(nothing)");
	ck_assert_msg(strstr(out, SECRET) == NULL, "secret in SDK output");
	free(out);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

static int
node_available(void)
{
	return mt_node_available("# SKIP SDK test: t/node_modules missing "
	    "(scripts/node-deps.sh; AFU9_REQUIRE_NODE_TESTS=1 makes this a "
	    "failure)\n");
}

int
main(void)
{
	Suite *s = suite_create("obs");
	TCase *tc;
	int failed, with_moto;

	fc_start();
	moto_start();
	with_moto = fc_tool_wanted(moto_port != 0, moto_why, "moto tests");

	tc = tcase_create("timeparse");
	tcase_add_loop_test(tc, time_table, 0, sizeof(time_cases) /
	    sizeof(time_cases[0]));
	tcase_add_test(tc, time_json_and_format);
	tcase_add_test(tc, duration_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_set_timeout(tc, 30 * t_slow());
	tcase_add_checked_fixture(tc, fs_setup, fs_teardown);
	tcase_add_test(tc, lists_read_only_tools);
	tcase_add_test(tc, tool_selection_flags);
	tcase_add_test(tc, help_version_and_man_page);
	tcase_add_test(tc, no_credentials);
	tcase_add_test(tc, bad_configuration_served);
	tcase_add_test(tc, bad_arguments_send_nothing);
	tcase_add_test(tc, search_follows_pages);
	tcase_add_test(tc, search_limit_returns_token);
	tcase_add_test(tc, throttling_retried_then_ok);
	tcase_add_test(tc, throttling_exhausted);
	tcase_add_test(tc, server_errors_and_malformed);
	tcase_add_test(tc, slow_answers_time_out);
	tcase_add_test(tc, query_polls_until_complete);
	tcase_add_test(tc, query_ends_without_results);
	tcase_add_test(tc, query_wait_bounded_then_stopped);
	tcase_add_test(tc, query_cancel_stops_query);
	tcase_add_test(tc, alarms_both_kinds_paged);
	tcase_add_test(tc, health_unhealthy_verdict);
	suite_add_tcase(s, tc);

	if (with_moto) {
		tc = tcase_create("moto");
		tcase_set_timeout(tc, 30 * t_slow());
		tcase_add_checked_fixture(tc, moto_setup, moto_teardown);
		tcase_add_test(tc, moto_search_logs);
		tcase_add_test(tc, moto_query_logs);
		tcase_add_test(tc, moto_service_health);
		tcase_add_test(tc, moto_alarm_status);
		if (node_available())
			tcase_add_test(tc, sdk_client_end_to_end);
		suite_add_tcase(s, tc);
	}

	failed = t_run(s);
	fc_stop(5000);
	if (moto.pid > 0)
		t_finish(&moto, 10000);
	json_decref(progress);
	return failed;
}
