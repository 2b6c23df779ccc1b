/*
 * defn: parse and validate workflow definitions (see defn.h).
 *
 * Two passes over the steps: the first takes every id (so a message can
 * tell a later step from one that does not exist), the second checks each
 * step whole, its references and its jumps among them.  The first error
 * wins and names where it is: "step 'ID': field 'F': reason", or "step
 * N: ..." (N from 1) when the step has no valid id yet.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "jschema.h"
#include "log.h"
#include "engine/defn.h"
#include "engine/expr.h"

#define NAME_MAX_LEN	128		/* struct defn name[] */
#define VERSION_MAX	2147483647	/* the workflows.version column */
#define SHOW_MAX	64		/* bytes of the document's text shown */
#define FIELD_MAX	160		/* bytes of a field path shown */
#define WHERE_MAX	(DEFN_ID_MAX + 16)
#define TIME_MAX	40		/* bytes of an ISO 8601 timestamp */

#define TIMEOUT_MAX	604800000ull		/* 7 days */
#define INTERVAL_MIN	10ull
#define INTERVAL_MAX	3600000ull		/* 1 hour */
#define DURATION_MAX	31536000000ull		/* 365 days */
#define ATTEMPTS_MAX	100ull
#define RETRY_IVL_MAX	86400000ull		/* 1 day */
#define COEFF_MAX	100.0
#define TURNS_MAX	1000ull
#define TOKENS_MAX	1000000000ull
#define COST_MAX	10000.0			/* dollars */

#define T_TOOL		(1u << STEP_TOOL)
#define T_APPROVAL	(1u << STEP_APPROVAL)
#define T_SLEEP		(1u << STEP_SLEEP)
#define T_WAIT		(1u << STEP_WAIT)
#define T_AGENT		(1u << STEP_AGENT)
#define T_ALL		(T_TOOL | T_APPROVAL | T_SLEEP | T_WAIT | T_AGENT)

static const char *const ekind_names[] = {
	"tool", "protocol", "timeout", "unavailable", "expression",
	"rejected", "cancelled", "internal", "interrupted",
};
_Static_assert(sizeof(ekind_names) / sizeof(ekind_names[0]) == EK_COUNT,
    "a name for every enum defn_ekind");

static const char *const stype_names[] = {
	"tool", "approval", "sleep", "wait", "agent",
};
_Static_assert(sizeof(stype_names) / sizeof(stype_names[0]) == DEFN_STYPES,
    "a name for every enum defn_stype");

/* The fields of a step, and the step types that take each. */
static const struct {
	const char	*name;
	unsigned	 types;
} step_fields[] = {
	{ "id", T_ALL }, { "type", T_ALL }, { "if", T_ALL },
	{ "retry", T_ALL }, { "on_error", T_ALL },
	{ "timeout_ms", T_TOOL | T_WAIT }, { "tool", T_TOOL | T_WAIT },
	{ "arguments", T_TOOL | T_WAIT }, { "interval_ms", T_WAIT },
	{ "until", T_WAIT | T_SLEEP }, { "duration_ms", T_SLEEP },
	{ "message", T_APPROVAL }, { "fail_if", T_TOOL | T_WAIT },
	{ "task", T_AGENT }, { "tools", T_AGENT }, { "budget", T_AGENT },
	{ "output_schema", T_AGENT }, { "provider", T_AGENT },
	{ "model", T_AGENT },
};

static const char *const budget_fields[] = {
	"max_turns", "max_tokens", "max_cost_usd", "max_wall_ms",
};

static const char *const top_fields[] = {
	"name", "version", "description", "inputs", "steps", "output",
};

static const char *const retry_fields[] = {
	"max_attempts", "initial_interval_ms", "backoff_coefficient",
	"max_interval_ms", "non_retryable",
};

/* One validation: what defn_parse() was given, and where it is. */
struct vctx {
	defn_tool_fn	 tool;
	void		*arg;
	struct defn	*d;
	const json_t	*props;		/* inputs' properties, if closed */
	size_t		 cur;		/* the step checked; nsteps: output */
	int		 self_ok;	/* a wait's until: itself too */
	char		 where[WHERE_MAX];	/* "step 'ID': " or "" */
	char		 field[FIELD_MAX];	/* the path, for refs */
	size_t		 flen;
	char		*err;
	size_t		 errlen;
	int		 nomem;		/* for memory, not a verdict */
};

static int	vfail(struct vctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Every message of a validation: where it is, then why.  Returns -1. */
static int
vfail(struct vctx *c, const char *fmt, ...)
{
	char why[DEFN_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return errfmt(c->err, c->errlen, "%s%s", c->where, why);
}

/*
 * Text of the document for a message: printable ASCII as it is, any
 * other byte as '?' (so a cut never splits a character), cut at SHOW_MAX
 * bytes with "...".  Returns buf (len > SHOW_MAX + 3).
 */
static const char *
show(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < SHOW_MAX && i + 4 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	if (s[i] != '\0')
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

/* The field path of the messages: push a ".key" or "[i]", pop back. */
static size_t
field_push(struct vctx *c, const char *key, size_t index)
{
	char buf[SHOW_MAX + 8];
	size_t old = c->flen;
	int n;

	if (key != NULL)
		n = snprintf(c->field + old, sizeof(c->field) - old, "%s%s",
		    old > 0 ? "." : "", show(key, buf, sizeof(buf)));
	else
		n = snprintf(c->field + old, sizeof(c->field) - old, "[%zu]",
		    index);
	c->flen = n < 0 || old + (size_t)n >= sizeof(c->field) ?
	    sizeof(c->field) - 1 : old + (size_t)n;
	return old;
}

static void
field_pop(struct vctx *c, size_t old)
{
	c->flen = old;
	c->field[old] = '\0';
}

static void
field_set(struct vctx *c, const char *name)
{
	field_pop(c, 0);
	(void)field_push(c, name, 0);
}

static int
oom(struct vctx *c)
{
	c->nomem = 1;
	return errfmt(c->err, c->errlen, "out of memory");
}

/* A reason from expr or jschema about field; out of memory stays bare. */
static int
why_fail(struct vctx *c, const char *field, const char *why)
{
	if (strcmp(why, "out of memory") == 0)
		return oom(c);
	return vfail(c, "field '%s': %s", field, why);
}

/* ---- names ---- */

const char *
defn_ekind_name(enum defn_ekind k)
{
	if ((unsigned)k >= EK_COUNT)
		return "unknown";
	return ekind_names[k];
}

int
defn_ekind_parse(const char *s)
{
	int k;

	if (s == NULL)
		return -1;
	for (k = 0; k < EK_COUNT; k++)
		if (strcmp(s, ekind_names[k]) == 0)
			return k;
	return -1;
}

const char *
defn_stype_name(enum defn_stype t)
{
	if ((unsigned)t >= sizeof(stype_names) / sizeof(stype_names[0]))
		return "unknown";
	return stype_names[t];
}

int
defn_step_index(const struct defn *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->nsteps; i++)
		if (strcmp(d->steps[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* Is ch one of [A-Za-z0-9] or of extra (never NUL)? */
static int
cclass(char ch, const char *extra)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr(extra, ch) != NULL);
}

/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ over len bytes. */
static int
name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NAME_MAX_LEN || !cclass(s[0], ""))
		return 0;
	for (i = 1; i < len; i++)
		if (!cclass(s[i], "._-"))
			return 0;
	return 1;
}

/* ^[A-Za-z_][A-Za-z0-9_-]{0,63}$ over len bytes. */
static int
id_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > DEFN_ID_MAX || !cclass(s[0], "_") ||
	    (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 1; i < len; i++)
		if (!cclass(s[i], "_-"))
			return 0;
	return 1;
}

/*
 * "server.tool": the server [A-Za-z0-9_-]{1,64}, a dot, the tool
 * [A-Za-z0-9_./-]+, DEFN_QNAME_MAX bytes in all (the router's rules).
 */
static int
qname_ok(const char *s, size_t len)
{
	size_t i, dot;

	if (len > DEFN_QNAME_MAX)
		return 0;
	for (dot = 0; dot < len && s[dot] != '.'; dot++)
		if (!cclass(s[dot], "_-"))
			return 0;
	if (dot == 0 || dot > 64 || dot + 1 >= len)
		return 0;
	for (i = dot + 1; i < len; i++)
		if (!cclass(s[i], "_./-"))
			return 0;
	return 1;
}

/* n decimal digits at s into *v, within [lo, hi]. */
static int
digits(const char *s, int n, int lo, int hi, int *v)
{
	int i;

	for (*v = 0, i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return *v >= lo && *v <= hi;
}

/*
 * An ISO 8601 timestamp with its zone (the RFC 3339 profile):
 * YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, then Z or
 * +HH:MM / -HH:MM.  The day must exist in its month; the year is from
 * 1970 (what defn_time_parse() takes).
 */
static int
timestamp_ok(const char *s, size_t len)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, mo, d, v, n;
	const char *p;

	if (len < 20 || len > TIME_MAX)
		return 0;
	if (!digits(s, 4, 1970, 9999, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, 1, 12, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, 1, mdays[mo - 1], &d) || s[10] != 'T' ||
	    !digits(s + 11, 2, 0, 23, &v) || s[13] != ':' ||
	    !digits(s + 14, 2, 0, 59, &v) || s[16] != ':' ||
	    !digits(s + 17, 2, 0, 59, &v))
		return 0;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0)))
		return 0;
	p = s + 19;
	if (*p == '.') {
		for (n = 0, p++; *p >= '0' && *p <= '9'; p++)
			n++;
		if (n < 1 || n > 9)
			return 0;
	}
	if (p[0] == 'Z' && p[1] == '\0')
		return 1;
	return (p[0] == '+' || p[0] == '-') && digits(p + 1, 2, 0, 23, &v) &&
	    p[3] == ':' && digits(p + 4, 2, 0, 59, &v) && p[6] == '\0';
}

int
defn_time_parse(const char *s, double *out)
{
	struct tm tm;
	double frac = 0, scale = 0.1;
	const char *p;
	time_t t;
	int sign;

	if (s == NULL || !timestamp_ok(s, strlen(s)))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	*out = (double)t + frac;
	if (*p != 'Z') {
		sign = *p == '+' ? 1 : -1;
		*out -= sign * (atoi(p + 1) * 3600. + atoi(p + 4) * 60.);
	}
	return 0;
}

/* ---- values ---- */

/* The compact JSON size of a value, counted (never held in memory). */
static int
count_cb(const char *buf, size_t size, void *arg)
{
	size_t *n = arg;

	(void)buf;
	*n += size;
	return 0;
}

/* v, an integer in [lo, hi], into *out; -1 (and why) otherwise. */
static int
int_field(struct vctx *c, const json_t *v, const char *field, uint64_t lo,
    uint64_t hi, uint64_t *out)
{
	json_int_t i;

	if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 ||
	    (uint64_t)i < lo || (uint64_t)i > hi)
		return vfail(c, "field '%s': must be an integer from %llu to "
		    "%llu", field, (unsigned long long)lo,
		    (unsigned long long)hi);
	*out = (uint64_t)i;
	return 0;
}

/* v, a string without a NUL inside, or -1 (and why). */
static int
str_field(struct vctx *c, const json_t *v, const char *field)
{
	if (!json_is_string(v))
		return vfail(c, "field '%s': must be a string", field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return vfail(c, "field '%s': a string holding a NUL byte",
		    field);
	return 0;
}

/* ---- references ---- */

/*
 * expr_refs() callback: is the reference root.first allowed where c is
 * (see defn.h)?  0, or -1 with the message set.
 */
static int
ref_check(const char *root, const char *first, void *arg)
{
	struct vctx *c = arg;
	char buf[SHOW_MAX + 8];
	int i;

	if (strcmp(root, "steps") == 0) {
		if (first == NULL)
			return vfail(c, "field '%s': a reference to steps "
			    "needs a step id (steps.ID)", c->field);
		if ((i = defn_step_index(c->d, first)) == -1)
			return vfail(c, "field '%s': reference to unknown step "
			    "'%s'", c->field, show(first, buf, sizeof(buf)));
		if ((size_t)i < c->cur || c->cur == c->d->nsteps ||
		    ((size_t)i == c->cur && c->self_ok))
			return 0;
		return vfail(c, "field '%s': reference to step '%s', which "
		    "does not come earlier", c->field, first);
	}
	if (strcmp(root, "inputs") == 0) {
		if (first == NULL || c->props == NULL ||
		    json_object_get(c->props, first) != NULL)
			return 0;
		return vfail(c, "field '%s': reference to input '%s', which "
		    "the inputs schema does not declare", c->field,
		    show(first, buf, sizeof(buf)));
	}
	if (strcmp(root, "execution") == 0) {
		if (first == NULL || strcmp(first, "id") == 0)
			return 0;
		return vfail(c, "field '%s': unknown execution field '%s' "
		    "(execution.id)", c->field, show(first, buf, sizeof(buf)));
	}
	if (strcmp(root, "event") == 0)
		return vfail(c, "field '%s': 'event' is for webhook rules "
		    "(the configuration's afu9.webhooks); a workflow gets "
		    "what a rule puts in its inputs", c->field);
	return 0;			/* env: resolved at run time */
}

static int
expr_refs_check(struct vctx *c, const struct expr *e)
{
	return expr_refs(e, ref_check, c) != 0 ? -1 : 0;
}

/* An expression field (if, until): parsed, its references checked. */
static int
expr_field(struct vctx *c, const json_t *v, const char *field,
    struct expr **out)
{
	char why[EXPR_ERR_MAX];

	if (str_field(c, v, field) == -1)
		return -1;
	if ((*out = expr_parse(json_string_value(v), why, sizeof(why))) ==
	    NULL)
		return why_fail(c, field, why);
	field_set(c, field);
	return expr_refs_check(c, *out);
}

/*
 * The references of every "${{ }}" in s, which expr_template() has
 * accepted: the same scan as its own (engine/expr.c tpl_string()).
 */
static int
tpl_refs(struct vctx *c, const char *s)
{
	const char *open, *close;
	char why[EXPR_ERR_MAX], *text;
	struct expr *e;
	int rc;

	for (; (open = strstr(s, "${{")) != NULL; s = close + 2) {
		if ((close = strstr(open + 3, "}}")) == NULL)
			break;
		if ((text = strndup(open + 3, (size_t)(close - open - 3))) ==
		    NULL)
			return oom(c);
		e = expr_parse(text, why, sizeof(why));
		free(text);
		if (e == NULL)
			return why_fail(c, c->field, why);
		rc = expr_refs_check(c, e);
		expr_free(e);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/*
 * A value with templates (arguments, message, output): every string
 * checked as expr_template() will resolve it, then its references; at
 * most EXPR_DEPTH_MAX levels, as there.  c->field is the path so far.
 */
static int
tpl_walk(struct vctx *c, const json_t *v, int depth)
{
	char why[EXPR_ERR_MAX];
	const char *k;
	json_t *x, *copy;
	size_t i, old;

	if (depth > EXPR_DEPTH_MAX)
		return vfail(c, "field '%s': nested deeper than %d levels",
		    c->field, EXPR_DEPTH_MAX);
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (str_field(c, v, c->field) == -1)
			return -1;
		if (strstr(json_string_value(v), "${{") == NULL)
			return 0;
		/* it may fail for memory without a word (its tpl_string()) */
		snprintf(why, sizeof(why), "out of memory");
		if (expr_template(v, NULL, &copy, why, sizeof(why)) == -1)
			return why_fail(c, c->field, why);
		json_decref(copy);
		return tpl_refs(c, json_string_value(v));
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, k, x) {
			old = field_push(c, k, 0);
			if (tpl_walk(c, x, depth + 1) == -1)
				return -1;
			field_pop(c, old);
		}
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, x) {
			old = field_push(c, NULL, i);
			if (tpl_walk(c, x, depth + 1) == -1)
				return -1;
			field_pop(c, old);
		}
		return 0;
	default:
		return 0;
	}
}

static int
tpl_field(struct vctx *c, const json_t *v, const char *field)
{
	field_set(c, field);
	return tpl_walk(c, v, 0);
}

/* Does v hold a template anywhere (tpl_walk() bounded its depth)? */
static int
has_tpl(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strstr(json_string_value(v), "${{") != NULL;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, k, x)
			if (has_tpl(x))
				return 1;
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			if (has_tpl(x))
				return 1;
		return 0;
	default:
		return 0;
	}
}

/* ---- tools ---- */

/*
 * A literal argument k = v against its schema sub, through jschema as
 * the call will be: in a one-property object schema, so the message
 * names the argument.  A schema outside jschema's subset is not ours to
 * judge (the server checks the call): skipped, as is one whose pattern
 * the regex library could not compile for want of memory (jschema's
 * words do not tell the two apart).
 */
static int
arg_literal(struct vctx *c, const char *k, const json_t *sub, const json_t *v)
{
	char why[DEFN_ERR_MAX];
	json_t *schema, *inst;
	int rc;

	if (jschema_check(sub, NULL, 0) == -1)
		return 0;
	schema = json_pack("{s:s, s:{s:O}}", "type", "object", "properties",
	    k, (json_t *)sub);
	inst = json_pack("{s:O}", k, (json_t *)v);
	if (schema == NULL || inst == NULL) {
		json_decref(schema);
		json_decref(inst);
		return oom(c);
	}
	rc = jschema_validate(schema, inst, why, sizeof(why));
	json_decref(schema);
	json_decref(inst);
	/* jschema_check() passed: a schema's words are never a verdict on
	   the argument, only a pattern not matched for want of memory */
	if (rc == -1 && strncmp(why, "schema ", 7) == 0)
		return oom(c);
	if (rc == -1)
		return why_fail(c, "arguments", why);
	return 0;
}

/* The arguments against the tool's inputSchema (entry borrowed). */
static int
check_args(struct vctx *c, const json_t *args, const json_t *entry)
{
	const json_t *schema, *props, *addl, *req, *sub, *v;
	char buf[SHOW_MAX + 8];
	const char *k;
	size_t i;

	if (!json_is_object(schema = json_object_get(entry, "inputSchema")))
		return 0;
	if (!json_is_object(props = json_object_get(schema, "properties")))
		props = NULL;
	addl = json_object_get(schema, "additionalProperties");
	req = json_object_get(schema, "required");
	/* an idempotencyKey the tool declares: the engine adds one */
	json_array_foreach(req, i, v)
		if (json_is_string(v) && json_object_get(args,
		    json_string_value(v)) == NULL && !(strcmp(
		    json_string_value(v), "idempotencyKey") == 0 &&
		    props != NULL && json_object_get(props, "idempotencyKey")))
			return vfail(c, "field 'arguments': missing required "
			    "argument '%s' (required)",
			    show(json_string_value(v), buf, sizeof(buf)));
	json_object_foreach((json_t *)args, k, v) {
		if ((sub = props ? json_object_get(props, k) : NULL) == NULL &&
		    json_is_false(addl))
			return vfail(c, "field 'arguments': unexpected "
			    "argument '%s' (additionalProperties)",
			    show(k, buf, sizeof(buf)));
		if (sub == NULL)
			sub = addl;
		if (sub == NULL || has_tpl(v))
			continue;
		if (arg_literal(c, k, sub, v) == -1)
			return -1;
	}
	return 0;
}

/* tool and arguments of a tool or wait step. */
static int
step_tool(struct vctx *c, const json_t *o, struct defn_step *s)
{
	const json_t *v = json_object_get(o, "tool"), *entry, *ro;

	if (v == NULL)
		return vfail(c, "field 'tool': missing");
	if (str_field(c, v, "tool") == -1)
		return -1;
	if (!qname_ok(json_string_value(v), json_string_length(v)))
		return vfail(c, "field 'tool': must be server.tool (server "
		    "[A-Za-z0-9_-]{1,64}, tool [A-Za-z0-9_./-]+, at most %d "
		    "bytes)", DEFN_QNAME_MAX);
	if ((s->tool = strdup(json_string_value(v))) == NULL)
		return oom(c);
	if ((v = json_object_get(o, "arguments")) == NULL)
		s->arguments = json_object();
	else if (!json_is_object(v))
		return vfail(c, "field 'arguments': must be an object");
	else
		s->arguments = json_incref((json_t *)v);
	if (s->arguments == NULL)
		return oom(c);
	if (tpl_field(c, s->arguments, "arguments") == -1)
		return -1;
	if (c->tool == NULL)
		return 0;
	if ((entry = c->tool(s->tool, c->arg)) == NULL)
		return vfail(c, "field 'tool': unknown tool '%s'", s->tool);
	ro = json_object_get(json_object_get(entry, "annotations"),
	    "readOnlyHint");
	if (s->type == STEP_WAIT && !json_is_true(ro))
		return vfail(c, "field 'tool': tool '%s' is not read-only "
		    "(annotations.readOnlyHint), and a wait step calls it "
		    "again and again", s->tool);
	return check_args(c, s->arguments, entry);
}

/* ---- the fields of a step ---- */

static int
step_retry(struct vctx *c, const json_t *r, struct defn_retry *rt)
{
	char buf[SHOW_MAX + 8], list[128];
	const json_t *v;
	const char *k;
	uint64_t n = 0;
	size_t i, j;
	double d;
	int ek;

	if (!json_is_object(r))
		return vfail(c, "field 'retry': must be an object");
	json_object_foreach((json_t *)r, k, v) {
		for (i = 0; i < sizeof(retry_fields) / sizeof(retry_fields[0]);
		    i++)
			if (strcmp(k, retry_fields[i]) == 0)
				break;
		if (i == sizeof(retry_fields) / sizeof(retry_fields[0]))
			return vfail(c, "unknown field 'retry.%s'",
			    show(k, buf, sizeof(buf)));
	}
	if ((v = json_object_get(r, "max_attempts")) != NULL) {
		if (int_field(c, v, "retry.max_attempts", 1, ATTEMPTS_MAX,
		    &n) == -1)
			return -1;
		rt->max_attempts = (unsigned)n;
	}
	if ((v = json_object_get(r, "initial_interval_ms")) != NULL &&
	    int_field(c, v, "retry.initial_interval_ms", 0, RETRY_IVL_MAX,
	    &rt->initial_interval_ms) == -1)
		return -1;
	if ((v = json_object_get(r, "backoff_coefficient")) != NULL) {
		d = json_number_value(v);
		if (!json_is_number(v) || !(d >= 1 && d <= COEFF_MAX))
			return vfail(c, "field 'retry.backoff_coefficient': "
			    "must be a number from 1 to %g", COEFF_MAX);
		rt->backoff_coefficient = d;
	}
	if ((v = json_object_get(r, "max_interval_ms")) != NULL) {
		if (int_field(c, v, "retry.max_interval_ms", 0, RETRY_IVL_MAX,
		    &rt->max_interval_ms) == -1)
			return -1;
		if (rt->max_interval_ms < rt->initial_interval_ms)
			return vfail(c, "field 'retry.max_interval_ms': must "
			    "be >= initial_interval_ms (%llu)",
			    (unsigned long long)rt->initial_interval_ms);
	} else if (rt->max_interval_ms < rt->initial_interval_ms)
		rt->max_interval_ms = rt->initial_interval_ms;
	if ((v = json_object_get(r, "non_retryable")) == NULL)
		return 0;
	if (!json_is_array(v))
		return vfail(c, "field 'retry.non_retryable': must be an array "
		    "of error kinds");
	for (i = 0; i < json_array_size(v); i++) {
		k = json_string_value(json_array_get(v, i));
		if ((ek = defn_ekind_parse(k)) == -1) {
			if (k == NULL)
				return vfail(c, "field "
				    "'retry.non_retryable[%zu]': must be a "
				    "string", i);
			list[0] = '\0';
			for (j = 0; j < EK_COUNT; j++)
				snprintf(list + strlen(list), sizeof(list) -
				    strlen(list), "%s%s", j ? ", " : "",
				    ekind_names[j]);
			return vfail(c, "field 'retry.non_retryable[%zu]': "
			    "unknown error kind '%s' (%s)", i,
			    show(k, buf, sizeof(buf)), list);
		}
		if (rt->non_retryable & (1u << ek))
			return vfail(c, "field 'retry.non_retryable[%zu]': "
			    "'%s' listed twice", i, k);
		rt->non_retryable |= 1u << ek;
	}
	return 0;
}

static int
step_on_error(struct vctx *c, const json_t *v, struct defn_step *s)
{
	char buf[SHOW_MAX + 8];
	const json_t *g;
	const char *id;
	int i;

	if (json_is_string(v) && strcmp(json_string_value(v), "fail") == 0)
		s->on_error = ONERR_FAIL;
	else if (json_is_string(v) &&
	    strcmp(json_string_value(v), "continue") == 0)
		s->on_error = ONERR_CONTINUE;
	else if (json_is_object(v) && json_object_size(v) == 1 &&
	    (g = json_object_get(v, "goto")) != NULL) {
		if (str_field(c, g, "on_error.goto") == -1)
			return -1;
		id = json_string_value(g);
		if ((i = defn_step_index(c->d, id)) == -1)
			return vfail(c, "field 'on_error.goto': unknown step "
			    "'%s'", show(id, buf, sizeof(buf)));
		if ((size_t)i == c->cur)
			return vfail(c, "field 'on_error.goto': a jump to the "
			    "step itself is a cycle");
		if ((size_t)i < c->cur)
			return vfail(c, "field 'on_error.goto': step '%s' "
			    "comes earlier: a jump back is a cycle", id);
		s->on_error = ONERR_GOTO;
		s->goto_index = (size_t)i;
	} else
		return vfail(c, "field 'on_error': must be \"fail\", "
		    "\"continue\" or {\"goto\": \"ID\"}");
	return 0;
}

static int
step_sleep(struct vctx *c, const json_t *o, struct defn_step *s)
{
	const json_t *dur = json_object_get(o, "duration_ms"),
	    *until = json_object_get(o, "until");
	const char *t;

	if ((dur == NULL) == (until == NULL))
		return vfail(c, "a sleep step takes exactly one of "
		    "'duration_ms' and 'until'");
	if (dur != NULL) {
		s->has_duration = 1;
		return int_field(c, dur, "duration_ms", 0, DURATION_MAX,
		    &s->duration_ms);
	}
	if (str_field(c, until, "until") == -1)
		return -1;
	t = json_string_value(until);
	if (strstr(t, "${{") != NULL)
		return expr_field(c, until, "until", &s->until);
	if (!timestamp_ok(t, json_string_length(until)))
		return vfail(c, "field 'until': must be \"${{ expression }}\" "
		    "or an ISO 8601 timestamp with its zone "
		    "(2025-06-01T09:00:00Z, 2025-06-01T11:00:00.5+02:00)");
	if ((s->until_text = strdup(t)) == NULL)
		return oom(c);
	return 0;
}

static int
step_wait(struct vctx *c, const json_t *o, struct defn_step *s)
{
	const json_t *v;
	int rc;

	if ((v = json_object_get(o, "interval_ms")) == NULL)
		return vfail(c, "field 'interval_ms': missing");
	if (int_field(c, v, "interval_ms", INTERVAL_MIN, INTERVAL_MAX,
	    &s->interval_ms) == -1)
		return -1;
	if (s->timeout_ms == 0)
		return vfail(c, "field 'timeout_ms': missing (a wait step "
		    "needs a bound)");
	if ((v = json_object_get(o, "until")) == NULL)
		return vfail(c, "field 'until': missing");
	c->self_ok = 1;
	rc = expr_field(c, v, "until", &s->until);
	c->self_ok = 0;
	if (rc == -1)
		return -1;
	return step_tool(c, o, s);
}

/* ---- agent ---- */

/* A tool pattern: [A-Za-z0-9_.*-]{1,DEFN_QNAME_MAX}. */
static int
pattern_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > DEFN_QNAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!cclass(s[i], "_.*-"))
			return 0;
	return 1;
}

static int
step_tools(struct vctx *c, const json_t *v, struct defn_step *s)
{
	char buf[SHOW_MAX + 8];
	const json_t *p;
	const char *t;
	size_t i, n = json_array_size(v);

	if (!json_is_array(v) || n == 0 || n > DEFN_PATTERNS_MAX)
		return vfail(c, "field 'tools': must be an array of 1 to %d "
		    "tool patterns (\"server.tool\", '*' for any run of "
		    "bytes)", DEFN_PATTERNS_MAX);
	if ((s->tools = calloc(n + 1, sizeof(*s->tools))) == NULL)
		return oom(c);
	json_array_foreach(v, i, p) {
		if (!json_is_string(p) || !pattern_ok(json_string_value(p),
		    json_string_length(p)))
			return vfail(c, "field 'tools[%zu]': must be a pattern "
			    "of 1 to %d bytes of [A-Za-z0-9_.*-]", i,
			    DEFN_QNAME_MAX);
		t = json_string_value(p);
		/* a name without '*' is one tool: a typo is caught here */
		if (c->tool != NULL && strchr(t, '*') == NULL &&
		    c->tool(t, c->arg) == NULL)
			return vfail(c, "field 'tools[%zu]': unknown tool "
			    "'%s'", i, show(t, buf, sizeof(buf)));
		if ((s->tools[i] = strdup(t)) == NULL)
			return oom(c);
	}
	return 0;
}

static int
step_budget(struct vctx *c, const json_t *b, struct defn_budget *bu)
{
	char buf[SHOW_MAX + 8];
	const json_t *v;
	const char *k;
	uint64_t n = 0;
	double d;
	size_t i;

	bu->max_turns = DEFN_TURNS_DEFAULT;
	bu->max_wall_ms = DEFN_WALL_DEFAULT;
	if (b == NULL)
		return 0;
	if (!json_is_object(b))
		return vfail(c, "field 'budget': must be an object");
	json_object_foreach((json_t *)b, k, v) {
		for (i = 0; i < sizeof(budget_fields) /
		    sizeof(budget_fields[0]); i++)
			if (strcmp(k, budget_fields[i]) == 0)
				break;
		if (i == sizeof(budget_fields) / sizeof(budget_fields[0]))
			return vfail(c, "unknown field 'budget.%s' (max_turns, "
			    "max_tokens, max_cost_usd, max_wall_ms)",
			    show(k, buf, sizeof(buf)));
	}
	if ((v = json_object_get(b, "max_turns")) != NULL) {
		if (int_field(c, v, "budget.max_turns", 1, TURNS_MAX, &n) == -1)
			return -1;
		bu->max_turns = (unsigned)n;
	}
	if ((v = json_object_get(b, "max_tokens")) != NULL &&
	    int_field(c, v, "budget.max_tokens", 1, TOKENS_MAX,
	    &bu->max_tokens) == -1)
		return -1;
	if ((v = json_object_get(b, "max_cost_usd")) != NULL) {
		d = json_number_value(v);
		if (!json_is_number(v) || !(d > 0 && d <= COST_MAX))
			return vfail(c, "field 'budget.max_cost_usd': must be "
			    "a number of dollars above 0, at most %g",
			    COST_MAX);
		/* rounded up: a budget never grows by the conversion */
		bu->max_cost_micro = (uint64_t)ceil(d * 1e6);
	}
	if ((v = json_object_get(b, "max_wall_ms")) != NULL &&
	    int_field(c, v, "budget.max_wall_ms", 1, TIMEOUT_MAX,
	    &bu->max_wall_ms) == -1)
		return -1;
	return 0;
}

static int
step_agent(struct vctx *c, const json_t *o, struct defn_step *s)
{
	char why[DEFN_ERR_MAX];
	const json_t *v;
	const char *p;

	if ((v = json_object_get(o, "task")) == NULL)
		return vfail(c, "field 'task': missing");
	if (str_field(c, v, "task") == -1)
		return -1;
	if (json_string_length(v) == 0)
		return vfail(c, "field 'task': must not be empty");
	s->task = json_incref((json_t *)v);
	if (tpl_field(c, v, "task") == -1)
		return -1;
	if ((v = json_object_get(o, "tools")) != NULL &&
	    step_tools(c, v, s) == -1)
		return -1;
	if (step_budget(c, json_object_get(o, "budget"), &s->budget) == -1)
		return -1;
	if ((v = json_object_get(o, "output_schema")) != NULL) {
		if (!json_is_object(v))
			return vfail(c, "field 'output_schema': must be a "
			    "JSON Schema object");
		if (jschema_check(v, why, sizeof(why)) == -1)
			return errno == ENOMEM ? oom(c) :
			    why_fail(c, "output_schema", why);
		s->output_schema = json_incref((json_t *)v);
	}
	if ((v = json_object_get(o, "provider")) != NULL) {
		p = json_string_value(v);
		if (p == NULL || (strcmp(p, "openai") != 0 &&
		    strcmp(p, "anthropic") != 0))
			return vfail(c, "field 'provider': must be \"openai\" "
			    "or \"anthropic\"");
		if ((s->provider = strdup(p)) == NULL)
			return oom(c);
	}
	if ((v = json_object_get(o, "model")) != NULL) {
		if (str_field(c, v, "model") == -1)
			return -1;
		if (json_string_length(v) == 0 || json_string_length(v) >
		    DEFN_MODEL_MAX)
			return vfail(c, "field 'model': must be 1 to %d bytes",
			    DEFN_MODEL_MAX);
		if ((s->model = strdup(json_string_value(v))) == NULL)
			return oom(c);
	}
	return 0;
}

/* The fields of this step's type; the others refused by name. */
static int
step_keys(struct vctx *c, const json_t *o, enum defn_stype t)
{
	char buf[SHOW_MAX + 8];
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)o, k, v) {
		for (i = 0; i < sizeof(step_fields) / sizeof(step_fields[0]);
		    i++)
			if (strcmp(k, step_fields[i].name) == 0)
				break;
		if (i == sizeof(step_fields) / sizeof(step_fields[0]))
			return vfail(c, "unknown field '%s'",
			    show(k, buf, sizeof(buf)));
		if ((step_fields[i].types & (1u << t)) == 0)
			return vfail(c, "field '%s': not a field of a %s step",
			    k, stype_names[t]);
	}
	return 0;
}

static int
step_type(struct vctx *c, const json_t *v, enum defn_stype *t)
{
	char buf[SHOW_MAX + 8];
	size_t i;

	if (v == NULL)
		return vfail(c, "field 'type': missing");
	if (str_field(c, v, "type") == -1)
		return -1;
	for (i = 0; i < sizeof(stype_names) / sizeof(stype_names[0]); i++)
		if (strcmp(json_string_value(v), stype_names[i]) == 0) {
			*t = (enum defn_stype)i;
			return 0;
		}
	return vfail(c, "field 'type': unknown step type '%s' (tool, "
	    "approval, sleep, wait, agent)", show(json_string_value(v), buf,
	    sizeof(buf)));
}

/* The whole of step c->cur (its id already taken). */
static int
step_parse(struct vctx *c, const json_t *o)
{
	struct defn_step *s = &c->d->steps[c->cur];
	const json_t *v;
	int rc;

	snprintf(c->where, sizeof(c->where), "step '%s': ", s->id);
	if (step_type(c, json_object_get(o, "type"), &s->type) == -1 ||
	    step_keys(c, o, s->type) == -1)
		return -1;
	if ((v = json_object_get(o, "if")) != NULL &&
	    expr_field(c, v, "if", &s->cond) == -1)
		return -1;
	s->retry.max_attempts = 1;
	s->retry.initial_interval_ms = 1000;
	s->retry.backoff_coefficient = 2;
	s->retry.max_interval_ms = 60000;
	if ((v = json_object_get(o, "retry")) != NULL &&
	    step_retry(c, v, &s->retry) == -1)
		return -1;
	if ((v = json_object_get(o, "timeout_ms")) != NULL &&
	    int_field(c, v, "timeout_ms", 1, TIMEOUT_MAX,
	    &s->timeout_ms) == -1)
		return -1;
	if ((v = json_object_get(o, "on_error")) != NULL &&
	    step_on_error(c, v, s) == -1)
		return -1;
	if ((v = json_object_get(o, "fail_if")) != NULL) {
		c->self_ok = 1;
		rc = expr_field(c, v, "fail_if", &s->fail_if);
		c->self_ok = 0;
		if (rc == -1)
			return -1;
	}
	switch (s->type) {
	case STEP_AGENT:
		return step_agent(c, o, s);
	case STEP_TOOL:
		return step_tool(c, o, s);
	case STEP_WAIT:
		return step_wait(c, o, s);
	case STEP_SLEEP:
		return step_sleep(c, o, s);
	case STEP_APPROVAL:
		if ((v = json_object_get(o, "message")) == NULL)
			return 0;
		if (!json_is_string(v))
			return vfail(c, "field 'message': must be a string");
		s->message = json_incref((json_t *)v);
		return tpl_field(c, v, "message");
	}
	return 0;
}

/* Pass one: every step an object with a valid, unique id. */
static int
step_ids(struct vctx *c, const json_t *steps)
{
	const json_t *o, *id;
	size_t i;

	for (i = 0; i < c->d->nsteps; i++) {
		snprintf(c->where, sizeof(c->where), "step %zu: ", i + 1);
		o = json_array_get(steps, i);
		if (!json_is_object(o))
			return vfail(c, "must be an object");
		if ((id = json_object_get(o, "id")) == NULL)
			return vfail(c, "field 'id': missing");
		if (!json_is_string(id) || !id_ok(json_string_value(id),
		    json_string_length(id)))
			return vfail(c, "field 'id': must match "
			    "^[A-Za-z_][A-Za-z0-9_-]{0,63}$");
		memcpy(c->d->steps[i].id, json_string_value(id),
		    json_string_length(id) + 1);
		if (defn_step_index(c->d, c->d->steps[i].id) != (int)i) {
			snprintf(c->where, sizeof(c->where), "step '%s': ",
			    c->d->steps[i].id);
			return vfail(c, "duplicate step id");
		}
	}
	c->where[0] = '\0';
	return 0;
}

/* ---- the definition ---- */

/* name, version, description, inputs; the unknown fields refused. */
static int
top_fields_parse(struct vctx *c, const json_t *doc)
{
	struct defn *d = c->d;
	char why[DEFN_ERR_MAX], buf[SHOW_MAX + 8];
	const json_t *v, *t, *addl;
	const char *k;
	uint64_t n = 0;
	size_t i;

	json_object_foreach((json_t *)doc, k, v) {
		for (i = 0; i < sizeof(top_fields) / sizeof(top_fields[0]); i++)
			if (strcmp(k, top_fields[i]) == 0)
				break;
		if (i == sizeof(top_fields) / sizeof(top_fields[0]))
			return vfail(c, "unknown field '%s'",
			    show(k, buf, sizeof(buf)));
	}
	if ((v = json_object_get(doc, "name")) == NULL)
		return vfail(c, "field 'name': missing");
	if (!json_is_string(v) || !name_ok(json_string_value(v),
	    json_string_length(v)))
		return vfail(c, "field 'name': must match "
		    "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
	memcpy(d->name, json_string_value(v), json_string_length(v) + 1);
	if ((v = json_object_get(doc, "version")) != NULL) {
		if (int_field(c, v, "version", 1, VERSION_MAX, &n) == -1)
			return -1;
		d->version = (unsigned)n;
	}
	if ((v = json_object_get(doc, "description")) != NULL) {
		if (str_field(c, v, "description") == -1)
			return -1;
		if ((d->description = strdup(json_string_value(v))) == NULL)
			return oom(c);
	}
	if ((v = json_object_get(doc, "inputs")) == NULL)
		return 0;
	if (!json_is_object(v))
		return vfail(c, "field 'inputs': must be a JSON Schema object");
	if (jschema_check(v, why, sizeof(why)) == -1)
		return errno == ENOMEM ? oom(c) : why_fail(c, "inputs", why);
	if ((t = json_object_get(v, "type")) != NULL && (!json_is_string(t) ||
	    strcmp(json_string_value(t), "object") != 0))
		return vfail(c, "field 'inputs': the input is an object "
		    "(\"type\": \"object\")");
	d->inputs = json_incref((json_t *)v);
	/* a default stands in for a missing input: it must be one */
	json_object_foreach(json_object_get(v, "properties"), k, t) {
		const json_t *dv = json_object_get(t, "default");
		json_t *one, *sch;
		int rc;

		if (dv == NULL)
			continue;
		one = json_pack("{s:O}", k, (json_t *)dv);
		sch = json_pack("{s:s, s:{s:O}}", "type", "object",
		    "properties", k, (json_t *)t);
		rc = one && sch ? jschema_validate(sch, one, why, sizeof(why)) :
		    -2;
		json_decref(one);
		json_decref(sch);
		if (rc == -2)
			return oom(c);
		if (rc == -1)
			return vfail(c, "field 'inputs': the default of '%s' "
			    "does not pass its schema: %s", show(k, buf,
			    sizeof(buf)), why);
	}
	addl = json_object_get(v, "additionalProperties");
	if ((c->props = json_object_get(v, "properties")) != NULL &&
	    addl != NULL && !json_is_false(addl))
		c->props = NULL;	/* others allowed: any name */
	return 0;
}

struct defn *
defn_parse(const json_t *doc, defn_tool_fn tool, void *arg, char *err,
    size_t errlen)
{
	struct vctx c;
	const json_t *steps, *v;
	size_t n = 0;

	memset(&c, 0, sizeof(c));
	c.tool = tool;
	c.arg = arg;
	c.err = err;
	c.errlen = errlen;
	if (!json_is_object(doc)) {
		errfmt(err, errlen, "a definition must be a JSON object");
		errno = EINVAL;
		return NULL;
	}
	if (json_dump_callback(doc, count_cb, &n, JSON_COMPACT) == -1) {
		errfmt(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (n > DEFN_TEXT_MAX) {
		errfmt(err, errlen, "the definition is %zu bytes of JSON, "
		    "over the limit of %u", n, DEFN_TEXT_MAX);
		errno = EINVAL;
		return NULL;
	}
	/* room for the steps only when there is a valid number of them */
	steps = json_object_get(doc, "steps");
	n = json_array_size(steps);
	if (n > DEFN_STEPS_MAX)
		n = 0;
	if ((c.d = calloc(1, sizeof(*c.d) + n * sizeof(c.d->steps[0]))) ==
	    NULL) {
		errfmt(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	c.d->doc = json_incref((json_t *)doc);
	c.d->nsteps = n;
	if (top_fields_parse(&c, doc) == -1)
		goto fail;
	if (steps == NULL) {
		vfail(&c, "field 'steps': missing");
		goto fail;
	}
	if (json_array_size(steps) > DEFN_STEPS_MAX) {
		vfail(&c, "field 'steps': %zu steps, over the limit of %d",
		    json_array_size(steps), DEFN_STEPS_MAX);
		goto fail;
	}
	if (n == 0) {
		vfail(&c, "field 'steps': must be an array of 1 to %d steps",
		    DEFN_STEPS_MAX);
		goto fail;
	}
	if (step_ids(&c, steps) == -1)
		goto fail;
	for (c.cur = 0; c.cur < n; c.cur++)
		if (step_parse(&c, json_array_get(steps, c.cur)) == -1)
			goto fail;
	c.where[0] = '\0';
	if ((v = json_object_get(doc, "output")) != NULL) {
		if (tpl_field(&c, v, "output") == -1)
			goto fail;
		c.d->output = json_incref((json_t *)v);
	}
	return c.d;
fail:
	defn_free(c.d);
	errno = c.nomem ? ENOMEM : EINVAL;
	return NULL;
}

void
defn_free(struct defn *d)
{
	struct defn_step *s;
	size_t i, j;

	if (d == NULL)
		return;
	for (i = 0; i < d->nsteps; i++) {
		s = &d->steps[i];
		expr_free(s->cond);
		free(s->tool);
		json_decref(s->arguments);
		expr_free(s->until);
		free(s->until_text);
		json_decref(s->message);
		expr_free(s->fail_if);
		json_decref(s->task);
		for (j = 0; s->tools != NULL && s->tools[j] != NULL; j++)
			free(s->tools[j]);
		free(s->tools);
		json_decref(s->output_schema);
		free(s->provider);
		free(s->model);
	}
	free(d->description);
	json_decref(d->inputs);
	json_decref(d->output);
	json_decref(d->doc);
	free(d);
}

int
defn_check_input(const struct defn *d, const json_t *input, char *err,
    size_t errlen)
{
	char why[DEFN_ERR_MAX];

	if (!json_is_object(input)) {
		errfmt(err, errlen, "input: must be an object");
		errno = EINVAL;
		return -1;
	}
	if (d->inputs == NULL)
		return 0;
	if (jschema_validate(d->inputs, input, why, sizeof(why)) == -1) {
		/* the schema was checked when parsed: its own words only mean
		   a pattern not matched for want of memory, no verdict */
		if (strncmp(why, "schema ", 7) == 0) {
			errfmt(err, errlen, "out of memory");
			errno = ENOMEM;
			return -1;
		}
		errfmt(err, errlen, "input: %s", why);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

uint64_t
defn_backoff_ms(const struct defn_retry *r, unsigned next)
{
	double v;

	if (next < 2 || r->initial_interval_ms == 0)
		return 0;
	if (r->initial_interval_ms >= r->max_interval_ms)
		return r->max_interval_ms;
	/* coefficient >= 1: the power only grows, to +inf at worst */
	v = (double)r->initial_interval_ms * pow(r->backoff_coefficient,
	    (double)(next - 2));
	if (!(v < (double)r->max_interval_ms))
		return r->max_interval_ms;
	return (uint64_t)v;
}
