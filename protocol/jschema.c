#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jschema.h"

/*
 * Limits: schemas and instances are followed at most JS_MAX_DEPTH levels
 * deep (deeper is an error, never a stack overflow); paths shown in
 * messages are cut at JS_PATH_MAX bytes; enum/const values quoted in a
 * message are cut at JS_QUOTE_MAX bytes.
 *
 * Patterns are POSIX EREs compiled with REG_EXTENDED|REG_NOSUB and matched
 * anywhere in the string (anchor with ^...$ as in JSON Schema).  They are
 * matched on bytes in the process locale (afu9 runs in the C locale), so
 * '.' or a bracket expression sees one byte of a multi-byte character.
 * Syntax that ECMA 262 reads differently from POSIX is refused rather
 * than silently matched the POSIX way: backslash-letter/digit escapes
 * (\d \w \s \b \1 ...), a backslash inside [...] (literal in POSIX),
 * "(?" groups and lazy quantifiers ("*?", "+?", "??", "}?").
 * Compiled patterns are cached (JS_CACHE_MAX, oldest evicted first).
 */
#define JS_MAX_DEPTH	64
#define JS_PATH_MAX	256
#define JS_QUOTE_MAX	200
#define JS_CACHE_MAX	64

struct jctx {
	char	*err;
	size_t	 errlen;
	char	 ipath[JS_PATH_MAX];	/* instance: files[2].path */
	size_t	 ilen;
	char	 spath[JS_PATH_MAX];	/* schema: /properties/files */
	size_t	 slen;
};

/* ---- messages and paths ---- */

static void jfail(struct jctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
jfail(struct jctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err == NULL || c->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

/* Schema pointer for messages: "(root)" or "/properties/owner". */
static const char *
spath(const struct jctx *c)
{
	return c->slen == 0 ? "(root)" : c->spath;
}

/* Append to a path buffer; returns the old length for the matching pop. */
static size_t
path_push(char *buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t
path_push(char *buf, size_t *len, const char *fmt, ...)
{
	size_t old = *len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + old, JS_PATH_MAX - old, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	*len = old + (size_t)n >= JS_PATH_MAX ? JS_PATH_MAX - 1 : old + (size_t)n;
	return old;
}

/* Append one byte (the hot path: member names are copied per byte). */
static void
path_putc(char *buf, size_t *len, char ch)
{
	if (*len + 1 < JS_PATH_MAX) {
		buf[(*len)++] = ch;
		buf[*len] = '\0';
	}
}

static void
path_pop(char *buf, size_t *len, size_t old)
{
	*len = old;
	buf[old] = '\0';
}

/* Push one JSON Pointer token: '~' -> "~0", '/' -> "~1". */
static size_t
spath_push(struct jctx *c, const char *tok)
{
	size_t old = c->slen;
	const char *p;

	path_putc(c->spath, &c->slen, '/');
	for (p = tok; *p != '\0'; p++) {
		if (*p == '~' || *p == '/') {
			path_putc(c->spath, &c->slen, '~');
			path_putc(c->spath, &c->slen, *p == '~' ? '0' : '1');
		} else
			path_putc(c->spath, &c->slen, *p);
	}
	return old;
}

/* Push an object member name; control characters shown as '?'. */
static size_t
ipath_push_key(struct jctx *c, const char *key)
{
	size_t old = c->ilen;
	const char *p;

	if (c->ilen > 0)
		path_putc(c->ipath, &c->ilen, '.');
	for (p = key; *p != '\0'; p++)
		path_putc(c->ipath, &c->ilen,
		    (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	return old;
}

static size_t
ipath_push_index(struct jctx *c, size_t i)
{
	return path_push(c->ipath, &c->ilen, "[%zu]", i);
}

static void vfail(struct jctx *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* "argument 'path': <what> (<rule>)", or "arguments: ..." at the root. */
static void
vfail(struct jctx *c, const char *rule, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->ilen == 0)
		jfail(c, "arguments: %s (%s)", what, rule);
	else
		jfail(c, "argument '%s': %s (%s)", c->ipath, what, rule);
}

/* ---- numbers ---- */

/* Compare an integer with a double exactly: <0, 0, >0. */
static int
cmp_int_real(json_int_t i, double r)
{
	double f;
	long long fi;

	if (r >= 0x1p63)
		return -1;
	if (r < -0x1p63)
		return 1;
	f = floor(r);
	fi = (long long)f;
	if ((long long)i < fi)
		return -1;
	if ((long long)i > fi)
		return 1;
	return f == r ? 0 : -1;
}

/* Compare two JSON numbers exactly (1 == 1.0): <0, 0, >0. */
static int
num_cmp(const json_t *a, const json_t *b)
{
	double x, y;

	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t i = json_integer_value(a), j = json_integer_value(b);
		return i < j ? -1 : i > j;
	}
	if (json_is_integer(a))
		return cmp_int_real(json_integer_value(a), json_real_value(b));
	if (json_is_integer(b))
		return -cmp_int_real(json_integer_value(b), json_real_value(a));
	x = json_real_value(a);
	y = json_real_value(b);
	return x < y ? -1 : x > y;
}

static int
is_integral(const json_t *v)
{
	double r;

	if (json_is_integer(v))
		return 1;
	if (!json_is_real(v))
		return 0;
	r = json_real_value(v);
	return isfinite(r) && r == floor(r);
}

/* A number as written in a message: integers exactly, reals shortest. */
static void
fmt_num(const json_t *v, char *out, size_t len)
{
	double r;
	int prec;

	if (json_is_integer(v)) {
		snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	r = json_real_value(v);
	for (prec = 1; prec < 17; prec++) {
		snprintf(out, len, "%.*g", prec, r);
		if (strtod(out, NULL) == r)
			return;
	}
	snprintf(out, len, "%.17g", r);
}

/* A non-negative integer keyword value (3 or 3.0), or -1. */
static long long
count_value(const json_t *v)
{
	if (!is_integral(v))
		return -1;
	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? -1 : json_integer_value(v);
	if (json_real_value(v) < 0 || json_real_value(v) >= 0x1p62)
		return -1;
	return (long long)json_real_value(v);
}

/* ---- equality for enum/const: numbers by value, depth bounded ---- */

static int
jeq(const json_t *a, const json_t *b, int depth)
{
	const char *key;
	json_t *va, *vb;
	size_t i;

	if (depth > JS_MAX_DEPTH)
		return 0;
	if (json_is_number(a) && json_is_number(b))
		return num_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, key, va) {
			vb = json_object_get(b, key);
			if (vb == NULL || !jeq(va, vb, depth + 1))
				return 0;
		}
		return 1;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!jeq(json_array_get(a, i), json_array_get(b, i),
			    depth + 1))
				return 0;
		return 1;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	default:
		return 1;
	}
}

/* Compact JSON of v for a message, cut at JS_QUOTE_MAX with "...". */
static void
quote_value(const json_t *v, char *out, size_t len)
{
	char *d;

	d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (d == NULL) {
		snprintf(out, len, "(value)");
		return;
	}
	if (strlen(d) > JS_QUOTE_MAX)
		snprintf(out, len, "%.*s...", JS_QUOTE_MAX, d);
	else
		snprintf(out, len, "%s", d);
	free(d);
}

/* ---- patterns ---- */

struct rx {
	char	*pat;
	regex_t	 re;
};

static struct rx	rx_cache[JS_CACHE_MAX];
static size_t		rx_count, rx_next;
static int		rx_atexit;

void
jschema_cache_clear(void)
{
	size_t i;

	for (i = 0; i < rx_count; i++) {
		regfree(&rx_cache[i].re);
		free(rx_cache[i].pat);
		rx_cache[i].pat = NULL;
	}
	rx_count = rx_next = 0;
}

/* Index just past the bracket expression opening at p[i], or 0 if open. */
static size_t
bracket_end(const char *p, size_t i, const char **why)
{
	const char *close;
	char term[3];
	size_t j = i + 1;

	if (p[j] == '^')
		j++;
	if (p[j] == ']')
		j++;
	for (; p[j] != ']'; j++) {
		if (p[j] == '\0')
			return 0;
		if (p[j] == '\\') {
			*why = "a backslash inside [...] is a literal backslash "
			    "in POSIX ERE; put ']' first, '-' last, and other "
			    "characters as they are";
			return 0;
		}
		if (p[j] == '[' && (p[j + 1] == ':' || p[j + 1] == '.' ||
		    p[j + 1] == '=')) {
			term[0] = p[j + 1];
			term[1] = ']';
			term[2] = '\0';
			if ((close = strstr(p + j + 2, term)) == NULL)
				return 0;
			j = (size_t)(close - p) + 1;
		}
	}
	return j + 1;
}

/*
 * Refuse syntax that ECMA 262 and POSIX ERE read differently.  0, or -1
 * with the reason in why (static or written to buf).
 */
static int
pattern_ecma_check(const char *p, char *buf, size_t len, const char **why)
{
	size_t i = 0, j;

	while (p[i] != '\0') {
		if (p[i] == '\\') {
			if (isalnum((unsigned char)p[i + 1])) {
				snprintf(buf, len, "'\\%c' is not POSIX ERE "
				    "(use [0-9], [[:alnum:]_], [[:space:]] ...)",
				    p[i + 1]);
				*why = buf;
				return -1;
			}
			i += p[i + 1] != '\0' ? 2 : 1;
		} else if (p[i] == '[') {
			*why = NULL;
			if ((j = bracket_end(p, i, why)) == 0)
				return *why != NULL ? -1 : 0;
			i = j;
		} else if (p[i] == '(' && p[i + 1] == '?') {
			*why = "'(?' groups (non-capturing, lookaround) are "
			    "not POSIX ERE";
			return -1;
		} else if (strchr("*+?}", p[i]) != NULL && p[i + 1] == '?') {
			snprintf(buf, len, "lazy quantifier '%c?' is not "
			    "POSIX ERE", p[i]);
			*why = buf;
			return -1;
		} else
			i++;
	}
	return 0;
}

/*
 * Compiled regex for pat, from the cache or compiled and cached now.
 * Borrowed: valid until the next call.  NULL with the reason in why.
 */
static regex_t *
rx_get(const char *pat, char *buf, size_t len, const char **why)
{
	struct rx *slot;
	regex_t re;
	size_t i;
	int rc;

	for (i = 0; i < rx_count; i++)
		if (strcmp(rx_cache[i].pat, pat) == 0)
			return &rx_cache[i].re;
	if (pattern_ecma_check(pat, buf, len, why) == -1)
		return NULL;
	if ((rc = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, &re, buf, len);
		*why = buf;
		if (rc == REG_ESPACE)
			errno = ENOMEM;
		return NULL;
	}
	if (rx_count < JS_CACHE_MAX)
		slot = &rx_cache[rx_count++];
	else {
		slot = &rx_cache[rx_next];
		rx_next = (rx_next + 1) % JS_CACHE_MAX;
		regfree(&slot->re);
		free(slot->pat);
	}
	if ((slot->pat = strdup(pat)) == NULL) {
		regfree(&re);
		*slot = rx_cache[--rx_count];
		if (rx_next >= rx_count)
			rx_next = 0;
		*why = strerror(ENOMEM);
		return NULL;
	}
	slot->re = re;
	if (!rx_atexit) {
		rx_atexit = 1;
		atexit(jschema_cache_clear);
	}
	return &slot->re;
}

/*
 * Does re match anywhere in s[0..len)?  regexec()'s answer: 0, REG_NOMATCH,
 * or an error (REG_ESPACE: out of memory), which is no verdict on s.
 */
static int
rx_search(const regex_t *re, const char *s, size_t len)
{
#ifdef REG_STARTEND
	regmatch_t m[1];

	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)len;
	return regexec(re, s, 1, m, REG_STARTEND);
#else
	(void)len;
	return regexec(re, s, 0, NULL, 0);
#endif
}

/* ---- keyword table and schema checks ---- */

static const char *const type_names[] = {
	"object", "array", "string", "integer", "number", "boolean", "null",
};
static const char *const type_phrases[] = {
	"an object", "an array", "a string", "an integer", "a number",
	"a boolean", "null",
};
#define NTYPES	(sizeof(type_names) / sizeof(*type_names))

static int
type_index(const char *name)
{
	size_t i;

	for (i = 0; i < NTYPES; i++)
		if (strcmp(name, type_names[i]) == 0)
			return (int)i;
	return -1;
}

static int	check_schema(struct jctx *, const json_t *, int);

/* Every keyword check: 0 or -1; `deep` also checks subschemas. */
typedef int (*kw_check_fn)(struct jctx *, const json_t *, int depth, int deep);

static int
kw_type(struct jctx *c, const json_t *v, int depth, int deep)
{
	unsigned int seen = 0;
	json_t *t;
	size_t i;
	int k;

	if (json_is_string(v)) {
		if (type_index(json_string_value(v)) >= 0)
			return 0;
		jfail(c, "schema %s: unknown type '%s'", spath(c),
		    json_string_value(v));
		return -1;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		jfail(c, "schema %s: must be a type name or a non-empty array "
		    "of type names", spath(c));
		return -1;
	}
	json_array_foreach(v, i, t) {
		if (!json_is_string(t) ||
		    (k = type_index(json_string_value(t))) < 0) {
			jfail(c, "schema %s/%zu: must be one of object, array, "
			    "string, integer, number, boolean, null", spath(c), i);
			return -1;
		}
		if (seen & (1u << k)) {
			jfail(c, "schema %s: type '%s' listed twice", spath(c),
			    type_names[k]);
			return -1;
		}
		seen |= 1u << k;
	}
	return 0;
}

static int
subschema(struct jctx *c, const json_t *v, int depth, int deep)
{
	if (!json_is_object(v) && !json_is_boolean(v)) {
		jfail(c, "schema %s: must be a schema (an object or a boolean)",
		    spath(c));
		return -1;
	}
	return deep ? check_schema(c, v, depth + 1) : 0;
}

static int
kw_properties(struct jctx *c, const json_t *v, int depth, int deep)
{
	const char *key;
	json_t *sub;
	size_t old;
	int rc;

	if (!json_is_object(v)) {
		jfail(c, "schema %s: must be an object of schemas", spath(c));
		return -1;
	}
	json_object_foreach((json_t *)v, key, sub) {
		old = spath_push(c, key);
		rc = subschema(c, sub, depth, deep);
		path_pop(c->spath, &c->slen, old);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
kw_schema(struct jctx *c, const json_t *v, int depth, int deep)
{
	return subschema(c, v, depth, deep);
}

static int
kw_items(struct jctx *c, const json_t *v, int depth, int deep)
{
	if (json_is_array(v)) {
		jfail(c, "schema %s: the array form of items is not supported; "
		    "use one schema for every item", spath(c));
		return -1;
	}
	return subschema(c, v, depth, deep);
}

static int
kw_required(struct jctx *c, const json_t *v, int depth, int deep)
{
	json_t *s;
	size_t i, j;

	if (!json_is_array(v)) {
		jfail(c, "schema %s: must be an array of property names",
		    spath(c));
		return -1;
	}
	json_array_foreach(v, i, s) {
		if (!json_is_string(s)) {
			jfail(c, "schema %s/%zu: must be a string", spath(c), i);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (jeq(json_array_get(v, j), s, 0)) {
				jfail(c, "schema %s: '%s' listed twice", spath(c),
				    json_string_value(s));
				return -1;
			}
	}
	return 0;
}

static int
kw_enum(struct jctx *c, const json_t *v, int depth, int deep)
{
	if (!json_is_array(v) || json_array_size(v) == 0) {
		jfail(c, "schema %s: must be a non-empty array", spath(c));
		return -1;
	}
	return 0;
}

static int
kw_any(struct jctx *c, const json_t *v, int depth, int deep)
{
	return 0;
}

static int
kw_number(struct jctx *c, const json_t *v, int depth, int deep)
{
	if (!json_is_number(v)) {
		jfail(c, "schema %s: must be a number", spath(c));
		return -1;
	}
	return 0;
}

static int
kw_count(struct jctx *c, const json_t *v, int depth, int deep)
{
	if (count_value(v) < 0) {
		jfail(c, "schema %s: must be a non-negative integer", spath(c));
		return -1;
	}
	return 0;
}

static int
kw_string(struct jctx *c, const json_t *v, int depth, int deep)
{
	if (!json_is_string(v)) {
		jfail(c, "schema %s: must be a string", spath(c));
		return -1;
	}
	return 0;
}

static int
kw_array(struct jctx *c, const json_t *v, int depth, int deep)
{
	if (!json_is_array(v)) {
		jfail(c, "schema %s: must be an array", spath(c));
		return -1;
	}
	return 0;
}

static int
kw_pattern(struct jctx *c, const json_t *v, int depth, int deep)
{
	const char *why = NULL;
	char buf[256];

	if (kw_string(c, v, depth, deep) == -1)
		return -1;
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		jfail(c, "schema %s: must not contain NUL", spath(c));
		return -1;
	}
	if (rx_get(json_string_value(v), buf, sizeof(buf), &why) == NULL) {
		jfail(c, "schema %s: '%s' does not compile: %s", spath(c),
		    json_string_value(v), why);
		return -1;
	}
	return 0;
}

static const struct keyword {
	const char	*name;
	kw_check_fn	 check;
} keywords[] = {
	{ "type",		kw_type },
	{ "properties",		kw_properties },
	{ "required",		kw_required },
	{ "additionalProperties", kw_schema },
	{ "enum",		kw_enum },
	{ "const",		kw_any },
	{ "minimum",		kw_number },
	{ "maximum",		kw_number },
	{ "exclusiveMinimum",	kw_number },
	{ "exclusiveMaximum",	kw_number },
	{ "minLength",		kw_count },
	{ "maxLength",		kw_count },
	{ "pattern",		kw_pattern },
	{ "items",		kw_items },
	{ "minItems",		kw_count },
	{ "maxItems",		kw_count },
	{ "description",	kw_string },
	{ "title",		kw_string },
	{ "default",		kw_any },
	{ "examples",		kw_array },
	{ "$schema",		kw_string },
};

static const struct keyword *
keyword_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(keywords) / sizeof(*keywords); i++)
		if (strcmp(keywords[i].name, name) == 0)
			return &keywords[i];
	return NULL;
}

/*
 * Check the keywords of one schema node (and, when deep, every schema
 * below it).  0 or -1 with the message in c.
 */
static int
check_node(struct jctx *c, const json_t *schema, int depth, int deep)
{
	const struct keyword *kw;
	const char *key;
	json_t *v;
	size_t old;
	int rc;

	if (depth > JS_MAX_DEPTH) {
		jfail(c, "schema %s: nested deeper than %d levels", spath(c),
		    JS_MAX_DEPTH);
		return -1;
	}
	if (json_is_boolean(schema))
		return 0;
	if (!json_is_object(schema)) {
		jfail(c, "schema %s: must be an object or a boolean", spath(c));
		return -1;
	}
	json_object_foreach((json_t *)schema, key, v) {
		if ((kw = keyword_find(key)) == NULL) {
			jfail(c, "schema %s: unknown keyword '%s'", spath(c), key);
			return -1;
		}
		old = spath_push(c, key);
		rc = kw->check(c, v, depth, deep);
		path_pop(c->spath, &c->slen, old);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
check_schema(struct jctx *c, const json_t *schema, int depth)
{
	return check_node(c, schema, depth, 1);
}

static void
jctx_init(struct jctx *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->err = err;
	c->errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

int
jschema_check(const json_t *schema, char *err, size_t errlen)
{
	struct jctx c;

	jctx_init(&c, err, errlen);
	errno = 0;
	if (schema == NULL) {
		jfail(&c, "schema (root): missing");
		return -1;
	}
	return check_schema(&c, schema, 0);
}

/* ---- validation ---- */

static int	validate(struct jctx *, const json_t *, const json_t *, int);

static int
type_matches(int t, const json_t *v)
{
	switch (t) {
	case 0: return json_is_object(v);
	case 1: return json_is_array(v);
	case 2: return json_is_string(v);
	case 3: return is_integral(v);
	case 4: return json_is_number(v);
	case 5: return json_is_boolean(v);
	default: return json_is_null(v);
	}
}

static int
v_type(struct jctx *c, const json_t *t, const json_t *v)
{
	char what[256];
	size_t i, n, off;
	json_t *e;

	if (json_is_string(t)) {
		if (type_matches(type_index(json_string_value(t)), v))
			return 0;
		vfail(c, "type", "must be %s",
		    type_phrases[type_index(json_string_value(t))]);
		return -1;
	}
	json_array_foreach(t, i, e)
		if (type_matches(type_index(json_string_value(e)), v))
			return 0;
	n = json_array_size(t);
	what[0] = '\0';
	off = 0;
	json_array_foreach(t, i, e) {
		off += (size_t)snprintf(what + off, sizeof(what) - off, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ",
		    type_phrases[type_index(json_string_value(e))]);
		if (off >= sizeof(what))
			break;
	}
	vfail(c, "type", "must be %s", what);
	return -1;
}

static int
v_enum(struct jctx *c, const json_t *en, const json_t *v)
{
	char list[2 * JS_QUOTE_MAX + 16], one[JS_QUOTE_MAX + 8];
	size_t i, off = 0;
	json_t *e;
	int n;

	json_array_foreach(en, i, e)
		if (jeq(e, v, 0))
			return 0;
	list[0] = '\0';
	json_array_foreach(en, i, e) {
		if (off > JS_QUOTE_MAX)
			break;
		quote_value(e, one, sizeof(one));
		n = snprintf(list + off, sizeof(list) - off, "%s%s",
		    i ? ", " : "", one);
		off = n < 0 ? off : off + (size_t)n;
	}
	if (off > JS_QUOTE_MAX)
		memcpy(list + JS_QUOTE_MAX, "...", 4);
	vfail(c, "enum", "must be one of %s", list);
	return -1;
}

static int
v_const(struct jctx *c, const json_t *k, const json_t *v)
{
	char one[JS_QUOTE_MAX + 8];

	if (jeq(k, v, 0))
		return 0;
	quote_value(k, one, sizeof(one));
	vfail(c, "const", "must be %s", one);
	return -1;
}

static int
v_number(struct jctx *c, const json_t *s, const json_t *v)
{
	static const struct {
		const char *kw, *op;
		int bad_lt, bad_eq, bad_gt;
	} rules[] = {
		{ "minimum", ">=", 1, 0, 0 },
		{ "maximum", "<=", 0, 0, 1 },
		{ "exclusiveMinimum", ">", 1, 1, 0 },
		{ "exclusiveMaximum", "<", 0, 1, 1 },
	};
	const json_t *lim;
	char num[64];
	size_t i;
	int cmp;

	for (i = 0; i < sizeof(rules) / sizeof(*rules); i++) {
		if ((lim = json_object_get(s, rules[i].kw)) == NULL)
			continue;
		cmp = num_cmp(v, lim);
		if ((cmp < 0 && rules[i].bad_lt) || (cmp == 0 &&
		    rules[i].bad_eq) || (cmp > 0 && rules[i].bad_gt)) {
			fmt_num(lim, num, sizeof(num));
			vfail(c, rules[i].kw, "must be %s %s", rules[i].op, num);
			return -1;
		}
	}
	return 0;
}

/* Code points in a valid UTF-8 string. */
static size_t
utf8_count(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

static int
v_string(struct jctx *c, const json_t *s, const json_t *v)
{
	const json_t *k;
	const char *why = NULL;
	char buf[256];
	regex_t *re;
	long long lim;
	size_t n = utf8_count(json_string_value(v), json_string_length(v));
	int rc;

	if ((k = json_object_get(s, "minLength")) != NULL &&
	    (long long)n < (lim = count_value(k))) {
		vfail(c, "minLength", "must be at least %lld character%s long",
		    lim, lim == 1 ? "" : "s");
		return -1;
	}
	if ((k = json_object_get(s, "maxLength")) != NULL &&
	    (long long)n > (lim = count_value(k))) {
		vfail(c, "maxLength", "must be at most %lld character%s long",
		    lim, lim == 1 ? "" : "s");
		return -1;
	}
	if ((k = json_object_get(s, "pattern")) == NULL)
		return 0;
	if ((re = rx_get(json_string_value(k), buf, sizeof(buf), &why)) == NULL) {
		jfail(c, "schema %s/pattern: '%s' does not compile: %s",
		    spath(c), json_string_value(k), why);
		return -1;
	}
	if ((rc = rx_search(re, json_string_value(v),
	    json_string_length(v))) == 0)
		return 0;
	if (rc != REG_NOMATCH) {
		regerror(rc, re, buf, sizeof(buf));
		jfail(c, "schema %s/pattern: '%s' cannot be matched: %s",
		    spath(c), json_string_value(k), buf);
		return -1;
	}
	vfail(c, "pattern", "must match pattern '%s'", json_string_value(k));
	return -1;
}

static int
v_array(struct jctx *c, const json_t *s, const json_t *v, int depth)
{
	const json_t *k, *items;
	size_t i, old, sold;
	long long lim, n = (long long)json_array_size(v);
	int rc;

	if ((k = json_object_get(s, "minItems")) != NULL &&
	    n < (lim = count_value(k))) {
		vfail(c, "minItems", "must have at least %lld item%s", lim,
		    lim == 1 ? "" : "s");
		return -1;
	}
	if ((k = json_object_get(s, "maxItems")) != NULL &&
	    n > (lim = count_value(k))) {
		vfail(c, "maxItems", "must have at most %lld item%s", lim,
		    lim == 1 ? "" : "s");
		return -1;
	}
	if ((items = json_object_get(s, "items")) == NULL)
		return 0;
	sold = spath_push(c, "items");
	for (i = 0, rc = 0; i < json_array_size(v) && rc == 0; i++) {
		old = ipath_push_index(c, i);
		rc = validate(c, items, json_array_get(v, i), depth + 1);
		path_pop(c->ipath, &c->ilen, old);
	}
	path_pop(c->spath, &c->slen, sold);
	return rc;
}

static int
v_required(struct jctx *c, const json_t *req, const json_t *v)
{
	size_t i, old;
	json_t *k;

	json_array_foreach(req, i, k) {
		if (json_object_get(v, json_string_value(k)) != NULL)
			continue;
		old = ipath_push_key(c, json_string_value(k));
		jfail(c, "missing required argument '%s' (required)", c->ipath);
		path_pop(c->ipath, &c->ilen, old);
		return -1;
	}
	return 0;
}

/* One member of an object instance against properties/additionalProperties. */
static int
v_member(struct jctx *c, const json_t *s, const char *key, const json_t *val,
    int depth)
{
	const json_t *props, *sub, *addl;
	size_t old, sold = c->slen;
	int rc;

	props = json_object_get(s, "properties");
	addl = json_object_get(s, "additionalProperties");
	old = ipath_push_key(c, key);
	if (props != NULL && (sub = json_object_get(props, key)) != NULL) {
		sold = spath_push(c, "properties");
		spath_push(c, key);
	} else if (json_is_false(addl)) {
		jfail(c, "unexpected argument '%s' (additionalProperties)",
		    c->ipath);
		path_pop(c->ipath, &c->ilen, old);
		return -1;
	} else if (addl != NULL) {
		sub = addl;
		sold = spath_push(c, "additionalProperties");
	} else {
		path_pop(c->ipath, &c->ilen, old);
		return 0;
	}
	rc = validate(c, sub, val, depth + 1);
	path_pop(c->spath, &c->slen, sold);
	path_pop(c->ipath, &c->ilen, old);
	return rc;
}

static int
v_object(struct jctx *c, const json_t *s, const json_t *v, int depth)
{
	const json_t *req;
	const char *key;
	json_t *val;

	if ((req = json_object_get(s, "required")) != NULL &&
	    v_required(c, req, v) == -1)
		return -1;
	json_object_foreach((json_t *)v, key, val)
		if (v_member(c, s, key, val, depth) == -1)
			return -1;
	return 0;
}

/*
 * Validate v against schema s.  The node's keywords are checked (shallow)
 * first, so an unchecked or malformed schema fails with a schema message
 * instead of being half applied.
 */
static int
validate(struct jctx *c, const json_t *s, const json_t *v, int depth)
{
	const json_t *k;

	if (depth > JS_MAX_DEPTH) {
		vfail(c, "depth", "nested deeper than %d levels", JS_MAX_DEPTH);
		return -1;
	}
	if (check_node(c, s, depth, 0) == -1)
		return -1;
	if (json_is_true(s))
		return 0;
	if (json_is_false(s)) {
		vfail(c, "false schema", "is not allowed");
		return -1;
	}
	if ((k = json_object_get(s, "type")) != NULL && v_type(c, k, v) == -1)
		return -1;
	if ((k = json_object_get(s, "const")) != NULL && v_const(c, k, v) == -1)
		return -1;
	if ((k = json_object_get(s, "enum")) != NULL && v_enum(c, k, v) == -1)
		return -1;
	if (json_is_object(v))
		return v_object(c, s, v, depth);
	if (json_is_array(v))
		return v_array(c, s, v, depth);
	if (json_is_string(v))
		return v_string(c, s, v);
	if (json_is_number(v))
		return v_number(c, s, v);
	return 0;
}

int
jschema_validate(const json_t *schema, const json_t *instance, char *err,
    size_t errlen)
{
	struct jctx c;

	jctx_init(&c, err, errlen);
	if (schema == NULL) {
		jfail(&c, "schema (root): missing");
		return -1;
	}
	if (instance == NULL) {
		jfail(&c, "arguments: missing");
		return -1;
	}
	return validate(&c, schema, instance, 0);
}
