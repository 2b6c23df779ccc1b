#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "buf.h"
#include "log.h"
#include "store/migrate.h"
#include "pgtest.h"
#include "redact.h"
#include "store/store.h"
#include "testutil.h"

#define SECRET	"sekrit-0123456789"	/* a registered secret value */
#define TOKEN	"ghp_tokvalue0987654321" /* under a sensitive key only */
#define T0	1767225600.0		/* 2026-01-01T00:00:00Z */
#define WAIT_MS	(10000 * t_slow())

static struct pgtest	*pg;		/* one server for the whole suite */
static char		*ci;		/* this test's conninfo (own schema) */
static PGconn		*db;		/* a side connection for checks */
static struct ev_loop	*loop;
static struct store	*st;
static FILE		*logfp;		/* captured log lines */
static char		 err[1024];

/* State changes seen through the callback. */
static enum store_state	 seen[64];
static size_t		 nseen;

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

/* A fresh schema per test (search_path of database "t"), migrated
   unless bare. */
static void
schema_new(int bare)
{
	static int n;
	char name[64], sql[128], *base;
	int applied;

	snprintf(name, sizeof(name), "s%d_%d", (int)getpid(), n++);
	ck_assert_ptr_nonnull(base = pgt_conninfo(pg, "t"));
	ck_assert_msg(mig_connect(base, &db, err, sizeof(err)) == 0, "%s",
	    err);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", name);
	exec_ok(db, sql);
	ck_assert_int_ne(asprintf(&ci, "%s options='-csearch_path=%s'", base,
	    name), -1);
	free(base);
	side_connect();
	if (!bare)
		ck_assert_msg(mig_up(db, t_srcdir("migrations"), &applied, err,
		    sizeof(err)) == 0, "%s", err);
}

static void
setup(void)
{
	log_init("test_store");
	ck_assert_ptr_nonnull(logfp = tmpfile());
	log_set_fd(fileno(logfp));
	ck_assert_int_eq(redact_add_secret(SECRET), 0);
	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	nseen = 0;
	st = NULL;
	db = NULL;
	ci = NULL;
}

static void
teardown(void)
{
	store_free(st);
	st = NULL;
	ev_loop_destroy(loop);
	loop = NULL;
	PQfinish(db);
	db = NULL;
	free(ci);
	ci = NULL;
	log_set_fd(2);
	log_set_trace(0);
	fclose(logfp);
}

static void
on_state(struct store *s, enum store_state state, void *arg)
{
	if (nseen < sizeof(seen) / sizeof(seen[0]))
		seen[nseen++] = state;
}

static struct store_stats
stats(void)
{
	struct store_stats s;

	store_get_stats(st, &s);
	return s;
}

static int is_up(void) { return store_state(st) == STORE_UP; }
static int is_down(void) { return store_state(st) == STORE_DOWN; }
static int is_idle(void)
{
	struct store_stats s = stats();

	return store_state(st) == STORE_UP && s.queued == 0 &&
	    s.servers_pending == 0;
}

static struct store_opts
fast_opts(void)
{
	struct store_opts o = { 0 };

	o.backoff_base_s = 0.02;
	o.backoff_cap_s = 0.1;
	o.state_changed = on_state;
	o.reported_by = "task-1";
	return o;
}

static void
store_up(const struct store_opts *o)
{
	st = store_new(loop, ci, o, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	ck_assert_msg(t_run_until(loop, is_up, WAIT_MS), "store not up: %s",
	    store_last_error(st));
}

/* First value of a one-row query, malloc'd ("" for NULL). */
static char *
q1p(const char *sql, const char *p1)
{
	const char *params[1] = { p1 };
	PGresult *r = PQexecParams(db, sql, p1 ? 1 : 0, NULL, params, NULL,
	    NULL, 0);
	char *s;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	ck_assert_int_eq(PQntuples(r), 1);
	s = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return s;
}

#define ck_q(sql, p1, want) do {					\
	char *v_ = q1p(sql, p1);					\
	ck_assert_str_eq(v_, want);					\
	free(v_);							\
} while (0)

/* Row n of the standard test data: every 7th from 3 failed, every 5th
   a tool error; secrets in arguments, summary and error message. */
static int
audit_n(int n)
{
	json_t *args = json_pack("{s:s, s:i, s:s, s:s, s:s#}", "owner", "o",
	    "n", n, "githubToken", TOKEN, "q", "x " SECRET " y", "nul",
	    "a\0b", (size_t)3);
	json_t *id = n % 2 ? json_sprintf("r-%d", n) : json_integer(n);
	char summary[64];
	struct audit_row a = {
		.server = "github", .tool = "getIssue", .rpc_id = id,
		.caller = n % 2 ? AUDIT_CLI : AUDIT_GATEWAY,
		.arguments = args, .result_summary = summary,
		.is_error = n % 5 == 0, .failed = n % 7 == 3,
		.error_code = -32603, .error_message = "boom " SECRET,
		.started_at = T0 + n + 0.25, .duration_ms = n * 10,
	};
	int rc;

	snprintf(summary, sizeof(summary), "found %s #%d", SECRET, n);
	ck_assert_ptr_nonnull(args);
	rc = store_audit_call(st, &a);
	json_decref(args);
	json_decref(id);
	return rc;
}

/* n in 0..total-1 each present exactly once, nothing else. */
static void
ck_rows_exactly(int total)
{
	char want[32], sql[256];

	snprintf(want, sizeof(want), "%d", total);
	ck_q("SELECT count(*) FROM mcp_tool_calls", NULL, want);
	ck_q("SELECT count(DISTINCT arguments->>'n') FROM mcp_tool_calls",
	    NULL, want);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM mcp_tool_calls "
	    "WHERE (arguments->>'n')::int NOT BETWEEN 0 AND %d", total - 1);
	ck_q(sql, NULL, "0");
}

static int want_written;
static int all_written(void)
{
	return is_idle() && (int)stats().audit_written >= want_written;
}

START_TEST(test_audit_rows)
{
	struct store_opts o = fast_opts();
	struct store_stats s;
	char *log;
	int i;

	schema_new(0);
	store_up(&o);
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(audit_n(i), 0);
	ck_assert_uint_eq(stats().queued, 40);
	want_written = 40;
	ck_assert_msg(t_run_until(loop, all_written, WAIT_MS), "rows not written");
	s = stats();
	ck_assert_uint_eq(s.audit_written, 40);
	ck_assert_uint_eq(s.audit_duplicates, 0);
	ck_assert_uint_eq(s.audit_dropped, 0);
	ck_rows_exactly(40);

	/* One completed row, field by field. */
	ck_q("SELECT concat_ws('|', server, tool, rpc_id::text, caller, "
	    "status, result_summary, is_error, error_code, error_message, "
	    "duration_ms, extract(epoch FROM started_at)) FROM "
	    "mcp_tool_calls WHERE arguments->>'n' = '20'", NULL,
	    "github|getIssue|20|gateway|completed|found [REDACTED] #20|t|"
	    "200|1767225620.250000");
	ck_q("SELECT concat_ws('|', rpc_id::text, caller, is_error) FROM "
	    "mcp_tool_calls WHERE arguments->>'n' = '11'", NULL,
	    "\"r-11\"|cli|f");
	/* A failed one (no result: error code and message). */
	ck_q("SELECT concat_ws('|', status, is_error, error_code, "
	    "error_message, duration_ms) FROM mcp_tool_calls WHERE "
	    "arguments->>'n' = '3'", NULL,
	    "failed|f|-32603|boom [REDACTED]|30");
	ck_q("SELECT count(*) FROM mcp_tool_calls WHERE status = 'failed'",
	    NULL, "6");
	ck_q("SELECT count(*) FROM mcp_tool_calls WHERE is_error", NULL, "7");
	/* Redaction: by key, by registered value; NUL made storable. */
	ck_q("SELECT arguments::text FROM mcp_tool_calls WHERE "
	    "arguments->>'n' = '4'", NULL, "{\"n\": 4, \"q\": \"x [REDACTED] "
	    "y\", \"nul\": \"a\xef\xbf\xbd" "b\", \"owner\": \"o\", "
	    "\"githubToken\": \"[REDACTED]\"}");
	ck_q("SELECT count(*) FROM mcp_tool_calls t WHERE strpos(t::text, "
	    "$1) > 0", SECRET, "0");
	ck_q("SELECT count(*) FROM mcp_tool_calls t WHERE strpos(t::text, "
	    "$1) > 0", TOKEN, "0");
	ck_q("SELECT count(DISTINCT id) FROM mcp_tool_calls", NULL, "40");
	/* Version 7 ids (RFC 9562 variant) carrying started_at in ms, so
	   that id order is start order across milliseconds. */
	ck_q("SELECT count(*) FROM mcp_tool_calls WHERE substr(id::text, 15, "
	    "1) = '7' AND substr(id::text, 20, 1) IN ('8', '9', 'a', 'b') AND "
	    "('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, "
	    "'0'))::bit(64)::bigint = floor(extract(epoch FROM started_at) * "
	    "1000)", NULL, "40");
	ck_q("SELECT count(*) FROM (SELECT id, lag(id) OVER (ORDER BY "
	    "started_at) AS prev FROM mcp_tool_calls) t WHERE id < prev", NULL,
	    "0");
	log = t_file_text(logfp);
	ck_assert_ptr_null(strstr(log, SECRET));
	ck_assert_ptr_null(strstr(log, TOKEN));
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	ck_assert_ptr_nonnull(strstr(log, "connected to database"));
	free(log);
	/* Created connecting: the first change is to up. */
	ck_assert_int_eq(seen[0], STORE_UP);
	ck_assert_uint_eq(nseen, 1);
}
END_TEST

static int in_flight_10(void) { return stats().in_flight == 10; }

START_TEST(test_db_restart)
{
	struct store_opts o = fast_opts();
	struct store_stats s;
	json_t *status;
	char *log;
	int i;

	schema_new(0);
	store_up(&o);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(audit_n(i), 0);
	want_written = 10;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));

	/* Ten rows sent and held by a lock when the server goes. */
	exec_ok(db, "BEGIN");
	exec_ok(db, "LOCK TABLE mcp_tool_calls IN ACCESS EXCLUSIVE MODE");
	for (i = 10; i < 20; i++)
		ck_assert_int_eq(audit_n(i), 0);
	ck_assert_msg(t_run_until(loop, in_flight_10, WAIT_MS), "rows not sent");
	ck_assert_msg(pgt_server_stop(pg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(t_run_until(loop, is_down, WAIT_MS), "store did not notice");
	ck_assert_str_ne(store_last_error(st), "");
	ck_assert_ptr_null(strstr(store_last_error(st), pgt_password(pg)));
	ck_assert_ptr_nonnull(status = store_status(st));
	ck_assert_str_eq(json_string_value(json_object_get(status, "state")),
	    "down");
	ck_assert(json_is_string(json_object_get(status, "error")));
	json_decref(status);

	/* Calls go on being accepted while it is down. */
	for (i = 20; i < 35; i++)
		ck_assert_int_eq(audit_n(i), 0);
	s = stats();
	ck_assert_uint_eq(s.queued, 25);
	ck_assert_uint_eq(s.in_flight, 0);
	ck_assert_int_ne(store_state(st), STORE_UP);

	ck_assert_msg(pgt_server_start(pg, err, sizeof(err)) == 0, "%s", err);
	want_written = 35;
	ck_assert_msg(t_run_until(loop, all_written, WAIT_MS), "not written after "
	    "restart: %s", store_last_error(st));
	side_connect();
	ck_rows_exactly(35);
	s = stats();
	ck_assert_uint_eq(s.audit_written, 35);
	ck_assert_uint_eq(s.audit_duplicates, 0);
	ck_assert_uint_ge(s.reconnects, 1);
	ck_assert_str_eq(store_last_error(st), "");
	ck_assert_int_eq(seen[0], STORE_UP);
	ck_assert_int_eq(seen[1], STORE_DOWN);
	ck_assert_int_eq(seen[2], STORE_CONNECTING);
	ck_assert_int_eq(seen[nseen - 2], STORE_CONNECTING);
	ck_assert_int_eq(seen[nseen - 1], STORE_UP);
	log = t_file_text(logfp);
	ck_assert_int_eq(t_count_str(log, "database connection lost"), 1);
	ck_assert_int_eq(t_count_str(log, "database connection restored"), 1);
	ck_assert_ptr_null(strstr(log, SECRET));
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	free(log);
}
END_TEST

static int is_up_again(void)
{
	return is_up() && nseen >= 3;
}

/* The server ends an idle session: noticed, reconnected, still works. */
START_TEST(test_idle_drop)
{
	struct store_opts o = fast_opts();

	schema_new(0);
	store_up(&o);
	ck_q("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	    "WHERE application_name = 'afu9' AND datname = 't'", NULL, "1");
	ck_assert_msg(t_run_until(loop, is_up_again, WAIT_MS), "no reconnect: %s",
	    store_last_error(st));
	ck_assert_int_eq(seen[1], STORE_DOWN);
	ck_assert_uint_eq(stats().reconnects, 1);
	ck_assert_int_eq(audit_n(0), 0);
	want_written = 1;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_rows_exactly(1);
}
END_TEST

/* DATABASE_URL in URI form, as scripts/localdb.sh prints it. */
START_TEST(test_uri)
{
	struct store_opts o = fast_opts();
	const char *schema;
	char *uri;

	schema_new(0);
	ck_assert_ptr_nonnull(schema = strstr(ci, "search_path="));
	ck_assert_int_ne(asprintf(&uri, "postgresql://afu9:%s@/t?host=%s&"
	    "port=5432&options=-csearch_path%%3D%.*s", pgt_password(pg),
	    pgt_dir(pg), (int)strcspn(schema + 12, "'"), schema + 12), -1);
	free(ci);
	ci = uri;
	store_up(&o);
	ck_assert_int_eq(audit_n(0), 0);
	want_written = 1;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_rows_exactly(1);
}
END_TEST

static int in_flight_20(void) { return stats().in_flight == 20; }

/*
 * The server committed the rows but their acknowledgements were lost with
 * the connection: they are sent again and land exactly once.
 */
START_TEST(test_lost_ack_exactly_once)
{
	struct store_opts o = fast_opts();
	struct store_stats s;
	double deadline;
	char *n = NULL;
	int i;

	schema_new(0);
	store_up(&o);
	exec_ok(db, "BEGIN");
	exec_ok(db, "LOCK TABLE mcp_tool_calls IN ACCESS EXCLUSIVE MODE");
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(audit_n(i), 0);
	ck_assert(t_run_until(loop, in_flight_20, WAIT_MS));
	exec_ok(db, "COMMIT");
	/* The store's loop does not run: its acks stay unread. */
	deadline = t_now_ms() + WAIT_MS;
	do {
		free(n);
		n = q1p("SELECT count(*) FROM mcp_tool_calls", NULL);
	} while (strcmp(n, "20") != 0 && t_now_ms() < deadline);
	ck_assert_str_eq(n, "20");
	free(n);
	ck_assert_uint_eq(stats().in_flight, 20);
	store_reconnect(st);
	ck_assert_int_eq(store_state(st), STORE_DOWN);
	ck_assert_uint_eq(stats().queued, 20);
	want_written = 0;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	s = stats();
	ck_assert_uint_eq(s.audit_duplicates, 20);
	ck_assert_uint_eq(s.audit_written, 0);
	/* One statement: the resent batch says ON CONFLICT (without it,
	   it would fail and its rows go one by one). */
	ck_assert_uint_eq(s.audit_batches, 1);
	ck_rows_exactly(20);
}
END_TEST

static int drop_logged_twice(void)
{
	char *log = t_file_text(logfp);
	int n = t_count_str(log, "audit queue full");

	free(log);
	return n >= 2;
}

START_TEST(test_overflow)
{
	struct store_opts o = fast_opts();
	struct buf b;
	json_t *status;
	char *log, big[3001];
	struct audit_row a = { .server = "s", .tool = "t",
	    .result_summary = big, .started_at = T0, .duration_ms = 1 };
	int i;

	schema_new(0);
	o.queue_max = 10;
	o.drop_log_interval_ms = 100;
	store_up(&o);
	/* Nothing is sent before the loop runs: the queue fills. */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(audit_n(i), 0);
	for (i = 10; i < 15; i++)
		ck_assert_int_eq(audit_n(i), 1);
	ck_assert_uint_eq(stats().audit_dropped, 5);
	ck_assert_uint_eq(stats().queued, 10);
	log = t_file_text(logfp);
	ck_assert_int_eq(t_count_str(log, "audit queue full"), 1);
	ck_assert_ptr_nonnull(strstr(log, "dropped 1 new audit row(s), 1 in "
	    "total"));
	free(log);
	buf_init(&b, 1 << 16);
	ck_assert_int_eq(store_metrics(st, &b), 0);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	ck_assert_ptr_nonnull(strstr(buf_data(&b),
	    "\nafu9_audit_dropped_total 5\n"));
	ck_assert_ptr_nonnull(strstr(buf_data(&b), "\nafu9_store_up 1\n"));
	buf_free(&b);
	ck_assert_ptr_nonnull(status = store_status(st));
	ck_assert_int_eq(json_integer_value(json_object_get(status,
	    "dropped")), 5);
	json_decref(status);
	/* The rest of the interval's drops are reported when it ends. */
	ck_assert_msg(t_run_until(loop, drop_logged_twice, WAIT_MS), "no summary");
	log = t_file_text(logfp);
	ck_assert_ptr_nonnull(strstr(log, "dropped 4 new audit row(s), 5 in "
	    "total"));
	free(log);
	want_written = 10;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	/* The newest were dropped: the first ten are in. */
	ck_rows_exactly(10);

	/* The byte bound. */
	store_free(st);
	o.queue_max = 0;
	o.queue_max_bytes = 4096;
	store_up(&o);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(store_audit_call(st, &a), 0);
	ck_assert_int_eq(store_audit_call(st, &a), 1);
	ck_assert_uint_eq(stats().audit_dropped, 1);
}
END_TEST

START_TEST(test_rejected_row)
{
	struct store_opts o = fast_opts();
	struct audit_row bad = { .server = "", .tool = "t",
	    .started_at = T0 };
	json_t *args = json_pack("{s:s}", "k", SECRET);
	struct audit_row r = { .server = "github", .tool = "reject_me",
	    .arguments = args, .started_at = T0, .duration_ms = 1 };
	struct store_stats s;
	char *log;

	schema_new(0);
	exec_ok(db, "ALTER TABLE mcp_tool_calls ADD CONSTRAINT "
	    "t_reject_check CHECK (tool <> 'reject_me')");
	store_up(&o);
	ck_assert_int_eq(audit_n(0), 0);
	ck_assert_int_eq(store_audit_call(st, &r), 0);
	ck_assert_int_eq(audit_n(1), 0);
	errno = 0;
	ck_assert_int_eq(store_audit_call(st, &bad), -1);
	ck_assert_int_eq(errno, EINVAL);
	bad.server = "s";
	bad.tool = "\xff";
	ck_assert_int_eq(store_audit_call(st, &bad), -1);
	want_written = 2;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	s = stats();
	ck_assert_uint_eq(s.audit_written, 2);
	ck_assert_uint_eq(s.audit_rejected, 3);
	ck_assert_uint_eq(s.reconnects, 0);
	ck_rows_exactly(2);
	log = t_file_text(logfp);
	ck_assert_ptr_nonnull(strstr(log, "audit row for github.reject_me "
	    "rejected by the database"));
	ck_assert_ptr_nonnull(strstr(log, "t_reject_check"));
	ck_assert_ptr_null(strstr(log, SECRET));
	free(log);
	json_decref(args);
}
END_TEST

/* Transactions that wrote the rows matching cond (one per batch). */
static char *
txns(const char *cond)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT xmin::text) FROM "
	    "mcp_tool_calls WHERE %s", cond);
	return q1p(sql, NULL);
}

/*
 * Rows queued together go as one batch; a bad row in the middle fails
 * that batch, its rows are retried one by one, only the bad one is
 * dropped, and batching resumes after them.
 */
START_TEST(test_batch_bad_row)
{
	struct store_opts o = fast_opts();
	struct audit_row r = { .server = "github", .tool = "reject_me",
	    .started_at = T0, .duration_ms = 1 };
	struct store_stats s;
	char *log, *n;
	int i;

	schema_new(0);
	exec_ok(db, "ALTER TABLE mcp_tool_calls ADD CONSTRAINT "
	    "t_reject_check CHECK (tool <> 'reject_me')");
	store_up(&o);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(audit_n(i), 0);
	ck_assert_int_eq(store_audit_call(st, &r), 0);
	for (i = 5; i < 10; i++)
		ck_assert_int_eq(audit_n(i), 0);
	want_written = 10;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	s = stats();
	ck_assert_uint_eq(s.audit_written, 10);
	ck_assert_uint_eq(s.audit_rejected, 1);
	ck_assert_uint_eq(s.audit_dropped, 0);
	ck_assert_uint_eq(s.reconnects, 0);
	ck_rows_exactly(10);
	/* Isolated: each good row went in its own transaction. */
	ck_assert_str_eq(n = txns("true"), "10");
	free(n);
	log = t_file_text(logfp);
	ck_assert_int_eq(t_count_str(log, "rejected by the database"), 1);
	ck_assert_ptr_nonnull(strstr(log, "audit row for github.reject_me "
	    "rejected by the database"));
	free(log);

	/* The next rows queued together are one batch again. */
	for (i = 10; i < 40; i++)
		ck_assert_int_eq(audit_n(i), 0);
	want_written = 40;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_rows_exactly(40);
	ck_assert_str_eq(n = txns("(arguments->>'n')::int >= 10"), "1");
	free(n);
}
END_TEST

/* Rows for audit rows to point at, with fixed ids. */
#define WF_ID	"0190f3a0-0000-7000-8000-0000000000f1"
#define EXEC_ID	"0190f3a0-0000-7000-8000-0000000000e1"
#define STEP_ID	"0190f3a0-0000-7000-8000-0000000000a1"
#define RUN_ID	"0190f3a0-0000-7000-8000-0000000000c1"
#define NO_ID	"0190f3a0-0000-7000-8000-00000000dead"	/* no such row */

static void
targets_new(void)
{
	exec_ok(db, "INSERT INTO workflows (id, name, definition) VALUES ('"
	    WF_ID "', 'wf', '{}')");
	exec_ok(db, "INSERT INTO workflow_executions (id, workflow_id) "
	    "VALUES ('" EXEC_ID "', '" WF_ID "')");
	exec_ok(db, "INSERT INTO workflow_steps (id, execution_id, "
	    "step_index, step_name) VALUES ('" STEP_ID "', '" EXEC_ID "', 0, "
	    "'fetch')");
	exec_ok(db, "INSERT INTO agent_runs (id, execution_id, step_id, "
	    "provider, model) VALUES ('" RUN_ID "', '" EXEC_ID "', '" STEP_ID
	    "', 'anthropic', 'm')");
}

/* Queue a row for tool with these ids (NULL: none); store_audit_call()'s
   return. */
static int
audit_ids(const char *tool, enum audit_caller caller, const char *exec,
    const char *step, const char *run)
{
	struct audit_row a = { .server = "github", .tool = tool,
	    .caller = caller, .started_at = T0, .duration_ms = 1,
	    .execution_id = exec, .step_id = step, .agent_run_id = run };

	return store_audit_call(st, &a);
}

/* The caller and ids stored for tool ("-" for NULL). */
#define IDS_SQL	"SELECT caller || ' ' || coalesce(execution_id::text, '-') " \
	"|| ' ' || coalesce(step_id::text, '-') || ' ' || " \
	"coalesce(agent_run_id::text, '-') FROM mcp_tool_calls WHERE tool = $1"

START_TEST(test_uuid_ok)
{
	static const char *const good[] = {
		EXEC_ID, "00000000-0000-0000-0000-000000000000",
		"ABCDEF01-2345-6789-ABCD-EF0123456789",
		"aBcDeF01-2345-6789-abcd-EF0123456789",
	};
	static const char *const bad[] = {
		"", "0190f3a0-0000-7000-8000-0000000000e",	/* 35 */
		"0190f3a0-0000-7000-8000-0000000000e1a",	/* 37 */
		"0190f3a00000-7000-8000-0000000000e1a",		/* no '-' */
		"0190f3a-00000-7000-8000-0000000000e1",		/* moved */
		"0190f3a0-0000-7000-8000-0000000000g1",		/* not hex */
		"{0190f3a0-0000-7000-8000-0000000000e1}",	/* braces */
		"0190f3a0000070008000000000000000",		/* no '-' */
		"0190f3a0-0000-7000-8000-0000000000e1\n",
		" 0190f3a0-0000-7000-8000-0000000000e1",
	};
	char nul[] = EXEC_ID;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(store_uuid_ok(good[i]), "%s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!store_uuid_ok(bad[i]), "%s", bad[i]);
	ck_assert(!store_uuid_ok(NULL));
	nul[20] = '\0';
	ck_assert(!store_uuid_ok(nul));
}
END_TEST

/*
 * Rows land with the ids they were given, NULL ones as NULL, in one
 * batch; an id that is not a uuid is refused at once.
 */
START_TEST(test_audit_ids)
{
	struct store_opts o = fast_opts();
	struct store_stats s;
	char *n;

	schema_new(0);
	targets_new();
	store_up(&o);
	ck_assert_int_eq(audit_ids("step", AUDIT_WORKFLOW, EXEC_ID, STEP_ID,
	    NULL), 0);
	ck_assert_int_eq(audit_ids("run", AUDIT_AGENT, EXEC_ID, STEP_ID,
	    RUN_ID), 0);
	ck_assert_int_eq(audit_ids("alone", AUDIT_AGENT, NULL, NULL,
	    "0190F3A0-0000-7000-8000-0000000000C1"), 0);
	ck_assert_int_eq(audit_ids("none", AUDIT_GATEWAY, NULL, NULL, NULL),
	    0);
	errno = 0;
	ck_assert_int_eq(audit_ids("bad1", AUDIT_WORKFLOW, "1234", NULL,
	    NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(audit_ids("bad2", AUDIT_WORKFLOW, EXEC_ID,
	    EXEC_ID "0", NULL), -1);
	ck_assert_int_eq(audit_ids("bad3", AUDIT_AGENT, NULL, NULL, ""), -1);
	want_written = 4;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	s = stats();
	ck_assert_uint_eq(s.audit_written, 4);
	ck_assert_uint_eq(s.audit_rejected, 3);
	ck_assert_uint_eq(s.audit_batches, 1);
	ck_q(IDS_SQL, "step", "workflow " EXEC_ID " " STEP_ID " -");
	ck_q(IDS_SQL, "run", "agent " EXEC_ID " " STEP_ID " " RUN_ID);
	ck_q(IDS_SQL, "alone", "agent - - " RUN_ID);
	ck_q(IDS_SQL, "none", "gateway - - -");
	ck_q("SELECT count(*) FROM mcp_tool_calls WHERE tool LIKE 'bad%'",
	    NULL, "0");
	ck_assert_str_eq(n = txns("true"), "1");
	free(n);
}
END_TEST

/*
 * A row naming an execution or a step that does not exist is refused
 * by the foreign key (23503): its batch is taken apart, only that row is
 * lost (counted as rejected, logged with the constraint), and batching
 * resumes after it.  A row queued before its execution is deleted
 * meets the same end.
 */
START_TEST(test_audit_ids_fk)
{
	struct store_opts o = fast_opts();
	struct store_stats s;
	char *log, *n;
	int i;

	schema_new(0);
	targets_new();
	store_up(&o);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(audit_n(i), 0);
	ck_assert_int_eq(audit_ids("step", AUDIT_WORKFLOW, EXEC_ID, STEP_ID,
	    NULL), 0);
	ck_assert_int_eq(audit_ids("noexec", AUDIT_WORKFLOW, NO_ID, STEP_ID,
	    NULL), 0);
	ck_assert_int_eq(audit_n(3), 0);
	ck_assert_int_eq(audit_ids("nostep", AUDIT_WORKFLOW, EXEC_ID, NO_ID,
	    NULL), 0);
	for (i = 4; i < 6; i++)
		ck_assert_int_eq(audit_n(i), 0);
	want_written = 7;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	s = stats();
	ck_assert_uint_eq(s.audit_written, 7);
	ck_assert_uint_eq(s.audit_rejected, 2);
	ck_assert_uint_eq(s.audit_dropped, 0);
	ck_assert_uint_eq(s.reconnects, 0);
	/* The refused batch, then each of its nine rows alone. */
	ck_assert_uint_eq(s.audit_batches, 10);
	ck_q("SELECT count(*) FROM mcp_tool_calls", NULL, "7");
	ck_q(IDS_SQL, "step", "workflow " EXEC_ID " " STEP_ID " -");
	ck_q("SELECT count(*) FROM mcp_tool_calls WHERE tool IN ('noexec', "
	    "'nostep')", NULL, "0");
	ck_assert_str_eq(n = txns("true"), "7");
	free(n);
	log = t_file_text(logfp);
	ck_assert_int_eq(t_count_str(log, "rejected by the database"), 2);
	ck_assert_ptr_nonnull(strstr(log, "audit row for github.noexec "
	    "rejected by the database"));
	ck_assert_ptr_nonnull(strstr(log, "SQLSTATE 23503"));
	ck_assert_ptr_nonnull(strstr(log, "mcp_tool_calls_execution_id_fkey"));
	ck_assert_ptr_nonnull(strstr(log, "mcp_tool_calls_step_id_fkey"));
	free(log);

	/* Batching resumes after them. */
	ck_assert_int_eq(audit_ids("again", AUDIT_WORKFLOW, EXEC_ID, STEP_ID,
	    NULL), 0);
	for (i = 10; i < 12; i++)
		ck_assert_int_eq(audit_n(i), 0);
	want_written = 10;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_q(IDS_SQL, "again", "workflow " EXEC_ID " " STEP_ID " -");
	ck_assert_str_eq(n = txns("tool = 'again' OR "
	    "(arguments->>'n')::int >= 10"), "1");
	free(n);

	/* The execution is deleted while rows naming it wait (they are sent
	   from the loop): the one naming it is lost, the others land; rows
	   written before keep their place with the ids made NULL. */
	ck_assert_int_eq(audit_ids("gone", AUDIT_WORKFLOW, EXEC_ID, STEP_ID,
	    NULL), 0);
	ck_assert_int_eq(audit_ids("run", AUDIT_AGENT, NULL, NULL, RUN_ID), 0);
	ck_assert_int_eq(audit_n(12), 0);
	exec_ok(db, "DELETE FROM workflow_executions WHERE id = '" EXEC_ID
	    "'");
	want_written = 12;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	s = stats();
	ck_assert_uint_eq(s.audit_written, 12);
	ck_assert_uint_eq(s.audit_rejected, 3);
	ck_q("SELECT count(*) FROM mcp_tool_calls WHERE tool = 'gone'", NULL,
	    "0");
	ck_q(IDS_SQL, "run", "agent - - " RUN_ID);
	ck_q(IDS_SQL, "step", "workflow - - -");
	ck_q(IDS_SQL, "again", "workflow - - -");
}
END_TEST

static int in_flight_100(void) { return stats().in_flight == 100; }

/*
 * A burst of 5000 rows while the database is stalled (table locked):
 * all of them wait within the queue bound, none is lost, and they are
 * written in batches of at most 500 once it moves again.
 */
START_TEST(test_burst_slow_db)
{
	struct store_opts o = fast_opts();
	struct store_stats s;
	char *n;
	int i;

	schema_new(0);
	store_up(&o);
	exec_ok(db, "BEGIN");
	exec_ok(db, "LOCK TABLE mcp_tool_calls IN ACCESS EXCLUSIVE MODE");
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(audit_n(i), 0);
	ck_assert_msg(t_run_until(loop, in_flight_100, WAIT_MS), "batch not sent");
	for (i = 100; i < 5000; i++) {
		ck_assert_int_eq(audit_n(i), 0);
		if (i % 1000 == 0)
			ev_run(loop, EVRUN_NOWAIT);
	}
	s = stats();
	ck_assert_uint_eq(s.queued, 5000);
	ck_assert_uint_eq(s.in_flight, 100);
	ck_assert_uint_eq(s.audit_dropped, 0);
	exec_ok(db, "COMMIT");
	want_written = 5000;
	ck_assert_msg(t_run_until(loop, all_written, WAIT_MS), "not written: %s",
	    store_last_error(st));
	s = stats();
	ck_assert_uint_eq(s.audit_written, 5000);
	ck_assert_uint_eq(s.audit_dropped, 0);
	ck_rows_exactly(5000);
	/* 100, then 4900 in batches of 500. */
	ck_assert_str_eq(n = txns("true"), "11");
	free(n);
}
END_TEST

/*
 * Audit row i twice on a: as tool "tI" with the arguments and id as
 * trees, as "xI" with them as text (any of the four may be NULL).
 */
static void
audit_pair(struct audit_row *a, size_t i, const json_t *args,
    const char *args_text, const json_t *id, const char *id_text)
{
	char tool[16];

	snprintf(tool, sizeof(tool), "t%zu", i);
	a->tool = tool;
	a->arguments = args;
	a->arguments_text = NULL;
	a->rpc_id = id;
	a->rpc_id_text = NULL;
	ck_assert_int_eq(store_audit_call(st, a), 0);
	snprintf(tool, sizeof(tool), "x%zu", i);
	a->arguments = NULL;
	a->arguments_text = args_text;
	a->arguments_len = args_text ? strlen(args_text) : 0;
	a->rpc_id = NULL;
	a->rpc_id_text = id_text;
	ck_assert_int_eq(store_audit_call(st, a), 0);
	a->tool = NULL;		/* it pointed here */
	a->arguments_text = NULL;
	a->rpc_id_text = NULL;
}

/* The arguments stored for tool equal the JSON text want. */
static void
ck_args(const char *tool, const char *want)
{
	const char *params[2] = { tool, want };
	PGresult *r = PQexecParams(db, "SELECT arguments = $2::jsonb, "
	    "arguments::text FROM mcp_tool_calls WHERE tool = $1", 2, NULL,
	    params, NULL, NULL, 0);

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s",
	    PQresultErrorMessage(r));
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert_msg(strcmp(PQgetvalue(r, 0, 0), "t") == 0, "%s: stored %s, "
	    "want %s", tool, PQgetvalue(r, 0, 1), want);
	PQclear(r);
}

/*
 * Arguments are stored exactly as redact_json() leaves them, whichever
 * way the store gets there, from a tree (tool tN) or from the text (xN):
 * plain trees, secrets and token shapes in strings and keys, names
 * redacted by key, escapes, deep nesting.  The first NFAST texts take
 * the fast path (no parse); the others need the tree.
 */
#define NFAST	7
START_TEST(test_args_redaction)
{
	static const char *const cases[] = {
		/* the fast path takes these */
		"{\"text\":\"hi\"}",
		"{\"text\":\"hi\",\"n\":-12,\"r\":1.5,\"t\":true,\"f\":false,"
		    "\"z\":null,\"a\":[1,\"x\",[],{}],\"o\":{\"deep\":{\"er\":"
		    "\"\xc3\xa9 \xf0\x9f\x98\x80\"}}}",
		" {\n\t\"a\" : [ 1 , 2.50 , 1E3 , -0 ] ,\r\n \"b\" :{ } , "
		    "\"c\":\"  spaced : out , \"}\t",
		"{\"v\":\"password\",\"w\":\"token: x\",\"dup\":1,\"dup\":2}",
		"{\"k\":\"" TOKEN "\",\"owner\":\"o\"}",
		"[1,2]",
		"{}",
		/* and these need the tree */
		"{\"q\":\"x " SECRET " y\"}",
		"{\"list\":[\"Bearer abcdefghijklmnopqrstuvwxyz0123\"]}",
		"{\"x-" SECRET "\":1}",
		"{\"max_tokens\":5,\"inner\":{\"password\":[1,2]}}",
		"{\"quote\":\"a\\\"b\\\\c\\nd\",\"u\":\"\\u00e9\"}",
		"{\"ctl\":\"" SECRET "\\t\"}",
		"{\"\\u0074oken\":\"escaped key\"}",
		"{\"q\":\"sekrit\\u002d0123456789\"}",
		"{\"a\":{\"b\":{\"Authorization\":\"x\"}}}",
		"{\"k\":\"ghp_abcdefghijklmnopqrstuvwxyz0123456789\"}",
		NULL,	/* a key of 300 bytes */
		NULL,	/* 40 levels of objects */
	};
	struct store_opts o = fast_opts();
	struct audit_row a = { .server = "s", .started_at = T0,
	    .duration_ms = 1 };
	json_t *args[24], *red;
	char tool[16], *want, *text[24], longkey[301];
	size_t i, k, ncase = sizeof(cases) / sizeof(cases[0]);

	memset(longkey, 'k', 300);
	longkey[300] = '\0';
	schema_new(0);
	store_up(&o);
	for (i = 0; i < ncase; i++) {
		if (cases[i] != NULL)
			ck_assert_ptr_nonnull(text[i] = strdup(cases[i]));
		else if (i == ncase - 2)
			ck_assert_int_ne(asprintf(&text[i], "{\"%s\":1}",
			    longkey), -1);
		else {
			ck_assert_ptr_nonnull(text[i] = calloc(1, 256));
			for (k = 0; k < 40; k++)
				strcat(text[i], "{\"d\":");
			strcat(text[i], "\"leaf\"");
			for (k = 0; k < 40; k++)
				strcat(text[i], "}");
		}
		ck_assert_ptr_nonnull(args[i] = json_loads(text[i],
		    JSON_DECODE_ANY, NULL));
		audit_pair(&a, i, args[i], text[i], NULL, NULL);
		ck_assert_uint_eq(stats().args_parsed, i < NFAST ? 0 :
		    i - NFAST + 1);
	}
	/* 40 levels: deeper than the store walks itself. */
	ck_assert_ptr_nonnull(args[ncase] = json_pack("{s:s}", "leaf",
	    "v " SECRET));
	for (k = 0; k < 40; k++)
		ck_assert_ptr_nonnull(args[ncase] = json_pack("{s:o}", "d",
		    args[ncase]));
	a.tool = "deep";
	a.arguments = args[ncase];
	ck_assert_int_eq(store_audit_call(st, &a), 0);
	want_written = 2 * (int)ncase + 1;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	for (i = 0; i <= ncase; i++) {
		ck_assert_ptr_nonnull(red = redact_json(args[i]));
		ck_assert_ptr_nonnull(want = json_dumps(red, JSON_COMPACT |
		    JSON_ENCODE_ANY));
		snprintf(tool, sizeof(tool), "t%zu", i);
		ck_args(i < ncase ? tool : "deep", want);
		snprintf(tool, sizeof(tool), "x%zu", i);
		if (i < ncase)
			ck_args(tool, want);
		free(want);
		json_decref(red);
	}
	/* The fast path keeps the client's spelling of numbers. */
	ck_q("SELECT arguments->>'a' FROM mcp_tool_calls WHERE tool = 'x2'",
	    NULL, "[1, 2.50, 1000, 0]");
	ck_q("SELECT count(*) FROM mcp_tool_calls t WHERE strpos(t::text, "
	    "$1) > 0", SECRET, "0");
	ck_q("SELECT count(*) FROM mcp_tool_calls t WHERE strpos(t::text, "
	    "$1) > 0", "escaped key", "0");
	for (i = 0; i <= ncase; i++)
		json_decref(args[i]);
	for (i = 0; i < ncase; i++)
		free(text[i]);
}
END_TEST

/*
 * An id given as text (as the gateway has it) is stored as the tree of
 * that text would be: integers and plain strings as they are, anything
 * else (escapes, a real, a huge integer) parsed.
 */
START_TEST(test_rpc_id_text)
{
	static const char *const ids[] = {
		"42", "-7", "0", "9223372036854775807", "\"r-1\"", "\"\"",
		"\"caf\xc3\xa9\"", "\"a\\\"b\\u00e9\"", "1.5",
	};
	struct store_opts o = fast_opts();
	struct audit_row a = { .server = "s", .started_at = T0,
	    .duration_ms = 1 };
	char sql[256];
	json_t *id;
	size_t i, n = sizeof(ids) / sizeof(ids[0]);

	schema_new(0);
	store_up(&o);
	for (i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(id = json_loads(ids[i], JSON_DECODE_ANY,
		    NULL));
		audit_pair(&a, i, NULL, NULL, id, ids[i]);
		json_decref(id);
	}
	want_written = 2 * (int)n;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	for (i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM mcp_tool_calls "
		    "t JOIN mcp_tool_calls x ON x.tool = 'x%zu' WHERE t.tool = "
		    "'t%zu' AND x.rpc_id = t.rpc_id AND t.rpc_id = $1::jsonb",
		    i, i);
		ck_q(sql, ids[i], "1");
	}
}
END_TEST

/* AFU9_AUDIT_SYNC_COMMIT=off: the session is set up and writes rows;
   anything but on/off is refused at once. */
START_TEST(test_sync_commit)
{
	struct store_opts o = fast_opts();
	struct config_env e;

	schema_new(0);
	ck_assert_int_eq(setenv("AFU9_AUDIT_SYNC_COMMIT", "maybe", 1), 0);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "AFU9_AUDIT_SYNC_COMMIT must be on or off");
	ck_assert_int_eq(setenv("AFU9_AUDIT_SYNC_COMMIT", "off", 1), 0);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	o.env = &e;
	store_up(&o);
	ck_assert_int_eq(unsetenv("AFU9_AUDIT_SYNC_COMMIT"), 0);
	ck_assert_int_eq(audit_n(0), 0);
	ck_assert_int_eq(audit_n(1), 0);
	want_written = 2;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_rows_exactly(2);
	ck_assert_uint_eq(stats().reconnects, 0);
}
END_TEST

static int is_down_twice(void)
{
	size_t i, n = 0;

	for (i = 0; i < nseen; i++)
		n += seen[i] == STORE_DOWN;
	return n >= 2;
}

START_TEST(test_states)
{
	struct store_opts o = fast_opts();
	char *bad, *log;
	json_t *status;
	int applied;

	/* No tables yet: preparing fails, the store retries. */
	schema_new(1);
	st = store_new(loop, ci, &o, err, sizeof(err));
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_state(st), STORE_CONNECTING);
	ck_assert_int_eq(audit_n(0), 0);
	ck_assert_msg(t_run_until(loop, is_down_twice, WAIT_MS), "no retry");
	ck_assert_ptr_nonnull(strstr(store_last_error(st),
	    "preparing statements: relation \"mcp_tool_calls\" does not "
	    "exist"));
	/* Migrated meanwhile: the next attempt succeeds; the row waited. */
	ck_assert_msg(mig_up(db, t_srcdir("migrations"), &applied, err,
	    sizeof(err)) == 0, "%s", err);
	want_written = 1;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_rows_exactly(1);
	ck_assert_int_eq(seen[nseen - 1], STORE_UP);
	ck_assert_ptr_nonnull(status = store_status(st));
	ck_assert_str_eq(json_string_value(json_object_get(status, "state")),
	    "up");
	ck_assert(json_is_null(json_object_get(status, "error")));
	json_decref(status);
	store_free(st);
	st = NULL;

	/* A wrong password: down, and the password is not in the error. */
	ck_assert_int_ne(asprintf(&bad, "host=%s port=5432 user=afu9 "
	    "password=wrongpass-4242 dbname=t", pgt_dir(pg)), -1);
	st = store_new(loop, bad, &o, err, sizeof(err));
	ck_assert_ptr_nonnull(st);
	ck_assert(t_run_until(loop, is_down, WAIT_MS));
	ck_assert_ptr_nonnull(strstr(store_last_error(st),
	    "password authentication failed"));
	ck_assert_ptr_null(strstr(store_last_error(st), "wrongpass-4242"));
	store_free(st);
	st = NULL;
	free(bad);

	/* Nobody listening. */
	st = store_new(loop, "host=/nonexistent-afu9 dbname=x", &o, err,
	    sizeof(err));
	ck_assert_ptr_nonnull(st);
	ck_assert(t_run_until(loop, is_down, WAIT_MS));
	ck_assert_ptr_nonnull(strstr(store_last_error(st), "/nonexistent"));
	log = t_file_text(logfp);
	ck_assert_ptr_null(strstr(log, "wrongpass-4242"));
	ck_assert_ptr_nonnull(strstr(log, "password=" REDACTED));
	free(log);

	/* Unparsable: refused at once, password not echoed. */
	ck_assert_ptr_null(store_new(loop, "host=x password=pw-77777 bogus",
	    &o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot be parsed"));
	ck_assert_ptr_null(strstr(err, "pw-77777"));
}
END_TEST

START_TEST(test_server_state)
{
	struct store_opts o = fast_opts();
	json_t *args = json_pack("[ss]", "--stdio", "-v");
	struct server_row r = { .name = "github", .command = "/bin/afu9-github",
	    .args = args, .state = "starting" };

	schema_new(0);
	store_up(&o);
	/* Three reports before the loop runs: only the last is written. */
	ck_assert_int_eq(store_server_state(st, &r), 0);
	r.state = "running";
	r.pid = 1234;
	ck_assert_int_eq(store_server_state(st, &r), 0);
	r.health = "healthy";
	r.tool_count = 11;
	r.protocol_version = "2025-11-25";
	ck_assert_int_eq(store_server_state(st, &r), 0);
	ck_assert_uint_eq(stats().servers_pending, 1);
	ck_assert(t_run_until(loop, is_idle, WAIT_MS));
	ck_assert_uint_eq(stats().servers_written, 1);
	ck_q("SELECT concat_ws('|', name, command, args::text, state, health, "
	    "pid, restarts, tool_count, protocol_version, reported_by, "
	    "last_exit_cause IS NULL) FROM mcp_servers", NULL,
	    "github|/bin/afu9-github|[\"--stdio\", \"-v\"]|running|healthy|"
	    "1234|0|11|2025-11-25|task-1|t");

	r.state = "backoff";
	r.pid = 0;
	r.restarts = 1;
	r.health = NULL;
	r.last_exit = "exited with status 3: " SECRET;
	ck_assert_int_eq(store_server_state(st, &r), 0);
	ck_assert(t_run_until(loop, is_idle, WAIT_MS));
	ck_q("SELECT concat_ws('|', count(*), min(state), min(health), "
	    "min(pid), min(restarts), min(last_exit_cause)) FROM mcp_servers",
	    NULL, "1|backoff|unknown|1|exited with status 3: [REDACTED]");

	r.name = "a.b";
	errno = 0;
	ck_assert_int_eq(store_server_state(st, &r), -1);
	ck_assert_int_eq(errno, EINVAL);
	r.name = "github";
	r.state = "bogus";
	ck_assert_int_eq(store_server_state(st, &r), -1);
	r.state = "running";
	r.health = "sick";
	ck_assert_int_eq(store_server_state(st, &r), -1);
	json_decref(args);
}
END_TEST

static int shut_done;
static void on_done(void *arg) { shut_done++; }
static int is_shut(void) { return shut_done > 0; }
static int never(void) { return 0; }

/*
 * AFU9_AUDIT_LINGER_MS: a row after a quiet spell goes at once; rows that
 * follow closely wait for the linger (10 s here) unless 128 of them
 * wait, or the store shuts down.  Each batch is one transaction.  Bad
 * values are refused.
 */
START_TEST(test_linger)
{
	static const char *const bad[] = { "x", "10001", "-1", "1.5", "5ms",
	    " 5" };
	struct store_opts o = fast_opts();
	struct config_env e;
	struct store_stats s;
	double t0;
	char *n, ms[16];
	size_t i;
	int k;

	schema_new(0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(setenv("AFU9_AUDIT_LINGER_MS", bad[i], 1), 0);
		ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "AFU9_AUDIT_LINGER_MS must be a number "
		    "of milliseconds from 0 to 10000");
	}
	ck_assert_int_eq(setenv("AFU9_AUDIT_LINGER_MS", "10000", 1), 0);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.audit_linger_ms, 10000);
	o.env = &e;
	store_up(&o);
	ck_assert_int_eq(unsetenv("AFU9_AUDIT_LINGER_MS"), 0);
	t0 = t_now_ms();
	ck_assert_int_eq(audit_n(0), 0);
	want_written = 1;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	/* Close behind it: these wait. */
	for (k = 1; k < 10; k++)
		ck_assert_int_eq(audit_n(k), 0);
	t_run_until(loop, never, 200);
	s = stats();
	ck_assert_uint_eq(s.audit_written, 1);
	ck_assert_uint_eq(s.queued, 9);
	ck_assert_uint_eq(s.in_flight, 0);
	/* 128 waiting: no more lingering. */
	for (k = 10; k < 200; k++)
		ck_assert_int_eq(audit_n(k), 0);
	want_written = 200;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_assert_msg(t_now_ms() - t0 < 5000, "the rows waited for the "
	    "linger");
	/* Shutdown sends what lingers at once. */
	ck_assert_int_eq(audit_n(200), 0);
	t_run_until(loop, never, 50);
	ck_assert_uint_eq(stats().queued, 1);
	shut_done = 0;
	store_shutdown(st, 10000, on_done, NULL);
	ck_assert(t_run_until(loop, is_shut, WAIT_MS));
	ck_assert_msg(t_now_ms() - t0 < 5000, "shutdown waited for the "
	    "linger");
	ck_rows_exactly(201);
	ck_assert_str_eq(n = txns("true"), "3");
	free(n);
	ck_assert_uint_eq(stats().audit_batches, 3);
	store_free(st);

	/* The linger's end sends what waits (300 ms: row 202 comes well
	   within it). */
	snprintf(ms, sizeof(ms), "%d", 300 * t_slow());
	ck_assert_int_eq(setenv("AFU9_AUDIT_LINGER_MS", ms, 1), 0);
	ck_assert_int_eq(config_env_read(&e, err, sizeof(err)), 0);
	store_up(&o);
	ck_assert_int_eq(unsetenv("AFU9_AUDIT_LINGER_MS"), 0);
	ck_assert_int_eq(audit_n(201), 0);
	want_written = 1;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_assert_int_eq(audit_n(202), 0);
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_uint_eq(stats().in_flight, 0);	/* it lingers */
	want_written = 2;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	ck_assert_uint_eq(stats().audit_batches, 2);
	ck_rows_exactly(203);
}
END_TEST

/*
 * Arguments past STORE_ARGS_MAX, as a tree or as text, by one byte and
 * by far: the same marker with the size of their compact text; one byte
 * short: stored whole.
 */
START_TEST(test_args_too_big)
{
	static const size_t sizes[] = { STORE_ARGS_MAX - 1, STORE_ARGS_MAX,
	    STORE_ARGS_MAX + 1, 4 * STORE_ARGS_MAX };
	struct store_opts o = fast_opts();
	struct audit_row a = { .server = "s", .started_at = T0,
	    .duration_ms = 1 };
	char tool[16], want[64], *text;
	json_t *args;
	size_t i, k;

	schema_new(0);
	store_up(&o);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* {"big":"xxx..."}: sizes[i] bytes in all */
		ck_assert_ptr_nonnull(text = malloc(sizes[i] + 1));
		k = (size_t)sprintf(text, "{\"big\":\"");
		memset(text + k, 'x', sizes[i] - k - 2);
		memcpy(text + sizes[i] - 2, "\"}", 3);
		ck_assert_ptr_nonnull(args = json_loads(text, 0, NULL));
		audit_pair(&a, i, args, text, NULL, NULL);
		json_decref(args);
		free(text);
	}
	want_written = 8;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(tool, sizeof(tool), "t%zu", i);
		if (sizes[i] <= STORE_ARGS_MAX)
			snprintf(want, sizeof(want), "%zu", sizes[i] - 10);
		else
			snprintf(want, sizeof(want), "{\"bytes\": %zu, "
			    "\"truncated\": true}", sizes[i]);
		ck_q(sizes[i] <= STORE_ARGS_MAX ? "SELECT length(arguments->>"
		    "'big') FROM mcp_tool_calls WHERE tool = $1" :
		    "SELECT arguments::text FROM mcp_tool_calls WHERE tool = $1",
		    tool, want);
		tool[0] = 'x';
		ck_q(sizes[i] <= STORE_ARGS_MAX ? "SELECT length(arguments->>"
		    "'big') FROM mcp_tool_calls WHERE tool = $1" :
		    "SELECT arguments::text FROM mcp_tool_calls WHERE tool = $1",
		    tool, want);
	}
}
END_TEST

START_TEST(test_disabled)
{
	struct audit_row a = { .server = "s", .tool = "t", .started_at = T0 };
	struct server_row r = { .name = "s", .command = "c",
	    .state = "running" };
	struct store_stats s;
	json_t *status;
	struct buf b;

	st = store_new(loop, getenv("AFU9_NO_SUCH_VAR"), NULL, err,
	    sizeof(err));
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_state(st), STORE_DISABLED);
	ck_assert_str_eq(store_state_name(store_state(st)), "disabled");
	ck_assert_int_eq(store_audit_call(st, &a), 0);
	ck_assert_int_eq(store_server_state(st, &r), 0);
	store_reconnect(st);
	/* No watcher of any kind. */
	ck_assert_int_eq(ev_run(loop, EVRUN_NOWAIT), 0);
	s = stats();
	ck_assert_uint_eq(s.queued + s.audit_dropped + s.audit_rejected +
	    s.servers_pending, 0);
	ck_assert_ptr_nonnull(status = store_status(st));
	ck_assert_str_eq(json_string_value(json_object_get(status, "state")),
	    "disabled");
	json_decref(status);
	buf_init(&b, 1 << 16);
	ck_assert_int_eq(store_metrics(st, &b), 0);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	ck_assert_ptr_nonnull(strstr(buf_data(&b), "\nafu9_store_up 0\n"));
	buf_free(&b);
	shut_done = 0;
	store_shutdown(st, 5000, on_done, NULL);
	ck_assert_int_eq(shut_done, 0);
	ck_assert(t_run_until(loop, is_shut, WAIT_MS));
	ck_assert_str_eq(store_state_name(STORE_CONNECTING), "connecting");
}
END_TEST

START_TEST(test_shutdown)
{
	struct store_opts o = fast_opts();
	char *log;
	int i;

	schema_new(0);
	store_up(&o);
	for (i = 0; i < 25; i++)
		ck_assert_int_eq(audit_n(i), 0);
	shut_done = 0;
	store_shutdown(st, 10000, on_done, NULL);
	ck_assert_int_eq(shut_done, 0);
	ck_assert(t_run_until(loop, is_shut, WAIT_MS));
	ck_rows_exactly(25);
	store_free(st);

	/* Unreachable: done after the grace period, the loss logged. */
	st = store_new(loop, "host=/nonexistent-afu9 dbname=x", &o, err,
	    sizeof(err));
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(audit_n(0), 0);
	shut_done = 0;
	store_shutdown(st, 100, on_done, NULL);
	ck_assert(t_run_until(loop, is_shut, WAIT_MS));
	log = t_file_text(logfp);
	ck_assert_ptr_nonnull(strstr(log, "shutting down: 1 audit rows and 0 "
	    "server states not written"));
	free(log);
}
END_TEST

/* One row with explicit server, time and tool. */
static void
audit_at(const char *server, double t)
{
	json_t *args = json_pack("{s:s}", "apiKey", TOKEN);
	json_t *id = json_string("q1");
	struct audit_row a = { .server = server, .tool = "getIssue",
	    .rpc_id = id, .arguments = args, .result_summary = "ok",
	    .started_at = t, .duration_ms = 41, .caller = AUDIT_WORKFLOW };

	ck_assert_int_eq(store_audit_call(st, &a), 0);
	json_decref(args);
	json_decref(id);
}

static int
query_n(const char *server, const char *since, unsigned limit)
{
	struct audit_query q = { server, since, limit, NULL };
	json_t *rows;
	int n;

	ck_assert_msg(store_audit_query(ci, &q, &rows, err, sizeof(err)) == 0,
	    "%s", err);
	n = (int)json_array_size(rows);
	json_decref(rows);
	return n;
}

START_TEST(test_query)
{
	struct store_opts o = fast_opts();
	struct audit_query q = { .server = "a" };
	json_t *rows, *r;
	char *out = NULL;
	size_t outlen;
	FILE *fp;

	schema_new(0);
	store_up(&o);
	audit_at("a", 1735689600.0);	/* 2025-01-01 */
	audit_at("b", 1738368000.0);	/* 2025-02-01 */
	audit_at("a", 1740787200.5);	/* 2025-03-01 */
	audit_at("a", ev_now(loop));
	want_written = 4;
	ck_assert(t_run_until(loop, all_written, WAIT_MS));

	ck_assert_int_eq(query_n(NULL, NULL, 0), 4);
	ck_assert_int_eq(query_n("a", NULL, 0), 3);
	ck_assert_int_eq(query_n("b", NULL, 0), 1);
	ck_assert_int_eq(query_n("c", NULL, 0), 0);
	ck_assert_int_eq(query_n(NULL, "2025-02-15", 0), 2);
	ck_assert_int_eq(query_n("b", "2025-01-15T00:00:00Z", 0), 1);
	ck_assert_int_eq(query_n(NULL, "1h", 0), 1);
	ck_assert_int_eq(query_n(NULL, "400000d", 0), 4);
	ck_assert_int_eq(query_n(NULL, NULL, 2), 2);

	/* Newest first, every field. */
	ck_assert_int_eq(store_audit_query(ci, &q, &rows, err, sizeof(err)),
	    0);
	r = json_array_get(rows, 1);
	ck_assert_str_eq(json_string_value(json_object_get(r, "started_at")),
	    "2025-03-01T00:00:00.500Z");
	ck_assert_str_eq(json_string_value(json_object_get(r, "rpc_id")),
	    "q1");
	ck_assert_str_eq(json_string_value(json_object_get(r, "caller")),
	    "workflow");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r,
	    "arguments"), "apiKey")), REDACTED);
	ck_assert_str_eq(json_string_value(json_object_get(r, "status")),
	    "completed");
	ck_assert_int_eq(json_integer_value(json_object_get(r,
	    "duration_ms")), 41);
	ck_assert(json_is_null(json_object_get(r, "error_code")));
	ck_assert_int_eq(strlen(json_string_value(json_object_get(r, "id"))),
	    36);
	ck_assert_ptr_nonnull(fp = open_memstream(&out, &outlen));
	ck_assert_int_eq(store_audit_print(fp, rows), 0);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(out, "2025-03-01T00:00:00.500Z  "
	    "a.getIssue  completed  41 ms  workflow\n"));
	free(out);
	json_decref(rows);

	q.since = "the day before";
	ck_assert_int_eq(store_audit_query(ci, &q, &rows, err, sizeof(err)),
	    -1);
	ck_assert_ptr_null(rows);
	ck_assert_ptr_nonnull(strstr(err, "invalid input syntax"));
}
END_TEST

START_TEST(test_result_summary)
{
	json_t *res = json_pack("{s:[{s:s, s:s}, {s:s, s:s}, {s:s}], s:b}",
	    "content", "type", "text", "text", "one", "type", "text", "text",
	    "two", "type", "image", "isError", 0);
	json_t *big;
	char *s, *long_text;
	size_t i, n;

	ck_assert_ptr_nonnull(s = store_result_summary(res));
	ck_assert_str_eq(s, "one\ntwo");
	free(s);
	json_decref(res);
	res = json_pack("{s:[], s:{s:i}}", "content", "structuredContent",
	    "n", 1);
	ck_assert_ptr_nonnull(s = store_result_summary(res));
	ck_assert_str_eq(s, "{\"content\":[],\"structuredContent\":{\"n\":1}}");
	free(s);
	json_decref(res);
	ck_assert_ptr_null(store_result_summary(NULL));

	/* Cut at a character boundary: 5000 two-byte characters. */
	n = 5000;
	ck_assert_ptr_nonnull(long_text = malloc(2 * n + 1));
	for (i = 0; i < n; i++)
		memcpy(long_text + 2 * i, "\xc3\xa9", 2);
	long_text[2 * n] = '\0';
	big = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text",
	    "text", long_text);
	ck_assert_ptr_nonnull(s = store_result_summary(big));
	ck_assert_uint_eq(strlen(s), STORE_SUMMARY_MAX);
	ck_assert_int_eq(memcmp(s + STORE_SUMMARY_MAX - 2, "\xc3\xa9", 2), 0);
	free(s);
	json_decref(big);
	free(long_text);
}
END_TEST

/* store_result_summary_text(t) must be store_result_summary(parse(t)). */
static void
summary_same(const char *text)
{
	json_t *tree = json_loads(text, JSON_DECODE_ANY, NULL);
	char *want = store_result_summary(tree);
	char *got = store_result_summary_text(text, strlen(text));

	if (want == NULL)
		ck_assert_msg(got == NULL, "%s: got %s, want NULL", text, got);
	else {
		ck_assert_msg(got != NULL, "%s: got NULL", text);
		ck_assert_msg(strcmp(got, want) == 0, "%.200s: got [%.200s] "
		    "want [%.200s]", text, got, want);
	}
	free(got);
	free(want);
	json_decref(tree);
}

/* A result with one text item: prefix, n copies of unit, suffix. */
static char *
long_result(const char *prefix, const char *unit, size_t n,
    const char *suffix)
{
	size_t ul = strlen(unit), pl = strlen(prefix), sl = strlen(suffix), i;
	char *t = malloc(pl + ul * n + sl + 1);

	ck_assert_ptr_nonnull(t);
	memcpy(t, prefix, pl);
	for (i = 0; i < n; i++)
		memcpy(t + pl + i * ul, unit, ul);
	memcpy(t + pl + n * ul, suffix, sl + 1);
	return t;
}

START_TEST(test_result_summary_text)
{
	static const char *const cases[] = {
		"{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}",
		" { \"content\" : [ { \"text\" : \"a b\" , \"type\" : \"text\" }"
		    " , {\"type\":\"text\",\"text\":\"c\"} ] , \"isError\":true }",
		"{\"content\":[{\"text\":\"\"},{\"text\":\"x\"},{\"text\":\"\"}]}",
		"{\"content\":[{\"text\":\"\"}]}",
		"{\"content\":[]}",
		"{\"content\":[], \"structuredContent\":{\"n\":1}}",
		"{\"isError\":false}",
		"{\"content\":{\"text\":\"not an array\"}}",
		"{\"content\":[1, \"s\", null, [{\"text\":\"deep\"}], "
		    "{\"text\":5}, {\"text\":{\"text\":\"x\"}}, {\"text\":\"ok\"}]}",
		"{\"content\":[{\"text\":\"tab\\there \\\"q\\\" \\u00e9\"}]}",
		"{\"content\":[{\"text\":\"a\\u0000b\"}]}",
		"{\"content\":[{\"t\\u0065xt\":\"escaped name\"}]}",
		"{\"c\\u006fntent\":[{\"text\":\"escaped name\"}]}",
		"{\"content\":[{\"text\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
		    " ok\"}]}",
		"{\"content\":[{\"text\":\"[]{}:,\\\\\"}]}",
		"[{\"text\":\"array result\"}]",
		"\"string result\"",
		"{\"content\":[{\"type\":\"image\",\"data\":\"AAAA\"}]}",
	};
	char *t, *u;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		summary_same(cases[i]);
	ck_assert_ptr_null(store_result_summary_text("{\"content\":[", 12));
	/* Cuts at and around the bound, in one item and across items. */
	for (i = 4090; i < 4102; i++) {
		t = long_result("{\"content\":[{\"text\":\"", "x", i, "\"}]}");
		summary_same(t);
		free(t);
		t = long_result("{\"content\":[{\"text\":\"", "\xc3\xa9", i / 2,
		    "\"},{\"text\":\"tail\"}]}");
		summary_same(t);
		free(t);
		t = long_result("{\"content\":[{\"text\":\"y\"},{\"text\":\"",
		    "\xe2\x82\xac", i / 3, "\"},{\"text\":\"\\n\"}]}");
		summary_same(t);
		free(t);
	}
	/* A first text that fills the summary; later items are skipped. */
	t = long_result("{\"content\":[{\"text\":\"", "\xf0\x9f\x98\x80", 1100,
	    "\"},{\"text\":\"more\"}]}");
	summary_same(t);
	u = store_result_summary_text(t, strlen(t));
	ck_assert_uint_eq(strlen(u), 4096);
	free(u);
	free(t);
}
END_TEST

/*
 * AFU9_TRACE=store: one line for each statement sent and each answer,
 * naming what it was (setup, an audit row or batch with its row count,
 * a server state) and the database's reply; never a parameter value.
 */
START_TEST(test_trace)
{
	struct store_opts o = fast_opts();
	char *log;
	int i;

	schema_new(0);
	log_set_trace(LOG_TRACE_STORE);
	store_up(&o);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(audit_n(i), 0);
	want_written = 3;
	ck_assert_msg(t_run_until(loop, all_written, WAIT_MS), "rows not written");
	log_set_trace(0);
	ck_assert_int_eq(audit_n(3), 0);
	want_written = 4;
	ck_assert_msg(t_run_until(loop, all_written, WAIT_MS), "row not written");
	log = t_file_text(logfp);
	ck_assert_msg(strstr(log, "\"msg\":\"store out ") &&
	    strstr(log, "\"msg\":\"store in ") &&
	    strstr(log, "\"peer\":\"t@/tmp/afu9pg.") &&
	    strstr(log, "\"frame\":\"setup afu9_audit_insert\"") &&
	    strstr(log, "\"dir\":\"in\",\"peer\":\"t@"), "%s", log);
	ck_assert_msg(t_count_str(log, "\"dir\":\"out\"") ==
	    t_count_str(log, "\"dir\":\"in\""), "%s", log);
	ck_assert_msg(strstr(log, "\"frame\":\"audit row rows=1\"") ||
	    strstr(log, "\"frame\":\"audit batch rows="), "%s", log);
	ck_assert_msg(strstr(log, "rows=1: INSERT 0 1\"") ||
	    strstr(log, ": INSERT 0 3\""), "%s", log);
	/* The fourth row, untraced, left no line. */
	ck_assert_msg(t_count_str(log, "\"frame\":\"audit ") <= 6, "%s", log);
	ck_assert_ptr_null(strstr(log, SECRET));
	ck_assert_ptr_null(strstr(log, TOKEN));
	free(log);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *unit = tcase_create("unit"), *db_tc = tcase_create("db");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(unit, setup, teardown);
	tcase_add_test(unit, test_result_summary);
	tcase_add_test(unit, test_result_summary_text);
	tcase_add_test(unit, test_disabled);
	tcase_add_test(unit, test_uuid_ok);
	suite_add_tcase(s, unit);
	tcase_add_unchecked_fixture(db_tc, pg_up, pg_down);
	tcase_add_checked_fixture(db_tc, setup, teardown);
	tcase_set_timeout(db_tc, 60);
	tcase_add_test(db_tc, test_audit_rows);
	tcase_add_test(db_tc, test_db_restart);
	tcase_add_test(db_tc, test_lost_ack_exactly_once);
	tcase_add_test(db_tc, test_idle_drop);
	tcase_add_test(db_tc, test_uri);
	tcase_add_test(db_tc, test_overflow);
	tcase_add_test(db_tc, test_rejected_row);
	tcase_add_test(db_tc, test_batch_bad_row);
	tcase_add_test(db_tc, test_audit_ids);
	tcase_add_test(db_tc, test_audit_ids_fk);
	tcase_add_test(db_tc, test_burst_slow_db);
	tcase_add_test(db_tc, test_args_redaction);
	tcase_add_test(db_tc, test_sync_commit);
	tcase_add_test(db_tc, test_linger);
	tcase_add_test(db_tc, test_rpc_id_text);
	tcase_add_test(db_tc, test_args_too_big);
	tcase_add_test(db_tc, test_states);
	tcase_add_test(db_tc, test_server_state);
	tcase_add_test(db_tc, test_shutdown);
	tcase_add_test(db_tc, test_query);
	tcase_add_test(db_tc, test_trace);
	suite_add_tcase(s, db_tc);
	return t_run(s);
}
