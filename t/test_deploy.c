/*
 * afu9-deploy end to end: the real binary over stdio (NDJSON), against
 *  - t/faultserver.py scripting ECS answers (every request of a tool goes
 *    to "/", so answers are queued in the order the tool asks): the
 *    verdicts, waitForDeployment's progress, outcomes, timeout and
 *    cancellation, updateService and rollbackService with the exact
 *    requests sent, updateService called again after a lost answer (no
 *    second UpdateService), paging, throttling, 5xx, slow and malformed
 *    answers;
 *  - moto_server (t/aws/moto.py) seeded here through aws_call(): every
 *    tool against a real ECS emulator.  What moto 5 gives: a service's
 *    single deployment is COMPLETED at creation when desiredCount is 0,
 *    else IN_PROGRESS for ever; UpdateService keeps that one deployment
 *    (new id when forced) and never lists an older one, so moto can show
 *    stable / rolling_out, completion at the first poll, a timeout, and
 *    rollbackService's "nothing to roll back to", and a repeated
 *    updateService by the deployment id staying the same (UpdateService
 *    sets the service's taskDefinition to the text given and leaves the
 *    deployment's as it was; the tool compares the service's); ListTasks
 *    ignores serviceName, and stopped tasks carry stoppedReason but no
 *    stopCode.
 *    Without moto_server these tests are left out (# SKIP) unless
 *    AFU9_REQUIRE_MOTO=1;
 *  - the official TypeScript SDK client (t/deploy/sdk-call.mjs) launching
 *    afu9-deploy against moto, when Node and t/node_modules are there
 *    (else # SKIP, unless AFU9_REQUIRE_NODE_TESTS=1).
 * The secret key must appear in nothing the server writes.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <ev.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpc.h"
#include "aws/awsclient.h"
#include "aws/awsconf.h"
#include "aws/creds.h"
#include "faultclient.h"
#include "mcptest.h"
#include "testutil.h"

#define AKID		"AKIDAFU9DEPLOYTEST"
#define SECRET		"dEpl0ySECRETkeyAFU9/K7MDENG+bPxRfiCYEXAMPLE"
#define TD_ARN		"arn:aws:ecs:us-east-1:123456789012:task-definition/"
#define CLUSTER_ARN	"arn:aws:ecs:us-east-1:123456789012:cluster/prod"

/* the server's knobs, cleared with the AWS ones by env_reset() */
static const char *const deploy_vars[] = {
	"AFU9_DEPLOY_ALLOW_WRITE",
	"AFU9_DEPLOY_READ_ONLY", "AFU9_DEPLOY_POLL_MS",
	"AFU9_DEPLOY_TIMEOUT_MS", "AFU9_DEPLOY_RETRY_BASE_MS",
};

/* ---- helper processes: the fault server and moto ---- */

static struct tproc	moto;
static int		moto_port;
static char		moto_why[4200];
static char		moto_base[64];

static void
helpers_start(void)
{
	fc_start();
	moto_port = fc_moto_start(&moto, moto_why, sizeof(moto_why));
	snprintf(moto_base, sizeof(moto_base), "http://127.0.0.1:%d",
	    moto_port);
}

/* Queue one ECS answer: status and JSON body (stolen), times uses. */
static void
fs_push_n(int status, json_t *body, int times)
{
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:o, s:i, s:{s:s, s:s}}}",
	    "cmd", "push", "response", "status", status, "json", body,
	    "times", times, "headers", "x-amzn-RequestId", "req-deploy-1",
	    "Content-Type", "application/x-amz-json-1.1")));
}

static void
fs_push(json_t *body)
{
	fs_push_n(200, body, 1);
}

/* An ECS error answer, `times` times. */
static void
fs_push_error(int status, const char *type, const char *msg, int times)
{
	fs_push_n(status, json_pack("{s:s, s:s}", "__type", type, "message",
	    msg), times);
}

/* The answer when nothing is queued: JSON body (stolen). */
static void
fs_default(json_t *body)
{
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:o, s:{s:s}}}", "cmd",
	    "default", "response", "status", 200, "json", body, "headers",
	    "Content-Type", "application/x-amz-json-1.1")));
}

/* The ECS operation of request n (from X-Amz-Target). */
static const char *
req_op(const json_t *reqs, size_t n)
{
	const json_t *h;
	size_t i;

	json_array_foreach(json_object_get(json_array_get(reqs, n),
	    "headers"), i, h) {
		const char *k = json_string_value(json_array_get(h, 0));
		const char *v = json_string_value(json_array_get(h, 1));

		if (strcasecmp(k, "X-Amz-Target") == 0 && strchr(v, '.'))
			return strchr(v, '.') + 1;
	}
	return "";
}

/* Assert the operations sent were exactly these, comma-joined. */
static void
assert_ops(const char *want)
{
	json_t *a = fc_requests();
	char got[2048] = "";
	size_t i;

	for (i = 0; i < json_array_size(a); i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
		    i ? "," : "", req_op(a, i));
	json_decref(a);
	ck_assert_str_eq(got, want);
}

/* The JSON body of request n, compact with sorted keys (malloc'd). */
static char *
req_body(size_t n)
{
	json_t *b = fc_body(n);
	char *s;

	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(b);
	return s;
}

static void
assert_body(size_t n, const char *want)
{
	char *s = req_body(n);

	ck_assert_str_eq(s, want);
	free(s);
}

/* ---- ECS answers ---- */

/* A deployment as ECS lists it. */
static json_t *
dep(const char *id, const char *status, const char *rollout, int rev,
    int desired, int running, int pending, int failed, double created)
{
	char td[128];
	json_t *d;

	snprintf(td, sizeof(td), TD_ARN "web:%d", rev);
	d = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:f}", "id",
	    id, "status", status, "taskDefinition", td, "desiredCount",
	    desired, "runningCount", running, "pendingCount", pending,
	    "failedTasks", failed, "createdAt", created, "updatedAt",
	    created + 30);
	if (rollout != NULL) {
		json_object_set_new(d, "rolloutState", json_string(rollout));
		json_object_set_new(d, "rolloutStateReason", json_sprintf(
		    "ECS deployment %s %s.", id, strcmp(rollout, "FAILED") ==
		    0 ? "failed: tasks failed to start" : "in progress"));
	}
	return d;
}

/* A DescribeServices answer for service "api" with the deployments
   (stolen) and events (stolen, may be NULL). */
static json_t *
described(json_t *deps, json_t *events, int desired, int running,
    int pending)
{
	const json_t *p = json_array_get(deps, 0);

	return json_pack("{s:[{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:O, s:o, "
	    "s:o}], s:[]}", "services", "serviceArn",
	    "arn:aws:ecs:us-east-1:123456789012:service/prod/api",
	    "serviceName", "api", "clusterArn", CLUSTER_ARN, "status",
	    "ACTIVE", "desiredCount", desired, "runningCount", running,
	    "pendingCount", pending, "taskDefinition",
	    json_object_get(p, "taskDefinition"), "deployments", deps,
	    "events", events ? events : json_array(), "failures");
}

/* ---- the server under test ---- */

static struct tproc	srv;
static long		rpc_id;

static void
env_reset(const char *endpoint)
{
	size_t i;

	fc_aws_env(endpoint, AKID, SECRET);
	for (i = 0; i < sizeof(deploy_vars) / sizeof(deploy_vars[0]); i++)
		unsetenv(deploy_vars[i]);
	setenv("AFU9_DEPLOY_POLL_MS", "50", 1);
	setenv("AFU9_DEPLOY_RETRY_BASE_MS", "1", 1);
	setenv("AFU9_LOG_LEVEL", "debug", 1);
}

/* Start afu9-deploy with extra args (NULL-terminated); env as set. */
static void
srv_start_args(const char *const *extra)
{
	ck_assert_int_eq(mt_spawn(&srv, "servers/deploy/afu9-deploy", extra),
	    0);
}

static void
srv_start(void)
{
	static const char *const rw[] = { "--allow-write", NULL };

	srv_start_args(rw);
}

static void
send_line(json_t *msg)
{
	ck_assert_int_eq(mt_send(srv.in, msg), 0);
}

/* Read lines until the response to `id`; notifications are appended to
   notes when not NULL.  The response (new reference). */
static json_t *
read_response(long id, json_t *notes)
{
	json_t *m;
	char *line;

	for (;;) {
		line = t_read_line(srv.out, 20000);
		ck_assert_msg(line != NULL, "no answer to request %ld", id);
		ck_assert_msg(strstr(line, SECRET) == NULL, "secret in %s",
		    line);
		m = json_loads(line, 0, NULL);
		ck_assert_msg(m != NULL, "not JSON: %s", line);
		free(line);
		if (json_object_get(m, "id") == NULL) {
			if (notes != NULL)
				json_array_append(notes, m);
			json_decref(m);
			continue;
		}
		ck_assert_int_eq(json_integer_value(json_object_get(m, "id")),
		    id);
		return m;
	}
}

static json_t *
rpc(const char *method, json_t *params)
{
	send_line(json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
	    (json_int_t)++rpc_id, "method", method, "params",
	    params ? params : json_object()));
	return read_response(rpc_id, NULL);
}

/* tools/call with a progress token; notifications into notes. */
static json_t *
call_notes(const char *tool, json_t *args, json_t *notes)
{
	json_t *resp, *res;
	long id = ++rpc_id;

	send_line(json_pack("{s:s, s:I, s:s, s:{s:s, s:o, s:{s:I}}}",
	    "jsonrpc", "2.0", "id", (json_int_t)id, "method", "tools/call",
	    "params", "name", tool, "arguments", args, "_meta",
	    "progressToken", (json_int_t)(1000 + id)));
	resp = read_response(rpc_id, notes);
	res = json_incref(json_object_get(resp, "result"));
	ck_assert_msg(res != NULL, "%s: no result", tool);
	json_decref(resp);
	return res;
}

static json_t *
call(const char *tool, json_t *args)
{
	return call_notes(tool, args, NULL);
}

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long
iget(const json_t *o, const char *k)
{
	return (long)json_integer_value(json_object_get(o, k));
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

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
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

/* End the server: EOF, nothing secret written, logs on stderr, exit 0. */
static void
srv_stop(void)
{
	char *out, *err;
	int st;

	st = mt_stop(&srv, 15000, &out, &err);
	ck_assert_msg(out == NULL || strstr(out, SECRET) == NULL, "secret "
	    "on stdout");
	ck_assert_msg(err != NULL && strstr(err, "\"component\":"
	    "\"afu9-deploy\"") != NULL, "no log on stderr");
	ck_assert_msg(strstr(err, SECRET) == NULL, "secret on stderr");
	free(out);
	free(err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d", st);
}

static void
fs_setup(void)
{
	fc_reset();
	env_reset(fc_base());
	srv_start();
}

static void
fs_teardown(void)
{
	srv_stop();
}

#define ARGS(...)	json_pack(__VA_ARGS__)
#define CS	"cluster", "prod", "service", "api"

/* ---- options, listing, refusals ---- */

/* Names of the listed tools, comma-joined (malloc'd). */
static char *
tool_names(void)
{
	json_t *resp = rpc("tools/list", NULL), *t;
	char buf[1024] = "";
	size_t i;

	json_array_foreach(json_object_get(json_object_get(resp, "result"),
	    "tools"), i, t)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
		    i ? "," : "", sget(t, "name"));
	json_decref(resp);
	return strdup(buf);
}

#define ALL_TOOLS "getServiceStatus,listServices,waitForDeployment," \
	"updateService,rollbackService"
#define READ_TOOLS "getServiceStatus,listServices,waitForDeployment"

START_TEST(test_list_and_annotations)
{
	json_t *resp, *t;
	char *names;
	size_t i;

	env_reset(fc_base());
	srv_start_args(NULL);
	names = tool_names();
	ck_assert_str_eq(names, ALL_TOOLS);
	free(names);
	resp = rpc("tools/list", NULL);
	json_array_foreach(json_object_get(json_object_get(resp, "result"),
	    "tools"), i, t) {
		const json_t *a = json_object_get(t, "annotations");
		const char *n = sget(t, "name");
		int w = i >= 3;

		ck_assert_msg(json_object_get(t, "outputSchema") != NULL, "%s",
		    n);
		ck_assert_int_eq(json_is_true(json_object_get(a,
		    "readOnlyHint")), !w);
		ck_assert_int_eq(json_is_true(json_object_get(a,
		    "destructiveHint")), w);
		ck_assert_int_eq(json_is_true(json_object_get(a,
		    "idempotentHint")), strcmp(n, "updateService") != 0);
		ck_assert(json_is_true(json_object_get(a, "openWorldHint")));
	}
	json_decref(resp);
	srv_stop();
}
END_TEST

START_TEST(test_read_only_hides_writes)
{
	static const char *const ro[] = { "--read-only", "--allow-write",
	    NULL };
	static const char *const sel[] = { "--tools",
	    "listServices,updateService,rollbackService", "--exclude-tools",
	    "rollbackService", NULL };
	json_t *resp;
	char *names;

	env_reset(fc_base());
	srv_start_args(ro);
	names = tool_names();
	ck_assert_str_eq(names, READ_TOOLS);
	free(names);
	resp = rpc("tools/call", ARGS("{s:s, s:{s:s, s:s}}", "name",
	    "updateService", "arguments", CS));
	ck_assert_str_eq(sget(json_object_get(resp, "error"), "message"),
	    "Unknown tool: updateService");
	json_decref(resp);
	srv_stop();

	setenv("AFU9_DEPLOY_READ_ONLY", "1", 1);
	srv_start_args(NULL);
	names = tool_names();
	ck_assert_str_eq(names, READ_TOOLS);
	free(names);
	srv_stop();
	unsetenv("AFU9_DEPLOY_READ_ONLY");

	srv_start_args(sel);
	names = tool_names();
	ck_assert_str_eq(names, "listServices,updateService");
	free(names);
	srv_stop();
}
END_TEST

START_TEST(test_writes_refused_without_allow_write)
{
	char *e;

	fc_reset();
	env_reset(fc_base());
	srv_start_args(NULL);
	e = call_err("updateService", ARGS("{s:s, s:s, s:s}", CS,
	    "taskDefinition", "web:8"));
	ck_assert_str_eq(e, "updateService changes the service and writes "
	    "are disabled on this server: nothing was changed.  Start "
	    "afu9-deploy with --allow-write (or AFU9_DEPLOY_ALLOW_WRITE=1) "
	    "to allow it.");
	free(e);
	e = call_err("rollbackService", ARGS("{s:s, s:s}", CS));
	ck_assert_msg(starts(e, "rollbackService changes the service and "
	    "writes are disabled"), "%s", e);
	free(e);
	srv_stop();
	assert_ops("");

	/* the environment variable enables them */
	setenv("AFU9_DEPLOY_ALLOW_WRITE", "1", 1);
	srv_start_args(NULL);
	fs_push(described(json_pack("[o]", dep("ecs-svc/1", "PRIMARY",
	    "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), NULL, 2, 2, 0));
	fs_push(json_pack("{s:{s:s, s:s, s:i, s:[o]}}", "service",
	    "serviceName", "api", "taskDefinition", TD_ARN "web:7",
	    "desiredCount", 2, "deployments", dep("ecs-svc/2", "PRIMARY",
	    "IN_PROGRESS", 7, 2, 0, 2, 0, 1700000100.0)));
	json_decref(call_ok("updateService", ARGS("{s:s, s:s}", CS)));
	srv_stop();
	assert_ops("DescribeServices,UpdateService");
}
END_TEST

START_TEST(test_no_credentials)
{
	char *e;

	fc_reset();
	env_reset(fc_base());
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	srv_start();
	e = call_err("getServiceStatus", ARGS("{s:s, s:s}", CS));
	ck_assert_msg(starts(e, "ECS DescribeServices failed: no AWS "
	    "credentials: environment: AWS_ACCESS_KEY_ID not set; web "
	    "identity: AWS_WEB_IDENTITY_TOKEN_FILE not set; shared files: "), "%s", e);
	ck_assert_msg(strstr(e, "container: ") != NULL, "%s", e);
	free(e);
	srv_stop();
	assert_ops("");
}
END_TEST

START_TEST(test_help_and_bad_options)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const bad[] = { "--tools", "getServiceStatus,nope",
	    NULL };
	const char *want[] = { "getServiceStatus", "listServices",
	    "waitForDeployment", "updateService", "rollbackService",
	    "--read-only", "--allow-write", "--tools", "--exclude-tools",
	    "--version", "AFU9_DEPLOY_ALLOW_WRITE", "AFU9_DEPLOY_READ_ONLY",
	    "AFU9_DEPLOY_POLL_MS", "AFU9_DEPLOY_TIMEOUT_MS", "AWS_REGION",
	    "AWS_ENDPOINT_URL_ECS", "AWS_ACCESS_KEY_ID", "AWS_PROFILE",
	    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL };
	char *out, *err;
	size_t i;
	int eof, st;

	env_reset(fc_base());
	srv_start_args(help);
	out = t_read_until(srv.out, "\x01", 10000, &eof);
	st = t_finish(&srv, 10000);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (i = 0; want[i] != NULL; i++)
		ck_assert_msg(out && strstr(out, want[i]), "--help lacks %s",
		    want[i]);
	free(out);

	srv_start_args(bad);
	close(srv.in);
	srv.in = -1;
	err = t_read_until(srv.err, "\x01", 10000, &eof);
	st = t_finish(&srv, 10000);
	ck_assert_msg(err != NULL && strstr(err, "afu9-deploy: --tools: "
	    "unknown tool 'nope'") != NULL, "%s", err ? err : "");
	free(err);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);

	setenv("AFU9_DEPLOY_POLL_MS", "0", 1);
	srv_start_args(NULL);
	close(srv.in);
	srv.in = -1;
	err = t_read_until(srv.err, "\x01", 10000, &eof);
	st = t_finish(&srv, 10000);
	ck_assert_msg(err != NULL && strstr(err, "AFU9_DEPLOY_POLL_MS must be "
	    "a number from 10 to 600000, not '0'") != NULL, "%s",
	    err ? err : "");
	free(err);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
END_TEST

/* ---- getServiceStatus ---- */

START_TEST(test_status_failing_with_stopped_tasks)
{
	json_t *sc, *ev = json_array(), *st, *d;
	char msg[64];
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(msg, sizeof(msg), "(service api) event %d", 12 - i);
		json_array_append_new(ev, json_pack("{s:s, s:s, s:f}", "id",
		    "e", "message", msg, "createdAt", 1700000500.0 - i));
	}
	fs_push(described(json_pack("[o, o]", dep("ecs-svc/new", "PRIMARY",
	    "IN_PROGRESS", 8, 2, 0, 1, 3, 1700000300.0), dep("ecs-svc/old",
	    "ACTIVE", "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), ev, 2, 2, 1));
	fs_push(json_pack("{s:[s, s]}", "taskArns",
	    "arn:aws:ecs:us-east-1:123456789012:task/prod/aaa",
	    "arn:aws:ecs:us-east-1:123456789012:task/prod/bbb"));
	fs_push(json_pack("{s:[{s:s, s:s, s:s, s:s, s:f, s:[{s:s, s:i}]}, "
	    "{s:s, s:s, s:s, s:s, s:f, s:[{s:s, s:s}]}], s:[]}", "tasks",
	    "taskArn", "arn:aws:ecs:us-east-1:123456789012:task/prod/aaa",
	    "taskDefinitionArn", TD_ARN "web:8", "stopCode",
	    "EssentialContainerExited", "stoppedReason",
	    "Essential container in task exited", "stoppedAt", 1700000400.0,
	    "containers", "name", "app", "exitCode", 1,
	    "taskArn", "arn:aws:ecs:us-east-1:123456789012:task/prod/bbb",
	    "taskDefinitionArn", TD_ARN "web:8", "stopCode",
	    "TaskFailedToStart", "stoppedReason",
	    "CannotPullContainerError: pull image manifest has been retried",
	    "stoppedAt", 1700000450.0, "containers", "name", "app", "reason",
	    "CannotPullContainerError", "failures"));

	sc = call_ok("getServiceStatus", ARGS("{s:s, s:s, s:i}", CS,
	    "maxEvents", 2));
	assert_ops("DescribeServices,ListTasks,DescribeTasks");
	assert_body(0, "{\"cluster\":\"prod\",\"services\":[\"api\"]}");
	assert_body(1, "{\"cluster\":\"prod\",\"desiredStatus\":\"STOPPED\","
	    "\"maxResults\":20,\"serviceName\":\"api\"}");
	assert_body(2, "{\"cluster\":\"prod\",\"tasks\":[\"arn:aws:ecs:"
	    "us-east-1:123456789012:task/prod/aaa\",\"arn:aws:ecs:us-east-1:"
	    "123456789012:task/prod/bbb\"]}");
	ck_assert_str_eq(sget(sc, "verdict"), "failing");
	ck_assert_str_eq(sget(sc, "summary"), "failing: deployment "
	    "ecs-svc/new has 3 failed tasks and 0 of 2 running; last stop: "
	    "CannotPullContainerError: pull image manifest has been retried");
	ck_assert_str_eq(sget(sc, "cluster"), "prod");
	ck_assert_str_eq(sget(sc, "taskDefinition"), "web:8");
	ck_assert_int_eq(iget(sc, "failedTasks"), 3);
	d = json_object_get(sc, "deployments");
	ck_assert_int_eq(json_array_size(d), 2);
	ck_assert_str_eq(sget(json_array_get(d, 1), "taskDefinition"), "web:7");
	ck_assert_str_eq(sget(json_array_get(d, 1), "rolloutState"),
	    "COMPLETED");
	ck_assert_str_eq(sget(json_array_get(d, 0), "createdAt"),
	    "2023-11-14T22:18:20Z");
	ck_assert_int_eq(json_array_size(json_object_get(sc, "events")), 2);
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc, "events"), 0),
	    "message"), "(service api) event 12");
	ck_assert(has_note(sc, "10 older events not shown"));
	st = json_object_get(sc, "stoppedTasks");
	ck_assert_int_eq(json_array_size(st), 2);
	/* newest first */
	ck_assert_str_eq(sget(json_array_get(st, 0), "taskId"), "bbb");
	ck_assert_str_eq(sget(json_array_get(st, 0), "stopCode"),
	    "TaskFailedToStart");
	ck_assert_str_eq(sget(json_array_get(st, 1), "stopCode"),
	    "EssentialContainerExited");
	ck_assert_int_eq(iget(json_array_get(json_object_get(json_array_get(st,
	    1), "containers"), 0), "exitCode"), 1);
	json_decref(sc);
}
END_TEST

START_TEST(test_status_failed_rollout_tasks_denied)
{
	json_t *sc;

	fs_push(described(json_pack("[o, o]", dep("ecs-svc/new", "PRIMARY",
	    "FAILED", 8, 2, 0, 0, 4, 1700000300.0), dep("ecs-svc/old", "ACTIVE",
	    "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), NULL, 2, 2, 0));
	fs_push_error(400, "AccessDeniedException", "User is not authorized "
	    "to perform ecs:ListTasks", 1);
	sc = call_ok("getServiceStatus", ARGS("{s:s, s:s}", CS));
	ck_assert_str_eq(sget(sc, "verdict"), "failing");
	ck_assert_str_eq(sget(sc, "why"), "deployment ecs-svc/new FAILED: ECS "
	    "deployment ecs-svc/new failed: tasks failed to start.");
	ck_assert(has_note(sc, "stopped tasks not shown: ECS ListTasks "
	    "failed: AccessDeniedException: User is not authorized to perform "
	    "ecs:ListTasks (request id req-deploy-1)"));
	ck_assert_int_eq(json_array_size(json_object_get(sc, "stoppedTasks")),
	    0);
	json_decref(sc);
	assert_ops("DescribeServices,ListTasks");
}
END_TEST

START_TEST(test_status_missing_service)
{
	char *e;

	fs_push(json_pack("{s:[], s:[{s:s, s:s}]}", "services", "failures",
	    "arn", "arn:aws:ecs:us-east-1:123456789012:service/prod/nope",
	    "reason", "MISSING"));
	e = call_err("getServiceStatus", ARGS("{s:s, s:s}", "cluster", "prod",
	    "service", "nope"));
	ck_assert_str_eq(e, "service 'nope' not found in cluster 'prod' (ECS: "
	    "MISSING): check the names with listServices");
	free(e);
}
END_TEST

/* ---- transport and service faults ---- */

START_TEST(test_throttled_then_ok)
{
	json_t *sc;

	fs_push_error(400, "ThrottlingException", "Rate exceeded", 2);
	fs_push(described(json_pack("[o]", dep("ecs-svc/1", "PRIMARY",
	    "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), NULL, 2, 2, 0));
	fs_push(json_pack("{s:[]}", "taskArns"));
	sc = call_ok("getServiceStatus", ARGS("{s:s, s:s}", CS));
	ck_assert_str_eq(sget(sc, "verdict"), "stable");
	ck_assert_str_eq(sget(sc, "why"), "deployment ecs-svc/1 COMPLETED: 2 "
	    "of 2 tasks running web:7");
	json_decref(sc);
	assert_ops("DescribeServices,DescribeServices,DescribeServices,"
	    "ListTasks");
}
END_TEST

START_TEST(test_server_errors_and_malformed)
{
	char *e;

	fs_push_error(503, "ServiceUnavailableException", "try later", 3);
	e = call_err("listServices", ARGS("{s:s}", "cluster", "prod"));
	ck_assert_msg(starts(e, "ECS ListServices failed: "
	    "ServiceUnavailableException: try later (request id req-deploy-1"), "%s", e);
	free(e);
	assert_ops("ListServices,ListServices,ListServices");

	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:s, s:{s:s}}}", "cmd",
	    "push", "response", "status", 200, "body", "{\"services\": [",
	    "headers", "x-amzn-RequestId", "req-bad")));
	e = call_err("getServiceStatus", ARGS("{s:s, s:s}", CS));
	ck_assert_msg(starts(e, "ECS DescribeServices failed: the answer is "
	    "not JSON"), "%s", e);
	free(e);
}
END_TEST

START_TEST(test_slow_answers_time_out)
{
	char *e;

	srv_stop();
	setenv("AFU9_DEPLOY_TIMEOUT_MS", "200", 1);
	srv_start();
	json_decref(fc_cmd(json_pack("{s:s, s:{s:i, s:i, s:o}}", "cmd", "push",
	    "response", "delay_ms", 1500, "times", 3, "json", json_object())));
	e = call_err("getServiceStatus", ARGS("{s:s, s:s}", CS));
	ck_assert_msg(strstr(e, "ECS DescribeServices failed: could not reach "
	    "http://127.0.0.1:") == e, "%s", e);
	ck_assert_msg(strstr(e, "(gave up after 3 attempts)") != NULL, "%s", e);
	free(e);
	unsetenv("AFU9_DEPLOY_TIMEOUT_MS");
}
END_TEST

/* ---- listServices ---- */

START_TEST(test_list_services_pages)
{
	json_t *sc, *s, *svcs = json_array();
	const char *names[] = { "a", "b", "c" };
	char arn[128];
	size_t i;

	fs_push(json_pack("{s:[s, s], s:s}", "serviceArns",
	    "arn:aws:ecs:us-east-1:123456789012:service/prod/a",
	    "arn:aws:ecs:us-east-1:123456789012:service/prod/b", "nextToken",
	    "page-2"));
	fs_push(json_pack("{s:[s]}", "serviceArns",
	    "arn:aws:ecs:us-east-1:123456789012:service/prod/c"));
	for (i = 0; i < 3; i++) {
		snprintf(arn, sizeof(arn), TD_ARN "%s:3", names[i]);
		json_array_append_new(svcs, json_pack("{s:s, s:s, s:i, s:i, "
		    "s:i, s:s, s:[o]}", "serviceName", names[i], "status",
		    "ACTIVE", "desiredCount", 1, "runningCount", i == 2 ? 0 : 1,
		    "pendingCount", 0, "taskDefinition", arn, "deployments",
		    dep("ecs-svc/x", "PRIMARY", i == 2 ? "IN_PROGRESS" :
		    "COMPLETED", 3, 1, i == 2 ? 0 : 1, 0, 0, 1700000000.0)));
	}
	fs_push(json_pack("{s:o, s:[]}", "services", svcs, "failures"));
	sc = call_ok("listServices", ARGS("{s:s}", "cluster", "prod"));
	assert_ops("ListServices,ListServices,DescribeServices");
	assert_body(0, "{\"cluster\":\"prod\",\"maxResults\":100}");
	assert_body(1, "{\"cluster\":\"prod\",\"maxResults\":100,"
	    "\"nextToken\":\"page-2\"}");
	assert_body(2, "{\"cluster\":\"prod\",\"services\":[\"arn:aws:ecs:"
	    "us-east-1:123456789012:service/prod/a\",\"arn:aws:ecs:us-east-1:"
	    "123456789012:service/prod/b\",\"arn:aws:ecs:us-east-1:"
	    "123456789012:service/prod/c\"]}");
	ck_assert_int_eq(iget(sc, "count"), 3);
	ck_assert(json_is_false(json_object_get(sc, "hasMore")));
	s = json_object_get(sc, "services");
	ck_assert_str_eq(sget(json_array_get(s, 0), "verdict"), "stable");
	ck_assert_str_eq(sget(json_array_get(s, 0), "taskDefinition"), "a:3");
	ck_assert_str_eq(sget(json_array_get(s, 2), "verdict"), "rolling_out");
	json_decref(sc);

	/* maxItems cuts the listing */
	fc_reset();
	fs_push(json_pack("{s:[s, s], s:s}", "serviceArns",
	    "arn:aws:ecs:us-east-1:123456789012:service/prod/a",
	    "arn:aws:ecs:us-east-1:123456789012:service/prod/b", "nextToken",
	    "page-2"));
	fs_push(json_pack("{s:[{s:s, s:s, s:i, s:i, s:[]}], s:[]}", "services",
	    "serviceName", "a", "status", "ACTIVE", "desiredCount", 0,
	    "runningCount", 0, "deployments", "failures"));
	sc = call_ok("listServices", ARGS("{s:s, s:i}", "cluster", "prod",
	    "maxItems", 1));
	assert_ops("ListServices,DescribeServices");
	ck_assert_int_eq(iget(sc, "count"), 1);
	ck_assert(json_is_true(json_object_get(sc, "hasMore")));
	ck_assert(has_note(sc, "raise maxItems"));
	json_decref(sc);
}
END_TEST

/* ---- waitForDeployment ---- */

START_TEST(test_wait_progress_to_completed)
{
	json_t *res, *sc, *notes = json_array(), *p;
	const char *want[] = {
	    "ecs-svc/9 IN_PROGRESS: 0 of 2 tasks running, 2 pending, 0 failed",
	    "ecs-svc/9 IN_PROGRESS: 1 of 2 tasks running, 1 pending, 0 failed",
	    "ecs-svc/9 COMPLETED: 2 of 2 tasks running, 0 pending, 0 failed" };
	size_t i;

	fs_push(described(json_pack("[o, o]", dep("ecs-svc/9", "PRIMARY",
	    "IN_PROGRESS", 8, 2, 0, 2, 0, 1700000300.0), dep("ecs-svc/8",
	    "ACTIVE", "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), NULL, 2, 2,
	    2));
	fs_push(described(json_pack("[o, o]", dep("ecs-svc/9", "PRIMARY",
	    "IN_PROGRESS", 8, 2, 1, 1, 0, 1700000300.0), dep("ecs-svc/8",
	    "ACTIVE", "COMPLETED", 7, 1, 1, 0, 0, 1700000000.0)), NULL, 2, 2,
	    1));
	fs_push(described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY",
	    "COMPLETED", 8, 2, 2, 0, 0, 1700000300.0)), NULL, 2, 2, 0));
	res = call_notes("waitForDeployment", ARGS("{s:s, s:s, s:i}", CS,
	    "timeoutSeconds", 30), notes);
	ck_assert(!json_is_true(json_object_get(res, "isError")));
	ck_assert_int_eq(json_array_size(notes), 3);
	json_array_foreach(notes, i, p) {
		const json_t *pp = json_object_get(p, "params");

		ck_assert_str_eq(sget(p, "method"), "notifications/progress");
		ck_assert_int_eq(json_integer_value(json_object_get(pp,
		    "progressToken")), 1000 + rpc_id);
		ck_assert(json_number_value(json_object_get(pp, "progress")) ==
		    (double)(i + 1));
		ck_assert_str_eq(sget(pp, "message"), want[i]);
	}
	sc = json_object_get(res, "structuredContent");
	ck_assert_str_eq(sget(sc, "outcome"), "completed");
	ck_assert_str_eq(sget(sc, "deploymentId"), "ecs-svc/9");
	ck_assert_int_eq(iget(sc, "polls"), 3);
	ck_assert_str_eq(sget(json_object_get(sc, "deployment"),
	    "taskDefinition"), "web:8");
	json_decref(res);
	json_decref(notes);
	assert_ops("DescribeServices,DescribeServices,DescribeServices");
}
END_TEST

START_TEST(test_wait_failed_and_unknown_id)
{
	json_t *sc;
	char *e;

	fs_push(described(json_pack("[o, o]", dep("ecs-svc/9", "PRIMARY",
	    "FAILED", 8, 2, 0, 0, 5, 1700000300.0), dep("ecs-svc/8", "ACTIVE",
	    "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), NULL, 2, 2, 0));
	sc = call_ok("waitForDeployment", ARGS("{s:s, s:s, s:s}", CS,
	    "deploymentId", "ecs-svc/9"));
	ck_assert_str_eq(sget(sc, "outcome"), "failed");
	ck_assert_str_eq(sget(sc, "summary"), "ecs-svc/9 FAILED: 0 of 2 tasks "
	    "running, 0 pending, 5 failed; ECS deployment ecs-svc/9 failed: "
	    "tasks failed to start.");
	json_decref(sc);

	fs_push(described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY",
	    "IN_PROGRESS", 8, 2, 0, 0, 0, 1700000300.0)), NULL, 2, 0, 0));
	e = call_err("waitForDeployment", ARGS("{s:s, s:s, s:s}", CS,
	    "deploymentId", "ecs-svc/1"));
	ck_assert_str_eq(e, "deployment 'ecs-svc/1' is not one of service "
	    "'api''s deployments (ecs-svc/9 (PRIMARY)): it may have finished "
	    "and been dropped already; check with getServiceStatus");
	free(e);
}
END_TEST

START_TEST(test_wait_superseded)
{
	json_t *sc;

	fs_push(described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY",
	    "IN_PROGRESS", 8, 2, 0, 2, 0, 1700000300.0)), NULL, 2, 0, 2));
	fs_push(described(json_pack("[o]", dep("ecs-svc/10", "PRIMARY",
	    "IN_PROGRESS", 9, 2, 0, 2, 0, 1700000400.0)), NULL, 2, 0, 2));
	sc = call_ok("waitForDeployment", ARGS("{s:s, s:s}", CS));
	ck_assert_str_eq(sget(sc, "outcome"), "superseded");
	ck_assert(json_is_null(json_object_get(sc, "deployment")));
	ck_assert_str_eq(sget(json_object_get(sc, "primary"), "id"),
	    "ecs-svc/10");
	ck_assert_int_eq(iget(sc, "polls"), 2);
	json_decref(sc);
}
END_TEST

START_TEST(test_wait_timeout)
{
	json_t *res, *sc, *notes = json_array();
	int secs = t_slow() > 1 ? 6 : 1;	/* valgrind polls slowly */
	char want[64];
	size_t n;

	fs_default(described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY",
	    "IN_PROGRESS", 8, 2, 1, 1, 0, 1700000300.0)), NULL, 2, 1, 1));
	res = call_notes("waitForDeployment", ARGS("{s:s, s:s, s:i}", CS,
	    "timeoutSeconds", secs), notes);
	sc = json_object_get(res, "structuredContent");
	ck_assert_str_eq(sget(sc, "outcome"), "timeout");
	n = json_array_size(notes);
	ck_assert_msg(n >= 2, "%zu progress notifications", n);
	ck_assert_int_eq(iget(sc, "polls"), (long)n);
	ck_assert_str_eq(sget(json_object_get(sc, "deployment"), "id"),
	    "ecs-svc/9");
	snprintf(want, sizeof(want), "timed out after %d s and ", secs);
	ck_assert_msg(starts(sget(sc, "summary"), want), "%s", sget(sc,
	    "summary"));
	ck_assert(strstr(sget(sc, "summary"), "ecs-svc/9 IN_PROGRESS: 1 of 2 "
	    "tasks running, 1 pending, 0 failed") != NULL);
	ck_assert(has_note(sc, "the deployment goes on"));
	json_decref(res);
	json_decref(notes);
}
END_TEST

/* Deployments without a rolloutState: done when alone and full. */
START_TEST(test_wait_without_rollout_state)
{
	json_t *sc, *d;

	fs_push(described(json_pack("[o, o]", dep("ecs-svc/9", "PRIMARY",
	    NULL, 8, 2, 2, 0, 0, 1700000300.0), dep("ecs-svc/8", "ACTIVE",
	    NULL, 7, 1, 1, 0, 0, 1700000000.0)), NULL, 2, 3, 0));
	fs_push(described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY", NULL,
	    8, 2, 1, 1, 0, 1700000300.0)), NULL, 2, 1, 1));
	fs_push(described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY", NULL,
	    8, 2, 2, 0, 0, 1700000300.0)), NULL, 2, 2, 0));
	sc = call_ok("waitForDeployment", ARGS("{s:s, s:s}", CS));
	ck_assert_str_eq(sget(sc, "outcome"), "completed");
	ck_assert_int_eq(iget(sc, "polls"), 3);
	d = json_object_get(sc, "deployment");
	ck_assert(json_is_null(json_object_get(d, "rolloutState")));
	json_decref(sc);

	/* and a service being deleted is "inactive" */
	d = described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY",
	    "COMPLETED", 8, 0, 0, 0, 0, 1700000300.0)), NULL, 0, 0, 0);
	json_object_set_new(json_array_get(json_object_get(d, "services"), 0),
	    "status", json_string("DRAINING"));
	fs_push(d);
	fs_push(json_pack("{s:[]}", "taskArns"));
	sc = call_ok("getServiceStatus", ARGS("{s:s, s:s}", CS));
	ck_assert_str_eq(sget(sc, "summary"), "inactive: the service is "
	    "DRAINING (deleted or being deleted)");
	json_decref(sc);
}
END_TEST

/* A poll that never gets an answer: the deadline cancels it. */
START_TEST(test_wait_timeout_cancels_poll_in_flight)
{
	json_t *sc, *r;

	json_decref(fc_cmd(json_pack("{s:s, s:{s:s}}", "cmd", "push",
	    "response", "action", "hold")));
	sc = call_ok("waitForDeployment", ARGS("{s:s, s:s, s:i}", CS,
	    "timeoutSeconds", 1));
	ck_assert_str_eq(sget(sc, "outcome"), "timeout");
	ck_assert_int_eq(iget(sc, "polls"), 0);
	ck_assert(json_is_null(json_object_get(sc, "deployment")));
	ck_assert_msg(strstr(sget(sc, "summary"), "no state seen yet") != NULL,
	    "%s", sget(sc, "summary"));
	json_decref(sc);
	r = fc_cmd(json_pack("{s:s, s:i, s:i}", "cmd", "wait", "closed", 1,
	    "timeout_ms", 5000 * t_slow()));
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "the held "
	    "request was not closed");
	json_decref(r);
}
END_TEST

static size_t
fs_count(void)
{
	json_t *a = fc_requests();
	size_t n = json_array_size(a);

	json_decref(a);
	return n;
}

START_TEST(test_wait_cancel_stops_polling)
{
	json_t *resp, *r;
	char *line;
	size_t n;
	long id;

	fs_default(described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY",
	    "IN_PROGRESS", 8, 2, 1, 1, 0, 1700000300.0)), NULL, 2, 1, 1));
	send_line(json_pack("{s:s, s:I, s:s, s:{s:s, s:{s:s, s:s}, s:{s:i}}}",
	    "jsonrpc", "2.0", "id", (json_int_t)++rpc_id, "method",
	    "tools/call", "params", "name", "waitForDeployment", "arguments",
	    CS, "_meta", "progressToken", 7));
	id = rpc_id;
	/* two polls seen: it is polling */
	line = t_read_line(srv.out, 10000);
	ck_assert_msg(line && strstr(line, "notifications/progress"), "%s",
	    line ? line : "nothing");
	free(line);
	line = t_read_line(srv.out, 10000);
	ck_assert_msg(line && strstr(line, "\"progress\":2"), "%s",
	    line ? line : "nothing");
	free(line);
	send_line(json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0",
	    "method", "notifications/cancelled", "params", "requestId",
	    (json_int_t)id, "reason", "user"));
	resp = rpc("ping", NULL);	/* skips nothing: asserts the id */
	ck_assert_ptr_nonnull(json_object_get(resp, "result"));
	json_decref(resp);
	n = fs_count();
	/* ten poll intervals: nothing more is written or asked */
	line = t_read_line(srv.out, 500);
	ck_assert_msg(line == NULL, "after cancel: %s", line);
	ck_assert_int_eq(fs_count(), n);

	/* cancelled while a poll is held: the request is closed */
	fc_reset();
	json_decref(fc_cmd(json_pack("{s:s, s:{s:s}}", "cmd", "push",
	    "response", "action", "hold")));
	send_line(json_pack("{s:s, s:I, s:s, s:{s:s, s:{s:s, s:s}}}",
	    "jsonrpc", "2.0", "id", (json_int_t)++rpc_id, "method",
	    "tools/call", "params", "name", "waitForDeployment", "arguments",
	    CS));
	r = fc_cmd(json_pack("{s:s, s:i, s:i}", "cmd", "wait", "requests", 1,
	    "timeout_ms", 5000 * t_slow()));
	ck_assert(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	send_line(json_pack("{s:s, s:s, s:{s:I}}", "jsonrpc", "2.0",
	    "method", "notifications/cancelled", "params", "requestId",
	    (json_int_t)rpc_id));
	r = fc_cmd(json_pack("{s:s, s:i, s:i}", "cmd", "wait", "closed", 1,
	    "timeout_ms", 5000 * t_slow()));
	ck_assert_msg(json_is_true(json_object_get(r, "ok")), "the held "
	    "request was not closed");
	json_decref(r);
	resp = rpc("ping", NULL);
	json_decref(resp);
}
END_TEST

/* ---- updateService, rollbackService ---- */

/* The service on web:7 with 2 tasks, then UpdateService's answer: web:8
   rolls out on ecs-svc/9 with 3. */
static void
fs_push_update_to_8(void)
{
	fs_push(described(json_pack("[o]", dep("ecs-svc/8", "PRIMARY",
	    "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), NULL, 2, 2, 0));
	fs_push(json_pack("{s:{s:s, s:s, s:s, s:i, s:[o, o]}}", "service",
	    "serviceName", "api", "clusterArn", CLUSTER_ARN, "taskDefinition",
	    TD_ARN "web:8", "desiredCount", 3, "deployments", dep("ecs-svc/9",
	    "PRIMARY", "IN_PROGRESS", 8, 3, 0, 0, 0, 1700000300.0),
	    dep("ecs-svc/8", "ACTIVE", "COMPLETED", 7, 2, 2, 0, 0,
	    1700000000.0)));
}

START_TEST(test_update_service)
{
	json_t *sc;
	char *e;

	fs_push_update_to_8();
	sc = call_ok("updateService", ARGS("{s:s, s:s, s:s, s:i}", CS,
	    "taskDefinition", "web:8", "desiredCount", 3));
	assert_ops("DescribeServices,UpdateService");
	assert_body(1, "{\"cluster\":\"prod\",\"desiredCount\":3,"
	    "\"forceNewDeployment\":true,\"service\":\"api\","
	    "\"taskDefinition\":\"web:8\"}");
	ck_assert_str_eq(sget(sc, "taskDefinition"), "web:8");
	ck_assert_str_eq(sget(sc, "previousTaskDefinition"), "web:7");
	ck_assert_int_eq(iget(sc, "desiredCount"), 3);
	ck_assert_str_eq(sget(json_object_get(sc, "deployment"), "id"),
	    "ecs-svc/9");
	ck_assert_str_eq(sget(json_object_get(sc, "deployment"),
	    "rolloutState"), "IN_PROGRESS");
	ck_assert(has_note(sc, "waitForDeployment (deploymentId ecs-svc/9)"));
	json_decref(sc);

	e = call_err("updateService", ARGS("{s:s, s:s, s:b}", CS,
	    "forceNewDeployment", 0));
	ck_assert_str_eq(e, "nothing to change: give taskDefinition, "
	    "desiredCount, or forceNewDeployment true");
	free(e);

	/* ECS refuses: the error says nothing changed */
	fs_push(described(json_pack("[o]", dep("ecs-svc/8", "PRIMARY",
	    "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), NULL, 2, 2, 0));
	fs_push_error(400, "InvalidParameterException", "Unable to find task "
	    "definition 'web:99'.", 1);
	e = call_err("updateService", ARGS("{s:s, s:s, s:s}", CS,
	    "taskDefinition", "web:99"));
	ck_assert_str_eq(e, "the service was not changed: ECS UpdateService "
	    "failed: InvalidParameterException: Unable to find task "
	    "definition 'web:99'. (request id req-deploy-1)");
	free(e);
}
END_TEST

/* The service after an update to web:8 with 3 tasks: ecs-svc/9 rolls
   out, ecs-svc/8 (web:7) still listed.  A DescribeServices answer. */
static json_t *
described_after(void)
{
	return described(json_pack("[o, o]", dep("ecs-svc/9", "PRIMARY",
	    "IN_PROGRESS", 8, 3, 1, 1, 0, 1700000300.0), dep("ecs-svc/8",
	    "ACTIVE", "COMPLETED", 7, 2, 2, 0, 0, 1700000000.0)), NULL, 3, 3,
	    1);
}

/* What UpdateService answers when it leaves the service so. */
static json_t *
updated_after(void)
{
	json_t *d = described_after(), *u;

	u = json_pack("{s:O}", "service", json_array_get(json_object_get(d,
	    "services"), 0));
	json_decref(d);
	return u;
}

/*
 * updateService called again after its answer was lost: DescribeServices
 * shows the deployment the first call started, which is returned; no
 * second UpdateService is sent.  Only a request that names a state (a
 * task definition, and a count) can be recognised.
 */
START_TEST(test_update_service_repeat)
{
	json_t *a, *b;
	char *e;

	fs_push_update_to_8();
	a = call_ok("updateService", ARGS("{s:s, s:s, s:s, s:i, s:s}", CS,
	    "taskDefinition", "web:8", "desiredCount", 3, "idempotencyKey",
	    "wf-7:deploy"));
	assert_ops("DescribeServices,UpdateService");
	ck_assert(json_is_false(json_object_get(a, "alreadyExisted")));

	fc_reset();
	fs_push(described_after());
	b = call_ok("updateService", ARGS("{s:s, s:s, s:s, s:i, s:s}", CS,
	    "taskDefinition", "web:8", "desiredCount", 3, "idempotencyKey",
	    "wf-7:deploy"));
	assert_ops("DescribeServices");
	ck_assert(json_is_true(json_object_get(b, "alreadyExisted")));
	ck_assert_str_eq(sget(json_object_get(b, "deployment"), "id"),
	    sget(json_object_get(a, "deployment"), "id"));
	ck_assert_str_eq(sget(b, "taskDefinition"), sget(a, "taskDefinition"));
	ck_assert_str_eq(sget(b, "previousTaskDefinition"), "web:7");
	ck_assert_int_eq(iget(b, "desiredCount"), 3);
	ck_assert(has_note(b, "the service already runs web:8 with ecs-svc/9 "
	    "as its PRIMARY deployment (IN_PROGRESS): nothing was changed"));
	json_decref(a);
	json_decref(b);

	/* the same by ARN, and without a count: still nothing to do */
	fc_reset();
	fs_push(described_after());
	b = call_ok("updateService", ARGS("{s:s, s:s, s:s}", CS,
	    "taskDefinition", TD_ARN "web:8"));
	assert_ops("DescribeServices");
	ck_assert(json_is_true(json_object_get(b, "alreadyExisted")));
	json_decref(b);

	/* another count: updated */
	fc_reset();
	fs_push(described_after());
	fs_push(updated_after());
	b = call_ok("updateService", ARGS("{s:s, s:s, s:s, s:i}", CS,
	    "taskDefinition", "web:8", "desiredCount", 4));
	assert_ops("DescribeServices,UpdateService");
	ck_assert(json_is_false(json_object_get(b, "alreadyExisted")));
	json_decref(b);

	/* a family: its latest ACTIVE revision (web:8, not webapp:9) */
	fc_reset();
	fs_push(described_after());
	fs_push(json_pack("{s:[s, s, s]}", "taskDefinitionArns",
	    TD_ARN "webapp:9", TD_ARN "web:8", TD_ARN "web:7"));
	b = call_ok("updateService", ARGS("{s:s, s:s, s:s}", CS,
	    "taskDefinition", "web"));
	assert_ops("DescribeServices,ListTaskDefinitions");
	assert_body(1, "{\"familyPrefix\":\"web\",\"maxResults\":100,"
	    "\"sort\":\"DESC\",\"status\":\"ACTIVE\"}");
	ck_assert(json_is_true(json_object_get(b, "alreadyExisted")));
	json_decref(b);

	/* a newer revision registered: the family is deployed as named */
	fc_reset();
	fs_push(described_after());
	fs_push(json_pack("{s:[s, s]}", "taskDefinitionArns", TD_ARN "web:9",
	    TD_ARN "web:8"));
	fs_push(updated_after());
	b = call_ok("updateService", ARGS("{s:s, s:s, s:s}", CS,
	    "taskDefinition", "web"));
	assert_ops("DescribeServices,ListTaskDefinitions,UpdateService");
	assert_body(2, "{\"cluster\":\"prod\",\"forceNewDeployment\":true,"
	    "\"service\":\"api\",\"taskDefinition\":\"web\"}");
	json_decref(b);

	/* the revisions cannot be read: nothing is changed */
	fc_reset();
	fs_push(described_after());
	fs_push_error(400, "AccessDeniedException", "User is not authorized "
	    "to perform: ecs:ListTaskDefinitions", 1);
	e = call_err("updateService", ARGS("{s:s, s:s, s:s}", CS,
	    "taskDefinition", "web"));
	ck_assert_msg(starts(e, "the service was not changed: the latest "
	    "revision of the task definition family could not be read"), "%s",
	    e);
	free(e);
	assert_ops("DescribeServices,ListTaskDefinitions");

	/* a forced deployment of the running version names no state: each
	   call starts one */
	fc_reset();
	fs_push(described_after());
	fs_push(updated_after());
	b = call_ok("updateService", ARGS("{s:s, s:s, s:s}", CS,
	    "idempotencyKey", "wf-7:restart"));
	assert_ops("DescribeServices,UpdateService");
	ck_assert(json_is_false(json_object_get(b, "alreadyExisted")));
	json_decref(b);
}
END_TEST

START_TEST(test_rollback_to_last_completed)
{
	json_t *sc;

	fs_push(described(json_pack("[o, o, o]", dep("ecs-svc/9", "PRIMARY",
	    "FAILED", 9, 2, 0, 0, 6, 1700000300.0), dep("ecs-svc/7", "ACTIVE",
	    "COMPLETED", 7, 2, 0, 0, 0, 1700000000.0), dep("ecs-svc/8",
	    "ACTIVE", "COMPLETED", 8, 2, 2, 0, 0, 1700000100.0)), NULL, 2, 2,
	    0));
	fs_push(json_pack("{s:{s:s, s:s, s:s, s:i, s:[o, o]}}", "service",
	    "serviceName", "api", "clusterArn", CLUSTER_ARN, "taskDefinition",
	    TD_ARN "web:8", "desiredCount", 2, "deployments", dep("ecs-svc/10",
	    "PRIMARY", "IN_PROGRESS", 8, 2, 0, 0, 0, 1700000400.0),
	    dep("ecs-svc/9", "ACTIVE", "FAILED", 9, 2, 0, 0, 6,
	    1700000300.0)));
	sc = call_ok("rollbackService", ARGS("{s:s, s:s}", CS));
	assert_ops("DescribeServices,UpdateService");
	assert_body(1, "{\"cluster\":\"prod\",\"service\":\"api\","
	    "\"taskDefinition\":\"" TD_ARN "web:8\"}");
	ck_assert(json_is_true(json_object_get(sc, "changed")));
	ck_assert_str_eq(sget(sc, "taskDefinition"), "web:8");
	ck_assert_str_eq(sget(sc, "previousTaskDefinition"), "web:9");
	ck_assert_str_eq(sget(sc, "completedDeployment"), "ecs-svc/8");
	ck_assert_str_eq(sget(json_object_get(sc, "deployment"), "id"),
	    "ecs-svc/10");
	json_decref(sc);

	/* again, while that rollback runs: nothing to change */
	fc_reset();
	fs_push(described(json_pack("[o, o]", dep("ecs-svc/10", "PRIMARY",
	    "IN_PROGRESS", 8, 2, 1, 1, 0, 1700000400.0), dep("ecs-svc/8",
	    "ACTIVE", "COMPLETED", 8, 2, 1, 0, 0, 1700000100.0)), NULL, 2, 2,
	    1));
	sc = call_ok("rollbackService", ARGS("{s:s, s:s}", CS));
	assert_ops("DescribeServices");
	ck_assert(json_is_false(json_object_get(sc, "changed")));
	ck_assert_str_eq(sget(sc, "taskDefinition"), "web:8");
	ck_assert(has_note(sc, "already runs web:8"));
	json_decref(sc);
}
END_TEST

START_TEST(test_rollback_nothing_to_roll_back_to)
{
	char *e;

	fs_push(described(json_pack("[o]", dep("ecs-svc/9", "PRIMARY",
	    "COMPLETED", 9, 2, 2, 0, 0, 1700000300.0)), NULL, 2, 2, 0));
	fs_push(json_pack("{s:[s, s, s]}", "taskDefinitionArns",
	    TD_ARN "web:10", TD_ARN "web:9", TD_ARN "web:7"));
	e = call_err("rollbackService", ARGS("{s:s, s:s}", CS));
	ck_assert_str_eq(e, "nothing to roll back to: service 'api' lists no "
	    "COMPLETED deployment other than its current one (ecs-svc/9 "
	    "COMPLETED, web:9); ECS keeps no record of what ran before a "
	    "rollout completed.  Nothing was changed.  The previous registered "
	    "revision is web:7; if that is the version you want, call "
	    "updateService with taskDefinition \"web:7\".");
	free(e);
	assert_ops("DescribeServices,ListTaskDefinitions");
	assert_body(1, "{\"familyPrefix\":\"web\",\"maxResults\":100,"
	    "\"sort\":\"DESC\",\"status\":\"ACTIVE\"}");
}
END_TEST

/* ---- moto_server ---- */

static struct ev_loop	*mloop;
static struct httpc	*mhc;
static struct aws_config mcfg;
static struct aws_creds_provider *mprov;
static struct aws_client *mcl;
static char		 mcluster[64];
static int		 mseq;

struct outcome {
	int	 done;
	char	*message;
	json_t	*body;
};

static void
on_done(const struct aws_result *res, void *arg)
{
	struct outcome *o = arg;

	o->done = 1;
	o->message = res->message ? strdup(res->message) : NULL;
	o->body = json_incref(res->body);
}

/* Call ECS on moto and require success; the output (new reference). */
static json_t *
moto_ok(const char *op, json_t *params)
{
	struct outcome o = { 0 };
	double end = t_now_ms() + 20000.0 * t_slow();

	ck_assert_ptr_nonnull(aws_call(mcl, AWS_SVC_ECS, op, params, on_done,
	    &o));
	json_decref(params);
	while (!o.done && t_now_ms() < end)
		ev_run(mloop, EVRUN_ONCE);
	ck_assert_msg(o.done, "%s: no answer", op);
	ck_assert_msg(o.body != NULL, "%s: %s", op, o.message);
	free(o.message);
	return o.body;
}

static void
td(const char *image)
{
	json_decref(moto_ok("RegisterTaskDefinition", json_pack("{s:s, "
	    "s:[{s:s, s:s, s:i}]}", "family", "web", "containerDefinitions",
	    "name", "app", "image", image, "memory", 128)));
}

/* A cluster of its own: two services on web:2 and web:3, a stopped task. */
static void
moto_setup(void)
{
	char err[512];
	json_t *out;

	if (moto_port == 0)
		ck_abort_msg("moto_server not available: %s", moto_why);
	env_reset(moto_base);
	ck_assert_ptr_nonnull(mloop = ev_loop_new(EVFLAG_AUTO));
	ck_assert_ptr_nonnull(mhc = httpc_new(mloop, NULL));
	ck_assert_msg(aws_config_load(&mcfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(mprov = aws_creds_new(mloop, mhc, &mcfg));
	mcl = aws_client_new(mloop, mhc, mprov, &mcfg, NULL, err, sizeof(err));
	ck_assert_msg(mcl != NULL, "%s", err);
	snprintf(mcluster, sizeof(mcluster), "afu9-deploy-%ld-%d",
	    (long)getpid(), ++mseq);	/* fresh also without fork */
	json_decref(moto_ok("CreateCluster", json_pack("{s:s}", "clusterName",
	    mcluster)));
	td("nginx:1");
	td("nginx:2");
	td("nginx:3");
	json_decref(moto_ok("CreateService", json_pack("{s:s, s:s, s:s, s:i}",
	    "cluster", mcluster, "serviceName", "web", "taskDefinition",
	    "web:2", "desiredCount", 2)));
	json_decref(moto_ok("CreateService", json_pack("{s:s, s:s, s:s, s:i}",
	    "cluster", mcluster, "serviceName", "idle", "taskDefinition",
	    "web:3", "desiredCount", 0)));
	out = moto_ok("RunTask", json_pack("{s:s, s:s, s:s, s:{s:{s:[s]}}}",
	    "cluster", mcluster, "taskDefinition", "web:2", "launchType",
	    "FARGATE", "networkConfiguration", "awsvpcConfiguration",
	    "subnets", "subnet-afu9"));
	json_decref(moto_ok("StopTask", json_pack("{s:s, s:s, s:s}", "cluster",
	    mcluster, "task", sget(json_array_get(json_object_get(out,
	    "tasks"), 0), "taskArn"), "reason", "Essential container in task "
	    "exited")));
	json_decref(out);
	srv_start();
}

static void
moto_teardown(void)
{
	if (mloop == NULL)
		return;
	srv_stop();
	aws_client_free(mcl);
	aws_creds_free(mprov);
	aws_config_free(&mcfg);
	httpc_free(mhc);
	ev_loop_destroy(mloop);
	mloop = NULL;
}

START_TEST(test_moto_list_and_status)
{
	json_t *sc, *s, *st;

	sc = call_ok("listServices", ARGS("{s:s}", "cluster", mcluster));
	ck_assert_int_eq(iget(sc, "count"), 2);
	s = json_object_get(sc, "services");
	/* moto lists ARNs sorted: idle, web */
	ck_assert_str_eq(sget(json_array_get(s, 0), "name"), "idle");
	ck_assert_str_eq(sget(json_array_get(s, 0), "verdict"), "stable");
	ck_assert_str_eq(sget(json_array_get(s, 1), "name"), "web");
	ck_assert_str_eq(sget(json_array_get(s, 1), "verdict"), "rolling_out");
	ck_assert_str_eq(sget(json_array_get(s, 1), "taskDefinition"), "web:2");
	json_decref(sc);

	sc = call_ok("getServiceStatus", ARGS("{s:s, s:s}", "cluster",
	    mcluster, "service", "web"));
	ck_assert_str_eq(sget(sc, "verdict"), "rolling_out");
	ck_assert_int_eq(iget(sc, "desiredCount"), 2);
	ck_assert_int_eq(iget(sc, "pendingCount"), 2);
	ck_assert_str_eq(sget(json_array_get(json_object_get(sc,
	    "deployments"), 0), "rolloutState"), "IN_PROGRESS");
	st = json_object_get(sc, "stoppedTasks");
	ck_assert_int_eq(json_array_size(st), 1);
	ck_assert_str_eq(sget(json_array_get(st, 0), "stoppedReason"),
	    "Essential container in task exited");
	ck_assert(json_is_null(json_object_get(json_array_get(st, 0),
	    "stopCode")));
	ck_assert_str_eq(sget(json_array_get(st, 0), "taskDefinition"),
	    "web:2");
	json_decref(sc);

	sc = call_ok("getServiceStatus", ARGS("{s:s, s:s}", "cluster",
	    mcluster, "service", "idle"));
	ck_assert_str_eq(sget(sc, "verdict"), "stable");
	json_decref(sc);
}
END_TEST

START_TEST(test_moto_wait)
{
	json_t *res, *sc, *notes = json_array();

	res = call_notes("waitForDeployment", ARGS("{s:s, s:s}", "cluster",
	    mcluster, "service", "idle"), notes);
	sc = json_object_get(res, "structuredContent");
	ck_assert_str_eq(sget(sc, "outcome"), "completed");
	ck_assert_int_eq(iget(sc, "polls"), 1);
	ck_assert_int_eq(json_array_size(notes), 1);
	json_decref(res);

	json_array_clear(notes);
	res = call_notes("waitForDeployment", ARGS("{s:s, s:s, s:i}",
	    "cluster", mcluster, "service", "web", "timeoutSeconds", 1), notes);
	sc = json_object_get(res, "structuredContent");
	ck_assert_str_eq(sget(sc, "outcome"), "timeout");
	ck_assert_int_ge(json_array_size(notes), 1);
	json_decref(res);
	json_decref(notes);
}
END_TEST

START_TEST(test_moto_update_and_rollback)
{
	json_t *before, *sc;
	char *e, id[128];

	before = call_ok("getServiceStatus", ARGS("{s:s, s:s}", "cluster",
	    mcluster, "service", "web"));
	snprintf(id, sizeof(id), "%s", sget(json_array_get(json_object_get(
	    before, "deployments"), 0), "id"));
	json_decref(before);
	sc = call_ok("updateService", ARGS("{s:s, s:s, s:s}", "cluster",
	    mcluster, "service", "web", "taskDefinition", "web:3"));
	ck_assert_str_eq(sget(sc, "taskDefinition"), "web:3");
	ck_assert_str_eq(sget(sc, "previousTaskDefinition"), "web:2");
	ck_assert_str_ne(sget(json_object_get(sc, "deployment"), "id"), id);
	json_decref(sc);

	e = call_err("rollbackService", ARGS("{s:s, s:s}", "cluster",
	    mcluster, "service", "idle"));
	ck_assert_msg(starts(e, "nothing to roll back to: service 'idle' "
	    "lists no COMPLETED deployment other than its current one"), "%s",
	    e);
	ck_assert_msg(strstr(e, "The previous registered revision is web:2; ")
	    != NULL, "%s", e);
	free(e);

	e = call_err("getServiceStatus", ARGS("{s:s, s:s}", "cluster",
	    mcluster, "service", "nope"));
	ck_assert_str_eq(e + strlen("service 'nope' not found in cluster '") +
	    strlen(mcluster), "' (ECS: MISSING): check the names with "
	    "listServices");
	free(e);
	e = call_err("listServices", ARGS("{s:s}", "cluster",
	    "afu9-no-such-cluster"));
	ck_assert_msg(starts(e, "ECS ListServices failed: "
	    "ClusterNotFoundException: Cluster not found. (request id "), "%s", e);
	free(e);
}
END_TEST

/*
 * updateService twice on moto, as the workflow engine repeats a call whose
 * answer was lost: the second finds the service on the task definition
 * asked for and returns the deployment the first started.  moto gives a
 * forced UpdateService's deployment a new id, so an id that stays the
 * same (in both answers and in getServiceStatus after them) shows that
 * UpdateService ran once; a forced deployment without taskDefinition,
 * which cannot be recognised, shows the id changing.  (moto keeps task
 * definitions across the tests' clusters, so the family's latest revision
 * is read here first.)
 */
START_TEST(test_moto_update_twice)
{
	json_t *a, *b, *st, *l;
	char id[128], latest[128];
	const char *arn;

	l = moto_ok("ListTaskDefinitions", json_pack("{s:s}", "familyPrefix",
	    "web"));
	arn = json_string_value(json_array_get(json_object_get(l,
	    "taskDefinitionArns"), json_array_size(json_object_get(l,
	    "taskDefinitionArns")) - 1));
	ck_assert_ptr_nonnull(arn);
	snprintf(latest, sizeof(latest), "%s", strrchr(arn, '/') + 1);
	json_decref(l);

	a = call_ok("updateService", ARGS("{s:s, s:s, s:s, s:i, s:s}",
	    "cluster", mcluster, "service", "web", "taskDefinition", latest,
	    "desiredCount", 2, "idempotencyKey", "wf-9:deploy"));
	ck_assert(json_is_false(json_object_get(a, "alreadyExisted")));
	snprintf(id, sizeof(id), "%s", sget(json_object_get(a, "deployment"),
	    "id"));
	b = call_ok("updateService", ARGS("{s:s, s:s, s:s, s:i, s:s}",
	    "cluster", mcluster, "service", "web", "taskDefinition", latest,
	    "desiredCount", 2, "idempotencyKey", "wf-9:deploy"));
	ck_assert(json_is_true(json_object_get(b, "alreadyExisted")));
	ck_assert_str_eq(sget(json_object_get(b, "deployment"), "id"), id);
	ck_assert_str_eq(sget(b, "taskDefinition"), latest);
	json_decref(a);
	json_decref(b);

	/* the family alone: that is its latest revision */
	b = call_ok("updateService", ARGS("{s:s, s:s, s:s}", "cluster",
	    mcluster, "service", "web", "taskDefinition", "web"));
	ck_assert(json_is_true(json_object_get(b, "alreadyExisted")));
	ck_assert_str_eq(sget(json_object_get(b, "deployment"), "id"), id);
	json_decref(b);

	st = call_ok("getServiceStatus", ARGS("{s:s, s:s}", "cluster",
	    mcluster, "service", "web"));
	ck_assert_int_eq(json_array_size(json_object_get(st, "deployments")),
	    1);
	ck_assert_str_eq(sget(json_array_get(json_object_get(st,
	    "deployments"), 0), "id"), id);
	json_decref(st);

	b = call_ok("updateService", ARGS("{s:s, s:s}", "cluster", mcluster,
	    "service", "web"));
	ck_assert(json_is_false(json_object_get(b, "alreadyExisted")));
	ck_assert_str_ne(sget(json_object_get(b, "deployment"), "id"), id);
	json_decref(b);
}
END_TEST

/* ---- the official TypeScript SDK client ---- */

START_TEST(test_sdk_client)
{
	char *out = NULL;
	int st = -1;

	srv_stop();	/* the SDK launches its own */
	setenv("AFU9_DEPLOY_TEST_CLUSTER", mcluster, 1);
	ck_assert_int_eq(mt_sdk_run("t/deploy/sdk-call.mjs",
	    "servers/deploy/afu9-deploy", 60000 * t_slow(), &out, &st), 0);
	ck_assert_msg(out != NULL && strstr(out, "not ok") == NULL &&
	    strstr(out, "ok outcome=completed") != NULL, "%s",
	    out ? out : "(nothing)");
	ck_assert_msg(strstr(out, SECRET) == NULL, "secret in the SDK output");
	free(out);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	srv_start();	/* for the teardown */
}
END_TEST

static int
node_available(void)
{
	return mt_node_available("# SKIP SDK client test: t/node_modules "
	    "missing (scripts/node-deps.sh)\n");
}

static Suite *
suite(int with_moto)
{
	Suite *s = suite_create("deploy");
	TCase *tc;

	tc = tcase_create("options");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_list_and_annotations);
	tcase_add_test(tc, test_read_only_hides_writes);
	tcase_add_test(tc, test_writes_refused_without_allow_write);
	tcase_add_test(tc, test_no_credentials);
	tcase_add_test(tc, test_help_and_bad_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("fault");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, fs_setup, fs_teardown);
	tcase_add_test(tc, test_status_failing_with_stopped_tasks);
	tcase_add_test(tc, test_status_failed_rollout_tasks_denied);
	tcase_add_test(tc, test_status_missing_service);
	tcase_add_test(tc, test_throttled_then_ok);
	tcase_add_test(tc, test_server_errors_and_malformed);
	tcase_add_test(tc, test_slow_answers_time_out);
	tcase_add_test(tc, test_list_services_pages);
	tcase_add_test(tc, test_wait_progress_to_completed);
	tcase_add_test(tc, test_wait_failed_and_unknown_id);
	tcase_add_test(tc, test_wait_superseded);
	tcase_add_test(tc, test_wait_timeout);
	tcase_add_test(tc, test_wait_without_rollout_state);
	tcase_add_test(tc, test_wait_timeout_cancels_poll_in_flight);
	tcase_add_test(tc, test_wait_cancel_stops_polling);
	tcase_add_test(tc, test_update_service);
	tcase_add_test(tc, test_update_service_repeat);
	tcase_add_test(tc, test_rollback_to_last_completed);
	tcase_add_test(tc, test_rollback_nothing_to_roll_back_to);
	suite_add_tcase(s, tc);

	if (with_moto) {
		tc = tcase_create("moto");
		tcase_set_timeout(tc, 60 * t_slow());
		tcase_add_checked_fixture(tc, moto_setup, moto_teardown);
		tcase_add_test(tc, test_moto_list_and_status);
		tcase_add_test(tc, test_moto_wait);
		tcase_add_test(tc, test_moto_update_and_rollback);
		tcase_add_test(tc, test_moto_update_twice);
		if (node_available())
			tcase_add_test(tc, test_sdk_client);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	int failed, with_moto;

	signal(SIGPIPE, SIG_IGN);
	helpers_start();
	with_moto = fc_tool_wanted(moto_port != 0, moto_why, "moto tests");
	failed = t_run(suite(with_moto));
	fc_stop(10000);
	if (moto.pid > 0)
		t_finish(&moto, 10000);
	return failed;
}
