/*
 * The workflow engine's HTTP API (orchestrator/api/wfapi.h) through the
 * afu9 binary with a real PostgreSQL (t/pgtest.h) and the conformance
 * server's tools: the bootstrap token AFU9_API_TOKEN (missing, wrong,
 * of another length, never in the log; the database's tokens are
 * t/test_auth's); an execution
 * created and run to its end; Idempotency-Key; inputs refused by their
 * schema, by size, by form, with nothing stored; malformed ids and
 * hostile paths; the list with its filters and cursor; cancel mid-step;
 * approve and reject; the database stopped, and one that does not
 * answer.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "httptest.h"
#include "orchtest.h"
#include "pgquery.h"
#include "pgtest.h"
#include "testutil.h"

#define TOKEN	"apitok-Vq3Lw8Rz5Nk2Xc7H"	/* AFU9_API_TOKEN */
#define TOKEN2	"apitok-Vq3Lw8Rz5Nk2Xc7J"	/* same length, wrong */
#define INPUT_MAX	(1u << 20)		/* WFSQL_INPUT_MAX */
#define BODY_MAX	(INPUT_MAX + (64u << 10))	/* WFAPI_BODY_MAX */

static char tmpdir[] = "/tmp/afu9-wfapi-XXXXXX";
static struct pgtest *pg;

/* ---- the database ---- */

static void
pg_up(void)
{
	pg = pgt_start_db(NULL);
}

static void
pg_down(void)
{
	pgt_stop(pg);
	pg = NULL;
}

/* Store definition def (JSON without single quotes) as workflow name. */
static void
wf_apply(const char *ci, const char *name, const char *def)
{
	q_dof(ci, "SELECT afu9_workflow_apply('%s', NULL, NULL, "
	    "'%s'::jsonb)", name, def);
}

/* ---- afu9 serve ---- */

struct afu9 {
	struct tproc	 p;
	int		 port;
	char		*log;
};

static const char *
conf_config(void)
{
	return ot_write_config(tmpdir, "api.json", "{\"mcpServers\":{\"conf\":"
	    "{\"command\":\"@SERVER@\"}},\"afu9\":{\"http\":{\"listen\":"
	    "\"127.0.0.1:0\"},\"shutdownGraceMs\":3000}}");
}

static void
start_serve(struct afu9 *a)
{
	const char *args[] = { "serve", "--config", conf_config(), NULL };
	char *at;
	int eof;

	ot_spawn_afu9(&a->p, args);
	a->log = t_read_until(a->p.err, "(port ", 20000 * t_slow(), &eof);
	ck_assert_msg(a->log && (at = strstr(a->log, "(port ")) != NULL,
	    "no listening line: %s", a->log ? a->log : "(nothing)");
	a->port = atoi(at + 6);
	ck_assert_int_gt(a->port, 0);
}

/* SIGTERM, wait, everything it logged in *log; its exit status. */
static int
end_serve(struct afu9 *a, char **log)
{
	char *rest;
	int eof, st;

	kill(a->p.pid, SIGTERM);
	rest = t_read_until(a->p.err, "\001never", 20000 * t_slow(), &eof);
	close(a->p.in);
	st = t_finish(&a->p, 20000 * t_slow());
	close(a->p.out);
	close(a->p.err);
	ck_assert_int_ne(asprintf(log, "%s%s", a->log, rest ? rest : ""), -1);
	free(a->log);
	free(rest);
	return st;
}

static void
end_ok(struct afu9 *a)
{
	char *log;
	int st = end_serve(a, &log);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, log);
	ck_assert_msg(!strstr(log, TOKEN), "the token in the log: %s", log);
	free(log);
}

/* ---- HTTP ---- */

/* A request with the token that must answer status with a JSON body. */
static void
api(int port, const char *method, const char *path, const char *extra,
    const char *body, int status, struct ht_resp *r)
{
	ht_req(port, method, path, TOKEN, extra, body, r);
	ck_assert_msg(r->status == status, "%s %s: %d, want %d: %s", method,
	    path, r->status, status, r->body);
	ck_assert_msg(strcasestr(r->head, "\r\nContent-Type: "
	    "application/json"), "%s %s: %s", method, path, r->head);
	ck_assert_msg(r->json != NULL, "%s %s: not JSON: %s", method, path,
	    r->body);
}

/* As api(), and the error message holds want. */
static void
api_err(int port, const char *method, const char *path, const char *extra,
    const char *body, int status, const char *want)
{
	struct ht_resp r;
	const char *e;

	api(port, method, path, extra, body, status, &r);
	e = json_string_value(json_object_get(r.json, "error"));
	ck_assert_msg(e && strstr(e, want), "%s %s: %s, want \"%s\"", method,
	    path, r.body, want);
	ck_assert_msg(!strstr(r.body, TOKEN), "the token echoed");
	ht_resp_free(&r);
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* POST an execution of wf with input (JSON); 201; its id (malloc'd). */
static char *
create(int port, const char *wf, const char *input)
{
	char path[256], *body, *id;
	struct ht_resp r;

	snprintf(path, sizeof(path), "/v1/workflows/%s/executions", wf);
	ck_assert_int_ne(asprintf(&body, "{\"input\":%s}", input), -1);
	api(port, "POST", path, NULL, body, 201, &r);
	free(body);
	ck_assert_ptr_nonnull(id = strdup(jstr(r.json, "id")));
	ht_resp_free(&r);
	return id;
}

/* GET the execution until its status is want; its body (new ref). */
static json_t *
wait_status(int port, const char *id, const char *want, int deadline_ms)
{
	double end = t_now_ms() + deadline_ms * t_slow();
	char path[128];
	struct ht_resp r;
	json_t *j;

	snprintf(path, sizeof(path), "/v1/executions/%s", id);
	for (;;) {
		api(port, "GET", path, NULL, NULL, 200, &r);
		if (strcmp(jstr(r.json, "status"), want) == 0) {
			j = json_incref(r.json);
			ht_resp_free(&r);
			return j;
		}
		ck_assert_msg(t_now_ms() < end, "%s: %s, want %s", id, r.body,
		    want);
		ht_resp_free(&r);
		usleep(20000);
	}
}

/* The status of the last attempt of step `step` in an execution body. */
static const char *
step_status(const json_t *x, const char *step)
{
	const char *st = NULL;
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(x, "steps"), i, s)
		if (strcmp(jstr(s, "step"), step) == 0)
			st = jstr(s, "status");
	return st;
}

#define WF_ADD "{\"name\":\"t_add\",\"inputs\":{\"type\":\"object\"," \
	"\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]," \
	"\"additionalProperties\":false},\"steps\":[" \
	"{\"id\":\"add\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":\"${{ inputs.a }}\",\"b\":3}}," \
	"{\"id\":\"say\",\"type\":\"tool\",\"tool\":\"conf.echo\"," \
	"\"arguments\":{\"text\":\"sum ${{ steps.add.output.sum }}\"}}]," \
	"\"output\":{\"sum\":\"${{ steps.add.output.sum }}\"}}"

#define WF_ANY "{\"name\":\"t_any\",\"steps\":[" \
	"{\"id\":\"add\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":1,\"b\":2}}]}"

#define WF_NAP "{\"name\":\"t_nap\",\"steps\":[" \
	"{\"id\":\"nap\",\"type\":\"tool\",\"tool\":\"conf.sleep\"," \
	"\"arguments\":{\"ms\":60000}}," \
	"{\"id\":\"after\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":1,\"b\":2}}]}"

#define WF_ASK "{\"name\":\"t_ask\",\"steps\":[" \
	"{\"id\":\"ok\",\"type\":\"approval\",\"message\":\"go?\"}," \
	"{\"id\":\"after\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":1,\"b\":2}}]}"

/* ---- tests ---- */

/* Without AFU9_API_TOKEN the routes are there for the database's tokens
   (t/test_auth), and that token is one of none. */
START_TEST(no_token_no_routes)
{
	char *ci = pgt_use_db(pg, "notok");
	struct afu9 a;
	struct ht_resp r;

	unsetenv("AFU9_API_TOKEN");
	start_serve(&a);
	ht_req(a.port, "GET", "/v1/executions", TOKEN, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ht_resp_free(&r);
	ht_req(a.port, "POST", "/v1/workflows/t_add/executions", TOKEN, NULL,
	    "{\"input\":{}}", &r);
	ck_assert_int_eq(r.status, 401);
	ht_resp_free(&r);
	ht_req(a.port, "GET", "/v1/executions/00000000-0000-0000-0000-"
	    "000000000000", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ht_resp_free(&r);
	ht_req(a.port, "GET", "/health", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ht_resp_free(&r);
	end_ok(&a);
	free(ci);
}
END_TEST

/* 401 with the challenge for every way of not having the token (each
   wrong one on one path: more would reach the peer's failure budget,
   t/test_auth). */
START_TEST(token_required)
{
	static const char *const bad[] = {
		NULL,				/* no header */
		"Authorization: Bearer " TOKEN2 "\r\n",	/* same length */
		"Authorization: Bearer apitok\r\n",	/* shorter */
		"Authorization: Bearer " TOKEN "x\r\n",	/* longer */
		"Authorization: Basic " TOKEN "\r\n",	/* other scheme */
		"Authorization: Bearer\r\n",		/* none */
		"Authorization: " TOKEN "\r\n",		/* no scheme */
		"Authorization: Bearer " TOKEN "\r\n"	/* twice */
		    "Authorization: Bearer " TOKEN "\r\n",
	};
	static const char *const paths[] = { "/v1/executions",
	    "/v1/executions/not-a-uuid", "/v1/nothing/here", "/v1" };
	char *ci = pgt_use_db(pg, "auth"), *log;
	struct afu9 a;
	struct ht_resp r;
	size_t i, k;
	int st;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	setenv("AFU9_TRACE", "http", 1);
	start_serve(&a);
	for (k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
		for (i = 0; i < (k == 0 ? sizeof(bad) / sizeof(bad[0]) : 1);
		    i++) {
			ht_req(a.port, "GET", paths[k], NULL, bad[i], NULL, &r);
			ck_assert_msg(r.status == 401, "%s %zu: %d %s",
			    paths[k], i, r.status, r.body);
			ck_assert_msg(strstr(r.head, "\r\nWWW-Authenticate: "
			    "Bearer realm=\"afu9\""), "%s", r.head);
			ck_assert_msg(r.json && jstr(r.json, "error") &&
			    !strstr(r.body, "apitok"), "%s", r.body);
			ht_resp_free(&r);
		}
	/* a case-insensitive scheme is fine; so is a POST refused first */
	ht_req(a.port, "GET", "/v1/executions", NULL, "Authorization: bearer "
	    TOKEN "\r\n", NULL, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ht_resp_free(&r);
	ht_req(a.port, "POST", "/v1/workflows/x/executions", TOKEN2, NULL,
	    "{\"input\":{}}", &r);
	ck_assert_int_eq(r.status, 401);
	ht_resp_free(&r);
	/* with the token: the rest of /v1 is a JSON 404 or 405 */
	api_err(a.port, "GET", "/v1/nothing/here", NULL, NULL, 404,
	    "no such endpoint");
	api_err(a.port, "GET", "/v1", NULL, NULL, 404, "no such endpoint");
	api_err(a.port, "GET", "/v1/executions/", NULL, NULL, 404,
	    "no such endpoint");
	api(a.port, "DELETE", "/v1/executions", NULL, NULL, 405, &r);
	ck_assert_msg(strstr(r.head, "\r\nAllow: GET, HEAD"), "%s", r.head);
	ht_resp_free(&r);
	api(a.port, "GET", "/v1/executions/00000000-0000-0000-0000-"
	    "000000000000/cancel", NULL, NULL, 405, &r);
	ck_assert_msg(strstr(r.head, "\r\nAllow: POST"), "%s", r.head);
	ht_resp_free(&r);
	st = end_serve(&a, &log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%d: %s", st,
	    log);
	/* traced requests and all: neither token in the log */
	ck_assert_msg(strstr(log, "/v1/executions"), "no trace: %s", log);
	ck_assert_msg(!strstr(log, TOKEN) && !strstr(log, TOKEN2), "%s", log);
	free(log);
	unsetenv("AFU9_TRACE");
	free(ci);
}
END_TEST

/* An execution created through the API runs to its end. */
START_TEST(create_and_run)
{
	char *ci = pgt_use_db(pg, "run"), *id, *id2, path[128];
	struct afu9 a;
	struct ht_resp r;
	json_t *x;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a);
	wf_apply(ci, "t_add", WF_ADD);
	api(a.port, "POST", "/v1/workflows/t_add/executions", NULL,
	    "{\"input\":{\"a\":2}}", 201, &r);
	ck_assert_ptr_nonnull(id = strdup(jstr(r.json, "id")));
	ck_assert_str_eq(jstr(r.json, "workflow"), "t_add");
	ck_assert(json_is_true(json_object_get(r.json, "created")));
	snprintf(path, sizeof(path), "\r\nLocation: /v1/executions/%s", id);
	ck_assert_msg(strstr(r.head, path), "%s", r.head);
	ht_resp_free(&r);
	x = wait_status(a.port, id, "succeeded", 30000);
	ck_assert_str_eq(step_status(x, "add"), "succeeded");
	ck_assert_str_eq(step_status(x, "say"), "succeeded");
	ck_assert_str_eq(jstr(x, "triggered_by"), "api:bootstrap");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x,
	    "output"), "sum")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x,
	    "input"), "a")), 2);
	json_decref(x);
	/* the same Idempotency-Key: the same execution, 200 */
	api(a.port, "POST", "/v1/workflows/t_add/executions",
	    "Idempotency-Key: order-17/a\r\n", "{\"input\":{\"a\":4}}", 201,
	    &r);
	id2 = strdup(jstr(r.json, "id"));
	ht_resp_free(&r);
	api(a.port, "POST", "/v1/workflows/t_add/executions",
	    "Idempotency-Key: order-17/a\r\n", "{\"input\":{\"a\":4}}", 200,
	    &r);
	ck_assert_str_eq(jstr(r.json, "id"), id2);
	ck_assert(json_is_false(json_object_get(r.json, "created")));
	ht_resp_free(&r);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    2);
	/* a second definition version: the cache follows it */
	wf_apply(ci, "t_add", "{\"name\":\"t_add\",\"inputs\":{\"type\":"
	    "\"object\",\"properties\":{\"b\":{\"type\":\"string\"}},"
	    "\"required\":[\"b\"]},\"steps\":[{\"id\":\"say\",\"type\":"
	    "\"tool\",\"tool\":\"conf.echo\",\"arguments\":{\"text\":"
	    "\"${{ inputs.b }}\"}}]}");
	api_err(a.port, "POST", "/v1/workflows/t_add/executions", NULL,
	    "{\"input\":{\"a\":2}}", 422, "'b'");
	free(create(a.port, "t_add", "{\"b\":\"x\"}"));
	end_ok(&a);
	free(id);
	free(id2);
	free(ci);
}
END_TEST

/* Every refusal of a create, and nothing stored for any of them. */
START_TEST(create_refusals)
{
	char *ci = pgt_use_db(pg, "refuse"), *big, *key, hdr[400];
	const char *p = "/v1/workflows/t_add/executions";
	struct afu9 a;
	struct ht_resp r;
	size_t n;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a);
	wf_apply(ci, "t_add", WF_ADD);
	/* the schema */
	api_err(a.port, "POST", p, NULL, "{\"input\":{}}", 422, "'a'");
	api_err(a.port, "POST", p, NULL, "{\"input\":{\"a\":\"2\"}}", 422,
	    "input");
	api_err(a.port, "POST", p, NULL, "{\"input\":{\"a\":2,\"z\":1}}", 422,
	    "z");
	api_err(a.port, "POST", p, NULL, "{}", 422, "'a'");
	/* the envelope */
	api_err(a.port, "POST", p, NULL, "{\"a\":2}", 400, "\"input\"");
	api_err(a.port, "POST", p, NULL, "{\"input\":{\"a\":2},\"x\":1}", 400,
	    "nothing else");
	api_err(a.port, "POST", p, NULL, "{\"input\":[2]}", 400,
	    "not an array");
	api_err(a.port, "POST", p, NULL, "{\"input\":\"a=2\"}", 400,
	    "not a string");
	api_err(a.port, "POST", p, NULL, "{\"input\":null}", 400, "not null");
	api_err(a.port, "POST", p, NULL, "[{\"a\":2}]", 400, "JSON object");
	api_err(a.port, "POST", p, NULL, "{\"input\":{\"a\":2}", 400,
	    "invalid JSON");
	api_err(a.port, "POST", p, NULL, "{\"input\":{\"a\":2,\"a\":3}}", 400,
	    "duplicate");
	api_err(a.port, "POST", p, NULL, "{\"input\":{\"a\":\"\\u0000\"}}",
	    400, "invalid JSON");
	api_err(a.port, "POST", p, NULL, "{\"input\":{\"a\":\"\xff\"}}", 400,
	    "invalid JSON");
	api_err(a.port, "POST", p, NULL, NULL, 400, "body is required");
	api_err(a.port, "POST", p, "Content-Type: text/plain\r\n",
	    "{\"input\":{\"a\":2}}", 415, "application/json");
	api_err(a.port, "POST", p, "Content-Type: application/jsonx\r\n",
	    "{\"input\":{\"a\":2}}", 415, "application/json");
	/* the Idempotency-Key */
	key = malloc(300);
	memset(key, 'k', 256);
	key[256] = '\0';
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s\r\n", key);
	api_err(a.port, "POST", p, hdr, "{\"input\":{\"a\":2}}", 400,
	    "1 to 255");
	key[255] = '\0';
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s\r\n", key);
	free(create(a.port, "t_add", "{\"a\":1}"));	/* without a key */
	api(a.port, "POST", p, hdr, "{\"input\":{\"a\":2}}", 201, &r);
	ht_resp_free(&r);
	free(key);
	api_err(a.port, "POST", p, "Idempotency-Key: a b\r\n",
	    "{\"input\":{\"a\":2}}", 400, "printable");
	api_err(a.port, "POST", p, "Idempotency-Key: caf\xc3\xa9\r\n",
	    "{\"input\":{\"a\":2}}", 400, "printable");
	api_err(a.port, "POST", p, "Idempotency-Key: a\r\nIdempotency-Key: "
	    "b\r\n", "{\"input\":{\"a\":2}}", 400, "at most");
	/* the workflow */
	api_err(a.port, "POST", "/v1/workflows/nosuch/executions", NULL,
	    "{\"input\":{}}", 404, "'nosuch' does not exist");
	q_do(ci, "INSERT INTO workflows (name, definition, enabled) VALUES "
	    "('t_off', '" WF_ANY "', false)");
	api_err(a.port, "POST", "/v1/workflows/t_off/executions", NULL,
	    "{\"input\":{}}", 404, "disabled");
	api_err(a.port, "POST", "/v1/workflows/t%00add/executions", NULL,
	    "{\"input\":{}}", 400, "%00");
	api_err(a.port, "POST", "/v1/workflows/%2e%2e/executions", NULL,
	    "{\"input\":{}}", 400, "workflow name");
	api_err(a.port, "POST", "/v1/workflows/a%2fb/executions", NULL,
	    "{\"input\":{}}", 400, "workflow name");
	api_err(a.port, "POST", "/v1/workflows/%74_add/executions", NULL,
	    "{\"input\":{}}", 422, "'a'");	/* decoded: t_add */
	/* sizes: an input over WFSQL_INPUT_MAX, a body over the server's */
	n = INPUT_MAX + 16;
	big = malloc(n + 64);
	n = (size_t)snprintf(big, 64, "{\"input\":{\"a\":1,\"pad\":\"");
	memset(big + n, 'x', INPUT_MAX);
	strcpy(big + n + INPUT_MAX, "\"}}");
	api_err(a.port, "POST", p, NULL, big, 413, "at most 1048576");
	free(big);
	big = malloc(BODY_MAX + 64);
	n = (size_t)snprintf(big, 64, "{\"input\":{\"a\":1,\"pad\":\"");
	memset(big + n, 'x', BODY_MAX);
	strcpy(big + n + BODY_MAX, "\"}}");
	ht_req(a.port, "POST", p, TOKEN, NULL, big, &r);
	ck_assert_msg(r.status == 413, "%d %s", r.status, r.body);
	ht_resp_free(&r);
	free(big);
	/* nothing but the two accepted creates was stored */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    2);
	end_ok(&a);
	free(ci);
}
END_TEST

/* Malformed ids, bad steps and hostile paths: 400 or the server's
   refusal, never a database error. */
START_TEST(hostile_paths)
{
	static const char *const bad_ids[] = { "not-a-uuid",
	    "00000000-0000-0000-0000-00000000000",
	    "00000000-0000-0000-0000-0000000000000",
	    "00000000x0000-0000-0000-000000000000",
	    "0000000g-0000-0000-0000-000000000000",
	    "..", "%2e%2e", "%00", "00000000-0000-0000-0000-00000000000%30x",
	    "'%3b--" };
	char *ci = pgt_use_db(pg, "hostile"), path[9000], *id;
	struct afu9 a;
	struct ht_resp r;
	size_t i;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a);
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		snprintf(path, sizeof(path), "/v1/executions/%s", bad_ids[i]);
		api(a.port, "GET", path, NULL, NULL, 400, &r);
		ht_resp_free(&r);
		snprintf(path, sizeof(path), "/v1/executions/%s/cancel",
		    bad_ids[i]);
		api(a.port, "POST", path, NULL, NULL, 400, &r);
		ht_resp_free(&r);
		snprintf(path, sizeof(path), "/v1/executions/%s/steps/ok/"
		    "approve", bad_ids[i]);
		api(a.port, "POST", path, NULL, NULL, 400, &r);
		ht_resp_free(&r);
	}
	/* a well-formed id that is not there; upper case is the same id */
	api_err(a.port, "GET", "/v1/executions/0000000A-0000-0000-0000-"
	    "000000000000", NULL, NULL, 404,
	    "no execution 0000000a-0000-0000-0000-000000000000");
	api_err(a.port, "POST", "/v1/executions/0000000a-0000-0000-0000-"
	    "000000000000/cancel", NULL, NULL, 404, "no execution");
	api_err(a.port, "POST", "/v1/executions/0000000a-0000-0000-0000-"
	    "000000000000/steps/ok/reject", NULL, NULL, 404, "no execution");
	/* steps */
	api_err(a.port, "POST", "/v1/executions/0000000a-0000-0000-0000-"
	    "000000000000/steps/o%00k/approve", NULL, NULL, 400, "%00");
	api_err(a.port, "POST", "/v1/executions/0000000a-0000-0000-0000-"
	    "000000000000/steps/%2e%2e/approve", NULL, NULL, 400, "step id");
	api_err(a.port, "POST", "/v1/executions/0000000a-0000-0000-0000-"
	    "000000000000/steps/9lives/approve", NULL, NULL, 400, "step id");
	/* ../ is not resolved: it is a segment like any other */
	api_err(a.port, "GET", "/v1/executions/../executions", NULL, NULL,
	    404, "no such endpoint");
	api_err(a.port, "GET", "/v1/workflows/../../health", NULL, NULL, 404,
	    "no such endpoint");
	/* a very long segment: too long to be anything */
	memcpy(path, "/v1/workflows/", 14);
	memset(path + 14, 'w', 7000);
	strcpy(path + 7014, "/executions");
	api_err(a.port, "POST", path, NULL, "{}", 400, "too long");
	memcpy(path, "/v1/executions/", 15);
	memset(path + 15, 'a', 7000);
	path[7015] = '\0';
	api(a.port, "GET", path, NULL, NULL, 400, &r);
	ht_resp_free(&r);
	/* over the request line bound: the server's 414 */
	memset(path + 15, 'a', 8500);
	path[8515] = '\0';
	ht_req(a.port, "GET", path, TOKEN, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 414);
	ht_resp_free(&r);
	/* a bad escape: the parser's 400 */
	ht_req(a.port, "GET", "/v1/executions/%zz", TOKEN, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ht_resp_free(&r);
	/* and the server still answers */
	wf_apply(ci, "t_any", WF_ANY);
	id = create(a.port, "t_any", "{}");
	json_decref(wait_status(a.port, id, "succeeded", 30000));
	free(id);
	end_ok(&a);
	free(ci);
}
END_TEST

/* The list: newest first, filters, the cursor, strict query strings. */
START_TEST(list_and_cursor)
{
	char *ci = pgt_use_db(pg, "list"), *ids[5], *ask, path[256], cur[200];
	struct afu9 a;
	struct ht_resp r;
	json_t *rows;
	const char *nc;
	int i, page, seen = 0;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a);
	wf_apply(ci, "t_any", WF_ANY);
	wf_apply(ci, "t_ask", WF_ASK);
	for (i = 0; i < 5; i++)
		ids[i] = create(a.port, "t_any", "{}");
	for (i = 0; i < 5; i++)
		json_decref(wait_status(a.port, ids[i], "succeeded", 30000));
	ask = create(a.port, "t_ask", "{}");
	json_decref(wait_status(a.port, ask, "waiting", 30000));
	/* pages of 2 of the succeeded, newest first */
	snprintf(path, sizeof(path), "/v1/executions?status=succeeded&"
	    "limit=2");
	for (page = 0; page < 3; page++) {
		api(a.port, "GET", path, NULL, NULL, 200, &r);
		rows = json_object_get(r.json, "executions");
		ck_assert_int_eq(json_array_size(rows), page < 2 ? 2 : 1);
		for (i = 0; i < (int)json_array_size(rows); i++, seen++) {
			ck_assert_str_eq(jstr(json_array_get(rows, i), "id"),
			    ids[4 - seen]);
			ck_assert_str_eq(jstr(json_array_get(rows, i),
			    "workflow"), "t_any");
			ck_assert_ptr_null(json_object_get(json_array_get(rows,
			    i), "cursor"));
		}
		nc = jstr(r.json, "next_cursor");
		if (page < 2) {
			ck_assert_ptr_nonnull(nc);
			snprintf(cur, sizeof(cur), "%s", nc);
			/* sent percent-encoded the second time */
			snprintf(path, sizeof(path), "/v1/executions?limit=2&"
			    "cursor=%s&status=succeeded", cur);
			if (page == 1) {
				char *s = strchr(path, '/') + 1;

				s = strchr(strchr(s, '=') + 1, '/');
				memmove(s + 3, s + 1, strlen(s));
				memcpy(s, "%2F", 3);
			}
		} else
			ck_assert(json_is_null(json_object_get(r.json,
			    "next_cursor")));
		ht_resp_free(&r);
	}
	ck_assert_int_eq(seen, 5);
	api(a.port, "GET", "/v1/executions", NULL, NULL, 200, &r);
	ck_assert_int_eq(json_array_size(json_object_get(r.json,
	    "executions")), 6);
	ht_resp_free(&r);
	api(a.port, "GET", "/v1/executions?workflow=t_ask&status=waiting",
	    NULL, NULL, 200, &r);
	ck_assert_int_eq(json_array_size(json_object_get(r.json,
	    "executions")), 1);
	ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json,
	    "executions"), 0), "id"), ask);
	free(ask);
	ht_resp_free(&r);
	api(a.port, "GET", "/v1/executions?workflow=t_ask", NULL, NULL, 200,
	    &r);
	ck_assert_int_eq(json_array_size(json_object_get(r.json,
	    "executions")), 1);
	ht_resp_free(&r);
	api(a.port, "GET", "/v1/executions?workflow=nosuch", NULL, NULL, 200,
	    &r);
	ck_assert_int_eq(json_array_size(json_object_get(r.json,
	    "executions")), 0);
	ht_resp_free(&r);
	/* refusals */
	api_err(a.port, "GET", "/v1/executions?status=done", NULL, NULL, 400,
	    "unknown status 'done'");
	api_err(a.port, "GET", "/v1/executions?status=", NULL, NULL, 400,
	    "empty");
	api_err(a.port, "GET", "/v1/executions?status=running&status=failed",
	    NULL, NULL, 400, "twice");
	api_err(a.port, "GET", "/v1/executions?state=running", NULL, NULL,
	    400, "unknown query parameter");
	api_err(a.port, "GET", "/v1/executions?limit=0", NULL, NULL, 400,
	    "limit");
	api_err(a.port, "GET", "/v1/executions?limit=501", NULL, NULL, 400,
	    "limit");
	api_err(a.port, "GET", "/v1/executions?limit=-1", NULL, NULL, 400,
	    "limit");
	api_err(a.port, "GET", "/v1/executions?limit=2x", NULL, NULL, 400,
	    "limit");
	api_err(a.port, "GET", "/v1/executions?limit", NULL, NULL, 400,
	    "name=value");
	api_err(a.port, "GET", "/v1/executions?&limit=2", NULL, NULL, 400,
	    "name=value");
	api_err(a.port, "GET", "/v1/executions?cursor=yesterday", NULL, NULL,
	    400, "cursor");
	api_err(a.port, "GET", "/v1/executions?cursor=2026-13-45T99:00:00."
	    "000000Z/00000000-0000-0000-0000-000000000000", NULL, NULL, 400,
	    "cursor");
	api_err(a.port, "GET", "/v1/executions?cursor=2026-01-01T00:00:00."
	    "000000Z/00000000-0000-0000-0000-00000000000g", NULL, NULL, 400,
	    "cursor");
	api_err(a.port, "GET", "/v1/executions?workflow=a%00b", NULL, NULL,
	    400, "percent");
	api_err(a.port, "GET", "/v1/executions?workflow=..", NULL, NULL,
	    400, "workflow");
	for (i = 0; i < 5; i++)
		free(ids[i]);
	end_ok(&a);
	free(ci);
}
END_TEST

/* Cancel in the middle of a step; again; after the end. */
START_TEST(cancel_mid_run)
{
	char *ci = pgt_use_db(pg, "cancel"), *id, *done, path[160];
	struct afu9 a;
	struct ht_resp r;
	json_t *x;
	double end;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a);
	wf_apply(ci, "t_nap", WF_NAP);
	wf_apply(ci, "t_any", WF_ANY);
	id = create(a.port, "t_nap", "{}");
	end = t_now_ms() + 30000 * t_slow();
	for (;;) {
		x = wait_status(a.port, id, "running", 30000);
		if (step_status(x, "nap") != NULL)
			break;
		json_decref(x);
		ck_assert(t_now_ms() < end);
		usleep(20000);
	}
	ck_assert_str_eq(step_status(x, "nap"), "running");
	json_decref(x);
	snprintf(path, sizeof(path), "/v1/executions/%s/cancel", id);
	api(a.port, "POST", path, NULL, NULL, 200, &r);
	ck_assert_str_eq(jstr(r.json, "status"), "cancelled");
	ht_resp_free(&r);
	x = wait_status(a.port, id, "cancelled", 5000);
	ck_assert_str_eq(step_status(x, "nap"), "cancelled");
	ck_assert_ptr_null(step_status(x, "after"));
	json_decref(x);
	api(a.port, "POST", path, NULL, "{}", 200, &r);	/* again */
	ht_resp_free(&r);
	api_err(a.port, "POST", path, NULL, "{\"why\":1}", 400, "no body");
	done = create(a.port, "t_any", "{}");
	json_decref(wait_status(a.port, done, "succeeded", 30000));
	snprintf(path, sizeof(path), "/v1/executions/%s/cancel", done);
	api(a.port, "POST", path, NULL, NULL, 409, &r);
	ck_assert_str_eq(jstr(r.json, "status"), "succeeded");
	ck_assert_msg(strstr(jstr(r.json, "error"), "already succeeded"),
	    "%s", r.body);
	ht_resp_free(&r);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions "
	    "WHERE status = 'cancelled' AND cancelled_by = 'api:bootstrap'"),
	    1);
	end_ok(&a);
	free(done);
	free(id);
	free(ci);
}
END_TEST

/* Approve with a comment, reject without one; deciding twice. */
START_TEST(approve_and_reject)
{
	char *ci = pgt_use_db(pg, "decide"), *yes, *no, path[200];
	struct afu9 a;
	struct ht_resp r;
	json_t *x, *s;
	size_t i;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a);
	wf_apply(ci, "t_ask", WF_ASK);
	yes = create(a.port, "t_ask", "{}");
	no = create(a.port, "t_ask", "{}");
	json_decref(wait_status(a.port, yes, "waiting", 30000));
	json_decref(wait_status(a.port, no, "waiting", 30000));
	snprintf(path, sizeof(path), "/v1/executions/%s/steps/after/approve",
	    yes);
	api_err(a.port, "POST", path, NULL, NULL, 409, "not waiting for an "
	    "approval of step after");
	snprintf(path, sizeof(path), "/v1/executions/%s/steps/ok/approve",
	    yes);
	api_err(a.port, "POST", path, NULL, "{\"comment\":1}", 400,
	    "\"comment\" must be a string");
	api_err(a.port, "POST", path, NULL, "{\"note\":\"x\"}", 400,
	    "{\"comment\"");
	api_err(a.port, "POST", path, NULL, "\"yes\"", 400, "JSON object");
	api(a.port, "POST", path, NULL, "{\"comment\":\"looks good \xc3\xa9\"}",
	    200, &r);
	ck_assert_str_eq(jstr(r.json, "decision"), "approved");
	ck_assert_str_eq(jstr(r.json, "step"), "ok");
	ht_resp_free(&r);
	x = wait_status(a.port, yes, "succeeded", 30000);
	json_array_foreach(json_object_get(x, "steps"), i, s)
		if (strcmp(jstr(s, "step"), "ok") == 0) {
			ck_assert_str_eq(jstr(s, "decided_by"),
			    "api:bootstrap");
			ck_assert_str_eq(jstr(json_object_get(s, "output"),
			    "comment"), "looks good \xc3\xa9");
		}
	ck_assert_str_eq(step_status(x, "after"), "succeeded");
	json_decref(x);
	api_err(a.port, "POST", path, NULL, NULL, 409, "not waiting");
	snprintf(path, sizeof(path), "/v1/executions/%s/steps/ok/reject", no);
	api(a.port, "POST", path, NULL, NULL, 200, &r);
	ck_assert_str_eq(jstr(r.json, "decision"), "rejected");
	ht_resp_free(&r);
	x = wait_status(a.port, no, "failed", 30000);
	ck_assert_str_eq(step_status(x, "ok"), "failed");
	ck_assert_ptr_null(step_status(x, "after"));
	json_decref(x);
	api_err(a.port, "POST", path, NULL, "{\"comment\":null}", 409,
	    "not waiting");
	end_ok(&a);
	free(yes);
	free(no);
	free(ci);
}
END_TEST

/* The database stopped: 503 at once, and nothing lost when it is back;
   the API's metrics. */
START_TEST(database_down)
{
	char *ci = pgt_use_db(pg, "down"), e[1024], *id, *body;
	struct afu9 a;
	struct ht_resp r;
	double end;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a);
	wf_apply(ci, "t_any", WF_ANY);
	id = create(a.port, "t_any", "{}");
	json_decref(wait_status(a.port, id, "succeeded", 30000));
	free(id);
	ck_assert_msg(pgt_server_stop(pg, e, sizeof(e)) == 0, "%s", e);
	api(a.port, "POST", "/v1/workflows/t_any/executions",
	    "Idempotency-Key: while-down\r\n", "{\"input\":{}}", 503, &r);
	ck_assert_msg(strstr(jstr(r.json, "error"), "database"), "%s", r.body);
	ht_resp_free(&r);
	api(a.port, "GET", "/v1/executions", NULL, NULL, 503, &r);
	ht_resp_free(&r);
	ck_assert_msg(pgt_server_start(pg, e, sizeof(e)) == 0, "%s", e);
	/* once the connection is back: the create goes through, once */
	end = t_now_ms() + 30000 * t_slow();
	for (;;) {
		ht_req(a.port, "POST", "/v1/workflows/t_any/executions", TOKEN,
		    "Idempotency-Key: while-down\r\n", "{\"input\":{}}", &r);
		if (r.status == 201)
			break;
		ck_assert_msg(r.status == 503 && t_now_ms() < end, "%d %s",
		    r.status, r.body);
		ht_resp_free(&r);
		usleep(100000);
	}
	id = strdup(jstr(r.json, "id"));
	ht_resp_free(&r);
	json_decref(wait_status(a.port, id, "succeeded", 30000));
	free(id);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    2);
	ck_assert_int_eq(ot_http_get(a.port, "/metrics", &body), 200);
	ck_assert_msg(strstr(body, "afu9_api_requests_total{method=\"POST\","
	    "route=\"/v1/workflows/{name}/executions\",code=\"201\"} 2\n") &&
	    strstr(body, "afu9_api_requests_total{method=\"POST\","
	    "route=\"/v1/workflows/{name}/executions\",code=\"503\"} ") &&
	    strstr(body, "afu9_api_request_duration_seconds_count{method="
	    "\"GET\",route=\"/v1/executions/{id}\"} "), "%s", body);
	free(body);
	end_ok(&a);
	free(ci);
}
END_TEST

/*
 * A database that takes no answer: a lock held on the executions keeps
 * the statement waiting past the op timeout (5 s); the request gets a
 * 503 rather than hanging, and the API goes on once the lock is gone.
 */
START_TEST(database_hangs)
{
	char *ci = pgt_use_db(pg, "hang"), *id, path[128];
	PGconn *lk;
	PGresult *res;
	struct afu9 a;
	struct ht_resp r;
	double t0, end;

	setenv("AFU9_API_TOKEN", TOKEN, 1);
	start_serve(&a);
	wf_apply(ci, "t_any", WF_ANY);
	id = create(a.port, "t_any", "{}");
	json_decref(wait_status(a.port, id, "succeeded", 30000));
	snprintf(path, sizeof(path), "/v1/executions/%s", id);
	lk = PQconnectdb(ci);
	ck_assert_msg(PQstatus(lk) == CONNECTION_OK, "%s", PQerrorMessage(lk));
	res = PQexec(lk, "BEGIN; LOCK TABLE workflow_executions IN ACCESS "
	    "EXCLUSIVE MODE");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	t0 = t_now_ms();
	api(a.port, "GET", path, NULL, NULL, 503, &r);
	ck_assert_msg(t_now_ms() - t0 >= 4000, "answered after %.0f ms: %s",
	    t_now_ms() - t0, r.body);
	ck_assert_msg(strstr(jstr(r.json, "error"), "database"), "%s", r.body);
	ck_assert_msg(strstr(r.head, "\r\nRetry-After: 1"), "%s", r.head);
	ht_resp_free(&r);
	PQfinish(lk);	/* the lock goes with the session */
	end = t_now_ms() + 30000 * t_slow();
	for (;;) {
		ht_req(a.port, "GET", path, TOKEN, NULL, NULL, &r);
		if (r.status == 200)
			break;
		ck_assert_msg(r.status == 503 && t_now_ms() < end, "%d %s",
		    r.status, r.body);
		ht_resp_free(&r);
		usleep(100000);
	}
	ck_assert_str_eq(jstr(r.json, "status"), "succeeded");
	ht_resp_free(&r);
	free(id);
	end_ok(&a);
	free(ci);
}
END_TEST

static Suite *
wfapi_suite(void)
{
	Suite *s = suite_create("wfapi");
	TCase *tc = tcase_create("api+postgresql");

	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, no_token_no_routes);
	tcase_add_test(tc, token_required);
	tcase_add_test(tc, create_and_run);
	tcase_add_test(tc, create_refusals);
	tcase_add_test(tc, hostile_paths);
	tcase_add_test(tc, list_and_cursor);
	tcase_add_test(tc, cancel_mid_run);
	tcase_add_test(tc, approve_and_reject);
	tcase_add_test(tc, database_down);
	tcase_add_test(tc, database_hangs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ot_main(wfapi_suite(), tmpdir);
}
