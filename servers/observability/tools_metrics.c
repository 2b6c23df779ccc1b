/*
 * tools_metrics: getServiceHealth (ECS DescribeServices + CloudWatch
 * GetMetricData) and getAlarmStatus (DescribeAlarms).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "observability/timeparse.h"
#include "observability/tools.h"

#define METRIC_MAX_PAGES	10	/* GetMetricData pages per call */
#define MAX_DATAPOINTS		1440	/* window / period */
#define MAX_WINDOW_MS		(14LL * 86400 * 1000)

/* The four series asked for, by query id. */
static const struct series {
	const char	*id;
	const char	*metric;
	const char	*stat;
} series[] = {
	{ "cpu_avg", "CPUUtilization", "Average" },
	{ "cpu_max", "CPUUtilization", "Maximum" },
	{ "mem_avg", "MemoryUtilization", "Average" },
	{ "mem_max", "MemoryUtilization", "Maximum" },
};
#define NSERIES	(sizeof(series) / sizeof(series[0]))

/* What the window says about one metric. */
struct util {
	double	 avg_sum;	/* sum of the Average datapoints */
	long	 avg_n;
	double	 latest;	/* Average at latest_t */
	double	 latest_t;
	double	 max;		/* largest Maximum datapoint */
	long	 max_n;
};

/* ---- getServiceHealth ---- */

static void	health_metrics(struct obs_op *, const struct aws_result *);

static void
metrics_send(struct obs_op *op, const char *token)
{
	const char *cluster = obs_str(op->args, "cluster");
	const char *service = obs_str(op->args, "service");
	json_t *q = json_array(), *p;
	size_t i;

	for (i = 0; i < NSERIES && q != NULL; i++)
		json_array_append_new(q, json_pack("{s:s, s:{s:{s:s, s:s, "
		    "s:[{s:s, s:s}, {s:s, s:s}]}, s:I, s:s}, s:b}",
		    "Id", series[i].id, "MetricStat", "Metric", "Namespace",
		    "AWS/ECS", "MetricName", series[i].metric, "Dimensions",
		    "Name", "ClusterName", "Value", cluster, "Name",
		    "ServiceName", "Value", service, "Period",
		    (json_int_t)op->n, "Stat", series[i].stat, "ReturnData",
		    1));
	p = json_pack("{s:o, s:I, s:I, s:s, s:i}", "MetricDataQueries", q,
	    "StartTime", (json_int_t)(op->start_ms / 1000), "EndTime",
	    (json_int_t)(op->end_ms / 1000), "ScanBy", "TimestampDescending",
	    "MaxDatapoints", MAX_DATAPOINTS * (int)NSERIES);
	if (p == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	if (token != NULL)
		json_object_set_new(p, "NextToken", json_string(token));
	op->pages++;
	obs_send(op, AWS_SVC_MONITORING, "GetMetricData", p, health_metrics);
}

/* Fold one GetMetricData result into u (cpu 0, memory 1); results of
   other ids are ignored. */
static void
fold(struct util *u, const json_t *r)
{
	const char *id = obs_str(r, "Id");
	const json_t *vals = json_object_get(r, "Values");
	const json_t *ts = json_object_get(r, "Timestamps");
	struct util *x;
	double v, t;
	size_t i, k;

	for (k = 0; k < NSERIES; k++)
		if (id != NULL && strcmp(id, series[k].id) == 0)
			break;
	if (k == NSERIES)
		return;
	x = &u[k >= 2];
	for (i = 0; i < json_array_size(vals); i++) {
		v = json_number_value(json_array_get(vals, i));
		if (!isfinite(v))
			continue;
		if (k % 2 == 1) {
			if (x->max_n++ == 0 || v > x->max)
				x->max = v;
			continue;
		}
		t = json_number_value(json_array_get(ts, i));
		x->avg_sum += v;
		if (x->avg_n++ == 0 || t > x->latest_t) {
			x->latest = v;
			x->latest_t = t;
		}
	}
}

static double
round1(double v)
{
	return round(v * 10.0) / 10.0;
}

static json_t *
util_json(const struct util *u)
{
	if (u->avg_n == 0 && u->max_n == 0)
		return json_null();
	return json_pack("{s:f, s:o, s:f, s:I}", "average",
	    round1(u->avg_n ? u->avg_sum / (double)u->avg_n : 0.0), "maximum",
	    u->max_n ? json_real(round1(u->max)) : json_null(), "latest",
	    round1(u->latest), "datapoints", (json_int_t)u->avg_n);
}

/*
 * Judge one metric: 2 unhealthy, 1 degraded, 0 fine; the reason goes to
 * reasons either way.
 */
static int
judge_util(const char *name, const struct util *u, json_t *reasons)
{
	double avg = u->avg_n ? u->avg_sum / (double)u->avg_n : 0.0;
	char buf[256];
	int level = 0;

	if (u->avg_n == 0 && u->max_n == 0) {
		snprintf(buf, sizeof(buf), "no %s datapoints in the window",
		    name);
		json_array_append_new(reasons, json_string(buf));
		return 0;
	}
	if (avg >= OBS_UTIL_UNHEALTHY_AVG)
		level = 2;
	else if (avg >= OBS_UTIL_DEGRADED_AVG || (u->max_n &&
	    u->max >= OBS_UTIL_DEGRADED_MAX))
		level = 1;
	snprintf(buf, sizeof(buf), "%s average %.1f%%, maximum %.1f%%%s", name,
	    avg, u->max_n ? u->max : avg, level == 2 ? " (unhealthy: average "
	    ">= 95%)" : level == 1 ? " (degraded: average >= 80% or maximum "
	    ">= 90%)" : "");
	json_array_append_new(reasons, json_string(buf));
	return level;
}

/* Judge the counts; same levels as judge_util(). */
static int
judge_counts(const json_t *svc, json_t *reasons)
{
	const char *status = obs_str(svc, "status");
	long long desired = obs_int(svc, "desiredCount", 0);
	long long running = obs_int(svc, "runningCount", 0);
	const json_t *d, *deps = json_object_get(svc, "deployments");
	const char *rs;
	char buf[512];
	int level = 0;
	size_t i;

	if (status == NULL || strcmp(status, "ACTIVE") != 0) {
		snprintf(buf, sizeof(buf), "service status is %.64s, not ACTIVE",
		    status ? status : "missing");
		json_array_append_new(reasons, json_string(buf));
		level = 2;
	}
	snprintf(buf, sizeof(buf), "%lld of %lld desired tasks running%s",
	    running, desired, desired > 0 && running == 0 ? " (unhealthy)" :
	    running < desired ? " (degraded)" : "");
	json_array_append_new(reasons, json_string(buf));
	if (desired > 0 && running == 0)
		level = 2;
	else if (running < desired && level < 1)
		level = 1;
	json_array_foreach(deps, i, d) {
		rs = obs_str(d, "rolloutState");
		if (obs_str(d, "status") == NULL || strcmp(obs_str(d, "status"),
		    "PRIMARY") != 0 || rs == NULL || strcmp(rs, "FAILED") != 0)
			continue;
		snprintf(buf, sizeof(buf), "the primary deployment failed: "
		    "%.300s", obs_str(d, "rolloutStateReason") ?
		    obs_str(d, "rolloutStateReason") : "no reason given");
		json_array_append_new(reasons, json_string(buf));
		level = 2;
	}
	return level;
}

static const char *
primary_rollout(const json_t *svc)
{
	const json_t *d, *deps = json_object_get(svc, "deployments");
	const char *st;
	size_t i;

	json_array_foreach(deps, i, d)
		if ((st = obs_str(d, "status")) != NULL &&
		    strcmp(st, "PRIMARY") == 0)
			return obs_str(d, "rolloutState");
	return NULL;
}

/* "family:revision" of a task definition ARN, borrowed from it. */
static const char *
td_short(const char *arn)
{
	const char *s;

	if (arn == NULL)
		return NULL;
	return (s = strrchr(arn, '/')) != NULL ? s + 1 : arn;
}

static void
health_finish(struct obs_op *op, struct util *u)
{
	static const char *verdicts[] = { "healthy", "degraded", "unhealthy" };
	const json_t *svc = op->out;
	json_t *reasons = json_array(), *out;
	int level, l;
	const char *ro = primary_rollout(svc);

	if (reasons == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	level = judge_counts(svc, reasons);
	if ((l = judge_util("CPUUtilization", &u[0], reasons)) > level)
		level = l;
	if ((l = judge_util("MemoryUtilization", &u[1], reasons)) > level)
		level = l;
	out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:I, "
	    "s:{s:o, s:o, s:I}, s:o, s:o, s:o}",
	    "cluster", obs_str(op->args, "cluster"),
	    "service", obs_str(op->args, "service"),
	    "verdict", verdicts[level],
	    "status", obs_str(svc, "status") ? obs_str(svc, "status") : "",
	    "desiredCount", (json_int_t)obs_int(svc, "desiredCount", 0),
	    "runningCount", (json_int_t)obs_int(svc, "runningCount", 0),
	    "pendingCount", (json_int_t)obs_int(svc, "pendingCount", 0),
	    "taskDefinition", td_short(obs_str(svc, "taskDefinition")) ?
	    json_string(td_short(obs_str(svc, "taskDefinition"))) :
	    json_null(),
	    "rolloutState", ro ? json_string(ro) : json_null(),
	    "deployments", (json_int_t)json_array_size(json_object_get(svc,
	    "deployments")),
	    "window", "startTime", obs_iso(op->start_ms), "endTime",
	    obs_iso(op->end_ms), "periodSeconds", (json_int_t)op->n,
	    "cpu", util_json(&u[0]), "memory", util_json(&u[1]),
	    "reasons", reasons);
	if (out == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	obs_return(op, out);
}

/* op->acc collects the results of every page; they are folded at the
   end, since one series may continue on a later page. */
static void
health_metrics(struct obs_op *op, const struct aws_result *res)
{
	const json_t *rs = json_object_get(res->body, "MetricDataResults");
	const json_t *r;
	const char *token = obs_str(res->body, "NextToken");
	struct util u[2];
	size_t i;

	json_array_foreach(rs, i, r)
		json_array_append(op->acc, (json_t *)r);
	if (token != NULL && *token != '\0') {
		if (op->pages < METRIC_MAX_PAGES) {
			metrics_send(op, token);
			return;
		}
		obs_note(op, "metrics cut after %d GetMetricData pages",
		    METRIC_MAX_PAGES);
	}
	memset(u, 0, sizeof(u));
	json_array_foreach(op->acc, i, r)
		fold(u, r);
	health_finish(op, u);
}

static void
health_service(struct obs_op *op, const struct aws_result *res)
{
	const json_t *svc = json_array_get(json_object_get(res->body,
	    "services"), 0);
	const json_t *f = json_array_get(json_object_get(res->body,
	    "failures"), 0);

	if (svc == NULL) {
		obs_error(op, "ECS: service '%s' not found in cluster '%s' "
		    "(%.64s); listServices shows the services there",
		    obs_str(op->args, "service"), obs_str(op->args, "cluster"),
		    obs_str(f, "reason") ? obs_str(f, "reason") : "MISSING");
		return;
	}
	op->out = json_incref((json_t *)svc);
	if ((op->acc = json_array()) == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	metrics_send(op, NULL);
}

/* The window argument (default one hour) into op->start/end.  0 or -1. */
static int
health_window(struct obs_op *op)
{
	const char *w = obs_str(op->args, "window");
	int64_t win = OBS_DEFAULT_WINDOW_MS;
	char err[256];

	op->n = (long)obs_int(op->args, "period", 300);
	if (op->n % 60 != 0) {
		obs_error(op, "period: %ld is not a multiple of 60 seconds",
		    op->n);
		return -1;
	}
	if (w != NULL && obs_duration_parse(w, &win, err, sizeof(err)) == -1) {
		obs_error(op, "window: %s", err);
		return -1;
	}
	if (win < op->n * 1000LL || win > MAX_WINDOW_MS ||
	    win / (op->n * 1000LL) > MAX_DATAPOINTS) {
		obs_error(op, "window: '%s' must be from one period (%lds) to "
		    "14 days, and at most %d periods", w ? w : "1h", op->n,
		    MAX_DATAPOINTS);
		return -1;
	}
	op->end_ms = obs_now_ms();
	op->start_ms = op->end_ms - win;
	return 0;
}

void
tool_get_service_health(struct mcp_call *call, const json_t *args,
    void *udata)
{
	struct obs_op *op;

	if ((op = obs_op_new(call, args, udata)) == NULL)
		return;
	if (health_window(op) == -1)
		return;
	obs_send(op, AWS_SVC_ECS, "DescribeServices", json_pack("{s:s, s:[s]}",
	    "cluster", obs_str(args, "cluster"), "services", obs_str(args,
	    "service")), health_service);
}

/* ---- getAlarmStatus ---- */

static void	alarms_page(struct obs_op *, const struct aws_result *);

static const char *const states[] = { "ALARM", "INSUFFICIENT_DATA", "OK" };
#define NSTATES	(sizeof(states) / sizeof(states[0]))

static void
alarms_send(struct obs_op *op, const char *token)
{
	const json_t *names = json_object_get(op->args, "alarmNames");
	const char *prefix = obs_str(op->args, "alarmNamePrefix");
	const char *state = obs_str(op->args, "stateValue");
	json_t *p;

	p = json_pack("{s:[s, s], s:i}", "AlarmTypes", "MetricAlarm",
	    "CompositeAlarm", "MaxRecords", 100);
	if (p == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	if (names != NULL)
		json_object_set(p, "AlarmNames", (json_t *)names);
	if (prefix != NULL)
		json_object_set_new(p, "AlarmNamePrefix", json_string(prefix));
	if (state != NULL)
		json_object_set_new(p, "StateValue", json_string(state));
	if (token != NULL)
		json_object_set_new(p, "NextToken", json_string(token));
	op->pages++;
	obs_send(op, AWS_SVC_MONITORING, "DescribeAlarms", p, alarms_page);
}

/* A CloudWatch timestamp (epoch seconds, or an ISO string) as ISO. */
static json_t *
cw_time(const json_t *v)
{
	char err[128];
	int64_t ms;

	if (json_is_number(v))
		return obs_iso((int64_t)llround(json_number_value(v) * 1000.0));
	if (json_is_string(v) && obs_time_parse(json_string_value(v), 0, &ms,
	    err, sizeof(err)) == 0)
		return obs_iso(ms);
	return json_null();
}

static json_t *
dims(const json_t *a)
{
	const json_t *d;
	json_t *o = json_object();
	size_t i;

	json_array_foreach(a, i, d)
		if (obs_str(d, "Name") != NULL && obs_str(d, "Value") != NULL)
			json_object_set_new(o, obs_str(d, "Name"),
			    json_string(obs_str(d, "Value")));
	return o;
}

static json_t *
alarm_compact(struct obs_op *op, const json_t *a, int composite)
{
	json_t *o;
	const char *metric = obs_str(a, "MetricName");

	o = json_pack("{s:o, s:s, s:o, s:o, s:o}",
	    "name", obs_text(op, obs_str(a, "AlarmName"), 512, "alarm names"),
	    "type", composite ? "composite" : "metric",
	    "state", json_string(obs_str(a, "StateValue") ?
	    obs_str(a, "StateValue") : "UNKNOWN"),
	    "reason", obs_text(op, obs_str(a, "StateReason"), OBS_REASON_CAP,
	    "state reasons"),
	    "updatedAt", cw_time(json_object_get(a, "StateUpdatedTimestamp")));
	if (o == NULL)
		return NULL;
	if (composite) {
		json_object_set_new(o, "rule", obs_text(op, obs_str(a,
		    "AlarmRule"), OBS_REASON_CAP, "alarm rules"));
		return o;
	}
	if (metric != NULL)
		json_object_set_new(o, "metric", json_pack("{s:s?, s:s, s:o, "
		    "s:s?, s:I}", "namespace", obs_str(a, "Namespace"), "name",
		    metric, "dimensions", dims(json_object_get(a,
		    "Dimensions")), "statistic", obs_str(a, "Statistic") ?
		    obs_str(a, "Statistic") : obs_str(a, "ExtendedStatistic"),
		    "period", (json_int_t)obs_int(a, "Period", 0)));
	else
		json_object_set_new(o, "metric", json_pack("{s:s, s:I}",
		    "name", "metric math", "queries", (json_int_t)
		    json_array_size(json_object_get(a, "Metrics"))));
	json_object_set_new(o, "condition", json_pack("{s:s?, s:f, s:I}",
	    "comparison", obs_str(a, "ComparisonOperator"), "threshold",
	    json_number_value(json_object_get(a, "Threshold")),
	    "evaluationPeriods", (json_int_t)obs_int(a, "EvaluationPeriods",
	    0)));
	return o;
}

/* Does the alarm fit the filters (also applied here, so that an
   emulator ignoring one cannot widen the answer)? */
static int
alarm_fits(struct obs_op *op, const json_t *a)
{
	const char *prefix = obs_str(op->args, "alarmNamePrefix");
	const char *state = obs_str(op->args, "stateValue");
	const char *name = obs_str(a, "AlarmName");
	const json_t *names = json_object_get(op->args, "alarmNames"), *n;
	size_t i;

	if (name == NULL)
		return 0;
	if (prefix != NULL && strncmp(name, prefix, strlen(prefix)) != 0)
		return 0;
	if (state != NULL && (obs_str(a, "StateValue") == NULL ||
	    strcmp(obs_str(a, "StateValue"), state) != 0))
		return 0;
	if (names == NULL)
		return 1;
	json_array_foreach(names, i, n)
		if (strcmp(json_string_value(n), name) == 0)
			return 1;
	return 0;
}

/* Keep the alarms of one list; -1 on ENOMEM. */
static int
alarms_keep(struct obs_op *op, const json_t *list, int composite)
{
	const json_t *a;
	json_t *c;
	size_t i;

	json_array_foreach(list, i, a) {
		if (!alarm_fits(op, a))
			continue;
		if (op->n >= OBS_ALARMS_MAX) {
			op->polls = 1;	/* more than kept */
			return 0;
		}
		if ((c = alarm_compact(op, a, composite)) == NULL)
			return -1;
		json_array_append_new(op->acc, c);
		op->n++;
	}
	return 0;
}

static void
alarms_finish(struct obs_op *op, int more)
{
	json_t *out, *sorted = json_array(), *summary = json_object(), *a;
	const char *st;
	size_t i, s;
	long long n;

	if (sorted == NULL || summary == NULL) {
		json_decref(sorted);
		json_decref(summary);
		obs_error(op, "out of memory");
		return;
	}
	for (s = 0; s < NSTATES; s++) {
		n = 0;
		json_array_foreach(op->acc, i, a)
			if (strcmp(obs_str(a, "state"), states[s]) == 0) {
				json_array_append(sorted, a);
				n++;
			}
		json_object_set_new(summary, states[s], json_integer(n));
	}
	json_array_foreach(op->acc, i, a) {
		st = obs_str(a, "state");
		if (strcmp(st, "ALARM") && strcmp(st, "OK") &&
		    strcmp(st, "INSUFFICIENT_DATA"))
			json_array_append(sorted, a);
	}
	out = json_pack("{s:o, s:I, s:o, s:b}", "alarms", sorted, "count",
	    (json_int_t)json_array_size(sorted), "summary", summary,
	    "hasMore", more);
	if (out == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	obs_return(op, out);
}

static void
alarms_page(struct obs_op *op, const struct aws_result *res)
{
	const char *token = obs_str(res->body, "NextToken");

	if (alarms_keep(op, json_object_get(res->body, "MetricAlarms"), 0) ||
	    alarms_keep(op, json_object_get(res->body, "CompositeAlarms"),
	    1)) {
		obs_error(op, "out of memory");
		return;
	}
	if (token != NULL && *token == '\0')
		token = NULL;
	if (op->polls) {
		obs_note(op, "only the first %d alarms are shown; narrow with "
		    "alarmNamePrefix or stateValue", OBS_ALARMS_MAX);
		alarms_finish(op, 1);
		return;
	}
	if (token != NULL && op->pages >= OBS_ALARM_MAX_PAGES) {
		obs_note(op, "stopped after %d DescribeAlarms pages; narrow "
		    "with alarmNamePrefix or stateValue", OBS_ALARM_MAX_PAGES);
		alarms_finish(op, 1);
		return;
	}
	if (token != NULL) {
		alarms_send(op, token);
		return;
	}
	alarms_finish(op, 0);
}

void
tool_get_alarm_status(struct mcp_call *call, const json_t *args, void *udata)
{
	struct obs_op *op;

	if ((op = obs_op_new(call, args, udata)) == NULL)
		return;
	if (json_object_get(args, "alarmNames") != NULL &&
	    json_object_get(args, "alarmNamePrefix") != NULL) {
		obs_error(op, "give alarmNames or alarmNamePrefix, not both");
		return;
	}
	if ((op->acc = json_array()) == NULL) {
		obs_error(op, "out of memory");
		return;
	}
	alarms_send(op, NULL);
}
