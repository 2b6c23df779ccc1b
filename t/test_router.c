/*
 * orchestrator/mcp/router as a library, without the afu9 binary: calls
 * refused at once, each with its own error text; and, against a
 * throwaway PostgreSQL server (t/pgtest.c), the audit rows of calls to a
 * real child (t/conformance-server) with what their origins name.
 * (t/test_orch and t/test_orchdb drive the router inside the afu9
 * binary.)
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "conf/conf.h"
#include "mcp/router.h"
#include "store/migrate.h"
#include "store/store.h"
#include "pgtest.h"
#include "testutil.h"

#define WAIT_MS	(10000 * t_slow())

/* Rows for the audit rows to point at, with fixed ids. */
#define WF_ID	"0190f3a0-0000-7000-8000-0000000000f1"
#define EXEC_ID	"0190f3a0-0000-7000-8000-0000000000e1"
#define STEP_ID	"0190f3a0-0000-7000-8000-0000000000a1"
#define RUN_ID	"0190f3a0-0000-7000-8000-0000000000c1"

static struct ev_loop		*loop;
static struct afu9_config	*cfg;
static struct router		*r;
static struct pgtest		*pg;	/* one server for the "audit" case */
static struct store		*st;
static PGconn			*db;	/* a side connection for checks */
static int			 ndone;	/* calls answered */

/* Load the configuration text; @SERVER@ names t/conformance-server. */
static struct afu9_config *
conf_load(const char *text)
{
	char tmp[] = "/tmp/afu9-router.XXXXXX", path[64], err[512];
	struct afu9_config *c;
	const char *p;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/c.json", tmp);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	for (p = text; *p; p++) {
		if (strncmp(p, "@SERVER@", 8) == 0) {
			fputs(t_builddir("t/conformance-server"), f);
			p += 7;
		} else
			fputc(*p, f);
	}
	fclose(f);
	c = config_load_file(path, NULL, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	unlink(path);
	rmdir(tmp);
	return c;
}

static void
setup(void)
{
	char err[512];

	cfg = conf_load("{\"mcpServers\": {\"conf\": "
	    "{\"command\": \"/bin/true\"}}}");
	loop = ev_default_loop(0);
	r = router_new(loop, cfg, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
}

static void
teardown(void)
{
	router_free(r);
	config_free(cfg);
}

static void
never_done(struct router_call *c, const json_t *res,
    const struct router_err *e, void *arg)
{
	(void)c; (void)res; (void)e; (void)arg;
	ck_abort_msg("done ran for a refused call");
}

/* Each refused call keeps its own message, whatever calls come after:
   the engine, the agent, the API and the gateway share one router. */
START_TEST(errors_per_call)
{
	struct router_err e1, e2, e3;

	ck_assert_ptr_null(router_call(r, "nope.tool", NULL, NULL,
	    never_done, NULL, NULL, &e1));
	ck_assert_ptr_null(router_call(r, "conf.tool", json_object(), NULL,
	    never_done, NULL, NULL, &e2));
	ck_assert_ptr_null(router_call_raw(r, "noserver", "{}", 2, NULL,
	    NULL, NULL, NULL, &e3));
	ck_assert_int_eq(e1.kind, ROUTER_E_UNKNOWN);
	ck_assert_str_eq(e1.message, "Unknown tool: nope.tool (tools are "
	    "named server.tool)");
	ck_assert_int_eq(e2.kind, ROUTER_E_UNAVAILABLE);
	ck_assert_msg(strncmp(e2.message, "server conf is ", 15) == 0, "%s",
	    e2.message);
	ck_assert_int_eq(e3.kind, ROUTER_E_UNKNOWN);
	ck_assert_str_eq(e3.message, "Unknown tool: noserver (tools are "
	    "named server.tool)");
	/* No err given: refused all the same. */
	ck_assert_ptr_null(router_call(r, "nope.tool", NULL, NULL,
	    never_done, NULL, NULL, NULL));
	ck_assert_uint_eq(router_calls_in_flight(r), 0);
}
END_TEST

/* A qname far longer than any message: cut, still NUL-terminated. */
START_TEST(long_name_cut)
{
	struct router_err e;
	char name[4000];

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_ptr_null(router_call(r, name, NULL, NULL, never_done, NULL,
	    NULL, &e));
	ck_assert_int_eq(e.kind, ROUTER_E_UNKNOWN);
	ck_assert_uint_lt(strlen(e.message), sizeof(e.message));
	ck_assert_ptr_nonnull(strstr(e.message, "Unknown tool: xxx"));
}
END_TEST

/*
 * An origin whose id is not a uuid is the caller's bug: the call fails
 * at once, naming the field, before anything else is looked at; a good
 * one changes nothing.
 */
START_TEST(bad_origin)
{
	static const char *const bad[] = {
		"", "1234", EXEC_ID "0", "0190f3a0-0000-7000-8000-0000000000e",
		"0190f3a0_0000-7000-8000-0000000000e1",
		"0190f3a0-0000-7000-8000-0000000000z1",
	};
	struct router_origin o;
	struct router_err e;
	size_t i, f;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (f = 0; f < 3; f++) {
			memset(&o, 0, sizeof(o));
			o.caller = f == 2 ? AUDIT_AGENT : AUDIT_WORKFLOW;
			o.execution_id = f == 0 ? bad[i] : EXEC_ID;
			o.step_id = f == 1 ? bad[i] : STEP_ID;
			o.agent_run_id = f == 2 ? bad[i] : NULL;
			ck_assert_ptr_null(router_call(r, "conf.tool",
			    json_object(), &o, never_done, NULL, NULL, &e));
			ck_assert_int_eq(e.kind, ROUTER_E_INTERNAL);
			ck_assert_str_eq(e.message, f == 0 ?
			    "Invalid origin: execution_id is not a uuid "
			    "(8-4-4-4-12 hex digits)" : f == 1 ?
			    "Invalid origin: step_id is not a uuid "
			    "(8-4-4-4-12 hex digits)" :
			    "Invalid origin: agent_run_id is not a uuid "
			    "(8-4-4-4-12 hex digits)");
			ck_assert_ptr_null(router_call_raw(r, "nope.tool", "{}",
			    2, &o, NULL, NULL, NULL, &e));
			ck_assert_int_eq(e.kind, ROUTER_E_INTERNAL);
		}
	memset(&o, 0, sizeof(o));
	o.caller = AUDIT_AGENT;
	o.execution_id = EXEC_ID;
	o.step_id = "0190F3A0-0000-7000-8000-0000000000A1";
	o.agent_run_id = RUN_ID;
	ck_assert_ptr_null(router_call(r, "nope.tool", NULL, &o, never_done,
	    NULL, NULL, &e));
	ck_assert_int_eq(e.kind, ROUTER_E_UNKNOWN);
	ck_assert_uint_eq(router_calls_in_flight(r), 0);
}
END_TEST

/* ---- audit rows, with a database ---- */

static void
pg_up(void)
{
	pg = pgt_start_db("t");
}

static void
pg_down(void)
{
	pgt_stop(pg);
	pg = NULL;
}

static void
exec_ok(const char *sql)
{
	PGresult *res = PQexec(db, sql);

	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(res));
	PQclear(res);
}

static int store_is_up(void) { return store_state(st) == STORE_UP; }
static int router_is_ready(void) { return router_ready(r); }

/*
 * A fresh schema (search_path of database "t"), migrated, with a
 * workflow, an execution, a step and an agent run to point at; a store
 * on it; a router with server "conf" (t/conformance-server, ready) and
 * "off" (disabled) that audits into the store.
 */
static void
db_setup(void)
{
	static int n;
	char name[64], sql[128], err[1024], *base, *ci;
	int applied;

	snprintf(name, sizeof(name), "r%d_%d", (int)getpid(), n++);
	ck_assert_ptr_nonnull(base = pgt_conninfo(pg, "t"));
	ck_assert_msg(mig_connect(base, &db, err, sizeof(err)) == 0, "%s",
	    err);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", name);
	exec_ok(sql);
	ck_assert_int_ne(asprintf(&ci, "%s options='-csearch_path=%s'", base,
	    name), -1);
	free(base);
	PQfinish(db);
	ck_assert_msg(mig_connect(ci, &db, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(mig_up(db, t_srcdir("migrations"), &applied, err,
	    sizeof(err)) == 0, "%s", err);
	exec_ok("INSERT INTO workflows (id, name, definition) VALUES ('"
	    WF_ID "', 'wf', '{}')");
	exec_ok("INSERT INTO workflow_executions (id, workflow_id) VALUES ('"
	    EXEC_ID "', '" WF_ID "')");
	exec_ok("INSERT INTO workflow_steps (id, execution_id, step_index, "
	    "step_name) VALUES ('" STEP_ID "', '" EXEC_ID "', 0, 'fetch')");
	exec_ok("INSERT INTO agent_runs (id, execution_id, step_id, "
	    "provider, model) VALUES ('" RUN_ID "', '" EXEC_ID "', '" STEP_ID
	    "', 'anthropic', 'm')");

	loop = ev_default_loop(0);
	st = store_new(loop, ci, NULL, err, sizeof(err));
	free(ci);
	ck_assert_msg(st != NULL, "%s", err);
	ck_assert_msg(t_run_until(loop, store_is_up, WAIT_MS), "store not up: %s",
	    store_last_error(st));
	cfg = conf_load("{\"mcpServers\": {\"conf\": {\"command\": "
	    "\"@SERVER@\"}, \"off\": {\"command\": \"/bin/true\", "
	    "\"disabled\": true}}}");
	r = router_new(loop, cfg, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	router_set_store(r, st, 0);
	ck_assert_msg(router_start(r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(t_run_until(loop, router_is_ready, WAIT_MS), "conf not ready");
	ndone = 0;
}

static void
db_teardown(void)
{
	router_free(r);
	r = NULL;
	store_free(st);
	st = NULL;
	config_free(cfg);
	PQfinish(db);
	db = NULL;
}

static void
echo_done(struct router_call *c, const json_t *res,
    const struct router_err *e, void *arg)
{
	ck_assert_msg(e == NULL, "%s", e ? e->message : "");
	ndone++;
}

static void
echo_done_raw(struct router_call *c, const char *res, size_t len,
    int is_error, const struct router_err *e, void *arg)
{
	ck_assert_msg(e == NULL, "%s", e ? e->message : "");
	ndone++;
}

static int want_written;
static int rows_written(void)
{
	struct store_stats s;

	store_get_stats(st, &s);
	return ndone == 2 && s.queued == 0 &&
	    (int)s.audit_written >= want_written;
}

/* "caller status execution step run" of the row whose arguments' text
   is text ("-" for NULL). */
static void
ck_row(const char *text, const char *want)
{
	const char *params[1] = { text };
	PGresult *res = PQexecParams(db, "SELECT caller || ' ' || status || "
	    "' ' || coalesce(execution_id::text, '-') || ' ' || "
	    "coalesce(step_id::text, '-') || ' ' || "
	    "coalesce(agent_run_id::text, '-') FROM mcp_tool_calls WHERE "
	    "arguments->>'text' = $1", 1, NULL, params, NULL, NULL, 0);

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s",
	    PQresultErrorMessage(res));
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), want);
	PQclear(res);
}

/*
 * The rows of a workflow step's call, an agent run's (the raw path) and
 * a gateway call's carry what their origins named, copied (the caller's
 * buffers are overwritten as soon as router_call returns); so does the
 * row of a call refused because its server is not ready.  A bad origin
 * writes no row.
 */
START_TEST(audit_ids)
{
	char exec[37], step[37], run[37];
	struct router_origin o;
	struct router_err e;
	struct store_stats s;
	const char *raw = "{\"text\":\"agent\"}";

	memset(&o, 0, sizeof(o));
	o.caller = AUDIT_WORKFLOW;
	o.execution_id = memcpy(exec, EXEC_ID, sizeof(exec));
	o.step_id = memcpy(step, STEP_ID, sizeof(step));
	ck_assert_ptr_nonnull(router_call(r, "conf.echo", json_pack("{s:s}",
	    "text", "step"), &o, echo_done, NULL, NULL, &e));
	ck_assert_ptr_null(router_call(r, "off.echo", json_pack("{s:s}",
	    "text", "off"), &o, never_done, NULL, NULL, &e));
	ck_assert_int_eq(e.kind, ROUTER_E_UNAVAILABLE);
	memset(exec, 'x', sizeof(exec) - 1);
	memset(step, 'x', sizeof(step) - 1);
	ck_assert_ptr_null(router_call(r, "conf.echo", json_pack("{s:s}",
	    "text", "bad"), &o, never_done, NULL, NULL, &e));
	ck_assert_int_eq(e.kind, ROUTER_E_INTERNAL);

	memset(&o, 0, sizeof(o));
	o.caller = AUDIT_AGENT;
	o.rpc_id_text = "7";
	o.agent_run_id = memcpy(run, RUN_ID, sizeof(run));
	ck_assert_ptr_nonnull(router_call_raw(r, "conf.echo", raw,
	    strlen(raw), &o, echo_done_raw, NULL, NULL, &e));
	memset(run, 'x', sizeof(run) - 1);

	memset(&o, 0, sizeof(o));
	o.caller = AUDIT_GATEWAY;
	ck_assert_ptr_null(router_call(r, "off.echo", json_pack("{s:s}",
	    "text", "gateway"), &o, never_done, NULL, NULL, &e));

	want_written = 4;
	ck_assert(t_run_until(loop, rows_written, WAIT_MS));
	store_get_stats(st, &s);
	ck_assert_uint_eq(s.audit_written, 4);
	ck_assert_uint_eq(s.audit_rejected, 0);
	ck_row("step", "workflow completed " EXEC_ID " " STEP_ID " -");
	ck_row("off", "workflow failed " EXEC_ID " " STEP_ID " -");
	ck_row("agent", "agent completed - - " RUN_ID);
	ck_row("gateway", "gateway failed - - -");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("refused"), *db_tc = tcase_create("audit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, errors_per_call);
	tcase_add_test(tc, long_name_cut);
	tcase_add_test(tc, bad_origin);
	suite_add_tcase(s, tc);
	tcase_add_unchecked_fixture(db_tc, pg_up, pg_down);
	tcase_add_checked_fixture(db_tc, db_setup, db_teardown);
	tcase_set_timeout(db_tc, 60);
	tcase_add_test(db_tc, audit_ids);
	suite_add_tcase(s, db_tc);
	return t_run(s);
}
