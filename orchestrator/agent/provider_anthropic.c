/*
 * provider_anthropic: Anthropic Messages (POST /v1/messages): the request
 * body (system and tools as blocks marked for the prompt cache, turns
 * alternating, tool results merged into the user turn after the calls),
 * the whole reply, the streamed events (message_start, content_block_*,
 * message_delta, message_stop, ping, error; others tolerated).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "provider_int.h"

/* {"type":"ephemeral"} on a block: the cache ends after it. */
static int
cache_mark(json_t *block)
{
	return json_object_set_new(block, "cache_control",
	    json_pack("{s:s}", "type", "ephemeral"));
}

static json_t *
system_blocks(const struct prov_conv *c)
{
	json_t *a, *b;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < c->nsystem; i++) {
		b = json_pack("{s:s, s:s}", "type", "text", "text",
		    c->system[i]);
		if (b == NULL || (i + 1 == c->nsystem && cache_mark(b) == -1) ||
		    json_array_append_new(a, b) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
tools(const struct prov_conv *c)
{
	json_t *a, *t;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < c->ntools; i++) {
		t = json_pack("{s:s, s:O}", "name", c->tools[i].name,
		    "input_schema", c->tools[i].schema);
		if (t == NULL || (c->tools[i].description != NULL &&
		    json_object_set_new(t, "description",
		    json_string(c->tools[i].description)) == -1) ||
		    (i + 1 == c->ntools && cache_mark(t) == -1) ||
		    json_array_append_new(a, t) == -1) {
			json_decref(t);
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Append m's blocks to content; 0, or -1 (ENOMEM). */
static int
blocks(const struct prov_msg *m, json_t *content)
{
	json_t *b;
	size_t i;

	switch (m->kind) {
	case PROV_MSG_USER:
		return json_array_append_new(content, json_pack("{s:s, s:s}",
		    "type", "text", "text", m->text));
	case PROV_MSG_RESULT:
		b = json_pack("{s:s, s:s}", "type", "tool_result",
		    "tool_use_id", m->call_id);
		/* An empty text block is refused: no content instead. */
		if (b != NULL && *m->text != '\0' && json_object_set_new(b,
		    "content", json_string(m->text)) == -1) {
			json_decref(b);
			return -1;
		}
		if (b != NULL && m->is_error &&
		    json_object_set_new(b, "is_error", json_true()) == -1) {
			json_decref(b);
			return -1;
		}
		return json_array_append_new(content, b);
	case PROV_MSG_ASSISTANT:
		if (*m->text != '\0' && json_array_append_new(content,
		    json_pack("{s:s, s:s}", "type", "text", "text",
		    m->text)) == -1)
			return -1;
		for (i = 0; i < m->ncalls; i++) {
			/* Unparseable arguments were answered with an error
			   result; the call itself is echoed with none. */
			b = json_pack("{s:s, s:s, s:s, s:o}", "type",
			    "tool_use", "id", m->calls[i].id, "name",
			    m->calls[i].name, "input", m->calls[i].args ?
			    json_deep_copy(m->calls[i].args) : json_object());
			if (json_array_append_new(content, b) == -1)
				return -1;
		}
		return 0;
	}
	return -1;
}

/* Consecutive messages of one role make one turn. */
static int
messages(const struct prov_conv *c, json_t *out, char *err, size_t errlen)
{
	const char *role = NULL, *r;
	json_t *content = NULL;
	size_t i;

	for (i = 0; i < c->nmsgs; i++) {
		r = c->msgs[i].kind == PROV_MSG_ASSISTANT ? "assistant" : "user";
		if (c->msgs[i].kind == PROV_MSG_ASSISTANT &&
		    *c->msgs[i].text == '\0' && c->msgs[i].ncalls == 0)
			continue;	/* an empty turn: nothing to send */
		if (role == NULL && strcmp(r, "user") != 0) {
			prov_seterr(err, errlen, "request: the conversation "
			    "must start with a user message");
			return -1;
		}
		if (role == NULL || strcmp(role, r) != 0) {
			if ((content = json_array()) == NULL ||
			    json_array_append_new(out, json_pack("{s:s, s:o}",
			    "role", r, "content", content)) == -1)
				goto nomem;
			role = r;
		}
		if (blocks(&c->msgs[i], content) == -1)
			goto nomem;
	}
	return 0;
nomem:
	prov_seterr(err, errlen, "request: out of memory");
	return -1;
}

int
prov_anthropic_request(const struct prov_conv *c, const struct prov_opts *o,
    json_t *body, char *err, size_t errlen)
{
	json_t *msgs;
	int rc = 0;

	if ((msgs = json_array()) == NULL ||
	    json_object_set_new(body, "messages", msgs) == -1) {
		prov_seterr(err, errlen, "request: out of memory");
		return -1;
	}
	if (messages(c, msgs, err, errlen) == -1)
		return -1;
	rc |= json_object_set_new(body, "model", json_string(o->model));
	rc |= json_object_set_new(body, "max_tokens",
	    json_integer(o->max_tokens));
	if (c->nsystem > 0)
		rc |= json_object_set_new(body, "system", system_blocks(c));
	if (c->ntools > 0)
		rc |= json_object_set_new(body, "tools", tools(c));
	if (o->stream)
		rc |= json_object_set_new(body, "stream", json_true());
	if (rc != 0) {
		prov_seterr(err, errlen, "request: out of memory");
		return -1;
	}
	return 0;
}

/* The open turn of z into its turns before; 0, or -1 (ENOMEM). */
static int
turn_close(struct prov_ser *z)
{
	if (z->role == -1)
		return 0;
	if ((buf_used(&z->msgs) > 0 && buf_append(&z->msgs, ",", 1) == -1) ||
	    buf_printf(&z->msgs, "{\"role\":\"%s\",\"content\":[",
	    z->role ? "assistant" : "user") == -1 ||
	    buf_append(&z->msgs, buf_data(&z->turn), buf_used(&z->turn)) ==
	    -1 || buf_append(&z->msgs, "]}", 2) == -1)
		return -1;
	buf_reset(&z->turn);
	z->role = -1;
	return 0;
}

/* Message m into z: a new turn when its role changes.  0, -1 (ENOMEM). */
static int
turn_add(struct prov_ser *z, const struct prov_msg *m, int role)
{
	json_t *content;
	size_t i;

	if (z->role != role && turn_close(z) == -1)
		return -1;
	z->role = role;
	if ((content = json_array()) == NULL || blocks(m, content) == -1) {
		json_decref(content);
		return -1;
	}
	for (i = 0; i < json_array_size(content); i++)
		if (prov_ser_put(&z->turn, 1, json_incref(json_array_get(
		    content, i))) == -1) {
			json_decref(content);
			return -1;
		}
	json_decref(content);
	return 0;
}

/*
 * The same body as prov_anthropic_request()'s, as text: the system
 * blocks, the tools and the turns serialised once (c->ser); the last turn
 * is kept open, as a message of its role may come next.
 */
char *
prov_anthropic_text(struct prov_conv *c, const struct prov_opts *o,
    size_t *len, char *err, size_t errlen)
{
	struct prov_ser *z = c->ser;
	const struct prov_msg *m;
	const char *p[16];
	size_t n[16], np = 0;
	char *model = NULL, tail[64], *s;
	int role;

	if (!z->sys_ok) {
		buf_reset(&z->sys);
		if (c->nsystem > 0 &&
		    prov_ser_put(&z->sys, 0, system_blocks(c)) == -1)
			goto nomem;
		z->sys_ok = 1;
	}
	if (!z->tools_ok) {
		buf_reset(&z->tools);
		if (c->ntools > 0 && prov_ser_put(&z->tools, 0, tools(c)) == -1)
			goto nomem;
		z->tools_ok = 1;
	}
	for (; z->done < c->nmsgs; z->done++) {
		m = &c->msgs[z->done];
		role = m->kind == PROV_MSG_ASSISTANT;
		if (role && *m->text == '\0' && m->ncalls == 0)
			continue;	/* an empty turn: nothing to send */
		if (role && z->role == -1 && buf_used(&z->msgs) == 0) {
			prov_seterr(err, errlen, "request: the conversation "
			    "must start with a user message");
			return NULL;
		}
		if (turn_add(z, m, role) == -1)
			goto nomem;
	}
	if ((model = prov_ser_str(o->model)) == NULL)
		goto nomem;
	PIECE_LIT("{\"messages\":[");
	p[np] = buf_data(&z->msgs);
	n[np++] = buf_used(&z->msgs);
	if (z->role != -1) {
		if (buf_used(&z->msgs) > 0)
			PIECE_LIT(",");
		if (z->role)
			PIECE_LIT("{\"role\":\"assistant\",\"content\":[");
		else
			PIECE_LIT("{\"role\":\"user\",\"content\":[");
		p[np] = buf_data(&z->turn);
		n[np++] = buf_used(&z->turn);
		PIECE_LIT("]}");
	}
	PIECE_LIT("],\"model\":");
	p[np] = model;
	n[np++] = strlen(model);
	snprintf(tail, sizeof(tail), ",\"max_tokens\":%ld", o->max_tokens);
	p[np] = tail;
	n[np++] = strlen(tail);
	if (buf_used(&z->sys) > 0) {
		PIECE_LIT(",\"system\":");
		p[np] = buf_data(&z->sys);
		n[np++] = buf_used(&z->sys);
	}
	if (buf_used(&z->tools) > 0) {
		PIECE_LIT(",\"tools\":");
		p[np] = buf_data(&z->tools);
		n[np++] = buf_used(&z->tools);
	}
	if (o->stream)
		PIECE_LIT(",\"stream\":true");
	PIECE_LIT("}");
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
	if (strcmp(s, "end_turn") == 0 || strcmp(s, "stop_sequence") == 0)
		return PROV_STOP_END;
	if (strcmp(s, "tool_use") == 0)
		return PROV_STOP_TOOL_USE;
	if (strcmp(s, "max_tokens") == 0)
		return PROV_STOP_MAX_TOKENS;
	return PROV_STOP_OTHER;
}

static int
stop(struct prov_stream *s, const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > 64)
		return prov_fail(&s->r, PROV_E_MALFORMED, "stop_reason is not "
		    "a string");
	free(s->r.stop_raw);
	if ((s->r.stop_raw = strdup(json_string_value(v))) == NULL)
		return prov_fail(&s->r, PROV_E_MALFORMED, "out of memory");
	s->r.stop = stop_of(s->r.stop_raw);
	return 0;
}

/* Counts present replace those before (message_delta's are totals). */
static int
usage(struct prov_stream *s, const json_t *u)
{
	struct prov_usage *p = &s->r.usage;
	int seen = 0;

	if (u == NULL || json_is_null(u))
		return 0;
	if (!json_is_object(u) ||
	    pacc_usage_num(u, "input_tokens", &p->input, &seen) == -1 ||
	    pacc_usage_num(u, "output_tokens", &p->output, &seen) == -1 ||
	    pacc_usage_num(u, "cache_read_input_tokens", &p->cache_read,
	    &seen) == -1 ||
	    pacc_usage_num(u, "cache_creation_input_tokens", &p->cache_write,
	    &seen) == -1)
		return prov_fail(&s->r, PROV_E_MALFORMED, "usage: not counts "
		    "of tokens (0..%llu)", (unsigned long long)PROV_TOKENS_MAX);
	s->r.has_usage |= seen;
	return 0;
}

static int
ident(struct prov_stream *s, const json_t *m)
{
	const char *id = json_string_value(json_object_get(m, "id"));
	const char *model = json_string_value(json_object_get(m, "model"));

	if (id != NULL && s->r.id == NULL &&
	    (s->r.id = strndup(id, 256)) == NULL)
		return prov_fail(&s->r, PROV_E_MALFORMED, "out of memory");
	if (model != NULL && s->r.model == NULL &&
	    (s->r.model = strndup(model, 256)) == NULL)
		return prov_fail(&s->r, PROV_E_MALFORMED, "out of memory");
	return 0;
}

/* A content block opening (a whole reply's, or content_block_start's). */
static int
block_start(struct prov_stream *s, const json_t *b)
{
	const char *type = json_string_value(json_object_get(b, "type"));
	const json_t *id, *name, *input, *text;
	struct pacc_call *k;
	size_t i = s->nblocks;

	if (!json_is_object(b) || type == NULL)
		return prov_fail(&s->r, PROV_E_MALFORMED, "a content block "
		    "without a type");
	if (i >= PROV_MAX_BLOCKS)
		return prov_fail(&s->r, PROV_E_MALFORMED, "more than %d content "
		    "blocks", PROV_MAX_BLOCKS);
	s->nblocks++;
	s->blocks[i] = -2;		/* thinking, server tools ...: not ours */
	if (strcmp(type, "text") == 0) {
		s->blocks[i] = -1;
		text = json_object_get(b, "text");
		if (text != NULL && !json_is_string(text))
			return prov_fail(&s->r, PROV_E_MALFORMED, "a text block's "
			    "text is not a string");
		return text ? pacc_text(s, json_string_value(text),
		    json_string_length(text)) : 0;
	}
	if (strcmp(type, "tool_use") != 0)
		return 0;
	id = json_object_get(b, "id");
	name = json_object_get(b, "name");
	input = json_object_get(b, "input");
	if (!json_is_string(id) || !json_is_string(name) ||
	    json_string_length(id) > 256 || json_string_length(name) > 256 ||
	    (input != NULL && !json_is_object(input)))
		return prov_fail(&s->r, PROV_E_MALFORMED, "a tool_use block "
		    "without its id, name or object input");
	if ((k = pacc_call(s)) == NULL)
		return -1;
	s->blocks[i] = (int)s->ncalls;
	k->id = strdup(json_string_value(id));
	k->name = strdup(json_string_value(name));
	k->input = input ? json_deep_copy(input) : NULL;
	if (k->id == NULL || k->name == NULL || (input && k->input == NULL))
		return prov_fail(&s->r, PROV_E_MALFORMED, "out of memory");
	return 0;
}

int
prov_anthropic_body(struct prov_stream *s, const json_t *v)
{
	const json_t *content;
	size_t i;

	if (ident(s, v) == -1)
		return -1;
	content = json_object_get(v, "content");
	if (!json_is_array(content))
		return prov_fail(&s->r, PROV_E_MALFORMED, "the reply has no "
		    "content array");
	for (i = 0; i < json_array_size(content); i++)
		if (block_start(s, json_array_get(content, i)) == -1)
			return -1;
	for (i = 0; i < s->ncalls; i++)
		s->calls[i].closed = 1;
	if (stop(s, json_object_get(v, "stop_reason")) == -1)
		return -1;
	return usage(s, json_object_get(v, "usage"));
}

/* The block an event names by its index, or -1 (failed). */
static int
block_of(struct prov_stream *s, const json_t *v, int *kind)
{
	const json_t *ix = json_object_get(v, "index");
	json_int_t i = json_integer_value(ix);

	if (!json_is_integer(ix) || i < 0 || (size_t)i >= s->nblocks)
		return prov_fail(&s->r, PROV_E_MALFORMED, "an event for content "
		    "block %lld, which did not start", (long long)i);
	*kind = s->blocks[i];
	return 0;
}

static int
block_delta(struct prov_stream *s, const json_t *v)
{
	const json_t *d = json_object_get(v, "delta"), *p;
	const char *type = json_string_value(json_object_get(d, "type"));
	struct pacc_call *k;
	int kind;

	if (block_of(s, v, &kind) == -1)
		return -1;
	if (type == NULL)
		return prov_fail(&s->r, PROV_E_MALFORMED, "a delta without a "
		    "type");
	if (strcmp(type, "text_delta") == 0) {
		p = json_object_get(d, "text");
		if (kind != -1 || !json_is_string(p))
			return prov_fail(&s->r, PROV_E_MALFORMED, "a text_delta "
			    "outside a text block, or without text");
		return pacc_text(s, json_string_value(p),
		    json_string_length(p));
	}
	if (strcmp(type, "input_json_delta") == 0) {
		p = json_object_get(d, "partial_json");
		if (kind < 1 || !json_is_string(p))
			return prov_fail(&s->r, PROV_E_MALFORMED, "an "
			    "input_json_delta outside a tool_use block, or "
			    "without partial_json");
		k = &s->calls[kind - 1];
		if (k->closed)
			return prov_fail(&s->r, PROV_E_MALFORMED, "a delta after "
			    "its block stopped");
		return pacc_args(s, k, json_string_value(p),
		    json_string_length(p));
	}
	return 0;		/* thinking_delta, citations_delta ... */
}

static int
block_stop(struct prov_stream *s, const json_t *v)
{
	int kind;

	if (block_of(s, v, &kind) == -1)
		return -1;
	if (kind >= 1)
		s->calls[kind - 1].closed = 1;
	return 0;
}

static int
message_stop(struct prov_stream *s)
{
	size_t i;

	for (i = 0; i < s->ncalls; i++)
		if (!s->calls[i].closed)
			return prov_fail(&s->r, PROV_E_MALFORMED, "tool call "
			    "'%.64s' never stopped", s->calls[i].id);
	s->done = 1;
	return 0;
}

int
prov_anthropic_event(struct prov_stream *s, const struct sse_event *ev)
{
	const json_t *m;
	const char *type;
	json_error_t je;
	json_t *v;
	int rc = 0;

	if ((v = json_loadb(ev->data, ev->len, 0, &je)) == NULL ||
	    !json_is_object(v)) {
		json_decref(v);
		return prov_fail(&s->r, PROV_E_MALFORMED, "an event that is not "
		    "a JSON object: %s", je.text);
	}
	if ((type = json_string_value(json_object_get(v, "type"))) == NULL)
		type = ev->type;
	if (strcmp(type, "message_start") == 0) {
		m = json_object_get(v, "message");
		s->started = 1;
		rc = ident(s, m) == -1 ? -1 : usage(s, json_object_get(m,
		    "usage"));
	} else if (!s->started && strcmp(type, "error") != 0 &&
	    strcmp(type, "ping") != 0)
		rc = prov_fail(&s->r, PROV_E_MALFORMED, "'%.64s' before "
		    "message_start", type);
	else if (strcmp(type, "content_block_start") == 0)
		rc = block_start(s, json_object_get(v, "content_block")) == -1 ||
		    (json_integer_value(json_object_get(v, "index")) !=
		    (json_int_t)s->nblocks - 1 &&
		    prov_fail(&s->r, PROV_E_MALFORMED, "content block %lld "
		    "started out of order", (long long)json_integer_value(
		    json_object_get(v, "index")))) ? -1 : 0;
	else if (strcmp(type, "content_block_delta") == 0)
		rc = block_delta(s, v);
	else if (strcmp(type, "content_block_stop") == 0)
		rc = block_stop(s, v);
	else if (strcmp(type, "message_delta") == 0)
		rc = stop(s, json_object_get(json_object_get(v, "delta"),
		    "stop_reason")) == -1 ? -1 :
		    usage(s, json_object_get(v, "usage"));
	else if (strcmp(type, "message_stop") == 0)
		rc = message_stop(s);
	else if (strcmp(type, "error") == 0) {
		prov_classify(PROV_ANTHROPIC, 0, json_object_get(v, "error"),
		    &s->r);
		s->r.err = PROV_E_STREAM;
		rc = -1;
	}
	/* ping, and types a newer API may add: nothing to do. */
	json_decref(v);
	return rc;
}
