/*
 * afu9-github end to end: the real binary over stdio (NDJSON), against
 *  - t/faultserver.py serving GitHub answers recorded in the shape of the
 *    real API (t/fixtures/github/responses.json): every tool's success
 *    path, its error paths (404, 422, conflict) and idempotent re-runs;
 *    the requests the server sent are checked (method, path, query, body);
 *  - @octokit/fixtures-server replaying traffic recorded from GitHub
 *    strictly (get-repository, paginate-issues), when Node and
 *    t/node_modules are there;
 *  - the official TypeScript SDK client launching afu9-github
 *    (t/fixtures/github/sdk-call.mjs), same condition.
 *  - t/faultserver.py scripting the transport: one connection for a
 *    burst, the headers sent, ETag/304, cancellation closing the transfer,
 *    calls in flight at once with ping answered, retries on 5xx,
 *    Retry-After, the primary rate limit, the total timeout, and the
 *    401/403/404/409/422 messages (timings shrunk with the
 *    AFU9_GITHUB_* knobs).
 * The token must appear in nothing the server writes.  Also: the text
 * cleaner (servers/common/text.c) directly.
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/text.h"
#include "faultclient.h"
#include "mcptest.h"
#include "testutil.h"

#define TOKEN		"tok-Ghs3rv-9Qx7Wv3-faultserver"
#define FIX_TOKEN	"0000000000000000000000000000000000000001"
#define TRUNK_SHA	"aa218f56b14c9653891f9e74264a383fa43fefbd"
#define OTHER_SHA	"1111111111111111111111111111111111111111"

static json_t	*R;		/* responses.json */

/* ---- the fault server ---- */

/* Answer METHOD PATH (the whole target) once with status and the named
   body from responses.json (NULL: none). */
static void
fs_on(const char *method, const char *path, int status, const char *name)
{
	json_t *spec = json_pack("{s:i, s:{s:s, s:s}}", "status", status,
	    "match", "method", method, "path", path);

	if (name != NULL) {
		ck_assert_msg(json_object_get(R, name) != NULL, "no %s", name);
		json_object_set(spec, "json", json_object_get(R, name));
	}
	fc_push(spec);
}

/* Assert the requests seen were exactly these "METHOD TARGET" lines. */
static void
assert_requests(const char *const *want)
{
	json_t *a = fc_requests(), *q;
	char got[8192];
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		q = json_array_get(a, i);
		ck_assert_msg(q != NULL, "request %zu (%s) not sent", i,
		    want[i]);
		snprintf(got, sizeof(got), "%s %s",
		    json_string_value(json_object_get(q, "method")),
		    json_string_value(json_object_get(q, "target")));
		ck_assert_str_eq(got, want[i]);
	}
	ck_assert_msg(json_array_size(a) == i, "%zu requests, want %zu",
	    json_array_size(a), i);
	json_decref(a);
}

/* ---- the server under test ---- */

static struct tproc	srv;
static long		rpc_id;

/* Start afu9-github with extra args (NULL-terminated) and env set. */
static void
srv_start_args(const char *api_url, const char *token, const char *const *extra)
{
	setenv("GITHUB_API_URL", api_url, 1);
	if (token != NULL)
		setenv("GITHUB_TOKEN", token, 1);
	else
		unsetenv("GITHUB_TOKEN");
	unsetenv("GITHUB_TOKEN_FILE");
	unsetenv("AFU9_GITHUB_READ_ONLY");
	setenv("AFU9_LOG_LEVEL", "debug", 1);
	ck_assert_int_eq(mt_spawn(&srv, "servers/github/afu9-github", extra),
	    0);
}

static void
srv_start(void)
{
	srv_start_args(fc_base(), TOKEN, NULL);
}

/* Send one request; its response line (new reference). */
static json_t *
rpc(const char *method, json_t *params)
{
	json_t *req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0",
	    "id", (json_int_t)++rpc_id, "method", method, "params",
	    params ? params : json_object());
	json_t *resp;
	char *line;

	ck_assert_int_eq(mt_send(srv.in, req), 0);
	line = t_read_line(srv.out, 15000);
	ck_assert_msg(line != NULL, "no answer to %s", method);
	ck_assert_msg(strstr(line, TOKEN) == NULL, "token in %s", line);
	resp = json_loads(line, 0, NULL);
	ck_assert_msg(resp != NULL, "not JSON: %s", line);
	free(line);
	ck_assert_int_eq(json_integer_value(json_object_get(resp, "id")),
	    rpc_id);
	return resp;
}

/* tools/call; the result object (new reference). */
static json_t *
call(const char *tool, json_t *args)
{
	json_t *resp = rpc("tools/call", json_pack("{s:s, s:o}", "name", tool,
	    "arguments", args));
	json_t *res = json_incref(json_object_get(resp, "result"));

	ck_assert_msg(res != NULL, "%s: no result", tool);
	json_decref(resp);
	return res;
}

/* A successful call's structuredContent (new reference). */
static json_t *
call_ok(const char *tool, json_t *args)
{
	return mt_ok(tool, call(tool, args));
}

/* A failed call's error text (malloc'd). */
static char *
call_err(const char *tool, json_t *args)
{
	return mt_err(tool, call(tool, args));
}

/* End the server: EOF, everything it wrote checked for the token, exit 0. */
static void
srv_stop(void)
{
	char *out, *err;
	int st;

	st = mt_stop(&srv, 15000, &out, &err);
	ck_assert_msg(out == NULL || strstr(out, TOKEN) == NULL, "token on "
	    "stdout");
	ck_assert_msg(err != NULL && strstr(err, "\"component\":"
	    "\"afu9-github\"") != NULL, "no log on stderr");
	ck_assert_msg(strstr(err, TOKEN) == NULL, "token on stderr: %s", err);
	ck_assert_msg(strstr(err, FIX_TOKEN) == NULL, "token on stderr");
	free(out);
	free(err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d", st);
}

static void
setup(void)
{
	fc_reset();
	srv_start();
}

static void
teardown(void)
{
	srv_stop();
}

#define ARGS(...)	json_pack(__VA_ARGS__)
#define OR	"owner", "acme", "repo", "widgets"

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A note containing `needle` exists. */
static int
has_note(const json_t *sc, const char *needle)
{
	const json_t *n;
	size_t i;

	json_array_foreach(json_object_get(sc, "notes"), i, n)
		if (strstr(json_string_value(n), needle) != NULL)
			return 1;
	return 0;
}

/* ---- tool selection, no token ---- */

/* Names of the listed tools, comma-joined (malloc'd). */
static char *
tool_names(void)
{
	json_t *resp = rpc("tools/list", NULL), *t;
	char buf[1024] = "";
	size_t i;

	json_array_foreach(json_object_get(json_object_get(resp, "result"),
	    "tools"), i, t) {
		if (i)
			strcat(buf, ",");
		strcat(buf, sget(t, "name"));
	}
	json_decref(resp);
	return strdup(buf);
}

#define ALL_TOOLS "getRepository,getFileContents,getIssue,listIssues," \
	"getPullRequest,listPullRequests,getRepositoryTree,getCommitChecks," \
	"createBranch,createPullRequest,pushFiles,addIssueComment," \
	"mergePullRequest,markPullRequestReady"
#define READ_TOOLS "getRepository,getFileContents,getIssue,listIssues," \
	"getPullRequest,listPullRequests,getRepositoryTree,getCommitChecks"

START_TEST(test_list_all_and_annotations)
{
	json_t *resp, *t;
	char *names;
	size_t i;

	srv_start();
	names = tool_names();
	ck_assert_str_eq(names, ALL_TOOLS);
	free(names);
	resp = rpc("tools/list", NULL);
	json_array_foreach(json_object_get(json_object_get(resp, "result"),
	    "tools"), i, t) {
		const json_t *a = json_object_get(t, "annotations");
		const char *n = sget(t, "name");
		int w = i >= 8;

		ck_assert_msg(json_object_get(t, "outputSchema") != NULL, "%s", n);
		ck_assert_int_eq(json_is_true(json_object_get(a,
		    "readOnlyHint")), !w);
		ck_assert_int_eq(json_is_true(json_object_get(a,
		    "destructiveHint")), strcmp(n, "pushFiles") == 0 ||
		    strcmp(n, "mergePullRequest") == 0);
		ck_assert_int_eq(json_is_true(json_object_get(a,
		    "idempotentHint")), strcmp(n, "addIssueComment") != 0);
	}
	json_decref(resp);
	srv_stop();
}
END_TEST

START_TEST(test_read_only_hides_write_tools)
{
	static const char *const ro[] = { "--read-only", NULL };
	static const char *const sel[] = { "--tools",
	    "getIssue,createBranch,pushFiles", "--exclude-tools", "pushFiles",
	    NULL };
	json_t *resp;
	char *names;

	srv_start_args(fc_base(), TOKEN, ro);
	names = tool_names();
	ck_assert_str_eq(names, READ_TOOLS);
	free(names);
	/* a hidden tool cannot be called either */
	resp = rpc("tools/call", ARGS("{s:s, s:{s:s, s:s, s:s}}", "name",
	    "createBranch", "arguments", OR, "branch", "x"));
	ck_assert_str_eq(sget(json_object_get(resp, "error"), "message"),
	    "Unknown tool: createBranch");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    resp, "error"), "code")), -32602);
	ck_assert_ptr_null(json_object_get(resp, "result"));
	json_decref(resp);
	srv_stop();

	srv_start_args(fc_base(), TOKEN, sel);
	names = tool_names();
	ck_assert_str_eq(names, "getIssue,createBranch");
	free(names);
	srv_stop();
}
END_TEST

START_TEST(test_read_only_env)
{
	char *argv[] = { (char *)t_builddir("servers/github/afu9-github"),
	    NULL };
	char *names;

	setenv("GITHUB_API_URL", fc_base(), 1);
	setenv("GITHUB_TOKEN", TOKEN, 1);
	setenv("AFU9_GITHUB_READ_ONLY", "1", 1);
	ck_assert_int_eq(t_spawn(&srv, argv, NULL, 1), 0);
	names = tool_names();
	ck_assert_str_eq(names, READ_TOOLS);
	free(names);
	srv_stop();
	unsetenv("AFU9_GITHUB_READ_ONLY");
}
END_TEST

/* AFU9_TRACE=mcp in a server: every frame from and to its client is a
   log line on stderr (peer "client"), redacted like the rest. */
START_TEST(test_wire_trace)
{
	char *names, *out, *err;
	int st;

	setenv("AFU9_TRACE", "mcp", 1);
	srv_start();
	unsetenv("AFU9_TRACE");
	names = tool_names();
	free(names);
	st = mt_stop(&srv, 15000, &out, &err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d", st);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "\"msg\":\"mcp in client\"") != NULL,
	    "no trace in");
	ck_assert_msg(strstr(err, "\"msg\":\"mcp out client\"") != NULL,
	    "no trace out");
	ck_assert_msg(strstr(err, "\\\"method\\\":\\\"tools/list\\\"") !=
	    NULL, "no tools/list frame");
	ck_assert_msg(strstr(err, "\\\"result\\\":{\\\"tools\\\":[") != NULL,
	    "no tools/list answer frame");
	ck_assert_msg(strstr(err, TOKEN) == NULL, "token on stderr");
	free(out);
	free(err);
}
END_TEST

START_TEST(test_unknown_tool_option)
{
	static const char *const bad[] = { "--tools", "getIssue,nope", NULL };
	char *err;
	int eof, st;

	srv_start_args(fc_base(), TOKEN, bad);
	close(srv.in);
	srv.in = -1;
	err = t_read_until(srv.err, "\x01", 10000, &eof);
	st = t_finish(&srv, 10000);
	ck_assert_msg(err != NULL && strstr(err, "--tools: unknown tool "
	    "'nope'") != NULL, "%s", err ? err : "");
	free(err);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
END_TEST

START_TEST(test_bad_knob)
{
	char *err;
	int eof, st;

	setenv("AFU9_GITHUB_TIMEOUT_MS", "0", 1);
	srv_start_args(fc_base(), TOKEN, NULL);
	unsetenv("AFU9_GITHUB_TIMEOUT_MS");
	close(srv.in);
	srv.in = -1;
	err = t_read_until(srv.err, "\x01", 10000, &eof);
	st = t_finish(&srv, 10000);
	ck_assert_msg(err != NULL && strstr(err, "afu9-github: "
	    "AFU9_GITHUB_TIMEOUT_MS must be a number from 1 to 3600000, not "
	    "'0'\n") != NULL, "%s", err ? err : "");
	free(err);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
END_TEST

START_TEST(test_no_token)
{
	char *names, *e;

	fc_reset();
	srv_start_args(fc_base(), NULL, NULL);
	names = tool_names();
	ck_assert_str_eq(names, ALL_TOOLS);
	free(names);
	e = call_err("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	ck_assert_msg(strncmp(e, "GITHUB_TOKEN is not set", 23) == 0, "%s", e);
	free(e);
	srv_stop();
	assert_requests((const char *const[]){ NULL });
}
END_TEST

START_TEST(test_help_lists_everything)
{
	static const char *const help[] = { "--help", NULL };
	const char *want[] = { "getRepository", "getFileContents", "getIssue",
	    "listIssues", "getPullRequest", "listPullRequests", "createBranch",
	    "createPullRequest", "pushFiles", "addIssueComment",
	    "mergePullRequest", "getRepositoryTree", "getCommitChecks",
	    "markPullRequestReady", "--read-only", "--tools", "--exclude-tools",
	    "GITHUB_TOKEN", "GITHUB_TOKEN_FILE", "GITHUB_API_URL",
	    "AFU9_GITHUB_READ_ONLY", "AFU9_GITHUB_TIMEOUT_MS",
	    "AFU9_GITHUB_RETRY_BASE_MS", "AFU9_GITHUB_WAIT_SCALE", NULL };
	char *out;
	size_t i;
	int eof, st;

	srv_start_args(fc_base(), TOKEN, help);
	out = t_read_until(srv.out, "\x01", 10000, &eof);
	st = t_finish(&srv, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (i = 0; want[i] != NULL; i++)
		ck_assert_msg(out && strstr(out, want[i]), "--help lacks %s",
		    want[i]);
	free(out);
}
END_TEST

/* ---- read tools ---- */

START_TEST(test_get_repository)
{
	json_t *sc;
	char *e;

	fs_on("GET", "/repos/acme/widgets", 200, "repo");
	sc = call_ok("getRepository", ARGS("{s:s, s:s}", OR));
	ck_assert_str_eq(sget(sc, "fullName"), "acme/widgets");
	ck_assert_str_eq(sget(sc, "defaultBranch"), "trunk");
	ck_assert(json_is_true(json_object_get(json_object_get(sc,
	    "permissions"), "push")));
	ck_assert_ptr_null(json_object_get(sc, "owner"));	/* compact */
	json_decref(sc);
	fs_on("GET", "/repos/acme/nope", 404, "not_found");
	e = call_err("getRepository", ARGS("{s:s, s:s}", "owner", "acme",
	    "repo", "nope"));
	ck_assert_str_eq(e, "not found, or the token cannot see it: acme/nope "
	    "(GET /repos/acme/nope)");
	free(e);
	e = call_err("getRepository", ARGS("{s:s, s:s}", "owner", "..",
	    "repo", "x"));
	ck_assert_str_eq(e, "'..' is not a valid owner name");
	free(e);
	assert_requests((const char *const[]){ "GET /repos/acme/widgets",
	    "GET /repos/acme/nope", NULL });
}
END_TEST

START_TEST(test_get_issue_strips_and_comments)
{
	json_t *sc, *c;

	fs_on("GET", "/repos/acme/widgets/issues/7", 200, "issue_7");
	fs_on("GET", "/repos/acme/widgets/issues/7/comments?per_page=20", 200,
	    "comments_7");
	sc = call_ok("getIssue", ARGS("{s:s, s:s, s:i, s:b}", OR, "number", 7,
	    "includeComments", 1));
	ck_assert_str_eq(sget(sc, "title"), "Login fails on Safari");
	ck_assert_str_eq(sget(sc, "body"),
	    "Steps:\n1. open the page\n2. log in");
	ck_assert(has_note(sc, "removed 1 invisible Unicode character (tag, "
	    "bidirectional-control or zero-width) from a title"));
	ck_assert(has_note(sc, "removed 7 invisible Unicode characters"));
	ck_assert_str_eq(sget(sc, "author"), "octocat");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(sc,
	    "labels"), 0)), "bug");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(sc,
	    "assignees"), 0)), "hubot");
	c = json_object_get(sc, "commentList");
	ck_assert_int_eq(json_array_size(c), 2);
	ck_assert_str_eq(sget(json_array_get(c, 1), "body"), "Fixed in #9.");
	ck_assert(json_is_false(json_object_get(sc, "isPullRequest")));
	json_decref(sc);
}
END_TEST

START_TEST(test_get_issue_long_body_capped)
{
	json_t *issue = json_deep_copy(json_object_get(R, "issue_7")), *sc;
	char *big = malloc(40001);

	memset(big, 'a', 40000);
	big[40000] = '\0';
	json_object_set_new(issue, "body", json_string(big));
	json_object_set_new(issue, "title", json_string("Plain"));
	free(big);
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:o}}", "cmd", "push",
	    "response", "status", 200, "json", issue)));
	sc = call_ok("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	ck_assert_uint_eq(strlen(sget(sc, "body")), 16384);
	ck_assert(has_note(sc, "the body cut at 16384 bytes: 23616 more bytes "
	    "not shown"));
	ck_assert_ptr_null(json_object_get(sc, "commentList"));
	json_decref(sc);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/issues/7", NULL });
}
END_TEST

START_TEST(test_list_issues_query_and_prs)
{
	json_t *sc, *items;

	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:O}}", "cmd", "push",
	    "response", "status", 200, "json", json_object_get(R,
	    "issues_page"))));
	sc = call_ok("listIssues", ARGS("{s:s, s:s, s:s, s:[s,s], s:s, s:s,"
	    " s:i}", OR, "state", "all", "labels", "bug", "ui", "since",
	    "2024-04-01T00:00:00Z", "direction", "asc", "maxItems", 50));
	items = json_object_get(sc, "items");
	ck_assert_int_eq(json_array_size(items), 2);	/* #9 is a PR */
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(
	    items, 0), "number")), 8);
	ck_assert(json_is_false(json_object_get(sc, "hasMore")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "count")), 2);
	json_decref(sc);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/issues?state=all&labels=bug%2Cui&since="
	    "2024-04-01T00%3A00%3A00Z&direction=asc&per_page=50", NULL });

	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:O}}", "cmd", "push",
	    "response", "status", 200, "json", json_object_get(R,
	    "issues_page"))));
	sc = call_ok("listIssues", ARGS("{s:s, s:s, s:s, s:b, s:i}", OR,
	    "labels", "bug,ui", "includePullRequests", 1, "maxItems", 2));
	ck_assert_int_eq(json_array_size(json_object_get(sc, "items")), 2);
	ck_assert(json_is_true(json_object_get(sc, "hasMore")));
	ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(
	    sc, "items"), 0), "isPullRequest")));
	json_decref(sc);
}
END_TEST

START_TEST(test_get_file_contents)
{
	json_t *sc;
	char *e;

	fs_on("GET", "/repos/acme/widgets/contents/docs/README.md?ref=v1.0",
	    200, "file_readme");
	sc = call_ok("getFileContents", ARGS("{s:s, s:s, s:s, s:s}", OR,
	    "path", "/docs/README.md", "ref", "v1.0"));
	ck_assert_str_eq(sget(sc, "content"), "# Widgets\n\nBuild: make\n");
	ck_assert(json_is_false(json_object_get(sc, "truncated")));
	json_decref(sc);

	fs_on("GET", "/repos/acme/widgets/contents/docs/README.md", 200,
	    "file_readme");
	sc = call_ok("getFileContents", ARGS("{s:s, s:s, s:s, s:i}", OR,
	    "path", "docs/README.md", "maxBytes", 9));
	ck_assert_str_eq(sget(sc, "content"), "# Widgets");
	ck_assert(json_is_true(json_object_get(sc, "truncated")));
	ck_assert(has_note(sc, "content cut at 9 bytes: 14 more bytes"));
	json_decref(sc);

	fs_on("GET", "/repos/acme/widgets/contents/logo.png", 200,
	    "file_binary");
	sc = call_ok("getFileContents", ARGS("{s:s, s:s, s:s}", OR, "path",
	    "logo.png"));
	ck_assert(json_is_true(json_object_get(sc, "binary")));
	ck_assert_ptr_null(json_object_get(sc, "content"));
	json_decref(sc);

	fs_on("GET", "/repos/acme/widgets/contents/", 200, "dir_root");
	sc = call_ok("getFileContents", ARGS("{s:s, s:s, s:s}", OR, "path",
	    ""));
	ck_assert_str_eq(sget(sc, "type"), "dir");
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "entries"),
	    1), "name"), "src");
	json_decref(sc);

	fs_on("GET", "/repos/acme/widgets/contents/a%20b.txt", 404,
	    "not_found");
	e = call_err("getFileContents", ARGS("{s:s, s:s, s:s}", OR, "path",
	    "a b.txt"));
	ck_assert_str_eq(e, "not found, or the token cannot see it: "
	    "acme/widgets (GET /repos/acme/widgets/contents/a%20b.txt)");
	free(e);
	e = call_err("getFileContents", ARGS("{s:s, s:s, s:s}", OR, "path",
	    "src/../../etc"));
	ck_assert_msg(strstr(e, "'..' segment") != NULL, "%s", e);
	free(e);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/contents/docs/README.md?ref=v1.0",
	    "GET /repos/acme/widgets/contents/docs/README.md",
	    "GET /repos/acme/widgets/contents/logo.png",
	    "GET /repos/acme/widgets/contents/",
	    "GET /repos/acme/widgets/contents/a%20b.txt", NULL });
}
END_TEST

START_TEST(test_get_pull_request_checks)
{
	json_t *sc, *ck;

	fs_on("GET", "/repos/acme/widgets/pulls/9", 200, "pull_9");
	fs_on("GET", "/repos/acme/widgets/commits/6dcb09b5b57875f334f61aebed6"
	    "95e2e4193db5e/status", 200, "status_9");
	fs_on("GET", "/repos/acme/widgets/commits/6dcb09b5b57875f334f61aebed6"
	    "95e2e4193db5e/check-runs?per_page=100", 200, "check_runs_9");
	sc = call_ok("getPullRequest", ARGS("{s:s, s:s, s:i}", OR, "number",
	    9));
	ck_assert_str_eq(sget(sc, "head"), "acme:feature/login");
	ck_assert_str_eq(sget(sc, "base"), "trunk");
	ck_assert(json_is_null(json_object_get(sc, "mergeable")));
	ck_assert(has_note(sc, "GitHub is still computing it"));
	ck = json_object_get(sc, "checks");
	ck_assert_str_eq(sget(ck, "state"), "failure");
	ck_assert_int_eq(json_integer_value(json_object_get(ck, "total")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(ck, "successful")),
	    2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(ck,
	    "failing"), 0)), "ci/lint");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(ck,
	    "pending"), 0)), "e2e");
	ck_assert_str_eq(sget(sc, "body"), "Fixes #7.");
	json_decref(sc);
}
END_TEST

START_TEST(test_list_pull_requests)
{
	json_t *sc;

	fs_on("GET", "/repos/acme/widgets/pulls?head=acme%3Afeature%2Flogin&"
	    "per_page=30", 200, "pulls_list");
	sc = call_ok("listPullRequests", ARGS("{s:s, s:s, s:s}", OR, "head",
	    "feature/login"));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "count")), 1);
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "items"), 0),
	    "head"), "acme:feature/login");
	json_decref(sc);
}
END_TEST


START_TEST(test_get_repository_tree)
{
	json_t *sc, *en;
	char *e;

	/* the default branch, then the whole tree */
	fs_on("GET", "/repos/acme/widgets", 200, "repo");
	fs_on("GET", "/repos/acme/widgets/git/trees/trunk?recursive=1", 200,
	    "tree_trunk");
	sc = call_ok("getRepositoryTree", ARGS("{s:s, s:s}", OR));
	ck_assert_str_eq(sget(sc, "ref"), "trunk");
	ck_assert_str_eq(sget(sc, "path"), "");
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "count")), 7);
	ck_assert(json_is_false(json_object_get(sc, "truncated")));
	ck_assert(json_is_false(json_object_get(sc, "hasMore")));
	en = json_object_get(sc, "entries");
	ck_assert_str_eq(sget(json_array_get(en, 1), "type"), "dir");
	ck_assert_ptr_null(json_object_get(json_array_get(en, 1), "size"));
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(en,
	    2), "size")), 2048);
	ck_assert_str_eq(sget(json_array_get(en, 4), "type"), "symlink");
	ck_assert_str_eq(sget(json_array_get(en, 6), "type"), "submodule");
	json_decref(sc);

	/* a prefix at a segment boundary ("src/" names src, not srcgen.sh),
	   a ref with a slash, the cut at maxEntries */
	fs_on("GET", "/repos/acme/widgets/git/trees/feature/x?recursive=1",
	    200, "tree_trunk");
	sc = call_ok("getRepositoryTree", ARGS("{s:s, s:s, s:s, s:s, s:i}", OR,
	    "ref", "feature/x", "path", "/src/", "maxEntries", 3));
	ck_assert_str_eq(sget(sc, "path"), "src");
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "count")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "matched")),
	    4);
	ck_assert(json_is_true(json_object_get(sc, "hasMore")));
	ck_assert(has_note(sc, "4 entries match; the first 3 are shown"));
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "entries"),
	    0), "path"), "src");
	json_decref(sc);

	/* GitHub's own cut is passed on; nothing under the prefix */
	fs_on("GET", "/repos/acme/widgets/git/trees/"
	    "aa218f56b14c9653891f9e74264a383fa43fefbd?recursive=1", 200,
	    "tree_truncated");
	sc = call_ok("getRepositoryTree", ARGS("{s:s, s:s, s:s, s:s}", OR,
	    "ref", TRUNK_SHA, "path", "docs"));
	ck_assert(json_is_true(json_object_get(sc, "truncated")));
	ck_assert(has_note(sc, "GitHub cut this tree"));
	ck_assert(has_note(sc, "is under 'docs'"));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "count")), 0);
	json_decref(sc);

	e = call_err("getRepositoryTree", ARGS("{s:s, s:s, s:s}", OR, "ref",
	    "x/../../../user"));
	ck_assert_msg(strstr(e, "'..' segment") != NULL, "%s", e);
	free(e);
	e = call_err("getRepositoryTree", ARGS("{s:s, s:s, s:s}", OR, "path",
	    "a/../b"));
	ck_assert_msg(strstr(e, "'..' segment") != NULL, "%s", e);
	free(e);
	fs_on("GET", "/repos/acme/widgets/git/trees/nope?recursive=1", 404,
	    "not_found");
	e = call_err("getRepositoryTree", ARGS("{s:s, s:s, s:s}", OR, "ref",
	    "nope"));
	ck_assert_msg(strstr(e, "not found") != NULL, "%s", e);
	free(e);
	assert_requests((const char *const[]){ "GET /repos/acme/widgets",
	    "GET /repos/acme/widgets/git/trees/trunk?recursive=1",
	    "GET /repos/acme/widgets/git/trees/feature/x?recursive=1",
	    "GET /repos/acme/widgets/git/trees/" TRUNK_SHA "?recursive=1",
	    "GET /repos/acme/widgets/git/trees/nope?recursive=1", NULL });
}
END_TEST

#define CHK_PATH(ref, what) "/repos/acme/widgets/commits/" ref "/" what

START_TEST(test_get_commit_checks)
{
	json_t *sc, *f, *a;
	char *e;

	/* failing: the status and the check runs folded, the failures'
	   text cleaned, annotations read for the one run that has some */
	fs_on("GET", CHK_PATH(TRUNK_SHA, "status?per_page=100"), 200,
	    "status_ok");
	fs_on("GET", CHK_PATH(TRUNK_SHA, "check-runs?per_page=100"), 200,
	    "check_runs_failed");
	fs_on("GET", "/repos/acme/widgets/check-runs/21/annotations?"
	    "per_page=21", 200, "annotations_21");
	sc = call_ok("getCommitChecks", ARGS("{s:s, s:s, s:s}", OR, "ref",
	    TRUNK_SHA));
	ck_assert_str_eq(sget(sc, "state"), "failure");
	ck_assert_str_eq(sget(sc, "sha"), TRUNK_SHA);
	ck_assert(json_is_true(json_object_get(sc, "completed")));
	ck_assert(json_is_true(json_object_get(sc, "failed")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "total")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "successful")),
	    2);			/* ci/build, and lint (neutral) */
	ck_assert_int_eq(json_array_size(json_object_get(sc, "failing")), 2);
	f = json_array_get(json_object_get(sc, "failing"), 0);
	ck_assert_str_eq(sget(f, "name"), "tests");
	ck_assert_str_eq(sget(f, "source"), "check_run");
	ck_assert_str_eq(sget(f, "conclusion"), "failure");
	ck_assert_str_eq(sget(f, "title"), "1 test failed");
	ck_assert_str_eq(sget(f, "summary"),
	    "test_widget_size: expected 3, got 4");
	ck_assert_str_eq(sget(f, "text"),
	    "FAIL test_widget_size (src/widget.c:12)");
	ck_assert_ptr_null(json_object_get(f, "id"));
	a = json_array_get(json_object_get(f, "annotations"), 0);
	ck_assert_str_eq(sget(a, "path"), "src/widget.c");
	ck_assert_int_eq(json_integer_value(json_object_get(a, "startLine")),
	    12);
	ck_assert_str_eq(sget(a, "message"), "expected 3, got 4");
	f = json_array_get(json_object_get(sc, "failing"), 1);
	ck_assert_str_eq(sget(f, "name"), "docs");
	ck_assert_str_eq(sget(f, "conclusion"), "timed_out");
	ck_assert_ptr_null(json_object_get(f, "annotations"));
	ck_assert(has_note(sc, "invisible Unicode"));
	json_decref(sc);

	/* one still running: pending, not completed */
	fs_on("GET", CHK_PATH("trunk", "status?per_page=100"), 200,
	    "status_none");
	fs_on("GET", CHK_PATH("trunk", "check-runs?per_page=100"), 200,
	    "check_runs_running");
	sc = call_ok("getCommitChecks", ARGS("{s:s, s:s, s:s}", OR, "ref",
	    "trunk"));
	ck_assert_str_eq(sget(sc, "state"), "pending");
	ck_assert(json_is_false(json_object_get(sc, "completed")));
	ck_assert(json_is_false(json_object_get(sc, "failed")));
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "pending"),
	    0), "status"), "in_progress");
	json_decref(sc);

	/* no checks at all: none (completed, nothing failed); the text cap
	   and maxRuns in the query */
	fs_on("GET", CHK_PATH("v1.0", "status?per_page=100"), 200,
	    "status_none");
	fs_on("GET", CHK_PATH("v1.0", "check-runs?per_page=5"), 200,
	    "check_runs_none");
	sc = call_ok("getCommitChecks", ARGS("{s:s, s:s, s:s, s:i}", OR, "ref",
	    "v1.0", "maxRuns", 5));
	ck_assert_str_eq(sget(sc, "state"), "none");
	ck_assert(json_is_true(json_object_get(sc, "completed")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "total")), 0);
	json_decref(sc);

	/* passed, with the summary cut at maxTextBytes */
	fs_on("GET", CHK_PATH("main", "status?per_page=100"), 200,
	    "status_none");
	fs_on("GET", CHK_PATH("main", "check-runs?per_page=100"), 200,
	    "check_runs_passed");
	sc = call_ok("getCommitChecks", ARGS("{s:s, s:s, s:s}", OR, "ref",
	    "main"));
	ck_assert_str_eq(sget(sc, "state"), "success");
	ck_assert_str_eq(sget(sc, "sha"), TRUNK_SHA);	/* the status's */
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "passing"),
	    0), "name"), "tests");
	json_decref(sc);

	fs_on("GET", CHK_PATH(TRUNK_SHA, "status?per_page=100"), 200,
	    "status_ok");
	fs_on("GET", CHK_PATH(TRUNK_SHA, "check-runs?per_page=100"), 200,
	    "check_runs_failed");
	fs_on("GET", "/repos/acme/widgets/check-runs/21/annotations?"
	    "per_page=21", 404, "not_found");
	sc = call_ok("getCommitChecks", ARGS("{s:s, s:s, s:s, s:i}", OR, "ref",
	    TRUNK_SHA, "maxTextBytes", 8));
	f = json_array_get(json_object_get(sc, "failing"), 0);
	ck_assert_str_eq(sget(f, "summary"), "test_wid");
	ck_assert(has_note(sc, "a check's summary cut at 8 bytes"));
	ck_assert(has_note(sc, "annotations of check run 'tests' could not "
	    "be read"));
	json_decref(sc);

	e = call_err("getCommitChecks", ARGS("{s:s, s:s, s:s}", OR, "ref",
	    "../x"));
	ck_assert_msg(strstr(e, "'..' segment") != NULL, "%s", e);
	free(e);
	fs_on("GET", CHK_PATH("gone", "status?per_page=100"), 404,
	    "not_found");
	e = call_err("getCommitChecks", ARGS("{s:s, s:s, s:s}", OR, "ref",
	    "gone"));
	ck_assert_msg(strncmp(e, "reading the commit statuses: not found",
	    38) == 0, "%s", e);
	free(e);
}
END_TEST

START_TEST(test_mark_pull_request_ready)
{
	json_t *sc, *b;
	char *e;

	fs_on("GET", "/repos/acme/widgets/pulls/10", 200, "pull_draft");
	fs_on("POST", "/graphql", 200, "graphql_ready");
	sc = call_ok("markPullRequestReady", ARGS("{s:s, s:s, s:i}", OR,
	    "number", 10));
	ck_assert(json_is_false(json_object_get(sc, "draft")));
	ck_assert(json_is_true(json_object_get(sc, "changed")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "number")),
	    10);
	json_decref(sc);
	b = fc_body(1);
	ck_assert_str_eq(sget(json_object_get(b, "variables"), "id"),
	    "PR_kwDOAAABc84AAAAB");
	ck_assert_msg(strstr(sget(b, "query"), "markPullRequestReadyForReview")
	    != NULL, "%s", sget(b, "query"));
	json_decref(b);

	/* no draft: nothing sent but the read */
	fs_on("GET", "/repos/acme/widgets/pulls/10", 200, "pull_ready");
	sc = call_ok("markPullRequestReady", ARGS("{s:s, s:s, s:i}", OR,
	    "number", 10));
	ck_assert(json_is_false(json_object_get(sc, "changed")));
	ck_assert(has_note(sc, "is not a draft: nothing was done"));
	json_decref(sc);

	/* GraphQL's refusal comes with 200 */
	fs_on("GET", "/repos/acme/widgets/pulls/10", 200, "pull_draft");
	fs_on("POST", "/graphql", 200, "graphql_error");
	e = call_err("markPullRequestReady", ARGS("{s:s, s:s, s:i}", OR,
	    "number", 10));
	ck_assert_str_eq(e, "GitHub refused to mark pull request #10 ready "
	    "for review: Resource not accessible by integration");
	free(e);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/pulls/10", "POST /graphql",
	    "GET /repos/acme/widgets/pulls/10",
	    "GET /repos/acme/widgets/pulls/10", "POST /graphql", NULL });
}
END_TEST

/* ---- write tools ---- */

START_TEST(test_create_branch_default_and_rerun)
{
	json_t *sc, *b;
	char *e;

	/* from the real default branch ("trunk", not main or master) */
	fs_on("GET", "/repos/acme/widgets", 200, "repo");
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/trunk", 200,
	    "ref_trunk");
	fs_on("POST", "/repos/acme/widgets/git/refs", 201, "ref_created");
	sc = call_ok("createBranch", ARGS("{s:s, s:s, s:s}", OR, "branch",
	    "feature/login"));
	ck_assert(json_is_true(json_object_get(sc, "created")));
	ck_assert_str_eq(sget(sc, "from"), "trunk");
	ck_assert_str_eq(sget(sc, "sha"), TRUNK_SHA);
	json_decref(sc);
	b = fc_body(2);
	ck_assert_str_eq(sget(b, "ref"), "refs/heads/feature/login");
	ck_assert_str_eq(sget(b, "sha"), TRUNK_SHA);
	json_decref(b);

	/* the same again: already there at the same commit */
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/trunk", 200,
	    "ref_trunk");
	fs_on("POST", "/repos/acme/widgets/git/refs", 422, "ref_exists");
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/feature/login", 200,
	    "ref_created");
	sc = call_ok("createBranch", ARGS("{s:s, s:s, s:s, s:s}", OR, "branch",
	    "feature/login", "from", "trunk"));
	ck_assert(json_is_false(json_object_get(sc, "created")));
	json_decref(sc);

	/* there, but at another commit */
	fs_on("POST", "/repos/acme/widgets/git/refs", 422, "ref_exists");
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/feature/login", 200,
	    "ref_created");
	e = call_err("createBranch", ARGS("{s:s, s:s, s:s, s:s}", OR, "branch",
	    "feature/login", "from", OTHER_SHA));
	ck_assert_str_eq(e, "branch 'feature/login' already exists in "
	    "acme/widgets at commit " TRUNK_SHA ", not at " OTHER_SHA
	    " (the head of '" OTHER_SHA "'): nothing was changed; use another "
	    "branch name, or work on the existing branch as it is");
	free(e);

	/* from a branch that does not exist */
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/nope", 404,
	    "not_found");
	e = call_err("createBranch", ARGS("{s:s, s:s, s:s, s:s}", OR, "branch",
	    "x", "from", "nope"));
	ck_assert_str_eq(e, "branch 'nope' (to create 'x' from) does not "
	    "exist in acme/widgets: name an existing branch or a commit SHA");
	free(e);
	e = call_err("createBranch", ARGS("{s:s, s:s, s:s}", OR, "branch",
	    "bad..name"));
	ck_assert_msg(strstr(e, "not a valid branch name") != NULL, "%s", e);
	free(e);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets",
	    "GET /repos/acme/widgets/git/ref/heads/trunk",
	    "POST /repos/acme/widgets/git/refs",
	    "GET /repos/acme/widgets/git/ref/heads/trunk",
	    "POST /repos/acme/widgets/git/refs",
	    "GET /repos/acme/widgets/git/ref/heads/feature/login",
	    "POST /repos/acme/widgets/git/refs",
	    "GET /repos/acme/widgets/git/ref/heads/feature/login",
	    "GET /repos/acme/widgets/git/ref/heads/nope", NULL });
}
END_TEST

START_TEST(test_create_pull_request)
{
	json_t *sc, *b;
	char *e;

	/* base from the repository; none open yet: created */
	fs_on("GET", "/repos/acme/widgets", 200, "repo");
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:[], s:{s:s, s:s}}}",
	    "cmd", "push", "response", "status", 200, "json", "match",
	    "method", "GET", "path", "/repos/acme/widgets/pulls?state=open&"
	    "head=acme%3Afeature%2Fform&base=trunk")));
	fs_on("POST", "/repos/acme/widgets/pulls", 201, "pull_created");
	sc = call_ok("createPullRequest", ARGS("{s:s, s:s, s:s, s:s, s:s,"
	    " s:b}", OR, "title", "Add login form", "head", "feature/form",
	    "body", "Adds the form.", "draft", 1));
	ck_assert(json_is_true(json_object_get(sc, "created")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "number")), 10);
	json_decref(sc);
	b = fc_body(2);
	ck_assert_str_eq(sget(b, "base"), "trunk");
	ck_assert_str_eq(sget(b, "head"), "feature/form");
	ck_assert_str_eq(sget(b, "body"), "Adds the form.");
	ck_assert(json_is_true(json_object_get(b, "draft")));
	ck_assert_ptr_null(json_object_get(b, "maintainer_can_modify"));
	json_decref(b);

	/* again: the open one is returned, nothing is created */
	fs_on("GET", "/repos/acme/widgets/pulls?state=open&head=acme%3A"
	    "feature%2Flogin&base=trunk", 200, "pulls_list");
	sc = call_ok("createPullRequest", ARGS("{s:s, s:s, s:s, s:s, s:s}",
	    OR, "title", "Fix login", "head", "feature/login", "base",
	    "trunk"));
	ck_assert(json_is_false(json_object_get(sc, "created")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "number")), 9);
	json_decref(sc);

	/* GitHub's 422, precisely */
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:[], s:{s:s, s:s}}}",
	    "cmd", "push", "response", "status", 200, "json", "match",
	    "method", "GET", "path", "/repos/acme/widgets/pulls?state=open&"
	    "head=acme%3Afeature%2Fempty&base=trunk")));
	fs_on("POST", "/repos/acme/widgets/pulls", 422, "pull_no_commits");
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:[], s:{s:s, s:s}}}",
	    "cmd", "push", "response", "status", 200, "json", "match",
	    "method", "GET", "path", "/repos/acme/widgets/pulls?state=open&"
	    "head=acme%3Afeature%2Fempty&base=trunk")));
	e = call_err("createPullRequest", ARGS("{s:s, s:s, s:s, s:s, s:s}",
	    OR, "title", "Empty", "head", "feature/empty", "base", "trunk"));
	ck_assert_str_eq(e, "GitHub rejected POST /repos/acme/widgets/pulls "
	    "(422): Validation Failed: PullRequest custom: No commits between "
	    "trunk and feature/empty");
	free(e);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets",
	    "GET /repos/acme/widgets/pulls?state=open&head=acme%3Afeature%2F"
	    "form&base=trunk",
	    "POST /repos/acme/widgets/pulls",
	    "GET /repos/acme/widgets/pulls?state=open&head=acme%3Afeature%2F"
	    "login&base=trunk",
	    "GET /repos/acme/widgets/pulls?state=open&head=acme%3Afeature%2F"
	    "empty&base=trunk",
	    "POST /repos/acme/widgets/pulls",
	    "GET /repos/acme/widgets/pulls?state=open&head=acme%3Afeature%2F"
	    "empty&base=trunk", NULL });
}
END_TEST

static void
push_prefix(void)
{
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/trunk", 200,
	    "ref_trunk");
	fs_on("GET", "/repos/acme/widgets/git/commits/" TRUNK_SHA, 200,
	    "commit_trunk");
}

/* A push to trunk that goes through: a blob, a new tree, the commit and
   the ref update. */
static void
push_through(void)
{
	push_prefix();
	fs_on("POST", "/repos/acme/widgets/git/blobs", 201, "blob_1");
	fs_on("POST", "/repos/acme/widgets/git/trees", 201, "tree_new");
	fs_on("POST", "/repos/acme/widgets/git/commits", 201, "commit_new");
	fs_on("PATCH", "/repos/acme/widgets/git/refs/heads/trunk", 200,
	    "ref_updated");
}

START_TEST(test_push_files)
{
	json_t *sc, *b, *files = json_pack("[{s:s, s:s}, {s:s, s:b}]",
	    "path", "src/form.c", "content", "int form;\n",
	    "path", "old.txt", "delete", 1);
	char *e;

	push_through();
	sc = call_ok("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O}", OR,
	    "branch", "trunk", "message", "Add login form", "files", files));
	ck_assert(json_is_true(json_object_get(sc, "changed")));
	ck_assert_str_eq(sget(sc, "commit"),
	    "7638417db6d59f3c431d3e1f261cc637155684cd");
	ck_assert_str_eq(sget(sc, "parent"), TRUNK_SHA);
	json_decref(sc);
	b = fc_body(2);
	ck_assert_str_eq(sget(b, "content"), "int form;\n");
	ck_assert_str_eq(sget(b, "encoding"), "utf-8");
	json_decref(b);
	b = fc_body(3);
	ck_assert_str_eq(sget(b, "base_tree"),
	    "9fb037999f264ba9a7fc6274d15fa3ae2ab98312");
	ck_assert_str_eq(sget(json_array_get(json_object_get(b, "tree"), 0),
	    "sha"), "3a0f86fb8db8eea7ccbb9a95f325ddbedfb25e15");
	ck_assert(json_is_null(json_object_get(json_array_get(json_object_get(
	    b, "tree"), 1), "sha")));
	json_decref(b);
	b = fc_body(4);
	ck_assert_str_eq(sget(b, "tree"),
	    "cd8274d15fa3ae2ab983129fb037999f264ba9a7");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(b,
	    "parents"), 0)), TRUNK_SHA);
	json_decref(b);
	b = fc_body(5);
	ck_assert(json_is_false(json_object_get(b, "force")));
	json_decref(b);

	/* the branch moved meanwhile: not a fast-forward */
	fc_reset();
	push_prefix();
	fs_on("POST", "/repos/acme/widgets/git/blobs", 201, "blob_1");
	fs_on("POST", "/repos/acme/widgets/git/trees", 201, "tree_new");
	fs_on("POST", "/repos/acme/widgets/git/commits", 201, "commit_new");
	fs_on("PATCH", "/repos/acme/widgets/git/refs/heads/trunk", 422,
	    "not_fast_forward");
	e = call_err("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O}", OR,
	    "branch", "trunk", "message", "Add login form", "files", files));
	ck_assert_msg(strncmp(e, "branch 'trunk' in acme/widgets moved while "
	    "the push ran (it is no longer at " TRUNK_SHA "), so the update "
	    "would not be a fast-forward: nothing was changed", 150) == 0 &&
	    strstr(e, "Update is not a fast forward") != NULL, "%s", e);
	free(e);

	/* the same content again: no new commit */
	fc_reset();
	push_prefix();
	fs_on("POST", "/repos/acme/widgets/git/blobs", 201, "blob_1");
	fs_on("POST", "/repos/acme/widgets/git/trees", 201, "tree_same");
	sc = call_ok("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O}", OR,
	    "branch", "trunk", "message", "Add login form", "files", files));
	ck_assert(json_is_false(json_object_get(sc, "changed")));
	ck_assert_str_eq(sget(sc, "commit"), TRUNK_SHA);
	json_decref(sc);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/git/ref/heads/trunk",
	    "GET /repos/acme/widgets/git/commits/" TRUNK_SHA,
	    "POST /repos/acme/widgets/git/blobs",
	    "POST /repos/acme/widgets/git/trees", NULL });

	/* a branch that does not exist; a bad file list (nothing sent) */
	fc_reset();
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/gone", 404,
	    "not_found");
	e = call_err("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O}", OR,
	    "branch", "gone", "message", "m", "files", files));
	ck_assert_str_eq(e, "branch 'gone' does not exist in acme/widgets (or "
	    "the token cannot see the repository): create it first with "
	    "createBranch");
	free(e);
	e = call_err("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:[{s:s, s:s,"
	    " s:b}]}", OR, "branch", "trunk", "message", "m", "files", "path",
	    "a", "content", "x", "delete", 1));
	ck_assert_str_eq(e, "files[0] (a): give either content or delete: "
	    "true, not both");
	free(e);
	e = call_err("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:[{s:s, s:s},"
	    " {s:s, s:s}]}", OR, "branch", "trunk", "message", "m", "files",
	    "path", "a", "content", "x", "path", "/a", "content", "y"));
	ck_assert_str_eq(e, "files[1]: path 'a' also appears in files[0]");
	free(e);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/git/ref/heads/gone", NULL });
	json_decref(files);
}
END_TEST

START_TEST(test_add_issue_comment)
{
	json_t *sc, *b;
	char *e;

	fs_on("POST", "/repos/acme/widgets/issues/7/comments", 201,
	    "comment_new");
	sc = call_ok("addIssueComment", ARGS("{s:s, s:s, s:i, s:s}", OR,
	    "number", 7, "body", "On it."));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "id")), 1234);
	json_decref(sc);
	b = fc_body(0);
	ck_assert_str_eq(sget(b, "body"), "On it.");
	json_decref(b);
	fs_on("POST", "/repos/acme/widgets/issues/70/comments", 404,
	    "not_found");
	e = call_err("addIssueComment", ARGS("{s:s, s:s, s:i, s:s}", OR,
	    "number", 70, "body", "x"));
	ck_assert_str_eq(e, "not found, or the token cannot see it: "
	    "acme/widgets (POST /repos/acme/widgets/issues/70/comments)");
	free(e);
}
END_TEST

START_TEST(test_merge_pull_request)
{
	json_t *sc, *b;
	char *e;

	fs_on("PUT", "/repos/acme/widgets/pulls/9/merge", 200, "merged");
	sc = call_ok("mergePullRequest", ARGS("{s:s, s:s, s:i, s:s, s:s}", OR,
	    "number", 9, "method", "squash", "expectedHeadSha",
	    "6dcb09b5b57875f334f61aebed695e2e4193db5e"));
	ck_assert(json_is_false(json_object_get(sc, "alreadyMerged")));
	json_decref(sc);
	b = fc_body(0);
	ck_assert_str_eq(sget(b, "merge_method"), "squash");
	ck_assert_str_eq(sget(b, "sha"),
	    "6dcb09b5b57875f334f61aebed695e2e4193db5e");
	json_decref(b);

	/* again: 405, and the pull request is merged already */
	fs_on("PUT", "/repos/acme/widgets/pulls/9/merge", 405,
	    "not_mergeable");
	fs_on("GET", "/repos/acme/widgets/pulls/9", 200, "pull_9_merged");
	sc = call_ok("mergePullRequest", ARGS("{s:s, s:s, s:i}", OR, "number",
	    9));
	ck_assert(json_is_true(json_object_get(sc, "alreadyMerged")));
	ck_assert_str_eq(sget(sc, "sha"),
	    "e5bd3914e2e596debea16f433f57875b5b90bcd6");
	json_decref(sc);

	/* the head moved: 409, open and not merged */
	fs_on("PUT", "/repos/acme/widgets/pulls/9/merge", 409,
	    "head_modified");
	fs_on("GET", "/repos/acme/widgets/pulls/9", 200, "pull_9");
	e = call_err("mergePullRequest", ARGS("{s:s, s:s, s:i, s:s}", OR,
	    "number", 9, "expectedHeadSha", OTHER_SHA));
	ck_assert_str_eq(e, "GitHub reported a conflict on PUT /repos/acme/"
	    "widgets/pulls/9/merge (409): Head branch was modified. Review and "
	    "try the merge again.");
	free(e);
}
END_TEST

/* ---- repeated writes ----
 * The second call of each pair is the one the workflow engine makes when
 * an orchestrator died before the first call's answer was recorded.  What
 * the fault server answers it is built from the requests the first call
 * sent (the ref, the comment body, the commit message), so the second
 * call must recognise what the first one really wrote; the requests of
 * both are checked, and no second write may be among them. */

#define KEY	"wf-42:step-3"

/* Answer METHOD PATH once with status and body (stolen). */
static void
fs_json(const char *method, const char *path, int status, json_t *body)
{
	fc_push(json_pack("{s:i, s:o, s:{s:s, s:s}}", "status", status, "json",
	    body, "match", "method", method, "path", path));
}

/* Requests with this method the fault server saw. */
static int
fs_count(const char *method)
{
	json_t *a = fc_requests(), *q;
	size_t i;
	int n = 0;

	json_array_foreach(a, i, q)
		n += strcmp(sget(q, "method"), method) == 0;
	json_decref(a);
	return n;
}

START_TEST(test_repeat_create_branch)
{
	json_t *a, *b, *first;

	fs_on("GET", "/repos/acme/widgets/git/ref/heads/trunk", 200,
	    "ref_trunk");
	fs_on("POST", "/repos/acme/widgets/git/refs", 201, "ref_created");
	a = call_ok("createBranch", ARGS("{s:s, s:s, s:s, s:s, s:s}", OR,
	    "branch", "feature/login", "from", "trunk", "idempotencyKey", KEY));
	ck_assert(json_is_true(json_object_get(a, "created")));
	ck_assert(json_is_false(json_object_get(a, "alreadyExisted")));
	first = fc_body(1);

	/* again: GitHub has the ref the first call created */
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/trunk", 200,
	    "ref_trunk");
	fs_on("POST", "/repos/acme/widgets/git/refs", 422, "ref_exists");
	fs_json("GET", "/repos/acme/widgets/git/ref/heads/feature/login", 200,
	    json_pack("{s:O, s:{s:s, s:O}}", "ref", json_object_get(first,
	    "ref"), "object", "type", "commit", "sha", json_object_get(first,
	    "sha")));
	b = call_ok("createBranch", ARGS("{s:s, s:s, s:s, s:s, s:s}", OR,
	    "branch", "feature/login", "from", "trunk", "idempotencyKey", KEY));
	ck_assert(json_is_true(json_object_get(b, "alreadyExisted")));
	ck_assert(json_is_false(json_object_get(b, "created")));
	ck_assert_str_eq(sget(b, "branch"), sget(a, "branch"));
	ck_assert_str_eq(sget(b, "sha"), sget(a, "sha"));
	ck_assert(has_note(b, "branch 'feature/login' already existed at "
	    "commit " TRUNK_SHA ": nothing was changed"));
	json_decref(a);
	json_decref(b);
	json_decref(first);
	/* GitHub refused the second POST; the ref was never moved */
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/git/ref/heads/trunk",
	    "POST /repos/acme/widgets/git/refs",
	    "GET /repos/acme/widgets/git/ref/heads/trunk",
	    "POST /repos/acme/widgets/git/refs",
	    "GET /repos/acme/widgets/git/ref/heads/feature/login", NULL });
}
END_TEST

#define OPEN_FORM	"/repos/acme/widgets/pulls?state=open&head=acme%3A" \
	"feature%2Fform&base=trunk"

START_TEST(test_repeat_create_pull_request)
{
	json_t *sc, *b;
	char *e;

	/* the POST landed but its answer was lost (a 502 is not retried) */
	fs_json("GET", OPEN_FORM, 200, json_array());
	fs_on("POST", "/repos/acme/widgets/pulls", 502, NULL);
	e = call_err("createPullRequest", ARGS("{s:s, s:s, s:s, s:s, s:s,"
	    " s:s}", OR, "title", "Add login form", "head", "feature/form",
	    "base", "trunk", "idempotencyKey", KEY));
	ck_assert_msg(strstr(e, "502") != NULL, "%s", e);
	free(e);
	b = fc_body(1);

	/* again: the pull request the POST opened is listed */
	fs_json("GET", OPEN_FORM, 200, json_pack("[O]", json_object_get(R,
	    "pull_created")));
	sc = call_ok("createPullRequest", ARGS("{s:s, s:s, s:s, s:s, s:s,"
	    " s:s}", OR, "title", "Add login form", "head", "feature/form",
	    "base", "trunk", "idempotencyKey", KEY));
	ck_assert(json_is_true(json_object_get(sc, "alreadyExisted")));
	ck_assert(json_is_false(json_object_get(sc, "created")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "number")), 10);
	ck_assert_str_eq(sget(sc, "head"), "acme:feature/form");
	ck_assert_str_eq(sget(sc, "base"), sget(b, "base"));
	json_decref(sc);
	json_decref(b);
	ck_assert_int_eq(fs_count("POST"), 1);

	/* another caller opened it between our look and our POST */
	fs_json("GET", OPEN_FORM, 200, json_array());
	fs_on("POST", "/repos/acme/widgets/pulls", 422, "pull_exists");
	fs_json("GET", OPEN_FORM, 200, json_pack("[O]", json_object_get(R,
	    "pull_created")));
	sc = call_ok("createPullRequest", ARGS("{s:s, s:s, s:s, s:s, s:s}",
	    OR, "title", "Add login form", "head", "feature/form", "base",
	    "trunk"));
	ck_assert(json_is_true(json_object_get(sc, "alreadyExisted")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "number")), 10);
	json_decref(sc);
	assert_requests((const char *const[]){
	    "GET " OPEN_FORM, "POST /repos/acme/widgets/pulls",
	    "GET " OPEN_FORM,
	    "GET " OPEN_FORM, "POST /repos/acme/widgets/pulls",
	    "GET " OPEN_FORM, NULL });
}
END_TEST

#define COMMENTS_7	"/repos/acme/widgets/issues/7/comments?per_page=100"
#define MARKER		"<!-- afu9:idempotency-key=" KEY " -->"
#define LOST		"nothing was posted, or the answer was lost (calling " \
	"again with the same idempotencyKey is safe): GitHub failed POST "

START_TEST(test_repeat_add_issue_comment)
{
	json_t *sc, *b, *posted, *spec;
	char next[256];
	char *e;

	/* the comments hold no marker; the POST lands, its answer is lost */
	fs_on("GET", COMMENTS_7, 200, "comments_7");
	fs_on("POST", "/repos/acme/widgets/issues/7/comments", 502, NULL);
	e = call_err("addIssueComment", ARGS("{s:s, s:s, s:i, s:s, s:s}", OR,
	    "number", 7, "body", "On it.", "idempotencyKey", KEY));
	ck_assert_msg(strncmp(e, LOST, strlen(LOST)) == 0, "%s", e);
	free(e);
	b = fc_body(1);
	ck_assert_str_eq(sget(b, "body"), "On it.\n\n" MARKER);

	/* again: the comment is there, on the second page */
	posted = json_deep_copy(json_object_get(R, "comment_new"));
	json_object_set(posted, "body", json_object_get(b, "body"));
	snprintf(next, sizeof(next), "<%s" COMMENTS_7 "&page=2>; "
	    "rel=\"next\"", fc_base());
	spec = json_pack("{s:i, s:O, s:{s:s}, s:{s:s, s:s}}", "status", 200,
	    "json", json_object_get(R, "comments_7"), "headers", "Link", next,
	    "match", "method", "GET", "path", COMMENTS_7);
	fc_push(spec);
	fs_json("GET", COMMENTS_7 "&page=2", 200, json_pack("[o]", posted));
	sc = call_ok("addIssueComment", ARGS("{s:s, s:s, s:i, s:s, s:s}", OR,
	    "number", 7, "body", "On it.", "idempotencyKey", KEY));
	ck_assert(json_is_true(json_object_get(sc, "alreadyExisted")));
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "id")), 1234);
	ck_assert_str_eq(sget(sc, "htmlUrl"), "https://github.com/acme/"
	    "widgets/issues/7#issuecomment-1234");
	ck_assert(has_note(sc, "already posted (id 1234)"));
	json_decref(sc);
	ck_assert_int_eq(fs_count("POST"), 1);

	/* a key that only begins like it is another key: posted */
	fs_json("GET", COMMENTS_7, 200, json_pack("[{s:i, s:O}]", "id", 1234,
	    "body", json_object_get(b, "body")));
	fs_on("POST", "/repos/acme/widgets/issues/7/comments", 201,
	    "comment_new");
	sc = call_ok("addIssueComment", ARGS("{s:s, s:s, s:i, s:s, s:s}", OR,
	    "number", 7, "body", "On it.", "idempotencyKey", "wf-42:step-"));
	ck_assert(json_is_false(json_object_get(sc, "alreadyExisted")));
	json_decref(sc);
	json_decref(b);
	b = fc_body(5);
	ck_assert_str_eq(sget(b, "body"), "On it.\n\n"
	    "<!-- afu9:idempotency-key=wf-42:step- -->");
	json_decref(b);

	/* without a key: no look, the body as it is */
	fs_on("POST", "/repos/acme/widgets/issues/7/comments", 201,
	    "comment_new");
	sc = call_ok("addIssueComment", ARGS("{s:s, s:s, s:i, s:s}", OR,
	    "number", 7, "body", "On it."));
	ck_assert(json_is_false(json_object_get(sc, "alreadyExisted")));
	json_decref(sc);
	b = fc_body(6);
	ck_assert_str_eq(sget(b, "body"), "On it.");
	json_decref(b);
	assert_requests((const char *const[]){
	    "GET " COMMENTS_7, "POST /repos/acme/widgets/issues/7/comments",
	    "GET " COMMENTS_7, "GET " COMMENTS_7 "&page=2",
	    "GET " COMMENTS_7, "POST /repos/acme/widgets/issues/7/comments",
	    "POST /repos/acme/widgets/issues/7/comments", NULL });
}
END_TEST

/* The comment pages looked through are bounded; past the bound nothing
   is posted.  The body and its marker are bounded as GitHub bounds them. */
START_TEST(test_add_issue_comment_key_bounds)
{
	char next[256], *big, *e;
	size_t n;

	snprintf(next, sizeof(next), "<%s/repos/acme/widgets/issues/8/"
	    "comments?per_page=100&page=2>; rel=\"next\"", fc_base());
	fc_push(json_pack("{s:i, s:[], s:{s:s}, s:i, s:{s:s, s:s}}", "status",
	    200, "json", "headers", "Link", next, "times", 0, "match",
	    "method", "GET", "prefix", "/repos/acme/widgets/issues/8/"
	    "comments"));
	e = call_err("addIssueComment", ARGS("{s:s, s:s, s:i, s:s, s:s}", OR,
	    "number", 8, "body", "x", "idempotencyKey", KEY));
	ck_assert_str_eq(e, "issue #8 has more than 10000 comments: could not "
	    "check all of them for the idempotencyKey, so nothing was posted; "
	    "call without idempotencyKey to post anyway");
	free(e);
	ck_assert_int_eq(fc_count(), 100);
	ck_assert_int_eq(fs_count("POST"), 0);

	/* 65536 characters (two bytes each) fit without a key, not with */
	fc_reset();
	big = malloc(2 * 65536 + 1);
	for (n = 0; n < 2 * 65536; n += 2)
		memcpy(big + n, "\xc3\xa9", 2);
	big[n] = '\0';
	e = call_err("addIssueComment", ARGS("{s:s, s:s, s:i, s:s, s:s}", OR,
	    "number", 7, "body", big, "idempotencyKey", KEY));
	ck_assert_str_eq(e, "the body is 65536 characters; with the "
	    "idempotencyKey's marker (44 more) it would pass GitHub's 65536: "
	    "shorten it");
	free(e);
	free(big);
	ck_assert_int_eq(fc_count(), 0);
}
END_TEST

/* Every write tool of the server takes the key, with the same bounds. */
START_TEST(test_idempotency_key_checked)
{
	static const char *const tools[] = { "createBranch",
	    "createPullRequest", "pushFiles", "addIssueComment" };
	char long_key[257], *e;
	json_t *args[4], *a, *resp, *t;
	size_t i, j, seen = 0;

	args[0] = ARGS("{s:s, s:s, s:s}", OR, "branch", "b");
	args[1] = ARGS("{s:s, s:s, s:s, s:s}", OR, "title", "t", "head", "h");
	args[2] = ARGS("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}", OR, "branch",
	    "b", "message", "m", "files", "path", "p", "content", "c");
	args[3] = ARGS("{s:s, s:s, s:i, s:s}", OR, "number", 7, "body", "x");
	memset(long_key, 'k', 256);
	long_key[256] = '\0';
	for (i = 0; i < 4; i++) {
		a = json_deep_copy(args[i]);
		json_object_set_new(a, "idempotencyKey", json_string(long_key));
		e = call_err(tools[i], a);
		ck_assert_msg(strstr(e, "argument 'idempotencyKey'") != NULL &&
		    strstr(e, "(maxLength)") != NULL, "%s: %s", tools[i], e);
		free(e);
		a = args[i];
		json_object_set_new(a, "idempotencyKey", json_string("a b"));
		e = call_err(tools[i], a);
		ck_assert_msg(strstr(e, "argument 'idempotencyKey'") != NULL &&
		    strstr(e, "(pattern)") != NULL, "%s: %s", tools[i], e);
		free(e);
	}
	ck_assert_int_eq(fc_count(), 0);

	/* 255 characters are a key */
	long_key[255] = '\0';
	fs_json("GET", COMMENTS_7, 200, json_array());
	fs_on("POST", "/repos/acme/widgets/issues/7/comments", 201,
	    "comment_new");
	json_decref(call_ok("addIssueComment", ARGS("{s:s, s:s, s:i, s:s,"
	    " s:s}", OR, "number", 7, "body", "x", "idempotencyKey",
	    long_key)));

	/* and the schema of each says so; no read tool has it */
	resp = rpc("tools/list", NULL);
	json_array_foreach(json_object_get(json_object_get(resp, "result"),
	    "tools"), i, t) {
		int has = json_object_get(json_object_get(json_object_get(t,
		    "inputSchema"), "properties"), "idempotencyKey") != NULL;
		int want = 0;

		for (j = 0; j < 4; j++)
			want |= strcmp(sget(t, "name"), tools[j]) == 0;
		ck_assert_msg(has == want, "%s", sget(t, "name"));
		seen += has;
	}
	ck_assert_uint_eq(seen, 4);
	json_decref(resp);
}
END_TEST

#define NEW_SHA		"7638417db6d59f3c431d3e1f261cc637155684cd"
#define NEW_TREE	"cd8274d15fa3ae2ab983129fb037999f264ba9a7"

START_TEST(test_repeat_push_files_key)
{
	json_t *a, *b, *commit, *files = json_pack("[{s:s, s:s}]", "path",
	    "src/form.c", "content", "int form;\n");
	const char *msg = "Add login form\n\nSigned-off-by: A U Thor "
	    "<a@example.com>\n";

	push_through();
	a = call_ok("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O, s:s}", OR,
	    "branch", "trunk", "message", msg, "files", files,
	    "idempotencyKey", KEY));
	ck_assert(json_is_true(json_object_get(a, "changed")));
	ck_assert(json_is_false(json_object_get(a, "alreadyExisted")));
	/* the trailer joins the message's trailer block */
	commit = fc_body(4);
	ck_assert_str_eq(sget(commit, "message"), "Add login form\n\n"
	    "Signed-off-by: A U Thor <a@example.com>\n"
	    "Afu9-Idempotency-Key: " KEY);

	/* again: the branch is at the commit the first call made */
	fc_reset();
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/trunk", 200,
	    "ref_updated");
	fs_json("GET", "/repos/acme/widgets/git/commits/" NEW_SHA, 200,
	    json_pack("{s:s, s:{s:O}, s:O, s:[{s:s}]}", "sha", NEW_SHA,
	    "tree", "sha", json_object_get(commit, "tree"), "message",
	    json_object_get(commit, "message"), "parents", "sha", TRUNK_SHA));
	b = call_ok("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O, s:s}", OR,
	    "branch", "trunk", "message", msg, "files", files,
	    "idempotencyKey", KEY));
	ck_assert(json_is_true(json_object_get(b, "alreadyExisted")));
	ck_assert(json_is_false(json_object_get(b, "changed")));
	ck_assert_str_eq(sget(b, "commit"), sget(a, "commit"));
	ck_assert_str_eq(sget(b, "parent"), sget(a, "parent"));
	ck_assert_str_eq(sget(b, "tree"), sget(a, "tree"));
	ck_assert(has_note(b, "carries this idempotencyKey"));
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/git/ref/heads/trunk",
	    "GET /repos/acme/widgets/git/commits/" NEW_SHA, NULL });
	json_decref(a);
	json_decref(b);
	json_decref(commit);

	/* a head without it (another key here): pushed, the trailer a
	   paragraph of its own after a message that has no trailers */
	fc_reset();
	push_through();
	a = call_ok("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O, s:s}", OR,
	    "branch", "trunk", "message", "Add: the form", "files", files,
	    "idempotencyKey", "wf-42:step-4"));
	ck_assert(json_is_true(json_object_get(a, "changed")));
	json_decref(a);
	commit = fc_body(4);
	ck_assert_str_eq(sget(commit, "message"), "Add: the form\n\n"
	    "Afu9-Idempotency-Key: wf-42:step-4");
	json_decref(commit);
	ck_assert_int_eq(fs_count("PATCH"), 1);
	json_decref(files);
}
END_TEST

START_TEST(test_repeat_push_files_deleted)
{
	json_t *a, *b, *tree, *files = json_pack("[{s:s, s:s}, {s:s, s:b}]",
	    "path", "src/form.c", "content", "int form;\n",
	    "path", "old.txt", "delete", 1);
	char *e;

	push_through();
	a = call_ok("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O}", OR,
	    "branch", "trunk", "message", "Add login form", "files", files));
	ck_assert(json_is_true(json_object_get(a, "changed")));

	/* again, no key: old.txt is gone, so GitHub refuses to delete it;
	   without that deletion the tree is the head's */
	fc_reset();
	fs_on("GET", "/repos/acme/widgets/git/ref/heads/trunk", 200,
	    "ref_updated");
	fs_on("GET", "/repos/acme/widgets/git/commits/" NEW_SHA, 200,
	    "commit_new");
	fs_on("POST", "/repos/acme/widgets/git/blobs", 201, "blob_1");
	fs_on("POST", "/repos/acme/widgets/git/trees", 422,
	    "tree_delete_missing");
	fs_on("GET", "/repos/acme/widgets/contents/old.txt?ref=" NEW_SHA, 404,
	    "not_found");
	fs_json("POST", "/repos/acme/widgets/git/trees", 201, json_pack(
	    "{s:s}", "sha", NEW_TREE));
	b = call_ok("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O}", OR,
	    "branch", "trunk", "message", "Add login form", "files", files));
	ck_assert(json_is_true(json_object_get(b, "alreadyExisted")));
	ck_assert(json_is_false(json_object_get(b, "changed")));
	ck_assert_str_eq(sget(b, "commit"), sget(a, "commit"));
	ck_assert_str_eq(sget(b, "tree"), sget(a, "tree"));
	ck_assert(has_note(b, "old.txt was already deleted on the branch"));
	tree = fc_body(5);
	ck_assert_str_eq(sget(tree, "base_tree"), NEW_TREE);
	ck_assert_int_eq(json_array_size(json_object_get(tree, "tree")), 1);
	ck_assert_str_eq(sget(json_array_get(json_object_get(tree, "tree"), 0),
	    "path"), "src/form.c");
	json_decref(tree);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/git/ref/heads/trunk",
	    "GET /repos/acme/widgets/git/commits/" NEW_SHA,
	    "POST /repos/acme/widgets/git/blobs",
	    "POST /repos/acme/widgets/git/trees",
	    "GET /repos/acme/widgets/contents/old.txt?ref=" NEW_SHA,
	    "POST /repos/acme/widgets/git/trees", NULL });
	json_decref(a);
	json_decref(b);

	/* refused while the path is still there: GitHub's refusal */
	fc_reset();
	push_prefix();
	fs_on("POST", "/repos/acme/widgets/git/blobs", 201, "blob_1");
	fs_on("POST", "/repos/acme/widgets/git/trees", 422,
	    "tree_delete_missing");
	fs_on("GET", "/repos/acme/widgets/contents/old.txt?ref=" TRUNK_SHA,
	    200, "file_readme");
	e = call_err("pushFiles", ARGS("{s:s, s:s, s:s, s:s, s:O}", OR,
	    "branch", "trunk", "message", "Add login form", "files", files));
	ck_assert_msg(strstr(e, "POST /repos/acme/widgets/git/trees (422)") !=
	    NULL && strstr(e, "not in the base tree") != NULL, "%s", e);
	free(e);
	ck_assert_int_eq(fs_count("PATCH"), 0);
	json_decref(files);
}
END_TEST

/* ---- transport behaviour through the server ---- */

/* Start the server with fast retry timings (and a total timeout when
   timeout_ms is not NULL); the knobs are gone from our environment after. */
static void
srv_start_fast(const char *timeout_ms)
{
	setenv("AFU9_GITHUB_RETRY_BASE_MS", "1", 1);
	setenv("AFU9_GITHUB_WAIT_SCALE", "0.1", 1);
	if (timeout_ms != NULL)
		setenv("AFU9_GITHUB_TIMEOUT_MS", timeout_ms, 1);
	srv_start();
	unsetenv("AFU9_GITHUB_RETRY_BASE_MS");
	unsetenv("AFU9_GITHUB_WAIT_SCALE");
	unsetenv("AFU9_GITHUB_TIMEOUT_MS");
}

static void
fast_setup(void)
{
	fc_reset();
	srv_start_fast(NULL);
}

/* Wait until the fault server saw what cond (stolen) names; assert it. */
static void
fs_wait(json_t *cond)
{
	json_t *r;

	json_object_set_new(cond, "cmd", json_string("wait"));
	json_object_set_new(cond, "timeout_ms", json_integer(10000 *
	    t_slow()));
	r = fc_cmd(cond);
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "fault server "
	    "wait: %lld requests, %zu closed", json_integer_value(
	    json_object_get(r, "requests")), json_array_size(json_object_get(r,
	    "closed")));
	json_decref(r);
}

/* Send a tools/call for getIssue #number with this id; no read. */
static void
send_get_issue(long id, int number)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%ld,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"getIssue\","
	    "\"arguments\":{\"owner\":\"acme\",\"repo\":\"widgets\","
	    "\"number\":%d}}}\n", id, number);
	ck_assert_int_eq(t_write(srv.in, buf, (size_t)n), 0);
}

/* Send one NDJSON line to the server. */
static void
send_line(const char *s)
{
	ck_assert_int_eq(t_write(srv.in, s, strlen(s)), 0);
	ck_assert_int_eq(t_write(srv.in, "\n", 1), 0);
}

/* The next message from the server (new reference). */
static json_t *
next_msg(int timeout_ms)
{
	char *line = t_read_line(srv.out, timeout_ms * t_slow());
	json_t *j;

	ck_assert_msg(line != NULL, "no message from the server");
	j = json_loads(line, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", line);
	free(line);
	return j;
}

/* issue_7 renumbered and retitled: a 200 answer for /issues/n. */
static json_t *
issue_spec(int n, long delay_ms)
{
	json_t *is = json_deep_copy(json_object_get(R, "issue_7"));
	char path[128], title[64];

	json_object_set_new(is, "number", json_integer(n));
	snprintf(title, sizeof(title), "Issue %d", n);
	json_object_set_new(is, "title", json_string(title));
	snprintf(path, sizeof(path), "/repos/acme/widgets/issues/%d", n);
	return json_pack("{s:i, s:o, s:I, s:{s:s, s:s}}", "status", 200,
	    "json", is, "delay_ms", (json_int_t)delay_ms, "match", "method",
	    "GET", "path", path);
}

/* Header `name` of request n as the fault server recorded it, or NULL
   (static copy). */
static const char *
req_header(size_t n, const char *name)
{
	static char out[1024];
	json_t *a = fc_requests(), *h;
	size_t i;

	out[0] = '\0';
	json_array_foreach(json_object_get(json_array_get(a, n), "headers"),
	    i, h)
		if (strcasecmp(json_string_value(json_array_get(h, 0)),
		    name) == 0)
			snprintf(out, sizeof(out), "%s", json_string_value(
			    json_array_get(h, 1)));
	json_decref(a);
	return out[0] ? out : NULL;
}

START_TEST(test_burst_one_connection)
{
	json_t *r, *sc;
	int i;

	/* 20 calls one after the other: one kept-alive connection */
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:O}}", "cmd", "default",
	    "response", "status", 200, "json", json_object_get(R,
	    "issue_7"))));
	for (i = 0; i < 20; i++) {
		sc = call_ok("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number",
		    7));
		ck_assert_int_eq(json_integer_value(json_object_get(sc,
		    "number")), 7);
		json_decref(sc);
	}
	r = fc_cmd(json_pack("{s:s}", "cmd", "requests"));
	ck_assert_int_eq(json_array_size(json_object_get(r, "requests")), 20);
	ck_assert_int_eq(json_integer_value(json_object_get(r,
	    "connections")), 1);
	ck_assert_int_eq(json_array_size(json_object_get(r, "closed")), 0);
	json_decref(r);
}
END_TEST

START_TEST(test_headers_sent)
{
	json_t *sc;

	fs_on("GET", "/repos/acme/widgets/issues/7", 200, "issue_7");
	sc = call_ok("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	json_decref(sc);
	ck_assert_str_eq(req_header(0, "User-Agent"), "afu9/" AFU9_VERSION);
	ck_assert_str_eq(req_header(0, "Accept"),
	    "application/vnd.github+json");
	ck_assert_str_eq(req_header(0, "X-GitHub-Api-Version"), "2022-11-28");
	ck_assert_str_eq(req_header(0, "Authorization"), "Bearer " TOKEN);
	ck_assert_ptr_null(req_header(0, "If-None-Match"));
}
END_TEST

START_TEST(test_etag_304_served_from_cache)
{
	json_t *spec, *a, *b;

	spec = issue_spec(7, 0);
	json_object_set_new(spec, "headers", json_pack("{s:s}", "ETag",
	    "W/\"5ad3\""));
	fc_push(spec);
	a = call_ok("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s, s:s}}", "status", 304,
	    "headers", "ETag", "W/\"5ad3\"", "match", "method", "GET", "path",
	    "/repos/acme/widgets/issues/7"));
	b = call_ok("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	ck_assert_str_eq(req_header(1, "If-None-Match"), "W/\"5ad3\"");
	ck_assert_str_eq(sget(b, "title"), "Issue 7");
	ck_assert_msg(json_equal(a, b), "the 304 answer differs");
	json_decref(a);
	json_decref(b);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/issues/7",
	    "GET /repos/acme/widgets/issues/7", NULL });
}
END_TEST

START_TEST(test_cancel_aborts_transfer)
{
	json_t *m, *sc;

	fc_push(json_pack("{s:s, s:{s:s, s:s}}", "action", "hold", "match",
	    "method", "GET", "path", "/repos/acme/widgets/issues/7"));
	send_get_issue(900, 7);
	fs_wait(json_pack("{s:i}", "requests", 1));
	send_line("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
	    "cancelled\",\"params\":{\"requestId\":900,\"reason\":"
	    "\"user\"}}");
	/* the client closes the held connection */
	fs_wait(json_pack("{s:i, s:i}", "closed", 1, "closed_conn", 1));
	/* and nothing answers id 900: the next message is the ping's */
	send_line("{\"jsonrpc\":\"2.0\",\"id\":901,\"method\":\"ping\"}");
	m = next_msg(10000);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "id")), 901);
	ck_assert_ptr_nonnull(json_object_get(m, "result"));
	json_decref(m);
	/* the server goes on, on a new connection */
	fs_on("GET", "/repos/acme/widgets/issues/7", 200, "issue_7");
	sc = call_ok("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	json_decref(sc);
	m = fc_cmd(json_pack("{s:s}", "cmd", "requests"));
	ck_assert_int_eq(json_integer_value(json_object_get(m,
	    "connections")), 2);
	json_decref(m);
}
END_TEST

START_TEST(test_concurrent_calls_and_ping)
{
	json_t *m;
	long want[] = { 703, 702, 701 };
	char title[32];
	int i;

	/* three calls in flight at once, answered in reverse order */
	fc_push(issue_spec(1, 1500));
	fc_push(issue_spec(2, 1000));
	fc_push(issue_spec(3, 500));
	send_get_issue(701, 1);
	send_get_issue(702, 2);
	send_get_issue(703, 3);
	fs_wait(json_pack("{s:i}", "requests", 3));	/* all three sent */
	send_line("{\"jsonrpc\":\"2.0\",\"id\":704,\"method\":\"ping\"}");
	m = next_msg(10000);
	ck_assert_msg(json_integer_value(json_object_get(m, "id")) == 704,
	    "ping not answered first while the tools ran");
	json_decref(m);
	for (i = 0; i < 3; i++) {
		m = next_msg(10000);
		ck_assert_int_eq(json_integer_value(json_object_get(m, "id")),
		    want[i]);
		snprintf(title, sizeof(title), "Issue %ld", want[i] - 700);
		ck_assert_str_eq(sget(json_object_get(json_object_get(m,
		    "result"), "structuredContent"), "title"), title);
		json_decref(m);
	}
}
END_TEST

START_TEST(test_retry_5xx)
{
	json_t *sc;
	char *e;

	/* 502, 503, then 200: the GET is retried and succeeds */
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s}}", "status", 502, "json",
	    "message", "Server Error", "match", "method", "GET"));
	fc_push(json_pack("{s:i, s:{s:s}}", "status", 503, "match", "method",
	    "GET"));
	fs_on("GET", "/repos/acme/widgets/issues/7", 200, "issue_7");
	sc = call_ok("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	json_decref(sc);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/issues/7",
	    "GET /repos/acme/widgets/issues/7",
	    "GET /repos/acme/widgets/issues/7", NULL });

	/* 500 every time: three attempts, then an isError */
	fc_reset();
	e = call_err("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	ck_assert_str_eq(e, "GitHub failed GET /repos/acme/widgets/issues/7 "
	    "with 500: faultserver: nothing scripted (3 attempts); try again "
	    "later");
	free(e);

	/* a POST that may have taken effect is never repeated */
	fc_reset();
	e = call_err("addIssueComment", ARGS("{s:s, s:s, s:i, s:s}", OR,
	    "number", 7, "body", "x"));
	ck_assert_str_eq(e, "GitHub failed POST /repos/acme/widgets/issues/7/"
	    "comments with 500: faultserver: nothing scripted; not retried "
	    "because it may have taken effect: check before repeating it");
	free(e);
	assert_requests((const char *const[]){
	    "POST /repos/acme/widgets/issues/7/comments", NULL });
}
END_TEST

START_TEST(test_secondary_limit_retry_after)
{
	json_t *sc, *a;
	double gap;
	char *e;

	/* Retry-After: 4 s, scaled by 0.1: the retry comes >= 400 ms later
	   (the backoff alone would wait about 1 ms) */
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s}}", "status", 403,
	    "headers", "Retry-After", "4", "json", "message", "You have "
	    "exceeded a secondary rate limit. Please wait a few minutes."));
	fs_on("GET", "/repos/acme/widgets/issues/7", 200, "issue_7");
	sc = call_ok("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	json_decref(sc);
	a = fc_requests();
	ck_assert_int_eq(json_array_size(a), 2);
	gap = json_number_value(json_object_get(json_array_get(a, 1),
	    "t_ms")) - json_number_value(json_object_get(json_array_get(a,
	    0), "t_ms"));
	json_decref(a);
	ck_assert_msg(gap >= 395, "retried after %.0f ms", gap);

	/* a wait longer than 60 s is reported, not slept through */
	fc_reset();
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s}}", "status", 429,
	    "headers", "Retry-After", "120", "json", "message", "You have "
	    "exceeded a secondary rate limit."));
	e = call_err("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	ck_assert_str_eq(e, "GitHub's secondary rate limit stopped GET "
	    "/repos/acme/widgets/issues/7: wait 120 s before retrying it, and "
	    "send fewer requests at once (content-creating ones especially)");
	free(e);
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/issues/7", NULL });
}
END_TEST

START_TEST(test_primary_rate_limit)
{
	static const char want[] = "GitHub API rate limit exhausted (limit "
	    "5000, resource core) on GET /repos/acme/widgets/issues/7: it "
	    "resets at 2100-01-01 00:00:00 UTC, in ";
	char *e;

	fc_push(json_pack("{s:i, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s}}",
	    "status", 403, "headers", "X-RateLimit-Limit", "5000",
	    "X-RateLimit-Remaining", "0", "X-RateLimit-Used", "5000",
	    "X-RateLimit-Reset", "4102444800", "X-RateLimit-Resource", "core",
	    "json", "message", "API rate limit exceeded for user ID 1."));
	e = call_err("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	ck_assert_msg(strncmp(e, want, sizeof(want) - 1) == 0, "%s", e);
	ck_assert_msg(strspn(e + sizeof(want) - 1, "0123456789") > 0 &&
	    strcmp(e + sizeof(want) - 1 + strspn(e + sizeof(want) - 1,
	    "0123456789"), " s; do not retry before then") == 0, "%s", e);
	free(e);
	/* never retried */
	assert_requests((const char *const[]){
	    "GET /repos/acme/widgets/issues/7", NULL });
}
END_TEST

START_TEST(test_timeout_names_url)
{
	json_t *r;
	char want[512], *e;

	srv_stop();
	srv_start_fast("300");
	json_decref(fc_cmd(json_pack("{s:s, s:{s:s}}", "cmd", "default",
	    "response", "action", "hold")));
	e = call_err("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	snprintf(want, sizeof(want), "could not reach %s for GET /repos/acme/"
	    "widgets/issues/7: Operation timed out after ", fc_base());
	ck_assert_msg(strncmp(e, want, strlen(want)) == 0, "%s", e);
	ck_assert_msg(strstr(e, " (3 attempts)") != NULL, "%s", e);
	free(e);
	/* each attempt's connection was closed by the client */
	fs_wait(json_pack("{s:i}", "closed", 3));
	r = fc_cmd(json_pack("{s:s}", "cmd", "requests"));
	ck_assert_int_eq(json_array_size(json_object_get(r, "requests")), 3);
	json_decref(r);
}
END_TEST

START_TEST(test_http_error_messages)
{
	char *e;

	fc_push(json_pack("{s:i, s:{s:s, s:s}}", "status", 401, "json",
	    "message", "Bad credentials", "documentation_url",
	    "https://docs.github.com/rest"));
	e = call_err("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	ck_assert_str_eq(e, "GitHub rejected the token (invalid or expired): set a valid "
	    "GITHUB_TOKEN");
	free(e);

	fc_push(json_pack("{s:i, s:{s:s, s:s}, s:{s:s}}", "status", 403,
	    "headers", "X-Accepted-OAuth-Scopes", "repo",
	    "X-OAuth-Scopes", "read:org, gist", "json", "message",
	    "Resource not accessible by personal access token"));
	e = call_err("addIssueComment", ARGS("{s:s, s:s, s:i, s:s}", OR,
	    "number", 7, "body", "x"));
	ck_assert_str_eq(e, "the token lacks the OAuth scope \"repo\" needed for POST "
	    "/repos/acme/widgets/issues/7/comments (the token has: read:org, "
	    "gist); add the scope to the token or use one that has it");
	free(e);

	fc_push(json_pack("{s:i, s:{s:s}}", "status", 404, "json",
	    "message", "Not Found"));
	e = call_err("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 70));
	ck_assert_str_eq(e, "not found, or the token cannot see it: acme/widgets (GET "
	    "/repos/acme/widgets/issues/70)");
	free(e);

	fc_push(json_pack("{s:i, s:{s:s}}", "status", 409, "json",
	    "message", "Git Repository is empty."));
	e = call_err("getIssue", ARGS("{s:s, s:s, s:i}", OR, "number", 7));
	ck_assert_str_eq(e, "GitHub reported a conflict on GET /repos/acme/widgets/issues/7 "
	    "(409): Git Repository is empty.");
	free(e);

	fc_push(json_pack("{s:i, s:{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, "
	    "s:s, s:s}]}}", "status", 422, "json", "message",
	    "Validation Failed", "errors", "resource", "IssueComment",
	    "field", "body", "code", "missing_field", "resource", "Issue",
	    "field", "number", "code", "custom", "message", "locked"));
	e = call_err("addIssueComment", ARGS("{s:s, s:s, s:i, s:s}", OR,
	    "number", 7, "body", "x"));
	ck_assert_str_eq(e, "GitHub rejected POST /repos/acme/widgets/issues/7/comments "
	    "(422): Validation Failed: IssueComment.body missing_field; "
	    "Issue.number custom: locked");
	free(e);
}
END_TEST

/* ---- the text cleaner ---- */

START_TEST(test_text_clean)
{
	struct ghtext t;
	/* a, ZWSP, b, RLO, c, U+E0041, d, invalid byte, U+FEFF */
	const char in[] = "a\xE2\x80\x8B" "b\xE2\x80\xAE" "c\xF3\xA0\x81\x81"
	    "d\xFF\xEF\xBB\xBF";

	ck_assert_int_eq(ghtext_clean(in, sizeof(in) - 1, 0, GHTEXT_STRIP,
	    &t), 0);
	ck_assert_str_eq(t.s, "abcd\xEF\xBF\xBD");
	ck_assert_uint_eq(t.invisible, 4);
	ck_assert_uint_eq(t.cut, 0);
	free(t.s);
	ck_assert_int_eq(ghtext_clean(in, sizeof(in) - 1, 0, 0, &t), 0);
	ck_assert_uint_eq(t.invisible, 4);
	ck_assert_uint_eq(t.len, sizeof(in) - 1 + 2);	/* FF -> EF BF BD */
	free(t.s);
	/* the cap never splits a character: "é" is 2 bytes */
	ck_assert_int_eq(ghtext_clean("x\xC3\xA9y", 4, 2, GHTEXT_STRIP, &t), 0);
	ck_assert_str_eq(t.s, "x");
	ck_assert_uint_eq(t.cut, 3);
	free(t.s);
	ck_assert(ghtext_is_invisible(0xE007F) && !ghtext_is_invisible(0xE0080));
	ck_assert(ghtext_is_invisible(0x2069) && !ghtext_is_invisible(0x206A));
	ck_assert(ghtext_is_invisible(0x2060) && !ghtext_is_invisible(0x2061));
	ck_assert(ghtext_is_text("ok\xC3\xA9", 4));
	ck_assert(!ghtext_is_text("a\0b", 3));
	ck_assert(!ghtext_is_text("\xC0\xAF", 2));	/* overlong */
	ck_assert(!ghtext_is_text("\xED\xA0\x80", 3));	/* surrogate */
}
END_TEST

/* ---- Node: @octokit/fixtures-server and the SDK client ---- */

static struct tproc	fx;
static int		fx_port;

static void
fx_setup(void)
{
	char script[4096], *line, *wrap = getenv("AFU9_TEST_WRAPPER");

	wrap = wrap ? strdup(wrap) : NULL;
	unsetenv("AFU9_TEST_WRAPPER");
	snprintf(script, sizeof(script), "%s",
	    t_srcdir("t/fixtures/github/fixtures-server.mjs"));
	ck_assert_int_eq(mt_node_spawn(&fx, script, NULL, 1), 0);
	if (wrap) {
		setenv("AFU9_TEST_WRAPPER", wrap, 1);
		free(wrap);
	}
	line = t_read_line(fx.out, 30000);
	ck_assert_msg(line != NULL, "fixtures-server did not start");
	fx_port = atoi(line);
	free(line);
	ck_assert_int_gt(fx_port, 0);
}

static void
fx_teardown(void)
{
	t_finish(&fx, 10000);
}

/* Load a scenario; the API URL for its replay (static buffer). */
static const char *
fx_scenario(const char *name)
{
	static char url[512];
	char cmd[1024], buf[2048];
	json_t *j;
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "curl -s -S -X POST -H 'Content-Type: "
	    "application/json' -d '{\"scenario\":\"%s\"}' "
	    "http://127.0.0.1:%d/fixtures", name, fx_port);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	ck_assert_int_eq(pclose(f), 0);
	j = json_loads(buf, 0, NULL);
	ck_assert_msg(sget(j, "url") != NULL, "no scenario %s: %s", name, buf);
	snprintf(url, sizeof(url), "%s", sget(j, "url"));
	json_decref(j);
	return url;
}

START_TEST(test_fixtures_get_repository)
{
	json_t *sc;

	srv_start_args(fx_scenario("get-repository"), FIX_TOKEN, NULL);
	sc = call_ok("getRepository", ARGS("{s:s, s:s}", "owner",
	    "octokit-fixture-org", "repo", "hello-world"));
	ck_assert_str_eq(sget(sc, "fullName"), "octokit-fixture-org/hello-world");
	ck_assert_str_eq(sget(sc, "defaultBranch"), "master");
	ck_assert(json_is_false(json_object_get(sc, "private")));
	json_decref(sc);
	srv_stop();
}
END_TEST

START_TEST(test_fixtures_paginate_issues)
{
	json_t *sc, *items;
	size_t i;

	/* all five pages, through the Link rel="next" URLs */
	srv_start_args(fx_scenario("paginate-issues"), FIX_TOKEN, NULL);
	sc = call_ok("listIssues", ARGS("{s:s, s:s, s:i, s:i}", "owner",
	    "octokit-fixture-org", "repo", "paginate-issues", "perPage", 3,
	    "maxItems", 300));
	items = json_object_get(sc, "items");
	ck_assert_int_eq(json_array_size(items), 13);
	for (i = 0; i < 13; i++)
		ck_assert_int_eq(json_integer_value(json_object_get(
		    json_array_get(items, i), "number")), 13 - (long)i);
	ck_assert(json_is_false(json_object_get(sc, "hasMore")));
	json_decref(sc);
	srv_stop();

	/* a bound: two pages, and more is said to exist */
	srv_start_args(fx_scenario("paginate-issues"), FIX_TOKEN, NULL);
	sc = call_ok("listIssues", ARGS("{s:s, s:s, s:i, s:i}", "owner",
	    "octokit-fixture-org", "repo", "paginate-issues", "perPage", 3,
	    "maxItems", 5));
	ck_assert_int_eq(json_array_size(json_object_get(sc, "items")), 5);
	ck_assert(json_is_true(json_object_get(sc, "hasMore")));
	json_decref(sc);
	srv_stop();
}
END_TEST

START_TEST(test_fixtures_wrong_token_refused)
{
	char *e;

	/* the replay is strict: another token does not match the recording */
	srv_start_args(fx_scenario("get-repository"), TOKEN, NULL);
	e = call_err("getRepository", ARGS("{s:s, s:s}", "owner",
	    "octokit-fixture-org", "repo", "hello-world"));
	ck_assert_msg(strstr(e, "not found") != NULL, "%s", e);
	free(e);
	srv_stop();
}
END_TEST

START_TEST(test_sdk_client_calls_tool)
{
	char *out = NULL;
	int st = -1;

	setenv("GITHUB_API_URL", fx_scenario("get-repository"), 1);
	setenv("GITHUB_TOKEN", FIX_TOKEN, 1);
	unsetenv("AFU9_GITHUB_READ_ONLY");
	ck_assert_int_eq(mt_sdk_run("t/fixtures/github/sdk-call.mjs",
	    "servers/github/afu9-github", 60000, &out, &st), 0);
	ck_assert_msg(out != NULL && strstr(out, "not ok") == NULL &&
	    strstr(out, "ok defaultBranch=master") != NULL, "%s",
	    out ? out : "(nothing)");
	ck_assert_msg(strstr(out, TOKEN) == NULL && strstr(out, FIX_TOKEN) ==
	    NULL, "token in the SDK output");
	free(out);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

/* Are Node, the SDK and fixtures-server there?  1 yes, 0 skip. */
static int
node_available(void)
{
	struct stat sb;
	const char *req = getenv("AFU9_REQUIRE_NODE_TESTS");

	if (stat(t_srcdir("t/node_modules/@octokit/fixtures-server"), &sb) ==
	    0 && stat(t_srcdir("t/node_modules/@modelcontextprotocol/sdk"),
	    &sb) == 0 && system("command -v curl >/dev/null 2>&1") == 0)
		return 1;
	if (req != NULL && strcmp(req, "1") == 0)
		return 1;	/* run them, and let them fail */
	fprintf(stderr, "# SKIP Node tests: t/node_modules (scripts/"
	    "node-deps.sh) or curl missing\n");
	return 0;
}

static Suite *
suite(void)
{
	Suite *s = suite_create("ghserver");
	TCase *tc;

	tc = tcase_create("options");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_list_all_and_annotations);
	tcase_add_test(tc, test_read_only_hides_write_tools);
	tcase_add_test(tc, test_read_only_env);
	tcase_add_test(tc, test_wire_trace);
	tcase_add_test(tc, test_unknown_tool_option);
	tcase_add_test(tc, test_bad_knob);
	tcase_add_test(tc, test_no_token);
	tcase_add_test(tc, test_help_lists_everything);
	tcase_add_test(tc, test_text_clean);
	suite_add_tcase(s, tc);

	tc = tcase_create("tools");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_get_repository);
	tcase_add_test(tc, test_get_issue_strips_and_comments);
	tcase_add_test(tc, test_get_issue_long_body_capped);
	tcase_add_test(tc, test_list_issues_query_and_prs);
	tcase_add_test(tc, test_get_file_contents);
	tcase_add_test(tc, test_get_pull_request_checks);
	tcase_add_test(tc, test_list_pull_requests);
	tcase_add_test(tc, test_get_repository_tree);
	tcase_add_test(tc, test_get_commit_checks);
	tcase_add_test(tc, test_mark_pull_request_ready);
	tcase_add_test(tc, test_create_branch_default_and_rerun);
	tcase_add_test(tc, test_create_pull_request);
	tcase_add_test(tc, test_push_files);
	tcase_add_test(tc, test_add_issue_comment);
	tcase_add_test(tc, test_merge_pull_request);
	suite_add_tcase(s, tc);

	tc = tcase_create("repeat");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_repeat_create_branch);
	tcase_add_test(tc, test_repeat_create_pull_request);
	tcase_add_test(tc, test_repeat_add_issue_comment);
	tcase_add_test(tc, test_add_issue_comment_key_bounds);
	tcase_add_test(tc, test_idempotency_key_checked);
	tcase_add_test(tc, test_repeat_push_files_key);
	tcase_add_test(tc, test_repeat_push_files_deleted);
	suite_add_tcase(s, tc);

	tc = tcase_create("transport");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, fast_setup, teardown);
	tcase_add_test(tc, test_burst_one_connection);
	tcase_add_test(tc, test_headers_sent);
	tcase_add_test(tc, test_etag_304_served_from_cache);
	tcase_add_test(tc, test_cancel_aborts_transfer);
	tcase_add_test(tc, test_concurrent_calls_and_ping);
	tcase_add_test(tc, test_retry_5xx);
	tcase_add_test(tc, test_secondary_limit_retry_after);
	tcase_add_test(tc, test_primary_rate_limit);
	tcase_add_test(tc, test_timeout_names_url);
	tcase_add_test(tc, test_http_error_messages);
	suite_add_tcase(s, tc);

	if (node_available()) {
		tc = tcase_create("node");
		tcase_set_timeout(tc, 120);
		tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
		tcase_add_test(tc, test_fixtures_get_repository);
		tcase_add_test(tc, test_fixtures_paginate_issues);
		tcase_add_test(tc, test_fixtures_wrong_token_refused);
		tcase_add_test(tc, test_sdk_client_calls_tool);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	int failed;

	signal(SIGPIPE, SIG_IGN);
	R = json_load_file(t_srcdir("t/fixtures/github/responses.json"), 0,
	    NULL);
	if (R == NULL) {
		fprintf(stderr, "cannot read t/fixtures/github/responses.json\n");
		return 99;
	}
	fc_start();
	failed = t_run(suite());
	fc_stop(10000);
	json_decref(R);
	return failed;
}
