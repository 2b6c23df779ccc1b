/*
 * The afu9 binary with a real PostgreSQL (t/pgtest.h): `afu9 migrate`
 * (from empty, re-run, two at once, status), the audit rows of calls
 * through the gateway and the CLI, the database stopped mid-run, secrets
 * kept out of rows and logs, /ready with the database disabled or down,
 * a failed migration at start, and `afu9 audit`.
 */
#include "config.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>

#include "orchtest.h"
#include "pgquery.h"
#include "pgtest.h"
#include "testutil.h"

#define SECRET	"tok-Zq8vW3xK9mP2"	/* a configured secret's value */

static char tmpdir[] = "/tmp/afu9-orchdb-XXXXXX";
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

/* ---- afu9 ---- */

/* A config file in tmpdir; @SERVER@ names t/conformance-server. */
static const char *
write_config(const char *name, const char *text)
{
	return ot_write_config(tmpdir, name, text);
}

static const char *
conf_config(void)
{
	return write_config("db.json", "{\"mcpServers\":{\"conf\":{"
	    "\"command\":\"@SERVER@\",\"env\":{\"API_TOKEN\":\"" SECRET "\"}}},"
	    "\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"},"
	    "\"shutdownGraceMs\":5000}}");
}

#define RUN(out, err, ...) ot_run_afu9((const char *const []){ __VA_ARGS__, \
	    NULL }, out, err)

/* `afu9 serve [--stdio] --config c`, its HTTP port; *log gets stderr so
   far (malloc'd). */
struct afu9 {
	struct tproc	 p;
	int		 port;
	char		*log;
};

static void
start_serve(struct afu9 *a, const char *config, int stdio, const char *extra)
{
	const char *args[] = { "serve", "--config", config,
	    stdio ? "--stdio" : extra, stdio ? extra : NULL, NULL };
	char *at;
	int eof;

	ot_spawn_afu9(&a->p, args);
	a->log = t_read_until(a->p.err, "(port ", 20000 * t_slow(), &eof);
	ck_assert_msg(a->log && (at = strstr(a->log, "(port ")) != NULL,
	    "no listening line: %s", a->log ? a->log : "(nothing)");
	a->port = atoi(at + 6);
	ck_assert_int_gt(a->port, 0);
}

/* Everything afu9 logged, after it exited; its exit status. */
static int
end_serve(struct afu9 *a, int sig, char **log)
{
	char *rest;
	int eof, st;

	if (sig)
		kill(a->p.pid, sig);
	else
		close(a->p.in);
	rest = t_read_until(a->p.err, "\001never", 20000 * t_slow(), &eof);
	if (sig)
		close(a->p.in);
	st = t_finish(&a->p, 20000 * t_slow());
	close(a->p.out);
	close(a->p.err);
	ck_assert_int_ne(asprintf(log, "%s%s", a->log, rest ? rest : ""), -1);
	free(a->log);
	free(rest);
	return st;
}

/* Poll /ready until the database state is want and servers are settled
   (status 200 or 503 as given); the body (new reference). */
static json_t *
wait_ready(struct afu9 *a, const char *dbstate, int status, int deadline_ms)
{
	double end = t_now_ms() + deadline_ms * t_slow();
	const char *got;
	char *body;
	json_t *j;
	int st;

	for (;;) {
		st = ot_http_get(a->port, "/ready", &body);
		ck_assert_ptr_nonnull(j = json_loads(body, 0, NULL));
		got = json_string_value(json_object_get(json_object_get(j,
		    "database"), "state"));
		if (st == status && got && strcmp(got, dbstate) == 0) {
			free(body);
			return j;
		}
		ck_assert_msg(t_now_ms() < end, "/ready: %d %s", st, body);
		free(body);
		json_decref(j);
		usleep(20000);
	}
}

static void
gw_send(struct afu9 *a, const char *line)
{
	ot_send(a->p.in, line);
}

/* The reply with this id (malloc'd). */
static char *
gw_reply(struct afu9 *a, const char *id)
{
	return ot_reply(a->p.out, id, 10000 * t_slow(), NULL);
}

static void
gw_init(struct afu9 *a)
{
	gw_send(a, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":"
	    "{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n");
	free(gw_reply(a, "0"));
	gw_send(a, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}\n");
}

/* tools/call conf.add {a:i, b:1} with id i; checks the answer. */
static void
gw_add(struct afu9 *a, int i)
{
	char line[256], id[16], want[32], *l;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"conf.add\",\"arguments\":"
	    "{\"a\":%d,\"b\":1}}}\n", i, i);
	gw_send(a, line);
	snprintf(id, sizeof(id), "%d", i);
	l = gw_reply(a, id);
	snprintf(want, sizeof(want), "{\"sum\":%d}", i + 1);
	ck_assert_msg(strstr(l, want), "%s", l);
	free(l);
}

/* ---- migrate ---- */

/* The migration files of the source tree: what `up` applies to an empty
   database (each feature adds its own). */
static int
nmigrations(void)
{
	DIR *d = opendir(t_srcdir("migrations"));
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.' && strlen(e->d_name) > 4 &&
		    strcmp(e->d_name + strlen(e->d_name) - 4, ".sql") == 0;
	closedir(d);
	return n;
}

START_TEST(migrate_cli)
{
	char *ci = pgt_use_db(pg, "mig"), *out, *err, want[64];

	snprintf(want, sizeof(want), "applied %d migration(s) from ",
	    nmigrations());
	ck_assert_int_eq(RUN(&out, &err, "migrate", "status"), 3);
	ck_assert_msg(strstr(out, "001_initial_schema.sql") &&
	    strstr(out, "pending"), "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "migrate", "up"), 0);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0 &&
	    strstr(out, "/migrations\n"), "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM schema_migrations"),
	    nmigrations());
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM information_schema."
	    "tables WHERE table_name = 'mcp_tool_calls'"), 1);
	/* Re-run: a no-op (the default command is up). */
	ck_assert_int_eq(RUN(&out, &err, "migrate"), 0);
	ck_assert_msg(strncmp(out, "up to date: nothing to apply", 28) == 0,
	    "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "migrate", "status"), 0);
	ck_assert_msg(strncmp(out, "001_initial_schema.sql", 22) == 0 &&
	    strstr(out, " applied ") && !strstr(out, "pending"), "%s", out);
	free(out);
	free(err);
	/* Errors: usage, a missing directory, no DATABASE_URL. */
	ck_assert_int_eq(RUN(&out, &err, "migrate", "down"), 2);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "migrate", "up", "--dir",
	    "/nonexistent/migrations"), 1);
	ck_assert_msg(strstr(err, "afu9 migrate: ") && strstr(err,
	    "/nonexistent/migrations"), "%s", err);
	free(out);
	free(err);
	unsetenv("DATABASE_URL");
	ck_assert_int_eq(RUN(&out, &err, "migrate", "up"), 2);
	ck_assert_str_eq(err, "afu9 migrate: DATABASE_URL is not set\n");
	free(out);
	free(err);
	free(ci);
}
END_TEST

START_TEST(migrate_twice_at_once)
{
	char *ci = pgt_use_db(pg, "mig2"), *out[2], *err[2];
	const char *const args[] = { "migrate", "up", NULL };
	struct tproc p[2];
	int i, applied = 0, uptodate = 0;
	char want[64];

	snprintf(want, sizeof(want), "applied %d migration(s)", nmigrations());
	ot_spawn_afu9(&p[0], args);
	ot_spawn_afu9(&p[1], args);
	for (i = 0; i < 2; i++) {
		ck_assert_msg(ot_reap_afu9(&p[i], &out[i], &err[i]) == 0, "%s",
		    err[i]);
		applied += strncmp(out[i], want, strlen(want)) == 0;
		uptodate += strncmp(out[i], "up to date", 10) == 0;
		free(out[i]);
		free(err[i]);
	}
	ck_assert_int_eq(applied, 1);
	ck_assert_int_eq(uptodate, 1);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM schema_migrations"),
	    nmigrations());
	free(ci);
}
END_TEST

/* A migration that fails at `afu9 serve` start is fatal, redacted. */
START_TEST(serve_migration_fails)
{
	char *ci = pgt_use_db(pg, "migbad"), dir[600], file[700], *out, *err;
	const char *c = conf_config();
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/badmig", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/001_broken.sql", dir);
	ck_assert_ptr_nonnull(f = fopen(file, "w"));
	fputs("CREATE TABLE t1 (a int);\nSELECT no_such_function();\n", f);
	fclose(f);
	setenv("AFU9_MIGRATIONS_DIR", dir, 1);
	ck_assert_int_eq(RUN(&out, &err, "serve", "--config", c), 1);
	ck_assert_msg(strstr(err, "migrate (") && strstr(err,
	    "001_broken.sql") && strstr(err, "no_such_function"), "%s", err);
	ck_assert_ptr_null(strstr(err, pgt_password(pg)));
	free(out);
	free(err);
	/* The failed file left nothing behind. */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM information_schema."
	    "tables WHERE table_name = 't1'"), 0);
	free(ci);
}
END_TEST

/* ---- audit ---- */

START_TEST(gateway_rows_and_secrets)
{
	char *ci = pgt_use_db(pg, "gw"), *l, *log, *out, *err, *v;
	struct afu9 a;
	json_t *j;
	int i, st;

	start_serve(&a, conf_config(), 1, NULL);
	gw_init(&a);
	for (i = 1; i <= 20; i++)
		gw_add(&a, i);
	/* A string id, and the secret sent to the child and echoed back. */
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"s-1\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"conf.echo\",\"arguments\":"
	    "{\"text\":\"the key is " SECRET "\"}}}\n");
	l = gw_reply(&a, "\"s-1\"");
	ck_assert_msg(strstr(l, "the key is " SECRET), "%s", l);
	free(l);
	gw_send(&a, "{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"conf.fail\",\"arguments\":{}}}\n");
	free(gw_reply(&a, "30"));
	st = end_serve(&a, 0, &log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, log);
	/* Every row was written before exit: exactly one per call. */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_tool_calls"), 22);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "caller = 'gateway' AND server = 'conf' AND status = 'completed' "
	    "AND duration_ms >= 0"), 22);
	ck_assert_int_eq(q_int(ci, "SELECT count(DISTINCT rpc_id) FROM "
	    "mcp_tool_calls WHERE tool = 'add' AND rpc_id::text::int BETWEEN "
	    "1 AND 20 AND arguments->'b' = '1' AND (arguments->>'a')::int = "
	    "rpc_id::text::int AND result_summary = '{\"sum\":' || "
	    "(rpc_id::text::int + 1) || '}' AND NOT is_error"), 20);
	v = q_str(ci, "SELECT rpc_id::text || ' ' || arguments::text || ' ' "
	    "|| result_summary FROM mcp_tool_calls WHERE tool = 'echo'");
	ck_assert_str_eq(v, "\"s-1\" {\"text\": \"the key is [REDACTED]\"} "
	    "the key is [REDACTED]");
	free(v);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "tool = 'fail' AND is_error AND rpc_id = '30'"), 1);
	/* The secret is nowhere: no row of either table, no log line. */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_tool_calls t "
	    "WHERE t::text LIKE '%" SECRET "%'"), 0);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_servers s "
	    "WHERE s::text LIKE '%" SECRET "%'"), 0);
	ck_assert_ptr_null(strstr(log, SECRET));
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	/* The supervisor's last report: stopped at shutdown. */
	v = q_str(ci, "SELECT state || ' ' || restarts || ' ' || "
	    "(command LIKE '%conformance-server') FROM mcp_servers WHERE "
	    "name = 'conf'");
	ck_assert_str_eq(v, "stopped 0 true");
	free(v);
	free(log);
	/* afu9 audit: newest first, one line per call; --json. */
	ck_assert_int_eq(RUN(&out, &err, "audit", "--server", "conf",
	    "--limit", "2"), 0);
	ck_assert_msg(strstr(out, "  conf.fail  completed (tool error)  ") &&
	    strstr(out, "  conf.echo  completed  ") && strstr(out,
	    " gateway\n") && strchr(strchr(out, '\n') + 1, '\n') &&
	    strstr(out, "conf.fail") < strstr(out, "conf.echo") &&
	    !strstr(out, "conf.add"), "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "audit", "--json", "--since", "1h"),
	    0);
	ck_assert_ptr_nonnull(j = json_loads(out, 0, NULL));
	ck_assert_int_eq(json_array_size(j), 22);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j,
	    0), "tool")), "fail");
	json_decref(j);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "audit", "--server", "nosuch"), 0);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "audit", "--limit", "0"), 2);
	free(out);
	free(err);
	unsetenv("DATABASE_URL");
	ck_assert_int_eq(RUN(&out, &err, "audit"), 2);
	ck_assert_str_eq(err, "afu9 audit: DATABASE_URL is not set\n");
	free(out);
	free(err);
	free(ci);
}
END_TEST

START_TEST(cli_call_rows)
{
	char *ci = pgt_use_db(pg, "cli"), *out, *err, *v;
	const char *c = conf_config();

	ck_assert_int_eq(RUN(&out, &err, "migrate"), 0);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.add",
	    "a=2", "b=40"), 0);
	ck_assert_str_eq(out, "{\"sum\":42}\n");
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "call", "--config", c, "conf.echo",
	    "text=" SECRET), 0);
	ck_assert_str_eq(out, SECRET "\n");
	ck_assert_ptr_null(strstr(err, SECRET));
	free(out);
	free(err);
	/* Written before `afu9 call` exited. */
	v = q_str(ci, "SELECT string_agg(tool || ' ' || caller || ' ' || "
	    "status || ' ' || arguments::text || ' ' || result_summary || ' ' "
	    "|| (rpc_id IS NULL), ' | ' ORDER BY started_at) FROM "
	    "mcp_tool_calls");
	ck_assert_str_eq(v, "add cli completed {\"a\": 2, \"b\": 40} "
	    "{\"sum\":42} true | echo cli completed {\"text\": \"[REDACTED]\"} "
	    "[REDACTED] true");
	free(v);
	/* The CLI does not report server states (the daemon owns them). */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_servers"), 0);
	free(ci);
}
END_TEST

START_TEST(database_stops_mid_run)
{
	char *ci = pgt_use_db(pg, "down"), e[1024], *log, *body;
	struct afu9 a;
	json_t *r;
	int i, st;

	/* serve migrates the empty database itself. */
	start_serve(&a, conf_config(), 1, NULL);
	gw_init(&a);
	json_decref(wait_ready(&a, "up", 200, 10000));
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM schema_migrations"),
	    nmigrations());
	for (i = 1; i <= 5; i++)
		gw_add(&a, i);
	q_wait(ci, "SELECT count(*) FROM mcp_tool_calls", 5, 10000);
	ck_assert_msg(pgt_server_stop(pg, e, sizeof(e)) == 0, "%s", e);
	r = wait_ready(&a, "down", 503, 10000);
	ck_assert_str_eq(json_string_value(json_object_get(r, "status")),
	    "not ready");
	json_decref(r);
	/* Calls go on while the database is away. */
	for (i = 6; i <= 10; i++)
		gw_add(&a, i);
	ck_assert_int_eq(ot_http_get(a.port, "/metrics", &body), 200);
	ck_assert_msg(strstr(body, "afu9_store_up 0\n") &&
	    strstr(body, "afu9_audit_queue_rows 5\n") &&
	    strstr(body, "afu9_audit_dropped_total 0\n"), "%s", body);
	free(body);
	ck_assert_msg(pgt_server_start(pg, e, sizeof(e)) == 0, "%s", e);
	json_decref(wait_ready(&a, "up", 200, 15000));
	q_wait(ci, "SELECT count(*) FROM mcp_tool_calls", 10, 10000);
	ck_assert_int_eq(ot_http_get(a.port, "/metrics", &body), 200);
	ck_assert_msg(strstr(body, "afu9_store_up 1\n") &&
	    strstr(body, "afu9_audit_queue_rows 0\n") &&
	    strstr(body, "afu9_audit_written_total 10\n") &&
	    strstr(body, "afu9_store_reconnects_total ") &&
	    strstr(body, "afu9_tool_calls_total{server=\"conf\",tool=\"add\","
	    "outcome=\"ok\"} 10\n") &&
	    strstr(body, "afu9_tool_call_duration_seconds_bucket{server=\"conf\","
	    "tool=\"add\",le=\"+Inf\"} 10\n") &&
	    strstr(body, "afu9_tool_call_duration_seconds_count{server=\"conf\","
	    "tool=\"add\"} 10\n"), "%s", body);
	free(body);
	st = end_serve(&a, SIGTERM, &log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, log);
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	free(log);
	/* None lost, none twice. */
	ck_assert_int_eq(q_int(ci, "SELECT count(DISTINCT rpc_id) FROM "
	    "mcp_tool_calls WHERE caller = 'gateway'"), 10);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM mcp_tool_calls"), 10);
	free(ci);
}
END_TEST

START_TEST(ready_disabled_and_down)
{
	char ci[600], *log, *body;
	const char *c = conf_config();
	struct afu9 a;
	json_t *r;
	int st;

	/* No database at all: runs, says so, still ready. */
	unsetenv("DATABASE_URL");
	start_serve(&a, c, 0, NULL);
	r = wait_ready(&a, "disabled", 200, 10000);
	ck_assert(json_is_true(json_object_get(r, "ready")));
	ck_assert(json_is_null(json_object_get(json_object_get(r, "database"),
	    "error")));
	json_decref(r);
	ck_assert_int_eq(ot_http_get(a.port, "/metrics", &body), 200);
	ck_assert_msg(strstr(body, "afu9_store_up 0\n") &&
	    strstr(body, "afu9_audit_dropped_total 0\n"), "%s", body);
	free(body);
	st = end_serve(&a, SIGTERM, &log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_msg(strstr(log, "DATABASE_URL is not set"), "%s", log);
	free(log);
	/* Configured but unreachable (not migrated at start): 503. */
	snprintf(ci, sizeof(ci), "host=%s/nowhere port=5 user=afu9 "
	    "password=pw-Hq7Lx2Vb9 dbname=x connect_timeout=2", tmpdir);
	setenv("DATABASE_URL", ci, 1);
	start_serve(&a, c, 0, "--no-migrate");
	r = wait_ready(&a, "down", 503, 10000);
	ck_assert_msg(strlen(json_string_value(json_object_get(
	    json_object_get(r, "database"), "error"))) > 0, "no error");
	body = json_dumps(r, 0);
	ck_assert_msg(!strstr(body, "pw-Hq7Lx2Vb9"), "%s", body);
	free(body);
	json_decref(r);
	st = end_serve(&a, SIGTERM, &log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_ptr_null(strstr(log, "pw-Hq7Lx2Vb9"));
	free(log);
}
END_TEST

/* ---- the workflow engine ---- */

/* Store definition def (JSON without single quotes) as workflow name. */
static void
wf_apply(const char *ci, const char *name, const char *def)
{
	q_dof(ci, "SELECT afu9_workflow_apply('%s', NULL, NULL, "
	    "'%s'::jsonb)", name, def);
}

/* A new execution of name with input (JSON); its id (malloc'd). */
static char *
wf_start(const char *ci, const char *name, const char *input,
    const char *key)
{
	char *sql, *id;

	ck_assert_int_ne(asprintf(&sql, "SELECT id FROM afu9_execution_create("
	    "(SELECT id FROM workflows WHERE name = '%s' ORDER BY version DESC "
	    "LIMIT 1), '%s', %s%s%s, 'test')", name, input, key ? "'" : "",
	    key ? key : "NULL", key ? "'" : ""), -1);
	id = q_str(ci, sql);
	free(sql);
	return id;
}

static void
q_waitf(const char *ci, const char *fmt, const char *arg, long long want,
    int deadline_ms)
{
	char *sql;

	ck_assert_int_ne(asprintf(&sql, fmt, arg), -1);
	q_wait(ci, sql, want, deadline_ms);
	free(sql);
}

#define WF_RUN "{\"name\":\"t_run\",\"inputs\":{\"type\":\"object\"," \
	"\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]}," \
	"\"steps\":[" \
	"{\"id\":\"add\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":\"${{ inputs.a }}\",\"b\":3}}," \
	"{\"id\":\"say\",\"type\":\"tool\",\"tool\":\"conf.echo\"," \
	"\"if\":\"${{ steps.add.output.sum == 5 }}\"," \
	"\"arguments\":{\"text\":\"sum ${{ steps.add.output.sum }}\"}}," \
	"{\"id\":\"skip\",\"type\":\"tool\",\"tool\":\"conf.echo\"," \
	"\"if\":\"${{ steps.add.output.sum > 100 }}\"," \
	"\"arguments\":{\"text\":\"no\"}}," \
	"{\"id\":\"bad\",\"type\":\"tool\",\"tool\":\"conf.fail\"," \
	"\"retry\":{\"max_attempts\":2,\"initial_interval_ms\":10}," \
	"\"on_error\":\"continue\"}," \
	"{\"id\":\"ok\",\"type\":\"approval\"," \
	"\"message\":\"sum ${{ steps.add.output.sum }}?\"}]," \
	"\"output\":{\"sum\":\"${{ steps.add.output.sum }}\"," \
	"\"said\":\"${{ steps.say.output }}\"," \
	"\"bad\":\"${{ steps.bad.status }}\"}}"

/*
 * An execution through every outcome: a tool step, an `if` that holds and
 * one that does not, a failing tool retried then continued past, an
 * approval decided from outside; its output; every call audited with
 * the execution; the idempotency key.
 */
START_TEST(workflow_runs)
{
	char *ci = pgt_use_db(pg, "wf1"), *id, *id2, *log, *v, sql[256], *out,
	    *err;
	struct afu9 a;
	json_t *r, *j;
	int st;

	start_serve(&a, conf_config(), 0, NULL);
	r = wait_ready(&a, "up", 200, 20000);
	json_decref(r);
	wf_apply(ci, "t_run", WF_RUN);
	id = wf_start(ci, "t_run", "{\"a\":2}", "key-1");
	q_waitf(ci, "SELECT count(*) FROM workflow_executions WHERE id = '%s' "
	    "AND status = 'waiting'", id, 1, 20000);
	snprintf(sql, sizeof(sql), "SELECT afu9_decide('%s', 'ok', true, "
	    "'tester', NULL)", id);
	q_do(ci, sql);
	q_waitf(ci, "SELECT count(*) FROM workflow_executions WHERE id = '%s' "
	    "AND status = 'succeeded'", id, 1, 20000);
	v = q_strf(ci, "SELECT output::text FROM workflow_executions "
	    "WHERE id = '%s'", id);
	ck_assert_str_eq(v, "{\"bad\": \"failed\", \"sum\": 5, \"said\": "
	    "\"sum 5\"}");
	free(v);
	v = q_strf(ci, "SELECT string_agg(step_name || ':' || attempt || ':' "
	    "|| status, ',' ORDER BY step_index, attempt) FROM workflow_steps "
	    "WHERE execution_id = '%s'", id);
	ck_assert_str_eq(v, "add:1:succeeded,say:1:succeeded,skip:1:skipped,"
	    "bad:1:failed,bad:2:failed,ok:1:succeeded");
	free(v);
	v = q_strf(ci, "SELECT error_kind || ' ' || decided_by FROM "
	    "workflow_steps WHERE execution_id = '%s' AND step_name = 'ok'",
	    id);
	ck_assert_str_eq(v, "");	/* approved: no error kind */
	free(v);
	/* add, echo, fail twice: each a row with the execution and step */
	q_waitf(ci, "SELECT count(*) FROM mcp_tool_calls WHERE caller = "
	    "'workflow' AND step_id IS NOT NULL AND execution_id = '%s'", id,
	    4, 10000);
	/* afu9 audit --execution: those four, each naming its step */
	ck_assert_int_eq(RUN(&out, &err, "audit", "--execution", id), 0);
	ck_assert_msg(strstr(out, "  conf.add  completed  ") && strstr(out,
	    " workflow\n  execution ") && strstr(out, id), "%s", out);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "audit", "--execution", id, "--json"),
	    0);
	ck_assert_ptr_nonnull(j = json_loads(out, 0, NULL));
	ck_assert_int_eq(json_array_size(j), 4);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j,
	    3), "execution_id")), id);
	ck_assert(json_is_string(json_object_get(json_array_get(j, 3),
	    "step_id")));
	ck_assert(json_is_null(json_object_get(json_array_get(j, 3),
	    "agent_run_id")));
	json_decref(j);
	free(out);
	free(err);
	ck_assert_int_eq(RUN(&out, &err, "audit", "--execution", "x'; --"), 1);
	ck_assert_str_eq(err, "afu9 audit: not an execution id (a UUID): "
	    "\"x'; --\"\n");
	free(out);
	free(err);
	/* the same key: the same execution, nothing new */
	id2 = wf_start(ci, "t_run", "{\"a\":9}", "key-1");
	ck_assert_str_eq(id, id2);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    1);
	/* the built-in workflows name tools this configuration lacks: each
	   refused by name, nothing stored */
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflows WHERE name "
	    "IN ('deploy_and_verify', 'issue_to_pr')"), 0);
	st = end_serve(&a, SIGTERM, &log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, log);
	ck_assert_msg(strstr(log, "issue_to_pr.json: step 'write': field "
	    "'tools[0]': unknown tool 'github.getIssue'"), "%s", log);
	free(log);
	free(id);
	free(id2);
	free(ci);
}
END_TEST

#define WF_KILL "{\"name\":\"t_kill\",\"steps\":[" \
	"{\"id\":\"first\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":1,\"b\":2}}," \
	"{\"id\":\"nap\",\"type\":\"tool\",\"tool\":\"conf.sleep\"," \
	"\"arguments\":{\"ms\":3000}}," \
	"{\"id\":\"last\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":\"${{ steps.first.output.sum }}\",\"b\":10}}]," \
	"\"output\":\"${{ steps.last.output.sum }}\"}"

/*
 * kill -9 of the task in the middle of a step: another task takes the
 * execution over once the lease expires, calls the in-flight (read-only)
 * tool again, and never repeats the committed first step.
 */
START_TEST(workflow_takeover)
{
	char *ci = pgt_use_db(pg, "wf2"), *id, *log, *v, *body;
	struct afu9 a, b;
	json_t *r;
	int st;

	setenv("AFU9_LEASE_TTL_MS", "1000", 1);
	start_serve(&a, conf_config(), 0, NULL);
	r = wait_ready(&a, "up", 200, 20000);
	json_decref(r);
	wf_apply(ci, "t_kill", WF_KILL);
	id = wf_start(ci, "t_kill", "{}", NULL);
	q_waitf(ci, "SELECT count(*) FROM workflow_steps WHERE execution_id = "
	    "'%s' AND step_name = 'nap' AND status = 'running'", id, 1, 20000);
	st = end_serve(&a, SIGKILL, &log);
	ck_assert(WIFSIGNALED(st));
	free(log);
	ck_assert_int_eq(q_intf(ci, "SELECT count(*) FROM workflow_executions "
	    "WHERE id = '%s' AND status = 'running'", id), 1);
	start_serve(&b, conf_config(), 0, NULL);
	q_waitf(ci, "SELECT count(*) FROM workflow_executions WHERE id = '%s' "
	    "AND finished_at IS NOT NULL", id, 1, 30000);
	v = q_strf(ci, "SELECT status || ' ' || coalesce(output::text, error) "
	    "FROM workflow_executions WHERE id = '%s'", id);
	ck_assert_str_eq(v, "succeeded 13");
	free(v);
	v = q_strf(ci, "SELECT string_agg(step_name || ':' || attempt || ':' "
	    "|| status, ',' ORDER BY step_index, attempt) || ' ' || "
	    "(SELECT lease_token FROM workflow_executions WHERE id = '%1$s') "
	    "FROM workflow_steps WHERE execution_id = '%1$s'", id);
	ck_assert_str_eq(v, "first:1:succeeded,nap:1:succeeded,"
	    "last:1:succeeded 2");
	free(v);
	/* the first add ran once (by a), the last once (by b) */
	q_waitf(ci, "SELECT count(*) FROM mcp_tool_calls WHERE tool = 'add' "
	    "AND execution_id = '%s'", id, 2, 10000);
	ck_assert_int_eq(ot_http_get(b.port, "/metrics", &body), 200);
	ck_assert_msg(strstr(body, "afu9_workflow_lease_takeovers_total 1\n"),
	    "%s", body);
	free(body);
	st = end_serve(&b, SIGTERM, &log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s",
	    st, log);
	free(log);
	unsetenv("AFU9_LEASE_TTL_MS");
	free(id);
	free(ci);
}
END_TEST

static Suite *
orchdb_suite(void)
{
	Suite *s = suite_create("orchdb");
	TCase *tc = tcase_create("afu9+postgresql");

	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, migrate_cli);
	tcase_add_test(tc, migrate_twice_at_once);
	tcase_add_test(tc, serve_migration_fails);
	tcase_add_test(tc, gateway_rows_and_secrets);
	tcase_add_test(tc, cli_call_rows);
	tcase_add_test(tc, database_stops_mid_run);
	tcase_add_test(tc, ready_disabled_and_down);
	tcase_add_test(tc, workflow_runs);
	tcase_add_test(tc, workflow_takeover);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ot_main(orchdb_suite(), tmpdir);
}
