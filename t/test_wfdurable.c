/*
 * The workflow engine's durability, with real `afu9 serve` processes on
 * one PostgreSQL (t/pgtest.h) killed with SIGKILL:
 *
 *  - every_step_kind: one task killed in the middle of each kind of step
 *    (a side-effecting tool with an idempotency key, a read-only tool, a
 *    wait, a held sleep, an approval decided while no task runs), again
 *    and again at random points, and restarted: every execution
 *    succeeds, every step has exactly one succeeded attempt and every
 *    side effect happened exactly once;
 *  - two_tasks: two tasks share 1,000 executions, none claimed or run
 *    twice, none left; then one is killed halfway through another 1,000
 *    and the other finishes them all;
 *  - chaos: three tasks, 10,000 executions of a record, a durable sleep
 *    and a record (30,000 steps) in flight, a random task killed and
 *    restarted 100 times: none lost, no effect repeated, every execution
 *    a dead task held taken over within three times the lease TTL
 *    (twice on a machine with a core to spare, see below).
 *
 * Side effects are counted where they land: the tool conf.record of
 * t/conformance-server --ledger appends a line to a ledger file shared
 * by every task's server for every call and for every effect (once per
 * idempotencyKey, under flock, so a killed task's server finishing its
 * call late is counted too).  The test loads the ledger into the
 * database and counts lines per key.
 *
 * Takeovers are timed from rows (every_step_kind reports them only: its
 * one task takes over after its own restart): when a task is killed the test stores
 * the executions it held with their lease token and the database's
 * clock; it polls until each token has grown (another task claimed it)
 * and stores that time.  A lease runs out TTL after its last renewal and
 * the next claim poll takes it, so the delay is under 2 x AFU9_LEASE_TTL_MS
 * on a machine with a core to spare (bench/wfbench.sh measures it); the
 * test allows 3 x TTL, one TTL for a machine busy with other work, where
 * a killed task's successor waits for the scheduler (2.6 s was seen with
 * every core taken by compilers).  The delay measured includes the
 * polling (about 50 ms), so it can only be longer than the real one.  Under valgrind or ASan it is reported,
 * not checked (tasks there start and claim many times slower).
 *
 * AFU9_WFDURABLE_SCALE (a percentage, default 100) shrinks the counts
 * (executions of two_tasks and chaos, kills of chaos and every_step_kind)
 * for a run under valgrind: under `make check-valgrind` the default is 2
 * (the afu9 processes run under valgrind too, many times slower), and
 * scripts/test.sh sets 20 for its sanitizer pass.
 * AFU9_WFDURABLE_SEED replays the random kill points of a failed run
 * (each test prints its seed).
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

#include "orchtest.h"
#include "pgtest.h"
#include "testutil.h"

#define TTL_MS		1000	/* AFU9_LEASE_TTL_MS of the kill tests */
#define POLL_US		50000

static char tmpdir[] = "/tmp/afu9-wfdurable-XXXXXX";
static struct pgtest *pg;
static PGconn *db;		/* the test's own connection */
static char ledger[600];
static unsigned seed;

/* ---- the database ---- */

static void
pg_up(void)
{
	pg = pgt_start_db(NULL);
}

/* Is pid still one of our tasks (its command line names tmpdir)?  A
   pid of a task reaped long ago may be another process's by now. */
static int
our_task(long pid)
{
	char path[64], cmd[4096];
	size_t n, i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	for (i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	cmd[n] = '\0';
	return strstr(cmd, tmpdir) != NULL && strstr(cmd, " serve ") != NULL;
}

/*
 * A test that fails leaves its tasks running (they do not watch stdin):
 * task_start() notes every pid in tmpdir/pids, and this teardown, run
 * by the parent after each case, kills the ones still there.
 */
static void
kill_leftovers(void)
{
	char path[600];
	FILE *f;
	long pid;

	snprintf(path, sizeof(path), "%s/pids", tmpdir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fscanf(f, "%ld", &pid) == 1)
		if (pid > 1 && t_alive((pid_t)pid) && our_task(pid))
			kill((pid_t)pid, SIGKILL);
	fclose(f);
	unlink(path);
}

static void
pg_down(void)
{
	kill_leftovers();
	pgt_stop(pg);
	pg = NULL;
}

/* n scaled by AFU9_WFDURABLE_SCALE (percent), at least min. */
static int
scaled(int n, int min)
{
	const char *v = getenv("AFU9_WFDURABLE_SCALE");
	long pct = v && *v ? strtol(v, NULL, 10) : t_slow() > 1 ? 2 : 100;

	if (pct <= 0 || pct > 100)
		pct = 100;
	n = (int)(n * pct / 100);
	return n < min ? min : n;
}

static void
seed_init(const char *test)
{
	const char *v = getenv("AFU9_WFDURABLE_SEED");

	seed = v && *v ? (unsigned)strtoul(v, NULL, 10) :
	    (unsigned)time(NULL) ^ (unsigned)getpid();
	srandom(seed);
	fprintf(stderr, "# %s: AFU9_WFDURABLE_SEED=%u\n", test, seed);
}

/* An empty ledger (no server may be running). */
static void
ledger_reset(void)
{
	int fd;

	ck_assert_int_ge(fd = open(ledger, O_WRONLY | O_CREAT | O_TRUNC,
	    0600), 0);
	close(fd);
}

/*
 * A fresh database named db_name, migrated by `afu9 migrate`; the test's
 * connection to it in db; DATABASE_URL; an empty ledger.
 */
static void
use_db(const char *db_name)
{
	char e[1024], *ci, *out, *err;
	const char *const args[] = { "migrate", NULL };

	ck_assert_msg(pgt_createdb(pg, db_name, e, sizeof(e)) == 0, "%s", e);
	ck_assert_ptr_nonnull(ci = pgt_conninfo(pg, db_name));
	setenv("DATABASE_URL", ci, 1);
	unsetenv("AFU9_MIGRATIONS_DIR");
	unsetenv("AFU9_MIGRATE");
	ck_assert_int_eq(ot_run_afu9(args, &out, &err), 0);
	free(out);
	free(err);
	db = PQconnectdb(ci);
	ck_assert_msg(PQstatus(db) == CONNECTION_OK, "%s", PQerrorMessage(db));
	free(ci);
	snprintf(ledger, sizeof(ledger), "%s/%s.ledger", tmpdir, db_name);
	ledger_reset();
}

static void
db_close(void)
{
	PQfinish(db);
	db = NULL;
}

/* Run sql (printf format); check it worked; the result (PQclear it). */
static PGresult *
q(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static PGresult *
q(const char *fmt, ...)
{
	va_list ap;
	char *sql;
	PGresult *r;
	int st;

	va_start(ap, fmt);
	ck_assert_int_ne(vasprintf(&sql, fmt, ap), -1);
	va_end(ap);
	r = PQexec(db, sql);
	st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK,
	    "%s: %s", sql, PQresultErrorMessage(r));
	free(sql);
	return r;
}

static void
q_do(const char *sql)
{
	PQclear(q("%s", sql));
}

/* The one value of a one-row query, as text (malloc'd; "" for NULL). */
static char *
q_text(const char *sql)
{
	PGresult *r = q("%s", sql);
	char *v;

	ck_assert_msg(PQntuples(r) == 1 && PQnfields(r) == 1, "%s: %d rows",
	    sql, PQntuples(r));
	v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static long long
q_int(const char *sql)
{
	char *v = q_text(sql);
	long long n = atoll(v);

	free(v);
	return n;
}

/* Store a definition (JSON without single quotes). */
static void
wf_apply(const char *name, const char *def)
{
	PQclear(q("SELECT afu9_workflow_apply('%s', NULL, NULL, '%s'::jsonb)",
	    name, def));
}

/* n executions of workflow name, inputs from the SQL expression input
   over g (1..n), keys prefix-g. */
static void
wf_start_many(const char *name, int n, const char *input, const char *prefix)
{
	PQclear(q("SELECT count(*) FROM generate_series(1, %d) g, "
	    "afu9_execution_create((SELECT id FROM workflows WHERE name = '%s' "
	    "ORDER BY version DESC LIMIT 1), %s, '%s-' || g, 'test')", n, name,
	    input, prefix));
}

/*
 * The ledger as the table ledger (kind, key, idem, pid), loaded again
 * from the file.
 */
static void
ledger_load(void)
{
	PGresult *r;
	char buf[65536];
	ssize_t n;
	int fd;

	q_do("DROP TABLE IF EXISTS ledger");
	q_do("CREATE TABLE ledger (kind text NOT NULL, key text NOT NULL, "
	    "idem text NOT NULL, pid integer NOT NULL)");
	r = PQexec(db, "COPY ledger FROM STDIN WITH (DELIMITER ' ')");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COPY_IN);
	PQclear(r);
	ck_assert_int_ge(fd = open(ledger, O_RDONLY), 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(PQputCopyData(db, buf, (int)n), 1);
	ck_assert_int_eq(n, 0);
	close(fd);
	ck_assert_int_eq(PQputCopyEnd(db, NULL), 1);
	r = PQgetResult(db);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "COPY: %s",
	    PQresultErrorMessage(r));
	PQclear(r);
	while ((r = PQgetResult(db)) != NULL)
		PQclear(r);
}

/* ---- afu9 serve ---- */

struct task {
	struct tproc	 p;
	int		 port;
	int		 n;		/* the how-manieth start */
	pid_t		 dead;		/* the pid task_kill() killed */
	char		 log[640];
};

/* The config: conf is t/conformance-server with the ledger. */
static const char *
config(void)
{
	char text[2048];

	snprintf(text, sizeof(text), "{\"mcpServers\":{\"conf\":{"
	    "\"command\":\"@SERVER@\",\"args\":[\"--ledger\",\"%s\"]}},"
	    "\"afu9\":{\"http\":{\"listen\":\"127.0.0.1:0\"},"
	    "\"shutdownGraceMs\":5000}}", ledger);
	return ot_write_config(tmpdir, "wfdurable.json", text);
}

/*
 * Start `afu9 serve` with its stderr appended to a file of its own (a
 * pipe nobody reads would stop it once full), and wait for its HTTP port.
 */
static void
task_start(struct task *t, const char *name)
{
	static int starts;
	char *argv[] = { (char *)t_builddir("orchestrator/afu9"), "serve",
	    "--config", (char *)config(), NULL };
	char buf[8192], *at;
	double end;
	ssize_t n;
	int fd, saved;

	t->n = ++starts;
	snprintf(t->log, sizeof(t->log), "%s/%s.%d.log", tmpdir, name, t->n);
	ck_assert_int_ge(fd = open(t->log, O_WRONLY | O_CREAT | O_TRUNC,
	    0600), 0);
	ck_assert_int_ge(saved = dup(2), 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	n = t_spawn(&t->p, argv, NULL, 0);
	dup2(saved, 2);
	close(saved);
	close(fd);
	ck_assert_int_eq(n, 0);
	snprintf(buf, sizeof(buf), "%s/pids", tmpdir);
	ck_assert_int_ge(fd = open(buf, O_WRONLY | O_CREAT | O_APPEND, 0600),
	    0);
	dprintf(fd, "%ld\n", (long)t->p.pid);
	close(fd);
	end = t_now_ms() + 30000 * t_slow();
	for (;;) {
		ck_assert_int_ge(fd = open(t->log, O_RDONLY), 0);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if ((at = strstr(buf, "(port ")) != NULL)
			break;
		ck_assert_msg(t_alive(t->p.pid) && t_now_ms() < end,
		    "%s: no listening line: %s", t->log, buf);
		usleep(20000);
	}
	t->port = atoi(at + 6);
	ck_assert_int_gt(t->port, 0);
}

/* SIGKILL, reaped; its pid stays in t->dead for takeover_note(). */
static void
task_kill(struct task *t)
{
	int st;

	t->dead = t->p.pid;
	ck_assert_int_eq(kill(t->p.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(t->p.pid, &st, 0), t->p.pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	close(t->p.in);
	close(t->p.out);
	t->p.pid = 0;
}

/* SIGTERM: a clean exit, with nothing in its log about a lost lease. */
static void
task_stop(struct task *t)
{
	int st;

	ck_assert_int_eq(kill(t->p.pid, SIGTERM), 0);
	st = t_finish(&t->p, 30000 * t_slow());
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "%s: status %d", t->log, st);
	close(t->p.out);
	t->p.pid = 0;
}

/* A metric's value from the task's /metrics (-1: not there). */
static long long
task_metric(const struct task *t, const char *name)
{
	char *body, want[160], *at;
	long long v = -1;

	ck_assert_int_eq(ot_http_get(t->port, "/metrics", &body), 200);
	snprintf(want, sizeof(want), "\n%s ", name);
	if ((at = strstr(body, want)) != NULL)
		v = atoll(at + strlen(want));
	free(body);
	return v;
}

/* ---- takeovers ---- */

/*
 * The executions task t held as it died (task_kill()), kept with the lease token and
 * the time (the database's clock) in table takeover.
 */
static void
takeover_note(const struct task *t, int round)
{
	char own[64];

	snprintf(own, sizeof(own), "lease_owner LIKE '%%:%ld:%%'",
	    (long)t->dead);
	PQclear(q("INSERT INTO takeover (round, id, token, killed_at) "
	    "SELECT %d, id, lease_token, clock_timestamp() FROM "
	    "workflow_executions WHERE status = 'running' AND %s", round,
	    own));
}

/*
 * Mark the executions of takeover another task has claimed since (its
 * token grew), and those the dead task's last statement, in flight at
 * the kill, moved on itself (parked or finished: no takeover to time).
 * Returns how many are still waiting for a takeover.
 */
static long long
takeover_poll(void)
{
	q_do("UPDATE takeover t SET taken_at = CASE WHEN x.lease_token <> "
	    "t.token THEN clock_timestamp() END, settled = (x.lease_token = "
	    "t.token) FROM workflow_executions x WHERE x.id = t.id AND "
	    "t.taken_at IS NULL AND NOT t.settled AND (x.lease_token <> "
	    "t.token OR x.status <> 'running')");
	return q_int("SELECT count(*) FROM takeover WHERE taken_at IS NULL "
	    "AND NOT settled");
}

static void
takeover_table(void)
{
	q_do("CREATE TABLE takeover (round integer NOT NULL, id uuid NOT NULL, "
	    "token bigint NOT NULL, killed_at timestamptz NOT NULL, "
	    "taken_at timestamptz, settled boolean NOT NULL DEFAULT false)");
}

/*
 * Every execution held by a killed task was taken over (or moved on by
 * its last statement); within 3 x TTL of the kill when bounded (tasks
 * left running to take over, and a build that runs at full speed: not
 * under valgrind or a sanitizer, where a task takes seconds to start
 * and claims slowly).  *n_out: how many were taken over, the slowest in
 * ms in *max_ms.
 */
static void
takeover_check(long long *n_out, double *max_ms, int bounded)
{
	char *v;

	ck_assert_int_eq(takeover_poll(), 0);
	*n_out = q_int("SELECT count(*) FROM takeover WHERE taken_at IS NOT "
	    "NULL");
	v = q_text("SELECT coalesce(max(extract(epoch FROM taken_at - "
	    "killed_at) * 1000), 0) FROM takeover");
	*max_ms = atof(v);
	free(v);
#ifdef __SANITIZE_ADDRESS__
	bounded = 0;
#endif
	if (t_slow() > 1)
		bounded = 0;
	ck_assert_msg(*max_ms <= 3. * TTL_MS || !bounded, "a takeover took "
	    "%.0f ms (lease TTL %d ms)", *max_ms, TTL_MS);
}

/* Wait until sql counts want, polling takeovers on the way. */
static void
wait_count(const char *sql, long long want, int deadline_ms, int poll_takeover)
{
	double end = t_now_ms() + (double)deadline_ms * t_slow();
	long long n;

	while ((n = q_int(sql)) != want) {
		ck_assert_msg(t_now_ms() < end, "%s: %lld, want %lld", sql, n,
		    want);
		if (poll_takeover)
			takeover_poll();
		usleep(POLL_US);
	}
}

/* ---- checks shared by the tests ---- */

/*
 * Every execution succeeded; the ledger has exactly one effect for each
 * key the executions' steps named ("EXECUTION.STEP" for every step of
 * steps, a comma-separated SQL list of names) and no other; no effect
 * without its idempotency key.  Returns how many calls were repeated
 * (the same key called again after a kill, answered alreadyExisted).
 */
static long long
check_effects(long long executions, const char *steps)
{
	long long n;

	ck_assert_int_eq(q_int("SELECT count(*) FROM workflow_executions "
	    "WHERE status = 'succeeded'"), executions);
	ck_assert_int_eq(q_int("SELECT count(*) FROM workflow_executions"),
	    executions);
	ledger_load();
	PQclear(q("CREATE TEMP TABLE want AS SELECT x.id || '.' || s.step AS "
	    "key FROM workflow_executions x CROSS JOIN unnest(ARRAY[%s]) "
	    "s(step)", steps));
	q_do("CREATE TEMP TABLE effects AS SELECT key, count(*) AS n, "
	    "count(*) FILTER (WHERE idem = '-') AS nokey FROM ledger WHERE "
	    "kind = 'effect' GROUP BY key");
	/* each wanted key once, and nothing else */
	ck_assert_int_eq(q_int("SELECT count(*) FROM want w FULL JOIN effects e "
	    "USING (key) WHERE e.n IS DISTINCT FROM 1 OR w.key IS NULL OR "
	    "e.nokey > 0"), 0);
	q_do("DROP TABLE effects");
	n = q_int("SELECT count(*) - count(DISTINCT key) FROM ledger WHERE "
	    "kind = 'call'");
	q_do("DROP TABLE want");
	return n;
}

/* ---- two tasks ---- */

#define WF_PAIR(ms) "{\"name\":\"pair\",\"steps\":[" \
	"{\"id\":\"a\",\"type\":\"tool\",\"tool\":\"conf.record\"," \
	"\"arguments\":{\"key\":\"${{ execution.id }}.a\",\"ms\":" ms "}}," \
	"{\"id\":\"b\",\"type\":\"tool\",\"tool\":\"conf.record\"," \
	"\"arguments\":{\"key\":\"${{ execution.id }}.b\",\"ms\":" ms "}}]}"

/*
 * Two tasks on one database share 1,000 executions: each is claimed
 * once (its fencing token is 1), each step called once and its effect
 * made once, and both tasks did some.  Then another 1,000 (each step
 * taking 40 ms), one task killed once half are done: the other finishes
 * every one, each effect made once.
 */
START_TEST(two_tasks)
{
	struct task a, b;
	long long n, again, took;
	double max_ms, end, t0;
	char *v;
	int total = scaled(1000, 20);

	seed_init("two_tasks");
	use_db("pair");
	takeover_table();
	unsetenv("AFU9_LEASE_TTL_MS");	/* 10 s: no lease runs out here */
	task_start(&a, "pair-a");
	task_start(&b, "pair-b");
	wf_apply("pair", WF_PAIR("0"));
	t0 = t_now_ms();
	wf_start_many("pair", total, "'{}'", "p1");
	wait_count("SELECT count(*) FROM workflow_executions WHERE "
	    "finished_at IS NULL", 0, 120000, 0);
	again = check_effects(total, "'a','b'");
	ck_assert_int_eq(again, 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM workflow_executions "
	    "WHERE lease_token <> 1"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM workflow_steps WHERE "
	    "status <> 'succeeded' OR attempt <> 1"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM ledger"), 4 * total);
	/* more than both tasks hold at once (256 each): both worked */
	n = q_int("SELECT count(DISTINCT pid) FROM ledger");
	ck_assert_msg(n == 2 || total <= 512, "the effects were made by %lld "
	    "servers", n);
	v = q_text("SELECT string_agg(c::text, '/') FROM (SELECT count(*) c "
	    "FROM ledger WHERE kind = 'effect' GROUP BY pid ORDER BY 1) s");
	fprintf(stderr, "# two_tasks: %d executions in %.1f s, effects per "
	    "task %s\n", total, (t_now_ms() - t0) / 1000., v);
	free(v);
	task_stop(&a);
	task_stop(&b);

	/* one killed halfway */
	q_do("DELETE FROM workflow_steps");
	q_do("DELETE FROM mcp_tool_calls");
	q_do("DELETE FROM workflow_executions");
	ledger_reset();
	setenv("AFU9_LEASE_TTL_MS", "1000", 1);
	task_start(&a, "pair-a");
	task_start(&b, "pair-b");
	wf_apply("pair", WF_PAIR("40"));
	wf_start_many("pair", total, "'{}'", "p2");
	end = t_now_ms() + 120000. * t_slow();
	while (q_int("SELECT count(*) FROM workflow_executions WHERE "
	    "status = 'succeeded'") < total / 2) {
		ck_assert_msg(t_now_ms() < end, "half never done");
		usleep(10000);
	}
	n = q_int("SELECT count(*) FROM workflow_executions WHERE status = "
	    "'running'");
	task_kill(&a);
	takeover_note(&a, 1);
	wait_count("SELECT count(*) FROM workflow_executions WHERE "
	    "finished_at IS NULL", 0, 120000, 1);
	takeover_check(&took, &max_ms, 1);
	/* at a small scale (valgrind) the dead task may have held none */
	ck_assert(took > 0 || total <= 512);
	again = check_effects(total, "'a','b'");
	ck_assert_int_eq(task_metric(&b, "afu9_workflow_lease_takeovers_total"),
	    took);
	fprintf(stderr, "# two_tasks: killed with %lld running, %lld taken "
	    "over, slowest %.0f ms after the kill, %lld calls made again with "
	    "their key\n", n, took, max_ms, again);
	task_stop(&b);
	unsetenv("AFU9_LEASE_TTL_MS");
	db_close();
}
END_TEST

/* ---- every kind of step ---- */

#define WF_KINDS "{\"name\":\"kinds\",\"inputs\":{\"type\":\"object\"," \
	"\"properties\":{\"until\":{\"type\":\"integer\"}}," \
	"\"required\":[\"until\"]},\"steps\":[" \
	"{\"id\":\"r1\",\"type\":\"tool\",\"tool\":\"conf.record\"," \
	"\"arguments\":{\"key\":\"${{ execution.id }}.r1\",\"ms\":400}}," \
	"{\"id\":\"ro\",\"type\":\"tool\",\"tool\":\"conf.sleep\"," \
	"\"arguments\":{\"ms\":400}}," \
	"{\"id\":\"w\",\"type\":\"wait\",\"tool\":\"conf.time\"," \
	"\"arguments\":{},\"interval_ms\":100,\"timeout_ms\":300000," \
	"\"until\":\"${{ steps.w.output.ms >= inputs.until }}\"}," \
	"{\"id\":\"nap\",\"type\":\"sleep\",\"duration_ms\":400}," \
	"{\"id\":\"ok\",\"type\":\"approval\",\"message\":\"go on?\"}," \
	"{\"id\":\"r2\",\"type\":\"tool\",\"tool\":\"conf.record\"," \
	"\"arguments\":{\"key\":\"${{ execution.id }}.r2\",\"ms\":400}}]}"

/* The kinds of step a kill aims at: a condition on workflow_steps s
   (and workflow_executions x: a held sleep's execution is running). */
static const struct {
	const char	*name;
	const char	*cond;
	int		 decide_down;	/* approvals decided while no task runs */
} targets[] = {
	{ "record (side-effecting, idempotency key)",
	    "s.kind = 'tool' AND s.tool = 'conf.record'", 0 },
	{ "read-only tool", "s.kind = 'tool' AND s.tool = 'conf.sleep'", 0 },
	{ "wait", "s.kind = 'wait'", 0 },
	{ "sleep (held)", "s.kind = 'sleep' AND x.status = 'running'", 0 },
	{ "approval", "s.kind = 'approval'", 1 },
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

/* Keep three executions of kinds going, each waiting 1 to 2 s. */
static void
top_up(void)
{
	if (q_int("SELECT count(*) FROM workflow_executions WHERE "
	    "finished_at IS NULL") >= 3)
		return;
	PQclear(q("SELECT afu9_execution_create((SELECT id FROM workflows "
	    "WHERE name = 'kinds'), jsonb_build_object('until', (extract("
	    "epoch FROM now()) * 1000)::bigint + 1000 + %ld), NULL, 'test') "
	    "FROM generate_series(1, 2)", random() % 1000));
}

/* How many steps matching cond run now. */
static long long
running(const char *cond)
{
	PGresult *r = q("SELECT count(*) FROM workflow_steps s JOIN "
	    "workflow_executions x ON x.id = s.execution_id WHERE s.status = "
	    "'running' AND x.status IN ('running', 'waiting') AND %s", cond);
	long long n = atoll(PQgetvalue(r, 0, 0));

	PQclear(r);
	return n;
}

static void
decide_all(void)
{
	q_do("SELECT afu9_decide(s.execution_id, 'ok', true, 'tester', NULL) "
	    "FROM workflow_steps s WHERE s.kind = 'approval' AND s.status = "
	    "'running'");
}

/*
 * One task killed with SIGKILL in the middle of each kind of step, at a
 * random point of it, `per` times each, and started again at once (an
 * approval waiting is decided while no task runs).  Executions are
 * started along the way so that every kind keeps coming round.  In the
 * end every execution succeeded, every step has exactly one attempt,
 * succeeded, each record's effect is in the ledger exactly once.
 */
START_TEST(every_step_kind)
{
	struct task t;
	int per = scaled(4, 1), hits[NTARGETS], kills = 0, k, i;
	long long again, took, total;
	double max_ms, end;
	char *v;

	seed_init("every_step_kind");
	use_db("kinds");
	takeover_table();
	setenv("AFU9_LEASE_TTL_MS", "1000", 1);	/* a held sleep: <= 500 ms */
	task_start(&t, "kinds");
	wf_apply("kinds", WF_KINDS);
	memset(hits, 0, sizeof(hits));
	for (k = 0; k < (int)NTARGETS; k++) {
		while (hits[k] < per) {
			ck_assert_msg(kills < 4 * per * (int)NTARGETS,
			    "%d kills and %s was hit %d times", kills,
			    targets[k].name, hits[k]);
			end = t_now_ms() + 60000. * t_slow();
			while (running(targets[k].cond) == 0) {
				ck_assert_msg(t_now_ms() < end, "no %s step "
				    "came round: %s", targets[k].name, q_text(
				    "SELECT string_agg(x.status || ' ' || "
				    "x.next_step || ' ' || coalesce(x.error, ''), "
				    "' | ') FROM workflow_executions x"));
				top_up();
				if (!targets[k].decide_down)
					decide_all();
				takeover_poll();
				usleep(10000);
			}
			usleep((useconds_t)(random() % 300000));
			task_kill(&t);
			kills++;
			if (running(targets[k].cond) > 0)
				hits[k]++;
			takeover_note(&t, kills);
			if (targets[k].decide_down)
				decide_all();
			task_start(&t, "kinds");
		}
	}
	total = q_int("SELECT count(*) FROM workflow_executions");
	end = t_now_ms() + 120000. * t_slow();
	while (q_int("SELECT count(*) FROM workflow_executions WHERE "
	    "finished_at IS NULL") > 0) {
		ck_assert_msg(t_now_ms() < end, "executions left unfinished");
		decide_all();
		takeover_poll();
		usleep(POLL_US);
	}
	takeover_check(&took, &max_ms, 0);
	again = check_effects(total, "'r1','r2'");
	ck_assert_int_eq(q_int("SELECT count(*) FROM workflow_steps WHERE "
	    "status <> 'succeeded' OR attempt <> 1"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM workflow_steps"),
	    6 * total);
	ck_assert_int_eq(q_int("SELECT count(*) FROM (SELECT 1 FROM "
	    "workflow_steps GROUP BY execution_id, step_name HAVING "
	    "count(*) <> 1) d"), 0);
	v = q_text("SELECT count(*) FROM ledger l WHERE kind = 'call' AND "
	    "EXISTS (SELECT 1 FROM ledger m WHERE m.kind = 'effect' AND "
	    "m.key = l.key AND m.pid <> l.pid)");
	fprintf(stderr, "# every_step_kind: %d kills, %lld executions; hits:",
	    kills, total);
	for (i = 0; i < (int)NTARGETS; i++)
		fprintf(stderr, " %s %d;", targets[i].name, hits[i]);
	fprintf(stderr, " %lld record calls made again with their key (%s by "
	    "another task's server than the effect's); %lld taken over, "
	    "slowest %.0f ms after the kill\n", again, v, took, max_ms);
	free(v);
	task_stop(&t);
	unsetenv("AFU9_LEASE_TTL_MS");
	db_close();
}
END_TEST

/* ---- chaos ---- */

#define WF_CHAOS "{\"name\":\"chaos\",\"inputs\":{\"type\":\"object\"," \
	"\"properties\":{\"until\":{\"type\":\"string\"}}," \
	"\"required\":[\"until\"]},\"steps\":[" \
	"{\"id\":\"a\",\"type\":\"tool\",\"tool\":\"conf.record\"," \
	"\"arguments\":{\"key\":\"${{ execution.id }}.a\"}}," \
	"{\"id\":\"nap\",\"type\":\"sleep\",\"until\":\"${{ inputs.until }}\"}," \
	"{\"id\":\"b\",\"type\":\"tool\",\"tool\":\"conf.record\"," \
	"\"arguments\":{\"key\":\"${{ execution.id }}.b\",\"ms\":20}}]}"

/*
 * Three tasks, 10,000 executions started at once (a record, a durable
 * sleep until a time spread over the next 80 s, a record: 30,000
 * steps), and 100 times a random task is killed with SIGKILL and
 * started again, 0.3 to 0.9 s apart.  None lost (all succeeded), no
 * effect made twice, every execution a dead task held taken over within
 * 2 x the TTL.
 */
START_TEST(chaos)
{
	struct task t[3];
	int total = scaled(10000, 60), kills = scaled(100, 3), k, i;
	long long again, took, lost;
	double max_ms, end, t0, pause;
	char *v;

	seed_init("chaos");
	use_db("chaos");
	takeover_table();
	setenv("AFU9_LEASE_TTL_MS", "1000", 1);
	for (i = 0; i < 3; i++)
		task_start(&t[i], "chaos");
	wf_apply("chaos", WF_CHAOS);
	t0 = t_now_ms();
	wf_start_many("chaos", total, "jsonb_build_object('until', "
	    "afu9_ts(now() + (g % 80) * interval '1 s' + random() * "
	    "interval '1 s'))", "c");
	for (k = 1; k <= kills; k++) {
		pause = t_now_ms() + 300 + random() % 600;
		while (t_now_ms() < pause) {
			takeover_poll();
			usleep(POLL_US);
		}
		i = (int)(random() % 3);
		task_kill(&t[i]);
		takeover_note(&t[i], k);
		task_start(&t[i], "chaos");
	}
	v = q_text("SELECT count(*) FILTER (WHERE finished_at IS NULL) || ' "
	    "of ' || count(*) FROM workflow_executions");
	fprintf(stderr, "# chaos: %d kills in %.1f s, %s executions left\n",
	    kills, (t_now_ms() - t0) / 1000., v);
	free(v);
	end = t_now_ms() + 300000. * t_slow();
	while (q_int("SELECT count(*) FROM workflow_executions WHERE "
	    "finished_at IS NULL") > 0) {
		ck_assert_msg(t_now_ms() < end, "executions left unfinished");
		takeover_poll();
		usleep(POLL_US);
	}
	lost = q_int("SELECT count(*) FROM workflow_executions WHERE status "
	    "<> 'succeeded'");
	ck_assert_msg(lost == 0, "%lld executions did not succeed: %s", lost,
	    v = q_text("SELECT string_agg(DISTINCT error, ' | ') FROM "
	    "workflow_executions WHERE status <> 'succeeded'"));
	takeover_check(&took, &max_ms, 1);
	again = check_effects(total, "'a','b'");
	fprintf(stderr, "# chaos: %d executions (%d steps) in %.1f s, %d "
	    "kills: 0 lost, 0 effects repeated, %lld record calls made again "
	    "with their key, %lld executions taken over, the slowest %.0f ms "
	    "after the kill\n", total, 3 * total, (t_now_ms() - t0) / 1000.,
	    kills, again, took, max_ms);
	for (i = 0; i < 3; i++)
		task_stop(&t[i]);
	unsetenv("AFU9_LEASE_TTL_MS");
	db_close();
}
END_TEST

/* One case per test: CK_RUN_CASE=chaos runs one alone. */
static void
add_case(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_set_timeout(tc, 300 * t_slow());
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *
wfdurable_suite(void)
{
	Suite *s = suite_create("wfdurable");

	add_case(s, "every_step_kind", every_step_kind);
	add_case(s, "two_tasks", two_tasks);
	add_case(s, "chaos", chaos);
	return s;
}

int
main(void)
{
	return ot_main(wfdurable_suite(), tmpdir);
}
