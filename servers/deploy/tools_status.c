/*
 * tools_status: the read tools getServiceStatus and listServices.
 *
 * getServiceStatus: DescribeServices, then ListTasks (desiredStatus
 * STOPPED, the service's name) and DescribeTasks for the stopped tasks
 * ECS still remembers (about an hour).  A failure of the stopped-task
 * part does not fail the call: the status comes back with a note.
 *
 * listServices: ListServices pages (nextToken) up to maxItems, then
 * DescribeServices in batches of 10 for each service's counts and
 * verdict.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/tools.h"

/* ---- getServiceStatus ---- */

static void status_listed(struct dop *, const struct aws_result *);
static void status_tasks(struct dop *, const struct aws_result *);

/* The latest events, newest first (as ECS keeps them), at most max. */
static json_t *
events(struct dop *op, long max)
{
	const json_t *all = json_object_get(op->svc, "events"), *e;
	json_t *a = json_array();
	size_t i;

	json_array_foreach(all, i, e) {
		if ((long)i >= max) {
			dop_note(op, "%zu older events not shown (raise "
			    "maxEvents, up to %d)", json_array_size(all) - i,
			    DEP_EVENTS_MAX);
			break;
		}
		json_array_append_new(a, json_pack("{s:o, s:o}", "at",
		    dep_time(json_object_get(e, "createdAt")), "message",
		    dep_text(dep_str(e, "message"), DEP_TEXT_CAP)));
	}
	return a;
}

static void
status_finish(struct dop *op)
{
	const json_t *svc = op->svc, *d;
	json_t *deps = json_array(), *stopped, *out;
	enum dep_verdict v;
	char why[1024], summary[1100];
	long failed = 0;
	size_t i;

	json_array_foreach(json_object_get(svc, "deployments"), i, d) {
		json_array_append_new(deps, dep_deployment(d));
		failed += dep_int(d, "failedTasks", 0);
	}
	stopped = op->acc != NULL ? json_incref(op->acc) : json_array();
	v = dep_verdict(svc, stopped, why, sizeof(why));
	snprintf(summary, sizeof(summary), "%s: %s", dep_verdict_name(v), why);
	out = json_pack("{s:s?, s:s?, s:s?, s:I, s:I, s:I, s:s?, s:s, s:s, "
	    "s:s, s:I, s:o, s:o, s:o}",
	    "cluster", dep_arn_name(dep_str(svc, "clusterArn")),
	    "service", dep_str(svc, "serviceName"),
	    "status", dep_str(svc, "status"),
	    "desiredCount", (json_int_t)dep_int(svc, "desiredCount", 0),
	    "runningCount", (json_int_t)dep_int(svc, "runningCount", 0),
	    "pendingCount", (json_int_t)dep_int(svc, "pendingCount", 0),
	    "taskDefinition", dep_arn_name(dep_str(svc, "taskDefinition")),
	    "verdict", dep_verdict_name(v),
	    "why", why,
	    "summary", summary,
	    "failedTasks", (json_int_t)failed,
	    "deployments", deps,
	    "events", events(op, op->max),
	    "stoppedTasks", stopped);
	if (out == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	dop_return(op, out);
}

static void
status_described(struct dop *op, const struct aws_result *res)
{
	(void)res;
	dop_send(op, "ListTasks", json_pack("{s:s, s:s, s:s, s:i}", "cluster",
	    op->cluster, "serviceName", dep_str(op->svc, "serviceName") ?
	    dep_str(op->svc, "serviceName") : dep_arn_name(op->service),
	    "desiredStatus", "STOPPED", "maxResults", DEP_STOPPED_LIST),
	    status_listed);
}

static void
status_listed(struct dop *op, const struct aws_result *res)
{
	const json_t *arns;

	if (res->err != AWS_OK) {
		dop_note(op, "stopped tasks not shown: %s", res->message);
		status_finish(op);
		return;
	}
	arns = json_object_get(res->body, "taskArns");
	if (json_array_size(arns) == 0) {
		status_finish(op);
		return;
	}
	dop_send(op, "DescribeTasks", json_pack("{s:s, s:O}", "cluster",
	    op->cluster, "tasks", arns), status_tasks);
}

/* qsort: newest stoppedAt first; tasks without one last. */
static int
by_stopped_desc(const void *a, const void *b)
{
	const json_t *x = json_object_get(*(json_t *const *)a, "stoppedAt");
	const json_t *y = json_object_get(*(json_t *const *)b, "stoppedAt");
	double dx = json_is_number(x) ? json_number_value(x) : -1;
	double dy = json_is_number(y) ? json_number_value(y) : -1;

	return dx < dy ? 1 : dx > dy ? -1 : 0;
}

static void
status_tasks(struct dop *op, const struct aws_result *res)
{
	const json_t *tasks;
	json_t *v[DEP_STOPPED_LIST];
	size_t i, n = 0;

	if (res->err != AWS_OK) {
		dop_note(op, "stopped tasks not shown: %s", res->message);
		status_finish(op);
		return;
	}
	tasks = json_object_get(res->body, "tasks");
	for (i = 0; i < json_array_size(tasks) && n < DEP_STOPPED_LIST; i++)
		v[n++] = json_array_get(tasks, i);
	qsort(v, n, sizeof(v[0]), by_stopped_desc);
	if ((op->acc = json_array()) == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	for (i = 0; i < n && (long)i < op->n; i++)
		json_array_append_new(op->acc, dep_stopped_task(v[i]));
	if ((long)n > op->n)
		dop_note(op, "%ld more stopped tasks not shown (raise "
		    "maxStoppedTasks, up to %d)", (long)n - op->n,
		    DEP_STOPPED_MAX);
	status_finish(op);
}

void
tool_get_service_status(struct mcp_call *call, const json_t *args,
    void *udata)
{
	struct dop *op;

	if ((op = dop_new(call, args, udata)) == NULL)
		return;
	op->max = dep_int(args, "maxEvents", DEP_EVENTS_DEFAULT);
	op->n = dep_int(args, "maxStoppedTasks", DEP_STOPPED_DEFAULT);
	dep_describe(op, status_described);
}

/* ---- listServices ---- */

static void list_page(struct dop *, const struct aws_result *);
static void list_described(struct dop *, const struct aws_result *);

static void
list_end(struct dop *op)
{
	int more = op->pages < 0;

	if (more)
		dop_note(op, "the cluster has more services: raise maxItems "
		    "(up to %d)", DEP_LIST_MAX);
	dop_return(op, json_pack("{s:s, s:O, s:I, s:b}", "cluster",
	    op->cluster, "services", op->out, "count",
	    (json_int_t)json_array_size(op->out), "hasMore", more));
}

/* Describe the next batch of up to 10 listed ARNs, or end. */
static void
list_describe_next(struct dop *op)
{
	json_t *batch;
	size_t n = json_array_size(op->acc);

	if (op->i >= n) {
		list_end(op);
		return;
	}
	if ((batch = json_array()) == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	while (op->i < n && json_array_size(batch) < DEP_DESCRIBE_BATCH)
		json_array_append(batch, json_array_get(op->acc, op->i++));
	dop_send(op, "DescribeServices", json_pack("{s:s, s:o}", "cluster",
	    op->cluster, "services", batch), list_described);
}

static void
list_described(struct dop *op, const struct aws_result *res)
{
	const json_t *s;
	size_t i;

	if (res->err != AWS_OK) {
		dop_aws_error(op, res, NULL);
		return;
	}
	json_array_foreach(json_object_get(res->body, "services"), i, s)
		json_array_append_new(op->out, dep_service_brief(s));
	list_describe_next(op);
}

static void
list_page(struct dop *op, const struct aws_result *res)
{
	const json_t *arns, *a;
	const char *next;
	size_t i;

	if (res->err != AWS_OK) {
		dop_aws_error(op, res, NULL);
		return;
	}
	arns = json_object_get(res->body, "serviceArns");
	next = dep_str(res->body, "nextToken");
	op->pages++;
	json_array_foreach(arns, i, a) {
		if ((long)json_array_size(op->acc) >= op->max) {
			op->pages = -1;	/* more exist */
			list_describe_next(op);
			return;
		}
		if (json_is_string(a))
			json_array_append(op->acc, (json_t *)a);
	}
	if (next == NULL || *next == '\0') {
		list_describe_next(op);
		return;
	}
	if ((long)json_array_size(op->acc) >= op->max ||
	    op->pages >= DEP_LIST_PAGES) {
		op->pages = -1;
		list_describe_next(op);
		return;
	}
	dop_send(op, "ListServices", json_pack("{s:s, s:s, s:i}", "cluster",
	    op->cluster, "nextToken", next, "maxResults", 100), list_page);
}

void
tool_list_services(struct mcp_call *call, const json_t *args, void *udata)
{
	struct dop *op;

	if ((op = dop_new(call, args, udata)) == NULL)
		return;
	op->max = dep_int(args, "maxItems", DEP_LIST_DEFAULT);
	if ((op->acc = json_array()) == NULL ||
	    (op->out = json_array()) == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	dop_send(op, "ListServices", json_pack("{s:s, s:i}", "cluster",
	    op->cluster, "maxResults", 100), list_page);
}
