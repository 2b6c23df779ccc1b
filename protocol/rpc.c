#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

/*
 * A strict JSON syntax scanner.  It exists for two reasons jansson cannot
 * serve: it returns the exact bytes of the top-level "id" value (so replies
 * echo "\u0041" as sent), and it tells whether a text jansson refused for a
 * policy reason (duplicate key, integer beyond int64, nesting, \u0000) is
 * still valid JSON, in which case the id can be recovered for the reply.
 * It is iterative: nesting depth costs one bit per level, never stack.
 */
enum scan_state { SC_VALUE, SC_KEY, SC_AFTER };

struct scan {
	const unsigned char	*p, *end, *start;
	uint64_t		 small[64];	/* 1 bit per level: object? */
	uint64_t		*kinds;
	size_t			 cap;		/* levels `kinds` holds */
	size_t			 depth;
	int			 top;		/* first byte of the text */
	/* top-level object members */
	const unsigned char	*id;
	size_t			 id_len;
	int			 ids, in_id;
	int			 has_method, has_result, has_error;
};

/* Length of the valid UTF-8 sequence at p (bytes >= 0x80), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Replace every byte that is not part of valid UTF-8 with '?', in place. */
static void
utf8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n, left = strlen(s);

	while (left > 0) {
		if (*p < 0x80)
			n = 1;
		else if ((n = utf8_len(p, left)) == 0) {
			*p = '?';
			n = 1;
		}
		p += n;
		left -= n;
	}
}

static void
scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0, d;
	int i;

	for (i = 0; i < 4; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* One escape after '\'; s->p on the byte after the backslash. */
static int
scan_escape(struct scan *s)
{
	unsigned u, lo;

	if (s->p >= s->end)
		return -1;
	if (strchr("\"\\/bfnrt", *s->p) != NULL && *s->p != '\0') {
		s->p++;
		return 0;
	}
	if (*s->p != 'u' || s->end - s->p < 5 || hex4(s->p + 1, &u) == -1)
		return -1;
	s->p += 5;
	if (u >= 0xdc00 && u <= 0xdfff)
		return -1;		/* lone low surrogate */
	if (u < 0xd800 || u > 0xdbff)
		return 0;
	if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
	    hex4(s->p + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
		return -1;
	s->p += 6;
	return 0;
}

/* A string; s->p on the opening quote, left after the closing one. */
static int
scan_string(struct scan *s)
{
	size_t n;

	s->p++;
	while (s->p < s->end) {
		if (*s->p == '"') {
			s->p++;
			return 0;
		}
		if (*s->p == '\\') {
			s->p++;
			if (scan_escape(s) == -1)
				return -1;
		} else if (*s->p < 0x20)
			return -1;
		else if (*s->p < 0x80)
			s->p++;
		else if ((n = utf8_len(s->p, (size_t)(s->end - s->p))) == 0)
			return -1;
		else
			s->p += n;
	}
	return -1;
}

static int
scan_digits(struct scan *s)
{
	const unsigned char *b = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > b ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
scan_number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p >= s->end || *s->p < '1' || *s->p > '9' ||
	    scan_digits(s) == -1)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (scan_digits(s) == -1)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (scan_digits(s) == -1)
			return -1;
	}
	return 0;
}

static int
scan_literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int
scan_scalar(struct scan *s)
{
	switch (*s->p) {
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return -1;
	}
}

static int
scan_push(struct scan *s, int is_obj)
{
	uint64_t *nk;
	size_t ncap;

	if (s->depth == s->cap) {
		ncap = s->cap * 2;
		if ((nk = calloc(ncap / 64, sizeof(*nk))) == NULL)
			return -1;
		memcpy(nk, s->kinds, s->cap / 8);
		if (s->kinds != s->small)
			free(s->kinds);
		s->kinds = nk;
		s->cap = ncap;
	}
	if (is_obj)
		s->kinds[s->depth / 64] |= (uint64_t)1 << (s->depth % 64);
	else
		s->kinds[s->depth / 64] &= ~((uint64_t)1 << (s->depth % 64));
	s->depth++;
	return 0;
}

static int
scan_top_is_obj(const struct scan *s)
{
	size_t d = s->depth - 1;

	return (s->kinds[d / 64] >> (d % 64)) & 1;
}

/*
 * Decode a member name (quotes included in k..k+n) just far enough to
 * compare it with a short ASCII name; escapes count ("\u0069d" is "id").
 */
static int
key_is(const unsigned char *k, size_t n, const char *name)
{
	const unsigned char *p = k + 1, *e = k + n - 1;
	size_t i = 0, len = strlen(name);
	unsigned u;
	int c;

	while (p < e) {
		if (*p != '\\')
			c = *p++;
		else if (p[1] == 'u') {
			if (hex4(p + 2, &u) == -1)
				return 0;
			c = u < 0x80 ? (int)u : -1;
			p += 6;
		} else {
			c = p[1] == 'b' ? '\b' : p[1] == 'f' ? '\f' :
			    p[1] == 'n' ? '\n' : p[1] == 'r' ? '\r' :
			    p[1] == 't' ? '\t' : p[1];
			p += 2;
		}
		if (i >= len || c != name[i])
			return 0;
		i++;
	}
	return i == len;
}

static void
scan_member(struct scan *s, const unsigned char *k, size_t n)
{
	if (s->depth != 1)
		return;
	if (key_is(k, n, "id")) {
		s->ids++;
		s->in_id = 1;
	} else if (key_is(k, n, "method"))
		s->has_method = 1;
	else if (key_is(k, n, "result"))
		s->has_result = 1;
	else if (key_is(k, n, "error"))
		s->has_error = 1;
}

/* Value start: a container opens, or a scalar is scanned. */
static int
scan_value(struct scan *s, enum scan_state *st)
{
	int obj;

	scan_ws(s);
	if (s->p >= s->end)
		return -1;
	if (s->in_id && s->depth == 1)
		s->id = s->p;
	if (*s->p != '{' && *s->p != '[') {
		*st = SC_AFTER;
		return scan_scalar(s);
	}
	obj = *s->p == '{';
	s->p++;
	if (scan_push(s, obj) == -1)
		return -1;
	scan_ws(s);
	if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
		s->p++;
		s->depth--;
		*st = SC_AFTER;
	} else
		*st = obj ? SC_KEY : SC_VALUE;
	return 0;
}

static int
scan_key(struct scan *s, enum scan_state *st)
{
	const unsigned char *k;

	scan_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return -1;
	k = s->p;
	if (scan_string(s) == -1)
		return -1;
	scan_member(s, k, (size_t)(s->p - k));
	scan_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return -1;
	s->p++;
	*st = SC_VALUE;
	return 0;
}

/* After a complete value: a separator, a closer, or the end. */
static int
scan_after(struct scan *s, enum scan_state *st)
{
	int obj;

	if (s->in_id && s->depth == 1) {
		s->id_len = (size_t)(s->p - s->id);
		s->in_id = 0;
	}
	scan_ws(s);
	if (s->depth == 0)
		return s->p == s->end ? 1 : -1;
	if (s->p >= s->end)
		return -1;
	obj = scan_top_is_obj(s);
	if (*s->p == ',') {
		s->p++;
		*st = obj ? SC_KEY : SC_VALUE;
		return 0;
	}
	if (*s->p != (obj ? '}' : ']'))
		return -1;
	s->p++;
	s->depth--;
	return 0;
}

/*
 * Scan buf as one JSON text.  Returns 0 when it is valid JSON (s holds the
 * top-level members), -1 otherwise or on ENOMEM.  Release with scan_done().
 */
static int
scan_json(struct scan *s, const char *buf, size_t len)
{
	enum scan_state st = SC_VALUE;
	int rc;

	memset(s, 0, sizeof(*s));
	s->start = s->p = (const unsigned char *)buf;
	s->end = s->p + len;
	s->kinds = s->small;
	s->cap = sizeof(s->small) * 8;
	scan_ws(s);
	s->top = s->p < s->end ? *s->p : -1;
	for (;;) {
		if (st == SC_VALUE)
			rc = scan_value(s, &st);
		else if (st == SC_KEY)
			rc = scan_key(s, &st);
		else
			rc = scan_after(s, &st);
		if (rc != 0)
			return rc == 1 ? 0 : -1;
	}
}

static void
scan_done(struct scan *s)
{
	if (s->kinds != s->small)
		free(s->kinds);
	s->kinds = s->small;
}

static char *
xstrndup(const void *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/*
 * Is raw (NUL-terminated) an acceptable id: a JSON string or integer, or
 * null when allow_null?  Integers must fit int64 (jansson decides).
 */
static int
id_text_ok(const char *raw, int allow_null)
{
	json_t *v;
	int ok;

	if (raw == NULL || *raw == '\0')
		return 0;
	if ((v = json_loads(raw, JSON_DECODE_ANY, NULL)) == NULL)
		return 0;
	ok = json_is_string(v) || json_is_integer(v) ||
	    (allow_null && json_is_null(v));
	json_decref(v);
	return ok;
}

static int
set_err(struct rpc_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
set_err(struct rpc_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	utf8_fix(e->message);
	return -1;
}

/* Copy the recovered id into e when it is a valid id. */
static void
err_take_id(struct rpc_err *e, const struct scan *s, int allow_null)
{
	char *raw;

	if (s->ids != 1 || s->id == NULL || s->id_len == 0)
		return;
	if ((raw = xstrndup(s->id, s->id_len)) == NULL)
		return;
	if (id_text_ok(raw, allow_null))
		e->id_raw = raw;
	else
		free(raw);
}

/*
 * jansson refused the text.  Syntax errors are parse errors answered with
 * id null; a valid JSON text refused by policy is an invalid request that
 * keeps its id, and is classified (response / notification) from its
 * top-level members.
 */
static int
refused(const char *buf, size_t len, const json_error_t *je,
    struct rpc_err *e)
{
	enum json_error_code jc = json_error_code(je);
	struct scan s;
	const char *what;
	int valid;

	if (jc == json_error_out_of_memory)
		return set_err(e, RPC_INTERNAL_ERROR,
		    "internal error: out of memory parsing the message");
	valid = scan_json(&s, buf, len) == 0;
	scan_done(&s);
	if (!valid || (jc != json_error_duplicate_key &&
	    jc != json_error_numeric_overflow &&
	    jc != json_error_stack_overflow &&
	    jc != json_error_null_character))
		return set_err(e, RPC_PARSE_ERROR,
		    "parse error: %s at line %d column %d",
		    je->text, je->line, je->column);
	if (s.top == '[')
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: batches are not supported");
	if (s.top != '{')
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: message must be a JSON object");
	e->is_response = !s.has_method && (s.has_result || s.has_error);
	e->is_notification = s.has_method && s.ids == 0;
	err_take_id(e, &s, e->is_response);
	what = e->is_response ? "invalid response" : "invalid request";
	if (jc == json_error_stack_overflow)
		return set_err(e, RPC_INVALID_REQUEST,
		    "%s: nesting deeper than %d levels", what,
		    JSON_PARSER_MAX_DEPTH);
	if (jc == json_error_null_character)
		return set_err(e, RPC_INVALID_REQUEST,
		    "%s: strings must not contain \\u0000 at line %d column %d",
		    what, je->line, je->column);
	return set_err(e, RPC_INVALID_REQUEST, "%s: %s at line %d column %d",
	    what, je->text, je->line, je->column);
}

static int
jsonrpc_ok(json_t *root)
{
	json_t *v = json_object_get(root, "jsonrpc");

	return json_is_string(v) && strcmp(json_string_value(v), "2.0") == 0 &&
	    json_string_length(v) == 3;
}

/* A message without "method" that carries "result" or "error". */
static int
check_response(struct rpc_msg *m, struct rpc_err *e)
{
	json_t *res = json_object_get(m->root, "result");
	json_t *err = json_object_get(m->root, "error");
	json_t *code, *msg;

	if (!jsonrpc_ok(m->root))
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid response: 'jsonrpc' must be \"2.0\"");
	if (res != NULL && err != NULL)
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid response: both 'result' and 'error'");
	if (m->id == NULL)
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid response: 'id' is missing");
	if (!json_is_string(m->id) && !json_is_integer(m->id) &&
	    !(err != NULL && json_is_null(m->id)))
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid response: 'id' must be a string or integer");
	if (res != NULL) {
		m->kind = RPC_RESPONSE;
		m->result = res;
		return 0;
	}
	code = json_object_get(err, "code");
	msg = json_object_get(err, "message");
	if (!json_is_object(err) || !json_is_integer(code) ||
	    json_integer_value(code) < INT_MIN ||
	    json_integer_value(code) > INT_MAX || !json_is_string(msg))
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid response: 'error' must be an object with an "
		    "integer 'code' and a string 'message'");
	m->kind = RPC_ERROR_RESPONSE;
	m->error = err;
	m->error_code = (int)json_integer_value(code);
	m->error_message = json_string_value(msg);
	return 0;
}

/* A message with "method": a request or a notification. */
static int
check_request(struct rpc_msg *m, struct rpc_err *e)
{
	json_t *method = json_object_get(m->root, "method");
	json_t *params = json_object_get(m->root, "params");

	if (!jsonrpc_ok(m->root))
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: 'jsonrpc' must be \"2.0\"");
	if (m->id != NULL && !json_is_string(m->id) && !json_is_integer(m->id))
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: 'id' must be a string or integer");
	if (method == NULL)
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: 'method' is missing");
	if (!json_is_string(method))
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: 'method' must be a string");
	if (json_object_get(m->root, "result") != NULL ||
	    json_object_get(m->root, "error") != NULL)
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: a request cannot carry 'result' or "
		    "'error'");
	if (params != NULL && json_is_array(params))
		return set_err(e, RPC_INVALID_PARAMS,
		    "invalid params: 'params' must be an object, not an array");
	if (params != NULL && !json_is_object(params))
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: 'params' must be an object");
	m->kind = m->id != NULL ? RPC_REQUEST : RPC_NOTIFICATION;
	m->method = json_string_value(method);
	m->params = params;
	return 0;
}

/*
 * The exact id bytes: the scanner's span when it agrees with jansson
 * (always, for text jansson accepted), else jansson's re-encoding.
 */
static char *
raw_id(const struct scan *s, int scanned, json_t *id)
{
	if (scanned && s->ids == 1 && s->id != NULL && s->id_len > 0)
		return xstrndup(s->id, s->id_len);
	return json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int
envelope(struct rpc_msg *m, struct rpc_err *e, const char *buf, size_t len)
{
	struct scan s;
	int scanned, rc, is_resp;

	m->id = json_object_get(m->root, "id");
	is_resp = json_object_get(m->root, "method") == NULL &&
	    (json_object_get(m->root, "result") != NULL ||
	    json_object_get(m->root, "error") != NULL);
	e->is_response = is_resp;
	e->is_notification = !is_resp && m->id == NULL &&
	    json_object_get(m->root, "method") != NULL;
	if (m->id != NULL) {
		scanned = scan_json(&s, buf, len) == 0;
		m->id_raw = raw_id(&s, scanned, m->id);
		scan_done(&s);
		if (m->id_raw == NULL)
			return set_err(e, RPC_INTERNAL_ERROR,
			    "internal error: out of memory");
	}
	rc = is_resp ? check_response(m, e) : check_request(m, e);
	if (rc == 0)
		return 0;
	if (m->id_raw != NULL && (json_is_string(m->id) ||
	    json_is_integer(m->id) || (is_resp && json_is_null(m->id) &&
	    json_object_get(m->root, "error") != NULL))) {
		e->id_raw = m->id_raw;
		m->id_raw = NULL;
	}
	return -1;
}

/*
 * Parse one message (see rpc.h).  On failure *m is left empty and *e owns
 * the recovered id, if any.
 */
int
rpc_parse(const char *buf, size_t len, struct rpc_msg *m, struct rpc_err *e)
{
	json_error_t je;

	memset(m, 0, sizeof(*m));
	memset(e, 0, sizeof(*e));
	if (buf == NULL) {
		buf = "";
		len = 0;
	}
	m->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &je);
	if (m->root == NULL)
		return refused(buf, len, &je, e);
	if (json_is_array(m->root)) {
		rpc_msg_free(m);
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: batches are not supported");
	}
	if (!json_is_object(m->root)) {
		rpc_msg_free(m);
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: message must be a JSON object");
	}
	if (envelope(m, e, buf, len) == -1) {
		rpc_msg_free(m);
		return -1;
	}
	e->is_response = e->is_notification = 0;
	return 0;
}

void
rpc_msg_free(struct rpc_msg *m)
{
	json_decref(m->root);
	free(m->id_raw);
	memset(m, 0, sizeof(*m));
}

void
rpc_err_clear(struct rpc_err *e)
{
	free(e->id_raw);
	e->id_raw = NULL;
}

int
rpc_err_answerable(const struct rpc_err *e)
{
	return !e->is_response && !e->is_notification;
}

/* Compact encoding of any value; UTF-8 kept as is.  New string or NULL. */
static char *
dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_PRESERVE_ORDER);
}

/* A JSON string literal for s (valid UTF-8 required).  New or NULL. */
static char *
dump_string(const char *s)
{
	json_t *v;
	char *out;

	if ((v = json_string(s)) == NULL)
		return NULL;
	out = dump(v);
	json_decref(v);
	return out;
}

/*
 * Join the envelope: {"jsonrpc":"2.0"[,"id":ID],"K1":V1[,"K2":V2]}.
 * Returns a new string and its length, or NULL (errno set).
 */
static char *
join(const char *id, const char *k1, const char *v1, const char *k2,
    const char *v2, size_t *len)
{
	char *out;
	int n;

	if (v1 == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	n = asprintf(&out, "{\"jsonrpc\":\"2.0\"%s%s,\"%s\":%s%s%s%s%s}",
	    id ? ",\"id\":" : "", id ? id : "", k1, v1,
	    v2 ? ",\"" : "", v2 ? k2 : "", v2 ? "\":" : "", v2 ? v2 : "");
	if (n < 0) {
		errno = ENOMEM;
		return NULL;
	}
	if (len != NULL)
		*len = (size_t)n;
	return out;
}

char *
rpc_build_result(const char *id_raw, const json_t *result, size_t *len)
{
	char *r, *out;

	if (!id_text_ok(id_raw, 0) || result == NULL) {
		errno = EINVAL;
		return NULL;
	}
	r = dump(result);
	out = join(id_raw, "result", r, NULL, NULL, len);
	free(r);
	return out;
}

/* {"code":C,"message":M[,"data":D]}; the message is made valid UTF-8. */
static char *
error_object(int code, const char *message, const json_t *data)
{
	char *msg, *m, *d = NULL, *out = NULL;

	if ((m = strdup(message ? message : rpc_code_name(code))) == NULL)
		return NULL;
	utf8_fix(m);
	msg = dump_string(m);
	free(m);
	if (data != NULL && (d = dump(data)) == NULL)
		goto done;
	if (msg != NULL && asprintf(&out, "{\"code\":%d,\"message\":%s%s%s}",
	    code, msg, d ? ",\"data\":" : "", d ? d : "") < 0)
		out = NULL;
done:
	free(msg);
	free(d);
	return out;
}

char *
rpc_build_error(const char *id_raw, int code, const char *message,
    const json_t *data, size_t *len)
{
	char *eo, *out;

	if (id_raw != NULL && !id_text_ok(id_raw, 1)) {
		errno = EINVAL;
		return NULL;
	}
	eo = error_object(code, message, data);
	out = join(id_raw ? id_raw : "null", "error", eo, NULL, NULL, len);
	free(eo);
	return out;
}

char *
rpc_build_request(const char *id_raw, const char *method,
    const json_t *params, size_t *len)
{
	char *m, *p = NULL, *out;

	if (!id_text_ok(id_raw, 0) || method == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((m = dump_string(method)) == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (params != NULL && (p = dump(params)) == NULL) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	out = join(id_raw, "method", m, "params", p, len);
	free(m);
	free(p);
	return out;
}

char *
rpc_build_notification(const char *method, const json_t *params,
    size_t *len)
{
	char *m, *p = NULL, *out;

	if (method == NULL || (m = dump_string(method)) == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (params != NULL && (p = dump(params)) == NULL) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	out = join(NULL, "method", m, "params", p, len);
	free(m);
	free(p);
	return out;
}

char *
rpc_id_from_int(long long v)
{
	char *s;

	if (asprintf(&s, "%lld", v) < 0)
		return NULL;
	return s;
}

/* Strict decimal integer text: -?(0|[1-9][0-9]*) within long long. */
static int
raw_int(const char *raw, long long *out)
{
	const char *p = raw + (*raw == '-');
	char *end;

	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '\0'))
		return -1;
	errno = 0;
	*out = strtoll(raw, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

/*
 * Integers and escape-free strings are compared without decoding (the
 * common routing case); anything else goes through jansson.
 */
int
rpc_id_equal(const char *id_raw, const json_t *id)
{
	json_t *v;
	size_t n;
	long long iv;
	int eq;

	if (id_raw == NULL || id == NULL)
		return 0;
	if (json_is_integer(id) && raw_int(id_raw, &iv) == 0)
		return iv == json_integer_value(id);
	n = strlen(id_raw);
	if (json_is_string(id) && n >= 2 && id_raw[0] == '"' &&
	    id_raw[n - 1] == '"' && memchr(id_raw, '\\', n) == NULL)
		return json_string_length(id) == n - 2 &&
		    memcmp(json_string_value(id), id_raw + 1, n - 2) == 0;
	if ((v = json_loads(id_raw, JSON_DECODE_ANY, NULL)) == NULL)
		return 0;
	eq = json_equal(v, id);
	json_decref(v);
	return eq;
}

const char *
rpc_code_name(int code)
{
	switch (code) {
	case RPC_PARSE_ERROR:
		return "Parse error";
	case RPC_INVALID_REQUEST:
		return "Invalid Request";
	case RPC_METHOD_NOT_FOUND:
		return "Method not found";
	case RPC_INVALID_PARAMS:
		return "Invalid params";
	case RPC_INTERNAL_ERROR:
		return "Internal error";
	case RPC_REQUEST_TIMEOUT:
		return "Request timed out";
	case RPC_CONNECTION_CLOSED:
		return "Connection closed";
	default:
		if (code >= -32099 && code <= -32000)
			return "Server error";
		return "Unknown error";
	}
}
