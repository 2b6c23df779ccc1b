/*
 * Issue tools: getIssue, listIssues, addIssueComment.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github/tools.h"

#define COMMENTS_DEFAULT	20
#define QUERY_MAX		4096

/* The fields every issue view shares; new reference or NULL. */
static json_t *
issue_brief(struct op *op, const json_t *b)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:b}",
	    "number", (json_int_t)ght_int(b, "number", 0),
	    "title", ght_text(op, ght_str(b, "title"), GHT_TITLE_CAP,
	    "a title"),
	    "state", ght_str_or_null(ght_str(b, "state")),
	    "labels", ght_labels(op, json_object_get(b, "labels")),
	    "author", ght_login(json_object_get(b, "user")),
	    "comments", (json_int_t)ght_int(b, "comments", 0),
	    "createdAt", ght_str_or_null(ght_str(b, "created_at")),
	    "updatedAt", ght_str_or_null(ght_str(b, "updated_at")),
	    "htmlUrl", ght_str_or_null(ght_str(b, "html_url")),
	    "isPullRequest", json_object_get(b, "pull_request") != NULL);
}

/* ---- getIssue ---- */

static void
issue_comments_done(struct op *op, struct gh_result *res)
{
	json_t *a, *c;
	size_t i;

	if (res->err != GH_OK) {
		op_gh_error(op, res, "the issue was read but its comments were "
		    "not");
		return;
	}
	if ((a = json_array()) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	for (i = 0; i < json_array_size(res->body); i++) {
		c = json_array_get(res->body, i);
		json_array_append_new(a, json_pack("{s:o, s:o, s:o}",
		    "author", ght_login(json_object_get(c, "user")),
		    "createdAt", ght_str_or_null(ght_str(c, "created_at")),
		    "body", ght_text(op, ght_str(c, "body"), GHT_COMMENT_CAP,
		    "a comment")));
	}
	if ((long)json_array_size(a) < ght_int(op->out, "comments", 0))
		op_note(op, "showing the first %zu of %ld comments",
		    json_array_size(a), ght_int(op->out, "comments", 0));
	json_object_set_new(op->out, "commentList", a);
	json_incref(op->out);
	op_return(op, op->out);
}

static void
issue_done(struct op *op, struct gh_result *res)
{
	const json_t *b = res->body;
	const json_t *ms = json_object_get(b, "milestone");
	long ncomments = ght_int(b, "comments", 0);

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if ((op->out = issue_brief(op, b)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	json_object_set_new(op->out, "body", ght_text(op, ght_str(b, "body"),
	    GHT_BODY_CAP, "the body"));
	json_object_set_new(op->out, "stateReason",
	    ght_str_or_null(ght_str(b, "state_reason")));
	json_object_set_new(op->out, "assignees",
	    ght_logins(json_object_get(b, "assignees")));
	json_object_set_new(op->out, "closedAt",
	    ght_str_or_null(ght_str(b, "closed_at")));
	json_object_set_new(op->out, "locked",
	    json_boolean(json_is_true(json_object_get(b, "locked"))));
	json_object_set_new(op->out, "milestone", ms != NULL && !json_is_null(ms) ?
	    ght_text(op, ght_str(ms, "title"), GHT_TITLE_CAP, "the milestone") :
	    json_null());
	if (!json_is_true(json_object_get(op->args, "includeComments")) ||
	    ncomments <= 0) {
		json_incref(op->out);
		op_return(op, op->out);
		return;
	}
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, issue_comments_done,
	    "/repos/%s/%s/issues/%ld/comments?per_page=%ld", op->owner,
	    op->repo, ght_int(op->args, "number", 0),
	    ght_int(op->args, "maxComments", COMMENTS_DEFAULT));
}

void
tool_get_issue(struct mcp_call *call, const json_t *args, void *u)
{
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, issue_done,
	    "/repos/%s/%s/issues/%ld", op->owner, op->repo,
	    ght_int(args, "number", 0));
}

/* ---- listIssues ---- */

static json_t *
issue_keep(struct op *op, const json_t *it)
{
	if (json_object_get(it, "pull_request") != NULL && !op->flag)
		return NULL;
	return issue_brief(op, it);
}

/* The labels argument (array or comma-separated string) as one string. */
static int
labels_arg(const json_t *v, char *out, size_t outlen)
{
	size_t i, n = 0;
	const char *s;

	out[0] = '\0';
	if (json_is_string(v)) {
		s = json_string_value(v);
		return strlen(s) < outlen ? (snprintf(out, outlen, "%s", s), 0) :
		    -1;
	}
	for (i = 0; i < json_array_size(v); i++) {
		s = json_string_value(json_array_get(v, i));
		if (n + strlen(s) + 2 > outlen)
			return -1;
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? "," : "",
		    s);
	}
	return 0;
}

/*
 * The page size: the caller's perPage, else as many as wanted (up to
 * 100, GitHub's maximum).
 */
static long
page_size(const struct op *op)
{
	long pp = ght_int(op->args, "perPage", 0);

	if (pp > 0)
		return pp;
	return op->max < 100 ? op->max : 100;
}

void
tool_list_issues(struct mcp_call *call, const json_t *args, void *u)
{
	char q[QUERY_MAX] = "", labels[2048], pp[24], path[QUERY_MAX + 512];
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	op->max = ght_int(args, "maxItems", GHT_LIST_DEFAULT);
	op->flag = json_is_true(json_object_get(args, "includePullRequests"));
	snprintf(pp, sizeof(pp), "%ld", page_size(op));
	if (labels_arg(json_object_get(args, "labels"), labels,
	    sizeof(labels)) == -1) {
		op_error(op, "labels: too long (at most %zu bytes in all)",
		    sizeof(labels) - 1);
		return;
	}
	if (ght_qadd(q, sizeof(q), "state", ght_nondefault(ght_str(args, "state"),
	    "open")) == -1 ||
	    ght_qadd(q, sizeof(q), "labels", labels[0] ? labels : NULL) == -1 ||
	    ght_qadd(q, sizeof(q), "since", ght_str(args, "since")) == -1 ||
	    ght_qadd(q, sizeof(q), "sort", ght_nondefault(ght_str(args, "sort"),
	    "created")) == -1 ||
	    ght_qadd(q, sizeof(q), "direction", ght_nondefault(ght_str(args,
	    "direction"), "desc")) == -1 ||
	    ght_qadd(q, sizeof(q), "per_page", pp) == -1) {
		op_error(op, "the query is too long");
		return;
	}
	snprintf(path, sizeof(path), "/repos/%s/%s/issues?%s", op->owner,
	    op->repo, q);
	ght_list(op, path, issue_keep);
}

/* ---- addIssueComment ----
 * s[0] the key's marker, s[1] the body to post; pages: comment pages read.
 *
 * With an idempotencyKey the comment carries a hidden marker, an HTML
 * comment GitHub does not render, at its end.  Before posting, the
 * issue's comments are read (GHT_MAX_PAGES pages of 100 at most) for that
 * marker: a comment that has it is the first call's, returned with
 * alreadyExisted and nothing posted.  An issue with more comments than
 * that is refused rather than risk a second comment.  Without a key the
 * comment is posted as it is, once per call. */

#define MARKER_FMT	"<!-- afu9:idempotency-key=%s -->"
#define COMMENT_MAX	65536	/* GitHub's bound, in characters */
#define COMMENT_PAGE	100	/* comments a page, GitHub's most */

static json_t *
comment_view(const struct op *op, const json_t *b, int existed)
{
	return json_pack("{s:I, s:I, s:o, s:o, s:b}",
	    "issueNumber", (json_int_t)ght_int(op->args, "number", 0),
	    "id", (json_int_t)ght_int(b, "id", 0),
	    "htmlUrl", ght_str_or_null(ght_str(b, "html_url")),
	    "createdAt", ght_str_or_null(ght_str(b, "created_at")),
	    "alreadyExisted", existed);
}

static void
comment_done(struct op *op, struct gh_result *res)
{
	if (res->err != GH_OK) {
		op_gh_error(op, res, op->s[0] != NULL ? "nothing was posted, "
		    "or the answer was lost (calling again with the same "
		    "idempotencyKey is safe)" : NULL);
		return;
	}
	op_return(op, comment_view(op, res->body, 0));
}

static void
comment_post(struct op *op)
{
	json_t *body;

	if ((body = json_pack("{s:s}", "body", op->s[1] != NULL ? op->s[1] :
	    ght_str(op->args, "body"))) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	/* not idempotent: gh does not repeat it after it may have landed */
	op_send(op, "POST", body, 0, comment_done,
	    "/repos/%s/%s/issues/%ld/comments", op->owner, op->repo,
	    ght_int(op->args, "number", 0));
	json_decref(body);
}

/* One page of the issue's comments: the marked one, or the next page. */
static void
comment_scan(struct op *op, struct gh_result *res)
{
	const json_t *c;
	const char *b;
	size_t i;

	if (res->err != GH_OK) {
		op_gh_error(op, res, "nothing was posted: the comments could "
		    "not be read to look for the idempotencyKey");
		return;
	}
	if (!json_is_array(res->body)) {
		op_error(op, "GitHub answered a list request with something "
		    "other than a list: nothing was posted");
		return;
	}
	op->pages++;
	json_array_foreach(res->body, i, c) {
		if ((b = ght_str(c, "body")) == NULL ||
		    strstr(b, op->s[0]) == NULL)
			continue;
		op_note(op, "a comment with this idempotencyKey was already "
		    "posted (id %ld): it was returned and nothing was posted",
		    ght_int(c, "id", 0));
		op_return(op, comment_view(op, c, 1));
		return;
	}
	if (res->next_url == NULL) {
		comment_post(op);
		return;
	}
	if (op->pages >= GHT_MAX_PAGES) {
		op_error(op, "issue #%ld has more than %d comments: could not "
		    "check all of them for the idempotencyKey, so nothing was "
		    "posted; call without idempotencyKey to post anyway",
		    ght_int(op->args, "number", 0), GHT_MAX_PAGES * COMMENT_PAGE);
		return;
	}
	op_send_url(op, res->next_url, comment_scan);
}

/* Characters (code points) of the valid UTF-8 string s. */
static size_t
text_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void
tool_add_issue_comment(struct mcp_call *call, const json_t *args, void *u)
{
	const char *key = ght_str(args, "idempotencyKey");
	const char *text = ght_str(args, "body");
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	if (key == NULL) {
		comment_post(op);
		return;
	}
	if (asprintf(&op->s[0], MARKER_FMT, key) < 0) {
		op->s[0] = NULL;
		op_error(op, "out of memory");
		return;
	}
	if (asprintf(&op->s[1], "%s\n\n%s", text, op->s[0]) < 0) {
		op->s[1] = NULL;
		op_error(op, "out of memory");
		return;
	}
	if (text_chars(op->s[1]) > COMMENT_MAX) {
		op_error(op, "the body is %zu characters; with the "
		    "idempotencyKey's marker (%zu more) it would pass GitHub's "
		    "%d: shorten it", text_chars(text), strlen(op->s[0]) + 2,
		    COMMENT_MAX);
		return;
	}
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, comment_scan,
	    "/repos/%s/%s/issues/%ld/comments?per_page=%d", op->owner,
	    op->repo, ght_int(args, "number", 0), COMMENT_PAGE);
}
