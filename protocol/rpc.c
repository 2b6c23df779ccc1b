/*
 * rpc: JSON-RPC 2.0 envelopes (see rpc.h).  What jansson cannot tell
 * about a text (the exact id bytes, valid JSON refused by policy, a value
 * it would take without building it) is asked of json_scan.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_scan.h"
#include "rpc.h"
#include "utf8.h"

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

/*
 * id_text_ok() without a parse for the ids that matter: integers of up to
 * 18 digits and strings without escapes or controls are decided here;
 * anything else is left to jansson.
 */
static int
id_ok(const char *raw, int allow_null)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t n, left;

	if (raw == NULL)
		return 0;
	if (*p == '"') {
		for (p++, left = strlen(raw) - 1; left > 1; p += n, left -= n)
			if (*p == '"' || *p == '\\' || *p < 0x20)
				break;
			else if (*p < 0x80)
				n = 1;
			else if ((n = u8_charlen(p, left - 1)) == 0)
				break;
		if (left == 1 && *p == '"')
			return 1;
	} else {
		p += *p == '-';
		for (n = 0; p[n] >= '0' && p[n] <= '9'; n++)
			;
		if (n > 0 && p[n] == '\0' && n <= JSCAN_SAFE_INT_DIGITS &&
		    (p[0] != '0' || n == 1))
			return 1;
	}
	return id_text_ok(raw, allow_null);
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
	u8_fix(e->message);
	return -1;
}

/* Copy the recovered id into e when it is a valid id. */
static void
err_take_id(struct rpc_err *e, const struct jscan_top *s, int allow_null)
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
 * keeps its id (its exact bytes: jscan_text()), and is classified
 * (response / notification) from its top-level members.  So is a valid
 * text jansson could not parse for lack of memory, so that a response or
 * a notification is not answered.  A scan that runs out of memory counts
 * as invalid: a parse error.
 */
static int
refused(const char *buf, size_t len, const json_error_t *je,
    struct rpc_err *e)
{
	enum json_error_code jc = json_error_code(je);
	struct jscan_top s;
	const char *what;
	int valid, policy, oom;

	valid = jscan_text(buf, len, &s) == JSCAN_OK;
	policy = jc == json_error_duplicate_key ||
	    jc == json_error_numeric_overflow ||
	    jc == json_error_stack_overflow || jc == json_error_null_character;
	/*
	 * When an allocation fails jansson sets no error at all, or (inside
	 * a string) reports a syntax error: valid text refused for no policy
	 * reason was refused for lack of memory.
	 */
	oom = jc == json_error_out_of_memory || je->text[0] == '\0' ||
	    (valid && !policy);
	if (!valid && !oom)
		return set_err(e, RPC_PARSE_ERROR,
		    "parse error: %s at line %d column %d",
		    je->text, je->line, je->column);
	if (valid && s.first == '{') {
		e->is_response = !s.has_method && (s.has_result ||
		    s.has_error);
		e->is_notification = s.has_method && s.ids == 0;
		err_take_id(e, &s, e->is_response);
	}
	if (oom)
		return set_err(e, RPC_INTERNAL_ERROR,
		    "internal error: out of memory parsing the message");
	if (s.first == '[')
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: batches are not supported");
	if (s.first != '{')
		return set_err(e, RPC_INVALID_REQUEST,
		    "invalid request: message must be a JSON object");
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
raw_id(const struct jscan_top *s, int scanned, json_t *id)
{
	if (scanned && s->ids == 1 && s->id != NULL && s->id_len > 0)
		return xstrndup(s->id, s->id_len);
	return json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int
envelope(struct rpc_msg *m, struct rpc_err *e, const char *buf, size_t len)
{
	struct jscan_top s;
	int scanned, rc, is_resp;

	m->id = json_object_get(m->root, "id");
	is_resp = json_object_get(m->root, "method") == NULL &&
	    (json_object_get(m->root, "result") != NULL ||
	    json_object_get(m->root, "error") != NULL);
	e->is_response = is_resp;
	e->is_notification = !is_resp && m->id == NULL &&
	    json_object_get(m->root, "method") != NULL;
	if (m->id != NULL) {
		scanned = jscan_text(buf, len, &s) == JSCAN_OK;
		m->id_raw = raw_id(&s, scanned, m->id);
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
 * The fast path.  Almost every message is a small request, notification
 * or result response whose envelope is plain: "jsonrpc":"2.0", an integer
 * id of at most 18 digits or a string id without escapes, a method name
 * without escapes, params an object, result an object or array, and no
 * other member.  For those, one pass over the envelope replaces jansson's
 * full parse plus the scanner's second pass: the envelope is scanned here,
 * only the params or result value goes through jansson, and the root
 * object is assembled from the pieces.  It is the tree jansson would have
 * built from the whole text, and the id bytes are the ones sent.
 * Anything else (an unknown, repeated or escaped member name, an escape in
 * a value, a broken rule, a value jansson refuses, deep nesting) is left
 * to the strict path below, which decides with its exact codes and
 * messages.  The fast path never refuses a message by itself.
 */
enum fkey { FK_JSONRPC, FK_ID, FK_METHOD, FK_PARAMS, FK_RESULT, FK_NKEYS };

static const char *const fkeys[FK_NKEYS] = {
	"jsonrpc", "id", "method", "params", "result",
};

struct fmember {
	enum fkey		 key;
	const unsigned char	*v;	/* the value's text */
	size_t			 vlen;
	json_t			*val;	/* params/result, parsed; owned */
	int			 raw;	/* result checked, not parsed */
};

struct fast {
	struct fmember	 mem[FK_NKEYS];	/* in text order */
	int		 n;
	int		 at[FK_NKEYS];	/* index into mem; -1 when absent */
	int		 flags;		/* RPC_PARSE_* */
};

/* The envelope member a member name (without quotes) names, or -1. */
static int
fast_key(const unsigned char *k, size_t n)
{
	if (n == 2 && k[0] == 'i' && k[1] == 'd')
		return FK_ID;
	if (n == 7 && memcmp(k, "jsonrpc", 7) == 0)
		return FK_JSONRPC;
	if (n != 6)
		return -1;
	if (memcmp(k, "method", 6) == 0)
		return FK_METHOD;
	if (memcmp(k, "params", 6) == 0)
		return FK_PARAMS;
	if (memcmp(k, "result", 6) == 0)
		return FK_RESULT;
	return -1;
}

/* -?(0|[1-9][0-9]{0,17}): an integer that surely fits int64. */
static int
fast_int(struct jscan_cur *c)
{
	const unsigned char *b;

	if (*c->p == '-')
		c->p++;
	b = c->p;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else {
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
		if (c->p == b)
			return -1;
	}
	return c->p - b <= JSCAN_SAFE_INT_DIGITS ? 0 : -1;
}

static long long
fast_int_value(const unsigned char *p, size_t n)
{
	const unsigned char *e = p + n;
	long long v = 0;
	int neg = *p == '-';

	for (p += neg; p < e; p++)
		v = v * 10 + (*p - '0');
	return neg ? -v : v;
}

/*
 * Container nesting of the valid JSON text t..t+n, counted until it
 * passes `limit`.
 */
static size_t
nest_depth(const unsigned char *t, size_t n, size_t limit)
{
	size_t i, d = 0, max = 0;
	int in_str = 0;

	for (i = 0; i < n && max <= limit; i++) {
		if (in_str) {
			if (t[i] == '\\')
				i++;
			else if (t[i] == '"')
				in_str = 0;
		} else if (t[i] == '"')
			in_str = 1;
		else if (t[i] == '{' || t[i] == '[') {
			if (++d > max)
				max = d;
		} else if (t[i] == '}' || t[i] == ']')
			d--;
	}
	return max;
}

/*
 * The object or array at c->p, parsed by jansson as the strict parser
 * would parse it inside the envelope: duplicate keys refused, and no
 * deeper than the whole text may be (jansson counts every value, scalars
 * too, and the envelope is one level).  New reference with c->p moved
 * past the value, or NULL.
 */
static json_t *
fast_container(struct jscan_cur *c)
{
	enum { MAX_NEST = JSON_PARSER_MAX_DEPTH - 2 };
	json_error_t je;
	json_t *v;
	size_t n;

	v = json_loadb((const char *)c->p, (size_t)(c->end - c->p),
	    JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &je);
	if (v == NULL)
		return NULL;
	n = je.position > 0 ? (size_t)je.position : 0;
	/* n bytes of JSON nest at most n / 2 containers deep */
	if (n == 0 || n > (size_t)(c->end - c->p) || (n / 2 > MAX_NEST &&
	    nest_depth(c->p, n, MAX_NEST) > MAX_NEST)) {
		json_decref(v);
		return NULL;
	}
	c->p += n;
	return v;
}

/* One member: name, colon, value.  0, or -1 to leave the text to the
   strict path. */
static int
fast_member(struct jscan_cur *c, struct fast *f)
{
	const unsigned char *k = c->p;
	struct fmember *fm;
	int key;

	if (c->p >= c->end || *c->p != '"' || jscan_plain_string(c) == -1 ||
	    (key = fast_key(k + 1, (size_t)(c->p - k) - 2)) == -1 ||
	    f->at[key] != -1)
		return -1;
	jscan_ws(c);
	if (c->p >= c->end || *c->p != ':')
		return -1;
	c->p++;
	jscan_ws(c);
	if (c->p >= c->end)
		return -1;
	fm = &f->mem[f->n];
	fm->key = key;
	fm->v = c->p;
	fm->val = NULL;
	fm->raw = 0;
	f->at[key] = f->n++;
	if (*c->p == '"') {
		if (key == FK_PARAMS || key == FK_RESULT ||
		    jscan_plain_string(c) == -1)
			return -1;
	} else if (*c->p == '{' || *c->p == '[') {
		if ((key != FK_PARAMS && key != FK_RESULT) ||
		    (key == FK_PARAMS && *c->p != '{'))
			return -1;
		fm->raw = 0;
		if (((key == FK_RESULT && (f->flags & RPC_PARSE_RAW_RESULT)) ||
		    (key == FK_PARAMS && (f->flags & RPC_PARSE_RAW_PARAMS))) &&
		    jscan_loadable(c) == 0)
			fm->raw = 1;
		else if ((fm->val = fast_container(c)) == NULL)
			return -1;
	} else if (key != FK_ID || fast_int(c) == -1)
		return -1;
	fm->vlen = (size_t)(c->p - fm->v);
	return 0;
}

/* Scan the envelope into f.  0, or -1 (release f with fast_release()). */
static int
fast_scan(const char *buf, size_t len, struct fast *f)
{
	struct jscan_cur c;
	int i;

	c.p = (const unsigned char *)buf;
	c.end = c.p + len;
	f->n = 0;
	for (i = 0; i < FK_NKEYS; i++)
		f->at[i] = -1;
	jscan_ws(&c);
	if (c.p >= c.end || *c.p++ != '{')
		return -1;
	for (;;) {
		jscan_ws(&c);
		if (f->n == FK_NKEYS || fast_member(&c, f) == -1)
			return -1;
		jscan_ws(&c);
		if (c.p >= c.end)
			return -1;
		if (*c.p++ == '}')
			break;
		if (c.p[-1] != ',')
			return -1;
	}
	jscan_ws(&c);
	return c.p == c.end ? 0 : -1;
}

static void
fast_release(struct fast *f)
{
	int i;

	for (i = 0; i < f->n; i++) {
		json_decref(f->mem[i].val);
		f->mem[i].val = NULL;
	}
}

/*
 * The kind of a message whose members the strict rules accept, or -1.
 * Member types are already known: jsonrpc, id and method are plain
 * strings or an integer id; params an object; result a container.
 */
static int
fast_kind(const struct fast *f, enum rpc_kind *kind)
{
	const struct fmember *v;

	if (f->at[FK_JSONRPC] == -1)
		return -1;
	v = &f->mem[f->at[FK_JSONRPC]];
	if (v->vlen != 5 || memcmp(v->v, "\"2.0\"", 5) != 0)
		return -1;
	if (f->at[FK_METHOD] != -1) {
		if (*f->mem[f->at[FK_METHOD]].v != '"' ||
		    f->at[FK_RESULT] != -1)
			return -1;
		*kind = f->at[FK_ID] != -1 ? RPC_REQUEST : RPC_NOTIFICATION;
		return 0;
	}
	if (f->at[FK_RESULT] == -1 || f->at[FK_ID] == -1)
		return -1;
	*kind = RPC_RESPONSE;
	return 0;
}

/* Assemble m from f, members in text order.  0, or -1 on ENOMEM. */
static int
fast_build(struct fast *f, enum rpc_kind kind, struct rpc_msg *m)
{
	struct fmember *fm;
	json_t *v;
	int i;

	if ((m->root = json_object()) == NULL)
		return -1;
	m->kind = kind;
	for (i = 0; i < f->n; i++) {
		fm = &f->mem[i];
		if (fm->key == FK_PARAMS) {
			m->params_raw = (const char *)fm->v;
			m->params_len = fm->vlen;
			if (fm->raw)
				continue;	/* not built */
		} else if (fm->key == FK_RESULT) {
			m->result_raw = (const char *)fm->v;
			m->result_len = fm->vlen;
			if (fm->raw)
				continue;	/* not built */
		}
		if (fm->val != NULL)
			v = fm->val;
		else if (*fm->v == '"')
			v = json_stringn_nocheck((const char *)fm->v + 1,
			    fm->vlen - 2);
		else
			v = json_integer(fast_int_value(fm->v, fm->vlen));
		fm->val = NULL;
		/* steals v, even on failure */
		if (json_object_set_new_nocheck(m->root, fkeys[fm->key],
		    v) == -1)
			return -1;
		if (fm->key == FK_ID) {
			m->id = v;
			if ((m->id_raw = xstrndup(fm->v, fm->vlen)) == NULL)
				return -1;
		} else if (fm->key == FK_METHOD)
			m->method = json_string_value(v);
		else if (fm->key == FK_PARAMS && kind != RPC_RESPONSE)
			m->params = v;
		else if (fm->key == FK_RESULT)
			m->result = v;
	}
	return 0;
}

/* 0 with *m filled, or -1 with *m empty: the strict path decides. */
static int
fast_parse(const char *buf, size_t len, int flags, struct rpc_msg *m)
{
	struct fast f;
	enum rpc_kind kind;
	int rc = -1;

	if (len > INT_MAX)	/* jansson reports positions as int */
		return -1;
	f.flags = flags;
	if (fast_scan(buf, len, &f) == 0 && fast_kind(&f, &kind) == 0) {
		if ((rc = fast_build(&f, kind, m)) == -1)
			rpc_msg_free(m);
	}
	fast_release(&f);
	return rc;
}

/*
 * Parse one message (see rpc.h).  On failure *m is left empty and *e owns
 * the recovered id, if any.
 */
int
rpc_parse(const char *buf, size_t len, struct rpc_msg *m, struct rpc_err *e)
{
	return rpc_parse_flags(buf, len, 0, m, e);
}

int
rpc_parse_flags(const char *buf, size_t len, int flags, struct rpc_msg *m,
    struct rpc_err *e)
{
	json_error_t je;

	memset(m, 0, sizeof(*m));
	memset(e, 0, sizeof(*e));
	if (buf == NULL) {
		buf = "";
		len = 0;
	}
	if (fast_parse(buf, len, flags, m) == 0)
		return 0;
	memset(&je, 0, sizeof(je));	/* jansson may fail without a code */
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

/*
 * Builders write the whole message into one sink: a stack buffer for the
 * usual small message, spilling into a growing buf for large ones.  The
 * result is one malloc'd string of the exact size (small) or the buf's
 * own memory (large).
 */
#define SINK_SMALL	256

struct sink {
	char		 small[SINK_SMALL];
	size_t		 n;		/* bytes in small while big is unused */
	struct buf	 big;
	int		 failed;	/* ENOMEM; the text is lost */
};

static void
sink_init(struct sink *k)
{
	k->n = 0;
	k->failed = 0;
	buf_init(&k->big, SIZE_MAX / 2);
}

/* sink_put() past the small buffer: move to (or grow) the buf. */
static void
sink_spill(struct sink *k, const void *p, size_t n)
{
	if (k->failed)
		return;
	if ((k->big.base == NULL && buf_append(&k->big, k->small, k->n) == -1) ||
	    buf_append(&k->big, p, n) == -1)
		k->failed = 1;
}

static inline void
sink_put(struct sink *k, const void *p, size_t n)
{
	if (k->big.base == NULL && n <= SINK_SMALL - k->n) {
		memcpy(k->small + k->n, p, n);
		k->n += n;
	} else
		sink_spill(k, p, n);
}

#define sink_lit(k, s)	sink_put((k), (s), sizeof(s) - 1)

static void
sink_str(struct sink *k, const char *s)
{
	sink_put(k, s, strlen(s));
}

/* json_dump_callback() output function. */
static int
sink_cb(const char *p, size_t n, void *arg)
{
	struct sink *k = arg;

	sink_put(k, p, n);
	return k->failed ? -1 : 0;
}

/*
 * Compact encoding of any value, UTF-8 kept as is, members in insertion
 * order (jansson's encoder; an empty object, the common result, is
 * written directly).  0, or -1 when v cannot be encoded.
 */
static int
sink_json(struct sink *k, const json_t *v)
{
	if (json_is_object(v) && json_object_size(v) == 0) {
		sink_lit(k, "{}");
		return 0;
	}
	return json_dump_callback(v, sink_cb, k, JSON_COMPACT |
	    JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

/*
 * s as a JSON string literal, escaped exactly as jansson's encoder does
 * (\" \\ \b \f \n \r \t, other controls as \u00XX, the rest verbatim).
 * 0, or -1 when s is not valid UTF-8.
 */
static int
sink_jstr(struct sink *k, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *run;
	char esc[6] = { '\\', 'u', '0', '0' };
	size_t n, left = strlen(s);

	sink_lit(k, "\"");
	while (left > 0) {
		for (run = p; left > 0 && *p >= 0x20 && *p != '"' &&
		    *p != '\\'; p += n, left -= n)
			if (*p < 0x80)
				n = 1;
			else if ((n = u8_charlen(p, left)) == 0)
				return -1;
		sink_put(k, run, (size_t)(p - run));
		if (left == 0)
			break;
		esc[1] = *p == '"' ? '"' : *p == '\\' ? '\\' : *p == '\b' ?
		    'b' : *p == '\f' ? 'f' : *p == '\n' ? 'n' : *p == '\r' ?
		    'r' : *p == '\t' ? 't' : 'u';
		esc[4] = hex[*p >> 4];
		esc[5] = hex[*p & 0xf];
		sink_put(k, esc, esc[1] == 'u' ? 6 : 2);
		p++;
		left--;
	}
	sink_lit(k, "\"");
	return 0;
}

static void
sink_int(struct sink *k, long long v)
{
	char d[24], *p = d + sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
	    (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	sink_put(k, p, (size_t)(d + sizeof(d) - p));
}

/* Drop the text: NULL with errno err, for a builder to return. */
static char *
sink_fail(struct sink *k, int err)
{
	buf_free(&k->big);
	errno = err;
	return NULL;
}

/*
 * The finished text: new, NUL-terminated, its length in *len (when len is
 * not NULL).  NULL with errno ENOMEM when the sink failed.
 */
static char *
sink_finish(struct sink *k, size_t *len)
{
	size_t n;
	char *out;

	sink_put(k, "", 1);
	if (k->failed)
		return sink_fail(k, ENOMEM);
	if (k->big.base != NULL) {
		n = buf_used(&k->big) - 1;
		out = k->big.base;	/* nothing was consumed: off is 0 */
	} else {
		n = k->n - 1;
		if ((out = malloc(k->n)) == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		memcpy(out, k->small, k->n);
	}
	if (len != NULL)
		*len = n;
	return out;
}

/* {"jsonrpc":"2.0","id":ID, or {"jsonrpc":"2.0", without an id. */
static void
sink_head(struct sink *k, const char *id_raw)
{
	if (id_raw == NULL) {
		sink_lit(k, "{\"jsonrpc\":\"2.0\",");
		return;
	}
	sink_lit(k, "{\"jsonrpc\":\"2.0\",\"id\":");
	sink_str(k, id_raw);
	sink_lit(k, ",");
}

char *
rpc_build_result(const char *id_raw, const json_t *result, size_t *len)
{
	struct sink k;

	if (!id_ok(id_raw, 0) || result == NULL) {
		errno = EINVAL;
		return NULL;
	}
	sink_init(&k);
	sink_head(&k, id_raw);
	sink_lit(&k, "\"result\":");
	if (sink_json(&k, result) == -1)
		return sink_fail(&k, ENOMEM);
	sink_lit(&k, "}");
	return sink_finish(&k, len);
}

/*
 * The valid JSON text t (n bytes) without the whitespace outside its
 * strings: a pretty-printed value becomes one line.
 */
static void
sink_compact(struct sink *k, const char *t, size_t n)
{
	const unsigned char *p = (const unsigned char *)t;
	size_t i, run = 0;
	int in_str = 0;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_str = 0;
		} else if (p[i] == '"')
			in_str = 1;
		else if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
		    p[i] == '\r') {
			sink_put(k, p + run, i - run);
			run = i + 1;
		}
	}
	if (run < n)
		sink_put(k, p + run, n - run);
}

char *
rpc_build_result_text(const char *id_raw, const char *result, size_t rlen,
    size_t *len)
{
	struct sink k;

	if (!id_ok(id_raw, 0) || result == NULL || rlen == 0) {
		errno = EINVAL;
		return NULL;
	}
	sink_init(&k);
	sink_head(&k, id_raw);
	sink_lit(&k, "\"result\":");
	sink_compact(&k, result, rlen);
	sink_lit(&k, "}");
	return sink_finish(&k, len);
}

char *
rpc_build_request_text(const char *id_raw, const char *method,
    const char *params, size_t plen, size_t *len)
{
	struct sink k;

	if (!id_ok(id_raw, 0) || method == NULL || params == NULL ||
	    plen == 0) {
		errno = EINVAL;
		return NULL;
	}
	sink_init(&k);
	sink_head(&k, id_raw);
	sink_lit(&k, "\"method\":");
	if (sink_jstr(&k, method) == -1)
		return sink_fail(&k, EINVAL);
	sink_lit(&k, ",\"params\":");
	sink_compact(&k, params, plen);
	sink_lit(&k, "}");
	return sink_finish(&k, len);
}

/* Index past the value of valid JSON text p that starts at i (< n). */
static size_t
raw_skip(const unsigned char *p, size_t i, size_t n)
{
	size_t depth = 0;
	int in_str = 0;

	for (; i < n; i++) {
		if (in_str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"') {
				in_str = 0;
				if (depth == 0)
					return i + 1;
			}
			continue;
		}
		switch (p[i]) {
		case '"':
			in_str = 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
			break;
		case ',':
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			if (depth == 0)
				return i;
			break;
		}
	}
	return n;
}

/* Index of the first byte at or after i that is not whitespace. */
static size_t
raw_ws(const unsigned char *p, size_t i, size_t n)
{
	struct jscan_cur c = { p + i, p + n };

	jscan_ws(&c);
	return (size_t)(c.p - p);
}

int
rpc_raw_element(const char *arr, size_t len, size_t *pos, const char **val,
    size_t *vlen)
{
	const unsigned char *p = (const unsigned char *)arr;
	size_t i = *pos, end;

	if (i == 0) {
		i = raw_ws(p, 0, len);
		if (i >= len || p[i] != '[')
			return -1;
		i++;
	}
	i = raw_ws(p, i, len);
	if (i < len && p[i] == ',')
		i = raw_ws(p, i + 1, len);
	if (i >= len || p[i] == ']') {
		*pos = i;
		return 0;
	}
	if ((end = raw_skip(p, i, len)) == i)
		return -1;
	*val = arr + i;
	*vlen = end - i;
	*pos = end;
	return 1;
}

int
rpc_raw_member(const char *obj, size_t len, const char *name,
    const char **val, size_t *vlen)
{
	const unsigned char *p = (const unsigned char *)obj;
	size_t i, k, klen, nlen = strlen(name);

	i = raw_ws(p, 0, len);
	if (i >= len || p[i] != '{')
		return -1;
	i++;
	for (;;) {
		i = raw_ws(p, i, len);
		if (i >= len || p[i] == '}')
			return 0;
		if (p[i] == ',')
			i = raw_ws(p, i + 1, len);
		if (i >= len || p[i] != '"')
			return -1;
		for (k = ++i; i < len && p[i] != '"'; i++)
			if (p[i] == '\\')
				return -1;
		if (i >= len)
			return -1;
		klen = i - k;
		i = raw_ws(p, i + 1, len);
		if (i >= len || p[i] != ':')
			return -1;
		i = raw_ws(p, i + 1, len);
		if (i >= len)
			return -1;
		if (klen == nlen && memcmp(p + k, name, nlen) == 0) {
			*val = obj + i;
			*vlen = raw_skip(p, i, len) - i;
			return 1;
		}
		i = raw_skip(p, i, len);
	}
}

char *
rpc_build_error(const char *id_raw, int code, const char *message,
    const json_t *data, size_t *len)
{
	struct sink k;
	char *m;
	int rc;

	if (id_raw != NULL && !id_ok(id_raw, 1)) {
		errno = EINVAL;
		return NULL;
	}
	sink_init(&k);
	sink_head(&k, id_raw ? id_raw : "null");
	sink_lit(&k, "\"error\":{\"code\":");
	sink_int(&k, code);
	sink_lit(&k, ",\"message\":");
	if (message == NULL)
		message = rpc_code_name(code);
	/* the message is made valid UTF-8, never refused */
	if (u8_valid(message, strlen(message)))
		rc = sink_jstr(&k, message);
	else if ((m = strdup(message)) == NULL)
		rc = -1;
	else {
		u8_fix(m);
		rc = sink_jstr(&k, m);
		free(m);
	}
	if (rc == 0 && data != NULL) {
		sink_lit(&k, ",\"data\":");
		rc = sink_json(&k, data);
	}
	if (rc == -1)
		return sink_fail(&k, ENOMEM);
	sink_lit(&k, "}}");
	return sink_finish(&k, len);
}

/* {"jsonrpc":"2.0"[,"id":ID],"method":M[,"params":P]}; NULL, errno set. */
static char *
build_call(const char *id_raw, const char *method, const json_t *params,
    size_t *len)
{
	struct sink k;

	sink_init(&k);
	sink_head(&k, id_raw);
	sink_lit(&k, "\"method\":");
	if (sink_jstr(&k, method) == -1)
		return sink_fail(&k, EINVAL);
	if (params != NULL) {
		sink_lit(&k, ",\"params\":");
		if (sink_json(&k, params) == -1)
			return sink_fail(&k, ENOMEM);
	}
	sink_lit(&k, "}");
	return sink_finish(&k, len);
}

char *
rpc_build_request(const char *id_raw, const char *method,
    const json_t *params, size_t *len)
{
	if (!id_ok(id_raw, 0) || method == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return build_call(id_raw, method, params, len);
}

char *
rpc_build_notification(const char *method, const json_t *params,
    size_t *len)
{
	if (method == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return build_call(NULL, method, params, len);
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
