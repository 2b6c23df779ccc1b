/*
 * Repository tools: getRepository, getFileContents, createBranch,
 * pushFiles.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/text.h"
#include "github/tools.h"

#define DIR_MAX_ENTRIES	1000

/* Non-zero for 40 hex digits: a commit SHA rather than a branch name. */
static int
is_sha(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (s[i] == '\0' || strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return 0;
	return s[40] == '\0';
}

/*
 * A path a model may name: relative, no empty, "." or ".." segment.  Its
 * leading slashes are skipped.  NULL when it is unusable.
 */
static const char *
clean_path(const char *p)
{
	const char *seg;
	size_t n;

	while (*p == '/')
		p++;
	for (seg = p; *seg != '\0'; seg += n + (seg[n] == '/')) {
		n = strcspn(seg, "/");
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return NULL;
	}
	return p;
}

/* ---- getRepository ---- */

static void
repo_done(struct op *op, struct gh_result *res)
{
	const json_t *b = res->body;
	json_t *out;

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	out = json_pack("{s:o, s:o, s:b, s:o, s:o, s:o, s:b, s:b, s:o, s:O*,"
	    " s:I, s:I, s:I, s:o}",
	    "fullName", ght_str_or_null(ght_str(b, "full_name")),
	    "description", ght_text(op, ght_str(b, "description"),
	    GHT_TITLE_CAP, "the description"),
	    "private", json_is_true(json_object_get(b, "private")),
	    "visibility", ght_str_or_null(ght_str(b, "visibility")),
	    "defaultBranch", ght_str_or_null(ght_str(b, "default_branch")),
	    "htmlUrl", ght_str_or_null(ght_str(b, "html_url")),
	    "archived", json_is_true(json_object_get(b, "archived")),
	    "fork", json_is_true(json_object_get(b, "fork")),
	    "language", ght_str_or_null(ght_str(b, "language")),
	    "topics", json_object_get(b, "topics"),
	    "stars", (json_int_t)ght_int(b, "stargazers_count", 0),
	    "forks", (json_int_t)ght_int(b, "forks_count", 0),
	    "openIssues", (json_int_t)ght_int(b, "open_issues_count", 0),
	    "pushedAt", ght_str_or_null(ght_str(b, "pushed_at")));
	if (out != NULL && json_is_object(json_object_get(b, "permissions")))
		json_object_set(out, "permissions",
		    json_object_get(b, "permissions"));
	op_return(op, out);
}

void
tool_get_repository(struct mcp_call *call, const json_t *args, void *u)
{
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, repo_done, "/repos/%s/%s",
	    op->owner, op->repo);
}

/* ---- getFileContents ---- */

static json_t *
dir_listing(struct op *op, const json_t *arr)
{
	json_t *a = json_array(), *e;
	size_t i, n = json_array_size(arr);

	for (i = 0; i < n && i < DIR_MAX_ENTRIES; i++) {
		e = json_array_get(arr, i);
		json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:I}",
		    "name", ght_str_or_null(ght_str(e, "name")),
		    "path", ght_str_or_null(ght_str(e, "path")),
		    "type", ght_str_or_null(ght_str(e, "type")),
		    "size", (json_int_t)ght_int(e, "size", 0)));
	}
	if (n > DIR_MAX_ENTRIES)
		op_note(op, "directory listing cut at %d of %zu entries",
		    DIR_MAX_ENTRIES, n);
	return a;
}

/* Decode the base64 file content into out; -1 (op ended) on failure. */
static int
file_decode(struct op *op, const json_t *b, unsigned char **bin, size_t *len)
{
	const char *c = ght_str(b, "content"), *enc = ght_str(b, "encoding");
	size_t clen;

	*bin = NULL;
	*len = 0;
	if (c == NULL || enc == NULL || strcmp(enc, "base64") != 0) {
		op_error(op, "%s is %ld bytes: too large for GitHub's contents "
		    "API (1 MB at most); read a smaller file", ght_str(b, "path"),
		    ght_int(b, "size", 0));
		return -1;
	}
	clen = strlen(c);
	if ((*bin = malloc(clen / 4 * 3 + 4)) == NULL) {
		op_error(op, "out of memory");
		return -1;
	}
	if (sodium_base642bin(*bin, clen / 4 * 3 + 4, c, clen, "\r\n ", len,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(*bin);
		*bin = NULL;
		op_error(op, "GitHub sent file content that is not valid "
		    "base64");
		return -1;
	}
	return 0;
}

static void
file_done(struct op *op, struct gh_result *res)
{
	const json_t *b = res->body;
	unsigned char *bin;
	struct ghtext t;
	const char *type;
	size_t len;
	json_t *out;

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (json_is_array(b)) {
		op_return(op, json_pack("{s:s, s:s, s:o}", "path", op->s[0],
		    "type", "dir", "entries", dir_listing(op, b)));
		return;
	}
	type = ght_str(b, "type");
	out = json_pack("{s:o, s:o, s:I, s:o, s:o}",
	    "path", ght_str_or_null(ght_str(b, "path")),
	    "type", ght_str_or_null(type),
	    "size", (json_int_t)ght_int(b, "size", 0),
	    "sha", ght_str_or_null(ght_str(b, "sha")),
	    "htmlUrl", ght_str_or_null(ght_str(b, "html_url")));
	if (out == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op->out = out;
	if (type == NULL || strcmp(type, "file") != 0) {
		if (ght_str(b, "target") != NULL)
			json_object_set_new(out, "target",
			    json_string(ght_str(b, "target")));
		op->out = NULL;
		op_return(op, out);
		return;
	}
	if (file_decode(op, b, &bin, &len) == -1)
		return;
	if (!ghtext_is_text((char *)bin, len)) {
		json_object_set_new(out, "binary", json_true());
		op_note(op, "binary file: its content is not shown");
	} else if (ghtext_clean((char *)bin, len, (size_t)op->max, 0, &t) == 0) {
		json_object_set_new(out, "content", json_stringn(t.s, t.len));
		json_object_set_new(out, "truncated", json_boolean(t.cut > 0));
		if (t.cut > 0)
			op_note(op, "content cut at %ld bytes: %zu more bytes "
			    "not shown (raise maxBytes, up to %u)", op->max,
			    t.cut, GHT_FILE_CAP_MAX);
		if (t.invisible > 0)
			op_note(op, "the file holds %zu invisible Unicode "
			    "character%s (tag, bidirectional-control or "
			    "zero-width), kept as they are", t.invisible,
			    t.invisible == 1 ? "" : "s");
		free(t.s);
	}
	free(bin);
	op->out = NULL;
	op_return(op, out);
}

void
tool_get_file_contents(struct mcp_call *call, const json_t *args, void *u)
{
	const char *path = ght_str(args, "path"), *ref = ght_str(args, "ref");
	struct op *op;
	char *ep, *er = NULL;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	if ((path = clean_path(path != NULL ? path : "")) == NULL) {
		op_error(op, "path '%s' has an empty, '.' or '..' segment: "
		    "give a path relative to the repository root",
		    ght_str(args, "path"));
		return;
	}
	op->max = ght_int(args, "maxBytes", GHT_FILE_CAP_DEFAULT);
	if ((op->s[0] = strdup(path)) == NULL ||
	    (ep = ght_enc(path, 1)) == NULL ||
	    (ref != NULL && (er = ght_enc(ref, 0)) == NULL)) {
		op_error(op, "out of memory");
		return;
	}
	op->s[1] = ep;
	op->s[2] = er;
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, file_done,
	    "/repos/%s/%s/contents/%s%s%s", op->owner, op->repo, ep,
	    er ? "?ref=" : "", er ? er : "");
}

/* ---- createBranch ----
 * s[0] branch (encoded), s[1] from, s[2] from's commit, s[3] the first
 * failure's message.
 *
 * The ref is created first; GitHub's 422 is then the "already there"
 * signal, checked by reading the ref: at from's commit it is the answer
 * (alreadyExisted, a repeat after a lost answer); elsewhere it is an
 * error and the branch is left alone.  No idempotencyKey is needed: the
 * name and the commit say what "already done" is. */

static void branch_create(struct op *);

static void
branch_existing(struct op *op, struct gh_result *res)
{
	const char *sha = ght_str(json_object_get(res->body, "object"), "sha");
	const char *branch = ght_str(op->args, "branch");

	if (res->err == GH_ERR_NOT_FOUND || (res->err == GH_OK && sha == NULL)) {
		op_error(op, "%s", op->s[3]);
		return;
	}
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (strcmp(sha, op->s[2]) != 0) {
		op_error(op, "branch '%s' already exists in %s/%s at commit %s, "
		    "not at %s (the head of '%s'): nothing was changed; use "
		    "another branch name, or work on the existing branch as "
		    "it is", branch, op->owner, op->repo, sha, op->s[2],
		    op->s[1]);
		return;
	}
	op_note(op, "branch '%s' already existed at commit %s: nothing was "
	    "changed", branch, sha);
	op_return(op, json_pack("{s:s, s:s, s:s, s:b, s:b}", "branch", branch,
	    "sha", sha, "from", op->s[1], "created", 0, "alreadyExisted", 1));
}

static void
branch_created(struct op *op, struct gh_result *res)
{
	if (res->err == GH_ERR_VALIDATION) {
		/* "Reference already exists": where is it? */
		if ((op->s[3] = strdup(res->message)) == NULL) {
			op_error(op, "out of memory");
			return;
		}
		op_send(op, "GET", NULL, 0, branch_existing,
		    "/repos/%s/%s/git/ref/heads/%s", op->owner, op->repo,
		    op->s[0]);
		return;
	}
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	op_return(op, json_pack("{s:s, s:s, s:s, s:b, s:b}", "branch",
	    ght_str(op->args, "branch"), "sha", op->s[2], "from", op->s[1],
	    "created", 1, "alreadyExisted", 0));
}

static void
branch_create(struct op *op)
{
	char ref[512];
	json_t *body;

	snprintf(ref, sizeof(ref), "refs/heads/%s", ght_str(op->args,
	    "branch"));
	if ((body = json_pack("{s:s, s:s}", "ref", ref, "sha", op->s[2])) ==
	    NULL) {
		op_error(op, "out of memory");
		return;
	}
	/* a repeat is harmless: it ends in the already-exists check */
	op_send(op, "POST", body, GH_F_IDEMPOTENT, branch_created,
	    "/repos/%s/%s/git/refs", op->owner, op->repo);
	json_decref(body);
}

/*
 * The commit of branch's ref, from GitHub's answer for it, into op->s[2].
 * Returns 0, or -1 with the op ended.  A missing branch is the caller's
 * to explain first.
 */
static int
ref_commit(struct op *op, struct gh_result *res, const char *branch)
{
	const char *sha = ght_str(json_object_get(res->body, "object"), "sha");

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return -1;
	}
	if (sha == NULL || (op->s[2] = strdup(sha)) == NULL) {
		op_error(op, "GitHub's answer for branch '%s' names no commit",
		    branch);
		return -1;
	}
	return 0;
}

static void
branch_from(struct op *op, struct gh_result *res)
{
	if (res->err == GH_ERR_NOT_FOUND) {
		op_error(op, "branch '%s' (to create '%s' from) does not exist "
		    "in %s/%s: name an existing branch or a commit SHA",
		    op->s[1], ght_str(op->args, "branch"), op->owner, op->repo);
		return;
	}
	if (ref_commit(op, res, op->s[1]) == -1)
		return;
	branch_create(op);
}

static void
branch_resolve(struct op *op)
{
	char *e;

	if (is_sha(op->s[1])) {
		if ((op->s[2] = strdup(op->s[1])) == NULL) {
			op_error(op, "out of memory");
			return;
		}
		branch_create(op);
		return;
	}
	if ((e = ght_enc(op->s[1], 1)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op_send(op, "GET", NULL, 0, branch_from,
	    "/repos/%s/%s/git/ref/heads/%s", op->owner, op->repo, e);
	free(e);
}

static void
branch_repo(struct op *op, struct gh_result *res)
{
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (ght_default_branch(op, res->body, 1) == -1)
		return;
	branch_resolve(op);
}

/* A name git accepts for a branch (git check-ref-format, in short). */
static int
ref_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || s[0] == '-' || s[0] == '/' || s[n - 1] == '/' ||
	    s[n - 1] == '.' || strstr(s, "..") || strstr(s, "//") ||
	    strstr(s, "@{") || strstr(s, "/.") || s[0] == '.' ||
	    (n >= 5 && strcmp(s + n - 5, ".lock") == 0) || strcmp(s, "@") == 0)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f ||
		    strchr("~^:?*[\\", *s) != NULL)
			return 0;
	return 1;
}

void
tool_create_branch(struct mcp_call *call, const json_t *args, void *u)
{
	const char *branch = ght_str(args, "branch"), *from;
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	if (!ref_name_ok(branch)) {
		op_error(op, "'%s' is not a valid branch name (git "
		    "check-ref-format): no spaces, '..', '~', '^', ':', '?', "
		    "'*', '[', '\\', and no leading '-' or '.'", branch);
		return;
	}
	if ((op->s[0] = ght_enc(branch, 1)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	if ((from = ght_str(args, "from")) != NULL) {
		if ((op->s[1] = strdup(from)) == NULL) {
			op_error(op, "out of memory");
			return;
		}
		branch_resolve(op);
		return;
	}
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, branch_repo, "/repos/%s/%s",
	    op->owner, op->repo);
}

/* ---- pushFiles ----
 * s[0] branch (encoded), s[1] new tree, s[2] head commit, s[3] base tree,
 * s[4] GitHub's refusal of the first tree; acc: the tree entries; i: the
 * next file to turn into a blob (then, to look up); n: deletions found
 * done already; flag: the tree is being built a second time.
 *
 * "Already done" is recognised on the head commit, before anything is
 * written: with an idempotencyKey, a head whose message carries the
 * trailer "Afu9-Idempotency-Key: KEY" is the first call's commit.  With or
 * without a key, a new tree equal to the head's means the head already
 * has exactly this content (blobs and trees are content-addressed, so
 * building them again changes nothing).  GitHub refuses a tree that
 * deletes a path the base lacks, as a repeat of a push that deleted files
 * does: on that refusal each path to delete is looked up on the head and
 * the ones already gone are left out, once. */

#define KEY_TRAILER	"Afu9-Idempotency-Key: "

static void push_blobs(struct op *);
static void push_tree(struct op *);

/* Non-zero when s[0..n) is a git trailer line, "Token: value". */
static int
trailer_line(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-'))
		i++;
	return i > 0 && i + 1 < n && s[i] == ':' && s[i + 1] == ' ';
}

/*
 * The commit message msg with the key's trailer: in msg's trailer block
 * when its last paragraph (not its first) is one, else as a paragraph of
 * its own.  New malloc'd string, NULL on ENOMEM.
 */
static char *
keyed_message(const char *msg, const char *key)
{
	size_t len = strlen(msg), p, e, q;
	int block = 1;
	char *out;

	while (len > 0 && strchr(" \t\r\n", msg[len - 1]) != NULL)
		len--;
	for (p = len; p >= 2 && !(msg[p - 1] == '\n' && msg[p - 2] == '\n');
	    p--)
		;
	if (p < 2)
		block = 0;
	for (q = p; block && q < len; q = e + 1) {
		e = q + strcspn(msg + q, "\n");
		if (e > len)
			e = len;
		block = trailer_line(msg + q, e - q);
	}
	if (asprintf(&out, "%.*s%s" KEY_TRAILER "%s", (int)len, msg,
	    block ? "\n" : "\n\n", key) < 0)
		return NULL;
	return out;
}

/* Non-zero when a line of msg is exactly the trailer for key. */
static int
has_key_trailer(const char *msg, const char *key)
{
	size_t tl = strlen(KEY_TRAILER), kl = strlen(key), n;

	for (; msg != NULL && *msg != '\0'; msg += n + (msg[n] == '\n')) {
		n = strcspn(msg, "\n");
		if (n >= tl + kl && strncmp(msg, KEY_TRAILER, tl) == 0 &&
		    strncmp(msg + tl, key, kl) == 0 &&
		    strspn(msg + tl + kl, "\r \t") == n - tl - kl)
			return 1;
	}
	return 0;
}

/* The answer when the head already is the push: nothing was written. */
static void
push_existing(struct op *op, const char *parent)
{
	op_return(op, json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:b}",
	    "branch", ght_str(op->args, "branch"), "commit", op->s[2],
	    "parent", parent, "tree", op->s[3], "files",
	    (json_int_t)json_array_size(json_object_get(op->args, "files")),
	    "changed", 0, "alreadyExisted", 1));
}

static void
push_ref_done(struct op *op, struct gh_result *res)
{
	const char *branch = ght_str(op->args, "branch");

	if (res->err == GH_ERR_VALIDATION || res->err == GH_ERR_CONFLICT) {
		op_error(op, "branch '%s' in %s/%s moved while the push ran (it "
		    "is no longer at %s), so the update would not be a "
		    "fast-forward: nothing was changed on the branch; read it "
		    "again and redo the change (%s)", branch, op->owner,
		    op->repo, op->s[2], res->message);
		return;
	}
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	json_object_set_new(op->out, "changed", json_true());
	json_object_set_new(op->out, "alreadyExisted", json_false());
	json_incref(op->out);
	op_return(op, op->out);
}

static void
push_commit_done(struct op *op, struct gh_result *res)
{
	const char *sha = ght_str(res->body, "sha");
	json_t *body;

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (sha == NULL) {
		op_error(op, "GitHub's answer to the commit names no SHA");
		return;
	}
	op->out = json_pack("{s:s, s:s, s:s, s:s, s:I}", "branch",
	    ght_str(op->args, "branch"), "commit", sha, "parent", op->s[2],
	    "tree", op->s[1], "files", (json_int_t)json_array_size(op->acc));
	body = json_pack("{s:s, s:b}", "sha", sha, "force", 0);
	if (op->out == NULL || body == NULL) {
		json_decref(body);
		op_error(op, "out of memory");
		return;
	}
	op_send(op, "PATCH", body, GH_F_IDEMPOTENT, push_ref_done,
	    "/repos/%s/%s/git/refs/heads/%s", op->owner, op->repo, op->s[0]);
	json_decref(body);
}

static void push_absent(struct op *);

/* The first tree was refused: are some deletions done already? */
static int
push_deletes(const struct op *op)
{
	const json_t *f;
	size_t i;

	json_array_foreach(json_object_get(op->args, "files"), i, f)
		if (json_is_true(json_object_get(f, "delete")))
			return 1;
	return 0;
}

static void
push_commit(struct op *op)
{
	const char *key = ght_str(op->args, "idempotencyKey");
	char *msg = NULL;
	json_t *body;

	if (key != NULL && (msg = keyed_message(ght_str(op->args, "message"),
	    key)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	body = json_pack("{s:s, s:s, s:[s]}", "message", msg != NULL ? msg :
	    ght_str(op->args, "message"), "tree", op->s[1], "parents",
	    op->s[2]);
	free(msg);
	if (body == NULL) {
		op_error(op, "out of memory");
		return;
	}
	/* a repeated commit object is unreferenced and harmless */
	op_send(op, "POST", body, GH_F_IDEMPOTENT, push_commit_done,
	    "/repos/%s/%s/git/commits", op->owner, op->repo);
	json_decref(body);
}

static void
push_tree_done(struct op *op, struct gh_result *res)
{
	const char *sha = ght_str(res->body, "sha");

	if (res->err == GH_ERR_VALIDATION && !op->flag && push_deletes(op)) {
		if ((op->s[4] = strdup(res->message)) == NULL) {
			op_error(op, "out of memory");
			return;
		}
		op->flag = 1;
		op->i = 0;
		push_absent(op);
		return;
	}
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (sha == NULL || (op->s[1] = strdup(sha)) == NULL) {
		op_error(op, "GitHub's answer to the tree names no SHA");
		return;
	}
	if (strcmp(op->s[1], op->s[3]) == 0) {
		op_note(op, "the files already have this content on the "
		    "branch: no commit was made");
		push_existing(op, op->s[2]);
		return;
	}
	push_commit(op);
}

static void
push_absent_done(struct op *op, struct gh_result *res)
{
	const char *p = clean_path(ght_str(json_array_get(json_object_get(
	    op->args, "files"), op->i), "path"));
	const json_t *e;
	size_t i;

	if (res->err != GH_OK && res->err != GH_ERR_NOT_FOUND) {
		op_gh_error(op, res, op->s[4]);
		return;
	}
	if (res->err == GH_ERR_NOT_FOUND)
		json_array_foreach(op->acc, i, e)
			if (json_is_null(json_object_get(e, "sha")) &&
			    strcmp(ght_str(e, "path"), p) == 0) {
				json_array_remove(op->acc, i);
				op_note(op, "%s was already deleted on the "
				    "branch", p);
				op->n++;
				break;
			}
	op->i++;
	push_absent(op);
}

/* Look up the next path to delete on the head commit, then build the
   tree again without those already gone. */
static void
push_absent(struct op *op)
{
	const json_t *files = json_object_get(op->args, "files"), *f;
	char *e;

	for (; op->i < json_array_size(files); op->i++) {
		f = json_array_get(files, op->i);
		if (!json_is_true(json_object_get(f, "delete")))
			continue;
		if ((e = ght_enc(clean_path(ght_str(f, "path")), 1)) == NULL) {
			op_error(op, "out of memory");
			return;
		}
		op_send(op, "GET", NULL, 0, push_absent_done,
		    "/repos/%s/%s/contents/%s?ref=%s", op->owner, op->repo, e,
		    op->s[2]);
		free(e);
		return;
	}
	if (op->n == 0) {
		op_error(op, "%s", op->s[4]);
		return;
	}
	if (json_array_size(op->acc) == 0) {
		push_existing(op, op->s[2]);
		return;
	}
	push_tree(op);
}

static void
push_tree(struct op *op)
{
	json_t *body = json_pack("{s:s, s:O}", "base_tree", op->s[3],
	    "tree", op->acc);

	if (body == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op_send(op, "POST", body, GH_F_IDEMPOTENT, push_tree_done,
	    "/repos/%s/%s/git/trees", op->owner, op->repo);
	json_decref(body);
}

static const char *
file_mode(const json_t *f)
{
	const char *m = ght_str(f, "mode");

	return m != NULL ? m : "100644";
}

static void
push_blob_done(struct op *op, struct gh_result *res)
{
	const json_t *f = json_array_get(json_object_get(op->args, "files"),
	    op->i);
	const char *sha = ght_str(res->body, "sha");

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (sha == NULL) {
		op_error(op, "GitHub's answer to a blob names no SHA");
		return;
	}
	json_array_append_new(op->acc, json_pack("{s:s, s:s, s:s, s:s}",
	    "path", clean_path(ght_str(f, "path")), "mode", file_mode(f),
	    "type", "blob", "sha", sha));
	op->i++;
	push_blobs(op);
}

/* Blobs one at a time (content-addressed, so repeats are harmless). */
static void
push_blobs(struct op *op)
{
	const json_t *files = json_object_get(op->args, "files"), *f;
	json_t *body;

	for (; op->i < json_array_size(files); op->i++) {
		f = json_array_get(files, op->i);
		if (json_is_true(json_object_get(f, "delete"))) {
			json_array_append_new(op->acc, json_pack(
			    "{s:s, s:s, s:s, s:n}", "path",
			    clean_path(ght_str(f, "path")), "mode", file_mode(f),
			    "type", "blob", "sha"));
			continue;
		}
		if ((body = json_pack("{s:O, s:s}", "content",
		    json_object_get(f, "content"), "encoding", "utf-8")) ==
		    NULL) {
			op_error(op, "out of memory");
			return;
		}
		op_send(op, "POST", body, GH_F_IDEMPOTENT, push_blob_done,
		    "/repos/%s/%s/git/blobs", op->owner, op->repo);
		json_decref(body);
		return;
	}
	push_tree(op);
}

static void
push_base_done(struct op *op, struct gh_result *res)
{
	const char *t = ght_str(json_object_get(res->body, "tree"), "sha");
	const char *key = ght_str(op->args, "idempotencyKey"), *parent;

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (t == NULL || (op->s[3] = strdup(t)) == NULL) {
		op_error(op, "GitHub's answer for commit %s names no tree",
		    op->s[2]);
		return;
	}
	if (key != NULL && has_key_trailer(ght_str(res->body, "message"),
	    key)) {
		parent = ght_str(json_array_get(json_object_get(res->body,
		    "parents"), 0), "sha");
		op_note(op, "the head commit %s carries this idempotencyKey: "
		    "the push was made already and nothing was pushed",
		    op->s[2]);
		push_existing(op, parent != NULL ? parent : op->s[2]);
		return;
	}
	push_blobs(op);
}

static void
push_head_done(struct op *op, struct gh_result *res)
{
	if (res->err == GH_ERR_NOT_FOUND) {
		op_error(op, "branch '%s' does not exist in %s/%s (or the token "
		    "cannot see the repository): create it first with "
		    "createBranch", ght_str(op->args, "branch"), op->owner,
		    op->repo);
		return;
	}
	if (ref_commit(op, res, ght_str(op->args, "branch")) == -1)
		return;
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, push_base_done,
	    "/repos/%s/%s/git/commits/%s", op->owner, op->repo, op->s[2]);
}

/* Check the file list: every entry usable, no path twice, bounded. */
static int
push_check(struct op *op, const json_t *files)
{
	const json_t *f, *c, *g;
	size_t i, j, total = 0;
	const char *p;
	int del;

	for (i = 0; i < json_array_size(files); i++) {
		f = json_array_get(files, i);
		c = json_object_get(f, "content");
		del = json_is_true(json_object_get(f, "delete"));
		if ((p = clean_path(ght_str(f, "path"))) == NULL || *p == '\0') {
			op_error(op, "files[%zu]: path '%s' is empty or has an "
			    "empty, '.' or '..' segment", i, ght_str(f, "path"));
			return -1;
		}
		if ((c != NULL) == del) {
			op_error(op, "files[%zu] (%s): give either content or "
			    "delete: true, not %s", i, p, del ? "both" :
			    "neither");
			return -1;
		}
		total += c != NULL ? json_string_length(c) : 0;
		for (j = 0; j < i; j++) {
			g = json_array_get(files, j);
			if (strcmp(clean_path(ght_str(g, "path")), p) == 0) {
				op_error(op, "files[%zu]: path '%s' also appears "
				    "in files[%zu]", i, p, j);
				return -1;
			}
		}
	}
	if (total > GHT_PUSH_MAX_BYTES) {
		op_error(op, "the files hold %zu bytes in all, more than the %u "
		    "one push may carry: split the change into several pushes",
		    total, GHT_PUSH_MAX_BYTES);
		return -1;
	}
	return 0;
}

void
tool_push_files(struct mcp_call *call, const json_t *args, void *u)
{
	const char *branch = ght_str(args, "branch");
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	if (!ref_name_ok(branch)) {
		op_error(op, "'%s' is not a valid branch name", branch);
		return;
	}
	if (push_check(op, json_object_get(args, "files")) == -1)
		return;
	if ((op->s[0] = ght_enc(branch, 1)) == NULL ||
	    (op->acc = json_array()) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op_send(op, "GET", NULL, 0, push_head_done,
	    "/repos/%s/%s/git/ref/heads/%s", op->owner, op->repo, op->s[0]);
}

/* ---- getRepositoryTree ----
 * s[0] the ref, s[1] the path prefix ("" for all), s[2] the ref
 * percent-encoded; max the most entries.
 *
 * One GET of the Git Data API's recursive tree: every path of the
 * repository at the ref in one answer, so a model can see the layout
 * before it reads files.  GitHub itself cuts a recursive tree it finds
 * too large (100,000 entries or 7 MB) and says so with "truncated";
 * that flag is passed on, and a note says how to see the rest. */

/* "file", "dir", "symlink" or "submodule" for a tree entry. */
static const char *
tree_kind(const json_t *e)
{
	const char *type = ght_str(e, "type"), *mode = ght_str(e, "mode");

	if (type != NULL && strcmp(type, "tree") == 0)
		return "dir";
	if (type != NULL && strcmp(type, "commit") == 0)
		return "submodule";
	if (mode != NULL && strcmp(mode, "120000") == 0)
		return "symlink";
	return "file";
}

/* Is path under prefix (itself, or below it at a '/')? */
static int
tree_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	return n == 0 || (strncmp(path, prefix, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/'));
}

static void
tree_done(struct op *op, struct gh_result *res)
{
	const json_t *tree = json_object_get(res->body, "tree"), *e;
	const char *p, *kind;
	json_t *entries, *it, *out;
	long matched = 0;
	size_t i;
	int truncated;

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (!json_is_array(tree)) {
		op_error(op, "GitHub's tree answer for %s has no tree list",
		    op->s[0]);
		return;
	}
	if ((entries = json_array()) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	json_array_foreach(tree, i, e) {
		if ((p = ght_str(e, "path")) == NULL || !tree_under(p, op->s[1]))
			continue;
		if (matched++ >= op->max)
			continue;
		kind = tree_kind(e);
		it = strcmp(kind, "file") == 0 ? json_pack("{s:s, s:s, s:I}",
		    "path", p, "type", kind, "size",
		    (json_int_t)ght_int(e, "size", 0)) :
		    json_pack("{s:s, s:s}", "path", p, "type", kind);
		json_array_append_new(entries, it);
	}
	truncated = json_is_true(json_object_get(res->body, "truncated"));
	if (truncated)
		op_note(op, "GitHub cut this tree (it lists at most 100,000 "
		    "entries or 7 MB): entries are missing; list a directory "
		    "with getFileContents, or name one as path");
	if (matched > op->max)
		op_note(op, "%ld entries match; the first %ld are shown (raise "
		    "maxEntries, up to %d, or narrow path)", matched, op->max,
		    GHT_TREE_MAX);
	if (matched == 0 && op->s[1][0] != '\0')
		op_note(op, "nothing in %s/%s at %s is under '%s'", op->owner,
		    op->repo, op->s[0], op->s[1]);
	out = json_pack("{s:s, s:o, s:s, s:o, s:I, s:I, s:b, s:b}",
	    "ref", op->s[0], "sha", ght_str_or_null(ght_str(res->body, "sha")),
	    "path", op->s[1], "entries", entries,
	    "count", (json_int_t)json_array_size(entries),
	    "matched", (json_int_t)matched, "truncated", truncated,
	    "hasMore", matched > op->max);
	op_return(op, out);
}

static void
tree_get(struct op *op)
{
	if ((op->s[2] = ght_enc(op->s[0], 1)) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, tree_done,
	    "/repos/%s/%s/git/trees/%s?recursive=1", op->owner, op->repo,
	    op->s[2]);
}

static void
tree_repo(struct op *op, struct gh_result *res)
{
	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (ght_default_branch(op, res->body, 0) == -1)
		return;
	tree_get(op);
}

void
tool_get_repository_tree(struct mcp_call *call, const json_t *args, void *u)
{
	const char *ref = ght_str(args, "ref"), *path = ght_str(args, "path");
	char *p;
	size_t n;
	struct op *op;

	if ((op = op_new(call, args, u)) == NULL)
		return;
	if ((path = clean_path(path != NULL ? path : "")) == NULL) {
		op_error(op, "path '%s' has an empty, '.' or '..' segment: "
		    "give a directory relative to the repository root",
		    ght_str(args, "path"));
		return;
	}
	if (ref != NULL && !ght_ref_ok(ref)) {
		op_error(op, "ref '%s' has an empty, '.' or '..' segment: give "
		    "a branch, a tag or a commit SHA", ref);
		return;
	}
	op->max = ght_int(args, "maxEntries", GHT_TREE_DEFAULT);
	if ((p = strdup(path)) == NULL || (ref != NULL &&
	    (op->s[0] = strdup(ref)) == NULL)) {
		free(p);
		op_error(op, "out of memory");
		return;
	}
	/* "src/" names the directory "src" */
	for (n = strlen(p); n > 0 && p[n - 1] == '/'; n--)
		p[n - 1] = '\0';
	op->s[1] = p;
	if (ref != NULL) {
		tree_get(op);
		return;
	}
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, tree_repo, "/repos/%s/%s",
	    op->owner, op->repo);
}
