/*
 * provider_reply: replies read back (provider.h): errors classified, the
 * rate-limit headers, whole bodies, and the assembly both providers'
 * streams share (provider_openai.c, provider_anthropic.c feed it).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "redact.h"
#include "utf8.h"
#include "provider.h"
#include "provider_int.h"

#define BODY_MAX	(16u << 20)	/* a whole response body */

static char *
xstrdup_opt(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* ---- replies and errors ---- */

void
prov_reply_init(struct prov_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	r->reset_ms = -1;
}

void
prov_reply_free(struct prov_reply *r)
{
	size_t i;

	free(r->text);
	for (i = 0; i < r->ncalls; i++)
		prov_call_free(&r->calls[i]);
	free(r->calls);
	free(r->stop_raw);
	free(r->id);
	free(r->model);
	free(r->err_type);
	free(r->err_msg);
	prov_reply_init(r);
}

const char *
prov_err_name(enum prov_err e)
{
	static const char *const names[] = {
		"ok", "rate_limited", "overloaded", "server", "invalid_request",
		"auth", "stream_error", "truncated", "malformed", "other"
	};

	return (unsigned)e < sizeof(names) / sizeof(names[0]) ?
	    names[e] : "?";
}

const char *
prov_stop_name(enum prov_stop s)
{
	static const char *const names[] = {
		"none", "end_turn", "tool_use", "max_tokens", "other"
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ?
	    names[s] : "?";
}

/* The message kept: valid UTF-8, cut to PROV_MSG_MAX, secrets out. */
static char *
msg_keep(const char *s)
{
	char *clean, *red;

	if ((clean = u8_clean(s, PROV_MSG_MAX, "...")) == NULL)
		return NULL;
	red = redact_str(clean);
	free(clean);
	return red;
}

int
prov_fail(struct prov_reply *r, enum prov_err e, const char *fmt, ...)
{
	char msg[PROV_MSG_MAX + 1];
	va_list ap;

	if (r->err != PROV_OK)		/* the first failure stays */
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->err = e;
	r->retryable = e == PROV_E_TRUNCATED;
	free(r->err_msg);
	r->err_msg = msg_keep(msg);
	return -1;
}

/* A class from the provider's error type, for a status that says none. */
static enum prov_err
class_of_type(const char *type)
{
	static const struct { const char *type; enum prov_err e; } t[] = {
		{ "rate_limit_error", PROV_E_RATE_LIMITED },
		{ "rate_limit_exceeded", PROV_E_RATE_LIMITED },
		{ "overloaded_error", PROV_E_OVERLOADED },
		{ "api_error", PROV_E_SERVER },
		{ "server_error", PROV_E_SERVER },
		{ "timeout_error", PROV_E_SERVER },
		{ "invalid_request_error", PROV_E_INVALID },
		{ "request_too_large", PROV_E_INVALID },
		{ "not_found_error", PROV_E_INVALID },
		{ "authentication_error", PROV_E_AUTH },
		{ "permission_error", PROV_E_AUTH },
		{ "invalid_api_key", PROV_E_AUTH },
	};
	size_t i;

	for (i = 0; type != NULL && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(type, t[i].type) == 0)
			return t[i].e;
	return PROV_E_OTHER;
}

static enum prov_err
class_of_status(int status)
{
	if (status == 429)
		return PROV_E_RATE_LIMITED;
	if (status == 529)
		return PROV_E_OVERLOADED;
	if (status >= 500 && status <= 599)
		return PROV_E_SERVER;
	if (status == 400 || status == 404 || status == 413 || status == 422)
		return PROV_E_INVALID;
	if (status == 401 || status == 403)
		return PROV_E_AUTH;
	return PROV_E_OTHER;
}

static int
too_long(const char *code, const char *msg)
{
	static const char *const says[] = {
		"prompt is too long", "context length", "context_length",
		"context window", "maximum context", "too many tokens"
	};
	size_t i;

	if (code != NULL && strcmp(code, "context_length_exceeded") == 0)
		return 1;
	for (i = 0; msg != NULL && i < sizeof(says) / sizeof(says[0]); i++)
		if (strcasestr(msg, says[i]) != NULL)
			return 1;
	return 0;
}

void
prov_classify(enum prov_kind k, int status, const json_t *error,
    struct prov_reply *r)
{
	const char *type = NULL, *code = NULL, *msg = NULL;
	enum prov_err e;
	char buf[64];

	(void)k;
	if (json_is_object(error)) {
		type = json_string_value(json_object_get(error, "type"));
		code = json_string_value(json_object_get(error, "code"));
		msg = json_string_value(json_object_get(error, "message"));
	} else if (json_is_string(error))	/* {"error": "..."} */
		msg = json_string_value(error);
	e = class_of_status(status);
	if (status == 0 || (e == PROV_E_SERVER &&
	    class_of_type(type) == PROV_E_OVERLOADED) ||
	    (e == PROV_E_OTHER && class_of_type(type) != PROV_E_OTHER))
		e = class_of_type(code && class_of_type(code) != PROV_E_OTHER ?
		    code : type);
	if (msg == NULL || *msg == '\0') {
		snprintf(buf, sizeof(buf), "HTTP %d", status);
		msg = buf;
	}
	prov_fail(r, e, "%s", msg);
	free(r->err_type);
	r->err_type = xstrdup_opt(code && *code ? code : type);
	r->retryable = e == PROV_E_RATE_LIMITED || e == PROV_E_OVERLOADED ||
	    e == PROV_E_SERVER || status == 408;
	/* A quota used up comes as 429 too, but waiting does not help. */
	if (code != NULL && strcmp(code, "insufficient_quota") == 0)
		r->retryable = 0;
	r->context_too_long = e == PROV_E_INVALID && too_long(code, msg);
}

/* Value of header name in h, spaces trimmed, into out; 0 or -1. */
static int
hdr_get(const char *const *h, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), len;
	const char *v;

	for (; h != NULL && *h != NULL; h++) {
		if (strncasecmp(*h, name, n) != 0 || (*h)[n] != ':')
			continue;
		for (v = *h + n + 1; *v == ' ' || *v == '\t'; v++)
			;
		len = strlen(v);
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' ||
		    v[len - 1] == '\r' || v[len - 1] == '\n'))
			len--;
		if (len == 0 || len >= outlen)
			return -1;
		memcpy(out, v, len);
		out[len] = '\0';
		return 0;
	}
	return -1;
}

#define MS_MAX	(7LL * 86400 * 1000)	/* a week: anything more is noise */

/* "1500", "1.5": a number of units, as ms (unit ms per unit); -1 if not. */
static long long
num_ms(const char *s, const char **end, long long unit)
{
	long long whole = 0, frac = 0, scale = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++)
		if ((whole = whole * 10 + (*s - '0')) > MS_MAX)
			return -1;
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++)
			if (scale < 1000000) {
				frac = frac * 10 + (*s - '0');
				scale *= 10;
			}
	}
	*end = s;
	if (whole * unit > MS_MAX)
		return -1;
	return whole * unit + frac * unit / scale;
}

/* OpenAI's reset durations, Go's form: "1s", "6m0s", "20ms", "1h2m3.5s". */
static long long
dur_ms(const char *s)
{
	long long total = 0, v;
	const char *e;

	while (*s != '\0') {
		if ((v = num_ms(s, &e, 1)) == -1)
			return -1;
		if (strncmp(e, "ms", 2) == 0)
			s = e + 2;
		else if (*e == 's')
			(v = num_ms(s, &e, 1000)), s = e + 1;
		else if (*e == 'm')
			(v = num_ms(s, &e, 60000)), s = e + 1;
		else if (*e == 'h')
			(v = num_ms(s, &e, 3600000)), s = e + 1;
		else
			return -1;
		if (v == -1 || (total += v) > MS_MAX)
			return -1;
	}
	return total;
}

/* RFC 3339 ("2026-12-07T10:00:30Z", ".5", "+01:00") as ms from now. */
static long long
date_ms(const char *s, time_t now)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	long long frac = 0, scale = 1, ms;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
	    &n) != 6 || n != 19)
		return -1;
	s += n;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			if (scale < 1000) {
				frac = frac * 10 + (*s - '0');
				scale *= 10;
			}
	if (*s == '+' || *s == '-') {
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 ||
		    s[6] != '\0')
			return -1;
		if (*s == '-')
			oh = -oh, om = -om;
	} else if (strcmp(s, "Z") != 0 && strcmp(s, "z") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	t -= oh * 3600 + om * 60;
	ms = ((long long)t - now) * 1000 + frac * 1000 / scale;
	if (ms > MS_MAX)
		return -1;
	return ms < 0 ? 0 : ms;
}

void
prov_parse_headers(enum prov_kind k, const char *const *h, time_t now,
    struct prov_reply *r)
{
	static const char *const openai[] = {
		"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", NULL
	};
	static const char *const anthropic[] = {
		"anthropic-ratelimit-requests-reset",
		"anthropic-ratelimit-tokens-reset",
		"anthropic-ratelimit-input-tokens-reset",
		"anthropic-ratelimit-output-tokens-reset", NULL
	};
	const char *const *name;
	char v[80];
	const char *e;
	long long ms;
	struct tm tm;

	if (hdr_get(h, "retry-after-ms", v, sizeof(v)) == 0 &&
	    (ms = num_ms(v, &e, 1)) != -1 && *e == '\0')
		r->retry_after_ms = (long)ms;
	else if (hdr_get(h, "retry-after", v, sizeof(v)) == 0) {
		memset(&tm, 0, sizeof(tm));
		if ((ms = num_ms(v, &e, 1000)) != -1 && *e == '\0')
			r->retry_after_ms = (long)ms;
		else if ((e = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) !=
		    NULL && *e == '\0') {	/* the HTTP-date form */
			ms = ((long long)timegm(&tm) - now) * 1000;
			if (ms <= MS_MAX)
				r->retry_after_ms = ms < 0 ? 0 : (long)ms;
		}
	}
	for (name = k == PROV_ANTHROPIC ? anthropic : openai; *name; name++) {
		if (hdr_get(h, *name, v, sizeof(v)) == -1)
			continue;
		ms = k == PROV_ANTHROPIC ? date_ms(v, now) : dur_ms(v);
		if (ms != -1 && ms > r->reset_ms)
			r->reset_ms = (long)ms;
	}
}

int
prov_parse(enum prov_kind k, const struct prov_conv *c, int status,
    const char *const *headers, const char *body, size_t len, time_t now,
    struct prov_reply *r)
{
	struct prov_stream *s;
	json_t *v, *error;
	json_error_t je;
	char *snip, *raw, msg[256];
	int rc;

	r->status = status;
	if (len > BODY_MAX) {
		prov_fail(r, PROV_E_MALFORMED, "a body of %zu bytes, over %u",
		    len, BODY_MAX);
		goto out;
	}
	v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if ((error = json_object_get(v, "error")) != NULL && json_is_null(error))
		error = NULL;
	if (status < 200 || status > 299 || error != NULL) {
		if (v == NULL) {	/* a proxy's page: say what it said */
			/* (not NUL-terminated; a NUL in it ends it) */
			raw = strndup(body, len < 200 ? len : 200);
			snip = raw ? u8_clean(raw, 201, NULL) : NULL;
			free(raw);
			snprintf(msg, sizeof(msg), "HTTP %d: %s", status,
			    snip ? snip : "");
			free(snip);
			error = json_string(msg);
			prov_classify(k, status, error, r);
			json_decref(error);
		} else
			prov_classify(k, status, error, r);
		json_decref(v);
		goto out;
	}
	if (!json_is_object(v)) {
		prov_fail(r, PROV_E_MALFORMED, "the body is not a JSON object: "
		    "%s", v ? "another value" : je.text);
		json_decref(v);
		goto out;
	}
	if ((s = prov_stream_new(k, c)) == NULL) {
		json_decref(v);
		return prov_fail(r, PROV_E_MALFORMED, "out of memory");
	}
	if (k == PROV_ANTHROPIC)
		rc = prov_anthropic_body(s, v);
	else
		rc = prov_openai_body(s, v);
	json_decref(v);
	if (rc == 0)
		s->done = 1;
	prov_stream_finish(s, r);
	prov_stream_free(s);
	r->status = status;
out:
	prov_parse_headers(k, headers, now, r);
	return r->err == PROV_OK ? 0 : -1;
}

/* ---- assembly ---- */

struct prov_stream *
prov_stream_new(enum prov_kind k, const struct prov_conv *c)
{
	struct prov_stream *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->kind = k;
	s->conv = c;
	prov_reply_init(&s->r);
	buf_init(&s->text, PROV_MAX_TEXT);
	return s;
}

void
prov_stream_free(struct prov_stream *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->ncalls; i++) {
		free(s->calls[i].id);
		free(s->calls[i].name);
		json_decref(s->calls[i].input);
		buf_free(&s->calls[i].args);
	}
	buf_free(&s->text);
	prov_reply_free(&s->r);
	free(s);
}

int
pacc_text(struct prov_stream *s, const char *p, size_t len)
{
	if (buf_append(&s->text, p, len) == -1)
		return prov_fail(&s->r, PROV_E_MALFORMED, errno == ENOBUFS ?
		    "the reply's text is over %u bytes" : "out of memory "
		    "(%u)", PROV_MAX_TEXT);
	return 0;
}

struct pacc_call *
pacc_call(struct prov_stream *s)
{
	struct pacc_call *k;

	if (s->ncalls >= PROV_MAX_CALLS) {
		prov_fail(&s->r, PROV_E_MALFORMED, "more than %d tool calls in "
		    "one turn", PROV_MAX_CALLS);
		return NULL;
	}
	k = &s->calls[s->ncalls++];
	memset(k, 0, sizeof(*k));
	buf_init(&k->args, PROV_MAX_ARGS);
	return k;
}

int
pacc_args(struct prov_stream *s, struct pacc_call *k, const char *p,
    size_t len)
{
	if (buf_append(&k->args, p, len) == -1)
		return prov_fail(&s->r, PROV_E_MALFORMED, errno == ENOBUFS ?
		    "the arguments of a tool call are over %u bytes" :
		    "out of memory (%u)", PROV_MAX_ARGS);
	return 0;
}

int
pacc_usage_num(const json_t *v, const char *key, uint64_t *out, int *seen)
{
	const json_t *n = json_object_get(v, key);

	if (n == NULL || json_is_null(n))
		return 0;
	if (!json_is_integer(n) || json_integer_value(n) < 0 ||
	    (uint64_t)json_integer_value(n) > PROV_TOKENS_MAX)
		return -1;
	*out = (uint64_t)json_integer_value(n);
	*seen = 1;
	return 0;
}

/* One assembled call as the reply's: its arguments parsed. */
static int
call_close(struct prov_stream *s, struct pacc_call *a, struct prov_call *k)
{
	const char *tool;
	json_error_t je;
	json_t *v = NULL;
	char *raw;

	k->id = a->id, a->id = NULL;
	k->name = a->name, a->name = NULL;
	if (buf_used(&a->args) == 0 && a->input != NULL)
		raw = json_dumps(a->input, JSON_COMPACT);
	else
		raw = strndup(buf_used(&a->args) ? buf_data(&a->args) : "",
		    buf_used(&a->args));
	if ((k->raw = raw) == NULL)
		return -1;
	if (*raw == '\0')		/* no arguments: a tool that takes none */
		v = json_object();
	else if ((v = json_loads(raw, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		if (asprintf(&k->error, "the arguments are not JSON: %s "
		    "(at byte %d)", je.text, je.position) == -1)
			k->error = NULL;
		return k->error ? 0 : -1;
	}
	if (v == NULL)
		return -1;
	if (!json_is_object(v)) {
		json_decref(v);
		return (k->error = strdup("the arguments are not a JSON "
		    "object")) ? 0 : -1;
	}
	k->args = v;
	if ((tool = prov_conv_tool(s->conv, k->name)) == NULL) {
		if (asprintf(&k->error, "there is no tool named '%.64s'",
		    k->name) == -1)
			k->error = NULL;
		return k->error ? 0 : -1;
	}
	return (k->tool = strdup(tool)) ? 0 : -1;
}

int
pacc_close(struct prov_stream *s)
{
	struct prov_reply *r = &s->r;
	size_t i, j;

	for (i = 0; i < s->ncalls; i++) {
		if (s->calls[i].id == NULL || *s->calls[i].id == '\0' ||
		    s->calls[i].name == NULL || *s->calls[i].name == '\0')
			return prov_fail(r, PROV_E_MALFORMED, "tool call %zu "
			    "has no id or no name", i);
		/* A result names its call by id: two calls cannot share one. */
		for (j = 0; j < i; j++)
			if (strcmp(s->calls[j].id, s->calls[i].id) == 0)
				return prov_fail(r, PROV_E_MALFORMED, "two tool "
				    "calls with the id '%.64s'", s->calls[i].id);
	}
	r->text = strndup(buf_used(&s->text) ? buf_data(&s->text) : "",
	    buf_used(&s->text));
	r->textlen = buf_used(&s->text);
	if (r->text == NULL || (s->ncalls && (r->calls = calloc(s->ncalls,
	    sizeof(*r->calls))) == NULL))
		return prov_fail(r, PROV_E_MALFORMED, "out of memory");
	for (i = 0; i < s->ncalls; i++) {
		r->ncalls++;
		if (call_close(s, &s->calls[i], &r->calls[i]) == -1)
			return prov_fail(r, PROV_E_MALFORMED, "out of memory");
	}
	return 0;
}

int
prov_stream_event(struct prov_stream *s, const struct sse_event *ev)
{
	if (s->failed)
		return -1;
	if (s->done)
		return 0;
	if ((s->kind == PROV_ANTHROPIC ? prov_anthropic_event(s, ev) :
	    prov_openai_event(s, ev)) == -1 || s->r.err != PROV_OK) {
		s->failed = 1;
		return -1;
	}
	return 0;
}

int
prov_stream_sse(const struct sse_event *ev, void *arg)
{
	return prov_stream_event(arg, ev) == -1 ? -1 : 0;
}

int
prov_stream_finish(struct prov_stream *s, struct prov_reply *r)
{
	if (!s->failed && !s->done)
		prov_fail(&s->r, PROV_E_TRUNCATED, "the stream ended before %s",
		    s->kind == PROV_ANTHROPIC ? "message_stop" : "[DONE]");
	if (s->r.err == PROV_OK)
		pacc_close(s);
	if (s->r.err != PROV_OK) {	/* no half reply: the error, and the
					   usage billed so far */
		free(s->r.text);
		s->r.text = NULL;
		s->r.textlen = 0;
		free(s->r.stop_raw);
		s->r.stop_raw = NULL;
		s->r.stop = PROV_STOP_NONE;
	}
	*r = s->r;
	prov_reply_init(&s->r);
	s->failed = 1;
	return r->err == PROV_OK ? 0 : -1;
}
