/*
 * The agent recorder (orchestrator/agent/agentrec.h) against a real
 * PostgreSQL (t/pgtest.h) with the migrations applied: every column of
 * agent_runs and agent_messages, begin reported only once the row is
 * committed, writes made before that kept in order, secrets kept out of
 * every row, refusals, a run resuming another, the database stopping
 * mid-run, statements lost in flight and sent again (once), the buffer's
 * bound, begin's deadline, draining, and the metrics.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "agent/agentrec.h"
#include "buf.h"
#include "log.h"
#include "pgtest.h"
#include "redact.h"
#include "store/migrate.h"
#include "testutil.h"

#define WAIT_MS		(10000 * t_slow())
#define SECRET		"sk-test-Q8mZ2vX7pL4kR9wN"
#define RUN_A		"0190f5a3-7b1c-7d2e-8f00-00000000000a"
#define RUN_B		"0190f5a3-7b1c-7d2e-8f00-00000000000b"
#define RUN_C		"0190f5a3-7b1c-7d2e-8f00-00000000000c"

static struct pgtest	*pg;
static char		*ci;		/* this test's database */
static PGconn		*db;		/* a side connection for checks */
static struct ev_loop	*loop;
static struct agentrec	*rec;
static const struct agent_recorder *ar;
static FILE		*logfp;
static char		 err[1024];

/* What one begin's done saw. */
struct bres {
	int	 called;
	int	 rc;
	char	 err[1024];
	int	 row;		/* the row was there when done ran */
};

/* The server, and database "t" migrated once: each test empties its
   tables (much faster than a database each). */
static void
pg_up(void)
{
	char *c;

	pg = pgt_start_db("t");
	ck_assert_ptr_nonnull(c = pgt_conninfo(pg, "t"));
	if (mig_apply(c, t_srcdir("migrations"), NULL, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "migrate: %s\n", err);
		abort();
	}
	free(c);
}

static void
pg_down(void)
{
	pgt_stop(pg);
	pg = NULL;
}

static void
exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	PQclear(r);
}

static void
side_connect(void)
{
	PQfinish(db);
	ck_assert_msg(mig_connect(ci, &db, err, sizeof(err)) == 0, "%s", err);
}

/* The migrated database, its tables empty. */
static void
setup(void)
{
	log_init("test_agentrec");
	ck_assert_ptr_nonnull(logfp = tmpfile());
	log_set_fd(fileno(logfp));
	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	/* a no-op unless a test that stopped the server failed */
	ck_assert_msg(pgt_server_start(pg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(ci = pgt_conninfo(pg, "t"));
	db = NULL;
	side_connect();
	exec_ok(db, "TRUNCATE agent_messages, agent_runs, mcp_tool_calls, "
	    "workflow_steps, workflow_executions, workflows");
	rec = NULL;
}

static void
teardown(void)
{
	agentrec_free(rec);
	rec = NULL;
	ev_loop_destroy(loop);
	PQfinish(db);
	db = NULL;
	free(ci);
	log_set_fd(2);
	fclose(logfp);
	redact_clear();
}

static int never(void) { return 0; }

static struct agentrec_stats
stats(void)
{
	struct agentrec_stats s;

	agentrec_get_stats(rec, &s);
	return s;
}

static int idle(void) { return stats().pending == 0; }
static int db_up(void)
{
	json_t *j = agentrec_status(rec);
	int up = strcmp(json_string_value(json_object_get(j, "database")),
	    "up") == 0;

	json_decref(j);
	return up;
}
static int db_down(void) { return !db_up(); }

static void
new_rec(const struct agentrec_opts *o)
{
	struct agentrec_opts d = { 0 };

	if (o == NULL) {
		d.backoff_cap_s = 0.05;
		o = &d;
	}
	rec = agentrec_new(loop, ci, o, err, sizeof(err));
	ck_assert_msg(rec != NULL, "%s", err);
	ar = agentrec_recorder(rec);
	ck_assert_msg(t_run_until(loop, db_up, WAIT_MS), "not up");
}

/* First value of a one-row query on the side connection, malloc'd ("" for
   NULL). */
static char *
q1(const char *sql)
{
	PGresult *r = PQexec(db, sql);
	char *s;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	ck_assert_msg(PQntuples(r) == 1, "%s: %d rows", sql, PQntuples(r));
	s = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return s;
}

#define ck_q(sql, want) do {						\
	char *v_ = q1(sql);						\
	ck_assert_msg(strcmp(v_, (want)) == 0, "%s: got '%s', want '%s'", \
	    (sql), v_, (want));						\
	free(v_);							\
} while (0)


static void
begin_done(void *arg, int rc, const char *e)
{
	struct bres *b = arg;
	char *n;

	b->called++;
	b->rc = rc;
	snprintf(b->err, sizeof(b->err), "%s", e ? e : "");
	if (rc == 0 && db != NULL && PQstatus(db) == CONNECTION_OK) {
		/* committed: another connection sees it now */
		n = q1("SELECT count(*) FROM agent_runs");
		b->row = atoi(n);
		free(n);
	}
}

static struct bres *wait_b;
static int b_called(void) { return wait_b->called > 0; }

static void
meta_init(struct agent_run_meta *m, const char *id)
{
	memset(m, 0, sizeof(*m));
	m->run_id = id;
	m->provider = "anthropic";
	m->model = "claude-test-1";
	m->task = "Fix issue 7";
}

/* begin and wait for done; its rc. */
static int
begin_wait(const struct agent_run_meta *m, struct bres *b)
{
	memset(b, 0, sizeof(*b));
	ar->begin(ar->self, m, begin_done, b);
	wait_b = b;
	ck_assert_msg(t_run_until(loop, b_called, WAIT_MS), "no done");
	ck_assert_int_eq(b->called, 1);
	return b->rc;
}

static json_t *
text_content(const char *s)
{
	return json_pack("{s:s}", "text", s);
}

static void
msg(const char *run, unsigned seq, const char *role, json_t *c,
    const struct prov_usage *u)
{
	ar->message(ar->self, run, seq, role, c, u);
	json_decref(c);
}

static struct agent_totals
totals(uint64_t in, uint64_t out, uint64_t cr, uint64_t cw, uint64_t cost,
    unsigned turns, unsigned calls)
{
	struct agent_totals t;

	memset(&t, 0, sizeof(t));
	t.usage.input = in;
	t.usage.output = out;
	t.usage.cache_read = cr;
	t.usage.cache_write = cw;
	t.cost_micro = cost;
	t.turns = turns;
	t.tool_calls = calls;
	return t;
}

static void
wait_idle(void)
{
	ck_assert_msg(t_run_until(loop, idle, WAIT_MS), "still %zu pending",
	    stats().pending);
}

static char *
log_text(void)
{
	return t_file_text(logfp);
}

/* ---- tests ---- */

/*
 * A whole run: the row as begin writes it, as progress raises it, as
 * finish ends it; the transcript, each column, in order.
 */
START_TEST(test_rows)
{
	struct agent_run_meta m;
	struct agent_totals t;
	struct prov_usage u = { 100, 20, 5, 7 };
	struct bres b;
	json_t *params, *res;
	char *wf, *ex, *st, sql[512];

	new_rec(NULL);
	wf = q1("INSERT INTO workflows (name, definition) VALUES ('w', "
	    "'{\"steps\":[]}') RETURNING id");
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_executions "
	    "(workflow_id) VALUES ('%s') RETURNING id", wf);
	ex = q1(sql);
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_steps (execution_id, "
	    "step_index, step_name) VALUES ('%s', 0, 'code') RETURNING id",
	    ex);
	st = q1(sql);
	meta_init(&m, "0190F5A3-7B1C-7D2E-8F00-00000000000A");	/* upper */
	m.execution_id = ex;
	m.step_id = st;
	params = json_pack("{s:[s],s:{s:i}}", "tools", "github.*", "budget",
	    "max_turns", 10);
	m.params = params;
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	json_decref(params);
	ck_assert_int_eq(b.row, 1);	/* committed before done */
	snprintf(sql, sizeof(sql), "SELECT concat_ws('|', id, execution_id = "
	    "'%s', step_id = '%s', provider, model, status, task, params, "
	    "input_tokens, output_tokens, cache_read_tokens, "
	    "cache_write_tokens, cost_usd IS NULL, turns, tool_calls, "
	    "retries, error IS NULL, result IS NULL, resumed_from IS NULL, "
	    "messages_dropped, finished_at IS NULL) FROM agent_runs", ex, st);
	ck_q(sql, RUN_A "|t|t|anthropic|claude-test-1|running|Fix issue 7|"
	    "{\"tools\": [\"github.*\"], \"budget\": {\"max_turns\": 10}}|"
	    "0|0|0|0|t|0|0|0|t|t|t|0|t");

	msg(RUN_A, 0, "system", text_content("You are afu9."), NULL);
	msg(RUN_A, 1, "user", text_content("Fix issue 7"), NULL);
	msg(RUN_A, 2, "assistant", json_pack("{s:s,s:[{s:s,s:s,s:s,s:{s:i}}]}",
	    "text", "Reading it.", "tool_calls", "id", "c1", "tool",
	    "github.getIssue", "name", "github__getIssue", "arguments",
	    "number", 7), &u);
	msg(RUN_A, 3, "tool", json_pack("{s:s,s:s,s:s,s:b}", "call_id", "c1",
	    "tool", "github.getIssue", "text", "issue 7: it breaks",
	    "is_error", 0), NULL);
	t = totals(100, 20, 5, 7, 1234, 1, 1);
	t.retries = 2;
	ar->progress(ar->self, RUN_A, &t);
	wait_idle();
	ck_q("SELECT concat_ws('|', status, input_tokens, output_tokens, "
	    "cache_read_tokens, cache_write_tokens, cost_usd, turns, "
	    "tool_calls, retries, finished_at IS NULL) FROM agent_runs",
	    "running|100|20|5|7|0.001234|1|1|2|t");
	ck_q("SELECT string_agg(concat_ws(',', seq, role, content->>'text', "
	    "coalesce(input_tokens, -1), coalesce(output_tokens, -1), "
	    "coalesce(cache_read_tokens, -1), coalesce(cache_write_tokens, "
	    "-1)), ';' ORDER BY seq) FROM agent_messages WHERE run_id = '"
	    RUN_A "'", "0,system,You are afu9.,-1,-1,-1,-1;"
	    "1,user,Fix issue 7,-1,-1,-1,-1;"
	    "2,assistant,Reading it.,100,20,5,7;"
	    "3,tool,issue 7: it breaks,-1,-1,-1,-1");
	ck_q("SELECT content FROM agent_messages WHERE seq = 2",
	    "{\"text\": \"Reading it.\", \"tool_calls\": [{\"id\": \"c1\", "
	    "\"name\": \"github__getIssue\", \"tool\": \"github.getIssue\", "
	    "\"arguments\": {\"number\": 7}}]}");
	ck_q("SELECT content->>'is_error' FROM agent_messages WHERE seq = 3",
	    "false");
	ck_q("SELECT count(*) FROM agent_messages WHERE created_at IS NULL",
	    "0");

	msg(RUN_A, 4, "assistant", text_content("Done."), &u);
	t = totals(200, 40, 10, 14, 2468, 2, 1);
	res = json_pack("{s:s,s:s}", "text", "Done.", "stop", "end_turn");
	ar->finish(ar->self, RUN_A, "succeeded", NULL, res, &t);
	json_decref(res);
	wait_idle();
	ck_q("SELECT concat_ws('|', status, input_tokens, output_tokens, "
	    "cache_read_tokens, cache_write_tokens, cost_usd, turns, "
	    "tool_calls, error IS NULL, result, finished_at IS NOT NULL, "
	    "finished_at >= started_at, updated_at >= created_at) FROM "
	    "agent_runs", "succeeded|200|40|10|14|0.002468|2|1|t|"
	    "{\"stop\": \"end_turn\", \"text\": \"Done.\"}|t|t|t");
	ck_q("SELECT count(*) FROM agent_messages", "5");
	ck_assert_uint_eq(stats().runs, 1);
	ck_assert_uint_eq(stats().messages, 5);
	ck_assert_uint_eq(stats().active, 0);	/* the run is forgotten */
	/* the loop never names it again; if it did, nothing happens */
	ar->progress(ar->self, RUN_A, &t);
	ck_assert_uint_eq(stats().unknown, 1);
	ck_assert_uint_eq(stats().pending, 0);
	free(wf);
	free(ex);
	free(st);
}
END_TEST

/*
 * Everything the loop says before begin's done is held and written
 * after the row, in order; done comes once.  A failed run: its error.
 */
START_TEST(test_before_done)
{
	struct agent_run_meta m;
	struct agent_totals t = totals(1, 2, 0, 0, 0, 1, 0);
	struct bres b;

	new_rec(NULL);
	meta_init(&m, RUN_B);
	m.task = "";		/* a run resuming another has none */
	memset(&b, 0, sizeof(b));
	ar->begin(ar->self, &m, begin_done, &b);
	msg(RUN_B, 0, "user", text_content("hi"), NULL);
	ar->progress(ar->self, RUN_B, &t);
	msg(RUN_B, 1, "assistant", text_content("hello"), NULL);
	t.turns = 2;
	ar->progress(ar->self, RUN_B, &t);
	ar->finish(ar->self, RUN_B, "failed", "budget: max_turns (2) reached",
	    NULL, &t);
	ck_assert_int_eq(b.called, 0);
	ck_assert_uint_ge(stats().pending, 4);
	wait_idle();
	ck_assert_int_eq(b.called, 1);
	ck_assert_int_eq(b.rc, 0);
	ck_q("SELECT concat_ws('|', status, error, turns, input_tokens, "
	    "task IS NULL, params) FROM agent_runs", "failed|budget: "
	    "max_turns (2) reached|2|1|t|{}");
	ck_q("SELECT string_agg(seq || role, ',' ORDER BY seq) FROM "
	    "agent_messages", "0user,1assistant");
}
END_TEST

/* A secret registered with redact.h reaches no row, wherever it is. */
START_TEST(test_redaction)
{
	struct agent_run_meta m;
	struct agent_totals t = totals(1, 1, 0, 0, 0, 1, 1);
	struct bres b;
	json_t *params, *res;
	char *log;

	ck_assert_int_eq(redact_add_secret(SECRET), 0);
	new_rec(NULL);
	meta_init(&m, RUN_A);
	m.task = "use the key " SECRET " to deploy";
	params = json_pack("{s:s,s:s}", "note", "key=" SECRET, "api_key",
	    "whatever");
	m.params = params;
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	json_decref(params);
	msg(RUN_A, 0, "user", text_content("my token is " SECRET), NULL);
	msg(RUN_A, 1, "assistant", json_pack("{s:s,s:[{s:s,s:s,s:{s:s,s:s}}]}",
	    "text", "", "tool_calls", "id", "c1", "tool", "deploy.update",
	    "arguments", "password", "hunter22", "note", SECRET), NULL);
	msg(RUN_A, 2, "tool", json_pack("{s:s,s:s,s:b}", "call_id", "c1",
	    "text", "echo: " SECRET, "is_error", 1), NULL);
	res = json_pack("{s:s}", "text", "the key was " SECRET);
	ar->finish(ar->self, RUN_A, "failed", "provider said: bad key "
	    SECRET, res, &t);
	json_decref(res);
	wait_idle();
	ck_q("SELECT count(*) FROM agent_messages", "3");
	ck_q("SELECT count(*) FROM agent_runs a WHERE a::text LIKE '%"
	    SECRET "%'", "0");
	ck_q("SELECT count(*) FROM agent_messages m WHERE m::text LIKE '%"
	    SECRET "%'", "0");
	ck_q("SELECT count(*) FROM agent_messages m WHERE m::text LIKE "
	    "'%hunter22%'", "0");
	ck_q("SELECT task FROM agent_runs", "use the key [REDACTED] to deploy");
	ck_q("SELECT params->>'api_key' FROM agent_runs", "[REDACTED]");
	ck_q("SELECT content->'tool_calls'->0->'arguments'->>'password' FROM "
	    "agent_messages WHERE seq = 1", "[REDACTED]");
	ck_q("SELECT error FROM agent_runs", "provider said: bad key "
	    "[REDACTED]");
	log = log_text();
	ck_assert_ptr_null(strstr(log, SECRET));
	free(log);
}
END_TEST

/*
 * Refusals: arguments out of form and a run id already recorded fail
 * at once, an execution that does not exist when the database refuses
 * the row; nothing is stored, and what names a run not recorded is
 * ignored.
 */
START_TEST(test_refused)
{
	struct agent_run_meta m;
	struct agent_totals t = totals(0, 0, 0, 0, 0, 0, 0);
	struct bres b;
	char model[300];
	json_t *arr;

	new_rec(NULL);
	meta_init(&m, "not-a-uuid");
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	ck_assert_str_eq(b.err, "the run id is not a uuid");
	meta_init(&m, RUN_A);
	m.provider = "";
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	meta_init(&m, RUN_A);
	memset(model, 'm', sizeof(model) - 1);
	model[sizeof(model) - 1] = '\0';
	m.model = model;
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	ck_assert_str_eq(b.err, "the model's name is not 1 to 255 characters "
	    "of UTF-8");
	meta_init(&m, RUN_A);
	m.model = "bad\xff";
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	meta_init(&m, RUN_A);
	m.step_id = "0190f5a3-7b1c-7d2e-8f00-0000000000zz";
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	ck_assert_str_eq(b.err, "the step id is not a uuid");
	meta_init(&m, RUN_A);
	m.resumed_from = RUN_A;
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	ck_assert_str_eq(b.err, "a run cannot resume itself");
	meta_init(&m, RUN_A);
	arr = json_array();
	m.params = arr;
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	json_decref(arr);
	/* the database refuses: no such execution */
	meta_init(&m, RUN_A);
	m.execution_id = "0190f5a3-7b1c-7d2e-8f00-0000000000ee";
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	ck_assert_msg(strstr(b.err, "the database refused the run's row") &&
	    strstr(b.err, "agent_runs_execution_id_fkey"), "%s", b.err);
	ck_q("SELECT count(*) FROM agent_runs", "0");
	ck_assert_uint_eq(stats().begin_failed, 8);
	ck_assert_uint_eq(stats().active, 0);
	/* a good one, then the same id again while it is recorded */
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	ck_assert_str_eq(b.err, "a run with this id is being recorded "
	    "already");
	/* unknown runs, a bad role, an unknown status */
	msg(RUN_C, 0, "user", text_content("x"), NULL);
	ar->progress(ar->self, RUN_C, &t);
	ar->finish(ar->self, RUN_C, "failed", NULL, NULL, &t);
	ck_assert_uint_eq(stats().unknown, 3);
	msg(RUN_A, 0, "narrator", text_content("x"), NULL);
	ar->finish(ar->self, RUN_A, "exploded", NULL, NULL, &t);
	wait_idle();
	ck_q("SELECT concat_ws('|', status, error, messages_dropped) FROM "
	    "agent_runs", "failed|finished with an unknown status|1");
	ck_q("SELECT count(*) FROM agent_messages", "0");
}
END_TEST

/*
 * A run that resumes another still marked running closes it (failed,
 * interrupted); that run's own late finish does not overwrite it.
 */
START_TEST(test_resume)
{
	struct agent_run_meta m;
	struct agent_totals t = totals(5, 5, 0, 0, 10, 1, 0);
	struct bres b;

	new_rec(NULL);
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	msg(RUN_A, 0, "user", text_content("go"), NULL);
	wait_idle();
	meta_init(&m, RUN_B);
	m.resumed_from = RUN_A;
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	ck_q("SELECT concat_ws('|', status, error, finished_at IS NOT NULL) "
	    "FROM agent_runs WHERE id = '" RUN_A "'", "failed|interrupted: "
	    "resumed as run " RUN_B "|t");
	ck_q("SELECT concat_ws('|', status, resumed_from) FROM agent_runs "
	    "WHERE id = '" RUN_B "'", "running|" RUN_A);
	ar->finish(ar->self, RUN_A, "succeeded", NULL, NULL, &t);
	wait_idle();
	ck_q("SELECT concat_ws('|', status, turns) FROM agent_runs WHERE id "
	    "= '" RUN_A "'", "failed|0");
	ck_q("SELECT afu9_agent_run_json('" RUN_A "', 0, 10)->>'resumed_by'",
	    "[\"" RUN_B "\"]");
}
END_TEST

static int three_msgs(void)
{
	char *n = q1("SELECT count(*) FROM agent_messages");
	int r = atoi(n) == 3;

	free(n);
	return r;
}

/*
 * The database stops mid-run: what the loop says meanwhile waits (none
 * of it blocks, none of it fails the run) and is written once the
 * database is back; the row ends finished with the whole transcript.
 * A run that begins while it is down fails once begin_timeout_ms has
 * passed, and leaves no row.
 */
START_TEST(test_db_down)
{
	struct agentrec_opts o = { 0 };
	struct agent_run_meta m;
	struct agent_totals t;
	struct bres b, b2;
	unsigned i;
	char *log;

	o.backoff_cap_s = 0.05;
	o.begin_timeout_ms = 300;
	new_rec(&o);
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	for (i = 0; i < 3; i++)
		msg(RUN_A, i, i % 2 ? "assistant" : "user",
		    text_content("before"), NULL);
	wait_idle();
	ck_assert(three_msgs());
	PQfinish(db);
	db = NULL;
	ck_assert_msg(pgt_server_stop(pg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(t_run_until(loop, db_down, WAIT_MS), "not noticed");
	for (i = 3; i < 8; i++)
		msg(RUN_A, i, i % 2 ? "assistant" : "user",
		    text_content("during"), NULL);
	t = totals(50, 60, 0, 0, 70, 4, 2);
	ar->progress(ar->self, RUN_A, &t);
	t.turns = 5;
	ar->progress(ar->self, RUN_A, &t);	/* replaces the one waiting */
	ar->finish(ar->self, RUN_A, "cancelled", "cancelled: SIGTERM", NULL,
	    &t);
	/* a run beginning now fails at its deadline */
	meta_init(&m, RUN_B);
	ck_assert_int_eq(begin_wait(&m, &b2), -1);
	ck_assert_msg(strstr(b2.err, "the database did not take the run's row "
	    "within 300 ms"), "%s", b2.err);
	t_run_until(loop, never, 100);
	ck_assert_uint_eq(stats().pending, 6);	/* 5 messages, 1 finish */
	ck_assert_msg(pgt_server_start(pg, err, sizeof(err)) == 0, "%s", err);
	wait_idle();
	side_connect();
	ck_q("SELECT concat_ws('|', status, error, turns, output_tokens, "
	    "messages_dropped) FROM agent_runs", "cancelled|cancelled: "
	    "SIGTERM|5|60|0");
	ck_q("SELECT string_agg(seq || ':' || (content->>'text'), ',' ORDER BY "
	    "seq) FROM agent_messages", "0:before,1:before,2:before,3:during,"
	    "4:during,5:during,6:during,7:during");
	ck_q("SELECT count(*) FROM agent_runs WHERE id = '" RUN_B "'", "0");
	ck_assert_uint_eq(stats().active, 0);
	log = log_text();
	ck_assert_ptr_nonnull(strstr(log, "agent run " RUN_B ": not recorded: "
	    "the database did not take the run's row within 300 ms"));
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	free(log);
}
END_TEST

static int locked_waiting(void)
{
	PGconn *c;
	PGresult *r;
	int n;

	ck_assert_msg(mig_connect(ci, &c, err, sizeof(err)) == 0, "%s", err);
	r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE "
	    "wait_event_type = 'Lock' AND query LIKE 'INSERT INTO agent_%'");
	n = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return n > 0;
}

/*
 * Statements in flight when the connection breaks are sent again; those
 * that committed anyway (they were waiting for a lock the server still
 * gave them) are not written twice.
 */
START_TEST(test_lost_in_flight)
{
	struct agent_run_meta m;
	struct agent_totals t = totals(9, 9, 0, 0, 0, 3, 0);
	struct bres b;
	unsigned i;

	new_rec(NULL);
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	exec_ok(db, "BEGIN");
	exec_ok(db, "LOCK TABLE agent_messages IN ACCESS EXCLUSIVE MODE");
	for (i = 0; i < 20; i++)
		msg(RUN_A, i, "user", text_content("m"), NULL);
	ck_assert_msg(t_run_until(loop, locked_waiting, WAIT_MS),
	    "the inserts are not waiting for the lock");
	agentrec_reconnect(rec);
	t_run_until(loop, never, 50);
	exec_ok(db, "COMMIT");
	ar->finish(ar->self, RUN_A, "succeeded", NULL, NULL, &t);
	wait_idle();
	ck_assert_uint_ge(stats().retried, 1);
	ck_q("SELECT count(*) || '/' || count(DISTINCT seq) || '/' || max(seq) "
	    "FROM agent_messages", "20/20/19");
	ck_q("SELECT status || turns FROM agent_runs", "succeeded3");
}
END_TEST

/*
 * The buffer's bound while the database is down: messages past it are
 * dropped and counted in the row, logged once; a run cannot begin.
 */
START_TEST(test_buffer_full)
{
	struct agentrec_opts o = { 0 };
	struct agent_run_meta m;
	struct agent_totals t = totals(1, 1, 0, 0, 0, 1, 0);
	struct bres b;
	char big[3000], *log;
	unsigned i, dropped;

	o.backoff_cap_s = 0.05;
	o.buffer_max = 16000;
	o.begin_timeout_ms = 5000;
	new_rec(&o);
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	PQfinish(db);
	db = NULL;
	ck_assert_msg(pgt_server_stop(pg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(t_run_until(loop, db_down, WAIT_MS), "not noticed");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 10; i++)
		msg(RUN_A, i, "user", text_content(big), NULL);
	dropped = (unsigned)stats().dropped_full;
	ck_assert_uint_gt(dropped, 0);
	ck_assert_uint_lt(dropped, 10);
	ck_assert_uint_le(stats().bytes, 16000);
	meta_init(&m, RUN_B);
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	ck_assert_msg(strstr(b.err, "buffer is full"), "%s", b.err);
	ar->finish(ar->self, RUN_A, "succeeded", NULL, NULL, &t);
	ck_assert_msg(pgt_server_start(pg, err, sizeof(err)) == 0, "%s", err);
	wait_idle();
	side_connect();
	ck_q("SELECT count(*) + max(messages_dropped) FROM agent_messages, "
	    "agent_runs", "10");
	{
		char want[16];

		snprintf(want, sizeof(want), "%u", dropped);
		ck_q("SELECT messages_dropped FROM agent_runs", want);
	}
	log = log_text();
	ck_assert_int_eq(t_count_str(log, "transcript message"), 1);
	ck_assert_ptr_nonnull(strstr(log, "messages_dropped counts this"));
	free(log);
}
END_TEST

/*
 * A row that commits only after begin gave up waiting is closed at once:
 * no row is left running for a run that never ran.
 */
START_TEST(test_begin_late)
{
	struct agentrec_opts o = { 0 };
	struct agent_run_meta m;
	struct bres b;

	o.backoff_cap_s = 0.05;
	o.begin_timeout_ms = 300;
	new_rec(&o);
	exec_ok(db, "BEGIN");
	exec_ok(db, "LOCK TABLE agent_runs IN ACCESS EXCLUSIVE MODE");
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	msg(RUN_A, 0, "user", text_content("ignored"), NULL);
	exec_ok(db, "COMMIT");
	wait_idle();
	ck_q("SELECT concat_ws('|', status, error LIKE 'recording: the row "
	    "was committed after the run had stopped waiting%', finished_at "
	    "IS NOT NULL) FROM agent_runs", "failed|t|t");
	ck_q("SELECT count(*) FROM agent_messages", "0");
	ck_assert_uint_eq(stats().active, 0);
}
END_TEST

/* A message whose content is over content_max bytes is a note. */
START_TEST(test_content_bound)
{
	struct agentrec_opts o = { 0 };
	struct agent_run_meta m;
	struct bres b;
	size_t n = 65536;
	char *big, want[160];

	o.backoff_cap_s = 0.05;
	o.content_max = n;
	new_rec(&o);
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	ck_assert_ptr_nonnull(big = malloc(n + 1));
	memset(big, 'y', n);
	big[n] = '\0';
	msg(RUN_A, 0, "tool", text_content(big), NULL);
	big[n - 100] = '\0';
	msg(RUN_A, 1, "tool", text_content(big), NULL);
	free(big);
	msg(RUN_A, 2, "tool", json_pack("{s:s#}", "text", "a\0b", (int)3),
	    NULL);
	msg(RUN_A, 3, "user", json_string("not an object"), NULL);
	wait_idle();
	snprintf(want, sizeof(want), "%zu bytes of content, more than the "
	    "recorder keeps (%zu)", n + 11, n);
	ck_q("SELECT content->>'omitted' FROM agent_messages WHERE seq = 0",
	    want);
	ck_q("SELECT length(content->>'text') FROM agent_messages WHERE seq = "
	    "1", "65436");
	ck_q("SELECT content->>'text' = E'a\\uFFFDb' FROM agent_messages WHERE "
	    "seq = 2", "t");
	ck_q("SELECT content->>'omitted' FROM agent_messages WHERE seq = 3",
	    "the content was not a JSON object");
}
END_TEST

static int drained;
static void on_drained(void *arg) { drained++; }
static int is_drained(void) { return drained > 0; }

/* Drain: at once when nothing waits; after the grace, saying what was
   left, when the database is away. */
START_TEST(test_drain)
{
	struct agent_run_meta m;
	struct bres b;
	char *log;

	new_rec(NULL);
	drained = 0;
	agentrec_drain(rec, 5000, on_drained, NULL);
	ck_assert_int_eq(drained, 0);	/* never inside the call */
	ck_assert(t_run_until(loop, is_drained, WAIT_MS));
	agentrec_free(rec);
	new_rec(NULL);
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	PQfinish(db);
	db = NULL;
	ck_assert_msg(pgt_server_stop(pg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(t_run_until(loop, db_down, WAIT_MS), "not noticed");
	msg(RUN_A, 0, "user", text_content("lost"), NULL);
	drained = 0;
	agentrec_drain(rec, 200, on_drained, NULL);
	ck_assert(t_run_until(loop, is_drained, WAIT_MS));
	log = log_text();
	ck_assert_ptr_nonnull(strstr(log, "agent recorder: 1 write(s) of 1 "
	    "run(s) not in the database"));
	free(log);
	meta_init(&m, RUN_B);
	ck_assert_int_eq(begin_wait(&m, &b), -1);
	ck_assert_str_eq(b.err, "the recorder is stopping");
	ck_assert_msg(pgt_server_start(pg, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

/* The metrics: runs by provider, model and status, tokens by kind, cost,
   turns; label values escaped. */
START_TEST(test_metrics)
{
	struct agent_run_meta m;
	struct agent_totals t;
	struct bres b;
	struct buf out;
	char *s;

	new_rec(NULL);
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	t = totals(10, 20, 30, 40, 1500000, 1, 0);
	ar->progress(ar->self, RUN_A, &t);
	t = totals(11, 22, 33, 44, 2500001, 3, 0);
	ar->finish(ar->self, RUN_A, "succeeded", NULL, NULL, &t);
	meta_init(&m, RUN_B);
	m.provider = "openai";
	m.model = "gpt \"x\"";
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	t = totals(1, 1, 0, 0, 0, 12, 0);
	ar->finish(ar->self, RUN_B, "failed", "budget", NULL, &t);
	meta_init(&m, RUN_C);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	wait_idle();
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(agentrec_metrics(rec, &out), 0);
	ck_assert_int_eq(buf_append(&out, "", 1), 0);
	s = buf_data(&out);
#define HAS(line) ck_assert_msg(strstr(s, line "\n") != NULL, "no %s in:\n%s", \
	    line, s)
	HAS("afu9_agent_runs_total{provider=\"anthropic\",model="
	    "\"claude-test-1\",status=\"succeeded\"} 1");
	HAS("afu9_agent_runs_total{provider=\"openai\",model=\"gpt \\\"x\\\"\","
	    "status=\"failed\"} 1");
	HAS("afu9_agent_runs_active{provider=\"anthropic\",model="
	    "\"claude-test-1\"} 1");
	HAS("afu9_agent_tokens_total{provider=\"anthropic\",model="
	    "\"claude-test-1\",kind=\"input\"} 11");
	HAS("afu9_agent_tokens_total{provider=\"anthropic\",model="
	    "\"claude-test-1\",kind=\"cache_write\"} 44");
	HAS("afu9_agent_cost_usd_total{provider=\"anthropic\",model="
	    "\"claude-test-1\"} 2.500001");
	HAS("afu9_agent_run_turns_bucket{provider=\"anthropic\",model="
	    "\"claude-test-1\",le=\"2\"} 0");
	HAS("afu9_agent_run_turns_bucket{provider=\"anthropic\",model="
	    "\"claude-test-1\",le=\"3\"} 1");
	HAS("afu9_agent_run_turns_bucket{provider=\"openai\",model="
	    "\"gpt \\\"x\\\"\",le=\"20\"} 1");
	HAS("afu9_agent_run_turns_sum{provider=\"openai\",model="
	    "\"gpt \\\"x\\\"\"} 12");
	HAS("afu9_agent_run_turns_count{provider=\"anthropic\",model="
	    "\"claude-test-1\"} 1");
	HAS("afu9_agent_record_pending_writes 0");
	HAS("afu9_agent_record_dropped_messages_total{reason=\"buffer_full\"} "
	    "0");
	HAS("afu9_agent_record_begin_failures_total 0");
#undef HAS
	ck_assert_ptr_nonnull(strstr(s, "# TYPE afu9_agent_run_turns "
	    "histogram\n"));
	buf_free(&out);
}
END_TEST

/* The JSON functions of the migration: one run with a page of its
   transcript, and the keyset listing. */
START_TEST(test_json)
{
	struct agent_run_meta m;
	struct bres b;
	unsigned i;

	new_rec(NULL);
	meta_init(&m, RUN_A);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	for (i = 0; i < 5; i++)
		msg(RUN_A, i, "user", text_content("m"), NULL);
	meta_init(&m, RUN_B);
	ck_assert_int_eq(begin_wait(&m, &b), 0);
	wait_idle();
	ck_q("SELECT afu9_agent_run_json('" RUN_A "', 0, 2)->>'next_seq'", "2");
	ck_q("SELECT jsonb_array_length(afu9_agent_run_json('" RUN_A "', 3, "
	    "10)->'messages')", "2");
	ck_q("SELECT afu9_agent_run_json('" RUN_A "', 3, 10)->>'next_seq' IS "
	    "NULL", "t");
	ck_q("SELECT afu9_agent_run_json('" RUN_A "', 0, 10)->>"
	    "'messages_total'", "5");
	ck_q("SELECT afu9_agent_run_json('" RUN_C "', 0, 10) IS NULL", "t");
	ck_q("SELECT jsonb_array_length(afu9_agent_runs_json(NULL, NULL, 10, "
	    "NULL, NULL))", "2");
	ck_q("SELECT jsonb_array_length(afu9_agent_runs_json('succeeded', "
	    "NULL, 10, NULL, NULL))", "0");
	ck_q("SELECT afu9_agent_runs_json(NULL, NULL, 1, NULL, NULL)->0->>'id'",
	    RUN_B);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("agentrec");
	TCase *tc = tcase_create("db");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_rows);
	tcase_add_test(tc, test_before_done);
	tcase_add_test(tc, test_redaction);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_db_down);
	tcase_add_test(tc, test_lost_in_flight);
	tcase_add_test(tc, test_buffer_full);
	tcase_add_test(tc, test_begin_late);
	tcase_add_test(tc, test_content_bound);
	tcase_add_test(tc, test_drain);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_json);
	suite_add_tcase(s, tc);
	return t_run(s);
}
