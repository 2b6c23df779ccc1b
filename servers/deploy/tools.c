/*
 * tools: the dop machinery shared by every afu9-deploy tool, the compact
 * views of ECS objects, and the verdict on a service.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/srvmain.h"
#include "common/text.h"
#include "deploy/tools.h"

/* ---- the dop ---- */

static void
dop_free(void *arg)
{
	struct dop *op = arg;
	size_t i;

	if (op->req != NULL)
		aws_call_cancel(op->req);
	if (op->timers) {
		ev_timer_stop(op->ctx->loop, &op->poll);
		ev_timer_stop(op->ctx->loop, &op->deadline);
	}
	for (i = 0; i < sizeof(op->s) / sizeof(op->s[0]); i++)
		free(op->s[i]);
	json_decref(op->svc);
	json_decref(op->acc);
	json_decref(op->out);
	json_decref(op->notes);
	free(op);
}

static void
dop_cancel(struct mcp_call *call, void *arg)
{
	(void)call;
	dop_free(arg);
}

struct dop *
dop_new(struct mcp_call *call, const json_t *args, void *udata)
{
	struct dop *op;
	json_t *notes;

	if ((op = srv_op_alloc(call, sizeof(*op), &notes)) == NULL)
		return NULL;
	op->notes = notes;
	op->call = call;
	op->ctx = udata;
	op->args = args;
	op->cluster = dep_str(args, "cluster");
	op->service = dep_str(args, "service");
	mcp_call_on_cancel(call, dop_cancel, op);
	return op;
}

static void
dop_aws_done(const struct aws_result *res, void *arg)
{
	struct dop *op = arg;
	dop_fn fn = op->next;

	op->req = NULL;
	op->next = NULL;
	fn(op, res);
}

void
dop_send(struct dop *op, const char *operation, json_t *params, dop_fn next)
{
	if (params == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	op->next = next;
	op->req = aws_call(op->ctx->aws, AWS_SVC_ECS, operation, params,
	    dop_aws_done, op);
	json_decref(params);
	if (op->req == NULL)
		dop_error(op, "could not start ECS %s: the request is too "
		    "large or malformed, or memory ran out", operation);
}

void
dop_return(struct dop *op, json_t *structured)
{
	srv_call_return(op->call, structured, op->notes, dop_free, op);
}

void
dop_error(struct dop *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	srv_call_verror(op->call, dop_free, op, fmt, ap);
	va_end(ap);
}

void
dop_aws_error(struct dop *op, const struct aws_result *res,
    const char *prefix)
{
	const char *m = res->message ? res->message : "unknown AWS error";

	if (prefix != NULL)
		dop_error(op, "%s: %s", prefix, m);
	else
		dop_error(op, "%s", m);
}

void
dop_note(struct dop *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	srv_vnote(op->notes, 0, fmt, ap);
	va_end(ap);
}

int
dop_refuse_write(struct dop *op)
{
	if (op->ctx->allow_write)
		return 0;
	dop_error(op, "%s changes the service and writes are disabled on "
	    "this server: nothing was changed.  Start afu9-deploy with "
	    "--allow-write (or AFU9_DEPLOY_ALLOW_WRITE=1) to allow it.",
	    mcp_call_tool(op->call));
	return 1;
}

/* ---- describe one service ---- */

static void
describe_done(struct dop *op, const struct aws_result *res)
{
	const json_t *svc, *f;
	dop_fn then = op->then;

	if (res->err != AWS_OK) {
		dop_aws_error(op, res, NULL);
		return;
	}
	svc = json_array_get(json_object_get(res->body, "services"), 0);
	if (!json_is_object(svc)) {
		f = json_array_get(json_object_get(res->body, "failures"), 0);
		dop_error(op, "service '%s' not found in cluster '%s' (ECS: "
		    "%s): check the names with listServices", op->service,
		    op->cluster, dep_str(f, "reason") ? dep_str(f, "reason") :
		    "no such service");
		return;
	}
	json_decref(op->svc);
	if ((op->svc = json_deep_copy(svc)) == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	op->then = NULL;
	then(op, res);
}

void
dep_describe(struct dop *op, dop_fn next)
{
	op->then = next;
	dop_send(op, "DescribeServices", json_pack("{s:s, s:[s]}", "cluster",
	    op->cluster, "services", op->service), describe_done);
}

/* ---- compact views ---- */

const char *
dep_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

long
dep_int(const json_t *o, const char *key, long dflt)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) >= -1e15 &&
	    json_real_value(v) <= 1e15)
		return (long)json_real_value(v);
	return dflt;
}

const char *
dep_arn_name(const char *s)
{
	const char *p;

	if (s == NULL)
		return NULL;
	p = strrchr(s, '/');
	return p != NULL && p[1] != '\0' ? p + 1 : s;
}

json_t *
dep_time(const json_t *v)
{
	char buf[32];
	struct tm tm;
	double d;
	time_t t;

	if (!json_is_number(v))
		return json_null();
	d = json_number_value(v);
	if (!(d >= 0 && d < 253402300800.0))	/* year 10000 */
		return json_null();
	t = (time_t)d;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(buf);
}

json_t *
dep_text(const char *s, size_t cap)
{
	struct ghtext t;
	json_t *v;
	char *x;

	if (s == NULL)
		return json_null();
	if (ghtext_clean(s, strlen(s), cap, GHTEXT_STRIP, &t) == -1)
		return json_string("");
	if (t.cut > 0 && asprintf(&x, "%s...", t.s) >= 0) {
		free(t.s);
		t.s = x;
		t.len = strlen(x);
	}
	v = json_stringn(t.s, t.len);
	free(t.s);
	return v != NULL ? v : json_string("");
}

/* A string member as a new string, or null. */
static json_t *
str_or_null(const json_t *o, const char *key)
{
	const char *s = dep_str(o, key);

	return s != NULL ? json_string(s) : json_null();
}

/* The short name of an ARN member, or null. */
static json_t *
name_or_null(const json_t *o, const char *key)
{
	const char *s = dep_arn_name(dep_str(o, key));

	return s != NULL ? json_string(s) : json_null();
}

json_t *
dep_deployment(const json_t *d)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o, "
	    "s:o}",
	    "id", str_or_null(d, "id"),
	    "status", str_or_null(d, "status"),
	    "rolloutState", str_or_null(d, "rolloutState"),
	    "rolloutStateReason", dep_text(dep_str(d, "rolloutStateReason"),
	    DEP_TEXT_CAP),
	    "taskDefinition", name_or_null(d, "taskDefinition"),
	    "desiredCount", (json_int_t)dep_int(d, "desiredCount", 0),
	    "runningCount", (json_int_t)dep_int(d, "runningCount", 0),
	    "pendingCount", (json_int_t)dep_int(d, "pendingCount", 0),
	    "failedTasks", (json_int_t)dep_int(d, "failedTasks", 0),
	    "createdAt", dep_time(json_object_get(d, "createdAt")),
	    "updatedAt", dep_time(json_object_get(d, "updatedAt")));
}

const json_t *
dep_primary(const json_t *svc)
{
	const json_t *d;
	size_t i;

	json_array_foreach(json_object_get(svc, "deployments"), i, d) {
		const char *st = dep_str(d, "status");

		if (st != NULL && strcmp(st, "PRIMARY") == 0)
			return d;
	}
	return NULL;
}

json_t *
dep_service_brief(const json_t *svc)
{
	const json_t *p = dep_primary(svc);
	char why[512];
	enum dep_verdict v = dep_verdict(svc, NULL, why, sizeof(why));

	return json_pack("{s:o, s:o, s:I, s:I, s:I, s:o, s:o, s:I, s:s, s:s}",
	    "name", str_or_null(svc, "serviceName"),
	    "status", str_or_null(svc, "status"),
	    "desiredCount", (json_int_t)dep_int(svc, "desiredCount", 0),
	    "runningCount", (json_int_t)dep_int(svc, "runningCount", 0),
	    "pendingCount", (json_int_t)dep_int(svc, "pendingCount", 0),
	    "taskDefinition", name_or_null(svc, "taskDefinition"),
	    "rolloutState", p != NULL ? str_or_null(p, "rolloutState") :
	    json_null(),
	    "deployments", (json_int_t)json_array_size(json_object_get(svc,
	    "deployments")),
	    "verdict", dep_verdict_name(v), "why", why);
}

/* The containers of a stopped task that say why it stopped. */
static json_t *
stopped_containers(const json_t *task)
{
	json_t *a = json_array(), *c;
	const json_t *ct;
	size_t i;

	json_array_foreach(json_object_get(task, "containers"), i, ct) {
		const json_t *ec = json_object_get(ct, "exitCode");

		if (dep_str(ct, "reason") == NULL && (!json_is_integer(ec) ||
		    json_integer_value(ec) == 0))
			continue;
		c = json_pack("{s:o, s:o, s:o}", "name", str_or_null(ct,
		    "name"), "exitCode", json_is_integer(ec) ?
		    json_incref((json_t *)ec) : json_null(), "reason",
		    dep_text(dep_str(ct, "reason"), DEP_TEXT_CAP));
		json_array_append_new(a, c);
		if (json_array_size(a) >= 5)
			break;
	}
	return a;
}

json_t *
dep_stopped_task(const json_t *task)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "taskId", name_or_null(task, "taskArn"),
	    "taskDefinition", name_or_null(task, "taskDefinitionArn"),
	    "stopCode", str_or_null(task, "stopCode"),
	    "stoppedReason", dep_text(dep_str(task, "stoppedReason"),
	    DEP_TEXT_CAP),
	    "stoppedAt", dep_time(json_object_get(task, "stoppedAt")),
	    "startedBy", str_or_null(task, "startedBy"),
	    "containers", stopped_containers(task));
}

/* ---- verdicts ---- */

const char *
dep_verdict_name(enum dep_verdict v)
{
	switch (v) {
	case DEP_STABLE:
		return "stable";
	case DEP_ROLLING_OUT:
		return "rolling_out";
	case DEP_FAILING:
		return "failing";
	case DEP_INACTIVE:
		return "inactive";
	}
	return "failing";
}

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int
dep_deployment_done(const json_t *svc, const json_t *d, const char **state)
{
	const char *rs = dep_str(d, "rolloutState");

	*state = NULL;
	if (streq(rs, "COMPLETED") || streq(rs, "FAILED")) {
		*state = rs;
		return 1;
	}
	if (rs != NULL)
		return 0;
	if (streq(dep_str(d, "status"), "PRIMARY") &&
	    json_array_size(json_object_get(svc, "deployments")) == 1 &&
	    dep_int(d, "runningCount", -1) == dep_int(d, "desiredCount", -2) &&
	    dep_int(d, "pendingCount", 0) == 0) {
		*state = "COMPLETED";
		return 1;
	}
	return 0;
}

/* The most recent stop reason among the compact stopped tasks, or NULL. */
static const char *
last_stop(const json_t *stopped)
{
	const json_t *t = json_array_get(stopped, 0);
	const char *r = dep_str(t, "stoppedReason");

	return r != NULL ? r : dep_str(t, "stopCode");
}

/* The verdict on a service whose primary deployment p is not done. */
static enum dep_verdict
verdict_rolling(const json_t *p, long nd, const json_t *stopped, char *why,
    size_t whylen)
{
	long run = dep_int(p, "runningCount", 0);
	long want = dep_int(p, "desiredCount", 0);
	long failed = dep_int(p, "failedTasks", 0);
	const char *ls = last_stop(stopped);

	if (failed > 0 && run < want) {
		snprintf(why, whylen, "deployment %s has %ld failed task%s and "
		    "%ld of %ld running%s%s", dep_str(p, "id"), failed,
		    failed == 1 ? "" : "s", run, want, ls ? "; last stop: " :
		    "", ls ? ls : "");
		return DEP_FAILING;
	}
	snprintf(why, whylen, "deployment %s (%s) is %s: %ld of %ld tasks "
	    "running, %ld pending%s", dep_str(p, "id"),
	    dep_arn_name(dep_str(p, "taskDefinition")),
	    dep_str(p, "rolloutState") ? dep_str(p, "rolloutState") :
	    "in progress", run, want, dep_int(p, "pendingCount", 0),
	    nd > 1 ? "; older deployments still draining" : "");
	return DEP_ROLLING_OUT;
}

enum dep_verdict
dep_verdict(const json_t *svc, const json_t *stopped, char *why,
    size_t whylen)
{
	const char *st = dep_str(svc, "status"), *ls, *done;
	const json_t *p = dep_primary(svc);
	long nd = (long)json_array_size(json_object_get(svc, "deployments"));
	long run = dep_int(svc, "runningCount", 0);
	long want = dep_int(svc, "desiredCount", 0);

	if (st != NULL && strcmp(st, "ACTIVE") != 0) {
		snprintf(why, whylen, "the service is %s (deleted or being "
		    "deleted)", st);
		return DEP_INACTIVE;
	}
	if (p == NULL) {
		snprintf(why, whylen, "ECS reports no PRIMARY deployment (%ld "
		    "task%s running of %ld)", run, run == 1 ? "" : "s", want);
		return run < want ? DEP_FAILING : DEP_ROLLING_OUT;
	}
	if (dep_deployment_done(svc, p, &done) && strcmp(done, "FAILED") == 0) {
		snprintf(why, whylen, "deployment %s FAILED: %s", dep_str(p,
		    "id"), dep_str(p, "rolloutStateReason") ? dep_str(p,
		    "rolloutStateReason") : "no reason given");
		return DEP_FAILING;
	}
	if (done == NULL || nd > 1)
		return verdict_rolling(p, nd, stopped, why, whylen);
	if (run < want) {
		ls = last_stop(stopped);
		snprintf(why, whylen, "only %ld of %ld tasks running after "
		    "deployment %s completed%s%s", run, want, dep_str(p, "id"),
		    ls ? "; last stop: " : "", ls ? ls : "");
		return ls != NULL ? DEP_FAILING : DEP_ROLLING_OUT;
	}
	snprintf(why, whylen, "deployment %s COMPLETED: %ld of %ld tasks "
	    "running %s", dep_str(p, "id"), run, want,
	    dep_arn_name(dep_str(p, "taskDefinition")));
	return DEP_STABLE;
}
