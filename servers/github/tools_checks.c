/*
 * Checks: getCommitChecks, the verdict of a commit's CI in one answer.
 *
 * GitHub keeps two kinds of checks on a commit: commit statuses (the
 * older API, folded by GET .../commits/REF/status into one combined
 * state) and check runs (GitHub Actions and other apps, GET
 * .../commits/REF/check-runs, paged).  A model fixing CI and a workflow
 * waiting for it both need the same three facts: is everything done,
 * did anything fail, and what did the failures say.  So both are read
 * and folded into one state, every failure keeps its output (title,
 * summary, text, cut at maxTextBytes) and, for the first few failing
 * check runs that have them, their annotations (file, line, message).
 *
 * op fields: s[0] the ref (percent-encoded); acc the check runs
 * collected; out the answer being built (with the combined status as
 * "status_" until the runs are read); pages the check-run pages read;
 * max the most check runs; n the byte cap of output text; i the next
 * failing check whose annotations may be read; flag the runs whose
 * annotations were asked for.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github/tools.h"

#define CHK_RUNS_DEFAULT	100
#define CHK_PAGE		100	/* check runs per page */
#define CHK_PAGES_MAX		10	/* pages followed */
#define CHK_ANNOT_RUNS		5	/* failing runs whose annotations are
					   read */
#define CHK_ANNOT_MAX		20	/* annotations kept per run */
#define CHK_MSG_CAP		1024u	/* one annotation's message */

int
ght_check_failed(const char *conclusion)
{
	static const char *const bad[] = { "failure", "timed_out",
	    "cancelled", "action_required", "startup_failure", "stale" };
	size_t i;

	for (i = 0; conclusion != NULL && i < sizeof(bad) / sizeof(bad[0]);
	    i++)
		if (strcmp(conclusion, bad[i]) == 0)
			return 1;
	return 0;
}

/*
 * A git ref a model may name in a path: no empty, "." or ".." segment
 * (it would move the request elsewhere after URL normalisation).
 */
int
ght_ref_ok(const char *ref)
{
	const char *seg;
	size_t n;

	if (ref == NULL || *ref == '\0')
		return 0;
	for (seg = ref;; seg += n + 1) {
		n = strcspn(seg, "/");
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (seg[n] == '\0')
			return 1;
	}
}

/* One failing check: its name and the text that says why. */
static json_t *
failure_of_run(struct op *op, const json_t *run)
{
	const json_t *o = json_object_get(run, "output");
	const char *name = ght_str(run, "name");

	return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I}",
	    "name", ght_text(op, name ? name : "(unnamed)", GHT_TITLE_CAP,
	    "a check name"),
	    "source", "check_run",
	    "conclusion", ght_str_or_null(ght_str(run, "conclusion")),
	    "detailsUrl", ght_str_or_null(ght_str(run, "details_url") ?
	    ght_str(run, "details_url") : ght_str(run, "html_url")),
	    "title", ght_text(op, ght_str(o, "title"), GHT_TITLE_CAP,
	    "a check's title"),
	    "summary", ght_text(op, ght_str(o, "summary"), (size_t)op->n,
	    "a check's summary"),
	    "text", ght_text(op, ght_str(o, "text"), (size_t)op->n,
	    "a check's text"),
	    "id", (json_int_t)ght_int(run, "id", 0),
	    "annotations_", (json_int_t)ght_int(o, "annotations_count", 0));
}

static json_t *
failure_of_status(struct op *op, const json_t *st)
{
	const char *ctx = ght_str(st, "context");

	return json_pack("{s:o, s:s, s:o, s:o, s:o, s:n, s:n}",
	    "name", ght_text(op, ctx ? ctx : "(unnamed)", GHT_TITLE_CAP,
	    "a status context"),
	    "source", "status",
	    "conclusion", ght_str_or_null(ght_str(st, "state")),
	    "detailsUrl", ght_str_or_null(ght_str(st, "target_url")),
	    "title", ght_text(op, ght_str(st, "description"), GHT_TITLE_CAP,
	    "a status description"),
	    "summary", "text");
}

static void
name_add(struct op *op, json_t *list, const char *name, const char *src,
    const char *state)
{
	json_array_append_new(list, json_pack("{s:o, s:s, s:o}", "name",
	    ght_text(op, name ? name : "(unnamed)", GHT_TITLE_CAP,
	    "a check name"), "source", src, "status", ght_str_or_null(state)));
}

/*
 * Fold the combined status and the check runs into op->out: state,
 * completed, failed, counts and the three lists.
 */
static void
fold(struct op *op, const json_t *status, const json_t *runs)
{
	json_t *failing = json_array(), *pending = json_array(),
	    *passing = json_array();
	const json_t *statuses = json_object_get(status, "statuses"), *it;
	const char *st, *state;
	long total = 0;
	size_t i;

	json_array_foreach(statuses, i, it) {
		total++;
		st = ght_str(it, "state");
		if (st != NULL && strcmp(st, "success") == 0)
			name_add(op, passing, ght_str(it, "context"), "status",
			    st);
		else if (st != NULL && strcmp(st, "pending") == 0)
			name_add(op, pending, ght_str(it, "context"), "status",
			    st);
		else
			json_array_append_new(failing, failure_of_status(op,
			    it));
	}
	json_array_foreach(runs, i, it) {
		total++;
		st = ght_str(it, "status");
		if (st == NULL || strcmp(st, "completed") != 0)
			name_add(op, pending, ght_str(it, "name"), "check_run",
			    st);
		else if (ght_check_failed(ght_str(it, "conclusion")))
			json_array_append_new(failing, failure_of_run(op, it));
		else
			name_add(op, passing, ght_str(it, "name"), "check_run",
			    ght_str(it, "conclusion"));
	}
	if (json_array_size(failing) > 0)
		state = "failure";
	else if (json_array_size(pending) > 0)
		state = "pending";
	else
		state = total > 0 ? "success" : "none";
	json_object_set_new(op->out, "state", json_string(state));
	json_object_set_new(op->out, "completed",
	    json_boolean(json_array_size(pending) == 0));
	json_object_set_new(op->out, "failed",
	    json_boolean(json_array_size(failing) > 0));
	json_object_set_new(op->out, "total", json_integer(total));
	json_object_set_new(op->out, "successful",
	    json_integer((json_int_t)json_array_size(passing)));
	json_object_set_new(op->out, "failing", failing);
	json_object_set_new(op->out, "pending", pending);
	json_object_set_new(op->out, "passing", passing);
}

static void	annotations_next(struct op *);

/* The failing check run i, if it is one whose annotations are read. */
static json_t *
failing_run(struct op *op, size_t i)
{
	json_t *f = json_array_get(json_object_get(op->out, "failing"), i);

	if (f == NULL || strcmp(ght_str(f, "source"), "check_run") != 0)
		return NULL;
	return f;
}

static void
annotations_done(struct op *op, struct gh_result *res)
{
	json_t *f = failing_run(op, op->i), *a, *it;
	const json_t *x;
	size_t i;

	if (res->err != GH_OK) {
		op_note(op, "the annotations of check run '%s' could not be "
		    "read (%s)", ght_str(f, "name"), res->message);
	} else if ((a = json_array()) != NULL) {
		json_array_foreach(res->body, i, x) {
			if (i >= CHK_ANNOT_MAX)
				break;
			it = json_pack("{s:o, s:I, s:I, s:o, s:o, s:o}",
			    "path", ght_str_or_null(ght_str(x, "path")),
			    "startLine", (json_int_t)ght_int(x, "start_line",
			    0),
			    "endLine", (json_int_t)ght_int(x, "end_line", 0),
			    "level", ght_str_or_null(ght_str(x,
			    "annotation_level")),
			    "title", ght_text(op, ght_str(x, "title"),
			    GHT_TITLE_CAP, "an annotation's title"),
			    "message", ght_text(op, ght_str(x, "message"),
			    CHK_MSG_CAP, "an annotation's message"));
			json_array_append_new(a, it);
		}
		if (json_array_size(res->body) > CHK_ANNOT_MAX)
			op_note(op, "check run '%s': the first %d "
			    "annotations are shown", ght_str(f, "name"),
			    CHK_ANNOT_MAX);
		json_object_set_new(f, "annotations", a);
	}
	op->i++;
	annotations_next(op);
}

static void
finish(struct op *op)
{
	json_t *f, *out = op->out;
	size_t i;

	/* the run ids were for the annotations only */
	json_array_foreach(json_object_get(out, "failing"), i, f) {
		json_object_del(f, "id");
		json_object_del(f, "annotations_");
	}
	op->out = NULL;
	op_return(op, out);
}

/*
 * The annotations of the failing check runs, CHK_ANNOT_RUNS at most, one
 * request each: only runs whose output says it has some.
 */
static void
annotations_next(struct op *op)
{
	json_t *f;
	long id;

	for (; (f = json_array_get(json_object_get(op->out, "failing"),
	    op->i)) != NULL; op->i++) {
		if (failing_run(op, op->i) == NULL)
			continue;
		if (op->flag >= CHK_ANNOT_RUNS)
			break;
		id = ght_int(f, "id", 0);
		if (ght_int(f, "annotations_", 0) <= 0)
			continue;
		op->flag++;
		op_send(op, "GET", NULL, GH_F_CONDITIONAL, annotations_done,
		    "/repos/%s/%s/check-runs/%ld/annotations?per_page=%d",
		    op->owner, op->repo, id, CHK_ANNOT_MAX + 1);
		return;
	}
	finish(op);
}

static void runs_page(struct op *, struct gh_result *);

static void
runs_end(struct op *op, long total)
{
	if (total > (long)json_array_size(op->acc))
		op_note(op, "%zu of %ld check runs were read (raise maxRuns, "
		    "up to %d): the verdict covers those only",
		    json_array_size(op->acc), total, CHK_PAGE * CHK_PAGES_MAX);
	fold(op, json_object_get(op->out, "status_"), op->acc);
	json_object_del(op->out, "status_");
	op->i = 0;
	annotations_next(op);
}

static void
runs_page(struct op *op, struct gh_result *res)
{
	const json_t *runs, *r;
	size_t i;

	if (res->err != GH_OK) {
		op_gh_error(op, res, "reading the check runs");
		return;
	}
	runs = json_object_get(res->body, "check_runs");
	if (!json_is_array(runs)) {
		op_error(op, "GitHub's check runs answer has no check_runs "
		    "list");
		return;
	}
	op->pages++;
	json_array_foreach(runs, i, r) {
		if ((long)json_array_size(op->acc) >= op->max)
			break;
		json_array_append(op->acc, (json_t *)r);
	}
	if (json_object_get(op->out, "sha") == json_null() &&
	    ght_str(json_array_get(runs, 0), "head_sha") != NULL)
		json_object_set_new(op->out, "sha", json_string(ght_str(
		    json_array_get(runs, 0), "head_sha")));
	if (res->next_url != NULL && (long)json_array_size(op->acc) <
	    op->max && op->pages < CHK_PAGES_MAX) {
		op_send_url(op, res->next_url, runs_page);
		return;
	}
	runs_end(op, ght_int(res->body, "total_count", 0));
}

static void
status_done(struct op *op, struct gh_result *res)
{
	const json_t *b = res->body;
	long n;

	if (res->err != GH_OK) {
		op_gh_error(op, res, "reading the commit statuses");
		return;
	}
	n = ght_int(b, "total_count", 0);
	if (n > (long)json_array_size(json_object_get(b, "statuses")))
		op_note(op, "the first %zu of %ld commit statuses were read",
		    json_array_size(json_object_get(b, "statuses")), n);
	json_object_set_new(op->out, "sha", ght_str_or_null(ght_str(b,
	    "sha")));
	json_object_set(op->out, "status_", (json_t *)b);
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, runs_page,
	    "/repos/%s/%s/commits/%s/check-runs?per_page=%ld", op->owner,
	    op->repo, op->s[0], op->max < CHK_PAGE ? op->max : CHK_PAGE);
}

void
tool_get_commit_checks(struct mcp_call *call, const json_t *args, void *u)
{
	const char *ref = ght_str(args, "ref");
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	if (!ght_ref_ok(ref)) {
		op_error(op, "ref '%s' has an empty, '.' or '..' segment: give "
		    "a branch, a tag or a commit SHA", ref ? ref : "");
		return;
	}
	op->max = ght_int(args, "maxRuns", CHK_RUNS_DEFAULT);
	op->n = ght_int(args, "maxTextBytes", GHT_CHECK_TEXT_DEFAULT);
	if ((op->s[0] = ght_enc(ref, 1)) == NULL ||
	    (op->acc = json_array()) == NULL ||
	    (op->out = json_pack("{s:s, s:n}", "ref", ref, "sha")) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	/*
	 * Conditional: a wait step asks again and again, and a 304 (the
	 * cached answer is still the news) costs no rate limit.
	 */
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, status_done,
	    "/repos/%s/%s/commits/%s/status?per_page=100", op->owner,
	    op->repo, op->s[0]);
}
