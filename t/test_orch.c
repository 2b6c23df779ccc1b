/*
 * The afu9 binary against real children (t/conformance-server, t/crashy):
 * configuration checks, CLI exit codes, /health /ready /metrics, liveness
 * (kill -9 mid-call, SIGSTOP), crash loops, graceful shutdown.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>

#include "httptest.h"
#include "orchtest.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/afu9-orch-XXXXXX";
static int saw_list_changed;	/* by gw_reply() */

/* Write a config file; @SERVER@ and @CRASHY@ name the test binaries. */
static const char *
write_config(const char *name, const char *text)
{
	return ot_write_config(tmpdir, name, text);
}

#define RUN(out, err, ...) ot_run_afu9((const char *const []){ __VA_ARGS__, NULL }, \
	    out, err)

/* /ready parsed; new reference. */
static json_t *
ready_json(int port, int *status)
{
	char *body;
	json_t *j;

	*status = ot_http_get(port, "/ready", &body);
	j = json_loads(body, 0, NULL);
	ck_assert_msg(j != NULL, "/ready body is not JSON: %s", body);
	free(body);
	return j;
}

static json_t *
server_entry(json_t *ready, size_t i)
{
	return json_array_get(json_object_get(ready, "servers"), i);
}

/* A running `afu9 serve` (HTTP mode, or --stdio) and its HTTP port. */
struct afu9 {
	struct tproc	p;
	int		port;
};

static void
start_afu9(struct afu9 *a, const char *config, int stdio)
{
	char *argv[] = { (char *)t_builddir("orchestrator/afu9"), "serve",
	    "--config", (char *)config, stdio ? "--stdio" : NULL, NULL };
	char *log, *at, *more;
	int eof;

	ck_assert_int_eq(t_spawn(&a->p, argv, NULL, 1), 0);
	log = t_read_until(a->p.err, "(port ", 10000 * t_slow(), &eof);
	ck_assert_msg(log && (at = strstr(log, "(port ")) != NULL,
	    "no listening line: %s", log ? log : "(nothing)");
	if (strchr(at, ')') == NULL) {
		more = t_read_until(a->p.err, ")", 2000, &eof);
		ck_assert_ptr_nonnull(more);
		a->port = atoi(more);
		free(more);
	} else
		a->port = atoi(at + 6);
	free(log);
	ck_assert_int_gt(a->port, 0);
}

/* Poll /ready until it says `want` for server i (state, or a field test);
   the last body (new reference), or fail at the deadline. */
static json_t *
wait_state(struct afu9 *a, size_t i, const char *want, int min_restarts,
    int deadline_ms)
{
	double end = t_now_ms() + deadline_ms * t_slow();
	json_t *r, *s;
	int st;

	for (;;) {
		r = ready_json(a->port, &st);
		s = server_entry(r, i);
		if (strcmp(json_string_value(json_object_get(s, "state")), want)
		    == 0 && json_integer_value(json_object_get(s, "restarts"))
		    >= min_restarts)
			return r;
		if (t_now_ms() > end) {
			char *d = json_dumps(r, 0);

			ck_abort_msg("server %zu not %s in time: %s", i, want, d);
		}
		json_decref(r);
		usleep(20000);
	}
}

static int
stop_afu9(struct afu9 *a)
{
	int st;

	kill(a->p.pid, SIGTERM);
	st = t_finish(&a->p, 15000 * t_slow());
	close(a->p.out);
	close(a->p.err);
	return st;
}

/* ---- configuration ---- */

START_TEST(check_config_ok)
{
	const char *c = write_config("ok.json", "{\"mcpServers\":{\"conf\":"
	    "{\"command\":\"@SERVER@\"}}}");
	char *out, *err;

	ck_assert_int_eq(RUN(&out, &err, "serve", "--check-config",
	    "--config", c), 0);
	ck_assert_msg(strstr(out, "configuration OK (1 server(s))"), "%s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(check_config_errors)
{
	const char *typo = write_config("typo.json", "{\"mcpServers\":{\"conf\":"
	    "{\"command\":\"@SERVER@\",\"argz\":[]}}}");
	const char *bad = write_config("bad.json", "{\"mcpServers\":{,}}");
	char *out, *err;

	ck_assert_int_eq(RUN(&out, &err, "serve", "--check-config",
	    "--config", typo), 2);
	ck_assert_msg(strstr(err, "$.mcpServers.conf") && strstr(err,
	    "argz"), "%s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "serve", "--check-config",
	    "--config", bad), 2);
	ck_assert_msg(strstr(err, "bad.json:1:"), "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "serve", "--bogus"), 2);
	free(out);
	free(err);
}
END_TEST

/* ---- CLI ---- */

static const char *
cli_config(void)
{
	return write_config("cli.json", "{\"mcpServers\":{"
	    "\"conf\":{\"command\":\"@SERVER@\"},"
	    "\"nd\":{\"command\":\"@SERVER@\",\"framing\":\"ndjson\"},"
	    "\"gone\":{\"command\":\"/nonexistent/afu9-none\",\"required\":"
	    "false}}}");
}

START_TEST(cli_call_codes)
{
	const char *c = cli_config();
	char *out, *err;

	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.add",
	    "a=2", "b=40"), 0);
	ck_assert_str_eq(out, "{\"sum\":42}\n");
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "nd.add",
	    "--json", "{\"a\":-1,\"b\":2}"), 0);
	ck_assert_str_eq(out, "{\"sum\":1}\n");
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.fail"),
	    1);
	ck_assert_msg(strstr(err, "fail: this tool always fails"), "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c,
	    "conf.nosuch"), 2);
	ck_assert_msg(strstr(err, "Unknown tool: conf.nosuch"), "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.add",
	    "a=two", "b=1"), 2);
	ck_assert_msg(strstr(err, "argument a: not an integer: two"), "%s",
	    err);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.add",
	    "noequals"), 2);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "gone.x"), 3);
	ck_assert_msg(strstr(err, "server gone") && strstr(err,
	    "exec failed"), "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "nope.x"), 2);
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_tools_list)
{
	const char *c = cli_config();
	char *out, *err;
	json_t *j;

	ck_assert_int_eq(RUN(&out, &err, "tools", "--json", "--config", c),
	    3);
	ck_assert_msg(strstr(err, "server gone unavailable: exec failed"),
	    "%s", err);
	ck_assert_ptr_nonnull(j = json_loads(out, 0, NULL));
	ck_assert_int_eq(json_array_size(j), 32);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j,
	    0), "name")), "conf.test_simple_text");
	json_decref(j);
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_coerce_types)
{
	/* echo takes {text: string}: numbers stay text; big echoes size. */
	const char *c = cli_config();
	char *out, *err;

	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.echo",
	    "text=42"), 0);
	ck_assert_str_eq(out, "42\n");
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.big",
	    "bytes=3"), 0);
	ck_assert_str_eq(out, "xxx\n");
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "version"), 0);
	ck_assert_msg(strncmp(out, "afu9 ", 5) == 0, "%s", out);
	free(out);
	free(err);
}
END_TEST

/* ---- HTTP ---- */

START_TEST(http_endpoints)
{
	const char *c = write_config("http.json", "{\"mcpServers\":{"
	    "\"conf\":{\"command\":\"@SERVER@\"},"
	    "\"gone\":{\"command\":\"/nonexistent/afu9-none\",\"required\":"
	    "false}},\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"}}}");
	char url[128], *body, *out, *err;
	struct afu9 a;
	json_t *r, *s;
	int st;

	start_afu9(&a, c, 0);
	ck_assert_int_eq(ot_http_get(a.port, "/health", &body), 200);
	ck_assert_msg(strstr(body, "\"status\":\"ok\",\"service\":\"afu9\"") &&
	    strstr(body, "\"uptime_s\":"), "%s", body);
	free(body);
	r = wait_state(&a, 0, "ready", 0, 10000);
	ck_assert_int_eq(ot_http_get(a.port, "/ready", &body), 200);
	free(body);
	s = server_entry(r, 0);
	ck_assert_str_eq(json_string_value(json_object_get(s, "name")), "conf");
	ck_assert_int_eq(json_integer_value(json_object_get(s, "tools")), 16);
	ck_assert_int_gt(json_integer_value(json_object_get(s, "pid")), 0);
	s = server_entry(r, 1);
	ck_assert_msg(strstr(json_string_value(json_object_get(s,
	    "last_exit")), "exec failed"), "%s",
	    json_string_value(json_object_get(s, "last_exit")));
	json_decref(r);
	ck_assert_int_eq(ot_http_get(a.port, "/metrics", &body), 200);
	ck_assert_msg(strstr(body, "afu9_server_up{server=\"conf\"} 1\n") &&
	    strstr(body, "afu9_server_up{server=\"gone\"} 0\n") &&
	    strstr(body, "afu9_server_restarts_total{server=\"conf\"} 0\n") &&
	    strstr(body, "afu9_http_responses_total{code=\"200\"}") &&
	    strstr(body, "process_open_fds ") &&
	    strstr(body, "process_resident_memory_bytes "), "%s", body);
	free(body);
	/* The container health check. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", a.port);
	ck_assert_int_eq(RUN(&out, &err, "health", url), 0);
	ck_assert_msg(strstr(out, "\"status\":\"ok\""), "%s", out);
	free(out);
	free(err);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nothing", a.port);
	ck_assert_int_eq(RUN(&out, &err, "health", url), 1);
	free(out);
	free(err);
	st = stop_afu9(&a);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_int_eq(RUN(&out, &err, "health", url), 1);
	ck_assert_msg(strstr(err, "afu9 health:"), "%s", err);
	free(out);
	free(err);
}
END_TEST

/* The soft "Max open files" of pid, from /proc/PID/limits. */
static long long
nofile_soft(pid_t pid)
{
	char path[64], line[256];
	long long soft = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max open files", 14) == 0)
			soft = atoll(line + 14);
	fclose(f);
	return soft;
}

/*
 * AFU9_HTTP_MAX_CONNECTIONS and AFU9_HTTP_RESERVE_CONNECTIONS: with the
 * two connections allowed open, the one reserve slot serves a health
 * check and answers anything else 503; once one closes, everything is
 * served again.  A low soft open file limit is raised for the cap.
 */
START_TEST(http_connection_env)
{
	const char *c = write_config("cap.json", "{\"mcpServers\":{"
	    "\"conf\":{\"command\":\"@SERVER@\"}},"
	    "\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"}}}");
	double deadline;
	struct rlimit rl, low;
	struct ht_resp r;
	struct afu9 a;
	char *v;
	int i1, i2, st;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	setenv("AFU9_HTTP_MAX_CONNECTIONS", "2", 1);
	setenv("AFU9_HTTP_RESERVE_CONNECTIONS", "1", 1);
	start_afu9(&a, c, 0);
	unsetenv("AFU9_HTTP_MAX_CONNECTIONS");
	unsetenv("AFU9_HTTP_RESERVE_CONNECTIONS");
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	/* 2 + 1 + 256 (valgrind keeps the process's limit to itself) */
	if (getenv("AFU9_TEST_WRAPPER") == NULL)
		ck_assert_int_eq(nofile_soft(a.p.pid), rl.rlim_max <
		    259 ? (long long)rl.rlim_max : 259);
	i1 = ht_dial(a.port);
	ht_kreq(i1, "GET", "/health", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ht_resp_free(&r);
	i2 = ht_dial(a.port);
	ht_kreq(i2, "GET", "/health", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ht_resp_free(&r);
	/* the reserve slot: not a health check, then one */
	ht_req(a.port, "GET", "/metrics", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(v = ht_header(&r, "Retry-After"));
	ck_assert_str_eq(v, "1");
	free(v);
	ht_resp_free(&r);
	ht_req(a.port, "GET", "/health", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ht_resp_free(&r);
	close(i1);
	deadline = t_now_ms() + 5000 * t_slow();
	for (;;) {
		ht_req(a.port, "GET", "/metrics", NULL, NULL, NULL, &r);
		if (r.status == 200 || t_now_ms() > deadline)
			break;
		ht_resp_free(&r);
		usleep(10000);
	}
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, "afu9_http_connections_rejected_total ") &&
	    !strstr(r.body, "afu9_http_connections_rejected_total 0\n") &&
	    !strstr(r.body, "afu9_http_connections_reserved_total 0\n") &&
	    !strstr(r.body, "afu9_http_connections_reserved_total 1\n"),
	    "%s", r.body);
	ht_resp_free(&r);
	close(i2);
	st = stop_afu9(&a);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

START_TEST(crash_loop_not_ready)
{
	const char *c = write_config("loop.json", "{\"mcpServers\":{"
	    "\"conf\":{\"command\":\"@SERVER@\"},"
	    "\"crashy\":{\"command\":\"@CRASHY@\",\"args\":[\"exit\",\"3\"]}},"
	    "\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"}}}");
	struct afu9 a;
	json_t *r, *s;
	int st;

	start_afu9(&a, c, 0);
	r = wait_state(&a, 1, "failed", 4, 10000);
	s = server_entry(r, 1);
	ck_assert_str_eq(json_string_value(json_object_get(s, "last_exit")),
	    "exited with status 3");
	json_decref(r);
	r = ready_json(a.port, &st);
	ck_assert_int_eq(st, 503);
	ck_assert_str_eq(json_string_value(json_object_get(r, "status")),
	    "not ready");
	json_decref(r);
	/* Retries go on. */
	json_decref(wait_state(&a, 1, "failed", 5, 10000));
	st = stop_afu9(&a);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

START_TEST(sigstop_ping_restart)
{
	const char *c = write_config("stop.json", "{\"mcpServers\":{"
	    "\"conf\":{\"command\":\"@SERVER@\",\"pingIntervalMs\":100,"
	    "\"pingTimeoutMs\":300}},"
	    "\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"}}}");
	struct afu9 a;
	json_t *r, *s;
	int pid, st;

	start_afu9(&a, c, 0);
	r = wait_state(&a, 0, "ready", 0, 10000);
	pid = (int)json_integer_value(json_object_get(server_entry(r, 0),
	    "pid"));
	json_decref(r);
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	r = wait_state(&a, 0, "ready", 1, 10000);
	s = server_entry(r, 0);
	ck_assert_int_ne(json_integer_value(json_object_get(s, "pid")), pid);
	ck_assert_str_eq(json_string_value(json_object_get(s, "last_exit")),
	    "killed by signal 9 (Killed)");
	json_decref(r);
	ck_assert(!t_alive(pid));
	st = stop_afu9(&a);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

/* ---- gateway: deaths and shutdown with calls in flight ---- */

static const char *
gw_config(void)
{
	return write_config("gw.json", "{\"mcpServers\":{"
	    "\"conf\":{\"command\":\"@SERVER@\"}},"
	    "\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"},"
	    "\"shutdownGraceMs\":5000}}");
}

static void
gw_send(struct afu9 *a, const char *line)
{
	ot_send(a->p.in, line);
}

/* Read lines until one carries "id":id; returns it (malloc'd). */
static char *
gw_reply(struct afu9 *a, int id, int timeout_ms)
{
	char s[16];

	snprintf(s, sizeof(s), "%d", id);
	return ot_reply(a->p.out, s, timeout_ms, &saw_list_changed);
}

static void
gw_init(struct afu9 *a)
{
	char *l;

	gw_send(a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":"
	    "{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n");
	l = gw_reply(a, 1, 10000 * t_slow());
	ck_assert_msg(strstr(l, "\"name\":\"afu9\""), "%s", l);
	free(l);
	gw_send(a, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}\n");
}

START_TEST(kill9_mid_call)
{
	struct afu9 a;
	json_t *r;
	char *l;
	double t0;
	int pid, st;

	start_afu9(&a, gw_config(), 1);
	gw_init(&a);
	r = wait_state(&a, 0, "ready", 0, 10000);
	pid = (int)json_integer_value(json_object_get(server_entry(r, 0),
	    "pid"));
	json_decref(r);
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"conf.sleep\",\"arguments\":{\"ms\":20000}}}"
	    "\n");
	/* The ping's answer follows the call's dispatch: the router holds
	   the call (sent to the child) from here on. */
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}\n");
	free(gw_reply(&a, 8, 5000 * t_slow()));
	t0 = t_now_ms();
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	l = gw_reply(&a, 7, 5000 * t_slow());
	ck_assert_msg(t_now_ms() - t0 < 100. * t_slow(), "error after %.0f ms",
	    t_now_ms() - t0);
	ck_assert_msg(strstr(l, "\"isError\":true") && strstr(l,
	    "server conf exited: killed by signal 9"), "%s", l);
	free(l);
	/* Restarted and serving again; the client heard of the changes. */
	saw_list_changed = 0;
	json_decref(wait_state(&a, 0, "ready", 1, 10000));
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"conf.echo\",\"arguments\":{\"text\":\"hi\"}}}"
	    "\n");
	l = gw_reply(&a, 9, 5000 * t_slow());
	ck_assert_msg(strstr(l, "\"text\":\"hi\""), "%s", l);
	free(l);
	ck_assert_int_ge(saw_list_changed, 1);
	close(a.p.in);
	st = t_finish(&a.p, 10000 * t_slow());
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	close(a.p.out);
	close(a.p.err);
}
END_TEST

START_TEST(graceful_shutdown_in_flight)
{
	struct afu9 a;
	json_t *r;
	char *l;
	int pid, st;

	start_afu9(&a, gw_config(), 1);
	gw_init(&a);
	r = wait_state(&a, 0, "ready", 0, 10000);
	pid = (int)json_integer_value(json_object_get(server_entry(r, 0),
	    "pid"));
	json_decref(r);
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"conf.sleep\",\"arguments\":{\"ms\":600}}}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"conf.sleep\",\"arguments\":{\"ms\":800}}}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"ping\"}\n");
	free(gw_reply(&a, 13, 5000 * t_slow()));
	ck_assert_int_eq(kill(a.p.pid, SIGTERM), 0);
	l = gw_reply(&a, 11, 5000 * t_slow());
	ck_assert_msg(strstr(l, "slept 600 ms"), "%s", l);
	free(l);
	l = gw_reply(&a, 12, 5000 * t_slow());
	ck_assert_msg(strstr(l, "slept 800 ms"), "%s", l);
	free(l);
	st = t_finish(&a.p, 10000 * t_slow());
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert(!t_alive(pid));
	close(a.p.out);
	close(a.p.err);
}
END_TEST

START_TEST(list_pages_and_changes)
{
	char text[1024], *l;
	const char *c;
	struct afu9 a;

	snprintf(text, sizeof(text), "{\"mcpServers\":{\"lc\":{\"command\":"
	    "\"python3\",\"args\":[\"%s\"]}},\"afu9\":{\"http\":{\"listen\":"
	    "\"127.0.0.1:0\"}}}", t_srcdir("t/orch/listchanged.py"));
	c = write_config("lc.json", text);
	start_afu9(&a, c, 1);
	gw_init(&a);
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"tools/list\"}\n");
	l = gw_reply(&a, 2, 5000 * t_slow());
	ck_assert_msg(strstr(l, "\"name\":\"lc.a\"") && strstr(l,
	    "\"name\":\"lc.b\"") && !strstr(l, "lc.c"), "%s", l);
	free(l);
	saw_list_changed = 0;
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"lc.a\",\"arguments\":{}}}\n");
	l = gw_reply(&a, 3, 5000 * t_slow());
	ck_assert_msg(strstr(l, "grown"), "%s", l);
	free(l);
	/* The child's list_changed makes the router list again; the
	   gateway then tells its client. */
	for (l = NULL; saw_list_changed == 0; free(l)) {
		l = t_read_line(a.p.out, 5000 * t_slow());
		ck_assert_msg(l != NULL, "no notifications/tools/list_changed");
		if (strstr(l, "\"notifications/tools/list_changed\""))
			saw_list_changed++;
	}
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
	    "\"tools/list\"}\n");
	l = gw_reply(&a, 4, 5000 * t_slow());
	ck_assert_msg(strstr(l, "\"name\":\"lc.c\"") && strstr(l,
	    "\"description\":\"tool c\""), "%s", l);
	free(l);
	close(a.p.in);
	ck_assert_int_eq(t_finish(&a.p, 10000 * t_slow()), 0);
	close(a.p.out);
	close(a.p.err);
}
END_TEST

/* ---- wire trace ---- */

#define TRACE_TOKEN	"ghp_0123456789abcdefghijABCDEFGHIJ012345"
#define TRACE_COOKIE	"sid-7f3a9c0e55d1"

/*
 * AFU9_TRACE=mcp: every frame to and from the child is one log line,
 * whatever the level, with the tool's arguments in it and a token shape
 * redacted; AFU9_TRACE=http: the request and response, the credential
 * header values replaced (a cookie is no token shape: only the header
 * rule hides it).
 */
START_TEST(wire_trace)
{
	const char *c = cli_config();
	char *out, *err, *body, *log, req[512];
	struct afu9 a;
	int eof;

	setenv("AFU9_TRACE", "mcp", 1);
	setenv("AFU9_LOG_LEVEL", "error", 1);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.echo",
	    "text=traced " TRACE_TOKEN), 0);
	unsetenv("AFU9_TRACE");
	unsetenv("AFU9_LOG_LEVEL");
	ck_assert_str_eq(out, "traced " TRACE_TOKEN "\n");
	ck_assert_msg(strstr(err, "\"msg\":\"mcp out conf\"") &&
	    strstr(err, "\"msg\":\"mcp in conf\"") &&
	    strstr(err, "\\\"method\\\":\\\"initialize\\\"") &&
	    strstr(err, "\\\"method\\\":\\\"tools/call\\\"") &&
	    strstr(err, "traced [REDACTED]"), "%s", err);
	ck_assert_msg(strstr(err, TRACE_TOKEN) == NULL, "%s", err);
	free(out);
	free(err);

	c = write_config("trace.json", "{\"mcpServers\":{"
	    "\"conf\":{\"command\":\"@SERVER@\"}},"
	    "\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"}}}");
	setenv("AFU9_TRACE", "http", 1);
	start_afu9(&a, c, 0);
	unsetenv("AFU9_TRACE");
	snprintf(req, sizeof(req), "GET /health HTTP/1.1\r\nHost: t\r\n"
	    "Authorization: Bearer %s\r\nCookie: %s\r\n"
	    "Connection: close\r\n\r\n", TRACE_TOKEN, TRACE_COOKIE);
	ck_assert_int_eq(ot_http_raw(a.port, req, &body), 200);
	free(body);
	kill(a.p.pid, SIGTERM);
	log = t_read_until(a.p.err, "\001never", 15000 * t_slow(), &eof);
	ck_assert_int_eq(stop_afu9(&a), 0);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "\"msg\":\"http in 127.0.0.1:") &&
	    strstr(log, "\"msg\":\"http out 127.0.0.1:") &&
	    strstr(log, "GET /health HTTP/1.1\\r\\n") &&
	    strstr(log, "Authorization: [REDACTED]\\r\\n") &&
	    strstr(log, "Cookie: [REDACTED]\\r\\n") &&
	    strstr(log, "HTTP/1.1 200 OK") &&
	    strstr(log, "\\\"status\\\":\\\"ok\\\""), "%s", log);
	ck_assert_msg(strstr(log, TRACE_TOKEN) == NULL &&
	    strstr(log, TRACE_COOKIE) == NULL, "%s", log);
	free(log);
}
END_TEST

static Suite *
orch_suite(void)
{
	Suite *s = suite_create("orch");
	TCase *tc = tcase_create("afu9");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_config_ok);
	tcase_add_test(tc, http_connection_env);
	tcase_add_test(tc, check_config_errors);
	tcase_add_test(tc, cli_call_codes);
	tcase_add_test(tc, cli_tools_list);
	tcase_add_test(tc, cli_coerce_types);
	tcase_add_test(tc, http_endpoints);
	tcase_add_test(tc, wire_trace);
	tcase_add_test(tc, crash_loop_not_ready);
	tcase_add_test(tc, sigstop_ping_restart);
	tcase_add_test(tc, kill9_mid_call);
	tcase_add_test(tc, graceful_shutdown_in_flight);
	tcase_add_test(tc, list_pages_and_changes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ot_main(orch_suite(), tmpdir);
}
