#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/migrate.h"
#include "pgtest.h"
#include "redact.h"
#include "testutil.h"

#define TABLES	"workflows", "workflow_executions", "workflow_steps", \
		"mcp_servers", "repositories", "agent_runs", "mcp_tool_calls", \
		"agent_messages", "api_tokens", "mcp_sessions", "mcp_streams", \
		"mcp_events", "webhook_events"

static struct pgtest	*pg;		/* one server for the whole suite */
static PGconn		*db;		/* a fresh schema per test, as the
					   search_path of database "t" */
static char		*ci;		/* its conninfo */
static char		 tmp[256];	/* a scratch migrations dir, or "" */
static char		 err[MIG_ERR_MAX];

static const char *sqlstate(PGconn *, const char *);
static void	put(const char *, const char *);
static char	*slurp(const char *);

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

/*
 * A new empty schema per test (much cheaper than a database per test):
 * the conninfo sets it as the only search_path entry, so everything the
 * migrations create lands there.
 */
static void
setup(void)
{
	static int n;
	char name[64], sql[128], *base;
	PGconn *c;

	snprintf(name, sizeof(name), "s%d_%d", (int)getpid(), n++);
	ck_assert_ptr_nonnull(base = pgt_conninfo(pg, "t"));
	ck_assert_msg(mig_connect(base, &c, err, sizeof(err)) == 0, "%s", err);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", name);
	ck_assert_str_eq(sqlstate(c, sql), "");
	PQfinish(c);
	ck_assert_int_ne(asprintf(&ci, "%s options='-csearch_path=%s'", base,
	    name), -1);
	free(base);
	ck_assert_msg(mig_connect(ci, &db, err, sizeof(err)) == 0, "%s", err);
	tmp[0] = '\0';
	err[0] = '\0';
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

static void
teardown(void)
{
	PQfinish(db);
	db = NULL;
	free(ci);
	ci = NULL;
	if (tmp[0])
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmp[0] = '\0';
}

static const char *
realdir(void)
{
	return t_srcdir("migrations");
}

/*
 * The scratch migrations dir (made on first use), inside the server's
 * directory so that it goes with the server even when a failed test
 * skips its teardown.
 */
static const char *
scratch(void)
{
	if (tmp[0] == '\0') {
		snprintf(tmp, sizeof(tmp), "%s/mig.XXXXXX", pgt_dir(pg));
		ck_assert_ptr_nonnull(mkdtemp(tmp));
	}
	return tmp;
}

/*
 * The migrations of dir as mig_up() takes them (mig_parse_name()), in
 * version order: their count, and "VERSION NAME,..." in *list
 * (malloc'd).  Counted here so that a new migration needs no change to
 * these tests.
 */
static int
migrations_of(const char *dir, char **list)
{
	struct dirent **v;
	long long ver;
	size_t len = 0;
	FILE *fp;
	int i, n, count = 0;

	ck_assert_int_ge(n = scandir(dir, &v, NULL, alphasort), 0);
	ck_assert_ptr_nonnull(fp = open_memstream(list, &len));
	for (i = 0; i < n; i++) {
		if (mig_parse_name(v[i]->d_name, &ver) == 0)
			fprintf(fp, "%s%lld %s", count++ ? "," : "", ver,
			    v[i]->d_name);
		free(v[i]);
	}
	free(v);
	fclose(fp);
	return count;
}

/* Copy the real migrations up to version last into the scratch dir. */
static void
put_real_upto(long long last)
{
	char path[512], *sql;
	struct dirent **v;
	long long ver;
	int i, n;

	ck_assert_int_ge(n = scandir(realdir(), &v, NULL, alphasort), 0);
	for (i = 0; i < n; i++) {
		if (mig_parse_name(v[i]->d_name, &ver) == 0 && ver <= last) {
			snprintf(path, sizeof(path), "%s/%s", realdir(),
			    v[i]->d_name);
			sql = slurp(path);
			put(v[i]->d_name, sql);
			free(sql);
		}
		free(v[i]);
	}
	free(v);
}

static void
put(const char *name, const char *content)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", scratch(), name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_eq(fputs(content, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

static void
del(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", scratch(), name);
	ck_assert_int_eq(unlink(path), 0);
}

/* Whole file as a malloc'd string. */
static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s;
	long n;

	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	ck_assert_ptr_nonnull(s = malloc((size_t)n + 1));
	ck_assert_int_eq(fread(s, 1, (size_t)n, fp), n);
	s[n] = '\0';
	fclose(fp);
	return s;
}

/* First value of a one-row query, malloc'd ("" for NULL). */
static char *
q1p(PGconn *c, const char *sql, const char *p1)
{
	const char *params[1] = { p1 };
	PGresult *r = PQexecParams(c, sql, p1 ? 1 : 0, NULL, params, NULL,
	    NULL, 0);
	char *s;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	ck_assert_int_eq(PQntuples(r), 1);
	s = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return s;
}

static char *
q1(const char *sql)
{
	return q1p(db, sql, NULL);
}

/* Like q1 but compares with want and frees. */
#define ck_q1(sql, want) do {						\
	char *v_ = q1(sql);						\
	ck_assert_str_eq(v_, want);					\
	free(v_);							\
} while (0)

/* Run sql; "" on success, else the SQLSTATE (static). */
static const char *
sqlstate(PGconn *c, const char *sql)
{
	static char st[8];
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);
	const char *f;

	st[0] = '\0';
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		f = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(st, sizeof(st), "%s", f ? f : "?????");
	}
	PQclear(r);
	return st;
}

#define ck_sql_ok(sql) ck_assert_str_eq(sqlstate(db, sql), "")

/* The sha256 of s computed by the server, as an independent check. */
static char *
server_sha(const char *s)
{
	return q1p(db, "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')",
	    s);
}

static int
table_exists(const char *t)
{
	char *v = q1p(db, "SELECT to_regclass($1) IS NOT NULL", t);
	int yes = strcmp(v, "t") == 0;

	free(v);
	return yes;
}

/* mig_status printed to a string (malloc'd). */
static char *
status_text(const char *dir)
{
	struct mig_report r;
	char *s = NULL;
	size_t len = 0;
	FILE *fp;

	ck_assert_msg(mig_status(db, dir, &r, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_ptr_nonnull(fp = open_memstream(&s, &len));
	ck_assert_int_eq(mig_report_print(fp, &r), 0);
	fclose(fp);
	mig_report_free(&r);
	return s;
}

START_TEST(test_parse_name)
{
	static const char *const bad[] = {
		"01_a.sql", "001-a.sql", "001_.sql", "001_A.sql", "001_a.SQL",
		"001_a.sql~", "001_a.sql.bak", "1234567890_a.sql", "001_a b.sql",
		"a001_x.sql", "001_a.sqlx", "", "001_a", "001_a-b.sql",
		"_001_a.sql", "001__.sql.", "001_é.sql",
	};
	char longname[200];
	long long v = -1;
	size_t i;

	ck_assert_int_eq(mig_parse_name("001_initial_schema.sql", &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(mig_parse_name("0042_a.sql", &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(mig_parse_name("123456789_x_1.sql", &v), 0);
	ck_assert_int_eq(v, 123456789);
	ck_assert_int_eq(mig_parse_name("001___.sql", NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mig_parse_name(bad[i], &v) == -1, "%s", bad[i]);
	/* MIG_NAME_MAX bytes pass, one more does not. */
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "001_", 4);
	strcpy(longname + MIG_NAME_MAX - 4, ".sql");
	ck_assert_int_eq(mig_parse_name(longname, NULL), 0);
	longname[MIG_NAME_MAX - 4] = 'a';
	strcpy(longname + MIG_NAME_MAX - 3, ".sql");
	ck_assert_int_eq(mig_parse_name(longname, NULL), -1);
}
END_TEST

START_TEST(test_conninfo_redact)
{
	char out[512];

	mig_conninfo_redact("host=/tmp user=u password=hunter22 dbname=x", out,
	    sizeof(out));
	ck_assert_str_eq(out, "user=u password=[REDACTED] dbname=x host=/tmp");
	mig_conninfo_redact("postgresql://u:s3cretpw@localhost:5433/db", out,
	    sizeof(out));
	ck_assert_ptr_null(strstr(out, "s3cretpw"));
	ck_assert_ptr_nonnull(strstr(out, "password=[REDACTED]"));
	ck_assert_ptr_nonnull(strstr(out, "port=5433"));
	mig_conninfo_redact("host='unterminated password=x", out, sizeof(out));
	ck_assert_str_eq(out, "(unparsable conninfo)");
	/* Truncation keeps whole pairs only. */
	mig_conninfo_redact("user=u password=hunter22 dbname=x", out, 20);
	ck_assert_str_eq(out, "user=u");
}
END_TEST

START_TEST(test_up_from_empty)
{
	static const char *const tables[] = { TABLES };
	char path[512], *sql, *sum, *list, count[16];
	int applied = -1, nmig;
	size_t i;

	nmig = migrations_of(realdir(), &list);
	ck_assert_int_ge(nmig, 7);
	snprintf(count, sizeof(count), "%d", nmig);
	ck_assert_msg(mig_up(db, realdir(), &applied, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(applied, nmig);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		ck_assert_msg(table_exists(tables[i]), "%s", tables[i]);
	/* Exactly these tables and schema_migrations, nothing else. */
	ck_q1("SELECT string_agg(tablename, ',' ORDER BY tablename) "
	    "FROM pg_tables WHERE schemaname = current_schema()",
	    "agent_messages,agent_runs,api_tokens,mcp_events,mcp_servers,"
	    "mcp_sessions,mcp_streams,mcp_tool_calls,repositories,"
	    "schema_migrations,webhook_events,workflow_executions,"
	    "workflow_steps,workflows");
	snprintf(path, sizeof(path), "%s/001_initial_schema.sql", realdir());
	sql = slurp(path);
	sum = server_sha(sql);
	ck_q1("SELECT count(*) FROM schema_migrations", count);
	ck_q1("SELECT string_agg(version || ' ' || name, ',' ORDER BY "
	    "version) FROM schema_migrations", list);
	ck_assert_ptr_nonnull(strstr(list, "1 001_initial_schema.sql,"
	    "2 002_workflow_engine.sql,3 003_agent_runs.sql,"
	    "4 004_api_tokens.sql,5 005_webhook_events.sql,"
	    "6 006_mcp_sessions.sql,7 007_agent_step_kind.sql"));
	/* The agent runs' functions (003). */
	ck_q1("SELECT count(*) FROM pg_proc WHERE proname IN ("
	    "'afu9_agent_run_json', 'afu9_agent_runs_json')", "2");
	/* The engine's functions (002). */
	ck_q1("SELECT count(*) FROM pg_proc WHERE proname IN ('afu9_claim', "
	    "'afu9_fence', 'afu9_advance', 'afu9_heartbeat', 'afu9_park')",
	    "5");
	{
		char *got = q1("SELECT checksum FROM schema_migrations "
		    "WHERE version = 1");

		ck_assert_str_eq(got, sum);
		free(got);
	}
	ck_q1("SELECT bool_and(duration_ms >= 0 AND applied_at > now() - "
	    "interval '1 minute') FROM schema_migrations", "t");
	/* One trigger function, seven triggers. */
	ck_q1("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND "
	    "tgfoid = 'afu9_set_updated_at'::regproc", "7");
	free(sql);
	free(sum);
	free(list);
}
END_TEST

START_TEST(test_rerun_noop)
{
	char *before, *after, *list, count[16];
	int applied = -1;

	snprintf(count, sizeof(count), "%d", migrations_of(realdir(), &list));
	free(list);

	ck_assert_msg(mig_up(db, realdir(), &applied, err, sizeof(err)) == 0,
	    "%s", err);
	before = q1("SELECT applied_at FROM schema_migrations "
	    "WHERE version = 1");
	ck_assert_msg(mig_up(db, realdir(), &applied, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(applied, 0);
	after = q1("SELECT applied_at FROM schema_migrations "
	    "WHERE version = 1");
	ck_assert_str_eq(before, after);
	ck_q1("SELECT count(*) FROM schema_migrations", count);
	/* The lock is released: another session can take it at once. */
	ck_q1("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "0");
	free(before);
	free(after);
}
END_TEST

/*
 * 007: the 'agent' step kind.  Up to 006 a step of kind 'agent' is
 * refused (003 is as it first landed), after 007 it is taken; 007 run a
 * second time (as over a database whose edited 003 had done it already)
 * changes nothing.
 */
START_TEST(test_agent_step_kind)
{
	static const char step[] = "INSERT INTO workflow_steps (execution_id, "
	    "step_index, step_name, kind) VALUES ((SELECT id FROM "
	    "workflow_executions LIMIT 1), %d, 's', '%s')";
	char path[512], sql[512], *mig;
	int applied;

	put_real_upto(6);
	ck_assert_msg(mig_up(db, scratch(), &applied, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(applied, 6);
	ck_sql_ok("INSERT INTO workflows (name, version, definition) VALUES "
	    "('w', 1, '{}')");
	ck_sql_ok("INSERT INTO workflow_executions (workflow_id) SELECT id "
	    "FROM workflows");
	snprintf(sql, sizeof(sql), step, 0, "agent");
	ck_assert_str_eq(sqlstate(db, sql), "23514");
	snprintf(sql, sizeof(sql), step, 0, "wait");
	ck_sql_ok(sql);

	put_real_upto(7);
	ck_assert_msg(mig_up(db, scratch(), &applied, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(applied, 1);
	snprintf(sql, sizeof(sql), step, 1, "agent");
	ck_sql_ok(sql);
	snprintf(sql, sizeof(sql), step, 2, "bogus");
	ck_assert_str_eq(sqlstate(db, sql), "23514");

	snprintf(path, sizeof(path), "%s/007_agent_step_kind.sql", realdir());
	mig = slurp(path);
	ck_sql_ok(mig);
	ck_sql_ok(mig);
	snprintf(sql, sizeof(sql), step, 3, "agent");
	ck_sql_ok(sql);
	snprintf(sql, sizeof(sql), step, 4, "bogus");
	ck_assert_str_eq(sqlstate(db, sql), "23514");
	ck_q1("SELECT count(*) FROM pg_constraint WHERE conname = "
	    "'workflow_steps_kind_check' AND connamespace = "
	    "current_schema()::regnamespace", "1");
	free(mig);
}
END_TEST

START_TEST(test_status)
{
	char path[512], *sql, *s, want[256];
	int applied;

	snprintf(path, sizeof(path), "%s/001_initial_schema.sql", realdir());
	sql = slurp(path);
	put("001_initial_schema.sql", sql);
	put("002_add_note.sql", "ALTER TABLE workflows ADD COLUMN note text;\n");
	/* Nothing applied: both pending, and status created nothing. */
	s = status_text(scratch());
	ck_assert_str_eq(s, "001_initial_schema.sql  pending\n"
	    "002_add_note.sql        pending\n");
	free(s);
	ck_assert_int_eq(table_exists("schema_migrations"), 0);
	/* 001 alone applied: 001 applied, 002 pending. */
	{
		char p2[600];

		snprintf(p2, sizeof(p2), "%s/002_add_note.sql", scratch());
		ck_assert_int_eq(unlink(p2), 0);
		ck_assert_int_eq(mig_up(db, scratch(), &applied, err,
		    sizeof(err)), 0);
		ck_assert_int_eq(applied, 1);
		put("002_add_note.sql", "ALTER TABLE workflows ADD COLUMN "
		    "note text;\n");
	}
	s = status_text(scratch());
	{
		char *at = q1("SELECT to_char(applied_at AT TIME ZONE 'UTC', "
		    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || '  (' || duration_ms "
		    "|| ' ms)' FROM schema_migrations");

		snprintf(want, sizeof(want), "001_initial_schema.sql  applied "
		    "  %s\n002_add_note.sql        pending\n", at);
		free(at);
	}
	ck_assert_str_eq(s, want);
	free(s);
	ck_assert_msg(mig_up(db, scratch(), &applied, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(applied, 1);
	ck_q1("SELECT count(*) FROM information_schema.columns WHERE "
	    "table_schema = current_schema() AND table_name = 'workflows' "
	    "AND column_name = 'note'", "1");
	s = status_text(scratch());
	ck_assert_ptr_null(strstr(s, "pending"));
	ck_assert_ptr_nonnull(strstr(s, "002_add_note.sql        applied   "));
	free(s);
	free(sql);
}
END_TEST

START_TEST(test_checksum_mismatch)
{
	char *old, *new, *s, want[512];
	int applied;

	put("001_a.sql", "CREATE TABLE a (x int);\n");
	ck_assert_int_eq(mig_up(db, scratch(), &applied, err, sizeof(err)), 0);
	old = server_sha("CREATE TABLE a (x int);\n");
	new = server_sha("CREATE TABLE a (x bigint);\n");
	put("001_a.sql", "CREATE TABLE a (x bigint);\n");
	put("002_b.sql", "CREATE TABLE b (x int);\n");
	ck_assert_int_eq(mig_up(db, scratch(), &applied, err, sizeof(err)), -1);
	ck_assert_int_eq(applied, 0);
	snprintf(want, sizeof(want), "migration %s/001_a.sql was changed after "
	    "it was applied: file sha256 %s, applied sha256 %s; add a new "
	    "migration instead", scratch(), new, old);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(table_exists("b"), 0);	/* nothing else applied */
	s = status_text(scratch());
	snprintf(want, sizeof(want), "001_a.sql  modified  file sha256 %s != "
	    "applied %s\n002_b.sql  pending\n", new, old);
	ck_assert_str_eq(s, want);
	free(s);
	free(old);
	free(new);
}
END_TEST

/* dir holds a good 001 and one bad entry: refused, database untouched. */
static void
refused(const char *what)
{
	int applied = -1;

	ck_assert_int_eq(mig_up(db, scratch(), &applied, err, sizeof(err)), -1);
	ck_assert_int_eq(applied, 0);
	ck_assert_msg(strstr(err, what) != NULL, "want '%s' in: %s", what, err);
	ck_assert_int_eq(table_exists("schema_migrations"), 0);
	ck_assert_int_eq(table_exists("a"), 0);
}

START_TEST(test_bad_names)
{
	static const char *const bad[] = {
		"01_b.sql", "002-b.sql", "002_B.sql", "002_b.sql~", "README",
		"002_b.sql.orig", "002_b.SQL",
	};
	char path[512], want[300];
	size_t i;
	int fd;

	put("001_a.sql", "CREATE TABLE a (x int);\n");
	put(".002_b.sql.swp", "garbage");	/* hidden: ignored */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(bad[i], "CREATE TABLE b (x int);\n");
		snprintf(want, sizeof(want), "%s/%s: bad file name", scratch(),
		    bad[i]);
		refused(want);
		del(bad[i]);
	}
	put("0001_b.sql", "SELECT 1;\n");
	refused("0001_b.sql and 001_a.sql have the same version");
	del("0001_b.sql");
	snprintf(path, sizeof(path), "%s/002_dir.sql", scratch());
	ck_assert_int_eq(mkdir(path, 0700), 0);
	refused("002_dir.sql: not a regular file");
	ck_assert_int_eq(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/002_nul.sql", scratch());
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	ck_assert_int_eq(write(fd, "SELECT 1;\0SELECT 2;", 19), 19);
	close(fd);
	refused("002_nul.sql: contains a NUL byte");
	unlink(path);
	snprintf(path, sizeof(path), "%s/002_big.sql", scratch());
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	ck_assert_int_eq(ftruncate(fd, MIG_FILE_MAX + 1), 0);
	close(fd);
	refused("002_big.sql: larger than");
	unlink(path);
	/* Still fine after all that; the hidden file was never read. */
	ck_assert_msg(mig_up(db, scratch(), NULL, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(table_exists("a"), 1);
	ck_assert_int_eq(mig_up(db, "/nonexistent/afu9", NULL, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "migrations /nonexistent/afu9: No such file or "
	    "directory");
}
END_TEST

/* Child: its own connection, one mig_up; exit 10 + applied, or 1. */
static void __attribute__((noreturn))
up_child(void)
{
	char e[MIG_ERR_MAX];
	PGconn *c;
	int applied = -1;

	if (mig_connect(ci, &c, e, sizeof(e)) == -1 ||
	    mig_up(c, realdir(), &applied, e, sizeof(e)) == -1) {
		fprintf(stderr, "child: %s\n", e);
		_exit(1);
	}
	PQfinish(c);
	_exit(10 + applied);
}

START_TEST(test_concurrent_up)
{
	char key[32], *n, *list, count[16];
	const char *params[1] = { key };
	PGconn *holder;
	PGresult *r;
	pid_t kids[2];
	int st[2], i, nmig;
	double deadline;

	nmig = migrations_of(realdir(), &list);
	free(list);
	snprintf(count, sizeof(count), "%d", nmig);

	/* Hold the lock so both children are sure to contend for it. */
	ck_assert_int_eq(mig_connect(ci, &holder, err, sizeof(err)), 0);
	snprintf(key, sizeof(key), "%lld", (long long)MIG_LOCK_KEY);
	r = PQexecParams(holder, "SELECT pg_advisory_lock($1::bigint)", 1,
	    NULL, params, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	for (i = 0; i < 2; i++) {
		ck_assert_int_ne(kids[i] = fork(), -1);
		if (kids[i] == 0)
			up_child();
	}
	deadline = t_now_ms() + 10000.0 * t_slow();
	for (;;) {
		n = q1("SELECT count(*) FROM pg_locks WHERE locktype = "
		    "'advisory' AND NOT granted");
		if (strcmp(n, "2") == 0 || t_now_ms() > deadline)
			break;
		free(n);
		usleep(5000);	/* nothing to block on: poll pg_locks */
	}
	ck_assert_str_eq(n, "2");
	free(n);
	ck_q1("SELECT to_regclass('schema_migrations') IS NULL", "t");
	PQclear(PQexecParams(holder, "SELECT pg_advisory_unlock($1::bigint)",
	    1, NULL, params, NULL, NULL, 0));
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(kids[i], &st[i], 0), kids[i]);
		ck_assert(WIFEXITED(st[i]));
	}
	/* Both succeeded; exactly one applied all the migrations. */
	ck_assert_int_eq(WEXITSTATUS(st[0]) + WEXITSTATUS(st[1]),
	    20 + nmig);
	ck_assert_int_ne(WEXITSTATUS(st[0]), 1);
	ck_assert_int_ne(WEXITSTATUS(st[1]), 1);
	ck_q1("SELECT count(*) FROM schema_migrations", count);
	ck_assert_int_eq(table_exists("mcp_tool_calls"), 1);
	PQfinish(holder);
}
END_TEST

START_TEST(test_failure_rolls_back)
{
	int applied = -1;
	char want[512];

	put("001_ok.sql", "CREATE TABLE a (x int);\n");
	put("002_bad.sql", "CREATE TABLE b (x int);\n"
	    "INSERT INTO b VALUES (1);\nINSERT INTO nope VALUES (1);\n");
	put("003_later.sql", "CREATE TABLE c (x int);\n");
	ck_assert_int_eq(mig_up(db, scratch(), &applied, err, sizeof(err)), -1);
	ck_assert_int_eq(applied, 1);
	snprintf(want, sizeof(want), "migration %s/002_bad.sql failed, rolled "
	    "back: ERROR:  relation \"nope\" does not exist\nLINE 3: INSERT "
	    "INTO nope VALUES (1);\n                    ^", scratch());
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(table_exists("a"), 1);
	ck_assert_int_eq(table_exists("b"), 0);
	ck_assert_int_eq(table_exists("c"), 0);
	ck_q1("SELECT string_agg(name, ',' ORDER BY version) "
	    "FROM schema_migrations", "001_ok.sql");
	/* Fixed file: the rest applies. */
	put("002_bad.sql", "CREATE TABLE b (x int);\n");
	ck_assert_msg(mig_up(db, scratch(), &applied, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(applied, 2);
	ck_assert_int_eq(table_exists("c"), 1);
	/* A file that commits on its own is reported and not recorded. */
	put("004_commits.sql", "CREATE TABLE d (x int);\nCOMMIT;\n");
	ck_assert_int_eq(mig_up(db, scratch(), &applied, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "004_commits.sql ended the "
	    "transaction"));
	ck_q1("SELECT count(*) FROM schema_migrations WHERE version = 4", "0");
	del("004_commits.sql");
	/* COPY has no data to read: refused, and the session stays usable. */
	put("005_copy.sql", "CREATE TABLE e (x int);\nCOPY e FROM STDIN;\n");
	ck_assert_int_eq(mig_up(db, scratch(), &applied, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "005_copy.sql failed, rolled back: "
	    "COPY is not supported in migrations"));
	ck_assert_int_eq(table_exists("e"), 0);
	ck_q1("SELECT count(*) FROM schema_migrations WHERE version = 5", "0");
	ck_q1("SELECT 1", "1");
}
END_TEST

START_TEST(test_history_mismatch)
{
	char want[512], *s;

	put("001_a.sql", "CREATE TABLE a (x int);\n");
	put("003_c.sql", "CREATE TABLE c (x int);\n");
	ck_assert_int_eq(mig_up(db, scratch(), NULL, err, sizeof(err)), 0);
	/* A pending file older than the newest applied one. */
	put("002_b.sql", "CREATE TABLE b (x int);\n");
	ck_assert_int_eq(mig_up(db, scratch(), NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "migration %s/002_b.sql is pending but "
	    "older than applied 003_c.sql; renumber it after 003_c.sql",
	    scratch());
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(table_exists("b"), 0);
	del("002_b.sql");
	/* An applied file gone. */
	del("003_c.sql");
	ck_assert_int_eq(mig_up(db, scratch(), NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "migration 003_c.sql (version 3) is "
	    "applied but missing from %s", scratch());
	ck_assert_str_eq(err, want);
	s = status_text(scratch());
	ck_assert_ptr_nonnull(strstr(s, "\n003_c.sql  missing   applied 20"));
	ck_assert_ptr_nonnull(strstr(s, ", no file\n"));
	free(s);
	/* An applied file renamed. */
	put("003_c.sql", "CREATE TABLE c (x int);\n");
	del("001_a.sql");
	put("001_a2.sql", "CREATE TABLE a (x int);\n");
	ck_assert_int_eq(mig_up(db, scratch(), NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "migration %s/001_a2.sql was applied "
	    "under the name 001_a.sql; file names must not change", scratch());
	ck_assert_str_eq(err, want);
	s = status_text(scratch());
	ck_assert_msg(strncmp(s, "001_a2.sql  modified  applied as 001_a.sql\n"
	    "003_c.sql   applied   20", 67) == 0, "%s", s);
	free(s);
}
END_TEST

START_TEST(test_password_redacted)
{
	const char *pw = pgt_password(pg);
	char *bad, *p, sql[128];
	PGconn *c = NULL;

	/*
	 * The right password, echoed back by a server error.  The 'x' keeps
	 * the cast's message fixed: a hex password that starts with ten or
	 * more digits would otherwise be "out of range", not "invalid".
	 */
	ck_assert(redact_contains_secret(pw, strlen(pw)));
	snprintf(sql, sizeof(sql), "SELECT 'x%s'::int;\n", pw);
	put("001_leak.sql", sql);
	ck_assert_int_eq(mig_up(db, scratch(), NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "invalid input syntax for type "
	    "integer: \"x[REDACTED]\"") != NULL, "%s", err);
	ck_assert_ptr_null(strstr(err, pw));
	/* A wrong password: the conninfo is shown, its password is not. */
	ck_assert_ptr_nonnull(bad = strdup(ci));
	ck_assert_ptr_nonnull(p = strstr(bad, pw));
	memcpy(p, "wrongpassword", 13);
	ck_assert_int_eq(mig_connect(bad, &c, err, sizeof(err)), -1);
	ck_assert_ptr_null(c);
	ck_assert_ptr_null(strstr(err, "wrongpassword"));
	ck_assert_ptr_null(strstr(err, pw));
	ck_assert_ptr_nonnull(strstr(err, "cannot connect to database "));
	ck_assert_ptr_nonnull(strstr(err, "password=[REDACTED]"));
	ck_assert_ptr_nonnull(strstr(err, "password authentication failed "
	    "for user \"afu9\""));
	free(bad);
}
END_TEST

START_TEST(test_schema_checks)
{
	char sql[512], *wf, *ex, *ex2;

	ck_assert_msg(mig_up(db, realdir(), NULL, err, sizeof(err)) == 0, "%s",
	    err);
	wf = q1("INSERT INTO workflows (name, definition) VALUES "
	    "('issue-to-pr', '{\"steps\": []}') RETURNING id");
	ck_assert_int_eq(strlen(wf), 36);	/* a generated uuid */
	ck_assert_str_eq(sqlstate(db, "INSERT INTO workflows (name, definition)"
	    " VALUES ('x', '[]')"), "23514");
	ck_assert_str_eq(sqlstate(db, "INSERT INTO workflows (name, definition)"
	    " VALUES ('issue-to-pr', '{}')"), "23505");	/* same version */
	/* Execution status CHECK, lease CHECKs, idempotency_key UNIQUE. */
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_executions "
	    "(workflow_id, status) VALUES ('%s', 'bogus')", wf);
	ck_assert_str_eq(sqlstate(db, sql), "23514");
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_executions "
	    "(workflow_id, status) VALUES ('%s', 'running')", wf);
	ck_assert_str_eq(sqlstate(db, sql), "23514");	/* no lease */
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_executions "
	    "(workflow_id, status) VALUES ('%s', 'succeeded')", wf);
	ck_assert_str_eq(sqlstate(db, sql), "23514");	/* no finished_at */
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_executions "
	    "(workflow_id, idempotency_key, updated_at) VALUES ('%s', 'k1', "
	    "'2000-01-01Z') RETURNING id", wf);
	ex = q1(sql);
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_executions "
	    "(workflow_id, idempotency_key) VALUES ('%s', 'k1')", wf);
	ck_assert_str_eq(sqlstate(db, sql), "23505");
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_executions "
	    "(workflow_id) VALUES ('%s') RETURNING id", wf);
	ex2 = q1(sql);		/* NULL keys do not collide */
	/* updated_at follows every UPDATE, whatever the statement says. */
	snprintf(sql, sizeof(sql), "UPDATE workflow_executions SET status = "
	    "'cancelled', finished_at = now(), updated_at = '2000-01-01Z' "
	    "WHERE id = '%s'", ex);
	ck_sql_ok(sql);
	snprintf(sql, sizeof(sql), "SELECT updated_at > now() - interval "
	    "'1 minute' FROM workflow_executions WHERE id = '%s'", ex);
	ck_q1(sql, "t");
	/* Steps: UNIQUE (execution, index, attempt); a retry is attempt 2. */
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_steps (execution_id, "
	    "step_index, step_name) VALUES ('%s', 0, 'fetch')", ex2);
	ck_sql_ok(sql);
	ck_assert_str_eq(sqlstate(db, sql), "23505");
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_steps (execution_id, "
	    "step_index, step_name, attempt) VALUES ('%s', 0, 'fetch', 2)", ex2);
	ck_sql_ok(sql);
	/* Tool calls: caller CHECK, outcome CHECK, FKs. */
	ck_assert_str_eq(sqlstate(db, "INSERT INTO mcp_tool_calls (server, "
	    "tool, caller) VALUES ('github', 'getIssue', 'robot')"), "23514");
	ck_assert_str_eq(sqlstate(db, "INSERT INTO mcp_tool_calls (server, "
	    "tool, caller, status, duration_ms) VALUES ('github', 'getIssue', "
	    "'cli', 'failed', 5)"), "23514");	/* failed without a code */
	snprintf(sql, sizeof(sql), "INSERT INTO mcp_tool_calls (server, tool, "
	    "caller, rpc_id, arguments, status, is_error, result_summary, "
	    "duration_ms, execution_id) VALUES ('github', 'getIssue', "
	    "'workflow', '7', '{\"number\": 1}', 'completed', true, "
	    "'Not Found', 12, '%s')", ex2);
	ck_sql_ok(sql);
	ck_assert_str_eq(sqlstate(db, "INSERT INTO mcp_tool_calls (server, "
	    "tool, caller, rpc_id) VALUES ('github', 'getIssue', 'cli', "
	    "'{}')"), "23514");	/* an id is a string or a number */
	ck_assert_str_eq(sqlstate(db, "INSERT INTO mcp_servers (name, command,"
	    " state) VALUES ('github', 'afu9-github', 'sleeping')"), "23514");
	/* Deleting a workflow with history is refused; an execution takes
	   its steps along and leaves its tool calls unlinked. */
	snprintf(sql, sizeof(sql), "DELETE FROM workflows WHERE id = '%s'", wf);
	ck_assert_str_eq(sqlstate(db, sql), "23503");
	snprintf(sql, sizeof(sql), "DELETE FROM workflow_executions WHERE "
	    "id = '%s'", ex2);
	ck_sql_ok(sql);
	ck_q1("SELECT count(*) FROM workflow_steps", "0");
	ck_q1("SELECT count(*) || ' ' || count(execution_id) "
	    "FROM mcp_tool_calls", "1 0");
	free(wf);
	free(ex);
	free(ex2);
}
END_TEST

/* The claim statement of doc/schema.md, for n rows as owner. */
static PGresult *
claim(PGconn *c, const char *owner, const char *n)
{
	const char *params[2] = { owner, n };

	return PQexecParams(c,
	    "UPDATE workflow_executions e"
	    "   SET status = 'running', attempt = e.attempt + 1,"
	    "       lease_owner = $1, lease_expires_at = now() + interval '30 s',"
	    "       started_at = coalesce(e.started_at, now())"
	    " WHERE e.id IN ("
	    "       SELECT id FROM workflow_executions"
	    "        WHERE ((status = 'pending' AND run_after <= now())"
	    "            OR (status = 'running' AND lease_expires_at < now()))"
	    "          AND attempt < max_attempts"
	    "        LIMIT $2"
	    "        FOR UPDATE SKIP LOCKED)"
	    " RETURNING e.idempotency_key, e.attempt", 2, NULL, params, NULL,
	    NULL, 0);
}

START_TEST(test_claim_skip_locked)
{
	char *wf, sql[1024];
	PGconn *other;
	PGresult *ra, *rb;
	int i;

	ck_assert_int_eq(mig_up(db, realdir(), NULL, err, sizeof(err)), 0);
	wf = q1("INSERT INTO workflows (name, definition) VALUES ('w', '{}') "
	    "RETURNING id");
	snprintf(sql, sizeof(sql), "INSERT INTO workflow_executions "
	    "(workflow_id, idempotency_key, status, run_after, lease_owner, "
	    "lease_expires_at, attempt) VALUES "
	    "('%1$s', 'p1', 'pending', now(), NULL, NULL, 0),"
	    "('%1$s', 'p2', 'pending', now(), NULL, NULL, 0),"
	    "('%1$s', 'later', 'pending', now() + interval '1 h', NULL, NULL, 0),"
	    "('%1$s', 'expired', 'running', now(), 'dead', now() - interval '1 s', 1),"
	    "('%1$s', 'live', 'running', now(), 'alive', now() + interval '1 h', 1),"
	    "('%1$s', 'spent', 'running', now(), 'dead', now() - interval '1 s', 3)",
	    wf);
	ck_sql_ok(sql);
	ck_assert_int_eq(mig_connect(ci, &other, err, sizeof(err)), 0);
	ck_sql_ok("BEGIN");
	ra = claim(db, "task-a", "1");
	ck_assert_int_eq(PQresultStatus(ra), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(ra), 1);
	/* The other task skips the row task A holds, takes the rest. */
	rb = claim(other, "task-b", "10");
	ck_assert_int_eq(PQresultStatus(rb), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(rb), 2);
	for (i = 0; i < 2; i++) {
		ck_assert_str_ne(PQgetvalue(rb, i, 0), PQgetvalue(ra, 0, 0));
		if (strcmp(PQgetvalue(rb, i, 0), "expired") == 0)
			ck_assert_str_eq(PQgetvalue(rb, i, 1), "2");
		else
			ck_assert_str_eq(PQgetvalue(rb, i, 1), "1");
	}
	ck_sql_ok("COMMIT");
	ck_q1("SELECT string_agg(idempotency_key, ',' ORDER BY "
	    "idempotency_key) FROM workflow_executions WHERE "
	    "lease_owner LIKE 'task-%'", "expired,p1,p2");
	PQclear(ra);
	PQclear(rb);
	PQfinish(other);
	free(wf);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("migrate");
	TCase *unit = tcase_create("unit"), *db_tc = tcase_create("db");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(unit, test_parse_name);
	tcase_add_test(unit, test_conninfo_redact);
	suite_add_tcase(s, unit);
	tcase_add_unchecked_fixture(db_tc, pg_up, pg_down);
	tcase_add_checked_fixture(db_tc, setup, teardown);
	tcase_set_timeout(db_tc, 60);
	tcase_add_test(db_tc, test_up_from_empty);
	tcase_add_test(db_tc, test_rerun_noop);
	tcase_add_test(db_tc, test_status);
	tcase_add_test(db_tc, test_agent_step_kind);
	tcase_add_test(db_tc, test_checksum_mismatch);
	tcase_add_test(db_tc, test_bad_names);
	tcase_add_test(db_tc, test_concurrent_up);
	tcase_add_test(db_tc, test_failure_rolls_back);
	tcase_add_test(db_tc, test_history_mismatch);
	tcase_add_test(db_tc, test_password_redacted);
	tcase_add_test(db_tc, test_schema_checks);
	tcase_add_test(db_tc, test_claim_skip_locked);
	suite_add_tcase(s, db_tc);
	return t_run(s);
}
