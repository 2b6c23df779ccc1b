/*
 * expr: parse and evaluate workflow expressions (see expr.h).
 *
 * A recursive-descent parser over a bounded text, depth-limited, into a
 * small tree; evaluation walks the tree with jansson values.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr.h"
#include "log.h"

enum node_kind {
	N_LIT,		/* lit */
	N_REF,		/* path[0..npath) */
	N_NOT,		/* a */
	N_AND, N_OR,	/* a, b */
	N_EQ, N_NE, N_LT, N_GT, N_LE, N_GE,
	N_CONTAINS, N_STARTS,
};

struct seg {
	char		*name;		/* NULL: an index */
	size_t		 index;
};

struct expr {
	enum node_kind	 kind;
	json_t		*lit;
	struct seg	*path;
	size_t		 npath;
	char		*text;		/* N_REF: as written, for messages */
	struct expr	*a, *b;
};

struct parser {
	const char	*p, *end;
	int		 depth;
	char		*err;
	size_t		 errlen;
	int		 failed;
};

/* The first error of a parse wins (errfmt: the one error formatter). */
#define perr(ps, ...) ((void)((ps)->failed ? 0 : ((ps)->failed = 1,	\
	errfmt((ps)->err, (ps)->errlen, __VA_ARGS__))))

void
expr_free(struct expr *e)
{
	size_t i;

	if (e == NULL)
		return;
	json_decref(e->lit);
	for (i = 0; i < e->npath; i++)
		free(e->path[i].name);
	free(e->path);
	free(e->text);
	expr_free(e->a);
	expr_free(e->b);
	free(e);
}

static struct expr *
node(struct parser *ps, enum node_kind k, struct expr *a, struct expr *b)
{
	struct expr *e;

	if (ps->failed || (e = calloc(1, sizeof(*e))) == NULL) {
		if (!ps->failed)
			perr(ps, "out of memory");
		expr_free(a);
		expr_free(b);
		return NULL;
	}
	e->kind = k;
	e->a = a;
	e->b = b;
	return e;
}

static void
ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
	    *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* Is the next token s (then consumed)? */
static int
eat(struct parser *ps, const char *s)
{
	size_t n = strlen(s);

	ws(ps);
	if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, s, n) == 0) {
		ps->p += n;
		return 1;
	}
	return 0;
}

static int
ident_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (!first && ((c >= '0' && c <= '9') || c == '-'));
}

/* An identifier at p, malloc'd; NULL (and an error) when none. */
static char *
ident(struct parser *ps)
{
	const char *s = ps->p;
	char *r;

	if (ps->p == ps->end || !ident_char(*ps->p, 1)) {
		perr(ps, "a name expected near '%.16s'", ps->p);
		return NULL;
	}
	while (ps->p < ps->end && ident_char(*ps->p, 0))
		ps->p++;
	if ((r = strndup(s, (size_t)(ps->p - s))) == NULL)
		perr(ps, "out of memory");
	return r;
}

static struct expr	*p_or(struct parser *);

static struct expr *
p_string(struct parser *ps)
{
	char q = *ps->p++, *buf, *o;
	const char *s = ps->p;
	json_t *v;
	struct expr *e;

	if ((o = buf = malloc((size_t)(ps->end - s) + 1)) == NULL) {
		perr(ps, "out of memory");
		return NULL;
	}
	for (; ps->p < ps->end && *ps->p != q; ps->p++) {
		if (*ps->p != '\\') {
			*o++ = *ps->p;
			continue;
		}
		if (++ps->p == ps->end)
			break;
		switch (*ps->p) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case '\\': case '\'': case '"': *o++ = *ps->p; break;
		default:
			free(buf);
			perr(ps, "unknown escape \\%c in a string", *ps->p);
			return NULL;
		}
	}
	if (ps->p == ps->end) {
		free(buf);
		perr(ps, "unterminated string");
		return NULL;
	}
	ps->p++;
	/* json_stringn() fails on memory and on bad UTF-8; the unchecked
	   form tells which */
	if ((v = json_stringn(buf, (size_t)(o - buf))) == NULL) {
		v = json_stringn_nocheck(buf, (size_t)(o - buf));
		perr(ps, v != NULL ? "a string literal that is not UTF-8" :
		    "out of memory");
		json_decref(v);
		free(buf);
		return NULL;
	}
	free(buf);
	if ((e = node(ps, N_LIT, NULL, NULL)) == NULL) {
		json_decref(v);
		return NULL;
	}
	e->lit = v;
	return e;
}

static struct expr *
p_number(struct parser *ps)
{
	char buf[64], *end;
	const char *s = ps->p;
	size_t n;
	double d;
	long long ll;
	struct expr *e;

	while (ps->p < ps->end && strchr("0123456789.eE+-", *ps->p) != NULL)
		ps->p++;
	if ((n = (size_t)(ps->p - s)) >= sizeof(buf)) {
		perr(ps, "number too long");
		return NULL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((e = node(ps, N_LIT, NULL, NULL)) == NULL)
		return NULL;
	errno = 0;
	ll = strtoll(buf, &end, 10);
	if (*end == '\0' && errno == 0)
		e->lit = json_integer(ll);
	else {
		d = strtod(buf, &end);
		if (*end != '\0' || !isfinite(d)) {
			perr(ps, "not a number: %s", buf);
			expr_free(e);
			return NULL;
		}
		e->lit = json_real(d);
	}
	if (e->lit == NULL) {
		perr(ps, "out of memory");
		expr_free(e);
		return NULL;
	}
	return e;
}

/* ref := ident ('.' ident | '[' digits ']')*; the first ident read. */
static struct expr *
p_ref(struct parser *ps, char *first, const char *start)
{
	static const char *const roots[] = { "inputs", "steps", "execution",
	    "env", "event" };
	struct expr *e;
	struct seg *sg;
	size_t i, v;

	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strcmp(first, roots[i]) == 0)
			break;
	if (i == sizeof(roots) / sizeof(roots[0])) {
		perr(ps, "unknown name '%s' (references start with inputs, "
		    "steps, execution, env or, in webhook rules, event)",
		    first);
		free(first);
		return NULL;
	}
	if ((e = node(ps, N_REF, NULL, NULL)) == NULL ||
	    (e->path = calloc(EXPR_PATH_MAX, sizeof(*e->path))) == NULL) {
		perr(ps, "out of memory");
		free(first);
		expr_free(e);
		return NULL;
	}
	e->path[e->npath++].name = first;
	for (;;) {
		if ((ps->p < ps->end && (*ps->p == '.' || *ps->p == '[')) &&
		    e->npath == EXPR_PATH_MAX)
			break;
		if (ps->p < ps->end && *ps->p == '.') {
			ps->p++;
			sg = &e->path[e->npath];
			if ((sg->name = ident(ps)) == NULL)
				break;
			e->npath++;
		} else if (ps->p < ps->end && *ps->p == '[') {
			ps->p++;
			for (v = 0; ps->p < ps->end && *ps->p >= '0' &&
			    *ps->p <= '9' && v < 1000000; ps->p++)
				v = v * 10 + (size_t)(*ps->p - '0');
			if (ps->p == ps->end || *ps->p != ']' ||
			    ps->p[-1] == '[') {
				perr(ps, "an index [N] expected");
				break;
			}
			ps->p++;
			e->path[e->npath++].index = v;
		} else
			break;
	}
	if (!ps->failed && e->npath == EXPR_PATH_MAX && ps->p < ps->end &&
	    (*ps->p == '.' || *ps->p == '['))
		perr(ps, "a reference longer than %d segments",
		    EXPR_PATH_MAX);
	if (!ps->failed && (e->text = strndup(start,
	    (size_t)(ps->p - start))) == NULL)
		perr(ps, "out of memory");
	if (ps->failed) {
		expr_free(e);
		return NULL;
	}
	return e;
}

static struct expr *
p_primary(struct parser *ps)
{
	struct expr *e, *a, *b;
	const char *start;
	enum node_kind k;
	char *id;

	ws(ps);
	if (ps->p == ps->end) {
		perr(ps, "unexpected end of the expression");
		return NULL;
	}
	if (eat(ps, "(")) {
		e = p_or(ps);
		if (e != NULL && !eat(ps, ")")) {
			perr(ps, "')' expected");
			expr_free(e);
			return NULL;
		}
		return e;
	}
	if (*ps->p == '\'' || *ps->p == '"')
		return p_string(ps);
	if ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '-')
		return p_number(ps);
	start = ps->p;
	if ((id = ident(ps)) == NULL)
		return NULL;
	if (strcmp(id, "true") == 0 || strcmp(id, "false") == 0 ||
	    strcmp(id, "null") == 0) {
		e = node(ps, N_LIT, NULL, NULL);
		if (e != NULL && (e->lit = *id == 't' ? json_true() :
		    *id == 'f' ? json_false() : json_null()) == NULL) {
			expr_free(e);
			e = NULL;
		}
		free(id);
		return e;
	}
	if (strcmp(id, "contains") == 0 || strcmp(id, "startsWith") == 0) {
		k = *id == 'c' ? N_CONTAINS : N_STARTS;
		free(id);
		if (!eat(ps, "(")) {
			perr(ps, "'(' expected after the function name");
			return NULL;
		}
		if ((a = p_or(ps)) == NULL)
			return NULL;
		if (!eat(ps, ",")) {
			perr(ps, "',' expected between the arguments");
			expr_free(a);
			return NULL;
		}
		if ((b = p_or(ps)) == NULL) {
			expr_free(a);
			return NULL;
		}
		if (!eat(ps, ")")) {
			perr(ps, "')' expected after the arguments");
			expr_free(a);
			expr_free(b);
			return NULL;
		}
		return node(ps, k, a, b);
	}
	return p_ref(ps, id, start);
}

static struct expr *
p_not(struct parser *ps)
{
	struct expr *a;

	ws(ps);
	if (ps->p < ps->end && *ps->p == '!' &&
	    (ps->p + 1 == ps->end || ps->p[1] != '=')) {
		ps->p++;
		if (++ps->depth > EXPR_DEPTH_MAX) {
			perr(ps, "nested deeper than %d levels",
			    EXPR_DEPTH_MAX);
			return NULL;
		}
		a = p_not(ps);
		ps->depth--;
		return a == NULL ? NULL : node(ps, N_NOT, a, NULL);
	}
	return p_primary(ps);
}

static struct expr *
p_cmp(struct parser *ps)
{
	static const struct { const char *op; enum node_kind k; } ops[] = {
		{ "==", N_EQ }, { "!=", N_NE }, { "<=", N_LE }, { ">=", N_GE },
		{ "<", N_LT }, { ">", N_GT },
	};
	struct expr *a, *b;
	size_t i;

	if ((a = p_not(ps)) == NULL)
		return NULL;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (eat(ps, ops[i].op)) {
			if ((b = p_not(ps)) == NULL) {
				expr_free(a);
				return NULL;
			}
			return node(ps, ops[i].k, a, b);
		}
	return a;
}

static struct expr *
p_and(struct parser *ps)
{
	struct expr *a, *b;

	if ((a = p_cmp(ps)) == NULL)
		return NULL;
	while (eat(ps, "&&")) {
		if ((b = p_cmp(ps)) == NULL) {
			expr_free(a);
			return NULL;
		}
		if ((a = node(ps, N_AND, a, b)) == NULL)
			return NULL;
	}
	return a;
}

static struct expr *
p_or(struct parser *ps)
{
	struct expr *a, *b;

	if (++ps->depth > EXPR_DEPTH_MAX) {
		perr(ps, "nested deeper than %d levels", EXPR_DEPTH_MAX);
		return NULL;
	}
	if ((a = p_and(ps)) != NULL)
		while (eat(ps, "||")) {
			if ((b = p_and(ps)) == NULL) {
				expr_free(a);
				a = NULL;
				break;
			}
			if ((a = node(ps, N_OR, a, b)) == NULL)
				break;
		}
	ps->depth--;
	return a;
}

/* Strip "${{ ... }}" when text is wrapped in it; [s, e) in *s, *e. */
static int
unwrap(const char *text, const char **s, const char **e)
{
	size_t n = strlen(text);

	*s = text;
	*e = text + n;
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
	if (*e - *s >= 5 && strncmp(*s, "${{", 3) == 0) {
		if (strncmp(*e - 2, "}}", 2) != 0)
			return -1;
		*s += 3;
		*e -= 2;
		while (*s < *e && (**s == ' ' || **s == '\t'))
			(*s)++;
	}
	return 0;
}

static struct expr *
parse_span(const char *s, const char *end, char *err, size_t errlen)
{
	struct parser ps = { s, end, 0, err, errlen, 0 };
	struct expr *e;

	if (end - s > EXPR_TEXT_MAX) {
		errfmt(err, errlen, "expression longer than %d bytes",
		    EXPR_TEXT_MAX);
		return NULL;
	}
	e = p_or(&ps);
	ws(&ps);
	if (e != NULL && ps.p != ps.end) {
		perr(&ps, "unexpected '%.*s' at offset %td",
		    (int)(ps.end - ps.p > 16 ? 16 : ps.end - ps.p), ps.p,
		    ps.p - s);
		expr_free(e);
		return NULL;
	}
	return e;
}

struct expr *
expr_parse(const char *text, char *err, size_t errlen)
{
	const char *s, *e;

	if (unwrap(text, &s, &e) == -1) {
		errfmt(err, errlen, "'${{' without its '}}'");
		return NULL;
	}
	if (s == e) {
		errfmt(err, errlen, "empty expression");
		return NULL;
	}
	return parse_span(s, e, err, errlen);
}

int
expr_refs(const struct expr *e,
    int (*fn)(const char *root, const char *first, void *arg), void *arg)
{
	int rc;

	if (e == NULL)
		return 0;
	if (e->kind == N_REF)
		return fn(e->path[0].name, e->npath > 1 ? e->path[1].name :
		    NULL, arg);
	if ((rc = expr_refs(e->a, fn, arg)) != 0)
		return rc;
	return expr_refs(e->b, fn, arg);
}

/* ---- evaluation ---- */

static json_t *
resolve(const struct expr *e, const json_t *ctx, char *err, size_t errlen)
{
	const json_t *v = ctx;
	size_t i;

	for (i = 0; i < e->npath; i++) {
		if (e->path[i].name != NULL) {
			if (!json_is_object(v) || (v = json_object_get(v,
			    e->path[i].name)) == NULL) {
				errfmt(err, errlen, "unresolved reference %s: "
				    "no '%s'", e->text, e->path[i].name);
				return NULL;
			}
		} else if (!json_is_array(v) || (v = json_array_get(v,
		    e->path[i].index)) == NULL) {
			errfmt(err, errlen, "unresolved reference %s: no "
			    "element [%zu]", e->text, e->path[i].index);
			return NULL;
		}
	}
	return json_incref((json_t *)v);
}

static int
truthy(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_FALSE:
	case JSON_NULL:
		return 0;
	case JSON_INTEGER:
	case JSON_REAL:
		return json_number_value(v) != 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	default:
		return 1;
	}
}

static json_t	*eval(const struct expr *, const json_t *, char *, size_t);

static json_t *
order(enum node_kind k, const json_t *a, const json_t *b, char *err,
    size_t errlen)
{
	int c;

	if (json_is_number(a) && json_is_number(b))
		c = json_number_value(a) < json_number_value(b) ? -1 :
		    json_number_value(a) > json_number_value(b);
	else if (json_is_string(a) && json_is_string(b))
		c = strcmp(json_string_value(a), json_string_value(b));
	else {
		errfmt(err, errlen, "< > <= >= compare two numbers or two "
		    "strings");
		return NULL;
	}
	return json_boolean(k == N_LT ? c < 0 : k == N_GT ? c > 0 :
	    k == N_LE ? c <= 0 : c >= 0);
}

static json_t *
contains(const json_t *h, const json_t *n, char *err, size_t errlen)
{
	size_t i;

	if (json_is_string(h) && json_is_string(n))
		return json_boolean(strstr(json_string_value(h),
		    json_string_value(n)) != NULL);
	if (json_is_array(h)) {
		for (i = 0; i < json_array_size(h); i++)
			if (json_equal(json_array_get(h, i), (json_t *)n))
				return json_true();
		return json_false();
	}
	errfmt(err, errlen, "contains() takes a string and a string, or an "
	    "array and a value");
	return NULL;
}

static json_t *
binary(const struct expr *e, const json_t *ctx, char *err, size_t errlen)
{
	json_t *a, *b, *r = NULL;

	if ((a = eval(e->a, ctx, err, errlen)) == NULL)
		return NULL;
	if ((e->kind == N_AND && !truthy(a)) || (e->kind == N_OR && truthy(a)))
		return a;		/* short circuit: the deciding value */
	if ((b = eval(e->b, ctx, err, errlen)) == NULL) {
		json_decref(a);
		return NULL;
	}
	switch (e->kind) {
	case N_AND:
	case N_OR:
		r = json_incref(b);
		break;
	case N_EQ:
	case N_NE:
		r = json_boolean((json_equal(a, b) ||
		    (json_is_number(a) && json_is_number(b) &&
		    json_number_value(a) == json_number_value(b))) ==
		    (e->kind == N_EQ));
		break;
	case N_CONTAINS:
		r = contains(a, b, err, errlen);
		break;
	case N_STARTS:
		if (json_is_string(a) && json_is_string(b))
			r = json_boolean(strncmp(json_string_value(a),
			    json_string_value(b), json_string_length(b)) == 0 &&
			    json_string_length(a) >= json_string_length(b));
		else
			errfmt(err, errlen, "startsWith() takes two strings");
		break;
	default:
		r = order(e->kind, a, b, err, errlen);
		break;
	}
	json_decref(a);
	json_decref(b);
	return r;
}

static json_t *
eval(const struct expr *e, const json_t *ctx, char *err, size_t errlen)
{
	json_t *a;
	int t;

	switch (e->kind) {
	case N_LIT:
		return json_incref(e->lit);
	case N_REF:
		return resolve(e, ctx, err, errlen);
	case N_NOT:
		if ((a = eval(e->a, ctx, err, errlen)) == NULL)
			return NULL;
		t = !truthy(a);
		json_decref(a);
		return json_boolean(t);
	default:
		return binary(e, ctx, err, errlen);
	}
}

int
expr_eval(const struct expr *e, const json_t *ctx, json_t **out, char *err,
    size_t errlen)
{
	errfmt(err, errlen, "out of memory");
	*out = eval(e, ctx, err, errlen);
	return *out == NULL ? -1 : 0;
}

int
expr_test(const struct expr *e, const json_t *ctx, char *err, size_t errlen)
{
	json_t *v;
	int t;

	if (expr_eval(e, ctx, &v, err, errlen) == -1)
		return -1;
	t = truthy(v);
	json_decref(v);
	return t;
}

/* ---- templates ---- */

/* The text a value takes inside a longer string; malloc'd. */
static char *
text_of(const json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) :
	    json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* One template string: a new value, or NULL with err. */
static json_t *
tpl_string(const char *s, const json_t *ctx, char *err, size_t errlen)
{
	const char *p = s, *open, *close;
	struct expr *e;
	json_t *v, *r;
	char *t, *acc = NULL, *grown;
	size_t n = 0, tn;

	for (;;) {
		if ((open = strstr(p, "${{")) == NULL)
			break;
		if ((close = strstr(open + 3, "}}")) == NULL) {
			errfmt(err, errlen, "'${{' without its '}}' in \"%.64s\"",
			    s);
			free(acc);
			return NULL;
		}
		if ((e = parse_span(open + 3, close, err, errlen)) == NULL) {
			free(acc);
			return NULL;
		}
		if (ctx == NULL) {		/* a check only */
			expr_free(e);
			p = close + 2;
			continue;
		}
		v = eval(e, ctx, err, errlen);
		expr_free(e);
		if (v == NULL) {
			free(acc);
			return NULL;
		}
		if (open == s && close[2] == '\0' && acc == NULL)
			return v;		/* exactly one: its type */
		t = text_of(v);
		json_decref(v);
		tn = t ? strlen(t) : 0;
		if (t == NULL || (grown = realloc(acc, n +
		    (size_t)(open - p) + tn + 1)) == NULL) {
			free(t);
			free(acc);
			errfmt(err, errlen, "out of memory");
			return NULL;
		}
		acc = grown;
		memcpy(acc + n, p, (size_t)(open - p));
		n += (size_t)(open - p);
		memcpy(acc + n, t, tn);
		n += tn;
		free(t);
		p = close + 2;
	}
	if (acc == NULL) {
		if ((r = json_string(s)) == NULL)
			errfmt(err, errlen, "out of memory");
		return r;
	}
	tn = strlen(p);
	if ((t = realloc(acc, n + tn + 1)) == NULL) {
		free(acc);
		errfmt(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(t + n, p, tn + 1);
	r = json_stringn(t, n + tn);
	free(t);
	if (r == NULL)
		errfmt(err, errlen, "out of memory");
	return r;
}

static json_t *
tpl(const json_t *v, const json_t *ctx, int depth, char *err, size_t errlen)
{
	const char *k;
	json_t *r, *x, *y;
	size_t i;

	if (depth > EXPR_DEPTH_MAX) {
		errfmt(err, errlen, "arguments nested deeper than %d levels",
		    EXPR_DEPTH_MAX);
		return NULL;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		return tpl_string(json_string_value(v), ctx, err, errlen);
	case JSON_OBJECT:
		if ((r = json_object()) == NULL)
			break;
		json_object_foreach((json_t *)v, k, x) {
			if ((y = tpl(x, ctx, depth + 1, err, errlen)) == NULL) {
				json_decref(r);
				return NULL;
			}
			if (json_object_set_new(r, k, y) == -1)
				goto oom;
		}
		return r;
	case JSON_ARRAY:
		if ((r = json_array()) == NULL)
			break;
		json_array_foreach(v, i, x) {
			if ((y = tpl(x, ctx, depth + 1, err, errlen)) == NULL) {
				json_decref(r);
				return NULL;
			}
			if (json_array_append_new(r, y) == -1)
				goto oom;
		}
		return r;
	default:
		return json_incref((json_t *)v);
	}
	errfmt(err, errlen, "out of memory");
	return NULL;
oom:
	json_decref(r);
	errfmt(err, errlen, "out of memory");
	return NULL;
}

int
expr_template(const json_t *v, const json_t *ctx, json_t **out, char *err,
    size_t errlen)
{
	*out = tpl(v, ctx, 0, err, errlen);
	return *out == NULL ? -1 : 0;
}
