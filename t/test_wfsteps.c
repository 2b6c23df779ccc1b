/*
 * The workflow engine's step semantics end to end: `afu9 serve` against
 * a throwaway PostgreSQL (t/pgtest.h) and t/conformance-server, the
 * workflows stored and started with the SQL functions, every assertion
 * on the rows of workflow_executions, workflow_steps and mcp_tool_calls.
 * Retry and backoff, timeouts, if and on_error, approvals, sleeps across
 * restarts, wait steps, cancels, outputs and env references, oversize
 * outputs, and the built-in workflows against moto and the GitHub
 * fixtures.  Times are checked as lower bounds only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "faultclient.h"
#include "orchtest.h"
#include "pgtest.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/afu9-wfsteps-XXXXXX";
static struct pgtest *pg;

/* ---- the database ---- */

static char *ci;		/* conninfo of the current database */
static PGconn *dbc;		/* its connection, of process dbc_pid */
static pid_t dbc_pid;

static PGconn *
db(void)
{
	if (dbc != NULL && (dbc_pid != getpid() ||
	    PQstatus(dbc) != CONNECTION_OK)) {
		if (dbc_pid == getpid())
			PQfinish(dbc);
		dbc = NULL;
	}
	if (dbc == NULL) {
		dbc = PQconnectdb(ci);
		ck_assert_msg(PQstatus(dbc) == CONNECTION_OK, "%s",
		    PQerrorMessage(dbc));
		dbc_pid = getpid();
	}
	return dbc;
}

/* Close this process's connection (a forked test leaves none behind,
   nor does the fixture that forks them). */
static void
db_close(void)
{
	if (dbc != NULL && dbc_pid == getpid())
		PQfinish(dbc);
	dbc = NULL;
}

/* A fresh database name for what follows. */
static void
use_db(const char *name)
{
	char e[1024];

	ck_assert_msg(pgt_createdb(pg, name, e, sizeof(e)) == 0, "%s", e);
	db_close();
	free(ci);
	ck_assert_ptr_nonnull(ci = pgt_conninfo(pg, name));
}

/*
 * The one value of a one-row query (malloc'd; "" for NULL).  The SQL is
 * a printf format.
 */
static char *
q(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *
q(const char *fmt, ...)
{
	va_list ap;
	char *sql, *v;
	PGresult *r;

	va_start(ap, fmt);
	ck_assert_int_ne(vasprintf(&sql, fmt, ap), -1);
	va_end(ap);
	r = PQexec(db(), sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK &&
	    PQntuples(r) == 1, "%s: %s", sql, PQresultErrorMessage(r));
	ck_assert_ptr_nonnull(v = strdup(PQgetvalue(r, 0, 0)));
	PQclear(r);
	free(sql);
	return v;
}

static long long
qi(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long
qi(const char *fmt, ...)
{
	va_list ap;
	char *sql, *v;
	long long n;

	va_start(ap, fmt);
	ck_assert_int_ne(vasprintf(&sql, fmt, ap), -1);
	va_end(ap);
	v = q("%s", sql);
	n = atoll(v);
	free(v);
	free(sql);
	return n;
}

/* Check that the query's text is want, then free it. */
#define Q_EQ(want, ...) do {						\
	char *q_v_ = q(__VA_ARGS__);					\
	ck_assert_str_eq(q_v_, want);					\
	free(q_v_);							\
} while (0)

/*
 * A statement that must fail: "SQLSTATE message" (malloc'd).
 */
static char *
q_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *
q_err(const char *fmt, ...)
{
	va_list ap;
	char *sql, *v;
	PGresult *r;

	va_start(ap, fmt);
	ck_assert_int_ne(vasprintf(&sql, fmt, ap), -1);
	va_end(ap);
	r = PQexec(db(), sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR, "%s: worked",
	    sql);
	ck_assert_int_ne(asprintf(&v, "%s %s", PQresultErrorField(r,
	    PG_DIAG_SQLSTATE), PQresultErrorField(r,
	    PG_DIAG_MESSAGE_PRIMARY)), -1);
	PQclear(r);
	free(sql);
	return v;
}

/* Poll until the count query gives want, or fail at the deadline. */
static void
q_wait(long long want, int deadline_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
q_wait(long long want, int deadline_ms, const char *fmt, ...)
{
	double end = t_now_ms() + (double)deadline_ms * t_slow();
	va_list ap;
	char *sql;
	long long n;

	va_start(ap, fmt);
	ck_assert_int_ne(vasprintf(&sql, fmt, ap), -1);
	va_end(ap);
	while ((n = qi("%s", sql)) != want) {
		ck_assert_msg(t_now_ms() < end, "%s: %lld, want %lld", sql, n,
		    want);
		usleep(20000);
	}
	free(sql);
}

/* Wait for execution id to finish; its status (malloc'd). */
static char *
x_wait(const char *id, int deadline_ms)
{
	q_wait(1, deadline_ms, "SELECT count(*) FROM workflow_executions "
	    "WHERE id = '%s' AND finished_at IS NOT NULL", id);
	return q("SELECT status FROM workflow_executions WHERE id = '%s'", id);
}

/* The attempts of execution id: "step:attempt:status,..." (malloc'd). */
static char *
x_steps(const char *id)
{
	return q("SELECT coalesce(string_agg(step_name || ':' || attempt || "
	    "':' || status, ',' ORDER BY step_index, attempt), '') FROM "
	    "workflow_steps WHERE execution_id = '%s'", id);
}

/*
 * A definition written with ' for JSON's quotes and " for the quotes
 * of expression strings (the two swapped), stored with
 * afu9_workflow_apply() under its name.
 */
static void
wf_apply(const char *def)
{
	char *d = strdup(def), *p, *name;
	const char *params[1];
	json_t *j;
	PGresult *r;

	ck_assert_ptr_nonnull(d);
	for (p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
		else if (*p == '"')
			*p = '\'';
	ck_assert_msg((j = json_loads(d, 0, NULL)) != NULL, "%s", d);
	ck_assert_ptr_nonnull(name = strdup(json_string_value(
	    json_object_get(j, "name"))));
	json_decref(j);
	params[0] = d;
	r = PQexecParams(db(), "SELECT afu9_workflow_apply(name, NULL::integer, "
	    "NULL::text, $1::jsonb) FROM (SELECT $1::jsonb->>'name' AS name) n", 1, NULL,
	    params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", name,
	    PQresultErrorMessage(r));
	PQclear(r);
	free(name);
	free(d);
}

/* A new execution of workflow name with input (JSON); its id. */
static char *
wf_start(const char *name, const char *input)
{
	return q("SELECT id FROM afu9_execution_create((SELECT id FROM "
	    "workflows WHERE name = '%s' ORDER BY version DESC LIMIT 1), "
	    "'%s', NULL, 'test')", name, input);
}

/* ---- afu9 ---- */

struct afu9 {
	struct tproc	 p;
	char		 log[600];	/* its stderr */
};

/*
 * The afu9 processes each test process started and has not stopped: a
 * failed assertion leaves the test (or, without fork, its body) early,
 * and they are killed at its exit instead of running on without their
 * database.
 */
#define RUNNING_MAX	16
static struct {
	pid_t	 pid, owner;
} running[RUNNING_MAX];

static void
kill_running(void)
{
	size_t i;

	for (i = 0; i < RUNNING_MAX; i++)
		if (running[i].pid > 0 && running[i].owner == getpid()) {
			kill(running[i].pid, SIGKILL);
			(void)waitpid(running[i].pid, NULL, 0);
			running[i].pid = 0;
		}
}

static void
running_set(pid_t pid, int add)
{
	size_t i;

	for (i = 0; i < RUNNING_MAX; i++)
		if (add ? running[i].pid == 0 : running[i].pid == pid) {
			running[i].pid = add ? pid : 0;
			running[i].owner = getpid();
			return;
		}
	ck_assert_msg(!add, "more than %d afu9 processes", RUNNING_MAX);
}

/*
 * `afu9 serve --config config` on database ci, its stderr appended to
 * a file of tmpdir named after tag.
 */
static void
afu9_start(struct afu9 *a, const char *config, const char *tag)
{
	char *argv[] = { (char *)t_builddir("orchestrator/afu9"), "serve",
	    "--config", (char *)config, NULL };
	int fd, saved;

	snprintf(a->log, sizeof(a->log), "%s/%s.log", tmpdir, tag);
	setenv("DATABASE_URL", ci, 1);
	ck_assert_int_ge(fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND,
	    0600), 0);
	/* the child's stderr is the file: nothing to drain, nothing lost */
	ck_assert_int_ge(saved = dup(2), 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	ck_assert_int_eq(t_spawn(&a->p, argv, NULL, 0), 0);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	running_set(a->p.pid, 1);
}

/* Everything a has logged so far (malloc'd). */
static char *
afu9_log(const struct afu9 *a)
{
	char *t = NULL;
	FILE *f = fopen(a->log, "r");
	size_t len = 0;

	ck_assert_ptr_nonnull(f);
	if (getdelim(&t, &len, '\0', f) == -1) {	/* nothing yet */
		free(t);
		ck_assert_ptr_nonnull(t = strdup(""));
	}
	fclose(f);
	return t;
}

/* Wait until a's log has needle. */
static void
afu9_log_wait(const struct afu9 *a, const char *needle, int deadline_ms)
{
	double end = t_now_ms() + (double)deadline_ms * t_slow();
	char *t;

	for (;;) {
		t = afu9_log(a);
		if (strstr(t, needle) != NULL)
			break;
		ck_assert_msg(t_now_ms() < end, "no '%s' in %s", needle, t);
		free(t);
		usleep(20000);
	}
	free(t);
}

/* Stop a with sig; its wait status. */
static int
afu9_stop(struct afu9 *a, int sig)
{
	int st;

	kill(a->p.pid, sig);
	st = t_finish(&a->p, 30000 * t_slow());
	close(a->p.out);
	running_set(a->p.pid, 0);
	return st;
}

/* Wait until afu9 serve has migrated the database. */
static void
afu9_wait_schema(void)
{
	q_wait(1, 30000, "SELECT count(*) FROM pg_proc WHERE proname = "
	    "'afu9_execution_json'");
}

static const char *
conf_config(void)
{
	return ot_write_config(tmpdir, "conf.json", "{\"mcpServers\":{"
	    "\"conf\":{\"command\":\"@SERVER@\"}},\"afu9\":{\"http\":{"
	    "\"listen\":\"127.0.0.1:0\"},\"shutdownGraceMs\":5000}}");
}

/* ---- one afu9 for the step tests ---- */

static void
pg_up(void)
{
	pg = pgt_start_db(NULL);
}

static void
pg_down(void)
{
	db_close();
	free(ci);
	ci = NULL;
	pgt_stop(pg);
	pg = NULL;
}


static struct afu9 S;

static void
steps_up(void)
{
	pg_up();
	use_db("wf");
	setenv("AFU9_WORKFLOW_ENV", "WF_ZONE,WF_UNSET", 1);
	setenv("WF_ZONE", "zone-7", 1);
	unsetenv("WF_UNSET");
	setenv("WF_HIDDEN", "hidden-Kx9", 1);
	afu9_start(&S, conf_config(), "steps");
	afu9_wait_schema();
	/* migrated and claiming once a workflow runs through */
	wf_apply("{'name':'w_ping','steps':[{'id':'a','type':'tool',"
	    "'tool':'conf.add','arguments':{'a':1,'b':1}}]}");
	{
		char *id = wf_start("w_ping", "{}");

		free(x_wait(id, 30000));
		free(id);
	}
	db_close();
}

static void
steps_down(void)
{
	int st = afu9_stop(&S, SIGTERM);
	char *log = afu9_log(&S);


	/* e.g. 99: valgrind found errors in afu9 (they are in the log) */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "afu9 exited with status %d:\n%s\n", st, log);
	free(log);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "afu9 exited "
	    "with status %d", st);
	if (dbc != NULL && dbc_pid == getpid())
		PQfinish(dbc);
	dbc = NULL;
	pgt_stop(pg);
	pg = NULL;
}


#define STEPS_EQ(id, want) do {						\
	char *s_v_ = x_steps(id);					\
	ck_assert_str_eq(s_v_, want);					\
	free(s_v_);							\
} while (0)

#define WAIT_EQ(id, want) do {						\
	char *w_v_ = x_wait(id, 30000), *w_e_;				\
	w_e_ = q("SELECT coalesce(error, '') FROM workflow_executions "	\
	    "WHERE id = '%s'", id);					\
	ck_assert_msg(strcmp(w_v_, want) == 0, "%s: %s, want %s (%s)",	\
	    id, w_v_, want, w_e_);					\
	free(w_v_);							\
	free(w_e_);							\
} while (0)

/*
 * For attempts 2.. of step name of execution id: "N:ok" when attempt N
 * began at least the ms of want (a VALUES list "(2,200),(3,500)") after
 * attempt N-1 ended, else "N:short by X ms".
 */
static char *
gaps(const char *id, const char *name, const char *want)
{
	return q("SELECT string_agg(s.attempt || ':' || CASE WHEN "
	    "extract(epoch FROM s.started_at - p.finished_at) * 1000 >= v.w "
	    "THEN 'ok' ELSE 'short by ' || (v.w - extract(epoch FROM "
	    "s.started_at - p.finished_at) * 1000) || ' ms' END, ',' ORDER BY "
	    "s.attempt) FROM workflow_steps s JOIN workflow_steps p ON "
	    "p.execution_id = s.execution_id AND p.step_index = s.step_index "
	    "AND p.attempt = s.attempt - 1 JOIN (VALUES %s) v(a, w) ON v.a = "
	    "s.attempt WHERE s.execution_id = '%s' AND s.step_name = '%s'",
	    want, id, name);
}

/* ---- retry ---- */

/*
 * Backoff: attempt n begins at least min(initial * coefficient^(n-2),
 * max) after attempt n-1 ended (200, then 600 capped to 500, 500);
 * max_attempts ends it and the failure names the last attempt; every
 * attempt is one audited call.
 */
START_TEST(retry_backoff)
{
	char *id, *v;

	wf_apply("{'name':'w_backoff','steps':[{'id':'f','type':'tool',"
	    "'tool':'conf.fail','retry':{'max_attempts':4,"
	    "'initial_interval_ms':200,'backoff_coefficient':3,"
	    "'max_interval_ms':500}}]}");
	id = wf_start("w_backoff", "{}");
	WAIT_EQ(id, "failed");
	STEPS_EQ(id, "f:1:failed,f:2:failed,f:3:failed,f:4:failed");
	v = gaps(id, "f", "(2,200),(3,500),(4,500)");
	ck_assert_str_eq(v, "2:ok,3:ok,4:ok");
	free(v);
	Q_EQ("step 'f' failed (tool, attempt 4): fail: this tool always fails",
	    "SELECT error FROM workflow_executions WHERE id = '%s'", id);
	Q_EQ("4 tool fail: this tool always fails", "SELECT count(*) || ' ' "
	    "|| min(error_kind) || ' ' || min(error) FROM workflow_steps "
	    "WHERE execution_id = '%s' AND error_kind = 'tool' AND error = "
	    "'fail: this tool always fails'", id);
	q_wait(4, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND tool = 'fail' AND caller = 'workflow' "
	    "AND is_error AND step_id IN (SELECT id FROM workflow_steps WHERE "
	    "execution_id = '%s')", id, id);
	free(id);
}
END_TEST

/*
 * Kinds that are not retried: one listed in non_retryable, and an
 * expression (a reference that does not resolve, named in the error)
 * whatever max_attempts says.
 */
START_TEST(retry_non_retryable)
{
	char *a, *b;

	wf_apply("{'name':'w_nonretry','steps':[{'id':'f','type':'tool',"
	    "'tool':'conf.fail','retry':{'max_attempts':5,"
	    "'initial_interval_ms':10,'non_retryable':['tool']}}]}");
	wf_apply("{'name':'w_noref','steps':[{'id':'e','type':'tool',"
	    "'tool':'conf.echo','arguments':{'text':'${{ inputs.nope }}'},"
	    "'retry':{'max_attempts':5,'initial_interval_ms':10}}]}");
	a = wf_start("w_nonretry", "{}");
	b = wf_start("w_noref", "{\"yes\":1}");
	WAIT_EQ(a, "failed");
	WAIT_EQ(b, "failed");
	STEPS_EQ(a, "f:1:failed");
	STEPS_EQ(b, "e:1:failed");
	Q_EQ("expression true", "SELECT error_kind || ' ' || (error LIKE "
	    "'%%inputs.nope%%') FROM workflow_steps WHERE execution_id = '%s'",
	    b);
	Q_EQ("t", "SELECT error LIKE 'step ''e'' failed (expression, attempt "
	    "1): %%inputs.nope%%' FROM workflow_executions WHERE id = '%s'", b);
	/* the call was never made */
	ck_assert_int_eq(qi("SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s'", b), 0);
	free(a);
	free(b);
}
END_TEST

/*
 * timeout_ms on a slow tool: the attempt fails with kind timeout no
 * sooner than the timeout, the call is cancelled (its audit row says
 * so, the server logs the cancel), and a retry makes a second call.
 */
START_TEST(tool_timeout)
{
	char *id;

	wf_apply("{'name':'w_timeout','steps':[{'id':'nap','type':'tool',"
	    "'tool':'conf.sleep','arguments':{'ms':60000},'timeout_ms':300,"
	    "'retry':{'max_attempts':2,'initial_interval_ms':50}}]}");
	id = wf_start("w_timeout", "{}");
	WAIT_EQ(id, "failed");
	STEPS_EQ(id, "nap:1:failed,nap:2:failed");
	Q_EQ("2 timeout the step's timeout_ms passed 2", "SELECT count(*) || "
	    "' ' || min(error_kind) || ' ' || min(error) || ' ' || "
	    "count(*) FILTER (WHERE finished_at - started_at >= interval "
	    "'300 ms') FROM workflow_steps WHERE execution_id = '%s' AND "
	    "error_kind = 'timeout'", id);
	Q_EQ("step 'nap' failed (timeout, attempt 2): the step's timeout_ms "
	    "passed", "SELECT error FROM workflow_executions WHERE id = '%s'",
	    id);
	q_wait(2, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND tool = 'sleep' AND status = 'failed' AND "
	    "error_code = -32800 AND error_message = 'cancelled by the caller'",
	    id);
	afu9_log_wait(&S, "job cancelled after", 10000);
	free(id);
}
END_TEST

/* ---- if, on_error, references ---- */

#define W_FLOW "{'name':'w_flow','steps':[" \
	"{'id':'a','type':'tool','tool':'conf.add','arguments':{'a':1,'b':2}}," \
	"{'id':'t','type':'tool','tool':'conf.echo','if':'${{ true }}'," \
	"'arguments':{'text':'yes'}}," \
	"{'id':'f','type':'tool','tool':'conf.echo','if':'${{ false }}'," \
	"'arguments':{'text':'no'}}," \
	"{'id':'s','type':'tool','tool':'conf.echo'," \
	"'if':'${{ steps.f.status == \"skipped\" && steps.f.output == null }}'," \
	"'arguments':{'text':'f was ${{ steps.f.status }}'}}," \
	"{'id':'u','type':'tool','tool':'conf.echo','on_error':'continue'," \
	"'arguments':{'text':'${{ steps.f.output.x }}'}}," \
	"{'id':'v','type':'tool','tool':'conf.echo','on_error':'continue'," \
	"'if':'${{ steps.f.output.x == 1 }}','arguments':{'text':'v'}}," \
	"{'id':'c','type':'tool','tool':'conf.fail','on_error':'continue'}," \
	"{'id':'k','type':'tool','tool':'conf.echo','arguments':{'text':" \
	"'${{ steps.c.status }}: ${{ steps.c.error }}'}}," \
	"{'id':'g','type':'tool','tool':'conf.fail','retry':{'max_attempts':2," \
	"'initial_interval_ms':10},'on_error':{'goto':'z'}}," \
	"{'id':'j','type':'tool','tool':'conf.echo','arguments':{'text':'j'}}," \
	"{'id':'z','type':'tool','tool':'conf.add','arguments':{" \
	"'a':'${{ steps.a.output.sum }}','b':10}}]," \
	"'output':{'sum':'${{ steps.z.output.sum }}'," \
	"'text':'sum ${{ steps.a.output.sum }} of ${{ execution.id }}'," \
	"'k':'${{ steps.k.output }}','f':'${{ steps.f.status }}'," \
	"'g':'${{ steps.g.error }}','said':['${{ steps.t.output }}'," \
	"'${{ steps.s.output }}']}}"

/*
 * if true / false / on a skipped step (its status "skipped", its output
 * null: a reference into it does not resolve, named in the error);
 * on_error continue (the failure visible to later steps) and goto (the
 * target's attempts count from 1, the steps jumped over have no row);
 * the execution's output templates.
 */
START_TEST(flow)
{
	char *id, *want;

	wf_apply(W_FLOW);
	id = wf_start("w_flow", "{}");
	WAIT_EQ(id, "succeeded");
	STEPS_EQ(id, "a:1:succeeded,t:1:succeeded,f:1:skipped,s:1:succeeded,"
	    "u:1:failed,v:1:failed,c:1:failed,k:1:succeeded,g:1:failed,"
	    "g:2:failed,z:1:succeeded");
	ck_assert_int_ne(asprintf(&want, "{\"f\": \"skipped\", \"g\": \"fail: "
	    "this tool always fails\", \"k\": \"failed: fail: this tool always "
	    "fails\", \"sum\": 13, \"said\": [\"yes\", \"f was skipped\"], "
	    "\"text\": \"sum 3 of %s\"}", id), -1);
	Q_EQ(want, "SELECT output::text FROM workflow_executions WHERE id = "
	    "'%s'", id);
	free(want);
	Q_EQ("expression true true", "SELECT min(error_kind) || ' ' || bool_and("
	    "error LIKE '%%steps.f.output.x%%') || ' ' || bool_and(output IS "
	    "NULL) FROM workflow_steps WHERE execution_id = '%s' AND step_name "
	    "IN ('u', 'v')", id);
	/* the skipped step's row: no output, no error */
	Q_EQ("skipped  ", "SELECT status || ' ' || coalesce(output::text, '') "
	    "|| ' ' || coalesce(error, '') FROM workflow_steps WHERE "
	    "execution_id = '%s' AND step_name = 'f'", id);
	/* a, t, s, c, k, g twice, z: no call for f, u, v, j */
	q_wait(8, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s'", id);
	ck_assert_int_eq(qi("SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND tool = 'echo' AND arguments->>'text' IN "
	    "('no', 'j', 'v')", id), 0);
	free(id);
}
END_TEST

/*
 * fail_if: the tool answered, and the answer means failure: the attempt
 * fails (kind tool) keeping the answer as its output, and on_error
 * applies; an input's default stands in for a missing input.
 */
START_TEST(fail_if_and_defaults)
{
	char *a, *b;

	wf_apply("{'name':'w_failif','inputs':{'type':'object','properties':"
	    "{'n':{'type':'integer','default':2}}},'steps':["
	    "{'id':'a','type':'tool','tool':'conf.add','arguments':{'a':"
	    "'${{ inputs.n }}','b':1},'fail_if':'${{ steps.a.output.sum > 2 }}',"
	    "'on_error':'continue'},"
	    "{'id':'b','type':'tool','tool':'conf.add','arguments':{'a':1,"
	    "'b':1},'fail_if':'${{ steps.b.output.sum > 2 }}'}],"
	    "'output':{'a':'${{ steps.a.status }}','n':'${{ inputs.n }}'}}");
	a = wf_start("w_failif", "{}");
	b = wf_start("w_failif", "{\"n\":0}");
	WAIT_EQ(a, "succeeded");
	WAIT_EQ(b, "succeeded");
	STEPS_EQ(a, "a:1:failed,b:1:succeeded");
	Q_EQ("tool fail_if held: ${{ steps.a.output.sum > 2 }} 3", "SELECT "
	    "error_kind || ' ' || error || ' ' || (output->>'sum') FROM "
	    "workflow_steps WHERE execution_id = '%s' AND step_name = 'a'", a);
	/* the default in the context, the stored input as given */
	Q_EQ("{\"a\": \"failed\", \"n\": 2} {}", "SELECT output::text || ' ' || "
	    "input::text FROM workflow_executions WHERE id = '%s'", a);
	STEPS_EQ(b, "a:1:succeeded,b:1:succeeded");
	Q_EQ("{\"a\": \"succeeded\", \"n\": 0}", "SELECT output::text FROM "
	    "workflow_executions WHERE id = '%s'", b);
	free(a);
	free(b);
}
END_TEST

/*
 * A goto that jumps back is refused when the execution loads its
 * definition (a cycle), naming the step; a step after a goto that
 * references a step jumped over fails naming the reference; an output
 * template that does not resolve fails the execution.
 */
START_TEST(goto_back_and_refs)
{
	char *a, *b, *c;

	wf_apply("{'name':'w_back','steps':[{'id':'a','type':'tool',"
	    "'tool':'conf.add','arguments':{'a':1,'b':1}},{'id':'b',"
	    "'type':'tool','tool':'conf.fail','on_error':{'goto':'a'}}]}");
	wf_apply("{'name':'w_over','steps':[{'id':'a','type':'tool',"
	    "'tool':'conf.fail','on_error':{'goto':'c'}},{'id':'b',"
	    "'type':'tool','tool':'conf.echo','arguments':{'text':'b'}},"
	    "{'id':'c','type':'tool','tool':'conf.echo','arguments':{'text':"
	    "'${{ steps.b.status }}'}}]}");
	wf_apply("{'name':'w_outbad','steps':[{'id':'a','type':'tool',"
	    "'tool':'conf.add','arguments':{'a':1,'b':1}}],"
	    "'output':{'x':'${{ steps.a.output.nosuch }}'}}");
	a = wf_start("w_back", "{}");
	b = wf_start("w_over", "{}");
	c = wf_start("w_outbad", "{}");
	WAIT_EQ(a, "failed");
	WAIT_EQ(b, "failed");
	WAIT_EQ(c, "failed");
	STEPS_EQ(a, "");
	Q_EQ("t", "SELECT error LIKE 'definition: step ''b'': %%goto%%' FROM "
	    "workflow_executions WHERE id = '%s'", a);
	STEPS_EQ(b, "a:1:failed,c:1:failed");
	Q_EQ("expression true", "SELECT error_kind || ' ' || (error LIKE "
	    "'%%steps.b%%') FROM workflow_steps WHERE execution_id = '%s' AND "
	    "step_name = 'c'", b);
	STEPS_EQ(c, "a:1:succeeded");
	Q_EQ("true true", "SELECT (error LIKE 'output: %%steps.a.output.nosuch%%') "
	    "|| ' ' || (output IS NULL) FROM workflow_executions WHERE id = "
	    "'%s'", c);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* ---- env ---- */

/*
 * ${{ env.NAME }} resolves the names AFU9_WORKFLOW_ENV lists and no
 * other (a variable set in afu9's environment but not listed fails the
 * step by name, its value nowhere); a listed name that is not set does
 * not resolve either.
 */
START_TEST(env_refs)
{
	char *a, *b, *c;

	wf_apply("{'name':'w_env','steps':[{'id':'e','type':'tool',"
	    "'tool':'conf.echo','arguments':{'text':'in ${{ env.WF_ZONE }}'}}],"
	    "'output':'${{ env.WF_ZONE }}'}");
	wf_apply("{'name':'w_envno','steps':[{'id':'e','type':'tool',"
	    "'tool':'conf.echo','arguments':{'text':'${{ env.WF_HIDDEN }}'}}]}");
	wf_apply("{'name':'w_envunset','steps':[{'id':'e','type':'tool',"
	    "'tool':'conf.echo','arguments':{'text':'${{ env.WF_UNSET }}'}}]}");
	a = wf_start("w_env", "{}");
	b = wf_start("w_envno", "{}");
	c = wf_start("w_envunset", "{}");
	WAIT_EQ(a, "succeeded");
	WAIT_EQ(b, "failed");
	WAIT_EQ(c, "failed");
	Q_EQ("\"in zone-7\" \"zone-7\"", "SELECT s.output::text || ' ' || "
	    "x.output::text FROM workflow_steps s JOIN workflow_executions x ON "
	    "x.id = s.execution_id WHERE x.id = '%s'", a);
	Q_EQ("expression true", "SELECT error_kind || ' ' || (error LIKE "
	    "'%%env.WF_HIDDEN%%') FROM workflow_steps WHERE execution_id = "
	    "'%s'", b);
	Q_EQ("expression true", "SELECT error_kind || ' ' || (error LIKE "
	    "'%%env.WF_UNSET%%') FROM workflow_steps WHERE execution_id = "
	    "'%s'", c);
	ck_assert_int_eq(qi("SELECT count(*) FROM workflow_steps s WHERE "
	    "s::text LIKE '%%hidden-Kx9%%'"), 0);
	ck_assert_int_eq(qi("SELECT count(*) FROM workflow_executions x WHERE "
	    "x::text LIKE '%%hidden-Kx9%%'"), 0);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* ---- oversize outputs ---- */

/*
 * An answer past ENGINE_OUTPUT_MAX (1 MiB) is stored as a note of its
 * size, never cut: just past it, and past twice it; a later step sees
 * the note.
 */
START_TEST(oversize)
{
	char *id;

	wf_apply("{'name':'w_big','steps':["
	    "{'id':'fits','type':'tool','tool':'conf.big','arguments':"
	    "{'bytes':1000000}},"
	    "{'id':'past','type':'tool','tool':'conf.big','arguments':"
	    "{'bytes':1100000}},"
	    "{'id':'far','type':'tool','tool':'conf.big','arguments':"
	    "{'bytes':3000000}},"
	    "{'id':'see','type':'tool','tool':'conf.echo','arguments':"
	    "{'text':'note: ${{ steps.far.output }}'}}]}");
	id = wf_start("w_big", "{}");
	WAIT_EQ(id, "succeeded");
	STEPS_EQ(id, "fits:1:succeeded,past:1:succeeded,far:1:succeeded,"
	    "see:1:succeeded");
	Q_EQ("1000000", "SELECT length(output #>> '{}') FROM workflow_steps "
	    "WHERE execution_id = '%s' AND step_name = 'fits'", id);
	Q_EQ("{\"bytes\": 1100002, \"truncated\": true}", "SELECT "
	    "output::text FROM workflow_steps WHERE execution_id = '%s' AND "
	    "step_name = 'past'", id);
	Q_EQ("{\"bytes\": 3000000, \"truncated\": true}", "SELECT "
	    "output::text FROM workflow_steps WHERE execution_id = '%s' AND "
	    "step_name = 'far'", id);
	Q_EQ("\"note: {\\\"truncated\\\":true,\\\"bytes\\\":3000000}\"", "SELECT "
	    "output::text FROM workflow_steps WHERE execution_id = '%s' AND "
	    "step_name = 'see'", id);
	free(id);
}
END_TEST

/* ---- wait ---- */

/*
 * A wait step calls its read-only tool every interval_ms (the calls at
 * least that far apart) until `until` holds on the latest answer; one
 * that never holds fails with kind timeout, not before the last poll
 * that timeout_ms leaves room for.
 */
START_TEST(wait_until)
{
	char *a, *b, *v;

	wf_apply("{'name':'w_wait','steps':[{'id':'w','type':'wait',"
	    "'tool':'conf.count','arguments':{'name':'w-${{ execution.id }}'},"
	    "'interval_ms':100,'until':'${{ steps.w.output.n >= 3 }}',"
	    "'timeout_ms':60000}],'output':'${{ steps.w.output.n }}'}");
	wf_apply("{'name':'w_waitto','steps':[{'id':'w','type':'wait',"
	    "'tool':'conf.add','arguments':{'a':1,'b':1},'interval_ms':200,"
	    "'until':'${{ steps.w.output.sum == 3 }}','timeout_ms':1000}]}");
	a = wf_start("w_wait", "{}");
	b = wf_start("w_waitto", "{}");
	WAIT_EQ(a, "succeeded");
	WAIT_EQ(b, "failed");
	STEPS_EQ(a, "w:1:succeeded");
	Q_EQ("3 {\"n\": 3}", "SELECT x.output::text || ' ' || s.output::text "
	    "FROM workflow_steps s JOIN workflow_executions x ON x.id = "
	    "s.execution_id WHERE x.id = '%s'", a);
	q_wait(3, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND tool = 'count'", a);
	v = q("SELECT string_agg(CASE WHEN gap >= 99 THEN 'ok' ELSE gap::text "
	    "END, ',') FROM (SELECT extract(epoch FROM started_at - lag("
	    "started_at) OVER (ORDER BY started_at)) * 1000 AS gap FROM "
	    "mcp_tool_calls WHERE execution_id = '%s') g WHERE gap IS NOT NULL",
	    a);
	ck_assert_str_eq(v, "ok,ok");
	free(v);
	STEPS_EQ(b, "w:1:failed");
	Q_EQ("timeout 'until' did not hold within timeout_ms (1000 ms) true",
	    "SELECT error_kind || ' ' || error || ' ' || (finished_at - "
	    "started_at >= interval '800 ms') FROM workflow_steps WHERE "
	    "execution_id = '%s'", b);
	ck_assert_int_ge(qi("SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND tool = 'add'", b), 1);
	free(a);
	free(b);
}
END_TEST

/* ---- approvals ---- */

#define W_APPR "{'name':'w_appr','steps':[{'id':'ok','type':'approval'," \
	"'message':'ship ${{ inputs.n }}?'},{'id':'after','type':'tool'," \
	"'tool':'conf.echo','arguments':{'text':" \
	"'${{ steps.ok.output.comment }} by ${{ steps.ok.output.by }}'}}]}"

/* Wait until execution id waits (parked) for its approval step. */
static void
wait_approval(const char *id)
{
	q_wait(1, 30000, "SELECT count(*) FROM workflow_executions x JOIN "
	    "workflow_steps s ON s.execution_id = x.id WHERE x.id = '%s' AND "
	    "x.status = 'waiting' AND x.run_after = 'infinity' AND "
	    "s.kind = 'approval' AND s.status = 'running'", id);
}

/*
 * Approved: the step's output {approved, by, comment}, decided_by, the
 * execution goes on; deciding again or an unknown step or execution is
 * refused (AF002).  Rejected: the step fails with kind rejected, the
 * execution fails naming it, and nothing after it runs.
 */
START_TEST(approvals)
{
	char *a, *b, *v;

	wf_apply(W_APPR);
	a = wf_start("w_appr", "{\"n\":5}");
	b = wf_start("w_appr", "{\"n\":6}");
	wait_approval(a);
	wait_approval(b);
	Q_EQ("{\"message\": \"ship 5?\"}", "SELECT input::text FROM "
	    "workflow_steps WHERE execution_id = '%s'", a);
	v = q_err("SELECT afu9_decide('%s', 'nope', true, 'alice', NULL)", a);
	ck_assert_msg(strncmp(v, "AF002 ", 6) == 0 && strstr(v,
	    "not waiting for an approval of step nope"), "%s", v);
	free(v);
	v = q_err("SELECT afu9_decide('00000000-0000-4000-8000-000000000000', "
	    "'ok', true, 'alice', NULL)");
	ck_assert_str_eq(v, "AF002 no execution "
	    "00000000-0000-4000-8000-000000000000");
	free(v);
	free(q("SELECT afu9_decide('%s', 'ok', true, 'alice', 'ship it')", a));
	v = q_err("SELECT afu9_decide('%s', 'ok', false, 'mallory', NULL)", a);
	ck_assert_msg(strncmp(v, "AF002 ", 6) == 0, "%s", v);
	free(v);
	free(q("SELECT afu9_decide('%s', 'ok', false, 'bob', 'not now')", b));
	WAIT_EQ(a, "succeeded");
	WAIT_EQ(b, "failed");
	STEPS_EQ(a, "ok:1:succeeded,after:1:succeeded");
	Q_EQ("alice {\"by\": \"alice\", \"comment\": \"ship it\", \"approved\": "
	    "true} \"ship it by alice\"", "SELECT s.decided_by || ' ' || "
	    "s.output::text || ' ' || (SELECT output::text FROM workflow_steps "
	    "WHERE execution_id = s.execution_id AND step_name = 'after') FROM "
	    "workflow_steps s WHERE s.execution_id = '%s' AND s.step_name = "
	    "'ok'", a);
	STEPS_EQ(b, "ok:1:failed");
	Q_EQ("bob rejected rejected by bob: not now", "SELECT decided_by || ' ' "
	    "|| error_kind || ' ' || error FROM workflow_steps WHERE "
	    "execution_id = '%s'", b);
	Q_EQ("step 'ok' failed (rejected, attempt 1): rejected by bob: not now",
	    "SELECT error FROM workflow_executions WHERE id = '%s'", b);
	/* a decision after the end changes nothing */
	v = q_err("SELECT afu9_decide('%s', 'ok', true, 'bob', NULL)", b);
	ck_assert_msg(strncmp(v, "AF002 ", 6) == 0 && strstr(v, "failed"),
	    "%s", v);
	free(v);
	Q_EQ("failed ok:1:failed", "SELECT status || ' ' || (SELECT "
	    "string_agg(step_name || ':' || attempt || ':' || status, ',') FROM "
	    "workflow_steps WHERE execution_id = '%s') FROM "
	    "workflow_executions WHERE id = '%s'", b, b);
	free(a);
	free(b);
}
END_TEST

/* ---- cancel ---- */

/*
 * Cancel mid-tool: the execution and its running step end cancelled at
 * once, the call in flight is cancelled (its audit row, the server's
 * log), and no further step begins.  Cancel of an execution waiting for
 * an approval: cancelled, and a decision afterwards is refused.  A
 * second cancel changes nothing.
 */
START_TEST(cancel)
{
	char *a, *b, *v;

	wf_apply("{'name':'w_cancel','steps':[{'id':'a','type':'tool',"
	    "'tool':'conf.add','arguments':{'a':1,'b':1}},{'id':'nap',"
	    "'type':'tool','tool':'conf.sleep','arguments':{'ms':120000}},"
	    "{'id':'c','type':'tool','tool':'conf.add','arguments':{'a':2,"
	    "'b':2}}]}");
	wf_apply(W_APPR);
	a = wf_start("w_cancel", "{}");
	b = wf_start("w_appr", "{\"n\":1}");
	q_wait(1, 30000, "SELECT count(*) FROM workflow_steps WHERE "
	    "execution_id = '%s' AND step_name = 'nap' AND status = 'running'",
	    a);
	wait_approval(b);
	/* the call is sent once its row is there: give it that long */
	usleep(300000);
	Q_EQ("cancelled", "SELECT afu9_cancel('%s', 'carol')", a);
	Q_EQ("cancelled", "SELECT afu9_cancel('%s', 'dave')", b);
	Q_EQ("cancelled", "SELECT afu9_cancel('%s', 'erin')", a);
	Q_EQ("cancelled carol cancelled by carol", "SELECT status || ' ' || "
	    "cancelled_by || ' ' || error FROM workflow_executions WHERE id = "
	    "'%s' AND finished_at IS NOT NULL", a);
	STEPS_EQ(a, "a:1:succeeded,nap:1:cancelled");
	Q_EQ("cancelled cancelled by carol", "SELECT error_kind || ' ' || "
	    "error FROM workflow_steps WHERE execution_id = '%s' AND step_name "
	    "= 'nap'", a);
	/* the call ends long before its 120 s */
	q_wait(1, 20000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND tool = 'sleep' AND status = 'failed' AND "
	    "error_code = -32800", a);
	afu9_log_wait(&S, "job cancelled after", 10000);
	STEPS_EQ(b, "ok:1:cancelled");
	v = q_err("SELECT afu9_decide('%s', 'ok', true, 'alice', NULL)", b);
	ck_assert_msg(strncmp(v, "AF002 ", 6) == 0, "%s", v);
	free(v);
	/* nothing after: let the engine have a chance to do wrong */
	usleep(500000);
	STEPS_EQ(a, "a:1:succeeded,nap:1:cancelled");
	ck_assert_int_eq(qi("SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s'", a), 2);
	Q_EQ("cancelled", "SELECT status FROM workflow_executions WHERE id = "
	    "'%s'", b);
	free(a);
	free(b);
}
END_TEST

/* ---- sleeps across restarts ---- */

#define W_NAP "{'name':'w_nap','steps':[{'id':'s','type':'sleep'," \
	"'duration_ms':%d},{'id':'e','type':'tool','tool':'conf.echo'," \
	"'arguments':{'text':'woke'}}]}"

/* Wait until execution id is parked in its sleep step s. */
static void
wait_parked(const char *id)
{
	q_wait(1, 30000, "SELECT count(*) FROM workflow_executions x JOIN "
	    "workflow_steps s ON s.execution_id = x.id WHERE x.id = '%s' AND "
	    "x.status = 'waiting' AND x.lease_owner IS NULL AND x.run_after > "
	    "now() AND s.step_name = 's' AND s.status = 'running'", id);
}

/*
 * Check that sleep step s of execution id ended no sooner than its
 * stored time (and the duration, when given), and that the next step
 * began after it.
 */
static void
check_slept(const char *id, int duration_ms)
{
	Q_EQ("s:1:succeeded,e:1:succeeded", "SELECT string_agg(step_name || "
	    "':' || attempt || ':' || status, ',' ORDER BY step_index, "
	    "attempt) FROM workflow_steps WHERE execution_id = '%s'", id);
	/* the duration counts from the engine's start of the attempt,
	   before its row was written: after the execution's first claim */
	Q_EQ("true true true true", "SELECT (s.finished_at >= to_timestamp(("
	    "s.input->>'until_ms')::float8 / 1000)) || ' ' || (s.output = "
	    "s.input) || ' ' || (s.finished_at - x.started_at >= %d * "
	    "interval '1 ms') || ' ' || (e.started_at >= s.finished_at) FROM "
	    "workflow_steps s JOIN workflow_steps e ON e.execution_id = "
	    "s.execution_id AND e.step_name = 'e' JOIN workflow_executions x "
	    "ON x.id = s.execution_id WHERE s.execution_id = '%s' AND "
	    "s.step_name = 's'", duration_ms, id);
}

/*
 * A sleep longer than the time a task holds an execution parks it: its
 * time is stored, so neither SIGTERM nor SIGKILL of afu9 loses it, and
 * a new afu9 ends it at that time and not before (duration_ms, an
 * `until` from the input, one in the past).  Cancelling a parked and a
 * pending execution (no engine running) ends them for good.
 */
START_TEST(sleep_durable)
{
	char *nap, *until, *past, *parked, *pending, *at, def[512];
	int d = 3000 * t_slow(), st;
	struct afu9 a, b, c;

	use_db("wfsleep");
	setenv("AFU9_LEASE_TTL_MS", "1000", 1);	/* held up to 500 ms */
	afu9_start(&a, conf_config(), "sleep-a");
	afu9_wait_schema();
	snprintf(def, sizeof(def), W_NAP, d);
	wf_apply(def);
	wf_apply("{'name':'w_until','steps':[{'id':'s','type':'sleep',"
	    "'until':'${{ inputs.at }}'},{'id':'e','type':'tool',"
	    "'tool':'conf.echo','arguments':{'text':'woke'}}]}");
	wf_apply("{'name':'w_past','steps':[{'id':'s','type':'sleep',"
	    "'until':'2020-01-01T00:00:00Z'},{'id':'e','type':'tool',"
	    "'tool':'conf.echo','arguments':{'text':'woke'}}]}");
	at = q("SELECT to_char((now() + %d * interval '1 ms') AT TIME ZONE "
	    "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", d + 500);
	nap = wf_start("w_nap", "{}");
	parked = wf_start("w_nap", "{}");
	{
		char in[128];

		snprintf(in, sizeof(in), "{\"at\":\"%s\"}", at);
		until = wf_start("w_until", in);
	}
	past = wf_start("w_past", "{}");
	wait_parked(nap);
	wait_parked(until);
	wait_parked(parked);
	WAIT_EQ(past, "succeeded");
	Q_EQ("s:1:succeeded,e:1:succeeded", "SELECT string_agg(step_name || "
	    "':' || attempt || ':' || status, ',' ORDER BY step_index) FROM "
	    "workflow_steps WHERE execution_id = '%s'", past);
	Q_EQ("1577836800000", "SELECT (output->>'until_ms')::float8 FROM "
	    "workflow_steps "
	    "WHERE execution_id = '%s' AND step_name = 's'", past);
	Q_EQ("t", "SELECT (input->>'at')::timestamptz = to_timestamp(("
	    "SELECT (s.input->>'until_ms')::float8 / 1000 FROM workflow_steps "
	    "s WHERE s.execution_id = x.id AND s.step_name = 's')) FROM "
	    "workflow_executions x WHERE id = '%s'", until);
	Q_EQ("cancelled", "SELECT afu9_cancel('%s', 'test')", parked);
	st = afu9_stop(&a, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	/* nothing runs now: a pending execution, cancelled */
	pending = wf_start("w_nap", "{}");
	Q_EQ("pending", "SELECT status FROM workflow_executions WHERE id = "
	    "'%s'", pending);
	Q_EQ("cancelled", "SELECT afu9_cancel('%s', 'test')", pending);
	afu9_start(&b, conf_config(), "sleep-b");
	afu9_log_wait(&b, "(port ", 30000);
	st = afu9_stop(&b, SIGKILL);
	ck_assert(WIFSIGNALED(st));
	Q_EQ("waiting waiting", "SELECT string_agg(status, ' ') FROM "
	    "workflow_executions WHERE id IN ('%s', '%s')", nap, until);
	afu9_start(&c, conf_config(), "sleep-c");
	WAIT_EQ(nap, "succeeded");
	WAIT_EQ(until, "succeeded");
	check_slept(nap, d);
	check_slept(until, 0);
	Q_EQ("t", "SELECT finished_at >= '%s'::timestamptz FROM workflow_steps "
	    "WHERE execution_id = '%s' AND step_name = 's'", at, until);
	/* the cancelled ones never went on */
	Q_EQ("cancelled s:1:cancelled", "SELECT x.status || ' ' || "
	    "string_agg(s.step_name || ':' || s.attempt || ':' || s.status, ',') "
	    "FROM workflow_executions x JOIN workflow_steps s ON "
	    "s.execution_id = x.id WHERE x.id = '%s' GROUP BY x.status",
	    parked);
	STEPS_EQ(pending, "");
	Q_EQ("cancelled", "SELECT status FROM workflow_executions WHERE id = "
	    "'%s'", pending);
	st = afu9_stop(&c, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	unsetenv("AFU9_LEASE_TTL_MS");
	free(at);
	free(nap);
	free(until);
	free(past);
	free(parked);
	free(pending);
}
END_TEST

/* ---- the built-in workflows ---- */

static struct tproc moto;
static int moto_port;
static char moto_why[4200];

#define AKID	"AKIDAFU9WFSTEPSTEST"
#define SECRET	"wFst3psSECRETkeyAFU9/K7MDENG+bPxRfiCYEXAMPLE"

/*
 * One unsigned call to moto (it checks no signature): op of service
 * ("ecs" or "monitoring"), body JSON; the answer's body (malloc'd).
 */
static char *
moto_call(const char *service, const char *op, const char *body)
{
	int ecs = strcmp(service, "ecs") == 0, st;
	char *req, *out;

	ck_assert_int_ne(asprintf(&req, "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d"
	    "\r\nX-Amz-Target: %s.%s\r\nContent-Type: application/x-amz-json-"
	    "%s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=" AKID
	    "/20240101/us-east-1/%s/aws4_request, SignedHeaders=host, "
	    "Signature=0\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n"
	    "%s", moto_port, ecs ? "AmazonEC2ContainerServiceV20141113" :
	    "GraniteServiceVersion20100801", op, ecs ? "1.1" : "1.0", service,
	    strlen(body), body), -1);
	st = ot_http_raw(moto_port, req, &out);
	ck_assert_msg(st == 200, "%s: %d %s", op, st, out);
	free(req);
	return out;
}

static char *
moto_ecs(const char *op, const char *body)
{
	return moto_call("ecs", op, body);
}

static void
builtins_up(void)
{
	pg_up();
	fc_start();
	moto_port = fc_moto_start(&moto, moto_why, sizeof(moto_why));
}

static void
builtins_down(void)
{
	if (moto.pid > 0) {
		t_finish(&moto, 10000);
		close(moto.out);
	}
	fc_stop(10000);
	pg_down();
}

/*
 * deploy_and_verify against moto: applied by afu9 serve at start (its
 * servers are there), run to its end: the service rolled to the task
 * definition asked for, a deployment that settled (moto completes one of
 * desiredCount 0 at once), health and alarms read, no rollback; one
 * audited call per step.  Then with an alarm firing: the rollback runs
 * and fails as moto can only make it fail.  The secret key in no row.
 */
START_TEST(deploy_and_verify)
{
	char cfg[2048], *id, *in, *v;
	struct afu9 a;
	int st;

	if (moto_port == 0) {
		if (fc_tool_wanted(0, moto_why, "deploy_and_verify"))
			ck_abort_msg("moto_server not available: %s", moto_why);
		return;
	}
	use_db("wfdeploy");
	free(moto_ecs("CreateCluster", "{\"clusterName\":\"wf\"}"));
	free(moto_ecs("RegisterTaskDefinition", "{\"family\":\"web\","
	    "\"containerDefinitions\":[{\"name\":\"app\",\"image\":\"nginx:1\","
	    "\"memory\":128}]}"));
	free(moto_ecs("RegisterTaskDefinition", "{\"family\":\"web\","
	    "\"containerDefinitions\":[{\"name\":\"app\",\"image\":\"nginx:2\","
	    "\"memory\":128}]}"));
	free(moto_ecs("CreateService", "{\"cluster\":\"wf\",\"serviceName\":"
	    "\"api\",\"taskDefinition\":\"web:1\",\"desiredCount\":0}"));
	snprintf(cfg, sizeof(cfg), "{\"mcpServers\":{"
	    "\"deploy\":{\"command\":\"%s\",\"args\":[\"--allow-write\"],"
	    "\"env\":{@AWS@}},\"observability\":{\"command\":\"%s\","
	    "\"env\":{@AWS@}}},\"afu9\":{\"http\":{\"listen\":"
	    "\"127.0.0.1:0\"},\"shutdownGraceMs\":5000}}",
	    t_builddir("servers/deploy/afu9-deploy"),
	    t_builddir("servers/observability/afu9-observability"));
	{
		char aws[512], *o, *at;
		char full[4096];

		snprintf(aws, sizeof(aws), "\"AWS_REGION\":\"us-east-1\","
		    "\"AWS_ENDPOINT_URL\":\"http://127.0.0.1:%d\","
		    "\"AWS_ACCESS_KEY_ID\":\"" AKID "\","
		    "\"AWS_SECRET_ACCESS_KEY\":\"" SECRET "\","
		    "\"AWS_CONFIG_FILE\":\"/nonexistent/afu9-test/config\","
		    "\"AWS_SHARED_CREDENTIALS_FILE\":"
		    "\"/nonexistent/afu9-test/credentials\"", moto_port);
		full[0] = '\0';
		for (o = cfg; (at = strstr(o, "@AWS@")) != NULL; o = at + 5)
			snprintf(full + strlen(full), sizeof(full) -
			    strlen(full), "%.*s%s", (int)(at - o), o, aws);
		snprintf(full + strlen(full), sizeof(full) - strlen(full),
		    "%s", o);
		snprintf(cfg, sizeof(cfg), "%s", full);
	}
	unsetenv("AFU9_WORKFLOWS_DIR");	/* the source tree's */
	setenv("AFU9_WORKFLOWS_DIR", t_srcdir("workflows"), 1);
	afu9_start(&a, ot_write_config(tmpdir, "deploy.json", cfg), "deploy");
	afu9_wait_schema();
	q_wait(1, 30000, "SELECT count(*) FROM workflows WHERE name = "
	    "'deploy_and_verify'");
	/* issue_to_pr names github tools this configuration lacks */
	ck_assert_int_eq(qi("SELECT count(*) FROM workflows WHERE name = "
	    "'issue_to_pr'"), 0);
	in = "{\"cluster\":\"wf\",\"service\":\"api\",\"taskDefinition\":"
	    "\"web:2\",\"alarmNamePrefix\":\"api-\"}";
	id = wf_start("deploy_and_verify", in);
	WAIT_EQ(id, "succeeded");
	STEPS_EQ(id, "deploy:1:succeeded,settle:1:succeeded,"
	    "health:1:succeeded,alarms:1:succeeded,rollback:1:skipped");
	v = q("SELECT output::text FROM workflow_executions WHERE id = '%s'",
	    id);
	ck_assert_msg(strstr(v, "\"settled\": true") &&
	    strstr(v, "\"rolledBack\": false") &&
	    strstr(v, "\"alarmsInAlarm\": 0"), "%s", v);
	free(v);
	Q_EQ("stable", "SELECT output->>'verdict' FROM workflow_steps WHERE "
	    "execution_id = '%s' AND step_name = 'settle'", id);
	/* one call each; the write carried the engine's key */
	q_wait(4, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND caller = 'workflow'", id);
	Q_EQ("getAlarmStatus,getServiceHealth,getServiceStatus,updateService",
	    "SELECT string_agg(tool, ',' ORDER BY tool) FROM mcp_tool_calls "
	    "WHERE execution_id = '%s'", id);
	Q_EQ("t", "SELECT idempotency_key LIKE 'afu9:' || execution_id || "
	    "':deploy:1' FROM workflow_steps WHERE execution_id = '%s' AND "
	    "step_name = 'deploy'", id);
	/* moto has the service on web:2 now */
	v = moto_ecs("DescribeServices", "{\"cluster\":\"wf\",\"services\":"
	    "[\"api\"]}");
	ck_assert_msg(strstr(v, "\"taskDefinition\": \"web:2\""), "%s", v);
	free(v);
	free(id);
	/*
	 * An alarm in ALARM: the rollback runs; moto keeps one deployment,
	 * so rollbackService says there is nothing to roll back to, and the
	 * execution fails naming the step.
	 */
	free(moto_call("monitoring", "PutMetricAlarm", "{\"AlarmName\":"
	    "\"api-5xx\",\"MetricName\":\"HTTPCode_Target_5XX_Count\","
	    "\"Namespace\":\"AWS/ApplicationELB\",\"Statistic\":\"Sum\","
	    "\"Period\":60,\"EvaluationPeriods\":1,\"Threshold\":1,"
	    "\"ComparisonOperator\":\"GreaterThanThreshold\"}"));
	free(moto_call("monitoring", "SetAlarmState", "{\"AlarmName\":"
	    "\"api-5xx\",\"StateValue\":\"ALARM\",\"StateReason\":"
	    "\"test\"}"));
	id = wf_start("deploy_and_verify", in);
	WAIT_EQ(id, "failed");
	STEPS_EQ(id, "deploy:1:succeeded,settle:1:succeeded,"
	    "health:1:succeeded,alarms:1:succeeded,rollback:1:failed");
	Q_EQ("1", "SELECT output->>'count' FROM workflow_steps WHERE "
	    "execution_id = '%s' AND step_name = 'alarms'", id);
	Q_EQ("tool true", "SELECT error_kind || ' ' || (error LIKE "
	    "'nothing to roll back to%%') FROM workflow_steps WHERE "
	    "execution_id = '%s' AND step_name = 'rollback'", id);
	Q_EQ("t", "SELECT error LIKE 'step ''rollback'' failed (tool, attempt "
	    "1): nothing to roll back to%%' FROM workflow_executions WHERE id "
	    "= '%s'", id);
	q_wait(5, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s'", id);
	ck_assert_int_eq(qi("SELECT count(*) FROM mcp_tool_calls t WHERE "
	    "t::text LIKE '%%" SECRET "%%'"), 0);
	ck_assert_int_eq(qi("SELECT count(*) FROM workflow_steps s WHERE "
	    "s::text LIKE '%%" SECRET "%%'"), 0);
	st = afu9_stop(&a, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	v = afu9_log(&a);
	ck_assert_ptr_null(strstr(v, SECRET));
	ck_assert_msg(strstr(v, "issue_to_pr.json: step 'write': field "
	    "'tools[0]': unknown tool 'github.getIssue'"), "%s", v);
	free(v);
	unsetenv("AFU9_WORKFLOWS_DIR");
	free(id);
}
END_TEST

/* Answer method on path (exact; a prefix when it ends in '*') with
   status and the body named in responses.json, times uses (0: always). */
static void
gh_on(json_t *R, const char *method, const char *path, int status,
    const char *name, int times)
{
	size_t n = strlen(path);
	json_t *spec = json_pack("{s:i, s:i, s:{s:s, s:s%}}", "status", status,
	    "times", times, "match", "method", method, path[n - 1] == '*' ?
	    "prefix" : "path", path, path[n - 1] == '*' ? n - 1 : n);

	ck_assert_ptr_nonnull(spec);
	if (name != NULL && strcmp(name, "[]") == 0)
		json_object_set_new(spec, "json", json_array());
	else if (name != NULL) {
		ck_assert_msg(json_object_get(R, name) != NULL, "no %s", name);
		json_object_set(spec, "json", json_object_get(R, name));
	}
	fc_push(spec);
}

/* "METHOD target" of every request the fault server saw, one a line
   (malloc'd). */
static char *
gh_requests(void)
{
	json_t *a = fc_requests(), *r;
	char *out = strdup(""), *t;
	size_t i;

	json_array_foreach(a, i, r) {
		ck_assert_int_ne(asprintf(&t, "%s%s %s\n", out,
		    json_string_value(json_object_get(r, "method")),
		    json_string_value(json_object_get(r, "target")) ?
		    json_string_value(json_object_get(r, "target")) :
		    json_string_value(json_object_get(r, "path"))), -1);
		free(out);
		out = t;
	}
	json_decref(a);
	return out;
}

#define GH_TOKEN	"tok-Wfst3ps-7Hq2Lx9-faultserver"
#define LLM_KEY		"sk-ant-e2e-Pq7Lw2Zr9Vb4"	/* t/fixtures/llm/issue-to-pr*.json */
#define E2E_COMMIT	"7638417db6d59f3c431d3e1f261cc637155684cd"

/* The scripted model (t/llmserver.py), one per test, and its port. */
static struct tproc llm;
static int llm_port;

static void
llm_start(const char *fixture)
{
	char *line = fc_tool_start(&llm, "t/llmserver.py", 10000), path[4096];
	json_t *r;

	ck_assert_msg(line != NULL, "t/llmserver.py did not start");
	llm_port = atoi(line);
	free(line);
	snprintf(path, sizeof(path), "%s", t_srcdir(fixture));
	r = fc_proc_cmd(&llm, "llmserver", json_pack("{s:s, s:s}", "cmd",
	    "load", "file", path));
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "%s: %s",
	    fixture, json_string_value(json_object_get(r, "error")));
	json_decref(r);
}

/* The model was asked exactly its script: no violation, every turn. */
static void
llm_done(void)
{
	json_t *r = fc_proc_cmd(&llm, "llmserver", json_pack("{s:s}", "cmd",
	    "requests"));
	char *v = json_dumps(json_object_get(r, "violations"), 0);

	ck_assert_msg(json_array_size(json_object_get(r, "violations")) == 0,
	    "llmserver violations: %s", v);
	ck_assert_msg(json_is_true(json_object_get(r, "done")), "turn %lld "
	    "of %lld", json_integer_value(json_object_get(r, "turn")),
	    json_integer_value(json_object_get(r, "turns")));
	free(v);
	json_decref(r);
}

static void
llm_stop(void)
{
	close(llm.in);
	llm.in = -1;
	t_finish(&llm, 10000);
	close(llm.out);
}

/*
 * GitHub as issue_to_pr sees it (t/fixtures/github/responses.json): the
 * issue, the tree and two files for the agent, a branch, pushes, a
 * draft pull request #10 whose head is E2E_COMMIT; that commit's check
 * run failed the first time it is read when fail_first, passed after.
 */
static void
gh_script_issue_to_pr(json_t *R, int fail_first)
{
	fc_reset();
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:{s:s}}}", "cmd",
	    "default", "response", "status", 404, "json", "message",
	    "Not Found")));
	gh_on(R, "GET", "/repos/acme/widgets", 200, "repo", 0);
	gh_on(R, "GET", "/repos/acme/widgets/issues/7/comments*", 200, "[]",
	    0);
	gh_on(R, "GET", "/repos/acme/widgets/issues/7", 200, "issue_7", 0);
	gh_on(R, "GET", "/repos/acme/widgets/git/trees/trunk?recursive=1", 200,
	    "tree_trunk", 0);
	gh_on(R, "GET", "/repos/acme/widgets/contents/src/widget.c", 200,
	    "e2e_file_widget", 0);
	gh_on(R, "GET", "/repos/acme/widgets/contents/t/widget_test.c?ref="
	    "afu9%2Fissue-7", 200, "e2e_file_test", 0);
	gh_on(R, "GET", "/repos/acme/widgets/git/ref/heads/*", 200,
	    "ref_trunk", 0);
	gh_on(R, "GET", "/repos/acme/widgets/git/commits/*", 200,
	    "commit_trunk", 0);
	gh_on(R, "POST", "/repos/acme/widgets/git/refs", 201, "ref_created", 1);
	gh_on(R, "POST", "/repos/acme/widgets/git/blobs", 201, "blob_1", 0);
	gh_on(R, "POST", "/repos/acme/widgets/git/trees", 201, "tree_new", 0);
	gh_on(R, "POST", "/repos/acme/widgets/git/commits", 201, "commit_new",
	    0);
	gh_on(R, "PATCH", "/repos/acme/widgets/git/refs/heads/*", 200,
	    "ref_updated", 0);
	gh_on(R, "GET", "/repos/acme/widgets/pulls?state=open&head=acme%3A"
	    "afu9%2Fissue-7&base=trunk", 200, "[]", 0);
	gh_on(R, "POST", "/repos/acme/widgets/pulls", 201, "pull_created", 1);
	gh_on(R, "GET", "/repos/acme/widgets/pulls/10", 200, "e2e_pull", 0);
	gh_on(R, "GET", "/repos/acme/widgets/commits/" E2E_COMMIT "/status*",
	    200, "e2e_status_none", 0);
	if (fail_first)
		gh_on(R, "GET", "/repos/acme/widgets/commits/" E2E_COMMIT
		    "/check-runs?per_page=100", 200, "e2e_runs_failed", 1);
	gh_on(R, "GET", "/repos/acme/widgets/commits/" E2E_COMMIT
	    "/check-runs?per_page=100", 200, "e2e_runs_passed", 0);
	gh_on(R, "GET", "/repos/acme/widgets/check-runs/41/annotations*", 200,
	    "e2e_annotations", 0);
	gh_on(R, "POST", "/graphql", 200, "graphql_ready", 1);
	gh_on(R, "POST", "/repos/acme/widgets/issues/7/comments", 201,
	    "comment_new", 1);
}

/* afu9 serve with afu9-github on the fault server and the model on
   llm_port: its config, and the agent steps' environment. */
static const char *
itp_config(void)
{
	static char cfg[2048];
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", llm_port);
	setenv("ANTHROPIC_BASE_URL", url, 1);
	setenv("ANTHROPIC_API_KEY", LLM_KEY, 1);
	setenv("AFU9_AGENT_MODEL", "claude-e2e", 1);
	unsetenv("AFU9_AGENT_PROVIDER");
	unsetenv("OPENAI_API_KEY");
	setenv("AFU9_WORKFLOWS_DIR", t_srcdir("workflows"), 1);
	snprintf(cfg, sizeof(cfg), "{\"mcpServers\":{\"github\":{\"command\":"
	    "\"%s\",\"env\":{\"GITHUB_API_URL\":\"%s\",\"GITHUB_TOKEN\":\""
	    GH_TOKEN "\"}}},\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"},"
	    "\"shutdownGraceMs\":5000}}",
	    t_builddir("servers/github/afu9-github"), fc_base());
	return ot_write_config(tmpdir, "github.json", cfg);
}

static void
itp_env_clear(void)
{
	unsetenv("ANTHROPIC_BASE_URL");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("AFU9_AGENT_MODEL");
	unsetenv("AFU9_WORKFLOWS_DIR");
	unsetenv("AFU9_LEASE_TTL_MS");
}

/* No secret in any row the story is told by, nor in the log. */
static void
no_secrets(const struct afu9 *a)
{
	static const char *const tables[] = { "agent_runs", "agent_messages",
	    "mcp_tool_calls", "workflow_steps", "workflow_executions" };
	size_t i;
	char *v;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		ck_assert_int_eq(qi("SELECT count(*) FROM %s t WHERE t::text "
		    "LIKE '%%" LLM_KEY "%%'", tables[i]), 0);
		ck_assert_int_eq(qi("SELECT count(*) FROM %s t WHERE t::text "
		    "LIKE '%%" GH_TOKEN "%%'", tables[i]), 0);
	}
	v = afu9_log(a);
	ck_assert_ptr_null(strstr(v, LLM_KEY));
	ck_assert_ptr_null(strstr(v, GH_TOKEN));
	free(v);
}

/* The JSON body of the first request "METHOD target" at or after
   request from (new reference), and its index in *at. */
static json_t *
gh_body_of(const char *method, const char *target, size_t from, size_t *at)
{
	json_t *a = fc_requests(), *r, *b = NULL;
	size_t i;

	json_array_foreach(a, i, r)
		if (i >= from && strcmp(json_string_value(json_object_get(r,
		    "method")), method) == 0 && strcmp(json_string_value(
		    json_object_get(r, "target")), target) == 0) {
			b = fc_body(i);
			*at = i;
			break;
		}
	json_decref(a);
	ck_assert_msg(b != NULL, "no %s %s", method, target);
	return b;
}

#define ITP_INPUT "{\"owner\":\"acme\",\"repo\":\"widgets\",\"number\":7," \
	"\"branch\":\"afu9/issue-7\"}"

/*
 * issue_to_pr end to end, against afu9-github on t/faultserver.py (the
 * recorded replay of @octokit/fixtures-server cannot serve it: it
 * matches bodies exactly, and the writes carry the execution's own
 * keys) and the scripted model of t/fixtures/llm/issue-to-pr.json: the
 * write step's agent reads the issue, the tree and a file (two calls in
 * one turn) and writes a change; it is pushed and opened as a draft;
 * its check fails; fix_1's agent is shown the failure, reads the test on
 * the branch and fixes it; the next checks pass; the verdict passes and
 * only then is the pull request marked ready.  The pushed files are
 * exactly what the model wrote, and agent_runs, agent_messages and
 * mcp_tool_calls tell the story.
 */
START_TEST(issue_to_pr)
{
	char *id, want[256];
	json_error_t je;
	struct afu9 a;
	json_t *R, *b, *tree;
	size_t at = 0;
	int st;

	ck_assert_msg((R = json_load_file(t_srcdir(
	    "t/fixtures/github/responses.json"), 0, &je)) != NULL, "%s",
	    je.text);
	use_db("wfgithub");
	gh_script_issue_to_pr(R, 1);
	llm_start("t/fixtures/llm/issue-to-pr.json");
	afu9_start(&a, itp_config(), "github");
	afu9_wait_schema();
	q_wait(1, 30000, "SELECT count(*) FROM workflows WHERE name = "
	    "'issue_to_pr'");
	id = wf_start("issue_to_pr", ITP_INPUT);
	{
		char *st2 = x_wait(id, 30000), *err = q("SELECT coalesce(error, "
		    "'') FROM workflow_executions WHERE id = '%s'", id);
		char *reqs = gh_requests();

		ck_assert_msg(strcmp(st2, "succeeded") == 0, "%s (%s)\n%s",
		    st2, err, reqs);
		free(st2);
		free(err);
		free(reqs);
	}
	llm_done();
	STEPS_EQ(id, "write:1:succeeded,branch:1:succeeded,push:1:succeeded,"
	    "pr:1:succeeded,checks_1:1:succeeded,fix_1:1:succeeded,"
	    "push_1:1:succeeded,checks_2:1:succeeded,fix_2:1:skipped,"
	    "push_2:1:skipped,checks_3:1:skipped,fix_3:1:skipped,"
	    "push_3:1:skipped,checks_4:1:skipped,fix_4:1:skipped,"
	    "push_4:1:skipped,checks_5:1:skipped,fix_5:1:skipped,"
	    "push_5:1:skipped,checks_6:1:skipped,verdict:1:succeeded,"
	    "ready:1:succeeded,comment:1:succeeded");
	Q_EQ("failure tests", "SELECT (output->>'state') || ' ' || "
	    "(output->'failing'->0->>'name') FROM workflow_steps WHERE "
	    "execution_id = '%s' AND step_name = 'checks_1'", id);
	Q_EQ("success", "SELECT output->'checks'->>'state' FROM "
	    "workflow_executions WHERE id = '%s'", id);

	/* the first push: exactly the file the model wrote */
	b = gh_body_of("POST", "/repos/acme/widgets/git/blobs", 0, &at);
	ck_assert_str_eq(json_string_value(json_object_get(b, "content")),
	    "int widget_size(void) { return 3; }\n");
	json_decref(b);
	b = gh_body_of("POST", "/repos/acme/widgets/git/trees", at, &at);
	tree = json_object_get(b, "tree");
	ck_assert_int_eq(json_array_size(tree), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tree,
	    0), "path")), "src/widget.c");
	json_decref(b);
	b = gh_body_of("POST", "/repos/acme/widgets/git/commits", at, &at);
	snprintf(want, sizeof(want), "Widgets are 3 wide\n\nFixes #7.\n\n"
	    "Afu9-Idempotency-Key: afu9:%s:push:1", id);
	ck_assert_str_eq(json_string_value(json_object_get(b, "message")),
	    want);
	json_decref(b);
	/* the pull request: a draft with the model's title and body */
	b = gh_body_of("POST", "/repos/acme/widgets/pulls", 0, &at);
	ck_assert(json_is_true(json_object_get(b, "draft")));
	ck_assert_str_eq(json_string_value(json_object_get(b, "title")),
	    "Widgets are 3 wide");
	ck_assert_msg(strncmp(json_string_value(json_object_get(b, "body")),
	    "widget_size() returned 4; issue #7 says a widget is 3 wide.\n\n"
	    "Closes #7.", 60) == 0, "%s", json_string_value(json_object_get(b,
	    "body")));
	json_decref(b);
	/* the fix: exactly the model's second file, in a second commit */
	b = gh_body_of("POST", "/repos/acme/widgets/git/blobs", at, &at);
	ck_assert_str_eq(json_string_value(json_object_get(b, "content")),
	    "#include \"widget.h\"\nint main(void) { return "
	    "expect(3, widget_size()); }\n");
	json_decref(b);
	b = gh_body_of("POST", "/repos/acme/widgets/git/commits", at, &at);
	snprintf(want, sizeof(want), "Test the width the issue asks for\n\n"
	    "Afu9-Idempotency-Key: afu9:%s:push_1:1", id);
	ck_assert_str_eq(json_string_value(json_object_get(b, "message")),
	    want);
	json_decref(b);
	/* ready only after the verdict: the GraphQL call comes last but
	   the comment */
	b = gh_body_of("POST", "/graphql", at, &at);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b,
	    "variables"), "id")), "PR_kwDOAAABc84AAAAK");
	json_decref(b);
	json_decref(gh_body_of("POST", "/repos/acme/widgets/issues/7/comments",
	    at, &at));

	/* two runs, one per agent step attempt, each succeeded, linked to
	   its step's row */
	Q_EQ("write:succeeded:3:anthropic:claude-e2e,"
	    "fix_1:succeeded:2:anthropic:claude-e2e", "SELECT string_agg("
	    "s.step_name || ':' || r.status || ':' || r.turns || ':' || "
	    "r.provider || ':' || r.model, ',' ORDER BY r.started_at) FROM "
	    "agent_runs r JOIN workflow_steps s ON s.id = r.step_id WHERE "
	    "r.execution_id = '%s'", id);
	ck_assert_int_eq(qi("SELECT count(*) FROM agent_runs WHERE "
	    "execution_id = '%s' AND input_tokens > 0 AND output_tokens > 0 "
	    "AND result IS NOT NULL", id), 2);
	/* the transcripts: every message, in order, after the system
	   prompt's */
	Q_EQ("user,assistant,tool,tool,assistant,tool,assistant",
	    "SELECT string_agg(m.role, ',' ORDER BY m.seq) FROM agent_messages "
	    "m JOIN agent_runs r ON r.id = m.run_id JOIN workflow_steps s ON "
	    "s.id = r.step_id WHERE s.execution_id = '%s' AND s.step_name = "
	    "'write' AND m.seq >= (SELECT min(seq) FROM agent_messages x WHERE "
	    "x.run_id = r.id AND x.role <> 'system')", id);
	Q_EQ("user,assistant,tool,assistant", "SELECT string_agg("
	    "m.role, ',' ORDER BY m.seq) FROM agent_messages m JOIN agent_runs "
	    "r ON r.id = m.run_id JOIN workflow_steps s ON s.id = r.step_id "
	    "WHERE s.execution_id = '%s' AND s.step_name = 'fix_1' AND m.seq >= "
	    "(SELECT min(seq) FROM agent_messages x WHERE x.run_id = r.id AND "
	    "x.role <> 'system')", id);
	Q_EQ("t", "SELECT (SELECT m.content->>'text' FROM agent_messages m "
	    "WHERE m.run_id = r.id AND m.role = 'user') LIKE '%%test_widget_"
	    "size: expected 4, got 3%%' FROM agent_runs r JOIN workflow_steps "
	    "s ON s.id = r.step_id WHERE s.execution_id = '%s' AND "
	    "s.step_name = 'fix_1'", id);
	/* the model's tool calls: audited as the agent's, with its run */
	q_wait(4, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND caller = 'agent'", id);
	Q_EQ("write:getFileContents,write:getIssue,write:getRepositoryTree,"
	    "fix_1:getFileContents", "SELECT string_agg(s.step_name || ':' || "
	    "c.tool, ',' ORDER BY s.step_index, c.tool) FROM mcp_tool_calls "
	    "c JOIN agent_runs r ON r.id = c.agent_run_id JOIN workflow_steps "
	    "s ON s.id = r.step_id WHERE c.execution_id = '%s' AND c.caller = "
	    "'agent'", id);
	/* the workflow's own calls: branch, 2 pushes, the pull request, 2
	   checks, verdict, ready, comment */
	q_wait(9, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND caller = 'workflow'", id);
	no_secrets(&a);
	st = afu9_stop(&a, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	llm_stop();
	itp_env_clear();
	json_decref(R);
	free(id);
}
END_TEST

/*
 * kill -9 in the middle of an agent step: the orchestrator dies while
 * the write step's run waits for the model's second answer (its
 * transcript recorded up to the two tool results); another task takes
 * the execution over, closes the dead run's row, and resumes it in a
 * new run from the transcript, which the scripted model accepts as the
 * same conversation; the execution goes on to its end.
 */
START_TEST(issue_to_pr_resume)
{
	char *id, *run1, *log;
	json_error_t je;
	struct afu9 a, b;
	json_t *R, *w;
	int st;

	ck_assert_msg((R = json_load_file(t_srcdir(
	    "t/fixtures/github/responses.json"), 0, &je)) != NULL, "%s",
	    je.text);
	use_db("wfgithub_resume");
	gh_script_issue_to_pr(R, 0);
	setenv("AFU9_LEASE_TTL_MS", "1000", 1);
	llm_start("t/fixtures/llm/issue-to-pr-resume.json");
	afu9_start(&a, itp_config(), "resume-a");
	afu9_wait_schema();
	q_wait(1, 30000, "SELECT count(*) FROM workflows WHERE name = "
	    "'issue_to_pr'");
	id = wf_start("issue_to_pr", ITP_INPUT);
	/* the second model request hangs; both tool results recorded */
	w = fc_proc_cmd(&llm, "llmserver", json_pack("{s:s, s:i, s:i}", "cmd",
	    "wait", "requests", 2, "timeout_ms", (int)(20000 * t_slow())));
	ck_assert_msg(json_is_true(json_object_get(w, "ok")), "no second "
	    "request");
	json_decref(w);
	q_wait(2, 10000, "SELECT count(*) FROM agent_messages m JOIN "
	    "agent_runs r ON r.id = m.run_id WHERE r.execution_id = '%s' AND "
	    "m.role = 'tool'", id);
	/* and their audit rows (written on another connection: a kill
	   before that would lose them, doc/schema.md) */
	q_wait(2, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND caller = 'agent'", id);
	run1 = q("SELECT id FROM agent_runs WHERE execution_id = '%s'", id);
	st = afu9_stop(&a, SIGKILL);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%d", st);
	Q_EQ("running", "SELECT status FROM agent_runs WHERE id = '%s'", run1);

	afu9_start(&b, itp_config(), "resume-b");
	{
		char *st2 = x_wait(id, 30000), *err = q("SELECT coalesce(error, "
		    "'') FROM workflow_executions WHERE id = '%s'", id);

		ck_assert_msg(strcmp(st2, "succeeded") == 0, "%s (%s)", st2,
		    err);
		free(st2);
		free(err);
	}
	llm_done();
	/* one attempt of the step, two runs: the dead one closed, the new
	   one resumed from it and succeeded */
	STEPS_EQ(id, "write:1:succeeded,branch:1:succeeded,push:1:succeeded,"
	    "pr:1:succeeded,checks_1:1:succeeded,fix_1:1:skipped,"
	    "push_1:1:skipped,checks_2:1:skipped,fix_2:1:skipped,"
	    "push_2:1:skipped,checks_3:1:skipped,fix_3:1:skipped,"
	    "push_3:1:skipped,checks_4:1:skipped,fix_4:1:skipped,"
	    "push_4:1:skipped,checks_5:1:skipped,fix_5:1:skipped,"
	    "push_5:1:skipped,checks_6:1:skipped,verdict:1:succeeded,"
	    "ready:1:succeeded,comment:1:succeeded");
	Q_EQ("failed true", "SELECT status || ' ' || (error LIKE "
	    "'interrupted:%%') FROM agent_runs WHERE id = '%s'", run1);
	ck_assert_int_eq(qi("SELECT count(*) FROM agent_runs WHERE "
	    "execution_id = '%s'", id), 2);
	Q_EQ("succeeded true", "SELECT status || ' ' || (resumed_from = '%s') "
	    "FROM agent_runs WHERE execution_id = '%s' AND id <> '%s'", run1,
	    id, run1);
	/* the new run's transcript starts with the old one's conversation;
	   its totals go on from the dead run's (one turn there) */
	Q_EQ("user,assistant,tool,tool,assistant,tool,assistant",
	    "SELECT string_agg(m.role, ',' ORDER BY m.seq) FROM agent_messages "
	    "m JOIN agent_runs r ON r.id = m.run_id WHERE r.execution_id = "
	    "'%s' AND r.id <> '%s' AND m.role <> 'system'", id, run1);
	ck_assert_int_eq(qi("SELECT turns FROM agent_runs WHERE execution_id = "
	    "'%s' AND id <> '%s'", id, run1), 3);
	/* the model's calls: two before the kill, one after, each under
	   its run */
	q_wait(3, 10000, "SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND caller = 'agent'", id);
	ck_assert_int_eq(qi("SELECT count(*) FROM mcp_tool_calls WHERE "
	    "execution_id = '%s' AND caller = 'agent' AND agent_run_id = "
	    "'%s'", id, run1), 2);
	log = afu9_log(&b);
	ck_assert_msg(strstr(log, "resuming agent run") != NULL, "%s", log);
	free(log);
	no_secrets(&b);
	st = afu9_stop(&b, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	llm_stop();
	itp_env_clear();
	json_decref(R);
	free(run1);
	free(id);
}
END_TEST

/*
 * Cancelling an execution cancels its agent step's run: the model's
 * request in flight is closed, and the run's row says cancelled.
 */
START_TEST(agent_cancel)
{
	char *id, *run;
	struct afu9 a;
	json_t *r;
	int st;

	use_db("wfagent_cancel");
	fc_reset();
	llm_start("t/fixtures/llm/issue-to-pr.json");
	r = fc_proc_cmd(&llm, "llmserver", json_pack("{s:s, s:{s:s, s:s, s:s, "
	    "s:[{s:{s:s}}]}}", "cmd", "load", "conversation", "provider",
	    "anthropic", "api_key", LLM_KEY, "model", "claude-e2e", "turns",
	    "fault", "kind", "hang"));
	ck_assert(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	afu9_start(&a, itp_config(), "agent-cancel");
	afu9_wait_schema();
	wf_apply("{'name':'w_agent','steps':[{'id':'think','type':'agent',"
	    "'task':'Think about issue 7.','tools':['github.getIssue'],"
	    "'budget':{'max_turns':3}}]}");
	id = wf_start("w_agent", "{}");
	r = fc_proc_cmd(&llm, "llmserver", json_pack("{s:s, s:i, s:i}", "cmd",
	    "wait", "requests", 1, "timeout_ms", (int)(20000 * t_slow())));
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "no request");
	json_decref(r);
	/* the request goes before the run's row is committed */
	q_wait(1, 10000, "SELECT count(*) FROM agent_runs WHERE execution_id = "
	    "'%s'", id);
	run = q("SELECT id FROM agent_runs WHERE execution_id = '%s'", id);
	Q_EQ("cancelled", "SELECT afu9_cancel('%s', 'carol')", id);
	q_wait(1, 10000, "SELECT count(*) FROM agent_runs WHERE id = '%s' AND "
	    "status = 'cancelled' AND finished_at IS NOT NULL", run);
	r = fc_proc_cmd(&llm, "llmserver", json_pack("{s:s, s:i, s:i}", "cmd",
	    "wait", "closed", 1, "timeout_ms", (int)(10000 * t_slow())));
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "the model's "
	    "request was not closed");
	json_decref(r);
	Q_EQ("cancelled cancelled", "SELECT x.status || ' ' || s.status FROM "
	    "workflow_executions x JOIN workflow_steps s ON s.execution_id = "
	    "x.id WHERE x.id = '%s'", id);
	Q_EQ("t", "SELECT error LIKE 'cancelled: %%' FROM agent_runs WHERE id "
	    "= '%s'", run);
	st = afu9_stop(&a, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	llm_stop();
	itp_env_clear();
	free(run);
	free(id);
}
END_TEST

#define OA_KEY	"sk-e2e-Oa5Kq8Zt2Wm7"

/*
 * The agent step finds its provider by the rule afu9 agent run follows
 * (agent_provider_env()): no AFU9_AGENT_PROVIDER and no Anthropic key,
 * so OpenAI at OPENAI_BASE_URL (the SDKs' form, ending in /v1), with the
 * step's model; AFU9_AGENT_PRICES prices that model, which the step's
 * max_cost_usd budget needs (a run with a cost budget and no price for
 * its model is refused before a request), and the run's cost is the
 * table's: 10 input tokens at $1,000 and 5 output at $2,000 per million.
 */
START_TEST(agent_env_rule)
{
	char url[96], *id, *st, *err;
	const char *cfg;
	struct afu9 a;
	json_t *r;
	int rc;

	use_db("wfagent_env");
	fc_reset();
	llm_start("t/fixtures/llm/issue-to-pr.json");
	r = fc_proc_cmd(&llm, "llmserver", json_pack("{s:s, s:{s:s, s:s, s:s, "
	    "s:[{s:{s:s, s:{s:i, s:i}}}]}}", "cmd", "load", "conversation",
	    "provider", "openai", "api_key", OA_KEY, "model", "local-e2e",
	    "turns", "response", "text", "done", "usage", "prompt_tokens", 10,
	    "completion_tokens", 5));
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "%s",
	    json_string_value(json_object_get(r, "error")));
	json_decref(r);
	cfg = itp_config();
	unsetenv("ANTHROPIC_BASE_URL");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("AFU9_AGENT_MODEL");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", llm_port);
	setenv("OPENAI_BASE_URL", url, 1);
	setenv("OPENAI_API_KEY", OA_KEY, 1);
	setenv("AFU9_AGENT_PRICES", "{\"local-e2e\": {\"input\": 1000, "
	    "\"output\": 2000, \"cache_read\": 0, \"cache_write\": 0}}", 1);
	afu9_start(&a, cfg, "agent-env");
	afu9_wait_schema();
	wf_apply("{'name':'w_env','steps':[{'id':'think','type':'agent',"
	    "'task':'Say done.','tools':['github.getIssue'],"
	    "'model':'local-e2e','budget':{'max_turns':2,"
	    "'max_cost_usd':1}}]}");
	id = wf_start("w_env", "{}");
	st = x_wait(id, 30000);
	err = q("SELECT coalesce(error, '') FROM workflow_executions WHERE id "
	    "= '%s'", id);
	ck_assert_msg(strcmp(st, "succeeded") == 0, "%s (%s)", st, err);
	llm_done();
	/* the recorder ends the row on its own connection: maybe later */
	q_wait(1, 10000, "SELECT count(*) FROM agent_runs WHERE execution_id "
	    "= '%s' AND status = 'succeeded'", id);
	Q_EQ("openai local-e2e 0.020000", "SELECT provider || ' ' || model || "
	    "' ' || cost_usd FROM agent_runs WHERE execution_id = '%s'", id);
	Q_EQ("done", "SELECT output->>'text' FROM workflow_steps WHERE "
	    "execution_id = '%s'", id);
	rc = afu9_stop(&a, SIGTERM);
	ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "status %d", rc);
	llm_stop();
	itp_env_clear();
	unsetenv("OPENAI_BASE_URL");
	unsetenv("OPENAI_API_KEY");
	unsetenv("AFU9_AGENT_PRICES");
	free(err);
	free(st);
	free(id);
}
END_TEST

/* @SUITE@ */
static Suite *
wfsteps_suite(void)
{
	Suite *s = suite_create("wfsteps");
	TCase *tc = tcase_create("steps");

	tcase_add_unchecked_fixture(tc, steps_up, steps_down);
	tcase_add_checked_fixture(tc, NULL, db_close);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, retry_backoff);
	tcase_add_test(tc, retry_non_retryable);
	tcase_add_test(tc, tool_timeout);
	tcase_add_test(tc, flow);
	tcase_add_test(tc, goto_back_and_refs);
	tcase_add_test(tc, fail_if_and_defaults);
	tcase_add_test(tc, env_refs);
	tcase_add_test(tc, oversize);
	tcase_add_test(tc, wait_until);
	tcase_add_test(tc, approvals);
	tcase_add_test(tc, cancel);
	suite_add_tcase(s, tc);
	tc = tcase_create("durable");
	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_add_checked_fixture(tc, NULL, db_close);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sleep_durable);
	suite_add_tcase(s, tc);
	tc = tcase_create("builtins");
	tcase_add_unchecked_fixture(tc, builtins_up, builtins_down);
	tcase_add_checked_fixture(tc, NULL, db_close);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, deploy_and_verify);
	tcase_add_test(tc, issue_to_pr);
	tcase_add_test(tc, issue_to_pr_resume);
	tcase_add_test(tc, agent_cancel);
	tcase_add_test(tc, agent_env_rule);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	atexit(kill_running);
	return ot_main(wfsteps_suite(), tmpdir);
}
