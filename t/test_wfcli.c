/*
 * `afu9 workflow` against a real PostgreSQL (t/pgtest.h) and the
 * conformance server's tools (add, echo, fail, sleep): apply of files
 * and directories, every class of refusal with its message and nothing
 * stored, list/show/enable/disable, run with KEY=VALUE, --input and
 * refused inputs, the idempotency key, run --wait against a running
 * `afu9 serve`, status, logs, cancel, approve, reject, list-executions,
 * and the malformed arguments each command refuses.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "orchtest.h"
#include "pgtest.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/afu9-wfcli-XXXXXX";
static struct pgtest *pg;

static void
pg_up(void)
{
	pg = pgt_start_db(NULL);
	setenv("AFU9_LOG_LEVEL", "warn", 1);
	unsetenv("AFU9_CONFIG");
	unsetenv("AFU9_MIGRATIONS_DIR");
}

static void
pg_down(void)
{
	pgt_stop(pg);
	pg = NULL;
}

#define RUN(out, err, ...) ot_run_afu9((const char *const []){ __VA_ARGS__, \
	    NULL }, out, err)

/* A fresh, migrated database db that DATABASE_URL names; its conninfo
   (malloc'd). */
static char *
use_db(const char *db)
{
	char e[1024], *ci, *out, *err;

	ck_assert_msg(pgt_createdb(pg, db, e, sizeof(e)) == 0, "%s", e);
	ck_assert_ptr_nonnull(ci = pgt_conninfo(pg, db));
	setenv("DATABASE_URL", ci, 1);
	ck_assert_msg(RUN(&out, &err, "migrate") == 0, "%s", err);
	free(out);
	free(err);
	return ci;
}

/* One value of a one-row query (malloc'd; "" for NULL). */
static char *
q_text(const char *ci, const char *sql)
{
	PGconn *c = PQconnectdb(ci);
	PGresult *r;
	char *v;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1,
	    "%s: %s", sql, PQresultErrorMessage(r));
	v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

static long long
q_int(const char *ci, const char *sql)
{
	char *v = q_text(ci, sql);
	long long n = atoll(v);

	free(v);
	return n;
}

/* Poll until the execution id has status st, or fail at the deadline. */
static void
wait_status(const char *ci, const char *id, const char *st)
{
	double end = t_now_ms() + 20000 * t_slow();
	char sql[256], *v;

	snprintf(sql, sizeof(sql), "SELECT status FROM workflow_executions "
	    "WHERE id = '%s'", id);
	for (;;) {
		v = q_text(ci, sql);
		if (strcmp(v, st) == 0)
			break;
		ck_assert_msg(t_now_ms() < end, "%s: %s, want %s", id, v, st);
		free(v);
		usleep(20000);
	}
	free(v);
}

static const char *
conf_config(void)
{
	return ot_write_config(tmpdir, "conf.json", "{\"mcpServers\":{\"conf\":"
	    "{\"command\":\"@SERVER@\"}},\"afu9\":{\"http\":{\"listen\":"
	    "\"127.0.0.1:0\"},\"shutdownGraceMs\":2000}}");
}

/* Write text to tmpdir/name (a subdirectory made when named "d/x");
   the path (static, reused in turn). */
static const char *
put(const char *name, const char *text)
{
	static char path[4][512];
	static int slot;
	char *p = path[slot++ % 4], *sl;
	FILE *f;

	snprintf(p, 512, "%s/%s", tmpdir, name);
	if ((sl = strrchr(p, '/')) != NULL && sl > p + strlen(tmpdir)) {
		*sl = '\0';
		mkdir(p, 0700);
		*sl = '/';
	}
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
	return p;
}

/* `afu9 workflow apply --config conf PATH`: exit status; out/err. */
static int
apply(const char *path, char **out, char **err)
{
	return RUN(out, err, "workflow", "apply", "--config", conf_config(),
	    path);
}

/* apply that must work and print want. */
static void
apply_ok(const char *path, const char *want)
{
	char *out, *err;
	int st = apply(path, &out, &err);

	ck_assert_msg(st == 0, "status %d: %s", st, err);
	ck_assert_msg(strstr(out, want), "want %s in: %s", want, out);
	free(out);
	free(err);
}

/* `afu9 workflow run ARGS...` that must print an execution id: it
   (malloc'd). */
static char *
run_id(const char *const *args)
{
	const char *argv[16] = { "workflow", "run" };
	char *out, *err;
	int i, st;

	for (i = 0; args[i]; i++)
		argv[i + 2] = args[i];
	argv[i + 2] = NULL;
	st = ot_run_afu9(argv, &out, &err);
	ck_assert_msg(st == 0, "status %d: %s", st, err);
	ck_assert_msg(strlen(out) == 37 && out[36] == '\n', "%s", out);
	out[36] = '\0';
	free(err);
	return out;
}

#define RUN_ID(...) run_id((const char *const []){ __VA_ARGS__, NULL })

/* Expect status st and msg in stderr. */
#define EXPECT(st, msg, ...) do {					\
	char *o_, *e_;							\
	int s_ = RUN(&o_, &e_, __VA_ARGS__);				\
	ck_assert_msg(s_ == (st), "status %d (want %d): %s%s", s_, (st),\
	    o_, e_);							\
	ck_assert_msg(strstr(e_, (msg)), "want '%s' in: %s", (msg), e_); \
	free(o_);							\
	free(e_);							\
} while (0)

#define WF_A "{\"name\":\"t_a\",\"description\":\"adds three\"," \
	"\"inputs\":{\"type\":\"object\",\"properties\":{\"a\":" \
	"{\"type\":\"integer\"},\"tag\":{\"type\":\"string\"}}," \
	"\"required\":[\"a\"]}," \
	"\"steps\":[{\"id\":\"add\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":\"${{ inputs.a }}\",\"b\":3}}]," \
	"\"output\":\"${{ steps.add.output.sum }}\"}"
#define WF_B "{\"name\":\"t_b\",\"steps\":[{\"id\":\"say\",\"type\":" \
	"\"tool\",\"tool\":\"conf.echo\",\"arguments\":{\"text\":\"hi\"}}]}"

/* ---- apply ---- */

START_TEST(apply_files_and_dirs)
{
	char *ci = use_db("apply1"), *v;

	apply_ok(put("a.json", WF_A), "t_a: version 1 (new)\n");
	/* the same content, spaced and ordered otherwise: nothing new */
	apply_ok(put("a2.json", "{ \"steps\": [{\"type\":\"tool\",\"id\":"
	    "\"add\",\"tool\":\"conf.add\",\"arguments\":{\"b\":3,\"a\":"
	    "\"${{ inputs.a }}\"}}], \"name\": \"t_a\", \"description\":"
	    "\"adds three\",\"inputs\":{\"type\":\"object\",\"properties\":"
	    "{\"tag\":{\"type\":\"string\"},\"a\":{\"type\":\"integer\"}},"
	    "\"required\":[\"a\"]},\"output\":\"${{ steps.add.output.sum }}\""
	    "}\n"), "t_a: version 1 (unchanged)\n");
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflows"), 1);
	/* a directory: its *.json in name order, the rest ignored */
	put("dir/1a.json", WF_A);
	put("dir/2b.json", WF_B);
	put("dir/notes.txt", "not a definition");
	put("dir/.hidden.json", "{");
	apply_ok(put("dir/3c.json", "{\"name\":\"t_c\",\"steps\":[{\"id\":"
	    "\"nap\",\"type\":\"sleep\",\"duration_ms\":10}]}"),
	    "");
	v = q_text(ci, "SELECT string_agg(name || ':' || version || ':' || "
	    "coalesce(description, '-'), ',' ORDER BY name) FROM workflows");
	ck_assert_str_eq(v, "t_a:1:adds three,t_c:1:-");
	free(v);
	{
		char *out, *err, dir[600];

		snprintf(dir, sizeof(dir), "%s/dir", tmpdir);
		ck_assert_int_eq(apply(dir, &out, &err), 0);
		ck_assert_str_eq(out, "t_a: version 1 (unchanged)\n"
		    "t_b: version 1 (new)\nt_c: version 1 (unchanged)\n");
		free(out);
		free(err);
	}
	/* changed content: the next version */
	apply_ok(put("dir/2b.json", "{\"name\":\"t_b\",\"steps\":[{\"id\":"
	    "\"say\",\"type\":\"tool\",\"tool\":\"conf.echo\",\"arguments\":"
	    "{\"text\":\"hello\"}}]}"), "t_b: version 2 (new)\n");
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflows"), 4);
	/* a version taken by other content: the database refuses it, and
	   the good file of the same set is not stored either */
	put("clash/1d.json", "{\"name\":\"t_d\",\"steps\":[{\"id\":"
	    "\"nap\",\"type\":\"sleep\",\"duration_ms\":10}]}");
	put("clash/2b.json", "{\"name\":\"t_b\",\"version\":1,\"steps\":"
	    "[{\"id\":\"nap\",\"type\":\"sleep\",\"duration_ms\":10}]}");
	{
		char *out, *err, dir[600];
		int st;

		snprintf(dir, sizeof(dir), "%s/clash", tmpdir);
		st = apply(dir, &out, &err);
		ck_assert_msg(st == 1 && strstr(err, "clash/2b.json: version 1 "
		    "of workflow t_b is stored with other content: give the "
		    "next version (3) or none") && strstr(err,
		    "nothing stored"), "%d %s", st, err);
		ck_assert_str_eq(out, "");
		free(out);
		free(err);
	}
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflows"), 4);
	free(ci);
}
END_TEST

struct refusal {
	const char	*what;
	const char	*text;
	const char	*msg;
};

static const struct refusal refusals[] = {
	{ "unknown step type", "{\"name\":\"r\",\"steps\":[{\"id\":\"x\","
	    "\"type\":\"frobnicate\"}]}", "step 'x': field 'type'" },
	{ "duplicate id", "{\"name\":\"r\",\"steps\":[{\"id\":\"x\",\"type\":"
	    "\"sleep\",\"duration_ms\":1},{\"id\":\"x\",\"type\":\"sleep\","
	    "\"duration_ms\":1}]}", "step 'x': duplicate step id" },
	{ "forward reference", "{\"name\":\"r\",\"steps\":[{\"id\":\"x\","
	    "\"type\":\"tool\",\"tool\":\"conf.echo\",\"arguments\":{\"text\":"
	    "\"${{ steps.y.output }}\"}},{\"id\":\"y\",\"type\":\"sleep\","
	    "\"duration_ms\":1}]}", "step 'x': field 'arguments.text': reference "
	    "to step 'y', which does not come earlier" },
	{ "unknown tool", "{\"name\":\"r\",\"steps\":[{\"id\":\"x\",\"type\":"
	    "\"tool\",\"tool\":\"conf.nope\"}]}",
	    "step 'x': field 'tool': unknown tool 'conf.nope'" },
	{ "unknown server", "{\"name\":\"r\",\"steps\":[{\"id\":\"x\",\"type\":"
	    "\"tool\",\"tool\":\"github.getIssue\"}]}",
	    "step 'x': field 'tool': unknown tool 'github.getIssue'" },
	{ "arguments against inputSchema", "{\"name\":\"r\",\"steps\":[{\"id\":"
	    "\"x\",\"type\":\"tool\",\"tool\":\"conf.add\",\"arguments\":{\"a\":"
	    "\"two\",\"b\":1}}]}", "step 'x': field 'arguments': argument 'a': "
	    "must be an integer" },
	{ "missing required argument", "{\"name\":\"r\",\"steps\":[{\"id\":"
	    "\"x\",\"type\":\"tool\",\"tool\":\"conf.add\",\"arguments\":{\"a\":"
	    "1}}]}", "step 'x': field 'arguments" },
	{ "goto cycle", "{\"name\":\"r\",\"steps\":[{\"id\":\"x\",\"type\":"
	    "\"sleep\",\"duration_ms\":1},{\"id\":\"y\",\"type\":\"tool\","
	    "\"tool\":\"conf.fail\",\"on_error\":{\"goto\":\"x\"}}]}",
	    "step 'y': field 'on_error.goto': step 'x' comes earlier: a jump "
	    "back is a cycle" },
	{ "bad expression", "{\"name\":\"r\",\"steps\":[{\"id\":\"x\",\"type\":"
	    "\"sleep\",\"duration_ms\":1,\"if\":\"${{ 1 == }}\"}]}",
	    "step 'x': field 'if': unexpected end of the expression" },
	{ "invalid JSON", "{\"name\":\"r\",\"steps\":[", "invalid JSON" },
	{ "duplicate key", "{\"name\":\"r\",\"name\":\"s\",\"steps\":[]}",
	    "invalid JSON" },
	{ "not an object", "[1,2]", "a definition must be a JSON object" },
};

/*
 * Every class of refusal: exit 1, the file and the step and field named,
 * nothing stored; a directory with one bad file among good ones stores
 * none of them; a file over 1 MiB is refused unread.
 */
START_TEST(apply_refusals)
{
	char *ci = use_db("apply2"), *out, *err, name[64], *big;
	const char *path;
	size_t i, n;
	int st;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		snprintf(name, sizeof(name), "bad%zu.json", i);
		path = put(name, refusals[i].text);
		st = apply(path, &out, &err);
		ck_assert_msg(st == 1, "%s: status %d: %s", refusals[i].what,
		    st, err);
		ck_assert_msg(strstr(err, path) && strstr(err,
		    refusals[i].msg), "%s: want '%s' in: %s",
		    refusals[i].what, refusals[i].msg, err);
		ck_assert_msg(strstr(err, "nothing stored"), "%s", err);
		ck_assert_str_eq(out, "");
		free(out);
		free(err);
	}
	/* one bad file spoils the set, and every bad one is named */
	put("set/1a.json", WF_A);
	put("set/2bad.json", refusals[3].text);
	put("set/3b.json", WF_B);
	put("set/4bad.json", refusals[0].text);
	snprintf(name, sizeof(name), "set");
	{
		char dir[600];

		snprintf(dir, sizeof(dir), "%s/set", tmpdir);
		st = apply(dir, &out, &err);
	}
	ck_assert_msg(st == 1, "status %d: %s", st, err);
	ck_assert_msg(strstr(err, "2bad.json: step 'x': field 'tool'") &&
	    strstr(err, "4bad.json: step 'x': field 'type'") &&
	    strstr(err, "2 of 4 definition file(s) refused; nothing stored"),
	    "%s", err);
	free(out);
	free(err);
	/* two files of one set naming the same workflow */
	put("twice/a.json", WF_A);
	put("twice/b.json", WF_A);
	{
		char dir[600];

		snprintf(dir, sizeof(dir), "%s/twice", tmpdir);
		st = apply(dir, &out, &err);
	}
	ck_assert_msg(st == 1 && strstr(err, "b.json: workflow t_a is "
	    "defined in") && strstr(err, "a.json as well"), "%s", err);
	free(out);
	free(err);
	/* over 1 MiB: refused by its size; valid JSON otherwise */
	n = (1u << 20) + 1;
	ck_assert_ptr_nonnull(big = malloc(n + 1));
	memset(big, ' ', n);
	memcpy(big, WF_B, strlen(WF_B));
	big[n] = '\0';
	path = put("big.json", big);
	free(big);
	st = apply(path, &out, &err);
	ck_assert_msg(st == 1 && strstr(err, "big.json: 1048577 bytes, over "
	    "the bound of 1048576 bytes (1 MiB)"), "%d %s", st, err);
	free(out);
	free(err);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflows"), 0);
	/* usage and environment */
	EXPECT(2, "usage: afu9 workflow apply", "workflow", "apply");
	EXPECT(1, "No such file or directory", "workflow", "apply",
	    "--config", conf_config(), "/nonexistent/x.json");
	unsetenv("DATABASE_URL");
	EXPECT(2, "DATABASE_URL is not set", "workflow", "apply", path);
	free(ci);
}
END_TEST

/* ---- list, show, enable, disable ---- */

START_TEST(list_show_enable)
{
	char *ci = use_db("list1"), *out, *err, *id;
	json_t *j;
	int st;

	st = RUN(&out, &err, "workflow", "list");
	ck_assert_msg(st == 0 && strcmp(out, "no workflows\n") == 0, "%s%s",
	    out, err);
	free(out);
	free(err);
	apply_ok(put("a.json", WF_A), "(new)");
	apply_ok(put("a.json", "{\"name\":\"t_a\",\"steps\":[{\"id\":\"z\","
	    "\"type\":\"sleep\",\"duration_ms\":5}]}"), "t_a: version 2 (new)");
	apply_ok(put("b.json", WF_B), "(new)");
	st = RUN(&out, &err, "workflow", "list");
	ck_assert_msg(st == 0, "%s", err);
	ck_assert_msg(strstr(out, "NAME  VERSION  ENABLED   STEPS  CREATED") &&
	    strstr(out, "\nt_a         2  yes           1  ") &&
	    strstr(out, "\nt_b         1  yes           1  "), "%s", out);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "list", "--json");
	ck_assert_int_eq(st, 0);
	ck_assert_ptr_nonnull(j = json_loads(out, 0, NULL));
	ck_assert_int_eq(json_array_size(j), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j,
	    0), "name")), "t_a");
	json_decref(j);
	free(out);
	free(err);
	/* show: the newest, or the version asked for */
	st = RUN(&out, &err, "workflow", "show", "t_a");
	ck_assert_int_eq(st, 0);
	ck_assert_ptr_nonnull(j = json_loads(out, 0, NULL));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "steps"), 0), "id")), "z");
	json_decref(j);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "show", "t_a", "--version", "1");
	ck_assert_int_eq(st, 0);
	ck_assert_ptr_nonnull(j = json_loads(out, 0, NULL));
	ck_assert_str_eq(json_string_value(json_object_get(j, "description")),
	    "adds three");
	json_decref(j);
	free(out);
	free(err);
	EXPECT(1, "no workflow t_a version 3", "workflow", "show", "t_a",
	    "--version", "3");
	EXPECT(1, "no workflow t_zz", "workflow", "show", "t_zz");
	EXPECT(2, "--version 0: a number from 1", "workflow", "show", "t_a",
	    "--version", "0");
	EXPECT(2, "--version 1x: a number from 1", "workflow", "show", "t_a",
	    "--version", "1x");
	EXPECT(2, "--version 99999999999: a number", "workflow", "show",
	    "t_a", "--version", "99999999999");
	EXPECT(2, "bad/name: not a workflow name", "workflow", "show",
	    "bad/name");
	/* disable: every version; run refused until enabled again */
	st = RUN(&out, &err, "workflow", "disable", "t_a");
	ck_assert_msg(st == 0 && strcmp(out, "t_a: disabled (2 versions)\n") ==
	    0, "%s%s", out, err);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "list");
	ck_assert_msg(strstr(out, "\nt_a         2  no   "), "%s", out);
	free(out);
	free(err);
	EXPECT(1, "workflow t_a is disabled (afu9 workflow enable t_a)",
	    "workflow", "run", "t_a");
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    0);
	st = RUN(&out, &err, "workflow", "enable", "t_a");
	ck_assert_msg(st == 0 && strcmp(out, "t_a: enabled (2 versions)\n") ==
	    0, "%s%s", out, err);
	free(out);
	free(err);
	id = RUN_ID("t_a");
	free(id);
	EXPECT(1, "no workflow t_zz", "workflow", "disable", "t_zz");
	EXPECT(2, "usage: afu9 workflow enable NAME", "workflow", "enable");
	EXPECT(2, "unknown command frob", "workflow", "frob");
	free(ci);
}
END_TEST

/* ---- run ---- */

START_TEST(run_inputs)
{
	char *ci = use_db("run1"), *id, *id2, *v, *out, *err, sql[256];
	char *kv[9];
	const char *args[16];
	int i, st;

	apply_ok(put("a.json", WF_A), "(new)");
	apply_ok(put("b.json", WF_B), "(new)");
	/* KEY=VALUE coerced by the inputs schema: a integer, tag string */
	id = RUN_ID("t_a", "a=2", "tag=7");
	snprintf(sql, sizeof(sql), "SELECT input::text || ' ' || status || "
	    "' ' || triggered_by FROM workflow_executions WHERE id = '%s'", id);
	v = q_text(ci, sql);
	ck_assert_str_eq(v, "{\"a\": 2, \"tag\": \"7\"} pending cli");
	free(v);
	/* no engine runs here: nothing has begun */
	{
		char *o, *e;

		ck_assert_int_eq(RUN(&o, &e, "workflow", "logs", id), 0);
		ck_assert_str_eq(o, "no step has begun (the execution is "
		    "pending)\n");
		free(o);
		free(e);
		ck_assert_int_eq(RUN(&o, &e, "workflow", "status", id), 0);
		ck_assert_msg(strstr(o, "status     pending\n") && strstr(o,
		    "step       1 of 1\n") && strstr(o, "triggered  by cli\n") &&
		    !strstr(o, "finished"), "%s", o);
		free(o);
		free(e);
		ck_assert_int_eq(RUN(&o, &e, "workflow", "--help"), 0);
		ck_assert_msg(strstr(o, "list-executions"), "%s", o);
		free(o);
		free(e);
	}
	free(id);
	/* --input, a word overriding it */
	id = RUN_ID("t_a", "--input", "{\"a\":3,\"tag\":\"x\"}", "tag=y");
	snprintf(sql, sizeof(sql), "SELECT input::text FROM "
	    "workflow_executions WHERE id = '%s'", id);
	v = q_text(ci, sql);
	ck_assert_str_eq(v, "{\"a\": 3, \"tag\": \"y\"}");
	free(v);
	free(id);
	/* refused inputs: nothing created */
	EXPECT(2, "input a: not an integer: two", "workflow", "run", "t_a",
	    "a=two");
	EXPECT(2, "workflow t_a: input: missing required argument 'a'",
	    "workflow", "run", "t_a", "tag=x");
	EXPECT(2, "--input: the input must be a JSON object", "workflow",
	    "run", "t_a", "--input", "[1]");
	EXPECT(2, "--input: invalid JSON", "workflow", "run", "t_a",
	    "--input", "{\"a\":");
	EXPECT(2, "noequals: an input is KEY=VALUE", "workflow", "run", "t_a",
	    "noequals");
	EXPECT(2, "--idempotency-key: 1 to 255 bytes", "workflow", "run",
	    "t_a", "a=1", "--idempotency-key", "");
	EXPECT(1, "no workflow t_nope", "workflow", "run", "t_nope");
	EXPECT(2, "usage: afu9 workflow run", "workflow", "run");
	/* over WFSQL_INPUT_MAX in all (no one argument can be that long) */
	args[0] = "workflow";
	args[1] = "run";
	args[2] = "t_b";
	for (i = 0; i < 9; i++) {
		ck_assert_ptr_nonnull(kv[i] = malloc(120010));
		snprintf(kv[i], 16, "k%d=", i);
		memset(kv[i] + 3, 'x', 120000);
		kv[i][120003] = '\0';
		args[3 + i] = kv[i];
	}
	args[12] = NULL;
	st = ot_run_afu9(args, &out, &err);
	ck_assert_msg(st == 2 && strstr(err, "the input is 1080073 bytes of "
	    "JSON, over the bound of 1048576"), "%d %s", st, err);
	free(out);
	free(err);
	for (i = 0; i < 9; i++)
		free(kv[i]);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    2);
	/* the idempotency key: the same execution again */
	id = RUN_ID("t_a", "a=5", "--idempotency-key", "deploy-42");
	id2 = RUN_ID("t_a", "a=6", "--idempotency-key", "deploy-42");
	ck_assert_str_eq(id, id2);
	ck_assert_int_eq(q_int(ci, "SELECT count(*) FROM workflow_executions"),
	    3);
	EXPECT(1, "idempotency key 'deploy-42' belongs to an execution of "
	    "another workflow", "workflow", "run", "t_b", "--idempotency-key",
	    "deploy-42");
	free(id);
	free(id2);
	/* the password of DATABASE_URL is never shown */
	{
		char *bad;

		ck_assert_int_ne(asprintf(&bad, "%s_nosuchdb", ci), -1);
		setenv("DATABASE_URL", bad, 1);
		st = RUN(&out, &err, "workflow", "run", "t_a", "a=1");
		ck_assert_msg(st == 1 && strstr(err, "nosuchdb") &&
		    !strstr(err, pgt_password(pg)), "%d %s", st, err);
		free(out);
		free(err);
		free(bad);
		setenv("DATABASE_URL", ci, 1);
	}
	free(ci);
}
END_TEST

/* ---- with the engine running ---- */

#define WF_OK "{\"name\":\"t_ok\",\"inputs\":{\"type\":\"object\"," \
	"\"properties\":{\"a\":{\"type\":\"integer\"}}},\"steps\":[" \
	"{\"id\":\"add\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":\"${{ inputs.a }}\",\"b\":3}}," \
	"{\"id\":\"say\",\"type\":\"tool\",\"tool\":\"conf.echo\"," \
	"\"arguments\":{\"text\":\"sum ${{ steps.add.output.sum }}\"}}]," \
	"\"output\":{\"sum\":\"${{ steps.add.output.sum }}\"}}"
#define WF_FAILS "{\"name\":\"t_fails\",\"steps\":[" \
	"{\"id\":\"add\",\"type\":\"tool\",\"tool\":\"conf.add\"," \
	"\"arguments\":{\"a\":1,\"b\":2}}," \
	"{\"id\":\"bad\",\"type\":\"tool\",\"tool\":\"conf.fail\"," \
	"\"retry\":{\"max_attempts\":2,\"initial_interval_ms\":10}}]}"
#define WF_ASK "{\"name\":\"t_ask\",\"steps\":[" \
	"{\"id\":\"big\",\"type\":\"tool\",\"tool\":\"conf.echo\"," \
	"\"arguments\":{\"text\":\"${{ inputs.text }}\"}}," \
	"{\"id\":\"ok\",\"type\":\"approval\",\"message\":\"go?\"}]}"
#define WF_NAP "{\"name\":\"t_nap\",\"steps\":[" \
	"{\"id\":\"nap\",\"type\":\"tool\",\"tool\":\"conf.sleep\"," \
	"\"arguments\":{\"ms\":20000}}]}"

/* `afu9 serve` with the engine (it claims once its servers are ready;
   the tests wait for outcomes, not for it); stopped by stop_serve(). */
static void
start_serve(struct tproc *p)
{
	const char *args[] = { "serve", "--config", conf_config(), NULL };

	ot_spawn_afu9(p, args);
}

static void
stop_serve(struct tproc *p)
{
	char *out, *err;
	int st;

	kill(p->pid, SIGTERM);
	st = ot_reap_afu9(p, &out, &err);
	ck_assert_msg(st == 0, "serve: status %d: %s", st, err);
	free(out);
	free(err);
}

START_TEST(engine_wait_decide_cancel)
{
	char *ci = use_db("eng1"), *out, *err, *id, *id2, *id3, *text, *v;
	char sql[256];
	struct tproc s;
	int st;

	apply_ok(put("ok.json", WF_OK), "(new)");
	apply_ok(put("fails.json", WF_FAILS), "(new)");
	apply_ok(put("ask.json", WF_ASK), "(new)");
	apply_ok(put("nap.json", WF_NAP), "(new)");
	start_serve(&s);
	/* --wait: each step once, then the output; exit 0 */
	st = RUN(&out, &err, "workflow", "run", "t_ok", "a=2", "--wait");
	ck_assert_msg(st == 0, "status %d: %s%s", st, out, err);
	ck_assert_msg(strlen(out) > 37 && out[36] == '\n' &&
	    strcmp(out + 37, "{\"sum\":5}\n") == 0, "%s", out);
	ck_assert_msg(strstr(err, "step add (1/2): succeeded in ") &&
	    strstr(err, "step say (2/2): succeeded in ") &&
	    strstr(err, ": succeeded in "), "%s", err);
	ck_assert_ptr_eq(strstr(strstr(err, "step add") + 1, "step add"),
	    NULL);
	free(out);
	free(err);
	/* --wait on one that fails: every attempt, exit 1 */
	st = RUN(&out, &err, "workflow", "run", "t_fails", "--wait");
	ck_assert_msg(st == 1, "status %d: %s%s", st, out, err);
	ck_assert_msg(strstr(err, "step add (1/2): succeeded") &&
	    strstr(err, "step bad (2/2): failed in ") &&
	    strstr(err, "step bad (2/2) attempt 2: failed in ") &&
	    strstr(err, ": failed in "), "%s", err);
	out[36] = '\0';
	id = out;
	free(err);
	/* status and logs of the failed one */
	st = RUN(&out, &err, "workflow", "status", id);
	ck_assert_msg(st == 0 && strstr(out, "status     failed\n") &&
	    strstr(out, "workflow   t_fails version 1\n") &&
	    strstr(out, "error      step 'bad'") &&
	    strstr(out, "duration   ") && strstr(out, "finished   20"),
	    "%s%s", out, err);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "status", id, "--json");
	ck_assert_msg(st == 0 && strstr(out, "\"status\": \"failed\""), "%s",
	    out);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "logs", id);
	ck_assert_msg(st == 0 && strstr(out, "add (step 1/2, attempt 1) tool "
	    "conf.add: succeeded  20") && strstr(out, "  output: {\"sum\":3}\n")
	    && strstr(out, "bad (step 2/2, attempt 2) tool conf.fail: failed")
	    && strstr(out, "  error (tool): "), "%s", out);
	free(out);
	free(err);
	free(id);
	/* approve: a long output trimmed by logs, whole with --full */
	ck_assert_ptr_nonnull(text = malloc(1010));
	memcpy(text, "text=", 5);
	memset(text + 5, 'y', 1000);
	text[1005] = '\0';
	id = RUN_ID("t_ask", text);
	free(text);
	wait_status(ci, id, "waiting");
	st = RUN(&out, &err, "workflow", "logs", id);
	ck_assert_msg(st == 0 && strstr(out, "... (1002 bytes; --full shows "
	    "all)\n") && strstr(out, "ok (step 2/2, attempt 1) approval: "
	    "running"), "%s", out);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "logs", id, "--full");
	ck_assert_msg(st == 0 && !strstr(out, "--full shows") &&
	    strstr(out, "yyyy\"\n"), "%s", out);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "approve", id, "ok", "--comment",
	    "ship it");
	ck_assert_msg(st == 0, "%s", err);
	free(out);
	free(err);
	wait_status(ci, id, "succeeded");
	st = RUN(&out, &err, "workflow", "logs", id);
	ck_assert_msg(strstr(out, "  decided by cli\n") && strstr(out,
	    "\"comment\":\"ship it\""), "%s", out);
	free(out);
	free(err);
	EXPECT(1, "is not waiting for an approval of step ok (it is "
	    "succeeded)", "workflow", "approve", id, "ok");
	EXPECT(1, "already finished (succeeded): not cancelled", "workflow",
	    "cancel", id);
	/* reject: the execution fails with kind rejected */
	id2 = RUN_ID("t_ask", "text=a");
	wait_status(ci, id2, "waiting");
	EXPECT(1, "is not waiting for an approval of step big", "workflow",
	    "approve", id2, "big");
	st = RUN(&out, &err, "workflow", "reject", id2, "ok", "--comment",
	    "no");
	ck_assert_msg(st == 0 && strstr(out, "step ok rejected"), "%s", err);
	free(out);
	free(err);
	wait_status(ci, id2, "failed");
	snprintf(sql, sizeof(sql), "SELECT error_kind || ' ' || error FROM "
	    "workflow_steps WHERE execution_id = '%s' AND step_name = 'ok'",
	    id2);
	v = q_text(ci, sql);
	ck_assert_str_eq(v, "rejected rejected by cli: no");
	free(v);
	/* cancel one in the middle of its step */
	id3 = RUN_ID("t_nap");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM workflow_steps "
	    "WHERE execution_id = '%s' AND status = 'running'", id3);
	{
		double end = t_now_ms() + 20000 * t_slow();

		while (q_int(ci, sql) != 1) {
			ck_assert(t_now_ms() < end);
			usleep(20000);
		}
	}
	st = RUN(&out, &err, "workflow", "cancel", id3);
	ck_assert_msg(st == 0 && strstr(out, ": cancelled\n"), "%s", err);
	free(out);
	free(err);
	wait_status(ci, id3, "cancelled");
	/* list-executions: by status, workflow, limit */
	st = RUN(&out, &err, "workflow", "list-executions", "--status",
	    "failed");
	ck_assert_msg(st == 0 && strstr(out, id2) && !strstr(out, id) &&
	    strstr(out, "t_fails"), "%s%s", out, err);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "list-executions", "--workflow",
	    "t_ask", "--json");
	ck_assert_msg(st == 0 && strstr(out, id) && strstr(out, id2) &&
	    !strstr(out, id3), "%s%s", out, err);
	free(out);
	free(err);
	st = RUN(&out, &err, "workflow", "list-executions", "--limit", "1");
	ck_assert_msg(st == 0 && strstr(out, id3) && strstr(err,
	    "more may follow: --after "), "%s%s", out, err);
	{
		char cursor[128];

		snprintf(cursor, sizeof(cursor), "%.*s",
		    (int)strcspn(strstr(err, "--after ") + 8, "\n"),
		    strstr(err, "--after ") + 8);
		free(out);
		free(err);
		st = RUN(&out, &err, "workflow", "list-executions", "--limit",
		    "1", "--after", cursor);
		ck_assert_msg(st == 0 && strstr(out, id2) && !strstr(out, id3),
		    "%s%s", out, err);
		free(out);
		free(err);
	}
	EXPECT(2, "--status done: not a status (pending running waiting "
	    "succeeded failed cancelled)", "workflow", "list-executions",
	    "--status", "done");
	EXPECT(2, "--limit 0: a number from 1 to 1000", "workflow",
	    "list-executions", "--limit", "0");
	EXPECT(2, "--after x: not a cursor", "workflow", "list-executions",
	    "--after", "x");
	EXPECT(1, "no workflow t_none", "workflow", "list-executions",
	    "--workflow", "t_none");
	stop_serve(&s);
	free(id);
	free(id2);
	free(id3);
	free(ci);
}
END_TEST

/* Malformed execution ids and step ids: refused before the database. */
START_TEST(malformed_ids)
{
	char *ci = use_db("ids1");

	EXPECT(2, "12345: not an execution id", "workflow", "status",
	    "12345");
	EXPECT(2, "not an execution id", "workflow", "logs",
	    "0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5g");
	EXPECT(2, "not an execution id", "workflow", "cancel",
	    "0b6f5a3c1d2e-4f50-8a9b-0c1d2e3f4a5b0");
	EXPECT(2, "1x: not a step id", "workflow", "approve",
	    "0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b", "1x");
	EXPECT(2, "usage: afu9 workflow reject", "workflow", "reject",
	    "0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b");
	EXPECT(1, "no execution 0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b",
	    "workflow", "status", "0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b");
	EXPECT(1, "no execution 0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b",
	    "workflow", "approve", "0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b",
	    "ok");
	EXPECT(1, "no execution", "workflow", "cancel",
	    "0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b");
	unsetenv("DATABASE_URL");
	EXPECT(2, "DATABASE_URL is not set", "workflow", "list");
	EXPECT(2, "DATABASE_URL is not set", "workflow", "status",
	    "0b6f5a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b");
	free(ci);
}
END_TEST

static Suite *
wfcli_suite(void)
{
	Suite *s = suite_create("wfcli");
	TCase *tc = tcase_create("afu9 workflow");

	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, apply_files_and_dirs);
	tcase_add_test(tc, apply_refusals);
	tcase_add_test(tc, list_show_enable);
	tcase_add_test(tc, run_inputs);
	tcase_add_test(tc, engine_wait_decide_cancel);
	tcase_add_test(tc, malformed_ids);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ot_main(wfcli_suite(), tmpdir);
}
