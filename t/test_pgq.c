#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <libpq-fe.h>

#include "log.h"
#include "pgtest.h"
#include "redact.h"
#include "store/migrate.h"
#include "store/pgq.h"
#include "testutil.h"

#define WAIT_MS		(10000 * t_slow())
#define NREC		64
#define SLEEP_SQL	"SELECT pg_sleep($1::double precision)"

static struct pgtest	*pg;		/* one server for the whole suite */
static char		*ci;		/* this test's conninfo (own schema) */
static PGconn		*db;		/* a side connection for checks */
static struct ev_loop	*loop;
static struct pgq	*q;
static FILE		*logfp;		/* captured log lines */
static char		 err[1024];
static int		 in_call;	/* inside a pgq_* call of the test */
static int		 want_calls;	/* callbacks all_called() waits for */

/* What one statement's callback saw. */
struct rec {
	int		 called;
	int		 seq;		/* order of the callbacks */
	int		 ok;
	char		 val[64];	/* first value of the first row */
	char		 sqlstate[6];
	int		 lost, timeout;
	char		 msg[PGQ_ERR_MAX];
};
static struct rec	 recs[NREC];
static int		 nseq;

/* State changes and notifications seen. */
static int		 states[32];
static size_t		 nstates;
static char		 notes[16][160];	/* "channel:payload", "NULL" */
static size_t		 nnotes;

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

/* A fresh schema per test (search_path of database "t"). */
static void
schema_new(void)
{
	static int n;
	char name[64], sql[128], *base;

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
}

static void
setup(void)
{
	log_init("test_pgq");
	ck_assert_ptr_nonnull(logfp = tmpfile());
	log_set_fd(fileno(logfp));
	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	memset(recs, 0, sizeof(recs));
	nseq = 0;
	nstates = nnotes = 0;
	in_call = 0;
	want_calls = 0;
	q = NULL;
	db = NULL;
	ci = NULL;
}

static void
teardown(void)
{
	pgq_free(q);
	q = NULL;
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

static int never(void) { return 0; }

/* ---- callbacks ---- */

static void
on_done(const PGresult *res, const struct pgq_err *e, void *arg)
{
	struct rec *r = arg;

	ck_assert_msg(!in_call, "callback inside a pgq call");
	r->called++;
	r->seq = nseq++;
	if (e != NULL) {
		ck_assert_ptr_null(res);
		snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", e->sqlstate);
		r->lost = e->lost;
		r->timeout = e->timeout;
		snprintf(r->msg, sizeof(r->msg), "%s", e->message);
		return;
	}
	ck_assert_ptr_nonnull(res);
	ck_assert(PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK);
	r->ok = 1;
	if (PQntuples(res) > 0 && PQnfields(res) > 0)
		snprintf(r->val, sizeof(r->val), "%s", PQgetvalue(res, 0, 0));
}

static void
on_state(struct pgq *p, int up, void *arg)
{
	ck_assert_msg(!in_call, "state_changed inside a pgq call");
	ck_assert_ptr_eq(p, q);
	if (nstates < sizeof(states) / sizeof(states[0]))
		states[nstates++] = up;
}

static void
on_notify(struct pgq *p, const char *chan, const char *payload, void *arg)
{
	ck_assert_msg(!in_call, "notify inside a pgq call");
	if (nnotes == sizeof(notes) / sizeof(notes[0]))
		return;
	if (chan == NULL) {
		ck_assert_ptr_null(payload);
		snprintf(notes[nnotes++], sizeof(notes[0]), "NULL");
	} else
		snprintf(notes[nnotes++], sizeof(notes[0]), "%s:%s", chan,
		    payload);
}

static struct pgq_opts
fast_opts(void)
{
	struct pgq_opts o = { 0 };

	o.name = "tq";
	o.backoff_base_s = 0.01;
	o.backoff_cap_s = 0.05;
	o.state_changed = on_state;
	o.notify = on_notify;
	return o;
}

static int is_up(void) { return pgq_up(q); }
static int is_down(void) { return !pgq_up(q); }
static int idle(void) { return pgq_pending(q) == 0; }

static void
new_q(const char *conninfo, const struct pgq_opts *o)
{
	q = pgq_new(loop, conninfo, o, err, sizeof(err));
	ck_assert_msg(q != NULL, "%s", err);
}

static void
up_q(const struct pgq_opts *o)
{
	new_q(ci, o);
	ck_assert_msg(t_run_until(loop, is_up, WAIT_MS), "not up: %s",
	    pgq_last_error(q));
}

static void
prep(const char *name, const char *sql, int n)
{
	ck_assert_msg(pgq_prepare(q, name, sql, n) == 0, "%s: %s", name,
	    strerror(errno));
}

/* Run name with one parameter (NULL: none) into recs[i]. */
static struct pgq_op *
ex1(const char *name, const char *p1, int i)
{
	const char *p[1] = { p1 };
	struct pgq_op *op;

	op = pgq_exec(q, name, p1 ? 1 : 0, p, on_done, &recs[i]);
	ck_assert_msg(op != NULL, "%s: %s", name, strerror(errno));
	return op;
}

static void
ex_int(const char *name, int v, int i)
{
	char b[16];

	snprintf(b, sizeof(b), "%d", v);
	ex1(name, b, i);
}

static struct pgq_stats
stats(void)
{
	struct pgq_stats s;

	pgq_get_stats(q, &s);
	return s;
}

static int pid_seen;
static void
on_pid(const PGresult *res, const struct pgq_err *e, void *arg)
{
	ck_assert_msg(e == NULL, "%s", e ? e->message : "");
	pid_seen = atoi(PQgetvalue(res, 0, 0));
}

/* The backend of q, asked through q itself (statement "pid"). */
static int
backend_pid(void)
{
	pid_seen = 0;
	ck_assert_ptr_nonnull(pgq_exec(q, "pid", 0, NULL, on_pid, NULL));
	ck_assert(t_run_until(loop, idle, WAIT_MS));
	ck_assert_int_ne(pid_seen, 0);
	return pid_seen;
}

static int watched_pid;
/* The backend watched_pid runs a pg_sleep (seen from the side). */
static int
sleeping(void)
{
	char pid[16];
	const char *p[1] = { pid };
	PGresult *r;
	int n;

	snprintf(pid, sizeof(pid), "%d", watched_pid);
	r = PQexecParams(db, "SELECT count(*) FROM pg_stat_activity WHERE "
	    "pid = $1::int AND state = 'active' AND query LIKE "
	    "'%pg_sleep%'", 1, NULL, p, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	n = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n == 1;
}

/*
 * q up with the statements pid, sleep (seconds) and int; watched_pid is
 * its backend.
 */
static void
up_sleepy(const struct pgq_opts *o)
{
	up_q(o);
	prep("pid", "SELECT pg_backend_pid()", 0);
	prep("sleep", SLEEP_SQL, 1);
	prep("int", "SELECT $1::int", 1);
	watched_pid = backend_pid();
}

/* First value of a one-row query on the side connection, malloc'd. */
static char *
q1(const char *sql)
{
	PGresult *r = PQexec(db, sql);
	char *s;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	ck_assert_int_eq(PQntuples(r), 1);
	s = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return s;
}

#define ck_q(sql, want) do {						\
	char *v_ = q1(sql);						\
	ck_assert_str_eq(v_, want);					\
	free(v_);							\
} while (0)

static int all_called(void)
{
	int i, n = 0;

	for (i = 0; i < NREC; i++)
		n += recs[i].called;
	return n >= want_calls && pgq_pending(q) == 0;
}

static int nlines_want;
static int exec_out_lines(void)
{
	char *log = t_file_text(logfp);
	int n = t_count_str(log, "\"frame\":\"tq exec ins\"");

	free(log);
	return n >= nlines_want;
}

/* ---- tests ---- */

/*
 * Statements queued before the connection is up are sent once every
 * statement is prepared; many are in flight at once (the trace shows all
 * of them sent while the first waits for a lock); the answers come in
 * order, each statement its own transaction.  A statement registered
 * while up is prepared ahead of its first use.
 */
START_TEST(test_pipeline)
{
	struct pgq_opts o = fast_opts();
	struct pgq_stats s;
	char *log;
	int i;

	schema_new();
	exec_ok(db, "CREATE TABLE t (id int PRIMARY KEY)");
	log_set_trace(LOG_TRACE_STORE);
	new_q(ci, &o);
	prep("sel", "SELECT $1::int", 1);
	prep("ins", "INSERT INTO t VALUES ($1::int)", 1);
	prep("txid", "SELECT txid_current()", 0);
	prep("nprep", "SELECT count(*) FROM pg_prepared_statements", 0);
	for (i = 0; i < 10; i++)
		ex_int("sel", i * 7, i);
	ck_assert_int_eq(pgq_up(q), 0);
	ck_assert_str_eq(pgq_last_error(q), "connecting");
	ck_assert_uint_eq(pgq_pending(q), 10);
	want_calls = 10;
	ck_assert_msg(t_run_until(loop, all_called, WAIT_MS), "%s",
	    pgq_last_error(q));
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(recs[i].called, 1);
		ck_assert_int_eq(recs[i].ok, 1);
		ck_assert_int_eq(recs[i].seq, i);
		ck_assert_int_eq(atoi(recs[i].val), i * 7);
	}
	ck_assert_int_eq(pgq_up(q), 1);
	ck_assert_str_eq(pgq_last_error(q), "");
	ck_assert_int_eq(nstates, 1);
	ck_assert_int_eq(states[0], 1);

	/* Twenty inserts all sent while the first waits for the lock. */
	memset(recs, 0, sizeof(recs));
	nseq = 0;
	exec_ok(db, "BEGIN");
	exec_ok(db, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	for (i = 0; i < 20; i++)
		ex_int("ins", i, i);
	nlines_want = 20;
	ck_assert_msg(t_run_until(loop, exec_out_lines, WAIT_MS), "not all sent");
	t_run_until(loop, never, 50);
	ck_assert_int_eq(recs[0].called, 0);
	ck_assert_uint_eq(pgq_pending(q), 20);
	exec_ok(db, "COMMIT");
	want_calls = 20;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(recs[i].ok, 1);
		ck_assert_int_eq(recs[i].seq, i);
	}
	ck_q("SELECT count(*) FROM t", "20");

	/* Each its own transaction. */
	ex1("txid", NULL, 30);
	ex1("txid", NULL, 31);
	ex1("nprep", NULL, 32);
	want_calls = 23;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[30].ok & recs[31].ok, 1);
	ck_assert_str_ne(recs[30].val, recs[31].val);
	ck_assert_str_eq(recs[32].val, "4");

	/* Registered while up, used at once. */
	prep("late", "SELECT $1::text || 'x'", 1);
	ex1("late", "zq-param-value", 33);
	want_calls = 24;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_msg(recs[33].ok, "%s", recs[33].msg);
	ck_assert_str_eq(recs[33].val, "zq-param-valuex");
	s = stats();
	ck_assert_uint_eq(s.executed, 34);
	ck_assert_uint_eq(s.failed, 0);
	ck_assert_uint_eq(s.reconnects, 0);

	log = t_file_text(logfp);
	ck_assert_msg(strstr(log, "\"frame\":\"tq prepare sel: ok\"") &&
	    strstr(log, "\"frame\":\"tq exec sel: SELECT 1\"") &&
	    strstr(log, "\"frame\":\"tq prepare late: ok\"") &&
	    strstr(log, "\"peer\":\"t@/tmp/afu9pg.") &&
	    strstr(log, "\"dir\":\"in\""), "%s", log);
	ck_assert_msg(t_count_str(log, "\"dir\":\"out\"") ==
	    t_count_str(log, "\"dir\":\"in\""), "%s", log);
	/* The parameters are not traced. */
	ck_assert_ptr_null(strstr(log, "zq-param-value"));
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	free(log);
}
END_TEST

static int nexec_out;
static int
count_exec_out(void)
{
	char *log = t_file_text(logfp);

	nexec_out = t_count_str(log, "\"frame\":\"tq exec cnt\"");
	free(log);
	return nexec_out >= PGQ_INFLIGHT;
}

static int all_answered;
static void
on_cnt(const PGresult *res, const struct pgq_err *e, void *arg)
{
	ck_assert_msg(e == NULL, "%s", e ? e->message : "");
	ck_assert_int_eq((int)(intptr_t)arg, all_answered);
	all_answered++;
}
static int all_cnt(void) { return all_answered == PGQ_INFLIGHT + 88; }

/*
 * At most PGQ_INFLIGHT statements are sent and not answered: the rest
 * wait (while the first is blocked by a lock) and go as answers come.
 */
START_TEST(test_inflight_bound)
{
	struct pgq_opts o = fast_opts();
	intptr_t i;

	schema_new();
	exec_ok(db, "CREATE TABLE t (id int)");
	up_q(&o);
	prep("cnt", "SELECT count(*) FROM t", 0);
	log_set_trace(LOG_TRACE_STORE);
	exec_ok(db, "BEGIN");
	exec_ok(db, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
	all_answered = 0;
	for (i = 0; i < PGQ_INFLIGHT + 88; i++)
		ck_assert_ptr_nonnull(pgq_exec(q, "cnt", 0, NULL, on_cnt,
		    (void *)i));
	ck_assert(t_run_until(loop, count_exec_out, WAIT_MS));
	t_run_until(loop, never, 50);
	count_exec_out();
	ck_assert_int_eq(nexec_out, PGQ_INFLIGHT);
	ck_assert_int_eq(all_answered, 0);
	ck_assert_uint_eq(pgq_pending(q), PGQ_INFLIGHT + 88);
	exec_ok(db, "COMMIT");
	ck_assert(t_run_until(loop, all_cnt, WAIT_MS));
	count_exec_out();
	ck_assert_int_eq(nexec_out, PGQ_INFLIGHT + 88);
	ck_assert_uint_eq(pgq_pending(q), 0);
}
END_TEST

static int refused_prepare(void)
{
	return strstr(pgq_last_error(q), "preparing bad: relation "
	    "\"later_tbl\" does not exist") != NULL;
}

/*
 * A statement the server refuses to prepare keeps the connection from
 * coming up (nothing queued is sent, and nothing fails for it); it is
 * retried, and once the table is there everything runs.
 */
START_TEST(test_prepare_refused)
{
	struct pgq_opts o = fast_opts();
	char *log;

	schema_new();
	new_q(ci, &o);
	prep("good", "SELECT 1", 0);
	prep("bad", "SELECT count(*) FROM later_tbl", 0);
	ex1("good", NULL, 0);
	ex1("bad", NULL, 1);
	ck_assert_msg(t_run_until(loop, refused_prepare, WAIT_MS), "%s",
	    pgq_last_error(q));
	t_run_until(loop, never, 100);		/* a few more attempts */
	ck_assert_int_eq(recs[0].called + recs[1].called, 0);
	ck_assert_int_eq(pgq_up(q), 0);
	ck_assert_uint_eq(nstates, 0);
	exec_ok(db, "CREATE TABLE later_tbl (id int)");
	want_calls = 2;
	ck_assert_msg(t_run_until(loop, all_called, WAIT_MS), "%s",
	    pgq_last_error(q));
	ck_assert_msg(recs[0].ok, "%s", recs[0].msg);
	ck_assert_msg(recs[1].ok, "%s", recs[1].msg);
	ck_assert_str_eq(recs[1].val, "0");
	ck_assert_uint_eq(nstates, 1);
	ck_assert_uint_eq(stats().reconnects, 0);
	log = t_file_text(logfp);
	ck_assert_int_eq(t_count_str(log, "preparing bad"), 1);
	free(log);
}
END_TEST

/* A statement the server refuses fails alone; the next ones succeed. */
START_TEST(test_server_error)
{
	struct pgq_opts o = fast_opts();
	struct pgq_stats s;
	char *log;

	schema_new();
	exec_ok(db, "CREATE TABLE u (id int PRIMARY KEY)");
	up_q(&o);
	prep("ins", "INSERT INTO u VALUES ($1::int)", 1);
	prep("div", "SELECT 1 / $1::int", 1);
	prep("bool", "SELECT $1::boolean", 1);
	ex1("ins", "1", 0);
	ex1("ins", "1", 1);
	ex1("div", "0", 2);
	ex1("ins", "2", 3);
	ex1("div", "2", 4);
	/* The password as a value: the server echoes it, redacted.  (As a
	   boolean: a hex password of digits only is a valid int too big for
	   one, 22003 instead of 22P02, about once in 2,000 runs.) */
	ex1("bool", pgt_password(pg), 5);
	want_calls = 6;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[0].ok, 1);
	ck_assert_int_eq(recs[1].ok, 0);
	ck_assert_str_eq(recs[1].sqlstate, "23505");
	ck_assert_msg(strstr(recs[1].msg, "duplicate key value violates "
	    "unique constraint \"u_pkey\""), "%s", recs[1].msg);
	ck_assert_int_eq(recs[1].lost | recs[1].timeout, 0);
	ck_assert_str_eq(recs[2].sqlstate, "22012");
	ck_assert_str_eq(recs[2].msg, "division by zero");
	ck_assert_int_eq(recs[3].ok, 1);
	ck_assert_int_eq(recs[4].ok, 1);
	ck_assert_str_eq(recs[4].val, "0");
	ck_assert_str_eq(recs[5].sqlstate, "22P02");
	ck_assert_ptr_null(strstr(recs[5].msg, pgt_password(pg)));
	ck_assert_msg(strstr(recs[5].msg, REDACTED), "%s", recs[5].msg);
	ck_q("SELECT string_agg(id::text, ',' ORDER BY id) FROM u", "1,2");
	s = stats();
	ck_assert_uint_eq(s.executed, 3);
	ck_assert_uint_eq(s.failed, 3);
	ck_assert_uint_eq(s.reconnects, 0);
	ck_assert_int_eq(pgq_up(q), 1);
	ck_assert_int_eq(nstates, 1);
	log = t_file_text(logfp);
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	free(log);
}
END_TEST

static int two_notes(void) { return nnotes >= 2 && pgq_pending(q) == 0; }
static int note_after_null(void)
{
	return nnotes >= 2 && strcmp(notes[nnotes - 1], "afu9_work:again") ==
	    0;
}
static int up_again(void) { return pgq_up(q) && nstates >= 3; }

/*
 * LISTEN on the channels, on every connection; notifications arrive as
 * (channel, payload); a connection ended by the server fails what was
 * in flight (lost), and after the reconnect notify(NULL) comes once.
 */
START_TEST(test_listen)
{
	struct pgq_opts o = fast_opts();
	char sql[128];
	int pid;

	schema_new();
	o.listen[0] = "afu9_work";
	o.listen[1] = "chan_b";
	up_sleepy(&o);
	pid = watched_pid;
	exec_ok(db, "NOTIFY other, 'no'");
	exec_ok(db, "NOTIFY afu9_work, 'p1'");
	exec_ok(db, "SELECT pg_notify('chan_b', '')");
	ck_assert_msg(t_run_until(loop, two_notes, WAIT_MS), "notes %zu", nnotes);
	t_run_until(loop, never, 30);
	ck_assert_uint_eq(nnotes, 2);
	ck_assert_str_eq(notes[0], "afu9_work:p1");
	ck_assert_str_eq(notes[1], "chan_b:");
	ck_assert_uint_eq(stats().notifies, 2);

	/* The server ends the session with two statements in flight. */
	ex1("sleep", "20", 0);
	ex1("int", "5", 1);
	ck_assert_msg(t_run_until(loop, sleeping, WAIT_MS), "not sleeping");
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
	exec_ok(db, sql);
	want_calls = 2;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[0].ok, 0);
	ck_assert_int_eq(recs[0].lost, 1);
	ck_assert_int_eq(recs[0].timeout, 0);
	ck_assert_str_eq(recs[0].sqlstate, "");
	ck_assert_msg(strstr(recs[0].msg, "connection lost: "), "%s",
	    recs[0].msg);
	ck_assert_int_eq(recs[1].lost, 1);
	ck_assert_msg(t_run_until(loop, up_again, WAIT_MS), "no reconnect: %s",
	    pgq_last_error(q));
	ck_assert_int_eq(states[1], 0);
	ck_assert_int_eq(states[2], 1);
	ck_assert_uint_eq(stats().lost, 2);
	ck_assert_uint_eq(stats().reconnects, 1);
	ck_assert_int_ne(backend_pid(), pid);

	/* Listening again on the new connection; NULL came first, once. */
	exec_ok(db, "NOTIFY afu9_work, 'again'");
	ck_assert(t_run_until(loop, note_after_null, WAIT_MS));
	ck_assert_uint_eq(nnotes, 4);
	ck_assert_str_eq(notes[2], "NULL");
	ck_assert_str_eq(notes[3], "afu9_work:again");
}
END_TEST

static int five_done(void)
{
	int i;

	for (i = 10; i < 15; i++)
		if (!recs[i].called)
			return 0;
	return 1;
}

/*
 * The server stops with a statement in flight: it fails (lost), the
 * statements made meanwhile wait and run after the server is back, on a
 * connection where everything is prepared again.
 */
START_TEST(test_server_restart)
{
	struct pgq_opts o = fast_opts();
	char *log;
	int i;

	schema_new();
	exec_ok(db, "CREATE TABLE t (id int PRIMARY KEY)");
	up_sleepy(&o);
	prep("ins", "INSERT INTO t VALUES ($1::int)", 1);
	ex1("sleep", "20", 0);
	ck_assert_msg(t_run_until(loop, sleeping, WAIT_MS), "not sleeping");
	ck_assert_msg(pgt_server_stop(pg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(t_run_until(loop, is_down, WAIT_MS), "not noticed");
	want_calls = 1;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[0].lost, 1);
	ck_assert_str_ne(pgq_last_error(q), "");
	ck_assert_ptr_null(strstr(pgq_last_error(q), pgt_password(pg)));

	for (i = 10; i < 15; i++)
		ex_int("ins", i, i);
	t_run_until(loop, never, 100);
	ck_assert_uint_eq(pgq_pending(q), 5);
	ck_assert_int_eq(recs[10].called, 0);
	ck_assert_msg(pgt_server_start(pg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(t_run_until(loop, five_done, WAIT_MS), "not run after the "
	    "restart: %s", pgq_last_error(q));
	for (i = 10; i < 15; i++) {
		ck_assert_msg(recs[i].ok, "%d: %s", i, recs[i].msg);
		ck_assert_int_eq(recs[i].seq, i - 9);
	}
	side_connect();
	ck_q("SELECT count(*) FROM t", "5");
	ck_assert_int_eq(nstates, 3);
	ck_assert_int_eq(states[0], 1);
	ck_assert_int_eq(states[1], 0);
	ck_assert_int_eq(states[2], 1);
	ck_assert_uint_eq(stats().reconnects, 1);
	ck_assert_uint_eq(stats().lost, 1);
	log = t_file_text(logfp);
	ck_assert_int_eq(t_count_str(log, "tq: database connection lost"), 1);
	ck_assert_int_eq(t_count_str(log, "tq: database connection restored"),
	    1);
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	free(log);
}
END_TEST

/*
 * pgq_reconnect(): what was sent fails with lost, from the loop (not
 * inside the call); a failed statement forgotten before its callback ran
 * is never called back; what is queued after the call runs on the new
 * connection.
 */
START_TEST(test_reconnect)
{
	struct pgq_opts o = fast_opts();
	struct pgq_op *gone;
	int i;

	schema_new();
	up_sleepy(&o);
	ex1("sleep", "20", 0);
	for (i = 1; i < 4; i++)
		ex_int("int", i, i);
	gone = ex1("int", "4", 4);
	ck_assert_msg(t_run_until(loop, sleeping, WAIT_MS), "not sleeping");
	in_call = 1;
	pgq_reconnect(q);
	ck_assert_int_eq(pgq_up(q), 0);
	ck_assert_uint_eq(pgq_pending(q), 5);
	pgq_op_forget(gone);
	ck_assert_uint_eq(pgq_pending(q), 4);
	ex1("int", "5", 5);
	in_call = 0;
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(recs[i].called, 0);
	want_calls = 5;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(recs[i].lost, 1);
		ck_assert_msg(strstr(recs[i].msg, "connection lost: reconnect "
		    "requested"), "%s", recs[i].msg);
	}
	ck_assert_int_eq(recs[4].called, 0);
	ck_assert_msg(recs[5].ok, "%s", recs[5].msg);
	ck_assert_str_eq(recs[5].val, "5");
	ck_assert_uint_eq(stats().lost, 5);
	ck_assert_uint_eq(stats().reconnects, 1);
	ck_assert_int_eq(nstates, 3);
	ck_assert_uint_eq(nnotes, 1);
	ck_assert_str_eq(notes[0], "NULL");
}
END_TEST

/*
 * op_timeout_ms: a statement the server takes too long over fails with
 * timeout (and lost: it was sent) and the connection is reset; the one
 * behind it is lost; the next ones run.
 */
START_TEST(test_op_timeout)
{
	struct pgq_opts o = fast_opts();
	double t0;

	schema_new();
	o.op_timeout_ms = 300 * t_slow();
	up_q(&o);
	prep("sleep", SLEEP_SQL, 1);
	prep("int", "SELECT $1::int", 1);
	t0 = t_now_ms();
	ex1("sleep", "20", 0);
	ex1("int", "1", 1);
	want_calls = 2;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_double_lt(t_now_ms() - t0, 2000 * t_slow());
	ck_assert_double_ge(t_now_ms() - t0, 250 * t_slow());
	ck_assert_int_eq(recs[0].timeout, 1);
	ck_assert_int_eq(recs[0].lost, 1);
	ck_assert_msg(strstr(recs[0].msg, "no answer from the database in"),
	    "%s", recs[0].msg);
	ck_assert_int_eq(recs[1].timeout, 0);
	ck_assert_int_eq(recs[1].lost, 1);
	ck_assert_uint_eq(stats().timeouts, 1);
	ck_assert_uint_eq(stats().lost, 1);
	ck_assert(t_run_until(loop, up_again, WAIT_MS));
	ck_assert_int_eq(states[1], 0);
	ex1("int", "2", 2);
	want_calls = 3;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[2].ok, 1);
	ck_assert_uint_eq(stats().reconnects, 1);
}
END_TEST

/*
 * A database nobody answers for: the queued statement times out
 * (timeout, not lost: it never went), naming why; so does one for a
 * server that accepts the connection and never speaks, whose connection
 * attempt times out.
 */
START_TEST(test_unreachable)
{
	struct pgq_opts o = fast_opts();
	struct sockaddr_un sun;
	char *log, *dir, *mute;
	int fd;

	o.op_timeout_ms = 200 * t_slow();
	o.state_changed = on_state;
	new_q("host=/nonexistent-afu9 dbname=x", &o);
	prep("int", "SELECT $1::int", 1);
	ex1("int", "1", 0);
	want_calls = 1;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[0].timeout, 1);
	ck_assert_int_eq(recs[0].lost, 0);
	ck_assert_msg(strstr(recs[0].msg, "not sent in ") &&
	    strstr(recs[0].msg, "/nonexistent-afu9"), "%s", recs[0].msg);
	ck_assert_uint_eq(stats().timeouts, 1);
	ck_assert_ptr_nonnull(strstr(pgq_last_error(q), "/nonexistent"));
	ck_assert_int_eq(nstates, 0);	/* never up: no change */
	pgq_free(q);
	q = NULL;

	/* A socket that listens and never answers. */
	ck_assert_ptr_nonnull(dir = strdup("/tmp/afu9pgq.XXXXXX"));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.5432",
	    dir);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 128), 0);
	ck_assert_int_ne(asprintf(&mute, "host=%s dbname=x user=x "
	    "password=mute-pass-1234", dir), -1);
	o.connect_timeout_ms = 100 * t_slow();
	o.op_timeout_ms = 400 * t_slow();
	new_q(mute, &o);
	prep("int", "SELECT $1::int", 1);
	ex1("int", "1", 1);
	want_calls = 2;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[1].timeout, 1);
	ck_assert_msg(strstr(recs[1].msg, "no connection after"), "%s",
	    recs[1].msg);
	ck_assert_msg(strstr(pgq_last_error(q), "no connection after"), "%s",
	    pgq_last_error(q));
	pgq_free(q);
	q = NULL;
	close(fd);
	unlink(sun.sun_path);
	rmdir(dir);
	free(dir);
	free(mute);
	log = t_file_text(logfp);
	ck_assert_msg(strstr(log, "tq: database dbname=x "
	    "host=/nonexistent-afu9 unavailable: "), "%s", log);
	ck_assert_ptr_null(strstr(log, "mute-pass-1234"));
	free(log);
}
END_TEST

static void
forget_self(const PGresult *res, const struct pgq_err *e, void *arg)
{
	struct pgq_op **self = arg;

	pgq_op_forget(*self);		/* a no-op from its own callback */
	recs[NREC - 1].called++;
}

/*
 * pgq_op_forget(): a queued statement never runs, a sent one runs but is
 * not called back; forgetting from its own callback is harmless.
 */
START_TEST(test_forget)
{
	struct pgq_opts o = fast_opts();
	static struct pgq_op *self;
	struct pgq_op *op;
	const char *p[1] = { "3" };

	schema_new();
	exec_ok(db, "CREATE TABLE t (id int PRIMARY KEY)");
	new_q(ci, &o);
	prep("ins", "INSERT INTO t VALUES ($1::int)", 1);
	prep("int", "SELECT $1::int", 1);
	op = ex1("ins", "1", 0);		/* queued: never sent */
	pgq_op_forget(op);
	ck_assert_uint_eq(pgq_pending(q), 0);
	pgq_op_forget(NULL);
	ck_assert(t_run_until(loop, is_up, WAIT_MS));
	op = ex1("ins", "2", 1);
	ex1("int", "9", 2);
	ev_run(loop, EVRUN_NOWAIT);	/* sent now */
	pgq_op_forget(op);
	want_calls = 1;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[0].called + recs[1].called, 0);
	ck_assert_int_eq(recs[2].ok, 1);
	ck_q("SELECT string_agg(id::text, ',') FROM t", "2");
	ck_assert_uint_eq(stats().executed, 2);

	ck_assert_ptr_nonnull(self = pgq_exec(q, "ins", 1, p, forget_self,
	    &self));
	ck_assert(t_run_until(loop, idle, WAIT_MS));
	ck_assert_int_eq(recs[NREC - 1].called, 1);
}
END_TEST

/*
 * pgq_free() with statements answered but not called back, queued, and
 * in flight: no callbacks (and, under valgrind, nothing leaked).
 */
START_TEST(test_free_pending)
{
	struct pgq_opts o = fast_opts();
	int i;

	schema_new();
	up_sleepy(&o);
	ex1("sleep", "20", 0);
	ck_assert(t_run_until(loop, sleeping, WAIT_MS));
	ex1("int", "1", 1);
	pgq_reconnect(q);		/* 0 answered (lost), 1 queued */
	ex1("int", "2", 2);
	ck_assert_uint_eq(pgq_pending(q), 3);
	pgq_free(q);

	up_sleepy(&o);
	ex1("sleep", "20", 3);
	ex1("int", "4", 4);
	ck_assert(t_run_until(loop, sleeping, WAIT_MS));
	ex1("int", "5", 5);		/* queued */
	ck_assert_uint_eq(pgq_pending(q), 3);
	pgq_free(q);
	q = NULL;
	t_run_until(loop, never, 50);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(recs[i].called, 0);
}
END_TEST

static int does_not_exist(void)
{
	return strstr(pgq_last_error(q), "does not exist") != NULL;
}

/* A wrong password: down, why is said, the password is nowhere. */
START_TEST(test_password)
{
	struct pgq_opts o = fast_opts();
	char *bad, *log;

	o.op_timeout_ms = 300 * t_slow();
	ck_assert_int_ne(asprintf(&bad, "host=%s port=5432 user=afu9 "
	    "password=wrongpass-4242 dbname=t", pgt_dir(pg)), -1);
	new_q(bad, &o);
	prep("int", "SELECT $1::int", 1);
	ex1("int", "1", 0);
	want_calls = 1;
	ck_assert(t_run_until(loop, all_called, WAIT_MS));
	ck_assert_int_eq(recs[0].timeout, 1);
	ck_assert_msg(strstr(recs[0].msg, "password authentication failed"),
	    "%s", recs[0].msg);
	ck_assert_ptr_null(strstr(recs[0].msg, "wrongpass-4242"));
	ck_assert_ptr_nonnull(strstr(pgq_last_error(q),
	    "password authentication failed"));
	ck_assert_ptr_null(strstr(pgq_last_error(q), "wrongpass-4242"));
	pgq_free(q);
	q = NULL;
	free(bad);

	/* The server echoes it (a database named as the password). */
	ck_assert_int_ne(asprintf(&bad, "host=%s port=5432 user=afu9 "
	    "password=%s dbname=%s", pgt_dir(pg), pgt_password(pg),
	    pgt_password(pg)), -1);
	new_q(bad, &o);
	ck_assert(t_run_until(loop, does_not_exist, WAIT_MS));
	ck_assert_msg(strstr(pgq_last_error(q), "database \"" REDACTED "\""),
	    "%s", pgq_last_error(q));
	ck_assert_ptr_null(strstr(pgq_last_error(q), pgt_password(pg)));
	log = t_file_text(logfp);
	ck_assert_ptr_null(strstr(log, "wrongpass-4242"));
	ck_assert_ptr_null(strstr(log, pgt_password(pg)));
	ck_assert_ptr_nonnull(strstr(log, "password=" REDACTED));
	free(log);
	free(bad);
}
END_TEST

/* ---- without a server ---- */

START_TEST(test_new_refused)
{
	static const char *const bad[] = { "", "Bad", "a-b", "9ab", "a b",
	    "a\"b", "chan;", "\xc3\xa9t\xc3\xa9" };
	struct pgq_opts o = fast_opts();
	char long64[65], long63[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.listen[0] = "ok_one";
		o.listen[1] = bad[i];
		ck_assert_msg(pgq_new(loop, "host=/nonexistent dbname=x", &o,
		    err, sizeof(err)) == NULL, "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "LISTEN channel 1"));
	}
	memset(long64, 'a', 64);
	long64[64] = '\0';
	o.listen[1] = long64;
	ck_assert_ptr_null(pgq_new(loop, "host=/nonexistent dbname=x", &o,
	    err, sizeof(err)));
	memcpy(long63, long64, 63);
	long63[63] = '\0';
	for (i = 0; i < PGQ_LISTEN_MAX; i++)
		o.listen[i] = i % 2 ? "afu9_work" : long63;
	new_q("host=/nonexistent dbname=x", &o);
	pgq_free(q);
	q = NULL;

	o.listen[0] = NULL;
	ck_assert_ptr_null(pgq_new(loop, "", &o, err, sizeof(err)));
	ck_assert_ptr_null(pgq_new(loop, NULL, &o, err, sizeof(err)));
	ck_assert_ptr_null(pgq_new(loop, "host=x password=pw-77777 bogus",
	    &o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot be parsed"));
	ck_assert_ptr_null(strstr(err, "pw-77777"));
	/* No options: the defaults. */
	q = pgq_new(loop, "host=/nonexistent dbname=x", NULL, err,
	    sizeof(err));
	ck_assert_msg(q != NULL, "%s", err);
}
END_TEST

START_TEST(test_prepare_bounds)
{
	char name[80], *sql;
	int i;

	new_q("host=/nonexistent dbname=x", NULL);
	errno = 0;
	ck_assert_int_eq(pgq_prepare(q, "", "SELECT 1", 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pgq_prepare(q, "Sel", "SELECT 1", 0), -1);
	ck_assert_int_eq(pgq_prepare(q, "a-b", "SELECT 1", 0), -1);
	ck_assert_int_eq(pgq_prepare(q, "a", NULL, 0), -1);
	ck_assert_int_eq(pgq_prepare(q, "a", "SELECT 1", -1), -1);
	ck_assert_int_eq(pgq_prepare(q, "a", "SELECT 1", PGQ_NPARAMS_MAX + 1),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
	memset(name, 'a', 64);
	name[64] = '\0';
	ck_assert_int_eq(pgq_prepare(q, name, "SELECT 1", 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	name[63] = '\0';
	ck_assert_int_eq(pgq_prepare(q, name, "SELECT 1", 0), 0);
	ck_assert_ptr_nonnull(sql = malloc(PGQ_SQL_MAX + 2));
	memset(sql, ' ', PGQ_SQL_MAX + 1);
	sql[PGQ_SQL_MAX + 1] = '\0';
	ck_assert_int_eq(pgq_prepare(q, "big", sql, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	sql[PGQ_SQL_MAX] = '\0';
	ck_assert_int_eq(pgq_prepare(q, "big", sql, 0), 0);
	free(sql);
	ck_assert_int_eq(pgq_prepare(q, "big", "SELECT 1", 0), -1);
	ck_assert_int_eq(errno, EEXIST);
	for (i = 2; i < PGQ_STMTS_MAX; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ck_assert_int_eq(pgq_prepare(q, name, "SELECT 1", 0), 0);
	}
	ck_assert_int_eq(pgq_prepare(q, "one_more", "SELECT 1", 0), -1);
	ck_assert_int_eq(errno, ENOSPC);
}
END_TEST

static void
no_call(const PGresult *res, const struct pgq_err *e, void *arg)
{
	ck_abort_msg("called back");
}

START_TEST(test_exec_bounds)
{
	const char *p[2] = { "1", NULL };
	char *big;
	size_t i;

	new_q("host=/nonexistent dbname=x", NULL);
	ck_assert_int_eq(pgq_prepare(q, "two", "SELECT $1, $2", 2), 0);
	errno = 0;
	ck_assert_ptr_null(pgq_exec(q, "nope", 0, NULL, no_call, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(pgq_exec(q, "two", 1, p, no_call, NULL));
	ck_assert_ptr_null(pgq_exec(q, "two", 3, p, no_call, NULL));
	ck_assert_ptr_null(pgq_exec(q, "two", 2, NULL, no_call, NULL));
	ck_assert_ptr_null(pgq_exec(q, "two", 2, p, NULL, NULL));
	ck_assert_int_eq(errno, EINVAL);

	/* Parameter bytes: one statement alone too big; then the whole. */
	ck_assert_ptr_nonnull(big = malloc(PGQ_QUEUE_BYTES + 1));
	memset(big, 'x', PGQ_QUEUE_BYTES);
	big[PGQ_QUEUE_BYTES] = '\0';
	p[0] = big;
	ck_assert_ptr_null(pgq_exec(q, "two", 2, p, no_call, NULL));
	ck_assert_int_eq(errno, EMSGSIZE);
	big[PGQ_QUEUE_BYTES / 2] = '\0';	/* + its NUL: half and one */
	ck_assert_ptr_nonnull(pgq_exec(q, "two", 2, p, no_call, NULL));
	ck_assert_ptr_null(pgq_exec(q, "two", 2, p, no_call, NULL));
	ck_assert_int_eq(errno, ENOSPC);
	free(big);
	ck_assert_uint_eq(pgq_pending(q), 1);

	/* Statements: PGQ_QUEUE_MAX, then ENOSPC. */
	p[0] = "1";
	for (i = 1; i < PGQ_QUEUE_MAX; i++)
		ck_assert_ptr_nonnull(pgq_exec(q, "two", 2, p, no_call,
		    NULL));
	ck_assert_uint_eq(pgq_pending(q), PGQ_QUEUE_MAX);
	ck_assert_ptr_null(pgq_exec(q, "two", 2, p, no_call, NULL));
	ck_assert_int_eq(errno, ENOSPC);
	pgq_free(q);
	q = NULL;
}
END_TEST

START_TEST(test_msgline)
{
	char out[16];

	ck_assert_int_eq(redact_add_secret("sekrit-0123456789"), 0);
	ck_assert_str_eq(pgq_msgline(out, sizeof(out), "a\nb\tc \n"),
	    "a b c");
	ck_assert_str_eq(pgq_msgline(out, sizeof(out), NULL), "");
	ck_assert_str_eq(pgq_msgline(out, sizeof(out),
	    "x sekrit-0123456789"), "x " REDACTED);
	ck_assert_str_eq(pgq_msgline(out, 8, "0123456789"), "0123456");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pgq");
	TCase *unit = tcase_create("unit"), *db_tc = tcase_create("db");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(unit, setup, teardown);
	tcase_add_test(unit, test_new_refused);
	tcase_add_test(unit, test_prepare_bounds);
	tcase_add_test(unit, test_exec_bounds);
	tcase_add_test(unit, test_msgline);
	tcase_add_test(unit, test_unreachable);
	suite_add_tcase(s, unit);
	tcase_add_unchecked_fixture(db_tc, pg_up, pg_down);
	tcase_add_checked_fixture(db_tc, setup, teardown);
	tcase_set_timeout(db_tc, 60);
	tcase_add_test(db_tc, test_pipeline);
	tcase_add_test(db_tc, test_inflight_bound);
	tcase_add_test(db_tc, test_server_error);
	tcase_add_test(db_tc, test_prepare_refused);
	tcase_add_test(db_tc, test_listen);
	tcase_add_test(db_tc, test_reconnect);
	tcase_add_test(db_tc, test_op_timeout);
	tcase_add_test(db_tc, test_forget);
	tcase_add_test(db_tc, test_free_pending);
	tcase_add_test(db_tc, test_password);
	tcase_add_test(db_tc, test_server_restart);
	suite_add_tcase(s, db_tc);
	return t_run(s);
}
