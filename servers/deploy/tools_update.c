/*
 * tools_update: the write tools updateService and rollbackService.  Both
 * are refused unless writes are enabled (dop_refuse_write()), and both
 * describe the service first: the answer names what the service ran
 * before, and a missing service is reported before anything is sent.
 *
 * rollbackService goes back to the task definition of the newest
 * deployment ECS still lists as COMPLETED other than the PRIMARY one:
 * during a rollout, or after a rollout FAILED, that is the version that
 * last ran to completion.  Once a rollout has COMPLETED, ECS drops the
 * older deployments and keeps no record of what ran before; rather than
 * guess (the previous revision of the task definition family may never
 * have run, or may be the one that was bad), the tool then changes
 * nothing and answers isError naming the previous registered revision as
 * a candidate for updateService.  A rollback already under way (the
 * PRIMARY already runs the target task definition) is reported with
 * changed:false, so repeating the call is safe.
 *
 * updateService recognises "already done" before it sends anything: when
 * taskDefinition is given and the service already runs it (ECS sets the
 * service's task definition to its PRIMARY deployment's), with the
 * desired count asked for when one is, the PRIMARY deployment is returned
 * with alreadyExisted:true and no deployment is started.  A family given
 * without a revision is the family's latest ACTIVE revision, as ECS reads
 * it.  A forced deployment without taskDefinition names no state to
 * compare with (ECS keeps no token on a deployment): each such call
 * starts one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/tools.h"

/* ---- updateService ----
 * s[0] the task definition asked for, as family:revision. */

static void update_done(struct dop *, const struct aws_result *);
static int td_split(const char *, char *, size_t, long *);

static void
update_send(struct dop *op)
{
	const json_t *a = op->args, *v;
	json_t *p;

	p = json_pack("{s:s, s:s, s:b}", "cluster", op->cluster, "service",
	    op->service, "forceNewDeployment",
	    !json_is_false(json_object_get(a, "forceNewDeployment")));
	if (p != NULL && (v = json_object_get(a, "taskDefinition")) != NULL)
		json_object_set(p, "taskDefinition", (json_t *)v);
	if (p != NULL && (v = json_object_get(a, "desiredCount")) != NULL)
		json_object_set(p, "desiredCount", (json_t *)v);
	dop_send(op, "UpdateService", p, update_done);
}

/*
 * The newest deployment other than the PRIMARY one that names a task
 * definition, and whose rolloutState is `rollout` unless that is NULL
 * (borrowed), or NULL.
 */
static const json_t *
newest_other(const json_t *svc, const char *rollout)
{
	const json_t *d, *best = NULL;
	const char *rs, *st;
	size_t i;

	json_array_foreach(json_object_get(svc, "deployments"), i, d) {
		rs = dep_str(d, "rolloutState");
		st = dep_str(d, "status");
		if ((rollout != NULL && (rs == NULL || strcmp(rs, rollout) !=
		    0)) || (st != NULL && strcmp(st, "PRIMARY") == 0) ||
		    dep_str(d, "taskDefinition") == NULL)
			continue;
		if (best == NULL || json_number_value(json_object_get(d,
		    "createdAt")) > json_number_value(json_object_get(best,
		    "createdAt")))
			best = d;
	}
	return best;
}

/*
 * Does the service already run op->s[0] with the desired count asked
 * for?  Then answer with its PRIMARY deployment; else update it.
 */
static void
update_check(struct dop *op)
{
	const json_t *p = dep_primary(op->svc), *want, *prev;
	const char *td = dep_arn_name(dep_str(op->svc, "taskDefinition"));
	json_t *out;

	want = json_object_get(op->args, "desiredCount");
	if (p == NULL || td == NULL || strcmp(td, op->s[0]) != 0 ||
	    (want != NULL && json_integer_value(want) !=
	    dep_int(op->svc, "desiredCount", -1))) {
		update_send(op);
		return;
	}
	prev = newest_other(op->svc, NULL);
	out = json_pack("{s:s?, s:s?, s:s, s:s?, s:I, s:o, s:b}",
	    "cluster", dep_arn_name(dep_str(op->svc, "clusterArn")),
	    "service", dep_str(op->svc, "serviceName"),
	    "taskDefinition", td,
	    "previousTaskDefinition", dep_arn_name(dep_str(prev,
	    "taskDefinition")),
	    "desiredCount", (json_int_t)dep_int(op->svc, "desiredCount", 0),
	    "deployment", dep_deployment(p),
	    "alreadyExisted", 1);
	if (out == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	dop_note(op, "the service already runs %s with %s as its PRIMARY "
	    "deployment (%s): nothing was changed; follow it with "
	    "waitForDeployment (deploymentId %s)", td, dep_str(p, "id"),
	    dep_str(p, "rolloutState") ? dep_str(p, "rolloutState") :
	    "no rollout state", dep_str(p, "id"));
	dop_return(op, out);
}

/* The family's revisions: its latest ACTIVE one is what was asked for. */
static void
update_latest(struct dop *op, const struct aws_result *res)
{
	const json_t *a;
	char fam[256], *td;
	long rev, best = 0;
	size_t i;

	if (res->err != AWS_OK) {
		dop_aws_error(op, res, "the service was not changed: the "
		    "latest revision of the task definition family could not "
		    "be read (to check whether the service already runs it); "
		    "name it as family:revision");
		return;
	}
	json_array_foreach(json_object_get(res->body, "taskDefinitionArns"),
	    i, a)
		if (td_split(json_string_value(a), fam, sizeof(fam), &rev) ==
		    0 && strcmp(fam, op->s[0]) == 0 && rev > best)
			best = rev;
	if (best == 0) {
		update_send(op);	/* ECS says what is wrong */
		return;
	}
	if (asprintf(&td, "%s:%ld", op->s[0], best) < 0) {
		dop_error(op, "out of memory");
		return;
	}
	free(op->s[0]);
	op->s[0] = td;
	update_check(op);
}

static void
update_described(struct dop *op, const struct aws_result *res)
{
	const char *td = dep_str(op->args, "taskDefinition");

	(void)res;
	if (td == NULL) {
		update_send(op);
		return;
	}
	if ((op->s[0] = strdup(dep_arn_name(td))) == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	if (strchr(op->s[0], ':') != NULL) {
		update_check(op);
		return;
	}
	dop_send(op, "ListTaskDefinitions", json_pack("{s:s, s:s, s:s, s:i}",
	    "familyPrefix", op->s[0], "status", "ACTIVE", "sort", "DESC",
	    "maxResults", DEP_TD_REVISIONS), update_latest);
}

/* The result of UpdateService for both tools: the new primary deployment
   and what the service ran before (from op->svc). */
static json_t *
update_result(struct dop *op, const json_t *svc)
{
	const json_t *p = dep_primary(svc), *prev = dep_primary(op->svc);
	json_t *out;

	out = json_pack("{s:s?, s:s?, s:s?, s:s?, s:I, s:o}",
	    "cluster", dep_arn_name(dep_str(svc, "clusterArn")),
	    "service", dep_str(svc, "serviceName"),
	    "taskDefinition", dep_arn_name(dep_str(svc, "taskDefinition")),
	    "previousTaskDefinition", dep_arn_name(dep_str(prev,
	    "taskDefinition") ? dep_str(prev, "taskDefinition") :
	    dep_str(op->svc, "taskDefinition")),
	    "desiredCount", (json_int_t)dep_int(svc, "desiredCount", 0),
	    "deployment", p != NULL ? dep_deployment(p) : json_null());
	if (out != NULL && p != NULL)
		dop_note(op, "follow the rollout with waitForDeployment "
		    "(deploymentId %s) or getServiceStatus", dep_str(p, "id"));
	return out;
}

/*
 * The answer to UpdateService as both tools return it: a new object, or
 * NULL when the call has been ended with an isError (ECS refused, said
 * nothing about the service, or memory ran out).
 */
static json_t *
update_answer(struct dop *op, const struct aws_result *res)
{
	const json_t *svc;
	json_t *out;

	if (res->err != AWS_OK) {
		dop_aws_error(op, res, "the service was not changed");
		return NULL;
	}
	svc = json_object_get(res->body, "service");
	if (!json_is_object(svc)) {
		dop_error(op, "ECS UpdateService answered without the service: "
		    "check it with getServiceStatus");
		return NULL;
	}
	if ((out = update_result(op, svc)) == NULL)
		dop_error(op, "out of memory");
	return out;
}

static void
update_done(struct dop *op, const struct aws_result *res)
{
	json_t *out;

	if ((out = update_answer(op, res)) == NULL)
		return;
	json_object_set_new(out, "alreadyExisted", json_false());
	dop_return(op, out);
}

void
tool_update_service(struct mcp_call *call, const json_t *args, void *udata)
{
	struct dop *op;

	if ((op = dop_new(call, args, udata)) == NULL || dop_refuse_write(op))
		return;
	if (json_object_get(args, "taskDefinition") == NULL &&
	    json_object_get(args, "desiredCount") == NULL &&
	    json_is_false(json_object_get(args, "forceNewDeployment"))) {
		dop_error(op, "nothing to change: give taskDefinition, "
		    "desiredCount, or forceNewDeployment true");
		return;
	}
	dep_describe(op, update_described);
}

/* ---- rollbackService ---- */

static void rollback_done(struct dop *, const struct aws_result *);
static void rollback_revisions(struct dop *, const struct aws_result *);

/* The newest COMPLETED deployment other than the PRIMARY one, or NULL. */
static const json_t *
last_completed(const json_t *svc)
{
	return newest_other(svc, "COMPLETED");
}

/* "family:revision" of a task definition ARN into fam (without the
   revision) and *rev; 0, or -1 when it has no revision. */
static int
td_split(const char *td, char *fam, size_t famlen, long *rev)
{
	const char *name = dep_arn_name(td), *c;
	char *end;

	if (name == NULL || (c = strrchr(name, ':')) == NULL ||
	    (size_t)(c - name) >= famlen)
		return -1;
	*rev = strtol(c + 1, &end, 10);
	if (*end != '\0' || *rev <= 0)
		return -1;
	snprintf(fam, famlen, "%.*s", (int)(c - name), name);
	return 0;
}

/* Nothing to roll back to: look for the previous revision to suggest. */
static void
rollback_nothing(struct dop *op, const char *why)
{
	const json_t *p = dep_primary(op->svc);
	const char *td = dep_str(p, "taskDefinition");
	char fam[256];
	long rev;

	if ((op->s[0] = strdup(why)) == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	if (td == NULL)
		td = dep_str(op->svc, "taskDefinition");
	if (td_split(td, fam, sizeof(fam), &rev) == -1 || rev <= 1) {
		rollback_revisions(op, NULL);
		return;
	}
	op->n = rev;
	if ((op->s[1] = strdup(fam)) == NULL) {
		dop_error(op, "out of memory");
		return;
	}
	dop_send(op, "ListTaskDefinitions", json_pack("{s:s, s:s, s:s, s:i}",
	    "familyPrefix", fam, "status", "ACTIVE", "sort", "DESC",
	    "maxResults", DEP_TD_REVISIONS), rollback_revisions);
}

/*
 * End with the isError of rollback_nothing(), and a candidate when the
 * family's revisions (res, NULL when not asked) hold an earlier one: the
 * highest revision below the current one, whatever order they came in.
 */
static void
rollback_revisions(struct dop *op, const struct aws_result *res)
{
	const json_t *a;
	const char *cand = NULL;
	char fam[256];
	long rev, best = 0;
	size_t i;

	if (res != NULL && res->err == AWS_OK)
		json_array_foreach(json_object_get(res->body,
		    "taskDefinitionArns"), i, a)
			if (td_split(json_string_value(a), fam, sizeof(fam),
			    &rev) == 0 && strcmp(fam, op->s[1]) == 0 &&
			    rev < op->n && rev > best) {
				best = rev;
				cand = dep_arn_name(json_string_value(a));
			}
	if (cand != NULL)
		dop_error(op, "nothing to roll back to: %s.  Nothing was "
		    "changed.  The previous registered revision is %s; if that "
		    "is the version you want, call updateService with "
		    "taskDefinition \"%s\".", op->s[0], cand, cand);
	else
		dop_error(op, "nothing to roll back to: %s.  Nothing was "
		    "changed.  Name the version to run with updateService "
		    "taskDefinition.", op->s[0]);
}

static void
rollback_described(struct dop *op, const struct aws_result *res)
{
	const json_t *p = dep_primary(op->svc), *t = last_completed(op->svc);
	char why[512];
	json_t *out;

	(void)res;
	if (t == NULL) {
		snprintf(why, sizeof(why), "service '%s' lists no COMPLETED "
		    "deployment other than its current one (%s %s, %s); ECS "
		    "keeps no record of what ran before a rollout completed",
		    op->service, p ? dep_str(p, "id") : "no PRIMARY deployment",
		    p && dep_str(p, "rolloutState") ? dep_str(p,
		    "rolloutState") : "", dep_arn_name(dep_str(op->svc,
		    "taskDefinition")));
		rollback_nothing(op, why);
		return;
	}
	if (p != NULL && dep_str(p, "taskDefinition") != NULL &&
	    strcmp(dep_str(p, "taskDefinition"), dep_str(t,
	    "taskDefinition")) == 0) {
		out = json_pack("{s:s?, s:s?, s:b, s:s?, s:s?, s:I, s:o, s:s?}",
		    "cluster", dep_arn_name(dep_str(op->svc, "clusterArn")),
		    "service", dep_str(op->svc, "serviceName"),
		    "changed", 0,
		    "taskDefinition", dep_arn_name(dep_str(t, "taskDefinition")),
		    "previousTaskDefinition", dep_arn_name(dep_str(t,
		    "taskDefinition")),
		    "desiredCount", (json_int_t)dep_int(op->svc, "desiredCount",
		    0),
		    "deployment", dep_deployment(p),
		    "completedDeployment", dep_str(t, "id"));
		if (out == NULL) {
			dop_error(op, "out of memory");
			return;
		}
		dop_note(op, "the PRIMARY deployment already runs %s, the task "
		    "definition of the last COMPLETED deployment: nothing was "
		    "changed", dep_arn_name(dep_str(t, "taskDefinition")));
		dop_return(op, out);
		return;
	}
	if ((op->s[1] = strdup(dep_str(t, "id") ? dep_str(t, "id") : "")) ==
	    NULL) {
		dop_error(op, "out of memory");
		return;
	}
	dop_send(op, "UpdateService", json_pack("{s:s, s:s, s:s}", "cluster",
	    op->cluster, "service", op->service, "taskDefinition",
	    dep_str(t, "taskDefinition")), rollback_done);
}

static void
rollback_done(struct dop *op, const struct aws_result *res)
{
	json_t *out;

	if ((out = update_answer(op, res)) == NULL)
		return;
	json_object_set_new(out, "changed", json_true());
	json_object_set_new(out, "completedDeployment", json_string(op->s[1]));
	dop_return(op, out);
}

void
tool_rollback_service(struct mcp_call *call, const json_t *args, void *udata)
{
	struct dop *op;

	if ((op = dop_new(call, args, udata)) == NULL || dop_refuse_write(op))
		return;
	dep_describe(op, rollback_described);
}
