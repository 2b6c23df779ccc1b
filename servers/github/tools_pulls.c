/*
 * Pull request tools: getPullRequest, listPullRequests, createPullRequest,
 * mergePullRequest.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github/tools.h"

#define QUERY_MAX	4096

/* The fields every pull request view shares; new reference or NULL. */
static json_t *
pr_brief(struct op *op, const json_t *b)
{
	const json_t *head = json_object_get(b, "head");
	const json_t *base = json_object_get(b, "base");
	const char *merged_at = ght_str(b, "merged_at");

	return json_pack("{s:I, s:o, s:o, s:b, s:b, s:o, s:o, s:o, s:o, s:o,"
	    " s:o}",
	    "number", (json_int_t)ght_int(b, "number", 0),
	    "title", ght_text(op, ght_str(b, "title"), GHT_TITLE_CAP,
	    "a title"),
	    "state", ght_str_or_null(ght_str(b, "state")),
	    "draft", json_is_true(json_object_get(b, "draft")),
	    "merged", merged_at != NULL ||
	    json_is_true(json_object_get(b, "merged")),
	    "author", ght_login(json_object_get(b, "user")),
	    "head", ght_str_or_null(ght_str(head, "label") ?
	    ght_str(head, "label") : ght_str(head, "ref")),
	    "base", ght_str_or_null(ght_str(base, "ref")),
	    "createdAt", ght_str_or_null(ght_str(b, "created_at")),
	    "updatedAt", ght_str_or_null(ght_str(b, "updated_at")),
	    "htmlUrl", ght_str_or_null(ght_str(b, "html_url")));
}

/* ---- getPullRequest ----
 * out: the view; acc: {"statuses": [...]} from the combined status. */

/* Add name to the failing or pending list of the checks summary. */
static void
check_add(json_t *checks, const char *list, const char *name)
{
	json_array_append_new(json_object_get(checks, list),
	    json_string(name != NULL ? name : "(unnamed)"));
}

/* Fold the commit statuses and check runs into one summary. */
static json_t *
checks_summary(const json_t *statuses, const json_t *runs)
{
	json_t *c = json_pack("{s:[], s:[]}", "failing", "pending");
	const json_t *s;
	const char *st, *state;
	long total = 0, ok = 0;
	size_t i;

	for (i = 0; i < json_array_size(statuses); i++, total++) {
		s = json_array_get(statuses, i);
		st = ght_str(s, "state");
		if (st != NULL && strcmp(st, "success") == 0)
			ok++;
		else if (st != NULL && strcmp(st, "pending") == 0)
			check_add(c, "pending", ght_str(s, "context"));
		else
			check_add(c, "failing", ght_str(s, "context"));
	}
	for (i = 0; i < json_array_size(runs); i++, total++) {
		s = json_array_get(runs, i);
		st = ght_str(s, "status");
		if (st == NULL || strcmp(st, "completed") != 0)
			check_add(c, "pending", ght_str(s, "name"));
		else if (ght_check_failed(ght_str(s, "conclusion")))
			check_add(c, "failing", ght_str(s, "name"));
		else
			ok++;
	}
	if (json_array_size(json_object_get(c, "failing")) > 0)
		state = "failure";
	else if (json_array_size(json_object_get(c, "pending")) > 0)
		state = "pending";
	else
		state = total > 0 ? "success" : "none";
	json_object_set_new(c, "state", json_string(state));
	json_object_set_new(c, "total", json_integer(total));
	json_object_set_new(c, "successful", json_integer(ok));
	return c;
}

static void
pr_runs_done(struct op *op, struct gh_result *res)
{
	const json_t *runs = NULL;

	if (res->err == GH_OK)
		runs = json_object_get(res->body, "check_runs");
	else
		op_note(op, "check runs could not be read (%s): the checks "
		    "summary covers commit statuses only", res->message);
	if (res->err == GH_OK && ght_int(res->body, "total_count", 0) >
	    (long)json_array_size(runs))
		op_note(op, "the checks summary covers the first %zu of %ld "
		    "check runs", json_array_size(runs),
		    ght_int(res->body, "total_count", 0));
	json_object_set_new(op->out, "checks", checks_summary(
	    json_object_get(op->acc, "statuses"), runs));
	json_incref(op->out);
	op_return(op, op->out);
}

static void
pr_status_done(struct op *op, struct gh_result *res)
{
	if (res->err == GH_OK)
		op->acc = json_incref(res->body);
	else
		op_note(op, "commit statuses could not be read (%s)",
		    res->message);
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, pr_runs_done,
	    "/repos/%s/%s/commits/%s/check-runs?per_page=100", op->owner,
	    op->repo, op->s[0]);
}

static json_t *
mergeable_of(struct op *op, const json_t *b)
{
	const json_t *m = json_object_get(b, "mergeable");
	const char *state = ght_str(b, "state");

	if (json_is_boolean(m))
		return json_incref((json_t *)m);
	if (state != NULL && strcmp(state, "open") == 0)
		op_note(op, "mergeable is null: GitHub is still computing it; "
		    "ask again in a few seconds");
	return json_null();
}

static void
pr_done(struct op *op, struct gh_result *res)
{
	const json_t *b = res->body;
	const char *sha = ght_str(json_object_get(b, "head"), "sha");

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if ((op->out = pr_brief(op, b)) == NULL || sha == NULL ||
	    (op->s[0] = strdup(sha)) == NULL) {
		op_error(op, "GitHub's pull request has no head commit, or "
		    "memory ran out");
		return;
	}
	json_object_set_new(op->out, "body", ght_text(op, ght_str(b, "body"),
	    GHT_BODY_CAP, "the body"));
	json_object_set_new(op->out, "headSha", json_string(sha));
	json_object_set_new(op->out, "mergeable", mergeable_of(op, b));
	json_object_set_new(op->out, "mergeableState",
	    ght_str_or_null(ght_str(b, "mergeable_state")));
	json_object_set_new(op->out, "mergedAt",
	    ght_str_or_null(ght_str(b, "merged_at")));
	json_object_set_new(op->out, "mergeCommitSha",
	    ght_str_or_null(ght_str(b, "merge_commit_sha")));
	json_object_set_new(op->out, "labels", ght_labels(op,
	    json_object_get(b, "labels")));
	json_object_set_new(op->out, "assignees",
	    ght_logins(json_object_get(b, "assignees")));
	json_object_set_new(op->out, "requestedReviewers",
	    ght_logins(json_object_get(b, "requested_reviewers")));
	json_object_set_new(op->out, "commits",
	    json_integer(ght_int(b, "commits", 0)));
	json_object_set_new(op->out, "changedFiles",
	    json_integer(ght_int(b, "changed_files", 0)));
	json_object_set_new(op->out, "additions",
	    json_integer(ght_int(b, "additions", 0)));
	json_object_set_new(op->out, "deletions",
	    json_integer(ght_int(b, "deletions", 0)));
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, pr_status_done,
	    "/repos/%s/%s/commits/%s/status", op->owner, op->repo, op->s[0]);
}

void
tool_get_pull_request(struct mcp_call *call, const json_t *args, void *u)
{
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, pr_done,
	    "/repos/%s/%s/pulls/%ld", op->owner, op->repo,
	    ght_int(args, "number", 0));
}

/* ---- listPullRequests ---- */

static json_t *
pr_keep(struct op *op, const json_t *it)
{
	return pr_brief(op, it);
}

/* "owner:branch" for a head given without an owner. */
static void
head_label(const struct op *op, const char *head, char *out, size_t outlen)
{
	if (strchr(head, ':') != NULL)
		snprintf(out, outlen, "%s", head);
	else
		snprintf(out, outlen, "%s:%s", op->owner, head);
}

void
tool_list_pull_requests(struct mcp_call *call, const json_t *args, void *u)
{
	char q[QUERY_MAX] = "", pp[24], head[512], path[QUERY_MAX + 512];
	const char *h = ght_str(args, "head");
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	op->max = ght_int(args, "maxItems", GHT_LIST_DEFAULT);
	snprintf(pp, sizeof(pp), "%ld", op->max < 100 ? op->max : 100);
	if (h != NULL)
		head_label(op, h, head, sizeof(head));
	if (ght_qadd(q, sizeof(q), "state", ght_nondefault(ght_str(args, "state"),
	    "open")) == -1 ||
	    ght_qadd(q, sizeof(q), "head", h != NULL ? head : NULL) == -1 ||
	    ght_qadd(q, sizeof(q), "base", ght_str(args, "base")) == -1 ||
	    ght_qadd(q, sizeof(q), "sort", ght_nondefault(ght_str(args, "sort"),
	    "created")) == -1 ||
	    ght_qadd(q, sizeof(q), "direction", ght_str(args, "direction")) == -1 ||
	    ght_qadd(q, sizeof(q), "per_page", pp) == -1) {
		op_error(op, "the query is too long");
		return;
	}
	snprintf(path, sizeof(path), "/repos/%s/%s/pulls?%s", op->owner,
	    op->repo, q);
	ght_list(op, path, pr_keep);
}

/* ---- createPullRequest ----
 * s[0] base, s[1] head label (owner:branch), s[2] the refusal of the
 * POST; flag: the open pull requests are being listed again after it.
 *
 * GitHub allows one open pull request per head and base, so that pair is
 * what "already done" means: the open ones are listed first, and one
 * found is returned (alreadyExisted) instead of a new one.  A 422 from
 * the POST (one opened meanwhile by another caller) has them listed once
 * more; no idempotencyKey is needed. */

static void create_check(struct op *);

static void
create_done(struct op *op, struct gh_result *res)
{
	json_t *out;

	if (res->err == GH_ERR_VALIDATION) {
		if ((op->s[2] = strdup(res->message)) == NULL) {
			op_error(op, "out of memory");
			return;
		}
		op->flag = 1;
		create_check(op);
		return;
	}
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if ((out = pr_brief(op, res->body)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	json_object_set_new(out, "created", json_true());
	json_object_set_new(out, "alreadyExisted", json_false());
	op_return(op, out);
}

static void
create_existing(struct op *op, struct gh_result *res)
{
	json_t *body, *out;

	if (res->err != GH_OK && op->flag) {
		op_error(op, "%s", op->s[2]);	/* the refusal says more */
		return;
	}
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (json_array_size(res->body) > 0) {
		if ((out = pr_brief(op, json_array_get(res->body, 0))) == NULL) {
			op_error(op, "out of memory");
			return;
		}
		json_object_set_new(out, "created", json_false());
		json_object_set_new(out, "alreadyExisted", json_true());
		op_note(op, "an open pull request from %s to %s already "
		    "existed: it was returned as it is", op->s[1], op->s[0]);
		op_return(op, out);
		return;
	}
	if (op->flag) {
		op_error(op, "%s", op->s[2]);
		return;
	}
	body = json_pack("{s:O, s:s, s:s, s:O*, s:O*, s:O*}",
	    "title", json_object_get(op->args, "title"),
	    "head", ght_str(op->args, "head"),
	    "base", op->s[0],
	    "body", json_object_get(op->args, "body"),
	    "draft", json_object_get(op->args, "draft"),
	    "maintainer_can_modify", json_object_get(op->args,
	    "maintainerCanModify"));
	if (body == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op_send(op, "POST", body, 0, create_done, "/repos/%s/%s/pulls",
	    op->owner, op->repo);
	json_decref(body);
}

/* Is there an open pull request for head -> base already? */
static void
create_check(struct op *op)
{
	char q[2048] = "";

	if (ght_qadd(q, sizeof(q), "head", op->s[1]) == -1 ||
	    ght_qadd(q, sizeof(q), "base", op->s[0]) == -1) {
		op_error(op, "head or base is too long");
		return;
	}
	op_send(op, "GET", NULL, 0, create_existing,
	    "/repos/%s/%s/pulls?state=open&%s", op->owner, op->repo, q);
}

static void
create_repo(struct op *op, struct gh_result *res)
{
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (ght_default_branch(op, res->body, 0) == -1)
		return;
	create_check(op);
}

void
tool_create_pull_request(struct mcp_call *call, const json_t *args, void *u)
{
	const char *base = ght_str(args, "base");
	char head[512];
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	head_label(op, ght_str(args, "head"), head, sizeof(head));
	if ((op->s[1] = strdup(head)) == NULL ||
	    (base != NULL && (op->s[0] = strdup(base)) == NULL)) {
		op_error(op, "out of memory");
		return;
	}
	if (base != NULL) {
		create_check(op);
		return;
	}
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, create_repo, "/repos/%s/%s",
	    op->owner, op->repo);
}

/* ---- mergePullRequest ----
 * s[0] the merge failure's message. */

static void
merge_recheck(struct op *op, struct gh_result *res)
{
	const json_t *b = res->body;
	const char *ms;

	if (res->err == GH_OK && json_is_true(json_object_get(b, "merged"))) {
		op_note(op, "the pull request was already merged: nothing was "
		    "done");
		op_return(op, json_pack("{s:I, s:b, s:b, s:o}", "number",
		    (json_int_t)ght_int(op->args, "number", 0), "merged", 1,
		    "alreadyMerged", 1, "sha",
		    ght_str_or_null(ght_str(b, "merge_commit_sha"))));
		return;
	}
	ms = res->err == GH_OK ? ght_str(b, "mergeable_state") : NULL;
	if (ms != NULL && strcmp(ms, "dirty") == 0)
		op_error(op, "%s (the pull request has merge conflicts: "
		    "resolve them on the head branch first)", op->s[0]);
	else if (ms != NULL && strcmp(ms, "blocked") == 0)
		op_error(op, "%s (merging is blocked: required reviews or "
		    "checks are missing)", op->s[0]);
	else if (ms != NULL && strcmp(ms, "behind") == 0)
		op_error(op, "%s (the head branch is behind the base branch: "
		    "update it first)", op->s[0]);
	else
		op_error(op, "%s", op->s[0]);
}

static void
merge_done(struct op *op, struct gh_result *res)
{
	if (res->err == GH_OK) {
		op_return(op, json_pack("{s:I, s:b, s:b, s:o}", "number",
		    (json_int_t)ght_int(op->args, "number", 0), "merged", 1,
		    "alreadyMerged", 0, "sha",
		    ght_str_or_null(ght_str(res->body, "sha"))));
		return;
	}
	if (res->err != GH_ERR_HTTP && res->err != GH_ERR_CONFLICT &&
	    res->err != GH_ERR_VALIDATION) {
		op_gh_error(op, res, NULL);
		return;
	}
	/* not merged now: was it merged before? */
	if ((op->s[0] = strdup(res->message)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op_send(op, "GET", NULL, 0, merge_recheck, "/repos/%s/%s/pulls/%ld",
	    op->owner, op->repo, ght_int(op->args, "number", 0));
}

void
tool_merge_pull_request(struct mcp_call *call, const json_t *args, void *u)
{
	const char *method = ght_str(args, "method");
	struct op *op;
	json_t *body;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	body = json_pack("{s:s, s:O*, s:O*, s:O*}",
	    "merge_method", method != NULL ? method : "merge",
	    "sha", json_object_get(args, "expectedHeadSha"),
	    "commit_title", json_object_get(args, "commitTitle"),
	    "commit_message", json_object_get(args, "commitMessage"));
	if (body == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op_send(op, "PUT", body, 0, merge_done, "/repos/%s/%s/pulls/%ld/merge",
	    op->owner, op->repo, ght_int(args, "number", 0));
	json_decref(body);
}

/* ---- markPullRequestReady ----
 *
 * A draft pull request becomes ready for review.  GitHub's REST API
 * cannot do this (PATCH .../pulls/N ignores "draft"): it is the GraphQL
 * mutation markPullRequestReadyForReview on the pull request's node id,
 * read first from REST.  A pull request that is no draft is the answer
 * as it is (changed: false), so a repeat does nothing. */

#define READY_MUTATION "mutation($id: ID!) { markPullRequestReadyForReview(" \
	"input: {pullRequestId: $id}) { pullRequest { isDraft } } }"

static void
ready_done(struct op *op, struct gh_result *res)
{
	const json_t *errs = json_object_get(res->body, "errors"), *pr;
	const char *m;

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (json_array_size(errs) > 0) {
		m = ght_str(json_array_get(errs, 0), "message");
		op_error(op, "GitHub refused to mark pull request #%ld ready "
		    "for review: %s", ght_int(op->args, "number", 0),
		    m != NULL ? m : "(no message)");
		return;
	}
	pr = json_object_get(json_object_get(json_object_get(
	    res->body, "data"), "markPullRequestReadyForReview"),
	    "pullRequest");
	if (!json_is_false(json_object_get(pr, "isDraft"))) {
		op_error(op, "GitHub's answer does not say pull request #%ld "
		    "is ready for review now", ght_int(op->args, "number", 0));
		return;
	}
	json_object_set_new(op->out, "draft", json_false());
	json_object_set_new(op->out, "changed", json_true());
	json_incref(op->out);
	op_return(op, op->out);
}

static void
ready_pr(struct op *op, struct gh_result *res)
{
	const char *id = ght_str(res->body, "node_id"),
	    *state = ght_str(res->body, "state");
	json_t *body;

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if ((op->out = pr_brief(op, res->body)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	if (!json_is_true(json_object_get(res->body, "draft"))) {
		op_note(op, "pull request #%ld is not a draft: nothing was "
		    "done", ght_int(op->args, "number", 0));
		json_object_set_new(op->out, "changed", json_false());
		json_incref(op->out);
		op_return(op, op->out);
		return;
	}
	if (state == NULL || strcmp(state, "open") != 0) {
		op_error(op, "pull request #%ld is %s: only an open draft can "
		    "be marked ready for review", ght_int(op->args, "number",
		    0), state != NULL ? state : "in an unknown state");
		return;
	}
	if (id == NULL) {
		op_error(op, "GitHub's pull request has no node_id, which the "
		    "GraphQL mutation needs");
		return;
	}
	if ((body = json_pack("{s:s, s:{s:s}}", "query", READY_MUTATION,
	    "variables", "id", id)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	/* marking a ready pull request ready again changes nothing */
	op_send(op, "POST", body, GH_F_IDEMPOTENT, ready_done, "/graphql");
	json_decref(body);
}

void
tool_mark_pull_request_ready(struct mcp_call *call, const json_t *args,
    void *u)
{
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	/* not from the ETag cache: whether it is a draft now is the point */
	op_send(op, "GET", NULL, 0, ready_pr, "/repos/%s/%s/pulls/%ld",
	    op->owner, op->repo, ght_int(args, "number", 0));
}
