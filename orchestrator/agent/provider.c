/*
 * provider: the conversation, tool names, requests and headers
 * (provider.h).  Replies are read in provider_reply.c, the wire formats
 * are in provider_openai.c and provider_anthropic.c, prices in
 * provider_price.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "redact.h"
#include "strv.h"
#include "utf8.h"
#include "provider.h"
#include "provider_int.h"

#define KEY_MAX		4096

void
prov_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- conversation ---- */

void
prov_conv_init(struct prov_conv *c)
{
	memset(c, 0, sizeof(*c));
}

void
prov_call_free(struct prov_call *k)
{
	free(k->id);
	free(k->name);
	free(k->tool);
	json_decref(k->args);
	free(k->raw);
	free(k->error);
	memset(k, 0, sizeof(*k));
}

static void
msg_free(struct prov_msg *m)
{
	size_t i;

	free(m->text);
	for (i = 0; i < m->ncalls; i++)
		prov_call_free(&m->calls[i]);
	free(m->calls);
	free(m->call_id);
}

static void
tools_free(struct prov_tool *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(t[i].tool);
		free(t[i].name);
		free(t[i].description);
		json_decref(t[i].schema);
	}
	free(t);
}

static void
ser_free(struct prov_ser *z)
{
	if (z == NULL)
		return;
	buf_free(&z->sys);
	buf_free(&z->tools);
	buf_free(&z->msgs);
	buf_free(&z->turn);
	free(z);
}

void
prov_conv_free(struct prov_conv *c)
{
	size_t i;

	ser_free(c->ser);
	for (i = 0; i < c->nsystem; i++)
		free(c->system[i]);
	free(c->system);
	for (i = 0; i < c->nmsgs; i++)
		msg_free(&c->msgs[i]);
	free(c->msgs);
	tools_free(c->tools, c->ntools);
	memset(c, 0, sizeof(*c));
}

static int
text_ok(const char *what, const char *text, char *err, size_t errlen)
{
	size_t n;

	if (text == NULL) {
		prov_seterr(err, errlen, "%s: no text", what);
		return -1;
	}
	n = strlen(text);
	if (n > PROV_MAX_TEXT) {
		prov_seterr(err, errlen, "%s: text of %zu bytes, over %u",
		    what, n, PROV_MAX_TEXT);
		return -1;
	}
	if (!u8_valid(text, n)) {
		prov_seterr(err, errlen, "%s: text is not UTF-8", what);
		return -1;
	}
	return 0;
}

/* Room for one more message: the new slot (zeroed), or NULL with err. */
static struct prov_msg *
msg_slot(struct prov_conv *c, char *err, size_t errlen)
{
	struct prov_msg *m;
	size_t cap;

	if (c->nmsgs >= PROV_MAX_MESSAGES) {
		prov_seterr(err, errlen, "conversation: more than %d messages",
		    PROV_MAX_MESSAGES);
		return NULL;
	}
	if (c->nmsgs == c->capmsgs) {
		cap = c->capmsgs ? c->capmsgs * 2 : 16;
		m = reallocarray(c->msgs, cap, sizeof(*m));
		if (m == NULL) {
			prov_seterr(err, errlen, "conversation: out of memory");
			return NULL;
		}
		c->msgs = m;
		c->capmsgs = cap;
	}
	m = &c->msgs[c->nmsgs];
	memset(m, 0, sizeof(*m));
	return m;
}

int
prov_conv_add_system(struct prov_conv *c, const char *text, char *err,
    size_t errlen)
{
	char **v, *s;

	if (text_ok("system", text, err, errlen) == -1)
		return -1;
	if (*text == '\0') {
		prov_seterr(err, errlen, "system: empty text");
		return -1;
	}
	if (c->nsystem >= 16) {
		prov_seterr(err, errlen, "system: more than 16 blocks");
		return -1;
	}
	if ((s = strdup(text)) == NULL ||
	    (v = reallocarray(c->system, c->nsystem + 1, sizeof(*v))) == NULL) {
		free(s);
		prov_seterr(err, errlen, "system: out of memory");
		return -1;
	}
	v[c->nsystem++] = s;
	c->system = v;
	if (c->ser != NULL)
		c->ser->sys_ok = 0;
	return 0;
}

int
prov_conv_add_user(struct prov_conv *c, const char *text, char *err,
    size_t errlen)
{
	struct prov_msg *m;

	if (text_ok("user message", text, err, errlen) == -1)
		return -1;
	if (*text == '\0') {
		prov_seterr(err, errlen, "user message: empty text");
		return -1;
	}
	if ((m = msg_slot(c, err, errlen)) == NULL)
		return -1;
	if ((m->text = strdup(text)) == NULL) {
		prov_seterr(err, errlen, "user message: out of memory");
		return -1;
	}
	m->kind = PROV_MSG_USER;
	c->nmsgs++;
	return 0;
}

static int
call_copy(struct prov_call *to, const struct prov_call *from)
{
	memset(to, 0, sizeof(*to));
	if ((to->id = strdup(from->id)) == NULL ||
	    (to->name = strdup(from->name)) == NULL ||
	    (from->tool && (to->tool = strdup(from->tool)) == NULL) ||
	    (from->raw && (to->raw = strdup(from->raw)) == NULL) ||
	    (from->error && (to->error = strdup(from->error)) == NULL) ||
	    (from->args && (to->args = json_deep_copy(from->args)) == NULL)) {
		prov_call_free(to);
		return -1;
	}
	return 0;
}

int
prov_conv_add_reply(struct prov_conv *c, const struct prov_reply *r,
    char *err, size_t errlen)
{
	struct prov_msg *m;
	size_t i;

	if (r->err != PROV_OK || r->text == NULL) {
		prov_seterr(err, errlen, "assistant turn: the reply failed");
		return -1;
	}
	if (r->ncalls > PROV_MAX_CALLS) {
		prov_seterr(err, errlen, "assistant turn: more than %d tool calls",
		    PROV_MAX_CALLS);
		return -1;
	}
	if (text_ok("assistant turn", r->text, err, errlen) == -1)
		return -1;
	if ((m = msg_slot(c, err, errlen)) == NULL)
		return -1;
	m->kind = PROV_MSG_ASSISTANT;
	if ((m->text = strdup(r->text)) == NULL ||
	    (r->ncalls && (m->calls = calloc(r->ncalls, sizeof(*m->calls))) ==
	    NULL))
		goto nomem;
	for (i = 0; i < r->ncalls; i++) {
		if (call_copy(&m->calls[i], &r->calls[i]) == -1)
			goto nomem;
		m->ncalls++;
	}
	c->nmsgs++;
	return 0;
nomem:
	msg_free(m);
	prov_seterr(err, errlen, "assistant turn: out of memory");
	return -1;
}

int
prov_conv_add_result(struct prov_conv *c, const char *call_id,
    const char *text, int is_error, char *err, size_t errlen)
{
	const struct prov_msg *a;
	struct prov_msg *m;
	size_t i, j;

	if (call_id == NULL || *call_id == '\0') {
		prov_seterr(err, errlen, "tool result: no call id");
		return -1;
	}
	if (text_ok("tool result", text, err, errlen) == -1)
		return -1;
	/* The results after the last assistant turn, then that turn. */
	for (i = c->nmsgs; i > 0 && c->msgs[i - 1].kind == PROV_MSG_RESULT; i--)
		if (strcmp(c->msgs[i - 1].call_id, call_id) == 0) {
			prov_seterr(err, errlen, "tool result: call '%.64s' "
			    "already has its result", call_id);
			return -1;
		}
	if (i == 0 || c->msgs[i - 1].kind != PROV_MSG_ASSISTANT) {
		prov_seterr(err, errlen, "tool result: no assistant turn "
		    "before it");
		return -1;
	}
	a = &c->msgs[i - 1];
	for (j = 0; j < a->ncalls; j++)
		if (strcmp(a->calls[j].id, call_id) == 0)
			break;
	if (j == a->ncalls) {
		prov_seterr(err, errlen, "tool result: the assistant turn made "
		    "no call '%.64s'", call_id);
		return -1;
	}
	if ((m = msg_slot(c, err, errlen)) == NULL)
		return -1;
	m->kind = PROV_MSG_RESULT;
	m->is_error = is_error != 0;
	if ((m->text = strdup(text)) == NULL ||
	    (m->call_id = strdup(call_id)) == NULL) {
		msg_free(m);
		prov_seterr(err, errlen, "tool result: out of memory");
		return -1;
	}
	c->nmsgs++;
	return 0;
}

/* ---- tool names ---- */

/* The simple form of tool in out (room for 2 * PROV_TOOL_MAX + 1);
   its length. */
static size_t
name_simple(const char *tool, char *out)
{
	const unsigned char *p;
	size_t n = 0;

	for (p = (const unsigned char *)tool; *p != '\0' &&
	    n < 2 * PROV_TOOL_MAX; p++) {
		if (*p == '.') {
			out[n++] = '_';
			out[n++] = '_';
		} else if (isascii(*p) && (isalnum(*p) || *p == '_' ||
		    *p == '-'))
			out[n++] = (char)*p;
		else
			out[n++] = '_';
	}
	out[n] = '\0';
	return n;
}

static uint64_t
fnv1a64(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The hashed form: 51 bytes of the simple form, '_', 12 hex digits. */
static void
name_hashed(const char *tool, const char *simple, char out[PROV_NAME_MAX + 1])
{
	snprintf(out, PROV_NAME_MAX + 1, "%.51s_%012llx", simple,
	    (unsigned long long)(fnv1a64(tool) & 0xffffffffffffULL));
}

void
prov_name_map(const char *tool, char out[PROV_NAME_MAX + 1])
{
	char simple[2 * PROV_TOOL_MAX + 1];
	size_t n;

	n = name_simple(tool, simple);
	if (n == 0 || n > PROV_NAME_MAX)
		name_hashed(tool, simple, out);
	else
		memcpy(out, simple, n + 1);
}

static int
tool_entry(const json_t *e, size_t i, struct prov_tool *t, char *err,
    size_t errlen)
{
	const json_t *name, *desc, *schema;
	const char *s;

	if (!json_is_object(e)) {
		prov_seterr(err, errlen, "tools[%zu]: not an object", i);
		return -1;
	}
	name = json_object_get(e, "name");
	if (!json_is_string(name) || *(s = json_string_value(name)) == '\0') {
		prov_seterr(err, errlen, "tools[%zu]: no name", i);
		return -1;
	}
	if (json_string_length(name) > PROV_TOOL_MAX ||
	    strlen(s) != json_string_length(name)) {
		prov_seterr(err, errlen, "tools[%zu]: a name of more than %d "
		    "bytes, or holding NUL", i, PROV_TOOL_MAX);
		return -1;
	}
	desc = json_object_get(e, "description");
	if (desc != NULL && !json_is_string(desc) && !json_is_null(desc)) {
		prov_seterr(err, errlen, "tool '%s': description is not a "
		    "string", s);
		return -1;
	}
	if (json_is_string(desc) && json_string_length(desc) > PROV_MAX_TEXT) {
		prov_seterr(err, errlen, "tool '%s': description over %u bytes",
		    s, PROV_MAX_TEXT);
		return -1;
	}
	schema = json_object_get(e, "inputSchema");
	if (schema != NULL && !json_is_object(schema)) {
		prov_seterr(err, errlen, "tool '%s': inputSchema is not an "
		    "object", s);
		return -1;
	}
	t->tool = strdup(s);
	t->description = json_is_string(desc) ?
	    strdup(json_string_value(desc)) : NULL;
	t->schema = schema ? json_deep_copy(schema) :
	    json_pack("{ss}", "type", "object");
	if (t->tool == NULL || t->schema == NULL ||
	    (json_is_string(desc) && t->description == NULL)) {
		prov_seterr(err, errlen, "tools: out of memory");
		return -1;
	}
	return 0;
}

int
prov_conv_add_tools(struct prov_conv *c, const json_t *tools, char *err,
    size_t errlen)
{
	struct prov_tool *t;
	char (*simple)[2 * PROV_TOOL_MAX + 1] = NULL;
	char name[PROV_NAME_MAX + 1];
	size_t i, j, n;
	int hash;

	if (!json_is_array(tools)) {
		prov_seterr(err, errlen, "tools: not an array");
		return -1;
	}
	n = json_array_size(tools);
	if (n > PROV_MAX_TOOLS) {
		prov_seterr(err, errlen, "tools: %zu tools, more than %d", n,
		    PROV_MAX_TOOLS);
		return -1;
	}
	t = calloc(n ? n : 1, sizeof(*t));
	simple = calloc(n ? n : 1, sizeof(*simple));
	if (t == NULL || simple == NULL) {
		prov_seterr(err, errlen, "tools: out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (tool_entry(json_array_get(tools, i), i, &t[i], err,
		    errlen) == -1)
			goto fail;
		for (j = 0; j < i; j++)
			if (strcmp(t[j].tool, t[i].tool) == 0) {
				prov_seterr(err, errlen, "tools: '%s' listed "
				    "twice", t[i].tool);
				goto fail;
			}
		name_simple(t[i].tool, simple[i]);
	}
	/* A form another tool shares, or too long: hashed (order-free). */
	for (i = 0; i < n; i++) {
		hash = strlen(simple[i]) > PROV_NAME_MAX;
		for (j = 0; j < n && !hash; j++)
			hash = j != i && strcmp(simple[i], simple[j]) == 0;
		if (hash)
			name_hashed(t[i].tool, simple[i], name);
		else
			snprintf(name, sizeof(name), "%s", simple[i]);
		if ((t[i].name = strdup(name)) == NULL) {
			prov_seterr(err, errlen, "tools: out of memory");
			goto fail;
		}
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(t[i].name, t[j].name) == 0) {
				prov_seterr(err, errlen, "tools: '%s' and '%s' "
				    "map to the same name '%s'", t[i].tool,
				    t[j].tool, t[i].name);
				goto fail;
			}
	free(simple);
	tools_free(c->tools, c->ntools);
	c->tools = t;
	c->ntools = n;
	if (c->ser != NULL)
		c->ser->tools_ok = 0;
	return 0;
fail:
	free(simple);
	if (t != NULL)
		tools_free(t, n);
	return -1;
}

const char *
prov_conv_tool(const struct prov_conv *c, const char *name)
{
	size_t i;

	for (i = 0; c != NULL && name != NULL && i < c->ntools; i++)
		if (strcmp(c->tools[i].name, name) == 0)
			return c->tools[i].tool;
	return NULL;
}

const char *
prov_conv_name(const struct prov_conv *c, const char *tool)
{
	size_t i;

	for (i = 0; c != NULL && tool != NULL && i < c->ntools; i++)
		if (strcmp(c->tools[i].tool, tool) == 0)
			return c->tools[i].name;
	return NULL;
}

/* ---- requests and headers ---- */

const char *
prov_path(enum prov_kind k)
{
	return k == PROV_ANTHROPIC ? "/v1/messages" : "/v1/chat/completions";
}

/* What a request needs of c and o; 0, or -1 with err. */
static int
request_ok(const struct prov_conv *c, const struct prov_opts *o, char *err,
    size_t errlen)
{
	if (o->model == NULL || *o->model == '\0' || strlen(o->model) > 256) {
		prov_seterr(err, errlen, "request: no model, or a name of more "
		    "than 256 bytes");
		return -1;
	}
	if (o->max_tokens < 0 || o->max_tokens > 10000000 ||
	    (o->kind == PROV_ANTHROPIC && o->max_tokens == 0)) {
		prov_seterr(err, errlen, "request: max_tokens %ld out of range "
		    "(1..10000000%s)", o->max_tokens,
		    o->kind == PROV_ANTHROPIC ? "" : ", 0: not sent");
		return -1;
	}
	if (c->nmsgs == 0) {
		prov_seterr(err, errlen, "request: no message");
		return -1;
	}
	return 0;
}

json_t *
prov_request(const struct prov_conv *c, const struct prov_opts *o, char *err,
    size_t errlen)
{
	json_t *body;
	int rc;

	if (request_ok(c, o, err, errlen) == -1)
		return NULL;
	if ((body = json_object()) == NULL) {
		prov_seterr(err, errlen, "request: out of memory");
		return NULL;
	}
	if (o->kind == PROV_ANTHROPIC)
		rc = prov_anthropic_request(c, o, body, err, errlen);
	else
		rc = prov_openai_request(c, o, body, err, errlen);
	if (rc == -1) {
		json_decref(body);
		return NULL;
	}
	return body;
}

/* ---- the body as text, its serialised pieces kept ---- */

/* A bound no body reaches (PROV_MAX_MESSAGES of PROV_MAX_TEXT is less). */
#define SER_MAX		((size_t)-1 / 4)

void
prov_ser_reset(struct prov_ser *z)
{
	buf_reset(&z->sys);
	buf_reset(&z->tools);
	buf_reset(&z->msgs);
	buf_reset(&z->turn);
	z->sys_ok = z->tools_ok = 0;
	z->done = 0;
	z->role = -1;
}

static int
put_cb(const char *s, size_t n, void *arg)
{
	return buf_append(arg, s, n);
}

int
prov_ser_put(struct buf *b, int comma, json_t *v)
{
	size_t len = b->len;
	int rc;

	if (v == NULL)
		return -1;
	rc = comma && buf_used(b) > 0 ? buf_append(b, ",", 1) : 0;
	if (rc == 0)
		rc = json_dump_callback(v, put_cb, b, JSON_COMPACT |
		    JSON_ENCODE_ANY);
	json_decref(v);
	if (rc != 0)
		b->len = len;	/* the pieces are never consumed: off is 0 */
	return rc != 0 ? -1 : 0;
}

char *
prov_ser_str(const char *str)
{
	json_t *v = json_string(str);
	char *s;

	s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(v);
	return s;
}

char *
prov_ser_join(const char *const *p, const size_t *n, size_t np, size_t *len)
{
	size_t i, total = 0;
	char *s, *q;

	for (i = 0; i < np; i++)
		if (p[i] != NULL)
			total += n[i];
	if ((s = q = malloc(total + 1)) == NULL)
		return NULL;
	for (i = 0; i < np; i++)
		if (p[i] != NULL && n[i] > 0) {
			memcpy(q, p[i], n[i]);
			q += n[i];
		}
	*q = '\0';
	*len = total;
	return s;
}

char *
prov_request_text(struct prov_conv *c, const struct prov_opts *o, size_t *len,
    char *err, size_t errlen)
{
	struct prov_ser *z = c->ser;

	if (request_ok(c, o, err, errlen) == -1)
		return NULL;
	if (z == NULL) {
		if ((z = calloc(1, sizeof(*z))) == NULL) {
			prov_seterr(err, errlen, "request: out of memory");
			return NULL;
		}
		buf_init(&z->sys, SER_MAX);
		buf_init(&z->tools, SER_MAX);
		buf_init(&z->msgs, SER_MAX);
		buf_init(&z->turn, SER_MAX);
		z->kind = o->kind;
		z->role = -1;
		c->ser = z;
	}
	if (z->kind != o->kind) {
		prov_ser_reset(z);
		z->kind = o->kind;
	}
	if (o->kind == PROV_ANTHROPIC)
		return prov_anthropic_text(c, o, len, err, errlen);
	return prov_openai_text(c, o, len, err, errlen);
}

static int
hdr_add(struct strv *sv, const char *name, const char *value)
{
	char *s;

	if (asprintf(&s, "%s: %s", name, value) == -1)
		s = NULL;
	return strv_take(sv, s);
}

char **
prov_headers(enum prov_kind k, const char *key, int stream, char *err,
    size_t errlen)
{
	struct strv sv = { 0 };
	const unsigned char *p;
	char *bearer = NULL;
	int rc = 0;

	if (key != NULL) {
		if (strlen(key) < 4 || strlen(key) > KEY_MAX) {
			prov_seterr(err, errlen, "API key: shorter than 4 or "
			    "longer than %d bytes", KEY_MAX);
			return NULL;
		}
		for (p = (const unsigned char *)key; *p != '\0'; p++)
			if (*p <= 0x20 || *p >= 0x7f) {
				prov_seterr(err, errlen, "API key: holds a "
				    "space, control or non-ASCII byte");
				return NULL;
			}
		if (redact_add_secret(key) == -1) {
			prov_seterr(err, errlen, "API key: out of memory");
			return NULL;
		}
	} else if (k == PROV_ANTHROPIC) {
		prov_seterr(err, errlen, "API key: Anthropic needs one");
		return NULL;
	}
	rc |= hdr_add(&sv, "content-type", "application/json");
	if (stream)
		rc |= hdr_add(&sv, "accept", "text/event-stream");
	if (k == PROV_ANTHROPIC) {
		rc |= hdr_add(&sv, "x-api-key", key);
		rc |= hdr_add(&sv, "anthropic-version", "2023-06-01");
	} else if (key != NULL) {
		if (asprintf(&bearer, "Bearer %s", key) == -1)
			bearer = NULL;
		rc |= bearer ? hdr_add(&sv, "authorization", bearer) : -1;
		redact_wipe_free(bearer);
	}
	if (rc != 0) {
		strv_free(strv_steal(&sv));
		prov_seterr(err, errlen, "headers: out of memory");
		return NULL;
	}
	return strv_steal(&sv);
}
