/*
 * The recorded agent runs through the afu9 binary with a real PostgreSQL
 * (t/pgtest.h): GET /v1/agent-runs and /v1/agent-runs/{id}
 * (orchestrator/api/agentapi.h) behind the token check (none, wrong,
 * right), the run with its transcript and its pages, the list with its
 * filters and cursor, hostile ids and parameters, other methods, the
 * database stopped; and `afu9 agent show|list` on the same rows.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "orchtest.h"
#include "pgtest.h"
#include "testutil.h"

#define TOKEN	"apitok-Rq7Kw2Lz9Nm4Xc8T"	/* AFU9_API_TOKEN */
#define RUN_A	"0190f5a3-7b1c-7d2e-8f00-0000000000a1"
#define RUN_N	"0190f5a3-7b1c-7d2e-8f00-0000000000ff"	/* no such run */
#define EXEC	"0190f5a3-7b1c-7d2e-8f00-0000000000e1"

static char tmpdir[] = "/tmp/afu9-agentapi-XXXXXX";
static struct pgtest *pg;
static char *ci;
static struct tproc serve;
static int port;
static char *serve_log;

/* ---- the database ---- */

static void
q_do(const char *sql)
{
	PGconn *c = PQconnectdb(ci);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/*
 * The rows every test reads: run A (succeeded, in execution EXEC, four
 * messages), and runs 1..5 started a minute apart (2 and 4 failed), the
 * newest first in listings.
 */
static void
seed(void)
{
	q_do("INSERT INTO workflows (id, name, definition) VALUES "
	    "('0190f5a3-7b1c-7d2e-8f00-0000000000f1', 'w', "
	    "'{\"steps\":[]}')");
	q_do("INSERT INTO workflow_executions (id, workflow_id) VALUES ('"
	    EXEC "', '0190f5a3-7b1c-7d2e-8f00-0000000000f1')");
	q_do("INSERT INTO agent_runs (id, execution_id, provider, model, "
	    "status, task, input_tokens, output_tokens, cache_read_tokens, "
	    "cache_write_tokens, cost_usd, turns, tool_calls, result, "
	    "started_at, finished_at) VALUES ('" RUN_A "', '" EXEC "', "
	    "'anthropic', 'claude-test-1', 'succeeded', 'Fix issue 7', 200, "
	    "40, 10, 14, 0.002468, 2, 1, '{\"text\": \"Done.\"}', "
	    "'2026-01-01T00:00:00Z', '2026-01-01T00:00:03.5Z')");
	q_do("INSERT INTO agent_messages (run_id, seq, role, content, "
	    "input_tokens, output_tokens, cache_read_tokens, "
	    "cache_write_tokens) VALUES "
	    "('" RUN_A "', 0, 'user', '{\"text\": \"Fix issue 7\"}', NULL, "
	    "NULL, NULL, NULL), "
	    "('" RUN_A "', 1, 'assistant', '{\"text\": \"Reading.\", "
	    "\"tool_calls\": [{\"id\": \"c1\", \"tool\": \"github.getIssue\", "
	    "\"name\": \"github__getIssue\", \"arguments\": {\"number\": "
	    "7}}]}', 100, 20, 5, 7), "
	    "('" RUN_A "', 2, 'tool', '{\"call_id\": \"c1\", \"tool\": "
	    "\"github.getIssue\", \"text\": \"issue 7: it breaks\", "
	    "\"is_error\": false}', NULL, NULL, NULL, NULL), "
	    "('" RUN_A "', 3, 'assistant', '{\"text\": \"Done.\"}', 100, 20, "
	    "5, 7)");
	q_do("INSERT INTO agent_runs (id, provider, model, status, turns, "
	    "error, started_at, finished_at) SELECT ('0190f5a3-7b1c-7d2e-"
	    "8f00-00000000000' || i)::uuid, 'openai', 'gpt-test', CASE WHEN "
	    "i % 2 = 0 THEN 'failed' ELSE 'succeeded' END, i, CASE WHEN "
	    "i % 2 = 0 THEN 'budget: max_turns' END, '2026-02-01T00:00:00Z'"
	    "::timestamptz + i * interval '1 minute', '2026-02-01T00:00:00Z'"
	    "::timestamptz + i * interval '1 minute' + interval '1 s' FROM "
	    "generate_series(1, 5) i");
}

/* ---- afu9 serve, started once for the suite ---- */

static void
up(void)
{
	const char *args[4] = { "serve", "--config", NULL, NULL };
	char e[1024], *at;
	int eof;

	pg = pgt_start_db("ag");
	ci = pgt_conninfo(pg, "ag");
	setenv("DATABASE_URL", ci, 1);
	setenv("AFU9_API_TOKEN", TOKEN, 1);
	unsetenv("AFU9_MIGRATIONS_DIR");
	unsetenv("AFU9_MIGRATE");
	setenv("AFU9_ENGINE", "0", 1);
	args[2] = ot_write_config(tmpdir, "agentapi.json", "{\"mcpServers\":"
	    "{\"conf\":{\"command\":\"@SERVER@\"}},\"afu9\":{\"http\":"
	    "{\"listen\":\"127.0.0.1:0\"},\"shutdownGraceMs\":3000}}");
	ot_spawn_afu9(&serve, args);
	serve_log = t_read_until(serve.err, "(port ", 30000 * t_slow(), &eof);
	if (serve_log == NULL || (at = strstr(serve_log, "(port ")) == NULL) {
		fprintf(stderr, "afu9 serve did not listen: %s\n",
		    serve_log ? serve_log : "(nothing)");
		abort();
	}
	port = atoi(at + 6);
	seed();
	(void)e;
}

static void
down(void)
{
	char *rest;
	int eof;

	kill(serve.pid, SIGTERM);
	rest = t_read_until(serve.err, "\001never", 20000 * t_slow(), &eof);
	close(serve.in);
	t_finish(&serve, 20000 * t_slow());
	close(serve.out);
	close(serve.err);
	if ((serve_log && strstr(serve_log, TOKEN)) ||
	    (rest && strstr(rest, TOKEN)))
		fprintf(stderr, "the token in the log\n"), abort();
	free(rest);
	free(serve_log);
	pgt_stop(pg);
	free(ci);
}

/* ---- HTTP ---- */

struct resp {
	int	 status;
	char	*all;		/* status line and fields, then the body */
	char	*body;		/* into all */
	json_t	*json;
};

static void
resp_free(struct resp *r)
{
	free(r->all);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* method path with the token tok (NULL: none); the whole answer. */
static void
req(const char *method, const char *path, const char *tok, struct resp *r)
{
	struct sockaddr_in sa;
	char *head, *sep;
	int fd, eof;

	memset(r, 0, sizeof(*r));
	ck_assert_int_ne(asprintf(&head, "%s %s HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n%s%s%s\r\n", method, path, tok ?
	    "Authorization: Bearer " : "", tok ? tok : "", tok ? "\r\n" : ""),
	    -1);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(t_write(fd, head, strlen(head)), 0);
	free(head);
	r->all = t_read_until(fd, "\001never", 15000 * t_slow(), &eof);
	close(fd);
	ck_assert_ptr_nonnull(r->all);
	r->status = -1;
	sscanf(r->all, "HTTP/1.1 %d", &r->status);
	sep = strstr(r->all, "\r\n\r\n");
	r->body = sep ? sep + 4 : r->all + strlen(r->all);
	r->json = json_loads(r->body, 0, NULL);
}

/* GET path with the token: status, and a JSON body. */
static void
get(const char *path, int status, struct resp *r)
{
	req("GET", path, TOKEN, r);
	ck_assert_msg(r->status == status, "GET %s: %d, want %d: %s", path,
	    r->status, status, r->body);
	ck_assert_msg(strcasestr(r->all, "\r\nContent-Type: application/json"),
	    "GET %s: %s", path, r->all);
	ck_assert_msg(r->json != NULL, "GET %s: not JSON: %s", path, r->body);
}

/* GET path: status, and its error message holds want. */
static void
get_err(const char *path, int status, const char *want)
{
	struct resp r;
	const char *e;

	get(path, status, &r);
	e = json_string_value(json_object_get(r.json, "error"));
	ck_assert_msg(e && strstr(e, want), "GET %s: %s, want \"%s\"", path,
	    r.body, want);
	resp_free(&r);
}

static const char *
js(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static long long
ji(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* ---- tests ---- */

/* No token, a wrong one: 401 with the challenge, nothing else said. */
START_TEST(token_required)
{
	static const char *const paths[] = { "/v1/agent-runs",
	    "/v1/agent-runs/" RUN_A, "/v1/agent-runs/" RUN_N,
	    "/v1/agent-runs/not-a-uuid" };
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		req("GET", paths[i], NULL, &r);
		ck_assert_msg(r.status == 401, "%s: %d", paths[i], r.status);
		ck_assert_ptr_nonnull(strcasestr(r.all, "\r\nWWW-Authenticate: "
		    "Bearer realm=\"afu9\""));
		ck_assert_ptr_null(strstr(r.body, "claude"));
		resp_free(&r);
		req("GET", paths[i], "apitok-Rq7Kw2Lz9Nm4Xc8X", &r);
		ck_assert_msg(r.status == 401, "%s: %d", paths[i], r.status);
		resp_free(&r);
	}
	get("/v1/agent-runs/" RUN_A, 200, &r);
	resp_free(&r);
}
END_TEST

/* One run: every field, the transcript in order, its pages. */
START_TEST(one_run)
{
	const json_t *m, *u, *c;
	struct resp r;

	get("/v1/agent-runs/" RUN_A, 200, &r);
	ck_assert_str_eq(js(r.json, "id"), RUN_A);
	ck_assert_str_eq(js(r.json, "execution_id"), EXEC);
	ck_assert_str_eq(js(r.json, "provider"), "anthropic");
	ck_assert_str_eq(js(r.json, "model"), "claude-test-1");
	ck_assert_str_eq(js(r.json, "status"), "succeeded");
	ck_assert_str_eq(js(r.json, "task"), "Fix issue 7");
	ck_assert_int_eq(ji(r.json, "input_tokens"), 200);
	ck_assert_int_eq(ji(r.json, "output_tokens"), 40);
	ck_assert_int_eq(ji(r.json, "cache_read_tokens"), 10);
	ck_assert_int_eq(ji(r.json, "cache_write_tokens"), 14);
	ck_assert_str_eq(js(r.json, "cost_usd"), "0.002468");
	ck_assert_int_eq(ji(r.json, "turns"), 2);
	ck_assert_int_eq(ji(r.json, "tool_calls"), 1);
	ck_assert_int_eq(ji(r.json, "messages_total"), 4);
	ck_assert_int_eq(ji(r.json, "duration_ms"), 3500);
	ck_assert_str_eq(js(r.json, "started_at"), "2026-01-01T00:00:00.000Z");
	ck_assert_str_eq(js(json_object_get(r.json, "result"), "text"),
	    "Done.");
	ck_assert(json_is_null(json_object_get(r.json, "next_seq")));
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "messages")),
	    4);
	m = json_array_get(json_object_get(r.json, "messages"), 1);
	ck_assert_int_eq(ji(m, "seq"), 1);
	ck_assert_str_eq(js(m, "role"), "assistant");
	u = json_object_get(m, "usage");
	ck_assert_int_eq(ji(u, "input_tokens"), 100);
	ck_assert_int_eq(ji(u, "cache_write_tokens"), 7);
	c = json_object_get(m, "content");
	ck_assert_str_eq(js(json_array_get(json_object_get(c, "tool_calls"), 0),
	    "tool"), "github.getIssue");
	m = json_array_get(json_object_get(r.json, "messages"), 2);
	ck_assert_str_eq(js(m, "role"), "tool");
	ck_assert(json_is_null(json_object_get(m, "usage")));
	ck_assert_str_eq(js(json_object_get(m, "content"), "text"),
	    "issue 7: it breaks");
	resp_free(&r);
	/* pages of the transcript */
	get("/v1/agent-runs/" RUN_A "?limit=2", 200, &r);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "messages")),
	    2);
	ck_assert_int_eq(ji(r.json, "next_seq"), 2);
	resp_free(&r);
	get("/v1/agent-runs/" RUN_A "?from=2&limit=2", 200, &r);
	ck_assert_int_eq(ji(json_array_get(json_object_get(r.json,
	    "messages"), 0), "seq"), 2);
	ck_assert(json_is_null(json_object_get(r.json, "next_seq")));
	resp_free(&r);
	get("/v1/agent-runs/" RUN_A "?limit=0", 200, &r);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "messages")),
	    0);
	ck_assert_int_eq(ji(r.json, "next_seq"), 0);
	resp_free(&r);
	/* an upper-case id is the same run */
	get("/v1/agent-runs/0190F5A3-7B1C-7D2E-8F00-0000000000A1", 200, &r);
	ck_assert_str_eq(js(r.json, "id"), RUN_A);
	resp_free(&r);
	get_err("/v1/agent-runs/" RUN_N, 404, "no agent run " RUN_N);
}
END_TEST

/* Ids and parameters out of form: 400 before the database. */
START_TEST(hostile)
{
	static const char *const ids[] = { "not-a-uuid", "%00",
	    "0190f5a3-7b1c-7d2e-8f00-0000000000a1x",
	    "0190f5a3-7b1c-7d2e-8f00-0000000000a",
	    "0190f5a3%2d7b1c-7d2e-8f00-0000000000a1%00",
	    "..%2f..%2fetc%2fpasswd", "'%20OR%201=1--",
	    "0190f5a3-7b1c-7d2e-8f00-0000000000g1" };
	char path[256];
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(path, sizeof(path), "/v1/agent-runs/%s", ids[i]);
		get_err(path, 400, "an agent run id is a UUID");
	}
	/* a bad escape the HTTP parser refuses itself */
	req("GET", "/v1/agent-runs/%zz", TOKEN, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	req("GET", "/v1/agent-runs/%4", TOKEN, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	/* percent-encoded but a UUID: accepted */
	get("/v1/agent-runs/0190f5a3%2D7b1c-7d2e-8f00-0000000000a1", 200, &r);
	resp_free(&r);
	get_err("/v1/agent-runs/" RUN_A "?from=-1", 400, "from:");
	get_err("/v1/agent-runs/" RUN_A "?limit=10001", 400, "limit:");
	get_err("/v1/agent-runs/" RUN_A "?limit=1&limit=2", 400, "twice");
	get_err("/v1/agent-runs/" RUN_A "?seq=1", 400, "unknown query");
	get_err("/v1/agent-runs/" RUN_A "?from", 400, "name=value");
	get_err("/v1/agent-runs?status=bogus", 400, "unknown status");
	get_err("/v1/agent-runs?status=", 400, "empty");
	get_err("/v1/agent-runs?execution=x", 400, "execution id is a UUID");
	get_err("/v1/agent-runs?limit=0", 400, "limit: a number from 1");
	get_err("/v1/agent-runs?limit=501", 400, "limit: a number from 1");
	get_err("/v1/agent-runs?cursor=2026-13-01T00:00:00.000000Z/" RUN_A,
	    400, "cursor");
	get_err("/v1/agent-runs?cursor=" RUN_A, 400, "cursor");
	get_err("/v1/agent-runs?workflow=w", 400, "unknown query");
	/* other methods: 405 with Allow */
	req("POST", "/v1/agent-runs", TOKEN, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(strcasestr(r.all, "\r\nAllow: GET, HEAD"));
	resp_free(&r);
	req("DELETE", "/v1/agent-runs/" RUN_A, TOKEN, &r);
	ck_assert_int_eq(r.status, 405);
	resp_free(&r);
	req("HEAD", "/v1/agent-runs/" RUN_A, TOKEN, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
}
END_TEST

/* The list: newest first, filters, every run once across the pages. */
START_TEST(list_and_cursor)
{
	const json_t *runs;
	char path[256], cur[128], seen[7][40];
	struct resp r;
	size_t n = 0, i, j;

	get("/v1/agent-runs", 200, &r);
	runs = json_object_get(r.json, "runs");
	ck_assert_int_eq(json_array_size(runs), 6);
	ck_assert_str_eq(js(json_array_get(runs, 0), "id"),
	    "0190f5a3-7b1c-7d2e-8f00-000000000005");
	ck_assert_str_eq(js(json_array_get(runs, 5), "id"), RUN_A);
	ck_assert_ptr_null(json_object_get(json_array_get(runs, 0), "cursor"));
	ck_assert(json_is_null(json_object_get(r.json, "next_cursor")) ||
	    json_object_get(r.json, "next_cursor") == NULL);
	resp_free(&r);
	get("/v1/agent-runs?status=failed", 200, &r);
	runs = json_object_get(r.json, "runs");
	ck_assert_int_eq(json_array_size(runs), 2);
	ck_assert_str_eq(js(json_array_get(runs, 0), "error"),
	    "budget: max_turns");
	resp_free(&r);
	get("/v1/agent-runs?execution=" EXEC, 200, &r);
	runs = json_object_get(r.json, "runs");
	ck_assert_int_eq(json_array_size(runs), 1);
	ck_assert_str_eq(js(json_array_get(runs, 0), "id"), RUN_A);
	resp_free(&r);
	get("/v1/agent-runs?status=running", 200, &r);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "runs")), 0);
	resp_free(&r);
	/* pages of 4: 4 then 2, every run once */
	snprintf(path, sizeof(path), "/v1/agent-runs?limit=4");
	for (;;) {
		get(path, 200, &r);
		runs = json_object_get(r.json, "runs");
		for (i = 0; i < json_array_size(runs); i++) {
			for (j = 0; j < n; j++)
				ck_assert_str_ne(seen[j], js(json_array_get(runs,
				    i), "id"));
			ck_assert_uint_lt(n, 7);
			snprintf(seen[n++], sizeof(seen[0]), "%s",
			    js(json_array_get(runs, i), "id"));
		}
		if (!json_is_string(json_object_get(r.json, "next_cursor"))) {
			resp_free(&r);
			break;
		}
		snprintf(cur, sizeof(cur), "%s", js(r.json, "next_cursor"));
		resp_free(&r);
		snprintf(path, sizeof(path), "/v1/agent-runs?limit=4&cursor=%s",
		    cur);
	}
	ck_assert_uint_eq(n, 6);
}
END_TEST

/* `afu9 agent show` and `list` on the same rows. */
START_TEST(cli)
{
	const char *show[] = { "agent", "show", RUN_A, NULL };
	const char *js_[] = { "agent", "show", RUN_A, "--json", NULL };
	const char *none[] = { "agent", "show", RUN_N, NULL };
	const char *bad[] = { "agent", "show", "nope", NULL };
	const char *list[] = { "agent", "list", "--status", "failed", NULL };
	const char *page[] = { "agent", "list", "--limit", "2", NULL };
	char *out, *err;
	json_t *j;

	ck_assert_int_eq(ot_run_afu9(show, &out, &err), 0);
	ck_assert_msg(strstr(out, "run        " RUN_A "\n") &&
	    strstr(out, "status     succeeded\n") &&
	    strstr(out, "model      anthropic / claude-test-1\n") &&
	    strstr(out, "execution  " EXEC "\n") &&
	    strstr(out, "duration   3.5 s\n") &&
	    strstr(out, "tokens     200 in, 40 out, 10 cache read, 14 cache "
	    "write\n") && strstr(out, "cost       $0.002468\n") &&
	    strstr(out, "messages   4\n"), "%s", out);
	ck_assert_msg(strstr(out, "[0] user: Fix issue 7\n[1] assistant (100 "
	    "in, 20 out, 5 cache read, 7 cache write): Reading.\n    -> "
	    "github.getIssue (c1) {\"number\":7}\n[2] tool github.getIssue "
	    "(c1): issue 7: it breaks\n[3] assistant"), "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(ot_run_afu9(js_, &out, &err), 0);
	ck_assert_ptr_nonnull(j = json_loads(out, 0, NULL));
	ck_assert_int_eq(json_array_size(json_object_get(j, "messages")), 4);
	ck_assert_str_eq(js(j, "status"), "succeeded");
	json_decref(j);
	free(out);
	free(err);
	ck_assert_int_eq(ot_run_afu9(none, &out, &err), 1);
	ck_assert_msg(strstr(err, "no agent run " RUN_N), "%s", err);
	free(out);
	free(err);
	ck_assert_int_eq(ot_run_afu9(bad, &out, &err), 2);
	free(out);
	free(err);
	ck_assert_int_eq(ot_run_afu9(list, &out, &err), 0);
	ck_assert_int_eq(t_count_str(out, "failed"), 2);
	ck_assert_ptr_nonnull(strstr(out, "budget: max_turns"));
	free(out);
	free(err);
	ck_assert_int_eq(ot_run_afu9(page, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "more may follow: --after "
	    "2026-02-01T00:04:00.000000Z/0190f5a3-7b1c-7d2e-8f00-"
	    "000000000004"));
	free(out);
	free(err);
	unsetenv("DATABASE_URL");
	ck_assert_int_eq(ot_run_afu9(show, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "DATABASE_URL"));
	free(out);
	free(err);
	setenv("DATABASE_URL", ci, 1);
}
END_TEST

/* The database stopped: 503 with Retry-After at once; back, 200. */
START_TEST(database_down)
{
	char e[1024];
	struct resp r;
	double end;

	ck_assert_msg(pgt_server_stop(pg, e, sizeof(e)) == 0, "%s", e);
	end = t_now_ms() + 20000 * t_slow();
	for (;;) {
		req("GET", "/v1/agent-runs/" RUN_A, TOKEN, &r);
		if (r.status == 503)
			break;
		ck_assert_msg(t_now_ms() < end, "%d: %s", r.status, r.body);
		resp_free(&r);
		usleep(50000);
	}
	ck_assert_ptr_nonnull(strcasestr(r.all, "\r\nRetry-After: 1"));
	resp_free(&r);
	ck_assert_msg(pgt_server_start(pg, e, sizeof(e)) == 0, "%s", e);
	end = t_now_ms() + 30000 * t_slow();
	for (;;) {
		req("GET", "/v1/agent-runs/" RUN_A, TOKEN, &r);
		if (r.status == 200)
			break;
		ck_assert_msg(t_now_ms() < end, "%d: %s", r.status, r.body);
		resp_free(&r);
		usleep(100000);
	}
	resp_free(&r);
}
END_TEST

static Suite *
agentapi_suite(void)
{
	Suite *s = suite_create("agentapi");
	TCase *tc = tcase_create("afu9+postgresql");

	tcase_add_unchecked_fixture(tc, up, down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, token_required);
	tcase_add_test(tc, one_run);
	tcase_add_test(tc, hostile);
	tcase_add_test(tc, list_and_cursor);
	tcase_add_test(tc, cli);
	tcase_add_test(tc, database_down);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return ot_main(agentapi_suite(), tmpdir);
}
