/*
 * tools: the op machinery shared by every afu9-github tool, the compact
 * result helpers, Link-paged listing, and the tool table with its schemas.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/srvmain.h"
#include "common/text.h"
#include "github/tools.h"

/* ---- the op ---- */

static void
op_free(void *arg)
{
	struct op *op = arg;
	size_t i;

	if (op->req != NULL)
		gh_cancel(op->req);
	for (i = 0; i < sizeof(op->s) / sizeof(op->s[0]); i++)
		free(op->s[i]);
	json_decref(op->acc);
	json_decref(op->out);
	json_decref(op->notes);
	free(op);
}

static void
op_cancel(struct mcp_call *call, void *arg)
{
	op_free(arg);
}

/* "." and ".." would be path segments that URL normalisation removes. */
static int
dot_name(const char *s)
{
	return s != NULL && (strcmp(s, ".") == 0 || strcmp(s, "..") == 0);
}

struct op *
op_new(struct mcp_call *call, const json_t *args, void *udata)
{
	struct op *op;
	json_t *notes;

	if ((op = srv_op_alloc(call, sizeof(*op), &notes)) == NULL)
		return NULL;
	op->notes = notes;
	op->call = call;
	op->gh = udata;
	op->args = args;
	op->owner = ght_str(args, "owner");
	op->repo = ght_str(args, "repo");
	mcp_call_on_cancel(call, op_cancel, op);
	if (dot_name(op->owner) || dot_name(op->repo)) {
		op_error(op, "'%s' is not a valid %s name", dot_name(op->owner) ?
		    op->owner : op->repo, dot_name(op->owner) ? "owner" :
		    "repository");
		return NULL;
	}
	return op;
}

static void
op_gh_done(struct gh_req *req, struct gh_result *res, void *arg)
{
	struct op *op = arg;
	op_fn fn = op->next;

	op->req = NULL;
	op->next = NULL;
	fn(op, res);
	json_decref(res->body);
	res->body = NULL;
}

/* Start path (owned here) with the op's continuation. */
static void
op_start(struct op *op, const char *method, const char *path,
    const json_t *body, int flags, op_fn next)
{
	op->next = next;
	op->req = gh_request(op->gh, method, path, body, flags, op_gh_done, op);
	if (op->req == NULL)
		op_error(op, "could not start %s %s: the request is too large "
		    "or malformed, or memory ran out", method, path);
}

void
op_send(struct op *op, const char *method, const json_t *body, int flags,
    op_fn next, const char *fmt, ...)
{
	va_list ap;
	char *path;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&path, fmt, ap);
	va_end(ap);
	if (n < 0) {
		op_error(op, "out of memory");
		return;
	}
	op_start(op, method, path, body, flags, next);
	free(path);
}

void
op_send_url(struct op *op, const char *url, op_fn next)
{
	op_start(op, "GET", url, NULL, GH_F_CONDITIONAL, next);
}

void
op_return(struct op *op, json_t *structured)
{
	srv_call_return(op->call, structured, op->notes, op_free, op);
}

void
op_error(struct op *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	srv_call_verror(op->call, op_free, op, fmt, ap);
	va_end(ap);
}

void
op_gh_error(struct op *op, const struct gh_result *res, const char *prefix)
{
	const char *m = res->message ? res->message : "unknown GitHub error";

	if (prefix != NULL)
		op_error(op, "%s: %s", prefix, m);
	else
		op_error(op, "%s", m);
}

void
op_note(struct op *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	srv_vnote(op->notes, 0, fmt, ap);
	va_end(ap);
}

/* ---- helpers ---- */

char *
ght_enc(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s), i, o = 0;
	unsigned char c;
	char *out;

	if ((out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || (keep_slash && c == '/'))
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

const char *
ght_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

json_t *
ght_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

long
ght_int(const json_t *o, const char *key, long dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

json_t *
ght_text(struct op *op, const char *s, size_t cap, const char *what)
{
	struct ghtext t;
	json_t *v;

	if (s == NULL)
		return json_null();
	if (ghtext_clean(s, strlen(s), cap, GHTEXT_STRIP, &t) == -1)
		return json_string("");
	if (t.invisible > 0)
		op_note(op, "removed %zu invisible Unicode character%s (tag, "
		    "bidirectional-control or zero-width) from %s: such "
		    "characters can hide text from people reading it on "
		    "GitHub", t.invisible, t.invisible == 1 ? "" : "s", what);
	if (t.cut > 0)
		op_note(op, "%s cut at %zu bytes: %zu more bytes not shown",
		    what, cap, t.cut);
	v = json_stringn(t.s, t.len);
	free(t.s);
	return v != NULL ? v : json_string("");
}

json_t *
ght_login(const json_t *user)
{
	return ght_str_or_null(ght_str(user, "login"));
}

json_t *
ght_logins(const json_t *users)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < json_array_size(users); i++) {
		const char *l = ght_str(json_array_get(users, i), "login");

		if (l != NULL)
			json_array_append_new(a, json_string(l));
	}
	return a;
}

json_t *
ght_labels(struct op *op, const json_t *labels)
{
	json_t *a = json_array(), *l;
	size_t i;

	for (i = 0; i < json_array_size(labels); i++) {
		l = json_array_get(labels, i);
		if (json_is_string(l))
			json_array_append_new(a, ght_text(op,
			    json_string_value(l), GHT_TITLE_CAP, "a label"));
		else if (ght_str(l, "name") != NULL)
			json_array_append_new(a, ght_text(op, ght_str(l, "name"),
			    GHT_TITLE_CAP, "a label"));
	}
	return a;
}

int
ght_default_branch(struct op *op, const json_t *repo, int slot)
{
	const char *b = ght_str(repo, "default_branch");

	if (b == NULL || *b == '\0') {
		op_error(op, "%s/%s has no default branch (an empty repository?): "
		    "name the branch to use explicitly", op->owner, op->repo);
		return -1;
	}
	free(op->s[slot]);
	if ((op->s[slot] = strdup(b)) == NULL) {
		op_error(op, "out of memory");
		return -1;
	}
	return 0;
}

int
ght_qadd(char *q, size_t qlen, const char *name, const char *value)
{
	char *e;
	size_t n = strlen(q);
	int r;

	if (value == NULL)
		return 0;
	if ((e = ght_enc(value, 0)) == NULL)
		return -1;
	r = snprintf(q + n, qlen - n, "%s%s=%s", n ? "&" : "", name, e);
	free(e);
	return r < 0 || (size_t)r >= qlen - n ? -1 : 0;
}

const char *
ght_nondefault(const char *v, const char *dflt)
{
	return v != NULL && strcmp(v, dflt) != 0 ? v : NULL;
}

/* ---- paged listing ---- */

static void list_page(struct op *, struct gh_result *);

static void
list_end(struct op *op, int has_more)
{
	json_t *out = json_pack("{s:O, s:I, s:b}", "items", op->acc,
	    "count", (json_int_t)json_array_size(op->acc), "hasMore", has_more);

	if (has_more)
		op_note(op, "more items exist: raise maxItems (up to %d) or "
		    "narrow the query", GHT_LIST_MAX);
	op_return(op, out);
}

static void
list_page(struct op *op, struct gh_result *res)
{
	json_t *it;
	size_t i, n;

	if (res->err != GH_OK) {
		op_gh_error(op, res, NULL);
		return;
	}
	if (!json_is_array(res->body)) {
		op_error(op, "GitHub answered a list request with something "
		    "other than a list");
		return;
	}
	op->pages++;
	n = json_array_size(res->body);
	for (i = 0; i < n; i++) {
		if ((long)json_array_size(op->acc) >= op->max) {
			list_end(op, 1);
			return;
		}
		if ((it = op->keep(op, json_array_get(res->body, i))) != NULL)
			json_array_append_new(op->acc, it);
	}
	if (res->next_url == NULL) {
		list_end(op, 0);
		return;
	}
	if ((long)json_array_size(op->acc) >= op->max ||
	    op->pages >= GHT_MAX_PAGES) {
		list_end(op, 1);
		return;
	}
	op_send_url(op, res->next_url, list_page);
}

void
ght_list(struct op *op, const char *first, ght_keep_fn keep)
{
	if ((op->acc = json_array()) == NULL) {
		op_error(op, "out of memory");
		return;
	}
	op->keep = keep;
	op_send(op, "GET", NULL, GH_F_CONDITIONAL, list_page, "%s", first);
}
