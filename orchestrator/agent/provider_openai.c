/*
 * provider_openai: OpenAI-compatible chat completions (POST
 * /v1/chat/completions): the request body, the whole reply, the streamed
 * chunks (delta.content, delta.tool_calls[] by index, finish_reason, the
 * usage chunk of stream_options.include_usage, "[DONE]").
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "provider_int.h"

/* The system blocks as one system message: OpenAI has no blocks. */
static char *
system_text(const struct prov_conv *c)
{
	size_t i, n = 0;
	char *s;

	for (i = 0; i < c->nsystem; i++)
		n += strlen(c->system[i]) + 2;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	*s = '\0';
	for (i = 0; i < c->nsystem; i++) {
		if (i > 0)
			strcat(s, "\n\n");
		strcat(s, c->system[i]);
	}
	return s;
}

static json_t *
tool_calls(const struct prov_msg *m)
{
	json_t *a, *fn, *item;
	char *args;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < m->ncalls; i++) {
		/* The arguments as the model wrote them, even unparseable. */
		args = m->calls[i].raw ? strdup(m->calls[i].raw) :
		    json_dumps(m->calls[i].args, JSON_COMPACT);
		fn = args ? json_pack("{s:s, s:s}", "name", m->calls[i].name,
		    "arguments", args) : NULL;
		free(args);
		item = fn ? json_pack("{s:s, s:s, s:o}", "id", m->calls[i].id,
		    "type", "function", "function", fn) : NULL;
		if (item == NULL || json_array_append_new(a, item) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
message(const struct prov_msg *m)
{
	json_t *o, *calls;

	switch (m->kind) {
	case PROV_MSG_USER:
		return json_pack("{s:s, s:s}", "role", "user", "content",
		    m->text);
	case PROV_MSG_RESULT:
		return json_pack("{s:s, s:s, s:s}", "role", "tool",
		    "tool_call_id", m->call_id, "content", m->text);
	case PROV_MSG_ASSISTANT:
		o = json_pack("{s:s, s:o}", "role", "assistant", "content",
		    *m->text || m->ncalls == 0 ? json_string(m->text) :
		    json_null());
		if (o == NULL || m->ncalls == 0)
			return o;
		if ((calls = tool_calls(m)) == NULL ||
		    json_object_set_new(o, "tool_calls", calls) == -1) {
			json_decref(o);
			return NULL;
		}
		return o;
	}
	return NULL;
}

static json_t *
tools(const struct prov_conv *c)
{
	json_t *a, *fn;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < c->ntools; i++) {
		fn = json_pack("{s:s, s:O}", "name", c->tools[i].name,
		    "parameters", c->tools[i].schema);
		if (fn != NULL && c->tools[i].description != NULL &&
		    json_object_set_new(fn, "description",
		    json_string(c->tools[i].description)) == -1) {
			json_decref(fn);
			fn = NULL;
		}
		if (fn == NULL || json_array_append_new(a, json_pack("{s:s, s:o}",
		    "type", "function", "function", fn)) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int
prov_openai_request(const struct prov_conv *c, const struct prov_opts *o,
    json_t *body, char *err, size_t errlen)
{
	json_t *msgs;
	char *sys;
	size_t i;
	int rc = 0;

	if ((msgs = json_array()) == NULL)
		goto nomem;
	if (c->nsystem > 0) {
		if ((sys = system_text(c)) == NULL) {
			json_decref(msgs);
			goto nomem;
		}
		rc |= json_array_append_new(msgs, json_pack("{s:s, s:s}",
		    "role", "system", "content", sys));
		free(sys);
	}
	for (i = 0; i < c->nmsgs; i++)
		rc |= json_array_append_new(msgs, message(&c->msgs[i]));
	rc |= json_object_set_new(body, "model", json_string(o->model));
	rc |= json_object_set_new(body, "messages", msgs);
	if (c->ntools > 0) {
		rc |= json_object_set_new(body, "tools", tools(c));
		rc |= json_object_set_new(body, "tool_choice",
		    json_string("auto"));
	}
	if (o->max_tokens > 0)
		rc |= json_object_set_new(body, o->max_completion_tokens ?
		    "max_completion_tokens" : "max_tokens",
		    json_integer(o->max_tokens));
	if (o->stream) {
		rc |= json_object_set_new(body, "stream", json_true());
		rc |= json_object_set_new(body, "stream_options",
		    json_pack("{s:b}", "include_usage", 1));
	}
	if (rc == 0)
		return 0;
nomem:
	prov_seterr(err, errlen, "request: out of memory");
	return -1;
}

/*
 * The same body as prov_openai_request()'s, as text: the system message,
 * the tools and the messages serialised once (c->ser), the rest here.
 */
char *
prov_openai_text(struct prov_conv *c, const struct prov_opts *o, size_t *len,
    char *err, size_t errlen)
{
	struct prov_ser *z = c->ser;
	const char *p[12];
	size_t n[12], np = 0;
	char *sys, *model = NULL, tail[96], *s;
	int tl;

	if (!z->sys_ok) {
		buf_reset(&z->sys);
		if (c->nsystem > 0) {
			if ((sys = system_text(c)) == NULL)
				goto nomem;
			if (prov_ser_put(&z->sys, 0, json_pack("{s:s, s:s}",
			    "role", "system", "content", sys)) == -1) {
				free(sys);
				goto nomem;
			}
			free(sys);
		}
		z->sys_ok = 1;
	}
	if (!z->tools_ok) {
		buf_reset(&z->tools);
		if (c->ntools > 0 && prov_ser_put(&z->tools, 0, tools(c)) == -1)
			goto nomem;
		z->tools_ok = 1;
	}
	for (; z->done < c->nmsgs; z->done++)
		if (prov_ser_put(&z->msgs, 1, message(&c->msgs[z->done])) == -1)
			goto nomem;
	if ((model = prov_ser_str(o->model)) == NULL)
		goto nomem;
	PIECE_LIT("{\"model\":");
	p[np] = model;
	n[np++] = strlen(model);
	PIECE_LIT(",\"messages\":[");
	if (buf_used(&z->sys) > 0) {
		p[np] = buf_data(&z->sys);
		n[np++] = buf_used(&z->sys);
		if (buf_used(&z->msgs) > 0) {
			PIECE_LIT(",");
		}
	}
	p[np] = buf_data(&z->msgs);
	n[np++] = buf_used(&z->msgs);
	PIECE_LIT("]");
	if (c->ntools > 0) {
		PIECE_LIT(",\"tools\":");
		p[np] = buf_data(&z->tools);
		n[np++] = buf_used(&z->tools);
		PIECE_LIT(",\"tool_choice\":\"auto\"");
	}
	tl = 0;
	if (o->max_tokens > 0)
		tl = snprintf(tail, sizeof(tail), ",\"%s\":%ld",
		    o->max_completion_tokens ? "max_completion_tokens" :
		    "max_tokens", o->max_tokens);
	snprintf(tail + tl, sizeof(tail) - (size_t)tl, "%s}", o->stream ?
	    ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" :
	    "");
	p[np] = tail;
	n[np++] = strlen(tail);
	s = prov_ser_join(p, n, np, len);
	free(model);
	if (s == NULL)
		goto nomem;
	return s;
nomem:
	free(model);
	prov_ser_reset(z);
	prov_seterr(err, errlen, "request: out of memory");
	return NULL;
}

static enum prov_stop
stop_of(const char *s)
{
	if (strcmp(s, "stop") == 0)
		return PROV_STOP_END;
	if (strcmp(s, "tool_calls") == 0 || strcmp(s, "function_call") == 0)
		return PROV_STOP_TOOL_USE;
	if (strcmp(s, "length") == 0)
		return PROV_STOP_MAX_TOKENS;
	return PROV_STOP_OTHER;
}

static int
finish(struct prov_stream *s, const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > 64)
		return prov_fail(&s->r, PROV_E_MALFORMED, "finish_reason is "
		    "not a string");
	free(s->r.stop_raw);
	if ((s->r.stop_raw = strdup(json_string_value(v))) == NULL)
		return prov_fail(&s->r, PROV_E_MALFORMED, "out of memory");
	s->r.stop = stop_of(s->r.stop_raw);
	return 0;
}

/* prompt_tokens holds the cached ones: billed input is the rest. */
static int
usage(struct prov_stream *s, const json_t *u)
{
	uint64_t p = 0, c = 0, k = 0;
	int seen = 0, x = 0;

	if (u == NULL || json_is_null(u))
		return 0;
	if (!json_is_object(u) ||
	    pacc_usage_num(u, "prompt_tokens", &p, &seen) == -1 ||
	    pacc_usage_num(u, "completion_tokens", &c, &seen) == -1 ||
	    pacc_usage_num(json_object_get(u, "prompt_tokens_details"),
	    "cached_tokens", &k, &x) == -1 || k > p)
		return prov_fail(&s->r, PROV_E_MALFORMED, "usage: not counts "
		    "of tokens (0..%llu, cached within prompt)",
		    (unsigned long long)PROV_TOKENS_MAX);
	s->r.usage.input = p - k;
	s->r.usage.output = c;
	s->r.usage.cache_read = k;
	s->r.usage.cache_write = 0;
	s->r.has_usage = seen;
	return 0;
}

static int
ident(struct prov_stream *s, const json_t *v)
{
	const char *id = json_string_value(json_object_get(v, "id"));
	const char *model = json_string_value(json_object_get(v, "model"));

	if (s->r.id == NULL && id != NULL &&
	    (s->r.id = strndup(id, 256)) == NULL)
		return prov_fail(&s->r, PROV_E_MALFORMED, "out of memory");
	if (s->r.model == NULL && model != NULL &&
	    (s->r.model = strndup(model, 256)) == NULL)
		return prov_fail(&s->r, PROV_E_MALFORMED, "out of memory");
	return 0;
}

/* Set *field to v once; the same again is fine, another is not. */
static int
once(struct prov_stream *s, char **field, const json_t *v, const char *what)
{
	const char *str;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > 256)
		return prov_fail(&s->r, PROV_E_MALFORMED, "tool call %s is not "
		    "a string of at most 256 bytes", what);
	str = json_string_value(v);
	if (*str == '\0')
		return 0;
	if (*field == NULL)
		return (*field = strdup(str)) ? 0 :
		    prov_fail(&s->r, PROV_E_MALFORMED, "out of memory");
	if (strcmp(*field, str) != 0)
		return prov_fail(&s->r, PROV_E_MALFORMED, "tool call %s changed "
		    "mid-stream ('%.64s', then '%.64s')", what, *field, str);
	return 0;
}

/* One element of delta.tool_calls, or of a whole message's tool_calls. */
static int
call_part(struct prov_stream *s, const json_t *tc, size_t pos, int streamed)
{
	const json_t *fn, *args;
	struct pacc_call *k;
	json_int_t idx;

	if (!json_is_object(tc))
		return prov_fail(&s->r, PROV_E_MALFORMED, "a tool call is not "
		    "an object");
	idx = streamed ? json_integer_value(json_object_get(tc, "index")) :
	    (json_int_t)pos;
	if ((streamed && !json_is_integer(json_object_get(tc, "index"))) ||
	    idx < 0 || idx >= PROV_MAX_CALLS)
		return prov_fail(&s->r, PROV_E_MALFORMED, "tool call index "
		    "missing or outside 0..%d", PROV_MAX_CALLS - 1);
	if (s->blocks[idx] == 0) {	/* slot + 1 of this index */
		if ((k = pacc_call(s)) == NULL)
			return -1;
		s->blocks[idx] = (int)s->ncalls;
	} else
		k = &s->calls[s->blocks[idx] - 1];
	fn = json_object_get(tc, "function");
	if (fn != NULL && !json_is_object(fn))
		return prov_fail(&s->r, PROV_E_MALFORMED, "tool call function "
		    "is not an object");
	if (once(s, &k->id, json_object_get(tc, "id"), "id") == -1 ||
	    once(s, &k->name, json_object_get(fn, "name"), "name") == -1)
		return -1;
	args = json_object_get(fn, "arguments");
	if (args == NULL || json_is_null(args))
		return 0;
	if (!json_is_string(args))
		return prov_fail(&s->r, PROV_E_MALFORMED, "tool call arguments "
		    "are not a string");
	return pacc_args(s, k, json_string_value(args),
	    json_string_length(args));
}

static int
content(struct prov_stream *s, const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return prov_fail(&s->r, PROV_E_MALFORMED, "content is not a "
		    "string");
	return pacc_text(s, json_string_value(v), json_string_length(v));
}

static int
calls(struct prov_stream *s, const json_t *a, int streamed)
{
	size_t i;

	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return prov_fail(&s->r, PROV_E_MALFORMED, "tool_calls is not an "
		    "array");
	for (i = 0; i < json_array_size(a); i++)
		if (call_part(s, json_array_get(a, i), i, streamed) == -1)
			return -1;
	return 0;
}

/* The first choice (n = 1 is all that is asked for); NULL if none. */
static const json_t *
choice0(struct prov_stream *s, const json_t *v, int *bad)
{
	const json_t *ch = json_object_get(v, "choices"), *c;
	size_t i;

	*bad = ch != NULL && !json_is_array(ch);
	for (i = 0; !*bad && i < json_array_size(ch); i++) {
		c = json_array_get(ch, i);
		if (!json_is_object(c))
			*bad = 1;
		else if (json_integer_value(json_object_get(c, "index")) == 0)
			return c;
	}
	if (*bad)
		prov_fail(&s->r, PROV_E_MALFORMED, "choices is not an array "
		    "of objects");
	return NULL;
}

int
prov_openai_body(struct prov_stream *s, const json_t *v)
{
	const json_t *c, *m;
	int bad;

	if (ident(s, v) == -1)
		return -1;
	if ((c = choice0(s, v, &bad)) == NULL)
		return bad ? -1 : prov_fail(&s->r, PROV_E_MALFORMED,
		    "the reply has no choice");
	if (!json_is_object(m = json_object_get(c, "message")))
		return prov_fail(&s->r, PROV_E_MALFORMED, "the choice has no "
		    "message");
	if (content(s, json_object_get(m, "content")) == -1 ||
	    calls(s, json_object_get(m, "tool_calls"), 0) == -1 ||
	    finish(s, json_object_get(c, "finish_reason")) == -1)
		return -1;
	return usage(s, json_object_get(v, "usage"));
}

int
prov_openai_event(struct prov_stream *s, const struct sse_event *ev)
{
	const json_t *c, *d, *e;
	json_error_t je;
	json_t *v;
	int bad, rc = -1;

	if (strcmp(ev->data, "[DONE]") == 0) {
		s->done = 1;
		return 0;
	}
	if ((v = json_loadb(ev->data, ev->len, 0, &je)) == NULL ||
	    !json_is_object(v)) {
		json_decref(v);
		return prov_fail(&s->r, PROV_E_MALFORMED, "a chunk that is not "
		    "a JSON object: %s", je.text);
	}
	s->started = 1;
	/* (some compatible servers send "error": null in every chunk) */
	if ((e = json_object_get(v, "error")) != NULL && !json_is_null(e)) {
		prov_classify(PROV_OPENAI, 0, e, &s->r);
		s->r.err = PROV_E_STREAM;
		goto out;
	}
	if (ident(s, v) == -1)
		goto out;
	if ((c = choice0(s, v, &bad)) == NULL && bad)
		goto out;
	if (c != NULL) {
		d = json_object_get(c, "delta");
		if (d != NULL && !json_is_object(d)) {
			prov_fail(&s->r, PROV_E_MALFORMED, "delta is not an "
			    "object");
			goto out;
		}
		if (content(s, json_object_get(d, "content")) == -1 ||
		    calls(s, json_object_get(d, "tool_calls"), 1) == -1 ||
		    finish(s, json_object_get(c, "finish_reason")) == -1)
			goto out;
	}
	rc = usage(s, json_object_get(v, "usage"));
out:
	json_decref(v);
	return s->r.err == PROV_OK ? rc : -1;
}
