/*
 * The bearer-token check (orchestrator/api/auth.h) and `afu9 token`
 * through the afu9 binary with a real PostgreSQL (t/pgtest.h): tokens
 * created (printed once, only a digest stored), listed (never a token
 * or digest) and revoked; scopes read < run < admin on the /v1 routes;
 * a token revoked between two requests of one keep-alive connection;
 * expiry; one answer for malformed, unknown, revoked and expired
 * tokens; failures rate-limited per peer (429 + Retry-After); last_used
 * written at most once a minute; the bootstrap token; the database down
 * (503); /metrics behind a token, open, or on its own address; the
 * console's login and a session ended by revoking its token; no token
 * in any log line.
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

#include "httptest.h"
#include "orchtest.h"
#include "pgquery.h"
#include "pgtest.h"
#include "testutil.h"

#define BOOT	"boot-Kx8Qm2Zt6Wv4Yp9R"	/* AFU9_API_TOKEN */
#define FORM	"afu9_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" /* unknown */
#define FAIL_BURST	10		/* AUTH_FAIL_BURST */

static char tmpdir[] = "/tmp/afu9-auth-XXXXXX";
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

/* A fresh, migrated database db, named by DATABASE_URL; its conninfo. */
static char *
use_db(const char *db)
{
	const char *args[] = { "migrate", "up", NULL };
	char *ci = pgt_use_db(pg, db), *out, *err;
	int st;

	unsetenv("AFU9_API_TOKEN");
	unsetenv("AFU9_METRICS");
	unsetenv("AFU9_METRICS_LISTEN");
	unsetenv("AFU9_TRUST_FORWARDED");
	st = ot_run_afu9(args, &out, &err);
	ck_assert_msg(st == 0, "migrate: %d %s", st, err);
	free(out);
	free(err);
	return ci;
}

/* ---- afu9 token ---- */

/* `afu9 token ARGS...`: its exit status, stdout and stderr (malloc'd). */
static int
tok_cmd(char **out, char **err, const char *a1, const char *a2,
    const char *a3, const char *a4, const char *a5, const char *a6,
    const char *a7)
{
	const char *args[] = { "token", a1, a2, a3, a4, a5, a6, a7, NULL };

	return ot_run_afu9(args, out, err);
}

/* A new token named name of scope (malloc'd, without its newline). */
static char *
tok_new(const char *name, const char *scope)
{
	char *out, *err;
	int rc = tok_cmd(&out, &err, "create", "--name", name, "--scope",
	    scope, NULL, NULL);

	ck_assert_msg(rc == 0, "create %s: %d %s", name, rc, err);
	ck_assert_msg(strlen(out) == 49 && out[48] == '\n' &&
	    strncmp(out, "afu9_", 5) == 0, "not a token: \"%s\"", out);
	out[48] = '\0';
	ck_assert_msg(strspn(out + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
	    "nopqrstuvwxyz0123456789-_") == 43, "%s", out);
	ck_assert_msg(strstr(err, "shown once") && !strstr(err, out), "%s",
	    err);
	free(err);
	return out;
}

static void
tok_revoke(const char *name)
{
	char *out, *err;
	int rc = tok_cmd(&out, &err, "revoke", name, NULL, NULL, NULL, NULL,
	    NULL);

	ck_assert_msg(rc == 0, "revoke %s: %d %s", name, rc, err);
	free(out);
	free(err);
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
	return ot_write_config(tmpdir, "auth.json", "{\"mcpServers\":{\"conf\":"
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
	a->log = t_read_until(a->p.err, "http: listening", 20000 * t_slow(),
	    &eof);
	ck_assert_msg(a->log && (at = strstr(a->log, "http: listening")) !=
	    NULL, "no listening line: %s", a->log ? a->log : "(nothing)");
	ck_assert_msg((at = strstr(at, "(port ")) != NULL, "%s", a->log);
	a->port = atoi(at + 6);
	ck_assert_int_gt(a->port, 0);
}

/* SIGTERM, wait; everything it logged (malloc'd); exit 0 asserted. */
static char *
end_serve(struct afu9 *a)
{
	char *rest, *log;
	int eof, st;

	kill(a->p.pid, SIGTERM);
	rest = t_read_until(a->p.err, "\001never", 20000 * t_slow(), &eof);
	close(a->p.in);
	st = t_finish(&a->p, 20000 * t_slow());
	close(a->p.out);
	close(a->p.err);
	ck_assert_int_ne(asprintf(&log, "%s%s", a->log, rest ? rest : ""), -1);
	free(a->log);
	free(rest);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, log);
	return log;
}

/* A request that must answer status. */
static void
want(int port, const char *method, const char *path, const char *tok,
    const char *body, int status)
{
	struct ht_resp r;

	ht_req(port, method, path, tok, NULL, body, &r);
	ck_assert_msg(r.status == status, "%s %s: %d, want %d: %s %s", method,
	    path, r.status, status, r.head, r.body);
	ht_resp_free(&r);
}

#define WF_ANY "{\"name\":\"t_any\",\"steps\":[" \
	"{\"id\":\"add\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":1,\"b\":2}}]}"

static void
wf_apply(const char *ci)
{
	q_do(ci, "SELECT afu9_workflow_apply('t_any', NULL, NULL, '" WF_ANY
	    "'::jsonb)");
}

/* ---- tests ---- */

/* create, list, revoke: what is printed and what is stored. */
START_TEST(token_cli)
{
	char *ci = use_db("cli"), *t1, *t2, *out, *err, *s, sql[512];
	json_t *j;
	int rc;

	t1 = tok_new("deploy-bot", "run");
	t2 = tok_new("reader.1", "read");
	ck_assert_str_ne(t1, t2);
	/* only the digest, 32 bytes: no column holds the token */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM api_tokens t WHERE "
	    "octet_length(token_hash) = 32 AND position('%s' in t::text) = 0 "
	    "AND position(substr('%s', 6) in t::text) = 0", t1, t1);
	s = q_str(ci, sql);
	ck_assert_str_eq(s, "2");
	free(s);
	/* the name is taken while its token lives; bad input stores nothing */
	rc = tok_cmd(&out, &err, "create", "--name", "deploy-bot", "--scope",
	    "admin", NULL, NULL);
	ck_assert_msg(rc == 1 && strstr(err, "already") && out[0] == '\0',
	    "%d %s %s", rc, out, err);
	free(out);
	free(err);
	rc = tok_cmd(&out, &err, "create", "--name", "-x", "--scope", "read",
	    NULL, NULL);
	ck_assert_msg(rc == 2 && strstr(err, "not a token name"), "%d %s", rc,
	    err);
	free(out);
	free(err);
	rc = tok_cmd(&out, &err, "create", "--name", "x", "--scope", "root",
	    NULL, NULL);
	ck_assert_msg(rc == 2 && strstr(err, "not a scope"), "%d %s", rc, err);
	free(out);
	free(err);
	rc = tok_cmd(&out, &err, "create", "--name", "x", "--scope", "read",
	    "--expires", "0");
	ck_assert_msg(rc == 2 && strstr(err, "--expires"), "%d %s", rc, err);
	free(out);
	free(err);
	rc = tok_cmd(&out, &err, "create", "--name", "x", "--scope", "read",
	    "--expires", "-3");
	ck_assert_msg(rc == 2, "%d %s", rc, err);
	free(out);
	free(err);
	rc = tok_cmd(&out, &err, "create", "--name", "x", NULL, NULL, NULL,
	    NULL);
	ck_assert_msg(rc == 2 && strstr(err, "usage"), "%d %s", rc, err);
	free(out);
	free(err);
	s = q_str(ci, "SELECT count(*) FROM api_tokens");
	ck_assert_str_eq(s, "2");
	free(s);
	/* --expires */
	rc = tok_cmd(&out, &err, "create", "--name", "short", "--scope",
	    "admin", "--expires", "7");
	ck_assert_msg(rc == 0 && strstr(err, "expires 20"), "%d %s", rc, err);
	free(out);
	free(err);
	s = q_str(ci, "SELECT round(extract(epoch FROM expires - created) / "
	    "86400) FROM api_tokens WHERE name = 'short'");
	ck_assert_str_eq(s, "7");
	free(s);
	/* revoke; the name may then be given again */
	tok_revoke("deploy-bot");
	rc = tok_cmd(&out, &err, "revoke", "deploy-bot", NULL, NULL, NULL,
	    NULL, NULL);
	ck_assert_msg(rc == 1 && strstr(err, "no live token"), "%d %s", rc,
	    err);
	free(out);
	free(err);
	free(tok_new("deploy-bot", "read"));
	/* list: names, scopes, status; never a token or a digest */
	rc = tok_cmd(&out, &err, "list", NULL, NULL, NULL, NULL, NULL, NULL);
	ck_assert_msg(rc == 0, "%d %s", rc, err);
	ck_assert_msg(strstr(out, "NAME") && strstr(out, "reader.1") &&
	    strstr(out, "revoked") && strstr(out, "active") &&
	    !strstr(out, t1) && !strstr(out, "afu9_") && !strstr(out, "\\x"),
	    "%s", out);
	ck_assert_int_eq(t_count_str(out, "\n"), 5);
	free(out);
	free(err);
	rc = tok_cmd(&out, &err, "list", "--json", NULL, NULL, NULL, NULL,
	    NULL);
	ck_assert_msg(rc == 0 && (j = json_loads(out, 0, NULL)) != NULL &&
	    json_array_size(j) == 4, "%d %s", rc, out);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j,
	    3), "status")), "revoked");
	ck_assert_ptr_null(json_object_get(json_array_get(j, 0), "token_hash"));
	json_decref(j);
	free(out);
	free(err);
	/* no DATABASE_URL: usage */
	unsetenv("DATABASE_URL");
	rc = tok_cmd(&out, &err, "list", NULL, NULL, NULL, NULL, NULL, NULL);
	ck_assert_msg(rc == 2 && strstr(err, "DATABASE_URL"), "%d %s", rc,
	    err);
	free(out);
	free(err);
	free(t1);
	free(t2);
	free(ci);
}
END_TEST

/* read may GET, run may also start and cancel, admin everything. */
START_TEST(scopes)
{
	char *ci = use_db("scopes"), *tr, *tn, *ta, *log;
	struct afu9 a;
	struct ht_resp r;
	const char *post = "/v1/workflows/t_any/executions";

	tr = tok_new("r", "read");
	tn = tok_new("n", "run");
	ta = tok_new("a", "admin");
	setenv("AFU9_API_TOKEN", BOOT, 1);
	start_serve(&a);
	wf_apply(ci);
	want(a.port, "GET", "/v1/executions", tr, NULL, 200);
	want(a.port, "GET", "/v1/executions", tn, NULL, 200);
	want(a.port, "GET", "/v1/executions", ta, NULL, 200);
	want(a.port, "GET", "/v1/nothing", tr, NULL, 404);
	/* read cannot act: 403 naming the scope needed */
	ht_req(a.port, "POST", post, tr, NULL, "{\"input\":{}}", &r);
	ck_assert_msg(r.status == 403, "%d %s", r.status, r.body);
	ck_assert_msg(strstr(r.head, "\r\nWWW-Authenticate: Bearer realm=\""
	    "afu9\", error=\"insufficient_scope\", scope=\"run\""), "%s",
	    r.head);
	ck_assert_msg(strstr(r.body, "scope is read; this needs run"), "%s",
	    r.body);
	ht_resp_free(&r);
	want(a.port, "POST", "/v1/executions/00000000-0000-0000-0000-"
	    "000000000000/cancel", tr, NULL, 403);
	want(a.port, "POST", "/v1/executions/00000000-0000-0000-0000-"
	    "000000000000/steps/s/approve", tr, NULL, 403);
	/* run and admin (and the bootstrap token) can */
	want(a.port, "POST", post, tn, "{\"input\":{}}", 201);
	want(a.port, "POST", post, ta, "{\"input\":{}}", 201);
	want(a.port, "POST", post, BOOT, "{\"input\":{}}", 201);
	want(a.port, "POST", "/v1/executions/00000000-0000-0000-0000-"
	    "000000000000/cancel", tn, NULL, 404);
	/* who acted is recorded by the token's name */
	log = q_str(ci, "SELECT string_agg(triggered_by, ',' ORDER BY "
	    "triggered_by) FROM workflow_executions");
	ck_assert_str_eq(log, "api:a,api:bootstrap,api:n");
	free(log);
	/* /health and /ready stay open; /metrics needs a token */
	want(a.port, "GET", "/health", NULL, NULL, 200);
	want(a.port, "GET", "/metrics", NULL, NULL, 401);
	want(a.port, "GET", "/metrics", tr, NULL, 200);
	log = end_serve(&a);
	ck_assert_msg(!strstr(log, tr) && !strstr(log, tn) &&
	    !strstr(log, ta) && !strstr(log, BOOT), "%s", log);
	ck_assert_msg(strstr(log, "refused (403): scope (token r, scope "
	    "read)"), "%s", log);
	free(log);
	free(tr);
	free(tn);
	free(ta);
	free(ci);
}
END_TEST

/* A token revoked between two requests of one connection: the second
   is refused, and the connection still serves. */
START_TEST(revoked_keepalive)
{
	char *ci = use_db("revoke"), *t, *log;
	struct afu9 a;
	struct ht_resp r;
	int fd;

	t = tok_new("short-lived", "read");
	start_serve(&a);
	fd = ht_dial(a.port);
	ht_kreq(fd, "GET", "/v1/executions", t, NULL, NULL, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ht_resp_free(&r);
	tok_revoke("short-lived");
	ht_kreq(fd, "GET", "/v1/executions", t, NULL, NULL, &r);
	ck_assert_msg(r.status == 401, "%d %s", r.status, r.body);
	ck_assert_msg(strstr(r.head, "\r\nWWW-Authenticate: Bearer "
	    "realm=\"afu9\""), "%s", r.head);
	ht_resp_free(&r);
	ht_kreq(fd, "GET", "/health", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ht_resp_free(&r);
	close(fd);
	log = end_serve(&a);
	ck_assert_msg(strstr(log, "refused (401): revoked (token "
	    "short-lived"), "%s", log);
	ck_assert_msg(!strstr(log, t), "%s", log);
	free(log);
	free(t);
	free(ci);
}
END_TEST

/* Malformed, unknown, revoked, expired, and no token at all: one
   answer, byte for byte; last_used written once, not per request. */
START_TEST(equal_answers)
{
	char *ci = use_db("equal"), *tv, *tx, *tk, *lu, *lu2, *log;
	const char *bad[6];
	struct afu9 a;
	struct ht_resp r, first;
	size_t i;
	int fd;

	tv = tok_new("revoked", "admin");
	tx = tok_new("expired", "admin");
	tk = tok_new("good", "read");
	tok_revoke("revoked");
	q_do(ci, "UPDATE api_tokens SET created = now() - interval '2 days', "
	    "expires = now() - interval '1 second' WHERE name = 'expired'");
	bad[0] = NULL;
	bad[1] = "x";
	bad[2] = FORM;
	bad[3] = tv;
	bad[4] = tx;
	bad[5] = "afu9_" BOOT;
	start_serve(&a);
	ht_req(a.port, "GET", "/v1/executions", bad[0], NULL, NULL, &first);
	ck_assert_int_eq(first.status, 401);
	for (i = 1; i < 6; i++) {
		ht_req(a.port, "GET", "/v1/executions", bad[i], NULL, NULL, &r);
		ck_assert_msg(r.status == 401, "%zu: %d", i, r.status);
		/* the same fields but Date, the same body */
		ck_assert_str_eq(strstr(r.head, "\r\nContent-Length"),
		    strstr(first.head, "\r\nContent-Length"));
		ck_assert_str_eq(r.body, first.body);
		ht_resp_free(&r);
	}
	ht_resp_free(&first);
	/* a good token: last_used set, and left alone for a minute */
	fd = ht_dial(a.port);
	ht_kreq(fd, "GET", "/v1/executions", tk, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ht_resp_free(&r);
	lu = q_str(ci, "SELECT last_used FROM api_tokens WHERE name = 'good'");
	ck_assert_str_ne(lu, "");
	for (i = 0; i < 3; i++) {
		ht_kreq(fd, "GET", "/v1/executions", tk, NULL, NULL, &r);
		ck_assert_int_eq(r.status, 200);
		ht_resp_free(&r);
	}
	close(fd);
	lu2 = q_str(ci, "SELECT last_used FROM api_tokens WHERE name = "
	    "'good'");
	ck_assert_str_eq(lu, lu2);
	free(lu2);
	lu2 = q_str(ci, "SELECT count(*) FROM api_tokens WHERE last_used IS "
	    "NOT NULL");
	ck_assert_str_eq(lu2, "1");
	free(lu2);
	free(lu);
	log = end_serve(&a);
	ck_assert_msg(strstr(log, "): no token") && strstr(log, "): malformed")
	    && strstr(log, "): unknown token") && strstr(log, "): revoked") &&
	    strstr(log, "): expired"), "%s", log);
	ck_assert_msg(!strstr(log, tv) && !strstr(log, tx) &&
	    !strstr(log, tk) && !strstr(log, FORM), "%s", log);
	free(log);
	free(tv);
	free(tx);
	free(tk);
	free(ci);
}
END_TEST

/* A peer that keeps failing is held back (429, Retry-After), right
   token or not; another peer (through a trusted X-Forwarded-For) is
   not; no token at all spends nothing. */
START_TEST(rate_limit)
{
	char *ci = use_db("ratelimit"), *t, *log;
	struct afu9 a;
	struct ht_resp r;
	int i, fd;

	t = tok_new("ok", "read");
	setenv("AFU9_TRUST_FORWARDED", "1", 1);
	start_serve(&a);
	for (i = 0; i < 3 * FAIL_BURST; i++)
		want(a.port, "GET", "/v1/executions", NULL, NULL, 401);
	fd = ht_dial(a.port);
	for (i = 0; i < FAIL_BURST; i++) {
		ht_kreq(fd, "GET", "/v1/executions", FORM, "X-Forwarded-For: "
		    "198.51.100.7\r\n", NULL, &r);
		ck_assert_msg(r.status == 401, "%d: %d", i, r.status);
		ht_resp_free(&r);
	}
	ht_kreq(fd, "GET", "/v1/executions", FORM, "X-Forwarded-For: "
	    "198.51.100.7\r\n", NULL, &r);
	ck_assert_msg(r.status == 429, "%d %s", r.status, r.body);
	ck_assert_msg(strstr(r.head, "\r\nRetry-After: "), "%s", r.head);
	ck_assert_msg(strstr(r.body, "too many failed"), "%s", r.body);
	ht_resp_free(&r);
	/* the right token from that peer: held back too */
	ht_kreq(fd, "GET", "/v1/executions", t, "X-Forwarded-For: 10.0.0.1, "
	    "198.51.100.7\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 429);
	ht_resp_free(&r);
	/* the last address counts, not one the client wrote before it */
	ht_kreq(fd, "GET", "/v1/executions", t, "X-Forwarded-For: "
	    "198.51.100.7, 203.0.113.9\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ht_resp_free(&r);
	ht_kreq(fd, "GET", "/v1/executions", FORM, "X-Forwarded-For: "
	    "203.0.113.9\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ht_resp_free(&r);
	/* the server still serves everyone else */
	ht_kreq(fd, "GET", "/health", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ht_resp_free(&r);
	close(fd);
	want(a.port, "GET", "/v1/executions", t, NULL, 200);
	log = end_serve(&a);
	ck_assert_msg(strstr(log, "from 198.51.100.7 refused (429): rate "
	    "limited"), "%s", log);
	ck_assert_msg(!strstr(log, t) && !strstr(log, FORM), "%s", log);
	free(log);
	free(t);
	free(ci);
}
END_TEST

/* The database down: tokens from it are 503 (not 401), the bootstrap
   token still works; back up, they work again. */
START_TEST(database_down)
{
	char *ci = use_db("down"), *t, e[1024], *log;
	struct afu9 a;
	struct ht_resp r;
	double end;

	t = tok_new("ops", "read");
	setenv("AFU9_API_TOKEN", BOOT, 1);
	start_serve(&a);
	want(a.port, "GET", "/metrics", t, NULL, 200);
	ck_assert_msg(pgt_server_stop(pg, e, sizeof(e)) == 0, "%s", e);
	end = t_now_ms() + 30000 * t_slow();
	for (;;) {
		ht_req(a.port, "GET", "/metrics", t, NULL, NULL, &r);
		if (r.status == 503)
			break;
		ck_assert_msg(r.status == 200 && t_now_ms() < end, "%d %s",
		    r.status, r.body);
		ht_resp_free(&r);
		usleep(50000);
	}
	ck_assert_msg(strstr(r.head, "\r\nRetry-After: 1"), "%s", r.head);
	ck_assert_msg(strstr(r.body, "unavailable"), "%s", r.body);
	ht_resp_free(&r);
	want(a.port, "GET", "/metrics", BOOT, NULL, 200);
	ck_assert_msg(pgt_server_start(pg, e, sizeof(e)) == 0, "%s", e);
	end = t_now_ms() + 30000 * t_slow();
	for (;;) {
		ht_req(a.port, "GET", "/metrics", t, NULL, NULL, &r);
		if (r.status == 200)
			break;
		ck_assert_msg(r.status == 503 && t_now_ms() < end, "%d %s",
		    r.status, r.body);
		ht_resp_free(&r);
		usleep(100000);
	}
	ck_assert_msg(strstr(r.body, "afu9_auth_checks_total{result="
	    "\"unavailable\"} "), "%s", r.body);
	ht_resp_free(&r);
	log = end_serve(&a);
	ck_assert_msg(!strstr(log, t) && !strstr(log, BOOT), "%s", log);
	free(log);
	free(t);
	free(ci);
}
END_TEST

/* /metrics: open with AFU9_METRICS=open; on AFU9_METRICS_LISTEN without
   a token while the main address asks for one. */
START_TEST(metrics_listen)
{
	char *ci = use_db("metrics"), *log, *at;
	struct afu9 a;
	int mport;

	setenv("AFU9_METRICS", "open", 1);
	start_serve(&a);
	want(a.port, "GET", "/metrics", NULL, NULL, 200);
	free(end_serve(&a));
	unsetenv("AFU9_METRICS");
	setenv("AFU9_METRICS_LISTEN", "127.0.0.1:0", 1);
	start_serve(&a);
	ck_assert_msg((at = strstr(a.log, "/metrics without a token on "
	    "127.0.0.1:0 (port ")) != NULL, "%s", a.log);
	mport = atoi(strstr(at, "(port ") + 6);
	ck_assert_int_gt(mport, 0);
	want(mport, "GET", "/metrics", NULL, NULL, 200);
	want(mport, "GET", "/health", NULL, NULL, 200);
	want(mport, "GET", "/v1/executions", NULL, NULL, 404);
	want(a.port, "GET", "/metrics", NULL, NULL, 401);
	log = end_serve(&a);
	free(log);
	unsetenv("AFU9_METRICS_LISTEN");
	/* neither a database nor a bootstrap token: no /v1, no /metrics */
	unsetenv("DATABASE_URL");
	start_serve(&a);
	want(a.port, "GET", "/v1/executions", NULL, NULL, 404);
	want(a.port, "GET", "/metrics", NULL, NULL, 404);
	want(a.port, "GET", "/health", NULL, NULL, 200);
	log = end_serve(&a);
	ck_assert_msg(strstr(log, "no /metrics"), "%s", log);
	free(log);
	free(ci);
}
END_TEST

/* The console: any token logs in; its session ends when the token is
   revoked (checked again at every page). */
START_TEST(console_session)
{
	char *ci = use_db("console"), *t, *log, body[128], origin[128],
	    sid[80], cookie[128], *p;
	struct afu9 a;
	struct ht_resp r;

	t = tok_new("viewer", "read");
	start_serve(&a);
	snprintf(body, sizeof(body), "token=%s", t);
	snprintf(origin, sizeof(origin), "Origin: http://t\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\n");
	/* a wrong token first: the form again */
	ht_req(a.port, "POST", "/ui/login", NULL, origin, "token=afu9_nope",
	    &r);
	ck_assert_msg(r.status == 401 && strstr(r.body, "not a valid token"),
	    "%d %s", r.status, r.body);
	ht_resp_free(&r);
	ht_req(a.port, "POST", "/ui/login", NULL, origin, body, &r);
	ck_assert_msg(r.status == 303, "%d %s %s", r.status, r.head, r.body);
	ck_assert_ptr_nonnull(p = strstr(r.head, "afu9_session="));
	snprintf(sid, sizeof(sid), "%.*s", (int)strcspn(p + 13, ";\r"),
	    p + 13);
	ht_resp_free(&r);
	snprintf(cookie, sizeof(cookie), "Cookie: afu9_session=%s\r\n", sid);
	ht_req(a.port, "GET", "/ui/servers", NULL, cookie, NULL, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.head);
	ht_resp_free(&r);
	tok_revoke("viewer");
	ht_req(a.port, "GET", "/ui/servers", NULL, cookie, NULL, &r);
	ck_assert_msg(r.status == 303 && strstr(r.head, "\r\nLocation: "
	    "/ui/login"), "%d %s", r.status, r.head);
	ht_resp_free(&r);
	/* and it stays ended */
	ht_req(a.port, "GET", "/ui/", NULL, cookie, NULL, &r);
	ck_assert_int_eq(r.status, 303);
	ht_resp_free(&r);
	log = end_serve(&a);
	ck_assert_msg(strstr(log, "ui: login with token viewer (scope read)")
	    && strstr(log, "(console session) from 127.0.0.1 refused (401): "
	    "revoked (token viewer"), "%s", log);
	ck_assert_msg(!strstr(log, t) && !strstr(log, sid), "%s", log);
	free(log);
	free(t);
	free(ci);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth+postgresql");

	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, token_cli);
	tcase_add_test(tc, scopes);
	tcase_add_test(tc, revoked_keepalive);
	tcase_add_test(tc, equal_answers);
	tcase_add_test(tc, rate_limit);
	tcase_add_test(tc, database_down);
	tcase_add_test(tc, metrics_listen);
	tcase_add_test(tc, console_session);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ot_main(auth_suite(), tmpdir);
}
