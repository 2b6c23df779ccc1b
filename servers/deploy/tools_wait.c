/*
 * tools_wait: waitForDeployment.
 *
 * One DescribeServices per poll: at once, then every poll interval
 * (pollIntervalSeconds, else the server's default: 15 s, or
 * AFU9_DEPLOY_POLL_MS) until the tracked deployment is done
 * (dep_deployment_done(): COMPLETED or FAILED), is no longer listed
 * (superseded by a newer deployment), or timeoutSeconds pass.  The
 * tracked deployment is deploymentId, else the PRIMARY one at the first
 * poll.  Each poll sends notifications/progress (progress = polls made,
 * total unknown) with a one-line state.  At the deadline a poll in flight
 * is cancelled and the last state seen is returned with outcome
 * "timeout".  Cancelling the call stops both timers and the request in
 * flight (the dop's cancel hook).
 *
 * Outcomes are results, not tool errors: completed, failed, timeout,
 * superseded.  Failing to ask ECS (after awsclient's retries) and a
 * deploymentId the service does not list are isError.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/tools.h"

static void wait_polled(struct dop *, const struct aws_result *);

/* The deployment of op->svc with this id (borrowed), or NULL. */
static const json_t *
find_deployment(const json_t *svc, const char *id)
{
	const json_t *d;
	size_t i;

	json_array_foreach(json_object_get(svc, "deployments"), i, d)
		if (dep_str(d, "id") != NULL && strcmp(dep_str(d, "id"), id) ==
		    0)
			return d;
	return NULL;
}

/* "ecs-svc/1 (PRIMARY), ecs-svc/2 (ACTIVE)" into buf. */
static void
list_ids(const json_t *svc, char *buf, size_t len)
{
	const json_t *d;
	size_t i, o = 0;
	int n;

	buf[0] = '\0';
	json_array_foreach(json_object_get(svc, "deployments"), i, d) {
		n = snprintf(buf + o, len - o, "%s%s (%s)", i ? ", " : "",
		    dep_str(d, "id") ? dep_str(d, "id") : "?",
		    dep_str(d, "status") ? dep_str(d, "status") : "?");
		if (n < 0 || (size_t)n >= len - o)
			return;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(buf, len, "none");
}

/* A one-line state of deployment d. */
static void
state_line(const json_t *d, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s: %ld of %ld tasks running, %ld pending, "
	    "%ld failed", dep_str(d, "id"), dep_str(d, "rolloutState") ?
	    dep_str(d, "rolloutState") : dep_str(d, "status") ? dep_str(d,
	    "status") : "?", dep_int(d, "runningCount", 0),
	    dep_int(d, "desiredCount", 0), dep_int(d, "pendingCount", 0),
	    dep_int(d, "failedTasks", 0));
}

/* End with `outcome`; d is the tracked deployment as last seen (or
   NULL). */
static void
wait_end(struct dop *op, const char *outcome, const json_t *d,
    const char *summary)
{
	const json_t *p = dep_primary(op->svc);
	json_t *out;

	out = json_pack("{s:s, s:s, s:s?, s:s, s:o, s:o, s:I, s:I, s:s}",
	    "cluster", op->cluster, "service", op->service,
	    "deploymentId", op->s[0], "outcome", outcome,
	    "deployment", d != NULL ? dep_deployment(d) : json_null(),
	    "primary", p != NULL ? dep_deployment(p) : json_null(),
	    "polls", (json_int_t)op->n,
	    "elapsedSeconds", (json_int_t)(ev_now(op->ctx->loop) -
	    op->started + 0.5),
	    "summary", summary);
	if (out == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	dop_return(op, out);
}

static void
poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dop *op = w->data;

	(void)loop;
	(void)revents;
	dep_describe(op, wait_polled);
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dop *op = w->data;
	const json_t *d = NULL;
	char line[512], summary[700];

	(void)loop;
	(void)revents;
	if (op->req != NULL) {
		aws_call_cancel(op->req);
		op->req = NULL;
	}
	if (op->s[0] != NULL && op->svc != NULL)
		d = find_deployment(op->svc, op->s[0]);
	if (d != NULL)
		state_line(d, line, sizeof(line));
	else
		snprintf(line, sizeof(line), "no state seen yet");
	snprintf(summary, sizeof(summary), "timed out after %ld s and %ld "
	    "poll%s: %s", dep_int(op->args, "timeoutSeconds",
	    DEP_WAIT_DEFAULT_S), op->n, op->n == 1 ? "" : "s", line);
	dop_note(op, "the deployment goes on: call waitForDeployment again "
	    "or getServiceStatus to see why it is slow");
	wait_end(op, "timeout", d, summary);
}

/* First poll: settle which deployment is tracked.  0, or -1 (ended). */
static int
wait_track(struct dop *op)
{
	const char *want = dep_str(op->args, "deploymentId");
	const json_t *p = dep_primary(op->svc);
	char ids[512];

	if (want != NULL) {
		if (find_deployment(op->svc, want) != NULL)
			return (op->s[0] = strdup(want)) != NULL ? 0 : -1;
		list_ids(op->svc, ids, sizeof(ids));
		dop_error(op, "deployment '%s' is not one of service '%s''s "
		    "deployments (%s): it may have finished and been dropped "
		    "already; check with getServiceStatus", want, op->service,
		    ids);
		return -1;
	}
	if (p == NULL || dep_str(p, "id") == NULL) {
		dop_error(op, "service '%s' has no PRIMARY deployment to wait "
		    "for", op->service);
		return -1;
	}
	if ((op->s[0] = strdup(dep_str(p, "id"))) == NULL) {
		dop_error(op, "out of memory");
		return -1;
	}
	return 0;
}

static void
wait_polled(struct dop *op, const struct aws_result *res)
{
	const json_t *d;
	const char *state;
	char line[512], summary[700];

	(void)res;
	op->n++;
	if (op->s[0] == NULL && wait_track(op) == -1)
		return;
	if ((d = find_deployment(op->svc, op->s[0])) == NULL) {
		snprintf(summary, sizeof(summary), "deployment %s is no longer "
		    "listed: a newer deployment replaced it (now PRIMARY: %s)",
		    op->s[0], dep_str(dep_primary(op->svc), "id") ?
		    dep_str(dep_primary(op->svc), "id") : "none");
		wait_end(op, "superseded", NULL, summary);
		return;
	}
	state_line(d, line, sizeof(line));
	mcp_call_progress(op->call, (double)op->n, -1, line);
	if (dep_deployment_done(op->svc, d, &state)) {
		snprintf(summary, sizeof(summary), "%s%s%s", line,
		    dep_str(d, "rolloutStateReason") ? "; " : "",
		    dep_str(d, "rolloutStateReason") ? dep_str(d,
		    "rolloutStateReason") : "");
		wait_end(op, strcmp(state, "FAILED") == 0 ? "failed" :
		    "completed", d, summary);
		return;
	}
	ev_timer_set(&op->poll, (double)op->poll_ms / 1000.0, 0.);
	ev_timer_start(op->ctx->loop, &op->poll);
}

void
tool_wait_for_deployment(struct mcp_call *call, const json_t *args,
    void *udata)
{
	struct dop *op;
	long timeout;

	if ((op = dop_new(call, args, udata)) == NULL)
		return;
	timeout = dep_int(args, "timeoutSeconds", DEP_WAIT_DEFAULT_S);
	op->poll_ms = json_object_get(args, "pollIntervalSeconds") != NULL ?
	    dep_int(args, "pollIntervalSeconds", 15) * 1000 :
	    op->ctx->poll_ms;
	op->started = ev_now(op->ctx->loop);
	ev_timer_init(&op->poll, poll_cb, 0., 0.);
	ev_timer_init(&op->deadline, deadline_cb, (double)timeout, 0.);
	op->poll.data = op;
	op->deadline.data = op;
	op->timers = 1;
	ev_timer_start(op->ctx->loop, &op->deadline);
	dep_describe(op, wait_polled);
}
