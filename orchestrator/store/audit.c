/*
 * audit: the mcp_tool_calls rows (see store.h): store_audit_call()
 * checks one, builds its statement parameters (redacting what came from
 * tools, the arguments by a fast path when they need no change) and
 * queues it for store.c to send; and the result summaries the router
 * computes for them.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "redact.h"
#include "rpc.h"
#include "store/store.h"
#include "store/store_int.h"
#include "utf8.h"

#define START_MAX	9e12	/* started_at bound: PostgreSQL's range
				   ends at 9.2e12 s; microseconds fit in
				   a long long */

static const char *const caller_names[] = {
	"gateway", "cli", "workflow", "agent",
};

/*
 * The text form of a time-ordered (version 7, RFC 9562) uuid into
 * out[37]: t (seconds since the epoch) in milliseconds in the first 48
 * bits, 74 random bits after the version and variant.  Ids of rows
 * written in time order land at the right edge of the primary key's
 * B-tree instead of on a random leaf: on a million-row mcp_tool_calls
 * that cut PostgreSQL's insert time per row by about a third, and the
 * index by a fifth (doc/performance.md).  The random bytes come from a
 * pool refilled RAND_POOL bytes at a time: libsodium may make one
 * getrandom(2) per request, and this runs once per call.
 */
static void
uuid_text(struct store *s, char *out, double t)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	unsigned long long ms = t > 0 && t < 2.8e11 ? (unsigned long long)
	    (t * 1000.0) : 0;
	size_t i;

	if (s->rand_used + sizeof(b) > sizeof(s->rand)) {
		randombytes_buf(s->rand, sizeof(s->rand));
		s->rand_used = 0;
	}
	memcpy(b, s->rand + s->rand_used, sizeof(b));
	s->rand_used += sizeof(b);
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (8 * (5 - i)));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*out++ = '-';
		*out++ = hex[b[i] >> 4];
		*out++ = hex[b[i] & 0x0f];
	}
	*out = '\0';
}

/* Decimal text of v into out (room for 21 bytes); returns its length. */
static size_t
int_text(char *out, long long v)
{
	char tmp[24], *t = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
	    (unsigned long long)v;
	size_t n;

	do {
		*--t = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--t = '-';
	n = (size_t)(tmp + sizeof(tmp) - t);
	memcpy(out, t, n);
	out[n] = '\0';
	return n;
}

/*
 * Seconds since the epoch, 0 < t < START_MAX, as "S.UUUUUU" (rounded to
 * the microsecond) into out (room for 32 bytes).
 */
static void
time_text(char *out, double t)
{
	long long us = llround(t * 1e6), frac = us % 1000000;
	size_t n = int_text(out, us / 1000000), i;

	out[n] = '.';
	for (i = 6; i > 0; i--, frac /= 10)
		out[n + i] = (char)('0' + frac % 10);
	out[n + 7] = '\0';
}

/* Append a JSON string needing no escape; 0 when one is needed. */
static int
dump_str(struct buf *b, const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == '"' || v[i] == '\\' || (unsigned char)v[i] < 0x20)
			return 0;
	return buf_append(b, "\"", 1) == -1 || buf_append(b, v, n) == -1 ||
	    buf_append(b, "\"", 1) == -1 ? -1 : 1;
}

static int	dump_value(struct buf *, const json_t *, int);

static int
dump_object(struct buf *b, const json_t *v, int depth)
{
	const char *key, *sep = "{";
	json_t *val;
	int rc;

	json_object_foreach((json_t *)v, key, val) {
		if (redact_is_sensitive_key(key))
			return 0;
		if (buf_append(b, sep, 1) == -1)
			return -1;
		sep = ",";
		if ((rc = dump_str(b, key, strlen(key))) != 1 ||
		    (rc = buf_append(b, ":", 1)) == -1 ||
		    (rc = dump_value(b, val, depth + 1)) != 1)
			return rc;
	}
	return buf_append(b, *sep == '{' ? "{}" : "}", *sep == '{' ? 2 :
	    1) == -1 ? -1 : 1;
}

static int
dump_array(struct buf *b, const json_t *v, int depth)
{
	const char *sep = "[";
	json_t *val;
	size_t i;
	int rc;

	json_array_foreach(v, i, val) {
		if (buf_append(b, sep, 1) == -1)
			return -1;
		sep = ",";
		if ((rc = dump_value(b, val, depth + 1)) != 1)
			return rc;
	}
	return buf_append(b, *sep == '[' ? "[]" : "]", *sep == '[' ? 2 :
	    1) == -1 ? -1 : 1;
}

/*
 * Compact JSON text of v appended to b, as redact_json() would leave it
 * if it redacted nothing: 1 when done; 0 when v needs the exact path (a
 * key it redacts by name, a character that must be escaped, nesting
 * deeper than 32); -1 when b is full (ENOBUFS) or ENOMEM.
 */
static int
dump_value(struct buf *b, const json_t *v, int depth)
{
	char num[32];
	size_t n;

	if (depth > 32)
		return 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return dump_object(b, v, depth);
	case JSON_ARRAY:
		return dump_array(b, v, depth);
	case JSON_STRING:
		return dump_str(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		n = int_text(num, json_integer_value(v));
		break;
	case JSON_REAL:
		n = (size_t)snprintf(num, sizeof(num), "%.17g",
		    json_real_value(v));
		break;
	case JSON_TRUE:
		return buf_append(b, "true", 4) == -1 ? -1 : 1;
	case JSON_FALSE:
		return buf_append(b, "false", 5) == -1 ? -1 : 1;
	default:
		return buf_append(b, "null", 4) == -1 ? -1 : 1;
	}
	return buf_append(b, num, n) == -1 ? -1 : 1;
}

/*
 * The text of args as it is after redact_json(), without the copy, or
 * NULL when only the exact path will do.  Taken when dump_value() could
 * write it with no escape sequence, so that every string and key stands
 * in the text byte for byte between its quotes, and redacting the whole
 * text changes nothing: then no string held a secret or a token shape
 * either (none can hide across a quote unseen: a match would have
 * changed the text), and the text is what the copy would give.  Sets
 * *nomem on ENOMEM.  Malloc'd.
 */
static char *
args_fast(struct store *s, const json_t *args, int *nomem)
{
	struct buf *b = &s->scratch;
	char *r;
	int rc;

	buf_reset(b);
	if ((rc = dump_value(b, args, 0)) == -1 && errno != ENOBUFS)
		*nomem = 1;
	if (rc != 1 || buf_append(b, "", 1) == -1 ||
	    redact_would_change(buf_data(b), buf_used(b) - 1))
		return NULL;
	if ((r = strdup(buf_data(b))) == NULL)
		*nomem = 1;
	return r;
}

#define RAW_KEY_MAX	256	/* longer keys take the tree path */

/*
 * The same for arguments given as text, without building the tree: the
 * text with the whitespace between tokens taken out, or NULL when only
 * the tree will do.  The text is JSON that json_loadb() accepts.  Taken
 * when the text holds no backslash at all, so that, as in args_fast(),
 * every string and key stands in it byte for byte between its quotes;
 * no key is redacted by name; no container is nested 32 deep (where
 * args_fast() gives up); and redacting the whole text changes nothing.
 * The result then equals args_fast()'s for the parsed tree except that
 * numbers keep the client's spelling (1.0 stays 1.0, not 1), which
 * jsonb reads as the same value.  Sets *nomem on ENOMEM.  Malloc'd.
 */
static char *
args_raw_fast(struct store *s, const char *t, size_t n, int *nomem)
{
	char key[RAW_KEY_MAX + 1], *out, *o;
	const char *q, *end = t + n;
	size_t depth = 0, k;

	if (n > STORE_ARGS_MAX || memchr(t, '\\', n) != NULL)
		return NULL;
	if ((o = out = malloc(n + 1)) == NULL) {
		*nomem = 1;
		return NULL;
	}
	for (; t < end; t++) {
		switch (*t) {
		case ' ': case '\t': case '\n': case '\r':
			continue;
		case '{': case '[':
			if (++depth >= 32)
				goto slow;
			break;
		case '}': case ']':
			depth--;
			break;
		case '"':
			/* No escapes: the string ends at the next quote. */
			if ((q = memchr(t + 1, '"', (size_t)(end - t - 1))) ==
			    NULL)
				goto slow;
			k = (size_t)(q - t - 1);
			memcpy(o, t, k + 2);
			o += k + 2;
			for (t = q + 1; t < end && (*t == ' ' || *t == '\t' ||
			    *t == '\n' || *t == '\r'); t++)
				;
			if (t < end && *t == ':') {
				if (k > RAW_KEY_MAX)
					goto slow;
				memcpy(key, q - k, k);
				key[k] = '\0';
				if (redact_is_sensitive_key(key))
					goto slow;
			}
			t--;
			continue;
		}
		*o++ = *t;
	}
	*o = '\0';
	if (!redact_would_change(out, (size_t)(o - out)))
		return out;
slow:
	free(out);
	return NULL;
}

/*
 * The redacted arguments of a (the tree, else the text) as jsonb text,
 * bounded by STORE_ARGS_MAX, in *out: malloc'd, or NULL for the constant
 * "{}".  0, or -1 on ENOMEM.
 */
static int
args_param(struct store *s, const struct audit_row *a, char **out)
{
	const json_t *args = a->arguments;
	json_t *red, *parsed = NULL;
	char *j = NULL;
	size_t n;
	int nomem = 0;

	*out = NULL;
	if (args == NULL && a->arguments_text != NULL) {
		if ((j = args_raw_fast(s, a->arguments_text, a->arguments_len,
		    &nomem)) == NULL && !nomem) {
			s->st.args_parsed++;
			args = parsed = json_loadb(a->arguments_text,
			    a->arguments_len, 0, NULL);
		}
		if (nomem)
			return -1;
		if (j != NULL && strcmp(j, "{}") == 0) {
			free(j);
			return 0;
		}
	}
	if (j == NULL && (args == NULL || (json_is_object(args) &&
	    json_object_size(args) == 0))) {
		json_decref(parsed);
		return 0;
	}
	if (j == NULL && (j = args_fast(s, args, &nomem)) == NULL && !nomem) {
		if ((red = redact_json(args)) != NULL)
			j = param_json(red);
		json_decref(red);
	}
	json_decref(parsed);
	if (j == NULL)
		return -1;
	if ((n = strlen(j)) > STORE_ARGS_MAX) {
		free(j);
		if ((j = param_printf("{\"truncated\":true,\"bytes\":%zu}",
		    n)) == NULL)
			return -1;
	}
	*out = j;
	return 0;
}

int
store_uuid_ok(const char *s)
{
	size_t i;
	int c;

	if (s == NULL)
		return 0;
	/* A shorter string fails at its NUL: nothing past it is read. */
	for (i = 0; i < 36; i++) {
		c = (unsigned char)s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!(c >= '0' && c <= '9') && !((c | 0x20) >= 'a' &&
		    (c | 0x20) <= 'f'))
			return 0;
	}
	return s[36] == '\0';
}

/* An id of a row: none, or a uuid. */
static int
id_ok(const char *id)
{
	return id == NULL || store_uuid_ok(id);
}

static int
audit_row_ok(const struct audit_row *a)
{
	size_t ns = a->server ? strlen(a->server) : 0;
	size_t nt = a->tool ? strlen(a->tool) : 0;

	return ns >= 1 && ns <= NAME_MAX_SRV && u8_valid(a->server, ns) &&
	    nt >= 1 && nt <= TOOL_MAX && u8_valid(a->tool, nt) &&
	    (unsigned)a->caller < sizeof(caller_names) /
	    sizeof(caller_names[0]) && isfinite(a->started_at) &&
	    a->started_at > 0 && a->started_at < START_MAX &&
	    isfinite(a->duration_ms) && a->duration_ms >= 0 &&
	    id_ok(a->execution_id) && id_ok(a->step_id) &&
	    id_ok(a->agent_run_id);
}

/* Room for n more bytes in r->inl; the caller writes them. */
static char *
inl_take(struct qrow *r, size_t n)
{
	char *p = r->inl + r->used;

	r->used += n;
	return p;
}

static const char *
inl_copy(struct qrow *r, const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(inl_take(r, n), s, n);
}

static const char *
inl_int(struct qrow *r, long long v)
{
	char *p = r->inl + r->used;

	r->used += int_text(p, v) + 1;
	return p;
}

/* Is t, n bytes, an integer's JSON text that fits in r->inl? */
static int
int_literal(const char *t, size_t n)
{
	size_t i = n > 0 && t[0] == '-';

	if (n - i == 0 || n - i > 19)
		return 0;
	for (; i < n; i++)
		if (t[i] < '0' || t[i] > '9')
			return 0;
	return 1;
}

/*
 * The rpc_id parameter (NULL: none), in r->inl or r->own[0]: from the
 * tree, else from the text (as it is when an integer, or a string with
 * no escape, as param_json() would write it; parsed otherwise).
 */
static int
rpc_id_param(struct qrow *r, const json_t *id, const char *text)
{
	json_t *parsed;
	size_t n;
	int rc;

	if (id == NULL && text != NULL) {
		n = strlen(text);
		if (int_literal(text, n)) {
			r->p[3] = memcpy(inl_take(r, n + 1), text, n + 1);
			return 0;
		}
		if (n >= 2 && text[0] == '"' && memchr(text, '\\', n) ==
		    NULL) {
			if ((r->own[0] = strdup(text)) == NULL)
				return -1;
			r->p[3] = r->own[0];
			return 0;
		}
		parsed = json_loads(text, JSON_DECODE_ANY, NULL);
		rc = rpc_id_param(r, parsed, NULL);
		json_decref(parsed);
		return rc;
	}
	if (json_is_integer(id))
		r->p[3] = inl_int(r, json_integer_value(id));
	else if (json_is_string(id) || json_is_number(id)) {
		if ((r->own[0] = param_json(id)) == NULL)
			return -1;
		r->p[3] = r->own[0];
	}
	return 0;
}

/*
 * Build the parameters of one row (see audit_sql in store.c), redacting
 * what came from tools.  The short ones are formatted by hand: this runs
 * once per call, on the loop.  NULL on ENOMEM.
 */
static struct qrow *
qrow_new(struct store *s, const struct audit_row *a)
{
	struct qrow *r;
	double ms = a->duration_ms > INT_MAX ? INT_MAX : a->duration_ms;
	size_t i;

	if ((r = malloc(sizeof(*r))) == NULL)
		return NULL;
	memset(r->p, 0, sizeof(r->p));
	memset(r->own, 0, sizeof(r->own));
	r->used = 0;
	r->sent = 0;
	uuid_text(s, inl_take(r, 37), a->started_at);
	r->p[0] = r->inl;
	r->p[1] = inl_copy(r, a->server);
	r->p[2] = inl_copy(r, a->tool);
	r->p[4] = caller_names[a->caller];
	r->p[6] = a->failed ? "failed" : "completed";
	r->p[8] = a->is_error && !a->failed ? "true" : "false";
	r->p[11] = inl_int(r, (long long)ms);
	time_text(inl_take(r, 32), a->started_at);
	r->p[12] = r->inl + r->used - 32;
	if (a->failed)
		r->p[9] = inl_int(r, a->error_code);
	if (a->execution_id)
		r->p[13] = inl_copy(r, a->execution_id);
	if (a->step_id)
		r->p[14] = inl_copy(r, a->step_id);
	if (a->agent_run_id)
		r->p[15] = inl_copy(r, a->agent_run_id);
	if (rpc_id_param(r, a->rpc_id, a->rpc_id_text) == -1 ||
	    args_param(s, a, &r->own[1]) == -1 ||
	    (a->result_summary && (r->own[2] = param_text(a->result_summary,
	    STORE_SUMMARY_MAX)) == NULL) ||
	    (a->failed && a->error_message && (r->own[3] =
	    param_text(a->error_message, STORE_SUMMARY_MAX)) == NULL)) {
		qrow_free(r);
		return NULL;
	}
	r->p[5] = r->own[1] ? r->own[1] : "{}";
	r->p[7] = r->own[2];
	r->p[10] = r->own[3];
	r->bytes = sizeof(*r);
	for (i = 0; i < ROW_OWN; i++)
		r->bytes += r->own[i] ? strlen(r->own[i]) + 1 : 0;
	return r;
}

int
store_audit_call(struct store *s, const struct audit_row *a)
{
	struct qrow *r;

	if (s == NULL || s->state == STORE_DISABLED)
		return 0;
	if (a == NULL || !audit_row_ok(a)) {
		s->st.audit_rejected++;
		errno = EINVAL;
		return -1;
	}
	if (s->qlen >= s->qcap)
		return store_drop_row(s);
	if ((r = qrow_new(s, a)) == NULL)
		return store_drop_row(s);
	if (s->qbytes + r->bytes > s->o.queue_max_bytes) {
		qrow_free(r);
		return store_drop_row(s);
	}
	s->q[(s->qhead + s->qlen) % s->qcap] = r;
	s->qlen++;
	s->qbytes += r->bytes;
	store_kick(s);
	return 0;
}

/* ---- result summaries ---- */

/* A bounded text sink for json_dump_callback(). */
struct sink {
	char	*p;
	size_t	 len, max;
};

static int
sink_add(const char *buf, size_t n, void *data)
{
	struct sink *k = data;
	size_t room = k->max - k->len;

	memcpy(k->p + k->len, buf, n < room ? n : room);
	k->len += n < room ? n : room;
	return n <= room ? 0 : -1;	/* full: stop dumping */
}

char *
store_result_summary(const json_t *result)
{
	/* A little over the bound so that u8_clean cuts at a character. */
	struct sink k = { NULL, 0, STORE_SUMMARY_MAX + 4 };
	const json_t *item, *text;
	size_t i;
	char *out;

	if (result == NULL || (k.p = malloc(k.max + 1)) == NULL)
		return NULL;
	json_array_foreach(json_object_get(result, "content"), i, item) {
		text = json_object_get(item, "text");
		if (!json_is_string(text) || k.len >= k.max)
			continue;
		if (k.len > 0)
			sink_add("\n", 1, &k);
		sink_add(json_string_value(text), json_string_length(text),
		    &k);
	}
	if (k.len == 0)
		json_dump_callback(result, sink_add, &k, JSON_COMPACT |
		    JSON_ENCODE_ANY);
	k.p[k.len] = '\0';
	out = u8_clean(k.p, STORE_SUMMARY_MAX, NULL);
	free(k.p);
	return out;
}

/* Is the JSON string body s (n bytes) plain: no escape, valid UTF-8? */
static int
plain_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	while (n > 0) {
		if (*p < 0x20 || *p == '\\' || (k = u8_charlen(p, n)) == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/*
 * The summary from the text when its content items' "text" members are
 * plain strings: 1 with *out set (NULL on ENOMEM), or 0 to parse instead
 * (anything else, and no text at all: then the summary is the result's
 * JSON encoding).  The same steps as store_result_summary() on the tree.
 */
static int
summary_text(const char *res, size_t len, char **out)
{
	char buf[STORE_SUMMARY_MAX + 5];
	struct sink k = { buf, 0, STORE_SUMMARY_MAX + 4 };
	const char *arr, *it, *v;
	size_t alen, ilen, vlen, pos = 0;
	int rc;

	if (rpc_raw_member(res, len, "content", &arr, &alen) != 1 ||
	    alen == 0 || *arr != '[')
		return 0;
	while ((rc = rpc_raw_element(arr, alen, &pos, &it, &ilen)) == 1) {
		if (*it != '{')
			continue;
		if ((rc = rpc_raw_member(it, ilen, "text", &v, &vlen)) == -1)
			return 0;
		if (rc == 0 || *v != '"' || vlen < 2)
			continue;
		if (!plain_text(v + 1, vlen - 2))
			return 0;
		if (k.len >= k.max)
			continue;
		if (k.len > 0)
			sink_add("\n", 1, &k);
		sink_add(v + 1, vlen - 2, &k);
	}
	if (rc == -1 || k.len == 0)
		return 0;
	buf[k.len] = '\0';
	*out = u8_clean(buf, STORE_SUMMARY_MAX, NULL);
	return 1;
}

char *
store_result_summary_text(const char *res, size_t len)
{
	json_t *result;
	char *sum = NULL;

	if (summary_text(res, len, &sum))
		return sum;
	result = json_loadb(res, len, JSON_DECODE_ANY, NULL);
	sum = store_result_summary(result);
	json_decref(result);
	return sum;
}
